"""Backprop: gradient descent on the model's loss with an optax optimizer, as a rule.

The update is :func:`cellgraph.train.step.make_update` (value and gradient of the loss, the
optimizer's update, its metrics measured before the update); the rule state is the optimizer's
state. With ``train.factors`` (Kulkarni et al. 2015, :mod:`cellgraph.compiler.factors`) each
batch varies one factor of the data: :class:`FactorOrder` draws the epoch's batches that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..optim import make_optimizer
from ..state import TrainState, optimizer_state
from ..step import ModelLike, make_update
from .closed_form import make_prepare
from .protocol import Rule, RunInfo


def backprop(model: ModelLike, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """The optax step over the spec's optimizer, clipping and frozen groups."""
    tx = make_optimizer(cfg, getattr(model, "trainable_mask", None), loc=info.loc)

    def init(state: TrainState) -> TrainState:
        return state.replace(rule_state=optimizer_state(tx, state.params))

    order = None
    if cfg.get("factors") and info.factors is not None:
        order = FactorOrder(np.asarray(info.factors), min(int(cfg["batch_size"]), info.examples))
    prepare = make_prepare(model, cfg, info)  # the `rule: ridge` outputs beside it, solved first
    return Rule(init, make_update(model, tx, count=False), order=order, prepare=prepare)  # the loop counts steps


class FactorOrder:
    """An epoch of batches that each vary one factor: ``batch`` rows at a time, each block drawn
    by picking a factor (in turn), a row whose other factors the block keeps, and ``batch`` rows
    sharing those (without replacement while there are enough). A function of (seed, epoch)."""

    def __init__(self, factors: np.ndarray, batch: int) -> None:
        self.factors, self.batch = factors, max(batch, 1)

    def __call__(self, seed: int, epoch: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([seed, epoch, 0x4B75])
        columns = self.factors.shape[1]
        blocks = []
        for b in range(-(-n // self.batch)):
            varied = b % columns
            anchor = self.factors[rng.integers(n)]
            kept = np.delete(np.arange(columns), varied)
            rows = np.flatnonzero(np.all(self.factors[:, kept] == anchor[kept], axis=1))
            blocks.append(rng.choice(rows, self.batch, replace=len(rows) < self.batch))
        return np.concatenate(blocks)[:n].astype(np.int32)


__all__ = ["backprop"]
