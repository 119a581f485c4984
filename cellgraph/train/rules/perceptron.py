"""Rosenblatt's error-correction rule: w <- w + eta (t - o) x, one example at a time.

The lecture's rule (Δw = η(t − o)x): a mistake moves the weights towards the example, a right
answer leaves them alone. On linearly separable data it stops after finitely many mistakes
(Novikoff 1962); on XOR it never does. Weights start at zero, as in the classic presentation, so
η only scales them and the result is exactly reproducible.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ...compiler import CompileError, Model


def fit_perceptron(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eta: float = 1.0,
    epochs: int = 10,
    shuffle: bool = True,
    seed: int = 0,
) -> tuple[dict, list[int]]:
    """Train a single-layer step network with the perceptron rule.

    Args:
        model: a compiled spec whose only computing group is one `output` group (validated).
        x, y: training examples and 0/1 targets.

    Returns:
        (params, mistakes per epoch).
    """
    out = model.outputs[0]
    n_out = math.prod(model.graph.nodes[out]["shape"])
    if n_out != 1:
        raise CompileError(f"group '{out}': the perceptron rule here trains one output unit, not {n_out}")
    xs = jnp.asarray(np.asarray(x, np.float32).reshape(len(x), -1))
    ts = jnp.asarray(np.asarray(y, np.float32).reshape(len(y)))
    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(len(xs)) if shuffle else np.arange(len(xs)) for _ in range(epochs)])
    w, b, mistakes = _run(xs, ts, jnp.asarray(orders), jnp.float32(eta))
    params = {out: {"kernel": w[:, None], "bias": b[None]}}
    return params, [int(m) for m in np.asarray(mistakes)]


@jax.jit
def _run(xs: jax.Array, ts: jax.Array, orders: jax.Array, eta: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    def example(carry: tuple, i: jax.Array) -> tuple:
        w, b, errors = carry
        o = (xs[i] @ w + b > 0).astype(jnp.float32)  # step(w . x + b)
        delta = eta * (ts[i] - o)
        return (w + delta * xs[i], b + delta, errors + (delta != 0)), None

    def epoch(carry: tuple, order: jax.Array) -> tuple:
        w, b = carry
        (w, b, errors), _ = jax.lax.scan(example, (w, b, jnp.int32(0)), order)
        return (w, b), errors

    init = (jnp.zeros(xs.shape[1], jnp.float32), jnp.zeros((), jnp.float32))
    (w, b), mistakes = jax.lax.scan(epoch, init, orders)
    return w, b, mistakes
