"""Tied weights (`tie: h`): a decoder computing with the transpose of its encoder's weight matrix,
owning only its bias -- counted once, gradients of both uses added into one matrix, refused where
the shapes do not mirror, drawn and summarised, and a tied linear auto encoder as good as PCA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from conftest import EXAMPLES

import cellgraph
from cellgraph.data import load_dataset
from cellgraph.errors import SpecError

SPEC = EXAMPLES / "tied_linear_ae.yaml"


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[str], **more: Any) -> Path:
    path = tmp_path / "net.yaml"
    text = yaml.safe_dump({"cellgraph": 1, "name": "net", "cells": cells, "edges": edges, **more}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


AE = {
    "x": {"type": "input", "size": 6},
    "h": {"type": "hidden", "size": 3, "activation": "tanh"},
    "y": {"type": "output", "size": 6, "activation": "linear", "tie": "h"},
}


def test_the_decoder_computes_with_the_encoders_matrix_transposed(tmp_path: Path) -> None:
    model = cellgraph.compile(_spec(tmp_path, AE, ["x -> h -> y"]))
    params = model.init(jax.random.key(0))
    assert set(params["y"]) == {"bias"}  # no matrix of its own
    assert sum(a.size for a in jax.tree.leaves(params)) == model.graph.graph["params"]["total"] == 6 * 3 + 3 + 6
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    h = np.tanh(x @ np.asarray(params["h"]["kernel"]) + np.asarray(params["h"]["bias"]))
    want = h @ np.asarray(params["h"]["kernel"]).T + np.asarray(params["y"]["bias"])
    np.testing.assert_allclose(model.apply(params, x)["y"], want, rtol=1e-5, atol=1e-6)


def test_the_gradients_of_both_uses_add_into_the_one_matrix(tmp_path: Path) -> None:
    """d loss / d W of the tied network equals the untied network's encoder gradient plus the
    transpose of its decoder gradient, both evaluated where the decoder's matrix is W transposed."""
    tied = cellgraph.compile(_spec(tmp_path, AE, ["x -> h -> y"]))
    free = cellgraph.compile(
        _spec(tmp_path, {**AE, "y": {k: v for k, v in AE["y"].items() if k != "tie"}}, ["x -> h -> y"])
    )
    params = tied.init(jax.random.key(0))
    untied = {**params, "y": {**params["y"], "kernel": params["h"]["kernel"].T}}
    x = jnp.asarray(np.random.default_rng(1).normal(size=(8, 6)), jnp.float32)

    def loss(model: Any) -> Any:
        return lambda p: jnp.mean((model.apply(p, x)["y"] - x) ** 2)

    g_tied = jax.grad(loss(tied))(params)
    g_free = jax.grad(loss(free))(untied)
    np.testing.assert_allclose(
        g_tied["h"]["kernel"], g_free["h"]["kernel"] + g_free["y"]["kernel"].T, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(g_tied["y"]["bias"], g_free["y"]["bias"], rtol=1e-5, atol=1e-7)


def test_the_tied_linear_auto_encoder_matches_pca_held_out() -> None:
    """specs/examples/tied_linear_ae.yaml: with half the weights, within 2 % of a 2-component PCA's
    held-out error, as the untied one (tests/test_learning.py)."""
    result = cellgraph.train(SPEC, progress=False, resume=False)
    data = load_dataset(result.model.spec.data, SPEC.parent)
    mean = data.x_train.mean(axis=0)
    basis = np.linalg.svd(data.x_train - mean, full_matrices=False)[2][:2].T
    pca = np.mean(((data.x_test - mean) @ basis @ basis.T + mean - data.x_test) ** 2)
    tied = np.mean((result.predict(data.x_test)["y"] - data.x_test) ** 2)
    assert tied <= 1.02 * pca, (tied, pca)
    w = np.asarray(result.params["h"]["kernel"])  # (8, 2): tied, it learns an orthonormal basis
    np.testing.assert_allclose(w.T @ w, np.eye(2), atol=0.05)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"y": {**AE["y"], "size": 5}}, "'h''s matrix is 6 x 3"),
        ({"y": {**AE["y"], "tie": "nope"}}, "no such group"),
        ({"y": {**AE["y"], "tie": "y"}}, "its own matrix"),
        ({"h": {**AE["h"], "activation": "gaussian"}}, "no plain dense weight matrix"),
    ],
)
def test_a_tie_that_cannot_mirror_is_a_located_error(tmp_path: Path, change: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError) as caught:
        cellgraph.load_graph(_spec(tmp_path, {**AE, **change}, ["x -> h -> y"]))
    text = caught.value.format()
    assert words in text and "cells.y.tie" in text and "fix:" in text


def test_summary_and_both_views_say_whose_weights(run_cli: Any, tmp_path: Path) -> None:
    path = _spec(tmp_path, AE, ["x -> h -> y"])
    shown = run_cli("summary", path)
    assert shown.code == 0 and "uses h's weights, transposed" in shown.out and "total: 27 parameters" in shown.out
    for view in ("cells", "layers"):
        out = tmp_path / f"{view}.svg"
        assert run_cli("render", path, "--view", view, "-o", out).code == 0
        assert "h&#39;s weights, transposed" in out.read_text(
            encoding="utf-8"
        ) or "h's weights, transposed" in out.read_text(encoding="utf-8")
