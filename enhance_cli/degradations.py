"""Synthetic degradations: the inputs a user's files would hold, made from clean images.

All functions take and return float tensors NCHW in [0, 1] and round to 8 bits, as a
saved file would be.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from enhance_cli.resize import bicubic_resize, scaled_size


def quantise_8bit(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x.clamp(0, 1) * 255) / 255


def add_gaussian_noise(clean: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive white Gaussian noise of ``sigma`` on the 0-255 scale, clipped and quantised."""
    noise = torch.randn(clean.shape, generator=generator, device=clean.device) * (sigma / 255)
    return quantise_8bit(clean + noise)


def jpeg_compress(clean: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode each image as a JPEG (4:2:0, Pillow/libjpeg) at ``quality`` and decode it."""
    out = []
    for image in clean:
        array = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        mode = "L" if array.shape[2] == 1 else "RGB"
        buffer = io.BytesIO()
        Image.fromarray(array.squeeze(2) if mode == "L" else array, mode).save(
            buffer, "JPEG", quality=int(quality), subsampling="4:2:0"
        )
        decoded = np.asarray(Image.open(buffer)).astype(np.float32) / 255
        out.append(torch.from_numpy(decoded.reshape(array.shape)).permute(2, 0, 1))
    return torch.stack(out)


def bicubic_downscale(clean: torch.Tensor, scale: float) -> torch.Tensor:
    """Bicubic (antialiased) downscaling by ``scale``, quantised: the low-resolution image a user has."""
    return quantise_8bit(bicubic_resize(clean, scaled_size(*clean.shape[-2:], 1 / scale)))


def bicubic_round_trip(clean: torch.Tensor, scale: float) -> torch.Tensor:
    """Downscale by ``scale`` and upscale back to the original size: the SR network's input."""
    return bicubic_resize(bicubic_downscale(clean, scale), tuple(clean.shape[-2:])).clamp(0, 1)
