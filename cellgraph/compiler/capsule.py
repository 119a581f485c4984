"""Capsules (Sabour, Frosst & Hinton 2017): squash, routing by agreement, and the decoder's mask.

A capsule group's value is (batch, capsules, dim): each capsule a vector whose length is the
probability that its entity is present and whose orientation is the entity's pose. Its input
decides how it is computed, as the registry's shape rule and parameter count read it
(:mod:`cellgraph.cells.hidden`):

* **primary capsules** (``window:``, fed by feature maps): one shared *valid* convolution to
  ``types x dim`` maps, each position's ``types`` vectors squashed -- the paper's PrimaryCaps;
* **routed capsules** (fed by capsules: a ``routing`` edge): every child i predicts every parent j
  through its own transform, ``u_hat_j|i = W_ij u_i`` (no bias), and ``routing:`` iterations of
  routing by agreement (the paper's Procedure 1) choose the coupling ``c_ij``;
* capsules fed by a plain vector: a dense map to ``size x dim``, squashed.

``squash: false`` leaves the vectors as computed (their lengths are then no probabilities).

**The decoder's mask.** When the class capsules (the group the margin loss reads,
:func:`cellgraph.graph.fit.class_capsules`) feed a layer that is not a capsule group -- the
reconstruction decoder -- that layer sees them flattened with every capsule but one set to zero,
as in the paper: while training, the capsule of the true class (the executor is handed the
batch's labels by the loss); otherwise (evaluation, prediction) the longest capsule. The class
capsules' own value, which the loss, the metrics and ``predict`` read, is never masked.
"""

from __future__ import annotations

import math
from typing import Final

import jax
import jax.numpy as jnp

from ..cells.registry import CELLS, window_tuple
from . import ops
from .cells import _bias, _initializer
from .protocol import Aux, CellFns, CompileError, Ctx, Inputs, NodeInfo, Out, Params

Array = jax.Array

SQUASH_EPS: Final = 1e-9
"""Added under the square root of ``squash``: the gradient stays finite at a zero vector
(``s / ||s||`` has none there) and the value moves by less than float32 resolution elsewhere."""


def squash(s: Array, axis: int = -1) -> Array:
    """``v = ||s||^2 / (1 + ||s||^2) * s / ||s||`` (the paper's eq. 1): the direction kept, the
    length shrunk into [0, 1) -- near 0 for short vectors, towards 1 for long ones."""
    n2 = jnp.sum(jnp.square(s), axis=axis, keepdims=True)
    return s * (n2 / (1.0 + n2) / jnp.sqrt(n2 + SQUASH_EPS))


def lengths(v: Array) -> Array:
    """Each capsule's length, (..., capsules): the probability its entity is present."""
    return jnp.sqrt(jnp.sum(jnp.square(v), axis=-1) + SQUASH_EPS)


def predictions(u: Array, w: Array) -> Array:
    """``u_hat_j|i = W_ij u_i``: (batch, children, in_dim) x (children, parents, in_dim, out_dim)
    -> (batch, children, parents, out_dim)."""
    return jnp.einsum("bid,ijde->bije", u, w)


def route(u_hat: Array, iterations: int, squashed: bool = True) -> tuple[Array, Array, Array]:
    """Routing by agreement (Sabour et al. 2017, Procedure 1) over predictions ``u_hat``
    (batch, children, parents, dim): ``(v, s, c)``, the parents' outputs (batch, parents, dim),
    their total inputs before the squash, and the final coupling coefficients (batch, children,
    parents).

    The route logits ``b_ij`` start at zero for every example; each iteration takes the coupling
    ``c_i = softmax_j(b_i)`` over the parents, the parents' inputs ``s_j = sum_i c_ij u_hat_j|i``
    and outputs ``v_j = squash(s_j)``, then (but after the last) raises ``b_ij`` by the agreement
    ``u_hat_j|i . v_j``. The loop is unrolled in Python: the count is a small static option
    (1 to 10), so XLA sees one straight-line body it can fuse, and the gradient flows through
    every iteration, as the procedure is written (no stop-gradient on the predictions).
    """
    parents = u_hat.shape[2]
    # zero logits give the uniform coupling 1 / parents: the first iteration is a plain mean,
    # never a softmax of a constant array (XLA spent 15 s constant-folding that one per shape)
    coupling = jnp.full(u_hat.shape[:3], 1.0 / parents, u_hat.dtype)
    s = u_hat.sum(axis=1) / parents
    v = squash(s) if squashed else s
    logits = None
    for _ in range(iterations - 1):
        agreement = jnp.einsum("bijd,bjd->bij", u_hat, v)
        logits = agreement if logits is None else logits + agreement
        coupling = jax.nn.softmax(logits, axis=2)
        s = jnp.einsum("bij,bijd->bjd", coupling, u_hat)
        v = squash(s) if squashed else s
    return v, s, coupling


def decoder_mask(v: Array, labels: Array | None) -> Array:
    """The class capsules as the decoder reads them: every capsule zeroed but one -- the true
    class's where ``labels`` (class ids, one per example) are given (training), else the longest
    (evaluation and prediction, the paper's test-time mask)."""
    pick = jnp.argmax(lengths(v), axis=-1) if labels is None else jnp.asarray(labels).reshape(-1).astype(jnp.int32)
    keep = jax.nn.one_hot(pick, v.shape[-2], dtype=v.dtype)
    return v * keep[..., None]


# ------------------------------------------------------------------------------------ the cell


def _routed(info: NodeInfo) -> bool:
    """Fed by capsules (every source vector-valued): one transform per capsule pair, routed."""
    return bool(info.sources) and all(CELLS[t].vector_valued for t in info.sources)


def _primary(info: NodeInfo) -> bool:
    """Windowed over feature maps: the paper's primary capsules, a valid convolution."""
    return info.options.get("window") is not None and info.in_shape is not None and len(info.in_shape) >= 2


def _init(key: Array, info: NodeInfo) -> Params:
    assert info.in_shape is not None  # validation gives every capsule group a forward input
    caps, dim = info.out_shape
    k1, k2 = jax.random.split(key)
    if _routed(info):
        children, in_dim = info.in_shape[0], info.in_shape[-1]
        shape = (children, caps, in_dim, dim)
        if info.options.get("init") not in (None, "default"):
            return {"transform": _initializer(info.options, "glorot_uniform")(k1, shape)}
        # with the first iteration's uniform coupling 1/caps, unit-length children and weights of
        # variance std^2, a parent's input s_j has expected squared length children * dim * std^2
        # / caps^2: std = caps / sqrt(children * dim) makes it 1, where the squash is neither
        # flat (|s| << 1: v ~ |s| s, vanishing gradients) nor saturated (|s| >> 1)
        scale = info.options.get("init_scale")
        std = caps / math.sqrt(children * dim) * (1.0 if scale is None else float(scale))
        return {"transform": std * jax.random.normal(k1, shape, jnp.float32)}
    if _primary(info):
        window = window_tuple(info.options["window"], len(info.in_shape) - 1)
        channels = int(info.options["types"]) * dim
        params = {"kernel": _initializer(info.options, "glorot_uniform")(k1, (*window, info.in_shape[-1], channels))}
    else:
        channels = caps * dim
        params = {"kernel": _initializer(info.options, "glorot_uniform")(k1, (math.prod(info.in_shape), channels))}
    if info.options.get("use_bias", True):
        params["bias"] = _bias(k2, channels, info.options)
    return params


def _apply(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    info, lead, x = ctx.info, ctx.lead, inp.x
    if x is None or inp.delayed or inp.attended:  # never dropped silently
        raise CompileError(
            f"group '{info.name}' (capsules): a capsule group computes from its forward inputs only, and this one "
            "is fed by delayed or attention edges (or by nothing else); fix: feed it by plain edges `a -> "
            f"{info.name}`"
        )
    squashed = bool(info.options.get("squash", True))
    caps, dim = info.out_shape
    flat = x.reshape(-1, *x.shape[lead:])  # any leading axes (a sequence's steps) become examples
    if "transform" in params:
        children, in_dim = params["transform"].shape[0], params["transform"].shape[2]
        u_hat = predictions(flat.reshape(flat.shape[0], children, in_dim), params["transform"])
        v, s, _ = route(u_hat, int(info.options.get("routing", 3)), squashed)
    else:
        if _primary(info):
            rank = len(info.in_shape or ()) - 1
            stride = window_tuple(info.options.get("stride", 1), rank)
            pre = ops.conv(flat, params["kernel"], stride, "valid")
        else:
            pre = flat.reshape(flat.shape[0], -1) @ params["kernel"]
        pre = pre + params["bias"] if "bias" in params else pre
        s = pre.reshape(flat.shape[0], caps, dim)  # each position's `types` capsules, position-major
        v = squash(s) if squashed else s
    for t in inp.skips:  # identity skips join the capsules' vectors (capsule groups of one shape)
        v = v + t.reshape(-1, caps, dim)
    v = v.reshape(*x.shape[:lead], caps, dim)
    return Out(v, Aux(pre=s.reshape(v.shape)))


CAPSULE: Final = CellFns(_init, _apply)
"""The capsule type's JAX half (the registry's ``impl`` pointer names it)."""
