"""The ``enhance`` command (also ``python -m enhance_cli``)."""

import os
import signal


def main() -> None:
    """Run the CLI. Until the work starts, Ctrl-C ends the process at once with status 130: an interrupt
    raised inside torch's import or its C++ code aborts the interpreter instead (pybind11)."""
    signal.signal(signal.SIGINT, _exit_interrupted)
    from enhance_cli.cli import app

    app(prog_name="enhance")


def _exit_interrupted(signum: int, _frame: object) -> None:
    os._exit(128 + signum)


_exit_interrupted.until_work_starts = True  # the pipeline then makes Ctrl-C an exception, to clean up


if __name__ == "__main__":
    main()
