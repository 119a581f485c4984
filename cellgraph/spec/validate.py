"""Structural checks of a spec document: the keys it may have and the kinds of their values.

These checks know the format but no cell type, rule or data set; they collect every problem
into a :class:`~cellgraph.errors.Problems` rather than stopping at the first.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ..errors import Problems, did_you_mean
from .load import Document, KeyPath, format_path

FORMAT_VERSION: Final = 1
TOP_KEYS: Final = ("cellgraph", "name", "title", "description", "params", "cells", "edges", "train", "data", "draw")
REQUIRED_KEYS: Final = ("cellgraph", "name", "cells", "edges")
# keys of a cell group that shape the graph rather than configure the cell
STRUCTURAL_CELL_KEYS: Final = ("type", "repeat", "residual", "use", "params", "bind", "style")
SPEC_NAME: Final = re.compile(r"^[a-z][a-z0-9_-]*$")
CELL_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MSG_SKELETON: Final = (
    "a spec is a mapping: `cellgraph: 1`, `name: ...`, `cells: {x: {type: input, size: 2}, ...}`, `edges: [x -> y]`"
)


def kind_of(value: Any) -> str:
    """A user-facing word for a value's YAML kind."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return {dict: "a mapping", list: "a list", str: f"the string '{value}'"}.get(
        type(value), f"the number {value}" if isinstance(value, int | float) else type(value).__name__
    )


def check_keys(
    doc: Document,
    mapping: dict[str, Any],
    path: KeyPath,
    allowed: tuple[str, ...] | list[str],
    problems: Problems,
    what: str,
) -> None:
    """Report every key of ``mapping`` that is not in ``allowed``, with a suggestion."""
    for key in mapping:
        if key not in allowed:
            kpath = (*path, key)
            problems.add(
                doc.key_loc(kpath),
                format_path(kpath),
                f"unknown key '{key}' in {what}{did_you_mean(key, allowed)}",
                "valid keys: " + ", ".join(allowed),
            )


def check_top(doc: Document, problems: Problems) -> bool:
    """Check the document's top level; False when it is too broken to go on."""
    data = doc.data
    if not isinstance(data, dict):
        problems.add(doc.loc(()), "", f"the document is {kind_of(data)}, not a mapping", MSG_SKELETON)
        return False
    check_keys(doc, data, (), TOP_KEYS, problems, "the spec")
    for key in REQUIRED_KEYS:
        if key not in data:
            problems.add(
                doc.loc(()),
                key,
                f"missing required key '{key}'",
                {
                    "cellgraph": "start the file with `cellgraph: 1` (the format version)",
                    "name": "add `name: my_network` (lower case, digits, _ and -)",
                    "cells": "add `cells:` with at least one group, e.g. `x: {type: input, size: 2}`",
                    "edges": "add `edges:` with statements like `- x -> y` (or `edges: []`)",
                }[key],
            )
    version = data.get("cellgraph")
    if "cellgraph" in data and (not isinstance(version, int) or isinstance(version, bool) or version != FORMAT_VERSION):
        problems.add(
            doc.loc(("cellgraph",)),
            "cellgraph",
            f"unsupported format version {version!r}; this cellgraph reads version {FORMAT_VERSION}",
            f"write `cellgraph: {FORMAT_VERSION}`",
        )
    name = data.get("name")
    if "name" in data:
        if not isinstance(name, str) or not SPEC_NAME.match(name):
            problems.add(
                doc.loc(("name",)),
                "name",
                f"{kind_of(name)} is not a valid network name",
                "use lower case letters, digits, _ and -, starting with a letter, e.g. `name: mushroom_dff`",
            )
        elif ("name",) in doc.yaml11:
            problems.add(doc.loc(("name",)), "name", doc.yaml11[("name",)], f"quote it: `name: '{name}'`")
    for key in ("title", "description"):
        if key in data and not isinstance(data[key], str):
            problems.add(doc.loc((key,)), key, f"expected text, got {kind_of(data[key])}", f"quote the {key}")
    for key in ("train", "data", "draw"):
        if key in data and not isinstance(data[key], dict):
            problems.add(
                doc.loc((key,)),
                key,
                f"expected a mapping, got {kind_of(data[key])}",
                f"write `{key}:` followed by indented `key: value` lines",
            )
    cells = data.get("cells")
    if "cells" in data and (not isinstance(cells, dict) or not cells):
        problems.add(
            doc.loc(("cells",)),
            "cells",
            f"expected a mapping of group names to groups, got {kind_of(cells)}",
            "write `cells:` then one line per group, e.g. `  x: {type: input, size: 2}`",
        )
    edges = data.get("edges")
    if "edges" in data and not isinstance(edges, list):
        problems.add(
            doc.loc(("edges",)),
            "edges",
            f"expected a list of edge statements, got {kind_of(edges)}",
            "write `edges:` then lines like `  - x -> h -> y` (or `edges: []`)",
        )
    return isinstance(cells, dict)


def check_positive_int(
    doc: Document, value: Any, path: KeyPath, problems: Problems, limit: int, what: str
) -> int | None:
    """Validate a structural count (``repeat``, ``residual``); returns it or None."""
    if path in doc.yaml11 and isinstance(value, int):
        problems.add(
            doc.loc(path), format_path(path), doc.yaml11[path], f"write the number without a leading zero: {value}"
        )
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems.add(
            doc.loc(path), format_path(path), f"expected a positive integer, got {kind_of(value)}", f"set {what}"
        )
        return None
    if value > limit:
        problems.add(
            doc.loc(path),
            format_path(path),
            f"{value:,} is over the limit of {limit:,}",
            "use a smaller count (limits are set with cellgraph's Limits)",
        )
        return None
    return value
