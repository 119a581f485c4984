"""JAX semantics of the group features (dropout, normalisation): what each registry pointer names.

The features themselves -- options, parameters, stage, drawing -- are defined in
:mod:`cellgraph.cells.features`, which imports no JAX; each record's ``impl`` names a
:class:`~.protocol.FeatureFns` here. The executor applies them: a ``pre`` feature through
``Ctx.normalize`` (the cell calls it on its weighted sum, or with ``norm_at: output`` on its
value after the skips and activation), a ``post`` one to the group's value.
"""

from __future__ import annotations

from typing import Any, Final

import jax
import jax.numpy as jnp

from ..cells.features import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, NORM_EPSILON
from .protocol import CompileError, Ctx, FeatureFns, NodeInfo, Params, State

Array = jax.Array


def _no_params(key: Array, info: NodeInfo) -> Params:
    return {}


def _dropout(params: Params, x: Array, ctx: Ctx) -> tuple[Array, State]:
    """Inverted dropout while training (each value kept with probability 1 - p, scaled by
    1 / (1 - p), so the expected value is unchanged); the identity otherwise."""
    if not ctx.train or ctx.key is None:
        return x, None
    keep = 1.0 - float(ctx.info.options["dropout"])
    kept = jax.random.bernoulli(ctx.key, keep, x.shape)
    return jnp.where(kept, x / jnp.asarray(keep, x.dtype), jnp.zeros((), x.dtype)), None


def _init_norm(key: Array, info: NodeInfo) -> Params:
    features = info.out_shape[-1]
    return {"norm_scale": jnp.ones((features,), jnp.float32), "norm_offset": jnp.zeros((features,), jnp.float32)}


def _wide(x: Array) -> Array:
    """Statistics in at least float32 whatever the compute precision (bfloat16's 8 bits of mantissa
    lose a variance)."""
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _layer_norm(params: Params, x: Array, ctx: Ctx) -> tuple[Array, State]:
    """Each example's (and position's) features to mean 0 and variance 1, then the learned scale
    and offset."""
    wide = _wide(x)
    mean = jnp.mean(wide, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(wide - mean), axis=-1, keepdims=True)
    y = (wide - mean) * jax.lax.rsqrt(var + NORM_EPSILON)
    return (y * params["norm_scale"] + params["norm_offset"]).astype(x.dtype), None


def _init_norm_state(info: NodeInfo) -> State:
    """Batch norm's running statistics: mean 0 and variance 1 per feature until training moves them."""
    if info.options.get("norm") != "batch":
        return None
    features = info.out_shape[-1]
    return {"norm_mean": jnp.zeros((features,), jnp.float32), "norm_var": jnp.ones((features,), jnp.float32)}


def _batch_norm(params: Params, x: Array, ctx: Ctx) -> tuple[Array, State]:
    """Training: each feature over every other axis (batch, positions, steps) of this batch, and
    the running statistics moved towards the batch's (its plain variance, as Flax's nn.BatchNorm
    and Keras keep; PyTorch keeps the n / (n - 1) corrected one). Evaluation: the running
    statistics, so one example's output does not depend on the others in its batch.

    The batch's means are products with a vector of 1 / n: XLA:CPU runs them as matrix products,
    faster than its reductions over the leading axes of a (rows, channels) array (the batch-normed
    digits DCN's step took 7 % less time, interleaved runs); the scale is folded into one factor.
    """
    wide = _wide(x)
    running = ctx.state or _init_norm_state(ctx.info)
    if ctx.train:
        rows = wide.reshape(-1, wide.shape[-1])
        weights = jnp.full((rows.shape[0],), 1.0 / rows.shape[0], rows.dtype)
        exact = jax.lax.Precision.HIGHEST  # never TF32 or bfloat16 passes on a GPU: these are statistics
        mean = jnp.dot(weights, rows, precision=exact)
        var = jnp.dot(weights, jnp.square(rows - mean), precision=exact)
        m = BATCH_NORM_MOMENTUM
        new = {
            "norm_mean": m * running["norm_mean"] + (1 - m) * jax.lax.stop_gradient(mean),
            "norm_var": m * running["norm_var"] + (1 - m) * jax.lax.stop_gradient(var),
        }
    else:
        mean, var, new = running["norm_mean"], running["norm_var"], None
    scale = params["norm_scale"] * jax.lax.rsqrt(var + BATCH_NORM_EPSILON)
    return ((wide - mean) * scale + params["norm_offset"]).astype(x.dtype), new


def _init_embedding(key: Array, info: NodeInfo) -> Params:
    """Flax's nn.Embed default: normal with variance 1 / size (fan-in along the vector)."""
    init = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)
    return {"embedding": init(key, (int(info.options["vocab"]), info.out_shape[-1]), jnp.float32)}


def _embed(params: Params, x: Array, ctx: Ctx) -> tuple[Array, State]:
    """Each token id's row of the table: (batch, [time]) ids -> (batch, [time], size). The ids
    were checked against the vocabulary with the data (a traced lookup could only clamp them)."""
    return jnp.take(params["embedding"], x.astype(jnp.int32), axis=0), None


def sinusoid(steps: int, size: int, dtype: Any = jnp.float32) -> Array:
    """Vaswani et al.'s positions, (steps, size): PE(t, 2i) = sin(t / 10000^(2i / size)) and
    PE(t, 2i + 1) = cos(t / 10000^(2i / size)) -- each pair of features a clock of its own period."""
    t = jnp.arange(steps, dtype=jnp.float32)[:, None]  # (steps, 1)
    pair = jnp.arange(0, size, 2, dtype=jnp.float32)[None, :]  # (1, ceil(size / 2)): 2i
    angle = t / jnp.power(10000.0, pair / size)  # (steps, ceil(size / 2))
    both = jnp.stack([jnp.sin(angle), jnp.cos(angle)], axis=-1).reshape(steps, -1)  # sin, cos interleaved
    return both[:, :size].astype(dtype)


def _init_position(key: Array, info: NodeInfo) -> Params:
    """A learned table, one row per step: normal with standard deviation 0.02 (BERT's and GPT-2's)."""
    if info.options.get("position") != "learned":
        return {}
    rows = int(info.options["max_length"])
    return {"position": 0.02 * jax.random.normal(key, (rows, info.out_shape[-1]), jnp.float32)}


def _add_position(params: Params, x: Array, ctx: Ctx) -> tuple[Array, State]:
    """Each step's position vector added to its values: (batch, steps, size) + (steps, size)."""
    if x.ndim < 3:
        raise CompileError(
            f"input group '{ctx.info.name}' adds positions to whole sequences, and this network runs one step at a "
            "time (it has delayed edges); fix: remove `position:` or the delayed edges"
        )
    steps, size = x.shape[1], x.shape[-1]
    if "position" not in params:
        return x + sinusoid(steps, size, x.dtype), None
    rows = params["position"].shape[0]
    if steps > rows:
        raise CompileError(
            f"input group '{ctx.info.name}' is fed sequences of {steps} steps, and its learned positions hold "
            f"{rows} (`max_length: {rows}`); fix: raise `max_length:` to the longest sequence"
        )
    return x + params["position"][:steps].astype(x.dtype), None


_NORMS: Final = {"layer": _layer_norm, "batch": _batch_norm}
"""Each `norm:` kind the registry's option offers (a test checks they agree)."""


def _normalise(params: Params, x: Array, ctx: Ctx) -> tuple[Array, State]:
    return _NORMS[ctx.info.options["norm"]](params, x, ctx)


def _in_the_cell(params: Params, x: Array, ctx: Ctx) -> tuple[Array, State]:
    """A `cell` stage feature: the cell applies it (cellgraph.compiler.cells reads the option and
    the group's key); the executor never calls this."""
    return x, None


DROPOUT: Final = FeatureFns(_no_params, _dropout)
RECURRENT_DROPOUT: Final = FeatureFns(_no_params, _in_the_cell)
EMBEDDING: Final = FeatureFns(_init_embedding, _embed)
NORM: Final = FeatureFns(_init_norm, _normalise, _init_norm_state)
NORM_AT: Final = FeatureFns(_no_params, _in_the_cell)  # the cell places `norm:` (compiler.cells._finish)
POSITION: Final = FeatureFns(_init_position, _add_position)
