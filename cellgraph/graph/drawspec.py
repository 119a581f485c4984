"""The ``draw:`` block: rendering hints, checked against the graph.

The chart's column counts are symbolic (three blue rings stand for an LSTM layer of 64), so a
spec says how many cells each group shows, and for irregular pictures (octagons, the Kohonen
grid, DNC, AN, reservoir wiring) where they sit and which cell-level lines are drawn::

    draw:
      groups:
        h: {show: 3}                         # cells drawn for group h
        m: {cells: [[2.5, 3], [3.5, 3]]}     # explicit positions, in pitches (x right, y down)
        r: {arrange: grid, grid: [3, 4], at: [1, 0]}
      lines:                                 # cell-level lines, drawn instead of the
        - x[0] -- r[0], r[1]                 # automatic ones between the groups named
        - r[0:3] -- y

Positions are in lattice pitches with the origin at the top-left cell centre, as ZOO.md's
Appendix A gives them. The renderer (``render/``) reads the block through :func:`draw_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import networkx as nx

from ..errors import Problems, SourceLoc, did_you_mean
from ..options import Bool, Choice, FloatRange, IntRange, ListOf, Option, Text, check_options
from ..spec.edges import StatementError, parse_statement
from ..spec.load import format_path
from ..spec.model import Spec
from ..spec.validate import TITLE_MAX, text_problem


@dataclass(frozen=True)
class OneLine(Text):
    """One line of printable text, at most ``limit`` characters (a caption, a column label)."""

    limit: int = TITLE_MAX
    allow_bool: bool = False  # `label: false` turns a label off

    def check(self, value: Any) -> str | None:
        if self.allow_bool and isinstance(value, bool):
            return None
        return super().check(value) or text_problem(value, self.limit)

    def describe(self) -> str:
        return f"one line of text (at most {self.limit} characters)" + (" or false" if self.allow_bool else "")

    def schema(self) -> dict[str, Any]:
        text = {"type": "string", "maxLength": self.limit}
        return {"oneOf": [text, {"type": "boolean"}]} if self.allow_bool else text


DEFAULT_ASPECT: Final = 16 / 9
"""The layers view's width / height unless told: a 16:9 slide."""

LABEL_PARTS: Final = ("name", "type", "shape", "params")
"""What a group's label can say, in the order it says it: its name, the chart's type name, its
shape (H×W×C) and its parameter count."""

THEMES: Final = ("chart", "light", "dark", "print")
"""The themes a drawing can use, defined once: ``draw.theme``, the JSON Schema and the command
line's ``--theme`` read this; ``render.theme.THEME`` implements one palette per name (tested)."""
DEFAULT_THEME: Final = THEMES[0]

_POINT = ListOf(FloatRange(-1000.0, 1000.0), min_items=2)
DRAW_KEYS: Final[dict[str, Option]] = {
    "view": Option(Choice(("cells", "layers")), "cells", "every cell a circle (the chart) or one node per group"),
    "direction": Option(Choice(("LR", "TB")), "LR", "flow left to right, or top to bottom"),
    "theme": Option(Choice(THEMES), DEFAULT_THEME, "colours: the chart's, or a variant"),
    "legend": Option(Bool(), True, "draw a legend of the cell types used"),
    "only_lines": Option(
        Bool(),
        False,
        "cells view: draw the `lines:` alone, not the connections they leave out (to reproduce a published "
        "figure that omits some; the layers view still draws every edge)",
    ),
    "max_cells": Option(IntRange(1, 64), 6, "cells shown per group without `show:` (taller groups get an ellipsis)"),
    "caption": Option(OneLine(), None, "caption (default: the spec's title)"),
    "labels": Option(
        ListOf(Choice(LABEL_PARTS)),
        None,
        "what each group's label says: name, type, shape, params (layers view: all four; cells view:"
        " sizes of cut columns, names where the graph branches)",
    ),
    "aspect": Option(
        FloatRange(0.25, 4.0), DEFAULT_ASPECT, "width / height the layers view folds its rows to (a slide: 16:9)"
    ),
    "groups": Option(Text(), None, "per-group settings: show, cells, at, arrange, grid, spacing, handlebars, label"),
    "lines": Option(Text(), None, "cell-level lines such as `x[0] -- r[0], r[1]`"),
}
GROUP_KEYS: Final[dict[str, Option]] = {
    "show": Option(IntRange(1, 64), None, "cells drawn for this group"),
    "cells": Option(ListOf(_POINT), None, "explicit cell positions [[x, y], ...] in pitches"),
    "at": Option(_POINT, None, "position of the group's first cell, in pitches"),
    "arrange": Option(Choice(("column", "row", "grid", "octagon")), "column", "how the shown cells are laid out"),
    "grid": Option(ListOf(IntRange(1, 64), min_items=2), None, "[columns, rows] for `arrange: grid`"),
    "spacing": Option(FloatRange(0.1, 10.0), 1.0, "distance between the group's cells, in pitches"),
    "handlebars": Option(Bool(), None, "draw the recurrent self-loop markers (default: on for recurrent groups)"),
    "columns": Option(IntRange(1, 64), None, "copies of a repeated group drawn (the rest collapse)"),
    "label": Option(OneLine(allow_bool=True), None, "a size label under the column (text, or false for none)"),
}


@dataclass(frozen=True)
class DrawSettings:
    """The draw block with defaults filled in, per final group name."""

    view: str = "cells"
    direction: str = "LR"
    theme: str = DEFAULT_THEME
    legend: bool = True
    only_lines: bool = False  # cells view: the `lines:` alone
    max_cells: int = 6
    caption: str = ""
    labels: tuple[str, ...] | None = None  # None: each view's default
    aspect: float = DEFAULT_ASPECT
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: tuple[tuple[str, int, str, int], ...] = ()  # (group, cell, group, cell)


RING_CELLS: Final = 20
"""Cells a complete graph (a group joined to itself by ``--``) shows without ``show:``: it is
drawn as a ring, where cutting cells would hide the very structure the drawing is for."""


def is_ring(graph: nx.DiGraph, node: str) -> bool:
    """True for a group joined to itself by a symmetric edge: a complete graph, drawn as a ring."""
    return bool(graph.has_edge(node, node) and graph.edges[node, node]["kind"] == "symmetric")


def shown_count(graph: nx.DiGraph, node: str, group: dict[str, Any], max_cells: int) -> int:
    """How many cells a group shows: `show`, `cells`, or its size capped at ``max_cells``
    (at :data:`RING_CELLS` for a complete graph)."""
    if group.get("cells"):
        return len(group["cells"])
    if group.get("show"):
        return int(group["show"])
    n = graph.nodes[node]["cell"].cells_drawn(graph.nodes[node].get("shape"))
    return max(1, min(n, max(max_cells, RING_CELLS) if is_ring(graph, node) else max_cells))


def check_draw(spec: Spec, graph: nx.DiGraph, problems: Problems) -> DrawSettings:
    """Validate ``draw:`` against the graph and return the settings the renderer uses."""
    draw = dict(spec.draw)

    def report(key: str, message: str, fix: str) -> None:
        problems.add(spec.loc(("draw", key)), f"draw.{key}", message, fix)

    check_options(
        {k: v for k, v in draw.items() if k not in ("groups", "lines")},
        DRAW_KEYS,
        report,
        "draw",
        extra=("groups", "lines"),
    )
    settings = {k: draw.get(k, o.default) for k, o in DRAW_KEYS.items() if k not in ("groups", "lines")}
    max_cells = settings["max_cells"] if isinstance(settings["max_cells"], int) else 6
    groups = _check_groups(spec, graph, draw.get("groups"), problems)
    for name, show in spec.inherited_show.items():
        problem = GROUP_KEYS["show"].kind.check(show)
        if problem:  # a part's own draw block is not validated with it: check what it passes on
            top = name.split(".")[0]
            problems.add(
                spec.loc(("cells", top, "use")),
                f"cells.{top}.use",
                f"the part's `draw.groups.{name[len(top) + 1 :]}.show`: {problem}",
                "give the part's group a `show:` of 1 to 64 cells",
            )
            continue
        for final in _finals(spec, graph, name):
            groups.setdefault(final, {"show": show})
    counts = {n: shown_count(graph, n, groups.get(n, {}), max_cells) for n in graph.nodes}
    lines = _check_lines(spec, graph, draw.get("lines"), counts, problems)
    return DrawSettings(
        view=str(settings["view"]),
        direction=str(settings["direction"]),
        theme=str(settings["theme"]),
        legend=bool(settings["legend"]),
        only_lines=bool(settings["only_lines"]),
        max_cells=max_cells,
        caption=str(settings["caption"] or spec.title or spec.name),
        labels=tuple(settings["labels"]) if isinstance(settings["labels"], list) else None,
        aspect=float(settings["aspect"]) if isinstance(settings["aspect"], int | float) else DEFAULT_ASPECT,
        groups=groups,
        lines=lines,
    )


def _finals(spec: Spec, graph: nx.DiGraph, name: str) -> tuple[str, ...]:
    if name in graph:
        return (name,)
    return tuple(n for n in spec.groups.get(name, ()) if n in graph)


def _check_groups(spec: Spec, graph: nx.DiGraph, raw: Any, problems: Problems) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        problems.add(
            spec.loc(("draw", "groups")),
            "draw.groups",
            "expected a mapping of group names to settings",
            "e.g. `groups: {h: {show: 3}}`",
        )
        return out
    known = set(graph.nodes) | set(spec.groups)
    for name, body in raw.items():
        path = ("draw", "groups", name)
        finals = _finals(spec, graph, name)
        if not finals:
            problems.add(
                spec.doc.key_loc(path),
                format_path(path),
                f"unknown group '{name}'{did_you_mean(name, known)}",
                "name a group of `cells:`",
            )
            continue
        if not isinstance(body, dict):
            problems.add(
                spec.loc(path), format_path(path), "expected a mapping such as `{show: 3}`", "e.g. `h: {show: 3}`"
            )
            continue

        def report(key: str, message: str, fix: str, _path: tuple = path) -> None:
            problems.add(spec.loc((*_path, key)), format_path((*_path, key)), message, fix)

        check_options(body, GROUP_KEYS, report, f"draw.groups.{name}")
        if (
            body.get("cells") is not None
            and body.get("show") is not None
            and isinstance(body["cells"], list)
            and body["show"] != len(body["cells"])
        ):
            report(
                "cells",
                f"{len(body['cells'])} positions for {body['show']} shown cells",
                "give one [x, y] per shown cell",
            )
        if body.get("arrange") == "grid" and body.get("grid") is None:
            report("arrange", "`arrange: grid` needs `grid: [columns, rows]`", "e.g. `grid: [3, 3]`")
        valid = {k: v for k, v in body.items() if k in GROUP_KEYS and GROUP_KEYS[k].kind.check(v) is None}
        for final in finals:
            out[final] = valid  # only checked values reach the renderer
    return out


def _check_lines(
    spec: Spec, graph: nx.DiGraph, raw: Any, counts: dict[str, int], problems: Problems
) -> tuple[tuple[str, int, str, int], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(
            spec.loc(("draw", "lines")),
            "draw.lines",
            "expected a list of line statements",
            "e.g. `lines: [x[0] -- h[1]]`",
        )
        return ()
    lines: list[tuple[str, int, str, int]] = []
    seen: set[frozenset[tuple[str, int]]] = set()
    for i, item in enumerate(raw):
        path = ("draw", "lines", i)
        loc = spec.loc(path)
        shift = 1 if path in spec.doc.quoted else 0
        try:
            hops = parse_statement(item, allow_index=True) if isinstance(item, str) else None
        except StatementError as err:
            problems.add(
                SourceLoc(loc.file, loc.line, loc.col + shift + err.offset),
                format_path(path),
                f"{err} in '{item}'",
                err.fix,
            )
            continue
        if hops is None:
            problems.add(loc, format_path(path), "expected a line statement such as `x[0] -- h[1]`", "write a string")
            continue
        for hop in hops:
            if hop.op != "--":
                problems.add(
                    SourceLoc(loc.file, loc.line, loc.col + shift + hop.offset),
                    format_path(path),
                    f"draw lines are undirected; got '{hop.op}'",
                    "use `--`",
                )
                continue
            left = [c for ref in hop.left for c in _cells_of(spec, graph, ref, counts, loc, shift, path, problems)]
            right = [c for ref in hop.right for c in _cells_of(spec, graph, ref, counts, loc, shift, path, problems)]
            for a in left:
                for b in right:
                    key = frozenset((a, b))
                    if a != b and key not in seen:
                        seen.add(key)
                        lines.append((a[0], a[1], b[0], b[1]))
    return tuple(lines)


def _cells_of(
    spec: Spec,
    graph: nx.DiGraph,
    ref: Any,
    counts: dict[str, int],
    loc: SourceLoc,
    shift: int,
    path: tuple,
    problems: Problems,
) -> list[tuple[str, int]]:
    finals = _finals(spec, graph, ref.name)
    where = SourceLoc(loc.file, loc.line, loc.col + shift + ref.offset)
    if not finals:
        problems.add(
            where,
            format_path(path),
            f"unknown group '{ref.name}'{did_you_mean(ref.name, set(graph.nodes) | set(spec.groups))}",
            "name a group of `cells:`",
        )
        return []
    if len(finals) > 1 and ref.start is not None:
        problems.add(
            where,
            format_path(path),
            f"'{ref.name}' is {len(finals)} groups; index one of them",
            f"e.g. `{finals[0]}[0]`",
        )
        return []
    out: list[tuple[str, int]] = []
    for node in finals:
        n = counts[node]
        start = 0 if ref.start is None else ref.start
        stop = n if ref.stop is None else ref.stop
        if not 0 <= start < n or not start < stop <= n:
            problems.add(
                where,
                format_path(path),
                f"'{node}' shows {n} cells (0..{n - 1}); [{start}:{stop}] is out of range",
                f"use indices below {n}, or show more cells with `draw.groups.{node}.show`",
            )
            return []
        out.extend((node, k) for k in range(start, stop))
    return out


def drawn_groups(graph: nx.DiGraph, settings: DrawSettings | None = None) -> list[tuple[str, str, int]]:
    """(group, cell type, cells shown) for every group the cells view draws, in drawing order.

    A repeated group with ``columns: k`` in its draw settings draws its first k copies only.
    ``settings`` defaults to the spec's own (``graph.graph["draw"]``).
    """
    settings = settings or graph.graph["draw"]
    out = []
    for node, d in graph.nodes(data=True):
        group = settings.groups.get(node, {})
        if d.get("repeat") and group.get("columns") is not None and d["repeat"][0] > group["columns"]:
            continue
        out.append((node, d["type"], shown_count(graph, node, group, settings.max_cells)))
    return out
