"""The CLI contract, exercised on small real images."""

import inspect
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from enhance_cli.cli import app
from enhance_cli.registry import list_cards

runner = CliRunner()


def enhance(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def test_help_teaches_every_command():
    for command in ([], ["isp"], ["denoise"], ["dejpeg"], ["restore"], ["models"], ["eval"]):
        result = enhance(*command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout
        assert "<bool>" not in result.stdout  # flags take no value


IMAGE_COMMANDS = ("restore", "dejpeg", "sr", "denoise", "isp")


def test_every_image_command_takes_the_shared_options_with_its_own_help_where_it_differs():
    from click import Command
    from typer.main import get_command

    from enhance_cli.cli import batch_options

    group = get_command(app)
    shared = list(inspect.signature(batch_options).parameters)
    for name in IMAGE_COMMANDS:
        command: Command = group.commands[name]
        names = [param.name for param in command.params]
        assert names[-len(shared) :] == shared, name  # the same options, in the same place, after the command's own
    bits = {name: next(p.help for p in group.commands[name].params if p.name == "bits") for name in IMAGE_COMMANDS}
    assert "16 for prophoto" in bits["isp"] and "the input's depth" in bits["restore"]


def test_shared_options_reach_the_library(small_png, tmp_path, monkeypatch):
    import enhance_cli.commands

    seen = {}
    monkeypatch.setattr(enhance_cli.commands, "run_work", lambda work, inputs: seen.update(work=work) or 0)
    result = enhance("dejpeg", small_png, "-o", tmp_path / "a.webp", "--quality", 80, "--tile", 64, "-q", "-j", 1)
    assert result.exit_code == 0, result.stderr
    work = seen["work"]
    assert (work.command, work.task, work.level) == ("dejpeg", "jpeg", None)
    assert work.options.output == str(tmp_path / "a.webp")
    assert (work.options.quality, work.options.tile, work.options.quiet, work.options.jobs) == (80, 64, True, 1)


def test_restore_writes_next_to_the_input_and_removes_noise(small_png):
    result = enhance("restore", "--task", "noise", "--level", "25", small_png, "--quiet")
    assert result.exit_code == 0, result.output
    output = small_png.with_name("patch_restore.png")
    before = np.asarray(Image.open(small_png)).astype(float)
    after = np.asarray(Image.open(output)).astype(float)
    assert after.shape == before.shape

    # Noise of sigma 25 is high-frequency energy: restoring must remove most of it.
    def roughness(a):
        return np.abs(np.diff(a, axis=1)).mean()

    assert roughness(after) < 0.5 * roughness(before)


def test_auto_level_estimates_the_sample_sigma(small_png, tmp_path):
    report = tmp_path / "report.json"
    result = enhance("restore", "--level", "auto", small_png, "-o", tmp_path / "out.png", "--report", report, "-q")
    assert result.exit_code == 0, result.output
    entry = json.loads(report.read_text())["images"][0]
    assert abs(entry["level"] - 25) < 4


def test_report_has_the_contract_fields(small_png, tmp_path):
    report = tmp_path / "r.json"
    enhance("restore", "--level", "15", small_png, "-o", tmp_path / "o.png", "--report", report, "-q")
    document = json.loads(report.read_text())
    assert {"peak_rss_bytes", "total_seconds", "images"} <= set(document)
    entry = document["images"][0]
    for key in (
        "input",
        "output",
        "ok",
        "command",
        "model",
        "level",
        "width",
        "height",
        "tiles",
        "flops",
        "params",
        "seconds",
    ):
        assert key in entry
    assert entry["ok"] and entry["level"] == 15 and entry["width"] == 128 and entry["height"] == 96
    assert entry["flops"] > 128 * 96 * 1e5 and entry["params"] > 1e5
    assert set(entry["seconds"]) == {"read", "infer", "write", "total"}


def test_existing_output_is_skipped_unless_overwrite(small_png, tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    result = enhance("restore", "--level", "25", small_png, "-o", target)
    assert result.exit_code == 0
    assert target.read_bytes() == b"keep me"
    assert "exists" in result.stderr
    result = enhance("restore", "--level", "25", small_png, "-o", target, "--overwrite", "-q")
    assert result.exit_code == 0 and target.read_bytes().startswith(b"\x89PNG")


def test_batch_keeps_going_past_a_bad_file_and_exits_1(small_png, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    Image.open(small_png).save(folder / "good.png")
    (folder / "broken.png").write_bytes(small_png.read_bytes()[:300])
    (folder / "zzz.jpg").write_text("not an image")
    result = enhance("restore", "--level", "25", folder, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert (tmp_path / "out" / "good.png").exists()
    assert not (tmp_path / "out" / "broken.png").exists()
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(error_lines) == 2
    assert any("broken.png" in line for line in error_lines) and any("zzz.jpg" in line for line in error_lines)
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").glob(".*part"))


def test_missing_input_fails_with_its_name_even_when_quiet(tmp_path):
    result = enhance("restore", "--level", "25", tmp_path / "nope.png", "--quiet")
    assert result.exit_code == 1
    assert "nope.png" in result.stderr


def test_empty_directory_is_a_usage_error(tmp_path):
    result = enhance("restore", "--level", "25", tmp_path)
    assert result.exit_code == 2
    assert "no images" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--level", "-5"],
        ["--level", "abc"],
        ["--bits", "12"],
        ["--model", "nonesuch"],
        ["--level", "25", "--bits", "16", "--format", "jpeg"],
    ],
)
def test_usage_errors_exit_2(small_png, args):
    result = enhance("restore", small_png, *args)
    assert result.exit_code == 2


def test_stdin_to_stdout(small_png):
    result = enhance("restore", "--level", "25", "-", "-o", "-", "-q", input=small_png.read_bytes())
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\x89PNG")
    assert not small_png.with_name("patch_restore.png").exists()


def test_sixteen_bit_input_stays_sixteen_bit(tmp_path, sample_pixels):
    import cv2

    source = tmp_path / "deep.png"
    deep = sample_pixels[200:264, 300:364].astype(np.uint16) * 257 + 100
    cv2.imwrite(str(source), deep[:, :, ::-1])
    result = enhance("restore", "--level", "25", source, "-o", tmp_path / "deep_out.png", "-q")
    assert result.exit_code == 0, result.output
    restored = cv2.imread(str(tmp_path / "deep_out.png"), cv2.IMREAD_UNCHANGED)
    assert restored.dtype == np.uint16 and restored.shape == deep.shape
    assert (restored % 257 != 0).any()  # real 16-bit values, not 8-bit ones scaled up


def test_alpha_passes_through_and_grey_stays_grey(tmp_path, sample_pixels):
    rgba = np.dstack([sample_pixels[:64, :80], np.tile(np.arange(80, dtype=np.uint8) * 3, (64, 1))])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    Image.fromarray(sample_pixels[:64, :80, 1], "L").save(tmp_path / "grey.png")
    result = enhance(
        "restore", "--level", "25", tmp_path / "alpha.png", tmp_path / "grey.png", "-o", tmp_path / "out", "-q"
    )
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out" / "alpha.png") as out:
        assert out.mode == "RGBA"
        assert np.array_equal(np.asarray(out)[:, :, 3], rgba[:, :, 3])
    with Image.open(tmp_path / "out" / "grey.png") as out:
        assert out.mode == "L"


def test_exif_and_icc_are_carried(tmp_path, sample_pixels):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 550D"
    exif[0x0132] = "2026:11:21 10:00:00"
    Image.fromarray(sample_pixels[:64, :96]).save(tmp_path / "cam.jpg", exif=exif, icc_profile=icc, quality=95)
    result = enhance("restore", "--level", "25", tmp_path / "cam.jpg", "-q")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "cam_restore.png") as out:
        assert out.info.get("icc_profile") == icc
        assert out.getexif()[0x0110] == "Canon EOS 550D"


def test_models_lists_the_registry():
    result = enhance("models", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["hyperres-noise"]["default"] and rows["hyperres-noise"]["flops_per_pixel"] > 0
    assert "sigma-estimator" in rows


def test_input_is_never_overwritten(small_png):
    result = enhance("restore", "--level", "25", small_png, "-o", small_png, "--overwrite")
    assert result.exit_code == 1
    assert "is the input itself" in result.stderr


def test_models_shows_whole_names_at_80_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    for card in list_cards():
        assert any(line.split()[:1] == [card.name] for line in lines), card.name


def test_the_summary_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path, small_png):
    result = runner.invoke(app, ["restore", "--level", "15", str(small_png), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 0
    lines = result.stderr.strip().splitlines()
    assert lines[-2].startswith(f"{small_png}: ok, level 15, size ") and "seconds" in lines[-2]
    assert lines[-1].startswith("1 done, 0 skipped, 0 failed in ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["restore", "--bogus"], "error: No such option: --bogus"),
        (["restore", "--memory", "nan", "a.png"], "error: Invalid value for --memory: 'nan' is not a size"),
        (["nope"], "error: No such command 'nope'."),
    ],
)
def test_typer_usage_errors_are_one_plain_line_like_ours(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert "--help)" in result.stderr and "╭" not in result.stderr
