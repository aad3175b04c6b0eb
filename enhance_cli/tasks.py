"""Restoration tasks: what a level means and how training makes that degradation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from enhance_cli.training.degradations import add_gaussian_noise

Degrade = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Task:
    name: str
    level_name: str
    minimum: float
    maximum: float
    degrade: Degrade


def _noise(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    return add_gaussian_noise(clean, sigma, generator)


TASKS: dict[str, Task] = {
    "noise": Task("noise", "sigma", 5.0, 75.0, _noise),
}
