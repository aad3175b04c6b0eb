"""Tests for enhance_cli.rawio: small synthetic DNGs made here with tifffile, plus real camera files when present."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

rawpy = pytest.importorskip("rawpy")

from enhance_cli.cfa import XTRANS, align_mosaic  # noqa: E402
from enhance_cli.colour import srgb_to_linear  # noqa: E402
from enhance_cli.imageio import ImageError  # noqa: E402
from enhance_cli.rawio import (  # noqa: E402
    RAW_SUFFIXES,
    RawError,
    RawImage,
    _cfa_indices,
    _white_balance,
    apply_orientation,
    camera_to_srgb_from_xyz,
    libraw_reference,
    read_raw,
    srgb_encode,
)
from tests.conftest import SAMPLE_RAW, SHARED_DATA  # noqa: E402

RAW_DATA = SHARED_DATA / "raw"
needs_real_files = pytest.mark.shared_data("raw")

# Colour indices as LibRaw numbers them: 0 red, 1 green, 2 blue (a DNG's CFAPattern uses the same codes).
CFA_CODES = {"RGGB": (0, 1, 1, 2), "GRBG": (1, 0, 2, 1), "GBRG": (1, 2, 0, 1), "BGGR": (2, 1, 1, 0)}
BLACK, WHITE = 64, 4000
NEUTRAL = (0.5, 1.0, 0.8)  # AsShotNeutral: the gains are its inverse
COLOR_MATRIX = (0.8, -0.2, -0.1, -0.4, 1.2, 0.2, -0.1, 0.2, 0.6)  # XYZ -> camera, row by row
LINEAR_DEMOSAIC = {"demosaic_algorithm": rawpy.DemosaicAlgorithm.LINEAR, "output_bps": 16, "no_auto_bright": True}


def rationals(values, denominator: int = 10000) -> list[int]:
    return [number for value in values for number in (int(round(value * denominator)), denominator)]


def write_dng(path: Path, data: np.ndarray, cfa=(0, 1, 1, 2), repeat=(2, 2), orientation: int = 1, **options) -> Path:
    """A minimal DNG LibRaw reads: CFA (or LinearRaw) samples, levels, as-shot neutral, matrix, and a few EXIF tags;
    ``extra_tags`` (tifffile's tuples) add to or replace them."""
    photometric = options.pop("photometric", 32803)
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (271, "s", 0, "Testmaker", True),
        (272, "s", 0, "Test camera", True),
        (50708, "s", 0, "Testmaker Test camera", True),  # UniqueCameraModel
        (274, "H", 1, orientation, True),
        (50714, "H", 1, BLACK, True),
        (50717, "H", 1, WHITE, True),
        (50721, "2i", 9, rationals(COLOR_MATRIX), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, rationals(NEUTRAL), True),
        # TIFF/EP keeps exposure tags in IFD0, as Kodak's KDC does; a zero FNumber means "unknown".
        (33434, "2I", 1, (1, 125), True),
        (33437, "2I", 1, (0, 10), True),
        (34855, "H", 1, 200, True),
    ]
    extra = options.pop("extra_tags", ())
    tags = [tag for tag in tags if tag[0] not in {code for code, *_ in extra}] + list(extra)
    if photometric == 32803:
        tags += [(33421, "H", 2, repeat, True), (33422, "B", len(cfa), cfa, True)]
        if "plane_colors" in options:
            tags.append((50710, "B", len(options["plane_colors"]), options.pop("plane_colors"), True))
    tifffile.imwrite(path, data, photometric=photometric, extratags=tags, metadata=None, software=False)
    return path


def bayer_samples(height: int = 64, width: int = 96) -> np.ndarray:
    return np.random.default_rng(0).integers(BLACK - 20, WHITE, (height, width)).astype(np.uint16)


def libraw_linear(path: Path, **options) -> np.ndarray:
    with rawpy.imread(str(path)) as raw:
        return raw.postprocess(gamma=(1, 1), adjust_maximum_thr=0.0, **LINEAR_DEMOSAIC, **options)


def read_exif(block: bytes) -> tuple[dict, dict]:
    exif = Image.Exif()
    exif.load(block)
    return dict(exif), dict(exif.get_ifd(0x8769))


# --- synthetic DNGs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", sorted(CFA_CODES))
def test_bayer_dng_reads_normalised(tmp_path, pattern):
    samples = bayer_samples()
    picture = read_raw(write_dng(tmp_path / "bayer.dng", samples, cfa=CFA_CODES[pattern]))
    assert picture.pattern == pattern
    expected = (samples.astype(np.float64) - BLACK) / (WHITE - BLACK)
    assert picture.mosaic.dtype == np.float32 and picture.mosaic.shape == samples.shape
    np.testing.assert_allclose(picture.mosaic, expected, rtol=1e-6, atol=1e-7)
    assert picture.mosaic.min() < 0  # samples below black stay negative: real noise for a denoiser
    np.testing.assert_allclose(picture.white_balance, 1 / np.array(NEUTRAL) / (1 / np.array(NEUTRAL)).min())
    assert picture.orientation == 1 and picture.size == samples.shape and picture.notes == []


def test_dng_matrix_is_libraws(tmp_path):
    path = write_dng(tmp_path / "bayer.dng", bayer_samples())
    picture = read_raw(path)
    with rawpy.imread(str(path)) as raw:
        libraw_matrix = raw.color_matrix[:, :3]
    np.testing.assert_allclose(picture.camera_to_srgb, libraw_matrix, atol=1e-5)
    # LibRaw works in float32, hence the tolerance.
    np.testing.assert_allclose(camera_to_srgb_from_xyz(np.reshape(COLOR_MATRIX, (3, 3))), libraw_matrix, atol=1e-4)
    np.testing.assert_allclose(picture.camera_to_srgb.sum(axis=1), 1, atol=1e-5)  # camera white -> sRGB white


def test_dng_exif(tmp_path):
    picture = read_raw(write_dng(tmp_path / "bayer.dng", bayer_samples(), orientation=6))
    ifd0, exif_ifd = read_exif(picture.exif)
    assert ifd0[271] == "Testmaker" and ifd0[272] == "Test camera"
    assert ifd0[0x0112] == 1  # the developed pixels will be upright
    assert exif_ifd[33434] == pytest.approx(1 / 125) and exif_ifd[34855] == 200
    assert 33437 not in exif_ifd  # FNumber 0/10 is "unknown", not f/0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_libraw(tmp_path, orientation):
    """An odd-sized mosaic in every orientation: our size and rotation are LibRaw's."""
    path = write_dng(tmp_path / "turned.dng", bayer_samples(63, 95), cfa=CFA_CODES["GBRG"], orientation=orientation)
    picture = read_raw(path)
    assert picture.orientation == orientation
    assert picture.mosaic.shape == (63, 95)
    as_stored = libraw_linear(path, user_flip=0, use_camera_wb=True)
    turned = libraw_linear(path, use_camera_wb=True)
    assert picture.size == turned.shape[:2]
    np.testing.assert_array_equal(apply_orientation(as_stored, orientation), turned)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"data": np.full((64, 96, 3), 500, np.uint16), "photometric": 34892}, "already demosaiced"),
        ({"cfa": (1, 1, 0, 1, 1, 2) * 3 + (1, 1, 2, 1, 1, 0) * 3, "repeat": (6, 6)}, "X-Trans"),
        ({"cfa": (0, 1, 2, 3), "plane_colors": (3, 4, 5, 1)}, "only red, green and blue"),  # cyan, magenta, yellow
    ],
)
def test_refuses_what_is_not_an_rgb_bayer_mosaic(tmp_path, options, reason):
    options = {"data": bayer_samples(), **options}
    path = write_dng(tmp_path / "odd.dng", options.pop("data"), **options)
    with pytest.raises(RawError, match=reason) as caught:
        read_raw(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)
    assert isinstance(caught.value, ImageError)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"just some text, renamed\n" * 400, "not a camera RAW file LibRaw can read"),
    ],
)
def test_refuses_non_raw_files(tmp_path, content, reason):
    path = tmp_path / "fake.dng"
    path.write_bytes(content)
    with pytest.raises(RawError, match=reason):
        read_raw(path)


def test_refuses_truncated_and_missing_files(tmp_path):
    whole = write_dng(tmp_path / "whole.dng", bayer_samples()).read_bytes()
    truncated = tmp_path / "truncated.dng"
    truncated.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(RawError, match="not a camera RAW file LibRaw can read .*truncated"):
        read_raw(truncated)
    with pytest.raises(RawError, match="no such file"):
        read_raw(tmp_path / "absent.dng")


def fake_raw(pattern: np.ndarray | None, description: bytes = b"RGBG", flat: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        raw_type=rawpy.RawType.Flat if flat else rawpy.RawType.Stack,
        raw_pattern=pattern,
        color_desc=description,
        raw_colors_visible=None if pattern is None else np.tile(pattern, (2, 2)),
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (fake_raw(None, flat=False), "already demosaiced"),
        (fake_raw(np.zeros((1, 1), np.uint8)), "monochrome"),
        (fake_raw(np.zeros((16, 16), np.uint8)), "16x16 colour filter pattern"),
        (fake_raw(np.zeros((6, 6), np.uint8)), "do not form an X-Trans pattern"),
        (fake_raw(np.array([[0, 1], [3, 2]], np.uint8), b"RGBE"), "RGBE colour filters"),
        (fake_raw(np.array([[0, 1], [1, 0]], np.uint8)), "do not form a Bayer pattern"),
    ],
)
def test_cfa_checks(raw, reason):
    with pytest.raises(RawError, match=reason):
        _cfa_indices(raw, "cam.raw")


def test_an_xtrans_pattern_is_accepted_in_any_phase():
    layout = np.array([["RGB".index(letter) for letter in row] for row in XTRANS.rows], np.uint8)
    for shift in range(6):
        shifted = np.roll(layout, (shift, 2 * shift), axis=(0, 1))
        np.testing.assert_array_equal(_cfa_indices(fake_raw(shifted), "cam.raf"), shifted)


def test_raw_suffixes():
    assert {".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".kdc", ".crw"} <= RAW_SUFFIXES
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in RAW_SUFFIXES)


# --- helpers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", sorted(CFA_CODES))
@pytest.mark.parametrize(("height", "width"), [(6, 8), (7, 9), (6, 9), (7, 8)])
def test_align_mosaic_bayer(pattern, height, width):
    colours = np.array(CFA_CODES[pattern]).reshape(2, 2)
    colour_of = np.tile(colours, (height // 2 + 1, width // 2 + 1))[:height, :width]
    # Each sample tells its colour (hundreds) and where it came from, so mixing colours shows.
    mosaic = (colour_of * 1000 + np.arange(height * width).reshape(height, width)).astype(np.float32)
    padded, (top, left) = align_mosaic(mosaic, pattern)
    assert padded.shape[0] % 2 == 0 and padded.shape[1] % 2 == 0
    np.testing.assert_array_equal(padded[top : top + height, left : left + width], mosaic)
    colour = padded // 1000
    assert np.all(colour[0::2, 0::2] == 0) and np.all(colour[1::2, 1::2] == 2)
    assert np.all(colour[0::2, 1::2] == 1) and np.all(colour[1::2, 0::2] == 1)
    assert (top, left) == {"RGGB": (0, 0), "GRBG": (0, 1), "GBRG": (1, 0), "BGGR": (1, 1)}[pattern]


@pytest.mark.parametrize(("top", "left"), [(0, 0), (1, 4), (3, 3), (5, 2)])
@pytest.mark.parametrize(("height", "width"), [(30, 37), (31, 36), (25, 41)])
def test_align_mosaic_xtrans(top, left, height, width):
    """Any phase of Fuji's layout comes out in the networks' phase, whole periods, every sample of its colour."""
    layout = np.roll(XTRANS.channels, (-top, -left), axis=(0, 1))
    pattern = "".join("RGB"[index] for index in layout.ravel())
    colour_of = np.tile(layout, (height // 6 + 1, width // 6 + 1))[:height, :width]
    mosaic = (colour_of * 10_000 + np.arange(height * width).reshape(height, width)).astype(np.float32)
    padded, (pad_top, pad_left) = align_mosaic(mosaic, pattern)
    assert padded.shape[0] % 6 == 0 and padded.shape[1] % 6 == 0
    np.testing.assert_array_equal(padded[pad_top : pad_top + height, pad_left : pad_left + width], mosaic)
    np.testing.assert_array_equal(padded // 10_000, XTRANS.per_site(np.arange(3), padded.shape))


def test_align_mosaic_refuses_nonsense():
    with pytest.raises(ValueError, match="not a bayer pattern"):
        align_mosaic(np.zeros((4, 4), np.float32), "RGBG")
    with pytest.raises(ValueError, match="not a Bayer or X-Trans pattern"):
        align_mosaic(np.zeros((4, 4), np.float32), "RGB")


def test_srgb_encode():
    linear = np.array([-0.5, 0.0, 0.0031308, 0.18, 0.5, 1.0, 2.0])
    expected = [0.0, 0.0, 0.04045, 0.4613561, 0.7353569, 1.0, 1.0]
    encoded = srgb_encode(linear)
    assert encoded.dtype == np.float32
    np.testing.assert_allclose(encoded, expected, atol=2e-6)


def test_libraw_reference_is_srgb_encoded_linear(tmp_path):
    path = write_dng(tmp_path / "bayer.dng", bayer_samples())
    reference = libraw_reference(path, "LINEAR")
    linear = libraw_linear(path, use_camera_wb=True).astype(np.float32) / 65535
    assert reference.dtype == np.float32 and reference.shape == (64, 96, 3)
    np.testing.assert_allclose(reference, srgb_encode(linear), atol=1e-4)
    with pytest.raises(ValueError, match="unknown demosaic"):
        libraw_reference(path, "magic")


def test_apply_orientation_refuses_unknown_values():
    with pytest.raises(ValueError, match="1 to 8"):
        apply_orientation(np.zeros((2, 3)), 0)


def test_size_follows_pixel_aspect_then_orientation():
    picture = RawImage(np.zeros((10, 20), np.float32), "RGGB", np.ones(3), np.eye(3), 6, None, "x", pixel_aspect=0.5)
    assert picture.size == (20, 20)  # rows doubled as LibRaw stretches them, then turned
    picture.pixel_aspect = 1.5
    assert picture.size == (30, 10)


# --- real camera files ---------------------------------------------------------------------------------

REAL_FILES = {
    # name: (pattern, size, white balance, camera WB in the file, EXIF IFD0, Exif sub-IFD)
    "tinydng_colorchart.dng": (
        "RGGB",
        (1156, 1734),
        (2.477, 1.0, 1.694),
        True,
        {271: "Canon", 272: "Canon EOS Kiss X4"},
        {},  # its exposure tags are all zero (unknown): none is carried
    ),
    "RAW_CANON_D30_SRGB.CRW": (
        "RGGB",
        (1448, 2176),
        (1.226, 1.0, 1.269),  # grey edge: LibRaw marks the as-shot (auto) balance unusable
        False,
        {271: "Canon", 272: "EOS D30", 306: "2002:11:24 15:11:22", 315: "Marc-Andre Keune"},
        {33434: 0.004957, 33437: 10.95202, 34855: 100, 36867: "2002:11:24 15:11:22", 37386: 100.0},
    ),
    "RAW_KODAK_DC50.KDC": (
        "GRBG",
        (512, 768),
        (1.0, 1.0, 1.0),
        True,
        {271: "Eastman Kodak Company", 272: "Kodak Digital Science DC50 Zoom Camera", 306: "1997:04:23 08:00:47"},
        {33434: 0.00435, 33437: 6.2, 37386: 37.0},
    ),
}


def bilinear_demosaic(mosaic: np.ndarray, pattern: str) -> np.ndarray:
    """Plain bilinear demosaicing by normalised convolution: LibRaw's LINEAR, near enough for means."""
    padded, (top, left) = align_mosaic(mosaic, pattern)
    masks = np.zeros((3, *padded.shape), np.float32)
    masks[0, 0::2, 0::2] = masks[2, 1::2, 1::2] = 1
    masks[1, 0::2, 1::2] = masks[1, 1::2, 0::2] = 1
    red_blue = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32)
    green = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32)

    def convolve(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        edged = np.pad(plane, 1, mode="reflect")
        height, width = plane.shape
        return sum(kernel[y, x] * edged[y : y + height, x : x + width] for y in range(3) for x in range(3))

    planes = [convolve(padded * masks[c], k) / convolve(masks[c], k) for c, k in enumerate((red_blue, green, red_blue))]
    height, width = mosaic.shape
    return np.stack(planes, axis=-1)[top : top + height, left : left + width]


def real_file(name: str) -> Path:
    """A real camera file: the colour-chart DNG is the shipped sample, the others are in ../shared/data/raw."""
    return SAMPLE_RAW if name == "tinydng_colorchart.dng" else RAW_DATA / name


def real_file_names() -> list:
    return [pytest.param(n, marks=[] if real_file(n) == SAMPLE_RAW else needs_real_files) for n in sorted(REAL_FILES)]


@pytest.mark.parametrize("name", real_file_names())
def test_real_file_reads(name):
    pattern, size, white_balance, _, ifd0, exif_ifd = REAL_FILES[name]
    picture = read_raw(real_file(name))
    assert picture.pattern == pattern and picture.orientation == 1
    assert picture.mosaic.shape == size and picture.size == size
    np.testing.assert_allclose(picture.white_balance, white_balance, atol=2e-3)
    assert picture.camera_to_srgb.shape == (3, 3)
    found_ifd0, found_exif = read_exif(picture.exif)
    assert {code: found_ifd0.get(code) for code in ifd0} == ifd0
    assert sorted(found_exif) == sorted(exif_ifd)
    for code, value in exif_ifd.items():
        assert found_exif[code] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-4))


@pytest.mark.parametrize("name", real_file_names())
def test_real_file_develops_like_libraw(name):
    """Demosaic, white balance, clip, camera_to_srgb: per-channel means within 3% of LibRaw's linear output."""
    camera_wb = REAL_FILES[name][3]
    picture = read_raw(real_file(name))
    rgb = np.clip(bilinear_demosaic(picture.mosaic, picture.pattern) * picture.white_balance, 0, 1)
    ours = apply_orientation(np.clip(rgb @ picture.camera_to_srgb.T, 0, 1), picture.orientation)
    # Where the file's balance is unusable LibRaw guesses one (grey world); compare colour with the same gains.
    balance = {"use_camera_wb": True} if camera_wb else {"user_wb": [*picture.white_balance, picture.white_balance[1]]}
    libraw = libraw_linear(real_file(name), output_color=rawpy.ColorSpace.sRGB, **balance) / 65535
    assert libraw.shape == ours.shape
    ratios = ours.reshape(-1, 3).mean(axis=0) / libraw.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(ratios, 1, atol=0.03)


def test_real_dng_matrix_from_its_color_matrix_tag():
    path = SAMPLE_RAW
    with tifffile.TiffFile(path) as tiff:
        values = tiff.pages.first.tags.valueof(50721)
    cam_xyz = (np.array(values[0::2], np.float64) / np.array(values[1::2])).reshape(3, 3)
    np.testing.assert_allclose(camera_to_srgb_from_xyz(cam_xyz), read_raw(path).camera_to_srgb, atol=1e-4)


@needs_real_files
def test_real_kodak_matrix_comes_from_its_tag():
    """LibRaw reads the DC50's matrix from tag 37400 straight into rgb_cam, where rawpy cannot show it."""
    picture = read_raw(RAW_DATA / "RAW_KODAK_DC50.KDC")
    np.testing.assert_allclose(picture.camera_to_srgb[0], [1.8125, -0.3365, -0.476], atol=1e-4)
    assert picture.notes == []


@needs_real_files
def test_real_crw_estimated_balance_is_nearer_the_cameras_than_daylight_and_grey_world():
    """The D30 CRW has no as-shot balance. Developed with the grey-edge estimate, its colour (linear R/G and B/G
    of the whole picture) is nearer the camera's own JPEG than with the daylight gains (an orange cast) or
    with LibRaw's grey world (which the wooden background pulls too blue)."""
    path = RAW_DATA / "RAW_CANON_D30_SRGB.CRW"
    picture = read_raw(path)
    assert "no as-shot white balance in the file; estimated from the image (grey edge)" in picture.notes
    with rawpy.imread(str(path)) as raw:
        daylight = np.array(raw.daylight_whitebalance[:3])
        # LibRaw's own grey world; half size (2x2 cells as pixels) is plenty for channel means.
        options = {"output_color": rawpy.ColorSpace.sRGB, "gamma": (1, 1), "adjust_maximum_thr": 0.0}
        grey_world = raw.postprocess(use_auto_wb=True, half_size=True, **options, **LINEAR_DEMOSAIC) / 65535
    jpeg = np.asarray(Image.open(RAW_DATA / "RAW_CANON_D30_SRGB_camera_embedded.jpg").convert("RGB"))
    camera = srgb_to_linear(torch.from_numpy(jpeg / 255.0)).numpy()

    def colour(linear_srgb: np.ndarray) -> np.ndarray:
        red, green, blue = linear_srgb.reshape(-1, 3).mean(axis=0)
        return np.array([red / green, blue / green])

    def developed(gains: np.ndarray) -> np.ndarray:
        """Half-size development, as LibRaw's: each 2x2 cell is R, mean G, B; balance, clip, matrix."""
        mosaic, _ = align_mosaic(picture.mosaic, picture.pattern)
        cells = np.stack([mosaic[0::2, 0::2], (mosaic[0::2, 1::2] + mosaic[1::2, 0::2]) / 2, mosaic[1::2, 1::2]], -1)
        return np.clip(np.clip(cells * gains, 0, 1) @ picture.camera_to_srgb.T, 0, 1)

    target = colour(camera)
    distance = {
        name: np.linalg.norm(np.log(colour(linear) / target))
        for name, linear in (
            ("estimate", developed(picture.white_balance)),
            ("daylight", developed(daylight / daylight.min())),
            ("grey world", grey_world),
        )
    }
    assert distance["estimate"] < min(distance["daylight"], distance["grey world"]), distance


def fake_balance_raw(camera: list[float], daylight: list[float]) -> SimpleNamespace:
    return SimpleNamespace(camera_whitebalance=camera, daylight_whitebalance=daylight)


def test_white_balance_as_shot_is_kept():
    notes = []
    gains, source = _white_balance(fake_balance_raw([2.0, 1.0, 1.5, 1.0], [3.0, 1.0, 1.2, 1.0]), None, "RGGB", notes)
    np.testing.assert_allclose(gains, [2.0, 1.0, 1.5])
    assert source == "as-shot"
    assert notes == []


def test_white_balance_without_as_shot_falls_back_to_daylight_when_the_image_gives_no_estimate():
    notes = []
    flat = np.full((64, 96), 0.3, np.float32)
    gains, source = _white_balance(
        fake_balance_raw([-1.0, -1.0, -1.0, -1.0], [3.0, 1.5, 1.8, 1.5]), flat, "GRBG", notes
    )
    np.testing.assert_allclose(gains, [2.0, 1.0, 1.2])
    assert source == "daylight"
    assert notes == ["no as-shot white balance in the file and no estimate from the image; using the camera's daylight"]


def test_real_truncated_dng(tmp_path):
    truncated = tmp_path / "cut.dng"
    truncated.write_bytes(SAMPLE_RAW.read_bytes()[:10_000])
    with pytest.raises(RawError, match=r"cut\.dng: not a camera RAW file LibRaw can read \(truncated"):
        read_raw(truncated)


@needs_real_files
def test_real_libraw_reference():
    reference = libraw_reference(RAW_DATA / "RAW_KODAK_DC50.KDC", "PPG")
    assert reference.shape == (512, 768, 3) and reference.dtype == np.float32
    assert 0 <= reference.min() and reference.max() <= 1


def test_a_headerless_sensor_dump_is_refused_unless_the_size_guess_is_asked_for(tmp_path):
    """LibRaw takes a file of 786,432 bytes with no header for a 1024x768 camera of its size table; a
    768x512 14-bit crop of a Nikon came out as a wrong image with exit 0."""
    dump = tmp_path / "sensor.raw"
    dump.write_bytes(np.random.default_rng(0).integers(0, 2**14, 786_432 // 2, dtype="<u2").tobytes())
    with pytest.raises(RawError, match=r"sensor\.raw: no RAW header; .*--raw-guess"):
        read_raw(dump)
    assert read_raw(dump, size_guess=True).mosaic.shape == (768, 1024)
    (tmp_path / "notes.txt").write_text("no RAW at all")
    with pytest.raises(RawError, match="not a camera RAW file"):
        read_raw(tmp_path / "notes.txt")


@needs_real_files
def test_the_real_headerless_dumps_are_refused_and_real_files_are_not():
    for dump in sorted((RAW_DATA / "headerless").glob("*.raw")):
        with pytest.raises(RawError, match="no RAW header"):
            read_raw(dump)
    for path in ("RAW_CANON_D30_SRGB.CRW", "RAW_KODAK_DC50.KDC", "tinydng_colorchart.dng"):
        read_raw(RAW_DATA / path)
