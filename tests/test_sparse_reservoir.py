"""A fixed sparse reservoir is stepped by its nonzeros, with the dense product's results.

The zoo's ESN keeps 2 % of a 500 x 500 recurrent matrix and never trains it, so its steps sum
over the 5,000 nonzeros instead of the 250,000 weights (cellgraph/compiler/sparse_ops.py). These
tests pin when that happens and that it changes nothing but the time: the product against
``h @ w`` for a matrix with as many, fewer and more nonzeros than drawn, and the ESN's outputs
against the same network stepped densely.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cellgraph
from cellgraph.compiler.sparse import sparse_uniform
from cellgraph.compiler.sparse_ops import sparse_product

ESN = Path(__file__).resolve().parent.parent / "specs" / "zoo" / "esn.yaml"

TINY = """
cellgraph: 1
name: tiny_reservoir
cells:
  x: {type: input, size: 2, sequence: true}
  r: {type: recurrent, size: 40, trainable: TRAINABLE}
  y: {type: output, size: 1, activation: linear}
edges:
  - x -> r -> y
  - r -> r: {density: 0.05, scale: 0.9}
train: {rule: backprop, loss: mse}
"""


def _tiny(folder: Path, *, trainable: bool) -> cellgraph.Model:
    path = folder / f"tiny_{trainable}.yaml"
    path.write_text(TINY.replace("TRAINABLE", str(trainable).lower()), encoding="utf-8")
    return cellgraph.compile(path)


def test_the_esn_reservoir_is_stepped_by_its_nonzeros_and_a_trained_one_is_not(tmp_path: Path) -> None:
    assert cellgraph.compile(ESN).plan.infos["r"].sparse_recurrence == round(0.02 * 500 * 500)
    small = cellgraph.compile(ESN, {"units": 50})  # a smaller reservoir: the same decision, another count
    assert small.plan.infos["r"].sparse_recurrence == 50
    dense = cellgraph.compile(ESN, {"units": 50, "density": 0.5})  # dense enough to multiply whole
    assert dense.plan.infos["r"].sparse_recurrence is None
    assert _tiny(tmp_path, trainable=False).plan.infos["r"].sparse_recurrence == 80
    assert _tiny(tmp_path, trainable=True).plan.infos["r"].sparse_recurrence is None  # trained: its zeros move


@pytest.mark.parametrize("change", ["as drawn", "one zeroed", "filled in"])
def test_the_product_over_nonzeros_is_the_dense_product(change: str) -> None:
    w = sparse_uniform(jax.random.key(0), (40, 40), 0.05)  # 80 nonzeros
    if change == "one zeroed":
        w = w.at[jnp.nonzero(w, size=1)].set(0.0)
    elif change == "filled in":  # more nonzeros than drawn: multiplied densely, nothing dropped
        w = w.at[0].set(0.5)
    h = jax.random.normal(jax.random.key(1), (3, 40))
    got = jax.jit(sparse_product, static_argnums=2)(h, w, 80)
    np.testing.assert_allclose(np.asarray(got), np.asarray(h @ w), rtol=1e-5, atol=1e-5)
    grad = jax.grad(lambda h: sparse_product(h, w, 80).sum())(h)  # a backprop head may read the reservoir
    np.testing.assert_allclose(np.asarray(grad), np.asarray(jax.grad(lambda h: (h @ w).sum())(h)), rtol=1e-5)


def test_the_esn_gives_what_it_gives_stepped_densely() -> None:
    sparse = cellgraph.compile(ESN, {"units": 60})
    params = sparse.init(jax.random.key(0))
    assert sparse.plan.infos["r"].sparse_recurrence is not None
    x = jax.random.uniform(jax.random.key(2), (2, 30, 1), minval=-1.0, maxval=1.0)
    got = sparse.apply(params, x)["y"]
    want = jax.jit(lambda p, x: _dense_esn(p, x))(params, x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def _dense_esn(params: dict, x: jax.Array) -> jax.Array:
    """The ESN written out densely: r_t = tanh(x_t W_in + r_(t-1) W + y_(t-1) W_fb + b), y_t = r_t V + c."""
    r, y = params["r"], params["y"]
    n = r["w_rec"].shape[0]

    def step(carry: tuple, xt: jax.Array) -> tuple:
        h, out = carry
        h = jnp.tanh(xt @ r["w_in"] + h @ r["w_rec"] + out @ r["from:y"] + r.get("bias", 0.0))
        out = h @ y["kernel"] + y["bias"]
        return (h, out), out

    start = (jnp.zeros((x.shape[0], n)), jnp.zeros((x.shape[0], 1)))
    return jnp.swapaxes(jax.lax.scan(step, start, jnp.swapaxes(x, 0, 1))[1], 0, 1)


def test_a_layer_wise_reservoir_of_ones_own_gives_the_dense_result(tmp_path: Path) -> None:
    """Without feedback the reservoir runs layer-wise (its own scan): the same by nonzeros."""
    model = _tiny(tmp_path, trainable=False)
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(3), (3, 25, 2))
    r, y = params["r"], params["y"]

    def step(h: jax.Array, xt: jax.Array) -> tuple:
        h = jnp.tanh(xt @ r["w_in"] + h @ r["w_rec"] + r["bias"])
        return h, h @ y["kernel"] + y["bias"]

    want = jnp.swapaxes(jax.lax.scan(step, jnp.zeros((3, 40)), jnp.swapaxes(x, 0, 1))[1], 0, 1)
    np.testing.assert_allclose(np.asarray(model.apply(params, x)["y"]), np.asarray(want), rtol=1e-4, atol=1e-5)
