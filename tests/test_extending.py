"""The recipes of docs/architecture.md, each a test: a toy extension in a few lines, end to end.

Each test adds one toy -- a cell type, a learning rule, a loss, a metric -- through the public
registration points (``register_cell``, ``register_rule``) or ``monkeypatch.setitem`` on the
registry tables, touches no package module, and then runs it the way a user would: spec text ->
``load_spec_text`` -> ``cellgraph.compile`` -> ``cellgraph.train`` on a few arrays wrapped by
``cellgraph.data.dataset_from_arrays``. If a recipe ever needs an edit elsewhere, its test fails
here first, and the doc's recipe is wrong.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cellgraph
from cellgraph.cells import CELLS, register_cell
from cellgraph.compiler.losses import METRIC_FNS, OUTPUT_LOSSES, Scored, register_loss, register_metric
from cellgraph.compiler.protocol import Aux, CellFns, Ctx, Inputs, NodeInfo, Out
from cellgraph.data import dataset_from_arrays
from cellgraph.graph import rules as records
from cellgraph.options import FloatRange, Option
from cellgraph.train import StepInfo
from cellgraph.train.rules import IMPLEMENTATIONS, Rule, RunInfo, register_rule
from cellgraph.train.state import TrainState

FAST: dict[str, Any] = {"epochs": 3, "batch_size": 16, "progress": False}


def _spec(hidden: str, train: str) -> cellgraph.Spec:
    """x(3) -> h -> y(1, linear): a regression network, with ``hidden`` as h's cell mapping."""
    text = (
        "cellgraph: 1\nname: toy\n"
        f"cells:\n  x: {{type: input, size: 3}}\n  h: {hidden}\n  y: {{type: output, size: 1, activation: linear}}\n"
        f"edges: [x -> h -> y]\ntrain: {train}\n"
    )
    return cellgraph.load_spec_text(text, "toy.yaml")


def _data(n: int = 64) -> Any:
    """y = sum(x) / 3: a target every one of these networks can learn in a few steps."""
    x = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    return dataset_from_arrays(x, x.sum(axis=1, keepdims=True) / 3, test=0.25, task="regression")


# ----------------------------------------------------------------------------- a cell type


def _init_double(key: jax.Array, info: NodeInfo) -> dict[str, jax.Array]:
    n_in, n_out = math.prod(info.in_shape or ()), math.prod(info.out_shape)
    return {"kernel": jax.nn.initializers.glorot_uniform()(key, (n_in, n_out)), "bias": jnp.zeros(n_out)}


def _apply_double(params: Mapping[str, jax.Array], inputs: Inputs, ctx: Ctx) -> Out:
    x = inputs.x  # the main port's merged input; ctx.lead leading axes: (batch,) or (batch, time)
    assert x is not None
    pre = x.reshape(*x.shape[: ctx.lead], -1) @ params["kernel"] + params["bias"]
    return Out(2 * jnp.tanh(pre), Aux(pre=pre))  # the group's value, and what the losses may read


DOUBLE = CellFns(_init_double, _apply_double)
"""The JAX half of the toy type: its record below points here by ``"module:attribute"``."""


@pytest.fixture
def double_cell() -> Iterator[str]:
    # the JAX-free record: a hidden cell's options, shape rule, parameter count and style
    register_cell(dataclasses.replace(CELLS["hidden"], name="double", doc="2 tanh(Wx + b)", impl=f"{__name__}:DOUBLE"))
    yield "double"
    CELLS.pop("double")


def test_add_a_cell_type(double_cell: str) -> None:
    spec = _spec(f"{{type: {double_cell}, size: 4}}", "{loss: mse, optimizer: {name: adam, learning_rate: 0.05}}")
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    assert params["h"]["kernel"].shape == (3, 4)
    assert model.graph.nodes["h"]["params"] == 3 * 4 + 4  # the record's parameter count agrees
    x = jnp.ones((2, 3))
    values, _ = model.forward(params, x)
    assert jnp.allclose(values["h"], 2 * jnp.tanh(x @ params["h"]["kernel"] + params["h"]["bias"]))
    assert jnp.abs(values["h"]).max() > 1  # beyond tanh's range: the toy's apply ran, not the hidden cell's
    result = cellgraph.train(model, _data(), **FAST)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert "Hidden Cell" in cellgraph.render(spec).dot  # drawn with the style it was given


# ---------------------------------------------------------------- a cell type with two ports


def _init_gated(key: jax.Array, info: NodeInfo) -> dict[str, jax.Array]:
    k1, k2 = jax.random.split(key)
    n = math.prod(info.out_shape)
    n_in, n_gate = math.prod(info.in_shapes["in"]), math.prod(info.in_shapes["gate"])
    glorot = jax.nn.initializers.glorot_uniform()
    return {"kernel": glorot(k1, (n_in, n)), "gate": glorot(k2, (n_gate, n)), "bias": jnp.zeros(n)}


def _apply_gated(params: Mapping[str, jax.Array], inputs: Inputs, ctx: Ctx) -> Out:
    """(x W + b) * sigmoid(g V): the value comes in through port `in`, the gate through `gate`."""
    x, g = inputs.ports["in"], inputs.ports["gate"]
    pre = x @ params["kernel"] + params["bias"]
    return Out(pre * jax.nn.sigmoid(g @ params["gate"]), Aux(pre=pre))


GATED = CellFns(_init_gated, _apply_gated)


def _gated_params(s: Any, shape: tuple[int, ...]) -> int:
    n = math.prod(shape)
    return sum(math.prod(p) * n for p in s.ports.values()) + n  # a matrix per port, one bias


@pytest.fixture
def gated_cell() -> Iterator[str]:
    hidden = CELLS["hidden"]
    register_cell(
        dataclasses.replace(
            hidden, name="gated", ports=("in", "gate"), count_params=_gated_params, impl=f"{__name__}:GATED"
        )
    )
    yield "gated"
    CELLS.pop("gated")


def _two_input_spec(gated: str, port: str = "gate") -> cellgraph.Spec:
    text = (
        "cellgraph: 1\nname: gate\ncells:\n  x: {type: input, size: 3}\n  g: {type: input, size: 2}\n"
        f"  h: {{type: {gated}, size: 4}}\n  y: {{type: output, size: 1, activation: linear}}\n"
        f"edges:\n  - x -> h\n  - {{from: g, to: h, port: {port}}}\n  - h -> y\n"
    )
    return cellgraph.load_spec_text(text, "gate.yaml")


def test_a_cell_type_tells_its_inputs_apart_by_port(gated_cell: str) -> None:
    import optax

    from cellgraph.train import init_state, make_train_step

    model = cellgraph.compile(_two_input_spec(gated_cell))
    params = model.init(jax.random.key(0))
    h = params["h"]
    assert h["kernel"].shape == (3, 4) and h["gate"].shape == (2, 4)  # not one (5, 4) matrix of a merged input
    assert model.graph.nodes["h"]["params"] == 3 * 4 + 2 * 4 + 4
    x, g = jnp.ones((5, 3)), jnp.linspace(-1, 1, 10).reshape(5, 2)
    values, aux = model.forward(params, {"x": x, "g": g})
    by_hand = (x @ h["kernel"] + h["bias"]) * jax.nn.sigmoid(g @ h["gate"])
    np.testing.assert_allclose(values["h"], by_hand, rtol=1e-6)
    np.testing.assert_allclose(aux["h"].pre, x @ h["kernel"] + h["bias"], rtol=1e-6)
    # trained from Python on a batch keyed by group: y = sum(x) * (g0 > 0)
    rng = np.random.default_rng(0)
    xs, gs = rng.normal(size=(64, 3)).astype(np.float32), rng.normal(size=(64, 2)).astype(np.float32)
    batch = model.batch({"x": xs, "g": gs}, (xs.sum(1, keepdims=True) * (gs[:, :1] > 0)).astype(np.float32))
    tx = optax.adam(0.05)
    state, step = init_state(model.init, tx, seed=0), make_train_step(model, tx)
    first = float(model.loss(state.params, batch, None)[0])
    for _ in range(200):
        state, _ = step(state, batch)
    assert float(model.loss(state.params, batch, None)[0]) < 0.2 * first


def test_a_port_the_target_does_not_have_is_a_located_error(gated_cell: str) -> None:
    with pytest.raises(cellgraph.SpecError) as err:
        cellgraph.compile(_two_input_spec(gated_cell, port="gates"))
    (problem,) = err.value.problems
    assert problem.path == "edges[1].port" and (problem.loc.file, problem.loc.line) == ("gate.yaml", 10)
    assert "has no input port 'gates'" in problem.message and "did you mean 'gate'" in problem.message
    assert problem.fix == "its ports: in, gate"
    with pytest.raises(cellgraph.SpecError, match="does not enter through a port"):
        text = "cellgraph: 1\nname: t\ncells:\n  x: {type: input, size: 2}\n  y: {type: output, size: 2}\n"
        cellgraph.compile(cellgraph.load_spec_text(text + "edges: [{from: x, to: y, kind: identity, port: in}]\n", "t"))


# ---------------------------------------------------------------- a cell type with model state


def _apply_centred(params: Mapping[str, jax.Array], inputs: Inputs, ctx: Ctx) -> Out:
    """x - running mean: the mean is model state, updated while training (not by gradient)."""
    x = inputs.x
    assert x is not None
    mean = ctx.state
    if ctx.train:
        mean = 0.9 * mean + 0.1 * x.mean(axis=0)
    return Out(x - mean, Aux(pre=x - mean, state=mean))


CENTRED = CellFns(lambda key, info: {}, _apply_centred, init_state=lambda info: jnp.zeros(info.out_shape))


def test_a_cell_type_keeps_model_state() -> None:
    zero_params = dataclasses.replace(CELLS["hidden"], name="centred", impl=f"{__name__}:CENTRED")
    register_cell(dataclasses.replace(zero_params, count_params=lambda s, shape: 0))
    try:
        spec = cellgraph.load_spec_text(
            "cellgraph: 1\nname: c\ncells:\n  x: {type: input, size: 3}\n  h: {type: centred, size: 3}\n"
            "  y: {type: output, size: 1, activation: linear}\nedges: [x -> h -> y]\n",
            "c.yaml",
        )
        model = cellgraph.compile(spec)
        state = model.init_state()
        assert set(state) == {"h"} and state["h"].shape == (3,)
        x = jnp.full((4, 3), 2.0)
        params = model.init(jax.random.key(0))
        _, aux = model.forward(params, x, train=True, state=state)
        np.testing.assert_allclose(aux["h"].state, 0.2)  # the new state comes back in the Aux record
        values, aux = model.forward(params, x, state={"h": aux["h"].state})
        np.testing.assert_allclose(values["h"], 1.8)  # evaluation reads the state, leaves it as it was
        np.testing.assert_allclose(aux["h"].state, 0.2)
    finally:
        CELLS.pop("centred")


# ---------------------------------------------------------------------------------- a rule


def sign_descent(model: Any, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """params -= step * sign(gradient): a rule in a few lines, its option read from ``cfg``."""
    grad = jax.value_and_grad(lambda params, batch: model.loss(params, batch, None)[0])

    def update(state: TrainState, batch: Mapping[str, jax.Array]) -> tuple[TrainState, dict[str, jax.Array]]:
        value, g = grad(state.params, batch)
        params = jax.tree.map(lambda p, d: p - cfg["step"] * jnp.sign(d), state.params, g)
        return state.replace(step=state.step + 1, params=params), {"loss": value}

    return Rule(init=lambda state: state, update=update)


@pytest.fixture
def sign_rule(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # the JAX-free record (what validation and the settings know: options and their defaults) ...
    step = Option(FloatRange(0.0, lo_open=True), 0.01, "size of each step")
    monkeypatch.setitem(records.RULES, "sign_descent", records.Rule("sign_descent", "sign SGD", {"step": step}))
    register_rule("sign_descent", sign_descent)  # ... and the maker the loop calls
    yield "sign_descent"
    IMPLEMENTATIONS.pop("sign_descent")


def _moves(spec: cellgraph.Spec, **run: Any) -> tuple[cellgraph.train.TrainResult, set[float]]:
    """Train; the sizes by which the parameters moved from one step to the next (rounded)."""
    seen: list[np.ndarray] = []

    def on_step(info: StepInfo) -> None:  # copied: the next step consumes the state's buffers
        seen.append(np.concatenate([np.array(a, np.float64).ravel() for a in jax.tree.leaves(info.state.params)]))

    result = cellgraph.train(cellgraph.compile(spec), _data(), **FAST, on_step=on_step, **run)
    sizes = set(np.round(np.abs(np.diff(np.stack(seen), axis=0)), 6).ravel().tolist())
    return result, sizes


def test_add_a_rule(sign_rule: str) -> None:
    spec = _spec("{type: hidden, size: 4, activation: tanh}", "{loss: mse}")
    result, sizes = _moves(spec, rule=sign_rule)
    assert result.steps == 3 * 3  # 48 training rows in batches of 16, three epochs
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert sizes <= {0.0, 0.01} and 0.01 in sizes  # the toy's update, with the record's default step


def test_a_rule_named_in_the_spec(sign_rule: str) -> None:
    spec = _spec("{type: hidden, size: 4, activation: tanh}", f"{{rule: {sign_rule}, step: 0.02, loss: mse}}")
    _, sizes = _moves(spec)
    assert sizes <= {0.0, 0.02} and 0.02 in sizes  # the rule and its option, from the spec


# ---------------------------------------------------------------------------------- a loss


def _log_cosh(pre: jax.Array, out: jax.Array, y: Any, act: str, opts: Mapping[str, Any]) -> jax.Array:
    return jnp.log(jnp.cosh(out - jnp.asarray(y, out.dtype).reshape(out.shape))).mean()


@pytest.fixture
def log_cosh() -> Iterator[str]:
    register_loss(records.Loss("log_cosh", "mean log(cosh(error))"), _log_cosh)  # the record and its function
    yield "log_cosh"
    records.LOSSES.pop("log_cosh")
    OUTPUT_LOSSES.pop("log_cosh")


def test_add_a_loss(log_cosh: str) -> None:
    spec = _spec("{type: hidden, size: 4, activation: tanh}", f"{{loss: {log_cosh}}}")
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    data = _data()
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    value, _ = model.loss(params, model.batch(x, y), None)
    out = model.forward(params, x)[0]["y"]
    assert jnp.allclose(value, jnp.log(jnp.cosh(out - y)).mean())  # the toy computed it, not mse
    result = cellgraph.train(model, data, **FAST)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_a_loss_or_metric_name_is_registered_once(log_cosh: str) -> None:
    with pytest.raises(ValueError, match="loss 'log_cosh' registered twice"):
        register_loss(records.Loss("log_cosh", "again"), _log_cosh)
    with pytest.raises(ValueError, match="metric 'accuracy' registered twice"):
        register_metric(records.Metric("accuracy", "again"), _max_error)


def test_a_class_label_loss_reports_accuracy(monkeypatch: pytest.MonkeyPatch) -> None:
    record = records.Loss("xent", "cross-entropy under another name", labels=True)
    monkeypatch.setitem(records.LOSSES, "xent", record)
    monkeypatch.setitem(OUTPUT_LOSSES, "xent", OUTPUT_LOSSES["cross_entropy"])
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    data = dataset_from_arrays(x, (x.sum(axis=1) > 0).astype(np.int32), test=0.25)
    spec = cellgraph.load_spec_text(
        "cellgraph: 1\nname: toy\ncells:\n  x: {type: input, size: 3}\n"
        "  y: {type: output, size: 2, activation: softmax}\nedges: [x -> y]\ntrain: {loss: xent}\n",
        "toy.yaml",
    )
    result = cellgraph.train(cellgraph.compile(spec), data, **FAST)
    assert "accuracy" in result.metrics  # what `loss: cross_entropy` reports unasked


def test_a_loss_with_a_record_but_no_function_is_refused_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(records.LOSSES, "half_done", records.Loss("half_done", "a record without its function"))
    spec = _spec("{type: hidden, size: 4, activation: tanh}", "{loss: half_done}")
    with pytest.raises(cellgraph.SpecError, match="loss 'half_done' is registered but has no function"):
        cellgraph.compile(spec)


# -------------------------------------------------------------------------------- a metric


def _max_error(s: Scored) -> jax.Array | None:
    """The largest absolute error; None (not reported) where the target is class labels."""
    return jnp.abs(s.err()).max() if s.shaped else None


@pytest.fixture
def max_error() -> Iterator[str]:
    register_metric(records.Metric("max_error", "largest absolute error"), _max_error)
    yield "max_error"
    records.METRICS.pop("max_error")
    METRIC_FNS.pop("max_error")


def test_add_a_metric(max_error: str) -> None:
    spec = _spec("{type: hidden, size: 4, activation: tanh}", f"{{loss: mse, metrics: [{max_error}]}}")
    data = _data()
    result = cellgraph.train(cellgraph.compile(spec), data, **FAST)
    assert "test_max_error" in result.history[-1]
    out = cellgraph.compile(spec).forward(result.params, jnp.asarray(data.x_test))[0]["y"]
    expected = float(jnp.abs(out - jnp.asarray(data.y_test).reshape(out.shape)).max())
    assert result.metrics["max_error"] == pytest.approx(expected, rel=1e-5)


def test_the_toys_are_gone_after_each_test() -> None:
    """The registries are shared by the whole run: no toy may leak into another test."""
    assert {"double", "gated", "centred", "sign_descent", "log_cosh", "xent", "max_error"}.isdisjoint(
        {*CELLS, *IMPLEMENTATIONS, *records.RULES, *records.LOSSES, *records.METRICS, *OUTPUT_LOSSES, *METRIC_FNS}
    )
