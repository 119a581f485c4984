"""Rendering: the SVGs Graphviz makes of every zoo spec, checked against ZOO.md as structure.

The rendered SVG is parsed with ElementTree. Graphviz writes every node as
``<g class="node"><title>ID</title>...``: cells are "group:index", their markers
"group:index~mark", handlebars "group:index~bar", legend cells "~legend:TYPE"; every line is an
``<g class="edge">`` titled "a--b". Cell types are read back from fill colour + marker shape
(ZOO.md §1.1), positions from the circles' centres, and the drawing is then held against the
same ZOO.md table as the layout (test_layout.py): cells, columns, line counts, exact lines,
handlebars. Then: outlines, marker and handlebar geometry (§3.2, §3.3), legend, title,
determinism, metadata, the layers view, themes, direction, the CLI, golden DOT files and "no JAX".

Tests that run Graphviz carry ``needs_dot`` (fail under CI=true when it is missing, skip
elsewhere); DOT text, golden files and the no-JAX import check need no binary.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BAD_SPECS, EXAMPLES, ROOT, ZOO, CliRunner, run_cli_process
from test_layout import (
    ASPECTS,
    NAMES,
    REGULAR,
    ZOO_NETS,
    Drawing,
    assert_zoo,
    groups_in_order,
    zoo_layout,
    zoo_problems,
)

from cellgraph import load_spec, load_spec_text
from cellgraph.render import RenderError, render
from cellgraph.render.output import read_metadata

NS = "{http://www.w3.org/2000/svg}"
PITCH = 36.0  # points between neighbouring cells (ZOO.md §3.6's suggested slide size)

# ZOO.md §1.1, in the 2019 legend order: type -> (legend label, fill, outline, marker)
CHART: dict[str, tuple[str, str, str, str]] = {
    "input": ("Input Cell", "#FFCC00", "#D9AD00", "none"),
    "backfed_input": ("Backfed Input Cell", "#FFCC00", "#D9AD00", "ring"),
    "noisy_input": ("Noisy Input Cell", "#FFCC00", "#D9AD00", "triangle"),
    "hidden": ("Hidden Cell", "#66CC00", "#66CC00", "none"),  # green: no visible outline
    "probabilistic_hidden": ("Probablistic Hidden Cell", "#66CC00", "#66CC00", "ring"),  # (sic)
    "spiking_hidden": ("Spiking Hidden Cell", "#66CC00", "#66CC00", "triangle"),
    "capsule": ("Capsule Cell", "#66CC00", "#66CC00", "square"),
    "output": ("Output Cell", "#FF6600", "#D95600", "none"),
    "match_input_output": ("Match Input Output Cell", "#FF6600", "#D95600", "ring"),
    "recurrent": ("Recurrent Cell", "#0099FF", "#0082D9", "none"),
    "memory": ("Memory Cell", "#0099FF", "#0082D9", "ring"),
    "gated_memory": ("Gated Memory Cell", "#0099FF", "#0082D9", "triangle"),
    "kernel": ("Kernel", "#FF99FF", "#D982D9", "none"),
    "convolution": ("Convolution or Pool", "#FF99FF", "#D982D9", "ring"),
}
LEGEND_ORDER = list(CHART)
TYPE_OF = {(fill, marker): t for t, (_, fill, _, marker) in CHART.items()}

needs_dot = pytest.mark.needs_dot

# ------------------------------------------------------------------------------------ SVG reading


@dataclass(frozen=True)
class Node:
    id: str
    g: ET.Element
    order: int  # position in the document (Graphviz paints in this order)

    def shape(self) -> ET.Element | None:
        for child in self.g:
            if child.tag in (NS + "ellipse", NS + "polygon", NS + "path"):
                return child
        return None

    def text(self) -> str:
        return " ".join(t.text or "" for t in self.g.iter(NS + "text"))


@dataclass(frozen=True)
class Svg:
    root: ET.Element
    nodes: dict[str, Node]
    edges: dict[str, ET.Element]  # "a--b" -> <g class="edge">

    def cells(self) -> dict[str, Node]:
        return {i: n for i, n in self.nodes.items() if re.fullmatch(r"[^~]+:\d+", i)}


def parse_svg(svg: str) -> Svg:
    root = ET.fromstring(svg.encode("utf-8"))
    nodes: dict[str, Node] = {}
    edges: dict[str, ET.Element] = {}
    for k, g in enumerate(root.iter(NS + "g")):
        title = g.find(NS + "title")
        if title is None or title.text is None:
            continue
        if g.get("class") == "node":
            assert title.text not in nodes, f"node {title.text} twice"
            nodes[title.text] = Node(title.text, g, k)
        elif g.get("class") == "edge":
            assert title.text not in edges, f"edge {title.text} twice"
            edges[title.text] = g
    return Svg(root, nodes, edges)


def centre(el: ET.Element) -> tuple[float, float]:
    if el.tag == NS + "ellipse":
        return float(el.get("cx", "nan")), float(el.get("cy", "nan"))
    pts = polygon_points(el)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def polygon_points(el: ET.Element) -> list[tuple[float, float]]:
    """A polygon's distinct corners (Graphviz closes polygons by repeating the first point)."""
    pts = [tuple(map(float, p.split(","))) for p in (el.get("points") or "").split()]
    out: list[tuple[float, float]] = []
    for p in pts:
        if p not in out:
            out.append(p)  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def marker_kind(node: Node | None) -> str:
    if node is None:
        return "none"
    shape = node.shape()
    if shape is None:
        return "?"
    if shape.tag == NS + "ellipse":
        return "ring"
    if shape.tag == NS + "polygon":
        return {3: "triangle", 4: "square"}.get(len(polygon_points(shape)), f"{len(polygon_points(shape))}-gon")
    return "?"


def path_points(d: str) -> list[tuple[float, float]]:
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    return list(zip(nums[::2], nums[1::2], strict=False))


def visible_paths(edge: ET.Element) -> list[ET.Element]:
    return [p for p in edge.iter(NS + "path") if p.get("stroke") not in ("transparent", "none", None)]


def is_curve(points: list[tuple[float, float]]) -> bool:
    """Control points off the chord by more than a point: a curve, not a straight line."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    return max(abs((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / length for x, y in points) > 1.0


def drawing_of_svg(svg: Svg, transpose: bool = False) -> Drawing:
    """The SVG as a Drawing: types from fill + marker, positions in pitches (y down)."""
    cells = {}
    for i, node in svg.cells().items():
        shape = node.shape()
        assert shape is not None and shape.tag == NS + "ellipse", f"cell {i} is not a circle"
        fill = (shape.get("fill") or "").upper()
        marker = marker_kind(svg.nodes.get(i + "~mark"))
        t = TYPE_OF.get((fill, marker), f"?{fill}/{marker}")
        x, y = centre(shape)
        cells[i] = (t, (y / PITCH, x / PITCH) if transpose else (x / PITCH, y / PITCH))
    lines = []
    for title, edge in svg.edges.items():
        a, b = title.split("--")
        paths = visible_paths(edge)
        style = "double" if len(paths) == 2 else "arc" if is_curve(path_points(paths[0].get("d", ""))) else "line"
        if len(paths) not in (1, 2):
            style = f"{len(paths)} strokes"
        lines.append((a, b, style))
    bars = {i[: -len("~bar")] for i in svg.nodes if i.endswith("~bar") and not i.startswith("~legend")}
    return Drawing(cells, lines, bars)


@functools.cache
def zoo_svg(name: str) -> str:
    return render(ZOO / f"{name}.yaml").svg


@functools.cache
def zoo_parsed(name: str) -> Svg:
    return parse_svg(zoo_svg(name))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


# ---------------------------------------------------------------------- every zoo network, as SVG


@needs_dot
@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("name", NAMES)
def test_zoo_svg_matches_chart(name: str, aspect: str) -> None:
    """Cells per column and type (from fill + marker), line counts, exact lines, handlebars."""
    assert_zoo(name, drawing_of_svg(zoo_parsed(name)), aspect)


@needs_dot
@pytest.mark.parametrize("name", NAMES)
def test_zoo_svg_cells_per_group(name: str) -> None:
    """The SVG holds exactly the layout's cells, group by group, and nothing draws twice."""
    svg = zoo_parsed(name)
    layout = zoo_layout(name)
    assert sorted(svg.cells()) == sorted(c.id for c in layout.cells)
    assert len(svg.edges) == len(layout.lines)
    if name in REGULAR:  # group by group, in ZOO.md's column order
        counts = list(groups_in_order(sorted(svg.cells(), key=lambda i: svg.nodes[i].order)).values())
        assert counts == [n for n, _ in ZOO_NETS[name].columns]


@needs_dot
@pytest.mark.parametrize("name", NAMES)
def test_zoo_svg_fills_outlines_markers(name: str) -> None:
    """Fill = the chart colour of the type, outline = fill x 0.85 (none on green), black markers."""
    svg = zoo_parsed(name)
    types = {c.id: c.type for c in zoo_layout(name).cells}
    problems = []
    for i, node in svg.cells().items():
        _label, fill, outline, marker = CHART[types[i]]
        shape = node.shape()
        assert shape is not None
        if (shape.get("fill") or "").upper() != fill:
            problems.append(f"{i} ({types[i]}): fill {shape.get('fill')}, chart {fill}")
        if (shape.get("stroke") or "").upper() != outline:
            problems.append(f"{i} ({types[i]}): outline {shape.get('stroke')}, chart {outline}")
        mark = svg.nodes.get(i + "~mark")
        if marker_kind(mark) != marker:
            problems.append(f"{i} ({types[i]}): marker {marker_kind(mark)}, chart {marker}")
        if mark is not None:
            m = mark.shape()
            assert m is not None
            if (m.get("stroke") or "").upper() != "#000000" or m.get("fill") != "none":
                problems.append(f"{i}~mark: stroke {m.get('stroke')} fill {m.get('fill')}, chart: black, unfilled")
            if mark.order < node.order:
                problems.append(f"{i}~mark is painted before its cell (hidden under it)")
            mx, my = centre(m)
            cx, cy = centre(shape)
            if abs(mx - cx) > 0.5 or (marker != "triangle" and abs(my - cy) > 0.5):
                problems.append(f"{i}~mark is not centred on its cell")
    overlays = {i.split("~")[0] for i in svg.nodes if "~" in i and not i.startswith("~")}
    problems += [f"overlay of unknown cell {i}" for i in overlays - set(svg.cells())]
    assert not problems, "\n".join(problems)


@needs_dot
@pytest.mark.parametrize("name", NAMES)
def test_zoo_svg_lines_attach_to_cells(name: str) -> None:
    """Lines are black, undirected, drawn under the cells and join cells, never overlays."""
    svg = zoo_parsed(name)
    cells = svg.cells()
    for title, edge in svg.edges.items():
        a, b = title.split("--")
        assert a in cells and b in cells, title
        assert edge.find(NS + "polygon") is None, f"{title} has an arrowhead"
        for path in visible_paths(edge):
            assert path.get("stroke", "").upper() == "#000000", title
    first_node = min(n.order for n in svg.nodes.values())
    assert all(order < first_node for order, g in enumerate(svg.root.iter(NS + "g")) if g.get("class") == "edge"), (
        "lines must be painted before (under) the cells"
    )


@needs_dot
@pytest.mark.parametrize("name", NAMES)
def test_zoo_svg_legend_and_title(name: str) -> None:
    """The legend lists exactly the types drawn, in the chart's order, with the chart's labels."""
    svg = zoo_parsed(name)
    used = {t for t, _ in ZOO_NETS[name].cells.values()}
    legend = sorted((n for i, n in svg.nodes.items() if re.fullmatch(r"~legend:[a-z_]+", i)), key=lambda n: n.order)
    assert [n.id.split(":")[1] for n in legend] == [t for t in LEGEND_ORDER if t in used]
    for node in legend:
        t = node.id.split(":")[1]
        label, fill, outline, marker = CHART[t]
        shape = node.shape()
        assert shape is not None
        assert ((shape.get("fill") or "").upper(), (shape.get("stroke") or "").upper()) == (fill, outline), t
        assert marker_kind(svg.nodes.get(node.id + "~mark")) == marker, t
        assert svg.nodes[node.id + "~text"].text() == label
    # legend rows run top to bottom in legend order
    ys = [centre(n.shape()) for n in legend]  # type: ignore[arg-type]
    assert [y for _, y in ys] == sorted(y for _, y in ys)
    title = svg.nodes["~title"].text()
    assert title == load_spec(ZOO / f"{name}.yaml").title
    assert title.endswith(f"({name.upper()})"), "ZOO.md §3.1: titles are 'Full Name (ABBR)'"


# ---- geometry of cells, markers, handlebars and special lines (ZOO.md §1.1, §3.2, §3.3)


def _cell_and(svg: Svg, suffix: str) -> list[tuple[ET.Element, ET.Element, Node, Node]]:
    out = []
    for i, node in svg.cells().items():
        extra = svg.nodes.get(i + suffix)
        if extra is not None:
            out.append((node.shape(), extra.shape(), node, extra))
    assert out, f"no {suffix} in this drawing"
    return out  # type: ignore[return-value]


@needs_dot
def test_cell_size_and_pitch() -> None:
    """Cell diameter 0.62 p; columns one pitch apart."""
    svg = zoo_parsed("ff")
    x0 = centre(svg.nodes["x:0"].shape())  # type: ignore[arg-type]
    h0 = centre(svg.nodes["h:0"].shape())  # type: ignore[arg-type]
    assert h0[0] - x0[0] == pytest.approx(PITCH, abs=0.5)
    for node in svg.cells().values():
        shape = node.shape()
        assert shape is not None
        assert float(shape.get("rx", 0)) * 2 == pytest.approx(0.62 * PITCH, rel=0.03)
        assert shape.get("rx") == shape.get("ry")


MARKER_CASES = {  # marker -> (spec, ZOO.md geometry in cell radii)
    "ring": ("lstm", {"radius": 0.59}),  # stroke centre: ring diameter 1.18 r
    "triangle": ("dae", {"width": 1.27, "height": 1.10, "apex": 0.67, "base": 0.43}),
    "square": ("cn", {"width": 1.0, "height": 1.0}),
}


@needs_dot
@pytest.mark.parametrize("marker", sorted(MARKER_CASES))
def test_marker_geometry(marker: str) -> None:
    """ZOO.md §1.1 / §3.2: ring Ø 1.18 r; upright triangle 1.27 r x 1.10 r, apex 0.67 r above the
    centre and base 0.43 r below it; square side 1.0 r (tolerance 0.08 r)."""
    name, want = MARKER_CASES[marker]
    tol = 0.08
    checked = 0
    for cell, mark, node, _ in _cell_and(zoo_parsed(name), "~mark"):
        if mark.tag != NS + ("ellipse" if marker == "ring" else "polygon"):
            continue  # another kind of marker in the same network (the DAE's output rings)
        if marker != "ring" and len(polygon_points(mark)) != (3 if marker == "triangle" else 4):
            continue
        checked += 1
        r = float(cell.get("rx", "nan"))
        cx, cy = centre(cell)
        got: dict[str, float] = {}
        if marker == "ring":
            got["radius"] = float(mark.get("rx", "nan")) / r
        else:
            pts = polygon_points(mark)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            got["width"] = (max(xs) - min(xs)) / r
            got["height"] = (max(ys) - min(ys)) / r
            if marker == "triangle":  # SVG y grows downwards
                got["apex"] = (cy - min(ys)) / r
                got["base"] = (max(ys) - cy) / r
                assert sum(1 for y in ys if abs(y - min(ys)) < 0.01) == 1, "apex up: one corner on top"
        bad = {k: round(v, 3) for k, v in got.items() if abs(v - want[k]) > tol}
        assert not bad, f"{node.id} {marker}: got {bad} (in r), ZOO.md wants { {k: want[k] for k in bad} }"
        assert abs(centre(mark)[0] - cx) < 0.5
    assert checked > 0, f"no {marker} marker found in {name}"


@needs_dot
@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "dnc", "an"])
def test_handlebar_geometry(name: str) -> None:
    """ZOO.md §3.3: an open loop of radius 0.48 r centred 1.08 r above the cell, painted before it."""
    svg = zoo_parsed(name)
    for cell, bar, node, bar_node in _cell_and(svg, "~bar"):
        r = float(cell.get("rx", "nan"))
        cx, cy = centre(cell)
        bx, by = centre(bar)
        assert bar.tag == NS + "ellipse" and bar.get("fill") == "none", node.id
        assert (bar.get("stroke") or "").upper() == "#000000"
        assert float(bar.get("rx", "nan")) / r == pytest.approx(0.48, abs=0.05), node.id
        assert bx == pytest.approx(cx, abs=0.5)
        assert (cy - by) / r == pytest.approx(1.08, abs=0.05), node.id
        assert bar_node.order < node.order, f"{node.id}: the handlebar must be painted first (behind the cell)"


@needs_dot
def test_capsule_double_lines() -> None:
    """ZOO.md §3.3: two parallel lines ±0.18 r from the centre line, capsule to capsule only."""
    svg = zoo_parsed("cn")
    r = float(svg.nodes["p:0"].shape().get("rx", "nan"))  # type: ignore[union-attr]
    doubles = {t: e for t, e in svg.edges.items() if len(visible_paths(e)) == 2}
    capsule_groups = {"p", "q", "s"}
    assert len(doubles) == 18
    for title, edge in doubles.items():
        a, b = title.split("--")
        assert {a.split(":")[0], b.split(":")[0]} <= capsule_groups, title
        (p1, *_), (p2, *_) = (path_points(p.get("d", "")) for p in visible_paths(edge))
        ends = [path_points(p.get("d", ""))[-1] for p in visible_paths(edge)]
        # perpendicular offset between the two strokes: 2 x 0.18 r
        (ax, ay), (bx, by) = p1, ends[0]
        length = math.hypot(bx - ax, by - ay)
        gap = abs((bx - ax) * (ay - p2[1]) - (ax - p2[0]) * (by - ay)) / length
        assert gap / r == pytest.approx(0.36, abs=0.08), title


@needs_dot
def test_drn_arcs() -> None:
    """ZOO.md §3.3: arcs leave the top cells' upper rims and peak about 0.5 p above the row."""
    svg = zoo_parsed("drn")
    arcs = {t: e for t, e in svg.edges.items() if is_curve(path_points(visible_paths(e)[0].get("d", "")))}
    assert sorted(arcs) == ["h.1:0--h.3:0", "h.3:0--h.5:0", "h.5:0--h.7:0"]
    for title, edge in arcs.items():
        a, b = (centre(svg.nodes[i].shape()) for i in title.split("--"))  # type: ignore[arg-type]
        r = float(svg.nodes[title.split("--")[0]].shape().get("rx", "nan"))  # type: ignore[union-attr]
        pts = path_points(visible_paths(edge)[0].get("d", ""))
        p0, p3 = pts[0], pts[-1]
        assert math.dist(p0, a) == pytest.approx(r, abs=0.15 * r) and p0[1] < a[1] and p0[0] > a[0]
        assert math.dist(p3, b) == pytest.approx(r, abs=0.15 * r) and p3[1] < b[1] and p3[0] < b[0]
        p1, p2 = pts[1], pts[2]
        apex_y = (p0[1] + 3 * p1[1] + 3 * p2[1] + p3[1]) / 8  # the cubic at t = 1/2
        assert (a[1] - apex_y) / PITCH == pytest.approx(0.5, abs=0.1), title


# ---- the ellipsis and size label of a tall group without `show:`


@needs_dot
def test_mushroom_svg_ellipsis_and_labels() -> None:
    svg = parse_svg(render(EXAMPLES / "mushroom.yaml").svg)
    counts: dict[str, int] = {}
    for i in svg.cells():
        counts[i.rsplit(":", 1)[0]] = counts.get(i.rsplit(":", 1)[0], 0) + 1
    assert counts == {"x": 6, "h.1": 6, "h.2": 6, "y": 2}
    dots = [n for i, n in svg.nodes.items() if re.fullmatch(r"~dot\d+", i)]
    assert len(dots) == 9
    notes = sorted(n.text() for i, n in svg.nodes.items() if i.startswith("~note"))
    assert notes == ["117", "64", "64"]
    x_cells = [centre(n.shape()) for i, n in svg.cells().items() if i.startswith("x:")]  # type: ignore[arg-type]
    label = next(n for i, n in svg.nodes.items() if i.startswith("~note") and n.text() == "117")
    text = label.g.find(NS + "text")
    assert text is not None
    assert float(text.get("x", "nan")) == pytest.approx(x_cells[0][0], abs=0.5)
    assert float(text.get("y", "nan")) > max(y for _, y in x_cells)  # under the column
    assert svg.nodes["~title"].text() == "Multilayer perceptron — edible or poisonous?"


# ------------------------------------------------------------------------------- determinism


DETERMINISM_SPECS = ["lstm", "cn", "drn", "dcign"]


@needs_dot
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_same_spec_same_bytes(fmt: str) -> None:
    for name in DETERMINISM_SPECS:
        first = render(ZOO / f"{name}.yaml").to_bytes(fmt)
        second = render(ZOO / f"{name}.yaml").to_bytes(fmt)
        assert first == second, f"{name}.{fmt} differs between two renderings"
    layers = [render(ZOO / "drn.yaml", view="layers").to_bytes(fmt) for _ in range(2)]
    assert layers[0] == layers[1]


@needs_dot
def test_pdf_date_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PDF's only date is the pinned epoch, whatever the caller's SOURCE_DATE_EPOCH."""
    plain = render(ZOO / "p.yaml").to_bytes("pdf")
    assert re.findall(rb"/CreationDate\s*\(([^)]*)\)", plain) == [b"D:19700101000000Z"]
    assert b"/ModDate" not in plain
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    assert render(ZOO / "p.yaml").to_bytes("pdf") == plain
    assert os.environ["SOURCE_DATE_EPOCH"] == "1234567890"  # restored after the call
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    render(ZOO / "p.yaml").to_bytes("pdf")
    assert "SOURCE_DATE_EPOCH" not in os.environ


_HASH_SCRIPT = """
import hashlib, json, sys
from pathlib import Path
from cellgraph.render import render
out = {}
for p in sorted(Path("specs/zoo").glob("*.yaml")) + [Path("specs/examples/mushroom.yaml")]:
    out[p.stem] = hashlib.sha256(render(p).dot.encode()).hexdigest()
    out[p.stem + ".layers"] = hashlib.sha256(render(p, view="layers").dot.encode()).hexdigest()
if sys.argv[1] == "svg":
    for name in ("lstm", "cn", "an"):
        out[name + ".svg"] = hashlib.sha256(render(f"specs/zoo/{name}.yaml").svg.encode()).hexdigest()
print(json.dumps(out))
"""


def _hashes(seed: str, mode: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    proc = subprocess.run(
        [sys.executable, "-c", _HASH_SCRIPT, mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_dot_is_the_same_in_every_process() -> None:
    """Same spec -> same DOT, whatever the hash seed (no set or dict order leaks)."""
    a, b = _hashes("1", "dot"), _hashes("2", "dot")
    assert a == b
    for name in ("lstm", "drn"):
        assert a[name] == hashlib.sha256(render(ZOO / f"{name}.yaml").dot.encode()).hexdigest()


@needs_dot
def test_svg_is_the_same_in_every_process() -> None:
    a, b = _hashes("3", "svg"), _hashes("4", "svg")
    assert a == b
    assert a["lstm.svg"] == hashlib.sha256(zoo_svg("lstm").encode()).hexdigest()


# ------------------------------------------------------------------------------------- metadata


@needs_dot
@pytest.mark.parametrize("name", NAMES)
def test_svg_metadata_holds_the_spec(name: str) -> None:
    path = ZOO / f"{name}.yaml"
    svg = zoo_svg(name)
    meta = read_metadata(svg)
    assert meta is not None
    source = path.read_text(encoding="utf-8")
    assert meta["source"] == source
    assert meta["sha256"] == hashlib.sha256(source.encode("utf-8")).hexdigest()
    assert meta["name"] == name
    assert meta["version"] == importlib.metadata.version("cellgraph")
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.find(NS + "metadata") is not None, "<metadata> is a child of <svg>"


@needs_dot
def test_metadata_survives_awkward_text(tmp_path: Path) -> None:
    """Markup characters, CDATA ends, quotes and non-ASCII text round-trip; the SVG stays XML."""
    source = (ZOO / "p.yaml").read_text(encoding="utf-8")
    source = (
        source.replace("title: Perceptron (P)", 'title: "A < B & C \\"quoted\\" — ünï (P)"', 1)
        + "# <tag attr='1'> & ]]> -- &amp; ✓\n"
    )
    assert "A < B" in source
    spec = tmp_path / "awkward.yaml"
    spec.write_text(source, encoding="utf-8")
    svg = render(spec).svg
    parsed = parse_svg(svg)  # well-formed XML
    assert parsed.nodes["~title"].text() == 'A < B & C "quoted" — ünï (P)'
    meta = read_metadata(svg)
    assert meta is not None and meta["source"] == source
    assert meta["sha256"] == hashlib.sha256(source.encode("utf-8")).hexdigest()


def test_read_metadata_of_foreign_svg() -> None:
    assert read_metadata('<svg xmlns="http://www.w3.org/2000/svg"></svg>') is None


# ----------------------------------------------------------------------------------- layers view


def dot_edges(dot: str) -> dict[tuple[str, str], dict[str, str]]:
    """Directed edges of a DOT text and their attributes."""
    out = {}
    for m in re.finditer(r'^\s*"([^"]+)" -> "([^"]+)"(?: \[(.*)\])?$', dot, re.M):
        attrs = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), m.group(2))] = attrs
    return out


def dot_nodes(dot: str) -> dict[str, dict[str, str]]:
    out = {}
    for m in re.finditer(r'^\s*"([^"]+)" \[(.*)\]$', dot, re.M):
        out[m.group(1)] = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
    return out


@pytest.mark.parametrize(
    ("spec", "params", "group", "copies", "groups"),
    [
        (EXAMPLES / "mushroom.yaml", {}, "h", 2, 3),
        (EXAMPLES / "mushroom.yaml", {"depth": 5}, "h", 5, 3),
        (ZOO / "drn.yaml", {}, "h", 50, 3),
        (ZOO / "gan.yaml", {}, "gen.h", 2, 5),
        (ZOO / "dff.yaml", {}, "h", 2, 3),
    ],
    ids=["mushroom", "mushroom-depth5", "drn", "gan", "dff"],
)
def test_layers_collapse_repeats(spec: Path, params: dict, group: str, copies: int, groups: int) -> None:
    """A repeat block is one node labelled "NAME ×N"; nothing else is drawn for its copies."""
    dot = render(spec, view="layers", params=params or None).dot
    assert dot.startswith("digraph ")
    nodes = {n: a for n, a in dot_nodes(dot).items() if "~" not in n}  # not the legend, title, corners
    assert len(nodes) == groups, sorted(nodes)
    assert nodes[group]["label"].split("\\n")[0] == f"{group} ×{copies}"
    assert not any(re.search(r"\.\d+$", n) for n in nodes), "repeat copies must not appear as nodes"
    edges = dot_edges(dot)
    assert all(a in nodes and b in nodes for a, b in edges)


def _no_ports(edges: dict) -> dict:
    """Edge attributes without the route (its path and label position are geometry, not kind)."""
    return {k: {a: v for a, v in attrs.items() if a not in ("pos", "lp")} for k, attrs in edges.items()}


def test_layers_edge_kinds_differ() -> None:
    """Skip (identity), delayed and symmetric edges look different from plain dense ones."""
    drn = _no_ports(dot_edges(render(ZOO / "drn.yaml", view="layers").dot))
    dense = drn[("x", "h")]
    skip = drn[("h", "h")]
    assert dense == {}
    assert skip.get("style") == "bold" and skip.get("arrowhead") == "empty"
    esn = _no_ports(dot_edges(render(ZOO / "esn.yaml", view="layers").dot))
    delayed = esn[("y", "r")]
    assert delayed.get("style") == "dashed" and delayed.get("label") == "t−1"
    assert esn[("x", "r")] == {}
    ntm = _no_ports(dot_edges(render(ZOO / "ntm.yaml", view="layers").dot))
    assert ntm[("m", "c")].get("style") == "dashed"
    hn = _no_ports(dot_edges(render(ZOO / "hn.yaml", view="layers").dot))
    assert hn[("s", "s")].get("dir") == "none"
    rbm = _no_ports(dot_edges(render(ZOO / "rbm.yaml", view="layers").dot))
    assert all(attrs.get("dir") == "none" for attrs in rbm.values()) and rbm
    # an identity edge that is also delayed keeps both marks
    looped = load_spec_text(
        "cellgraph: 1\nname: fed_back\ncells:\n  x: {type: input, size: 3, sequence: true}\n"
        "  r: {type: recurrent, size: 3}\n  y: {type: output, size: 3}\n"
        "edges:\n  - x -> r -> y\n  - {from: y, to: r, kind: identity, delay: 1}\n",
        "fed_back.yaml",
    )
    fed_back = _no_ports(dot_edges(render(looped, view="layers").dot))
    assert fed_back[("y", "r")].get("style") == "dashed" and fed_back[("y", "r")].get("arrowhead") == "empty"
    styles = {
        "dense": frozenset(dense.items()),
        "skip": frozenset(skip.items()),
        "delayed": frozenset(delayed.items()),
        "symmetric": frozenset(hn[("s", "s")].items()),
    }
    assert len(set(styles.values())) == 4


def _svg_edge(svg: Svg, a: str, b: str) -> ET.Element:
    """The edge a -> b, whatever ports its title names (``a:e->b:w``)."""
    found = [e for t, e in svg.edges.items() if re.sub(r":[a-z]+(?=->|$)", "", t) == f"{a}->{b}"]
    assert len(found) == 1, (a, b, sorted(svg.edges))
    return found[0]


@needs_dot
def test_layers_svg_shows_edge_kinds() -> None:
    drn = parse_svg(render(ZOO / "drn.yaml", view="layers").svg)
    assert {"x", "h", "y"} <= set(drn.nodes)
    assert "h ×50" in drn.nodes["h"].text()
    dense, skip = _svg_edge(drn, "x", "h"), _svg_edge(drn, "h", "h")
    assert dense.find(NS + "polygon").get("fill") != "none"  # type: ignore[union-attr]
    assert skip.find(NS + "polygon").get("fill") == "none"  # type: ignore[union-attr]  # empty arrowhead
    esn = parse_svg(render(ZOO / "esn.yaml", view="layers").svg)
    assert _svg_edge(esn, "y", "r").find(NS + "path").get("stroke-dasharray")  # type: ignore[union-attr]
    assert not _svg_edge(esn, "x", "r").find(NS + "path").get("stroke-dasharray")  # type: ignore[union-attr]
    hn = parse_svg(render(ZOO / "hn.yaml", view="layers").svg)
    assert _svg_edge(hn, "s", "s").find(NS + "polygon") is None  # no arrowhead
    mushroom = parse_svg(render(EXAMPLES / "mushroom.yaml", view="layers").svg)
    assert "h ×2" in mushroom.nodes["h"].text()
    assert mushroom.nodes["x"].shape().get("fill").upper() == "#FFCC00"  # type: ignore[union-attr]


@needs_dot
def test_layers_svg_skip_edges_are_bold() -> None:
    """The DOT asks for `style=bold` on skip edges; the SVG must really draw them thicker."""
    drn = parse_svg(render(ZOO / "drn.yaml", view="layers").svg)
    dense, skip = _svg_edge(drn, "x", "h"), _svg_edge(drn, "h", "h")
    widths = [float(e.find(NS + "path").get("stroke-width", "1")) for e in (dense, skip)]  # type: ignore[union-attr]
    assert widths[1] > widths[0], f"skip edge stroke-width {widths[1]}, dense {widths[0]}: bold is lost"


# ---------------------------------------------------------------------------- themes, direction


THEME_SPECS = ["lstm", "cn", "dcign"]


def _luma(colour: str) -> float:
    r, g, b = hex_rgb(colour)
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255


def _background(svg: Svg) -> str:
    graph = next(g for g in svg.root.iter(NS + "g") if g.get("class") == "graph")
    polygon = graph.find(NS + "polygon")
    assert polygon is not None
    return polygon.get("fill", "")


@needs_dot
@pytest.mark.parametrize("theme", ["chart", "light", "dark", "print"])
def test_themes_render(theme: str) -> None:
    for name in THEME_SPECS:
        svg = parse_svg(render(ZOO / f"{name}.yaml", theme=theme).svg)
        cells = svg.cells()
        assert len(cells) == len(ZOO_NETS[name].cells)
        background = _background(svg)
        fills = {(n.shape().get("fill") or "").upper() for n in cells.values()}  # type: ignore[union-attr]
        marks = [svg.nodes[i + "~mark"].shape() for i in cells if i + "~mark" in svg.nodes]
        assert all((m.get("stroke") or "").upper() == "#000000" for m in marks)  # type: ignore[union-attr]
        if theme == "dark":
            assert _luma(background) < 0.2, background
            ink = {(p.get("stroke") or "").upper() for e in svg.edges.values() for p in visible_paths(e)}
            assert ink and all(_luma(c) > 0.7 for c in ink), ink
            title = svg.nodes["~title"].g.find(NS + "text")
            assert title is not None and _luma(title.get("fill", "#000000")) > 0.7
        else:
            assert _luma(background) > 0.95, background
        if theme == "print":
            assert all(len(set(hex_rgb(f))) == 1 for f in fills), f"print fills must be grey: {fills}"
        else:  # the chart's colours on every page
            assert fills <= {fill for _, fill, _, _ in CHART.values()}, fills


@needs_dot
def test_print_theme_keeps_families_apart() -> None:
    """Print greys: one grey per colour family, all different, markers still black."""
    greys: dict[str, str] = {}
    for name in ("lstm", "dcn", "cn"):
        svg = parse_svg(render(ZOO / f"{name}.yaml", theme="print").svg)
        chart = drawing_of_svg(zoo_parsed(name))
        for i, node in svg.cells().items():
            family = CHART[chart.cells[i][0]][1]
            greys.setdefault(family, (node.shape().get("fill") or "").upper())  # type: ignore[union-attr]
            assert greys[family] == (node.shape().get("fill") or "").upper()  # type: ignore[union-attr]
    assert len(greys) == 5 and len(set(greys.values())) == 5, greys


@needs_dot
@pytest.mark.parametrize("name", ["lstm", "drn", "cn", "dnc", "an"])
def test_top_to_bottom(name: str) -> None:
    """--direction TB: the same drawing turned a quarter: inputs on top, handlebars on the left."""
    svg = parse_svg(render(ZOO / f"{name}.yaml", direction="TB").svg)
    drawing = drawing_of_svg(svg, transpose=True)
    problems = {k: v for k, v in zoo_problems(name, drawing).items() if v}
    assert not problems, problems
    for cell, bar, node, _ in _cell_and(svg, "~bar") if drawing.bars else []:
        (cx, cy), (bx, by) = centre(cell), centre(bar)
        assert bx < cx and by == pytest.approx(cy, abs=0.5), node.id


# ----------------------------------------------------------------------------------------- CLI

MAGIC: dict[str, Callable[[bytes], bool]] = {
    "svg": lambda b: b.startswith(b"<?xml") and b"<svg" in b[:1000],
    "png": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "pdf": lambda b: b.startswith(b"%PDF-"),
    "dot": lambda b: b.startswith(b'graph "lstm" {'),
}


@pytest.mark.parametrize("ext", sorted(MAGIC))
def test_cli_render_formats(ext: str, run_cli: CliRunner, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if ext != "dot":
        request.getfixturevalue("needs_dot")
    out = tmp_path / f"lstm.{ext}"
    result = run_cli("render", ZOO / "lstm.yaml", "-o", out)
    assert result.code == 0, result.text
    assert MAGIC[ext](out.read_bytes()), out.read_bytes()[:40]
    assert str(out) in result.out


def test_cli_render_layers_dot(run_cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "drn.dot"
    result = run_cli("render", ZOO / "drn.yaml", "--view", "layers", "-o", out)
    assert result.code == 0, result.text
    assert out.read_text().startswith('digraph "drn" {')


def test_cli_render_bad_spec(run_cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "bad.svg"
    result = run_cli("render", BAD_SPECS / "bad_activation.yaml", "-o", out)
    assert result.code == 1
    assert re.search(r"bad_activation\.yaml:\d+:\d+: ", result.err), result.err
    assert "Traceback" not in result.text
    assert not out.exists()


def test_cli_render_unknown_extension(tmp_path: Path) -> None:
    out = tmp_path / "lstm.bmp"
    result = run_cli_process("render", ZOO / "lstm.yaml", "-o", out)
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert "lstm.bmp" in result.err and ".svg" in result.err and ".dot" in result.err, result.err
    assert not out.exists()


def test_cli_render_without_graphviz(tmp_path: Path) -> None:
    """Graphviz missing: a clear message saying what to install, exit 1, no traceback."""
    env = dict(os.environ, PATH=str(tmp_path / "nowhere"))
    out = tmp_path / "p.svg"
    proc = subprocess.run(
        [sys.executable, "-m", "cellgraph.cli", "render", str(ZOO / "p.yaml"), "-o", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Graphviz" in proc.stderr and "install" in proc.stderr, proc.stderr
    assert not out.exists()


def test_render_rejects_bad_choices() -> None:
    with pytest.raises(RenderError, match="theme"):
        render(ZOO / "p.yaml", theme="neon")
    with pytest.raises(RenderError, match="direction"):
        render(ZOO / "p.yaml", direction="RL")


# ------------------------------------------------------------------------------- golden DOT files

GOLDEN_CASES = [
    *((name, ZOO / f"{name}.yaml", "cells") for name in ("p", "lstm", "dcn", "drn", "hn", "dnc", "cn")),
    ("mushroom", EXAMPLES / "mushroom.yaml", "cells"),
    ("drn.layers", ZOO / "drn.yaml", "layers"),
    ("unet.layers", EXAMPLES / "unet.yaml", "layers"),
]


@pytest.mark.parametrize(("name", "path", "view"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_golden_dot(name: str, path: Path, view: str, assert_golden: Callable[[str, str], None]) -> None:
    """The DOT text is pinned; refresh with `pytest --update-golden` and review the diff."""
    assert_golden(f"{name}.dot", render(path, view=view).dot)


# --------------------------------------------------------------------------------------- no JAX

_NO_JAX_SCRIPT = """
import json, sys
from cellgraph.render import render
from cellgraph.cli import main
r = render("specs/zoo/lstm.yaml")
r.dot
render("specs/zoo/drn.yaml", view="layers").dot
if sys.argv[1] == "svg":
    r.svg
    r.to_bytes("png")
    assert main(["render", "specs/zoo/cn.yaml", "-q", "-o", sys.argv[2]]) == 0
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {"jax", "jaxlib", "flax", "optax"})))
"""


def _modules_after_render(mode: str, tmp_path: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _NO_JAX_SCRIPT, mode, str(tmp_path / "cn.svg")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_rendering_dot_never_imports_jax(tmp_path: Path) -> None:
    assert _modules_after_render("dot", tmp_path) == []


@needs_dot
def test_rendering_svg_never_imports_jax(tmp_path: Path) -> None:
    assert _modules_after_render("svg", tmp_path) == []
