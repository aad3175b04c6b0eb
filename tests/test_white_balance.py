"""Tests for enhance_cli.white_balance: grey edge on synthetic mosaics with a known illuminant."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_cli.white_balance import grey_edge_gains

ILLUMINANT = np.array([0.5, 1.0, 0.7])  # camera R, G, B of a white surface: the gains are its inverse


def mondrian_mosaic(illuminant: np.ndarray = ILLUMINANT, height: int = 512, width: int = 768) -> np.ndarray:
    """An RGGB mosaic of random flat patches whose reflectances are independent per channel, so that edges
    are grey on average (the grey-edge assumption); small patches, so that there are thousands of edges."""
    rng = np.random.default_rng(1)
    patches = rng.uniform(0.05, 0.6, (height // 8, width // 8, 3))
    reflectance = np.repeat(np.repeat(patches, 4, axis=0), 4, axis=1)  # per 2x2 cell
    cells = reflectance * illuminant
    mosaic = np.empty((height, width), np.float32)
    mosaic[0::2, 0::2], mosaic[1::2, 1::2] = cells[..., 0], cells[..., 2]
    mosaic[0::2, 1::2] = mosaic[1::2, 0::2] = cells[..., 1]
    return mosaic + rng.normal(0, 0.002, mosaic.shape).astype(np.float32)


def test_recovers_a_known_illuminant():
    expected = 1 / ILLUMINANT
    np.testing.assert_allclose(grey_edge_gains(mondrian_mosaic()), expected / expected.min(), rtol=0.05)


def test_clipped_areas_are_left_out():
    """Textured red under clipped green and blue (edges of the clipping's colour, not the light's) is ignored;
    counted, it would pull the red gain from 2 to about 1."""
    mosaic = mondrian_mosaic()
    mosaic[64:320, 96:480] = 1.0
    red = np.random.default_rng(3).uniform(0.1, 0.9, (32, 48))
    mosaic[64:320:2, 96:480:2] = np.repeat(np.repeat(red, 4, axis=0), 4, axis=1)
    expected = 1 / ILLUMINANT
    np.testing.assert_allclose(grey_edge_gains(mosaic), expected / expected.min(), rtol=0.05)


@pytest.mark.parametrize(
    "mosaic",
    [
        np.full((512, 768), 0.3, np.float32),  # flat: no edges
        np.ones((512, 768), np.float32),  # all clipped
        np.zeros((512, 768), np.float32),  # all black
        np.random.default_rng(0).uniform(0, 1, (10, 12)).astype(np.float32),  # too small to say
    ],
    ids=["flat", "clipped", "black", "tiny"],
)
def test_no_estimate_from_degenerate_images(mosaic):
    assert grey_edge_gains(mosaic) is None


def test_gains_are_finite_and_smallest_one_on_noise():
    gains = grey_edge_gains(np.random.default_rng(2).uniform(0, 0.9, (256, 256)).astype(np.float32))
    assert gains is not None and np.all(np.isfinite(gains)) and gains.min() == pytest.approx(1)
