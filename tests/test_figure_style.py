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
