"""Rosenblatt's error-correction rule: w <- w + eta (t - o) x, one example at a time.

The lecture's rule (Δw = η(t − o)x): a mistake moves the weights towards the example, a right
answer leaves them alone. On linearly separable data it stops after finitely many mistakes
(Novikoff 1962); on XOR it never does. Weights start at zero, as in the classic presentation, so
η only scales them and the result is exactly reproducible.

One update is one pass over the training set (feed ``"epochs"``), visiting the examples in the
epoch's order in one ``lax.while_loop`` that skips ahead between mistakes (:func:`online_epoch`),
so no example is ever dropped and an epoch is one dispatch. The
order is the classic one, kept from before the rule protocol: epoch ``e`` visits the examples in
the ``e``-th permutation drawn from ``default_rng(seed)`` (the stored order with ``shuffle:
false``). Its metric ``mistakes`` is the number of corrections the pass made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...compiler import CompileError, Model
from ..state import TrainState
from ..step import Batch, Metrics
from .protocol import Order, Rule, RunInfo, stored_order


def perceptron(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """Train a single-layer step network (validated: one `output` group) with the perceptron rule."""
    out, source = model.outputs[0], model.inputs[0]
    n_out = math.prod(model.graph.nodes[out]["shape"])
    if n_out != 1:
        raise CompileError(f"group '{out}': the perceptron rule here trains one output unit, not {n_out}")
    eta = jnp.float32(cfg["eta"])

    def init(state: TrainState) -> TrainState:
        zeros = {k: jnp.zeros_like(v) for k, v in state.params[out].items()}  # kernel (in, 1), bias (1,)
        return state.replace(params={**state.params, out: zeros})

    def update(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        x = batch["inputs"][source]
        n = x.shape[0]
        xs = x.reshape(n, -1).astype(jnp.float32)  # (n, in)
        ts = batch["targets"][out].reshape(n).astype(jnp.float32)  # (n,) 0/1 targets
        kernel, bias = state.params[out]["kernel"], state.params[out]["bias"]
        w, b, mistakes = online_epoch(kernel.reshape(-1), bias.reshape(()), xs, ts, eta)
        params = {**state.params, out: {"kernel": w.reshape(kernel.shape), "bias": b.reshape(bias.shape)}}
        return state.replace(step=state.step + 1, params=params), {"mistakes": mistakes}

    order: Order = _ClassicOrder() if cfg["shuffle"] else stored_order
    return Rule(init, update, feed="epochs", order=order, advice="lower eta (train.eta)")


BLOCK = 256
"""Examples one step of :func:`online_epoch` checks at once."""


def online_epoch(
    w: jax.Array, b: jax.Array, xs: jax.Array, ts: jax.Array, eta: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One pass of the online rule over ``xs`` (n, in) with 0/1 targets ``ts`` (n,), in order:
    ``(w, b, mistakes)``.

    The weights change only at a mistake, so the rule is run a block at a time: the next
    :data:`BLOCK` examples are classified with the current weights in one product, the first one
    wrong (if any) corrects the weights, and the pass resumes right after it -- every example is
    still classified with the weights left by all the examples before it, exactly as one at a
    time, but a pass with few mistakes (every pass once the rule has converged) costs a few
    products instead of n sequential steps. Before any of that, the whole pass is classified with
    the starting weights in one product: when nothing is wrong (every pass once the rule has
    converged) the weights cannot change and the pass ends there. On the mushroom set's 20 passes
    (102 mistakes, all in the first) the block loop alone took 12 ms, with the check 7 ms, of which
    4 ms is the gathering of each pass's order.
    """
    wrong_anywhere = jnp.any((xs @ w + b > 0).astype(jnp.float32) != ts)
    return jax.lax.cond(
        wrong_anywhere, lambda: _corrections(w, b, xs, ts, eta), lambda: (w, b, jnp.zeros((), jnp.int32))
    )


def _corrections(
    w: jax.Array, b: jax.Array, xs: jax.Array, ts: jax.Array, eta: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """:func:`online_epoch`'s block loop: the pass run mistake by mistake."""
    n = xs.shape[0]
    size = min(BLOCK, n)
    pad_x = jnp.concatenate([xs, jnp.zeros((size, xs.shape[1]), xs.dtype)])  # a block never runs off the end
    pad_t = jnp.concatenate([ts, jnp.zeros((size,), ts.dtype)])
    places = jnp.arange(size)

    def step(carry: tuple) -> tuple:
        w, b, at, errors = carry
        block = jax.lax.dynamic_slice_in_dim(pad_x, at, size)  # (size, in)
        o = (block @ w + b > 0).astype(jnp.float32)  # step(w . x + b)
        wrong = (o != jax.lax.dynamic_slice_in_dim(pad_t, at, size)) & (at + places < n)
        first = jnp.argmax(wrong)  # the first mistake (0 when there is none: then no update)
        hit = wrong[first]
        delta = jnp.where(hit, eta * (pad_t[at + first] - o[first]), 0.0)
        w, b = w + delta * pad_x[at + first], b + delta
        return w, b, jnp.where(hit, at + first + 1, at + size), errors + hit.astype(jnp.int32)

    w, b, _, mistakes = jax.lax.while_loop(lambda c: c[2] < n, step, (w, b, jnp.int32(0), jnp.int32(0)))
    return w, b, mistakes


class _ClassicOrder:
    """Epoch ``e``'s order: the ``e``-th permutation of one ``default_rng(seed)`` stream.

    Drawing it needs the ``e`` permutations before it; the generator after the last epoch asked
    for is kept, so a run draws each permutation once (a resumed run redraws up to where it was).
    """

    def __init__(self) -> None:
        self._at = (-1, -1, -1)  # (seed, n, epoch) the generator has drawn up to; none yet
        self._rng = np.random.default_rng(0)

    def __call__(self, seed: int, epoch: int, n: int) -> np.ndarray:
        if self._at[:2] != (seed, n) or self._at[2] >= epoch:
            self._rng, self._at = np.random.default_rng(seed), (seed, n, -1)
        while True:
            perm = self._rng.permutation(n)
            self._at = (seed, n, self._at[2] + 1)
            if self._at[2] == epoch:
                return perm.astype(np.int32)


__all__ = ["online_epoch", "perceptron"]
