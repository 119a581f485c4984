"""Batches keyed by group and a loss per output: a network of one's own with two heads.

The spec is written here, outside ``specs/``: one input, a shared trunk and two heads -- a softmax
classifier and a linear regressor -- each scored with its own loss against its own target
(``{"inputs": {"x": ...}, "targets": {"cls": ..., "reg": ...}}``). Each head must learn its task
on held-out rows, and a head whose ``loss_weight`` is 0 must not, which shows the weights and the
per-output losses are really what the gradient follows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import cellgraph
from cellgraph.train import init_state, make_train_step

SPEC = """\
cellgraph: 1
name: two_heads
cells:
  x: {type: input, size: 4}
  trunk: {type: hidden, size: 32, activation: tanh}
  cls: {type: output, size: 3, activation: softmax, loss: cross_entropy}
  reg: {type: output, size: 1, activation: linear, loss: huber, loss_weight: WEIGHT}
edges:
  - x -> trunk
  - trunk -> cls
  - trunk -> reg
"""


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x ~ N(0, 1)^4; the class is which of x0, x1, x2 is largest; the value is x0 * x3 + sin(x1)."""
    x = np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)
    return x, np.argmax(x[:, :3], axis=1).astype(np.int32), (x[:, :1] * x[:, 3:] + np.sin(x[:, 1:2])).astype(np.float32)


def _train(weight: float, steps: int = 600) -> tuple[cellgraph.compiler.Model, dict]:
    model = cellgraph.compile(cellgraph.load_spec_text(SPEC.replace("WEIGHT", str(weight)), "heads.yaml"))
    x, labels, values = _data(512, 0)
    batch = model.batch({"x": x}, {"cls": labels, "reg": values})
    tx = optax.adam(1e-2)
    state, step = init_state(model.init, tx, seed=0), make_train_step(model, tx)
    for _ in range(steps):
        state, _ = step(state, batch)
    return model, state.params


def _held_out(model: cellgraph.compiler.Model, params: dict) -> tuple[float, float]:
    x, labels, values = _data(1000, 1)
    out = model.apply(params, {"x": x})
    accuracy = float(jnp.mean(jnp.argmax(out["cls"], -1) == labels))
    return accuracy, float(jnp.mean((out["reg"] - values) ** 2) / np.var(values))


def test_two_heads_learn_their_own_targets_with_their_own_losses() -> None:
    """Controls: chance accuracy is 1/3 and an NMSE of 1 is the mean's; the next test is the weight
    control (a head whose loss weight is 0 stays at its initial parameters)."""
    model, params = _train(1.0)
    accuracy, nmse = _held_out(model, params)
    assert accuracy >= 0.9  # chance is 1/3
    assert nmse <= 0.15  # of the target's variance, on rows never trained on
    x, labels, values = _data(64, 2)
    _, metrics = model.loss(params, model.batch(x, {"cls": labels, "reg": values}), None)
    assert {"loss:cls", "loss:reg", "accuracy:cls", "mse:reg"} <= set(metrics)
    huber = optax.huber_loss(model.apply(params, x)["reg"], values).mean()  # the head's own loss, not mse
    np.testing.assert_allclose(metrics["loss:reg"], huber, rtol=1e-5)


def test_a_head_with_weight_zero_does_not_learn() -> None:
    model, params = _train(0.0)
    accuracy, nmse = _held_out(model, params)
    assert accuracy >= 0.9  # the classifier still learns ...
    untrained = init_state(model.init, optax.adam(1e-2), seed=0).params["reg"]
    np.testing.assert_array_equal(params["reg"]["kernel"], untrained["kernel"])  # ... the zero-weight head never moves
    assert nmse > 0.5


def test_a_batch_without_a_head_s_target_is_a_clear_error() -> None:
    model = cellgraph.compile(cellgraph.load_spec_text(SPEC.replace("WEIGHT", "1"), "heads.yaml"))
    x, labels, _ = _data(8, 0)
    with pytest.raises(cellgraph.compiler.CompileError, match="no target for output group 'reg'.*has: cls"):
        model.loss(model.init(jax.random.key(0)), model.batch(x, {"cls": labels}), None)


@pytest.mark.parametrize(
    ("loss", "message"),
    [("hubber", "unknown loss 'hubber'; did you mean 'huber'?"), ("elbo", "scores the network as a whole")],
)
def test_an_output_loss_that_scores_no_single_output_is_a_located_error(loss: str, message: str) -> None:
    text = SPEC.replace("WEIGHT", "1").replace("loss: huber", f"loss: {loss}")
    with pytest.raises(cellgraph.SpecError) as err:
        cellgraph.compile(cellgraph.load_spec_text(text, "heads.yaml"))
    (problem,) = err.value.problems
    assert problem.path == "cells.reg.loss" and (problem.loc.file, problem.loc.line) == ("heads.yaml", 7)
    assert message in problem.message and "an output's own loss is one of" in problem.fix


PER_OUTPUT = SPEC.replace(", loss: cross_entropy}", "}").replace(", loss: huber, loss_weight: WEIGHT}", "}")


def test_a_loss_per_output_written_in_the_train_block_as_keras_does() -> None:
    """`train: {loss: {cls: cross_entropy, reg: {name: huber, delta: 0.5, weight: 0.5}}}`."""
    text = PER_OUTPUT + "train:\n  loss: {cls: cross_entropy, reg: {name: huber, delta: 0.5, weight: 0.5}}\n"
    model = cellgraph.compile(cellgraph.load_spec_text(text, "heads.yaml"))
    params = model.init(jax.random.key(0))
    x, labels, values = _data(64, 2)
    total, metrics = model.loss(params, model.batch(x, {"cls": labels, "reg": values}), None)
    out = model.apply(params, x)
    huber = optax.huber_loss(out["reg"], values, delta=0.5).mean()  # the entry's own option
    np.testing.assert_allclose(metrics["loss:reg"], huber, rtol=1e-5)
    np.testing.assert_allclose(total, metrics["loss:cls"] + 0.5 * metrics["loss:reg"], rtol=1e-5)


@pytest.mark.parametrize(
    ("loss", "path", "message"),
    [
        ("{cls: cross_entropy, rgr: mse}", "train.loss.rgr", "'rgr' is not an output group; did you mean 'reg'?"),
        ("{cls: cross_entropy, reg: elbo}", "train.loss.reg", "scores the network as a whole"),
        ("{cls: cross_entropy, reg: {name: huber, weight: -1}}", "train.loss.reg.weight", "expected a number >= 0"),
        ("{cls: cross_entropy, reg: {name: huber, delta: 0}}", "train.loss.reg.delta", "expected a number in (0, inf)"),
    ],
)
def test_a_per_output_loss_mistake_is_located(loss: str, path: str, message: str) -> None:
    with pytest.raises(cellgraph.SpecError) as err:
        cellgraph.build_graph(cellgraph.load_spec_text(PER_OUTPUT + f"train:\n  loss: {loss}\n", "heads.yaml"))
    problem = err.value.problems[0]
    line = (PER_OUTPUT + "train:\n").count("\n") + 1  # the `loss:` line
    assert problem.path == path and problem.loc.line == line, problem.format()
    assert message in problem.message, problem.format()
