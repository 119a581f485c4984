"""Does a data set fit a graph? Class labels against the output groups they train.

A softmax cross-entropy reads the logit a label names, so a label of 3 needs four units; with
fewer, JAX's gather clips the index, the loss stops making sense and training ends in NaN with
the wrong advice ("lower the learning rate"), and a negative label trains on nothing at all. This
check runs as soon as the data is loaded -- before JAX is imported -- so a mismatch is a located
error in well under a second.

Imports: graph and data only (no compiler): the command line runs it before training starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import networkx as nx

from ..data.dataset import check_labels_fit
from .checks import loss_name
from .rules import LOSSES

DEFAULT_LOSS: Final = {"softmax": "cross_entropy", "log_softmax": "cross_entropy", "sigmoid": "bce"}
"""The loss an output trains with when the spec names none, by its activation (else mse)."""


def default_loss(activation: str) -> str:
    """The loss of an output with ``activation`` when ``train.loss`` names none (or a composite)."""
    return DEFAULT_LOSS.get(activation, "mse")


def output_loss(name: str | None, activation: str) -> str:
    """The loss a supervised output trains with under ``train.loss`` = ``name``: that loss, or the
    activation's default where the spec names none or a composite (``Loss.composite``)."""
    record = LOSSES.get(name) if name is not None else None  # read now: a later registration counts
    return default_loss(activation) if name is None or record is not None and record.composite else name


def trains_on_labels(cell: Any, options: Mapping[str, Any]) -> bool:
    """Whether an output is scored against the data set's targets, not a reconstruction of a group."""
    goal = options.get("target")
    return goal == "labels" or goal is None and not cell.reconstructs


def label_outputs(graph: nx.DiGraph) -> Iterator[str]:
    """The output groups a classification loss trains on the data set's labels."""
    spec = graph.graph.get("spec")
    train: Mapping[str, Any] = spec.train if spec is not None else {}
    name = loss_name(train.get("loss"))
    for node in nx.topological_sort(graph):
        attrs = graph.nodes[node]
        cell = attrs.get("cell")  # outputs: the groups the loss reads, as the compiler orders them
        if cell is None or not cell.is_output or train.get("target") not in (None, node):
            continue
        options = attrs.get("options", {})
        if not trains_on_labels(cell, options):
            continue
        record = LOSSES.get(output_loss(options.get("loss") or name, options.get("activation", "linear")))
        if record is not None and record.labels and attrs.get("shape"):
            yield node


def check_data_fits(graph: nx.DiGraph, data: Any) -> None:
    """Raise a located :class:`~cellgraph.errors.SpecError` when the labels of ``data`` cannot
    index the units of an output group trained on them (see the module docstring).

    ``data`` is a data set (``y_train``, ``y_test``, maybe ``classes`` and ``task``); regression
    and unsupervised data pass unchecked.
    """
    if getattr(data, "task", "classification") != "classification":
        return
    for node in label_outputs(graph):
        attrs = graph.nodes[node]
        check_labels_fit(data, int(attrs["shape"][-1]), group=node, loc=attrs.get("loc"), path=attrs.get("path", ""))
