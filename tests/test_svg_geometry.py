"""The geometric checker (tests/svg_geometry.py) on hand-written SVGs and on real renders.

The checker is the instrument issue 13's layout work is measured with, so it is tested both ways:
it must find what is wrong (a line through a cell, two lines on top of each other) and must not
flag what a reader sees as clean (lines meeting at a shared cell, ordinary crossings, the zoo).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import svg_geometry as sg

from cellgraph.render import render

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "specs" / "zoo"


def svg(nodes: str, edges: str, *, width: float = 400, height: float = 200, transform: str = "") -> str:
    """A minimal Graphviz-like SVG: the root graph group, then the given node and edge groups."""
    transform = transform or f"scale(1 1) rotate(0) translate(4 {height - 4})"
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg width="{width}pt" height="{height}pt" viewBox="0.00 0.00 {width} {height}"
 xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
<g id="graph0" class="graph" transform="{transform}">
<title>t</title>
{edges}
{nodes}
</g>
</svg>"""


def circle(node_id: str, x: float, y: float, r: float = 11) -> str:
    return f'<g class="node"><title>{node_id}</title><ellipse cx="{x}" cy="{y}" rx="{r}" ry="{r}"/></g>'


def box(node_id: str, x0: float, y0: float, x1: float, y1: float) -> str:
    pts = f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1} {x0},{y0}"
    return f'<g class="node"><title>{node_id}</title><polygon points="{pts}"/><text>{node_id}</text></g>'


def edge(a: str, b: str, d: str, op: str = "--") -> str:
    title = f"{a}&#45;&#45;{b}" if op == "--" else f"{a}&#45;&gt;{b}"
    return f'<g class="edge"><title>{title}</title><path fill="none" d="{d}"/></g>'


ROW = circle("a:0", 20, -50) + circle("b:0", 80, -50) + circle("c:0", 140, -50)


# ----------------------------------------------------------------------------- parsing


def test_parse_reads_nodes_edges_and_applies_the_root_transform() -> None:
    d = sg.parse(svg(ROW, edge("a:0", "b:0", "M31,-50C45,-50 55,-50 69,-50"), transform="scale(2 2) translate(4 100)"))
    assert set(d.nodes) == {"a:0", "b:0", "c:0"}
    a = d.nodes["a:0"]
    assert (a.x, a.y, a.rx, a.shape) == (48.0, 100.0, 22.0, "ellipse")  # 2 * (20 + 4), 2 * (-50 + 100)
    (e,) = d.edges
    assert (e.tail, e.head) == ("a:0", "b:0")
    (pl,) = e.polylines
    assert len(pl) == 1 + sg.BEZIER_SAMPLES
    np.testing.assert_allclose(pl[0], [70.0, 100.0])
    np.testing.assert_allclose(pl[-1], [146.0, 100.0])


def test_parse_box_nodes_and_digraph_titles() -> None:
    nodes = box("enc.h", 0, -60, 80, -20) + box("y", 120, -60, 200, -20)
    d = sg.parse(svg(nodes, edge("enc.h", "y", "M80,-40C95,-40 105,-40 120,-40", op="->")))
    h = d.nodes["enc.h"]
    assert (h.shape, h.x, h.rx, h.ry) == ("box", 44.0, 40.0, 20.0)
    assert (d.edges[0].tail, d.edges[0].head) == ("enc.h", "y")


def test_edge_titles_split_where_both_halves_are_nodes() -> None:
    """Group names may hold '-': 'a-b:0--c:0' splits after 'a-b:0', not after 'a'."""
    nodes = circle("a-b:0", 20, -50) + circle("c:0", 80, -50)
    d = sg.parse(svg(nodes, edge("a-b:0", "c:0", "M31,-50L69,-50")))
    assert (d.edges[0].tail, d.edges[0].head) == ("a-b:0", "c:0")


def test_path_polylines_handles_relative_and_line_commands() -> None:
    (pl,) = sg.path_polylines("M0,0 l10,0 h5 v5 L0,5 Z")
    np.testing.assert_allclose(pl, [[0, 0], [10, 0], [15, 0], [15, 5], [0, 5], [0, 0]])
    assert len(sg.path_polylines("M0,0 C1,1 2,2 3,3 M10,10 L20,20")) == 2


def test_groups_drawn_and_aspect() -> None:
    nodes = circle("enc.h:0", 0, 0) + circle("h.3:1", 40, 0) + circle("h.3:1~bar", 40, -12, 5) + circle("~title", 0, 0)
    d = sg.parse(svg(nodes, "", width=320, height=180))
    assert sg.groups_drawn(d, "cells") == {"enc.h", "h.3"}
    assert sg.group_visible("h", {"h.3"}) and sg.group_visible("enc", {"enc.h"})
    assert not sg.group_visible("h", {"hh"})
    assert sg.aspect(svg(nodes, "", width=320, height=180)) == pytest.approx(16 / 9)
    layers = sg.parse(svg(box("enc.p1", 0, 0, 40, 20) + box("y", 60, 0, 100, 20), ""))
    assert sg.groups_drawn(layers, "layers") == {"enc.p1", "y"}


# ----------------------------------------------------------------------------- lines through cells


def test_finds_a_line_through_the_middle_cell() -> None:
    d = sg.parse(svg(ROW, edge("a:0", "c:0", "M31,-50C60,-50 100,-50 129,-50")))
    (msg,) = sg.lines_through_cells(d)
    assert "a:0--c:0" in msg and "cell b:0" in msg
    assert sg.through_pairs(d) == {("a:0--c:0", "b:0")}


def test_a_line_arcing_around_the_cell_or_grazing_its_rim_passes() -> None:
    arc = edge("a:0", "c:0", "M28,-58C50,-100 110,-100 132,-58")
    graze = edge("a:0", "c:0", "M31,-40.5L129,-40.5")  # 9.5 pt from b's centre: beyond 0.85 x 11
    assert sg.lines_through_cells(sg.parse(svg(ROW, arc))) == []
    assert sg.lines_through_cells(sg.parse(svg(ROW, graze))) == []


def test_lines_between_neighbours_and_decorations_are_not_violations() -> None:
    nodes = ROW + circle("b:0~mark", 80, -50, 4) + circle("b:0~bar", 80, -62, 5)
    edges = edge("a:0", "b:0", "M31,-50L69,-50") + edge("b:0", "c:0", "M91,-50L129,-50")
    through = edge("a:0", "c:0", "M25,-40C60,-72 100,-72 135,-40")  # crosses b's handlebar only
    assert sg.lines_through_cells(sg.parse(svg(nodes, edges))) == []
    assert sg.lines_through_cells(sg.parse(svg(nodes, through))) == []


def test_boxes_shrunk_by_two_points() -> None:
    nodes = box("a", 0, -60, 40, -40) + box("b", 60, -60, 100, -40) + box("c", 120, -60, 160, -40)
    through = edge("a", "c", "M40,-50L120,-50", op="->")
    grazing = edge("a", "c", "M40,-59L120,-59", op="->")  # 1 pt inside b's border: allowed
    assert sg.through_pairs(sg.parse(svg(nodes, through))) == {("a->c", "b")}
    assert sg.lines_through_cells(sg.parse(svg(nodes, grazing))) == []


def test_a_trapezoid_is_its_outline_not_its_bounding_box() -> None:
    """The layers view's pooling glyph: a line past its short side's empty corner does not enter it."""
    trapezoid = '<g class="node"><title>p</title><polygon points="60,-80 100,-65 100,-35 60,-20 60,-80"/></g>'
    nodes = box("a", 0, -60, 40, -40) + trapezoid + box("c", 120, -60, 160, -40)
    corner = edge("a", "c", "M70,-100L110,-60", op="->")  # cuts the bounding box above the short side
    middle = edge("a", "c", "M40,-50L120,-50", op="->")
    assert sg.lines_through_cells(sg.parse(svg(nodes, corner))) == []
    assert sg.through_pairs(sg.parse(svg(nodes, middle))) == {("a->c", "p")}


# ----------------------------------------------------------------------------- coincident lines


def test_finds_two_coincident_lines() -> None:
    nodes = circle("a:0", 20, -50) + circle("b:0", 200, -50) + circle("c:0", 20, -150) + circle("d:0", 200, -150)
    edges = edge("a:0", "b:0", "M31,-50C60,-50 170,-50 189,-50")
    edges += edge("c:0", "d:0", "M28,-142L60,-50.5L150,-50.5L192,-142")  # runs along a--b in the middle
    d = sg.parse(svg(nodes, edges))
    (msg,) = sg.coincident_edges(d)
    assert "a:0--b:0" in msg and "c:0--d:0" in msg


def test_lines_fanning_out_of_one_cell_or_crossing_are_not_coincident() -> None:
    nodes = circle("a:0", 20, -100) + circle("b:0", 200, -80) + circle("b:1", 200, -120)
    nodes += circle("c:0", 20, -60) + circle("c:1", 20, -140)
    edges = edge("a:0", "b:0", "M31,-99L189,-81") + edge("a:0", "b:1", "M31,-101L189,-119")
    edges += edge("c:0", "b:1", "M30,-65L190,-115") + edge("c:1", "b:0", "M30,-135L190,-85")  # an X
    assert sg.coincident_edges(sg.parse(svg(nodes, edges))) == []


def test_same_endpoints_drawn_twice_coincide_unless_excluded() -> None:
    """A feedback y ~> h drawn straight over h -> y hides one of them (issue 13's Elman example)."""
    nodes = circle("h:0", 20, -50) + circle("y:0", 120, -50)
    edges = edge("h:0", "y:0", "M31,-50L109,-50") + edge("y:0", "h:0", "M109,-50L31,-50")
    d = sg.parse(svg(nodes, edges))
    assert sg.coincident_pairs(d) == {("h:0--y:0", "y:0--h:0")}
    assert sg.coincident_edges(d, same_pair=False) == []
    arc = edge("h:0", "y:0", "M31,-50L109,-50") + edge("y:0", "h:0", "M112,-58C95,-90 55,-90 28,-58")
    assert sg.coincident_edges(sg.parse(svg(nodes, arc))) == []


# ----------------------------------------------------------------------------- real renders

# Zoo drawings that reproduce the chart's own overlaps (checked by eye against the chart and the
# PNGs): lines that graze a neighbouring cell past 0.85 of its radius (ELM/ESN/LSM reservoir
# inputs, DNC's read/write heads to the end memory cells, NTM's controller column to memory) and
# the Kohonen grid, where the chart draws every input-to-map line straight through the map cells
# in front. These are the chart's pictures, fixed by golden files, so they are exempt with exactly
# these violations: anything new in them still fails.
ZOO_KNOWN_THROUGH: dict[str, set[tuple[str, str]]] = {
    "dnc": {("r:0--m:6", "m:5"), ("w:0--m:0", "m:1")},
    "elm": {("x:2--r:10", "r:6"), ("x:2--r:11", "r:7")},
    "esn": {("x:2--r:10", "r:6"), ("x:2--r:11", "r:7")},
    "lsm": {("x:2--r:10", "r:6"), ("x:2--r:11", "r:7")},
    "ntm": {("c:0--m:0", "c:1"), ("c:0--m:1", "c:1"), ("c:1--m:0", "c:2"), ("c:1--m:1", "c:2")},
    "kn": {
        ("x:0--m:1", "m:0"),
        ("x:0--m:2", "m:1"),
        ("x:0--m:4", "m:3"),
        ("x:0--m:5", "m:4"),
        ("x:0--m:7", "m:3"),
        ("x:0--m:8", "m:3"),
        ("x:1--m:1", "m:3"),
        ("x:1--m:2", "m:3"),
        ("x:1--m:4", "m:3"),
        ("x:1--m:5", "m:4"),
        ("x:1--m:7", "m:6"),
        ("x:1--m:8", "m:7"),
    },
}
ZOO_KNOWN_COINCIDENT: dict[str, set[tuple[str, str]]] = {
    "kn": {("x:0--m:3", "x:0--m:8"), ("x:1--m:2", "x:1--m:3")},  # the grid's lines through m:3 and m:4
}


@pytest.mark.parametrize("name", sorted(p.stem for p in ZOO.glob("*.yaml")))
def test_zoo_cells_view_is_clean_except_the_charts_own_overlaps(name: str) -> None:
    d = sg.parse(render(ZOO / f"{name}.yaml", view="cells").svg)
    assert sg.through_pairs(d) <= ZOO_KNOWN_THROUGH.get(name, set()), sg.lines_through_cells(d)
    assert sg.coincident_pairs(d) <= ZOO_KNOWN_COINCIDENT.get(name, set()), sg.coincident_edges(d)


def test_clean_zoo_drawings_parse_completely() -> None:
    """ff and dff: every cell and every line is read, and nothing is flagged."""
    for name, groups in (("ff", {"x", "h", "y"}), ("dff", {"x", "h.1", "h.2", "y"})):
        d = sg.parse(render(ZOO / f"{name}.yaml", view="cells").svg)
        assert sg.groups_drawn(d, "cells") == groups
        assert d.edges and all(e.tail in d.nodes and e.head in d.nodes for e in d.edges)
        assert sg.lines_through_cells(d) == [] and sg.coincident_edges(d) == []


def test_the_checker_finds_the_kohonen_grids_real_overlaps() -> None:
    """On a real render too: the KN chart's straight input lines cross the map cells in front."""
    d = sg.parse(render(ZOO / "kn.yaml", view="cells").svg)
    assert ("x:0--m:5", "m:4") in sg.through_pairs(d)
    assert sg.coincident_pairs(d)


def test_layers_view_parses_boxes_and_arrows() -> None:
    d = sg.parse(render(ZOO / "dff.yaml", view="layers").svg)
    assert all(n.shape == "box" for n in d.cells)
    assert all(e.tail in d.nodes and e.head in d.nodes for e in d.edges)
    assert {"x", "y"} <= sg.groups_drawn(d, "layers")


def test_checks_are_fast_on_a_dense_drawing() -> None:
    """A complete graph of 30 cells, 435 long straight lines: both checks well under a second."""
    n = 30
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xy = np.column_stack([300 + 250 * np.cos(angles), -300 + 250 * np.sin(angles)])
    nodes = "".join(circle(f"s:{k}", x, y) for k, (x, y) in enumerate(xy))
    edges = "".join(
        edge(f"s:{i}", f"s:{j}", f"M{xy[i][0]},{xy[i][1]}L{xy[j][0]},{xy[j][1]}")
        for i in range(n)
        for j in range(i + 1, n)
    )
    d = sg.parse(svg(nodes, edges, width=600, height=600))
    assert len(d.edges) == n * (n - 1) // 2
    t = time.perf_counter()
    sg.lines_through_cells(d)
    sg.coincident_edges(d)
    assert time.perf_counter() - t < 1.0
