"""JPEG artifact removal benchmarks for hyperres-jpeg, each run side by side with the JPEG itself.

    python benchmarks/dejpeg.py quality   # LIVE1 colour (RGB PSNR) and Classic5 (grey), qualities 10/20/30/40
    python benchmarks/dejpeg.py high      # LIVE1 at qualities 85-100: never worse than the JPEG
    python benchmarks/dejpeg.py blind     # quality read from JPEG files (tables), estimated from PNG copies (CNN)
    python benchmarks/dejpeg.py speed     # 4 MP: ours vs a 17-layer 64-channel DnCNN, same process, same threads
    python benchmarks/dejpeg.py all --update-card

JPEGs are written by Pillow (libjpeg's standard tables; 4:2:0 chroma for colour, as the published tables
use) and read back through enhance's own reader, so `--quality auto` takes the route a user's file takes.
Outputs are rounded to 8 bits before scoring.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from enhance_cli.evaluate import quantise
from enhance_cli.imageio import read_image
from enhance_cli.metrics import psnr
from enhance_cli.registry import WEIGHTS_DIR
from enhance_cli.restorer import Restorer
from enhance_cli.training.data import image_files
from enhance_cli.training.publish import write_card

TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
CARD = WEIGHTS_DIR / "hyperres-jpeg.json"


def jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    """``pixels`` (H x W x 1 or 3 in [0, 1]) saved as a JPEG at ``quality`` (4:2:0 for colour)."""
    array = np.round(pixels * 255).astype(np.uint8)
    buffer = io.BytesIO()
    image = Image.fromarray(array[..., 0], "L") if array.shape[2] == 1 else Image.fromarray(array, "RGB")
    image.save(buffer, "JPEG", quality=quality, subsampling="4:2:0")
    return buffer.getvalue()


def compressed_set(dataset: str, quality: int, limit: int | None):
    """(name, clean pixels, the JPEG as read from its file) for every image of ``dataset``."""
    for path in image_files(TEST / dataset)[:limit]:
        clean = read_image(path).pixels
        yield path.name, clean, read_image(jpeg_bytes(clean, quality), name=f"{path.name}@q{quality}")


def score_set(restorer: Restorer, dataset: str, quality: int, limit: int | None) -> dict:
    jpeg, ours, levels, seconds = [], [], [], []
    for _, clean, picture in compressed_set(dataset, quality, limit):
        started = time.perf_counter()
        outcome = restorer.restore(picture, None)
        seconds.append(time.perf_counter() - started)
        jpeg.append(psnr(clean, picture.pixels))
        ours.append(psnr(clean, quantise(outcome.picture.pixels)))
        levels.append(outcome.level)
    return {
        "jpeg": round(float(np.mean(jpeg)), 2),
        "ours": round(float(np.mean(ours)), 2),
        "gain": round(float(np.mean(ours) - np.mean(jpeg)), 2),
        "worst_gain": round(float(np.min(np.subtract(ours, jpeg))), 2),
        "levels_used": sorted(set(levels)),
        "images": len(ours),
        "seconds_per_image": round(float(np.mean(seconds)), 3),
    }


def quality_benchmark(restorer: Restorer, limit: int | None) -> dict:
    results = {}
    for dataset, metric in (("LIVE1", "RGB PSNR"), ("Classic5", "grey PSNR")):
        for quality in (10, 20, 30, 40):
            row = score_set(restorer, dataset, quality, limit)
            results[f"{dataset}/q{quality}"] = row
            print(f"{dataset} q{quality} ({metric}): JPEG {row['jpeg']:.2f}, ours {row['ours']:.2f}")
    results["protocol"] = "Pillow JPEG (4:2:0), --quality auto from the file's tables, outputs rounded to 8 bits"
    return results


def high_quality_benchmark(restorer: Restorer, limit: int | None) -> dict:
    results = {}
    for quality in (85, 90, 92, 94, 95, 98, 100):
        row = score_set(restorer, "LIVE1", quality, limit)
        results[f"LIVE1/q{quality}"] = row
        print(f"LIVE1 q{quality}: JPEG {row['jpeg']:.2f}, ours {row['ours']:.2f}, worst gain {row['worst_gain']:+.2f}")
    return results


def blind_benchmark(restorer: Restorer, limit: int | None) -> dict:
    """The quality read from JPEG files, and estimated by the CNN from the same pixels saved losslessly
    (whole, and cropped by 3 rows and 5 columns, off the 8x8 grid); 100 stands for never compressed."""
    results = {}
    for quality in (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100):
        from_tables, from_pixels = [], []
        for _, clean, picture in compressed_set("LIVE1", quality, limit):
            from_tables.append(restorer.estimate_level(picture))
            if restorer.estimator is not None:
                if quality == 100:  # never compressed: the clean image itself
                    picture = replace(picture, pixels=clean)
                png = replace(picture, info={}, source_format="png")
                from_pixels.append(restorer.estimate_level(png))
                from_pixels.append(restorer.estimate_level(replace(png, pixels=png.pixels[3:, 5:])))
        results[f"q{quality}"] = {}
        if quality < 100:
            results[f"q{quality}"]["tables_mean_abs_error"] = round(
                float(np.mean(np.abs(np.subtract(from_tables, quality)))), 2
            )
        if from_pixels:
            errors = np.abs(np.subtract(from_pixels, min(quality, restorer.task.pass_through)))
            results[f"q{quality}"].update(
                cnn_mean=round(float(np.mean(from_pixels)), 1),
                cnn_mean_abs_error=round(float(errors.mean()), 1),
                cnn_max_abs_error=round(float(errors.max()), 1),
            )
        print(f"q{quality}: {results[f'q{quality}']}")
    results["protocol"] = (
        "LIVE1, Pillow JPEG 4:2:0; CNN on the decoded pixels, whole and cropped by (3, 5); estimates are clamped "
        "to 10-95 (95 and up all mean pass-through), so q100 (the clean image itself) is scored against 95"
    )
    return results


def update_card(results: dict) -> None:
    card = json.loads(CARD.read_text())
    card["benchmarks"].update(results)
    rows = card["benchmarks"].get("quality", {})
    if rows:
        live1 = "/".join(f"{rows[f'LIVE1/q{q}']['ours']:.2f}" for q in (10, 20, 30, 40))
        card["headline"] = f"LIVE1 colour q10/20/30/40: {live1} dB RGB"
    write_card(card)


def main() -> None:
    from denoise import speed_benchmark
    from parts import run_parts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["quality", "high", "blind", "speed", "all"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-card", action="store_true", help="record the results in weights/hyperres-jpeg.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    restorer = Restorer.for_task("jpeg", device="cpu")
    parts = {
        "quality": lambda: quality_benchmark(restorer, args.limit),
        "high": lambda: high_quality_benchmark(restorer, args.limit),
        "blind": lambda: blind_benchmark(restorer, args.limit),
        "speed": lambda: speed_benchmark(4.0, repeats=3, task="jpeg", level=30),
    }
    results = run_parts("dejpeg.py", parts, args.part, {"--limit": args.limit, "--threads": args.threads})
    if args.update_card:
        update_card(results)


if __name__ == "__main__":
    main()
