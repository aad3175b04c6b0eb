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


def flop_breakdown(model: nn.Module, height: int = 256, width: int = 256, channels: int = 3) -> dict[str, float]:
    """FLOPs per input pixel split into ``conv`` (everything at image resolution) and ``mlp``.

    ``mlp`` is what HyperConvolution predictors cost on their pooled grids; ``conv`` adds the
    HyperConvolutions' own filtering (interpolated per-pixel kernels), which torch does not count.
    """
    from enhance_cli.nn import HyperConv2d

    applied = 0.0
    hooks = []

    def count_apply(module: HyperConv2d, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        nonlocal applied
        x = inputs[0]
        applied += module.flops_per_pixel()["conv"] * x.shape[0] * x.shape[-2] * x.shape[-1]

    for module in model.modules():
        if isinstance(module, HyperConv2d):
            hooks.append(module.register_forward_hook(count_apply))
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.inference_mode():
            model(torch.zeros(1, channels, height, width))
    finally:
        for hook in hooks:
            hook.remove()
    per_module = counter.get_flop_counts()
    mlp = sum(sum(ops.values()) for name, ops in per_module.items() if name.endswith(".predictor"))
    total = counter.get_total_flops()
    pixels = height * width
    return {"conv": (total - mlp + applied) / pixels, "mlp": mlp / pixels}
