"""What each CLI command does, as plain functions (the CLI only parses options)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from enhance_cli.cluster import ClusterPool, check_storage, connect
from enhance_cli.paths import STDIO, Job, UsageError, image_files, plan_jobs
from enhance_cli.pipeline import Runner
from enhance_cli.registry import ModelNotFound, WeightsCorrupted, no_models_message, read_cards, weights_dir
from enhance_cli.report import check_report_path
from enhance_cli.work import BatchOptions, DenoiseWork, DevelopWork, RestoreWork, Work
from enhance_cli.workers import WorkerPlan, WorkerPool, available_cores, plan_workers

# torch (and what imports it) loads inside the commands that run networks: `enhance models` needs none of it.
if TYPE_CHECKING:
    from enhance_cli.develop import DevelopOptions

stderr = Console(stderr=True, highlight=False)


def run_restore(
    inputs: list[str], task: str, level: float | None, options: BatchOptions = BatchOptions(), command: str = "restore"
) -> int:
    """Restore every input; return the exit status (0 all ok, 1 some failed, 2 usage error).

    ``level`` None estimates it per image (or reads it from the file, for JPEG quality).
    """
    return run_work(RestoreWork(command, options, task, level), inputs)


def run_isp(inputs: list[str], develop: DevelopOptions | None = None, options: BatchOptions = BatchOptions()) -> int:
    """Develop every RAW input; return the exit status (0 all ok, 1 some failed, 2 usage error)."""
    from enhance_cli.develop import DevelopOptions

    return run_work(DevelopWork("isp", options, develop or DevelopOptions()), inputs)


def run_denoise(inputs: list[str], budget: float | None = None, options: BatchOptions = BatchOptions()) -> int:
    """Denoise every input with DDS-Net; return the exit status (0 all ok, 1 some failed, 2 usage error).

    ``budget``: the mean FLOPs to spend, as a fraction of the full network's; None: the ladder's knee.
    """
    return run_work(DenoiseWork("denoise", options, budget), inputs)


def run_work(work: Work, inputs: list[str]) -> int:
    """Plan the jobs and the workers, then prepare the model and the per-image function, so that every
    usage error (exit 2) and damaged weights (exit 1) stop the run before any image is read; then run the
    batch, several images at once where the plan says so."""
    options = work.options
    started = time.perf_counter()
    client = None
    try:
        if STDIO in inputs and not work.reads_stdin:
            raise UsageError(f"{work.command} reads files by path; stdin (-) is not supported")
        jobs = _plan(inputs, options, work.command, work.suffixes, work.found)
        if options.cluster:
            plan = WorkerPlan(1, options.threads or 1)  # this machine only checks the model
            client = connect(options.cluster)
            check_storage(client, jobs)
        else:
            plan = plan_workers(jobs, options.jobs, options.threads)
            if options.threads and options.threads > available_cores():
                stderr.print(
                    f"[yellow]note[/]: --threads {options.threads} is more than the {available_cores()} "
                    f"cores here; using {available_cores()}"
                )
        if options.threads or plan.parallel:
            import torch

            torch.set_num_threads(plan.threads)  # the workers inherit it
        model, process = work.prepare(jobs, plan)
    except (WeightsCorrupted, UsageError, ModelNotFound, ValueError) as error:
        if client is not None:
            client.close()
        return _error(error, 1 if isinstance(error, WeightsCorrupted) else 2)
    run = options.run_options(work.command, model.card.name, model.params, time.perf_counter() - started)
    runner = Runner(process, run, work.read)
    if client is not None:
        pool = ClusterPool(client, work, run)
    elif plan.parallel:
        pool = WorkerPool(partial(runner.run_one, tile_progress=_no_progress), plan)
    else:
        pool = None
    try:
        records = runner.run(jobs, pool)
    finally:
        if pool is not None:
            pool.close()
    return 0 if all(record["ok"] for record in records) and not runner.report_failed else 1


def _no_progress(done: int, total: int) -> None:
    """Workers draw no tile progress: the parent's bar counts their images."""


def _plan(inputs: list[str], options: BatchOptions, command: str, suffixes: frozenset[str], found: str) -> list[Job]:
    """The jobs of one command run, with the thread count set; every usage error is raised here, before
    any model is loaded or image read."""
    jobs = plan_jobs(inputs, options.output, command, options.format, options.recursive, suffixes)
    if all(job.skipped for job in jobs):
        several = len(jobs) > 1
        raws = f" ({len(jobs)} camera RAW file{'s' * several}: develop {'them' if several else 'it'} with enhance isp)"
        raise UsageError(f"no {found} found in {' '.join(inputs)}{raws if jobs else ''}")
    formats = {job.format for job in jobs}
    if options.bits == 16 and formats & {"jpeg", "webp"}:
        raise UsageError(f"--bits 16 needs png or tiff, not {' or '.join(sorted(formats & {'jpeg', 'webp'}))}")
    if options.quality is not None and not formats & {"jpeg", "webp"}:
        raise UsageError(
            "--quality sets the quality of JPEG/WebP outputs, and these outputs are "
            f"{' and '.join(sorted(formats))} (an input's JPEG quality is --level)"
        )
    if options.report is not None:
        check_report_path(
            options.report, [file for job in jobs for file in (job.source, job.output)], options.overwrite
        )
    if any(job.output == STDIO for job in jobs) and sys.stdout.isatty():
        raise UsageError("refusing to write image data to a terminal; redirect it (> out.png) or give -o FILE")
    return jobs


def _error(error: Exception, status: int) -> int:
    stderr.print(f"[red]error[/]: {escape(str(error))}", soft_wrap=True)
    return status


def model_rows(problems: list[str] | None = None) -> list[dict]:
    """One row per registered model, with its cost as its card records it (read without torch). A damaged
    card, or a card without its weights, gets no row; its one-line reason goes to ``problems``."""
    cards, damaged = read_cards()
    if not cards and not damaged:
        raise ModelNotFound(no_models_message(weights_dir()))
    rows = []
    problems = [] if problems is None else problems
    problems.extend(str(error) for error in damaged)
    for card in cards:
        flops = card.flops()
        try:
            params = card.parameter_count()
        except WeightsCorrupted as error:
            problems.append(str(error))
            continue
        rows.append(
            {
                "name": card.name,
                "task": card.task if card.level or card.task in ("isp", "denoise") else f"{card.task} (estimator)",
                "default": card.default_for_task,
                "params": params,
                "flops_per_pixel": card.flops_per_pixel,
                "flops_by_part": flops,
                "mlp_flops_per_pixel": flops["mlp"],
                "levels": _levels(card),
                "headline": card.extra.get("headline", ""),
                "sha256": card.sha256,
            }
        )
    return rows


def _levels(card) -> str:
    """What a model's level or budget range is, for the models table."""
    if card.level:
        return f"{card.level.name} {card.level.minimum:g}-{card.level.maximum:g}"
    if "default_budget" in card.extra:
        return f"budget 0-1 (default {card.extra['default_budget']:.2f})"
    return ""


def show_models(as_json: bool) -> None:
    """Print the registry as a table or JSON; exit 1 if the models cannot be listed."""
    problems: list[str] = []
    try:
        rows = model_rows(problems)
    except ModelNotFound as error:
        stderr.print(f"[red]error[/]: {escape(str(error))}", soft_wrap=True)
        raise SystemExit(1) from None
    _print_models(rows, as_json)
    for problem in problems:  # the rest are listed, and usable; the run still says something is wrong
        stderr.print(f"[red]error[/]: {escape(problem)}", soft_wrap=True)
    if problems:
        raise SystemExit(1)


def _print_models(rows: list[dict], as_json: bool) -> None:
    console = Console()
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(box=None)
    numeric = ("params", "kFLOPs/px", "of which MLP")
    names = [row["name"] + (" (default)" if row["default"] else "") for row in rows]
    table.add_column("name", no_wrap=True, min_width=max(map(len, names)))  # what --model takes: never cut
    for column in ("task", *numeric, "levels", "headline results"):
        table.add_column(column, justify="right" if column in numeric else "left", overflow="fold")
    for name, row in zip(names, rows, strict=True):
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
) -> int:
    """Print a model's scores on a folder; return the exit status (2 for a usage error)."""
    import numpy as np
    import torch

    from enhance_cli.evaluate import evaluate_folder, mean_scores
    from enhance_cli.restorer import Restorer
    from enhance_cli.tasks import TASKS

    if threads:
        torch.set_num_threads(threads)
    try:
        if not folder.is_dir() or not image_files(folder):
            raise UsageError(f"no images found in {folder}")
        restorer = Restorer.for_task(task, model, tile=tile, device="cpu")
        restorer.check_level(level)
        if given_level is not None:
            restorer.check_level(given_level)
    except WeightsCorrupted as error:
        return _error(error, 1)
    except (ModelNotFound, ValueError) as error:
        return _error(error, 2)
    unreadable: list[str] = []
    started = time.perf_counter()
    with Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=stderr, transient=True
    ) as bar:
        images = bar.add_task("images", total=None)
        scores = evaluate_folder(
            restorer,
            folder,
            task,
            level,
            given_level,
            limit,
            seed,
            unreadable,
            progress=lambda done, total: bar.update(images, completed=done, total=total),
        )
    wall = time.perf_counter() - started
    for reason in unreadable:
        stderr.print(f"[red]error[/]: {escape(reason)}", soft_wrap=True)
    if not scores:
        return 1
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
        f"restoring took {np.mean([s.seconds for s in scores]):.3f} s per image, {wall / len(scores):.3f} s with "
        "degrading, reading and scoring"
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
    return 1 if unreadable else 0
