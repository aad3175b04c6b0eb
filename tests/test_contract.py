"""The CLI contract where it used to break: plans checked before any work, levels reported as used,
clean photos left alone, no image bytes on a terminal, SIGTERM, honest report timing, one meaning per option."""

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from enhance_cli.cli import app
from enhance_cli.jpeg_quality import quality_from_tables
from tests.conftest import ROOT, SAMPLE_RAW, shared_data

runner = CliRunner()


def enhance(*args, input=None, env=None):
    return runner.invoke(app, [str(a) for a in args], input=input, env=env)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@pytest.fixture
def patch_pixels(sample_pixels) -> np.ndarray:
    return sample_pixels[200:296, 300:428]


# --- plans: clashes and -o, found before any work ---------------------------------------------------------------


def test_two_inputs_with_one_output_name_both_fail_on_every_run(tmp_path, patch_pixels):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(patch_pixels).save(folder / "a.png")
    Image.fromarray(patch_pixels[:, ::-1]).save(folder / "a.jpg", quality=90)
    Image.fromarray(patch_pixels[::-1]).save(folder / "b.png")
    for _ in range(2):  # a re-run must not take a clashing output as done
        result = enhance("restore", "--level", "25", folder, "-o", tmp_path / "out", "-q")
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert len(errors) == 2 and all("same output" in line for line in errors)
        assert not (tmp_path / "out" / "a.png").exists()
        assert (tmp_path / "out" / "b.png").exists()


@pytest.mark.parametrize("existing_folder", [False, True])
def test_several_inputs_with_a_file_name_for_output_are_a_usage_error(tmp_path, small_png, existing_folder):
    inputs = [small_png, small_png.with_name("second.png")]
    shutil.copy(small_png, inputs[1])
    target = tmp_path / "name.png"
    if existing_folder:  # a folder that happens to have an image-like name is still a folder
        target.mkdir()
    result = enhance("restore", "--level", "25", *inputs, "-o", target, "-q")
    if existing_folder:
        assert result.exit_code == 0 and (target / "patch.png").exists()
    else:
        assert result.exit_code == 2 and "names a file" in result.stderr
        assert not target.exists()


# --- usage errors, before any image is processed --------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        "report-is-a-folder",
        "report-under-a-file",
        "report-is-the-input",
        "report-is-the-output",
        "report-exists",
        "report-is-a-device",
        "bits-16-jpeg",
        "quality-with-png",
        "no-raw-files",
        "isp-stdin",
        "empty-input-name",
        "several-inputs-into-a-file",
    ],
)
def test_usage_errors_come_before_any_work(tmp_path, small_png, case):
    out = tmp_path / "out.png"
    (tmp_path / "afile").write_text("x")
    before = small_png.read_bytes()
    restore = ["restore", "--level", "25", small_png, "-o", out]
    command = {
        "report-is-the-input": [*restore, "--report", small_png, "--overwrite"],
        "report-is-the-output": [*restore, "--report", out, "--overwrite"],
        "report-exists": [*restore, "--report", tmp_path / "afile"],
        "report-is-a-device": [*restore, "--report", "/dev/null", "--overwrite"],
        "report-is-a-folder": ["restore", "--level", "25", small_png, "-o", out, "--report", tmp_path],
        "report-under-a-file": [
            "restore",
            "--level",
            "25",
            small_png,
            "-o",
            out,
            "--report",
            tmp_path / "afile/r.json",
        ],
        "bits-16-jpeg": ["restore", "--level", "25", small_png, "-o", tmp_path / "out.jpg", "--bits", "16"],
        "quality-with-png": ["dejpeg", small_png, "-o", out, "--quality", "20"],
        "no-raw-files": ["isp", small_png.parent],
        "isp-stdin": ["isp", "-"],
        "empty-input-name": ["restore", "--level", "25", ""],
        "several-inputs-into-a-file": ["restore", "--level", "25", small_png, small_png, "-o", tmp_path / "afile"],
    }[case]
    result = enhance(*command)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "out.jpg").exists()
    assert not list(tmp_path.rglob("*.part")) and not list(small_png.parent.glob("*_isp.png"))
    assert small_png.read_bytes() == before and (tmp_path / "afile").read_text() == "x"
    assert Path("/dev/null").is_char_device()


def test_an_output_that_is_a_device_is_written_to_not_replaced(small_png):
    result = enhance("restore", "--level", "25", small_png, "-o", "/dev/null", "--format", "png", "--overwrite")
    assert result.exit_code == 0, result.output
    assert Path("/dev/null").is_char_device()
    assert not list(Path("/dev").glob(".null.*.part"))


# --- the level reported is the level used -----------------------------------------------------------------------


def test_a_level_above_the_range_is_reported_as_the_level_used(small_png, tmp_path):
    report = tmp_path / "r.json"
    result = enhance("restore", "--level", "100", small_png, "-o", tmp_path / "o.png", "--report", report)
    assert result.exit_code == 0
    assert "using 75" in result.stderr
    entry = json.loads(report.read_text())["images"][0]
    assert entry["level"] == 75 and entry["level_source"] == "given" and entry["strength"] == 1


def test_dejpeg_passes_a_never_compressed_image_through_at_quality_100(small_png, tmp_path):
    report = tmp_path / "r.json"
    result = enhance("dejpeg", small_png, "-o", tmp_path / "o.png", "--report", report, "-q")
    assert result.exit_code == 0
    entry = json.loads(report.read_text())["images"][0]
    assert entry["level"] == 100 and entry["strength"] == 0 and entry["level_source"] == "estimated"
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")), np.asarray(Image.open(small_png)))


# --- --level auto leaves a clean photo alone and still cleans a noisy one ---------------------------------------


@pytest.mark.shared_data("train/WikiPhotos")
@pytest.mark.parametrize("name", ["009.png", "027.png"])  # validation photos, never trained on
def test_auto_level_leaves_a_clean_photo_nearly_untouched_and_cleans_it_when_noisy(tmp_path, name):
    clean = np.asarray(Image.open(shared_data(f"train/WikiPhotos/{name}")).convert("RGB"))[:384, :512]
    noisy = np.clip(np.round(clean + np.random.default_rng(0).normal(0, 15, clean.shape)), 0, 255).astype(np.uint8)
    Image.fromarray(clean).save(tmp_path / "clean.png")
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    report = tmp_path / "r.json"
    result = enhance(
        "restore", tmp_path / "clean.png", tmp_path / "noisy.png", "-o", tmp_path / "out/", "--report", report
    )
    assert result.exit_code == 0, result.output
    entries = {os.path.basename(e["input"]): e for e in json.loads(report.read_text())["images"]}
    assert entries["clean.png"]["level"] < 5 and entries["clean.png"]["strength"] < 1
    assert psnr(np.asarray(Image.open(tmp_path / "out" / "clean.png")), clean) >= 42
    assert abs(entries["noisy.png"]["level"] - 15) < 2 and entries["noisy.png"]["strength"] == 1
    assert psnr(np.asarray(Image.open(tmp_path / "out" / "noisy.png")), clean) > psnr(noisy, clean) + 6


def test_a_given_level_below_the_range_fades_the_correction(small_png, tmp_path):
    report = tmp_path / "r.json"
    result = enhance("restore", "--level", "2", small_png, "-o", tmp_path / "o.png", "--report", report)
    assert result.exit_code == 0 and "applying 40%" in result.stderr
    assert json.loads(report.read_text())["images"][0]["strength"] == pytest.approx(0.4)


# --- image bytes never go to a terminal -------------------------------------------------------------------------


@pytest.mark.parametrize("output", [[], ["-o", "-"]])
def test_image_bytes_are_not_written_to_a_terminal(small_png, output):
    leader, follower = pty.openpty()
    try:
        with open(small_png, "rb") as stdin:
            process = subprocess.run(
                [sys.executable, "-m", "enhance_cli", "restore", "--level", "25", "-", *output],
                stdin=stdin,
                stdout=follower,
                stderr=subprocess.PIPE,
                cwd=ROOT,
                timeout=120,
            )
    finally:
        os.close(follower)
        os.close(leader)
    assert process.returncode == 2
    assert b"terminal" in process.stderr


# --- SIGTERM removes temporary files, as Ctrl-C does ------------------------------------------------------------


def test_sigterm_while_writing_leaves_no_temporary_file(small_png, tmp_path, monkeypatch):
    import enhance_cli.imageio

    def terminated(_descriptor):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(enhance_cli.imageio.os, "fsync", terminated)
    (tmp_path / "out").mkdir()
    result = enhance("restore", "--level", "25", small_png, "-o", tmp_path / "out" / "a.png", "-q")
    assert result.exit_code == 143
    assert os.listdir(tmp_path / "out") == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


# --- the report: set-up apart from the images, every FLOP counted -------------------------------------------------


def test_setup_is_reported_apart_and_flops_include_the_estimator(tmp_path, patch_pixels):
    Image.fromarray(patch_pixels).save(tmp_path / "one.png")
    Image.fromarray(patch_pixels).save(tmp_path / "two.png")
    given, auto = tmp_path / "given.json", tmp_path / "auto.json"
    inputs = [tmp_path / "one.png", tmp_path / "two.png"]
    assert enhance("restore", "--level", "25", *inputs, "-o", tmp_path / "g/", "--report", given).exit_code == 0
    assert enhance("restore", *inputs, "-o", tmp_path / "a/", "--report", auto).exit_code == 0
    document = json.loads(auto.read_text())
    first, second = document["images"]
    assert document["setup_seconds"] > 0
    assert first["seconds"]["infer"] < 3 * second["seconds"]["infer"] + 0.3  # the first pays no set-up
    assert first["flops"] > json.loads(given.read_text())["images"][0]["flops"]
    assert first["processed_pixels"] >= first["width"] * first["height"]  # whole (small) image: no more


def test_sr_flops_include_the_bicubic_upscale(small_png, tmp_path):
    from enhance_cli.registry import find_card

    report = tmp_path / "r.json"
    assert enhance("sr", "--scale", "2", small_png, "-o", tmp_path / "o.png", "--report", report, "-q").exit_code == 0
    entry = json.loads(report.read_text())["images"][0]
    network = find_card("hyperres-sr").flops_per_pixel * entry["width"] * entry["height"]
    assert entry["flops"] >= network + 8 * 3 * entry["width"] * entry["height"]


# --- --quality means the output's quality in every command ------------------------------------------------------


def test_quality_is_the_output_quality_in_every_command(tmp_path, patch_pixels):
    Image.fromarray(patch_pixels).save(tmp_path / "old.jpg", quality=30)
    for command in (["dejpeg"], ["restore", "--level", "25"], ["sr", "--scale", "2"]):
        out = tmp_path / f"{command[0]}.jpg"
        result = enhance(*command, tmp_path / "old.jpg", "-o", out, "--quality", "50", "-q")
        assert result.exit_code == 0, result.output
        with Image.open(out) as written:
            assert quality_from_tables(written.quantization).quality == 50
    report = tmp_path / "r.json"
    assert (
        enhance("dejpeg", "--level", "20", tmp_path / "old.jpg", "-o", tmp_path / "l.png", "--report", report).exit_code
        == 0
    )
    assert json.loads(report.read_text())["images"][0]["level"] == 20


# --- broken weights: one line, and only the models a run needs ---------------------------------------------------


def test_a_tampered_estimator_blocks_only_the_runs_that_need_it(tmp_path, small_png):
    from enhance_cli.registry import weights_dir

    weights = tmp_path / "weights"
    shutil.copytree(weights_dir(), weights)
    tampered = weights / "sigma-estimator.safetensors"
    data = bytearray(tampered.read_bytes())
    data[-1] ^= 0xFF
    tampered.write_bytes(bytes(data))
    env = {"ENHANCE_WEIGHTS": str(weights)}
    given = enhance("restore", "--level", "25", small_png, "-o", tmp_path / "given.png", "-q", env=env)
    assert given.exit_code == 0, given.output
    auto = enhance("restore", small_png, "-o", tmp_path / "auto.png", "-q", env=env)
    assert auto.exit_code == 1 and not (tmp_path / "auto.png").exists()
    [line] = auto.stderr.strip().splitlines()
    assert "sigma-estimator.safetensors" in line and "sha256" in line and "Traceback" not in auto.output


def test_an_output_folder_that_cannot_be_made_is_one_plain_line(small_png, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = enhance("restore", "--level", "25", small_png, "-o", tmp_path / "afile" / "sub" / "out.png", "-q")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {tmp_path / 'afile' / 'sub' / 'out.png'}: cannot create its folder")
    assert "Errno" not in line and "'" not in line


def test_a_report_that_cannot_be_written_after_the_work_is_one_line_and_exit_1(small_png, tmp_path):
    result = enhance("restore", "--level", "25", small_png, "-o", tmp_path / "o.png", "--report", "/proc/r.json")
    assert result.exit_code == 1, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")] == [
        "error: --report /proc/r.json: no such file or directory"
    ]
    assert "Traceback" not in result.output and (tmp_path / "o.png").exists()


# --- camera RAW files given to the photo commands ---------------------------------------------------------------


def test_a_raw_file_named_to_a_photo_command_fails_naming_isp(tmp_path):
    renamed = tmp_path / "chart.tif"  # a DNG is a TIFF: found by its content, whatever its name
    renamed.write_bytes(SAMPLE_RAW.read_bytes())
    for source in (SAMPLE_RAW, renamed):
        result = enhance("restore", "--level", "10", source, "-o", tmp_path / "o.png", "-q")
        assert result.exit_code == 1
        assert result.stderr == f"error: {source}: a camera RAW file; develop it with enhance isp\n"
        assert not (tmp_path / "o.png").exists()


def test_raw_files_in_a_folder_are_listed_as_skipped_not_dropped(tmp_path, small_png):
    folder = tmp_path / "shoot"
    folder.mkdir()
    shutil.copy(SAMPLE_RAW, folder / "chart.dng")
    shutil.copy(small_png, folder / "chart.png")  # same stem: the skipped DNG must not clash with its output
    report = tmp_path / "r.json"
    result = enhance("restore", "--level", "10", folder, "-o", tmp_path / "out/", "--report", report)
    assert result.exit_code == 0, result.output
    assert f"skip: {folder / 'chart.dng'}: a camera RAW file; develop it with enhance isp" in result.stderr
    records = {Path(r["input"]).name: r for r in json.loads(report.read_text())["images"]}
    assert records["chart.dng"]["skipped"] and "enhance isp" in records["chart.dng"]["reason"]
    assert records["chart.png"]["ok"] and not records["chart.png"].get("skipped")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["chart.png"]
    (folder / "chart.png").unlink()
    result = enhance("restore", "--level", "10", folder)
    assert result.exit_code == 2 and "1 camera RAW file: develop it with enhance isp" in result.stderr


@pytest.mark.parametrize("size", ["nan", "inf", "1e400", "-1", "lots"])
def test_a_memory_size_that_is_not_one_is_a_usage_error(small_png, tmp_path, size):
    result = enhance("restore", "--level", "25", small_png, "-o", tmp_path / "o.png", f"--memory={size}")
    assert result.exit_code == 2 and "--memory" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o.png").exists()


def test_a_240_character_name_is_processed(small_png, tmp_path):
    source = tmp_path / f"{'a' * 240}.png"
    shutil.copy(small_png, source)
    assert enhance("restore", "--level", "10", source, "-q").exit_code == 0
    assert (tmp_path / f"{'a' * 240}_restore.png").exists()


def test_a_later_run_removes_the_temporary_files_a_killed_run_left(small_png, tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(finished.stdout), os.getpid()  # the second: a run still writing (this very process)
    left = [tmp_path / f".o.png.{pid}-0123abcd.part" for pid in (dead, alive)]
    for part in left:
        part.write_bytes(b"half a png")
    assert enhance("restore", "--level", "10", small_png, "-o", tmp_path / "o.png", "-q").exit_code == 0
    assert [part.exists() for part in left] == [False, True]


@pytest.mark.parametrize("delay", [0.05, 0.3, 1.0])
def test_ctrl_c_while_starting_exits_130_without_a_traceback(tmp_path, small_png, delay):
    """Interrupts during the heavy imports used to abort the interpreter (pybind11: terminate called ...)."""
    command = [sys.executable, "-m", "enhance_cli", "restore", "--level", "10", str(small_png)]
    process = subprocess.Popen([*command, "-o", str(tmp_path / "o.png"), "-q"], stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode in (0, 130), stderr  # 0: it finished first
    assert "Traceback" not in stderr and "terminate called" not in stderr
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("address", ["garbage", "tcp://", "udp://1.2.3.4:1", "tcp://host:99999", "host:"])
def test_what_cannot_be_an_address_is_a_usage_error_at_once(small_png, tmp_path, address):
    started = time.perf_counter()
    result = enhance("restore", "--level", "10", small_png, "-o", tmp_path / "o.png", "--cluster", address)
    assert result.exit_code == 2 and time.perf_counter() - started < 10
    assert result.stderr == f"error: --cluster {address}: not a scheduler address such as tcp://HOST:8786\n"


def test_eval_fails_in_one_line_on_an_empty_folder_a_bad_level_or_a_damaged_image(tmp_path, small_png):
    (tmp_path / "empty").mkdir()
    result = enhance("eval", tmp_path / "empty")
    assert result.exit_code == 2 and result.stderr == f"error: no images found in {tmp_path / 'empty'}\n"
    result = enhance("eval", small_png.parent, "--task", "sr", "--level", "9")
    assert result.exit_code == 2 and result.stderr == "error: scale must be between 2 and 4, got 9\n"
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(small_png, folder / "a.png")
    (folder / "b.png").write_bytes(b"not an image")
    result = enhance("eval", folder, "--level", "15")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {folder / 'b.png'}: not a PNG, JPEG, TIFF, WebP or BMP image" in result.stderr
    assert "(1 images)" in result.stdout


def _scores(path: Path) -> tuple[float, float]:
    report = json.loads(path.read_text())
    return report["degraded"]["psnr_rgb"], report["restored"]["psnr_rgb"]


def test_eval_scores_denoise_on_real_pairs_in_either_layout(tmp_path, clean_pixels):
    rng = np.random.default_rng(0)
    clean = clean_pixels[:96, :128]
    noisy = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
    for folder, names in (("polyu", ("a_real.png", "a_mean.png")), ("split", ("noisy/a.png", "clean/a.png"))):
        for pixels, name in zip((noisy, clean), names, strict=True):
            (tmp_path / folder / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(tmp_path / folder / name)
        result = enhance("eval", tmp_path / folder, "--task", "denoise", "--json", tmp_path / f"{folder}.json")
        assert result.exit_code == 0, result.output
        assert "dds-denoise on " in result.stdout and "noisy photo" in result.stdout
        before, after = _scores(tmp_path / f"{folder}.json")
        assert after > before + 3
    result = enhance("eval", tmp_path / "split", "--task", "denoise", "--budget", "0.2", "--json", tmp_path / "b.json")
    assert result.exit_code == 0, result.output

    def flops(path: Path) -> float:
        return json.loads(path.read_text())["images"][0]["flops_per_pixel"]

    full = enhance("eval", tmp_path / "split", "--task", "denoise", "--budget", "1", "--json", tmp_path / "f.json")
    assert full.exit_code == 0 and flops(tmp_path / "b.json") <= 0.2 * flops(tmp_path / "f.json") * 1.05


@pytest.mark.shared_data("test/Kodak24")
def test_eval_finds_a_test_set_by_name_from_any_folder_and_develops_raw_mosaics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = enhance("eval", "Kodak24", "--task", "isp", "--limit", "1", "--json", "isp.json")
    assert result.exit_code == 0, result.output
    assert "isp on Kodak24 (1 images), RGGB mosaic, noise-free" in " ".join(result.stdout.split())
    bilinear, isp = _scores(tmp_path / "isp.json")
    assert isp > bilinear + 5 and isp > 35


def test_eval_takes_data_and_names_what_it_has(tmp_path, small_png):
    (tmp_path / "data" / "test" / "Mine").mkdir(parents=True)
    shutil.copy(small_png, tmp_path / "data" / "test" / "Mine" / "a.png")
    result = enhance("eval", "Mine", "--data", tmp_path / "data", "--level", "15")
    assert result.exit_code == 0 and "on Mine (1 images), sigma 15" in result.stdout
    result = enhance("eval", "Nope", "--data", tmp_path / "data")
    assert result.exit_code == 2
    assert result.stderr == f"error: no folder 'Nope' here or in {tmp_path / 'data'} (test sets there: Mine)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "denoise", "--level", "5"], "--level does not apply"),
        (["--task", "isp", "--level", "9"], "isp's --level is the shot-noise variance per unit signal, 0-0.05"),
        (["--task", "isp", "--restore-level", "auto"], "--restore-level is for noise, jpeg and sr"),
        (["--task", "jpeg", "--budget", "0.5"], "--budget is for denoise"),
        (["--task", "denoise", "--budget", "0.05"], "below 0.124"),
    ],
)
def test_eval_options_that_do_not_apply_are_usage_errors(small_png, args, message):
    result = enhance("eval", small_png.parent, *args)
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and message in result.stderr
