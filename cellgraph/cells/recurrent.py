"""Blue cells: recurrent, memory (LSTM or external memory) and gated memory (GRU).

These keep state across time steps, so their self-recurrence is implied (the chart's small
"handlebar" loops) and a cycle through one of them is legal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ..typedefs import Shape
from .features import feature_options
from .registry import (
    ELMAN,
    GRU,
    LSTM,
    PALETTE,
    CellStyle,
    Choice,
    FloatRange,
    IntRange,
    Nullable,
    Option,
    ParamRule,
    ShapeError,
    ShapeIn,
    common_compute_options,
    make_cell,
    numel,
)

_BLUE = PALETTE.blue
_EMIT = Option(Choice(("sequence", "last")), "sequence", "pass on every time step, or only the last one")
_DIRECTION = Option(
    Choice(("forward", "backward")),
    "forward",
    "read the sequence first to last, or last to first (a backward encoder: each step's state has seen "
    "the rest of the sequence; `emit: last` is then its state after the first step)",
)


def _recurrent_options(activation: str) -> dict[str, Option]:
    base = {k: v for k, v in common_compute_options(activation).items() if k not in ("shape", "window")}
    return {**base, "emit": _EMIT, "direction": _DIRECTION, **feature_options("dropout", "recurrent_dropout")}


STATE_PORT = "state"
"""The port through which another group's value starts a recurrent layer (its initial state: an
encoder's final state starting a decoder); the main port ``in`` reads the sequence."""

_PORTS = ("in", STATE_PORT)


def _vector_shape(s: ShapeIn) -> Shape:
    if s.options.get("size") is None:
        raise ShapeError("a recurrent group needs a size", "add `size: N` (the number of units)")
    n = int(s.options["size"])
    state = s.ports.get(STATE_PORT)
    if state is not None and numel(state) != n:
        raise ShapeError(
            f"its `state` port starts its {n} units, but is fed {numel(state)} values",
            f"feed it from a group of {n} cells (give the encoder `size: {n}`, or put a hidden group of {n} "
            "cells between them)",
        )
    return (n,)


def _gated_params(gates: int) -> ParamRule:  # a small factory of ParamRules
    def count(s: ShapeIn, out: Shape) -> int:
        n = numel(out)
        inputs = numel(s.incoming) if s.incoming is not None else 0
        bias = n if s.options.get("use_bias", True) else 0
        return gates * (inputs * n + n * n + bias)

    return count


RECURRENT = make_cell(
    "recurrent",
    label="Recurrent Cell",
    abbr="Rec",
    family="recurrent",
    doc="Receives its layer's own previous state besides the current input: h_t = act(x_t W + h_(t-1) U + b).",
    options={
        **_recurrent_options("tanh"),
        "leak": Option(
            FloatRange(0.0, 1.0, lo_open=True),
            1.0,
            "leaky-integrator units (Jaeger et al. 2007): h_t = (1 - leak) h_(t-1) + leak act(...); 1: plain",
        ),
    },
    style=CellStyle(_BLUE, PALETTE.blue_line, "none"),
    infer_shape=_vector_shape,
    count_params=_gated_params(ELMAN.gates),
    order=10,
    recurrence=ELMAN,
    ports=_PORTS,
    impl="cellgraph.compiler.cells:RECURRENT",
)


def _memory_shape(s: ShapeIn) -> Shape:
    if s.options.get("slots") is None:
        return _vector_shape(s)
    if STATE_PORT in s.ports:
        raise ShapeError("an external memory (`slots:`) takes no initial state", "remove the edge's `port: state`")
    if s.options.get("width") is None:
        raise ShapeError("an external memory needs the width of a row", "add `width: W` next to `slots:`")
    return (int(s.options["heads"]) * int(s.options["width"]),)  # the read vectors


INTERFACE_SIZES: Final[dict[str, Callable[[int, int], int]]] = {
    # per head (the read heads and one write head): key (W), strength, interpolation gate, 3-way
    # shift, sharpening; the write head adds erase and add vectors (Graves et al. 2014)
    "ntm": lambda width, heads: (heads + 1) * (width + 6) + 2 * width,
    # R read keys, write key, erase and write vectors, R read strengths, write strength, R free
    # gates, allocation and write gates, 3 read modes per read head (Graves et al. 2016)
    "dnc": lambda width, heads: width * heads + 3 * width + 5 * heads + 3,
}
"""Values of the interface vector one step of an external memory reads, by ``addressing:`` (the
compiler's addressing schemes agree: ``cellgraph.compiler.memory.ADDRESSING``)."""


def interface_size(options: Mapping[str, Any]) -> int:
    """The interface length of an external memory with these options (``addressing:`` set)."""
    return INTERFACE_SIZES[str(options["addressing"])](int(options["width"]), int(options["heads"]))


def _memory_params(s: ShapeIn, out: Shape) -> int:
    if s.options.get("slots") is None:
        return _gated_params(LSTM.gates)(s, out)  # input, forget, output gates and the cell input
    if s.options.get("addressing") is None:  # stored states: a linear write of the input per row
        return ((numel(s.incoming) if s.incoming is not None else 0) + 1) * numel(out)
    interface = interface_size(s.options)  # one dense map from the inputs to the interface
    inputs = numel(s.incoming) if s.incoming is not None else 0
    return inputs * interface + interface


MEMORY = make_cell(
    "memory",
    label="Memory Cell",
    abbr="Mem",
    family="recurrent",
    doc="An LSTM cell (input, forget and output gates around a summed cell value) - or, with `slots:`, "
    "the rows of an external memory read and written by soft attention (NTM, DNC, attention).",
    options={
        **_recurrent_options("tanh"),
        "slots": Option(Nullable(IntRange(1)), None, "external memory rows (NTM, DNC); omitted: an LSTM layer"),
        "width": Option(Nullable(IntRange(1)), None, "width of one memory row"),
        "heads": Option(IntRange(1, 64), 1, "read heads of an external memory"),
        "addressing": Option(
            Nullable(Choice(tuple(INTERFACE_SIZES))),
            None,
            "read and write heads of an external memory (`slots:`): ntm (content, then interpolation, "
            "shift and sharpening; Graves et al. 2014) or dnc (content, allocation and temporal links; "
            "Graves et al. 2016); omitted: the rows are stored states read by attention edges (AN)",
        ),
    },
    style=CellStyle(_BLUE, PALETTE.blue_line, "ring"),
    infer_shape=_memory_shape,
    count_params=_memory_params,
    order=11,
    recurrence=LSTM,
    ports=_PORTS,
    impl="cellgraph.compiler.memory:MEMORY",
)

GATED_MEMORY = make_cell(
    "gated_memory",
    label="Gated Memory Cell",
    abbr="GMem",
    family="recurrent",
    doc="A GRU cell: an update gate and a reset gate, no output gate.",
    options=_recurrent_options("tanh"),
    style=CellStyle(_BLUE, PALETTE.blue_line, "triangle"),
    infer_shape=_vector_shape,
    count_params=_gated_params(GRU.gates),
    order=12,
    recurrence=GRU,
    ports=_PORTS,
    impl="cellgraph.compiler.cells:RECURRENT",
)
