"""The hand-written pure-JAX contender: what a JAX user writes without cellgraph.

Plain functions over a params pytree, ``optax.adam``, one ``jax.jit`` step with the params and
optimizer state donated. The recurrent layers are the straightforward ``lax.scan`` over
``z = x_t W + h U + b`` with the gates in one matrix -- the version the JAX documentation and
most tutorials show; cellgraph must match or beat it by its own compilation choices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax import lax
from workloads import LEARNING_RATE, Workload

glorot = jax.nn.initializers.glorot_uniform()


def _dense_init(key: jax.Array, n_in: int, n_out: int) -> dict[str, jax.Array]:
    return {"w": glorot(key, (n_in, n_out)), "b": jnp.zeros((n_out,))}


# ------------------------------------------------------------------------------------- networks


def mlp_init(key: jax.Array, sizes: tuple[int, ...]) -> list[dict[str, jax.Array]]:
    keys = jax.random.split(key, len(sizes) - 1)
    return [_dense_init(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)]


def mlp_apply(params: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def mlp_dln_init(key: jax.Array, sizes: tuple[int, ...]) -> list[dict[str, jax.Array]]:
    """An MLP whose hidden layers also learn a layer norm's scale ``g`` and offset ``s``."""
    layers = mlp_init(key, sizes)
    for layer in layers[:-1]:
        n = layer["b"].shape[0]
        layer["g"], layer["s"] = jnp.ones((n,)), jnp.zeros((n,))
    return layers


def mlp_dln_apply(params: list[dict[str, jax.Array]], x: jax.Array, key: jax.Array, rate: float) -> jax.Array:
    """Dense -> layer norm -> ReLU -> dropout (training mode) per hidden layer, then the output layer."""
    keys = jax.random.split(key, len(params) - 1)
    for layer, k in zip(params[:-1], keys, strict=True):
        z = x @ layer["w"] + layer["b"]
        mean = z.mean(-1, keepdims=True)
        z = (z - mean) * lax.rsqrt(jnp.square(z - mean).mean(-1, keepdims=True) + 1e-6) * layer["g"] + layer["s"]
        x = jax.nn.relu(z)
        x = jnp.where(jax.random.bernoulli(k, 1.0 - rate, x.shape), x / (1.0 - rate), 0.0)
    return x @ params[-1]["w"] + params[-1]["b"]


def rnn_init(key: jax.Array, sizes: tuple[int, ...], gates: int) -> dict[str, Any]:
    n_in, n, n_out = sizes
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "w": glorot(k1, (n_in, gates * n)),
        "u": jax.nn.initializers.orthogonal()(k2, (n, gates * n)),
        "b": jnp.zeros((gates * n,)),
        "out": _dense_init(k3, n, n_out),
    }


def lstm_apply(params: dict[str, Any], x: jax.Array) -> jax.Array:
    n = params["u"].shape[0]

    def cell(carry: tuple[jax.Array, jax.Array], xt: jax.Array) -> tuple[tuple[jax.Array, jax.Array], None]:
        h, c = carry
        z = xt @ params["w"] + h @ params["u"] + params["b"]
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[0], n))
    (h, _), _ = lax.scan(cell, (zeros, zeros), jnp.swapaxes(x, 0, 1))
    return h @ params["out"]["w"] + params["out"]["b"]


def gru_apply(params: dict[str, Any], x: jax.Array) -> jax.Array:
    n = params["u"].shape[0]

    def cell(h: jax.Array, xt: jax.Array) -> tuple[jax.Array, None]:
        xz, xr, xh = jnp.split(xt @ params["w"] + params["b"], 3, axis=-1)
        hz, hr, hh = jnp.split(h @ params["u"], 3, axis=-1)
        z = jax.nn.sigmoid(xz + hz)
        r = jax.nn.sigmoid(xr + hr)
        return (1.0 - z) * h + z * jnp.tanh(xh + r * hh), None

    h, _ = lax.scan(cell, jnp.zeros((x.shape[0], n)), jnp.swapaxes(x, 0, 1))
    return h @ params["out"]["w"] + params["out"]["b"]


def dcn_init(key: jax.Array) -> dict[str, Any]:
    k = jax.random.split(key, 4)
    he = jax.nn.initializers.he_uniform()
    return {
        "c1": {"w": he(k[0], (3, 3, 1, 16)), "b": jnp.zeros((16,))},
        "c2": {"w": he(k[1], (3, 3, 16, 32)), "b": jnp.zeros((32,))},
        "h": _dense_init(k[2], 128, 64),
        "y": _dense_init(k[3], 64, 10),
    }


def _conv_relu_pool(x: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    x = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    x = jax.nn.relu(x + p["b"])
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def dcn_apply(params: dict[str, Any], x: jax.Array) -> jax.Array:
    x = _conv_relu_pool(x, params["c1"])
    x = _conv_relu_pool(x, params["c2"])
    x = jax.nn.relu(x.reshape(x.shape[0], -1) @ params["h"]["w"] + params["h"]["b"])
    return x @ params["y"]["w"] + params["y"]["b"]


BN_MOMENTUM, BN_EPSILON = 0.99, 1e-5
"""Flax's nn.BatchNorm defaults, which cellgraph's `norm: batch` uses too."""


def dcn_bn_init(key: jax.Array) -> dict[str, Any]:
    """The DCN's parameters and, per normalised layer, a batch norm's scale ``g`` and offset ``s``."""
    params = dcn_init(key)
    for name, n in (("c1", 16), ("c2", 32), ("h", 64)):
        params[name]["g"], params[name]["s"] = jnp.ones((n,)), jnp.zeros((n,))
    return params


def dcn_bn_state() -> dict[str, Any]:
    """The running mean and variance of each normalised layer: the model state."""
    return {name: {"mean": jnp.zeros((n,)), "var": jnp.ones((n,))} for name, n in (("c1", 16), ("c2", 32), ("h", 64))}


def _batch_norm(z: jax.Array, p: dict[str, jax.Array], s: dict[str, jax.Array]) -> tuple[jax.Array, Any]:
    """Training mode: each channel over every other axis of the batch; the running statistics moved."""
    axes = tuple(range(z.ndim - 1))
    mean = z.mean(axes)
    var = jnp.square(z - mean).mean(axes)
    y = (z - mean) * lax.rsqrt(var + BN_EPSILON) * p["g"] + p["s"]
    m = BN_MOMENTUM
    return y, {"mean": m * s["mean"] + (1 - m) * mean, "var": m * s["var"] + (1 - m) * var}


def dcn_bn_apply(params: dict[str, Any], state: dict[str, Any], x: jax.Array) -> tuple[jax.Array, dict[str, Any]]:
    """Conv -> batch norm -> ReLU -> max pool, twice; dense -> batch norm -> ReLU; the output layer."""
    new = {}
    for name in ("c1", "c2"):
        p = params[name]
        z = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["b"]
        z, new[name] = _batch_norm(z, p, state[name])
        x = lax.reduce_window(jax.nn.relu(z), -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    z, new["h"] = _batch_norm(x.reshape(x.shape[0], -1) @ params["h"]["w"] + params["h"]["b"], params["h"], state["h"])
    return jax.nn.relu(z) @ params["y"]["w"] + params["y"]["b"], new


def transformer_init(key: jax.Array, sizes: tuple[int, ...]) -> dict[str, Any]:
    """Wq, Wk, Wv, Wo of the attention, two layer norms, the feed-forward pair and the classifier."""
    d, _, ff, classes = sizes
    k = jax.random.split(key, 7)
    lecun = jax.nn.initializers.lecun_normal()
    return {
        "q": {"w": lecun(k[0], (d, d)), "b": jnp.zeros((d,))},
        "k": {"w": lecun(k[1], (d, d)), "b": jnp.zeros((d,))},
        "v": {"w": lecun(k[2], (d, d)), "b": jnp.zeros((d,))},
        "o": {"w": lecun(k[3], (d, d)), "b": jnp.zeros((d,))},
        "ln1": {"g": jnp.ones((d,)), "s": jnp.zeros((d,))},
        "ff1": _dense_init(k[4], d, ff),
        "ff2": _dense_init(k[5], ff, d),
        "ln2": {"g": jnp.ones((d,)), "s": jnp.zeros((d,))},
        "y": _dense_init(k[6], d, classes),
    }


def _layer_norm(z: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    mean = z.mean(-1, keepdims=True)
    return (z - mean) * lax.rsqrt(jnp.square(z - mean).mean(-1, keepdims=True) + 1e-6) * p["g"] + p["s"]


def transformer_apply(params: dict[str, Any], x: jax.Array, heads: int) -> jax.Array:
    """LN(x + attention(x)), then LN(a + FF(a)) (post-norm, as PyTorch's nn.TransformerEncoderLayer),
    then logits per position: (batch, T, d) -> (batch, T, classes)."""
    b, t, d = x.shape

    def split(p: dict[str, jax.Array]) -> jax.Array:  # (b, t, d) -> (b, t, heads, d / heads)
        return (x @ p["w"] + p["b"]).reshape(b, t, heads, d // heads)

    q, k, v = split(params["q"]) / jnp.sqrt(d // heads), split(params["k"]), split(params["v"])
    w = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k), axis=-1)
    att = jnp.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, t, d) @ params["o"]["w"] + params["o"]["b"]
    a = _layer_norm(x + att, params["ln1"])
    f = jax.nn.relu(a @ params["ff1"]["w"] + params["ff1"]["b"]) @ params["ff2"]["w"] + params["ff2"]["b"]
    h = _layer_norm(a + f, params["ln2"])
    return h @ params["y"]["w"] + params["y"]["b"]


def network(w: Workload) -> tuple[Callable[[jax.Array], Any], Callable[..., jax.Array]]:
    """(init, apply) of the workload's network, written by hand; a stochastic workload's apply
    takes ``(params, x, key)``, a batch-normalised one's ``(params, state, x) -> (out, state)``."""
    if w.batch_norm:
        return dcn_bn_init, dcn_bn_apply
    if w.family == "mlp" and (w.layer_norm or w.dropout):
        assert w.layer_norm and w.dropout, "the hand-written MLPs have both or neither"
        return (lambda key: mlp_dln_init(key, w.sizes)), lambda p, x, key: mlp_dln_apply(p, x, key, w.dropout)
    if w.family == "mlp":
        return (lambda key: mlp_init(key, w.sizes)), mlp_apply
    if w.family == "lstm":
        return (lambda key: rnn_init(key, w.sizes, 4)), lstm_apply
    if w.family == "gru":
        return (lambda key: rnn_init(key, w.sizes, 3)), gru_apply
    if w.family == "transformer":
        return (lambda key: transformer_init(key, w.sizes)), lambda p, x: transformer_apply(p, x, w.sizes[1])
    return dcn_init, dcn_apply


def loss_of(w: Workload, apply: Callable[..., jax.Array], precision: str = "float32") -> Callable[..., jax.Array]:
    """Mean loss of a batch; in bfloat16, parameters and inputs are cast down and the output back up
    (mixed precision: float32 master weights, float32 loss), as cellgraph's ``precision`` does."""
    dtype = jnp.dtype(precision)

    def loss(params: Any, batch: dict[str, jax.Array], *key: jax.Array) -> jax.Array:
        if dtype != jnp.float32:
            params = jax.tree.map(lambda a: a.astype(dtype), params)
        out = apply(params, batch["x"].astype(dtype), *key).astype(jnp.float32)
        if w.loss == "xent":
            return optax.softmax_cross_entropy_with_integer_labels(out, batch["y"]).mean()
        return jnp.mean(jnp.square(out - batch["y"]))

    return loss


# ------------------------------------------------------------------------------------- contender


def build(
    w: Workload, data: list[dict[str, Any]], precision: str = "float32"
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(step(i), sync())``: one training step on batch ``i % len(data)``, and wait for the device."""
    init, apply = network(w)
    if w.batch_norm:
        return stateful_runner(stateful_loss_of(w, apply), init(jax.random.key(0)), dcn_bn_state(), data)
    if w.stochastic:
        return stochastic_runner(loss_of(w, apply, precision), init(jax.random.key(0)), data)
    return runner(loss_of(w, apply, precision), init(jax.random.key(0)), data)


def runner(
    loss: Callable[[Any, Any], jax.Array], params: Any, data: list[dict[str, Any]]
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """Adam at the benchmark's rate, one ``jax.jit`` step with params and optimizer state donated,
    batches on the device before timing (the Flax contender trains through this too)."""
    tx = optax.adam(LEARNING_RATE)
    opt_state = tx.init(params)

    def _step(params: Any, opt_state: Any, batch: dict[str, jax.Array]) -> tuple[Any, Any, jax.Array]:
        value, grads = jax.value_and_grad(loss)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    step_fn = jax.jit(_step, donate_argnums=(0, 1))
    device = [jax.device_put(b) for b in data]
    state = {"params": params, "opt": opt_state, "loss": None}

    def step(i: int) -> None:
        state["params"], state["opt"], state["loss"] = step_fn(state["params"], state["opt"], device[i % len(device)])

    def sync() -> None:
        jax.block_until_ready(state["params"])

    return step, sync


def stateful_loss_of(w: Workload, apply: Callable[..., Any]) -> Callable[..., tuple[jax.Array, Any]]:
    """``(params, state, batch) -> (mean loss, next state)`` for a network with model state."""

    def loss(params: Any, state: Any, batch: dict[str, jax.Array]) -> tuple[jax.Array, Any]:
        out, state = apply(params, state, batch["x"])
        return optax.softmax_cross_entropy_with_integer_labels(out, batch["y"]).mean(), state

    return loss


def stateful_runner(
    loss: Callable[..., tuple[jax.Array, Any]], params: Any, model_state: Any, data: list[dict[str, Any]]
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """:func:`runner` for a network with model state (batch norm's running statistics): the step
    carries the state too, returned by the loss beside its value (the Flax contender's as well)."""
    tx = optax.adam(LEARNING_RATE)

    def _step(params: Any, opt_state: Any, kept: Any, batch: dict[str, jax.Array]) -> tuple[Any, Any, Any, jax.Array]:
        (value, kept), grads = jax.value_and_grad(loss, has_aux=True)(params, kept, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, kept, value

    step_fn = jax.jit(_step, donate_argnums=(0, 1, 2))
    device = [jax.device_put(b) for b in data]
    state = {"params": params, "opt": tx.init(params), "kept": model_state, "loss": None}

    def step(i: int) -> None:
        state["params"], state["opt"], state["kept"], state["loss"] = step_fn(
            state["params"], state["opt"], state["kept"], device[i % len(device)]
        )

    def sync() -> None:
        jax.block_until_ready(state["params"])

    return step, sync


def stochastic_runner(
    loss: Callable[[Any, Any, jax.Array], jax.Array], params: Any, data: list[dict[str, Any]]
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """:func:`runner` for a network that draws random numbers while training (dropout): the step
    also carries a PRNG key and splits a fresh one off it each time, inside the jitted step."""
    tx = optax.adam(LEARNING_RATE)

    def _step(
        params: Any, opt_state: Any, key: jax.Array, batch: dict[str, jax.Array]
    ) -> tuple[Any, Any, jax.Array, jax.Array]:
        key, sub = jax.random.split(key)
        value, grads = jax.value_and_grad(loss)(params, batch, sub)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key, value

    step_fn = jax.jit(_step, donate_argnums=(0, 1, 2))
    device = [jax.device_put(b) for b in data]
    state = {"params": params, "opt": tx.init(params), "key": jax.random.key(1), "loss": None}

    def step(i: int) -> None:
        state["params"], state["opt"], state["key"], state["loss"] = step_fn(
            state["params"], state["opt"], state["key"], device[i % len(device)]
        )

    def sync() -> None:
        jax.block_until_ready(state["params"])

    return step, sync
