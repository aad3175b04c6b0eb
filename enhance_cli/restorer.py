"""Apply one registered model to one image: level, tiling, timing and cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from enhance_cli.flops import flops_per_pixel, parameter_count
from enhance_cli.imageio import Picture
from enhance_cli.pipeline import Outcome
from enhance_cli.registry import ModelCard, find_card, load_model
from enhance_cli.resize import upscale_picture
from enhance_cli.tasks import TASKS, Task
from enhance_cli.tiling import automatic_tile, run_tiled

DEFAULT_MEMORY_BUDGET = 512 << 20  # bytes of network working set per tile; larger tiles gain no speed
DEFAULT_OVERLAP = 32


class LevelError(ValueError):
    """A level the model cannot use (outside what it accepts)."""


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps: Apple MPS is not available")
    return torch.device(name)


class LoadedModel:
    """A registered model loaded on a device, with the tiling it runs under."""

    def __init__(
        self,
        card: ModelCard,
        device: str = "auto",
        tile: int | None = None,
        tile_overlap: int = DEFAULT_OVERLAP,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        self.card = card
        self.device = pick_device(device)
        self.model = load_model(card).to(self.device)
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.memory_budget = memory_budget
        self.params = parameter_count(self.model)


class Restorer(LoadedModel):
    """A loaded model (and its blind level estimator) ready to restore pictures."""

    def __init__(self, card: ModelCard, **options) -> None:
        super().__init__(card, **options)
        self.estimator = load_model(find_card(card.estimator)).to(self.device) if card.estimator else None
        self._flops_per_pixel: float | None = None

    @classmethod
    def for_task(cls, task: str, model: str | None = None, **options) -> Restorer:
        card = find_card(name=model, task=None if model else task)
        if card.task != task:
            raise ValueError(f"model {card.name!r} is for task {card.task!r}, not {task!r}")
        if card.level is None:
            raise ValueError(f"model {card.name!r} is a level estimator, not a restorer; leave out --model")
        return cls(card, **options)

    @property
    def flops_per_pixel(self) -> float:
        if self._flops_per_pixel is None:
            self.model.set_level(0.5)
            self._flops_per_pixel = flops_per_pixel(self.model.cpu())
            self.model.to(self.device)
        return self._flops_per_pixel

    @property
    def task(self) -> Task:
        return TASKS[self.card.task]

    @property
    def can_estimate(self) -> bool:
        """Whether ``level=None`` works: a blind estimator, or levels read from the files (JPEG tables)."""
        return self.estimator is not None or self.task.read_level is not None

    def check_level(self, level: float) -> float:
        """``level`` if the model can serve it (refused if negative, or out of range for a scale)."""
        spec = self.card.level
        if spec is None:
            raise LevelError(f"model {self.card.name!r} takes no level")
        if level < 0:
            raise LevelError(f"{spec.name} must be >= 0, got {level:g}")
        if self.task.resizes and not spec.minimum <= level <= spec.maximum:
            raise LevelError(f"{spec.name} must be between {spec.minimum:g} and {spec.maximum:g}, got {level:g}")
        return float(level)

    def network_level(self, level: float) -> float:
        """The level the network runs at: ``level`` clamped to the trained range."""
        spec = self.card.level
        return float(min(max(level, spec.minimum), spec.maximum))

    def strength(self, level: float) -> float:
        """How much of the network's correction to apply: it fades from the trained maximum to 0 at the
        task's pass-through level, so near-lossless inputs are never made worse."""
        maximum, limit = self.card.level.maximum, self.task.pass_through
        if limit is None or level <= maximum:
            return 1.0
        return max(0.0, (limit - level) / (limit - maximum))

    def estimate_level(self, picture: Picture) -> float:
        """The level of ``picture``: what the file states (a JPEG's quantisation tables) where the task
        reads that, else the blind estimator's reading, clamped to the range the model serves (up to the
        pass-through level, so a near-lossless image is still recognised as one)."""
        stated = self.task.read_level(picture.info) if self.task.read_level else None
        if stated is not None:
            return stated
        if self.estimator is None:
            raise LevelError(f"model {self.card.name!r} has no level estimator; give the {self.card.level.name}")
        spec = self.card.level
        estimate = self.estimator.estimate(_rgb(picture.pixels), align=self.task.grid) * spec.norm_scale
        return float(min(max(estimate, spec.minimum), self.task.pass_through or spec.maximum))

    def restore(
        self,
        picture: Picture,
        level: float | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Outcome:
        """Restore ``picture`` at ``level`` (``None``: estimate it)."""
        started = time.perf_counter()
        level = self.estimate_level(picture) if level is None else self.check_level(level)
        if self.task.resizes:
            picture = upscale_picture(picture, level)
        strength = self.strength(level)
        details = {"strength": strength} if strength < 1 else None
        if strength == 0:
            return Outcome(picture, level, 0, 0, time.perf_counter() - started, details=details)
        self.model.set_level(self.card.level.normalise(self.network_level(level)))
        rgb = _rgb(picture.pixels)
        height, width = rgb.shape[:2]
        tile = self.tile
        if tile is None:
            tile = automatic_tile(height, width, self.model.working_bytes_per_pixel, self.memory_budget)

        def network(batch: torch.Tensor) -> torch.Tensor:
            return self.model(batch.to(self.device)).clamp_(0, 1).cpu()

        result = run_tiled(network, rgb, tile, self.tile_overlap, progress, align=self.task.grid)
        pixels = result.image
        if strength < 1:
            pixels = rgb + strength * (pixels - rgb)
        if picture.pixels.shape[2] == 1:
            pixels = pixels.mean(axis=2, keepdims=True)
        restored = replace(picture, pixels=pixels)
        flops = round(self.flops_per_pixel * result.processed_pixels)
        return Outcome(restored, level, result.tiles, flops, time.perf_counter() - started, details=details)


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
