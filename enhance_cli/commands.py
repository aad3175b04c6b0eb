"""What each CLI command does, as plain functions (the CLI only parses options)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from enhance_cli.imageio import IMAGE_SUFFIXES
from enhance_cli.paths import STDIO, Job, UsageError, plan_jobs
from enhance_cli.pipeline import Runner, RunOptions, WriteOptions, read_source
from enhance_cli.rawio import RAW_SUFFIXES, RawError, RawImage, read_raw
from enhance_cli.registry import ModelNotFound, build_architecture, list_cards
from enhance_cli.restorer import LevelError, Restorer
from enhance_cli.tasks import TASKS

stderr = Console(stderr=True, highlight=False)


def run_restore(
    inputs: list[str],
    task: str,
    level: float | None,
    output: str | None = None,
    format: str | None = None,
    bits: int | None = None,
    quality: int | None = None,
    overwrite: bool = False,
    recursive: bool = False,
    tile: int | None = None,
    tile_overlap: int = 32,
    model: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    report: Path | None = None,
    quiet: bool = False,
    debug: bool = False,
    command: str = "restore",
) -> int:
    """Restore every input; return the exit status (0 all ok, 1 some failed, 2 usage error)."""
    try:
        jobs = _plan(inputs, output, command, format, bits, recursive, threads)
        restorer = Restorer.for_task(task, model, device=device, tile=tile, tile_overlap=tile_overlap)
    except (UsageError, ModelNotFound, ValueError) as error:
        return _usage_error(error)
    spec = restorer.card.level
    if level is None and not restorer.can_estimate:
        return _usage_error(LevelError(f"{restorer.card.name} cannot estimate the {spec.name}: give it"))
    if jobs and level is not None:
        try:
            restorer.check_level(level)
        except LevelError as error:
            return _usage_error(error)
        if restorer.strength(level) < 1:
            stderr.print(
                f"[yellow]note[/]: {spec.name} {level:g} is above the trained range; applying "
                f"{restorer.strength(level):.0%} of the correction (none from {restorer.task.pass_through:g})"
            )
        elif not spec.minimum <= level <= spec.maximum:
            stderr.print(
                f"[yellow]note[/]: {spec.name} {level:g} is outside the trained range "
                f"{spec.minimum:g}-{spec.maximum:g}; using {restorer.network_level(level):g}"
            )

    def process(picture, progress):
        return restorer.restore(picture, level, progress)

    options = RunOptions(
        command=command,
        model=restorer.card.name,
        params=restorer.params,
        write=WriteOptions(bits=bits, quality=quality, overwrite=overwrite),
        report=report,
        quiet=quiet,
        debug=debug,
    )
    return _run_batch(jobs, inputs, process, options, read_source, "images")


def _plan(
    inputs: list[str],
    output: str | None,
    command: str,
    format: str | None,
    bits: int | None,
    recursive: bool,
    threads: int | None,
    suffixes: frozenset[str] = IMAGE_SUFFIXES,
) -> list[Job]:
    """The jobs of one command run (raises UsageError), with the thread count set."""
    if bits == 16 and format in ("jpeg", "webp"):
        raise UsageError(f"--bits 16 needs png or tiff, not {format}")
    jobs = plan_jobs(inputs, output, command, format, recursive, suffixes)
    if threads:
        torch.set_num_threads(threads)
    return jobs


def _usage_error(error: Exception) -> int:
    stderr.print(f"[red]error[/]: {escape(str(error))}", soft_wrap=True)
    return 2


def _run_batch(jobs: list[Job], inputs: list[str], process, options: RunOptions, reader, found: str) -> int:
    """Run every job; the exit status is 1 if any failed, or if there was nothing to do."""
    if not jobs:
        stderr.print(f"[red]error[/]: no {found} found in {escape(' '.join(inputs))}", soft_wrap=True)
        return 1
    records = Runner(process, options, reader).run(jobs)
    return 0 if all(r["ok"] for r in records) else 1


def read_raw_source(source: str) -> RawImage:
    if source == STDIO:
        raise RawError("<stdin>: isp reads RAW files by path; stdin is not supported")
    return read_raw(source)


def run_isp(
    inputs: list[str],
    output: str | None = None,
    format: str | None = None,
    bits: int | None = None,
    quality: int | None = None,
    overwrite: bool = False,
    recursive: bool = False,
    tone: str = "standard",
    tile: int | None = None,
    tile_overlap: int = 64,
    model: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    report: Path | None = None,
    quiet: bool = False,
    debug: bool = False,
) -> int:
    """Develop every RAW input; return the exit status (0 all ok, 1 some failed, 2 usage error)."""
    from enhance_cli.develop import Developer

    try:
        jobs = _plan(inputs, output, "isp", format, bits, recursive, threads, RAW_SUFFIXES)
        developer = Developer.for_model(model, device=device, tile=tile, tile_overlap=tile_overlap)
    except (UsageError, ModelNotFound, ValueError) as error:
        return _usage_error(error)

    def process(raw: RawImage, progress):
        return developer.develop(raw, tone, progress)

    options = RunOptions(
        command="isp",
        model=developer.card.name,
        params=developer.params,
        write=WriteOptions(bits=bits, quality=quality, overwrite=overwrite),
        report=report,
        quiet=quiet,
        debug=debug,
    )
    return _run_batch(jobs, inputs, process, options, read_raw_source, "RAW files")


def model_rows() -> list[dict]:
    """One row per registered model, with its measured cost."""
    from enhance_cli.flops import flop_breakdown, parameter_count

    rows = []
    for card in list_cards():
        network = build_architecture(card.architecture, card.config).eval()
        if hasattr(network, "set_level"):
            network.set_level(0.5)
        flops = flop_breakdown(network, 128, 128, channels=getattr(network, "input_channels", 3))
        rows.append(
            {
                "name": card.name,
                "task": card.task if card.level or card.task == "isp" else f"{card.task} (estimator)",
                "default": card.default_for_task,
                "params": parameter_count(network),
                "flops_per_pixel": sum(flops.values()),
                "mlp_flops_per_pixel": flops["mlp"],
                "levels": f"{card.level.name} {card.level.minimum:g}-{card.level.maximum:g}" if card.level else "",
                "headline": card.extra.get("headline", ""),
                "sha256": card.sha256,
            }
        )
    return rows


def show_models(as_json: bool) -> None:
    rows = model_rows()
    console = Console()
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(box=None)
    numeric = ("params", "kFLOPs/px", "of which MLP")
    for column in ("name", "task", *numeric, "levels", "headline results"):
        table.add_column(column, justify="right" if column in numeric else "left")
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        table.add_row(
            name,
            row["task"],
            f"{row['params'] / 1e6:.2f} M",
            f"{row['flops_per_pixel'] / 1e3:.0f}",
            f"{row['mlp_flops_per_pixel'] / 1e3:.1f}" if row["mlp_flops_per_pixel"] else "",
            row["levels"],
            row["headline"],
        )
    console.print(table)


def run_eval(
    folder: Path,
    task: str,
    level: float,
    given_level: float | None,
    model: str | None,
    limit: int | None,
    seed: int,
    tile: int | None,
    threads: int | None,
    json_path: Path | None,
) -> None:
    from enhance_cli.evaluate import evaluate_folder, mean_scores

    if threads:
        torch.set_num_threads(threads)
    restorer = Restorer.for_task(task, model, tile=tile, device="cpu")
    scores = evaluate_folder(restorer, folder, task, level, given_level, limit, seed)
    degraded, restored = mean_scores(scores, "degraded"), mean_scores(scores, "restored")
    table = Table(
        title=f"{restorer.card.name} on {folder.name} ({len(scores)} images), {TASKS[task].level_name} {level:g}",
        box=None,
    )
    for column in ("", "PSNR RGB", "SSIM RGB", "PSNR Y", "SSIM Y"):
        table.add_column(column, justify="right")
    for label, values in (("degraded input", degraded), (restorer.card.name, restored)):
        table.add_row(
            label,
            f"{values['psnr_rgb']:.2f}",
            f"{values['ssim_rgb']:.4f}",
            f"{values['psnr_y']:.2f}",
            f"{values['ssim_y']:.4f}",
        )
    console = Console()
    console.print(table)
    levels = [s.level for s in scores]
    console.print(
        f"level used: mean {np.mean(levels):.2f} (min {min(levels):.2f}, max {max(levels):.2f}); "
        f"{np.mean([s.seconds for s in scores]):.3f} s per image"
    )
    if json_path:
        json_path.write_text(
            json.dumps(
                {
                    "model": restorer.card.name,
                    "task": task,
                    "level": level,
                    "degraded": degraded,
                    "restored": restored,
                    "images": [asdict(s) for s in scores],
                },
                indent=2,
            )
        )
