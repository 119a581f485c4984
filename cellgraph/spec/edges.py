"""Edge statements: ``a -> b -> c``, ``a, b -> c``, ``a -- b``, ``a => b``, ``a ~> b``.

The grammar is DOT-like and tiny::

    statement := group (OP group)+
    group     := ref ("," ref)*
    ref       := NAME ("." NAME | "." INT)* [ "[" INT [":" INT] "]" ]   # index only in draw lines
    OP        := "->" | "--" | "=>" | "~>"

Every hop joins each reference on its left to each on its right. Errors carry the column of the
offending character, so an editor jumps straight to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

OPERATORS: Final[dict[str, tuple[str | None, int]]] = {
    # operator -> (kind, delay); kind None means "follows from the cell types"
    "->": (None, 0),
    "--": ("symmetric", 0),
    "=>": ("identity", 0),
    "~>": (None, 1),
}
_TOKEN: Final = re.compile(
    r"\s*(?:(?P<op>->|--|=>|~>)|(?P<comma>,)|"
    r"(?P<ref>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+))*)"
    r"(?P<index>\[\s*(?P<i0>-?[0-9]+)\s*(?::\s*(?P<i1>-?[0-9]*)\s*)?\])?)"
)


_MAX_INDEX_DIGITS: Final = 9  # int() of thousands of digits raises ValueError; no group shows 10^9 cells
_MAX_STATEMENT: Final = 10_000  # characters; a statement joins a few groups, not thousands
_SPACE: Final = re.compile(r"\s*")


class StatementError(ValueError):
    """A statement that does not parse; ``offset`` is the 0-based column inside the text."""

    def __init__(self, message: str, offset: int, fix: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.fix = fix


@dataclass(frozen=True)
class Ref:
    """One endpoint as written: a dotted name and, in draw lines, an optional cell index range."""

    name: str
    offset: int
    start: int | None = None  # first cell index (draw lines only); None means the whole group
    stop: int | None = None  # exclusive end of the cell range; None means "to the last cell"


@dataclass(frozen=True)
class Hop:
    """``left OP right``: every ref on the left joined to every ref on the right."""

    left: tuple[Ref, ...]
    op: str
    right: tuple[Ref, ...]
    offset: int


_FIX: Final = "write statements like `x -> h -> y`, `a, b -> c`, `v -- h`, `h1 => h3` or `h ~> h`"


def parse_statement(text: str, *, allow_index: bool = False) -> list[Hop]:
    """Parse one edge statement into hops.

    Args:
        text: the statement, e.g. ``"x -> h1, h2 -> y"``.
        allow_index: accept ``name[i]`` / ``name[i:j]`` (cell-level draw lines).

    Raises:
        StatementError: with the offending column and a fix.

    >>> [(h.left[0].name, h.op, h.right[0].name) for h in parse_statement("a -> b ~> c")]
    [('a', '->', 'b'), ('b', '~>', 'c')]
    """
    if not isinstance(text, str):
        raise StatementError("an edge statement must be a string", 0, _FIX)
    if len(text) > _MAX_STATEMENT:
        raise StatementError(
            f"statement is {len(text):,} characters, over the limit of {_MAX_STATEMENT:,}",
            0,
            "split it into several statements, or use `repeat:` for long chains",
        )
    groups: list[list[Ref]] = [[]]
    ops: list[tuple[str, int]] = []
    pos = 0
    expect_ref = True
    while pos < len(text):
        space = _SPACE.match(text, pos)  # `\s*` always matches
        at = space.end() if space else pos
        if at == len(text):  # only spaces left (one match, not a copy of the rest per token)
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[at : at + 2]
            hint = ""
            if bad in ("<-", "<="):
                hint = "; edges point left to right, swap the two sides"
            elif bad.startswith(">") or bad.startswith("-"):
                hint = "; the operators are -> -- => ~>"
            raise StatementError(f"unexpected '{text[at]}' in edge statement{hint}", at, _FIX)
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        if m.group("op"):
            if expect_ref:
                raise StatementError(f"'{m.group('op')}' needs a cell name before it", start, _FIX)
            ops.append((m.group("op"), start))
            groups.append([])
            expect_ref = True
        elif m.group("comma"):
            if expect_ref:
                raise StatementError("',' needs a cell name before it", start, _FIX)
            expect_ref = True
        else:
            if not expect_ref:
                raise StatementError(f"missing ',' or operator before '{m.group('ref')}'", start, _FIX)
            ref_start, ref_stop = None, None
            if m.group("index"):
                if not allow_index:
                    raise StatementError(
                        "cell indices like `x[0]` are only allowed in `draw.lines`",
                        m.start("index"),
                        "connect whole groups here; pick single cells for drawing under `draw.lines`",
                    )
                if max(len(m.group("i0")), len(m.group("i1") or "")) > _MAX_INDEX_DIGITS:
                    raise StatementError("cell index too large", m.start("index"), _FIX)
                ref_start = int(m.group("i0"))
                ref_stop = ref_start + 1  # `x[i]` is the slice `x[i:i+1]`
                if m.group("i1") is not None:
                    ref_stop = int(m.group("i1")) if m.group("i1") else None  # `x[i:]`: to the end
            groups[-1].append(Ref(m.group("ref"), start, ref_start, ref_stop))
            expect_ref = False
        pos = m.end()
    if expect_ref:
        where = len(text.rstrip())
        if not ops and not groups[0]:
            raise StatementError("empty edge statement", 0, _FIX)
        raise StatementError("statement ends without a cell name", where, _FIX)
    if not ops:
        raise StatementError("a statement needs an operator between two cells", len(text.rstrip()), _FIX)
    return [Hop(tuple(groups[i]), op, tuple(groups[i + 1]), offset) for i, (op, offset) in enumerate(ops)]
