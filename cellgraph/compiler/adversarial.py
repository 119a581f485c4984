"""The GAN's two losses over one compiled graph (``train.rule: adversarial``, ZOO.md 2.20).

A GAN spec is one graph: the generator's groups, then the discriminator's, joined where the
discriminator reads the generator's sample (:class:`~cellgraph.graph.rules.Adversaries`). The
discriminator sees real data through the same graph by *clamping* the sample group to them (the
executor's clamped values), so no second network is built and the two share the same weights by
construction. Both losses are read from the verdict's logit (``Aux.pre``), as
``optax.sigmoid_binary_cross_entropy`` does, so a saturated sigmoid never gives ``log 0``:

* discriminator: ``-log D(x) - log(1 - D(G(z)))``;
* generator, the non-saturating form of Goodfellow et al. (2014): ``-log D(G(z))``.

:func:`ks_statistic` is the held-out figure ZOO.md asks for: the two-sample Kolmogorov-Smirnov
distance between generated and real samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import networkx as nx

from ..graph.rules import Adversaries, adversaries
from .executor import Forward, Plan, draw_noise
from .protocol import Aux, CompileError

Array = jax.Array


def ks_statistic(a: Array, b: Array) -> Array:
    """The two-sample Kolmogorov-Smirnov statistic ``sup_t |F_a(t) - F_b(t)|`` of two sets of
    samples ``(n, ...)`` and ``(m, ...)``: per value of a sample (each compared as a 1-D
    distribution), the largest. Exact: both empirical CDFs are read at every sample point."""
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)

    def one(x: Array, y: Array) -> Array:
        x, y = jnp.sort(x), jnp.sort(y)
        points = jnp.concatenate([x, y])
        fx = jnp.searchsorted(x, points, side="right") / x.shape[0]
        fy = jnp.searchsorted(y, points, side="right") / y.shape[0]
        return jnp.max(jnp.abs(fx - fy))

    return jnp.max(jax.vmap(one, in_axes=(1, 1))(a, b))


@dataclass(frozen=True)
class Adversarial:
    """The GAN's pieces as pure functions of ``(params, ...)``, for the rule and for evaluation."""

    roles: Adversaries
    forward: Forward
    plan: Plan

    def generate(self, params: Any, n: int, key: Array | None) -> tuple[Array, Array, dict[str, Aux]]:
        """``n`` generated samples, the discriminator's logits for them, and every group's Aux."""
        k_noise, k_pass = _split(key)
        values, aux = self.forward(
            params, draw_noise(self.plan, k_noise, n, self.roles.noise), key=k_pass, train=key is not None
        )
        return values[self.roles.sample], _logit(aux, self.roles.verdict), aux

    def fake(self, params: Any, n: int, key: Array | None) -> tuple[Array, Array]:
        """``n`` generated samples and the discriminator's logits for them."""
        sample, logit, _ = self.generate(params, n, key)
        return sample, logit

    def real_logits(self, params: Any, real: Array, key: Array | None) -> Array:
        """The discriminator's logits for real samples (the sample group clamped to them)."""
        _, aux = self.forward(params, {self.roles.sample: real}, key=key, train=key is not None)
        return _logit(aux, self.roles.verdict)

    def d_loss(self, params: Any, real: Array, key: Array | None) -> tuple[Array, dict[str, Array]]:
        """The discriminator's loss on a batch of real samples and as many generated ones."""
        k_fake, k_real = _split(key)
        _, fake_logit = self.fake(params, real.shape[0], k_fake)
        return _d_terms(self.real_logits(params, real, k_real), fake_logit)

    def g_loss(self, params: Any, n: int, key: Array | None) -> Array:
        """The generator's non-saturating loss ``-log D(G(z))`` on ``n`` generated samples."""
        _, fake_logit = self.fake(params, n, key)
        return jnp.mean(jax.nn.softplus(-fake_logit))

    def scored(
        self, params: Any, batch: Mapping[str, Any], key: Array | None, state: Mapping[str, Any]
    ) -> tuple[Array, dict[str, Array], dict[str, Aux]]:
        """The model's loss for a batch of real samples: both losses summed, and the metrics
        (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, ``ks_statistic`` against the batch). One
        generated batch serves both losses and the KS distance."""
        real = jnp.asarray(batch["inputs"][self.roles.sample])
        k_real, k_fake = _split(key)
        fake, fake_logit, aux = self.generate(params, real.shape[0], k_fake)
        d, metrics = _d_terms(self.real_logits(params, real, k_real), fake_logit)
        g = jnp.mean(jax.nn.softplus(-fake_logit))
        metrics = {**metrics, "g_loss": g, "ks_statistic": ks_statistic(fake, real), "loss": d + g}
        return d + g, metrics, aux


def _d_terms(real_logit: Array, fake_logit: Array) -> tuple[Array, dict[str, Array]]:
    """``-log D(x) - log(1 - D(G(z)))`` from the logits, and the mean verdicts."""
    loss = jnp.mean(jax.nn.softplus(-real_logit)) + jnp.mean(jax.nn.softplus(fake_logit))
    return loss, {
        "d_loss": loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logit)),
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logit)),
    }


def make_adversarial(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Adversarial:
    """The GAN of a graph trained with ``rule: adversarial`` (validated: see ``_check_adversarial``)."""
    roles = adversaries(graph)
    if roles is None:
        raise CompileError(
            "`rule: adversarial` needs a generator and a discriminator; run `cellgraph check` on the spec"
        )
    return Adversarial(roles, forward, plan)


def _logit(aux: Mapping[str, Aux], group: str) -> Array:
    pre = aux[group].pre
    if pre is None:
        raise CompileError(f"group '{group}': the verdict keeps no logit; give it `activation: sigmoid`")
    return pre.reshape(pre.shape[0])


def _split(key: Array | None) -> tuple[Array | None, Array | None]:
    if key is None:
        return None, None
    a, b = jax.random.split(key)
    return a, b


__all__ = ["Adversarial", "ks_statistic", "make_adversarial"]
