"""Boltzmann learning: dW_ij = eta (<s_i s_j>_clamped - <s_i s_j>_free) (Ackley, Hinton & Sejnowski 1985).

The gradient of the data's mean log-likelihood in a Boltzmann machine is the difference of two
correlations: with the visible units clamped to the data (the hidden ones at equilibrium), and
with every unit free. Each bias moves by the same difference of mean states. The rule ascends it
on full or mini batches (feed ``"batches"``), one jitted update per batch:

* ``exact: true`` -- both expectations by enumerating the free units' states
  (:func:`~cellgraph.compiler.boltzmann.exact_moments`): deterministic, and what a machine of up to
  :data:`~cellgraph.compiler.boltzmann.MAX_EXACT_UNITS` units should use;
* ``exact: false`` -- annealed Gibbs sampling (:func:`~cellgraph.compiler.boltzmann.gibbs`):
  ``chains`` chains per example in the clamped phase and ``chains`` free chains, each cooled from
  ``temperature`` to 1 over the first half of ``sweeps`` sweeps and read over the second half.

Hidden units make the likelihood multimodal: in the 4-2-4 encoder about two starts in three end
with two patterns sharing one hidden code, a local maximum no gradient step leaves. So the rule
trains ``restarts`` independent starts side by side (one vmapped update) and hands out, after each
update, the start whose exact log-likelihood of the batch was highest (k-means' ``n_init`` in
scikit-learn chooses the same way, by its own objective). Every start's weights are drawn
N(0, ``init_std``^2), biases 0; the starts live in the rule state, so a resumed run goes on with
all of them.

Only the blocks of the edges the spec writes move (a missing ``v1 -- v2`` stays absent), self
blocks keep their zero diagonal, and only groups that keep a bias learn one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...compiler import Model
from ...compiler.boltzmann import MAX_EXACT_UNITS, exact_moments, machine_of, sampled_moments, temperatures
from ...compiler.energy import SYM
from ..state import TrainState
from ..step import Batch, Metrics
from .protocol import Rule, RunInfo

Array = jax.Array


def boltzmann(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """Train the symmetric weights and biases of a Boltzmann machine (validated: visible groups,
    symmetric edges, binary units)."""
    m = machine_of(model.graph)
    layout = m.layout
    n = layout.units
    eta = jnp.float32(cfg["learning_rate"])
    exact, restarts, std = bool(cfg["exact"]), int(cfg["restarts"]), float(cfg["init_std"])
    chains = int(cfg["chains"])
    temps = temperatures(int(cfg["sweeps"]), float(cfg["temperature"]))
    enumerable = n <= MAX_EXACT_UNITS
    every = np.arange(n)
    edges, biased = _masks(model, layout)

    def init(state: TrainState) -> TrainState:
        rng, key = jax.random.split(state.rng)
        w = std * jax.random.normal(key, (restarts, n, n), jnp.float32)
        w = (jnp.triu(w, 1) + jnp.swapaxes(jnp.triu(w, 1), 1, 2)) * edges  # symmetric, zero diagonal
        starts = {"w": w, "b": jnp.zeros((restarts, n), jnp.float32)}
        params = _params(layout, state.params, w[0], starts["b"][0])
        return state.replace(params=params, rule_state=starts, rng=rng)

    def moments(w: Array, b: Array, data: Array, key: Array) -> tuple[Array, Array, Array]:
        """One start's gradient (dW, db) and its exact log-likelihood of the batch (-inf if the
        machine cannot be enumerated: then there is one start)."""
        if exact:
            pair_c, mean_c, log_c = exact_moments(w, b, data, m.hidden)
            pair_f, mean_f, log_z = exact_moments(w, b, jnp.zeros((1, n), jnp.float32), every)
            ll = (log_c - log_z[0]).mean()
        else:
            k_clamped, k_free = jax.random.split(key)
            rows = jnp.repeat(data, chains, axis=0)
            pair_c, mean_c = sampled_moments(w, b, rows, m.hidden, k_clamped, temps)
            free = jnp.zeros((chains, n), jnp.float32)
            pair_f, mean_f = sampled_moments(w, b, free, every, k_free, temps)
            ll = _log_likelihood(w, b, data, m.hidden, every) if enumerable else jnp.float32(-jnp.inf)
        return (pair_c - pair_f) * edges, (mean_c - mean_f) * biased, ll

    def update(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        rng, key = jax.random.split(state.rng)
        ws, bs = state.rule_state["w"], state.rule_state["b"]
        data = m.clamp(batch["inputs"])
        dw, db, ll = jax.vmap(moments, in_axes=(0, 0, None, 0))(ws, bs, data, jax.random.split(key, restarts))
        best = jnp.argmax(ll)
        ws, bs = ws + eta * dw, bs + eta * db
        params = _params(layout, state.params, ws[best], bs[best])
        # the chosen start's log-likelihood of the batch before its update, as backprop reports its
        # loss; a machine too large to enumerate reports nothing (the loop then checks the params)
        metrics = {"loss": -ll[best], "log_likelihood": ll[best]} if enumerable else {}
        return state.replace(params=params, rule_state={"w": ws, "b": bs}, rng=rng), metrics

    return Rule(init, update, advice="lower the learning rate (train.learning_rate)")


def _masks(model: Model, layout: Any) -> tuple[Array, Array]:
    """(the weights the spec's edges allow (units, units), the units that keep a bias (units,))."""
    ones: dict[str, dict[str, Array]] = {}
    for u, v in layout.edges:
        shape = (layout.slices[u].stop - layout.slices[u].start, layout.slices[v].stop - layout.slices[v].start)
        ones.setdefault(v, {})[SYM + u] = jnp.ones(shape, jnp.float32)
    edges = (layout.weights(ones) != 0).astype(jnp.float32)
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    have = {
        g: {"bias": jnp.ones(shapes[g]["bias"].shape, jnp.float32)}
        for g in layout.groups
        if "bias" in shapes.get(g, {})
    }
    return edges, layout.bias(have)


def _params(layout: Any, params: Mapping[str, Any], w: Array, b: Array) -> dict[str, dict[str, Array]]:
    return layout.set_bias(layout.set_weights(params, w), b)


def _log_likelihood(w: Array, b: Array, data: Array, hidden: np.ndarray, every: np.ndarray) -> Array:
    _, _, log_c = exact_moments(w, b, data, hidden)
    _, _, log_z = exact_moments(w, b, jnp.zeros((1, data.shape[1]), jnp.float32), every)
    return (log_c - log_z[0]).mean()


__all__ = ["boltzmann"]
