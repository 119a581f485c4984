"""Group features (cellgraph/cells/features.py): dropout and layer normalisation on any group that
offers them -- the registry tied to the compiler, their semantics and gradients, what validation
says about them, how both diagram views name them, and a stacked LSTM with dropout that learns."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from conftest import EXAMPLES
from jax.test_util import check_grads

import cellgraph
from cellgraph.cells import CELLS
from cellgraph.cells.features import FEATURES, active_features
from cellgraph.compiler.features import _NORMS
from cellgraph.compiler.protocol import FeatureFns, feature_fns
from cellgraph.errors import SpecError


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[str], **more: Any) -> Path:
    path = tmp_path / "net.yaml"
    text = yaml.safe_dump({"cellgraph": 1, "name": "net", "cells": cells, "edges": edges, **more}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _x(shape: tuple[int, ...], seed: int = 0) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


# ------------------------------------------------------------------------------- the registry


def test_every_feature_has_jax_semantics_and_norm_kinds_agree() -> None:
    for feature in FEATURES.values():
        assert isinstance(feature_fns(feature), FeatureFns), feature.name
    assert set(FEATURES["norm"].option.kind.inner.values) == set(_NORMS)  # type: ignore[attr-defined]


# a minimal network around one group of each type that offers a feature (its edges and input)
HOSTS: dict[str, tuple[dict[str, Any], list[str], tuple[int, ...]]] = {
    "input": ({"x": {"type": "input", "size": 6}}, ["x -> y"], (4, 6)),
    "noisy_input": ({"x": {"type": "noisy_input", "size": 6}}, ["x -> y"], (4, 6)),
    "hidden": ({"x": {"type": "input", "size": 6}, "g": {"type": "hidden", "size": 5}}, ["x -> g -> y"], (4, 6)),
    "recurrent": (
        {"x": {"type": "input", "size": 6, "sequence": True}, "g": {"type": "recurrent", "size": 5, "emit": "last"}},
        ["x -> g -> y"],
        (4, 3, 6),
    ),
    "memory": (
        {"x": {"type": "input", "size": 6, "sequence": True}, "g": {"type": "memory", "size": 5, "emit": "last"}},
        ["x -> g -> y"],
        (4, 3, 6),
    ),
    "gated_memory": (
        {"x": {"type": "input", "size": 6, "sequence": True}, "g": {"type": "gated_memory", "size": 5, "emit": "last"}},
        ["x -> g -> y"],
        (4, 3, 6),
    ),
    "kernel": (
        {"x": {"type": "input", "shape": [6, 6, 2]}, "g": {"type": "kernel", "shape": [6, 6, 3]}},
        ["x -> g -> y"],
        (4, 6, 6, 2),
    ),
    "convolution": (
        {"x": {"type": "input", "shape": [6, 6, 2]}, "g": {"type": "convolution", "op": "conv", "channels": 3}},
        ["x -> g -> y"],
        (4, 6, 6, 2),
    ),
}
OFFERED = sorted((t, f) for t, cell in CELLS.items() for f in FEATURES if f in cell.options)
ON = {
    "dropout": 0.5,
    "norm": "layer",
    "norm_at": "output",
    "vocab": 7,
    "recurrent_dropout": 0.5,
    "position": "learned",
}
NEEDS: dict[str, dict[str, Any]] = {  # what else the feature needs
    "position": {"sequence": True, "max_length": 5},
    "norm_at": {"norm": "layer"},
}


def test_the_hosts_cover_every_type_that_offers_a_feature() -> None:
    assert {t for t, _ in OFFERED} == set(HOSTS)


@pytest.mark.parametrize(("cell_type", "feature"), OFFERED)
def test_every_type_offering_a_feature_compiles_it_with_the_counted_parameters(
    tmp_path: Path, cell_type: str, feature: str
) -> None:
    """The registry's parameter count (the graph's) equals the compiled parameters; evaluation is
    deterministic; a stochastic feature makes training passes depend on the key."""
    cells, edges, shape = HOSTS[cell_type]
    host = "x" if CELLS[cell_type].is_source else "g"
    needs = NEEDS.get(feature, {})
    cells = {**cells, host: {**cells[host], feature: ON[feature], **needs}, "y": {"type": "output", "size": 3}}
    if needs.get("sequence") and len(shape) == 2:
        shape = (shape[0], 3, shape[1])  # three steps of the same vectors
    model = cellgraph.compile(_spec(tmp_path, cells, edges))
    params = model.init(jax.random.key(0))
    assert sum(a.size for a in jax.tree.leaves(params)) == model.graph.graph["params"]["total"]
    turned_on = [f.name for f in active_features(model.graph.nodes[host]["options"])]
    assert turned_on == [name for name in FEATURES if name == feature or name in needs]
    x = _x(shape) if feature != "vocab" else jnp.arange(shape[0]) % 7  # an embedding reads token ids
    first, again = model.apply(params, x)["y"], model.apply(params, x)["y"]
    np.testing.assert_array_equal(first, again)
    a = model.apply(params, x, key=jax.random.key(1), train=True)["y"]
    b = model.apply(params, x, key=jax.random.key(2), train=True)["y"]
    assert model.stochastic == FEATURES[feature].stochastic
    if FEATURES[feature].stochastic:
        assert not np.allclose(a, b)
    else:
        np.testing.assert_allclose(a, first, rtol=1e-6)


@pytest.mark.parametrize("cell_type", sorted(t for t, f in OFFERED if f == "norm"))
def test_every_type_offering_norm_keeps_the_counted_batch_statistics(tmp_path: Path, cell_type: str) -> None:
    """`norm: batch` on each type that offers `norm`: the model state the registry counts (shown by
    `summary`) is the state compiled, a training pass moves it, evaluation reads it unchanged."""
    cells, edges, shape = HOSTS[cell_type]
    cells = {**cells, "g": {**cells["g"], "norm": "batch"}, "y": {"type": "output", "size": 3}}
    model = cellgraph.compile(_spec(tmp_path, cells, edges))
    state = model.init_state()
    assert sum(a.size for a in jax.tree.leaves(state)) == model.graph.nodes["g"]["state"] > 0
    params, x = model.init(jax.random.key(0)), _x(shape)
    _, moved = model.apply_with_state(params, x, key=jax.random.key(1), train=True, state=state)
    assert not np.allclose(moved["g"]["norm_mean"], state["g"]["norm_mean"])
    _, same = model.apply_with_state(params, x, state=moved)
    jax.tree.map(np.testing.assert_array_equal, same, moved)


# -------------------------------------------------------------------------------- semantics


def _dropout_net(tmp_path: Path, p: float) -> Any:
    cells = {
        "x": {"type": "input", "size": 400},
        "h": {"type": "hidden", "size": 400, "activation": "linear", "dropout": p, "init": "zeros"},
        "y": {"type": "output", "size": 400},
    }
    return cellgraph.compile(_spec(tmp_path, cells, ["x -> h -> y"]))


def test_dropout_zeroes_its_share_while_training_and_keeps_the_expected_value(tmp_path: Path) -> None:
    model = _dropout_net(tmp_path, 0.3)
    params = model.init(jax.random.key(0))
    params["h"] = {"kernel": jnp.eye(400), "bias": jnp.zeros(400)}  # h is x itself, before dropout
    x = jnp.ones((50, 400))
    train, _ = model.forward(params, x, key=jax.random.key(3), train=True)
    h = np.asarray(train["h"])
    zeroed = float(np.mean(h == 0.0))
    assert abs(zeroed - 0.3) < 0.01  # 20,000 draws: the standard error is 0.003
    np.testing.assert_allclose(h[h != 0.0], 1.0 / 0.7, rtol=1e-6)  # inverted: the rest are scaled up
    assert abs(float(h.mean()) - 1.0) < 0.02
    evaluation, _ = model.forward(params, x)
    np.testing.assert_array_equal(evaluation["h"], x)  # evaluation keeps every value as it is


def test_dropout_masks_differ_by_step_key_and_by_group(tmp_path: Path) -> None:
    cells = {
        "x": {"type": "input", "size": 64, "dropout": 0.5},
        "h": {"type": "hidden", "size": 64, "activation": "linear", "dropout": 0.5},
        "y": {"type": "output", "size": 2},
    }
    model = cellgraph.compile(_spec(tmp_path, cells, ["x -> h -> y"]))
    params = model.init(jax.random.key(0))
    params["h"] = {"kernel": jnp.eye(64), "bias": jnp.zeros(64)}
    x = jnp.ones((8, 64))
    one, _ = model.forward(params, x, key=jax.random.key(1), train=True)
    two, _ = model.forward(params, x, key=jax.random.key(2), train=True)
    assert not np.array_equal(one["x"] == 0, two["x"] == 0)
    # h passes x's kept values on and drops its own share of them: not the same mask again
    assert float(np.mean(np.asarray(one["h"]) == 0.0)) > float(np.mean(np.asarray(one["x"]) == 0.0)) + 0.15


def test_layer_norm_normalises_the_weighted_sum_before_the_activation(tmp_path: Path) -> None:
    cells = {
        "x": {"type": "input", "size": 12},
        "h": {"type": "hidden", "size": 20, "activation": "relu", "norm": "layer"},
        "y": {"type": "output", "size": 2},
    }
    model = cellgraph.compile(_spec(tmp_path, cells, ["x -> h -> y"]))
    params = model.init(jax.random.key(0))
    x = 5.0 * _x((16, 12)) + 3.0
    values, aux = model.forward(params, x)
    pre = np.asarray(aux["h"].pre)
    np.testing.assert_allclose(pre.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(pre.var(-1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(values["h"], np.maximum(pre, 0.0), rtol=1e-6)
    # a layer-normalised group does not see the scale of its weights (zero bias at the start)
    scaled = {**params, "h": {**params["h"], "kernel": 10.0 * params["h"]["kernel"]}}
    np.testing.assert_allclose(model.apply(scaled, x)["y"], model.apply(params, x)["y"], rtol=2e-4, atol=2e-5)
    # its learned scale and offset act per feature
    shifted = {**params, "h": {**params["h"], "norm_offset": params["h"]["norm_offset"] + 2.0}}
    np.testing.assert_allclose(model.forward(shifted, x)[1]["h"].pre, pre + 2.0, rtol=1e-5, atol=1e-5)


def test_layer_norm_on_a_convolution_normalises_each_position_over_channels(tmp_path: Path) -> None:
    cells = {
        "x": {"type": "input", "shape": [5, 5, 2]},
        "k": {"type": "kernel", "shape": [5, 5, 4], "activation": "linear", "norm": "layer"},
        "y": {"type": "output", "size": 2},
    }
    model = cellgraph.compile(_spec(tmp_path, cells, ["x -> k -> y"]))
    values, _ = model.forward(model.init(jax.random.key(0)), _x((3, 5, 5, 2)))
    k = np.asarray(values["k"])
    np.testing.assert_allclose(k.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(k.var(-1), 1.0, rtol=1e-3)


def test_gradients_through_dropout_and_layer_norm_are_right(tmp_path: Path) -> None:
    """jax.test_util.check_grads on the training loss, the dropout mask fixed by the key."""
    cells = {
        "x": {"type": "input", "size": 5, "dropout": 0.2},
        "h": {"type": "hidden", "size": 7, "activation": "tanh", "norm": "layer", "dropout": 0.3},
        "k": {"type": "hidden", "size": 4, "activation": "sigmoid", "norm": "layer"},
        "y": {"type": "output", "size": 3, "activation": "softmax"},
    }
    spec = _spec(tmp_path, cells, ["x -> h -> k -> y"], train={"loss": "cross_entropy"})
    key = jax.random.key(7)
    with jax.enable_x64(True):
        model = cellgraph.compile(spec)
        params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
        params["h"]["norm_scale"] = params["h"]["norm_scale"] * 1.5  # away from the initial values
        params["k"]["norm_offset"] = params["k"]["norm_offset"] + 0.2
        batch = model.batch(np.asarray(_x((6, 5)), np.float64), np.array([0, 1, 2, 0, 1, 2]))
        loss = jax.jit(lambda p: model.loss(p, batch, key)[0])  # compiled once, not op by op
        check_grads(loss, (params,), order=1, modes=("rev",), atol=1e-6, rtol=1e-5)
        # and only through the units dropout kept: a dropped hidden unit's incoming weights get none
        values, _ = model.forward(params, batch["inputs"], key=key, train=True)
        grads = jax.grad(loss)(params)
    dropped_inputs = np.all(np.asarray(values["x"]) == 0.0, axis=0)
    if dropped_inputs.any():  # an input dropped in every example: its weights learn nothing this step
        assert np.all(np.asarray(grads["h"]["kernel"])[dropped_inputs] == 0.0)


# ------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("options", "where", "words"),
    [
        ({"dropout": 1}, "cells.h.dropout", "[0, 1)"),
        ({"dropout": -0.1}, "cells.h.dropout", "[0, 1)"),
        ({"norm": "group"}, "cells.h.norm", "expected one of layer, batch"),
        ({"norm": "layer", "activation": "gaussian"}, "cells.h.norm", "radial-basis unit"),
    ],
)
def test_bad_feature_options_are_located_errors(
    tmp_path: Path, options: dict[str, Any], where: str, words: str
) -> None:
    cells = {
        "x": {"type": "input", "size": 4},
        "h": {"type": "hidden", "size": 8, **options},
        "y": {"type": "output", "size": 2},
    }
    with pytest.raises(SpecError) as caught:
        cellgraph.load_graph(_spec(tmp_path, cells, ["x -> h -> y"]))
    text = caught.value.format()
    assert where in text and words in text and "net.yaml:" in text


def test_a_feature_a_type_does_not_offer_is_an_unknown_key_naming_the_valid_ones(tmp_path: Path) -> None:
    cells = {
        "x": {"type": "input", "size": 4, "sequence": True},
        "m": {"type": "memory", "size": 8, "norm": "layer"},
        "y": {"type": "output", "size": 2},
    }
    with pytest.raises(SpecError, match=r"unknown key 'norm' in a memory group[\s\S]*dropout"):
        cellgraph.load_graph(_spec(tmp_path, cells, ["x -> m -> y"]))


# -------------------------------------------------------------------------------- drawings


def test_both_views_name_a_groups_features(tmp_path: Path) -> None:
    path = EXAMPLES / "digits_lstm_dropout.yaml"
    cells_view = cellgraph.render(path).dot
    layers_view = cellgraph.render(path, view="layers").dot
    for source in (cells_view, layers_view):
        assert source.count("dropout 0.3") == 2  # the two LSTM layers, not the input or the output
    spec = _spec(
        tmp_path,
        {
            "x": {"type": "input", "size": 4},
            "h": {"type": "hidden", "size": 6, "norm": "layer"},
            "y": {"type": "output", "size": 2},
        },
        ["x -> h -> y"],
    )
    assert "layer norm" in cellgraph.render(spec).dot
    assert "layer norm" in cellgraph.render(spec, view="layers").dot
    assert "layer norm" not in cellgraph.render(spec, labels="name,shape").dot


# --------------------------------------------------------------------------------- learning


def test_a_stacked_lstm_with_dropout_learns_digits_read_row_by_row() -> None:
    """specs/examples/digits_lstm_dropout.yaml: held-out accuracy over 0.9 (0.93 measured), and
    dropout is on while training only: the trained network's loss on the held-out rows with units
    dropped (a training pass; 0.240 measured, mean of 5 keys) is above its loss with every unit
    (evaluation, 0.203), which is the figure training reports. Without dropout they are equal."""
    result = cellgraph.train(EXAMPLES / "digits_lstm_dropout.yaml", progress=False)
    assert result.scored_on == "test" and result.metrics["accuracy"] > 0.9
    model = result.model
    data = cellgraph.data.load_dataset(cellgraph.load_spec(EXAMPLES / "digits_lstm_dropout.yaml").data, EXAMPLES)
    batch = model.batch(data.x_test, data.y_test)
    evaluation = float(model.loss(result.params, batch, None)[0])
    dropped = np.mean([float(model.loss(result.params, batch, jax.random.key(k))[0]) for k in range(5)])
    assert math.isclose(evaluation, result.metrics["loss"], rel_tol=1e-4)
    assert dropped > 1.1 * evaluation, (dropped, evaluation)


def test_features_work_in_a_branching_network_with_two_inputs_and_two_heads(tmp_path: Path) -> None:
    """Written outside specs/: a wide input with dropout, a deep path with layer norm, two heads."""
    cells = {
        "wide": {"type": "input", "size": 6, "dropout": 0.2},
        "deep": {"type": "input", "size": 6},
        "h": {"type": "hidden", "size": 32, "norm": "layer", "dropout": 0.2},
        "cls": {"type": "output", "size": 2, "activation": "softmax", "loss": "cross_entropy"},
        "reg": {"type": "output", "size": 1, "loss": "mse"},
    }
    spec = _spec(
        tmp_path,
        cells,
        ["deep -> h", "wide -> cls", "h -> cls", "h -> reg"],
        train={"optimizer": {"name": "adam", "learning_rate": 0.01}, "epochs": 60, "batch_size": 32, "seed": 0},
    )
    rng = np.random.default_rng(0)
    wide, deep = rng.normal(size=(600, 6)).astype(np.float32), rng.normal(size=(600, 6)).astype(np.float32)
    cls = (deep[:, 0] - deep[:, 1] + 0.5 * wide[:, 2] > 0).astype(np.int32)
    reg = (np.sin(deep[:, 2]) + 0.5 * deep[:, 3]).astype(np.float32)[:, None]
    data = {"wide": wide, "deep": deep, "cls": cls, "reg": reg}
    train_rows = {k: v[:450] for k, v in data.items()}
    held_out = {k: v[450:] for k, v in data.items()}
    result = cellgraph.train(spec, train_rows, test_data=held_out, progress=False)
    scores = cellgraph.evaluate(result, held_out)
    assert scores["accuracy:cls"] > 0.9
    assert scores["loss:reg"] < 0.25 * float(np.var(held_out["reg"]))
    assert math.isfinite(scores["loss"])


# ------------------------------------------------------------------------- recurrent dropout


def _echo(tmp_path: Path, rate: float) -> Any:
    """A linear Elman layer whose state only echoes itself (identity U, no input weights, no bias):
    h_t = mask * h_(t-1) from the first step's state on."""
    cells = {
        "x": {"type": "input", "size": 1, "sequence": True},
        "r": {"type": "recurrent", "size": 64, "activation": "linear", "recurrent_dropout": rate, "use_bias": False},
        "y": {"type": "output", "size": 1},
    }
    model = cellgraph.compile(_spec(tmp_path, cells, ["x -> r -> y"]))
    params = model.init(jax.random.key(0))
    params["r"] = {"w_in": jnp.ones((1, 64)), "w_rec": jnp.eye(64)}
    x = np.zeros((3, 6, 1), np.float32)
    x[:, 0] = 1.0  # h_0 = 1 everywhere; later steps only feed back
    return model, params, x


def test_recurrent_dropout_masks_the_fed_back_state_with_one_mask_per_sequence(tmp_path: Path) -> None:
    model, params, x = _echo(tmp_path, 0.5)
    values, _ = model.forward(params, x, key=jax.random.key(1), train=True)
    h = np.asarray(values["r"])  # (3 sequences, 6 steps, 64 units)
    kept = h[:, 1] != 0
    assert 0.3 < kept.mean() < 0.7  # about half the units dropped, per sequence
    assert not np.array_equal(kept[0], kept[1])  # each sequence its own mask
    for t in range(1, 6):  # the same units at every step, the kept ones scaled by 1 / (1 - p) per step
        np.testing.assert_allclose(h[:, t], np.where(kept, 2.0**t, 0.0), rtol=1e-6)
    np.testing.assert_allclose(model.forward(params, x)[0]["r"], 1.0)  # evaluation: the whole state


def test_recurrent_dropout_leaves_evaluation_alone_and_gradients_right(tmp_path: Path) -> None:
    cells = {
        "x": {"type": "input", "size": 3, "sequence": True},
        "m": {"type": "memory", "size": 5, "recurrent_dropout": 0.3, "emit": "last"},
        "y": {"type": "output", "size": 2, "activation": "softmax"},
    }
    plain = {**cells, "m": {k: v for k, v in cells["m"].items() if k != "recurrent_dropout"}}
    model = cellgraph.compile(_spec(tmp_path, cells, ["x -> m -> y"], train={"loss": "cross_entropy"}))
    control = cellgraph.compile(_spec(tmp_path, plain, ["x -> m -> y"]))
    assert model.stochastic and not control.stochastic
    params = model.init(jax.random.key(0))
    x = _x((4, 6, 3))
    np.testing.assert_allclose(model.apply(params, x)["y"], control.apply(params, x)["y"], rtol=1e-5)
    a = model.apply(params, x, key=jax.random.key(1), train=True)["y"]
    assert not np.allclose(a, model.apply(params, x, key=jax.random.key(2), train=True)["y"])
    with jax.enable_x64(True):
        wide = jax.tree.map(lambda v: v.astype(jnp.float64), params)
        batch = model.batch(np.asarray(x, np.float64), np.array([0, 1, 1, 0]))
        loss = jax.jit(lambda p: model.loss(p, batch, jax.random.key(3))[0])  # compiled once
        check_grads(loss, (wide,), order=1, modes=("rev",), rtol=1e-5)


def test_a_token_classifier_with_recurrent_dropout_learns(tmp_path: Path) -> None:
    """The token-order GRU with recurrent dropout 0.2 still tells which marker comes first on
    held-out sequences (> 0.95; chance 0.5)."""
    import test_embedding

    spec = yaml.safe_load((EXAMPLES / "token_order.yaml").read_text(encoding="utf-8"))
    spec["cells"]["m"]["recurrent_dropout"] = 0.2
    path = tmp_path / "token_order_rd.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    data, held = test_embedding._order_data(2000, 0), test_embedding._order_data(1000, 1)
    result = cellgraph.train(path, data, test_data=held, progress=False, resume=False)
    assert result.metrics["accuracy"] > 0.95, result.metrics
