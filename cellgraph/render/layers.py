"""The layers view: one box per group, placed for a slide, edges routed by Graphviz.

A network of thirty layers drawn as one strip is unreadable on a slide, so this view places the
boxes itself: groups go in layers by longest path and in lanes within a layer (``lanes.py``, as
in the cells view), and the layers fold into rows, left to right and then down like text, the
number of rows chosen so that the drawing comes closest to the target aspect (16:9 by default);
invisible corner points then pad it to that aspect exactly. Graphviz (``neato -n``) only routes
the edges around the pinned boxes.

What a box says is chosen with ``labels``: the group's name, the chart's type name (with the
pooling or up-sampling it does), its shape as H×W×C, its parameter count. Its outline tells the
kind of layer at a glance: pooling narrows, up-sampling widens, a kernel is a stack of maps, an
external memory a cylinder. A residual connection inside a collapsed repeat is a bypass arrow
over its box, a recurrent group has its loop, delayed and feedback edges are dashed ``t−1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import networkx as nx

from ..cells import CELLS
from ..graph.drawspec import LABEL_PARTS, DrawSettings
from . import lanes
from .dot import FONT, LABEL_SIZE, _attrs, _num, caption_text, legend_types, quote, text_node
from .layout import size_text
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


def _kind_text(d: dict) -> str:
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
            text.append(_kind_text(d))
        if "shape" in labels:
            text.append(size_text(d.get("shape")))
        if "params" in labels and params:
            text.append(f"{params:,} params")
        shape, extra = _glyph(d)
        width = max([text_width(t, BOX_FONT) for t in text] + [24.0]) + 2 * PAD_X
        if shape == "trapezium":
            width *= 1.35  # the slanted sides take room from the text
        height = max(len(text), 1) * LINE + 2 * PAD_Y
        if shape == "cylinder":
            height += 10
        out[key] = Box(key, tuple(nodes), tuple(text), width, height, d["type"], shape, extra)
    return out


def _edges(graph: nx.DiGraph, of: dict[str, str]) -> list[tuple[str, str, dict]]:
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


def fold(widths: list[float], heights: list[float], aspect: float, extra_h: float) -> list[list[int]]:
    """Split layers (in order) into rows so that the drawing's width / height comes closest to
    ``aspect``; ``extra_h`` is the height of the title above the rows."""
    best: tuple[float, list[list[int]]] | None = None
    n = len(widths)
    for rows in range(1, n + 1):
        total = sum(widths) + COL_GAP * (n - rows)
        target = total / rows
        split: list[list[int]] = [[]]
        run = 0.0
        for k, w in enumerate(widths):
            remaining = n - k
            if split[-1] and run + w / 2 > target and len(split) < rows and remaining >= rows - len(split):
                split.append([])
                run = 0.0
            split[-1].append(k)
            run += w + COL_GAP
        width = max(sum(widths[k] for k in row) + COL_GAP * (len(row) - 1) for row in split)
        height = sum(max(heights[k] for k in row) for row in split) + ROW_GAP * (len(split) - 1) + extra_h
        score = abs(math.log(width / height / aspect))
        if best is None or score < best[0] - 1e-9:
            best = (score, split)
    assert best is not None
    return best[1]


def layers_dot(
    graph: nx.DiGraph,
    settings: DrawSettings,
    name: str,
    caption: str,
) -> str:
    """The layers view as DOT text for ``neato -n`` (boxes pinned, edges routed)."""
    theme = THEME[settings.theme]
    labels = LABELS if settings.labels is None else settings.labels
    aspect = settings.aspect
    box = boxes(graph, labels)
    of = {n: key for key, b in box.items() for n in b.nodes}
    edges = _edges(graph, of)
    keys = list(box)
    forward = [(a, b) for a, b, e in edges if a != b and not (e["delay"] or e["feedback"])]
    layer, reversed_ = lanes.layering(keys, forward)
    columns = lanes.order_lanes(keys, layer, [p for p in forward if p not in reversed_])
    tb = settings.direction == "TB"
    # across the flow, boxes stack; along it, layers follow each other (TB swaps the two)
    along = [max(box[k].height if tb else box[k].width for k in col) for col in columns]
    across = [sum((box[k].width if tb else box[k].height) + LANE_GAP for k in col) - LANE_GAP for col in columns]
    caption = caption_text(caption)
    title_h = 3.0 * TITLE_SIZE if caption else 0.0
    legend = legend_types(b.cell_type for b in box.values()) if settings.legend else []
    if tb:  # rows become columns: fold against the inverse aspect
        rows = fold(along, across, 1 / aspect, 0.0)
    else:
        rows = fold(along, across, aspect, title_h)
    row_of = {k: r for r, row in enumerate(rows) for k in row}
    pos: dict[str, tuple[float, float]] = {}
    offset = 0.0  # across the flow, in points, downwards (or rightwards for TB)
    for row in rows:
        band = max(across[k] for k in row)
        run = 0.0
        for k in row:
            cursor = offset + (band - across[k]) / 2
            for key in columns[k]:
                size = box[key].width if tb else box[key].height
                centre_along = run + along[k] / 2
                centre_across = cursor + size / 2
                pos[key] = (centre_across, -centre_along) if tb else (centre_along, -centre_across)
                cursor += size + LANE_GAP
            run += along[k] + COL_GAP
        offset += band + ROW_GAP
    lines = [
        f"digraph {quote(name)} {{",
        "  graph "
        + _attrs(
            splines="true",
            outputorder="edgesfirst",
            bgcolor=theme.background,
            pad=_num(PAD / 72),
            sep="+8",
            esep="+5",
        ),
        f"  node {_attrs(fontname=FONT, fontsize=_num(BOX_FONT), penwidth='1')}",
        f"  edge {_attrs(color=theme.ink, penwidth='1', arrowsize='0.7', fontname=FONT, fontsize='8', fontcolor=theme.ink)}",
    ]
    for key, bx in box.items():
        x, y = pos[key]
        node_attrs = {
            "pos": f"{_num(round(x, 2))},{_num(round(y, 2))}",
            "shape": bx.shape,
            "label": "\n".join(bx.lines),
            "width": _num(round(bx.width / 72, 3)),
            "height": _num(round(bx.height / 72, 3)),
            "fillcolor": theme.fill(bx.cell_type),
            "color": theme.outline(bx.cell_type),
            "fontcolor": "#000000",
            "fixedsize": "true",
            **dict(bx.extra),
            **_box_style(theme, bx.cell_type, bx.shape),
        }
        lines.append(f"  {quote(key)} {_attrs(**node_attrs)}")
    half_w = {k: box[k].width / 2 for k in box}
    half_h = {k: box[k].height / 2 for k in box}
    left = min(pos[k][0] - half_w[k] for k in box) if box else 0.0
    right = max(pos[k][0] + half_w[k] for k in box) if box else 0.0
    top = max(pos[k][1] + half_h[k] for k in box) if box else 0.0
    bottom = min(pos[k][1] - half_h[k] for k in box) if box else 0.0
    if legend:
        lx = right + 30
        for k, t in enumerate(legend):
            ly = top - 8 - k * LEGEND_ROW
            glyph, turn = _type_glyph(t)
            lines.append(
                f"  {quote(f'~legend:{t}')} "
                + _attrs(
                    pos=f"{_num(round(lx, 2))},{_num(round(ly, 2))}",
                    shape=glyph,
                    label="",
                    width="0.26",
                    height="0.18",
                    fixedsize="true",
                    fillcolor=theme.fill(t),
                    color=theme.outline(t),
                    **dict(turn),
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
        right = max(right, lx + 24 + max(text_width(CELLS[t].label, LABEL_SIZE + 1) + 16 for t in legend))
        bottom = min(bottom, top - 8 - (len(legend) - 1) * LEGEND_ROW - 10)
    if caption:  # the title sits just above the boxes, so that padding goes around both
        tx, ty = (left + right) / 2, top + 0.55 * title_h
        title = _attrs(
            pos=f"{_num(round(tx, 2))},{_num(round(ty, 2))}",
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
    for k, (cx, cy) in enumerate(((left, bottom), (right, top))):
        lines.append(
            f"  {quote(f'~corner{k}')} {_attrs(pos=f'{_num(round(cx, 2))},{_num(round(cy, 2))}', shape='point', style='invis', width='0.01')}"
        )
    for a, b, e in edges:
        attrs: dict[str, str] = {}
        back = bool(e["delay"] or e["feedback"]) or (a, b) in reversed_
        if e["kind"] == "symmetric":
            attrs |= {"dir": "none", "penwidth": "1.4"}
        if a == b and e["kind"] == "identity":  # a residual inside a collapsed repeat: a bypass
            attrs |= {"tailport": "w", "headport": "e", "style": "bold", "penwidth": "2", "arrowhead": "empty"}
        elif e["kind"] == "identity":
            attrs |= {"style": "bold", "penwidth": "2", "arrowhead": "empty"}
        if e["delay"] or e["feedback"] or (a == b and e["kind"] != "identity"):
            attrs |= {"style": "dashed", "label": "t−1"}
            if a == b:
                attrs |= {"tailport": "ne", "headport": "nw"}
        elif back:
            attrs |= {"style": "dashed"}
        if a != b:
            attrs |= _ports(row_of[layer[a]], row_of[layer[b]], layer[b] - layer[a], back, tb)
        lines.append(f"  {quote(a)} -> {quote(b)} {_attrs(**attrs)}" if attrs else f"  {quote(a)} -> {quote(b)}")
    for key, bx in box.items():  # the recurrent family's loop, when the graph has no self-edge
        d = graph.nodes[bx.nodes[0]]
        if d["cell"].recurrent and d["options"].get("slots") is None and not graph.has_edge(bx.nodes[0], bx.nodes[0]):
            loop = _attrs(style="dashed", label="t−1", tailport="ne", headport="nw")
            lines.append(f"  {quote(key)} -> {quote(key)} {loop}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _ports(row_a: int, row_b: int, span: int, back: bool, tb: bool) -> dict[str, str]:
    """Edges to the next layer of the same row run straight along the flow; the router takes
    every other edge (skips, wraps to the next row, backward edges) around the boxes. (Ports on
    those make Graphviz's router search for minutes on some layouts, so they get none.)"""
    if back and row_a == row_b and abs(span) == 1:  # under the forward edge it would lie on
        return {"tailport": "w", "headport": "w"} if tb else {"tailport": "s", "headport": "s"}
    if back or row_a != row_b or span != 1:
        return {}
    return {"tailport": "s", "headport": "n"} if tb else {"tailport": "e", "headport": "w"}


def _box_style(theme: Theme, cell_type: str, shape: str) -> dict[str, str]:
    """A box's own ``style``: not rounded for glyph outlines, broken outline in ``print``."""
    parts = ["filled"] if shape != "box" else ["rounded", "filled"]
    outline = theme.outline_style(cell_type)
    if outline:
        parts.append(outline)
    return {"style": ",".join(parts)}
