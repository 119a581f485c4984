"""Fixed random connections (reservoirs): the edge options ``density`` and ``scale``.

An edge that gives ``density`` or ``scale`` is drawn as a reservoir's connection rather than by
its target's default initialiser: weights uniform in [-1, 1], of which exactly a ``density``
share (rounded) are kept nonzero, then scaled --

* on a **self edge** (``r -> r``, the implied recurrence of a recurrent group, or ``r ~> r``, a
  delayed one) ``scale`` is the **spectral radius** of the matrix (of each gate's square block
  for a gated cell): the largest modulus of its eigenvalues, which an echo state network keeps
  below 1 so that its state echoes its input and then fades (Jaeger 2001);
* on **any other edge** the weights are uniform in [-scale, scale] (input and feedback scaling).

An edge without either option keeps its target's initialiser (glorot uniform by default), so
existing specs are unchanged. The spectral radius is computed inside ``init`` by repeated
squaring (:func:`spectral_radius`), so ``init`` stays one traced JAX function on any device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx

from .executor import Plan
from .protocol import CompileError

Array = jax.Array

RESERVOIR_OPTIONS: Final = ("density", "scale")
"""The edge options that make an edge a fixed random (reservoir) connection."""


def is_reservoir_edge(options: Mapping[str, Any]) -> bool:
    """Whether an edge's options ask for reservoir weights (``density`` or ``scale`` given)."""
    return any(k in options for k in RESERVOIR_OPTIONS)


SQUARINGS: Final = 16
"""Squarings in :func:`spectral_radius`: the powers k = 2^15 and 2^16, extrapolated."""


def spectral_radius(w: Array, squarings: int = SQUARINGS) -> Array:
    """The largest eigenvalue modulus of the square matrix ``w``, by Gelfand's formula
    rho = lim ||W^k||^(1/k), with k = 2^squarings reached by repeated squaring.

    Each square is renormalised (its norm's log, weighted 2^-i, accumulated), so nothing
    overflows. The estimate log ||W^k|| / k is log rho + log C / k, C the factor a non-normal
    matrix adds; the last two powers' estimates are combined to cancel that 1/k term (Richardson:
    2 L(2k) - L(k)), which reaches with 16 squarings what the plain estimate needs 24 for: a
    relative error under 5e-7 against LAPACK's ``eigvals`` (float64, 32 random sparse matrices
    of 6 x 6 to 500 x 500; tests/test_classic_reservoir.py checks float32 to 2e-6). It is plain
    JAX -- 16 matrix products, ~40 ms for 500 x 500 on two CPU cores -- so ``init`` stays one
    program, runs on any device and is kept by the program cache (a host callback would make it
    compile again for every run). A nilpotent matrix has radius 0.
    """
    s0 = jnp.linalg.norm(w)
    safe = jnp.where(s0 > 0, s0, 1.0)

    def square(i: Array, carry: tuple[Array, Array, Array, Array]) -> tuple[Array, Array, Array, Array]:
        a, log_rho, _, alive = carry
        b = a @ a
        t = jnp.linalg.norm(b)
        alive = alive & (t > 0)
        log_t = jnp.log(jnp.where(t > 0, t, 1.0))
        return b / jnp.where(t > 0, t, 1.0), log_rho + log_t * 2.0 ** (-(i + 1.0)), log_rho, alive

    zero = jnp.zeros((), w.dtype)
    _, log_rho, before, alive = jax.lax.fori_loop(0, squarings, square, (w / safe, zero, zero, s0 > 0))
    extrapolated = 2.0 * log_rho - before if squarings > 1 else log_rho
    return jnp.where(alive, s0 * jnp.exp(extrapolated), 0.0).astype(jnp.float32)


def sparse_uniform(key: Array, shape: tuple[int, ...], density: float) -> Array:
    """Uniform weights in [-1, 1] of which exactly ``round(density * size)`` (at least one) are nonzero.

    The kept positions are the ``kept`` largest of one uniform key per position (``lax.top_k``;
    the smallest ``size - kept`` are dropped instead when that is fewer): a uniform draw of
    exactly that many positions. ``jax.random.permutation`` gave the same but sorts every
    position -- 163 ms for a 500 x 500 reservoir on two CPU cores against 9 ms, most of an ESN's
    ``init``. Two equal float32 keys are ordered by position, which leaves the count exact.
    """
    k_pick, k_value = jax.random.split(key)
    size = math.prod(shape)
    kept = max(1, round(density * size))
    if kept >= size:
        mask = jnp.ones((size,), jnp.float32)
    else:
        keys = jax.random.uniform(k_pick, (size,))
        if kept <= size - kept:
            mask = jnp.zeros((size,), jnp.float32).at[jax.lax.top_k(keys, kept)[1]].set(1.0)
        else:
            mask = jnp.ones((size,), jnp.float32).at[jax.lax.top_k(-keys, size - kept)[1]].set(0.0)
    values = jax.random.uniform(k_value, shape, jnp.float32, -1.0, 1.0)
    values = jnp.where(values == 0.0, 1.0, values)  # a drawn 0 (odds 2^-23) would lose one connection
    return values * mask.reshape(shape)


def with_radius(w: Array, radius: float) -> Array:
    """``w`` (n, g * n) rescaled so that each of its g square blocks has spectral radius ``radius``."""
    n = w.shape[0]
    blocks = []
    for b in jnp.split(w, w.shape[1] // n, axis=1):
        rho = spectral_radius(b)
        blocks.append(jnp.where(rho > 0, b * (radius / jnp.where(rho > 0, rho, 1.0)), b))
    return jnp.concatenate(blocks, axis=1)


def reservoir_weights(key: Array, graph: nx.DiGraph, plan: Plan, params: dict[str, dict[str, Array]]) -> dict:
    """``params`` with every edge that gives ``density`` or ``scale`` drawn as a fixed random connection.

    Raises:
        CompileError: the options are on an edge whose weights are not one dense matrix.
    """
    edges = [(u, v, e) for u, v, e in graph.edges(data=True) if is_reservoir_edge(e["options"])]
    if not edges:
        return params
    params = {n: dict(p) for n, p in params.items()}
    for i, (u, v, e) in enumerate(edges):
        name, rows = _slot(graph, plan, params, u, v, e)
        w = params[v][name]
        part = w[rows]
        drawn = sparse_uniform(jax.random.fold_in(key, i), tuple(part.shape), float(e["options"].get("density", 1.0)))
        scale = float(e["options"].get("scale", 1.0))
        self_edge = u == v and part.shape[1] % part.shape[0] == 0
        drawn = with_radius(drawn, scale) if self_edge else drawn * scale
        # a whole matrix replaced does not read the default draw, so under jit that draw (the QR of
        # an orthogonal w_rec: seconds for 500 x 500 on a busy machine) is left out of the program
        whole = drawn.shape == w.shape
        params[v][name] = drawn.astype(w.dtype) if whole else w.at[rows].set(drawn.astype(w.dtype))
    return params


def _slot(
    graph: nx.DiGraph, plan: Plan, params: Mapping[str, Mapping[str, Array]], u: str, v: str, e: Mapping[str, Any]
) -> tuple[str, slice]:
    """Which parameter of ``v`` holds edge ``u -> v``'s weights, and its rows there."""
    own = params.get(v, {})
    if e["kind"] == "dense" and (e["delay"] or e["feedback"]) and f"from:{u}" in own:
        return f"from:{u}", slice(None)
    if e["kind"] == "dense" and u == v and "w_rec" in own:  # the implied recurrence
        return "w_rec", slice(None)
    name = "w_in" if "w_in" in own else "kernel"
    port = e["options"].get("port") or graph.nodes[v]["cell"].main_port
    feeders = plan.ports.get(v, {}).get(port, ())
    if e["kind"] != "dense" or u not in feeders or name not in own or own[name].ndim != 2:
        raise CompileError(
            f"{e['loc']}: {e['path']}: `density` and `scale` draw fixed random weights for a dense connection "
            f"into a hidden, recurrent or spiking group; '{u}' -> '{v}' has no such matrix; fix: remove them here"
        )
    if plan.merge[v][port] == "add" or len(feeders) == 1:
        return name, slice(None)
    sizes = [math.prod(graph.nodes[f]["shape"]) for f in feeders]
    start = sum(sizes[: feeders.index(u)])
    return name, slice(start, start + sizes[feeders.index(u)])


__all__ = ["RESERVOIR_OPTIONS", "is_reservoir_edge", "reservoir_weights", "sparse_uniform", "spectral_radius"]
