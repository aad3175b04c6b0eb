import numpy as np

from enhance_cli.metrics import psnr, ssim, to_y


def test_psnr_of_a_known_error():
    a = np.zeros((8, 8, 3))
    assert abs(psnr(a, a + 0.1) - 20.0) < 1e-9


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    rng = np.random.default_rng(0)
    image = rng.random((40, 40, 3))
    assert abs(ssim(image, image) - 1) < 1e-9
    scores = [ssim(image, image + rng.normal(0, sigma, image.shape)) for sigma in (0.02, 0.1, 0.3)]
    assert scores[0] > scores[1] > scores[2]
    # Independent noise on a high-variance image: SSIM ~ 2 var / (2 var + sigma^2), var = 1/12.
    assert abs(scores[2] - (2 / 12) / (2 / 12 + 0.09)) < 0.03


def test_luma_matches_matlab_range():
    assert abs(to_y(np.array([0.0, 0.0, 0.0])) - 16 / 255) < 1e-9
    assert abs(to_y(np.array([1.0, 1.0, 1.0])) - 235 / 255) < 1e-3
