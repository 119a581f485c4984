"""Errors that a user of cellgraph sees, and where they point.

Every problem with a spec is a :class:`Problem`: a source location, the key path inside the
document, what is wrong and how to fix it. Stages collect problems instead of raising at the
first one, and raise a single :class:`SpecError` carrying all of them, sorted by position, so a
user fixes a file in one pass. The printed form is the compiler format editors can jump to::

    specs/mlp.yaml:14:7: cells.h.size: expected a positive integer, got -3
      fix: set size to the number of cells in the group, e.g. `size: 128`

Messages quote what the user wrote (names, titles, file names), so every part of a printed
problem goes through :func:`terminal_safe`: a title holding ``\x1b[2J`` or ``\r`` prints as
those visible escapes instead of clearing or overwriting the user's terminal.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

BIDI_CONTROLS: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reorder the text around them on screen (Trojan Source, CVE-2021-42574)."""


def is_unsafe_char(ch: str) -> bool:
    """True for a character a terminal, a Markdown file or an XML document must not get raw: C0 and
    C1 controls, DEL, line and paragraph separators, surrogates and bidirectional controls."""
    return ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs")


_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(ch: str) -> str:
    code = ord(ch)
    return _NAMED_ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_safe(text: object) -> str:
    r"""``text`` as one line that prints as it reads: every unsafe character (see
    :func:`is_unsafe_char`; newlines and tabs too) becomes a visible escape such as ``\x1b``.

    The one helper for text that reaches a terminal: problems, ``summary`` tables, ``cellgraph: ...``
    messages. Printable text, non-ASCII letters included, passes unchanged.

    >>> print(terminal_safe("Tiny\x1b[31m net\r\u202e"))
    Tiny\x1b[31m net\r\u202e
    """
    s = str(text)
    if not any(is_unsafe_char(ch) for ch in s):
        return s
    return "".join(_visible(ch) if is_unsafe_char(ch) else ch for ch in s)


def clip(text: str, limit: int, mark: str = "...") -> str:
    """``text`` cut to at most ``limit`` characters, ending with ``mark`` when cut (a quote in a message)."""
    return text if len(text) <= limit else text[: limit - len(mark)] + mark


@dataclass(frozen=True, order=True)
class SourceLoc:
    """A position in a spec file; line and column count from 1, as editors show them."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN_LOC: Final = SourceLoc("<spec>")


@dataclass(frozen=True)
class Problem:
    """One located problem in a spec, with the change that would fix it."""

    loc: SourceLoc
    path: str
    message: str
    fix: str = ""

    def format(self) -> str:
        """The printed form; each part is :func:`terminal_safe`, so it is exactly two lines at most."""
        loc, path, message = terminal_safe(self.loc), terminal_safe(self.path), terminal_safe(self.message)
        head = f"{loc}: {path}: {message}" if self.path else f"{loc}: {message}"
        return f"{head}\n  fix: {terminal_safe(self.fix)}" if self.fix else head

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.loc.file, self.loc.line, self.loc.col, self.path)


class CellgraphError(Exception):
    """Base class of every error cellgraph raises on purpose."""


@dataclass
class Problems:
    """A collector of problems: every check adds to it, and :meth:`raise_if_any` ends a stage."""

    items: list[Problem] = field(default_factory=list)

    def add(self, loc: SourceLoc, path: str, message: str, fix: str = "") -> None:
        self.items.append(Problem(loc, path, message, fix))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)


class SpecError(CellgraphError):
    """A spec has one or more problems; ``problems`` lists them sorted by file position."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        unique = list(dict.fromkeys(problems))
        self.problems: list[Problem] = sorted(unique, key=Problem.sort_key)
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(p.format() for p in self.problems)


class LimitError(SpecError):
    """A spec exceeds a safety limit (size, nesting, aliases, repeats, cells, parameters)."""


def spec_error(loc: SourceLoc, path: str, message: str, fix: str = "") -> SpecError:
    """Build a :class:`SpecError` holding a single problem."""
    return SpecError([Problem(loc, path, message, fix)])


def did_you_mean(word: str, options: Iterable[str], aliases: Mapping[str, str | tuple[str, ...]] | None = None) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest option, or ``""`` when none is close.

    The one "did you mean" of the package. ``aliases`` maps names other libraries use to ours
    (PyTorch's ``lr`` -> ``learning_rate``, ``betas`` -> ``("b1", "b2")``); an alias whose
    names are all options wins over spelling similarity.
    """
    names = sorted(options)
    alias = (aliases or {}).get(str(word))
    if alias is not None:
        wanted = (alias,) if isinstance(alias, str) else alias
        if all(w in names for w in wanted):
            return "; did you mean '" + "' and '".join(wanted) + "'?"
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def known_list(options: Iterable[str], limit: int = 12) -> str:
    """A short, sorted, comma-separated list of valid options for a `fix:` line."""
    names = sorted(options)
    shown = ", ".join(names[:limit])
    return shown + (", ..." if len(names) > limit else "")
