"""Blind JPEG quality estimator for images no longer in a JPEG file (a JPEG re-saved as PNG).

JPEG rounds each 8x8 block's DCT coefficients to multiples of its quantisation steps, and a decoded
image keeps that lattice almost exactly. So the network's first stage is fixed: the block DCT of the
luma (as the encoder computed it), and for every IJG quality 1-100 how well each of the 64 coefficients
sits on that quality's steps (the block mean of cos(2 pi c / step), 1 on the lattice, ~0 off it).
A small learned 1-D CNN reads this periodicity spectrum along the quality axis and scores each
quality; the estimate is the best-scoring one. Crops must keep the image's 8x8 grid phase.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from enhance_cli.jpeg_quality import standard_luma_tables
from enhance_cli.models.level_estimator import BlindEstimator
from enhance_cli.registry import register_architecture

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # JPEG's RGB -> Y


def block_dct_basis() -> torch.Tensor:
    """The 64 orthonormal 8x8 DCT-II basis images as conv filters (64, 1, 8, 8), row-major frequency order."""
    n = np.arange(8)
    cosines = np.sqrt(2 / 8) * np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16)
    cosines[0] /= np.sqrt(2)
    return torch.tensor(np.einsum("ui,vj->uvij", cosines, cosines).reshape(64, 1, 8, 8), dtype=torch.float32)


@register_architecture("jpeg-quality-estimator")
class JpegQualityEstimator(BlindEstimator):
    crop_multiple = 8

    def __init__(self, channels: int = 32, kernel: int = 5) -> None:
        super().__init__()
        self.register_buffer("basis", block_dct_basis(), persistent=False)
        steps = torch.tensor(standard_luma_tables(), dtype=torch.float32)  # (100 qualities, 64)
        self.register_buffer("angular", 2 * math.pi / steps, persistent=False)
        pad = kernel // 2
        self.head = nn.Sequential(
            nn.Conv1d(64, channels, kernel, padding=pad),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel, padding=pad),
            nn.ReLU(),
            nn.Conv1d(channels, 1, 1),
        )

    def periodicity(self, x: torch.Tensor, every: int = 1) -> torch.Tensor:
        """(N, 64 frequencies, 100 qualities): block mean of cos(2 pi c / step) for NCHW RGB in [0, 1].

        ``every``: only every n-th quality (a cheaper look, for finding the grid).
        """
        # float32 throughout: the lattice is one step of 255, which bfloat16 would blur.
        with torch.autocast(x.device.type, enabled=False):
            weights = x.new_tensor(LUMA_WEIGHTS, dtype=torch.float32).view(1, 3, 1, 1)
            luma = (x.float() * weights).sum(1, keepdim=True) * 255 - 128
            coefficients = F.conv2d(luma, self.basis, stride=8).flatten(2)  # (N, 64, blocks)
            phase = coefficients[:, None] * self.angular[::every, :, None]  # (N, 100, 64, blocks)
            return torch.cos(phase).mean(-1).transpose(1, 2)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 100): one logit per quality 1-100."""
        return self.head(self.periodicity(x)).squeeze(1).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised quality (quality / 100) per image, shape (N,): the most likely quality."""
        return (self.scores(x).argmax(-1) + 1).float() / 100

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over the 100 qualities: a sharp peak, not a compromise between neighbours."""
        classes = (target * 100).round().long().clamp(1, 100) - 1
        return F.cross_entropy(self.scores(x), classes)

    @torch.inference_mode()
    def grid_phase(self, image: np.ndarray, crop: int = 96, crops: int = 4) -> tuple[int, int]:
        """(rows, columns) to drop so that the 8x8 block grid starts at the corner: of the 64 shifts, the
        one whose blocks sit best on a quantisation lattice (an image cropped after decoding moves it)."""
        height, width = image.shape[:2]
        crop = min(crop, (height - 7) // 8 * 8, (width - 7) // 8 * 8)
        if crop < 8:
            return 0, 0
        per_side = max(1, int(np.sqrt(crops)))
        tops = np.linspace(0, height - crop - 7, per_side).round().astype(int)
        lefts = np.linspace(0, width - crop - 7, per_side).round().astype(int)
        fit = 0.0
        for top in tops:
            for left in lefts:
                starts = [
                    (top + (rows - top) % 8, left + (columns - left) % 8) for rows in range(8) for columns in range(8)
                ]
                batch = np.stack([image[y : y + crop, x : x + crop] for y, x in starts])
                batch = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
                fit = fit + self.periodicity(batch, every=3).mean(1)  # (64 shifts, qualities)
        # Against the shifts' average: small coefficients fit coarse lattices at any shift.
        rows, columns = divmod(int((fit - fit.mean(0)).amax(1).argmax()), 8)
        return rows, columns

    def examined_pixels(self, height: int, width: int, crop: int = 96, crops: int = 16) -> int:
        """The crops' pixels, plus the grid search's: 64 shifts of 4 crops (a third of the qualities each)."""
        search = min(96, (height - 7) // 8 * 8, (width - 7) // 8 * 8)
        searched = 64 * 4 * search * search // 3 if search >= 8 else 0
        return super().examined_pixels(height, width, crop, crops) + searched

    def estimate(self, image: np.ndarray, crop: int = 96, crops: int = 16, align: int = 1) -> float:
        """As ``BlindEstimator.estimate``, on the image realigned to its own block grid first."""
        rows, columns = self.grid_phase(image)
        return super().estimate(image[rows:, columns:], crop, crops, math.lcm(align, 8))
