"""Denoise pictures with DDS-Net: each tile runs the sub-network its gate picks within a FLOPs budget."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from enhance_cli.imageio import Picture
from enhance_cli.models.dds_net import allocate_rungs
from enhance_cli.pipeline import Outcome
from enhance_cli.registry import ModelCard, find_card
from enhance_cli.restorer import LoadedModel, rgb_pixels
from enhance_cli.tiling import TilePlan, run_tiled, tile_inputs


class BudgetError(ValueError):
    """A budget outside (0, 1], or below what the cheapest sub-network costs."""


def check_budget(budget: float) -> float:
    if not 0 < budget <= 1:
        raise BudgetError(f"--budget must be in (0, 1] (a fraction of the full network's FLOPs), got {budget:g}")
    return float(budget)


class Savings:
    """What the images of a run left unspent under ``--budget`` (in full-network pixels), for the images after
    them: so the run keeps to its budget as a whole, and an image that can only take whole rungs (one tile)
    still gets the width the run can afford. It never goes below zero, and two threads never spend it twice."""

    def __init__(self) -> None:
        self._saved = 0.0
        self._lock = threading.Lock()

    def withdraw(self) -> float:
        """All that is saved, for one image to spend."""
        with self._lock:
            taken, self._saved = self._saved, 0.0
            return taken

    def deposit(self, unspent: float) -> None:
        with self._lock:
            self._saved += max(unspent, 0.0)


class Denoiser(LoadedModel):
    """A loaded DDS-Net, ready to denoise pictures."""

    def __init__(self, card: ModelCard, **options) -> None:
        if card.task != "denoise":
            raise ValueError(f"model {card.name!r} is for task {card.task!r}, not denoise")
        super().__init__(card, **options)
        self.rungs = self.model.rungs
        self.rung_flops = self.model.rung_flops()
        self.full_flops = self.model.flops_per_pixel()
        self.gate_flops = self.model.gate_flops_per_pixel

    @classmethod
    def for_model(cls, model: str | None = None, **options) -> Denoiser:
        return cls(find_card(name=model, task=None if model else "denoise"), **options)

    @property
    def smallest_budget(self) -> float:
        """What the cheapest sub-network and the gate cost, as a fraction of the full network: the least a
        budget can hold to."""
        return math.ceil(1000 * (self.rung_flops[0] + self.gate_flops) / self.full_flops) / 1000

    def check_budget(self, budget: float) -> float:
        """``budget``, if this model can keep to it."""
        check_budget(budget)
        if budget < self.smallest_budget:
            raise BudgetError(
                f"--budget {budget:g} is below {self.smallest_budget:g}, what the cheapest sub-network costs "
                "with the gate"
            )
        return float(budget)

    @property
    def default_budget(self) -> float:
        """The ladder's knee, as a fraction of the full network's FLOPs."""
        return round(float(self.model.default_budget), 3)

    def rung_name(self, rung: int) -> str:
        return f"{self.rung_flops[rung] / 1e3:.0f}k"

    def denoise(
        self,
        picture: Picture,
        budget: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        savings: Savings | None = None,
    ) -> Outcome:
        """Denoise ``picture``. ``budget``: the fraction of the full network's FLOPs to spend, at most; the gate
        scores every tile first and the width goes to the tiles it is surest need it. None: each tile runs the
        sub-network the gate judges it needs, up to the ladder's knee in all. ``savings``: the run's, under a
        budget; this image may spend them, and leaves what it does not."""
        needs = budget is None
        budget = self.default_budget if needs else self.check_budget(budget)
        credit = savings.withdraw() if savings is not None and not needs else 0.0
        started = time.perf_counter()
        rgb = rgb_pixels(picture.pixels)
        plan = self.plan_for(*rgb.shape[:2])
        rungs = iter(self.choose_rungs(rgb, plan, budget, needs, credit))
        chosen: Counter[int] = Counter()
        spent = 0.0

        def network(batch: torch.Tensor) -> torch.Tensor:
            nonlocal spent
            rung = int(next(rungs))
            chosen[rung] += 1
            pixels = batch.shape[-2] * batch.shape[-1]
            spent += (self.rung_flops[rung] + (self.gate_flops if budget < 1 else 0)) * pixels
            return self.model(self.to_device(batch), widths=self.rungs[rung]).clamp_(0, 1).cpu()

        result = run_tiled(network, rgb, plan, progress)
        if savings is not None and not needs:
            savings.deposit(credit + budget * result.processed_pixels - spent / self.full_flops)
        pixels = result.image
        if picture.pixels.shape[2] == 1:
            pixels = pixels.mean(axis=2, keepdims=True)
        details = {
            "budget": budget,
            "budget_use": self.budget_use(needs, savings is not None),
            "flops_fraction": round(spent / (self.full_flops * result.processed_pixels), 4),
            "sub_networks": {self.rung_name(rung): chosen[rung] for rung in sorted(chosen)},
        }
        seconds = time.perf_counter() - started
        restored = replace(picture, pixels=pixels)
        return Outcome(restored, None, result.tiles, round(spent), seconds, result.processed_pixels, details=details)

    @staticmethod
    def budget_use(needs: bool, run: bool) -> str:
        """How the report describes the budget: what the tiles need, or a ceiling (over the run, or this image)."""
        if needs:
            return "what the gate judges each tile needs, up to the budget"
        return "at most, with what earlier images of the run saved" if run else "at most"

    def choose_rungs(
        self, rgb: np.ndarray, plan: TilePlan, budget: float, needs: bool = False, credit: float = 0.0
    ) -> np.ndarray:
        """The rung each tile of ``plan`` runs, in the order they are processed, within ``budget`` and
        ``credit`` (full-network pixels saved earlier); ``needs``: what the gate judges each tile needs (the
        cheapest rung adequate at even odds), within the budget."""
        if budget >= 1:
            return np.full(plan.tiles, len(self.rungs) - 1)
        logits, pixels = [], []
        with torch.inference_mode():
            for region in tile_inputs(rgb, plan):
                batch = torch.from_numpy(np.ascontiguousarray(region))[None].permute(0, 3, 1, 2)
                logits.append(self.model.gate_logits(self.to_device(batch)).float().cpu())
                pixels.append(region.shape[0] * region.shape[1])
        return allocate_rungs(
            torch.cat(logits),
            self.model.relative_rung_costs(),
            np.array(pixels, dtype=np.float64),
            budget,
            self.gate_flops / self.full_flops,
            spend=not needs,
            credit=credit,
        )
