"""Green cells: hidden, probabilistic, spiking and capsule cells."""

from __future__ import annotations

from ..typedefs import Shape
from .registry import (
    PALETTE,
    Bool,
    CellStyle,
    Choice,
    FloatRange,
    IntRange,
    Option,
    ShapeError,
    ShapeIn,
    common_compute_options,
    dense_params,
    dense_shape,
    make_cell,
    numel,
)

_GREEN = PALETTE.green


def _hidden_params(s: ShapeIn, out: Shape) -> int:
    if s.options.get("activation") == "gaussian" and s.incoming is not None:
        # RBF unit: a centre per cell over the input, plus one width per cell
        return numel(s.incoming) * numel(out) + numel(out)
    return dense_params(s, out)


HIDDEN = make_cell(
    "hidden",
    "Hidden Cell",
    "H",
    "hidden",
    "The basic cell: activation(weighted sum of its inputs + bias). With `activation: gaussian` "
    "it is a radial-basis unit exp(-|x - c|^2 / (2 width^2)), as the chart draws RBF networks.",
    {
        **common_compute_options("relu"),
        "width": Option(FloatRange(0.0, lo_open=True), 1.0, "radius of a gaussian (RBF) unit"),
    },
    CellStyle(_GREEN, None, "none"),
    dense_shape,
    _hidden_params,
    4,
)


def _probabilistic_params(s: ShapeIn, out: Shape) -> int:
    copies = 2 if s.options.get("distribution") == "gaussian" else 1  # mean and log-variance
    return dense_params(s, out, copies)


PROBABILISTIC_HIDDEN = make_cell(
    "probabilistic_hidden",
    "Probablistic Hidden Cell",
    "PH",
    "hidden",
    "A hidden cell whose value is sampled: Bernoulli units (BM, RBM, DBN), a reparameterised "
    "Gaussian code (VAE, DCIGN) or the states of a Markov chain (categorical).",
    {
        **common_compute_options("sigmoid"),
        "distribution": Option(Choice(("bernoulli", "gaussian", "categorical")), "bernoulli", "what the cell samples"),
    },
    CellStyle(_GREEN, None, "ring"),
    dense_shape,
    _probabilistic_params,
    5,
)

SPIKING_HIDDEN = make_cell(
    "spiking_hidden",
    "Spiking Hidden Cell",
    "SH",
    "hidden",
    "A leaky integrate-and-fire neuron: integrates its input over time and fires when its potential "
    "crosses the threshold (liquid state machine).",
    {
        **{k: v for k, v in common_compute_options("linear").items() if k not in ("activation", "window")},
        "tau": Option(FloatRange(0.0, lo_open=True), 30.0, "membrane time constant (ms)"),
        "threshold": Option(FloatRange(), 15.0, "firing threshold (mV)"),
        "reset": Option(FloatRange(), 13.5, "potential after a spike (mV)"),
        "rest": Option(FloatRange(), 0.0, "resting potential (mV)"),
        "refractory": Option(FloatRange(0.0), 3.0, "dead time after a spike (ms)"),
        "dt": Option(FloatRange(0.0, lo_open=True), 1.0, "simulation time step (ms)"),
    },
    CellStyle(_GREEN, None, "triangle"),
    dense_shape,
    dense_params,
    6,
    differentiable=False,
)


def _capsule_shape(s: ShapeIn) -> Shape:
    if s.options.get("size") is None:
        raise ShapeError("a capsule group needs a size (the number of capsules)", "add `size: N`")
    if s.options.get("shape") is not None:
        raise ShapeError(
            "a capsule group takes `size` and `dim`, not `shape`", "replace `shape:` by `size:` and `dim:`"
        )
    return (int(s.options["size"]), int(s.options["dim"]))


def _capsule_params(s: ShapeIn, out: Shape) -> int:
    if s.incoming is None:
        return 0
    if s.sources and all(t == "capsule" for t in s.sources):
        in_caps, in_dim = s.incoming[0], s.incoming[-1]
        return in_caps * out[0] * in_dim * out[1]  # one transform W_ij per capsule pair, no bias
    return dense_params(s, out)  # primary capsules: a dense (or windowed) map to size x dim


CAPSULE = make_cell(
    "capsule",
    "Capsule Cell",
    "Cap",
    "hidden",
    "Outputs a vector (pose) instead of a number; capsule-to-capsule connections route by "
    "agreement, and a vector's length is the probability that its entity is present.",
    {
        **{k: v for k, v in common_compute_options("linear").items() if k != "activation"},
        "dim": Option(IntRange(1), 8, "length of each capsule's output vector"),
        "routing": Option(IntRange(1, 10), 3, "routing-by-agreement iterations"),
        "squash": Option(Bool(), True, "squash output vectors to length < 1"),
    },
    CellStyle(_GREEN, None, "square"),
    _capsule_shape,
    _capsule_params,
    7,
)
