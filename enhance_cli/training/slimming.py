"""DDS-Net stage 2: progressive slimming of the trained super-network into a ladder of sub-networks.

From the largest sub-network, try taking one channel group from each unit (a level's stream or a block's inner
width), keep the cut that loses least PSNR on held-out validation crops, record it, and repeat down to the
smallest. The recorded ladder is the FLOPs/PSNR curve the card shows; a few of its rungs, evenly spread in FLOPs,
become the sub-networks the gate chooses between.

``python -m enhance_cli.training.slimming [--weights W] [--out DIR]`` writes ``ladder.json`` and the stage-3
starting weights ``dds-ladder.safetensors`` (the super-network, its rungs and an untrained gate).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from enhance_cli.models.dds_net import DDSNet
from enhance_cli.models.dds_unet import DDSUNet, Widths
from enhance_cli.training.camera_noise import noisy_pairs
from enhance_cli.training.data import image_files
from enhance_cli.training.recipes import DDS_STAGE_1, DDS_SUPERNET_CHAIN, stage_weights

KNEE_DB = 0.1  # the knee: the cheapest ladder point within this many dB of the full network


def validation_pairs(
    folders: tuple[Path, ...], crops: int = 32, size: int = 96, seed: int = 1234
) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, target) crops from the validation split (never trained on), drawn the same way every time."""
    arrays = []
    for path in (path for folder in folders for path in image_files(folder, "validation")):
        with Image.open(path) as image:
            if min(image.size) >= size:
                arrays.append(np.asarray(image.convert("RGB")))
    rng = np.random.default_rng(seed)
    patches = []
    for number in range(crops):
        array = arrays[number % len(arrays)]
        top = rng.integers(0, array.shape[0] - size + 1)
        left = rng.integers(0, array.shape[1] - size + 1)
        patches.append(array[top : top + size, left : left + size])
    clean = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2).float() / 255
    return noisy_pairs(clean, rng, torch.Generator().manual_seed(seed))


def psnr_per_image(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of each image of an N x C x H x W batch in [0, 1]."""
    mse = ((restored.clamp(0, 1) - target) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return -10 * torch.log10(mse)


def mean_psnr(model: DDSUNet, widths: Widths, noisy: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-crop PSNR (dB) of one sub-network."""
    with torch.inference_mode():
        restored = torch.cat([model(batch, widths=widths) for batch in noisy.split(8)])
    return float(psnr_per_image(restored, target).mean())


def progressive_slimming(model: DDSUNet, noisy: torch.Tensor, target: torch.Tensor, log=print) -> list[dict]:
    """The ladder from the largest to the smallest sub-network: each step the one-group cut that costs least."""
    current = model.largest.as_list()
    smallest = model.smallest.as_list()
    ladder = [_point(model, current, mean_psnr(model, Widths.from_list(current), noisy, target))]
    log(f"largest: {ladder[0]['psnr']:.3f} dB, {ladder[0]['flops_per_pixel']:.0f} FLOPs/px")
    while current != smallest:
        best = None
        for unit in range(len(current)):
            if current[unit] == smallest[unit]:
                continue
            candidate = current.copy()
            candidate[unit] -= model.group
            psnr = mean_psnr(model, Widths.from_list(candidate), noisy, target)
            if best is None or psnr > best[0]:
                best = (psnr, candidate)
        current = best[1]
        ladder.append(_point(model, current, best[0]))
        log(f"{len(ladder)}: {best[0]:.3f} dB, {ladder[-1]['flops_per_pixel']:.0f} FLOPs/px, {current}")
    return ladder


def _point(model: DDSUNet, widths: list[int], psnr: float) -> dict:
    flops = model.flops_per_pixel(Widths.from_list(widths))
    return {"widths": widths, "flops_per_pixel": flops, "relative_flops": flops / model.flops_per_pixel(), "psnr": psnr}


def select_rungs(ladder: list[dict], count: int) -> list[dict]:
    """``count`` ladder points spread evenly in FLOPs from the smallest to the largest, cheapest first."""
    points = sorted(ladder, key=lambda p: p["flops_per_pixel"])
    low, high = points[0]["flops_per_pixel"], points[-1]["flops_per_pixel"]
    chosen = []
    for target in np.linspace(low, high, count):
        nearest = min(points, key=lambda p: abs(p["flops_per_pixel"] - target))
        if nearest not in chosen:
            chosen.append(nearest)
    if len(chosen) < count:
        raise ValueError(f"the ladder has too few distinct points for {count} rungs")
    return chosen


def knee(ladder: list[dict]) -> dict:
    """The cheapest ladder point within :data:`KNEE_DB` of the full network: past it, FLOPs buy little."""
    full = max(ladder, key=lambda p: p["flops_per_pixel"])
    return min((p for p in ladder if p["psnr"] >= full["psnr"] - KNEE_DB), key=lambda p: p["flops_per_pixel"])


def main() -> None:
    parser = argparse.ArgumentParser(description="DDS-Net stage 2: the progressive-slimming ladder.")
    parser.add_argument("--weights", type=Path, default=stage_weights(DDS_SUPERNET_CHAIN[-1].name))
    parser.add_argument("--out", type=Path, default=Path("runs/dds-ladder"))
    parser.add_argument("--rungs", type=int, default=5)
    parser.add_argument("--crops", type=int, default=32, help="validation crops of 96 px to rank the cuts on")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    torch.manual_seed(0)
    network = DDSNet(rungs=args.rungs, **DDS_STAGE_1.config)
    missing, unexpected = network.load_state_dict(load_file(str(args.weights)), strict=False)
    if unexpected or any(not k.startswith("gate.") and k not in network.ladder_buffers for k in missing):
        raise ValueError(f"{args.weights} is not a dds-unet super-network of {DDS_STAGE_1.config}")
    network.eval()
    noisy, target = validation_pairs(DDS_STAGE_1.data, crops=args.crops)
    with open(args.out / "slimming.log", "w", buffering=1) as log:
        ladder = progressive_slimming(network, noisy, target, log=lambda line: print(line, file=log))
    rungs = select_rungs(ladder, args.rungs)
    network.rung_widths.copy_(torch.tensor([rung["widths"] for rung in rungs]))
    network.default_budget.fill_(knee(ladder)["relative_flops"])
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(args.out / "dds-ladder.safetensors"))
    summary = {
        "weights": str(args.weights),
        "validation": {"crops": len(noisy), "size": noisy.shape[-1]},
        "seconds": round(time.time() - started),
        "ladder": ladder,
        "rungs": rungs,
        "knee": knee(ladder),
    }
    (args.out / "ladder.json").write_text(json.dumps(summary, indent=2) + "\n")
    # What the next stage's card names as its starting point: stage 1 and this stage, steps and time together.
    supernet_path = args.weights.parent / "summary.json"
    supernet = json.loads(supernet_path.read_text()) if supernet_path.exists() else {}
    stages = {
        "command": " && ".join(
            [
                *(f"python -m enhance_cli.training {stage.name}" for stage in DDS_SUPERNET_CHAIN),
                "python -m enhance_cli.training.slimming",
            ]
        ),
        "steps": supernet.get("steps"),
        "wall_seconds": (supernet.get("wall_seconds") or 0) + summary["seconds"],
        "super_network": supernet,
        "slimming_seconds": summary["seconds"],
    }
    (args.out / "summary.json").write_text(json.dumps(stages, indent=2) + "\n")
    print(args.out / "ladder.json")


if __name__ == "__main__":
    main()
