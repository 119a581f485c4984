"""Variants: one point of the space made into a validated graph, or into its located problems.

Every variant is validated (the spec with its params replaced, the graph's checks and shapes, the
data against the outputs) before anything trains, so a value the spec's shape rules refuse is a
listed, located problem and not a crash in the middle of a search. Validation needs neither JAX
nor Optuna.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CellgraphError, Problem, SpecError
from ..spec.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class Variant:
    """One point of the space.

    Attributes:
        params: the searched params' values (the point itself).
        overrides: every param override it loads with (``-p`` values under the point's).
        graph: the validated graph; None when the variant is invalid.
        data: the data set it trains on (None: the spec has no `data:` block).
        problems: why it is invalid, each located at file:line:col.
        arch: a digest of its cells and edges: variants differing only in training settings
            (a learning rate) share it and are drawn once on the contact sheet.
    """

    params: Mapping[str, Any]
    overrides: Mapping[str, Any]
    graph: Any = None
    data: Any = None
    problems: tuple[Problem, ...] = ()
    error: str = ""
    arch: str = ""
    data_key: str = field(default="", compare=False)

    @property
    def valid(self) -> bool:
        return self.graph is not None

    def describe_problems(self) -> str:
        """The problems as `validate` prints them (one per line, with their fixes)."""
        if self.problems:
            return SpecError(list(self.problems)).format()
        return self.error


class DataCache:
    """Data sets by their `data:` block: variants that share one load it once."""

    def __init__(self) -> None:
        self._sets: dict[str, Any] = {}

    def get(self, graph: Any) -> tuple[Any, str]:
        from ..data import load_dataset
        from ..graph.fit import check_data_fits

        spec = graph.graph["spec"]
        if not spec.data:
            return None, ""
        key = json.dumps(_plain(spec.data), sort_keys=True)
        if key not in self._sets:
            self._sets[key] = load_dataset(spec.data, Path(spec.file).parent, allow=graph.graph.get("allow", ()))
        data = self._sets[key]
        check_data_fits(graph, data)
        return data, key


def make_variant(
    spec_path: str | Path,
    params: Mapping[str, Any],
    base: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    cache: DataCache | None = None,
) -> Variant:
    """Load and check the spec with ``params`` over ``base``; problems come back, never raise."""
    from ..graph import load_graph

    overrides = {**(base or {}), **params}
    try:
        graph = load_graph(spec_path, overrides, limits)
        data, data_key = (cache or DataCache()).get(graph)
    except SpecError as err:
        return Variant(dict(params), overrides, problems=tuple(err.problems))
    except CellgraphError as err:  # a data set that cannot load, a limit: the message says where
        return Variant(dict(params), overrides, error=str(err))
    return Variant(dict(params), overrides, graph, data, arch=arch_key(graph), data_key=data_key)


def arch_key(graph: Any) -> str:
    """A digest of what the diagram shows: each group's type and options, and the edges."""
    spec = graph.graph["spec"]
    cells = [[c.name, c.type, _plain(dict(c.options))] for c in spec.cells]
    edges = [[e.src, e.dst, e.op, e.kind, e.delay, _plain(dict(e.options))] for e in spec.edges]
    text = json.dumps([cells, edges], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
