"""Encoder-decoder networks: a recurrent layer started by another group's state, and teacher forcing.

Two small capabilities make a seq2seq network out of the chart's cells:

* an edge into a recurrent group's ``state`` port (``{from: enc, to: dec, port: state}``) starts
  the group from the fed value instead of zeros -- the encoder's final state (with ``emit: last``,
  or from an encoder that passes its whole sequence on: the state after the step it read last)
  starting the decoder;
* an input group with ``teacher: y`` is *teacher forcing*: it is fed output ``y``'s own target
  tokens one step late, a start token first, while training and evaluating; prediction decodes
  instead, feeding the network's own choices back one step at a time (greedy decoding).

Both are checked here so that ``validate`` saying ok means the network builds: the state comes
from one value per example of the right size, in a network that runs layer by layer; a teacher
names a sequence output trained on class labels, reads tokens (``vocab:`` its classes plus the
start token), and reaches that output only through groups that look at the past, never the
future (forward recurrent layers, per-step dense layers), so decoding one step at a time
computes what training computed.

Imports: the cell registry, errors and the graph's own helpers (no JAX).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from ..cells.recurrent import STATE_PORT
from ..errors import Problems, SourceLoc
from .checks import forward_graph


def teachers(graph: nx.DiGraph) -> dict[str, tuple[str, int]]:
    """``{input group: (the output it is taught from, its start token id)}`` for every teacher
    input; the start token is the output's class count (ids 0 .. classes-1 are the classes)."""
    taught: dict[str, tuple[str, int]] = {}
    for n, d in graph.nodes(data=True):
        target = d.get("options", {}).get("teacher")
        if target is not None and target in graph and graph.nodes[target].get("shape"):
            taught[n] = (target, int(graph.nodes[target]["shape"][-1]))
    return taught


def state_edges(graph: nx.DiGraph) -> list[tuple[str, str, Mapping[str, Any]]]:
    """The edges into a recurrent group's ``state`` port."""
    return [(u, v, e) for u, v, e in graph.edges(data=True) if (e.get("options") or {}).get("port") == STATE_PORT]


def check_decoding(graph: nx.DiGraph, problems: Problems) -> None:
    """Report state ports and teachers that could not be compiled as written (see the module docstring)."""
    stepwise = any((e["delay"] or e["feedback"]) and e["kind"] != "symmetric" for _, _, e in graph.edges(data=True))
    for u, v, e in state_edges(graph):
        graph.nodes[v]["started_by"] = u  # for the diagrams' words under the group
        where = (e["loc"], f"{e['path']}.port")
        if graph.nodes[u].get("timed") and not graph.nodes[u]["cell"].recurrent:
            problems.add(
                *where,
                f"'{u}' passes a sequence (one value per step), but '{v}'s state port starts it once per example",
                f"start '{v}' from a recurrent layer (its final state), or end the sequence with `emit: last` on '{u}'",
            )
        elif stepwise:
            problems.add(
                *where,
                f"'{v}' is started through its state port in a network with delayed or feedback edges, which runs "
                "one time step at a time: there is no earlier layer to finish first",
                "remove the delayed edges, or feed the state through a plain edge",
            )
    for n, output in _named_teachers(graph, problems).items():
        _check_teacher(graph, n, output, problems)


def _option_loc(graph: nx.DiGraph, n: str, option: str) -> SourceLoc:
    d = graph.nodes[n]
    locs = getattr(d.get("spec"), "option_locs", {}) or {}
    return locs.get(option, d["loc"])


def _named_teachers(graph: nx.DiGraph, problems: Problems) -> dict[str, str]:
    """``{teacher input: the output it names}`` where it names an output group; the others reported."""
    named = {}
    for n, d in graph.nodes(data=True):
        target = d.get("options", {}).get("teacher")
        if target is None:
            continue
        where = (_option_loc(graph, n, "teacher"), f"{d['path']}.teacher")
        outputs = [o for o, od in graph.nodes(data=True) if od["cell"].is_output]
        if target not in graph or not graph.nodes[target]["cell"].is_output:
            problems.add(
                *where,
                f"'{target}' is not an output group of this spec",
                f"name the output whose targets '{n}' is fed: {', '.join(outputs) or 'add one'}",
            )
            continue
        named[n] = target
    return named


def _check_teacher(graph: nx.DiGraph, n: str, output: str, problems: Problems) -> None:
    d, o = graph.nodes[n], graph.nodes[output]
    where = (_option_loc(graph, n, "teacher"), f"{d['path']}.teacher")
    shape = o.get("shape")
    if shape is None:
        return  # its own problem was reported
    classes = int(shape[-1])
    if not o.get("timed") or not d["options"].get("sequence"):
        problems.add(
            *where,
            f"teacher forcing feeds '{output}'s targets back one step late, so both are sequences, but "
            + (f"'{n}' has no `sequence: true`" if not d["options"].get("sequence") else f"'{output}' is not one"),
            f"give '{n}' `sequence: true` and let '{output}' pass on every step",
        )
        return
    if o["options"].get("activation") not in ("softmax", "log_softmax"):
        problems.add(
            *where,
            f"teacher forcing feeds back '{output}'s class tokens, but '{output}' is not a classifier "
            f"(activation: {o['options'].get('activation', 'linear')})",
            f"give '{output}' `activation: softmax`, one unit per token",
        )
        return
    vocab = d["options"].get("vocab")
    if vocab != classes + 1:
        problems.add(
            _option_loc(graph, n, "vocab") if vocab is not None else where[0],
            f"{d['path']}.vocab",
            f"'{n}' reads '{output}'s {classes} tokens and a start token, so it needs vocab: {classes + 1}"
            + (f" (it has {vocab})" if vocab is not None else ""),
            f"set `vocab: {classes + 1}` on '{n}' (the start token is id {classes})",
        )
    fwd = forward_graph(graph)
    reached = nx.descendants(fwd, n)
    if output not in reached:
        problems.add(
            *where, f"'{n}' does not reach '{output}'", f"connect '{n}' to the decoder that computes '{output}'"
        )
        return
    between = (reached & nx.ancestors(fwd, output)) | {output}
    for g in sorted(between, key=list(graph.nodes).index):
        cell = graph.nodes[g]["cell"]
        per_step = cell.recurrent or (cell.is_plain and (cell.is_hidden or cell.is_output))
        if not per_step or not graph.nodes[g].get("timed"):
            problems.add(
                *where,
                f"'{g}' ({cell.name}) lies between '{n}' and '{output}' but does not compute step by step from "
                "the past alone, so decoding one token at a time would not give what training computed",
                "keep only recurrent layers (passing every step) and dense layers between the teacher and its output",
            )
            return
