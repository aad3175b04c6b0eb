"""Batches: one image per core against one image at a time, and a Dask cluster's workers and per-task cost.

    python benchmarks/batch.py local     # 16 photos of 1 MP: default settings against --threads 1
    python benchmarks/batch.py cluster   # the same batch on a local Dask cluster of 1 and 2 workers; per-task cost

Every run is the whole CLI, `enhance restore` with its defaults (noise, --level auto), in a fresh process, timed
from outside. The photos are Kodak24's first 16, resized to 1224x816 (speed only: no score is taken). The
cluster runs reuse one warm cluster, so the workers' start and model loading (once per worker) are apart;
the per-task cost is what one more tiny image costs on the cluster (256 images less 16, per image) less what it
costs in one local process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "test" / "Kodak24"
ENHANCE = [sys.executable, "-m", "enhance_cli"]
MANY = 256  # tiny images, for the per-task cost


def photos(folder: Path, count: int = 16, size: tuple[int, int] = (1224, 816)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(sorted(KODAK.glob("*.png"))[:count]):
        with Image.open(path) as image:
            image.convert("RGB").resize(size, Image.LANCZOS).save(folder / f"{index:02d}.png")
    return folder


def timed_run(inputs: Path, output: Path, *options: str) -> dict:
    """Wall seconds of one `enhance restore` run, and what its report says."""
    report = output.with_suffix(".json")
    started = time.perf_counter()
    subprocess.run(
        [*ENHANCE, "restore", str(inputs), "-o", str(output), "-q", "--report", str(report), *options], check=True
    )
    seconds = time.perf_counter() - started
    document = json.loads(report.read_text())
    return {
        "seconds": round(seconds, 2),
        "images": len(document["images"]),
        "peak_rss_mib": round(document["peak_rss_bytes"] / 2**20),
        "worker_peak_rss_mib": round(document.get("worker_peak_rss_bytes", 0) / 2**20),
    }


def local_benchmark(scratch: Path) -> dict:
    inputs = photos(scratch / "photos")
    serial = timed_run(inputs, scratch / "serial", "--threads", "1")
    default = timed_run(inputs, scratch / "default")
    intra = timed_run(inputs, scratch / "intra", "--jobs", "1")
    result = {
        "batch": "16 photos of 1224x816 (1.0 MP), enhance restore (noise, --level auto)",
        "threads_1": serial,
        "default": default,
        "jobs_1_all_threads": intra,
        "speedup_default_vs_threads_1": round(serial["seconds"] / default["seconds"], 2),
        "speedup_intra_op_vs_threads_1": round(serial["seconds"] / intra["seconds"], 2),
    }
    print(json.dumps(result, indent=2))
    return result


def cluster_benchmark(scratch: Path) -> dict:
    from distributed import LocalCluster

    inputs = photos(scratch / "photos")
    tiny = photos(scratch / "tiny", count=16, size=(32, 32))
    tiny_many = scratch / "tiny-many"
    tiny_many.mkdir()
    for copy in range(MANY // 16):
        for path in tiny.iterdir():
            (tiny_many / f"{copy}-{path.name}").write_bytes(path.read_bytes())
    local_16 = timed_run(tiny, scratch / "local-16", "--jobs", "1", "--threads", "1")
    local_many = timed_run(tiny_many, scratch / "local-many", "--jobs", "1", "--threads", "1")
    rows = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            address = cluster.scheduler_address
            timed_run(tiny, scratch / f"warm-{workers}", "--cluster", address)  # each worker loads the model
            rows[f"workers_{workers}"] = timed_run(inputs, scratch / f"cluster-{workers}", "--cluster", address)
            if workers == 1:
                cluster_16 = timed_run(tiny, scratch / "cluster-16", "--cluster", address)
                cluster_many = timed_run(tiny_many, scratch / "cluster-many", "--cluster", address)
    # Marginal cost per image (MANY images less 16), so that start-up and connecting cancel out.
    local_marginal = (local_many["seconds"] - local_16["seconds"]) / (MANY - 16)
    cluster_marginal = (cluster_many["seconds"] - cluster_16["seconds"]) / (MANY - 16)
    overhead = cluster_marginal - local_marginal
    result = {
        "batch": "16 photos of 1224x816 (1.0 MP), enhance restore (noise, --level auto), warm local Dask cluster",
        **rows,
        "speedup_2_vs_1_workers": round(rows["workers_1"]["seconds"] / rows["workers_2"]["seconds"], 2),
        "per_task_overhead_seconds": round(overhead, 3),
        "tiny_images": {
            "size": "32x32",
            "local_one_process": {"16": local_16, str(MANY): local_many, "seconds_per_image": round(local_marginal, 3)},
            "cluster_1_worker": {
                "16": cluster_16,
                str(MANY): cluster_many,
                "seconds_per_image": round(cluster_marginal, 3),
            },
        },
    }
    print(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="+", choices=["local", "cluster"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for part in args.part:
            {"local": local_benchmark, "cluster": cluster_benchmark}[part](Path(folder) / part)


if __name__ == "__main__":
    main()
