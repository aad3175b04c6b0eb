"""The numbers the cards publish, guarded: each shipped model re-scored on a small benchmark set with the
benchmark script's own protocol must stay within 0.3 dB of what its card records (gain and level alike)."""

import importlib.util
import json

import pytest

from enhance_cli.registry import weights_dir
from enhance_cli.restorer import Restorer

from .conftest import ROOT

TOLERANCE_DB = 0.3


def benchmark_script(name: str):
    """``benchmarks/<name>.py`` as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded(model: str, part: str, key: str) -> dict:
    return json.loads((weights_dir() / f"{model}.json").read_text())["benchmarks"][part][key]


@pytest.mark.shared_data("test/Set5")
@pytest.mark.parametrize("scale", [2.0, 4.0])
def test_sr_on_set5_matches_its_card(scale):
    measured = benchmark_script("sr").score_set(Restorer.for_task("sr", device="cpu"), "Set5", scale, None)
    card = recorded("hyperres-sr", "quality", f"Set5/x{scale:g}")
    assert measured["bicubic"] == pytest.approx(card["bicubic"], abs=0.02)  # the same protocol
    assert measured["ours"] >= card["ours"] - TOLERANCE_DB
    assert measured["gain"] >= card["gain"] - TOLERANCE_DB


@pytest.mark.shared_data("test/Classic5")
@pytest.mark.parametrize("quality", [10, 40])
def test_dejpeg_on_classic5_matches_its_card(quality):
    measured = benchmark_script("dejpeg").score_set(Restorer.for_task("jpeg", device="cpu"), "Classic5", quality, None)
    card = recorded("hyperres-jpeg", "quality", f"Classic5/q{quality}")
    assert measured["jpeg"] == pytest.approx(card["jpeg"], abs=0.02)
    assert measured["ours"] >= card["ours"] - TOLERANCE_DB
    assert measured["gain"] >= card["gain"] - TOLERANCE_DB


@pytest.mark.shared_data("test/PolyU100")
def test_denoise_on_polyu_matches_its_card():
    """Real camera noise: the first images of PolyU100 (CBM3D's subset in the card), at the default budget."""
    script = benchmark_script("dds_denoise")
    card = json.loads((weights_dir() / "dds-denoise.json").read_text())["benchmarks"]["polyu"]["first_images"]
    pairs = script.polyu_pairs(card["images"])
    assert script.score(pairs, None)["psnr_rgb"] == pytest.approx(card["noisy_input"]["psnr_rgb"], abs=0.02)
    measured = script.score(pairs, script.Ours().at(None))["psnr_rgb"]
    assert measured >= card["ours_default_budget"]["psnr_rgb"] - TOLERANCE_DB
