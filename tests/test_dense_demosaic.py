"""The dense demosaicking trunk (models/dense_demosaic.py) and the conversion of demosaicnet's weights into it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from enhance_cli.cfa import XTRANS
from enhance_cli.models.dense_demosaic import DenseDemosaic
from enhance_cli.models.xtrans_demosaic import XTransDemosaic
from enhance_cli.training.demosaicnet_weights import (
    convert_bayer,
    convert_xtrans,
    demosaicnet_bayer_weights,
    demosaicnet_xtrans_weights,
)


def demosaicnet_layout(depth: int = 3, width: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in demosaicnet's BayerDemosaick layout (names and shapes), small."""
    generator = torch.Generator().manual_seed(seed)

    def random(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * 0.3

    weights = {"main_processor.pack_mosaic.weight": random(4, 3, 2, 2), "main_processor.pack_mosaic.bias": random(4)}
    for index in range(depth):
        inputs, outputs = (4 if index == 0 else width), (2 * width if index == depth - 1 else width)
        weights[f"main_processor.conv{index + 1}.weight"] = random(outputs, inputs, 3, 3)
        weights[f"main_processor.conv{index + 1}.bias"] = random(outputs)
    weights |= {
        "residual_predictor.weight": random(12, width, 1, 1),
        "residual_predictor.bias": random(12),
        "upsampler.weight": random(12, 1, 2, 2),
        "upsampler.bias": random(3),
        "fullres_processor.post_conv.weight": random(width, 6, 3, 3),
        "fullres_processor.post_conv.bias": random(width),
        "fullres_processor.output.weight": random(3, width, 1, 1),
        "fullres_processor.output.bias": random(3),
    }
    return weights


def demosaicnet_forward(weights: dict[str, torch.Tensor], planes: torch.Tensor, depth: int, width: int) -> torch.Tensor:
    """demosaicnet's BayerDemosaick.forward (pad=True) on a GRBG 3-plane mosaic, written out with torch's ops."""
    x = F.conv2d(planes, weights["main_processor.pack_mosaic.weight"], weights["main_processor.pack_mosaic.bias"], 2)
    for index in range(depth):
        name = f"main_processor.conv{index + 1}"
        x = F.relu(F.conv2d(x, weights[f"{name}.weight"], weights[f"{name}.bias"], padding=1))
    residual = F.conv2d(
        x[:, :width] * x[:, width:], weights["residual_predictor.weight"], weights["residual_predictor.bias"]
    )
    upsampled = F.conv_transpose2d(residual, weights["upsampler.weight"], weights["upsampler.bias"], 2, groups=3)
    x = F.relu(F.conv2d(torch.cat([planes, upsampled], 1), weights["fullres_processor.post_conv.weight"],
                        weights["fullres_processor.post_conv.bias"], padding=1))  # fmt: skip
    return F.conv2d(x, weights["fullres_processor.output.weight"], weights["fullres_processor.output.bias"])


def grbg_planes(mosaic: np.ndarray) -> torch.Tensor:
    """An RGGB mosaic as demosaicnet takes it: one reflected column each side (GRBG), 3 sparse planes."""
    shifted = np.pad(mosaic, ((0, 0), (1, 1)), mode="reflect")
    planes = np.zeros((3, *shifted.shape), np.float32)
    planes[0, 0::2, 1::2] = shifted[0::2, 1::2]
    planes[1, 0::2, 0::2] = shifted[0::2, 0::2]
    planes[1, 1::2, 1::2] = shifted[1::2, 1::2]
    planes[2, 1::2, 0::2] = shifted[1::2, 0::2]
    return torch.from_numpy(planes)[None]


def test_converted_weights_compute_what_demosaicnet_computes():
    weights = demosaicnet_layout()
    model = DenseDemosaic(width=8, depth=3, encoding="linear").eval()
    model.load_state_dict(convert_bayer(weights, depth=3))
    mosaic = np.random.default_rng(1).uniform(0, 1, (32, 48)).astype(np.float32)
    with torch.inference_mode():
        ours = model(torch.from_numpy(mosaic)[None, None])
        theirs = demosaicnet_forward(weights, grbg_planes(mosaic), depth=3, width=8)[..., 1:-1]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("demosaicnet") is None, reason="needs the bench extra (demosaicnet)")
def test_the_published_weights_convert_exactly():
    import demosaicnet

    reference = demosaicnet.BayerDemosaick(pretrained=True, pad=True).eval()
    model = DenseDemosaic(encoding="linear").eval()
    model.load_state_dict(convert_bayer(demosaicnet_bayer_weights()))
    mosaic = np.random.default_rng(2).uniform(0, 1, (64, 96)).astype(np.float32)
    with torch.inference_mode():
        torch.testing.assert_close(
            model(torch.from_numpy(mosaic)[None, None]), reference(grbg_planes(mosaic))[..., 1:-1]
        )


def test_receptive_field_bounds_what_an_output_pixel_sees():
    """Beyond the computed radius nothing reaches a column's outputs; one pixel inside it, something does."""
    model = DenseDemosaic(width=8, depth=3).eval()
    field = model.receptive_field
    image = torch.rand(1, 1, 64, 96)
    beyond, at = image.clone(), image.clone()
    beyond[..., 32 + field + 1 :] = torch.rand(1, 1, 64, 96 - 33 - field)
    at[..., 32 + field - 1] += 1
    with torch.inference_mode():
        assert torch.equal(model(image)[..., 32], model(beyond)[..., 32])
        assert not torch.equal(model(image)[..., 32], model(at)[..., 32])


def test_the_noise_head_starts_as_demosaicnet():
    """Told the noise map, the converted trunk computes exactly what it computed without it, until trained."""
    weights = convert_bayer(demosaicnet_layout(), depth=3)
    plain = DenseDemosaic(width=8, depth=3).eval()
    plain.load_state_dict(weights)
    told = DenseDemosaic(width=8, depth=3, noise_input=True).eval()
    missing, _ = told.load_state_dict(weights, strict=False)
    assert sorted(missing) == ["noise_head.bias", "noise_head.weight"] and told.input_channels == 2
    mosaic = torch.rand(1, 1, 32, 48)
    with torch.inference_mode():
        torch.testing.assert_close(told(torch.cat([mosaic, 0.05 * torch.rand_like(mosaic)], 1)), plain(mosaic))


def xtrans_planes(mosaic: np.ndarray) -> torch.Tensor:
    """An X-Trans mosaic in the network's phase as demosaicnet takes it: 3 sparse planes."""
    return torch.from_numpy(np.stack([mosaic * (XTRANS.per_site(np.arange(3), mosaic.shape) == c) for c in range(3)]))[
        None
    ]


def test_converted_xtrans_weights_compute_what_demosaicnet_computes():
    generator = torch.Generator().manual_seed(3)
    depth, width = 3, 8
    weights = {}
    for index in range(depth):
        weights[f"main_processor.conv{index + 1}.weight"] = (
            torch.randn(width, 3 if index == 0 else width, 3, 3, generator=generator) * 0.3
        )
        weights[f"main_processor.conv{index + 1}.bias"] = torch.randn(width, generator=generator) * 0.3
    weights |= {
        "fullres_processor.post_conv.weight": torch.randn(width, 3 + width, 3, 3, generator=generator) * 0.3,
        "fullres_processor.post_conv.bias": torch.randn(width, generator=generator) * 0.3,
        "fullres_processor.output.weight": torch.randn(3, width, 1, 1, generator=generator) * 0.3,
        "fullres_processor.output.bias": torch.randn(3, generator=generator) * 0.3,
    }
    model = XTransDemosaic(width=width, depth=depth, encoding="linear").eval()
    model.load_state_dict(convert_xtrans(weights, depth=depth))
    mosaic = np.random.default_rng(4).uniform(0, 1, (36, 48)).astype(np.float32)
    planes = xtrans_planes(mosaic)
    x = planes  # demosaicnet's XTransDemosaick.forward (pad=True), written out
    for index in range(depth):
        name = f"main_processor.conv{index + 1}"
        x = F.relu(F.conv2d(x, weights[f"{name}.weight"], weights[f"{name}.bias"], padding=1))
    x = F.relu(F.conv2d(torch.cat([planes, x], 1), weights["fullres_processor.post_conv.weight"],
                        weights["fullres_processor.post_conv.bias"], padding=1))  # fmt: skip
    theirs = F.conv2d(x, weights["fullres_processor.output.weight"], weights["fullres_processor.output.bias"])
    with torch.inference_mode():
        torch.testing.assert_close(model(torch.from_numpy(mosaic)[None, None]), theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("demosaicnet") is None, reason="needs the bench extra (demosaicnet)")
def test_the_published_xtrans_weights_convert_exactly():
    import demosaicnet

    reference = demosaicnet.XTransDemosaick(pretrained=True, pad=True).eval()
    model = XTransDemosaic(encoding="linear").eval()
    model.load_state_dict(convert_xtrans(demosaicnet_xtrans_weights()))
    mosaic = np.random.default_rng(5).uniform(0, 1, (48, 60)).astype(np.float32)
    with torch.inference_mode():
        torch.testing.assert_close(model(torch.from_numpy(mosaic)[None, None]), reference(xtrans_planes(mosaic)))


def test_xtrans_receptive_field_is_its_convolutions():
    assert XTransDemosaic(width=8, depth=3).receptive_field == 4


def test_narrowing_keeps_the_network_at_full_width_and_fits_the_narrower_one():
    from enhance_cli.training.narrow import narrow

    torch.manual_seed(0)
    model = DenseDemosaic(width=16, depth=4, noise_input=True).eval()
    torch.nn.init.normal_(model.noise_head.weight, std=0.1)
    inputs = torch.rand(4, 2, 32, 32)
    same = DenseDemosaic(width=16, depth=4, noise_input=True).eval()
    same.load_state_dict(narrow(model, inputs, 16))
    narrower = DenseDemosaic(width=12, depth=4, noise_input=True).eval()
    narrower.load_state_dict(narrow(model, inputs, 12))
    with torch.inference_mode():
        torch.testing.assert_close(same(inputs), model(inputs))
        assert narrower(inputs).shape == model(inputs).shape
