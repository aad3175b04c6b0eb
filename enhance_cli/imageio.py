"""Reading and writing images: PNG, JPEG, TIFF, WebP (read and write) and BMP (read only).

Every image becomes a :class:`Picture`: float32 pixels in [0, 1], upright (EXIF orientation applied),
plus alpha, source bit depth, EXIF and ICC metadata. Writing turns a Picture back into a file
atomically, at 8 or 16 bits, carrying the metadata along.

Libraries, and why each one:

* Pillow opens every format lazily (header, EXIF, ICC) and decodes all 8-bit data.
* OpenCV decodes and encodes 16-bit PNG, which Pillow truncates to 8 bits (RGB/RGBA) and cannot write.
* tifffile decodes TIFF deeper than 8 bits and writes every TIFF. TIFF metadata is read with tifffile
  too, so only the descriptive IFD0 tags (:data:`TIFF_TEXT_TAGS` and the orientation) of a TIFF input
  reach the Picture's EXIF; its Exif and GPS sub-IFDs do not.

Single images only: multi-page TIFFs (reduced-resolution previews aside), animated PNGs and animated WebPs
are refused rather than cut to their first frame; a multi-picture JPEG (MPO, as phones write) is read as its
primary image.

Pillow, OpenCV, libpng, libtiff and tifffile have their own ways of complaining: warnings, log records and
lines printed straight to the process's stderr. All of them are kept quiet while they work
(:func:`quiet_libraries`); a failure reaches the caller as one :class:`ImageError` line instead.

CMYK images are converted to RGB. When the file carries an ICC profile the conversion goes through
it (Pillow's ImageCms) to sRGB, and the Picture then carries Pillow's built-in sRGB profile, so later
outputs are tagged with the colour space their pixels are really in. Without a profile, Pillow's naive
formula is used and no profile is carried.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import re
import secrets
import stat
import struct
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms, TiffImagePlugin, UnidentifiedImageError

MAX_PIXELS = 400_000_000
"""Images with more pixels than this are refused from their header, before any pixel is decoded."""

# Pillow warns above this limit and refuses above twice it; reads here turn the warning into a refusal.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})
"""File extensions :func:`read_image` handles (how directory inputs and datasets find images)."""

FORMATS = ("png", "tiff", "jpeg", "webp")
"""Formats :func:`write_image` can produce."""

TIFF_TEXT_TAGS = (270, 271, 272, 305, 306, 315, 33432)
"""ImageDescription, Make, Model, Software, DateTime, Artist, Copyright: the EXIF a TIFF carries."""

ORIENTATION = 0x0112

_EXTENSIONS = {
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
}
_PILLOW_OPENERS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP")
# Pillow's JPEG opener reports multi-picture files (as phones write them) as MPO.
_PILLOW_FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "TIFF": "tiff", "WEBP": "webp", "BMP": "bmp"}
_TIFF_SIGNATURES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    *((signature, "TIFF") for signature in _TIFF_SIGNATURES),
)
# What a multi-frame file is called, by Pillow's format name.
_ANIMATIONS = {"PNG": "animated PNG", "WEBP": "animated WebP"}
_REDUCED_RESOLUTION = 1  # TIFF NewSubfileType bit 0: a thumbnail or preview of another page
_LIBRARY_LOGGERS = ("tifffile", "PIL")
# Deflate level of PNG and TIFF outputs. zlib's default (6) spent 3.7 s on a developed 12 MP PNG, level 3 1.4 s
# for a file 14% larger, level 1 0.8 s and 25% larger; on 16-bit data the level barely changes the size.
ZLIB_LEVEL = 3
_PNG_SIGNATURE_AND_IHDR = 33  # 8-byte signature, then IHDR: length, type, 13 bytes of data, CRC
_EXIF_PREFIX = b"Exif\0\0"
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_TOO_LARGE = f"image too large (more than {MAX_PIXELS:,} pixels)"

# EXIF orientation -> (swap axes, then flip rows, then flip columns), which brings the stored pixels upright.
_UPRIGHT_STEPS = {
    1: (False, False, False),
    2: (False, False, True),
    3: (False, True, True),
    4: (False, True, False),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}

# What the decoders raise on damaged or hostile data; anything else is a bug and should surface as one.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    cv2.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class ImageError(Exception):
    """An image cannot be read (or written); the message is one line: ``"<file>: <reason>"``."""


class ImageWriteError(ImageError, OSError):
    """An image file cannot be written; the message is one line: ``"<file>: <reason>"``, naming the target."""


class _Unreadable(Exception):
    """A reason to refuse the data, raised deep down; :func:`read_image` adds the file name."""


@dataclass
class Picture:
    """An upright image with its metadata, independent of the file format it came from."""

    pixels: np.ndarray  # float32, H x W x C in [0, 1], C = 1 (grey) or 3 (RGB)
    alpha: np.ndarray | None  # float32, H x W in [0, 1]
    bits: int  # 8 or 16: precision of the source samples
    exif: bytes | None  # as Image.Exif.tobytes() gives, orientation reset to 1
    icc_profile: bytes | None
    source_format: str  # "png" | "jpeg" | "tiff" | "webp" | "bmp"
    info: dict = field(default_factory=dict)  # JPEG: "jpeg_quantization", Pillow's quantization tables


# --- messages ------------------------------------------------------------------------------------------


def describe_os_error(exc: OSError) -> str:
    """An operating-system error in plain words, such as "permission denied": no errno code, no file name."""
    return (exc.strerror or str(exc)).lower()


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Keep the imaging libraries' own messages off stderr while they work; failures are raised, not printed.

    Python warnings and the libraries' log records are dropped; OpenCV's logging is silenced; and since
    libpng, libtiff and LibRaw print straight to file descriptor 2, that points at the null device meanwhile.
    Process-wide, like stderr itself: other threads' messages meanwhile are lost too, and two threads must
    not use it at once.
    """
    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    were_disabled = [logger.disabled for logger in loggers]
    opencv_level = cv2.utils.logging.getLogLevel()
    with warnings.catch_warnings(), _stderr_to_null():
        warnings.simplefilter("ignore")
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        for logger in loggers:
            logger.disabled = True
        try:
            yield
        finally:
            cv2.utils.logging.setLogLevel(opencv_level)
            for logger, was_disabled in zip(loggers, were_disabled, strict=True):
                logger.disabled = was_disabled


@contextmanager
def _stderr_to_null() -> Iterator[None]:
    if sys.stderr is not None:
        sys.stderr.flush()  # what Python wrote before belongs to the real stderr
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep clean
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


# --- reading -------------------------------------------------------------------------------------------


def read_image(source: Path | str | bytes, name: str | None = None) -> Picture:
    """Read an image file, or the bytes of one (stdin), into an upright :class:`Picture`.

    ``name`` labels error messages; it defaults to the path, or ``"<stdin>"`` for bytes.
    Raises :class:`ImageError` for anything that is not a complete, supported, reasonably sized image.
    """
    data, name = _read_source(source, name)
    try:
        with quiet_libraries():
            return _decode(data)
    except _Unreadable as exc:
        raise ImageError(f"{name}: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{name}: {_describe(exc)}") from exc


def format_for_path(path: Path) -> str | None:
    """The writable format a file name asks for by its extension, or None."""
    return _EXTENSIONS.get(Path(path).suffix.lower())


def _read_source(source: Path | str | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), name or "<stdin>"
    else:
        name = name or str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageError(f"{name}: {describe_os_error(exc)}") from None
    if not data:
        raise ImageError(f"{name}: empty file")
    return data, name


def _describe(exc: BaseException) -> str:
    """A short reason for a decoder's exception."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return _TOO_LARGE
    text = _plain_words(str(exc))
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return "truncated file"
    return f"corrupt image data ({text})" if text else "corrupt image data"


def _plain_words(text: str) -> str:
    """A library's message without object reprs, quotes around names, or line breaks."""
    text = re.sub(r"<[^<>]*>", "", text)  # "<tifffile.TiffPage 0 @8>" and the like
    text = re.sub(r"(?<!\w)['\"]|['\"](?!\w)", "", text)  # quotes, but not the apostrophe in "can't"
    return " ".join(text.split())


def _decode(data: bytes) -> Picture:
    if data[:4] in _TIFF_SIGNATURES:
        return _decode_tiff(data)
    with _open_with_pillow(data) as image:
        _refuse_animation(image)
        source_format = _PILLOW_FORMATS[image.format]
        icc = image.info.get("icc_profile")
        info = {"jpeg_quantization": image.quantization} if source_format == "jpeg" else {}
        exif = _tolerant_exif(lambda: _png_exif(data) if source_format == "png" else image.getexif())
        orientation = exif.get(ORIENTATION, 1)
        # Byte 24 is the IHDR bit depth; Pillow would quietly cut 16-bit colour to 8 bits.
        if source_format == "png" and data[24] == 16:
            samples, bits = _decode_png16(data), 16
        else:
            if source_format == "png":
                _check_png_stream(data)
            orientation = _load(image, orientation)
            (samples, icc), bits = _decode_with_pillow(image, icc), 8
        return _make_picture(samples, bits, orientation, exif, icc, source_format, info)


def _open_with_pillow(data: bytes) -> Image.Image:
    """Open lazily (header only) and refuse oversized images before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data), formats=_PILLOW_OPENERS)
    except UnidentifiedImageError:
        # Pillow says the same for a text file and for a JPEG cut inside its header; tell them apart.
        known = _format_by_signature(data)
        raise _Unreadable(
            f"truncated, damaged or unsupported {known} file" if known else "not a PNG, JPEG, TIFF, WebP or BMP image"
        ) from None
    _check_size(*image.size)
    return image


def _format_by_signature(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for signature, name in _SIGNATURES if data.startswith(signature)), None)


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise _Unreadable(_TOO_LARGE)


def _refuse_animation(image: Image.Image) -> None:
    """Refuse animations rather than quietly keep their first frame.

    A multi-picture JPEG (MPO, as phones write) is a primary image plus previews or depth maps: it is read,
    as its primary image.
    """
    if image.format != "MPO":
        _refuse_frames(getattr(image, "n_frames", 1), _ANIMATIONS.get(image.format, image.format))


def _refuse_frames(count: int, kind: str, unit: str = "frame") -> None:
    if count > 1:
        raise _Unreadable(f"has {count} {unit}s ({kind}); enhance reads single images — extract the {unit}s first")


def _load(image: Image.Image, orientation: int) -> int:
    """Decode every pixel now; return the EXIF orientation that is still to be applied to them.

    Recent Pillow versions turn a TIFF upright while loading it, then drop its orientation tag; older ones,
    and the other formats, leave the pixels as stored. Watching the tag suits every version.
    """
    before = _pillow_orientation(image)
    image.load()  # a truncated file fails here (LOAD_TRUNCATED_IMAGES is False)
    turned_by_pillow = before != 1 and _pillow_orientation(image) == 1
    return 1 if turned_by_pillow else orientation


def _pillow_orientation(image: Image.Image) -> int:
    return _tolerant_exif(image.getexif).get(ORIENTATION, 1)


def _decode_with_pillow(image: Image.Image, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """8-bit samples of a loaded image as H x W x (L, LA, RGB or RGBA), and the ICC profile that now describes them."""
    if image.mode == "CMYK":
        image, icc = _cmyk_to_rgb(image, icc)
    base = "L" if Image.getmodebase(image.mode) == "L" else "RGB"
    mode = base + "A" if _has_alpha(image) else base
    samples = np.asarray(image if image.mode == mode else image.convert(mode))
    return (samples[..., None] if samples.ndim == 2 else samples), icc


def _has_alpha(image: Image.Image) -> bool:
    # Image.has_transparency_data, which Pillow 10.0 lacks
    alpha_palette = image.mode == "P" and image.palette is not None and image.palette.mode.endswith("A")
    return image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info or alpha_palette


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Colour-manage through the file's own profile when it has a usable one; else Pillow's naive formula."""
    if icc:
        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            source = ImageCms.ImageCmsProfile(BytesIO(icc))
            return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB"), srgb.tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a damaged or non-CMYK profile: fall through, and drop it since it describes CMYK data
    return image.convert("RGB"), None


def _decode_png16(data: bytes) -> np.ndarray:
    """16-bit samples via OpenCV, reordered from BGR(A) to RGB(A), as stored: IMREAD_UNCHANGED ignores EXIF."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise _Unreadable("truncated file" if b"IEND" not in data[-12:] else "corrupt PNG data")
    if decoded.ndim == 2:
        decoded = decoded[..., None]
    channels = decoded.shape[2]
    colour = [0] if data[25] in (0, 4) else [2, 1, 0]  # PNG colour types 0 and 4 are grey
    alpha = [channels - 1] if channels in (2, 4) else []
    return decoded[..., colour + alpha]


def _check_png_stream(data: bytes) -> None:
    """Refuse a damaged 8-bit PNG: Pillow decodes a bad checksum, a short or a non-zlib pixel stream into
    black rows without a word, while libpng (through OpenCV, as for 16 bits) checks every one of them."""
    if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None:
        raise _Unreadable("truncated file" if b"IEND" not in data[-12:] else "corrupt PNG data")


def _png_exif(data: bytes) -> Image.Exif:
    """The eXIf chunk, found directly: Pillow sees one placed after the pixel data only by decoding them."""
    exif = Image.Exif()
    raw = _find_png_chunk(data, b"eXIf")
    if raw:
        exif.load(raw)
    return exif


def _find_png_chunk(data: bytes, kind: bytes) -> bytes | None:
    position = 8
    while position + 8 <= len(data):
        length, found = struct.unpack_from(">I4s", data, position)
        if found == kind:
            return data[position + 8 : position + 8 + length]
        if found == b"IEND":
            break
        position += 12 + length
    return None


def _tolerant_exif(read: Callable[[], Image.Exif]) -> Image.Exif:
    """Metadata is secondary: damaged EXIF is dropped rather than failing the read of good pixels."""
    try:
        return read()
    except Exception:
        return Image.Exif()


RAW_FOR_ISP = "a camera RAW file; develop it with enhance isp"
_RAW_PHOTOMETRICS = (tifffile.PHOTOMETRIC.CFA, tifffile.PHOTOMETRIC.LINEAR_RAW)


def _decode_tiff(data: bytes) -> Picture:
    with tifffile.TiffFile(BytesIO(data)) as tiff:
        if not tiff.pages:  # the first image directory lies beyond the end
            raise _Unreadable("truncated, damaged or unsupported TIFF file")
        page = tiff.pages[0]
        if 50706 in page.tags or page.photometric in _RAW_PHOTOMETRICS:  # DNGVersion; a colour-filter mosaic
            raise _Unreadable(RAW_FOR_ISP)
        _check_size(page.imagewidth, page.imagelength)
        _refuse_frames(_count_full_pages(tiff), "multi-page TIFF", unit="page")
        if _ends_beyond(page, len(data)):
            raise _Unreadable("truncated file")  # which libtiff, through Pillow, calls "decoder error -2"
        icc = page.tags.valueof(34675)
        exif = _tiff_exif(page)
        orientation = exif.get(ORIENTATION, 1)
        if page.bitspersample > 8:
            samples, bits = _decode_deep_tiff(page), 16
        else:
            # Pillow knows the 8-bit variants (palette, CMYK, LZW, JPEG-in-TIFF...) tifffile alone cannot decode.
            with _open_with_pillow(data) as image:
                orientation = _load(image, orientation)
                (samples, icc), bits = _decode_with_pillow(image, icc), 8
    return _make_picture(samples, bits, orientation, exif, icc, "tiff", {})


def _ends_beyond(page: tifffile.TiffPage, file_size: int) -> bool:
    """Whether some strip or tile of the page's pixel data would end past the end of the file."""
    # Not strict: offsets and sizes that do not pair up are damage the decoders will report.
    strips = zip(page.dataoffsets, page.databytecounts, strict=False)
    return any(offset + count > file_size for offset, count in strips)


def _count_full_pages(tiff: tifffile.TiffFile) -> int:
    """Pages that are images of their own: thumbnails and previews of another page do not count."""
    return sum(1 for page in tiff.pages if not getattr(page, "subfiletype", 0) & _REDUCED_RESOLUTION)


def _tiff_exif(page: tifffile.TiffPage) -> Image.Exif:
    exif = Image.Exif()
    for code in TIFF_TEXT_TAGS:
        value = page.tags.valueof(code)
        if value is not None:
            exif[code] = value
    try:
        if (orientation := page.tags.valueof(ORIENTATION)) is not None:
            exif[ORIENTATION] = int(orientation)
    except (TypeError, ValueError):  # a damaged tag (text, say) is dropped, as for the other formats
        pass
    return exif


def _decode_deep_tiff(page: tifffile.TiffPage) -> np.ndarray:
    """Samples deeper than 8 bits as uint16 H x W x C, channels grey or RGB, then alpha if any."""
    photometric = tifffile.PHOTOMETRIC
    if page.photometric not in (photometric.MINISBLACK, photometric.MINISWHITE, photometric.RGB):
        raise _Unreadable(f"unsupported TIFF colour model {page.photometric.name} above 8 bits")
    samples = page.asarray()
    if page.axes.startswith("S"):  # planar configuration: one plane per channel
        samples = np.moveaxis(samples, 0, -1)
    if samples.ndim == 2:
        samples = samples[..., None]
    has_alpha = bool(page.extrasamples) and page.extrasamples[0] in (1, 2)  # associated or unassociated
    samples = samples[..., : (3 if page.photometric == photometric.RGB else 1) + has_alpha]
    samples = _as_uint16(samples)
    return ~samples if page.photometric == photometric.MINISWHITE else samples


def _as_uint16(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.uint16:
        return samples
    if samples.dtype.kind == "f":  # floating-point TIFFs are taken to hold [0, 1]
        return _quantize(samples, 16)
    raise _Unreadable(f"unsupported TIFF sample type {samples.dtype}")


def _make_picture(
    samples: np.ndarray,
    bits: int,
    orientation: int,
    exif: Image.Exif,
    icc: bytes | None,
    source_format: str,
    info: dict,
) -> Picture:
    """Turn integer H x W x C samples (colour channels, then alpha) into a Picture, upright by ``orientation``."""
    samples = upright(samples, orientation)
    colour_channels = 3 if samples.shape[2] >= 3 else 1
    has_alpha = samples.shape[2] in (2, 4)
    alpha = _to_unit_float(samples[..., colour_channels], bits) if has_alpha else None
    pixels = _to_unit_float(samples[..., :colour_channels], bits)
    return Picture(pixels, alpha, bits, _exif_block(exif), icc or None, source_format, info)


def upright(samples: np.ndarray, orientation: object) -> np.ndarray:
    """Apply an EXIF orientation with views, so it works for any dtype and copies nothing."""
    swap, flip_rows, flip_columns = _UPRIGHT_STEPS.get(orientation, _UPRIGHT_STEPS[1])
    if swap:
        samples = samples.swapaxes(0, 1)
    if flip_rows:
        samples = samples[::-1]
    if flip_columns:
        samples = samples[:, ::-1]
    return samples


def _to_unit_float(samples: np.ndarray, bits: int) -> np.ndarray:
    # One float32 allocation, scaled in place; order="C" also makes the oriented views contiguous.
    values = samples.astype(np.float32, order="C")
    values /= (1 << bits) - 1
    return values


def _exif_block(exif: Image.Exif) -> bytes | None:
    """Serialised EXIF with orientation 1, as the pixels are upright now; None if empty or unwritable."""
    if not exif:
        return None
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1
    try:
        return exif.tobytes()
    except Exception:  # odd vendor data Pillow cannot re-serialise: lose the metadata, keep the image
        return None


# --- writing -------------------------------------------------------------------------------------------


def encode_image(picture: Picture, format: str, bits: int | None = None, quality: int | None = None) -> bytes:
    """Encode a Picture as the bytes of a file in one of :data:`FORMATS`.

    ``bits`` defaults to 16 when the source had 16 and the format can hold it (png, tiff), else 8;
    ``quality`` (jpeg, webp) defaults to 95. JPEG drops alpha. EXIF (with its Exif and GPS sub-IFDs) and
    ICC are carried. Raises ValueError for impossible requests.
    """
    if format not in FORMATS:
        raise ValueError(f"cannot write format {format!r}; choose one of {', '.join(FORMATS)}")
    bits = _output_bits(picture, format, bits)
    quality = 95 if quality is None else quality
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be between 0 and 100, not {quality}")
    samples = _to_samples(picture, bits, keep_alpha=format != "jpeg")
    with quiet_libraries():
        if format == "tiff":
            return _encode_tiff(samples, picture)
        if bits == 16:
            return _encode_png16(samples, picture)
        return _encode_with_pillow(samples, picture, format, quality)


def write_image(
    path: Path,
    picture: Picture,
    format: str | None = None,
    bits: int | None = None,
    quality: int | None = None,
    overwrite: bool = False,
) -> None:
    """Write a Picture to ``path`` atomically: either the complete file appears, or nothing changes.

    ``format`` defaults to the one the extension names (ValueError if none). An existing file is refused
    unless ``overwrite``. File-system failures raise :class:`ImageWriteError`, in plain words and naming ``path``.
    """
    path = Path(path)
    format = format or format_for_path(path)
    if format is None:
        raise ValueError(f"{path}: unknown image extension; choose one of {', '.join(FORMATS)}")
    try:
        _refuse_existing(path, overwrite)  # fail before a possibly long encode
        write_atomically(path, encode_image(picture, format, bits, quality), overwrite)
    except OSError as exc:
        raise _write_error(path, exc) from None


def _write_error(path: Path, exc: OSError) -> ImageWriteError:
    """The failure in plain words, about the target: the temporary file next to it is an internal matter."""
    reason = "file exists (use --overwrite)" if exc.errno == errno.EEXIST else describe_os_error(exc)
    error = ImageWriteError(f"{path}: {reason}")
    error.errno = exc.errno
    return error


def _output_bits(picture: Picture, format: str, bits: int | None) -> int:
    deep_formats = ("png", "tiff")
    if bits is None:
        return 16 if picture.bits == 16 and format in deep_formats else 8
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, not {bits}")
    if bits == 16 and format not in deep_formats:
        raise ValueError(f"{format} cannot hold 16-bit samples; use png or tiff")
    return bits


def _to_samples(picture: Picture, bits: int, keep_alpha: bool) -> np.ndarray:
    """Integer samples, H x W for grey and H x W x C otherwise, colour channels then alpha."""
    pixels, alpha = picture.pixels, picture.alpha
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"pixels must be H x W x 1 or H x W x 3, not {pixels.shape}")
    if alpha is not None and alpha.shape != pixels.shape[:2]:
        raise ValueError(f"alpha shape {alpha.shape} does not match pixels {pixels.shape}")
    planes = [_quantize(pixels, bits)]
    if keep_alpha and alpha is not None:
        planes.append(_quantize(alpha, bits)[..., None])
    samples = np.concatenate(planes, axis=2) if len(planes) > 1 else planes[0]
    return samples[..., 0] if samples.shape[2] == 1 else samples


def _quantize(values: np.ndarray, bits: int) -> np.ndarray:
    """round(clip(x, 0, 1) * max): the inverse of reading, so unchanged samples round-trip exactly."""
    scaled = np.clip(values, 0.0, 1.0, dtype=np.float32)
    np.nan_to_num(scaled, copy=False)  # NaN has no integer value; call it black
    scaled *= (1 << bits) - 1
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint16 if bits == 16 else np.uint8)


def _encode_with_pillow(samples: np.ndarray, picture: Picture, format: str, quality: int) -> bytes:
    options = {"exif": picture.exif, "icc_profile": picture.icc_profile}
    if format in ("jpeg", "webp"):
        options["quality"] = quality
    if format == "png":
        options["compress_level"] = ZLIB_LEVEL
    buffer = BytesIO()
    save_options = {key: value for key, value in options.items() if value is not None}
    Image.fromarray(samples).save(buffer, format=format.upper(), **save_options)
    return buffer.getvalue()


def _encode_png16(samples: np.ndarray, picture: Picture) -> bytes:
    """16-bit PNG via OpenCV, with the iCCP and eXIf chunks OpenCV does not write spliced in after IHDR.

    OpenCV has no grey+alpha PNG, so such a picture is written as RGBA with equal colour channels.
    """
    if samples.ndim == 3:
        samples = samples[..., {2: [0, 0, 0, 1], 3: [2, 1, 0], 4: [2, 1, 0, 3]}[samples.shape[2]]]
    encoded, buffer = cv2.imencode(".png", samples, [cv2.IMWRITE_PNG_COMPRESSION, ZLIB_LEVEL])
    if not encoded:
        raise ValueError("OpenCV could not encode the 16-bit PNG")
    metadata = b""
    if picture.icc_profile:
        metadata += _png_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(picture.icc_profile))
    if picture.exif:
        metadata += _png_chunk(b"eXIf", picture.exif.removeprefix(_EXIF_PREFIX))
    png = buffer.tobytes()
    return png[:_PNG_SIGNATURE_AND_IHDR] + metadata + png[_PNG_SIGNATURE_AND_IHDR:]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _encode_tiff(samples: np.ndarray, picture: Picture) -> bytes:
    """Deflate-compressed little-endian TIFF via tifffile, 8 or 16 bits, with the ICC profile and the EXIF.

    IFD0 gets the text tags in :data:`TIFF_TEXT_TAGS` (as ASCII: other characters become '?'). The Exif
    and GPS sub-IFDs, which tifffile does not write, are serialised by Pillow and appended, their
    pointers written into IFD0 entries reserved for them (see :func:`_attach_sub_ifds`).
    """
    exif = Image.Exif()
    if picture.exif:
        exif.load(picture.exif)
    text = {code: str(exif[code]).encode("ascii", "replace") for code in TIFF_TEXT_TAGS if code in exif}
    software = text.pop(305, False)  # tifffile writes Software itself, naming itself unless told otherwise
    sub_ifds = {code: _serialisable(exif.get_ifd(code)) for code in (_EXIF_IFD, _GPS_IFD)}
    sub_ifds = {code: ifd for code, ifd in sub_ifds.items() if ifd}
    channels = samples.shape[2] if samples.ndim == 3 else 1
    buffer = BytesIO()
    tifffile.imwrite(
        buffer,
        samples,
        byteorder="<",
        photometric="rgb" if channels >= 3 else "minisblack",
        extrasamples=["unassalpha"] if channels in (2, 4) else None,
        compression="zlib",
        compressionargs={"level": ZLIB_LEVEL},
        predictor=True,
        iccprofile=picture.icc_profile,
        software=software,
        metadata=None,
        extratags=[(code, "s", 0, value, True) for code, value in text.items()]
        + [(code - 1, "I", 1, 0, True) for code in sub_ifds],
    )
    return _attach_sub_ifds(buffer.getvalue(), sub_ifds)


def _serialisable(ifd: dict) -> dict:
    """A sub-IFD's tags without pointers into the file they came from (the Interoperability IFD); empty if
    Pillow cannot write them back (odd vendor data): the image is kept, that metadata is not."""
    tags = {code: value for code, value in ifd.items() if code != _INTEROP_IFD and not isinstance(value, dict)}
    try:
        _ifd_bytes(tags, 0)
    except Exception:
        return {}
    return tags


def _ifd_bytes(tags: dict, offset: int) -> bytes:
    directory = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    for tag, value in tags.items():
        directory[tag] = value
    return directory.tobytes(offset)


def _attach_sub_ifds(data: bytes, sub_ifds: dict[int, dict]) -> bytes:
    """Append each sub-IFD (Pillow serialises it for its final offset) and point IFD0 at it.

    tifffile refuses to write the pointer tags themselves, so each was written as a LONG under the tag
    number just below its own (free in IFD0, and so in the same sorted position); here that entry gets
    the real tag number and the sub-IFD's offset.
    """
    if not sub_ifds:
        return data
    result = bytearray(data)
    with tifffile.TiffFile(BytesIO(data)) as tiff:
        entries = {code: tiff.pages.first.tags[code - 1] for code in sub_ifds}
        places = {code: (tag.offset, tag.valueoffset) for code, tag in entries.items()}
    for code, tags in sub_ifds.items():
        result += b"\0" * (len(result) % 2)  # IFDs start on a word boundary
        entry, value_at = places[code]
        struct.pack_into("<H", result, entry, code)
        struct.pack_into("<I", result, value_at, len(result))
        result += _ifd_bytes(tags, len(result))
    return bytes(result)


def _is_special_file(path: Path) -> bool:
    """An existing device, pipe or socket (following links): not a regular file, not a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _part_prefix(path: Path) -> str:
    """How the temporary files of ``path`` begin: hidden, and short enough that the whole name stays within
    the 255 bytes a file name may have (a 240-character output name is fine)."""
    name = path.name.encode()[:200].decode(errors="ignore")
    return f".{name}."


def _remove_stale_parts(path: Path) -> None:
    """Remove temporary files that a killed run (SIGKILL leaves them) wrote for ``path``; those of a process
    that is still running are another run's work in progress and stay."""
    prefix = _part_prefix(path)
    for stale in path.parent.glob(f"{glob.escape(prefix)}*.part"):
        owner = stale.name[len(prefix) :].split("-", 1)[0]
        if owner.isdigit() and not _process_alive(int(owner)):
            stale.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "file exists")


def write_atomically(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write next to the target under a hidden temporary name, then rename it over the target; a device or a
    pipe (``/dev/null``, a FIFO) is written to directly instead, since renaming over it would replace it."""
    if _is_special_file(path):
        with open(path, "wb") as stream:
            stream.write(data)
        return
    _remove_stale_parts(path)
    temporary = path.with_name(f"{_part_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)  # 0o666 so the umask decides, as for any new file
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        _refuse_existing(path, overwrite)  # again: the target may have appeared while encoding
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
