"""Green cells: hidden, probabilistic, spiking and capsule cells."""

from __future__ import annotations

import math

from ..typedefs import Shape
from .features import feature_options
from .registry import (
    CELLS,
    PALETTE,
    Bool,
    CellStyle,
    Choice,
    FloatRange,
    IntRange,
    Nullable,
    Option,
    ShapeError,
    ShapeIn,
    Window,
    common_compute_options,
    dense_params,
    dense_shape,
    make_cell,
    numel,
    tie_option,
    window_tuple,
)

_GREEN = PALETTE.green


def _hidden_params(s: ShapeIn, out: Shape) -> int:
    if s.options.get("activation") == "gaussian" and s.incoming is not None:
        # RBF unit: a centre per cell over the input, plus one width per cell
        return numel(s.incoming) * numel(out) + numel(out)
    return dense_params(s, out)


HIDDEN = make_cell(
    "hidden",
    label="Hidden Cell",
    abbr="H",
    family="hidden",
    doc="The basic cell: activation(weighted sum of its inputs + bias). With `activation: gaussian` "
    "it is a radial-basis unit exp(-|x - c|^2 / (2 width^2)), as the chart draws RBF networks.",
    options={
        **common_compute_options("relu"),
        "width": Option(FloatRange(0.0, lo_open=True), 1.0, "radius of a gaussian (RBF) unit"),
        **feature_options("dropout", "norm", "norm_at"),
        "tie": tie_option(),
    },
    style=CellStyle(_GREEN, None, "none"),
    infer_shape=dense_shape,
    count_params=_hidden_params,
    order=4,
    impl="cellgraph.compiler.cells:HIDDEN",
)


def _probabilistic_params(s: ShapeIn, out: Shape) -> int:
    copies = 2 if s.options.get("distribution") == "gaussian" else 1  # mean and log-variance
    return dense_params(s, out, copies)


PROBABILISTIC_HIDDEN = make_cell(
    "probabilistic_hidden",
    label="Probablistic Hidden Cell",
    abbr="PH",
    family="hidden",
    doc="A hidden cell whose value is sampled: Bernoulli units (BM, RBM, DBN), a reparameterised "
    "Gaussian code (VAE, DCIGN) or the states of a Markov chain (categorical).",
    options={
        **common_compute_options("sigmoid"),
        "distribution": Option(Choice(("bernoulli", "gaussian", "categorical")), "bernoulli", "what the cell samples"),
    },
    style=CellStyle(_GREEN, None, "ring"),
    infer_shape=dense_shape,
    count_params=_probabilistic_params,
    order=5,
    probabilistic=True,
    impl="cellgraph.compiler.cells:PROBABILISTIC",
)

SPIKING_HIDDEN = make_cell(
    "spiking_hidden",
    label="Spiking Hidden Cell",
    abbr="SH",
    family="hidden",
    doc="A leaky integrate-and-fire neuron: integrates its input over time and fires when its potential "
    "crosses the threshold (liquid state machine).",
    options={
        **{k: v for k, v in common_compute_options("linear").items() if k not in ("activation", "window")},
        "tau": Option(FloatRange(0.0, lo_open=True), 30.0, "membrane time constant (ms)"),
        "threshold": Option(FloatRange(), 15.0, "firing threshold (mV)"),
        "reset": Option(FloatRange(), 13.5, "potential after a spike (mV)"),
        "rest": Option(FloatRange(), 0.0, "resting potential (mV)"),
        "refractory": Option(FloatRange(0.0), 3.0, "dead time after a spike (ms)"),
        "dt": Option(FloatRange(0.0, lo_open=True), 1.0, "simulation time step (ms)"),
        "emit": Option(Choice(("sequence", "last")), "sequence", "pass on every time step, or only the last state"),
        "readout_tau": Option(
            Nullable(FloatRange(0.0, lo_open=True)),
            None,
            "low-pass filter (ms) of the spike trains a read-out sees; none: raw spikes",
        ),
    },
    style=CellStyle(_GREEN, None, "triangle"),
    infer_shape=dense_shape,
    count_params=dense_params,
    order=6,
    differentiable=False,
    impl="cellgraph.compiler.spiking:SPIKING",
)


def _primary_grid(s: ShapeIn) -> tuple[int, ...]:
    """Positions of windowed (primary) capsules: a valid convolution of the input map."""
    inc = s.incoming or ()
    rank = len(inc) - 1
    win = window_tuple(s.options["window"], rank)
    stride = window_tuple(s.options["stride"], rank)
    grid = tuple((n - k) // st + 1 for n, k, st in zip(inc[:-1], win, stride, strict=True))
    if min(grid) < 1:
        raise ShapeError(f"window {list(win)} is larger than the input {list(inc[:-1])}", "use a smaller window")
    return grid


def _capsule_shape(s: ShapeIn) -> Shape:
    if s.options.get("shape") is not None:
        raise ShapeError(
            "a capsule group takes `size` and `dim`, not `shape`", "replace `shape:` by `size:` and `dim:`"
        )
    dim = int(s.options["dim"])
    if s.options.get("window") is not None and s.incoming is not None and len(s.incoming) >= 2:
        # primary capsules: `types` capsules of `dim` values at every window position
        size = math.prod(_primary_grid(s)) * int(s.options["types"])
        if s.options.get("size") is not None and s.options["size"] != size:
            raise ShapeError(
                f"{s.options['types']} capsule types at {list(_primary_grid(s))} positions make {size} capsules, "
                f"not {s.options['size']}",
                f"set `size: {size}` or remove it (it is inferred)",
            )
        return (size, dim)
    if s.options.get("size") is None:
        raise ShapeError("a capsule group needs a size (the number of capsules)", "add `size: N`")
    return (int(s.options["size"]), dim)


def _capsule_params(s: ShapeIn, out: Shape) -> int:
    if s.incoming is None:
        return 0
    if s.sources and all(CELLS[t].vector_valued for t in s.sources):
        in_caps, in_dim = s.incoming[0], s.incoming[-1]
        return in_caps * out[0] * in_dim * out[1]  # one transform W_ij per capsule pair, no bias
    if s.options.get("window") is not None and len(s.incoming) >= 2:
        channels = int(s.options["types"]) * out[1]  # one shared convolution to types x dim maps
        win = math.prod(window_tuple(s.options["window"], len(s.incoming) - 1))
        return win * s.incoming[-1] * channels + (channels if s.options.get("use_bias", True) else 0)
    return dense_params(s, out)  # primary capsules from a vector: a dense map to size x dim


CAPSULE = make_cell(
    "capsule",
    label="Capsule Cell",
    abbr="Cap",
    family="hidden",
    doc="Outputs a vector (pose) instead of a number; capsule-to-capsule connections route by "
    "agreement, and a vector's length is the probability that its entity is present.",
    options={
        **{k: v for k, v in common_compute_options("linear").items() if k != "activation"},
        "dim": Option(IntRange(1), 8, "length of each capsule's output vector"),
        "routing": Option(IntRange(1, 10), 3, "routing-by-agreement iterations"),
        "squash": Option(Bool(), True, "squash output vectors to length < 1"),
        "types": Option(IntRange(1), 8, "capsule types per position of windowed (primary) capsules"),
        "stride": Option(Window(), 1, "step between windows of primary capsules"),
    },
    style=CellStyle(_GREEN, None, "square"),
    infer_shape=_capsule_shape,
    count_params=_capsule_params,
    order=7,
    vector_valued=True,
    impl="cellgraph.compiler.capsule:CAPSULE",
)
