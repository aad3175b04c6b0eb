"""Apply one registered model to one image: level, tiling, timing and cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from enhance_cli.flops import parameter_count
from enhance_cli.imageio import Picture
from enhance_cli.pipeline import Outcome
from enhance_cli.registry import ModelCard, find_card, load_model
from enhance_cli.resize import upscale_flops, upscale_picture
from enhance_cli.tasks import TASKS, Task
from enhance_cli.tiling import TilePlan, check_tile, plan_for_budget, plan_tiles, run_tiled

if TYPE_CHECKING:
    from enhance_cli.models.level_estimator import BlindEstimator

# Tiles whose halo covers the receptive field match the whole image exactly and need no overlap; the rest
# (isp) cross-fade over this many pixels, rounded up to their grid.
DEFAULT_OVERLAP = 8


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
        tile_overlap: int | None = None,
        memory: int | None = None,
        workers: int = 1,
    ) -> None:
        self.card = card
        self.device = pick_device(device)
        # On the CPU, channels-last (NHWC) tensors spare oneDNN a layout reorder around every convolution:
        # 1.5x faster for HyperRes, 1.2x for isp (python benchmarks/tiles.py network).
        self.memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.model = load_model(card).to(self.device, memory_format=self.memory_format)
        # Tiles keep the network's grid and the degradation's (JPEG blocks) in phase with the whole image,
        # and run with the network's receptive field as context: tiled results then match the whole image's.
        grid = TASKS[card.task].grid if card.task in TASKS else 1
        self.tile_align = int(np.lcm(grid, self.model.scale_multiple))
        self.tile_halo = self.model.tile_halo
        check_tile(tile, self.tile_align)
        self.tile = tile
        exact = self.tile_halo >= self.model.receptive_field
        default_overlap = self.model.tile_overlap
        if default_overlap is None:
            default_overlap = 0 if exact else DEFAULT_OVERLAP
        self.tile_overlap = tile_overlap if tile_overlap is not None else default_overlap
        self.memory = memory
        self.workers = workers  # processes running this model at once: they share the tiles' memory
        self.params = parameter_count(self.model)

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """A tile as the network runs it: on its device, in its memory format."""
        return batch.to(self.device, memory_format=self.memory_format)

    def plan_for(self, height: int, width: int) -> TilePlan:
        """The tiles for an image of this size: of the side asked for, else the plan that feeds the network
        fewest pixels in tiles within ``memory`` bytes of working set (by default, the model's fastest tiles),
        shared between the ``workers`` running at once."""
        if self.tile is not None:
            return plan_tiles(height, width, self.tile, self.tile_overlap, self.tile_align, self.tile_halo)
        budget_pixels = self.model.tile_pixels
        if self.memory is not None:
            budget_pixels = self.memory / self.model.working_bytes_per_pixel
        budget_pixels /= self.workers
        return plan_for_budget(height, width, budget_pixels, self.tile_overlap, self.tile_align, self.tile_halo)


class Restorer(LoadedModel):
    """A loaded model (and its blind level estimator) ready to restore pictures."""

    def __init__(self, card: ModelCard, **options) -> None:
        super().__init__(card, **options)
        self._estimator: BlindEstimator | None = None
        self._estimator_card: ModelCard | None = None

    @property
    def estimator(self) -> BlindEstimator | None:
        """The blind level estimator, loaded (and its weights verified) the first time a run needs it."""
        if self._estimator is None and self.card.estimator:
            self._estimator_card = find_card(self.card.estimator)
            self._estimator = load_model(self._estimator_card).to(self.device)
        return self._estimator

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
        """FLOPs per input pixel, as the card records them (counting them would trace the network)."""
        return self.card.flops_per_pixel

    @property
    def task(self) -> Task:
        return TASKS[self.card.task]

    @property
    def can_estimate(self) -> bool:
        """Whether ``level=None`` works: a blind estimator, or levels read from the files (JPEG tables)."""
        return self.card.estimator is not None or self.task.read_level is not None

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

    def used_level(self, level: float) -> float:
        """The level an image is restored as: ``level`` within what the model serves, which is its trained
        range, extended down to the task's fade (sigma 0) and up to its limit (quality 100)."""
        spec, task = self.card.level, self.task
        low = spec.minimum if task.fade_below is None else task.fade_below
        high = spec.maximum if task.limit is None else task.limit
        return float(min(max(level, low), high))

    def network_level(self, level: float) -> float:
        """The level the network runs at: ``level`` clamped to the trained range."""
        spec = self.card.level
        return float(min(max(level, spec.minimum), spec.maximum))

    def strength(self, level: float) -> float:
        """How much of the network's correction to apply. Outside the trained range it fades out: above it
        to none at the task's pass-through level (near-lossless JPEGs are never made worse), below it to
        none at the task's fade level (a clean photo comes back almost untouched)."""
        spec, task = self.card.level, self.task
        if task.pass_through is not None and level > spec.maximum:
            return max(0.0, (task.pass_through - level) / (task.pass_through - spec.maximum))
        if task.fade_below is not None and level < spec.minimum:
            return max(0.0, (level - task.fade_below) / (spec.minimum - task.fade_below))
        return 1.0

    def estimate_level(self, picture: Picture) -> tuple[float, str, int]:
        """The level of ``picture``, where it came from (``file``: a JPEG's quantisation tables, or
        ``estimated`` by the blind estimator), and the estimator's FLOPs."""
        stated = self.task.read_level(picture.info) if self.task.read_level else None
        if stated is not None:
            return stated, "file", 0
        estimator = self.estimator
        if estimator is None:
            raise LevelError(f"model {self.card.name} has no level estimator; give the {self.card.level.name}")
        image = rgb_pixels(picture.pixels)
        estimate = estimator.estimate(image, align=self.task.grid) * self.card.level.norm_scale
        flops = round(self._estimator_card.flops_per_pixel * estimator.examined_pixels(*image.shape[:2]))
        return float(estimate), "estimated", flops

    def restore(
        self,
        picture: Picture,
        level: float | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Outcome:
        """Restore ``picture`` at ``level`` (``None``: estimate it)."""
        started = time.perf_counter()
        extra_flops = 0
        if level is None:
            level, source, extra_flops = self.estimate_level(picture)
        else:
            level, source = self.check_level(level), "given"
        level = self.used_level(level)
        if self.task.resizes:
            extra_flops += upscale_flops(picture, level)
            picture = upscale_picture(picture, level)
        strength = self.strength(level)
        details = {"level_source": source, "strength": round(strength, 4)}
        if strength == 0:
            return Outcome(picture, level, 0, extra_flops, time.perf_counter() - started, details=details)
        self.model.set_level(self.card.level.normalise(self.network_level(level)))
        rgb = rgb_pixels(picture.pixels)
        height, width = rgb.shape[:2]

        def network(batch: torch.Tensor) -> torch.Tensor:
            return self.model(self.to_device(batch)).clamp_(0, 1).cpu()

        result = run_tiled(network, rgb, self.plan_for(height, width), progress)
        pixels = result.image
        if strength < 1:
            pixels = rgb + strength * (pixels - rgb)
        if picture.pixels.shape[2] == 1:
            pixels = pixels.mean(axis=2, keepdims=True)
        restored = replace(picture, pixels=pixels)
        flops = round(self.flops_per_pixel * result.processed_pixels) + extra_flops
        seconds = time.perf_counter() - started
        return Outcome(restored, level, result.tiles, flops, seconds, result.processed_pixels, details=details)


def rgb_pixels(pixels: np.ndarray) -> np.ndarray:
    """Grey pixels repeated into RGB (the networks take three channels); RGB as it is."""
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
