"""The user's CSV file (issue 10, item 8): missing values, encodings, stray text, labels.

Every bad file gets a SpecError at the file, the spreadsheet row (the header is row 1) and the
column by name, with the option that fixes it; never a one-hot blow-up, a decode traceback, or a
NaN loss later. The shipped data sets load bit for bit as before (hard-coded anchors).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CliRunner

from cellgraph.data import load_dataset
from cellgraph.data.dataset import check_labels_fit, dataset_from_arrays
from cellgraph.data.files import MUSHROOM_CSV
from cellgraph.errors import SpecError

HEADER = "colour,weight,legs,kind\n"
PETS_ROWS = ["red,1.5,4,cat", "blue,2.0,4,dog", "red,3.25,2,bird", "green,0.5,4,cat", "blue,4.0,4,dog"]


def _write(tmp_path: Path, text: str | bytes, name: str = "pets.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _pets(tmp_path: Path, rows: list[str] | None = None) -> Path:
    return _write(tmp_path, HEADER + "\n".join(PETS_ROWS if rows is None else rows) + "\n")


def _load(tmp_path: Path, **options: object) -> object:
    block = {"csv": "pets.csv", "target": "kind", "split": {"test": 0.25, "seed": 0}, **options}
    return load_dataset(block, tmp_path)


def _error(tmp_path: Path, **options: object) -> str:
    with pytest.raises(SpecError) as err:
        _load(tmp_path, **options)
    return str(err.value)


def _all_x(ds: object) -> np.ndarray:
    return np.concatenate([ds.x_train, ds.x_test])  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ missing values


@pytest.mark.parametrize("cell", ["", "NA", "NaN", "nan", "?", "null", "N/A"])
def test_missing_number_is_an_error_at_its_row_and_column(tmp_path: Path, cell: str) -> None:
    rows = list(PETS_ROWS)
    rows[2] = f"red,{cell},2,bird"  # data row 3 = spreadsheet row 4
    _pets(tmp_path, rows)
    message = _error(tmp_path)
    assert "pets.csv:4:" in message and "row 4, column 'weight'" in message
    assert "missing value in a numeric column" in message
    assert "missing: drop" in message and "missing: mean" in message and "missing: {weight: value}" in message


def test_one_empty_cell_in_a_long_numeric_column_is_not_one_hot(tmp_path: Path) -> None:
    """The issue's case: one empty cell made 120 one-hot columns and a JAX reshape traceback."""
    rows = [f"{i / 100},{i % 7},{i % 2}" for i in range(120)]
    rows[40] = f",{40 % 7},0"
    _write(tmp_path, "a,b,label\n" + "\n".join(rows) + "\n", "long.csv")
    with pytest.raises(SpecError) as err:
        load_dataset({"csv": "long.csv", "target": "label"}, tmp_path)
    assert "long.csv:42:1: row 42, column 'a': an empty cell is a missing value" in str(err.value)
    ds = load_dataset({"csv": "long.csv", "target": "label", "missing": "drop"}, tmp_path)
    assert _all_x(ds).shape == (119, 2) and ds.meta["dropped_rows"] == 1


def test_row_numbers_count_blank_lines_like_a_spreadsheet(tmp_path: Path) -> None:
    _write(tmp_path, HEADER + "red,1.5,4,cat\n\nblue,,4,dog\ngreen,0.5,4,cat\n")
    assert "pets.csv:4:" in _error(tmp_path) and "row 4, column 'weight'" in _error(tmp_path)


def test_missing_label_is_an_error_even_when_features_are_filled(tmp_path: Path) -> None:
    rows = list(PETS_ROWS)
    rows[1] = "blue,2.0,4,"
    _pets(tmp_path, rows)
    assert "row 3, column 'kind': an empty cell is a missing value in a label" in _error(tmp_path)
    assert "fills features only" in _error(tmp_path, missing="mean")
    assert "fills features only" in _error(tmp_path, missing="mode")
    ds = _load(tmp_path, missing="drop")
    assert ds.meta["dropped_rows"] == 1 and ds.meta["label_names"] == ("bird", "cat", "dog")


def test_question_mark_is_a_category_in_a_text_column(tmp_path: Path) -> None:
    """The UCI convention the mushroom file's stalk-root uses: '?' is a value of its own there."""
    rows = list(PETS_ROWS)
    rows[0] = "?,1.5,4,cat"
    _pets(tmp_path, rows)
    ds = _load(tmp_path)
    assert ds.meta["feature_names"][:4] == ("colour=?", "colour=blue", "colour=green", "colour=red")


def test_question_mark_is_missing_in_a_label_column(tmp_path: Path) -> None:
    rows = list(PETS_ROWS)
    rows[3] = "green,0.5,4,?"
    _pets(tmp_path, rows)
    assert "row 5, column 'kind': '?' is a missing value in a label" in _error(tmp_path)


def test_empty_text_cell_is_missing_too(tmp_path: Path) -> None:
    rows = list(PETS_ROWS)
    rows[4] = ",4.0,4,dog"
    _pets(tmp_path, rows)
    assert "row 6, column 'colour': an empty cell is a missing value in a text column" in _error(tmp_path)


def test_missing_drop_mean_mode_and_per_column_values(tmp_path: Path) -> None:
    rows = list(PETS_ROWS)
    rows[0] = ",1.5,4,cat"  # colour missing
    rows[2] = "red,NA,2,bird"  # weight missing
    _pets(tmp_path, rows)
    assert "2 missing cells in all" in _error(tmp_path)

    dropped = _load(tmp_path, missing="drop")
    assert _all_x(dropped).shape == (3, 4) and dropped.meta["dropped_rows"] == 2  # no 'red' left

    mean = _all_x(_load(tmp_path, missing="mean", split={"test": 0.2, "seed": 0}))
    weights = sorted(mean[:, 3].tolist())  # colour=blue, =green, =red, weight, legs
    assert weights == pytest.approx(sorted([1.5, 2.0, (1.5 + 2.0 + 0.5 + 4.0) / 4, 0.5, 4.0]))
    assert mean[:, :3].sum(axis=0).tolist() == [3.0, 1.0, 1.0]  # the empty colour became 'blue', the most frequent

    mode = _all_x(_load(tmp_path, missing="mode", split={"test": 0.2, "seed": 0}))
    assert sorted(mode[:, 3].tolist()) == [0.5, 0.5, 1.5, 2.0, 4.0]  # every weight occurs once: the smallest

    filled = _load(tmp_path, missing={"colour": "grey", "weight": 0}, split={"test": 0.2, "seed": 0})
    assert "colour=grey" in filled.meta["feature_names"]
    assert sorted(_all_x(filled)[:, 4].tolist()) == [0.0, 0.5, 1.5, 2.0, 4.0]


def test_missing_per_column_mistakes(tmp_path: Path) -> None:
    rows = list(PETS_ROWS)
    rows[2] = "red,NA,2,bird"
    _pets(tmp_path, rows)
    assert "add the column: `missing: {weight: value, ...}`" in _error(tmp_path, missing={"colour": "grey"})
    assert "no column 'wieght'" in _error(tmp_path, missing={"wieght": 0})
    assert "did you mean 'weight'" in _error(tmp_path, missing={"wieght": 0})
    assert "its fill value must be a number, not 'heavy'" in _error(tmp_path, missing={"weight": "heavy"})


def test_missing_option_is_validated(tmp_path: Path) -> None:
    _pets(tmp_path)
    assert "expected one of error, drop, mean, mode; got 'dorp'; did you mean 'drop'?" in _error(
        tmp_path, missing="dorp"
    )
    assert "data.missing" in _error(tmp_path, missing=["drop"])


def test_a_stray_word_in_a_numeric_column_names_the_cell(tmp_path: Path) -> None:
    rows = [f"{i * 0.5},{i % 3}" for i in range(60)]
    rows[17] = "12kg,2"
    _write(tmp_path, "weight,label\n" + "\n".join(rows) + "\n", "w.csv")
    with pytest.raises(SpecError) as err:
        load_dataset({"csv": "w.csv", "target": "label"}, tmp_path)
    assert "w.csv:19:1: row 19, column 'weight': '12kg' is not a finite number, but 59 of the column's 60" in str(
        err.value
    )


def test_infinity_in_a_numeric_column_is_an_error(tmp_path: Path) -> None:
    rows = list(PETS_ROWS)
    rows[1] = "blue,inf,4,dog"
    _pets(tmp_path, rows)
    assert "row 3, column 'weight': 'inf' is not a finite number" in _error(tmp_path)


def test_one_hot_width_is_capped(tmp_path: Path) -> None:
    rows = [f"id{i},{i % 5},{i % 2}" for i in range(150)]
    _write(tmp_path, "name,size,label\n" + "\n".join(rows) + "\n", "ids.csv")
    with pytest.raises(SpecError) as err:
        load_dataset({"csv": "ids.csv", "target": "label"}, tmp_path)
    message = str(err.value)
    assert "ids.csv:1:1: text column 'name' has 150 distinct values in 150 rows" in message
    assert "max_categories:" in message
    ds = load_dataset({"csv": "ids.csv", "target": "label", "max_categories": 150}, tmp_path)
    assert _all_x(ds).shape == (150, 151)
    codes = load_dataset({"csv": "ids.csv", "target": "label", "one_hot": False}, tmp_path)
    assert _all_x(codes).shape == (150, 2)  # category codes: one column whatever the count


def test_one_hot_of_more_than_half_the_rows_is_refused(tmp_path: Path) -> None:
    rows = [f"n{i % 30},{i % 2}" for i in range(50)]
    _write(tmp_path, "name,label\n" + "\n".join(rows) + "\n", "names.csv")
    with pytest.raises(SpecError, match="30 distinct values in 50 rows, over the default limit of 25"):
        load_dataset({"csv": "names.csv", "target": "label"}, tmp_path)
    ds = load_dataset({"csv": "names.csv", "target": "label", "max_categories": 30}, tmp_path)
    assert _all_x(ds).shape == (50, 30)


# ------------------------------------------------------------------------------ BOM, encodings


def test_a_utf8_bom_is_dropped(tmp_path: Path) -> None:
    """The issue's case: "no column 'label'; did you mean '\\ufefflabel'?"."""
    _write(tmp_path, ("kind,colour,weight\ncat,red,1.5\ndog,blue,2.0\ncat,red,3.0\n").encode("utf-8-sig"))
    ds = _load(tmp_path)
    assert ds.meta["label_names"] == ("cat", "dog")
    assert ds.meta["feature_names"] == ("colour=blue", "colour=red", "weight")


def test_latin1_file_needs_its_encoding(tmp_path: Path) -> None:
    text = "city,size,kind\nZürich,1,a\nMálaga,2,b\nCafé,3,a\n"
    _write(tmp_path, text.encode("latin-1"))
    message = _error(tmp_path)
    assert "pets.csv:2:2: data.encoding: byte 0xfc on row 2 is not valid utf-8" in message
    assert "encoding: latin-1" in message
    ds = _load(tmp_path, encoding="latin-1")
    assert ds.meta["feature_names"][:3] == ("city=Café", "city=Málaga", "city=Zürich")
    assert _load(tmp_path, encoding="cp1252").meta["feature_names"] == ds.meta["feature_names"]


def test_utf16_file_with_its_encoding(tmp_path: Path) -> None:
    _write(tmp_path, (HEADER + "\n".join(PETS_ROWS) + "\n").encode("utf-16"))
    assert "not valid utf-8" in _error(tmp_path)
    ds = _load(tmp_path, encoding="utf-16")
    assert ds.meta["label_names"] == ("bird", "cat", "dog")


def test_unknown_encoding_is_a_spec_error(tmp_path: Path) -> None:
    _pets(tmp_path)
    assert "data.encoding: unknown text encoding 'latin-11'" in _error(tmp_path, encoding="latin-11")
    for codec in ("rot13", "base64", "undefined"):  # bytes-to-bytes codecs, and one that always fails
        assert f"data.encoding: unknown text encoding '{codec}'" in _error(tmp_path, encoding=codec)


# ------------------------------------------------------------------------------------- labels


def test_negative_class_labels_are_an_error(tmp_path: Path) -> None:
    """The issue's case: labels -1/1 trained silently as two renamed classes."""
    rows = [f"{i * 0.1},{1 if i % 2 else -1}" for i in range(10)]
    _write(tmp_path, "a,label\n" + "\n".join(rows) + "\n", "neg.csv")
    with pytest.raises(SpecError) as err:
        load_dataset({"csv": "neg.csv", "target": "label"}, tmp_path)
    message = str(err.value)
    assert "neg.csv:2:5: row 2, column 'label': label '-1' is negative" in message
    assert "number the classes from 0, or set `task: regression`" in message
    reg = load_dataset({"csv": "neg.csv", "target": "label", "task": "regression"}, tmp_path)
    assert sorted(set(np.concatenate([reg.y_train, reg.y_test]).ravel().tolist())) == [-1.0, 1.0]


def test_non_integer_labels_are_an_error_for_classification(tmp_path: Path) -> None:
    rows = list(PETS_ROWS)
    _pets(tmp_path, rows)
    with pytest.raises(SpecError, match=r"row 2, column 'weight': label '1.5' is not a whole number"):
        load_dataset({"csv": "pets.csv", "target": "weight", "task": "classification"}, tmp_path)
    assert load_dataset({"csv": "pets.csv", "target": "weight"}, tmp_path).task == "regression"


def test_whole_number_labels_are_the_class_ids(tmp_path: Path) -> None:
    """A label is the output unit of its class: labels 1 and 3 need 4 units, not 2 renamed ones."""
    rows = [f"{i * 0.1},{1 if i % 2 else 3}" for i in range(10)]
    _write(tmp_path, "a,label\n" + "\n".join(rows) + "\n", "ids.csv")
    ds = load_dataset({"csv": "ids.csv", "target": "label"}, tmp_path)
    assert ds.classes == 4 and ds.meta["label_names"] == ("0", "1", "2", "3")
    assert sorted(set(np.concatenate([ds.y_train, ds.y_test]).tolist())) == [1, 3]


def test_labels_that_do_not_fit_the_output(tmp_path: Path) -> None:
    """The issue's case: labels 0-3 on a 2-unit softmax gave "loss became nan ... lower the learning rate"."""
    ds = dataset_from_arrays(np.zeros((12, 2)), np.arange(12) % 4, test=0.25)
    with pytest.raises(SpecError) as err:
        check_labels_fit(ds, 2, group="out")
    assert "labels go up to 3 (4 classes) but the output group `out` has size 2" in str(err.value)
    assert "set `size: 4` on `out`" in str(err.value)
    with pytest.raises(SpecError, match="has 1 unit, which tells 2 classes apart"):
        check_labels_fit(ds, 1)
    check_labels_fit(ds, 4)
    check_labels_fit(ds, 5)  # an unused unit is allowed
    binary = dataset_from_arrays(np.zeros((6, 2)), np.arange(6) % 2)
    check_labels_fit(binary, 1)  # one sigmoid unit, classes 0 and 1
    negative = dataset_from_arrays(np.zeros((6, 2)), np.arange(6) % 2 - 1)
    with pytest.raises(SpecError, match="a class label is -1"):
        check_labels_fit(negative, 2)
    regression = dataset_from_arrays(np.zeros((6, 2)), np.linspace(0.0, 9.0, 6))
    check_labels_fit(regression, 1)  # float targets: nothing to check


def test_declared_classes_count_even_when_a_split_lacks_the_top_class() -> None:
    digits = load_dataset({"source": "digits"})
    with pytest.raises(SpecError, match="labels go up to 9 \\(10 classes\\) but the output group `y` has size 9"):
        check_labels_fit(digits, 9)
    check_labels_fit(digits, 10)


def test_labels_fit_points_at_the_spec_group(tmp_path: Path) -> None:
    from cellgraph import load_graph

    _write(tmp_path, "a,b,label\n" + "\n".join(f"{i},{i % 5},{i % 3}" for i in range(12)) + "\n", "three.csv")
    spec = tmp_path / "net.yaml"
    spec.write_text(
        "cellgraph: 1\nname: net\ncells:\n  x: {type: input, size: 2}\n"
        "  y: {type: output, size: 2, activation: softmax}\nedges:\n  - x -> y\n"
        "data: {csv: three.csv, target: label}\n"
    )
    graph = load_graph(spec)
    ds = load_dataset(graph.graph["spec"].data, tmp_path)
    node = graph.nodes["y"]
    with pytest.raises(SpecError) as err:
        check_labels_fit(ds, int(node["shape"][-1]), group="y", loc=node["loc"], path=node["path"])
    assert f"{spec}:5:" in str(err.value) and "set `size: 3` on `y`" in str(err.value)


# -------------------------------------------------------------------------- file-level problems


def test_messages_quote_one_cell_cut_and_escaped(tmp_path: Path) -> None:
    """An error about a file prints no more of it than the offending cell, escaped and cut."""
    rows = [f"{i},{i % 2},SECRET{i}" for i in range(30)]
    rows[7] = "\x1b[2J" + "9" * 200 + "x,1,SECRET7"
    _write(tmp_path, "a,label,note\n" + "\n".join(rows) + "\n", "odd.csv")
    with pytest.raises(SpecError) as err:
        load_dataset({"csv": "odd.csv", "target": "label"}, tmp_path)
    message = str(err.value)
    assert "'\\x1b[2J999" in message and "\x1b" not in message
    assert "9" * 60 not in message and "SECRET" not in message


def test_a_non_csv_file_is_not_echoed(tmp_path: Path) -> None:
    _write(tmp_path, "API_KEY=sk-12345\nOTHER=abc\n", "settings.csv")
    with pytest.raises(SpecError) as err:
        load_dataset({"csv": "settings.csv", "target": "label"}, tmp_path)
    assert "sk-12345" not in str(err.value) and "the header has 1 column" in str(err.value)


def test_ragged_row_and_header_problems(tmp_path: Path) -> None:
    _write(tmp_path, "a,kind\n1,x\n\n2\n")
    assert "pets.csv:4:1: row has 1 fields, the header has 2" in _error(tmp_path)
    _write(tmp_path, "a,kind,a\n1,x,2\n3,y,4\n")
    assert "column 'a' appears twice in the header (columns 1 and 3)" in _error(tmp_path)
    _write(tmp_path, "a,kind,\n1,x,\n3,y,\n")
    assert "column 3 has no name in the header" in _error(tmp_path)


def test_csv_module_errors_are_spec_errors(tmp_path: Path) -> None:
    _write(tmp_path, "a,kind\n1,x\n" + '"' + "y" * 200_000 + '",z\n')
    assert "pets.csv:" in _error(tmp_path) and "not a readable CSV file: field larger than field limit" in _error(
        tmp_path
    )


def test_a_bad_file_fails_fast(tmp_path: Path) -> None:
    rows = [f"{i},{i % 7},{i % 2}" for i in range(20_000)]
    rows[-1] = ",1,0"
    _write(tmp_path, "a,b,label\n" + "\n".join(rows) + "\n", "big.csv")
    start = time.perf_counter()
    with pytest.raises(SpecError, match="row 20001, column 'a'"):
        load_dataset({"csv": "big.csv", "target": "label"}, tmp_path)
    assert time.perf_counter() - start < 1.0


def test_cli_train_exits_1_with_the_located_error(
    run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [f"{i / 10},{i % 2}" for i in range(20)]
    rows[4] = "NaN,0"
    _write(tmp_path, "a,label\n" + "\n".join(rows) + "\n", "nan.csv")
    spec = tmp_path / "net.yaml"
    spec.write_text(
        "cellgraph: 1\nname: net\ncells:\n  x: {type: input, size: 1}\n"
        "  y: {type: output, size: 2, activation: softmax}\nedges:\n  - x -> y\n"
        "train: {loss: cross_entropy, epochs: 1}\ndata: {csv: nan.csv, target: label}\n"
    )
    monkeypatch.chdir(tmp_path)
    result = run_cli("train", spec)
    assert result.code == 1
    assert "nan.csv:6:1: row 6, column 'a': 'NaN' is a missing value in a numeric column" in result.err
    assert "Traceback" not in result.err


# ------------------------------------------------------------------ the shipped data, unchanged


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


# Computed with the code before this change (regression anchors, not derived from the new code).
SHIPPED = {
    "mushroom": (
        (5687, 117),
        (2437, 117),
        ("6cffe6bf8feaa81e", "32a7f8a8c8b3040e", "13b5d6b190d3c515", "fef48ae496554e84"),
    ),
    "iris": ((105, 4), (45, 4), ("01ba1507462f7beb", "5ace220efd38b926", "9d7093612102c0c9", "b9237219425207c0")),
    "digits": (
        (1258, 8, 8, 1),
        (539, 8, 8, 1),
        ("15168a6cf835d607", "12715373f9ac1930", "45bfe03aac75434a", "36333ec28eca9e12"),
    ),
}


@pytest.mark.parametrize("source", sorted(SHIPPED))
def test_shipped_sets_load_as_before(source: str) -> None:
    ds = load_dataset({"source": source})
    train_shape, test_shape, digests = SHIPPED[source]
    assert (ds.x_train.shape, ds.x_test.shape) == (train_shape, test_shape)
    assert tuple(_digest(a) for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)) == digests


def test_mushroom_file_as_a_user_csv_loads_as_before(tmp_path: Path) -> None:
    """The UCI file through `csv:` ('?' in stalk-root a category): the same arrays as `source: mushroom`."""
    shutil.copy(MUSHROOM_CSV, tmp_path / "mushrooms.csv")
    ds = load_dataset({"csv": "mushrooms.csv", "target": "class"}, tmp_path)
    digests = SHIPPED["mushroom"][2]
    assert tuple(_digest(a) for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)) == digests
    names = ds.meta["feature_names"]
    assert hashlib.sha256(repr(names).encode()).hexdigest()[:16] == "013b1bf0460af4f2"
    assert "stalk-root=?" in names and ds.meta["dropped_rows"] == 0
    codes = load_dataset({"csv": "mushrooms.csv", "target": "class", "one_hot": False}, tmp_path)
    assert codes.x_train.shape == (5687, 22)
    assert (_digest(codes.x_train), _digest(codes.x_test)) == ("cf71923989d6dfdc", "d4ebd91aa405ab5c")


# ------------------------------------------------------------------ labels against the outputs they train

NET = (
    "cellgraph: 1\nname: net\ncells:\n  x: {type: input, size: 1}\n"
    "  y: {type: output, size: 2, activation: softmax}\nedges:\n  - x -> y\n"
    "train: {loss: cross_entropy, epochs: 1}\n"
)


def test_cli_train_refuses_labels_beyond_the_output_units_before_training(
    run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three classes into two softmax units trained to "loss became nan ... lower the learning
    rate"; now the spec's output group is named, with the size it needs, before JAX loads."""
    _write(tmp_path, "a,label\n" + "\n".join(f"{i / 10},{i % 3}" for i in range(30)) + "\n", "three.csv")
    spec = tmp_path / "net.yaml"
    spec.write_text(NET + "data: {csv: three.csv, target: label}\n")
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    result = run_cli("train", spec)
    elapsed = time.perf_counter() - start
    assert result.code == 1
    assert "net.yaml:5:3: cells.y: labels go up to 2 (3 classes) but the output group `y` has size 2" in result.err
    assert "set `size: 3` on `y`" in result.err
    assert "Traceback" not in result.err and not (tmp_path / ".cellgraph").exists()  # no run was started
    assert elapsed < 1.0


@pytest.mark.parametrize(
    ("labels", "message"),
    [(np.arange(12) % 3, r"labels go up to 2 \(3 classes\)"), (np.arange(12) % 2 - 1, "a class label is -1")],
    ids=["beyond", "negative"],
)
def test_train_from_python_refuses_labels_that_do_not_fit(tmp_path: Path, labels: np.ndarray, message: str) -> None:
    import cellgraph

    spec = tmp_path / "net.yaml"
    spec.write_text(NET)
    data = dataset_from_arrays(np.linspace(0, 1, 12)[:, None], labels, test=0.25)
    with pytest.raises(SpecError, match=message):
        cellgraph.train(spec, data=data, progress=False)
