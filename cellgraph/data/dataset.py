"""The :class:`Dataset` record every loader returns, and the split every loader shares.

NumPy only: a data set is plain host arrays, so loading one never starts JAX; the trainer moves
batches to the device itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CellgraphError, SourceLoc, spec_error

# Sub-streams of one seed: examples and the split never draw the same random bits.
STREAM_DATA = 0
STREAM_SPLIT = 1


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays of one data set, with what a trainer needs to know about them.

    Array conventions (the compiler reshapes to the spec's input when the sizes agree):

    - ``x_*`` are float32. Vectors are ``(n, features)``; images are ``(n, height, width, 1)``
      with values in [0, 1] (digits, bars, glyphs), also when a spec's input is a flat vector of
      64; sequences are ``(n, time, features)``.
    - ``y_*`` are int32 class ids ``(n,)`` for classification (``(n, time)`` per step for token
      sequences), float32 targets for regression (``(n, 1)`` for a scalar, ``(n, h, w, 1)`` for
      images, ``(n, time, k)`` per step), and None when the task has no targets (unsupervised,
      generative): then ``x_test`` is still the held-out part.
    - For the tiny enumerated sets (xor, and, or, parity, encoder, bars_and_stripes) the train and
      test parts are both all patterns unless the data block gives a ``split:`` explicitly:
      holding out one of four XOR patterns tests nothing.

    ``meta`` holds what is specific to a source: ``split`` (the fraction and seed used), ``seed``
    (the generator seed), ``options`` (every option, defaults filled in), and per source e.g.
    ``predictable`` (temporal_xor), ``mask`` (copy_task, reversal), ``label_names``.
    """

    name: str
    task: str  # classification | regression | sequence | unsupervised | memory | generative
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    classes: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        y = "None" if self.y_train is None else f"{self.y_train.shape} {self.y_train.dtype}"
        return (
            f"Dataset({self.name!r}, task={self.task}, x_train={self.x_train.shape}, y_train={y}, "
            f"x_test={self.x_test.shape}, classes={self.classes})"
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
        x_train: np.ndarray,
        y_train: np.ndarray | None,
        x_test: np.ndarray,
        y_test: np.ndarray | None,
        *,
        classes: int | None = None,
        task: str | None = None,
        **meta: Any,
    ) -> Dataset:
        """Assemble a :class:`Dataset`, casting x to float32 and class ids to int32."""
        return Dataset(
            name=self.name,
            task=task or self.task,
            x_train=_as_x(x_train),
            y_train=_as_y(y_train),
            x_test=_as_x(x_test),
            y_test=_as_y(y_test),
            classes=classes,
            meta={**self.base_meta(), **meta},
        )

    def split(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        classes: int | None = None,
        whole: bool = False,
        task: str | None = None,
        **meta: Any,
    ) -> Dataset:
        """Shuffle ``x`` (and ``y``) with the split seed and hold out the test fraction.

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
        train, test = split_indices(len(x), self.n_test(len(x)), self.rng(STREAM_SPLIT))
        rest = {}
        for k, v in meta.items():
            if k.endswith("_all"):
                rest[f"{k[: -len('_all')]}_train"] = v[train]
                rest[f"{k[: -len('_all')]}_test"] = v[test]
            else:
                rest[k] = v
        y_train = None if y is None else y[train]
        y_test = None if y is None else y[test]
        return self.make(x[train], y_train, x[test], y_test, classes=classes, task=task, **rest)


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
        data: a :class:`Dataset` or anything with ``y_train``/``y_test`` (and maybe ``classes``).
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
    ys = [np.asarray(y) for y in (getattr(data, "y_train", None), getattr(data, "y_test", None)) if y is not None]
    ys = [y for y in ys if y.size and (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_)]
    if not ys:
        return
    low = min(int(y.min()) for y in ys)
    top = max(int(y.max()) for y in ys)
    declared = getattr(data, "classes", None)
    needed = max(top + 1, declared if isinstance(declared, int) else 0)
    where = loc or SourceLoc("<data>")
    if low < 0:
        raise spec_error(
            where,
            path,
            f"a class label is {low}: class labels are the ids 0, 1, 2, ... of the output units of `{group}`",
            "number the classes from 0 (in a CSV file, or give `task: regression` to fit the values)",
        )
    units = 2 if size == 1 else size  # one sigmoid unit: class 0 below one half, class 1 above
    if needed > units:
        top_label = needed - 1
        if size == 1:
            raise spec_error(
                where,
                path,
                f"labels go up to {top_label} ({needed} classes) but the output group `{group}` has 1 unit, "
                "which tells 2 classes apart",
                f"set `size: {needed}` on `{group}` with `activation: softmax`",
            )
        raise spec_error(
            where,
            path,
            f"labels go up to {top_label} ({needed} classes) but the output group `{group}` has size {size}",
            f"set `size: {needed}` on `{group}`, or number the classes 0 to {size - 1}",
        )


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
        x: examples, first axis the example axis.
        y: targets or None (unsupervised). Integer targets mean classification.
        test: fraction held out for testing, in (0, 1).
        seed: seed of the shuffle.
        task: override the guessed task.
        name: name recorded in the data set.

    Returns:
        The split data set.

    Example:
        >>> ds = dataset_from_arrays(np.zeros((10, 3)), np.arange(10) % 2, test=0.2)
        >>> ds.x_train.shape, ds.classes
        ((8, 3), 2)
    """
    x = np.asarray(x)
    y_arr = None if y is None else np.asarray(y)
    if y_arr is not None and len(y_arr) != len(x):
        raise CellgraphError(f"x has {len(x)} examples but y has {len(y_arr)}")
    if not 0.0 < test < 1.0:
        raise CellgraphError(f"test fraction must lie in (0, 1), got {test}")
    is_class = y_arr is not None and np.issubdtype(y_arr.dtype, np.integer)
    guessed = "unsupervised" if y_arr is None else ("classification" if is_class else "regression")
    classes = int(y_arr.max()) + 1 if is_class and y_arr is not None and y_arr.size else None
    request = Request(name, task or guessed, {}, test, seed, seed, True)
    return request.split(x, y_arr, classes=classes)


def _as_x(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _as_y(y: np.ndarray | None) -> np.ndarray | None:
    if y is None:
        return None
    kind = np.int32 if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_ else np.float32
    return np.ascontiguousarray(y, dtype=kind)
