"""The search space: which params vary, and over what values.

A dimension is either a list of values (``--grid width=16,32,64``, ``width: [16, 32, 64]`` in the
spec's ``search:`` block) or a range (``--random lr=loguniform:1e-4:1e-1``, ``lr: {low: 1.0e-4,
high: 0.1, log: true}``). Ranges are read by this module's own small parser, never evaluated, so a
search space, like a spec, stays data. Every dimension must name a param the spec declares: the
spec's ``params:`` are the space's coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, Final

from ..errors import CellgraphError, Problems, SourceLoc, did_you_mean
from ..spec.load import Document, format_path, resolve_plain

RANGE_KINDS: Final = ("uniform", "loguniform", "int", "logint")
"""The ``--random`` forms: ``uniform:LOW:HIGH``, ``loguniform:LOW:HIGH``, ``int:LOW:HIGH[:STEP]``,
``logint:LOW:HIGH``; a comma list ``a,b,c`` is a choice among values."""
RANGE_KEYS: Final = ("low", "high", "log", "step")
MSG_RANDOM: Final = (
    "write NAME=uniform:LOW:HIGH, NAME=loguniform:LOW:HIGH, NAME=int:LOW:HIGH[:STEP], NAME=logint:LOW:HIGH "
    "or NAME=a,b,c (a choice), e.g. --random lr=loguniform:1e-4:1e-1"
)


class SearchError(CellgraphError):
    """A search that cannot start: a bad option, a space naming no param, no metric to rank by."""


@dataclass(frozen=True)
class Dimension:
    """One param's values: ``choices`` (a finite list), or a range ``low``..``high``."""

    name: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    integer: bool = False
    origin: str = ""  # where it was declared: "--grid width", "spec.yaml:12:5"

    @property
    def is_finite(self) -> bool:
        return self.choices is not None

    def describe(self) -> str:
        if self.choices is not None:
            return "{" + ", ".join(_show(v) for v in self.choices) + "}"
        kind = ("log-" if self.log else "") + ("int" if self.integer else "uniform")
        step = f" step {_show(self.step)}" if self.step else ""
        return f"{kind} [{_show(self.low)}, {_show(self.high)}]{step}"

    def to_distribution(self) -> Any:
        """The Optuna distribution of this dimension (Optuna is imported here, when a search runs)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices is not None:
            return CategoricalDistribution(self.choices)
        if self.integer:
            return IntDistribution(int(self.low or 0), int(self.high or 0), log=self.log, step=int(self.step or 1))
        return FloatDistribution(float(self.low or 0), float(self.high or 0), log=self.log, step=self.step)

    def plain(self) -> dict[str, Any]:
        """The dimension as plain data (the study's fingerprint; the search's `space.json`)."""
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step, "int": self.integer}


@dataclass(frozen=True)
class Space:
    """The dimensions of a search, in the order they were declared."""

    dims: tuple[Dimension, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def is_finite(self) -> bool:
        return all(d.is_finite for d in self.dims)

    def size(self) -> int | None:
        """How many points a finite space holds (None: it has a range)."""
        if not self.is_finite:
            return None
        return math.prod(len(d.choices or ()) for d in self.dims)

    def points(self) -> list[dict[str, Any]]:
        """Every point of a finite space, the last dimension varying fastest."""
        lists = [d.choices or () for d in self.dims]
        return [dict(zip(self.names, combo, strict=True)) for combo in product(*lists)]

    def grid(self) -> dict[str, list[Any]]:
        """The space as Optuna's GridSampler takes it; a range refuses (a grid needs values)."""
        ranged = [d for d in self.dims if not d.is_finite]
        if ranged:
            d = ranged[0]
            raise SearchError(
                f"--sampler grid: {d.name} ({d.origin}) is a range, {d.describe()}, and a grid needs a list of "
                f"values; fix: give values (--grid {d.name}=a,b,c) or use --sampler random or --sampler tpe"
            )
        return {d.name: list(d.choices or ()) for d in self.dims}

    def plain(self) -> dict[str, Any]:
        return {d.name: d.plain() for d in self.dims}


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_grid(text: str) -> Dimension:
    """``--grid width=16,32,64``: a list of values, each read as a YAML plain scalar."""
    name, raw = _split_option("--grid", text)
    values = [resolve_plain(v.strip()) for v in raw.split(",") if v.strip()]
    if not values:
        raise SearchError(f"--grid {text}: no values; fix: write --grid {name or 'NAME'}=a,b,c")
    return _choices(name, values, f"--grid {name}", lambda msg: SearchError(f"--grid {text}: {msg}"))


def parse_random(text: str) -> Dimension:
    """``--random lr=loguniform:1e-4:1e-1`` (a range) or ``--random act=relu,tanh`` (a choice)."""
    name, raw = _split_option("--random", text)
    origin = f"--random {name}"
    kind, _, rest = raw.partition(":")
    kind = kind.strip()
    if not rest:
        values = [resolve_plain(v.strip()) for v in raw.split(",") if v.strip()]
        if kind in RANGE_KINDS or len(values) < 2:
            raise SearchError(f"--random {text}: not a range or a list of values; fix: {MSG_RANDOM}")
        return _choices(name, values, origin, lambda msg: SearchError(f"--random {text}: {msg}"))
    if kind not in RANGE_KINDS:
        raise SearchError(
            f"--random {text}: unknown distribution '{kind}'{did_you_mean(kind, RANGE_KINDS)}; fix: {MSG_RANDOM}"
        )
    parts = [p.strip() for p in rest.split(":")]
    numbers: list[float] = []
    for p in parts:
        value = resolve_plain(p)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise SearchError(f"--random {text}: '{p}' is not a number; fix: {MSG_RANDOM}")
        numbers.append(value)
    integer = kind in ("int", "logint")
    if len(numbers) not in ((2, 3) if kind == "int" else (2,)):
        raise SearchError(
            f"--random {text}: {kind} takes LOW:HIGH{'[:STEP]' if kind == 'int' else ''}; fix: {MSG_RANDOM}"
        )
    spec = {"low": numbers[0], "high": numbers[1], "log": kind.startswith("log")}
    if len(numbers) == 3:
        spec["step"] = numbers[2]
    problem = _range_problem(spec, integer)
    if problem:
        raise SearchError(f"--random {text}: {problem}; fix: {MSG_RANDOM}")
    return _range(name, spec, integer, origin)


def _split_option(flag: str, text: str) -> tuple[str, str]:
    name, eq, raw = text.partition("=")
    name = name.strip()
    if not eq or not name or not raw.strip():
        example = "width=16,32,64" if flag == "--grid" else "lr=loguniform:1e-4:1e-1"
        raise SearchError(f"{flag} {text}: expected NAME=VALUES; fix: write e.g. {flag} {example}")
    return name, raw.strip()


def _choices(name: str, values: list[Any], origin: str, error: Any) -> Dimension:
    for v in values:
        if isinstance(v, dict | list) or v is None:
            raise error(f"{v!r} is not a scalar value; values are numbers, words or true/false")
    if len(set(map(repr, values))) != len(values):
        raise error("a value is listed twice; list each value once")
    return Dimension(name, choices=tuple(values), origin=origin)


def _range_problem(spec: Mapping[str, Any], integer: bool) -> str | None:
    low, high, step = spec.get("low"), spec.get("high"), spec.get("step")
    for key, value in (("low", low), ("high", high), ("step", step)):
        if value is None and key != "step":
            return f"missing '{key}'"
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            return f"{key} must be a number, got {value!r}"
        if integer and value is not None and float(value) != int(value):
            return f"{key} must be a whole number for an integer range, got {value!r}"
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if not low < high:
        return f"low ({low:g}) must be below high ({high:g})"
    if spec.get("log") and low <= 0:
        return f"a log range needs low > 0, got {low:g}"
    if step is not None and (step <= 0 or spec.get("log")):
        return "step must be positive, and a log range takes no step"
    return None


def _range(name: str, spec: Mapping[str, Any], integer: bool, origin: str) -> Dimension:
    step = spec.get("step")
    return Dimension(
        name,
        low=int(spec["low"]) if integer else float(spec["low"]),
        high=int(spec["high"]) if integer else float(spec["high"]),
        log=bool(spec.get("log", False)),
        step=(int(step) if integer else float(step)) if step is not None else None,
        integer=integer,
        origin=origin,
    )


def read_block(doc: Document, problems: Problems) -> tuple[list[Dimension], dict[str, Any]]:
    """The spec's ``search:`` block: its ``space:`` as dimensions and its settings (metric, trials,
    sampler, seeds, seed), each problem added located at its line."""
    block = doc.data.get("search") if isinstance(doc.data, dict) else None
    if block is None:
        return [], {}
    if not isinstance(block, dict):
        problems.add(doc.loc(("search",)), "search", "expected a mapping", MSG_BLOCK)
        return [], {}
    settings: dict[str, Any] = {}
    for key, value in block.items():
        if key == "space":
            continue
        if key not in BLOCK_KEYS:
            problems.add(
                doc.key_loc(("search", key)),
                format_path(("search", key)),
                f"unknown key '{key}'{did_you_mean(str(key), BLOCK_KEYS)}",
                "valid keys: " + ", ".join(BLOCK_KEYS),
            )
            continue
        settings[key] = value
    space = block.get("space", {})
    if not isinstance(space, dict):
        problems.add(doc.loc(("search", "space")), "search.space", "expected a mapping of params to values", MSG_BLOCK)
        return [], settings
    dims: list[Dimension] = []
    for name, value in space.items():
        path = ("search", "space", name)
        loc = doc.loc(path)
        origin = str(loc)
        if isinstance(value, list):
            if not value or any(isinstance(v, dict | list) or v is None for v in value):
                problems.add(loc, format_path(path), "expected a non-empty list of scalar values", MSG_BLOCK)
                continue
            if len(set(map(repr, value))) != len(value):
                problems.add(loc, format_path(path), "a value is listed twice", "list each value once")
                continue
            dims.append(Dimension(str(name), choices=tuple(value), origin=origin))
        elif isinstance(value, dict):
            unknown = [k for k in value if k not in RANGE_KEYS]
            if unknown:
                k = unknown[0]
                problems.add(
                    doc.key_loc((*path, k)),
                    format_path((*path, k)),
                    f"unknown key '{k}'{did_you_mean(str(k), RANGE_KEYS)}",
                    "a range is {low: LOW, high: HIGH} with optional log: true and step: STEP",
                )
                continue
            integer = all(
                isinstance(value.get(k), int) and not isinstance(value.get(k), bool)
                for k in ("low", "high", "step")
                if value.get(k) is not None
            )
            problem = _range_problem(value, integer)
            if problem:
                problems.add(loc, format_path(path), problem, MSG_BLOCK)
                continue
            dims.append(_range(str(name), value, integer, origin))
        else:
            problems.add(loc, format_path(path), f"expected a list of values or a range, got {value!r}", MSG_BLOCK)
    return dims, settings


BLOCK_KEYS: Final = ("space", "metric", "direction", "trials", "sampler", "seeds", "seed", "validation")
MSG_BLOCK: Final = (
    "write `search: {space: {width: [16, 32, 64], lr: {low: 1.0e-4, high: 0.1, log: true}}, trials: 20}`: "
    "a list of values (a grid) or a range {low, high, log, step} per param"
)


def check_names(dims: Sequence[Dimension], params: Iterable[str], file: str) -> None:
    """Every dimension names a declared param; a dimension given twice is refused."""
    declared = sorted(params)
    seen: dict[str, str] = {}
    for d in dims:
        if d.name in seen:
            raise SearchError(f"{d.origin}: {d.name} is searched twice (also {seen[d.name]}); fix: keep one of them")
        seen[d.name] = d.origin
        if d.name not in declared:
            known = ", ".join(declared) or "(none; add a `params:` block)"
            raise SearchError(
                f"{d.origin}: no param named '{d.name}' in {file}{did_you_mean(d.name, declared)}; "
                f"fix: search a declared param ({known}), or declare it under `params:` and use it as ${{{d.name}}}"
            )


def merge(block: Sequence[Dimension], given: Sequence[Dimension]) -> Space:
    """The spec's dimensions with the command line's over them (a name given on both: the command line's)."""
    named = {d.name for d in given}
    return Space(tuple([d for d in block if d.name not in named] + list(given)))


def loc_of(doc: Document, name: str) -> SourceLoc:
    """Where the spec declares param ``name`` (for messages about its values)."""
    return doc.key_loc(("params", name))
