"""The blind JPEG quality estimator: its fixed DCT front end, the grid search, and the shipped model on real pixels."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from enhance_cli.jpeg_quality import standard_luma_tables
from enhance_cli.models.quality_estimator import JpegQualityEstimator, block_dct_basis


def test_the_block_dct_is_orthonormal():
    basis = block_dct_basis().reshape(64, 64)
    torch.testing.assert_close(basis @ basis.T, torch.eye(64), atol=1e-6, rtol=0)


def test_coefficients_on_a_quality_lattice_fit_only_that_quality_and_its_divisors():
    rng = np.random.default_rng(0)
    steps = torch.tensor(standard_luma_tables()[30 - 1], dtype=torch.float32)  # quality 30
    multiples = torch.from_numpy(rng.integers(-3, 4, size=(64, 8, 8))).float()  # (frequency, block row, column)
    coefficients = multiples * steps[:, None, None]
    blocks = torch.einsum("fhw,fij->hiwj", coefficients, block_dct_basis()[:, 0]).reshape(64, 64)
    grey = ((blocks + 128) / 255).expand(1, 3, 64, 64)
    fit = JpegQualityEstimator().periodicity(grey)[0]  # (64, 100)
    assert fit[:, 30 - 1].min() > 0.999
    assert fit[:, 50 - 1].mean() < 0.5 and fit[:, 10 - 1].mean() < 0.5


@pytest.fixture(scope="module")
def estimator():
    from enhance_cli.registry import find_card, load_model

    return load_model(find_card("quality-estimator"))


def decoded_jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB")).astype(np.float32) / 255


@pytest.mark.parametrize("quality", [15, 50, 85])
def test_the_shipped_estimator_reads_the_quality_of_a_resaved_jpeg(estimator, sample_pixels, quality):
    assert abs(estimator.estimate(decoded_jpeg(sample_pixels, quality)) * 100 - quality) <= 2


def test_the_grid_is_found_after_a_crop(estimator, sample_pixels):
    decoded = decoded_jpeg(sample_pixels, 60)
    assert estimator.grid_phase(decoded) == (0, 0)
    assert estimator.grid_phase(decoded[3:, 6:]) == (5, 2)
    assert abs(estimator.estimate(decoded[3:, 6:]) * 100 - 60) <= 2


def test_a_never_compressed_image_reads_as_100(estimator, sample_pixels):
    assert estimator.estimate(sample_pixels.astype(np.float32) / 255) == pytest.approx(1.0)
