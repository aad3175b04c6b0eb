"""DNG opcodes: the corrections a camera stores in its DNG for the developer to apply (DNG 1.4+, chapter 6).

A list is a big-endian count, then per opcode its ID, DNG version, flags (bit 0: optional) and parameter
bytes. OpcodeList2 applies to the mosaic once it holds linear values (black 0, white 1); OpcodeList3 to
the demosaicked camera-RGB image, before colour conversion. Applied here: GainMap (lens shading, as
phones and action cameras store it), FixVignetteRadial and WarpRectilinear (distortion and lateral
chromatic aberration). The others are listed as skipped, so the report says what the file asked for.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

OPCODE_NAMES = {
    1: "WarpRectilinear",
    2: "WarpFisheye",
    3: "FixVignetteRadial",
    4: "FixBadPixelsConstant",
    5: "FixBadPixelsList",
    6: "TrimBounds",
    7: "MapTable",
    8: "MapPolynomial",
    9: "GainMap",
    10: "DeltaPerRow",
    11: "DeltaPerColumn",
    12: "ScalePerRow",
    13: "ScalePerColumn",
    14: "WarpRectilinear2",
}
LIST_TAGS = {51008: 1, 51009: 2, 51022: 3}  # TIFF tag -> OpcodeList number


@dataclass(frozen=True)
class GainMap:
    """Gains on a grid, interpolated bilinearly, over pixels ``top:bottom:row_pitch, left:right:col_pitch``."""

    top: int
    left: int
    bottom: int
    right: int
    plane: int
    planes: int
    row_pitch: int
    col_pitch: int
    spacing: tuple[float, float]  # (vertical, horizontal) between map points, as a fraction of the image
    origin: tuple[float, float]  # (vertical, horizontal) of the first map point, as a fraction of the image
    gains: np.ndarray  # points_v x points_h x map_planes, float32

    name = "GainMap"


@dataclass(frozen=True)
class FixVignetteRadial:
    """Gain 1 + k0 r^2 + k1 r^4 + ... + k4 r^10, r from the centre, 1 at the farthest corner."""

    k: tuple[float, ...]
    centre: tuple[float, float]  # (x, y) as fractions of the width and height

    name = "FixVignetteRadial"


@dataclass(frozen=True)
class WarpRectilinear:
    """Per plane, radial (kr0..kr3) and tangential (kt0, kt1) terms mapping each output pixel to its source."""

    coefficients: np.ndarray  # planes x 6
    centre: tuple[float, float]  # (x, y) as fractions of the width and height

    name = "WarpRectilinear"


@dataclass(frozen=True)
class Skipped:
    """An opcode this developer does not apply."""

    code: int
    optional: bool

    @property
    def name(self) -> str:
        return OPCODE_NAMES.get(self.code, f"opcode {self.code}")


Opcode = GainMap | FixVignetteRadial | WarpRectilinear | Skipped


def parse_opcode_list(data: bytes) -> list[Opcode]:
    """The opcodes of one OpcodeList tag; ValueError if the bytes do not hold one."""
    if len(data) < 4:
        raise ValueError("opcode list shorter than its count")
    (count,) = struct.unpack_from(">I", data, 0)
    offset, opcodes = 4, []
    for _ in range(count):
        if offset + 16 > len(data):
            raise ValueError("opcode list ends inside an opcode header")
        code, _version, flags, size = struct.unpack_from(">4I", data, offset)
        parameters = data[offset + 16 : offset + 16 + size]
        if len(parameters) != size:
            raise ValueError(f"{OPCODE_NAMES.get(code, code)} parameters run past the end of the list")
        opcodes.append(_parse_opcode(code, flags, parameters))
        offset += 16 + size
    return opcodes


def _parse_opcode(code: int, flags: int, parameters: bytes) -> Opcode:
    if code == 9 and len(parameters) >= 76:
        top, left, bottom, right, plane, planes, row_pitch, col_pitch, points_v, points_h = struct.unpack_from(
            ">10I", parameters, 0
        )
        spacing_v, spacing_h, origin_v, origin_h = struct.unpack_from(">4d", parameters, 40)
        (map_planes,) = struct.unpack_from(">I", parameters, 72)
        count = points_v * points_h * map_planes
        if count and len(parameters) >= 76 + 4 * count and spacing_v > 0 and spacing_h > 0:
            gains = np.frombuffer(parameters, ">f4", count, 76).astype(np.float32)
            gains = gains.reshape(points_v, points_h, map_planes)
            return GainMap(
                top, left, bottom, right, plane, planes, max(row_pitch, 1), max(col_pitch, 1),
                (spacing_v, spacing_h), (origin_v, origin_h), gains,
            )  # fmt: skip
    if code == 3 and len(parameters) >= 56:
        values = struct.unpack_from(">7d", parameters, 0)
        return FixVignetteRadial(values[:5], (values[5], values[6]))
    if code == 1 and len(parameters) >= 4:
        (planes,) = struct.unpack_from(">I", parameters, 0)
        if planes in (1, 3) and len(parameters) >= 4 + 8 * (6 * planes + 2):
            values = struct.unpack_from(f">{6 * planes + 2}d", parameters, 4)
            return WarpRectilinear(np.reshape(values[: 6 * planes], (planes, 6)), (values[-2], values[-1]))
    return Skipped(code, bool(flags & 1))


def apply_opcodes(image: np.ndarray, opcodes: list[Opcode]) -> tuple[np.ndarray, list[str], list[str]]:
    """Apply what can be applied to ``image`` (H x W mosaic, or H x W x 3); also return the names applied and
    skipped. The input is not modified."""
    applied, skipped = [], []
    for opcode in opcodes:
        if isinstance(opcode, GainMap):
            image = apply_gain_map(image, opcode)
        elif isinstance(opcode, FixVignetteRadial):
            image = image * _radial_gain(image.shape[:2], opcode)[(...,) + (None,) * (image.ndim - 2)]
        elif isinstance(opcode, WarpRectilinear) and image.ndim == 3:
            image = warp_rectilinear(image, opcode)
        else:
            skipped.append(opcode.name)
            continue
        applied.append(opcode.name)
    return image, applied, skipped


def apply_gain_map(image: np.ndarray, gain_map: GainMap) -> np.ndarray:
    """Multiply the pixels a GainMap covers by its bilinearly interpolated gains (edge values beyond the map)."""
    height, width = image.shape[:2]
    rows = np.arange(gain_map.top, min(gain_map.bottom, height), gain_map.row_pitch)
    columns = np.arange(gain_map.left, min(gain_map.right, width), gain_map.col_pitch)
    if rows.size == 0 or columns.size == 0:
        return image
    gains = gain_map.gains
    points_v, points_h = gains.shape[:2]
    # Map coordinates of the pixel centres, as fractions of the whole image (DNG 1.7.1, GainMap).
    map_y = np.clip(((rows + 0.5) / height - gain_map.origin[0]) / gain_map.spacing[0], 0, points_v - 1)
    map_x = np.clip(((columns + 0.5) / width - gain_map.origin[1]) / gain_map.spacing[1], 0, points_h - 1)
    result = np.array(image, np.float32, copy=True)
    planes = [None] if image.ndim == 2 else range(gain_map.plane, min(gain_map.plane + gain_map.planes, image.shape[2]))
    for index, plane in enumerate(planes):
        grid = gains[..., min(index, gains.shape[2] - 1)]
        field = _bilinear(grid, map_y, map_x)
        selection = np.ix_(rows, columns) if plane is None else np.ix_(rows, columns, [plane])
        result[selection] *= field if plane is None else field[..., None]
    return result


def _bilinear(grid: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``grid`` sampled at every (y, x) of two 1-D coordinate vectors: len(y) x len(x)."""
    y0 = np.minimum(np.floor(y).astype(int), grid.shape[0] - 1)
    x0 = np.minimum(np.floor(x).astype(int), grid.shape[1] - 1)
    y1, x1 = np.minimum(y0 + 1, grid.shape[0] - 1), np.minimum(x0 + 1, grid.shape[1] - 1)
    fy, fx = (y - y0)[:, None].astype(np.float32), (x - x0)[None, :].astype(np.float32)
    top = grid[np.ix_(y0, x0)] * (1 - fx) + grid[np.ix_(y0, x1)] * fx
    bottom = grid[np.ix_(y1, x0)] * (1 - fx) + grid[np.ix_(y1, x1)] * fx
    return top * (1 - fy) + bottom * fy


def _normalised_offsets(shape: tuple[int, int], centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, float]:
    """Pixel-centre offsets from ``centre`` (x, y fractions), divided by the distance to the farthest corner."""
    height, width = shape
    cx, cy = centre[0] * width, centre[1] * height
    reach = max(np.hypot(corner_x - cx, corner_y - cy) for corner_x in (0, width) for corner_y in (0, height))
    dx = (np.arange(width, dtype=np.float64) + 0.5 - cx) / reach
    dy = (np.arange(height, dtype=np.float64) + 0.5 - cy) / reach
    return dx[None, :], dy[:, None], reach


def _radial_gain(shape: tuple[int, int], opcode: FixVignetteRadial) -> np.ndarray:
    dx, dy, _ = _normalised_offsets(shape, opcode.centre)
    r2 = dx * dx + dy * dy
    gain = np.ones_like(r2)
    power = np.ones_like(r2)
    for k in opcode.k:
        power = power * r2
        gain = gain + k * power
    return gain.astype(np.float32)


def warp_rectilinear(image: np.ndarray, opcode: WarpRectilinear) -> np.ndarray:
    """Resample each plane at the source positions the opcode's polynomial gives (bilinear, edges replicated)."""
    height, width = image.shape[:2]
    dx, dy, reach = _normalised_offsets((height, width), opcode.centre)
    dx, dy = np.broadcast_to(dx, (height, width)), np.broadcast_to(dy, (height, width))
    r2 = dx * dx + dy * dy
    cx, cy = opcode.centre[0] * width, opcode.centre[1] * height
    planes = []
    for plane in range(image.shape[2]):
        kr0, kr1, kr2, kr3, kt0, kt1 = opcode.coefficients[min(plane, len(opcode.coefficients) - 1)]
        radial = kr0 + r2 * (kr1 + r2 * (kr2 + r2 * kr3))
        source_x = dx * radial + kt0 * 2 * dx * dy + kt1 * (r2 + 2 * dx * dx)
        source_y = dy * radial + kt1 * 2 * dx * dy + kt0 * (r2 + 2 * dy * dy)
        map_x = (cx + source_x * reach - 0.5).astype(np.float32)
        map_y = (cy + source_y * reach - 0.5).astype(np.float32)
        planes.append(
            cv2.remap(
                np.ascontiguousarray(image[..., plane], np.float32), map_x, map_y, cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )  # fmt: skip
    return np.stack(planes, axis=-1)


def encode_opcode_list(opcodes: list[Opcode]) -> bytes:
    """The bytes of an OpcodeList tag holding ``opcodes`` (the inverse of :func:`parse_opcode_list`), for
    writing DNGs; a :class:`Skipped` opcode is written with no parameters."""
    body = b""
    for opcode in opcodes:
        if isinstance(opcode, GainMap):
            points_v, points_h, map_planes = opcode.gains.shape
            parameters = struct.pack(
                ">10I4dI",
                opcode.top, opcode.left, opcode.bottom, opcode.right, opcode.plane, opcode.planes,
                opcode.row_pitch, opcode.col_pitch, points_v, points_h, *opcode.spacing, *opcode.origin, map_planes,
            ) + np.asarray(opcode.gains, ">f4").tobytes()  # fmt: skip
            code, flags = 9, 0
        elif isinstance(opcode, FixVignetteRadial):
            parameters, code, flags = struct.pack(">7d", *opcode.k, *opcode.centre), 3, 0
        elif isinstance(opcode, WarpRectilinear):
            planes = len(opcode.coefficients)
            parameters = struct.pack(f">I{6 * planes + 2}d", planes, *np.ravel(opcode.coefficients), *opcode.centre)
            code, flags = 1, 0
        else:
            parameters, code, flags = b"", opcode.code, int(opcode.optional)
        body += struct.pack(">4I", code, 0x01030000, flags, len(parameters)) + parameters
    return struct.pack(">I", len(opcodes)) + body
