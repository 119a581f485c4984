"""The user's own data, in whatever form it comes, as a :class:`Dataset` keyed by the spec's groups.

:func:`as_dataset` takes what a Keras or Ludwig user would hand over -- a tuple ``(x, y)``, a
mapping keyed by group names mixing inputs and targets (``{"wide": a, "deep": b, "y": labels}``),
an ``.npz`` file with arrays named after the groups, a CSV file (column sets per group), a pandas
DataFrame, or nothing (the spec's own ``data:`` block) -- and returns one form: inputs and
targets as an array, or a mapping by group when the network has several, split into training
and test parts with the same indices for every array (or with explicit test data).

A key that names no input group and no output trained on targets is a located error here: it
cannot be placed. Everything else about the arrays (shapes, counts, labels) is
:func:`~cellgraph.data.check.check_data`'s, which this runs on the whole data before splitting.
NumPy only; pandas is never imported (a DataFrame is recognised by its ``columns``).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CellgraphError, Problems, SourceLoc, known_list, spec_error
from .blocks import is_own_block
from .catalog import SPLIT_OPTIONS
from .check import _check_split, _unused_targets, surplus
from .csvtable import encode_columns, read_csv, target_names
from .dataset import Dataset, Request, class_counts, count, guess_task, map_leaves, split_indices, take
from .layout import CLASSES, LABELS, OTHER, VALUES, Layout, Slot, Target, layout_of
from .loaders import load_source

DEFAULT_TEST: float = 0.2
"""Fraction of the user's own data held out for testing when nothing says otherwise (Keras's
``validation_split`` habit, Ludwig's 0.2 test split)."""


@dataclass(frozen=True)
class Parsed:
    """The user's arrays placed by group: inputs (a mapping, or one array), targets (or None)."""

    x: Any
    y: Any
    origin: str | None = None  # the file, for the messages; None for arrays from Python
    name: str = "arrays"
    meta: Mapping[str, Any] = field(default_factory=dict)  # what a file tells about itself (a CSV's names)


def as_dataset(
    data: Any,
    graph: Any,
    *,
    test: float | None = None,
    seed: int | None = None,
    test_data: Any = None,
    validation: float | None = None,
    columns: Mapping[str, str | Sequence[str]] | None = None,
    targets: bool = True,
) -> Dataset:
    """The user's data for ``graph`` as a :class:`Dataset` (see the module docstring).

    Args:
        data: a :class:`Dataset` (returned as it is); a tuple ``(x, y)`` or ``(x,)`` where ``x``
            is an array, a mapping input group -> array or a list of arrays in the spec's order of
            the input groups, and ``y`` likewise by output group; a mapping keyed by group names
            mixing inputs and targets (``x`` and ``y`` stand for the one input group and the one
            output trained on targets); a path to an ``.npz`` or ``.csv`` file; a pandas DataFrame;
            or None for the spec's ``data:`` block.
        graph: the checked graph, a compiled model, or a :class:`~cellgraph.data.layout.Layout`.
        test: fraction held out for testing (default: the `data:` block's ``split.test``, else
            0.2); 0 keeps every example for training, in the order given (to predict or score
            all of it).
        seed: seed of the shuffle (default: the block's ``split.seed``, else 0).
        test_data: explicit test data in any form above (except None); all of ``data`` trains.
        validation: a fraction of the training part held out as ``x_val``/``y_val``.
        columns: for a CSV file or a DataFrame: the columns of each group, ``{group: column}`` or
            ``{group: [columns]}`` (default: the `data:` block's ``inputs:``/``targets:``, else
            columns named after the groups, and for one input group every other column).
        targets: False reads the inputs only (to predict): targets in the data are left out and
            none are asked for.

    Returns:
        The data set; the same data and seed give the same split on every run.

    Raises:
        SpecError: a key or column that names no group, an unreadable file, and every mismatch
            :func:`~cellgraph.data.check_data` finds in the whole data.
    """
    layout = layout_of(graph)
    split = _split_block(layout.data_block)
    test = float(split.get("test", DEFAULT_TEST)) if test is None else test
    seed = int(split.get("seed", SPLIT_OPTIONS["seed"].default)) if seed is None else seed
    if not 0.0 <= test < 1.0:
        raise CellgraphError(f"test fraction must lie in [0, 1), got {test}; e.g. test=0.2 (0: none held out)")
    if validation is not None and not 0.0 < validation < 1.0:
        raise CellgraphError(f"validation fraction must lie in (0, 1), got {validation}; e.g. validation=0.1")
    if data is None:
        ds = spec_dataset(layout)
    elif _is_dataset(data):
        ds = data if isinstance(data, Dataset) else _as_record(data)
    else:
        parsed = read_data(data, layout, columns, targets=targets)
        if not targets:
            layout = replace(layout, targets=())
        if test_data is not None:
            ds = _explicit(parsed, read_data(test_data, layout, columns, targets=targets), layout)
        elif test == 0:
            ds = _whole(parsed, layout)
        else:
            ds = _split(parsed, layout, test, seed)
        return _validation(ds, validation, seed)
    if not targets:
        ds = replace(ds, y_train=None, y_test=None, y_val=None)
    if test_data is not None:
        held = read_data(test_data, layout, columns, targets=targets)
        ds = replace(ds, x_test=_as_x(held.x), y_test=_as_y(held.y, layout), meta={**ds.meta, "held_out": "given"})
    return _validation(ds, validation, seed)


def _split_block(block: Mapping[str, Any]) -> Mapping[str, Any]:
    split = block.get("split")
    return split if isinstance(split, Mapping) else {}


def _is_dataset(data: Any) -> bool:
    return all(hasattr(data, k) for k in ("x_train", "y_train", "x_test", "y_test"))


def _as_record(data: Any) -> Dataset:
    """Another object with the four splits, as a :class:`Dataset` (to replace or add splits)."""
    return Dataset(
        name=str(getattr(data, "name", "data")),
        task=str(getattr(data, "task", guess_task(data.y_train))),
        x_train=data.x_train,
        y_train=data.y_train,
        x_test=data.x_test,
        y_test=data.y_test,
        classes=getattr(data, "classes", None),
        meta=dict(getattr(data, "meta", {}) or {}),
    )


# ------------------------------------------------------------------------------------ reading


def read_data(data: Any, layout: Layout, columns: Mapping[str, Any] | None = None, *, targets: bool = True) -> Parsed:
    """Place the user's data by group (no split, no checks beyond placing each key); with
    ``targets`` False, targets are left out."""
    if isinstance(data, str | os.PathLike):
        parsed = read_file(Path(os.fspath(data)), layout, columns, targets=targets)
    elif _is_frame(data):
        parsed = read_frame(data, layout, columns, targets=targets)
    elif isinstance(data, Mapping):
        parsed = from_mapping(data, layout, targets=targets)
    elif isinstance(data, tuple):
        if len(data) not in (1, 2):
            raise CellgraphError(
                f"a tuple of data holds (x, y) or (x,), got {len(data)} items; "
                "fix: give (inputs, targets), or a mapping keyed by group names"
            )
        x = _place(data[0], layout.inputs, layout, "inputs")
        given = len(data) == 2 and data[1] is not None and targets
        parsed = Parsed(x, _place(data[1], layout.targets, layout, "targets") if given else None)
    elif isinstance(data, np.ndarray | list) or hasattr(data, "__array__"):
        parsed = Parsed(_place(data, layout.inputs, layout, "inputs"), None)
    else:
        raise CellgraphError(
            f"cannot read data of type {type(data).__name__}; fix: give a tuple (x, y), a mapping keyed by group "
            "names, a path to an .npz or .csv file, a pandas DataFrame, or a cellgraph.data.Dataset"
        )
    return parsed if targets else replace(parsed, y=None)


def from_mapping(data: Mapping[str, Any], layout: Layout, origin: str | None = None, *, targets: bool = True) -> Parsed:
    """A mapping keyed by group names, inputs and targets mixed; ``x``/``y`` stand for the one
    input group and the one output trained on targets; ``{"inputs": ..., "targets": ...}`` (a
    batch's form) is read as such. With ``targets`` False, keys of targets are passed over."""
    if set(data) <= {"inputs", "targets"} and "inputs" in data and "inputs" not in layout.groups:
        given = data.get("targets")
        return Parsed(
            _place(data["inputs"], layout.inputs, layout, "inputs"),
            None if given is None or not targets else _place(given, layout.targets, layout, "targets"),
            origin,
        )
    x: dict[str, Any] = {}
    y: dict[str, Any] = {}
    problems = Problems()
    for raw, value in data.items():
        key = str(raw)
        named = key in layout.groups
        if layout.input(key) is not None:
            x[key] = value
        elif layout.target(key) is not None:
            y[key] = value
        elif key == "x" and not named and len(layout.inputs) <= 1:
            x[layout.inputs[0].group if layout.inputs else "x"] = value
        elif not targets and (key in layout.untargeted or (key == "y" and not named)):
            continue  # inputs only: targets in the file are not read
        elif key == "y" and not named and len(layout.targets) == 1:
            y[layout.targets[0].group] = value
        elif key == "y" and not named and not layout.targets:
            problems.add(*_unused_targets(layout, "the data" + (f" ({origin})" if origin else "")))
        elif key == "y" and not named:
            names = layout.target_names
            problems.add(
                layout.where,
                "cells",
                f"{len(names)} output groups are trained on targets ({', '.join(names)}); the data's one 'y' would "
                "train each on the same values",
                "name the targets after the output groups: " + ", ".join(f"'{n}'" for n in names),
            )
        else:
            problems.add(*surplus(layout, key, "inputs"))
    problems.raise_if_any()
    x_tree: Any = next(iter(x.values())) if len(layout.inputs) <= 1 and len(x) == 1 else x
    return Parsed(x_tree, _one_or_many(y, layout) if targets else None, origin)


def _one_or_many(y: dict[str, Any], layout: Layout, *, inputs: bool = False) -> Any:
    """One group's value on its own when the network has one such group, else the mapping (None: empty)."""
    if not y:
        return None
    if len(layout.inputs if inputs else layout.targets) <= 1 and len(y) == 1:
        return next(iter(y.values()))
    return y


def _place(value: Any, slots: Sequence[Slot], layout: Layout, role: str) -> Any:
    """Inputs (or targets) given on their own: an array, a mapping by group, or a list per group."""
    if isinstance(value, Mapping):
        problems = Problems()
        placed: dict[str, Any] = {}
        names = {s.group for s in slots}
        for raw, leaf in value.items():
            key = str(raw)
            alias = key == "x" if role == "inputs" else key == "y"
            if key in names:
                placed[key] = leaf
            elif alias and key not in layout.groups and len(slots) == 1:
                placed[slots[0].group] = leaf
            else:
                problems.add(*surplus(layout, key, role))
        problems.raise_if_any()
        if len(slots) == 1 and len(placed) == 1:
            return next(iter(placed.values()))
        return placed
    if (
        isinstance(value, list | tuple)
        and len(slots) > 1
        and len(value) == len(slots)
        and all(hasattr(v, "shape") for v in value)
    ):
        return {s.group: v for s, v in zip(slots, value, strict=True)}  # Keras's list of inputs, in the spec's order
    if _is_frame(value) or hasattr(value, "to_numpy"):
        return value.to_numpy()
    return value


# ------------------------------------------------------------------------------------ files


def read_file(path: Path, layout: Layout, columns: Mapping[str, Any] | None = None, *, targets: bool = True) -> Parsed:
    """An ``.npz`` (arrays named after the groups) or ``.csv`` file given by path."""
    where = SourceLoc(str(path))
    if not path.is_file():
        raise spec_error(
            where,
            "",
            "no such data file" if not path.exists() else "not a regular file",
            "give the path of an .npz or .csv file (relative to the current folder)",
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = load_npz(path)
        if columns:
            arrays = _renamed(arrays, columns, str(path))
        return replace(from_mapping(arrays, layout, str(path), targets=targets), name=path.name)
    if suffix == ".csv":
        sets = _column_sets(layout, columns)
        return replace(read_csv_groups(path, layout, sets, {}, targets_required=targets), name=path.name)
    raise spec_error(
        where,
        "",
        f"cannot read data from a '{suffix or path.name}' file",
        "give an .npz file (arrays named after the groups, np.savez) or a .csv file",
    )


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, without unpickling anything (a file may come from anywhere)."""
    where = SourceLoc(str(path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise spec_error(where, "", "a single .npy array, not an .npz archive", "save the arrays with np.savez")
            return {name: archive[name] for name in archive.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise spec_error(
                where,
                "",
                "an array in the file holds Python objects (ragged lists or text)",
                "save numbers only: pad sequences to one length and encode text as numbers before np.savez",
            ) from None
        raise spec_error(
            where, "", f"not a readable .npz file ({str(err)[:80]})", "save the arrays with np.savez"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise spec_error(
            where, "", f"not a readable .npz file ({str(err)[:80]})", "save the arrays with np.savez"
        ) from None
    except AttributeError:  # np.load returned a plain array (a .npy file named .npz)
        raise spec_error(
            where, "", "a single .npy array, not an .npz archive", "save the arrays with np.savez"
        ) from None


def _renamed(arrays: Mapping[str, Any], names: Mapping[str, Any], origin: str, key: str = "columns") -> dict[str, Any]:
    """``{group: array name}`` renames; arrays named after their groups stay as they are."""
    out = dict(arrays)
    for group, name in names.items():
        name = str(name)
        if name not in arrays:
            raise spec_error(
                SourceLoc(origin),
                f"{key}.{group}",
                f"no array {name[:40]!r} in the file",
                "arrays in the file: " + (known_list(arrays) or "none"),
            )
        out[str(group)] = out.pop(name) if name != group else out[name]
    return out


TargetColumns = dict[str, str | list[str]]
"""Output group -> its target column, or the list of numeric columns it reads (a value per cell)."""


def _column_sets(
    layout: Layout, columns: Mapping[str, Any] | None
) -> tuple[dict[str, list[str]] | None, TargetColumns]:
    """(columns per input group, or None for "every other column"; the target column(s) of each
    output group named explicitly) of a CSV file or DataFrame, from ``columns`` or the `data:` block.
    An output group not named here reads the column of its own name."""
    block = layout.data_block
    if columns is not None:
        inputs = {str(g): _listed(c) for g, c in columns.items() if layout.target(str(g)) is None}
        targets = {str(g): _target_set(c) for g, c in columns.items() if layout.target(str(g)) is not None}
        return (inputs or None), targets
    inputs = {str(g): _listed(c) for g, c in _mapping(block, "inputs").items()}
    targets = {str(g): _target_set(c) for g, c in _mapping(block, "targets").items()}
    single = block.get("target")
    if isinstance(single, str) and len(layout.targets) == 1 and not targets:
        targets = {layout.targets[0].group: single}
    return (inputs or None), targets


def _mapping(block: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = block.get(key)
    return value if isinstance(value, Mapping) else {}


def _listed(columns: Any) -> list[str]:
    return [str(c) for c in columns] if isinstance(columns, list | tuple) else [str(columns)]


def _target_set(columns: Any) -> str | list[str]:
    """A target's column, or its list of columns; a list of one is that column (read as today:
    class ids or values, as the loss says), a longer one a value per cell of the group."""
    listed = _listed(columns)
    return listed[0] if len(listed) == 1 else listed


def _target_used(targets: TargetColumns) -> set[str]:
    """Every column the targets read."""
    return {c for cs in targets.values() for c in target_names(cs)}


def _target_columns(
    layout: Layout, named: TargetColumns, header: Sequence[str], where: SourceLoc, key: str, *, required: bool = True
) -> TargetColumns:
    """Each output group's target column(s): those named, else the column of the group's name
    (with ``required`` False, a group without them is left out: inputs only)."""
    targets = dict(named)
    if len(layout.targets) == 1 and not targets and layout.targets[0].group not in header and "y" in header:
        targets = {layout.targets[0].group: "y"}  # `y` stands for the one output trained on targets
    missing = [t.group for t in layout.targets if t.group not in targets and t.group not in header]
    if not required:
        every: TargetColumns = {**{t.group: t.group for t in layout.targets}, **targets}
        return {g: cs for g, cs in every.items() if all(c in header for c in target_names(cs))}
    if missing:
        first = missing[0]
        raise spec_error(
            where,
            key,
            f"no target column for output group{'s' if len(missing) > 1 else ''} "
            + ", ".join(f"`{m}`" for m in missing)
            + f": no column of {'that name' if len(missing) == 1 else 'their names'} ({known_list(header)})",
            f"name the column after the output group, or say which it is: `targets: {{{first}: column}}` in the "
            f"`data:` block, columns={{'{first}': 'column'}} in Python",
        )
    for t in layout.targets:
        targets.setdefault(t.group, t.group)
    return targets


def read_csv_groups(
    path: Path,
    layout: Layout,
    sets: tuple[dict[str, list[str]] | None, TargetColumns],
    options: Mapping[str, Any],
    key: str = "columns",
    *,
    targets_required: bool = True,
) -> Parsed:
    """A CSV file's column sets by group (:func:`~cellgraph.data.csvtable.encode_columns`)."""
    table = read_csv(path, options.get("encoding") or "utf-8")
    inputs, named = sets
    targets = _target_columns(
        layout, named, table.header, SourceLoc(str(path)), f"{key}.targets", required=targets_required
    )
    if inputs is None:
        if len(layout.inputs) > 1:
            names = layout.input_names
            raise spec_error(
                SourceLoc(str(path)),
                f"{key}.inputs",
                f"the network has {len(names)} input groups ({', '.join(names)}): say which columns each reads",
                "`inputs: {" + ", ".join(f"{n}: [column, ...]" for n in names) + "}` in the `data:` block "
                "(columns={...} in Python)",
            )
        used = _target_used(targets)
        rest = [c for c in table.header if c not in used]
        inputs = {layout.inputs[0].group if layout.inputs else "x": rest}
    tasks = {t.group: _task_of(t) for t in layout.targets}
    encoded = encode_columns(
        table,
        inputs,
        targets,
        tasks=tasks,
        one_hot=options.get("one_hot", True),
        missing=options.get("missing") or "error",
        max_categories=options.get("max_categories"),
        key=key,
    )
    x: Any = encoded.x
    if len(layout.inputs) <= 1 and len(x) == 1:
        x = next(iter(x.values()))
    meta = {
        "feature_names": _one_or_many(dict(encoded.feature_names), layout, inputs=True) or {},
        "label_names": _one_or_many(dict(encoded.label_names), layout),
        "dropped_rows": encoded.dropped,
    }
    return Parsed(x, _one_or_many(dict(encoded.y), layout), str(path), path.name, meta)


def _task_of(t: Target) -> str | None:
    """How a target column is read: class ids for a loss on classes, numbers for a regression."""
    if t.kind in (CLASSES, LABELS) or (t.kind != VALUES and t.units == 1 and t.loss == "bce"):
        return "classification"
    return "regression" if t.kind == VALUES else None


# ------------------------------------------------------------------------------------ DataFrames


def _is_frame(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "to_numpy") and not isinstance(data, Mapping)


def read_frame(frame: Any, layout: Layout, columns: Mapping[str, Any] | None = None, *, targets: bool = True) -> Parsed:
    """A pandas DataFrame: columns named after the groups (or in ``columns``/the `data:` block);
    with one input group, every column that is no target."""
    header = [str(c) for c in frame.columns]
    inputs, named = _column_sets(layout, columns)
    chosen = _target_columns(layout, named, header, layout.where, "columns", required=targets)
    read = _target_used(chosen)
    if inputs is None:
        inputs = {s.group: [s.group] for s in layout.inputs if s.group in header}
        if len(layout.inputs) == 1 and not inputs:
            inputs = {layout.inputs[0].group: [c for c in header if c not in read]}
        used = {c for cs in inputs.values() for c in cs} | read
        problems = Problems()
        for c in header:
            if c not in used:
                problems.add(*surplus(layout, c, "inputs"))
        problems.raise_if_any()
    problems = Problems()
    for group, names in [*inputs.items(), *((g, target_names(cs)) for g, cs in chosen.items())]:
        if not names:
            problems.add(
                layout.where,
                f"columns.{group}",
                f"the target of `{group}` lists no columns",
                f"name its column, or a list of numeric columns (one per cell of `{group}`)",
            )
        for c in names:
            if c not in header:
                problems.add(
                    layout.where,
                    f"columns.{group}",
                    f"no column {c[:40]!r} in the DataFrame (it has {known_list(header)})",
                    "name the columns of each group: columns={group: [column, ...]}",
                )
    problems.raise_if_any()
    x: dict[str, Any] = {g: _frame_values(frame, cs, layout, g) for g, cs in inputs.items()}
    y: dict[str, Any] = {}
    for g, cs in chosen.items():
        if isinstance(cs, list):  # a value per cell of the group, every column numbers
            y[g] = _frame_values(frame, cs, layout, g, several=True).astype(np.float32)
            continue
        values = _frame_values(frame, [cs], layout, g)
        y[g] = values[:, 0] if values.shape[1] == 1 else values
    x_tree: Any = next(iter(x.values())) if len(layout.inputs) <= 1 and len(x) == 1 else x
    return Parsed(x_tree, _one_or_many(y, layout), None, "dataframe")


def _frame_values(frame: Any, names: list[str], layout: Layout, group: str, *, several: bool = False) -> np.ndarray:
    """Columns as one array; a column of arrays (an image per row) is stacked; text is an error
    (``several``: the columns are a target of several values, which take numbers only)."""
    parts = []
    for name in names:
        column = frame[name]
        kind = getattr(column.dtype, "kind", "O")
        if kind in "biuf":
            parts.append(column.to_numpy()[:, None])
            continue
        values = list(column)
        if values and all(isinstance(v, np.ndarray | list) for v in values):
            try:
                parts.append(np.stack([np.asarray(v) for v in values]).reshape(len(values), -1))
                continue
            except ValueError:
                pass
        loc, path = layout.groups.get(group, (layout.where, "cells"))
        if several:
            raise spec_error(
                loc,
                path,
                f"DataFrame column {name[:40]!r} is one of the {len(names)} target columns of `{group}`, which are "
                f"read as numbers (a value per cell of the group), but it holds {column.dtype} values",
                f"convert the column to numbers (pandas.to_numeric; e.g. 0 and 1 for a mask), or train `{group}` on "
                f"one column of labels: columns={{'{group}': 'column'}}",
            )
        raise spec_error(
            loc,
            path,
            f"DataFrame column {name[:40]!r} (for `{group}`) holds {column.dtype} values, not numbers",
            "encode it as numbers first (class ids with pandas.factorize, one-hot columns with pandas.get_dummies), "
            "or save the table as CSV and read it with `csv:`, which does both",
        )
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


# ------------------------------------------------------------------------------------ the spec's block


def spec_dataset(layout: Layout) -> Dataset:
    """The data set a spec's `data:` block names: an ``npz:`` file, a CSV file's column sets, or
    (through :func:`~cellgraph.data.load_dataset`) a built-in source or a one-target CSV."""
    block = layout.data_block
    if not block:
        raise CellgraphError("no data to train on: pass data=..., or give the spec a `data:` block")
    if not is_own_block(block):
        return load_source(block, layout.folder, allow=layout.allow)
    split = _split_block(block)
    test = float(split.get("test", SPLIT_OPTIONS["test"].default))
    seed = int(split.get("seed", SPLIT_OPTIONS["seed"].default))
    key = "npz" if "npz" in block else "csv"
    path = _block_file(layout, key)
    if key == "npz":
        arrays = load_npz(path)
        names = {**_mapping(block, "inputs"), **_mapping(block, "targets")}
        parsed = from_mapping(_renamed(arrays, names, str(path), "data") if names else arrays, layout, str(path))
    else:
        parsed = read_csv_groups(path, layout, _column_sets(layout, None), block, key="data")
    return _split(replace(parsed, name=path.name), layout, test, seed)


def _block_file(layout: Layout, key: str) -> Path:
    """The block's file, relative to the spec's folder, refused outside the spec's project."""
    from ..access import data_file_refusal

    text = str(layout.data_block.get(key))
    folder = layout.folder if layout.folder is not None else Path.cwd()
    refusal = data_file_refusal(folder, text, layout.allow)
    if refusal is not None:
        raise spec_error(layout.data_loc(key), f"data.{key}", f"{key} file {refusal[0]}", refusal[1])
    return folder / text


def load_dataset(
    data_block: Mapping[str, Any],
    spec_dir: Path | None = None,
    *,
    seed: int | None = None,
    allow: Sequence[str | Path] = (),
) -> Dataset:
    """Load or generate the data set a spec's ``data:`` block names, without a graph: a built-in
    source or a one-target CSV (:func:`~cellgraph.data.loaders.load_source`), or the user's own
    arrays (``npz:``, a CSV file's column sets: :func:`load_own_block`).

    >>> ds = load_dataset({"source": "mushroom", "split": {"test": 0.3, "seed": 0}})
    >>> ds.x_train.shape, ds.x_test.shape, ds.classes
    ((5687, 117), (2437, 117), 2)
    """
    if is_own_block(data_block):
        return load_own_block(data_block, spec_dir, allow)
    return load_source(data_block, spec_dir, seed=seed, allow=allow)


def load_own_block(block: Mapping[str, Any], spec_dir: Path | None, allow: Sequence[str | Path] = ()) -> Dataset:
    """An ``npz:`` or column-set ``csv:`` block without a graph (:func:`~cellgraph.data.load_dataset`):
    the groups are the names the block and the file give (``inputs:``/``targets:``, else the
    arrays ``x`` and ``y``)."""
    names_in = dict(block.get("inputs") or {})
    names_out = dict(block.get("targets") or {})
    if "npz" in block:
        folder = spec_dir if spec_dir is not None else Path.cwd()
        arrays = load_npz(_block_file(Layout((), (), data_block=block, folder=folder, allow=tuple(allow)), "npz"))
        if not names_in and not names_out:
            names_in = {"x": "x"} if "x" in arrays else {}
            names_out = {"y": "y"} if "y" in arrays else {}
            if not names_in:
                raise CellgraphError(
                    "an npz data block without a spec's groups needs `inputs:` (and `targets:`), or arrays named x "
                    "and y; fix: name them, or load it with cellgraph.data.as_dataset(None, graph)"
                )
    elif "target" in block and not names_out:
        names_out = {"y": str(block["target"])}
    layout = Layout(
        inputs=tuple(_named_slot(g) for g in names_in),
        targets=tuple(_named_target(g) for g in names_out),
        data_block=block,
        folder=spec_dir,
        allow=tuple(allow),
        known=False,
    )
    return spec_dataset(layout)


def _named_slot(group: str) -> Slot:
    """An input group known by name only (a block read without its spec)."""
    return Slot(group, (1,), False, SourceLoc("<data>"), f"data.inputs.{group}", SourceLoc("<data>"))


def _named_target(group: str) -> Target:
    """An output group known by name only: its column is read as the file says (class ids or values)."""
    where = SourceLoc("<data>")
    return Target(group, (1,), False, where, f"data.targets.{group}", where, kind=OTHER)


# ------------------------------------------------------------------------------------ splitting


def _as_x(tree: Any) -> Any:
    return map_leaves(tree, lambda a: np.asarray(a.to_numpy() if hasattr(a, "to_numpy") else a))


def _as_y(tree: Any, layout: Layout) -> Any:
    """Targets as arrays; whole-number floats read as class ids become integers."""

    def cast(group: str | None, a: Any) -> np.ndarray:
        a = np.asarray(a.to_numpy() if hasattr(a, "to_numpy") else a)
        t = layout.target(group) if group is not None else (layout.targets[0] if len(layout.targets) == 1 else None)
        if (
            t is not None
            and t.kind in (CLASSES, LABELS)
            and a.dtype.kind == "f"
            and a.size
            and np.isfinite(a).all()
            and (a == np.round(a)).all()
        ):
            return a.astype(np.int64)
        return a

    if tree is None:
        return None
    if isinstance(tree, Mapping):
        return {k: cast(str(k), v) for k, v in tree.items()}
    return cast(None, tree)


def _checked(parsed: Parsed, layout: Layout, what: str = "the data") -> tuple[Any, Any]:
    """The parsed arrays, checked as a whole against the network (located errors, before any split)."""
    if layout.known:
        problems = Problems()
        what += f" ({parsed.origin})" if parsed.origin else ""
        _check_split(layout, what, parsed.x, parsed.y, None, True, problems, required=True)
        problems.raise_if_any()
    return _as_x(parsed.x), _as_y(parsed.y, layout)


def _split(parsed: Parsed, layout: Layout, test: float, seed: int) -> Dataset:
    x, y = _checked(parsed, layout)
    n = count(x, y)
    if n < 2:
        raise spec_error(
            *layout.data_place(),
            f"the data has {n} example{'s' if n != 1 else ''}: too few to hold out a test part",
            "give more examples, or pass test_data= (then all of the data trains)",
        )
    request = Request(parsed.name, guess_task(y), {}, test, seed, seed, True)
    return request.split(x, y, classes=class_counts(y), **_origin(parsed))


def _whole(parsed: Parsed, layout: Layout) -> Dataset:
    """Every example for training, in the order given; an empty test part (``test=0``)."""
    x, y = _checked(parsed, layout)
    none = np.arange(0)
    request = Request(parsed.name, guess_task(y), {}, 0.0, 0, 0, True)
    return request.make(x, y, take(x, none), take(y, none), classes=class_counts(y), held_out="none", **_origin(parsed))


def _explicit(train: Parsed, held: Parsed, layout: Layout) -> Dataset:
    x, y = _checked(train, layout)
    xt, yt = _checked(held, layout, "the test data")
    request = Request(train.name, guess_task(y), {}, 0.0, 0, 0, True)
    return request.make(x, y, xt, yt, classes=class_counts(y), held_out="given", **_origin(train))


def _origin(parsed: Parsed) -> dict[str, Any]:
    return {**parsed.meta, **({"origin": parsed.origin} if parsed.origin else {})}


def _validation(ds: Dataset, fraction: float | None, seed: int) -> Dataset:
    """Hold ``fraction`` of the training part out as ``x_val``/``y_val`` (same indices for every array)."""
    if fraction is None:
        return ds
    n = count(ds.x_train, ds.y_train)
    n_val = min(max(round(n * fraction), 1), n - 1) if n >= 2 else 0
    if n_val < 1:
        raise CellgraphError(f"the training part has {n} example(s): too few to hold out a validation part")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    keep, val = split_indices(n, n_val, rng)
    return replace(
        ds,
        x_train=take(ds.x_train, keep),
        y_train=take(ds.y_train, keep),
        x_val=take(ds.x_train, val),
        y_val=take(ds.y_train, val),
        meta={**ds.meta, "validation": fraction},
    )
