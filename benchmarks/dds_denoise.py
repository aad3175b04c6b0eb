"""Benchmarks for dds-denoise (`enhance denoise`), each run side by side with its baselines.

    python benchmarks/dds_denoise.py ladder    # stage 2's validation ladder (FLOPs and PSNR per rung), for the card
    python benchmarks/dds_denoise.py polyu     # PolyU100 real noise: ours, restore --level auto, CBM3D, static twin
    python benchmarks/dds_denoise.py cbsd68    # CBSD68 Gaussian sigma 15/25/50: ours blind vs restore given sigma
    python benchmarks/dds_denoise.py budgets   # the paper's claim: gated vs static sub-networks at equal mean FLOPs
    python benchmarks/dds_denoise.py gate-validation gate-test   # what the gate spends and buys, vs static rungs
    python benchmarks/dds_denoise.py clean     # clean photos in: how untouched they come back, and what it costs
    python benchmarks/dds_denoise.py speed     # seconds per MP at each budget; the full width vs DnCNN-17x64, 4 MP
    python benchmarks/dds_denoise.py memory    # peak RSS of `enhance denoise` on 16 MP
    python benchmarks/dds_denoise.py pictures  # the README's before/after crop (docs/denoise-before-after.png)
    python benchmarks/dds_denoise.py all --threads 2 --update-card

Outputs are rounded to 8 bits before scoring (PSNR on RGB). The static baselines are trained by
``python -m enhance_cli.training dds-static-full`` then ``dds-static-full-2``, and ``dds-static-half`` then
``dds-static-half-2`` (runs/, not shipped), as long as the super-network's two stage-1 cycles. CBM3D runs at
the sigma scikit-image estimates (wavelet MAD), on the first ``--cbm3d-limit`` PolyU images (about 30 s each),
cached under runs/bench-cache; every method is also reported on that same subset.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from enhance_cli.denoiser import Denoiser, Savings
from enhance_cli.evaluate import degrade, quantise
from enhance_cli.imageio import Picture
from enhance_cli.metrics import psnr
from enhance_cli.models.dds_unet import DDSUNet, Widths
from enhance_cli.models.dncnn import fused_dncnn
from enhance_cli.registry import WEIGHTS_DIR
from enhance_cli.restorer import Restorer
from enhance_cli.training.publish import write_card
from enhance_cli.training.recipes import DDS_STATIC_BASELINES, RECIPES, stage_weights

STATIC_FULL, STATIC_HALF = DDS_STATIC_BASELINES

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT.parent / "shared" / "data" / "test"
CACHE = ROOT / "runs" / "bench-cache"
CARD = WEIGHTS_DIR / "dds-denoise.json"
LADDER = ROOT / "runs" / "dds-ladder" / "ladder.json"
SEED = 0
BUDGETS = (0.3, 0.5, 0.7)  # the paper's claim is checked at these
PICTURE = ROOT.parent / "shared" / "data" / "train" / "Wallpapers" / "budgie_011.jpg"  # CC0; validation split
PICTURE_CROP = (slice(200, 360), slice(300, 540))
PICTURE_PATH = ROOT / "docs" / "denoise-before-after.png"

Pair = tuple[str, np.ndarray, np.ndarray]  # name, noisy, clean: H x W x 3 float in [0, 1]
Method = Callable[[np.ndarray], np.ndarray]


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255


def polyu_pairs(limit: int | None = None) -> list[Pair]:
    """PolyU100's real noisy JPEGs with their references (the mean of many shots), in name order."""
    noisy = sorted((TEST / "PolyU100").glob("*_real.JPG"))[:limit]
    return [(p.name, read_rgb(p), read_rgb(p.with_name(p.name.replace("_real", "_mean")))) for p in noisy]


def cbsd68_pairs(sigma: float, limit: int | None = None) -> list[Pair]:
    """CBSD68 with white Gaussian noise, clipped and rounded to 8 bits, seeded per image as benchmarks/denoise.py."""
    paths = sorted((TEST / "CBSD68").glob("*.png"))[:limit]
    clean = [read_rgb(p) for p in paths]
    return [
        (p.name, quantise(degrade(c, "noise", sigma, SEED + i)), c)
        for i, (p, c) in enumerate(zip(paths, clean, strict=True))
    ]


def picture(pixels: np.ndarray) -> Picture:
    return Picture(pixels=pixels, alpha=None, bits=8, exif=None, icc_profile=None, source_format="png", info={})


class Ours:
    """`enhance denoise` as a library call, keeping what each image spent."""

    weights: Path | None = None  # a training run's weights instead of the shipped ones (--weights)

    def __init__(self) -> None:
        self.denoiser = Denoiser.for_model(device="cpu")
        if self.weights is not None:
            self.denoiser.model.load_state_dict(load_file(str(self.weights)))
        self.fractions: list[float] = []
        self.full_flops: list[float] = []  # what the full network would have cost each image: the run's weights
        self.mix: Counter[str] = Counter()

    def at(self, budget: float | None) -> Method:
        """The images scored with it are one run: what one leaves unspent under ``budget``, later ones spend."""
        savings = Savings()

        def run(noisy: np.ndarray) -> np.ndarray:
            outcome = self.denoiser.denoise(picture(noisy), budget, savings=savings)
            self.fractions.append(outcome.details["flops_fraction"])
            self.full_flops.append(outcome.flops / outcome.details["flops_fraction"])
            self.mix.update(outcome.details["sub_networks"])
            return outcome.picture.pixels

        return run

    def sub_network(self, widths: list[int]) -> Method:
        """One static rung of the ladder, on the whole image."""
        model = self.denoiser.model

        def run(noisy: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                x = torch.from_numpy(noisy.transpose(2, 0, 1).copy())[None]
                return model(x, widths=Widths.from_list(widths))[0].permute(1, 2, 0).numpy()

        return run

    def take_spending(self) -> dict:
        spent = {
            "mean_flops_fraction": float(np.mean(self.fractions)),
            "run_flops_fraction": float(np.average(self.fractions, weights=self.full_flops)),
            "sub_network_tiles": dict(self.mix),
        }
        self.fractions, self.full_flops, self.mix = [], [], Counter()
        return spent


def static_network(name: str) -> Method:
    """A static baseline trained like the super-network (runs/<name>, from its recipe)."""
    path = ROOT / stage_weights(name)
    if not path.exists():
        raise SystemExit(f"{path} is missing: train it with `python -m enhance_cli.training {name}`")
    model = DDSUNet(**RECIPES[name].config).eval()
    model.load_state_dict(load_file(str(path)))

    def run(noisy: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(noisy.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()

    return run


def restore_noise(level: float | None) -> Method:
    """`enhance restore --task noise --level L` (None: auto) as a library call."""
    restorer = Restorer.for_task("noise", device="cpu")
    return lambda noisy: restorer.restore(picture(noisy), level).picture.pixels


def cbm3d(noisy: np.ndarray) -> np.ndarray:
    """CBM3D at scikit-image's sigma estimate, cached by the input's content."""
    import bm3d
    from skimage.restoration import estimate_sigma

    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"cbm3d-estimated-{hashlib.sha1(noisy.tobytes()).hexdigest()[:16]}.png"
    if not cached.exists():
        sigma = float(estimate_sigma(noisy, channel_axis=-1, average_sigmas=True))
        denoised = bm3d.bm3d_rgb(noisy.astype(np.float64), max(sigma, 1e-3))
        Image.fromarray(np.round(np.clip(denoised, 0, 1) * 255).astype(np.uint8)).save(cached)
    return read_rgb(cached)


def score(pairs: list[Pair], method: Method | None) -> dict:
    """Mean PSNR (RGB, 8-bit outputs) of ``method`` (None: the noisy input itself) and seconds per image.

    No SSIM: enhance_cli.metrics.ssim takes about 2 s per 512 px image on this CPU, longer than the networks."""
    psnrs, seconds = [], []
    for _, noisy, clean in pairs:
        started = time.perf_counter()
        output = noisy if method is None else quantise(method(noisy))
        seconds.append(time.perf_counter() - started)
        psnrs.append(psnr(clean, output))
    return {"psnr_rgb": float(np.mean(psnrs)), "seconds_per_image": float(np.mean(seconds))}


def report(label: str, row: dict) -> dict:
    extra = (
        f", {row['mean_flops_fraction']:.1%} of the full FLOPs (run {row['run_flops_fraction']:.1%})"
        if "mean_flops_fraction" in row
        else ""
    )
    print(f"  {label:<34} {row['psnr_rgb']:.2f} dB{extra}", flush=True)
    return row


def ours_row(ours: Ours, pairs: list[Pair], budget: float | None) -> dict:
    row = score(pairs, ours.at(budget))
    return {**row, **ours.take_spending()}


def polyu_benchmark(cbm3d_limit: int) -> dict:
    pairs = polyu_pairs()
    ours = Ours()
    print(f"PolyU100 ({len(pairs)} images)")
    rows = {
        "noisy_input": report("noisy input", score(pairs, None)),
        "restore_level_auto": report("restore --level auto", score(pairs, restore_noise(None))),
        # the static twin is trained in runs/, which a fresh checkout does not have
        **(
            {"static_full": report("static twin (full width)", score(pairs, static_network(STATIC_FULL.name)))}
            if (ROOT / stage_weights(STATIC_FULL.name)).exists()
            else {}
        ),
        "ours_default_budget": report(
            f"ours, default budget {ours.denoiser.default_budget:g}", ours_row(ours, pairs, None)
        ),
        "ours_budget_0.5": report("ours, --budget 0.5", ours_row(ours, pairs, 0.5)),
        "ours_budget_1": report("ours, --budget 1", ours_row(ours, pairs, 1.0)),
    }
    subset = pairs[:cbm3d_limit]
    print(f"PolyU100, first {len(subset)} images (CBM3D's subset)")
    same = {
        "images": len(subset),
        "noisy_input": report("noisy input", score(subset, None)),
        "cbm3d_estimated_sigma": report("CBM3D, estimated sigma", score(subset, cbm3d)),
        "restore_level_auto": report("restore --level auto", score(subset, restore_noise(None))),
        "ours_default_budget": report("ours, default budget", ours_row(ours, subset, None)),
    }
    return {"images": len(pairs), "metric": "PSNR RGB against *_mean.JPG", **rows, "first_images": same}


def cbsd68_benchmark(limit: int | None) -> dict:
    ours = Ours()
    rows = {}
    for sigma in (15, 25, 50):
        pairs = cbsd68_pairs(sigma, limit)
        print(f"CBSD68 sigma {sigma} ({len(pairs)} images)")
        rows[f"sigma{sigma}"] = {
            "noisy_input": report("noisy input", score(pairs, None)),
            "restore_true_sigma": report(f"restore --level {sigma}", score(pairs, restore_noise(sigma))),
            "restore_level_auto": report("restore --level auto", score(pairs, restore_noise(None))),
            "ours_blind_default_budget": report("ours (blind), default budget", ours_row(ours, pairs, None)),
            "ours_blind_budget_1": report("ours (blind), --budget 1", ours_row(ours, pairs, 1.0)),
        }
    return {"images": len(pairs), "seed": SEED, "sigmas": rows}


def budgets_benchmark(limit: int | None) -> dict:
    """At each budget: the gate's PSNR and mean FLOPs, the cheapest ladder rung (validation ladder) costing at
    least as much, and at 0.5 the individually trained static network of half the FLOPs."""
    if not LADDER.exists():
        raise SystemExit(f"{LADDER} is missing: run `python -m enhance_cli.training.slimming`")
    ladder = sorted(json.loads(LADDER.read_text())["ladder"], key=lambda p: p["relative_flops"])
    sets = {"PolyU100": polyu_pairs(limit)} | {f"CBSD68 sigma {s}": cbsd68_pairs(s, limit) for s in (15, 25, 50)}
    pairs = [pair for group in sets.values() for pair in group]
    ours = Ours()
    print(f"budgets: {len(pairs)} images ({', '.join(f'{k} {len(v)}' for k, v in sets.items())})")
    rows = {}
    for budget in BUDGETS:
        dynamic = report(f"ours, --budget {budget}", ours_row(ours, pairs, budget))
        spent = dynamic["mean_flops_fraction"]
        rung = next(p for p in ladder if p["relative_flops"] >= spent)
        static = report(f"ladder rung at {rung['relative_flops']:.1%}", score(pairs, ours.sub_network(rung["widths"])))
        rows[f"budget{budget}"] = {
            "gated": dynamic,
            "static_ladder_rung": {**static, "relative_flops": rung["relative_flops"], "widths": rung["widths"]},
            "gain_db": dynamic["psnr_rgb"] - static["psnr_rgb"],
        }
    half = STATIC_HALF
    half_flops = DDSUNet(**half.config).flops_per_pixel() / ours.denoiser.full_flops
    static_half = report(f"static network trained alone, {half_flops:.1%}", score(pairs, static_network(half.name)))
    rows["individually_trained_static_half"] = {**static_half, "relative_flops": half_flops}
    return {"images": {k: len(v) for k, v in sets.items()}, "rows": rows}


def validation_photos(limit: int | None = 30, seed: int = 7) -> list[Pair]:
    """Whole held-out photos of the training folders (the validation split) through the training's noise mix:
    camera pipelines at random ISO, white Gaussian noise, and a share left clean; seeded."""
    from enhance_cli.training.camera_noise import noisy_pairs
    from enhance_cli.training.data import image_files

    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    pairs = []
    for path in [p for folder in RECIPES["dds-denoise"].data for p in image_files(folder, "validation")][:limit]:
        clean = read_rgb(path)
        clean = clean[: clean.shape[0] // 4 * 4, : clean.shape[1] // 4 * 4]
        noisy, target = noisy_pairs(torch.from_numpy(clean.transpose(2, 0, 1).copy())[None], rng, generator)
        pairs.append((path.name, noisy[0].permute(1, 2, 0).numpy(), target[0].permute(1, 2, 0).numpy()))
    return pairs


def flat_and_textured() -> tuple[np.ndarray, np.ndarray]:
    """A clean flat image (a smooth 8-bit gradient) and a heavily noisy textured one (a validation photo of
    foliage and feathers at sigma 50), both 512 x 768."""
    rows, columns = np.mgrid[0:512, 0:768] / np.array([512.0, 768.0])[:, None, None]
    flat = np.stack([0.3 + 0.2 * columns, 0.4 + 0.1 * rows, np.full_like(rows, 0.5)], axis=2)
    textured = read_rgb(PICTURE)[:512, :768]
    noisy = degrade(textured, "noise", 50, SEED)
    return quantise(flat).astype(np.float32), quantise(noisy).astype(np.float32)


def gate_benchmark(split: str, limit: int | None) -> dict:
    """What the gate spends and buys: the default (each tile what the gate judges it needs, up to the knee) and
    budgets 0.3-1 (spent), beside every static rung of the ladder on the whole image and the static quality at
    the same mean FLOPs (interpolated between the two rungs around it). ``split``: validation (held-out photos
    through the training's noise mix, where choices are made) or test (the issue's mix: PolyU100 real noise,
    CBSD68 at sigma 25, CBSD68 clean); also a clean flat image against a heavily noisy textured one."""
    if split == "validation":
        sets = {"validation photos, camera noise mix": validation_photos(limit or 30)}
    else:
        clean = [(p.name, read_rgb(p), read_rgb(p)) for p in sorted((TEST / "CBSD68").glob("*.png"))[:limit]]
        sets = {"PolyU100": polyu_pairs(limit), "CBSD68 sigma 25": cbsd68_pairs(25, limit), "CBSD68 clean": clean}
    pairs = [pair for group in sets.values() for pair in group]
    ours = Ours()
    costs = ours.denoiser.model.relative_rung_costs()
    print(f"gate, {split}: {len(pairs)} images ({', '.join(f'{k} {len(v)}' for k, v in sets.items())})")
    rungs = {
        f"{cost:.3f}": report(f"static rung, {cost:.1%} FLOPs", score(pairs, ours.sub_network(widths.as_list())))
        for cost, widths in zip(costs, ours.denoiser.rungs, strict=True)
    }
    static = [row["psnr_rgb"] for row in rungs.values()]
    rows = {}
    for budget in (None, 0.3, 0.5, 0.7, 1.0):
        label = "default (what each tile needs, up to the knee)" if budget is None else f"--budget {budget}"
        row = report(label, ours_row(ours, pairs, budget))
        row["static_at_same_flops"] = float(np.interp(row["run_flops_fraction"], costs, static))
        row["gain_over_static_db"] = row["psnr_rgb"] - row["static_at_same_flops"]
        print(f"    static at the same FLOPs {row['static_at_same_flops']:.2f} dB: {row['gain_over_static_db']:+.2f}")
        rows["default" if budget is None else f"budget{budget}"] = row
    flat, textured = flat_and_textured()
    spent = {}
    for name, image in (("clean_flat", flat), ("noisy_textured", textured)):
        outcome = ours.denoiser.denoise(picture(image))
        spent[name] = {key: outcome.details[key] for key in ("flops_fraction", "sub_networks")}
    spent["ratio"] = spent["noisy_textured"]["flops_fraction"] / spent["clean_flat"]["flops_fraction"]
    print(f"  default budget: noisy textured spends {spent['ratio']:.1f}x the clean flat image's FLOPs")
    return {"split": split, "images": {k: len(v) for k, v in sets.items()}, "static_rungs": rungs, "gated": rows,
            "flat_vs_textured": spent}  # fmt: skip


def clean_benchmark(limit: int | None) -> dict:
    """Noise-free photos in (CBSD68 originals): PSNR of the output against the input, and what the gate spent."""
    pairs = [(p.name, read_rgb(p), read_rgb(p)) for p in sorted((TEST / "CBSD68").glob("*.png"))[:limit]]
    ours = Ours()
    print(f"clean CBSD68 ({len(pairs)} images)")
    return {
        "images": len(pairs),
        "ours_default_budget": report("ours, default budget", ours_row(ours, pairs, None)),
        "restore_level_auto": report("restore --level auto", score(pairs, restore_noise(None))),
    }


def speed_benchmark(megapixels: float = 4.0, repeats: int = 3) -> dict:
    """Seconds per megapixel on a real photo (the sample, enlarged) at each budget, and the full width against a
    DnCNN-17x64 forward over the same pixels, interleaved in one run; medians of ``repeats``."""
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(megapixels * 1e6 / width))
    sample = Image.open(ROOT / "samples" / "colorchart-noisy-sigma25.png").convert("RGB")
    pixels = np.asarray(sample.resize((width, height), Image.BICUBIC), dtype=np.float32) / 255
    ours = Ours()
    dncnn = fused_dncnn()
    runs: dict[str, Callable[[], object]] = {
        f"budget {budget}": (lambda b=budget: ours.at(b)(pixels)) for budget in (None, *BUDGETS, 1.0)
    }
    runs["dncnn17x64"] = lambda: dncnn(torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None])
    timings: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for _ in range(repeats):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    result = {
        "image": f"{width}x{height} (the sample, enlarged)",
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "seconds_per_megapixel": {name: s / megapixels for name, s in medians.items()},
        "full_width_over_dncnn": medians["budget 1.0"] / medians["dncnn17x64"],
    }
    for name, seconds in medians.items():
        print(f"  {name:<12} {seconds / megapixels:.3f} s/MP")
    print(f"  full width / DnCNN-17x64: {result['full_width_over_dncnn']:.3f}")
    return result


def memory_benchmark(megapixels: float = 16.0) -> dict:
    """Peak RSS of the whole `enhance denoise` command on a 16 MP PNG, in a fresh process."""
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(megapixels * 1e6 / width))
    sample = Image.open(ROOT / "samples" / "colorchart-noisy-sigma25.png").convert("RGB")
    with tempfile.TemporaryDirectory() as folder:
        source, report_path = Path(folder) / "big.png", Path(folder) / "report.json"
        sample.resize((width, height), Image.BICUBIC).save(source, compress_level=1)
        command = ["enhance", "denoise", str(source), "-o", str(Path(folder) / "out.png"), "-q"]
        started = time.perf_counter()
        subprocess.run([*command, "--report", str(report_path)], check=True)
        seconds = time.perf_counter() - started
        document = json.loads(report_path.read_text())
    print(f"  {width}x{height}: peak RSS {document['peak_rss_bytes'] / 2**30:.2f} GiB, {seconds:.1f} s")
    return {
        "image": f"{width}x{height}",
        "command": "enhance denoise IMAGE -o out.png --report report.json",
        "peak_rss_bytes": document["peak_rss_bytes"],
        "tiles": document["images"][0]["tiles"],
        "wall_seconds": seconds,
    }


def ladder_record() -> dict:
    """Stage 2's ladder as measured on the validation split (runs/dds-ladder/ladder.json): FLOPs per pixel and
    PSNR of every sub-network progressive slimming kept, the rungs the gate chooses from, and the knee."""
    if not LADDER.exists():
        raise SystemExit(f"{LADDER} is missing: run `python -m enhance_cli.training.slimming`")
    ladder = json.loads(LADDER.read_text())
    points = [
        {"flops_per_pixel": round(p["flops_per_pixel"]), "relative_flops": round(p["relative_flops"], 4),
         "validation_psnr": round(p["psnr"], 3), "widths": p["widths"]}
        for p in ladder["ladder"]
    ]  # fmt: skip
    for point in points[:: max(1, len(points) // 12)]:
        print(f"  {point['flops_per_pixel'] / 1e3:6.1f} kFLOPs/px ({point['relative_flops']:.1%}): "
              f"{point['validation_psnr']:.3f} dB")  # fmt: skip
    return {
        "command": "python -m enhance_cli.training.slimming",
        "validation": ladder["validation"],
        "points": points,
        "rungs": [round(p["flops_per_pixel"]) for p in ladder["rungs"]],
        "knee": {
            "relative_flops": round(ladder["knee"]["relative_flops"], 4),
            "psnr": round(ladder["knee"]["psnr"], 3),
        },
    }


def pictures_benchmark() -> dict:
    """The README's before/after: a CC0 validation photo through a simulated camera at high ISO (shot and read
    noise, demosaicking, tone, JPEG q90), then `restore --level auto` and ours; crops enlarged 2x."""
    from PIL import ImageDraw

    from enhance_cli.training.camera_noise import CameraNoise, noisy_pairs

    clean = torch.from_numpy(read_rgb(PICTURE).transpose(2, 0, 1).copy())[None]
    options = CameraNoise(gaussian_share=0.0, clean_share=0.0, jpeg_share=1.0, jpeg_quality=(90, 90), sharpen_share=0.0)
    for seed in range(100):  # the first camera whose noise is plainly visible: 27-30 dB
        noisy, target = noisy_pairs(clean, np.random.default_rng(seed), torch.Generator().manual_seed(seed), options)
        if 27 < psnr(target[0].numpy(), noisy[0].numpy()) < 30:
            break
    noisy, target = (t[0].permute(1, 2, 0).numpy() for t in (noisy, target))
    ours = Ours()
    outputs = {
        "noisy": noisy,
        "restore --level auto": quantise(restore_noise(None)(noisy)),
        "denoise": quantise(ours.at(None)(noisy)),
        "original": target,
    }
    spending = ours.take_spending()
    panels, scores = [], {}
    for name, image in outputs.items():
        crop = image[PICTURE_CROP]
        scores[name] = round(psnr(target[PICTURE_CROP], crop), 2)
        label = name if name == "original" else f"{name}: {scores[name]:.2f} dB"
        panel = Image.fromarray(np.round(np.clip(crop, 0, 1) * 255).astype(np.uint8))
        panel = panel.resize((panel.width * 2, panel.height * 2), Image.Resampling.NEAREST)
        ImageDraw.Draw(panel).text((6, 4), label, fill=(255, 255, 255))
        panels.append(np.asarray(panel))
    grid = np.concatenate([np.concatenate(panels[:2], axis=1), np.concatenate(panels[2:], axis=1)], axis=0)
    PICTURE_PATH.parent.mkdir(exist_ok=True)
    Image.fromarray(grid).save(PICTURE_PATH, optimize=True)
    print(f"  {PICTURE_PATH.relative_to(ROOT)}: " + ", ".join(f"{k} {v:.2f} dB" for k, v in scores.items()))
    return {
        "image": f"{PICTURE.parent.name}/{PICTURE.name} (CC0), camera seed {seed}, rows {PICTURE_CROP[0].start}-"
        f"{PICTURE_CROP[0].stop}, columns {PICTURE_CROP[1].start}-{PICTURE_CROP[1].stop}",
        "written": str(PICTURE_PATH.relative_to(ROOT)),
        "crop_psnr": scores,
        "whole_image_psnr": {name: round(psnr(target, image), 2) for name, image in outputs.items()},
        **spending,
    }


def update_card(results: dict, command: str) -> None:
    card = json.loads(CARD.read_text())
    for part, result in results.items():
        card["benchmarks"][part] = {"command": command, **result}
    polyu = card["benchmarks"].get("polyu")
    if polyu:
        card["headline"] = (
            f"PolyU100 real noise: {polyu['ours_default_budget']['psnr_rgb']:.2f} dB at "
            f"{polyu['ours_default_budget']['mean_flops_fraction']:.0%} FLOPs "
            f"(restore --level auto {polyu['restore_level_auto']['psnr_rgb']:.2f})"
        )
    write_card(card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parts = ["ladder", "polyu", "cbsd68", "budgets", "gate-validation", "gate-test", "clean", "speed", "memory",
             "pictures"]  # fmt: skip
    parser.add_argument("part", nargs="+", choices=[*parts, "all"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    parser.add_argument("--cbm3d-limit", type=int, default=20, help="CBM3D on the first N PolyU images")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-card", action="store_true", help="record the results in weights/dds-denoise.json")
    parser.add_argument("--weights", type=Path, default=None, help="a training run's weights (runs/R/R.safetensors)")
    args = parser.parse_args()
    Ours.weights = args.weights
    if args.weights and args.update_card:
        parser.error("--update-card records the shipped model; leave out --weights")
    if args.threads:
        torch.set_num_threads(args.threads)
    parts = parts if "all" in args.part else args.part
    results = {}
    for part in parts:
        started = time.perf_counter()
        results[part] = {
            "ladder": ladder_record,
            "polyu": lambda: polyu_benchmark(args.cbm3d_limit),
            "cbsd68": lambda: cbsd68_benchmark(args.limit),
            "budgets": lambda: budgets_benchmark(args.limit),
            "gate-validation": lambda: gate_benchmark("validation", args.limit),
            "gate-test": lambda: gate_benchmark("test", args.limit),
            "clean": lambda: clean_benchmark(args.limit),
            "speed": speed_benchmark,
            "memory": memory_benchmark,
            "pictures": pictures_benchmark,
        }[part]()
        print(f"{part}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.update_card:
        update_card(results, "python benchmarks/dds_denoise.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
