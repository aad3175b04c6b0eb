"""isp v3's network (models/isp_dense.py): the dense trunk with a HyperConvolution noise path."""

from __future__ import annotations

import pytest
import torch

from enhance_cli.flops import architecture_flops
from enhance_cli.models.dense_demosaic import DenseDemosaic
from enhance_cli.models.isp_dense import IspDense

SMALL = {"width": 16, "depth": 6, "split": 2, "channels": (16, 32), "mlp_width": 32}


def test_the_noise_path_starts_as_no_correction():
    """A trunk carried over (converted or trained) computes exactly what it did until the path is trained."""
    trunk = DenseDemosaic(width=16, depth=6, noise_input=True).eval()
    torch.nn.init.normal_(trunk.noise_head.weight, std=0.1)
    model = IspDense(**SMALL).eval()
    missing, unexpected = model.load_state_dict(trunk.state_dict(), strict=False)
    assert not unexpected and all(not name.startswith(("trunk", "pack", "noise_head")) for name in missing)
    inputs = torch.rand(1, 2, 64, 96)
    with torch.inference_mode():
        torch.testing.assert_close(model(inputs), trunk(inputs))


@pytest.mark.parametrize(("height", "width"), [(64, 96), (50, 70)])
def test_output_is_rgb_at_the_mosaics_size(height, width):
    model = IspDense(**SMALL).eval()
    with torch.inference_mode():
        assert model(torch.rand(1, 2, height, width)).shape == (1, 3, height, width)


def test_the_plain_twin_costs_what_hyperconvolution_costs():
    hyper = architecture_flops("isp-dense", {"width": 48})
    plain = architecture_flops("isp-dense", {"width": 48, "hyper": False, "expansion": 2.8})
    assert plain["mlp"] == 0 and abs(sum(plain.values()) / sum(hyper.values()) - 1) < 0.02


def test_the_tile_halo_is_capped_as_isp_v2s():
    model = IspDense(**SMALL)
    assert model.receptive_field > model.tile_halo == 128
    assert model.scale_multiple == 32


def test_split_must_leave_trunk_layers_on_both_sides():
    with pytest.raises(ValueError, match="split"):
        IspDense(**{**SMALL, "split": 6})


def test_the_path_learns_at_its_own_rate_and_the_trunk_at_the_recipes():
    from enhance_cli.registry import build_architecture
    from enhance_cli.training.loop import parameter_groups
    from enhance_cli.training.recipes import ISP_DENSE_PATH, RECIPES

    recipe = RECIPES["isp-dense-2"]
    model = build_architecture(recipe.architecture, recipe.config)
    path, trunk = parameter_groups(model, recipe)
    assert (path["scale"], trunk["scale"]) == (20.0, 1.0)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].startswith(ISP_DENSE_PATH) for p in path["params"])
    assert not any(names[id(p)].startswith(ISP_DENSE_PATH) for p in trunk["params"])
    assert len(path["params"]) + len(trunk["params"]) == len(list(model.parameters()))


def test_the_trunk_alone_starts_from_isp_dense_without_its_path(tmp_path):
    """init_drop: the trunk's recipe takes isp-dense's weights, leaving the path out, and computes what
    isp-dense computes when its path adds nothing (the path's last conv starts at zero)."""
    from safetensors.torch import save_file

    from enhance_cli.training.recipes import ISP_DENSE_PATH, RECIPES

    with_path = IspDense(width=8, depth=4, split=2, channels=(8, 16), mlp_width=8).eval()
    trunk = DenseDemosaic(width=8, depth=4, noise_input=True).eval()
    state = with_path.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    kept = {k: v for k, v in state.items() if not k.startswith(RECIPES["isp-dense-trunk"].init_drop)}
    assert RECIPES["isp-dense-trunk"].init_drop == ISP_DENSE_PATH and len(kept) < len(state)
    trunk.load_state_dict(kept)  # strict: exactly the trunk's parameters remain
    x = torch.rand(1, 2, 32, 64)  # sides that are whole cells of the path: no padding of its own
    with torch.inference_mode():
        torch.testing.assert_close(trunk(x), with_path(x))
