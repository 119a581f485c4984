"""Which capsule group carries the class labels (JAX-free: validation, the data layer and the compiler ask).

A capsule network's class capsules are no output group: an output cell holds numbers, and the
class capsules hold vectors whose *lengths* are the class scores (Sabour et al. 2017), while the
network's one output is the decoder's reconstruction. So the margin loss (``train.loss: {name:
margin}``) names the group it scores: ``labels: s`` in its options, or by default the one capsule
group that feeds no other capsule group (the end of the routed chain) -- when no output group
trains on the labels itself (then the margin loss scores that output's units, as before). That
group is scored against the data's labels (its lengths, one per class), ``accuracy`` reads the
longest capsule, ``predict`` returns its vectors, and a decoder reading it sees it masked
(:mod:`cellgraph.compiler.capsule`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import networkx as nx

from ..errors import Problems, did_you_mean
from ..spec.model import Spec

MARGIN: Final = "margin"
"""The loss that reads capsule lengths (its record in :data:`cellgraph.graph.rules.LOSSES`)."""

LABELS_KEY: Final = "labels"
"""The margin loss's option naming the class capsule group."""


def _margin_options(graph: nx.DiGraph) -> Mapping[str, Any] | None:
    """The network-wide margin loss's options ({} when written as a name), else None."""
    spec = graph.graph.get("spec")
    loss = spec.train.get("loss") if spec is not None else None
    if loss == MARGIN:
        return {}
    if isinstance(loss, Mapping) and loss.get("name") == MARGIN:
        return loss
    return None


def _capsule_ends(graph: nx.DiGraph) -> list[str]:
    """Capsule groups that feed no capsule group: where a routed chain ends."""
    vector = [n for n, d in graph.nodes(data=True) if d.get("cell") is not None and d["cell"].vector_valued]
    return [n for n in vector if not any(v in vector for v in graph.successors(n) if v != n)]


def _label_outputs(graph: nx.DiGraph) -> list[str]:
    """Output groups that read the labels themselves (no reconstruction target)."""
    found = []
    for n, d in graph.nodes(data=True):
        cell = d.get("cell")
        goal = d.get("options", {}).get("target")
        if cell is not None and cell.is_output and (goal == "labels" or goal is None and not cell.reconstructs):
            found.append(n)
    return found


def class_capsules(graph: nx.DiGraph) -> str | None:
    """The capsule group the margin loss scores against the labels, or None (no margin loss, an
    output group trains on the labels, or the choice is ambiguous: :func:`check_class_capsules`
    reports that)."""
    opts = _margin_options(graph)
    if opts is None:
        return None
    named = opts.get(LABELS_KEY)
    if isinstance(named, str):
        return named if named in graph and graph.nodes[named]["cell"].vector_valued else None
    if _label_outputs(graph):
        return None
    ends = _capsule_ends(graph)
    return ends[0] if len(ends) == 1 else None


def check_class_capsules(spec: Spec, graph: nx.DiGraph, problems: Problems) -> None:
    """``labels:`` of the margin loss names a capsule group; without it, a network whose labels
    no output group reads has exactly one capsule group to score. Class capsules run in a network
    computed layer by layer (the step-wise executor has no decoder mask)."""
    opts = _margin_options(graph)
    if opts is None:
        return
    scored = class_capsules(graph)
    delayed = [
        (u, v) for u, v, e in graph.edges(data=True) if e["kind"] != "symmetric" and (e["delay"] or e["feedback"])
    ]
    if scored is not None and delayed:
        u, v = delayed[0]
        problems.add(
            graph.edges[u, v].get("loc") or spec.loc(("edges",)),
            graph.edges[u, v].get("path") or "edges",
            f"class capsules ('{scored}') in a network with delayed edges ({u} -> {v}) compile in a later release",
            "remove the delayed edges, or score an output group instead of the capsules",
        )
    named = opts.get(LABELS_KEY)
    where, path = spec.loc(("train", "loss", LABELS_KEY)), f"train.loss.{LABELS_KEY}"
    capsules = [n for n, d in graph.nodes(data=True) if d["cell"].vector_valued]
    if isinstance(named, str):
        if named not in graph:
            problems.add(where, path, f"unknown group '{named}'{did_you_mean(named, graph.nodes)}", _fix(capsules))
        elif not graph.nodes[named]["cell"].vector_valued:
            problems.add(
                where,
                path,
                f"'{named}' ({graph.nodes[named]['type']}) is no capsule group, and `labels:` names the capsule "
                "group whose lengths are the class scores",
                _fix(capsules) + "; an output group with a unit per class is scored without `labels:`",
            )
        return
    if _label_outputs(graph) or not capsules:
        return
    ends = _capsule_ends(graph)
    if len(ends) > 1:
        problems.add(
            spec.loc(("train", "loss")),
            "train.loss",
            f"the margin loss scores one capsule group against the labels, and {len(ends)} capsule groups "
            f"end a routed chain ({', '.join(ends)})",
            f"name the class capsules: `labels: {ends[-1]}` in `train.loss`",
        )


def _fix(capsules: list[str]) -> str:
    return "name a capsule group: " + (", ".join(capsules) or "(the network has none)")
