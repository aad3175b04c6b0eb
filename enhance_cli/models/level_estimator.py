"""Blind level estimators: networks that read the degradation level off an image.

``BlindEstimator.estimate`` (shared by every estimator) scores several crops spread over the
image and takes their median, so one busy or flat region cannot swing the answer.
``LevelEstimator`` (sigma): five convs and three fully connected layers (the HyperRes paper's
shape); global average pooling lets it take any crop size.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from enhance_cli.registry import register_architecture


class BlindEstimator(nn.Module):
    """A network that maps an image crop to its normalised degradation level, shape (N,)."""

    crop_multiple: int = 1  # crop sides are multiples of this

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Training loss against the normalised levels ``target`` (N,): L1."""
        return (self(x).float() - target).abs().mean()

    def examined_pixels(self, height: int, width: int, crop: int = 96, crops: int = 16) -> int:
        """How many pixels :meth:`estimate` feeds the network for an image of this size (its cost)."""
        crop = max(self.crop_multiple, min(crop, height, width) // self.crop_multiple * self.crop_multiple)
        return max(1, int(np.sqrt(crops))) ** 2 * crop * crop

    @torch.inference_mode()
    def estimate(self, image: np.ndarray, crop: int = 96, crops: int = 16, align: int = 1) -> float:
        """Median normalised level over up to ``crops`` crops on a regular grid of an H x W x 3 image.

        ``align``: crops start on multiples of it (the phase of a JPEG's block grid).
        """
        short = self.crop_multiple - np.minimum(image.shape[:2], self.crop_multiple)
        if short.any():  # a side under one crop unit (a JPEG block): repeat its edge to make the smallest crop
            image = np.pad(image, ((0, short[0]), (0, short[1]), (0, 0)), mode="edge")
        height, width = image.shape[:2]
        crop = max(self.crop_multiple, min(crop, height, width) // self.crop_multiple * self.crop_multiple)
        per_side = max(1, int(np.sqrt(crops)))
        tops = np.linspace(0, height - crop, per_side).round().astype(int) // align * align
        lefts = np.linspace(0, width - crop, per_side).round().astype(int) // align * align
        batch = np.stack([image[t : t + crop, s : s + crop] for t in tops for s in lefts])
        scores = self(torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))))
        return float(scores.median())


@register_architecture("level-estimator")
class LevelEstimator(BlindEstimator):
    def __init__(self, in_channels: int = 3, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(2 * c, 2 * c), nn.ReLU(), nn.Linear(2 * c, c), nn.ReLU(), nn.Linear(c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised level per image, shape (N,)."""
        return self.head(self.features(x)).squeeze(1)
