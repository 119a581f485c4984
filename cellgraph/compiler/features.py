"""JAX semantics of the group features (dropout, normalisation): what each registry pointer names.

The features themselves -- options, parameters, stage, drawing -- are defined in
:mod:`cellgraph.cells.features`, which imports no JAX; each record's ``impl`` names a
:class:`~.protocol.FeatureFns` here. The executor applies them: a ``pre`` feature through
``Ctx.normalize`` (the cell calls it on its weighted sum), a ``post`` one to the group's value.
"""

from __future__ import annotations

from typing import Final

import jax
import jax.numpy as jnp

from ..cells.features import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, NORM_EPSILON
from .protocol import Ctx, FeatureFns, NodeInfo, Params, State

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
