"""RAW training data from clean sRGB photographs ("unprocessing", Brooks et al., CVPR 2019).

sRGB -> linear -> a random camera's colour space -> divided by random white-balance gains ->
Bayer mosaic -> signal-dependent shot + read noise. The network is then given the mosaic with
white balance applied again, as at inference, and must recover the white-balanced camera RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from enhance_cli.cfa import BAYER, ColourFilter
from enhance_cli.colour import camera_to_srgb_from_xyz, srgb_to_linear
from enhance_cli.models.isp_unet import bilinear_demosaic
from enhance_cli.raw_noise import estimate_raw_noise, read_noise_variance

# XYZ -> camera matrices of four real cameras (as used by Brooks et al.); random mixtures make new cameras.
XYZ_TO_CAMERAS = torch.tensor(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ]
)
# Shot-noise range (variance per unit signal); read noise follows the log-linear fit over real sensors.
SHOT_NOISE = (1e-4, 1.2e-2)
ESTIMATE_ERROR = 0.3  # log-normal scatter of the noise model given to the network (blind estimates err so much)


@dataclass
class RawBatch:
    mosaic: torch.Tensor  # N x 1 x H x W, RGGB, white balance applied: the network's input
    noise_std: torch.Tensor  # N x 1 x H x W, each pixel's noise std after white balance, as estimated at inference
    camera_to_srgb: torch.Tensor  # N x 3 x 3
    target: torch.Tensor  # N x 3 x H x W linear sRGB the network's output should become after the matrix


def mosaic_of(image: torch.Tensor, cfa: ColourFilter = BAYER) -> torch.Tensor:
    """N x 3 x H x W -> N x 1 x H x W samples in ``cfa``'s phase (RGGB for Bayer; sides whole periods)."""
    sites = torch.from_numpy(cfa.per_site(np.arange(3), image.shape[-2:])).to(image.device)
    return torch.gather(image, 1, sites.expand(image.shape[0], 1, *sites.shape))


def demosaic_difficulty(srgb: torch.Tensor) -> torch.Tensor:
    """Per-pixel error (N x H x W) of a bilinear demosaic of the sRGB-encoded mosaic: high on fine detail,
    saturated texture and thin lines, where demosaickers err; used to mine hard training patches."""

    height, width = srgb.shape[-2:]
    srgb = srgb[..., : height - height % 2, : width - width % 2]
    error = (bilinear_demosaic(mosaic_of(srgb)) - srgb).abs().mean(dim=1)
    return torch.nn.functional.pad(error, (0, width % 2, 0, height % 2))


def cfa_gains(gains: torch.Tensor, height: int, width: int, cfa: ColourFilter = BAYER) -> torch.Tensor:
    """Per-pixel gains N x 1 x H x W from per-image R, G, B gains N x 3 on ``cfa``'s grid (RGGB for Bayer)."""
    sites = torch.from_numpy(cfa.per_site(np.arange(3), (height, width)))
    return gains[:, sites][:, None]


def add_raw_noise(mosaic: torch.Tensor, shot: torch.Tensor, read: torch.Tensor, generator: torch.Generator):
    """Heteroscedastic Gaussian noise: variance = shot x signal + read (per image N)."""
    variance = shot.view(-1, 1, 1, 1) * mosaic.clamp_min(0) + read.view(-1, 1, 1, 1)
    return mosaic + variance.sqrt() * torch.randn(mosaic.shape, generator=generator)


def boost_saturation(linear: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Push colours away from grey by per-image ``factors`` (N): saturated scenes are rare in photo sets."""
    grey = linear.mean(dim=1, keepdim=True)
    return (grey + factors.view(-1, 1, 1, 1) * (linear - grey)).clamp(0, 1)


def shuffle_channels(linear: torch.Tensor, chosen: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Randomly permute the colour channels of the ``chosen`` images: red and blue detail where photo sets
    have green, so the network cannot lean on green carrying the fine structure."""
    linear = linear.clone()
    for index in np.flatnonzero(chosen):
        linear[index] = linear[index, torch.from_numpy(rng.permutation(3))]
    return linear


def random_cameras(n: int, rng: np.random.Generator, identity_fraction: float = 0.2) -> torch.Tensor:
    """N camera-to-sRGB matrices: mixtures of four real cameras, or (``identity_fraction``) sRGB itself."""
    matrices = []
    for _ in range(n):
        if rng.random() < identity_fraction:  # some cameras are close to sRGB: their raw colours are the most saturated
            matrices.append(torch.eye(3))
        else:
            weights = torch.from_numpy(rng.dirichlet(np.ones(len(XYZ_TO_CAMERAS)))).float()
            matrices.append(camera_to_srgb_from_xyz(torch.einsum("c,cij->ij", weights, XYZ_TO_CAMERAS)))
    return torch.stack(matrices)


def random_white_balance(n: int, rng: np.random.Generator) -> torch.Tensor:
    """N x 3 R, G, B gains of daylight-to-tungsten scenes."""
    return torch.from_numpy(np.stack([rng.uniform(1.9, 2.4, n), np.ones(n), rng.uniform(1.5, 1.9, n)], axis=1)).float()


def random_noise_levels(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """N shot-noise levels (log-uniform over ``SHOT_NOISE``) and their read-noise variances."""
    shots = np.exp(rng.uniform(*np.log(SHOT_NOISE), n))
    return shots, np.array([read_noise_variance(s, rng) for s in shots])


def unprocess(
    clean: torch.Tensor,
    rng: np.random.Generator,
    generator: torch.Generator,
    clean_fraction: float = 0.2,
    saturation: float = 1.0,
    identity_fraction: float = 0.2,
    cfa: ColourFilter = BAYER,
    texture: np.ndarray | None = None,
) -> RawBatch:
    """A training batch of white-balanced noisy mosaics from clean sRGB patches N x 3 x H x W.

    ``saturation`` > 1: half the patches get their colour channels shuffled and their saturation
    boosted by up to that factor. ``identity_fraction``: share of cameras whose colour space is sRGB.
    ``texture``: N x 2, the (shot, read) the blind estimate reads in each patch's noise-free photo
    (``texture_noise``); the noise model the network is told then carries the estimate's bias, as at inference.
    """
    n, _, height, width = clean.shape
    linear = srgb_to_linear(clean)
    if saturation > 1:
        colourful = rng.random(n) < 0.5
        linear = shuffle_channels(linear, colourful, rng)
        factors = np.where(colourful, rng.uniform(1, saturation, n), 1.0)
        linear = boost_saturation(linear, torch.from_numpy(factors).float())
    camera_to_srgb = random_cameras(n, rng, identity_fraction)
    levels = rng.uniform(0.4, 1.0, n)
    brightness = torch.from_numpy(levels).float().view(-1, 1, 1, 1)
    target = linear * brightness
    camera = torch.einsum("nij,njhw->nihw", torch.linalg.inv(camera_to_srgb), target)
    gains = random_white_balance(n, rng)
    per_pixel = cfa_gains(gains, height, width, cfa)
    raw = mosaic_of(camera, cfa) / per_pixel
    shots, reads = random_noise_levels(n, rng)
    noiseless = rng.random(n) < clean_fraction
    shots[noiseless], reads[noiseless] = 0.0, 0.0
    noisy = add_raw_noise(raw, torch.from_numpy(shots).float(), torch.from_numpy(reads).float(), generator)
    noisy = noisy.clamp_max(1.0)  # the sensor saturates
    mosaic = (noisy * per_pixel).clamp_max(1.0)  # LibRaw clips after white balance
    # At inference the noise model is estimated: give the network the truth with estimation-sized errors.
    jitter = np.exp(rng.normal(0, ESTIMATE_ERROR, (2, n)))
    shots_seen, reads_seen = shots * jitter[0], reads * jitter[1]
    if texture is not None:  # texture variance grows with brightness squared; the fit's slope with brightness
        shots_seen, reads_seen = shots_seen + texture[:, 0] * levels, reads_seen + texture[:, 1] * levels**2
    shot_seen = torch.from_numpy(shots_seen).float().view(-1, 1, 1, 1)
    read_seen = torch.from_numpy(reads_seen).float().view(-1, 1, 1, 1)
    noise_std = (shot_seen * noisy.clamp_min(0) + read_seen).sqrt() * per_pixel
    # The target is the white-balanced camera RGB; the loss compares it through the matrix, in sRGB.
    return RawBatch(mosaic, noise_std, camera_to_srgb, target)


def texture_noise(image: np.ndarray) -> tuple[float, float]:
    """(shot, read) that the blind noise estimate reads in a noise-free photo (H x W x 3, uint8) developed at full
    brightness: grain, compression traces and fine texture it cannot tell from sensor noise."""
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    srgb = torch.tensor(image[:height, :width]).permute(2, 0, 1)[None].float() / 255  # a copy: images are read-only
    return estimate_raw_noise(mosaic_of(srgb_to_linear(srgb))[0, 0].numpy())
