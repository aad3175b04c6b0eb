"""Denoising benchmarks for hyperres-noise, each run side by side with its baseline.

    python benchmarks/denoise.py quality   # CBSD68 sigma 15/25/50: noisy input, CBM3D, ours (known and auto level)
    python benchmarks/denoise.py coverage  # CBSD68 sigma 5/35/65/75: the rest of the range
    python benchmarks/denoise.py blind     # sigma estimates over sigma 5-50
    python benchmarks/denoise.py speed     # 4 MP: ours vs a 17-layer 64-channel DnCNN, same process, same threads
    python benchmarks/denoise.py memory    # peak RSS of `enhance restore` on 16 MP
    python benchmarks/denoise.py all --update-card

Noise is Gaussian, clipped and rounded to 8 bits (what a user's file holds); outputs are rounded to
8 bits before scoring. CBM3D results are cached per image under runs/bench-cache (delete to recompute).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from enhance_cli.evaluate import degrade, evaluate_folder, mean_scores, quantise
from enhance_cli.flops import flops_per_pixel
from enhance_cli.imageio import Picture, read_image
from enhance_cli.metrics import quality
from enhance_cli.models.dncnn import fused_dncnn
from enhance_cli.registry import WEIGHTS_DIR
from enhance_cli.restorer import Restorer
from enhance_cli.tasks import TASKS
from enhance_cli.training.data import image_files
from enhance_cli.training.publish import write_card

ROOT = Path(__file__).resolve().parents[1]
CBSD68 = ROOT.parent / "shared" / "data" / "test" / "CBSD68"
CACHE = ROOT / "runs" / "bench-cache"
CARD = WEIGHTS_DIR / "hyperres-noise.json"
SEED = 0


def cbm3d_scores(folder: Path, sigma: float, limit: int | None) -> list[dict]:
    import bm3d

    scores = []
    for index, path in enumerate(image_files(folder)[:limit]):
        cached = CACHE / f"cbm3d-{folder.name}-{path.stem}-s{sigma:g}-seed{SEED + index}.json"
        if cached.exists():
            scores.append(json.loads(cached.read_text()))
            continue
        clean = read_image(path).pixels
        noisy = degrade(clean, "noise", sigma, SEED + index)
        started = time.perf_counter()
        denoised = quantise(bm3d.bm3d_rgb(noisy.astype(np.float64), sigma / 255))
        score = {**quality(clean, denoised), "seconds": time.perf_counter() - started}
        CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(score))
        scores.append(score)
        print(f"  cbm3d {path.name} sigma {sigma:g}: {score['psnr_rgb']:.2f} dB", file=sys.stderr)
    return scores


def quality_benchmark(sigmas: list[float], limit: int | None, cbm3d_limit: int | None) -> dict:
    """Ours at the known and the estimated level on every image; CBM3D on the first ``cbm3d_limit``,
    with ours on those same images beside it (``cbm3d_limit`` 0: no CBM3D)."""
    restorer = Restorer.for_task("noise", device="cpu")
    results = {}
    for sigma in sigmas:
        known = evaluate_folder(restorer, CBSD68, "noise", sigma, sigma, limit, SEED)
        auto = evaluate_folder(restorer, CBSD68, "noise", sigma, None, limit, SEED)
        row = {
            "images": len(known),
            "noisy_input": mean_scores(known, "degraded"),
            "ours_known_level": mean_scores(known, "restored"),
            "ours_auto_level": mean_scores(auto, "restored"),
            "auto_level_mean": float(np.mean([s.level for s in auto])),
            "ours_seconds_per_image": float(np.mean([s.seconds for s in known])),
        }
        if cbm3d_limit != 0:
            cbm3d = cbm3d_scores(CBSD68, sigma, cbm3d_limit or limit)
            subset = known[: len(cbm3d)]
            row["same_images_as_cbm3d"] = {
                "images": len(cbm3d),
                "cbm3d": {k: float(np.mean([s[k] for s in cbm3d])) for k in cbm3d[0] if k != "seconds"},
                "ours_known_level": mean_scores(subset, "restored"),
                "cbm3d_seconds_per_image": float(np.mean([s["seconds"] for s in cbm3d])),
                "ours_seconds_per_image": float(np.mean([s.seconds for s in subset])),
            }
        results[f"sigma{sigma:g}"] = row
        ours, auto_row = row["ours_known_level"]["psnr_rgb"], row["ours_auto_level"]["psnr_rgb"]
        print(
            f"sigma {sigma:g}: input {row['noisy_input']['psnr_rgb']:.2f}, ours {ours:.2f} "
            f"(auto {auto_row:.2f}, sigma~{row['auto_level_mean']:.2f}) on {len(known)} images"
        )
        if "same_images_as_cbm3d" in row:
            same = row["same_images_as_cbm3d"]
            print(
                f"  first {same['images']} images: CBM3D {same['cbm3d']['psnr_rgb']:.2f}, "
                f"ours {same['ours_known_level']['psnr_rgb']:.2f}"
            )
    return {"dataset": "CBSD68", "metric": "PSNR/SSIM on RGB and Y, 8-bit output", "seed": SEED, "sigmas": results}


def coverage_benchmark(sigmas: list[float], limit: int | None) -> dict:
    """Ours at the known level across the whole range, levels between and at the ends of training's range."""
    restorer = Restorer.for_task("noise", device="cpu")
    rows = {}
    for sigma in sigmas:
        scores = evaluate_folder(restorer, CBSD68, "noise", sigma, sigma, limit, SEED)
        rows[f"sigma{sigma:g}"] = {
            "images": len(scores),
            "noisy_input_psnr_rgb": mean_scores(scores, "degraded")["psnr_rgb"],
            "ours_psnr_rgb": mean_scores(scores, "restored")["psnr_rgb"],
            "ours_ssim_rgb": mean_scores(scores, "restored")["ssim_rgb"],
        }
        print(
            f"sigma {sigma:g}: input {rows[f'sigma{sigma:g}']['noisy_input_psnr_rgb']:.2f}, "
            f"ours {rows[f'sigma{sigma:g}']['ours_psnr_rgb']:.2f}"
        )
    return {"dataset": "CBSD68", "sigmas": rows}


def blind_benchmark(sigmas: list[float], limit: int | None) -> dict:
    restorer = Restorer.for_task("noise", device="cpu")
    rows = {}
    for sigma in sigmas:
        estimates = []
        for index, path in enumerate(image_files(CBSD68)[:limit]):
            noisy = degrade(read_image(path).pixels, "noise", sigma, SEED + index)
            estimates.append(restorer.estimator.estimate(noisy) * restorer.card.level.norm_scale)
        errors = np.abs(np.array(estimates) - sigma)
        rows[f"sigma{sigma:g}"] = {
            "mean_estimate": float(np.mean(estimates)),
            "mean_abs_error": float(errors.mean()),
            "max_abs_error": float(errors.max()),
        }
        print(f"sigma {sigma:g}: estimate {np.mean(estimates):.2f}, mean |error| {errors.mean():.2f}")
    overall = float(np.mean([r["mean_abs_error"] for r in rows.values()]))
    print(f"mean |error| over sigmas: {overall:.2f}")
    return {"dataset": "CBSD68", "estimates": rows, "mean_abs_error": overall}


CLI_ARGUMENTS = {  # the command a user runs for each task, on a PNG, at the benchmark's level
    "noise": lambda level: ["restore", "--task", "noise", "--level", f"{level:g}"],
    "jpeg": lambda level: ["dejpeg", "--level", f"{level:g}"],
    "sr": lambda level: ["sr", "--scale", f"{level:g}"],
}


def speed_benchmark(megapixels: float, repeats: int, task: str = "noise", level: float = 25) -> dict:
    """Ours (the library call, and the whole CLI: start-up, read, tiles, write) against a DnCNN-17x64 forward
    over the same pixels, interleaved in one run with the same threads; medians of ``repeats``."""
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(megapixels * 1e6 / width))
    rng = np.random.default_rng(0)
    pixels = rng.random((height, width, 3), dtype=np.float32)
    # A resizing task is timed by its output: its input is the output shrunk by the level.
    shrink = level if TASKS[task].resizes else 1
    small = pixels[: round(height / shrink), : round(width / shrink)]
    picture = Picture(pixels=small, alpha=None, bits=8, exif=None, icc_profile=None, source_format="png", info={})
    restorer = Restorer.for_task(task, device="cpu")
    dncnn = fused_dncnn()
    folder = Path(tempfile.mkdtemp())
    source = folder / "input.png"
    Image.fromarray(np.round(small * 255).astype(np.uint8)).save(source, compress_level=1)
    command = [str(Path(sys.executable).with_name("enhance")), *CLI_ARGUMENTS[task](level), str(source)]
    command += ["-o", str(folder / "output.png"), "--overwrite", "-q", "--threads", str(torch.get_num_threads())]

    def ours() -> None:
        restorer.restore(picture, level)

    def cli() -> None:
        subprocess.run(command, check=True)

    def reference() -> None:
        with torch.inference_mode():
            dncnn(torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None])

    runs = {"ours": ours, "cli": cli, "dncnn": reference}
    timings = {name: [] for name in runs}
    ours(), reference()  # warm-up
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - started)
    ours_s, cli_s, dncnn_s = (statistics.median(timings[name]) for name in runs)
    result = {
        "image": f"{width}x{height}" + (f" (from {small.shape[1]}x{small.shape[0]})" if shrink != 1 else ""),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "ours_seconds": ours_s,
        "cli_seconds": cli_s,
        "cli_command": " ".join(["enhance", *command[1:-7], "IMAGE.png", "-o", "out.png"]),
        "dncnn17x64_seconds": dncnn_s,
        "ratio": ours_s / dncnn_s,
        "cli_ratio": cli_s / dncnn_s,
        "ours_tiles": restorer.plan_for(height, width).tiles,
        "ours_flops_per_pixel": restorer.flops_per_pixel,
        "dncnn_flops_per_pixel": flops_per_pixel(dncnn),
    }
    print(
        f"{width}x{height}: ours {ours_s:.2f} s, whole CLI {cli_s:.2f} s, DnCNN {dncnn_s:.2f} s; "
        f"ratio {ours_s / dncnn_s:.2f}, whole CLI {cli_s / dncnn_s:.2f}"
    )
    return result


def memory_benchmark(megapixels: float) -> dict:

    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(megapixels * 1e6 / width))
    sample = Image.open(ROOT / "samples" / "colorchart-noisy-sigma25.png").convert("RGB")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "big.png"
        sample.resize((width, height), Image.BICUBIC).save(source, compress_level=1)
        report = Path(folder) / "report.json"
        command = [
            "enhance",
            "restore",
            "--level",
            "25",
            str(source),
            "-o",
            str(Path(folder) / "out.png"),
            "--report",
            str(report),
            "-q",
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - started
        document = json.loads(report.read_text())
    entry = document["images"][0]
    result = {
        "image": f"{width}x{height}",
        "command": " ".join(command[:3] + ["IMAGE"] + command[4:5]),
        "peak_rss_bytes": document["peak_rss_bytes"],
        "tiles": entry["tiles"],
        "wall_seconds": seconds,
    }
    print(
        f"{width}x{height}: peak RSS {document['peak_rss_bytes'] / 2**30:.2f} GiB, {entry['tiles']} tiles, "
        f"{seconds:.1f} s"
    )
    return result


def update_card(results: dict) -> None:
    card = json.loads(CARD.read_text())
    card["benchmarks"].update(results)
    quality_rows = card["benchmarks"].get("quality", {}).get("sigmas", {})
    if quality_rows:
        ours = "/".join(f"{quality_rows[k]['ours_known_level']['psnr_rgb']:.2f}" for k in quality_rows)
        card["headline"] = f"CBSD68 sigma {'/'.join(k[5:] for k in quality_rows)}: {ours} dB RGB"
    write_card(card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["quality", "coverage", "blind", "speed", "memory", "cbm3d", "all"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N CBSD68 images")
    parser.add_argument(
        "--cbm3d-limit", type=int, default=None, help="CBM3D (about 30 s per image) on only the first N images; 0: none"
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-card", action="store_true", help="record the results in weights/hyperres-noise.json")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    results = {}
    parts = ["quality", "coverage", "blind", "speed", "memory"] if args.part == "all" else [args.part]
    for part in parts:
        started = time.perf_counter()
        if part == "cbm3d":  # fill the cache only, image by image, so any prefix is complete for every sigma
            for count in range(1, (args.limit or len(image_files(CBSD68))) + 1):
                for sigma in (15, 25, 50):
                    cbm3d_scores(CBSD68, sigma, count)
            continue
        if part == "quality":
            results[part] = quality_benchmark([15, 25, 50], args.limit, args.cbm3d_limit)
        elif part == "coverage":
            results[part] = coverage_benchmark([5, 35, 65, 75], args.limit)
        elif part == "blind":
            results[part] = blind_benchmark([5, 10, 15, 20, 25, 30, 35, 40, 45, 50], args.limit)
        elif part == "speed":
            results[part] = speed_benchmark(4.0, repeats=3)
        elif part == "memory":
            results[part] = memory_benchmark(16.0)
        flags = {"--limit": args.limit, "--threads": args.threads}
        if part == "quality":
            flags["--cbm3d-limit"] = args.cbm3d_limit
        given = "".join(f" {flag} {value}" for flag, value in flags.items() if value is not None)
        results[part]["command"] = f"python benchmarks/denoise.py {part}{given}"
        results[part]["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.update_card:
        update_card(results)


if __name__ == "__main__":
    main()
