"""Checks of external memories: ``memory`` groups with ``slots:`` and read/write heads (NTM, DNC).

A memory with ``addressing:`` reads its controller's values through one dense map (the interface
vector) and passes on what its heads read; a memory with ``slots:`` and no ``addressing:`` holds
the AN's stored states, read by attention edges alone. Whatever compiles is decided here, so that
``validate`` saying ok means the compiler will build the network (``compiler/memory.py``).

This module is JAX-free.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from ..errors import Problems
from .attention import ATTENTION, stored_states

_DENSE_INTO = ("dense",)
"""The connection kinds an external memory's interface reads (a weighted sum of its inputs)."""


def check_memories(graph: nx.DiGraph, problems: Problems) -> None:
    """Every memory group with ``slots:`` or ``addressing:`` can compile (runs after shape inference)."""
    for n, d in graph.nodes(data=True):
        options = d["options"]
        if options.get("addressing") is not None and options.get("slots") is None:
            problems.add(
                d["spec"].option_loc("addressing"),
                f"{d['path']}.addressing",
                "`addressing:` chooses the read and write heads of an external memory, and this group has no `slots:`",
                "add `slots: N` and `width: W` (an external memory), or remove `addressing:` (an LSTM layer)",
            )
            continue
        if options.get("slots") is None:
            continue
        if options.get("addressing") is None:
            if not stored_states(graph, n):
                problems.add(
                    d["spec"].option_loc("slots"),
                    f"{d['path']}.slots",
                    f"'{n}' has `slots:` and no `addressing:`, so it holds stored states, which only attention "
                    "edges can read",
                    "give it read and write heads: `addressing: ntm` (or `dnc`), or read it by attention "
                    f"edges alone (`{n} -> g: {{kind: attention, ...}}`)",
                )
            continue
        for where, message, fix in _external_problems(graph, n):
            problems.add(*where, message, fix)


def _external_problems(graph: nx.DiGraph, n: str) -> list[tuple[tuple[Any, str], str, str]]:
    """((loc, path), problem, fix) for one memory with read and write heads."""
    d = graph.nodes[n]
    out: list[tuple[tuple[Any, str], str, str]] = []
    ins = [(u, e) for u, _, e in graph.in_edges(n, data=True) if u != n or e["kind"] != "symmetric"]
    readers = [(v, e) for _, v, e in graph.out_edges(n, data=True) if e["kind"] != "symmetric"]
    forward_in = [u for u, e in ins if not (e["delay"] or e["feedback"]) and e["kind"] in _DENSE_INTO]
    for u, e in ins:
        if e["delay"] or e["feedback"] or e["kind"] not in _DENSE_INTO:
            what = "a delayed connection" if e["delay"] or e["feedback"] else f"a {e['kind']} connection"
            out.append(
                (
                    (e["loc"], e["path"]),
                    f"'{n}' is an external memory, read through its interface from what feeds it this step; "
                    f"'{u}' reaches it through {what}",
                    f"feed it forward from its controller: `{u} -> {n}`",
                )
            )
    if not forward_in and not any(e["delay"] or e["feedback"] or e["kind"] not in _DENSE_INTO for _, e in ins):
        out.append(((d["loc"], d["path"]), f"nothing writes into external memory '{n}'", f"feed it: `c -> {n}`"))
    if not readers:
        out.append(
            (
                (d["loc"], d["path"]),
                f"nothing reads external memory '{n}': what its {d['options']['heads']} read head(s) read reaches "
                "no group",
                f"pass the reads to the controller, e.g. `{n} ~> c` (the last step's reads enter the controller)",
            )
        )
    for v, e in readers:
        if e["kind"] == ATTENTION:
            out.append(
                (
                    (e["loc"], e["path"]),
                    f"'{n}' has `addressing:`, and attention reads the stored states of a memory without it",
                    f"read its heads' values with `{n} ~> {v}`, or remove `addressing:` to store states for attention",
                )
            )
    if d["options"].get("direction") == "backward":
        out.append(
            (
                (d["spec"].option_loc("direction"), f"{d['path']}.direction"),
                "an external memory is written and read step by step, first to last",
                "remove `direction: backward`",
            )
        )
    return out
