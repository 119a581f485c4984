"""JAX semantics of the cell types: how each one's parameters are made and applied.

The registry (``cellgraph.cells``) defines every cell type — options, shape rule, parameter
count, drawing style — and must import no JAX (validation and drawing stay fast), while
``cells`` may not import this layer. So the JAX half of each built-in definition lives here, as a
:class:`~.protocol.CellFns` (the cell protocol of :mod:`.protocol`: ``apply(params, inputs, ctx)
-> Out(value, Aux)``) that the type's ``impl`` pointer names (resolved on first use), with the
same shapes the registry's rules infer; what a type *is* (recurrent, noisy, ...) is read from its
registry record, never from its name; a test checks that
``jax.eval_shape(apply)`` agrees with the registry for every type and that parameter counts
match ``count_params``. Types whose dynamics arrive with later work (external
memories, ...) raise a :class:`CompileError` naming the group.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp

from ..cells.features import is_post_norm
from ..cells.recurrent import STATE_PORT
from ..cells.registry import window_tuple
from . import ops, recurrent
from .protocol import Aux, CellFns, CompileError, Ctx, Inputs, NodeInfo, Out, Params
from .sparse_ops import sparse_product

Array = jax.Array


# ------------------------------------------------------------------------------- initialisers


def _initializer(options: Mapping[str, Any], default: str) -> Callable[..., Array]:
    name = options.get("init") or "default"
    name = default if name == "default" else name
    scale = options.get("init_scale")
    init = jax.nn.initializers
    if name == "uniform":
        s = 1.0 if scale is None else float(scale)
        return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -s, s)
    if name == "normal":
        return init.normal(0.01 if scale is None else float(scale))
    table: dict[str, Callable[..., Array]] = {
        "glorot_uniform": init.glorot_uniform(),
        "glorot_normal": init.glorot_normal(),
        "he_uniform": init.he_uniform(),
        "he_normal": init.he_normal(),
        "lecun_normal": init.lecun_normal(),
        "zeros": init.zeros,
        "orthogonal": init.orthogonal(),
    }
    base = table[name]
    if scale is None:
        return base
    return lambda key, shape, dtype=jnp.float32: float(scale) * base(key, shape, dtype)


def _bias(key: Array, n: int, options: Mapping[str, Any]) -> Array:
    # ELM convention: with `init: uniform` the biases are random in [-s, s] too
    if options.get("init") == "uniform":
        return _initializer(options, "uniform")(key, (n,))
    return jnp.zeros((n,), jnp.float32)


# -------------------------------------------------------------------------------- dense family


def _uses_window(info: NodeInfo) -> bool:
    return info.options.get("window") is not None and info.in_shape is not None and len(info.in_shape) >= 2


def _init_dense(key: Array, info: NodeInfo, copies: int = 1) -> dict[str, Array]:
    if info.in_shape is None:  # fed only through symmetric or delayed edges: a bias of its own
        return (
            {"bias": jnp.zeros((copies * math.prod(info.out_shape),), jnp.float32)}
            if info.options.get("use_bias", True)
            else {}
        )
    k1, k2 = jax.random.split(key)
    if _uses_window(info):
        rank = len(info.in_shape) - 1
        window = window_tuple(info.options["window"], rank)
        cout = copies * info.out_shape[-1]
        params = {"kernel": _initializer(info.options, "glorot_uniform")(k1, (*window, info.in_shape[-1], cout))}
        if info.options.get("use_bias", True):
            params["bias"] = _bias(k2, cout, info.options)
        return params
    n_in, n_out = math.prod(info.in_shape), copies * math.prod(info.out_shape)
    params = {"kernel": _initializer(info.options, "glorot_uniform")(k1, (n_in, n_out))}
    if info.options.get("use_bias", True):
        params["bias"] = _bias(k2, n_out, info.options)
    return params


def _pre_dense(params: Mapping[str, Array], x: Array, info: NodeInfo, lead: int, copies: int = 1) -> Array:
    """The weighted sum, shaped (lead..., copies * out) flat or (lead..., *spatial, channels)."""
    if _uses_window(info):
        rank = len(info.in_shape or ()) - 1
        flat = x.reshape(-1, *x.shape[lead:])
        y = ops.conv(flat, params["kernel"], (1,) * rank, "same")
        y = y + params["bias"] if "bias" in params else y
        return y.reshape(*x.shape[:lead], *y.shape[1:])
    y = ops.dense(ops.flatten_features(x, lead), params["kernel"], params.get("bias"))
    return y


def _add_terms(pre: Array, inp: Inputs, lead: int) -> Array:
    """Identity skips and delayed terms, added to the weighted sum before the activation."""
    for t in (*inp.skips, *inp.delayed):
        pre = pre + t.reshape(*t.shape[:lead], *pre.shape[lead:])
    return pre


def _finish(pre: Array, inp: Inputs, ctx: Ctx) -> Out:
    """Shape to the group, add the skips and delayed terms before the activation, activate; `norm:`
    applies to the weighted sum before the skips (`norm_at: sum`) or to the value (`norm_at: output`)."""
    info, lead = ctx.info, ctx.lead
    pre = pre.reshape(*pre.shape[:lead], *info.out_shape)
    for t in inp.attended:  # attention edges' outputs: terms of the weighted sum, so normalised with it
        pre = pre + t
    state = None
    at_output = is_post_norm(info.options)
    if ctx.normalize is not None and not at_output:  # the weighted sum itself, before skips are added
        pre, state = ctx.normalize(pre)  # batch norm's running statistics, updated while training
    pre = _add_terms(pre, inp, lead)
    value = ops.ACTIVATIONS[info.options.get("activation", "linear")](pre)
    if ctx.normalize is not None and at_output:  # post-norm: LN(x + F(x)), Vaswani et al.'s block
        value, state = ctx.normalize(value)
    return Out(value, Aux(pre=pre, state=state))


def _apply_dense(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    x = inp.x
    if x is None and inp.attended:  # fed only by attention (and skips): the bias joins their outputs
        first = inp.attended[0]
        pre = jnp.broadcast_to(params["bias"], first.shape) if "bias" in params else jnp.zeros_like(first)
        return _finish(pre, inp, ctx)
    if x is None:  # fed only through delayed or symmetric edges: its bias, then the delayed terms
        pre = jnp.broadcast_to(params.get("bias", 0.0), ctx.info.out_shape)[None]
        return _finish(pre, inp, dataclasses.replace(ctx, lead=1))
    return _finish(_pre_dense(params, x, ctx.info, ctx.lead), inp, ctx)


def _init_hidden(key: Array, info: NodeInfo) -> Params:
    if info.options.get("activation") == "gaussian" and info.in_shape is not None:
        n_in, n_out = math.prod(info.in_shape), math.prod(info.out_shape)
        centres = _initializer(info.options, "uniform" if info.options.get("init") == "uniform" else "normal")(
            key, (n_in, n_out)
        )
        width = float(info.options.get("width", 1.0))
        return {"centres": centres, "log_width": jnp.full((n_out,), math.log(width), jnp.float32)}
    return _init_dense(key, info)


def _apply_hidden(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    if "centres" in params:
        assert inp.x is not None  # a radial group has a forward input (its centres were made for it)
        lead = ctx.lead
        out = ops.rbf(ops.flatten_features(inp.x, lead), params["centres"], params["log_width"])
        out = out.reshape(*out.shape[:lead], *ctx.info.out_shape)
        return Out(out, Aux(pre=out))
    return _apply_dense(params, inp, ctx)


def _init_probabilistic(key: Array, info: NodeInfo) -> Params:
    copies = 2 if info.options.get("distribution") == "gaussian" else 1
    return _init_dense(key, info, copies)


def _apply_probabilistic(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    info, lead, key = ctx.info, ctx.lead, ctx.key
    dist = info.options.get("distribution", "bernoulli")
    if dist == "gaussian":  # reparameterised: z = mu + sigma * eps while training, mu otherwise
        assert inp.x is not None
        both = _pre_dense(params, inp.x, info, lead, copies=2)
        mu, logvar = jnp.split(both, 2, axis=-1)
        mu = mu.reshape(*mu.shape[:lead], *info.out_shape)
        logvar = logvar.reshape(mu.shape)
        z = mu
        if ctx.train and key is not None:
            z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)
        kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=tuple(range(lead, mu.ndim)))
        return Out(z, Aux(pre=mu, kl=kl))
    out = _apply_dense(params, inp, ctx)
    if dist == "bernoulli" and ctx.train and key is not None and info.options.get("activation") == "sigmoid":
        sample = jax.random.bernoulli(key, out.value).astype(out.value.dtype)  # sampled units (no gradient)
        return Out(sample, out.aux)
    return out


# ----------------------------------------------------------------------------- convolutional


def _init_conv(key: Array, info: NodeInfo, transpose: bool = False) -> dict[str, Array]:
    assert info.in_shape is not None
    rank = len(info.in_shape) - 1
    window = window_tuple(info.options["window"], rank)
    cin, cout = info.in_shape[-1], info.out_shape[-1]
    k1, k2 = jax.random.split(key)
    params = {
        "kernel": _initializer(
            info.options, "he_uniform" if info.options.get("activation") == "relu" else "glorot_uniform"
        )(k1, (*window, cin, cout))
    }
    if info.options.get("use_bias", True):
        params["bias"] = _bias(k2, cout, info.options)
    return params


def _apply_kernel(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    info, lead, x = ctx.info, ctx.lead, inp.x
    assert x is not None  # a kernel group's edge is what its window slides over
    rank = len(info.in_shape or ()) - 1
    flat = x.reshape(-1, *x.shape[lead:])
    y = ops.conv(flat, params["kernel"], window_tuple(info.options["stride"], rank), info.options["padding"])
    y = y + params["bias"] if "bias" in params else y
    return _finish(y.reshape(*x.shape[:lead], *y.shape[1:]), inp, ctx)


def _init_convolution(key: Array, info: NodeInfo) -> dict[str, Array]:
    return _init_conv(key, info) if info.options["op"] in ("conv", "transpose") else {}


def _apply_convolution(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    info, lead, x = ctx.info, ctx.lead, inp.x
    assert x is not None
    rank = len(info.in_shape or ()) - 1
    op = info.options["op"]
    window = window_tuple(info.options["window"], rank)
    raw_stride = info.options.get("stride")
    stride = window_tuple(
        raw_stride if raw_stride is not None else (1 if op == "conv" else info.options["window"]), rank
    )
    flat = x.reshape(-1, *x.shape[lead:])
    if op in ("max_pool", "avg_pool"):
        y = ops.pool(flat, window, stride, info.options["padding"], op)
    elif op == "upsample":
        y = ops.upsample(flat, stride)
    elif op == "conv":
        y = ops.conv(flat, params["kernel"], stride, info.options["padding"])
    else:
        y = ops.conv_transpose(flat, params["kernel"], stride, info.options["padding"])
    if "bias" in params:
        y = y + params["bias"]
    return _finish(y.reshape(*x.shape[:lead], *y.shape[1:]), inp, ctx)


# --------------------------------------------------------------------------------- recurrent


_FUSED: Final = {"lstm": recurrent.lstm_sequence, "gru": recurrent.gru_sequence}
"""The override: whole-sequence layers with hand-derived gradients (custom VJPs, native kernels on
the CPU) for tanh LSTM and GRU layers without identity skips into them; measured in ``bench/``."""


def _init_recurrent(key: Array, info: NodeInfo) -> Params:
    if info.options.get("slots") is not None:  # stored states (the compiler refuses other memories)
        return _init_dense(key, info)
    rec = info.recurrence
    gates, n = rec.gates, info.out_shape[0]
    n_in = math.prod(info.in_shape) if info.in_shape is not None else 0
    k1, k2 = jax.random.split(key)
    w_in = _initializer(info.options, "glorot_uniform")(k1, (n_in, gates * n))
    rec_keys = jax.random.split(k2, gates)
    w_rec = jnp.concatenate([jax.nn.initializers.orthogonal()(k, (n, n)) for k in rec_keys], axis=1)
    bias = jnp.zeros((gates * n,), jnp.float32)
    if rec.name == "lstm":  # forget gate starts open (Gers et al. 2000): bias 1
        bias = bias.at[n : 2 * n].set(1.0)
    if rec.name == "gru":  # the update gate starts mostly closed, so the state is kept:
        bias = bias.at[:n].set(-1.0)  # z = sigmoid(-1) ~ 0.27 (with 0 the state halves every step)
    params = {"w_in": w_in, "w_rec": w_rec}
    if info.options.get("use_bias", True):
        params["bias"] = bias
    return params


def _init_carry(info: NodeInfo, batch: int, dtype: Any) -> Any:
    """Zero state: one (batch, n) array per name the recurrence carries (``h`` or ``h, c``)."""
    zero = jnp.zeros((batch, info.out_shape[0]), dtype)
    carry = info.recurrence.carry
    return tuple(zero for _ in carry) if len(carry) > 1 else zero


def _recurrent_mask(ctx: Ctx, batch: int) -> Array | None:
    """Recurrent dropout's mask of the fed-back state, (batch, units), scaled by 1 / (1 - p): drawn
    from the group's key while training, None otherwise."""
    rate = float(ctx.info.options.get("recurrent_dropout") or 0.0)
    if rate <= 0.0 or not ctx.train or ctx.key is None:
        return None
    keep = 1.0 - rate
    kept = jax.random.bernoulli(
        jax.random.fold_in(ctx.key, RECURRENT_MASK_STREAM), keep, (batch, ctx.info.out_shape[0])
    )
    return kept.astype(jnp.float32) / keep


RECURRENT_MASK_STREAM: Final = 7919
"""Folded into the group's key for its recurrent dropout mask (features fold 1, 2, ...)."""


def _started(info: NodeInfo, start: Array, dtype: Any) -> Any:
    """The carry a `state` port's value starts: the hidden state ``h`` (an LSTM's cell value ``c``
    starts at zero, as when the state is its ``h`` alone)."""
    h = start.reshape(start.shape[0], info.out_shape[0]).astype(dtype)
    return (h, *(jnp.zeros_like(h) for _ in info.recurrence.carry[1:])) if len(info.recurrence.carry) > 1 else h


def _leaky(info: NodeInfo, step: ops.Step) -> ops.Step:
    """``step`` with leaky-integrator units when the group has ``leak`` < 1 (only the plain recurrent
    cell offers it: its carry is its state h): h <- (1 - leak) h + leak step(h)."""
    leak = float(info.options.get("leak", 1.0))
    if leak == 1.0:
        return step

    def leaky(p: Array, h: Array, w_rec: Array, act: Callable[[Array], Array], mask: Array | None = None) -> Any:
        new, _ = step(p, h, w_rec, act, mask)
        h = (1.0 - leak) * h + leak * new
        return h, h

    return leaky


def _recurrence_step(info: NodeInfo) -> ops.Step:
    """The group's step: its recurrence's, or for a fixed sparse reservoir the plain step over the
    matrix's nonzeros (:func:`.sparse_ops.sparse_product`), leaky when the group says so."""
    kept = info.sparse_recurrence
    if kept is None:
        return _leaky(info, ops.STEPS[info.recurrence.name])

    def by_nonzeros(p: Array, h: Array, w_rec: Array, act: Callable[[Array], Array], mask: Array | None = None) -> Any:
        h = act(p + sparse_product(ops.fed_back(h, mask), w_rec, kept))
        return h, h

    return _leaky(info, by_nonzeros)


def _activation(info: NodeInfo) -> Callable[[Array], Array]:
    return ops.ACTIVATIONS[info.options.get("activation", "tanh")]


def _step_recurrent(params: Params, inp: Inputs, carry: Any, ctx: Ctx) -> tuple[Out, Any]:
    """One time step: ``p = b + x W + Σ delayed`` (a delayed input feeds every gate), then the
    recurrence's own step; identity skips are added to the emitted value."""
    info = ctx.info
    if info.options.get("direction") == "backward":
        raise CompileError(
            f"group '{info.name}': a backward layer reads the whole sequence first, and this network runs one "
            "step at a time (it has delayed edges); fix: use `direction: forward` here"
        )
    batch = jax.tree.leaves(carry)[0].shape[0]
    gates_n = params["w_rec"].shape[1]
    p = jnp.broadcast_to(params.get("bias", jnp.zeros((gates_n,), jnp.float32)), (batch, gates_n))
    if inp.x is not None:
        p = p + inp.x.reshape(batch, -1) @ params["w_in"]
    for e in inp.delayed:
        p = p + e
    mask = _recurrent_mask(ctx, batch)  # a step-by-step network: a fresh mask each step
    h, carry = _recurrence_step(info)(p, carry, params["w_rec"], _activation(info), mask)
    for s in inp.skips:
        h = h + s.reshape(h.shape)
    return Out(h, Aux(pre=h)), carry


def _apply_recurrent(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    """The layer over a whole sequence (a vector input is one time step); ``emit: last`` keeps the
    final state. The input projection of every step is one matmul before the scan."""
    info, x = ctx.info, inp.x
    assert x is not None  # validation gives every recurrent layer of a layer-wise graph a forward input
    if info.options.get("slots") is not None:
        return _stored(params, inp, ctx)
    if ctx.lead == 1:
        x = x[:, None]
    x = ops.flatten_features(x, 2)  # (batch, time, features)
    last = info.options.get("emit") == "last" or ctx.lead == 1
    backward = info.options.get("direction") == "backward"
    if backward:  # read last to first; the states are put back in the sequence's order below
        x = x[:, ::-1]
    tanh = info.options.get("activation", "tanh") == "tanh"
    start = inp.ports.get(STATE_PORT)  # another group's value starts it (an encoder's final state)
    mask = _recurrent_mask(ctx, x.shape[0])  # recurrent dropout while training: one mask per sequence
    plain = not inp.skips and start is None and mask is None
    fused = _FUSED.get(info.recurrence.name) if tanh and plain and info.sparse_recurrence is None else None
    if fused is not None:
        bias = params.get("bias", jnp.zeros(params["w_in"].shape[1], x.dtype))
        out = fused(x, params["w_in"], bias, params["w_rec"], last)
        out = out[:, ::-1] if backward and not last else out
        return Out(out, Aux(pre=out))
    proj = ops.dense(x, params["w_in"], params.get("bias"))  # (batch, time, g*n): hoisted
    carry = _init_carry(info, x.shape[0], proj.dtype) if start is None else _started(info, start, proj.dtype)
    step = _recurrence_step(info)
    hs = ops.scan_steps(step, jnp.swapaxes(proj, 0, 1), params["w_rec"], _activation(info), carry, mask)
    hs = jnp.swapaxes(hs, 0, 1)
    if backward:
        hs = hs[:, ::-1]
    for s in inp.skips:
        hs = hs + s.reshape(hs.shape) if s.ndim == hs.ndim else hs + s[:, None]
    if last:
        hs = hs[:, 0] if backward else hs[:, -1]  # the state after the step read last
    return Out(hs, Aux(pre=hs))


def _stored(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    """An external memory as stored states (the AN): row t is a linear write of step t's input,
    every row kept for the attention edges that read it. More steps than ``slots`` do not fit."""
    slots, steps = int(ctx.info.options["slots"]), inp.x.shape[1] if inp.x is not None and ctx.lead == 2 else 1
    if steps > slots:
        raise CompileError(
            f"group '{ctx.info.name}': {steps} steps to store, and the memory has {slots} slots; "
            f"fix: give it `slots: {steps}` or more"
        )
    return _apply_dense(params, inp, ctx)


# ---------------------------------------------------------------------------------------- table


def _later(kind: str) -> CellFns:
    def fail(*args: Any, **kwargs: Any) -> Any:
        info = next(a.info if isinstance(a, Ctx) else a for a in args if isinstance(a, NodeInfo | Ctx))
        raise CompileError(
            f"group '{info.name}' ({info.type}): {kind} compiles in a later release; validation and drawing work"
        )

    return CellFns(fail, fail)


def _no_params(key: Array, info: NodeInfo) -> Params:
    return {}


# What each registered type's ``impl`` pointer names ("cellgraph.compiler.cells:DENSE"): the
# registry stays JAX-free and this module never lists the types it serves.
SOURCE: Final = CellFns(_no_params, None)  # fed by the executor
NOISY_SOURCE: Final = CellFns(_no_params, None, stochastic=True)  # corrupted by the executor while training
HIDDEN: Final = CellFns(_init_hidden, _apply_hidden)
PROBABILISTIC: Final = CellFns(_init_probabilistic, _apply_probabilistic, stochastic=True)
DENSE: Final = CellFns(_init_dense, _apply_dense)
RECURRENT: Final = CellFns(_init_recurrent, _apply_recurrent, init_carry=_init_carry, step=_step_recurrent)
KERNEL: Final = CellFns(_init_conv, _apply_kernel)
CONVOLUTION: Final = CellFns(_init_convolution, _apply_convolution)
# the capsule type lives in .capsule (CAPSULE: squash, routing by agreement, the decoder mask)
