"""The Kohonen map (ZOO.md 2.28) trains with its own online rule, `rule: som`.

* From its spec file, a 10x10 map on 2000 uniform points of the unit square, 10,000 online
  steps, has quantisation error < 0.06 and topographic error < 0.05 on the 1000 held-out points
  in several seeds -- both computed here, with NumPy, from the trained weights.
* The rule is not the zoo spec's: a 1-D chain of units on points of a ring (a spec written here,
  data given as an array) unfolds around the ring in order.
* The schedules live in the rule's state: a run interrupted and resumed ends where an unbroken one
  does; ``steps`` counts single-point updates, also when it is not a whole number of passes.
* ``model.predict`` gives each unit's distance to the input; a grid that does not lay out the map
  is refused at ``train.grid``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from conftest import ZOO
from test_train_loop import same_tree

import cellgraph
from cellgraph.compiler.som import winners
from cellgraph.data import load_dataset
from cellgraph.errors import SpecError
from cellgraph.train import StepInfo, TrainingInterrupted

KN = ZOO / "kn.yaml"


def _distances(kernel: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(n, units) distances from each input to each unit's weights (the kernel's columns)."""
    return np.linalg.norm(x[:, :, None] - kernel[None, :, :], axis=1)


def _errors(kernel: np.ndarray, x: np.ndarray, cols: int) -> tuple[float, float]:
    """The oracle: (quantisation error, topographic error, diagonals counting as neighbours)."""
    d = _distances(np.asarray(kernel, np.float64), np.asarray(x, np.float64))
    order = np.argsort(d, axis=1)
    best, second = order[:, 0], order[:, 1]
    apart = np.maximum(np.abs(best // cols - second // cols), np.abs(best % cols - second % cols))
    return float(d[np.arange(len(x)), best].mean()), float((apart > 1).mean())


@pytest.fixture(scope="module")
def held_out() -> np.ndarray:
    data = load_dataset(cellgraph.load_spec(KN).data)
    assert data.x_train.shape == (2000, 2) and data.x_test.shape == (1000, 2)
    return np.asarray(data.x_test, np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_zoo_map_covers_the_square_in_order(seed: int, held_out: np.ndarray) -> None:
    """ZOO.md 2.28's pass from the spec file, on three seeds.

    Controls, asserted: the untrained map (its initial weights) misses the QE pass, and the trained
    units dealt to shuffled grid places keep their QE but miss the TE pass (TE sees the order)."""
    result = cellgraph.train(KN, seed=seed, progress=False)
    kernel = np.asarray(result.params["m"]["kernel"])  # (2, 100): one column per map unit
    qe, te = _errors(kernel, held_out, cols=10)
    assert qe < 0.06 and te < 0.05, (qe, te)
    start = np.asarray(result.model.init(jax.random.key(seed))["m"]["kernel"])
    assert _errors(start, held_out, cols=10)[0] >= 0.06
    shuffled = kernel[:, np.random.default_rng(seed).permutation(kernel.shape[1])]
    assert _errors(shuffled, held_out, cols=10)[1] >= 0.05
    assert result.metrics["quantization_error"] == pytest.approx(qe, rel=1e-4)  # the scoring agrees
    assert result.metrics["topographic_error"] == pytest.approx(te, abs=1e-6)
    assert int(result.state.rule_state["t"]) == 10_000 and result.steps == 5  # 5 passes of 2000 points


def test_predict_gives_each_units_distance_and_winners_its_place(held_out: np.ndarray) -> None:
    result = cellgraph.train(KN, steps=2000, progress=False)
    kernel = np.asarray(result.params["m"]["kernel"])
    distances = result.predict(held_out[:50])["m"]
    np.testing.assert_allclose(distances, _distances(kernel, held_out[:50]), rtol=1e-5, atol=1e-6)
    won = winners(result.model.graph, result.params, held_out[:50])
    assert np.array_equal(won[:, 0], distances.argmin(axis=1))
    assert np.array_equal(won[:, 1:], np.stack(np.divmod(won[:, 0], 10), axis=1))  # row by row


def _classic_pass(w: np.ndarray, x: np.ndarray, t0: int, total: int) -> np.ndarray:
    """The oracle: Kohonen's online rule written out in float64, one point after another."""
    places = np.stack(np.divmod(np.arange(len(w)), 10), axis=1).astype(np.float64)
    w = np.array(w, np.float64)
    for t, point in enumerate(x, start=t0):
        frac = t / (total - 1)
        sigma, alpha = 5.0 * (0.5 / 5.0) ** frac, 0.5 * (0.01 / 0.5) ** frac
        c = np.argmin(((w - point) ** 2).sum(axis=1))
        h = np.exp(-((places - places[c]) ** 2).sum(axis=1) / (2 * sigma**2))
        w += alpha * h[:, None] * (point - w)
    return w


def test_the_rule_is_kohonens_online_rule_point_by_point() -> None:
    """The second pass of a 4000-point run, from the weights the first one left, against the
    oracle visiting the loop's order for that pass (``default_rng([seed, 1])``)."""
    kernels: list[np.ndarray] = []
    cellgraph.train(
        KN,
        steps=4000,
        progress=False,
        on_step=lambda info: kernels.append(np.asarray(info.state.params["m"]["kernel"])),
    )
    x = np.asarray(load_dataset(cellgraph.load_spec(KN).data).x_train, np.float64)
    order = np.random.default_rng([0, 1]).permutation(len(x))
    expected = _classic_pass(kernels[0].T, x[order], 2000, 4000)
    np.testing.assert_allclose(kernels[1].T, expected, atol=2e-5)
    assert np.abs(kernels[1] - kernels[0]).max() > 1e-3  # the pass did move the map


RING_SPEC = """\
cellgraph: 1
name: ring
cells:
  p: {type: input, size: 2}
  chain: {type: hidden, size: 24, activation: linear, use_bias: false}
edges:
  - p -> chain
train: {rule: som, grid: "24x1", sigma: 6.0, sigma_end: 0.5, alpha: 0.5, alpha_end: 0.02, steps: 6000}
"""


def _ring(n: int, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1.0 + rng.normal(0, 0.02, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)


def test_a_chain_of_units_unfolds_around_a_ring(tmp_path: Path) -> None:
    """A spec of its own and data of its own: 24 units in a row on a ring of radius 1 end up on
    the ring (near it: the ring's thickness is 0.02), each next to the one before it in turn
    (their angles go round monotonically), covering the ring with no big gap."""
    path = tmp_path / "ring.yaml"
    path.write_text(RING_SPEC, encoding="utf-8")
    rng = np.random.default_rng(0)
    result = cellgraph.train(path, (_ring(1500, rng),), test_data=(_ring(500, rng),), progress=False)
    units = np.asarray(result.params["chain"]["kernel"]).T  # (24, 2)
    assert np.all(np.abs(np.linalg.norm(units, axis=1) - 1.0) < 0.1)
    steps = np.diff(np.unwrap(np.arctan2(units[:, 1], units[:, 0])))
    assert np.all(steps > 0) or np.all(steps < 0), np.round(steps, 3)  # in order round the ring
    assert np.abs(steps).max() < 3 * 2 * np.pi / 24  # no unit far from the one before it
    qe, te = _errors(units.T, _ring(500, rng), cols=1)
    assert qe < 0.1 and te < 0.05, (qe, te)


def _interrupt_at(step: int) -> Callable[[StepInfo], None]:
    def callback(info: StepInfo) -> None:
        if info.step == step:
            raise KeyboardInterrupt

    return callback


def test_a_resumed_map_ends_where_an_unbroken_one_does(tmp_path: Path) -> None:
    """Interrupted after 2 of 5 passes: sigma and alpha must go on from point 4000, not restart."""

    def train(**kwargs: Any) -> cellgraph.train.TrainResult:
        return cellgraph.train(KN, progress=False, **kwargs)

    whole = train()
    with pytest.raises(TrainingInterrupted):
        train(checkpoint_dir=tmp_path, on_step=_interrupt_at(2))
    resumed = train(checkpoint_dir=tmp_path)
    assert resumed.resumed_at == 2 and int(resumed.state.rule_state["t"]) == 10_000
    assert same_tree(resumed.params, whole.params) and resumed.history == whole.history


def test_steps_count_points_also_past_a_whole_pass() -> None:
    """4500 points of 2000 a pass: three passes, the third one cut short by the rule, and the
    schedules reach their end values on the 4500th point."""
    result = cellgraph.train(KN, steps=4500, progress=False)
    assert result.steps == 3 and int(result.state.rule_state["t"]) == 4500
    assert result.history[-1]["train_sigma"] == pytest.approx(0.5)
    assert result.history[-1]["train_alpha"] == pytest.approx(0.01)


def _problems(tmp_path: Path, text: str) -> list[Any]:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        cellgraph.train(path, (np.zeros((10, 2), np.float32),), progress=False)
    return list(info.value.problems)


def test_a_grid_that_does_not_lay_out_the_map_is_refused_at_its_line(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, RING_SPEC.replace('grid: "24x1"', 'grid: "5x5"'))
    assert problem.path == "train.grid" and problem.loc.line == 8
    assert "a 5x5 grid has 25 places but the map group 'chain' has 24 units" in problem.message
    assert "rows * cols = 24" in problem.fix
    (problem,) = _problems(tmp_path, RING_SPEC.replace('grid: "24x1"', 'grid: "24 by 1"'))
    assert problem.path == "train.grid" and "expected 'ROWSxCOLS'" in problem.message
    (problem,) = _problems(tmp_path, RING_SPEC.replace('grid: "24x1", ', ""))  # no grid: 24 is no square
    assert problem.path == "train.rule" and "24 units make no square grid" in problem.message


def test_a_map_fed_in_minibatches_or_with_a_second_layer_is_refused(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, RING_SPEC.replace("6000}", "6000, batch_size: 8}"))
    assert problem.path == "train.batch_size" and "online, one point per step" in problem.message
    text = RING_SPEC.replace("  - p -> chain", "  - p -> chain -> y").replace(
        "edges:", "  y: {type: output, size: 1}\nedges:"
    )
    (problem,) = _problems(tmp_path, text)
    assert problem.path == "cells.y" and "'y' would stay untrained" in problem.message


def test_the_view_draws_the_map_over_its_data(tmp_path: Path) -> None:
    """The elastic net and the U-matrix, for the zoo map and for 3-D colours (drawn on their
    principal axes); the title's errors are the held-out ones."""
    from cellgraph.views.som import u_matrix, view

    result = cellgraph.train(KN, steps=2000, progress=False)
    png = view(result, tmp_path / "kn.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    colours = np.random.default_rng(0).uniform(0, 1, (600, 3)).astype(np.float32)
    path = tmp_path / "colours.yaml"
    path.write_text(
        RING_SPEC.replace("size: 2}", "size: 3}").replace('grid: "24x1"', 'grid: "4x6"').replace("6000", "1200"),
        encoding="utf-8",
    )
    three = cellgraph.train(path, (colours,), progress=False)
    assert view(three, tmp_path / "colours.png", data=colours).exists()
    flat = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 2.0]])  # a 2x2 grid, rows 2 apart
    np.testing.assert_allclose(u_matrix(flat, 2, 2), np.full((2, 2), 1.5))


def test_the_batch_map_option_is_kohonens_batch_rule(tmp_path: Path, held_out: np.ndarray) -> None:
    """`batch: true`: 10 passes of the zoo's points meet the same criterion, and a pass sets
    each unit to the neighbourhood-weighted mean of the points (the oracle: NumPy, any order)."""
    path = tmp_path / "kn_batch.yaml"
    path.write_text(KN.read_text(encoding="utf-8").replace("  seed: 0\n", "  seed: 0\n  batch: true\n"), "utf-8")
    kernels: list[np.ndarray] = []
    result = cellgraph.train(
        path,
        steps=20_000,
        progress=False,
        on_step=lambda info: kernels.append(np.asarray(info.state.params["m"]["kernel"])),
    )
    qe, te = _errors(np.asarray(result.params["m"]["kernel"]), held_out, cols=10)
    assert qe < 0.06 and te < 0.05, (qe, te)
    x = np.asarray(load_dataset(cellgraph.load_spec(KN).data).x_train, np.float64)
    w = kernels[-2].T.astype(np.float64)  # (units, d) before the last pass, whose first point is 18,000
    sigma = 5.0 * (0.5 / 5.0) ** (18_000 / 19_999)
    places = np.stack(np.divmod(np.arange(100), 10), axis=1)
    c = np.argmin(((x[:, None, :] - w[None]) ** 2).sum(-1), axis=1)
    h = np.exp(-((places[c][:, None, :] - places[None]) ** 2).sum(-1) / (2 * sigma**2))  # (n, units)
    np.testing.assert_allclose(kernels[-1].T, (h.T @ x) / h.sum(0)[:, None], atol=1e-5)
