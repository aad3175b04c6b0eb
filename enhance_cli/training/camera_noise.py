"""Real-photo noise for denoiser training: clean sRGB -> RAW -> shot + read noise -> a simple in-camera pipeline.

A phone or camera JPEG does not carry white Gaussian noise. Its noise starts signal-dependent (shot + read) on
the sensor, is spread across neighbouring pixels by demosaicking, mixed between channels by the colour matrix,
stretched by the tone curve, sometimes sharpened or chroma-smoothed, and finally JPEG-compressed. We unprocess a
clean photo into a mosaic (``unprocess``), then develop it twice through the same randomly drawn pipeline: once
with noise (the input) and once without (the target). A share of each batch gets white Gaussian noise instead,
so the Gaussian use of ``restore --task noise`` keeps working, and another share is left clean (input = target),
so a clean photo comes back untouched rather than smoothed as if it were noisy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from enhance_cli.colour import linear_to_srgb, srgb_to_linear
from enhance_cli.degradations import add_gaussian_noise, jpeg_compress, quantise_8bit
from enhance_cli.training.unprocess import (
    add_raw_noise,
    cfa_gains,
    mosaic_of,
    random_cameras,
    random_noise_levels,
    random_white_balance,
)

# OpenCV names Bayer layouts by the second row; its "BG" is our RGGB. Both keep 16 bits.
DEMOSAICKERS = {"bilinear": cv2.COLOR_BayerBG2RGB, "edge-aware": cv2.COLOR_BayerBG2RGB_EA}


@dataclass(frozen=True)
class CameraNoise:
    """How a batch is drawn (the defaults are the issue's: ISO range of ``SHOT_NOISE``, JPEG half the time)."""

    gaussian_share: float = 0.25  # of the images: white Gaussian noise instead of a camera pipeline
    clean_share: float = 0.1  # of the images: no noise at all, the input is the target
    sigma_range: tuple[float, float] = (5.0, 50.0)  # Gaussian sigma, 0-255 scale
    jpeg_share: float = 0.5
    jpeg_quality: tuple[int, int] = (75, 98)
    sharpen_share: float = 0.3  # unsharp mask after the tone curve, as many cameras do
    chroma_smooth_share: float = 0.2  # blur of the colour difference channels, as phones do
    contrast: tuple[float, float] = (0.0, 0.5)  # share of an S-curve blended into the sRGB values


def noisy_pairs(
    clean: torch.Tensor, rng: np.random.Generator, generator: torch.Generator, options: CameraNoise = CameraNoise()
) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, target) batches N x 3 x H x W in [0, 1], 8-bit like a user's file, from clean sRGB patches."""
    n = len(clean)
    draw = rng.random(n)
    gaussian = draw < options.gaussian_share
    untouched = (draw >= options.gaussian_share) & (draw < options.gaussian_share + options.clean_share)
    noisy, target = clean.clone(), clean.clone()
    for index in np.flatnonzero(gaussian):
        sigma = rng.uniform(*options.sigma_range)
        noisy[index] = add_gaussian_noise(clean[index : index + 1], sigma, generator)[0]
    cameras = np.flatnonzero(~gaussian & ~untouched)
    if len(cameras):
        noisy[cameras], target[cameras] = _through_a_camera(clean[cameras], rng, generator, options)
    return quantise_8bit(noisy), quantise_8bit(target)


def _through_a_camera(
    clean: torch.Tensor, rng: np.random.Generator, generator: torch.Generator, options: CameraNoise
) -> tuple[torch.Tensor, torch.Tensor]:
    n, _, height, width = clean.shape
    camera_to_srgb = random_cameras(n, rng)
    camera = torch.einsum("nij,njhw->nihw", torch.linalg.inv(camera_to_srgb), srgb_to_linear(clean))
    gains = random_white_balance(n, rng)
    per_pixel = cfa_gains(gains, height, width)
    raw = (mosaic_of(camera) / per_pixel).clamp(0, 1)
    shots, reads = random_noise_levels(n, rng)
    noisy_raw = add_raw_noise(raw, torch.from_numpy(shots).float(), torch.from_numpy(reads).float(), generator)
    noisy_raw = noisy_raw.clamp(0, 1)  # the sensor clips at black (after black subtraction) and at white
    noisy, target = [], []
    for index in range(n):
        steps = _draw_pipeline(rng, options)
        for mosaic, out in ((noisy_raw[index, 0], noisy), (raw[index, 0], target)):
            out.append(_develop(mosaic, per_pixel[index, 0], camera_to_srgb[index], steps))
        if steps["jpeg"]:
            noisy[-1] = jpeg_compress(noisy[-1][None], steps["jpeg"])[0]
    return torch.stack(noisy), torch.stack(target)


def _draw_pipeline(rng: np.random.Generator, options: CameraNoise) -> dict:
    return {
        "demosaic": DEMOSAICKERS[rng.choice(list(DEMOSAICKERS))],
        "contrast": rng.uniform(*options.contrast),
        "sharpen": rng.uniform(0.3, 1.0) if rng.random() < options.sharpen_share else 0.0,
        "chroma_smooth": rng.uniform(0.8, 2.0) if rng.random() < options.chroma_smooth_share else 0.0,
        "jpeg": int(rng.integers(options.jpeg_quality[0], options.jpeg_quality[1] + 1))
        if rng.random() < options.jpeg_share
        else 0,
    }


def _develop(mosaic: torch.Tensor, gains: torch.Tensor, camera_to_srgb: torch.Tensor, steps: dict) -> torch.Tensor:
    """One mosaic (H x W, RGGB) through demosaic, white balance, matrix, tone, optional sharpening and chroma blur."""
    quantised = np.round(mosaic.numpy() * 65535).astype(np.uint16)  # a 16-bit raw, as a camera holds it
    rgb = torch.from_numpy(cv2.cvtColor(quantised, steps["demosaic"]).astype(np.float32) / 65535).permute(2, 0, 1)
    balanced = rgb * torch.stack([gains[0, 0], gains[0, 1], gains[1, 1]]).view(3, 1, 1)
    linear = torch.einsum("ij,jhw->ihw", camera_to_srgb, balanced.clamp(0, 1))
    encoded = linear_to_srgb(linear)
    encoded = (1 - steps["contrast"]) * encoded + steps["contrast"] * encoded * encoded * (3 - 2 * encoded)
    image = encoded.permute(1, 2, 0).numpy()
    if steps["sharpen"]:
        blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
        image = image + steps["sharpen"] * (image - blurred)
    if steps["chroma_smooth"]:
        ycc = cv2.cvtColor(np.clip(image, 0, 1), cv2.COLOR_RGB2YCrCb)
        ycc[..., 1:] = cv2.GaussianBlur(ycc[..., 1:], (0, 0), steps["chroma_smooth"])
        image = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    return quantise_8bit(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
