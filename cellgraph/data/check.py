"""Does a data set fit the network? Every mismatch as a located error, before any JAX work.

:func:`check_data` compares each split of a data set with what the network reads (a
:class:`~cellgraph.data.layout.Layout`): the arrays present for every input group and scored
output, their example counts, values per example against each group's size (the compiler
reshapes, so an 8x8 image feeds a size-64 input), the time axis against ``sequence: true``, finite
numbers, and targets against the loss that reads them -- class ids in range for a cross-entropy
output, values in [0, 1] for binary cross-entropy, a value per unit for a regression. Each problem
points at the group's line in the spec (its ``size:`` where that is what to change) with a fix,
so a user never meets a reshape traceback, a ``KeyError`` or a NaN with the wrong advice.

NumPy only; the graph layer fills the layout in (:func:`~cellgraph.data.layout.layout_of`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import Problems, SourceLoc, did_you_mean, known_list
from .catalog import SOURCES
from .dataset import label_problem
from .layout import BITS, CLASSES, LABELS, VALUES, Layout, Slot, Target, layout_of

_FIX_FINITE = (
    "fill in or drop the examples with missing values before training "
    "(for a CSV file, `missing: drop` or `missing: mean` does either)"
)


def check_data(graph: Any, data: Any) -> None:
    """Raise a located :class:`~cellgraph.errors.SpecError` for every way ``data`` does not fit ``graph``.

    Args:
        graph: the checked graph (``load_graph``), a compiled model, or a
            :class:`~cellgraph.data.layout.Layout`.
        data: a :class:`~cellgraph.data.Dataset` or anything with ``x_train``, ``y_train``,
            ``x_test``, ``y_test`` (and maybe ``classes``, ``x_val``, ``y_val``): arrays, or
            mappings by group.

    The splits are checked in turn (training, test, validation); the first split with problems
    raises them all. A built-in data set may carry targets the network does not use (labels of
    an image set under an autoencoder): only the user's own data is refused for that.
    """
    layout = layout_of(graph)
    own = not _builtin(data)
    origin = _origin(data)
    declared = getattr(data, "classes", None)
    for split, x, y in _splits(data):
        problems = Problems()
        what = f"the {split} data{origin}"
        _check_split(layout, what, x, y, declared, own, problems, required=split == "training")
        problems.raise_if_any()


def _builtin(data: Any) -> bool:
    """A built-in source (not the user's CSV): its targets are what the source has, used or not."""
    name = getattr(data, "name", None)
    return isinstance(name, str) and name in SOURCES and name != "csv"


def _origin(data: Any) -> str:
    meta = getattr(data, "meta", None)
    origin = meta.get("origin") if isinstance(meta, Mapping) else None
    return f" ({origin})" if origin else ""


def _splits(data: Any) -> Iterator[tuple[str, Any, Any]]:
    yield "training", getattr(data, "x_train", None), getattr(data, "y_train", None)
    for split, prefix in (("test", "test"), ("validation", "val")):
        x = getattr(data, f"x_{prefix}", None)
        if x is not None and _examples(x) != 0:
            yield split, x, getattr(data, f"y_{prefix}", None)


def _examples(tree: Any) -> int | None:
    leaves = list(tree.values()) if isinstance(tree, Mapping) else [tree]
    for leaf in leaves:
        shape = np.shape(leaf) if isinstance(leaf, np.ndarray) or hasattr(leaf, "shape") else None
        if shape:
            return int(shape[0])
    return None


# ------------------------------------------------------------------------------------------ a split


def _check_split(
    layout: Layout,
    split: str,
    x: Any,
    y: Any,
    declared: Any,
    own: bool,
    problems: Problems,
    *,
    required: bool,
) -> None:
    """Every problem of one split: structure first; shapes and values only once the arrays line up."""
    inputs = _inputs(layout, split, x, problems)
    targets = _targets(layout, split, y, own, problems)
    if problems:
        return
    arrays = {**{s.group: a for s, a in inputs}, **{t.group: a for t, a in targets}}
    for group, a in arrays.items():
        if a.ndim == 0:
            loc, path = layout.groups.get(group, (layout.where, ""))
            problems.add(
                loc,
                path,
                f"{split} for `{group}` is a single number, not an array of examples",
                "give one row per example (the first axis counts the examples)",
            )
    if problems:
        return
    counts = {g: int(a.shape[0]) for g, a in arrays.items()}
    if len(set(counts.values())) > 1:
        first, rows = next(iter(counts.items()))
        group = next(g for g, c in counts.items() if c != rows)
        loc, path = layout.groups.get(group, (layout.where, ""))
        listed = ", ".join(f"`{g}` {c}" for g, c in counts.items())
        problems.add(
            loc,
            path,
            f"{split} has {counts[group]} examples for `{group}` but {rows} for `{first}` ({listed})",
            "give every array one row per example: the same examples, in the same order",
        )
        return
    n = next(iter(counts.values())) if counts else _examples(x)  # a rule of its own may read x its way
    if required and n == 0:
        problems.add(
            *layout.data_place(),
            f"{split} has no examples",
            "give at least two examples (one to train on, one to test with), or pass test_data=",
        )
        return
    steps = _check_time(inputs, split, problems)
    for slot, a in inputs:
        _check_input(slot, a, split, problems)
    for target, a in targets:
        _check_target(layout, target, a, split, steps, _declared(declared, target.group, layout), problems)


def _declared(declared: Any, group: str, layout: Layout) -> int | None:
    if isinstance(declared, Mapping):
        value = declared.get(group)
        return value if isinstance(value, int) else None
    return declared if isinstance(declared, int) and not isinstance(declared, bool) else None


def _inputs(layout: Layout, split: str, x: Any, problems: Problems) -> list[tuple[Slot, np.ndarray]]:
    """The input groups' arrays; missing, surplus or unreadable ones are problems."""
    if not layout.inputs:
        return []
    if x is None:
        first = layout.inputs[0]
        problems.add(
            first.loc,
            first.path,
            f"{split} has no inputs",
            f"give an array for each input group ({known_list(layout.input_names)})",
        )
        return []
    if not isinstance(x, Mapping):
        if len(layout.inputs) == 1:
            a = _as_array(layout.inputs[0], x, split, problems)
            return [] if a is None else [(layout.inputs[0], a)]
        if not layout.strict:
            return []  # a rule of its own (a Boltzmann machine's visible groups) reads one array its way
        names = layout.input_names
        problems.add(
            layout.where,
            "cells",
            f"the network has {len(names)} input groups ({', '.join(names)}) but {split} is one array",
            "give one array per input group: "
            + "{"
            + ", ".join(f"'{n}': ..." for n in names)
            + "}, an .npz file with arrays named after the groups, or a tuple (x, y) whose x is such a mapping",
        )
        return []
    found: list[tuple[Slot, np.ndarray]] = []
    for key in x:
        if layout.input(str(key)) is None:
            problems.add(*surplus(layout, str(key), "inputs"))
    for slot in layout.inputs:
        if slot.group not in x:
            problems.add(
                slot.loc,
                slot.path,
                f"{split} has no array for input group `{slot.group}` "
                f"(it has {known_list(str(k) for k in x) or 'none'})",
                f"add an array named '{slot.group}' with {slot.features} values per example"
                + (" per time step" if slot.timed else ""),
            )
            continue
        a = _as_array(slot, x[slot.group], split, problems)
        if a is not None:
            found.append((slot, a))
    return found


def _targets(layout: Layout, split: str, y: Any, own: bool, problems: Problems) -> list[tuple[Target, np.ndarray]]:
    """The scored outputs' targets; missing, surplus or ambiguous ones are problems."""
    if y is None:
        for t in layout.targets:
            problems.add(
                t.loc,
                t.path,
                f"output group `{t.group}` is trained on targets ({t.loss}), but {split} has none (unlabelled data)",
                f"pass targets with the inputs (data=(x, y), or an array named '{t.group}'), or train `{t.group}` to "
                "reconstruct an input (`target: <input group>`) if the data has no labels",
            )
        return []
    if not isinstance(y, Mapping):
        if not layout.targets:
            if own:
                problems.add(*_unused_targets(layout, split))
            return []
        if len(layout.targets) > 1:
            if own:
                names = layout.target_names
                problems.add(
                    layout.where,
                    "cells",
                    f"{len(names)} output groups are trained on targets ({', '.join(names)}), but {split} "
                    "has one target array: every output would be trained on the same values",
                    "give the targets per output group: {" + ", ".join(f"'{n}': ..." for n in names) + "}",
                )
                return []
            found = [(t, _as_array(t, y, split, problems)) for t in layout.targets]
            return [(t, a) for t, a in found if a is not None]
        a = _as_array(layout.targets[0], y, split, problems)
        return [] if a is None else [(layout.targets[0], a)]
    got: list[tuple[Target, np.ndarray]] = []
    for key in y:
        if layout.target(str(key)) is None:
            problems.add(*surplus(layout, str(key), "targets"))
    for t in layout.targets:
        if t.group not in y:
            problems.add(
                t.loc,
                t.path,
                f"output group `{t.group}` is trained on targets ({t.loss}), but {split} has none for it "
                f"(it has targets for {known_list(str(k) for k in y) or 'no group'})",
                f"add the targets of `{t.group}` under its name ('{t.group}': ...), or train it on another group "
                "(`target:`)",
            )
            continue
        a = _as_array(t, y[t.group], split, problems)
        if a is not None:
            got.append((t, a))
    return got


def _unused_targets(layout: Layout, split: str) -> tuple[SourceLoc, str, str, str]:
    """The user's data has targets, and no output group is trained on them."""
    if layout.untargeted:
        group, why = next(iter(layout.untargeted.items()))
        loc, path = layout.groups.get(group, (layout.where, "cells"))
        return (
            loc,
            path,
            f"{split} has targets, but no output group is trained on them: `{group}` takes none ({why})",
            "give the inputs alone (data=(x,) or no 'y' array), or make an output a classifier or regressor "
            "of the targets (`type: output` without `target:`)",
        )
    return (
        layout.where,
        "cells",
        f"{split} has targets, but the network has no output group to train on them",
        "give the inputs alone (data=(x,)), or add an output group (`type: output`) fed by the network",
    )


def surplus(layout: Layout, key: str, role: str) -> tuple[SourceLoc, str, str, str]:
    """(loc, path, message, fix) for a data key (``role``: inputs or targets) no group reads."""
    readers = [*layout.input_names, *layout.target_names]
    expected = (
        f"name each array after an input group ({known_list(layout.input_names) or 'none'}) or an output trained "
        f"on targets ({known_list(layout.target_names) or 'none'})"
    )
    if key in layout.untargeted:
        loc, path = layout.groups[key]
        return (
            loc,
            path,
            f"the data has targets for `{key}`, but `{key}` takes none: {layout.untargeted[key]}",
            f"drop the array '{key}', or train `{key}` on the data's targets (remove its `target:`)",
        )
    if role == "targets" and layout.input(key) is not None:
        loc, path = layout.groups[key]
        return loc, path, f"`{key}` is an input group, but the data gives it as a target", "pass it with the inputs"
    if role == "inputs" and layout.target(key) is not None:
        loc, path = layout.groups[key]
        return loc, path, f"`{key}` is an output group, but the data gives it as an input", "pass it with the targets"
    if key in layout.groups:
        loc, path = layout.groups[key]
        return (
            loc,
            path,
            f"the data has an array for `{key}`, which is neither an input group nor an output trained on targets",
            expected + f", or drop the array '{key}'",
        )
    return (
        layout.where,
        "cells",
        f"the data has an array named {key[:40]!r}, but the spec has no group of that name"
        + did_you_mean(key, readers),
        expected + ", or drop it",
    )


def _as_array(slot: Slot, value: Any, split: str, problems: Problems) -> np.ndarray | None:
    """``value`` as a NumPy array of numbers; ragged lists, text and objects are problems."""
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        value = value.to_numpy()  # a pandas Series or DataFrame
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        problems.add(
            slot.loc,
            slot.path,
            f"{split} for `{slot.group}` is not a rectangular array ({str(err)[:80]})",
            "pad the examples (sequences) to one length, so every example has the same shape",
        )
        return None
    if a.dtype.kind not in "biuf":
        what = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects", "M": "dates"}
        problems.add(
            slot.loc,
            slot.path,
            f"{split} for `{slot.group}` holds {what.get(a.dtype.kind, str(a.dtype))}, not numbers (dtype {a.dtype})",
            "give numbers: encode text as class ids or one-hot columns first, or read the file with `csv:`, "
            "which does both",
        )
        return None
    return a


# ------------------------------------------------------------------------------------------ inputs


def _check_time(inputs: list[tuple[Slot, np.ndarray]], split: str, problems: Problems) -> int | None:
    """The number of time steps of the sequence inputs (None: no sequence input); they must agree."""
    steps: dict[str, int] = {}
    for slot, a in inputs:
        if slot.timed and a.ndim >= 2 and math.prod(a.shape[2:]) == slot.features:
            steps[slot.group] = int(a.shape[1])
    if len(set(steps.values())) > 1:
        first, n = next(iter(steps.items()))
        group = next(g for g, c in steps.items() if c != n)
        slot = next(s for s, _ in inputs if s.group == group)
        problems.add(
            slot.loc,
            slot.path,
            f"in {split}, the sequences for `{group}` have {steps[group]} steps, those for `{first}` {n}",
            "give every sequence input the same number of steps (pad the shorter ones)",
        )
    return next(iter(steps.values()), None)


def _check_input(slot: Slot, a: np.ndarray, split: str, problems: Problems) -> None:
    per = a.shape[1:]
    given = math.prod(per)
    if slot.timed:
        if per and math.prod(per[1:]) == slot.features:
            if per[0] == 0:
                problems.add(
                    slot.loc,
                    slot.path,
                    f"{split} for `{slot.group}` has sequences of 0 steps",
                    "give every sequence at least one step",
                )
                return
        elif given == slot.features:
            problems.add(
                slot.sequence_loc or slot.loc,
                f"{slot.path}.sequence",
                f"input group `{slot.group}` has `sequence: true`, so it reads (examples, steps, {slot.features}) "
                f"arrays, but {split} has shape {_shape(a)}: no time axis",
                f"give each example as steps of {slot.features} values (examples, steps, {slot.features}), "
                "or remove `sequence: true` if each example is one vector",
            )
            return
        else:
            step = math.prod(per[1:]) if len(per) >= 2 else None
            got = f"{step} values per step" if step is not None else "no time axis"
            problems.add(
                slot.size_loc,
                slot.size_path,
                f"input group `{slot.group}` reads {slot.features} values per time step ({slot.shape_text()}), "
                f"but {split} has shape {_shape(a)}: {got}",
                (f"set `size: {step}` on `{slot.group}`, or give " if step is not None else "give ")
                + f"(examples, steps, {slot.features}) arrays",
            )
            return
    elif given != slot.features:
        if len(per) >= 2 and per[0] > 1 and math.prod(per[1:]) == slot.features:
            problems.add(
                slot.loc,
                slot.path,
                f"input group `{slot.group}` reads {slot.features} values per example, but {split} has shape "
                f"{_shape(a)}: {per[0]} steps of {slot.features} values, a sequence",
                f"add `sequence: true` to `{slot.group}` if each example is a sequence of {per[0]} steps "
                f"(recurrent groups then read it step by step), or set `size: {given}` to read it whole",
            )
        else:
            problems.add(
                slot.size_loc,
                slot.size_path,
                f"input group `{slot.group}` takes {slot.features} values per example ({slot.shape_text()}), "
                f"but {split} has {given} (shape {_shape(a)})",
                _resize_fix(slot, per, given),
            )
        return
    if _check_finite(slot, a, split, problems) and slot.vocab is not None:
        _check_tokens(slot, a, split, problems)


def bad_token(ids: np.ndarray, vocab: int) -> tuple[int, Any] | None:
    """The first id of ``ids`` (examples first) that is not a whole number from 0 to vocab - 1, as
    (its example, its value), or None. A traced lookup would clamp such an id to the table's edge,
    silently, so the data check and prediction both refuse it."""
    if ids.size == 0:
        return None
    whole = ids == np.round(ids) if ids.dtype.kind == "f" else np.ones(ids.shape, bool)
    bad = (~whole | (ids < 0) | (ids >= vocab)).reshape(len(ids), -1)
    if not bad.any():
        return None
    example = int(np.argmax(bad.any(axis=1)))
    return example, ids.reshape(len(ids), -1)[example][np.argmax(bad[example])]


def _check_tokens(slot: Slot, a: np.ndarray, split: str, problems: Problems) -> None:
    """An embedding input's data: whole numbers from 0 to vocab - 1 (:func:`bad_token`)."""
    assert slot.vocab is not None
    found = bad_token(a, slot.vocab)
    if found is None:
        return
    example, value = found
    problems.add(
        slot.size_loc,
        f"{slot.path}.vocab",
        f"{split} for `{slot.group}` holds {value.item()} (first at example {example}), but an embedding reads "
        f"token ids 0 .. {slot.vocab - 1} (`vocab: {slot.vocab}`)",
        f"number the tokens 0 .. {slot.vocab - 1}, or raise `vocab:` to the number of distinct tokens",
    )


def _resize_fix(slot: Slot, per: tuple[int, ...], given: int) -> str:
    if slot.size_key == "shape" and len(per) > 1:
        dims = ", ".join(str(d) for d in per)
        return f"set `shape: [{dims}]` on `{slot.group}`, or give the data {slot.features} values per example"
    if slot.size_key:
        return f"set `size: {given}` on `{slot.group}`, or give the data {slot.features} values per example"
    return f"give the data {slot.features} values per example (the size of `{slot.group}` follows from its inputs)"


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(d) for d in a.shape) + ("," if a.ndim == 1 else "") + ")"


def _check_finite(slot: Slot, a: np.ndarray, split: str, problems: Problems) -> bool:
    """Report the first NaN or infinity; True when every value is finite."""
    if a.dtype.kind != "f" or a.size == 0:
        return True
    bad = ~np.isfinite(a)
    if not bad.any():
        return True
    flat = bad.reshape(len(a), -1) if a.ndim > 1 else bad[:, None]
    example = int(np.argmax(flat.any(axis=1)))
    value = a.reshape(len(a), -1)[example][np.argmax(flat[example])] if a.ndim > 1 else a[example]
    subject = (
        f"the targets of `{slot.group}` in {split} hold"
        if isinstance(slot, Target)
        else f"{split} for `{slot.group}` holds"
    )
    problems.add(
        slot.loc,
        slot.path,
        f"{subject} {value} (first at example {example}; "
        f"{int(bad.reshape(len(a), -1).any(axis=1).sum())} examples in all)",
        _FIX_FINITE,
    )
    return False


# ------------------------------------------------------------------------------------------ targets


def _check_target(
    layout: Layout,
    t: Target,
    a: np.ndarray,
    split: str,
    steps: int | None,
    declared: int | None,
    problems: Problems,
) -> None:
    if not _check_finite(t, a, split, problems):
        return
    per = math.prod(a.shape[1:])
    per_step = 1 if not t.timed else steps  # None: a sequence output whose length is unknown here
    if t.kind == CLASSES:
        if (layout.strict or t.fixed) and per_step is not None and per != per_step * t.ids_per_step:
            problems.add(*_class_shape_problem(t, a, split, per, per_step))
            return
        if not _whole(t, a, split, problems):
            return
        _check_range(t, a, declared, problems)
    elif t.kind == BITS:
        ids = a.dtype.kind in "biu" and t.units == 1
        if layout.strict and per_step is not None and per != per_step * t.features:
            problems.add(*_value_shape_problem(t, a, split, per, per_step, steps))
            return
        if ids and _check_range(t, a, declared, problems):
            return
        low, high = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
        if low < 0 or high > 1:
            bad = low if low < 0 else high
            example = int(np.argmax(((a < 0) | (a > 1)).reshape(len(a), -1).any(axis=1)))
            problems.add(
                t.loc,
                t.path,
                f"`{t.group}` trains with binary cross-entropy, which reads targets between 0 and 1, but the "
                f"targets in {split} hold {bad:g} (first at example {example})",
                f"scale the targets to [0, 1]; for class ids 0..k-1 give `{t.group}` k units with "
                "`activation: softmax` (cross-entropy); for other values use `loss: mse`",
            )
    elif t.kind == VALUES:
        if (layout.strict or t.fixed) and per_step is not None and per != per_step * t.features:
            problems.add(*_value_shape_problem(t, a, split, per, per_step, steps))
    elif t.kind == LABELS:
        _check_range(t, a, declared, problems)


def _whole(t: Target, a: np.ndarray, split: str, problems: Problems) -> bool:
    """Class ids are whole numbers; a float array of whole numbers is accepted (and cast)."""
    if a.dtype.kind != "f" or a.size == 0:
        return True
    frac = a != np.round(a)
    if not frac.any():
        return True
    example = int(np.argmax(frac.reshape(len(a), -1).any(axis=1)))
    value = a.reshape(len(a), -1)[example][np.argmax(frac.reshape(len(a), -1)[example])]
    problems.add(
        t.loc,
        t.path,
        f"`{t.group}` trains with {t.loss}, which reads class ids 0, 1, 2, ..., but the targets in {split} hold "
        f"{value:g} (first at example {example}), not a whole number",
        f"give class ids 0 to {max(t.units, 2) - 1}, or fit the values with `loss: mse` on `{t.group}` "
        "(and a linear activation)",
    )
    return False


def _check_range(t: Target, a: np.ndarray, declared: int | None, problems: Problems) -> bool:
    """Class ids within the output's units (:func:`~cellgraph.data.dataset.label_problem`); True on a problem."""
    ids = a.astype(np.int64) if a.dtype.kind == "f" else a
    problem = label_problem([ids], t.units, declared, t.group, t.loc, t.path)
    if problem is None:
        return False
    problems.extend([problem])
    return True


def _class_shape_problem(t: Target, a: np.ndarray, split: str, per: int, per_step: int) -> tuple[Any, ...]:
    step = " per time step" if t.timed else ""
    expected = per_step * t.ids_per_step
    one_hot = (
        per == per_step * t.features
        and t.units > 1
        and a.size > 0
        and bool(np.isin(a, (0, 1)).all())
        and bool((a.reshape(*a.shape[:-1], -1).sum(axis=-1) == 1).all())
    )
    if one_hot:
        return (
            t.loc,
            t.path,
            f"the targets of `{t.group}` in {split} are one-hot rows {_shape(a)}, but {t.loss} reads one class id "
            f"per example{step}",
            "give the class ids instead: `y.argmax(axis=-1)`",
        )
    axes = ["examples", *(["steps"] if t.timed else []), *(str(d) for d in t.shape[:-1])]
    shape = "(" + ", ".join(axes) + ("," if len(axes) == 1 else "") + ")"
    if expected > 1 and not t.timed:
        shape += f" ({expected} target columns in a table, one per position)"
    refit = (
        f"set `size: {per}` and `loss: mse` on `{t.group}`"
        if len(t.shape) == 1
        else f"give `{t.group}` a shape of {per} values and `loss: mse`"
    )
    return (
        t.size_loc,
        t.size_path,
        f"`{t.group}` trains with {t.loss}, which reads {expected} class id{'s' if expected != 1 else ''} per "
        f"example{step and ' (one per step)'}, but the targets in {split} hold {per} per example (shape {_shape(a)})",
        f"give class ids shaped {shape}; to fit {per} values per example instead, {refit}",
    )


def _value_shape_problem(
    t: Target, a: np.ndarray, split: str, per: int, per_step: int, steps: int | None
) -> tuple[Any, ...]:
    expected = per_step * t.features
    units = f"{t.features} unit{'s' if t.features != 1 else ''} ({t.shape_text()})"
    if t.timed and per == t.features and per_step > 1:
        return (
            t.loc,
            t.path,
            f"`{t.group}` gives a value per time step ({per_step} steps of {units}), but the targets in {split} hold "
            f"one per example (shape {_shape(a)})",
            "give targets per step (examples, steps, units), or let the recurrent group feeding "
            f"`{t.group}` pass on only its last step (`emit: last`)",
        )
    if not t.timed and steps is not None and steps > 1 and per == steps * t.features:
        return (
            t.loc,
            t.path,
            f"`{t.group}` gives one value per sequence ({units}), but the targets in {split} hold one per time step "
            f"(shape {_shape(a)})",
            f"give one target per example (examples, {t.features}), or let `{t.group}` see every step "
            "(remove `emit: last` from the recurrent group feeding it)",
        )
    if a.dtype.kind in "biu" and per == per_step and t.features > 1:
        return (
            t.size_loc,
            t.size_path,
            f"`{t.group}` has {units} and {t.loss} compares each with a target, but the targets in {split} are one "
            f"class id per example (shape {_shape(a)})",
            f"for classes, set `activation: softmax` on `{t.group}` (cross-entropy reads class ids); "
            "for one value per example, set `size: 1`",
        )
    if len(t.shape) > 1:  # a grid (a mask, an image): its cells are the values, in row-major order
        columns = "" if t.timed else f" (from a table: {expected} target columns, one per cell in row-major order)"
        return (
            t.size_loc,
            t.size_path,
            f"`{t.group}` has {t.features} cells ({t.shape_text()}){' per time step' if t.timed else ''} and "
            f"{t.loss} compares each with a target, but the targets in {split} hold {per} values per example "
            f"(shape {_shape(a)})",
            f"give {expected} target values per example{columns}, or change `shape:` on `{t.group}` to hold {per}",
        )
    columns = f" (from a table: {expected} target columns)" if expected > 1 and not t.timed else ""
    return (
        t.size_loc,
        t.size_path,
        f"`{t.group}` has {units}{' per time step' if t.timed else ''} and {t.loss} compares each with a target, "
        f"but the targets in {split} hold {per} values per example (shape {_shape(a)})",
        f"set `size: {per // per_step if per % per_step == 0 else per}` on `{t.group}`, or give {expected} target "
        f"values per example{columns}",
    )
