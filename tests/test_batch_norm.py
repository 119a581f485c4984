"""Batch normalisation with model state (`norm: batch`): normalised over the batch while training,
running statistics kept beside the parameters and read in evaluation, carried through the jitted
step, checkpoints, saved models, export and Flax -- and a batch-normalised DCN that learns digits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import yaml
from conftest import EXAMPLES
from jax.test_util import check_grads

import cellgraph
from cellgraph.artifact import Trained
from cellgraph.cells.features import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM
from cellgraph.compiler.linen import GraphModule
from cellgraph.compiler.protocol import CompileError
from cellgraph.data import files
from cellgraph.train import StepInfo, TrainingInterrupted

SPEC = EXAMPLES / "digits_dcn_bn.yaml"


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[str], **more: Any) -> Path:
    path = tmp_path / "net.yaml"
    text = yaml.safe_dump({"cellgraph": 1, "name": "net", "cells": cells, "edges": edges, **more}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _x(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * scale + shift).astype(np.float32)


MLP = {
    "x": {"type": "input", "size": 5},
    "h": {"type": "hidden", "size": 6, "activation": "linear", "norm": "batch"},
    "y": {"type": "output", "size": 3, "activation": "softmax"},
}


def _digits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The shipped 8x8 digits as flat vectors, 70 % to train on and 30 % held out."""
    x, y = files._digits()
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order].reshape(len(x), -1).astype(np.float32), y[order].astype(np.int32)
    cut = int(0.7 * len(x))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


NET = {
    "x": {"type": "input", "size": 64},
    "h": {"type": "hidden", "size": 32, "activation": "relu", "norm": "batch"},
    "h2": {"type": "hidden", "size": 32, "activation": "relu", "norm": "batch", "dropout": 0.1},
    "y": {"type": "output", "size": 10, "activation": "softmax"},
}
TRAIN = {
    "loss": "cross_entropy",
    "metrics": ["accuracy"],
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "epochs": 8,
    "batch_size": 32,
}


# -------------------------------------------------------------------------------- semantics


def test_a_training_pass_normalises_over_the_batch_and_moves_the_running_statistics(tmp_path: Path) -> None:
    model = cellgraph.compile(_spec(tmp_path, MLP, ["x -> h -> y"]))
    assert model.stateful and model.state_groups == ("h",)
    params = model.init(jax.random.key(0))
    x = _x((64, 5), scale=3.0, shift=2.0)
    state = model.init_state()
    np.testing.assert_array_equal(state["h"]["norm_mean"], np.zeros(6))
    np.testing.assert_array_equal(state["h"]["norm_var"], np.ones(6))
    values, aux = model.forward(params, x, key=jax.random.key(1), train=True, state=state)
    h = np.asarray(values["h"])  # linear activation, scale 1, offset 0: the normalised sum itself
    np.testing.assert_allclose(h.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(h.var(0), 1.0, rtol=1e-3)
    _, new = model.apply_with_state(params, x, key=jax.random.key(1), train=True, state=state)
    sums = x @ np.asarray(params["h"]["kernel"]) + np.asarray(params["h"]["bias"])  # what was normalised
    m = BATCH_NORM_MOMENTUM
    np.testing.assert_allclose(new["h"]["norm_mean"], (1 - m) * sums.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(new["h"]["norm_var"], m + (1 - m) * sums.var(0), rtol=1e-4)


def test_evaluation_reads_the_running_statistics_so_an_example_does_not_depend_on_its_batch(tmp_path: Path) -> None:
    model = cellgraph.compile(_spec(tmp_path, MLP, ["x -> h -> y"]))
    params = model.init(jax.random.key(0))
    x = _x((32, 5), scale=3.0, shift=2.0)
    _, state = model.apply_with_state(params, x, key=jax.random.key(1), train=True, state=model.init_state())
    whole = np.asarray(model.apply(params, x, state=state)["y"])
    np.testing.assert_allclose(np.asarray(model.apply(params, x[:1], state=state)["y"]), whole[:1], rtol=1e-5)
    alone = np.asarray(model.apply(params, x[:2], key=jax.random.key(1), train=True, state=state)["y"])
    assert not np.allclose(alone[:1], whole[:1], rtol=1e-3)  # training mode: the batch's statistics
    # evaluation leaves the state as it is
    _, same = model.apply_with_state(params, x, state=state)
    jax.tree.map(np.testing.assert_array_equal, same, state)


def test_it_computes_what_flaxs_batch_norm_computes(tmp_path: Path) -> None:
    """The same weights in Flax (Dense, then nn.BatchNorm with cellgraph's momentum and epsilon):
    the same outputs in both modes, and the same running statistics after a training pass."""
    import flax.linen as nn

    class Reference(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array, train: bool) -> jax.Array:
            h = nn.Dense(6, name="dense")(x)
            h = nn.BatchNorm(not train, momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name="bn")(h)
            return nn.Dense(3, name="out")(h)

    spec = _spec(tmp_path, {**MLP, "y": {"type": "output", "size": 3}}, ["x -> h -> y"])
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    params["h"]["norm_scale"] = params["h"]["norm_scale"] * 1.3
    params["h"]["norm_offset"] = params["h"]["norm_offset"] - 0.4
    ref = {
        "dense": {"kernel": params["h"]["kernel"], "bias": params["h"]["bias"]},
        "bn": {"scale": params["h"]["norm_scale"], "bias": params["h"]["norm_offset"]},
        "out": {"kernel": params["y"]["kernel"], "bias": params["y"]["bias"]},
    }
    x = _x((16, 5), scale=2.0, shift=1.0)
    stats = {"bn": {"mean": jnp.zeros(6), "var": jnp.ones(6)}}
    want, changed = Reference().apply({"params": ref, "batch_stats": stats}, x, True, mutable=["batch_stats"])
    got, state = model.apply_with_state(params, x, key=jax.random.key(0), train=True)
    np.testing.assert_allclose(got["y"], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state["h"]["norm_mean"], changed["batch_stats"]["bn"]["mean"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(state["h"]["norm_var"], changed["batch_stats"]["bn"]["var"], rtol=1e-5)
    evaluated = Reference().apply({"params": ref, **changed}, x, False)
    np.testing.assert_allclose(model.apply(params, x, state=state)["y"], evaluated, rtol=1e-5, atol=1e-6)


def test_evaluation_without_the_model_state_is_refused_with_the_fix(tmp_path: Path) -> None:
    spec = _spec(tmp_path, MLP, ["x -> h -> y"])
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    x = _x((4, 5))
    for call in (
        lambda: model.apply(params, x),
        lambda: model.predict(params, x),
        lambda: cellgraph.evaluate(model, (x, np.zeros(4, np.int32)), params),
    ):
        with pytest.raises(CompileError, match="running statistics of 'h'.*fix: pass state="):
            call()
    with pytest.raises(cellgraph.CellgraphError, match="state=result.model_state"):
        cellgraph.export(model, params)
    assert model.apply(params, x, key=jax.random.key(0), train=True)["y"].shape == (4, 3)  # training needs none


def test_gradients_through_batch_norm_are_right(tmp_path: Path) -> None:
    """check_grads on the training loss (the batch's own statistics, differentiated through), on a
    dense group and on a convolution's channels."""
    cells = {
        "x": {"type": "input", "shape": [4, 4, 2]},
        "k": {"type": "kernel", "shape": [4, 4, 3], "activation": "tanh", "norm": "batch"},
        "h": {"type": "hidden", "size": 5, "activation": "sigmoid", "norm": "batch"},
        "y": {"type": "output", "size": 3, "activation": "softmax"},
    }
    spec = _spec(tmp_path, cells, ["x -> k -> h -> y"], train={"loss": "cross_entropy"})
    with jax.enable_x64(True):
        model = cellgraph.compile(spec)
        params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
        params["h"]["norm_scale"] = params["h"]["norm_scale"] * 1.5
        params["k"]["norm_offset"] = params["k"]["norm_offset"] + 0.2
        state = jax.tree.map(lambda a: a.astype(jnp.float64), model.init_state())
        batch = model.batch(_x((6, 4, 4, 2)).astype(np.float64), np.array([0, 1, 2, 0, 1, 2]))
        loss = jax.jit(lambda p: model.loss(p, batch, jax.random.key(1), state)[0])  # compiled once
        check_grads(loss, (params,), order=1, modes=("rev",), atol=1e-6, rtol=1e-5)


def test_a_shared_group_keeps_one_set_of_statistics_updated_by_each_use(tmp_path: Path) -> None:
    cells = {
        "a": {"type": "input", "size": 4},
        "b": {"type": "input", "size": 4},
        "ha": {"type": "hidden", "size": 3, "activation": "linear", "norm": "batch"},
        "hb": {"type": "hidden", "size": 3, "activation": "linear", "norm": "batch", "share": "ha"},
        "y": {"type": "output", "size": 2},
    }
    model = cellgraph.compile(_spec(tmp_path, cells, ["a -> ha", "b -> hb", "ha, hb -> y"]))
    assert model.state_groups == ("ha",)
    params = model.init(jax.random.key(0))
    a, b = _x((16, 4), 1, 2.0, 1.0), _x((16, 4), 2, 5.0, -3.0)
    _, new = model.apply_with_state(params, {"a": a, "b": b}, key=jax.random.key(0), train=True)
    kernel, bias = np.asarray(params["ha"]["kernel"]), np.asarray(params["ha"]["bias"])
    m = BATCH_NORM_MOMENTUM
    mean = np.zeros(3)
    for x in (a, b):  # the uses in the network's order, one after the other
        mean = m * mean + (1 - m) * (x @ kernel + bias).mean(0)
    np.testing.assert_allclose(new["ha"]["norm_mean"], mean, rtol=1e-4, atol=1e-6)


# -------------------------------------------------------------------------------- training


def test_the_jitted_step_carries_the_state_and_checkpoints_resume_it(tmp_path: Path) -> None:
    """An interrupted run resumed from its checkpoint ends where an uninterrupted one does, running
    statistics included; the result predicts and evaluates with them, and a saved model keeps them."""
    (x, y), (x_test, y_test) = _digits()
    spec = _spec(tmp_path, NET, ["x -> h -> h2 -> y"], train=TRAIN)
    straight = cellgraph.train(spec, (x, y), test_data=(x_test, y_test), progress=False, resume=False)
    stats = straight.model_state["h"]
    assert not np.allclose(stats["norm_mean"], 0.0) and not np.allclose(stats["norm_var"], 1.0)
    folder = tmp_path / "run"

    def interrupt(info: StepInfo) -> None:
        if info.step == 100:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        cellgraph.train(
            spec, (x, y), test_data=(x_test, y_test), progress=False, checkpoint_dir=folder, on_step=interrupt
        )
    resumed = cellgraph.train(spec, (x, y), test_data=(x_test, y_test), progress=False, checkpoint_dir=folder)
    assert resumed.resumed_at == 100
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6), resumed.params, straight.params)
    jax.tree.map(
        lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6), resumed.model_state, straight.model_state
    )
    assert straight.metrics["accuracy"] >= 0.95, straight.metrics
    predicted = straight.predict(x_test)["y"].argmax(-1)
    assert np.mean(predicted == y_test) == pytest.approx(straight.metrics["accuracy"], abs=1e-6)
    assert cellgraph.evaluate(straight, (x_test, y_test))["accuracy"] == pytest.approx(straight.metrics["accuracy"])
    # the statistics matter: the same parameters with the initial ones score far worse
    fresh = straight.model.predict(straight.params, x_test, state=straight.model.init_state())["y"].argmax(-1)
    assert np.mean(fresh == y_test) < straight.metrics["accuracy"] - 0.1
    saved = cellgraph.save(straight, tmp_path / "rings.model")
    loaded = cellgraph.load(saved)
    jax.tree.map(np.testing.assert_array_equal, loaded.model_state, jax.device_get(straight.model_state))
    np.testing.assert_allclose(loaded.predict(x_test)["y"], straight.predict(x_test)["y"], rtol=1e-6)
    exported = cellgraph.export(loaded.model, loaded.params, state=loaded.model_state)
    np.testing.assert_allclose(exported.call(x_test)["y"], straight.predict(x_test)["y"], rtol=1e-5, atol=1e-6)


def test_a_saved_model_with_damaged_statistics_is_refused(tmp_path: Path) -> None:
    (x, y), _ = _digits()
    spec = _spec(tmp_path, NET, ["x -> h -> h2 -> y"], train={**TRAIN, "epochs": 1})
    result = cellgraph.train(spec, (x, y), progress=False, resume=False)
    bad = Trained(result.model, result.params, model_state={"h": {"norm_mean": np.zeros(5, np.float32)}})
    saved = cellgraph.save(bad, tmp_path / "bad.model")
    with pytest.raises(cellgraph.CellgraphError, match="model state .*norm_mean.*fix:"):
        cellgraph.load(saved)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_batch_normalised_dcn_learns_digits(seed: int) -> None:
    """specs/examples/digits_dcn_bn.yaml, trained from its file: >= 97 % held-out accuracy (the
    plain DCN's criterion) on each of three seeds, with running statistics that evaluation needs."""
    result = cellgraph.train(SPEC, seed=seed, progress=False, resume=False)
    assert result.metrics["accuracy"] >= 0.97, (seed, result.metrics)
    assert set(result.model_state) == {"k", "c2", "h"}
    assert result.model_state["c2"]["norm_mean"].shape == (32,)  # per channel of the 4x4x32 map


# ----------------------------------------------------------------------------------- Flax


def test_batch_statistics_live_in_flaxs_batch_stats_collection(tmp_path: Path) -> None:
    """A Flax model with a batch-normalised cellgraph block trains with optax, its statistics
    updated through `mutable=["batch_stats"]` as nn.BatchNorm's are, and evaluates on them."""
    block = cellgraph.compile(_spec(tmp_path, NET, ["x -> h -> h2 -> y"]))

    net = GraphModule(block)
    (x, y), (x_test, y_test) = _digits()
    variables = net.init(jax.random.key(0), x[:4])
    assert set(variables) == {"params", "batch_stats"}
    assert set(variables["batch_stats"]) == {"h", "h2"}
    tx = optax.adam(0.01)

    @jax.jit
    def step(params: Any, stats: Any, opt_state: Any, xb: Any, yb: Any, key: Any) -> tuple[Any, Any, Any]:
        def loss(p: Any) -> tuple[jax.Array, Any]:
            out, changed = net.apply(
                {"params": p, "batch_stats": stats}, xb, train=True, rngs={"dropout": key}, mutable=["batch_stats"]
            )
            return -jnp.mean(jnp.log(out[jnp.arange(len(yb)), yb] + 1e-7)), changed["batch_stats"]

        (_, stats), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), stats, opt_state

    params, stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)
    rng = np.random.default_rng(0)
    for i in range(400):
        rows = rng.integers(0, len(x), 32)
        params, stats, opt_state = step(params, stats, opt_state, x[rows], y[rows], jax.random.key(i))
    assert not np.allclose(stats["h"]["norm_mean"], 0.0)
    out = net.apply({"params": params, "batch_stats": stats}, x_test)
    assert np.mean(np.asarray(out).argmax(-1) == y_test) >= 0.95
    np.testing.assert_allclose(out, block.apply(params, x_test, state=stats)["y"], rtol=1e-6)
