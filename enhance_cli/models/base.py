"""What every restoration architecture provides to the engine."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.nn import Footprint, set_level


class RestorationModel(nn.Module):
    """An image-to-image network on NCHW tensors in [0, 1].

    Subclasses implement ``restore`` for inputs whose sides are multiples of
    ``scale_multiple``; ``forward`` pads any input to that and crops the result.
    """

    scale_multiple: int = 1
    input_channels: int = 3
    # Peak bytes of activations per input pixel at inference: what ``--memory`` divides by.
    working_bytes_per_pixel: float = 1024.0
    # The default tile (input pixels, halo included), chosen from measured speed against tile size
    # (``python benchmarks/tiles.py``). Larger feature maps outgrow glibc's reusable heap (its 32 MiB mmap
    # threshold): every layer then pays fresh page faults, and a pixel costs 1.3-3x as much.
    tile_pixels: int = 512 * 512
    # The cross-fade between tiles when the user gives none; None: none where the halo covers the receptive field.
    tile_overlap: int | None = None
    # How ``forward`` pads an input to ``scale_multiple``: mosaic networks reflect, which keeps a Bayer phase.
    pad_mode: str = "replicate"

    def restore(self, x: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        raise NotImplementedError

    def footprint(self, x: Footprint) -> Footprint:
        """The input pixels each output pixel depends on, following ``restore`` layer by layer."""
        raise NotImplementedError

    @property
    def receptive_field(self) -> int:
        """Radius in input pixels beyond which the input cannot change an output pixel: the context a tile needs."""
        return self.footprint(Footprint.line()).radius()

    @property
    def tile_halo(self) -> int:
        """The context each tile is run with: the receptive field, unless an architecture says less suffices."""
        return self.receptive_field

    def forward(self, x: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        m = self.scale_multiple
        pad_h, pad_w = -height % m, -width % m
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=self.pad_mode)
        return self.restore(x, level)[..., :height, :width]

    def set_level(self, level: float | None) -> None:
        """Fold level-conditioned layers for one level (inference)."""
        set_level(self, level)
