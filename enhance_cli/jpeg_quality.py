"""The quality a JPEG was saved at, read from its quantisation tables.

Nearly every encoder (libjpeg, libjpeg-turbo, Pillow, OpenCV, ImageMagick, browsers) scales the two
example tables of the JPEG standard by the IJG quality formula, so matching a file's tables against
those 100 scalings gives its quality exactly. Cameras and editors with tables of their own get the
nearest scaling (in log step size), which is a close estimate of the compression they apply.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class JpegQuality:
    quality: int  # 1-100 on the IJG scale
    exact: bool  # the tables are the standard ones at exactly this quality


@functools.cache
def _standard_tables() -> dict[int, np.ndarray]:
    """Luma and chroma tables (2 x 64, as Pillow reports them) for every IJG quality 1-100."""
    tables = {}
    for quality in range(1, 101):
        buffer = BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, "JPEG", quality=quality)
        with Image.open(buffer) as encoded:
            tables[quality] = np.array([list(encoded.quantization[i]) for i in (0, 1)], dtype=np.float64)
    return tables


def standard_luma_tables() -> np.ndarray:
    """(100, 64): the luma quantisation steps of IJG qualities 1-100, natural (row-major) order."""
    return np.stack([_standard_tables()[quality][0] for quality in range(1, 101)])


def quality_from_tables(tables: Mapping[int, Sequence[int]]) -> JpegQuality:
    """The IJG quality whose tables match ``tables`` (Pillow's ``Image.quantization``).

    Greyscale files have only the luma table. Raises ValueError for an empty mapping.
    """
    present = [np.asarray(tables[key], dtype=np.float64) for key in sorted(tables)[:2]]
    if not present or any(table.size != 64 for table in present):
        raise ValueError("no 8x8 quantisation tables")
    observed = np.stack(present)
    best, best_distance = 1, np.inf
    for quality, standard in _standard_tables().items():
        expected = standard[: len(observed)]
        if np.array_equal(observed, expected):
            return JpegQuality(quality, exact=True)
        distance = np.abs(np.log(observed.clip(1)) - np.log(expected)).mean()
        if distance < best_distance:
            best, best_distance = quality, distance
    return JpegQuality(best, exact=False)
