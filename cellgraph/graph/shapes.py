"""Shape inference and parameter counts, in topological order of the forward graph.

Each group's input is the merge of its forward inputs (``merge: concat`` joins them along the
last axis, ``merge: add`` sums equal shapes); its registry rule turns that into its output
shape. Identity edges (``=>``) add a value of exactly the target's shape. Delayed, feedback and
symmetric edges carry a weight matrix each, counted here. All arithmetic is on Python ints, so
a network that would need 10^12 parameters is refused before anything is allocated.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from ..cells import ShapeError, ShapeIn
from ..cells.features import feature_params, feature_state
from ..cells.registry import declared_shape, numel
from ..errors import LimitError, Problem, Problems
from ..spec.limits import Limits
from ..typedefs import Shape
from .attention import attention_edges, stored_states
from .build import edge_text
from .checks import forward_graph


def _fmt(shape: Shape | None) -> str:
    return "?" if shape is None else str(list(shape))


def _merge(graph: nx.DiGraph, node: str, edges: list[tuple[str, str]], problems: Problems) -> Shape | None:
    maybe = [graph.nodes[u].get("shape") for u, _ in edges]
    shapes: list[Shape] = [s for s in maybe if s is not None]
    if len(shapes) < len(maybe):
        return None
    if len(shapes) == 1:
        return shapes[0]
    modes = {graph.edges[e]["options"].get("merge", "concat") for e in edges}
    if len(modes) > 1:
        e = graph.edges[edges[0]]
        problems.add(
            e["loc"],
            e["path"],
            f"the inputs of '{node}' mix `merge: add` and `merge: concat`",
            "give all of them the same `merge:`",
        )
        return None
    if modes == {"add"}:
        if len(set(shapes)) > 1:
            (u1, _), (u2, _) = edges[0], next(e for e in edges if graph.nodes[e[0]]["shape"] != shapes[0])
            e = graph.edges[u2, node]
            problems.add(
                e["loc"],
                e["path"],
                f"shape mismatch: `merge: add` into '{node}' needs equal shapes, but {edge_text(graph, u1, node)} brings "
                f"{_fmt(graph.nodes[u1]['shape'])} and {edge_text(graph, u2, node)} brings {_fmt(graph.nodes[u2]['shape'])}",
                "make the source groups the same size, or use `merge: concat`",
            )
            return None
        return shapes[0]
    if all(len(s) == len(shapes[0]) and s[:-1] == shapes[0][:-1] for s in shapes):
        return (*shapes[0][:-1], sum(s[-1] for s in shapes))  # join along the last axis
    return (sum(numel(s) for s in shapes),)  # different layouts: flattened side by side


def infer_shapes(graph: nx.DiGraph, problems: Problems, limits: Limits) -> None:
    """Set ``shape``, ``timed`` and ``params`` on every node it can; report mismatches."""
    fwd = forward_graph(graph)
    if not nx.is_directed_acyclic_graph(fwd):
        return  # cycles were reported by check_cycles
    order = {n: i for i, n in enumerate(graph.nodes)}
    for node in nx.lexicographical_topological_sort(fwd, key=order.__getitem__):
        _infer_node(graph, node, problems)
        shape = graph.nodes[node].get("shape")
        if shape is not None and numel(shape) > limits.max_group_size:
            d = graph.nodes[node]
            problems.add(
                d["loc"],
                d["path"],
                f"'{node}' has {numel(shape):,} cells, over the limit of {limits.max_group_size:,}",
                "use a smaller group (limits are set with cellgraph's Limits)",
            )
            d.pop("shape")
    mark_timed(graph)
    check_time_axes(graph, problems)
    for u, v, d in graph.edges(data=True):
        if d["kind"] == "identity":
            su, sv = graph.nodes[u].get("shape"), graph.nodes[v].get("shape")
            if su is not None and sv is not None and su != sv:
                problems.add(
                    d["loc"],
                    d["path"],
                    f"shape mismatch on {edge_text(graph, u, v)}: '{u}' is {_fmt(su)} but '{v}' is {_fmt(sv)}",
                    "a one-to-one (identity) connection joins groups of the same shape; resize one of them",
                )


def _infer_node(graph: nx.DiGraph, node: str, problems: Problems) -> None:
    d = graph.nodes[node]
    if d["broken"]:
        return  # its options were reported; a shape from them would only add noise
    cell, options = d["cell"], d["options"]
    forward = [
        (u, v)
        for u, v, e in graph.in_edges(node, data=True)
        if e["delay"] == 0 and e["kind"] not in ("symmetric", "identity", "attention") and not e["feedback"] and u != v
    ]
    by_port: dict[str, list[tuple[str, str]]] = {}
    for u, v in forward:  # each port merges its own inputs; `port:` was checked against the type
        by_port.setdefault(graph.edges[u, v]["options"].get("port") or cell.main_port, []).append((u, v))
    in_shapes = {p: _merge(graph, node, edges, problems) for p, edges in by_port.items()}
    if any(s is None for s in in_shapes.values()):
        return
    main = by_port.get(cell.main_port, [])
    incoming = in_shapes.get(cell.main_port)
    declared = declared_shape(options)
    if declared is None and cell.reconstructs:
        declared = _target_shape(graph, node, problems)
        if declared is None and options.get("target") not in (None, "labels") and options["target"] not in graph:
            return  # the unknown target is reported by check_targets
    sources = tuple(graph.nodes[u]["type"] for u, _ in main)
    s_in = ShapeIn(options, declared, incoming, sources, {p: s for p, s in in_shapes.items() if s is not None})
    try:
        shape = tuple(cell.infer_shape(s_in))
    except ShapeError as err:
        loc, path = d["loc"], d["path"]
        if main and incoming is not None:
            e = graph.edges[main[-1]]
            loc, path = e["loc"], e["path"]
            message = (
                f"shape mismatch on {edge_text(graph, *main[-1])}: '{node}' ({d['type']}) gets {_fmt(incoming)}: {err}"
            )
        else:
            message = f"'{node}' ({d['type']}): {err}"
        problems.add(loc, path, message, err.fix)
        return
    d["shape"] = shape
    d["in_shape"] = incoming  # what the compiler's weights read: the main port's merged forward input
    d["in_shapes"] = in_shapes  # every fed port's
    d["params"] = cell.count_params(s_in, shape) + feature_params(options, shape)  # features: dropout, norm
    d["state"] = feature_state(options, shape)  # model state beside the parameters: batch norm's statistics


def _target_shape(graph: nx.DiGraph, node: str, problems: Problems) -> Shape | None:
    d = graph.nodes[node]
    target = d["options"].get("target")
    if target is None:
        inputs = [
            n
            for n, a in graph.nodes(data=True)
            if a["cell"].is_source and (not d["origin"] or a["origin"] == d["origin"])
        ]
        target = inputs[0] if inputs else None
    if target is None or target == "labels" or target not in graph:
        return None  # unknown targets are reported by check_targets
    return graph.nodes[target].get("shape")


def mark_timed(graph: nx.DiGraph) -> None:
    """Set ``timed`` (the group carries one value per time step) on every node.

    Sequences start at inputs with ``sequence: true`` and flow along every non-symmetric edge,
    delayed and feedback ones included; a group with ``emit: last`` (recurrent, spiking) ends them. A
    monotone fixpoint, so cycles are fine.
    """
    for _, d in graph.nodes(data=True):
        d["timed"] = bool(d["cell"].is_source and d["options"].get("sequence", False))
    changed = True
    while changed:
        changed = False
        for n, d in graph.nodes(data=True):
            if d["timed"] or d["cell"].is_source:
                continue
            if d["options"].get("emit") == "last":  # a recurrent or spiking group passes on its last state
                continue
            if any(graph.nodes[u]["timed"] for u, _, e in graph.in_edges(n, data=True) if e["kind"] != "symmetric"):
                d["timed"] = changed = True


def check_time_axes(graph: nx.DiGraph, problems: Problems) -> None:
    """A group computed over whole sequences (layer-wise) reads inputs that agree on the time axis.

    Merging a sequence with one value per example (a recurrent group's ``emit: last``, or an input
    without ``sequence: true``) has no meaning layer by layer: say so here rather than let the
    compiled forward pass fail. A graph with delayed edges runs one step at a time, where a
    per-example value simply holds for every step, so it is not checked.
    """
    if any((e["delay"] or e["feedback"]) and e["kind"] != "symmetric" for _, _, e in graph.edges(data=True)):
        return
    for n in graph.nodes:
        into = [
            (u, e)
            for u, _, e in graph.in_edges(n, data=True)
            if e["kind"] not in ("symmetric", "attention")
            and u != n
            and graph.nodes[u].get("shape") is not None
            and (e.get("options") or {}).get("port") != "state"  # a recurrent layer's initial state: once
        ]
        timed = [u for u, _ in into if graph.nodes[u]["timed"]]
        static = [(u, e) for u, e in into if not graph.nodes[u]["timed"]]
        if not timed or not static:
            continue
        u, e = static[0]
        why = "`emit: last`" if graph.nodes[u]["cell"].recurrent else "no `sequence: true`"
        problems.add(
            e["loc"],
            e["path"],
            f"'{n}' reads a sequence from '{timed[0]}' (one value per step) and one value per example from "
            f"'{u}' ({why}): their time axes do not match",
            f"give both the same time axis: pass every step from '{u}'"
            + (" (drop `emit: last`)" if graph.nodes[u]["cell"].recurrent else " (`sequence: true`)")
            + f", or end the sequence from '{timed[0]}' with a recurrent group with `emit: last`",
        )


def count_params(graph: nx.DiGraph, limits: Limits) -> dict[str, Any]:
    """Add the weights of delayed, feedback and symmetric edges; total and check the limit."""
    edge_params: dict[tuple[str, str], int] = {}
    for n, d in graph.nodes(data=True):  # the AN's memory: one row per step, a linear write of its input
        if d["options"].get("slots") is not None and d.get("shape") is not None and stored_states(graph, n):
            d["params"] = (numel(d.get("in_shape") or ()) + 1) * numel(d["shape"])
    for v, edges in attention_edges(graph).items():  # Wq, Wk, Wv, Wo: kept with the target's parameters
        for a in edges:
            edge_params[(a.source, v)] = a.count_params()
    for u, v, e in graph.edges(data=True):
        su, sv = graph.nodes[u].get("shape"), graph.nodes[v].get("shape")
        if su is None or sv is None:
            continue
        if e["kind"] in ("identity", "attention"):
            continue  # a copy, or attention (counted above)
        if e["kind"] == "symmetric" and u == v:
            edge_params[(u, v)] = numel(su) * (numel(su) - 1) // 2  # symmetric, zero diagonal: free values
        elif e["kind"] == "symmetric":
            edge_params[(u, v)] = numel(su) * numel(sv)
        elif (e["delay"] or e["feedback"]) and not graph.nodes[v]["cell"].is_source:
            # its own matrix, into every gate of a gated target (an input fed back takes the values as they are)
            gates = graph.nodes[v]["cell"].gates(graph.nodes[v]["options"])
            edge_params[(u, v)] = numel(su) * gates * numel(sv)
    for (u, v), n in edge_params.items():
        graph.edges[u, v]["params"] = n
    trainable = fixed = 0
    for n, d in graph.nodes(data=True):
        own = d.get("params", 0)
        incoming = sum(edge_params.get((u, n), 0) for u in graph.predecessors(n))
        d["edge_params"] = incoming
        if d["trainable"]:
            trainable += own + sum(
                edge_params.get((u, n), 0)
                for u in graph.predecessors(n)
                if graph.edges[u, n]["options"].get("trainable", True)
            )
            fixed += sum(
                edge_params.get((u, n), 0)
                for u in graph.predecessors(n)
                if not graph.edges[u, n]["options"].get("trainable", True)
            )
        else:
            fixed += own + incoming
    total = trainable + fixed
    if total > limits.max_params:
        biggest = max(graph.nodes, key=lambda n: graph.nodes[n].get("params", 0) + graph.nodes[n].get("edge_params", 0))
        d = graph.nodes[biggest]
        raise LimitError(
            [
                Problem(
                    d["loc"],
                    d["path"],
                    f"the network needs {total:,} parameters, over the limit of {limits.max_params:,} ('{biggest}' alone has "
                    f"{d.get('params', 0) + d.get('edge_params', 0):,}); nothing was allocated",
                    "use smaller groups, or raise the limit (`--max-params`)",
                )
            ]
        )
    return {"trainable": trainable, "fixed": fixed, "total": total}
