"""Training pairs for `enhance denoise`: camera-pipeline noise, and white Gaussian noise for a share."""

import numpy as np
import torch

from enhance_cli.training.camera_noise import CameraNoise, noisy_pairs


def smooth_patches(count: int = 6, size: int = 64) -> torch.Tensor:
    """Gentle gradients in varied colours: residuals are then the noise, not demosaicking of detail."""
    ramp = torch.linspace(0.2, 0.8, size)
    base = (ramp[None, :] + ramp[:, None]) / 2
    colours = torch.linspace(0.6, 1.0, count)[:, None] * torch.tensor([1.0, 0.9, 0.8])
    return (base[None, None] * colours[:, :, None, None]).clamp(0, 1)


def test_pairs_are_8_bit_images_of_the_same_shape():
    clean = smooth_patches()
    noisy, target = noisy_pairs(clean, np.random.default_rng(0), torch.Generator().manual_seed(0))
    assert noisy.shape == target.shape == clean.shape
    for image in (noisy, target):
        assert image.min() >= 0 and image.max() <= 1
        torch.testing.assert_close(image * 255, (image * 255).round(), atol=1e-4, rtol=0)


def test_the_gaussian_share_keeps_the_clean_target_and_its_sigma():
    clean = smooth_patches()
    options = CameraNoise(gaussian_share=1.0, sigma_range=(25.0, 25.0))
    noisy, target = noisy_pairs(clean, np.random.default_rng(0), torch.Generator().manual_seed(0), options)
    torch.testing.assert_close(target, (clean * 255).round() / 255)
    assert abs(float((noisy - target).std()) * 255 - 25) < 1.5


def test_camera_noise_is_spread_across_neighbouring_pixels():
    """Demosaicking correlates neighbours; white Gaussian noise would leave them independent."""
    clean = smooth_patches()
    plain = CameraNoise(gaussian_share=0.0, clean_share=0.0, jpeg_share=0.0, sharpen_share=0.0, chroma_smooth_share=0.0)
    noisy, target = noisy_pairs(clean, np.random.default_rng(1), torch.Generator().manual_seed(1), plain)
    residual = (noisy - target)[..., 4:-4, 4:-4]
    assert float(residual.std()) > 1 / 255  # there is noise
    left, right = residual[..., :-1].flatten(), residual[..., 1:].flatten()
    assert float(torch.corrcoef(torch.stack([left, right]))[0, 1]) > 0.2


def test_the_clean_share_asks_for_the_input_back_unchanged():
    clean = smooth_patches()
    options = CameraNoise(gaussian_share=0.0, clean_share=1.0)
    noisy, target = noisy_pairs(clean, np.random.default_rng(2), torch.Generator().manual_seed(2), options)
    torch.testing.assert_close(noisy, target)
    torch.testing.assert_close(target, (clean * 255).round() / 255)
