"""DDS-Net's three stages in miniature: costs that add up, a ladder from largest to smallest, gate labels, a gate
trained without touching the super-network, budgets that hold, and tiles that match."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from enhance_cli.flops import count_flops
from enhance_cli.models.dds_net import DDSNet
from enhance_cli.models.dds_unet import DDSUNet
from enhance_cli.training.loop import gate_labels, gate_labels_by_error
from enhance_cli.training.slimming import knee, progressive_slimming, select_rungs

TINY = {"channels": (16, 16, 24), "blocks": (1, 1, 1, 1, 1), "group": 8, "min_width": 8}
TINY_LARGEST = [16, 16, 24, 16, 16, 24, 16, 16]  # streams per level, then each block's inner width


def test_the_analytic_cost_of_every_sub_network_is_what_torch_counts():
    network = DDSUNet(channels=(32, 64, 128), min_width=16).eval()
    rng = np.random.default_rng(3)
    for widths in (network.largest, network.smallest, network.random_widths(rng), network.random_widths(rng)):
        counted = count_flops(lambda x, w=widths: network(x, widths=w), 64, 64) / 64**2
        assert network.flops_per_pixel(widths) == pytest.approx(counted, rel=1e-9)
    assert network.flops_per_pixel(network.smallest) == 27_200  # the "about 20 k" smallest rung


def test_a_min_width_floor_bounds_every_unit_from_below():
    network = DDSUNet(channels=(32, 64, 128), min_width=16)
    assert network.smallest.as_list() == [16] * len(network.largest.as_list())
    assert network.choices(0) == [16, 24, 32]


def test_gate_labels_pick_the_cheapest_rung_within_beta_of_the_largest():
    psnrs = torch.tensor(
        [
            [30.0, 30.1, 30.15, 30.19],  # flat: the smallest loses under 0.2 dB
            [28.0, 29.0, 29.9, 30.0],  # texture: the third rung is within 0.2 dB
            [25.0, 26.0, 27.0, 28.0],  # hard: only the largest
        ]
    )
    assert gate_labels(psnrs, beta=0.2).tolist() == [0, 2, 3]


def test_gate_labels_by_error_ask_width_only_where_the_error_is():
    errors = torch.tensor(
        [
            [1.1e-4, 1.05e-4, 1.0e-4],  # clean: every rung errs little, the cheapest is adequate
            [3.0e-3, 2.1e-3, 2.0e-3],  # heavy noise on texture: the middle rung is within 2e-4
            [3.0e-3, 2.5e-3, 2.0e-3],  # only the largest
        ]
    )
    assert gate_labels_by_error(errors, 2e-4).tolist() == [0, 1, 2]


def test_progressive_slimming_walks_from_the_largest_to_the_smallest_one_group_at_a_time():
    torch.manual_seed(0)
    network = DDSUNet(**TINY).eval()
    noisy = torch.rand(2, 3, 32, 32)
    ladder = progressive_slimming(network, noisy, noisy.clamp(0.2, 0.8), log=lambda line: None)
    assert ladder[0]["widths"] == network.largest.as_list() and ladder[-1]["widths"] == network.smallest.as_list()
    for wider, narrower in zip(ladder, ladder[1:], strict=False):
        cut = np.subtract(wider["widths"], narrower["widths"])
        assert sorted(cut.tolist())[-1] == network.group and cut.sum() == network.group
        assert narrower["flops_per_pixel"] < wider["flops_per_pixel"]
    rungs = select_rungs(ladder, 3)
    assert [r["widths"] for r in (rungs[0], rungs[-1])] == [ladder[-1]["widths"], ladder[0]["widths"]]
    assert knee(ladder)["psnr"] >= ladder[0]["psnr"] - 0.1


def test_the_gate_trains_alone(tmp_path, sample_pixels):
    """Stage 3 on a tiny ladder: the super-network's weights come out bit-identical, the gate's move."""
    from enhance_cli.training.loop import train
    from enhance_cli.training.recipes import RECIPES

    data = tmp_path / "CBSD432"
    data.mkdir()
    for name in ("103006", "112056", "1"):  # "1" is trained on; the other two are on the validation list
        Image.fromarray(sample_pixels[:200, :240]).save(data / f"{name}.jpg")
    torch.manual_seed(0)
    network = DDSNet(rungs=3, **TINY)
    network.rung_widths.copy_(torch.tensor([network.smallest.as_list(), [16, 8, 8, 8, 8, 8, 8, 8], TINY_LARGEST]))
    network.default_budget.fill_(0.5)
    start = tmp_path / "ladder.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(start))
    recipe = replace(RECIPES["dds-denoise"], config={**TINY, "rungs": 3}, data=(data,), patch=32, batch=2, steps=2)
    trained = load_file(str(train(recipe, tmp_path / "run", init=start)))
    before = load_file(str(start))
    assert all(torch.equal(trained[k], before[k]) for k in before if not k.startswith("gate."))
    assert not torch.equal(trained["gate.conv1.weight"], before["gate.conv1.weight"])


def test_the_ladder_stage_trains_the_rungs_and_leaves_the_gate_and_the_ladder_alone(tmp_path, sample_pixels):
    """Item 4's stage on a tiny ladder: the shared weights move, the gate and the rungs' widths do not."""
    from enhance_cli.training.loop import train
    from enhance_cli.training.recipes import RECIPES

    data = tmp_path / "CBSD432"
    data.mkdir()
    Image.fromarray(sample_pixels[:200, :240]).save(data / "1.jpg")
    torch.manual_seed(0)
    network = DDSNet(rungs=3, **TINY)
    network.rung_widths.copy_(torch.tensor([network.smallest.as_list(), [16, 8, 8, 8, 8, 8, 8, 8], TINY_LARGEST]))
    start = tmp_path / "ladder.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(start))
    recipe = replace(RECIPES["dds-rungs"], config={**TINY, "rungs": 3}, data=(data,), patch=32, batch=2, steps=2)
    trained = load_file(str(train(recipe, tmp_path / "run", init=start)))
    before = load_file(str(start))
    assert all(torch.equal(trained[k], before[k]) for k in before if k.startswith(("gate.", "rung_widths")))
    assert not torch.equal(trained["head.weight"], before["head.weight"])


def test_tiled_denoising_matches_the_whole_image_at_any_one_rung(tmp_path, real_crop):
    """With every tile on the same sub-network, tiles with their halo (the receptive field) give the whole
    image's result: only a change of rung between neighbours is left to the cross-fade."""
    from enhance_cli.denoiser import Denoiser
    from enhance_cli.registry import ModelCard, sha256_of

    torch.manual_seed(0)
    network = DDSNet(rungs=2, **TINY).eval()
    network.rung_widths.copy_(torch.tensor([network.smallest.as_list(), TINY_LARGEST]))
    weights = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(weights))
    config = {**TINY, "rungs": 2}
    card = ModelCard("tiny", "denoise", "dds-net", config, sha256_of(weights), folder=tmp_path)
    whole = Denoiser(card, device="cpu", tile=0)
    tiled = Denoiser(card, device="cpu", tile=64)
    from enhance_cli.imageio import Picture

    picture = Picture(real_crop, None, 8, None, None, "png")
    full, pieces = whole.denoise(picture, budget=1.0), tiled.denoise(picture, budget=1.0)
    assert pieces.tiles > 1 and full.tiles == 1
    np.testing.assert_allclose(pieces.picture.pixels, full.picture.pixels, atol=1e-5)
    assert pieces.details["sub_networks"] == {tiled.rung_name(1): pieces.tiles}
    assert full.details["flops_fraction"] == pytest.approx(1.0, abs=0.01)


def test_the_allocation_keeps_to_the_budget_and_gives_width_where_the_gate_is_surest_it_is_needed():
    from enhance_cli.models.dds_net import allocate_rungs

    costs = np.array([0.1, 0.5, 1.0])
    # The gate is sure tile 0 needs the widest rung, and that tile 2 is fine with the cheapest.
    logits = torch.tensor([[0.0, 0.0, 8.0], [0.0, 2.9, 3.0], [8.0, 0.0, 0.0]])
    pixels = np.array([100.0, 100.0, 100.0])

    def spent(rungs):
        return np.average(costs[rungs], weights=pixels)

    assert list(allocate_rungs(logits, costs, pixels, 1.0, 0.0, spend=False)) == [2, 2, 0]  # what each needs
    assert list(allocate_rungs(logits, costs, pixels, 0.6, 0.0, spend=False)) == [2, 1, 0]  # capped
    assert list(allocate_rungs(logits, costs, pixels, 1.0, 0.0)) == [2, 2, 2]  # all it may spend
    rungs = allocate_rungs(logits, costs, pixels, 0.7, 0.0)
    assert spent(rungs) <= 0.7 and rungs[0] == 2 and rungs[2] == 0
    assert list(allocate_rungs(logits, costs, pixels, 0.1, 0.0)) == [0, 0, 0]
    assert spent(allocate_rungs(logits, costs, pixels, 0.6, 0.02)) + 0.02 <= 0.6
    # Tiles the gate is unsure of start from the rung the budget affords everywhere, not from the cheapest: the
    # extremes average worse than the middle (quality is concave in FLOPs).
    assert list(allocate_rungs(torch.zeros(4, 3), costs, np.full(4, 100.0), 0.5, 0.0)) == [1, 1, 1, 1]
    assert list(allocate_rungs(logits, costs, pixels, 0.6, 0.0)) == [2, 1, 0]
    # One tile whose gate ranks the middle rung least likely still gets the widest the budget affords.
    assert list(allocate_rungs(torch.tensor([[3.0, 0.0, 3.0]]), costs, pixels[:1], 0.6, 0.0)) == [1]
