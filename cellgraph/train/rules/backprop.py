"""Backprop: gradient descent on the model's loss with an optax optimizer, as a rule.

The update is :func:`cellgraph.train.step.make_update` (value and gradient of the loss, the
optimizer's update, its metrics measured before the update); the rule state is the optimizer's
state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..optim import make_optimizer
from ..state import TrainState, optimizer_state
from ..step import ModelLike, make_update
from .protocol import Rule, RunInfo


def backprop(model: ModelLike, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """The optax step over the spec's optimizer, clipping and frozen groups."""
    tx = make_optimizer(cfg, getattr(model, "trainable_mask", None), loc=info.loc)

    def init(state: TrainState) -> TrainState:
        return state.replace(rule_state=optimizer_state(tx, state.params))

    return Rule(init, make_update(model, tx, count=False))  # the loop counts the steps


__all__ = ["backprop"]
