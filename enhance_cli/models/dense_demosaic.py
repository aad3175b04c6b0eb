"""A dense demosaicking trunk with the layout of Gharbi et al.'s released Bayer network (demosaicnet, 2016).

Input: N x 1 x H x W mosaic in RGGB phase (black 0, white 1, white-balanced), as for ``isp``. One reflected
column on each side makes its 2x2 cells GRBG, the phase the published weights were trained in; the cells'
4 sub-images are mixed (1x1), ``depth`` 3x3 convolutions of ``width`` channels run on them, the last giving
filters and masks whose product a 1x1 conv turns into a residual of 4 sub-pixels per colour; those are
shuffled to full resolution, joined to the sparse mosaic (each sample in its own colour's plane, zeros
elsewhere) and a 3x3 then 1x1 conv give RGB.

With ``noise_input`` a second input channel holds each pixel's noise standard deviation (as for ``isp``);
packed like the mosaic, a 3x3 conv adds it to the first layer's response. It starts at zero, so the trunk
begins exactly as the weights it was converted from and learns from there how far to smooth.

Zero padding keeps the size (demosaicnet's ``pad=True``). ``encoding="srgb"`` runs the network on
sRGB-encoded values, the domain the published weights were trained in; they start this trunk's training
(``python -m enhance_cli.training.demosaicnet_weights``), never imported at run time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.models.base import RestorationModel
from enhance_cli.models.isp_unet import ENCODINGS, NOISE_SCALE, srgb_decode, srgb_encode, srgb_slope
from enhance_cli.nn import Footprint
from enhance_cli.registry import register_architecture

# The trunk's cells are GRBG, as demosaicnet's weights were trained: the RGGB input gains one reflected column
# on each side (reflection keeps the CFA phase), and each GRBG sub-image's colour plane is (G, R, B, G).
PLANE_OF_PHASE = (1, 0, 2, 1)


@register_architecture("dense-demosaic")
class DenseDemosaic(RestorationModel):
    scale_multiple = 2
    pad_mode = "reflect"  # keeps the CFA phase

    def __init__(self, width: int = 64, depth: int = 15, encoding: str = "srgb", noise_input: bool = False) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")
        self.width, self.depth, self.encoding = width, depth, encoding
        self.input_channels = 2 if noise_input else 1
        self.pack = nn.Conv2d(4, 4, 1)
        layers: list[nn.Module] = []
        for index in range(depth):
            inputs = 4 if index == 0 else width
            outputs = 2 * width if index == depth - 1 else width
            layers += [nn.Conv2d(inputs, outputs, 3, padding=1), nn.ReLU(inplace=True)]
        self.trunk = nn.Sequential(*layers)
        if noise_input:
            self.noise_head = nn.Conv2d(4, width, 3, padding=1)
            nn.init.zeros_(self.noise_head.weight)
            nn.init.zeros_(self.noise_head.bias)
        self.residual = nn.Conv2d(width, 12, 1)  # 3 colours x 4 sub-pixels
        self.post = nn.Conv2d(6, width, 3, padding=1)
        self.output = nn.Conv2d(width, 3, 1)
        self.working_bytes_per_pixel = 4.0 * (2 * width) * 2 + 4.0 * width * 2

    def restore(self, x: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        mosaic = srgb_encode(x[:, :1]) if self.encoding == "srgb" else x[:, :1]
        mosaic = F.pad(mosaic, (1, 1, 0, 0), mode="reflect")  # RGGB -> GRBG
        features = self.trunk[0](self.pack(F.pixel_unshuffle(mosaic, 2)))
        if self.input_channels == 2:
            noise = x[:, 1:2] * srgb_slope(x[:, :1]) if self.encoding == "srgb" else x[:, 1:2]
            noise = F.pad(noise * NOISE_SCALE, (1, 1, 0, 0), mode="reflect")
            features = features + self.noise_head(F.pixel_unshuffle(noise, 2))
        features = self.deeper_layers(features)
        filtered = features[:, : self.width] * features[:, self.width :]
        # 12 channels, colour-major (4 sub-pixels of red, then green, then blue): shuffled to full resolution.
        upsampled = F.pixel_shuffle(self.residual(filtered), 2)
        rgb = self.output(F.relu(self.post(torch.cat([sparse_mosaic(mosaic), upsampled], dim=1)), inplace=True))[
            ..., 1:-1
        ]
        return srgb_decode(rgb) if self.encoding == "srgb" else rgb

    def deeper_layers(self, features: torch.Tensor) -> torch.Tensor:
        """The trunk after its first conv: that conv's ReLU, then the other layers."""
        return self.trunk[1:](features)

    def footprint(self, x: Footprint) -> Footprint:
        cells = x.conv(1).pool(2)  # the reflected column moves the cell grid by one pixel
        for _ in range(self.depth):
            cells = cells.conv(1)
        return x.join(cells.unpool(2)).conv(1)


def sparse_mosaic(mosaic: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W: each GRBG sample in its colour's plane, zeros elsewhere (H and W even)."""
    phases = F.pixel_unshuffle(mosaic, 2)  # N x 4 x H/2 x W/2: G, R, B, G
    planes = torch.zeros(mosaic.shape[0], 12, *phases.shape[-2:], dtype=mosaic.dtype, device=mosaic.device)
    for phase, plane in enumerate(PLANE_OF_PHASE):
        planes[:, 4 * plane + phase] = phases[:, phase]
    return F.pixel_shuffle(planes, 2)
