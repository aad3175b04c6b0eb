"""RAW training data and the RAW-side maths: unprocessing, the Bayer layout, white balance, colour."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from enhance_cli.colour import camera_to_srgb_from_xyz, linear_to_srgb, srgb_to_linear
from enhance_cli.develop import balanced_mosaic, standard_tone
from enhance_cli.models.isp_unet import IspUNet, bilinear_demosaic
from enhance_cli.rawio import RawImage
from enhance_cli.training.loop import train
from enhance_cli.training.recipes import RECIPES
from enhance_cli.training.unprocess import XYZ_TO_CAMERAS, add_raw_noise, mosaic_of, unprocess


def test_srgb_curve_round_trips():
    x = torch.linspace(0, 1, 1001)
    torch.testing.assert_close(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-6, rtol=0)


def test_camera_matrices_keep_white_white():
    for xyz_to_camera in XYZ_TO_CAMERAS:
        torch.testing.assert_close(camera_to_srgb_from_xyz(xyz_to_camera) @ torch.ones(3), torch.ones(3))


def test_mosaic_is_rggb_and_bilinear_keeps_the_samples():
    image = torch.rand(1, 3, 8, 10)
    mosaic = mosaic_of(image)
    assert mosaic[0, 0, 0, 0] == image[0, 0, 0, 0] and mosaic[0, 0, 1, 1] == image[0, 2, 1, 1]
    assert mosaic[0, 0, 0, 1] == image[0, 1, 0, 1] and mosaic[0, 0, 1, 0] == image[0, 1, 1, 0]
    rebuilt = bilinear_demosaic(mosaic)
    assert rebuilt[0, 0, 0, 0] == image[0, 0, 0, 0] and rebuilt[0, 1, 0, 1] == image[0, 1, 0, 1]
    flat = bilinear_demosaic(mosaic_of(torch.full((1, 3, 8, 8), 0.3)))
    torch.testing.assert_close(flat, torch.full_like(flat, 0.3))


def test_raw_noise_is_signal_dependent():
    signal = torch.full((1, 1, 256, 256), 0.25)
    noisy = add_raw_noise(signal, torch.tensor([0.01]), torch.tensor([1e-4]), torch.Generator().manual_seed(0))
    assert abs(float((noisy - signal).var()) - (0.01 * 0.25 + 1e-4)) < 2e-4


def test_unprocessed_batches_develop_back_to_the_target():
    clean = torch.rand(6, 3, 32, 32)
    batch = unprocess(clean, np.random.default_rng(0), torch.Generator().manual_seed(0), clean_fraction=1.0)
    assert batch.mosaic.shape == (6, 1, 32, 32) and batch.mosaic.max() <= 1
    # Noise-free: the mosaic's samples, taken through the matrix, are the target's samples.
    camera = torch.einsum("nij,njhw->nihw", torch.linalg.inv(batch.camera_to_srgb), batch.target)
    torch.testing.assert_close(batch.mosaic, mosaic_of(camera).clamp_max(1), atol=1e-5, rtol=1e-4)


def test_white_balance_is_applied_per_site_and_clipped():
    mosaic = np.full((4, 6), 0.4, np.float32)
    raw = RawImage(mosaic, "GRBG", np.array([2.0, 1.0, 3.0]), np.eye(3), 1, None, "test")
    balanced, (top, left) = balanced_mosaic(raw)
    assert (top, left) == (0, 1)
    assert balanced[0, 0] == np.float32(0.8) and balanced[0, 1] == np.float32(0.4) and balanced[1, 1] == 1.0


def test_standard_tone_keeps_black_grey_and_white():
    values = np.array([0.0, 0.5, 1.0, 0.25], np.float32)
    toned = standard_tone(values)
    assert np.allclose(toned[:3], values[:3]) and toned[3] < values[3]


def test_isp_training_runs(tmp_path, sample_pixels):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(sample_pixels[:96, :96]).save(data / "0.png")
    config = {**RECIPES["isp-v2"].config, "channels": [8, 8, 8], "mlp_width": 8}
    recipe = dataclasses.replace(
        RECIPES["isp-v2"], config=config, data=(data,), patch=64, batch=2, steps=2, warmup=1, downscale=1
    )
    weights = train(recipe, tmp_path / "run")
    trained = IspUNet(**config)
    trained.load_state_dict(load_file(str(weights)))
    assert any(".predictor." in name for name in trained.state_dict())  # the HC layers were trained too


@pytest.mark.parametrize("period", [2, 6])  # Bayer, X-Trans
def test_raw_noise_is_estimated_blind(period):
    from enhance_cli.raw_noise import estimate_raw_noise

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:516, 0:768]
    scene = (0.05 + 0.6 * (cols / 768) * (0.5 + 0.5 * np.sin(rows / 40) ** 2)).astype(np.float32)  # smooth
    assert estimate_raw_noise(scene, period) == pytest.approx((0.0, 0.0), abs=2e-4)
    for shot, read in [(1e-3, 1e-6), (1e-2, 1e-4)]:
        noisy = scene + np.sqrt(shot * scene + read) * rng.standard_normal(scene.shape).astype(np.float32)
        estimated_shot, estimated_read = estimate_raw_noise(noisy, period)
        assert estimated_shot == pytest.approx(shot, rel=0.25)
        assert estimated_read < 5 * read + 1e-5


def test_xtrans_training_mosaics_sample_each_pixels_colour():
    from enhance_cli.cfa import XTRANS

    image = torch.rand(2, 3, 12, 18)
    mosaic = mosaic_of(image, XTRANS)
    sites = torch.from_numpy(XTRANS.per_site(np.arange(3), (12, 18)))
    for channel in range(3):
        torch.testing.assert_close(mosaic[:, 0][:, sites == channel], image[:, channel][:, sites == channel])
    batch = unprocess(image, np.random.default_rng(0), torch.Generator().manual_seed(0), cfa=XTRANS)
    assert batch.mosaic.shape == batch.noise_std.shape == (2, 1, 12, 18)


def test_noise_map_matches_the_noise_given():
    clean = torch.full((4, 3, 32, 32), 0.5)
    batch = unprocess(clean, np.random.default_rng(1), torch.Generator().manual_seed(1), clean_fraction=0.0)
    assert batch.noise_std.shape == batch.mosaic.shape and (batch.noise_std > 0).all()
    clean_batch = unprocess(clean, np.random.default_rng(1), torch.Generator().manual_seed(1), clean_fraction=1.0)
    assert (clean_batch.noise_std == 0).all()


def test_texture_noise_reads_texture_as_noise_and_is_told_to_the_network():
    from enhance_cli.training.unprocess import texture_noise

    rng = np.random.default_rng(0)
    flat = np.full((200, 240, 3), 128, np.uint8)
    grainy = np.clip(128 + rng.normal(0, 6, flat.shape), 0, 255).astype(np.uint8)
    assert texture_noise(flat) == (0.0, 0.0)
    shot, read = texture_noise(grainy)
    assert shot + read > 1e-5  # what the blind estimate would find in this "clean" photo
    clean = torch.full((2, 3, 32, 32), 0.5)
    told = unprocess(
        clean, rng, torch.Generator(), clean_fraction=1.0, texture=np.array([[0.0, 0.0], [0.0, 1e-4]])
    ).noise_std
    assert (told[0] == 0).all() and (told[1] > 0).all()  # noise-free, yet told what the estimate reads


def test_saturation_boost_keeps_greys_and_spreads_colours():
    from enhance_cli.training.unprocess import boost_saturation

    grey = torch.full((1, 3, 4, 4), 0.3)
    torch.testing.assert_close(boost_saturation(grey, torch.tensor([2.0])), grey)
    colour = torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    boosted = boost_saturation(colour, torch.tensor([2.0]))
    assert boosted[0, 2, 0, 0] - boosted[0, 0, 0, 0] == pytest.approx(0.4)


def test_channel_shuffle_permutes_only_the_chosen_images():
    from enhance_cli.training.unprocess import shuffle_channels

    images = torch.rand(8, 3, 4, 4)
    chosen = np.array([True, False] * 4)
    shuffled = shuffle_channels(images, chosen, np.random.default_rng(0))
    torch.testing.assert_close(shuffled[~torch.from_numpy(chosen)], images[~torch.from_numpy(chosen)])
    # A permutation: each pixel keeps its set of channel values.
    torch.testing.assert_close(shuffled.sort(dim=1).values, images.sort(dim=1).values)
    assert not torch.equal(shuffled[torch.from_numpy(chosen)], images[torch.from_numpy(chosen)])


def test_identity_cameras_can_be_all_or_none():
    clean = torch.rand(6, 3, 16, 16)
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    srgb_cameras = unprocess(clean, rng, generator, identity_fraction=1.0).camera_to_srgb
    torch.testing.assert_close(srgb_cameras, torch.eye(3).expand(6, 3, 3))
    real_cameras = unprocess(clean, rng, generator, identity_fraction=0.0).camera_to_srgb
    assert all(not torch.allclose(matrix, torch.eye(3)) for matrix in real_cameras)
