"""``--unroll T`` (issue 13): a recurrent network unrolled in time beside its rolled drawing.

Checked on the DOT text (which copies exist, what feeds the next step, where boxes sit) and on
the SVG with the same geometry checks as the drawing corpus (no line through a box, no two
connections on top of each other, the slide aspect), for zoo networks and for specs written
outside ``specs/`` (the drawing corpus).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import svg_geometry as sg
from conftest import ZOO

from cellgraph.render import render
from cellgraph.render.output import RenderError
from cellgraph.render.unroll import MAX_STEPS

CORPUS = Path(__file__).resolve().parent / "drawing_corpus"
RECURRENT = [
    ZOO / "rnn.yaml",
    ZOO / "lstm.yaml",
    ZOO / "gru.yaml",
    ZOO / "esn.yaml",
    ZOO / "an.yaml",
    ZOO / "dnc.yaml",
    ZOO / "ntm.yaml",
    CORPUS / "elman.yaml",
    CORPUS / "jordan.yaml",
    CORPUS / "gru_stack.yaml",
    CORPUS / "seq2seq_lstm.yaml",
    CORPUS / "feedback_two_layers.yaml",
]


def _nodes(dot: str) -> dict[str, tuple[float, float]]:
    return {
        m.group(1): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r'^\s*"([^"~]+)" \[pos="([-\d.]+),([-\d.]+)", shape', dot, re.M)
    }


def _edges(dot: str) -> dict[tuple[str, str], str]:
    return {
        (m.group(1), m.group(2)): m.group(3) for m in re.finditer(r'^\s*"([^"]+)" -> "([^"]+)" \[(.*)\]$', dot, re.M)
    }


@pytest.mark.parametrize("path", RECURRENT, ids=lambda p: p.stem)
@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_unrolled_drawing_is_clean(path: Path, direction: str) -> None:
    svg = render(path, unroll=3, direction=direction).svg
    drawing = sg.parse(svg)
    assert not sg.lines_through_cells(drawing)
    assert not sg.coincident_edges(drawing)
    assert abs(sg.aspect(svg) / (16 / 9) - 1) <= 0.10


def test_elman_unrolled_hands_its_state_to_the_next_step() -> None:
    """Every group once per step; h₁ → h₂ → h₃ → h₄ straight across (one height), nothing out of
    the last step; inputs under their step's hidden state; the rolled drawing keeps its loop."""
    dot = render(CORPUS / "elman.yaml", unroll=4).dot
    nodes, edges = _nodes(dot), _edges(dot)
    steps = range(1, 5)
    assert {f"{g}@{t}" for g in "xhy" for t in steps} | {"x", "h", "y"} == set(nodes)
    assert [f"h{'₁₂₃₄'[t - 1]}" in dot for t in steps] == [True] * 4  # subscripted names
    for t in (1, 2, 3):
        assert (f"h@{t}", f"h@{t + 1}") in edges
        pos = re.search(r'pos="e,([-\d.]+),([-\d.]+) ([^"]+)"', edges[(f"h@{t}", f"h@{t + 1}")])
        assert pos
        ys = {round(float(p.split(",")[1]), 1) for p in pos.group(3).split()} | {round(float(pos.group(2)), 1)}
        assert len(ys) == 1, "the state runs straight across to the next step"
    assert not any(a.startswith("h@4") and b.startswith("h@5") for a, b in edges)
    for t in steps:  # one column per step: x_t under h_t under y_t
        (xx, xy), (hx, hy), (yx, yy) = nodes[f"x@{t}"], nodes[f"h@{t}"], nodes[f"y@{t}"]
        assert xx == hx == yx and xy < hy < yy
        assert hy == nodes["h"][1] and nodes[f"h@{t}"][0] > nodes["h"][0]  # beside the rolled h, same row
    assert "t−1" in edges[("h", "h")]


def test_jordan_unrolled_feeds_each_output_to_the_next_hidden_state() -> None:
    edges = _edges(render(CORPUS / "jordan.yaml", unroll=3).dot)
    assert {(f"y@{t}", f"h@{t + 1}") for t in (1, 2)} <= set(edges)
    assert not any((f"y@{t}", f"h@{t}") in edges for t in (1, 2, 3))
    assert 'style="dashed"' in edges[("y", "h")]  # the rolled drawing's feedback


def test_unroll_direction_tb_puts_inputs_on_top() -> None:
    nodes = _nodes(render(CORPUS / "elman.yaml", unroll=2, direction="TB").dot)
    assert nodes["x@1"][1] > nodes["h@1"][1] > nodes["y@1"][1]  # y grows upwards in Graphviz


@pytest.mark.parametrize("steps", [0, MAX_STEPS + 1, "3", True, 2.5])
def test_unroll_rejects_bad_step_counts(steps: object) -> None:
    with pytest.raises(RenderError, match=f"from 1 to {MAX_STEPS}"):
        render(CORPUS / "elman.yaml", unroll=steps)  # type: ignore[arg-type]


def test_unroll_needs_something_that_carries_over() -> None:
    with pytest.raises(RenderError, match="nothing that carries over.*without --unroll"):
        render(ZOO / "dff.yaml", unroll=3)


def test_unroll_with_the_cells_view_says_what_to_do() -> None:
    with pytest.raises(RenderError, match="leave out view='cells'"):
        render(CORPUS / "elman.yaml", unroll=3, view="cells")


def test_cli_unroll(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "elman.svg"
    result = run_cli("render", CORPUS / "elman.yaml", "--unroll", "3", "-o", out)
    assert result.code == 0, result.text
    assert 'id="node' in out.read_text(encoding="utf-8") and "h₃" in out.read_text(encoding="utf-8")
    bad = run_cli("render", ZOO / "dff.yaml", "--unroll", "3", "-o", tmp_path / "dff.svg")
    assert bad.code == 1 and "nothing that carries over" in bad.err
    assert not (tmp_path / "dff.svg").exists()
