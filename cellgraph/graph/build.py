"""Spec + registry -> a networkx graph of cell groups: the one intermediate form.

Nodes are final group names, in drawing order, with attributes:
``cell`` (the :class:`CellType`), ``type``, ``options`` (defaults filled in), ``spec`` (the
:class:`CellSpec`), ``loc``, ``trainable``, ``origin``; shape inference adds ``shape``,
``timed`` and ``params``. Edges carry ``kind`` (dense | local | symmetric | identity | routing | attention),
``delay`` (1 for ``~>``), ``feedback`` (a cycle broken at a recurrent cell), ``options``,
``loc``, ``path``, ``op`` and ``implicit``. Attention edges are checked and resolved in
:mod:`.attention`.
"""

from __future__ import annotations

from typing import Any, Final

import networkx as nx

from ..cells import CELLS, CellType
from ..cells.features import active_features
from ..cells.registry import INITS
from ..errors import Problems, did_you_mean, known_list
from ..options import Bool, Choice, FloatRange, IntRange, Name, Nullable, Option, PortName, check_options
from ..spec.model import CellSpec, EdgeSpec, Spec

EDGE_KINDS: Final = ("dense", "local", "symmetric", "identity", "routing", "attention")
"""dense: every cell to every cell; local: a window (convolution); symmetric: one matrix used both
ways; identity: one-to-one; routing: capsule to capsule by agreement; attention: at each position the
target reads a softmax-weighted sum over the source sequence's positions (multi-head scaled
dot-product attention, see :mod:`cellgraph.graph.attention`; from an external memory's rows: planned)."""
EDGE_OPTIONS: Final[dict[str, Option]] = {
    "trainable": Option(Bool(), True, "false keeps the random initial weights fixed"),
    "merge": Option(Choice(("concat", "add")), "concat", "how several inputs of the target combine"),
    "density": Option(FloatRange(0.0, 1.0, lo_open=True), 1.0, "fraction of nonzero fixed random weights (reservoirs)"),
    "scale": Option(
        FloatRange(0.0, lo_open=True), 1.0, "scale of fixed random weights (spectral radius of a recurrent reservoir)"
    ),
    "init": Option(Choice(INITS), "default", "weight initialiser"),
    "port": Option(
        PortName(), None, "the named input of the target this connection feeds (default: the target type's first)"
    ),
    "heads": Option(IntRange(1), 1, "attention: number of heads, each with its own query, key and value projections"),
    "key_size": Option(
        Nullable(IntRange(1)), None, "attention: query and key values per head (default: the target's size / heads)"
    ),
    "value_size": Option(
        Nullable(IntRange(1)), None, "attention: values per head (default: the target's size / heads)"
    ),
    "causal": Option(Bool(), False, "attention: each position reads only itself and earlier positions"),
    "residual": Option(
        Bool(),
        False,
        "attention: also add the source's values to the target's, an identity skip around the attention "
        "(`x => a` beside `x -> a` in one statement; self-attention, equal shapes)",
    ),
    "query": Option(
        Nullable(Name()),
        None,
        "attention: the group asking the queries (cross-attention; it must feed the target too); default: the source",
    ),
    "score": Option(
        Choice(("dot", "additive")),
        "dot",
        "attention: scaled dot-product scores (Vaswani et al. 2017), or additive ones, v . tanh(Wq q + Wk k + b) "
        "(Bahdanau et al. 2014; one head, the source's values read as they are)",
    ),
}

MSG_UNKNOWN_TYPE: Final = "unknown cell type '{name}'{hint}"


def add_cells(graph: nx.DiGraph, spec: Spec, problems: Problems) -> None:
    """Add one node per cell group; unknown types and bad options become problems."""
    for c in spec.cells:
        cell = CELLS.get(c.type)
        if cell is None:
            graph.graph.setdefault("unknown", set()).add(c.name)
            problems.add(
                c.option_loc("type"),
                f"{c.path}.type",
                MSG_UNKNOWN_TYPE.format(name=c.type, hint=did_you_mean(c.type, CELLS)),
                "known types: " + known_list(CELLS, len(CELLS)),
            )
            continue
        ok = _check_cell_options(c, cell, problems)
        options = cell.resolve({k: v for k, v in c.options.items() if k in cell.options})
        graph.add_node(
            c.name,
            cell=cell,
            type=c.type,
            options=options,
            spec=c,
            loc=c.loc,
            path=c.path,
            trainable=bool(options.get("trainable", True)),
            origin=c.origin,
            group=c.group,
            repeat=c.repeat,
            broken=not ok,  # bad options: no shape is inferred for it (nor reported twice)
            shares=c.shares,  # `share:` (resolved and checked by graph.sharing)
            share_loc=c.share_loc,
            share_implied=c.share_implied,
        )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _check_cell_options(c: CellSpec, cell: CellType, problems: Problems) -> bool:
    """Check a group's options against its type; False when any is wrong."""
    before = len(problems)

    def report(key: str, message: str, fix: str) -> None:
        note = c.yaml11.get(key)
        if note:
            fix = "write true or false" if "boolean" in note else "write the number as YAML 1.2 reads it, or quote it"
            message = f"{message} ({note})"
        loc = c.option_loc(key) if key in cell.options else c.key_loc(key)  # unknown: point at the key
        problems.add(loc, f"{c.path}.{key}", message, fix)

    check_options(dict(c.options), dict(cell.options), report, f"{_article(cell.name)} {cell.name} group")
    if len(problems) == before:  # a feature the group's other options rule out (norm on a radial unit)
        for feature in active_features(cell.resolve(c.options)):
            conflict = feature.conflict(cell.resolve(c.options))
            if conflict is not None:
                problems.add(c.option_loc(feature.name), f"{c.path}.{feature.name}", *conflict)
    if c.options.get("size") is not None and c.options.get("shape") is not None:
        problems.add(
            c.option_loc("shape"),
            f"{c.path}.shape",
            "give either `size` or `shape`, not both",
            "keep `shape:` for spatial groups, `size:` otherwise",
        )
    return len(problems) == before


def add_edges(graph: nx.DiGraph, spec: Spec, problems: Problems) -> None:
    """Add one edge per connection; its kind follows from the operator and the cell types."""
    for e in spec.edges:
        if e.src not in graph or e.dst not in graph:
            continue  # the node had an unknown type, already reported
        kind = _edge_kind(graph, e, problems)
        if kind is None:
            continue
        bad = _check_edge_options(e, problems) | _check_port(graph, e, kind, problems)
        if graph.has_edge(e.src, e.dst):
            first = graph.edges[e.src, e.dst]
            problems.add(
                e.loc,
                e.path,
                f"'{e.src}' and '{e.dst}' are already connected ({first['path']}, line {first['loc'].line})",
                "connect two groups once; give options in that one statement",
            )
            continue
        if kind == "symmetric" and graph.has_edge(e.dst, e.src) and e.src != e.dst:
            problems.add(
                e.loc, e.path, f"'{e.dst} -- {e.src}' is already declared", "a symmetric connection is written once"
            )
            continue
        # a bad option is reported above and left out here, so shape inference (which runs before
        # the problems are raised) never sees an ill-typed value such as `merge: {}`
        options = {"trainable": True, "merge": "concat", **{k: v for k, v in e.options.items() if k not in bad}}
        graph.add_edge(
            e.src,
            e.dst,
            kind=kind,
            delay=e.delay,
            feedback=False,
            options=options,
            loc=e.loc,
            path=e.path,
            op=e.op,
            implicit=e.implicit,
            spec=e,
        )


def _edge_kind(graph: nx.DiGraph, e: EdgeSpec, problems: Problems) -> str | None:
    src, dst = graph.nodes[e.src], graph.nodes[e.dst]
    if e.kind is not None:
        if e.kind not in EDGE_KINDS:
            problems.add(
                e.option_locs.get("kind", e.loc),
                f"{e.path}.kind",
                f"unknown connection kind '{e.kind}'{did_you_mean(e.kind, EDGE_KINDS)}",
                "kinds: " + ", ".join(EDGE_KINDS),
            )
            return _default_kind(src, dst)  # keep the edge, so nothing downstream looks unfed
        return e.kind
    return _default_kind(src, dst)


def _default_kind(src: dict[str, Any], dst: dict[str, Any]) -> str:
    """The kind a plain `->` gets from the cell types it joins."""
    if dst["cell"].local_input or dst["options"].get("window") is not None:
        return "local"
    if dst["cell"].vector_valued and src["cell"].vector_valued:
        return "routing"
    return "dense"


def _check_edge_options(e: EdgeSpec, problems: Problems) -> set[str]:
    """Report the edge's bad options; returns their keys."""
    bad: set[str] = set()

    def report(key: str, message: str, fix: str) -> None:
        loc = e.option_locs.get(key, e.loc) if key in EDGE_OPTIONS else e.key_locs.get(key, e.loc)
        problems.add(loc, f"{e.path}.{key}", message, fix)
        bad.add(key)

    check_options(dict(e.options), EDGE_OPTIONS, report, "an edge", extra=("from", "to", "kind", "delay"))
    return bad


def _check_port(graph: nx.DiGraph, e: EdgeSpec, kind: str, problems: Problems) -> set[str]:
    """A `port:` names one of the target type's inputs, on a connection that enters through one."""
    port = e.options.get("port")
    if port is None or not isinstance(port, str) or not port:
        return set()  # absent, or its type reported by the option check
    cell: CellType = graph.nodes[e.dst]["cell"]
    loc, where = e.option_locs.get("port", e.loc), f"{e.path}.port"
    if kind in ("identity", "symmetric", "attention") or e.delay:
        problems.add(
            loc,
            where,
            f"a {'delayed' if e.delay else kind} connection does not enter through a port",
            "remove `port:`; only a forward (dense or local) connection chooses which input it feeds",
        )
        return {"port"}
    if port not in cell.ports:
        problems.add(
            loc,
            where,
            f"'{e.dst}' ({cell.name}) has no input port '{port}'{did_you_mean(port, cell.ports)}",
            f"its ports: {', '.join(cell.ports)}",
        )
        return {"port"}
    return set()


def edge_text(graph: nx.DiGraph, u: str, v: str) -> str:
    """How an edge reads in a message: ``a -> b`` with its operator."""
    d: dict[str, Any] = graph.edges[u, v]
    op = {"symmetric": "--", "identity": "=>"}.get(d["kind"], "~>" if d["delay"] else "->")
    return f"{u} {op} {v}"
