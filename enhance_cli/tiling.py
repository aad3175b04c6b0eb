"""Tiled full-resolution inference: each tile runs with a halo of context and is blended across overlaps.

Every tile is run on its own pixels plus a halo of ``halo`` pixels on each side (clipped at the image's
border, where the whole-image run meets the same border). With the halo at least the network's
receptive field, every pixel a tile keeps saw exactly the context it sees in the whole image, so tiled
and whole-image results agree to rounding. The halo is cropped away; neighbouring tiles then overlap by
``overlap`` pixels and are cross-faded there with weights that sum to exactly 1 (a partition of unity),
which hides whatever difference remains, e.g. from a network whose field is larger than it says.

``align``: the image is reflect-padded to a multiple of it, and every tile's extent, halo included,
starts and ends on a multiple of it, so a network's grid (a Bayer phase, HyperConvolution cells, a JPEG
block grid) falls on each tile as it falls on the whole image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

TileFunction = Callable[[torch.Tensor], torch.Tensor]

MINIMUM_TILE = 64  # below this a tile is mostly halo: slow, and usually a typo


@dataclass
class TilingResult:
    image: np.ndarray
    tiles: int
    processed_pixels: int  # pixels fed to the network: halos, overlaps and alignment padding included


@dataclass(frozen=True, eq=False)
class AxisTile:
    """One tile along one axis: the pixels it contributes, their blend weights, and what the network sees."""

    start: int
    size: int
    weights: np.ndarray  # blend weights of the ``size`` pixels from ``start``
    first: int  # the network's input runs from ``first`` to ``end``: the tile plus its halo
    end: int

    @property
    def stop(self) -> int:
        return self.start + self.size


def minimum_tile(align: int = 1) -> int:
    """The smallest tile side accepted: :data:`MINIMUM_TILE`, or one alignment block if that is larger."""
    return max(MINIMUM_TILE, align)


def check_tile(tile: int | None, align: int = 1) -> None:
    """Refuse a tile too small to be worth its halo (``None`` is automatic, 0 the whole image)."""
    smallest = minimum_tile(align)
    if tile is not None and 0 < tile < smallest:
        raise ValueError(f"--tile {tile} is below the minimum of {smallest} pixels (or 0 for the whole image)")


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


def even_tile(length: int, tile: int, overlap: int, align: int = 1) -> int:
    """The side of the fewest tiles of at most ``tile`` that cover ``length`` overlapping by ``overlap``, shrunk
    to split ``length`` evenly (a multiple of ``align``): an image just over one tile gets two halves, not two
    tiles that each cover almost all of it."""
    if tile >= length:
        return length
    count = math.ceil((length - overlap) / (tile - overlap))
    even = -(-(length + (count - 1) * overlap) // count)
    return min(tile, -(-even // align) * align)


def _axis_plan(length: int, tile: int, overlap: int, align: int = 1, halo: int = 0) -> list[AxisTile]:
    size = min(tile, length)
    overlap = min(overlap, size // 2 // align * align)  # tile_starts rounds it up to whole blocks
    size = even_tile(length, size, -(-overlap // align) * align, align)
    starts = tile_starts(length, size, overlap, align)
    # Each pair of neighbours cross-fades over a ramp centred in their overlap; the ramps are narrowed
    # where tiles crowd, so that no pixel lies in two ramps and the weights sum to exactly 1.
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    ramp = min([overlap] + gaps + [size - gap for gap in gaps])
    seams = [(b + a + size) / 2 for a, b in zip(starts, starts[1:], strict=False)]
    plan = []
    for i, start in enumerate(starts):
        centres = np.arange(start, start + size) + 0.5
        weights = np.ones(size, dtype=np.float32)
        if i > 0:
            weights *= _fade_in(centres, seams[i - 1], ramp)
        if i + 1 < len(starts):
            weights *= 1 - _fade_in(centres, seams[i], ramp)
        first = max(0, (start - halo) // align * align)
        end = min(length, -(-(start + size + halo) // align) * align)
        plan.append(AxisTile(start, size, weights, first, end))
    return plan


def _fade_in(centres: np.ndarray, seam: float, ramp: int) -> np.ndarray:
    """0 before the ramp centred on ``seam``, rising linearly across it to 1 (a hard step when ``ramp`` is 0)."""
    return np.clip((centres - seam) / max(ramp, 1) + 0.5, 0, 1).astype(np.float32)


def run_tiled(
    function: TileFunction,
    image: np.ndarray,
    tile: int,
    overlap: int,
    progress: Callable[[int, int], None] | None = None,
    align: int = 1,
    halo: int = 0,
) -> TilingResult:
    """Apply ``function`` (NCHW -> NCHW, same height and width) to an H x W x C image tile by tile.

    ``tile`` = 0 processes the whole image at once. ``halo``: context on each side of every tile, at
    least the network's receptive field for results equal to the whole image's. ``align``: see above.
    """
    height, width, _ = image.shape
    padded = np.pad(image, ((0, -height % align), (0, -width % align), (0, 0)), mode="reflect")
    if tile > 0:
        tile = max(align, tile // align * align)
    else:
        tile = max(padded.shape[:2])
    rows = _axis_plan(padded.shape[0], tile, overlap, align, halo)
    columns = _axis_plan(padded.shape[1], tile, overlap, align, halo)
    total = len(rows) * len(columns)
    if total == 1:
        output = _apply(function, padded)
        if progress:
            progress(1, 1)
        return TilingResult(output[:height, :width], 1, padded.shape[0] * padded.shape[1])

    output: np.ndarray | None = None
    processed = done = 0
    for row in rows:
        for column in columns:
            restored = _apply(function, padded[row.first : row.end, column.first : column.end])
            processed += (row.end - row.first) * (column.end - column.first)
            if output is None:
                output = np.zeros((*padded.shape[:2], restored.shape[2]), dtype=np.float32)
            weights = row.weights[:, None, None] * column.weights[None, :, None]
            output[row.start : row.stop, column.start : column.stop] += _without_halo(restored, row, column) * weights
            done += 1
            if progress:
                progress(done, total)
    return TilingResult(output[:height, :width], total, processed)


def _without_halo(restored: np.ndarray, row: AxisTile, column: AxisTile) -> np.ndarray:
    top, left = row.start - row.first, column.start - column.first
    return restored[top : top + row.size, left : left + column.size]


def _apply(function: TileFunction, region: np.ndarray) -> np.ndarray:
    batch = torch.from_numpy(np.ascontiguousarray(region.transpose(2, 0, 1)))[None]
    with torch.inference_mode():
        result = function(batch)
    return result[0].permute(1, 2, 0).numpy()


def automatic_tile(
    height: int, width: int, bytes_per_pixel: float, budget_bytes: int, multiple: int = 16, halo: int = 0
) -> int:
    """The largest square tile whose working set, halo included, fits ``budget_bytes`` (0: the whole image fits).

    ``multiple``: tile sides are multiples of it (a multiple of the tiling's ``align``). Never below
    :func:`minimum_tile`, even if the budget is smaller.
    """
    if height * width * bytes_per_pixel <= budget_bytes:
        return 0
    side = int(math.sqrt(budget_bytes / bytes_per_pixel))
    # run_tiled rounds each halo out to the alignment; rounding it to ``multiple`` keeps within that.
    tile = (side - 2 * -(-halo // multiple) * multiple) // multiple * multiple
    return max(minimum_tile(multiple), tile)
