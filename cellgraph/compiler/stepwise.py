"""Step-wise execution: graphs whose values cross time steps between groups.

A delayed edge ``a ~> b`` (or a cycle broken at a recurrent cell) hands ``a``'s value at step
t-1 to ``b`` at step t, so the whole graph advances one step at a time inside a single
``jax.lax.scan``. Its carry holds every recurrent layer's state and the previous value of every
delayed edge's source. Each delayed edge has its own weight matrix (``params[b]["from:a"]``),
added to ``b``'s weighted sum before the activation, as the registry counts it. Graphs without
such edges use the faster layer-wise path of ``model.py`` (whole sequences per layer, input
projections hoisted out of the scan).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx

from . import ops
from .cells import NodeInfo, cell_fns, corrupt

Array = jax.Array


def delayed_inputs(graph: nx.DiGraph) -> dict[str, list[str]]:
    """For every group, the groups whose previous value it reads (delayed or feedback edges)."""
    out: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for u, v, e in graph.edges(data=True):
        if e["kind"] != "symmetric" and (e["delay"] or e["feedback"]):
            out[v].append(u)
    return out


def init_delayed(key: Array, graph: nx.DiGraph, delayed: Mapping[str, list[str]]) -> dict[str, dict[str, Array]]:
    """One weight matrix per delayed edge, (source cells, target cells)."""
    params: dict[str, dict[str, Array]] = {}
    edges = [(u, v) for v, us in delayed.items() for u in us]
    for k, (u, v) in zip(jax.random.split(key, max(len(edges), 1)), edges, strict=False):
        gates = graph.nodes[v]["cell"].gates(graph.nodes[v]["options"])
        shape = (math.prod(graph.nodes[u]["shape"]), gates * math.prod(graph.nodes[v]["shape"]))
        params.setdefault(v, {})[f"from:{u}"] = jax.nn.initializers.glorot_uniform()(k, shape)
    return params


def _zeros_state(info: NodeInfo, batch: int, dtype: Any) -> Any:
    n = info.out_shape[0]
    zero = jnp.zeros((batch, n), dtype)
    carry = info.recurrence.carry  # ("h",) or ("h", "c"): one zero array per carried state
    return tuple(zero for _ in carry) if len(carry) > 1 else zero


def make_stepwise_forward(
    graph: nx.DiGraph,
    order: list[str],
    preds: Mapping[str, list[str]],
    skips: Mapping[str, list[str]],
    infos: Mapping[str, NodeInfo],
    sources: tuple[str, ...],
    delayed: Mapping[str, list[str]],
    merge: Callable[[list[Array], str, int], Array],
    merge_mode: Callable[[str], str],
    feed_of: Callable[[Any], dict[str, Array]],
) -> Callable[..., tuple[dict[str, Array], dict[str, Any]]]:
    """Build ``forward(params, inputs, *, key, train) -> (values, aux)`` that scans over time."""
    timed = {n: bool(graph.nodes[n].get("timed")) for n in order}
    recurrent = [n for n in order if graph.nodes[n]["cell"].recurrent]
    remembered = sorted({u for us in delayed.values() for u in us})

    def forward(
        params: Mapping[str, Any], inputs: Any, *, key: Array | None = None, train: bool = False
    ) -> tuple[dict[str, Array], dict[str, Any]]:
        feed = feed_of(inputs)
        batch = next(iter(feed.values())).shape[0]
        feed = {s: x.reshape(batch, *((x.shape[1],) if timed[s] else ()), *infos[s].out_shape) for s, x in feed.items()}
        steps = next((x.shape[1] for s, x in feed.items() if timed[s]), 1)
        per_step = {s: jnp.swapaxes(x, 0, 1) for s, x in feed.items() if timed[s]}  # (time, batch, ...)
        static = {s: x for s, x in feed.items() if not timed[s]}
        dtype = jax.tree_util.tree_leaves(params)[0].dtype if jax.tree_util.tree_leaves(params) else jnp.float32
        carry0 = (
            {n: _zeros_state(infos[n], batch, dtype) for n in recurrent},
            {u: jnp.zeros((batch, *infos[u].out_shape), dtype) for u in remembered},
        )
        step_keys = jax.random.split(key, steps) if key is not None else None

        def step(carry: tuple, xs: tuple) -> tuple:
            states, prev = carry
            slices, k = xs
            keys = dict(zip(order, jax.random.split(k, len(order)), strict=True)) if k is not None else {}
            values: dict[str, Array] = {}
            new_states = dict(states)
            for n in order:
                info = infos[n]
                extra = [
                    prev[u].reshape(batch, -1) @ params[n][f"from:{u}"] for u in delayed[n]
                ]  # previous values through the delayed edges' own weights
                if n in sources:
                    x = slices[n] if n in slices else static[n]
                    if info.cell.noisy and train and n in keys:
                        x = corrupt(x, info.options, keys[n])
                    values[n] = x
                    continue
                ins = [values[u] for u in preds[n]]
                merged = merge(ins, merge_mode(n), 1) if ins else None
                if n in new_states:
                    values[n], new_states[n] = _recurrent_step(params.get(n, {}), merged, extra, states[n], info, batch)
                    for s in skips[n]:
                        values[n] = values[n] + values[s].reshape(values[n].shape)
                    continue
                add = [values[s] for s in skips[n]] + [e.reshape(batch, *info.out_shape) for e in extra]
                values[n], _ = cell_fns(info.cell).apply(params.get(n, {}), merged, add, info, 1, keys.get(n), train)
            return (new_states, {u: values[u] for u in remembered}), values

        xs = (per_step, step_keys)
        _, stacked = jax.lax.scan(step, carry0, xs, length=steps)  # every value: (time, batch, ...)
        values = {n: jnp.swapaxes(v, 0, 1) if timed[n] else v[-1] for n, v in stacked.items()}
        aux: dict[str, Any] = {s: values[s] for s in sources}
        for n in order:
            if n not in sources:
                aux[f"{n}~pre"] = values[n]  # no separate logits in this mode: losses use the values
        return values, aux

    return forward


def _recurrent_step(
    params: Mapping[str, Array], x: Array | None, extra: list[Array], state: Any, info: NodeInfo, batch: int
) -> tuple[Array, Any]:
    act = ops.ACTIVATIONS[info.options.get("activation", "tanh")]
    rec = info.recurrence
    gates = rec.gates
    n = info.out_shape[0]
    p = params.get("bias", jnp.zeros((gates * n,), jnp.float32))
    p = jnp.broadcast_to(p, (batch, gates * n))
    if x is not None:
        p = p + x.reshape(batch, -1) @ params["w_in"]
    for e in extra:  # a delayed input feeds every gate, through its own (source, gates x n) matrix
        p = p + e
    if rec.name == "lstm":
        h, c = ops.lstm_step(p, state, params["w_rec"], act)
        return h, (h, c)
    h = _STEPS[rec.name](p, state, params["w_rec"], act)
    return h, h


_STEPS: Final = {"elman": ops.rnn_step, "gru": ops.gru_step}
"""One time step of each single-state :class:`~cellgraph.cells.Recurrence`, by name."""
