"""The hand-written Flax contender: Linen modules from Flax's own layers, trained by a plain ``jax.jit`` step.

Linen keeps parameters in a pytree outside the module, so the step is a pure function under
``jax.jit`` (NNX's ``nnx.jit`` adds 1-2 ms of graph traversal per call, more than a small
network's whole step). Recurrent layers are ``nn.RNN`` over ``nn.OptimizedLSTMCell`` /
``nn.GRUCell``, Flax's recommended cells.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from hand_jax import runner, stateful_runner, stochastic_runner
from workloads import Workload


class MLP(nn.Module):
    sizes: tuple[int, ...]
    dtype: Any = jnp.float32
    layer_norm: bool = False
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.sizes[1:-1]:
            z = nn.Dense(width, dtype=self.dtype)(x)
            if self.layer_norm:
                z = nn.LayerNorm(epsilon=1e-6, dtype=self.dtype)(z)
            x = nn.relu(z)
            if self.dropout:
                x = nn.Dropout(self.dropout)(x, deterministic=not self.has_rng("dropout"))  # on with a key
        return nn.Dense(self.sizes[-1], dtype=self.dtype)(x)


class Recurrent(nn.Module):
    sizes: tuple[int, ...]
    kind: str  # lstm | gru
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        make = nn.OptimizedLSTMCell if self.kind == "lstm" else nn.GRUCell
        hs = nn.RNN(make(self.sizes[1], dtype=self.dtype))(x)  # (batch, time, hidden)
        return nn.Dense(self.sizes[2], dtype=self.dtype)(hs[:, -1])


class DCN(nn.Module):
    dtype: Any = jnp.float32
    batch_norm: bool = False  # in training mode: nn.BatchNorm's running statistics updated

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        def norm(z: jax.Array) -> jax.Array:
            if not self.batch_norm:
                return z
            return nn.BatchNorm(use_running_average=False, momentum=0.99, epsilon=1e-5, dtype=self.dtype)(z)

        for channels in (16, 32):
            x = nn.relu(norm(nn.Conv(channels, (3, 3), padding="SAME", dtype=self.dtype)(x)))
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = nn.relu(norm(nn.Dense(64, dtype=self.dtype)(x.reshape(x.shape[0], -1))))
        return nn.Dense(10, dtype=self.dtype)(x)


def module(w: Workload, dtype: Any = jnp.float32) -> nn.Module:
    """The network from Flax's layers; ``dtype`` is the compute dtype (parameters stay float32)."""
    if w.family == "mlp":
        return MLP(w.sizes, dtype, w.layer_norm, w.dropout)
    if w.family in ("lstm", "gru"):
        return Recurrent(w.sizes, w.family, dtype)
    return DCN(dtype, w.batch_norm)


def build(
    w: Workload, data: list[dict[str, Any]], precision: str = "float32"
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(step(i), sync())``: one training step on batch ``i % len(data)``, and wait for the device."""
    net = module(w, jnp.dtype(precision))
    params = net.init(jax.random.key(0), jnp.asarray(data[0]["x"]))
    if w.batch_norm:  # the batch_stats collection is the model state, updated by each step

        def stateful(p: Any, stats: Any, batch: dict[str, jax.Array]) -> tuple[jax.Array, Any]:
            out, changed = net.apply({"params": p, "batch_stats": stats}, batch["x"], mutable=["batch_stats"])
            value = optax.softmax_cross_entropy_with_integer_labels(out.astype(jnp.float32), batch["y"]).mean()
            return value, changed["batch_stats"]

        return stateful_runner(stateful, params["params"], params["batch_stats"], data)

    def loss(params: Any, batch: dict[str, jax.Array], *key: jax.Array) -> jax.Array:
        rngs = {"dropout": key[0]} if key else None
        out = net.apply(params, batch["x"], rngs=rngs).astype(jnp.float32)
        if w.loss == "xent":
            return optax.softmax_cross_entropy_with_integer_labels(out, batch["y"]).mean()
        return jnp.mean(jnp.square(out - batch["y"]))

    return stochastic_runner(loss, params, data) if w.stochastic else runner(loss, params, data)
