"""Backprop: gradient descent on the model's loss with an optax optimizer, as a rule.

The update is :func:`cellgraph.train.step.step_fn` (value and gradient of the loss, the optimizer's
update, its metrics measured before the update); the rule state is the optimizer's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from ..optim import make_optimizer
from ..state import TrainState
from ..step import ModelLike, step_fn
from .protocol import Rule, RunInfo


def backprop(model: ModelLike, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """The optax step over the spec's optimizer, clipping and frozen groups."""
    tx = make_optimizer(cfg, getattr(model, "trainable_mask", None), loc=info.loc)

    def init(state: TrainState) -> TrainState:
        # the step donates its state, so no two leaves may share a buffer (optax's lbfgs shares some)
        return state.replace(rule_state=jax.tree.map(jnp.copy, tx.init(state.params)))

    # a model that draws no random numbers while training gets the state's key unsplit (see step_fn)
    return Rule(init, step_fn(model.loss, tx, stochastic=bool(getattr(model, "stochastic", True))))


__all__ = ["backprop"]
