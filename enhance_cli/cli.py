"""The ``enhance`` command line: parse options, then call the library."""

import copy
import functools
import inspect
import math
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer
import typer.core
import typer.rich_utils
from rich.console import Console
from rich.markup import escape

from enhance_cli import __version__

if TYPE_CHECKING:
    from enhance_cli.work import BatchOptions

app = typer.Typer(
    name="enhance",
    help=(
        "Neural image enhancement on a laptop CPU.\n\n"
        "Examples:\n\n"
        "  enhance isp photo.dng\n\n"
        "  enhance denoise phone.jpg\n\n"
        "  enhance dejpeg old.jpg\n\n"
        "  enhance sr --scale 2.5 small.png\n\n"
        "  enhance restore --task noise --level 25 photo.png\n\n"
        "  enhance restore --task noise --level auto shots/ -o clean/ --report run.json\n\n"
        "  cat in.png | enhance restore --task noise --level auto - -o - > out.png"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True)


def _usage_error_in_one_line(error: Exception) -> None:  # a ClickException of Typer's own click
    """Typer's usage errors (an unknown option, a bad value) as one plain line, like every other error of the
    command, with the pointer to --help kept; Typer offers no setting for it, so its formatter is replaced."""
    if error.__class__.__name__ == "NoArgsIsHelpError":  # `enhance` alone prints the help, as Typer does
        return
    context = getattr(error, "ctx", None)
    hint = f" (see {context.command_path} --help)" if context is not None else ""
    message = " ".join(error.format_message().split())
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error[/]: {escape(message)}{hint}")


typer.rich_utils.rich_format_error = _usage_error_in_one_line
_option_type = typer.core.TyperOption.display_type_rich
# A flag takes no value, so the help shows none (Typer writes <bool> beside every flag, --help included).
typer.core.TyperOption.display_type_rich = lambda option, ctx: None if option.is_flag else _option_type(option, ctx)


class OutputFormat(str, Enum):
    png = "png"
    tiff = "tiff"
    jpeg = "jpeg"
    webp = "webp"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class Task(str, Enum):
    noise = "noise"
    jpeg = "jpeg"
    sr = "sr"


# Options every image command shares (the CLI contract).
Inputs = Annotated[
    list[str],
    typer.Argument(help="Image files, directories of images, or - for one image on stdin.", show_default=False),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Output file, directory (several inputs, or ends in /), or - for stdout. "
        "Default: next to each input as `<stem>_<command>.<ext>`.",
        show_default=False,
    ),
]
Format = Annotated[
    OutputFormat | None,
    typer.Option(help="Output format. Default: png, or what the -o file's extension says.", show_default=False),
]
Bits = Annotated[
    int | None,
    typer.Option(
        metavar="8|16",  # checked with the other shared options: a range would offer 9-15
        help="Bits per sample for png/tiff: 8 or 16. Default: the input's depth.",
        show_default=False,
    ),
]
Quality = Annotated[
    int | None,
    typer.Option(
        min=1, max=100, metavar="1-100", help="Quality of JPEG/WebP outputs, 1-100.  [default: 95]", show_default=False
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs (they are skipped otherwise).")]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-directories of directory inputs.")]
Tile = Annotated[
    int | None,
    typer.Option(
        min=0,
        metavar="PIXELS",
        help="Largest tile side in pixels; 0 = whole image. Default: tiles of the size that runs fastest (about "
        "0.5 MP for the HyperRes models, 1 MP for isp), as few as split the image evenly.",
        show_default=False,
    ),
]
TileOverlap = Annotated[
    int | None,
    typer.Option(
        min=0,
        metavar="PIXELS",
        help="Overlap between tiles in pixels, cross-faded; rounded up to the model's grid. Default: 0 where each "
        "tile's halo covers the network's receptive field (tiles then match the whole image), else 8.",
        show_default=False,
    ),
]


def parse_memory(text: str | None) -> int | None:
    """``512M``, ``2G`` or a plain number of MiB, as bytes."""
    if text is None:
        return None
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = (text[:-1], text[-1].upper()) if text[-1:].upper() in units else (text, "M")
    try:
        value = float(number)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a size like 100M or 1G", param_hint="--memory") from None
    if not math.isfinite(value * units[unit]):  # nan, inf, 1e400
        raise typer.BadParameter(f"{text!r} is not a size like 100M or 1G", param_hint="--memory")
    if value <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--memory")
    return int(value * units[unit])


Memory = Annotated[
    str | None,
    typer.Option(
        metavar="SIZE",
        help="The network's working memory per tile, e.g. 100M or 1G, shared by images processed at once; tiles "
        "are sized to fit. Default: the fastest tiles, about 200 MiB (HyperRes) or 400 MiB (isp). The image "
        "itself takes memory beside it.",
        show_default=False,
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        metavar="NAME", help="Model name from `enhance models`. Default: the task's default.", show_default=False
    ),
]
DeviceOption = Annotated[Device, typer.Option(help="Where to run: auto picks cuda, then mps, then cpu.")]
Threads = Annotated[
    int | None,
    typer.Option(min=1, metavar="N", help="CPU threads for the whole run. Default: every core.", show_default=False),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        metavar="N",
        help="Images processed at once, each in its own process with a share of the threads and of --memory. "
        "Default: one per core for a batch of images under 8 MP, else one at a time on every core.",
        show_default=False,
    ),
]
Cluster = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run the batch on a Dask cluster, e.g. tcp://host:8786: its workers read, process and write the "
        "images, which must be on storage every worker sees under the same paths. Needs the cluster extra "
        "(pip install -e '.[cluster]' in the checkout).",
        show_default=False,
    ),
]
Report = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        help="Write a JSON report (per image: level, size, tiles, FLOPs, timings) to this file.",
        show_default=False,
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summary on stderr.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show a traceback when an input fails.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"enhance {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Neural image enhancement on a laptop CPU."""


def parse_level(text: str, option: str = "--level") -> float | None:
    """``auto`` -> None (estimate per image); otherwise a non-negative number."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"expected a number or 'auto', got {text!r}", param_hint=option) from None
    if value < 0 or value != value:
        raise typer.BadParameter(f"must be >= 0, got {text}", param_hint=option)
    return value


def batch_options(
    output: Output = None,
    format: Format = None,
    bits: Bits = None,
    quality: Quality = None,
    overwrite: Overwrite = False,
    recursive: Recursive = False,
    tile: Tile = None,
    tile_overlap: TileOverlap = None,
    memory: Memory = None,
    model: Model = None,
    device: DeviceOption = Device.auto,
    threads: Threads = None,
    jobs: Jobs = None,
    cluster: Cluster = None,
    report: Report = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> "BatchOptions":
    """The options every image command shares, declared once: :func:`image_command` adds them to each
    command; here they are checked and gathered for the library."""
    from enhance_cli.work import BatchOptions

    if bits not in (None, 8, 16):
        raise typer.BadParameter("must be 8 or 16", param_hint="--bits")
    return BatchOptions(
        output=output,
        format=format.value if format else None,
        bits=bits,
        quality=quality,
        overwrite=overwrite,
        recursive=recursive,
        tile=tile,
        tile_overlap=tile_overlap,
        memory=parse_memory(memory),
        model=model,
        device=device.value,
        threads=threads,
        jobs=jobs,
        cluster=cluster,
        report=report,
        quiet=quiet,
        debug=debug,
    )


def image_command(**helps: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command that declares only its own options and takes the shared ones (those of
    :func:`batch_options`) gathered as ``options``; they follow its own in the signature Typer reads.
    ``helps`` replaces a shared option's help for this command (isp's --bits default, its --model names)."""
    shared = [_with_help(parameter, helps.get(name)) for name, parameter in _SHARED.items()]

    def register(command: Callable[..., None]) -> Callable[..., None]:
        own = [parameter for name, parameter in inspect.signature(command).parameters.items() if name != "options"]

        @functools.wraps(command)
        def run(**values: object) -> None:
            command(**{p.name: values.pop(p.name) for p in own}, options=batch_options(**values))

        run.__signature__ = inspect.Signature(own + shared)
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in own + shared}
        return app.command()(run)

    return register


_SHARED = inspect.signature(batch_options).parameters


def _with_help(parameter: inspect.Parameter, help: str | None) -> inspect.Parameter:
    """``parameter`` with its Typer option's help replaced, if ``help`` is given."""
    if help is None:
        return parameter
    kind, option = get_args(parameter.annotation)
    option = copy.copy(option)
    option.help = help
    return parameter.replace(annotation=Annotated[kind, option])


@image_command()
def restore(
    inputs: Inputs,
    task: Annotated[
        Task,
        typer.Option(
            help="What to remove: noise (Gaussian-like sensor noise), jpeg (compression artifacts) or sr "
            "(low resolution: the image is upscaled by the level)."
        ),
    ] = Task.noise,
    level: Annotated[
        str,
        typer.Option(
            help="Degradation level, or auto to estimate it per image. noise: sigma on the 0-255 scale (5-75); "
            "jpeg: the quality it was saved at (10-90 restored, 95+ passed through); sr: the scale, 2-4 "
            "(required)."
        ),
    ] = "auto",
    *,
    options: "BatchOptions",
) -> None:
    """Restore images with an adaptive network that takes the degradation level as input.

    One model covers a continuous range of levels. Give the level you know, or --level auto
    to let a small CNN estimate it per image.

    Examples:

      enhance restore --task noise --level 25 photo.png          # writes photo_restore.png

      enhance restore --level auto scans/ -o clean/ --bits 16

      enhance restore --level 15 a.jpg -o a.tif --report run.json
    """
    from enhance_cli.commands import run_restore

    _exit_with(run_restore(inputs, task.value, parse_level(level), options, "restore"))


@image_command()
def dejpeg(
    inputs: Inputs,
    level: Annotated[
        str,
        typer.Option(
            help="The JPEG quality the images were saved at (1-100), or auto: read from each JPEG file's "
            "quantisation tables (exact for the standard tables most encoders use), or, for images no longer in "
            "JPEG files (re-saved as PNG), estimated from the pixels by a small network."
        ),
    ] = "auto",
    *,
    options: "BatchOptions",
) -> None:
    """Remove JPEG compression artifacts (blocks, ringing, colour bleeding) with one network for every quality.

    The network was trained on qualities 10-90. Images saved at 95 or above come back unchanged
    (restoring them would only lose detail); between 90 and 95 the correction fades out.

    Examples:

      enhance dejpeg old.jpg                        # writes old_dejpeg.png

      enhance dejpeg --level 20 screenshots/ -o fixed/

      enhance dejpeg web/ -o clean/ --report run.json   # the report records each quality used
    """
    from enhance_cli.commands import run_restore

    _exit_with(run_restore(inputs, "jpeg", parse_level(level), options, "dejpeg"))


@image_command()
def sr(
    inputs: Inputs,
    scale: Annotated[
        float,
        typer.Option(
            min=2.0, max=4.0, help="Upscaling factor, 2-4, fractions allowed; the output is round(size x scale)."
        ),
    ] = 2.0,
    *,
    options: "BatchOptions",
) -> None:
    """Upscale images: bicubic to the new size, then one network (trained for scales 2-4) restores the detail.

    Transparency is upscaled bicubically beside the network, not through it.

    Examples:

      enhance sr --scale 2 small.png                # writes small_sr.png at twice the size

      enhance sr --scale 2.5 thumbs/ -o large/ --bits 16
    """
    from enhance_cli.commands import run_restore

    _exit_with(run_restore(inputs, "sr", scale, options, "sr"))


def _exit_with(code: int) -> None:
    raise typer.Exit(code)


@image_command()
def denoise(
    inputs: Inputs,
    budget: Annotated[
        float | None,
        typer.Option(
            metavar="FRACTION",  # above 0, at most 1: checked with the library's own message (check_budget)
            help="The most FLOPs the run may spend, as a fraction of the full network's, e.g. 0.5 (at least "
            "what the cheapest sub-network costs, 0.124; at most 1): a gate scores every tile, then gives the "
            "budget to the tiles it is surest need a wider sub-network, and what an image leaves unspent goes "
            "to the images after it; 1 runs the full network everywhere. "
            "Default: the knee of the model's FLOPs/quality ladder (`enhance models` shows it), where more FLOPs "
            "stop paying.",
            show_default=False,
        ),
    ] = None,
    *,
    options: "BatchOptions",
) -> None:
    """Remove the noise of real photos (camera and phone JPEGs, high ISO) with a dynamic slimmable network.

    Blind: no noise level to give. A gate looks at each tile and picks how many channels it runs,
    within --budget; the report records the FLOPs spent and which sub-networks ran. Trained on
    camera-pipeline noise (shot and read noise, demosaicking, JPEG) and on white Gaussian noise.

    Examples:

      enhance denoise phone.jpg                      # writes phone_denoise.png

      enhance denoise shoot/ -o clean/ --budget 0.5 --report run.json

      enhance denoise scan.tif -o scan_clean.tif --bits 16
    """
    from enhance_cli.commands import run_denoise

    _exit_with(run_denoise(inputs, budget, options))


class Tone(str, Enum):
    standard = "standard"
    neutral = "neutral"


class Highlights(str, Enum):
    reconstruct = "reconstruct"
    blend = "blend"
    clip = "clip"


class LensMode(str, Enum):
    off = "off"
    auto = "auto"


class ColourSpaceName(str, Enum):
    srgb = "srgb"
    display_p3 = "display-p3"
    adobe_rgb = "adobe-rgb"
    prophoto = "prophoto"


def parse_exposure(text: str) -> float | None:
    """``auto`` (None) or EV as a finite number."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a number of EV (such as -0.5 or 1) or auto", param_hint="--exposure"
        ) from None
    if not -10 <= value <= 10:  # also refuses nan and inf
        raise typer.BadParameter(f"{text!r}: must be between -10 and 10 EV", param_hint="--exposure")
    return value


def parse_white_balance_option(text: str):
    from enhance_cli.white_balance import parse_white_balance

    try:
        return parse_white_balance(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--wb") from None


@image_command(
    bits="Bits per sample for png/tiff: 8 or 16.  [default: 8; 16 for prophoto]",
    model="isp (v3, default), isp-v2 (the HyperConvolution U-Net) or isp-v2-plain (its plain-conv twin); "
    "X-Trans files: isp-xtrans.",
)
def isp(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, ...) or directories of them.",
            show_default=False,
        ),
    ],
    tone: Annotated[
        Tone,
        typer.Option(
            help="neutral: colorimetric (white balance, camera matrix, the output space's curve, nothing else), "
            "for benchmarks and grading later. standard: the same plus a gentle S-curve for contrast."
        ),
    ] = Tone.standard,
    exposure: Annotated[
        str,
        typer.Option(
            metavar="EV|auto",
            help="Exposure in EV, added in linear light to the file's own correction (DNG BaselineExposure); "
            "auto puts the median at mid-grey, brightening no further than clips 1% of the pixels.",
        ),
    ] = "0",
    wb: Annotated[
        str,
        typer.Option(
            "--wb",
            metavar="MODE|KELVIN|R,G,B",
            help="White balance: as-shot (estimated from the image where the file has none), auto (estimated), "
            "daylight, a light's colour temperature such as 3200 or 6500, or R,G,B multipliers such as 2,1,1.5.",
        ),
    ] = "as-shot",
    highlights: Annotated[
        Highlights,
        typer.Option(
            help="Blown highlights: reconstruct a clipped channel from the others (white where all clipped), "
            "blend blown pixels toward white, or clip every channel where the first one saturates."
        ),
    ] = Highlights.reconstruct,
    colorspace: Annotated[
        ColourSpaceName,
        typer.Option(
            help="Output colour space; its ICC profile is embedded. prophoto writes 16 bits unless --bits 8.",
        ),
    ] = ColourSpaceName.srgb,
    denoise: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=2.0,
            help="Noise reduction strength: 0 demosaicks only (keeps the grain), 1 removes the estimated noise, "
            "up to 2 smooths harder.",
        ),
    ] = 1.0,
    lens: Annotated[
        LensMode,
        typer.Option(
            help="auto: correct vignetting, distortion and lateral chromatic aberration from lensfun's database "
            "(needs lensfunpy), for files whose camera and lens it knows and that carry no DNG corrections "
            "of their own (those are always applied).",
        ),
    ] = LensMode.off,
    raw_guess: Annotated[
        bool,
        typer.Option(
            "--raw-guess",
            help="Develop a headerless sensor dump (no RAW header) from the layout LibRaw guesses by its file "
            "size; without it such files are refused, since size, bit depth and colours would all be guesses.",
        ),
    ] = False,
    *,
    options: "BatchOptions",
) -> None:
    """Develop camera RAW files into finished images with a neural demosaicker and denoiser.

    The network demosaicks and denoises the Bayer mosaic in camera space (Fuji X-Trans files go to
    the isp-xtrans model, which demosaicks only). Around it: blown highlights rebuilt, the DNG's
    lens-shading and distortion opcodes, white balance, the camera's colour matrix, exposure in
    linear light, and the output colour space, whose ICC profile is embedded. Output has the size
    and orientation of LibRaw's full-size rendering and carries the file's EXIF. Foveon, monochrome
    and linear (already demosaiced) DNGs are refused.

    Examples:

      enhance isp photo.dng                              # writes photo_isp.png

      enhance isp shoot/ -o developed/ --bits 16 --format tiff --colorspace display-p3

      enhance isp IMG_0001.CR2 --wb 5200 --exposure +0.7 --denoise 0.5

      enhance isp IMG_0001.CR2 --tone neutral -o img.png --report run.json
    """
    ev, balance = parse_exposure(exposure), parse_white_balance_option(wb)  # usage errors before heavy imports
    from enhance_cli.commands import run_isp
    from enhance_cli.develop import DevelopOptions

    develop = DevelopOptions(
        tone=tone.value,
        exposure=ev,
        white_balance=balance,
        highlights=highlights.value,
        colorspace=colorspace.value,
        denoise=denoise,
        lens=lens.value,
        size_guess=raw_guess,
    )

    _exit_with(run_isp(inputs, develop, options))


@app.command("models")
def list_models(
    json_output: Annotated[bool, typer.Option("--json", help="Print the registry as JSON.")] = False,
) -> None:
    """List the models in the registry: task, size, cost per pixel, levels and headline results.

    Each model's full card (training, benchmarks with their commands, sha256) is `weights/<name>.md`.

    Examples:

      enhance models

      enhance models --json | jq '.[] | {name, flops_per_pixel}'
    """
    from enhance_cli.commands import show_models

    show_models(json_output)


class EvalTask(str, Enum):
    noise = "noise"
    jpeg = "jpeg"
    sr = "sr"
    isp = "isp"
    denoise = "denoise"


@app.command("eval")
def evaluate(
    folder: Annotated[
        str,
        typer.Argument(
            help="Folder of clean reference images (denoise: of real noisy photos beside their references), or "
            "a test set's name under --data, such as CBSD68 or test/Kodak24.",
            show_default=False,
        ),
    ],
    task: Annotated[
        EvalTask,
        typer.Option(
            help="noise, jpeg, sr: synthesise that degradation and restore it. isp: make a RAW mosaic of each "
            "image and develop it. denoise: real noise, X_real.* scored against X_mean.* (PolyU's names), or "
            "noisy/ against clean/."
        ),
    ] = EvalTask.noise,
    level: Annotated[
        str | None,
        typer.Option(
            help="Level to synthesise: noise sigma (default 25), JPEG quality (25), sr scale (2); isp: shot-noise "
            "variance per unit signal (default 0, noise-free; 0.0025 is a mid ISO). Not for denoise.",
            show_default=False,
        ),
    ] = None,
    restore_level: Annotated[
        str | None,
        typer.Option(
            help="noise, jpeg, sr: the level given to the model, a number or auto. Default: the synthesised level.",
            show_default=False,
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            metavar="FRACTION",
            help="denoise: the most FLOPs the run may spend, as a fraction of the full network's (as in "
            "`enhance denoise --budget`). Default: the model's knee.",
            show_default=False,
        ),
    ] = None,
    model: Model = None,
    limit: Annotated[int | None, typer.Option(min=1, metavar="N", help="Use only the first N images.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic degradation.")] = 0,
    tile: Tile = None,
    threads: Threads = None,
    data: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Where test sets are found by name. Default: $ENHANCE_DATA, else ../shared/data beside the checkout.",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Also write per-image results here.")
    ] = None,
) -> None:
    """Measure a model on a folder: PSNR/SSIM (RGB and Y) of its output and of the degraded input.

    Examples:

      enhance eval CBSD68 --task noise --level 25

      enhance eval Kodak24 --task isp --level 0.0025

      enhance eval PolyU100 --task denoise --limit 20 --budget 0.5

      enhance eval my_photos/ --task jpeg --level 20 --restore-level auto
    """
    from enhance_cli.commands import EvalOptions, run_eval

    synthesised = None if level is None else parse_level(level)
    if level is not None and synthesised is None:
        raise typer.BadParameter("the synthesised level must be a number", param_hint="--level")
    given = None if restore_level is None else parse_level(restore_level, "--restore-level")
    options = EvalOptions(
        task=task.value,
        level=synthesised,
        given_level=given,
        estimate=restore_level is not None and given is None,
        budget=budget,
        model=model,
        limit=limit,
        seed=seed,
        tile=tile,
        threads=threads,
        data=data,
        json=json_output,
    )
    _exit_with(run_eval(folder, options))
