"""Figures: each function takes plain arrays or records and returns a matplotlib Figure.

Nothing here writes files; `results.Recorder.add_figure` saves what these functions return (after
`rasterize_dense`). The style below is every figure's: text stays text in SVG files (selectable,
findable, and far lighter than glyph outlines), in fonts a reader's browser has or can stand in for.
"""

from __future__ import annotations

import matplotlib

matplotlib.rcParams.update(
    {
        "figure.dpi": 90,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "font.size": 9,
        # Text as <text> elements, not glyph paths; the fonts named in each one fall back from
        # matplotlib's own DejaVu Sans to fonts as wide or narrower, so no label grows into another.
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial", "Helvetica"],
        # Long lines and contours drop points that move them by less than 0.3 pt.
        "path.simplify_threshold": 0.3,
    }
)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import Collection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402

from nnreg_keras.formatting import number  # noqa: E402

# A collection of more marks than this (scatter points, mesh cells) is drawn as one image.
DENSE = 20


def rasterize_dense(fig: plt.Figure) -> plt.Figure:
    """Mark the dense layers of a figure to be drawn as images inside its SVG: filled contours, and
    collections of more than DENSE marks. Lines, bars, axes and text stay vector, so the file stays
    sharp where it matters and light where a thousand tiny marks would be a thousand elements."""
    for ax in fig.axes:
        for artist in ax.get_children():
            dense = isinstance(artist, ContourSet) and artist.filled
            dense |= (
                isinstance(artist, Collection)
                and not isinstance(artist, ContourSet)
                and max(len(artist.get_offsets()), len(artist.get_paths())) > DENSE
            )
            if dense:
                artist.set_rasterized(True)
    return fig


PALETTE = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057", "#c16200")


def color_for(i: int) -> str:
    """A colour-blind-friendly colour for the i-th model or series."""
    return PALETTE[i % len(PALETTE)]


def decision_boundaries(
    xx: np.ndarray,
    yy: np.ndarray,
    probs: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    true_boundary: tuple | None = None,
) -> plt.Figure:
    """One panel per model: predicted probability on a grid, its 0.5 contour, the training points."""
    n = len(probs)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.3 * cols, 3.1 * rows), squeeze=False, sharex=True, sharey=True
    )
    for ax, (name, p) in zip(
        axes.flat, probs.items(), strict=False
    ):  # the grid may have spare axes
        ax.contourf(xx, yy, p.reshape(xx.shape), levels=[0, 0.5, 1], colors=["#f4d6db", "#d3e3f1"])
        ax.contour(xx, yy, p.reshape(xx.shape), levels=[0.5], colors="k", linewidths=1.2)
        if true_boundary is not None:
            ax.plot(*true_boundary, ls="--", color="0.35", lw=1)
        for label, color in ((0, PALETTE[1]), (1, PALETTE[0])):
            pts = x[np.asarray(y).ravel() == label]
            ax.scatter(pts[:, 0], pts[:, 1], s=7, color=color, edgecolors="none")
        ax.set_title(name)
        ax.set_xlim(xx.min(), xx.max())
        ax.set_ylim(yy.min(), yy.max())
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def mc_dropout(
    k: list[int],
    mc_accuracy: np.ndarray,
    deterministic_accuracy: np.ndarray,
    mc_gap: np.ndarray,
    noise_gap: np.ndarray | None = None,
) -> plt.Figure:
    """Monte Carlo averaging of k training-mode passes against the single inference pass.

    Arrays have one row per seed; the line is the mean, the band spans the seeds. `noise_gap`, if
    given, is the gap sampling noise alone would leave, drawn dotted beside the measured gap."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.2))
    series = [
        (left, mc_accuracy, "average of k dropout passes", "-"),
        (right, mc_gap, "mean |p_MC - p_inference|", "-"),
    ]
    if noise_gap is not None:
        series.append((right, noise_gap, "sampling noise alone", ":"))
    for ax, values, label, style in series:
        v = np.atleast_2d(values)
        ax.plot(k, v.mean(axis=0), ls=style, marker="o", ms=3, color=PALETTE[0], label=label)
        ax.fill_between(k, v.min(axis=0), v.max(axis=0), color=PALETTE[0], alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_xlabel("k (stochastic passes averaged)")
    d = np.atleast_1d(deterministic_accuracy)
    left.axhline(
        d.mean(), color=PALETTE[1], ls="--", label="one inference pass (all units, no scaling)"
    )
    left.set_ylabel("test accuracy")
    left.legend(frameon=False)
    right.set_ylabel("gap in predicted probability")
    if noise_gap is not None:
        right.legend(frameon=False)
    fig.tight_layout()
    return fig


def feature_shares(
    feature_names: list[str], panels: dict[str, dict[str, np.ndarray]]
) -> plt.Figure:
    """Grouped bars: for each feature, one bar per model; one panel per measure (e.g. reliance, weights).

    `panels` maps a panel title to {model: array (seeds, features)}; bars show the mean over seeds and
    the error bars the standard deviation."""
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, 2.9 * len(panels)), squeeze=False, sharex=True
    )
    positions = np.arange(len(feature_names))
    for ax, (title, by_model) in zip(axes.flat, panels.items(), strict=True):
        bar = 0.85 / len(by_model)
        for i, (model, values) in enumerate(by_model.items()):
            v = np.atleast_2d(values)
            ax.bar(
                positions + (i - (len(by_model) - 1) / 2) * bar,
                v.mean(axis=0),
                bar,
                color=color_for(i),
                yerr=v.std(axis=0, ddof=1) if len(v) > 1 else None,
                error_kw={"lw": 0.7},
                label=model,
            )
        ax.set_title(title)
        ax.set_ylabel("share")
    axes.flat[0].legend(frameon=False, ncol=min(4, len(next(iter(panels.values())))))
    axes.flat[-1].set_xticks(positions, feature_names, rotation=30, ha="right")
    fig.tight_layout()
    return fig


def sweep_panels(
    x: list[float], panels: dict[str, dict[str, np.ndarray]], xlabel: str, log_x: bool = False
) -> plt.Figure:
    """Lines against a swept knob (dropout rate, L2 strength), one panel per measure.

    `panels` maps a panel title to {series: array (seeds, len(x))}; the line is the mean over seeds
    and the band their range. With `log_x`, the axis is logarithmic but keeps 0 (symlog)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.3), squeeze=False)
    for ax, (title, series) in zip(axes.flat, panels.items(), strict=True):
        _mean_and_range(ax, x, series, log_x)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def _mean_and_range(
    ax: plt.Axes, x: list[float], series: dict[str, np.ndarray], log_x: bool
) -> None:
    """Per series (an array (seeds, len(x))): the mean over seeds as a line, their range as a band."""
    for i, (label, values) in enumerate(series.items()):
        v = np.atleast_2d(values)
        ax.plot(x, v.mean(axis=0), marker="o", ms=3, color=color_for(i), label=label)
        ax.fill_between(x, v.min(axis=0), v.max(axis=0), color=color_for(i), alpha=0.2, lw=0)
    if log_x:
        ax.set_xscale("symlog", linthresh=min(v for v in x if v > 0))
        ax.set_xticks(x, [f"{v:g}" for v in x])


def validation_curves(
    sweeps: dict[str, tuple[list[float], dict[str, dict[str, np.ndarray]]]],
    chosen: dict[str, float],
    log_x: tuple[str, ...] = (),
) -> plt.Figure:
    """One column per swept knob, one row per measure: `sweeps` maps a knob's label to (its values,
    {measure: {series: array (seeds, values)}}); lines are means over seeds, bands their range, and a
    dotted line marks the value `chosen` on validation. Knobs named in `log_x` get a log axis (with 0)."""
    measures = list(next(iter(sweeps.values()))[1])
    fig, axes = plt.subplots(
        len(measures),
        len(sweeps),
        figsize=(4.4 * len(sweeps), 2.8 * len(measures)),
        squeeze=False,
        sharex="col",
    )
    for c, (knob, (x, panels)) in enumerate(sweeps.items()):
        for r, measure in enumerate(measures):
            _mean_and_range(axes[r, c], x, panels[measure], knob in log_x)
            axes[r, c].axvline(chosen[knob], color="0.3", ls=":", lw=1)
            axes[r, 0].set_ylabel(measure)
        axes[-1, c].set_xlabel(knob)
        axes[-1, c].tick_params(axis="x", labelrotation=45 if knob in log_x else 0)
    axes[0, -1].legend(frameon=False)
    fig.tight_layout()
    return fig


def tradeoff_curves(
    clean: dict[str, np.ndarray],
    panels: dict[str, dict[str, np.ndarray]],
    point_labels: dict[str, list[str]],
    xlabel: str = "clean test accuracy",
) -> plt.Figure:
    """One curve per method through its settings in order of strength: clean accuracy on x, one
    measure per panel on y. Arrays are (seeds, settings); points are means over seeds, error bars
    their sd both ways, and each point is labelled with its setting (`point_labels[method]`)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, (title, by_method) in zip(axes.flat, panels.items(), strict=True):
        for i, (method, values) in enumerate(by_method.items()):
            x, y = np.atleast_2d(clean[method]), np.atleast_2d(values)
            sd = (lambda v: v.std(axis=0, ddof=1)) if len(y) > 1 else (lambda v: None)
            ax.errorbar(
                x.mean(axis=0),
                y.mean(axis=0),
                xerr=sd(x),
                yerr=sd(y),
                marker="o",
                ms=4,
                lw=1.2,
                elinewidth=0.6,
                color=color_for(i),
                label=method,
            )
            for label, px, py in zip(
                point_labels[method], x.mean(axis=0), y.mean(axis=0), strict=True
            ):
                ax.annotate(
                    label,
                    (px, py),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=6.5,
                    color=color_for(i),
                )
        ax.set_title(title)
        ax.set_xlabel(xlabel)
    axes.flat[0].legend(frameon=False)
    fig.tight_layout()
    return fig


def weight_updates(updates: dict[str, list[np.ndarray]]) -> plt.Figure:
    """One step's weight changes as heatmaps: one row per update rule, one column per weight matrix.

    Each matrix is drawn as the course stores it, (units of layer l, units of layer l-1); entries that
    did not move at all (exactly 0) are grey, so whole still rows and columns stand out. The colour
    scale is symmetric and shared by the panels of one row."""
    n_rows, n_cols = len(updates), len(next(iter(updates.values())))
    widths = [max(1.6, min(6.0, 0.25 * np.shape(m)[1])) for m in next(iter(updates.values()))]
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(sum(widths) + 1.6, 2.2 * n_rows),
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("0.78")
    for row, (label, mats) in zip(axes, updates.items(), strict=True):
        scale = max(float(np.max(np.abs(m))) for m in mats) or 1.0
        for l, (ax, mat) in enumerate(zip(row, mats, strict=True), start=1):
            still = np.asarray(mat) == 0
            image = ax.imshow(
                np.ma.masked_where(still, mat),
                cmap=cmap,
                vmin=-scale,
                vmax=scale,
                aspect="auto",
                interpolation="nearest",
            )
            ax.set_title(f"ΔW{l}: {still.mean():.0%} exactly 0", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(label, fontsize=8)
        fig.colorbar(image, ax=list(row), shrink=0.85, pad=0.02, format="%.0e")
    return fig


def relative_gaps(
    steps: list[int], panels: dict[str, dict[str, np.ndarray]], threshold: float, ylabel: str
) -> plt.Figure:
    """How far two runs of the same training drift apart: one panel per pair of implementations,
    one line per model (arrays of relative gaps, one row per seed; the line is the largest over
    seeds), on a log scale, with the agreement threshold dashed. Zero gaps sit at the bottom."""
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.4 * len(panels), 3.3), squeeze=False, sharey=True
    )
    floor = 1e-16
    for ax, (title, series) in zip(axes.flat, panels.items(), strict=True):
        for i, (label, gaps) in enumerate(series.items()):
            ax.plot(
                steps,
                np.maximum(np.atleast_2d(gaps).max(axis=0), floor),
                marker="o",
                ms=3,
                color=color_for(i),
                label=label,
            )
        ax.axhline(threshold, color="0.4", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("training step")
        ax.legend(frameon=False, fontsize=7)
    axes.flat[0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def feature_bars(
    feature_names: list[str],
    panels: dict[str, dict[str, np.ndarray]],
    ylabel: str,
    log_y: bool = False,
) -> plt.Figure:
    """`feature_shares` for any per-feature quantity (weights, L2 strengths): grouped bars with the
    mean over seeds and their sd, labelled `ylabel`, on a log axis with `log_y`."""
    fig = feature_shares(feature_names, panels)
    for ax in fig.axes:
        ax.set_ylabel(ylabel)
        if log_y:
            ax.set_yscale("log")
        else:
            ax.axhline(0, color="0.3", lw=0.6)
    return fig


def prediction_shift(
    before: dict[str, np.ndarray], after: dict[str, dict[str, np.ndarray]], xlabel: str
) -> plt.Figure:
    """A grid of scatter plots, one row per change of the data (`after` maps its name to
    {model: predictions}) and one column per model: each test example's predicted probability
    before (x) and after (y) the change; points off the diagonal are predictions the change moved."""
    fig, axes = plt.subplots(
        len(after),
        len(before),
        figsize=(2.9 * len(before), 2.9 * len(after)),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for r, (change, moved) in enumerate(after.items()):
        for c, (name, p) in enumerate(before.items()):
            ax, q = axes[r, c], np.ravel(moved[name])
            ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
            ax.scatter(np.ravel(p), q, s=4, alpha=0.4, color=color_for(c), edgecolors="none")
            ax.set_title(
                f"{name}\nmean |change| {number(np.mean(np.abs(q - np.ravel(p))))}", fontsize=9
            )
        axes[r, 0].set_ylabel(f"P(y=1), {change}")
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def width_sweep(
    widths: list[int],
    accuracy: dict[str, np.ndarray],
    references: dict[str, np.ndarray],
    chosen: int | None = None,
) -> plt.Figure:
    """Accuracy of networks of each width (`accuracy`: {series: array (seeds, len(widths))}; line:
    mean over seeds, band: their range), with other models' mean accuracy as dashed horizontal
    lines (`references`: {label: values per seed}) and the `chosen` width circled."""
    fig, ax = plt.subplots(figsize=(8.4, 3.4))
    for i, (label, values) in enumerate(accuracy.items()):
        v = np.atleast_2d(values)
        ax.plot(widths, v.mean(axis=0), marker="o", ms=3, color=color_for(i), label=label)
        ax.fill_between(widths, v.min(axis=0), v.max(axis=0), color=color_for(i), alpha=0.2, lw=0)
        if chosen in widths:
            ax.plot(chosen, v.mean(axis=0)[widths.index(chosen)], "o", ms=9, mfc="none", color="k")
    for j, (label, values) in enumerate(references.items(), start=len(accuracy)):
        ax.axhline(float(np.mean(values)), ls="--", lw=1, color=color_for(j), label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.minorticks_off()
    circled = f"; circled: {chosen}" if chosen in widths else ""
    ax.set_xlabel(f"width (units per hidden layer){circled}")
    ax.set_ylabel("accuracy")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def grid(
    x: np.ndarray, steps: int = 120, margin: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid over the range of 2-D inputs: (xx, yy, points of shape (steps², 2))."""
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()].astype("float32")
