"""Every figure's style (nnreg_keras.plots): text saved as text, dense layers saved as one image."""

from __future__ import annotations

import io

import numpy as np

from nnreg_keras import plots


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plots.plt.close(fig)
    return out.getvalue()


def test_figure_text_is_saved_as_text_in_fonts_a_browser_has_or_narrower():
    fig, ax = plots.plt.subplots()
    ax.set_title("validation accuracy")
    svg = _svg(fig)
    assert "validation accuracy</text>" in svg and "DejaVuSans-" not in svg  # no glyph outlines
    assert "font-family: 'DejaVu Sans', 'Verdana', 'Arial', 'Helvetica'" in svg


def test_dense_layers_are_drawn_as_one_image_and_lines_stay_vector():
    rng = np.random.default_rng(0)
    fig, ax = plots.plt.subplots()
    xx, yy = np.meshgrid(np.linspace(0, 1, 30), np.linspace(0, 1, 30))
    filled = ax.contourf(xx, yy, xx + yy, levels=[0, 1, 2])
    line = ax.contour(xx, yy, xx + yy, levels=[1])
    many = ax.scatter(*rng.random((2, 500)))
    few = ax.scatter(*rng.random((2, 5)))
    (curve,) = ax.plot([0, 1], [0, 1])
    plots.rasterize_dense(fig)
    assert filled.get_rasterized() and many.get_rasterized()
    assert not any(a.get_rasterized() for a in (line, few, curve))
    svg = _svg(fig)
    assert svg.count("<image") == 1 and svg.count("<use") < 30  # five points and the ticks


def test_point_labels_of_crowded_points_are_placed_apart():
    """Settings whose points nearly coincide (tutorial 02's strengths, default profile) still get
    labels that overlap no other text: each moves to the first free spot beside its point."""
    import matplotlib.text

    crowded = np.array([[0.85, 0.8502, 0.8504]] * 3)
    clean = {"dropout": crowded, "L2": crowded[:, :2], "far": np.array([[0.6]] * 3)}
    panel = {
        "a": {"dropout": crowded - 0.1, "L2": crowded[:, :2] - 0.1, "far": np.array([[0.3]] * 3)}
    }
    tags = {"dropout": ["none", "0.02", "0.03"], "L2": ["", "0.2"], "far": [""]}
    fig = plots.tradeoff_curves(clean, panel, tags)
    renderer = fig.canvas.get_renderer()
    labels = fig.findobj(matplotlib.text.Annotation)
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert len(boxes) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert {t.get_position() for t in labels} != {(7, 7)}  # at the first spot they would overlap
    plots.plt.close(fig)


def _saved_width_and_smallest_text(fig) -> tuple[float, float]:
    """A figure saved as the recorder saves it: its width and its smallest font size, in points."""
    import re

    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight")
    plots.plt.close(fig)
    svg = out.getvalue()
    width = float(re.search(r'width="([\d.]+)pt"', svg)[1])
    return width, min(float(size) for size in re.findall(r"font-size: ([\d.]+)px", svg))


def test_a_wide_figure_is_narrowed_until_its_smallest_text_reads_on_a_phone():
    fig, axes = plots.plt.subplots(1, 3, figsize=(10, 3))
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set_xlabel("training step")
    plots.fit_for_phone(fig)
    width, smallest = _saved_width_and_smallest_text(fig)
    # drawn in a 366-px column (1 pt = 4/3 px), the smallest text is at least 10 px
    assert smallest * 4 / 3 * min(1, plots.COLUMN_PX / (width * 4 / 3)) >= 10
    assert width > 200  # narrowed, not collapsed


def test_a_figure_narrow_enough_is_left_as_it_is():
    fig, ax = plots.plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    plots.fit_for_phone(fig)
    assert tuple(fig.get_size_inches()) == (3, 2)
    plots.plt.close(fig)
