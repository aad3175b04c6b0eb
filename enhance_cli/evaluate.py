"""Score a model on a folder of reference images: a synthetic degradation to restore (noise, JPEG, low
resolution), a RAW mosaic made from each image to develop (isp), or real noisy photos beside their clean
references (denoise)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from enhance_cli.cfa import BAYER
from enhance_cli.colour import linear_to_srgb, srgb_to_linear
from enhance_cli.imageio import ImageError, read_image
from enhance_cli.metrics import quality
from enhance_cli.models.isp_unet import bilinear_demosaic
from enhance_cli.paths import UsageError, image_files
from enhance_cli.pipeline import Outcome
from enhance_cli.raw_noise import read_noise_variance
from enhance_cli.rawio import RawImage
from enhance_cli.restorer import rgb_pixels
from enhance_cli.tasks import TASKS

if TYPE_CHECKING:
    from enhance_cli.restorer import Restorer

RAW_BORDER = 10  # pixels left out of RAW scores: demosaicking has no neighbours there (as DPIR's protocol)
# Real-noise pairs: PolyU's names (X_real.JPG beside X_mean.JPG, the mean of many shots).
NOISY_SUFFIX, CLEAN_SUFFIX = "_real", "_mean"


@dataclass
class Case:
    """One image to score: its reference, the degraded input as an image, and what the model is given."""

    name: str
    reference: np.ndarray  # H x W x 3 in [0, 1]
    degraded: np.ndarray  # scored beside the model's output (RAW: a bilinear demosaic of the mosaic)
    source: Any  # a Picture, or a RawImage for isp


@dataclass
class Benchmark:
    """A folder's cases, loaded one at a time, and how they are scored."""

    loaders: list[Callable[[], Case]]
    describe: str  # what the degradation is, for the table's title
    degraded_label: str  # what the degraded row is
    border: int = 0


@dataclass
class ImageScore:
    name: str
    level: float | None  # the level the model used (estimated or given); None where it takes none
    seconds: float
    flops_per_pixel: float
    degraded: dict[str, float] = field(default_factory=dict)
    restored: dict[str, float] = field(default_factory=dict)


def default_data_folder() -> Path | None:
    """Where test sets are found by name: $ENHANCE_DATA, else ``shared/data`` beside the checkout, if there."""
    if os.environ.get("ENHANCE_DATA"):
        return Path(os.environ["ENHANCE_DATA"])
    beside_checkout = Path(__file__).resolve().parents[2] / "shared" / "data"
    return beside_checkout if beside_checkout.is_dir() else None


def find_data_folder(name: str, data: Path | None = None) -> Path:
    """The folder ``name`` names: a path from here, else a set under the data folder (``data``, else
    :func:`default_data_folder`), as ``test/Kodak24`` or ``Kodak24``."""
    if name and Path(name).is_dir():
        return Path(name)
    root = data if data is not None else default_data_folder()
    if root is not None and name and not Path(name).is_absolute():
        for candidate in (root / name, root / "test" / name):
            if candidate.is_dir():
                return candidate
    if root is None:
        raise UsageError(f"no folder {name!r}; give a folder of images, or --data DIR to find test sets by name")
    sets = sorted(p.name for p in (root / "test").glob("*") if p.is_dir()) if (root / "test").is_dir() else []
    there = f" (test sets there: {', '.join(sets)})" if sets else ""
    raise UsageError(f"no folder {name!r} here or in {root}{there}")


def quantise(pixels: np.ndarray) -> np.ndarray:
    """Round to 8 bits, as the saved result would be."""
    return np.round(np.clip(pixels, 0, 1) * 255) / 255


def degrade(clean: np.ndarray, task: str, level: float, seed: int) -> np.ndarray:
    """The task's synthetic degradation of an H x W x 3 image, reproducible from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    tensor = torch.from_numpy(np.ascontiguousarray(clean.transpose(2, 0, 1)))[None]
    return TASKS[task].degrade(tensor, level, generator)[0].permute(1, 2, 0).numpy()


def restoration_benchmark(folder: Path, task: str, level: float, seed: int = 0) -> Benchmark:
    """Every image of ``folder`` degraded by ``task`` at ``level`` (image i with seed ``seed + i``)."""

    def load(path: Path, index: int) -> Case:
        picture = read_image(path)
        clean = rgb_pixels(picture.pixels)
        degraded = degrade(clean, task, level, seed + index)
        return Case(path.name, clean, degraded, replace(picture, pixels=degraded, alpha=None))

    paths = image_files(folder)
    return Benchmark(
        [partial(load, path, index) for index, path in enumerate(paths)],
        f"{TASKS[task].level_name} {level:g}",
        "degraded input",
    )


def real_noise_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(noisy, clean) files of ``folder``: ``X_real.*`` beside ``X_mean.*``, or same-named files in its
    ``noisy/`` and ``clean/`` sub-folders."""
    if (folder / "noisy").is_dir() and (folder / "clean").is_dir():
        return [(path, folder / "clean" / path.name) for path in image_files(folder / "noisy")]
    return [
        (path, path.with_name(path.stem[: -len(NOISY_SUFFIX)] + CLEAN_SUFFIX + path.suffix))
        for path in image_files(folder)
        if path.stem.endswith(NOISY_SUFFIX)
    ]


def real_noise_benchmark(folder: Path) -> Benchmark:
    """Real noisy photos against their clean references (:func:`real_noise_pairs`)."""

    def load(noisy_path: Path, clean_path: Path) -> Case:
        picture = read_image(noisy_path)
        noisy, clean = rgb_pixels(picture.pixels), rgb_pixels(read_image(clean_path).pixels)
        if clean.shape != noisy.shape:
            raise ImageError(f"{clean_path}: {clean.shape[1]}x{clean.shape[0]}, not the size of {noisy_path.name}")
        return Case(noisy_path.name, clean, noisy, replace(picture, pixels=noisy, alpha=None))

    return Benchmark(
        [partial(load, noisy, clean) for noisy, clean in real_noise_pairs(folder)], "real noise", "noisy photo"
    )


def synthetic_raw(mosaic: np.ndarray, pattern: str = "RGGB") -> RawImage:
    """A RAW file of ``mosaic`` from a camera whose colour space is linear sRGB (white balance 1)."""
    return RawImage(mosaic, pattern, np.ones(3, np.float32), np.eye(3, dtype=np.float32), 1, None, "benchmark")


def add_sensor_noise(mosaic: np.ndarray, shot: float, seed: int) -> np.ndarray:
    """Shot and read noise: variance ``shot`` x signal + the read noise real sensors pair with it."""
    rng = np.random.default_rng(seed)
    std = np.sqrt(shot * np.clip(mosaic, 0, None) + read_noise_variance(shot))
    return (mosaic + std * rng.standard_normal(mosaic.shape)).astype(np.float32)


def raw_benchmark(folder: Path, shot: float = 0.0, seed: int = 0) -> Benchmark:
    """Every image of ``folder`` as a linear-light RGGB mosaic (sides cut to even), with sensor noise of shot
    variance ``shot`` where it is above 0, developed against the image itself."""

    def load(path: Path, index: int) -> Case:
        srgb = rgb_pixels(read_image(path).pixels)
        srgb = srgb[: srgb.shape[0] // 2 * 2, : srgb.shape[1] // 2 * 2]
        linear = srgb_to_linear(torch.from_numpy(np.ascontiguousarray(srgb.transpose(2, 0, 1)))[None])
        channels = BAYER.per_site(np.arange(3), srgb.shape[:2])
        mosaic = np.take_along_axis(linear[0].numpy(), channels[None], axis=0)[0].astype(np.float32)
        if shot > 0:
            mosaic = add_sensor_noise(mosaic, shot, seed + index)
        bilinear = linear_to_srgb(bilinear_demosaic(torch.from_numpy(mosaic)[None, None]))[0].permute(1, 2, 0)
        return Case(path.name, srgb, bilinear.numpy(), synthetic_raw(mosaic))

    paths = image_files(folder)
    return Benchmark(
        [partial(load, path, index) for index, path in enumerate(paths)],
        f"RGGB mosaic, shot noise {shot:g}" if shot > 0 else "RGGB mosaic, noise-free",
        "bilinear demosaic",
        RAW_BORDER,
    )


def evaluate(
    benchmark: Benchmark,
    run: Callable[[Any], Outcome],
    limit: int | None = None,
    unreadable: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ImageScore]:
    """Run the model on each case (the first ``limit``) and score it and the degraded input against the
    reference. A case that cannot be read is left out, its one-line reason added to ``unreadable``;
    ``progress(done, total)`` is called before each case and at the end."""
    scores = []
    loaders = benchmark.loaders[:limit]
    for index, load in enumerate(loaders):
        if progress is not None:
            progress(index, len(loaders))  # done so far
        try:
            case = load()
        except ImageError as error:
            if unreadable is None:
                raise
            unreadable.append(str(error))
            continue
        started = time.perf_counter()
        outcome = run(case.source)
        seconds = time.perf_counter() - started
        restored = quantise(outcome.picture.pixels)
        pixels = restored.shape[0] * restored.shape[1]
        scores.append(
            ImageScore(
                case.name,
                outcome.level,
                seconds,
                outcome.flops / pixels,
                quality(case.reference, quantise(case.degraded), benchmark.border),
                quality(case.reference, restored, benchmark.border),
            )
        )
    if progress is not None:
        progress(len(loaders), len(loaders))
    return scores


def mean_scores(scores: list[ImageScore], which: str) -> dict[str, float]:
    keys = getattr(scores[0], which).keys()
    return {k: float(np.mean([getattr(s, which)[k] for s in scores])) for k in keys}


def evaluate_folder(
    restorer: Restorer,
    folder: Path,
    task: str,
    level: float,
    given_level: float | None,
    limit: int | None = None,
    seed: int = 0,
) -> list[ImageScore]:
    """A restorer's scores on ``folder`` degraded by ``task`` at ``level``, restored at ``given_level`` (None:
    estimated)."""
    benchmark = restoration_benchmark(folder, task, level, seed)
    return evaluate(benchmark, lambda picture: restorer.restore(picture, given_level), limit)
