"""Does a data set fit a graph? What the network reads from data, as the data layer sees it.

:func:`data_layout` reads a checked graph into a :class:`~cellgraph.data.layout.Layout`: its input
groups, the outputs scored against targets (with the loss each trains with), and where each is
written in the spec. :func:`cellgraph.data.check_data` compares a data set with it -- feature
counts, sequence axes, targets, class labels -- so a mismatch is a located error before JAX is
imported, never a reshape traceback or a NaN with the wrong advice ("lower the learning rate").

Imports: graph and data only (no compiler): the command line runs it before training starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import networkx as nx

from ..cells.features import token_range
from ..data.check import check_data
from ..data.layout import BITS, CLASSES, LABELS, OTHER, VALUES, Layout, Slot, Target
from ..errors import SourceLoc
from .capsules import class_capsules
from .checks import loss_name
from .rules import LOSSES, RULES, adversaries, drawn_sources, fed_back_inputs

TARGET_KINDS: Final = {
    "cross_entropy": CLASSES,
    "margin": CLASSES,
    "bce": BITS,
    "mse": VALUES,
    "mae": VALUES,
    "huber": VALUES,
}
"""How each loss of one output reads its targets (see :mod:`cellgraph.data.layout`); a loss not
here reads class labels (its record's ``labels``) or something the data layer does not check."""

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


def per_output_losses(train: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``train.loss`` written per output group (Keras's ``loss={"cls": ..., "reg": ...}``): a
    mapping without ``name``, each value a loss name or ``{name: ..., weight: w, option: value}``."""
    loss = train.get("loss")
    return loss if isinstance(loss, Mapping) and "name" not in loss else None


def own_loss(graph: nx.DiGraph, node: str) -> tuple[str | None, dict[str, Any], float]:
    """(loss name or None, its options, weight) that output ``node`` has for itself: its entry in a
    per-output ``train.loss``, else its own ``loss:`` / ``loss_weight:`` options. None: it trains
    with the network's ``train.loss`` (or its activation's default)."""
    spec = graph.graph.get("spec")
    options = graph.nodes[node].get("options", {})
    weight = float(options.get("loss_weight", 1.0))
    entry = (per_output_losses(spec.train) or {}).get(node) if spec is not None else None
    if isinstance(entry, str):
        return entry, {}, weight
    if isinstance(entry, Mapping):
        rest = {k: v for k, v in entry.items() if k not in ("name", "weight")}
        return str(entry.get("name")), rest, float(entry.get("weight", weight))
    return options.get("loss"), {}, weight


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
        record = LOSSES.get(output_loss(own_loss(graph, node)[0] or name, options.get("activation", "linear")))
        if record is not None and record.labels and attrs.get("shape"):
            yield node


def check_data_fits(graph: nx.DiGraph, data: Any) -> None:
    """Raise a located :class:`~cellgraph.errors.SpecError` for every way ``data`` does not fit
    ``graph``: :func:`cellgraph.data.check_data` (kept under this name for its callers)."""
    check_data(graph, data)


def supervised_outputs(graph: nx.DiGraph) -> tuple[list[str], dict[str, str]]:
    """(outputs scored against the data's targets, {other output: why it takes none}), in graph order.

    The JAX-free twin of ``cellgraph.compiler.losses.scored_outputs``: ``train.target`` keeps only
    the output it names; an output that reconstructs a group is scored against that group.
    """
    spec = graph.graph.get("spec")
    chosen = spec.train.get("target") if spec is not None else None
    sources = [n for n, d in graph.nodes(data=True) if d.get("cell") is not None and d["cell"].is_source]
    supervised: list[str] = []
    others: dict[str, str] = {}
    scored = class_capsules(graph)  # a capsule network's class capsules read the labels (by their lengths)
    for node, attrs in graph.nodes(data=True):
        cell = attrs.get("cell")
        if node == scored:
            supervised.append(node)
        if cell is None or not cell.is_output:
            continue
        options = attrs.get("options", {})
        if chosen is not None and node != chosen:
            others[node] = f"`train.target: {chosen}` scores only `{chosen}`"
        elif trains_on_labels(cell, options):
            supervised.append(node)
        else:
            same = [s for s in sources if graph.nodes[s].get("origin") == attrs.get("origin")]
            goal = options.get("target") or next(iter(same or sources), None)
            others[node] = f"it reconstructs `{goal}`" if goal else "it reconstructs an input"
    return supervised, others


def data_layout(graph: nx.DiGraph) -> Layout:
    """What ``graph`` reads from a data set, with the spec locations (see the module docstring)."""
    spec = graph.graph.get("spec")
    train: Mapping[str, Any] = spec.train if spec is not None else {}
    name = loss_name(train.get("loss"))
    rule = train.get("rule") or "backprop"
    supervised, others = supervised_outputs(graph)
    inputs: list[Slot] = []
    targets: list[Target] = []
    groups: dict[str, tuple[SourceLoc, str]] = {}
    drawn = drawn_sources(graph)
    fed_back = fed_back_inputs(graph)
    gan = adversaries(graph)
    for node, attrs in graph.nodes(data=True):
        cell = attrs.get("cell")
        groups[node] = (attrs.get("loc") or SourceLoc("<spec>"), attrs.get("path", ""))
        if cell is None or attrs.get("shape") is None:
            continue
        if cell.is_source and attrs.get("options", {}).get("teacher"):
            continue  # teacher forcing: fed its output's targets, one step late, not data of its own
        if node in drawn or node in fed_back:
            continue  # noise the network draws, or a group's previous values fed back: the data hold none
        if gan is not None and node == gan.sample:  # real samples enter where the generated ones do
            inputs.append(Slot(node, **_written(attrs), sequence_loc=None, vocab=None))
            continue
        if gan is not None and node in (*gan.generator, *gan.discriminator):
            continue  # scored by the adversarial losses, not against targets
        if cell.is_source:
            vocab = token_range(attrs.get("options", {}))
            written = _written(attrs)
            if vocab is not None:  # the data hold token ids, one per example (step), not the vectors
                written = {**written, "shape": (), "size_loc": _option_loc(attrs, "vocab") or written["loc"]}
                written["size_key"] = "vocab"
            inputs.append(Slot(node, **written, sequence_loc=_option_loc(attrs, "sequence"), vocab=vocab))
        elif node in supervised:
            options = attrs.get("options", {})
            activation = options.get("activation", "linear")
            loss = output_loss(own_loss(graph, node)[0] or name, activation)
            record = LOSSES.get(loss)
            kind = TARGET_KINDS.get(loss) or (LABELS if record is not None and record.labels else OTHER)
            written = _written(attrs)
            if cell.vector_valued:  # class capsules: one length (class score) per capsule
                written["shape"] = written["shape"][:-1]
            targets.append(Target(node, **written, loss=loss, kind=kind, activation=activation))
    known = RULES.get(rule) if isinstance(rule, str) else None
    for fed in known.fed(graph) if known is not None and known.fed is not None else ():
        # a rule's own scoring reads these too (a chain's walk, a Hopfield net's stored patterns)
        attrs = graph.nodes[fed.group]
        written = {**_written(attrs), "timed": fed.timed}
        if fed.role == "x" and all(s.group != fed.group for s in inputs):
            inputs.append(Slot(fed.group, **written, sequence_loc=None, vocab=None))
        elif fed.role == "y" and all(t.group != fed.group for t in targets):
            targets.append(Target(fed.group, **written, loss=str(rule), kind=fed.kind, fixed=True))
    file = spec.file if spec is not None else "<spec>"
    folder = Path(file).parent if spec is not None and file and Path(file).exists() else None
    return Layout(
        inputs=tuple(inputs),
        targets=tuple(targets),
        untargeted=others,
        groups=groups,
        strict=known is not None and known.name == "backprop",
        rule=str(rule),
        file=file,
        where=spec.doc.key_loc(("cells",)) if spec is not None else SourceLoc("<spec>"),
        data_block=dict(spec.data) if spec is not None else {},
        data_where=spec.doc.key_loc(("data",)) if spec is not None else None,
        block_loc=spec.loc if spec is not None else None,
        folder=folder,
        allow=tuple(graph.graph.get("allow", ())),
    )


def _written(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A group's shape and where the spec writes it (its `size:` or `shape:` when given)."""
    loc = attrs.get("loc") or SourceLoc("<spec>")
    written = attrs.get("spec")
    locs: Mapping[str, SourceLoc] = getattr(written, "option_locs", {}) or {}
    key = next((k for k in ("size", "shape") if k in locs), "")
    return {
        "shape": tuple(int(d) for d in attrs["shape"]),
        "timed": bool(attrs.get("timed")),
        "loc": loc,
        "path": attrs.get("path", ""),
        "size_loc": locs.get(key, loc) if key else loc,
        "size_key": key,
    }


def _option_loc(attrs: Mapping[str, Any], option: str) -> SourceLoc | None:
    locs: Mapping[str, SourceLoc] = getattr(attrs.get("spec"), "option_locs", {}) or {}
    return locs.get(option)
