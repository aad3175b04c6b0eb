"""Lens corrections from lensfun's database (through lensfunpy): vignetting, distortion and lateral
chromatic aberration, for RAW files that carry no DNG correction opcodes.

The camera and lens are looked up by the EXIF the file carries (make, model, lens model, focal length,
f-number); a file whose lens is not named, or not in the database, is developed uncorrected and the
report says why. lensfunpy is an optional dependency (``pip install lensfunpy``, the project's ``lens`` extra).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

LENS_MODES = ("off", "auto")
FOCUS_DISTANCE = 10.0  # metres; the EXIF rarely states it, and vignetting depends on it only a little


def lensfun_available() -> bool:
    return importlib.util.find_spec("lensfunpy") is not None


@dataclass(frozen=True)
class LensCorrection:
    """A lens found in lensfun's database, ready to correct images of one size."""

    description: str  # e.g. "Canon EF 24-105mm f/4L IS USM on Canon EOS 5D Mark II, 24 mm f/4"
    modifier: object  # lensfunpy.Modifier, initialised for the focal length and aperture

    def apply(self, camera: np.ndarray) -> np.ndarray:
        """Vignetting (in place, on linear values), then distortion and lateral CA (resampled); H x W x 3."""
        self.modifier.apply_color_modification(camera)
        coordinates = self.modifier.apply_subpixel_geometry_distortion()  # H x W x 3 (channel) x 2 (x, y)
        planes = [
            cv2.remap(camera[..., channel], coordinates[..., channel, 0], coordinates[..., channel, 1],
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for channel in range(3)
        ]  # fmt: skip
        return np.stack(planes, axis=-1)


def find_lens(exif: bytes | None, height: int, width: int) -> LensCorrection | str:
    """The correction for the camera and lens ``exif`` names, or the reason there is none."""
    import lensfunpy

    tags = Image.Exif()
    if exif:
        tags.load(exif)
    shooting = tags.get_ifd(0x8769)
    make, model = str(tags.get(271, "")).strip(), str(tags.get(272, "")).strip()
    lens_make, lens_model = str(shooting.get(42035, "")).strip(), str(shooting.get(42036, "")).strip()
    focal, aperture = float(shooting.get(37386, 0) or 0), float(shooting.get(33437, 0) or 0)
    if not model or not lens_model:
        return "the file does not name its camera and lens"
    if not focal > 0:
        return "the file does not state the focal length"
    database = lensfunpy.Database()
    cameras = database.find_cameras(make, model)
    if not cameras:
        return f"camera {make} {model} is not in lensfun's database"
    lenses = database.find_lenses(cameras[0], lens_make or None, lens_model)
    if not lenses:
        return f"lens {lens_model} is not in lensfun's database"
    camera, lens = cameras[0], lenses[0]
    modifier = lensfunpy.Modifier(lens, camera.crop_factor, width, height)
    modifier.initialize(focal, aperture or lens.min_aperture or 8.0, FOCUS_DISTANCE, pixel_format=np.float32)
    stop = f" f/{aperture:g}" if aperture else ""
    return LensCorrection(f"{lens.model} on {camera.model}, {focal:g} mm{stop}", modifier)
