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
        return cls(card, **options)

    @property
    def flops_per_pixel(self) -> float:
        if self._flops_per_pixel is None:
            self.model.set_level(0.5)
            self._flops_per_pixel = flops_per_pixel(self.model.cpu())
            self.model.to(self.device)
        return self._flops_per_pixel

    def check_level(self, level: float) -> float:
        """The level to use for ``level``: refused if negative, clamped to the trained range."""
        spec = self.card.level
        if spec is None:
            raise LevelError(f"model {self.card.name!r} takes no level")
        if level < 0:
            raise LevelError(f"{spec.name} must be >= 0, got {level:g}")
        return float(min(max(level, spec.minimum), spec.maximum))

    def estimate_level(self, rgb: np.ndarray) -> float:
        """Blind estimate of the level of an H x W x 3 image, clamped to the trained range."""
        if self.estimator is None:
            raise LevelError(f"model {self.card.name!r} has no level estimator; give the level")
        normalised = self.estimator.estimate(rgb)
        return self.check_level(normalised * self.card.level.norm_scale)

    def restore(
        self,
        picture: Picture,
        level: float | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Outcome:
        """Restore ``picture`` at ``level`` (``None``: estimate it)."""
        started = time.perf_counter()
        rgb = np.repeat(picture.pixels, 3, axis=2) if picture.pixels.shape[2] == 1 else picture.pixels
        level = self.estimate_level(rgb) if level is None else self.check_level(level)
        self.model.set_level(self.card.level.normalise(level))
        height, width = rgb.shape[:2]
        tile = self.tile
        if tile is None:
            tile = automatic_tile(height, width, self.model.working_bytes_per_pixel, self.memory_budget)

        def network(batch: torch.Tensor) -> torch.Tensor:
            return self.model(batch.to(self.device)).clamp_(0, 1).cpu()

        result = run_tiled(network, rgb, tile, self.tile_overlap, progress)
        pixels = result.image
        if picture.pixels.shape[2] == 1:
            pixels = pixels.mean(axis=2, keepdims=True)
        restored = replace(picture, pixels=pixels)
        flops = round(self.flops_per_pixel * result.processed_pixels)
        return Outcome(restored, level, result.tiles, flops, time.perf_counter() - started)
