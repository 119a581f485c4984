"""``render()``: a spec -> a drawing that shows itself in Jupyter and saves to SVG, PNG or PDF."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx

from ..graph import build_graph
from ..graph.drawspec import DRAW_KEYS, DrawSettings
from ..options import Choice
from ..spec.compose import load_spec
from ..spec.model import Spec
from .dot import cells_dot, layers_dot
from .layout import layout_cells
from .output import FORMATS, RenderError, embed_metadata, portable_fonts, run_graphviz


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cellgraph")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "0+unknown"


@dataclass(frozen=True)
class Rendering:
    """A drawing of one spec: its DOT text, and the bytes Graphviz makes of it on demand."""

    dot: str
    engine: str  # "neato" (pinned cells view) or "dot" (layers view)
    name: str
    source: str = field(repr=False)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def to_bytes(self, fmt: str) -> bytes:
        """The drawing as ``svg``, ``png`` or ``pdf`` bytes (SVGs carry the spec in <metadata>)."""
        data = run_graphviz(self.dot, fmt, self.engine)
        if fmt == "svg":
            data = embed_metadata(portable_fonts(data), self.source, self.sha256, self.name, _version())
        return data

    @cached_property
    def svg(self) -> str:
        return self.to_bytes("svg").decode("utf-8")

    def _repr_svg_(self) -> str:  # Jupyter shows the object inline
        return self.svg

    def save(self, path: str | Path) -> Path:
        """Write the drawing; the format follows the extension (.svg, .png, .pdf, or .dot)."""
        p = Path(path)
        fmt = p.suffix.lower().lstrip(".")
        if fmt == "dot" or fmt == "gv":
            p.write_text(self.dot, encoding="utf-8")
            return p
        if fmt not in FORMATS:
            raise RenderError(f"cannot tell the format of '{p.name}': use .svg, .png, .pdf or .dot")
        p.write_bytes(self.svg.encode("utf-8") if fmt == "svg" else self.to_bytes(fmt))
        return p


def _graph_of(spec: str | Path | Spec | nx.DiGraph, params: Mapping[str, Any] | None) -> nx.DiGraph:
    if isinstance(spec, nx.DiGraph):
        return spec
    if isinstance(spec, Spec):
        return build_graph(spec)
    return build_graph(load_spec(spec, params))


def render(
    spec: str | Path | Spec | nx.DiGraph,
    *,
    view: str | None = None,
    theme: str | None = None,
    direction: str | None = None,
    legend: bool | None = None,
    max_cells: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> Rendering:
    """Draw a spec the way the Neural Network Zoo chart draws networks.

    Args:
        spec: a spec file, a loaded :class:`Spec`, or a graph from :func:`build_graph`.
        view: ``cells`` (every cell a circle, the chart's look) or ``layers`` (a node per group).
        theme: ``chart``, ``light``, ``dark`` or ``print``.
        direction: ``LR`` or ``TB``.
        legend: draw the legend of the cell types used.
        max_cells: cells shown per group without a `show:` of its own.
        params: param overrides, as ``-p`` gives them.

    The keyword arguments override the spec's ``draw:`` block.

    >>> render("specs/zoo/lstm.yaml").save("lstm.svg")  # doctest: +SKIP
    """
    graph = _graph_of(spec, params)
    base: DrawSettings = graph.graph["draw"]
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "view": view,
            "theme": theme,
            "direction": direction,
            "legend": legend,
            "max_cells": max_cells,
        }.items()
        if v is not None
    }
    _check_choices(changes)
    settings = dataclasses.replace(base, **changes)
    spec_obj: Spec = graph.graph["spec"]
    caption = settings.caption
    if settings.view == "layers":
        return Rendering(layers_dot(graph, settings, spec_obj.name, caption), "dot", spec_obj.name, spec_obj.source)
    layout = layout_cells(graph, settings)
    return Rendering(cells_dot(layout, settings, spec_obj.name, caption), "neato", spec_obj.name, spec_obj.source)


def _choices(key: str) -> tuple[str, ...]:
    kind = DRAW_KEYS[key].kind
    assert isinstance(kind, Choice), f"draw key {key!r} is not a Choice"  # view, theme and direction are
    return kind.values


def _check_choices(changes: dict[str, Any]) -> None:
    # the choices `draw:` accepts, read from its one definition (a Choice per key)
    allowed = {key: _choices(key) for key in ("view", "theme", "direction")}
    for key, options in allowed.items():
        if key in changes and changes[key] not in options:
            raise RenderError(f"{key} must be one of {', '.join(options)}; got '{changes[key]}'")
    if "max_cells" in changes and not 1 <= int(changes["max_cells"]) <= 64:
        raise RenderError("max_cells must be between 1 and 64")
