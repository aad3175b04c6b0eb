"""Measured cost of a model: FLOPs per pixel (counted by torch) and parameters."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_flops(function: Callable[[torch.Tensor], torch.Tensor], height: int, width: int, channels: int = 3) -> int:
    """FLOPs (multiply and add counted separately) of one call on an image of this size."""
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        function(torch.zeros(1, channels, height, width))
    return int(counter.get_total_flops())


def flops_per_pixel(function: Callable[[torch.Tensor], torch.Tensor], size: int = 128) -> float:
    return count_flops(function, size, size) / (size * size)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@cache
def dncnn_flops_per_pixel(depth: int = 17, channels: int = 64) -> float:
    """The reference the issues measure speed against: a plain 17-layer, 64-channel DnCNN."""
    from enhance_cli.models.dncnn import DnCNN

    return flops_per_pixel(DnCNN(depth=depth, channels=channels))
