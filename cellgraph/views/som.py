"""The Kohonen map over its data: the picture a SOM user looks at (``cellgraph view`` of `rule: som`).

Left, the classic "elastic net": the data points, and the map units drawn where their weight
vectors lie, each joined to its grid neighbours along rows and columns -- a map that kept its
topology is a net spread over the data without crossings. Inputs of more than two dimensions are
drawn on the data's first two principal axes (the axis labels say so). The title gives the
quantisation and topographic errors on the held-out points. Right, the U-matrix: each unit's mean
distance to its grid neighbours' weights, high where the map stretches across a gap in the data.

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
    """Draw a trained map over its data as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a `rule: som` spec.
        path: the PNG to write.
        data: the points to draw and score: a :class:`~cellgraph.data.Dataset` (its training part
            drawn, its held-out part scored) or an array (drawn and scored); default: the spec's
            ``data:`` block.

    Returns:
        The path written.

    Raises:
        CellgraphError: the result is not a trained map, there is no data to draw, or an unknown option.
    """
    from matplotlib import style

    from ..compiler.som import map_errors, map_layout, unit_distances
    from ..figures import _save
    from ..sampling import reference_data

    model, params = trained(result, options, view="SOM", takes="`data` alone", network="map")
    _, m, rows, cols = map_layout(model.graph)
    codebook = np.asarray(params[m]["kernel"], np.float64).T  # (units, d)
    drawn, scored = _points(data if data is not None else reference_data(model.graph))
    qe, te = (float(v) for v in map_errors(unit_distances(codebook.T, scored), cols))  # NumPy: nothing compiled
    spec = model.graph.graph["spec"]
    title = f"{spec.title or spec.name}: QE {qe:.4f}, TE {te:.3f} on {len(scored)} points"
    with style.context("default"):
        return _save(_map_figure(codebook, drawn, rows, cols, title), path)


def _points(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(points drawn, points scored), flattened to (n, d)."""
    if data is None:
        raise CellgraphError("the spec has no `data:` block: pass the points to draw, data=array")
    if hasattr(data, "x_train"):
        train = np.asarray(data.x_train, np.float64)
        test = None if data.x_test is None else np.asarray(data.x_test, np.float64)
        held = test if test is not None and len(test) else train
        return train.reshape(len(train), -1), held.reshape(len(held), -1)
    points = np.asarray(data, np.float64)
    return points.reshape(len(points), -1), points.reshape(len(points), -1)


def u_matrix(codebook: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows, cols): each unit's mean weight distance to its 4 grid neighbours."""
    grid = codebook.reshape(rows, cols, -1)
    total, count = np.zeros((rows, cols)), np.zeros((rows, cols))
    for axis in (0, 1):
        step = np.linalg.norm(np.diff(grid, axis=axis), axis=-1)  # between each pair of neighbours
        pad_before = [(1, 0) if a == axis else (0, 0) for a in (0, 1)]
        pad_after = [(0, 1) if a == axis else (0, 0) for a in (0, 1)]
        total += np.pad(step, pad_before) + np.pad(step, pad_after)
        count += np.pad(np.ones_like(step), pad_before) + np.pad(np.ones_like(step), pad_after)
    return total / np.maximum(count, 1)


def _plane(codebook: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """Both in two dimensions: as they are, or on the points' first two principal axes."""
    if points.shape[1] <= 2:
        pad = lambda a: np.pad(a, ((0, 0), (0, 2 - a.shape[1])))  # noqa: E731  (1-D inputs: y = 0)
        return pad(codebook), pad(points), ("input 1", "input 2")
    centre = points.mean(axis=0)
    axes = np.linalg.svd(points - centre, full_matrices=False)[2][:2].T  # (d, 2)
    return (codebook - centre) @ axes, (points - centre) @ axes, ("principal axis 1", "principal axis 2")


def _map_figure(codebook: np.ndarray, points: np.ndarray, rows: int, cols: int, title: str) -> Any:
    from matplotlib.ticker import MaxNLocator

    from ..figures import _figure

    units, shown, (xlabel, ylabel) = _plane(codebook, points)
    fig = _figure(10.5, 5.0)
    net, umat = fig.subplots(1, 2, width_ratios=[1.0, 0.9])
    net.scatter(shown[:, 0], shown[:, 1], s=4, color="#9e9e9e", alpha=0.5, linewidths=0, label="data")
    grid = units.reshape(rows, cols, 2)
    for r in range(rows):
        net.plot(grid[r, :, 0], grid[r, :, 1], color="#1f77b4", linewidth=1.0)
    for c in range(cols):
        net.plot(grid[:, c, 0], grid[:, c, 1], color="#1f77b4", linewidth=1.0)
    net.scatter(units[:, 0], units[:, 1], s=14, color="#d62728", zorder=3, label="map units")
    net.set(xlabel=xlabel, ylabel=ylabel, title=f"the {rows}x{cols} map over the data")
    net.set_aspect("equal", adjustable="datalim")
    net.legend(loc="upper right", fontsize=8, framealpha=0.9)
    image = umat.imshow(u_matrix(codebook, rows, cols), cmap="viridis", origin="upper")
    umat.set(xlabel="grid column", ylabel="grid row", title="U-matrix: mean distance to grid neighbours")
    for axis in (umat.xaxis, umat.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))  # grid places, not fractions
    fig.colorbar(image, ax=umat, shrink=0.85, label="weight distance")
    fig.suptitle(title)
    return fig


__all__ = ["u_matrix", "view"]
