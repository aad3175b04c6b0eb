"""Shared fixtures: the shipped sample, small real crops of it, and the shipped denoiser; ../shared/data."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "colorchart-noisy-sigma25.png"
SAMPLE_RAW = ROOT / "samples" / "colorchart.dng"  # the same file as ../shared/data/raw/tinydng_colorchart.dng
SHARED_DATA = ROOT.parent / "shared" / "data"
# CI sets this to 1: missing shared data must fail the run there, not quietly skip the tests that need it.
REQUIRE_SHARED_DATA = "ENHANCE_REQUIRE_SHARED_DATA"


def shared_data(relative: str) -> Path:
    """``../shared/data/<relative>``; skips the calling test if it is missing (fails it where CI requires it)."""
    path = SHARED_DATA / relative
    if not path.exists():
        reason = f"needs ../shared/data/{relative}"
        if os.environ.get(REQUIRE_SHARED_DATA) == "1":
            pytest.fail(f"{reason} ({REQUIRE_SHARED_DATA}=1)", pytrace=False)
        pytest.skip(reason)
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared_data(relative): the test reads ../shared/data/<relative>")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("shared_data"):
        shared_data(*mark.args)


@pytest.fixture(scope="session")
def sample_pixels() -> np.ndarray:
    """The shipped sample (a real photo with sigma-25 noise) as uint8 H x W x 3."""
    return np.asarray(Image.open(SAMPLE).convert("RGB"))


@pytest.fixture(scope="session")
def real_crop(sample_pixels) -> np.ndarray:
    """A 160 x 224 float crop of the sample: colour patches, edges and flat areas."""
    return sample_pixels[200:360, 300:524].astype(np.float32) / 255


@pytest.fixture(scope="session")
def clean_pixels(sample_pixels) -> np.ndarray:
    """A clean real image: the noisy sample averaged 4x4 (noise sigma ~6), 8-bit."""
    height, width = sample_pixels.shape[0] // 4 * 4, sample_pixels.shape[1] // 4 * 4
    blocks = sample_pixels[:height, :width].reshape(height // 4, 4, width // 4, 4, 3).astype(float)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


@pytest.fixture
def small_png(tmp_path, sample_pixels) -> Path:
    """A small real noisy image on disk."""
    path = tmp_path / "patch.png"
    Image.fromarray(sample_pixels[200:296, 300:428]).save(path)
    return path


@pytest.fixture(scope="session")
def denoiser():
    from enhance_cli.restorer import Restorer

    return Restorer.for_task("noise", device="cpu")
