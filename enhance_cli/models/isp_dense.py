"""isp v3: the dense demosaicking trunk (``dense-demosaic``, from demosaicnet's weights) with a noise path.

The trunk runs on the mosaic's 2x2 cells, told each pixel's noise (see :mod:`enhance_cli.models.dense_demosaic`).
After its first ``split`` layers, a small U-Net over the trunk's features, at 1/4 and 1/8 of the mosaic's
resolution, adds a correction to them: where the trunk's 3x3 layers see 30-odd pixels, the path sees far
enough to tell noise from texture. With ``hyper`` its blocks' spatial filters are HyperConvolutions (an MLP
predicts a depthwise kernel per cell of a pooled guide; decoder blocks are guided by the encoder's skip
features), as in isp v2; without, static depthwise filters widened by ``expansion`` to the same FLOPs: the
ablation twin. The path's last conv starts at zero, so the network starts as the trunk it was given.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.models.dense_demosaic import DenseDemosaic
from enhance_cli.models.isp_unet import HC_TILE_HALO, Block, _footprint, _run
from enhance_cli.nn import Footprint
from enhance_cli.registry import register_architecture


@register_architecture("isp-dense")
class IspDense(DenseDemosaic):
    def __init__(
        self,
        width: int = 48,
        depth: int = 15,
        split: int = 5,
        channels: tuple[int, int] = (64, 128),
        blocks: tuple[int, int] = (2, 2),
        hyper: bool = True,
        cells: tuple[int, int] = (8, 4),
        mlp_width: int = 256,
        expansion: float = 2.0,
        encoding: str = "srgb",
    ) -> None:
        super().__init__(width=width, depth=depth, encoding=encoding, noise_input=True)
        if not 1 <= split < depth:
            raise ValueError(f"split must be between 1 and depth - 1 ({depth - 1}), not {split}")
        c1, c2 = channels
        self.split = split

        def stage(count: int, level: int) -> nn.ModuleList:
            return nn.ModuleList(
                Block(channels[level], expansion, hyper, cells[level], mlp_width) for _ in range(count)
            )

        self.down1 = nn.Conv2d(width, c1, 2, stride=2)
        self.encoder = stage(blocks[0], 0)
        self.down2 = nn.Conv2d(c1, c2, 2, stride=2)
        self.middle = stage(blocks[1], 1)
        self.up2 = nn.Conv2d(c2, 4 * c1, 1)
        self.decoder = stage(1, 0)
        self.up1 = nn.Conv2d(c1, 4 * width, 1)
        nn.init.zeros_(self.up1.weight)
        nn.init.zeros_(self.up1.bias)
        # Mosaic pixels per coarsest cell: tiles aligned to this see the same cells as the whole image.
        self.scale_multiple = max(16, 4 * cells[0], 8 * cells[1]) if hyper else 16
        self.working_bytes_per_pixel = 4.0 * (2 * width) * 2 + 4.0 * width * 2
        self.tile_pixels = 1024 * 1024

    def deeper_layers(self, features: torch.Tensor) -> torch.Tensor:
        """The trunk after its first conv, with the noise path's correction added after ``split`` layers."""
        features = self.trunk[1 : 2 * self.split](features)
        # The trunk's cells are one column wider than the mosaic's half (its reflected columns); the path runs
        # on the cells of the mosaic's own grid and leaves the extra column alone.
        skip = self.down1(features[..., :-1])
        skip = _run(self.encoder, skip)
        deep = _run(self.middle, self.down2(skip))
        up = _run(self.decoder, skip + F.pixel_shuffle(self.up2(deep), 2), guide=skip)
        correction = F.pad(F.pixel_shuffle(self.up1(up), 2), (0, 1))
        return self.trunk[2 * self.split :](features + correction)

    def footprint(self, x: Footprint) -> Footprint:
        cells = x.conv(1).pool(2)
        for _ in range(self.split):
            cells = cells.conv(1)
        skip = _footprint(self.encoder, cells.pool(2))
        deep = _footprint(self.middle, skip.pool(2))
        up = _footprint(self.decoder, skip.join(deep.unpool(2)), guide=skip)
        cells = cells.join(up.unpool(2))
        for _ in range(self.depth - self.split):
            cells = cells.conv(1)
        return x.join(cells.unpool(2)).conv(1)

    @property
    def tile_halo(self) -> int:
        """At most ``HC_TILE_HALO``, as for isp v2: beyond it the input reaches an output only through cell
        means of cell means."""
        return min(self.receptive_field, HC_TILE_HALO)
