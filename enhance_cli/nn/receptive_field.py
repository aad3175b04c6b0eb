"""Receptive fields, computed exactly by following a network's layers along one line of pixels.

A :class:`Footprint` holds, for every position of a feature map on a line of input pixels, the first
and last input pixel that position depends on. Each layer maps footprints the way it maps features
(a 3x3 conv widens them by one position each way, a stride-2 layer merges pairs, ...). Every layer of
our networks depends on a box of its input, so the line's answer holds for rows and columns alike.
Tracking positions, not just a width per layer, keeps the answer tight where layers interact with a
grid (HyperConvolution's pooled cells reach whole cells, whatever a pixel's phase in its cell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LINE = 4096  # pixels on the line; a multiple of every network's alignment, and far wider than any field


@dataclass(frozen=True)
class Footprint:
    """Per position of a feature map: the first and last input pixel (inclusive) it depends on."""

    first: np.ndarray
    last: np.ndarray

    @classmethod
    def line(cls, length: int = LINE) -> Footprint:
        """The input itself: each pixel depends on itself alone."""
        positions = np.arange(length)
        return cls(positions, positions)

    def __len__(self) -> int:
        return len(self.first)

    def conv(self, radius: int = 1) -> Footprint:
        """A conv of ``2 * radius + 1`` taps (zero padding: positions off the map add nothing)."""
        if radius == 0:
            return self
        first = np.pad(self.first, radius, constant_values=np.iinfo(np.int64).max)
        last = np.pad(self.last, radius, constant_values=-1)
        window = 2 * radius + 1
        return Footprint(_sliding(first, window).min(1), _sliding(last, window).max(1))

    def pool(self, factor: int) -> Footprint:
        """Whole blocks of ``factor`` positions into one: pixel unshuffle, a stride-``factor`` conv, pooling."""
        blocks = -(-len(self) // factor)
        pad = blocks * factor - len(self)  # a last partial block (ceil mode) merges what it has
        first = np.pad(self.first, (0, pad), mode="edge").reshape(blocks, factor)
        last = np.pad(self.last, (0, pad), mode="edge").reshape(blocks, factor)
        return Footprint(first.min(1), last.max(1))

    def unpool(self, factor: int) -> Footprint:
        """Each position into ``factor`` (pixel shuffle, nearest upsampling)."""
        return Footprint(np.repeat(self.first, factor), np.repeat(self.last, factor))

    def between_centres(self, cell: int, length: int) -> Footprint:
        """Bilinear interpolation from cell centres to ``length`` pixels (align_corners=False, as torch does)."""
        source = np.maximum((np.arange(length) + 0.5) / cell - 0.5, 0)
        below = np.minimum(np.floor(source).astype(int), len(self) - 1)
        # A pixel exactly on a centre gives the next cell zero weight: it does not depend on it.
        above = np.minimum(np.where(source > below, below + 1, below), len(self) - 1)
        return Footprint(
            np.minimum(self.first[below], self.first[above]), np.maximum(self.last[below], self.last[above])
        )

    def join(self, other: Footprint) -> Footprint:
        """Two maps combined position by position (a sum, a skip connection)."""
        return Footprint(np.minimum(self.first, other.first), np.maximum(self.last, other.last))

    def reach(self) -> np.ndarray:
        """Per position of a full-resolution map: how far its footprint reaches from it, either way."""
        positions = np.arange(len(self))
        return np.maximum(positions - self.first, self.last - positions)

    def radius(self) -> int:
        """The receptive field's radius in input pixels (the map must have the input's resolution)."""
        reach = self.reach()
        if 4 * reach.max() >= len(self):
            raise ValueError(f"a receptive field of {reach.max()} pixels needs a line longer than {len(self)}")
        return int(reach.max())


def _sliding(values: np.ndarray, window: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(values, window)
