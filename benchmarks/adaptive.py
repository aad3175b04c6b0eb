"""The adaptive claim: one network for a range of levels against networks trained for one level each.

    python -m enhance_cli.training hyperres-sr-2000   # and -at-2, -at-4; likewise hyperres-jpeg-2000, hyperres-sr-6000
    python benchmarks/adaptive.py --run hyperres-sr-2000 --update-card

Each trio has the same architecture and size and the same steps (recipes.adaptive_ablation); the
single-level networks see as many patches per step, all at their own level. Scored like the shipped
models: JPEG on LIVE1 (RGB PSNR), SR on Set5 + Set14 (Y-PSNR, border = scale), outputs rounded to 8 bits.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from dejpeg import compressed_set
from safetensors.torch import load_file
from sr import TEST, low_resolution_pair, luma

from enhance_cli.evaluate import quantise
from enhance_cli.metrics import psnr
from enhance_cli.registry import WEIGHTS_DIR, build_architecture
from enhance_cli.resize import upscale_picture
from enhance_cli.training.data import image_files
from enhance_cli.training.publish import write_card
from enhance_cli.training.recipes import RECIPES, Recipe

RUNS = Path(__file__).resolve().parents[1] / "runs"


def twins(recipe: Recipe) -> list[Recipe]:
    """The single-level networks an adaptive run is measured against: same task and steps
    (named by recipes.adaptive_ablation)."""
    prefix = f"hyperres-{recipe.task}-{recipe.steps}-at-"
    return [twin for name, twin in RECIPES.items() if name.startswith(prefix)]


# Every adaptive run that has single-level twins to be measured against.
ADAPTIVE_RUNS = [
    name for name, recipe in RECIPES.items() if recipe.level_range[0] < recipe.level_range[1] and twins(recipe)
]


def trained(recipe: Recipe) -> torch.nn.Module:
    model = build_architecture(recipe.architecture, recipe.config)
    model.load_state_dict(load_file(str(RUNS / recipe.name / f"{recipe.name}.safetensors")))
    return model.eval()


@torch.inference_mode()
def restored(model: torch.nn.Module, recipe: Recipe, pixels: np.ndarray, level: float) -> np.ndarray:
    pixels = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels  # greyscale runs as RGB
    model.set_level(level / recipe.norm_scale)
    output = model(torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None]).clamp(0, 1)
    return quantise(output[0].numpy().transpose(1, 2, 0))


def mean_psnr(model: torch.nn.Module, recipe: Recipe, task: str, level: float) -> float:
    scores = []
    if task == "jpeg":
        for _, clean, picture in compressed_set("LIVE1", int(level), None):
            scores.append(psnr(clean, restored(model, recipe, picture.pixels, level)))
    else:
        for dataset in ("Set5", "Set14"):
            for path in image_files(TEST / dataset):
                hr, picture = low_resolution_pair(path, level)
                upscaled = upscale_picture(picture, level).pixels
                output = restored(model, recipe, upscaled, level)
                scores.append(psnr(luma(hr), luma(output), math.ceil(level)))
    return float(np.mean(scores))


def compare(name: str) -> dict:
    """``name``: the adaptive run, against each of its single-level twins."""
    adaptive_recipe = RECIPES[name]
    task = adaptive_recipe.task
    adaptive = trained(adaptive_recipe)
    rows = {}
    for single_recipe in twins(adaptive_recipe):
        level = single_recipe.level_range[0]
        ours = mean_psnr(adaptive, adaptive_recipe, task, level)
        single = mean_psnr(trained(single_recipe), single_recipe, task, level)
        rows[f"{level:g}"] = {"adaptive": round(ours, 2), "single": round(single, 2), "gap": round(ours - single, 2)}
        print(f"{name} at {level:g}: adaptive {ours:.2f}, single-level {single:.2f}, gap {ours - single:+.2f} dB")
    return {
        "steps": adaptive_recipe.steps,
        "metric": "LIVE1 RGB PSNR" if task == "jpeg" else "Set5+Set14 (19 images) Y-PSNR",
        "levels": rows,
    }


def record(name: str, result: dict) -> None:
    """Keep ``result`` in the shipped model's card, under the run's steps and training options."""
    recipe = RECIPES[name]
    path = WEIGHTS_DIR / f"hyperres-{recipe.task}.json"
    card = json.loads(path.read_text())
    key = f"{result['steps']} steps" + (" relative loss" if recipe.relative_loss else "")
    key += "" if recipe.shared_patches else " own patches per level"
    key += " quadratic kernels" if recipe.config.get("level_order", 1) == 2 else ""
    key += " range ends pinned" if recipe.pin_level_ends else ""
    card.setdefault("benchmarks", {}).setdefault("adaptive_vs_single", {})[key] = result
    write_card(card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", choices=ADAPTIVE_RUNS, action="append", help="an adaptive run (default: all)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-card", action="store_true", help="record the results in the shipped models' cards")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.run or ADAPTIVE_RUNS:
        started = time.perf_counter()
        result = compare(name)
        given = f" --run {name}" + (f" --threads {args.threads}" if args.threads else "")
        result["command"] = f"python benchmarks/adaptive.py{given}"
        result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
        if args.update_card:
            record(name, result)


if __name__ == "__main__":
    main()
