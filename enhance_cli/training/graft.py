"""``python -m enhance_cli.training.graft INTO FROM OUT --prefix P``: the weights of INTO with the parameters named
P... taken from FROM (e.g. a trained gate carried onto a retrained ladder whose gate did not learn)."""

from __future__ import annotations

import argparse
from pathlib import Path

from safetensors.torch import load_file, save_file


def graft(into: Path, source: Path, out: Path, prefix: str) -> list[str]:
    """Write ``into``'s tensors with those named ``prefix``... replaced by ``source``'s; return their names."""
    base, donor = load_file(str(into)), load_file(str(source))
    names = sorted(name for name in base if name.startswith(prefix))
    if not names or any(name not in donor or donor[name].shape != base[name].shape for name in names):
        raise SystemExit(f"{source} has no {prefix}* parameters shaped like {into}'s")
    out.parent.mkdir(parents=True, exist_ok=True)
    grafted = {name: (donor[name] if name in names else tensor).contiguous() for name, tensor in base.items()}
    save_file(grafted, str(out))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("into", type=Path)
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args()
    print(f"{len(graft(args.into, args.source, args.out, args.prefix))} tensors from {args.source}")


if __name__ == "__main__":
    main()
