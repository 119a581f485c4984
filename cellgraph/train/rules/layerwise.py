"""Greedy layer-wise training of a deep belief network (Hinton, Osindero & Teh 2006; Bengio et al. 2007).

A DBN is a stack of RBMs (``x -- p1 -- h1 -- ...``, each pair one RBM whose hidden layer is the
visible layer of the next) with a read-out on top (``top -> y``). It learns in phases, in order:

1. **pre-training**: each RBM in turn, bottom up, by CD-k (:func:`.rbm.cd_update`) with
   ``momentum`` for ``layer_epochs`` passes in minibatches of ``batch_size``, on the activities
   of the layer below -- the probabilities of the up pass through the RBMs trained before it (the
   data themselves for the first). A ``probabilistic_hidden`` layer passes samples of them up (a
   fresh draw per batch), as its units do in the network's training mode; a mean-field ``hidden``
   layer and the data pass their values as they are. The chain's visible units stay probabilities
   (Hinton 2010, section 3.3). Without momentum the upper RBMs barely learned on the digits: their
   inputs vary less at each level, and the top layer's activities varied by 0.008 after its 20
   passes (held-out accuracy 30-35% after fine-tuning); with 0.9 it reached 95%. Each RBM's mean-field
   reconstruction error on its whole training input is recorded before its training and after
   each of its passes (``rule_state["reconstruction"]``: (RBMs, layer_epochs + 1));
2. **read-out**, then, with ``finetune: true``, **fine-tuning**: backprop with the spec's optax
   optimizer on the cross-entropy of the label output after the deterministic (mean-field) up
   pass, which is what the network's ``apply`` computes without a key. The first
   ``ceil(epochs / 3)`` passes (all of them without ``finetune``) train only the groups outside
   the stack (the read-out); the rest train everything.

The loop feeds the rule one pass over the training set per update (feed ``"epochs"``), so
``epochs`` counts the read-out's and fine-tuning's passes, as the spec says; the first update runs
the whole pre-training before its pass (one program: the RBMs' passes are scans). The phase is in
the rule state (``pretrained``, ``passes``), so a resumed run goes on where it stopped. The upper
RBMs' visible biases belong to no group (a group's ``bias`` is its hidden bias in the RBM below
it, the one the up pass reads); they are kept in the rule state too (``visible_bias``), and so is
a copy of the stack's matrices and hidden biases as pre-training left them (``generative``):
fine-tuning adapts the tied weights to recognition and wrecks them as a generative model (samples
drawn through fine-tuned weights were one blurred digit for every chain; through the pre-trained
ones, varied digits), so the generative down pass (:mod:`cellgraph.views.rbm`) reads the copy --
Hinton et al.'s (2006) untying of recognition and generative weights, without their up-down
fine-tuning of the generative side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp
import optax

from ...compiler import Model
from ...compiler.energy import SYM
from ...compiler.rbm import Pair, hidden_probs, pairs_of, reconstruct
from ..optim import make_optimizer
from ..state import TrainState, optimizer_state
from ..step import Batch, Metrics
from .protocol import Rule, RunInfo
from .rbm import cd_update

Array = jax.Array
Params = dict[str, dict[str, Array]]

READOUT_SHARE: Final = 1 / 3
"""With ``finetune``, the share of the passes that train the read-out alone before the whole
stack: the fine-tuning then starts from a fitted read-out, not from random weights whose
gradients would reach the pre-trained RBMs first."""


def stack_of(model: Model) -> tuple[Pair, ...]:
    """The DBN's RBMs, bottom up."""
    return pairs_of(model.graph)


def visible_biases(params: Mapping[str, Any], rule_state: Mapping[str, Any], stack: tuple[Pair, ...]) -> list[Array]:
    """Each RBM's visible bias: the bottom one a parameter of the data's group, the others kept by the rule."""
    return [
        pair.visible_bias(params) if i == 0 else rule_state["visible_bias"][pair.lower] for i, pair in enumerate(stack)
    ]


def _rbm_weights(params: Mapping[str, Any], pair: Pair) -> dict[str, Array]:
    """A copy of an RBM's matrix and hidden bias, as the rule state keeps them."""
    return {"w": jnp.array(pair.weights(params)), "c": jnp.array(pair.hidden_bias(params))}


def _in_stack(stack: tuple[Pair, ...]) -> dict[str, set[str]]:
    """group -> its parameters that belong to the RBMs (the rest is the read-out's)."""
    owned: dict[str, set[str]] = {}
    for i, pair in enumerate(stack):
        owned.setdefault(pair.upper, set()).update({SYM + pair.lower, "bias"})
        if i == 0:
            owned.setdefault(pair.lower, set()).add("bias")
    return owned


def greedy_layerwise(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """Pre-train the stack RBM by RBM, then fit the read-out (and fine-tune) by backprop."""
    stack = stack_of(model)
    k, lr = int(cfg["k"]), float(cfg["learning_rate"])
    layer_epochs, finetune = int(cfg["layer_epochs"]), bool(cfg["finetune"])
    epochs = int(cfg["epochs"])
    momentum = float(cfg["momentum"])
    readout_passes = math.ceil(epochs * READOUT_SHARE) if finetune else None  # None: the read-out only
    batch = max(1, min(int(cfg["batch_size"]), info.examples))
    source = stack[0].lower
    tx = make_optimizer(cfg, getattr(model, "trainable_mask", None), loc=info.loc)
    owned = _in_stack(stack)

    def init(state: TrainState) -> TrainState:
        rule_state = {
            "pretrained": jnp.zeros((), jnp.bool_),
            "passes": jnp.zeros((), jnp.int32),
            "visible_bias": {p.lower: jnp.zeros((p.n_lower,), jnp.float32) for p in stack[1:]},
            "reconstruction": jnp.zeros((len(stack), layer_epochs + 1), jnp.float32),
            "generative": {p.upper: _rbm_weights(state.params, p) for p in stack},
            "opt": optimizer_state(tx, state.params),
        }
        return state.replace(rule_state=rule_state)

    def pretrain_rbm(
        w: Array, b: Array, c: Array, data: Array, key: Array, sampled: bool
    ) -> tuple[Array, Array, Array, Array]:
        """One RBM's ``layer_epochs`` passes of CD-k on ``data`` (n, |v|), each batch's visible
        units drawn from ``data`` when ``sampled``; its reconstruction errors before and after each pass."""
        n = data.shape[0]
        steps = n // batch

        def one_pass(carry: tuple[Any, Any], key: Array) -> tuple[tuple[Any, Any], Array]:
            """A pass of CD steps; carry: ((w, b, c), their velocities)."""
            k_perm, k_cd = jax.random.split(key)
            order = jax.random.permutation(k_perm, n)[: steps * batch].reshape(steps, batch)

            def one_batch(wbc: tuple, xs: tuple[Array, Array]) -> tuple:
                (w, b, c), vel = wbc
                idx, key = xs
                v0 = data[idx]
                if sampled:
                    key, ks = jax.random.split(key)
                    v0 = jax.random.bernoulli(ks, v0).astype(v0.dtype)
                d = cd_update(w, b, c, v0, key, k, lr, sample_visible=False)
                vel = jax.tree.map(lambda v, g: momentum * v + g, vel, (d.w, d.b, d.c))
                return ((w + vel[0], b + vel[1], c + vel[2]), vel), None

            (wbc, vel), _ = jax.lax.scan(one_batch, carry, (order, jax.random.split(k_cd, steps)))
            w, b, c = wbc
            return (wbc, vel), jnp.mean((reconstruct(data, w, b, c) - data) ** 2)

        before = jnp.mean((reconstruct(data, w, b, c) - data) ** 2)
        zeros = jax.tree.map(jnp.zeros_like, (w, b, c))
        ((w, b, c), _), errors = jax.lax.scan(one_pass, ((w, b, c), zeros), jax.random.split(key, layer_epochs))
        return w, b, c, jnp.concatenate([before[None], errors])

    def pretrain(params: Params, rule_state: dict[str, Any], data: Array, key: Array) -> tuple[Params, dict[str, Any]]:
        params = {g: dict(p) for g, p in params.items()}
        biases = dict(rule_state["visible_bias"])
        errors = []
        for i, (pair, k_layer) in enumerate(zip(stack, jax.random.split(key, len(stack)), strict=True)):
            b = visible_biases(params, {"visible_bias": biases}, stack)[i]
            sampled = bool(model.graph.nodes[pair.lower]["cell"].probabilistic)
            w, b, c, err = pretrain_rbm(pair.weights(params), b, pair.hidden_bias(params), data, k_layer, sampled)
            params[pair.upper][SYM + pair.lower] = w
            if "bias" in params[pair.upper]:
                params[pair.upper]["bias"] = c
            if i == 0:
                if "bias" in params.get(pair.lower, {}):
                    params[pair.lower]["bias"] = b
            else:
                biases[pair.lower] = b
            errors.append(err)
            data = hidden_probs(data, w, c)  # the next RBM's input: this one's activities
        return params, {**rule_state, "visible_bias": biases, "reconstruction": jnp.stack(errors)}

    def readout_only(grads: Params) -> Params:
        return {
            g: {n: jnp.zeros_like(v) if n in owned.get(g, ()) else v for n, v in p.items()} for g, p in grads.items()
        }

    def backprop_pass(state: TrainState, batch_all: Batch, key: Array) -> tuple[TrainState, Metrics]:
        rows = next(iter(batch_all["inputs"].values())).shape[0]
        steps = rows // batch
        cut = jax.tree.map(lambda a: a[: steps * batch].reshape(steps, batch, *a.shape[1:]), batch_all)
        only_readout = (
            jnp.ones((), jnp.bool_) if readout_passes is None else state.rule_state["passes"] < readout_passes
        )

        def one_batch(carry: tuple[Params, Any], b: Batch) -> tuple[tuple[Params, Any], Metrics]:
            params, opt = carry
            (loss, metrics), grads = jax.value_and_grad(model.loss, has_aux=True)(params, b, None)
            grads = jax.lax.cond(only_readout, readout_only, lambda g: g, grads)
            updates, opt = tx.update(grads, opt, params)
            return (optax.apply_updates(params, updates), opt), {"loss": loss, **metrics}

        (params, opt), metrics = jax.lax.scan(one_batch, (state.params, state.rule_state["opt"]), cut)
        rule_state = {**state.rule_state, "opt": opt, "passes": state.rule_state["passes"] + 1}
        return state.replace(params=params, rule_state=rule_state), jax.tree.map(jnp.mean, metrics)

    def update(state: TrainState, batch_all: Batch) -> tuple[TrainState, Metrics]:
        rng, k_pre, k_pass = jax.random.split(state.rng, 3)
        x = batch_all["inputs"][source]
        data = jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)

        def first(operands: tuple[Params, dict[str, Any]]) -> tuple[Params, dict[str, Any]]:
            params, rule_state = pretrain(*operands, data, k_pre)
            generative = {p.upper: _rbm_weights(params, p) for p in stack}  # kept from fine-tuning
            return params, {**rule_state, "pretrained": jnp.ones((), jnp.bool_), "generative": generative}

        params, rule_state = jax.lax.cond(
            state.rule_state["pretrained"], lambda ops: ops, first, (state.params, state.rule_state)
        )
        state = state.replace(params=params, rule_state=rule_state, rng=rng)
        return backprop_pass(state, batch_all, k_pass)

    return Rule(init, update, feed="epochs", advice="lower the learning rates (train.learning_rate, train.optimizer)")


__all__ = ["greedy_layerwise", "stack_of", "visible_biases"]
