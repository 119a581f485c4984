"""The JAX half of a ``memory`` group: an LSTM layer, the AN's stored states, or an external memory.

With ``slots:`` and ``addressing:`` the group is an external memory (NTM, DNC): an ``N x W``
matrix carried through ``lax.scan`` with the heads' last weightings. Its parameters are one dense
map from its inputs (concatenated: the controller's groups that feed it) to the interface vector
one step reads; the addressing scheme (:data:`ADDRESSING`, chosen by the option) squashes that
vector into keys, strengths, gates and the rest, moves the heads, reads and writes. The group's
value is what its read heads read this step, ``heads * width`` values; the spec carries it to the
controller through a delayed edge (``m ~> c``), so such a network runs step-wise
(:func:`.executor.stepwise_forward`) and one scan body holds controller, heads and memory. Fed
forward only, a memory runs its own scan over the sequence (``apply``).

Without ``slots:`` the group is an LSTM layer, and with ``slots:`` but no ``addressing:`` the
AN's stored states: both are :data:`.cells.RECURRENT`'s, delegated to unchanged.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Mapping
from typing import Any, Final, Protocol

import jax
import jax.numpy as jnp

from ..cells.recurrent import interface_size
from . import cells, memory_ops
from .protocol import Aux, CellFns, CompileError, Ctx, Inputs, NodeInfo, Out, Params

Array = jax.Array

ADDRESSING: Final[dict[str, str]] = {
    "ntm": "cellgraph.compiler.memory:NTM",
    "dnc": "cellgraph.compiler.dnc:DNC",
}
"""``addressing:`` value -> ``"module:OBJECT"``, an :class:`Addressing` imported on first use
(as the registry's ``impl`` pointers are), so a scheme lives in a module of its own."""


class Addressing(Protocol):
    """How an external memory's heads use one step's interface vector.

    The interface is raw (a linear map of the controller's values): the scheme squashes each part
    into its range itself, so the group code never knows the scheme. ``state`` is a pytree holding
    at least ``memory`` ``(B, N, W)``, ``read_w`` ``(B, heads, N)`` and ``write_w`` ``(B, N)`` (the
    views plot them); ``step`` returns the next state and the reads ``(B, heads * width)``.
    """

    def interface_size(self, slots: int, width: int, heads: int) -> int: ...

    def init_state(self, batch: int, slots: int, width: int, heads: int, dtype: Any) -> Any: ...

    def step(self, state: Any, interface: Array, slots: int, width: int, heads: int) -> tuple[Any, Array]: ...


class NTMAddressing:
    """Neural Turing machine heads (Graves et al. 2014): ``heads`` read heads and one write head,
    each addressed by content then location (:func:`.memory_ops.ntm_step`)."""

    def interface_size(self, slots: int, width: int, heads: int) -> int:
        return memory_ops.ntm_interface_size(width, heads)

    def init_state(self, batch: int, slots: int, width: int, heads: int, dtype: Any) -> Any:
        return memory_ops.ntm_init_state(batch, slots, width, heads, dtype)

    def init_bias(self, slots: int, width: int, heads: int) -> Array:
        return memory_ops.ntm_interface_bias(width, heads)

    def step(self, state: Any, interface: Array, slots: int, width: int, heads: int) -> tuple[Any, Array]:
        return memory_ops.ntm_step(state, interface, slots, width, heads)


NTM: Final = NTMAddressing()


@functools.cache
def addressing(name: str) -> Addressing:
    """The :class:`Addressing` an ``addressing:`` value names (its module imported on first use)."""
    if name not in ADDRESSING:
        raise CompileError(f"addressing {name!r}: expected one of {', '.join(ADDRESSING)}")
    module, _, attr = ADDRESSING[name].partition(":")
    scheme: Addressing = getattr(importlib.import_module(module), attr)
    return scheme


def is_external(options: Mapping[str, Any]) -> bool:
    """A memory group with read and write heads (``slots:`` and ``addressing:``)."""
    return options.get("slots") is not None and options.get("addressing") is not None


def _sizes(info: NodeInfo) -> tuple[Addressing, int, int, int]:
    o = info.options
    return addressing(str(o["addressing"])), int(o["slots"]), int(o["width"]), int(o["heads"])


# ----------------------------------------------------------------------------- the CellFns


def _init(key: Array, info: NodeInfo) -> Params:
    if not is_external(info.options):
        return cells.RECURRENT.init(key, info)
    scheme, slots, width, heads = _sizes(info)
    size = scheme.interface_size(slots, width, heads)
    if size != interface_size(info.options):  # the registry counts parameters with its own table
        raise CompileError(
            f"group '{info.name}': the {info.options['addressing']} interface is {size} values, and "
            f"the registry's parameter count assumes {interface_size(info.options)}"
        )
    n_in = math.prod(info.in_shape) if info.in_shape is not None else 0
    # a scheme may start some interface values away from zero (optional: `init_bias`)
    start = getattr(scheme, "init_bias", None)
    bias = jnp.zeros((size,), jnp.float32) if start is None else jnp.asarray(start(slots, width, heads), jnp.float32)
    return {"kernel": jax.nn.initializers.glorot_uniform()(key, (n_in, size)), "bias": bias}


def _init_carry(info: NodeInfo, batch: int, dtype: Any) -> Any:
    if not is_external(info.options):
        init_carry = cells.RECURRENT.init_carry
        assert init_carry is not None
        return init_carry(info, batch, dtype)
    scheme, slots, width, heads = _sizes(info)
    return scheme.init_state(batch, slots, width, heads, dtype)


PROBED: Final = ("memory", "read_w", "write_w", "usage", "read_modes")
"""The state entries kept per step for the views, where a scheme has them (DNC: usage, read modes)."""


def _probes(state: Mapping[str, Array]) -> dict[str, Array]:
    """What a plot of the memory reads off one step (evaluation only: training keeps none)."""
    return {k: state[k] for k in PROBED if k in state}


def _memory_step(params: Params, x: Array, state: Any, info: NodeInfo) -> tuple[Any, Array]:
    """One step: the interface from the inputs, then the scheme's heads."""
    scheme, slots, width, heads = _sizes(info)
    interface = x.reshape(x.shape[0], -1) @ params["kernel"] + params["bias"]
    return scheme.step(state, interface, slots, width, heads)


def _step(params: Params, inp: Inputs, carry: Any, ctx: Ctx) -> tuple[Out, Any]:
    info = ctx.info
    if not is_external(info.options):
        step = cells.RECURRENT.step
        assert step is not None
        return step(params, inp, carry, ctx)
    x = inp.x
    if x is None or inp.delayed or inp.skips:  # validation refuses these (graph/memory.py)
        raise CompileError(f"group '{info.name}': an external memory is fed forward by its controller (`c -> m`)")
    state, reads = _memory_step(params, x, carry, info)
    return Out(reads, Aux(pre=reads, probes=None if ctx.train else _probes(state))), state


def _apply(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    """A whole sequence through the heads (a memory whose reads feed forward only): its own scan."""
    info = ctx.info
    if not is_external(info.options):
        return cells.RECURRENT.apply(params, inp, ctx)  # type: ignore[misc]  # RECURRENT has an apply
    x = inp.x
    if x is None:
        raise CompileError(f"group '{info.name}': an external memory is fed forward by its controller (`c -> m`)")
    xs = x if ctx.lead == 2 else x[:, None]
    xs = jnp.swapaxes(xs.reshape(*xs.shape[:2], -1), 0, 1)  # (time, batch, features)
    state0 = _init_carry(info, xs.shape[1], xs.dtype)

    def body(state: Any, x_t: Array) -> tuple[Any, tuple[Array, Any]]:
        state, reads = _memory_step(params, x_t, state, info)
        return state, (reads, None if ctx.train else _probes(state))

    _, (reads, probes) = jax.lax.scan(body, state0, xs)
    reads = jnp.swapaxes(reads, 0, 1)  # (batch, time, heads * width)
    probes = jax.tree.map(lambda v: jnp.swapaxes(v, 0, 1), probes)
    if ctx.lead == 1 or info.options.get("emit") == "last":
        reads = reads[:, -1]
        probes = jax.tree.map(lambda v: v[:, -1], probes)
    return Out(reads, Aux(pre=reads, probes=probes))


MEMORY: Final = CellFns(_init, _apply, init_carry=_init_carry, step=_step)
"""The ``memory`` type's ``impl``: an external memory with ``addressing:``, else the recurrent
layer's functions (an LSTM, or the AN's stored states)."""
