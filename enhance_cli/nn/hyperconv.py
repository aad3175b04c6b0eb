"""HyperConvolution: convolution filters predicted by an MLP from a pooled view of the image.

After Muller, "Overparametrization of HyperNetworks at Fixed FLOP-Count" (NTIRE 2021). The block
takes two inputs: ``guide`` predicts the filters, ``x`` is convolved with them at full resolution.

Our geometry (the paper's was not available, see ../shared/METHODS.md §1):
- ``guide`` is pooled into cells of ``cell`` x ``cell`` pixels (mean and mean square, so the filters
  can react to local contrast and noise), a 3x3 conv on that grid adds the neighbouring cells'
  context, and an MLP of width ``mlp_width`` predicts one depthwise ``k x k`` kernel per channel
  per cell. The MLP runs once per cell, so its cost per pixel is about 2 x its parameters / cell²:
  the width adds parameters while the FLOPs per pixel barely move.
- Each cell's kernel sits at the cell's centre and kernels are bilinearly interpolated between
  centres, so the effective filter varies continuously: no seams at cell (or aligned tile) borders.
- The MLP's last layer starts at zero and its bias holds an ordinary kernel, so at initialisation
  the layer *is* a static depthwise conv; training learns the input-dependent part, which is
  bounded (tanh) so that content unlike the training data cannot make the filters explode.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.nn.receptive_field import Footprint


class HyperConv2d(nn.Module):
    """Depthwise ``kernel_size`` conv whose kernels an MLP predicts per ``cell``-pixel cell of ``guide``."""

    KERNEL_BOUND = 1.0  # largest change the MLP may make to any kernel tap

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        cell: int = 8,
        mlp_width: int = 256,
        guide_channels: int | None = None,
        context: int = 64,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel_size
        self.cell = cell
        guide_channels = guide_channels or channels
        taps = channels * kernel_size * kernel_size
        self.predictor = nn.Sequential(
            nn.Conv2d(2 * guide_channels, context, 3, padding=1),  # sees the neighbouring cells
            nn.GELU(),
            nn.Conv2d(context, mlp_width, 1),
            nn.GELU(),
            nn.Conv2d(mlp_width, taps, 1),
        )
        last = self.predictor[-1]
        nn.init.zeros_(last.weight)
        with torch.no_grad():
            static = torch.empty(channels, 1, kernel_size, kernel_size)
            nn.init.kaiming_uniform_(static, a=math.sqrt(5))
            last.bias.copy_(static.flatten())
        self.bias = nn.Parameter(torch.zeros(channels))

    def cell_kernels(self, guide: torch.Tensor) -> torch.Tensor:
        """Kernels per cell: N x (C·k·k) x ceil(H/cell) x ceil(W/cell)."""
        c = self.cell
        stats = torch.cat([guide, guide * guide], dim=1)
        pooled = F.avg_pool2d(stats, c, c, ceil_mode=True, count_include_pad=False)
        kernels = self.predictor(pooled)
        # The input-dependent part is bounded: unusual content (saturated colours, extreme contrast) cannot
        # make the filters, and with them the features, grow without limit.
        static = self.predictor[-1].bias.view(1, -1, 1, 1)
        bound = self.KERNEL_BOUND
        return static + bound * torch.tanh((kernels - static) / bound)

    def kernel_field(self, guide: torch.Tensor) -> torch.Tensor:
        """The effective per-pixel kernels: N x (C·k·k) x H x W (for tests and inspection)."""
        return _cell_to_pixels(self.cell_kernels(guide), guide.shape[-2:], self.cell)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        guide = x if guide is None else guide
        kernels = self.cell_kernels(guide)
        n, c, height, width = x.shape
        k = self.kernel_size
        kernels = kernels.view(n, c, k * k, *kernels.shape[-2:])
        # Plain NCHW: the interpolated kernel planes come out NCHW, and multiplying them with a channels-last
        # input took 2.2x as long (one HC layer on 64 x 256 x 256: 400 ms against 178, the copy included).
        padded = F.pad(x.contiguous(), (k // 2,) * 4)
        out = self.bias.view(1, -1, 1, 1).expand(n, c, height, width).clone()
        # One tap at a time: an interpolated kernel plane times the shifted input keeps memory at a few feature
        # maps; accumulated in place (addcmul_), a quarter faster than a new sum per tap.
        for tap in range(k * k):
            dy, dx = divmod(tap, k)
            weight = _cell_to_pixels(kernels[:, :, tap], (height, width), self.cell)
            out.addcmul_(weight, padded[:, :, dy : dy + height, dx : dx + width])
        return out

    def footprint(self, x: Footprint, guide: Footprint | None = None) -> Footprint:
        """The input pixels each output position depends on: its taps, and through the guide whole pooled cells."""
        guide = x if guide is None else guide
        context = self.predictor[0].padding[0]  # the predictor's conv over neighbouring cells
        cells = guide.pool(self.cell).conv(context)
        return x.conv(self.kernel_size // 2).join(cells.between_centres(self.cell, len(x)))

    def flops_per_pixel(self) -> dict[str, float]:
        """Multiply-adds x 2 per pixel of ``x``: ``conv`` (applying the filters) and ``mlp`` (predicting them)."""
        taps = self.channels * self.kernel_size**2
        # Per tap and channel: bilinear interpolation (about 7 FLOPs) plus a multiply-add.
        apply = taps * (7 + 2)
        predictor = sum(m.weight.numel() for m in self.predictor if isinstance(m, nn.Conv2d))
        return {"conv": float(apply), "mlp": 2.0 * predictor / self.cell**2}


def _cell_to_pixels(values: torch.Tensor, size: tuple[int, int], cell: int) -> torch.Tensor:
    """Bilinear interpolation from cell centres to pixels (cells of ``cell`` pixels, the last maybe partial)."""
    rows, cols = values.shape[-2:]
    # Interpolating the grid as if it covered rows*cell pixels puts each value at its cell's centre.
    full = F.interpolate(values, size=(rows * cell, cols * cell), mode="bilinear", align_corners=False)
    return full[..., : size[0], : size[1]]
