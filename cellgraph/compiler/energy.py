"""Symmetric connections: one weight matrix used both ways, and the energy it defines.

A ``u -- v`` edge is an undirected pair of connections with one matrix ``W`` (|u| x |v|): ``v``
reads ``u W`` and ``u`` reads ``v W^T``. It is stored once, on the group written second, as
``params[v]["sym:u"]``; a group joined to itself (``s -- s``) keeps a symmetric matrix with a zero
diagonal as ``params[s]["sym:s"]``. Visible groups (``backfed_input``) on a symmetric edge get a
bias of their own (``params[v]["bias"]``) unless ``use_bias: false``: in an energy model the
visible units have thresholds too.

Two readings of the same parameters:

* the **up pass** (:func:`up_terms`): a group reads each group written before it across a
  ``--`` edge through ``W`` -- a mean-field pass from the visible layer upwards (an RBM's
  ``p(h | v)``, a DBN's recognition pass), which is what ``apply`` and backprop fine-tuning see;
* the **energy** (:class:`Energy`): every unit of every symmetrically joined group in one vector
  ``s``, ``E(s) = -1/2 s^T W s - b^T s`` with the blocks of ``W`` placed both ways -- what the
  Hebbian, Boltzmann and contrastive-divergence rules learn and sample.

Pure JAX; the learning rules (``cellgraph.train.rules``) build on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx

Array = jax.Array

SYM: Final = "sym:"
"""Prefix of a symmetric edge's matrix in its group's parameters: ``params[v]["sym:u"]``."""

INIT_STD: Final = 0.01
"""Starting weights N(0, 0.01^2): Hinton's (2010) practical guide to training RBMs."""


def symmetric_edges(graph: nx.DiGraph) -> list[tuple[str, str]]:
    """Every ``u -- v`` edge as written (``u`` first), self edges included, in graph order."""
    return [(u, v) for u, v, d in graph.edges(data=True) if d["kind"] == "symmetric"]


def up_sources(graph: nx.DiGraph) -> dict[str, tuple[str, ...]]:
    """group -> the groups it reads in the up pass: those written before it across a ``--`` edge."""
    found: dict[str, list[str]] = {}
    for u, v in symmetric_edges(graph):
        if u != v:
            found.setdefault(v, []).append(u)
    return {v: tuple(us) for v, us in found.items()}


def size(graph: nx.DiGraph, n: str) -> int:
    return math.prod(graph.nodes[n]["shape"])


def has_visible_bias(graph: nx.DiGraph, n: str) -> bool:
    """A source group on a symmetric edge keeps a bias (its units' thresholds) unless told not to."""
    d = graph.nodes[n]
    on_edge = any(n in e for e in symmetric_edges(graph))
    return bool(d["cell"].is_source and on_edge and d["options"].get("use_bias", True))


def init_symmetric(key: Array, graph: nx.DiGraph) -> dict[str, dict[str, Array]]:
    """The symmetric matrices (N(0, 0.01^2); a self matrix symmetrised, zero diagonal) and the
    visible groups' biases (zeros)."""
    params: dict[str, dict[str, Array]] = {}
    edges = symmetric_edges(graph)
    for k, (u, v) in zip(jax.random.split(key, max(len(edges), 1)), edges, strict=False):
        w = INIT_STD * jax.random.normal(k, (size(graph, u), size(graph, v)), jnp.float32)
        if u == v:
            w = jnp.triu(w, 1)
            w = w + w.T
        params.setdefault(v, {})[SYM + u] = w
    for n in graph.nodes:
        if has_visible_bias(graph, n):
            params.setdefault(n, {})["bias"] = jnp.zeros((size(graph, n),), jnp.float32)
    return params


def up_terms(params: Mapping[str, Any], values: Mapping[str, Array], n: str, sources: tuple[str, ...]) -> tuple:
    """The up pass's terms of group ``n``'s weighted sum: ``values[u] W_uv`` for each source ``u``."""
    terms = []
    for u in sources:
        x = values[u]
        terms.append(x.reshape(x.shape[0], -1) @ params[n][SYM + u])
    return tuple(terms)


@dataclass(frozen=True)
class Energy:
    """The units of the symmetrically joined groups as one vector, and their energy.

    Attributes:
        groups: the groups in the vector, in graph order; ``slices[g]`` is each one's place.
        edges: the symmetric edges, as written.
        units: the vector's length.
    """

    groups: tuple[str, ...]
    slices: Mapping[str, slice]
    edges: tuple[tuple[str, str], ...]
    units: int

    def weights(self, params: Mapping[str, Any]) -> Array:
        """The full (units, units) symmetric matrix with a zero diagonal; absent blocks are zero."""
        w = jnp.zeros((self.units, self.units), jnp.float32)
        for u, v in self.edges:
            block = params[v][SYM + u]
            su, sv = self.slices[u], self.slices[v]
            if u == v:
                block = block * (1.0 - jnp.eye(block.shape[0], dtype=block.dtype))
                w = w.at[su, sv].set(block)
            else:
                w = w.at[su, sv].set(block).at[sv, su].set(block.T)
        return w

    def bias(self, params: Mapping[str, Any]) -> Array:
        """Every unit's bias (zero where its group keeps none)."""
        parts = []
        for g in self.groups:
            n = self.slices[g].stop - self.slices[g].start
            parts.append(params.get(g, {}).get("bias", jnp.zeros((n,), jnp.float32)))
        return jnp.concatenate(parts)

    def set_weights(self, params: Mapping[str, Any], w: Array) -> dict[str, dict[str, Array]]:
        """``params`` with each symmetric block read back from a full matrix ``w``."""
        out = {k: dict(v) for k, v in params.items()}
        for u, v in self.edges:
            out[v][SYM + u] = w[self.slices[u], self.slices[v]]
        return out

    def set_bias(self, params: Mapping[str, Any], b: Array) -> dict[str, dict[str, Array]]:
        """``params`` with each group's bias (where it keeps one) read back from the vector ``b``."""
        out = {k: dict(v) for k, v in params.items()}
        for g in self.groups:
            if "bias" in out.get(g, {}):
                out[g]["bias"] = b[self.slices[g]]
        return out

    def split(self, s: Array) -> dict[str, Array]:
        """A (batch, units) state as each group's (batch, size) part."""
        return {g: s[..., self.slices[g]] for g in self.groups}

    def join(self, parts: Mapping[str, Array]) -> Array:
        """Each group's (batch, size) part as one (batch, units) state."""
        return jnp.concatenate([parts[g] for g in self.groups], axis=-1)


def energy_of(graph: nx.DiGraph) -> Energy:
    """The :class:`Energy` layout of ``graph``'s symmetrically joined groups."""
    edges = tuple(symmetric_edges(graph))
    touched = {n for e in edges for n in e}
    groups = tuple(n for n in graph.nodes if n in touched)
    slices: dict[str, slice] = {}
    at = 0
    for g in groups:
        slices[g] = slice(at, at + size(graph, g))
        at += size(graph, g)
    return Energy(groups, slices, edges, at)


def energy(w: Array, b: Array, s: Array) -> Array:
    """``E(s) = -1/2 s^T W s - b^T s`` for each row of ``s`` (batch, units)."""
    return -0.5 * jnp.einsum("bi,ij,bj->b", s, w, s) - s @ b


def all_states(units: int, values: tuple[float, float] = (0.0, 1.0)) -> Array:
    """Every state of ``units`` binary units, (2^units, units), the first unit the slowest."""
    bits = (jnp.arange(2**units)[:, None] >> jnp.arange(units - 1, -1, -1)[None]) & 1
    lo, hi = values
    return jnp.where(bits == 1, hi, lo).astype(jnp.float32)


__all__ = [
    "SYM",
    "Energy",
    "all_states",
    "energy",
    "energy_of",
    "has_visible_bias",
    "init_symmetric",
    "symmetric_edges",
    "up_sources",
    "up_terms",
]
