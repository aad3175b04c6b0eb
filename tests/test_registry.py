"""The registry: where the weights are, cards that describe them (with their FLOPs), and refused tampering."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enhance_cli import registry
from enhance_cli.cli import app
from enhance_cli.registry import ModelNotFound, WeightsCorrupted, list_cards, load_model, sha256_of

from .conftest import ROOT

runner = CliRunner()
# What `enhance models` runs, in a fresh interpreter (so torch imported by other tests does not count).
LIST_MODELS = "from enhance_cli.cli import app; app()"


def enhance(*args):
    return runner.invoke(app, [str(a) for a in args])


def weights_copy(folder, *names):
    """A weights folder holding copies of these models (card and weights)."""
    for name in names:
        for path in registry.CHECKOUT_WEIGHTS.glob(f"{name}.*"):
            shutil.copy(path, folder / path.name)
    return folder


def test_every_shipped_card_matches_its_weights():
    cards = list_cards()
    assert len(cards) == 10 and {"hyperres-noise", "dds-denoise", "isp", "isp-v2", "isp-xtrans"} <= {
        c.name for c in cards
    }
    for card in cards:
        assert sha256_of(card.weights_path) == card.sha256
        assert card.extra["training"]["command"]
        # Trained here, or converted from published weights whose source, notice and conversion the card gives.
        licence = card.extra.get("licence", {})
        assert card.extra["training"]["steps"] > 0 or {"source", "notice", "conversion"} <= set(licence)


def test_a_checkout_reads_its_top_level_weights(monkeypatch):
    monkeypatch.delenv(registry.WEIGHTS_ENV, raising=False)
    assert registry.weights_dir() == ROOT / "weights"


def test_default_denoiser_covers_sigma_5_to_75():
    card = registry.find_card(task="noise")
    assert card.name == "hyperres-noise"
    assert (card.level.minimum, card.level.maximum) == (5, 75)
    assert card.estimator == "sigma-estimator"


def test_models_without_weights_exits_1_naming_the_folder(tmp_path):
    environment = {**_environ(), registry.WEIGHTS_ENV: str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", LIST_MODELS, "models"], env=environment, capture_output=True, text=True
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: no models found in {tmp_path} ")
    assert result.stderr.count("\n") == 1


def test_image_commands_without_weights_name_the_folder(tmp_path, monkeypatch, small_png):
    monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path))
    result = enhance("restore", "--level", "25", small_png)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: no models found in {tmp_path} ")


@pytest.mark.parametrize("damage", ["tampered", "missing"])
def test_damaged_weights_give_a_one_line_error_naming_the_file(tmp_path, monkeypatch, small_png, damage):
    weights = weights_copy(tmp_path, "hyperres-noise", "sigma-estimator") / "hyperres-noise.safetensors"
    if damage == "tampered":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF
        weights.write_bytes(bytes(data))
    else:
        weights.unlink()
    monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(WeightsCorrupted) as raised:
        load_model(registry.find_card("hyperres-noise"))
    message = str(raised.value)
    assert message.startswith(f"{weights}: ") and message.endswith("; reinstall enhance") and "\n" not in message
    if damage == "tampered":
        card = json.loads((tmp_path / "hyperres-noise.json").read_text())
        assert f"sha256 mismatch (file {sha256_of(weights)[:8]}..., card {card['sha256'][:8]}...)" in message

    result = enhance("restore", "--level", "25", small_png)
    assert result.exit_code == 1 and result.stderr == f"error: {message}\n"  # a broken install, not a usage error


def test_registry_errors_print_without_quotes(small_png):
    assert str(ModelNotFound("no model named 'nope'")) == "no model named 'nope'"
    result = enhance("restore", "--model", "nope", "--level", "25", small_png)
    assert result.exit_code == 2
    assert result.stderr == "error: no model named 'nope'; `enhance models` lists them\n"


def test_weights_are_safetensors_not_pickles():
    for card in list_cards():
        header_length = int.from_bytes(card.weights_path.read_bytes()[:8], "little")
        header = json.loads(card.weights_path.read_bytes()[8 : 8 + header_length])
        assert all("dtype" in v for k, v in header.items() if k != "__metadata__")


def test_cards_record_the_flops_their_architecture_traces_to():
    from enhance_cli.flops import card_flops, parameter_count

    for card in list_cards():
        recorded = json.loads((card.folder / f"{card.name}.json").read_text())
        traced = card_flops(card.architecture, card.config)
        assert {k: recorded[k] for k in traced} == traced, card.name
        assert traced["flops_per_pixel"] == sum(traced["flops_by_part"].values())
        network = registry.build_architecture(card.architecture, card.config)
        assert card.parameter_count() == parameter_count(network)


def test_models_lists_flops_from_the_cards_without_torch():
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", LIST_MODELS, "models", "--json"], env=_environ(), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert seconds < 1.5  # it took 5 s when it traced every model with torch
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for card in list_cards():
        row = rows[card.name]
        assert row["flops_by_part"] == card.flops_by_part and row["flops_per_pixel"] == card.flops_per_pixel
        assert row["params"] > 0

    check = "import sys, enhance_cli.cli, enhance_cli.commands as c; c.model_rows(); print('torch' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", check], env=_environ(), capture_output=True, text=True)
    assert imported.stdout == "False\n", imported.stderr


def _environ() -> dict[str, str]:
    """This process's environment without ENHANCE_WEIGHTS: the default weights."""
    return {k: v for k, v in os.environ.items() if k != registry.WEIGHTS_ENV}


def damage_card(folder: Path, name: str, damage: str) -> Path:
    """Damage model ``name`` in ``folder`` as an interrupted copy or a careless edit would."""
    card, weights = folder / f"{name}.json", folder / f"{name}.safetensors"
    if damage == "truncated card":
        card.write_bytes(card.read_bytes()[:300])
    elif damage == "card without sha256":
        data = json.loads(card.read_text())
        del data["sha256"]
        card.write_text(json.dumps(data))
    else:  # truncated weights whose card was updated to match them
        weights.write_bytes(weights.read_bytes()[:100_000])
        data = json.loads(card.read_text())
        card.write_text(json.dumps({**data, "sha256": sha256_of(weights)}))
    return weights if damage == "truncated weights" else card


@pytest.mark.parametrize("damage", ["truncated card", "card without sha256", "truncated weights"])
def test_a_damaged_model_fails_in_one_line_and_stops_only_what_uses_it(tmp_path, monkeypatch, small_png, damage):
    weights_copy(tmp_path, "hyperres-noise", "sigma-estimator", "hyperres-sr")
    named = damage_card(tmp_path, "hyperres-sr", damage)
    monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path))
    result = enhance("sr", "--scale", "2", small_png, "-o", tmp_path / "big.png")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {named}: ") and result.stderr.endswith("; reinstall enhance\n")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "big.png").exists()

    assert enhance("restore", "--level", "25", small_png, "-o", tmp_path / "o.png", "-q").exit_code == 0
    listed = subprocess.run(
        [sys.executable, "-c", LIST_MODELS, "models", "--json"],
        env={**_environ(), registry.WEIGHTS_ENV: str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 1
    assert [row["name"] for row in json.loads(listed.stdout)] == ["hyperres-noise", "sigma-estimator"]
    assert listed.stderr.startswith(f"error: {named}: ") and listed.stderr.count("\n") == 1
