"""JAX semantics of multi-head scaled dot-product attention (the ``attention`` edge kind).

The edge itself -- which groups it reads, its sizes, its padding -- is resolved in
:mod:`cellgraph.graph.attention` as an :class:`~cellgraph.graph.attention.AttentionEdge`; here are
its parameters and its computation, the same as Flax's ``nn.MultiHeadDotProductAttention`` with
the output projection's bias left to the target group (one weighted sum, one bias):

    q = x_q Wq + bq, k = x Wk + bk, v = x Wv + bv            (per head: key_size, key_size, value_size)
    w = softmax(q k^T / sqrt(key_size) + mask)                 (batch, heads, queries, keys)
    out = concat_heads(w v) Wo                                 (added into the target's weighted sum)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from ..graph.attention import ADDITIVE, AttentionEdge
from .protocol import Params

Array = jax.Array

_PROJECTIONS = ("query", "key", "value")


def init_attention(key: Array, edge: AttentionEdge) -> Params:
    """Wq, Wk, Wv (with zero biases) and Wo, named ``attention:<source>:<part>``: LeCun normal
    over each projection's inputs, as Flax's attention initialises them. Additive: Wq, Wk, the
    score's bias (zero) and vector v, and Wo."""
    init = jax.nn.initializers.lecun_normal()
    kq, kk, kv, ko = jax.random.split(key, 4)
    p = edge.prefix
    if edge.score == ADDITIVE:
        a = edge.key_size
        return {
            f"{p}query_kernel": init(kq, (edge.query_features, a), jnp.float32),
            f"{p}key_kernel": init(kk, (edge.source_features, a), jnp.float32),
            f"{p}score_bias": jnp.zeros((a,), jnp.float32),
            f"{p}score_vector": init(kv, (a, 1), jnp.float32).reshape(a),
            f"{p}out_kernel": init(ko, (edge.source_features, edge.out_features), jnp.float32),
        }
    hk, hv = edge.heads * edge.key_size, edge.heads * edge.value_size
    shapes = {
        "query": (edge.query_features, hk),
        "key": (edge.source_features, hk),
        "value": (edge.source_features, hv),
    }
    params: Params = {}
    for k, part in zip((kq, kk, kv), _PROJECTIONS, strict=True):
        params[f"{p}{part}_kernel"] = init(k, shapes[part], jnp.float32)
        params[f"{p}{part}_bias"] = jnp.zeros((shapes[part][1],), jnp.float32)
    params[f"{p}out_kernel"] = init(ko, (hv, edge.out_features), jnp.float32)
    return params


def attention_mask(edge: AttentionEdge, queries: int, keys: int, key_valid: Array | None) -> Array | None:
    """Which keys each query may read, broadcastable to (batch, heads, queries, keys); None: all.

    ``causal``: query i reads keys j <= i. ``key_valid`` (batch, keys): False at padding."""
    mask = None
    if edge.causal:
        mask = (jnp.arange(queries)[:, None] >= jnp.arange(keys)[None, :])[None, None]  # (1, 1, q, k)
    if key_valid is not None:
        pads = key_valid[:, None, None, :]  # (batch, 1, 1, keys)
        mask = pads if mask is None else mask & pads
    return mask


def attend(
    params: Params, edge: AttentionEdge, query: Array, source: Array, key_valid: Array | None
) -> tuple[Array, Array]:
    """The edge's contribution to its target, and its weights.

    Args:
        params: the target group's parameters (the edge's are among them, by ``edge.prefix``).
        edge: the resolved connection.
        query: (batch, queries, query features): the group asking.
        source: (batch, keys, source features): the sequence read.
        key_valid: (batch, keys) booleans, False at padding; None when nothing is padded.

    Returns:
        ``(out, weights)``: (batch, queries, target size) before the target's bias, and the
        attention weights (batch, heads, queries, keys), each row summing to 1.
    """
    if edge.score == ADDITIVE:
        return _additive(params, edge, query, source, key_valid)
    p, h = edge.prefix, edge.heads
    batch, nq, nk = query.shape[0], query.shape[1], source.shape[1]

    def project(x: Array, part: str, size: int) -> Array:  # (batch, steps, features) -> (batch, steps, heads, size)
        y = x.reshape(-1, x.shape[-1]) @ params[f"{p}{part}_kernel"] + params[f"{p}{part}_bias"]
        return y.reshape(x.shape[0], x.shape[1], h, size)

    q = project(query, "query", edge.key_size) / jnp.asarray(math.sqrt(edge.key_size), query.dtype)
    k = project(source, "key", edge.key_size)
    v = project(source, "value", edge.value_size)
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k)  # (batch, heads, queries, keys)
    mask = attention_mask(edge, nq, nk, key_valid)
    if mask is not None:
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)  # a masked key's weight: exactly 0
    weights = jax.nn.softmax(logits, axis=-1)
    heads = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch * nq, h * edge.value_size)
    out = heads @ params[f"{p}out_kernel"]  # (batch * queries, target size)
    return out.reshape(batch, nq, edge.out_features), weights


def _additive(
    params: Params, edge: AttentionEdge, query: Array, source: Array, key_valid: Array | None
) -> tuple[Array, Array]:
    """Bahdanau et al.'s scores ``v . tanh(Wq q_i + Wk k_j + b)``, softmax over the keys, and the
    weighted sum of the source's own values through Wo. The key projection of every stored state
    is made once, not once per query (their precomputation of ``U h_j``)."""
    p = edge.prefix
    batch, nq, nk = query.shape[0], query.shape[1], source.shape[1]
    q = (query.reshape(-1, query.shape[-1]) @ params[f"{p}query_kernel"]).reshape(batch, nq, 1, -1)
    k = (source.reshape(-1, source.shape[-1]) @ params[f"{p}key_kernel"]).reshape(batch, 1, nk, -1)
    logits = jnp.tanh(q + k + params[f"{p}score_bias"]) @ params[f"{p}score_vector"]  # (batch, queries, keys)
    logits = logits[:, None]  # (batch, 1 head, queries, keys)
    mask = attention_mask(edge, nq, nk, key_valid)
    if mask is not None:
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    weights = jax.nn.softmax(logits, axis=-1)
    context = jnp.einsum("bqk,bkf->bqf", weights[:, 0], source)  # (batch, queries, source features)
    out = context.reshape(batch * nq, -1) @ params[f"{p}out_kernel"]
    return out.reshape(batch, nq, edge.out_features), weights


def key_validity(edge: AttentionEdge, fed: Mapping[str, Array]) -> Array | None:
    """(batch, keys): False where one of the padded token inputs the keys descend from holds its pad id."""
    valid = None
    for group, pad in edge.pads:
        ok = fed[group] != pad
        valid = ok if valid is None else valid & ok
    return valid
