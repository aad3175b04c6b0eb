"""Blown highlights: where the sensor saturated, and what to show there instead of a colour cast.

A channel that saturates stops recording, so after white balance a blown white sky keeps the unclipped
channels' balance and turns pink or cyan. Saturation is found on the mosaic, before white balance and
per channel, at the level the file states or, lower, where samples pile up (many sensors saturate below
the nominal white level). Then, on the demosaicked camera RGB, one of:

* ``clip``: every channel clipped at the lowest channel's saturation after white balance: blown areas are
  neutral, and nothing above that level survives (LibRaw's default, with the right level).
* ``blend``: blown pixels fade toward a neutral grey at their brightest channel.
* ``reconstruct``: a clipped channel is rebuilt from the unclipped ones with the colour ratios of the
  nearest unclipped pixels (normalised convolution at growing scales), never below what was recorded,
  then pulled toward neutral as more channels clip (two of three: halfway; all three: neutral).
"""

from __future__ import annotations

import cv2
import numpy as np

HIGHLIGHT_MODES = ("clip", "blend", "reconstruct")
DEFAULT_HIGHLIGHTS = "reconstruct"
CLIP_MARGIN = 0.99  # a sample within 1% of saturation is treated as clipped: its colour is no longer reliable
PILE_UP_SHARE = 0.25  # of the brightest samples, the share that must sit on one value to call it saturation
SPREAD = 2  # pixels around clipped ones whose colour demosaicking mixed with clipped samples
RIM = 4  # pixels beside a blown area where the network's interpolation rings in colour
RATIO_SIDE = 512  # long side of the image the colour ratios are propagated on


def saturation_levels(rggb: np.ndarray, stated: np.ndarray | None = None) -> np.ndarray:
    """R, G, B levels at which the RGGB mosaic's channels saturate (1 = the file's white level)."""
    levels = np.ones(3) if stated is None else np.array(stated, np.float64)
    sites = {0: [(0, 0)], 1: [(0, 1), (1, 0)], 2: [(1, 1)]}
    for channel, phases in sites.items():
        for row, column in phases:
            pile = _pile_up(rggb[row::2, column::2])
            if pile is not None:
                levels[channel] = min(levels[channel], pile)
    return levels


def _pile_up(samples: np.ndarray) -> float | None:
    """The value where a channel's brightest samples pile up (a hard clip), or None if they do not."""
    flat = samples.ravel()
    count = max(64, flat.size // 10_000)
    if flat.size < 4 * count:
        return None
    top = np.partition(flat, flat.size - count)[flat.size - count :]
    values, counts = np.unique(top, return_counts=True)
    best = int(np.argmax(counts))
    if counts[best] < max(16, PILE_UP_SHARE * count) or values[best] < 0.25:
        return None
    return float(values[best])


def clipped_cells(rggb: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Per 2x2 Bayer cell (H/2 x W/2 x 3): whether its R, either G, or B sample is at saturation."""
    limits = CLIP_MARGIN * np.asarray(levels, np.float32)
    red = rggb[0::2, 0::2] >= limits[0]
    green = (rggb[0::2, 1::2] >= limits[1]) | (rggb[1::2, 0::2] >= limits[1])
    blue = rggb[1::2, 1::2] >= limits[2]
    return np.stack([red, green, blue], axis=-1)


def whiten_blown_cells(balanced: np.ndarray, cells: np.ndarray, white: float | np.ndarray) -> None:
    """Set every sample of a cell whose channels all saturated to ``white`` (in place), before demosaicking.

    After white balance a blown cell keeps the channels' unequal gains, a colour the network would blend
    into the neighbouring pixels as a tinted rim; white is what was there. ``white``: a number, or the
    mosaic's per-sample value where lens shading scales it.
    """
    blown = np.repeat(np.repeat(cells.all(axis=-1), 2, axis=0), 2, axis=1)
    if blown.any():
        balanced[blown] = white[blown] if isinstance(white, np.ndarray) else white


def clipped_pixels(cells: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The cells' flags at pixel resolution, cropped as the mosaic was padded."""
    return np.repeat(np.repeat(cells, 2, axis=0), 2, axis=1)[top : top + height, left : left + width]


def handle_highlights(camera: np.ndarray, clipped: np.ndarray, ceiling: float | np.ndarray, mode: str) -> np.ndarray:
    """Apply ``mode`` to white-balanced camera RGB (H x W x 3) whose ``clipped`` channels (H x W x 3) saturated.

    ``ceiling``: the lowest channel's saturation after white balance (a number, or H x W x 1 where lens
    shading scaled it), where ``clip`` cuts.
    """
    if mode not in HIGHLIGHT_MODES:
        raise ValueError(f"unknown highlight mode {mode!r}; choose one of {', '.join(HIGHLIGHT_MODES)}")
    # A pixel at the edge of a clipped cell may hold a darker scene than its cell's clipped sample: only
    # pixels whose whole neighbourhood saturated in a channel count as clipped in it.
    clipped = cv2.erode(clipped.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0
    if mode == "clip":
        # A saturated channel held at least the ceiling: the network's ripples below it are not the scene's.
        ceiling = np.broadcast_to(np.asarray(ceiling, np.float32), camera.shape)
        return np.where(clipped, ceiling, np.minimum(camera, ceiling))
    if not clipped.any():
        return camera
    # Demosaicking mixes clipped samples into their neighbours: colour ratios come from beyond them.
    near = _widen(clipped.any(axis=-1), SPREAD + RIM)
    brightest = camera.max(axis=-1, keepdims=True)
    if mode == "blend":
        weight = _soften(near.astype(np.float32))[..., None]
        return camera + weight * (brightest - camera)
    return _reconstruct(camera, clipped, ~near, brightest)


def _reconstruct(camera: np.ndarray, clipped: np.ndarray, reliable: np.ndarray, brightest: np.ndarray) -> np.ndarray:
    ratios = _colour_ratios(camera, reliable)  # H x W x 3: each channel / green nearby
    unclipped = ~clipped
    known = unclipped.sum(axis=-1, keepdims=True)
    # Green-equivalent brightness from the channels still recorded.
    green = np.where(unclipped, camera / ratios, 0).sum(axis=-1, keepdims=True) / np.maximum(known, 1)
    rebuilt = np.where(clipped, np.maximum(camera, green * ratios), camera)
    rebuilt = np.where(known > 0, rebuilt, brightest)  # nothing recorded: neutral
    # Next to a blown area the network's interpolation rings in colour: those pixels keep their brightness
    # and take the colour of the reliable pixels around them.
    blown = clipped.all(axis=-1)
    rim = _widen(blown, RIM) & ~blown
    if rim.any():
        weights = np.array([0.25, 0.5, 0.25], np.float32)  # a camera-space brightness
        brightness = rebuilt[rim] @ weights
        rebuilt[rim] = ratios[rim] * (brightness / (ratios[rim] @ weights))[:, None]
    return rebuilt.astype(np.float32)


def _colour_ratios(camera: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """R/G, 1, B/G of the nearest valid pixels, everywhere: normalised convolution on a small image, the finest
    scale that has support, then upsampled."""
    height, width = valid.shape
    factor = max(1, int(np.ceil(max(height, width) / RATIO_SIDE)))
    size = (max(1, width // factor), max(1, height // factor))
    weight = cv2.resize(valid.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    sums = cv2.resize(camera * valid[..., None], size, interpolation=cv2.INTER_AREA)
    ratios = np.ones((size[1], size[0], 3), np.float32)
    found = np.zeros((size[1], size[0]), bool)
    sigma = 1.0
    while not found.all() and sigma < 4 * max(size):
        blurred_weight = cv2.GaussianBlur(weight, (0, 0), sigma)
        blurred = cv2.GaussianBlur(sums, (0, 0), sigma)
        green = blurred[..., 1]
        usable = ~found & (blurred_weight > 0.05) & (green > 1e-4 * max(float(green.max()), 1e-12))
        for channel in (0, 2):
            ratio = blurred[..., channel] / np.maximum(green, 1e-12)
            ratios[..., channel] = np.where(usable, ratio, ratios[..., channel])
        found |= usable
        sigma *= 2
    ratios = np.clip(ratios, 0.05, 20)
    return cv2.resize(ratios, (width, height), interpolation=cv2.INTER_LINEAR)


def _widen(mask: np.ndarray, pixels: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _soften(weight: np.ndarray) -> np.ndarray:
    """A mask's edges smoothed over a few pixels, so a correction fades in rather than drawing a rim."""
    return cv2.GaussianBlur(weight, (0, 0), SPREAD)
