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
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..graph.drawspec import DrawSettings, drawn_groups


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
    """A connection between two drawn cells: a straight line, a double line or a skip arc."""

    a: str
    b: str
    style: str = "line"  # "line" | "double" | "arc"


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


def _handlebars(graph: nx.DiGraph, node: str, group: dict[str, Any]) -> bool:
    """Recurrent-family layers show their self-loops; external memories and opt-outs don't."""
    if group.get("handlebars") is not None:
        return bool(group["handlebars"])
    d = graph.nodes[node]
    return bool(d["cell"].recurrent and d["options"].get("slots") is None)


def _collapse(graph: nx.DiGraph, settings: DrawSettings) -> dict[str, str]:
    """Repeat copies past `columns: k` are drawn as copy k: map every node to its drawn node."""
    out = {}
    for node, d in graph.nodes(data=True):
        group = settings.groups.get(node, {})
        columns = group.get("columns")
        if d.get("repeat") and columns is not None and d["repeat"][0] > columns:
            base = node.rsplit(".", 1)[0]
            out[node] = f"{base}.{columns}"
        else:
            out[node] = node
    return out


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


def layout_cells(graph: nx.DiGraph, settings: DrawSettings | None = None) -> Layout:
    """Compute the cells view of a checked graph (see the module docstring)."""
    settings = settings or graph.graph["draw"]
    drawn = drawn_groups(graph, settings)
    placed: dict[str, list[tuple[float, float]]] = {}
    shortened: dict[str, int] = {}  # group -> real size, for columns cut by max_cells
    auto: list[tuple[str, int]] = []
    for node, _type, shown in drawn:
        group = settings.groups.get(node, {})
        explicit = group.get("show") is not None or group.get("cells")
        if not explicit and _real_count(graph, node) > shown:
            shortened[node] = _real_count(graph, node)
        positions = _arranged(group, shown)
        if positions is None:
            auto.append((node, shown))
        else:
            placed[node] = positions
    # automatic columns: one pitch apart, after any explicitly placed ones on the left
    slots = {node: shown + (1 if node in shortened else 0) for node, shown in auto}
    tallest = max([*slots.values(), 1])
    midline = (tallest - 1) / 2
    if placed:
        ys = [y for ps in placed.values() for _, y in ps]
        midline = (min(ys) + max(ys)) / 2
    x = 0.0
    dots: list[tuple[float, float]] = []
    notes: list[Note] = []
    for node, shown in auto:
        n_slots = slots[node]
        top = midline - (n_slots - 1) / 2
        ys = [top + k for k in range(n_slots)]
        if node in shortened:  # the gap before the last cell holds the ellipsis
            gap = ys.pop(-2)
            dots.extend((x, gap + d) for d in (-0.22, 0.0, 0.22))
            notes.append(Note(x, ys[-1] + 0.75, f"{shortened[node]:,}"))
        placed[node] = [(x, y) for y in ys[:shown]]
        x += 1.0
    for node, label in ((n, settings.groups.get(n, {}).get("label")) for n, _, _ in drawn):
        if isinstance(label, str) and placed.get(node):
            px = sum(p[0] for p in placed[node]) / len(placed[node])
            notes.append(Note(px, max(p[1] for p in placed[node]) + 0.75, label))

    cells: list[DrawnCell] = []
    for node, ctype, _shown in drawn:
        bars = _handlebars(graph, node, settings.groups.get(node, {}))
        for k, (cx, cy) in enumerate(placed[node]):
            cells.append(DrawnCell(f"{node}:{k}", node, k, ctype, cx, cy, bars))
    lines = _lines(graph, settings, placed, {c.group: c.handlebar for c in cells})
    types = tuple(dict.fromkeys(c.type for c in cells))
    xs = [c.x for c in cells] + [d[0] for d in dots]
    ys = [c.y for c in cells] + [d[1] for d in dots] + [n.y for n in notes]
    bounds = (min(xs), min(ys), max(xs), max(ys)) if cells else (0.0, 0.0, 0.0, 0.0)
    return Layout(tuple(cells), tuple(lines), tuple(dots), tuple(notes), types, bounds)


def _lines(
    graph: nx.DiGraph, settings: DrawSettings, placed: dict[str, list[tuple[float, float]]], bars: dict[str, bool]
) -> list[Line]:
    out: dict[frozenset[str], Line] = {}

    def add(a: str, b: str, style: str = "line") -> None:
        if a != b:
            out.setdefault(frozenset((a, b)), Line(a, b, style))

    covered = {frozenset((g1, g2)) for g1, _, g2, _ in settings.lines}
    for g1, i, g2, j in settings.lines:
        if g1 in placed and g2 in placed and i < len(placed[g1]) and j < len(placed[g2]):
            vectors = graph.nodes[g1]["cell"].vector_valued and graph.nodes[g2]["cell"].vector_valued
            add(f"{g1}:{i}", f"{g2}:{j}", "double" if vectors and g1 != g2 else "line")
    drawn_of = _collapse(graph, settings)
    column_x = {g: sum(p[0] for p in ps) / len(ps) for g, ps in placed.items() if ps}
    for u, v, e in graph.edges(data=True):
        a, b = drawn_of[u], drawn_of[v]
        if a not in placed or b not in placed or frozenset((a, b)) in covered:
            continue
        m, n = len(placed[a]), len(placed[b])
        kind = e["kind"]
        if a == b:
            if kind == "symmetric":  # all-to-all inside the group, no self-connections
                for i in range(m):
                    for j in range(i + 1, m):
                        add(f"{a}:{i}", f"{a}:{j}")
            continue
        if kind == "identity":
            if abs(column_x[a] - column_x[b]) > 1.01:  # a skip over columns: an arc on top
                ta = min(range(m), key=lambda k: placed[a][k][1])
                tb = min(range(n), key=lambda k: placed[b][k][1])
                add(f"{a}:{ta}", f"{b}:{tb}", "arc")
            else:
                for k in range(min(m, n)):
                    add(f"{a}:{k}", f"{b}:{k}")
        elif kind == "local":
            window = graph.nodes[v]["options"].get("window") or 3
            w = window if isinstance(window, int) else int(window[0])
            for i, j in _local_pairs(m, n, w):
                add(f"{a}:{i}", f"{b}:{j}")
        else:
            style = "double" if kind == "routing" else "line"
            for i in range(m):
                for j in range(n):
                    add(f"{a}:{i}", f"{b}:{j}", style)
    for group, on in bars.items():  # chain lines inside recurrent layers
        if on:
            ordered = sorted(range(len(placed[group])), key=lambda k: placed[group][k][1])
            for k1, k2 in zip(ordered, ordered[1:], strict=False):
                add(f"{group}:{k1}", f"{group}:{k2}")
    return list(out.values())
