"""The JAX operations cells are made of: activations, dense and windowed maps, pooling, scans.

Everything here is a pure function of arrays (no Python state), so it composes under
``jax.jit``, ``jax.grad`` and ``jax.vmap``. Layouts are channels-last: (batch, ..., features).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Any, Final

import jax
import jax.numpy as jnp
from jax import lax


def _step(x: jax.Array) -> jax.Array:
    return (x > 0).astype(x.dtype)


ACTIVATIONS: Final[dict[str, Callable[[jax.Array], jax.Array]]] = {
    "linear": lambda x: x,
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,
    "log": jax.nn.softplus,  # the lecture's "log": log(1 + e^x)
    "softmax": jax.nn.softmax,
    "log_softmax": jax.nn.log_softmax,
    "step": _step,  # the perceptron's threshold; no gradient (validation keeps it from backprop)
    "sign": jnp.sign,
    "gaussian": lambda x: x,  # a radial unit's output is computed from distances, see rbf()
    "hard_sigmoid": jax.nn.hard_sigmoid,
    "hard_tanh": jax.nn.hard_tanh,
}


def flatten_features(x: jax.Array, lead: int) -> jax.Array:
    """Keep ``lead`` leading axes (batch, or batch and time) and flatten the rest."""
    return x.reshape(*x.shape[:lead], -1)


def dense(x: jax.Array, kernel: jax.Array, bias: jax.Array | None) -> jax.Array:
    y = x @ kernel  # (..., in) @ (in, out) -> (..., out)
    return y if bias is None else y + bias


def rbf(x: jax.Array, centres: jax.Array, log_width: jax.Array) -> jax.Array:
    """Gaussian radial units: exp(-|x - c|^2 / (2 width^2)), computed without a (…, out, in) tensor."""
    sq = jnp.sum(x * x, axis=-1, keepdims=True) - 2.0 * x @ centres + jnp.sum(centres * centres, axis=0)
    return jnp.exp(-jnp.maximum(sq, 0.0) / (2.0 * jnp.exp(2.0 * log_width)))


_DIMS: Final = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}

IM2COL_MAX_ELEMENTS: Final = 1 << 23
"""Largest patch matrix (batch x output positions x window x channels) a CPU convolution builds."""


def conv(x: jax.Array, kernel: jax.Array, stride: tuple[int, ...], padding: str) -> jax.Array:
    """A shared-weight convolution over the spatial axes of (batch, *spatial, channels).

    On the CPU, small convolutions run as one matmul over extracted patches ("im2col"): XLA's
    CPU convolution, and above all its two gradient convolutions, are far slower there at these
    sizes (measured on the digits DCN's 8x8 and 4x4 layers: the gradient of each conv 1.6-2x
    faster as patches @ kernel). Elsewhere, and for large inputs, ``lax.conv_general_dilated``.
    """
    rank = x.ndim - 2
    window = kernel.shape[:rank]
    pads = lax.padtype_to_pads(x.shape[1:-1], window, stride, padding.upper())
    out = [(x.shape[1 + i] + lo + hi - window[i]) // stride[i] + 1 for i, (lo, hi) in enumerate(pads)]
    patch = math.prod(window) * x.shape[-1]
    concrete = isinstance(x.shape[0], int)  # not a symbolic batch (export for any size): XLA's own conv
    if jax.default_backend() == "cpu" and concrete and x.shape[0] * math.prod(out) * patch <= IM2COL_MAX_ELEMENTS:
        return _im2col_conv(x, kernel, stride, pads, out)
    return lax.conv_general_dilated(x, kernel, stride, padding.upper(), dimension_numbers=_DIMS[rank])


def _im2col_conv(
    x: jax.Array, kernel: jax.Array, stride: tuple[int, ...], pads: list[tuple[int, int]], out: list[int]
) -> jax.Array:
    """The convolution as (batch * positions, window * channels) @ (window * channels, out channels).

    Patches are concatenated in the kernel's own (window..., in) order, so the kernel only reshapes.
    """
    rank = x.ndim - 2
    xp = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    patches = [
        xp[(slice(None), *(slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offset, out, stride, strict=True)))]
        for offset in itertools.product(*(range(w) for w in kernel.shape[:rank]))
    ]
    cols = jnp.concatenate(patches, axis=-1) if len(patches) > 1 else patches[0]
    y = cols.reshape(-1, cols.shape[-1]) @ kernel.reshape(-1, kernel.shape[-1])
    return y.reshape(x.shape[0], *out, kernel.shape[-1])


def conv_transpose(x: jax.Array, kernel: jax.Array, stride: tuple[int, ...], padding: str) -> jax.Array:
    rank = x.ndim - 2
    return lax.conv_transpose(x, kernel, stride, padding.upper(), dimension_numbers=_DIMS[rank])


def pool(x: jax.Array, window: tuple[int, ...], stride: tuple[int, ...], padding: str, kind: str) -> jax.Array:
    """Max or average pooling over the spatial axes of (batch, *spatial, channels).

    Tiling windows (stride = window, dividing every spatial size: the usual 2x2 pooling) work on
    the array reshaped into tiles: elementwise maxima over the window positions forward, and a
    hand-written backward pass that routes each gradient to the first maximum of its window --
    the gradient ``reduce_window`` gives, without its select-and-scatter, which was the slowest
    part of the digits DCN's training step on the CPU. Without a gradient (evaluation, ``predict``)
    max pooling is ``reduce_window``, which XLA fuses into the convolution before it: the tiled
    maxima kept it apart and doubled the DCN's forward pass at batch 8,192 (61 ms against 30 ms).
    Other windows use ``reduce_window``.
    """
    spatial = x.shape[1:-1]
    window = tuple(window)
    if tuple(stride) == window and all(n % w == 0 for n, w in zip(spatial, window, strict=True)):
        if kind == "max_pool":
            return _tile_max(x, window)
        tiles = _tiles(x, window)
        return tiles.mean(axis=tuple(2 + 2 * i for i in range(len(window))))
    dims = (1, *window, 1)
    strides = (1, *stride, 1)
    if kind == "max_pool":
        return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, padding.upper())
    total = lax.reduce_window(x, 0.0, lax.add, dims, strides, padding.upper())
    return total / float(math.prod(window))


def _tile(tiles: jax.Array, position: tuple[int, ...]) -> jax.Array:
    """The element at ``position`` of every window: (batch, n0, n1, ..., channels)."""
    index = (slice(None), *(i for p in position for i in (slice(None), p)), slice(None))
    return tiles[index]


def _untile(parts: dict[tuple[int, ...], jax.Array], window: tuple[int, ...]) -> jax.Array:
    """Inverse of :func:`_tile` over every position: (batch, n0, w0, n1, w1, ..., channels)."""

    def build(prefix: tuple[int, ...]) -> jax.Array:
        k = len(prefix)
        if k == len(window):
            return parts[prefix]
        # dims after k already carry their window axis; w_k goes right after n_k
        return jnp.stack([build((*prefix, i)) for i in range(window[k])], axis=2 + k)

    return build(())


def _tiles(x: jax.Array, window: tuple[int, ...]) -> jax.Array:
    """(batch, *spatial, channels) -> (batch, n0, w0, n1, w1, ..., channels): each window's cells."""
    split = [d for n, w in zip(x.shape[1:-1], window, strict=True) for d in (n // w, w)]
    return x.reshape(x.shape[0], *split, x.shape[-1])


def _max_of_tiles(tiles: jax.Array, window: tuple[int, ...]) -> jax.Array:
    positions = itertools.product(*(range(w) for w in window))
    return functools.reduce(jnp.maximum, (_tile(tiles, p) for p in positions))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _tile_max(x: jax.Array, window: tuple[int, ...]) -> jax.Array:
    """Max pooling over tiling windows; the primal (no gradient asked) is ``reduce_window``."""
    dims = (1, *window, 1)
    return lax.reduce_window(x, -jnp.inf, lax.max, dims, dims, "VALID")


def _tile_max_fwd(x: jax.Array, window: tuple[int, ...]) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    tiles = _tiles(x, window)
    y = _max_of_tiles(tiles, window)
    return y, (tiles, y)


def _tile_max_bwd(window: tuple[int, ...], saved: tuple[jax.Array, jax.Array], dy: jax.Array) -> tuple[jax.Array]:
    tiles, y = saved
    taken: jax.Array | None = None
    parts = {}
    for p in itertools.product(*(range(w) for w in window)):  # row-major: the first maximum wins ties
        hit = _tile(tiles, p) == y
        if taken is not None:
            hit = hit & ~taken
        taken = hit if taken is None else taken | hit
        parts[p] = jnp.where(hit, dy, jnp.zeros_like(dy))
    dtiles = _untile(parts, window)
    return (
        dtiles.reshape(dtiles.shape[0], *(n * w for n, w in zip(y.shape[1:-1], window, strict=True)), dtiles.shape[-1]),
    )


_tile_max.defvjp(_tile_max_fwd, _tile_max_bwd)


def upsample(x: jax.Array, factor: tuple[int, ...]) -> jax.Array:
    for axis, f in enumerate(factor, start=1):
        x = jnp.repeat(x, f, axis=axis)
    return x


# ------------------------------------------------------------------------------------ recurrence
#
# Each recurrence's math is written once, as a gate function of pre-activations: ``*_gates`` below.
# The step functions (``STEPS``) use them with ``jax.nn.sigmoid`` and are what the step-wise
# executor and the autodiff scans run; the hand-differentiated loops of ``compiler.recurrent``
# (the fast override for tanh LSTM and GRU layers) use them too, with a cheaper sigmoid, and add
# only the backward pass. The native C++ kernels are the one other copy (``native/``), tested
# against these. A step maps ``(p, carry, w_rec, act) -> (h, carry)``: ``p = x W + b`` is the
# step's input projection (hoisted out of the scan as one matmul for the whole sequence), and
# all gates share one fused matmul ``h U`` per step.

Sigmoid = Callable[[jax.Array], jax.Array]


def lstm_gates(
    zi: jax.Array, zf: jax.Array, zg: jax.Array, zo: jax.Array, c: jax.Array, sigmoid: Sigmoid, act: Sigmoid
) -> tuple[jax.Array, jax.Array, tuple[jax.Array, ...]]:
    """An LSTM step from its four gate pre-activations (input, forget, cell, output) and the old cell
    state: ``(h, c, (i, f, g, o))``."""
    i, f, g, o = sigmoid(zi), sigmoid(zf), act(zg), sigmoid(zo)
    c = f * c + i * g
    return o * act(c), c, (i, f, g, o)


def gru_gates(
    pz: jax.Array,
    pr: jax.Array,
    ph: jax.Array,
    rz: jax.Array,
    rr: jax.Array,
    rh: jax.Array,
    h: jax.Array,
    sigmoid: Sigmoid,
    act: Sigmoid,
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """A GRU step from its input projections (update, reset, candidate), the matching parts of
    ``h U`` and the old state: ``(h', (z, r, candidate))``.

    The reset gate scales the recurrent part of the candidate (``h U_h``), the variant cuDNN and
    PyTorch use, which lets all three recurrent products share one matmul.
    """
    z = sigmoid(pz + rz)
    r = sigmoid(pr + rr)
    cand = act(ph + r * rh)
    return (1.0 - z) * h + z * cand, (z, r, cand)


def fed_back(h: jax.Array, mask: jax.Array | None) -> jax.Array:
    """The state as the recurrent product reads it: with recurrent dropout, through its mask."""
    return h if mask is None else h * mask.astype(h.dtype)


def rnn_step(
    p: jax.Array, h: jax.Array, w_rec: jax.Array, act: Sigmoid, mask: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """One step of a plain recurrent layer: h' = act(p + h U)."""
    h = act(p + fed_back(h, mask) @ w_rec)
    return h, h


def lstm_step(
    p: jax.Array, state: tuple[jax.Array, jax.Array], w_rec: jax.Array, act: Sigmoid, mask: jax.Array | None = None
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """One LSTM step; the carry is ``(h, c)``."""
    h, c = state
    zi, zf, zg, zo = jnp.split(p + fed_back(h, mask) @ w_rec, 4, axis=-1)  # all four gates in one matmul
    h, c, _ = lstm_gates(zi, zf, zg, zo, c, jax.nn.sigmoid, act)
    return h, (h, c)


def gru_step(
    p: jax.Array, h: jax.Array, w_rec: jax.Array, act: Sigmoid, mask: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """One GRU step; the carry is ``h`` (the mask reaches the recurrent product, not the kept state)."""
    pz, pr, ph = jnp.split(p, 3, axis=-1)
    rz, rr, rh = jnp.split(fed_back(h, mask) @ w_rec, 3, axis=-1)
    h, _ = gru_gates(pz, pr, ph, rz, rr, rh, h, jax.nn.sigmoid, act)
    return h, h


Step = Callable[..., tuple[jax.Array, Any]]
"""``(p, carry, w_rec, act, mask=None) -> (h, carry)``."""

STEPS: Final[dict[str, Step]] = {"elman": rnn_step, "lstm": lstm_step, "gru": gru_step}
"""One time step of each registered :class:`~cellgraph.cells.Recurrence`, by its name."""


def scan_steps(
    step: Step, proj: jax.Array, w_rec: jax.Array, act: Sigmoid, carry: Any, mask: jax.Array | None = None
) -> jax.Array:
    """``step`` over time from ``carry``: proj (time, batch, g·n) -> hidden states (time, batch, n);
    ``mask``: recurrent dropout's, the same at every step."""

    def one(carry: Any, p: jax.Array) -> tuple[Any, jax.Array]:
        h, carry = step(p, carry, w_rec, act, mask)
        return carry, h

    return lax.scan(one, carry, proj)[1]
