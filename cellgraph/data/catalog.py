"""What each built-in data source is, and which options it takes (no loading here)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any, Final

from ..options import Bool, Choice, FloatRange, IntRange, Nullable, Option, OptionKind, Text, word

MISSING_CHOICES: Final = ("error", "drop", "mean", "mode")


def text_codec(name: str) -> codecs.CodecInfo | None:
    """The codec of a text encoding, or None: unknown, or bytes-to-bytes like ``base64``."""
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None
    text = getattr(codec, "_is_text_encoding", True)  # False for base64, rot13, zlib, ...
    return codec if text and codec.name != "undefined" else None


@dataclass(frozen=True)
class Encoding(OptionKind):
    """A text encoding Python knows (``utf-8``, ``latin-1``, ``cp1252``, ``utf-16``, ...)."""

    def check(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            return f"expected the name of a text encoding, got {word(value)}"
        if text_codec(value) is None:
            return f"unknown text encoding {value[:40]!r}; e.g. utf-8, latin-1, cp1252, utf-16"
        return None

    def describe(self) -> str:
        return "an encoding name"

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class MissingValues(OptionKind):
    """What to do with a missing cell: one choice for every column, or a fill value per column."""

    def check(self, value: Any) -> str | None:
        if isinstance(value, str):
            return Choice(MISSING_CHOICES).check(value)
        if isinstance(value, dict) and value:
            for column, fill in value.items():
                ok = isinstance(fill, str) or (isinstance(fill, int | float) and not isinstance(fill, bool))
                if not isinstance(column, str) or not ok:
                    return f"expected `{{column: value}}` with a number or text per column, got {word(fill)}"
            return None
        return f"expected {self.describe()}, got {word(value)}"

    def describe(self) -> str:
        return " | ".join(MISSING_CHOICES) + " | {column: value}"

    def schema(self) -> dict[str, Any]:
        fill = {"oneOf": [{"type": "number"}, {"type": "string"}]}
        return {"oneOf": [{"enum": list(MISSING_CHOICES)}, {"type": "object", "additionalProperties": fill}]}


@dataclass(frozen=True)
class DataSource:
    """A built-in data set: what it holds, its task and its options."""

    name: str
    doc: str
    task: str  # classification | regression | sequence | unsupervised | generative | memory
    options: dict[str, Option] = field(default_factory=dict)
    features: int | None = None  # values per example, when fixed by the source
    classes: int | None = None  # label classes, when fixed by the source


def _n(default: int) -> Option:
    return Option(IntRange(1, 10_000_000), default, "number of examples generated")


def _noise(default: float) -> Option:
    return Option(FloatRange(0.0), default, "noise level")


def _len(default: int, doc: str = "sequence length") -> Option:
    return Option(IntRange(1, 100_000), default, doc)


SOURCES: Final[dict[str, DataSource]] = {
    s.name: s
    for s in (
        DataSource(
            "mushroom",
            "UCI Mushroom (8124 mushrooms, 22 attributes one-hot to 117): edible or poisonous; ships with cellgraph",
            "classification",
        ),
        DataSource("digits", "8x8 handwritten digits (UCI optdigits, 1797 images, 10 classes)", "classification"),
        DataSource("iris", "Fisher's iris flowers: 150 examples, 4 measurements, 3 species", "classification"),
        DataSource("xor", "the four XOR patterns of {0, 1}^2", "classification"),
        DataSource("and", "the four AND patterns of {0, 1}^2", "classification"),
        DataSource("or", "the four OR patterns of {0, 1}^2", "classification"),
        DataSource(
            "parity",
            "all bit strings of a length, labelled by parity",
            "classification",
            {"bits": Option(IntRange(1, 20), 4, "string length")},
        ),
        DataSource(
            "two_spirals",
            "two interleaved spirals in the plane",
            "classification",
            {"n": _n(600), "turns": Option(FloatRange(0.1, 10.0), 1.5, "turns of each spiral"), "noise": _noise(0.05)},
        ),
        DataSource("sine", "y = sin(x) on [0, 2 pi]", "regression", {"n": _n(200), "noise": _noise(0.0)}),
        DataSource(
            "sinc",
            "y = sin(x) / x on [-10, 10] (Huang et al.'s ELM benchmark)",
            "regression",
            {"n": _n(5000), "noise": _noise(0.2)},
        ),
        DataSource(
            "mackey_glass",
            "the Mackey-Glass chaotic series (tau = 17), for next-step and free-running prediction",
            "sequence",
            {
                "steps": _len(4000, "series length"),
                "tau": Option(IntRange(1, 100), 17, "delay"),
                "horizon": _len(84, "free-running prediction horizon"),
            },
        ),
        DataSource(
            "adding",
            "Hochreiter & Schmidhuber's adding problem: sum the two marked values",
            "sequence",
            {"n": _n(10000), "steps": _len(50)},
        ),
        DataSource(
            "temporal_xor",
            "Elman's bit stream in which every third bit is the XOR of the two before",
            "sequence",
            {"steps": _len(3000, "stream length")},
        ),
        DataSource(
            "copy_task",
            "copy a sequence of random bit vectors after a delimiter (NTM, DNC)",
            "memory",
            {
                "n": _n(20000),
                "width": Option(IntRange(1, 64), 6, "bits per vector"),
                "min_length": _len(1),
                "max_length": _len(8),
            },
        ),
        DataSource(
            "reversal",
            "reverse a sequence of symbols (encoder-decoder with attention)",
            "memory",
            {
                "n": _n(20000),
                "symbols": Option(IntRange(2, 1000), 8, "alphabet size"),
                "min_length": _len(4),
                "max_length": _len(8),
                "encoding": Option(
                    Choice(("one_hot", "ids")),
                    "one_hot",
                    "the source as one-hot vectors, or as token ids for an input with `vocab:` (symbols, "
                    "then the end token `symbols`, then the padding token `symbols + 1`: `vocab: symbols + 2`)",
                ),
            },
        ),
        DataSource(
            "encoder",
            "the n one-hot patterns of the n-k-n encoder problem",
            "unsupervised",
            {"size": Option(IntRange(2, 1024), 8, "pattern length")},
        ),
        DataSource(
            "bars",
            "binary square images of one horizontal and one vertical bar, with pixel flips",
            "unsupervised",
            {
                "n": _n(4000),
                "size": Option(IntRange(2, 64), 8, "image side"),
                "flip": Option(FloatRange(0.0, 1.0), 0.02, "pixel flip probability"),
            },
        ),
        DataSource(
            "bars_and_stripes",
            "all distinct bars-and-stripes images of a side (30 at 4x4)",
            "unsupervised",
            {"size": Option(IntRange(2, 5), 4, "image side")},
        ),
        DataSource(
            "glyphs",
            "8x8 glyphs (bars, diagonals, squares) at random positions with noise",
            "classification",
            {"n": _n(2500), "classes": Option(IntRange(2, 8), 4, "glyph classes"), "noise": _noise(0.3)},
        ),
        DataSource(
            "class_glyphs",
            "one-hot class code -> the class's centred 8x8 glyph (deconvolution)",
            "regression",
            {"classes": Option(IntRange(2, 8), 4, "glyph classes"), "n": _n(2000)},
        ),
        DataSource(
            "low_rank_gaussian",
            "Gaussian data of low rank (a linear autoencoder should match PCA)",
            "unsupervised",
            {
                "n": _n(2000),
                "dims": Option(IntRange(1, 4096), 8, "dimensions"),
                "rank": Option(IntRange(1, 4096), 2, "rank"),
                "noise": _noise(0.05),
            },
        ),
        DataSource(
            "sparse_atoms",
            "sums of a few of many fixed random atoms (sparse coding)",
            "unsupervised",
            {
                "n": _n(4000),
                "dims": Option(IntRange(1, 4096), 16, "dimensions"),
                "atoms": Option(IntRange(1, 4096), 32, "dictionary size"),
                "active": Option(IntRange(1, 64), 2, "atoms per example"),
            },
        ),
        DataSource(
            "moving_squares",
            "images of a bright square whose position and size vary",
            "unsupervised",
            {"n": _n(4000), "size": Option(IntRange(4, 64), 12, "image side")},
        ),
        DataSource(
            "markov_chain",
            "a walk sampled from a random row-stochastic transition matrix",
            "sequence",
            {"states": Option(IntRange(2, 1000), 8, "number of states"), "steps": _len(20000, "walk length")},
        ),
        DataSource(
            "random_patterns",
            "random binary patterns to store and recall (Hopfield)",
            "memory",
            {
                "patterns": Option(IntRange(1, 10000), 5, "stored patterns"),
                "size": Option(IntRange(2, 100000), 64, "bits per pattern"),
                "flip": Option(FloatRange(0.0, 1.0), 0.2, "fraction of bits flipped in a probe"),
            },
        ),
        DataSource(
            "gaussian_1d",
            "samples of a 1-D normal distribution (a GAN's target)",
            "generative",
            {
                "n": _n(10000),
                "mean": Option(FloatRange(), 4.0, "mean"),
                "std": Option(FloatRange(0.0, lo_open=True), 0.5, "standard deviation"),
            },
        ),
        DataSource(
            "uniform_square",
            "points uniform in the unit square (self-organising maps)",
            "unsupervised",
            {"n": _n(3000)},
        ),
        DataSource(
            "spike_patterns",
            "jittered Poisson spike-train templates to classify (liquid state machine)",
            "sequence",
            {
                "n": _n(1000),
                "channels": Option(IntRange(1, 1024), 4, "input channels"),
                "duration": _len(200, "length in ms"),
                "rate": Option(FloatRange(0.0, lo_open=True), 20.0, "firing rate (Hz)"),
                "jitter": Option(FloatRange(0.0), 4.0, "spike jitter (ms)"),
                "classes": Option(IntRange(2, 100), 2, "spike-train templates, one per class"),
            },
        ),
        DataSource(
            "csv",
            "a CSV file of the user's: text columns one-hot, `target:` names the label column "
            "(whole-number labels are the class ids 0, 1, 2, ...)",
            "classification",
            {
                "path": Option(Text(), None, "the file, relative to the spec"),
                "target": Option(Text(), None, "label column"),
                "one_hot": Option(Bool(), True, "one-hot encode text columns"),
                "encoding": Option(
                    Encoding(), "utf-8", "text encoding of the file (a UTF-8 byte-order mark is dropped)"
                ),
                "missing": Option(
                    MissingValues(),
                    "error",
                    "empty, NA, NaN or null cells (and '?' in a numeric or label column): error, drop the row, "
                    "fill with the column's mean or mode, or a value per column",
                ),
                "max_categories": Option(
                    Nullable(IntRange(2, 100_000)),
                    None,
                    "most distinct values a text column may one-hot to; default: 100 and at most half the rows",
                ),
                "task": Option(
                    Choice(("classification", "regression")),
                    None,
                    "classification or regression; default: regression only for a non-integer numeric target",
                ),
            },
        ),
    )
}

SPLIT_OPTIONS: Final[dict[str, Option]] = {
    "test": Option(FloatRange(0.0, 1.0, lo_open=True, hi_open=True), 0.3, "fraction held out for testing"),
    "seed": Option(IntRange(0), 0, "shuffle seed of the split"),
}

TASKS: Final = ("classification", "regression", "sequence", "unsupervised", "generative", "memory")
