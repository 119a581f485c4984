"""The adversarial rule (GAN): alternating discriminator and generator updates in one jitted step.

Goodfellow et al. (2014), Algorithm 1: ``d_steps`` updates of the discriminator, each on the
batch's real samples and as many freshly generated ones, then one update of the generator with
the non-saturating loss ``-log D(G(z))`` on a fresh draw of noise. The losses are
:class:`cellgraph.compiler.adversarial.Adversarial`'s; each network has its own optax state of
the spec's optimizer (Adam with ``b1 = 0.5`` is the DCGAN recipe), and each update differentiates
its own network's parameters only, so the other's are constants of that update.

The discriminator's steps reuse the batch's real samples with fresh noise each time: the loop
hands a rule one batch per update. The metrics are those of the batch before the updates:
``d_loss``, ``g_loss``, ``d_real`` / ``d_fake`` (the mean verdicts) and ``loss``, their sum,
which the loop watches for nan or inf.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import optax

from ...compiler.adversarial import make_adversarial
from ...typedefs import Params
from ..optim import make_optimizer
from ..state import TrainState, optimizer_state
from ..step import Batch, Metrics
from .protocol import Rule, RunInfo


def adversarial(model: Any, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """Train the spec's generator against its discriminator (``train.generator``, ``train.discriminator``)."""
    gan = make_adversarial(model.graph, model.forward, model.plan)
    tx = make_optimizer(cfg, None, loc=info.loc)
    d_steps, ema = int(cfg["d_steps"]), float(cfg["ema"])
    generator, discriminator = set(gan.roles.generator), set(gan.roles.discriminator)

    def part(params: Params, groups: set[str]) -> Params:
        return {k: v for k, v in params.items() if k in groups}

    def init(state: TrainState) -> TrainState:
        d, g = part(state.params, discriminator), part(state.params, generator)
        # the generator's raw weights train in the rule state; the params hold their running average
        return state.replace(rule_state=(optimizer_state(tx, d), optimizer_state(tx, g), g))

    def update(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        real = batch["inputs"][gan.roles.sample]
        rng, *keys = jax.random.split(state.rng, d_steps + 2)
        d_opt, g_opt, g = state.rule_state
        params = {**state.params, **g}  # the discriminator plays against the raw generator
        metrics: Metrics = {}
        for i in range(d_steps):  # unrolled: d_steps is small and static

            def d_loss(d: Params, key: jax.Array = keys[i]) -> tuple[jax.Array, Metrics]:
                return gan.d_loss({**params, **d}, real, key)

            d = part(params, discriminator)
            (_, measured), grads = jax.value_and_grad(d_loss, has_aux=True)(d)
            metrics = metrics or measured  # the batch as it was before any update
            updates, d_opt = tx.update(grads, d_opt, d)
            params.update(optax.apply_updates(d, updates))

        def g_loss(g: Params) -> jax.Array:
            return gan.g_loss({**params, **g}, real.shape[0], keys[-1])

        g_value, grads = jax.value_and_grad(g_loss)(g)
        updates, g_opt = tx.update(grads, g_opt, g)
        g = optax.apply_updates(g, updates)
        params.update(optax.incremental_update(g, part(state.params, generator), 1.0 - ema))  # the running average
        metrics = {**metrics, "g_loss": g_value, "loss": metrics["d_loss"] + g_value}
        return state.replace(params=params, rule_state=(d_opt, g_opt, g), rng=rng), metrics

    return Rule(init, update, advice="lower the learning rate (train.optimizer) or raise d_steps")


__all__ = ["adversarial"]
