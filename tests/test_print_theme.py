"""The print theme tells all 14 cell types apart in greyscale (issue 13).

The chart says two things about a cell: its colour is the family, its marker the variant inside
the family (ZOO.md §1.1). In print the colour becomes a grey, and a photocopy keeps greys apart
only when their luminance differs by ~10% or more, so each family gets a grey 14% from its
neighbours and, where two neighbouring greys could still merge, a dashed or dotted outline. Every
check reads the SVG Graphviz drew (fill, stroke dashes, the marker's shape), not the DOT we asked for.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from cellgraph import load_spec
from cellgraph.cells import CELLS
from cellgraph.graph import build_graph
from cellgraph.render import render
from cellgraph.render.dot import graph_header, legend_nodes
from cellgraph.render.output import run_graphviz
from cellgraph.render.theme import THEME

ZOO = Path(__file__).resolve().parent.parent / "specs" / "zoo"
NS = "{http://www.w3.org/2000/svg}"
SHADE_STEP = 0.12  # the least luminance step a copier keeps (the "survive photocopying")
MIN_MARKER_CONTRAST = 3.0  # WCAG 2.1's contrast ratio for graphics, black marker on the fill
# zoo drawings that between them use all 14 cell types
SPECS = ("dae", "rbm", "lsm", "cn", "dcn", "lstm", "gru", "rnn")


@dataclass(frozen=True)
class Look:
    """How one cell type appears on paper: what a reader can tell apart."""

    grey: int  # 0..255 (the fill is grey: r == g == b)
    dashes: str  # the outline's stroke-dasharray, "" when solid
    marker: str  # none | ring | triangle | square

    @property
    def luminance(self) -> float:
        return self.grey / 255


def _rgb(colour: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})", colour)
    assert match, f"not a #rrggbb colour: {colour!r}"
    r, g, b = (int(h, 16) for h in match.groups())
    return r, g, b


def _nodes(svg: str) -> dict[str, ET.Element]:
    """Graphviz node groups by title (the DOT node id)."""
    root = ET.fromstring(svg.encode("utf-8"))
    return {
        title.text: g
        for g in root.iter(NS + "g")
        if g.get("class") == "node" and (title := g.find(NS + "title")) is not None and title.text
    }


def _shape(node: ET.Element) -> ET.Element:
    shape = next((el for el in node if el.tag in (NS + "ellipse", NS + "polygon", NS + "path")), None)
    assert shape is not None, f"node {node.findtext(NS + 'title')} draws no shape"
    return shape


def _marker(mark: ET.Element | None) -> str:
    if mark is None:
        return "none"
    shape = _shape(mark)
    if shape.tag == NS + "ellipse":
        return "ring"
    corners = {p for p in (shape.get("points") or "").split()}  # Graphviz repeats the first corner
    return {3: "triangle", 4: "square"}.get(len(corners), f"{len(corners)}-gon")


def _look(nodes: dict[str, ET.Element], node_id: str) -> Look:
    circle = _shape(nodes[node_id])
    assert circle.tag == NS + "ellipse", f"{node_id} is not drawn as a circle"
    r, g, b = _rgb(circle.get("fill", ""))
    assert r == g == b, f"{node_id}: fill {circle.get('fill')} is not a grey"
    return Look(r, circle.get("stroke-dasharray", ""), _marker(nodes.get(node_id + "~mark")))


def _contrast_with_black(grey: int) -> float:
    """WCAG 2.1 contrast ratio of a black stroke on this grey."""
    c = grey / 255
    linear = c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return (linear + 0.05) / 0.05


@pytest.fixture(scope="module")
def legend() -> dict[str, Look]:
    """Every cell type's look, read from a print-theme legend of all 14 types drawn by Graphviz."""
    theme = THEME["print"]
    types = sorted(CELLS)
    dot = "\n".join([*graph_header("legend", theme), *legend_nodes(types, 20, 20 + 14 * 30, theme), "}"]) + "\n"
    nodes = _nodes(run_graphviz(dot, "svg", "neato").decode("utf-8"))
    return {t: _look(nodes, f"~legend:{t}") for t in types}


@pytest.mark.needs_dot
def test_legend_holds_all_14_types_in_grey(legend: dict[str, Look]) -> None:
    assert len(legend) == 14, sorted(legend)
    assert {look.marker for look in legend.values()} == {"none", "ring", "triangle", "square"}


@pytest.mark.needs_dot
def test_every_pair_of_types_differs_on_paper(legend: dict[str, Look]) -> None:
    """Two types differ in grey by a copier-proof step, in marker or in outline dashes."""
    same = [
        (a, b)
        for (a, x), (b, y) in itertools.combinations(sorted(legend.items()), 2)
        if abs(x.luminance - y.luminance) < SHADE_STEP and x.marker == y.marker and x.dashes == y.dashes
    ]
    assert not same, f"print theme: these types look alike: {same}; {legend}"


@pytest.mark.needs_dot
def test_types_with_one_marker_have_two_cues(legend: dict[str, Look]) -> None:
    """Where only the shade separates two types (same marker), a second cue backs it up.

    Either the greys are two copier steps apart, or the outlines differ as well: a copier that
    merges neighbouring greys (or bleaches the lightest to white) still leaves the dashes.
    """
    weak = [
        (a, b, round(abs(x.luminance - y.luminance), 3))
        for (a, x), (b, y) in itertools.combinations(sorted(legend.items()), 2)
        if x.marker == y.marker
        and abs(x.luminance - y.luminance) < 2 * SHADE_STEP
        and (x.dashes == y.dashes or abs(x.luminance - y.luminance) < SHADE_STEP)
    ]
    assert not weak, f"print theme: only one weak cue separates {weak}"


@pytest.mark.needs_dot
def test_black_markers_stay_legible(legend: dict[str, Look]) -> None:
    dim = {t: round(_contrast_with_black(look.grey), 2) for t, look in legend.items() if look.marker != "none"}
    assert all(c >= MIN_MARKER_CONTRAST for c in dim.values()), f"marker contrast under 3:1: {dim}"


@pytest.mark.needs_dot
def test_network_cells_look_like_their_legend_entry(legend: dict[str, Look]) -> None:
    """The drawn cells use exactly the legend's look, and the chosen specs cover all 14 types."""
    seen: set[str] = set()
    for name in SPECS:
        path = ZOO / f"{name}.yaml"
        graph = build_graph(load_spec(path))
        nodes = _nodes(render(path, theme="print").svg)
        cells = [i for i in nodes if re.fullmatch(r"[^~]+:\d+", i)]
        assert cells, f"{name}: no cells in the SVG"
        for cell in cells:
            cell_type = graph.nodes[cell.rsplit(":", 1)[0]]["type"]
            assert _look(nodes, cell) == legend[cell_type], f"{name} {cell} ({cell_type})"
            seen.add(cell_type)
    assert seen == set(CELLS), f"untested types: {set(CELLS) - seen}"


@pytest.mark.needs_dot
def test_layers_view_breaks_the_same_outlines() -> None:
    """Boxes of the layers view carry their family's dashes too (the label names the type anyway)."""
    svg = render(ZOO / "lstm.yaml", theme="print", view="layers").svg
    boxes = {i: _shape(g) for i, g in _nodes(svg).items() if "~" not in i}  # not the legend or title
    graph = build_graph(load_spec(ZOO / "lstm.yaml"))
    for group, box in boxes.items():
        family = CELLS[graph.nodes[group]["type"]].family
        assert bool(box.get("stroke-dasharray")) == (family == "recurrent"), (group, box.attrib)


def test_colour_themes_keep_solid_outlines() -> None:
    """Only print changes outlines: the chart's DOT (and the golden files) carry no dash style."""
    for name, theme in THEME.items():
        styles = {theme.outline_style(t) for t in CELLS}
        expected = {"", "dashed", "dotted"} if name == "print" else {""}
        assert styles == expected, (name, styles)
