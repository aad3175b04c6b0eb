"""`enhance sr`: upscaling by any scale in 2-4 with one network, on a real image."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from enhance_cli.cli import app
from enhance_cli.metrics import psnr

runner = CliRunner()


def enhance(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def small_and_large(clean_pixels):
    """A real image (cropped to a multiple of 10) and its antialiased bicubic half."""
    large = clean_pixels[: clean_pixels.shape[0] // 10 * 10, : clean_pixels.shape[1] // 10 * 10]
    height, width = large.shape[:2]
    small = np.asarray(Image.fromarray(large).resize((width // 2, height // 2), Image.Resampling.BICUBIC))
    return small, large


def run_sr(tmp_path, source, *options):
    output, report = tmp_path / "out.png", tmp_path / "report.json"
    result = enhance("sr", source, "-o", output, "--report", report, "-q", *options)
    assert result.exit_code == 0, result.output
    return output, json.loads(report.read_text())["images"][0]


def test_sr_doubles_the_size_and_beats_bicubic(tmp_path, small_and_large):
    small, large = small_and_large
    source = tmp_path / "small.png"
    Image.fromarray(small).save(source)
    output, entry = run_sr(tmp_path, source, "--scale", "2")
    assert entry["level"] == 2 and entry["model"] == "hyperres-sr"
    restored = np.asarray(Image.open(output)).astype(float) / 255
    assert restored.shape == large.shape
    bicubic = Image.fromarray(small).resize(large.shape[1::-1], Image.Resampling.BICUBIC)
    reference = large.astype(float) / 255
    assert psnr(reference, restored, 4) > psnr(reference, np.asarray(bicubic).astype(float) / 255, 4) + 0.5


@pytest.mark.parametrize("scale", [2.5, 3.3, 4])
def test_output_size_is_the_input_size_times_the_scale_rounded(tmp_path, small_and_large, scale):
    source = tmp_path / "small.png"
    Image.fromarray(small_and_large[0][:37, :51]).save(source)
    output, entry = run_sr(tmp_path, source, "--scale", scale)
    assert Image.open(output).size == (round(51 * scale), round(37 * scale))
    assert entry["level"] == scale


def test_transparency_is_upscaled_beside_the_network(tmp_path, small_and_large):
    small = small_and_large[0][:40, :40]
    alpha = np.zeros((40, 40), np.uint8)
    alpha[:, 20:] = 255
    source = tmp_path / "logo.png"
    Image.fromarray(np.dstack([small, alpha]), "RGBA").save(source)
    output, _ = run_sr(tmp_path, source, "--scale", "3")
    upscaled = Image.open(output)
    assert upscaled.mode == "RGBA" and upscaled.size == (120, 120)
    alpha_out = np.asarray(upscaled)[..., 3]
    assert (alpha_out[:, :55] == 0).all() and (alpha_out[:, 65:] == 255).all()


@pytest.mark.parametrize("scale", ["1.5", "5"])
def test_scales_outside_2_to_4_are_refused(tmp_path, small_png, scale):
    result = enhance("sr", small_png, "--scale", scale, "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "scale" in result.output
    result = enhance("restore", "--task", "sr", "--level", scale, small_png, "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "scale" in result.output
    assert not (tmp_path / "x.png").exists()


def test_restore_task_sr_needs_the_scale(tmp_path, small_png):
    result = enhance("restore", "--task", "sr", small_png, "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "scale" in result.output


def test_restore_task_sr_is_the_same_model(tmp_path, small_png):
    output, _ = run_sr(tmp_path, small_png, "--scale", "2")
    result = enhance("restore", "--task", "sr", "--level", "2", small_png, "-o", tmp_path / "r.png", "-q")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "r.png")), np.asarray(Image.open(output)))
