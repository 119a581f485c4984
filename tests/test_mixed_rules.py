"""Several rules in one graph: a ridge read-out of a fixed reservoir beside a head trained by backprop.

One fixed sparse recurrent reservoir reads a sine wave of random frequency and phase; two outputs
read the reservoir: ``y`` (``rule: ridge``) predicts the next value, solved once in closed form
before the first update, and ``up`` (softmax, trained by ``train.rule: backprop``) says whether
the series is rising. The held-out checks are computed here from the trained network's outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

import cellgraph
from cellgraph.errors import SpecError
from cellgraph.train import StepInfo, TrainingInterrupted
from cellgraph.train.rules import closed_form

WASHOUT = 10
ALPHA = 1.0e-6

SPEC = f"""\
cellgraph: 1
name: mixed_reservoir
cells:
  x: {{type: input, size: 1, sequence: true}}
  r: {{type: recurrent, size: 60, activation: tanh, trainable: false}}
  y: {{type: output, size: 1, activation: linear, rule: ridge}}
  up: {{type: output, size: 2, activation: softmax}}
edges:
  - x -> r: {{trainable: false, scale: 1.0}}
  - r -> r: {{trainable: false, density: 0.1, scale: 0.9}}
  - r -> y
  - r -> up
train:
  rule: backprop
  alpha: {ALPHA}
  washout: {WASHOUT}
  optimizer: {{name: adam, learning_rate: 0.1}}
  epochs: 60
  batch_size: 32
  seed: 0
"""


def sines(n: int, seed: int, steps: int = 60) -> dict[str, np.ndarray]:
    """``x``: sin(f t + phase) per sequence; ``y``: its next value; ``up``: 1 where it rises next."""
    r = np.random.default_rng(seed)
    f, phase = r.uniform(0.1, 0.3, (n, 1)), r.uniform(0, 2 * np.pi, (n, 1))
    s = np.sin(f * np.arange(steps + 1) + phase).astype(np.float32)
    return {"x": s[:, :-1, None], "y": s[:, 1:, None], "up": (s[:, 1:] > s[:, :-1]).astype(np.int32)}


def _write(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    text = SPEC
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "mixed.yaml"
    path.write_text(text)
    return path


def _train(path: Path, **run: Any) -> Any:
    return cellgraph.train(path, data=sines(128, 0), test_data=sines(64, 1), progress=False, **run)


def test_ridge_readout_and_backprop_head_learn_side_by_side(tmp_path: Path) -> None:
    """``y`` equals a standalone ridge fit on the same states and predicts held-out series; ``up``
    learns its task by backprop; ``y``'s weights stay as solved through every backprop step.

    Controls: ``y`` against a mean predictor (NRMSE 1); ``up`` against its untrained head, near
    chance (0.54 measured)."""
    seen: dict[int, Any] = {}

    def keep(info: StepInfo) -> None:
        if info.step == 1:
            seen[1] = jax.tree.map(np.array, info.state.params)

    result = _train(_write(tmp_path), on_step=keep)
    model, params, train = result.model, result.params, sines(128, 0)

    # the standalone fit: ridge regression of the next value on the reservoir states, washout dropped
    states = np.asarray(model.forward(params, {"x": train["x"]})[0]["r"], np.float64)[:, WASHOUT:]
    h = np.concatenate([states.reshape(-1, states.shape[-1]), np.ones((states[..., 0].size, 1))], axis=1)
    t = train["y"][:, WASHOUT:].reshape(-1, 1).astype(np.float64)
    beta = np.linalg.solve(h.T @ h + ALPHA * np.eye(h.shape[1]), h.T @ t)
    held = sines(64, 2)
    out = model.predict(params, {"x": held["x"]})
    standalone = np.asarray(model.forward(params, {"x": held["x"]})[0]["r"], np.float64) @ beta[:-1] + beta[-1]
    np.testing.assert_allclose(out["y"], standalone, atol=1e-4)  # float32 weights of the same solve

    error = out["y"][:, WASHOUT:] - held["y"][:, WASHOUT:]
    nrmse = float(np.sqrt(np.mean(error**2)) / held["y"][:, WASHOUT:].std())
    assert nrmse < 0.01, nrmse  # measured 0.0002; a mean predictor scores 1

    accuracy = float((out["up"].argmax(-1)[:, WASHOUT:] == held["up"][:, WASHOUT:]).mean())
    assert accuracy >= 0.9, accuracy  # measured 0.93; the untrained head is near chance (0.5)

    for k in params["y"]:  # solved before step 1, never moved by the optimizer after
        np.testing.assert_array_equal(np.asarray(params["y"][k]), seen[1]["y"][k])
    assert not np.allclose(np.asarray(params["up"]["kernel"]), seen[1]["up"]["kernel"])
    assert "mse:y" in result.metrics and "accuracy:up" in result.metrics


def test_an_interrupted_mixed_run_resumes_to_the_same_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint holds the solved read-out: a resumed run does not solve again (the solver is
    taken away) and ends where the unbroken one ends."""
    path = _write(tmp_path, ("epochs: 60", "epochs: 4"))
    straight = _train(path, resume=False)
    folder = tmp_path / "run"

    def interrupt(info: StepInfo) -> None:
        if info.step == 5:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        _train(path, checkpoint_dir=folder, on_step=interrupt)
    monkeypatch.setattr(closed_form, "fit_ridge", _no_solve)
    resumed = _train(path, checkpoint_dir=folder)
    assert resumed.resumed_at == 5 and resumed.steps == straight.steps
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6), resumed.params, straight.params)


def _no_solve(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a resumed run solved its read-out again")


@pytest.mark.parametrize(
    ("change", "group", "words", "fix"),
    [
        (
            ("size: 1, activation: linear, rule: ridge", "size: 1, activation: tanh, rule: ridge"),
            "y",
            "a `rule: ridge` read-out is linear",
            "activation: linear",
        ),
        (
            ("size: 60, activation: tanh, trainable: false", "size: 60, activation: tanh"),
            "y",
            "which backprop would then change",
            "mark 'r' `trainable: false`",
        ),
        (("  - r -> up\n", "  - r -> up\n  - y -> up\n"), "y", "feeds 'up', which backprop trains", "drop the edge"),
        (
            ("  rule: backprop\n", "  rule: least_squares\n"),
            "y",
            "goes beside `train.rule: backprop` only",
            "drop `rule: ridge`",
        ),
    ],
)
def test_a_mixed_spec_that_cannot_train_is_refused_at_the_group(
    tmp_path: Path, change: tuple[str, str], group: str, words: str, fix: str
) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(SpecError) as info:
        cellgraph.load_graph(path)
    found = [p for p in info.value.problems if words in p.message]
    assert found, [p.message for p in info.value.problems]
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith(f"  {group}: "))
    assert found[0].loc.file.endswith("mixed.yaml") and found[0].loc.line == line
    assert fix in found[0].fix
