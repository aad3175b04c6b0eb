"""Put a trained model into the registry: ``weights/<name>.safetensors`` plus its JSON card."""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
from datetime import date
from pathlib import Path

import torch

from enhance_cli.registry import WEIGHTS_DIR, sha256_of
from enhance_cli.training.data import image_files
from enhance_cli.training.recipes import Recipe


def publish(recipe: Recipe, run_dir: Path, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """Copy the run's weights into the registry and (re)write the card; keeps recorded benchmarks."""
    weights = weights_dir / f"{recipe.name}.safetensors"
    shutil.copyfile(run_dir / f"{recipe.name}.safetensors", weights)
    summary = json.loads((run_dir / "summary.json").read_text())
    card_path = weights_dir / f"{recipe.name}.json"
    previous = json.loads(card_path.read_text()) if card_path.exists() else {}
    root = recipe.data[0].parents[2]
    card = {
        "name": recipe.name,
        "task": recipe.task,
        "architecture": recipe.architecture,
        "config": recipe.config,
        "sha256": sha256_of(weights),
        **recipe.card,
        "training": {
            "command": f"python -m enhance_cli.training {recipe.name} --publish",
            "recipe": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in dataclasses.asdict(recipe).items()
                if k not in ("data", "card")
            },
            "data": {str(p.relative_to(root)): len(image_files(p)) for p in recipe.data},
            "steps": summary["steps"],
            "patches_seen": summary["steps"] * recipe.batch * recipe.levels_per_step,
            "wall_seconds": summary["wall_seconds"],
            "hardware": f"{platform.processor() or platform.machine()}, {summary['threads']} CPU thread(s), "
            f"torch {torch.__version__}, {'bf16 autocast' if recipe.bf16 else 'fp32'}",
            "date": date.today().isoformat(),
        },
        "benchmarks": previous.get("benchmarks", {}),
        "headline": previous.get("headline", ""),
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card_path
