"""Figures: each function takes plain arrays or records and returns a matplotlib Figure.

Nothing here writes files; `results.Recorder.add_figure` saves what these functions return (after
`rasterize_dense`). The style below is every figure's: text stays text in SVG files (selectable,
findable, and far lighter than glyph outlines), in fonts a reader's browser has or can stand in for.
"""

from __future__ import annotations

import textwrap
from typing import Any

import matplotlib
import matplotlib.text
import matplotlib.ticker
import matplotlib.transforms

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


# Type sizes of the figures read on a phone (see `fit_for_phone`).
READABLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
}
PHONE_WIDTH = 4.8  # inches: 10-pt text drawn in a phone's 366-px column stays above 10 px

# A page draws a figure at its own size (1 pt = 4/3 CSS px), or shrunk to the text column where
# that is narrower: 366 px on a 390-px phone, the narrowest screen the report is read on. Its text
# must stay at SMALLEST_PX or more there.
COLUMN_PX = 366
SMALLEST_PX = 10.5
SAVE_PAD = 0.1  # inches around the tight box of a saved figure (savefig's pad_inches)


def _texts(fig: plt.Figure, renderer: Any) -> list[matplotlib.text.Text]:
    """The texts a figure draws (visible, not empty, on a visible axes)."""
    return [
        t
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible()
        and t.get_text().strip()
        and (t.axes is None or t.axes.get_visible())
        and t.get_window_extent(renderer).width > 0
    ]


def smallest_text(fig: plt.Figure) -> float | None:
    """The size of the smallest text a figure draws, in points (None for a figure without text)."""
    texts = _texts(fig, fig.canvas.get_renderer())
    return min(t.get_fontsize() for t in texts) if texts else None


def fit_for_phone(fig: plt.Figure) -> plt.Figure:
    """Make a figure narrow enough that its smallest text reads at SMALLEST_PX on a phone, wherever
    it is drawn (the report, a notebook page, a PNG or an SVG): a figure wider than its smallest
    text allows is shrunk, its text kept at its size, and laid out again. Any figure a lesson draws
    gets this rule when it is recorded; the figures below are drawn narrow enough already. In print
    (a 180-mm column), the same rule keeps figure text at 7 pt or more even two figures across."""
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    for _ in range(6):
        texts = _texts(fig, renderer)
        if not texts:
            return fig
        smallest = min(t.get_fontsize() for t in texts)  # points
        widest = COLUMN_PX * smallest / SMALLEST_PX / 72  # inches, as saved (a tight box)
        drawn = fig.get_tightbbox(renderer).width + 2 * SAVE_PAD
        if drawn <= widest * 1.01:
            return fig
        room = 0.9 * (widest - 2 * SAVE_PAD) * fig.dpi  # display units
        wrapped = False
        for text in texts:  # a line running past the figure's edge (a long title) is broken
            box = text.get_window_extent(renderer)
            space = min(room, fig.bbox.width - max(box.x0, 0))
            long = box.width > room or box.x1 > fig.bbox.width + 1
            if long and text.get_rotation() == 0 and " " in text.get_text():
                lines = text.get_text().splitlines()
                chars = max(10, int(max(map(len, lines)) * max(space, 0) / box.width))
                text.set_text("\n".join(textwrap.wrap(text.get_text(), chars)))
                wrapped = True
        if wrapped:
            _lay_out(fig)
            continue
        shrink = min(1.0, widest / drawn)
        width, height = fig.get_size_inches()
        fig.set_size_inches(width * shrink, height * max(shrink, 0.8))
        _lay_out(fig)
    return fig


def _lay_out(fig: plt.Figure) -> None:
    """Lay a figure out again after its size or its text changed (tight_layout, unless it has a
    layout engine of its own, which lays it out when it is drawn)."""
    if fig.get_layout_engine() is None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # axes it cannot lay out keep their places
            fig.tight_layout()
    fig.draw_without_rendering()


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
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(PHONE_WIDTH / 2 * cols, PHONE_WIDTH / 2 * rows),
        squeeze=False,
        sharex=True,
        sharey=True,
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


def stacked_lines(
    x: list[float],
    panels: dict[str, dict[str, np.ndarray]],
    xlabel: str,
    references: dict[str, dict[str, np.ndarray]] | None = None,
    log2_x: bool = False,
) -> plt.Figure:
    """Panels stacked one above the other, sharing x, one per measure: `panels` maps a measure (the
    y label) to {series: array (seeds, len(x))}, drawn as the mean over seeds with their range as a
    band; `references[measure]` maps labels to values per seed, drawn dashed at their mean. One
    legend, in the first panel. With `log2_x`, x is on a log-2 axis labelled at each value."""
    with plt.rc_context(READABLE):
        fig, axes = plt.subplots(
            len(panels), 1, figsize=(PHONE_WIDTH, 2.9 * len(panels)), squeeze=False, sharex=True
        )
        for ax, (measure, series) in zip(axes[:, 0], panels.items(), strict=True):
            for i, (label, values) in enumerate(series.items()):
                v = np.atleast_2d(values)
                ax.plot(x, v.mean(axis=0), marker="o", ms=3, color=color_for(i), label=label)
                ax.fill_between(
                    x, v.min(axis=0), v.max(axis=0), color=color_for(i), alpha=0.2, lw=0
                )
            extra = (references or {}).get(measure, {})
            for j, (label, values) in enumerate(extra.items(), start=len(series)):
                ax.axhline(float(np.mean(values)), ls="--", lw=1.4, color=color_for(j), label=label)
            ax.set_ylabel(measure)
        if log2_x:
            axes[-1, 0].set_xscale("log", base=2)
            axes[-1, 0].set_xticks(x, [f"{v:g}" for v in x])
            axes[-1, 0].minorticks_off()
        axes[-1, 0].set_xlabel(xlabel)
        axes[0, 0].legend(frameon=False)
        fig.tight_layout()
    return fig


def boundary_grid(
    xx: np.ndarray,
    yy: np.ndarray,
    probs: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    true_boundary: tuple,
) -> plt.Figure:
    """`decision_boundaries` for a phone: two columns of panels 3.3 inches wide, short titles at
    11 pt, few ticks, and the dense artists (filled regions, training points) rasterized so the SVG
    stays light."""
    rows = -(-len(probs) // 2)
    with plt.rc_context(READABLE):
        fig, axes = plt.subplots(
            rows, 2, figsize=(PHONE_WIDTH, 3.2 * rows), squeeze=False, sharex=True, sharey=True
        )
        for ax, (name, p) in zip(axes.flat, probs.items(), strict=False):
            field = p.reshape(xx.shape)
            regions = ax.contourf(xx, yy, field, levels=[0, 0.5, 1], colors=["#f4d6db", "#d3e3f1"])
            regions.set_rasterized(True)
            ax.contour(xx, yy, field, levels=[0.5], colors="k", linewidths=1.4)
            ax.plot(*true_boundary, ls="--", color="0.35", lw=1.2)
            for label, color in ((0, PALETTE[1]), (1, PALETTE[0])):
                pts = x[np.asarray(y).ravel() == label]
                ax.scatter(
                    pts[:, 0], pts[:, 1], s=8, color=color, edgecolors="none", rasterized=True
                )
            ax.set_title(name)
            ax.set_xlim(xx.min(), xx.max())
            ax.set_ylim(yy.min(), yy.max())
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        for ax in axes.flat[len(probs) :]:
            ax.set_visible(False)
        fig.tight_layout()
    return fig


def feature_shares(
    feature_names: list[str],
    panels: dict[str, dict[str, np.ndarray]],
    xlabel: str = "share",
    reference: float | None = None,
) -> plt.Figure:
    """Grouped horizontal bars: for each feature (one row, named on the left), one bar per model;
    one panel per measure, side by side and sharing the rows, so that the figure stays about as
    tall as it is wide (whole on a printed page). `panels` maps a panel title to {model: array
    (seeds, features)}; bars show the mean over seeds and the error bars their sd; a model keeps
    its colour (and its one legend entry) in every panel where it comes at the same place.
    `reference` draws a dotted line (an even share, 1/features)."""
    rows = len(feature_names)
    models = max(len(by_model) for by_model in panels.values())
    with plt.rc_context(READABLE):
        fig, axes = plt.subplots(
            1,
            len(panels),
            figsize=(PHONE_WIDTH, 0.07 * rows * models + 0.15 * rows + 1.0),
            squeeze=False,
            sharey=True,
        )
        positions = np.arange(rows)[::-1]  # the first feature on top
        for ax, (title, by_model) in zip(axes.flat, panels.items(), strict=True):
            bar = 0.84 / len(by_model)
            for i, (model, values) in enumerate(by_model.items()):
                v = np.atleast_2d(values)
                ax.barh(
                    positions + ((len(by_model) - 1) / 2 - i) * bar,
                    v.mean(axis=0),
                    bar,
                    color=color_for(i),
                    xerr=v.std(axis=0, ddof=1) if len(v) > 1 else None,
                    error_kw={"lw": 0.8, "ecolor": "0.35"},
                    label=model,
                )
            if reference is not None:
                ax.axvline(reference, color="0.3", ls=":", lw=1)
            ax.set_title("\n".join(textwrap.wrap(title, 22)), loc="left")
            ax.set_xlabel(xlabel)
        axes[0, 0].set_yticks(positions, feature_names)
        fig.tight_layout()
        _legend_above(fig, ncol=2)
    return fig


def _legend_above(fig: plt.Figure, ncol: int) -> None:
    """One legend for the series of every panel (each label once), above the whole figure, where
    it covers no data: a series keeps its colour from panel to panel."""
    found: dict[str, Any] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, handle)
    fig.legend(
        list(found.values()),
        list(found),
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=ncol,
        frameon=False,
    )


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


def tradeoff_curves(
    clean: dict[str, np.ndarray],
    panels: dict[str, dict[str, np.ndarray]],
    point_labels: dict[str, list[str]],
    xlabel: str = "clean test accuracy",
) -> plt.Figure:
    """One curve per method through its settings in order of strength: clean accuracy on x, one
    measure per panel on y, panels stacked. Arrays are (seeds, settings); points are means over
    seeds, error bars their sd both ways. Each point carries its setting's label
    (`point_labels[method]`, "" for none), beside the marker where it overlaps no other text
    (`place_apart`); a method with one setting is a lone marker."""
    markers = "osD^v"
    tags: list[matplotlib.text.Annotation] = []
    with plt.rc_context(READABLE):
        fig, axes = plt.subplots(
            len(panels), 1, figsize=(PHONE_WIDTH, 4.2 * len(panels)), squeeze=False, sharex=True
        )
        for ax, (title, by_method) in zip(axes.flat, panels.items(), strict=True):
            for i, (method, values) in enumerate(by_method.items()):
                x, y = np.atleast_2d(clean[method]), np.atleast_2d(values)
                sd = (lambda v: v.std(axis=0, ddof=1)) if len(y) > 1 else (lambda v: None)
                ax.errorbar(
                    x.mean(axis=0),
                    y.mean(axis=0),
                    xerr=sd(x),
                    yerr=sd(y),
                    marker=markers[i % len(markers)],
                    ms=7,
                    lw=1.6 if x.shape[1] > 1 else 0,
                    elinewidth=0.7,
                    ecolor="0.65",
                    color=color_for(i),
                    label=method,
                )
                for label, px, py in zip(
                    point_labels[method], x.mean(axis=0), y.mean(axis=0), strict=True
                ):
                    if label:
                        tags.append(
                            ax.annotate(
                                label,
                                (px, py),
                                xytext=(7, 7),
                                textcoords="offset points",
                                fontsize=10,
                                color=color_for(i),
                                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
                            )
                        )
            ax.set_title(title, loc="left")
            ax.margins(x=0.12, y=0.15)
        axes.flat[-1].set_xlabel(xlabel)
        fig.tight_layout()
        _legend_above(fig, ncol=2)
        place_apart(fig, tags)
    return fig


# Where a point's label may sit, tried in order: offset in points, and the label's alignment.
_LABEL_SPOTS = [
    ((7, 7), "left", "bottom"),
    ((7, -7), "left", "top"),
    ((-7, 7), "right", "bottom"),
    ((-7, -7), "right", "top"),
    ((7, 18), "left", "bottom"),
    ((7, -18), "left", "top"),
    ((-7, 18), "right", "bottom"),
    ((-7, -18), "right", "top"),
]


def place_apart(fig: plt.Figure, labels: list[matplotlib.text.Annotation]) -> None:
    """Move each point label, in order, to the first spot beside its point where it overlaps no
    other text of the figure (tick labels, titles, the legend, labels placed before it); a label
    with no free spot keeps the first. Call it once the layout is final."""
    renderer = fig.canvas.get_renderer()
    # A margin around each label: a browser draws the SVG's text in its own font, a little wider.
    pad_x, pad_y = (points * fig.dpi / 72 for points in (4, 2))

    def box(label: matplotlib.text.Text) -> matplotlib.transforms.Bbox:
        x0, y0, x1, y1 = label.get_window_extent(renderer).extents
        return matplotlib.transforms.Bbox.from_extents(
            x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y
        )

    others = [
        t.get_window_extent(renderer)
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip() and t not in labels
    ]
    for label in labels:
        for offset, ha, va in [*_LABEL_SPOTS, _LABEL_SPOTS[0]]:  # none free: the first spot
            label.set_position(offset)
            label.set_ha(ha)
            label.set_va(va)
            if not any(box(label).overlaps(other) for other in others):
                break
        others.append(box(label))


def first_layer_updates(updates: dict[str, list[np.ndarray]]) -> plt.Figure:
    """Which weights one step moves, around the first hidden layer: one panel per update rule, one
    column per unit of that layer, its incoming weights (W1 transposed) above its outgoing ones
    (W2). The colour is the size of the change, log10 |ΔW|, on one scale for every panel; grey
    cells did not move at all, so a unit left out of the step shows as a grey column."""
    with plt.rc_context(READABLE):
        fig, axes = plt.subplots(
            len(updates), 1, figsize=(PHONE_WIDTH, 1.35 * len(updates) + 0.9), squeeze=False
        )
        strips = {
            label: np.vstack([np.asarray(changes[0]).T, np.asarray(changes[1])])
            for label, changes in updates.items()
        }
        moved = np.concatenate([np.abs(s[s != 0]) for s in strips.values()])
        low, high = (np.log10(np.quantile(moved, q)) for q in (0.02, 1.0))
        cmap = plt.get_cmap("viridis").copy()
        cmap.set_bad("0.82")
        n_in = np.shape(next(iter(updates.values()))[0])[1]
        for ax, (label, strip) in zip(axes[:, 0], strips.items(), strict=True):
            still = strip == 0
            image = ax.imshow(
                np.ma.masked_where(still, np.log10(np.where(still, 1.0, np.abs(strip)))),
                cmap=cmap,
                vmin=low,
                vmax=high,
                aspect="auto",
                interpolation="nearest",
            )
            ax.axhline(n_in - 0.5, color="white", lw=2)
            ax.set_title(f"{label}: {still.mean():.0%} unchanged", loc="left")
            ax.set_yticks([(n_in - 1) / 2, n_in + (strip.shape[0] - n_in - 1) / 2], ["in", "out"])
            ax.set_xticks([])
        axes[-1, 0].set_xlabel("units of the first hidden layer")
        fig.tight_layout()
        fig.colorbar(
            image, ax=list(axes[:, 0]), orientation="horizontal", fraction=0.05, pad=0.08
        ).set_label("log10 |change| (grey: exactly 0)")
    return fig


def agreement_gaps(
    steps: list[int], gaps: dict[str, np.ndarray], threshold: float, ylabel: str
) -> plt.Figure:
    """How far runs of the same training drift apart: one line per pair of implementations (the
    median over seeds, the band from the smallest to the largest seed), on a log scale, with the
    agreement threshold dashed. `gaps[label]` holds one row of relative gaps per seed."""
    with plt.rc_context(READABLE):
        fig, ax = plt.subplots(figsize=(PHONE_WIDTH, 4.2))
        floor = 1e-17
        for i, (label, rows) in enumerate(gaps.items()):
            rows = np.maximum(np.atleast_2d(rows), floor)
            ax.plot(
                steps, np.median(rows, axis=0), marker="o", ms=3, color=color_for(i), label=label
            )
            ax.fill_between(
                steps, rows.min(axis=0), rows.max(axis=0), color=color_for(i), alpha=0.15
            )
        ax.axhline(threshold, color="0.3", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1)
        fig.tight_layout()
    return fig


def feature_bars(
    feature_names: list[str],
    panels: dict[str, dict[str, np.ndarray]],
    xlabel: str,
    log_x: bool = False,
) -> plt.Figure:
    """`feature_shares` for any per-feature quantity (weights, L2 strengths): grouped bars with the
    mean over seeds and their sd, along an axis labelled `xlabel`, logarithmic with `log_x`."""
    fig = feature_shares(feature_names, panels, xlabel)
    for ax in fig.axes:
        if log_x:
            ax.set_xscale("log")
        else:
            ax.axvline(0, color="0.3", lw=0.6)
    return fig


def prediction_shift(
    before: dict[str, np.ndarray], after: dict[str, dict[str, np.ndarray]], xlabel: str
) -> plt.Figure:
    """A grid of scatter plots, one row per change of the data (`after` maps its name to
    {model: predictions}) and one column per model: each test example's predicted probability
    before (x) and after (y) the change; points off the diagonal are predictions the change moved.
    The points are rasterized, so the figure stays light in any format."""
    rows, cols = len(after), len(before)
    with plt.rc_context(READABLE):
        fig, axes = plt.subplots(
            rows,
            cols,
            figsize=(PHONE_WIDTH, PHONE_WIDTH / cols * rows + 0.4),
            squeeze=False,
            sharex=True,
            sharey=True,
        )
        for r, (change, moved) in enumerate(after.items()):
            for c, (name, p) in enumerate(before.items()):
                ax, q = axes[r, c], np.ravel(moved[name])
                ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
                ax.scatter(
                    np.ravel(p),
                    q,
                    s=5,
                    alpha=0.4,
                    color=color_for(c),
                    edgecolors="none",
                    rasterized=True,
                )
                mean_change = number(np.mean(np.abs(q - np.ravel(p))))
                ax.set_title(f"{name}\nmean |change| {mean_change}", fontsize=10)
            axes[r, 0].set_ylabel(f"P(y=1), {change}")
        for ax in axes[-1]:
            ax.set_xlabel(xlabel)
        fig.tight_layout()
    return fig


def grid(
    x: np.ndarray, steps: int = 120, margin: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid over the range of 2-D inputs: (xx, yy, points of shape (steps², 2))."""
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()].astype("float32")


def strength_sweeps(
    sweeps: dict[str, tuple[list[float], dict[str, np.ndarray]]],
    chosen: dict[str, float],
    log_x: tuple[str, ...] = (),
    ylabel: str = "accuracy",
) -> plt.Figure:
    """One panel per swept knob, stacked: `sweeps` maps a knob's label to (its values, {series:
    array (seeds, values)}); lines are means over seeds, bands their range, and a dotted line marks
    the value `chosen` on validation. Knobs named in `log_x` get a log axis that keeps 0."""
    with plt.rc_context(READABLE):
        fig, axes = plt.subplots(
            len(sweeps), 1, figsize=(PHONE_WIDTH, 3.2 * len(sweeps)), squeeze=False
        )
        for ax, (knob, (x, series)) in zip(axes.flat, sweeps.items(), strict=True):
            _mean_and_range(ax, x, series, knob in log_x)
            ax.axvline(chosen[knob], color="0.3", ls=":", lw=1.2)
            ax.set_xlabel(f"{knob} (dotted: chosen on validation)")
            ax.set_ylabel(ylabel)
        axes.flat[0].legend(frameon=False, ncol=len(next(iter(sweeps.values()))[1]))
        fig.tight_layout()
    return fig


def boundary_frame(
    xx: np.ndarray,
    yy: np.ndarray,
    prob: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    title: str,
    true_boundary: tuple | None = None,
) -> plt.Figure:
    """One model's predicted class on a grid, its 0.5 contour, the training points and the true
    boundary (dashed), in one panel wide enough to read on a phone."""
    with plt.rc_context(READABLE):
        fig, ax = plt.subplots(figsize=(PHONE_WIDTH, 4.6))
        grid_prob = prob.reshape(xx.shape)
        ax.contourf(xx, yy, grid_prob, levels=[0, 0.5, 1], colors=["#f4d6db", "#d3e3f1"])
        ax.contour(xx, yy, grid_prob, levels=[0.5], colors="k", linewidths=1.5)
        if true_boundary is not None:
            ax.plot(*true_boundary, ls="--", color="0.35", lw=1.2, label="true boundary")
        for label, color in ((0, PALETTE[1]), (1, PALETTE[0])):
            points = x[np.asarray(y).ravel() == label]
            ax.scatter(points[:, 0], points[:, 1], s=14, color=color, edgecolors="none")
        ax.set_title(title)
        ax.set_xlim(xx.min(), xx.max())
        ax.set_ylim(yy.min(), yy.max())
        ax.set_aspect("equal")
        fig.tight_layout()
    return fig


def width_accuracy(
    widths: list[int],
    accuracy: np.ndarray,
    references: dict[str, np.ndarray],
    chosen: int,
) -> plt.Figure:
    """Test accuracy of unregularized networks against their width (`accuracy`: array (seeds,
    widths); line: mean, band: range over seeds), the `chosen` width circled, and other models'
    mean accuracy as dashed lines (`references`: {label: values per seed})."""
    with plt.rc_context(READABLE):
        fig, ax = plt.subplots(figsize=(PHONE_WIDTH, 4.2))
        _mean_and_range(ax, widths, {"no regularizer": accuracy}, log_x=False)
        mean = np.atleast_2d(accuracy).mean(axis=0)
        ax.plot(chosen, mean[widths.index(chosen)], "o", ms=12, mfc="none", color="k")
        for i, (label, values) in enumerate(references.items(), start=1):
            ax.axhline(float(np.mean(values)), ls="--", lw=1.2, color=color_for(i), label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.minorticks_off()
        ax.set_xlabel(f"units per hidden layer (circled: {chosen}, chosen on validation)")
        ax.set_ylabel("test accuracy")
        ax.legend(frameon=False, loc="lower right")
        fig.tight_layout()
    return fig


def paired_differences(
    labels: list[str],
    series: dict[str, list[tuple[float, float, float]]],
    xlabel: str,
) -> plt.Figure:
    """A forest plot: one row per situation (`labels`, top to bottom), for each series a point at
    the mean paired difference and a bar over its 95% interval (`series`: {name: [(difference, low,
    high)] per row}); the zero line is where a setting does no better than its baseline."""
    with plt.rc_context(READABLE):
        fig, ax = plt.subplots(figsize=(PHONE_WIDTH, 1.2 + 0.62 * len(labels)))
        rows = np.arange(len(labels))[::-1]
        offset = 0.32 / max(len(series) - 1, 1)
        for i, (name, values) in enumerate(series.items()):
            shift = (i - (len(series) - 1) / 2) * offset
            difference, low, high = (np.array(v, dtype=float) for v in zip(*values, strict=True))
            ax.errorbar(
                difference,
                rows - shift,
                xerr=[difference - low, high - difference],
                fmt="o",
                ms=6,
                capsize=3,
                color=color_for(i),
                label=name,
            )
        ax.axvline(0, color="0.4", lw=1)
        ax.set_yticks(rows, labels)
        ax.set_xlabel(xlabel)
        ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(series))
        fig.tight_layout()
    return fig
