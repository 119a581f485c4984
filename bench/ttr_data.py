"""The data of the time-to-result jobs, read with NumPy alone, for the contenders that are not cellgraph.

Each contender script of ``ttr_bench.py`` reads or generates its data here, the way a user of that
framework would, so that none of them pays for importing cellgraph. The files are the ones
cellgraph ships (``cellgraph/data/files``), split with the same proportions as the specs say; the
rows differ from cellgraph's split, the sizes do not.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import NamedTuple

import numpy as np

FILES = Path(__file__).resolve().parent.parent / "cellgraph" / "data" / "files"


class Split(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _split(x: np.ndarray, y: np.ndarray, test: float, seed: int = 0) -> Split:
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(len(x) * test)
    test_rows, train_rows = order[:n_test], order[n_test:]
    return Split(x[train_rows], y[train_rows], x[test_rows], y[test_rows])


def mushroom() -> Split:
    """UCI Mushroom: every attribute one-hot (117 columns), edible 0 / poisonous 1; 30 % test."""
    with (FILES / "mushrooms.csv").open(encoding="ascii", newline="") as f:
        rows = list(csv.reader(f))[1:]
    table = np.array(rows)
    labels = (table[:, 0] == "p").astype(np.int32)
    columns = [table[:, k : k + 1] == np.unique(table[:, k])[None, :] for k in range(1, table.shape[1])]
    x = np.concatenate(columns, axis=1).astype(np.float32)
    return _split(x, labels, 0.3)


def digits() -> Split:
    """UCI optdigits 8x8: pixel counts / 16 as (n, 8, 8, 1) images, labels 0-9; 30 % test."""
    with gzip.open(FILES / "digits.csv.gz", "rt", encoding="ascii") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.float32)
    return _split((raw[:, :64] / 16.0).reshape(-1, 8, 8, 1), raw[:, 64].astype(np.int32), 0.3)


def adding(n: int = 1024, steps: int = 100, seed: int = 0) -> Split:
    """Hochreiter & Schmidhuber's adding problem: (n, steps, 2) sequences of a value and a marker,
    target 0.5 + (X1 + X2) / 4 of the two marked values; 10 % test."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 1.0, (n, steps))
    first = rng.integers(0, 10, n)
    second = rng.integers(0, steps // 2 - 2, n)
    second = second + (second >= first)
    marker = np.zeros((n, steps))
    marker[np.arange(n), first] = 1.0
    marker[np.arange(n), second] = 1.0
    x = np.stack([values, marker], axis=2).astype(np.float32)
    y = (0.5 + (values[np.arange(n), first] + values[np.arange(n), second]) / 4.0)[:, None].astype(np.float32)
    return _split(x, y, 0.1)


LOADERS = {"mushroom": mushroom, "lstm": adding, "dcn": digits}
