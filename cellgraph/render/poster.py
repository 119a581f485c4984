"""The whole zoo on one sheet: the chart rebuilt from specs, as one pinned ``neato -n2`` drawing.

ZOO.md §3.1 poster layout: the headline, a credit line and the legend (all 14 cell types, in
the chart's order) in the top-left corner; the networks in the 2019 chart's rows, each titled
"Full Name (ABBR)" just above its cells, the networks of a row centred on one midline and spread
evenly across the sheet. Rows that sit beside the top-left block start to its right. Specs that
are not in the chart follow in extra rows, in the order given. Every network is laid out by
:func:`layout_cells` and drawn by :func:`place_layout`, so a network looks exactly as
``cellgraph render`` draws it; the sheet is one drawing with pinned positions, so Graphviz only
paints (well under a second).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import networkx as nx

from ..cells import CELLS
from ..graph import load_graph
from .api import Rendering
from .dot import caption_text, graph_header, layout_extent, legend_nodes, place_layout, text_node
from .layout import Layout, layout_cells
from .output import RenderError, output_options
from .theme import DEFAULT_THEME, FONT, FONT_BOLD, PITCH, RADIUS, THEME, TITLE_SIZE, text_width

CHART_ROWS: Final = (
    ("P", "FF", "RBF", "DFF"),
    ("RNN", "LSTM", "GRU"),
    ("AE", "VAE", "DAE", "SAE"),
    ("MC", "HN", "BM", "RBM", "DBN"),
    ("DCN", "DN", "DCIGN"),
    ("GAN", "LSM", "ELM", "ESN"),
    ("DRN", "DNC", "NTM"),
    ("CN", "KN", "AN"),
)  # the 2019 chart's rows (ZOO.md §3.1)
CHART_ORDER: Final = tuple(abbr for row in CHART_ROWS for abbr in row)
HEADLINE: Final = ("A mostly complete chart of", "Neural Networks")
CREDIT: Final = (
    "Rebuilt from cellgraph specs, after F. van Veen & S. Leijnen,",
    "The Neural Network Zoo, 2019",
)
POSTER_DPI: Final = 300  # print resolution: an A-series sheet's PNG stays sharp (about 4500x6900 px, 3 MB)
EXTRA_ROW: Final = 4  # networks per row for specs that are not in the chart

_MARGIN: Final = 0.8 * PITCH
_GAP: Final = 1.2 * PITCH  # least space between two networks of a row
_ROW_GAP: Final = 1.0 * PITCH
_TITLE_ABOVE: Final = 0.85 * PITCH  # title centre above the top cell centres, as cells_dot puts it
_HEAD_SIZES: Final = (20.0, 34.0)
_CREDIT_SIZE: Final = 10.0
_LEGEND_SIZE: Final = 12.0
_TEXT_PAD: Final = 24.0  # a left-aligned text box needs its label plus Graphviz's margins (0.11 in a side)
_TEXT_INSET: Final = 0.11 * 72  # Graphviz's margin before a left-aligned label: text starts this far in
_LEGEND_ROW: Final = 0.8 * PITCH


def abbreviation(title: str) -> str | None:
    """The ``ABBR`` of a title written "Full Name (ABBR)", or None."""
    m = re.search(r"\(([^()]+)\)\s*$", title)
    return m.group(1).strip() if m else None


def chart_order(graphs: Sequence[nx.DiGraph]) -> tuple[list[list[int]], list[int]]:
    """Indices of ``graphs`` per chart row (absent networks left out), and those not in the chart.

    A spec belongs to the chart when its title ends in one of the chart's abbreviations, "(LSTM)"
    (or, without a title, when its name is one); the first spec to claim an abbreviation gets its
    place, later ones count as extras.
    """
    slot: dict[str, int] = {}
    extras: list[int] = []
    for k, graph in enumerate(graphs):
        spec = graph.graph["spec"]
        abbr = abbreviation(spec.title) if spec.title else spec.name.upper()
        if abbr in CHART_ORDER and abbr not in slot:
            slot[abbr] = k
        else:
            extras.append(k)
    rows = [[slot[a] for a in row if a in slot] for row in CHART_ROWS]
    return [r for r in rows if r], extras


@dataclass(frozen=True)
class _Tile:
    """One network on the sheet (points, y down from the sheet's top)."""

    layout: Layout
    direction: str
    prefix: str
    title: str
    width: float  # between the outermost cell centres
    height: float
    span: float  # horizontal room it needs: cells or title, whichever is wider
    above: float  # room above the network's midline, title included
    below: float


def _tile(graph: nx.DiGraph, prefix: str) -> _Tile:
    settings = dataclasses.replace(graph.graph["draw"], legend=False)
    layout = layout_cells(graph, settings)
    width, height = layout_extent(layout, settings.direction)
    spec = graph.graph["spec"]
    title = caption_text(spec.title or spec.name)
    span = max(width + 2 * RADIUS, text_width(title, TITLE_SIZE))
    above = height / 2 + _TITLE_ABOVE + 0.7 * TITLE_SIZE
    below = height / 2 + RADIUS
    return _Tile(layout, settings.direction, prefix, title, width, height, span, above, below)


def poster_dot(graphs: Sequence[nx.DiGraph], theme: str = DEFAULT_THEME, name: str = "zoo") -> str:
    """DOT text (for ``neato -n2``) of the sheet holding every network of ``graphs``."""
    colours = THEME[theme]
    rows, extras = chart_order(graphs)
    rows += [extras[i : i + EXTRA_ROW] for i in range(0, len(extras), EXTRA_ROW)]
    used: set[str] = set()
    tiles: dict[int, _Tile] = {}
    for k in (k for row in rows for k in row):
        base = graphs[k].graph["spec"].name
        prefix = base if base not in used else f"{base}~{k}"
        used.add(prefix)
        tiles[k] = _tile(graphs[k], prefix + "/")

    # the top-left block: headline, credit, legend (y down from the sheet's top)
    types = sorted(CELLS, key=lambda t: CELLS[t].legend_order)
    head_h = [1.3 * s for s in _HEAD_SIZES]
    credit_top = sum(head_h) + 0.25 * PITCH
    legend_top = credit_top + len(CREDIT) * 1.4 * _CREDIT_SIZE + 0.6 * PITCH
    block_h = legend_top + 2 * RADIUS + (len(types) - 1) * _LEGEND_ROW
    label_w = max(text_width(CELLS[t].label, _LEGEND_SIZE) for t in types) + _TEXT_PAD
    block_w = max(
        *(
            text_width(t, s, bold=i == 1) + _TEXT_PAD
            for i, (t, s) in enumerate(zip(HEADLINE, _HEAD_SIZES, strict=True))
        ),
        *(text_width(t, _CREDIT_SIZE) + _TEXT_PAD for t in CREDIT),
        2.25 * RADIUS + label_w,
    )
    block_right = _MARGIN + block_w

    # rows: a midline each; a row beside the block starts to its right
    placed: list[tuple[float, float, list[int]]] = []  # (start x, midline y, members)
    top = _MARGIN
    for row in rows:
        above = max(tiles[k].above for k in row)
        below = max(tiles[k].below for k in row)
        start = block_right if top < _MARGIN + block_h else _MARGIN
        placed.append((start, top + above, row))
        top += above + below + _ROW_GAP
    sheet_w = max(
        block_right + _MARGIN,
        *(start + sum(tiles[k].span for k in row) + len(row) * _GAP + _MARGIN for start, _, row in placed),
    )
    sheet_h = max(top - _ROW_GAP + _MARGIN, _MARGIN + block_h + _MARGIN)

    def up(y: float) -> float:  # sheet y (down) -> Graphviz y (up)
        return round(sheet_h - y, 2)

    nodes: list[str] = []
    edges: list[str] = []
    y = _MARGIN
    for k, (text, size) in enumerate(zip(HEADLINE, _HEAD_SIZES, strict=True)):
        font = FONT_BOLD if k == 1 else FONT
        width = text_width(text, size, bold=k == 1) + _TEXT_PAD
        nodes.append(
            text_node(
                f"~headline{k}",
                _MARGIN - _TEXT_INSET,
                up(y + head_h[k] / 2),
                text,
                size,
                colours.ink,
                font=font,
                width=width,
            )
        )
        y += head_h[k]
    for k, text in enumerate(CREDIT):
        cy = _MARGIN + credit_top + (k + 0.5) * 1.4 * _CREDIT_SIZE
        width = text_width(text, _CREDIT_SIZE) + _TEXT_PAD
        nodes.append(
            text_node(f"~credit{k}", _MARGIN - _TEXT_INSET, up(cy), text, _CREDIT_SIZE, colours.muted, width=width)
        )
    nodes.extend(
        legend_nodes(
            types,
            _MARGIN + RADIUS,
            up(_MARGIN + legend_top),
            colours,
            size=_LEGEND_SIZE,
            row=_LEGEND_ROW,
            label_width=label_w,
        )
    )

    for start, mid, row in placed:
        spare = (sheet_w - _MARGIN - start - sum(tiles[k].span for k in row)) / len(row)
        x = start + spare / 2
        for k in row:
            tile = tiles[k]
            centre = x + tile.span / 2
            left, bottom = round(centre - tile.width / 2, 2), up(mid + tile.height / 2)
            n, e = place_layout(tile.layout, colours, left, bottom, tile.prefix, tile.direction)
            title_y = mid - tile.height / 2 - _TITLE_ABOVE
            nodes.append(
                text_node(tile.prefix + "~title", round(centre, 2), up(title_y), tile.title, TITLE_SIZE, colours.ink)
            )
            nodes.extend(n)
            edges.extend(e)
            x += tile.span + spare

    # two invisible corner points pin the sheet's extent: the same margins in every format
    corners = [
        f'  "~corner{k}" [pos="{cx},{cy}", shape=point, width=0.01, style=invis, label=""]'
        for k, (cx, cy) in enumerate(((0, 0), (round(sheet_w, 2), round(sheet_h, 2))))
    ]
    return "\n".join([*graph_header(name, colours), *corners, *nodes, *edges, "}"]) + "\n"


@dataclass(frozen=True)
class Poster(Rendering):
    """The sheet as a :class:`Rendering`; its PNG is made at :data:`POSTER_DPI` unless told otherwise.

    Its PNG keeps the sheet's own margins (two invisible corner points pin them) rather than being
    trimmed to its ink like a single drawing's.
    """


def render_poster(
    specs: Sequence[str | Path | nx.DiGraph],
    *,
    theme: str = DEFAULT_THEME,
    name: str = "zoo",
    dpi: float | None = None,
    transparent: bool = False,
    font: str | None = None,
    size: str | tuple[float, float] | None = None,
    metadata: str | None = None,
) -> Poster:
    """The whole zoo (or any set of specs) on one sheet, in the chart's order.

    Args:
        specs: spec files, or graphs from :func:`load_graph`.
        theme: ``chart`` (default), ``light``, ``dark`` or ``print``.
        name: the drawing's name (its SVG title).
        dpi, transparent, font, size, metadata: as for :func:`cellgraph.render.api.render`, except
            that the PNG is made at :data:`POSTER_DPI` (300) by default.

    Returns:
        a :class:`Poster`; ``.save("zoo.pdf")`` writes it (``.svg``, ``.png``, ``.pdf`` or ``.dot``).
        Its SVG carries a manifest (each spec's file name and SHA-256) in ``<metadata>``.

    Raises:
        SpecError: a spec has a problem.
        RenderError: no specs, or Graphviz is missing or failed.

    >>> render_poster(sorted(Path("specs/zoo").glob("*.yaml"))).save("zoo.pdf")  # doctest: +SKIP
    """
    opts = output_options(
        dpi=dpi, transparent=transparent, font=font, size=size, metadata=metadata, default_dpi=POSTER_DPI, trim=False
    )
    graphs = [s if isinstance(s, nx.DiGraph) else load_graph(s) for s in specs]
    if not graphs:
        raise RenderError("a poster needs at least one spec")
    manifest = "".join(
        f"{Path(g.graph['spec'].file).name}  sha256:{hashlib.sha256(g.graph['spec'].source.encode('utf-8')).hexdigest()}\n"
        for g in graphs
    )
    return Poster(poster_dot(graphs, theme, name), "neato", name, manifest, opts)
