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

from ..cells.features import NORM_EPSILON
from .protocol import Ctx, FeatureFns, NodeInfo, Params

Array = jax.Array


def _no_params(key: Array, info: NodeInfo) -> Params:
    return {}


def _dropout(params: Params, x: Array, ctx: Ctx) -> Array:
    """Inverted dropout while training (each value kept with probability 1 - p, scaled by
    1 / (1 - p), so the expected value is unchanged); the identity otherwise."""
    if not ctx.train or ctx.key is None:
        return x
    keep = 1.0 - float(ctx.info.options["dropout"])
    kept = jax.random.bernoulli(ctx.key, keep, x.shape)
    return jnp.where(kept, x / jnp.asarray(keep, x.dtype), jnp.zeros((), x.dtype))


def _init_norm(key: Array, info: NodeInfo) -> Params:
    features = info.out_shape[-1]
    return {"norm_scale": jnp.ones((features,), jnp.float32), "norm_offset": jnp.zeros((features,), jnp.float32)}


def _layer_norm(params: Params, x: Array, ctx: Ctx) -> Array:
    """Each example's (and position's) features to mean 0 and variance 1, then the learned scale
    and offset; statistics in at least float32 whatever the compute precision (bfloat16's 8 bits of
    mantissa lose a variance)."""
    wide = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    mean = jnp.mean(wide, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(wide - mean), axis=-1, keepdims=True)
    y = (wide - mean) * jax.lax.rsqrt(var + NORM_EPSILON)
    return (y * params["norm_scale"] + params["norm_offset"]).astype(x.dtype)


def _init_embedding(key: Array, info: NodeInfo) -> Params:
    """Flax's nn.Embed default: normal with variance 1 / size (fan-in along the vector)."""
    init = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)
    return {"embedding": init(key, (int(info.options["vocab"]), info.out_shape[-1]), jnp.float32)}


def _embed(params: Params, x: Array, ctx: Ctx) -> Array:
    """Each token id's row of the table: (batch, [time]) ids -> (batch, [time], size). The ids
    were checked against the vocabulary with the data (a traced lookup could only clamp them)."""
    return jnp.take(params["embedding"], x.astype(jnp.int32), axis=0)


_NORMS: Final = {"layer": _layer_norm}
"""Each `norm:` kind the registry's option offers (a test checks they agree)."""


def _normalise(params: Params, x: Array, ctx: Ctx) -> Array:
    return _NORMS[ctx.info.options["norm"]](params, x, ctx)


DROPOUT: Final = FeatureFns(_no_params, _dropout)
EMBEDDING: Final = FeatureFns(_init_embedding, _embed)
NORM: Final = FeatureFns(_init_norm, _normalise)
