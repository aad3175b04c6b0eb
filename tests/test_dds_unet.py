"""The slimmable U-Net behind `enhance denoise`: sub-networks share weights, and cost what their widths say."""

import numpy as np
import torch

from enhance_cli.flops import count_flops
from enhance_cli.models.dds_unet import DDSUNet, Widths
from enhance_cli.nn import SlimConv2d


def test_a_slim_conv_is_the_conv_of_its_leading_filters_and_inputs():
    torch.manual_seed(0)
    slim = SlimConv2d(16, 24, 3, padding=1)
    small = torch.nn.Conv2d(8, 8, 3, padding=1)
    small.weight.data, small.bias.data = slim.weight[:8, :8].clone(), slim.bias[:8].clone()
    x = torch.rand(1, 8, 10, 10)
    torch.testing.assert_close(slim(x, 8), small(x))


def test_every_sub_network_runs_on_odd_sizes_and_costs_its_widths():
    torch.manual_seed(0)
    network = DDSUNet(channels=(16, 32, 64)).eval()
    rng = np.random.default_rng(0)
    x = torch.rand(1, 3, 37, 50)
    costs = {}
    for widths in (network.smallest, network.random_widths(rng), network.largest):
        assert network(x, widths=widths).shape == x.shape
        costs[widths] = count_flops(lambda image, w=widths: network(image, widths=w), 64, 64)
    assert min(costs.values()) == costs[network.smallest] and max(costs.values()) == costs[network.largest]
    wider = Widths.from_list([16 if u == 0 else v for u, v in enumerate(network.smallest.as_list())])
    assert count_flops(lambda image: network(image, widths=wider), 64, 64) > costs[network.smallest]


def test_widths_are_whole_groups_up_to_each_layers_channels():
    network = DDSUNet(channels=(16, 32, 64), group=8)
    assert network.choices(0) == [8, 16] and network.choices(2) == [8, 16, 24, 32, 40, 48, 56, 64]
    assert all(v % 8 == 0 for v in network.random_widths(np.random.default_rng(1)).as_list())
    assert Widths.from_list(network.largest.as_list()) == network.largest


def test_the_receptive_field_bounds_what_a_pixel_sees():
    torch.manual_seed(0)
    network = DDSUNet(channels=(8, 8, 8)).eval()
    radius = network.receptive_field
    x = torch.rand(1, 3, 96, 96)
    changed = x.clone()
    changed[..., 48 + radius + 1 :, :] = 0  # beyond the field of row 48
    with torch.no_grad():
        torch.testing.assert_close(network(x)[..., 48, :], network(changed)[..., 48, :])


def test_the_super_network_trains_every_sub_network(tmp_path, sample_pixels):
    """One sandwich step moves the weights the smallest sub-network uses and those only the largest uses."""
    from dataclasses import replace

    from PIL import Image
    from safetensors.torch import load_file

    from enhance_cli.training.loop import train
    from enhance_cli.training.recipes import RECIPES

    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(sample_pixels[:96, :96]).save(data / "0.png")
    recipe = replace(
        RECIPES["dds-supernet"], config={"channels": [16, 16, 16]}, data=(data,), patch=32, batch=2, steps=1
    )
    start = load_file(str(train(replace(recipe, steps=0), tmp_path / "start")))
    trained = load_file(str(train(recipe, tmp_path / "run")))
    assert not torch.equal(trained["head.weight"][:8], start["head.weight"][:8])  # the smallest's filters
    assert not torch.equal(trained["head.weight"][8:], start["head.weight"][8:])  # the largest's only
