"""The layers view: one box per group, placed for a slide, every edge on its own track.

A network of thirty layers drawn as one strip is unreadable on a slide, so this view places the
boxes itself: groups go in layers by longest path and in lanes within a layer (``lanes.py``, as
in the cells view), and the layers fold into rows, left to right and then down like text, the
number of rows chosen so that the drawing comes closest to the target aspect (16:9 by default);
invisible corner points then pad it to that aspect exactly. ``routes.py`` routes the edges
through the gaps between columns and the channels between rows; Graphviz (``neato -n2``) only
paints the :class:`Scene` (``unroll.py`` builds another scene from the same parts).

What a box says is chosen with ``labels``: the group's name, the chart's type name (with the
pooling or up-sampling it does), its shape as H×W×C, its parameter count. Its outline tells the
kind of layer at a glance: pooling narrows, up-sampling widens, a kernel is a stack of maps, an
external memory a cylinder. A residual connection inside a collapsed repeat is a bypass arrow
over its box, a recurrent group has its loop, delayed and feedback edges are dashed ``t−1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import networkx as nx

from ..cells import CELLS
from ..cells.recurrent import STATE_PORT
from ..graph.drawspec import LABEL_PARTS, DrawSettings
from . import lanes, routes
from .dot import FONT, LABEL_SIZE, _attrs, _num, caption_text, legend_types, quote, text_node
from .layout import drawn_kind, group_words, size_text
from .theme import THEME, TITLE_SIZE, Theme, text_width

LABELS: Final = LABEL_PARTS
"""What a layers-view box says by default: all it can."""
BOX_FONT: Final = 10.0
LINE: Final = BOX_FONT * 1.25  # points between label lines
PAD_X: Final = 10.0
PAD_Y: Final = 6.0
COL_GAP: Final = 34.0  # points between neighbouring layers
LANE_GAP: Final = 18.0  # between boxes stacked in one layer
ROW_GAP: Final = 40.0  # between folded rows

LEGEND_ROW: Final = 28.0
PAD: Final = 14.4  # points Graphviz leaves around the drawing


@dataclass(frozen=True)
class Box:
    """One group of the layers view: its key, what it says, and its size in points."""

    key: str
    nodes: tuple[str, ...]
    lines: tuple[str, ...]
    width: float
    height: float
    cell_type: str
    shape: str  # the Graphviz shape
    extra: tuple[tuple[str, str], ...] = ()  # more node attributes (orientation)


def _groups(graph: nx.DiGraph) -> dict[str, list[str]]:
    """Nodes per box: the copies of a repeat share one."""
    out: dict[str, list[str]] = {}
    for node, d in graph.nodes(data=True):
        key = node.rsplit(".", 1)[0] if d.get("repeat") else node
        out.setdefault(key, []).append(node)
    return out


def kind_text(d: dict) -> str:
    """The chart's type name, or what a convolution-or-pool stage does, with its window."""
    text = str(d["options"].get("op") or CELLS[d["type"]].label.removesuffix(" Cell")).replace("_", " ")
    window = d["options"].get("window")
    if isinstance(window, int):
        return f"{text} {window}×{window}"
    return f"{text} {'×'.join(map(str, window))}" if window else text


def _glyph(d: dict) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The box outline that tells the kind of layer: a convolution-or-pool stage (the registry's
    trapezium) that shrinks its maps narrows and one that enlarges them widens, an external
    memory is a cylinder, the rest as the registry says."""
    shape, source = d.get("shape"), d.get("in_shape")
    resamples = CELLS[d["type"]].style.box == "trapezium"
    if resamples and shape and source and len(shape) > 1 and len(source) == len(shape):
        area, before = math.prod(shape[:-1]), math.prod(source[:-1])
        if area != before:
            return "trapezium", (("orientation", "270" if area < before else "90"),)
    if d["options"].get("slots") is not None:
        return "cylinder", ()
    return _type_glyph(d["type"])


def _type_glyph(cell_type: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The registry's box for a cell type (a trapezium narrows along the flow)."""
    box = CELLS[cell_type].style.box
    return box, ((("orientation", "270"),) if box == "trapezium" else ())


def boxes(graph: nx.DiGraph, labels: tuple[str, ...] = LABELS) -> dict[str, Box]:
    """Every box of the layers view with its label lines and size (text measured in points)."""
    out = {}
    for key, nodes in _groups(graph).items():
        d = graph.nodes[nodes[0]]
        params = sum(graph.nodes[n].get("params", 0) + graph.nodes[n].get("edge_params", 0) for n in nodes)
        text: list[str] = []
        if "name" in labels:
            text.append(key + (f" ×{len(nodes)}" if len(nodes) > 1 else ""))
        if "type" in labels:
            text.append(kind_text(d))
            text.extend(group_words(d))  # dropout, norm, shared parameters: part of what the layer is
        if "shape" in labels:
            text.append(size_text(d.get("shape")))
        if "params" in labels and params:
            text.append(f"{params:,} params")
        out[key] = sized(key, tuple(nodes), tuple(text), d)
    return out


def sized(key: str, nodes: tuple[str, ...], lines: tuple[str, ...], d: dict) -> Box:
    """A box saying ``lines`` for a group whose first node's data is ``d``: its glyph, and a size
    that fits the text (slanted sides and a cylinder's rims take room from it)."""
    shape, extra = _glyph(d)
    width = max([text_width(t, BOX_FONT) for t in lines] + [24.0]) + 2 * PAD_X
    if shape == "trapezium":
        width *= 1.35
    height = max(len(lines), 1) * LINE + 2 * PAD_Y
    if shape == "cylinder":
        height += 10
    return Box(key, nodes, lines, width, height, d["type"], shape, extra)


def group_edges(graph: nx.DiGraph, of: dict[str, str]) -> list[tuple[str, str, dict]]:
    """Group-level edges (one per pair and kind), the chains inside a collapsed repeat left out."""
    seen: set[tuple[str, str, bool]] = set()
    out = []
    for u, v, e in graph.edges(data=True):
        a, b = of[u], of[v]
        back = bool(e["delay"] or e["feedback"])
        if a == b and u != v and e["kind"] != "identity":
            continue
        if (a, b, back) in seen:
            continue
        seen.add((a, b, back))
        out.append((a, b, e))
    return out


def _length(widths: list[float], row: list[int]) -> float:
    return sum(widths[k] for k in row) + COL_GAP * (len(row) - 1)


def _pack(widths: list[float], limit: float) -> list[list[int]]:
    """Layers in order into rows no longer than ``limit`` (a layer longer than it gets a row alone)."""
    split: list[list[int]] = [[]]
    for k in range(len(widths)):
        if split[-1] and _length(widths, [*split[-1], k]) > limit + 1e-9:
            split.append([])
        split[-1].append(k)
    return split


def fold(widths: list[float], heights: list[float], aspect: float, extra_h: float) -> list[list[int]]:
    """Split layers (in order) into rows so that the drawing's width / height comes closest to
    ``aspect``; ``extra_h`` is the height of the title above the rows.

    For each number of rows, the rows are as short as that many rows allow (the shortest longest
    row, found among the lengths of runs of consecutive layers), filled like lines of text.
    """
    n = len(widths)
    lengths = sorted({_length(widths, list(range(i, j))) for i in range(n) for j in range(i + 1, n + 1)})
    best: tuple[float, list[list[int]]] | None = None
    for rows in range(1, n + 1):
        lo, hi = 0, len(lengths) - 1  # the shortest limit that packs into at most `rows` rows
        while lo < hi:
            mid = (lo + hi) // 2
            if len(_pack(widths, lengths[mid])) <= rows:
                hi = mid
            else:
                lo = mid + 1
        split = _pack(widths, lengths[lo])
        width = max(_length(widths, row) for row in split)
        height = sum(max(heights[k] for k in row) for row in split) + ROW_GAP * (len(split) - 1) + extra_h
        score = abs(math.log(width / height / aspect))
        if best is None or score < best[0] - 1e-9:
            best = (score, split)
    assert best is not None
    return best[1]


@dataclass(frozen=True)
class Marks:
    """What a box carries on its own sides: a loop (``"delay"``: a recurrent group, dashed, t−1;
    ``"symmetric"``: a group joined to itself, plain), and a residual bypass."""

    loop: str | None = None
    bypass: bool = False

    def room(self) -> tuple[float, float]:
        """Space beside the box before (above) and after it across the flow: the bypass takes the
        upper side, the loop the upper one too unless the bypass is there."""
        before = routes.LOOP_ROOM if self.loop or self.bypass else 0.0
        return before, routes.LOOP_ROOM if self.loop and self.bypass else 0.0


def self_marks(graph: nx.DiGraph, box: dict[str, Box], edges: list[tuple[str, str, dict]]) -> dict[str, Marks]:
    """Per box, its loop and bypass, from its group's self-edges (the recurrent family's loop
    when the graph has none)."""
    marks: dict[str, Marks] = {}
    for a, b, e in edges:
        if a == b:
            m = marks.get(a, Marks())
            if e["kind"] == "identity":
                marks[a] = Marks(m.loop, True)
            else:
                marks[a] = Marks("symmetric" if e["kind"] == "symmetric" and not e["delay"] else "delay", m.bypass)
    for key, bx in box.items():
        d = graph.nodes[bx.nodes[0]]
        if d["cell"].recurrent and d["options"].get("slots") is None and not graph.has_edge(bx.nodes[0], bx.nodes[0]):
            marks[key] = Marks("delay", marks.get(key, Marks()).bypass)
    return marks


@dataclass(frozen=True)
class Placed:
    """The boxes placed in flow coordinates, and the frame their routes run in."""

    slots: dict[str, routes.Slot]
    frame: routes.Frame
    levels: dict[tuple[int, int], int]


def place(
    box: dict[str, Box],
    columns: list[list[str]],
    rows: list[list[int]],
    links: list[routes.Link],
    plans: list[routes.Plan],
    marks: dict[str, Marks],
    tb: bool,
    slot_of: dict[str, int] | None = None,
) -> Placed:
    """Columns along the flow with gaps wide enough for their tracks, rows across it with
    channels tall enough for theirs; a box with a loop or bypass keeps room for it.

    With ``slot_of`` (one row: the unrolled view) boxes go across the flow in slots instead
    (slot 0 the rolled network, then one per time step), each slot as wide as its widest column,
    and the channels are the gaps between slots.
    """

    def along(key: str) -> float:
        return box[key].height if tb else box[key].width

    def across(key: str) -> float:
        return box[key].width if tb else box[key].height

    count = routes.gap_tracks(plans)
    gaps: dict[routes.Gap, tuple[float, float]] = {}
    col_u: dict[int, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        lead = routes.gap_width(count.get(("lead", r), 0), 0.0)
        gaps[("lead", r)] = (-lead, 0.0)
        run = 0.0
        for j, k in enumerate(row):
            width = max(along(key) for key in columns[k])
            col_u[k] = (run, run + width)
            last = j == len(row) - 1
            gap = routes.gap_width(count.get(("after", k), 0), 0.0 if last else COL_GAP)
            gaps[("after", k)] = (run + width, run + width + gap)
            run += width + gap
    left = min(lo for lo, _ in gaps.values())
    margin_w = routes.gap_width(count.get(None, 0), 0.0)
    margin = (left - margin_w, left)
    levels, tracks = routes.channel_levels(plans, links, gaps, margin)
    channels: dict[int, tuple[float, float]] = {}
    stacks = [[(key, *marks.get(key, Marks()).room()) for key in columns[k]] for k in range(len(columns))]
    if slot_of is not None:
        by_slot = _place_slots(stacks, slot_of, tracks, channels, across, along, col_u)
        return Placed(by_slot, routes.Frame(gaps, margin, channels, tracks), levels)
    # a column's boxes, with their loops' room, stacked around the row's midline: the boxes (not
    # their room) centred on it, so that a chain of single boxes stays on one straight line
    reach: list[tuple[float, float]] = []  # per column: extent above and below the midline
    centre_of: dict[str, float] = {}  # per box: its centre relative to the midline
    for stack in stacks:
        cursor, tops, bottoms = 0.0, [], []
        for key, before, after in stack:
            tops.append(cursor - before)
            centre_of[key] = cursor + across(key) / 2
            cursor += across(key)
            bottoms.append(cursor + after)
            cursor += after + LANE_GAP
        first_top = tops[0] + next(iter(stack))[1]
        mid = (first_top + cursor - LANE_GAP - stack[-1][2]) / 2  # between the first box's top and the last's bottom
        for key, _, _ in stack:
            centre_of[key] -= mid
        reach.append((mid - min(tops), max(bottoms) - mid))
    offset = 0.0
    slots: dict[str, routes.Slot] = {}
    for r, row in enumerate(rows):
        height = routes.channel_height(tracks.get(r, 0), ROW_GAP, inner=r > 0)
        channels[r] = (offset, offset + height)
        offset += height
        up, down = max(reach[k][0] for k in row), max(reach[k][1] for k in row)
        for k in row:
            u = (col_u[k][0] + col_u[k][1]) / 2
            for key, _, _ in stacks[k]:
                slots[key] = routes.Slot(u, offset + up + centre_of[key], along(key) / 2, across(key) / 2)
        offset += up + down
    channels[len(rows)] = (offset, offset + routes.channel_height(tracks.get(len(rows), 0), ROW_GAP, inner=False))
    return Placed(slots, routes.Frame(gaps, margin, channels, tracks), levels)


SLOT_GAP: Final = 36.0  # between two time steps of the unrolled view
SEPARATOR: Final = 64.0  # between the rolled network and its first time step


def _place_slots(
    stacks: list[list[tuple[str, float, float]]],
    slot_of: dict[str, int],
    tracks: dict[int, int],
    channels: dict[int, tuple[float, float]],
    across: Callable[[str], float],
    along: Callable[[str], float],
    col_u: dict[int, tuple[float, float]],
) -> dict[str, routes.Slot]:
    """Boxes across the flow by slot (see :func:`_place`); fills ``channels`` (c before slot c)."""
    n = max(slot_of.values()) + 1
    parts = {(k, s): [e for e in stack if slot_of[e[0]] == s] for k, stack in enumerate(stacks) for s in range(n)}

    def extent(part: list[tuple[str, float, float]]) -> float:
        return sum(across(key) + before + after for key, before, after in part) + LANE_GAP * max(len(part) - 1, 0)

    width = [max(extent(parts[(k, s)]) for k in range(len(stacks))) for s in range(n)]
    slots: dict[str, routes.Slot] = {}
    offset = 0.0
    for s in range(n + 1):
        least = 0.0 if s in (0, n) else (SEPARATOR if s == 1 else SLOT_GAP)
        height = routes.channel_height(tracks.get(s, 0), least, inner=0 < s < n)
        channels[s] = (offset, offset + height)
        offset += height
        if s == n:
            break
        for k in range(len(stacks)):
            cursor = offset + (width[s] - extent(parts[(k, s)])) / 2
            u = (col_u[k][0] + col_u[k][1]) / 2
            for key, before, after in parts[(k, s)]:
                cursor += before
                slots[key] = routes.Slot(u, cursor + across(key) / 2, along(key) / 2, across(key) / 2)
                cursor += across(key) + after + LANE_GAP
        offset += width[s]
    return slots


@dataclass(frozen=True)
class Structure:
    """A graph as the layers view sees it: its boxes, their edges, layers, lanes and self-marks."""

    box: dict[str, Box]
    edges: list[tuple[str, str, dict]]
    layer: dict[str, int]
    reversed: set[tuple[str, str]]  # forward edges turned back to break a cycle
    columns: list[list[str]]
    marks: dict[str, Marks]


def structure(graph: nx.DiGraph, labels: tuple[str, ...]) -> Structure:
    """Boxes, group-level edges, layers by longest path over the forward edges, lanes, marks."""
    box = boxes(graph, labels)
    edges = group_edges(graph, {n: key for key, b in box.items() for n in b.nodes})
    keys = list(box)
    forward = [(a, b) for a, b, e in edges if a != b and not (e["delay"] or e["feedback"])]
    layer, reversed_ = lanes.layering(keys, forward)
    columns = lanes.order_lanes(keys, layer, [p for p in forward if p not in reversed_])
    return Structure(box, edges, layer, reversed_, columns, self_marks(graph, box, edges))


def edge_style(e: dict, *, dashed: bool) -> dict[str, str]:
    """How an edge of this kind is drawn: symmetric without arrowheads, identity bold with an open
    arrowhead; dashed when it runs backwards."""
    style: dict[str, str] = {}
    if e["kind"] == "symmetric":
        style |= {"dir": "none", "penwidth": "1.4"}
    elif e["kind"] == "identity":
        style |= {"style": "bold", "penwidth": "2", "arrowhead": "empty"}
    if dashed:
        style |= {"style": "dashed"}
    return style


def group_links(st: Structure, back_channel: int | None = None) -> tuple[list[routes.Link], list[dict[str, str]]]:
    """The links between different boxes and their styles; delayed and feedback edges are labelled
    ``t−1``, and backward ones run in ``back_channel`` when given (else under their row)."""
    links, styles = [], []
    for a, b, e in st.edges:
        if a == b:
            continue
        delayed = bool(e["delay"] or e["feedback"])
        back = delayed or (a, b) in st.reversed or st.layer[b] <= st.layer[a]
        channel = back_channel if back else None
        label = "t−1" if delayed else "state" if (e.get("options") or {}).get("port") == STATE_PORT else ""
        links.append(routes.Link(a, b, back, label, e["kind"] != "symmetric", channel=channel))
        styles.append(edge_style({**e, "kind": drawn_kind(e)}, dashed=back))  # a state copy: one-to-one
    return links, styles


def layers_dot(
    graph: nx.DiGraph,
    settings: DrawSettings,
    name: str,
    caption: str,
) -> str:
    """The layers view as DOT text for ``neato -n2``: boxes and edge routes pinned."""
    theme = THEME[settings.theme]
    aspect = settings.aspect
    st = structure(graph, LABELS if settings.labels is None else settings.labels)
    box, layer, columns, marks = st.box, st.layer, st.columns, st.marks
    tb = settings.direction == "TB"
    loop_room = {k: sum(marks.get(k, Marks()).room()) for k in box}
    # across the flow, boxes stack; along it, layers follow each other (TB swaps the two)
    along = [max(box[k].height if tb else box[k].width for k in col) for col in columns]
    across = [
        sum((box[k].width if tb else box[k].height) + loop_room[k] + LANE_GAP for k in col) - LANE_GAP
        for col in columns
    ]
    title_h = 3.0 * TITLE_SIZE if caption_text(caption) else 0.0
    if tb:  # rows become columns: fold against the inverse aspect
        rows = fold(along, across, 1 / aspect, 0.0)
    else:
        rows = fold(along, across, aspect, title_h)
    row_of = {k: r for r, row in enumerate(rows) for k in row}
    first = {r: row[0] for r, row in enumerate(rows)}
    upper = {key: (j + 0.5) / len(col) <= 0.5 for col in columns for j, key in enumerate(col)}
    links, styles = group_links(st)
    plans = routes.plan(links, layer, row_of, first, upper)
    placed = place(box, columns, rows, links, plans, marks, tb)
    paths = routes.route(links, plans, placed.slots, placed.frame, len(rows), placed.levels)
    paths.extend(self_paths(marks, placed.slots, links, styles))
    scene = Scene(box, placed.slots, links, paths, styles, [], settings.direction)
    return scene_dot(scene, theme, name, caption, legend=settings.legend, aspect=aspect)


def self_paths(
    marks: dict[str, Marks], slots: dict[str, routes.Slot], links: list[routes.Link], styles: list[dict[str, str]]
) -> list[routes.Route]:
    """The loops and bypasses of the marked boxes; their links and styles are appended to ``links``
    and ``styles`` in the same order."""
    paths = []
    for key, m in marks.items():
        slot = slots[key]
        if m.bypass:
            paths.append(routes.bypass(slot, below=False))
            links.append(routes.Link(key, key, False))
            styles.append({"style": "bold", "penwidth": "2", "arrowhead": "empty"})
        if m.loop == "delay":
            paths.append(routes.loop(slot, below=m.bypass))
            links.append(routes.Link(key, key, True, "t−1"))
            styles.append({"style": "dashed"})
        elif m.loop == "symmetric":
            paths.append(routes.loop(slot, below=m.bypass, arrow=False))
            links.append(routes.Link(key, key, False, arrow=False))
            styles.append({"dir": "none", "penwidth": "1.4"})
    return paths


@dataclass(frozen=True)
class Scene:
    """A layers-view drawing before it is DOT text: boxes placed in flow coordinates, their edge
    routes, and free text (``notes``: text, where, font size)."""

    box: dict[str, Box]
    slots: dict[str, routes.Slot]
    links: list[routes.Link]
    paths: list[routes.Route]
    styles: list[dict[str, str]]
    notes: list[tuple[str, routes.Point, float]]
    flow: str  # "LR", "TB" (downwards) or "BT" (upwards)


def _page(flow: str) -> Callable[[routes.Point], tuple[float, float]]:
    """Flow coordinates (u along the flow, v across it) to Graphviz's page (y up)."""
    if flow == "TB":
        return lambda p: (p[1], -p[0])
    if flow == "BT":
        return lambda p: (p[1], p[0])
    return lambda p: (p[0], -p[1])


def scene_dot(scene: Scene, theme: Theme, name: str, caption: str, *, legend: bool, aspect: float) -> str:
    """A scene as DOT text for ``neato -n2``: boxes, routes, notes, the title above and the legend
    beside them, padded to ``aspect``."""
    page = _page(scene.flow)
    box = scene.box
    caption = caption_text(caption)
    title_h = 3.0 * TITLE_SIZE if caption else 0.0
    legend_of = legend_types(b.cell_type for b in box.values()) if legend else []
    pos = {key: page((s.u, s.v)) for key, s in scene.slots.items()}
    lines = [
        f"digraph {quote(name)} {{",
        "  graph " + _attrs(bgcolor=theme.background, pad=_num(PAD / 72)),
        f"  node {_attrs(fontname=FONT, fontsize=_num(BOX_FONT), penwidth='1')}",
        f"  edge {_attrs(color=theme.ink, penwidth='1', arrowsize='0.7', fontname=FONT, fontsize='8', fontcolor=theme.ink)}",
    ]
    for key, bx in box.items():
        x, y = pos[key]
        node_attrs = {
            "pos": _point((x, y)),
            "shape": bx.shape,
            "label": "\n".join(bx.lines),
            "width": _num(round(bx.width / 72, 3)),
            "height": _num(round(bx.height / 72, 3)),
            "fillcolor": theme.fill(bx.cell_type),
            "color": theme.outline(bx.cell_type),
            "fontcolor": "#000000",
            "fixedsize": "true",
            **_turned(bx.extra, scene.flow),
            **_box_style(theme, bx.cell_type, bx.shape),
        }
        lines.append(f"  {quote(key)} {_attrs(**node_attrs)}")
    xs = [pos[k][0] + s * box[k].width / 2 for k in box for s in (-1, 1)]
    ys = [pos[k][1] + s * box[k].height / 2 for k in box for s in (-1, 1)]
    for path in scene.paths:
        for p in (*path.points, *([path.label_at] if path.label_at else [])):
            x, y = page(p)
            xs.append(x)
            ys.append(y)
    for k, (text, at, size) in enumerate(scene.notes):
        x, y = page(at)
        half = text_width(text, size) / 2 + 4
        xs.extend((x - half, x + half))
        ys.extend((y - size, y + size))
        lines.append(text_node(f"~note{k}", x, y, text, size, theme.ink))  # centred on its point
    left, right = (min(xs), max(xs)) if xs else (0.0, 0.0)
    bottom, top = (min(ys), max(ys)) if ys else (0.0, 0.0)
    if legend_of:
        lx = right + 30
        for k, t in enumerate(legend_of):
            ly = top - 8 - k * LEGEND_ROW
            glyph, turn = _type_glyph(t)
            lines.append(
                f"  {quote(f'~legend:{t}')} "
                + _attrs(
                    pos=_point((lx, ly)),
                    shape=glyph,
                    label="",
                    width="0.26",
                    height="0.18",
                    fixedsize="true",
                    fillcolor=theme.fill(t),
                    color=theme.outline(t),
                    **_turned(turn, scene.flow),
                    **_box_style(theme, t, glyph),
                )
            )
            label = CELLS[t].label
            lines.append(
                text_node(
                    f"~legend:{t}~text",
                    lx + 24,
                    ly,
                    label,
                    LABEL_SIZE + 1,
                    theme.ink,
                    width=text_width(label, LABEL_SIZE + 1) + 16,
                )
            )
        right = max(right, lx + 24 + max(text_width(CELLS[t].label, LABEL_SIZE + 1) + 16 for t in legend_of))
        bottom = min(bottom, top - 8 - (len(legend_of) - 1) * LEGEND_ROW - 10)
    if caption:  # the title sits just above the drawing, so that padding goes around both
        tx, ty = (left + right) / 2, top + 0.55 * title_h
        title = _attrs(
            pos=_point((tx, ty)),
            shape="plaintext",
            label=caption,
            fontname=FONT,
            fontsize=_num(TITLE_SIZE),
            fontcolor=theme.ink,
            fixedsize="true",
            width=_num(round((text_width(caption, TITLE_SIZE) + 12) / 72, 3)),
            height=_num(round(1.3 * TITLE_SIZE / 72, 3)),
        )
        lines.append(f"  {quote('~title')} {title}")
        top += title_h
    left, right, top, bottom = left - 12, right + 12, top + 12, bottom - 12  # corners clear of every node
    # pad to the aspect: two invisible corners of a box of the target shape around everything
    width, height = right - left + 2 * PAD, top - bottom + 2 * PAD  # as the SVG will be, pad included
    if width / height < aspect:
        grow = (aspect * height - width) / 2
        left, right = left - grow, right + grow
    else:
        grow = (width / aspect - height) / 2
        top, bottom = top + grow, bottom - grow
    for k, corner in enumerate(((left, bottom), (right, top))):
        lines.append(
            f"  {quote(f'~corner{k}')} {_attrs(pos=_point(corner), shape='point', style='invis', width='0.01')}"
        )
    for link, path, style in zip(scene.links, scene.paths, scene.styles, strict=True):
        spline = " ".join(_point(page(p)) for p in path.points)
        attrs = {"pos": f"e,{_point(page(path.tip))} {spline}" if path.tip else spline, **style}
        if path.label_at:
            attrs |= {"label": link.label or "t−1", "lp": _point(page(path.label_at))}
        lines.append(f"  {quote(link.a)} -> {quote(link.b)} {_attrs(**attrs)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _turned(extra: tuple[tuple[str, str], ...], flow: str) -> dict[str, str]:
    """A glyph's attributes for the drawing's direction: a trapezium narrows (or widens) along
    the flow, which runs downwards (TB) or upwards (BT) in a vertical drawing."""
    attrs = dict(extra)
    if flow in ("TB", "BT") and "orientation" in attrs:
        turn = {"TB": {"270": "180", "90": "0"}, "BT": {"270": "0", "90": "180"}}[flow]
        attrs["orientation"] = turn[attrs["orientation"]]
    return attrs


def _point(p: tuple[float, float]) -> str:
    return f"{_num(round(p[0], 2))},{_num(round(p[1], 2))}"


def _box_style(theme: Theme, cell_type: str, shape: str) -> dict[str, str]:
    """A box's own ``style``: not rounded for glyph outlines, broken outline in ``print``."""
    parts = ["filled"] if shape != "box" else ["rounded", "filled"]
    outline = theme.outline_style(cell_type)
    if outline:
        parts.append(outline)
    return {"style": ",".join(parts)}
