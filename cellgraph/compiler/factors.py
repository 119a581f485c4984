"""Kulkarni et al. (2015)'s training scheme for a Gaussian code: one factor varies per batch.

DCIGN (ZOO.md 2.19) assigns a unit of its code to each scene variable (``train.factors: {code: z,
units: {x: 0, size: 1}}``). Every training batch varies one factor of the data and holds the
others fixed (the loop's batches are drawn that way, :mod:`cellgraph.train.rules.backprop`); the
code units *not* assigned to the varied factor then carry nothing the batch's images differ in,
so the decoder sees them clamped to their batch mean, and they are pulled to that mean by their
deviation -- the paper replaces their gradient with it, here the penalty
``sum_j (z_j - stop_gradient(mean_j))^2 / 2`` per example, whose gradient is exactly that. The
reconstruction must then pass through the one free unit, which comes to stand for its factor.

The batch says which factor it varies through the factor values it carries
(``batch["factors"]``, one column per factor of ``units``, in that order): the column that is not
constant. Evaluation batches carry none and run the plain forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import networkx as nx

from .executor import Forward
from .protocol import Aux

Array = jax.Array


@dataclass(frozen=True)
class FactorClamp:
    """The clamped training pass of a spec with ``train.factors``."""

    code: str
    units: tuple[int, ...]  # the code unit of each factor, in the batch's column order
    downstream: frozenset[str]  # the groups computed from the code (the decoder)

    def free_unit(self, factors: Array) -> Array:
        """The code unit left free in a batch: the varied factor's (the column that is not constant)."""
        spread = jnp.max(factors, axis=0) - jnp.min(factors, axis=0)  # (factors,): only the varied one moves
        varied = jnp.argmax(spread)
        return jnp.asarray(self.units)[varied]

    def __call__(
        self,
        forward: Forward,
        params: Any,
        inputs: Mapping[str, Array],
        factors: Array,
        key: Array,
        state: Mapping[str, Any],
    ) -> tuple[dict[str, Array], dict[str, Aux], Array]:
        """(values, aux, the clamped units' penalty): the encoder's pass, then the decoder's from
        the clamped code; each group's value and Aux come from the pass that computed it."""
        k_encode, k_decode = jax.random.split(key)
        values, aux = forward(params, inputs, key=k_encode, train=True, state=state)
        z = values[self.code]
        flat = z.reshape(z.shape[0], -1)
        free = jnp.arange(flat.shape[1]) == self.free_unit(factors)
        mean = jax.lax.stop_gradient(jnp.mean(flat, axis=0, keepdims=True))
        clamped = jnp.where(free, flat, mean)
        penalty = 0.5 * jnp.mean(jnp.sum(jnp.where(free, 0.0, jnp.square(flat - mean)), axis=1))
        decoded, decoded_aux = forward(
            params, {**inputs, self.code: clamped.reshape(z.shape)}, key=k_decode, train=True, state=state
        )
        for n in self.downstream:
            values[n], aux[n] = decoded[n], decoded_aux[n]
        return values, aux, penalty


def make_factor_clamp(graph: nx.DiGraph, factors: Mapping[str, Any] | None) -> FactorClamp | None:
    """The clamped pass ``train.factors`` asks for (validated), or None without it."""
    if not factors:
        return None
    code = str(factors["code"])
    return FactorClamp(code, tuple(int(u) for u in factors["units"].values()), frozenset(nx.descendants(graph, code)))


__all__ = ["FactorClamp", "make_factor_clamp"]
