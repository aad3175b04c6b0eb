"""`enhance isp` as a RAW developer, beside darktable-cli and rawtherapee-cli, in one run.

    python benchmarks/raw_developer.py highlights --limit 12   # choose --highlights' default (validation split)
    python benchmarks/raw_developer.py peers                   # the whole CLI of each tool on the same files
    python benchmarks/raw_developer.py picture                 # docs/isp-highlights.png

highlights: validation photos (held out from training) become RAW files of the sample's camera (its matrix
and as-shot white balance) exposed 1.5 EV over, so their highlights blow out on a sensor that saturates at
95% of its white level. Each mode develops them with --exposure -1.5 (pulled back: how much of the blown
detail and colour returns) and 0 (as shot: blown areas should be white, not tinted); PSNR against the
photo (or the photo brightened and clipped) over the pixels with a clipped channel, and over the whole.

peers: each tool's command line, one process per file, default settings, 8-bit TIFF out, on the real RAW
files in ../shared/data/raw and on synthetic DNGs of the same camera: a blown disc on grey at the white
level and below it (saturation at 95%), a flat field with a lens-shading GainMap (corners +1 EV), and a
BaselineExposure +1 file. darktable-cli and rawtherapee-cli come from Debian (apt-get install darktable
rawtherapee); a missing tool is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

sys.path.insert(0, str(Path(__file__).resolve().parent))

import demosaic_baselines as baselines  # noqa: E402
from parts import run_parts  # noqa: E402

from enhance_cli.develop import Developer, DevelopOptions  # noqa: E402
from enhance_cli.dng_opcodes import GainMap, encode_opcode_list  # noqa: E402
from enhance_cli.highlights import CLIP_MARGIN, HIGHLIGHT_MODES  # noqa: E402
from enhance_cli.imageio import read_image  # noqa: E402
from enhance_cli.rawio import RawImage, read_raw  # noqa: E402
from enhance_cli.training.data import image_files  # noqa: E402
from enhance_cli.training.recipes import RECIPES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT.parent / "shared" / "data" / "raw"
CAMERA = read_raw(ROOT / "samples" / "colorchart.dng")  # a Canon EOS 550D: its matrix and as-shot balance
OVER = 1.5  # EV the highlight scenes are over-exposed by
SATURATION = 0.95  # where their sensor clips, as a share of the white level
EXIF_TAGS = {33434: "ExposureTime", 33437: "FNumber", 34855: "ISO", 37386: "FocalLength", 36867: "DateTimeOriginal"}


def srgb_8bit(path: Path) -> np.ndarray:
    return np.round(read_image(path).pixels[..., :3].astype(np.float64) * 255)


def luma(values: np.ndarray) -> np.ndarray:
    return values @ np.array([0.299, 0.587, 0.114])


def linear_luminance(values: np.ndarray) -> np.ndarray:
    return baselines.srgb_to_linear((values / 255).astype(np.float32)) @ np.array([0.2126, 0.7152, 0.0722])


def masked_psnr(truth: np.ndarray, result: np.ndarray, mask: np.ndarray) -> float:
    error = np.mean((truth[mask] - np.clip(result[mask], 0, 1)) ** 2)
    return float(10 * np.log10(1 / max(error, 1e-12)))


# --- highlights ----------------------------------------------------------------------------------------


def camera_mosaic(linear_srgb: np.ndarray) -> np.ndarray:
    """The sample camera's RGGB mosaic (before white balance) of a linear sRGB scene."""
    balanced = linear_srgb @ np.linalg.inv(CAMERA.camera_to_srgb).T
    return baselines.mosaic_rggb((balanced / CAMERA.white_balance).astype(np.float32))


def highlights_benchmark(limit: int | None) -> dict:
    developer = Developer.for_model("isp", device="cpu")
    folders = RECIPES["isp"].data
    paths = [path for folder in folders for path in image_files(folder, "validation")][:limit]
    scores: dict[str, dict[str, list[float]]] = {mode: {} for mode in HIGHLIGHT_MODES}
    clipped_shares = []
    for path in paths:
        photo = baselines.read_srgb(path)
        scene = baselines.srgb_to_linear(photo) * 2**OVER
        mosaic = np.minimum(camera_mosaic(scene), SATURATION)
        raw = RawImage(mosaic, "RGGB", CAMERA.white_balance, CAMERA.camera_to_srgb, 1, None, path.name)
        cells = (mosaic >= CLIP_MARGIN * SATURATION).reshape(mosaic.shape[0] // 2, 2, mosaic.shape[1] // 2, 2)
        clipped = np.repeat(np.repeat(cells.any(axis=(1, 3)), 2, axis=0), 2, axis=1)
        clipped_shares.append(float(clipped.mean()))
        as_shot = baselines.linear_to_srgb(np.clip(scene, 0, 1))
        for mode in HIGHLIGHT_MODES:
            for label, exposure, truth in (("pulled back", -OVER, photo), ("as shot", 0.0, as_shot)):
                options = DevelopOptions(tone="neutral", highlights=mode, exposure=exposure)
                result = developer.develop(raw, options).picture.pixels
                row = scores[mode]
                row.setdefault(f"{label}: clipped pixels", []).append(masked_psnr(truth, result, clipped))
                row.setdefault(f"{label}: whole image", []).append(masked_psnr(truth, result, np.ones_like(clipped)))
        print(path.name, {mode: {k: round(v[-1], 2) for k, v in row.items()} for mode, row in scores.items()})
    table = {
        mode: {key: round(float(np.mean(values)), 2) for key, values in row.items()} for mode, row in scores.items()
    }
    best = max(HIGHLIGHT_MODES, key=lambda mode: table[mode]["pulled back: clipped pixels"])
    return {
        "images": len(paths),
        "folders": [folder.name for folder in folders],
        "split": "validation",
        "mean_clipped_share": round(float(np.mean(clipped_shares)), 3),
        "psnr_db": table,
        "best_on_pulled_back_clipped_pixels": best,
        "protocol": f"photo x 2^{OVER} in linear light -> the sample camera's mosaic, saturating at {SATURATION} "
        "-> isp, --tone neutral; PSNR of sRGB values against the photo (pulled back) or the brightened photo "
        "clipped at white (as shot)",
    }


# --- peers ---------------------------------------------------------------------------------------------


SHADING = np.array([[2.0, 1.5, 2.0], [1.5, 1.0, 1.5], [2.0, 1.5, 2.0]], np.float32)  # corners +1 EV


def shading_by_hand(height: int, width: int) -> float:
    """The gain map's mean over the corner patches over its mean over the centre patch (see corner_over_centre)."""
    y = (np.arange(height) + 0.5) / height / 0.5
    x = (np.arange(width) + 0.5) / width / 0.5
    across = np.stack([np.interp(x, [0, 1, 2], row) for row in SHADING])  # 3 x width
    gains = np.stack([np.interp(y, [0, 1, 2], across[:, column]) for column in range(width)], axis=1)
    return corner_over_centre_of(gains)


def synthetic_files(folder: Path) -> dict[str, Path]:
    """The synthetic DNGs of the sample camera (768 x 512)."""
    height, width = 512, 768
    rows, columns = np.mgrid[:height, :width]
    distance = np.hypot(rows - height / 2, columns - width / 2)
    grey = np.full((height, width, 3), 0.18, np.float32)
    disc = grey.copy()
    disc[distance < 160] = 4.0
    neutral = tuple(1 / CAMERA.white_balance)
    camera = {"xyz_to_camera": CAMERA.xyz_to_camera, "neutral": neutral}
    files = {}

    def write(name: str, scene: np.ndarray, **options) -> None:
        files[name] = folder / f"{name}.dng"
        mosaic = np.clip(camera_mosaic(scene), -0.01, 1.07)
        baselines.mosaic_to_dng(mosaic, files[name], **camera, **options)

    write("blown-disc", disc)
    write("blown-disc-95", disc, saturation=SATURATION)
    # As phones and action cameras write it: one map per Bayer phase (every second row and column).
    maps = [GainMap(top, left, height, width, 0, 1, 2, 2, (0.5, 0.5), (0.0, 0.0), SHADING[..., None])
            for top in (0, 1) for left in (0, 1)]  # fmt: skip
    opcodes = encode_opcode_list(maps)
    write("gainmap", grey, extra_tags=[(51009, 7, len(opcodes), opcodes, True)])
    write("flat", grey)
    write("baseline+1", grey, extra_tags=[(50730, 10, 1, (1, 1), True)])
    return files


def tool_commands(tool: str, source: Path, target: Path, scratch: Path) -> list[str] | None:
    if tool.startswith("enhance isp"):
        command = [str(Path(sys.executable).with_name("enhance")), "isp", str(source), "-o", str(target), "-q"]
        return command + tool.split()[2:]
    if tool == "darktable-cli" and shutil.which("darktable-cli"):
        return [
            "darktable-cli", str(source), str(target), "--core", "--configdir", str(scratch / "dt"),
            "--cachedir", str(scratch / "dtcache"), "--library", ":memory:",
            "--conf", "plugins/imageio/format/tiff/bpp=8",
        ]  # fmt: skip
    if tool == "rawtherapee-cli" and shutil.which("rawtherapee-cli"):
        return ["rawtherapee-cli", "-q", "-o", str(target), "-d", "-t", "-b8", "-Y", "-c", str(source)]
    return None


def tool_version(tool: str) -> str:
    if tool.startswith("enhance isp"):
        from enhance_cli import __version__

        return __version__
    flag = {"darktable-cli": "--version", "rawtherapee-cli": "-v"}[tool]
    if not shutil.which(tool):
        return "not installed"
    output = subprocess.run([tool, flag], capture_output=True, text=True, timeout=60).stdout
    return next((line.strip() for line in output.splitlines() if line.strip()), "?")


def disc_measures(values: np.ndarray, radius: float = 160) -> dict:
    """Colour of a blown disc centred in the frame and the width of any tinted ring at its edge."""
    height, width = values.shape[:2]
    rows, columns = np.mgrid[:height, :width]
    distance = np.hypot(rows + 0.5 - height / 2, columns + 0.5 - width / 2)
    ratio = values.max(axis=-1) / np.maximum(values.min(axis=-1), 1)
    inner = values[distance < radius - 4].mean(axis=0)
    rings = [r for r in range(int(radius) - 8, int(radius) + 9) if np.median(ratio[np.floor(distance) == r]) > 1.05]
    return {
        "disc_rgb": [round(float(v), 1) for v in inner],
        "disc_max_over_min": round(float(inner.max() / max(inner.min(), 1)), 3),
        "tinted_ring_px": len(rings),
    }


def corner_over_centre(values: np.ndarray) -> float:
    return corner_over_centre_of(linear_luminance(values))


def corner_over_centre_of(lum: np.ndarray) -> float:
    """Mean of the four corner patches over the centre patch, each a tenth of the width and height."""
    height, width = lum.shape
    h, w = height // 10, width // 10
    corners = np.mean([lum[:h, :w].mean(), lum[:h, -w:].mean(), lum[-h:, :w].mean(), lum[-h:, -w:].mean()])
    centre = lum[height // 2 - h // 2 : height // 2 + h // 2, width // 2 - w // 2 : width // 2 + w // 2].mean()
    return round(float(corners / centre), 3)


def metadata(path: Path) -> dict:
    with Image.open(path) as image:
        icc = image.info.get("icc_profile")
        exif = image.getexif()
        shooting = exif.get_ifd(0x8769)
    description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(BytesIO(icc))).strip() if icc else None
    present = [name for code, name in EXIF_TAGS.items() if shooting.get(code) or exif.get(code)]
    return {"icc": description, "exif": present}


def peers_benchmark() -> dict:
    tools = ("enhance isp", "enhance isp --exposure auto", "darktable-cli", "rawtherapee-cli")
    results: dict = {"versions": {tool: tool_version(tool) for tool in tools}, "files": {}}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        files = {
            "colorchart.dng": ROOT / "samples" / "colorchart.dng",
            "D30.crw": RAW / "RAW_CANON_D30_SRGB.CRW",
            "DC50.kdc": RAW / "RAW_KODAK_DC50.KDC",
        }
        files.update(synthetic_files(scratch))
        for name, source in files.items():
            row = results["files"].setdefault(name, {})
            for tool in tools:
                target = scratch / f"{name}.{tool.replace(' ', '_')}.tif"
                command = tool_commands(tool, source, target, scratch)
                if command is None:
                    row[tool] = {"ok": False, "error": "not installed"}
                    continue
                started = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                      env={**os.environ, "HOME": str(scratch)})  # fmt: skip
                seconds = round(time.perf_counter() - started, 2)
                if done.returncode != 0 or not target.exists():
                    message = (done.stderr or done.stdout).strip().splitlines()
                    row[tool] = {"ok": False, "exit": done.returncode, "error": message[-1] if message else ""}
                    continue
                values = srgb_8bit(target)
                entry = {"ok": True, "seconds": seconds, "size": list(values.shape[:2]),
                         "mean_luma": round(float(luma(values).mean()), 1), **metadata(target)}  # fmt: skip
                if name.startswith("blown-disc"):
                    entry.update(disc_measures(values))
                if name in ("gainmap", "flat"):
                    entry["corner_over_centre"] = corner_over_centre(values)
                if name in ("flat", "baseline+1"):
                    entry["mean_linear_luminance"] = round(float(linear_luminance(values).mean()), 4)
                row[tool] = entry
            print(name, json.dumps(row))
    jpeg = RAW / "RAW_CANON_D30_SRGB_camera_embedded.jpg"
    if jpeg.exists():
        results["D30 camera JPEG mean_luma"] = round(float(luma(srgb_8bit(jpeg)).mean()), 1)
    results["gainmap: the map's own corner_over_centre"] = shading_by_hand(512, 768)
    return results


# --- picture -------------------------------------------------------------------------------------------

PICTURE = ROOT.parent / "shared" / "data" / "train" / "Wallpapers" / "budgie_023.jpg"  # CC0; validation split
PICTURE_PATH = ROOT / "docs" / "isp-highlights.png"


def picture_benchmark() -> dict:
    """A validation photo blown out by 1.5 EV on a sensor saturating at 95%: as shot (LibRaw's clipping, as isp
    did before, then isp clip and reconstruct), and pulled back 1.5 EV (the photo, isp clip, reconstruct)."""
    from PIL import ImageDraw

    from enhance_cli.metrics import psnr
    from enhance_cli.rawio import libraw_reference

    developer = Developer.for_model("isp", device="cpu")
    photo = baselines.read_srgb(PICTURE)
    scene = baselines.srgb_to_linear(photo) * 2**OVER
    mosaic = np.minimum(camera_mosaic(scene), SATURATION)
    raw = RawImage(mosaic, "RGGB", CAMERA.white_balance, CAMERA.camera_to_srgb, 1, None, PICTURE.name)
    with tempfile.TemporaryDirectory() as folder:
        dng = Path(folder) / "blown.dng"
        neutral = tuple(1 / CAMERA.white_balance)
        baselines.mosaic_to_dng(mosaic, dng, xyz_to_camera=CAMERA.xyz_to_camera, neutral=neutral, saturation=SATURATION)
        libraw = libraw_reference(dng, "AHD")

    def isp(mode: str, exposure: float) -> np.ndarray:
        options = DevelopOptions(highlights=mode, tone="neutral", exposure=exposure)
        return developer.develop(raw, options).picture.pixels

    as_shot = baselines.linear_to_srgb(np.clip(scene, 0, 1))
    rows = [
        [("as shot: LibRaw AHD (clip)", libraw, as_shot), ("isp --highlights clip", isp("clip", 0), as_shot),
         ("isp --highlights reconstruct", isp("reconstruct", 0), as_shot)],
        [("the photo", photo, None), ("--exposure -1.5, clip", isp("clip", -OVER), photo),
         ("--exposure -1.5, reconstruct", isp("reconstruct", -OVER), photo)],
    ]  # fmt: skip
    crop = (slice(0, 300), slice(330, 768))
    scores, grid = {}, []
    for row in rows:
        panels = []
        for label, image, truth in row:
            if truth is not None:
                scores[label] = round(psnr(truth[crop], image[crop], 0), 2)
                label = f"{label}: {scores[label]:.2f} dB"
            panel = Image.fromarray(np.round(np.clip(image[crop], 0, 1) * 255).astype(np.uint8))
            ImageDraw.Draw(panel).text((6, 4), label, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
            panels.append(np.asarray(panel))
        grid.append(np.concatenate(panels, axis=1))
    PICTURE_PATH.parent.mkdir(exist_ok=True)
    Image.fromarray(np.concatenate(grid, axis=0)).save(PICTURE_PATH, optimize=True)
    return {
        "image": f"{PICTURE.parent.name}/{PICTURE.name} (CC0; validation split), {OVER} EV over, saturating at "
        f"{SATURATION}; crop rows {crop[0].start}-{crop[0].stop}, columns {crop[1].start}-{crop[1].stop}",
        "crop_psnr_db": scores,
        "written": str(PICTURE_PATH.relative_to(ROOT)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["highlights", "peers", "picture", "all"])
    parser.add_argument("--limit", type=int, default=None, help="highlights: only the first N validation images")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    parts = {
        "highlights": lambda: highlights_benchmark(args.limit),
        "peers": peers_benchmark,
        "picture": picture_benchmark,
    }
    results = run_parts("raw_developer.py", parts, args.part, {"--limit": args.limit, "--threads": args.threads})
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
