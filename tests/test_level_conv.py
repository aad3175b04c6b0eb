"""Level conditioning: kernels are c*w+b (or quadratic), folding is exact, the level changes the network."""

import torch

from enhance_cli.models.hyperres import HyperRes
from enhance_cli.nn import LevelConv2d


def test_kernel_is_affine_in_the_level():
    conv = LevelConv2d(4, 5)
    torch.nn.init.normal_(conv.weight_slope)
    w0, b0 = conv.kernel(0.0)
    w1, b1 = conv.kernel(1.0)
    w, b = conv.kernel(0.3)
    assert torch.allclose(w0, conv.weight_base) and torch.allclose(b0, conv.bias_base)
    assert torch.allclose(w, 0.7 * w0 + 0.3 * w1, atol=1e-6)
    assert torch.allclose(b, 0.7 * b0 + 0.3 * b1, atol=1e-6)


def test_quadratic_kernel_starts_affine_and_folds_exactly():
    conv = LevelConv2d(3, 4, order=2)
    w, _ = conv.kernel(0.6)
    assert torch.allclose(w, 0.6 * conv.weight_slope + conv.weight_base)  # the c^2 term starts at zero
    torch.nn.init.normal_(conv.weight_curve)
    w0, w1, w2 = (conv.kernel(c)[0] for c in (0.0, 0.5, 1.0))
    assert torch.allclose(w0 - 2 * w1 + w2, 0.5 * conv.weight_curve, atol=1e-5)  # second difference: 2 h^2 v
    x = torch.randn(1, 3, 9, 11)
    expected = conv(x, 0.7)
    conv.fold(0.7)
    assert torch.allclose(conv(x), expected, atol=1e-5)


def test_folded_conv_matches_per_call_level():
    conv = LevelConv2d(3, 8)
    torch.nn.init.normal_(conv.weight_slope, std=0.1)
    x = torch.randn(2, 3, 17, 19)
    expected = conv(x, 0.42)
    conv.fold(0.42)
    assert torch.allclose(conv(x), expected, atol=1e-6)


def test_folded_network_equals_conditioned_network_and_depends_on_level():
    torch.manual_seed(0)
    model = HyperRes(channels=16, blocks=2).eval()
    for module in model.modules():
        if isinstance(module, LevelConv2d):
            torch.nn.init.normal_(module.weight_slope, std=0.05)
    x = torch.rand(1, 3, 31, 45)  # odd sizes: padded to the model's multiple and cropped back
    with torch.no_grad():
        low, high = model(x, 0.1), model(x, 0.9)
        model.set_level(0.9)
        folded = model(x)
    assert folded.shape == x.shape
    assert torch.allclose(folded, high, atol=1e-5)
    assert (low - high).abs().max() > 1e-3


def test_folding_adds_no_runtime_parameters():
    model = HyperRes(channels=16, blocks=2)
    before = sum(p.numel() for p in model.parameters())
    model.set_level(0.5)
    assert sum(p.numel() for p in model.parameters()) == before
