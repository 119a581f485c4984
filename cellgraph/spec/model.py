"""The typed, located form of a spec: what every later stage reads.

All records are frozen: a :class:`Spec` is a value. Names are final here: repeats are expanded
(``h`` with ``repeat: 3`` becomes ``h.1 h.2 h.3``), composed sub-networks are prefixed
(``gen.out``), and every edge joins two such names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import Problem, SourceLoc
from .load import Document, KeyPath


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CellSpec:
    """One cell group (a column of the chart) after repeat expansion and composition."""

    name: str  # unique final name: "h", "h.2", "gen.out"
    type: str  # a registry name; checked in the graph layer
    options: Mapping[str, Any]  # everything but the structural keys (type, repeat, use, ...)
    loc: SourceLoc  # the group's key in its file
    path: str  # key path for messages, e.g. "cells.h"
    option_locs: Mapping[str, SourceLoc] = field(default_factory=_empty)  # where each value is
    key_locs: Mapping[str, SourceLoc] = field(default_factory=_empty)  # where each key is
    yaml11: Mapping[str, str] = field(default_factory=_empty)  # option -> why YAML 1.1 would read it differently
    group: str = ""  # the name as written ("h" for "h.2")
    repeat: tuple[int, int] | None = None  # (index from 1, count) for repeated groups
    origin: str = ""  # prefix of the `use:` group this cell came from ("" at top level)
    style: Mapping[str, Any] = field(default_factory=_empty)
    # `share:`: the group whose parameters this one uses instead of its own (a final name), where
    # the spec says so (share_loc), and whether it follows from a `use:` group's `share:` (each of
    # the part's groups shares its namesake; a group without parameters then simply has none)
    shares: str | None = None
    share_loc: SourceLoc | None = None
    share_implied: bool = False

    def option_loc(self, key: str) -> SourceLoc:
        return self.option_locs.get(key, self.loc)

    def key_loc(self, key: str) -> SourceLoc:
        return self.key_locs.get(key, self.option_loc(key))


@dataclass(frozen=True)
class EdgeSpec:
    """A directed (or symmetric) connection between two final group names."""

    src: str
    dst: str
    op: str  # "->", "--", "=>", "~>" or "{}" for the mapping form
    kind: str | None  # None: follows from the cell types (dense, or conv into kernels)
    delay: int  # 1 for `~>`: the value of the previous time step
    loc: SourceLoc
    path: str  # "edges[3]"
    options: Mapping[str, Any] = field(default_factory=_empty)
    option_locs: Mapping[str, SourceLoc] = field(default_factory=_empty)
    implicit: bool = False  # made by `repeat:` or `residual:`, not written by the user
    key_locs: Mapping[str, SourceLoc] = field(default_factory=_empty)


@dataclass(frozen=True)
class Binding:
    """A sub-network input replaced by a parent group (``bind: {x: gen.sample}``)."""

    dropped: CellSpec
    target: str
    loc: SourceLoc
    path: str


@dataclass(frozen=True)
class Spec:
    """A whole network: cells in drawing order, edges, and the train / data / draw blocks."""

    file: str
    name: str
    version: int
    cells: tuple[CellSpec, ...]
    edges: tuple[EdgeSpec, ...]
    doc: Document  # the root document with params substituted; for locating block keys
    title: str = ""
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=_empty)
    train: Mapping[str, Any] = field(default_factory=_empty)
    data: Mapping[str, Any] = field(default_factory=_empty)
    draw: Mapping[str, Any] = field(default_factory=_empty)
    bindings: tuple[Binding, ...] = ()
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)  # written name -> final names
    inherited_show: Mapping[str, Any] = field(
        default_factory=_empty
    )  # `draw.groups.X.show` of composed parts, prefixed
    source: str = ""  # the root file's text (hashed into rendered diagrams)
    sources: tuple[tuple[str, str], ...] = ()  # (file, text) of the root and every `use:` part read
    problems: tuple[Problem, ...] = ()  # found while loading; raised by load_spec, merged by build_graph

    def loc(self, path: KeyPath) -> SourceLoc:
        """Where a key path of the root document sits (nearest located ancestor)."""
        return self.doc.loc(path)

    def cell(self, name: str) -> CellSpec:
        for c in self.cells:
            if c.name == name:
                return c
        raise KeyError(name)
