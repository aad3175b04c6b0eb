"""Start a narrower dense-demosaic from a trained wider one: keep each layer's most important channels.

    python -m enhance_cli.training.narrow runs/A/A.safetensors --width 48 runs/B-init/B-init.safetensors

Importance of a channel: its mean absolute activation on training mosaics times the L1 norm of the weights
that read it in the next layer (Molchanov et al. 2017 use the first-order Taylor term; this is its
magnitude-only cousin, with no gradients). The last trunk layer's channels come in pairs (filters and masks
multiplied), kept or dropped together. The narrower network then trains from these weights (``init=``),
recovering most of what the dropped channels carried in far fewer steps than training it from scratch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from enhance_cli.models.dense_demosaic import DenseDemosaic
from enhance_cli.training.data import PatchSampler
from enhance_cli.training.publish import write_start_weights
from enhance_cli.training.recipes import RECIPES
from enhance_cli.training.unprocess import unprocess

PATCHES = 64  # training patches the activations are measured on


def activation_means(model: DenseDemosaic, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Mean absolute activation per channel after each trunk ReLU, then after the full-resolution conv's."""
    means: list[torch.Tensor] = []
    hooks = [
        relu.register_forward_hook(lambda _, __, output: means.append(output.abs().mean(dim=(0, 2, 3))))
        for relu in model.trunk
        if isinstance(relu, nn.ReLU)
    ]
    hooks.append(
        model.post.register_forward_hook(lambda _, __, output: means.append(F.relu(output).mean(dim=(0, 2, 3))))
    )
    with torch.no_grad():
        model(inputs)
    for hook in hooks:
        hook.remove()
    return means


@torch.no_grad()
def narrow(model: DenseDemosaic, inputs: torch.Tensor, width: int) -> dict[str, torch.Tensor]:
    """A state dict for ``DenseDemosaic(width=width, ...)`` keeping ``model``'s most important channels."""
    means = activation_means(model, inputs)
    state = {name: value.clone() for name, value in model.state_dict().items()}
    convs = [module for module in model.trunk if isinstance(module, nn.Conv2d)]
    kept: list[torch.Tensor] = []
    for index in range(len(convs)):
        if index < len(convs) - 1:
            reader = convs[index + 1].weight.abs().sum(dim=(0, 2, 3))
            order = torch.argsort(means[index] * reader, descending=True)[:width]
        else:  # filters x masks: pairs (k, k + width), read together by the residual conv
            half = model.width
            reader = model.residual.weight.abs().sum(dim=(0, 2, 3))
            score = means[index][:half] * means[index][half:] * reader
            pairs = torch.sort(torch.argsort(score, descending=True)[:width]).values
            order = torch.cat([pairs, pairs + half])
        kept.append(torch.sort(order).values)
    for index, channels in enumerate(kept):
        name = f"trunk.{2 * index}"
        state[f"{name}.weight"] = state[f"{name}.weight"][channels]
        state[f"{name}.bias"] = state[f"{name}.bias"][channels]
        if index > 0:
            state[f"{name}.weight"] = state[f"{name}.weight"][:, kept[index - 1]]
    if "noise_head.weight" in state:
        state["noise_head.weight"] = state["noise_head.weight"][kept[0]]
        state["noise_head.bias"] = state["noise_head.bias"][kept[0]]
    state["residual.weight"] = state["residual.weight"][:, kept[-1][:width]]
    post = torch.sort(torch.argsort(means[-1] * model.output.weight.abs().sum(dim=(0, 2, 3)), descending=True)[:width])
    state["post.weight"], state["post.bias"] = state["post.weight"][post.values], state["post.bias"][post.values]
    state["output.weight"] = state["output.weight"][:, post.values]
    return state


def training_inputs(recipe_name: str, count: int = PATCHES, seed: int = 0) -> torch.Tensor:
    """Mosaics (with their noise maps) as the recipe trains on them: the training split only."""
    recipe = RECIPES[recipe_name]
    sampler = PatchSampler(list(recipe.data), recipe.patch, downscale=recipe.downscale, full_chroma=recipe.full_chroma)
    rng = np.random.default_rng(seed)
    clean = sampler.sample(count, rng)
    batch = unprocess(clean, rng, torch.Generator().manual_seed(seed), saturation=recipe.saturation)
    return torch.cat([batch.mosaic, batch.noise_std], dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a trained dense-demosaic's .safetensors (runs/R/R.safetensors)")
    parser.add_argument("output", type=Path, help="the narrower network's .safetensors to write")
    parser.add_argument("--width", type=int, required=True)
    args = parser.parse_args()
    recipe = RECIPES[args.source.stem]
    model = DenseDemosaic(**recipe.config).eval()
    model.load_state_dict(load_file(str(args.source)))
    inputs = training_inputs(recipe.name)
    if model.input_channels == 1:
        inputs = inputs[:, :1]
    state = narrow(model, inputs, args.width)
    DenseDemosaic(**{**recipe.config, "width": args.width}).load_state_dict(state)  # the layout must fit
    command = f"python -m enhance_cli.training.narrow {args.source} {args.output} --width {args.width}"
    write_start_weights(state, args.output, command)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
