"""DDS-Net: the slimmable U-Net plus a dynamic gate that picks, per image or tile, how wide a sub-network runs.

The super-network's weights hold a ladder of sub-networks (``rung_widths``, found by progressive slimming,
cheapest first). The gate looks at the head's leading ``min_width`` channels, which every sub-network computes
identically (the head reads only the image), runs two small stride-2 convs, pools them, and scores the rungs:

- attention head: global pool (of the log activations) -> 1x1 -> ReLU -> 1x1 -> 1 + tanh, reweighting the pooled
  channels;
- prediction head: 1x1 -> ReLU -> 1x1, one logit per rung.

The softmax over rungs is each tile's probability that a rung is the cheapest adequate one (what the gate was
trained to predict). ``allocate_rungs`` turns an image's tiles' scores and a budget into one rung per tile. The
gate costs about 3 kFLOPs per pixel, counted in what each image spends.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.models.dds_unet import DDSUNet, Widths
from enhance_cli.registry import register_architecture

GATE_REDUCTION = 4  # the attention head's bottleneck: channels / 4
# What a tile needs: the cheapest rung at least this likely to be adequate. On validation photos 0.5 spent 52%
# for 33.07 dB and kept a clean flat image on the cheapest rung; 0.7-0.95 spent 56% for 33.11-33.14 and did not.
NEED_ODDS = 0.5


class DynamicGate(nn.Module):
    """Scores each rung for a batch of noisy images (N x ``channels`` head features -> N x ``rungs`` logits)."""

    def __init__(self, channels: int, rungs: int, width: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width // 2, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width // 2, width, 3, stride=2, padding=1)
        self.squeeze = nn.Conv2d(width, width // GATE_REDUCTION, 1)
        self.excite = nn.Conv2d(width // GATE_REDUCTION, width, 1)
        self.hidden = nn.Conv2d(width, width, 1)
        self.predict = nn.Conv2d(width, rungs, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # The log of the pooled activations: noise levels an order of magnitude apart are then as far apart
        # as any other two that differ by that factor (linear, the gate barely told them apart: CE stayed ln 5).
        pooled = torch.log(F.adaptive_avg_pool2d(F.relu(self.conv2(F.relu(self.conv1(features)))), 1) + 1e-3)
        attention = 1 + torch.tanh(self.excite(F.relu(self.squeeze(pooled))))
        return self.predict(F.relu(self.hidden(pooled * attention))).flatten(1)

    def flops_per_pixel(self, channels: int) -> float:
        """Per input pixel: the two strided convs (the pooled 1x1 layers cost nothing per pixel)."""
        first, second = self.conv1.out_channels, self.conv2.out_channels
        return 2 * (channels * first * 9 / 4 + first * second * 9 / 16)


@register_architecture("dds-net")
class DDSNet(DDSUNet):
    """The slimmable U-Net with its rung ladder and gate; ``forward`` runs one sub-network (the largest by default)."""

    ladder_buffers = ("rung_widths", "default_budget")  # what stage 2 fills in
    tile_overlap = 16  # neighbouring tiles may run different sub-networks: their outputs cross-fade

    def __init__(self, rungs: int = 5, gate_width: int = 32, **backbone) -> None:
        super().__init__(**backbone)
        units = len(self.largest.as_list())
        self.gate = DynamicGate(self.min_width, rungs, gate_width)
        # Filled by progressive slimming (training) and read from the weights: widths per rung, cheapest first.
        self.register_buffer("rung_widths", torch.tensor([self.largest.as_list()] * rungs, dtype=torch.int64))
        # The budget `enhance denoise` runs at by default: the ladder's knee, as a fraction of the full network.
        self.register_buffer("default_budget", torch.tensor(1.0))
        assert self.rung_widths.shape == (rungs, units)

    @property
    def rungs(self) -> list[Widths]:
        return [Widths.from_list(row) for row in self.rung_widths.tolist()]

    def rung_flops(self) -> np.ndarray:
        """FLOPs per pixel of each rung's sub-network, gate excluded."""
        return np.array([self.flops_per_pixel(widths) for widths in self.rungs])

    def relative_rung_costs(self) -> np.ndarray:
        """Each rung's FLOPs as a fraction of the full network's: what a budget is measured in."""
        return self.rung_flops() / self.flops_per_pixel()

    @property
    def gate_flops_per_pixel(self) -> float:
        return 2 * 3 * self.min_width * 9 + self.gate.flops_per_pixel(self.min_width)

    def gate_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.head(x, self.min_width))


def allocate_rungs(
    logits: torch.Tensor,
    relative_costs: np.ndarray,
    pixels: np.ndarray,
    budget: float,
    gate: float,
    spend: bool = True,
    credit: float = 0.0,
) -> np.ndarray:
    """One rung per tile (``logits``: tiles x rungs; ``pixels``: what each tile feeds the network) such that the
    tiles' pixel-weighted mean cost, plus ``gate``'s, stays within ``budget`` (fractions of the full network),
    plus ``credit``: what earlier images of the run saved, in full-network pixels.

    The gate's softmax is each tile's probability that a rung is the cheapest adequate one, so the chance that
    rung r is adequate is the sum up to r. From a starting rung per tile (below), buy the widening that adds
    most of that chance per FLOP while the budget lasts: up to the widest rung where ``spend``, else up to the cheapest
    rung at least ``NEED_ODDS`` likely to be adequate (what the tile needs; all of it, where that fits).

    Without ``spend`` every tile starts on the cheapest rung. Under a budget (``spend``) the widening starts from
    the rung the budget affords everywhere, or from what the tile needs where that is cheaper: a tile the gate is
    unsure of is not left on the cheapest rung to buy the widest for another, since quality is concave in FLOPs
    (on validation photos, ``--budget 0.5`` scored 33.33 dB this way against 33.19 from the cheapest rung, at
    the same 49.5% of the FLOPs)."""
    chance = torch.softmax(logits.float(), dim=1).cumsum(dim=1).numpy()
    adequate = chance * pixels[:, None]
    costs = relative_costs[None, :] * pixels[:, None]
    allowance = (budget - gate) * pixels.sum() + credit
    tiles = np.arange(len(pixels))
    needed = (chance < NEED_ODDS - 1e-6).sum(axis=1)
    widest = np.full(len(pixels), costs.shape[1] - 1) if spend else needed
    rungs = np.zeros(len(pixels), dtype=int)
    if not spend and costs[tiles, widest].sum() <= allowance:
        return widest
    if spend:  # from the rung the budget affords everywhere, or lower where the gate judges that enough
        affordable = np.flatnonzero(relative_costs * pixels.sum() <= allowance)
        rungs = np.minimum(needed, affordable[-1] if len(affordable) else 0)
    while True:  # widen, up to each tile's limit: the most chance gained per FLOP, among what still fits
        extra = costs - costs[tiles, rungs, None]
        gained = (adequate - adequate[tiles, rungs, None]) / np.maximum(extra, 1e-12)
        beyond = np.arange(costs.shape[1])[None, :] > widest[:, None]
        gained[(extra <= 0) | (extra > allowance - costs[tiles, rungs].sum()) | beyond] = -np.inf
        if not np.isfinite(gained).any():
            return rungs
        tile, rung = np.unravel_index(np.argmax(gained), gained.shape)
        rungs[tile] = rung
