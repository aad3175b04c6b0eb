"""Tiling: weights form a partition of unity, and tiled inference matches whole-image inference."""

import numpy as np
import pytest
import torch

from enhance_cli.tiling import _axis_plan, automatic_tile, run_tiled, tile_starts


@pytest.mark.parametrize(
    "length,tile,overlap", [(100, 40, 16), (1000, 256, 32), (257, 64, 32), (64, 64, 32), (300, 299, 32), (129, 64, 0)]
)
def test_blend_weights_sum_to_one(length, tile, overlap):
    total = np.zeros(length, np.float32)
    for start, size, weights in _axis_plan(length, tile, overlap):
        total[start : start + size] += weights
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tiles_cover_the_image_with_at_least_the_overlap():
    starts = tile_starts(1000, 256, 32)
    assert starts[0] == 0 and starts[-1] + 256 == 1000
    assert all(b - a <= 256 - 32 for a, b in zip(starts, starts[1:], strict=False))


def test_pointwise_function_is_unchanged_by_tiling():
    image = np.random.default_rng(0).random((123, 201, 3), dtype=np.float32)
    result = run_tiled(lambda x: x * 2, image, 48, 16)
    assert result.tiles > 1
    np.testing.assert_allclose(result.image, image * 2, atol=1e-6)


def test_tiled_network_output_matches_whole_image(denoiser, real_crop):
    """The contract: tiled and whole-image outputs agree within 2/255 on 8-bit output."""
    model = denoiser.model
    model.set_level(25 / 75)

    def network(batch):
        return model(batch).clamp(0, 1)

    rng = np.random.default_rng(1)
    noisy = np.clip(real_crop + rng.normal(0, 25 / 255, real_crop.shape), 0, 1).astype(np.float32)
    whole = run_tiled(network, noisy, 0, 0).image
    tiled = run_tiled(network, noisy, 64, 32)
    assert tiled.tiles >= 6
    difference = np.abs(np.round(whole * 255) - np.round(tiled.image * 255))
    assert difference.max() <= 2


def test_automatic_tile_fits_the_budget():
    assert automatic_tile(100, 100, 1000, 1 << 30) == 0
    side = automatic_tile(4000, 4000, 1000, 256 << 20)
    assert 0 < side * side * 1000 <= 256 << 20 and side % 16 == 0


def test_tile_function_sees_no_gradients():
    seen = []

    def record(batch):
        seen.append(torch.is_grad_enabled())
        return batch

    run_tiled(record, np.zeros((8, 8, 3), np.float32), 0, 0)
    assert seen == [False]
