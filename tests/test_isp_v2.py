"""isp v2's parts: the perceptual working domain, the refinement pass, the FLOPs twin, hard-patch mining."""

import numpy as np
import pytest
import torch
from PIL import Image

from enhance_cli.flops import card_flops
from enhance_cli.models.isp_unet import IspUNet, srgb_decode, srgb_encode, srgb_slope
from enhance_cli.training.data import VALIDATION, PatchSampler, image_files
from enhance_cli.training.recipes import DATA, RECIPES
from enhance_cli.training.unprocess import demosaic_difficulty

SMALL = {"channels": (8, 8, 8), "mlp_width": 8, "noise_input": True}


def test_srgb_encoding_round_trips_through_noise_below_black():
    linear = torch.linspace(-0.05, 1.2, 2001, dtype=torch.float64)
    torch.testing.assert_close(srgb_decode(srgb_encode(linear)), linear, atol=1e-12, rtol=0)
    assert (srgb_encode(linear[linear < 0]) < 0).all()  # noise around black keeps its sign


def test_srgb_slope_is_the_curves_derivative():
    linear = torch.linspace(0, 1, 501, dtype=torch.float64, requires_grad=True)
    (gradient,) = torch.autograd.grad(srgb_encode(linear).sum(), linear)
    torch.testing.assert_close(srgb_slope(linear.detach()), gradient, atol=1e-9, rtol=1e-9)


def test_srgb_network_outputs_linear_camera_rgb():
    torch.manual_seed(0)
    flat = torch.full((1, 2, 64, 64), 0.18)
    flat[:, 1] = 0.0
    network = IspUNet(**SMALL, encoding="srgb").eval()  # the tail starts at zero: a bilinear demosaic
    torch.testing.assert_close(network(flat), torch.full((1, 3, 64, 64), 0.18), atol=1e-6, rtol=0)


def test_the_refinement_pass_starts_as_no_correction():
    torch.manual_seed(0)
    plain = IspUNet(**SMALL, encoding="srgb").eval()
    for parameter in plain.tail.parameters():
        torch.nn.init.normal_(parameter, std=0.01)  # as if trained
    refined = IspUNet(**SMALL, encoding="srgb", refine=8).eval()
    missing, unexpected = refined.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(name.startswith("refine") for name in missing)
    mosaic = torch.rand(1, 2, 64, 64) * 0.5
    torch.testing.assert_close(refined(mosaic), plain(mosaic))
    assert refined.receptive_field > plain.receptive_field


def test_unknown_encoding_is_refused():
    with pytest.raises(ValueError, match="encoding"):
        IspUNet(**SMALL, encoding="log")


def test_isp_and_its_plain_twin_cost_the_same_flops():
    hyper, plain = (card_flops(RECIPES[n].architecture, RECIPES[n].config) for n in ("isp-v2", "isp-v2-plain"))
    assert plain["flops_by_part"]["conv"] == pytest.approx(hyper["flops_per_pixel"], rel=0.01)
    assert RECIPES["isp-v2"].config["encoding"] == RECIPES["isp-v2-plain"].config["encoding"] == "srgb"


def test_hard_patches_come_from_where_demosaicking_errs(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    textured = np.full((160, 160, 3), 128, np.uint8)
    textured[:, 96:] = rng.integers(0, 256, (160, 64, 3))  # fine colour texture on the right only
    Image.fromarray(textured).save(folder / "a.png")
    Image.fromarray(np.full((160, 160, 3), 90, np.uint8)).save(folder / "b.png")
    sampler = PatchSampler([folder], 32, hard_share=0.5, difficulty=demosaic_difficulty)
    assert sampler.hard and all(sampler.images[i] is sampler.images[0] and left >= 64 for i, _, left in sampler.hard)
    patches = sampler.sample(400, np.random.default_rng(1))
    textured_share = float((patches.std(dim=(1, 2, 3)) > 0.05).float().mean())
    assert 0.6 < textured_share < 0.9  # half from the pool, and a share of the random half lands there too


def test_full_chroma_folders_are_not_downscaled(tmp_path):
    for name in ("halve", "keep"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((128, 128, 3), np.uint8)).save(tmp_path / name / "x.png")
    sampler = PatchSampler([tmp_path / "halve", tmp_path / "keep"], 32, downscale=2, full_chroma=("keep",))
    assert sorted(image.shape[0] for image in sampler.images) == [64, 128]


def test_wallpapers_have_a_held_out_validation_split():
    wallpapers = DATA / "train" / "Wallpapers"
    if not wallpapers.is_dir():
        pytest.skip("training data not present")
    held_out = image_files(wallpapers, "validation")
    assert len(held_out) == sum(name.startswith("Wallpapers/") for name in VALIDATION) == 24
    assert not set(held_out) & set(image_files(wallpapers, "train"))
