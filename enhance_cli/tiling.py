"""Tiled full-resolution inference with blended overlaps.

Tiles overlap by ``overlap`` pixels. Inside an overlap each tile's weight is 0 over its
outer quarter (pixels that lacked context), then ramps linearly to 1, and the two
neighbours' weights sum to exactly 1: the blend is a partition of unity, so the result
barely depends on where the tile borders fall, and memory holds one tile's features.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

TileFunction = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class TilingResult:
    image: np.ndarray
    tiles: int
    processed_pixels: int  # pixels fed to the network, overlaps included


def tile_starts(length: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length``, neighbours overlapping by ``overlap``.

    With ``align`` > 1 (``length`` and ``tile`` multiples of it) every start is a multiple of ``align``.
    """
    if tile >= length:
        return [0]
    if align > 1:  # plan in whole blocks of ``align``
        return [s * align for s in tile_starts(length // align, tile // align, -(-overlap // align))]
    stride = tile - overlap
    count = math.ceil((length - tile) / stride) + 1
    # Spread the tiles evenly so every overlap is at least ``overlap`` wide.
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def edge_weights(size: int, overlap_before: int, overlap_after: int) -> np.ndarray:
    """1-D blend weights of one tile, given how far it overlaps each neighbour."""
    weights = np.ones(size, dtype=np.float32)
    for overlap, flip in ((overlap_before, False), (overlap_after, True)):
        if overlap <= 0:
            continue
        margin = overlap // 4
        ramp_length = max(1, overlap - 2 * margin)
        distance = np.arange(overlap, dtype=np.float32)
        ramp = np.clip((distance - margin + 0.5) / ramp_length, 0, 1)
        if flip:
            weights[size - overlap :] *= ramp[::-1]
        else:
            weights[:overlap] *= ramp
    return weights


def _axis_plan(length: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int, np.ndarray]]:
    starts = tile_starts(length, tile, overlap, align)
    size = min(tile, length)
    plan = []
    for i, start in enumerate(starts):
        before = starts[i - 1] + size - start if i > 0 else 0
        after = start + size - starts[i + 1] if i + 1 < len(starts) else 0
        plan.append((start, size, edge_weights(size, before, after)))
    return plan


def run_tiled(
    function: TileFunction,
    image: np.ndarray,
    tile: int,
    overlap: int,
    progress: Callable[[int, int], None] | None = None,
    align: int = 1,
) -> TilingResult:
    """Apply ``function`` (NCHW -> NCHW, same height and width) to an H x W x C image tile by tile.

    ``tile`` = 0 processes the whole image at once. ``align`` > 1: the image is reflect-padded to a
    multiple of ``align`` and tiles start on multiples of it (a Bayer phase, a network's cell grid).
    """
    if align > 1:
        height, width, _ = image.shape
        padded = np.pad(image, ((0, -height % align), (0, -width % align), (0, 0)), mode="reflect")
        tile = tile // align * align if tile > 0 else 0
        if 0 < tile < align:
            tile = align
        result = _run_aligned(function, padded, tile, overlap, progress, align)
        result.image = result.image[:height, :width]
        return result
    return _run_aligned(function, image, tile, overlap, progress, 1)


def _run_aligned(
    function: TileFunction,
    image: np.ndarray,
    tile: int,
    overlap: int,
    progress: Callable[[int, int], None] | None,
    align: int,
) -> TilingResult:
    height, width, _ = image.shape
    tile_h = height if tile <= 0 else min(tile, height)
    tile_w = width if tile <= 0 else min(tile, width)
    overlap = min(overlap, tile_h // 2 // align * align, tile_w // 2 // align * align) if tile > 0 else 0
    rows, cols = _axis_plan(height, tile_h, overlap, align), _axis_plan(width, tile_w, overlap, align)
    total = len(rows) * len(cols)
    if total == 1:
        result = _apply(function, image)
        if progress:
            progress(1, 1)
        return TilingResult(result, 1, height * width)

    output: np.ndarray | None = None
    done = 0
    for top, h, row_weights in rows:
        for left, w, col_weights in cols:
            restored = _apply(function, image[top : top + h, left : left + w])
            if output is None:
                output = np.zeros((height, width, restored.shape[2]), dtype=np.float32)
            weights = (row_weights[:, None] * col_weights[None, :])[:, :, None]
            output[top : top + h, left : left + w] += restored * weights
            done += 1
            if progress:
                progress(done, total)
    return TilingResult(output, total, total * tile_h * tile_w)


def _apply(function: TileFunction, region: np.ndarray) -> np.ndarray:
    batch = torch.from_numpy(np.ascontiguousarray(region.transpose(2, 0, 1)))[None]
    with torch.inference_mode():
        result = function(batch)
    return result[0].permute(1, 2, 0).numpy()


def automatic_tile(height: int, width: int, bytes_per_pixel: float, budget_bytes: int, multiple: int = 16) -> int:
    """The largest square tile whose working set fits ``budget_bytes`` (0 if the whole image fits)."""
    if height * width * bytes_per_pixel <= budget_bytes:
        return 0
    side = int(math.sqrt(budget_bytes / bytes_per_pixel)) // multiple * multiple
    return max(multiple * 4, side)
