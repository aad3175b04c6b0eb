"""Slimmable convolution: one set of weights that runs at any leading subset of its output channels.

After Yu & Huang, "Universally Slimmable Networks" (ICCV 2019), as DDS-Net uses it: a sub-network of
width ``w`` uses the first ``w`` filters of a layer, and each layer takes however many leading input
channels the layer before it produced. Widths are whole channel groups, so sub-networks stay in the
sizes CPUs run efficiently.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SlimConv2d(nn.Conv2d):
    """A conv run with its first ``width`` filters over the leading input channels it is given."""

    def forward(self, x: torch.Tensor, width: int | None = None) -> torch.Tensor:
        out = self.out_channels if width is None else width
        weight = self.weight[:out, : x.shape[1]]
        bias = self.bias[:out] if self.bias is not None else None
        return F.conv2d(x, weight, bias, self.stride, self.padding)
