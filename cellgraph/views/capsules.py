"""A capsule network's class capsules on held-out digits: the picture its lengths are judged by.

One row per held-out example: the digit, the lengths of its class capsules as bars (one per
class; the true class's bar green, the others grey, the dashed lines at the margin loss's
``m_plus`` and ``m_minus``), and the decoder's reconstruction from the longest capsule (the
paper's test-time mask). Each row says the label and the class the longest capsule names; the
title gives the held-out accuracy over the rows drawn.

A capsule network trains by backprop, so the view is picked by what it holds
(:data:`cellgraph.views.HELD_VIEWS`): ``cellgraph view SPEC RUN -o cn.png``, or
``cellgraph.views.capsules.view(result, "cn.png")`` from Python.

Drawn like :mod:`cellgraph.figures` (Agg, a figure of its own, default style, no "Software" stamp).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..errors import CellgraphError
from . import held_out_pair, trained

_TRUE: Final = "#2e7d32"
_OTHER: Final = "#9e9e9e"
_WRONG: Final = "#b71c1c"


def view(result: Any, path: str | os.PathLike[str], *, data: Any = None, rows: int = 8, **options: Any) -> Path:
    """Draw the class capsules' lengths and the reconstructions of held-out examples as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a capsule network
            scored by the margin loss (its class capsules: :func:`cellgraph.graph.capsules.class_capsules`).
        path: the PNG to write.
        data: a :class:`~cellgraph.data.Dataset` (its held-out part drawn) or ``(x, labels)``
            arrays; default: the spec's ``data:`` block.
        rows: the most examples drawn.

    Returns:
        The path written.

    Raises:
        CellgraphError: the network has no class capsules, there is no data, or an unknown option.
    """
    from matplotlib import style

    from ..figures import _save
    from ..graph.capsules import class_capsules
    from ..sampling import reference_data

    model, params = trained(result, options, view="capsules", takes="`data` and `rows`", network="capsule network")
    graph = model.graph
    capsules = class_capsules(graph)
    if capsules is None:
        raise CellgraphError("this network has no class capsules (a capsule group the margin loss scores)")
    x, labels = _examples(data if data is not None else reference_data(graph))
    x, labels = x[:rows], labels[:rows]
    out = model.predict(params, x, state=getattr(result, "model_state", None) or None)
    lengths = np.linalg.norm(out[capsules], axis=-1)
    recon = [o for o in model.outputs if o != capsules]
    rebuilt = out[recon[0]] if recon else None
    loss = graph.graph["spec"].train.get("loss")
    margins = (
        (float(loss.get("m_plus", 0.9)), float(loss.get("m_minus", 0.1))) if isinstance(loss, Mapping) else (0.9, 0.1)
    )
    spec = graph.graph["spec"]
    accuracy = float(np.mean(np.argmax(lengths, axis=-1) == labels))
    title = f"{spec.title or spec.name}: class capsule lengths, {100 * accuracy:.0f}% of {len(x)} held-out right"
    with style.context("default"):
        return _save(_figure_of(x, lengths, labels, rebuilt, margins, title), path)


def _examples(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, class ids) of the held-out part (the training part where none is held out)."""
    if data is None:
        raise CellgraphError("the spec has no `data:` block: pass data=(x, labels)")
    x, y = held_out_pair(data)
    if y is None:
        raise CellgraphError("the data hold no labels to compare the class capsules with")
    return np.asarray(x, np.float32), np.asarray(y).reshape(-1).astype(int)


def _picture(values: np.ndarray) -> np.ndarray:
    """A square grey image of the values (an 8x8 digit), or a strip where the count is no square."""
    flat = values.reshape(-1)
    side = math.isqrt(flat.size)
    return flat.reshape(side, side) if side * side == flat.size else flat.reshape(1, -1)


def _figure_of(
    x: np.ndarray,
    lengths: np.ndarray,
    labels: np.ndarray,
    rebuilt: np.ndarray | None,
    margins: tuple[float, float],
    title: str,
) -> Any:
    from ..figures import _figure

    n, classes = lengths.shape
    cols = 3 if rebuilt is not None else 2
    fig = _figure(1.3 + 3.2 + (1.3 if rebuilt is not None else 0) + 0.6, n * 1.35 + 0.8)
    axes = np.atleast_2d(fig.subplots(n, cols, width_ratios=[1.3, 3.2, 1.3][:cols]))
    heads = ("digit", "class capsule lengths", "reconstruction")
    for i in range(n):
        guess = int(np.argmax(lengths[i]))
        ax = axes[i, 0]
        ax.imshow(_picture(x[i]), cmap="gray_r", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"label {labels[i]}", fontsize=8)
        bars = axes[i, 1]
        colours = [_TRUE if k == labels[i] else _OTHER for k in range(classes)]
        bars.bar(range(classes), lengths[i], color=colours, width=0.8)
        for level in margins:
            bars.axhline(level, color="#555555", linewidth=0.6, linestyle="--")
        bars.set_ylim(0, 1)
        bars.set_xticks(range(classes))
        bars.tick_params(labelsize=7)
        bars.set_xlabel(f"longest: {guess}", fontsize=8, color=_TRUE if guess == labels[i] else _WRONG, labelpad=1)
        if rebuilt is not None:
            ax = axes[i, 2]
            ax.imshow(_picture(rebuilt[i]), cmap="gray_r", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        if i == 0:
            for j in range(cols):
                axes[0, j].set_title(heads[j], fontsize=10)
    fig.suptitle(title, fontsize=10)
    return fig


__all__ = ["view"]
