"""LSTM and GRU layers over whole sequences, with their gradients derived by hand (``jax.custom_vjp``).

Reverse-mode autodiff of a ``lax.scan`` is correct but slow on the CPU for these layers: it
accumulates the recurrent weight's gradient with one small matmul per step, and its stacked
residuals are written and read through generic slicing. The forward and backward passes here
are written as the cuDNN / oneDNN kernels are, and measured in ``bench/train_bench.py``:

* the input projection of every step is computed before the loop, one ``(time, batch, n)``
  array per gate, so each step reads whole contiguous blocks (slicing gate columns out of a
  ``(time, batch, 4n)`` array inside the loop made the loop three times slower);
* each step does one fused matmul ``h @ U`` for all gates forward and one ``dz @ Uᵀ`` backward;
* the weight gradients leave the loop: ``dU = Σ_t h_{t-1}ᵀ dz_t`` is one ``(n, T·B) @ (T·B, g·n)``
  matmul after it, and so are ``dW`` and the bias gradient;
* loop state lives in buffers written in place (``lax.fori_loop``): the forward pass writes
  each step's gate activations over its (now dead) input projections, saves only what the
  backward pass cannot recompute without a matmul (the LSTM's hidden states are rebuilt from
  o and c after the loop), and no buffer is zero-filled only to be overwritten.

The forward step of each is ``ops.lstm_gates`` / ``ops.gru_gates``, the one definition of their
math (LSTM: input, forget, cell, output; GRU: update, reset, candidate, with the reset gate
scaling ``h U_h`` as cuDNN and PyTorch do); what is written here is the loop around it and the
backward pass. The layer activation is ``tanh``; other activations use the autodiff scans in
``ops``. Tests compare values and gradients with those scans.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from cellgraph.compiler import native, ops

Array = jax.Array

_FEW_FEATURES = 4
"""Up to this many input features, the projection is a sum of broadcast products, not a matmul."""


def _project(x: Array, w_in: Array, bias: Array, gates: int) -> tuple[Array, ...]:
    """(batch, time, features) -> one (time, batch, n) input projection per gate, bias included.

    Separate arrays, not one (gates, time, batch, n) block: XLA's CPU loop fusions read a step
    of a 3-D array quickly, but a step of a 4-D one (or gate columns of a (time, batch, g·n) one)
    through a slow strided path that tripled the step time.
    """
    time_major = jnp.swapaxes(x, 0, 1)  # (time, batch, features), so the projections come out time-major
    flat = time_major.reshape(-1, x.shape[-1])
    n = w_in.shape[1] // gates
    shape = (*time_major.shape[:2], n)

    def gate(k: int) -> Array:
        w, b = w_in[:, k * n : (k + 1) * n], bias[k * n : (k + 1) * n]
        if x.shape[-1] <= _FEW_FEATURES:  # a matmul with a tiny contraction runs far below peak
            return (sum(flat[:, j, None] * w[j] for j in range(x.shape[-1])) + b).reshape(shape)
        return (flat @ w + b).reshape(shape)

    return tuple(gate(k) for k in range(gates))


# ------------------------------------------------------------------------------ chained batches
#
# A step's matmul is small ((batch, n) @ (n, g·n)), too small for XLA:CPU to spread over the
# cores. The batch is split into independent chains, each with its own matmul and buffers in the
# same loop body, so that XLA's CPU runtime may run them concurrently. Measured on 2 cores it does
# not: a profile shows every kernel of the loop body on one thread, and 1 and 2 chains train the
# GRU benchmark equally fast (10.1 ms); XLA's executor hands ready kernels to other threads only
# when more than 8 are ready at once, which more cores (more chains) may reach. That is why
# float32 LSTM and GRU layers on the CPU use native kernels instead (cellgraph.compiler.native). On other
# backends one chain is kept.


def _backend() -> str:
    return jax.default_backend()


def chains_for(batch: int) -> int:
    """How many independent batch chains a recurrent loop runs: one per CPU core, at least 16 rows each."""
    if _backend() != "cpu" or not isinstance(batch, int):  # a symbolic batch (export): one chain
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    k = max(1, min(cores, batch // 16))
    while batch % k:
        k -= 1
    return k


def _at(a: Array, t: Array) -> Array:
    """``a[t]`` along the time axis, without the negative-index handling of ``a[t]`` (t is in range)."""
    return lax.dynamic_index_in_dim(a, t, 0, keepdims=False)


def _put(a: Array, value: Array, t: Array) -> Array:
    """``a.at[t].set(value)`` in place, without the bounds handling of ``.at`` (t is in range)."""
    return lax.dynamic_update_index_in_dim(a, value, t, 0)


def _before(a: Array, t: Array) -> Array:
    """The value of the step before ``t`` (``a[t - 1]``), zero before the first: the initial state."""
    return jnp.where(t > 0, _at(a, jnp.maximum(t - 1, 0)), jnp.zeros((), a.dtype))


def _scratch(shape: tuple[int, ...], dtype: jnp.dtype, tag: int) -> Array:
    """A buffer the loop overwrites completely before reading it.

    Its content is irrelevant. On GPUs and TPUs ``lax.empty`` allocates it uninitialized. On the
    CPU ``lax.empty`` is a zero fill, and XLA shares equal constants: a dozen ``zeros`` buffers
    became one zero buffer plus a copy into each loop buffer, a tenth of the LSTM's training
    step. A distinct fill value (``tag``) per buffer keeps each one a single fill, in place.
    """
    if _backend() != "cpu":
        return lax.empty(shape, dtype)
    return jnp.full(shape, float(tag), dtype)


def _sigmoid(x: Array) -> Array:
    """The logistic function through tanh: one transcendental instead of exp and a division
    (about 25% cheaper in XLA:CPU's loop fusions; equal to ``jax.nn.sigmoid`` within 2e-7)."""
    return 0.5 * jnp.tanh(0.5 * x) + 0.5


def _split(a: Array, k: int, axis: int) -> list[Array]:
    return jnp.split(a, k, axis=axis) if k > 1 else [a]


def _join(parts: list[Array], axis: int) -> Array:
    return jnp.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]


StepFwd = Callable[[tuple[Array, ...], Array, Array], tuple[Array, Array, tuple[Array, ...]]]
"""``cell(p_t, h, c) -> (h, c, values)``: one step from the step's input projections, one per gate."""
StepBwd = Callable[..., tuple]
"""``cell(saved_t, c_prev, c, h_prev, dh, dc) -> (drec, extra, dc_prev, dh_direct)``, see :func:`_backward`."""


def _forward(
    x: Array,
    w_in: Array,
    bias: Array,
    w_rec: Array,
    gates: int,
    cell: StepFwd,
    *,
    extra: int = 0,
    cell_state: bool = True,
    rebuild: Callable[[Array, tuple[Array, ...]], Array] | None = None,
) -> tuple[list[Array], list[Array], list[Array | None], list[tuple[Array, ...]]]:
    """Run ``cell`` over time for every chain, keeping what the backward pass needs (the custom
    VJPs' fwd rule; without a gradient the layers run :func:`_infer`).

    ``cell`` returns ``gates + extra`` values per step. The first ``gates`` of them overwrite the
    step's input projections in place (a projection is dead once its step has read it), so their
    buffers need no zero-filling: filling and copying empty buffers took a tenth of the LSTM's
    training step. The ``extra`` ones get buffers of their own.

    Returns, per chain: hs (time, rows, n), the final h, the cell states (time, rows, n; with
    ``cell_state`` only) and the saved values, each (time, rows, n). ``rebuild(cs, saved)``
    computes the hidden states after the loop (the LSTM's h = o * tanh(c)) instead of writing them
    at every step.
    """
    n = w_rec.shape[0]
    k = chains_for(x.shape[0])
    projs = [_project(part, w_in, bias, gates) for part in _split(x, k, 0)]
    time, rows = projs[0][0].shape[0], projs[0][0].shape[1]
    write_h = rebuild is None

    tags = itertools.count(1)

    def buffer(steps: int) -> Array:
        return _scratch((steps, rows, n), x.dtype, next(tags))

    def start(proj: tuple[Array, ...]) -> tuple:
        kept = (*proj, *(buffer(time) for _ in range(extra)))
        cs = buffer(time) if cell_state else None
        zeros = jnp.zeros((rows, n), x.dtype)
        return buffer(time) if write_h else None, cs, zeros, zeros, kept

    def one(t: Array, carry: tuple) -> tuple:
        hs, cs, h, c, kept = carry
        h, c, values = cell(tuple(_at(p, t) for p in kept[:gates]), h, c)
        cs = _put(cs, c, t) if cell_state else None
        kept = tuple(_put(buf, v, t) for buf, v in zip(kept, values, strict=True))
        return _put(hs, h, t) if write_h else None, cs, h, c, kept

    def body(t: Array, carry: tuple) -> tuple:
        return tuple(one(t, chain) for chain in carry)

    out = lax.fori_loop(0, time, body, tuple(start(proj) for proj in projs))
    hs = [o[0] if rebuild is None else rebuild(o[1], o[4]) for o in out]
    return hs, [o[2] for o in out], [o[1] for o in out], [o[4] for o in out]


def _backward(
    x: Array,
    w_in: Array,
    w_rec: Array,
    hs: list[Array],
    cs: list[Array | None],
    saved: list[tuple[Array, ...]],
    dout: Array,
    last: bool,
    cell: StepBwd,
    projection: Callable[..., Array],
    with_extra: bool = False,
) -> tuple[Array, Array, Array, Array]:
    """Back through time for every chain, then the weight gradients as whole-sequence matmuls.

    ``cell(saved_t, c_prev, c, h_prev, dh, dc) -> (drec, extra, dc_prev, dh_direct)``: ``drec`` is
    the gradient of the step's recurrent product ``h U`` (rows, g·n), which the loop stores and
    multiplies by Uᵀ; ``extra`` a (rows, n) value the loop stores too when ``with_extra`` (else
    None); ``dh_direct`` the part of dh_{t-1} that bypasses U. After the loop,
    ``projection(drec, extra, saved)`` gives the gradient of the input projections from the
    stacked values (the same as ``drec`` unless a gate scales the recurrent product, as the GRU's
    reset gate does).

    The gradients go to fresh buffers, not over the saved values: a step's gradients each read
    several saved values, and XLA then copies every overwritten buffer at every step.
    """
    k = len(hs)
    time = hs[0].shape[0]
    douts = _split(dout, k, 0)
    w_rec_t = w_rec.T
    seq = [None if last else jnp.swapaxes(d, 0, 1) for d in douts]  # per-step output gradients
    tags = itertools.count(1)

    def start(d: Array) -> tuple:
        dh0 = d if last else jnp.zeros_like(d[:, 0])
        drec = _scratch((time, dh0.shape[0], w_rec.shape[1]), dh0.dtype, next(tags))
        extras = _scratch((time, *dh0.shape), dh0.dtype, next(tags)) if with_extra else None
        return drec, extras, dh0, jnp.zeros_like(dh0)

    def one(t: Array, j: int, carry: tuple) -> tuple:
        drec, extras, dh, dc = carry
        step_grads, cells = seq[j], cs[j]
        if step_grads is not None:
            dh = dh + _at(step_grads, t)
        c_prev = _before(cells, t) if cells is not None else None
        c = _at(cells, t) if cells is not None else None
        rec, extra, dc, direct = cell(tuple(_at(b, t) for b in saved[j]), c_prev, c, _before(hs[j], t), dh, dc)
        extras = _put(extras, extra, t) if extras is not None else None
        return _put(drec, rec, t), extras, direct + rec @ w_rec_t, dc

    def body(i: Array, carry: tuple) -> tuple:
        t = time - 1 - i
        return tuple(one(t, j, chain) for j, chain in enumerate(carry))

    out = lax.fori_loop(0, time, body, tuple(start(d) for d in douts))
    dx: list[Array] = []
    dw_in: Any = 0.0  # sums over the chains: arrays after the first
    db: Any = 0.0
    du: Any = 0.0
    for j, (drec, extras, _, _) in enumerate(out):
        dp = projection(drec, extras, saved[j])
        dp2 = dp.reshape(-1, dp.shape[-1])  # (time·rows, g·n), time-major
        x2 = jnp.swapaxes(_split(x, k, 0)[j], 0, 1).reshape(-1, x.shape[-1])
        dx.append(jnp.swapaxes((dp2 @ w_in.T).reshape(*dp.shape[:2], -1), 0, 1))
        dw_in, db = dw_in + x2.T @ dp2, db + dp2.sum(axis=0)
        # dU = sum_t h_{t-1}^T drec_t: shift the (smaller) states by one step, h_0 = 0, not drec
        h_prev = jnp.concatenate([jnp.zeros_like(hs[j][:1]), hs[j][:-1]])
        du = du + h_prev.reshape(-1, h_prev.shape[-1]).T @ drec.reshape(-1, drec.shape[-1])
    return _join(dx, 0), dw_in, db, du


def _outputs(hs: list[Array], final: list[Array], last: bool) -> Array:
    """(batch, n) final states or (batch, time, n) sequences, the chains joined again."""
    if last:
        return _join(final, 0)
    return _join([jnp.swapaxes(h, 0, 1) for h in hs], 0)


# ------------------------------------------------------------------------- native CPU kernels
#
# On the CPU, in float32, LSTM and GRU layers run as one fused native kernel per pass
# (cellgraph/compiler/native/recurrent_cpu.cc, through the XLA FFI): XLA:CPU runs the loops above
# on a single thread. Elsewhere, or without a C++ compiler, the XLA loops run. Both give the same
# values to float32 rounding (tests/test_kernels.py).


class _NativeSaved(NamedTuple):
    """What a native forward pass keeps for the backward one, time-major."""

    gates: Array  # (time, batch, 4n): LSTM i, f, g, o activations; GRU z, r, candidate and h U_h
    cells: Array | None  # LSTM (time, batch, n) cell states; None for the GRU
    hidden: Array  # (time + 1, batch, n): the zero initial state, then every step's


def _native(*arrays: Array) -> bool:
    """Whether the fused native layer runs: float32 arrays traced for the CPU, the kernels built."""
    return _backend() == "cpu" and all(a.dtype == jnp.float32 for a in arrays) and native.available()


def _native_forward(kind: str, x: Array, w_in: Array, bias: Array, w_rec: Array) -> _NativeSaved:
    batch, time, _ = x.shape
    n = w_rec.shape[0]
    gates, cells, hidden = (time, batch, 4 * n), (time, batch, n), (time + 1, batch, n)
    shapes = (gates, cells, hidden) if kind == "lstm" else (gates, hidden)
    call = jax.ffi.ffi_call(
        f"cellgraph_{kind}_forward", [jax.ShapeDtypeStruct(s, x.dtype) for s in shapes], vmap_method="sequential"
    )
    out = call(x, w_in, bias, w_rec)
    return _NativeSaved(*out) if kind == "lstm" else _NativeSaved(out[0], None, out[1])


def _native_backward(kind: str, x: Array, w_in: Array, w_rec: Array, saved: _NativeSaved, dout: Array) -> tuple:
    """The kernel gives the gradients of every step's input projection and recurrent product
    (time, batch, g·n): the same array for the LSTM; for the GRU they differ in the candidate's
    block, which the reset gate scales. The weight gradients are whole-sequence contractions of
    them, which XLA runs on all cores. ``dout``: (batch, n) for the last step, else (batch, time, n)."""
    time, batch, n = saved.hidden.shape[0] - 1, saved.hidden.shape[1], w_rec.shape[0]
    g = w_rec.shape[1]
    shape = jax.ShapeDtypeStruct((time, batch, g), x.dtype)
    if kind == "lstm":
        lstm = jax.ffi.ffi_call("cellgraph_lstm_backward", shape, vmap_method="sequential")
        dproj = drec = lstm(saved.gates, saved.cells, w_rec.T, dout)
    else:
        gru = jax.ffi.ffi_call("cellgraph_gru_backward", (shape, shape), vmap_method="sequential")
        dproj, drec = gru(saved.gates, saved.hidden, w_rec.T, dout)
    dp2 = dproj.reshape(-1, g)  # (time·batch, g·n), time-major
    x2 = jnp.swapaxes(x, 0, 1).reshape(-1, x.shape[-1])
    dx = jnp.swapaxes((dp2 @ w_in.T).reshape(time, batch, -1), 0, 1)
    # dU = sum_t h_{t-1}^T drec_t: hidden[:-1] holds every step's h_{t-1}, h_0 = 0 first
    du = saved.hidden[:-1].reshape(-1, n).T @ drec.reshape(-1, g)
    return dx, x2.T @ dp2, dp2.sum(axis=0), du


def _native_outputs(saved: _NativeSaved, last: bool) -> Array:
    return saved.hidden[-1] if last else jnp.swapaxes(saved.hidden[1:], 0, 1)


# ------------------------------------------------------------------------------------ inference


def _infer(x: Array, w_in: Array, bias: Array, step: Callable[..., tuple[Array, Any]], carry: Any, last: bool) -> Array:
    """The layer when no gradient is asked for (evaluation, ``predict``): the custom VJPs' primal.

    One scan whose step projects its own input (``x_t W + b``), as a hand-written JAX loop does: no
    (time, batch, g·n) projections and no saved gates are written. Measured on this project's CPU
    machine (LSTM 64, 100 steps, 2 features): 261 ms at batch 4,096 against 878 ms for the native
    forward kernel (which writes every gate for a backward pass that never comes) and 610 ms for
    the XLA loops of :func:`_forward`; 3 ms against 7 ms at batch 64. Training differentiates
    through the fwd/bwd rules below, which keep the native kernels.
    """

    def one(carry: Any, xt: Array) -> tuple[Any, Array | None]:
        h, carry = step(xt @ w_in + bias, carry)
        return carry, None if last else h

    final, hs = lax.scan(one, carry, jnp.swapaxes(x, 0, 1))
    if last:
        return final[0] if isinstance(final, tuple) else final
    assert hs is not None
    return jnp.swapaxes(hs, 0, 1)


# -------------------------------------------------------------------------------------- LSTM


def _lstm_cell(w_rec: Array) -> StepFwd:
    n = w_rec.shape[0]

    def cell(p: tuple[Array, ...], h: Array, c: Array) -> tuple[Array, Array, tuple[Array, ...]]:
        r = h @ w_rec
        z = [p[k] + r[:, k * n : (k + 1) * n] for k in range(4)]
        return ops.lstm_gates(z[0], z[1], z[2], z[3], c, _sigmoid, jnp.tanh)

    return cell


def _lstm_cell_grad(s: tuple[Array, ...], c_prev: Array, c: Array, h_prev: Array, dh: Array, dc: Array) -> tuple:
    i, f, g, o = s
    tc = jnp.tanh(c)
    dc = dc + dh * o * (1.0 - tc * tc)
    dz = (dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f), dc * i * (1.0 - g * g), dh * tc * o * (1.0 - o))
    return jnp.concatenate(dz, axis=-1), None, dc * f, jnp.zeros_like(dh)


def _lstm_h(cs: Array, saved: tuple[Array, ...]) -> Array:
    return saved[3] * jnp.tanh(cs)  # h = o * tanh(c)


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def lstm_sequence(x: Array, w_in: Array, bias: Array, w_rec: Array, last: bool) -> Array:
    """An LSTM layer over ``x`` (batch, time, features) from zero state.

    Args:
        w_in: (features, 4n) input weights; bias: (4n,); w_rec: (n, 4n) recurrent weights, the
            gates ordered input, forget, cell, output.
        last: return only the final hidden state (batch, n) instead of every step's (batch, time, n).
    """
    n = w_rec.shape[0]

    def step(p: Array, carry: tuple[Array, Array]) -> tuple[Array, tuple[Array, Array]]:
        h, c = carry
        z = p + h @ w_rec
        h, c, _ = ops.lstm_gates(z[:, :n], z[:, n : 2 * n], z[:, 2 * n : 3 * n], z[:, 3 * n :], c, _sigmoid, jnp.tanh)
        return h, (h, c)

    zero = jnp.zeros((x.shape[0], n), x.dtype)
    return _infer(x, w_in, bias, step, (zero, zero), last)


def _lstm_fwd(x: Array, w_in: Array, bias: Array, w_rec: Array, last: bool) -> tuple[Array, tuple]:
    if _native(x, w_in, bias, w_rec):
        native_saved = _native_forward("lstm", x, w_in, bias, w_rec)
        return _native_outputs(native_saved, last), (x, w_in, w_rec, native_saved)
    hs, final, cs, saved = _forward(x, w_in, bias, w_rec, 4, _lstm_cell(w_rec), rebuild=_lstm_h)
    return _outputs(hs, final, last), (x, w_in, w_rec, (hs, cs, saved))


def _lstm_bwd(last: bool, res: tuple, dout: Array) -> tuple[Array, Array, Array, Array]:
    x, w_in, w_rec, saved = res
    if isinstance(saved, _NativeSaved):  # the forward pass's choice, kept in the residuals' structure
        return _native_backward("lstm", x, w_in, w_rec, saved, dout)
    hs, cs, kept = saved
    return _backward(x, w_in, w_rec, hs, cs, kept, dout, last, _lstm_cell_grad, lambda drec, extra, s: drec)


lstm_sequence.defvjp(_lstm_fwd, _lstm_bwd)


# --------------------------------------------------------------------------------------- GRU


def _gru_cell(w_rec: Array) -> StepFwd:
    n = w_rec.shape[0]

    def cell(p: tuple[Array, ...], h: Array, c: Array) -> tuple[Array, Array, tuple[Array, ...]]:
        r_all = h @ w_rec
        rh = r_all[:, 2 * n :]
        h, (z, r, cand) = ops.gru_gates(p[0], p[1], p[2], r_all[:, :n], r_all[:, n : 2 * n], rh, h, _sigmoid, jnp.tanh)
        return h, c, (z, r, cand, rh)  # no cell state: c stays unused

    return cell


def _gru_cell_grad(s: tuple[Array, ...], c_prev: None, c: None, h_prev: Array, dh: Array, dc: Array) -> tuple:
    z, r, cand, rh = s
    da = dh * z * (1.0 - cand * cand)  # through the candidate's tanh
    dpz = dh * (cand - h_prev) * z * (1.0 - z)
    dpr = da * rh * r * (1.0 - r)
    # the reset gate scales h U_h: the recurrent product's gradient there is da * r, the projection's da
    return jnp.concatenate([dpz, dpr, da * r], axis=-1), da, dc, dh * (1.0 - z)


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def gru_sequence(x: Array, w_in: Array, bias: Array, w_rec: Array, last: bool) -> Array:
    """A GRU layer over ``x`` (batch, time, features) from zero state; weights as :func:`lstm_sequence`
    with three gate blocks (update, reset, candidate)."""
    n = w_rec.shape[0]

    def step(p: Array, h: Array) -> tuple[Array, Array]:
        r = h @ w_rec
        gates = (p[:, :n], p[:, n : 2 * n], p[:, 2 * n :], r[:, :n], r[:, n : 2 * n], r[:, 2 * n :])
        h, _ = ops.gru_gates(*gates, h, _sigmoid, jnp.tanh)
        return h, h

    return _infer(x, w_in, bias, step, jnp.zeros((x.shape[0], n), x.dtype), last)


def _gru_fwd(x: Array, w_in: Array, bias: Array, w_rec: Array, last: bool) -> tuple[Array, tuple]:
    if _native(x, w_in, bias, w_rec):
        native_saved = _native_forward("gru", x, w_in, bias, w_rec)
        return _native_outputs(native_saved, last), (x, w_in, w_rec, native_saved)
    hs, final, cs, saved = _forward(x, w_in, bias, w_rec, 3, _gru_cell(w_rec), extra=1, cell_state=False)
    return _outputs(hs, final, last), (x, w_in, w_rec, (hs, cs, saved))


def _gru_bwd(last: bool, res: tuple, dout: Array) -> tuple[Array, Array, Array, Array]:
    x, w_in, w_rec, saved = res
    if isinstance(saved, _NativeSaved):
        return _native_backward("gru", x, w_in, w_rec, saved, dout)
    hs, cs, kept = saved
    n = w_rec.shape[0]

    def projection(drec: Array, da: Array, s: tuple[Array, ...]) -> Array:
        return jnp.concatenate([drec[..., : 2 * n], da], axis=-1)

    return _backward(x, w_in, w_rec, hs, cs, kept, dout, last, _gru_cell_grad, projection, with_extra=True)


gru_sequence.defvjp(_gru_fwd, _gru_bwd)
