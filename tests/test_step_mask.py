"""``train.step_mask: data``: a sequence output's loss and metrics count only the steps the data
set scores (the copy task's recall phase), as Graves et al. trained the copy task.

The NTM did not learn the copy task with the loss over every step (12-14 wrong bits per held-out
sequence after 10,000 steps; the input phase's zero targets are most of the loss); with the loss
on the recall steps the same network learns it. These tests hold the mechanism to its meaning.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import cellgraph
from cellgraph.compiler.losses import OUTPUT_LOSSES, _stepwise
from cellgraph.data import load_dataset
from cellgraph.train import TrainingError

COPY = """\
cellgraph: 1
name: my_copier
cells:
  x: {type: input, size: 5, sequence: true}
  r: {type: recurrent, size: 24}
  y: {type: output, size: 4, activation: sigmoid}
edges:
  - x -> r -> y
train:
  loss: bce
  metrics: [bit_errors, accuracy]
  step_mask: data
  optimizer: {name: adam, learning_rate: 1.0e-2}
  batch_size: 32
  epochs: 2
  seed: 0
data:
  source: copy_task
  n: 256
  width: 4
  min_length: 1
  max_length: 4
  split: {test: 0.25, seed: 0}
"""


@pytest.mark.parametrize("kind", ["bce", "mse", "mae", "cross_entropy", "huber"])
def test_with_every_step_marked_the_stepwise_loss_is_the_plain_loss(kind: str) -> None:
    rng = np.random.default_rng(0)
    pre = jnp.asarray(rng.normal(size=(3, 5, 4)), jnp.float32)
    act = "softmax" if kind == "cross_entropy" else "sigmoid"
    out = jnp.exp(pre) / jnp.exp(pre).sum(-1, keepdims=True) if act == "softmax" else 1 / (1 + jnp.exp(-pre))
    y = rng.integers(0, 4, size=(3, 5)) if kind == "cross_entropy" else rng.integers(0, 2, size=(3, 5, 4))
    loss = OUTPUT_LOSSES[kind]
    plain = loss(pre, out, y, act, {})
    stepwise = _stepwise(loss, pre, out, y, act, {}, jnp.ones((3, 5), bool))
    assert float(stepwise) == pytest.approx(float(plain), rel=1e-5)
    some = jnp.asarray(rng.random((3, 5)) < 0.5)
    chosen = loss(pre[some][None], out[some][None], jnp.asarray(y)[np.asarray(some)][None], act, {})
    assert float(_stepwise(loss, pre, out, y, act, {}, some)) == pytest.approx(float(chosen), rel=1e-5)


def test_the_loss_and_the_bit_errors_count_only_the_scored_steps(tmp_path: Path) -> None:
    spec = tmp_path / "my_copier.yaml"
    spec.write_text(COPY, encoding="utf-8")
    result = cellgraph.train(spec, progress=False, resume=False)
    data = load_dataset(cellgraph.load_spec(spec).data)
    mask = np.asarray(data.meta["mask_test"], bool)
    out = np.asarray(result.predict(data.x_test)["y"])
    wrong = (out > 0.5) != (np.asarray(data.y_test) > 0.5)
    assert result.metrics["bit_errors"] == pytest.approx((wrong & mask[..., None]).sum(axis=(1, 2)).mean(), rel=1e-5)
    everywhere = wrong.sum(axis=(1, 2)).mean()
    assert everywhere > result.metrics["bit_errors"], "the unscored steps' bits are not counted"
    # the model's loss does not move when the targets of unscored steps change, and does for scored ones
    batch = cellgraph.train.loop.scored_rows(result.model, None, "test")
    assert "weights" in batch and np.array_equal(np.asarray(batch["weights"]["y"]), mask)

    def loss_with(targets: np.ndarray) -> float:
        return float(result.model.loss(result.params, {**batch, "targets": {"y": targets}}, None)[0])

    y = np.asarray(batch["targets"]["y"])
    assert loss_with(y) == pytest.approx(result.metrics["loss"], rel=1e-5)
    assert loss_with(np.where(mask[..., None], y, 1 - y)) == pytest.approx(loss_with(y), rel=1e-6)
    assert loss_with(np.where(mask[..., None], 1 - y, y)) > loss_with(y) + 0.1


def test_step_mask_without_a_mask_in_the_data_is_refused_at_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "my_xor.yaml"
    spec.write_text(
        "cellgraph: 1\nname: my_xor\ncells:\n  x: {type: input, size: 2}\n  h: {type: hidden, size: 4}\n"
        "  y: {type: output, size: 1, activation: sigmoid}\nedges:\n  - x -> h -> y\n"
        "train: {loss: bce, step_mask: data, epochs: 1}\ndata: {source: xor}\n",
        encoding="utf-8",
    )
    with pytest.raises(TrainingError, match=r"my_xor.yaml:9:\d+: train.step_mask: data, and the data set marks no"):
        cellgraph.train(spec, progress=False, resume=False)
