"""Pink cells: kernels (convolution at fixed resolution) and convolution-or-pool stages.

Kernels filter with shared weights and keep the spatial size (``padding: same``); a
convolution-or-pool cell changes the resolution: pooling or a strided convolution on the way in,
up-sampling or a transposed convolution on the way out (ZOO.md §1.2).
"""

from __future__ import annotations

import math

from ..typedefs import Shape
from .features import feature_options
from .registry import (
    INITS,
    PALETTE,
    Bool,
    CellStyle,
    Choice,
    IntRange,
    Nullable,
    Option,
    ShapeError,
    ShapeIn,
    Window,
    activation_option,
    make_cell,
    shape_option,
    size_option,
    window_tuple,
)

_PINK, _PINK_LINE = PALETTE.pink, PALETTE.pink_line


def _spatial_in(s: ShapeIn, what: str) -> Shape:
    if s.incoming is None:
        raise ShapeError(f"a {what} needs an input", "connect a spatial group to it, e.g. `x -> k`")
    if len(s.incoming) < 2:
        raise ShapeError(
            f"a {what} needs a spatial input such as [8, 8, 1] or [length, channels]; it gets {list(s.incoming)}",
            "give the input group `shape: [h, w, c]` instead of `size:`",
        )
    return s.incoming


def _out_channels(s: ShapeIn, cin: int) -> int:
    if s.options.get("channels") is not None:
        return int(s.options["channels"])
    if s.declared is not None:
        return s.declared[-1]
    return cin


def _check_declared(s: ShapeIn, out: Shape) -> Shape:
    if s.declared is not None and tuple(s.declared) != tuple(out):
        raise ShapeError(
            f"the group declares {list(s.declared)} but its input {list(s.incoming or ())} gives {list(out)}",
            f"set `shape: {list(out)}` or remove it (the shape is inferred)",
        )
    return out


def _conv_axis(n: int, k: int, stride: int, padding: str) -> int:
    return math.ceil(n / stride) if padding == "same" else (n - k) // stride + 1


def _kernel_shape(s: ShapeIn) -> Shape:
    inc = _spatial_in(s, "kernel")
    rank = len(inc) - 1
    win = window_tuple(s.options["window"], rank)
    stride = window_tuple(s.options["stride"], rank)
    spatial = tuple(_conv_axis(n, k, st, s.options["padding"]) for n, k, st in zip(inc[:-1], win, stride, strict=True))
    if min(spatial) < 1:
        raise ShapeError(
            f"window {list(win)} is larger than the input {list(inc[:-1])}", "use a smaller window or `padding: same`"
        )
    return _check_declared(s, (*spatial, _out_channels(s, inc[-1])))


def _conv_params(s: ShapeIn, out: Shape) -> int:
    if s.incoming is None or len(s.incoming) < 2:
        return 0
    win = math.prod(window_tuple(s.options["window"], len(s.incoming) - 1))
    bias = out[-1] if s.options.get("use_bias", True) else 0
    return win * s.incoming[-1] * out[-1] + bias


_COMMON = {
    "size": size_option(),
    "shape": shape_option(),
    "channels": Option(Nullable(IntRange(1)), None, "output channels (feature maps); default: the input's"),
    "use_bias": Option(Bool(), True, "add a learned bias per channel"),
    "init": Option(Choice(INITS), "default", "weight initialiser"),
    "trainable": Option(Bool(), True, "false keeps the random initial filters fixed"),
}

KERNEL = make_cell(
    "kernel",
    label="Kernel",
    abbr="K",
    family="convolutional",
    doc="A learned convolution that keeps the resolution: each cell sees a small window of the previous "
    "group, and the weights are shared across positions.",
    options={
        **_COMMON,
        "activation": activation_option("relu"),
        "window": Option(Window(), 3, "filter size"),
        "stride": Option(Window(), 1, "step between windows"),
        "padding": Option(Choice(("same", "valid")), "same", "same keeps the size; valid shrinks it"),
        **feature_options("dropout", "norm", "norm_at"),
    },
    style=CellStyle(_PINK, _PINK_LINE, "none", box="box3d"),
    infer_shape=_kernel_shape,
    count_params=_conv_params,
    order=13,
    local_input=True,
    impl="cellgraph.compiler.cells:KERNEL",
)

_POOL_OPS = ("max_pool", "avg_pool")


def _convolution_shape(s: ShapeIn) -> Shape:
    inc = _spatial_in(s, "convolution or pool cell")
    op = s.options["op"]
    rank = len(inc) - 1
    win = window_tuple(s.options["window"], rank)
    stride = window_tuple(
        s.options["stride"] if s.options.get("stride") is not None else (1 if op == "conv" else s.options["window"]),
        rank,
    )
    pad = s.options["padding"]
    cin = inc[-1]
    if op in _POOL_OPS:
        if s.options.get("channels") is not None and s.options["channels"] != cin:
            raise ShapeError("pooling keeps the channel count", "remove `channels:` or use `op: conv`")
        spatial = tuple(_conv_axis(n, k, st, pad) for n, k, st in zip(inc[:-1], win, stride, strict=True))
        cout = cin
    elif op == "conv":
        spatial = tuple(_conv_axis(n, k, st, pad) for n, k, st in zip(inc[:-1], win, stride, strict=True))
        cout = _out_channels(s, cin)
    elif op == "upsample":
        spatial = tuple(n * st for n, st in zip(inc[:-1], stride, strict=True))
        cout = cin
    else:  # transpose
        spatial = tuple(
            n * st if pad == "same" else (n - 1) * st + k for n, k, st in zip(inc[:-1], win, stride, strict=True)
        )
        cout = _out_channels(s, cin)
    if min(spatial) < 1:
        raise ShapeError(f"window {list(win)} is larger than the input {list(inc[:-1])}", "use a smaller window")
    return _check_declared(s, (*spatial, cout))


def _convolution_params(s: ShapeIn, out: Shape) -> int:
    return _conv_params(s, out) if s.options["op"] in ("conv", "transpose") else 0


CONVOLUTION = make_cell(
    "convolution",
    label="Convolution or Pool",
    abbr="CP",
    family="convolutional",
    doc="Changes the resolution: max or average pooling and strided convolution going down, "
    "up-sampling and transposed convolution going up (deconvolutional networks).",
    options={
        **_COMMON,
        "op": Option(
            Choice(("max_pool", "avg_pool", "conv", "upsample", "transpose")), "max_pool", "what the stage does"
        ),
        "activation": activation_option("linear"),
        "window": Option(Window(), 2, "window (pool size, filter size, or up-sampling factor)"),
        "stride": Option(
            Nullable(Window()), None, "step between windows (default: the window for pools and up-sampling, 1 for conv)"
        ),
        "padding": Option(Choice(("valid", "same")), "valid", "valid shrinks the map; same keeps ceil(n / stride)"),
        **feature_options("dropout", "norm", "norm_at"),
    },
    style=CellStyle(_PINK, _PINK_LINE, "ring", box="trapezium"),
    infer_shape=_convolution_shape,
    count_params=_convolution_params,
    order=14,
    local_input=True,
    impl="cellgraph.compiler.cells:CONVOLUTION",
)
