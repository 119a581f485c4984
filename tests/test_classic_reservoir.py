"""Reservoir networks from their spec files: ESN, LSM and ELM learn to ZOO.md's pass (2.21-2.23).

Each learning test trains the zoo spec as it is and checks the criterion on the held-out split
from the trained network's own outputs. Beside them: the reservoir matrix has the spectral radius
and density asked for, a leaky integrate-and-fire neuron fires at the rate the analytic solution
gives, and specs the ridge rule cannot train are refused at their line.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import eigs

import cellgraph
from cellgraph.compiler.reservoir import free_run, free_run_of
from cellgraph.data import load_dataset
from cellgraph.errors import SpecError
from cellgraph.views import view

ZOO = Path(__file__).resolve().parent.parent / "specs" / "zoo"
ESN, LSM, ELM = ZOO / "esn.yaml", ZOO / "lsm.yaml", ZOO / "elm.yaml"


def _data(path: Path) -> cellgraph.data.Dataset:
    return load_dataset(dict(cellgraph.load_spec(path).data), path.parent)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ ESN (2.23)


def _esn_oracle(
    params: dict, x: np.ndarray, y: np.ndarray, starts: np.ndarray, warmup: int, horizon: int
) -> np.ndarray:
    """Free-running predictions of the trained ESN written out in NumPy (float64), from its
    parameters alone: teacher-forced warm-up, then its own output fed to input and feedback."""
    r, out = {k: np.asarray(v, np.float64) for k, v in params["r"].items()}, params["y"]
    w_out, b_out = np.asarray(out["kernel"], np.float64), np.asarray(out["bias"], np.float64)
    h = np.zeros((len(starts), r["w_rec"].shape[0]))
    fed_back = pred = np.zeros((len(starts), 1))
    for t in range(warmup + horizon - 1):
        u = x[starts - warmup + t] if t < warmup else pred
        if 0 < t < warmup:
            fed_back = y[starts - warmup + t - 1]  # the true previous value
        elif t >= warmup:
            fed_back = pred
        h = np.tanh(u @ r["w_in"] + h @ r["w_rec"] + r["bias"] + fed_back @ r["from:y"])
        pred = h @ w_out + b_out
    return pred[:, 0]


def test_esn_predicts_mackey_glass_84_steps_free_running(tmp_path: Path) -> None:
    """ZOO.md 2.23's pass from the spec file: NRMSE84 < 0.05 over 50 held-out free runs.

    Control: the same reservoir with its untrained read-out (the initial parameters) fails the
    pass -- asserted (predicting the mean would score NRMSE 1 by definition)."""
    result = cellgraph.train(ESN, progress=False, resume=False)
    model, params = result.model, result.params
    assert model.graph.nodes["r"]["shape"] == (500,)  # ZOO: N = 500 with NRMSE84 < 0.05
    ds = _data(ESN)
    run = free_run_of(model.graph, model.plan)
    assert run is not None and (run.warmup, run.horizon, run.starts) == (500, 84, 50)
    free = jax.jit(lambda p, x, y: free_run(model.forward, run, p, x, y))
    predicted, true = free(params, ds.x_test, ds.y_test)
    predicted, true = np.asarray(predicted)[:, -1, 0], np.asarray(true)[:, -1, 0]  # the 84th free step
    control = np.asarray(free(model.init(jax.random.key(0)), ds.x_test, ds.y_test)[0])[:, -1, 0]
    assert not math.sqrt(np.mean((control - true) ** 2) / np.var(ds.y_test)) < 0.05
    assert len(predicted) == 50
    nrmse84 = math.sqrt(np.mean((predicted - true) ** 2) / np.var(ds.y_test))
    assert nrmse84 < 0.05, nrmse84
    # ten of the free runs written out by hand from the parameters agree with the compiled network's
    starts = run.windows(ds.x_test.shape[1])[::5]
    oracle = _esn_oracle(params, ds.x_test[0], ds.y_test[0], starts, run.warmup, run.horizon)
    assert np.max(np.abs(oracle - predicted[::5])) < 1e-3
    assert abs(result.metrics["nrmse"] - nrmse84) < 1e-4  # what the run reports is this figure
    _check_png(view(result, tmp_path / "esn.png"))


def _check_png(path: Path) -> None:
    """A real picture: a PNG of a few hundred pixels a side, not blank."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) > 300
        assert len(np.unique(np.asarray(image.convert("L")))) > 10


def test_reservoir_matrix_has_the_spectral_radius_and_density_asked() -> None:
    model = cellgraph.compile(ESN)
    params = jax.jit(model.init)(jax.random.key(3))
    w = np.asarray(params["r"]["w_rec"], np.float64)
    assert np.count_nonzero(w) == round(0.02 * 500 * 500)
    # the six largest eigenvalues by Arnoldi iteration (LAPACK's full eigvals of 500 x 500 took
    # 6-12 s on a busy two-core machine, its BLAS threads fighting); the liquid's below is checked
    # against LAPACK
    largest = eigs(csr_matrix(w), k=6, which="LM", v0=np.linspace(1.0, 2.0, 500), return_eigenvectors=False)
    assert abs(np.max(np.abs(largest)) - 0.9) < 1e-5
    for name in ("w_in", "from:y"):  # `scale: 1.0` off a self edge: uniform in [-1, 1], dense
        v = np.asarray(params["r"][name])
        assert np.all(np.abs(v) <= 1.0) and np.max(np.abs(v)) > 0.9 and np.count_nonzero(v) == v.size
    liquid = jax.jit(cellgraph.compile(LSM).init)(jax.random.key(0))["r"]
    rec = np.asarray(liquid["from:r"], np.float64)  # a delayed self edge `r ~> r`
    assert np.count_nonzero(rec) == round(0.1 * 135 * 135)
    assert abs(np.max(np.abs(np.linalg.eigvals(rec))) - 5.0) < 1e-4
    assert np.count_nonzero(np.asarray(liquid["kernel"])) == round(0.3 * 4 * 135)


def test_spectral_radius_agrees_with_lapack() -> None:
    """The extrapolated Gelfand estimate against LAPACK's eigenvalues, in float32, to 2e-6."""
    from cellgraph.compiler.sparse import spectral_radius

    rng = np.random.default_rng(7)
    radius = jax.jit(spectral_radius)
    for n, density in [(6, 0.5), (20, 0.5), (50, 0.2), (135, 0.1), (200, 0.05), (300, 1.0)]:
        w = rng.uniform(-1.0, 1.0, (n, n)) * (rng.random((n, n)) < density)
        want = np.max(np.abs(np.linalg.eigvals(w)))
        got = float(radius(jnp.asarray(w, jnp.float32)))
        assert abs(got / want - 1.0) < 2e-6, (n, density, got, want)
    rotation = jnp.asarray([[0.0, -2.0], [2.0, 0.0]])  # eigenvalues +-2i: no real dominant one
    assert abs(float(radius(rotation)) - 2.0) < 1e-6
    assert float(radius(jnp.triu(jnp.ones((8, 8)), 1))) == 0.0  # nilpotent


def test_sparse_draw_keeps_exactly_the_share_asked_at_uniform_positions() -> None:
    from cellgraph.compiler.sparse import sparse_uniform

    draw = jax.jit(sparse_uniform, static_argnums=(1, 2))
    for density in (0.02, 0.5, 0.9, 1.0):  # 0.9: the dropped positions are drawn instead
        w = draw(jax.random.key(1), (40, 50), density)
        assert int(jnp.count_nonzero(w)) == round(density * 2000)
    keys = jax.random.split(jax.random.key(2), 4000)
    masks = jax.jit(jax.vmap(lambda k: sparse_uniform(k, (4, 5), 0.25) != 0))(keys)
    assert bool(jnp.all(masks.sum(axis=(1, 2)) == 5))
    share = np.asarray(masks.mean(axis=0))  # every position kept in a quarter of the draws
    assert np.all(np.abs(share - 0.25) < 0.03), share  # 4.4 standard errors


LEAKY_SPEC = """
cellgraph: 1
name: leaky
cells:
  x: {type: input, size: 2, sequence: true}
  r: {type: recurrent, size: 6, activation: tanh, leak: 0.3}
  y: {type: output, size: 1, activation: linear}
edges:
  - x -> r -> y
  - r -> r: {density: 0.5, scale: 0.8}
"""


@pytest.mark.parametrize("feedback", [False, True], ids=["layer-wise", "step-wise"])
def test_leaky_units_integrate_a_share_of_each_step(tmp_path: Path, feedback: bool) -> None:
    """``leak: a``: h_t = (1 - a) h_(t-1) + a tanh(x_t W + h_(t-1) U + b), whole sequence or step by step."""
    text = LEAKY_SPEC + ("  - y ~> r\n" if feedback else "")
    model = cellgraph.compile(_write(tmp_path, text))
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(3, 7, 2)).astype(np.float32)
    values, _ = jax.jit(model.forward)(params, x)
    r = {k: np.asarray(v, np.float64) for k, v in params["r"].items()}
    w_out, b_out = (np.asarray(params["y"][k], np.float64) for k in ("kernel", "bias"))
    h, y = np.zeros((3, 6)), np.zeros((3, 1))
    for t in range(7):
        fed = y @ r["from:y"] if feedback else 0.0
        h = 0.7 * h + 0.3 * np.tanh(x[:, t] @ r["w_in"] + h @ r["w_rec"] + r["bias"] + fed)
        y = h @ w_out + b_out
        np.testing.assert_allclose(np.asarray(values["r"])[:, t], h, atol=1e-5)


# ------------------------------------------------------------------------------------ LSM (2.21)

LIF_SPEC = """
cellgraph: 1
name: lif
cells:
  x: {type: input, size: 1, sequence: true}
  r: {type: spiking_hidden, size: 5, tau: 30.0, threshold: 15.0, reset: 13.5, rest: 0.0,
      refractory: 3.0, dt: 0.02, use_bias: false}
  y: {type: output, size: 1, activation: linear}
edges:
  - x -> r -> y
"""


def test_lif_neuron_fires_at_the_analytic_rate(tmp_path: Path) -> None:
    """A constant current I (mV) gives the period t_ref + tau ln((I - reset) / (I - threshold))."""
    model = cellgraph.compile(_write(tmp_path, LIF_SPEC))
    currents = np.array([14.0, 15.5, 18.0, 25.0, 60.0])  # the first stays below threshold
    params = model.init(jax.random.key(0))
    params["r"]["kernel"] = jnp.asarray(currents[None], jnp.float32)
    dt, steps = 0.02, 15000  # 300 ms
    values, _ = jax.jit(model.forward)(params, jnp.ones((1, steps, 1)))
    spikes = np.asarray(values["r"])[0]  # (time, neurons): raw 0/1 spikes, no readout_tau
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    assert spikes[:, 0].sum() == 0
    for i, current in enumerate(currents[1:], start=1):
        times = np.flatnonzero(spikes[:, i]) * dt
        assert len(times) >= 5
        period = 3.0 + 30.0 * math.log((current - 13.5) / (current - 15.0))
        first = 30.0 * math.log(current / (current - 15.0))  # from rest (0 mV) to threshold
        assert abs(np.mean(np.diff(times)) - period) < max(0.01 * period, 2 * dt)
        assert abs(times[0] - first) < 2 * dt


def test_spiking_group_refuses_backprop(tmp_path: Path) -> None:
    text = LIF_SPEC + "train: {rule: backprop, loss: mse}\n"
    with pytest.raises(SpecError, match=r"spec.yaml:6:\d+: .*no gradient, so backprop cannot train 'r'"):
        cellgraph.load_graph(_write(tmp_path, text))


def _ridge_accuracy(features: np.ndarray, labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray) -> float:
    """The same read-out (ridge on one-hot targets, alpha 1e-2) on other features."""
    h = np.c_[features, np.ones(len(features))]
    beta = np.linalg.solve(h.T @ h + 1e-2 * np.eye(h.shape[1]), h.T @ np.eye(2)[labels])
    return float(np.mean((np.c_[test, np.ones(len(test))] @ beta).argmax(-1) == test_labels))


def test_lsm_classifies_spike_patterns_held_out(tmp_path: Path) -> None:
    """ZOO.md 2.21's pass from the spec file: >= 90 % of 200 held-out trains.

    Control: the same read-out solved on the liquid's states with shuffled training labels scores
    near chance (< 75 %) -- asserted. (The raw input spike counts also classify this task: printed,
    not gated, as ZOO.md asks.)"""
    result = cellgraph.train(LSM, progress=False, resume=False)
    ds = _data(LSM)
    assert len(ds.y_test) == 200
    scores = result.predict(ds.x_test)["y"]
    accuracy = float(np.mean(scores.argmax(-1) == ds.y_test))
    assert accuracy >= 0.9, accuracy
    # the liquid really spikes: the read-out's filtered trains at t = 200 ms are not all zero
    values, _ = jax.jit(result.model.forward)(result.params, ds.x_test[:50])
    assert np.mean(np.asarray(values["r"]) > 0) > 0.5
    liquid = jax.jit(lambda x: result.model.forward(result.params, x)[0]["r"])
    states = [np.asarray(liquid(x), np.float64).reshape(len(x), -1) for x in (ds.x_train, ds.x_test)]
    shuffled = np.random.default_rng(0).permutation(np.asarray(ds.y_train))
    assert _ridge_accuracy(states[0], shuffled, states[1], ds.y_test) < 0.75
    # reported, not gated (ZOO 2.21): the same read-out on the raw input spike counts
    raw = _ridge_accuracy(ds.x_train.sum(1), ds.y_train, ds.x_test.sum(1), ds.y_test)
    print(f"LSM held-out accuracy {accuracy:.3f}; ridge on raw input spike counts {raw:.3f}")
    _check_png(view(result, tmp_path / "lsm.png"))


# ------------------------------------------------------------------------------------ ELM (2.22)


def test_elm_fits_sinc_in_one_solve() -> None:
    """ZOO.md 2.22's pass from the spec file: test RMSE < 0.02 after one solve.

    Control: the same network before the solve (its initial read-out) fails it -- asserted."""
    result = cellgraph.train(ELM, progress=False, resume=False)
    assert result.steps == 1  # a single least-squares solve
    ds = _data(ELM)
    predicted = result.predict(ds.x_test)["y"]
    rmse = float(np.sqrt(np.mean((predicted - ds.y_test.reshape(predicted.shape)) ** 2)))
    assert rmse < 0.02, rmse
    before = np.asarray(result.model.apply(result.model.init(jax.random.key(0)), ds.x_test)["y"])
    assert float(np.sqrt(np.mean((before - ds.y_test.reshape(before.shape)) ** 2))) >= 0.02


# ------------------------------------------------------------------------------- refused specs

RIDGE_SPEC = """
cellgraph: 1
name: bad
cells:
  x: {type: input, size: 1, sequence: true}
  r: {type: recurrent, size: 20, activation: tanh, trainable: {trainable}}
  y: {type: output, size: 1, activation: linear}
edges:
  - x -> r -> y
train:
  rule: ridge
  teacher_forcing: {forcing}
data: {source: mackey_glass, steps: 300}
"""


@pytest.mark.parametrize(
    ("trainable", "forcing", "expected"),
    [
        ("true", "false", r"spec.yaml:6:3: cells.r: a read-out rule trains only the output; 'r' would keep"),
        ("false", "true", r"spec.yaml:11:9: train.rule \(ridge\): `teacher_forcing: true` .* no output is fed back"),
    ],
    ids=["trainable-reservoir", "teacher-forcing-without-feedback"],
)
def test_ridge_refuses_what_it_cannot_train(tmp_path: Path, trainable: str, forcing: str, expected: str) -> None:
    text = RIDGE_SPEC.replace("{trainable}", trainable).replace("{forcing}", forcing)
    with pytest.raises(SpecError, match=expected):
        cellgraph.load_graph(_write(tmp_path, text))
