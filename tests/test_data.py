"""Built-in data sets: shapes, dtypes, labels, splits, determinism, the shipped files, the specs' blocks.

NumPy only; nothing here imports JAX (and a subprocess checks that ``cellgraph.data`` never does).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, ZOO

import cellgraph
from cellgraph.data import Dataset, dataset_from_arrays, load_dataset
from cellgraph.data.catalog import SOURCES, SPLIT_OPTIONS, TASKS
from cellgraph.data.loaders import BUILDERS

FILES = ROOT / "cellgraph" / "data" / "files"
GENERATED = sorted(s for s in SOURCES if s not in ("mushroom", "digits", "iris", "csv"))
STREAMS = ("mackey_glass", "markov_chain", "temporal_xor")
ENUMERATED = ("xor", "and", "or", "parity", "encoder", "bars_and_stripes")
# Small option values, so the whole table runs in well under a second.
SMALL = {
    "two_spirals": {"n": 200},
    "sine": {"n": 100},
    "sinc": {"n": 400},
    "adding": {"n": 300, "steps": 20},
    "temporal_xor": {"steps": 300},
    "copy_task": {"n": 200},
    "reversal": {"n": 200},
    "mackey_glass": {"steps": 500},
    "markov_chain": {"steps": 2000},
    "bars": {"n": 200},
    "glyphs": {"n": 400},
    "class_glyphs": {"n": 200},
    "low_rank_gaussian": {"n": 300},
    "sparse_atoms": {"n": 300},
    "moving_squares": {"n": 200},
    "gaussian_1d": {"n": 500},
    "uniform_square": {"n": 300},
    "spike_patterns": {"n": 100},
}


def _load(source: str, seed: int | None = None, **options) -> Dataset:
    return load_dataset({"source": source, **SMALL.get(source, {}), **options}, seed=seed)


def _arrays(ds: Dataset) -> list[np.ndarray | None]:
    return [ds.x_train, ds.y_train, ds.x_test, ds.y_test]


def _same(a: Dataset, b: Dataset) -> bool:
    return all(
        (u is None and v is None) or (u is not None and v is not None and np.array_equal(u, v))
        for u, v in zip(_arrays(a), _arrays(b), strict=True)
    )


def _spec_blocks() -> list[Path]:
    """The shipped specs with a `data:` block (the others train on the caller's own arrays)."""
    paths = sorted(ZOO.glob("*.yaml")) + sorted(EXAMPLES.glob("*.yaml"))
    return [p for p in paths if cellgraph.load_spec(p).data]


# ------------------------------------------------------------------------- every source, generically


def test_every_catalogued_source_has_a_loader() -> None:
    assert sorted(BUILDERS) == sorted(SOURCES)


@pytest.mark.parametrize("source", sorted(s for s in SOURCES if s != "csv"))
def test_source_contract(source: str) -> None:
    ds = _load(source)
    assert ds.name == source
    assert ds.task == SOURCES[source].task and ds.task in TASKS
    for x in (ds.x_train, ds.x_test):
        assert x.dtype == np.float32 and x.ndim >= 2 and np.isfinite(x).all()
    if source in STREAMS:  # one sequence each, cut in time: lengths may differ
        assert ds.x_train.shape[0] == ds.x_test.shape[0] == 1 and ds.x_train.shape[2:] == ds.x_test.shape[2:]
    else:
        assert ds.x_train.shape[1:] == ds.x_test.shape[1:]
    assert (ds.y_train is None) == (ds.y_test is None)
    if ds.y_train is not None:
        assert ds.y_train.dtype in (np.int32, np.float32) and ds.y_test.dtype == ds.y_train.dtype
        assert len(ds.y_train) == len(ds.x_train) and len(ds.y_test) == len(ds.x_test)
    if ds.classes is not None:
        assert ds.y_train.dtype == np.int32
        for y in (ds.y_train, ds.y_test):
            assert 0 <= y.min() and y.max() < ds.classes
    assert ds.meta["options"].keys() == SOURCES[source].options.keys()
    assert "x_train=" in repr(ds)


@pytest.mark.parametrize("source", GENERATED)
def test_generated_sources_are_deterministic(source: str) -> None:
    assert _same(_load(source), _load(source))
    assert _same(_load(source, seed=3), _load(source, seed=3))


@pytest.mark.parametrize(
    "source", sorted(set(GENERATED) - {"xor", "and", "or", "parity", "encoder", "bars_and_stripes"})
)
def test_another_seed_gives_other_data(source: str) -> None:
    assert not _same(_load(source, seed=1), _load(source, seed=2))


def test_seed_defaults_to_the_split_seed() -> None:
    block = {"source": "two_spirals", "n": 100, "split": {"test": 0.3, "seed": 5}}
    assert _same(load_dataset(block), load_dataset(block, seed=5))
    assert not _same(load_dataset(block), load_dataset(block, seed=6))


@pytest.mark.parametrize(
    ("source", "n"), [("two_spirals", 600), ("glyphs", 2500), ("bars", 4000), ("gaussian_1d", 1000), ("iris", 150)]
)
@pytest.mark.parametrize("test", [0.1, 0.25, 0.5])
def test_split_fraction(source: str, n: int, test: float) -> None:
    options = {} if source == "iris" else {"n": n}
    ds = load_dataset({"source": source, **options, "split": {"test": test, "seed": 0}})
    assert len(ds.x_test) == round(n * test)
    assert len(ds.x_train) + len(ds.x_test) == n
    assert ds.meta["split"] == {"test": test, "seed": 0}


def test_default_split_is_the_catalogues() -> None:
    ds = load_dataset({"source": "iris"})
    assert len(ds.x_test) == round(150 * SPLIT_OPTIONS["test"].default)


def test_split_seed_moves_examples_between_parts() -> None:
    a = load_dataset({"source": "iris", "split": {"test": 0.3, "seed": 0}})
    b = load_dataset({"source": "iris", "split": {"test": 0.3, "seed": 1}})
    assert not np.array_equal(a.x_test, b.x_test)
    rows = lambda ds: sorted(map(tuple, np.concatenate([ds.x_train, ds.x_test]).tolist()))  # noqa: E731
    assert rows(a) == rows(b)  # the same 150 flowers, split differently


@pytest.mark.parametrize("source", ENUMERATED)
def test_tiny_sets_train_and_test_on_everything(source: str) -> None:
    ds = _load(source)
    assert np.array_equal(ds.x_train, ds.x_test)
    assert ds.meta["held_out"] == "none"
    split = load_dataset({"source": source, "split": {"test": 0.5, "seed": 0}})  # an explicit split is honoured
    assert len(split.x_train) + len(split.x_test) == len(ds.x_train)


# ------------------------------------------------------------------------------------ shipped files


def test_mushroom_is_the_117_column_one_hot_of_8124_rows() -> None:
    ds = load_dataset({"source": "mushroom", "split": {"test": 0.3, "seed": 0}})
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    assert x.shape == (8124, 117) and ds.classes == 2
    assert set(np.unique(x)) == {0.0, 1.0}
    assert (x.sum(axis=1) == 22).all()  # one category per attribute
    assert np.bincount(y).tolist() == [4208, 3916]  # e = 0, p = 1
    assert ds.meta["label_names"] == ("e", "p")
    names = ds.meta["feature_names"]
    assert len(names) == 117 and names[0] == "cap-shape=b" and "stalk-root=?" in names  # '?' is a category
    assert (len(ds.x_train), len(ds.x_test)) == (5687, 2437)


def test_mushroom_column_order_is_stable() -> None:
    a = load_dataset({"source": "mushroom", "split": {"test": 0.3, "seed": 0}})
    b = load_dataset({"source": "mushroom", "split": {"test": 0.3, "seed": 0}}, seed=9)
    assert a.meta["feature_names"] == b.meta["feature_names"]
    assert _same(a, b)  # a shipped file's split depends on split.seed only


def test_digits_are_1797_images_of_10_classes() -> None:
    ds = load_dataset({"source": "digits", "split": {"test": 0.3, "seed": 0}})
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    assert x.shape == (1797, 8, 8, 1) and ds.classes == 10
    assert x.min() == 0.0 and x.max() == 1.0
    counts = np.bincount(y, minlength=10)
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert np.bincount(ds.y_test, minlength=10).min() > 30  # every digit in the test part


def test_iris_is_150_flowers_of_3_species() -> None:
    ds = load_dataset({"source": "iris", "split": {"test": 0.2, "seed": 0}})
    y = np.concatenate([ds.y_train, ds.y_test])
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert ds.x_train.shape[1:] == (4,) and ds.meta["label_names"] == ("setosa", "versicolor", "virginica")


@pytest.mark.parametrize(
    ("name", "sha256"),
    [
        ("mushrooms.csv", "7204d38399e2c7c84d85e7a2019081724bb943613e82be5d3523156cfbcf9f64"),
        ("digits.csv.gz", "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"),
        ("iris.csv", "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449"),
    ],
)
def test_shipped_file_matches_its_provenance(name: str, sha256: str) -> None:
    path = FILES / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    readme = (FILES / "README.md").read_text(encoding="utf-8")
    assert sha256 in readme and f"## {name}" in readme
    licence = {"mushrooms.csv": "LICENSE-mushrooms.txt", "digits.csv.gz": "LICENSE-digits.txt"}
    assert (FILES / licence.get(name, "LICENSE-iris.txt")).is_file()


def test_package_data_ships_the_files() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"data/files/*"' in pyproject
    assert all(p.parent == FILES for p in FILES.iterdir())  # flat: the glob covers every file


# ------------------------------------------------------------------------------ what each task means


@pytest.mark.parametrize(("gate", "table"), [("xor", [0, 1, 1, 0]), ("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1])])
def test_logic_gates(gate: str, table: list[int]) -> None:
    ds = _load(gate)
    assert ds.x_train.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert ds.y_train.tolist() == table and ds.classes == 2


def test_parity_enumerates_every_string() -> None:
    ds = _load("parity", bits=5)
    assert ds.x_train.shape == (32, 5) and len(np.unique(ds.x_train, axis=0)) == 32
    assert (ds.y_train == ds.x_train.sum(axis=1) % 2).all()


def test_two_spirals_are_balanced_and_interleaved() -> None:
    ds = load_dataset({"source": "two_spirals", "n": 600, "turns": 1.5, "noise": 0.05})
    y = np.concatenate([ds.y_train, ds.y_test])
    assert np.bincount(y).tolist() == [300, 300]
    x = np.concatenate([ds.x_train, ds.x_test])
    centre = [x[y == c].mean(axis=0) for c in (0, 1)]
    assert np.abs(centre[0] + centre[1]).max() < 0.05  # one spiral is the other turned by 180 degrees
    # a linear classifier stays near chance (ZOO 2.4)
    a = np.c_[x, np.ones(len(x))]
    w, *_ = np.linalg.lstsq(a, y * 2.0 - 1, rcond=None)
    assert ((a @ w > 0) == y).mean() < 0.7


def test_sine_trains_on_random_points_and_tests_on_a_clean_grid() -> None:
    ds = load_dataset({"source": "sine", "n": 300, "noise": 0.1, "split": {"test": 0.3, "seed": 0}})
    assert (len(ds.x_train), len(ds.x_test)) == (210, 90)
    grid = ds.x_test[:, 0]
    assert np.allclose(np.diff(grid), grid[1] - grid[0], atol=1e-5) and np.isclose(grid[-1], 2 * np.pi)
    assert np.allclose(ds.y_test, np.sin(ds.x_test), atol=1e-6)
    assert 0.05 < np.std(ds.y_train - np.sin(ds.x_train)) < 0.15
    assert 0 <= ds.x_train.min() and ds.x_train.max() <= 2 * np.pi


def test_sinc_has_uniform_training_noise_and_clean_tests() -> None:
    ds = load_dataset({"source": "sinc", "n": 10000, "noise": 0.2, "split": {"test": 0.5, "seed": 0}})
    assert (len(ds.x_train), len(ds.x_test)) == (5000, 5000)
    clean = lambda x: np.sinc(x / np.pi)  # noqa: E731
    err = ds.y_train - clean(ds.x_train)
    assert np.abs(err).max() <= 0.2 + 1e-6 and abs(err.std() - 0.2 / np.sqrt(3)) < 0.005
    assert np.allclose(ds.y_test, clean(ds.x_test), atol=1e-6)
    assert -10 <= ds.x_train.min() and ds.x_train.max() <= 10


def test_adding_problem() -> None:
    ds = load_dataset({"source": "adding", "n": 2000, "steps": 50})
    x, y = ds.x_train, ds.y_train
    assert x.shape[1:] == (50, 2) and y.shape == (len(x), 1)
    marker = x[:, :, 1]
    assert (marker.sum(axis=1) == 2).all()
    first = marker.argmax(axis=1)
    assert first.max() < 24  # both markers in the first T/2 - 1 steps
    assert (np.flatnonzero(marker[:, :10].sum(axis=0)) < 10).all() and (marker[:, :10].sum(axis=1) >= 1).all()
    assert np.allclose(y[:, 0], 0.5 + (x[:, :, 0] * marker).sum(axis=1) / 4, atol=1e-6)
    assert np.abs(x[:, :, 0]).max() <= 1
    assert 0.10 < np.mean(np.abs(y - 0.5) < 0.04) < 0.20  # the constant 0.5 gets about 15% (ZOO 2.6)


def test_temporal_xor_marks_the_predictable_bits() -> None:
    ds = load_dataset({"source": "temporal_xor", "steps": 6000, "split": {"test": 0.5, "seed": 0}})
    assert ds.x_train.shape == ds.x_test.shape == ds.y_test.shape == (1, 2999, 1)
    for x, y, mask in (
        (ds.x_train, ds.y_train, ds.meta["predictable_train"]),
        (ds.x_test, ds.y_test, ds.meta["predictable"]),
    ):
        bits = np.r_[x[0, :, 0], y[0, -1, 0]]
        assert np.array_equal(y[0, :, 0], bits[1:])
        t = np.flatnonzero(mask)
        assert mask.dtype == bool and mask.sum() == (len(mask) + 1) // 3  # the triples of the part
        assert (y[0, t, 0] == np.logical_xor(x[0, t, 0], x[0, t - 1, 0])).all()
    assert not np.array_equal(ds.x_train, ds.x_test)  # a fresh stream to test on


def test_encoder_patterns() -> None:
    ds = load_dataset({"source": "encoder", "size": 8})
    assert ds.y_train is None and ds.task == "unsupervised"
    assert np.array_equal(ds.x_train, np.eye(8)) and np.array_equal(ds.x_test, np.eye(8))


def test_bars_hold_one_row_and_one_column() -> None:
    ds = load_dataset({"source": "bars", "n": 300, "size": 8, "flip": 0.0})
    x = ds.x_train[..., 0]
    assert ds.x_train.shape[1:] == (8, 8, 1) and set(np.unique(x)) == {0.0, 1.0}
    assert (x.sum(axis=(1, 2)) == 15).all()  # 8 + 8 - the crossing
    assert ((x.sum(axis=2) == 8).sum(axis=1) == 1).all() and ((x.sum(axis=1) == 8).sum(axis=1) == 1).all()
    noisy = load_dataset({"source": "bars", "n": 1000, "size": 8, "flip": 0.02})
    clean = np.zeros((len(noisy.x_train), 8, 8), bool)
    idx = np.arange(len(clean))
    clean[idx, noisy.meta["bar_rows_train"]] = True
    clean[idx, :, noisy.meta["bar_cols_train"]] = True
    assert 0.01 < np.mean(clean != noisy.x_train[..., 0].astype(bool)) < 0.03


def test_bars_and_stripes_are_the_30_distinct_images() -> None:
    ds = load_dataset({"source": "bars_and_stripes", "size": 4})
    flat = ds.x_train.reshape(len(ds.x_train), -1)
    assert ds.x_train.shape == (30, 4, 4, 1) and len(np.unique(flat, axis=0)) == 30
    img = ds.x_train[..., 0]
    rows_equal = (img == img[:, :1, :]).all(axis=(1, 2))
    cols_equal = (img == img[:, :, :1]).all(axis=(1, 2))
    assert (rows_equal | cols_equal).all()


def test_glyphs_are_balanced_noisy_images() -> None:
    ds = load_dataset({"source": "glyphs", "n": 2500, "classes": 4, "noise": 0.3})
    assert ds.x_train.shape[1:] == (8, 8, 1) and ds.classes == 4
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    y = np.concatenate([ds.y_train, ds.y_test])
    assert np.bincount(y).tolist() == [625] * 4
    clean = load_dataset({"source": "glyphs", "n": 400, "classes": 8, "noise": 0.0})
    ink = clean.x_train.sum(axis=(1, 2, 3))
    for c, pixels in enumerate((4, 4, 4, 4, 4, 5, 8, 5)):
        assert (ink[clean.y_train == c] == pixels).all()


def test_class_glyphs_map_a_code_to_its_centred_glyph() -> None:
    ds = load_dataset({"source": "class_glyphs", "classes": 4, "n": 200})
    assert ds.x_train.shape[1:] == (4,) and ds.y_train.shape[1:] == (8, 8, 1) and ds.y_train.dtype == np.float32
    labels = ds.meta["labels_train"]
    assert np.array_equal(ds.x_train.argmax(axis=1), labels) and (ds.x_train.sum(axis=1) == 1).all()
    for c in range(4):
        same = ds.y_train[labels == c]
        assert (same == same[0]).all()  # one clean template per class
    assert len(np.unique(ds.y_train.reshape(len(labels), -1), axis=0)) == 4


def test_low_rank_gaussian_has_the_rank() -> None:
    ds = load_dataset({"source": "low_rank_gaussian", "n": 2000, "dims": 8, "rank": 2, "noise": 0.05})
    s = np.linalg.svd(ds.x_train - ds.x_train.mean(axis=0), compute_uv=False)
    assert s[1] > 10 * s[2]


def test_sparse_atoms_are_sums_of_few_unit_atoms() -> None:
    ds = load_dataset({"source": "sparse_atoms", "n": 500, "dims": 16, "atoms": 32, "active": 2})
    atoms, codes = ds.meta["atoms"], ds.meta["codes_train"]
    assert atoms.shape == (32, 16) and np.allclose(np.linalg.norm(atoms, axis=1), 1, atol=1e-5)
    assert ((codes > 0).sum(axis=1) == 2).all() and codes.min() >= 0
    assert np.allclose(ds.x_train, codes @ atoms, atol=1e-5)


def test_copy_task_targets_copy_the_inputs_after_the_delimiter() -> None:
    ds = load_dataset({"source": "copy_task", "n": 300, "width": 6, "min_length": 1, "max_length": 8})
    assert ds.x_train.shape[1:] == (17, 7) and ds.y_train.shape[1:] == (17, 6)
    lengths, mask = ds.meta["lengths_train"], ds.meta["mask_train"]
    assert lengths.min() >= 1 and lengths.max() <= 8 and (mask.sum(axis=1) == lengths).all()
    for x, y, n in zip(ds.x_train[:50], ds.y_train[:50], lengths[:50], strict=True):
        assert x[n, 6] == 1 and x[:, 6].sum() == 1  # one delimiter, right after the input
        assert np.array_equal(y[n + 1 : 2 * n + 1], x[:n, :6])
        assert not y[: n + 1].any() and not x[n + 1 :].any()


def test_reversal_targets_reverse_the_source() -> None:
    ds = load_dataset({"source": "reversal", "n": 300, "symbols": 8, "min_length": 4, "max_length": 8})
    assert ds.classes == 9 and ds.x_train.shape[1:] == (9, 9) and ds.y_train.shape[1:] == (9,)
    for x, y, n in zip(ds.x_train[:50], ds.y_train[:50], ds.meta["lengths_train"][:50], strict=True):
        src = x.argmax(axis=1)
        assert 4 <= n <= 8 and src[n] == 8 and y[n] == 8  # the end token
        assert np.array_equal(y[:n], src[:n][::-1])
        assert not x[n + 1 :].any()


def test_mackey_glass_is_split_in_time() -> None:
    ds = load_dataset({"source": "mackey_glass", "steps": 1000, "split": {"test": 0.25, "seed": 0}})
    series = ds.meta["series"]
    assert series.shape == (1001,) and ds.meta["horizon"] == 84
    assert np.array_equal(ds.x_train[0, :, 0], series[:750]) and np.array_equal(ds.y_train[0, :, 0], series[1:751])
    assert np.array_equal(ds.x_test[0, :, 0], series[750:1000]) and np.array_equal(ds.y_test[0, :, 0], series[751:])
    assert (
        -0.6 < series.min() < -0.3 and 0.2 < series.max() < 0.4 and series.std() > 0.15
    )  # tanh(x - 1) on the attractor


def test_markov_chain_walk_follows_its_matrix() -> None:
    ds = load_dataset({"source": "markov_chain", "states": 4, "steps": 20000})
    p, walk = ds.meta["transition"], ds.meta["walk"]
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5) and np.allclose(
        ds.meta["stationary"] @ p, ds.meta["stationary"], atol=1e-5
    )
    counts = np.zeros((4, 4))
    np.add.at(counts, (walk[:-1], walk[1:]), 1)
    assert np.abs(counts / counts.sum(axis=1, keepdims=True) - p).max() < 0.05
    assert np.array_equal(ds.x_train[0].argmax(axis=1)[1:], ds.y_train[0, :-1])


def test_random_patterns_probes_flip_the_given_fraction() -> None:
    ds = load_dataset({"source": "random_patterns", "patterns": 5, "size": 64, "flip": 0.2})
    assert set(np.unique(ds.x_train)) == {-1.0, 1.0} and ds.x_train.shape == (5, 64)
    assert ((ds.x_test != ds.y_test).sum(axis=1) == 13).all() and np.array_equal(ds.y_test, ds.x_train)


def test_moving_squares_factors_describe_the_images() -> None:
    ds = load_dataset({"source": "moving_squares", "n": 500, "size": 12})
    img, factors = ds.x_train[..., 0], ds.meta["factors_train"]
    assert ds.x_train.shape[1:] == (12, 12, 1)
    assert (img.sum(axis=(1, 2)) == factors[:, 1] ** 2).all()
    assert (img.max(axis=1).argmax(axis=1) == factors[:, 0]).all()
    assert set(factors[:, 0]) == set(range(9)) and set(factors[:, 1]) == {2, 3, 4}


def test_gaussian_and_uniform_samples() -> None:
    g = load_dataset({"source": "gaussian_1d", "n": 10000, "mean": 4.0, "std": 0.5})
    assert abs(g.x_train.mean() - 4) < 0.05 and abs(g.x_train.std() - 0.5) < 0.05 and g.y_train is None
    u = load_dataset({"source": "uniform_square", "n": 3000})
    assert u.x_train.shape[1:] == (2,) and 0 <= u.x_train.min() and u.x_train.max() <= 1


def test_spike_patterns_are_jittered_templates() -> None:
    ds = load_dataset({"source": "spike_patterns", "n": 200, "channels": 4, "duration": 200, "rate": 20.0})
    assert ds.x_train.shape[1:] == (200, 4) and set(np.unique(ds.x_train)) <= {0.0, 1.0}
    assert np.bincount(np.concatenate([ds.y_train, ds.y_test])).tolist() == [100, 100]
    for c, template in enumerate(ds.meta["templates"]):
        spikes = ds.x_train[ds.y_train == c].sum(axis=(1, 2))
        assert abs(spikes.mean() - len(template)) <= 1.5  # jitter drops only spikes near the edges


# ------------------------------------------------------------------------------------------ CSV


def _write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pets.csv"
    path.write_text(text, encoding="utf-8")
    return path


PETS = "colour,weight,legs,kind\nred,1.5,4,cat\nblue,2.0,4,dog\nred,3.25,2,bird\ngreen,0.5,4,cat\n"


def test_csv_one_hot_text_and_numbers(tmp_path: Path) -> None:
    _write_csv(tmp_path, PETS)
    ds = load_dataset({"csv": "pets.csv", "target": "kind", "split": {"test": 0.25, "seed": 0}}, tmp_path)
    assert ds.meta["feature_names"] == ("colour=blue", "colour=green", "colour=red", "weight", "legs")
    assert ds.meta["label_names"] == ("bird", "cat", "dog") and ds.classes == 3 and ds.task == "classification"
    x = np.concatenate([ds.x_train, ds.x_test])
    assert x.shape == (4, 5) and sorted(x[:, 3].tolist()) == [0.5, 1.5, 2.0, 3.25]


def test_csv_numeric_target_and_codes(tmp_path: Path) -> None:
    _write_csv(tmp_path, PETS)
    reg = load_dataset({"source": "csv", "path": "pets.csv", "target": "weight"}, tmp_path)
    assert reg.task == "regression" and reg.y_train.dtype == np.float32 and reg.y_train.shape[1:] == (1,)
    assert reg.classes is None
    codes = load_dataset({"source": "csv", "path": "pets.csv", "target": "legs", "one_hot": False}, tmp_path)
    assert codes.task == "classification" and codes.classes == 5  # whole-number labels are the class ids
    assert codes.meta["label_names"] == ("0", "1", "2", "3", "4")
    assert codes.meta["feature_names"] == ("colour", "weight", "kind")
    forced = load_dataset({"csv": "pets.csv", "target": "legs", "task": "regression"}, tmp_path)
    assert forced.task == "regression"


@pytest.mark.parametrize(
    ("block", "text", "expected"),
    [
        ({"csv": "pets.csv", "target": "knd"}, PETS, "did you mean 'kind'"),
        ({"csv": "missing.csv", "target": "kind"}, PETS, "not found"),
        ({"csv": "pets.csv", "target": "kind"}, "a,kind\n1,x\n2\n", "pets.csv:3:1: row has 1 fields"),
        ({"csv": "pets.csv", "target": "kind", "task": "regression"}, PETS, "holds text"),
        ({"source": "csv", "target": "kind"}, PETS, "needs `csv:`"),
    ],
    ids=["unknown-target", "missing-file", "ragged-row", "text-regression", "no-path"],
)
def test_csv_errors(tmp_path: Path, block: dict, text: str, expected: str) -> None:
    _write_csv(tmp_path, text)
    with pytest.raises(cellgraph.CellgraphError) as err:
        load_dataset(block, tmp_path)
    assert expected in str(err.value)


# --------------------------------------------------------------------------------- errors, arrays


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"source": "mushrom"}, "did you mean 'mushroom'"),
        ({}, "unknown data source None"),
        ({"source": "sine", "nosie": 0.1}, "unknown key 'nosie'"),
        ({"source": "bars", "flip": 2.0}, "data.flip: expected a number in [0, 1]"),
        ({"source": "xor", "split": {"test": 1.5}}, "data.split.test"),
        ({"source": "xor", "split": [0.3]}, "data.split: expected a mapping"),
    ],
    ids=["typo", "no-source", "unknown-option", "bad-value", "bad-split", "split-not-mapping"],
)
def test_bad_blocks_raise_spec_errors(block: dict, expected: str) -> None:
    with pytest.raises(cellgraph.SpecError) as err:
        load_dataset(block)
    assert expected in str(err.value)


def test_bad_seed_is_refused() -> None:
    with pytest.raises(cellgraph.SpecError, match="seed"):
        load_dataset({"source": "xor"}, seed=-1)


def test_adding_needs_two_steps() -> None:
    with pytest.raises(cellgraph.SpecError, match="at least 2 steps"):
        load_dataset({"source": "adding", "steps": 1})


def test_dataset_from_arrays() -> None:
    x = np.arange(40, dtype=np.float64).reshape(20, 2)
    ds = dataset_from_arrays(x, np.arange(20) % 3, test=0.25, seed=1)
    assert (len(ds.x_train), len(ds.x_test)) == (15, 5) and ds.classes == 3 and ds.task == "classification"
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert dataset_from_arrays(x).task == "unsupervised"
    assert dataset_from_arrays(x, x[:, 0]).task == "regression"
    with pytest.raises(cellgraph.CellgraphError, match="20 examples"):
        dataset_from_arrays(x, np.zeros(3))


# --------------------------------------------------------------------------- the specs' data blocks


@pytest.mark.parametrize("path", _spec_blocks(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_spec_data_block_loads(path: Path) -> None:
    spec = cellgraph.load_spec(path)
    ds = load_dataset(spec.data, path.parent)
    assert ds.name == spec.data["source"]
    assert len(ds.x_train) > 0 and len(ds.x_test) > 0


def test_spec_blocks_match_the_zoo_set_ups() -> None:
    """A few sizes ZOO.md section 2 names, as the specs' blocks produce them."""
    load = lambda net: load_dataset(cellgraph.load_spec(ZOO / f"{net}.yaml").data)  # noqa: E731
    assert load("lstm").x_test.shape == (1000, 50, 2)  # 1000 fresh test sequences, T = 50
    assert load("elm").x_train.shape == load("elm").x_test.shape == (5000, 1)
    assert load("rnn").x_test.shape == (1, 2999, 1)  # a fresh 3000-bit stream
    assert load("drn").x_train.shape[0] + load("drn").x_test.shape[0] == 600
    assert load("kn").x_test.shape == (1000, 2)
    assert load("lsm").x_test.shape == (200, 200, 4)
    assert load("dcn").x_train.shape[1:] == (8, 8, 1)


# ------------------------------------------------------------------------------------------ no JAX

NO_JAX = """
import json, sys
from cellgraph.data import load_dataset
from cellgraph.data.catalog import SOURCES
for name in SOURCES:
    if name != "csv":
        load_dataset({"source": name, "n": 50} if "n" in SOURCES[name].options else {"source": name})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "flax", "optax"))))
"""


def test_data_never_imports_jax() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", NO_JAX], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_validation_does_not_import_numpy_through_data() -> None:
    script = "import sys, cellgraph.data.catalog; print('numpy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
