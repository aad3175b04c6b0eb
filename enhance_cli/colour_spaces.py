"""Output colour spaces for developed RAW files: their ICC profiles and the maths to encode into them.

The profiles in ``enhance_cli/icc`` were built by littleCMS from each space's published primaries, white
point and transfer curve (``tools/make_icc_profiles.py``). The conversion from linear sRGB reads its
matrices back from those profiles (their D50-adapted colorants, as a colour-managed viewer does), so the
pixels agree with the profile they carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from io import BytesIO

import numpy as np
from PIL import ImageCms

from enhance_cli.colour import linear_to_srgb, srgb_to_linear

COLORSPACES = ("srgb", "display-p3", "adobe-rgb", "prophoto")
WIDE_FOR_8_BITS = ("prophoto",)  # so wide that 8-bit samples posterise smooth gradients
_GAMMA = {"adobe-rgb": 563 / 256, "prophoto": 1.8}  # pure power curves; the others use the sRGB curve


@dataclass(frozen=True)
class ColourSpace:
    name: str
    icc_profile: bytes
    from_linear_srgb: np.ndarray  # 3 x 3, linear sRGB -> this space's linear RGB

    def encode(self, linear: np.ndarray) -> np.ndarray:
        """This space's encoded values of linear RGB, clipped to [0, 1]; float32."""
        clipped = np.clip(linear, 0, 1, dtype=np.float32)
        gamma = _GAMMA.get(self.name)
        if gamma is None:
            import torch

            return linear_to_srgb(torch.from_numpy(clipped)).numpy()
        return np.power(clipped, np.float32(1 / gamma))

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """Linear RGB of this space's encoded values (the profile's TRC); float32."""
        values = np.asarray(encoded, np.float32)
        gamma = _GAMMA.get(self.name)
        if gamma is None:
            import torch

            return srgb_to_linear(torch.from_numpy(values)).numpy()
        return np.power(np.clip(values, 0, None), np.float32(gamma))


@cache
def colour_space(name: str) -> ColourSpace:
    """One of :data:`COLORSPACES`, its profile read from the package."""
    if name not in COLORSPACES:
        raise ValueError(f"unknown colour space {name!r}; choose one of {', '.join(COLORSPACES)}")
    profile = icc_profile(name)
    matrix = np.linalg.inv(_colorants(profile)) @ _colorants(icc_profile("srgb"))
    return ColourSpace(name, profile, matrix)


def icc_profile(name: str) -> bytes:
    return (files("enhance_cli") / "icc" / f"{name}.icc").read_bytes()


def _colorants(profile: bytes) -> np.ndarray:
    """The profile's red, green and blue colorants (PCS XYZ, D50) as the columns of a 3 x 3 matrix."""
    parsed = ImageCms.ImageCmsProfile(BytesIO(profile)).profile
    columns = [parsed.red_colorant[0], parsed.green_colorant[0], parsed.blue_colorant[0]]
    return np.array(columns, np.float64).T
