"""Automatic drawing of networks nobody placed by hand (issue 13): lanes, arcs, rings, labels, the
folded layers view, and the zoo's drawings pinned as they were before any of it.

The geometric guarantees (no line through a cell, no two connections on top of each other) are
checked on the SVG of a corpus of specs in ``test_drawing_corpus.py``; this file checks the
structure behind them and the options.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from conftest import EXAMPLES, ZOO, zoo_files

from cellgraph import build_graph, load_spec
from cellgraph.render import render
from cellgraph.render.lanes import CLEAR, R, layering, ring_radius
from cellgraph.render.layout import Layout, layout_cells
from cellgraph.render.output import RenderError

CORPUS = Path(__file__).parent / "drawing_corpus"
GOLDEN_ZOO = Path(__file__).parent / "golden" / "zoo"


@pytest.mark.parametrize("path", zoo_files(), ids=lambda p: p.stem)
def test_zoo_cells_view_is_unchanged(path: Path) -> None:
    """Every zoo drawing is byte for byte what it was before automatic layout existed."""
    assert render(path).dot == (GOLDEN_ZOO / f"{path.stem}.dot").read_text(encoding="utf-8")


def _layout(path: Path) -> Layout:
    return layout_cells(build_graph(load_spec(path)))


def test_two_heads_sit_side_by_side_in_one_layer() -> None:
    """Both heads of a trunk share the last layer, stacked with an empty row between them."""
    layout = _layout(EXAMPLES / "two_heads.yaml")
    xs = {c.group: c.x for c in layout.cells}
    assert xs["cls"] == xs["reg"] > xs["trunk"] > xs["x"]
    cls_bottom = max(c.y for c in layout.cells if c.group == "cls")
    reg_top = min(c.y for c in layout.cells if c.group == "reg")
    assert reg_top - cls_bottom >= 2.0
    assert {n.text for n in layout.notes} >= {"cls", "reg", "trunk"}  # names where the graph branches


def test_a_long_connection_is_one_arc_over_the_columns_it_passes() -> None:
    layout = _layout(EXAMPLES / "wide_deep.yaml")
    arcs = [line for line in layout.lines if line.style == "route"]
    assert len(arcs) == 1 and {arcs[0].a.split(":")[0], arcs[0].b.split(":")[0]} == {"wide", "y"}
    top_passed = min(c.y for c in layout.cells if c.group not in ("wide",))
    assert min(y for _, y in arcs[0].path) < top_passed - R  # over everything between its ends
    assert not any(line.style == "line" and {line.a[:4], line.b[:1]} == {"wide", "y"} for line in layout.lines)


def test_feedback_is_a_dashed_back_arc_not_a_line_on_the_forward_ones() -> None:
    layout = _layout(CORPUS / "jordan.yaml")
    back = [line for line in layout.lines if line.style == "back"]
    assert len(back) == 1 and {back[0].a.split(":")[0], back[0].b.split(":")[0]} == {"h", "y"}
    bottom = max(c.y for c in layout.cells)
    assert max(y for _, y in back[0].path) > bottom  # routed under the drawing
    svg = render(CORPUS / "jordan.yaml").svg
    assert svg.count('stroke-dasharray="5,2"') == 1


@pytest.mark.parametrize("n", [5, 8, 12, 16, 20])
def test_a_complete_graph_is_a_ring_with_clear_chords(n: int) -> None:
    layout = _layout(CORPUS / f"complete_{n}.yaml")
    cells = [c for c in layout.cells if c.group == "s"]
    assert len(cells) == n  # a ring shows every cell up to 20
    cx, cy = sum(c.x for c in cells) / n, sum(c.y for c in cells) / n
    radii = [math.hypot(c.x - cx, c.y - cy) for c in cells]
    assert max(radii) - min(radii) < 1e-6 and min(radii) == pytest.approx(ring_radius(n))
    chords = [line for line in layout.lines if line.a.startswith("s:") and line.b.startswith("s:")]
    assert len(chords) == n * (n - 1) // 2
    # the chord between a cell's two neighbours passes it at r (1 - cos 2π/n): clear of the cell
    assert ring_radius(n) * (1 - math.cos(2 * math.pi / n)) >= CLEAR or n < 4


def test_a_deep_repeat_collapses_and_says_so() -> None:
    layout = _layout(CORPUS / "deep_repeat.yaml")
    groups = {c.group for c in layout.cells}
    assert groups == {"x", "h.1", "h.2", "h.3", "y"}
    assert "×18" in {n.text for n in layout.notes}


def test_labels_and_shapes_under_columns() -> None:
    layout = layout_cells(build_graph(load_spec(EXAMPLES / "unet.yaml")))
    assert "16×16×8" in {n.text for n in layout.notes}  # H×W×C, not 2,048
    dot = render(EXAMPLES / "two_heads.yaml", labels="name,params").dot
    assert '"cls"' in dot and "99 params" in dot
    assert "~note" not in render(EXAMPLES / "two_heads.yaml", labels="none").dot


@pytest.mark.parametrize("bad", ["name,colour", ""])
def test_bad_labels_are_refused_by_name(bad: str) -> None:
    with pytest.raises(RenderError, match="labels"):
        render(EXAMPLES / "two_heads.yaml", labels=bad)


@pytest.mark.parametrize(("aspect", "value"), [("16:9", 16 / 9), ("4:3", 4 / 3), ("1", 1.0), (2.5, 2.5)])
def test_layers_view_folds_to_the_aspect(aspect: str | float, value: float) -> None:
    svg = render(ZOO / "dcign.yaml", view="layers", aspect=aspect).svg
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert m
    assert float(m.group(1)) / float(m.group(2)) == pytest.approx(value, rel=0.03)


@pytest.mark.parametrize("bad", ["16:0", "wide", "10", "1:9"])
def test_bad_aspects_are_refused(bad: str) -> None:
    with pytest.raises(RenderError, match="aspect"):
        render(ZOO / "dcign.yaml", view="layers", aspect=bad)


def test_layers_view_glyphs_loops_and_bypass() -> None:
    unet = render(EXAMPLES / "unet.yaml", view="layers").dot
    assert re.search(r'"p1" \[[^]]*shape="trapezium"[^]]*orientation="270"', unet)  # pooling narrows
    assert re.search(r'"u1" \[[^]]*shape="trapezium"[^]]*orientation="90"', unet)  # up-sampling widens
    assert re.search(r'"e1" \[[^]]*shape="box3d"', unet)
    assert "max pool 2×2" in unet and "16×16×8" in unet
    lstm = render(ZOO / "lstm.yaml", view="layers").dot
    assert re.search(r'"m1" -> "m1" \[[^]]*t−1', lstm)  # the recurrent loop
    drn = render(ZOO / "drn.yaml", view="layers").dot
    assert re.search(r'"h" -> "h" \[pos="[^"]*", style="bold"[^]]*arrowhead="empty"', drn)  # a bypass, not a loop
    assert "~legend:hidden" in drn


def test_layering_breaks_cycles_against_the_declaration_order() -> None:
    layer, back = layering(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    assert back == {("c", "a")} and layer == {"a": 0, "b": 1, "c": 2}


def test_tikz_output(tmp_path: Path) -> None:
    out = render(EXAMPLES / "two_heads.yaml").save(tmp_path / "two_heads.tex")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("% Made by cellgraph") and "\\begin{tikzpicture}" in text
    slide = render(EXAMPLES / "two_heads.yaml", view="layers").tikz(standalone=False)
    assert "\\documentclass" not in slide and "\\begin{tikzpicture}" in slide


@pytest.mark.parametrize("path", zoo_files(), ids=lambda p: p.stem)
def test_every_zoo_network_draws_in_the_layers_view(path: Path) -> None:
    """Including AN, DNC and NTM, whose several edges between two boxes once aborted Graphviz's router."""
    svg = render(path, view="layers").svg
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert m and float(m.group(1)) / float(m.group(2)) == pytest.approx(16 / 9, rel=0.03)


# ---------------------------------------------------------------------------------- layers routes


def _routes(path: Path, **options: object) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """The layers view's edge paths (Bézier control points, page coordinates) from its DOT."""
    out = {}
    for m in re.finditer(
        r'^\s*"([^"]+)" -> "([^"]+)" \[pos="(?:e,[-\d.]+,[-\d.]+ )?([^"]+)"',
        render(path, view="layers", **options).dot,
        re.M,
    ):  # type: ignore[arg-type]
        out[(m.group(1), m.group(2))] = [tuple(map(float, p.split(","))) for p in m.group(3).split()]
    return out


def test_layers_routes_are_orthogonal_splines_with_rounded_corners() -> None:
    """Every route is one Bézier (3n + 1 points) whose straight pieces are level or upright."""
    for (a, b), points in _routes(CORPUS / "dense_skips.yaml").items():
        assert (len(points) - 1) % 3 == 0, (a, b)
        ends = points[::3]
        for p, q in zip(ends, ends[1:], strict=False):
            dx, dy = abs(p[0] - q[0]), abs(p[1] - q[1])
            straight = min(dx, dy) < 0.02
            corner = math.isclose(dx, dy, abs_tol=0.05) and dx <= 5.01  # a rounded corner, radius at most 5 pt
            assert straight or corner, (a, b, p, q)


def test_layers_chain_runs_straight_and_folds_evenly() -> None:
    """A chain of single boxes is one straight line per row, and twelve layers fold into rows of
    (nearly) equal length, not a long row and a stub."""

    def bends(path: Path) -> list[tuple[str, str]]:
        return [
            (a, b) for (a, b), points in _routes(path).items() if a != b and len({round(y, 2) for _, y in points}) > 1
        ]

    assert bends(ZOO / "drn.yaml") == []
    dot = render(CORPUS / "long_chain.yaml", view="layers").dot
    ys = [float(m.group(1)) for m in re.finditer(r'^\s*"(?:x|h\d+|y)" \[pos="[-\d.]+,([-\d.]+)"', dot, re.M)]
    assert len(bends(CORPUS / "long_chain.yaml")) == len(set(ys)) - 1  # only the wraps to the next row
    per_row = sorted(ys.count(y) for y in set(ys))
    assert len(per_row) > 1 and per_row[-1] - per_row[0] <= 1, per_row


def test_layers_wrap_and_back_edges_use_the_channels() -> None:
    """A back edge (Jordan's y ~> h) runs under its row, dashed, labelled; a skip over the
    boxes between (inception's b1 -> m) never crosses the row's band."""
    jordan = render(CORPUS / "jordan.yaml", view="layers").dot
    edge = re.search(r'"y" -> "h" \[([^]]*)\]', jordan)
    assert edge and 'style="dashed"' in edge.group(1) and "t−1" in edge.group(1)
    boxes = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^\s*"(\w+)" \[pos="[-\d.]+,([-\d.]+)", shape', jordan, re.M)
    }
    below = min(y for _, y in _routes(CORPUS / "jordan.yaml")[("y", "h")])
    assert below < min(boxes.values()) - 20, "the back edge must pass under every box"
