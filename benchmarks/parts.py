"""The part runner every benchmark script shares: each result carries the command that reproduces it."""

from __future__ import annotations

import time
from collections.abc import Callable


def run_parts(script: str, parts: dict[str, Callable[[], dict]], chosen: str, flags: dict[str, object]) -> dict:
    """Run ``chosen`` (or every part, for "all"); stamp each result with its command line and duration."""
    given = "".join(f" {flag} {value}" for flag, value in flags.items() if value is not None)
    results = {}
    for part in list(parts) if chosen == "all" else [chosen]:
        started = time.perf_counter()
        results[part] = parts[part]()
        results[part]["command"] = f"python benchmarks/{script} {part}{given}"
        results[part]["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    return results
