"""What a built report decided, notebook by notebook: seeds, the smallest difference the seeds can
detect (the half-width of the comparisons' 95% intervals), how many claims held, did not hold or
were inconclusive, how many comparisons the p-values were adjusted over, and how many comparisons
the adjustment left undecided although their own p-value was below 0.05.

    python benchmarks/findings_summary.py [REPORTS]      (REPORTS defaults to reports/)

Reads only the results files of the landed runs (`REPORTS/runs/*/results/*.json`).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

STATUSES = ("held", "did not hold", "inconclusive")


def summary(results: dict) -> dict:
    """Seeds, claims by status, and the half-widths of the comparisons' intervals."""
    claims = results["claims"]
    widths = [(c["interval"][1] - c["interval"][0]) / 2 for c in claims if c.get("interval")]
    counts = {s: sum(c["status"] == s for c in claims) for s in STATUSES}
    adjusted_away = sum(
        c["status"] == "inconclusive"
        and c.get("p") is not None
        and c["p"] < 0.05 <= c.get("p_adjusted", 0)
        for c in claims
    )
    return {
        "notebook": results["notebook"],
        "profile": results["profile"],
        "seeds": max([c.get("seeds", 0) for c in claims], default=0),
        "claims": len(claims),
        **counts,
        "comparisons": results.get("comparisons", 0),
        "adjusted away": adjusted_away,
        "median half-width": statistics.median(widths) if widths else None,
        "smallest half-width": min(widths) if widths else None,
    }


def main(reports: Path) -> None:
    files = sorted(reports.glob("runs/*/results/*.json"))
    if not files:
        sys.exit(f"error: no results files under {reports}/runs/*/results/; build a report first")
    print(
        f"{'notebook':38s} {'profile':8s} {'seeds':>5s} {'claims':>6s} {'held':>5s} {'not':>4s} "
        f"{'inconcl.':>8s} {'compared':>8s} {'adj. away':>9s} {'half-width (median, smallest)':>30s}"
    )
    for path in files:
        s = summary(json.loads(path.read_text(encoding="utf-8")))
        widths = (
            f"{s['median half-width']:.3g}, {s['smallest half-width']:.3g}"
            if s["median half-width"] is not None
            else "-"
        )
        print(
            f"{s['notebook']:38s} {s['profile']:8s} {s['seeds']:5d} {s['claims']:6d} "
            f"{s['held']:5d} {s['did not hold']:4d} {s['inconclusive']:8d} {s['comparisons']:8d} "
            f"{s['adjusted away']:9d} {widths:>30s}"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "reports"))
