"""Classical demosaicking baselines for the learned RAW pipeline benchmark.

Every method takes a LINEAR-light Bayer mosaic in RGGB phase (float32 H x W, values about [0, 1],
H and W even; noise, including slightly negative values, is allowed) and returns float32 H x W x 3
linear RGB, unclipped unless the method itself clips:

* :func:`bilinear`, :func:`malvar`, :func:`menon` -- ``colour_demosaicing`` (Menon 2007 with its
  refining step). Pure float, nothing is clipped, negatives pass through.
* :func:`libraw` -- LibRaw (through rawpy) on a minimal in-memory Bayer DNG, with one of
  :data:`LIBRAW_ALGORITHMS` (LINEAR, VNG, PPG, AHD, DCB, DHT, AAHD).

How the LibRaw round trip is made an identity (verified by :func:`self_check`)
--------------------------------------------------------------------------------
* The mosaic ``v`` is stored as uint16 ``DN = round(BLACK + v * SPAN)``, BLACK = 1024, SPAN = 60000,
  WhiteLevel = BLACK + SPAN, clipped to [0, 65535]. So |v| is quantised to 1/60000 and ``v`` is
  representable from -BLACK/SPAN (-0.017) to (65535 - BLACK)/SPAN (1.075).
* LibRaw subtracts BlackLevel with a clamp at 0 and then, in ``scale_colors``, multiplies by
  ``user_wb / min(user_wb) * 65535 / (WhiteLevel - BlackLevel)`` and clips to [0, 65535] *before*
  demosaicking. With ``user_wb=[1, 1, 1, 1]`` the gain is 65535 / SPAN for all channels, so the
  16-bit output maps back as ``v = out / 65535``. Consequences: LibRaw sees the mosaic clipped to
  [0, 1] (negative noise becomes 0, which biases dark noisy regions upwards; highlights above the
  white level are cut at 1) and its output is in [0, 1] at 16-bit precision. ``scale_colors``
  truncates (int conversion), which costs on average half an output LSB (-7.6e-6); :func:`libraw`
  adds that half LSB back to every non-zero output.
* ``adjust_maximum_thr=0`` is essential: LibRaw's default (0.75) lowers the white level to the
  image's own maximum when that is below 75 % of WhiteLevel, i.e. it would rescale (brighten) dark
  images.
* ``output_color=raw`` skips the camera -> output matrix, so ColorMatrix1 does not touch the output
  colours -- but AHD and AAHD use LibRaw's ``rgb_cam`` (derived from ColorMatrix1) inside their
  CIELab homogeneity test, so it does change their results slightly (kodim19: AHD 32.48 -> 32.47 dB,
  AAHD 32.86 -> 32.89 dB between an identity ColorMatrix1 and the one below). ColorMatrix1 is
  therefore the XYZ -> linear sRGB matrix (inverse of LibRaw's own ``xyz_rgb``), which declares the
  "camera" to be linear sRGB: ``rgb_cam`` = I and LibRaw's daylight white balance = (1, 1, 1).
  ``gamma=(1, 1)`` with ``no_auto_bright`` makes the output curve the identity (``bright=1``: white
  65535 -> 65535).
* LibRaw refuses images smaller than 22 x 22 ("Unsupported file format"); needed tags beyond the
  baseline TIFF ones: DNGVersion, CFARepeatPatternDim, CFAPattern, PhotometricInterpretation = CFA
  (ColorMatrix1, BlackLevel, WhiteLevel, AsShotNeutral... are written as well).
* At the CFA sites every LibRaw method returns the input sample (within 1 DN of 60000), and their
  borders come from LibRaw's own border interpolation (1 to 5 px, by method).
* ``highlight_mode=Clip`` (0); with equal white-balance multipliers Clip and Ignore are identical.
* ``user_flip=0`` and no DefaultCrop tags: the output has exactly the mosaic's size and orientation.

Also here: :func:`mosaic_rggb`, numpy wrappers of ``enhance_cli.colour``'s exact sRGB curves
(:func:`srgb_to_linear`, :func:`linear_to_srgb`, which clips to [0, 1]), and :func:`benchmark`,
which scores the methods on a folder of 8-bit sRGB images in either protocol (``linear=True``: our
RAW pipeline's linear-light mosaic; ``linear=False``: the literature's mosaic of the sRGB-encoded
values). PSNR is ``enhance_cli.metrics.psnr``.

    python benchmarks/demosaic_baselines.py            # self-check of the LibRaw round trip
    python benchmarks/demosaic_baselines.py --bench    # + both protocols on Kodak24 and McMaster
"""

from __future__ import annotations

import functools
import io
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from enhance_cli import colour
from enhance_cli.cfa import phase_preserving_indices, site_channels
from enhance_cli.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT.parent / "shared" / "data" / "test"

BLACK = 1024
"""DNG BlackLevel of the temporary DNG (DN); the mosaic's 0."""
SPAN = 60000
"""DN per unit of the mosaic: WhiteLevel = BLACK + SPAN."""
LIBRAW_ALGORITHMS = ("LINEAR", "VNG", "PPG", "AHD", "DCB", "DHT", "AAHD")
XTRANS_MINIMUM = 512  # LibRaw's X-Trans demosaicker refuses smaller images ("Input/output error")


# --------------------------------------------------------------------------------------------------
# Colour curves and mosaicking


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Exact sRGB decoding (:func:`enhance_cli.colour.srgb_to_linear`, in float64), float32 out."""
    return colour.srgb_to_linear(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy().astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Exact sRGB encoding after clipping to [0, 1] (:func:`enhance_cli.colour.linear_to_srgb`), float32."""
    return colour.linear_to_srgb(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy().astype(np.float32)


def mosaic_rggb(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 -> H x W RGGB Bayer mosaic: R at (0, 0), G at (0, 1) and (1, 0), B at (1, 1)."""
    return mosaic_with(rgb, "RGGB")


def mosaic_with(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """H x W x 3 -> H x W mosaic whose top-left period is ``pattern`` (4 letters Bayer, 36 X-Trans)."""
    sites = site_channels(pattern, rgb.shape[:2])
    return np.take_along_axis(rgb, sites[..., None], axis=-1)[..., 0].astype(np.float32)


def _check(mosaic: np.ndarray) -> np.ndarray:
    mosaic = np.asarray(mosaic)
    if mosaic.ndim != 2 or mosaic.shape[0] % 2 or mosaic.shape[1] % 2:
        raise ValueError(f"expected an H x W mosaic with even H and W, got shape {mosaic.shape}")
    return mosaic


# --------------------------------------------------------------------------------------------------
# colour_demosaicing


def _colour() -> object:
    with warnings.catch_warnings():  # colour warns that matplotlib is missing
        warnings.simplefilter("ignore")
        import colour_demosaicing
    return colour_demosaicing


def bilinear(mosaic: np.ndarray) -> np.ndarray:
    """Bilinear interpolation (colour_demosaicing; reflect-padded borders)."""
    cfa = _check(mosaic).astype(np.float64)
    return _colour().demosaicing_CFA_Bayer_bilinear(cfa, "RGGB").astype(np.float32)


def malvar(mosaic: np.ndarray) -> np.ndarray:
    """Malvar, He and Cutler 2004 gradient-corrected linear interpolation (colour_demosaicing)."""
    cfa = _check(mosaic).astype(np.float64)
    return _colour().demosaicing_CFA_Bayer_Malvar2004(cfa, "RGGB").astype(np.float32)


def menon(mosaic: np.ndarray) -> np.ndarray:
    """Menon, Andriani and Calvagno 2007 DDFAPD, with the refining step (colour_demosaicing)."""
    cfa = _check(mosaic).astype(np.float64)
    return _colour().demosaicing_CFA_Bayer_Menon2007(cfa, "RGGB").astype(np.float32)


# --------------------------------------------------------------------------------------------------
# LibRaw through a minimal DNG

XYZ_TO_CAMERA = np.linalg.inv(colour.SRGB_TO_XYZ.double().numpy())
"""DNG ColorMatrix1 (XYZ -> camera): declares camera RGB = linear sRGB, so LibRaw's rgb_cam = I."""

_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL = 1, 2, 3, 4, 5, 10


def mosaic_to_dng(
    mosaic: np.ndarray,
    target: str | Path | io.BytesIO,
    *,
    xyz_to_camera: np.ndarray = XYZ_TO_CAMERA,
    neutral: tuple[float, float, float] = (1, 1, 1),
    saturation: float | None = None,
    extra_tags: Iterable[tuple] = (),
    pattern: str = "RGGB",
) -> None:
    """Write a mosaic ([0, 1] linear; RGGB, or the layout ``pattern`` gives: 36 letters for X-Trans) as a
    minimal uncompressed DNG (see module doc).

    For camera-like files: another ColorMatrix1 and AsShotNeutral, a sensor that saturates at ``saturation``
    (below the white level 1), and ``extra_tags`` (tifffile's tuples: opcodes, BaselineExposure, EXIF).
    """
    period = int(round(len(pattern) ** 0.5))
    import tifffile

    dn = np.rint(BLACK + _check(mosaic).astype(np.float64) * SPAN)
    dn = np.clip(dn, 0, 65535 if saturation is None else BLACK + saturation * SPAN).astype(np.uint16)
    colour_matrix = [v for x in np.ravel(xyz_to_camera) for v in (int(round(x * 1_000_000)), 1_000_000)]
    as_shot = [v for x in neutral for v in (int(round(x * 1_000_000)), 1_000_000)]
    tags = [
        (50706, _BYTE, 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, _BYTE, 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (271, _ASCII, 0, "enhance_cli", True),  # Make
        (272, _ASCII, 0, "demosaic baseline", True),  # Model
        (50708, _ASCII, 0, "enhance_cli demosaic baseline", True),  # UniqueCameraModel
        (33421, _SHORT, 2, (period, period), True),  # CFARepeatPatternDim
        (33422, _BYTE, len(pattern), tuple("RGB".index(letter) for letter in pattern), True),  # CFAPattern
        (50710, _BYTE, 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, _SHORT, 1, 1, True),  # CFALayout: rectangular
        (50713, _SHORT, 2, (1, 1), True),  # BlackLevelRepeatDim
        (50714, _LONG, 1, BLACK, True),  # BlackLevel
        (50717, _LONG, 1, BLACK + SPAN, True),  # WhiteLevel
        (50721, _SRATIONAL, 9, colour_matrix, True),  # ColorMatrix1: by default camera RGB = linear sRGB
        (50728, _RATIONAL, 3, as_shot, True),  # AsShotNeutral (unused where user_wb is given)
        (50778, _SHORT, 1, 21, True),  # CalibrationIlluminant1: D65
        *extra_tags,
    ]
    tifffile.imwrite(
        target,
        dn,
        photometric=32803,  # CFA
        subfiletype=0,  # full-resolution main image
        metadata=None,
        extratags=tags,
    )


def libraw(mosaic: np.ndarray, algorithm: str = "AHD", pattern: str = "RGGB") -> np.ndarray:
    """Demosaic with LibRaw's ``algorithm`` (one of :data:`LIBRAW_ALGORITHMS`).

    The output is in [0, 1]: LibRaw clips the mosaic to [0, 1] (negatives to 0) before
    demosaicking. Border pixels come from LibRaw's own border interpolation (1 to 5 px, depending on
    the method). An X-Trans ``pattern`` goes to LibRaw's X-Trans demosaicker (Markesteijn's, for
    algorithms other than LINEAR), which needs both sides at least 512.
    """
    import rawpy

    name = algorithm.upper()
    if name not in LIBRAW_ALGORITHMS:
        raise ValueError(f"unknown LibRaw algorithm {algorithm!r}; expected one of {LIBRAW_ALGORITHMS}")
    height, width = mosaic.shape
    if len(pattern) == 36 and min(height, width) < XTRANS_MINIMUM:  # extended with samples of the same phase
        rows = phase_preserving_indices(height, 0, 6, XTRANS_MINIMUM)
        columns = phase_preserving_indices(width, 0, 6, XTRANS_MINIMUM)
        return libraw(mosaic[np.ix_(rows, columns)], algorithm, pattern)[:height, :width]
    buffer = io.BytesIO()
    mosaic_to_dng(mosaic, buffer, pattern=pattern)
    buffer.seek(0)
    with rawpy.imread(buffer) as raw:
        letters = "".join("RGBG"[index] for index in raw.raw_pattern.ravel())
        if letters != pattern or raw.raw_image.shape != mosaic.shape:
            raise RuntimeError(f"LibRaw read the DNG unexpectedly: pattern {raw.raw_pattern.tolist()}")
        out = raw.postprocess(
            demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, name),
            output_color=rawpy.ColorSpace.raw,
            gamma=(1, 1),
            no_auto_bright=True,
            bright=1.0,
            output_bps=16,
            use_camera_wb=False,
            use_auto_wb=False,
            user_wb=[1.0, 1.0, 1.0, 1.0],
            user_flip=0,
            highlight_mode=rawpy.HighlightMode.Clip,
            adjust_maximum_thr=0.0,
            half_size=False,
            four_color_rgb=False,
            median_filter_passes=0,
        )
    if out.shape[:2] != mosaic.shape:
        raise RuntimeError(f"LibRaw returned {out.shape}, expected {mosaic.shape} x 3")
    out = out.astype(np.float32)
    # scale_colors truncates to an integer: put back half an output LSB on average (zeros stay 0).
    out[out > 0] += 0.5
    return np.minimum(out / 65535, 1.0).astype(np.float32)


def _libraw_method(algorithm: str) -> Callable[[np.ndarray], np.ndarray]:
    def method(mosaic: np.ndarray) -> np.ndarray:
        return libraw(mosaic, algorithm)

    method.__name__ = f"libraw_{algorithm.lower()}"
    return method


METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "bilinear": bilinear,
    "malvar": malvar,
    "menon": menon,
    **{f"libraw-{a.lower()}": _libraw_method(a) for a in LIBRAW_ALGORITHMS},
}
"""Every baseline by name: mosaic -> RGB."""


# --------------------------------------------------------------------------------------------------
# Methods on the sRGB-encoded mosaic (the literature's protocol): interpolation errors in dark regions are
# no longer blown up by the transfer curve afterwards.


def in_srgb(method: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``method`` run on the sRGB-encoded linear mosaic, its result decoded back to linear."""

    def encoded(mosaic: np.ndarray) -> np.ndarray:
        return srgb_to_linear(np.clip(method(linear_to_srgb(np.clip(mosaic, 0, 1))), 0, 1))

    return encoded


@functools.cache
def _demosaicnet() -> object:
    import demosaicnet  # benchmark-only extra: pip install -e ".[bench]"

    return demosaicnet.BayerDemosaick(pretrained=True, pad=True).eval()


def demosaicnet_bayer(mosaic: np.ndarray) -> np.ndarray:
    """Gharbi et al. 2016, the pretrained Bayer network of `pip install demosaicnet` (demosaicks only), on the
    mosaic as given (wrap it in :func:`in_srgb` for the protocol it was trained under)."""
    # demosaicnet expects GRBG: one reflected column on the left turns RGGB into it.
    shifted = np.pad(_check(mosaic), ((0, 0), (1, 1)), mode="reflect")
    planes = np.zeros((3, *shifted.shape), np.float32)
    planes[0, 0::2, 1::2] = shifted[0::2, 1::2]  # red
    planes[1, 0::2, 0::2] = shifted[0::2, 0::2]  # green
    planes[1, 1::2, 1::2] = shifted[1::2, 1::2]
    planes[2, 1::2, 0::2] = shifted[1::2, 0::2]  # blue
    with torch.inference_mode():
        rgb = _demosaicnet()(torch.from_numpy(planes)[None])[0]
    return rgb[:, :, 1:-1].permute(1, 2, 0).numpy().astype(np.float32)


SRGB_DOMAIN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "malvar-srgb": in_srgb(malvar),
    "menon-srgb": in_srgb(menon),
    "demosaicnet-srgb": in_srgb(demosaicnet_bayer),
}
METHODS.update(SRGB_DOMAIN)


# --------------------------------------------------------------------------------------------------
# Benchmark


def read_srgb(path: str | Path) -> np.ndarray:
    """An 8-bit sRGB image as float32 H x W x 3 in [0, 1], cropped to even H and W."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    return rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]


def score(
    method: Callable[[np.ndarray], np.ndarray], srgb: np.ndarray, linear: bool = True, border: int = 10
) -> tuple[float, float]:
    """PSNR (RGB, peak 1, ``border`` px ignored) of one method on one sRGB image in [0, 1], and the
    seconds the method itself took.

    ``linear=True``: sRGB -> exact inverse curve -> RGGB mosaic -> method -> clip [0, 1] -> sRGB curve.
    ``linear=False`` (literature protocol): mosaic of the sRGB values -> method -> clip [0, 1].
    """
    mosaic = mosaic_rggb(srgb_to_linear(srgb) if linear else srgb)
    started = time.perf_counter()
    result = method(mosaic)
    seconds = time.perf_counter() - started
    result = np.clip(result, 0, 1)
    if linear:
        result = linear_to_srgb(result)
    return psnr(srgb, result, border), seconds


def benchmark(
    folder: str | Path,
    methods: Iterable[str] | None = None,
    linear: bool = True,
    limit: int | None = None,
    border: int = 10,
) -> dict[str, dict[str, float]]:
    """Mean PSNR and seconds per image of each method in :data:`METHODS` on a folder of images.

    ``linear`` picks the protocol (see :func:`score`); ``limit`` takes the first images only
    (natural order: 1, 2, ..., 10). Returns ``{method: {"psnr": mean dB, "seconds": mean method
    time per image, "images": n}}``.
    """
    paths = [p for p in Path(folder).iterdir() if p.suffix.lower() in {".png", ".tif", ".bmp"}]
    paths = sorted(paths, key=lambda p: (len(p.stem), p.stem))[:limit]
    images = [read_srgb(p) for p in paths]
    results = {}
    for name in methods or METHODS:
        METHODS[name](mosaic_rggb(images[0][:64, :64]))  # warm-up: imports, first-call overheads
        scores, seconds = np.array([score(METHODS[name], srgb, linear, border) for srgb in images]).T
        results[name] = {"psnr": float(np.mean(scores)), "seconds": float(np.mean(seconds)), "images": len(images)}
    return results


# --------------------------------------------------------------------------------------------------
# Self-check of the LibRaw round trip


def self_check(path: str | Path = TEST_DATA / "Kodak24" / "kodim19.png", border: int = 10) -> dict:
    """Verify the LibRaw wrapper on a 768 x 512 crop of ``path``; raises AssertionError on failure.

    (1) LibRaw LINEAR vs :func:`bilinear`: PSNR of the sRGB-encoded results (away from the border)
    > 40 dB; (2) at every CFA site LibRaw's output of the sampled channel equals the input sample
    within 1/60000 (no channel swap, no shift); (3) mean ratio LibRaw / input ~ 1 per channel.
    Also checks the noisy case: negatives are clipped to 0 and nothing else changes.
    """
    srgb = read_srgb(path)
    h, w = srgb.shape[:2]
    if h > w:  # kodim19 is portrait: take 768 rows x 512 columns
        crop = srgb[(h - 768) // 2 : (h - 768) // 2 + 768, (w - 512) // 2 : (w - 512) // 2 + 512]
    else:
        crop = srgb[(h - 512) // 2 : (h - 512) // 2 + 512, (w - 768) // 2 : (w - 768) // 2 + 768]
    lin = srgb_to_linear(crop)
    mosaic = mosaic_rggb(lin)
    inner = (slice(border, -border), slice(border, -border))
    report: dict = {"shape": crop.shape[:2]}

    ours = bilinear(mosaic)
    lr = libraw(mosaic, "LINEAR")
    report["linear_vs_bilinear_psnr_srgb"] = psnr(linear_to_srgb(np.clip(ours, 0, 1))[inner], linear_to_srgb(lr)[inner])
    report["linear_vs_bilinear_psnr_srgb_with_border"] = psnr(linear_to_srgb(np.clip(ours, 0, 1)), linear_to_srgb(lr))
    report["linear_vs_bilinear_psnr_linear"] = psnr(np.clip(ours, 0, 1)[inner], lr[inner])
    report["linear_vs_bilinear_max_abs_x60000"] = float(np.abs(lr - ours)[inner].max()) * SPAN
    report["linear_vs_bilinear_mean_ratio"] = [
        float(lr[..., c][inner].mean() / ours[..., c][inner].mean()) for c in range(3)
    ]
    report["bilinear_mean_ratio_vs_truth"] = [
        float(ours[..., c][inner].mean() / lin[..., c][inner].mean()) for c in range(3)
    ]

    sites = {"R (0,0)": (0, 0, 0), "G (0,1)": (0, 1, 1), "G (1,0)": (1, 0, 1), "B (1,1)": (1, 1, 2)}
    quantised = np.clip(np.rint(BLACK + mosaic.astype(np.float64) * SPAN), 0, 65535)
    quantised = ((quantised - BLACK) / SPAN).astype(np.float32)
    report["max_site_error_x60000"] = {}
    report["max_site_error_vs_dng_dn_x60000"] = {}
    for algorithm in LIBRAW_ALGORITHMS:
        out = lr if algorithm == "LINEAR" else libraw(mosaic, algorithm)
        errors, errors_dn = {}, {}
        for label, (dy, dx, c) in sites.items():
            errors[label] = float(np.abs(out[dy::2, dx::2, c] - mosaic[dy::2, dx::2]).max()) * SPAN
            errors_dn[label] = float(np.abs(out[dy::2, dx::2, c] - quantised[dy::2, dx::2]).max()) * SPAN
        report["max_site_error_x60000"][algorithm] = errors
        report["max_site_error_vs_dng_dn_x60000"][algorithm] = errors_dn
        # Mean of the output over the CFA sites of each channel / mean of the input samples there.
        ratio = []
        for c, positions in ((0, [(0, 0)]), (1, [(0, 1), (1, 0)]), (2, [(1, 1)])):
            got = sum(float(out[dy::2, dx::2, c].mean()) for dy, dx in positions)
            ratio.append(got / sum(float(mosaic[dy::2, dx::2].mean()) for dy, dx in positions))
        report.setdefault("mean_ratio_at_sites", {})[algorithm] = ratio
        # Mean over all pixels (interpolated ones too) / ground truth: only informative (interpolation
        # of a real image is not mean-preserving; our bilinear gives the same +0.2..0.5 %).
        report.setdefault("mean_ratio_vs_truth", {})[algorithm] = [
            float(out[..., c][inner].mean() / lin[..., c][inner].mean()) for c in range(3)
        ]
        report.setdefault("psnr_vs_truth_srgb", {})[algorithm] = psnr(crop[inner], linear_to_srgb(out)[inner])

    # Noise: LibRaw clips negatives to 0 before demosaicking, i.e. it sees max(mosaic, 0).
    rng = np.random.default_rng(0)
    noisy = (mosaic + rng.normal(0, 0.01, mosaic.shape)).astype(np.float32)
    noisy_out = libraw(noisy, "LINEAR")
    clipped_out = libraw(np.clip(noisy, 0, 1), "LINEAR")
    report["noisy_negative_fraction"] = float((noisy < 0).mean())
    report["noisy_vs_preclipped_max_diff"] = float(np.abs(noisy_out - clipped_out).max())
    report["noisy_min_output"] = float(noisy_out.min())

    assert report["linear_vs_bilinear_psnr_srgb"] > 40, report
    for algorithm, errors in report["max_site_error_x60000"].items():
        assert max(errors.values()) <= 1.0, (algorithm, errors)
    for algorithm, ratio in report["mean_ratio_at_sites"].items():
        assert all(abs(r - 1) < 1e-4 for r in ratio), (algorithm, ratio)
    assert all(abs(r - 1) < 1e-4 for r in report["linear_vs_bilinear_mean_ratio"]), report
    assert report["noisy_vs_preclipped_max_diff"] == 0 and report["noisy_min_output"] >= 0, report
    return report


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", action="store_true", help="also run both protocols on Kodak24 and McMaster")
    parser.add_argument("--limit", type=int, default=None, help="images per dataset")
    parser.add_argument("--methods", nargs="*", default=None, choices=list(METHODS))
    parser.add_argument("--protocol", choices=("linear", "srgb", "both"), default="both")
    args = parser.parse_args()
    print(json.dumps(self_check(), indent=1))
    if args.bench:
        protocols = {"linear": [True], "srgb": [False], "both": [True, False]}[args.protocol]
        for dataset in ("Kodak24", "McMaster"):
            for linear in protocols:
                results = benchmark(TEST_DATA / dataset, args.methods, linear, args.limit)
                for name, r in results.items():
                    print(
                        f"{dataset:9s} {'linear' if linear else 'srgb':6s} {name:15s} "
                        f"{r['psnr']:6.2f} dB  {r['seconds']:.2f} s/img  (n={r['images']})",
                        flush=True,
                    )
