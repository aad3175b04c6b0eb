"""Level-conditioned convolution (HyperRes meta block).

The kernel is a polynomial in one scalar, the normalised degradation level c: affine,
``kernel = c * w + b`` (HyperRes), or with a ``c^2 * v`` term too. Training evaluates it per
level; inference folds it once into an ordinary kernel, so a conditioned network runs as
fast as a plain one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LevelConv2d(nn.Module):
    """A conv whose weights and bias are ``c * w + b`` (``order`` 2: ``+ c^2 * v``) for the level ``c``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, order: int = 1) -> None:
        super().__init__()
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.padding = kernel_size // 2
        self.weight_base = nn.Parameter(torch.empty(shape))
        self.weight_slope = nn.Parameter(torch.zeros(shape))
        self.bias_base = nn.Parameter(torch.zeros(out_channels))
        self.bias_slope = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight_base, a=math.sqrt(5))
        # Small slope: training starts from one shared conv and learns how it moves with the level.
        nn.init.normal_(self.weight_slope, std=1e-3)
        if order not in (1, 2):
            raise ValueError(f"LevelConv2d order must be 1 or 2, not {order}")
        self.order = order
        if order == 2:
            self.weight_curve = nn.Parameter(torch.zeros(shape))
            self.bias_curve = nn.Parameter(torch.zeros(out_channels))
        self._folded: tuple[torch.Tensor, torch.Tensor] | None = None

    def kernel(self, level: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """The plain conv weight and bias for one level."""
        weight = level * self.weight_slope + self.weight_base
        bias = level * self.bias_slope + self.bias_base
        if self.order == 2:
            weight = weight + level * level * self.weight_curve
            bias = bias + level * level * self.bias_curve
        return weight, bias

    def fold(self, level: float | None) -> None:
        """Fix the level for inference (``None`` returns to per-call levels)."""
        if level is None:
            self._folded = None
            return
        with torch.no_grad():
            weight, bias = self.kernel(float(level))
        self._folded = (weight.contiguous(), bias.contiguous())

    def forward(self, x: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        if level is None:
            if self._folded is None:
                raise RuntimeError("LevelConv2d needs a level: pass one or call fold(level) first")
            weight, bias = self._folded
            return F.conv2d(x, weight, bias, padding=self.padding)
        weight, bias = self.kernel(level)
        return F.conv2d(x, weight, bias, padding=self.padding)


def set_level(module: nn.Module, level: float | None) -> None:
    """Fold every level-conditioned conv in ``module`` for ``level``."""
    for layer in module.modules():
        if isinstance(layer, LevelConv2d):
            layer.fold(level)
