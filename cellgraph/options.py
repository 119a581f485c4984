"""Option kinds: small reusable records that check a value, describe it and give its schema.

Cell types, learning rules, data sets and the draw block all declare their options with these,
so validation, ``cellgraph cells``, the docs and the JSON Schema read one definition (Ludwig's
reusable parameter kinds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import did_you_mean


@dataclass(frozen=True)
class OptionKind:
    """A kind of option value; :meth:`check` returns a problem text or None."""

    def check(self, value: Any) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class IntRange(OptionKind):
    lo: int = 1
    hi: int | None = None

    def check(self, value: Any) -> str | None:
        if not _is_int(value):
            return f"expected an integer, got {_word(value)}"
        if value < self.lo or (self.hi is not None and value > self.hi):
            return f"expected an integer in {self.describe()}, got {value}"
        return None

    def describe(self) -> str:
        return f"[{self.lo}, {self.hi}]" if self.hi is not None else f">= {self.lo}"

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "integer", "minimum": self.lo}
        if self.hi is not None:
            s["maximum"] = self.hi
        return s


@dataclass(frozen=True)
class FloatRange(OptionKind):
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def check(self, value: Any) -> str | None:
        # Only finite values: JAX computes in float32, where ``.inf`` or an integer of 400 digits
        # (which ``math.isnan`` cannot even convert) makes every step NaN or crashes.
        if not _is_number(value):
            return f"expected a number, got {_word(value)}"
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            digits = int(abs(value).bit_length() * math.log10(2)) + 1
            return f"expected a number in {self.describe()}, got an integer of about {digits:,} digits"
        if not finite:
            return f"expected a finite number in {self.describe()}, got {_word(value)}"
        low_bad = value <= self.lo if self.lo_open else value < self.lo
        high_bad = value >= self.hi if self.hi_open else value > self.hi
        if low_bad or high_bad:
            return f"expected a number in {self.describe()}, got {value}"
        return None

    def describe(self) -> str:
        lo = "(" if self.lo_open or math.isinf(self.lo) else "["
        hi = ")" if self.hi_open or math.isinf(self.hi) else "]"
        return f"{lo}{_num(self.lo)}, {_num(self.hi)}{hi}"

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "number"}
        if math.isfinite(self.lo):
            s["exclusiveMinimum" if self.lo_open else "minimum"] = self.lo
        if math.isfinite(self.hi):
            s["exclusiveMaximum" if self.hi_open else "maximum"] = self.hi
        return s


@dataclass(frozen=True)
class Choice(OptionKind):
    values: tuple[str, ...]

    def check(self, value: Any) -> str | None:
        if value not in self.values or not isinstance(value, str):
            hint = did_you_mean(value, self.values) if isinstance(value, str) else ""
            return f"expected one of {', '.join(self.values)}; got {_word(value)}{hint}"
        return None

    def describe(self) -> str:
        return " | ".join(self.values)

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


@dataclass(frozen=True)
class Bool(OptionKind):
    def check(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else f"expected true or false, got {_word(value)}"

    def describe(self) -> str:
        return "true | false"

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class ShapeKind(OptionKind):
    """A spatial shape: [height, width, channels] or [length, channels]."""

    def check(self, value: Any) -> str | None:
        if not isinstance(value, list) or not 1 <= len(value) <= 4 or not all(_is_int(v) and v > 0 for v in value):
            return f"expected a list of 1 to 4 positive integers such as [8, 8, 1], got {_word(value)}"
        return None

    def describe(self) -> str:
        return "[h, w, c] or [length, c]"

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": 4}


@dataclass(frozen=True)
class Window(OptionKind):
    """A window size: one integer, or one per spatial axis."""

    def check(self, value: Any) -> str | None:
        ok = (_is_int(value) and value > 0) or (
            isinstance(value, list) and 1 <= len(value) <= 3 and all(_is_int(v) and v > 0 for v in value)
        )
        return None if ok else f"expected a positive integer or a list such as [3, 3], got {_word(value)}"

    def describe(self) -> str:
        return "int or [int, int]"

    def schema(self) -> dict[str, Any]:
        return {
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "array", "items": {"type": "integer", "minimum": 1}}]
        }


@dataclass(frozen=True)
class Name(OptionKind):
    """The name of another cell group (checked against the graph later)."""

    def check(self, value: Any) -> str | None:
        return None if isinstance(value, str) and value else f"expected a group name, got {_word(value)}"

    def describe(self) -> str:
        return "group name"

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class PortName(OptionKind):
    """The name of one of a cell type's input ports (checked against the target's type later)."""

    def check(self, value: Any) -> str | None:
        return None if isinstance(value, str) and value else f"expected a port name, got {_word(value)}"

    def describe(self) -> str:
        return "port name"

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class Nullable(OptionKind):
    inner: OptionKind

    def check(self, value: Any) -> str | None:
        return None if value is None else self.inner.check(value)

    def describe(self) -> str:
        return f"{self.inner.describe()} | null"

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [self.inner.schema(), {"type": "null"}]}


def _word(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return "a mapping"
    return str(value) if _is_number(value) else ("a list" if isinstance(value, list) else type(value).__name__)


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


@dataclass(frozen=True)
class Option:
    """One option of a cell type: its kind, default and a one-line doc."""

    kind: OptionKind
    default: Any
    doc: str


def word(value: Any) -> str:
    """A user-facing word for a value (public alias used in messages)."""
    return _word(value)


@dataclass(frozen=True)
class Text(OptionKind):
    """Free text (a path, a column name)."""

    def check(self, value: Any) -> str | None:
        return None if isinstance(value, str) and value else f"expected text, got {_word(value)}"

    def describe(self) -> str:
        return "text"

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class ListOf(OptionKind):
    inner: OptionKind
    min_items: int = 1

    def check(self, value: Any) -> str | None:
        if not isinstance(value, list) or len(value) < self.min_items:
            return f"expected a list of {self.inner.describe()}, got {_word(value)}"
        for item in value:
            problem = self.inner.check(item)
            if problem:
                return f"list item: {problem}"
        return None

    def describe(self) -> str:
        return f"[{self.inner.describe()}, ...]"

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.inner.schema(), "minItems": self.min_items}


@dataclass(frozen=True)
class OneOf(OptionKind):
    """A value accepted by any of several kinds (e.g. a number or a list of numbers)."""

    kinds: tuple[OptionKind, ...]

    def check(self, value: Any) -> str | None:
        problems = [k.check(value) for k in self.kinds]
        return None if any(p is None for p in problems) else f"expected {self.describe()}, got {_word(value)}"

    def describe(self) -> str:
        return " or ".join(k.describe() for k in self.kinds)

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [k.schema() for k in self.kinds]}


def check_options(
    values: dict[str, Any], options: dict[str, Option] | Any, report: Any, what: str, extra: tuple[str, ...] = ()
) -> None:
    """Check a mapping against declared options; ``report(key, message, fix)`` gets each problem.

    Unknown keys get a "did you mean" and the list of valid keys; known keys are checked by kind.
    ``extra`` names keys that are valid here but checked elsewhere.
    """
    valid = list(dict.fromkeys([*options, *extra]))  # an extra key may be declared as an option too
    for key, value in values.items():
        if key in extra:
            continue
        if key not in options:
            hint = did_you_mean(str(key), valid)
            report(key, f"unknown key '{key}' in {what}{hint}", "valid keys: " + ", ".join(sorted(valid)))
            continue
        problem = options[key].kind.check(value)
        if problem:
            opt = options[key]
            report(key, f"{problem}", f"{key}: {opt.doc} ({opt.kind.describe()}; default {_word(opt.default)})")
