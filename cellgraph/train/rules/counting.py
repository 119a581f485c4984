"""A Markov chain's transition matrix by counting: P_ij = (n_ij + a) / sum_k (n_ik + a).

The maximum-likelihood estimate of a chain's transition probabilities from an observed walk is
the count of each transition i -> j over the count of visits to i; ``smoothing`` adds a pseudo-count
``a`` to every transition (Laplace's rule at 1), so a transition never seen keeps some
probability. A state never left in the data (its row all zero, no smoothing) gets the uniform row.

The rule sees the whole walk once (feed ``"once"``), as a pure jitted function: one ``einsum``
of the one-hot states with the one-hot next states. P is stored where the compiled chain reads it
(:func:`~cellgraph.compiler.markov.set_transition`). Its metrics are the chain's scoring on the
training walk (the mean log-likelihood of its transitions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from ...compiler import Model
from ...compiler.markov import chain_group, set_transition
from ..state import TrainState
from ..step import Batch, Metrics
from .protocol import Rule, RunInfo, stored_order


def count_transitions(x: jax.Array, nxt: jax.Array, states: int) -> jax.Array:
    """Counts (states, states) of the transitions in one-hot walks ``x`` (rows, T, states) to the
    next states' ids ``nxt`` (rows, T)."""
    return jnp.einsum("rti,rtj->ij", x.astype(jnp.float32), jax.nn.one_hot(nxt, states, dtype=jnp.float32))


def normalise(counts: jax.Array, smoothing: float) -> jax.Array:
    """Row-normalised ``counts + smoothing``; a row with nothing in it is uniform."""
    counts = counts + smoothing
    total = counts.sum(axis=1, keepdims=True)
    uniform = jnp.full_like(counts, 1.0 / counts.shape[1])
    return jnp.where(total > 0, counts / jnp.where(total > 0, total, 1.0), uniform)


def counting(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """Estimate the chain's transition matrix from the training walk (validated: one categorical
    group with a delayed edge to itself)."""
    s = chain_group(model.graph)
    states = int(model.graph.nodes[s]["shape"][-1])
    smoothing = float(cfg["smoothing"])

    def update(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        counts = count_transitions(batch["inputs"][s], batch["targets"][s], states)
        params = set_transition(state.params, s, normalise(counts, smoothing))
        loss, metrics = model.loss(params, batch, None)
        return state.replace(step=state.step + 1, params=params), {"loss": loss, **metrics}

    return Rule(lambda state: state, update, feed="once", order=stored_order, advice="check the walk")


__all__ = ["count_transitions", "counting", "normalise"]
