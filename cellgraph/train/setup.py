"""Settling a run before it starts: its settings, the model and data it trains on, the splits.

``loop.train`` calls these once; they turn what a user passed (a spec file, a Spec, a graph or a
compiled model; a data set or the spec's `data:` block; keyword settings over the spec's
`train:` block) into plain values the loop can rely on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import jax
import networkx as nx
import numpy as np

from ..graph.rules import RULES, TRAIN_KEYS
from .state import TrainingError


class DatasetLike(Protocol):
    """What training reads of a data set (``cellgraph.data.Dataset`` has it)."""

    @property
    def x_train(self) -> Any: ...
    @property
    def y_train(self) -> Any: ...
    @property
    def x_test(self) -> Any: ...
    @property
    def y_test(self) -> Any: ...


def settings(spec_train: Mapping[str, Any], **given: Any) -> dict[str, Any]:
    """The run's settings: arguments over the spec's ``train:`` block over the defaults (the
    ``train:`` keys' and the rule's options', from :mod:`cellgraph.graph.rules`)."""
    rule = given.get("rule") or spec_train.get("rule") or TRAIN_KEYS["rule"].default
    known = RULES.get(rule) if isinstance(rule, str) else None
    cfg = {k: o.default for k, o in TRAIN_KEYS.items()}
    cfg.update({k: o.default for k, o in known.options.items()} if known is not None else {})
    cfg.update(spec_train)
    if given.get("epochs") is not None and given.get("steps") is not None:
        raise TrainingError("give epochs or steps, not both")
    if given.get("steps") is not None:
        cfg["epochs"] = None
    elif given.get("epochs") is not None or "steps" not in spec_train:
        cfg["steps"] = None
    cfg.update({k: v for k, v in given.items() if v is not None})
    if known is not None and not known.uses_optimizer:
        extra = [k for k in ("optimizer", "grad_clip") if given.get(k) is not None]
        if extra:
            raise TrainingError(f"rule {rule!r} has its own update and no optimizer: drop {' and '.join(extra)}")
    for key, low in (("epochs", 1), ("steps", 1), ("batch_size", 1), ("seed", 0)):
        value = cfg.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise TrainingError(f"{key} must be an integer >= {low}, got {value!r}")
    return cfg


def resolve(target: Any, data: DatasetLike | None, overrides: Mapping[str, Any] | None) -> tuple[Any, Any, Any]:
    """(model, spec or None, data set) from whatever ``train`` was given."""
    if callable(getattr(target, "init", None)) and callable(getattr(target, "loss", None)):
        if overrides:
            raise TrainingError("params_override applies to a spec file; this model is compiled already")
        model, graph = target, getattr(target, "graph", None)
    else:
        graph = graph_of(target, overrides)
        from ..compiler import compile as compile_graph  # the compiler: heavy, and only needed here

        model = compile_graph(graph)
    spec = graph.graph.get("spec") if isinstance(graph, nx.DiGraph) else None
    if spec is not None:
        from ..graph.checks import refuse_planned

        refuse_planned(spec)  # a planned loss or metric: its located error, before any data loads
    if data is None:
        if spec is None or not spec.data:
            raise TrainingError("no data to train on: pass data=..., or give the spec a `data:` block")
        from ..data import load_dataset

        folder = Path(spec.file).parent if spec.file and Path(spec.file).exists() else None
        allow = graph.graph.get("allow", ()) if isinstance(graph, nx.DiGraph) else ()
        data = load_dataset(spec.data, folder, allow=allow)
    if isinstance(graph, nx.DiGraph):
        from ..graph.fit import check_data_fits

        check_data_fits(graph, data)  # labels beyond the output units: a located error, not a NaN
    return model, spec, data


def graph_of(target: Any, overrides: Mapping[str, Any] | None) -> nx.DiGraph:
    from ..graph import build_graph, load_graph
    from ..spec.model import Spec

    if isinstance(target, nx.DiGraph):
        return target
    if isinstance(target, Spec):
        return build_graph(target)
    if isinstance(target, str | os.PathLike):
        return load_graph(os.fspath(target), overrides)
    raise TrainingError(f"cannot train a {type(target).__name__}: give a compiled model, a Spec or a spec file")


def splits(data: DatasetLike, model: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The training and test splits as batches keyed by group (``model.batch``); a model of
    one's own without ``batch`` gets ``{"inputs": x, "targets": y}`` (no targets: unsupervised)."""
    to_batch = getattr(model, "batch", None) or _plain_batch

    def split(x: Any, y: Any, name: str) -> dict[str, Any] | None:
        if x is None:
            return None
        tree = to_batch(x, y)
        sizes = {np.shape(leaf)[0] if np.ndim(leaf) else 0 for leaf in jax.tree.leaves(tree)}
        if len(sizes) != 1:
            raise TrainingError(f"the {name} split's arrays differ in length: {sorted(sizes)}")
        return tree if sizes != {0} else None

    train_set = split(data.x_train, data.y_train, "training")
    if train_set is None:
        raise TrainingError("the training split is empty")
    return train_set, split(getattr(data, "x_test", None), getattr(data, "y_test", None), "test")


def _plain_batch(x: Any, y: Any) -> dict[str, Any]:
    return {"inputs": x} if y is None else {"inputs": x, "targets": y}


def rows(tree: Mapping[str, Any]) -> int:
    return int(np.shape(jax.tree.leaves(tree)[0])[0])
