"""Tests for enhance_cli.imageio: every fixture is a small image made here, synthetic or cut from the sample."""

from __future__ import annotations

import errno
import os
import struct
import zlib
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image, ImageCms, ImageFile, ImageOps, TiffImagePlugin

from enhance_cli.imageio import (
    FORMATS,
    MAX_PIXELS,
    ORIENTATION,
    ImageError,
    ImageWriteError,
    Picture,
    encode_image,
    format_for_path,
    read_image,
    write_image,
)

HEIGHT, WIDTH = 23, 37  # not square, so a rotation shows in the shape
GPS = ExifTags.IFD.GPSInfo
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def noisy_gradient(channels: int, dtype: type = np.uint8) -> np.ndarray:
    """Gradient plus noise over the full range, so every sample value is likely different."""
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(channels)
    ramp = np.linspace(0, top * 0.8, WIDTH)[None, :, None] * np.ones((HEIGHT, 1, channels))
    noise = rng.integers(0, top // 5, (HEIGHT, WIDTH, channels))
    samples = (ramp + noise).astype(dtype)
    return samples[..., 0] if channels == 1 else samples


def camera_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[271] = "TestCam"
    exif[272] = "Model 7"
    exif[306] = "2024:05:06 07:08:09"
    if orientation:
        exif[ORIENTATION] = orientation
    exif[GPS] = {1: "N", 2: (52.0, 31.0, 12.5)}
    return exif


def save_with_pillow(path: Path, samples: np.ndarray, **options) -> Path:
    Image.fromarray(samples).save(path, **options)
    return path


def save_png16(path: Path, samples: np.ndarray, *chunks: bytes) -> Path:
    """A 16-bit PNG through OpenCV, which wants BGR(A); ``chunks`` go right after the header."""
    bgr = samples[..., [2, 1, 0, 3][: samples.shape[2]]] if samples.ndim == 3 else samples
    png = cv2.imencode(".png", bgr)[1].tobytes()
    path.write_bytes(png[:PNG_HEADER] + b"".join(chunks) + png[PNG_HEADER:])
    return path


PNG_HEADER = 33  # signature and IHDR chunk


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def samples_of(picture: Picture) -> np.ndarray:
    """The integer samples a Picture was read from: pixels, then alpha as an extra channel."""
    planes = [picture.pixels] if picture.alpha is None else [picture.pixels, picture.alpha[..., None]]
    values = np.concatenate(planes, axis=2) * ((1 << picture.bits) - 1)
    samples = np.rint(values).astype(np.uint16 if picture.bits == 16 else np.uint8)
    return samples[..., 0] if samples.shape[2] == 1 else samples


def read_png16(path: Path) -> np.ndarray:
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return decoded if decoded.ndim == 2 else decoded[..., [2, 1, 0, 3][: decoded.shape[2]]]


# --- pixels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("format", ["png", "tiff"])
def test_8bit_round_trip_is_bit_exact(tmp_path, channels, format):
    original = noisy_gradient(channels)
    source = save_with_pillow(tmp_path / f"in.{format}", original)
    picture = read_image(source)
    assert picture.bits == 8 and picture.source_format == format
    assert picture.pixels.dtype == np.float32 and picture.pixels.shape == (
        HEIGHT,
        WIDTH,
        3 if channels > 2 else 1,
    )
    assert (picture.alpha is not None) == (channels in (2, 4))
    target = tmp_path / f"out.{format}"
    write_image(target, picture)
    assert np.array_equal(np.asarray(Image.open(target)), original)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_round_trip_is_bit_exact(tmp_path, channels):
    original = noisy_gradient(channels, np.uint16)
    assert np.any(original % 257)  # values an 8-bit detour would lose
    picture = read_image(save_png16(tmp_path / "in.png", original))
    assert picture.bits == 16 and picture.pixels.shape[2] == (1 if channels == 1 else 3)
    assert np.array_equal(samples_of(picture), original)
    write_image(tmp_path / "out.png", picture)
    assert np.array_equal(read_png16(tmp_path / "out.png"), original)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_tiff_round_trip_is_bit_exact(tmp_path, channels):
    original = noisy_gradient(channels, np.uint16)
    photometric = "rgb" if channels >= 3 else "minisblack"
    extrasamples = ["unassalpha"] if channels in (2, 4) else None
    tifffile.imwrite(tmp_path / "in.tif", original, photometric=photometric, extrasamples=extrasamples)
    picture = read_image(tmp_path / "in.tif")
    assert picture.bits == 16 and np.array_equal(samples_of(picture), original)
    write_image(tmp_path / "out.tiff", picture)
    assert np.array_equal(tifffile.imread(tmp_path / "out.tiff"), original)


def test_16bit_picture_written_as_8bit_when_asked_or_lossy_format(tmp_path):
    picture = read_image(save_png16(tmp_path / "in.png", noisy_gradient(3, np.uint16)))
    write_image(tmp_path / "eight.png", picture, bits=8)
    write_image(tmp_path / "out.jpg", picture)
    assert Image.open(tmp_path / "eight.png").mode == "RGB"
    assert Image.open(tmp_path / "out.jpg").mode == "RGB"


def test_rgba_alpha_survives_every_format_with_alpha(tmp_path):
    original = noisy_gradient(4)
    picture = read_image(save_with_pillow(tmp_path / "in.png", original))
    assert np.array_equal(samples_of(picture)[..., 3], original[..., 3])
    for format in ("png", "tiff", "webp"):
        written = Image.open(BytesIO(encode_image(picture, format)))
        assert written.mode == "RGBA"
        assert np.array_equal(np.asarray(written)[..., 3], original[..., 3])  # WebP keeps alpha lossless
    assert Image.open(BytesIO(encode_image(picture, "jpeg"))).mode == "RGB"


def test_palette_with_transparency_reads_as_rgba(tmp_path):
    indices = (noisy_gradient(1) % 4).astype(np.uint8)
    palette_image = Image.fromarray(indices, mode="P")
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    palette_image.save(tmp_path / "palette.png", transparency=3)
    picture = read_image(tmp_path / "palette.png")
    assert picture.pixels.shape == (HEIGHT, WIDTH, 3)
    assert np.array_equal(picture.alpha == 0, indices == 3)
    assert np.array_equal(picture.pixels[indices == 1], np.tile([0.0, 1.0, 0.0], ((indices == 1).sum(), 1)))


def test_palette_without_transparency_reads_as_rgb(tmp_path):
    Image.fromarray(noisy_gradient(3)).convert("P").save(tmp_path / "palette.bmp")
    picture = read_image(tmp_path / "palette.bmp")
    assert picture.source_format == "bmp" and picture.pixels.shape == (HEIGHT, WIDTH, 3) and picture.alpha is None


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    Image.new("CMYK", (WIDTH, HEIGHT), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    picture = read_image(tmp_path / "cmyk.jpg")
    assert picture.pixels.shape == (HEIGHT, WIDTH, 3)
    assert np.allclose(picture.pixels.mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=0.05)  # pure red


def test_cmyk_with_unusable_profile_falls_back_and_drops_it(tmp_path):
    cmyk = Image.new("CMYK", (WIDTH, HEIGHT), (0, 255, 255, 0))
    cmyk.save(tmp_path / "cmyk.jpg", icc_profile=SRGB_ICC)  # an RGB profile cannot describe CMYK data
    picture = read_image(tmp_path / "cmyk.jpg")
    assert picture.icc_profile is None
    assert np.allclose(picture.pixels.mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=0.05)


@pytest.mark.parametrize("suffix", ["png", "jpg", "bmp", "tif"])  # WebP has no grey
def test_grey_stays_one_channel(tmp_path, suffix):
    picture = read_image(save_with_pillow(tmp_path / f"grey.{suffix}", noisy_gradient(1)))
    assert picture.pixels.shape == (HEIGHT, WIDTH, 1) and picture.alpha is None
    write_image(tmp_path / "out.png", picture)
    assert Image.open(tmp_path / "out.png").mode == "L"


def test_reading_from_bytes_and_jpeg_quantization(tmp_path):
    path = save_with_pillow(tmp_path / "in.jpg", noisy_gradient(3), quality=80)
    picture = read_image(path.read_bytes())
    assert picture.source_format == "jpeg" and picture.pixels.shape == (HEIGHT, WIDTH, 3)
    assert picture.info["jpeg_quantization"] == Image.open(path).quantization


# --- metadata -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("format", "bits"), [("png", 8), ("jpeg", 8), ("webp", 8), ("png", 16)])
def test_exif_and_icc_carried_from_jpeg(tmp_path, format, bits):
    source = save_with_pillow(tmp_path / "in.jpg", noisy_gradient(3), exif=camera_exif(), icc_profile=SRGB_ICC)
    write_image(tmp_path / "out", read_image(source), format=format, bits=bits)
    written = Image.open(tmp_path / "out")
    exif = written.getexif()
    assert (exif[271], exif[272], exif[306]) == ("TestCam", "Model 7", "2024:05:06 07:08:09")
    assert exif.get_ifd(GPS) == {1: "N", 2: (52.0, 31.0, 12.5)}
    assert written.info["icc_profile"] == SRGB_ICC


def test_tiff_carries_icc_and_text_exif(tmp_path):
    source = save_with_pillow(tmp_path / "in.jpg", noisy_gradient(3), exif=camera_exif(), icc_profile=SRGB_ICC)
    write_image(tmp_path / "out.tif", read_image(source))
    picture = read_image(tmp_path / "out.tif")
    exif = Image.Exif()
    exif.load(picture.exif)
    assert (exif[271], exif[272], exif[306]) == ("TestCam", "Model 7", "2024:05:06 07:08:09")
    assert picture.icc_profile == SRGB_ICC


# How a camera stores an upright image under each EXIF orientation: the inverse of what the tag asks a viewer to do.
STORED_FOR = {
    1: lambda upright: upright,
    2: np.fliplr,
    3: lambda upright: np.rot90(upright, 2),
    4: np.flipud,
    5: lambda upright: upright.swapaxes(0, 1),
    6: lambda upright: np.rot90(upright, 1),  # "turn clockwise to view": stored turned anticlockwise
    7: lambda upright: np.rot90(upright, 2).swapaxes(0, 1),
    8: lambda upright: np.rot90(upright, -1),
}


@pytest.fixture(scope="module")
def upright_blocks(sample_pixels) -> np.ndarray:
    """A real, asymmetric 24 x 40 image: 3 x 5 sample pixels as flat 8 x 8 blocks (JPEG keeps flat grey exactly)."""
    return sample_pixels[200:203, 300:305].repeat(8, axis=0).repeat(8, axis=1)


def save_oriented(path: Path, kind: str, upright: np.ndarray, orientation: int) -> np.ndarray:
    """Store an upright image with an orientation tag, as a camera would; return the samples expected back."""
    if kind == "jpeg":
        upright = upright[..., [1, 1, 1]]  # grey: no colour conversion to round
    elif kind.endswith("16"):
        upright = upright.astype(np.uint16) * 256 + 7  # not multiples of 257: an 8-bit detour would show
    stored = np.ascontiguousarray(STORED_FOR[orientation](upright))
    exif = camera_exif(orientation)
    if kind == "png16":
        save_png16(path, stored, png_chunk(b"eXIf", exif.tobytes().removeprefix(b"Exif\0\0")))
    elif kind == "tiff16":
        tags = [(ORIENTATION, "H", 1, orientation, True), (271, "s", 0, exif[271], True)]
        tifffile.imwrite(path, stored, photometric="rgb", extratags=tags)
    elif kind == "tiff":
        save_with_pillow(path, stored, format="TIFF", tiffinfo={ORIENTATION: orientation, 271: exif[271]})
    else:
        save_with_pillow(path, stored, format=kind.upper(), exif=exif, quality=100, lossless=True)
    return upright


@pytest.fixture(params=["never", "always"])
def pillow_turning(request, monkeypatch) -> None:
    """Pillow versions differ in which formats they turn upright while loading (recent ones: TIFF); try both ends."""
    if request.param == "never":  # as before Pillow learnt to turn TIFFs: pixels, size and tag as stored
        setup = TiffImagePlugin.TiffImageFile._setup

        def setup_as_stored(image: TiffImagePlugin.TiffImageFile) -> None:
            setup(image)
            image._size = image._tile_size

        monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "_setup", setup_as_stored)
        monkeypatch.setattr(ImageOps, "exif_transpose", lambda image, **options: None)
        return
    load = Image.Image.load

    def load_and_turn(image: Image.Image):
        pixels = load(image)
        if not getattr(image, "turning", False):  # exif_transpose loads the image too
            image.turning = True
            ImageOps.exif_transpose(image, in_place=True)
        return pixels

    monkeypatch.setattr(Image.Image, "load", load_and_turn)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ["jpeg", "png", "png16", "webp", "tiff", "tiff16"])
def test_every_orientation_is_applied_once(tmp_path, upright_blocks, pillow_turning, kind, orientation):
    expected = save_oriented(tmp_path / "photo", kind, upright_blocks, orientation)
    picture = read_image(tmp_path / "photo")
    assert np.array_equal(samples_of(picture), expected)
    carried = Image.Exif()
    carried.load(picture.exif)
    assert carried.get(ORIENTATION, 1) == 1 and carried[271] == "TestCam"


def test_orientation_6_rotates_16bit_png_clockwise(tmp_path):
    stored = noisy_gradient(3, np.uint16)
    sideways = Picture(stored / np.float32(65535), None, 16, camera_exif(6).tobytes(), None, "png", {})
    write_image(tmp_path / "sideways.png", sideways)
    picture = read_image(tmp_path / "sideways.png")
    assert picture.pixels.shape == (WIDTH, HEIGHT, 3)
    assert np.array_equal(samples_of(picture), np.rot90(stored, k=-1))
    assert Image.open(BytesIO(encode_image(picture, "png"))).getexif()[ORIENTATION] == 1


# --- errors ---------------------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def tiff_claiming(width: int, height: int) -> bytes:
    """A tiny 16-bit TIFF whose header is patched to claim a huge size."""
    buffer = BytesIO()
    tifffile.imwrite(buffer, np.zeros((2, 3), np.uint16))
    data = bytearray(buffer.getvalue())
    with tifffile.TiffFile(BytesIO(data)) as tiff:
        tags = tiff.pages[0].tags
        for code, value in ((256, width), (257, height)):
            assert tags[code].dtype == 4  # LONG: four bytes to patch in place
            data[tags[code].valueoffset : tags[code].valueoffset + 4] = struct.pack("<I", value)
    return bytes(data)


def first_half(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) // 2]


def make_bad_file(kind: str, path: Path) -> Path:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not an image\n")
    elif kind == "truncated png":
        path.write_bytes(first_half(save_with_pillow(path, noisy_gradient(3), format="PNG")))
    elif kind == "truncated 16-bit png":
        path.write_bytes(first_half(save_png16(path, noisy_gradient(3, np.uint16))))
    elif kind == "truncated jpeg":
        path.write_bytes(first_half(save_with_pillow(path, noisy_gradient(3), format="JPEG")))
    elif kind == "truncated tiff":
        tifffile.imwrite(path, noisy_gradient(3, np.uint16), photometric="rgb")
        path.write_bytes(first_half(path))
    elif kind == "directory":
        path.mkdir()
    elif kind == "bomb":
        path.write_bytes(png_claiming(100_000, 100_000))
    elif kind == "tiff bomb":
        path.write_bytes(tiff_claiming(100_000, 100_000))
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file"),
        ("text", "not a PNG"),
        ("truncated png", "truncated"),
        ("truncated 16-bit png", "truncated"),
        ("truncated jpeg", "truncated"),
        ("truncated tiff", "truncated"),
        ("missing", "no such file"),
        ("directory", "directory"),
        ("bomb", "too large"),
        ("tiff bomb", "too large"),
    ],
)
def test_unreadable_files_raise_image_error_naming_the_file(tmp_path, kind, reason):
    path = make_bad_file(kind, tmp_path / "victim_file")
    with pytest.raises(ImageError) as caught:
        read_image(path)
    message = str(caught.value)
    assert "victim_file" in message and reason in message and "\n" not in message


def test_bad_bytes_are_named_stdin():
    with pytest.raises(ImageError, match="^<stdin>: empty file$"):
        read_image(b"")
    with pytest.raises(ImageError, match="^upload.png: image too large"):
        read_image(png_claiming(30_000, MAX_PIXELS // 30_000 + 1), name="upload.png")


def frames_of(sample_pixels: np.ndarray, count: int = 3) -> list[np.ndarray]:
    """Distinct small real frames: the same crop, panned."""
    return [sample_pixels[200:232, 300 + 10 * shift : 348 + 10 * shift] for shift in range(count)]


def save_frames(path: Path, kind: str, frames: list[np.ndarray]) -> Path:
    if kind == "tiff16":
        tifffile.imwrite(path, np.stack(frames).astype(np.uint16) * 257, photometric="rgb")
    elif kind == "tiff":
        tifffile.imwrite(path, np.stack(frames), photometric="rgb")
    else:
        first, *others = (Image.fromarray(frame) for frame in frames)
        first.save(path, format=kind, save_all=True, append_images=others, lossless=True)
    return path


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("PNG", "has 3 frames (animated PNG)"),
        ("WEBP", "has 3 frames (animated WebP)"),
        ("tiff", "has 3 pages (multi-page TIFF)"),
        ("tiff16", "has 3 pages (multi-page TIFF)"),
    ],
)
def test_multi_frame_files_are_refused_not_cut_to_one_frame(tmp_path, sample_pixels, kind, says):
    path = save_frames(tmp_path / "clip", kind, frames_of(sample_pixels))
    with pytest.raises(ImageError) as caught:
        read_image(path)
    assert str(caught.value).startswith(f"{path}: {says}; enhance reads single images")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_with_reduced_resolution_preview_is_read(tmp_path, sample_pixels, dtype):
    full = frames_of(sample_pixels, 1)[0].astype(dtype)
    with tifffile.TiffWriter(tmp_path / "scan.tif") as tiff:
        tiff.write(full, photometric="rgb")
        tiff.write(full[::4, ::4], photometric="rgb", subfiletype=1)  # NewSubfileType: reduced-resolution image
    assert np.array_equal(samples_of(read_image(tmp_path / "scan.tif")), full)


def test_multi_picture_jpeg_reads_its_primary_image(tmp_path, sample_pixels):
    primary, preview = (Image.fromarray(frame) for frame in frames_of(sample_pixels, 2))
    primary.save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=[preview], quality=95)
    picture = read_image(tmp_path / "phone.jpg")
    assert picture.source_format == "jpeg"
    assert np.array_equal(samples_of(picture), np.asarray(Image.open(tmp_path / "phone.jpg")))  # frame 0


@pytest.mark.parametrize("frames", [1, 3])
def test_gif_is_refused_as_unsupported(tmp_path, sample_pixels, frames):
    path = save_frames(tmp_path / "anim.gif", "GIF", frames_of(sample_pixels, frames))
    with pytest.raises(ImageError, match=f"^{path}: not a PNG, JPEG, TIFF, WebP or BMP image$"):
        read_image(path)


def test_truncated_images_stay_refused_by_pillow():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


# --- writing --------------------------------------------------------------------------------------


def small_picture() -> Picture:
    return Picture(np.full((4, 5, 3), 0.5, np.float32), None, 8, None, None, "png", {})


def test_write_refuses_existing_file_unless_overwrite(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match=f"^{target}: file exists \\(use --overwrite\\)$"):
        write_image(target, small_picture())
    assert target.read_bytes() == b"precious"
    write_image(target, small_picture(), overwrite=True)
    assert Image.open(target).size == (5, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_failed_encode_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_image(tmp_path / "out.jpg", small_picture(), bits=16)
    with pytest.raises(ValueError):
        write_image(tmp_path / "out.gif", small_picture())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "no space left on device"),
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_failure_after_temp_file_removes_it_and_names_the_target(tmp_path, monkeypatch, code, reason):
    def failing_replace(source, target):
        raise OSError(code, os.strerror(code), str(source))  # as the OS reports it: about the temporary file

    monkeypatch.setattr("enhance_cli.imageio.os.replace", failing_replace)
    target = tmp_path / "out.png"
    with pytest.raises(OSError) as caught:  # an ImageWriteError is an OSError too
        write_image(target, small_picture())
    assert str(caught.value) == f"{target}: {reason}" and caught.value.errno == code
    assert list(tmp_path.iterdir()) == []


def test_values_outside_unit_range_are_clipped():
    picture = small_picture()
    picture.pixels[0, 0] = [-1.0, 2.0, np.nan]
    written = np.asarray(Image.open(BytesIO(encode_image(picture, "png"))))
    assert written[0, 0].tolist() == [0, 255, 0]


@pytest.mark.parametrize(
    ("name", "format"),
    [("a.png", "png"), ("a.TIF", "tiff"), ("a.tiff", "tiff"), ("a.jpg", "jpeg"), ("a.JPEG", "jpeg"),
     ("a.webp", "webp"), ("a.bmp", None), ("a", None)],
)  # fmt: skip
def test_format_for_path(name, format):
    assert format_for_path(Path(name)) == format
    assert format is None or format in FORMATS
