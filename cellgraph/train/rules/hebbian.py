"""Hebbian storage, in one shot: W = (1/N) sum_mu x^mu x^mu^T with a zero diagonal (Hopfield 1982).

Every pattern of the training set is stored at once: the weights are the patterns' correlation
matrix over the N units, scaled by 1/N, with no self-connections. Units written ``values:
binary`` are stored as their bipolar twins ``2 x - 1`` (Hopfield's own prescription for 0/1
neurons). Only the blocks of the symmetric edges the spec writes are kept; thresholds (visible
biases, where a group keeps one) stay at zero.

The rule sees the whole set once (feed ``"once"``) and is a pure jitted function. Its metrics
are the network's scoring on the stored patterns themselves: ``accuracy`` 1 means every stored
pattern is a fixed point of recall.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from ...compiler import Model
from ...compiler.energy import energy_of
from ...compiler.hopfield import bipolar
from ..state import TrainState
from ..step import Batch, Metrics
from .protocol import Rule, RunInfo, stored_order


def hebbian(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """Store the training patterns in the symmetric weights (validated: a group joined to itself)."""
    graph = model.graph
    layout = energy_of(graph)

    def store(params: Mapping[str, Any], batch: Batch) -> dict[str, dict[str, jax.Array]]:
        parts = batch["inputs"]
        rows = jnp.asarray(next(iter(parts.values()))).shape[0]
        x = layout.join({g: jnp.asarray(parts[g], jnp.float32).reshape(rows, -1) for g in layout.groups})
        x = bipolar(graph, layout, x)  # (patterns, units)
        w = x.T @ x / layout.units
        w = w * (1.0 - jnp.eye(layout.units, dtype=w.dtype))  # no self-connections
        return layout.set_weights(params, w)

    def update(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        params = store(state.params, batch)
        loss, metrics = model.loss(params, batch, None)  # recall from the stored patterns themselves
        return state.replace(step=state.step + 1, params=params), {"loss": loss, **metrics}

    return Rule(lambda state: state, update, feed="once", order=stored_order, advice="check the patterns")


__all__ = ["hebbian"]
