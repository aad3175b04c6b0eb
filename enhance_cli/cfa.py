"""Colour filter arrays: the 2x2 Bayer and 6x6 Fuji X-Trans layouts, and the views of a mosaic developing needs.

A RAW file's pattern is the colour letters of its mosaic's top-left period, row by row: 4 letters for
Bayer ("RGGB", "GRBG", ...), 36 for X-Trans. Each layout has one phase its networks were trained in;
:meth:`ColourFilter.align` pads a mosaic into that phase (and to whole periods) with samples of the right
colour. Cells are the smallest square blocks that hold every colour (2x2 for Bayer, 3x3 for X-Trans):
clipped highlights are found and filled per cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

CHANNELS = "RGB"


@dataclass(frozen=True)
class ColourFilter:
    """One CFA layout in the phase our networks take."""

    name: str  # "bayer" or "xtrans"
    rows: tuple[str, ...]  # the layout's colour letters, row by row, in the networks' phase
    cell: int  # side of the blocks that hold every colour

    @property
    def period(self) -> int:
        return len(self.rows)

    @cached_property
    def channels(self) -> np.ndarray:
        """period x period channel indices (0 R, 1 G, 2 B)."""
        return np.array([[CHANNELS.index(letter) for letter in row] for row in self.rows], np.int64)

    def sites(self) -> list[tuple[int, int, int]]:
        """(row, column, channel) of every site of one period."""
        return [(r, c, int(self.channels[r, c])) for r in range(self.period) for c in range(self.period)]

    def per_site(self, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """An aligned mosaic's map of ``values`` (one per channel, R, G, B) at each site's colour."""
        return np.asarray(values)[site_channels("".join(self.rows), shape)]

    def align(self, mosaic: np.ndarray, pattern: str) -> tuple[np.ndarray, tuple[int, int]]:
        """Pad ``mosaic`` (top-left period ``pattern``) into this layout's phase and to whole periods; also
        return the (top, left) rows and columns added: ``result[top:top + H, left:left + W]`` is the original.

        Padded samples are copies of real ones one period inside (a mirror for Bayer), so they have the
        colour of their site.
        """
        period = self.period
        if len(pattern) != period * period:
            raise ValueError(f"not a {self.name} pattern: {pattern!r}")
        if mosaic.ndim != 2 or min(mosaic.shape) < period:
            raise ValueError(f"mosaic must be H x W with both sides at least {period}, not {mosaic.shape}")
        given = np.array([CHANNELS.index(letter) for letter in pattern]).reshape(period, period)
        shift = next(
            (
                (top, left)
                for top in range(period)
                for left in range(period)
                if np.array_equal(np.roll(given, (top, left), axis=(0, 1)), self.channels)
            ),
            None,
        )
        if shift is None:
            raise ValueError(f"not a {self.name} pattern: {pattern!r}")
        top, left = shift
        height, width = mosaic.shape
        rows = phase_preserving_indices(height, top, period)
        columns = phase_preserving_indices(width, left, period)
        if len(rows) == height and len(columns) == width:
            return mosaic, (0, 0)
        return mosaic[np.ix_(rows, columns)], (top, left)

    def cells_of(self, row: int, column: int) -> tuple[slice, slice]:
        """Index of a per-cell array (H/cell x W/cell ...) that lines up with ``mosaic[row::period, column::period]``:
        the cells holding the samples of that site."""
        per_period = self.period // self.cell
        return slice(row // self.cell, None, per_period), slice(column // self.cell, None, per_period)

    def cell_means(self, mosaic: np.ndarray) -> np.ndarray:
        """Per cell (H/cell x W/cell x 3): the mean of each colour's samples (aligned, whole periods)."""
        height, width = mosaic.shape[0] // self.cell, mosaic.shape[1] // self.cell
        sums = np.zeros((height, width, 3), np.float32)
        counts = np.zeros((self.period // self.cell,) * 2 + (3,), np.float32)
        for row, column, channel in self.sites():
            rows, columns = self.cells_of(row, column)
            sums[rows, columns, channel] += mosaic[row :: self.period, column :: self.period]
            counts[rows.start, columns.start, channel] += 1
        return sums / np.tile(counts, (height // counts.shape[0], width // counts.shape[1], 1))

    def cell_any(self, flags: np.ndarray) -> np.ndarray:
        """Per cell (H/cell x W/cell x 3): whether any sample of each colour is flagged."""
        found = np.zeros((flags.shape[0] // self.cell, flags.shape[1] // self.cell, 3), bool)
        for row, column, channel in self.sites():
            rows, columns = self.cells_of(row, column)
            found[rows, columns, channel] |= flags[row :: self.period, column :: self.period]
        return found


BAYER = ColourFilter("bayer", ("RG", "GB"), cell=2)
# The phase of Gharbi et al.'s X-Trans network (demosaicnet's xtrans_cell); Fuji's sensors use this
# layout shifted, which align() undoes.
XTRANS = ColourFilter("xtrans", ("GBGGRG", "RGRBGB", "GBGGRG", "GRGGBG", "BGBRGR", "GRGGBG"), cell=3)
COLOUR_FILTERS = {cfa.period * cfa.period: cfa for cfa in (BAYER, XTRANS)}
COLOUR_FILTERS_BY_NAME = {cfa.name: cfa for cfa in (BAYER, XTRANS)}


def colour_filter(pattern: str) -> ColourFilter:
    """The layout of a RAW file's pattern (4 letters: Bayer, 36: X-Trans)."""
    if len(pattern) not in COLOUR_FILTERS:
        raise ValueError(f"not a Bayer or X-Trans pattern: {pattern!r}")
    return COLOUR_FILTERS[len(pattern)]


def site_channels(pattern: str, shape: tuple[int, int]) -> np.ndarray:
    """The channel (0 R, 1 G, 2 B) of every site of an H x W mosaic whose top-left period is ``pattern``."""
    period = round(len(pattern) ** 0.5)
    channels = np.array([CHANNELS.index(letter) for letter in pattern]).reshape(period, period)
    return np.tile(channels, (-(-shape[0] // period), -(-shape[1] // period)))[: shape[0], : shape[1]]


def align_mosaic(mosaic: np.ndarray, pattern: str) -> tuple[np.ndarray, tuple[int, int]]:
    """:meth:`ColourFilter.align` for the pattern's own layout."""
    return colour_filter(pattern).align(mosaic, pattern)


def phase_preserving_indices(length: int, before: int, period: int, at_least: int = 0) -> np.ndarray:
    """Indices into an axis of ``length`` samples, ``before`` added in front and the end filled to a whole
    period (and to ``at_least``), each added one copying a nearby sample of the same phase inside."""
    total = -(-max(length + before, at_least) // period) * period
    index = np.arange(total) - before
    front = index < 0
    index[front] = index[front] % period  # the same phase in the first period
    back = index >= length
    index[back] -= period * -(-(index[back] - length + 1) // period)  # the same phase in the last period
    return index
