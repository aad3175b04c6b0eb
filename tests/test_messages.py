"""What a user sees when a file is damaged or cannot be written: one plain line, and nothing from the libraries.

pytest's ``capfd`` captures file descriptor 2 itself, so it also sees what libpng, libtiff, OpenCV and LibRaw
print from C; ``recwarn`` records the Python warnings that pytest would otherwise keep from stderr.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile

from enhance_cli.imageio import MAX_PIXELS, ImageError, Picture, read_image, write_image
from tests.test_imageio import first_half, png_chunk, png_claiming, save_png16, save_with_pillow

SAMPLE_DNG = Path(__file__).resolve().parents[1] / "samples" / "colorchart.dng"
DAMAGED_ICC = png_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(bytes(200)))  # libpng: "iCCP: too short"


def corrupt_exif() -> bytes:
    """An APP1 segment whose Make and Exif sub-IFD point far beyond its end, as some broken tools write."""
    entries = struct.pack("<HHII", 271, 2, 0xFFFF, 0xFFFFF0) + struct.pack("<HHII", 0x8769, 4, 1, 0x0FFFFFFF)
    tiff = b"II*\0" + struct.pack("<IH", 8, 2) + entries + struct.pack("<I", 0)
    payload = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def make_damaged(kind: str, path: Path, pixels: np.ndarray) -> Path:
    if kind == "16-bit png, damaged icc profile":
        save_png16(path, pixels.astype(np.uint16) * 257, DAMAGED_ICC)
    elif kind == "8-bit png, damaged icc profile":
        png = save_with_pillow(path, pixels, format="PNG").read_bytes()
        path.write_bytes(png[:33] + DAMAGED_ICC + png[33:])
    elif kind.startswith("tiff, orientation tag as text"):
        samples = pixels.astype(np.uint16) * 257 if "16-bit" in kind else pixels
        tifffile.imwrite(path, samples, photometric="rgb", extratags=[(274, 2, 1, "x", True)])
    elif kind == "jpeg, corrupt exif":
        jpeg = save_with_pillow(path, pixels, format="JPEG").read_bytes()
        path.write_bytes(jpeg[:2] + corrupt_exif() + jpeg[2:])
    elif kind == "truncated 16-bit png":
        path.write_bytes(first_half(save_png16(path, pixels.astype(np.uint16) * 257)))
    elif kind == "truncated tiff":
        tifffile.imwrite(path, pixels, photometric="rgb", compression="zlib")
        path.write_bytes(first_half(path))
    elif kind == "tiff with garbled pixel data":  # libtiff: "ZIPDecode: Decoding error at scanline 0, ..."
        tifffile.imwrite(path, pixels, photometric="rgb", compression="zlib")
        with tifffile.TiffFile(path) as tiff:
            start, length = tiff.pages[0].dataoffsets[0], tiff.pages[0].databytecounts[0]
        data = bytearray(path.read_bytes())
        data[start : start + length // 2] = bytes(length // 2)
        path.write_bytes(data)
    elif kind == "tiff cut before its directory":  # Pillow writes the directory after the pixels
        path.write_bytes(first_half(save_with_pillow(path, pixels, format="TIFF", compression="tiff_lzw")))
    elif kind.startswith(("8-bit png, ", "16-bit png, ")):  # the pixel stream damaged, the chunks still whole
        png = (
            save_png16(path, pixels.astype(np.uint16) * 257)
            if kind.startswith("16")
            else save_with_pillow(path, pixels, format="PNG")
        ).read_bytes()
        path.write_bytes(with_damaged_idat(png, kind.split(", ")[1]))
    elif kind == "too many pixels":  # Pillow warns between its limit and twice that, and refuses above
        path.write_bytes(png_claiming(30_000, MAX_PIXELS // 30_000 + 1))
    return path


def with_damaged_idat(png: bytes, damage: str) -> bytes:
    """``png`` (one IDAT chunk) with its pixel stream damaged; the chunk's CRC is recomputed to match."""
    start = png.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", png[start : start + 4])
    stream = bytearray(png[start + 8 : start + 8 + length])
    if damage == "a flipped byte":
        stream[len(stream) // 2] ^= 0xFF
    elif damage == "half the rows":
        rows = zlib.decompress(bytes(stream))
        stream = bytearray(zlib.compress(rows[: len(rows) // 2]))
    else:  # not zlib at all
        stream = bytearray(len(stream))
    return png[:start] + png_chunk(b"IDAT", bytes(stream)) + png[start + 12 + length :]


def assert_one_plain_line(message: str, path: Path) -> None:
    assert message.startswith(f"{path}: ") and "\n" not in message
    reason = message.removeprefix(f"{path}: ")
    for noise in ("Errno", ".part", "'", '"', "<", ">"):
        assert noise not in reason, message


def assert_quiet(capfd, recwarn) -> None:
    """Nothing reached stderr and no warning escaped; and stderr is back in place afterwards."""
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    assert [str(warning.message) for warning in recwarn] == []


@pytest.fixture
def pixels(sample_pixels) -> np.ndarray:
    return sample_pixels[200:232, 300:348]


@pytest.mark.parametrize(
    "kind",
    [
        "16-bit png, damaged icc profile",
        "8-bit png, damaged icc profile",
        "jpeg, corrupt exif",
        "tiff, orientation tag as text",
        "tiff, orientation tag as text, 16-bit",
    ],
)
def test_damaged_metadata_is_read_past_quietly(tmp_path, capfd, recwarn, pixels, kind):
    picture = read_image(make_damaged(kind, tmp_path / "photo", pixels))
    assert picture.pixels.shape == (*pixels.shape[:2], 3)
    assert_quiet(capfd, recwarn)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("truncated 16-bit png", "truncated file"),
        ("truncated tiff", "truncated file"),
        ("tiff with garbled pixel data", "corrupt image data"),
        ("tiff cut before its directory", "truncated, damaged or unsupported TIFF file"),
        ("too many pixels", "image too large"),
        *(
            (f"{depth} png, {damage}", "corrupt PNG data")
            for depth in ("8-bit", "16-bit")
            for damage in ("a flipped byte", "half the rows", "a stream that is not zlib")
        ),
    ],
)
def test_unreadable_files_fail_in_one_plain_line_and_quietly(tmp_path, capfd, recwarn, pixels, kind, reason):
    path = make_damaged(kind, tmp_path / "photo", pixels)
    with pytest.raises(ImageError) as caught:
        read_image(path)
    assert_one_plain_line(str(caught.value), path)
    assert reason in str(caught.value)
    assert_quiet(capfd, recwarn)


@pytest.mark.parametrize("reader", ["read_raw", "libraw_reference"])
def test_damaged_raw_fails_in_one_plain_line_and_quietly(tmp_path, capfd, recwarn, reader):
    pytest.importorskip("rawpy")
    from enhance_cli import rawio

    path = tmp_path / "cut.dng"
    path.write_bytes(SAMPLE_DNG.read_bytes()[:200_000])  # LibRaw prints "Unexpected end of file" itself
    with pytest.raises(rawio.RawError) as caught:
        getattr(rawio, reader)(path)
    assert_one_plain_line(str(caught.value), path)
    assert_quiet(capfd, recwarn)


def small_picture() -> Picture:
    return Picture(np.full((4, 5, 3), 0.5, np.float32), None, 8, None, None, "png", {})


def test_write_below_a_file_says_not_a_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    target = tmp_path / "notes.txt" / "out.png"
    with pytest.raises(ImageError) as caught:
        write_image(target, small_picture())
    assert str(caught.value) == f"{target}: not a directory"


def test_write_into_read_only_folder_says_permission_denied(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    if os.access(folder, os.W_OK):
        pytest.skip("this user may write anywhere (root)")
    target = folder / "out.png"
    with pytest.raises(ImageError) as caught:
        write_image(target, small_picture())
    assert str(caught.value) == f"{target}: permission denied"
