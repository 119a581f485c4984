"""``params:`` and ``${...}`` references.

A spec names its tunable numbers once (``params: {width: 64}``) and refers to them anywhere as
``${width}``. A reference that is the whole value keeps the parameter's type (``size: ${width}``
is the integer 64); inside a longer string it is formatted in (``title: "DFF ${width}"``).
References may be small arithmetic expressions (``${2 * width + 1}``), evaluated by walking a
whitelist of AST nodes: numbers, names of params, + - * / // % ** and parentheses. Nothing is
ever executed, so a spec stays data.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..errors import Problems, SourceLoc, clip, did_you_mean
from .load import Document, KeyPath, format_path, resolve_plain

_MARK: Final = "${"
_SHOWN: Final = 60  # characters of a value quoted in a message
_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_BINOPS: Final[dict[type, Callable[[Any, Any], Any]]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNOPS: Final[dict[type, Callable[[Any], Any]]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_POWER: Final = 64
_MAX_EXPRESSION: Final = 200  # characters inside one `${...}`
_MAX_MAGNITUDE: Final = 1e18  # keeps `${(10**64)**64...}` from computing huge integers


class _ExprError(Exception):
    pass


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, values)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise KeyError(node.id)
        return values[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, values), _eval(node.right, values)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)):
            raise _ExprError("arithmetic needs numbers")
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_POWER:
            raise _ExprError(f"exponent larger than {_MAX_POWER}")
        if isinstance(node.op, ast.Pow) and abs(left) > 1 and right * math.log10(abs(left)) > 18:
            raise _ExprError(f"number too large (over {_MAX_MAGNITUDE:.0e})")
        try:
            result = _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise _ExprError("division by zero") from None
        except OverflowError:
            raise _ExprError("number too large") from None
        if isinstance(result, complex):
            raise _ExprError("the result is not a real number")
        if abs(result) > _MAX_MAGNITUDE:
            raise _ExprError(f"number too large (over {_MAX_MAGNITUDE:.0e})")
        return result
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
        operand = _eval(node.operand, values)
        if not isinstance(operand, int | float) or isinstance(operand, bool):
            raise _ExprError("arithmetic needs numbers")
        return _UNOPS[type(node.op)](operand)
    raise _ExprError("only numbers, param names, + - * / // % ** and parentheses are allowed")


def evaluate(expr: str, values: Mapping[str, Any]) -> Any:
    """Evaluate a ``${...}`` body against param values (a name or a small arithmetic expression).

    Raises:
        KeyError: a name that is not a param.
        ValueError: anything that is not plain arithmetic.
    """
    text = expr.strip()
    if _NAME.match(text):
        if text not in values:
            raise KeyError(text)
        return values[text]
    if len(text) > _MAX_EXPRESSION:  # ast.parse of a huge expression recurses deeply (RecursionError)
        raise ValueError(f"expression longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise ValueError(f"'{text}' is not a name or an arithmetic expression") from None
    try:
        value = _eval(tree, values)
    except _ExprError as err:
        raise ValueError(str(err)) from None
    if isinstance(value, float) and value.is_integer() and "/" not in text:
        return int(value)
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """Split a command-line ``name=value``; the value is read as a YAML 1.2 plain scalar or list."""
    if "=" not in text:
        raise ValueError(f"'{text}' is not name=value")
    name, raw = text.split("=", 1)
    raw = raw.strip()
    if raw.startswith("[") and raw.endswith("]"):
        items = [resolve_plain(x.strip()) for x in raw[1:-1].split(",") if x.strip()]
        return name.strip(), items
    return name.strip(), resolve_plain(raw)


def collect_params(
    doc: Document, overrides: Mapping[str, Any], problems: Problems, override_loc: SourceLoc
) -> dict[str, Any]:
    """Read ``params:`` and apply overrides; report bad names, values and unknown overrides."""
    raw = doc.data.get("params") if isinstance(doc.data, dict) else None
    values: dict[str, Any] = {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add(
            doc.loc(("params",)),
            "params",
            f"expected a mapping of names to values, got {_kind(raw)}",
            "write `params: {width: 64, depth: 2}`",
        )
        raw = {}
    for name, value in raw.items():
        path: KeyPath = ("params", name)
        if not _NAME.match(name):
            problems.add(
                doc.key_loc(path),
                format_path(path),
                f"'{name}' is not a valid param name",
                "use letters, digits and _, starting with a letter",
            )
            continue
        if _has_ref(value):
            problems.add(
                doc.loc(path),
                format_path(path),
                "a param cannot refer to other params",
                "give the value itself; derived values can be written as `${2 * width}` where used",
            )
            continue
        if not _is_param_value(value):
            problems.add(
                doc.loc(path),
                format_path(path),
                f"expected a number, string, boolean or list, got {_kind(value)}",
                "params hold scalars or lists of scalars",
            )
            continue
        values[name] = value
    for name, value in overrides.items():
        if name not in raw:
            problems.add(
                override_loc,
                f"-p {name}",
                f"no param named '{name}' in this spec{did_you_mean(name, raw)}",
                "declared params: " + (", ".join(sorted(raw)) or "(none; add a `params:` block)"),
            )
            continue
        values[name] = value
    return values


def substitute(doc: Document, values: Mapping[str, Any], problems: Problems) -> Any:
    """Return ``doc.data`` with every ``${...}`` outside ``params:`` replaced by its value."""

    def walk(value: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and _MARK in value:
            return _replace(value, path)
        return value

    def _replace(text: str, path: KeyPath) -> Any:
        refs, bad = references(text)
        if bad is not None:
            problems.add(
                doc.loc(path),
                format_path(path),
                f"unclosed or nested `${{` at character {bad + 1} of '{clip(text, _SHOWN)}'",
                "close each reference: `${name}` or `${2 * width}`; references do not nest",
            )
            return text
        try:
            start, end, body = refs[0]
            if len(refs) == 1 and text[start:end] == text.strip():
                return evaluate(body, values)
            pieces, last = [], 0
            for start, end, body in refs:
                pieces += [text[last:start], _format(evaluate(body, values))]
                last = end
            return "".join([*pieces, text[last:]])
        except KeyError as err:
            name = clip(str(err.args[0]), _SHOWN)
            problems.add(
                doc.loc(path),
                format_path(path),
                f"unknown param '{name}'{did_you_mean(name, values)}",
                "declare it under `params:`" + (f" (known: {', '.join(sorted(values))})" if values else ""),
            )
        except ValueError as err:
            problems.add(
                doc.loc(path),
                format_path(path),
                f"bad reference '{clip(text, _SHOWN)}': {err}",
                "write `${name}` or an arithmetic expression of params such as `${2 * width}`",
            )
        return text

    data = doc.data
    out = {k: (v if k == "params" else walk(v, (k,))) for k, v in data.items()}
    return out


def references(text: str) -> tuple[list[tuple[int, int, str]], int | None]:
    """The ``${...}`` references in ``text`` as (start, end, body), and where a broken one starts.

    One left-to-right pass with ``str.find``, each character looked at a bounded number of
    times, so a megabyte of ``${`` costs milliseconds (a regular expression whose body may run
    past the next ``${`` rescans the rest of the text from every one of them: quadratic). A
    reference whose body holds ``{`` (nested) or that never closes is reported, not kept as text.
    """
    refs: list[tuple[int, int, str]] = []
    i = 0
    while True:
        start = text.find(_MARK, i)
        if start < 0:
            return refs, None
        end = text.find("}", start + 2)
        if end < 0 or text.find("{", start + 2, end) >= 0:
            return refs, start
        refs.append((start, end + 1, text[start + 2 : end]))
        i = end + 1


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _has_ref(value: Any) -> bool:
    if isinstance(value, str):
        return _MARK in value
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False


def _is_param_value(value: Any) -> bool:
    scalar = (int, float, str, bool)
    return isinstance(value, scalar) or (isinstance(value, list) and all(isinstance(v, scalar) for v in value))


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value), type(value).__name__)
