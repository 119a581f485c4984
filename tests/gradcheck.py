"""jax.grad against central finite differences in float64: the gradient checks of the memory
and routing operations (tests/test_memory_ops.py, tests/test_dnc_ops.py) share it."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


def check_grad(
    f: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    floor: float = 1e-4,
) -> None:
    """Every partial derivative of scalar ``f`` at ``x`` against (f(x + h) - f(x - h)) / 2h, all
    perturbations evaluated at once through one vmapped jit; ``floor``: the largest gradient
    entry must exceed it, so the check is not vacuous."""
    assert x.dtype == jnp.float64
    grad = np.asarray(jax.jit(jax.grad(f))(x)).ravel()
    steps = eps * jnp.eye(x.size, dtype=x.dtype).reshape(x.size, *x.shape)
    fs = jax.jit(jax.vmap(f))
    numeric = np.asarray((fs(x[None] + steps) - fs(x[None] - steps)) / (2 * eps))
    np.testing.assert_allclose(grad, numeric, rtol=rtol, atol=atol)
    assert np.abs(grad).max() > floor
