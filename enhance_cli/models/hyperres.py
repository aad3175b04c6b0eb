"""HyperRes: a restoration network whose body weights are generated from the degradation level.

Layout (after Aharon & Ben-Artzi 2023, sized for CPUs): the image is rearranged into 2x2
sub-images (pixel unshuffle, lossless), a plain conv lifts them to ``channels`` features,
``blocks`` residual blocks of level-conditioned convs run at half resolution, and a conv plus
pixel shuffle returns a residual that is added to the input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.models.base import RestorationModel
from enhance_cli.nn import Footprint, LevelConv2d
from enhance_cli.registry import register_architecture


class LevelResBlock(nn.Module):
    def __init__(self, channels: int, order: int = 1) -> None:
        super().__init__()
        self.conv1 = LevelConv2d(channels, channels, order=order)
        self.conv2 = LevelConv2d(channels, channels, order=order)

    def forward(self, x: torch.Tensor, level: torch.Tensor | float | None) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x, level)), level)


@register_architecture("hyperres")
class HyperRes(RestorationModel):
    """Level-conditioned residual network; ``level`` is normalised to about [0, 1]."""

    scale_multiple = 2

    def __init__(self, in_channels: int = 3, channels: int = 64, blocks: int = 8, level_order: int = 1) -> None:
        super().__init__()
        self.head = nn.Conv2d(4 * in_channels, channels, 3, padding=1)
        self.body = nn.ModuleList(LevelResBlock(channels, level_order) for _ in range(blocks))
        self.body_tail = LevelConv2d(channels, channels, order=level_order)
        self.tail = nn.Conv2d(channels, 4 * in_channels, 3, padding=1)
        # Measured 330 bytes per pixel at 64 channels (benchmarks/tiles.py network), with margin.
        self.working_bytes_per_pixel = 6 * channels
        # A half-resolution feature map (``channels`` bytes per input pixel) under 32 MiB: at 64 channels a
        # pass over 720 x 720 ran at 3.3 s/MP on 2 threads, over 736 x 736 at 4.3 (channels-last).
        self.tile_pixels = (32 << 20) // channels

    def restore(self, x: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        features = self.head(F.pixel_unshuffle(x, 2))
        body = features
        for block in self.body:
            body = block(body, level)
        body = self.body_tail(body, level) + features
        return x + F.pixel_shuffle(self.tail(body), 2)

    def footprint(self, x: Footprint) -> Footprint:
        features = x.pool(2).conv(1)  # pixel unshuffle, head
        body = features.conv(2 * len(self.body) + 1)  # two 3x3 convs per residual block, then body_tail
        return x.join(body.conv(1).unpool(2))  # tail and pixel shuffle, added to the input
