import json
import re

import nbformat
import pytest

from nnreg_keras import render
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
        "comparisons": 2,
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
        assert f'<section id="{anchor}" aria-labelledby="{anchor}-title">' in html
        assert f'<a href="#{anchor}">{title}</a>' in html  # in the contents
    assert html.count('<blockquote class="question"><p>Why would you use dropout?</p>') == 2
    size = 'style="--width: 10px; --ratio: 1.0000"'  # its box, reserved before it is drawn
    assert f'<div class="svg" role="img" aria-label="One square." {size}><svg' in html
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert '<tr><th scope="row">wide</th><td>1,200</td><td>0.912</td></tr>' in html
    assert html.count('<p class="verdict"><strong>Measured: 0.9.</strong></p>') == 2
    said = "This notebook makes 2 comparisons; their p-values are adjusted together"
    assert html.count(f'<p class="muted">{said}') == 2  # under each section's findings
    # the page opens with the question, answered once, and the way to the first section quoting it
    assert html.count('<p class="asked">Why would you use dropout?</p>') == 1
    assert '<p class="answer">Measured: 0.9. <a href="#01-first">First lesson</a></p>' in html
    assert html.count('<li class="not-held"><span class="status">did not hold</span> Dropout') == 2
    assert (
        html.count('<li class="inconclusive"><span class="status">inconclusive</span> A tie.') == 2
    )
    assert "nnreg-keras run 01 --profile quick" in html
    assert "abc123" in html and "rate=0.5" in html
    assert "http://" not in re.sub(
        r"xmlns=[\"']http://www.w3.org/2000/svg[\"']", "", html
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
            and f"<figcaption>L2 {s} | dropout rate {s} <span" in block
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


def test_frames_left_out_of_the_report_are_counted_and_found_on_the_notebook_page(tmp_path):
    data = fake_results(tmp_path, "10_x", "X")
    data["figures"] = [
        {
            "file": "figures/10_x/f.svg",
            "caption": "The grid.",
            "alt": "A square.",
            "group": "g",
            "frame": f"λ {s}",
            **({} if s in (1, 4) else {"in_report": False}),
        }
        for s in range(1, 6)
    ]
    run = tmp_path / "runs" / "10_x"
    (run / "results" / "10_x.json").write_text(json.dumps(data))
    (run / "notebooks").mkdir(exist_ok=True)
    (run / "notebooks" / "10_x.html").write_text("<p>every frame</p>")
    html = report.build(tmp_path).read_text()
    assert re.findall(r'data-frame="([^"]*)"', html) == ["λ 1", "λ 4"]
    assert (
        "Figure 1. The grid. Here 2 of its 5 frames; every frame on "
        '<a href="runs/10_x/notebooks/10_x.html">the executed notebook\'s page</a>.' in html
    )
    figs = [{"group": "g", "in_report": False}, {"group": "g", "in_report": False}, {}]
    assert [(len(b["frames"]), b["left_out"]) for b in report.figure_blocks(figs)] == [
        (1, 1),  # a group that marks none of its frames shows its first
        (1, 0),
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
        'id="01-x-findings"',
        "<caption>Table 2. Scores",
    )
    positions = [html.index(m) for m in marks]
    assert positions == sorted(positions)
    assert html.count("<caption>Table 1. When to use which") == 1


def test_each_section_links_the_files_its_run_landed(tmp_path):
    fake_results(tmp_path, "01_x", "X")
    run = tmp_path / "runs" / "01_x"
    (run / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), str(run / "notebooks" / "01_x.ipynb"))
    (run / "notebooks" / "01_x.html").write_text("<html></html>")
    fake_results(tmp_path, "02_y", "Y")  # landed no notebook
    html = report.build(tmp_path).read_text()
    first, second = html.split('<section id="02-y"')
    for href in ("notebooks/01_x.html", "notebooks/01_x.ipynb", "results/01_x.json"):
        assert f'href="runs/01_x/{href}"' in first
    assert first.count('href="runs/01_x/figures/01_x/f.svg"') == 2  # full size, and the SVG file
    assert 'href="runs/02_y/results/02_y.json"' in second and "02_y.ipynb" not in second


def test_headings_name_their_section_and_link_to_themselves(tmp_path):
    fake_results(tmp_path, "01_x", "First", exercises="## Try it\n\n1. Change it.\n")
    fake_results(tmp_path, "02_y", "Second")
    html = report.build(tmp_path).read_text()
    headings = re.findall(r'<h([23]) id="([^"]+)"><a class="self" href="#([^"]+)">(.*?)</a>', html)
    texts = [re.sub(r"<[^>]+>", "", text) for _, _, _, text in headings]
    assert len(texts) == len(set(texts)), "two headings say the same"
    assert "Findings: First" in texts and "Findings: Second" in texts and "Try it: First" in texts
    assert all(target in (ident, ident.removesuffix("-title")) for _, ident, target, _ in headings)


def test_the_notebook_page_carries_its_title_and_links_back_to_its_section(tmp_path):
    import nbformat

    from nnreg_keras.pipeline.runner import export_html

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Dropout is not a smaller network\n\n> Why?"),
        nbformat.v4.new_code_cell("x = 1  # " + "a long comment " * 20),
    ]
    run = tmp_path / "runs" / "01_dropout_x"
    (run / "notebooks").mkdir(parents=True)
    (run / "results").mkdir()
    (run / "results" / "01_dropout_x.json").write_text("{}")
    executed = run / "notebooks" / "01_dropout_x.ipynb"
    nbformat.write(nb, str(executed))
    export_html(nb, executed, run / "notebooks" / "01_dropout_x.html")
    page = (run / "notebooks" / "01_dropout_x.html").read_text()
    assert "<title>Dropout is not a smaller network</title>" in page
    assert 'href="../../../index.html#01-dropout-x"' in page
    assert 'href="01_dropout_x.ipynb"' in page and 'href="../results/01_dropout_x.json"' in page
    assert "white-space: pre-wrap" in page and "<script src" not in page
    assert len(page) < 100_000, "JupyterLab's 250 KB stylesheet is not needed"


PATH_SVG = """<?xml version="1.0"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100.123456pt">
 <metadata>
  <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description/></rdf:RDF>
 </metadata>
 <defs>
  <style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style>
 </defs>
 <g id="figure_1">
  <g id="patch_1">
   <path d="M 1.234567 2.345678
L 3.456789 4.567891
z" style="fill: #fff"/>
  </g>
  <g id="text_1" clip-path="url(#p1)">
   <text x="10.987654" y="5.5" style="font-size: 8px">0.912345 </text>
  </g>
 </g>
</svg>
"""


def test_a_saved_svg_becomes_markup_that_styles_only_itself():
    svg = render.page_svg(PATH_SVG)
    assert svg.startswith("<svg") and "metadata" not in svg and "rdf" not in svg
    assert "<style" not in svg  # inline in a page, `*{...}` would style every element of the page
    assert 'stroke-linejoin="round" stroke-linecap="butt"' in svg[: svg.index(">")]
    assert '<text x="10.98" y="5.5" style="font-size: 8px">0.912345 </text>' in svg  # text as is
    assert 'width="100.123456pt"' in svg  # the drawing's own size stays exact
    assert 'id="figure_1"' not in svg and 'id="patch_1"' not in svg  # groups that only name
    assert '<g id="text_1" clip-path="url(#p1)">' in svg  # a group that does something stays
    assert "\n" not in svg


def test_embedded_pngs_get_a_palette_and_stay_the_same_picture():
    import base64
    import io

    import matplotlib
    import numpy as np
    from PIL import Image

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.contourf(*np.meshgrid(np.arange(9), np.arange(9)), rng.random((9, 9)), levels=[0, 0.5, 1])
    ax.scatter(*rng.random((2, 300)) * 8, s=6, color="#1b6ca8")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    svg = render.page_svg(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        f'<image xlink:href="data:image/png;base64,\n{data}"/></svg>'
    )
    small = base64.b64decode(svg.split("base64,")[1].split('"')[0])
    assert len(small) < len(buffer.getvalue()) / 2
    before = np.asarray(Image.open(buffer).convert("RGBA")).astype(int)
    after = np.asarray(Image.open(io.BytesIO(small)).convert("RGBA")).astype(int)
    assert np.abs(after - before).mean() < 1  # the same picture to the eye


def test_formulas_become_mathml_and_code_and_prices_stay_text():
    page = render.math_html(
        "<p>A $x^2$ and $\\lambda_j$ cost $5 and $6.</p><pre><code>$a$</code></pre>"
        "<p>$$\\frac{\\delta}{1-\\delta}\\sum_j x_{ij}^2 w_j^2$$ and \\(a &lt; b\\)</p>"
    )
    assert page.count("<math") == 4 and 'display="block"' in page
    assert "$5 and $6" in page and "<code>$a$</code>" in page
    assert "<mfrac>" in page and "&#x0003C;" in page  # "&lt;" read back as "<", then MathML
    assert "$" not in page.replace("$5 and $6", "").replace("$a$", "")


def test_markdown_exercises_show_their_formulas_as_mathml():
    text = str(report.markdown("Penalise $\\lambda_j w_j^2$ by $\\delta/(1-\\delta)$; *keep* it."))
    assert text.count("<math") == 2 and "<em>keep</em>" in text and "$" not in text


def test_each_code_line_is_one_element_with_its_indentation():
    code = (
        '<div class="highlight"><pre><span></span><span class="k">def</span> f(x):\n'
        '    <span class="sd">"""doc\n    more"""</span>\n        return x\n</pre></div>'
    )
    lines = report.code_lines(code)
    assert lines.count('<span class="line"') == 4
    assert [int(i) for i in re.findall(r"--i: (\d+)", lines)] == [0, 4, 4, 8]
    # a docstring's span is closed at each line's end and opened again on the next
    assert '<span class="sd">"""doc</span>\n</span>' in lines
    assert '<span class="indent">        </span>return x' in lines  # indentation never wraps
    assert re.sub(r"<[^>]*>", "", lines) == re.sub(r"<[^>]*>", "", code)  # the same text


def test_the_first_sentence_ends_at_a_full_stop_before_a_capital():
    assert render.first_sentence("Yes: 17,025 weights (0.5 kept). A random half is lower.") == (
        "Yes: 17,025 weights (0.5 kept).",
        "A random half is lower.",
    )
    assert render.first_sentence("No.") == ("No.", "")


def test_the_page_opens_with_each_question_answered_once():
    sections = [
        {
            "questions": ["Why?", "Same size?"],
            "verdict_text": "No. Long.",
            "anchor": "a",
            "title": "A",
        },
        {"questions": ["Which?"], "verdict_text": "This one. More.", "anchor": "b", "title": "B"},
        {"questions": ["Why?"], "verdict_text": "Again.", "anchor": "c", "title": "C"},
        {
            "questions": ["Aside?"],
            "verdict_text": "Later. More.",
            "anchor": "d",
            "title": "Going further: an aside",
        },
    ]
    assert report.answers(sections) == [
        {"questions": ["Why?", "Same size?"], "answer": "No.", "anchor": "a", "title": "A"},
        {"questions": ["Which?"], "answer": "This one.", "anchor": "b", "title": "B"},
    ]
    assert report.further(sections) == [{"anchor": "d", "title": "an aside"}]
