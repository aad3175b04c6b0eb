"""Develop a camera RAW file: the ISP network in camera space, then the file's own colour pipeline.

The network does the learned part (demosaicking and denoising the white-balanced mosaic, tile by
tile). Around it, in this order: saturation found on the mosaic, DNG OpcodeList2 (lens shading), white
balance, the network, highlight handling, OpcodeList3 (distortion), the camera matrix, exposure (linear
light), the output colour space and its curve, tone, pixel aspect and orientation. With the defaults on
a file without clipped highlights, BaselineExposure or opcodes, the result matches LibRaw's full-size
rendering in size and colour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from enhance_cli.cfa import align_mosaic, colour_filter
from enhance_cli.colour_spaces import COLORSPACES, WIDE_FOR_8_BITS, colour_space
from enhance_cli.dng_opcodes import LIST_TAGS, apply_opcodes, parse_opcode_list
from enhance_cli.highlights import (
    DEFAULT_HIGHLIGHTS,
    HIGHLIGHT_MODES,
    clipped_pixels,
    clipped_samples,
    fill_clipped_cells,
    handle_highlights,
    saturation_levels,
)
from enhance_cli.imageio import Picture
from enhance_cli.lens import LENS_MODES, find_lens, lensfun_available
from enhance_cli.pipeline import Outcome
from enhance_cli.raw_noise import estimate_raw_noise, noise_std_map
from enhance_cli.rawio import RawError, RawImage, apply_orientation
from enhance_cli.registry import ModelCard, ModelNotFound, find_card, list_cards
from enhance_cli.restorer import LoadedModel
from enhance_cli.tiling import run_tiled
from enhance_cli.white_balance import (
    DAYLIGHT_KELVIN,
    WhiteBalance,
    gains_for_illuminant,
    grey_edge_gains,
    planckian_xy,
)

TONES = ("standard", "neutral")
STANDARD_CONTRAST = 0.4  # share of a smoothstep S-curve blended into the sRGB values
DENOISE_RANGE = (0.0, 2.0)
EXPOSURE_RANGE = (-10.0, 10.0)  # EV a user may ask for
AUTO_EXPOSURE_RANGE = (-3.0, 3.0)  # EV auto exposure may choose
AUTO_MID_GREY = 0.18  # auto exposure puts the median luminance here...
AUTO_CLIP_SHARE = 0.01  # ...brightening no further than leaves this share of unclipped pixels clipping
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)  # of linear sRGB (Rec. 709)


@dataclass(frozen=True)
class DevelopOptions:
    """How to develop a RAW file (the isp command's options)."""

    tone: str = "standard"  # standard | neutral
    exposure: float | None = 0.0  # EV added to the file's BaselineExposure; None: chosen from the image
    white_balance: WhiteBalance = field(default_factory=WhiteBalance)
    highlights: str = DEFAULT_HIGHLIGHTS  # clip | blend | reconstruct
    colorspace: str = "srgb"
    denoise: float = 1.0  # scales the noise level the network is told: 0 demosaicks only, 2 denoises twice as hard
    lens: str = "off"  # auto: lensfun's corrections where the file has no DNG correction opcodes
    size_guess: bool = False  # read headerless sensor dumps by the layout LibRaw guesses from their size

    def check(self) -> None:
        """ValueError, in words, for an option out of its range."""
        if self.tone not in TONES:
            raise ValueError(f"unknown tone {self.tone!r}; choose one of {', '.join(TONES)}")
        if self.highlights not in HIGHLIGHT_MODES:
            raise ValueError(f"unknown highlight mode {self.highlights!r}; choose one of {', '.join(HIGHLIGHT_MODES)}")
        if self.colorspace not in COLORSPACES:
            raise ValueError(f"unknown colour space {self.colorspace!r}; choose one of {', '.join(COLORSPACES)}")
        low, high = DENOISE_RANGE
        if not low <= self.denoise <= high:  # also refuses NaN
            raise ValueError(f"--denoise must be between {low:g} and {high:g}, not {self.denoise:g}")
        if self.lens not in LENS_MODES:
            raise ValueError(f"unknown lens mode {self.lens!r}; choose one of {', '.join(LENS_MODES)}")
        if self.lens == "auto" and not lensfun_available():
            raise ValueError("--lens auto needs lensfunpy: pip install lensfunpy (the project's 'lens' extra)")
        low, high = EXPOSURE_RANGE
        if self.exposure is not None and not low <= self.exposure <= high:
            raise ValueError(f"--exposure must be between {low:g} and {high:g} EV (or auto), not {self.exposure:g}")

    @property
    def output_bits(self) -> int:
        """The bits a developed picture asks for when the user does not say: 16 for spaces too wide for 8."""
        return 16 if self.colorspace in WIDE_FOR_8_BITS else 8


def standard_tone(encoded: np.ndarray) -> np.ndarray:
    """The default look: a gentle S-curve on sRGB values (black, mid-grey and white stay put)."""
    s_curve = encoded * encoded * (3 - 2 * encoded)
    return (1 - STANDARD_CONTRAST) * encoded + STANDARD_CONTRAST * s_curve


def balanced_mosaic(raw: RawImage) -> tuple[np.ndarray, tuple[int, int]]:
    """The network's input for the as-shot balance: aligned to its layout's phase (RGGB for Bayer), whole
    periods, white balance applied, clipped at saturation. Also returns (top, left): the rows and columns
    :func:`~enhance_cli.cfa.align_mosaic` added.
    """
    cfa = colour_filter(raw.pattern)
    mosaic, offset = cfa.align(raw.mosaic, raw.pattern)
    return np.minimum(mosaic * cfa.per_site(np.asarray(raw.white_balance, np.float32), mosaic.shape), 1.0), offset


def white_balance_gains(raw: RawImage, choice: WhiteBalance) -> tuple[np.ndarray, str]:
    """R, G, B gains (smallest 1) for ``choice``, and where they came from, for the report."""
    if choice.mode == "gains":
        gains = np.array(choice.gains, np.float64)
        return gains / gains.min(), "given multipliers"
    if choice.mode == "kelvin":
        return gains_for_illuminant(raw.xyz_to_camera, planckian_xy(choice.kelvin)), f"{choice.kelvin:g} K"
    if choice.mode == "daylight":
        if raw.daylight_gains is not None:
            return raw.daylight_gains, "the camera's daylight"
        return gains_for_illuminant(raw.xyz_to_camera, planckian_xy(DAYLIGHT_KELVIN)), f"{DAYLIGHT_KELVIN:g} K"
    if choice.mode == "auto":
        gains = grey_edge_gains(align_mosaic(raw.mosaic, raw.pattern)[0], colour_filter(raw.pattern))
        if gains is not None:
            return gains, "grey edge"
    return raw.white_balance, raw.white_balance_source


def auto_exposure(linear: np.ndarray, usable: np.ndarray) -> float:
    """EV that puts the median luminance of ``usable`` pixels at mid-grey, but brightens only as far as
    leaves at most :data:`AUTO_CLIP_SHARE` of them clipping (speculars that clip as shot never darken it)."""
    step = max(1, int(np.sqrt(linear.shape[0] * linear.shape[1] / 250_000)))  # a statistic: 250 k pixels do
    sample, keep = linear[::step, ::step].reshape(-1, 3), usable[::step, ::step].ravel()
    sample = sample[keep] if keep.sum() >= 64 else sample
    luminance = sample @ LUMINANCE
    median = float(np.median(luminance))
    brightest = float(np.quantile(sample.max(axis=1), 1 - AUTO_CLIP_SHARE))
    if not median > 0 or not brightest > 0:
        return 0.0
    ev = min(np.log2(AUTO_MID_GREY / median), max(np.log2(1 / brightest), 0.0))
    return float(np.clip(ev, *AUTO_EXPOSURE_RANGE))


MOSAIC_NAMES = {"bayer": "Bayer", "xtrans": "X-Trans"}


def card_mosaic(card: ModelCard) -> str:
    """The colour filter layout an isp model develops: "bayer" unless its card says "xtrans"."""
    return card.extra.get("mosaic", "bayer")


def default_card_for(mosaic: str) -> ModelCard:
    """The isp model for mosaics of ``mosaic``'s layout: the default isp model for Bayer, else the one that
    develops that layout."""
    if mosaic == "bayer":
        return find_card(task="isp")
    for card in list_cards():
        if card.task == "isp" and card_mosaic(card) == mosaic:
            return card
    raise ModelNotFound(f"no isp model for {MOSAIC_NAMES[mosaic]} mosaics (reinstall enhance)")


class Developer(LoadedModel):
    """A loaded ISP model, ready to develop RAW files; files of another colour filter layout go to the model
    for theirs (loaded when the first such file comes), unless the user named this model."""

    def __init__(self, card: ModelCard, named: bool = False, **options) -> None:
        if card.task != "isp":
            raise ValueError(f"model {card.name!r} is for task {card.task!r}, not isp")
        super().__init__(card, **options)
        self.mosaic = card_mosaic(card)
        self.named = named
        self._options = options
        self._for_other_mosaics: dict[str, Developer] = {}

    @classmethod
    def for_model(cls, model: str | None = None, **options) -> Developer:
        return cls(find_card(name=model, task=None if model else "isp"), named=model is not None, **options)

    def for_raw(self, raw: RawImage) -> Developer:
        """The developer for ``raw``'s colour filter layout: this one, or the default model for that layout."""
        mosaic = colour_filter(raw.pattern).name
        if mosaic == self.mosaic:
            return self
        if self.named:
            article = "an" if mosaic == "xtrans" else "a"
            raise RawError(
                f"{raw.name}: {article} {MOSAIC_NAMES[mosaic]} mosaic; model {self.card.name!r} develops "
                f"{MOSAIC_NAMES[self.mosaic]} mosaics (leave out --model to use the one for {MOSAIC_NAMES[mosaic]})"
            )
        if mosaic not in self._for_other_mosaics:
            self._for_other_mosaics[mosaic] = Developer(default_card_for(mosaic), **self._options)
        return self._for_other_mosaics[mosaic]

    @property
    def flops_per_pixel(self) -> dict[str, float]:
        """FLOPs per mosaic pixel, as the card records them: ``conv`` (filtering at image resolution) and
        ``mlp`` (HC filter prediction)."""
        return self.card.flops()

    def develop(
        self,
        raw: RawImage,
        options: DevelopOptions = DevelopOptions(),
        progress: Callable[[int, int], None] | None = None,
    ) -> Outcome:
        """Develop ``raw`` into an upright :class:`Picture` in ``options.colorspace``, with its ICC profile."""
        options.check()
        developer = self.for_raw(raw)
        if developer is not self:
            return developer.develop(raw, options, progress)
        started = time.perf_counter()
        height, width = raw.mosaic.shape
        cfa = colour_filter(raw.pattern)
        sensor, (top, left) = cfa.align(raw.mosaic, raw.pattern)
        levels = saturation_levels(sensor, raw.white_levels, cfa)
        saturated = clipped_samples(sensor, levels, cfa)
        cells = cfa.cell_any(saturated)
        gains, balance_source = white_balance_gains(raw, options.white_balance)
        opcodes, damaged = _opcodes(raw)
        applied, skipped = [], damaged + [op.name for op in opcodes.get(1, [])]  # list 1: raw data we never see
        shading = None
        if opcodes.get(2):
            shading, done, left_out = apply_opcodes(np.ones_like(raw.mosaic), opcodes[2])
            applied, skipped = applied + done, skipped + left_out
            shading = cfa.align(shading, raw.pattern)[0] if done else None

        balance = cfa.per_site(np.asarray(gains, np.float32), sensor.shape)
        if shading is not None:
            balance *= shading
        floors = levels * gains  # each channel's saturation after white balance
        planes = [sensor * balance]
        # Headroom: values white balance lifts above 1 are scaled into the network's range, not clipped.
        recorded = np.max(planes[0], where=~saturated, initial=0.0)
        headroom = max(1.0, min(float(recorded), float(floors.max()) * _peak(shading)))
        if options.highlights == "clip":
            np.minimum(planes[0], floors.min() * (shading if shading is not None else 1), out=planes[0])
        else:
            cell_floors = floors if shading is None else floors * shading[:: cfa.cell, :: cfa.cell, None]
            fill_clipped_cells(planes[0], cells, cell_floors.astype(np.float32), headroom, cfa)
        noise = None
        if self.model.input_channels == 2:  # each pixel's noise std after white balance, from a blind estimate
            noise = estimate_raw_noise(sensor, cfa.period)
            planes.append(noise_std_map(sensor, *noise) * balance * np.float32(options.denoise))
        del balance
        mosaic = np.stack(planes, axis=-1)
        if headroom > 1:
            mosaic /= np.float32(headroom)
        del planes
        plan = self.plan_for(*mosaic.shape[:2])

        def network(batch: torch.Tensor) -> torch.Tensor:
            return self.model(self.to_device(batch)).float().cpu()

        result = run_tiled(network, mosaic, plan, progress)
        camera = result.image[top : top + height, left : left + width]
        if headroom > 1:
            camera = camera * np.float32(headroom)
        tiles, processed = result.tiles, result.processed_pixels
        del mosaic, result

        clipped = clipped_pixels(cells, top, left, height, width, cfa.cell)
        if shading is not None:
            floors = floors * shading[top : top + height, left : left + width, None]
        camera = handle_highlights(camera, clipped, floors, options.highlights)
        if opcodes.get(3):
            camera, done, left_out = apply_opcodes(camera, opcodes[3])
            applied, skipped = applied + done, skipped + left_out
        camera, lens = _correct_lens(camera, raw, options.lens, applied)
        linear = (camera.reshape(-1, 3) @ raw.camera_to_srgb.T.astype(np.float32)).reshape(height, width, 3)
        del camera

        if options.exposure is None:
            ev = auto_exposure(linear, ~clipped.any(axis=-1))
        else:
            ev = raw.baseline_exposure + options.exposure
        if ev:
            linear *= np.float32(2.0**ev)
        pixels = self._encode(linear, options)
        del linear
        pixels = _stretch(pixels, raw.pixel_aspect)
        pixels = np.ascontiguousarray(apply_orientation(pixels, raw.orientation))
        space = colour_space(options.colorspace)
        picture = Picture(pixels, None, options.output_bits, raw.exif, space.icc_profile, "raw", {})

        by_part = {part: round(value * processed) for part, value in self.flops_per_pixel.items()}
        details = {"noise_shot": noise[0], "noise_read": noise[1]} if noise else {}
        details.update(
            model=self.card.name,
            white_balance={
                "asked": str(options.white_balance),
                "used": balance_source,
                "gains": [round(float(g), 4) for g in gains],
            },
            exposure={
                "asked": "auto" if options.exposure is None else options.exposure,
                "baseline_exposure": raw.baseline_exposure,
                "applied_ev": round(float(ev), 3),
            },
            highlights={
                "mode": options.highlights,
                "clipped_share": round(float(cells.any(axis=-1).mean()), 5),
                "saturation": [round(float(level), 4) for level in levels],
            },
            dng_opcodes={"applied": applied, "skipped": skipped},
            colorspace=options.colorspace,
            denoise=options.denoise,
            lens=lens,
        )
        seconds = time.perf_counter() - started
        flops = sum(by_part.values())
        return Outcome(picture, None, tiles, flops, seconds, processed, flops_by_part=by_part, details=details)

    @staticmethod
    def _encode(linear: np.ndarray, options: DevelopOptions) -> np.ndarray:
        """Linear sRGB -> the output space's encoded values, with the tone curve (an S-curve on sRGB-encoded
        values, applied to each channel of the output space alike)."""
        srgb, space = colour_space("srgb"), colour_space(options.colorspace)
        if space is not srgb:
            linear = (linear.reshape(-1, 3) @ space.from_linear_srgb.T.astype(np.float32)).reshape(linear.shape)
        encoded = srgb.encode(linear)
        if options.tone == "standard":
            encoded = standard_tone(encoded)
        return encoded if space is srgb else space.encode(srgb.decode(encoded))


def _correct_lens(camera: np.ndarray, raw: RawImage, mode: str, applied: list[str]) -> tuple[np.ndarray, dict]:
    """lensfun's corrections for ``--lens auto``, unless the DNG's own were applied; and what was done."""
    if mode == "off":
        return camera, {"asked": "off"}
    if applied:
        return camera, {"asked": mode, "used": None, "why": "the DNG's own corrections were applied"}
    found = find_lens(raw.exif, *camera.shape[:2])
    if isinstance(found, str):
        return camera, {"asked": mode, "used": None, "why": found}
    return found.apply(np.ascontiguousarray(camera, np.float32)), {"asked": mode, "used": found.description}


def _opcodes(raw: RawImage) -> tuple[dict[int, list], list[str]]:
    """The file's opcode lists by number; a damaged list is left out and named, as other developers ignore it."""
    opcodes, damaged = {}, []
    for tag, number in LIST_TAGS.items():
        if tag in raw.opcode_lists:
            try:
                opcodes[number] = parse_opcode_list(raw.opcode_lists[tag])
            except ValueError as error:
                damaged.append(f"OpcodeList{number} (damaged: {error})")
    return opcodes, damaged


def _peak(shading: np.ndarray | None) -> float:
    return 1.0 if shading is None else float(shading.max())


def _stretch(pixels: np.ndarray, pixel_aspect: float) -> np.ndarray:
    """Square the pixels of the few cameras whose pixels are not, as LibRaw does (never shrinking)."""
    if pixel_aspect == 1:
        return pixels
    height, width = pixels.shape[:2]
    if pixel_aspect < 1:
        size = (width, int(height / pixel_aspect + 0.5))
    else:
        size = (int(width * pixel_aspect + 0.5), height)
    return cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)
