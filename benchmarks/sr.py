"""Super-resolution benchmarks for hyperres-sr, each run side by side with bicubic upscaling.

    python benchmarks/sr.py quality   # Set5 / Set14 Y-PSNR at x2, x2.5, x3, x4 (border = scale), vs bicubic
    python benchmarks/sr.py speed     # 4 MP outputs: ours vs a 17-layer 64-channel DnCNN, same process
    python benchmarks/sr.py all --update-card

The protocol of the published tables: the HR image is cropped to a multiple of the scale, shrunk with
antialiased bicubic (MATLAB imresize), rounded to 8 bits, and the result scored on Y (BT.601, 16-235)
with ``ceil(scale)`` pixels cropped at every border. Our outputs are rounded to 8 bits before scoring.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from enhance_cli.degradations import bicubic_downscale
from enhance_cli.evaluate import quantise
from enhance_cli.imageio import Picture, read_image
from enhance_cli.metrics import psnr, to_y
from enhance_cli.registry import WEIGHTS_DIR
from enhance_cli.resize import upscale_picture
from enhance_cli.restorer import Restorer
from enhance_cli.training.data import image_files
from enhance_cli.training.publish import write_card

TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
CARD = WEIGHTS_DIR / "hyperres-sr.json"
SCALES = (2.0, 2.5, 3.0, 4.0)


def luma(pixels: np.ndarray) -> np.ndarray:
    return to_y(np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels)


def low_resolution_pair(path: Path, scale: float) -> tuple[np.ndarray, Picture]:
    """The HR image cropped so that HR / scale is whole, and its 8-bit bicubic downscale as a Picture."""
    multiple = Fraction(scale).limit_denominator(10).numerator
    hr = read_image(path).pixels
    hr = hr[: hr.shape[0] // multiple * multiple, : hr.shape[1] // multiple * multiple]
    lr = bicubic_downscale(torch.from_numpy(hr.transpose(2, 0, 1).copy())[None], scale)[0].numpy()
    picture = Picture(
        pixels=lr.transpose(1, 2, 0), alpha=None, bits=8, exif=None, icc_profile=None, source_format="png", info={}
    )
    return hr, picture


def score_set(restorer: Restorer, dataset: str, scale: float, limit: int | None) -> dict:
    border = math.ceil(scale)
    bicubic, ours, seconds = [], [], []
    for path in image_files(TEST / dataset)[:limit]:
        hr, picture = low_resolution_pair(path, scale)
        started = time.perf_counter()
        outcome = restorer.restore(picture, scale)
        seconds.append(time.perf_counter() - started)
        upscaled = quantise(upscale_picture(picture, scale).pixels)
        assert outcome.picture.pixels.shape == hr.shape, (path, outcome.picture.pixels.shape, hr.shape)
        bicubic.append(psnr(luma(hr), luma(upscaled), border))
        ours.append(psnr(luma(hr), luma(quantise(outcome.picture.pixels)), border))
    return {
        "bicubic": round(float(np.mean(bicubic)), 2),
        "ours": round(float(np.mean(ours)), 2),
        "gain": round(float(np.mean(ours) - np.mean(bicubic)), 2),
        "worst_gain": round(float(np.min(np.subtract(ours, bicubic))), 2),
        "images": len(ours),
        "seconds_per_image": round(float(np.mean(seconds)), 3),
    }


def quality_benchmark(restorer: Restorer, limit: int | None) -> dict:
    results = {}
    for dataset in ("Set5", "Set14"):
        for scale in SCALES:
            row = score_set(restorer, dataset, scale, limit)
            results[f"{dataset}/x{scale:g}"] = row
            print(f"{dataset} x{scale:g} (Y-PSNR): bicubic {row['bicubic']:.2f}, ours {row['ours']:.2f}")
    results["protocol"] = "HR cropped to a multiple of the scale, bicubic down, 8 bits, Y-PSNR, border ceil(s)"
    return results


def update_card(results: dict) -> None:
    card = json.loads(CARD.read_text())
    card.setdefault("benchmarks", {}).update(results)
    rows = card["benchmarks"].get("quality", {})
    if rows:
        set5 = "/".join(f"{rows[f'Set5/x{s:g}']['ours']:.2f}" for s in (2, 3, 4))
        card["headline"] = f"Set5 x2/x3/x4: {set5} dB Y-PSNR"
    write_card(card)


def main() -> None:
    from denoise import speed_benchmark
    from parts import run_parts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["quality", "speed", "all"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-card", action="store_true", help="record the results in weights/hyperres-sr.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    restorer = Restorer.for_task("sr", device="cpu")
    parts = {
        "quality": lambda: quality_benchmark(restorer, args.limit),
        "speed": lambda: speed_benchmark(4.0, repeats=3, task="sr", level=4.0),
    }
    results = run_parts("sr.py", parts, args.part, {"--limit": args.limit, "--threads": args.threads})
    if args.update_card:
        update_card(results)


if __name__ == "__main__":
    main()
