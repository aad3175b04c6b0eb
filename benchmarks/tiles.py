"""Seconds per megapixel and peak RSS of the whole CLI against tile size (or memory budget), one process per run.

    python benchmarks/tiles.py restore --megapixels 4 --tiles 256 384 512 768 1024 1536 0 --threads 2
    python benchmarks/tiles.py isp --megapixels 24 --memory 256 512 1024 2048 --threads 2
    python benchmarks/tiles.py network --model hyperres-noise --threads 2   # forward alone, s/MP per tile side

Each run is `enhance restore --task noise --level 25` (or `enhance isp`) on a synthetic image, timed
from outside, with the report's peak RSS, tile count and processed pixels. The default memory budget
is chosen from this curve: the smallest budget past which larger tiles stop paying.
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

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
ENHANCE = str(Path(sys.executable).with_name("enhance"))


def test_image(command: str, megapixels: float, folder: Path) -> Path:
    """A 4:3 photo-like PNG (the noisy sample, resized) or a 3:2 DNG tiled from the sample RAW."""
    if command == "isp":
        import demosaic_baselines as baselines
        from isp import sample_raw_of_size

        path = folder / "big.dng"
        baselines.mosaic_to_dng(sample_raw_of_size(megapixels).mosaic, path)
        return path
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(megapixels * 1e6 / width))
    sample = Image.open(ROOT / "samples" / "colorchart-noisy-sigma25.png").convert("RGB")
    path = folder / "big.png"
    sample.resize((width, height), Image.BICUBIC).save(path, compress_level=1)
    return path


def run_once(command: str, source: Path, folder: Path, setting: list[str], threads: int | None) -> dict:
    report = folder / "report.json"
    arguments = [ENHANCE, command, *(["--task", "noise", "--level", "25"] if command == "restore" else [])]
    arguments += [str(source), "-o", str(folder / "out.png"), "--overwrite", "--report", str(report), "-q", *setting]
    if threads:
        arguments += ["--threads", str(threads)]
    started = time.perf_counter()
    subprocess.run(arguments, check=True)
    wall = time.perf_counter() - started
    document = json.loads(report.read_text())
    entry = document["images"][0]
    megapixels = entry["width"] * entry["height"] / 1e6
    return {
        "setting": " ".join(setting),
        "size": f"{entry['width']}x{entry['height']}",
        "tiles": entry["tiles"],
        "processed_per_pixel": round(entry["processed_pixels"] / (entry["width"] * entry["height"]), 3),
        "wall_seconds": round(wall, 2),
        "wall_seconds_per_megapixel": round(wall / megapixels, 3),
        "peak_rss_mib": round(document["peak_rss_bytes"] / 2**20),
    }


def network_curve(model: str, sides: list[int], threads: int | None) -> list[dict]:
    """Seconds per megapixel of one forward pass against the (square) input side, and the memory it
    takes beyond the loaded model: the cost of a tile, with nothing else in the process."""
    import resource

    import torch

    from enhance_cli.registry import find_card
    from enhance_cli.restorer import LoadedModel

    if threads:
        torch.set_num_threads(threads)
    loaded = LoadedModel(find_card(name=model), device="cpu")
    channels = getattr(loaded.model, "input_channels", 3)
    if hasattr(loaded.model, "set_level"):
        loaded.model.set_level(0.5)
    rows = []
    for side in sides:
        batch = loaded.to_device(torch.rand(1, channels, side, side))
        with torch.inference_mode():
            loaded.model(batch)  # warm-up: oneDNN picks its kernels per shape
            repeats = max(2, round(4e6 / side**2))
            started = time.perf_counter()
            for _ in range(repeats):
                loaded.model(batch)
            seconds = (time.perf_counter() - started) / repeats
        rows.append(
            {
                "side": side,
                "seconds_per_megapixel": round(seconds / (side * side / 1e6), 3),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["restore", "isp", "network"])
    parser.add_argument("--model", default="hyperres-noise", help="for `network`: the model to time")
    parser.add_argument("--sides", type=int, nargs="*", default=[128, 192, 256, 384, 512, 640, 768, 1024, 1536, 2048])
    parser.add_argument("--megapixels", type=float, default=4.0)
    parser.add_argument("--tiles", type=int, nargs="*", default=[], help="tile sides to try (0: whole image)")
    parser.add_argument("--memory", nargs="*", default=[], help="memory budgets to try, e.g. 512 (MiB) or 2G")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all settings, interleaved; medians")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if args.command == "network":
        rows = network_curve(args.model, args.sides, args.threads)
        if args.json:
            args.json.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1) + "\n")
        return
    settings = [["--tile", str(t)] for t in args.tiles] + [["--memory", m] for m in args.memory] or [[]]
    runs: list[list[dict]] = [[] for _ in settings]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        source = test_image(args.command, args.megapixels, folder)
        run_once(args.command, source, folder, settings[0], args.threads)  # warm the file cache
        # Interleaved rounds: this machine's speed drifts by 10-30% over minutes, which would otherwise
        # land on whichever setting ran then.
        for _ in range(args.repeats):
            for setting, done in zip(settings, runs, strict=True):
                done.append(run_once(args.command, source, folder, setting, args.threads))
                print(json.dumps(done[-1]), flush=True)
    rows = []
    for done in runs:
        row = dict(done[0])
        for key in ("wall_seconds", "wall_seconds_per_megapixel", "peak_rss_mib"):
            row[key] = statistics.median(run[key] for run in done)
        rows.append(row)
        print("median", json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1) + "\n")
    best = min(row["wall_seconds_per_megapixel"] for row in rows)
    close = [row["setting"] for row in rows if row["wall_seconds_per_megapixel"] <= 1.03 * best]
    print(f"fastest {best:.3f} s/MP; within 3%: {close}")


if __name__ == "__main__":
    main()
