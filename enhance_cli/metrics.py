"""Image quality metrics: PSNR and SSIM on RGB and on luma (Y of YCbCr, BT.601 as in MATLAB)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_y(rgb: np.ndarray) -> np.ndarray:
    """Luma in [0, 1] scaled like MATLAB's rgb2ycbcr (16-235 range)."""
    return (16 + rgb @ np.array([65.481, 128.553, 24.966])) / 255


def psnr(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    """PSNR in dB of images in [0, 1] (``border`` pixels cropped on every side)."""
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def ssim(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5), averaged over channels."""
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    x = torch.from_numpy(np.atleast_3d(a).transpose(2, 0, 1).astype(np.float64))[:, None] * 255
    y = torch.from_numpy(np.atleast_3d(b).transpose(2, 0, 1).astype(np.float64))[:, None] * 255
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    g = g / g.sum()
    # The Gaussian window is separable: a column pass and a row pass (22 taps instead of 121), over all five
    # maps at once. Still float64, so scores match the 2-D window's to rounding.
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    blurred = F.conv2d(
        F.conv2d(maps, g.view(1, 1, 11, 1).repeat(5, 1, 1, 1), groups=5),
        g.view(1, 1, 1, 11).repeat(5, 1, 1, 1),
        groups=5,
    )
    mx, my, xx, yy, xy = blurred.unbind(dim=1)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vx, vy, cov = xx - mx**2, yy - my**2, xy - mx * my
    score = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(score.mean())


def quality(reference: np.ndarray, image: np.ndarray, border: int = 0) -> dict[str, float]:
    """PSNR and SSIM of an H x W x 3 image against its reference, on RGB and on Y."""
    ref_y, img_y = to_y(reference), to_y(image)
    return {
        "psnr_rgb": psnr(reference, image, border),
        "ssim_rgb": ssim(reference, image, border),
        "psnr_y": psnr(ref_y, img_y, border),
        "ssim_y": ssim(ref_y, img_y, border),
    }
