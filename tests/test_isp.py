"""`enhance isp` on real RAW files: LibRaw's size and colours, 16 bits, EXIF, tone, errors."""

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from enhance_cli.cli import app
from enhance_cli.develop import DevelopOptions
from enhance_cli.imageio import read_image
from enhance_cli.rawio import libraw_reference, read_raw
from tests.conftest import ROOT, SHARED_DATA

SAMPLE_RAW = ROOT / "samples" / "colorchart.dng"
RAW_DIR = SHARED_DATA / "raw"
runner = CliRunner()


def enhance(*args):
    return runner.invoke(app, [str(a) for a in args])


def colour_gap(ours: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-channel mean difference and mean absolute difference, ignoring a 4-pixel border."""
    ours, reference = ours[4:-4, 4:-4], reference[4:-4, 4:-4]
    return ours.mean(axis=(0, 1)) - reference.mean(axis=(0, 1)), float(np.abs(ours - reference).mean())


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One batch: a broken 'DNG', then the shipped sample, neutral tone, 16 bits, with a report."""
    folder = tmp_path_factory.mktemp("isp")
    broken = folder / "broken.dng"
    broken.write_text("not a raw file")
    report = folder / "report.json"
    result = enhance(
        "isp", broken, SAMPLE_RAW, "-o", folder / "out", "--tone", "neutral", "--bits", "16", "--report", report
    )
    return result, folder / "out", json.loads(report.read_text())


@pytest.fixture(scope="module")
def developer():
    from enhance_cli.develop import Developer

    return Developer.for_model(device="cpu")


def test_batch_keeps_going_past_a_broken_raw_and_exits_1(batch):
    result, out, report = batch
    assert result.exit_code == 1
    assert "broken.dng" in result.stderr and "not a camera RAW file" in result.stderr
    assert (out / "colorchart.png").exists() and not (out / "broken.png").exists()
    assert [r["ok"] for r in report["images"]] == [False, True]


def test_sample_develops_at_libraw_size_with_libraw_colours(batch):
    _, out, _ = batch
    developed = read_image(out / "colorchart.png")
    reference = libraw_reference(SAMPLE_RAW, "AHD")
    assert developed.pixels.shape == reference.shape
    assert developed.bits == 16
    channel_gap, mean_gap = colour_gap(developed.pixels, reference)
    assert np.abs(channel_gap).max() < 0.01 and mean_gap < 0.02


def test_exif_is_carried_and_costs_are_reported(batch):
    _, out, report = batch
    with Image.open(out / "colorchart.png") as image:
        exif = image.getexif()
    assert exif[0x010F] == "Canon" and exif[0x0110] == "Canon EOS Kiss X4"
    record = report["images"][1]
    assert record["model"] == "isp" and record["params"] > 3e5
    assert record["flops_by_part"]["conv"] > 0 and record["flops"] > 0
    assert record["noise_shot"] >= 0 and record["noise_read"] >= 0  # the estimated noise model the network used


def test_standard_tone_adds_contrast_around_the_same_mid_grey(developer):
    raw = read_raw(SAMPLE_RAW)
    crop = replace(raw, mosaic=raw.mosaic[300:556, 500:756])
    neutral = developer.develop(crop, DevelopOptions(tone="neutral")).picture.pixels
    standard = developer.develop(crop, DevelopOptions(tone="standard")).picture.pixels
    assert standard.shape == neutral.shape == (256, 256, 3)
    assert standard.std() > neutral.std()
    assert abs(np.median(standard) - np.median(neutral)) < 0.05


def test_v2_and_its_plain_twin_are_selectable():
    from enhance_cli.develop import Developer

    hyper = Developer.for_model("isp-v2", device="cpu")
    plain = Developer.for_model("isp-v2-plain", device="cpu")
    assert plain.flops_per_pixel["mlp"] == 0 and hyper.params > 4 * plain.params
    total = sum(hyper.flops_per_pixel.values())
    assert abs(sum(plain.flops_per_pixel.values()) / total - 1) < 0.10  # matched FLOPs
    raw = read_raw(SAMPLE_RAW)
    crop = replace(raw, mosaic=raw.mosaic[300:428, 500:628])
    assert plain.develop(crop, DevelopOptions(tone="neutral")).picture.pixels.shape == (128, 128, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "hyperres-noise"], "not isp"),
        (["--model", "nope"], "no model named"),
        (["--bits", "16", "--format", "jpeg"], "--bits 16"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = enhance("isp", SAMPLE_RAW, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_stdin_is_refused_with_a_reason():
    result = enhance("isp", "-", "-o", "-")
    assert result.exit_code == 2 and result.stderr == "error: isp reads files by path; stdin (-) is not supported\n"


@pytest.mark.shared_data("raw")
@pytest.mark.parametrize("name", ["RAW_CANON_D30_SRGB.CRW", "RAW_KODAK_DC50.KDC"])
def test_real_cameras_match_libraw_size_and_colours(developer, name):
    raw = read_raw(RAW_DIR / name)
    developed = developer.develop(raw, DevelopOptions(tone="neutral")).picture.pixels
    # Same gains on both sides: where a file has no as-shot balance LibRaw would guess its own.
    reference = libraw_reference(RAW_DIR / name, "AHD", white_balance=raw.white_balance)
    assert developed.shape == reference.shape
    channel_gap, mean_gap = colour_gap(developed, reference)
    assert np.abs(channel_gap).max() < 0.015 and mean_gap < 0.03  # no casts, no swapped channels
