"""Views of networks trained by their own classic rules: one module per network family, each with
``view(result, path, **options) -> Path`` drawing the picture its users look at (Hopfield recall,
RBM samples and filters, the SOM over its data, ESN free-running prediction, the Markov chain's
estimated transition matrix). ``cellgraph view`` picks the module by the spec's rule
(:data:`VIEWS`). matplotlib is imported only when a view is drawn.
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


def rule_of(graph: Any) -> str:
    """The ``train.rule`` of a graph's spec (backprop when unsaid)."""
    rule = graph.graph["spec"].train.get("rule") or "backprop"
    return str(rule)


def check_viewable(graph: Any) -> str:
    """The rule whose view draws ``graph``; a located-enough refusal (before JAX loads) otherwise."""
    rule = rule_of(graph)
    if rule not in VIEWS:
        have = ", ".join(sorted(VIEWS))
        raise CellgraphError(
            f"`cellgraph view` draws networks trained by their own classic rule ({have}); this spec trains "
            f"with `rule: {rule}`; fix: use `cellgraph sample` or `cellgraph attention` for a "
            "backprop-trained network, or `cellgraph train --curve FILE` for its training curve"
        )
    return rule


def view(result: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """Draw the view of a trained classic network (its rule's :data:`VIEWS` entry) as a PNG.

    ``result``: a :class:`~cellgraph.train.TrainResult` or a loaded model (``cellgraph.load``).
    """
    model = getattr(result, "model", None)
    if model is None:
        raise CellgraphError(f"expected cellgraph.train's result or a loaded model; got {type(result).__name__}")
    rule = check_viewable(model.graph)
    module, _, attr = VIEWS[rule].partition(":")
    drawn: Path = getattr(importlib.import_module(module), attr)(result, Path(path), **options)
    return drawn


__all__ = ["VIEWS", "check_viewable", "trained", "view"]
