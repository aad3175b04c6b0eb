"""DDS-Net's backbone: a slimmable U-Net for real-photo denoising, sized for CPUs.

Three levels (full, 1/2 and 1/4 resolution) of residual blocks (3x3 conv, ReLU, 3x3 conv) with additive
skips, a stride-2 conv down and a 1x1 conv plus pixel shuffle up, and a residual output. Every conv is a
:class:`~enhance_cli.nn.SlimConv2d`, so one set of weights holds a family of sub-networks. A sub-network is a
:class:`Widths`: the width of each level's feature stream (tied across a level, as the skips add) and the
inner width of every block, each a multiple of ``group`` channels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.models.base import RestorationModel
from enhance_cli.nn import Footprint, SlimConv2d
from enhance_cli.registry import register_architecture

LEVELS = 3


@dataclass(frozen=True)
class Widths:
    """One sub-network: stream widths per level and the inner width of each block, in network order."""

    streams: tuple[int, ...]
    inner: tuple[int, ...]

    def as_list(self) -> list[int]:
        return [*self.streams, *self.inner]

    @classmethod
    def from_list(cls, values: list[int]) -> Widths:
        return cls(tuple(values[:LEVELS]), tuple(values[LEVELS:]))


class SlimBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = SlimConv2d(channels, channels, 3, padding=1)
        self.conv2 = SlimConv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, inner: int) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x, inner)), x.shape[1])


@register_architecture("dds-unet")
class DDSUNet(RestorationModel):
    """Slimmable U-Net denoiser; ``forward(x, widths)`` runs one sub-network (the full one by default)."""

    scale_multiple = 4

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        blocks: tuple[int, int, int, int, int] = (1, 1, 2, 1, 1),  # encoder 0, 1, middle, decoder 1, 0
        group: int = 8,
        min_width: int | None = None,  # the thinnest any unit may run (default one group)
    ) -> None:
        super().__init__()
        c0, c1, c2 = channels
        self.channels, self.group = tuple(channels), group
        self.min_width = min_width or group
        self.block_levels = [0] * blocks[0] + [1] * blocks[1] + [2] * blocks[2] + [1] * blocks[3] + [0] * blocks[4]
        self.head = SlimConv2d(3, c0, 3, padding=1)
        self.down1 = SlimConv2d(c0, c1, 2, stride=2)
        self.down2 = SlimConv2d(c1, c2, 2, stride=2)
        self.up2 = SlimConv2d(c2, 4 * c1, 1)  # pixel shuffle takes each output channel from 4 consecutive ones
        self.up1 = SlimConv2d(c1, 4 * c0, 1)
        self.tail = SlimConv2d(c0, 3, 3, padding=1)
        self.blocks = nn.ModuleList(SlimBlock(channels[level]) for level in self.block_levels)
        self.counts = blocks

    @property
    def largest(self) -> Widths:
        return Widths(self.channels, tuple(self.channels[level] for level in self.block_levels))

    @property
    def smallest(self) -> Widths:
        return Widths.from_list([self.choices(unit)[0] for unit in range(len(self.largest.as_list()))])

    def choices(self, unit: int) -> list[int]:
        """The widths unit ``unit`` of :meth:`Widths.as_list` can take: whole groups from ``min_width`` up to its
        channels."""
        full = self.largest.as_list()[unit]
        return list(range(min(self.min_width, full), full + 1, self.group))

    def random_widths(self, rng: np.random.Generator) -> Widths:
        """A sub-network with each unit's width drawn uniformly from its choices (the sandwich rule's middle)."""
        return Widths.from_list([int(rng.choice(self.choices(u))) for u in range(len(self.largest.as_list()))])

    def flops_per_pixel(self, widths: Widths | None = None) -> float:
        """FLOPs per input pixel of one sub-network (multiply and add counted apart, as torch counts them)."""
        w = widths or self.largest
        s0, s1, s2 = w.streams
        area = [1.0, 1 / 4, 1 / 16]  # pixels of each level per input pixel
        macs = 3 * s0 * 9 + s0 * s1 * 4 * area[1] + s1 * s2 * 4 * area[2]  # head, downs (2x2, stride 2)
        macs += s2 * 4 * s1 * area[2] + s1 * 4 * s0 * area[1] + s0 * 3 * 9  # ups (1x1 before the shuffle), tail
        for level, inner in zip(self.block_levels, w.inner, strict=True):
            macs += 2 * w.streams[level] * inner * 9 * area[level]
        return 2 * macs

    def restore(self, x: torch.Tensor, level: torch.Tensor | float | None = None, widths: Widths | None = None):
        w = widths or self.largest
        s0, s1, s2 = w.streams
        inner = iter(w.inner)
        stage = iter(self.blocks)

        def run(features: torch.Tensor, count: int) -> torch.Tensor:
            for block in itertools.islice(stage, count):
                features = block(features, next(inner))
            return features

        e0, e1, middle, d1, d0 = self.counts
        skip0 = run(self.head(x, s0), e0)
        skip1 = run(self.down1(skip0, s1), e1)
        deep = run(self.down2(skip1, s2), middle)
        up = run(skip1 + F.pixel_shuffle(self.up2(deep, 4 * s1), 2), d1)
        up = run(skip0 + F.pixel_shuffle(self.up1(up, 4 * s0), 2), d0)
        return x + self.tail(up)

    def forward(self, x: torch.Tensor, level=None, widths: Widths | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.scale_multiple, -width % self.scale_multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return self.restore(x, level, widths)[..., :height, :width]

    def footprint(self, x: Footprint) -> Footprint:
        def run(features: Footprint, count: int) -> Footprint:
            for _ in range(count):
                features = features.conv(1).conv(1)
            return features

        e0, e1, middle, d1, d0 = self.counts
        skip0 = run(x.conv(1), e0)
        skip1 = run(skip0.pool(2), e1)
        deep = run(skip1.pool(2), middle)
        up = run(skip1.join(deep.unpool(2)), d1)
        up = run(skip0.join(up.unpool(2)), d0)
        return x.join(up.conv(1))
