"""Restoration tasks: what a level means and how training makes that degradation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from enhance_cli.degradations import add_gaussian_noise, bicubic_round_trip, jpeg_compress, quantise_8bit
from enhance_cli.jpeg_quality import quality_from_tables

Degrade = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
Prepare = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
ReadLevel = Callable[[dict], float | None]


@dataclass(frozen=True)
class Task:
    name: str
    level_name: str
    minimum: float
    maximum: float
    degrade: Degrade
    prepare: Prepare | None = None  # training only: reshape the clean patches' distribution first
    grid: int = 1  # the degradation's block grid: tiles and estimator crops keep its phase
    pass_through: float | None = None  # from this level up the input is returned untouched
    fade_below: float | None = None  # below the range the correction fades out, reaching none at this level
    limit: float | None = None  # the largest level there is (a JPEG quality of 100)
    resizes: bool = False  # the level is an upscaling factor, so it is never clamped
    read_level: ReadLevel | None = None  # the level a file states itself, from a Picture's ``info``


def _noise(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    return add_gaussian_noise(clean, sigma, generator)


def _jpeg(clean: torch.Tensor, quality: float, generator: torch.Generator) -> torch.Tensor:
    """Above 100: never compressed (8-bit), which the blind estimator must learn to call 100."""
    return jpeg_compress(clean, round(quality)) if quality < 100.5 else quantise_8bit(clean)


def _sr(clean: torch.Tensor, scale: float, generator: torch.Generator) -> torch.Tensor:
    return bicubic_round_trip(clean, scale)


def _jpeg_file_quality(info: dict) -> float | None:
    tables = info.get("jpeg_quantization")
    return float(quality_from_tables(tables).quality) if tables else None


def _some_grey(clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A quarter of the patches made grey: greyscale JPEGs (Classic5, scans) have no chroma to restore."""
    grey = torch.rand(len(clean), generator=generator) < 0.25
    luma = (0.299 * clean[:, 0] + 0.587 * clean[:, 1] + 0.114 * clean[:, 2]).unsqueeze(1)
    return torch.where(grey.view(-1, 1, 1, 1), luma.expand_as(clean), clean)


TASKS: dict[str, Task] = {
    # Below sigma 5 a linear fade to none at 0 was best on the validation split: a clean photo (sigma read as
    # 1-2) comes back almost untouched, sigma 1-4 gain over both the input and the full correction at 5.
    "noise": Task("noise", "sigma", 5.0, 75.0, _noise, fade_below=0.0),
    # 16: the 4:2:0 macroblock. From quality 95 up, learned restorers lose dB (ANCHORS A2): pass through.
    "jpeg": Task(
        "jpeg",
        "quality",
        10.0,
        90.0,
        _jpeg,
        prepare=_some_grey,
        grid=16,
        pass_through=95.0,
        limit=100.0,
        read_level=_jpeg_file_quality,
    ),
    "sr": Task("sr", "scale", 2.0, 4.0, _sr, resizes=True),
}
