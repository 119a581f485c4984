"""Attention connections: what a multi-head attention edge reads, its parameters, and its checks.

``x -> a: {kind: attention, heads: 4}`` makes group ``a`` read, at each of its positions, a
softmax-weighted sum over the positions of sequence ``x`` (scaled dot-product attention, Vaswani
et al. 2017): queries from ``x`` itself (self-attention) or from the group named by ``query:``
(cross-attention), keys and values from ``x``, each head with its own projections, and one output
projection to ``a``'s cells. The result is added into ``a``'s weighted sum, like a dense input, so
``norm:``, identity skips and the activation follow as for any group. The four projections are
the edge's parameters, counted on the target as other edges' are (delayed, symmetric) and stored
in its parameter dict; the output projection's bias is the target's own bias, as one weighted sum
has one bias.

Padding: an input group with ``vocab:`` and ``pad: ID`` marks the positions holding ``ID`` as
padding, and every attention edge whose keys descend from that input along the same time axis
never reads them (Keras's ``mask_zero`` propagating into ``MultiHeadAttention``).

``score: additive`` is Bahdanau et al.'s (2014) attention instead: one head whose scores are
``v . tanh(Wq q + Wk k + b)`` and whose values are the source's own, as the zoo's AN reads the
encoder states stored in its memory (a ``memory`` group with ``slots:`` read by attention alone,
:func:`stored_states`).

This module is JAX-free; ``cellgraph.compiler.attention`` holds the JAX half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import networkx as nx

from ..cells.registry import numel
from ..errors import Problems, did_you_mean
from .build import EDGE_OPTIONS
from .checks import forward_graph

ATTENTION: Final = "attention"
"""The edge kind."""
ATTENTION_OPTIONS: Final = ("heads", "key_size", "value_size", "causal", "query", "residual", "score")
"""Edge options that only an attention connection reads."""

MSG_MEMORY_READ: Final = (
    "an external memory ({group}: `slots:`) compiles here only as stored states, written by its input at "
    "every step and read by attention edges alone (the AN); read and write heads (NTM, DNC) compile in a "
    "later release"
)
ADDITIVE: Final = "additive"
"""The ``score:`` of Bahdanau et al.'s attention."""


@dataclass(frozen=True)
class AttentionEdge:
    """One multi-head attention connection, resolved: who asks, who is read, and the sizes."""

    source: str  # keys and values come from this sequence group
    target: str  # the group whose weighted sum the result joins
    query: str  # queries come from this group: the source (self-attention) or another input of the target
    heads: int
    key_size: int  # query and key values per head
    value_size: int  # values per head
    causal: bool  # position i reads positions j <= i only
    query_features: int
    source_features: int
    out_features: int
    pads: tuple[tuple[str, int], ...] = ()  # padded token inputs the keys descend from, and their pad id
    score: str = "dot"  # "dot": scaled dot products; "additive": v . tanh(Wq q + Wk k + b), one head

    @property
    def prefix(self) -> str:
        """The start of this edge's parameter names in the target's dict (``attention:x:``)."""
        return f"{ATTENTION}:{self.source}:"

    def count_params(self) -> int:
        """Wq, Wk, Wv with their biases, and Wo (whose bias is the target's); additive: Wq, Wk, the
        score's bias and vector v, and Wo from the source's values as they are."""
        if self.score == ADDITIVE:
            return (self.query_features + self.source_features + 2) * self.key_size + (
                self.source_features * self.out_features
            )
        hk, hv = self.heads * self.key_size, self.heads * self.value_size
        return (
            (self.query_features + 1) * hk
            + (self.source_features + 1) * hk
            + (self.source_features + 1) * hv
            + hv * self.out_features
        )


def is_skip(edge: dict[str, Any]) -> bool:
    """The edge adds its source's values to its target's unchanged: ``=>``, or an attention edge
    with ``residual: true`` (a graph holds one edge per pair, so the skip is an option of it)."""
    return bool(edge["kind"] == "identity" or (edge["kind"] == ATTENTION and edge["options"].get("residual")))


def stored_states(graph: nx.DiGraph, node: str) -> bool:
    """A memory group with ``slots:`` that compiles as stored states: read by attention edges alone
    (the AN's memory: one row per step of its input). Other external memories (read and write
    heads: NTM, DNC) are planned."""
    outs = [e for _, _, e in graph.out_edges(node, data=True) if e["kind"] != "symmetric"]
    return bool(outs) and all(e["kind"] == ATTENTION for e in outs)


def _option(edge: dict[str, Any], key: str) -> Any:
    value = edge["options"].get(key)
    return EDGE_OPTIONS[key].default if value is None else value


def attention_edges(graph: nx.DiGraph) -> dict[str, tuple[AttentionEdge, ...]]:
    """Every multi-head attention edge of a checked graph, by target, in declaration order."""
    out: dict[str, list[AttentionEdge]] = {}
    for u, v, e in graph.edges(data=True):
        if e["kind"] != ATTENTION:
            continue
        heads, size = int(_option(e, "heads")), numel(graph.nodes[v]["shape"])
        query = e["options"].get("query") or u
        out.setdefault(v, []).append(
            AttentionEdge(
                source=u,
                target=v,
                query=query,
                heads=heads,
                key_size=int(e["options"].get("key_size") or size // heads),
                value_size=int(e["options"].get("value_size") or size // heads),
                causal=bool(_option(e, "causal")),
                query_features=numel(graph.nodes[query]["shape"]),
                source_features=numel(graph.nodes[u]["shape"]),
                out_features=size,
                pads=padded_inputs(graph, u),
                score=str(_option(e, "score")),
            )
        )
    return {v: tuple(es) for v, es in out.items()}


def padded_inputs(graph: nx.DiGraph, node: str) -> tuple[tuple[str, int], ...]:
    """The token inputs with ``pad:`` whose positions ``node``'s positions are: reached backwards
    along edges that keep the time axis (dense, identity, self-attention), never through a
    cross-attention edge (its target's positions are its queries') or a group that is no sequence."""
    fwd = forward_graph(graph)
    seen, stack, found = {node}, [node], []
    while stack:
        n = stack.pop()
        d = graph.nodes[n]
        if d["cell"].is_source and d["options"].get("pad") is not None:
            found.append((n, int(d["options"]["pad"])))
        for u in fwd.predecessors(n):
            e = graph.edges[u, n]
            crosses = e["kind"] == ATTENTION and (e["options"].get("query") or u) != u
            if u not in seen and not crosses and graph.nodes[u].get("timed"):
                seen.add(u)
                stack.append(u)
    return tuple(sorted(found))


# ------------------------------------------------------------------------------------ checks


def check_attention(graph: nx.DiGraph, problems: Problems) -> None:
    """Every attention edge can run as multi-head attention, and no other edge sets its options.

    Runs after shape inference and sharing (it reads ``shape``, ``timed`` and ``owner``)."""
    stepwise = next(
        ((u, v) for u, v, e in graph.edges(data=True) if (e["delay"] or e["feedback"]) and e["kind"] != "symmetric"),
        None,
    )
    owners = {d.get("owner") for _, d in graph.nodes(data=True)} - {None}
    for u, v, e in graph.edges(data=True):
        if e["kind"] != ATTENTION:
            for key in ATTENTION_OPTIONS:
                if key in e["options"]:
                    problems.add(
                        e["spec"].option_locs.get(key, e["loc"]),
                        f"{e['path']}.{key}",
                        f"`{key}:` is an option of attention connections, and this one is {e['kind']}",
                        f"remove `{key}:`, or make the connection `kind: attention`",
                    )
            continue
        graph.nodes[v].setdefault("attends", []).append(attention_words(u, e["options"]))  # for the diagrams
        for problem in _edge_problems(graph, u, v, e, stepwise, owners):
            key, message, fix = problem
            loc = e["spec"].option_locs.get(key, e["loc"]) if key else e["loc"]
            problems.add(loc, f"{e['path']}.{key}" if key else e["path"], message, fix)
    for _, d in graph.nodes(data=True):
        pad = d["options"].get("pad")
        if pad is None:
            continue
        vocab = d["options"].get("vocab")
        loc, path = d["spec"].option_loc("pad"), f"{d['path']}.pad"
        if vocab is None:
            problems.add(
                loc, path, "`pad:` names a token id, and this input reads no tokens", "add `vocab: N`, or remove `pad:`"
            )
        elif int(pad) >= int(vocab):
            problems.add(
                loc,
                path,
                f"pad id {pad} is not a token: `vocab: {vocab}` reads ids 0 .. {int(vocab) - 1}",
                "use an id below vocab, e.g. `pad: 0`",
            )


def attention_words(source: str, options: dict[str, Any]) -> str:
    """How the diagrams name an attention edge under its target: ``4-head causal attention over x, + x``."""
    heads = options.get("heads") or 1
    query = options.get("query")
    kind = "additive" if options.get("score") == ADDITIVE else f"{heads}-head"
    what = f"{kind}{' causal' if options.get('causal') else ''} attention over {source}"
    if query not in (None, source):
        what += f", asked by {query}"
    return what + (f", + {source}" if options.get("residual") else "")


def _edge_problems(
    graph: nx.DiGraph, u: str, v: str, e: dict[str, Any], stepwise: tuple[str, str] | None, owners: set[Any]
) -> list[tuple[str, str, str]]:
    """(option key or "", problem, fix) for one multi-head attention edge."""
    src, dst = graph.nodes[u], graph.nodes[v]
    out: list[tuple[str, str, str]] = []
    if not src.get("timed"):
        out.append(
            (
                "",
                f"attention reads a sequence, and '{u}' holds one value per example",
                f"attend from a sequence group (an input with `sequence: true` or a group it feeds), or use `{u} -> {v}`",
            )
        )
    cell = dst["cell"]
    if cell.is_source or not cell.is_plain:
        out.append(
            (
                "",
                f"'{v}' ({dst['type']}) cannot add attention into its weighted sum",
                "attend into a hidden or output group",
            )
        )
    elif dst["options"].get("window") is not None or dst["options"].get("tie") is not None:
        key = "window" if dst["options"].get("window") is not None else "tie"
        out.append(("", f"'{v}' has `{key}:`, and attention feeds a plain dense group", f"remove `{key}:` from '{v}'"))
    elif dst["options"].get("activation") == "gaussian":
        out.append(
            ("", f"'{v}' is a radial-basis group: it has no weighted sum to add attention to", "use another activation")
        )
    shape = dst.get("shape")
    if shape is not None and len(shape) != 1:
        out.append(("", f"attention feeds a vector per position, and '{v}' is {list(shape)}", f"give '{v}' a `size:`"))
    elif shape is not None:
        out += _size_problems(e, int(shape[0]), v)
    if e["options"].get("score") == ADDITIVE and (e["options"].get("heads") or 1) != 1:
        out.append(("heads", "additive attention has one head", "remove `heads:`, or use `score: dot`"))
    query = e["options"].get("query")
    if e["options"].get("residual") is True:
        if query not in (None, u):
            out.append(
                (
                    "residual",
                    f"`residual:` adds the source '{u}' itself, and here the queries come from '{query}'",
                    f"remove `residual: true` and add the queries' residual as `{query} => {v}`",
                )
            )
        elif src.get("shape") is not None and shape is not None and tuple(src["shape"]) != tuple(shape):
            out.append(
                (
                    "residual",
                    f"`residual: true` adds '{u}' ({list(src['shape'])}) to '{v}' ({list(shape)}): the shapes differ",
                    f"give '{v}' the size of '{u}', or remove `residual: true`",
                )
            )
    if query is not None and query not in graph:
        out.append(
            ("query", f"unknown group '{query}'{did_you_mean(query, list(graph.nodes))}", "name a group of this spec")
        )
    elif query is not None and not (graph.has_edge(query, v) and graph.edges[query, v]["kind"] != ATTENTION):
        out.append(
            (
                "query",
                f"the queries come from '{query}', and '{query}' does not feed '{v}'",
                f"connect it too (`{query} => {v}` for a residual, or `{query} -> {v}`), so '{v}' follows its positions",
            )
        )
    elif query is not None and not graph.nodes[query].get("timed"):
        out.append(("query", f"the queries come from '{query}', which is no sequence", "ask from a sequence group"))
    if stepwise is not None:
        a, b = stepwise
        out.append(
            (
                "",
                f"attention reads whole sequences, and this network runs one step at a time (its delayed edge '{a} ~> {b}')",
                "use attention in a network without delayed edges",
            )
        )
    if v in owners or dst.get("owner") is not None:
        out.append(("", f"'{v}' shares parameters (`share:`), and an attention edge keeps its own", "remove `share:`"))
    return out


def _size_problems(e: dict[str, Any], size: int, v: str) -> list[tuple[str, str, str]]:
    heads = e["options"].get("heads") or 1
    if not isinstance(heads, int) or isinstance(heads, bool):
        return []  # its type was reported by the option check
    out = []
    for key in ("key_size", "value_size"):
        if e["options"].get(key) is None and size % heads:
            divisors = ", ".join(str(h) for h in range(1, size + 1) if size % h == 0)
            out.append(
                (
                    "heads",
                    f"{heads} heads do not divide '{v}''s {size} cells (the default {key} is size / heads)",
                    f"choose heads among {divisors}, or give `key_size:` and `value_size:` per head",
                )
            )
            break
    return out
