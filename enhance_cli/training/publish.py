"""Put a trained model into the registry: ``weights/<name>.safetensors`` plus its JSON card."""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import save_file

from enhance_cli.flops import card_flops
from enhance_cli.registry import WEIGHTS_DIR, build_architecture, sha256_of
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
        **card_flops(recipe.architecture, recipe.config),
        **tiling_context(recipe.architecture, recipe.config),
        **ladder_context(recipe.architecture, recipe.config, weights),
        **recipe.card,
        "training": {
            "command": f"python -m enhance_cli.training {recipe.name} --publish",
            "recipe": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in dataclasses.asdict(recipe).items()
                if k not in ("data", "card")
            },
            "data": {str(p.relative_to(root)): len(image_files(p, "train")) for p in recipe.data},
            "validation_held_out": len([f for p in recipe.data for f in image_files(p, "validation")]),
            "steps": summary["steps"],
            "patches_seen": summary["steps"] * recipe.batch * recipe.levels_per_step,
            "wall_seconds": summary["wall_seconds"],
            "hardware": f"{platform.processor() or platform.machine()}, {summary['threads']} CPU thread(s), "
            + (f"{summary['device']} GPU, " if summary.get("device", "cpu") != "cpu" else "")
            + f"torch {torch.__version__}, {'bf16 autocast' if recipe.bf16 else 'fp32'}",
            "date": date.today().isoformat(),
            **_previous_stage(recipe),
        },
        "benchmarks": previous.get("benchmarks", {}),
        "headline": previous.get("headline", ""),
        "caveats": previous.get("caveats", []),
        "notes": previous.get("notes", ""),
        **({"licence": previous["licence"]} if "licence" in previous else {}),
    }
    write_card(card, weights_dir)
    return card_path


def _previous_stage(recipe: Recipe) -> dict:
    """The earlier stage a recipe starts from, with its own steps and wall time, so the card adds up."""
    if recipe.init is None:
        return {}
    summary_path = recipe.init.parent / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {
        "previous_stage": {
            "command": summary.get(
                "command", f"python -m enhance_cli.training {summary.get('recipe', recipe.init.stem)}"
            ),
            "weights": str(recipe.init),
            "steps": summary.get("steps"),
            "wall_seconds": summary.get("wall_seconds"),
        }
    }


def tiling_context(architecture: str, config: dict) -> dict:
    """A tiled network's ``receptive_field``, the ``tile_halo`` it is tiled with (pixels) and its default tile
    size in input pixels, halo included (none for estimators)."""
    network = build_architecture(architecture, config)
    if not hasattr(network, "receptive_field"):
        return {}
    return {
        "receptive_field": network.receptive_field,
        "tile_halo": network.tile_halo,
        "tile_pixels": network.tile_pixels,
    }


def ladder_context(architecture: str, config: dict, weights: Path) -> dict:
    """A dynamic network's sub-networks (widths and FLOPs per pixel) and its default budget (none for others)."""
    from safetensors.torch import load_file

    network = build_architecture(architecture, config)
    if not hasattr(network, "ladder_buffers"):
        return {}
    network.load_state_dict(load_file(str(weights)))
    return {
        "parameters": sum(p.numel() for p in network.parameters()),  # the weights file also holds the buffers
        "default_budget": round(float(network.default_budget), 4),
        "gate_flops_per_pixel": round(network.gate_flops_per_pixel),
        "sub_networks": [
            {"widths": widths.as_list(), "flops_per_pixel": round(flops)}
            for widths, flops in zip(network.rungs, network.rung_flops(), strict=True)
        ],
    }


def write_start_weights(weights: dict[str, torch.Tensor], output: Path, command: str) -> None:
    """Weights a training stage starts from that no training made (converted, narrowed), with a summary.json
    naming the command that made them: a card started from them records it as its earlier stage."""
    output.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.contiguous() for name, tensor in weights.items()}, str(output))
    summary = {"recipe": output.stem, "command": command, "steps": 0, "wall_seconds": 0}
    (output.parent / "summary.json").write_text(json.dumps(summary, indent=2))


def write_card(card: dict, weights_dir: Path = WEIGHTS_DIR) -> None:
    """Write the JSON card and its Markdown rendering side by side."""
    (weights_dir / f"{card['name']}.json").write_text(json.dumps(card, indent=2) + "\n")
    (weights_dir / f"{card['name']}.md").write_text(render_markdown(card))


def render_markdown(card: dict) -> str:
    training = card["training"]
    lines = [
        f"# {card['name']}",
        "",
        card.get("summary", ""),
        "",
        f"- task: `{card['task']}`; architecture: `{card['architecture']}` {json.dumps(card['config'])}",
    ]
    if card.get("level"):
        level = card["level"]
        lines.append(
            f"- level: {level['name']} {level['minimum']:g}-{level['maximum']:g} "
            f"(network input {level['name']}/{level['norm_scale']:g})"
        )
    if card.get("receptive_field"):
        halo = card.get("tile_halo", card["receptive_field"])
        lines.append(
            f"- receptive field: {card['receptive_field']} px (radius in input pixels); tiles run with "
            f"{halo} px of context"
            + ("" if halo == card["receptive_field"] else " (see the architecture's tile_halo)")
            + (
                f"; default tiles of {card['tile_pixels']:,} input pixels, the fastest"
                if card.get("tile_pixels")
                else ""
            )
        )
    if card.get("flops_by_part"):
        parts = card["flops_by_part"]
        lines.append(
            f"- FLOPs per input pixel: {card['flops_per_pixel']:,} (conv {parts['conv']:,}, MLP {parts['mlp']:,})"
        )
    lines += [
        f"- weights: `{card['name']}.safetensors`, sha256 `{card['sha256']}`",
        "",
        "## Training",
        "",
        f"- command: `{training['command']}`",
        f"- data: {', '.join(f'{k} ({v} images)' for k, v in training['data'].items())}",
        f"- steps: {training['steps']} ({training['patches_seen']} patches of {training['recipe']['patch']}px), "
        f"wall time {training['wall_seconds'] / 60:.0f} min on {training['hardware']}",
        f"- recipe: `{json.dumps(training['recipe'])}`",
    ]
    if training.get("previous_stage"):
        stage = training["previous_stage"]
        lines.append(
            f"- started from an earlier stage: `{stage['command']}` ({stage['steps']} steps, "
            f"{(stage['wall_seconds'] or 0) / 60:.0f} min), weights `{stage['weights']}`"
        )
    for stage in training.get("stages", []):  # a model trained in stages records each one
        took = f"{stage['steps']} steps, " if stage.get("steps") else ""
        lines.append(
            f"- stage {stage['stage']}: `{stage['command']}` ({took}{stage['wall_seconds'] / 60:.0f} min): "
            f"{stage.get('note', '')}"
        )
    lines += [
        "",
    ]
    if card.get("benchmarks"):
        lines += ["## Benchmarks", "", "```json", json.dumps(card["benchmarks"], indent=2), "```", ""]
    if card.get("caveats"):
        lines += ["## Caveats", "", *(f"- {caveat}" for caveat in card["caveats"]), ""]
    if card.get("notes"):
        lines += ["## Notes", "", card["notes"], ""]
    if card.get("licence"):  # weights started from someone else's: where from, their notice, how converted
        licence = card["licence"]
        lines += ["## Licence", "", f"- source: {licence['source']}", f"- conversion: `{licence['conversion']}`"]
        lines += ["", licence["notice"], ""]
    return "\n".join(lines)
