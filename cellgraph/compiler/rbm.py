"""The restricted Boltzmann machine's own figures, and the deep belief network's.

An RBM (``v -- h``: one ``backfed_input`` group, one ``probabilistic_hidden`` group) defines
``p(v, h) ∝ exp(v^T W h + b^T v + c^T h)``; summing the hidden units out leaves the *free energy*
``F(v) = -b^T v - Σ_j softplus(c_j + v^T W_j)`` and ``p(v) = exp(-F(v)) / Z``. It is judged by:

* ``log_likelihood``: the mean exact ``log p(v)`` of the examples, in nats. ``log Z`` is summed
  over every state of the smaller layer (``2^min(|v|, |h|)``, at most
  :data:`~cellgraph.graph.rules.MAX_ENUMERATED_UNITS` units: validation refuses a larger RBM that
  asks for it). The states are split into two halves whose weighted sums are added by
  broadcasting, which made the 2^16 sum of the 4x4 bars-and-stripes RBM 3x faster on a CPU
  than one (2^16, 16) matrix product (1.5 ms against 4.4 ms): it is scored after every epoch.
* ``pseudo_likelihood``: the mean log pseudo-likelihood ``Σ_i log p(v_i | v_-i) = Σ_i log
  σ(F(v with unit i flipped) - F(v))`` (Besag 1975), usable at any size. scikit-learn's
  ``BernoulliRBM.score_samples`` estimates the same sum from one randomly flipped unit per
  example (``|v| · log σ(F(ṽ) - F(v))``); this is that estimate's expectation, without the noise.
* ``reconstruction_error``: the mean squared error between ``v`` and its mean-field
  reconstruction ``σ(W σ(W^T v + c) + b)`` (one up-down pass, probabilities both ways);
  ``bit_errors`` counts the reconstruction's wrong bits per example, thresholded at 1/2 (ZOO.md
  2.15's pass is on that bit error, as a share: bit_errors / |v|).

The loss is 0: CD follows no objective's gradient (Hinton 2002).

A DBN (``rule: greedy_layerwise``) is scored by its read-out: the cross-entropy loss and the
``accuracy`` of the label output after the mean-field up pass, and ``reconstruction_error`` of
its first RBM (the data through the bottom pair and back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import optax

from ..graph.checks import metric_names
from ..graph.rules import MAX_ENUMERATED_UNITS, stacked_pairs
from .energy import SYM, all_states, size
from .executor import Forward, Plan
from .networks import Scoring
from .protocol import Aux

Array = jax.Array

RBM_METRICS: Final = ("log_likelihood", "pseudo_likelihood", "reconstruction_error", "bit_errors")
"""What an RBM's scoring reports (each only when the spec asks, or by default the cheap ones)."""

RBM_DEFAULT: Final = ("pseudo_likelihood", "reconstruction_error")
"""Reported when the spec names no metric: both cost about one matrix product per example."""

DBN_METRICS: Final = ("accuracy", "reconstruction_error")


@dataclass(frozen=True)
class Pair:
    """One RBM of a graph: a visible (lower) and a hidden (upper) group joined by ``lower -- upper``.

    The matrix is ``params[upper]["sym:lower"]`` (|lower| x |upper|); the hidden bias is the
    upper group's own ``bias``. The visible bias is the lower group's ``bias`` when it is the
    network's visible (source) group; an upper RBM's visible biases are not parameters of any
    group (the lower group's bias is its hidden bias in the RBM below), so the DBN's rule keeps
    them in its state.
    """

    lower: str
    upper: str
    n_lower: int
    n_upper: int

    def weights(self, params: Mapping[str, Any]) -> Array:
        return params[self.upper][SYM + self.lower]

    def hidden_bias(self, params: Mapping[str, Any]) -> Array:
        return params.get(self.upper, {}).get("bias", jnp.zeros((self.n_upper,), jnp.float32))

    def visible_bias(self, params: Mapping[str, Any]) -> Array:
        return params.get(self.lower, {}).get("bias", jnp.zeros((self.n_lower,), jnp.float32))


def pairs_of(graph: nx.DiGraph) -> tuple[Pair, ...]:
    """The RBMs of a validated graph, bottom up (one for an RBM, one per ``--`` edge of a DBN)."""
    return tuple(Pair(u, v, size(graph, u), size(graph, v)) for u, v in stacked_pairs(graph))


# ------------------------------------------------------------------------------ RBM arithmetic


def hidden_probs(v: Array, w: Array, c: Array) -> Array:
    """``p(h = 1 | v)`` (batch, |h|)."""
    return jax.nn.sigmoid(v @ w + c)


def visible_probs(h: Array, w: Array, b: Array) -> Array:
    """``p(v = 1 | h)`` (batch, |v|)."""
    return jax.nn.sigmoid(h @ w.T + b)


def reconstruct(v: Array, w: Array, b: Array, c: Array) -> Array:
    """One mean-field up-down pass: ``σ(σ(v W + c) W^T + b)``."""
    return visible_probs(hidden_probs(v, w, c), w, b)


def free_energy(v: Array, w: Array, b: Array, c: Array) -> Array:
    """``F(v) = -b^T v - Σ_j softplus(c_j + v^T W_j)`` for each row of ``v`` (batch,)."""
    return -(v @ b) - jnp.sum(jax.nn.softplus(v @ w + c), axis=-1)


UNROLLED: Final = 64
"""Up to this many units in the layer summed out, :func:`_log_sum_softplus` adds them one by one
in an unrolled loop over (2^n1, 2^n2) arrays (0.6 ms for the 4x4 bars-and-stripes RBM's 2^16
states against 1.2 ms for one (2^n1, |other|, 2^n2) array, on a CPU); beyond, a scan does."""


def _log_sum_softplus(a: Array, bb: Array, ca: Array, cb: Array) -> Array:
    """``logsumexp`` over every (i, j) of ``ca_i + cb_j + Σ_k softplus(a_ik + bb_jk)``: the states
    of the enumerated layer as (first half i, second half j), the other layer summed out.

    ``softplus(x) = max(x, 0) + log(1 + e^-|x|)``; the second factors lie in (1, 2], so up to
    :data:`UNROLLED` of them multiply to a float32 number: one log per state, not one per unit.
    """
    grid = (a.shape[0], bb.shape[0])
    if a.shape[1] <= UNROLLED:
        relu, prod = jnp.zeros(grid, jnp.float32), jnp.ones(grid, jnp.float32)
        for k in range(a.shape[1]):
            x = a[:, k, None] + bb[None, :, k]  # (2^n1, 2^n2)
            relu, prod = relu + jnp.maximum(x, 0.0), prod * (1.0 + jnp.exp(-jnp.abs(x)))
        total = relu + jnp.log(prod)
    else:

        def unit(acc: Array, ab: tuple[Array, Array]) -> tuple[Array, None]:
            x = ab[0][:, None] + ab[1][None, :]
            return acc + jax.nn.softplus(x), None

        total, _ = jax.lax.scan(unit, jnp.zeros(grid, jnp.float32), (a.T, bb.T))
    return jax.nn.logsumexp(ca[:, None] + cb[None, :] + total)


def log_partition(w: Array, b: Array, c: Array) -> Array:
    """``log Z`` exactly: the smaller layer's ``2^n`` states enumerated, the other summed out.

    With ``n`` units enumerated, ``Z = Σ_s exp(e^T s) Π_k (1 + exp(d_k + (s W')_k))`` (``e`` the
    enumerated layer's bias, ``d`` the other's); its states are split into two halves of
    ``2^(n//2)`` and ``2^(n - n//2)`` whose weighted sums are added by broadcasting.
    """
    if w.shape[1] > w.shape[0]:  # enumerate the visible layer: swap the roles
        w, b, c = w.T, c, b
    n = w.shape[1]  # the enumerated (hidden) layer, (other, n) weights
    n1 = n // 2
    s1, s2 = all_states(n1), all_states(n - n1)
    a = s1 @ w[:, :n1].T + b  # (2^n1, other): the first half's part, with the other layer's bias
    bb = s2 @ w[:, n1:].T  # (2^n2, other)
    return _log_sum_softplus(a, bb, s1 @ c[:n1], s2 @ c[n1:])


def log_likelihood(v: Array, w: Array, b: Array, c: Array) -> Array:
    """``log p(v)`` of each row (batch,), exact."""
    return -free_energy(v, w, b, c) - log_partition(w, b, c)


def pseudo_log_likelihood(v: Array, w: Array, b: Array, c: Array) -> Array:
    """``Σ_i log σ(F(v^(i)) - F(v))`` of each row (batch,), ``v^(i)`` with unit i flipped to ``1 - v_i``."""
    pre = v @ w + c  # (batch, |h|)
    flip = 1.0 - 2.0 * v  # (batch, |v|): the change of each unit when flipped
    pre_flipped = pre[:, None, :] + flip[:, :, None] * w[None]  # (batch, |v|, |h|)
    f = -(v @ b) - jnp.sum(jax.nn.softplus(pre), axis=-1)  # (batch,)
    f_flipped = -(v @ b)[:, None] - flip * b - jnp.sum(jax.nn.softplus(pre_flipped), axis=-1)
    return jnp.sum(jax.nn.log_sigmoid(f_flipped - f[:, None]), axis=-1)


def rbm_figures(v: Array, w: Array, b: Array, c: Array, names: tuple[str, ...]) -> dict[str, Array]:
    """The RBM metrics ``names`` of the examples ``v`` (batch, |v|), as per-example values."""
    out: dict[str, Array] = {}
    if "log_likelihood" in names:
        out["log_likelihood"] = log_likelihood(v, w, b, c)
    if "pseudo_likelihood" in names:
        out["pseudo_likelihood"] = pseudo_log_likelihood(v, w, b, c)
    if "reconstruction_error" in names or "bit_errors" in names:
        r = reconstruct(v, w, b, c)
        if "reconstruction_error" in names:
            out["reconstruction_error"] = jnp.mean((r - v) ** 2, axis=-1)
        if "bit_errors" in names:
            out["bit_errors"] = jnp.sum((r > 0.5) != (v > 0.5), axis=-1).astype(jnp.float32)
    return out


def _asked(graph: nx.DiGraph, default: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(m for _, m in metric_names(graph.graph["spec"].train.get("metrics")))
    return names or default


def _rows(x: Any) -> Array:
    x = jnp.asarray(x, jnp.float32)
    return x.reshape(x.shape[0], -1)


# ------------------------------------------------------------------------------ scorings


def make_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring:
    """The RBM's :class:`Scoring`: its metrics on the examples, from its own parameters."""
    (pair,) = pairs_of(graph)[:1] or (None,)
    assert pair is not None, "validation refuses an RBM without a visible -- hidden pair"
    small = min(pair.n_lower, pair.n_upper) <= MAX_ENUMERATED_UNITS
    reported = tuple(m for m in RBM_METRICS if small or m != "log_likelihood")
    names = tuple(m for m in _asked(graph, RBM_DEFAULT) if m in reported)

    def scored(
        params: Mapping[str, Any], batch: Mapping[str, Any], key: Array | None, state: Any = None
    ) -> tuple[Array, dict[str, Array], dict[str, Aux]]:
        values, aux = forward(params, batch["inputs"], state=state)
        v = _rows(values[pair.lower])
        w, b, c = pair.weights(params), pair.visible_bias(params), pair.hidden_bias(params)
        figures = {m: jnp.mean(x) for m, x in rbm_figures(v, w, b, c, names).items()}  # means over the batch
        return jnp.zeros((), jnp.float32), figures, aux

    return Scoring(scored, inputs=(pair.lower,), targets=(), metrics=reported)


def make_layerwise_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring:
    """The DBN's :class:`Scoring`: the read-out's cross-entropy and accuracy after the mean-field
    up pass (no sampling: no key reaches the forward pass), and the first RBM's reconstruction."""
    bottom = pairs_of(graph)[0]
    outputs = tuple(plan.outputs)
    names = _asked(graph, DBN_METRICS)

    def scored(
        params: Mapping[str, Any], batch: Mapping[str, Any], key: Array | None, state: Any = None
    ) -> tuple[Array, dict[str, Array], dict[str, Aux]]:
        values, aux = forward(params, batch["inputs"], state=state)
        loss = jnp.zeros((), jnp.float32)
        metrics: dict[str, Array] = {}
        for o in outputs:
            labels = jnp.asarray(batch["targets"][o]).astype(jnp.int32).reshape(-1)
            pre = aux[o].pre
            logits = (pre if pre is not None else jnp.log(values[o] + 1e-12)).reshape(values[o].shape[0], -1)
            loss = loss + optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            if "accuracy" in names:
                key_name = "accuracy" if len(outputs) == 1 else f"accuracy:{o}"
                metrics[key_name] = jnp.mean((jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32))
        if "reconstruction_error" in names:
            v = _rows(values[bottom.lower])
            w, b, c = bottom.weights(params), bottom.visible_bias(params), bottom.hidden_bias(params)
            metrics["reconstruction_error"] = jnp.mean((reconstruct(v, w, b, c) - v) ** 2)
        return loss, metrics, aux

    return Scoring(scored, inputs=(bottom.lower,), targets=outputs, metrics=DBN_METRICS)


__all__ = [
    "Pair",
    "free_energy",
    "hidden_probs",
    "log_likelihood",
    "log_partition",
    "make_layerwise_scoring",
    "make_scoring",
    "pairs_of",
    "pseudo_log_likelihood",
    "reconstruct",
    "visible_probs",
]
