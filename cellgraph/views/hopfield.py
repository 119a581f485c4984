"""Hopfield recall from noisy probes: the picture an associative memory is judged by
(``cellgraph view`` of `rule: hebbian`).

One row per held-out probe: the probe, the state recall settled in, and the stored pattern it
came from, each as a square image of the units (8x8 for 64 units; a strip when the count is not a
square). Units at +1 are dark, at -1 light; in the recalled state a unit that differs from the
stored pattern is red. Each row says how many bits the probe had wrong and recall left wrong; the
title gives the mean bit accuracy.

Drawn like :mod:`cellgraph.figures` (Agg, a figure of its own, default style, no "Software" stamp).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..errors import CellgraphError
from . import held_out_pair, trained

_ON: Final = (0.13, 0.20, 0.36)
_OFF: Final = (0.93, 0.94, 0.96)
_WRONG: Final = (0.84, 0.15, 0.16)


def view(result: Any, path: str | os.PathLike[str], *, data: Any = None, rows: int = 8, **options: Any) -> Path:
    """Draw recall from the held-out probes as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a `rule: hebbian` spec.
        path: the PNG to write.
        data: probes and patterns: a :class:`~cellgraph.data.Dataset` (its held-out part drawn) or
            ``(probes, patterns)`` arrays; default: the spec's ``data:`` block.
        rows: the most probes drawn.

    Returns:
        The path written.

    Raises:
        CellgraphError: the result is not a trained Hopfield net, there is no data, or an unknown option.
    """
    import jax.numpy as jnp
    from matplotlib import style

    from ..compiler.energy import energy_of
    from ..compiler.hopfield import bipolar, recall, recall_key
    from ..figures import _save
    from ..sampling import reference_data

    model, params = trained(result, options, view="Hopfield", takes="`data` and `rows`", network="Hopfield net")
    graph = model.graph
    layout = energy_of(graph)
    probes, stored = _probes(data if data is not None else reference_data(graph))
    probes, stored = probes[:rows], stored[:rows]
    spec = graph.graph["spec"]
    before = np.asarray(bipolar(graph, layout, jnp.asarray(probes, jnp.float32)))
    target = np.asarray(bipolar(graph, layout, jnp.asarray(stored, jnp.float32)))
    after, _ = recall(
        layout.weights(params),
        jnp.asarray(before),
        recall_key(graph),
        b=layout.bias(params),
        sweeps=int(spec.train.get("sweeps") or 50),
        synchronous=bool(spec.train.get("synchronous", False)),
    )
    after = np.asarray(after)
    accuracy = float((after == target).mean())
    title = f"{spec.title or spec.name}: recall from {len(probes)} probes, {100 * accuracy:.1f}% of bits right"
    with style.context("default"):
        return _save(_figure_of(before, after, target, title), path)


def _probes(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(probes, stored patterns), each (n, units)."""
    if data is None:
        raise CellgraphError("the spec has no `data:` block: pass data=(probes, patterns)")
    x, y = held_out_pair(data)
    x, y = np.asarray(x, np.float64), np.asarray(y if y is not None else x, np.float64)
    return x.reshape(len(x), -1), y.reshape(len(y), -1)


def _side(units: int) -> tuple[int, int]:
    """The image's (rows, cols): a square where the count is one, else one row."""
    root = math.isqrt(units)
    return (root, root) if root * root == units else (1, units)


def _image(state: np.ndarray, wrong: np.ndarray | None = None) -> np.ndarray:
    rgb = np.where(state[:, None] > 0, np.array(_ON), np.array(_OFF))  # (units, 3)
    if wrong is not None:
        rgb[wrong] = _WRONG
    return rgb.reshape(*_side(len(state)), 3)


def _figure_of(before: np.ndarray, after: np.ndarray, target: np.ndarray, title: str) -> Any:
    from ..figures import _figure

    n = len(before)
    square = _side(before.shape[1])[0] > 1
    tile = (1.3, 1.3) if square else (3.0, 0.45)  # inches of one image (width, height)
    fig = _figure(3 * tile[0] + 1.3, n * (tile[1] + 0.3) + 0.8)
    axes = np.atleast_2d(fig.subplots(n, 3))
    heads = ("probe", "recalled", "stored pattern")
    for i in range(n):
        wrong_before = int((before[i] != target[i]).sum())
        wrong_after = after[i] != target[i]
        images = (_image(before[i]), _image(after[i], wrong_after), _image(target[i]))
        for j, (ax, img) in enumerate(zip(axes[i], images, strict=True)):
            ax.imshow(img, interpolation="nearest", aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(heads[j], fontsize=10)
        axes[i, 0].set_ylabel(f"pattern {i + 1}\n{wrong_before} bits flipped", fontsize=8)
        colour = "#b71c1c" if wrong_after.any() else "#2e7d32"
        axes[i, 1].set_xlabel(f"{int(wrong_after.sum())} bits wrong", fontsize=8, color=colour)
    fig.suptitle(title, fontsize=10)
    return fig


__all__ = ["view"]
