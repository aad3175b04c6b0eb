"""The model registry: architectures in code, trained models in ``weights/``.

A trained model is ``weights/<name>.safetensors`` plus ``weights/<name>.json``, its card:
architecture, config, task, level range, training provenance, benchmarks and the
sha256 of the weights. Loading checks the hash and never unpickles.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

_ARCHITECTURES: dict[str, type[nn.Module]] = {}


def register_architecture(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make an architecture buildable from a card."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        _ARCHITECTURES[name] = cls
        return cls

    return add


def build_architecture(name: str, config: dict[str, Any]) -> nn.Module:
    import enhance_cli.models  # noqa: F401  (registers the architectures)

    if name not in _ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(sorted(_ARCHITECTURES))}")
    return _ARCHITECTURES[name](**config)


@dataclass
class LevelSpec:
    """How a task's level maps to the network's normalised input."""

    name: str  # e.g. "sigma"
    minimum: float
    maximum: float
    default: float | None
    norm_scale: float  # network level = value / norm_scale

    def normalise(self, value: float) -> float:
        return value / self.norm_scale


@dataclass
class ModelCard:
    name: str
    task: str
    architecture: str
    config: dict[str, Any]
    sha256: str
    level: LevelSpec | None = None
    estimator: str | None = None  # registry name of the blind level estimator
    default_for_task: bool = False
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.safetensors"

    @classmethod
    def from_json(cls, path: Path) -> ModelCard:
        data = json.loads(path.read_text())
        known = {
            "name",
            "task",
            "architecture",
            "config",
            "sha256",
            "level",
            "estimator",
            "default_for_task",
            "summary",
        }
        level = LevelSpec(**data["level"]) if data.get("level") else None
        return cls(
            name=data["name"],
            task=data["task"],
            architecture=data["architecture"],
            config=data.get("config", {}),
            sha256=data["sha256"],
            level=level,
            estimator=data.get("estimator"),
            default_for_task=data.get("default_for_task", False),
            summary=data.get("summary", ""),
            extra={k: v for k, v in data.items() if k not in known},
        )


class ModelNotFound(KeyError):
    pass


class WeightsCorrupted(RuntimeError):
    pass


def list_cards(weights_dir: Path = WEIGHTS_DIR) -> list[ModelCard]:
    return [ModelCard.from_json(p) for p in sorted(weights_dir.glob("*.json"))]


def find_card(name: str | None = None, task: str | None = None, weights_dir: Path = WEIGHTS_DIR) -> ModelCard:
    """The card called ``name``, or the default model for ``task``."""
    cards = list_cards(weights_dir)
    if name is not None:
        for card in cards:
            if card.name == name:
                return card
        raise ModelNotFound(f"no model named {name!r}; `enhance models` lists them")
    for card in cards:
        if card.task == task and card.default_for_task:
            return card
    raise ModelNotFound(f"no default model for task {task!r}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(card: ModelCard) -> nn.Module:
    """Build the card's architecture and load its verified weights, ready for inference."""
    from safetensors.torch import load_file

    path = card.weights_path
    if not path.is_file():
        raise ModelNotFound(f"weights for {card.name!r} missing: {path}")
    actual = sha256_of(path)
    if actual != card.sha256:
        raise WeightsCorrupted(
            f"{path} does not match its card (sha256 {actual[:12]}..., card says {card.sha256[:12]}...)"
        )
    model = build_architecture(card.architecture, card.config)
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)
