"""A fixed sparse reservoir stepped by its nonzeros: which groups qualify, and the product.

An echo state network's reservoir is a recurrent group whose matrix is drawn with a `density`
(2 % of a 500 x 500 matrix in the zoo's ESN) and never trained. Stepping it as a dense product
reads all 250,000 weights every step; stepping it by its 5,000 nonzeros (a gather and a
scatter-add) took 36 ms for 3,000 steps on two CPU cores against 66 ms dense. The nonzeros are
found from the matrix itself inside the program (loop-invariant, so XLA computes them once, not
every step), so parameters stay the dense matrix every other part of cellgraph reads.
"""

from __future__ import annotations

import math
from typing import Final

import jax
import jax.numpy as jnp
import networkx as nx

SPARSE_BELOW: Final = 0.1
"""Densities under which a fixed reservoir is stepped by its nonzeros (a denser one, dense)."""


def sparse_recurrence(graph: nx.DiGraph, node: str) -> int | None:
    """The nonzero count of ``node``'s recurrent matrix when it is a fixed sparse reservoir: a plain
    (Elman) recurrence, a group that does not train, and its own edge drawn with a ``density``
    under :data:`SPARSE_BELOW` (the count the draw keeps: :func:`~.sparse.sparse_uniform`); else None."""
    d = graph.nodes[node]
    rec = d["cell"].recurrence
    if rec is None or rec.name != "elman" or d.get("trainable", True) or not graph.has_edge(node, node):
        return None
    e = graph.edges[node, node]
    density = e["options"].get("density")
    if e["kind"] != "dense" or e.get("delay") or not isinstance(density, int | float) or density >= SPARSE_BELOW:
        return None
    n = math.prod(d["shape"])
    return max(1, round(float(density) * n * n))


def sparse_product(h: jax.Array, w: jax.Array, kept: int) -> jax.Array:
    """``h @ w`` for a square ``w`` drawn with ``kept`` nonzeros, summed over its nonzeros only.

    A matrix with fewer nonzeros (a value changed to 0 by hand) pads with zero terms; one with
    more (weights written over by hand) is multiplied densely, so the result is ``h @ w``
    whatever the matrix holds.
    """
    count = jnp.count_nonzero(w)
    rows, cols = jnp.nonzero(w, size=kept, fill_value=0)
    values = jnp.where(jnp.arange(kept) < count, w[rows, cols], 0.0).astype(h.dtype)

    def by_nonzeros(h: jax.Array) -> jax.Array:
        return jnp.zeros((*h.shape[:-1], w.shape[1]), h.dtype).at[..., cols].add(h[..., rows] * values)

    return jax.lax.cond(count <= kept, by_nonzeros, lambda h: h @ w, h)


__all__ = ["SPARSE_BELOW", "sparse_product", "sparse_recurrence"]
