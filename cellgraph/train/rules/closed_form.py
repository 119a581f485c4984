"""Read-outs solved once beside backprop: the outputs that say ``rule: ridge`` (or ``least_squares``).

A spec may train a fixed reservoir's ridge read-out next to a head that backprop trains
(``y: {type: output, activation: linear, rule: ridge}`` under ``train.rule: backprop``). Validation
makes sure such an output is linear, reads only fixed groups and feeds no group backprop trains, so
its features never move: its weights are solved once, before the first update, on the whole
training set (:func:`make_prepare`, the rule's ``prepare``), and the optimizer leaves them
(the model's ``trainable_mask``). The solve is the read-out rules' own: the states are collected
by :func:`.ridge.make_collector` (with teacher forcing when ``train.teacher_forcing`` asks), the
washout dropped and the weights solved by :func:`.ridge.fit_ridge` (``least_squares``: its
``ridge`` penalty, no washout).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from ...graph.rules import RULES, closed_form_groups
from ..state import TrainingError, TrainState
from ..step import Batch
from .protocol import RunInfo, program_of
from .ridge import fit_ridge, make_collector

Prepare = Callable[[TrainState, Batch], TrainState]


def _solver(rule: str, cfg: Mapping[str, Any]) -> tuple[float, int, bool]:
    """(penalty, washout, teacher forcing) of a closed-form rule, from the train block or its defaults."""
    opts = {k: cfg.get(k, o.default) for k, o in RULES[rule].options.items()}
    if rule == "ridge":
        return float(opts["alpha"]), int(opts["washout"]), bool(opts["teacher_forcing"])
    return float(opts["ridge"]), 0, False


def make_prepare(model: Any, cfg: Mapping[str, Any], info: RunInfo) -> Prepare | None:
    """The ``prepare`` that solves the model's closed-form outputs (None: it has none)."""
    graph = getattr(model, "graph", None)  # a model built by hand has no graph, and no such outputs
    groups = closed_form_groups(graph) if graph is not None else {}
    if not groups:
        return None
    by_rule: dict[str, tuple[str, ...]] = {}
    for group, rule in groups.items():
        by_rule[rule] = (*by_rule.get(rule, ()), group)
    collectors = {f: program_of(info, f"collect-{f}", make_collector(model, f)) for f in (False, True)}

    def prepare(state: TrainState, train_set: Batch) -> TrainState:
        params = state.params
        for rule, outputs in by_rule.items():
            alpha, washout, forcing = _solver(rule, cfg)
            values = collectors[forcing](params, train_set["inputs"], train_set["targets"])
            solved = fit_ridge(
                model,
                params,
                values,
                train_set["targets"],
                alpha=alpha,
                washout=washout,
                classes=info.classes,
                outputs=outputs,
            )
            params = {**params, **{o: _same_layout(o, solved[o], params[o]) for o in outputs}}
        return state.replace(params=params)

    return prepare


def _same_layout(group: str, solved: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """The solved parameters, checked to have the layout the step programs were compiled for.

    Raises:
        TrainingError: the group's parameters are not one kernel and a bias (several inputs).
    """
    if set(solved) != set(before) or any(np.shape(solved[k]) != np.shape(before[k]) for k in before):
        raise TrainingError(
            f"'{group}' is solved in closed form as one kernel and a bias, and its parameters are "
            f"{sorted(before)}; fix: read it from one group (e.g. `r -> {group}`)"
        )
    return {k: jax.numpy.asarray(solved[k], before[k].dtype) for k in before}


__all__ = ["make_prepare"]
