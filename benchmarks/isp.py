"""Benchmarks of the RAW pipeline (`isp`, and isp v2 with its plain twin) beside classical demosaickers, in one run.

    python benchmarks/isp.py quality --threads 2 --update-card   # Kodak24 + McMaster, clean and noisy
    python benchmarks/isp.py real --update-card                  # the real raw files vs LibRaw
    python benchmarks/isp.py speed --threads 2 --update-card     # 24 MP vs DnCNN-17x64, same process
    python benchmarks/isp.py scaling --threads 2 --update-card   # whole CLI: s/Mpix and peak RSS, 1-24 MP
    python benchmarks/isp.py xtrans --threads 2 --update-card    # synthetic X-Trans DNGs: isp vs LibRaw
    python benchmarks/isp.py cli --threads 2 --update-card       # 12 MP: enhance isp vs rawpy AHD + PNG

Quality protocol (a RAW file holds linear light): 8-bit sRGB test image -> exact inverse sRGB curve ->
RGGB mosaic -> (noisy: shot + read noise, variance = SHOT x signal + READ, fixed seed per image) ->
method -> clip to [0, 1] -> sRGB curve -> RGB PSNR against the original, 10-pixel border ignored (as DPIR).
Our models get the mosaic as a RAW file of a camera whose colour space is sRGB (white balance 1,
identity matrix) and develop it with --tone neutral. Baselines (benchmarks/demosaic_baselines.py):
bilinear, Malvar 2004, Menon 2007 (colour-demosaicing) and LibRaw VNG/PPG/AHD/DCB/DHT/AAHD (rawpy on a
DNG written from the same mosaic); Malvar and Menon also on the sRGB-encoded mosaic (the literature's protocol,
where they score far higher), and the learned demosaicnet (Gharbi et al. 2016, pretrained, on the sRGB-encoded
mosaic) where its benchmark-only package is installed. They demosaick only; none of them denoises.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import demosaic_baselines as baselines  # noqa: E402
from parts import run_parts  # noqa: E402

from enhance_cli.develop import Developer, DevelopOptions, default_card_for  # noqa: E402
from enhance_cli.evaluate import add_sensor_noise, synthetic_raw  # noqa: E402
from enhance_cli.metrics import psnr  # noqa: E402
from enhance_cli.models.dncnn import fused_dncnn  # noqa: E402
from enhance_cli.raw_noise import read_noise_variance  # noqa: E402
from enhance_cli.rawio import RawImage, libraw_reference, read_raw  # noqa: E402
from enhance_cli.registry import WEIGHTS_DIR, ModelCard, sha256_of  # noqa: E402
from enhance_cli.training.data import image_files  # noqa: E402
from enhance_cli.training.publish import write_card  # noqa: E402
from enhance_cli.training.recipes import RECIPES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT.parent / "shared" / "data" / "test"
RAW = ROOT.parent / "shared" / "data" / "raw"
DATASETS = ("Kodak24", "McMaster")
SHOT = 2.5e-3  # a mid ISO: noise std 0.022 at 20% grey
READ = read_noise_variance(SHOT)
BORDER = 10
OURS = ("isp", "isp-v2", "isp-v2-plain")
BASELINES = (
    "bilinear",
    "malvar",
    "menon",
    "libraw-vng",
    "libraw-ppg",
    "libraw-ahd",
    "libraw-dcb",
    "libraw-dht",
    "libraw-aahd",
    "malvar-srgb",
    "menon-srgb",
)
PROTOCOL = (
    f"linear-light RGGB mosaic of the 8-bit sRGB image; noisy: variance {SHOT:g} x signal + {READ:.3g}; "
    f"RGB PSNR after the sRGB curve, {BORDER}px border ignored"
)
# Learned peers, where their benchmark-only package installs (`pip install -e ".[bench]"`).
LEARNED = ("demosaicnet-srgb",) if importlib.util.find_spec("demosaicnet") else ()

# Fuji's X-Trans layout as LibRaw states it for their cameras (a shift of the networks' phase, which the
# developer undoes), so the synthetic files are laid out as real RAF files are.
FUJI_XTRANS = "GGRGGBGGBGGRBRGRBGGGBGGRGGRGGBRBGBRG"
XTRANS_LIBRAW = {"libraw-xtrans-3-pass": "AHD", "libraw-xtrans-1-pass": "VNG", "libraw-linear": "LINEAR"}


def score(
    developers: dict[str, Developer], methods: tuple[str, ...], paths: list[Path], condition: str, pattern: str = "RGGB"
) -> dict:
    """Mean PSNR and time of our ``developers`` and the baseline ``methods`` on ``paths``, clean or noisy, with
    mosaics in ``pattern``'s layout (X-Trans: LibRaw's X-Trans methods, :data:`XTRANS_LIBRAW`)."""
    scores: dict[str, list[float]] = {name: [] for name in (*developers, *methods)}
    seconds: dict[str, list[float]] = {name: [] for name in scores}
    megapixels = 0.0
    for index, path in enumerate(paths):
        srgb = baselines.read_srgb(path)
        megapixels += srgb.shape[0] * srgb.shape[1] / 1e6
        mosaic = baselines.mosaic_with(baselines.srgb_to_linear(srgb), pattern)
        if condition == "noisy":
            mosaic = add_sensor_noise(mosaic, SHOT, index)
        for name in scores:
            started = time.perf_counter()
            if name in developers:
                raw = synthetic_raw(mosaic, pattern)
                result = developers[name].develop(raw, DevelopOptions(tone="neutral")).picture.pixels
            elif name in XTRANS_LIBRAW:
                result = baselines.linear_to_srgb(np.clip(baselines.libraw(mosaic, XTRANS_LIBRAW[name], pattern), 0, 1))
            else:
                result = baselines.linear_to_srgb(np.clip(baselines.METHODS[name](mosaic), 0, 1))
            seconds[name].append(time.perf_counter() - started)
            scores[name].append(psnr(srgb, result, BORDER))
    return {
        name: {
            "psnr": round(float(np.mean(v)), 2),
            "seconds": round(float(np.mean(seconds[name])), 3),
            "seconds_per_megapixel": round(float(np.sum(seconds[name])) / megapixels, 3),
        }
        for name, v in scores.items()
    }


def quality_benchmark(limit: int | None) -> dict:
    developers = {name: Developer.for_model(name, device="cpu") for name in OURS}
    results: dict = {}
    for dataset in DATASETS:
        folder = TEST / dataset
        paths = sorted(image_files(folder), key=lambda p: (len(p.stem), p.stem))[:limit]
        for condition in ("clean", "noisy"):
            row = score(developers, (*BASELINES, *LEARNED), paths, condition)
            best = max(BASELINES, key=lambda n: row[n]["psnr"])
            row["best_classical"] = best
            row["margin_over_best_classical"] = {n: round(row[n]["psnr"] - row[best]["psnr"], 2) for n in OURS}
            for learned in LEARNED:
                row[f"margin_over_{learned}"] = {n: round(row[n]["psnr"] - row[learned]["psnr"], 2) for n in OURS}
            row["hc_minus_plain"] = round(row["isp-v2"]["psnr"] - row["isp-v2-plain"]["psnr"], 2)  # v2's HC ablation
            row["v3_minus_v2"] = round(row["isp"]["psnr"] - row["isp-v2"]["psnr"], 2)
            row["images"] = len(paths)
            results[f"{dataset}/{condition}"] = row
            print(
                f"{dataset} {condition}: "
                + ", ".join(f"{n} {row[n]['psnr']:.2f}" for n in row if isinstance(row[n], dict) and "psnr" in row[n])
            )
    results["protocol"] = PROTOCOL
    return results


def validation_benchmark(models: list[str], limit: int | None, mosaic: str = "bayer") -> dict:
    """The protocol of ``quality`` on the validation split held out from the training images (where recipes
    and checkpoints are chosen). ``models``: registry names, or training runs' weights (``runs/R/R.safetensors``,
    built from recipe R's config). ``mosaic="xtrans"``: the mosaics in Fuji's X-Trans layout, against LibRaw's
    X-Trans demosaicking instead of Menon's."""
    developers = {}
    for model in models:
        if model.endswith(".safetensors"):
            recipe = RECIPES[Path(model).stem]
            weights = Path(model)
            card = ModelCard(
                recipe.name,
                "isp",
                recipe.architecture,
                recipe.config,
                sha256_of(weights),
                folder=weights.parent,
                extra={"mosaic": recipe.mosaic},
            )
            developers[model] = Developer(card, device="cpu")
        else:
            developers[model] = Developer.for_model(model, device="cpu")
    folders = (*RECIPES["isp"].data,)
    paths = [path for folder in folders for path in image_files(folder, "validation")][:limit]
    results: dict = {"images": len(paths), "folders": [f.name for f in folders], "mosaic": mosaic}
    bayer = mosaic == "bayer"
    pattern, peers = ("RGGB", ("menon-srgb", *LEARNED)) if bayer else (FUJI_XTRANS, ("libraw-xtrans-3-pass",))
    for condition in ("clean", "noisy"):
        results[condition] = score(developers, peers, paths, condition, pattern)
        print(condition, {name: row["psnr"] for name, row in results[condition].items()})
    results["protocol"] = PROTOCOL
    return results


def real_files_benchmark() -> dict:
    developer = Developer.for_model("isp", device="cpu")
    rows = {}
    for path in sorted(p for p in RAW.iterdir() if p.suffix.lower() in (".dng", ".crw", ".kdc")):
        raw = read_raw(path)
        ours = developer.develop(raw, DevelopOptions(tone="neutral")).picture.pixels
        reference = libraw_reference(path, "AHD", white_balance=raw.white_balance)
        inner = (slice(4, -4), slice(4, -4))
        gap = ours[inner].mean(axis=(0, 1)) - reference[inner].mean(axis=(0, 1))
        rows[path.name] = {
            "pattern": raw.pattern,
            "size": list(ours.shape[:2]),
            "libraw_size": list(reference.shape[:2]),
            "channel_mean_difference_rgb": [round(float(g), 4) for g in gap],
            "mean_abs_difference": round(float(np.abs(ours[inner] - reference[inner]).mean()), 4),
        }
        print(path.name, rows[path.name])
    rows["against"] = "LibRaw AHD, same white balance, no auto-brightness, sRGB curve (rawio.libraw_reference)"
    return rows


PICTURE = ROOT.parent / "shared" / "data" / "train" / "Wallpapers" / "budgie_023.jpg"  # CC0; validation split
PICTURE_CROP = (slice(280, 440), slice(330, 570))
PICTURE_PATH = ROOT / "docs" / "isp-before-after.png"


def pictures_benchmark() -> dict:
    """The README's before/after: LibRaw AHD beside isp v2 and v3 on a crop, noise-free and noisy (the protocol of
    ``quality``), the original above them; each panel enlarged 2x without smoothing."""
    from PIL import Image, ImageDraw

    developers = {
        "isp v2": Developer.for_model("isp-v2", device="cpu"),
        "isp v3": Developer.for_model("isp", device="cpu"),
    }
    srgb = baselines.read_srgb(PICTURE)
    rows, scores = [], {}
    for condition in ("clean", "noisy"):
        mosaic = baselines.mosaic_rggb(baselines.srgb_to_linear(srgb))
        if condition == "noisy":
            mosaic = add_sensor_noise(mosaic, SHOT, 0)
        libraw = baselines.linear_to_srgb(np.clip(baselines.METHODS["libraw-ahd"](mosaic), 0, 1))
        ours = [
            (name, developer.develop(synthetic_raw(mosaic), DevelopOptions(tone="neutral")).picture.pixels)
            for name, developer in developers.items()
        ]
        row = []
        for name, image in (("original", srgb), ("LibRaw AHD", libraw), *ours):
            crop = image[PICTURE_CROP]
            if name != "original":
                scores[f"{condition}/{name}"] = round(psnr(srgb[PICTURE_CROP], crop, 0), 2)
            label = name if name == "original" else f"{name}, {condition}: {scores[f'{condition}/{name}']:.2f} dB"
            panel = Image.fromarray(np.round(np.clip(crop, 0, 1) * 255).astype(np.uint8))
            panel = panel.resize((panel.width * 2, panel.height * 2), Image.Resampling.NEAREST)
            ImageDraw.Draw(panel).text((6, 4), label, fill=(255, 255, 255))
            row.append(np.asarray(panel))
        rows.append(np.concatenate(row, axis=1))
    PICTURE_PATH.parent.mkdir(exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(PICTURE_PATH, optimize=True)
    return {
        "image": f"{PICTURE.parent.name}/{PICTURE.name} (CC0), rows {PICTURE_CROP[0].start}-{PICTURE_CROP[0].stop}, "
        f"columns {PICTURE_CROP[1].start}-{PICTURE_CROP[1].stop}",
        "written": str(PICTURE_PATH.relative_to(ROOT)),
        "crop_psnr": scores,
    }


def sample_raw_of_size(megapixels: float) -> RawImage:
    """The sample DNG's mosaic mirrored out to ``megapixels`` (3:2), as a RawImage."""
    sample = read_raw(ROOT / "samples" / "colorchart.dng")
    width = int(round((megapixels * 1e6 * 1.5) ** 0.5)) // 2 * 2
    height = int(round(megapixels * 1e6 / width)) // 2 * 2
    reps = (-(-height // sample.mosaic.shape[0]), -(-width // sample.mosaic.shape[1]))
    mosaic = np.tile(sample.mosaic, reps)[:height, :width]
    return RawImage(
        np.ascontiguousarray(mosaic), sample.pattern, sample.white_balance, sample.camera_to_srgb, 1, None, "synthetic"
    )


def speed_benchmark(megapixels: float) -> dict:
    raw = sample_raw_of_size(megapixels)
    height, width = raw.mosaic.shape
    developer = Developer.for_model("isp", device="cpu")
    dncnn = fused_dncnn()
    developer.develop(sample_raw_of_size(0.5), DevelopOptions(tone="neutral"))  # warm-up

    started = time.perf_counter()
    outcome = developer.develop(raw, DevelopOptions(tone="neutral"))
    ours = time.perf_counter() - started
    # DnCNN over the same pixels, in 1024-pixel squares (a 24 MP whole-image forward needs > 20 GB).
    image = torch.rand(1, 3, height, width)
    started = time.perf_counter()
    with torch.inference_mode():
        for top in range(0, height, 1024):
            for left in range(0, width, 1024):
                dncnn(image[..., top : top + 1024, left : left + 1024])
    reference = time.perf_counter() - started
    result = {
        "image": f"{width}x{height}",
        "threads": torch.get_num_threads(),
        "isp_seconds": round(ours, 2),
        "dncnn17x64_seconds": round(reference, 2),
        "ratio": round(ours / reference, 3),
        "isp_tiles": outcome.tiles,
        "isp_flops_per_pixel": {k: round(v) for k, v in developer.flops_per_pixel.items()},
        "dncnn_flops_per_pixel": 1112832,
    }
    print(result)
    return result


def scaling_benchmark(sizes: list[float]) -> dict:
    """s/Mpix and peak RSS of the whole CLI (read, develop, write PNG) on DNGs of 1-24 MP."""
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for megapixels in sizes:
            raw = sample_raw_of_size(megapixels)
            source = Path(folder) / f"{megapixels:g}mp.dng"
            baselines.mosaic_to_dng(raw.mosaic, source)
            report = Path(folder) / "report.json"
            command = [
                str(Path(sys.executable).with_name("enhance")),
                "isp",
                str(source),
                "-o",
                str(Path(folder) / "out.png"),
                "--overwrite",
                "--report",
                str(report),
                "-q",
            ]
            if torch.get_num_threads():
                command += ["--threads", str(torch.get_num_threads())]
            subprocess.run(command, check=True)
            document = json.loads(report.read_text())
            entry = document["images"][0]
            pixels = entry["width"] * entry["height"] / 1e6
            rows[f"{megapixels:g} MP"] = {
                "size": f"{entry['width']}x{entry['height']}",
                "seconds_total": entry["seconds"]["total"],
                "seconds_per_megapixel": round(entry["seconds"]["total"] / pixels, 3),
                "peak_rss_gib": round(document["peak_rss_bytes"] / 2**30, 2),
                "tiles": entry["tiles"],
            }
            print(megapixels, rows[f"{megapixels:g} MP"])
    rows["command"] = "enhance isp IMAGE.dng -o out.png --report r.json (synthetic DNGs tiled from the sample)"
    return rows


# rawpy's default development (AHD, camera white balance, sRGB, 16 bits) written by the same PNG writer as ours:
# the floor a command-line RAW developer in Python reaches.
RAWPY_DEVELOP = """
import sys, numpy, rawpy
from enhance_cli.imageio import Picture, write_image
with rawpy.imread(sys.argv[1]) as raw:
    pixels = raw.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD, use_camera_wb=True, output_bps=16)
picture = Picture(pixels.astype(numpy.float32) / 65535, None, 16, None, None, "png")
write_image(sys.argv[2], picture, overwrite=True)
"""


def cli_benchmark(megapixels: float = 12.0) -> dict:
    """Wall time of the whole ``enhance isp`` command on a synthetic DNG, beside a process that develops the same
    file with rawpy's AHD and writes it with the same PNG writer; each command once to warm the caches, then
    the better of two runs."""
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"{megapixels:g}mp.dng"
        baselines.mosaic_to_dng(sample_raw_of_size(megapixels).mosaic, source)
        report = Path(folder) / "report.json"
        commands = {
            "enhance isp": [
                str(Path(sys.executable).with_name("enhance")),
                *("isp", str(source), "-o", str(Path(folder) / "isp.png"), "--overwrite", "-q"),
                *("--threads", str(threads), "--report", str(report)),
            ],
            "rawpy AHD + PNG": [sys.executable, "-c", RAWPY_DEVELOP, str(source), str(Path(folder) / "ahd.png")],
        }
        seconds = {}
        for name, command in commands.items():
            environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                subprocess.run(command, check=True, env=environment)
                runs.append(time.perf_counter() - started)
            seconds[name] = min(runs[1:])
        document = json.loads(report.read_text())
    entry = document["images"][0]
    pixels = entry["width"] * entry["height"] / 1e6
    result = {
        "image": f"{entry['width']}x{entry['height']} synthetic DNG (the sample's mosaic tiled)",
        "threads": threads,
        "seconds": {name: round(value, 2) for name, value in seconds.items()},
        "seconds_per_megapixel": {name: round(value / pixels, 3) for name, value in seconds.items()},
        "ratio": round(seconds["enhance isp"] / seconds["rawpy AHD + PNG"], 2),
        "isp_stages": entry["seconds"],
        "peak_rss_gib": round(document["peak_rss_bytes"] / 2**30, 2),
        "model": entry.get("model"),
    }
    print(result)
    return result


def xtrans_benchmark(limit: int | None) -> dict:
    """The protocol of ``quality`` with the mosaics in Fuji's X-Trans layout: ``enhance isp``'s developer (which
    sends them to the X-Trans model) against LibRaw's X-Trans demosaicking (Markesteijn's, 3 and 1 passes:
    rawpy's AHD, DHT and DCB all give the 3-pass one, VNG the 1-pass one) and its linear interpolation."""
    developers = {"isp": Developer.for_model(None, device="cpu")}
    results: dict = {}
    for dataset in DATASETS:
        paths = sorted(image_files(TEST / dataset), key=lambda p: (len(p.stem), p.stem))[:limit]
        for condition in ("clean", "noisy"):
            row = score(developers, tuple(XTRANS_LIBRAW), paths, condition, FUJI_XTRANS)
            row["model"] = default_card_for("xtrans").name
            row["margin_over_libraw_3_pass"] = round(row["isp"]["psnr"] - row["libraw-xtrans-3-pass"]["psnr"], 2)
            row["images"] = len(paths)
            results[f"{dataset}/{condition}"] = row
            print(f"{dataset} {condition}: " + ", ".join(f"{n} {row[n]['psnr']:.2f}" for n in ("isp", *XTRANS_LIBRAW)))
    results["protocol"] = PROTOCOL.replace("RGGB mosaic", "X-Trans mosaic (Fuji's layout)")
    return results


def update_cards(results: dict) -> None:
    if "xtrans" in results:
        path = WEIGHTS_DIR / "isp-xtrans.json"
        card = json.loads(path.read_text())
        card.setdefault("benchmarks", {})["xtrans"] = results.pop("xtrans")
        quality = card["benchmarks"]["xtrans"]
        cells = [f"{key.replace('/', ' ')} {quality[key]['isp']['psnr']:.2f}" for key in quality if "/" in key]
        card["headline"] = "dB on X-Trans mosaics of the test images: " + ", ".join(cells)
        write_card(card)
    if not results:
        return
    for name in OURS:
        path = WEIGHTS_DIR / f"{name}.json"
        card = json.loads(path.read_text())
        # Only the quality part runs both models; the others measure isp.
        card.setdefault("benchmarks", {}).update(
            results if name == "isp" else {k: results[k] for k in results if k == "quality"}
        )
        quality = card["benchmarks"].get("quality")
        if quality:
            cells = [f"{key.replace('/', ' ')} {quality[key][name]['psnr']:.2f}" for key in quality if "/" in key]
            card["headline"] = "dB: " + ", ".join(cells)
        write_card(card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "part", choices=["quality", "real", "speed", "scaling", "pictures", "xtrans", "cli", "validation", "all"]
    )
    parser.add_argument(
        "--models", nargs="+", default=list(OURS), help="validation: registry names or runs/R/R.safetensors files"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each dataset")
    parser.add_argument("--mosaic", choices=["bayer", "xtrans"], default="bayer", help="validation: the layout")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-card", action="store_true", help="record the results in weights/isp*.json")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    parts = {
        "quality": lambda: quality_benchmark(args.limit),
        "real": real_files_benchmark,
        "speed": lambda: speed_benchmark(24.0),
        "scaling": lambda: scaling_benchmark([1, 4, 12, 24]),
        "pictures": pictures_benchmark,
        "xtrans": lambda: xtrans_benchmark(args.limit),
        "cli": cli_benchmark,
    }
    if args.part == "validation":  # chooses between candidates; never part of "all"
        parts = {"validation": lambda: validation_benchmark(args.models, args.limit, args.mosaic)}
    flags = {
        "--models": " ".join(args.models) if args.part == "validation" else None,
        "--mosaic": args.mosaic if args.mosaic != "bayer" else None,
    }
    results = run_parts("isp.py", parts, args.part, {"--limit": args.limit, "--threads": args.threads, **flags})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.update_card:
        update_cards(results)


if __name__ == "__main__":
    main()
