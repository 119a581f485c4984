"""Hopfield recall: asynchronous sign updates that settle in the stored pattern nearest the probe.

A Hopfield net (Hopfield 1982) is one symmetric, zero-diagonal weight matrix over bipolar units.
Recall starts from a probe and updates the units one at a time, ``s_i <- sign(sum_j W_ij s_j +
b_i)`` (a unit whose field is exactly 0 keeps its state), in a fresh random order each sweep,
until a whole sweep changes nothing. Each single update can only lower the energy
``E = -1/2 s^T W s - b^T s`` or leave it, so recall always stops (:func:`energy_path` records
it update by update). Synchronous recall (all units at once) is an option; it may end in a
2-cycle, so it too is bounded by ``sweeps``.

The network's :class:`~.networks.Scoring` (``rule: hebbian``): ``x`` is a probe per example, ``y``
the stored pattern it came from; ``accuracy`` is the mean share of the recalled state's bits equal
to the pattern's, ``bit_errors`` the mean number that differ. Evaluation passes no key, so the
recall order then comes from a fixed key derived from the spec's ``train.seed``: the same trained
weights always score the same.

Units written ``values: binary`` ({0, 1}) are recalled as their bipolar twins ``2 s - 1``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx

from .energy import Energy, energy, energy_of
from .executor import Forward, Plan
from .networks import Scoring
from .protocol import Aux

Array = jax.Array

RECALL_SALT: Final = 0x686F70
"""Folded into ``train.seed`` for the recall order of an evaluation without a key."""

DEFAULT_SWEEPS: Final = 50


def bipolar(graph: nx.DiGraph, layout: Energy, s: Array) -> Array:
    """A (batch, units) state in {-1, +1}: groups written ``values: binary`` mapped by ``2 s - 1``."""
    parts = layout.split(s)
    return layout.join({g: _to_bipolar(graph, g, v) for g, v in parts.items()})


def from_bipolar(graph: nx.DiGraph, layout: Energy, s: Array) -> Array:
    """The inverse of :func:`bipolar`: each group back in its own values."""
    parts = layout.split(s)
    return layout.join({g: v if _is_bipolar(graph, g) else (v + 1.0) / 2.0 for g, v in parts.items()})


def _is_bipolar(graph: nx.DiGraph, g: str) -> bool:
    return graph.nodes[g]["options"].get("values", "binary") == "bipolar"


def _to_bipolar(graph: nx.DiGraph, g: str, v: Array) -> Array:
    return v if _is_bipolar(graph, g) else 2.0 * v - 1.0


def _update_unit(w: Array, b: Array, s: Array, u: Array) -> Array:
    """``s`` (units,) with unit ``u`` set to the sign of its field; a zero field keeps the state."""
    field = w[u] @ s + b[u]
    new = jnp.where(field > 0, 1.0, jnp.where(field < 0, -1.0, s[u]))
    return s.at[u].set(new)


def _sweep(w: Array, b: Array, s: Array, key: Array) -> Array:
    """One asynchronous sweep of one state (units,): every unit once, in a random order."""
    order = jax.random.permutation(key, s.shape[0])
    return jax.lax.fori_loop(0, s.shape[0], lambda i, x: _update_unit(w, b, x, order[i]), s)


def _synchronous(w: Array, b: Array, s: Array, key: Array) -> Array:
    """Every unit at once (the key is unused: the same signature as :func:`_sweep`)."""
    field = s @ w + b
    return jnp.where(field > 0, 1.0, jnp.where(field < 0, -1.0, s))


@functools.partial(jax.jit, static_argnames=("sweeps", "synchronous"))
def recall(
    w: Array, s: Array, key: Array, *, b: Array | None = None, sweeps: int = DEFAULT_SWEEPS, synchronous: bool = False
) -> tuple[Array, Array]:
    """Settle bipolar probes ``s`` (batch, units) under weights ``w`` (units, units).

    Each example runs its own sweeps (its own random orders, from ``key``) until one changes
    nothing, at most ``sweeps`` of them; a ``lax.while_loop``, jit-compatible.

    Returns:
        (the settled states (batch, units), the sweeps each example ran (batch,)).

    >>> states, used = recall(w, probes, jax.random.key(0))  # doctest: +SKIP
    """
    bias = jnp.zeros((w.shape[0],), w.dtype) if b is None else b
    step = _synchronous if synchronous else _sweep

    def one(x: Array, k: Array) -> tuple[Array, Array]:
        def cond(carry: tuple[Array, Array, Array]) -> Array:
            _, done, changed = carry
            return changed & (done < sweeps)

        def body(carry: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
            x, done, _ = carry
            new = step(w, bias, x, jax.random.fold_in(k, done))
            return new, done + 1, jnp.any(new != x)

        out, done, _ = jax.lax.while_loop(cond, body, (x, jnp.int32(0), jnp.bool_(True)))
        return out, done

    keys = jax.random.split(key, s.shape[0])
    return jax.vmap(one)(s.astype(jnp.float32), keys)


@functools.partial(jax.jit, static_argnames=("sweeps",))
def energy_path(w: Array, s: Array, key: Array, *, b: Array | None = None, sweeps: int = 2) -> Array:
    """The energy of one bipolar state (units,) after each single update of ``sweeps`` sweeps,
    (sweeps * units + 1,), the start first: what "the energy never increases" is checked on."""
    bias = jnp.zeros((w.shape[0],), w.dtype) if b is None else b
    n = s.shape[0]

    def sweep(x: Array, k: Array) -> tuple[Array, Array]:
        order = jax.random.permutation(k, n)

        def unit(y: Array, u: Array) -> tuple[Array, Array]:
            y = _update_unit(w, bias, y, u)
            return y, energy(w, bias, y[None])[0]

        return jax.lax.scan(unit, x, order)

    _, path = jax.lax.scan(sweep, s.astype(jnp.float32), jax.random.split(key, sweeps))
    return jnp.concatenate([energy(w, bias, s[None].astype(jnp.float32)), path.reshape(-1)])


def recall_key(graph: nx.DiGraph) -> Array:
    """The fixed recall key of an evaluation without one: from the spec's ``train.seed``."""
    seed = int(graph.graph["spec"].train.get("seed") or 0)
    return jax.random.fold_in(jax.random.key(seed), RECALL_SALT)


def make_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring:
    """Recall from the probes ``x``; compare with the stored patterns ``y`` (see the module docstring)."""
    layout = energy_of(graph)
    groups = layout.groups
    sweeps = int(graph.graph["spec"].train.get("sweeps") or DEFAULT_SWEEPS)
    synchronous = bool(graph.graph["spec"].train.get("synchronous", False))
    fixed = recall_key(graph)

    def scored(params: Mapping[str, Any], batch: Mapping[str, Any], key: Array | None, state: Any) -> tuple:
        probes = _joined(layout, batch["inputs"])
        rows = probes.shape[0]
        s, _ = recall(
            layout.weights(params),
            bipolar(graph, layout, probes),
            fixed if key is None else key,
            b=layout.bias(params),
            sweeps=sweeps,
            synchronous=synchronous,
        )
        targets = batch["targets"]
        stored = _joined(layout, targets) if all(g in targets for g in groups) else probes
        wrong = (s != bipolar(graph, layout, stored)).reshape(rows, -1)
        metrics = {
            "accuracy": 1.0 - wrong.mean(),  # of every bit of every probe
            "bit_errors": wrong.sum(axis=1).astype(jnp.float32).mean(),  # per probe
        }
        return jnp.zeros((), jnp.float32), metrics, {n: Aux() for n in plan.order}

    return Scoring(scored, inputs=groups, targets=groups, metrics=("accuracy", "bit_errors"))


def _joined(layout: Energy, parts: Mapping[str, Any]) -> Array:
    rows = jnp.asarray(next(iter(parts.values()))).shape[0]
    return layout.join({g: jnp.asarray(parts[g], jnp.float32).reshape(rows, -1) for g in layout.groups})


__all__ = ["bipolar", "energy_path", "from_bipolar", "make_scoring", "recall", "recall_key"]
