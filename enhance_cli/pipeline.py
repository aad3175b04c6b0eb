"""Run a command over many inputs: read, process, write, one failure never stopping the rest."""

from __future__ import annotations

import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from enhance_cli.imageio import (
    ImageError,
    ImageWriteError,
    Picture,
    describe_os_error,
    encode_image,
    read_image,
    write_image,
)
from enhance_cli.paths import STDIO, Job
from enhance_cli.report import print_summary, write_report

if TYPE_CHECKING:
    from enhance_cli.workers import WorkerPool


@dataclass
class Outcome:
    """What processing one picture produced."""

    picture: Picture
    level: float | None
    tiles: int
    flops: int
    seconds: float
    processed_pixels: int = 0  # what the network processed: tiles with their halos and overlaps
    flops_by_part: dict[str, int] | None = None  # e.g. HyperConvolution's filtering ("conv") vs prediction ("mlp")
    details: dict[str, Any] | None = None  # what else the report should record (e.g. an estimated noise model)


Process = Callable[[Any, Callable[[int, int], None]], Outcome]
Reader = Callable[[str], Any]


@dataclass
class WriteOptions:
    bits: int | None = None
    quality: int | None = None
    overwrite: bool = False


@dataclass
class RunOptions:
    command: str
    model: str
    params: int
    write: WriteOptions
    report: Path | None = None
    quiet: bool = False
    debug: bool = False
    setup_seconds: float = 0.0  # loading and verifying the models, before the first image


def read_source(source: str) -> Picture:
    if source == STDIO:
        return read_image(sys.stdin.buffer.read(), name="<stdin>")
    return read_image(Path(source))


class JobRefused(Exception):
    """A job that planning found cannot run (its message is the reason)."""


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """SIGTERM ends the run the way Ctrl-C does: by an exception, so temporary files are removed on the way
    out (a signal's default action would leave them). Exit status 143, as for a process killed by SIGTERM."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Runner:
    """Runs ``process`` on what ``reader`` makes of each input (default: an image file as a Picture)."""

    def __init__(self, process: Process, options: RunOptions, reader: Reader = read_source) -> None:
        self.process = process
        self.reader = reader
        self.options = options
        self.console = Console(stderr=True, quiet=options.quiet)  # progress, notices, summary
        self.errors = Console(stderr=True, highlight=False, soft_wrap=True)  # never silenced
        self.written: set[str] = set()
        self.report_failed = False  # the images are done, but the run must not exit 0 without its report

    def run(self, jobs: list[Job], pool: WorkerPool | None = None) -> list[dict[str, Any]]:
        """Process every job (several at once in ``pool``'s processes, if given); return one report record
        per job, in the jobs' order."""
        started = time.perf_counter()
        if getattr(signal.getsignal(signal.SIGINT), "until_work_starts", False):  # the command's early exit
            signal.signal(signal.SIGINT, signal.default_int_handler)  # now an exception removes half-written files
        records: list[dict[str, Any]] = [{} for _ in jobs]
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=self.options.quiet,
        )
        with terminate_as_exit(), progress:
            images = progress.add_task("images", total=len(jobs))
            tiles = progress.add_task("tiles", total=None, visible=False)

            def tile_progress(done: int, total: int) -> None:
                progress.update(tiles, completed=done, total=total, visible=total > 1)

            if pool is None:
                for index, job in enumerate(jobs):
                    progress.update(images, description=f"[bold]{escape(Path(job.source).name)}")
                    records[index] = self.run_one(job, tile_progress)
                    progress.update(tiles, visible=False)
                    progress.advance(images)
            else:
                progress.update(images, description=f"[bold]{pool.workers} at once")
                for index, result, said in pool.run(jobs):
                    if said:
                        self.errors.out(said, end="", highlight=False)
                    if isinstance(result, Exception):
                        records[index] = self._new_record(jobs[index])
                        self._fail(records[index], result)
                    else:
                        records[index] = result
                    progress.advance(images)
            total = time.perf_counter() - started + self.options.setup_seconds
            if self.options.report:
                self._write_report(records, total)
        if jobs:
            print_summary(self.console, records, total, self.options.setup_seconds)
        return records

    def _write_report(self, records: list[dict[str, Any]], total: float) -> None:
        try:
            write_report(self.options.report, records, total, self.options.setup_seconds)
        except OSError as error:
            self.report_failed = True
            self.errors.print(f"[red]error[/]: --report {escape(str(self.options.report))}: {describe_os_error(error)}")

    def run_one(self, job: Job, tile_progress: Callable[[int, int], None]) -> dict[str, Any]:
        options = self.options
        record = self._new_record(job)
        started = time.perf_counter()
        try:
            if job.problem:
                raise JobRefused(job.problem)
            if job.skipped:
                self.console.print(f"[yellow]skip[/]: {escape(job.source)}: {escape(job.skipped)}", soft_wrap=True)
                record.update(ok=True, skipped=True, reason=job.skipped)
                return record
            self._check_output(job)
            if job.output != STDIO and Path(job.output).exists() and not options.write.overwrite:
                self.console.print(f"[yellow]skip[/]: {escape(job.output)} exists (use --overwrite)", soft_wrap=True)
                record.update(ok=True, skipped=True, reason="output exists")
                return record
            source = self.reader(job.source)
            read_done = time.perf_counter()
            outcome = self.process(source, tile_progress)
            infer_done = time.perf_counter()
            record.update(width=outcome.picture.pixels.shape[1], height=outcome.picture.pixels.shape[0])
            self._write(job, outcome.picture)
            written = time.perf_counter()
            self.written.add(str(Path(job.output).resolve()) if job.output != STDIO else STDIO)
            record.update(
                ok=True,
                level=outcome.level,
                tiles=outcome.tiles,
                flops=outcome.flops,
                processed_pixels=outcome.processed_pixels,
                **({"flops_by_part": outcome.flops_by_part} if outcome.flops_by_part else {}),
                **(outcome.details or {}),
                seconds={
                    "read": round(read_done - started, 4),
                    "infer": round(infer_done - read_done, 4),
                    "write": round(written - infer_done, 4),
                    "total": round(written - started, 4),
                },
            )
        except Exception as error:  # noqa: BLE001 - one bad input must not stop the batch
            self._fail(record, error)
        return record

    def _new_record(self, job: Job) -> dict[str, Any]:
        options = self.options
        return {
            "input": job.source,
            "output": job.output,
            "ok": False,
            "command": options.command,
            "model": options.model,
            "params": options.params,
        }

    def _fail(self, record: dict[str, Any], error: Exception) -> None:
        reason = str(error) if isinstance(error, ImageError) else f"{record['input']}: {_describe(error)}"
        record.update(ok=False, error=reason)
        self.errors.print(f"[red]error[/]: {escape(reason)}")
        if self.options.debug:
            self.errors.print(escape(traceback.format_exc()))

    def _check_output(self, job: Job) -> None:
        # Planning refuses clashes; this guards against a path that changed under the run (a new symlink).
        if job.output == STDIO:
            return
        if str(Path(job.output).resolve()) in self.written:
            raise ValueError(f"output {job.output} was already written by another input of this run")

    def _write(self, job: Job, picture: Picture) -> None:
        write = self.options.write
        if job.output == STDIO:
            data = encode_image(picture, job.format, bits=write.bits, quality=write.quality)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        target = Path(job.output)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageWriteError(f"{target}: cannot create its folder: {describe_os_error(error)}") from None
        write_image(target, picture, job.format, bits=write.bits, quality=write.quality, overwrite=write.overwrite)


def _describe(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file or directory"
    if isinstance(error, MemoryError):
        return "out of memory; try a smaller --tile"
    return str(error) or type(error).__name__
