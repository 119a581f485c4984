"""Shared parameters: a group that uses another group's weights instead of its own (`share:`).

`share: other` on a group (or on a `use:` group, where each of the part's groups shares its
namesake in the other `use:` group, as a Siamese network's two towers do; or `share: true` on a
repeated group, whose copies use the first copy's) makes the group compute with ``other``'s
parameters. There is one set: it is counted once, initialised once, and the gradients of every
group that uses it add into it. This module resolves each share to the group that owns the
parameters and checks that the two can use the same arrays: the same cell type, input and output
shapes, options that shape parameters, and training flag. It runs after shape inference, before
the parameters are counted, and leaves on each sharing node ``owner`` (the owning group) and
``params`` 0 (``shared_params``: what it would own).

`tie: other` is the transposed kind of sharing (a tied autoencoder's decoder): the group computes
with ``other``'s weight matrix transposed and keeps only its bias (:func:`resolve_ties`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import networkx as nx

from ..cells.registry import numel
from ..errors import Problems, did_you_mean

PARAMETER_OPTIONS: Final = ("use_bias", "window", "norm", "distribution", "activation")
"""Options whose values change a group's parameter arrays (``activation`` only through radial units,
whose centres replace the weights): a sharing group must agree with its owner on each of them."""


def resolve_shares(graph: nx.DiGraph, problems: Problems) -> None:
    """Set ``owner`` on every group that shares parameters, after checking it can; report why not."""
    own = {n: int(d.get("params", 0)) for n, d in graph.nodes(data=True)}
    for n, d in graph.nodes(data=True):
        target = d.get("shares")
        if target is None:
            continue
        problem: tuple[str, str] | None = None
        if not own[n]:
            if not d.get("share_implied"):  # a part's input or pool: nothing to share, nothing to say
                problem = ("it has no parameters to share", "remove `share:`")
            d["shares"] = None
        elif target not in graph:
            problem = (f"no such group{did_you_mean(target, list(graph.nodes))}", "name a group of this spec")
        else:
            owner = _owner(graph, n)
            if owner is None:
                problem = ("the shares go round in a circle", "let one of the groups own its parameters (no `share:`)")
            else:
                problem = _mismatch(graph, n, owner, own)
        if problem is not None:
            problems.add(
                d.get("share_loc") or d["loc"],
                f"{d['path']}.share",
                f"'{n}' shares '{target}': {problem[0]}",
                problem[1],
            )
        if problem is not None or d["shares"] is None:
            continue
        d["owner"], d["shared_params"], d["params"], d["state"] = owner, own[n], 0, 0


def _owner(graph: nx.DiGraph, n: str) -> str | None:
    """The group at the end of ``n``'s chain of shares (None: a circle)."""
    seen, at = {n}, graph.nodes[n]["shares"]
    while True:
        nxt = graph.nodes[at].get("shares") if at in graph else None
        if nxt is None:
            return at
        if at in seen:
            return None
        seen.add(at)
        at = nxt


def _mismatch(graph: nx.DiGraph, n: str, owner: str, own: dict[str, int]) -> tuple[str, str] | None:
    """Why ``n`` cannot use ``owner``'s parameter arrays, as (problem, fix); None when it can."""
    a, b = graph.nodes[n], graph.nodes[owner]
    if a["type"] != b["type"]:
        return (
            f"'{owner}' is {_a(b['type'])} group and '{n}' {_a(a['type'])} group",
            "share between groups of one type",
        )
    if tuple(a.get("in_shape") or ()) != tuple(b.get("in_shape") or ()) or tuple(a.get("shape") or ()) != tuple(
        b.get("shape") or ()
    ):
        return (
            f"'{owner}' maps {_shape(b.get('in_shape'))} to {_shape(b.get('shape'))} and '{n}' "
            f"{_shape(a.get('in_shape'))} to {_shape(a.get('shape'))}: their weights differ in shape",
            "give both groups the same size and the same inputs",
        )
    for key in PARAMETER_OPTIONS:
        if a["options"].get(key) != b["options"].get(key):
            return (
                f"`{key}` is {a['options'].get(key)!r} here and {b['options'].get(key)!r} there",
                f"give both groups the same `{key}`",
            )
    if own[n] != own[owner]:
        return f"'{owner}' has {own[owner]:,} parameters and '{n}' {own[n]:,}", "give both groups the same options"
    if a["trainable"] != b["trainable"]:
        return "one is trainable and the other not: one set of parameters is either", "give both the same `trainable`"
    delayed = [
        u for u, _, e in graph.in_edges(n, data=True) if (e["delay"] or e["feedback"]) and e["kind"] != "symmetric"
    ]
    if delayed:
        return (
            f"a delayed or feedback edge from '{delayed[0]}' brings a weight matrix of its own into it",
            "share only groups without delayed or feedback inputs",
        )
    return None


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _shape(shape: Any) -> str:
    return "nothing" if not shape else "x".join(str(s) for s in shape)


def resolve_ties(graph: nx.DiGraph, problems: Problems) -> None:
    """Set ``tied_to`` on every group with `tie:` that can compute with the transpose of the named
    group's weight matrix, and take that matrix out of its own parameter count; report why not.

    Both must compute a plain dense weighted sum (their types offer `tie:`; no `window:`, no
    radial-basis units), the named group owns its matrix (it is neither tied nor sharing), and the
    shapes transpose: this group reads as many values as the other has cells, and has as many
    cells as the other reads.
    """
    for n, d in graph.nodes(data=True):
        target = d["options"].get("tie")
        if target is None:
            continue
        problem = _tie_problem(graph, n, target)
        if problem is not None:
            locs = getattr(d.get("spec"), "option_locs", {}) or {}
            problems.add(
                locs.get("tie", d["loc"]), f"{d['path']}.tie", f"'{n}' ties to '{target}': {problem[0]}", problem[1]
            )
            continue
        n_in, n_out = numel(d["in_shape"]), numel(d["shape"])
        d["tied_to"] = target
        d["params"] = int(d.get("params", 0)) - n_in * n_out  # the matrix is counted where it is owned


def _dense(d: Mapping[str, Any]) -> bool:
    """The group computes a plain dense weighted sum with a weight matrix of its own."""
    options = d["options"]
    return "tie" in d["cell"].options and options.get("window") is None and options.get("activation") != "gaussian"


def _tie_problem(graph: nx.DiGraph, n: str, target: str) -> tuple[str, str] | None:
    d = graph.nodes[n]
    if target == n:
        return "a group cannot use its own matrix transposed", "name the encoder group whose matrix it mirrors"
    if target not in graph:
        return f"no such group{did_you_mean(target, list(graph.nodes))}", "name a group of this spec"
    t = graph.nodes[target]
    if not _dense(d) or not _dense(t):
        which = n if not _dense(d) else target
        return (
            f"'{which}' has no plain dense weight matrix (a window, radial-basis units or another type)",
            "tie two dense groups (hidden, output): the decoder to its encoder",
        )
    if t["options"].get("tie") is not None or t.get("owner") is not None or d.get("owner") is not None:
        return "a tied or shared group's matrix belongs to another", "tie to the group that owns the matrix"
    if d.get("in_shape") is None or t.get("in_shape") is None or d.get("shape") is None or t.get("shape") is None:
        return "its shapes are unknown", "fix the shape problems reported above"
    n_in, n_out = numel(d["in_shape"]), numel(d["shape"])
    t_in, t_out = numel(t["in_shape"]), numel(t["shape"])
    if (n_in, n_out) != (t_out, t_in):
        return (
            f"'{target}''s matrix is {t_in} x {t_out}, so its transpose reads {t_out} values into {t_in} cells, but "
            f"'{n}' reads {n_in} into {n_out}",
            f"give '{n}' {t_in} cells and feed it {t_out} values (the encoder's mirror image)",
        )
    return None
