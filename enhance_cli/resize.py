"""Bicubic resizing, the one kernel both super-resolution training and inference use.

Keys' cubic with a = -0.5 and, when shrinking, a kernel widened by the scale (antialiasing): the
kernel of MATLAB's ``imresize`` and Pillow's BICUBIC, with which the SR benchmarks were made.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from enhance_cli.imageio import Picture


def bicubic_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize N x C x H x W ``images`` to ``size`` (height, width); values are not clipped."""
    return F.interpolate(images, size=size, mode="bicubic", antialias=True, align_corners=False)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The output size of upscaling by ``scale``: each side rounded, at least 1."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def upscale_flops(picture: Picture, scale: float) -> int:
    """FLOPs of :func:`upscale_picture`: two separable passes of 4 taps (a multiply and an add each)."""
    height, width = picture.pixels.shape[:2]
    out_height, out_width = scaled_size(height, width, scale)
    channels = picture.pixels.shape[2] + (picture.alpha is not None)
    return 8 * channels * (height * out_width + out_height * out_width)


def upscale_picture(picture: Picture, scale: float) -> Picture:
    """``picture`` bicubically upscaled by ``scale`` (colour and alpha alike, clipped to [0, 1])."""
    height, width = picture.pixels.shape[:2]
    size = scaled_size(height, width, scale)
    pixels = _resize_array(picture.pixels, size)
    alpha = None if picture.alpha is None else _resize_array(picture.alpha[..., None], size)[..., 0]
    return replace(picture, pixels=pixels, alpha=alpha)


def _resize_array(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
    return bicubic_resize(tensor, size).clamp_(0, 1)[0].permute(1, 2, 0).numpy()
