"""TikZ output (issue 13): Graphviz's painted drawing of both views, converted op for op.

The pure converter is checked on a hand-written ``-Tjson`` dict; the whole path on zoo and example
specs against their DOT (every filled cell a filled circle, every edge a path, every fill colour
defined). Where ``pdflatex`` is installed the output is also compiled.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cellgraph.render import render
from cellgraph.render.theme import PRINT_GREYS, THEME
from cellgraph.render.tikz import latex_text, tikz_from_json, to_tikz

pytestmark = pytest.mark.skipif(shutil.which("neato") is None, reason="Graphviz is not installed")

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("specs/zoo/lstm.yaml", "cells", None),
    ("specs/zoo/hn.yaml", "cells", None),
    ("specs/zoo/hn.yaml", "layers", None),
    ("specs/examples/unet.yaml", "cells", None),
    ("specs/examples/unet.yaml", "layers", None),
    ("specs/zoo/lstm.yaml", "cells", "print"),
    ("specs/examples/unet.yaml", "layers", "print"),
]
_DOT_NODE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" \[(.*)\]$', re.M)
_DOT_EDGE = re.compile(r'^\s*"(?:[^"\\]|\\.)*" (?:--|->) "(?:[^"\\]|\\.)*"', re.M)


def _attrs(text: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', text))


def _dot_nodes(dot: str) -> dict[str, dict[str, str]]:
    return {m.group(1): _attrs(m.group(2)) for m in _DOT_NODE.finditer(dot)}


def _blocks(tex: str, kind: str) -> list[list[str]]:
    """The lines under each ``% node``/``% edge`` comment."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in tex.splitlines():
        if line.startswith("% "):
            current = [] if line.startswith(f"% {kind} ") else None
            if current is not None:
                blocks.append(current)
        elif current is not None and not line.startswith("\\end{"):
            current.append(line)
    return blocks


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{Path(c[0]).stem}-{c[1]}-{c[2] or 'chart'}")
def drawn(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    spec, view, theme = request.param
    r = render(ROOT / spec, view=view, theme=theme)
    return r.dot, r.engine, to_tikz(r.dot, r.engine)


def test_a_filled_circle_per_filled_cell(drawn: tuple[str, str, str]) -> None:
    dot, _, tex = drawn
    nodes = _dot_nodes(dot)
    filled = [a for a in nodes.values() if a.get("shape") == "circle" and "filled" in a.get("style", "")]
    circles = [ln for ln in tex.splitlines() if ln.startswith("\\path[fill=") and " circle [radius=" in ln]
    assert len(circles) == len(filled)
    cells = [n for n, a in nodes.items() if a.get("shape") == "circle" and "~" not in n]
    assert len(cells) <= len(circles)
    # each circle in its cell's colours
    for attrs in filled:
        fill, outline = attrs["fillcolor"].upper().lstrip("#"), attrs["color"].upper().lstrip("#")
        assert any(f"fill=cg{fill}," in c and f"draw=cg{outline}," in c for c in circles), attrs


def test_every_fill_colour_is_defined(drawn: tuple[str, str, str]) -> None:
    dot, _, tex = drawn
    for colour in set(re.findall(r'(?:fillcolor|color|fontcolor)="#([0-9A-Fa-f]{6})"', dot)):
        assert f"\\definecolor{{cg{colour.upper()}}}{{HTML}}{{{colour.upper()}}}" in tex
    names = re.findall(r"\\definecolor\{(\w+)\}", tex)
    assert names == sorted(set(names))  # deduplicated, in a fixed order


def test_every_edge_becomes_a_path(drawn: tuple[str, str, str]) -> None:
    dot, _, tex = drawn
    edges = _blocks(tex, "edge")
    assert len(edges) == len(_DOT_EDGE.findall(dot))
    for lines in edges:
        assert any(ln.startswith("\\path[draw=") and ".. controls" in ln for ln in lines), lines


def test_every_node_is_drawn_and_the_title_written(drawn: tuple[str, str, str]) -> None:
    dot, _, tex = drawn
    nodes = _dot_nodes(dot)
    shown = {
        n
        for n, a in nodes.items()
        if "invis" not in a.get("style", "") and (a.get("shape") not in ("plaintext", "none") or a.get("label"))
    }
    painted = {ln[len("% node ") :] for ln in tex.splitlines() if ln.startswith("% node ")}
    assert shown <= painted <= set(nodes)
    assert "\\node[anchor=" in tex


def test_the_output_is_deterministic_and_a_document(drawn: tuple[str, str, str]) -> None:
    dot, engine, tex = drawn
    assert to_tikz(dot, engine) == tex
    assert tex.startswith("% Made by cellgraph")
    assert "\\documentclass[tikz]{standalone}" in tex and tex.rstrip().endswith("\\end{document}")
    picture = to_tikz(dot, engine, standalone=False)
    assert "\\documentclass" not in picture and "\\begin{document}" not in picture
    assert picture.startswith("% Made by cellgraph") and picture.rstrip().endswith("\\end{tikzpicture}")
    assert "left out" not in tex and "Not reproduced" not in tex  # cellgraph's drawings map op for op


def test_print_theme_greys_are_the_cell_fills() -> None:
    r = render(ROOT / "specs/zoo/lstm.yaml", theme="print")
    tex = to_tikz(r.dot, r.engine)
    for family in ("input", "output", "recurrent"):
        grey = PRINT_GREYS[family].lstrip("#")
        assert f"\\definecolor{{cg{grey}}}{{HTML}}{{{grey}}}" in tex
    assert "dash pattern=on 5bp off 2bp" in tex  # the recurrent family's dashed outline
    colour = THEME["chart"].fill("memory").lstrip("#").upper()
    chart = render(ROOT / "specs/zoo/lstm.yaml")
    assert f"fill=cg{colour}," in to_tikz(chart.dot, chart.engine)


def _tiny_spec(tmp_path: Path, title: str) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        f"cellgraph: 1\nname: tiny\ntitle: '{title}'\ncells:\n"
        "  x: {type: input, size: 2}\n  y: {type: output, size: 1}\nedges:\n  - x -> y\n",
        encoding="utf-8",
    )
    return path


TITLE = "R&D_net 100% {x} $5 #1 ~a^b \\ <1> · × … − — ◯ △ □ η Δ"


@pytest.mark.parametrize("view", ["cells", "layers"])
def test_text_is_escaped(tmp_path: Path, view: str) -> None:
    r = render(_tiny_spec(tmp_path, TITLE), view=view)
    tex = to_tikz(r.dot, r.engine)
    assert f"{{{latex_text(TITLE)}}};" in tex
    texts = re.findall(r"\\node\[[^\n]*\] at \([^)]*\) \{(.*)\};$", tex, re.M)
    title = next(t for t in texts if "R\\&D" in t)
    assert title.startswith(r"R\&D\_net 100\% \{x\} \$5 \#1 \textasciitilde{}a\textasciicircum{}b \textbackslash{}")
    assert not re.search(r"(?<!\\)[&%$#_]", title)  # no LaTeX special left bare
    assert all(ord(ch) < 128 for ch in title)  # the common non-ASCII mapped to commands


def test_latex_text_maps_the_common_characters() -> None:
    assert latex_text("a & b") == r"a \& b"
    assert latex_text("16×16×8 · 80") == r"16\ensuremath{\times}16\ensuremath{\times}8 \ensuremath{\cdot} 80"
    assert latex_text("…") == r"\ldots{}"
    assert latex_text("−1") == r"\ensuremath{-}1"
    assert latex_text("◯ △") == r"\ensuremath{\bigcirc} \ensuremath{\triangle}"
    assert "\\square" in latex_text("□")
    assert latex_text(" a  b ") == r"\ a \ b\ "
    assert latex_text("a--b") == "a-{}-b"
    assert latex_text("ä") == "ä"  # inputenc handles accented letters


TINY_JSON = {
    "name": "tiny",
    "bb": "0,0,100,50",
    "pad": "0.1",
    "bgcolor": "#FFFFFF",
    "outputorder": "edgesfirst",
    "_draw_": [
        {"op": "c", "grad": "none", "color": "#fffffe00"},
        {"op": "C", "grad": "none", "color": "#ffffff"},
        {"op": "P", "points": [[-7.2, -7.2], [-7.2, 57.2], [107.2, 57.2], [107.2, -7.2]]},
    ],
    "objects": [
        {
            "_gvid": 0,
            "name": "a",
            "_draw_": [
                {"op": "S", "style": "setlinewidth(0.8)"},
                {"op": "S", "style": "dashed"},
                {"op": "c", "grad": "none", "color": "#d9ad00"},
                {"op": "C", "grad": "none", "color": "#ffcc00"},
                {"op": "E", "rect": [20.0, 25.0, 11.0, 11.0]},
            ],
        },
        {
            "_gvid": 1,
            "name": "b",
            "_draw_": [
                {"op": "c", "grad": "none", "color": "#000000"},
                {"op": "e", "rect": [80.0, 25.0, 8.0, 5.0]},
                {"op": "S", "style": "dotted"},
                {"op": "p", "points": [[70.0, 10.0], [90.0, 10.0], [80.0, 20.0]]},
                {"op": "L", "points": [[70.0, 40.0], [90.0, 40.0]]},
            ],
            "_ldraw_": [
                {"op": "F", "size": 9.0, "face": "Liberation Sans Bold"},
                {"op": "c", "grad": "none", "color": "#555555"},
                {"op": "T", "pt": [60.0, 45.0], "align": "l", "width": 10.0, "text": "a_b"},
                {"op": "T", "pt": [60.0, 35.0], "align": "r", "width": 10.0, "text": "c"},
                {"op": "F", "size": 13.0, "face": "Times-Roman"},
                {"op": "c", "grad": "none", "color": "#00000080"},
                {"op": "T", "pt": [60.0, 25.0], "align": "c", "width": 10.0, "text": "d"},
            ],
        },
    ],
    "edges": [
        {
            "_gvid": 0,
            "tail": 0,
            "head": 1,
            "_draw_": [
                {"op": "c", "grad": "none", "color": "#000000"},
                {"op": "b", "points": [[31.0, 25.0], [45.0, 25.0], [55.0, 25.0], [72.0, 25.0]]},
            ],
            "_hdraw_": [
                {"op": "S", "style": "solid"},
                {"op": "c", "grad": "none", "color": "#000000"},
                {"op": "C", "grad": "none", "color": "#000000"},
                {"op": "P", "points": [[65.0, 27.0], [72.0, 25.0], [65.0, 23.0]]},
            ],
        }
    ],
}


def test_the_pure_converter_maps_each_operation() -> None:
    tex = tikz_from_json(TINY_JSON, standalone=False)
    lines = tex.splitlines()
    assert lines[0].startswith("% Made by cellgraph") and "\\documentclass" not in tex
    assert "\\begin{tikzpicture}[x=1bp, y=1bp," in tex
    defs = [ln for ln in lines if ln.startswith("\\definecolor")]
    assert defs == [
        "\\definecolor{cg000000}{HTML}{000000}",
        "\\definecolor{cg555555}{HTML}{555555}",
        "\\definecolor{cgD9AD00}{HTML}{D9AD00}",
        "\\definecolor{cgFFCC00}{HTML}{FFCC00}",
        "\\definecolor{cgFFFFFF}{HTML}{FFFFFF}",
    ]
    body = lines[lines.index("% background") :]
    assert body == [
        "% background",
        "\\path[fill=cgFFFFFF] (-7.2,-7.2) rectangle (107.2,57.2);",
        "% edge a -- b",
        "\\path[draw=cg000000, line width=1bp] (31,25) .. controls (45,25) and (55,25) .. (72,25);",
        "\\path[fill=cg000000, draw=cg000000, line width=1bp] (65,27) -- (72,25) -- (65,23) -- cycle;",
        "% node a",
        "\\path[fill=cgFFCC00, draw=cgD9AD00, line width=0.8bp, dash pattern=on 5bp off 2bp] (20,25) circle [radius=11];",
        "% node b",
        "\\path[draw=cg000000, line width=1bp] (80,25) ellipse [x radius=8, y radius=5];",
        "\\path[draw=cg000000, line width=1bp, dash pattern=on 1bp off 5bp] (70,10) -- (90,10) -- (80,20) -- cycle;",
        "\\path[draw=cg000000, line width=1bp, dash pattern=on 1bp off 5bp] (70,40) -- (90,40);",
        "\\node[anchor=base west, text=cg555555, font={\\fontsize{9bp}{10.8bp}\\selectfont\\sffamily\\bfseries}]"
        " at (60,45) {a\\_b};",
        "\\node[anchor=base east, text=cg555555, font={\\fontsize{9bp}{10.8bp}\\selectfont\\sffamily\\bfseries}]"
        " at (60,35) {c};",
        "\\node[anchor=base, text=cg000000, text opacity=0.502, font={\\fontsize{13bp}{15.6bp}\\selectfont\\rmfamily}]"
        " at (60,25) {d};",
        "\\end{tikzpicture}",
    ]
    assert "\\path[use as bounding box] (-7.2,-7.2) rectangle (107.2,57.2);" in lines
    assert tikz_from_json(TINY_JSON, standalone=False) == tex


def test_no_background_when_transparent_and_breadthfirst_order() -> None:
    graph = {**TINY_JSON, "bgcolor": "transparent", "outputorder": "breadthfirst"}
    tex = tikz_from_json(graph)
    assert "% background" not in tex and "cgFFFFFF" not in tex
    order = [ln for ln in tex.splitlines() if ln.startswith(("% node", "% edge"))]
    assert order == ["% node a", "% node b", "% edge a -- b"]  # Graphviz: a node, its out-edges' heads, the edges
    assert tex.startswith("% Made by cellgraph") and "\\documentclass[tikz]{standalone}" in tex


def test_filled_bezier_is_closed_and_gradients_fall_back() -> None:
    box = [[10.0, 0.0], [10.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]]
    graph = {
        "name": "g",
        "objects": [
            {
                "name": "n",
                "_draw_": [
                    {"op": "c", "grad": "none", "color": "black"},
                    {
                        "op": "C",
                        "grad": "linear",
                        "stops": [{"frac": 0, "color": "#0000ff"}, {"frac": 1, "color": "red"}],
                    },
                    {"op": "B", "points": box},
                    {"op": "I", "pos": [0, 0], "size": [1, 1], "name": "x.png"},
                ],
            }
        ],
        "edges": [],
    }
    tex = tikz_from_json(graph, standalone=False)
    assert "\\path[fill=cg0000FF, draw=cg000000, line width=1bp] (10,0) .. controls (10,0) and (0,0) .. (0,0)" in tex
    assert tex.count(" .. cycle;") == 1
    assert "gradient fill" in tex and "operation 'I' left out" in tex


def _compile(tmp_path: Path, tex: str, name: str) -> None:
    (tmp_path / f"{name}.tex").write_text(tex, encoding="utf-8")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [ln for ln in done.stdout.splitlines() if ln.startswith("!")]
    assert done.returncode == 0 and (tmp_path / f"{name}.pdf").exists(), errors or done.stdout[-2000:]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
def test_pdflatex_compiles_both_forms(tmp_path: Path) -> None:
    r = render(_tiny_spec(tmp_path, TITLE), view="layers")
    unet = render(ROOT / "specs/examples/unet.yaml", view="layers")
    picture = to_tikz(unet.dot, unet.engine, standalone=False)
    document = (
        "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage{tikz}\n\\begin{document}\n"
        f"\\resizebox{{\\linewidth}}{{!}}{{{picture}}}\n\n{to_tikz(r.dot, r.engine, standalone=False)}\\end{{document}}\n"
    )
    _compile(tmp_path, document, "picture")
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich and subprocess.run([kpsewhich, "standalone.cls"], capture_output=True, check=False).stdout.strip():
        cells = render(_tiny_spec(tmp_path, TITLE), theme="print")
        _compile(tmp_path, to_tikz(cells.dot, cells.engine), "standalone")
