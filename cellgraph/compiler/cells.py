"""JAX semantics of the cell types: how each one's parameters are made and applied.

The registry (``cellgraph.cells``) defines every cell type — options, shape rule, parameter
count, drawing style — and must import no JAX (validation and drawing stay fast), while
``cells`` may not import this layer. So the JAX half of each definition lives here, as a
:class:`CellFns` that the type's ``impl`` pointer names (resolved on first use), with the same
shapes the registry's rules infer; what a type *is* (recurrent, noisy, ...) is read from its
registry record, never from its name; a test checks that
``jax.eval_shape(apply)`` agrees with the registry for every type and that parameter counts
match ``count_params``. Types whose dynamics arrive with later work (capsule routing, spiking
neurons, external memories, ...) raise a :class:`CompileError` naming the group.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp

from ..cells.registry import CELLS, CellType, Recurrence, window_tuple
from ..errors import CellgraphError
from . import ops, recurrent

Array = jax.Array


class CompileError(CellgraphError):
    """A spec that validates but cannot (yet) be compiled; the message names the group."""


@dataclass(frozen=True)
class NodeInfo:
    """What a cell's init and apply see of its group."""

    name: str
    type: str
    options: Mapping[str, Any]
    in_shape: tuple[int, ...] | None  # merged forward input, per example and step
    out_shape: tuple[int, ...]
    sources: tuple[str, ...] = ()

    @property
    def cell(self) -> CellType:
        """The group's registered type: its capabilities, not its name, decide what compiles."""
        return CELLS[self.type]

    @property
    def recurrence(self) -> Recurrence:
        """The update rule of a recurrent group (only recurrent cells ask)."""
        rec = self.cell.recurrence
        assert rec is not None, f"{self.type} is not recurrent"
        return rec


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


def _finish(pre: Array, skips: list[Array], info: NodeInfo, lead: int) -> tuple[Array, Array]:
    """Shape to the group, add identity skips before the activation, activate."""
    pre = pre.reshape(*pre.shape[:lead], *info.out_shape)
    for s in skips:
        pre = pre + s.reshape(pre.shape)
    return ops.ACTIVATIONS[info.options.get("activation", "linear")](pre), pre


def _apply_dense(params, x, skips, info, lead, key, train):  # noqa: ANN001, ANN202 - uniform signature below
    if x is None:
        pre = jnp.broadcast_to(params.get("bias", 0.0), info.out_shape)
        return _finish(pre[None], skips, info, 1)
    return _finish(_pre_dense(params, x, info, lead), skips, info, lead)


def _init_hidden(key: Array, info: NodeInfo) -> dict[str, Array]:
    if info.options.get("activation") == "gaussian" and info.in_shape is not None:
        n_in, n_out = math.prod(info.in_shape), math.prod(info.out_shape)
        centres = _initializer(info.options, "uniform" if info.options.get("init") == "uniform" else "normal")(
            key, (n_in, n_out)
        )
        width = float(info.options.get("width", 1.0))
        return {"centres": centres, "log_width": jnp.full((n_out,), math.log(width), jnp.float32)}
    return _init_dense(key, info)


def _apply_hidden(params, x, skips, info, lead, key, train):  # noqa: ANN001, ANN202
    if "centres" in params:
        out = ops.rbf(ops.flatten_features(x, lead), params["centres"], params["log_width"])
        out = out.reshape(*out.shape[:lead], *info.out_shape)
        return out, out
    return _apply_dense(params, x, skips, info, lead, key, train)


def _init_probabilistic(key: Array, info: NodeInfo) -> dict[str, Array]:
    copies = 2 if info.options.get("distribution") == "gaussian" else 1
    return _init_dense(key, info, copies)


def _apply_probabilistic(params, x, skips, info, lead, key, train):  # noqa: ANN001, ANN202
    dist = info.options.get("distribution", "bernoulli")
    if dist == "gaussian":  # reparameterised: z = mu + sigma * eps while training, mu otherwise
        both = _pre_dense(params, x, info, lead, copies=2)
        mu, logvar = jnp.split(both, 2, axis=-1)
        mu = mu.reshape(*mu.shape[:lead], *info.out_shape)
        logvar = logvar.reshape(mu.shape)
        z = mu
        if train and key is not None:
            z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)
        kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=tuple(range(lead, mu.ndim)))
        return z, {"pre": mu, "kl": kl}
    out, pre = _apply_dense(params, x, skips, info, lead, key, train)
    if dist == "bernoulli" and train and key is not None and info.options.get("activation") == "sigmoid":
        return jax.random.bernoulli(key, out).astype(out.dtype), pre  # sampled units (no gradient)
    return out, pre


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


def _apply_kernel(params, x, skips, info, lead, key, train):  # noqa: ANN001, ANN202
    rank = len(info.in_shape or ()) - 1
    flat = x.reshape(-1, *x.shape[lead:])
    y = ops.conv(flat, params["kernel"], window_tuple(info.options["stride"], rank), info.options["padding"])
    y = y + params["bias"] if "bias" in params else y
    return _finish(y.reshape(*x.shape[:lead], *y.shape[1:]), skips, info, lead)


def _init_convolution(key: Array, info: NodeInfo) -> dict[str, Array]:
    return _init_conv(key, info) if info.options["op"] in ("conv", "transpose") else {}


def _apply_convolution(params, x, skips, info, lead, key, train):  # noqa: ANN001, ANN202
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
    return _finish(y.reshape(*x.shape[:lead], *y.shape[1:]), skips, info, lead)


# --------------------------------------------------------------------------------- recurrent


_SCANS: Final = {"elman": ops.scan_rnn, "lstm": ops.scan_lstm, "gru": ops.scan_gru}
"""Each registered :class:`Recurrence` by name: a scan over time of its step."""
_FUSED: Final = {"lstm": recurrent.lstm_sequence, "gru": recurrent.gru_sequence}
"""Whole-sequence layers with custom VJPs (tanh activation, no identity skips into the layer)."""


def _init_recurrent(key: Array, info: NodeInfo) -> dict[str, Array]:
    if info.options.get("slots") is not None:
        raise CompileError(
            f"group '{info.name}': external memory ({info.type} with `slots:`) compiles with the NTM/DNC work, not yet"
        )
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


def _apply_recurrent(params, x, skips, info, lead, key, train):  # noqa: ANN001, ANN202
    act = ops.ACTIVATIONS[info.options.get("activation", "tanh")]
    if lead == 1:  # a vector input: one time step
        x = x[:, None]
    x = ops.flatten_features(x, 2)  # (batch, time, features)
    last = info.options.get("emit") == "last" or lead == 1
    fused = _FUSED.get(info.recurrence.name) if info.options.get("activation", "tanh") == "tanh" and not skips else None
    if fused is not None:  # hand-derived gradients, weight gradients outside the time loop
        bias = params.get("bias", jnp.zeros(params["w_in"].shape[1], x.dtype))
        out = fused(x, params["w_in"], bias, params["w_rec"], last)
        return out, out
    proj = ops.dense(x, params["w_in"], params.get("bias"))  # (batch, time, g*n): hoisted
    hs = _SCANS[info.recurrence.name](jnp.swapaxes(proj, 0, 1), params["w_rec"], act)  # (time, batch, n)
    hs = jnp.swapaxes(hs, 0, 1)
    for s in skips:
        hs = hs + s.reshape(hs.shape) if s.ndim == hs.ndim else hs + s[:, None]
    if last:
        return hs[:, -1], hs[:, -1]
    return hs, hs


# ---------------------------------------------------------------------------------------- table


@dataclass(frozen=True)
class CellFns:
    init: Callable[[Array, NodeInfo], dict[str, Array]]
    apply: Callable[..., tuple[Array, Any]]  # (params, x, skips, info, lead, key, train) -> (out, pre or aux)
    stochastic: bool = False  # uses its PRNG key while training (noise, sampling)


def _later(kind: str) -> CellFns:
    def fail(*args: Any, **kwargs: Any) -> Any:
        info = next(a for a in args if isinstance(a, NodeInfo))
        raise CompileError(
            f"group '{info.name}' ({info.type}): {kind} compiles in a later release; validation and drawing work"
        )

    return CellFns(fail, fail)


# What each registered type's ``impl`` pointer names ("cellgraph.compiler.cells:DENSE"): the
# registry stays JAX-free and this module never lists the types it serves.
SOURCE: Final = CellFns(lambda key, info: {}, None)  # type: ignore[arg-type]  # fed by the executor
NOISY_SOURCE: Final = CellFns(lambda key, info: {}, None, stochastic=True)  # type: ignore[arg-type]
HIDDEN: Final = CellFns(_init_hidden, _apply_hidden)
PROBABILISTIC: Final = CellFns(_init_probabilistic, _apply_probabilistic, stochastic=True)
DENSE: Final = CellFns(_init_dense, _apply_dense)
RECURRENT: Final = CellFns(_init_recurrent, _apply_recurrent)
KERNEL: Final = CellFns(_init_conv, _apply_kernel)
CONVOLUTION: Final = CellFns(_init_convolution, _apply_convolution)
SPIKING: Final = _later("leaky integrate-and-fire dynamics")
CAPSULE: Final = _later("routing by agreement")


@functools.cache
def _resolve(pointer: str) -> CellFns:
    module, _, attr = pointer.partition(":")
    fns = getattr(importlib.import_module(module), attr)
    if not isinstance(fns, CellFns):
        raise TypeError(f"{pointer} is a {type(fns).__name__}, not CellFns")
    return fns


def cell_fns(cell: CellType) -> CellFns:
    """The JAX half of ``cell``, found through its registry pointer (imported on first use)."""
    if not cell.impl:
        raise CompileError(f"cell type '{cell.name}' has no compiled implementation (its `impl` is empty)")
    return _resolve(cell.impl)


class _CellFnsByName(Mapping[str, CellFns]):
    """Every registered type name -> its :class:`CellFns`, read through the registry."""

    def __getitem__(self, name: str) -> CellFns:
        return cell_fns(CELLS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(CELLS)

    def __len__(self) -> int:
        return len(CELLS)


CELL_FNS: Final[Mapping[str, CellFns]] = _CellFnsByName()


def corrupt(x: Array, options: Mapping[str, Any], key: Array) -> Array:
    """A noisy input's corruption (training only): masking, additive Gaussian or salt and pepper."""
    level = float(options.get("level", 0.25))
    kind = options.get("noise", "masking")
    if kind == "gaussian":
        return x + level * jax.random.normal(key, x.shape, x.dtype)
    k1, k2 = jax.random.split(key)
    hit = jax.random.bernoulli(k1, level, x.shape)
    if kind == "masking":
        return jnp.where(hit, 0.0, x)
    salt = jax.random.bernoulli(k2, 0.5, x.shape).astype(x.dtype)
    return jnp.where(hit, salt, x)
