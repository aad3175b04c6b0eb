"""Estimating the illuminant of a colour-filter mosaic, for RAW files that carry no as-shot white balance.

The estimator is grey edge (van de Weijer, Gevers and Gijsenij, "Edge-based colour constancy", IEEE TIP
2007): the average reflectance *difference* in a scene is achromatic, so the illuminant's colour is the
Minkowski p-norm, per channel, of the gradient magnitudes of a lightly smoothed image. Edges are less
swayed than pixel means (grey world) by one large coloured surface, such as a wooden table.

p = 1 and sigma = 1, as ffmpeg's greyedge filter defaults to. A larger p lets the few strongest edges decide,
and on glossy or chrome objects those are specular highlights mirroring the surroundings, not the light: on
the Canon D30 test file (a chrome lighter on wood) p = 6 lands further from the camera's own rendering than
the daylight balance does, while p = 1 comes closer than daylight and grey world.

It runs in camera space on a small image: each cell of the mosaic (2x2 Bayer, 3x3 X-Trans) becomes one pixel
of its colours' means (R, (G1 + G2) / 2, B for Bayer), cells
are averaged into blocks, about :data:`TARGET_SIDE` of them on the long side, and clipped or very dark
blocks are left out, as their colour is not the scene's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from enhance_cli.cfa import BAYER, ColourFilter

TARGET_SIDE = 512  # long side of the image the estimate is computed on; plenty for a global statistic
SATURATED = 0.95  # a cell with any sample above this (1 is the white level) is clipped: its colour is wrong
DARK = 0.01  # blocks darker than this fraction of the bright end are mostly noise
MINKOWSKI_P = 1.0  # p = 1, not 6: see above
SIGMA = 1.0  # Gaussian smoothing of the small image, in its pixels, before differentiating


def grey_edge_gains(
    mosaic: np.ndarray, cfa: ColourFilter = BAYER, p: float = MINKOWSKI_P, sigma: float = SIGMA
) -> np.ndarray | None:
    """R, G, B gains (smallest 1) that make the estimated illuminant grey; None if the image gives no estimate.

    ``mosaic`` is in ``cfa``'s phase and whole periods, black 0 and white 1 (see :func:`enhance_cli.cfa.align_mosaic`).
    """
    found = _small_rgb(mosaic, cfa)
    if found is None:
        return None
    small, usable = found
    taps = 2 * int(np.ceil(3 * sigma)) + 1  # truncated at 3 sigma
    smooth = cv2.GaussianBlur(small, (taps, taps), sigma, borderType=cv2.BORDER_REFLECT) if sigma > 0 else small
    rows, columns = np.gradient(smooth, axis=(0, 1))
    magnitude = np.hypot(rows, columns)
    # Keep only gradients whose smoothing window and difference stencil saw no excluded block.
    # Outside the image counts as excluded, so gradients at the border go too.
    reach = taps + 2
    usable = cv2.erode(usable.astype(np.uint8), np.ones((reach, reach), np.uint8), borderValue=0).astype(bool)
    edges = magnitude[usable]  # N x 3: each usable pixel's R, G, B gradient magnitudes
    if len(edges) < 64 or not edges.max() > 0:  # too little left, or a flat image: no estimate
        return None
    edges = edges / edges.max()  # scaled first so that a large p cannot underflow on dim images
    illuminant = np.mean(edges**p, axis=0) ** (1 / p)
    if not np.all(np.isfinite(illuminant)) or illuminant.min() <= 1e-6 * illuminant.max():
        return None
    gains = illuminant[1] / illuminant
    return gains / gains.min()


def _small_rgb(mosaic: np.ndarray, cfa: ColourFilter) -> tuple[np.ndarray, np.ndarray] | None:
    """Block-averaged camera RGB (h x w x 3) and where it is usable (h x w); None if too small or all clipped."""
    cells = cfa.cell_means(mosaic)
    clipped = cfa.cell_any(mosaic > SATURATED).any(axis=-1)
    factor = max(1, int(np.ceil(max(cells.shape[:2]) / TARGET_SIDE)))
    height, width = cells.shape[0] // factor, cells.shape[1] // factor
    if height < 8 or width < 8:
        return None
    cells = cells[: height * factor, : width * factor].reshape(height, factor, width, factor, 3)
    small = cells.mean(axis=(1, 3), dtype=np.float64)
    # One clipped cell taints a block's colour, so the whole block goes.
    clipped = clipped[: height * factor, : width * factor].reshape(height, factor, width, factor).any(axis=(1, 3))
    brightness = small.mean(axis=-1)
    if clipped.all():
        return None
    # Dark relative to the image's own bright end (not the white level), so underexposed shots still count.
    usable = ~clipped & (brightness > DARK * np.percentile(brightness[~clipped], 99))
    return small, usable


# --- choosing a white balance ----------------------------------------------------------------------------

WHITE_BALANCE_MODES = ("as-shot", "auto", "daylight")
KELVIN_RANGE = (1667.0, 25000.0)  # where Kang et al.'s Planckian-locus approximation holds
DAYLIGHT_KELVIN = 5500.0  # for cameras without daylight gains


@dataclass(frozen=True)
class WhiteBalance:
    """What ``--wb`` asked for: a mode, a colour temperature, or R, G, B multipliers."""

    mode: str = "as-shot"  # as-shot | auto | daylight | kelvin | gains
    kelvin: float | None = None
    gains: tuple[float, float, float] | None = None

    def __str__(self) -> str:
        if self.mode == "kelvin":
            return f"{self.kelvin:g} K"
        if self.mode == "gains":
            return ",".join(f"{g:g}" for g in self.gains)
        return self.mode


def parse_white_balance(text: str) -> WhiteBalance:
    """``as-shot``, ``auto``, ``daylight``, a colour temperature such as ``6500`` (or ``6500K``), or R,G,B
    multipliers such as ``2,1,1.5``; ValueError, in words, for anything else."""
    value = text.strip().lower()
    if value in WHITE_BALANCE_MODES:
        return WhiteBalance(value)
    if "," in value:
        parts = value.split(",")
        try:
            gains = tuple(float(part) for part in parts)
        except ValueError:
            gains = ()
        if len(gains) != 3 or not all(np.isfinite(g) and g > 0 for g in gains):
            raise ValueError(f"{text!r}: R,G,B multipliers must be three positive numbers, such as 2,1,1.5")
        return WhiteBalance("gains", gains=gains)
    try:
        kelvin = float(value.removesuffix("k"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a white balance; use as-shot, auto, daylight, a temperature in kelvin such as "
            "5000, or R,G,B multipliers such as 2,1,1.5"
        ) from None
    low, high = KELVIN_RANGE
    if not low <= kelvin <= high:
        raise ValueError(f"{text!r}: a colour temperature must be between {low:g} and {high:g} K")
    return WhiteBalance("kelvin", kelvin=kelvin)


def planckian_xy(kelvin: float) -> tuple[float, float]:
    """CIE 1931 xy of a black body at ``kelvin`` (Kang et al. 2002 cubic approximation, 1667-25000 K)."""
    t = float(kelvin)
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def gains_for_illuminant(xyz_to_camera: np.ndarray, xy: tuple[float, float]) -> np.ndarray:
    """R, G, B gains (smallest 1) that make a light of chromaticity ``xy`` grey in camera RGB."""
    x, y = xy
    camera = np.asarray(xyz_to_camera, np.float64) @ np.array([x / y, 1.0, (1 - x - y) / y])
    camera = np.maximum(camera, 1e-3 * camera.max())  # a response at or below zero: the matrix's limit
    gains = 1 / camera
    return gains / gains.min()
