"""A batch on a Dask cluster (a scheduler and two worker processes on loopback): the same files as a local
run, and nothing lost or half-written when a worker is killed mid-run."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from enhance_cli.commands import BatchOptions, run_restore
from enhance_cli.paths import Job

distributed = pytest.importorskip("distributed")

RUN_SECONDS = 240  # the longest a test batch may take, workers' start included


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local,
        distributed.Client(local) as client,
    ):
        yield local.scheduler_address, client


def crops(folder, sample_pixels, count: int, size: tuple[int, int]) -> None:
    folder.mkdir()
    height, width = size
    for index in range(count):
        top, left = (37 * index) % (sample_pixels.shape[0] - height), (53 * index) % (sample_pixels.shape[1] - width)
        Image.fromarray(sample_pixels[top : top + height, left : left + width]).save(folder / f"{index}.png")


def run_in_background(*args, **kwargs) -> tuple[threading.Thread, list]:
    status = []
    thread = threading.Thread(target=lambda: status.append(run_restore(*args, **kwargs)), daemon=True)
    thread.start()
    return thread, status


def test_a_cluster_writes_what_a_local_run_writes(cluster, tmp_path, sample_pixels):
    address, _ = cluster
    inputs = tmp_path / "in"
    crops(inputs, sample_pixels, 4, (96, 128))
    (inputs / "2-broken.png").write_bytes(b"not an image")
    records = {}
    for name, where in (("local", None), ("cluster", address)):
        report = tmp_path / f"{name}.json"
        options = BatchOptions(output=str(tmp_path / name), cluster=where, report=report, quiet=True)
        assert run_restore([str(inputs)], "noise", 15.0, options) == 1  # the damaged file fails alone
        records[name] = json.loads(report.read_text())["images"]

    def summary(records: list[dict]) -> list[tuple]:
        return [(r["input"], Path(r["output"]).name, r["ok"]) for r in records]

    assert summary(records["cluster"]) == summary(records["local"])  # the input order, one entry per input
    for path in (tmp_path / "local").iterdir():
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(tmp_path / "cluster" / path.name)))


def test_a_worker_killed_mid_run_loses_nothing(cluster, tmp_path, sample_pixels):
    address, client = cluster
    inputs, out = tmp_path / "in", tmp_path / "out"
    crops(inputs, sample_pixels, 8, (320, 480))
    thread, status = run_in_background(
        [str(inputs)], "noise", 15.0, BatchOptions(output=str(out), quiet=True, cluster=address)
    )
    deadline = time.monotonic() + RUN_SECONDS
    while not (out.exists() and any(out.glob("*.png"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)  # its images are rescheduled on the other worker (and the restarted one)
    thread.join(max(0.0, deadline - time.monotonic()))
    assert status == [0]
    assert sorted(p.name for p in out.iterdir()) == [f"{index}.png" for index in range(8)]  # no temporary files
    for index in range(8):
        assert np.asarray(Image.open(out / f"{index}.png")).shape == (320, 480, 3)


def test_workers_that_cannot_see_the_inputs_refuse_the_batch(cluster, tmp_path):
    from enhance_cli.cluster import ClusterError, check_storage

    _, client = cluster
    with pytest.raises(ClusterError, match="cannot read .*elsewhere.png.*every worker sees"):
        check_storage(client, [Job(str(tmp_path / "elsewhere.png"), str(tmp_path / "out.png"), "png")])


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path, small_png, capsys):
    options = BatchOptions(output=str(tmp_path / "out.png"), cluster="tcp://127.0.0.1:9")
    assert run_restore([str(small_png)], "noise", 15.0, options) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
