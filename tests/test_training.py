"""The training harness: degradations, patch sampling, and a loop that resumes where it stopped."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from enhance_cli.degradations import add_gaussian_noise, bicubic_downscale, jpeg_compress
from enhance_cli.tasks import TASKS
from enhance_cli.training.loop import restoration_loss, stratified_levels, train
from enhance_cli.training.recipes import RECIPES


def test_noise_is_clipped_quantised_and_has_the_right_sigma():
    clean = torch.full((1, 3, 64, 64), 0.5)
    noisy = add_gaussian_noise(clean, 25, torch.Generator().manual_seed(0))
    assert torch.equal(noisy, torch.round(noisy * 255) / 255)
    assert abs(float((noisy - clean).std()) * 255 - 25) < 1


def test_jpeg_and_bicubic_degradations():
    clean = torch.rand(2, 3, 32, 48)
    assert jpeg_compress(clean, 30).shape == clean.shape
    assert bicubic_downscale(clean, 2).shape == (2, 3, 16, 24)
    assert bicubic_downscale(clean, 3).shape == (2, 3, 11, 16)


def test_every_task_degrades_more_at_its_worse_end(real_crop):
    clean = torch.from_numpy(real_crop).permute(2, 0, 1)[None]
    for task in TASKS.values():
        # The worse end: high sigma, low JPEG quality, large scale.
        mild, harsh = (task.minimum, task.maximum) if task.name != "jpeg" else (task.maximum, task.minimum)
        errors = []
        for level in (mild, harsh):
            degraded = task.degrade(clean, level, torch.Generator().manual_seed(0))
            assert degraded.shape == clean.shape and 0 <= degraded.min() and degraded.max() <= 1
            errors.append(float((degraded - clean).abs().mean()))
        assert 0 < errors[0] < errors[1], task.name


def test_jpeg_training_makes_a_quarter_of_the_patches_grey():
    patches = TASKS["jpeg"].prepare(torch.rand(400, 3, 8, 8), torch.Generator().manual_seed(0))
    grey = (patches[:, 0] == patches[:, 1]).all(dim=(1, 2)) & (patches[:, 1] == patches[:, 2]).all(dim=(1, 2))
    assert 0.18 < float(grey.float().mean()) < 0.32


def test_stratified_levels_cover_the_range():
    levels = stratified_levels(5, 75, 4, np.random.default_rng(0))
    assert [int((lv - 5) // 17.5) for lv in levels] == [0, 1, 2, 3]


def test_pinned_levels_train_both_ends_and_stratify_between():
    levels = stratified_levels(2, 4, 4, np.random.default_rng(0), pin_ends=True)
    assert levels[0] == 2 and levels[-1] == 4
    assert 2 <= levels[1] <= 3 <= levels[2] <= 4


def test_each_level_can_see_its_own_patches():
    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.where = torch.nn.Parameter(torch.zeros(1))  # the loop puts batches where the weights are

        def forward(self, degraded, level):
            seen.append(degraded)
            return degraded

    model = Recorder()

    for shared in (True, False):
        recipe = dataclasses.replace(RECIPES["hyperres-sr"], batch=2, levels_per_step=4, shared_patches=shared)
        assert recipe.patches_per_step == (2 if shared else 8)
        # Flat patches, each its own grey: bicubic down and up keeps them, so each batch shows which patches it got.
        clean = torch.arange(recipe.patches_per_step).float().div(10).view(-1, 1, 1, 1).expand(-1, 3, 16, 16)
        seen.clear()
        restoration_loss(model, clean, recipe, np.random.default_rng(0), torch.Generator().manual_seed(0))
        greys = [[round(float(patch.mean()) * 10) for patch in batch] for batch in seen]
        assert greys == ([[0, 1]] * 4 if shared else [[0, 1], [2, 3], [4, 5], [6, 7]])


def test_training_runs_checkpoints_and_resumes(tmp_path, sample_pixels):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        Image.fromarray(sample_pixels[i * 100 : i * 100 + 80, :120]).save(data / f"{i}.png")
    recipe = dataclasses.replace(
        RECIPES["hyperres-noise"],
        config={"channels": 8, "blocks": 1},
        data=(data,),
        patch=32,
        batch=2,
        steps=4,
        checkpoint_every=2,
        log_every=2,
        warmup=1,
    )
    weights = train(recipe, tmp_path / "run")
    first = load_file(str(weights))
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 4

    longer = dataclasses.replace(recipe, steps=6)
    train(longer, tmp_path / "run")
    log = (tmp_path / "run" / "train.log").read_text()
    assert "resumed at step 4" in log and "step 6 " in log
    second = load_file(str(weights))
    assert any(not torch.equal(first[k], second[k]) for k in first)

    train(dataclasses.replace(recipe, steps=1), tmp_path / "again", init=weights)
    assert "initialised from" in (tmp_path / "again" / "train.log").read_text()

    # A spent wall-clock budget stops the run after one step, checkpointed and exported; the next call goes on.
    train(dataclasses.replace(recipe, steps=8), tmp_path / "budget", minutes=1e-9)
    assert json.loads((tmp_path / "budget" / "summary.json").read_text())["steps"] == 1
    assert "budget is spent" in (tmp_path / "budget" / "train.log").read_text()
    train(dataclasses.replace(recipe, steps=8), tmp_path / "budget")
    assert json.loads((tmp_path / "budget" / "summary.json").read_text())["steps"] == 8
    assert json.loads((tmp_path / "budget" / "summary.json").read_text())["device"] == "cpu"

    if not torch.cuda.is_available():  # the one flag that moves training to a lent GPU says why it cannot here
        with pytest.raises(SystemExit, match="--device cuda: this machine has no CUDA GPU"):
            train(recipe, tmp_path / "gpu", device="cuda")


def test_estimators_train_on_their_own_loss(tmp_path, sample_pixels):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(sample_pixels[:200, :200]).save(data / "0.png")
    for name in ("sigma-estimator", "quality-estimator"):
        recipe = dataclasses.replace(RECIPES[name], data=(data,), patch=32, batch=4, steps=3, warmup=1, log_every=1)
        weights = train(recipe, tmp_path / name)
        assert set(load_file(str(weights))) and "step 3 loss" in (tmp_path / name / "train.log").read_text()


def test_jpeg_quality_above_100_means_never_compressed(real_crop):
    clean = torch.from_numpy(real_crop.transpose(2, 0, 1).copy())[None]
    torch.testing.assert_close(TASKS["jpeg"].degrade(clean, 110.0, None), torch.round(clean * 255) / 255)
