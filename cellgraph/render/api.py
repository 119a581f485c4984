"""``render()``: a spec -> a drawing that shows itself in Jupyter and saves to SVG, PNG or PDF."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx

from ..graph import build_graph
from ..graph.drawspec import DRAW_KEYS, LABEL_PARTS, DrawSettings
from ..options import Choice
from ..spec.compose import load_spec
from ..spec.model import Spec
from .dot import cells_dot
from .layers import layers_dot
from .layout import layout_cells
from .output import (
    DEFAULT_OUTPUT,
    FORMATS,
    OutputOptions,
    RenderError,
    embed_metadata,
    output_options,
    png_bytes,
    portable_fonts,
    run_graphviz,
    styled_dot,
)
from .unroll import check_steps, unrolled_dot


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cellgraph")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "0+unknown"


@dataclass(frozen=True)
class Rendering:
    """A drawing of one spec: its DOT text, and the bytes Graphviz makes of it on demand.

    ``dot`` is the drawing as ``dot.py`` wrote it (what the golden files pin); ``options`` say how
    it becomes a file (dpi, box, font, background, metadata) and are applied in :meth:`to_bytes`.
    """

    dot: str
    engine: str  # "neato": Graphviz only paints what cellgraph placed and routed (both views)
    name: str
    source: str = field(repr=False)
    options: OutputOptions = DEFAULT_OUTPUT

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def to_bytes(self, fmt: str) -> bytes:
        """The drawing as ``svg``, ``png`` or ``pdf`` bytes (SVGs carry the spec in <metadata>)."""
        if fmt not in FORMATS:
            raise RenderError(f"unknown output format '{fmt}'; use one of: {', '.join(FORMATS)}")
        opts = self.options
        dot = styled_dot(self.dot, opts, fmt)
        if fmt == "png":
            return png_bytes(lambda dpi: run_graphviz(dot, fmt, self.engine, dpi=dpi), opts)
        data = run_graphviz(dot, fmt, self.engine)
        if fmt == "svg":
            data = portable_fonts(data, opts.font)
            data = embed_metadata(data, self.source, self.sha256, self.name, _version(), opts.metadata)
        return data

    @cached_property
    def svg(self) -> str:
        return self.to_bytes("svg").decode("utf-8")

    def _repr_svg_(self) -> str:  # Jupyter shows the object inline
        return self.svg

    def tikz(self, *, standalone: bool = True) -> str:
        """The drawing as TikZ: a LaTeX document, or (``standalone=False``) the ``tikzpicture``
        alone, to ``\\input`` into a Beamer slide."""
        from .tikz import to_tikz

        return to_tikz(styled_dot(self.dot, self.options, "svg"), self.engine, standalone=standalone)

    def save(self, path: str | Path) -> Path:
        """Write the drawing; the format follows the extension (.svg, .png, .pdf, .tex or .dot)."""
        p = Path(path)
        fmt = p.suffix.lower().lstrip(".")
        if fmt == "dot" or fmt == "gv":
            p.write_text(styled_dot(self.dot, self.options, "dot"), encoding="utf-8")
            return p
        if fmt == "tex":
            p.write_text(self.tikz(), encoding="utf-8")
            return p
        if fmt not in FORMATS:
            raise RenderError(f"cannot tell the format of '{p.name}': use .svg, .png, .pdf, .tex or .dot")
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
    dpi: float | None = None,
    transparent: bool = False,
    font: str | None = None,
    size: str | tuple[float, float] | None = None,
    metadata: str | None = None,
    labels: str | Sequence[str] | None = None,
    aspect: str | float | None = None,
    unroll: int | None = None,
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
        dpi: PNG pixels per inch (default 192; SVG and PDF are vector and ignore it).
        transparent: no background fill (PNG with an alpha channel; SVG and PDF without the page colour).
        font: the font family of titles, labels and the legend (default Liberation Sans, Helvetica's metrics).
        size: a box in inches, ``"8x4.5"`` or ``(8, 4.5)``, that the drawing is fitted into, aspect
            kept (a PNG gets at most ``size x dpi`` pixels).
        metadata: what the SVG embeds: ``full`` (the spec's text and hash, the default), ``hash``
            (its SHA-256 and name only) or ``none``.
        labels: what each group's label says, any of ``name``, ``type``, ``shape``, ``params``
            (a list, or one comma-separated string; ``none`` for no labels).
        aspect: the width / height the layers view folds its rows to: ``16:9`` (the default),
            ``4:3``, or a number.
        unroll: draw a recurrent network unrolled over this many time steps beside its rolled
            drawing (boxes, as in the layers view; inputs at the bottom, or at the top with
            ``direction="TB"``).

    The drawing keyword arguments override the spec's ``draw:`` block; the output ones apply
    when the drawing is written. A bad value raises :class:`RenderError` naming the option.

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
            "labels": _labels(labels),
            "aspect": _aspect(aspect),
        }.items()
        if v is not None
    }
    _check_choices(changes)
    opts = output_options(dpi=dpi, transparent=transparent, font=font, size=size, metadata=metadata)
    settings = dataclasses.replace(base, **changes)
    spec_obj: Spec = graph.graph["spec"]
    caption = settings.caption
    if unroll is not None:
        if view == "cells":
            raise RenderError("unroll draws the layers view's boxes: leave out view='cells' (--view cells)")
        dot = unrolled_dot(graph, settings, spec_obj.name, caption, check_steps(unroll))
        return Rendering(dot, "neato", spec_obj.name, spec_obj.source, opts)
    if settings.view == "layers":
        dot = layers_dot(graph, settings, spec_obj.name, caption)
        return Rendering(dot, "neato", spec_obj.name, spec_obj.source, opts)
    layout = layout_cells(graph, settings)
    return Rendering(cells_dot(layout, settings, spec_obj.name, caption), "neato", spec_obj.name, spec_obj.source, opts)


def _labels(labels: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"name,shape"`` or ``["name", "shape"]`` -> a checked tuple; ``"none"`` -> no labels."""
    if labels is None:
        return None
    parts = [p.strip() for p in labels.split(",")] if isinstance(labels, str) else [str(p) for p in labels]
    if parts == ["none"]:
        return ()
    bad = [p for p in parts if p not in LABEL_PARTS]
    if bad:
        raise RenderError(f"labels: unknown part '{bad[0]}'; use any of {', '.join(LABEL_PARTS)}, or none")
    return tuple(p for p in LABEL_PARTS if p in parts)


def _aspect(aspect: str | float | None) -> float | None:
    """``"16:9"``, ``"1.5"`` or 1.5 -> a width / height between 0.25 and 4."""
    if aspect is None:
        return None
    try:
        if isinstance(aspect, str) and ":" in aspect:
            w, h = (float(v) for v in aspect.split(":", 1))
            value = w / h
        else:
            value = float(aspect)
    except (ValueError, ZeroDivisionError):
        raise RenderError(f"aspect must be W:H (e.g. 16:9) or a number; got '{aspect}'") from None
    if not 0.25 <= value <= 4.0:
        raise RenderError(f"aspect must be between 1:4 and 4:1; got '{aspect}'")
    return value


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
