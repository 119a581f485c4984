"""A spec's `data:` block naming the user's own arrays: an ``.npz`` file, or a CSV file with columns per group.

Two forms beside the built-in sources and the one-target CSV (``csv:`` + ``target:``)::

    data: {npz: wide_deep.npz}                        # arrays named after the groups
    data:
      csv: houses.csv
      inputs: {wide: [rooms, area], deep: [lat, lon, age]}   # column sets per input group
      targets: {price_band: band, price: price}              # a column per output group
      split: {test: 0.2, seed: 0}

A target may be a list of columns (``targets: {mask: [m_0, m_1, m_2, m_3]}``): numbers, one per
cell of the output group (a segmentation mask, a multi-output regression), in row-major order.

``inputs:`` may be left out when the network has one input group (it reads every column that is
not a target); ``target: column`` is the one-output shorthand. For an ``.npz`` file ``inputs:`` and
``targets:`` rename: ``{group: array name}``. The checks here are JAX- and NumPy-free (validation
runs them); :func:`check_own_block` is what the graph layer's ``check_data`` calls first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..access import data_file_refusal
from ..errors import did_you_mean, known_list
from ..options import Nullable, Option, OptionKind, Text, check_options, word
from .catalog import SOURCES, SPLIT_OPTIONS

Report = Callable[[tuple[str | int, ...], str, str], None]
"""``report(key path inside data:, message, fix)``: how a caller collects a block's problems."""


@dataclass(frozen=True)
class GroupColumns(OptionKind):
    """``{group: column}``, or with ``sets`` ``{group: [column, ...]}`` (a single name is one column)."""

    sets: bool = False

    def check(self, value: Any) -> str | None:
        if not isinstance(value, dict) or not value:
            return f"expected {self.describe()}, got {word(value)}"
        for group, names in value.items():
            if not isinstance(group, str) or not group:
                return f"expected group names as keys, got {word(group)}"
            listed = names if self.sets and isinstance(names, list) else [names]
            if not listed or not all(isinstance(n, str) and n for n in listed):
                return f"`{group}`: expected {'a column name or a list of them' if self.sets else 'a name'}, got {word(names)}"
            if len(set(listed)) != len(listed):
                return f"`{group}`: a column is named twice"
        return None

    def describe(self) -> str:
        return "{group: [column, ...]}" if self.sets else "{group: name}"

    def schema(self) -> dict[str, Any]:
        names: dict[str, Any] = {"type": "string"}
        if self.sets:
            names = {"anyOf": [names, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
        return {"type": "object", "additionalProperties": names}


NPZ_OPTIONS: Final[dict[str, Option]] = {
    "npz": Option(Text(), None, "an .npz file of arrays named after the groups, relative to the spec"),
    "inputs": Option(Nullable(GroupColumns()), None, "array names of input groups whose arrays are named otherwise"),
    "targets": Option(Nullable(GroupColumns()), None, "array names of the outputs' targets, when named otherwise"),
}
"""The keys of ``data: {npz: ...}`` (beside ``split:``)."""

OWN_CSV_OPTIONS: Final[dict[str, Option]] = {
    "csv": Option(Text(), None, "the CSV file, relative to the spec"),
    "inputs": Option(
        Nullable(GroupColumns(sets=True)),
        None,
        "the columns each input group reads (default, with one input group: every column that is no target)",
    ),
    "targets": Option(
        Nullable(GroupColumns(sets=True)),
        None,
        "the column each output group is trained on, or a list of numeric columns: one per cell of the group",
    ),
    **{k: o for k, o in SOURCES["csv"].options.items() if k not in ("path", "task")},
}
"""The keys of ``data: {csv: ..., inputs: ..., targets: ...}`` (beside ``split:``)."""

OWN_BLOCK_OPTIONS: Final[dict[str, Option]] = {**NPZ_OPTIONS, **OWN_CSV_OPTIONS}
"""Every key the two forms take: what a JSON Schema of the `data:` block adds to the sources' options."""


def is_own_block(block: Mapping[str, Any]) -> bool:
    """An ``npz:`` block, or a ``csv:`` block with ``inputs:`` or ``targets:`` (not the one-target form)."""
    return "npz" in block or ("csv" in block and ("inputs" in block or "targets" in block))


def check_own_block(
    block: Mapping[str, Any],
    report: Report,
    *,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    folder: Path | None = None,
    allow: Sequence[str | Path] = (),
) -> bool:
    """Check a `data:` block of the two forms above; False (nothing reported) for any other block.

    Args:
        block: the spec's ``data:`` mapping.
        report: gets each problem with its key path inside ``data:`` (``("inputs", "wide")``).
        inputs, outputs: the spec's input and output group names, when known: a key of
            ``inputs:``/``targets:`` must name one.
        folder: the spec's folder; the file must lie inside the spec's project (or ``allow``).

    The graph layer calls it first in its ``check_data`` and, when it returns True, skips the
    checks of built-in sources.
    """
    if not is_own_block(block):
        return False
    npz = "npz" in block
    options = NPZ_OPTIONS if npz else OWN_CSV_OPTIONS
    if npz and "csv" in block:
        report(("csv",), "give `npz:` or `csv:`, not both", "keep the one file the network trains on")
    if "source" in block:
        report(("source",), "`source:` names a built-in data set; this block reads the user's file", "remove `source:`")
    values = {k: v for k, v in block.items() if k not in ("split", "source") and not (npz and k == "csv")}
    check_options(values, options, lambda key, m, f: report((key,), m, f), "npz data" if npz else "CSV data")
    if not npz and "target" in block and "targets" in block:
        report(("target",), "give `target:` (one output) or `targets:` (per output group), not both", "keep `targets:`")
    for key, known in (("inputs", inputs), ("targets", outputs)):
        named = block.get(key)
        if known is None or not isinstance(named, dict):
            continue
        for group in named:
            if group not in known:
                role = "input" if key == "inputs" else "output"
                report(
                    (key, str(group)),
                    f"no {role} group '{group}' in the spec{did_you_mean(str(group), known)}",
                    f"{role} groups: {known_list(known) or 'none'}",
                )
    _check_split(block.get("split"), report)
    file_key = "npz" if npz else "csv"
    path = block.get(file_key)
    if isinstance(path, str) and path and folder is not None:
        refusal = data_file_refusal(folder, path, allow)
        if refusal is not None:  # outside the spec's project, or not a regular file: never opened
            report((file_key,), f"{'npz' if npz else 'CSV'} file {refusal[0]}", refusal[1])
    return True


def _check_split(split: Any, report: Report) -> None:
    if split is None:
        return
    if not isinstance(split, dict):
        report(("split",), "expected a mapping", "e.g. `split: {test: 0.3, seed: 0}`")
        return
    check_options(split, SPLIT_OPTIONS, lambda key, m, f: report(("split", key), m, f), "data.split")


def block_problems(block: Mapping[str, Any], **known: Any) -> list[tuple[tuple[str | int, ...], str, str]]:
    """The problems :func:`check_own_block` reports, as a list (for callers without a collector)."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    check_own_block(block, lambda key, message, fix: found.append((key, message, fix)), **known)
    return found
