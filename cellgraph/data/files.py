"""Sources read from files: the shipped mushroom, digits and iris sets, and the user's CSV.

The shipped files live in ``data/files/`` (provenance, licences and sha256 in its README) and are
parsed once per process; callers index the cached read-only arrays, which makes fresh copies.
"""

from __future__ import annotations

import csv
import functools
import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SourceLoc, did_you_mean, known_list, spec_error
from .dataset import Dataset, Request

FILES = Path(__file__).resolve().parent / "files"
MUSHROOM_CSV = FILES / "mushrooms.csv"
DIGITS_CSV = FILES / "digits.csv.gz"
IRIS_CSV = FILES / "iris.csv"

IRIS_FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")


@dataclass(frozen=True)
class Table:
    """A CSV file encoded as numbers: features, labels and the names of both."""

    x: np.ndarray  # (n, features) float32
    y: np.ndarray  # (n,) int32 class ids, or (n, 1) float32 for regression
    task: str
    feature_names: tuple[str, ...]
    label_names: tuple[str, ...] | None  # class id -> the value in the file


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file; every row must have as many fields as the header."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = [[v.strip() for v in row] for row in csv.reader(f)]
    rows = [r for r in rows if r and any(r)]  # blank lines carry nothing
    if not rows:
        raise spec_error(SourceLoc(str(path)), "", "the CSV file is empty", "give a header line and data rows")
    header, body = rows[0], rows[1:]
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise spec_error(
                SourceLoc(str(path), i + 2, 1),
                "",
                f"row has {len(row)} fields, the header has {len(header)}",
                "give every row one value per header column",
            )
    if not body:
        raise spec_error(SourceLoc(str(path)), "", "the CSV file has a header but no data rows", "add data rows")
    return header, body


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def encode_table(
    header: list[str],
    rows: list[list[str]],
    target: str,
    *,
    one_hot: bool = True,
    task: str | None = None,
    file: str = "",
) -> Table:
    """Numbers from text: numeric columns as floats, the rest one-hot (or as category codes).

    Categories are sorted within a column and columns keep the file's order, so the encoding is
    the same on every run and every machine. Every distinct value is its own category, '?' too.
    The label column becomes class ids (its sorted values) unless it holds non-integer numbers
    or ``task`` says regression.
    """
    if target not in header:
        raise spec_error(
            SourceLoc(file),
            "data.target",
            f"no column '{target}' in the CSV header{did_you_mean(target, header)}",
            "columns: " + known_list(header),
        )
    columns = list(zip(*rows, strict=True))
    t = header.index(target)
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for j, (name, values) in enumerate(zip(header, columns, strict=True)):
        if j == t:
            continue
        if all(_is_number(v) for v in values):
            blocks.append(np.asarray(values, dtype=np.float64)[:, None])
            names.append(name)
            continue
        cats = sorted(set(values))
        codes = np.searchsorted(np.asarray(cats), np.asarray(values))
        if one_hot:
            blocks.append(np.eye(len(cats))[codes])
            names.extend(f"{name}={c}" for c in cats)
        else:
            blocks.append(codes[:, None].astype(np.float64))
            names.append(name)
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(rows), 0))
    labels = columns[t]
    numeric = all(_is_number(v) for v in labels)
    integral = numeric and all(float(v).is_integer() for v in labels)
    chosen = task or ("regression" if numeric and not integral else "classification")
    if chosen == "regression":
        if not numeric:
            raise spec_error(
                SourceLoc(file), "data.target", f"column '{target}' holds text, not numbers", "use task: classification"
            )
        return Table(x.astype(np.float32), np.asarray(labels, np.float32)[:, None], chosen, tuple(names), None)
    keys = sorted(set(labels), key=float) if numeric else sorted(set(labels))
    ids = {k: i for i, k in enumerate(keys)}
    y = np.asarray([ids[v] for v in labels], dtype=np.int32)
    return Table(x.astype(np.float32), y, chosen, tuple(names), tuple(keys))


@functools.cache
def _mushroom_table() -> Table:
    header, rows = read_csv(MUSHROOM_CSV)
    table = encode_table(header, rows, "class", file=str(MUSHROOM_CSV))
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
    path = Path(path_text)
    if not path.is_absolute() and req.spec_dir is not None:
        path = req.spec_dir / path
    if not path.is_file():
        raise spec_error(
            SourceLoc("<data>"),
            "data.csv",
            f"CSV file '{path_text}' not found (looked at {path})",
            "give a path relative to the spec file",
        )
    header, rows = read_csv(path)
    t = encode_table(
        header, rows, target, one_hot=req.options.get("one_hot", True), task=req.options.get("task"), file=str(path)
    )
    classes = None if t.label_names is None else len(t.label_names)
    return req.split(
        t.x, t.y, classes=classes, task=t.task, feature_names=t.feature_names, label_names=t.label_names, path=str(path)
    )
