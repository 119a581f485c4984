"""What a network reads from a data set, as plain records: its input groups and the outputs scored
against targets, each with the spec location a mismatch is reported at.

The graph layer fills a :class:`Layout` in (:func:`cellgraph.graph.fit.data_layout`: it knows
cells, losses and rules); the data layer reads it to parse the user's arrays
(:func:`cellgraph.data.as_dataset`) and to check them (:func:`cellgraph.data.check_data`),
without importing the graph layer.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import SourceLoc

CLASSES: Final = "classes"
"""A target kind: one class id per example (per step), indexing the output's units (cross-entropy, margin)."""
BITS: Final = "bits"
"""A target kind: a value in [0, 1] per output unit (binary cross-entropy)."""
VALUES: Final = "values"
"""A target kind: a value per output unit (mse, mae, huber)."""
LABELS: Final = "labels"
"""A target kind: another loss that reads class labels (a registered one): only their range is checked."""
OTHER: Final = "other"
"""A target kind: a loss the data layer knows nothing about: only counts and finite values are checked."""


@dataclass(frozen=True)
class Slot:
    """One input group, or one output group scored against targets: its shape and where it is written.

    ``shape`` is per example (per time step when ``timed``). Errors about the group's data point
    at ``size_loc`` (where its ``size:``/``shape:`` is written; the group's line when inferred)
    or at ``loc`` (the group's line), with the key path ``path`` (``cells.x``).
    """

    group: str
    shape: tuple[int, ...]
    timed: bool
    loc: SourceLoc
    path: str
    size_loc: SourceLoc
    size_key: str = ""  # "size", "shape", "vocab" (an embedding's token ids), or "" where the shape is inferred
    sequence_loc: SourceLoc | None = None  # where `sequence:` is written (an input)
    vocab: int | None = None  # an embedding input: its data are token ids 0 .. vocab-1 (shape ())

    @property
    def features(self) -> int:
        """Values per example (per step): what an array's trailing axes must multiply to."""
        return math.prod(self.shape)

    @property
    def size_path(self) -> str:
        return f"{self.path}.{self.size_key}" if self.size_key else self.path

    def shape_text(self) -> str:
        """``size: 4`` or ``shape: [8, 8, 1]``, as the spec writes it."""
        if len(self.shape) == 1:
            return f"size: {self.shape[0]}"
        return f"shape: [{', '.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class Target(Slot):
    """An output group compared with targets from the data, and how its loss reads them."""

    loss: str = "mse"
    kind: str = VALUES  # CLASSES | BITS | VALUES | LABELS | OTHER
    activation: str = "linear"
    fixed: bool = False  # read as given by a rule's own scoring: its shape is checked whatever the rule

    @property
    def units(self) -> int:
        """Output units along the last axis: the classes a class id may name (one unit: two)."""
        return self.shape[-1] if self.shape else 1

    @property
    def ids_per_step(self) -> int:
        """Class ids per example (per step): one per position of every axis but the units'."""
        return math.prod(self.shape[:-1])


@dataclass(frozen=True)
class Layout:
    """What a network reads from a data set (see the module docstring).

    ``untargeted`` names each output group that takes no targets, with why (it reconstructs an
    input, or ``train.target`` names another output); ``groups`` holds every group's line and key
    path, so a data key naming a hidden group is reported at that group. ``strict``: the rule trains on the loss the spec names
    (backprop), so targets must have the shape the loss reads; other rules read the data their
    own way and only the example counts, finite values and label ranges are checked.
    """

    inputs: tuple[Slot, ...]
    targets: tuple[Target, ...]
    untargeted: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, tuple[SourceLoc, str]] = field(default_factory=dict)  # every group: (line, key path)
    strict: bool = True
    rule: str = "backprop"
    file: str = "<spec>"
    where: SourceLoc = SourceLoc("<spec>")  # the spec's `cells:` key: surplus data keys point here
    data_block: Mapping[str, Any] = field(default_factory=dict)
    data_where: SourceLoc | None = None  # the spec's `data:` key
    block_loc: Callable[[tuple[str | int, ...]], SourceLoc] | None = field(default=None, compare=False)
    folder: Path | None = None  # the spec's folder: a data block's files are relative to it
    allow: tuple[str | Path, ...] = ()
    known: bool = True  # the groups' shapes are the network's (False: a block read by its names alone)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(s.group for s in self.inputs)

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(t.group for t in self.targets)

    def input(self, group: str) -> Slot | None:
        return next((s for s in self.inputs if s.group == group), None)

    def target(self, group: str) -> Target | None:
        return next((t for t in self.targets if t.group == group), None)

    def data_place(self) -> tuple[SourceLoc, str]:
        """(line, key path) a problem with the data as a whole points at: the `data:` block, else `cells:`."""
        return (self.data_loc(), "data") if self.data_block else (self.where, "cells")

    def data_loc(self, *key: str | int) -> SourceLoc:
        """Where ``data.<key>`` is written in the spec (the `cells:` key when there is no `data:` block)."""
        if not key and self.data_where is not None and self.data_block:
            return self.data_where
        if self.block_loc is not None and self.data_block:
            return self.block_loc(("data", *key))
        return self.where


GRAPH_READER: Final = "cellgraph.graph.fit:data_layout"
"""The graph layer's reader of a graph's :class:`Layout`, named by its import path and resolved on
first use -- as a cell type names its JAX implementation -- so the data layer never imports the
graph layer (``tests/test_api.py``) yet takes a graph where a layout is asked for."""


def layout_of(graph: Any) -> Layout:
    """The :class:`Layout` of a graph, a compiled model (its ``graph``) or a layout itself."""
    if isinstance(graph, Layout):
        return graph
    inner = getattr(graph, "graph", None)
    if not hasattr(graph, "nodes") and hasattr(inner, "nodes"):
        graph = inner  # a compiled model
    if not hasattr(graph, "nodes"):
        raise TypeError(f"expected a graph, a compiled model or a Layout, got {type(graph).__name__}")
    module, _, name = GRAPH_READER.partition(":")
    reader: Callable[[Any], Layout] = getattr(importlib.import_module(module), name)
    return reader(graph)
