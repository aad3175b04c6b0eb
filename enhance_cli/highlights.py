"""Blown highlights: where the sensor saturated, and what to show there instead of a colour cast.

A channel that saturates stops recording, so after white balance a blown white sky keeps the unclipped
channels' balance and turns pink or cyan. Saturation is found on the mosaic, before white balance and
per channel, at the level the file states or, lower, where samples pile up (many sensors saturate below
the nominal white level). Then, on the demosaicked camera RGB, one of:

* ``clip``: every channel clipped at the lowest channel's saturation after white balance: blown areas are
  neutral, and nothing above that level survives (LibRaw's default, with the right level).
* ``blend``: blown pixels fade toward a neutral grey at their brightest channel.
* ``reconstruct``: a clipped channel is rebuilt from the unclipped ones with the colour ratios of the
  nearest unclipped pixels (normalised convolution at growing scales), never below its saturation level
  or the dimmest channel recorded beside it; where every channel clipped, neutral. Saturated samples are
  given these values before demosaicking too (:func:`fill_clipped_cells`), so no tint spreads from them.
"""

from __future__ import annotations

import cv2
import numpy as np

from enhance_cli.cfa import BAYER, ColourFilter

HIGHLIGHT_MODES = ("clip", "blend", "reconstruct")
DEFAULT_HIGHLIGHTS = "reconstruct"
CLIP_MARGIN = 0.99  # a sample within 1% of saturation is treated as clipped: its colour is no longer reliable
PILE_UP_SHARE = 0.25  # of the brightest samples, the share that must sit on one value to call it saturation
NEAR_SATURATION = 0.9  # of a channel's saturation level: a flagged pixel this bright is clipped in it
SPREAD = 2  # pixels around clipped ones whose colour demosaicking mixed with clipped samples
RATIO_SIDE = 512  # long side of the image the colour ratios are propagated on


def saturation_levels(mosaic: np.ndarray, stated: np.ndarray | None = None, cfa: ColourFilter = BAYER) -> np.ndarray:
    """R, G, B levels at which the aligned mosaic's channels saturate (1 = the file's white level)."""
    levels = np.ones(3) if stated is None else np.array(stated, np.float64)
    for row, column, channel in cfa.sites():
        pile = _pile_up(mosaic[row :: cfa.period, column :: cfa.period])
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


def clipped_samples(mosaic: np.ndarray, levels: np.ndarray, cfa: ColourFilter = BAYER) -> np.ndarray:
    """Which samples of the aligned mosaic are at saturation (H x W)."""
    return mosaic >= cfa.per_site(CLIP_MARGIN * np.asarray(levels, np.float32), mosaic.shape)


def fill_clipped_cells(
    balanced: np.ndarray, cells: np.ndarray, floors: np.ndarray, white: float, cfa: ColourFilter = BAYER
) -> None:
    """Give the saturated samples of the white-balanced, aligned mosaic a value (in place), before demosaicking.

    After white balance saturated samples keep the channels' unequal gains, a colour the network would
    spread into their neighbours as a tinted rim (pink skies). A cell whose channels all saturated becomes
    ``white``; in a cell with some channels recorded, each saturated one is rebuilt from them as
    :func:`handle_highlights` does, at least its saturation level ``floors`` (3, or per cell where lens
    shading scales it) and at most ``white``, the top of the network's range.
    """
    if not cells.any():
        return
    colour = cfa.cell_means(balanced)
    filled = np.minimum(_rebuild(colour, cells, floors, _widen(cells.any(axis=-1), 1)), np.float32(white))
    for row, column, channel in cfa.sites():
        sites = balanced[row :: cfa.period, column :: cfa.period]
        rows, columns = cfa.cells_of(row, column)
        limit = floors[rows, columns, channel] if floors.ndim == 3 else floors[channel]
        saturated = cells[rows, columns, channel] & (sites >= CLIP_MARGIN * limit)
        np.copyto(sites, filled[rows, columns, channel], where=saturated)


def clipped_pixels(cells: np.ndarray, top: int, left: int, height: int, width: int, cell: int = 2) -> np.ndarray:
    """The cells' flags at pixel resolution, cropped as the mosaic was padded."""
    return np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)[top : top + height, left : left + width]


def handle_highlights(camera: np.ndarray, clipped: np.ndarray, floors: np.ndarray, mode: str) -> np.ndarray:
    """Apply ``mode`` to white-balanced camera RGB (H x W x 3, may be updated in place) whose ``clipped``
    channels (H x W x 3) saturated.

    ``floors``: each channel's saturation after white balance, the least a clipped channel held (3, or
    H x W x 3 where lens shading scales it); ``clip`` cuts every channel at the lowest of them.
    """
    if mode not in HIGHLIGHT_MODES:
        raise ValueError(f"unknown highlight mode {mode!r}; choose one of {', '.join(HIGHLIGHT_MODES)}")
    if mode != "clip" and not clipped.any():  # most photos: nothing to do, and no full-size passes
        return camera
    floors = np.asarray(floors, np.float32)
    ceiling = np.broadcast_to(floors.min(axis=-1, keepdims=True), camera.shape)
    # A pixel at the edge of a clipped cell may hold a darker scene than its cell's clipped sample: it
    # counts as clipped in a channel only where that channel came out near saturation.
    clipped = clipped & (camera >= NEAR_SATURATION * (ceiling if mode == "clip" else floors))
    if mode == "clip":
        # A saturated channel held at least the ceiling: the network's ripples below it are not the scene's.
        return np.where(clipped, ceiling, np.minimum(camera, ceiling))
    if not clipped.any():
        return camera
    # Demosaicking mixes clipped samples into their neighbours: colour ratios come from beyond them.
    near = _widen(clipped.any(axis=-1), SPREAD)
    brightest = camera.max(axis=-1, keepdims=True)
    if mode == "blend":
        weight = _soften(near.astype(np.float32))[..., None]
        return camera + weight * (brightest - camera)
    return _rebuild(camera, clipped, floors, near)


def _rebuild(camera: np.ndarray, clipped: np.ndarray, floors: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Each clipped channel from the recorded ones and the colour ratios beyond ``near``; neutral where none
    was recorded; never below the channel's saturation level. Only clipped pixels are touched (in place)."""
    ratio_map = _colour_ratios(camera, ~near)
    rows, columns = np.nonzero(clipped.any(axis=-1))
    values, flags = camera[rows, columns], clipped[rows, columns]
    floor = floors[rows, columns] if floors.ndim == 3 else np.broadcast_to(floors, values.shape)
    # The ratio map is small and smooth: sample it bilinearly at the clipped pixels only.
    scale_y, scale_x = ratio_map.shape[0] / camera.shape[0], ratio_map.shape[1] / camera.shape[1]
    ratios = _sample(ratio_map, (rows + 0.5) * scale_y - 0.5, (columns + 0.5) * scale_x - 0.5)
    known = (~flags).sum(axis=-1, keepdims=True)
    # Green-equivalent brightness from the channels still recorded.
    green = np.where(flags, 0, values / ratios).sum(axis=-1, keepdims=True) / np.maximum(known, 1)
    # A channel that saturated is taken to be at least as bright as the dimmest one recorded beside it
    # (after white balance): the nearest reliable colour may be another object's, and a clipped green
    # under-estimated turns a bright sky magenta.
    recorded = np.where(flags, np.inf, values).min(axis=-1, keepdims=True)
    recorded = np.where(np.isfinite(recorded), recorded, 0)
    rebuilt = np.where(flags, np.maximum(np.maximum(floor, recorded), green * ratios), values)
    brightest = np.maximum(values.max(axis=-1, keepdims=True), floor.max(axis=-1, keepdims=True))
    camera[rows, columns] = np.where(known > 0, rebuilt, brightest)  # nothing recorded: neutral
    return camera


def _sample(image: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``image`` (h x w x C) at the points (y, x), bilinearly, edges replicated: N x C."""
    y = np.clip(y, 0, image.shape[0] - 1).astype(np.float32)
    x = np.clip(x, 0, image.shape[1] - 1).astype(np.float32)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    y1, x1 = np.minimum(y0 + 1, image.shape[0] - 1), np.minimum(x0 + 1, image.shape[1] - 1)
    fy, fx = (y - y0)[:, None], (x - x0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    return top * (1 - fy) + (image[y1, x0] * (1 - fx) + image[y1, x1] * fx) * fy


def _colour_ratios(camera: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """R/G, 1, B/G of the nearest valid pixels, on a small image (long side about :data:`RATIO_SIDE`):
    normalised convolution at the finest scale that has support."""
    height, width = valid.shape
    factor = max(1, int(np.ceil(max(height, width) / RATIO_SIDE)))
    size = (max(1, width // factor), max(1, height // factor))
    weight = cv2.resize(
        valid[: size[1] * factor, : size[0] * factor].astype(np.float32), size, interpolation=cv2.INTER_AREA
    )
    sums = np.empty((size[1], size[0], 3), np.float32)
    strip = 64  # rows of the small image per pass, so that no full-size temporary is made
    for top in range(0, size[1], strip):
        rows = slice(top * factor, min(top + strip, size[1]) * factor)
        masked = camera[rows, : size[0] * factor] * valid[rows, : size[0] * factor, None]
        sums[top : top + strip] = cv2.resize(masked, (size[0], masked.shape[0] // factor), interpolation=cv2.INTER_AREA)
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
    return np.clip(ratios, 0.05, 20)


def _widen(mask: np.ndarray, pixels: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _soften(weight: np.ndarray) -> np.ndarray:
    """A mask's edges smoothed over a few pixels, so a correction fades in rather than drawing a rim."""
    return cv2.GaussianBlur(weight, (0, 0), SPREAD)
