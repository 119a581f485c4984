"""Learning rules: each one an ``(init, update)`` pair (:mod:`.protocol`), found by name here.

:data:`IMPLEMENTATIONS` is the one table from a ``train.rule`` name to the function that makes the
rule, as ``"module:function"`` text imported only when a run asks for that rule, so the loop
imports no rule module and a rule module loads nothing until it trains. What validation knows of
a rule (its options, their defaults, what it needs from the graph) stays in
:data:`cellgraph.graph.rules.RULES`, JAX-free; a name known there but absent here is *planned*,
and refused at train time with an error that points at ``train.rule`` in the spec.

Adding a rule is one new module and one line here (or :func:`register_rule` from outside).
"""

from __future__ import annotations

import importlib
from typing import Final

from ...errors import SourceLoc, did_you_mean, spec_error
from ...graph.rules import RULES as KNOWN  # what validation knows of each rule (JAX-free)
from ..state import TrainingError
from .protocol import Feed as Feed
from .protocol import Rule as Rule
from .protocol import RuleMaker as RuleMaker
from .protocol import RunInfo as RunInfo
from .protocol import one_shot as one_shot

IMPLEMENTATIONS: Final[dict[str, str | RuleMaker]] = {
    "backprop": "cellgraph.train.rules.backprop:backprop",
    "perceptron": "cellgraph.train.rules.perceptron:perceptron",
    "least_squares": "cellgraph.train.rules.least_squares:least_squares",
    "adversarial": "cellgraph.train.rules.adversarial:adversarial",
    "hebbian": "cellgraph.train.rules.hebbian:hebbian",
    "boltzmann": "cellgraph.train.rules.boltzmann:boltzmann",
    "counting": "cellgraph.train.rules.counting:counting",
    "contrastive_divergence": "cellgraph.train.rules.rbm:contrastive_divergence",
    "greedy_layerwise": "cellgraph.train.rules.layerwise:greedy_layerwise",
    "som": "cellgraph.train.rules.som:som",
    "ridge": "cellgraph.train.rules.ridge:ridge",
}
"""``train.rule`` name -> ``"module:function"`` (imported on first use) or the function itself."""


def register_rule(name: str, make: RuleMaker, *, replace: bool = False) -> RuleMaker:
    """Make ``name`` train with ``make``; returns ``make``, so it also works as a decorator's body.

    Raises:
        ValueError: ``name`` is taken (``replace=True`` swaps it).
    """
    if name in IMPLEMENTATIONS and not replace:
        raise ValueError(f"rule {name!r} is registered already; pass replace=True to swap it")
    IMPLEMENTATIONS[name] = make
    return make


def get_rule(name: str, loc: SourceLoc | None = None) -> RuleMaker:
    """The maker of rule ``name``, imported now.

    Raises:
        SpecError: (with ``loc``, the place of ``train.rule`` in the spec) a planned or unknown rule.
        TrainingError: the same without ``loc`` (a rule given as an argument).
    """
    target = IMPLEMENTATIONS.get(name)
    if target is None:
        raise _refusal(name, loc)
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        IMPLEMENTATIONS[name] = target
    return target


def _refusal(name: str, loc: SourceLoc | None) -> Exception:
    trainable = ", ".join(sorted(IMPLEMENTATIONS))
    if name in KNOWN:
        message = f"rule {name!r} is planned: its trainer is not implemented yet"
    else:
        known = sorted({*KNOWN, *IMPLEMENTATIONS})
        message = f"unknown rule {name!r}{did_you_mean(name, known)}"
    fix = f"train with one of the rules implemented now: {trainable}"
    if loc is None:
        return TrainingError(f"train.rule: {message}; {fix}")
    return spec_error(loc, "train.rule", message, fix)


__all__ = ["IMPLEMENTATIONS", "Feed", "Rule", "RuleMaker", "RunInfo", "get_rule", "one_shot", "register_rule"]
