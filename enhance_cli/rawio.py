"""Reading camera RAW files through rawpy (LibRaw) as normalised colour-filter mosaics, for a learned ISP.

:func:`read_raw` gives a :class:`RawImage`: the visible mosaic as float32 with the black level
subtracted and 1.0 at saturation, plus what is needed to develop it the way LibRaw would: the CFA
pattern, the as-shot white balance, the camera-to-sRGB matrix, the orientation and the EXIF to carry.
Flat 2x2 Bayer and 6x6 Fuji X-Trans mosaics with R, G, B filters are accepted (see :mod:`enhance_cli.cfa`);
already demosaiced data (linear DNG, sRAW, Foveon), monochrome sensors, CMYG-like filters and other layouts
are refused with a :class:`RawError`.

What is faithful to LibRaw, and what is not:

* Black: rawpy's ``black_level_per_channel`` (LibRaw's common black plus its per-channel part, with a 2x2
  per-pixel pattern folded in). Larger per-pixel black patterns (LibRaw's ``cblack[6:]``) are not exposed
  by rawpy and are ignored beyond their minimum; DNG BlackLevelDeltaH/V likewise.
* White: LibRaw's ``maximum``. LibRaw's postprocess() by default lowers it to the brightest sample when
  that is above 75% of it (``adjust_maximum_thr``), brightening the picture; we do not, and
  :func:`libraw_reference` turns that off too, so both share one exposure.
* Colour: rawpy does not expose the matrix LibRaw develops with (``rgb_cam``), so it is rebuilt from
  LibRaw's sources in LibRaw's order: a DNG's own matrix (rawpy ``color_matrix``; LibRaw ignores it for
  other formats), old Kodak's tag 37400, LibRaw's table for the camera (rawpy ``rgb_xyz_matrix``, through
  :func:`camera_to_srgb_from_xyz`), else camera RGB as it is. Matrices LibRaw writes straight into
  ``rgb_cam`` from other makers' notes (Leaf and Phase One ROMM matrices) are not reproduced.
* White balance: the as-shot gains. Where the file has none LibRaw estimates one by grey world; we estimate
  one by grey edge (:mod:`enhance_cli.white_balance`), falling back to the camera's daylight gains if the
  image gives no estimate, and say so in :attr:`RawImage.notes`.
* Geometry: the mosaic is the visible area (LibRaw's ``raw_image_visible``); makers' recommended crops
  (DNG DefaultCrop, Canon's sensor crop) are not applied, as LibRaw does not apply them either. Fuji
  SuperCCD (45-degree rotated) layouts are not detected and would be read as garbage.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from io import BytesIO
from pathlib import Path

import numpy as np
import rawpy
import tifffile
import torch
from PIL import Image, UnidentifiedImageError
from PIL.TiffImagePlugin import IFDRational

from .cfa import align_mosaic, colour_filter
from .colour import SRGB_TO_XYZ, camera_to_srgb_from_xyz, linear_to_srgb
from .imageio import MAX_PIXELS, ORIENTATION, ImageError, describe_os_error, quiet_libraries, upright
from .paths import RAW_SUFFIXES  # noqa: F401  (where isp looks for RAW files)
from .white_balance import grey_edge_gains

DEMOSAIC_ALGORITHMS = ("LINEAR", "VNG", "PPG", "AHD", "DCB", "DHT", "AAHD")
"""LibRaw's demosaicing algorithms :func:`libraw_reference` can use, by rawpy's names."""

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825

# LibRaw's flip (bit 4: transpose, bit 2: flip rows, bit 1: flip columns) -> EXIF orientation; LibRaw reads
# EXIF orientation o as flip "50132467"[o], so this is that table inverted.
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}

# EXIF tags carried into developed images: (code, kind), in IFD0 and in the Exif sub-IFD.
_IFD0_TAGS = ((271, "text"), (272, "text"), (306, "text"), (315, "text"), (33432, "text"))  # Make ... Copyright
_EXIF_TAGS = (
    (33434, "rational"),  # ExposureTime
    (33437, "rational"),  # FNumber
    (34855, "int"),  # ISOSpeedRatings
    (36867, "text"),  # DateTimeOriginal
    (36868, "text"),  # DateTimeDigitized
    (37386, "rational"),  # FocalLength
    (41989, "int"),  # FocalLengthIn35mmFilm
    (42035, "text"),  # LensMake
    (42036, "text"),  # LensModel
)
_TIFF_SIGNATURES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")

# rawpy's exceptions, with the reason to give for each.
_LIBRAW_REASONS = (
    (rawpy.LibRawFileUnsupportedError, "unsupported format or not RAW data"),
    (rawpy.LibRawIOError, "truncated or damaged data"),
    (rawpy.LibRawDataError, "corrupt data"),
    (rawpy.LibRawTooBigError, "image too large"),
)


class RawError(ImageError):
    """A RAW file cannot be read or is not a Bayer or X-Trans mosaic; the message is one line: "<file>: <reason>"."""


@dataclass
class RawImage:
    """A camera's colour-filter mosaic, normalised, with what developing it needs."""

    mosaic: np.ndarray  # float32 H x W, black 0 and saturation 1; not clipped (noise dips below 0)
    pattern: str  # CFA of the top-left period, row by row: Bayer "RGGB", "GRBG", "GBRG", "BGGR"; X-Trans 36 letters
    white_balance: np.ndarray  # (3,) R, G, B gains, smallest 1; to apply before camera_to_srgb; as-shot or estimated
    camera_to_srgb: np.ndarray  # (3, 3) white-balanced camera RGB -> linear sRGB (LibRaw's rgb_cam)
    orientation: int  # EXIF 1..8: how to turn the mosaic's grid upright (see apply_orientation)
    exif: bytes | None  # as Image.Exif.tobytes() gives, orientation 1; None if nothing was found
    name: str  # the file, for messages
    pixel_aspect: float = 1.0  # LibRaw's pixel width / height; not 1 only for a few old cameras
    notes: list[str] = field(default_factory=list)  # fallbacks taken while reading, for the curious
    white_balance_source: str = "as-shot"  # how white_balance was found: "as-shot", "grey edge", "daylight", "unit"
    daylight_gains: np.ndarray | None = None  # (3,) the camera's daylight R, G, B gains (LibRaw's pre_mul), if known
    white_levels: np.ndarray | None = None  # (3,) R, G, B saturation on the mosaic's scale, if the file states it
    baseline_exposure: float = 0.0  # DNG BaselineExposure: the maker's exposure correction, in EV
    opcode_lists: dict[int, bytes] = field(default_factory=dict)  # DNG OpcodeList1-3 (tag number -> raw bytes)

    @property
    def xyz_to_camera(self) -> np.ndarray:
        """Camera RGB (before white balance) <- CIE XYZ, for white balance from a colour temperature.

        Rebuilt from the rendering matrix and the daylight gains, as LibRaw derives both from it (for a DNG
        this gives back the file's ColorMatrix); camera RGB is taken as balanced for D65 without daylight gains.
        """
        daylight = self.daylight_gains if self.daylight_gains is not None else np.ones(3)
        srgb_to_xyz = SRGB_TO_XYZ.numpy()
        return np.diag(1 / daylight) @ np.linalg.pinv(self.camera_to_srgb) @ np.linalg.inv(srgb_to_xyz)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of LibRaw's full-size rendering: pixel aspect corrected, then oriented."""
        height, width = self.mosaic.shape
        # LibRaw's stretch(): round half up, stretching rows or columns, never shrinking.
        if self.pixel_aspect < 1:
            height = int(height / self.pixel_aspect + 0.5)
        elif self.pixel_aspect > 1:
            width = int(width * self.pixel_aspect + 0.5)
        return (width, height) if self.orientation >= 5 else (height, width)


# --- reading -------------------------------------------------------------------------------------------


def read_raw(path: Path | str, size_guess: bool = False) -> RawImage:
    """Read a camera RAW file into a :class:`RawImage`; raises :class:`RawError` for anything else.

    A file without a header that LibRaw identifies by its size alone (a bare sensor dump) is refused unless
    ``size_guess``: its dimensions, bit depth and colour layout would all be guesses.
    """
    name = str(path)
    _check_readable(Path(path), name)
    notes: list[str] = []
    try:
        with quiet_libraries(), rawpy.imread(name) as raw:
            if not size_guess and _identified_by_size(Path(path)):
                raise RawError(
                    f"{name}: no RAW header; LibRaw would guess the sensor layout from the file size alone "
                    "(--raw-guess develops it anyway)"
                )
            sizes = raw.sizes  # known after open, before anything is decoded
            if sizes.raw_height * sizes.raw_width > MAX_PIXELS:
                raise RawError(f"{name}: image too large (more than {MAX_PIXELS:,} pixels)")
            indices = _cfa_indices(raw, name)
            pattern = "".join(_color_letters(raw)[index] for index in indices.ravel())
            tiff = _tiff_metadata(Path(path))
            mosaic = _normalised_mosaic(raw, indices, name)
            white_balance, source = _white_balance(raw, mosaic, pattern, notes)
            camera_to_srgb = _camera_to_srgb(raw, tiff, notes)
            exif = _exif(raw, tiff, notes)
            orientation = _FLIP_TO_ORIENTATION[sizes.flip & 7]
            pixel_aspect = float(sizes.pixel_aspect) or 1.0
            daylight = _rgb_gains(raw.daylight_whitebalance)
            white_levels = _white_levels(raw, indices)
    except rawpy.LibRawError as exc:
        raise RawError(f"{name}: not a camera RAW file LibRaw can read ({_libraw_reason(exc)})") from None
    return RawImage(
        mosaic,
        pattern,
        white_balance,
        camera_to_srgb,
        orientation,
        exif,
        name,
        pixel_aspect,
        notes,
        white_balance_source=source,
        daylight_gains=None if daylight is None else daylight / daylight.min(),
        white_levels=white_levels,
        baseline_exposure=tiff.baseline_exposure if tiff is not None else 0.0,
        opcode_lists=tiff.opcode_lists if tiff is not None else {},
    )


# How the containers LibRaw reads by their header begin (TIFF-based RAWs and DNG, Olympus, Panasonic, Canon CRW,
# Fuji, Minolta, Sigma, ISO media such as CR3): no size guess is involved. CRW must be listed: its directory is
# found from the end of the file, so the test below would fail it.
_RAW_HEADERS = (
    b"II*\0",
    b"MM\0*",
    b"IIRO",
    b"IIRS",
    b"MMOR",
    b"IIU\0",
    b"II\x1a\0\0\0HEAPCCDR",
    b"FUJIFILM",
    b"\0MRM",
    b"FOVb",
)


def _identified_by_size(path: Path) -> bool:
    """Whether LibRaw, which has read the file, knows it only by its size: one byte more and it would not."""
    with path.open("rb") as stream:
        head = stream.read(16)
    if head.startswith(_RAW_HEADERS) or head[4:8] == b"ftyp":
        return False
    try:
        with quiet_libraries(), rawpy.imread(BytesIO(path.read_bytes() + b"\0")):
            return False
    except rawpy.LibRawError:
        return True


def _check_readable(path: Path, name: str) -> None:
    """Plain I/O problems in Python's words: LibRaw calls all of them "Input/output error"."""
    try:
        with path.open("rb") as stream:
            empty = not stream.read(1)
    except OSError as exc:
        raise RawError(f"{name}: {describe_os_error(exc)}") from None
    if empty:
        raise RawError(f"{name}: empty file")


def _libraw_reason(exc: rawpy.LibRawError) -> str:
    for kind, reason in _LIBRAW_REASONS:
        if isinstance(exc, kind):
            return reason
    message = exc.args[0] if exc.args else ""
    message = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return message.lower() or type(exc).__name__


def _cfa_indices(raw: rawpy.RawPy, name: str) -> np.ndarray:
    """LibRaw's colour indices of the visible area's top-left period (2x2 or 6x6), after refusing all but RGB
    Bayer and X-Trans mosaics."""
    if raw.raw_type != rawpy.RawType.Flat:
        raise RawError(f"{name}: already demosaiced (linear DNG, sRAW or Foveon data), not a Bayer mosaic")
    try:
        cfa = raw.raw_pattern
    except NotImplementedError:  # LibRaw filter codes rawpy cannot lay out
        cfa = None
    if cfa is None or cfa.shape == (1, 1):
        raise RawError(f"{name}: no colour filter array (monochrome sensor), not a Bayer mosaic")
    if cfa.shape not in ((2, 2), (6, 6)):
        raise RawError(
            f"{name}: {cfa.shape[0]}x{cfa.shape[1]} colour filter pattern; only 2x2 Bayer and 6x6 X-Trans are supported"
        )
    letters = _color_letters(raw)
    if letters != "RGBG":
        raise RawError(f"{name}: {letters} colour filters; only red, green and blue mosaics are supported")
    indices = np.asarray(raw.raw_colors_visible[: cfa.shape[0], : cfa.shape[1]])
    if indices.shape != cfa.shape:
        raise RawError(f"{name}: image smaller than its colour filter pattern")
    pattern = "".join(letters[index] for index in indices.ravel())
    try:
        colour_filter(pattern).align(np.zeros(cfa.shape, np.float32), pattern)
    except ValueError:
        kind = "a Bayer" if cfa.shape == (2, 2) else "an X-Trans"
        raise RawError(f"{name}: colour indices {indices.ravel().tolist()} do not form {kind} pattern") from None
    return indices


def _color_letters(raw: rawpy.RawPy) -> str:
    """LibRaw's names of colour indices 0..3, such as "RGBG" (3 is the second green) or "GMCY"."""
    return raw.color_desc.decode("ascii", "replace").rstrip("\0")


def _normalised_mosaic(raw: rawpy.RawPy, indices: np.ndarray, name: str) -> np.ndarray:
    """Visible samples as float32, per-channel black subtracted and divided by the range up to white."""
    black = np.asarray(raw.black_level_per_channel, np.float64)
    white = float(raw.white_level)
    if white <= black.max():
        raise RawError(f"{name}: white level {white:g} is not above the black level {black.max():g}")
    mosaic = raw.raw_image_visible.astype(np.float32)  # a copy, so it outlives the LibRaw handle
    # The pattern is periodic, so each phase has one black and one range: no per-pixel index arrays.
    period = indices.shape[0]
    for row in range(period):
        for column in range(period):
            level = black[indices[row, column]]
            phase = mosaic[row::period, column::period]
            phase -= np.float32(level)
            phase *= np.float32(1.0 / (white - level))
    return mosaic


def _white_levels(raw: rawpy.RawPy, indices: np.ndarray) -> np.ndarray | None:
    """Per-channel saturation (R, G, B) on the normalised scale, where the file states one below the white level."""
    stated = raw.camera_white_level_per_channel
    if not stated or not any(stated):
        return None
    black = np.asarray(raw.black_level_per_channel, np.float64)
    white = float(raw.white_level)
    letters = _color_letters(raw)
    levels = np.ones(3)
    for index in np.unique(indices):
        if stated[index] > black[index]:
            channel = "RGB".index(letters[index])
            level = (stated[index] - black[index]) / (white - black[index])
            levels[channel] = min(levels[channel], level)
    return None if np.all(levels >= 1) else np.clip(levels, 0.05, 1)


def _white_balance(raw: rawpy.RawPy, mosaic: np.ndarray, pattern: str, notes: list[str]) -> tuple[np.ndarray, str]:
    """As-shot R, G, B gains, smallest 1, and where they came from; estimated from the image when the
    camera's are missing."""
    coefficients = raw.camera_whitebalance
    gains = _rgb_gains(coefficients)
    if gains is not None and coefficients[3] > 0 and abs(coefficients[3] / coefficients[1] - 1) > 0.01:
        notes.append("the file balances its second green apart from the first; both are balanced as green here")
    if gains is None:
        # LibRaw marks Canon D30-era "auto" shots with -1: the camera chose from the scene, so we estimate from
        # it too (LibRaw uses grey world, which one large coloured surface pulls off); daylight if that fails.
        gains = grey_edge_gains(align_mosaic(mosaic, pattern)[0], colour_filter(pattern))
        if gains is not None:
            notes.append("no as-shot white balance in the file; estimated from the image (grey edge)")
            return gains, "grey edge"
        gains = _rgb_gains(raw.daylight_whitebalance)
        notes.append("no as-shot white balance in the file and no estimate from the image; using the camera's daylight")
        if gains is None:
            notes.append("no daylight white balance either; using unit gains")
            return np.ones(3), "unit"
        return gains / gains.min(), "daylight"
    return gains / gains.min(), "as-shot"


def _rgb_gains(coefficients: list[float]) -> np.ndarray | None:
    """R, G, B from LibRaw's R, G, B, G2 multipliers, or None if unusable (LibRaw marks those 0 or -1)."""
    red, green, blue = coefficients[:3]
    gains = np.array([red, green, blue], np.float64)
    if not np.all(np.isfinite(gains)) or np.any(gains <= 1e-5):
        return None
    return gains


def _camera_to_srgb(raw: rawpy.RawPy, tiff: _TiffMetadata | None, notes: list[str]) -> np.ndarray:
    """LibRaw's rgb_cam, which rawpy does not expose, rebuilt from the sources LibRaw takes it from, in its order."""
    embedded = np.asarray(raw.color_matrix, np.float64)
    # identify() adopts the embedded matrix for DNG only, and only when cmatrix[0][0] > 0.125.
    if tiff is not None and tiff.is_dng and embedded[0, 0] > 0.125:
        return _fold_second_green(embedded, raw.num_colors)
    if tiff is not None and tiff.kodak_matrix is not None:
        return tiff.kodak_matrix
    cam_xyz = np.asarray(raw.rgb_xyz_matrix, np.float64)
    if np.any(cam_xyz[:3]):
        return _fold_second_green(camera_to_srgb_from_xyz(cam_xyz[: max(raw.num_colors, 3)]), raw.num_colors)
    notes.append("no colour matrix known for this camera; camera RGB is taken as sRGB, as LibRaw does")
    return np.eye(3)


def _fold_second_green(matrix: np.ndarray, colors: int) -> np.ndarray:
    """3 x 3 from LibRaw's 3 x 4: a fourth (second green) column joins the green one, as G2 is read as G."""
    folded = np.array(matrix[:, :3], np.float64)
    if colors == 4 and matrix.shape[1] == 4:
        folded[:, 1] += matrix[:, 3]
    return folded


# --- metadata ------------------------------------------------------------------------------------------


@dataclass
class _TiffMetadata:
    """What a TIFF-based RAW's own tags tell, beyond what rawpy exposes."""

    is_dng: bool
    kodak_matrix: np.ndarray | None  # old Kodak KDC tag 37400: LibRaw's rgb_cam, read straight from the file
    ifd0: dict  # EXIF tags for IFD0, cleaned
    exif_ifd: dict  # EXIF tags for the Exif sub-IFD, cleaned
    gps_ifd: dict = field(default_factory=dict)  # the GPS sub-IFD, as Pillow writes it
    baseline_exposure: float = 0.0  # DNG BaselineExposure (tag 50730), EV
    opcode_lists: dict[int, bytes] = field(default_factory=dict)  # DNG OpcodeList1-3, from the raw image's IFD


def _tiff_metadata(path: Path) -> _TiffMetadata | None:
    """The tags of a TIFF-based RAW (DNG, CR2, NEF, ARW, PEF, KDC...); None for other formats."""
    try:
        with path.open("rb") as stream:
            if stream.read(4) not in _TIFF_SIGNATURES:
                return None
        with tifffile.TiffFile(path) as tiff:
            first = tiff.pages.first
            ifd0, exif_ifd = _tiff_exif(first.tags)
            metadata = _TiffMetadata(50706 in first.tags, _kodak_matrix(first), ifd0, exif_ifd)  # 50706: DNGVersion
            metadata.gps_ifd = _gps(first.tags.valueof(34853))
            metadata.baseline_exposure = _signed_rational(first.tags.valueof(50730))
            metadata.opcode_lists = _opcode_lists(first)
            return metadata
    except Exception:  # metadata is secondary: a maker's odd TIFF must not fail the pixels
        return None


def _signed_rational(value: object) -> float:
    """A (numerator, denominator) pair as tifffile gives it; 0 where absent or undefined."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[1]:
        number = value[0] / value[1]
        return float(number) if np.isfinite(number) and abs(number) < 16 else 0.0
    return 0.0


def _opcode_lists(first: tifffile.TiffPage) -> dict[int, bytes]:
    """OpcodeList1-3 of the raw image: the sub-IFD holding the CFA data, else IFD0 (a simple DNG)."""
    pages = [page for page in (first, *(first.pages or ())) if page.tags.valueof(262) == 32803] or [first]  # CFA
    tags = pages[0].tags
    return {code: bytes(tags.valueof(code)) for code in (51008, 51009, 51022) if code in tags}


def _gps(value: object) -> dict:
    """tifffile's GPS IFD (tag names -> values) as Pillow writes one (tag codes -> values)."""
    if not isinstance(value, dict):
        return {}
    codes = {name: code for code, name in tifffile.TIFF.GPS_TAGS.items()}
    gps = {}
    for name, item in value.items():
        code = codes.get(name)
        if code is None:
            continue
        if isinstance(item, tuple) and len(item) % 2 == 0 and item and all(isinstance(n, int) for n in item):
            pairs = [IFDRational(item[i], item[i + 1]) for i in range(0, len(item), 2)]
            gps[code] = pairs[0] if len(pairs) == 1 else tuple(pairs)
        elif isinstance(item, (str, bytes, int)):
            gps[code] = item
    return gps


def _kodak_matrix(first: tifffile.TiffPage) -> np.ndarray | None:
    """Tag 37400 in IFD0 or a sub-IFD: 3 rows of (unused, 3 coefficients), read as LibRaw's parse_tiff_ifd does."""
    for page in (first, *(first.pages or ())):
        value = page.tags.valueof(37400)
        if value is not None and len(value) == 24:  # 12 signed rationals as (numerator, denominator) pairs
            numerators, denominators = np.array(value[0::2], np.float64), np.array(value[1::2], np.float64)
            if np.all(denominators):
                return (numerators / denominators).reshape(3, 4)[:, 1:]
    return None


def _exif(raw: rawpy.RawPy, tiff: _TiffMetadata | None, notes: list[str]) -> bytes | None:
    """The descriptive EXIF worth carrying into a developed image, serialised with orientation 1."""
    gps = {}
    if tiff is not None:
        ifd0, sub, gps = tiff.ifd0, tiff.exif_ifd, tiff.gps_ifd
    else:
        ifd0, sub = _preview_exif(raw)
        _fill_from_libraw(raw, ifd0, sub)
        notes.append("not a TIFF-based RAW: EXIF is what LibRaw parsed (via its preview) and may be partial")
    if not ifd0 and not sub:
        return None
    exif = Image.Exif()
    exif.update(ifd0)
    exif[ORIENTATION] = 1  # the developed pixels are upright
    if sub:
        exif[_EXIF_IFD] = sub
    if gps:
        exif[_GPS_IFD] = gps
    try:
        return exif.tobytes()
    except Exception:  # odd values Pillow cannot serialise: lose the metadata, keep the image
        notes.append("EXIF could not be serialised and was dropped")
        return None


def _tiff_exif(tags: tifffile.TiffTags) -> tuple[dict, dict]:
    """From IFD0 and its Exif sub-IFD; TIFF/EP files (such as Kodak's) keep exposure tags in IFD0 itself."""
    exif_ifd = tags.valueof(34665)
    exif_ifd = exif_ifd if isinstance(exif_ifd, dict) else {}

    def in_either(code: int) -> object:
        value = exif_ifd.get(tifffile.TIFF.TAGS.get(code))
        return tags.valueof(code) if value is None else value

    return _pick(_IFD0_TAGS, tags.valueof), _pick(_EXIF_TAGS, in_either)


def _preview_exif(raw: rawpy.RawPy) -> tuple[dict, dict]:
    """The EXIF of the embedded JPEG preview: the camera's, or the one LibRaw writes from what it parsed."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, RuntimeError):
        return {}, {}
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return {}, {}
    try:
        with Image.open(BytesIO(thumb.data)) as preview:
            exif = preview.getexif()
            sub = exif.get_ifd(_EXIF_IFD)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return {}, {}
    return _pick(_IFD0_TAGS, exif.get), _pick(_EXIF_TAGS, sub.get)


def _fill_from_libraw(raw: rawpy.RawPy, ifd0: dict, sub: dict) -> None:
    """Exposure data LibRaw parsed, for the tags the preview lacked; zero means LibRaw found nothing."""
    try:
        other = raw.other
    except (ValueError, OSError, OverflowError):  # rawpy's datetime.fromtimestamp() on a garbage timestamp
        return
    found = {
        33434: _rational(other.shutter_speed),
        33437: _rational(other.aperture),
        34855: int(round(other.iso_speed)) if other.iso_speed > 0 else None,
        36867: other.timestamp.strftime("%Y:%m:%d %H:%M:%S") if other.timestamp > datetime.fromtimestamp(0) else None,
        37386: _rational(other.focal_length),
        42036: raw.lens.model.strip() or None,
    }
    for code, value in found.items():
        if value is not None:
            sub.setdefault(code, value)
    if other.artist.strip():
        ifd0.setdefault(315, other.artist.strip())


def _pick(wanted: tuple[tuple[int, str], ...], lookup) -> dict:
    """The wanted tags that have a meaningful value: empty text and zero or undefined numbers are dropped."""
    picked = {}
    for code, kind in wanted:
        value = _clean(lookup(code), kind)
        if value is not None:
            picked[code] = value
    return picked


def _clean(value: object, kind: str) -> object:
    if value is None:
        return None
    if kind == "text":
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        text = str(value).replace("\0", " ").strip()
        return text or None
    if isinstance(value, (tuple, list)):  # tifffile gives (numerator, denominator), or a list of counts
        if kind == "rational" and len(value) == 2:
            value = Fraction(int(value[0]), int(value[1])) if value[1] else 0
        else:
            value = value[0] if value else 0
    if isinstance(value, numbers.Rational) and not isinstance(value, Fraction):  # Pillow's IFDRational
        value = Fraction(value.numerator, value.denominator) if value.denominator else 0
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not np.isfinite(number) or number <= 0:
        return None
    if kind == "int":
        return int(round(number))
    return _rational(value if isinstance(value, Fraction) else number)


def _rational(value: float | Fraction) -> IFDRational | None:
    if not value or value <= 0 or not np.isfinite(float(value)):
        return None
    fraction = value if isinstance(value, Fraction) else Fraction(value).limit_denominator(1_000_000)
    return IFDRational(fraction.numerator, fraction.denominator)


# --- working with mosaics and renderings ---------------------------------------------------------------


def libraw_reference(path: Path | str, demosaic: str = "AHD", *, white_balance: np.ndarray | None = None) -> np.ndarray:
    """LibRaw's own development, for comparisons: float32 H x W x 3 in [0, 1], sRGB curve, oriented.

    Camera white balance (or ``white_balance``: R, G, B gains, e.g. a RawImage's, to compare like with
    like: LibRaw replaces a missing one by its own grey-world estimate, not daylight), no auto brightness,
    highlights clipped, and no ``adjust_maximum`` so that its exposure is the mosaic's.
    """
    name = str(path)
    algorithm = demosaic.upper()
    if algorithm not in DEMOSAIC_ALGORITHMS:
        raise ValueError(f"unknown demosaic algorithm {demosaic!r}; choose one of {', '.join(DEMOSAIC_ALGORITHMS)}")
    _check_readable(Path(path), name)
    balance = {} if white_balance is None else {"user_wb": [*map(float, white_balance), float(white_balance[1])]}
    try:
        with quiet_libraries(), rawpy.imread(name) as raw:
            rendered = raw.postprocess(
                demosaic_algorithm=rawpy.DemosaicAlgorithm[algorithm],
                use_camera_wb=white_balance is None,
                no_auto_bright=True,
                adjust_maximum_thr=0.0,
                output_bps=16,
                gamma=(2.4, 12.92),
                output_color=rawpy.ColorSpace.sRGB,
                **balance,
            )
    except rawpy.LibRawError as exc:
        raise RawError(f"{name}: not a camera RAW file LibRaw can read ({_libraw_reason(exc)})") from None
    pixels = rendered.astype(np.float32)
    pixels /= 65535
    return pixels


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The IEC 61966-2-1 sRGB curve, on values clipped to [0, 1]; float32."""
    return linear_to_srgb(torch.from_numpy(np.asarray(linear, np.float32))).numpy()


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an H x W (x C) image upright for an EXIF orientation (1..8), as views: no copy is made."""
    if orientation not in _FLIP_TO_ORIENTATION.values():
        raise ValueError(f"EXIF orientation must be 1 to 8, not {orientation!r}")
    return upright(image, orientation)
