"""Figures: each function takes plain arrays or records and returns a matplotlib Figure.

Nothing here writes files; `results.Recorder.add_figure` saves what these functions return.
"""
from __future__ import annotations

import matplotlib

matplotlib.rcParams.update({
    "svg.hashsalt": "nnreg_keras",  # stable ids in SVG output, so figures are byte-identical
    "figure.dpi": 90, "axes.spines.top": False, "axes.spines.right": False,
    "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "legend.fontsize": 8, "font.size": 9,
})

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PALETTE = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057", "#c16200")


def color_for(i: int) -> str:
    """A colour-blind-friendly colour for the i-th model or series."""
    return PALETTE[i % len(PALETTE)]
