"""Leaky integrate-and-fire neurons: the JAX half of the ``spiking_hidden`` cell (LSM liquids).

Each step of ``dt`` ms, a neuron's weighted input ``p = b + x W + (delayed terms)`` is a current
``R I`` in mV, held over the step; the membrane potential relaxes towards ``rest + p`` with time
constant ``tau``, integrated exactly over the step,

    V <- (rest + p) + (V - (rest + p)) exp(-dt / tau),

and when it reaches ``threshold`` the neuron fires (value 1 for that step), is set to ``reset``
and held there for ``refractory`` ms. A constant current ``p`` therefore fires at
``1 / (refractory + tau ln((rest + p - reset) / (rest + p - threshold)))`` (up to ``dt``) --
the check of the dynamics in the tests. Maass et al.'s background current (13.5 nA through 1 MOhm)
is ``rest: 13.5`` here, or a bias.

With ``readout_tau`` the group passes on its spike trains low-pass filtered -- each spike adds 1
to a trace that decays with ``readout_tau`` -- which every edge out of the group reads (a
read-out, and a recurrent ``r ~> r``, whose spikes then reach their targets as exponentially
decaying currents); without it, the raw 0/1 spikes. ``emit: last`` passes on only the state
after the last step (the read-out at t = 200 ms).

Firing is a step function of the potential: there is no gradient, so backprop refuses to train a
spiking group (``differentiable=False`` in the registry); a fixed liquid needs none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp

from . import ops
from .cells import DENSE
from .protocol import Aux, CellFns, Ctx, Inputs, NodeInfo, Out, Params

Array = jax.Array
Carry = tuple[Array, Array, Array]
"""(potential V, refractory steps left, filtered trace), each (batch, cells)."""


@dataclass(frozen=True)
class Lif:
    """A group's neuron constants, read from its options (ms and mV)."""

    decay: float  # exp(-dt / tau): the potential's relaxation per step
    rest: float
    threshold: float
    reset: float
    refractory: int  # whole steps held at reset after a spike
    trace_decay: float | None  # exp(-dt / readout_tau), None: raw spikes

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Lif:
        dt, tau = float(options.get("dt", 1.0)), float(options.get("tau", 30.0))
        readout = options.get("readout_tau")
        return cls(
            decay=math.exp(-dt / tau),
            rest=float(options.get("rest", 0.0)),
            threshold=float(options.get("threshold", 15.0)),
            reset=float(options.get("reset", 13.5)),
            refractory=round(float(options.get("refractory", 3.0)) / dt),
            trace_decay=None if readout is None else math.exp(-dt / float(readout)),
        )


def lif_step(lif: Lif, p: Array, carry: Carry) -> tuple[Array, Carry]:
    """One step from current ``p`` (batch, cells): ``(spikes, carry)``, spikes 0/1 as floats."""
    v, held, trace = carry
    target = lif.rest + p
    free = held <= 0
    v = jnp.where(free, target + (v - target) * lif.decay, lif.reset)
    spikes = free & (v >= lif.threshold)
    v = jnp.where(spikes, lif.reset, v)
    held = jnp.where(spikes, float(lif.refractory), jnp.maximum(held - 1.0, 0.0))
    fired = spikes.astype(p.dtype)
    if lif.trace_decay is not None:
        trace = trace * lif.trace_decay + fired
    return fired, (v, held, trace)


def _init_carry(info: NodeInfo, batch: int, dtype: Any) -> Carry:
    n = info.out_shape[0]
    lif = Lif.of(info.options)
    return (jnp.full((batch, n), lif.rest, dtype), jnp.zeros((batch, n), dtype), jnp.zeros((batch, n), dtype))


def _current(params: Params, inp: Inputs, batch: int, n: int) -> Array:
    """The weighted input of one step: bias + x W + the delayed terms, (batch, cells)."""
    p = jnp.broadcast_to(params.get("bias", jnp.zeros((n,), jnp.float32)), (batch, n))
    if inp.x is not None:
        p = p + ops.flatten_features(inp.x, 1) @ params["kernel"]
    for e in (*inp.delayed, *inp.skips):
        p = p + e.reshape(batch, n)
    return p


def _emitted(lif: Lif, spikes: Array, carry: Carry) -> Array:
    return spikes if lif.trace_decay is None else carry[2]


def _step(params: Params, inp: Inputs, carry: Carry, ctx: Ctx) -> tuple[Out, Carry]:
    lif = Lif.of(ctx.info.options)
    batch, n = carry[0].shape
    p = _current(params, inp, batch, n)
    spikes, carry = lif_step(lif, p, carry)
    return Out(_emitted(lif, spikes, carry), Aux(pre=carry[0])), carry


def _apply(params: Params, inp: Inputs, ctx: Ctx) -> Out:
    """The group over a whole sequence (batch, time, ...) in one scan; a vector input is one step."""
    info, x = ctx.info, inp.x
    assert x is not None  # fed only through delayed edges, a group runs step-wise (_step)
    x = x[:, None] if ctx.lead == 1 else x
    batch, n = x.shape[0], info.out_shape[0]
    lif = Lif.of(info.options)

    def one(carry: Carry, x_t: Array) -> tuple[Carry, tuple[Array, Array]]:
        p = _current(params, Inputs({"in": x_t}), batch, n)
        spikes, carry = lif_step(lif, p, carry)
        return carry, (_emitted(lif, spikes, carry), carry[0])

    _, (out, v) = jax.lax.scan(one, _init_carry(info, batch, x.dtype), jnp.swapaxes(x, 0, 1))
    out, v = jnp.swapaxes(out, 0, 1), jnp.swapaxes(v, 0, 1)  # (batch, time, cells)
    if info.options.get("emit") == "last" or ctx.lead == 1:
        out, v = out[:, -1], v[:, -1]
    return Out(out, Aux(pre=v))


def rate(options: Mapping[str, Any], current: float) -> float:
    """The firing rate (Hz) of a neuron with these options driven by a constant ``current`` (mV),
    in continuous time: 1 / (refractory + tau ln((V_inf - reset) / (V_inf - threshold))), 0 below threshold."""
    lif = Lif.of(options)
    v_inf = lif.rest + current
    if v_inf <= lif.threshold:
        return 0.0
    tau, refractory = float(options.get("tau", 30.0)), float(options.get("refractory", 3.0))
    return 1000.0 / (refractory + tau * math.log((v_inf - lif.reset) / (v_inf - lif.threshold)))


SPIKING: Final = CellFns(DENSE.init, _apply, init_carry=_init_carry, step=_step)
"""What the registry's ``spiking_hidden`` points to: weights as a dense group's, LIF dynamics."""

__all__ = ["SPIKING", "Lif", "lif_step", "rate"]
