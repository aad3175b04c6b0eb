"""Benchmark a restoration model on a folder of clean images with synthetic degradations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from enhance_cli.imageio import ImageError, read_image
from enhance_cli.metrics import quality
from enhance_cli.paths import image_files
from enhance_cli.restorer import Restorer
from enhance_cli.tasks import TASKS


@dataclass
class ImageScore:
    name: str
    level: float | None  # the level the model used (estimated or given)
    seconds: float
    degraded: dict[str, float] = field(default_factory=dict)
    restored: dict[str, float] = field(default_factory=dict)


def quantise(pixels: np.ndarray) -> np.ndarray:
    """Round to 8 bits, as the saved result would be."""
    return np.round(np.clip(pixels, 0, 1) * 255) / 255


def degrade(clean: np.ndarray, task: str, level: float, seed: int) -> np.ndarray:
    """The task's synthetic degradation of an H x W x 3 image, reproducible from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    tensor = torch.from_numpy(np.ascontiguousarray(clean.transpose(2, 0, 1)))[None]
    return TASKS[task].degrade(tensor, level, generator)[0].permute(1, 2, 0).numpy()


def evaluate_folder(
    restorer: Restorer,
    folder,
    task: str,
    level: float,
    given_level: float | None,
    limit: int | None = None,
    seed: int = 0,
    unreadable: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ImageScore]:
    """Degrade every image at ``level``, restore it at ``given_level`` (None: estimate), score both. An image
    that cannot be read is left out, its one-line reason added to ``unreadable``; ``progress(done, total)`` is
    called before each image and at the end."""
    scores = []
    paths = image_files(folder)[:limit]
    for index, path in enumerate(paths):
        if progress is not None:
            progress(index, len(paths))  # done so far
        try:
            picture = read_image(path)
        except ImageError as error:
            if unreadable is None:
                raise
            unreadable.append(str(error))
            continue
        clean = np.repeat(picture.pixels, 3, axis=2) if picture.pixels.shape[2] == 1 else picture.pixels
        degraded = degrade(clean, task, level, seed + index)
        started = time.perf_counter()
        outcome = restorer.restore(replace(picture, pixels=degraded, alpha=None), given_level)
        seconds = time.perf_counter() - started
        restored = quantise(outcome.picture.pixels)
        scores.append(ImageScore(path.name, outcome.level, seconds, quality(clean, degraded), quality(clean, restored)))
    if progress is not None:
        progress(len(paths), len(paths))
    return scores


def mean_scores(scores: list[ImageScore], which: str) -> dict[str, float]:
    keys = getattr(scores[0], which).keys()
    return {k: float(np.mean([getattr(s, which)[k] for s in scores])) for k in keys}
