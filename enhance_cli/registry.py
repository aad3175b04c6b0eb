"""The model registry: architectures in code, trained models in a weights folder.

A trained model is ``<name>.safetensors`` plus ``<name>.json``, its card: architecture, config,
task, level range, cost in FLOPs, training provenance, benchmarks and the sha256 of the weights.
Loading checks the hash and never unpickles. Reading cards needs no torch, so listing models is fast.

The weights folder is ``$ENHANCE_WEIGHTS`` if set, else the copy an installed wheel carries inside
the package (``enhance_cli/weights``), else the checkout's top-level ``weights/`` (editable install).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

WEIGHTS_ENV = "ENHANCE_WEIGHTS"
CHECKOUT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def weights_dir() -> Path:
    """The folder of trained models: ``$ENHANCE_WEIGHTS``, the package's own copy, or the checkout's."""
    override = os.environ.get(WEIGHTS_ENV)
    if override:
        return Path(override).expanduser()
    packaged = Path(str(resources.files("enhance_cli") / "weights"))
    if packaged.is_dir() or not CHECKOUT_WEIGHTS.is_dir():
        return packaged
    return CHECKOUT_WEIGHTS


# Where training and benchmarks write cards (the checkout's weights/ in a development install).
WEIGHTS_DIR = weights_dir()

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
    flops_by_part: dict[str, float] = field(default_factory=dict)  # per input pixel: "conv" and "mlp"
    folder: Path = field(default_factory=weights_dir)  # where the card and its weights are
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        return self.folder / f"{self.name}.safetensors"

    def existing_weights_path(self) -> Path:
        """The weights file, or WeightsCorrupted if it is missing."""
        if not self.weights_path.is_file():
            raise WeightsCorrupted(f"{self.weights_path}: missing (its card is {self.name}.json); reinstall enhance")
        return self.weights_path

    def flops(self) -> dict[str, float]:
        """FLOPs per input pixel by part, as the card records them (counted here, with torch, if it does not)."""
        if not self.flops_by_part:
            from enhance_cli.flops import architecture_flops

            self.flops_by_part = architecture_flops(self.architecture, self.config)
        return self.flops_by_part

    @property
    def flops_per_pixel(self) -> float:
        """FLOPs per input pixel in all (the card's ``flops_per_pixel``)."""
        return sum(self.flops().values())

    def parameter_count(self) -> int:
        """The network's parameters: as the card records them where the weights also hold buffers (a dynamic
        network's ladder), else counted from the weights file's header (no torch, no tensors loaded)."""
        if "parameters" in self.extra:
            return int(self.extra["parameters"])
        from safetensors import safe_open

        path = self.existing_weights_path()
        try:
            with safe_open(str(path), framework="numpy") as weights:
                return sum(math.prod(weights.get_slice(key).get_shape()) for key in weights.keys())
        except Exception as error:  # safetensors raises its own error type for a damaged header
            raise WeightsCorrupted(f"{path}: unreadable ({str(error).splitlines()[0]}); reinstall enhance") from None

    @classmethod
    def from_json(cls, path: Path) -> ModelCard:
        """The card in ``path``; CardDamaged, naming the file, if it cannot be one."""
        try:
            return cls._from_data(json.loads(path.read_text()), path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            reason = f"no {error.args[0]!r} entry" if isinstance(error, KeyError) else str(error).split("\n")[0]
            raise CardDamaged(f"{path}: damaged model card ({reason}); reinstall enhance", path) from None

    @classmethod
    def _from_data(cls, data: dict[str, Any], path: Path) -> ModelCard:
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
            "flops_per_pixel",  # the sum of flops_by_part
            "flops_by_part",
        }
        level = LevelSpec(**data["level"]) if data.get("level") else None
        if not isinstance(data.get("sha256"), str) or len(data["sha256"]) != 64:
            raise ValueError("its sha256 is not 64 hexadecimal digits")
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
            flops_by_part=data.get("flops_by_part", {}),
            folder=path.parent,
            extra={k: v for k, v in data.items() if k not in known},
        )


class ModelNotFound(KeyError):
    """No such model, or no usable weights for it; ``str()`` is the one-line message for the user."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument, which would wrap the message in quotes.
        return str(self.args[0]) if self.args else ""


class WeightsCorrupted(ModelNotFound):
    """A weights file missing, or not matching the sha256 on its card.

    A ModelNotFound, so that commands report it, like an unknown model, as a one-line error.
    """


class CardDamaged(WeightsCorrupted):
    """A model card that cannot be read (truncated JSON, a missing entry); its message names the file."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def read_cards(folder: Path | None = None) -> tuple[list[ModelCard], list[CardDamaged]]:
    """Every readable card in ``folder`` (default: :func:`weights_dir`), by name, and the damaged ones' errors:
    a damaged card stops only what needs its model."""
    folder = weights_dir() if folder is None else folder
    cards, damaged = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            cards.append(ModelCard.from_json(path))
        except CardDamaged as error:
            damaged.append(error)
    return cards, damaged


def list_cards(folder: Path | None = None) -> list[ModelCard]:
    """Every readable card in ``folder`` (default: :func:`weights_dir`), by name."""
    return read_cards(folder)[0]


def find_card(name: str | None = None, task: str | None = None, folder: Path | None = None) -> ModelCard:
    """The card called ``name``, or the default model for ``task``. Where it is not found and a card is
    damaged, the damage is the likelier cause, and is what is raised."""
    folder = weights_dir() if folder is None else folder
    cards, damaged = read_cards(folder)
    if not cards and not damaged:
        raise ModelNotFound(no_models_message(folder))
    if name is not None:
        for card in cards:
            if card.name == name:
                return card
        own = [error for error in damaged if error.path == folder / f"{name}.json"]
        raise (own or [ModelNotFound(f"no model named {name!r}; `enhance models` lists them")])[0]
    for card in cards:
        if card.task == task and card.default_for_task:
            return card
    raise (damaged or [ModelNotFound(f"no default model for task {task!r}")])[0]


def no_models_message(folder: Path) -> str:
    return f"no models found in {folder} (reinstall enhance, or set {WEIGHTS_ENV} to a weights folder)"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(card: ModelCard) -> nn.Module:
    """Build the card's architecture and load its verified weights, ready for inference."""
    from safetensors.torch import load_file

    path = card.existing_weights_path()
    actual = sha256_of(path)
    if actual != card.sha256:
        raise WeightsCorrupted(
            f"{path}: sha256 mismatch (file {actual[:8]}..., card {card.sha256[:8]}...); reinstall enhance"
        )
    try:
        model = build_architecture(card.architecture, card.config)
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        model.load_state_dict(state)
    except Exception as error:  # a file that matches its card's sha256 yet is not these weights
        reason = str(error).split("\n")[0]
        raise WeightsCorrupted(
            f"{path}: does not load into {card.architecture} ({reason}); reinstall enhance"
        ) from None
    return model.eval().requires_grad_(False)
