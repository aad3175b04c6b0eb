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

A plan fixes the tile count per axis first, then splits the image evenly: sizes differ by at most one
``align`` block and neighbours overlap by exactly ``overlap``, so no tile is larger than the image needs.
:func:`plan_tiles` caps the tile side; :func:`plan_for_budget` caps the pixels per tile, halo included,
and picks the counts that feed the network the fewest pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
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


def tile_count(length: int, tile: int, overlap: int, align: int = 1) -> int:
    """The fewest tiles of at most ``tile`` that cover ``length``, neighbours overlapping by ``overlap``."""
    blocks, tile_blocks = length // align, max(1, tile // align)
    if tile_blocks >= blocks:
        return 1
    overlap_blocks = min(-(-overlap // align), tile_blocks // 2)
    return math.ceil((blocks - overlap_blocks) / (tile_blocks - overlap_blocks))


def axis_layout(length: int, count: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """(start, size) of ``count`` tiles splitting ``length`` evenly, neighbours overlapping by exactly
    ``overlap`` rounded up to whole ``align`` blocks (less where tiles are too short for it); sizes differ
    by at most one block, so no tile is larger than the image needs."""
    blocks = length // align
    count = max(1, min(count, blocks))
    if count == 1:
        return [(0, length)]
    overlap_blocks = min(-(-overlap // align), blocks // (count + 1))  # at most half a tile
    base, longer = divmod(blocks + (count - 1) * overlap_blocks, count)
    layout, start = [], 0
    for i in range(count):
        size = base + (i < longer)
        layout.append((start * align, size * align))
        start += size - overlap_blocks
    return layout


def _input_extent(start: int, size: int, length: int, align: int, halo: int) -> tuple[int, int]:
    """What the network sees of a tile: its pixels plus the halo, clipped at the border, on the grid."""
    return max(0, (start - halo) // align * align), min(length, -(-(start + size + halo) // align) * align)


def _axis_plan(length: int, count: int, overlap: int, align: int = 1, halo: int = 0) -> list[AxisTile]:
    layout = axis_layout(length, count, overlap, align)
    # Neighbours cross-fade over their overlap, centred in it; tiles are at least twice the overlap,
    # so no pixel lies in two ramps and the weights sum to exactly 1.
    seams = [(b + a + size) / 2 for (a, size), (b, _) in zip(layout, layout[1:], strict=False)]
    ramp = min([a + size - b for (a, size), (b, _) in zip(layout, layout[1:], strict=False)], default=0)
    plan = []
    for i, (start, size) in enumerate(layout):
        centres = np.arange(start, start + size) + 0.5
        weights = np.ones(size, dtype=np.float32)
        if i > 0:
            weights *= _fade_in(centres, seams[i - 1], ramp)
        if i + 1 < len(layout):
            weights *= 1 - _fade_in(centres, seams[i], ramp)
        plan.append(AxisTile(start, size, weights, *_input_extent(start, size, length, align, halo)))
    return plan


def _fade_in(centres: np.ndarray, seam: float, ramp: int) -> np.ndarray:
    """0 before the ramp centred on ``seam``, rising linearly across it to 1 (a hard step when ``ramp`` is 0)."""
    return np.clip((centres - seam) / max(ramp, 1) + 0.5, 0, 1).astype(np.float32)


@dataclass(frozen=True, eq=False)
class TilePlan:
    """How an image (padded to ``height`` x ``width``, a multiple of the alignment) is cut into tiles."""

    height: int
    width: int
    rows: list[AxisTile]
    columns: list[AxisTile]

    @property
    def tiles(self) -> int:
        return len(self.rows) * len(self.columns)

    @property
    def processed_pixels(self) -> int:
        """Pixels fed to the network: halos, overlaps and alignment padding included."""
        return sum(r.end - r.first for r in self.rows) * sum(c.end - c.first for c in self.columns)

    @property
    def largest_input(self) -> int:
        """Pixels in the largest tile the network sees, halo included: what sets the peak memory."""
        return max(r.end - r.first for r in self.rows) * max(c.end - c.first for c in self.columns)


def _padded(length: int, align: int) -> int:
    return length + -length % align


def plan_tiles(height: int, width: int, tile: int, overlap: int = 0, align: int = 1, halo: int = 0) -> TilePlan:
    """Tiles of at most ``tile`` x ``tile`` (0: the whole image), as few as cover the image, split evenly.

    ``halo``: context on each side of every tile, at least the network's receptive field for results
    equal to the whole image's. ``align``: see the module's docstring.
    """
    height, width = _padded(height, align), _padded(width, align)
    tile = tile if tile > 0 else max(height, width)
    rows = _axis_plan(height, tile_count(height, tile, overlap, align), overlap, align, halo)
    columns = _axis_plan(width, tile_count(width, tile, overlap, align), overlap, align, halo)
    return TilePlan(height, width, rows, columns)


def plan_for_budget(
    height: int, width: int, budget_pixels: float, overlap: int = 0, align: int = 1, halo: int = 0
) -> TilePlan:
    """The plan that feeds the network the fewest pixels while no tile, halo included, exceeds
    ``budget_pixels``: the tile count per axis first, then tiles that split the image evenly.

    Tiles need not be square: a wide image gets tall tiles, and one row of them needs no halo across.
    Tiles never go below :func:`minimum_tile`, even if the budget is smaller.
    """
    padded_height, padded_width = _padded(height, align), _padded(width, align)
    if padded_height * padded_width <= budget_pixels:
        return plan_tiles(height, width, 0, overlap, align, halo)
    rows = _axis_choices(padded_height, overlap, align, halo)
    columns = _axis_choices(padded_width, overlap, align, halo)
    fitting = [(r, c) for r in rows for c in columns if r.largest * c.largest <= budget_pixels]
    if not fitting:  # the budget is below one minimum tile: the smallest tiles allowed
        fitting = [(rows[-1], columns[-1])]
    row, column = min(fitting, key=lambda pair: (pair[0].total * pair[1].total, pair[0].count * pair[1].count))
    return TilePlan(
        padded_height,
        padded_width,
        _axis_plan(padded_height, row.count, overlap, align, halo),
        _axis_plan(padded_width, column.count, overlap, align, halo),
    )


@dataclass(frozen=True)
class _AxisChoice:
    count: int
    total: int  # pixels the network sees along this axis, halos included
    largest: int  # the longest tile input along this axis


def _axis_choices(length: int, overlap: int, align: int, halo: int) -> list[_AxisChoice]:
    """One choice per tile count, from one tile to as many as keep tiles at the minimum side."""
    choices = []
    most = max(1, tile_count(length, minimum_tile(align), overlap, align))
    for count in range(1, most + 1):
        extents = [
            _input_extent(start, size, length, align, halo)
            for start, size in axis_layout(length, count, overlap, align)
        ]
        lengths = [end - first for first, end in extents]
        choices.append(_AxisChoice(count, sum(lengths), max(lengths)))
    return choices


def run_tiled(
    function: TileFunction,
    image: np.ndarray,
    plan: TilePlan,
    progress: Callable[[int, int], None] | None = None,
) -> TilingResult:
    """Apply ``function`` (NCHW -> NCHW, same height and width) to an H x W x C image, tile by tile as ``plan``
    (from :func:`plan_tiles` or :func:`plan_for_budget` for this image's size) says."""
    height, width, _ = image.shape
    if plan.tiles == 1:
        output = _apply(function, next(tile_inputs(image, plan)))
        if progress:
            progress(1, 1)
        return TilingResult(output[:height, :width], 1, plan.processed_pixels)

    output: np.ndarray | None = None
    done = 0
    places = ((row, column) for row in plan.rows for column in plan.columns)
    for region, (row, column) in zip(tile_inputs(image, plan), places, strict=True):
        restored = _apply(function, region)
        if output is None:
            output = np.zeros((plan.height, plan.width, restored.shape[2]), dtype=np.float32)
        weights = row.weights[:, None, None] * column.weights[None, :, None]
        output[row.start : row.stop, column.start : column.stop] += _without_halo(restored, row, column) * weights
        done += 1
        if progress:
            progress(done, plan.tiles)
    return TilingResult(output[:height, :width], plan.tiles, plan.processed_pixels)


def tile_inputs(image: np.ndarray, plan: TilePlan) -> Iterator[np.ndarray]:
    """What the network is given for each tile of ``plan`` (halo included), in the order :func:`run_tiled`
    processes them: row by row. A network that decides per tile (DDS-Net's gate) can look at them all first."""
    height, width, _ = image.shape
    padded = np.pad(image, ((0, plan.height - height), (0, plan.width - width), (0, 0)), mode="reflect")
    if plan.tiles == 1:
        yield padded
        return
    for row in plan.rows:
        for column in plan.columns:
            yield padded[row.first : row.end, column.first : column.end]


def _without_halo(restored: np.ndarray, row: AxisTile, column: AxisTile) -> np.ndarray:
    top, left = row.start - row.first, column.start - column.first
    return restored[top : top + row.size, left : left + column.size]


def _apply(function: TileFunction, region: np.ndarray) -> np.ndarray:
    # An NCHW view of the H x W x C pixels: channels-last already, so a channels-last network copies nothing.
    batch = torch.from_numpy(np.ascontiguousarray(region))[None].permute(0, 3, 1, 2)
    with torch.inference_mode():
        result = function(batch)
    return result[0].permute(1, 2, 0).numpy()
