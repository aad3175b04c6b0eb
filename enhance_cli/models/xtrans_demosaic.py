"""A dense demosaicking network for Fuji X-Trans mosaics, with the layout of Gharbi et al.'s released X-Trans
network (demosaicnet, 2016).

Input: N x 1 x H x W mosaic in the X-Trans phase of :data:`enhance_cli.cfa.XTRANS` (black 0, white 1,
white-balanced; sides multiples of 6). Each sample goes into its colour's plane (zeros elsewhere); ``depth``
3x3 convolutions of ``width`` channels run at full resolution (the 6x6 pattern does not pack into cells the
way Bayer's 2x2 does); the sparse planes join their features, and a 3x3 then 1x1 conv give RGB. With
``noise_input`` a second input channel holds each pixel's noise standard deviation (as for ``isp``); a 3x3
conv of it, zero at first, adds to the first layer's response, so training starts from the converted network.

Zero padding keeps the size. ``encoding="srgb"`` runs the network on sRGB-encoded values, the domain the
published weights were trained in; they start this network's training
(``python -m enhance_cli.training.demosaicnet_weights --xtrans``), never imported at run time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.cfa import XTRANS
from enhance_cli.models.base import RestorationModel
from enhance_cli.models.isp_unet import ENCODINGS, NOISE_SCALE, srgb_decode, srgb_encode, srgb_slope
from enhance_cli.nn import Footprint
from enhance_cli.registry import register_architecture


@register_architecture("xtrans-demosaic")
class XTransDemosaic(RestorationModel):
    scale_multiple = XTRANS.period

    def __init__(self, width: int = 64, depth: int = 11, encoding: str = "srgb", noise_input: bool = False) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")
        self.width, self.depth, self.encoding = width, depth, encoding
        self.input_channels = 2 if noise_input else 1
        layers: list[nn.Module] = []
        for index in range(depth):
            layers += [nn.Conv2d(3 if index == 0 else width, width, 3, padding=1), nn.ReLU(inplace=True)]
        self.trunk = nn.Sequential(*layers)
        if noise_input:
            self.noise_head = nn.Conv2d(1, width, 3, padding=1)
            nn.init.zeros_(self.noise_head.weight)
            nn.init.zeros_(self.noise_head.bias)
        self.post = nn.Conv2d(3 + width, width, 3, padding=1)
        self.output = nn.Conv2d(width, 3, 1)
        masks = torch.stack([torch.from_numpy(XTRANS.channels == channel) for channel in range(3)]).float()
        self.register_buffer("masks", masks[None], persistent=False)  # 1 x 3 x 6 x 6
        self.working_bytes_per_pixel = 4.0 * width * 3
        self.tile_pixels = 512 * 512

    def restore(self, x: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        mosaic = srgb_encode(x[:, :1]) if self.encoding == "srgb" else x[:, :1]
        height, width = mosaic.shape[-2:]
        masks = self.masks.to(mosaic.dtype).repeat(1, 1, height // XTRANS.period, width // XTRANS.period)
        planes = mosaic * masks
        features = self.trunk[0](planes)
        if self.input_channels == 2:
            noise = x[:, 1:2] * srgb_slope(x[:, :1]) if self.encoding == "srgb" else x[:, 1:2]
            features = features + self.noise_head(noise * NOISE_SCALE)
        features = self.trunk[1:](features)
        rgb = self.output(F.relu(self.post(torch.cat([planes, features], dim=1)), inplace=True))
        return srgb_decode(rgb) if self.encoding == "srgb" else rgb

    def footprint(self, x: Footprint) -> Footprint:
        features = x
        for _ in range(self.depth):
            features = features.conv(1)
        return x.join(features).conv(1)
