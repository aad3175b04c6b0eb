"""The per-run report: a JSON file for machines, a rich table on stderr for people."""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from enhance_cli.imageio import write_atomically
from enhance_cli.paths import RAW_FOR_ISP, STDIO, UsageError, resolved_path


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def check_report_path(path: Path, files: list[str] = (), overwrite: bool = False) -> None:
    """Refuse, before any work, a report path that cannot or must not be written (raises UsageError): the
    rules of outputs, so it is never one of the run's ``files`` (inputs and outputs), never an existing file
    without ``overwrite``, never a device or a pipe."""
    if path.is_dir():
        raise UsageError(f"--report {path}: is a directory; give a file name such as run.json")
    if path.exists() and not path.is_file():
        raise UsageError(f"--report {path}: not a regular file")
    if resolved_path(str(path)) in {resolved_path(file) for file in files if file != STDIO}:
        raise UsageError(f"--report {path}: is an input or an output of this run; give another name")
    if path.exists() and not overwrite:
        raise UsageError(f"--report {path}: file exists (use --overwrite)")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the report creates missing folders: the nearest existing one must take them
    if not folder.is_dir():
        raise UsageError(f"--report {path}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--report {path}: permission denied")


def write_report(path: Path, records: list[dict[str, Any]], total_seconds: float, setup_seconds: float = 0.0) -> None:
    """Write the JSON report atomically. ``setup_seconds`` (loading models) is part of the total but of no
    image's own time."""
    document = {
        "images": records,
        "ok": all(r["ok"] for r in records),
        "peak_rss_bytes": peak_rss_bytes(),
        **({"worker_peak_rss_bytes": worker_peak} if (worker_peak := _worker_peak(records)) else {}),
        **({"flops_fraction": spent} if (spent := _run_flops_fraction(records)) is not None else {}),
        "setup_seconds": round(setup_seconds, 4),
        "total_seconds": round(total_seconds, 4),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (json.dumps(document, indent=2) + "\n").encode())


def print_summary(
    console: Console, records: list[dict[str, Any]], total_seconds: float, setup_seconds: float = 0.0
) -> None:
    columns = ("input", "result", "level", "size", "tiles", "GFLOPs", "seconds")
    table = Table(title=None, box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="left" if column in ("input", "result") else "right", overflow="fold")
    for r in records:
        if r.get("skipped"):
            result = f"[yellow]skipped ({'RAW' if r.get('reason') == RAW_FOR_ISP else 'exists'})[/]"
        elif r["ok"]:
            result = "[green]ok[/]"
        else:
            result = "[red]failed[/]"
        size = f"{r['width']}x{r['height']}" if r.get("width") else ""
        level = f"{r['level']:.4g}" if r.get("level") is not None else ""
        flops = f"{r['flops'] / 1e9:.1f}" if r.get("flops") else ""
        seconds = f"{r['seconds']['total']:.2f}" if r.get("seconds") else ""
        table.add_row(r["input"], result, level, size, str(r.get("tiles") or ""), flops, seconds)
    if console.is_terminal:
        console.print(table)
    else:  # a log or a pipe: one plain line per image, whatever the width, for grep and for people alike
        for row in zip(*(column.cells for column in table.columns), strict=True):
            cells = [f"{name} {value}" for name, value in zip(columns[2:], row[2:], strict=True) if value]
            console.print(f"{row[0]}: {', '.join([row[1], *cells])}", soft_wrap=True, highlight=False)
    failed = sum(not r["ok"] for r in records)
    done = sum(r["ok"] and not r.get("skipped") for r in records)
    skipped = sum(bool(r.get("skipped")) for r in records)
    console.print(
        f"{done} done, {skipped} skipped, {failed} failed in {total_seconds:.1f} s "
        f"({setup_seconds:.1f} s loading models); "
        f"peak memory {peak_rss_bytes() / 2**20:.0f} MiB"
        + (f", up to {worker_peak / 2**20:.0f} MiB in each worker" if (worker_peak := _worker_peak(records)) else "")
        + (f"; spent {spent:.0%} of the full network's FLOPs" if (spent := _run_flops_fraction(records)) else "")
    )


def _run_flops_fraction(records: list[dict[str, Any]]) -> float | None:
    """A dynamic network's FLOPs over the run, as a fraction of what its full width would have cost (None: the
    run has no such network)."""
    spent = [(r["flops"], r["flops"] / r["flops_fraction"]) for r in records if r.get("flops_fraction")]
    if not spent:
        return None
    return round(sum(flops for flops, _ in spent) / sum(full for _, full in spent), 4)


def _worker_peak(records: list[dict[str, Any]]) -> int:
    """The largest peak memory of the processes that ran the images (0: they ran in this one)."""
    return max((r.get("worker_peak_rss_bytes", 0) for r in records), default=0)
