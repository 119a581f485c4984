"""A validation split and early stopping (issue 12): what a Keras or Ludwig user expects.

* ``validation`` (a fraction of the training rows, held out with the run's seed -- the rows
  ``as_dataset(..., validation=f, seed=s)`` holds out) or ``validation_data=`` adds ``val_<metric>``
  to every history row, scored in evaluation mode.
* ``early_stopping`` watches one ``val_`` figure, stops ``patience`` whole epochs after its best,
  and ends with the best epoch's parameters (``restore_best``, on by default); the final metrics
  are the restored parameters'. Without a validation split it is refused, located at the spec's
  line: it never watches the test split.
* A run interrupted and resumed stops where an uninterrupted one does, with the same parameters.
* ``cellgraph train --validation 0.25 --patience 3``.

The network is a wide tanh layer fitted to few noisy points of a sine: it overfits within a few
epochs, so early stopping stops long before the epoch limit. Every run is a few seconds on a CPU.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

import cellgraph
from cellgraph.data import Dataset, as_dataset
from cellgraph.errors import SpecError
from cellgraph.graph import load_graph
from cellgraph.graph.rules import watched_mode
from cellgraph.train import StepInfo, TrainingError, TrainingInterrupted, TrainResult

NET = """\
cellgraph: 1
name: wiggle
cells:
  x: {type: input, size: 1}
  h: {type: hidden, size: 128, activation: tanh}
  y: {type: output, size: 1, activation: linear}
edges:
  - x -> h -> y
train:
  loss: mse
  optimizer: {name: adam, learning_rate: 0.03}
  epochs: 200
  batch_size: 8
  seed: 0
  validation: 0.3
  early_stopping: {metric: val_loss, patience: 4}
"""
EPOCHS = 200
PATIENCE = 4
LINE = 1 + next(i for i, line in enumerate(NET.splitlines()) if "early_stopping" in line)


def points(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Few noisy points of a sine: a wide layer fits the noise within a few epochs."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 1)).astype(np.float32)
    return x, (np.sin(2 * x) + 0.4 * rng.normal(size=x.shape)).astype(np.float32)


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "0")
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    spec = tmp_path / "net.yaml"
    spec.write_text(NET, encoding="utf-8")
    return spec


def without(spec: Path, *lines: str) -> Path:
    """A copy of ``spec`` without the train-block lines starting with ``lines``."""
    text = "".join(line for line in spec.read_text().splitlines(keepends=True) if not line.strip().startswith(lines))
    out = spec.with_name(f"{spec.stem}-{len(list(spec.parent.glob('*.yaml')))}.yaml")
    out.write_text(text, encoding="utf-8")
    return out


def same_tree(a: Any, b: Any) -> bool:
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def best_row(result: TrainResult) -> dict[str, float]:
    return next(row for row in result.history if row["epoch"] == result.best_epoch)


@pytest.fixture
def stopped(net: Path) -> TrainResult:
    return cellgraph.train(str(net), points(), progress=False)


# ------------------------------------------------------------------------------- stopping


def test_early_stopping_stops_patience_epochs_after_the_best_and_restores_it(net: Path, stopped: TrainResult) -> None:
    history = stopped.history
    assert stopped.stopped_early and len(history) < EPOCHS and stopped.steps < EPOCHS * 3
    assert all({"val_loss", "val_mse", "test_loss", "train_loss"} <= row.keys() for row in history)
    losses = [row["val_loss"] for row in history]
    assert stopped.best_epoch == 1 + int(np.argmin(losses))  # the first of the lowest (min_delta 0)
    assert len(history) == stopped.best_epoch + PATIENCE  # patience, counted exactly
    best = best_row(stopped)
    assert stopped.val_metrics == {"loss": best["val_loss"], "mse": best["val_mse"]}
    # the restored parameters score the best row's figures, on the rows as_dataset holds out
    held = as_dataset(points(), load_graph(str(net)), validation=0.3, seed=0)
    assert cellgraph.evaluate(stopped, (held.x_val, held.y_val))["loss"] == pytest.approx(best["val_loss"], rel=1e-6)
    assert stopped.metrics["loss"] == pytest.approx(best["test_loss"], rel=1e-6)  # final metrics: restored params
    assert stopped.metrics["loss"] != pytest.approx(history[-1]["test_loss"], rel=1e-6)
    assert stopped.settings["early_stopping"] == {
        "metric": "val_loss",
        "patience": PATIENCE,
        "min_delta": 0.0,
        "mode": "min",
        "restore_best": True,
    }


def test_patience_counts_whole_epochs_and_restore_best_false_keeps_the_last(net: Path) -> None:
    """With a min_delta nothing beats, epoch 1 stays the best: patience 3 stops after epoch 4."""
    rule = {"patience": 3, "min_delta": 1e6}
    kept = cellgraph.train(str(net), points(), progress=False, early_stopping=rule)
    assert kept.stopped_early and kept.best_epoch == 1 and [r["epoch"] for r in kept.history] == [1, 2, 3, 4]
    first = cellgraph.train(str(net), points(), progress=False, epochs=1, early_stopping=False)
    assert first.best_epoch is None and not first.stopped_early
    assert same_tree(kept.params, first.params)  # epoch 1's parameters, restored
    last = cellgraph.train(str(net), points(), progress=False, early_stopping={**rule, "restore_best": False})
    four = cellgraph.train(str(net), points(), progress=False, epochs=4, early_stopping=False)
    assert last.stopped_early and last.best_epoch == 1
    assert same_tree(last.params, four.params) and not same_tree(last.params, first.params)


def test_the_epoch_limit_first_still_restores_the_best_epoch(net: Path) -> None:
    """Unlike Keras, which restores only when it stopped, restore_best holds whenever the best
    epoch is not the last."""
    result = cellgraph.train(str(net), points(), progress=False, epochs=3, early_stopping={"min_delta": 1e6})
    assert not result.stopped_early and result.best_epoch == 1 and len(result.history) == 3
    first = cellgraph.train(str(net), points(), progress=False, epochs=1, early_stopping=False)
    assert same_tree(result.params, first.params)


def test_the_mode_follows_the_metric() -> None:
    assert watched_mode("val_loss") == "min" and watched_mode("val_mse:head") == "min"
    assert watched_mode("val_accuracy") == "max" and watched_mode("val_r2") == "max"
    assert watched_mode("val_accuracy", "min") == "min"


# ------------------------------------------------------------------------------- the split


def test_validation_data_is_scored_after_every_epoch(net: Path) -> None:
    spec = without(net, "validation:", "early_stopping:")
    x, y = points()
    xv, yv = points(12, seed=1)
    result = cellgraph.train(str(spec), (x, y), progress=False, epochs=3, validation_data=(xv, yv))
    assert [sorted(k for k in row if k.startswith("val_")) for row in result.history] == [["val_loss", "val_mse"]] * 3
    assert result.best_epoch is None and not result.stopped_early
    assert cellgraph.evaluate(result, (xv, yv))["loss"] == pytest.approx(result.history[-1]["val_loss"], rel=1e-6)
    plain = cellgraph.train(str(spec), (x, y), progress=False, epochs=3)  # no validation: every training row trains
    assert not any(k.startswith("val_") for k in plain.history[-1]) and plain.val_metrics == {}


def test_a_fraction_holds_out_training_rows_with_the_runs_seed(net: Path) -> None:
    """40 rows: 8 test, 32 training; validation 0.3 holds 10 of those out, so an epoch of batches of
    8 is 3 steps (8 + 8 + 6), and the test split is untouched."""
    spec = without(net, "early_stopping:")
    graph = load_graph(str(spec))
    data = as_dataset(points(), graph)
    for seed in (0, 1):
        result = cellgraph.train(str(spec), data, progress=False, epochs=1, seed=seed)
        held = as_dataset(data, graph, validation=0.3, seed=seed)  # the same rows, by the same recipe
        assert len(held.y_val) == 10 and result.steps == 3
        val = cellgraph.evaluate(result, (held.x_val, held.y_val))["loss"]
        assert val == pytest.approx(result.history[0]["val_loss"], rel=1e-6)
        assert cellgraph.evaluate(result, data)["loss"] == pytest.approx(result.history[0]["test_loss"], rel=1e-6)
    assert cellgraph.train(str(spec), data, progress=False, epochs=1, validation=None).steps == 3  # the spec's 0.3
    whole = cellgraph.train(str(without(spec, "validation:")), data, progress=False, epochs=1)
    assert whole.steps == 4


# ------------------------------------------------------------------------------- mistakes


def test_early_stopping_without_a_validation_split_is_refused_at_the_spec_line(net: Path) -> None:
    spec = without(net, "validation:")
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1) if "early_stopping" in text)
    with pytest.raises(SpecError) as info:
        cellgraph.train(str(spec), points(), progress=False)
    text = info.value.format()
    assert f"{spec.name}:{line}:" in text and "train.early_stopping" in text
    assert "needs a validation split" in text and "validation: 0.1" in text
    plain = without(net, "validation:", "early_stopping:")
    with pytest.raises(TrainingError, match=r"needs a validation split: pass validation=0\.1"):
        cellgraph.train(str(plain), points(), progress=False, early_stopping=3)
    assert cellgraph.train(str(spec), points(), progress=False, epochs=2, early_stopping=False).best_epoch is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{patience: 0}", r"early_stopping\.patience: expected an integer"),
        ("{metric: val_los}", r"unknown metric 'los' in 'val_los'; did you mean 'loss'\?"),
        ("{metric: loss}", r"'loss' is not a validation figure; did you mean 'val_loss'\?"),
        ("{metric: test_loss}", r"watches the validation split, not 'test_loss'"),
        ("{metric: train_accuracy}", r"watches the validation split, not 'train_accuracy'"),
        ("{monitor: val_loss}", r"unknown key 'monitor' in early_stopping; did you mean 'metric'\?"),
        ("{mode: lowest}", r"early_stopping\.mode: expected one of auto, min, max"),
        ("{min_delta: -1}", r"early_stopping\.min_delta: expected a number"),
        ("soon", r"expected a mapping, a patience or true/false"),
    ],
)
def test_bad_early_stopping_options_are_located_errors_of_validate(
    net: Path, run_cli: Callable[..., Any], value: str, message: str
) -> None:
    net.write_text(NET.replace("{metric: val_loss, patience: 4}", value), encoding="utf-8")
    result = run_cli("validate", net)
    assert result.code == 1
    assert f"net.yaml:{LINE}:" in result.err and "train.early_stopping" in result.err
    assert re.search(message, result.err), result.err


def test_bad_arguments_and_a_metric_the_network_lacks_are_refused_before_any_step(net: Path) -> None:
    steps: list[int] = []

    def count(info: StepInfo) -> None:
        steps.append(info.step)

    net.write_text(NET.replace("metric: val_loss", "metric: val_r2"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"watches val_r2, which this network does not report") as info:
        cellgraph.train(str(net), points(), progress=False, on_step=count)
    assert "watch one of: val_loss, val_mse" in info.value.format()
    assert f"net.yaml:{LINE}:" in info.value.format()
    net.write_text(NET, encoding="utf-8")
    with pytest.raises(TrainingError, match=r"watches val_accuracy, which this network does not report"):
        cellgraph.train(str(net), points(), progress=False, on_step=count, early_stopping={"metric": "val_accuracy"})
    with pytest.raises(TrainingError, match=r"early_stopping\.patience: expected an integer"):
        cellgraph.train(str(net), points(), progress=False, early_stopping={"patience": 0})
    with pytest.raises(TrainingError, match=r"validation: expected a number in \(0, 1\), got 1\.5"):
        cellgraph.train(str(net), points(), progress=False, validation=1.5)
    with pytest.raises(TrainingError, match=r"give one of the two"):
        cellgraph.train(str(net), points(), progress=False, validation=0.2, validation_data=points(8, 1))
    split = Dataset("d", "regression", *points(), *points(8, 1))
    with pytest.raises(TrainingError, match=r"validation rows themselves"):
        cellgraph.train(str(net), points(), progress=False, validation_data=split)
    assert steps == []


# ------------------------------------------------------------------------------- resume


def interrupt_at(step: int) -> Callable[[StepInfo], None]:
    def callback(info: StepInfo) -> None:
        if info.step == step:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("where", ["mid-epoch", "the-best-step", "after-the-best", "the-last-step"])
def test_an_interrupted_run_resumes_to_the_same_stop_and_parameters(
    net: Path, stopped: TrainResult, tmp_path: Path, where: str
) -> None:
    per_epoch = stopped.steps // len(stopped.history)
    best_step = int(best_row(stopped)["step"])
    stop = {
        "mid-epoch": per_epoch + 1,
        "the-best-step": best_step,  # interrupted before its epoch's row: the row is made on resuming
        "after-the-best": best_step + per_epoch + 1,
        "the-last-step": stopped.steps,
    }[where]
    folder = tmp_path / f"ckpt-{where}"
    with pytest.raises(TrainingInterrupted):
        cellgraph.train(str(net), points(), progress=False, checkpoint_dir=folder, on_step=interrupt_at(stop))
    resumed = cellgraph.train(str(net), points(), progress=False, checkpoint_dir=folder)
    assert resumed.resumed_at == stop
    assert same_tree(resumed.params, stopped.params)
    assert (resumed.best_epoch, resumed.stopped_early, resumed.steps) == (
        stopped.best_epoch,
        stopped.stopped_early,
        stopped.steps,
    )
    assert resumed.history == stopped.history and resumed.metrics == stopped.metrics
    again = cellgraph.train(str(net), points(), progress=False, checkpoint_dir=folder)  # finished: not trained again
    assert again.already_trained and same_tree(again.params, stopped.params)
    assert again.best_epoch == stopped.best_epoch and again.stopped_early and again.metrics == stopped.metrics


def test_a_run_that_ends_inside_an_epoch_weighs_its_last_partial_row_too(net: Path, tmp_path: Path) -> None:
    """steps: 10 is 3 epochs of 3 steps and one more; the last, partial row is a candidate for the
    best (its parameters are the last), never an epoch of patience; a rerun decides the same."""
    folder = tmp_path / "ckpt"
    rule = {"patience": 50}
    first = cellgraph.train(str(net), points(), progress=False, steps=10, early_stopping=rule, checkpoint_dir=folder)
    assert not first.stopped_early and [r["step"] for r in first.history] == [3, 6, 9, 10]
    losses = [r["val_loss"] for r in first.history]
    assert first.best_epoch == 1 + int(np.argmin(losses))
    assert first.val_metrics["loss"] == min(losses)
    again = cellgraph.train(str(net), points(), progress=False, steps=10, early_stopping=rule, checkpoint_dir=folder)
    assert again.already_trained and same_tree(again.params, first.params)
    assert (again.best_epoch, again.metrics, again.history) == (first.best_epoch, first.metrics, first.history)


def test_the_run_key_holds_the_validation_settings(net: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    cellgraph.train(str(net), points(), progress=False, epochs=2, checkpoint_dir=folder)
    with pytest.raises(TrainingError, match=r"belongs to another run \(validation 0\.3 there, 0\.2 here"):
        cellgraph.train(str(net), points(), progress=False, epochs=2, checkpoint_dir=folder, validation=0.2)
    with pytest.raises(
        TrainingError, match=r"another run \(early_stopping .*\"patience\": 4.* there, .*\"patience\": 2"
    ):
        cellgraph.train(str(net), points(), progress=False, epochs=2, checkpoint_dir=folder, early_stopping=2)


# ------------------------------------------------------------------------------- the command line


def test_cli_validation_and_patience(net: Path, run_cli: Callable[..., Any]) -> None:
    spec = without(net, "validation:", "early_stopping:")
    x, y = points()
    np.savez("data.npz", x=x, y=y)
    result = run_cli(
        "train", spec, "--data", "data.npz", "--validation", "0.3", "--patience", "4", "--checkpoint-dir", "a"
    )
    assert result.code == 0, result.err
    assert "stopped early, best epoch" in result.out and "(its parameters kept)" in result.out
    assert "validation: " in result.out and "test: " in result.out
    as_json = run_cli(
        "train", spec, "--data", "data.npz", "--validation", "0.3", "--patience", "4", "--checkpoint-dir", "a", "--json"
    )
    figures = json.loads(as_json.out)
    assert as_json.code == 0 and set(figures) == {"test", "train", "validation"}
    refused = run_cli("train", spec, "--data", "data.npz", "--patience", "4", "--checkpoint-dir", "b")
    assert refused.code == 1 and "needs a validation split" in refused.err and "--validation 0.1" in refused.err
    assert "Traceback" not in refused.err
    bad = run_cli("train", spec, "--data", "data.npz", "--validation", "1.5", "--checkpoint-dir", "b")
    assert bad.code == 1 and "validation: expected a number in (0, 1)" in bad.err
