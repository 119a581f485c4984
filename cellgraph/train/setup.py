"""Settling a run before it starts: its settings, the model and data it trains on, the splits.

``loop.train`` calls these once; they turn what a user passed (a spec file, a Spec, a graph or a
compiled model; a data set or the spec's `data:` block; keyword settings over the spec's
`train:` block) into plain values the loop can rely on: among them the validation split
(:func:`validation_split`) and early stopping's settled options (:class:`EarlyStopping`), refused
before any step when there is no validation split or the watched figure is not reported.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import jax
import networkx as nx
import numpy as np

from ..errors import spec_error
from ..graph.rules import EARLY_STOPPING, RULES, TRAIN_KEYS, early_stopping_problems, watched_mode
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
    for key, low in (("epochs", 1), ("steps", 1), ("batch_size", 1), ("seed", 0), ("eval_every", 1), ("devices", 1)):
        value = cfg.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise TrainingError(f"{key} must be an integer >= {low}, got {value!r}")
    problem = TRAIN_KEYS["validation"].kind.check(given["validation"]) if given.get("validation") is not None else None
    if problem:
        raise TrainingError(f"validation: {problem}; give the fraction of training rows held out, e.g. validation=0.1")
    cfg["early_stopping"] = _stopping_settings(spec_train.get("early_stopping"), given.get("early_stopping"))
    if cfg["early_stopping"] is not None and int(cfg.get("eval_every") or 1) > 1:
        raise TrainingError(
            "early stopping watches a score after every epoch, and `eval_every` skips epochs; "
            "remove `eval_every` (or early stopping)"
        )
    return cfg


@dataclass(frozen=True)
class EarlyStopping:
    """Early stopping's settled options (``train.early_stopping``, see
    :data:`cellgraph.graph.rules.EARLY_STOPPING`); ``mode`` is ``min`` or ``max``, never ``auto``."""

    metric: str
    patience: int
    min_delta: float
    mode: str
    restore_best: bool

    def improves(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta`` (a non-finite value never does)."""
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta


def stopping(cfg: Mapping[str, Any]) -> EarlyStopping | None:
    """The run's early stopping, from the settled ``cfg["early_stopping"]`` (None: off)."""
    chosen = cfg.get("early_stopping")
    return EarlyStopping(**chosen) if chosen else None


def _stopping_settings(in_spec: Any, given: Any) -> dict[str, Any] | None:
    """``early_stopping`` as every option, ``mode`` resolved: the argument's options over the spec's.

    Each side may be a mapping, a patience (``5``), ``True`` (the defaults) or ``False``/None (off;
    an argument of None leaves the spec's). The spec's value was checked by validation; the
    argument's is checked here.
    """
    for key, problem, fix in early_stopping_problems(given):
        raise TrainingError(f"early_stopping{'.' + key if key else ''}: {problem}; {fix}")
    if given is False or (given is None and (in_spec is None or in_spec is False)):
        return None
    merged = {**_as_options(in_spec), **_as_options(given)}
    chosen = {k: merged.get(k, o.default) for k, o in EARLY_STOPPING.items()}
    chosen["mode"] = watched_mode(chosen["metric"], chosen["mode"])
    chosen["min_delta"] = float(chosen["min_delta"])
    return chosen


def _as_options(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return {"patience": value}
    return {}


def require_validation(spec: Any, stops: EarlyStopping | None, validated: bool) -> None:
    """Early stopping without a validation split is refused: it would have to choose the epoch on
    the test split (whose figures would then be optimistic) or on the training split (which keeps
    improving while the network overfits). Located at the spec's ``early_stopping`` when it is there."""
    if stops is None or validated:
        return
    message = f"early stopping on {stops.metric} needs a validation split"
    if spec is not None and "early_stopping" in spec.train:
        raise spec_error(
            spec.loc(("train", "early_stopping")),
            "train.early_stopping",
            message,
            "hold out part of the training data: add `validation: 0.1` to the train block "
            "(--validation 0.1, validation=0.1), or pass validation_data=",
        )
    raise TrainingError(f"{message}: pass validation=0.1 (--validation 0.1) or validation_data=(x, y)")


def check_watched(spec: Any, stops: EarlyStopping, names: list[str], *, given: Any = None) -> None:
    """The watched figure is one the validation split reports (``names``), before any step: a
    metric the network does not compute (``val_r2`` of a classifier) is refused, located at the
    spec's ``early_stopping`` when the metric is the spec's (``given``: the call's value)."""
    if stops.metric in names:
        return
    message = f"early stopping watches {stops.metric}, which this network does not report"
    fix = f"watch one of: {', '.join(sorted(names))}"
    from_call = isinstance(given, Mapping) and "metric" in given
    if spec is not None and "early_stopping" in spec.train and not from_call:
        raise spec_error(spec.loc(("train", "early_stopping")), "train.early_stopping.metric", message, fix)
    raise TrainingError(f"{message}; {fix}")


def resolve(
    target: Any,
    data: Any,
    overrides: Mapping[str, Any] | None,
    *,
    test_data: Any = None,
    validation_data: Any = None,
) -> tuple[Any, Any, Any]:
    """(model, spec or None, data set) from whatever ``train`` was given.

    The data is settled and checked against the graph before the model compiles: a mismatch
    (:func:`cellgraph.data.check_data`) is a located error before any JAX work. ``data`` may be
    anything :func:`cellgraph.data.as_dataset` reads (a data set, ``(x, y)``, a mapping by group,
    an ``.npz``/``.csv`` path, a DataFrame) or None for the spec's ``data:`` block; ``test_data``
    is explicit test data in the same forms, ``validation_data`` explicit validation rows (every
    row of it; it becomes the data set's ``x_val``/``y_val``).
    """
    compiled = callable(getattr(target, "init", None)) and callable(getattr(target, "loss", None))
    graph: Any
    if compiled:
        if overrides:
            raise TrainingError("params_override applies to a spec file; this model is compiled already")
        graph = getattr(target, "graph", None)
    else:
        graph = graph_of(target, overrides)
    spec = graph.graph.get("spec") if isinstance(graph, nx.DiGraph) else None
    if spec is not None:
        from ..graph.checks import refuse_planned

        refuse_planned(spec)  # a planned loss or metric: its located error, before any data loads
    if isinstance(graph, nx.DiGraph):
        from ..data import as_dataset, check_data

        if data is None and (spec is None or not spec.data):
            raise TrainingError("no data to train on: pass data=..., or give the spec a `data:` block")
        data = as_dataset(data, graph, test_data=test_data)
        if validation_data is not None:
            data = _with_validation(data, validation_data, graph)
        check_data(graph, data)  # shapes, targets, labels against the groups: located errors, before JAX work
    else:
        data = _own_model_data(data, test_data, validation_data)
    if compiled:
        model = target
    else:
        from ..compiler import compile as compile_graph  # the compiler: heavy, and only needed here

        model = compile_graph(graph)
    return model, spec, data


def _own_model_data(data: Any, test_data: Any, validation_data: Any = None) -> Any:
    """A model of one's own (no graph): a data set as it is, or ``(x, y)`` arrays split as usual."""
    if data is None:
        raise TrainingError("no data to train on: pass data=...")
    if isinstance(data, tuple) and len(data) in (1, 2):
        from ..data import dataset_from_arrays

        data = dataset_from_arrays(data[0], data[1] if len(data) == 2 else None)
    if test_data is not None:
        raise TrainingError("test_data= needs a model compiled from a spec; split the data set yourself")
    if validation_data is not None:
        raise TrainingError(
            "validation_data= needs a model compiled from a spec; give a data set with x_val and y_val, "
            "or validation=0.1"
        )
    return data


def _with_validation(data: Any, rows_given: Any, graph: nx.DiGraph) -> Any:
    """The data set with every row of ``rows_given`` as its validation part (``x_val``/``y_val``)."""
    from ..data import as_dataset

    if hasattr(rows_given, "x_train") and hasattr(rows_given, "x_test"):
        raise TrainingError(
            "validation_data takes the validation rows themselves ((x, y), a mapping by group, a file or a "
            "DataFrame), not a data set split in parts; e.g. validation_data=(ds.x_test, ds.y_test)"
        )
    if getattr(data, "x_val", None) is not None:
        raise TrainingError("the data carry a validation part already (x_val): drop validation_data=")
    held = as_dataset(rows_given, graph, test=0)  # every row, checked against the spec
    return replace(data, x_val=held.x_train, y_val=held.y_train)


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


def splits(
    data: DatasetLike, model: Any, step_mask: bool = False, where: str = ""
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The training and test splits as batches keyed by group (``model.batch``); a model of
    one's own without ``batch`` gets ``{"inputs": x, "targets": y}`` (no targets: unsupervised).

    With ``step_mask`` (``train.step_mask: data``) each batch also carries ``"weights"``: per
    sequence output, the data set's mask of the steps that are scored (``meta["mask_train"]``,
    ``meta["mask_test"]``), which the loss and the metrics then average over; ``where`` locates
    the setting for the error when the data have no such mask.
    """

    def split(x: Any, y: Any, name: str, part: str) -> dict[str, Any] | None:
        if x is None:
            return None
        tree = _batch_of(model, x, y)
        if step_mask:
            tree = {**tree, "weights": _step_weights(data, model, tree, part, where)}
        return tree if _length(tree, name) else None

    train_set = split(data.x_train, data.y_train, "training", "train")
    if train_set is None:
        raise TrainingError("the training split is empty")
    return train_set, split(getattr(data, "x_test", None), getattr(data, "y_test", None), "test", "test")


def _step_weights(data: DatasetLike, model: Any, batch: Mapping[str, Any], part: str, where: str) -> dict[str, Any]:
    """``{output: (n, T) bool}``: the data set's scored steps, for each target with a step axis."""
    meta = getattr(data, "meta", None) or {}
    mask = meta.get(f"mask_{part}")
    if mask is None:
        raise TrainingError(
            f"{where}train.step_mask: data, and the data set marks no scored steps (its meta has no "
            f"'mask_{part}': copy_task and reversal have one); fix: step_mask: none"
        )
    mask = np.asarray(mask, bool)
    return {
        o: mask for o, t in (batch.get("targets") or {}).items() if np.ndim(t) >= 2 and np.shape(t)[:2] == mask.shape
    }


def validation_split(
    data: DatasetLike, model: Any, train_set: dict[str, Any], fraction: float | None, seed: int, *, asked: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(training rows, validation rows or None): the data set's own validation part, else
    ``fraction`` of the training rows held out with ``seed``.

    The rows held out are those :func:`cellgraph.data.as_dataset` would hold out for
    ``validation=fraction, seed=seed`` (the same recipe, on the batches), so a run may be repeated
    by hand. Explicit validation rows (``x_val`` of the data set, ``validation_data=``) win over a
    fraction in the spec; a fraction passed to ``train`` (``asked``) with them is refused.
    """
    x_val = getattr(data, "x_val", None)
    if x_val is not None:
        if asked and fraction is not None:
            raise TrainingError(
                f"validation={fraction} holds out part of the training rows, but the data carry validation rows "
                "already (x_val, validation_data=): give one of the two"
            )
        held = _batch_of(model, x_val, getattr(data, "y_val", None))
        if not _length(held, "validation"):
            raise TrainingError("the validation split is empty")
        return train_set, held
    if fraction is None:
        return train_set, None
    from ..data.dataset import split_indices

    n = rows(train_set)
    if n < 2:
        raise TrainingError(f"the training part has {n} example(s): too few to hold out a validation part")
    n_val = min(max(round(n * fraction), 1), n - 1)
    keep, val = split_indices(n, n_val, np.random.default_rng(np.random.SeedSequence([seed, 2])))
    return _take(train_set, keep), _take(train_set, val)


def _take(tree: Any, index: np.ndarray) -> Any:
    return jax.tree.map(lambda a: np.asarray(a)[index], tree)


def _batch_of(model: Any, x: Any, y: Any) -> dict[str, Any]:
    """``model.batch(x, y)`` (``{"inputs": x, "targets": y}`` for a model of one's own)."""
    return (getattr(model, "batch", None) or _plain_batch)(x, y)


def _length(tree: Any, name: str) -> int:
    """The rows of every leaf of ``tree`` (0: none, or scalars only); leaves that differ are refused."""
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else 0 for leaf in jax.tree.leaves(tree)}
    if len(sizes) != 1:
        raise TrainingError(f"the {name} split's arrays differ in length: {sorted(sizes)}")
    return sizes.pop()


def _plain_batch(x: Any, y: Any) -> dict[str, Any]:
    return {"inputs": x} if y is None else {"inputs": x, "targets": y}


def rows(tree: Mapping[str, Any]) -> int:
    return int(np.shape(jax.tree.leaves(tree)[0])[0])


def with_factors(train_set: dict[str, Any], data: Any, factors: Mapping[str, Any], spec: Any) -> dict[str, Any]:
    """The training rows with their true factors (``train.factors``), one float32 column per factor
    of ``factors['units']``, in its order: from the data set's ``meta['factors_train']`` and
    ``meta['factor_names']`` (the ``moving_squares`` source has them).

    Raises:
        SpecError: (located at ``train.factors``) data without those factors.
    """
    meta = getattr(data, "meta", None) or {}
    table, names = meta.get("factors_train"), tuple(meta.get("factor_names") or ())
    wanted = list(factors["units"])
    missing = [f for f in wanted if f not in names]
    if table is None or missing:
        message = (
            "the data carry no factors (meta['factors_train'])"
            if table is None
            else f"the data have no factor {missing[0]!r} (they have: {', '.join(names) or 'none'})"
        )
        fix = "name the data's factors under `units:`, or train on a source that has them (moving_squares)"
        if spec is None:
            raise TrainingError(f"train.factors: {message}; {fix}")
        raise spec_error(spec.loc(("train", "factors")), "train.factors", message, fix)
    table = np.asarray(table)
    if len(table) != rows(train_set):
        raise TrainingError(f"train.factors: {len(table)} rows of factors for {rows(train_set)} training rows")
    columns = [names.index(f) for f in wanted]
    return {**train_set, "factors": table[:, columns].astype(np.float32)}
