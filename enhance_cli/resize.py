"""Bicubic resizing, the one kernel both super-resolution training and inference use.

Keys' cubic with a = -0.5 and, when shrinking, a kernel widened by the scale (antialiasing): the
kernel of MATLAB's ``imresize`` and Pillow's BICUBIC, with which the SR benchmarks were made.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bicubic_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize N x C x H x W ``images`` to ``size`` (height, width); values are not clipped."""
    return F.interpolate(images, size=size, mode="bicubic", antialias=True, align_corners=False)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The output size of upscaling by ``scale``: each side rounded, at least 1."""
    return max(1, round(height * scale)), max(1, round(width * scale))
