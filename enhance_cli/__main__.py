"""``python -m enhance_cli``: the same as the ``enhance`` command."""

from enhance_cli.cli import app

app(prog_name="enhance")
