"""Post-norm (`norm_at: output`): a group's `norm:` applied to its value, after its identity skips
are added and its activation applied -- LN(x + F(x)), the residual block of Vaswani et al. 2017
and PyTorch's nn.TransformerEncoderLayer (norm_first=False) -- against hand computations and
Flax's modules with the same weights; batch norm's running statistics; gradients; validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from jax.test_util import check_grads

import cellgraph
from cellgraph.cells import CELLS
from cellgraph.cells.features import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, NORM_EPSILON
from cellgraph.errors import SpecError


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[str], **more: Any) -> Path:
    path = tmp_path / "net.yaml"
    text = yaml.safe_dump({"cellgraph": 1, "name": "net", "cells": cells, "edges": edges, **more}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _x(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * scale + shift).astype(np.float32)


def _layer_norm(z: jax.Array, scale: jax.Array, offset: jax.Array) -> jax.Array:
    mean = z.mean(-1, keepdims=True)
    var = ((z - mean) ** 2).mean(-1, keepdims=True)
    return (z - mean) / jnp.sqrt(var + NORM_EPSILON) * scale + offset


ACTIVATIONS = {"linear": lambda z: z, "tanh": jnp.tanh, "relu": jax.nn.relu}


def _residual(norm_at: str | None, activation: str, norm: str = "layer") -> dict[str, Any]:
    """x -> a -> h with x => h: h's weighted sum of a, plus x through the identity skip."""
    h = {"type": "hidden", "size": 6, "activation": activation, "norm": norm}
    if norm_at is not None:
        h["norm_at"] = norm_at
    return {
        "x": {"type": "input", "size": 6},
        "a": {"type": "hidden", "size": 5, "activation": "tanh"},
        "h": h,
        "y": {"type": "output", "size": 3, "activation": "softmax"},
    }


EDGES = ["x -> a -> h -> y", "x => h"]


def _moved(params: dict[str, Any]) -> dict[str, Any]:
    """The norm's scale, offset and the group's bias away from their initial values."""
    h = params["h"]
    return {
        **params,
        "h": {
            **h,
            "norm_scale": h["norm_scale"] * jnp.linspace(0.5, 1.5, h["norm_scale"].size),
            "norm_offset": h["norm_offset"] + jnp.linspace(-0.3, 0.3, h["norm_offset"].size),
            "bias": h["bias"] + 0.2,
        },
    }


# -------------------------------------------------------------------------------- semantics


@pytest.mark.parametrize("activation", ["linear", "tanh"])
@pytest.mark.parametrize("norm_at", [None, "sum", "output"], ids=["default", "sum", "output"])
def test_layer_norm_applies_where_norm_at_says(tmp_path: Path, norm_at: str | None, activation: str) -> None:
    """`output`: h = LN(act(a W + b + x)); the default (and `sum`, the same): h = act(LN(a W + b) + x)."""
    model = cellgraph.compile(_spec(tmp_path, _residual(norm_at, activation), EDGES))
    params = _moved(model.init(jax.random.key(0)))
    x = jnp.asarray(_x((8, 6), scale=2.0, shift=0.5))
    values, _ = model.forward(params, x)
    pa, ph = params["a"], params["h"]
    a = jnp.tanh(x @ pa["kernel"] + pa["bias"])
    s = a @ ph["kernel"] + ph["bias"]
    act = ACTIVATIONS[activation]
    if norm_at == "output":
        want = _layer_norm(act(s + x), ph["norm_scale"], ph["norm_offset"])
    else:
        want = act(_layer_norm(s, ph["norm_scale"], ph["norm_offset"]) + x)
    np.testing.assert_allclose(values["h"], want, rtol=1e-5, atol=1e-5)
    # the parameters the registry counts are those compiled: the same wherever the norm sits
    assert sum(a.size for a in jax.tree.leaves(params)) == model.graph.graph["params"]["total"] == 104


def test_post_norm_after_a_relu_normalises_the_value_itself(tmp_path: Path) -> None:
    """After the activation: a relu group's value has mean 0, variance 1 per example (negative values)."""
    model = cellgraph.compile(_spec(tmp_path, _residual("output", "relu"), EDGES))
    values, _ = model.forward(model.init(jax.random.key(0)), _x((8, 6), scale=2.0, shift=1.0))
    h = np.asarray(values["h"])
    np.testing.assert_allclose(h.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(h.var(-1), 1.0, rtol=1e-3)
    assert (h < 0).any()


def test_batch_post_norm_computes_what_flax_computes_and_keeps_the_running_statistics(tmp_path: Path) -> None:
    """The same weights in Flax: Dense, tanh, Dense + x, relu, then nn.BatchNorm with cellgraph's
    momentum and epsilon: the same outputs in training and evaluation, the same running statistics
    after a training pass, and as many state values as the registry counts."""
    import flax.linen as nn

    class Reference(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array, train: bool) -> jax.Array:
            a = jnp.tanh(nn.Dense(5, name="a")(x))
            h = jax.nn.relu(nn.Dense(6, name="h")(a) + x)
            h = nn.BatchNorm(not train, momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name="bn")(h)
            return jax.nn.softmax(nn.Dense(3, name="y")(h))

    model = cellgraph.compile(_spec(tmp_path, _residual("output", "relu", norm="batch"), EDGES))
    params = _moved(model.init(jax.random.key(0)))
    state = model.init_state()
    assert sum(a.size for a in jax.tree.leaves(state)) == model.graph.nodes["h"]["state"] == 12
    ref = {
        "a": {"kernel": params["a"]["kernel"], "bias": params["a"]["bias"]},
        "h": {"kernel": params["h"]["kernel"], "bias": params["h"]["bias"]},
        "bn": {"scale": params["h"]["norm_scale"], "bias": params["h"]["norm_offset"]},
        "y": {"kernel": params["y"]["kernel"], "bias": params["y"]["bias"]},
    }
    x = _x((16, 6), scale=2.0, shift=1.0)
    stats = {"bn": {"mean": jnp.zeros(6), "var": jnp.ones(6)}}
    want, changed = Reference().apply({"params": ref, "batch_stats": stats}, x, True, mutable=["batch_stats"])
    got, moved = model.apply_with_state(params, x, key=jax.random.key(0), train=True, state=state)
    np.testing.assert_allclose(got["y"], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(moved["h"]["norm_mean"], changed["batch_stats"]["bn"]["mean"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(moved["h"]["norm_var"], changed["batch_stats"]["bn"]["var"], rtol=1e-5)
    evaluated = Reference().apply({"params": ref, **changed}, x, False)
    got_eval, same = model.apply_with_state(params, x, state=moved)
    np.testing.assert_allclose(got_eval["y"], evaluated, rtol=1e-5, atol=1e-6)
    jax.tree.map(np.testing.assert_array_equal, same, moved)  # evaluation leaves the state alone


HOSTS: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "hidden": ({"type": "hidden", "size": 5, "activation": "relu"}, (16, 6)),
    "kernel": ({"type": "kernel", "shape": [6, 6, 3], "activation": "relu"}, (16, 6, 6, 2)),
    "convolution": ({"type": "convolution", "op": "conv", "channels": 3, "activation": "relu"}, (16, 6, 6, 2)),
}


def test_the_hosts_cover_every_type_that_offers_norm_at() -> None:
    assert {t for t, c in CELLS.items() if "norm_at" in c.options} == set(HOSTS)
    assert {t for t, c in CELLS.items() if "norm" in c.options} == set(HOSTS)


@pytest.mark.parametrize("cell_type", sorted(HOSTS))
@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_every_type_offering_norm_at_normalises_its_value(tmp_path: Path, cell_type: str, norm: str) -> None:
    """A relu group whose value is normalised: negative values, mean 0 over the axes the norm
    reads; the counted parameters and state are those compiled; batch norm's statistics move."""
    group, shape = HOSTS[cell_type]
    x = {"type": "input", "size": 6} if len(shape) == 2 else {"type": "input", "shape": list(shape[1:])}
    cells = {"x": x, "g": {**group, "norm": norm, "norm_at": "output"}, "y": {"type": "output", "size": 3}}
    model = cellgraph.compile(_spec(tmp_path, cells, ["x -> g -> y"]))
    params, state = model.init(jax.random.key(0)), model.init_state()
    assert sum(a.size for a in jax.tree.leaves(params)) == model.graph.graph["params"]["total"]
    assert sum(a.size for a in jax.tree.leaves(state)) == model.graph.nodes["g"]["state"]
    x = _x(shape, scale=2.0)
    values, _ = model.forward(params, x, key=jax.random.key(1), train=True, state=state)
    g = np.asarray(values["g"])
    axes = tuple(range(g.ndim - 1)) if norm == "batch" else -1  # batch: each channel over the rest
    np.testing.assert_allclose(g.mean(axes), 0.0, atol=1e-4)
    assert (g < 0).any()
    if norm == "batch":
        _, moved = model.apply_with_state(params, x, key=jax.random.key(1), train=True, state=state)
        assert not np.allclose(moved["g"]["norm_mean"], state["g"]["norm_mean"])


def test_gradients_through_post_norm_are_right(tmp_path: Path) -> None:
    """jax.test_util.check_grads on the training loss: a layer post-norm with a skip, and a batch
    post-norm (the batch's own statistics) on a convolution, with dropout after it."""
    cells = {
        "x": {"type": "input", "shape": [4, 4, 2]},
        "k": {"type": "kernel", "shape": [4, 4, 3], "activation": "tanh", "norm": "batch", "norm_at": "output"},
        "a": {"type": "hidden", "size": 5, "activation": "tanh"},
        "b": {"type": "hidden", "size": 4, "activation": "tanh"},
        "h": {"type": "hidden", "size": 5, "activation": "relu", "norm": "layer", "norm_at": "output", "dropout": 0.2},
        "y": {"type": "output", "size": 3, "activation": "softmax"},
    }
    edges = ["x -> k -> a -> b -> h -> y", "a => h"]
    spec = _spec(tmp_path, cells, edges, train={"loss": "cross_entropy"})
    with jax.enable_x64(True):
        model = cellgraph.compile(spec)
        params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
        params["h"]["norm_scale"] = params["h"]["norm_scale"] * 1.5
        params["h"]["bias"] = params["h"]["bias"] + 0.3
        params["k"]["norm_offset"] = params["k"]["norm_offset"] + 0.2
        state = jax.tree.map(lambda a: a.astype(jnp.float64), model.init_state())
        batch = model.batch(_x((6, 4, 4, 2)).astype(np.float64), np.array([0, 1, 2, 0, 1, 2]))
        loss = jax.jit(lambda p: model.loss(p, batch, jax.random.key(1), state)[0])  # compiled once
        check_grads(loss, (params,), order=1, modes=("rev",), atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------------ a transformer block

SYMBOLS, STEPS, DIM, HEADS, HIDDEN = 7, 5, 8, 2, 12


def _block(norm_at: str) -> dict[str, Any]:
    """Vaswani et al.'s encoder block: x1 = LN(x + MHA(x)), x2 = LN(x1 + FF(x1)), as a spec."""
    post = {"norm": "layer", "norm_at": norm_at}
    return {
        "tokens": {
            "type": "input",
            "sequence": True,
            "vocab": SYMBOLS,
            "size": DIM,
            "position": "learned",
            "max_length": STEPS,
        },
        "att": {"type": "hidden", "size": DIM, "activation": "linear", **post},
        "ff1": {"type": "hidden", "size": HIDDEN, "activation": "relu"},
        "ff2": {"type": "hidden", "size": DIM, "activation": "linear", **post},
        "y": {"type": "output", "size": SYMBOLS, "activation": "softmax"},
    }


BLOCK_EDGES = [
    {"tokens -> att": {"kind": "attention", "heads": HEADS, "residual": True}},
    "att -> ff1 -> ff2",
    "att => ff2",
    "ff2 -> y",
]


def _reference(params: dict[str, Any], ids: jax.Array, post: bool) -> jax.Array:
    """The same block in Flax's modules (nn.MultiHeadDotProductAttention, nn.LayerNorm) and jnp."""
    import flax.linen as nn

    t, att, ff1, ff2, y = (params[k] for k in ("tokens", "att", "ff1", "ff2", "y"))
    x = t["embedding"][ids] + t["position"][: ids.shape[1]]  # (batch, steps, dim)
    p = "attention:tokens:"
    head = DIM // HEADS
    mha = {
        part: {
            "kernel": att[f"{p}{part}_kernel"].reshape(DIM, HEADS, head),
            "bias": att[f"{p}{part}_bias"].reshape(HEADS, head),
        }
        for part in ("query", "key", "value")
    }
    mha["out"] = {"kernel": att[f"{p}out_kernel"].reshape(HEADS, head, DIM), "bias": att["bias"]}
    attended = nn.MultiHeadDotProductAttention(num_heads=HEADS, qkv_features=DIM, out_features=DIM).apply(
        {"params": mha}, x, x
    )

    def norm(group: dict[str, Any], z: jax.Array) -> jax.Array:
        ln = nn.LayerNorm(epsilon=NORM_EPSILON)
        return ln.apply({"params": {"scale": group["norm_scale"], "bias": group["norm_offset"]}}, z)

    x1 = norm(att, x + attended) if post else x + norm(att, attended)
    f = jax.nn.relu(x1 @ ff1["kernel"] + ff1["bias"]) @ ff2["kernel"] + ff2["bias"]
    x2 = norm(ff2, x1 + f) if post else x1 + norm(ff2, f)
    return jax.nn.softmax(x2 @ y["kernel"] + y["bias"])


@pytest.mark.parametrize("norm_at", ["output", "sum"])
def test_a_post_norm_transformer_block_computes_vaswanis(tmp_path: Path, norm_at: str) -> None:
    """`norm_at: output` on the attention group and the feed-forward's second layer gives Vaswani
    et al.'s post-norm block (`sum`: x + LN(F(x)), as before), computed independently with Flax."""
    model = cellgraph.compile(_spec(tmp_path, _block(norm_at), BLOCK_EDGES))
    params = model.init(jax.random.key(0))
    for g in ("att", "ff2"):  # away from the initial scale 1 and offset 0
        params[g] = {
            **params[g],
            "norm_scale": params[g]["norm_scale"] * jnp.linspace(0.6, 1.4, DIM),
            "norm_offset": params[g]["norm_offset"] + jnp.linspace(-0.2, 0.2, DIM),
            "bias": params[g]["bias"] + 0.1,
        }
    ids = jnp.asarray(np.random.default_rng(1).integers(0, SYMBOLS, size=(4, STEPS)))
    got = model.apply(params, ids)["y"]
    np.testing.assert_allclose(got, _reference(params, ids, post=norm_at == "output"), rtol=1e-5, atol=1e-6)
    other = _reference(params, ids, post=norm_at != "output")
    assert not np.allclose(got, other, atol=1e-3)  # the two placements really differ


# ------------------------------------------------------------------------- validation, drawing


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"norm_at": "output"}, "and the group has none"),
        ({"norm": "layer", "norm_at": "after"}, "expected one of sum, output"),
    ],
    ids=["without-norm", "unknown-place"],
)
def test_bad_norm_at_is_a_located_error_with_a_fix(tmp_path: Path, options: dict[str, Any], words: str) -> None:
    cells = {
        "x": {"type": "input", "size": 4},
        "h": {"type": "hidden", "size": 8, **options},
        "y": {"type": "output", "size": 2},
    }
    with pytest.raises(SpecError) as caught:
        cellgraph.load_graph(_spec(tmp_path, cells, ["x -> h -> y"]))
    text = caught.value.format()
    assert "net.yaml:" in text and "cells.h.norm_at" in text and words in text and "fix:" in text
    if "norm" not in options:
        assert "add `norm: layer`" in text


def test_a_type_without_norm_does_not_take_norm_at(tmp_path: Path) -> None:
    cells = {
        "x": {"type": "input", "size": 4, "sequence": True},
        "m": {"type": "memory", "size": 8, "norm_at": "output"},
        "y": {"type": "output", "size": 2},
    }
    with pytest.raises(SpecError, match=r"unknown key 'norm_at' in a memory group"):
        cellgraph.load_graph(_spec(tmp_path, cells, ["x -> m -> y"]))


def test_the_diagrams_say_post_norm(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _residual("output", "linear"), EDGES)
    for view in ("cells", "layers"):
        dot = cellgraph.render(spec, view=view).dot
        assert "layer norm" in dot and "post-norm" in dot
    assert "post-norm" not in cellgraph.render(_spec(tmp_path, _residual(None, "linear"), EDGES)).dot
