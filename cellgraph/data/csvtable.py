"""The user's CSV file as numbers: decoding, missing values, column kinds, one-hot and labels.

A CSV file is the one input a spec names that cellgraph did not write, so nothing in it is
guessed silently. Every problem is a :class:`~cellgraph.errors.SpecError` at the file, the row as
a spreadsheet numbers it (the header is row 1) and the column by name, with the option that fixes
it. A message quotes at most the one offending cell, cut to 40 characters and escaped, so an
error about a file never prints the file.

Rules, chosen the way careful tools do (pandas' default NA markers, R's ``read.csv``, a database
loader's strict mode):

- Decoding: ``encoding:`` (default UTF-8); a UTF-8 byte-order mark is dropped; a byte that does
  not decode is an error naming its row and suggesting ``encoding: latin-1``.
- Missing values: an empty cell and the usual markers (``NA``, ``N/A``, ``NaN``, ``null``, ...)
  in any column, and ``?`` in a numeric column or the label column. In a text column ``?`` is a
  category of its own: the UCI convention, kept for the mushroom file's ``stalk-root``. A missing
  value is an error unless ``missing:`` says what to do: ``drop`` (leave the row out), ``mean``
  (numbers get the column's mean, text its most frequent value), ``mode`` (the most frequent
  value) or ``{column: value}``. ``mean`` and ``mode`` never invent a label.
- Column kinds: a column whose values are all numbers is numeric; one where most are numbers and
  a few are not is an error at the first one (a typo, not a reason to one-hot the column); the
  rest is text, one-hot encoded up to ``max_categories`` distinct values (an ID or free-text
  column would add a column per row).
- Labels: text labels are class ids in sorted order; whole-number labels are the class ids
  themselves (0, 1, 2, ...: the output unit of each class), so a negative label is an error and
  a label of 3 needs an output of 4 units (:func:`cellgraph.data.dataset.check_labels_fit`).
  Non-integer numbers mean regression, and an error under ``task: classification``.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..errors import SourceLoc, did_you_mean, known_list, spec_error
from .catalog import text_codec

MISSING_MARKERS: Final = frozenset(
    {"", "NA", "N/A", "n/a", "#N/A", "<NA>", "NaN", "nan", "-nan", "NULL", "null", "None"}
)
"""Cells that mean "no value" in every column (a subset of pandas' default ``na_values``)."""

UNKNOWN: Final = "?"
"""Missing in a numeric or label column; a category of its own in a text column (UCI files)."""

MAX_CATEGORIES: Final = 100  # one-hot columns one text column may add, unless `max_categories:` says
MAX_CLASSES: Final = 100_000  # the largest class id + 1 a label column may ask for
CELL_CHARS: Final = 40  # the most of one cell an error message quotes
_FIX_MISSING: Final = (
    "fill the cell in, or set `missing: drop` (leave such rows out), `missing: mean` (numbers get the "
    "column's mean, text its most frequent value), `missing: mode` or `missing: {{{column}: value}}`"
)


def show(text: str, limit: int = CELL_CHARS) -> str:
    r"""A cell or column name as a message quotes it: cut to ``limit`` characters, escaped like repr.

    >>> print(show("caf\x1b[2Jé"))
    'caf\x1b[2Jé'
    """
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(cut)


@dataclass(frozen=True)
class CsvText:
    """A decoded CSV file: header, rows of stripped cells, and where each row starts in the file."""

    file: str
    header: list[str]
    rows: list[list[str]]
    row_lines: list[int]  # the file line each row starts on, from 1 (the header is line 1 when first)
    header_line: int = 1
    text: str = field(default="", repr=False)  # the decoded file, to find a cell's column on error

    def loc(self, row: int | None, col: int = 0) -> SourceLoc:
        """Where row ``row`` (an index into ``rows``; None: the header), field ``col`` starts."""
        line = self.header_line if row is None else self.row_lines[row]
        return SourceLoc(self.file, line, self._char_col(line, col))

    def _char_col(self, line: int, col: int) -> int:
        """The character column of field ``col`` on ``line``, or 1 where quoting makes it unclear."""
        lines = io.StringIO(self.text, newline="").readlines()
        raw = lines[line - 1] if 0 < line <= len(lines) else ""
        if '"' in raw or col <= 0:
            return 1
        return 1 + sum(len(f) + 1 for f in raw.split(",")[:col])

    def where(self, row: int | None, col: int = 0) -> str:
        """``row 5, column 'weight'``: the spreadsheet's words for a cell."""
        line = self.header_line if row is None else self.row_lines[row]
        return f"row {line}, column {show(self.header[col])}"


@dataclass(frozen=True)
class Table:
    """A CSV file encoded as numbers: features, labels and the names of both."""

    x: np.ndarray  # (n, features) float32
    y: np.ndarray  # (n,) int32 class ids, or (n, 1) float32 for regression
    task: str
    feature_names: tuple[str, ...]
    label_names: tuple[str, ...] | None  # class id -> the value in the file
    dropped: int = 0  # rows left out by `missing: drop`


# ------------------------------------------------------------------------------------------ reading


def decode(data: bytes, encoding: str, file: str) -> str:
    """The file's text: a UTF-8 BOM dropped, a bad byte reported at its row with the fix."""
    codec = text_codec(encoding)
    if codec is None:
        raise spec_error(
            SourceLoc(file),
            "data.encoding",
            f"unknown text encoding {show(encoding)}",
            "name the file's encoding, e.g. `encoding: utf-8`, `latin-1`, `cp1252` or `utf-16`",
        )
    try:
        text = data.decode("utf-8-sig" if codec.name == "utf-8" else codec.name)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise spec_error(
            SourceLoc(file, line, col),
            "data.encoding",
            f"byte 0x{data[e.start]:02x} on row {line} is not valid {codec.name} ({e.reason})",
            "save the file as UTF-8, or name its encoding: `encoding: latin-1` "
            "(`cp1252` for files from Windows, `utf-16` for some spreadsheet exports)",
        ) from None
    except UnicodeError:  # codecs such as idna fail without a position
        raise spec_error(
            SourceLoc(file),
            "data.encoding",
            f"the file is not valid {codec.name}",
            "save the file as UTF-8, or name its encoding, e.g. `encoding: latin-1`",
        ) from None
    return text.removeprefix("\ufeff")  # other codecs keep a BOM as text


def read_csv(path: Path, encoding: str = "utf-8") -> CsvText:
    """Header and rows of a CSV file; every row must have as many fields as the header."""
    file = str(path)
    text = decode(path.read_bytes(), encoding, file)
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            cells = [v.strip() for v in row]
            if any(cells):  # blank lines (and all-empty rows such as ",,") carry nothing
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as e:
        raise spec_error(
            SourceLoc(file, reader.line_num or 1, 1),
            "",
            f"not a readable CSV file: {e}",
            "check the quoting of this row (a field that starts with a quote must end with one)",
        ) from None
    if not records:
        raise spec_error(SourceLoc(file), "", "the CSV file is empty", "give a header line and data rows")
    (header_line, header), body = records[0], records[1:]
    table = CsvText(file, header, [r for _, r in body], [line for line, _ in body], header_line, text)
    for i, row in enumerate(table.rows):
        if len(row) != len(header):
            raise spec_error(
                table.loc(i, 0),
                "",
                f"row has {len(row)} fields, the header has {len(header)}",
                "give every row one value per header column",
            )
    _check_header(table)
    if not body:
        raise spec_error(SourceLoc(file), "", "the CSV file has a header but no data rows", "add data rows")
    return table


def _check_header(table: CsvText) -> None:
    seen: dict[str, int] = {}
    for j, name in enumerate(table.header):
        if not name:
            raise spec_error(
                table.loc(None, j),
                "",
                f"column {j + 1} has no name in the header",
                "name every column on the first line (or remove a trailing comma)",
            )
        if name in seen:
            raise spec_error(
                table.loc(None, j),
                "",
                f"column {show(name)} appears twice in the header (columns {seen[name] + 1} and {j + 1})",
                "give every column its own name",
            )
        seen[name] = j


# ------------------------------------------------------------------------------------- encoding


def is_number(text: str) -> bool:
    """A finite number as Python writes one (``3``, ``-0.5``, ``1e-3``)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


@dataclass
class _Column:
    """One column's cells and what they are: numeric or text, and which cells are missing."""

    j: int
    name: str
    values: list[str]
    numeric: bool
    missing: list[int]  # row indices


def _classify(table: CsvText, j: int, label: bool) -> _Column:
    """Numeric or text, and the missing cells: a numeric column with a stray word is an error."""
    values = [row[j] for row in table.rows]
    counts = Counter(values)  # parse each distinct value once: a text column repeats its few values
    present = {v: c for v, c in counts.items() if v not in MISSING_MARKERS and v != UNKNOWN}
    number = {v: is_number(v) for v in present}
    total = sum(present.values())
    numbers = sum(c for v, c in present.items() if number[v])
    numeric = total > 0 and 2 * numbers > total
    if numeric and numbers < total:
        i, bad = next((i, v) for i, v in enumerate(values) if v in present and not number[v])
        raise spec_error(
            table.loc(i, j),
            "",
            f"{table.where(i, j)}: {show(bad)} is not a finite number, but {numbers} of the column's "
            f"{total} values are",
            "correct the cell; write a missing value as an empty cell or NA (and see `missing:`)",
        )
    gaps = MISSING_MARKERS | {UNKNOWN} if numeric or label else MISSING_MARKERS
    missing = [i for i, v in enumerate(values) if v in gaps] if any(v in gaps for v in counts) else []
    return _Column(j, table.header[j], values, numeric, missing)


def _missing_error(table: CsvText, col: _Column, i: int, total: int, label: bool, fix: str = "") -> Exception:
    cell = col.values[i]
    what = "an empty cell" if cell == "" else show(cell)
    more = f" ({total} missing cells in all)" if total > 1 else ""
    kind = "label" if label else ("numeric column" if col.numeric else "text column")
    if not fix:
        fix = (
            "give the row its label, or set `missing: drop` to leave unlabelled rows out"
            if label
            else _FIX_MISSING.format(column=col.name)
        )
    return spec_error(
        table.loc(i, col.j), "", f"{table.where(i, col.j)}: {what} is a missing value in a {kind}{more}", fix
    )


def _most_frequent(values: Sequence[str], numeric: bool) -> str:
    """The most frequent value; a tie goes to the smallest, so every run fills alike."""
    counts = Counter(values)
    top = max(counts.values())
    tied = [v for v, c in counts.items() if c == top]
    return min(tied, key=float) if numeric else min(tied)


def _fill_value(table: CsvText, col: _Column, value: Any) -> str:
    """A `missing: {column: value}` value as a cell; a numeric column needs a number."""
    text = str(value)
    if col.numeric and not (isinstance(value, int | float) and not isinstance(value, bool) and is_number(text)):
        raise spec_error(
            SourceLoc(table.file),
            f"data.missing.{col.name}",
            f"column {show(col.name)} holds numbers, so its fill value must be a number, not {show(text)}",
            f"e.g. `missing: {{{col.name}: 0}}`, or `missing: mean`",
        )
    return text


def _handle_missing(
    table: CsvText, cols: list[_Column], target: int | Collection[int], missing: Any
) -> tuple[list[int], int]:
    """Fill the missing cells in place as ``missing`` says; returns (rows kept, rows dropped).

    ``target``: the label column's index, or the indices of several (a label is never filled)."""
    labels = {target} if isinstance(target, int) else set(target)
    if isinstance(missing, Mapping):
        for key in missing:
            if key not in table.header:
                raise spec_error(
                    SourceLoc(table.file),
                    "data.missing",
                    f"no column {show(str(key))} in the CSV header{did_you_mean(str(key), table.header)}",
                    "name columns of the file in `missing: {column: value}`",
                )
    total = sum(len(c.missing) for c in cols)
    n = len(table.rows)
    if not total:
        return list(range(n)), 0
    if missing == "drop":
        gone = sorted({i for c in cols for i in c.missing})
        if len(gone) == n:
            raise spec_error(
                SourceLoc(table.file),
                "data.missing",
                f"`missing: drop` leaves no rows: every row has a missing value ({total} missing cells)",
                "fill the empty cells, or use `missing: mean` or `missing: {column: value}`",
            )
        dropped = set(gone)
        return [i for i in range(n) if i not in dropped], len(gone)
    # every other choice fills; the first cell it cannot fill is the error
    first = sorted((i, c.j) for c in cols for i in c.missing)
    by_j = {c.j: c for c in cols}
    for i, j in first:
        col = by_j[j]
        label = j in labels
        if isinstance(missing, Mapping):
            if col.name not in missing:
                fix = f"add the column: `missing: {{{col.name}: value, ...}}`, or set `missing: drop`"
                raise _missing_error(table, col, i, total, label, fix)
        elif missing not in ("mean", "mode") or label:
            fix = (
                f"`missing: {missing}` fills features only; give the row its label, or set `missing: drop`"
                if label and missing in ("mean", "mode")
                else ""
            )
            raise _missing_error(table, col, i, total, label, fix)
    for col in cols:
        if not col.missing:
            continue
        gaps = set(col.missing)
        present = [v for i, v in enumerate(col.values) if i not in gaps]
        if isinstance(missing, Mapping):
            fill = _fill_value(table, col, missing[col.name])
        elif not present:
            raise spec_error(
                table.loc(col.missing[0], col.j),
                "",
                f"column {show(col.name)} has no values to take the {missing} of",
                f"remove the column, or set `missing: {{{col.name}: value}}`",
            )
        elif missing == "mean" and col.numeric:
            fill = repr(float(np.mean(np.asarray(present, dtype=np.float64))))
        else:
            fill = _most_frequent(present, col.numeric)
        for i in col.missing:
            col.values[i] = fill
    return list(range(n)), 0


def _category_limit(max_categories: int | None, rows: int) -> tuple[int, str]:
    if max_categories is not None:
        return max_categories, f"`max_categories: {max_categories}`"
    if rows >= 40:
        limit = min(MAX_CATEGORIES, rows // 2)
        return limit, f"the default limit of {limit} (at most {MAX_CATEGORIES}, and half the rows)"
    return MAX_CATEGORIES, f"the default limit of {MAX_CATEGORIES}"


def _as_float32_range(table: CsvText, col: _Column, keep: list[int]) -> np.ndarray:
    """A numeric column as float64 values that float32 holds (beyond ~3.4e38 it would be inf)."""
    values = np.asarray([col.values[i] for i in keep], dtype=np.float64)
    big = np.abs(values) > np.finfo(np.float32).max
    if big.any():
        i = keep[int(np.argmax(big))]
        raise spec_error(
            table.loc(i, col.j),
            "",
            f"{table.where(i, col.j)}: {show(col.values[i])} is beyond the float32 range (about ±3.4e38)",
            "rescale the column (e.g. to other units) so every value is a float32",
        )
    return values


def _encode_labels(
    table: CsvText, col: _Column, keep: list[int], task: str | None
) -> tuple[np.ndarray, str, tuple[str, ...] | None]:
    """Labels as targets: class ids (text sorted, whole numbers as they are) or regression values."""
    values = [col.values[i] for i in keep]
    integral = col.numeric and all(float(v).is_integer() for v in values)
    chosen = task or ("regression" if col.numeric and not integral else "classification")
    if chosen == "regression":
        if not col.numeric:
            raise spec_error(
                SourceLoc(table.file),
                "data.target",
                f"column {show(col.name)} holds text, not numbers",
                "use task: classification",
            )
        return _as_float32_range(table, col, keep).astype(np.float32)[:, None], chosen, None
    if not col.numeric:
        keys = sorted(set(values))
        ids = {k: i for i, k in enumerate(keys)}
        return np.asarray([ids[v] for v in values], dtype=np.int32), chosen, tuple(keys)
    for i in keep:
        v = float(col.values[i])
        problem = (
            "is not a whole number"
            if not v.is_integer()
            else "is negative"
            if v < 0
            else f"is over {MAX_CLASSES - 1}"
            if v >= MAX_CLASSES
            else ""
        )
        if problem:
            raise spec_error(
                table.loc(i, col.j),
                "",
                f"{table.where(i, col.j)}: label {show(col.values[i])} {problem}; a class label is the class id "
                "0, 1, 2, ... (the output unit that stands for the class)",
                "number the classes from 0, or set `task: regression` to fit the values as numbers",
            )
    y = np.asarray([int(float(v)) for v in values], dtype=np.int32)
    return y, chosen, tuple(str(k) for k in range(int(y.max()) + 1))


def encode_table(
    table: CsvText,
    target: str,
    *,
    one_hot: bool = True,
    task: str | None = None,
    missing: Any = "error",
    max_categories: int | None = None,
) -> Table:
    """Numbers from text: numeric columns as floats, the rest one-hot (or as category codes).

    Categories are sorted within a column and columns keep the file's order, so the encoding is
    the same on every run and every machine. In a text column every distinct value is its own
    category, '?' too. The label column becomes class ids unless it holds non-integer numbers
    or ``task`` says regression. See the module docstring for missing values and limits.
    """
    header = table.header
    if target not in header:
        listed = "columns: " + known_list([show(h) for h in header]) if len(header) > 1 else "the header has 1 column"
        raise spec_error(
            SourceLoc(table.file),
            "data.target",
            f"no column {show(target)} in the CSV header{did_you_mean(target, header)}",
            listed,
        )
    t = header.index(target)
    cols = [_classify(table, j, j == t) for j in range(len(header))]
    keep, dropped = _handle_missing(table, cols, t, missing)
    x, names = _encode_features(table, [c for c in cols if c.j != t], keep, one_hot, max_categories)
    y, chosen, label_names = _encode_labels(table, cols[t], keep, task)
    return Table(x, y, chosen, names, label_names, dropped)


def _encode_features(
    table: CsvText, cols: list[_Column], keep: list[int], one_hot: bool, max_categories: int | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Feature columns as a float32 matrix (numbers as they are, text one-hot or as codes) and their names."""
    rows = len(keep)
    limit, why = _category_limit(max_categories, rows)
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for col in cols:
        values = [col.values[i] for i in keep]
        if col.numeric:
            blocks.append(_as_float32_range(table, col, keep)[:, None])
            names.append(col.name)
            continue
        cats = sorted(set(values))
        codes = np.searchsorted(np.asarray(cats), np.asarray(values))
        if one_hot:
            if len(cats) > limit:
                raise spec_error(
                    table.loc(None, col.j),
                    "",
                    f"text column {show(col.name)} has {len(cats)} distinct values in {rows} rows, over {why}: "
                    f"one-hot it would add {len(cats)} inputs (an ID, free text, or numbers with typos?)",
                    "remove the column from the file, or raise `max_categories:` if every value is a real category",
                )
            blocks.append(np.eye(len(cats))[codes])
            names.extend(f"{col.name}={c}" for c in cats)
        else:
            blocks.append(codes[:, None].astype(np.float64))
            names.append(col.name)
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((rows, 0))
    return x.astype(np.float32), tuple(names)


@dataclass(frozen=True)
class Columns:
    """A CSV file encoded per group: features of each input group, targets of each output group."""

    x: dict[str, np.ndarray]  # input group -> (n, features) float32
    y: dict[str, np.ndarray]  # output group -> (n,) int32 class ids, (n, 1) float32 values, or (n, k) for k columns
    feature_names: dict[str, tuple[str, ...]]
    label_names: dict[str, tuple[str, ...] | None]
    tasks: dict[str, str]  # output group -> classification | regression
    dropped: int = 0


def target_names(columns: str | Sequence[str]) -> list[str]:
    """The columns of one output group's target: one name, or a list of them."""
    return [columns] if isinstance(columns, str) else [str(c) for c in columns]


def encode_columns(
    table: CsvText,
    inputs: Mapping[str, Sequence[str]],
    targets: Mapping[str, str | Sequence[str]],
    *,
    tasks: Mapping[str, str | None] | None = None,
    one_hot: bool = True,
    missing: Any = "error",
    max_categories: int | None = None,
    key: str = "data",
) -> Columns:
    """Several column sets of one file: each input group's columns and each output group's target.

    The rules of :func:`encode_table` apply column by column; rows are dropped (``missing: drop``)
    for a missing value in any column a group reads, so every group keeps the same rows. Columns
    no group names are not read. ``key`` is where the column sets are written (``data`` in a spec,
    ``columns`` in a call), for the messages.

    A target of one column is read as :func:`encode_table` reads its label (class ids or values,
    as ``tasks`` says); a target of several columns is a value per column, every one a number, as
    a float32 ``(n, k)`` array (a mask's pixels, a multi-output regression): a text column there
    is an error, not a label to encode. Every target column is a label for ``missing:`` (never filled).
    """
    header = table.header
    named = [(f"{key}.inputs.{g}", c) for g, cs in inputs.items() for c in cs]
    named += [(f"{key}.targets.{g}", c) for g, cs in targets.items() for c in target_names(cs)]
    empty = next((g for g, cs in targets.items() if not target_names(cs)), None)
    if empty is not None:
        raise spec_error(
            SourceLoc(table.file),
            f"{key}.targets.{empty}",
            f"the target of `{empty}` lists no columns",
            f"name its column, or a list of numeric columns (one per cell of `{empty}`)",
        )
    seen: dict[str, str] = {}
    for path, column in named:
        if column not in header:
            raise spec_error(
                SourceLoc(table.file),
                path,
                f"no column {show(column)} in the CSV header{did_you_mean(column, header)}",
                "columns: " + known_list([show(h) for h in header]),
            )
        if column in seen:
            raise spec_error(
                SourceLoc(table.file),
                path,
                f"column {show(column)} is read twice (also by {seen[column]})",
                "give each column to one group",
            )
        seen[column] = path
    index = {name: j for j, name in enumerate(header)}
    label_js = {index[c] for cs in targets.values() for c in target_names(cs)}
    used = sorted({index[c] for _, c in named})
    cols = {j: _classify(table, j, j in label_js) for j in used}
    keep, dropped = _handle_missing(table, list(cols.values()), label_js, missing)
    x: dict[str, np.ndarray] = {}
    feature_names: dict[str, tuple[str, ...]] = {}
    for group, columns in inputs.items():
        x[group], feature_names[group] = _encode_features(
            table, [cols[index[c]] for c in columns], keep, one_hot, max_categories
        )
    y: dict[str, np.ndarray] = {}
    label_names: dict[str, tuple[str, ...] | None] = {}
    chosen: dict[str, str] = {}
    for group, columns in targets.items():
        names = target_names(columns)
        if len(names) == 1:
            task = (tasks or {}).get(group)
            y[group], chosen[group], label_names[group] = _encode_labels(table, cols[index[names[0]]], keep, task)
            continue
        target_cols = [cols[index[c]] for c in names]
        one = f"`targets: {{{group}: column}}`" if key == "data" else f"columns={{'{group}': 'column'}}"
        y[group] = _encode_values(table, target_cols, keep, group, f"{key}.targets.{group}", one)
        chosen[group], label_names[group] = "regression", None
    return Columns(x, y, feature_names, label_names, chosen, dropped)


def _encode_values(table: CsvText, cols: list[_Column], keep: list[int], group: str, path: str, one: str) -> np.ndarray:
    """A target of several columns as float32 ``(n, k)``: every column numeric, else a located error
    (``one``: how the caller names a single label column instead, for the fix)."""
    for col in cols:
        # a numeric column's missing cells are dropped, refused or filled with a number by now
        found = None if col.numeric else next((i for i in keep if not is_number(col.values[i])), None)
        if found is None:
            continue
        i, bad = found, col.values[found]
        raise spec_error(
            table.loc(i, col.j),
            path,
            f"{table.where(i, col.j)}: {show(bad)} is not a number, but column {show(col.name)} is one of the "
            f"{len(cols)} target columns of `{group}`, which are read as numbers (a value per cell of the group)",
            f"write the column as numbers (e.g. 0 and 1 for a mask, class ids 0, 1, 2, ...), or train `{group}` "
            f"on one column of labels: {one}",
        )
    return np.stack([_as_float32_range(table, col, keep) for col in cols], axis=1).astype(np.float32)
