import json

import pytest

from nnreg_keras.exceptions import ResultsError, UsageError
from nnreg_keras.pipeline import report
from nnreg_keras.pipeline.contract import SCHEMA_VERSION

SVG = (
    '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
    'height="10"><rect width="5" height="5"/></svg>\n'
)


def fake_results(reports, stem, title, **extra):
    reports = reports / "runs" / stem  # a notebook's landed run directory
    (reports / "figures" / stem).mkdir(parents=True, exist_ok=True)
    (reports / "figures" / stem / "f.svg").write_text(SVG)
    data = {
        "schema_version": SCHEMA_VERSION,
        "notebook": stem,
        "title": title,
        "questions": ["Why would you use dropout?"],
        "verdict": {"text": "Measured: 0.9."},
        "claims": [
            {
                "name": "wins",
                "status": "did not hold",
                "expected": "Dropout wins",
                "text": "Dropout wins: −2.00 points (95% interval −3.00 to −1.00).",
                "difference": -0.02,
                "interval": [-0.03, -0.01],
                "seeds": 5,
                "won": 0,
                "expect": "higher",
            },
            {"name": "tie", "status": "inconclusive", "text": "A tie."},
        ],
        "tables": [
            {
                "caption": "Scores",
                "columns": ["model", "n", "acc"],
                "rows": [["wide", 1200, 0.91234]],
            }
        ],
        "figures": [
            {"file": f"figures/{stem}/f.svg", "caption": "A square.", "alt": "One square."}
        ],
        "metrics": {"acc": 0.9},
        "parameters": {"rate": 0.5},
        "seeds": [0, 1],
        "profile": "quick",
        "environment": {
            "keras_backend": "tensorflow",
            "python": "3.11",
            "packages": {"keras": "3"},
            "git_commit": "abc123",
        },
        **extra,
    }
    (reports / "results").mkdir(parents=True, exist_ok=True)
    (reports / "results" / f"{stem}.json").write_text(json.dumps(data))
    stamp = {"notebook": stem, "profile": data["profile"], "overrides": {}}
    (reports / "run.json").write_text(json.dumps({**stamp, "parameters": data["parameters"]}))
    return data


def test_report_has_every_section_with_its_parts(tmp_path):
    fake_results(tmp_path, "01_first", "First lesson")
    fake_results(tmp_path, "02_second", "Second lesson")
    html = report.build(tmp_path).read_text()
    for anchor, title in (("01-first", "First lesson"), ("02-second", "Second lesson")):
        assert f'<section id="{anchor}">' in html and f'<a href="#{anchor}">{title}</a>' in html
    assert html.count("<blockquote>Why would you use dropout?</blockquote>") == 2
    assert '<div class="svg" role="img" aria-label="One square."><svg' in html
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert "<td>0.912</td>" in html and "<td>1,200</td>" in html
    assert html.count('<p class="verdict">Measured: 0.9.</p>') == 2
    assert html.count('<li class="not-held"><span class="status">did not hold</span> Dropout') == 2
    assert (
        html.count('<li class="inconclusive"><span class="status">inconclusive</span> A tie.') == 2
    )
    assert "python -m nnreg_keras run 01 --profile quick" in html
    assert "abc123" in html and "rate=0.5" in html
    assert "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # nothing fetched


def test_html_in_titles_and_parameters_is_escaped(tmp_path):
    fake_results(
        tmp_path,
        "01_x",
        "<script>alert(1)</script>",
        parameters={"name": "<b>bold</b>"},
        verdict={"text": "a < b & c"},
    )
    html = report.build(tmp_path).read_text()
    assert (
        "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    )
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "a &lt; b &amp; c" in html


def test_png_figures_are_inlined_as_data(tmp_path):
    data = fake_results(tmp_path, "01_x", "X")
    (tmp_path / "runs" / "01_x" / "figures" / "01_x" / "p.png").write_bytes(b"\x89PNG fake")
    data["figures"] = [{"file": "figures/01_x/p.png", "caption": "c", "alt": 'say "hi"'}]
    (tmp_path / "runs" / "01_x" / "results" / "01_x.json").write_text(json.dumps(data))
    html = report.build(tmp_path).read_text()
    assert '<img src="data:image/png;base64,iVBORyBmYWtl" alt="say &quot;hi&quot;">' in html


def test_errors_leave_the_previous_report_untouched(tmp_path):
    with pytest.raises(UsageError, match="no runs in"):
        report.build(tmp_path)
    fake_results(tmp_path, "01_x", "X")
    (tmp_path / "index.html").write_text("previous")
    (tmp_path / "runs" / "01_x" / "figures" / "01_x" / "f.svg").unlink()
    with pytest.raises(ResultsError, match="f.svg is missing"):
        report.build(tmp_path)
    fake_results(tmp_path, "01_x", "X")
    fake_results(tmp_path, "02_y", "Y", claims=[{"name": "c", "held": True}])  # no status
    with pytest.raises(ResultsError, match="02_y.json breaks the results contract"):
        report.build(tmp_path)
    assert (tmp_path / "index.html").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".index")] == []


def test_autoescape_is_on_for_the_html_j2_template():
    template = report.jinja_environment().from_string("{{ x }}")
    assert template.render(x="<i>") == "&lt;i&gt;"
    assert report.jinja_environment().get_template("report.html.j2").environment.autoescape is True


def test_exercises_show_as_a_collapsed_block_with_markdown_rendered_and_html_escaped(tmp_path):
    exercises = "## Try it\n\n1. Set `dropout_rate` to 0.2 <b>now</b>.\n2. Predict the accuracy.\n"
    fake_results(tmp_path, "01_x", "X", exercises=exercises)
    fake_results(tmp_path, "02_y", "Y")
    html = report.build(tmp_path).read_text()
    assert html.count('<details class="exercises">') == 1
    assert "<li>Set <code>dropout_rate</code> to 0.2 &lt;b&gt;now&lt;/b&gt;.</li>" in html
    assert "<h2>Try it</h2>" not in html


def test_consecutive_figures_of_one_group_are_one_explorable_figure(tmp_path):
    data = fake_results(tmp_path, "05_x", "X")
    frame = {
        "file": "figures/05_x/f.svg",
        "caption": "The sweep.",
        "alt": "Boundaries.",
        "group": "boundaries",
    }
    data["figures"] = [
        {"file": "figures/05_x/f.svg", "caption": "Before.", "alt": "A square."},
        *({**frame, "frame": f"L2 {s} | dropout rate {s}"} for s in (0.1, 0.2, 0.3)),
        {"file": "figures/05_x/f.svg", "caption": "After.", "alt": "A square."},
    ]
    (tmp_path / "runs" / "05_x" / "results" / "05_x.json").write_text(json.dumps(data))
    html = report.build(tmp_path).read_text()
    start = html.index('<figure class="explorable" id="05-x-boundaries">')
    block = html[start : html.index("Figure 2. The sweep.</figcaption>", start)]
    assert block.count('<figure class="frame"') == 3 and '<div class="frames">' in block
    assert (
        "hidden" not in block and "<input" not in block
    )  # without JavaScript: every frame, as a grid
    for s in (0.1, 0.2, 0.3):
        assert (
            f'data-frame="L2 {s} | dropout rate {s}"' in block
            and f"<figcaption>L2 {s} | dropout rate {s}</figcaption>" in block
        )
    assert (
        "Figure 1. Before." in html and "Figure 3. After." in html
    )  # the group counts as one figure
    script = html[html.index("<script>") : html.index("</script>")]
    assert 'querySelectorAll("figure.explorable")' in script and 'input.type = "range"' in script
    assert "src=" not in script and "http" not in script  # inline, nothing fetched
    css = html[html.index("<style>") : html.index("</style>")]
    assert "figure.explorable .frame[hidden] { display: block; }" in css  # print shows every frame


def test_figures_of_two_groups_or_apart_stay_apart():
    figs = [{"group": "a"}, {"group": "a"}, {}, {"group": "a"}, {"group": "b"}, {}]
    assert [(b["group"], len(b["frames"])) for b in report.figure_blocks(figs)] == [
        ("a", 2),
        (None, 1),
        ("a", 1),
        ("b", 1),
        (None, 1),
    ]


def test_a_lead_table_opens_the_section_under_the_verdict(tmp_path):
    lead = {
        "caption": "When to use which",
        "columns": ["situation", "winner"],
        "rows": [["little data", "L2"]],
        "lead": True,
    }
    scores = {"caption": "Scores", "columns": ["model", "acc"], "rows": [["wide", 0.9]]}
    fake_results(tmp_path, "01_x", "X", tables=[lead, scores])
    html = report.build(tmp_path).read_text()
    assert html.startswith("<!DOCTYPE html>")
    marks = (
        'class="verdict"',
        "<caption>Table 1. When to use which",
        "<h3>Findings",
        "<caption>Table 2. Scores",
    )
    positions = [html.index(m) for m in marks]
    assert positions == sorted(positions)
    assert html.count("<caption>Table 1. When to use which") == 1
