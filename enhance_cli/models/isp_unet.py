"""The ISP network: a U-Net that demosaicks and denoises a white-balanced Bayer mosaic in camera space.

Input: N x 1 x H x W mosaic in RGGB phase, black-subtracted, 1.0 = white level, white balance applied;
with ``noise_input`` a second channel holds each pixel's noise standard deviation (same scale), so one
network serves clean and noisy files without smoothing away the detail of clean ones.
Output: N x 3 x H x W linear camera RGB (white-balanced). The colour matrix, transfer curve and
orientation come from the file's metadata afterwards (see ``enhance_cli.develop``).

The mosaic is packed into 2x2 sub-images (R, G, G, B) at half resolution; three levels of
residual blocks (spatial filter, then a 1x1 expansion and projection) run at 1/2, 1/4 and 1/8
resolution; the tail predicts a correction to a bilinear demosaic at full resolution.
``hyper`` says per level whether the blocks' spatial filters are :class:`HyperConv2d` (decoder
blocks take the encoder's skip features as the guide that predicts their filters) or static
depthwise convs. The shipped ``isp`` uses HC at 1/4 and 1/8 resolution, where the pooled grids are
coarse and per-pixel filtering is cheap (at 1/2 resolution it tripled training time); ``isp-plain``
uses none and is widened by ``expansion`` to match the FLOPs: the ablation.

``encoding="srgb"`` makes the network work in a perceptual domain: the mosaic (and its noise map,
through the curve's slope) goes through the sRGB curve first, the output comes back in it and is
decoded to linear camera RGB. Interpolating encoded values keeps errors in dark regions small where
the eye and the output's transfer curve would magnify them (Menon's demosaicker gains 4.8 dB on Kodak24
from this alone), and the curve's slope nearly cancels the growth of shot noise with the signal.
``refine`` > 0 adds a last pass over the Bayer phases at the mosaic's resolution: it sees the assembled
RGB of every 2x2 cell beside the mosaic and the finest features, and corrects them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.models.base import RestorationModel
from enhance_cli.nn import Footprint, HyperConv2d
from enhance_cli.registry import register_architecture

NOISE_SCALE = 10.0  # noise standard deviations are small; scaled to the range of the mosaic's values
HC_TILE_HALO = 128  # mosaic pixels of context per tile for the HC networks (see IspUNet.tile_halo)
ENCODINGS = ("linear", "srgb")


def srgb_encode(linear: torch.Tensor) -> torch.Tensor:
    """The sRGB curve, continued linearly below 0 so that noise around black keeps its sign (no clipping)."""
    return torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def srgb_decode(encoded: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`srgb_encode` (also linear below 0)."""
    return torch.where(encoded <= 0.04045, encoded / 12.92, ((encoded.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def srgb_slope(linear: torch.Tensor) -> torch.Tensor:
    """d encode / d linear: turns a noise standard deviation into the encoded domain."""
    return torch.where(linear <= 0.0031308, 12.92, (1.055 / 2.4) * linear.clamp_min(0.0031308) ** (1 / 2.4 - 1))


class Block(nn.Module):
    def __init__(self, channels: int, expansion: float, hyper: bool, cell: int, mlp_width: int) -> None:
        super().__init__()
        if hyper:
            self.spatial = HyperConv2d(channels, 3, cell=cell, mlp_width=mlp_width)
        else:
            self.spatial = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        hidden = round(channels * expansion)
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.project = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        if isinstance(self.spatial, HyperConv2d):
            y = self.spatial(x, guide)
        else:
            y = self.spatial(x)
        return x + self.project(F.gelu(self.expand(y)))

    def footprint(self, x: Footprint, guide: Footprint | None = None) -> Footprint:
        if isinstance(self.spatial, HyperConv2d):
            return self.spatial.footprint(x, guide)
        return x.conv(self.spatial.padding[0])


def bilinear_demosaic(mosaic: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaic of an RGGB mosaic N x 1 x H x W (even sides) -> N x 3 x H x W."""
    height, width = mosaic.shape[-2:]
    masks = torch.zeros(3, 2, 2, dtype=mosaic.dtype, device=mosaic.device)
    masks[0, 0, 0] = masks[1, 0, 1] = masks[1, 1, 0] = masks[2, 1, 1] = 1
    masks = masks.repeat(1, height // 2, width // 2)
    sparse = mosaic * masks
    kernel_rb = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=mosaic.dtype, device=mosaic.device) / 4
    kernel_g = torch.tensor([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=mosaic.dtype, device=mosaic.device) / 4
    kernels = torch.stack([kernel_rb, kernel_g, kernel_rb])[:, None]
    # Reflect padding keeps the CFA phase: a mirrored pixel has the colour of its twin.
    return F.conv2d(F.pad(sparse, (1, 1, 1, 1), mode="reflect"), kernels, groups=3)


@register_architecture("isp-unet")
class IspUNet(RestorationModel):
    """Joint demosaick + denoise U-Net; ``hyper`` switches HyperConvolution on per level."""

    pad_mode = "reflect"  # keeps the CFA phase

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        encoder_blocks: tuple[int, int, int] = (2, 2, 2),
        decoder_blocks: tuple[int, int] = (1, 1),
        hyper: tuple[bool, bool, bool] = (False, True, True),
        cells: tuple[int, int, int] = (8, 8, 4),
        mlp_width: int = 256,
        expansion: float = 2.0,
        noise_input: bool = False,
        encoding: str = "linear",
        refine: int = 0,
        refine_layers: int = 1,
    ) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
        c0, c1, c2 = channels
        self.encoding = encoding
        self.input_channels = 2 if noise_input else 1

        def blocks(count: int, level: int) -> nn.ModuleList:
            return nn.ModuleList(
                Block(channels[level], expansion, hyper[level], cells[level], mlp_width) for _ in range(count)
            )

        self.head = nn.Conv2d(4, c0, 3, padding=1)
        if noise_input:
            # Starts at zero, so a network trained without the noise map carries on unchanged.
            self.noise_head = nn.Conv2d(4, c0, 3, padding=1)
            nn.init.zeros_(self.noise_head.weight)
            nn.init.zeros_(self.noise_head.bias)
        self.encoder0 = blocks(encoder_blocks[0], 0)
        self.down1 = nn.Conv2d(c0, c1, 2, stride=2)
        self.encoder1 = blocks(encoder_blocks[1], 1)
        self.down2 = nn.Conv2d(c1, c2, 2, stride=2)
        self.middle = blocks(encoder_blocks[2], 2)
        self.up2 = nn.Conv2d(c2, 4 * c1, 1)
        self.decoder1 = blocks(decoder_blocks[1], 1)
        self.up1 = nn.Conv2d(c1, 4 * c0, 1)
        self.decoder0 = blocks(decoder_blocks[0], 0)
        self.tail = nn.Conv2d(c0, 12, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        if refine:
            # Packed 2x2 cells: 4 phases x (assembled RGB + mosaic), beside the finest features.
            self.refine_in = nn.Conv2d(16 + c0, refine, 3, padding=1)
            self.refine_more = nn.ModuleList(nn.Conv2d(refine, refine, 3, padding=1) for _ in range(refine_layers - 1))
            self.refine_out = nn.Conv2d(refine, 12, 3, padding=1)
            nn.init.zeros_(self.refine_out.weight)  # starts as no correction: a network without it carries on
            nn.init.zeros_(self.refine_out.bias)
        self.refine = refine
        # Mosaic pixels per cell of the coarsest grid: tiles aligned to this see the same cells as the whole image.
        self.scale_multiple = max([8] + [2 * 2**level * cells[level] for level in range(3) if hyper[level]])
        # Peak activations per mosaic pixel at inference: measured 360 at c0 = 32, with margin.
        self.working_bytes_per_pixel = 12.0 * c0
        # The whole CLI on 6 MP, 2 threads (benchmarks/tiles.py isp): tiles of 0.41 / 0.74 / 1.09 / 1.6 / 2.8 MP
        # ran at 6.3 / 5.1 / 4.2 / 4.7 / 6.0 s/MP. Smaller tiles run faster per pixel but carry their
        # 128-pixel halo on every side; larger ones outgrow the allocator's reusable heap.
        self.tile_pixels = 1024 * 1024 * 32 // c0

    def restore(self, x: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        mosaic = x[:, :1]
        noise = x[:, 1:2] if self.input_channels == 2 else None
        if self.encoding == "srgb":
            if noise is not None:
                noise = noise * srgb_slope(mosaic)
            mosaic = srgb_encode(mosaic)
        features = self.head(F.pixel_unshuffle(mosaic, 2))
        if noise is not None:
            features = features + self.noise_head(F.pixel_unshuffle(noise * NOISE_SCALE, 2))
        skip0 = _run(self.encoder0, features)
        skip1 = _run(self.encoder1, self.down1(skip0))
        deep = _run(self.middle, self.down2(skip1))
        up = skip1 + F.pixel_shuffle(self.up2(deep), 2)
        up = _run(self.decoder1, up, guide=skip1)
        up = skip0 + F.pixel_shuffle(self.up1(up), 2)
        up = _run(self.decoder0, up, guide=skip0)
        rgb = bilinear_demosaic(mosaic) + F.pixel_shuffle(self.tail(up), 2)
        if self.refine:
            cells = F.pixel_unshuffle(torch.cat([rgb, mosaic], dim=1), 2)
            hidden = F.gelu(self.refine_in(torch.cat([cells, up], dim=1)))
            for layer in self.refine_more:
                hidden = F.gelu(layer(hidden))
            correction = self.refine_out(hidden)
            rgb = rgb + F.pixel_shuffle(correction, 2)
        return srgb_decode(rgb) if self.encoding == "srgb" else rgb

    def footprint(self, x: Footprint) -> Footprint:
        skip0 = _footprint(self.encoder0, x.pool(2).conv(1))  # packed 2x2, head (and noise head)
        skip1 = _footprint(self.encoder1, skip0.pool(2))
        deep = _footprint(self.middle, skip1.pool(2))
        up = _footprint(self.decoder1, skip1.join(deep.unpool(2)), guide=skip1)
        up = _footprint(self.decoder0, skip0.join(up.unpool(2)), guide=skip0)
        rgb = x.conv(1).join(up.conv(1).unpool(2))  # bilinear demosaic plus the tail's correction
        if self.refine:
            hidden = rgb.pool(2).join(up).conv(1)
            for _ in self.refine_more:
                hidden = hidden.conv(1)
            return rgb.join(hidden.conv(1).unpool(2))
        return rgb

    @property
    def tile_halo(self) -> int:
        """At most ``HC_TILE_HALO``, which only HyperConvolution's field exceeds: beyond it the input reaches an
        output only through cell means of cell means, and tiled results matched the whole image's within
        0.002/255 on the sample RAW, while the full field would multiply the work of a default tile up to 8
        times (``tests/test_tiling.py`` holds the bound)."""
        return min(self.receptive_field, HC_TILE_HALO)


def _run(blocks: nn.ModuleList, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
    for block in blocks:
        x = block(x, guide)
    return x


def _footprint(blocks: nn.ModuleList, x: Footprint, guide: Footprint | None = None) -> Footprint:
    for block in blocks:
        x = block.footprint(x, guide)
    return x
