"""Colour maths shared by developing RAW files and by making RAW training data."""

from __future__ import annotations

import torch

# Linear sRGB (D65) to CIE XYZ, IEC 61966-2-1.
SRGB_TO_XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


def srgb_to_linear(encoded: torch.Tensor) -> torch.Tensor:
    """Invert the sRGB transfer curve."""
    return torch.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer curve, after clipping to [0, 1]."""
    x = linear.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def apply_matrix(image: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``matrix`` (3 x 3, or N x 3 x 3 per image) times every pixel of an N x 3 x H x W image."""
    if matrix.dim() == 2:
        return torch.einsum("ij,njhw->nihw", matrix.to(image), image)
    return torch.einsum("nij,njhw->nihw", matrix.to(image), image)


def camera_to_srgb_from_xyz(xyz_to_camera: torch.Tensor) -> torch.Tensor:
    """LibRaw's construction: camera <- sRGB rows normalised to sum 1 (white maps to white), inverted."""
    srgb_to_camera = xyz_to_camera @ SRGB_TO_XYZ.to(xyz_to_camera)
    srgb_to_camera = srgb_to_camera / srgb_to_camera.sum(dim=-1, keepdim=True)
    return torch.linalg.inv(srgb_to_camera)
