"""Layouts and graphs -> DOT text (pure: runs nothing, needs no Graphviz binary).

The cells view pins every node (``neato -n2``, positions in points): Graphviz only paints, in
declaration order, over lines drawn first (``outputorder=edgesfirst``) — handlebar, then cell,
then its black marker, so the cell hides the lower half of its handlebar and every line that
passes behind it, exactly as the chart relies on. The layers view is an ordinary ``dot`` graph
with one node per group.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Final

from ..cells import CELLS
from ..errors import terminal_safe
from ..graph.drawspec import DrawSettings
from ..spec.validate import TITLE_MAX
from .layout import DrawnCell, Layout
from .theme import (
    FONT,
    LABEL_SIZE,
    LINE_WIDTH,
    MARKER_WIDTH,
    PITCH,
    RADIUS,
    THEME,
    TITLE_SIZE,
    Theme,
    text_width,
)

MARGIN: Final = 0.6 * PITCH
LEGEND_ROW: Final = 0.75 * PITCH


DOT_TEXT_MAX: Final = 2000
"""Characters of one DOT string kept (Graphviz refuses quoted strings over 16,384 bytes; escaping
grows a character to 5 bytes at most, so 2,000 always fit)."""


def quote(text: str) -> str:
    """A DOT double-quoted string that shows ``text`` and nothing else, whatever ``text`` holds.

    Validation bounds names and titles, but a graph built in Python skips it, so this is the last
    line of defence: backslashes and quotes are escaped; ``&`` becomes ``&amp;`` (Graphviz decodes
    entities, and ``&#27;`` would put a raw ESC into the SVG); control characters, NUL included,
    become visible escapes such as ``\\x1b`` (XML 1.0 cannot hold them); a newline stays a line
    break; text over :data:`DOT_TEXT_MAX` characters is cut, with a hash of the whole, so that
    distinct long ids stay distinct.
    """
    if len(text) > DOT_TEXT_MAX:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        text = f"{text[: DOT_TEXT_MAX - 10]}…{digest}"
    lines = (terminal_safe(line) for line in text.split("\n"))
    body = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") for line in lines)
    return f'"{body}"'


def caption_text(text: str) -> str:
    """A caption as drawn: one line of at most :data:`~cellgraph.spec.validate.TITLE_MAX` characters
    (longer ones end in an ellipsis), the bound validation puts on titles."""
    line = " ".join(text.splitlines())
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1].rstrip() + "…"


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if not float(x).is_integer() else str(int(x))


def _inches(points: float) -> str:
    return _num(round(points / 72.0, 4))


def _attrs(**attrs: object) -> str:
    return "[" + ", ".join(f"{k}={v if isinstance(v, Raw) else quote(str(v))}" for k, v in attrs.items()) + "]"


class _Frame:
    """Pitches (x right, y down) -> Graphviz points (y up), with the LR/TB choice."""

    def __init__(self, layout: Layout, direction: str) -> None:
        self.tb = direction == "TB"
        min_x, min_y, max_x, max_y = layout.bounds
        if self.tb:
            min_x, min_y, max_x, max_y = min_y, min_x, max_y, max_x
        self.min_x, self.max_y = min_x, max_y
        self.width = (max_x - min_x) * PITCH
        self.height = (max_y - min_y) * PITCH

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        if self.tb:
            x, y = y, x
        return (x - self.min_x) * PITCH + MARGIN, (self.max_y - y) * PITCH + MARGIN


def _marker(cell: DrawnCell, px: float, py: float, theme: Theme) -> str | None:
    marker = CELLS[cell.type].style.marker
    ink = "#000000"  # markers sit on the fill: black in every theme, as in the chart
    common = {"label": "", "style": "solid", "color": ink, "penwidth": MARKER_WIDTH, "fixedsize": "true"}
    if marker == "ring":
        return _node(cell.id + "~mark", px, py, shape="circle", width=_inches(1.18 * RADIUS), **common)
    if marker == "triangle":  # apex 0.67 r above the centre, base 0.43 r below
        # Graphviz's triangle fills only the top 3/4 of its box, so the box is 4/3 as tall
        # and sits a little low to put the base where the chart has it
        return _node(
            cell.id + "~mark",
            px,
            py - 0.063 * RADIUS,
            shape="triangle",
            width=_inches(1.27 * RADIUS),
            height=_inches(1.10 / 0.75 * RADIUS),
            **common,
        )
    if marker == "square":
        return _node(cell.id + "~mark", px, py, shape="square", width=_inches(1.0 * RADIUS), **common)
    return None


def _node(node_id: str, x: float, y: float, **attrs: object) -> str:
    return f"  {quote(node_id)} {_attrs(pos=f'{_num(round(x, 2))},{_num(round(y, 2))}', **attrs)}"


def _cell_nodes(
    cell: DrawnCell, px: float, py: float, theme: Theme, node_id: str | None = None, tb: bool = False
) -> list[str]:
    out = []
    node_id = node_id or cell.id
    if cell.handlebar:  # declared first: the cell paints over its lower part
        # across the flow: on top of the cell (left to right), on its left (top to bottom)
        bx, by = (px - 1.08 * RADIUS, py) if tb else (px, py + 1.08 * RADIUS)
        out.append(
            _node(
                node_id + "~bar",
                bx,
                by,
                shape="circle",
                label="",
                fixedsize="true",
                width=_inches(0.96 * RADIUS),
                style="solid",
                color=theme.ink,
                penwidth=LINE_WIDTH,
            )
        )
    out.append(
        _node(
            node_id,
            px,
            py,
            shape="circle",
            label="",
            fixedsize="true",
            width=_inches(2 * RADIUS),
            style=",".join(filter(None, ("filled", theme.outline_style(cell.type)))),
            fillcolor=theme.fill(cell.type),
            color=theme.outline(cell.type),
            penwidth=theme.outline_width,
        )
    )
    mark = _marker(DrawnCell(node_id, cell.group, cell.index, cell.type, cell.x, cell.y), px, py, theme)
    if mark:
        out.append(mark)
    return out


def _arc(a: tuple[float, float], b: tuple[float, float], tb: bool) -> str:
    """A skip arc from the upper-right rim of a to the upper-left rim of b, apex 0.5 p above."""
    if tb:  # flow runs downwards: the arc bulges to the left instead of upwards
        (ax, ay), (bx, by) = a, b
        p0 = (ax - RADIUS * math.sin(math.radians(50)), ay - RADIUS * math.cos(math.radians(50)))
        p3 = (bx - RADIUS * math.sin(math.radians(50)), by + RADIUS * math.cos(math.radians(50)))
        apex = min(ax, bx) - 0.5 * PITCH
        c = (4 * apex - p0[0]) / 3
        return " ".join(
            f"{_num(round(x, 2))},{_num(round(y, 2))}"
            for x, y in (p0, (c, p0[1] - (p0[1] - p3[1]) / 4), (c, p3[1] + (p0[1] - p3[1]) / 4), p3)
        )
    (ax, ay), (bx, by) = a, b
    angle = math.radians(50)
    p0 = (ax + RADIUS * math.cos(angle), ay + RADIUS * math.sin(angle))
    p3 = (bx - RADIUS * math.cos(angle), by + RADIUS * math.sin(angle))
    apex = max(ay, by) + 0.5 * PITCH
    cy = (4 * apex - p0[1]) / 3  # a symmetric cubic peaks at (p0 + 3 c) / 4
    rise = (cy - p0[1]) / math.tan(angle)
    points = (p0, (p0[0] + rise, cy), (p3[0] - rise, cy), p3)
    return " ".join(f"{_num(round(x, 2))},{_num(round(y, 2))}" for x, y in points)


class Raw(str):
    """An attribute value already written as DOT (not quoted again)."""


def legend_types(types: Iterable[str]) -> list[str]:
    """Cell types in the chart's legend order (2019)."""
    return sorted(set(types), key=lambda t: CELLS[t].legend_order)


def cells_dot(layout: Layout, settings: DrawSettings, name: str, caption: str) -> str:
    """The cells view as DOT text for ``neato -n2``."""
    theme = THEME[settings.theme]
    frame = _Frame(layout, settings.direction)
    nodes, edges = place_layout(layout, theme, MARGIN, MARGIN, "", settings.direction)
    lines = [*graph_header(name, theme), *nodes]
    top = frame.height + MARGIN
    caption = caption_text(caption)
    if caption:
        lines.append(text_node("~title", MARGIN + frame.width / 2, top + 0.85 * PITCH, caption, TITLE_SIZE, theme.ink))
    if settings.legend:  # the first row level with the network's top cells
        lines.extend(legend_nodes(layout.types, MARGIN + frame.width + 1.4 * PITCH, top + RADIUS, theme))
    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- many layouts in one drawing


def layout_extent(layout: Layout, direction: str = "LR") -> tuple[float, float]:
    """Width and height in points between the outermost cell centres (and dots, notes) of a layout."""
    frame = _Frame(layout, direction)
    return frame.width, frame.height


def place_layout(
    layout: Layout, theme: Theme, x: float, y: float, prefix: str, direction: str = "LR"
) -> tuple[list[str], list[str]]:
    """Node and edge statements of one cells view, for sheets that pin many networks in one drawing.

    The layout's bounds (its outermost cell centres) get their lower-left corner at ``(x, y)``
    points, in Graphviz's frame (y up); every id is prefixed with ``prefix`` so that several
    layouts can share one graph. Nodes and lines are the ones :func:`cells_dot` draws, without
    its title and legend. Returns ``(nodes, edges)``: put all nodes before all edges.
    """
    frame = _Frame(layout, direction)

    def at(px: float, py: float) -> tuple[float, float]:
        fx, fy = frame(px, py)
        return fx - MARGIN + x, fy - MARGIN + y

    pos = {c.id: at(c.x, c.y) for c in layout.cells}
    nodes: list[str] = []
    for cell in layout.cells:
        nodes.extend(_cell_nodes(cell, *pos[cell.id], theme, node_id=prefix + cell.id, tb=frame.tb))
    for k, (dx, dy) in enumerate(layout.dots):
        nodes.append(
            _node(
                f"{prefix}~dot{k}",
                *at(dx, dy),
                shape="circle",
                label="",
                fixedsize="true",
                width=_inches(2.2),
                style="filled",
                color=theme.muted,
                fillcolor=theme.muted,
                penwidth=0,
            )
        )
    for k, note in enumerate(layout.notes):
        nodes.append(text_node(f"{prefix}~note{k}", *at(note.x, note.y), note.text, LABEL_SIZE, theme.muted))
    edges: list[str] = []
    for line in layout.lines:
        a, b = quote(prefix + line.a), quote(prefix + line.b)
        if line.style == "arc":
            edges.append(f"  {a} -- {b} {_attrs(pos=_arc(pos[line.a], pos[line.b], frame.tb))}")
        elif line.path:  # a routed arc: its spline as computed, dashed when it runs backwards
            spline = " ".join(f"{_num(round(px, 2))},{_num(round(py, 2))}" for px, py in (at(*p) for p in line.path))
            dashed = {"style": "dashed"} if line.style == "back" else {}
            edges.append(f"  {a} -- {b} {_attrs(pos=spline, **dashed)}")
        elif line.style == "double":
            edges.append(f"  {a} -- {b} {_attrs(color=f'{theme.ink}:invis:{theme.ink}')}")
        else:
            edges.append(f"  {a} -- {b}")
    return nodes, edges


def legend_nodes(
    types: Iterable[str],
    x: float,
    top: float,
    theme: Theme,
    *,
    size: float = LABEL_SIZE + 1,
    row: float = LEGEND_ROW,
    label_width: float | None = None,
) -> list[str]:
    """A legend's nodes: one row per cell type (chart order), the cell at full size, its label right of it.

    ``x`` is the centre of the legend's cells and ``top`` the top edge of its first cell, in
    points; ``size`` is the labels' font size and ``row`` the distance between rows. The defaults
    give the legend :func:`cells_dot` draws; without ``label_width`` each label's box fits its
    text (Graphviz keeps ~8 pt of margin a side; 8 more leave room for a browser's wider font).
    """
    out = []
    for k, t in enumerate(legend_types(types)):
        y = top - RADIUS - k * row
        label = CELLS[t].label
        width = label_width if label_width is not None else text_width(label, size) + 24
        out.extend(_cell_nodes(DrawnCell(f"~legend:{t}", "~legend", k, t, 0, 0), x, y, theme))
        out.append(text_node(f"~legend:{t}~text", x + 1.25 * RADIUS, y, label, size, theme.ink, width=width))
    return out


def text_node(
    node_id: str,
    x: float,
    y: float,
    text: str,
    size: float,
    colour: str,
    *,
    font: str = FONT,
    width: float | None = None,
) -> str:
    """A pinned text node centred at ``(x, y)``; with ``width`` it is left-aligned from ``x``."""
    attrs: dict[str, object] = {"shape": "plaintext", "fontname": font, "fontsize": _num(size), "fontcolor": colour}
    if width is None:
        return _node(node_id, x, y, label=text, **attrs)
    attrs |= {"fixedsize": "true", "width": _inches(width), "height": _inches(size * 1.4)}
    return _node(node_id, x + width / 2, y, label=Raw(quote(text)[:-1] + '\\l"'), **attrs)


def graph_header(name: str, theme: Theme) -> list[str]:
    """The opening lines of a pinned cells drawing (the same graph and edge defaults as :func:`cells_dot`)."""
    return [
        f"graph {quote(name)} {{",
        f"  graph {_attrs(splines='line', outputorder='edgesfirst', bgcolor=theme.background, pad='0.1')}",
        f"  edge {_attrs(dir='none', color=theme.ink, penwidth=LINE_WIDTH)}",
    ]
