"""The cell registry: the one place a cell type is defined.

A :class:`CellType` holds, side by side, everything the rest of cellgraph needs to know about
a cell type: its options (kind, default, one-line doc), its shape rule and parameter count, its
drawing style (the chart's exact fill, outline and marker) and its capabilities (role, what it
carries across time, how its inputs connect, how many cells it draws), which every other module
asks instead of comparing type names. Its JAX semantics (``init`` / ``apply``) are named by a
lazy ``impl`` pointer; nothing here imports JAX, so validation and drawing stay fast.

Option kinds are small reusable records (Ludwig's idea): each checks a value, describes itself
for ``cellgraph cells`` and emits its JSON Schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ..options import (  # noqa: F401 - re-exported for the family modules
    Bool,
    Choice,
    FloatRange,
    IntRange,
    Name,
    Nullable,
    Option,
    OptionKind,
    ShapeKind,
    Text,
    Window,
)
from ..typedefs import Shape

ACTIVATIONS: Final = (
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "softplus",
    "log",
    "softmax",
    "log_softmax",
    "step",
    "sign",
    "gaussian",
    "hard_sigmoid",
    "hard_tanh",
)
"""`log` is the lecture's name for softplus (log(1 + e^x)); `step` and `sign` have no gradient."""

NON_DIFFERENTIABLE_ACTIVATIONS: Final = frozenset({"step", "sign"})
INITS: Final = (
    "default",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "normal",
    "uniform",
    "zeros",
    "orthogonal",
)
"""Weight initialisers, one list for cells and edges; the compiler implements each one (tested)."""


def tie_option() -> Option:
    """`tie: h`: the group computes with the transpose of group h's weight matrix (a tied
    autoencoder's decoder); a type offering it computes a plain dense weighted sum, as h must."""
    return Option(
        Nullable(Name()), None, "use this group's weight matrix, transposed (a tied decoder); only the bias is its own"
    )


def size_option() -> Option:
    return Option(Nullable(IntRange(1)), None, "number of cells in the group (a vector group)")


def shape_option() -> Option:
    return Option(
        Nullable(ShapeKind()), None, "spatial shape instead of size: [height, width, channels] or [length, channels]"
    )


def activation_option(default: str) -> Option:
    return Option(Choice(ACTIVATIONS), default, "activation applied to the weighted sum")


def common_compute_options(activation: str) -> dict[str, Option]:
    """Options shared by every cell that computes a weighted sum of its inputs."""
    return {
        "size": size_option(),
        "shape": shape_option(),
        "activation": activation_option(activation),
        "use_bias": Option(Bool(), True, "add a learned bias to the weighted sum"),
        "init": Option(Choice(INITS), "default", "weight initialiser (default: the cell's usual one)"),
        "trainable": Option(Bool(), True, "false keeps the random initial weights fixed (ELM, ESN, LSM)"),
        "init_scale": Option(
            Nullable(FloatRange(0.0, lo_open=True)), None, "scale of the initial weights (uniform: the range [-s, s])"
        ),
        "window": Option(Nullable(Window()), None, "connect through a local window (a convolution) instead of densely"),
    }


def loss_options() -> dict[str, Option]:
    """An output's own share of the loss: which loss scores it, and how much it counts."""
    return {
        "loss": Option(
            Nullable(Text()),
            None,
            "this output's own loss, one scored on a single output (mse, cross_entropy, bce, huber, ...); "
            "default: `train.loss`, else its activation's",
        ),
        "loss_weight": Option(FloatRange(0.0), 1.0, "this output's weight in the total loss"),
    }


GROUP_RULES: Final = ("backprop", "least_squares", "ridge")
"""What a group may name as its own rule (``rule: ridge``); the closed-form read-outs among them
are solved before backprop trains the rest (:data:`cellgraph.graph.rules.CLOSED_FORM`)."""


def rule_option() -> Option:
    """`rule: ridge`: this output's own learning rule, beside the `train.rule` that trains the rest."""
    return Option(
        Nullable(Choice(GROUP_RULES)),
        None,
        "this output's own learning rule: `ridge` or `least_squares` solves its weights once, in closed "
        "form on the fixed groups it reads, before `train.rule: backprop` trains the other groups; "
        "default: `train.rule`",
    )


def target_option() -> Option:
    return Option(
        Nullable(Name()),
        None,
        "what the output is compared with: an input group it reconstructs, or `labels` (the data's labels)",
    )


# --------------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class CellStyle:
    """How the chart draws the cell (ZOO.md §1.1): fill, outline (None on green) and marker; and
    the outline of its box in the layers view (a stack of maps for a kernel, a narrowing
    trapezium for convolution-or-pool; a layer that enlarges its maps widens instead)."""

    fill: str
    outline: str | None
    marker: str  # "none" | "ring" | "triangle" | "square"
    box: str = "box"  # "box" | "box3d" | "trapezium"


class ShapeError(ValueError):
    """A shape rule cannot be satisfied; carries the fix to print."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class ShapeIn:
    """What a shape or parameter rule sees of a group: its options and what flows into it."""

    options: Mapping[str, Any]  # with defaults filled in
    declared: Shape | None  # from `size` / `shape`, or None
    incoming: Shape | None  # the main port's merged forward input, or None for a source group
    sources: tuple[str, ...] = ()  # cell types of the groups feeding the main port (forward edges)
    ports: Mapping[str, Shape] = field(default_factory=dict)  # every fed port's merged input


ShapeRule = Callable[[ShapeIn], Shape]
ParamRule = Callable[[ShapeIn, Shape], int]


@dataclass(frozen=True)
class Recurrence:
    """What a recurrent cell carries from one time step to the next, and how one step is shaped.

    The compiler implements each update rule once (by ``name``); the shape rules and parameter
    counts read ``gates`` from here, so a gate count is defined in one place.
    """

    name: str  # the update rule the compiler implements: elman | lstm | gru
    gates: int  # weight blocks per step: inputs and state map to gates x n pre-activations
    carry: tuple[str, ...]  # the state crossing time steps: ("h",) or ("h", "c")


ELMAN: Final = Recurrence("elman", 1, ("h",))
LSTM: Final = Recurrence("lstm", 4, ("h", "c"))
GRU: Final = Recurrence("gru", 3, ("h",))

ROLES: Final = ("input", "hidden", "output")
"""input: data enters here (a source, no incoming edge needed); output: its values are compared
with a target by the loss; hidden: everything in between."""


@dataclass(frozen=True)
class CellType:
    """Everything cellgraph knows about one cell type of the chart.

    Besides its options, shape rule and style, a type states its *capabilities*: the questions
    the graph builder, shape inference, compiler and renderer ask about a group. They ask these
    (``cell.role == "output"``, ``cell.recurrence``, ``cell.vector_valued``), never the type's
    name, so a new cell type is one record here and no edit anywhere else (a test checks).
    """

    name: str  # SPEC `type`
    label: str  # the chart's legend label, as printed there
    abbr: str  # ZOO.md's short form (In, BIn, H, ...)
    family: str  # input | hidden | output | recurrent | convolutional
    doc: str
    options: Mapping[str, Option]
    style: CellStyle
    infer_shape: ShapeRule  # ShapeIn -> output shape; raises ShapeError
    count_params: ParamRule  # (ShapeIn, output shape) -> parameters the group owns
    role: str = "hidden"  # one of ROLES
    recurrence: Recurrence | None = None  # keeps state over time; self-recurrence is implied
    differentiable: bool = True  # can be trained by backprop
    reconstructs: bool = False  # an output whose target defaults to a network input (and its size)
    noisy: bool = False  # a source corrupted on the way in while training; the loss sees it clean
    backfed: bool = False  # a source the network also writes back into (visible units)
    probabilistic: bool = False  # its value is sampled (the `distribution` option says from what)
    local_input: bool = False  # a plain `->` into it is a local (windowed, convolutional) edge
    vector_valued: bool = False  # each cell outputs a vector along the last axis (capsules)
    ports: tuple[str, ...] = ("in",)  # named inputs; an edge's `port:` picks one (default: the first)
    impl: str = ""  # "module:attribute" of its JAX init/apply (a CellFns), imported only to compile
    legend_order: int = 0

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"cell type {self.name!r}: role {self.role!r} is not one of {ROLES}")
        if not self.ports or len(set(self.ports)) != len(self.ports):
            raise ValueError(f"cell type {self.name!r}: ports {self.ports!r} must be distinct names, at least one")

    @property
    def is_source(self) -> bool:
        """Data enters here; the group needs no incoming edge."""
        return self.role == "input"

    @property
    def is_output(self) -> bool:
        """The loss reads its values (the compiler's outputs)."""
        return self.role == "output"

    @property
    def is_hidden(self) -> bool:
        """Computes between the sources and the outputs (every green, blue and pink cell)."""
        return self.role == "hidden"

    @property
    def is_plain(self) -> bool:
        """The plain member of its role (the chart's unmarked cell): no variant capability at all --
        not backfed, noisy, sampled, local, vector-valued, reconstructing or recurrent, and
        trainable by backprop. A plain hidden group is a dense layer (a SOM's map, a sparse code)."""
        variant = (
            self.backfed,
            self.noisy,
            self.probabilistic,
            self.local_input,
            self.vector_valued,
            self.reconstructs,
            self.recurrence is not None,
            not self.differentiable,
        )
        return not any(variant)

    @property
    def main_port(self) -> str:
        """The port an edge without ``port:`` feeds; the one shape rules read as the input."""
        return self.ports[0]

    @property
    def recurrent(self) -> bool:
        """It keeps state across time steps, so a cycle through it is legal."""
        return self.recurrence is not None

    def gates(self, options: Mapping[str, Any]) -> int:
        """Weight blocks a delayed or feedback edge into a group of this type feeds (1 ungated).

        An external memory (``slots:``) reads its inputs through an interface, not gates.
        """
        if self.recurrence is None or options.get("slots") is not None:
            return 1
        return self.recurrence.gates

    def cells_drawn(self, shape: Sequence[int] | None) -> int:
        """How many cells a group of this type with ``shape`` has (a capsule is one cell)."""
        if not shape:
            return 1
        return int(shape[0]) if self.vector_valued and len(shape) > 1 else numel(shape)

    def defaults(self) -> dict[str, Any]:
        return {k: o.default for k, o in self.options.items()}

    def resolve(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options as written, with defaults filled in."""
        out = self.defaults()
        out.update(options)
        return out


CELLS: dict[str, CellType] = {}


def register_cell(cell: CellType) -> CellType:
    """Add a cell type to :data:`CELLS` (each family module calls this at import)."""
    if cell.name in CELLS:
        raise ValueError(f"cell type {cell.name!r} registered twice")
    CELLS[cell.name] = cell
    return cell


def get_cell(name: str) -> CellType:
    """Look up a registered cell type by its SPEC name."""
    return CELLS[name]


def make_cell(
    name: str,
    *,
    label: str,
    abbr: str,
    family: str,
    doc: str,
    options: dict[str, Option],
    style: CellStyle,
    infer_shape: ShapeRule,
    count_params: ParamRule,
    order: int,
    **flags: Any,
) -> CellType:
    """Build and register a :class:`CellType` (options frozen).

    Everything after ``name`` is a keyword: ten same-looking positional values (three strings,
    two functions) are easy to swap unnoticed, and ``order`` becomes ``legend_order``.
    """
    return register_cell(
        CellType(
            name=name,
            label=label,
            abbr=abbr,
            family=family,
            doc=doc,
            options=MappingProxyType(options),
            style=style,
            infer_shape=infer_shape,
            count_params=count_params,
            legend_order=order,
            **flags,
        )
    )


# ------------------------------------------------------------------------------ shape helpers


def numel(shape: Sequence[int] | None) -> int:
    return math.prod(shape) if shape else 0


def source_shape(s: ShapeIn) -> Shape:
    """A source group (data enters here) has exactly the shape it declares."""
    if s.declared is None:
        raise ShapeError("an input group needs a size", "add `size: N` or `shape: [h, w, c]`")
    return s.declared


def declared_shape(options: Mapping[str, Any]) -> Shape | None:
    """The shape a group declares with ``size`` or ``shape`` (None when it declares neither)."""
    if options.get("shape") is not None:
        return tuple(options["shape"])
    if options.get("size") is not None:
        return (int(options["size"]),)
    return None


def window_tuple(window: Any, rank: int) -> tuple[int, ...]:
    if isinstance(window, list):
        if len(window) == 1:
            return tuple(window) * rank
        if len(window) != rank:
            raise ShapeError(
                f"window {window} has {len(window)} axes but the input has {rank} spatial axes",
                f"give one size per spatial axis, e.g. {[3] * rank}",
            )
        return tuple(window)
    return (int(window),) * rank


def dense_shape(s: ShapeIn) -> Shape:
    """A weighted sum of all inputs into a declared number of cells (or a local window)."""
    options, declared, incoming = s.options, s.declared, s.incoming
    if declared is None:
        raise ShapeError("the group needs a size", "add `size: N` (or `shape: [h, w, c]`)")
    if options.get("window") is not None and incoming is not None:
        spatial_in, spatial_out = incoming[:-1], declared[:-1]
        if len(incoming) < 2 or len(declared) != len(incoming):
            raise ShapeError(
                f"a windowed (local) connection needs spatial shapes of equal rank; input is {list(incoming)}, the group is {list(declared)}",
                "give the group `shape: [h, w, c]` matching the input's rank, or remove `window:`",
            )
        if spatial_in != spatial_out:
            raise ShapeError(
                f"a windowed connection keeps the spatial size {list(spatial_in)}, but the group declares {list(spatial_out)}",
                f"set `shape: {[*spatial_in, declared[-1]]}`",
            )
    return declared


def dense_params(s: ShapeIn, out: Shape, copies: int = 1) -> int:
    """Weights of a dense (or windowed) map from the merged input, plus biases, ``copies`` times."""
    options, incoming = s.options, s.incoming
    bias = numel(out) if options.get("use_bias", True) else 0
    if incoming is None:  # fed only by symmetric or delayed edges (counted on the edge): own bias
        return copies * bias
    if options.get("window") is not None and len(incoming) >= 2:
        win = math.prod(window_tuple(options["window"], len(incoming) - 1))
        return copies * (win * incoming[-1] * out[-1] + (out[-1] if options.get("use_bias", True) else 0))
    return copies * (numel(incoming) * numel(out) + bias)


@dataclass(frozen=True)
class Palette:
    """The chart's five fills and their outlines (fill x 0.85 per channel); green has none."""

    yellow: str = "#FFCC00"
    yellow_line: str = "#D9AD00"
    green: str = "#66CC00"
    orange: str = "#FF6600"
    orange_line: str = "#D95600"
    blue: str = "#0099FF"
    blue_line: str = "#0082D9"
    pink: str = "#FF99FF"
    pink_line: str = "#D982D9"


PALETTE: Final = Palette()
