"""Yellow cells: where data enters (Input, Backfed Input, Noisy Input)."""

from __future__ import annotations

from typing import Final

from ..typedefs import Shape
from .features import feature_options
from .registry import (
    PALETTE,
    Bool,
    CellStyle,
    Choice,
    FloatRange,
    IntRange,
    Name,
    Nullable,
    Option,
    ShapeIn,
    make_cell,
    numel,
    shape_option,
    size_option,
    source_shape,
)

_SEQUENCE = Option(Bool(), False, "the group carries a sequence: values arrive one time step at a time")
_TEACHER = Option(
    Nullable(Name()),
    None,
    "teacher forcing: fed the named output's target tokens one step late (a start token first) while "
    "training; prediction feeds back the network's own outputs",
)


def _no_params(s: ShapeIn, out: Shape) -> int:
    return 0


def _visible_bias(s: ShapeIn, out: Shape) -> int:
    return numel(out) if s.options.get("use_bias", True) else 0


_DISTRIBUTION: Final = Option(
    Choice(("data", "uniform", "normal")),
    "data",
    "where values come from: the data, or noise the network draws itself, uniform on [-1, 1] or N(0, 1) "
    "(a GAN generator's latent input)",
)

INPUT = make_cell(
    "input",
    label="Input Cell",
    abbr="In",
    family="input",
    doc="Where data enters; one cell holds one component of the input vector (spatial inputs keep their shape).",
    options={
        "size": size_option(),
        "shape": shape_option(),
        "sequence": _SEQUENCE,
        **feature_options("dropout", "vocab", "position"),
        "max_length": Option(
            Nullable(IntRange(1)), None, "the most steps a sequence holds (the rows of `position: learned`)"
        ),
        "pad": Option(
            Nullable(IntRange(0)),
            None,
            "the token id that marks padding: attention never reads the positions holding it (needs `vocab:`)",
        ),
        "teacher": _TEACHER,
        "distribution": _DISTRIBUTION,
    },
    style=CellStyle(PALETTE.yellow, PALETTE.yellow_line, "none"),
    infer_shape=source_shape,
    count_params=_no_params,
    order=1,
    role="input",
    impl="cellgraph.compiler.cells:SOURCE",
)

BACKFED_INPUT = make_cell(
    "backfed_input",
    label="Backfed Input Cell",
    abbr="BIn",
    family="input",
    doc="An input the network also writes back into: clamped to data, or recomputed from its neighbours "
    "(Hopfield, Boltzmann and RBM visible units; the GAN's noise input).",
    options={
        "size": size_option(),
        "shape": shape_option(),
        "sequence": _SEQUENCE,
        "values": Option(
            Choice(("binary", "bipolar")), "binary", "unit states: binary {0, 1} or bipolar {-1, +1} (Hopfield)"
        ),
        "use_bias": Option(Bool(), True, "learn a bias for each visible unit"),
        "distribution": _DISTRIBUTION,
    },
    style=CellStyle(PALETTE.yellow, PALETTE.yellow_line, "ring"),
    infer_shape=source_shape,
    count_params=_visible_bias,
    order=2,
    role="input",
    backfed=True,
    impl="cellgraph.compiler.cells:SOURCE",
)

NOISY_INPUT = make_cell(
    "noisy_input",
    label="Noisy Input Cell",
    abbr="NIn",
    family="input",
    doc="An input corrupted on the way in while training (denoising AE); the loss still sees the clean value.",
    options={
        "size": size_option(),
        "shape": shape_option(),
        "sequence": _SEQUENCE,
        **feature_options("dropout"),
        "noise": Option(
            Choice(("masking", "gaussian", "salt_and_pepper")),
            "masking",
            "corruption: zero a fraction, add Gaussian noise, or set to 0/1",
        ),
        "level": Option(
            FloatRange(0.0, 1.0), 0.25, "fraction corrupted (masking, salt_and_pepper) or noise std (gaussian)"
        ),
    },
    style=CellStyle(PALETTE.yellow, PALETTE.yellow_line, "triangle"),
    infer_shape=source_shape,
    count_params=_no_params,
    order=3,
    role="input",
    noisy=True,
    impl="cellgraph.compiler.cells:NOISY_SOURCE",
)
