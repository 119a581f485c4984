"""The compiler: shapes and parameter counts agree with the registry, gradients are right, and the
declarative layer adds nothing to the compiled program."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT
from jax.test_util import check_grads

import cellgraph
from cellgraph.cells import CELLS
from cellgraph.compiler import CompileError
from cellgraph.compiler.protocol import CELL_FNS

ZOO = ROOT / "specs" / "zoo"
COMPILES = [
    "p",
    "ff",
    "rbf",
    "dff",
    "rnn",
    "lstm",
    "gru",
    "ae",
    "vae",
    "dae",
    "sae",
    "dcn",
    "dn",
    "dcign",
    "drn",
    "esn",
    "ntm",
    "cn",
    "dnc",
]
LATER: dict[str, str] = {  # zoo networks whose dynamics arrive with later work, and why compile refuses them
}


def test_every_registered_type_has_jax_semantics() -> None:
    assert set(CELL_FNS) == set(CELLS)


def _example_input(model: cellgraph.compiler.Model, batch: int = 3, steps: int = 5) -> jax.Array:
    node = model.graph.nodes[model.inputs[0]]
    lead = (batch, steps) if node["timed"] else (batch,)
    return jax.random.uniform(jax.random.key(1), (*lead, *node["shape"]))


@pytest.mark.parametrize("name", COMPILES)
def test_zoo_spec_compiles_with_the_registry_shapes_and_counts(name: str) -> None:
    model = cellgraph.compile(ZOO / f"{name}.yaml")
    params = jax.eval_shape(model.init, jax.random.key(0))  # shapes only: nothing allocated
    graph = model.graph
    assert sum(a.size for a in jax.tree_util.tree_leaves(params)) == graph.graph["params"]["total"]
    x = _example_input(model)
    values = jax.eval_shape(lambda p, x: model.forward(p, x)[0], params, x)
    for node, value in values.items():
        d = graph.nodes[node]
        lead = 2 if d["timed"] else 1
        assert tuple(value.shape[lead:]) == tuple(d["shape"]), node
        assert value.shape[0] == 3


@pytest.mark.parametrize("name", sorted(LATER))
def test_zoo_spec_beyond_this_compiler_is_refused_with_a_reason(name: str) -> None:
    with pytest.raises(CompileError, match=LATER[name]):
        cellgraph.compile(ZOO / f"{name}.yaml").init(jax.random.key(0))


def test_compiled_dff_has_the_jaxpr_of_a_hand_written_one() -> None:
    model = cellgraph.compile(ZOO / "dff.yaml")
    params = model.init(jax.random.key(0))
    x = jnp.ones((8, 117))

    def by_hand(p: dict, x: jax.Array) -> jax.Array:
        h = jax.nn.relu(x @ p["h.1"]["kernel"] + p["h.1"]["bias"])
        h = jax.nn.relu(h @ p["h.2"]["kernel"] + p["h.2"]["bias"])
        return jax.nn.softmax(h @ p["y"]["kernel"] + p["y"]["bias"])

    compiled = jax.make_jaxpr(lambda p, x: model.apply(p, x)["y"])(params, x)
    assert str(compiled) == str(jax.make_jaxpr(by_hand)(params, x))


def test_apply_works_under_jit_grad_and_vmap() -> None:
    model = cellgraph.compile(ZOO / "lstm.yaml")
    params = model.init(jax.random.key(0))
    x = jnp.ones((4, 6, 2))
    y = jax.jit(model.apply)(params, x)["y"]
    assert y.shape == (4, 1)
    per_example = jax.vmap(lambda xi: model.apply(params, xi[None])["y"][0])(x)
    np.testing.assert_allclose(per_example, y, rtol=1e-5, atol=1e-6)
    grads = jax.grad(lambda p: model.loss(p, model.batch(x, jnp.zeros((4, 1))), None)[0])(params)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree_util.tree_leaves(grads))


# --------------------------------------------------------------------------------- gradients

GROUPS = {  # one small network per differentiable cell type (and convolution op)
    "hidden": ("x: {type: input, size: 3}", "h: {type: hidden, size: 4, activation: tanh}"),
    "hidden_gaussian": ("x: {type: input, size: 3}", "h: {type: hidden, size: 4, activation: gaussian}"),
    "probabilistic_hidden": (
        "x: {type: input, size: 3}",
        "h: {type: probabilistic_hidden, size: 4, distribution: gaussian}",
    ),
    "output": ("x: {type: input, size: 3}", "h: {type: output, size: 4, activation: sigmoid}"),
    "match_input_output": ("x: {type: input, size: 3}", "h: {type: match_input_output, activation: sigmoid}"),
    "noisy_input": ("x: {type: noisy_input, size: 3}", "h: {type: hidden, size: 4, activation: tanh}"),
    "recurrent": ("x: {type: input, size: 3, sequence: true}", "h: {type: recurrent, size: 4}"),
    "memory": ("x: {type: input, size: 3, sequence: true}", "h: {type: memory, size: 4}"),
    "gated_memory": ("x: {type: input, size: 3, sequence: true}", "h: {type: gated_memory, size: 4, emit: last}"),
    "kernel": ("x: {type: input, shape: [5, 5, 2]}", "h: {type: kernel, channels: 3, activation: tanh}"),
    "kernel_1d": ("x: {type: input, shape: [7, 2]}", "h: {type: kernel, channels: 3, stride: 2, activation: tanh}"),
    "convolution_conv": (
        "x: {type: input, shape: [6, 6, 2]}",
        "h: {type: convolution, op: conv, channels: 3, stride: 2}",
    ),
    "convolution_transpose": (
        "x: {type: input, shape: [3, 3, 2]}",
        "h: {type: convolution, op: transpose, channels: 2, stride: 2}",
    ),
    "convolution_avg_pool": ("x: {type: input, shape: [4, 4, 2]}", "h: {type: convolution, op: avg_pool}"),
    "convolution_max_pool": ("x: {type: input, shape: [4, 4, 2]}", "h: {type: convolution, op: max_pool}"),
    "convolution_upsample": ("x: {type: input, shape: [2, 2, 2]}", "h: {type: convolution, op: upsample}"),
    # routed capsules (two capsule groups) are checked in tests/test_capsules.py
    "capsule_primary": ("x: {type: input, shape: [4, 4, 2]}", "h: {type: capsule, types: 2, dim: 3, window: 3}"),
    "capsule_dense": ("x: {type: input, size: 3}", "h: {type: capsule, size: 2, dim: 3}"),
}


def _tiny(cells: tuple[str, str]) -> str:
    return "cellgraph: 1\nname: tiny\ncells:\n  " + "\n  ".join(cells) + "\nedges: [x -> h]\n"


@pytest.mark.parametrize("case", sorted(GROUPS))
def test_gradients_match_finite_differences(case: str) -> None:
    spec = cellgraph.load_spec_text(_tiny(GROUPS[case]), f"{case}.yaml")
    with jax.enable_x64(True):
        model = cellgraph.compile(spec)
        params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
        x = _example_input(model).astype(jnp.float64)
        if case == "convolution_max_pool":  # keep the maxima unique, where max is differentiable
            x = x + jnp.arange(x.size, dtype=jnp.float64).reshape(x.shape) * 1e-2

        @jax.jit  # one compile per derivative taken, not every operation dispatched on its own
        def f(p: dict, x: jax.Array) -> jax.Array:
            return jnp.sum(jnp.sin(model.forward(p, x)[0]["h"]))

        if params:
            check_grads(lambda p: f(p, x), (params,), order=1, modes=("rev",), atol=1e-6, rtol=1e-5)
        check_grads(lambda x: f(params, x), (x,), order=1, modes=("rev",), atol=1e-6, rtol=1e-5)


def test_noisy_input_corrupts_only_while_training() -> None:
    spec = cellgraph.load_spec_text(_tiny(GROUPS["noisy_input"]), "n.yaml")
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    x = jnp.ones((64, 3))
    clean = model.forward(params, x)[0]["x"]
    noisy = model.forward(params, x, key=jax.random.key(3), train=True)[0]["x"]
    assert bool((clean == 1).all())
    masked = float((noisy == 0).mean())
    assert 0.1 < masked < 0.4  # masking level 0.25 by default


def test_identity_skip_adds_before_the_activation() -> None:
    text = """\
cellgraph: 1
name: skip
cells:
  x: {type: input, size: 2}
  a: {type: hidden, size: 2, activation: linear}
  b: {type: hidden, size: 2, activation: relu}
edges: [x -> a -> b, x => b]
"""
    model = cellgraph.compile(cellgraph.load_spec_text(text, "skip.yaml"))
    params = model.init(jax.random.key(0))
    x = jnp.array([[0.5, -1.0]])
    values = model.forward(params, x)[0]
    a = values["a"]
    expected = jax.nn.relu(a @ params["b"]["kernel"] + params["b"]["bias"] + x)
    np.testing.assert_allclose(values["b"], expected, rtol=1e-6)


def test_trainable_false_is_in_the_mask() -> None:
    model = cellgraph.compile(ZOO / "rbf.yaml")
    mask = model.trainable_mask(model.init(jax.random.key(0)))
    assert mask["h"] == {"centres": False, "log_width": False}
    assert mask["y"] == {"kernel": True, "bias": True}


def test_parameter_count_of_a_flat_spec_is_its_registry_count(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(_tiny(("x: {type: input, shape: [8, 8, 1]}", "h: {type: kernel, channels: 4}")))
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    assert (
        sum(a.size for a in jax.tree_util.tree_leaves(params))
        == 3 * 3 * 1 * 4 + 4
        == model.graph.graph["params"]["total"]
    )
    assert math.prod(model.graph.nodes["h"]["shape"]) == 8 * 8 * 4


FEEDBACK = """\
cellgraph: 1
name: feedback
cells:
  x: {type: input, size: 3, sequence: true}
  h: {type: hidden, size: 5, activation: tanh}
  g: {type: gated_memory, size: 4}
  y: {type: output, size: 2}
edges: [x -> h -> g -> y, y ~> h, y ~> g]
"""


def test_delayed_edges_feed_the_previous_step() -> None:
    """Step-wise execution: y(t-1) reaches h(t) through the delayed edge's own weights."""
    model = cellgraph.compile(cellgraph.load_spec_text(FEEDBACK, "feedback.yaml"))
    params = model.init(jax.random.key(0))
    assert sum(a.size for a in jax.tree_util.tree_leaves(params)) == model.graph.graph["params"]["total"]
    x = jax.random.normal(jax.random.key(2), (2, 6, 3))
    values = model.forward(params, x)[0]
    assert values["y"].shape == (2, 6, 2)
    # h at step t is tanh(x_t W + b + y_(t-1) V): recompute step 3 by hand from the values
    h = params["h"]
    expected = jnp.tanh(x[:, 3] @ h["kernel"] + h["bias"] + values["y"][:, 2] @ h["from:y"])
    np.testing.assert_allclose(values["h"][:, 3], expected, rtol=1e-5, atol=1e-6)
    first = jnp.tanh(x[:, 0] @ h["kernel"] + h["bias"])  # nothing came before step 0
    np.testing.assert_allclose(values["h"][:, 0], first, rtol=1e-5, atol=1e-6)


def test_step_wise_gradients_match_finite_differences() -> None:
    spec = cellgraph.load_spec_text(FEEDBACK, "feedback.yaml")
    with jax.enable_x64(True):
        model = cellgraph.compile(spec)
        params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
        x = jax.random.normal(jax.random.key(2), (2, 4, 3), jnp.float64)
        check_grads(
            jax.jit(lambda p: jnp.sum(jnp.sin(model.apply(p, x)["y"]))),
            (params,),
            order=1,
            modes=("rev",),
            atol=1e-6,
            rtol=1e-5,
        )


def test_step_wise_and_layer_wise_agree_without_delays() -> None:
    """The same recurrent network computed layer-wise equals its step-wise reading."""
    layered = cellgraph.compile(ZOO / "gru.yaml")
    params = layered.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(3), (3, 7, 2))
    via_layers = layered.apply(params, x)["y"]
    g = layered.graph
    text = (
        (ZOO / "gru.yaml")
        .read_text()
        .replace("  - x -> m1 -> m2 -> y", "  - x -> m1 -> m2 -> y\n  - {from: x, to: y, kind: dense, delay: 1}")
    )
    assert text != (ZOO / "gru.yaml").read_text()
    stepped = cellgraph.compile(cellgraph.load_spec_text(text, str(ZOO / "gru2.yaml")))
    delayed = stepped.init(jax.random.key(0))["y"]["from:x"]
    p2 = {**params, "y": {**params["y"], "from:x": jnp.zeros_like(delayed)}}  # the delayed edge adds nothing
    # the delayed edge from a sequence makes y per-step; its last step is the layer-wise answer
    np.testing.assert_allclose(stepped.apply(p2, x)["y"][:, -1], via_layers, rtol=1e-5, atol=1e-6)
    assert g.nodes["m2"]["timed"] is False


# --------------------------------------------------------------------------------- precision


@pytest.mark.parametrize("spec", ["specs/examples/digits_dcn.yaml", "bench/specs/lstm_h64.yaml"])
def test_bfloat16_precision_computes_low_and_returns_float32(spec: str) -> None:
    full = cellgraph.compile(ROOT / spec)
    low = cellgraph.compile(ROOT / spec, precision="bfloat16")
    params = full.init(jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (8, *_example_input(full).shape[1:]))
    want, got = full.apply(params, x), low.apply(params, x)
    for name in want:
        assert got[name].dtype == jnp.float32
        assert not np.array_equal(got[name], want[name])  # really computed in bfloat16 ...
        np.testing.assert_allclose(got[name], want[name], atol=0.05, rtol=0.05)  # ... to bfloat16's precision
    y = jnp.zeros((8,), jnp.int32) if "dcn" in spec else jnp.zeros((8, 1))
    grads = jax.grad(lambda p: low.loss(p, low.batch(x, y), jax.random.key(2))[0])(params)
    assert {g.dtype for g in jax.tree_util.tree_leaves(grads)} == {jnp.dtype(jnp.float32)}
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree_util.tree_leaves(grads))


def test_precision_comes_from_the_spec_train_block() -> None:
    text = _tiny(GROUPS["output"]) + "train: {precision: bfloat16}\n"
    model = cellgraph.compile(cellgraph.load_spec_text(text, "tiny.yaml"))
    params = model.init(jax.random.key(0))
    x = jnp.linspace(-1, 1, 6).reshape(2, 3)
    h = model.forward(params, x)[0]["h"]
    low = {k: v.astype(jnp.bfloat16) for k, v in params["h"].items()}
    by_hand = jax.nn.sigmoid(x.astype(jnp.bfloat16) @ low["kernel"] + low["bias"])
    np.testing.assert_array_equal(h, by_hand.astype(jnp.float32))


def test_step_splits_the_key_only_for_models_that_draw_random_numbers() -> None:
    import optax

    from cellgraph.train import init_state, make_train_step

    for cells, stochastic in ((GROUPS["hidden"], False), (GROUPS["noisy_input"], True)):
        model = cellgraph.compile(cellgraph.load_spec_text(_tiny(cells), "tiny.yaml"))
        assert model.stochastic is stochastic
        tx = optax.sgd(0.1)
        state = init_state(model.init, tx, seed=0)
        before = np.asarray(jax.random.key_data(state.rng))  # the step donates the state
        state, _ = make_train_step(model, tx)(state, model.batch(jnp.ones((2, 3))))
        assert np.array_equal(jax.random.key_data(state.rng), before) is not stochastic


# ----------------------------------------------------------------------- predict and input checks

TWO_INPUTS = """\
cellgraph: 1
name: wide_deep
cells:
  wide: {type: input, size: 3}
  deep: {type: input, size: 4}
  h: {type: hidden, size: 8, activation: relu}
  y: {type: output, size: 2, activation: softmax}
edges:
  - deep -> h
  - wide, h -> y
"""


def test_predict_equals_apply_in_padded_chunks() -> None:
    model = cellgraph.compile(cellgraph.load_spec_text(TWO_INPUTS, "wd.yaml"))
    params = model.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    inputs = {"wide": rng.normal(size=(20, 3)).astype(np.float32), "deep": rng.normal(size=(20, 4)).astype(np.float32)}
    whole = np.asarray(model.apply(params, inputs)["y"])
    for size in (None, 7, 20, 64):
        got = model.predict(params, inputs, batch_size=size)
        assert set(got) == {"y"} and isinstance(got["y"], np.ndarray)
        np.testing.assert_allclose(got["y"], whole, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"wide": np.ones((5, 3)), "deep": np.ones((5, 5))},
            "'deep' has shape (5, 5): 5 values per example, but the group has 4",
        ),
        ({"wide": np.ones(3), "deep": np.ones((1, 4))}, "'wide' has shape (3,): one example, not a batch"),
        ({"wide": np.ones((5, 3)), "deep": np.ones((6, 4))}, "different numbers of examples ('wide' 5, 'deep' 6)"),
        ({"wide": np.ones((5, 3))}, "inputs for deep are missing"),
        (np.ones((5, 3)), "has 2 input groups (wide, deep); pass a mapping"),
    ],
)
def test_a_wrong_input_names_the_group_and_the_shape_expected(inputs: Any, message: str) -> None:
    model = cellgraph.compile(cellgraph.load_spec_text(TWO_INPUTS, "wd.yaml"))
    params = model.init(jax.random.key(0))
    for call in (model.apply, jax.jit(model.apply), model.predict):
        with pytest.raises(cellgraph.errors.CellgraphError) as err:
            call(params, inputs)
        assert message in str(err.value)
        if "shape" in message:
            assert str(err.value).startswith("wd.yaml:")  # located at the group in the spec


def test_a_sequence_without_its_time_axis_is_named() -> None:
    model = cellgraph.compile(ZOO / "lstm.yaml")
    params = model.init(jax.random.key(0))
    with pytest.raises(cellgraph.SpecError, match=r"no time axis, but the group is a sequence"):
        model.apply(params, jnp.ones((3, 2)))
