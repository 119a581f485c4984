"""Build and check the graph of a spec in one call, collecting every problem."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import networkx as nx

from ..access import ENV_VAR
from ..cells import CELLS
from ..errors import CellgraphError, Problems
from ..spec.compose import load_spec_unchecked
from ..spec.limits import DEFAULT_LIMITS, Limits
from ..spec.load import read_text
from ..spec.model import Spec
from ..typedefs import NodeName
from .attention import check_attention
from .build import add_cells, add_edges
from .checks import check_cycles, check_data, check_fed_back, check_rule, check_sources, check_targets, check_text
from .decoding import check_decoding
from .drawspec import check_draw
from .memory import check_memories
from .shapes import count_params, infer_shapes
from .sharing import resolve_shares, resolve_ties


def build_graph(spec: Spec, limits: Limits = DEFAULT_LIMITS) -> nx.DiGraph:
    """Turn a :class:`Spec` into a checked graph with shapes and parameter counts.

    The graph's attributes hold ``spec``, ``params`` (trainable / fixed / total) and ``draw``
    (the checked :class:`~cellgraph.graph.drawspec.DrawSettings`).

    Raises:
        SpecError: every problem found, located in the spec file(s).
    """
    problems = Problems()
    problems.extend(spec.problems)  # found while loading; reported together with the graph's
    check_text(spec, problems)
    # `allow`: the `--allow` folders, the CSV path's rule too
    graph: nx.DiGraph[NodeName] = nx.DiGraph(spec=spec, allow=limits.allow)
    add_cells(graph, spec, problems)
    add_edges(graph, spec, problems)
    check_sources(graph, problems)
    check_targets(spec, graph, problems)
    check_cycles(graph, problems)
    infer_shapes(graph, problems, limits)
    check_fed_back(graph, problems)
    check_decoding(graph, problems)
    resolve_shares(graph, problems)
    resolve_ties(graph, problems)
    check_attention(graph, problems)
    check_memories(graph, problems)
    _check_bindings(spec, graph, problems)
    problems.raise_if_any()  # rules and drawing need a sound graph
    graph.graph["params"] = count_params(graph, limits)
    check_rule(spec, graph, problems)
    check_data(spec, problems, graph)
    graph.graph["draw"] = check_draw(spec, graph, problems)
    problems.raise_if_any()
    return graph


def _check_bindings(spec: Spec, graph: nx.DiGraph, problems: Problems) -> None:
    for b in spec.bindings:
        if b.target not in graph:
            problems.add(b.loc, b.path, f"unknown group '{b.target}'", "bind the part's input to a group of this spec")
            continue
        wanted = b.dropped.options.get("shape") or (
            [b.dropped.options["size"]] if b.dropped.options.get("size") else None
        )
        chained = b.path.endswith((".repeat", ".residual")) or ".chain." in b.path
        cell = CELLS.get(b.dropped.type)
        if chained and cell is not None and not cell.is_source:  # the copy would lose that layer
            problems.add(
                b.loc,
                b.path,
                f"a repeated part chains through its input group, but '{b.dropped.name}' is a {b.dropped.type} group",
                f"give the part an input group (`x: {{type: input, size: N}}` -> {b.dropped.name}) for each copy to read",
            )
            continue
        got = graph.nodes[b.target].get("shape")
        if wanted is not None and got is not None and tuple(wanted) != tuple(got):
            problems.add(
                b.loc,
                b.path,
                f"shape mismatch: the part's '{b.dropped.name}' is {list(wanted)} but '{b.target}' is {list(got)}",
                "bind a group of the same shape, or pass the part a matching size through `params:`",
            )


def load_graph(
    path: str | Path, overrides: Mapping[str, Any] | None = None, limits: Limits = DEFAULT_LIMITS
) -> nx.DiGraph:
    """Load, validate and build the graph of a spec file in one call.

    A valid spec's graph is remembered in-process (the last :data:`REMEMBERED` loads) and given
    again -- as a copy, so a caller's changes stay its own -- while the spec file and every part
    it read hold the same text, under the same working folder, ``CELLGRAPH_PATH``, overrides and
    limits. A search or a benchmark loads one spec hundreds of times; reading and checking it
    took 5-7 ms of a perceptron's 20-30 ms ``train`` call, re-reading its texts takes 0.1 ms.

    >>> graph = load_graph("specs/zoo/dff.yaml")  # doctest: +SKIP
    >>> graph.graph["params"]["total"]  # doctest: +SKIP
    """
    key = _memo_key(path, overrides, limits)
    held = _LOADED.get(key) if key is not None else None
    if key is not None and held is not None and _same_texts(held[0], limits):
        _LOADED.move_to_end(key)
        return held[1].copy()
    graph = build_graph(load_spec_unchecked(path, overrides, limits), limits)
    if key is not None:
        _LOADED[key] = (tuple(getattr(graph.graph["spec"], "sources", ())), graph.copy())
        while len(_LOADED) > REMEMBERED:
            _LOADED.popitem(last=False)
    return graph


REMEMBERED: Final = 32
"""Graphs :func:`load_graph` keeps, the least recently given first to go."""

_LOADED: OrderedDict[str, tuple[tuple[tuple[str, str], ...], nx.DiGraph]] = OrderedDict()


def _memo_key(path: str | Path, overrides: Mapping[str, Any] | None, limits: Limits) -> str | None:
    """What a load depends on besides the texts it reads; None when it cannot be written down."""
    try:
        where = [os.fspath(path), os.getcwd(), os.environ.get(ENV_VAR, ""), repr(limits)]
        return json.dumps([where, dict(overrides or {})], sort_keys=True, allow_nan=True)
    except (TypeError, ValueError, OSError):  # an override JSON cannot hold, a removed cwd
        return None


def _same_texts(sources: tuple[tuple[str, str], ...], limits: Limits) -> bool:
    """Whether every file a load read still holds the text it read."""
    if not sources:
        return False
    try:
        return all(read_text(Path(file), limits) == text for file, text in sources)
    except CellgraphError:  # gone, grown past the limit, binary: the full load says so, located
        return False


@dataclass(frozen=True)
class Row:
    """One line of ``cellgraph summary``."""

    name: str
    type: str
    shape: str
    params: int
    trainable: bool
    timed: bool
    shares: str | None = None  # the group whose parameters it uses (`share:`)
    shared_with: tuple[str, ...] = ()  # the groups that use this one's parameters
    state: int = 0  # values of model state it keeps beside its parameters (batch norm's running statistics)
    tied_to: str | None = None  # the group whose weight matrix it uses, transposed (`tie:`)


def summarize(graph: nx.DiGraph) -> list[Row]:
    """One row per group, in drawing order: name, type, shape, parameters it owns, and whose
    parameters it uses or who uses its own (`share:`)."""
    users: dict[str, list[str]] = {}
    for n, d in graph.nodes(data=True):
        if d.get("owner") is not None:
            users.setdefault(d["owner"], []).append(n)
    rows = []
    for n, d in graph.nodes(data=True):
        shape = d.get("shape")
        rows.append(
            Row(
                name=n,
                type=d["type"],
                shape="x".join(map(str, shape)) if shape else "?",
                params=d.get("params", 0) + d.get("edge_params", 0),
                trainable=d["trainable"],
                timed=d.get("timed", False),
                shares=d.get("owner"),
                shared_with=tuple(users.get(n, ())),
                state=d.get("state", 0),
                tied_to=d.get("tied_to"),
            )
        )
    return rows
