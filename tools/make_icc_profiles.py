"""Write the ICC profiles `enhance isp --colorspace` embeds (enhance_cli/icc/*.icc), with littleCMS.

    pip install imagecodecs && python tools/make_icc_profiles.py

littleCMS (through imagecodecs' binding) builds each matrix-shaper profile from the colour space's
published primaries, white point and transfer curve, so no profile bytes are written by hand. The
profiles are generated once and shipped, so running enhance needs neither library; the colour maths in
enhance_cli/colorspaces.py reads its matrices back from these files.
"""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np

FOLDER = Path(__file__).resolve().parents[1] / "enhance_cli" / "icc"
D65 = (0.3127, 0.3290, 1.0)
D50 = (0.3457, 0.3585, 1.0)


def srgb_decoding_curve(samples: int = 1024) -> np.ndarray:
    """IEC 61966-2-1: encoded value -> linear light, the curve an ICC TRC holds."""
    x = np.linspace(0, 1, samples)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


SPACES = {
    "srgb": {"profile": "srgb"},
    "display-p3": {
        "whitepoint": D65,
        "primaries": (0.680, 0.320, 1.0, 0.265, 0.690, 1.0, 0.150, 0.060, 1.0),
        "transferfunction": srgb_decoding_curve(),
    },
    "adobe-rgb": {
        "whitepoint": D65,
        "primaries": (0.64, 0.33, 1.0, 0.21, 0.71, 1.0, 0.15, 0.06, 1.0),
        "gamma": 563 / 256,
    },
    "prophoto": {
        "whitepoint": D50,
        "primaries": (0.7347, 0.2653, 1.0, 0.1596, 0.8404, 1.0, 0.0366, 0.0001, 1.0),
        "gamma": 1.8,
    },
}


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for name, spec in SPACES.items():
        spec = dict(spec)
        profile = imagecodecs.cms_profile(spec.pop("profile", "rgb"), **spec)
        imagecodecs.cms_profile_validate(profile)
        (FOLDER / f"{name}.icc").write_bytes(profile)
        print(f"{name}: {len(profile)} bytes")


if __name__ == "__main__":
    main()
