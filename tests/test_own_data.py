"""The user's own data for any graph: every form it comes in, and every way it can fail to fit the spec.

The table :data:`CASES` is the issue's "at least 40 spec/data mismatches": each is a spec written
here and data that does not fit it, and each must give a located :class:`SpecError` -- the spec's
file, the line marked ``# <-`` in the spec, the key path and a fix -- from the data layer alone
(:func:`cellgraph.data.as_dataset` and :func:`cellgraph.data.check_data`), never a traceback.
``test_the_table_runs_without_jax`` runs the whole table in a fresh interpreter and checks that
JAX was never imported: the checks come before any JAX work. A few cases also go through
``cellgraph.train``. The positive tests train a two-input wide-and-deep network one epoch from a
mapping, a tuple, an ``.npz`` file, a CSV file and a DataFrame, and the loss must fall.

Run as a script (``python tests/test_own_data.py``) it checks the table and prints ``ok N``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cellgraph
from cellgraph.data import Dataset, as_dataset, check_data, dataset_from_arrays, load_dataset
from cellgraph.data.blocks import block_problems
from cellgraph.errors import CellgraphError, SpecError

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "own_data"
N = 60
RNG = np.random.default_rng(0)


def _x(*shape: int) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(N, *shape)).astype(np.float32)


def _labels(k: int, n: int = N) -> np.ndarray:
    return np.arange(n) % k


# --------------------------------------------------------------------------------------------- specs

MLP = """\
cellgraph: 1
name: mlp
cells:                                      # CELLS
  x: {type: input, size: 4}                 # X
  h: {type: hidden, size: 8, activation: tanh}   # H
  y: {type: output, size: 3, activation: softmax}   # Y
edges:
  - x -> h -> y
train: {loss: cross_entropy}
"""

REGRESSION = """\
cellgraph: 1
name: reg
cells:                                      # CELLS
  x: {type: input, size: 4}                 # X
  h: {type: hidden, size: 8, activation: tanh}
  y: {type: output, size: 1, activation: linear}   # Y
edges:
  - x -> h -> y
"""

WIDE3 = """\
cellgraph: 1
name: wide3
cells:                                      # CELLS
  x: {type: input, size: 4}                 # X
  h: {type: hidden, size: 8, activation: tanh}
  y: {type: output, size: 3, activation: linear}   # Y
edges:
  - x -> h -> y
"""

IMAGE = """\
cellgraph: 1
name: image
cells:                                      # CELLS
  x: {type: input, shape: [4, 4, 1]}        # X
  h: {type: hidden, size: 8}
  y: {type: output, size: 1, activation: sigmoid}   # Y
edges:
  - x -> h -> y
"""

BITS = """\
cellgraph: 1
name: bits
cells:                                      # CELLS
  x: {type: input, size: 4}                 # X
  h: {type: hidden, size: 8}
  y: {type: output, size: 4, activation: sigmoid}   # Y
edges:
  - x -> h -> y
"""

SEQUENCE = """\
cellgraph: 1
name: seq
cells:                                      # CELLS
  x: {type: input, size: 2, sequence: true} # X
  r: {type: recurrent, size: 8, emit: last}
  y: {type: output, size: 1, activation: linear}   # Y
edges:
  - x -> r -> y
"""

TOKENS = """\
cellgraph: 1
name: tokens
cells:                                      # CELLS
  x: {type: input, size: 3, sequence: true} # X
  r: {type: recurrent, size: 8}
  y: {type: output, size: 4, activation: softmax}   # Y
edges:
  - x -> r -> y
"""

TWO_SEQUENCES = """\
cellgraph: 1
name: two_seq
cells:                                      # CELLS
  a: {type: input, size: 2, sequence: true} # A
  b: {type: input, size: 3, sequence: true} # B
  r: {type: recurrent, size: 8, emit: last}
  y: {type: output, size: 1, activation: linear}
edges:
  - a, b -> r -> y
"""

AUTOENCODER = """\
cellgraph: 1
name: ae
cells:                                      # CELLS
  x: {type: input, size: 4}
  h: {type: hidden, size: 2}
  y: {type: match_input_output, size: 4, activation: linear}   # Y
edges:
  - x -> h -> y
train: {loss: reconstruction}
"""

PICK = """\
cellgraph: 1
name: pick
cells:                                      # CELLS
  x: {type: input, size: 4}
  h: {type: hidden, size: 8}
  ctx: {type: output, size: 2, activation: linear}   # CTX
  y: {type: output, size: 3, activation: softmax}
edges:
  - x -> h -> ctx, y
train: {target: y}
"""

WIDE_DEEP = """\
cellgraph: 1
name: wide_deep
cells:                                      # CELLS
  wide: {type: input, size: 3}              # WIDE
  deep: {type: input, size: 5}              # DEEP
  h1: {type: hidden, size: 16, activation: relu}   # H1
  y: {type: output, size: 2, activation: softmax}  # Y
edges:
  - deep -> h1
  - wide, h1 -> y
train:
  loss: cross_entropy
  optimizer: {name: adam, learning_rate: 1.0e-2}
  batch_size: 16
  seed: 0
"""

TWO_HEADS = """\
cellgraph: 1
name: two_heads
cells:                                      # CELLS
  x: {type: input, size: 4}                 # X
  trunk: {type: hidden, size: 16, activation: tanh}
  cls: {type: output, size: 3, activation: softmax, loss: cross_entropy}   # CLS
  reg: {type: output, size: 1, activation: linear, loss: huber, loss_weight: 0.5}   # REG
edges:
  - x -> trunk -> cls, reg
"""


def graph_of(text: str) -> Any:
    name = text.split("name: ", 1)[1].split("\n", 1)[0]
    return cellgraph.build_graph(cellgraph.load_spec_text(text, f"{name}.yaml"))


def line_of(text: str, marker: str) -> int:
    """The spec line that ends in ``# MARKER``."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith(f"# {marker}")]
    assert len(lines) == 1, marker
    return lines[0]


# --------------------------------------------------------------------------------------------- the table


def _npz(**arrays: np.ndarray) -> str:
    path = Path(tempfile.mkdtemp(prefix="own_data_")) / "data.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return str(path)


@dataclass(frozen=True)
class Case:
    """A spec, data that does not fit it, and where the error must point."""

    id: str
    spec: str
    data: Callable[[], Any]
    marker: str  # the spec line the error points at (`# MARKER`)
    path: str  # the key path it names
    words: str  # a fragment of the message
    test_data: Callable[[], Any] | None = None
    dataset: bool = False  # data() is a data set: check_data alone must refuse it


CASES: list[Case] = [
    # ---- inputs: feature counts and shapes
    Case("too few features", MLP, lambda: (_x(3), _labels(3)), "X", "cells.x.size", "takes 4 values per example"),
    Case("too many features", MLP, lambda: (_x(6), _labels(3)), "X", "cells.x.size", "has 6"),
    Case("an image into the wrong flat size", MLP, lambda: (_x(3, 3), _labels(3)), "X", "cells.x.size", "has 9"),
    Case(
        "features into a `shape:` input", IMAGE, lambda: (_x(15), _labels(2)), "X", "cells.x.shape", "shape: [4, 4, 1]"
    ),
    Case("one example, no example axis", MLP, lambda: (np.float32(1.0), _labels(3)), "X", "cells.x", "single number"),
    # ---- inputs: sequences
    Case("a sequence into a plain input", REGRESSION, lambda: (_x(10, 4), _x(1)), "X", "cells.x", "a sequence"),
    Case(
        "`sequence: true` without a time axis",
        SEQUENCE,
        lambda: (_x(2), _x(1)),
        "X",
        "cells.x.sequence",
        "no time axis",
    ),
    Case(
        "wrong features per step", SEQUENCE, lambda: (_x(10, 3), _x(1)), "X", "cells.x.size", "2 values per time step"
    ),
    Case("a flat vector into a sequence input", SEQUENCE, lambda: (_x(5), _x(1)), "X", "cells.x.size", "no time axis"),
    Case("sequences of no steps", SEQUENCE, lambda: (_x(0, 2), _x(1)), "X", "cells.x", "0 steps"),
    Case(
        "sequence inputs of different lengths",
        TWO_SEQUENCES,
        lambda: ({"a": _x(10, 2), "b": _x(12, 3)}, _x(1)),
        "B",
        "cells.b",
        "12 steps",
    ),
    # ---- inputs: which arrays
    Case(
        "a missing input array",
        WIDE_DEEP,
        lambda: {"deep": _x(5), "y": _labels(2)},
        "WIDE",
        "cells.wide",
        "no array for input group `wide`",
    ),
    Case(
        "a misspelt input array",
        WIDE_DEEP,
        lambda: {"wide": _x(3), "deeep": _x(5), "y": _labels(2)},
        "CELLS",
        "cells",
        "did you mean 'deep'",
    ),
    Case(
        "an array named after a hidden group",
        WIDE_DEEP,
        lambda: {"wide": _x(3), "deep": _x(5), "h1": _x(16), "y": _labels(2)},
        "H1",
        "cells.h1",
        "neither an input group",
    ),
    Case(
        "one array for two input groups",
        WIDE_DEEP,
        lambda: (_x(8), _labels(2)),
        "CELLS",
        "cells",
        "2 input groups (wide, deep)",
    ),
    Case(
        "input arrays of different lengths",
        WIDE_DEEP,
        lambda: {"wide": _x(3), "deep": _x(5)[:50], "y": _labels(2)},
        "DEEP",
        "cells.deep",
        "50 examples",
    ),
    Case(
        "an input given as a target",
        MLP,
        lambda: (_x(4), {"x": _labels(3)}),
        "X",
        "cells.x",
        "is an input group, but the data gives it as a target",
    ),
    Case(
        "an output given as an input",
        MLP,
        lambda: ({"y": _x(4)}, _labels(3)),
        "Y",
        "cells.y",
        "is an output group, but the data gives it as an input",
    ),
    Case(
        "an .npz file with a surplus array",
        WIDE_DEEP,
        lambda: _npz(wide=_x(3), deep=_x(5), y=_labels(2), weights=_x(1)),
        "CELLS",
        "cells",
        "named 'weights'",
    ),
    Case(
        "an .npz file without an input array",
        WIDE_DEEP,
        lambda: _npz(wide=_x(3), y=_labels(2)),
        "DEEP",
        "cells.deep",
        "data.npz",
    ),
    # ---- inputs: values
    Case("NaN in the inputs", MLP, lambda: (np.where(_x(4) > 2, np.nan, _x(4)), _labels(3)), "X", "cells.x", "nan"),
    Case(
        "infinity in the inputs", MLP, lambda: (np.where(_x(4) > 2, np.inf, _x(4)), _labels(3)), "X", "cells.x", "inf"
    ),
    Case("text inputs", MLP, lambda: (np.full((N, 4), "a"), _labels(3)), "X", "cells.x", "holds text"),
    Case("complex inputs", MLP, lambda: (_x(4) * 1j, _labels(3)), "X", "cells.x", "complex numbers"),
    Case(
        "ragged inputs",
        MLP,
        lambda: ([[1.0, 2.0, 3.0, 4.0]] * (N - 1) + [[1.0]], _labels(3)),
        "X",
        "cells.x",
        "not a rectangular array",
    ),
    Case("no examples", MLP, lambda: (_x(4)[:0], _labels(3)[:0]), "CELLS", "cells", "no examples"),
    Case("one example", MLP, lambda: (_x(4)[:1], _labels(3)[:1]), "CELLS", "cells", "too few to hold out"),
    # ---- targets: which arrays
    Case("unlabelled data into an output", MLP, lambda: (_x(4),), "Y", "cells.y", "has none (unlabelled data)"),
    Case(
        "targets for an autoencoder",
        AUTOENCODER,
        lambda: (_x(4), _labels(3)),
        "Y",
        "cells.y",
        "no output group is trained on them",
    ),
    Case(
        "targets named after a reconstruction",
        AUTOENCODER,
        lambda: {"x": _x(4), "y": _x(4)},
        "Y",
        "cells.y",
        "takes none",
    ),
    Case(
        "targets for an output `train.target` leaves out",
        PICK,
        lambda: {"x": _x(4), "y": _labels(3), "ctx": _x(2)},
        "CTX",
        "cells.ctx",
        "scores only `y`",
    ),
    Case(
        "one target array for two heads",
        TWO_HEADS,
        lambda: (_x(4), _labels(3)),
        "CELLS",
        "cells",
        "every output would be trained on the same values",
    ),
    Case(
        "a missing head's targets",
        TWO_HEADS,
        lambda: {"x": _x(4), "cls": _labels(3)},
        "REG",
        "cells.reg",
        "has none for it",
    ),
    Case("targets of another length", MLP, lambda: (_x(4), _labels(3, N - 1)), "Y", "cells.y", "59 examples"),
    # ---- targets: class labels
    Case("more classes than units", MLP, lambda: (_x(4), _labels(5)), "Y", "cells.y", "labels go up to 4"),
    Case("negative class ids", MLP, lambda: (_x(4), _labels(3) - 1), "Y", "cells.y", "a class label is -1"),
    Case("fractional class ids", MLP, lambda: (_x(4), _labels(3) / 2), "Y", "cells.y", "not a whole number"),
    Case("one-hot targets for cross-entropy", MLP, lambda: (_x(4), np.eye(3)[_labels(3)]), "Y", "cells.y", "one-hot"),
    Case(
        "two class ids per example", MLP, lambda: (_x(4), np.zeros((N, 2), int)), "Y", "cells.y.size", "2 per example"
    ),
    Case("three classes into one sigmoid unit", IMAGE, lambda: (_x(16), _labels(3)), "Y", "cells.y", "has 1 unit"),
    Case("text labels", MLP, lambda: (_x(4), np.array(["cat", "dog", "emu"] * 20)), "Y", "cells.y", "holds text"),
    Case("NaN labels", MLP, lambda: (_x(4), np.where(_labels(3) > 1, np.nan, 0.0)), "Y", "cells.y", "nan"),
    Case(
        "per-step class ids of the wrong length",
        TOKENS,
        lambda: (_x(6, 3), np.zeros((N, 5), int)),
        "Y",
        "cells.y.size",
        "6 class ids per example",
    ),
    # ---- targets: binary cross-entropy and values
    Case("bce targets above one", BITS, lambda: (_x(4), np.full((N, 4), 2.5)), "Y", "cells.y", "between 0 and 1"),
    Case("class ids into bce bits", BITS, lambda: (_x(4), _labels(4)), "Y", "cells.y.size", "one class id per example"),
    Case(
        "regression targets too wide", REGRESSION, lambda: (_x(4), _x(2)), "Y", "cells.y.size", "2 values per example"
    ),
    Case("class ids into a regression of 3 units", WIDE3, lambda: (_x(4), _labels(3)), "Y", "cells.y.size", "class id"),
    Case("infinite regression targets", REGRESSION, lambda: (_x(4), np.full((N, 1), np.inf)), "Y", "cells.y", "inf"),
    Case(
        "per-step targets for a per-sequence output",
        SEQUENCE,
        lambda: (_x(10, 2), _x(10, 1)),
        "Y",
        "cells.y",
        "one per time step",
    ),
    Case(
        "per-sequence targets for a per-step output",
        TOKENS,
        lambda: (_x(6, 3), _labels(4)),
        "Y",
        "cells.y.size",
        "per step",
    ),
    # ---- explicit test data and data sets given whole
    Case(
        "test data with other features",
        MLP,
        lambda: (_x(4), _labels(3)),
        "X",
        "cells.x.size",
        "the test data",
        test_data=lambda: (_x(5), _labels(3)),
    ),
    Case(
        "test labels out of range",
        MLP,
        lambda: (_x(4), _labels(3)),
        "Y",
        "cells.y",
        "labels go up to 6",
        test_data=lambda: (_x(4), _labels(7)),
    ),
    Case(
        "a data set without test labels",
        MLP,
        lambda: Dataset("mine", "classification", _x(4), _labels(3), _x(4), None),
        "Y",
        "cells.y",
        "the test data has none",
        dataset=True,
    ),
    Case(
        "a data set missing an input group",
        WIDE_DEEP,
        lambda: dataset_from_arrays({"wide": _x(3)}, _labels(2)),
        "DEEP",
        "cells.deep",
        "no array for input group `deep`",
        dataset=True,
    ),
]


def refusal(case: Case) -> SpecError:
    """The error the case's data gets from the data layer (as_dataset, then check_data)."""
    graph = graph_of(case.spec)
    with pytest.raises(SpecError) as err:
        test_data = case.test_data() if case.test_data else None
        data = as_dataset(case.data(), graph, test_data=test_data)
        check_data(graph, data)
    return err.value


def problem_of(case: Case, err: SpecError) -> Any:
    assert len(err.problems) == 1, err.format()
    return err.problems[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_mismatch_is_a_located_error_with_a_fix(case: Case) -> None:
    problem = problem_of(case, refusal(case))
    name = case.spec.split("name: ", 1)[1].split("\n", 1)[0]
    assert problem.loc.file == f"{name}.yaml"
    assert problem.loc.line == line_of(case.spec, case.marker), problem.format()
    assert problem.loc.col >= 1
    assert problem.path == case.path, problem.format()
    assert case.words in problem.message, problem.format()
    assert problem.fix, problem.format()
    assert "Traceback" not in problem.format()


@pytest.mark.parametrize("case", [c for c in CASES if c.dataset], ids=lambda c: c.id)
def test_check_data_alone_refuses_a_data_set(case: Case) -> None:
    graph = graph_of(case.spec)
    with pytest.raises(SpecError) as err:
        check_data(graph, case.data())
    assert err.value.problems[0].path == case.path


def test_the_table_has_forty_cases_at_least() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_table_runs_without_jax() -> None:
    """Every case is refused in a fresh interpreter that never imports JAX."""
    result = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok {len(CASES)}"


THROUGH_TRAIN = [
    "too few features",
    "unlabelled data into an output",
    "more classes than units",
    "one-hot targets for cross-entropy",
    "a sequence into a plain input",
]


@pytest.mark.parametrize("case_id", THROUGH_TRAIN)
def test_train_refuses_the_same_way(case_id: str) -> None:
    """``cellgraph.train(spec, data=...)`` refuses before compiling, with the same located error."""
    case = next(c for c in CASES if c.id == case_id)
    spec = cellgraph.load_spec_text(case.spec, "own.yaml")
    with pytest.raises(SpecError) as err:
        cellgraph.train(spec, data=case.data(), epochs=1, progress=False)
    (problem,) = err.value.problems
    assert problem.path == case.path and problem.loc.line == line_of(case.spec, case.marker)


# --------------------------------------------------------------------------------------------- data for any graph


def wide_deep_arrays(n: int = 240) -> dict[str, np.ndarray]:
    """Two inputs that both matter: the class is whether wide[0] + deep[0] + deep[1] > 0.5."""
    rng = np.random.default_rng(3)
    wide = (rng.random((n, 3)) > 0.5).astype(np.float32)
    deep = rng.normal(size=(n, 5)).astype(np.float32)
    y = (wide[:, 0] + deep[:, 0] + deep[:, 1] > 0.5).astype(np.int64)
    return {"wide": wide, "deep": deep, "y": y}


def _frame() -> Any:
    pd = pytest.importorskip("pandas")
    a = wide_deep_arrays()
    columns = {f"w{i}": a["wide"][:, i] for i in range(3)} | {f"d{i}": a["deep"][:, i] for i in range(5)}
    return pd.DataFrame({**columns, "label": a["y"]})


FRAME_COLUMNS = {"wide": ["w0", "w1", "w2"], "deep": ["d0", "d1", "d2", "d3", "d4"], "y": "label"}


def _forms(tmp: Path) -> dict[str, tuple[Any, dict[str, Any]]]:
    a = wide_deep_arrays()
    npz = tmp / "wd.npz"
    np.savez(npz, **a)
    return {
        "mapping": (a, {}),
        "tuple": (({"wide": a["wide"], "deep": a["deep"]}, a["y"]), {}),
        "list": (([a["wide"], a["deep"]], a["y"]), {}),
        "batch": ({"inputs": {"wide": a["wide"], "deep": a["deep"]}, "targets": {"y": a["y"]}}, {}),
        "npz": (str(npz), {}),
    }


@pytest.mark.parametrize("form", ["mapping", "tuple", "list", "batch", "npz"])
def test_two_inputs_in_every_form_give_the_same_data_set(form: str, tmp_path: Path) -> None:
    graph = graph_of(WIDE_DEEP)
    data, kw = _forms(tmp_path)[form]
    ds = as_dataset(data, graph, test=0.25, seed=1, **kw)
    reference = as_dataset(wide_deep_arrays(), graph, test=0.25, seed=1)
    assert set(ds.x_train) == {"wide", "deep"} and ds.x_train["deep"].shape == (180, 5)
    for key in ("wide", "deep"):
        np.testing.assert_array_equal(ds.x_train[key], reference.x_train[key])
        np.testing.assert_array_equal(ds.x_test[key], reference.x_test[key])
    np.testing.assert_array_equal(ds.y_train, reference.y_train)
    assert ds.y_train.dtype == np.int32 and ds.classes == 2 and ds.task == "classification"
    check_data(graph, ds)


def test_every_array_is_split_with_the_same_indices() -> None:
    a = wide_deep_arrays()
    a["deep"][:, 4] = np.arange(len(a["y"]))  # the example's number travels with it
    a["wide"][:, 2] = np.arange(len(a["y"]))
    ds = as_dataset(a, graph_of(WIDE_DEEP), test=0.3, seed=5)
    for part in ("train", "test"):
        x, y = getattr(ds, f"x_{part}"), getattr(ds, f"y_{part}")
        ids = x["deep"][:, 4].astype(int)
        np.testing.assert_array_equal(x["wide"][:, 2], ids)
        np.testing.assert_array_equal(y, a["y"][ids])


def test_a_dataframe_with_columns_named_in_the_call() -> None:
    frame = _frame()
    graph = graph_of(WIDE_DEEP)
    ds = as_dataset(frame, graph, columns=FRAME_COLUMNS, test=0.25, seed=1)
    reference = as_dataset(wide_deep_arrays(), graph, test=0.25, seed=1)
    np.testing.assert_allclose(ds.x_train["deep"], reference.x_train["deep"])
    np.testing.assert_array_equal(ds.y_train, reference.y_train)


def test_a_dataframe_with_one_input_reads_every_other_column() -> None:
    pd = pytest.importorskip("pandas")
    x = _x(4)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 3], "y": _labels(3)})
    ds = as_dataset(frame, graph_of(MLP), test=0.5)
    assert ds.x_train.shape == (30, 4) and ds.classes == 3


def test_a_dataframe_text_column_is_a_located_error() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": ["x", "y"] * 30, "b": 1.0, "c": 2.0, "d": 3.0, "y": _labels(3)})
    with pytest.raises(SpecError) as err:
        as_dataset(frame, graph_of(MLP))
    (problem,) = err.value.problems
    assert problem.path == "cells.x" and "pandas.get_dummies" in problem.fix


def test_a_csv_file_with_column_sets(tmp_path: Path) -> None:
    frame = _frame()
    csv = tmp_path / "wd.csv"
    frame.to_csv(csv, index=False)
    ds = as_dataset(str(csv), graph_of(WIDE_DEEP), columns=FRAME_COLUMNS, test=0.25, seed=1)
    assert ds.x_train["wide"].shape == (180, 3) and ds.x_train["deep"].shape == (180, 5)
    assert ds.y_train.dtype == np.int32 and ds.meta["origin"] == str(csv)


def test_a_spec_data_block_names_an_npz_file_and_csv_column_sets(tmp_path: Path) -> None:
    a = wide_deep_arrays()
    np.savez(tmp_path / "wd.npz", **a)
    head, tail = WIDE_DEEP.split("train:")
    npz_spec = tmp_path / "npz.yaml"
    npz_spec.write_text(head + "train:" + tail + "data: {npz: wd.npz, split: {test: 0.25, seed: 1}}\n")
    graph = cellgraph.load_graph(npz_spec)
    ds = as_dataset(None, graph)
    reference = as_dataset(a, graph, test=0.25, seed=1)
    np.testing.assert_array_equal(ds.x_test["deep"], reference.x_test["deep"])
    rows = ["w0,w1,w2,d0,d1,d2,d3,d4,band,value"]
    rows += [
        ",".join(f"{v:g}" for v in (*a["wide"][i], *a["deep"][i])) + f",{'yes' if a['y'][i] else 'no'},{i / 10}"
        for i in range(len(a["y"]))
    ]
    (tmp_path / "wd.csv").write_text("\n".join(rows) + "\n")
    csv_spec = tmp_path / "csv.yaml"
    block = (
        "data:\n  csv: wd.csv\n  inputs: {wide: [w0, w1, w2], deep: [d0, d1, d2, d3, d4]}\n"
        "  targets: {y: band}\n  split: {test: 0.25, seed: 1}\n"
    )
    csv_spec.write_text(head + "train:" + tail + block)
    ds = as_dataset(None, cellgraph.load_graph(csv_spec))
    assert ds.x_train["deep"].shape == (180, 5) and ds.meta["label_names"] == ("no", "yes")
    np.testing.assert_allclose(ds.x_test["deep"], reference.x_test["deep"], atol=1e-5)
    np.testing.assert_array_equal(ds.y_test, reference.y_test)  # text labels: sorted, "no" 0 and "yes" 1
    assert load_dataset(
        {"csv": "wd.csv", "inputs": {"wide": ["w0", "w1", "w2"]}, "targets": {"y": "band"}}, tmp_path
    ).x_train.shape == (168, 3)


def test_the_data_block_keys_are_checked_without_numpy() -> None:
    found = block_problems(
        {"csv": "wd.csv", "inputs": {"wdie": ["a"]}, "targets": {"y": 3}, "split": {"test": 2}},
        inputs=["wide", "deep"],
        outputs=["y"],
    )
    keys = {key for key, _, _ in found}
    assert ("inputs", "wdie") in keys and ("targets",) in keys and ("split", "test") in keys
    assert any("did you mean 'wide'" in message for _, message, _ in found)
    assert block_problems({"source": "iris"}) == []  # a built-in source: not this function's


def test_targets_false_reads_the_inputs_only(tmp_path: Path) -> None:
    a = wide_deep_arrays()
    np.savez(tmp_path / "wd.npz", **a)
    ds = as_dataset(str(tmp_path / "wd.npz"), graph_of(WIDE_DEEP), test=0, targets=False)
    assert ds.y_train is None and ds.x_train["wide"].shape == (240, 3) and ds.x_test["wide"].shape == (0, 3)
    np.testing.assert_array_equal(ds.x_train["deep"], a["deep"])  # every row, in its order


def test_explicit_test_data_and_a_validation_part() -> None:
    a = wide_deep_arrays()
    train = {k: v[:200] for k, v in a.items()}
    held = {k: v[200:] for k, v in a.items()}
    ds = as_dataset(train, graph_of(WIDE_DEEP), test_data=held, validation=0.1)
    assert ds.x_train["wide"].shape == (180, 3) and ds.x_val["wide"].shape == (20, 3)
    np.testing.assert_array_equal(ds.y_test, a["y"][200:])


def test_float_class_ids_and_an_image_into_a_flat_input_are_fine() -> None:
    ds = as_dataset((_x(2, 2), _labels(3).astype(np.float64)), graph_of(MLP))
    assert ds.y_train.dtype == np.int32 and ds.classes == 3
    check_data(graph_of(MLP), ds)


def test_built_in_sets_still_fit_their_specs() -> None:
    from conftest import EXAMPLES, ZOO

    for path in [*ZOO.glob("*.yaml"), *EXAMPLES.glob("*.yaml")]:
        graph = cellgraph.load_graph(path)
        if not graph.graph["spec"].data or path.stem in ("an", "dnc"):  # an, dnc: a second input the network feeds
            continue
        check_data(graph, as_dataset(None, graph))


def test_dataset_repr_and_arrays_unchanged_for_one_input() -> None:
    ds = dataset_from_arrays(np.zeros((10, 3)), np.arange(10) % 2, test=0.2)
    assert (
        repr(ds)
        == "Dataset('arrays', task=classification, x_train=(8, 3), y_train=(8,) int32, x_test=(2, 3), classes=2)"
    )
    two = dataset_from_arrays({"a": np.zeros((10, 3)), "b": np.ones((10, 2))}, {"p": np.arange(10) % 2}, test=0.2)
    assert "{'a': (8, 3), 'b': (8, 2)}" in repr(two) and two.classes == {"p": 2}
    with pytest.raises(CellgraphError, match="differ in their number of examples"):
        dataset_from_arrays({"a": np.zeros((10, 3)), "b": np.ones((9, 2))})


# --------------------------------------------------------------------------------------------- training


def _first_and_last_losses(data: Any, **kw: Any) -> tuple[float, float]:
    losses: list[float] = []
    spec = cellgraph.load_spec_text(WIDE_DEEP, "wide_deep.yaml")
    cellgraph.train(
        spec, data=data, epochs=1, progress=False, on_step=lambda s: losses.append(float(s.metrics["loss"])), **kw
    )
    assert len(losses) >= 8
    return float(np.mean(losses[:3])), float(np.mean(losses[-3:]))


@pytest.mark.parametrize("form", ["mapping", "tuple", "list", "npz", "dataframe", "csv"])
def test_wide_and_deep_trains_one_epoch_from_every_form(form: str, tmp_path: Path) -> None:
    if form in ("dataframe", "csv"):
        frame = _frame()
        graph = graph_of(WIDE_DEEP)
        if form == "csv":
            frame.to_csv(tmp_path / "wd.csv", index=False)
            data = as_dataset(str(tmp_path / "wd.csv"), graph, columns=FRAME_COLUMNS)
        else:
            data = as_dataset(frame, graph, columns=FRAME_COLUMNS)
    else:
        data = _forms(tmp_path)[form][0]
    first, last = _first_and_last_losses(data)
    assert last < first


def test_two_heads_train_on_their_own_targets() -> None:
    x = _x(4)
    data = {"x": x, "cls": np.argmax(x[:, :3], axis=1), "reg": x[:, :1] * 0.5}
    spec = cellgraph.load_spec_text(TWO_HEADS, "two_heads.yaml")
    result = cellgraph.train(spec, data=data, epochs=2, progress=False)
    assert {"loss:cls", "loss:reg"} <= {k.removeprefix("test_") for k in result.history[-1]}


if __name__ == "__main__":  # the table, without pytest's machinery, in a fresh interpreter
    for case in CASES:
        graph = graph_of(case.spec)
        try:
            data = as_dataset(case.data(), graph, test_data=case.test_data() if case.test_data else None)
            check_data(graph, data)
        except SpecError as err:
            assert err.problems[0].path == case.path, (case.id, err.format())
        else:
            raise AssertionError(f"{case.id}: no error")
    assert "jax" not in sys.modules, "the data checks imported JAX"
    print(f"ok {len(CASES)}")


# ------------------------------------------------------------------- the table from the command line


def _as_npz_arrays(case: Case) -> dict[str, np.ndarray] | None:
    """The case's data as named arrays for an .npz file (x/y for a tuple), or None when the case
    is a data set object, a file of its own, explicit test data, or holds something npz cannot."""
    if case.dataset or case.test_data is not None:
        return None
    data = case.data()
    if isinstance(data, tuple) and len(data) in (1, 2):
        named = {"x": data[0]} | ({"y": data[1]} if len(data) == 2 and data[1] is not None else {})
    elif isinstance(data, dict) and all(isinstance(k, str) for k in data) and not {"inputs", "targets"} & set(data):
        named = dict(data)
    else:
        return None
    if not all(isinstance(v, np.ndarray | np.generic) and v.dtype != object for v in named.values()):
        return None
    return {k: np.asarray(v) for k, v in named.items()}


CLI_CASES = [c for c in CASES if _as_npz_arrays(c) is not None]


def test_most_of_the_table_goes_through_the_command_line() -> None:
    assert len(CLI_CASES) >= 40, len(CLI_CASES)


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cellgraph_train_on_a_data_file_exits_1_with_the_located_error(
    case: Case, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = case.spec.split("name: ", 1)[1].split("\n", 1)[0]
    Path(f"{name}.yaml").write_text(case.spec)
    arrays = _as_npz_arrays(case)
    assert arrays is not None
    np.savez("data.npz", **arrays)  # type: ignore[arg-type]
    result = run_cli("train", f"{name}.yaml", "--data", "data.npz", "--epochs", "1")
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert f"{name}.yaml:{line_of(case.spec, case.marker)}:" in result.err, result.err
    assert "fix:" in result.err, result.err
    if isinstance(case.data(), dict):  # a tuple is stored as arrays named x and y, which reads otherwise
        assert case.words in result.err, result.err


# --------------------------------------------------------------------------------------------- targets of several columns

MASK = """\
cellgraph: 1
name: mask
cells:                                      # CELLS
  x: {type: input, size: 3}                 # X
  h: {type: hidden, size: 16, activation: tanh}
  y: {type: output, shape: [2, 2, 1], activation: sigmoid}   # Y
edges:
  - x -> h -> y
train:
  loss: bce
  optimizer: {name: adam, learning_rate: 1.0e-2}
  batch_size: 16
  seed: 0
"""

MASK_COLUMNS = ["m_0", "m_1", "m_2", "m_3"]


def mask_table(n: int = 240) -> dict[str, np.ndarray]:
    """Three inputs and a 2x2 mask whose pixels are signs of the inputs: columns x0..x2, m_0..m_3."""
    x = np.random.default_rng(4).normal(size=(n, 3)).astype(np.float32)
    mask = (np.stack([x[:, 0], x[:, 1], x[:, 2], x[:, 0] + x[:, 1]], axis=1) > 0).astype(np.int64)
    return {f"x{i}": x[:, i] for i in range(3)} | {c: mask[:, i] for i, c in enumerate(MASK_COLUMNS)}


def _write_csv(path: Path, table: dict[str, Any]) -> None:
    names = list(table)
    rows = [",".join(names)] + [",".join(str(table[c][i]) for c in names) for i in range(len(table[names[0]]))]
    path.write_text("\n".join(rows) + "\n")


def _mask_spec(tmp: Path, block: str) -> Path:
    spec = tmp / "mask.yaml"
    spec.write_text(MASK + block)
    return spec


def _mask_losses(spec: Any, data: Any = None) -> tuple[float, float]:
    losses: list[float] = []
    cellgraph.train(
        spec, data=data, epochs=1, progress=False, on_step=lambda s: losses.append(float(s.metrics["loss"]))
    )
    assert len(losses) >= 8
    return float(np.mean(losses[:3])), float(np.mean(losses[-3:]))


def test_a_csv_target_of_several_columns_trains_a_mask(tmp_path: Path) -> None:
    table = mask_table()
    _write_csv(tmp_path / "mask.csv", table)
    spec = _mask_spec(tmp_path, "data: {csv: mask.csv, targets: {y: [m_0, m_1, m_2, m_3]}}\n")
    ds = as_dataset(None, cellgraph.load_graph(spec))
    assert ds.x_train.shape[1:] == (3,) and ds.y_train.shape[1:] == (4,) and ds.y_train.dtype == np.float32
    assert ds.meta["feature_names"] == ("x0", "x1", "x2")  # the target columns are not inputs
    first, last = _mask_losses(str(spec))
    assert last < first


def test_a_dataframe_target_of_several_columns_trains_a_mask() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(mask_table())
    spec = cellgraph.load_spec_text(MASK, "mask.yaml")
    graph = cellgraph.build_graph(spec)
    ds = as_dataset(frame, graph, columns={"x": ["x0", "x1", "x2"], "y": MASK_COLUMNS})
    assert ds.y_train.shape == (192, 4) and ds.y_train.dtype == np.float32
    assert set(np.unique(ds.y_train)) == {0.0, 1.0}  # the pixels, as values for bce
    first, last = _mask_losses(spec, ds)
    assert last < first


def test_a_one_column_target_given_as_a_list_reads_as_before(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    x = _x(4)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 3], "label": _labels(3)})
    graph = graph_of(MLP)
    listed = as_dataset(frame, graph, columns={"y": ["label"]}, test=0.5)
    named = as_dataset(frame, graph, columns={"y": "label"}, test=0.5)
    assert listed.y_train.dtype == named.y_train.dtype == np.int32 and listed.classes == 3
    np.testing.assert_array_equal(listed.y_train, named.y_train)


def test_a_text_column_in_a_csv_target_of_several_columns_is_a_located_error(tmp_path: Path) -> None:
    table = mask_table()
    table["m_2"] = np.where(table["m_2"] > 0, "on", "off")
    _write_csv(tmp_path / "mask.csv", table)
    spec = _mask_spec(tmp_path, "data: {csv: mask.csv, targets: {y: [m_0, m_1, m_2, m_3]}}\n")
    with pytest.raises(SpecError) as err:
        cellgraph.train(str(spec), epochs=1, progress=False)
    (problem,) = err.value.problems
    assert problem.loc.file == str(tmp_path / "mask.csv") and problem.loc.line == 2
    assert problem.path == "data.targets.y" and "'m_2'" in problem.message
    assert "numbers" in problem.fix and "`targets: {y: column}`" in problem.fix


def test_a_text_column_in_a_dataframe_target_of_several_columns_is_a_located_error() -> None:
    pd = pytest.importorskip("pandas")
    table = mask_table()
    table["m_1"] = np.where(table["m_1"] > 0, "on", "off")
    with pytest.raises(SpecError) as err:
        as_dataset(pd.DataFrame(table), graph_of(MASK), columns={"y": MASK_COLUMNS})
    (problem,) = err.value.problems
    assert problem.path == "cells.y" and problem.loc.line == line_of(MASK, "Y") and "'m_1'" in problem.message
    assert "pandas.to_numeric" in problem.fix


@pytest.mark.parametrize("count", [3, 5])
def test_a_wrong_number_of_target_columns_is_a_located_error(count: int, tmp_path: Path) -> None:
    table = mask_table()
    table["m_4"] = table["m_0"]
    _write_csv(tmp_path / "mask.csv", table)
    listed = ", ".join(f"m_{i}" for i in range(count))
    spec = _mask_spec(tmp_path, f"data: {{csv: mask.csv, inputs: {{x: [x0, x1, x2]}}, targets: {{y: [{listed}]}}}}\n")
    with pytest.raises(SpecError) as err:
        as_dataset(None, cellgraph.load_graph(spec))
    (problem,) = err.value.problems
    assert problem.loc.file == str(spec) and problem.loc.line == line_of(MASK, "Y") and problem.path == "cells.y.shape"
    assert f"hold {count} values per example" in problem.message and "4 cells" in problem.message
    assert "4 target columns" in problem.fix and "size:" not in problem.fix
    pd = pytest.importorskip("pandas")
    with pytest.raises(SpecError) as err:
        as_dataset(pd.DataFrame(table), graph_of(MASK), columns={"x": ["x0", "x1", "x2"], "y": listed.split(", ")})
    assert err.value.problems[0].path == "cells.y.shape"


def test_the_csv_data_block_takes_a_list_of_target_columns() -> None:
    assert block_problems({"csv": "m.csv", "targets": {"y": ["m_0", "m_1"]}}, outputs=["y"]) == []
    found = block_problems({"csv": "m.csv", "targets": {"y": ["m_0", "m_0"]}}, outputs=["y"])
    assert [key for key, _, _ in found] == [("targets",)] and "named twice" in found[0][1]
    from cellgraph.data.blocks import OWN_CSV_OPTIONS, GroupColumns

    assert GroupColumns(sets=True).schema()["additionalProperties"]["anyOf"][1]["type"] == "array"
    assert "array" in str(OWN_CSV_OPTIONS["targets"].kind.schema())  # the JSON Schema follows the kind


def test_missing_values_in_every_target_column_count(tmp_path: Path) -> None:
    table: dict[str, Any] = {k: v.astype(str) for k, v in mask_table(40).items()}
    table["m_3"][5] = ""
    _write_csv(tmp_path / "mask.csv", table)
    spec = _mask_spec(tmp_path, "data: {csv: mask.csv, targets: {y: [m_0, m_1, m_2, m_3]}, missing: mean}\n")
    with pytest.raises(SpecError) as err:
        as_dataset(None, cellgraph.load_graph(spec))
    (problem,) = err.value.problems
    assert (
        problem.loc.line == 7 and "'m_3'" in problem.message and "missing: drop" in problem.fix
    )  # a label: never filled
    spec = _mask_spec(tmp_path, "data: {csv: mask.csv, targets: {y: [m_0, m_1, m_2, m_3]}, missing: drop}\n")
    ds = as_dataset(None, cellgraph.load_graph(spec))
    assert ds.meta["dropped_rows"] == 1 and len(ds.y_train) + len(ds.y_test) == 39
