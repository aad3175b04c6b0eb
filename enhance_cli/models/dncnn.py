"""DnCNN (Zhang et al. 2017): the speed reference for our models, not a shipped model."""

from __future__ import annotations

import torch
from torch import nn

from enhance_cli.registry import register_architecture


@register_architecture("dncnn")
class DnCNN(nn.Module):
    """``depth`` 3x3 convs of ``channels`` features with batch norm; predicts the noise."""

    def __init__(self, in_channels: int = 3, depth: int = 17, channels: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(channels, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.body(x)


def fused_dncnn(depth: int = 17, channels: int = 64) -> DnCNN:
    """DnCNN with batch norm folded into the convs: the fastest form of the reference (random weights)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = DnCNN(depth=depth, channels=channels).eval()
    fused: list[nn.Module] = []
    for layer in model.body:
        if isinstance(layer, nn.BatchNorm2d):
            fused[-1] = fuse_conv_bn_eval(fused[-1], layer)
        else:
            fused.append(layer)
    model.body = nn.Sequential(*fused)
    return model
