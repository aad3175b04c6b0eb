"""What each CLI command does, as plain functions (the CLI only parses options)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from enhance_cli.cluster import ClusterPool, check_storage, connect
from enhance_cli.paths import STDIO, Job, UsageError, plan_jobs
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


@dataclass(frozen=True)
class EvalOptions:
    """How ``enhance eval`` scores a model."""

    task: str = "noise"  # noise | jpeg | sr (synthetic), isp (RAW mosaics), denoise (real noisy/clean pairs)
    level: float | None = None  # the level synthesised (isp: shot-noise variance); None: the task's default
    given_level: float | None = None  # restore tasks: the level the model is told; None: the synthesised one
    estimate: bool = False  # restore tasks: the model estimates the level (given_level is then ignored)
    budget: float | None = None  # denoise: the run's FLOPs at most, a fraction of the full network's; None: default
    model: str | None = None
    limit: int | None = None
    seed: int = 0
    tile: int | None = None
    threads: int | None = None
    data: Path | None = None  # where test sets are found by name; None: $ENHANCE_DATA or the checkout's
    json: Path | None = None


DEFAULT_EVAL_LEVELS = {"noise": 25.0, "jpeg": 25.0, "sr": 2.0, "isp": 0.0}
ISP_NOISE_RANGE = (0.0, 0.05)  # shot-noise variance per unit signal: 0 noise-free, 0.0025 a mid ISO, 0.05 extreme


def run_eval(folder: str, options: EvalOptions = EvalOptions()) -> int:
    """Print a model's scores on a folder (or a test set named under the data folder); return the exit
    status (1 when an image could not be read or the weights are damaged, 2 for a usage error)."""
    import numpy as np
    import torch

    from enhance_cli.evaluate import evaluate, find_data_folder, mean_scores

    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        where = find_data_folder(folder, options.data)
        benchmark, run, model = _eval_setup(where, options)
        if not benchmark.loaders:
            raise UsageError(f"no {'noisy/clean pairs' if options.task == 'denoise' else 'images'} found in {where}")
    except WeightsCorrupted as error:
        return _error(error, 1)
    except (ModelNotFound, UsageError, ValueError) as error:
        return _error(error, 2)
    unreadable: list[str] = []
    started = time.perf_counter()
    with Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=stderr, transient=True
    ) as bar:
        images = bar.add_task("images", total=None)
        scores = evaluate(
            benchmark,
            run,
            options.limit,
            unreadable,
            progress=lambda done, total: bar.update(images, completed=done, total=total),
        )
    wall = time.perf_counter() - started
    for reason in unreadable:
        stderr.print(f"[red]error[/]: {escape(reason)}", soft_wrap=True)
    if not scores:
        return 1
    degraded, restored = mean_scores(scores, "degraded"), mean_scores(scores, "restored")
    table = Table(title=f"{model} on {where.name} ({len(scores)} images), {benchmark.describe}", box=None)
    for column in ("", "PSNR RGB", "SSIM RGB", "PSNR Y", "SSIM Y"):
        table.add_column(column, justify="right")
    for label, values in ((benchmark.degraded_label, degraded), (model, restored)):
        table.add_row(
            label,
            f"{values['psnr_rgb']:.2f}",
            f"{values['ssim_rgb']:.4f}",
            f"{values['psnr_y']:.2f}",
            f"{values['ssim_y']:.4f}",
        )
    console = Console()
    console.print(table)
    levels = [s.level for s in scores if s.level is not None]
    if levels:
        console.print(f"level used: mean {np.mean(levels):.2f} (min {min(levels):.2f}, max {max(levels):.2f})")
    console.print(
        f"{model} took {np.mean([s.seconds for s in scores]):.3f} s per image "
        f"({np.mean([s.flops_per_pixel for s in scores]) / 1e3:.0f} kFLOPs per pixel), {wall / len(scores):.3f} s "
        "in all, with reading and scoring"
    )
    if options.json:
        report = {"model": model, "folder": str(where), "task": options.task, "degradation": benchmark.describe}
        report |= {"degraded": degraded, "restored": restored, "images": [asdict(s) for s in scores]}
        options.json.write_text(json.dumps(report, indent=2))
    return 1 if unreadable else 0


def _eval_setup(folder: Path, options: EvalOptions) -> tuple[Any, Callable, str]:
    """The benchmark of ``folder`` for the task, the function that runs the model on one case, and its name."""
    from enhance_cli.evaluate import raw_benchmark, real_noise_benchmark, restoration_benchmark

    task, model_options = options.task, {"tile": options.tile, "device": "cpu"}
    if task in ("denoise", "isp") and (options.given_level is not None or options.estimate):
        raise UsageError(f"--restore-level is for noise, jpeg and sr; {task} is given no level")
    if task == "denoise":
        from enhance_cli.denoiser import Denoiser, Savings

        if options.level is not None:
            raise UsageError("denoise is scored on real noisy photos beside clean references; --level does not apply")
        denoiser = Denoiser.for_model(options.model, **model_options)
        if options.budget is not None:
            denoiser.check_budget(options.budget)
        denoise = partial(denoiser.denoise, budget=options.budget, savings=Savings())
        return real_noise_benchmark(folder), denoise, denoiser.card.name
    if options.budget is not None:
        raise UsageError(f"--budget is for denoise, whose network's width it limits; {task} has none")
    level = DEFAULT_EVAL_LEVELS[task] if options.level is None else options.level
    if task == "isp":
        from enhance_cli.develop import Developer, DevelopOptions

        if not ISP_NOISE_RANGE[0] <= level <= ISP_NOISE_RANGE[1]:
            raise UsageError(
                f"isp's --level is the shot-noise variance per unit signal, {ISP_NOISE_RANGE[0]:g}-"
                f"{ISP_NOISE_RANGE[1]:g} (0.0025 is a mid ISO), not {level:g}"
            )
        developer = Developer.for_model(options.model, **model_options)
        develop = partial(developer.develop, options=DevelopOptions(tone="neutral"))
        return raw_benchmark(folder, level, options.seed), develop, developer.card.name
    from enhance_cli.restorer import Restorer

    restorer = Restorer.for_task(task, options.model, **model_options)
    restorer.check_level(level)
    given = None if options.estimate else level if options.given_level is None else options.given_level
    if given is not None:
        restorer.check_level(given)
    restore = partial(restorer.restore, level=given)
    return restoration_benchmark(folder, task, level, options.seed), restore, restorer.card.name
