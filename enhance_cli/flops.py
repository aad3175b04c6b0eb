"""Measured cost of a model: FLOPs per pixel (counted by torch) and parameters.

Counting means tracing a network (seconds, and torch), so cards record each model's count
(:func:`card_flops`, written when a card is); listing and running models read it from there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# Cards record FLOPs per pixel of a 256 x 256 input: per-image costs (an estimator's head) are
# spread over its pixels, so small models' counts depend a little on this size.
CARD_SIZE = 256


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


def architecture_flops(architecture: str, config: dict[str, Any], size: int = CARD_SIZE) -> dict[str, float]:
    """FLOPs per input pixel of a registered architecture at a mid-range level, by part (``conv``, ``mlp``)."""
    from enhance_cli.registry import build_architecture

    network = build_architecture(architecture, config).eval()
    if hasattr(network, "set_level"):
        network.set_level(0.5)  # it needs a level to run; the level changes its weights, not its cost
    return flop_breakdown(network, size, size, channels=getattr(network, "input_channels", 3))


def card_flops(architecture: str, config: dict[str, Any]) -> dict[str, Any]:
    """The FLOPs fields of a card: ``flops_per_pixel`` (the total) and ``flops_by_part``, whole numbers."""
    by_part = {part: round(value) for part, value in architecture_flops(architecture, config).items()}
    return {"flops_per_pixel": sum(by_part.values()), "flops_by_part": by_part}
