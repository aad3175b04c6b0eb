"""HyperConvolution maths: shapes, start-as-a-conv, FLOPs vs MLP width, continuity, translation."""

import torch
import torch.nn.functional as F

from enhance_cli.flops import flop_breakdown, parameter_count
from enhance_cli.models.isp_unet import IspUNet
from enhance_cli.nn import HyperConv2d
from enhance_cli.tiling import plan_tiles, run_tiled


def _randomised(layer: HyperConv2d, scale: float = 0.05) -> HyperConv2d:
    """A layer whose filters really depend on the guide (training would get there)."""
    torch.nn.init.normal_(layer.predictor[-1].weight, std=scale)
    return layer


def test_shapes():
    layer = HyperConv2d(16, kernel_size=3, cell=8, mlp_width=32)
    x = torch.rand(2, 16, 40, 56)
    assert layer(x).shape == x.shape
    assert layer.cell_kernels(x).shape == (2, 16 * 9, 5, 7)
    assert layer.kernel_field(x).shape == (2, 16 * 9, 40, 56)


def test_starts_as_a_static_depthwise_conv():
    torch.manual_seed(0)
    layer = HyperConv2d(8, kernel_size=3, cell=4, mlp_width=16)
    x = torch.rand(1, 8, 32, 32)
    static = layer.predictor[-1].bias.view(8, 1, 3, 3)
    expected = F.conv2d(x, static, layer.bias, padding=1, groups=8)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_mlp_runs_once_per_cell():
    layer = HyperConv2d(64, cell=8, mlp_width=256)
    weights = sum(m.weight.numel() for m in layer.predictor if isinstance(m, torch.nn.Conv2d))
    assert layer.flops_per_pixel()["mlp"] == 2 * weights / 64
    assert HyperConv2d(64, cell=16, mlp_width=256).flops_per_pixel()["mlp"] == layer.flops_per_pixel()["mlp"] / 4


def test_mlp_width_adds_parameters_at_nearly_flat_flops():
    narrow, wide = IspUNet(mlp_width=64), IspUNet(mlp_width=1024)
    narrow_flops, wide_flops = flop_breakdown(narrow, 256, 256, 1), flop_breakdown(wide, 256, 256, 1)
    assert parameter_count(wide) > 4 * parameter_count(narrow)
    assert wide_flops["conv"] == narrow_flops["conv"]
    assert sum(wide_flops.values()) < 1.5 * sum(narrow_flops.values())


def test_measured_flops_split_conv_and_mlp():
    hc = IspUNet()
    plain = IspUNet(hyper=(False, False, False), expansion=2.5)
    hc_flops, plain_flops = flop_breakdown(hc, 256, 256, 1), flop_breakdown(plain, 256, 256, 1)
    assert hc_flops["mlp"] > 0 and plain_flops["mlp"] == 0
    assert abs(sum(hc_flops.values()) / sum(plain_flops.values()) - 1) < 0.10  # the ablation's matched FLOPs
    assert parameter_count(hc) > 4 * parameter_count(plain)


def test_filters_vary_continuously_across_cells():
    torch.manual_seed(0)
    cell = 8
    layer = _randomised(HyperConv2d(4, cell=cell, mlp_width=32))
    guide = torch.rand(1, 4, 64, 64) * torch.linspace(0, 1, 64)  # content that changes from cell to cell
    field = layer.kernel_field(guide)[0]
    steps = (field[:, :, 1:] - field[:, :, :-1]).abs().amax(dim=(0, 1))  # largest change between columns
    at_borders = steps[cell - 1 :: cell]
    assert at_borders.max() <= steps.max() * 1.0001 and at_borders.max() < 0.25 * (field.amax() - field.amin())
    # A piecewise-constant (per-cell) filter would jump at every border instead:
    nearest = F.interpolate(layer.cell_kernels(guide), scale_factor=cell, mode="nearest")[0]
    nearest_steps = (nearest[:, :, 1:] - nearest[:, :, :-1]).abs().amax(dim=(0, 1))
    assert (nearest_steps[cell - 1 :: cell] > 4 * at_borders).all()


def test_translation_by_whole_cells_is_equivariant():
    torch.manual_seed(0)
    layer = _randomised(HyperConv2d(4, cell=4, mlp_width=16))
    x = torch.rand(1, 4, 64, 64)
    shifted = torch.roll(x, shifts=(8, 12), dims=(2, 3))
    expected = torch.roll(layer(x), shifts=(8, 12), dims=(2, 3))
    inner = (slice(None), slice(None), slice(16, 56), slice(24, 56))  # two cells away from wrapped edges
    torch.testing.assert_close(layer(shifted)[inner], expected[inner], atol=1e-5, rtol=1e-4)


def test_tiles_aligned_to_the_cell_grid_match_the_whole_image():
    torch.manual_seed(0)
    model = IspUNet().eval()
    for module in model.modules():
        if isinstance(module, HyperConv2d):
            _randomised(module, 0.02)
    mosaic = torch.rand(192, 256, 1).numpy()

    def network(batch):
        return model(batch)

    whole = run_tiled(network, mosaic, plan_tiles(192, 256, 0, 0, model.scale_multiple)).image
    tiled = run_tiled(network, mosaic, plan_tiles(192, 256, 128, 64, model.scale_multiple))
    assert tiled.tiles > 1
    assert abs(tiled.image - whole).max() < 0.02


def test_filters_stay_bounded_on_extreme_content():
    torch.manual_seed(0)
    layer = _randomised(HyperConv2d(4, cell=4, mlp_width=16), scale=1.0)
    static = layer.predictor[-1].bias.view(1, -1, 1, 1)
    kernels = layer.cell_kernels(torch.rand(1, 4, 32, 32) * 1000)
    assert (kernels - static).abs().max() <= HyperConv2d.KERNEL_BOUND
