"""Which files a command reads, and where each result goes (the CLI contract's path rules)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from enhance_cli.imageio import IMAGE_SUFFIXES, RAW_FOR_ISP, format_for_path

STDIO = "-"
EXTENSIONS = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg", "webp": ".webp"}
RAW_SUFFIXES = frozenset(
    {
        ".3fr", ".ari", ".arw", ".bay", ".cap", ".cr2", ".cr3", ".crw", ".dcr", ".dcs", ".dng", ".drf",
        ".eip", ".erf", ".fff", ".iiq", ".k25", ".kdc", ".mdc", ".mef", ".mos", ".mrw", ".nef", ".nrw",
        ".orf", ".ori", ".pef", ".ptx", ".pxn", ".r3d", ".raf", ".raw", ".rw2", ".rwl", ".rwz", ".sr2",
        ".srf", ".srw", ".sti", ".x3f",
    }
)  # fmt: skip
"""Lower-case extensions of the camera RAW formats LibRaw reads (some, such as X3F, only to refuse them)."""


class UsageError(ValueError):
    """Options that cannot work together (exit status 2)."""


@dataclass(frozen=True)
class Job:
    """One input and where its result goes; ``source`` or ``output`` may be ``-`` (stdin/stdout)."""

    source: str
    output: str
    format: str
    problem: str | None = None  # why this job fails without running (no such input, an output clash)
    skipped: str | None = None  # why a file found in a folder is passed over (a RAW file given to a photo command)


def image_files(folder: Path, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Every image under ``folder``, recursively, sorted (datasets; the CLI uses :func:`find_inputs`)."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in suffixes)


def find_inputs(
    arguments: list[str],
    recursive: bool,
    command: str,
    suffixes: frozenset[str] = IMAGE_SUFFIXES,
    output: str | None = None,
) -> list[tuple[str, Path | None]]:
    """Expand arguments to (image, the directory argument it came from) pairs.

    Directory scans skip hidden files, earlier results of the same command (``*_<command>.*``) and
    anything inside the ``output`` folder, so running a command twice does not feed it its own outputs.
    """
    if "" in arguments:  # Path("") is the current folder: an unset shell variable would process all of it
        raise UsageError("an input name is empty ('')")
    outputs = Path(resolved_path(output)) if output not in (None, STDIO) else None
    found: list[tuple[str, Path | None]] = []
    for argument in arguments:
        path = Path(argument)
        if argument == STDIO or not path.is_dir():
            found.append((argument, None))
            continue
        pattern = "**/*" if recursive else "*"
        for child in sorted(path.glob(pattern)):
            if (
                child.is_file()
                and child.suffix.lower() in suffixes | RAW_SUFFIXES  # RAW files are named, then passed over
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
                and not child.stem.endswith(f"_{command}")
                and not (outputs and outputs in Path(resolved_path(str(child))).parents)
            ):
                found.append((str(child), path))
    return found


def output_is_directory(output: str | None, arguments: list[str], count: int) -> bool:
    if output is None or output == STDIO:
        return False
    return (
        count > 1
        or any(Path(a).is_dir() for a in arguments if a != STDIO)
        or Path(output).is_dir()
        or output.endswith(("/", "\\"))
    )


def plan_jobs(
    arguments: list[str],
    output: str | None,
    command: str,
    format: str | None = None,
    recursive: bool = False,
    suffixes: frozenset[str] = IMAGE_SUFFIXES,
) -> list[Job]:
    """Pair every input with its output path, following the CLI contract.

    Directory arguments contribute their files whose suffix is in ``suffixes``.
    """
    if output == "":
        raise UsageError("-o is empty (''); give a file, a folder or - for stdout")
    inputs = find_inputs(arguments, recursive, command, suffixes, output)
    if arguments.count(STDIO) > 1:
        raise UsageError("stdin (-) can be given only once")
    to_directory = output_is_directory(output, arguments, len(inputs))
    if output == STDIO and len(inputs) != 1:
        raise UsageError("-o - writes one image to stdout; give exactly one input")
    if output is not None and not to_directory and output != STDIO and len(inputs) > 1:
        raise UsageError(f"-o {output}: several inputs need an output directory")
    several = f"{len(inputs)} inputs" if len(inputs) > 1 else "a directory input"
    if to_directory and os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"-o {output} is an existing file, but there are {several}; give a directory")
    if to_directory and _names_a_new_file(output):
        raise UsageError(f"-o {output} names a file, but there are {several}; give a directory (end it with /)")

    single_format = format
    if output not in (None, STDIO) and not to_directory:
        single_format = format or format_for_path(Path(output))
        if single_format is None:
            raise UsageError(f"-o {output}: unknown image extension; add --format png|tiff|jpeg|webp")
    extension = EXTENSIONS[format or "png"]

    jobs = []
    for source, root in inputs:
        if output == STDIO or (output is None and source == STDIO):
            target, job_format = STDIO, format or "png"
        elif to_directory:
            relative = Path(source).relative_to(root).parent if root else Path()
            stem = "stdin" if source == STDIO else Path(source).stem
            target, job_format = str(Path(output) / relative / f"{stem}{extension}"), format or "png"
        elif output is not None:
            target, job_format = output, single_format
        else:
            path = Path(source)
            target, job_format = str(path.with_name(f"{path.stem}_{command}{extension}")), format or "png"
        raw = Path(source).suffix.lower() in RAW_SUFFIXES - suffixes
        if raw and root is None:  # named on the command line: a mistake worth a failure
            jobs.append(Job(source, target, job_format, problem=RAW_FOR_ISP))
        else:
            jobs.append(Job(source, target, job_format, skipped=RAW_FOR_ISP if raw else None))
    return _with_problems(jobs)


def _names_a_new_file(output: str) -> bool:
    """``-o`` that looks like an image file name and is not an existing directory."""
    return not output.endswith(("/", "\\")) and not Path(output).is_dir() and format_for_path(Path(output)) is not None


def _with_problems(jobs: list[Job]) -> list[Job]:
    """Mark the jobs that must fail before any work: a missing input, a RAW file named to a photo command,
    an output that is the input itself,
    or an output that another input of the run would also write (all of them fail: none can be trusted,
    and a later run must not mistake one input's result for another's)."""
    keys = [None if job.output == STDIO or job.skipped or job.problem else resolved_path(job.output) for job in jobs]
    claims: dict[str, list[Job]] = {}
    for job, key in zip(jobs, keys, strict=True):
        if key is not None:
            claims.setdefault(key, []).append(job)
    planned = []
    for job, key in zip(jobs, keys, strict=True):
        problem = None
        if job.skipped:
            pass
        elif job.source != STDIO and not Path(job.source).exists():
            problem = "no such file or directory"
        elif job.problem:
            problem = job.problem
        elif job.source != STDIO and key is not None and resolved_path(job.source) == key:
            problem = f"the output {job.output} is the input itself; refusing to overwrite an input"
        elif key is not None and len(claims[key]) > 1:
            others = ", ".join(other.source for other in claims[key] if other is not job)
            problem = f"{others} would write the same output {job.output}; rename one or run them separately"
        planned.append(replace(job, problem=problem) if problem else job)
    return planned


def resolved_path(path: str) -> str:
    """``path`` made absolute with links resolved (as given, made absolute, where that fails)."""
    try:
        return str(Path(path).resolve())
    except OSError:
        return os.path.abspath(path)
