"""How far the same notebooks' metrics lie apart between Keras backends (`make test-backends`).

Usage: compare_backends.py DIR/tensorflow DIR/jax ...  (reports directories named after their backend)
For each notebook, prints the accuracy metric with the largest difference between backends, and the
largest difference of any metric, with the value on each backend.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def largest_gap(values: dict[str, dict[str, float]], names: list[str]) -> tuple[str, float] | None:
    """The metric among `names` whose values differ most between backends, and that difference."""
    gaps = {
        n: max(v[n] for v in values.values()) - min(v[n] for v in values.values()) for n in names
    }
    return max(gaps.items(), key=lambda item: item[1]) if gaps else None


def main(dirs: list[str]) -> None:
    by_backend = {
        Path(d).name: {
            p.stem: json.loads(p.read_text())["metrics"] for p in Path(d).rglob("results/*.json")
        }
        for d in dirs
    }
    if len(by_backend) < 2:
        print("one backend only: nothing to compare")
        return
    notebooks = sorted(set.intersection(*(set(r) for r in by_backend.values())))
    print(f"largest metric differences between {', '.join(by_backend)}:")
    for notebook in notebooks:
        values = {b: r[notebook] for b, r in by_backend.items()}
        common = sorted(set.intersection(*(set(v) for v in values.values())))
        for label, names in (
            ("accuracy", [n for n in common if "accuracy" in n]),
            ("any metric", common),
        ):
            found = largest_gap(values, names)
            if found:
                name, gap = found
                per_backend = ", ".join(f"{b} {v[name]:.4g}" for b, v in values.items())
                print(f"  {notebook}  {label:<10}  {name}: {gap:.4g}  ({per_backend})")


if __name__ == "__main__":
    main(sys.argv[1:])
