"""Quality on real benchmark images: the shipped denoiser must clearly beat its input at known and unknown levels."""

import pytest

from enhance_cli.evaluate import evaluate_folder, mean_scores

from .conftest import SHARED_DATA

CBSD68 = SHARED_DATA / "test" / "CBSD68"
pytestmark = pytest.mark.shared_data("test/CBSD68")


@pytest.mark.parametrize("sigma,minimum_psnr", [(15, 32.0), (50, 25.5)])
def test_denoiser_quality_on_cbsd68(denoiser, sigma, minimum_psnr):
    scores = evaluate_folder(denoiser, CBSD68, "noise", sigma, sigma, limit=3)
    assert mean_scores(scores, "restored")["psnr_rgb"] > minimum_psnr
    assert mean_scores(scores, "restored")["psnr_rgb"] > mean_scores(scores, "degraded")["psnr_rgb"] + 6


def test_auto_level_is_close_to_the_known_level(denoiser):
    known = evaluate_folder(denoiser, CBSD68, "noise", 25, 25, limit=3)
    auto = evaluate_folder(denoiser, CBSD68, "noise", 25, None, limit=3)
    assert all(abs(s.level - 25) < 3 for s in auto)
    gap = mean_scores(known, "restored")["psnr_rgb"] - mean_scores(auto, "restored")["psnr_rgb"]
    assert gap < 0.2
