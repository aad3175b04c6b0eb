"""`enhance dejpeg`: JPEG artifact removal with the level read from the file, on real JPEGs."""

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


def save_jpeg(tmp_path, pixels, quality, name="photo.jpg"):
    path = tmp_path / name
    Image.fromarray(pixels).save(path, quality=quality)
    return path


def run_dejpeg(tmp_path, path, *options):
    output, report = tmp_path / "out.png", tmp_path / "report.json"
    result = enhance("dejpeg", path, "-o", output, "--report", report, "-q", *options)
    entry = json.loads(report.read_text())["images"][0]
    return result, output, entry


def test_dejpeg_reads_the_quality_from_the_file_and_removes_artifacts(tmp_path, clean_pixels):
    path = save_jpeg(tmp_path, clean_pixels, 20)
    result, output, entry = run_dejpeg(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert entry["level"] == 20 and entry["model"] == "hyperres-jpeg"
    jpeg = np.asarray(Image.open(path)).astype(float) / 255
    restored = np.asarray(Image.open(output)).astype(float) / 255
    clean = clean_pixels.astype(float) / 255
    assert psnr(clean, restored) > psnr(clean, jpeg) + 0.5


def test_near_lossless_jpegs_come_back_unchanged(tmp_path, clean_pixels):
    path = save_jpeg(tmp_path, clean_pixels, 97)
    result, output, entry = run_dejpeg(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert entry["level"] == 97 and entry["strength"] == 0
    np.testing.assert_array_equal(np.asarray(Image.open(output)), np.asarray(Image.open(path)))


def test_the_correction_fades_between_90_and_95(tmp_path, clean_pixels):
    path = save_jpeg(tmp_path, clean_pixels, 92)
    result, _, entry = run_dejpeg(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert entry["strength"] == pytest.approx(0.6)


def test_a_jpeg_resaved_as_png_gets_its_quality_estimated(tmp_path, clean_pixels):
    jpeg = save_jpeg(tmp_path, clean_pixels, 30)
    png = tmp_path / "resaved.png"
    Image.open(jpeg).crop((3, 5, *clean_pixels.shape[1::-1])).save(png)  # off the 8x8 grid too
    result, output, entry = run_dejpeg(tmp_path, png)
    assert result.exit_code == 0, result.output
    assert abs(entry["level"] - 30) <= 2
    resaved = np.asarray(Image.open(png)).astype(float) / 255
    clean = clean_pixels[5:, 3:].astype(float) / 255
    assert psnr(clean, np.asarray(Image.open(output)).astype(float) / 255) > psnr(clean, resaved) + 0.5


def test_a_never_compressed_png_is_left_alone(tmp_path, clean_pixels):
    png = tmp_path / "pristine.png"
    Image.fromarray(clean_pixels).save(png)
    result, output, entry = run_dejpeg(tmp_path, png)
    assert result.exit_code == 0, result.output
    assert entry["level"] == 100 and entry["strength"] == 0
    np.testing.assert_array_equal(np.asarray(Image.open(output)), clean_pixels)


def test_greyscale_jpegs_stay_greyscale(tmp_path, clean_pixels):
    grey = np.asarray(Image.fromarray(clean_pixels).convert("L"))
    path = tmp_path / "grey.jpg"
    Image.fromarray(grey).save(path, quality=15)
    result, output, entry = run_dejpeg(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert Image.open(output).mode == "L" and entry["level"] == 15


def test_restore_task_jpeg_is_the_same_model(tmp_path, clean_pixels):
    path = save_jpeg(tmp_path, clean_pixels, 40)
    result = enhance("restore", "--task", "jpeg", "--level", "40", path, "-o", tmp_path / "r.png", "-q")
    assert result.exit_code == 0, result.output
    _, output, _ = run_dejpeg(tmp_path, path)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "r.png")), np.asarray(Image.open(output)))


def test_an_estimator_given_as_the_model_is_refused(tmp_path, clean_pixels):
    path = save_jpeg(tmp_path, clean_pixels, 40)
    result = enhance("dejpeg", "--model", "quality-estimator", path, "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "quality-estimator" in result.output and "estimator" in result.output


@pytest.mark.parametrize("size", [(1, 1), (6, 30), (30, 3)])
def test_images_with_a_side_under_one_jpeg_block_are_estimated_too(tmp_path, clean_pixels, size):
    path = tmp_path / "tiny.png"  # a PNG states no quality: the blind estimator reads it
    Image.fromarray(clean_pixels[: size[0], : size[1]]).save(path)
    result, output, entry = run_dejpeg(tmp_path, path, "--level", "auto")
    assert result.exit_code == 0, result.output
    assert entry["level_source"] == "estimated" and Image.open(output).size == (size[1], size[0])
