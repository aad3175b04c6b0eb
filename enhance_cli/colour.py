"""Colour maths shared by developing RAW files and by making RAW training data."""

from __future__ import annotations

import numpy as np
import torch

# Linear sRGB (D65) to CIE XYZ, as LibRaw's xyz_rgb (IEC 61966-2-1 to five decimals), so that matrices
# built here match the ones LibRaw develops with.
SRGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=torch.float64,
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


def camera_to_srgb_from_xyz(xyz_to_camera: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """LibRaw's cam_xyz_coeff(): camera <- XYZ (colours x 3) to the sRGB <- camera matrix (3 x colours).

    Each row of camera <- sRGB is normalised to sum 1, so sRGB white gives equal camera values and white
    balance stays with the separate gains; LibRaw zeroes a row whose sum is (near) zero instead. Returns
    the input's kind: a float32 tensor for a tensor, a float64 array otherwise.
    """
    as_tensor = isinstance(xyz_to_camera, torch.Tensor)
    camera_from_srgb = torch.as_tensor(np.asarray(xyz_to_camera, dtype=np.float64)) @ SRGB_TO_XYZ
    sums = camera_from_srgb.sum(dim=1, keepdim=True)
    usable = sums > 1e-5
    camera_from_srgb = torch.where(usable, camera_from_srgb / torch.where(usable, sums, 1.0), 0.0)
    srgb_from_camera = torch.linalg.pinv(camera_from_srgb)
    return srgb_from_camera.float() if as_tensor else srgb_from_camera.numpy()
