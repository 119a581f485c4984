r"""Structural checks of a spec document: the keys it may have and the kinds of their values.

These checks know the format but no cell type, rule or data set; they collect every problem
into a :class:`~cellgraph.errors.Problems` rather than stopping at the first.

Names and text are bounded and printable, because they travel far: a spec's name becomes a run
folder's name, titles land in terminals, Markdown, DOT and SVG. A name is ASCII matched to its
end (``\Z``, not ``$``, which also matches before a final newline) and at most
:data:`NAME_MAX` characters; a title (and ``draw.caption``) is one line of at most
:data:`TITLE_MAX` characters; a description at most :data:`DESCRIPTION_MAX`, where newlines and
tabs are allowed. None may hold a control character (C0, C1, DEL), a line or paragraph separator
(U+2028/2029) or a bidirectional control (U+202E, ...): see :func:`text_problem`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ..errors import BIDI_CONTROLS, Problems, clip, did_you_mean, is_unsafe_char, terminal_safe
from .load import Document, KeyPath, format_path

FORMAT_VERSION: Final = 1
# `search:` is read by `cellgraph search` (cellgraph/search/space.py), which checks its contents
TOP_KEYS: Final = (
    "cellgraph",
    "name",
    "title",
    "description",
    "params",
    "cells",
    "edges",
    "train",
    "data",
    "draw",
    "search",
)
REQUIRED_KEYS: Final = ("cellgraph", "name", "cells", "edges")
# keys of a cell group that shape the graph rather than configure the cell
STRUCTURAL_CELL_KEYS: Final = ("type", "repeat", "residual", "use", "params", "bind", "chain", "style", "share")
SPEC_NAME: Final = re.compile(r"^[a-z][a-z0-9_-]*\Z")
CELL_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
NAME_MAX: Final = 64  # a spec's or a group's name: it names files, folders and DOT nodes
TITLE_MAX: Final = 200  # one line under a drawing; Graphviz fails on labels over ~16 KB
DESCRIPTION_MAX: Final = 4000  # a paragraph with its citations (the zoo's longest is ~600)
QUOTE_MAX: Final = 60  # characters of a user's string quoted back in a message

TEXT_FIX: Final = {
    "title": f"write the title as one line of at most {TITLE_MAX} printable characters, e.g. `title: Deep Feed Forward (DFF)`",
    "description": f"write at most {DESCRIPTION_MAX:,} characters of printable text (newlines and tabs are fine)",
    "caption": f"write the caption as one line of at most {TITLE_MAX} printable characters",
}

MSG_SKELETON: Final = (
    "a spec is a mapping: `cellgraph: 1`, `name: ...`, `cells: {x: {type: input, size: 2}, ...}`, `edges: [x -> y]`"
)


def kind_of(value: Any) -> str:
    """A user-facing word for a value's YAML kind."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    words: dict[type, str] = {dict: "a mapping", list: "a list", str: f"the string '{_shorten(value)}'"}
    return words.get(type(value), f"the number {value}" if isinstance(value, int | float) else type(value).__name__)


def _shorten(value: Any) -> str:
    return clip(str(value), QUOTE_MAX, "…")


def text_problem(text: str, limit: int, *, multiline: bool = False) -> str | None:
    r"""Why ``text`` cannot be a title, caption or description, or None when it can.

    ``multiline`` allows newlines and tabs (a description); any other control character, a
    line separator or a bidirectional control is refused wherever it is, as is text longer
    than ``limit`` characters.

    >>> print(text_problem("Tiny\x1b[31m net", TITLE_MAX))
    character 5 is the control character \x1b; only printable text is allowed
    """
    if len(text) > limit:  # first: scanning a megabyte character by character takes seconds
        return f"{len(text):,} characters, over the limit of {limit:,}"
    for i, ch in enumerate(text):
        if is_unsafe_char(ch) and not (multiline and ch in "\n\t"):
            what = (
                "a line break"
                if ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
                else "the bidirectional control"
                if ch in BIDI_CONTROLS
                else "the control character"
            )
            return f"character {i + 1} is {what} {terminal_safe(ch)}; only printable text is allowed"
    return None


MAX_UNKNOWN_KEYS: Final = 20
"""Unknown keys reported one by one in a mapping; the rest are counted in one more problem."""


def check_keys(
    doc: Document,
    mapping: dict[str, Any],
    path: KeyPath,
    allowed: tuple[str, ...] | list[str],
    problems: Problems,
    what: str,
) -> None:
    """Report every key of ``mapping`` that is not in ``allowed``, with a suggestion.

    At most :data:`MAX_UNKNOWN_KEYS` are reported (each suggestion costs a fuzzy match, and a
    mapping of thousands of unknown keys is no spec to fix key by key).
    """
    unknown = [key for key in mapping if key not in allowed]
    for key in unknown[:MAX_UNKNOWN_KEYS]:
        kpath = (*path, key)
        problems.add(
            doc.key_loc(kpath),
            format_path(kpath),
            f"unknown key '{key}' in {what}{did_you_mean(key, allowed)}",
            "valid keys: " + ", ".join(allowed),
        )
    if len(unknown) > MAX_UNKNOWN_KEYS:
        kpath = (*path, unknown[MAX_UNKNOWN_KEYS])
        problems.add(
            doc.key_loc(kpath),
            format_path(kpath),
            f"and {len(unknown) - MAX_UNKNOWN_KEYS:,} more unknown keys in {what}",
            "valid keys: " + ", ".join(allowed),
        )


def check_top(doc: Document, problems: Problems) -> bool:
    """Check the document's top level; False when it is too broken to go on."""
    data = doc.data
    if not isinstance(data, dict):
        # the kind only, never the value: the file may be no spec at all (a key, a `.env`)
        kind = "a list" if isinstance(data, list) else "empty" if data is None else "a single value (plain text)"
        problems.add(doc.loc(()), "", f"the document is {kind}, not a mapping", MSG_SKELETON)
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
        elif len(name) > NAME_MAX:
            problems.add(
                doc.loc(("name",)),
                "name",
                f"the name has {len(name):,} characters, over the limit of {NAME_MAX}",
                f"use a shorter name (at most {NAME_MAX} characters): it names run folders and files",
            )
        elif ("name",) in doc.yaml11:
            problems.add(doc.loc(("name",)), "name", doc.yaml11[("name",)], f"quote it: `name: '{name}'`")
    for key, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX)):
        if key not in data:
            continue
        if not isinstance(data[key], str):
            problems.add(doc.loc((key,)), key, f"expected text, got {kind_of(data[key])}", f"quote the {key}")
            continue
        problem = text_problem(data[key], limit, multiline=key == "description")
        if problem:
            problems.add(doc.loc((key,)), key, problem, TEXT_FIX[key])
    for key in ("train", "data", "draw"):
        if key in data and not isinstance(data[key], dict):
            problems.add(
                doc.loc((key,)),
                key,
                f"expected a mapping, got {kind_of(data[key])}",
                f"write `{key}:` followed by indented `key: value` lines",
            )
    cells = data.get("cells")
    for group in cells if isinstance(cells, dict) else ():
        if isinstance(group, str) and len(group) > NAME_MAX:
            problems.add(
                doc.key_loc(("cells", group)),
                format_path(("cells", _shorten(group))),
                f"the group name has {len(group):,} characters, over the limit of {NAME_MAX}",
                f"use a shorter name (at most {NAME_MAX} characters)",
            )
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
