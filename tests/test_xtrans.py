"""Fuji X-Trans files through `enhance isp`, on synthetic X-Trans DNGs (DNG allows a 6x6 CFARepeatPatternDim):
no real X-Trans RAF file can be obtained here, so these stand in for them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from enhance_cli.cfa import XTRANS, site_channels
from enhance_cli.cli import app
from enhance_cli.colour import SRGB_TO_XYZ
from enhance_cli.imageio import read_image
from enhance_cli.metrics import psnr
from enhance_cli.rawio import libraw_reference, read_raw
from tests.conftest import SHARED_DATA
from tests.test_raw_developer import GAINS, disc_scene
from tests.test_rawio import BLACK, WHITE, rationals, write_dng

runner = CliRunner()
# Fuji's layout as LibRaw states it for their cameras: a shift of the network's phase.
FUJI = "GGRGGBGGBGGRBRGRBGGGBGGRGGRGGBRBGBRG"
SRGB_CAMERA = [
    (50721, "2i", 9, rationals(np.linalg.inv(SRGB_TO_XYZ.double().numpy()).ravel(), 1_000_000), True),
    (50728, "2I", 3, rationals((1, 1, 1)), True),
]  # ColorMatrix1 and AsShotNeutral of a camera whose colour space is linear sRGB, balanced for D65


def enhance(*args):
    return runner.invoke(app, [str(a) for a in args])


def xtrans_dng(path: Path, camera: np.ndarray, saturation: int = WHITE, **options) -> Path:
    """An X-Trans DNG (Fuji's layout) of camera RGB ``camera`` (H x W x 3; 1 = the white level)."""
    sites = site_channels(FUJI, camera.shape[:2])
    mosaic = np.take_along_axis(camera, sites[..., None], axis=-1)[..., 0]
    samples = np.clip(np.rint(BLACK + mosaic * (WHITE - BLACK)), 0, saturation).astype(np.uint16)
    return write_dng(path, samples, cfa=tuple(sites[:6, :6].ravel()), repeat=(6, 6), **options)


def develop(path: Path, tmp_path: Path, *args) -> tuple[np.ndarray, dict]:
    output, report = tmp_path / "out.png", tmp_path / "out.json"
    result = enhance("isp", path, "-o", output, "--report", report, "-q", "--overwrite", *args)
    assert result.exit_code == 0, result.output
    return read_image(output).pixels, json.loads(report.read_text())["images"][0]


def patches(height: int = 96, width: int = 144) -> np.ndarray:
    """Six flat patches of camera RGB, 48 px square."""
    colours = np.array(
        [[0.6, 0.3, 0.2], [0.2, 0.5, 0.3], [0.15, 0.25, 0.6], [0.5, 0.5, 0.1], [0.4, 0.2, 0.5], [0.3] * 3]
    )
    scene = np.empty((height, width, 3))
    for index, colour in enumerate(colours):
        row, column = divmod(index, 3)
        scene[48 * row : 48 * row + 48, 48 * column : 48 * column + 48] = colour
    return scene / GAINS


def test_an_xtrans_dng_reads_in_fujis_layout(tmp_path):
    picture = read_raw(xtrans_dng(tmp_path / "x.dng", patches()))
    assert picture.pattern == FUJI
    assert picture.mosaic.shape == (96, 144)
    np.testing.assert_allclose(picture.white_balance, GAINS)


def test_an_xtrans_dng_develops_at_its_size_with_its_colours(tmp_path):
    path = xtrans_dng(tmp_path / "x.dng", patches())
    pixels, entry = develop(path, tmp_path, "--tone", "neutral")
    reference = libraw_reference(path, "LINEAR")
    assert pixels.shape == reference.shape == (96, 144, 3)
    assert entry["model"] == "isp-xtrans"
    for row in (24, 72):
        for column in (24, 72, 120):
            ours = pixels[row - 8 : row + 8, column - 8 : column + 8].mean(axis=(0, 1))
            theirs = reference[row - 8 : row + 8, column - 8 : column + 8].mean(axis=(0, 1))
            # demosaicnet's X-Trans weights, unchanged, miss flat saturated colours by up to 3/255 (greys by 0.6).
            np.testing.assert_allclose(ours, theirs, atol=3.5 / 255)


def test_a_blown_disc_stays_neutral_on_xtrans(tmp_path):
    scene, distance = disc_scene()
    pixels, entry = develop(xtrans_dng(tmp_path / "x.dng", scene), tmp_path, "--tone", "neutral")
    inside = pixels[distance < 40]
    assert inside.min() > 0.97 and (inside.max(axis=-1) / inside.min(axis=-1)).max() < 1.03
    assert entry["highlights"]["clipped_share"] > 0.1


@pytest.mark.parametrize(
    ("layout", "model", "reason"),
    [
        ("xtrans", "isp", "an X-Trans mosaic; model 'isp' develops Bayer mosaics"),
        ("bayer", "isp-xtrans", "a Bayer mosaic; model 'isp-xtrans' develops X-Trans mosaics"),
    ],
)
def test_a_model_named_for_the_other_layout_is_refused_with_a_reason(tmp_path, layout, model, reason):
    if layout == "xtrans":
        path = xtrans_dng(tmp_path / "x.dng", patches())
    else:
        path = write_dng(tmp_path / "b.dng", np.full((64, 96), 2000, np.uint16))
    report = tmp_path / "report.json"
    result = enhance("isp", path, "-o", tmp_path / "out.png", "--model", model, "--report", report)
    assert result.exit_code == 1
    assert reason in json.loads(report.read_text())["images"][0]["error"]
    assert not (tmp_path / "out.png").exists()


@pytest.mark.shared_data("test/Kodak24")
def test_xtrans_beats_libraws_markesteijn_by_3_db(tmp_path):
    """The issue's bar, on one Kodak image (the benchmark: `python benchmarks/isp.py xtrans`)."""
    source = read_image(SHARED_DATA / "test" / "Kodak24" / "kodim19.png").pixels  # 768 x 512: LibRaw needs 512
    linear = np.where(source <= 0.04045, source / 12.92, ((source + 0.055) / 1.055) ** 2.4)
    path = xtrans_dng(tmp_path / "kodim19.dng", linear, extra_tags=SRGB_CAMERA)
    ours, _ = develop(path, tmp_path, "--tone", "neutral", "--bits", "16")
    libraw = libraw_reference(path, "AHD", white_balance=np.ones(3))  # X-Trans: Markesteijn, 3 passes
    assert ours.shape == libraw.shape == source.shape
    margin = psnr(source, ours, 10) - psnr(source, libraw, 10)
    assert margin >= 3.0, margin


def test_the_xtrans_layout_holds_every_colour_in_each_cell():
    for row in range(0, 6, XTRANS.cell):
        for column in range(0, 6, XTRANS.cell):
            cell = XTRANS.channels[row : row + 3, column : column + 3]
            assert sorted(np.bincount(cell.ravel(), minlength=3)) == [2, 2, 5]
