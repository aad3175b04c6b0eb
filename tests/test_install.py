"""Packaging: one version, and a built wheel that carries the weights where a plain install finds them."""

import json
import os
import subprocess
import sys
import zipfile
from importlib import metadata

from typer.testing import CliRunner

import enhance_cli
from enhance_cli.cli import app
from enhance_cli.registry import WEIGHTS_ENV, list_cards

from .conftest import ROOT


def test_installed_version_is_the_package_version():
    assert metadata.version("enhance-cli") == enhance_cli.__version__


def test_version_option_prints_it():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"enhance {enhance_cli.__version__}\n"


def test_wheel_ships_the_weights_where_an_install_finds_them(tmp_path):
    dist, site = tmp_path / "dist", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", dist, ROOT], check=True)
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"enhance_cli-{enhance_cli.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    cards = {card.name for card in list_cards()}
    assert {f"enhance_cli/weights/{name}.{suffix}" for name in cards for suffix in ("json", "safetensors")} <= shipped

    # The wheel's own files, ahead of this checkout on the path (its dependencies come from this environment),
    # run from outside the checkout: the models must come from inside the installed package.
    # As the README installs the cluster extra: from the wheel, whose own extra it must be (--no-deps: pip
    # still names an extra the wheel lacks; Dask itself is not needed here).
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--target", site, f"{wheel}[cluster]"], capture_output=True, text=True
    )
    assert installed.returncode == 0 and "does not provide the extra" not in installed.stderr, installed.stderr
    environment = {k: v for k, v in os.environ.items() if k != WEIGHTS_ENV} | {"PYTHONPATH": str(site)}
    print_weights_dir = "import sys, enhance_cli.registry as r; print(r.weights_dir(), file=sys.stderr)"
    script = f"{print_weights_dir}; import enhance_cli.cli as c; c.app()"
    command = [sys.executable, "-c", script, "models", "--json"]
    result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"{site / 'enhance_cli' / 'weights'}\n"
    assert {row["name"] for row in json.loads(result.stdout)} == cards


def test_missing_shared_data_skips_here_and_fails_under_ci(monkeypatch):
    import pytest

    from .conftest import REQUIRE_SHARED_DATA, shared_data

    monkeypatch.delenv(REQUIRE_SHARED_DATA, raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs ../shared/data/no/such/folder"):
        shared_data("no/such/folder")
    monkeypatch.setenv(REQUIRE_SHARED_DATA, "1")
    with pytest.raises(pytest.fail.Exception, match="needs ../shared/data/no/such/folder"):
        shared_data("no/such/folder")
