"""The Kohonen map's own figures: what ``model.apply`` gives of a map, and how a map is scored.

A map unit is its weight vector (a column of ``params[map]["kernel"]``, (inputs, units)); what a
user asks of a map is which unit matches an input best and how far it is, so the map group's
value here is each unit's Euclidean distance to the input -- MiniSom's activation map -- not the
weighted sum ``x @ W`` a plain hidden group computes. ``model.predict(params, x)["m"]`` is then
``(n, units)`` distances; the best-matching unit is their ``argmin`` and its grid place
``divmod(bmu, cols)`` (units are laid out row by row): :func:`winners` returns both.

A map is judged by two figures (Kohonen 2001; Kiviluoto 1996), both reported by
:func:`make_scoring` and computed by :func:`map_errors` from any codebook (the benchmark scores
MiniSom's with it too):

* ``quantization_error``: the mean distance from each input to its best-matching unit;
* ``topographic_error``: the share of inputs whose best and second-best units are not grid
  neighbours, diagonals counting as neighbours (ZOO.md 2.28; MiniSom's rectangular test,
  grid distance > 1.42, is the same).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from ..graph.rules import som_grid, som_groups
from .executor import Forward, Plan
from .networks import Scoring
from .protocol import CompileError

Array = jax.Array

METRICS = ("quantization_error", "topographic_error")


def map_layout(graph: nx.DiGraph) -> tuple[str, str, int, int]:
    """(input group, map group, rows, cols) of a graph trained with ``rule: som``.

    Raises:
        CompileError: the graph is not a map (validation refuses such a spec first, at its line).
    """
    groups = som_groups(graph)
    if groups is None:
        raise CompileError("rule som: the network needs one hidden map group fed straight by one input group")
    source, m = groups
    units = math.prod(graph.nodes[m]["shape"])
    grid = som_grid(graph.graph["spec"].train.get("grid"), units)
    if grid is None or grid[0] * grid[1] != units:
        raise CompileError(f"rule som: train.grid does not lay out the {units} units of '{m}'")
    return source, m, grid[0], grid[1]


def _xp(a: Any) -> Any:
    """NumPy for NumPy arrays (a view or a benchmark scores on the host, compiling nothing),
    else jax.numpy."""
    return np if isinstance(a, np.ndarray) else jnp


def unit_distances(kernel: Any, x: Any) -> Any:
    """``(n, units)`` Euclidean distances from each row of ``x`` (n, d) to each column of
    ``kernel`` (d, units), from the differences themselves (no ``|x|^2 - 2 x.w + |w|^2``
    cancellation: quantisation errors are small). NumPy in, NumPy out; else JAX."""
    xp = _xp(x) if isinstance(kernel, np.ndarray) else jnp
    diff = x[:, :, None] - kernel[None, :, :]  # (n, d, units)
    return xp.sqrt(xp.sum(diff * diff, axis=1))


def map_errors(distances: Any, cols: int) -> tuple[Any, Any]:
    """(quantisation error, topographic error) of ``(n, units)`` distances on a row-major grid of
    ``cols`` columns; NumPy or JAX, as ``distances`` is."""
    xp = _xp(distances)
    # (n, 2): the two nearest units, nearest first (ties: the lower index)
    idx = xp.argsort(distances, axis=1, stable=True)[:, :2]
    best, second = idx[:, 0], idx[:, 1]
    qe = xp.mean(xp.take_along_axis(distances, best[:, None], axis=1))
    apart = xp.maximum(xp.abs(best // cols - second // cols), xp.abs(best % cols - second % cols))
    return qe, xp.mean((apart > 1).astype(xp.float32))


def make_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring:
    """The map's :class:`Scoring`: no loss, its two errors, and a forward pass whose map group
    gives each unit's distance to the input."""
    source, m, _, cols = map_layout(graph)

    def own_forward(params: Any, inputs: Any, **kwargs: Any) -> tuple[dict[str, Array], dict[str, Any]]:
        values, aux = forward(params, inputs, **kwargs)  # the plain pass: it checks and places the inputs
        x = values[source]
        x = x.reshape(x.shape[0], -1).astype(jnp.float32)  # (n, d)
        return {**values, m: unit_distances(params[m]["kernel"].astype(jnp.float32), x)}, aux

    def scored(params: Any, batch: Any, key: Any = None, state: Any = None) -> tuple[Array, dict[str, Array], dict]:
        values, aux = own_forward(params, batch["inputs"], state=state)  # evaluation: no key
        qe, te = map_errors(values[m], cols)
        return jnp.zeros((), jnp.float32), {"quantization_error": qe, "topographic_error": te}, aux

    return Scoring(scored, inputs=(source,), metrics=METRICS, forward=own_forward, outputs=(m,))


def winners(graph: nx.DiGraph, params: Any, x: Any) -> np.ndarray:
    """``(n, 3)`` ints: each input's best-matching unit and its grid (row, col) -- MiniSom's
    ``winner`` for a batch, computed with NumPy. ``graph``: ``result.model.graph``."""
    _, m, _, cols = map_layout(graph)
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    bmu = np.argmin(unit_distances(np.asarray(params[m]["kernel"], np.float64), x), axis=1)
    return np.stack([bmu, bmu // cols, bmu % cols], axis=1)


__all__ = ["METRICS", "make_scoring", "map_errors", "map_layout", "unit_distances", "winners"]
