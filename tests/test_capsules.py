"""Capsules (ZOO.md 2.27, Sabour et al. 2017): squash, routing by agreement and the margin loss.

Gradient checks compare ``jax.grad`` with central finite differences in float64 on small random
inputs (the whole routing procedure, 3 iterations); the semantics tests check what the paper
says each operation does; the learning test trains ``specs/zoo/cn.yaml`` as written and scores
ZOO.md's pass from the trained network's own capsule lengths on the held-out split.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ZOO

import cellgraph
from cellgraph import SpecError, build_graph, load_spec_text
from cellgraph.compiler.capsule import decoder_mask, lengths, predictions, route, squash
from cellgraph.compiler.losses import OUTPUT_LOSSES
from cellgraph.data import load_dataset
from cellgraph.graph.capsules import class_capsules

MARGIN = {"m_plus": 0.9, "m_minus": 0.1, "down_weight": 0.5}


def _grad_check(f: Callable[[jax.Array], jax.Array], x: np.ndarray, eps: float = 1e-6, tol: float = 1e-6) -> None:
    """jax.grad of the scalar ``f`` at ``x`` against central differences, every coordinate, float64."""
    with jax.enable_x64(True):
        x64 = jnp.asarray(x, jnp.float64)
        analytic = np.asarray(jax.grad(f)(x64))
        f = jax.jit(f)
        flat = np.asarray(x, np.float64).ravel()
        numeric = np.empty_like(flat)
        for i in range(flat.size):
            up, down = flat.copy(), flat.copy()
            up[i] += eps
            down[i] -= eps
            numeric[i] = (float(f(jnp.asarray(up.reshape(x.shape)))) - float(f(jnp.asarray(down.reshape(x.shape))))) / (
                2 * eps
            )
    assert analytic.dtype == np.float64
    np.testing.assert_allclose(analytic.ravel(), numeric, rtol=tol, atol=tol)


# ------------------------------------------------------------------------------ gradient checks


def test_squash_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    s = rng.normal(size=(3, 4, 5))
    weights = rng.normal(size=s.shape)
    _grad_check(lambda s: jnp.sum(jnp.asarray(weights) * squash(s)), s)


def test_routing_gradient_matches_finite_differences() -> None:
    """The whole procedure, 3 iterations: through the couplings' softmaxes and every agreement."""
    rng = np.random.default_rng(1)
    u_hat = rng.normal(size=(2, 5, 3, 4))  # batch, children, parents, dim
    weights = rng.normal(size=(2, 3, 4))
    _grad_check(lambda u: jnp.sum(jnp.asarray(weights) * route(u, 3)[0]), u_hat)


def test_routed_layer_gradient_in_its_transforms() -> None:
    """Through ``u_hat = W u`` as well: the gradient the optimizer sees for the transforms."""
    rng = np.random.default_rng(2)
    u = rng.normal(size=(2, 4, 3)) * 0.5  # batch, children, in_dim
    w = rng.normal(size=(4, 3, 3, 2))  # children, parents, in_dim, out_dim
    weights = rng.normal(size=(2, 3, 2))
    _grad_check(lambda w: jnp.sum(jnp.asarray(weights) * route(predictions(jnp.asarray(u), w), 3)[0]), w)


def test_margin_loss_gradient_matches_finite_differences() -> None:
    """Sabour et al.'s eq. 4 on the lengths of squashed capsules, in the capsule vectors."""
    rng = np.random.default_rng(3)
    s = rng.normal(size=(4, 5, 3))  # batch, classes, dim: lengths spread over both margins
    labels = np.array([0, 3, 1, 4])
    margin = OUTPUT_LOSSES["margin"]

    def loss(s: jax.Array) -> jax.Array:
        lens = lengths(squash(s))
        return margin(lens, lens, jnp.asarray(labels), "linear", MARGIN)

    _grad_check(loss, s)


def test_margin_loss_value_by_hand() -> None:
    lens = jnp.array([[0.95, 0.3, 0.05], [0.5, 0.2, 0.7]])
    labels = jnp.array([0, 2])
    # example 0: true 0.95 >= 0.9 -> 0; others 0.3 -> 0.5 * 0.2^2 = 0.02, 0.05 -> 0
    # example 1: true 0.7 -> 0.2^2 = 0.04; others 0.5 -> 0.5 * 0.4^2 = 0.08, 0.2 -> 0.5 * 0.1^2 = 0.005
    want = (0.02 + 0.04 + 0.08 + 0.005) / 2
    got = float(OUTPUT_LOSSES["margin"](lens, lens, labels, "linear", MARGIN))
    assert got == pytest.approx(want, rel=1e-6)


# ----------------------------------------------------------------------------------- semantics


def test_squash_keeps_direction_and_shrinks_length_below_one() -> None:
    rng = np.random.default_rng(4)
    s = jnp.asarray(rng.normal(size=(50, 6)) * rng.uniform(0.01, 5.0, size=(50, 1)), jnp.float32)
    v = squash(s)
    n_s, n_v = jnp.linalg.norm(s, axis=-1), jnp.linalg.norm(v, axis=-1)
    cosine = jnp.sum(s * v, axis=-1) / (n_s * n_v)
    assert np.allclose(cosine, 1.0, atol=1e-5)
    assert np.all(n_v < 1.0)
    assert np.allclose(n_v, n_s**2 / (1 + n_s**2), rtol=1e-5)
    long = squash(jnp.array([[300.0, 400.0]]))  # length 500
    assert float(jnp.linalg.norm(long)) == pytest.approx(1.0, abs=1e-5)
    short = squash(jnp.array([[1e-3, 0.0]]))
    assert float(jnp.linalg.norm(short)) == pytest.approx(1e-6, rel=1e-3)
    assert np.all(np.isfinite(np.asarray(jax.grad(lambda s: squash(s).sum())(jnp.zeros((2, 3))))))


def test_identical_predictions_keep_the_coupling_uniform() -> None:
    """Every child predicts the same vector for every parent: no parent agrees more, c stays 1/parents."""
    rng = np.random.default_rng(5)
    one = rng.normal(size=(2, 1, 1, 4))
    u_hat = jnp.asarray(np.broadcast_to(one, (2, 6, 3, 4)), jnp.float32)
    _, _, coupling = route(u_hat, 3)
    assert np.allclose(coupling, 1 / 3, atol=1e-6)


def test_agreement_raises_the_coupling_to_the_agreed_parent() -> None:
    """Children that agree on parent 0's pose and scatter on parent 1's couple to parent 0, more so
    with every iteration; the agreed parent's output is the longer."""
    rng = np.random.default_rng(6)
    children, dim = 8, 4
    agreed = np.broadcast_to(rng.normal(size=(1, 1, dim)), (1, children, dim))
    scattered = rng.normal(size=(1, children, dim))
    u_hat = jnp.asarray(np.stack([agreed, scattered], axis=2), jnp.float32)  # (1, children, 2, dim)
    to_agreed = [float(route(u_hat, r)[2][0, :, 0].mean()) for r in (1, 2, 3)]
    assert to_agreed[0] == pytest.approx(0.5)
    assert to_agreed[0] < to_agreed[1] < to_agreed[2]
    v, _, _ = route(u_hat, 3)
    assert float(jnp.linalg.norm(v[0, 0])) > float(jnp.linalg.norm(v[0, 1]))


def test_decoder_mask_keeps_the_labelled_or_the_longest_capsule() -> None:
    v = jnp.asarray(np.random.default_rng(7).normal(size=(3, 4, 2)), jnp.float32)
    longest = np.argmax(np.linalg.norm(np.asarray(v), axis=-1), axis=-1)
    tested = decoder_mask(v, None)
    labelled = decoder_mask(v, jnp.array([1, 2, 3]))
    for b in range(3):
        for j in range(4):
            assert np.allclose(tested[b, j], v[b, j] if j == longest[b] else 0.0)
            assert np.allclose(labelled[b, j], v[b, j] if j == b + 1 else 0.0)


# ------------------------------------------------------------------------------- the network


def test_cn_compiles_with_the_registry_shapes_and_parameter_count() -> None:
    path = ZOO / "cn.yaml"
    graph = cellgraph.load_graph(path)
    model = cellgraph.compile(path)
    params = model.init(jax.random.key(0))
    assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params)) == graph.graph["params"]["total"]
    assert params["q"]["transform"].shape == (6 * 6 * 8, 16, 4, 6)  # one W_ij per capsule pair, no bias
    assert "bias" not in params["q"] and "bias" not in params["s"]
    x = np.random.default_rng(8).uniform(size=(5, 8, 8, 1)).astype(np.float32)
    out = model.predict(params, x)
    assert out["s"].shape == (5, 10, 8) and out["y"].shape == (5, 64)
    assert np.all(np.linalg.norm(out["s"], axis=-1) < 1.0)
    assert class_capsules(graph) == "s" and model.targets == ("s",)


def test_decoder_sees_the_true_class_while_training() -> None:
    """The reconstruction loss trains on the labelled capsule: with the same inputs, a training
    pass whose labels are the longest capsules' gives the evaluation pass's reconstruction."""
    model = cellgraph.compile(ZOO / "cn.yaml")
    params = model.init(jax.random.key(1))
    x = np.random.default_rng(9).uniform(size=(6, 8, 8, 1)).astype(np.float32)
    values, _ = model.forward(params, x)
    longest = np.argmax(np.linalg.norm(np.asarray(values["s"]), axis=-1), axis=-1)
    other = (longest + 1) % 10
    same, _ = model.forward(params, x, train=True, labels={"s": jnp.asarray(longest)})
    moved, _ = model.forward(params, x, train=True, labels={"s": jnp.asarray(other)})
    assert np.allclose(same["y"], values["y"], atol=1e-6)
    assert not np.allclose(moved["y"], values["y"], atol=1e-3)
    assert np.allclose(moved["s"], values["s"])  # the class capsules themselves are never masked


HEADER = "cellgraph: 1\nname: t\n"
TWO_CHAINS = """
cells:
  x: {type: input, shape: [6, 6, 1]}
  p: {type: capsule, types: 2, dim: 4, window: 3}
  a: {type: capsule, size: 3, dim: 4}
  b: {type: capsule, size: 3, dim: 4}
  y: {type: output, size: 36, activation: sigmoid, target: x}
edges:
  - x -> p -> a -> y
  - p -> b
train:
  loss: {name: margin%s}
"""


def _errors(body: str) -> str:
    with pytest.raises(SpecError) as err:
        build_graph(load_spec_text(HEADER + textwrap.dedent(body), "t.yaml"))
    return str(err.value)


def test_two_capsule_chain_ends_need_labels_named() -> None:
    message = _errors(TWO_CHAINS % "")
    assert "t.yaml:" in message and "train.loss" in message and "labels: b" in message
    graph = build_graph(load_spec_text(HEADER + textwrap.dedent(TWO_CHAINS % ", labels: a"), "t.yaml"))
    assert class_capsules(graph) == "a"


@pytest.mark.parametrize(("name", "says"), [("z", "unknown group 'z'"), ("y", "'y' (output) is no capsule group")])
def test_labels_must_name_a_capsule_group(name: str, says: str) -> None:
    message = _errors(TWO_CHAINS % f", labels: {name}")
    assert "train.loss.labels" in message and says in message and "name a capsule group: p, a, b" in message


# ------------------------------------------------------------------------------------- learning


def _capsule_lengths(path: Path, params: dict, x: np.ndarray) -> np.ndarray:
    """The class capsules' lengths, (examples, classes), from the trained network's own forward pass."""
    model = cellgraph.compile(path)
    return np.linalg.norm(model.predict(params, x)["s"], axis=-1)


@pytest.mark.slow
def test_cn_reaches_zoo_criterion_on_held_out_digits() -> None:
    """ZOO.md 2.27: >= 95% held-out accuracy by the longest class capsule, and lengths that behave
    as probabilities -- mean length of the true class > 0.8, of the others < 0.2.

    Control: the same network untrained (the spec's initial parameters) classifies near chance
    (under 50 %) by its capsule lengths."""
    path = ZOO / "cn.yaml"
    result = cellgraph.train(path, progress=False)
    ds = load_dataset(cellgraph.load_spec(path).data, path.parent)
    lens = _capsule_lengths(path, result.params, ds.x_test)
    y = np.asarray(ds.y_test)
    untrained = _capsule_lengths(path, result.model.init(jax.random.key(0)), ds.x_test)
    assert float(np.mean(np.argmax(untrained, axis=-1) == y)) < 0.5  # the control
    rows = np.arange(len(y))
    accuracy = float(np.mean(np.argmax(lens, axis=-1) == y))
    true_mean = float(lens[rows, y].mean())
    others = np.ones_like(lens, bool)
    others[rows, y] = False
    other_mean = float(lens[others].mean())
    assert accuracy >= 0.95, accuracy
    assert true_mean > 0.8, true_mean
    assert other_mean < 0.2, other_mean


def test_capsule_view_draws_lengths_and_reconstructions(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from cellgraph.views.capsules import view

    model = cellgraph.compile(ZOO / "cn.yaml")
    result = SimpleNamespace(model=model, params=model.init(jax.random.key(0)))
    rng = np.random.default_rng(10)
    drawn = view(result, tmp_path / "cn.png", data=(rng.uniform(size=(3, 8, 8, 1)), np.array([0, 1, 2])))
    assert drawn.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(cellgraph.CellgraphError, match="unknown option"):
        view(result, tmp_path / "x.png", colour="red")
