"""Views of networks trained by their own classic rules: one module per network family, each with
``view(result, path, **options) -> Path`` drawing the picture its users look at (Hopfield recall,
RBM samples and filters, the SOM over its data, ESN free-running prediction, the Markov chain's
estimated transition matrix), or by what the network holds when it trains by backprop like most
others (:data:`HELD_VIEWS`: an NTM's or DNC's memory at work, a capsule network's class capsules).
``cellgraph view`` picks the module by the spec's rule (:data:`VIEWS`), else by what it holds.
matplotlib is imported only when a view is drawn.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..errors import CellgraphError

VIEWS: Final[dict[str, str]] = {
    "hebbian": "cellgraph.views.hopfield:view",
    "boltzmann": "cellgraph.views.boltzmann:view",
    "counting": "cellgraph.views.markov:view",
    "contrastive_divergence": "cellgraph.views.rbm:view",
    "greedy_layerwise": "cellgraph.views.rbm:view",
    "som": "cellgraph.views.som:view",
    "ridge": "cellgraph.views.reservoir:view",
}
"""``train.rule`` -> ``"module:function"`` of its view."""

HELD_VIEWS: Final[dict[str, str]] = {
    "external memory": "cellgraph.views.memory:view",
    "class capsules": "cellgraph.views.capsules:view",
}
"""What a backprop-trained network holds (:func:`held`) -> ``"module:function"`` of its view."""


def trained(result: Any, options: Mapping[str, Any], *, view: str, takes: str, network: str) -> tuple[Any, Any]:
    """``(model, params)`` of a trained ``result``, after refusing options the view does not take.

    Every view starts here, so a misspelt option or a wrong object is one clear error, the same
    in every view (``view``: its name; ``takes``: its options in words; ``network``: what it draws).
    """
    if options:
        raise CellgraphError(f"the {view} view takes {takes}; unknown option(s): {', '.join(sorted(options))}")
    model, params = getattr(result, "model", None), getattr(result, "params", None)
    if model is None or params is None:
        raise CellgraphError(f"expected a trained {network} (cellgraph.train's result); got {type(result).__name__}")
    return model, params


def held_out_pair(data: Any) -> tuple[Any, Any]:
    """``(x, y)`` a view draws: a :class:`~cellgraph.data.Dataset`'s held-out part (its training
    part when none is held out), or the ``(x, y)`` pair given as it is."""
    if hasattr(data, "x_train"):
        held = data.x_test is not None and len(data.x_test)
        return (data.x_test, data.y_test) if held else (data.x_train, data.y_train)
    x, y = data
    return x, y


def rule_of(graph: Any) -> str:
    """The ``train.rule`` of a graph's spec (backprop when unsaid)."""
    rule = graph.graph["spec"].train.get("rule") or "backprop"
    return str(rule)


def held(graph: Any) -> str | None:
    """What of :data:`HELD_VIEWS` a graph holds: a memory group read and written by heads
    (``slots:`` and ``addressing:``), or class capsules scored by the margin loss; else None."""
    from ..graph.capsules import class_capsules

    for _, d in graph.nodes(data=True):
        options = d.get("options", {})
        if options.get("slots") is not None and options.get("addressing") is not None:
            return "external memory"
    return "class capsules" if class_capsules(graph) is not None else None


def check_viewable(graph: Any) -> str:
    """Which view draws ``graph``: its rule (a :data:`VIEWS` key) or what it holds (a
    :data:`HELD_VIEWS` key); a refusal before JAX loads when there is none."""
    rule = rule_of(graph)
    if rule in VIEWS:
        return rule
    what = held(graph)
    if what is None:
        have = ", ".join(sorted(VIEWS))
        raise CellgraphError(
            f"`cellgraph view` draws networks trained by their own classic rule ({have}) and networks with "
            f"an external memory or class capsules; this spec trains with `rule: {rule}` and has neither; fix: "
            "use `cellgraph sample` or `cellgraph attention` for a backprop-trained network, or "
            "`cellgraph train --curve FILE` for its training curve"
        )
    return what


def describe(viewable: str) -> str:
    """:func:`check_viewable`'s answer in words: what the view shows the network as."""
    return f"a network trained with `rule: {viewable}`" if viewable in VIEWS else f"a network's {viewable}"


def view(result: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """Draw the view of a trained network (its rule's :data:`VIEWS` entry, else :data:`HELD_VIEWS`') as a PNG.

    ``result``: a :class:`~cellgraph.train.TrainResult` or a loaded model (``cellgraph.load``).
    """
    model = getattr(result, "model", None)
    if model is None:
        raise CellgraphError(f"expected cellgraph.train's result or a loaded model; got {type(result).__name__}")
    viewable = check_viewable(model.graph)
    module, _, attr = {**VIEWS, **HELD_VIEWS}[viewable].partition(":")
    drawn: Path = getattr(importlib.import_module(module), attr)(result, Path(path), **options)
    return drawn


__all__ = ["HELD_VIEWS", "VIEWS", "check_viewable", "describe", "held", "held_out_pair", "trained", "view"]
