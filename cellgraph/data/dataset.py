"""The :class:`Dataset` record every loader returns, and the split every loader shares.

NumPy only: a data set is plain host arrays, so loading one never starts JAX; the trainer moves
batches to the device itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from ..errors import CellgraphError, Problem, SourceLoc, SpecError

# Sub-streams of one seed: examples and the split never draw the same random bits.
STREAM_DATA = 0
STREAM_SPLIT = 1

Arrays: TypeAlias = np.ndarray | Mapping[str, np.ndarray]
"""One array, or one per group (``{"wide": a, "deep": b}``); every leaf's first axis is the examples."""


def leaves(tree: Any) -> list[tuple[str | None, Any]]:
    """``(group, array)`` of each leaf: ``[(None, a)]`` for one array, none for None."""
    if tree is None:
        return []
    if isinstance(tree, Mapping):
        return [(str(k), v) for k, v in tree.items()]
    return [(None, tree)]


def map_leaves(tree: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` applied to every leaf, keeping the tree's form (None, one array or a mapping)."""
    if tree is None:
        return None
    if isinstance(tree, Mapping):
        return {k: fn(v) for k, v in tree.items()}
    return fn(tree)


def count(*trees: Any) -> int:
    """Examples in the trees' leaves (their first axis); the leaves must agree."""
    sizes = {name or "x": int(np.shape(a)[0]) if np.ndim(a) else 0 for tree in trees for name, a in leaves(tree)}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise CellgraphError(
            f"the arrays differ in their number of examples ({listed}); give every array one row per example"
        )
    return next(iter(sizes.values()), 0)


def describe(tree: Any) -> str:
    """``(8, 3) float32``, or ``{'wide': (8, 3), 'deep': (8, 5)}`` for a mapping (``__repr__``)."""
    if tree is None:
        return "None"
    if isinstance(tree, Mapping):
        return "{" + ", ".join(f"{k!r}: {np.shape(v)}" for k, v in tree.items()) + "}"
    return f"{tree.shape} {tree.dtype}"


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays of one data set, with what a trainer needs to know about them.

    Array conventions (the compiler reshapes to the spec's input when the sizes agree):

    - ``x_*`` are float32: one array, or a mapping input group -> array for a network with several
      input groups (``{"wide": (n, 3), "deep": (n, 5)}``). Vectors are ``(n, features)``; images are ``(n, height, width, 1)``
      with values in [0, 1] (digits, bars, glyphs), also when a spec's input is a flat vector of
      64; sequences are ``(n, time, features)``.
    - ``y_*`` are int32 class ids ``(n,)`` for classification (``(n, time)`` per step for token
      sequences), float32 targets for regression (``(n, 1)`` for a scalar, ``(n, h, w, 1)`` for
      images, ``(n, time, k)`` per step), and None when the task has no targets (unsupervised,
      generative): then ``x_test`` is still the held-out part. A network with several outputs
      scored against the data takes a mapping output group -> targets (each as above).
    - Every leaf of one split has the same number of examples (its first axis).
    - For the tiny enumerated sets (xor, and, or, parity, encoder, bars_and_stripes) the train and
      test parts are both all patterns unless the data block gives a ``split:`` explicitly:
      holding out one of four XOR patterns tests nothing.

    ``meta`` holds what is specific to a source: ``split`` (the fraction and seed used), ``seed``
    (the generator seed), ``options`` (every option, defaults filled in), and per source e.g.
    ``predictable`` (temporal_xor), ``mask`` (copy_task, reversal), ``label_names``; the user's
    own data (:func:`cellgraph.data.as_dataset`) records ``origin`` (the file or "the arrays").

    ``classes`` is the number of classes of the one classified output, or a mapping output group
    -> classes when several outputs are classified (None: no class labels). ``x_val``/``y_val``
    hold a validation part split off the training part when one was asked for (``validation=``).
    """

    name: str
    task: str  # classification | regression | sequence | unsupervised | memory | generative | mixed
    x_train: Arrays
    y_train: Arrays | None
    x_test: Arrays
    y_test: Arrays | None
    classes: int | Mapping[str, int] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    x_val: Arrays | None = None
    y_val: Arrays | None = None

    def __repr__(self) -> str:
        x_train = self.x_train.shape if isinstance(self.x_train, np.ndarray) else describe(self.x_train)
        x_test = self.x_test.shape if isinstance(self.x_test, np.ndarray) else describe(self.x_test)
        return (
            f"Dataset({self.name!r}, task={self.task}, x_train={x_train}, y_train={describe(self.y_train)}, "
            f"x_test={x_test}, classes={self.classes})"
        )


@dataclass(frozen=True)
class Request:
    """What a source builder is asked for: resolved options, seeds and the held-out fraction."""

    name: str
    task: str
    options: Mapping[str, Any]
    test: float  # fraction held out
    split_seed: int
    seed: int  # generator seed
    explicit_split: bool  # the data block had `split:`
    spec_dir: Path | None = None
    allow: tuple[str | Path, ...] = ()  # folders outside the spec's project a CSV may be read from

    def rng(self, stream: int = STREAM_DATA) -> np.random.Generator:
        """A generator for one purpose; the same seed gives the same numbers every run."""
        seed = self.split_seed if stream == STREAM_SPLIT else self.seed
        return np.random.default_rng(np.random.SeedSequence([seed, stream]))

    def n_test(self, n: int) -> int:
        """Held-out examples of ``n``: the fraction, rounded, leaving at least one on each side."""
        if n < 2:
            raise CellgraphError(f"data source '{self.name}': {n} example(s) cannot be split into train and test")
        return min(max(round(n * self.test), 1), n - 1)

    def base_meta(self) -> dict[str, Any]:
        return {
            "split": {"test": self.test, "seed": self.split_seed},
            "seed": self.seed,
            "options": dict(self.options),
        }

    def make(
        self,
        x_train: Arrays,
        y_train: Arrays | None,
        x_test: Arrays,
        y_test: Arrays | None,
        *,
        classes: int | Mapping[str, int] | None = None,
        task: str | None = None,
        **meta: Any,
    ) -> Dataset:
        """Assemble a :class:`Dataset`, casting x to float32 and class ids to int32 (every leaf)."""
        return Dataset(
            name=self.name,
            task=task or self.task,
            x_train=map_leaves(x_train, _as_x),
            y_train=map_leaves(y_train, _as_y),
            x_test=map_leaves(x_test, _as_x),
            y_test=map_leaves(y_test, _as_y),
            classes=classes,
            meta={**self.base_meta(), **meta},
        )

    def split(
        self,
        x: Arrays,
        y: Arrays | None,
        *,
        classes: int | Mapping[str, int] | None = None,
        whole: bool = False,
        task: str | None = None,
        **meta: Any,
    ) -> Dataset:
        """Shuffle ``x`` (and ``y``) with the split seed and hold out the test fraction.

        ``x`` and ``y`` are arrays or mappings group -> array: every leaf is cut with the same
        indices, so example i of one group stays with example i of the others.
        ``whole``: a tiny enumerated set; without an explicit ``split:`` both parts are all of it.
        Per-example arrays in ``meta`` whose name ends in ``_all`` are split alongside, as
        ``<name>_train`` and ``<name>_test``.
        """
        if whole and not self.explicit_split:
            extra = {k[: -len("_all")]: v for k, v in meta.items() if k.endswith("_all")}
            rest = {k: v for k, v in meta.items() if not k.endswith("_all")}
            for k, v in extra.items():
                rest[f"{k}_train"] = rest[f"{k}_test"] = v
            return self.make(x, y, x, y, classes=classes, task=task, held_out="none", **rest)
        n = count(x, y)
        train, test = split_indices(n, self.n_test(n), self.rng(STREAM_SPLIT))
        rest = {}
        for k, v in meta.items():
            if k.endswith("_all"):
                rest[f"{k[: -len('_all')]}_train"] = v[train]
                rest[f"{k[: -len('_all')]}_test"] = v[test]
            else:
                rest[k] = v
        return self.make(
            take(x, train), take(y, train), take(x, test), take(y, test), classes=classes, task=task, **rest
        )


def check_labels_fit(
    data: Any,
    size: int,
    *,
    group: str = "y",
    loc: SourceLoc | None = None,
    path: str = "",
) -> None:
    """Raise a :class:`SpecError` when a data set's class labels do not fit an output group.

    Class ids index the output units (softmax cross-entropy), so a label of 3 needs 4 units; with
    fewer, the loss reads past the logits and training ends in NaN ("lower the learning rate"),
    and a negative id trains on nothing. One unit (a sigmoid) tells two classes apart.

    Args:
        data: a :class:`Dataset` or anything with ``y_train``/``y_test`` (and maybe ``classes``);
            targets given per output group are read at ``group``.
        size: units of the output group the labels train (the last axis of its shape).
        group: the output group's name, for the message.
        loc, path: where the group's ``size:`` is written in the spec (the error points there).

    Nothing is checked for regression or unsupervised data (float or absent targets).

    >>> ds = dataset_from_arrays(np.zeros((8, 2)), np.arange(8) % 4, test=0.25)
    >>> check_labels_fit(ds, 2)
    Traceback (most recent call last):
    ...
    cellgraph.errors.SpecError: <data>: labels go up to 3 (4 classes) but the output group `y` has size 2
      fix: set `size: 4` on `y`, or number the classes 0 to 1
    """
    splits = (getattr(data, "y_train", None), getattr(data, "y_test", None))
    ys = [y.get(group) if isinstance(y, Mapping) else y for y in splits]
    declared = getattr(data, "classes", None)
    if isinstance(declared, Mapping):
        declared = declared.get(group)
    problem = label_problem([np.asarray(y) for y in ys if y is not None], size, declared, group, loc, path)
    if problem is not None:
        raise SpecError([problem])


def label_problem(
    ys: list[np.ndarray],
    size: int,
    declared: Any,
    group: str,
    loc: SourceLoc | None,
    path: str,
) -> Problem | None:
    """The problem with class labels ``ys`` (integer arrays; others pass) for an output of ``size`` units."""
    ys = [y for y in ys if y.size and (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_)]
    if not ys:
        return None
    low = min(int(y.min()) for y in ys)
    top = max(int(y.max()) for y in ys)
    needed = max(top + 1, declared if isinstance(declared, int) and not isinstance(declared, bool) else 0)
    where = loc or SourceLoc("<data>")
    if low < 0:
        return Problem(
            where,
            path,
            f"a class label is {low}: class labels are the ids 0, 1, 2, ... of the output units of `{group}`",
            "number the classes from 0 (in a CSV file, or give `task: regression` to fit the values)",
        )
    units = 2 if size == 1 else size  # one sigmoid unit: class 0 below one half, class 1 above
    if needed > units:
        top_label = needed - 1
        if size == 1:
            return Problem(
                where,
                path,
                f"labels go up to {top_label} ({needed} classes) but the output group `{group}` has 1 unit, "
                "which tells 2 classes apart",
                f"set `size: {needed}` on `{group}` with `activation: softmax`",
            )
        return Problem(
            where,
            path,
            f"labels go up to {top_label} ({needed} classes) but the output group `{group}` has size {size}",
            f"set `size: {needed}` on `{group}`, or number the classes 0 to {size - 1}",
        )
    return None


def take(tree: Any, index: np.ndarray) -> Any:
    """The examples ``index`` of every leaf (None stays None)."""
    return map_leaves(tree, lambda a: a[index])


def split_indices(n: int, n_test: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random permutation of ``range(n)`` cut into (train, test) index arrays."""
    perm = rng.permutation(n)
    return perm[: n - n_test], perm[n - n_test :]


def dataset_from_arrays(
    x: Any,
    y: Any = None,
    *,
    test: float = 0.3,
    seed: int = 0,
    task: str | None = None,
    name: str = "arrays",
) -> Dataset:
    """Wrap the user's own arrays as a :class:`Dataset`, shuffled and split like a built-in set.

    Args:
        x: examples, first axis the example axis; or a mapping input group -> such an array.
        y: targets or None (unsupervised); or a mapping output group -> targets. Integer
            targets mean classification.
        test: fraction held out for testing, in (0, 1).
        seed: seed of the shuffle.
        task: override the guessed task.
        name: name recorded in the data set.

    Returns:
        The split data set; every leaf is cut with the same indices.

    Example:
        >>> ds = dataset_from_arrays(np.zeros((10, 3)), np.arange(10) % 2, test=0.2)
        >>> ds.x_train.shape, ds.classes
        ((8, 3), 2)
        >>> two = dataset_from_arrays({"wide": np.zeros((10, 3)), "deep": np.ones((10, 5))}, test=0.2)
        >>> two.x_train["deep"].shape
        (8, 5)
    """
    x = map_leaves(x, np.asarray)
    y_arr = map_leaves(y, np.asarray)
    if y_arr is not None:
        n_x, n_y = count(x), count(y_arr)
        if n_x != n_y:
            raise CellgraphError(f"x has {n_x} examples but y has {n_y}")
    else:
        count(x)
    if not 0.0 < test < 1.0:
        raise CellgraphError(f"test fraction must lie in (0, 1), got {test}")
    classes = class_counts(y_arr)
    request = Request(name, task or guess_task(y_arr), {}, test, seed, seed, True)
    return request.split(x, y_arr, classes=classes)


def is_class_ids(a: Any) -> bool:
    """Integer (or boolean) targets: class ids."""
    kind = np.asarray(a).dtype
    return bool(np.issubdtype(kind, np.integer) or kind == np.bool_)


def guess_task(y: Any) -> str:
    """unsupervised (no targets), classification (integer targets), regression, or mixed."""
    kinds = {"classification" if np.issubdtype(np.asarray(a).dtype, np.integer) else "regression" for _, a in leaves(y)}
    return "unsupervised" if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"


def class_counts(y: Any) -> int | dict[str, int] | None:
    """Largest class id + 1 of integer targets: an int for one array, a mapping per output group."""

    def top(a: np.ndarray) -> int | None:
        return int(a.max()) + 1 if np.issubdtype(a.dtype, np.integer) and a.size else None

    if isinstance(y, Mapping):
        found = {str(k): top(np.asarray(v)) for k, v in y.items()}
        return {k: v for k, v in found.items() if v is not None} or None
    return None if y is None else top(np.asarray(y))


def _as_x(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _as_y(y: np.ndarray | None) -> np.ndarray | None:
    if y is None:
        return None
    kind = np.int32 if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_ else np.float32
    return np.ascontiguousarray(y, dtype=kind)
