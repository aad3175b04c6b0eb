"""`enhance denoise` on real files: real camera noise removed, clean photos left alone, budgets that spend what
they say, and the same contract as every command (outputs, bits, metadata, report, exit codes)."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from enhance_cli.cli import app
from enhance_cli.imageio import Picture
from tests.conftest import shared_data

runner = CliRunner()


def enhance(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture
def polyu_pair(tmp_path):
    """PolyU100's noisiest real camera JPEG (Sony, ISO 3200; 512 px) and its many-shot mean."""
    folder = shared_data("test/PolyU100")
    noisy = pixels(folder / "Sony_4-5_125_3200_plant_10_real.JPG")
    clean = pixels(folder / "Sony_4-5_125_3200_plant_10_mean.JPG")
    path = tmp_path / "plant.png"
    Image.fromarray(noisy).save(path)
    return path, noisy, clean


def test_real_camera_noise_comes_out_closer_to_the_many_shot_mean(polyu_pair, tmp_path):
    path, noisy, clean = polyu_pair
    result = enhance("denoise", path, "-q")
    assert result.exit_code == 0, result.output
    denoised = pixels(path.with_name("plant_denoise.png"))
    assert psnr(denoised, clean) > psnr(noisy, clean) + 0.25  # 31.09 -> 31.47 dB when measured (first release 31.84)


def test_a_clean_photo_comes_back_nearly_untouched(tmp_path):
    clean = pixels(shared_data("test/Kodak24") / "kodim23.png")[:256, :320]
    Image.fromarray(clean).save(tmp_path / "clean.png")
    result = enhance("denoise", tmp_path / "clean.png", "-q")
    assert result.exit_code == 0, result.output
    assert psnr(pixels(tmp_path / "clean_denoise.png"), clean) > 38


def test_the_report_records_what_each_image_spent_and_which_sub_networks_ran(tmp_path):
    """A photo with little noise, at a low budget and at the full one: the low budget runs thinner sub-networks."""
    photo = pixels(shared_data("test/Kodak24") / "kodim03.png")[:320, :448]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    spent = {}
    for budget in ("0.3", "1"):
        report = tmp_path / f"{budget}.json"
        result = enhance(
            "denoise", tmp_path / "photo.png", "--budget", budget, "--tile", 128, "-o", tmp_path / f"{budget}.png",
            "--report", report, "-q",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        document = json.loads(report.read_text())
        entry = document["images"][0]
        assert document["flops_fraction"] == pytest.approx(entry["flops_fraction"], abs=1e-4)  # the run's
        assert entry["command"] == "denoise" and entry["model"] == "dds-denoise" and entry["budget"] == float(budget)
        assert sum(entry["sub_networks"].values()) == entry["tiles"] > 1 and entry["flops"] > 0
        spent[budget] = entry["flops_fraction"]
    assert spent["1"] == pytest.approx(1.0, abs=0.01)
    assert spent["0.3"] <= 0.3


@pytest.mark.parametrize("budget", [0.15, 0.3, 0.5, 0.7])
def test_a_budget_holds_on_any_image(sample_pixels, budget):
    """The gate scores every tile first and the budget is split between them: a noisy photo, which the gate
    would like to spend more on, still gets no more than it was given."""
    from enhance_cli.denoiser import Denoiser

    denoiser = Denoiser.for_model(device="cpu", tile=96)
    photo = (sample_pixels[:256, :320] / 255).astype(np.float32)
    outcome = denoiser.denoise(Picture(photo, None, 8, None, None, "png"), budget)
    assert outcome.tiles > 4 and budget - 0.1 < outcome.details["flops_fraction"] <= budget


def test_a_run_keeps_to_its_budget_and_spends_what_one_tile_images_leave(sample_pixels):
    """One-tile images can only take whole rungs: alone, each at 0.5 gets the 36% one. Over a run, what they
    leave goes to the images after them, and the run as a whole still spends at most its budget."""
    from enhance_cli.denoiser import Denoiser, Savings

    denoiser = Denoiser.for_model(device="cpu")
    rng = np.random.default_rng(0)
    photos = [
        Picture(
            np.round(np.clip(crop / 255 + rng.normal(0, 25 / 255, crop.shape), 0, 1) * 255).astype(np.float32) / 255,
            None,
            8,
            None,
            None,
            "png",
        )
        for crop in (sample_pixels[y : y + 128, x : x + 128] for y in (0, 128) for x in (0, 128, 256))
    ]
    alone = [denoiser.denoise(photo, 0.5) for photo in photos]
    savings = Savings()
    run = [denoiser.denoise(photo, 0.5, savings=savings) for photo in photos]
    assert all(outcome.tiles == 1 and outcome.details["flops_fraction"] <= 0.5 for outcome in alone)
    spent = [outcome.details["flops_fraction"] for outcome in run]
    assert np.mean(spent) <= 0.5 and np.mean(spent) > np.mean([o.details["flops_fraction"] for o in alone]) + 0.05
    assert max(spent) > 0.5  # an image spent what earlier ones saved


def test_by_default_a_clean_flat_image_costs_less_than_a_noisy_textured_one(sample_pixels):
    from enhance_cli.denoiser import Denoiser

    denoiser = Denoiser.for_model(device="cpu")
    rows, columns = np.mgrid[0:192, 0:256] / 256
    flat = np.round(np.stack([0.3 + 0.2 * columns, 0.4 + 0.1 * rows, np.full_like(rows, 0.5)], axis=2) * 255) / 255
    rng = np.random.default_rng(0)
    textured = np.clip(sample_pixels[200:392, 300:556] / 255 + rng.normal(0, 40 / 255, (192, 256, 3)), 0, 1)
    spent = [
        denoiser.denoise(Picture(image.astype(np.float32), None, 8, None, None, "png")).details["flops_fraction"]
        for image in (flat, np.round(textured * 255) / 255)
    ]
    assert spent[1] >= 2 * spent[0]


def test_a_budget_below_the_cheapest_sub_network_is_a_usage_error(small_png):
    result = enhance("denoise", small_png, "--budget", "0.05")
    assert result.exit_code == 2 and "what the cheapest sub-network costs with the gate" in result.stderr


def test_the_default_budget_is_the_knee_the_models_table_shows(small_png, tmp_path):
    rows = {row["name"]: row for row in json.loads(enhance("models", "--json").stdout)}
    assert rows["dds-denoise"]["default"] and "budget" in rows["dds-denoise"]["levels"]
    report = tmp_path / "r.json"
    assert enhance("denoise", small_png, "-o", tmp_path / "o.png", "--report", report, "-q").exit_code == 0
    budget = json.loads(report.read_text())["images"][0]["budget"]
    assert f"default {budget:.2f}" in rows["dds-denoise"]["levels"]


@pytest.mark.parametrize("budget", ["0", "1.5", "-0.2"])
def test_a_budget_outside_zero_to_one_is_a_usage_error(small_png, budget):
    result = enhance("denoise", small_png, "--budget", budget)
    assert result.exit_code == 2
    assert not small_png.with_name("patch_denoise.png").exists()


def test_a_batch_keeps_going_past_a_broken_file_and_exits_1(small_png, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = enhance("denoise", broken, small_png, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "broken.png" in result.stderr
    assert (tmp_path / "out" / "patch.png").exists() and not (tmp_path / "out" / "broken.png").exists()


def test_sixteen_bits_grey_and_metadata_are_kept(tmp_path, sample_pixels):
    import cv2

    deep = sample_pixels[200:264, 300:364].astype(np.uint16) * 257 + 100
    cv2.imwrite(str(tmp_path / "deep.png"), deep[:, :, ::-1])
    Image.fromarray(sample_pixels[:64, :80, 1], "L").save(tmp_path / "grey.png")
    exif = Image.Exif()
    exif[0x0110] = "Canon EOS 550D"
    Image.fromarray(sample_pixels[:64, :96]).save(tmp_path / "cam.jpg", exif=exif, quality=95)
    inputs = [tmp_path / name for name in ("deep.png", "grey.png", "cam.jpg")]
    result = enhance("denoise", *inputs, "-o", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    restored = cv2.imread(str(tmp_path / "out" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert restored.dtype == np.uint16 and (restored % 257 != 0).any()
    with Image.open(tmp_path / "out" / "grey.png") as grey, Image.open(tmp_path / "out" / "cam.png") as camera:
        assert grey.mode == "L" and camera.getexif()[0x0110] == "Canon EOS 550D"


def test_stdin_to_stdout(small_png):
    result = enhance("denoise", "-", "-o", "-", "-q", input=small_png.read_bytes())
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\x89PNG")
