"""Per-call overhead: one `enhance` call on a 64 x 64 image against `python -c "import torch"`, interleaved.

    python benchmarks/startup.py --repeats 7

Shell scripts call `enhance` once per file, so what a call costs beyond importing torch is paid per image.
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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        small = folder / "small.png"
        Image.open(ROOT / "samples" / "colorchart-noisy-sigma25.png").convert("RGB").crop((0, 0, 64, 64)).save(small)
        output = str(folder / "out.png")
        commands = {
            "import torch": [sys.executable, "-c", "import torch"],
            "enhance restore --task noise --level 25": [
                *[str(BIN / "enhance"), "restore", "--task", "noise", "--level", "25"],
                *[str(small), "-o", output, "--overwrite", "-q"],
            ],
            "enhance restore --level auto": [str(BIN / "enhance"), "restore", str(small), "-o", output, "--overwrite"],
            "enhance models": [str(BIN / "enhance"), "models"],
        }
        timings: dict[str, list[float]] = {label: [] for label in commands}
        for _ in range(args.repeats + 1):  # the first round warms the file cache and is dropped
            for label, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                timings[label].append(time.perf_counter() - started)
    base = statistics.median(timings["import torch"][1:])
    rows = {}
    for label, values in timings.items():
        median = statistics.median(values[1:])
        rows[label] = {"median_seconds": round(median, 2), "beyond_import_torch": round(median - base, 2)}
        print(f"{label:45s} {median:5.2f} s  ({median - base:+.2f} s beyond import torch)")
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
