"""A compiled spec inside a Flax user's own model (cellgraph.flax_module, GraphModule): its
parameters in Flax's collection with cellgraph's layout, dropout from Flax's PRNG stream, and a
Flax model with a cellgraph block in the middle trained by a plain optax loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import yaml

import cellgraph
from cellgraph.compiler.linen import GraphModule, flax_module


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[str]) -> Path:
    path = tmp_path / "block.yaml"
    path.write_text(yaml.safe_dump({"cellgraph": 1, "name": "block", "cells": cells, "edges": edges}), encoding="utf-8")
    return path


BLOCK = {
    "x": {"type": "input", "size": 16},
    "h": {"type": "hidden", "size": 32, "norm": "layer", "dropout": 0.1},
    "y": {"type": "output", "size": 8, "activation": "tanh"},
}


def _task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in the plane, labelled by which of four rings (by radius) they fall in."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 2)).astype(np.float32)
    r = np.hypot(x[:, 0], x[:, 1])
    return x, np.digitize(r, [0.7, 1.3, 1.9]).astype(np.int32)


def test_a_flax_model_with_a_cellgraph_block_trains_with_optax(tmp_path: Path) -> None:
    block = cellgraph.compile(_spec(tmp_path, BLOCK, ["x -> h -> y"]))

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
            x = nn.relu(nn.Dense(16)(x))
            x = GraphModule(block)(x, train=train)
            return nn.Dense(4)(x)

    net = Net()
    x, y = _task(2000, 0)
    x_test, y_test = _task(1000, 1)
    variables = net.init(jax.random.key(0), x[:2])
    assert set(variables["params"]["GraphModule_0"]) == {"h", "y"}  # cellgraph's layout, in Flax's collection
    assert set(variables["params"]["GraphModule_0"]["h"]) == {"kernel", "bias", "norm_scale", "norm_offset"}
    tx = optax.adam(1e-2)

    @jax.jit
    def step(params: Any, opt_state: Any, xb: jax.Array, yb: jax.Array, key: jax.Array) -> tuple[Any, Any]:
        def loss(p: Any) -> jax.Array:
            logits = net.apply({"params": p}, xb, train=True, rngs={"dropout": key})
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

        grads = jax.grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    params, opt_state = variables["params"], tx.init(variables["params"])
    rng = np.random.default_rng(0)
    for i in range(600):
        rows = rng.integers(0, len(x), 64)
        params, opt_state = step(params, opt_state, x[rows], y[rows], jax.random.key(i))
    accuracy = float(np.mean(np.argmax(net.apply({"params": params}, x_test), -1) == y_test))
    assert accuracy > 0.9, accuracy


def test_the_module_computes_what_the_compiled_network_computes(tmp_path: Path) -> None:
    """Evaluation is the network's apply with the same parameters; training mode draws its dropout
    masks from Flax's `dropout` stream, so it asks for one and depends on it."""
    model = cellgraph.compile(_spec(tmp_path, BLOCK, ["x -> h -> y"]))
    module = flax_module(model)
    x = jax.random.normal(jax.random.key(1), (5, 16))
    variables = module.init(jax.random.key(0), x)
    params = variables["params"]
    np.testing.assert_allclose(module.apply(variables, x), model.apply(params, x)["y"], rtol=1e-6)
    a = module.apply(variables, x, train=True, rngs={"dropout": jax.random.key(1)})
    b = module.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)})
    assert not np.allclose(a, b)
    with pytest.raises(Exception, match="dropout"):
        module.apply(variables, x, train=True)


def test_parameters_trained_by_cellgraph_work_in_the_flax_module(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        {
            "x": {"type": "input", "size": 2},
            "h": {"type": "hidden", "size": 16},
            "y": {"type": "output", "size": 4, "activation": "softmax"},
        },
        ["x -> h -> y"],
    )
    x, y = _task(500, 0)
    result = cellgraph.train(spec, (x, y), epochs=3, progress=False)
    module = flax_module(spec)
    np.testing.assert_allclose(
        module.apply({"params": result.params}, x[:10]), result.model.apply(result.params, x[:10])["y"], rtol=1e-6
    )


def test_shared_groups_and_several_outputs_inside_flax(tmp_path: Path) -> None:
    """Two inputs, a shared group and two outputs: the shared parameters are one entry, the outputs
    come back by group."""
    spec = _spec(
        tmp_path,
        {
            "a": {"type": "input", "size": 3},
            "b": {"type": "input", "size": 3},
            "ha": {"type": "hidden", "size": 5},
            "hb": {"type": "hidden", "size": 5, "share": "ha"},
            "ya": {"type": "output", "size": 2},
            "yb": {"type": "output", "size": 2},
        },
        ["a -> ha -> ya", "b -> hb -> yb"],
    )
    module = flax_module(spec)
    inputs = {"a": jnp.ones((2, 3)), "b": jnp.ones((2, 3))}
    variables = module.init(jax.random.key(0), inputs)
    assert sorted(variables["params"]) == ["ha", "ya", "yb"]
    out = module.apply(variables, inputs)
    assert sorted(out) == ["ya", "yb"] and out["ya"].shape == (2, 2)
