"""Networks that score themselves: the evaluation of a network trained by its own classic rule.

A network trained by backprop is scored output by output against the data's targets
(:func:`.losses.make_loss`). A Hopfield net, a Boltzmann machine, an RBM, a Kohonen map or a
Markov chain has no such output: what it is judged by is its own -- recall from a noisy probe,
the exact log-likelihood of the data, the quantisation error of the map. Each such rule names
here the module that builds its :class:`Scoring`; the compiled model then evaluates (and reports
metrics) through it, so held-out evaluation, ``cellgraph evaluate`` and the training loop's
per-epoch test metrics all see the network's own figures.

:data:`SCORINGS` is the one table, rule name -> ``"module:function"``, imported when a model is
compiled for that rule. The function is ``(graph, forward, plan) -> Scoring``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import networkx as nx

from ..errors import spec_error
from ..graph.checks import format_path, metric_names
from ..graph.rules import METRICS
from .executor import Forward, Plan
from .protocol import Aux

Array = jax.Array

Scored = Callable[..., tuple[Array, dict[str, Array], dict[str, Aux]]]
"""``(params, batch, key, state) -> (loss, metrics, aux)``, as :func:`.losses.make_loss` builds it."""


@dataclass(frozen=True)
class Scoring:
    """How a network trained by its own rule is evaluated, and what its batches hold.

    Attributes:
        scored: the loss (0 where the rule has none) and the metrics of a batch.
        inputs: the groups the data's ``x`` feeds (default: the network's input groups); a clamped
            group may stand here (a Markov chain's observed states).
        targets: the groups the data's ``y`` is keyed by in a batch (what a held-out probe is
            compared with: a Hopfield net's stored pattern, a chain's next state).
        metrics: the metric names ``scored`` reports (a metric the spec asks for outside them is
            refused at its line).
        forward: the network's own forward pass, where its groups' values are not the plain
            weighted sums (a Kohonen map's units give their distance to the input); None: the
            compiled one.
        outputs: the groups ``model.apply`` and ``model.predict`` return, where the network has no
            output group (a Kohonen map returns its map); None: the output groups.
    """

    scored: Scored
    inputs: tuple[str, ...] | None = None
    targets: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    forward: Forward | None = None
    outputs: tuple[str, ...] | None = None


ScoringMaker = Callable[[nx.DiGraph, Forward, Plan], Scoring | None]
"""A maker may decline a graph (None): the network is then scored output by output."""

SCORINGS: Final[dict[str, str | ScoringMaker]] = {
    "hebbian": "cellgraph.compiler.hopfield:make_scoring",
    "boltzmann": "cellgraph.compiler.boltzmann:make_scoring",
    "contrastive_divergence": "cellgraph.compiler.rbm:make_scoring",
    "greedy_layerwise": "cellgraph.compiler.rbm:make_layerwise_scoring",
    "som": "cellgraph.compiler.som:make_scoring",
    "counting": "cellgraph.compiler.markov:make_scoring",
    "ridge": "cellgraph.compiler.reservoir:make_scoring",
}
"""``train.rule`` -> the maker of its network's :class:`Scoring`; a rule not here is scored per output."""


NETWORK_METRICS: Final = ("log_likelihood", "pseudo_likelihood", "quantization_error", "topographic_error")
"""Metrics only a network's own scoring reports (no function of one output computes them)."""


def own_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring | None:
    """The :class:`Scoring` of ``graph``'s rule, or None (scored output by output)."""
    rule = graph.graph["spec"].train.get("rule") or "backprop"
    target = SCORINGS.get(rule) if isinstance(rule, str) else None
    if target is None:
        return None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        SCORINGS[rule] = target
    scoring = target(graph, forward, plan)
    if scoring is None:  # declined: this rule's network is scored output by output
        return None
    refuse_unreported(graph, scoring.metrics)
    return scoring


def refuse_unreported(graph: nx.DiGraph, reported: tuple[str, ...]) -> None:
    """A metric the spec asks for that the network does not report is a located error."""
    spec = graph.graph["spec"]
    for path, m in metric_names(spec.train.get("metrics")):
        if m not in reported:
            rule = spec.train.get("rule")
            raise spec_error(
                spec.loc(path),
                format_path(path),
                f"metric '{m}' is not reported by a network trained with `rule: {rule}`",
                "ask for "
                + (", ".join(reported) or "no metric")
                + (f" ({METRICS[m].applies})" if m in METRICS else ""),
            )


def batch_maker(inputs: tuple[str, ...], targets: tuple[str, ...]) -> Callable[[Any, Any], dict[str, Any]]:
    """``(x, y) -> batch`` keyed by ``inputs`` and ``targets`` (one array, or a mapping by group)."""

    def make(x: Any, y: Any = None) -> dict[str, Any]:
        xs = dict(x) if isinstance(x, Mapping) else dict.fromkeys(inputs, x)
        if y is None:
            return {"inputs": xs, "targets": {}}
        ys = dict(y) if isinstance(y, Mapping) else dict.fromkeys(targets, y)
        return {"inputs": xs, "targets": ys}

    return make


__all__ = ["NETWORK_METRICS", "SCORINGS", "Scoring", "batch_maker", "own_scoring", "refuse_unreported"]
