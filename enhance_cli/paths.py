"""Which files a command reads, and where each result goes (the CLI contract's path rules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enhance_cli.imageio import IMAGE_SUFFIXES, format_for_path

STDIO = "-"
EXTENSIONS = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg", "webp": ".webp"}


class UsageError(ValueError):
    """Options that cannot work together (exit status 2)."""


@dataclass(frozen=True)
class Job:
    """One input and where its result goes; ``source`` or ``output`` may be ``-`` (stdin/stdout)."""

    source: str
    output: str
    format: str
    missing: bool = False  # the input path does not exist: reported as a failure, not a usage error


def find_inputs(
    arguments: list[str], recursive: bool, command: str, suffixes: frozenset[str] = IMAGE_SUFFIXES
) -> list[tuple[str, Path | None]]:
    """Expand arguments to (image, the directory argument it came from) pairs.

    Directory scans skip hidden files and earlier results of the same command (``*_<command>.*``),
    so running a command twice on a folder does not feed it its own outputs.
    """
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
                and child.suffix.lower() in suffixes
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
                and not child.stem.endswith(f"_{command}")
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
    inputs = find_inputs(arguments, recursive, command, suffixes)
    if arguments.count(STDIO) > 1:
        raise UsageError("stdin (-) can be given only once")
    to_directory = output_is_directory(output, arguments, len(inputs))
    if output == STDIO and len(inputs) != 1:
        raise UsageError("-o - writes one image to stdout; give exactly one input")
    if output is not None and not to_directory and output != STDIO and len(inputs) > 1:
        raise UsageError(f"-o {output}: several inputs need an output directory")

    single_format = format
    if output not in (None, STDIO) and not to_directory:
        single_format = format or format_for_path(Path(output))
        if single_format is None:
            raise UsageError(f"-o {output}: unknown image extension; add --format png|tiff|jpeg|webp")
    extension = EXTENSIONS[format or "png"]

    jobs = []
    for source, root in inputs:
        missing = source != STDIO and not Path(source).exists()
        if output == STDIO or (output is None and source == STDIO):
            jobs.append(Job(source, STDIO, format or "png", missing))
        elif to_directory:
            relative = Path(source).relative_to(root).parent if root else Path()
            stem = "stdin" if source == STDIO else Path(source).stem
            target = Path(output) / relative / f"{stem}{extension}"
            jobs.append(Job(source, str(target), format or "png", missing))
        elif output is not None:
            jobs.append(Job(source, output, single_format, missing))
        else:
            path = Path(source)
            jobs.append(Job(source, str(path.with_name(f"{path.stem}_{command}{extension}")), format or "png", missing))
    return jobs
