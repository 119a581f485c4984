"""Sources read from files: the shipped mushroom, digits and iris sets, and the user's CSV.

The shipped files live in ``data/files/`` (provenance, licences and sha256 in its README) and are
parsed once per process; callers index the cached read-only arrays, which makes fresh copies.
CSV text becomes numbers in ``csvtable`` (missing values, encodings, labels), for the mushroom
file and the user's alike.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from ..errors import SourceLoc, spec_error
from .csvtable import Table, encode_table, read_csv
from .dataset import Dataset, Request

FILES = Path(__file__).resolve().parent / "files"
MUSHROOM_CSV = FILES / "mushrooms.csv"
DIGITS_CSV = FILES / "digits.csv.gz"
IRIS_CSV = FILES / "iris.csv"

IRIS_FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")


@functools.cache
def _mushroom_table() -> Table:
    table = encode_table(read_csv(MUSHROOM_CSV), "class")
    table.x.flags.writeable = False
    table.y.flags.writeable = False
    return table


def load_mushroom(req: Request) -> Dataset:
    """UCI Mushroom: 22 attributes one-hot to 117 columns; edible e = 0, poisonous p = 1."""
    t = _mushroom_table()
    return req.split(t.x, t.y, classes=2, feature_names=t.feature_names, label_names=t.label_names)


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(DIGITS_CSV, "rt", encoding="ascii") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.float32)  # (1797, 65): 64 counts 0..16, label
    x = (raw[:, :64] / 16.0).reshape(-1, 8, 8, 1)  # (n, 8, 8, 1) in [0, 1]
    y = raw[:, 64].astype(np.int32)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def load_digits(req: Request) -> Dataset:
    """UCI optdigits 8x8 (1797 images): pixel counts 0..16 scaled to [0, 1], labels 0-9."""
    x, y = _digits()
    return req.split(x, y, classes=10, label_names=tuple(str(d) for d in range(10)))


@functools.cache
def _iris() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    with IRIS_CSV.open(encoding="ascii") as f:
        first = f.readline().strip().split(",")  # "150,4,setosa,versicolor,virginica"
        raw = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x, y = raw[:, :4], raw[:, 4].astype(np.int32)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y, tuple(first[2:])


def load_iris(req: Request) -> Dataset:
    """Fisher's iris: 4 measurements in cm (unscaled), species setosa 0, versicolor 1, virginica 2."""
    x, y, names = _iris()
    return req.split(x, y, classes=3, label_names=names, feature_names=IRIS_FEATURES)


def load_csv(req: Request) -> Dataset:
    """The user's CSV file, relative to the spec; ``target`` names the label column."""
    path_text, target = req.options.get("path"), req.options.get("target")
    if not path_text or not target:
        raise spec_error(
            SourceLoc("<data>"),
            "data",
            "a CSV source needs `csv:` (or `path:`) and `target:`",
            "e.g. `data: {csv: my.csv, target: label}`",
        )
    from ..access import data_file_refusal  # the rule `use:` follows

    folder = req.spec_dir if req.spec_dir is not None else Path.cwd()
    refusal = data_file_refusal(folder, str(path_text), req.allow)
    if refusal is not None:  # outside the spec's project, or not a regular file: never opened
        raise spec_error(SourceLoc("<data>"), "data.csv", f"CSV file {refusal[0]}", refusal[1])
    path = folder / str(path_text)
    text = read_csv(path, req.options.get("encoding") or "utf-8")
    t = encode_table(
        text,
        target,
        one_hot=req.options.get("one_hot", True),
        task=req.options.get("task"),
        missing=req.options.get("missing") or "error",
        max_categories=req.options.get("max_categories"),
    )
    classes = None if t.label_names is None else len(t.label_names)
    return req.split(
        t.x,
        t.y,
        classes=classes,
        task=t.task,
        feature_names=t.feature_names,
        label_names=t.label_names,
        path=str(path),
        dropped_rows=t.dropped,
    )
