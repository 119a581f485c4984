"""The networks learn: each zoo spec reaches ZOO.md section 2's pass on its toy task, and each of the
lecture's examples reaches the issue's.

Every test trains a spec file as written, ``cellgraph.train(path, progress=False)``, with nothing
that the pass depends on overridden: only the seed where the pass counts seeds, the data where
one network is run on several sources, and the size ZOO.md names for a second task (the FF's
mushroom net, one hidden layer of 16). Each criterion is computed here from the trained
network's own outputs on held-out data -- the test split, a fresh set generated with another seed,
or, for the tasks that have nothing to hold out (the gates, the 8-3-8 encoder), all patterns --
so a metric reported by the loss cannot hide a mistake. The train blocks are sized so that the
whole file stays within a few minutes on CI's two cores.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
import yaml
from conftest import EXAMPLES, ZOO

import cellgraph
from cellgraph.data import load_dataset

GATES = {"and": (0, 0, 0, 1), "or": (0, 1, 1, 1), "xor": (0, 1, 1, 0)}
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
FRESH_SEED = 20240601  # generator seed of the fresh test sets: none of the specs trains on it


def _train(path: Path, **kwargs: Any) -> cellgraph.train.TrainResult:
    return cellgraph.train(path, progress=False, **kwargs)


def _predict(path: Path | cellgraph.Spec, overrides: dict[str, Any] | None = None) -> Callable[..., np.ndarray]:
    """``predict(params, x)``: the (only) output group's values, computed in evaluation mode."""
    model = cellgraph.compile(path, overrides) if isinstance(path, Path) else cellgraph.compile(path)
    (out,) = model.outputs
    apply = jax.jit(lambda params, x: model.apply(params, x)[out])
    return lambda params, x: np.asarray(apply(params, np.asarray(x, np.float32)))


def _data(path: Path, **changes: Any) -> Any:
    """The spec's data set; ``changes`` replace keys of its data block, ``seed`` its generator seed."""
    seed = changes.pop("seed", None)
    return load_dataset({**cellgraph.load_spec(path).data, **changes}, path.parent, seed=seed)


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    pred = np.argmax(probs, axis=-1) if probs.shape[-1] > 1 else (probs[..., 0] > 0.5).astype(int)
    return float(np.mean(pred == labels))


def _gate(name: str) -> Any:
    return load_dataset({"source": name})


# ------------------------------------------------------------------------------------ P (2.1)


@pytest.mark.parametrize("gate", ["and", "or"])
def test_p_learns_and_and_or_within_ten_epochs(gate: str) -> None:
    path = ZOO / "p.yaml"
    result = _train(path, data=_gate(gate))
    mistakes = [row["train_mistakes"] for row in result.history]
    assert len(mistakes) <= 10 and mistakes[-1] == 0, mistakes  # converged: a whole pass without a correction
    out = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    assert out.tolist() == list(GATES[gate])  # 100% of the truth table


def test_p_fails_xor() -> None:
    path = ZOO / "p.yaml"
    result = _train(path, data=_gate("xor"))
    assert all(row["train_mistakes"] > 0 for row in result.history)  # the corrections never stop
    out = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    assert np.mean(out == np.array(GATES["xor"])) <= 0.75  # Minsky & Papert: no line separates XOR


def test_p_on_mushroom_held_out() -> None:
    """ZOO.md's second P task, the lecture's perceptron on the lecture's data: >= 99.5% of the test split."""
    path = EXAMPLES / "perceptron_mushroom.yaml"
    result = _train(path)
    assert len(result.history) <= 20
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.995


# ------------------------------------------------------------------------------------ FF (2.2)


def test_ff_solves_xor_in_nine_of_ten_seeds() -> None:
    """tanh/sigmoid, full batch, <= 2000 Adam steps at 0.05: 4/4 patterns and MSE < 0.01 in >= 9/10 seeds.

    ZOO.md proposes a 2-2-1 net; measured here it solves XOR from only about half of its random
    starts, so the spec uses 3 hidden cells (2-3-1) and keeps the criterion.
    """
    path = ZOO / "ff.yaml"
    spec = cellgraph.load_spec(path)
    assert spec.params["width"] == 3 and spec.train["batch_size"] == 4  # 2-3-1, the four patterns at once
    assert spec.train["optimizer"] == {"name": "adam", "learning_rate": 0.05}
    predict = _predict(path)
    target = np.array(GATES["xor"], np.float32)
    solved = []
    for seed in range(10):
        result = _train(path, seed=seed)
        assert result.steps <= 2000
        p = predict(result.params, GATE_INPUTS)[:, 0]
        solved.append(bool(np.all((p > 0.5) == target) and np.mean((p - target) ** 2) < 0.01))
    assert sum(solved) >= 9, f"XOR solved in {sum(solved)} of 10 seeds: {solved}"


def test_ff_mushroom_one_hidden_layer_of_16_held_out() -> None:
    """XOR holds nothing out, so ZOO.md adds mushroom with one hidden layer of 16: >= 99.5% test accuracy."""
    path = EXAMPLES / "mushroom.yaml"
    overrides = {"depth": 1, "width": 16}
    result = _train(path, params_override=overrides)
    ds = _data(path)
    assert _accuracy(_predict(path, overrides)(result.params, ds.x_test), ds.y_test) >= 0.995


# ------------------------------------------------------------------------------------ RBF (2.3)


def test_rbf_fits_the_sine_held_out() -> None:
    path = ZOO / "rbf.yaml"
    result = _train(path)
    ds = _data(path)
    assert len(ds.x_train) >= 200  # ZOO.md: 200 random training points
    rmse = float(np.sqrt(np.mean((_predict(path)(result.params, ds.x_test) - ds.y_test) ** 2)))
    assert rmse < 0.02


def test_rbf_interpolates_xor_exactly() -> None:
    path = EXAMPLES / "rbf_xor.yaml"
    result = _train(path)
    out = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    assert np.max(np.abs(out - np.array(GATES["xor"]))) < 1e-6


# ------------------------------------------------------------------------------------ DFF (2.4)


def test_dff_mushroom_held_out() -> None:
    path = ZOO / "dff.yaml"
    result = _train(path)
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.995


def test_dff_two_spirals_held_out_where_a_perceptron_stays_near_chance() -> None:
    path = EXAMPLES / "spirals_dff.yaml"
    result = _train(path)
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.95
    linear = EXAMPLES / "perceptron.yaml"  # the control: one threshold unit on the same points
    control = _train(linear, data=ds)
    assert _accuracy(_predict(linear)(control.params, ds.x_test), ds.y_test) <= 0.65


# ------------------------------------------------------------------------------------ RNN (2.5)


def test_rnn_predicts_the_xor_bits_of_a_fresh_temporal_xor_stream() -> None:
    path = ZOO / "rnn.yaml"
    result = _train(path)
    predict = _predict(path)
    for ds in (_data(path), _data(path, seed=FRESH_SEED)):  # the held-out continuation; a new stream
        assert ds.x_test.shape[1] >= 2999  # a 3000-bit stream
        error = np.abs(predict(result.params, ds.x_test) - ds.y_test)[0, :, 0]
        predictable = ds.meta["predictable"]
        assert error[predictable].mean() < 0.2
        assert error[~predictable].mean() >= 0.4  # random bits stay unpredictable: no leak


# ------------------------------------------------------------------------------ LSTM, GRU (2.6, 2.7)


@pytest.mark.parametrize("net", ["lstm", "gru"])
def test_adding_problem_t50_on_1000_fresh_sequences(net: str) -> None:
    path = ZOO / f"{net}.yaml"
    result = _train(path)
    fresh = _data(path, n=2000, split={"test": 0.5, "seed": 0}, seed=FRESH_SEED)
    x, y = fresh.x_test, fresh.y_test[:, 0]
    assert x.shape == (1000, 50, 2)
    correct = np.mean(np.abs(_predict(path)(result.params, x)[:, 0] - y) < 0.04)
    constant = np.mean(np.abs(0.5 - y) < 0.04)  # the control: always 0.5
    assert 0.10 < constant < 0.20  # ~15%, as ZOO.md computes
    assert correct >= 0.95, f"{correct:.1%} of the fresh sequences within 0.04 (constant 0.5: {constant:.1%})"


# ------------------------------------------------------------------------------------ AE (2.8)


def test_ae_solves_the_8_3_8_encoder() -> None:
    path = ZOO / "ae.yaml"
    result = _train(path)
    patterns = np.eye(8, dtype=np.float32)  # the whole task: nothing to hold out
    out = _predict(path)(result.params, patterns)
    assert np.argmax(out, axis=-1).tolist() == list(range(8))


def test_linear_ae_matches_pca_held_out() -> None:
    """Bourlard & Kamp: a linear 8-2-8 AE is as good as a 2-component PCA (within 2% held out)."""
    path = EXAMPLES / "linear_ae.yaml"
    result = _train(path)
    ds = _data(path)
    mean = ds.x_train.mean(axis=0)
    basis = np.linalg.svd(ds.x_train - mean, full_matrices=False)[2][:2].T  # (8, 2): the top 2 directions
    pca = np.mean(((ds.x_test - mean) @ basis @ basis.T + mean - ds.x_test) ** 2)
    ae = np.mean((_predict(path)(result.params, ds.x_test) - ds.x_test) ** 2)
    assert ae <= 1.02 * pca


# ------------------------------------------------------------------------------------ DAE (2.10)


def _without_noise(path: Path) -> cellgraph.Spec:
    """The same network with a plain input: ZOO.md's control, an AE trained without noise."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    x = doc["cells"]["x"]
    doc["cells"]["x"] = {"type": "input", "shape": x["shape"]}
    return cellgraph.load_spec_text(yaml.safe_dump(doc, sort_keys=False), str(path.with_name("plain_ae.yaml")))


def test_dae_halves_the_error_of_masked_held_out_images_and_beats_a_plain_ae() -> None:
    path = ZOO / "dae.yaml"
    level = cellgraph.load_spec(path).cells[0].options["level"]
    assert level == 0.25
    result = _train(path)
    plain = _without_noise(path)
    control = _train(plain)
    clean = _data(path).x_test
    masked = np.where(np.random.default_rng(FRESH_SEED).random(clean.shape) < level, 0.0, clean)
    noisy_error = np.mean((masked - clean) ** 2)
    dae_error = np.mean((_predict(path)(result.params, masked).reshape(clean.shape) - clean) ** 2)
    plain_error = np.mean((_predict(plain)(control.params, masked).reshape(clean.shape) - clean) ** 2)
    assert dae_error <= 0.5 * noisy_error
    assert dae_error < plain_error


# ------------------------------------------------------------------------------------ SAE (2.11)


def test_sae_code_is_sparse_and_reconstructs_held_out_data() -> None:
    path = ZOO / "sae.yaml"
    result = _train(path)
    ds = _data(path)
    values, _ = cellgraph.compile(path).forward(result.params, ds.x_test)
    code, out = np.asarray(values["h"]), np.asarray(values["y"])
    assert code.shape == (len(ds.x_test), 32)
    assert abs(code.mean() - 0.05) <= 0.02  # mean code activation: rho = 0.05
    assert np.mean((out - ds.x_test) ** 2) < 0.1 * np.mean(ds.x_test.var(axis=0))
    assert np.mean((code > 0.5).sum(axis=1) <= 8) >= 0.8


# ------------------------------------------------------------------------------------ DCN (2.17)


@pytest.mark.parametrize("path", [ZOO / "dcn.yaml", EXAMPLES / "digits_dcn.yaml"], ids=["dcn", "digits_dcn"])
def test_dcn_classifies_held_out_digits(path: Path) -> None:
    result = _train(path)
    ds = _data(path)
    assert ds.name == "digits"
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.97


# ------------------------------------------------------------------------------------ DRN (2.24)


def test_drn_depth_20_separates_held_out_spirals_within_2000_steps() -> None:
    path = ZOO / "drn.yaml"
    result = _train(path)
    assert result.steps <= 2000
    assert cellgraph.load_spec(path).params["depth"] == 20
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.95


# ------------------------------------------------------------------------------- the lecture's examples


@pytest.mark.parametrize("gate", ["and", "or", "xor"])
def test_lecture_perceptron_learns_and_or_and_fails_xor(gate: str) -> None:
    """Δw = η(t − o)x (``train.rule: perceptron``): AND and OR in full, XOR at most 3 of 4."""
    path = EXAMPLES / "perceptron.yaml"
    result = _train(path, params_override={"gate": gate})
    assert cellgraph.load_spec(path).train["rule"] == "perceptron"
    out = _predict(path, {"gate": gate})(result.params, GATE_INPUTS)[:, 0]
    right = np.mean(out == np.array(GATES[gate]))
    mistakes = [row["train_mistakes"] for row in result.history]
    if gate == "xor":
        assert right <= 0.75 and min(mistakes) > 0
    else:
        assert right == 1.0 and mistakes[-1] == 0


def test_lecture_mlp_solves_xor() -> None:
    path = EXAMPLES / "xor_mlp.yaml"
    result = _train(path)
    p = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    target = np.array(GATES["xor"], np.float32)
    assert np.all((p > 0.5) == target)
    assert np.mean((p - target) ** 2) < 0.01


def test_lecture_mushroom_mlp_held_out() -> None:
    path = EXAMPLES / "mushroom.yaml"
    result = _train(path)
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.999
