"""A Markov chain's transition matrix, where it lives in the parameters, and walks drawn from it.

A chain is one categorical group ``s`` with a delayed edge to itself (``s ~> s``): the state at
step t is drawn from row ``s_(t-1)`` of the transition matrix P. P is kept as the delayed
edge's matrix ``params[s]["from:s"]`` in log-probabilities (with the group's bias, if it keeps
one, at 0), so the executor's step -- ``one_hot(s_(t-1)) @ W + b`` -- followed by a softmax
is ``P[s_(t-1)]``, the next-state distribution; :func:`transition` reads it back. A
probability of 0 is stored as :data:`LOG_FLOOR`, not ``-inf``, so the parameters stay finite.

The network's :class:`~.networks.Scoring` (``rule: counting``): ``x`` is the observed walk, one-hot
(rows, T, states), fed to ``s`` (clamped, as the chain's own states); ``y`` the next state's id at
each step (rows, T). ``log_likelihood`` is the mean ``log P[s_t, s_(t+1)]`` over the transitions
of each row, in nats; its negative is the loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from .executor import Forward, Plan
from .networks import Scoring
from .protocol import Aux

Array = jax.Array

LOG_FLOOR: Final = -69.0
"""log(1e-30): the stored log-probability of a transition never seen (finite, and as good as 0)."""


def chain_group(graph: nx.DiGraph) -> str:
    """The chain's group: the categorical group with a delayed edge to itself (validated)."""
    for u, v, d in graph.edges(data=True):
        if u == v and d["delay"] > 0 and graph.nodes[u]["options"].get("distribution") == "categorical":
            return str(u)
    raise ValueError("no categorical group with a delayed edge to itself (`s ~> s`)")


def logits_key(group: str) -> str:
    """The name of the delayed self edge's matrix in the group's parameters."""
    return f"from:{group}"


def transition(params: Mapping[str, Any], group: str) -> Array:
    """P (states, states), row = the current state, column = the next: the softmax of the stored
    log-probabilities plus the group's bias."""
    p = params[group]
    logits = p[logits_key(group)] + p.get("bias", 0.0)
    return jax.nn.softmax(logits, axis=1)


def set_transition(params: Mapping[str, Any], group: str, p: Array) -> dict[str, dict[str, Array]]:
    """``params`` with P (rows summing to 1) stored as log-probabilities, the bias (if any) at 0."""
    out = {k: dict(v) for k, v in params.items()}
    out[group][logits_key(group)] = jnp.maximum(jnp.log(p), LOG_FLOOR).astype(jnp.float32)
    if "bias" in out[group]:
        out[group]["bias"] = jnp.zeros_like(out[group]["bias"])
    return out


def walk(p: Array, start: int | Array, steps: int, key: Array) -> Array:
    """A walk of ``steps`` states (int32) drawn from P, the first one ``start``: categorical draws
    from the current state's row, in one ``lax.scan``.

    >>> states = walk(transition(params, "s"), 0, 1000, jax.random.key(0))  # doctest: +SKIP
    """
    logs = jnp.log(p)

    def step(s: Array, k: Array) -> tuple[Array, Array]:
        nxt = jax.random.categorical(k, logs[s]).astype(jnp.int32)
        return nxt, s

    _, states = jax.lax.scan(step, jnp.asarray(start, jnp.int32), jax.random.split(key, steps))
    return states


def stationary(p: np.ndarray) -> np.ndarray:
    """The stationary distribution pi = pi P of a row-stochastic matrix (its left eigenvector for
    the eigenvalue nearest 1, normalised to sum 1)."""
    vals, vecs = np.linalg.eig(np.asarray(p, np.float64).T)
    pi = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    return pi / pi.sum()


def make_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring:
    """The mean log-probability of the observed transitions (see the module docstring)."""
    s = chain_group(graph)

    def scored(params: Mapping[str, Any], batch: Mapping[str, Any], key: Array | None, state: Any) -> tuple:
        x = jnp.asarray(batch["inputs"][s], jnp.float32)  # (rows, T, states) one-hot
        nxt = jnp.asarray(batch["targets"][s]).astype(jnp.int32)  # (rows, T)
        log_p = jnp.log(transition(params, s))
        rows = x @ log_p  # (rows, T, states): the log-probability of every next state
        ll = jnp.take_along_axis(rows, nxt[..., None], axis=-1)[..., 0].mean(axis=1)  # (rows,)
        return -ll.mean(), {"log_likelihood": ll.mean()}, {n: Aux() for n in plan.order}

    return Scoring(scored, inputs=(s,), targets=(s,), metrics=("log_likelihood",))


__all__ = [
    "LOG_FLOOR",
    "chain_group",
    "logits_key",
    "make_scoring",
    "set_transition",
    "stationary",
    "transition",
    "walk",
]
