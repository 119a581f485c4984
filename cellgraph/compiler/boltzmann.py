"""A Boltzmann machine's distribution: exact by enumerating states, or sampled by annealed Gibbs.

Binary units ``s`` in {0, 1} joined by symmetric weights have ``p(s) ∝ exp(-E(s))``, ``E(s) =
-1/2 s^T W s - b^T s`` (:mod:`.energy`). Two ways to read it off:

* **enumeration** (:func:`conditional`): for a handful of free units (at most
  :data:`MAX_EXACT_UNITS`) every one of their ``2^n`` states is weighed exactly, the others
  clamped -- exact statistics, the exact partition function, exact marginals;
* **annealed Gibbs sampling** (:func:`gibbs`): each free unit in turn is set to 1 with
  probability ``sigmoid(field / T)``, the temperature ``T`` lowered geometrically to 1 over the
  first half of the sweeps (simulated annealing, Ackley, Hinton & Sejnowski 1985), the
  statistics averaged over the second half, at ``T = 1``.

The network's :class:`~.networks.Scoring` (``rule: boltzmann``): the first visible group is
clamped to the data and the network completes the other visible groups; ``accuracy`` is the share
of examples whose most probable completion (the exact marginal over the hidden units where the
free units can be enumerated, else the sampled marginal thresholded at 1/2) equals the data.
``log_likelihood`` is the mean exact ``log p(visible)`` of the examples, in nats, where all units
can be enumerated; its negative is the loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from ..graph.rules import BOLTZMANN_EXACT_UNITS
from .energy import Energy, all_states, energy, energy_of
from .executor import Forward, Plan
from .networks import Scoring
from .protocol import Aux

Array = jax.Array

MAX_EXACT_UNITS: Final = BOLTZMANN_EXACT_UNITS
"""The most free units enumerated (2^20 states); beyond, statistics come from sampling."""

COMPLETION_CHAINS: Final = 32
"""Chains per example of a sampled completion (a machine too large to enumerate)."""

SAMPLE_SALT: Final = 0x626D
"""Folded into ``train.seed`` for the sampled completions of an evaluation without a key."""


@dataclass(frozen=True)
class Machine:
    """A Boltzmann machine's units as one vector, and which of them are visible.

    Attributes:
        layout: the :class:`~.energy.Energy` layout of the symmetrically joined groups.
        visible: the visible (``backfed``) groups, in layout order; the rest are hidden.
        shown: the indices of the visible units in the vector.
        hidden: the indices of the hidden units.
    """

    layout: Energy
    visible: tuple[str, ...]
    shown: np.ndarray
    hidden: np.ndarray

    def units_of(self, groups: tuple[str, ...]) -> np.ndarray:
        """The vector indices of ``groups``' units, in layout order."""
        at = [np.arange(self.layout.slices[g].start, self.layout.slices[g].stop) for g in self.layout.groups]
        picked = [a for g, a in zip(self.layout.groups, at, strict=True) if g in groups]
        return np.concatenate(picked) if picked else np.zeros((0,), np.int64)

    def clamp(self, inputs: Mapping[str, Any], groups: tuple[str, ...] | None = None) -> Array:
        """A (batch, units) state with ``groups``' units (default: every visible group) set from
        ``inputs`` and every other unit 0."""
        groups = self.visible if groups is None else groups
        rows = jnp.asarray(inputs[groups[0]]).shape[0]
        parts = {
            g: jnp.asarray(inputs[g], jnp.float32).reshape(rows, -1)
            if g in groups
            else jnp.zeros((rows, self.layout.slices[g].stop - self.layout.slices[g].start), jnp.float32)
            for g in self.layout.groups
        }
        return self.layout.join(parts)


def machine_of(graph: nx.DiGraph) -> Machine:
    """The :class:`Machine` of ``graph`` (its backfed groups visible, its other groups hidden)."""
    layout = energy_of(graph)
    visible = tuple(g for g in layout.groups if graph.nodes[g]["cell"].backfed)
    m = Machine(layout, visible, np.zeros(0, np.int64), np.zeros(0, np.int64))
    shown = m.units_of(visible)
    hidden = np.setdiff1d(np.arange(layout.units), shown)
    return Machine(layout, visible, shown, hidden)


def conditional(w: Array, b: Array, fixed: Array, free: np.ndarray) -> tuple[Array, Array]:
    """Every state of the ``free`` units, the others as in ``fixed`` (batch, units), weighed exactly.

    Returns:
        (the states (batch, 2^free, units), their unnormalised log-probabilities -E (batch, 2^free)),
        the free units' states enumerated with the first free unit slowest.
    """
    units = fixed.shape[1]
    place = np.zeros((len(free), units), np.float32)  # (free, units): free unit i -> its place
    place[np.arange(len(free)), free] = 1.0
    kept = jnp.asarray(1.0 - place.sum(axis=0))  # (units,) 1 where a unit keeps its fixed value
    grid = all_states(len(free)) @ jnp.asarray(place)  # (K, units): every free state, in place
    rows, k = fixed.shape[0], grid.shape[0]
    states = (fixed * kept)[:, None, :] + grid[None]  # (rows, K, units)
    log_w = -energy(w, b, states.reshape(rows * k, units)).reshape(rows, k)
    return states, log_w


def exact_moments(w: Array, b: Array, fixed: Array, free: np.ndarray) -> tuple[Array, Array, Array]:
    """``(<s s^T>, <s>)`` over the rows of ``fixed``, the ``free`` units at equilibrium (exact), and
    each row's log normaliser ``log sum exp(-E)`` over the free units' states (batch,): with no
    unit fixed, ``log Z``."""
    states, log_w = conditional(w, b, fixed, free)
    p = jax.nn.softmax(log_w, axis=1)  # (batch, K)
    rows = fixed.shape[0]
    pair = jnp.einsum("rk,rki,rkj->ij", p, states, states) / rows
    mean = jnp.einsum("rk,rki->i", p, states) / rows
    return pair, mean, jax.nn.logsumexp(log_w, axis=1)


def log_partition(w: Array, b: Array, units: int) -> Array:
    """``log Z``: the log of the sum of ``exp(-E)`` over all ``2^units`` states."""
    _, log_w = conditional(w, b, jnp.zeros((1, units), jnp.float32), np.arange(units))
    return jax.nn.logsumexp(log_w[0])


def log_likelihood(m: Machine, w: Array, b: Array, data: Array) -> Array:
    """``log p(visible units of each row of data)`` (batch,): the hidden units summed out, exactly."""
    _, log_w = conditional(w, b, data, m.hidden)
    return jax.nn.logsumexp(log_w, axis=1) - log_partition(w, b, m.layout.units)


def temperatures(sweeps: int, start: float) -> np.ndarray:
    """The annealing schedule: ``start`` down to 1 geometrically over the first half, then 1."""
    cooling = max(sweeps // 2, 1)
    hot = start ** (1.0 - np.arange(cooling) / max(cooling - 1, 1)) if start > 1.0 else np.ones(cooling)
    return np.concatenate([hot, np.ones(sweeps - cooling)]).astype(np.float32)


def gibbs_sweep(w: Array, b: Array, x: Array, free: np.ndarray, key: Array, t: Array) -> Array:
    """One Gibbs sweep of the chains ``x`` (chains, units) at temperature ``t``: each ``free`` unit
    in turn (in index order) redrawn from ``sigmoid(field / t)``."""
    draws = jax.random.uniform(key, (len(free), x.shape[0]))
    columns = w[:, free].T  # (free, units): each free unit's weights, in visiting order
    places = jnp.asarray(np.eye(x.shape[1], dtype=np.float32)[free])  # (free, units) one-hot

    def unit(y: Array, xs: tuple[Array, Array, Array, Array]) -> tuple[Array, None]:
        column, bias, place, draw = xs
        on = (draw < jax.nn.sigmoid((y @ column + bias) / t)).astype(y.dtype)  # (chains,)
        old = y @ place
        return y + (on - old)[:, None] * place[None], None

    return jax.lax.scan(unit, x, (columns, b[free], places, draws))[0]


def gibbs(w: Array, b: Array, s: Array, free: np.ndarray, key: Array, temps: np.ndarray) -> tuple[Array, Array, Array]:
    """Annealed Gibbs sampling of the ``free`` units of the chains ``s`` (chains, units).

    One :func:`gibbs_sweep` per entry of ``temps``; the statistics are averaged over the sweeps
    after the cooling (the second half of :func:`temperatures`, at ``T = 1``).

    Returns:
        (the last states (chains, units), ``<s s^T>`` (units, units) over the chains and the
        collecting sweeps, and each chain's mean state over those sweeps (chains, units)).
    """
    collect = np.arange(len(temps)) >= len(temps) // 2

    def sweep(carry: tuple[Array, Array, Array], xs: tuple[Array, Array, Array]) -> tuple:
        x, pair, total = carry
        t, k, keep = xs
        x = gibbs_sweep(w, b, x, free, k, t)
        weight = keep.astype(x.dtype)
        return (x, pair + weight * (x.T @ x), total + weight * x), None

    n = s.shape[1]
    start = (s, jnp.zeros((n, n), jnp.float32), jnp.zeros_like(s))
    xs = (jnp.asarray(temps), jax.random.split(key, len(temps)), jnp.asarray(collect))
    (last, pair, total), _ = jax.lax.scan(sweep, start, xs)
    count = int(collect.sum())
    return last, pair / (count * s.shape[0]), total / count


def sampled_moments(
    w: Array, b: Array, fixed: Array, free: np.ndarray, key: Array, temps: np.ndarray
) -> tuple[Array, Array]:
    """``(<s s^T>, <s>)`` from annealed Gibbs chains started at ``fixed`` (chains, units), the
    ``free`` units sampled (their starting values drawn at random)."""
    k_start, k_run = jax.random.split(key)
    start = fixed.at[:, free].set(jax.random.bernoulli(k_start, 0.5, (fixed.shape[0], len(free))).astype(fixed.dtype))
    _, pair, means = gibbs(w, b, start, free, k_run, temps)
    return pair, means.mean(axis=0)


def complete(
    m: Machine, w: Array, b: Array, inputs: Mapping[str, Any], key: Array, *, sweeps: int = 40, start: float = 10.0
) -> Array:
    """The most probable state of the visible groups after the first, the first clamped to
    ``inputs``: (batch, completed units). Exact where the free units can be enumerated (the
    hidden units summed out), else the annealed sampled marginal thresholded at 1/2 (32 chains
    per example)."""
    fixed = m.clamp(inputs, m.visible[:1])
    out = m.units_of(m.visible[1:])
    free = np.concatenate([out, m.hidden])
    rows, units = fixed.shape
    if len(free) <= MAX_EXACT_UNITS:
        _, log_w = conditional(w, b, fixed, free)  # (batch, 2^out * 2^hidden), out slowest
        marginal = jax.nn.logsumexp(log_w.reshape(rows, 2 ** len(out), -1), axis=2)
        return all_states(len(out))[jnp.argmax(marginal, axis=1)]
    chains = jnp.repeat(fixed, COMPLETION_CHAINS, axis=0)
    k_start, k_run = jax.random.split(key)
    chains = chains.at[:, free].set(jax.random.bernoulli(k_start, 0.5, (len(chains), len(free))).astype(chains.dtype))
    _, _, means = gibbs(w, b, chains, free, k_run, temperatures(sweeps, start))
    return (means.reshape(rows, COMPLETION_CHAINS, units).mean(axis=1)[:, out] > 0.5).astype(jnp.float32)


def make_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring:
    """Completion accuracy and the exact log-likelihood (see the module docstring)."""
    m = machine_of(graph)
    enumerable = m.layout.units <= MAX_EXACT_UNITS
    completes = len(m.visible) > 1
    seed = int(graph.graph["spec"].train.get("seed") or 0)
    fixed_key = jax.random.fold_in(jax.random.key(seed), SAMPLE_SALT)
    names = (("accuracy",) if completes else ()) + (("log_likelihood",) if enumerable else ())

    def scored(params: Mapping[str, Any], batch: Mapping[str, Any], key: Array | None, state: Any) -> tuple:
        w, b = m.layout.weights(params), m.layout.bias(params)
        inputs = batch["inputs"]
        metrics: dict[str, Array] = {}
        loss = jnp.zeros((), jnp.float32)
        if completes:
            guess = complete(m, w, b, inputs, fixed_key if key is None else key)
            truth = m.clamp(inputs)[:, m.units_of(m.visible[1:])]
            metrics["accuracy"] = jnp.all(guess == truth, axis=1).astype(jnp.float32).mean()
        if enumerable:
            ll = log_likelihood(m, w, b, m.clamp(inputs))
            metrics["log_likelihood"] = ll.mean()
            loss = -ll.mean()
        return loss, metrics, {n: Aux() for n in plan.order}

    return Scoring(scored, inputs=m.visible, targets=(), metrics=names)


__all__ = [
    "MAX_EXACT_UNITS",
    "Machine",
    "complete",
    "conditional",
    "exact_moments",
    "gibbs",
    "gibbs_sweep",
    "log_likelihood",
    "log_partition",
    "machine_of",
    "make_scoring",
    "sampled_moments",
    "temperatures",
]
