"""``python -m enhance_cli.training RECIPE [--run-dir DIR] [--threads N] [--device cuda] [--minutes M]``: train
one recipe."""

from __future__ import annotations

import argparse
from pathlib import Path

from enhance_cli.training.loop import train
from enhance_cli.training.publish import publish
from enhance_cli.training.recipes import RECIPES, stage_weights


def main() -> None:
    parser = argparse.ArgumentParser(description="Train a model from its recipe (resumes if interrupted).")
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--run-dir", type=Path, default=None, help="default: runs/<recipe>")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start a new run from these safetensors weights (default: the recipe's earlier stage, if any)",
    )
    parser.add_argument(
        "--minutes", type=float, default=None, help="stop after this much wall time (checkpointed; run again to go on)"
    )
    parser.add_argument(
        "--device", default="cpu", help="where the network trains: cpu, or cuda on a machine with a GPU"
    )
    parser.add_argument("--publish", action="store_true", help="then copy the weights and card into weights/")
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    if args.steps:
        from dataclasses import replace

        recipe = replace(recipe, steps=args.steps)
    run_dir = args.run_dir or stage_weights(recipe.name).parent
    init = args.init or recipe.init
    print(train(recipe, run_dir, threads=args.threads, init=init, minutes=args.minutes, device=args.device))
    if args.publish:
        print(publish(recipe, run_dir))


if __name__ == "__main__":
    main()
