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

CMYK images are converted to RGB. When the file carries an ICC profile the conversion goes through
it (Pillow's ImageCms) to sRGB, and the Picture then carries Pillow's built-in sRGB profile, so later
outputs are tagged with the colour space their pixels are really in. Without a profile, Pillow's naive
formula is used and no profile is carried.
"""

from __future__ import annotations

import errno
import os
import secrets
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms, UnidentifiedImageError

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
_PNG_SIGNATURE_AND_IHDR = 33  # 8-byte signature, then IHDR: length, type, 13 bytes of data, CRC
_EXIF_PREFIX = b"Exif\0\0"
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
    """An image cannot be read; the message is one line: ``"<file>: <reason>"``."""


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


# --- reading -------------------------------------------------------------------------------------------


def read_image(source: Path | str | bytes, name: str | None = None) -> Picture:
    """Read an image file, or the bytes of one (stdin), into an upright :class:`Picture`.

    ``name`` labels error messages; it defaults to the path, or ``"<stdin>"`` for bytes.
    Raises :class:`ImageError` for anything that is not a complete, supported, reasonably sized image.
    """
    data, name = _read_source(source, name)
    try:
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
            reason = (exc.strerror or str(exc)).lower()
            raise ImageError(f"{name}: {reason}") from None
    if not data:
        raise ImageError(f"{name}: empty file")
    return data, name


def _describe(exc: BaseException) -> str:
    """A short reason for a decoder's exception."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return _TOO_LARGE
    text = " ".join(str(exc).split())
    if isinstance(exc, EOFError) or "truncated" in text:
        return "truncated file"
    return f"corrupt image data ({text or type(exc).__name__})"


def _decode(data: bytes) -> Picture:
    if data[:4] in _TIFF_SIGNATURES:
        return _decode_tiff(data)
    with _open_with_pillow(data) as image:
        source_format = _PILLOW_FORMATS[image.format]
        icc = image.info.get("icc_profile")
        info = {"jpeg_quantization": image.quantization} if source_format == "jpeg" else {}
        # Byte 24 is the IHDR bit depth; Pillow would quietly cut 16-bit colour to 8 bits.
        if source_format == "png" and data[24] == 16:
            samples, bits = _decode_png16(data), 16
        else:
            (samples, icc), bits = _decode_with_pillow(image, icc), 8
        exif = _tolerant_exif(lambda: _png_exif(data) if source_format == "png" else image.getexif())
        return _make_picture(samples, bits, exif, icc, source_format, info)


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


def _decode_with_pillow(image: Image.Image, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """8-bit samples as H x W x (L, LA, RGB or RGBA), and the ICC profile that now describes them."""
    image.load()  # decode everything now, so a truncated file fails here (LOAD_TRUNCATED_IMAGES is False)
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
    """16-bit samples via OpenCV, reordered from BGR(A) to RGB(A)."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise _Unreadable("truncated file" if b"IEND" not in data[-12:] else "corrupt PNG data")
    if decoded.ndim == 2:
        decoded = decoded[..., None]
    channels = decoded.shape[2]
    colour = [0] if data[25] in (0, 4) else [2, 1, 0]  # PNG colour types 0 and 4 are grey
    alpha = [channels - 1] if channels in (2, 4) else []
    return decoded[..., colour + alpha]


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


def _decode_tiff(data: bytes) -> Picture:
    with tifffile.TiffFile(BytesIO(data)) as tiff:
        page = tiff.pages[0]
        _check_size(page.imagewidth, page.imagelength)
        icc = page.tags.valueof(34675)
        exif = _tiff_exif(page)
        if page.bitspersample > 8:
            samples, bits = _decode_deep_tiff(page, len(data)), 16
        else:
            # Pillow knows the 8-bit variants (palette, CMYK, LZW, JPEG-in-TIFF...) tifffile alone cannot decode.
            with _open_with_pillow(data) as image:
                (samples, icc), bits = _decode_with_pillow(image, icc), 8
    return _make_picture(samples, bits, exif, icc, "tiff", {})


def _tiff_exif(page: tifffile.TiffPage) -> Image.Exif:
    exif = Image.Exif()
    for code in (*TIFF_TEXT_TAGS, ORIENTATION):
        value = page.tags.valueof(code)
        if value is not None:
            exif[code] = int(value) if code == ORIENTATION else value
    return exif


def _decode_deep_tiff(page: tifffile.TiffPage, file_size: int) -> np.ndarray:
    """Samples deeper than 8 bits as uint16 H x W x C, channels grey or RGB, then alpha if any."""
    if any(offset + count > file_size for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True)):
        raise _Unreadable("truncated file")
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
    samples: np.ndarray, bits: int, exif: Image.Exif, icc: bytes | None, source_format: str, info: dict
) -> Picture:
    """Turn integer H x W x C samples (colour channels, then alpha) into an upright Picture."""
    samples = upright(samples, exif.get(ORIENTATION, 1))
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
    ``quality`` (jpeg, webp) defaults to 95. JPEG drops alpha. EXIF and ICC are carried, except that
    TIFF keeps only the EXIF text tags in :data:`TIFF_TEXT_TAGS`. Raises ValueError for impossible requests.
    """
    if format not in FORMATS:
        raise ValueError(f"cannot write format {format!r}; choose one of {', '.join(FORMATS)}")
    bits = _output_bits(picture, format, bits)
    quality = 95 if quality is None else quality
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be between 0 and 100, not {quality}")
    samples = _to_samples(picture, bits, keep_alpha=format != "jpeg")
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

    ``format`` defaults to the one the extension names (ValueError if none). An existing file is
    refused with FileExistsError unless ``overwrite``.
    """
    path = Path(path)
    format = format or format_for_path(path)
    if format is None:
        raise ValueError(f"{path}: unknown image extension; choose one of {', '.join(FORMATS)}")
    _refuse_existing(path, overwrite)  # fail before a possibly long encode
    _write_atomically(path, encode_image(picture, format, bits, quality), overwrite)


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
    encoded, buffer = cv2.imencode(".png", samples, [cv2.IMWRITE_PNG_COMPRESSION, 6])
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
    """Deflate-compressed TIFF via tifffile, 8 or 16 bits, with the ICC profile.

    Of the EXIF only the IFD0 text tags in :data:`TIFF_TEXT_TAGS` are written (as ASCII: other
    characters become '?'); exposure data, GPS, maker notes and everything else in the Exif and GPS
    sub-IFDs are not carried.
    """
    exif = Image.Exif()
    if picture.exif:
        exif.load(picture.exif)
    text = {code: str(exif[code]).encode("ascii", "replace") for code in TIFF_TEXT_TAGS if code in exif}
    software = text.pop(305, False)  # tifffile writes Software itself, naming itself unless told otherwise
    channels = samples.shape[2] if samples.ndim == 3 else 1
    buffer = BytesIO()
    tifffile.imwrite(
        buffer,
        samples,
        photometric="rgb" if channels >= 3 else "minisblack",
        extrasamples=["unassalpha"] if channels in (2, 4) else None,
        compression="zlib",
        predictor=True,
        iccprofile=picture.icc_profile,
        software=software,
        metadata=None,
        extratags=[(code, "s", 0, value, True) for code, value in text.items()],
    )
    return buffer.getvalue()


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "file exists (overwrite not allowed)", str(path))


def _write_atomically(path: Path, data: bytes, overwrite: bool) -> None:
    """Write next to the target under a hidden temporary name, then rename it over the target."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
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
