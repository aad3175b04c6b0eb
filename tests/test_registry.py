"""The registry: cards describe the weights, and weights that do not match their card are refused."""

import json
import shutil

import pytest

from enhance_cli import registry
from enhance_cli.registry import ModelCard, WeightsCorrupted, list_cards, load_model, sha256_of


def test_every_shipped_card_matches_its_weights():
    cards = list_cards()
    assert {"hyperres-noise", "sigma-estimator"} <= {c.name for c in cards}
    for card in cards:
        assert sha256_of(card.weights_path) == card.sha256
        assert card.extra["training"]["steps"] > 0 and card.extra["training"]["command"]


def test_default_denoiser_covers_sigma_5_to_75():
    card = registry.find_card(task="noise")
    assert card.name == "hyperres-noise"
    assert (card.level.minimum, card.level.maximum) == (5, 75)
    assert card.estimator == "sigma-estimator"


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    for path in registry.WEIGHTS_DIR.glob("sigma-estimator.*"):
        shutil.copy(path, tmp_path / path.name)
    weights = tmp_path / "sigma-estimator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    card = ModelCard.from_json(tmp_path / "sigma-estimator.json")
    with pytest.raises(WeightsCorrupted, match="does not match"):
        load_model(card)


def test_weights_are_safetensors_not_pickles():
    for card in list_cards():
        header_length = int.from_bytes(card.weights_path.read_bytes()[:8], "little")
        header = json.loads(card.weights_path.read_bytes()[8 : 8 + header_length])
        assert all("dtype" in v for k, v in header.items() if k != "__metadata__")
