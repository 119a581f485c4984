"""Group features: building blocks a group carries beside its cell type (dropout, normalisation).

The chart's fourteen cell types say what a group *is*; a feature is something any group of a
suitable type may *also* do, one option wide, as in Keras or Flax where dropout and layer
normalisation are layers of their own. A :class:`Feature` is defined here once, beside the cell
types and in their style: its option (kind, default, doc), the parameters it adds to its group,
where the compiler applies it, how the diagrams name it, and a lazy ``impl`` pointer to its JAX
half (``cellgraph.compiler.features``), so this module stays JAX-free.

Which cell types take a feature is said where each type is defined: the type's options include
the feature's option (``feature_options("dropout", "norm")``), so validation, ``cellgraph cells``,
the docs and the JSON Schema know it without further wiring; a test checks that every type
offering a feature compiles it.

May import: ``cellgraph.options``, ``cellgraph.typedefs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..options import Choice, FloatRange, IntRange, Nullable, Option
from ..typedefs import Shape

STAGES: Final = ("source", "pre", "post", "cell")
"""source: applied to the data an input group is fed, before anything reads them (an embedding
looks its tokens up); pre: applied to the group's weighted sum, before skips, delayed terms and
the activation (the place Ioffe & Szegedy and Ba et al. normalise); post: applied to the group's
value; cell: inside the cell's own computation, by the cell (recurrent dropout masks the state a
recurrent layer feeds back), so the executor only hands it the group's key."""


@dataclass(frozen=True)
class Feature:
    """One group feature: its option, parameters, place in the forward pass and drawing."""

    name: str  # the option that turns it on (`dropout: 0.3`, `norm: layer`)
    label: str  # what diagrams call it
    doc: str
    option: Option
    stage: str  # one of STAGES
    active: Callable[[Any], bool]  # whether the option's value turns the feature on
    count_params: Callable[[Any, Shape], int]  # (option value, group shape) -> parameters it adds
    params_doc: str  # the parameters it adds, in words (for the docs)
    describe: Callable[[Any], str]  # the diagram's words for an active value ("dropout 0.3")
    stochastic: bool = False  # draws random numbers while training, so the group gets a key
    # (option value, group shape) -> values of model state it keeps beside the parameters (running
    # statistics), updated by training passes rather than by gradients
    count_state: Callable[[Any, Shape], int] = lambda value, shape: 0
    # a group's other options that rule the feature out: (problem, fix), or None
    conflict: Callable[[Mapping[str, Any]], tuple[str, str] | None] = lambda options: None
    # a source feature: what the data hold per example (per step) for the group's shape; None: the shape
    fed_shape: Callable[[Any, Shape], Shape] | None = None
    # (the group's options, group shape) -> parameters it adds, for a feature whose count reads the
    # group's other options too (learned positions: `max_length`); overrides count_params
    count_params_in: Callable[[Mapping[str, Any], Shape], int] | None = None
    impl: str = ""  # "module:attribute" of its JAX half (a FeatureFns)

    def params_in(self, options: Mapping[str, Any], shape: Shape) -> int:
        """Parameters the feature adds to a group with these (resolved) options and shape."""
        if self.count_params_in is not None:
            return self.count_params_in(options, shape)
        return self.count_params(options[self.name], shape)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"feature {self.name!r}: stage {self.stage!r} is not one of {STAGES}")


FEATURES: dict[str, Feature] = {}


def register_feature(feature: Feature) -> Feature:
    """Add a feature to :data:`FEATURES`."""
    if feature.name in FEATURES:
        raise ValueError(f"feature {feature.name!r} registered twice")
    FEATURES[feature.name] = feature
    return feature


def feature_options(*names: str) -> dict[str, Option]:
    """The options of the named features, for a cell type's ``options``."""
    return {name: FEATURES[name].option for name in names}


def active_features(options: Mapping[str, Any]) -> tuple[Feature, ...]:
    """The features a group's (resolved) options turn on, in registry order."""
    return tuple(f for name, f in FEATURES.items() if name in options and f.active(options[name]))


def feature_params(options: Mapping[str, Any], shape: Shape) -> int:
    """Parameters the group's active features add to its own."""
    return sum(f.params_in(options, shape) for f in active_features(options))


def feature_state(options: Mapping[str, Any], shape: Shape) -> int:
    """Values of model state the group's active features keep (running statistics), not parameters."""
    return sum(f.count_state(options[f.name], shape) for f in active_features(options))


def fed_shape(options: Mapping[str, Any], shape: Shape) -> Shape:
    """What the data hold per example (per time step) for an input group of ``shape``: the shape
    itself, or what a source feature reads instead (an embedding: one token id, shape ``()``)."""
    for f in active_features(options):
        if f.fed_shape is not None:
            shape = f.fed_shape(options[f.name], shape)
    return shape


def token_range(options: Mapping[str, Any]) -> int | None:
    """The number of distinct tokens an input group's data may hold (ids 0 .. n-1), or None."""
    vocab = options.get("vocab")
    return int(vocab) if vocab is not None else None


def feature_words(options: Mapping[str, Any]) -> tuple[str, ...]:
    """How the diagrams name the group's active features ("dropout 0.3", "layer norm")."""
    return tuple(f.describe(options[f.name]) for f in active_features(options))


def _per_feature(shape: Shape) -> int:
    """Features (channels) along the last axis: what a normalisation learns one scale and offset for."""
    return int(shape[-1]) if shape else 1


DROPOUT = register_feature(
    Feature(
        name="dropout",
        label="Dropout",
        doc="While training, each value of the group is zeroed with this probability and the rest are "
        "scaled by 1 / (1 - p) (inverted dropout, Srivastava et al. 2014); evaluation and prediction "
        "use every value as it is. Driven by the step's PRNG key.",
        option=Option(FloatRange(0.0, 1.0, hi_open=True), 0.0, "probability of zeroing each value while training"),
        stage="post",
        active=lambda p: float(p) > 0.0,
        count_params=lambda p, shape: 0,
        params_doc="none",
        describe=lambda p: f"dropout {float(p):g}",
        stochastic=True,
        impl="cellgraph.compiler.features:DROPOUT",
    )
)

RECURRENT_DROPOUT = register_feature(
    Feature(
        name="recurrent_dropout",
        label="Recurrent dropout",
        doc="While training, the state a recurrent layer feeds back into itself (h_(t-1) in h_(t-1) U) "
        "is multiplied by one dropout mask per sequence, the same at every step (variational dropout, "
        "Gal & Ghahramani 2016; Keras's recurrent_dropout), scaled by 1 / (1 - p); evaluation uses the "
        "whole state. A training pass then runs the layer's plain scan rather than its fused kernel.",
        option=Option(
            FloatRange(0.0, 1.0, hi_open=True),
            0.0,
            "probability of dropping each unit of the fed-back state while training",
        ),
        stage="cell",
        active=lambda p: float(p) > 0.0,
        count_params=lambda p, shape: 0,
        params_doc="none",
        describe=lambda p: f"recurrent dropout {float(p):g}",
        stochastic=True,
        impl="cellgraph.compiler.features:RECURRENT_DROPOUT",
    )
)

NORM = register_feature(
    Feature(
        name="norm",
        label="Normalisation",
        doc="Normalise the group's weighted sum before its skips and activation (or, with `norm_at: "
        "output`, its value after them), then apply a learned scale and "
        "offset per feature (the last axis: units, or a map's channels). `layer` (Ba et al. 2016): over "
        "each example's own features; the same computation in training and evaluation. `batch` (Ioffe & "
        "Szegedy 2015): each feature over the batch (and a map's positions, a sequence's steps) while "
        "training, which also updates a running mean and variance kept as model state (momentum "
        "0.99); evaluation and prediction use those running statistics instead.",
        option=Option(
            Nullable(Choice(("layer", "batch"))),
            None,
            "normalise the weighted sum before the activation: layer, or batch (running statistics as model state)",
        ),
        stage="pre",
        active=lambda kind: kind is not None,
        count_params=lambda kind, shape: 2 * _per_feature(shape),
        params_doc="a scale and an offset per feature (`norm_scale`, `norm_offset`); `batch` also keeps a "
        "running mean and variance per feature as model state (`norm_mean`, `norm_var`), not parameters",
        count_state=lambda kind, shape: 2 * _per_feature(shape) if kind == "batch" else 0,
        describe=lambda kind: f"{kind} norm",
        impl="cellgraph.compiler.features:NORM",
        conflict=lambda options: (
            (
                "a radial-basis unit (activation: gaussian) has no weighted sum to normalise",
                "remove `norm:`, or use another activation",
            )
            if options.get("activation") == "gaussian"
            else None
        ),
    )
)

NORM_PLACES: Final = ("sum", "output")
"""`norm_at:` places: the group's weighted sum (before skips and the activation), or its output."""

NORM_AT = register_feature(
    Feature(
        name="norm_at",
        label="Normalisation place",
        doc="Where `norm:` normalises. `sum` (the default): the group's weighted sum, before its identity "
        "skips (`=>`, an attention edge's `residual: true`), delayed terms and activation, so a residual "
        "block computes x + LN(F(x)). `output`: the group's value, after the skips are added and the "
        "activation applied, LN(act(W h + b + x)), so a residual block computes LN(x + F(x)): the "
        "post-norm transformer block of Vaswani et al. 2017 and PyTorch's nn.TransformerEncoderLayer "
        "(norm_first=False). The same parameters (and, for `batch`, running statistics) either way; "
        "`dropout:` still acts on the group's value last.",
        option=Option(
            Choice(NORM_PLACES),
            "sum",
            "where `norm:` applies: sum (the weighted sum, before skips and the activation) or output "
            "(the group's value, after them: post-norm)",
        ),
        stage="cell",
        active=lambda place: place == NORM_PLACES[1],
        count_params=lambda place, shape: 0,
        params_doc="none (it moves `norm:`, whose parameters stay the same)",
        describe=lambda place: "post-norm",
        impl="cellgraph.compiler.features:NORM_AT",
        conflict=lambda options: (
            (
                "`norm_at: output` says where the group's normalisation applies, and the group has none",
                "add `norm: layer` (or `norm: batch`), or remove `norm_at:`",
            )
            if options.get("norm") is None
            else None
        ),
    )
)


def is_post_norm(options: Mapping[str, Any]) -> bool:
    """Whether the group's `norm:` applies to its value, after its skips and activation (`norm_at: output`)."""
    return options.get("norm_at") == NORM_PLACES[1]


EMBEDDING = register_feature(
    Feature(
        name="vocab",
        label="Embedding",
        doc="The group reads integer tokens (ids 0 .. vocab-1; one per example, or one per step with "
        "`sequence: true`) and passes on a learned vector of `size` values for each: an embedding "
        "table, trained with the rest (Keras's Embedding, Flax's nn.Embed).",
        option=Option(
            Nullable(IntRange(2)),
            None,
            "the input holds token ids 0 .. vocab-1, each looked up as a learned vector of `size`",
        ),
        stage="source",
        active=lambda vocab: vocab is not None,
        count_params=lambda vocab, shape: int(vocab) * _per_feature(shape),
        params_doc="a table of vocab x size (`embedding`)",
        describe=lambda vocab: f"embedding of {int(vocab):,} tokens",
        impl="cellgraph.compiler.features:EMBEDDING",
        conflict=lambda options: (
            (
                "an embedding gives each token a vector of `size` values, not a map of `shape`",
                "give the vector's length as `size:`",
            )
            if options.get("shape") is not None
            else None
        ),
        fed_shape=lambda vocab, shape: (),
    )
)

POSITIONS: Final = ("sinusoidal", "learned")
"""`position:` kinds: fixed sines and cosines of each step's index, or a learned vector per step."""


def _position_conflict(options: Mapping[str, Any]) -> tuple[str, str] | None:
    if not options.get("sequence"):
        return "positions number the steps of a sequence, and this input is none", "add `sequence: true`"
    if options.get("shape") is not None:
        return (
            "a position is added to each step's vector, not to a map of `shape`",
            "give the vector's length as `size:`",
        )
    if options.get("position") == "learned" and options.get("max_length") is None:
        return "learned positions are a table with one row per step", "say how many steps it holds: `max_length: N`"
    return None


POSITION = register_feature(
    Feature(
        name="position",
        label="Positional encoding",
        doc="Adds to each step's vector (the token's embedding, or the fed values) a vector that says "
        "where the step is: `sinusoidal`, fixed sines and cosines of the step's index at geometrically "
        "spaced frequencies (Vaswani et al. 2017: PE(t, 2i) = sin(t / 10000^(2i/size)), PE(t, 2i+1) = "
        "cos(...)); `learned`, one trained vector per step up to `max_length` (BERT, GPT-2). Attention "
        "reads a set of positions; without this it cannot tell their order.",
        option=Option(
            Nullable(Choice(POSITIONS)),
            None,
            "add a position vector to each step: sinusoidal (fixed), or learned (a table of `max_length` rows)",
        ),
        stage="source",
        active=lambda kind: kind is not None,
        count_params=lambda kind, shape: 0,
        count_params_in=lambda options, shape: (
            int(options["max_length"]) * _per_feature(shape)
            if options.get("position") == "learned" and options.get("max_length") is not None
            else 0
        ),
        params_doc="`learned`: a table of max_length x size (`position`); `sinusoidal`: none",
        describe=lambda kind: f"{kind} positions",
        impl="cellgraph.compiler.features:POSITION",
        conflict=_position_conflict,
    )
)

NORM_EPSILON: Final = 1e-6
"""Added to the variance before its square root by layer normalisation (Flax's LayerNorm default)."""

BATCH_NORM_EPSILON: Final = 1e-5
"""Added to the variance before its square root by batch normalisation (Flax's and PyTorch's default)."""

BATCH_NORM_MOMENTUM: Final = 0.99
"""How much of the running statistics each training pass keeps (Flax's and Keras's default; PyTorch
writes the same as momentum=0.01)."""
