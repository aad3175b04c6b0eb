"""Several images at once: how many worker processes a batch runs, and the pool that runs them.

One process with torch's intra-op threads scales poorly on small and medium images (the tiled path reached
0.25x DnCNN's time on one thread but only 0.43x on two): most of a convolution's threads wait. Whole images
in separate processes, each with its share of the cores, keep every core busy. A single large image, or a
batch of them, still runs in one process with every thread, where intra-op threading pays.
"""

from __future__ import annotations

import ctypes
import io
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from enhance_cli.paths import STDIO, Job
from enhance_cli.report import peak_rss_bytes

# Below this many pixels per image a batch runs one image per core; at or above, images run one after another
# with every core on each (intra-op threads pay off on large images, and each worker would hold one in memory).
LARGE_IMAGE_PIXELS = 8_000_000


@dataclass(frozen=True)
class WorkerPlan:
    """How a batch uses the machine: ``workers`` processes, each running the network on ``threads`` threads."""

    workers: int
    threads: int

    @property
    def parallel(self) -> bool:
        return self.workers > 1


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def plan_workers(jobs: list[Job], workers: int | None = None, threads: int | None = None) -> WorkerPlan:
    """``workers`` (``--jobs``) and ``threads`` (``--threads``: the run's total) as asked, else from the batch.

    By default a batch of two or more files smaller than :data:`LARGE_IMAGE_PIXELS` runs one image per core;
    anything else runs in this process on every core.
    """
    total = min(threads, available_cores()) if threads else available_cores()  # more only contend
    runnable = [job for job in jobs if not job.problem and not job.skipped]
    if any(STDIO in (job.source, job.output) for job in jobs):
        return WorkerPlan(1, total)  # a stream is read or written by this process
    if workers is None:
        small = [job for job in runnable if image_pixels(job.source) < LARGE_IMAGE_PIXELS]
        workers = total if len(small) >= 2 and len(small) * 2 > len(runnable) else 1
    workers = max(1, min(workers, len(runnable)))
    return WorkerPlan(workers, max(1, total // workers))


def image_pixels(path: str) -> int:
    """An input's pixel count from its header alone; for files Pillow cannot read (RAW), their byte count,
    which for a raw mosaic of 10-16 bits per pixel is the same order."""
    try:
        with Image.open(path) as image:
            return image.width * image.height
    except Exception:  # noqa: BLE001 - a RAW file, or a damaged one (its job reports the error)
        try:
            return Path(path).stat().st_size
        except OSError:
            return 0


class WorkerDied(Exception):
    """A job's worker process ended without a result."""


_run_in_worker: Callable[[Job], dict[str, Any]] | None = None  # set in the parent just before the fork


def _start_worker(threads: int, parent: int) -> None:
    import torch

    _die_with_parent(parent)
    torch.set_num_threads(threads)
    # A terminated worker ends like the parent does: by an exception, so a half-written output is removed.
    signal.signal(signal.SIGTERM, lambda signum, _frame: (_ for _ in ()).throw(SystemExit(128 + signum)))
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this worker when the process that forked it dies (even by SIGKILL), so no
    orphan goes on computing; a parent already gone by now means the same. SIGKILL, since a worker that
    unwinds on SIGTERM then waits forever in multiprocessing's exit for the parent's queues; the temporary
    file it may leave is removed by the next run that writes the same output."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(128 + signal.SIGKILL)


_PR_SET_PDEATHSIG = 1
# Looked up in the parent: a child forked while another thread held the dynamic loader's lock would wait
# forever for it in dlopen.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _run_job(job: Job) -> tuple[dict[str, Any], str]:
    assert _run_in_worker is not None
    return run_as_worker(_run_in_worker, job)


def run_as_worker(run_job: Callable[[Job], dict[str, Any]], job: Job) -> tuple[dict[str, Any], str]:
    """In a worker process: the job's record with the process's peak memory, and what the job said on stderr
    (errors, skips), for the parent to print in its place."""
    said = io.StringIO()
    with redirect_stderr(said):
        record = run_job(job)
    return {**record, "worker_peak_rss_bytes": peak_rss_bytes()}, said.getvalue()


class WorkerPool:
    """Processes forked from this one, so each starts with the loaded model instead of loading its own."""

    def __init__(self, run_job: Callable[[Job], dict[str, Any]], plan: WorkerPlan) -> None:
        global _run_in_worker
        _run_in_worker = run_job
        self.workers = plan.workers
        # Forked before any progress bar starts its thread: a fork copies no threads, only their locks.
        self.executor = ProcessPoolExecutor(
            plan.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker,
            initargs=(plan.threads, os.getpid()),
        )

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, dict[str, Any] | WorkerDied, str]]:
        """(index, record, what it printed) for each job as it finishes; the error instead of the record
        where its worker died."""
        pending = {self.executor.submit(_run_job, job): index for index, job in enumerate(jobs)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    yield index, *future.result()
                except BrokenProcessPool:  # killed from outside (out of memory?): this job and the rest fail
                    yield index, WorkerDied("the worker process running it died (out of memory?)"), ""

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
