"""Automatic placement for the cells view: groups in layers and lanes, long edges as arcs.

When a spec places none of its groups by hand, the drawing follows the graph's structure, the way
a person sketches a network: each group goes in the layer of its longest path from an input (so
every forward connection runs left to right), groups that share a layer stack into lanes ordered
to keep crossings low (barycentre sweeps), and the gap between two layers widens until no line
between them grazes a cell it does not join. A connection that skips layers, or runs backwards
(a delayed or feedback edge), cannot be a straight line without crossing the columns between its
ends, so it becomes one arc routed over (or under) everything it passes, the way the chart draws
the DRN's skips; arcs that share a stretch nest at different heights. A group joined to itself
by a symmetric edge (a complete graph) is drawn as a ring, whose radius keeps every chord clear
of the cells it passes.

Everything here is pure geometry in lattice pitches (x right, y down), like ``layout.py``.
A plain chain comes out exactly as the chart draws it: one pitch between columns, every column
centred on one midline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from .theme import PITCH, RADIUS

R: float = RADIUS / PITCH  # a cell's radius, in pitches
CLEAR: float = 0.31  # the closest a line may pass to the centre of a cell it does not join
ARC_GAP: float = 0.6  # an arc's clearance above the cells it passes
ARC_STEP: float = 0.4  # between nested arcs
LANE_GAP: float = 1.0  # empty rows between two groups stacked in one layer
NOTE_ROWS: float = 0.45  # rows a line of text under a column takes
RING_MIN_RADIUS: float = 1.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Block:
    """One group to place: its shown cells, the rows it takes, and whether it is a ring."""

    node: str
    shown: int
    slots: int  # rows of a column: the shown cells, plus one for an ellipsis
    ring: bool = False
    note_lines: int = 0  # lines of text placed under it
    note_width: float = 0.0  # the widest of them, in pitches


@dataclass(frozen=True)
class Placement:
    """Where the automatic groups went: cell positions per group, and each group's layer."""

    cells: dict[str, list[Point]]
    layer: dict[str, int]
    layer_x: list[float]
    midline: float
    rows: dict[str, list[float]]  # the column's row positions, ellipsis gap included (columns only)


# ------------------------------------------------------------------------------------- structure


def layering(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Longest-path layers over the forward edges, and the edges reversed to break cycles.

    Cycles can only come from edges the graph does not mark as delayed (e.g. a symmetric edge
    declared against the flow); the edge that points against the declaration order is the one
    turned back, so the drawing keeps the order the author wrote.
    """
    order = {n: k for k, n in enumerate(nodes)}
    dag: nx.DiGraph = nx.DiGraph()
    dag.add_nodes_from(nodes)
    back: set[tuple[str, str]] = set()
    for a, b in edges:
        if a != b:
            dag.add_edge(a, b)
    while not nx.is_directed_acyclic_graph(dag):
        cycle = nx.find_cycle(dag)
        a, b = max(cycle, key=lambda e: (order[e[0]] - order[e[1]], order[e[0]]))[:2]
        dag.remove_edge(a, b)
        back.add((a, b))
    layer: dict[str, int] = {}
    for n in nx.lexicographical_topological_sort(dag, key=lambda n: order[n]):
        layer[n] = max((layer[p] + 1 for p in dag.predecessors(n)), default=0)
    return layer, back


def order_lanes(
    nodes: Sequence[str], layer: dict[str, int], edges: Iterable[tuple[str, str]], sweeps: int = 4
) -> list[list[str]]:
    """Groups of each layer, top to bottom: declaration order refined by barycentre sweeps."""
    order = {n: k for k, n in enumerate(nodes)}
    depth = max(layer.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for n in nodes:
        layers[layer[n]].append(n)
    neighbours: dict[str, set[str]] = {n: set() for n in nodes}
    for a, b in edges:
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)

    def rank() -> dict[str, float]:
        return {n: (k + 0.5) / len(lane) for lane in layers for k, n in enumerate(lane)}

    for sweep in range(sweeps):
        span = range(1, depth) if sweep % 2 == 0 else range(depth - 2, -1, -1)
        for k in span:
            if len(layers[k]) < 2:
                continue
            pos = rank()
            side = k - 1 if sweep % 2 == 0 else k + 1

            def key(n: str, pos: dict[str, float] = pos, side: int = side) -> tuple[float, int]:
                near = [pos[m] for m in neighbours[n] if layer[m] == side] or [pos[m] for m in neighbours[n]]
                return (sum(near) / len(near) if near else pos[n], order[n])

            layers[k].sort(key=key)
    return layers


def ring_radius(n: int) -> float:
    """A ring's radius in pitches: every chord clears the cells between its ends by ``CLEAR``.

    The chord between a cell's two neighbours passes closest to it, at ``r (1 - cos(2π/n))``.
    """
    if n < 4:
        return RING_MIN_RADIUS
    return max(RING_MIN_RADIUS, (CLEAR + 0.02) / (1 - math.cos(2 * math.pi / n)))


def ring_points(n: int, cx: float, cy: float) -> list[Point]:
    """n cells evenly on a circle centred at (cx, cy), the first on top, going clockwise."""
    r = ring_radius(n)
    return [(cx + r * math.sin(2 * math.pi * k / n), cy - r * math.cos(2 * math.pi * k / n)) for k in range(n)]


# ------------------------------------------------------------------------------------- placement


def _height(block: Block) -> float:
    return 2 * ring_radius(block.shown) if block.ring else float(block.slots - 1)


def _width(block: Block) -> float:
    return 2 * ring_radius(block.shown) if block.ring else 0.0


def _gap_needed(ys_a: Sequence[float], ys_b: Sequence[float], pairs: Iterable[tuple[int, int]]) -> float:
    """The least distance between two columns at which no line between them grazes a third cell.

    A line from a cell at height ``y`` to one ``Δ`` rows away, ``g`` to the right, passes a cell
    ``d`` rows from its end (in the same column) at ``g d / sqrt(g² + Δ²)``; keep that ≥ CLEAR.
    """
    need = 0.0
    for i, j in pairs:
        delta = abs(ys_b[j] - ys_a[i])
        if delta == 0:
            continue
        for ys, end in ((ys_a, ys_a[i]), (ys_b, ys_b[j])):
            for y in ys:
                d = abs(y - end)
                if d > CLEAR:
                    need = max(need, CLEAR * delta / math.sqrt(d * d - CLEAR * CLEAR))
    return need


MIN_FAN: float = 0.065  # radians between two lines leaving one cell for neighbouring cells
MAX_GAP: float = 6.0  # pitches: the widest gap the fan rule may ask for


def _fans_apart(a_ys: Sequence[float], b_ys: Sequence[float], pairs: Iterable[tuple[int, int]], gap: float) -> float:
    """The smallest angle between two lines that leave one cell for neighbouring cells, at ``gap``.

    Lines into far lanes leave a cell nearly parallel; below a few degrees a reader sees one
    thick line instead of two, so the gap grows until they fan out.
    """
    partners: dict[tuple[int, int], list[float]] = {}
    for i, j in pairs:
        partners.setdefault((0, i), []).append(b_ys[j] - a_ys[i])
        partners.setdefault((1, j), []).append(a_ys[i] - b_ys[j])
    worst = math.pi
    for deltas in partners.values():
        angles = sorted(math.atan2(d, gap) for d in deltas)
        worst = min([worst, *(b - a for a, b in zip(angles, angles[1:], strict=False))])
    return worst


def _fan_gap(a_ys: Sequence[float], b_ys: Sequence[float], pairs: list[tuple[int, int]], gap: float) -> float:
    """The least gap ≥ ``gap`` at which every fan opens by :data:`MIN_FAN`, or the best one up to
    :data:`MAX_GAP` when none does (a fan into a far lane narrows again as the gap grows)."""
    best = (_fans_apart(a_ys, b_ys, pairs, gap), gap)
    g = gap
    while best[0] < MIN_FAN and g < MAX_GAP:
        g += 0.25
        best = max(best, (_fans_apart(a_ys, b_ys, pairs, g), g))
    return best[1]


def place(
    blocks: Sequence[Block],
    lanes: list[list[str]],
    pairs: dict[tuple[str, str], list[tuple[int, int]]],
) -> Placement:
    """Cell positions for every block: layers left to right, lanes stacked on one midline.

    ``pairs`` lists, for each forward connection between neighbouring layers, which shown cells
    its lines join, so that the gap between the layers can grow to keep those lines off cells.
    """
    by_node = {b.node: b for b in blocks}
    stacks: list[float] = []
    for lane in lanes:
        heights = [_height(by_node[n]) for n in lane]
        notes = [by_node[n].note_lines * NOTE_ROWS for n in lane[:-1]]
        stacks.append(sum(heights) + (len(lane) - 1) * (1.0 + LANE_GAP) + sum(notes))
    midline = max([*stacks, 0.0]) / 2
    rows: dict[str, list[float]] = {}
    cells: dict[str, list[Point]] = {}
    centre_y: dict[str, float] = {}
    for lane, stack in zip(lanes, stacks, strict=True):
        top = midline - stack / 2
        for n in lane:
            block = by_node[n]
            h = _height(block)
            centre_y[n] = top + h / 2
            rows[n] = [] if block.ring else [top + k for k in range(block.slots)]
            top += h + 1.0 + LANE_GAP + block.note_lines * NOTE_ROWS
    layer = {n: k for k, lane in enumerate(lanes) for n in lane}
    layer_x: list[float] = []
    x = 0.0
    for k, lane in enumerate(lanes):
        half = max((_width(by_node[n]) / 2 for n in lane), default=0.0)
        if k:
            prev_half = max((_width(by_node[n]) / 2 for n in lanes[k - 1]), default=0.0)
            gap = 1.0 + (0.5 if half or prev_half else 0.0)
            words = [max((by_node[n].note_width for n in lanes[j]), default=0.0) for j in (k - 1, k)]
            if all(words):  # neighbouring labels keep a little space between them
                gap = max(gap, sum(words) / 2 + 0.25)
            for (a, b), ps in pairs.items():
                if layer.get(a) == k - 1 and layer.get(b) == k and not (by_node[a].ring or by_node[b].ring):
                    ya, yb = _shown_rows(rows[a], by_node[a]), _shown_rows(rows[b], by_node[b])
                    gap = _fan_gap(ya, yb, ps, max(gap, _gap_needed(ya, yb, ps)))
            x += prev_half + gap + half
        layer_x.append(x)
        for n in lane:
            block = by_node[n]
            if block.ring:
                cells[n] = ring_points(block.shown, x, centre_y[n])
            else:
                cells[n] = [(x, y) for y in _shown_rows(rows[n], block)]
    return Placement(cells, layer, layer_x, midline, rows)


def _shown_rows(rows: list[float], block: Block) -> list[float]:
    """The rows a column's cells take: all of them, less the ellipsis gap before the last."""
    if block.slots > block.shown:
        return [*rows[:-2], rows[-1]][: block.shown]
    return rows[: block.shown]


# ------------------------------------------------------------------------------------------ arcs


@dataclass(frozen=True)
class Arc:
    """A connection drawn as one arc: its end cells, the side it passes on, and its kind."""

    a: str  # the left end's cell id
    b: str
    ax: float
    ay: float
    bx: float
    by: float
    up: bool
    back: bool  # a delayed or feedback connection (drawn dashed)


def arc_paths(arcs: Sequence[Arc], cells: Iterable[Point]) -> list[tuple[Point, ...]]:
    """Cubic Bézier control points (pitches) for each arc, nested so that no two share a stretch.

    An arc leaves its left cell's rim, climbs (or dips) to a level ``ARC_GAP`` beyond every cell
    it passes, runs level, and comes down to its right cell; arcs overlapping in x on one side
    are stacked ``ARC_STEP`` apart, shortest innermost, and climb at staggered distances from
    their columns, so that no two coincide.
    """
    cells = list(cells)
    placed: list[tuple[float, float, bool, float]] = []  # x0, x1, up, level y
    climbs: dict[tuple[str, bool], int] = {}  # arcs already leaving each cell, per side
    gaps_used: dict[tuple[float, float], int] = {}  # arcs already climbing beside each column
    out: list[tuple[Point, ...] | None] = [None] * len(arcs)
    for k in sorted(range(len(arcs)), key=lambda k: (abs(arcs[k].bx - arcs[k].ax), arcs[k].ax, arcs[k].a)):
        arc = arcs[k]
        x0, x1 = sorted((arc.ax, arc.bx))
        sign = -1.0 if arc.up else 1.0
        passed = [y for x, y in cells if x0 - R < x < x1 + R] + [arc.ay, arc.by]
        level = (min(passed) if arc.up else max(passed)) + sign * (R + ARC_GAP)
        for p0, p1, up, y in placed:
            if up == arc.up and p0 < x1 - 1e-6 and x0 < p1 - 1e-6:
                level = min(level, y - ARC_STEP) if arc.up else max(level, y + ARC_STEP)
        placed.append((x0, x1, arc.up, level))
        left = climbs.get((arc.a, arc.up), 0)
        right = climbs.get((arc.b, arc.up), 0)
        climbs[(arc.a, arc.up)] = left + 1
        climbs[(arc.b, arc.up)] = right + 1
        gaps = gaps_used.get((x0, 1.0)), gaps_used.get((x1, -1.0))
        lanes = (gaps[0] or 0, gaps[1] or 0)
        gaps_used[(x0, 1.0)] = lanes[0] + 1
        gaps_used[(x1, -1.0)] = lanes[1] + 1
        out[k] = _staple((arc.ax, arc.ay), (arc.bx, arc.by), level, arc.up, left, right, lanes)
    return [p for p in out if p is not None]


_RIM = (60, 90, 30, 45, 15)  # degrees above the horizontal where the k-th arc leaves a cell


def _staple(
    a: Point, b: Point, level: float, up: bool, left: int, right: int, lanes: tuple[int, int] = (0, 0)
) -> tuple[Point, ...]:
    """Control points of an arc from cell a to cell b (a left of b) through height ``level``.

    It leaves the rim, climbs (or dips) in the gap after a's column, runs level, and comes down
    in the gap before b's; ``left``/``right`` count the arcs already at each end cell (they
    leave the rim at other angles) and ``lanes`` those already climbing in each gap.
    """
    sign = -1.0 if up else 1.0
    la, lb = (math.radians(_RIM[k % len(_RIM)]) for k in (left, right))
    p0 = (a[0] + R * math.cos(la), a[1] + sign * R * math.sin(la))
    p3 = (b[0] - R * math.cos(lb), b[1] + sign * R * math.sin(lb))
    cx = a[0] + 0.5 + 0.12 * lanes[0]
    dx = b[0] - 0.5 - 0.12 * lanes[1]
    bend = 0.2
    if dx - cx < 2 * bend + 0.05 or abs(level - p0[1]) < 2 * bend or abs(level - p3[1]) < 2 * bend:
        span = p3[0] - p0[0]
        c = (4 * level - (p0[1] + p3[1]) / 2) / 3  # a symmetric cubic peaks at (p0 + 3 c) / 4
        return (p0, (p0[0] + span * 0.1, c), (p3[0] - span * 0.1, c), p3)

    def straight(p: Point, q: Point) -> list[Point]:
        return [
            (p[0] + (q[0] - p[0]) / 3, p[1] + (q[1] - p[1]) / 3),
            (p[0] + 2 * (q[0] - p[0]) / 3, p[1] + 2 * (q[1] - p[1]) / 3),
            q,
        ]

    a1 = (cx, p0[1] + sign * bend)  # into the gap, turning to climb
    a2 = (cx, level - sign * bend)
    a3 = (cx + bend, level)
    b3 = (dx - bend, level)
    b2 = (dx, level - sign * bend)
    b1 = (dx, p3[1] + sign * bend)
    return (
        p0,
        (cx, p0[1]),
        (cx, p0[1]),
        a1,
        *straight(a1, a2),
        (cx, level),
        (cx, level),
        a3,
        *straight(a3, b3),
        (dx, level),
        (dx, level),
        b2,
        *straight(b2, b1),
        (dx, p3[1]),
        (dx, p3[1]),
        p3,
    )
