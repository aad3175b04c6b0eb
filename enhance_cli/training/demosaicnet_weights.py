"""Convert demosaicnet's pretrained weights (Gharbi et al. 2016, MIT licence) into our own architectures:
its Bayer network into ``dense-demosaic``, its X-Trans network into ``xtrans-demosaic``.

    pip install -e ".[bench]"   # demosaicnet, a benchmark-only extra
    python -m enhance_cli.training.demosaicnet_weights runs/dense-demosaic-init/dense-demosaic-init.safetensors
    python -m enhance_cli.training.demosaicnet_weights --xtrans runs/xtrans-init/xtrans-init.safetensors

The conversion is a training-time step: the result starts our own training, and enhance never imports
demosaicnet at run time. The same function maps any state dict of demosaicnet's layout.

Layer by layer (demosaicnet -> dense-demosaic): the 2x2 stride-2 packing conv on the sparse 3-plane mosaic
becomes a 1x1 conv on the 4 sub-images (each sub-image's weight is its colour's tap at its position); the 15
trunk convs, the residual predictor, the full-resolution conv and the output are copied; the grouped 2x2
transposed conv (upsampler) is folded into the residual predictor, whose 12 outputs are then shuffled.
The X-Trans network's 11 full-resolution convs, its full-resolution conv and output are copied as they are.

demosaicnet: Copyright (c) 2016 Michael Gharbi. MIT licence, as shipped in its package (LICENSE).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import torch

from enhance_cli.models.dense_demosaic import PLANE_OF_PHASE, DenseDemosaic
from enhance_cli.models.xtrans_demosaic import XTransDemosaic
from enhance_cli.training.publish import write_start_weights


def demosaicnet_bayer_weights() -> dict[str, torch.Tensor]:
    """The Bayer state dict shipped in the demosaicnet package (``data/bayer.pth``)."""
    return _demosaicnet_weights("bayer.pth")


def demosaicnet_xtrans_weights() -> dict[str, torch.Tensor]:
    """The X-Trans state dict shipped in the demosaicnet package (``data/xtrans.pth``)."""
    return _demosaicnet_weights("xtrans.pth")


def _demosaicnet_weights(name: str) -> dict[str, torch.Tensor]:
    """A state dict from the demosaicnet package's data, found without importing the package."""
    spec = importlib.util.find_spec("demosaicnet")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('demosaicnet is not installed: pip install -e ".[bench]"')
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    return torch.load(path, map_location="cpu", weights_only=True)


def convert_bayer(source: dict[str, torch.Tensor], depth: int = 15) -> dict[str, torch.Tensor]:
    """demosaicnet's BayerDemosaick state dict as a :class:`DenseDemosaic` state dict."""
    pack = source["main_processor.pack_mosaic.weight"]  # 4 x 3 x 2 x 2
    converted = {
        "pack.weight": torch.stack(
            [pack[:, colour, phase // 2, phase % 2] for phase, colour in enumerate(PLANE_OF_PHASE)], dim=1
        )[..., None, None],
        "pack.bias": source["main_processor.pack_mosaic.bias"].clone(),
    }
    for index in range(depth):
        for kind in ("weight", "bias"):
            converted[f"trunk.{2 * index}.{kind}"] = source[f"main_processor.conv{index + 1}.{kind}"].clone()
    # Upsampler: output colour c at sub-pixel (a, b) = sum over its group's 4 inputs k of w[4c + k, 0, a, b] * r_k.
    upsampler = source["upsampler.weight"]  # 12 x 1 x 2 x 2
    fold = torch.zeros(12, 12)
    for colour in range(3):
        for sub in range(4):
            for k in range(4):
                fold[4 * colour + sub, 4 * colour + k] = upsampler[4 * colour + k, 0, sub // 2, sub % 2]
    residual_weight = source["residual_predictor.weight"][:, :, 0, 0]  # 12 x 64
    converted["residual.weight"] = (fold @ residual_weight)[..., None, None]
    converted["residual.bias"] = fold @ source["residual_predictor.bias"] + source["upsampler.bias"].repeat_interleave(
        4
    )
    for ours, theirs in (("post", "fullres_processor.post_conv"), ("output", "fullres_processor.output")):
        for kind in ("weight", "bias"):
            converted[f"{ours}.{kind}"] = source[f"{theirs}.{kind}"].clone()
    return converted


def convert_xtrans(source: dict[str, torch.Tensor], depth: int = 11) -> dict[str, torch.Tensor]:
    """demosaicnet's XTransDemosaick state dict as a :class:`XTransDemosaic` state dict."""
    converted = {}
    for index in range(depth):
        for kind in ("weight", "bias"):
            converted[f"trunk.{2 * index}.{kind}"] = source[f"main_processor.conv{index + 1}.{kind}"].clone()
    for ours, theirs in (("post", "fullres_processor.post_conv"), ("output", "fullres_processor.output")):
        for kind in ("weight", "bias"):
            converted[f"{ours}.{kind}"] = source[f"{theirs}.{kind}"].clone()
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="the .safetensors file to write")
    parser.add_argument("--xtrans", action="store_true", help="the X-Trans network (default: Bayer)")
    args = parser.parse_args()
    if args.xtrans:
        weights = convert_xtrans(demosaicnet_xtrans_weights())
        XTransDemosaic().load_state_dict(weights)  # the layout must match exactly
    else:
        weights = convert_bayer(demosaicnet_bayer_weights())
        DenseDemosaic().load_state_dict(weights)
    command = f"python -m enhance_cli.training.demosaicnet_weights {'--xtrans ' if args.xtrans else ''}{args.output}"
    write_start_weights(weights, args.output, command)
    print(f"wrote {args.output} ({sum(t.numel() for t in weights.values()):,} parameters)")


if __name__ == "__main__":
    main()
