"""Develop a camera RAW file: the ISP network in camera space, then the file's own colour pipeline.

The network does the learned part (demosaicking and denoising the white-balanced mosaic, tile by
tile); the file's metadata does the rest, exactly: camera-to-sRGB matrix, sRGB transfer curve,
pixel aspect and orientation, so the result matches LibRaw's full-size rendering in size and colour.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
import torch

from enhance_cli.imageio import Picture
from enhance_cli.pipeline import Outcome
from enhance_cli.raw_noise import estimate_raw_noise, noise_std_map
from enhance_cli.rawio import RawImage, apply_orientation, srgb_encode, to_rggb
from enhance_cli.registry import ModelCard, find_card
from enhance_cli.restorer import LoadedModel
from enhance_cli.tiling import run_tiled

TONES = ("standard", "neutral")
STANDARD_CONTRAST = 0.4  # share of a smoothstep S-curve blended into the sRGB values


def standard_tone(encoded: np.ndarray) -> np.ndarray:
    """The default look: a gentle S-curve on sRGB values (black, mid-grey and white stay put)."""
    s_curve = encoded * encoded * (3 - 2 * encoded)
    return (1 - STANDARD_CONTRAST) * encoded + STANDARD_CONTRAST * s_curve


def balanced_mosaic(raw: RawImage) -> tuple[np.ndarray, tuple[int, int]]:
    """The network's input: RGGB phase, even sides, white balance applied, clipped at saturation.

    Also returns (top, left): the rows and columns :func:`~enhance_cli.rawio.to_rggb` added.
    """
    mosaic, offset = to_rggb(raw.mosaic, raw.pattern)
    return _balance(mosaic, _site_gains(raw, mosaic.shape)), offset


def _balance(mosaic: np.ndarray, gains: np.ndarray) -> np.ndarray:
    # Clipping after white balance (as LibRaw does) keeps blown highlights white instead of pink.
    balanced = mosaic * gains
    np.minimum(balanced, 1.0, out=balanced)
    return balanced


def _site_gains(raw: RawImage, shape: tuple[int, int]) -> np.ndarray:
    red, green, blue = (float(g) for g in raw.white_balance)
    gains = np.array([[red, green], [green, blue]], dtype=np.float32)
    return np.tile(gains, (shape[0] // 2, shape[1] // 2))


class Developer(LoadedModel):
    """A loaded ISP model, ready to develop RAW files."""

    def __init__(self, card: ModelCard, **options) -> None:
        if card.task != "isp":
            raise ValueError(f"model {card.name!r} is for task {card.task!r}, not isp")
        super().__init__(card, **options)

    @classmethod
    def for_model(cls, model: str | None = None, **options) -> Developer:
        return cls(find_card(name=model, task=None if model else "isp"), **options)

    @property
    def flops_per_pixel(self) -> dict[str, float]:
        """FLOPs per mosaic pixel, as the card records them: ``conv`` (filtering at image resolution) and
        ``mlp`` (HC filter prediction)."""
        return self.card.flops()

    def develop(
        self, raw: RawImage, tone: str = "standard", progress: Callable[[int, int], None] | None = None
    ) -> Outcome:
        """Develop ``raw`` into an upright sRGB :class:`Picture` (8-bit unless written with more bits)."""
        if tone not in TONES:
            raise ValueError(f"unknown tone {tone!r}; choose one of {', '.join(TONES)}")
        started = time.perf_counter()
        mosaic, (top, left) = to_rggb(raw.mosaic, raw.pattern)
        gains = _site_gains(raw, mosaic.shape)
        planes = [_balance(mosaic, gains)]
        noise = None
        if self.model.input_channels == 2:  # each pixel's noise std after white balance, from a blind estimate
            noise = estimate_raw_noise(mosaic)
            planes.append(noise_std_map(mosaic, *noise) * gains)
        mosaic = np.stack(planes, axis=-1)
        del planes, gains
        height, width = raw.mosaic.shape
        plan = self.plan_for(*mosaic.shape[:2])

        def network(batch: torch.Tensor) -> torch.Tensor:
            return self.model(self.to_device(batch)).float().cpu()

        result = run_tiled(network, mosaic, plan, progress)
        camera = result.image[top : top + height, left : left + width]
        tiles, processed = result.tiles, result.processed_pixels
        del mosaic, result
        linear = camera.reshape(-1, 3) @ raw.camera_to_srgb.T.astype(np.float32)
        pixels = srgb_encode(linear).reshape(height, width, 3)
        del camera, linear
        if tone == "standard":
            pixels = standard_tone(pixels)
        pixels = _stretch(pixels, raw.pixel_aspect)
        pixels = np.ascontiguousarray(apply_orientation(pixels, raw.orientation))
        picture = Picture(pixels, None, 8, raw.exif, None, "raw", {})
        by_part = {part: round(value * processed) for part, value in self.flops_per_pixel.items()}
        seconds = time.perf_counter() - started
        details = {"noise_shot": noise[0], "noise_read": noise[1]} if noise else None
        flops = sum(by_part.values())
        return Outcome(picture, None, tiles, flops, seconds, processed, flops_by_part=by_part, details=details)


def _stretch(pixels: np.ndarray, pixel_aspect: float) -> np.ndarray:
    """Square the pixels of the few cameras whose pixels are not, as LibRaw does (never shrinking)."""
    if pixel_aspect == 1:
        return pixels
    height, width = pixels.shape[:2]
    if pixel_aspect < 1:
        size = (width, int(height / pixel_aspect + 0.5))
    else:
        size = (int(width * pixel_aspect + 0.5), height)
    return cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)
