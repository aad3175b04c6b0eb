"""Training recipes: every shipped model's training configuration, as data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class Recipe:
    name: str
    objective: str  # "restore": level-conditioned; "estimate": blind level regression; "isp"; "slimmable",
    # "ladder" and "gate": DDS-Net's stages
    task: str
    architecture: str
    config: dict
    data: tuple[Path, ...]
    level_range: tuple[float, float]
    norm_scale: float  # network level = level / norm_scale
    patch: int = 64
    batch: int = 8
    levels_per_step: int = 4
    steps: int = 10000
    lr: float = 6e-4
    warmup: int = 300
    seed: int = 0
    bf16: bool = True
    log_every: int = 50
    checkpoint_every: int = 250
    card: dict = field(default_factory=dict)  # registry fields: level spec, estimator, summary
    init: Path | None = None  # weights of an earlier stage to start from (relative to the repository root)
    downscale: int = 1  # shrink training images by this factor first (clean full-resolution colour)
    saturation: float = 1.0  # isp: shuffle colours and boost saturation of some patches by up to this factor
    identity_cameras: float = 0.2  # isp: share of simulated cameras whose colour space is sRGB itself
    relative_loss: bool = False  # restore: each level's L1 divided by its input's, so mild levels weigh as much
    shared_patches: bool = True  # restore: every level sees the same patches (False: each level its own)
    pin_level_ends: bool = False  # restore: each step trains the range's two ends exactly, the rest between
    full_chroma: tuple[str, ...] = ()  # folders whose images have full-resolution colour: never downscaled
    hard_share: float = 0.0  # isp: share of patches drawn from where a bilinear demosaic errs most
    trainable: str | None = None  # train only parameters named with this prefix (None: all)
    mosaic: str = "bayer"  # isp: the colour filter layout mosaics are made in ("bayer" or "xtrans")
    # Parameters whose names start with one of the prefixes learn at lr x scale: a new part beside weights that
    # are already trained (a zero-initialised path moves too slowly at the trunk's gentle rate).
    lr_scales: tuple[tuple[tuple[str, ...], float], ...] = ()
    init_drop: tuple[str, ...] = ()  # parameters of ``init`` to leave out (a part the new network does without)
    # isp: tell the network the noise plus what the blind estimate reads in each photo's own texture, as at
    # inference (False: the true noise with estimation-sized scatter, so "clean" means an estimate of zero).
    texture_noise: bool = False
    # gate: label each patch with the cheapest rung whose mean squared error exceeds the largest's by at most
    # this (an absolute amount, so a clean patch, where every rung errs little, needs no width); None: the
    # cheapest within GATE_BETA dB of the largest (a ratio, which asks the most width of the cleanest patches).
    gate_tolerance: float | None = None
    # isp: the squared error in sRGB (what PSNR measures, and demosaicnet's own loss) rather than L1.
    squared_error: bool = False

    @property
    def patches_per_step(self) -> int:
        """How many clean patches one training step draws."""
        if self.objective == "restore" and not self.shared_patches:
            return self.batch * self.levels_per_step
        return self.batch


def stage_weights(name: str) -> Path:
    """Where ``python -m enhance_cli.training NAME`` leaves its weights (relative to the repository root)."""
    return Path("runs") / name / f"{name}.safetensors"


TRAIN_SETS = (DATA / "train" / "CBSD432", DATA / "train" / "WikiPhotos", DATA / "train" / "T91")
# With the full-colour Wallpapers (added 2026-12-02; used from isp v2 on).
TRAIN_SETS_WITH_WALLPAPERS = (*TRAIN_SETS, DATA / "train" / "Wallpapers")

ISP_UNET = {
    "channels": [32, 64, 128],
    "encoder_blocks": [2, 2, 2],
    "decoder_blocks": [1, 1],
    "hyper": [False, True, True],
    "cells": [8, 8, 4],
    "mlp_width": 256,
    "expansion": 2.0,
}

# The ablation: the same U-Net with static depthwise filters, widened to the same FLOPs (within 1%).
ISP_PLAIN = {**ISP_UNET, "hyper": [False, False, False], "expansion": 2.5}

# The ISP is trained in two stages: blind (mosaic only), then with the noise map as a second input,
# on halved (clean-colour) images, with colours shuffled and saturated on half the patches and more
# sRGB-like cameras: saturated raw colours were where stage 1 failed (McMaster).
ISP_BLIND = Recipe(
    name="isp-blind",
    objective="isp",
    task="isp",
    architecture="isp-unet",
    config=ISP_UNET,
    data=TRAIN_SETS,
    level_range=(0.0, 0.0),
    norm_scale=1.0,
    patch=128,
    batch=8,
    levels_per_step=1,
    steps=8000,
    lr=1e-3,
    card={"summary": "Stage 1 of isp (no noise-map input); not shipped"},
)
ISP_STAGE_2 = {
    "steps": 6000,
    "lr": 3e-4,
    "warmup": 100,
    "downscale": 2,
    "saturation": 3.0,
    "identity_cameras": 0.5,
}


def hyperres_recipe(
    task: str, level: tuple[str, float, float, float], summary: str, estimator: str | None = None
) -> Recipe:
    """The shipped HyperRes model for ``task``: ``level`` is (name, minimum, maximum, norm_scale)."""
    name, minimum, maximum, norm_scale = level
    spec = {"name": name, "minimum": minimum, "maximum": maximum, "default": None, "norm_scale": norm_scale}
    return Recipe(
        name=f"hyperres-{task}",
        objective="restore",
        task=task,
        architecture="hyperres",
        config={"channels": 64, "blocks": 8},
        data=TRAIN_SETS,
        level_range=(minimum, maximum),
        norm_scale=norm_scale,
        steps=16000,
        card={
            "summary": summary,
            "level": spec,
            **({"estimator": estimator} if estimator else {}),
            "default_for_task": True,
        },
    )


# The first JPEG recipe (shipped until 2026-12-01): all four qualities of a step on the same patches, plain L1.
JPEG_FIRST = hyperres_recipe(
    "jpeg",
    ("quality", 10.0, 90.0, 100.0),
    "HyperRes adaptive JPEG artifact removal: one network for qualities 10-90 (colour 4:2:0 and greyscale)",
    estimator="quality-estimator",
)
# Each quality its own patches and the relative loss took the 2000-step gaps to single-quality twins from
# -0.26 / -0.11 dB (q10 / q40) to +0.02 / +0.22; the ends need no pinning.
JPEG_DISTINCT = replace(JPEG_FIRST, relative_loss=True, shared_patches=False, card={})
# The shipped model continues the first recipe's 16000 steps with those options (a from-scratch run did not fit
# a session on a CPU without bf16 units); fp32, which such CPUs run 3x faster than bf16 autocast.
JPEG_STAGE_1 = replace(
    JPEG_FIRST,
    name="hyperres-jpeg-first",
    card={"summary": "Stage 1 of hyperres-jpeg (the first recipe, shipped until 2026-12-01); not shipped"},
)
HYPERRES_JPEG = replace(
    JPEG_DISTINCT,
    card=JPEG_FIRST.card,
    init=stage_weights(JPEG_STAGE_1.name),
    steps=6000,
    lr=3e-4,
    warmup=100,
    bf16=False,
)

# The first SR recipe (shipped until 2026-11-22): all four scales of a step on the same patches, plain L1.
SR_FIRST = hyperres_recipe(
    "sr",
    ("scale", 2.0, 4.0, 4.0),
    "HyperRes adaptive super-resolution: one network for scales 2-4 (input upscaled bicubically first, so "
    "any scale in between works)",
)
# From the adaptive ablations (x2 / x4 gaps to single-scale twins): each scale its own patches and a relative
# loss took them from -0.79 / -0.27 dB to -0.28 / +0.01 at 2000 steps, but x2 stayed at -0.27 at 6000;
# training x2 and x4 themselves in every step closed it to -0.07 / -0.07, at 0.03-0.07 dB between.
SR_DISTINCT = replace(SR_FIRST, relative_loss=True, shared_patches=False, card={})
SR_QUADRATIC = replace(SR_DISTINCT, config={**SR_FIRST.config, "level_order": 2})
HYPERRES_SR = replace(SR_DISTINCT, pin_level_ends=True, card=SR_FIRST.card)


def adaptive_ablation(recipe: Recipe, levels: tuple[float, float], steps: int) -> list[Recipe]:
    """The adaptive claim's test: ``recipe`` trained for ``steps``, and the same network trained as long on
    each of ``levels`` alone (seeing as many patches per step: all its level slots go to fresh ones)."""
    note = {"summary": f"Ablation of {recipe.name} (not shipped): {steps} steps"}
    adaptive = replace(recipe, name=f"{recipe.name}-{steps}", steps=steps, card=note)
    singles = [
        replace(
            adaptive,
            name=f"{adaptive.name}-at-{level:g}",
            level_range=(level, level),
            batch=recipe.batch * recipe.levels_per_step,
            levels_per_step=1,
        )
        for level in levels
    ]
    return [adaptive, *singles]


# isp v2 (issue 15). First the working domain alone: v1's weights trained on for the same steps, in linear
# camera RGB (as v1) and through the sRGB curve, same data, same seed.
ISP_V1 = {**ISP_UNET, "noise_input": True}
ISP_DOMAIN = replace(
    ISP_BLIND,
    name="isp-domain-linear",
    config=ISP_V1,
    card={"summary": "isp v1 trained on in linear camera RGB: the control of the domain change; not shipped"},
    init=stage_weights("isp-v1"),  # or: git show a37d042:weights/isp.safetensors
    **{**ISP_STAGE_2, "steps": 1000},
    bf16=False,  # fp32: 7x faster than bf16 autocast on this CPU
)
ISP_DOMAIN_SRGB = replace(
    ISP_DOMAIN,
    name="isp-domain-srgb",
    config={**ISP_V1, "encoding": "srgb"},
    card={"summary": "isp v1 trained on through the sRGB curve: the domain change alone; not shipped"},
)
# Then v2 itself: the sRGB domain, a refinement pass over the Bayer phases, the full-chroma Wallpapers
# (never halved) and a quarter of the patches from where a bilinear demosaic errs most.
ISP_V2 = {**ISP_V1, "encoding": "srgb", "refine": 48, "refine_layers": 2}
ISP_PLAIN_V2 = {**ISP_V2, "hyper": [False, False, False], "expansion": 2.5}
ISP_V2_STAGE = {
    **ISP_STAGE_2,
    "data": TRAIN_SETS_WITH_WALLPAPERS,
    "full_chroma": ("Wallpapers",),
    "hard_share": 0.25,
    "steps": 3000,
    "lr": 5e-4,
    "bf16": False,
}

# enhance denoise (issue 16), stage 1: the slimmable super-network on camera-noise pairs (sandwich rule,
# in-place synergy). Small patches: four sub-networks run per step, on one CPU thread.
DDS_STATIC_FULL = Recipe(
    name="dds-static-full",
    objective="denoise",
    task="denoise",
    architecture="dds-unet",
    config={"channels": [32, 64, 128], "blocks": [1, 1, 2, 1, 1]},
    data=TRAIN_SETS_WITH_WALLPAPERS,
    level_range=(0.0, 0.0),
    norm_scale=1.0,
    patch=64,
    batch=16,
    levels_per_step=1,
    steps=4000,  # about 0.6 s per step on one thread
    lr=1e-3,
    bf16=False,
    card={"summary": "Static twin of dds-denoise's full width, for benchmarks; not shipped"},
)

# Stage 1: the slimmable super-network, sandwich rule and in-place synergy. Trained from scratch it learned
# badly (validation PSNR below the noisy input's after 1250 steps, against 31.1 dB for the static network at
# 1000): the sub-networks' shared weights pulled against each other before any of them was good. As in
# once-for-all's progressive shrinking, it therefore starts from the full network trained alone (the static
# twin's step-1250 checkpoint of its 4000-step run) and learns to slim at half the learning rate.
DDS_STAGE_1 = replace(
    DDS_STATIC_FULL,
    name="dds-supernet",
    objective="slimmable",
    # min_width 16: the smallest sub-network costs 27 kFLOPs per pixel (8 channels would be 7 k: too thin to denoise).
    config={"channels": [32, 64, 128], "blocks": [1, 1, 2, 1, 1], "group": 8, "min_width": 16},
    init=Path("runs/dds-static-full/dds-static-full-step1250.safetensors"),
    steps=2000,  # about 1.35 s per step on one thread
    lr=5e-4,
    warmup=100,
    card={"summary": "Stage 1 of dds-denoise: the slimmable super-network; not shipped"},
)

# Stage 1, continued (2026-12-02, second session): the super-network's full width ended 0.56 dB below its static
# twin on validation, and its half-FLOPs rung 0.32 dB below the individually trained half network: it was still
# learning when the cosine schedule ran out. A second cycle, same data and patches, at a lower peak rate.
DDS_STAGE_1_CONTINUED = replace(
    DDS_STAGE_1,
    name="dds-supernet-2",
    init=stage_weights(DDS_STAGE_1.name),
    steps=3000,
    lr=3e-4,
    warmup=50,
    card={"summary": "Stage 1 of dds-denoise, continued: the slimmable super-network; not shipped"},
)
DDS_SUPERNET_CHAIN = (DDS_STAGE_1, DDS_STAGE_1_CONTINUED)  # stage 1's runs in order; slimming reads the last

# Stage 2 (progressive slimming, `python -m enhance_cli.training.slimming`) writes the ladder and the rungs
# into runs/dds-ladder; stage 3 trains the gate on them, the super-network frozen. Its labels: the cheapest rung
# whose squared error exceeds the largest's by at most 2e-5 (chosen on validation photos, see DDS_GATE_ERROR).
DDS_DENOISE = replace(
    DDS_STAGE_1,
    name="dds-denoise",
    objective="gate",
    architecture="dds-net",
    config={**DDS_STAGE_1.config, "rungs": 5, "gate_width": 32},
    init=Path("runs/dds-ladder/dds-ladder.safetensors"),
    trainable="gate.",
    patch=96,
    batch=12,
    steps=300,
    lr=3e-3,
    warmup=20,
    log_every=20,
    checkpoint_every=100,
    gate_tolerance=2e-5,
    card={
        "summary": "DDS-Net real-photo denoiser: a slimmable U-Net whose gate picks a sub-network per tile",
        "default_for_task": True,
    },
)

# The static networks DDS-Net is measured against: the full width (DDS_STATIC_FULL, above), and an individually
# trained network of half its FLOPs (50.9%), both trained like the super-network (same data and pairs) at one width.
DDS_STATIC_HALF = replace(
    DDS_STATIC_FULL,
    name="dds-static-half",
    config={"channels": [24, 48, 80], "blocks": [1, 1, 2, 1, 1]},
    card={"summary": "Static network of half dds-denoise's FLOPs, for benchmarks; not shipped"},
)

# Each static baseline gets stage 1's second cycle too (same steps, rate and data), so that it has trained as long
# as the super-network when they are compared.
DDS_STATIC_BASELINES = tuple(
    replace(
        static,
        name=f"{static.name}-2",
        init=stage_weights(static.name),
        steps=DDS_STAGE_1_CONTINUED.steps,
        lr=DDS_STAGE_1_CONTINUED.lr,
        warmup=DDS_STAGE_1_CONTINUED.warmup,
    )
    for static in (DDS_STATIC_FULL, DDS_STATIC_HALF)
)

SHIPPED: list[Recipe] = [
    DDS_STAGE_1,
    DDS_STAGE_1_CONTINUED,
    DDS_DENOISE,
    hyperres_recipe(
        "noise",
        ("sigma", 5.0, 75.0, 75.0),
        "HyperRes adaptive denoiser: one network for Gaussian noise sigma 5-75",
        estimator="sigma-estimator",
    ),
    JPEG_STAGE_1,
    HYPERRES_JPEG,
    HYPERRES_SR,
    Recipe(
        name="sigma-estimator",
        objective="estimate",
        task="noise",
        architecture="level-estimator",
        config={"channels": 32},
        data=TRAIN_SETS,
        level_range=(0.0, 80.0),
        norm_scale=75.0,
        patch=64,
        batch=48,
        levels_per_step=1,
        steps=4500,
        lr=1e-3,
        warmup=100,
        card={"summary": "Blind noise-level (sigma) estimator for hyperres-noise; median over 16 crops"},
    ),
    Recipe(
        name="quality-estimator",
        objective="estimate",
        task="jpeg",
        architecture="jpeg-quality-estimator",
        config={"channels": 32, "kernel": 5},
        data=TRAIN_SETS,
        level_range=(5.0, 120.0),  # above 100: never compressed, the answer being 100
        norm_scale=100.0,
        patch=96,
        batch=32,
        levels_per_step=1,
        steps=3000,
        lr=1e-3,
        warmup=100,
        card={
            "summary": "Blind JPEG quality estimator for hyperres-jpeg, for images no longer in a JPEG file "
            "(JPEG files are read from their tables): block-DCT lattice periodicity, median over 16 crops"
        },
    ),
    ISP_BLIND,
    replace(
        ISP_BLIND,
        name="isp-plain-blind",
        config=ISP_PLAIN,
        card={"summary": "Stage 1 of isp-plain (no noise-map input); not shipped"},
    ),
    replace(
        ISP_BLIND,
        name="isp-v1",
        config={**ISP_UNET, "noise_input": True},
        card={"summary": "isp v1 (shipped until 2026-12-02): linear camera RGB; now stage 1 of isp"},
        init=stage_weights("isp-blind"),
        **ISP_STAGE_2,
    ),
    replace(
        ISP_BLIND,
        name="isp-plain-v1",
        config={**ISP_PLAIN, "noise_input": True},
        card={"summary": "isp-plain v1 (shipped until 2026-12-02); now stage 1 of isp-plain"},
        init=stage_weights("isp-plain-blind"),
        **ISP_STAGE_2,
    ),
    ISP_DOMAIN,
    ISP_DOMAIN_SRGB,
    # isp v2 (the default until 2026-12-03; trained and shipped as "isp" and "isp-plain", renamed when v3
    # took the name): the HyperConvolution U-Net and its plain twin.
    replace(
        ISP_BLIND,
        name="isp-v2",
        config=ISP_V2,
        card={
            "summary": "isp v2, HC U-Net ISP: demosaicks and denoises Bayer RAW through the sRGB curve, guided by "
            "the file's estimated noise (HyperConvolution at 1/4 and 1/8 resolution, a refinement pass over the "
            "Bayer phases)",
        },
        init=stage_weights(ISP_DOMAIN_SRGB.name),
        **ISP_V2_STAGE,
    ),
    replace(
        ISP_BLIND,
        name="isp-v2-plain",
        config=ISP_PLAIN_V2,
        card={"summary": "isp v2's plain-convolution twin at matched FLOPs (the HyperConvolution ablation)"},
        init=stage_weights("isp-plain-v1"),
        **{**ISP_V2_STAGE, "steps": ISP_V2_STAGE["steps"] + ISP_DOMAIN.steps},  # as many steps as isp's two
    ),
    # Fuji X-Trans, first stage: demosaicnet's published X-Trans weights (Gharbi et al. 2016, MIT), converted
    # into our own xtrans-demosaic at training time (`python -m enhance_cli.training.demosaicnet_weights
    # --xtrans runs/xtrans-init/xtrans-init.safetensors`) and shipped as they are (no steps of our own yet).
    replace(
        ISP_BLIND,
        name="isp-xtrans",
        architecture="xtrans-demosaic",
        config={"width": 64, "depth": 11, "encoding": "srgb"},
        steps=0,
        bf16=False,
        card={
            "summary": "Fuji X-Trans demosaicking: demosaicnet's published X-Trans network (Gharbi et al. 2016, "
            "MIT) converted into our own architecture; used by enhance isp for X-Trans files",
            "mosaic": "xtrans",
        },
        init=stage_weights("xtrans-init"),
    ),
]
# X-Trans, second stage (not shipped): the converted network told the noise map (a zero-initialised noise
# head) and fine-tuned on isp's camera-pipeline data mosaicked in the X-Trans layout, as the Bayer trunk is.
# Validation in Fuji's layout (`python benchmarks/isp.py validation --mosaic xtrans --threads 1 --models
# isp-xtrans runs/xtrans-noise/xtrans-noise.safetensors`): converted 38.65 / 31.09, fine-tuned 37.34 / 32.41
# (LibRaw 3-pass 33.38 / 27.99): the same trade as the Bayer trunk's, so the converted weights stay shipped.
XTRANS_NOISE = replace(
    SHIPPED[-1],
    name="xtrans-noise",
    config={**SHIPPED[-1].config, "noise_input": True},
    card={"summary": "isp-xtrans told the noise map and fine-tuned on camera-pipeline data; not shipped yet"},
    mosaic="xtrans",
    **{**ISP_V2_STAGE, "patch": 96, "steps": 1500, "lr": 5e-5, "warmup": 50, "checkpoint_every": 100, "log_every": 25},
)
# isp v3 (issue 26) starts from demosaicnet's published Bayer weights (Gharbi et al. 2016, MIT), converted into
# our own dense-demosaic trunk at training time: `python -m enhance_cli.training.demosaicnet_weights
# runs/dense-demosaic-init/dense-demosaic-init.safetensors`. This recipe names those weights (no steps of its
# own) so that `benchmarks/isp.py validation --models runs/dense-demosaic-init/dense-demosaic-init.safetensors`
# scores them; fine-tuning stages take them with init=.
DENSE_DEMOSAIC_INIT = replace(
    ISP_BLIND,
    name="dense-demosaic-init",
    architecture="dense-demosaic",
    config={"width": 64, "depth": 15, "encoding": "srgb"},
    steps=0,
    card={"summary": "demosaicnet's Bayer weights in the dense-demosaic trunk, unchanged; not shipped"},
)
# First look (not shipped): the converted trunk fine-tuned on isp's camera-pipeline data, mosaic only (no
# noise map), gently, to see how much noise robustness the dense trunk buys before a noise path is added.
DENSE_DEMOSAIC_FINETUNE = replace(
    DENSE_DEMOSAIC_INIT,
    name="dense-demosaic-finetune",
    card={"summary": "dense-demosaic fine-tuned on camera-pipeline data, mosaic only; an experiment, not shipped"},
    init=stage_weights(DENSE_DEMOSAIC_INIT.name),
    **{**ISP_V2_STAGE, "steps": 1500, "lr": 1e-4, "warmup": 50},
)
# The converted trunk told each pixel's noise (a zero-initialised noise head, so it starts as demosaicnet):
# can one dense trunk keep demosaicnet's clean detail and learn isp's denoising? Gentler than the first look.
# Validation (clean / noisy dB, `python benchmarks/isp.py validation --threads 1 --models ...`): converted
# 40.99 / 31.20, step 300 39.92 / 32.09, step 1000 39.77 / 32.21 (isp v2 36.58 / 32.48). Fine-tuning trades
# clean detail for denoising, as the mosaic-only first look did (39.76 / 32.10 at 250 steps); why is open.
DENSE_DEMOSAIC_NOISE = replace(
    DENSE_DEMOSAIC_INIT,
    name="dense-demosaic-noise",
    config={**DENSE_DEMOSAIC_INIT.config, "noise_input": True},
    card={"summary": "dense-demosaic told the noise map, fine-tuned on camera-pipeline data; not shipped"},
    init=stage_weights(DENSE_DEMOSAIC_INIT.name),
    **{**ISP_V2_STAGE, "steps": 1000, "lr": 5e-5, "warmup": 50, "checkpoint_every": 100, "log_every": 25},
)
# isp v3's network, first stage: the fine-tuned trunk narrowed to 48 channels (`python -m
# enhance_cli.training.narrow runs/dense-demosaic-noise/dense-demosaic-noise.safetensors
# runs/dense-demosaic-48/dense-demosaic-48.safetensors --width 48`: 64 channels cost 2.9 s/MP on one thread, 48
# 1.7) with the HyperConvolution noise path added (zero-initialised), and its plain twin at the same FLOPs.
# Validation (clean / noisy dB): the narrowed trunk before training 36.05 / 31.18; isp-dense after 2500 steps
# (49 min, 1 thread) 38.36 / 32.54, ahead of isp v2 (36.58 / 32.48) in both; the plain twin (34 min) the same
# 38.36 / 32.54. The path barely trained: its correction averages 0.001 on outputs of 0.49 (lr 1e-4 from a
# zero-initialised last conv), so both are the narrowed trunk recovering, and the ablation says nothing yet.
# Why does fine-tuning cost clean detail? The same run with every camera sRGB-like (no random camera space),
# and with that and no saturation boost or channel shuffling either. Validation: 39.81 / 32.48 and 39.83 /
# 32.51 against 39.77 / 32.21, so neither is the cause (the noisy gain is the validation's own sRGB camera).
# Half the loss is the noise map: the blind estimate finds film grain and JPEG texture in the "clean" photos
# (std 0.002-0.04), and the network removes what the reference keeps; told no noise (--denoise 0) the
# fine-tuned trunk gets back 0.64 of its 1.24 dB on 26 validation photos. The other half is spread evenly over
# the photos (0.15-0.9 dB each, even on flat clean ones), with per-channel offsets near 1e-3 and highlights
# a little dark: the fine-tuning itself (L1 rather than demosaicnet's L2, or a 20% noise-free share, untested).
DENSE_DEMOSAIC_SRGB_CAMERAS = replace(DENSE_DEMOSAIC_NOISE, name="dense-demosaic-srgb-cameras", identity_cameras=1.0)
DENSE_DEMOSAIC_PLAIN_COLOURS = replace(DENSE_DEMOSAIC_SRGB_CAMERAS, name="dense-demosaic-plain-colours", saturation=1.0)
DENSE_DEMOSAIC_48 = replace(  # names the narrowed weights (no steps of its own), so validation can score them
    DENSE_DEMOSAIC_NOISE,
    name="dense-demosaic-48",
    config={**DENSE_DEMOSAIC_NOISE.config, "width": 48},
    card={"summary": "dense-demosaic-noise narrowed to 48 channels, before training; not shipped"},
    steps=0,
)
ISP_DENSE = replace(
    DENSE_DEMOSAIC_NOISE,
    name="isp-dense",
    architecture="isp-dense",
    config={"width": 48, "depth": 15, "split": 5, "encoding": "srgb"},
    card={"summary": "isp v3 candidate: dense trunk with a HyperConvolution noise path; not shipped yet"},
    init=stage_weights("dense-demosaic-48"),
    **{**ISP_V2_STAGE, "steps": 2500, "lr": 1e-4, "warmup": 100, "checkpoint_every": 100, "log_every": 25},
)
ISP_DENSE_PLAIN = replace(
    ISP_DENSE,
    name="isp-dense-plain",
    config={**ISP_DENSE.config, "hyper": False, "expansion": 2.8},
    card={"summary": "isp-dense's plain twin at matched FLOPs (the HyperConvolution ablation); not shipped"},
)
# Second stage of both twins: the path at 20x the trunk's rate (1e-3 against 5e-5), so it learns from its zero start.
ISP_DENSE_PATH = ("down1.", "encoder.", "down2.", "middle.", "up2.", "decoder.", "up1.")
ISP_DENSE_2 = replace(
    ISP_DENSE,
    name="isp-dense-2",
    init=stage_weights(ISP_DENSE.name),
    **{"steps": 1500, "lr": 5e-5, "warmup": 50, "lr_scales": ((ISP_DENSE_PATH, 20.0),)},
)
ISP_DENSE_PLAIN_2 = replace(
    ISP_DENSE_2,
    name="isp-dense-plain-2",
    config=ISP_DENSE_PLAIN.config,
    card=ISP_DENSE_PLAIN.card,
    init=stage_weights(ISP_DENSE_PLAIN.name),
)
# The trunk alone: isp-dense's first stage without its path (whose correction was near zero: 38.35 / 32.53 on
# validation without it, 38.36 / 32.54 with), trained on by itself. On one thread in channels-last it takes
# 1.98 s/MP against isp-dense's 3.93 and the plain twin's 2.69 (isp v2: 2.30).
ISP_DENSE_TRUNK = replace(
    DENSE_DEMOSAIC_48,
    name="isp-dense-trunk",
    card={"summary": "isp-dense's trunk without its noise path, trained on; not shipped"},
    init=stage_weights(ISP_DENSE.name),
    init_drop=ISP_DENSE_PATH,
    **{**ISP_V2_STAGE, "steps": 1500, "lr": 5e-5, "warmup": 50, "checkpoint_every": 100, "log_every": 25},
)
# Half of fine-tuning's clean loss is the blind estimate finding texture in "clean" photos, which the network
# was trained to read as noise (told the truth, it never saw a texture reading). isp v3 trained on, told the
# estimate's bias per photo (`texture_noise`). Whole-image estimates on noise-free training photos read a std
# at mid-grey of 0.002 / 0.004 / 0.017 (10th / 50th / 90th percentile); one 128-px patch reads 0.016 at the
# median, so the bias is taken from the whole photo, not from the patch. Validation (clean / noisy dB, 1500
# steps, 16 min): 39.42 / 33.08 against the trunk's 38.24 / 32.68 in the same run: +1.2 dB clean and +0.4 noisy.
ISP_TEXTURE = replace(
    ISP_DENSE_TRUNK,
    name="isp-texture",
    card={"summary": "isp v3's trunk trained on, told the blind estimate's texture bias; published as isp"},
    init=stage_weights(ISP_DENSE_TRUNK.name),
    init_drop=(),
    texture_noise=True,
)
ISP_TEXTURE_2 = replace(  # the same, 3000 steps more on a new schedule: validation 39.54 / 33.32 (38 min)
    ISP_TEXTURE,
    name="isp-texture-2",
    card={"summary": "isp-texture trained on for 3000 more steps; not shipped"},
    init=stage_weights(ISP_TEXTURE.name),
    steps=3000,
)
# And 3000 more (isp-texture-2 still gained 0.1 / 0.2 dB): validation 39.51 / 33.49 against isp-texture-2's
# 39.54 / 33.32 in the same run (33 min); demosaicnet scores 41.13 / 31.31 there.
ISP_TEXTURE_3 = replace(
    ISP_TEXTURE_2,
    name="isp-texture-3",
    card={"summary": "isp-texture-2 trained on for 3000 more steps; published as isp"},
    init=stage_weights(ISP_TEXTURE_2.name),
)
# The other half of fine-tuning's clean loss was left at "L1 rather than demosaicnet's L2" (untested): the same
# stage from isp-texture-3, on the squared error, 1500 steps (15 min). Validation 39.41 / 33.57 against
# isp-texture-3's 39.51 / 33.49: the squared error does not win clean detail back, so L1 stays.
ISP_TEXTURE_L2 = replace(
    ISP_TEXTURE_3,
    name="isp-texture-l2",
    card={"summary": "isp-texture-3 trained on the squared error; not shipped"},
    init=stage_weights(ISP_TEXTURE_3.name),
    steps=1500,
    squared_error=True,
)
DEMOSAICNET_NOTICE = (
    "Copyright (c) 2016 Michael Gharbi. Permission is hereby granted, free of charge, to any person obtai"
    'ning a copy of this software and associated documentation files (the "Software"), to deal in the Sof'
    "tware without restriction, including without limitation the rights to use, copy, modify, merge, publ"
    "ish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the S"
    "oftware is furnished to do so, subject to the following conditions: The above copyright notice and t"
    "his permission notice shall be included in all copies or substantial portions of the Software. THE S"
    'OFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIM'
    "ITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN "
    "NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,"
    " WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE"
    " SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."
)
# isp v3 (issue 26), shipped: isp-texture-3 as its run left it. Its stages: demosaicnet's Bayer weights
# converted (dense-demosaic-init), told the noise map and fine-tuned (dense-demosaic-noise), narrowed to 48
# channels (dense-demosaic-48), trained with the noise path (isp-dense), then without it (isp-dense-trunk),
# then told the estimate's texture bias (isp-texture, isp-texture-2, isp-texture-3).
ISP_V3 = replace(
    ISP_DENSE_TRUNK,
    name="isp",
    card={
        "summary": "isp v3: demosaicks and denoises Bayer RAW through the sRGB curve, told the file's estimated "
        "noise; a dense trunk of 15 3x3 convs over the 2x2 cells, started from demosaicnet's weights (MIT)",
        "default_for_task": True,
        "licence": {
            "source": "demosaicnet (pip package, data/bayer.pth): Gharbi, Chaurasia, Paris and Durand, Deep "
            "Joint Demosaicking and Denoising, SIGGRAPH Asia 2016",
            "notice": DEMOSAICNET_NOTICE,
            "conversion": 'pip install -e ".[bench]" && python -m enhance_cli.training.demosaicnet_weights '
            "runs/dense-demosaic-init/dense-demosaic-init.safetensors && python -m enhance_cli.training "
            "dense-demosaic-noise && python -m enhance_cli.training.narrow "
            "runs/dense-demosaic-noise/dense-demosaic-noise.safetensors "
            "runs/dense-demosaic-48/dense-demosaic-48.safetensors --width 48 && python -m enhance_cli.training "
            "isp-dense && python -m enhance_cli.training isp-dense-trunk && python -m enhance_cli.training "
            "isp-texture && python -m enhance_cli.training isp-texture-2 && python -m enhance_cli.training "
            "isp-texture-3 && python -m enhance_cli.training isp --publish",
        },
    },
    init=stage_weights(ISP_TEXTURE_3.name),
    init_drop=(),
    steps=0,
    texture_noise=True,
)
SHIPPED.append(ISP_V3)
# Issue 28: the first gate gave a clean flat photo more width than a noisy textured one, because its labels
# asked every patch to stay within 0.2 dB of the largest rung, and on a clean patch (40-50 dB) the thinner rungs'
# small absolute errors are several dB; its softmax came out nearly the same for every tile. Labelled by absolute
# error instead, the width goes where the error is. The gate alone is trained again (from the shipped
# super-network and rungs, its gate left out; the same start as runs/dds-ladder), 300 steps, about 5 min, at
# three tolerances; on 30 whole validation photos with the training's noise mix (`benchmarks/dds_denoise.py
# gate-validation --weights ...`): 5e-5 sends every tile to the cheapest rung; 1e-5 gives every tile nearly the
# same softmax, as the first gate did; 2e-5 tells them apart (a clean flat image 60% sure of the cheapest rung,
# a noisy textured one 51% sure it needs the widest), and ships as dds-denoise.
DDS_GATE_ERROR = replace(
    DDS_DENOISE,
    name="dds-gate-error",
    card={"summary": "dds-denoise's gate labelled by absolute error; not shipped"},
    init=Path("weights/dds-denoise.safetensors"),  # as shipped then: sha256 730d142c..., before dds-rungs
    init_drop=("gate.",),
    gate_tolerance=5e-5,
)
# The tolerance is chosen on validation photos: these two are tighter.
DDS_GATE_ERROR_TIGHT = [
    replace(DDS_GATE_ERROR, name=f"dds-gate-error-{tolerance:g}", gate_tolerance=tolerance)
    for tolerance in (1e-5, 2e-5)
]
# Issue 28, item 4: the ladder limits the dynamic gain (on validation photos the 55% rung is 0.42 dB below the
# full network, and the individually trained half network beat every rung). The super-network was trained on
# random widths, most of which no rung uses; here only the five rungs train, all of them every step, from the
# weights shipped before (dds-gate-error-2e-05's; the gate rides along untrained). 1200 steps, 28 min: on the
# 30 validation photos the rungs gained +0.03 / +0.21 / +0.28 / +0.20 / +0.10 dB (11% to 100% of the FLOPs).
# The gate trained again on the new rungs (dds-ladder-gate) learned nothing (one softmax for every tile, cross-
# entropy 1.53 against 1.40), so the shipped dds-denoise is these rungs with dds-gate-error-2e-05's gate grafted
# on (`python -m enhance_cli.training.graft runs/dds-rungs/dds-rungs.safetensors
# runs/dds-gate-error-2e-05/dds-gate-error-2e-05.safetensors runs/dds-denoise/dds-denoise.safetensors --prefix
# gate.`): its input, the head's first 16 channels, barely moved. Validation, default: 33.35 dB at 51.6% of the
# FLOPs against 33.07 before.
DDS_RUNGS = replace(
    DDS_STAGE_1_CONTINUED,
    name="dds-rungs",
    objective="ladder",
    architecture="dds-net",
    config=DDS_DENOISE.config,
    card={"summary": "dds-denoise's five rungs trained on, alone; shipped with the earlier gate grafted on"},
    init=stage_weights(DDS_GATE_ERROR_TIGHT[1].name),
    steps=1200,  # about 1.8 s per step on one thread: five sub-networks per step
    lr=2e-4,
    warmup=50,
    checkpoint_every=100,
    log_every=25,
)
DDS_LADDER_GATE = replace(
    DDS_DENOISE,
    name="dds-ladder-gate",
    card={"summary": "dds-denoise's gate trained on dds-rungs' rungs; not shipped"},
    init=stage_weights(DDS_RUNGS.name),
    init_drop=("gate.",),
)
ABLATIONS = [
    DDS_RUNGS,
    DDS_LADDER_GATE,
    DDS_GATE_ERROR,
    *DDS_GATE_ERROR_TIGHT,
    ISP_DENSE_TRUNK,
    ISP_TEXTURE,
    ISP_TEXTURE_2,
    ISP_TEXTURE_3,
    ISP_TEXTURE_L2,
    DENSE_DEMOSAIC_SRGB_CAMERAS,
    DENSE_DEMOSAIC_PLAIN_COLOURS,
    DENSE_DEMOSAIC_48,
    ISP_DENSE,
    ISP_DENSE_PLAIN,
    ISP_DENSE_2,
    ISP_DENSE_PLAIN_2,
    XTRANS_NOISE,
    DENSE_DEMOSAIC_INIT,
    DENSE_DEMOSAIC_FINETUNE,
    DENSE_DEMOSAIC_NOISE,
    DDS_STATIC_FULL,
    DDS_STATIC_HALF,
    *DDS_STATIC_BASELINES,
    *adaptive_ablation(JPEG_FIRST, (10.0, 40.0), steps=2000),
    *adaptive_ablation(SR_FIRST, (2.0, 4.0), steps=2000),
    *adaptive_ablation(SR_FIRST, (2.0, 4.0), steps=6000),
    replace(SR_FIRST, name="hyperres-sr-6000-relative", steps=6000, relative_loss=True, card={}),
    replace(SR_DISTINCT, name="hyperres-sr-2000-distinct", steps=2000),
    replace(SR_DISTINCT, name="hyperres-sr-6000-distinct", steps=6000),
    replace(SR_QUADRATIC, name="hyperres-sr-2000-quadratic", steps=2000),
    replace(SR_QUADRATIC, name="hyperres-sr-6000-quadratic", steps=6000),
    replace(HYPERRES_SR, name="hyperres-sr-6000-ends", steps=6000, card={}),
    replace(JPEG_DISTINCT, name="hyperres-jpeg-2000-distinct", steps=2000),
]
RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in SHIPPED + ABLATIONS}
