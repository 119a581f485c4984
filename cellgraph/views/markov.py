"""A Markov chain's estimated transition matrix beside the true one (``cellgraph view`` of
`rule: counting`).

Two heat maps on one colour scale, rows the current state and columns the next: P estimated by
counting, and the chain the walk was sampled from (the data set's ``meta['transition']``; without
it, the estimate alone). Each cell is annotated with its probability; the title gives the largest
difference max |P̂ - P| and the L1 distance between the two stationary distributions.

Drawn like :mod:`cellgraph.figures` (Agg, a figure of its own, default style, no "Software" stamp).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CellgraphError
from . import trained


def view(result: Any, path: str | os.PathLike[str], *, data: Any = None, **options: Any) -> Path:
    """Draw the estimated and the true transition matrices as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a `rule: counting` spec.
        path: the PNG to write.
        data: the data set whose ``meta['transition']`` is the true chain, or that matrix itself;
            default: the spec's ``data:`` block.

    Returns:
        The path written.

    Raises:
        CellgraphError: not a trained chain, a true matrix of another size, or an unknown option.
    """
    from matplotlib import style

    from ..compiler.markov import chain_group, stationary, transition
    from ..figures import _save
    from ..sampling import reference_data

    model, params = trained(result, options, view="Markov chain", takes="`data` alone", network="Markov chain")
    estimate = np.asarray(transition(params, chain_group(model.graph)), np.float64)
    truth = _truth(data if data is not None else reference_data(model.graph))
    spec = model.graph.graph["spec"]
    name = spec.title or spec.name
    if truth is not None and truth.shape != estimate.shape:
        raise CellgraphError(
            f"the true matrix is {truth.shape}, the chain's {estimate.shape}: pass the chain's own data"
        )
    if truth is None:
        title = f"{name}: the transition matrix estimated by counting"
    else:
        err = float(np.abs(estimate - truth).max())
        l1 = float(np.abs(stationary(estimate) - stationary(truth)).sum())
        title = f"{name}: max |P̂ - P| = {err:.4f}, stationary L1 = {l1:.4f}"
    with style.context("default"):
        return _save(_figure_of(estimate, truth, title), path)


def _truth(data: Any) -> np.ndarray | None:
    if data is None:
        return None
    meta = getattr(data, "meta", None)
    if isinstance(meta, dict):
        found = meta.get("transition")
        return None if found is None else np.asarray(found, np.float64)
    return np.asarray(data, np.float64)


def _figure_of(estimate: np.ndarray, truth: np.ndarray | None, title: str) -> Any:
    from ..figures import _figure

    panels = [(estimate, "estimated P̂ (counted)")] + ([(truth, "true P")] if truth is not None else [])
    n = estimate.shape[0]
    side = 0.45 * n + 1.2
    fig = _figure(side * len(panels) + 1.2, side + 0.8)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    top = max(float(p.max()) for p, _ in panels)
    for ax, (p, head) in zip(axes, panels, strict=True):
        image = ax.imshow(p, cmap="viridis", vmin=0.0, vmax=top, aspect="equal")
        if n <= 12:
            for (r, c), v in np.ndenumerate(p):
                ax.text(
                    c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="black" if v > 0.6 * top else "white"
                )
        ax.set(xlabel="next state", ylabel="current state", title=head)
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
    fig.colorbar(image, ax=list(axes), shrink=0.85, label="transition probability")
    fig.suptitle(title, fontsize=10)
    return fig


__all__ = ["view"]
