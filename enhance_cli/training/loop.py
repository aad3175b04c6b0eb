"""The training loop every recipe runs: resumable, logged, checkpointed."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from enhance_cli.cfa import COLOUR_FILTERS_BY_NAME
from enhance_cli.colour import apply_matrix, linear_to_srgb
from enhance_cli.registry import build_architecture
from enhance_cli.tasks import TASKS
from enhance_cli.training.camera_noise import noisy_pairs
from enhance_cli.training.data import PatchSampler
from enhance_cli.training.recipes import Recipe
from enhance_cli.training.slimming import psnr_per_image
from enhance_cli.training.unprocess import demosaic_difficulty, texture_noise, unprocess


def stratified_levels(
    low: float, high: float, count: int, rng: np.random.Generator, pin_ends: bool = False
) -> list[float]:
    """``count`` levels, one drawn uniformly from each of ``count`` equal bins of [low, high].

    ``pin_ends``: the first and last are ``low`` and ``high`` themselves and the rest are stratified between,
    because a level-conditioned network is weakest at the ends of its range, where it cannot interpolate.
    """
    if pin_ends and count >= 2:
        return [float(low), *stratified_levels(low, high, count - 2, rng), float(high)]
    edges = np.linspace(low, high, count + 1)
    return [float(rng.uniform(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=False)]


def on_device(model: nn.Module, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """``tensors`` moved to where ``model``'s weights are. Batches are made on the CPU (numpy and a CPU
    generator); with ``--device cuda`` the network, and the loss where it is simple, run on the GPU."""
    device = next(model.parameters()).device
    return [tensor.to(device) for tensor in tensors]


def autocast(model: nn.Module, enabled: bool) -> torch.autocast:
    """bf16 autocast on the model's device type, where the recipe asks for it."""
    return torch.autocast(next(model.parameters()).device.type, dtype=torch.bfloat16, enabled=enabled)


def restoration_loss(
    model: nn.Module, clean: torch.Tensor, recipe: Recipe, rng: np.random.Generator, generator: torch.Generator
) -> torch.Tensor:
    """HyperRes training: patches at several levels (the same ones, or each level its own), one generated
    network per level."""
    task = TASKS[recipe.task]
    if task.prepare is not None:
        clean = task.prepare(clean, generator)
    levels = stratified_levels(*recipe.level_range, recipe.levels_per_step, rng, pin_ends=recipe.pin_level_ends)
    groups = [clean] * len(levels) if recipe.shared_patches else clean.chunk(len(levels))
    losses = []
    for level, target in zip(levels, groups, strict=True):
        degraded = task.degrade(target, level, generator)
        degraded, target = on_device(model, degraded, target)
        with autocast(model, recipe.bf16):
            restored = model(degraded, level / recipe.norm_scale)
        loss = (restored.float() - target).abs().mean()
        if recipe.relative_loss:
            loss = loss / (degraded - target).abs().mean().clamp_min(1e-3)
        losses.append(loss)
    return torch.stack(losses).mean()


def estimation_loss(
    model: nn.Module, clean: torch.Tensor, recipe: Recipe, rng: np.random.Generator, generator: torch.Generator
) -> torch.Tensor:
    """Blind estimator training: each patch at its own random level; the estimator's own loss."""
    task = TASKS[recipe.task]
    if task.prepare is not None:
        clean = task.prepare(clean, generator)
    levels = rng.uniform(*recipe.level_range, size=len(clean))
    degraded = torch.cat([task.degrade(c[None], float(lv), generator) for c, lv in zip(clean, levels, strict=False)])
    target = torch.from_numpy(levels / recipe.norm_scale).float()
    with autocast(model, recipe.bf16):
        return model.loss(*on_device(model, degraded, target))


def isp_loss(
    model: nn.Module,
    clean: torch.Tensor,
    recipe: Recipe,
    rng: np.random.Generator,
    generator: torch.Generator,
    texture: np.ndarray | None = None,
) -> torch.Tensor:
    """RAW development: unprocessed noisy mosaics in, L1 (or the squared error) in sRGB after each sample's
    colour matrix."""
    batch = unprocess(
        clean,
        rng,
        generator,
        saturation=recipe.saturation,
        identity_fraction=recipe.identity_cameras,
        cfa=COLOUR_FILTERS_BY_NAME[recipe.mosaic],
        texture=texture,
    )
    inputs = torch.cat([batch.mosaic, batch.noise_std], dim=1) if model.input_channels == 2 else batch.mosaic
    with autocast(model, recipe.bf16):
        camera = model(*on_device(model, inputs)).cpu()
    developed = linear_to_srgb(apply_matrix(camera.float(), batch.camera_to_srgb))
    error = developed - linear_to_srgb(batch.target)
    return error.square().mean() if recipe.squared_error else error.abs().mean()


SANDWICH = 4  # sub-networks per step: the largest, the smallest and two drawn at random (DDS-Net's n = 4)
# In-place synergy's weight beside the ground truth. DDS-Net supervises the smaller sub-networks by the larger
# ones' outputs alone; here that collapsed the largest from 31.1 to 26.7 dB validation PSNR within 40 steps
# (every sub-network pulled the shared weights towards agreeing with the others rather than with the target),
# while the target plus half the synergy term kept it at 30.1 and trained the smallest as well (27.6 dB).
SYNERGY_WEIGHT = 0.5


def slimmable_loss(
    model: nn.Module, clean: torch.Tensor, recipe: Recipe, rng: np.random.Generator, generator: torch.Generator
) -> torch.Tensor:
    """DDS-Net stage 1 on camera-noise pairs: the sandwich rule with in-place synergy. The largest sub-network
    learns from the target; random ones from the target and the largest's output, the smallest from the target
    and the mean of them all."""
    noisy, target = on_device(model, *noisy_pairs(clean, rng, generator))
    largest = model(noisy, widths=model.largest)
    losses = [(largest - target).abs().mean()]
    teachers = [largest.detach()]

    def learn(output: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return (output - target).abs().mean() + SYNERGY_WEIGHT * (output - teacher).abs().mean()

    for _ in range(SANDWICH - 2):
        output = model(noisy, widths=model.random_widths(rng))
        losses.append(learn(output, teachers[0]))
        teachers.append(output.detach())
    losses.append(learn(model(noisy, widths=model.smallest), torch.stack(teachers).mean(dim=0)))
    return torch.stack(losses).sum()


def ladder_loss(
    model: nn.Module, clean: torch.Tensor, recipe: Recipe, rng: np.random.Generator, generator: torch.Generator
) -> torch.Tensor:
    """The ladder retrained: only the rungs progressive slimming kept, every one each step. The widest learns
    from the target; each thinner rung from the target and, at the synergy weight, the widest's output."""
    noisy, target = on_device(model, *noisy_pairs(clean, rng, generator))
    *thinner, widest = model.rungs
    teacher_output = model(noisy, widths=widest)
    teacher = teacher_output.detach()
    losses = [(teacher_output - target).abs().mean()]
    for widths in thinner:
        output = model(noisy, widths=widths)
        losses.append((output - target).abs().mean() + SYNERGY_WEIGHT * (output - teacher).abs().mean())
    return torch.stack(losses).sum()


def denoising_loss(
    model: nn.Module, clean: torch.Tensor, recipe: Recipe, rng: np.random.Generator, generator: torch.Generator
) -> torch.Tensor:
    """A static denoiser on the super-network's camera-noise pairs: the baseline DDS-Net is measured against."""
    noisy, target = on_device(model, *noisy_pairs(clean, rng, generator))
    return (model(noisy) - target).abs().mean()


GATE_BETA = 0.2  # dB: a rung is good enough for a patch when it is within this of the largest (DDS-Net's beta)


def gate_labels(psnrs: torch.Tensor, beta: float = GATE_BETA) -> torch.Tensor:
    """Per patch (rows of N x rungs PSNRs, cheapest rung first): the cheapest rung within ``beta`` of the largest.

    DDS-Net's labels are two-way (smallest if the largest gains under beta, else largest); with more rungs the
    same rule picks the cheapest one that loses under beta.
    """
    good_enough = psnrs >= psnrs[:, -1:] - beta
    return good_enough.int().argmax(dim=1)  # the first True


def gate_labels_by_error(errors: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Per patch (rows of N x rungs mean squared errors, cheapest rung first): the cheapest rung whose error
    exceeds the largest's by at most ``tolerance``."""
    good_enough = errors <= errors[:, -1:] + tolerance
    return good_enough.int().argmax(dim=1)


def gate_loss(
    model: nn.Module, clean: torch.Tensor, recipe: Recipe, rng: np.random.Generator, generator: torch.Generator
) -> torch.Tensor:
    """DDS-Net stage 3: the gate learns each patch's label online, the super-network frozen; plus the complexity
    term ((spent - budget) / full)^2 on the batch's expected FLOPs, with the budget the ladder's knee."""
    noisy, target = on_device(model, *noisy_pairs(clean, rng, generator))
    with torch.no_grad():
        outputs = [model(noisy, widths=widths).clamp(0, 1) for widths in model.rungs]
    if recipe.gate_tolerance is None:
        labels = gate_labels(torch.stack([psnr_per_image(output, target) for output in outputs], dim=1))
    else:
        errors = torch.stack([((output - target) ** 2).mean(dim=(1, 2, 3)) for output in outputs], dim=1)
        labels = gate_labels_by_error(errors, recipe.gate_tolerance)
    logits = model.gate_logits(noisy)
    if recipe.gate_tolerance is not None:  # the labels say what each patch needs; no pull towards a mean cost
        return nn.functional.cross_entropy(logits, labels)
    relative = torch.as_tensor(model.relative_rung_costs(), device=logits.device).float()
    spent = (logits.softmax(dim=1) * relative).sum(dim=1).mean()
    return nn.functional.cross_entropy(logits, labels) + (spent - model.default_budget) ** 2


OBJECTIVES = {
    "restore": restoration_loss,
    "estimate": estimation_loss,
    "isp": isp_loss,
    "slimmable": slimmable_loss,
    "ladder": ladder_loss,
    "denoise": denoising_loss,
    "gate": gate_loss,
}
DIFFICULTIES = {"isp": demosaic_difficulty}  # what hard-patch mining ranks patches by, per objective


def learning_rate(recipe: Recipe, step: int) -> float:
    """Linear warm-up, then cosine decay to 1% of the peak."""
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def parameter_groups(model: nn.Module, recipe: Recipe) -> list[dict]:
    """The trainable parameters, grouped by ``recipe.lr_scales`` (the rest at scale 1)."""
    groups = [{"params": [], "scale": float(scale)} for _, scale in recipe.lr_scales] + [{"params": [], "scale": 1.0}]
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            chosen = next((i for i, (prefixes, _) in enumerate(recipe.lr_scales) if name.startswith(prefixes)), -1)
            groups[chosen]["params"].append(parameter)
    return [group for group in groups if group["params"]]


def train(
    recipe: Recipe,
    run_dir: Path,
    threads: int | None = None,
    init: Path | None = None,
    minutes: float | None = None,
    device: str = "cpu",
) -> Path:
    """Train ``recipe`` in ``run_dir`` (resuming from its checkpoint); return the exported weights.

    ``init``: safetensors weights to start a fresh run from (e.g. the published model, to train it further).
    ``minutes``: stop after this much wall time (checkpointed and exported; run again to go on).
    ``device``: where the network trains ("cuda" on a lent GPU); batches are made on the CPU either way.
    """
    if device != "cpu" and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: this machine has no CUDA GPU that torch can use")
    if threads:
        torch.set_num_threads(threads)
    # Subnormal floats take a slow microcode path on x86: demosaicnet's converted weights trained 7x slower
    # (6.7 s a step against 0.95) until they were flushed to zero.
    torch.set_flush_denormal(True)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = open(run_dir / "train.log", "a", buffering=1)
    checkpoint_path = run_dir / "checkpoint.pt"

    torch.manual_seed(recipe.seed)
    # Channels-last convolutions train about 15% faster on CPUs (oneDNN's native layout).
    model = build_architecture(recipe.architecture, recipe.config).to(device, memory_format=torch.channels_last)
    if recipe.trainable:  # a later stage trains part of the network; the rest stays as the earlier stage left it
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name.startswith(recipe.trainable))
    optimizer = torch.optim.Adam(parameter_groups(model, recipe), lr=recipe.lr)
    rng = np.random.default_rng(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    step, elapsed, threads_used = 0, 0.0, torch.get_num_threads()
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        threads_used = state.get("threads", threads_used)  # a finished run reopened to publish keeps its own
        # A resumed run draws fresh data from a step-dependent seed rather than replaying the start.
        rng = np.random.default_rng([recipe.seed, step])
        generator.manual_seed(recipe.seed * 1_000_003 + step)
        print(f"resumed at step {step}", file=log)
    elif init is not None:
        from safetensors.torch import load_file

        # Non-strict: a network grown by new, zero-initialised layers starts from its smaller predecessor.
        dropped = recipe.init_drop
        state = {k: v for k, v in load_file(str(init)).items() if not (dropped and k.startswith(dropped))}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected:
            raise ValueError(f"{init} does not fit {recipe.architecture}: unexpected {unexpected}")
        print(f"initialised from {init}" + (f"; new layers: {missing}" if missing else ""), file=log)

    sampler = PatchSampler(
        list(recipe.data),
        recipe.patch,
        downscale=recipe.downscale,
        full_chroma=recipe.full_chroma,
        hard_share=recipe.hard_share,
        difficulty=DIFFICULTIES.get(recipe.objective),
    )
    print(f"{recipe.name}: {len(sampler)} images, {sum(p.numel() for p in model.parameters())} params", file=log)
    textures = np.array([texture_noise(image) for image in sampler.images]) if recipe.texture_noise else None
    objective = OBJECTIVES[recipe.objective]
    model.train()
    running, started = 0.0, time.time() - elapsed
    deadline = time.time() + 60 * minutes if minutes else math.inf
    while step < recipe.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(recipe, step) * group.get("scale", 1.0)  # runs from before scales have none
        clean, sources = sampler.sample_with_sources(recipe.patches_per_step, rng)
        extras = {"texture": textures[sources]} if textures is not None else {}
        loss = objective(model, clean, recipe, rng, generator, **extras)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        threads_used = torch.get_num_threads()
        running += loss.item()
        if step % recipe.log_every == 0:
            print(
                f"step {step} loss {running / recipe.log_every:.5f} lr {learning_rate(recipe, step):.2e} "
                f"elapsed {time.time() - started:.0f}s",
                file=log,
            )
            running = 0.0
        out_of_time = time.time() > deadline
        if step % recipe.checkpoint_every == 0 or step == recipe.steps or out_of_time:
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "elapsed": time.time() - started,
                "threads": threads_used,
            }
            torch.save(state, run_dir / "checkpoint.tmp")
            (run_dir / "checkpoint.tmp").replace(checkpoint_path)
        if out_of_time:
            print(f"stopped at step {step}: the {minutes:g}-minute budget is spent; run again to go on", file=log)
            break

    weights = run_dir / f"{recipe.name}.safetensors"
    save_file({k: v.contiguous().cpu() for k, v in model.state_dict().items()}, str(weights))
    summary = {
        "recipe": recipe.name,
        "steps": step,
        "wall_seconds": round(time.time() - started),
        "threads": threads_used,
        "device": torch.cuda.get_device_name(device) if device != "cpu" else "cpu",
        "initialised_from": str(init) if init else None,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"done: {summary}", file=log)
    return weights
