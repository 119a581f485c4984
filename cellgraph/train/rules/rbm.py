"""Contrastive divergence (Hinton 2002): CD-k, and persistent CD (Tieleman 2008).

One update is one pass over the training set (feed ``"epochs"``), in the loop's shuffled order:
one jitted program that scans its minibatches of ``batch_size`` (a last, smaller batch takes the
remainder, as scikit-learn's ``BernoulliRBM`` does). One dispatch per pass rather than per batch:
the digits benchmark's 2500 steps of 10 images took 0.75 s fed one batch per update (the loop's
dispatch and sync per step), against scikit-learn's 0.46 s. Each step is

    ΔW = η (<v p(h|v)^T>_data - <v_k p(h|v_k)^T>_model),  Δb = η (<v>_data - <v_k>),
    Δc = η (<p(h|v)>_data - <p(h|v_k)>)

averaged over the examples, where ``v_k`` ends ``k`` steps of block Gibbs sampling (``h ~ p(h|v)``,
``v ~ p(v|h)``). CD-k starts the chain at the data; PCD (``persistent: true``) keeps
``batch_size`` chains in the rule state, each update continuing them where the last one left
them, so they travel with the checkpoints and a resumed run continues the same chains. Following
Hinton's (2010) practical guide, the statistics use the hidden probabilities, not samples; the
chain samples the visible units, as scikit-learn's ``BernoulliRBM`` does.

The update's metric is ``reconstruction_error``, each batch's (one mean-field up-down pass, before
its step) averaged over the pass: CD follows no objective's gradient, so there is no loss to report.
:func:`cd_update` is the arithmetic alone, shared with the DBN's greedy layer-wise rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import jax
import jax.numpy as jnp

from ...compiler import Model
from ...compiler.energy import SYM
from ...compiler.rbm import hidden_probs, pairs_of, reconstruct, visible_probs
from ..state import TrainState
from ..step import Batch, Metrics
from .protocol import Rule, RunInfo, stored_order

Array = jax.Array
Params = dict[str, dict[str, Array]]

CHAIN_SALT: Final = 0x706364
"""Folded into the run key for the persistent chains' random starting states."""


class Delta(NamedTuple):
    """One CD update's changes of an RBM's weights (|v|, |h|) and biases, and the chain's end."""

    w: Array
    b: Array
    c: Array
    chain: Array  # v_k (chains, |v|): where a persistent chain goes on from


def gibbs(w: Array, b: Array, c: Array, v: Array, key: Array, k: int, *, sample_visible: bool = True) -> Array:
    """``k`` steps of block Gibbs sampling from the visible states ``v``: ``h ~ p(h|v)``, then
    ``v ~ p(v|h)`` (its probabilities instead, with ``sample_visible=False``)."""

    def step(i: Array | int, v: Array) -> Array:
        kh, kv = jax.random.split(jax.random.fold_in(key, i))
        h = jax.random.bernoulli(kh, hidden_probs(v, w, c)).astype(v.dtype)
        pv = visible_probs(h, w, b)
        return jax.random.bernoulli(kv, pv).astype(v.dtype) if sample_visible else pv

    return step(0, v) if k == 1 else jax.lax.fori_loop(0, k, step, v)


def cd_update(
    w: Array,
    b: Array,
    c: Array,
    v0: Array,
    key: Array,
    k: int,
    lr: float | Array,
    chain: Array | None = None,
    *,
    sample_visible: bool = True,
) -> Delta:
    """The CD-k step of the RBM ``(w, b, c)`` on the examples ``v0`` (batch, |v|), or the PCD step
    when ``chain`` (chains, |v|) holds the persistent chains' visible states."""
    ph0 = hidden_probs(v0, w, c)
    vk = gibbs(w, b, c, v0 if chain is None else chain, key, k, sample_visible=sample_visible)
    phk = hidden_probs(vk, w, c)
    n, m = v0.shape[0], vk.shape[0]
    dw = lr * (v0.T @ ph0 / n - vk.T @ phk / m)
    db = lr * (jnp.mean(v0, axis=0) - jnp.mean(vk, axis=0))
    dc = lr * (jnp.mean(ph0, axis=0) - jnp.mean(phk, axis=0))
    return Delta(dw, db, dc, vk)


def contrastive_divergence(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """CD-k (or PCD) on the network's one ``visible -- hidden`` pair (validated)."""
    (pair,) = pairs_of(model.graph)
    k, lr, persistent = int(cfg["k"]), float(cfg["learning_rate"]), bool(cfg["persistent"])
    size = max(1, min(int(cfg["batch_size"]), info.examples))  # examples per CD step; chains of PCD
    sym = SYM + pair.lower

    def init(state: TrainState) -> TrainState:
        if not persistent:
            return state.replace(rule_state={})
        start = jax.random.bernoulli(jax.random.fold_in(state.rng, CHAIN_SALT), 0.5, (size, pair.n_lower))
        return state.replace(rule_state={"chains": start.astype(jnp.float32)})

    def one_batch(carry: tuple[Params, Any], xs: tuple[Array, Array]) -> tuple[tuple[Params, Any], Array]:
        """One CD step on the minibatch ``v0``; the batch's reconstruction error before it."""
        params, chain = carry
        v0, key = xs
        w, b, c = pair.weights(params), pair.visible_bias(params), pair.hidden_bias(params)
        error = jnp.mean((reconstruct(v0, w, b, c) - v0) ** 2)
        d = cd_update(w, b, c, v0, key, k, lr, chain if persistent else None)
        new = {g: dict(p) for g, p in params.items()}
        new[pair.upper][sym] = w + d.w
        if "bias" in params.get(pair.lower, {}):
            new[pair.lower]["bias"] = b + d.b
        if "bias" in params.get(pair.upper, {}):
            new[pair.upper]["bias"] = c + d.c
        return (new, d.chain if persistent else chain), error

    def update(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        rng, key = jax.random.split(state.rng)
        x = batch["inputs"][pair.lower]
        v = jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)  # (n, |v|), in the epoch's order
        full, rest = divmod(v.shape[0], size)
        keys = jax.random.split(key, full + 1)
        chain = state.rule_state["chains"] if persistent else jnp.zeros((), jnp.float32)
        xs = (v[: full * size].reshape(full, size, -1), keys[:full])
        (params, chain), errors = jax.lax.scan(one_batch, (state.params, chain), xs)
        total = jnp.sum(errors) * size
        if rest:  # the last, smaller batch: nothing is left out
            (params, chain), error = one_batch((params, chain), (v[full * size :], keys[full]))
            total = total + error * rest
        rule_state = {"chains": chain} if persistent else state.rule_state
        metrics = {"reconstruction_error": total / v.shape[0]}
        return state.replace(params=params, rule_state=rule_state, rng=rng), metrics

    # one minibatch holding every example learns the same whatever their order (a mean over rows):
    # the loop then need not draw a permutation per pass (24 us each, a third of the loop's
    # host time over the bars-and-stripes RBM's 3000 passes)
    order = stored_order if size >= info.examples else None
    return Rule(init, update, feed="epochs", order=order, advice="lower the learning rate (train.learning_rate)")


__all__ = ["Delta", "cd_update", "contrastive_divergence", "gibbs"]
