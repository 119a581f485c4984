"""The training benchmark compares like with like: every contender builds the same network.

bench/train_bench.py's ratios mean something only if the hand-written JAX, Flax and PyTorch
versions have exactly the parameters of the compiled spec and read the same batches. This checks
the parameter counts (shapes only, nothing trained) and the batch shapes; PyTorch and Keras 3
are checked when they are installed (optional benchmark dependencies).
"""

from __future__ import annotations

import importlib.util
import math
import sys

import jax
import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import hand_flax
import hand_jax
import workloads

import cellgraph

NAMES = [w.name for w in workloads.WORKLOADS]


def _count(tree: object) -> int:
    return sum(math.prod(a.shape) for a in jax.tree_util.tree_leaves(tree))


def _library_biases(w: workloads.Workload, library: str) -> int:
    """Bias vectors the libraries' own recurrent cells add to the spec's (one bias per gate):
    PyTorch's LSTM and GRU keep a second bias for the recurrent product, Flax's GRUCell one for
    the candidate's (h U_h + b), Keras's GRU (reset_after) a second bias per gate. A few hundred
    additions per step, no matmul: the same network."""
    if w.family not in ("lstm", "gru"):
        return 0
    gates, n = (4 if w.family == "lstm" else 3), w.sizes[1]
    if library == "torch" or (library == "keras" and w.family == "gru"):
        return gates * n
    return n if w.family == "gru" else 0


@pytest.mark.parametrize("name", NAMES)
def test_every_contender_builds_the_spec_network(name: str) -> None:
    w = workloads.BY_NAME[name]
    model = cellgraph.compile(ROOT / w.spec, w.params)
    expected = _count(jax.eval_shape(model.init, jax.random.key(0)))
    assert expected == model.graph.graph["params"]["total"]
    init, _ = hand_jax.network(w)
    assert _count(jax.eval_shape(init, jax.random.key(0))) == expected
    batch = workloads.batches(w, n=1)[0]
    flax_params = jax.eval_shape(hand_flax.module(w).init, jax.random.key(0), batch["x"])
    assert _count(flax_params) == expected + _library_biases(w, "flax")
    if importlib.util.find_spec("torch") is not None:
        import hand_torch

        got = sum(p.numel() for p in hand_torch.module(w).parameters())
        assert got == expected + _library_biases(w, "torch")
    if importlib.util.find_spec("keras") is not None:
        import hand_keras

        got = hand_keras.network(w.family, w.sizes, layer_norm=w.layer_norm, dropout=w.dropout).count_params()
        assert got == expected + _library_biases(w, "keras")


@pytest.mark.parametrize("name", NAMES)
def test_batches_fit_the_spec_and_the_loss(name: str) -> None:
    w = workloads.BY_NAME[name]
    data = workloads.batches(w, n=2)
    assert len(data) == 2
    model = cellgraph.compile(ROOT / w.spec, w.params)
    params = model.init(jax.random.key(0))
    for b in data:
        assert b["x"].shape[0] == b["y"].shape[0] == w.batch
        value, _ = model.loss(
            params, model.batch(b["x"], b["y"]), None
        )  # the spec's own loss accepts the batch as it is
        assert value.shape == ()
        assert str(b["y"].dtype) == ("int32" if w.loss == "xent" else "float32")


def test_the_prediction_benchmark_compares_the_same_network() -> None:
    """bench/predict_bench.py: cellgraph's predict and the hand-written forward pass give outputs of
    the same shape from the same inputs (shapes only; timings live in docs/benchmarks.md)."""
    import predict_bench

    for name in predict_bench.ROWS:
        w = workloads.BY_NAME[name]
        x = predict_bench._inputs(w, 8)
        outs = {k: np.asarray(fn(x)) for k, fn in predict_bench.contenders(w).items()}
        assert outs["cellgraph"].shape == outs["jax"].shape, name
