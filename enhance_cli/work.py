"""What each image command does to one input, as data: the options every command shares and the work
(restore, develop, denoise) that another process, or another machine, sets itself up from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Console

from enhance_cli.imageio import IMAGE_SUFFIXES
from enhance_cli.paths import STDIO, Job
from enhance_cli.pipeline import RunOptions, WriteOptions, read_source
from enhance_cli.workers import WorkerPlan

# torch (and what imports it) loads when a worker prepares its model: planning a batch needs none of it.
if TYPE_CHECKING:
    from enhance_cli.develop import DevelopOptions
    from enhance_cli.rawio import RawImage
    from enhance_cli.restorer import Restorer

stderr = Console(stderr=True, highlight=False)


@dataclass(frozen=True)
class BatchOptions:
    """The options every image command shares (the CLI contract), as the library takes them."""

    output: str | None = None  # file, directory or "-"; None: next to each input
    format: str | None = None  # png | tiff | jpeg | webp; None: from -o's extension, else png
    bits: int | None = None  # 8 or 16; None: the input's depth
    quality: int | None = None  # of JPEG/WebP outputs; None: 95
    overwrite: bool = False
    recursive: bool = False
    tile: int | None = None  # largest tile side; None: the model's default tiles (or ``memory``'s); 0: whole image
    tile_overlap: int | None = None  # None: the model's default
    memory: int | None = None  # bytes of network working set per tile; None: the fastest tiles decide
    model: str | None = None
    device: str = "auto"
    threads: int | None = None  # CPU threads for the whole run; None: every core this process may use
    jobs: int | None = None  # images processed at once, each in its own process; None: chosen from the batch
    cluster: str | None = None  # a Dask scheduler's address: its workers process the batch
    report: Path | None = None
    quiet: bool = False
    debug: bool = False

    def model_options(self, plan: WorkerPlan) -> dict:
        """How each worker loads its model: the default tiles (or ``memory``) shared between the workers."""
        return {
            "device": self.device,
            "tile": self.tile,
            "tile_overlap": self.tile_overlap,
            "memory": self.memory,
            "workers": plan.workers,
        }

    def run_options(self, command: str, model: str, params: int, setup_seconds: float) -> RunOptions:
        return RunOptions(
            command=command,
            model=model,
            params=params,
            write=WriteOptions(bits=self.bits, quality=self.quality, overwrite=self.overwrite),
            report=self.report,
            quiet=self.quiet,
            debug=self.debug,
            setup_seconds=setup_seconds,
        )


@dataclass(frozen=True)
class Work:
    """What one command does to each input, as data: another process, or another machine, sets itself up
    from it (:meth:`prepare`) to run any of the batch's jobs."""

    command: str
    options: BatchOptions

    found: ClassVar[str] = "images"
    reads_stdin: ClassVar[bool] = True

    @property
    def suffixes(self) -> frozenset[str]:
        """What a folder argument contributes."""
        return IMAGE_SUFFIXES

    def prepare(self, jobs: list[Job], plan: WorkerPlan) -> tuple[Any, Callable]:
        """Load and check the model; return it and the function that processes one input."""
        raise NotImplementedError

    def read(self, source: str) -> Any:
        return read_source(source)


@dataclass(frozen=True)
class RestoreWork(Work):
    task: str
    level: float | None  # None: estimated per image (or read from the file, for JPEG quality)

    def prepare(self, jobs: list[Job], plan: WorkerPlan) -> tuple[Restorer, Callable]:
        from enhance_cli.restorer import LevelError, Restorer

        restorer = Restorer.for_task(self.task, self.options.model, **self.options.model_options(plan))
        level = self.level
        if level is None and not restorer.can_estimate:
            raise LevelError(f"{restorer.card.name} cannot estimate the {restorer.card.level.name}: give it")
        if level is not None:
            restorer.check_level(level)
            _note_level(restorer, level)
        elif _may_estimate(restorer, jobs):
            restorer.estimator  # noqa: B018 - load and verify it now, as part of the set-up, not of one image
        return restorer, lambda picture, progress: restorer.restore(picture, level, progress)


@dataclass(frozen=True)
class DevelopWork(Work):
    develop: DevelopOptions

    found: ClassVar[str] = "RAW files"
    reads_stdin: ClassVar[bool] = False  # LibRaw reads files by path

    @property
    def suffixes(self) -> frozenset[str]:
        from enhance_cli.rawio import RAW_SUFFIXES

        return RAW_SUFFIXES

    def prepare(self, jobs: list[Job], plan: WorkerPlan) -> tuple[Any, Callable]:
        from enhance_cli.colour_spaces import WIDE_FOR_8_BITS
        from enhance_cli.develop import Developer

        self.develop.check()
        eight_bit = self.options.bits == 8 or any(job.format in ("jpeg", "webp") for job in jobs)
        if self.develop.colorspace in WIDE_FOR_8_BITS and eight_bit:
            stderr.print(
                f"[yellow]note[/]: {self.develop.colorspace} in 8 bits posterises smooth gradients; "
                "use --bits 16 with png or tiff"
            )
        developer = Developer.for_model(self.options.model, **self.options.model_options(plan))
        return developer, lambda raw, progress: developer.develop(raw, self.develop, progress)

    def read(self, source: str) -> RawImage:
        from enhance_cli.rawio import RawError, read_raw

        if source == STDIO:
            raise RawError("<stdin>: isp reads RAW files by path; stdin is not supported")
        return read_raw(source, self.develop.size_guess)


@dataclass(frozen=True)
class DenoiseWork(Work):
    budget: float | None  # the run's FLOPs at most, as a fraction of the full network's; None: the ladder's knee

    def prepare(self, jobs: list[Job], plan: WorkerPlan) -> tuple[Any, Callable]:
        from enhance_cli.denoiser import Denoiser, Savings, check_budget

        if self.budget is not None:
            check_budget(self.budget)  # before the model loads, where it can be
        denoiser = Denoiser.for_model(self.options.model, **self.options.model_options(plan))
        if self.budget is not None:
            denoiser.check_budget(self.budget)
        savings = Savings()  # the run's (this worker's share of it): what images leave unspent, later ones spend
        return denoiser, lambda picture, progress: denoiser.denoise(picture, self.budget, progress, savings)


def _note_level(restorer: Restorer, level: float) -> None:
    """Say how a given level outside the trained range is served (faded, or clamped)."""
    spec, task = restorer.card.level, restorer.task
    used, strength = restorer.used_level(level), restorer.strength(restorer.used_level(level))
    trained = f"the trained range {spec.minimum:g}-{spec.maximum:g}"
    if strength < 1:
        side, end = ("above", task.pass_through) if level > spec.maximum else ("below", task.fade_below)
        stderr.print(
            f"[yellow]note[/]: {spec.name} {used:g} is {side} {trained}; applying {strength:.0%} of the "
            f"correction (none at {end:g})"
        )
    elif used != level or restorer.network_level(used) != used:
        stderr.print(f"[yellow]note[/]: {spec.name} {level:g} is outside {trained}; using {used:g}")


def _may_estimate(restorer: Restorer, jobs: list[Job]) -> bool:
    """Whether some input may need the blind estimator (a JPEG file states its own quality)."""
    if restorer.card.estimator is None:
        return False
    if restorer.task.read_level is None:
        return True
    return any(Path(job.source).suffix.lower() not in (".jpg", ".jpeg") for job in jobs)
