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
    state = _count(model.init_state())  # batch norm's running statistics: model state, not parameters
    if "flax" in w.contenders:
        flax_variables = jax.eval_shape(hand_flax.module(w).init, jax.random.key(0), batch["x"])
        assert _count(flax_variables["params"]) == expected + _library_biases(w, "flax")
    if w.batch_norm:
        assert state > 0 and _count(flax_variables["batch_stats"]) == state == _count(hand_jax.dcn_bn_state())
    if importlib.util.find_spec("torch") is not None:
        import hand_torch

        got = sum(p.numel() for p in hand_torch.module(w).parameters())
        assert got == expected + _library_biases(w, "torch")
    if importlib.util.find_spec("keras") is not None and "keras" in w.contenders:
        import hand_keras

        net = hand_keras.network(w.family, w.sizes, layer_norm=w.layer_norm, dropout=w.dropout, batch_norm=w.batch_norm)
        assert (
            net.count_params() == expected + _library_biases(w, "keras") + state
        )  # Keras counts the moving statistics


@pytest.mark.parametrize("name", NAMES)
def test_batches_fit_the_spec_and_the_loss(name: str) -> None:
    w = workloads.BY_NAME[name]
    data = workloads.batches(w, n=2)
    assert len(data) == 2
    model = cellgraph.compile(ROOT / w.spec, w.params)
    params = model.init(jax.random.key(0))
    for b in data:
        assert b["x"].shape[0] == b["y"].shape[0] == w.batch
        state = model.init_state() if model.stateful else None
        value, _ = model.loss(params, model.batch(b["x"], b["y"]), None, state)  # the spec's own loss takes the batch
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
