"""Where every cell and line of the cells view goes: pure geometry, no Graphviz.

Positions are in lattice pitches (x right, y down), the frame of ZOO.md Appendix A. Groups
with explicit ``cells:`` positions sit where they say; the others become columns, one pitch
apart, centred on one midline (a column whose count has the other parity lands on half-pitch
rows, as in the chart). Lines follow the chart's rules (§2.0, §3.3): full bipartite for dense
connections, local windows for kernels and convolutions, complete graphs inside symmetric
groups, one-to-one for skips between neighbours and arcs over the top row otherwise, double
lines between capsules, chains and handlebars in recurrent layers; ``draw.lines`` replaces the
automatic lines between the groups it names.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import networkx as nx

from ..cells import CELLS
from ..cells.features import feature_words
from ..cells.recurrent import STATE_PORT
from ..graph.drawspec import DrawSettings, drawn_groups, is_ring
from . import lanes
from .theme import LABEL_SIZE, PITCH, text_width


@dataclass(frozen=True)
class DrawnCell:
    """One circle of the drawing."""

    id: str  # stable DOT id: "group:index"
    group: str
    index: int
    type: str
    x: float
    y: float
    handlebar: bool = False


@dataclass(frozen=True)
class Line:
    """A connection between two drawn cells: a straight line, a double line, or an arc.

    ``arc`` is the chart's skip arc over the top row (its curve follows from its ends);
    ``route`` (a long connection) and ``back`` (a delayed or feedback one, drawn dashed) follow
    ``path``, the control points of a cubic Bézier spline in pitches, from cell a to cell b.
    """

    a: str
    b: str
    style: str = "line"  # "line" | "double" | "arc" | "route" | "back"
    path: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Note:
    """Text placed in the drawing (a size label under a shortened column)."""

    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Layout:
    """Everything the cells view draws, in pitches."""

    cells: tuple[DrawnCell, ...]
    lines: tuple[Line, ...]
    dots: tuple[tuple[float, float], ...] = ()  # ellipsis dots of shortened columns
    notes: tuple[Note, ...] = ()
    types: tuple[str, ...] = ()  # cell types drawn, for the legend
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # min x, min y, max x, max y
    meta: dict[str, Any] = field(default_factory=dict)


def _real_count(graph: nx.DiGraph, node: str) -> int:
    d = graph.nodes[node]
    return int(d["cell"].cells_drawn(d.get("shape")))


def size_text(shape: tuple[int, ...] | None) -> str:
    """A group's size as a label: ``117`` for a vector, ``16×16×8`` for an image (H×W×C)."""
    if not shape:
        return "?"
    return f"{shape[0]:,}" if len(shape) == 1 else "×".join(str(s) for s in shape)


def _handlebars(graph: nx.DiGraph, node: str, group: dict[str, Any]) -> bool:
    """Recurrent-family layers and groups fed back into themselves (``h ~> h``) show their
    self-loops; external memories and opt-outs don't."""
    if group.get("handlebars") is not None:
        return bool(group["handlebars"])
    d = graph.nodes[node]
    if d["cell"].recurrent:
        return d["options"].get("slots") is None
    return bool(graph.has_edge(node, node) and graph.edges[node, node]["delay"])


AUTO_LIMIT: Final = 6
"""A repeat of more copies than this, without `columns:`, is collapsed when drawn."""
AUTO_COLUMNS: Final = 3
"""Columns a collapsed repeat draws: the first copies, the last of them standing for the rest."""

_COPY: Final = re.compile(r"^(.+)\.(\d+)$")


def _collapse(graph: nx.DiGraph, settings: DrawSettings) -> tuple[dict[str, str], dict[str, int]]:
    """Map every node to the node that draws it, and count the copies each drawn node stands for.

    A repeated group with `columns: k` draws its first k copies, copy k standing for the rest;
    without the hint, a repeat (or a repeated `use:` chain) of more than :data:`AUTO_LIMIT`
    copies draws :data:`AUTO_COLUMNS`, so a 50-layer stack does not become 50 columns.
    """
    chains: dict[str, int] = {}  # base of a repeated use: chain -> copies
    for _, d in graph.nodes(data=True):
        m = _COPY.match(d.get("origin") or "")
        if m and not d.get("repeat"):
            chains[m.group(1)] = max(chains.get(m.group(1), 0), int(m.group(2)))
    out: dict[str, str] = {}
    for node, d in graph.nodes(data=True):
        out[node] = node
        if d.get("repeat"):
            index, count = d["repeat"]
            base = node.rsplit(".", 1)[0]
            columns = settings.groups.get(node, {}).get("columns")
        else:
            m = _COPY.match(d.get("origin") or "")
            if not m or chains.get(m.group(1), 0) <= AUTO_LIMIT:
                continue
            index, count, columns = int(m.group(2)), chains[m.group(1)], None
            base = m.group(1)
        if columns is None and count > AUTO_LIMIT:
            columns = AUTO_COLUMNS
        if columns is not None and index > columns:
            if d.get("repeat"):
                out[node] = f"{base}.{columns}"
            else:
                out[node] = f"{base}.{columns}{node[len(d['origin']) :]}"
    stands: dict[str, int] = {}
    for drawn in out.values():
        stands[drawn] = stands.get(drawn, 0) + 1
    return out, {n: k for n, k in stands.items() if k > 1}


def _octagon(n: int) -> list[tuple[float, float]]:
    """The chart's octagon (Appendix A), or a circle of n points for other counts."""
    if n == 8:
        return [(1.5, 0), (2.5, 0.5), (3, 1.5), (2.5, 2.5), (1.5, 3), (0.5, 2.5), (0, 1.5), (0.5, 0.5)]
    radius = max(1.0, n / (2 * math.pi))
    return [
        (radius + radius * math.sin(2 * math.pi * k / n), radius - radius * math.cos(2 * math.pi * k / n))
        for k in range(n)
    ]


def _arranged(group: dict[str, Any], n: int) -> list[tuple[float, float]] | None:
    """Positions from `cells:`, or from `at:` with an arrangement; None for an automatic column."""
    if group.get("cells"):
        return [(float(x), float(y)) for x, y in (p[:2] for p in group["cells"])]
    if group.get("at") is None and group.get("arrange", "column") in ("column", None):
        return None
    x0, y0 = (float(v) for v in (group.get("at") or [0.0, 0.0])[:2])
    step = float(group.get("spacing", 1.0))
    arrange = group.get("arrange", "column")
    if arrange == "row":
        return [(x0 + k * step, y0) for k in range(n)]
    if arrange == "grid":
        cols = int((group.get("grid") or [math.ceil(math.sqrt(n))])[0])
        return [(x0 + (k % cols) * step, y0 + (k // cols) * step) for k in range(n)]
    if arrange == "octagon":
        return [(x0 + x * step, y0 + y * step) for x, y in _octagon(n)]
    return [(x0, y0 + k * step) for k in range(n)]


def _local_pairs(m: int, n: int, window: int) -> list[tuple[int, int]]:
    """Which cells a local (windowed) connection joins between columns of m and n cells.

    Equal counts: each cell to its neighbours within half a window (local-3). One fewer: each
    target to the two sources that flank it (down-2); one more: to the one or two sources that
    flank it (up-2). Other ratios: each target to the sources nearest its relative position.
    """
    if m == n:
        half = max(1, window // 2)
        return [(i, j) for j in range(n) for i in range(m) if abs(i - j) <= half]
    if n == m - 1:
        return [(i, j) for j in range(n) for i in (j, j + 1)]
    if n == m + 1:
        return [(i, j) for j in range(n) for i in (j - 1, j) if 0 <= i < m]
    pairs = []
    for j in range(n):
        centre = (j + 0.5) * m / n - 0.5
        for i in range(m):
            if abs(i - centre) <= max(1.0, m / n / 2 + 0.5):
                pairs.append((i, j))
    return pairs


def group_words(d: dict[str, Any], *, started: bool = True) -> list[str]:
    """What both diagram views say under a group besides its name, type and size: its features
    (``dropout 0.3 · layer norm``), whose parameters it uses (``shares tower_a.h``), whose final
    state starts it (``starts from enc's state``), whose targets it is taught (``teacher: y``) and
    what it attends over (``4-head attention over x, + x``).
    ``started=False`` leaves the state out: the cells view draws it, one line per cell."""
    words = [" · ".join(feature_words(d["options"]))] if feature_words(d["options"]) else []
    if d.get("owner") is not None:
        words.append(f"shares {d['owner']}")
    if d.get("tied_to") is not None:
        words.append(f"{d['tied_to']}'s weights, transposed")
    if started and d.get("started_by"):
        words.append(f"starts from {d['started_by']}'s state")
    if d["options"].get("teacher"):
        words.append(f"teacher: {d['options']['teacher']}, one step late")
    words += d.get("attends") or []  # `kind: attention` edges into it: heads, mask, residual
    return words


def drawn_kind(e: Mapping[str, Any]) -> str:
    """How an edge's lines join cells: by its kind, except that a recurrent layer's initial state
    (`port: state`) is copied cell by cell, so it is drawn one-to-one as the chart draws identity."""
    return "identity" if (e.get("options") or {}).get("port") == STATE_PORT else str(e["kind"])


def _notes(
    graph: nx.DiGraph, settings: DrawSettings, node: str, shortened: bool, stands: int, named: bool
) -> list[str]:
    """The text under a column: its `label:`; else what `labels` asks for; else its name where
    the graph branches (``named``), its real size when cells are cut and the number of layers
    it stands for when a repeat is collapsed. `label: false` or `labels: none`: nothing."""
    label = settings.groups.get(node, {}).get("label")
    if isinstance(label, str):
        return [label]
    if label is False:
        return []
    d = graph.nodes[node]
    collapsed = [f"×{stands}"] if stands > 1 else []
    features = group_words(d, started=False)  # dropout, norm, shared parameters, teacher forcing
    if settings.labels is not None:
        parts = {
            "name": node,
            "type": CELLS[d["type"]].label.removesuffix(" Cell"),
            "shape": size_text(d.get("shape")),
            "params": f"{d.get('params', 0) + d.get('edge_params', 0):,} params",
        }
        out = [parts[p] for p in settings.labels]
        if "type" in settings.labels:
            out += features
        return [*out, *collapsed] if out else []
    out = [node] if named else []
    if shortened:
        out.append(size_text(d.get("shape")))
    return [*out, *features, *collapsed]


def _forward(graph: nx.DiGraph, nodes: list[str], drawn_of: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """The forward connections between drawn groups: (group, group, kind, target node).

    Delayed and feedback edges run backwards, and an edge into a copy that a collapsed repeat
    hides runs inside the collapse: neither places groups.
    """
    shown = set(nodes)
    out = []
    for u, v, e in graph.edges(data=True):
        a, b = drawn_of[u], drawn_of[v]
        if a != b and a in shown and b in shown and not (e["delay"] or e["feedback"]) and b == v:
            out.append((a, b, drawn_kind(e), v))
    return out


def _cell_pairs(graph: nx.DiGraph, v: str, kind: str, m: int, n: int) -> list[tuple[int, int]]:
    """Which shown cells a connection's lines join, by its kind (the chart's rules)."""
    if kind == "identity":
        return [(k, k) for k in range(min(m, n))]
    if kind == "local":
        window = graph.nodes[v]["options"].get("window") or 3
        return _local_pairs(m, n, window if isinstance(window, int) else int(window[0]))
    return [(i, j) for i in range(m) for j in range(n)]


@dataclass(frozen=True)
class _Lanes:
    """What the automatic placement knows that the lines need: layers and reversed edges."""

    placement: lanes.Placement
    reversed: frozenset[tuple[str, str]]
    rings: frozenset[str]


def layout_cells(graph: nx.DiGraph, settings: DrawSettings | None = None) -> Layout:
    """Compute the cells view of a checked graph (see the module docstring)."""
    settings = settings or graph.graph["draw"]
    drawn_of, stands = _collapse(graph, settings)
    drawn = [(n, t, k) for n, t, k in drawn_groups(graph, settings) if drawn_of[n] == n]
    placed: dict[str, list[tuple[float, float]]] = {}
    shortened: set[str] = set()  # columns cut by max_cells
    rings: set[str] = set()
    auto: list[tuple[str, int]] = []
    for node, _type, shown in drawn:
        group = settings.groups.get(node, {})
        explicit = group.get("show") is not None or group.get("cells")
        if not explicit and _real_count(graph, node) > shown:
            shortened.add(node)
        positions = _arranged(group, shown)
        if positions is None:
            auto.append((node, shown))
            if is_ring(graph, node):
                rings.add(node)
        else:
            placed[node] = positions
    lane_mode = bool(auto) and not placed
    named = False
    if lane_mode:
        forward = _forward(graph, [n for n, _ in auto], drawn_of)
        layer, reversed_ = lanes.layering([n for n, _ in auto], [(a, b) for a, b, _, _ in forward])
        counts = Counter(layer.values())
        per_layer = {n: counts[k] for n, k in layer.items()}
        named = any(k > 1 for k in per_layer.values())
        for i, (node, shown) in enumerate(auto):  # side by side, groups show fewer cells each
            group = settings.groups.get(node, {})
            cap = max(2, settings.max_cells // per_layer[node])
            if per_layer[node] > 1 and shown > cap and group.get("show") is None and node not in rings:
                auto[i] = (node, cap)
                shortened.add(node)
    notes_of = {n: _notes(graph, settings, n, n in shortened, stands.get(n, 1), named) for n, _, _ in drawn}
    dots: list[tuple[float, float]] = []
    lane_info: _Lanes | None = None
    if not lane_mode:  # the author placed groups: the others line up as columns after them
        rings.clear()
        dots = _columns(auto, shortened, placed)
    else:
        lane_info = _auto(graph, settings, auto, shortened, rings, notes_of, forward, layer, reversed_)
        placed = lane_info.placement.cells
        for node, _ in auto:
            rows = lane_info.placement.rows[node]
            if node in shortened and node not in rings:
                x = placed[node][0][0]
                dots.extend((x, rows[-2] + d) for d in (-0.22, 0.0, 0.22))
    notes: list[Note] = []
    for node, _, _ in drawn:
        if placed.get(node):
            px = sum(p[0] for p in placed[node]) / len(placed[node])
            bottom = max(p[1] for p in placed[node])
            notes.extend(Note(px, bottom + 0.75 + lanes.NOTE_ROWS * k, t) for k, t in enumerate(notes_of[node]))

    cells: list[DrawnCell] = []
    for node, ctype, _shown in drawn:
        bars = _handlebars(graph, node, settings.groups.get(node, {}))
        for k, (cx, cy) in enumerate(placed[node]):
            cells.append(DrawnCell(f"{node}:{k}", node, k, ctype, cx, cy, bars))
    bars_of = {c.group: c.handlebar and c.group not in rings for c in cells}
    lines = _lines(graph, settings, placed, bars_of, drawn_of, lane_info)
    types = tuple(dict.fromkeys(c.type for c in cells))
    xs = [c.x for c in cells] + [d[0] for d in dots]
    ys = [c.y for c in cells] + [d[1] for d in dots] + [n.y for n in notes]
    for line in lines:
        xs.extend(p[0] for p in line.path)
        ys.extend(p[1] for p in line.path)
    bounds = (min(xs), min(ys), max(xs), max(ys)) if cells else (0.0, 0.0, 0.0, 0.0)
    return Layout(tuple(cells), tuple(lines), tuple(dots), tuple(notes), types, bounds)


def _columns(
    auto: list[tuple[str, int]], shortened: set[str], placed: dict[str, list[tuple[float, float]]]
) -> list[tuple[float, float]]:
    """Columns one pitch apart after the explicitly placed groups, centred on their midline."""
    slots = {node: shown + (1 if node in shortened else 0) for node, shown in auto}
    tallest = max([*slots.values(), 1])
    midline = (tallest - 1) / 2
    if placed:
        ys = [y for ps in placed.values() for _, y in ps]
        midline = (min(ys) + max(ys)) / 2
    x = 0.0
    dots: list[tuple[float, float]] = []
    for node, shown in auto:
        n_slots = slots[node]
        top = midline - (n_slots - 1) / 2
        ys = [top + k for k in range(n_slots)]
        if node in shortened:  # the gap before the last cell holds the ellipsis
            gap = ys.pop(-2)
            dots.extend((x, gap + d) for d in (-0.22, 0.0, 0.22))
        placed[node] = [(x, y) for y in ys[:shown]]
        x += 1.0
    return dots


def _auto(
    graph: nx.DiGraph,
    settings: DrawSettings,
    auto: list[tuple[str, int]],
    shortened: set[str],
    rings: set[str],
    notes_of: dict[str, list[str]],
    forward: list[tuple[str, str, str, str]],
    layer: dict[str, int],
    reversed_: set[tuple[str, str]],
) -> _Lanes:
    """Lanes and gaps for a drawing nobody placed by hand, its groups' layers known (``lanes.py``)."""
    shown = dict(auto)
    nodes = [n for n, _ in auto]
    kinds: dict[tuple[str, str], tuple[str, str]] = {}  # drawn pair -> (kind, target node)
    covered = {frozenset((g1, g2)) for g1, _, g2, _ in settings.lines}
    for a, b, kind, v in forward:
        if frozenset((a, b)) not in covered:
            kinds.setdefault((a, b), (kind, v))
    order = lanes.order_lanes(nodes, layer, [(a, b) for a, b, _, _ in forward if (a, b) not in reversed_])
    blocks = [
        lanes.Block(
            n,
            shown[n],
            shown[n] + (1 if n in shortened and n not in rings else 0),
            n in rings,
            len(notes_of[n]),
            max((text_width(t, LABEL_SIZE) for t in notes_of[n]), default=0.0) / PITCH,
        )
        for n in nodes
    ]
    pairs = {
        (a, b): _cell_pairs(graph, v, kind, shown[a], shown[b])
        for (a, b), (kind, v) in kinds.items()
        if layer[b] - layer[a] == 1
    }
    placement = lanes.place(blocks, order, pairs)
    return _Lanes(placement, frozenset(reversed_), frozenset(rings))


def _lines(
    graph: nx.DiGraph,
    settings: DrawSettings,
    placed: dict[str, list[tuple[float, float]]],
    bars: dict[str, bool],
    drawn_of: dict[str, str],
    lane_info: _Lanes | None = None,
) -> list[Line]:
    out: dict[frozenset[str], Line | None] = {}  # None: an arc's place, filled in once routed

    def add(a: str, b: str, style: str = "line") -> None:
        if a != b:
            out.setdefault(frozenset((a, b)), Line(a, b, style))

    covered = {frozenset((g1, g2)) for g1, _, g2, _ in settings.lines}
    for g1, i, g2, j in settings.lines:
        if g1 in placed and g2 in placed and i < len(placed[g1]) and j < len(placed[g2]):
            vectors = graph.nodes[g1]["cell"].vector_valued and graph.nodes[g2]["cell"].vector_valued
            add(f"{g1}:{i}", f"{g2}:{j}", "double" if vectors and g1 != g2 else "line")
    column_x = {g: sum(p[0] for p in ps) / len(ps) for g, ps in placed.items() if ps}
    arcs: dict[tuple[str, str, bool], tuple[str, str]] = {}  # (left, right, back) -> kind, target
    edges = [] if settings.only_lines else list(graph.edges(data=True))  # `only_lines`: the figure's own
    for u, v, e in edges:
        a, b = drawn_of[u], drawn_of[v]
        if a not in placed or b not in placed or frozenset((a, b)) in covered:
            continue
        if b != v and a != b and lane_info is not None:
            continue  # an edge into a copy a collapsed repeat hides: it runs inside the collapse
        m, n = len(placed[a]), len(placed[b])
        kind = drawn_kind(e)
        if a == b:
            if kind == "symmetric":  # all-to-all inside the group, no self-connections
                for i in range(m):
                    for j in range(i + 1, m):
                        add(f"{a}:{i}", f"{a}:{j}")
            continue
        if lane_info is not None:
            layer = lane_info.placement.layer
            back = bool(e["delay"] or e["feedback"]) or (a, b) in lane_info.reversed
            if back or layer[b] - layer[a] != 1:
                left, right = (a, b) if column_x[a] <= column_x[b] else (b, a)
                if (left, right, back) not in arcs:
                    arcs[(left, right, back)] = (kind, v)
                    out[frozenset(("~arc", left, right, str(back)))] = None
                continue
        if kind == "identity" and abs(column_x[a] - column_x[b]) > 1.01:  # a skip over columns
            add(_end_cell(placed, a, up=True), _end_cell(placed, b, up=True), "arc")
            continue
        style = "double" if kind == "routing" else "line"
        for i, j in _cell_pairs(graph, v, kind, m, n):
            add(f"{a}:{i}", f"{b}:{j}", style)
    if lane_info is not None and arcs:
        for (left, right, back), line in zip(arcs, _arc_lines(graph, placed, arcs, lane_info), strict=True):
            out[frozenset(("~arc", left, right, str(back)))] = line
    rings = lane_info.rings if lane_info else frozenset()
    for group, on in bars.items():  # chain lines inside recurrent layers
        if on and group not in rings:
            ordered = sorted(range(len(placed[group])), key=lambda k: placed[group][k][1])
            for k1, k2 in zip(ordered, ordered[1:], strict=False):
                add(f"{group}:{k1}", f"{group}:{k2}")
    return [line for line in out.values() if line is not None]


def _end_cell(placed: dict[str, list[tuple[float, float]]], group: str, up: bool) -> str:
    """The id of a group's top cell (``up``) or bottom cell, where an arc leaves or arrives."""
    pick = min if up else max
    return f"{group}:{pick(range(len(placed[group])), key=lambda k: placed[group][k][1])}"


def _arc_lines(
    graph: nx.DiGraph,
    placed: dict[str, list[tuple[float, float]]],
    arcs: dict[tuple[str, str, bool], tuple[str, str]],
    lane_info: _Lanes,
) -> list[Line]:
    """Long and backward connections as arcs between the groups' outer cells.

    A forward identity skip along a plain chain, over columns no taller than its ends, is the
    chart's own arc (the DRN's); every other one is routed by :func:`lanes.arc_paths`, above
    the drawing for groups in its upper half, below for the rest, and a backward (delayed or
    feedback) connection on the other side from the forward ones, dashed.
    """
    placement = lane_info.placement
    lanes_of: dict[int, list[str]] = {}
    for n, k in placement.layer.items():
        lanes_of.setdefault(k, []).append(n)
    centre = {g: sum(p[1] for p in ps) / len(ps) for g, ps in placed.items() if ps}
    out: list[Line | None] = [None] * len(arcs)
    todo: list[tuple[int, str, str, bool, bool]] = []
    for index, ((a, b, back), (kind, _v)) in enumerate(arcs.items()):
        la, lb = placement.layer[a], placement.layer[b]
        top_a, top_b = (min(p[1] for p in placed[g]) for g in (a, b))
        between = [g for k in range(la + 1, lb) for g in lanes_of.get(k, [])]
        chart_arc = (
            kind == "identity"
            and not back
            and len(lanes_of[la]) == len(lanes_of[lb]) == 1
            and all(len(lanes_of[k]) == 1 for k in range(la + 1, lb))
            and all(min(p[1] for p in placed[g]) >= min(top_a, top_b) - 1e-9 for g in between)
            and not any(
                x0 < lb and la < x1
                for (x0, x1) in ((placement.layer[c], placement.layer[d]) for c, d, _ in arcs)
                if (x0, x1) != (la, lb)
            )
        )
        if chart_arc:
            out[index] = Line(_end_cell(placed, a, up=True), _end_cell(placed, b, up=True), "arc")
            continue
        mean = (centre[a] + centre[b]) / 2
        up = mean <= placement.midline + 1e-9 if not back else mean < placement.midline - 1e-9
        # leave on a side with no other group of the same layer in the way
        tops = {g: min(lanes_of[placement.layer[g]], key=lambda h: centre[h]) == g for g in (a, b)}
        bottoms = {g: max(lanes_of[placement.layer[g]], key=lambda h: centre[h]) == g for g in (a, b)}
        if up and not all(tops.values()) and all(bottoms.values()):
            up = False
        elif not up and not all(bottoms.values()) and all(tops.values()):
            up = True
        todo.append((index, a, b, back, up))
    specs = []
    for _, a, b, back, up in todo:
        ends = _end_cell(placed, a, up), _end_cell(placed, b, up)
        (ax, ay), (bx, by) = (placed[g][int(c.rsplit(":", 1)[1])] for g, c in zip((a, b), ends, strict=True))
        specs.append(lanes.Arc(*ends, ax, ay, bx, by, up, back))
    every = [p for ps in placed.values() for p in ps]
    for (index, *_), arc, path in zip(todo, specs, lanes.arc_paths(specs, every), strict=True):
        out[index] = Line(arc.a, arc.b, "back" if arc.back else "route", path)
    return [line for line in out if line is not None]
