"""Yellow cells: where data enters (Input, Backfed Input, Noisy Input)."""

from __future__ import annotations

from ..typedefs import Shape
from .registry import (
    PALETTE,
    Bool,
    CellStyle,
    Choice,
    FloatRange,
    Option,
    ShapeIn,
    make_cell,
    numel,
    shape_option,
    size_option,
    source_shape,
)

_SEQUENCE = Option(Bool(), False, "the group carries a sequence: values arrive one time step at a time")


def _no_params(s: ShapeIn, out: Shape) -> int:
    return 0


def _visible_bias(s: ShapeIn, out: Shape) -> int:
    return numel(out) if s.options.get("use_bias", True) else 0


INPUT = make_cell(
    "input",
    "Input Cell",
    "In",
    "input",
    "Where data enters; one cell holds one component of the input vector (spatial inputs keep their shape).",
    {"size": size_option(), "shape": shape_option(), "sequence": _SEQUENCE},
    CellStyle(PALETTE.yellow, PALETTE.yellow_line, "none"),
    source_shape,
    _no_params,
    1,
    role="input",
    impl="cellgraph.compiler.cells:SOURCE",
)

BACKFED_INPUT = make_cell(
    "backfed_input",
    "Backfed Input Cell",
    "BIn",
    "input",
    "An input the network also writes back into: clamped to data, or recomputed from its neighbours "
    "(Hopfield, Boltzmann and RBM visible units; the GAN's noise input).",
    {
        "size": size_option(),
        "shape": shape_option(),
        "sequence": _SEQUENCE,
        "values": Option(
            Choice(("binary", "bipolar")), "binary", "unit states: binary {0, 1} or bipolar {-1, +1} (Hopfield)"
        ),
        "use_bias": Option(Bool(), True, "learn a bias for each visible unit"),
        "distribution": Option(
            Choice(("data", "uniform", "normal")),
            "data",
            "where values come from: clamped to data, or sampled noise (a GAN generator's latent input)",
        ),
    },
    CellStyle(PALETTE.yellow, PALETTE.yellow_line, "ring"),
    source_shape,
    _visible_bias,
    2,
    role="input",
    backfed=True,
    impl="cellgraph.compiler.cells:SOURCE",
)

NOISY_INPUT = make_cell(
    "noisy_input",
    "Noisy Input Cell",
    "NIn",
    "input",
    "An input corrupted on the way in while training (denoising AE); the loss still sees the clean value.",
    {
        "size": size_option(),
        "shape": shape_option(),
        "sequence": _SEQUENCE,
        "noise": Option(
            Choice(("masking", "gaussian", "salt_and_pepper")),
            "masking",
            "corruption: zero a fraction, add Gaussian noise, or set to 0/1",
        ),
        "level": Option(
            FloatRange(0.0, 1.0), 0.25, "fraction corrupted (masking, salt_and_pepper) or noise std (gaussian)"
        ),
    },
    CellStyle(PALETTE.yellow, PALETTE.yellow_line, "triangle"),
    source_shape,
    _no_params,
    3,
    role="input",
    noisy=True,
    impl="cellgraph.compiler.cells:NOISY_SOURCE",
)
