"""Kulkarni et al.'s training scheme (`train.factors`) on a small code network of a user's own.

The DCIGN meeting ZOO.md's criterion with it is in test_learning.py; here: each batch the loop
draws varies one factor only, the decoder reads the code with every other unit at its batch mean,
the clamped units are pulled to that mean, evaluation is the plain pass, and a spec or data set
that cannot use the scheme is refused where it is written.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

import cellgraph
from cellgraph.compiler.factors import make_factor_clamp
from cellgraph.errors import SpecError
from cellgraph.train.rules.backprop import FactorOrder

SPEC = """\
cellgraph: 1
name: squares_code
cells:
  x: {{type: input, shape: [8, 8, 1]}}
  h: {{type: hidden, size: 32, activation: relu}}
  z: {{type: probabilistic_hidden, distribution: gaussian, size: 3}}
  d: {{type: hidden, size: 32, activation: relu}}
  y: {{type: output, shape: [8, 8, 1], activation: sigmoid, target: x}}
edges: [x -> h -> z -> d -> y]
train:
  loss: {{name: elbo, error: bce}}
  factors: {factors}
  optimizer: {{name: adam, learning_rate: 3.0e-3}}
  epochs: 2
  batch_size: 32
  seed: 0
data: {{source: moving_squares, n: 400, size: 8, split: {{test: 0.25, seed: 0}}}}
"""


def _spec(tmp_path: Path, factors: str = "{code: z, units: {x: 0, size: 1}}") -> Path:
    path = tmp_path / "squares_code.yaml"
    path.write_text(SPEC.format(factors=factors))
    return path


def test_every_batch_varies_one_factor_and_holds_the_others() -> None:
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, 9, 500), rng.integers(2, 5, 500)], axis=1).astype(np.float32)
    order = FactorOrder(factors, 32)
    perm = order(3, 1, 500)
    assert perm.shape == (500,) and perm.dtype == np.int32
    assert np.array_equal(perm, order(3, 1, 500)) and not np.array_equal(perm, order(3, 2, 500))
    varied = []
    for start in range(0, 500, 32):
        block = factors[perm[start : start + 32]]
        moving = np.ptp(block, axis=0) > 0
        assert moving.sum() <= 1  # one factor varies, the other is held
        varied.append(int(np.argmax(moving)))
    assert set(varied) == {0, 1}  # both factors get their batches


def test_the_decoder_reads_the_code_clamped_to_its_batch_mean_but_the_free_unit(tmp_path: Path) -> None:
    model = cellgraph.compile(_spec(tmp_path))
    clamp = make_factor_clamp(model.graph, {"code": "z", "units": {"x": 0, "size": 1}})
    assert clamp is not None and clamp.downstream == {"d", "y"}
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype(np.float32)
    factors = np.stack([np.arange(16) % 5, np.full(16, 3)], axis=1).astype(np.float32)  # x varies
    values, _, penalty = clamp(model.forward, params, {"x": x}, factors, jax.random.key(1), {})
    z = np.asarray(values["z"]).reshape(16, 3)
    clamped = np.concatenate([z[:, :1], np.broadcast_to(z[:, 1:].mean(axis=0), (16, 2))], axis=1)
    w = params["d"]
    want = np.maximum(clamped @ np.asarray(w["kernel"]) + np.asarray(w["bias"]), 0.0)
    np.testing.assert_allclose(np.asarray(values["d"]), want, rtol=1e-5, atol=1e-5)
    deviation = z[:, 1:] - z[:, 1:].mean(axis=0)
    assert float(penalty) == pytest.approx(0.5 * np.mean(np.sum(deviation**2, axis=1)), rel=1e-5)
    # a batch that varies size frees unit 1 instead
    sizes = np.stack([np.full(16, 2), np.arange(16) % 3 + 2], axis=1).astype(np.float32)
    values, _, _ = clamp(model.forward, params, {"x": x}, sizes, jax.random.key(1), {})
    z = np.asarray(values["z"]).reshape(16, 3)
    clamped = np.stack([np.full(16, z[:, 0].mean()), z[:, 1], np.full(16, z[:, 2].mean())], axis=1)
    want = np.maximum(clamped @ np.asarray(w["kernel"]) + np.asarray(w["bias"]), 0.0)
    np.testing.assert_allclose(np.asarray(values["d"]), want, rtol=1e-5, atol=1e-5)


def test_training_uses_the_scheme_and_evaluation_the_plain_pass(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    result = cellgraph.train(path, progress=False, resume=False)
    assert "train_clamp_penalty" in result.history[0]  # training batches carried their factors
    assert "clamp_penalty" not in result.metrics  # the held-out score is the plain ELBO
    batch = result.model.batch(np.zeros((4, 8, 8, 1), np.float32))
    plain = result.model.loss(result.params, batch, None)[0]
    with_factors = result.model.loss(result.params, {**batch, "factors": np.zeros((4, 2))}, None)[0]
    assert float(plain) == float(with_factors)


@pytest.mark.parametrize(
    ("factors", "words"),
    [
        ("{code: h, units: {x: 0}}", "not a Gaussian code"),
        ("{code: z, units: {x: 3}}", "beyond the code's 3 units"),
        ("{code: q, units: {x: 0}}", "names no group"),
        ("{code: z, units: {x: 0, size: 0}}", "a unit of its own"),
    ],
)
def test_a_bad_factors_block_is_located(tmp_path: Path, factors: str, words: str) -> None:
    path = _spec(tmp_path, factors)
    with pytest.raises(SpecError) as err:
        cellgraph.load_graph(path)
    assert any(words in p.message for p in err.value.problems), str(err.value)
    assert all(p.loc.file == str(path) and p.loc.line > 0 for p in err.value.problems)


def test_data_without_the_named_factor_is_refused_at_train_factors(tmp_path: Path) -> None:
    path = _spec(tmp_path, "{code: z, units: {x: 0, colour: 1}}")
    with pytest.raises(SpecError) as err:
        cellgraph.train(path, progress=False, resume=False)
    (problem,) = err.value.problems
    assert problem.path == "train.factors" and "colour" in problem.message and problem.loc.line == 12
