"""`enhance isp` as a RAW developer: highlights, exposure, white balance, DNG opcodes, colour spaces, EXIF and
denoise strength, on small synthetic DNGs written here (tifffile), through the command and the library."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms
from typer.testing import CliRunner

from enhance_cli.cli import app
from enhance_cli.colour_spaces import COLORSPACES, colour_space
from enhance_cli.dng_opcodes import (
    FixVignetteRadial,
    GainMap,
    Skipped,
    WarpRectilinear,
    encode_opcode_list,
    parse_opcode_list,
)
from enhance_cli.highlights import handle_highlights, saturation_levels
from enhance_cli.imageio import read_image
from enhance_cli.white_balance import parse_white_balance, planckian_xy
from tests.test_rawio import BLACK, COLOR_MATRIX, NEUTRAL, WHITE, write_dng

runner = CliRunner()
GAINS = 1 / np.array(NEUTRAL) / (1 / np.array(NEUTRAL)).min()  # the test camera's as-shot gains: 2, 1, 1.25
SIZE = (192, 256)
DISC_RADIUS = 48
EXIF_EXTRA = [
    (33437, "2I", 1, (28, 10), True),  # FNumber (TIFF/EP: in IFD0, as the test DNGs keep exposure data)
    (37386, "2I", 1, (35, 1), True),  # FocalLength
    (36867, "s", 0, "2024:05:06 07:08:09", True),  # DateTimeOriginal
    (42036, "s", 0, "Test Lens 35mm F2.8", True),  # LensModel
]


def enhance(*args):
    return runner.invoke(app, [str(a) for a in args])


def raw_dng(path: Path, camera: np.ndarray, saturation: int = WHITE, extra: list | None = None, **options) -> Path:
    """An RGGB DNG of camera RGB ``camera`` (H x W x 3, before white balance; 1 = the white level), clipped
    where the sensor saturates at ``saturation`` (DN)."""
    height, width = camera.shape[:2]
    mosaic = np.empty((height, width))
    mosaic[0::2, 0::2] = camera[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = camera[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = camera[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = camera[1::2, 1::2, 2]
    samples = np.clip(np.rint(BLACK + mosaic * (WHITE - BLACK)), 0, saturation).astype(np.uint16)
    return write_dng(path, samples, extra_tags=extra or (), **options)


def balanced(value: float | np.ndarray) -> np.ndarray:
    """Camera RGB that white balance turns into ``value`` (a grey level, or H x W x 3)."""
    return np.broadcast_to(np.asarray(value, np.float64), (*SIZE, 3)) / GAINS


def disc_scene() -> tuple[np.ndarray, np.ndarray]:
    """A mid-grey frame with a blown-out white disc (every channel 1.3 to 2.6 EV past saturation), its edge
    softened as a lens would (Gaussian, 0.7 px); and the distances from the disc's centre."""
    rows, columns = np.mgrid[: SIZE[0], : SIZE[1]]
    distance = np.hypot(rows - SIZE[0] / 2, columns - SIZE[1] / 2)
    white = np.where(distance < DISC_RADIUS, 6.0, 0.18)[..., None]
    return cv2.GaussianBlur(balanced(white).astype(np.float32), (0, 0), 0.7), distance


def develop(path: Path, tmp_path: Path, *args, name: str = "out.png") -> tuple[np.ndarray, dict]:
    output, report = tmp_path / name, tmp_path / f"{name}.json"
    result = enhance("isp", path, "-o", output, "--report", report, "-q", "--overwrite", *args)
    assert result.exit_code == 0, result.output
    entry = json.loads(report.read_text())["images"][0]
    return read_image(output).pixels, entry


def linear(pixels: np.ndarray) -> np.ndarray:
    return colour_space("srgb").decode(pixels)


# --- highlights ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("saturation", "shaded"),
    [(WHITE, False), (3800, False), (3800, True)],
    ids=["at-white-level", "below-white-level", "with-a-lens-shading-map"],
)
def test_blown_highlights_come_out_white_without_a_rim(tmp_path, saturation, shaded):
    """The GoPro case: white balance gains 2/1/1.25, a sensor that saturates below its stated white level
    (which turned LibRaw-style clipping pink), and a GainMap opcode as the GoPro's DNG carries."""
    scene, distance = disc_scene()
    extra = []
    if shaded:
        maps = [
            GainMap(t, u, *SIZE, 0, 1, 2, 2, (0.5, 0.5), (0.0, 0.0), SHADING[..., None]) for t in (0, 1) for u in (0, 1)
        ]
        opcodes = encode_opcode_list(maps)
        extra = [(51009, 7, len(opcodes), opcodes, True)]
    path = raw_dng(tmp_path / "sky.dng", scene, saturation=saturation, extra=extra)
    pixels, entry = develop(path, tmp_path)
    assert entry["highlights"]["mode"] == "reconstruct" and entry["highlights"]["clipped_share"] > 0.1
    values = np.round(pixels * 255)
    ratio = values.max(axis=-1) / np.maximum(values.min(axis=-1), 1)
    inner = distance < DISC_RADIUS - 3
    assert values[inner].mean() > 250  # white, not grey
    assert ratio[inner].max() <= 1.03
    coloured = [r for r in range(DISC_RADIUS - 8, DISC_RADIUS + 9) if np.median(ratio[np.floor(distance) == r]) > 1.05]
    assert len(coloured) <= 2, coloured
    background = distance > DISC_RADIUS + 10
    assert ratio[background].mean() < 1.03


def test_every_highlight_mode_keeps_a_blown_disc_neutral(tmp_path):
    scene, distance = disc_scene()
    path = raw_dng(tmp_path / "sky.dng", scene, saturation=3800)
    inner = distance < DISC_RADIUS - 3
    for mode in ("clip", "blend"):
        pixels, entry = develop(path, tmp_path, "--highlights", mode, name=f"{mode}.png")
        assert entry["highlights"]["mode"] == mode
        values = np.round(pixels[inner] * 255)
        assert (values.max(axis=-1) / values.min(axis=-1)).max() <= 1.03


def test_saturation_is_found_where_samples_pile_up_below_the_white_level():
    rng = np.random.default_rng(0)
    mosaic = rng.uniform(0, 0.9, (200, 300)).astype(np.float32)
    mosaic[50:100, 50:150] = 0.95  # a blown area, all channels
    levels = saturation_levels(mosaic)
    np.testing.assert_allclose(levels, 0.95, atol=1e-6)
    assert np.all(saturation_levels(rng.uniform(0, 0.9, (200, 300)).astype(np.float32)) == 1)  # no pile-up


def test_reconstruct_rebuilds_one_clipped_channel_from_the_colour_around_it():
    """An orange gradient whose red clips: red comes back from green with the unclipped pixels' ratio."""
    truth = np.zeros((64, 64, 3), np.float32)
    ramp = np.linspace(0.2, 1.6, 64, dtype=np.float32)[None, :]
    truth[..., 0], truth[..., 1], truth[..., 2] = 1.0 * ramp, 0.5 * ramp, 0.2 * ramp
    recorded = np.minimum(truth, 1.0)
    clipped = truth >= 1.0
    rebuilt = handle_highlights(recorded, clipped, 1.0, "reconstruct")
    np.testing.assert_allclose(rebuilt[clipped[..., 0]][:, 0], truth[clipped[..., 0]][:, 0], rtol=0.03)
    np.testing.assert_allclose(rebuilt[~clipped.any(axis=-1)], recorded[~clipped.any(axis=-1)], rtol=1e-5)
    assert np.all(handle_highlights(recorded, clipped, 1.0, "clip") <= 1.0)


# --- exposure ----------------------------------------------------------------------------------------------


def test_baseline_exposure_doubles_linear_light_and_exposure_minus_one_undoes_it(tmp_path):
    ramp = np.linspace(0.04, 0.3, SIZE[1])[None, :, None] * np.ones((SIZE[0], 1, 1))
    scene = np.array(balanced(ramp))
    plain = raw_dng(tmp_path / "plain.dng", scene)
    brighter = raw_dng(tmp_path / "plus1.dng", scene, extra=[(50730, "2i", 1, (1, 1), True)])
    base, _ = develop(plain, tmp_path, "--tone", "neutral", "--bits", "16", name="plain.png")
    lifted, entry = develop(brighter, tmp_path, "--tone", "neutral", "--bits", "16", name="plus1.png")
    assert entry["exposure"] == {"asked": 0.0, "baseline_exposure": 1.0, "applied_ev": 1.0}
    inner = (slice(8, -8), slice(8, -8))
    ratio = linear(lifted[inner]).mean() / linear(base[inner]).mean()
    assert ratio == pytest.approx(2.0, rel=0.05)
    undone, entry = develop(brighter, tmp_path, "--tone", "neutral", "--bits", "16", "--exposure", "-1", name="u.png")
    assert entry["exposure"]["applied_ev"] == 0.0
    np.testing.assert_allclose(undone, base, atol=1e-4)


def test_auto_exposure_brings_a_dark_frame_up_without_clipping(tmp_path):
    ramp = np.linspace(0.005, 0.05, SIZE[1])[None, :, None] * np.ones((SIZE[0], 1, 1))
    pixels, entry = develop(raw_dng(tmp_path / "dark.dng", balanced(ramp)), tmp_path, "--exposure", "auto")
    assert entry["exposure"]["asked"] == "auto" and 1.5 < entry["exposure"]["applied_ev"] <= 3
    assert (pixels >= 1).mean() < 0.01


# --- white balance -----------------------------------------------------------------------------------------


def camera_from_output(pixels: np.ndarray, camera_to_srgb: np.ndarray) -> np.ndarray:
    """Mean white-balanced camera RGB behind a neutral-tone output's central patch."""
    centre = linear(pixels[64:128, 96:160]).reshape(-1, 3).mean(axis=0)
    return np.linalg.solve(camera_to_srgb, centre)


def test_wb_multipliers_scale_the_channels_as_given(tmp_path):
    from enhance_cli.rawio import read_raw

    path = raw_dng(tmp_path / "flat.dng", np.full((*SIZE, 3), 0.15))
    matrix = read_raw(path).camera_to_srgb
    unit, entry = develop(path, tmp_path, "--tone", "neutral", "--bits", "16", "--wb", "1,1,1", name="unit.png")
    given, entry = develop(path, tmp_path, "--tone", "neutral", "--bits", "16", "--wb", "2,1,1.5", name="given.png")
    assert entry["white_balance"] == {"asked": "2,1,1.5", "used": "given multipliers", "gains": [2.0, 1.0, 1.5]}
    ratio = camera_from_output(given, matrix) / camera_from_output(unit, matrix)
    np.testing.assert_allclose(ratio / ratio[1], [2.0, 1.0, 1.5], rtol=0.02)


def test_wb_kelvin_neutralises_that_light(tmp_path):
    x, y = 0.3135, 0.3237  # the Planckian locus at 6500 K (CIE 1931)
    camera = np.reshape(COLOR_MATRIX, (3, 3)) @ np.array([x / y, 1.0, (1 - x - y) / y])
    path = raw_dng(tmp_path / "lit.dng", np.broadcast_to(0.3 * camera / camera.max(), (*SIZE, 3)))
    as_shot, _ = develop(path, tmp_path, "--tone", "neutral", name="shot.png")
    pixels, entry = develop(path, tmp_path, "--tone", "neutral", "--wb", "6500", name="6500.png")
    assert entry["white_balance"]["used"] == "6500 K"
    colour = pixels[32:-32, 32:-32].reshape(-1, 3).mean(axis=0)
    assert colour.max() / colour.min() < 1.02
    before = as_shot[32:-32, 32:-32].reshape(-1, 3).mean(axis=0)
    assert before.max() / before.min() > 1.1  # as shot, the light was not neutral


def test_planckian_locus_matches_published_chromaticities():
    np.testing.assert_allclose(planckian_xy(6500), (0.3135, 0.3237), atol=5e-4)
    # CIE illuminant A: 2856 K on the old radiation constant, which the locus approximation predates.
    np.testing.assert_allclose(planckian_xy(2856), (0.4476, 0.4074), atol=1e-3)


@pytest.mark.parametrize("value", ["100", "99999", "2,1", "0,1,1", "nan,1,1", "purple", ""])
def test_bad_white_balance_is_a_usage_error_before_any_work(tmp_path, value):
    with pytest.raises(ValueError):
        parse_white_balance(value)
    output = tmp_path / "out.png"
    result = enhance("isp", tmp_path / "missing.dng", "-o", output, "--wb", value)
    assert result.exit_code == 2 and "--wb" in result.output
    assert not output.exists()


@pytest.mark.parametrize(("option", "value"), [("--exposure", "nan"), ("--exposure", "11"), ("--denoise", "2.5")])
def test_bad_exposure_or_denoise_is_a_usage_error(tmp_path, option, value):
    result = enhance("isp", tmp_path / "missing.dng", option, value)
    assert result.exit_code == 2 and option in result.output


# --- DNG opcodes -------------------------------------------------------------------------------------------

SHADING = np.array([[2.0, 1.5, 2.0], [1.5, 1.0, 1.5], [2.0, 1.5, 2.0]], np.float32)  # corners 1 EV up


def hand_gain(row: float, column: float) -> float:
    """The 3x3 map's bilinear gain at a pixel centre, by interpolating along each axis in turn."""
    y, x = (row + 0.5) / SIZE[0] / 0.5, (column + 0.5) / SIZE[1] / 0.5
    across = [np.interp(x, [0, 1, 2], SHADING[i]) for i in range(3)]
    return float(np.interp(y, [0, 1, 2], across))


@pytest.mark.parametrize("per_phase", [False, True], ids=["one-map", "a-map-per-bayer-phase"])
def test_gain_map_opcode_is_applied_like_libraw_with_the_map_applied_by_hand(tmp_path, per_phase):
    """One map for every pixel, or one per Bayer phase (every second row and column) as phones write them."""
    rawpy = pytest.importorskip("rawpy")
    phases = [(0, 0), (0, 1), (1, 0), (1, 1)] if per_phase else [(0, 0)]
    pitch = 2 if per_phase else 1
    maps = [GainMap(t, u, *SIZE, 0, 1, pitch, pitch, (0.5, 0.5), (0.0, 0.0), SHADING[..., None]) for t, u in phases]
    opcodes = encode_opcode_list([*maps, Skipped(4, True)])  # and a FixBadPixelsConstant we do not apply
    path = raw_dng(tmp_path / "shaded.dng", balanced(0.1), extra=[(51009, 7, len(opcodes), opcodes, True)])
    pixels, entry = develop(path, tmp_path, "--tone", "neutral", "--bits", "16")
    assert entry["dng_opcodes"] == {"applied": ["GainMap"] * len(maps), "skipped": ["FixBadPixelsConstant"]}
    with rawpy.imread(str(path)) as raw:
        libraw = raw.postprocess(gamma=(1, 1), no_auto_bright=True, output_bps=16, use_camera_wb=True) / 65535
    corner, centre = (slice(4, 12), slice(4, 12)), (slice(92, 100), slice(124, 132))
    ours = linear(pixels[corner]).mean() / linear(pixels[centre]).mean()
    by_hand = libraw[corner].mean() * hand_gain(7.5, 7.5) / (libraw[centre].mean() * hand_gain(95.5, 127.5))
    assert ours == pytest.approx(by_hand, rel=0.03)
    assert ours > 1.8  # the corners were brightened, not left 1 EV dark


def test_opcodes_round_trip_and_damage_is_refused():
    opcodes = [
        GainMap(0, 1, 10, 20, 0, 1, 2, 2, (0.5, 0.25), (0.0, 0.1), np.ones((3, 5, 1), np.float32)),
        FixVignetteRadial((0.1, 0.0, 0.0, 0.0, 0.0), (0.5, 0.5)),
        WarpRectilinear(np.array([[1.0, 0.01, 0.0, 0.0, 0.0, 0.0]]), (0.5, 0.5)),
        Skipped(6, False),
    ]
    parsed = parse_opcode_list(encode_opcode_list(opcodes))
    assert [op.name for op in parsed] == ["GainMap", "FixVignetteRadial", "WarpRectilinear", "TrimBounds"]
    assert parsed[0].spacing == (0.5, 0.25) and parsed[0].gains.shape == (3, 5, 1)
    with pytest.raises(ValueError):
        parse_opcode_list(encode_opcode_list(opcodes)[:-10])


# --- colour spaces, metadata -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chart_dng(tmp_path_factory) -> Path:
    """Saturated and pastel patches inside sRGB's gamut, with full shooting data."""
    folder = tmp_path_factory.mktemp("chart")
    colours = [(0.6, 0.2, 0.1), (0.1, 0.4, 0.15), (0.1, 0.15, 0.5), (0.4, 0.4, 0.1), (0.3, 0.3, 0.3), (0.5, 0.3, 0.4)]
    scene = np.zeros((*SIZE, 3))
    for index, colour in enumerate(colours):
        scene[:, index * SIZE[1] // 6 : (index + 1) * SIZE[1] // 6] = colour
    return raw_dng(folder / "chart.dng", balanced(scene), extra=EXIF_EXTRA)


@pytest.mark.parametrize("fmt", ["png", "tiff", "jpeg", "webp"])
@pytest.mark.parametrize("space", COLORSPACES)
def test_every_format_embeds_the_profile_of_the_chosen_space(chart_dng, tmp_path, fmt, space):
    output = tmp_path / f"out.{fmt}"
    result = enhance("isp", chart_dng, "-o", output, "--colorspace", space, "-q", "--tile", "0")
    assert result.exit_code == 0, result.output
    with Image.open(output) as image:
        assert image.info.get("icc_profile") == colour_space(space).icc_profile
    if space == "prophoto" and fmt in ("jpeg", "webp"):
        assert "posterises" in result.output


@pytest.mark.parametrize("space", ["display-p3", "adobe-rgb", "prophoto"])
def test_colours_agree_with_a_littlecms_conversion(chart_dng, tmp_path, space):
    """littleCMS, reading the embedded profile, turns our output back into our sRGB output."""
    srgb, _ = develop(chart_dng, tmp_path, "--tone", "neutral", name="srgb.png")
    wide = tmp_path / "wide.png"
    assert (
        enhance("isp", chart_dng, "-o", wide, "--colorspace", space, "--bits", "8", "--tone", "neutral").exit_code == 0
    )
    with Image.open(wide) as image:
        source = ImageCms.ImageCmsProfile(BytesIO(image.info["icc_profile"]))
        target = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(
            image, source, target, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC
        )
        converted = np.asarray(converted, np.float64)
    gap = np.abs(converted - np.round(srgb * 255))[8:-8, 8:-8]
    # 8-bit samples of a wider space are coarser steps in sRGB: ProPhoto's are about 2 sRGB levels.
    assert np.median(gap) <= 1 and np.percentile(gap, 99) <= (3 if space == "prophoto" else 1.5)


def test_prophoto_writes_16_bits_by_default(chart_dng, tmp_path):
    output = tmp_path / "wide.png"
    assert enhance("isp", chart_dng, "-o", output, "--colorspace", "prophoto", "-q").exit_code == 0
    assert read_image(output).bits == 16


@pytest.mark.parametrize("bits", [8, 16])
def test_tiff_output_keeps_the_shooting_data(chart_dng, tmp_path, bits):
    output = tmp_path / "out.tif"
    assert enhance("isp", chart_dng, "-o", output, "--bits", bits, "-q").exit_code == 0
    with Image.open(output) as image:
        exif = image.getexif()
        shooting = exif.get_ifd(0x8769)
    assert exif[271] == "Testmaker" and exif[272] == "Test camera"
    assert shooting[33434] == pytest.approx(1 / 125) and shooting[33437] == pytest.approx(2.8)
    assert shooting[34855] == 200 and shooting[37386] == pytest.approx(35)
    assert shooting[42036] == "Test Lens 35mm F2.8" and shooting[36867] == "2024:05:06 07:08:09"
    assert read_image(output).bits == bits  # the sub-IFD did not disturb the pixels' file


# --- denoise strength ------------------------------------------------------------------------------------


def test_denoise_strength_keeps_more_grain_when_lowered(tmp_path):
    rng = np.random.default_rng(1)
    scene = balanced(0.2) * (1 + 0.08 * rng.standard_normal((*SIZE, 3)))
    path = raw_dng(tmp_path / "grainy.dng", scene)
    grain = {}
    for strength in ("0", "0.5", "1"):
        pixels, entry = develop(path, tmp_path, "--tone", "neutral", "--denoise", strength, name=f"{strength}.png")
        assert entry["denoise"] == float(strength)
        green = pixels[16:-16, 16:-16, 1].astype(np.float64)
        grain[strength] = np.std(green - cv2.GaussianBlur(green, (0, 0), 2))
    # isp v3 denoises partly blind (its trunk learned to), so the map's strength moves it less than v2's:
    # 0 keeps 16% more grain than 1 here, and 0.5 about what 1 does (v2: 1.3x at each step).
    assert grain["0"] > 1.1 * grain["1"] and grain["0"] > 1.1 * grain["0.5"], grain


def test_a_damaged_opcode_list_is_named_in_the_report_and_the_image_still_develops(tmp_path):
    gain_map = GainMap(0, 0, *SIZE, 0, 1, 1, 1, (0.5, 0.5), (0.0, 0.0), SHADING[..., None])
    damaged = encode_opcode_list([gain_map])[:-12]
    path = raw_dng(tmp_path / "cut.dng", balanced(0.1), extra=[(51009, 7, len(damaged), damaged, True)])
    pixels, entry = develop(path, tmp_path)
    assert entry["dng_opcodes"]["applied"] == []
    assert entry["dng_opcodes"]["skipped"][0].startswith("OpcodeList2 (damaged:")
    assert pixels.shape == (*SIZE, 3)


# --- lens corrections from lensfun -------------------------------------------------------------------------

LENS_EXIF = [
    (271, "s", 0, "Canon", True),
    (272, "s", 0, "Canon EOS 5D Mark II", True),
    (42036, "s", 0, "Canon EF 24-105mm f/4L IS USM", True),  # LensModel
    (37386, "2I", 1, (24, 1), True),  # FocalLength
    (33437, "2I", 1, (4, 1), True),  # FNumber
]


def test_lens_auto_corrects_vignetting_as_lensfun_does(tmp_path):
    lensfunpy = pytest.importorskip("lensfunpy")
    path = raw_dng(tmp_path / "canon.dng", balanced(0.1), extra=LENS_EXIF)
    plain, _ = develop(path, tmp_path, "--tone", "neutral", "--bits", "16", name="plain.png")
    corrected, entry = develop(path, tmp_path, "--tone", "neutral", "--bits", "16", "--lens", "auto", name="c.png")
    assert entry["lens"]["used"].startswith("Canon EF 24-105mm f/4L IS USM on Canon EOS 5D Mark II, 24 mm f/4")
    # lensfun's own factor on a flat field of the same size, camera and settings.
    database = lensfunpy.Database()
    camera = database.find_cameras("Canon", "Canon EOS 5D Mark II")[0]
    lens = database.find_lenses(camera, None, "Canon EF 24-105mm f/4L IS USM")[0]
    modifier = lensfunpy.Modifier(lens, camera.crop_factor, SIZE[1], SIZE[0])
    modifier.initialize(24, 4, 10, pixel_format=np.float32)
    flat = np.ones((*SIZE, 3), np.float32)
    modifier.apply_color_modification(flat)
    # The distortion correction moves each pixel's source, and the vignetting gain with it.
    source = modifier.apply_subpixel_geometry_distortion()[..., 1, :]
    flat = cv2.remap(flat[..., 1], source[..., 0], source[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    corner, centre = (slice(6, 14), slice(6, 14)), (slice(92, 100), slice(124, 132))
    ours = (linear(corrected[corner]).mean() / linear(plain[corner]).mean()) / (
        linear(corrected[centre]).mean() / linear(plain[centre]).mean()
    )
    assert ours == pytest.approx(flat[corner].mean() / flat[centre].mean(), rel=0.03)
    assert ours > 1.3


def test_lens_auto_without_a_named_lens_changes_nothing_and_says_why(tmp_path):
    pytest.importorskip("lensfunpy")
    path = raw_dng(tmp_path / "anonymous.dng", balanced(0.1))
    plain, _ = develop(path, tmp_path, name="plain.png")
    same, entry = develop(path, tmp_path, "--lens", "auto", name="same.png")
    assert entry["lens"] == {"asked": "auto", "used": None, "why": "the file does not name its camera and lens"}
    np.testing.assert_array_equal(same, plain)


def test_lens_auto_without_lensfunpy_is_a_usage_error(tmp_path, monkeypatch):
    import enhance_cli.develop

    monkeypatch.setattr(enhance_cli.develop, "lensfun_available", lambda: False)
    path = raw_dng(tmp_path / "canon.dng", balanced(0.1), extra=LENS_EXIF)
    result = enhance("isp", path, "-o", tmp_path / "out.png", "--lens", "auto")
    assert result.exit_code == 2 and "lensfunpy" in result.output
    assert not (tmp_path / "out.png").exists()
