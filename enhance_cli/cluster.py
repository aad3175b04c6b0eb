"""Many machines: a batch's images as tasks on a Dask distributed cluster (``--cluster tcp://host:8786``).

This machine plans the jobs and checks the options and the model, exactly as for a local run; each Dask
worker then sets itself up once from the command's :class:`~enhance_cli.work.Work` (it loads the model
from its own installed package) and reads, processes and writes the images it is given. The inputs and the
output folder must be on storage every worker sees under the same paths (NFS, a bucket mount). Records come
back here for the summary and the report.

Dask reschedules the tasks of a worker that dies on the others; since every write is atomic and an existing
output is skipped, a rescheduled image is written once and whole. Install with ``pip install -e ".[cluster]"``
in the checkout (or the built wheel with ``[cluster]``).
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enhance_cli.paths import Job, UsageError
from enhance_cli.pipeline import Runner, RunOptions
from enhance_cli.workers import WorkerDied, WorkerPlan, run_as_worker

if TYPE_CHECKING:
    from enhance_cli.work import Work

CONNECT_SECONDS = 10


class ClusterError(UsageError):
    """The cluster cannot take the batch: unreachable, no workers, or workers that cannot see the files."""


SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def check_address(address: str) -> None:
    """Refuse what cannot be a scheduler's address (``tcp://HOST:PORT``, or ``HOST:PORT``) before Dask tries:
    it takes anything, then times out, and its half-made client hangs the exit for another 20 s."""
    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if (scheme and scheme not in SCHEMES) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"--cluster {address}: not a scheduler address such as tcp://HOST:8786")


def connect(address: str):
    """A client of the scheduler at ``address``, or a :class:`ClusterError` that says why not."""
    check_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError('--cluster needs Dask: pip install -e ".[cluster]" in the enhance checkout') from None
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    if not client.scheduler_info()["workers"]:
        client.close()
        raise ClusterError(f"the Dask scheduler at {address} has no workers")
    return client


def check_storage(client, jobs: list[Job]) -> None:
    """Refuse a batch some worker cannot read the first input of, or write beside the first output."""
    first = next((_absolute(job) for job in jobs if not job.problem and not job.skipped), None)
    if first is None:
        return
    seen = client.run(_sees, first.source, str(Path(first.output).parent))
    blind = {worker: problem for worker, problem in seen.items() if problem}
    if blind:
        worker, problem = next(iter(blind.items()))
        raise ClusterError(
            f"{len(blind)} of {len(seen)} workers cannot use the batch's files (worker {worker}: {problem}); "
            "inputs and the output folder must be on storage every worker sees, under the same paths"
        )


def _sees(source: str, output_folder: str) -> str | None:
    if not os.access(source, os.R_OK):
        return f"cannot read {source} on host {socket.gethostname()}"
    folder = Path(output_folder)
    while not folder.exists() and folder != folder.parent:  # the output folder is made by the first write
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        return f"cannot write in {folder} on host {socket.gethostname()}"
    return None


class ClusterPool:
    """The batch's jobs as Dask tasks; the same interface as :class:`~enhance_cli.workers.WorkerPool`."""

    def __init__(self, client, work: Work, options: RunOptions) -> None:
        self.client = client
        self.work = work
        self.options = options
        self.workers = len(client.scheduler_info()["workers"])

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, dict[str, Any] | Exception, str]]:
        from distributed import as_completed

        futures = {
            self.client.submit(run_on_worker, self.work, self.options, _absolute(job), pure=False): index
            for index, job in enumerate(jobs)
        }
        for future in as_completed(futures, loop=self.client.loop):
            index = futures[future]
            try:
                record, said = future.result()
            except Exception as error:  # noqa: BLE001 - e.g. KilledWorker: the image outlived its retries
                yield index, WorkerDied(f"its Dask task failed: {error}"), ""
                continue
            yield index, {**record, "input": jobs[index].source, "output": jobs[index].output}, said

    def close(self) -> None:
        self.client.close()


def _absolute(job: Job) -> Job:
    """Paths as every worker resolves them (a worker's working folder is not this one's)."""
    return replace(job, source=os.path.abspath(job.source), output=os.path.abspath(job.output))


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

_runners: dict[Work, Runner] = {}  # per worker process: the model loaded once for all of a batch's tasks


def run_on_worker(work: Work, options: RunOptions, job: Job) -> tuple[dict[str, Any], str]:
    """Run one job on a Dask worker: its record, and what it said on stderr."""
    runner = _runners.get(work)
    if runner is None:  # its notes (a level out of range) were said on the client already: they go to the log
        _runners.clear()  # a new batch: drop the last one's model
        _keep_feature_maps_in_the_heap()
        _, process = work.prepare([], WorkerPlan(1, 1))
        runner = _runners[work] = Runner(process, options, work.read)
    return run_as_worker(partial(runner.run_one, tile_progress=lambda done, total: None), job)


def _keep_feature_maps_in_the_heap() -> None:
    """Undo the malloc setting Dask's nanny starts its workers with, which costs a network 1.4x its time.

    The nanny sets MALLOC_TRIM_THRESHOLD_ so that freed memory goes back to the system early. Any such setting
    also turns off glibc's sliding mmap threshold, so that every feature map over 128 KiB comes fresh from the
    kernel, page by page: a 1 MP image took 5.4 s on a Dask worker against 3.9 s in a local process. These are
    the values the sliding threshold would have reached.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)
        libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        pass
