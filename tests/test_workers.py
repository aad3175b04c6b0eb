"""Batches in several processes: the same files, report, messages and exit codes as one process."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from enhance_cli import workers
from enhance_cli.cli import app
from enhance_cli.paths import Job
from enhance_cli.workers import LARGE_IMAGE_PIXELS, WorkerPlan, plan_workers

runner = CliRunner()


def enhance(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def batch(tmp_path, sample_pixels) -> list:
    """Four small real crops and a damaged file, in a folder."""
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(4):
        Image.fromarray(sample_pixels[100 + 40 * index : 196 + 40 * index, 200:328]).save(folder / f"{index}.png")
    (folder / "2-broken.png").write_bytes(b"not an image")
    return folder


@pytest.fixture
def eight_cores(monkeypatch):
    """Plans as on a machine of 8 cores, whatever this one has (--threads is capped at the cores). Only for
    plans: forked workers running several OpenMP threads in a process that ran torch before the fork hang."""
    monkeypatch.setattr(workers, "available_cores", lambda: 8)


def image_jobs(tmp_path, sizes: list[tuple[int, int]]) -> list[Job]:
    jobs = []
    for index, (width, height) in enumerate(sizes):
        path = tmp_path / f"{index}.png"
        Image.new("RGB", (width, height)).save(path)
        jobs.append(Job(str(path), str(tmp_path / f"{index}-out.png"), "png"))
    return jobs


def test_a_batch_of_small_images_runs_one_image_per_thread(tmp_path, eight_cores):
    jobs = image_jobs(tmp_path, [(64, 48)] * 5)
    assert plan_workers(jobs, threads=2) == WorkerPlan(workers=2, threads=1)
    assert plan_workers(jobs, threads=4) == WorkerPlan(workers=4, threads=1)
    assert plan_workers(jobs[:3], threads=8) == WorkerPlan(workers=3, threads=2)


def test_one_image_or_large_ones_run_in_one_process_on_every_thread(tmp_path, eight_cores):
    assert plan_workers(image_jobs(tmp_path, [(64, 48)]), threads=4) == WorkerPlan(workers=1, threads=4)
    side = int(np.sqrt(LARGE_IMAGE_PIXELS)) + 1
    large = image_jobs(tmp_path, [(side, side)] * 3)
    assert plan_workers(large, threads=4) == WorkerPlan(workers=1, threads=4)


def test_threads_cap_the_run_and_jobs_overrides_the_choice(tmp_path, eight_cores):
    jobs = image_jobs(tmp_path, [(64, 48)] * 4)
    assert plan_workers(jobs, threads=1) == WorkerPlan(workers=1, threads=1)  # --threads 1: one process
    assert plan_workers(jobs, workers=1, threads=4) == WorkerPlan(workers=1, threads=4)
    assert plan_workers(jobs, workers=3, threads=2) == WorkerPlan(workers=3, threads=1)
    assert plan_workers(jobs, workers=9, threads=2).workers == 4  # never more workers than images


def test_streams_run_in_this_process(tmp_path):
    jobs = [*image_jobs(tmp_path, [(64, 48)] * 2), Job("-", str(tmp_path / "x.png"), "png")]
    assert not plan_workers(jobs, threads=4).parallel


def test_workers_write_the_same_files_report_and_exit_status_as_one_process(batch, tmp_path):
    runs = {}
    for jobs in (1, 2):
        out, report = tmp_path / f"out{jobs}", tmp_path / f"report{jobs}.json"
        result = enhance("restore", "--level", "15", batch, "-o", out, "--jobs", jobs, "--report", report, "-q")
        assert result.exit_code == 1  # the damaged file fails alone
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert len(errors) == 1 and "2-broken.png" in errors[0]
        runs[jobs] = (out, json.loads(report.read_text())["images"])
    (one, records_one), (two, records_two) = runs[1], runs[2]
    assert [r["input"] for r in records_two] == [r["input"] for r in records_one]  # the input order
    assert [r["ok"] for r in records_two] == [True, True, False, True, True]
    assert sorted(p.name for p in two.iterdir()) == ["0.png", "1.png", "2.png", "3.png"]
    for path in one.iterdir():
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(two / path.name)))


def test_a_rerun_in_workers_skips_what_is_written(batch, tmp_path):
    out = tmp_path / "out"
    assert enhance("restore", "--level", "15", batch, "-o", out, "--jobs", 2, "-q").exit_code == 1
    (out / "1.png").unlink()
    result = enhance("restore", "--level", "15", batch, "-o", out, "--jobs", 2)
    assert result.exit_code == 1
    assert sum(line.startswith("skip:") for line in result.stderr.splitlines()) == 3
    assert (out / "1.png").exists()


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_their_parent_even_when_it_is_killed(tmp_path, sample_pixels):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(12):
        Image.fromarray(np.roll(sample_pixels, 37 * index, axis=1)).save(folder / f"{index}.png")
    command = [sys.executable, "-m", "enhance_cli", "restore", "--level", "15", folder, "-o", tmp_path / "out/"]
    parent = subprocess.Popen([str(part) for part in (*command, "--jobs", "2", "--threads", "2", "-q")])
    deadline = time.monotonic() + 60
    while len(workers := children_of(parent.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) >= 2, "the workers did not start"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_threads_beyond_the_cores_are_capped_with_a_note(tmp_path, monkeypatch, small_png):
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    assert plan_workers(image_jobs(tmp_path, [(64, 48)]), threads=4096) == WorkerPlan(workers=1, threads=2)
    result = enhance("restore", "--level", "15", small_png, "-o", tmp_path / "o.png", "--threads", "4096")
    assert result.exit_code == 0 and "--threads 4096 is more than the 2 cores here; using 2" in result.stderr
