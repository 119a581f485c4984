"""A hand-written JAX Neural Turing Machine: what a JAX user writes for the zoo's NTM without cellgraph.

The architecture ``specs/zoo/ntm.yaml`` compiles to, written out with no library but JAX and
optax: a feed-forward controller of three tanh layers (the last one also reading the previous
step's read vector), a sigmoid output, and an ``N x W`` memory with one read head and one write
head (content addressing by cosine similarity and key strength, interpolation with the last
weighting, a circular shift over -1, 0, +1, sharpening; read before erase-then-add write). The
whole step is one ``lax.scan`` body, heads vectorised; the loss is binary cross-entropy over every
output bit of the recall steps (the spec's ``loss: bce`` with ``step_mask: data``: ``mask`` (B, T)
marks them); Adam with global-norm clipping, one ``jax.jit``
step with params and optimizer state donated. Written from the paper (Graves et al. 2014), not
from cellgraph's code.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

Params = dict[str, Any]
glorot = jax.nn.initializers.glorot_uniform()


def init(key: jax.Array, bits: int, hidden: int, slots: int, width: int) -> Params:
    """Parameters: three controller layers, the read vector into the last, the output, the heads."""
    iface = 2 * (width + 6) + 2 * width  # read head and write head, then erase and add
    k = jax.random.split(key, 6)
    return {
        "l1": (glorot(k[0], (bits + 1, hidden)), jnp.zeros(hidden)),
        "l2": (glorot(k[1], (hidden, hidden)), jnp.zeros(hidden)),
        "l3": (glorot(k[2], (hidden, hidden)), jnp.zeros(hidden)),
        "read_in": glorot(k[3], (width, hidden)),
        "out": (glorot(k[4], (hidden, bits)), jnp.zeros(bits)),
        "heads": (glorot(k[5], (hidden, iface)), jnp.zeros(iface)),
    }


def _heads(memory: jax.Array, prev: jax.Array, raw: jax.Array, width: int) -> jax.Array:
    """Both heads' new weightings (B, 2, N) from their raw parameters (B, 2, W + 6)."""
    key = raw[..., :width]
    beta = jax.nn.softplus(raw[..., width])
    g = jax.nn.sigmoid(raw[..., width + 1])[..., None]
    s = jax.nn.softmax(raw[..., width + 2 : width + 5], axis=-1)
    gamma = 1.0 + jax.nn.softplus(raw[..., width + 5])
    mem_norm = jnp.sqrt(jnp.sum(memory**2, -1) + 1e-6)  # (B, N)
    key_norm = jnp.sqrt(jnp.sum(key**2, -1) + 1e-6)  # (B, 2)
    cos = jnp.einsum("bhw,bnw->bhn", key, memory) / (key_norm[..., None] * mem_norm[:, None, :])
    w = g * jax.nn.softmax(beta[..., None] * cos, axis=-1) + (1.0 - g) * prev
    w = s[..., :1] * jnp.roll(w, -1, -1) + s[..., 1:2] * w + s[..., 2:] * jnp.roll(w, 1, -1)
    return jax.nn.softmax(gamma[..., None] * jnp.log(w + 1e-12), axis=-1)


def apply(params: Params, x: jax.Array, slots: int, width: int) -> jax.Array:
    """Logits (B, T, bits) for inputs (B, T, bits + 1)."""
    batch = x.shape[0]
    focus = jnp.zeros((slots,)).at[0].set(1.0)
    carry0 = (jnp.zeros((batch, slots, width)), jnp.broadcast_to(focus, (batch, 2, slots)), jnp.zeros((batch, width)))

    def step(carry: Any, x_t: jax.Array) -> tuple[Any, jax.Array]:
        memory, weights, read = carry
        h = jnp.tanh(x_t @ params["l1"][0] + params["l1"][1])
        h = jnp.tanh(h @ params["l2"][0] + params["l2"][1])
        h = jnp.tanh(h @ params["l3"][0] + params["l3"][1] + read @ params["read_in"])
        logits = h @ params["out"][0] + params["out"][1]
        iface = h @ params["heads"][0] + params["heads"][1]
        per = width + 6
        weights = _heads(memory, weights, iface[:, : 2 * per].reshape(batch, 2, per), width)
        read = jnp.einsum("bn,bnw->bw", weights[:, 0], memory)
        erase = jax.nn.sigmoid(iface[:, 2 * per : 2 * per + width])
        add = jnp.tanh(iface[:, 2 * per + width :])
        ww = weights[:, 1, :, None]
        memory = memory * (1.0 - ww * erase[:, None, :]) + ww * add[:, None, :]
        return (memory, weights, read), logits

    _, logits = jax.lax.scan(step, carry0, jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(logits, 0, 1)


def make_step(slots: int, width: int, learning_rate: Any, clip: float) -> tuple[Any, Any]:
    """(optimizer, jitted step(params, opt_state, x, y, mask) -> (params, opt_state, loss));
    ``learning_rate``: a number or an optax schedule."""
    tx = optax.chain(optax.clip_by_global_norm(clip), optax.adam(learning_rate))

    def loss(params: Params, x: jax.Array, y: jax.Array, mask: jax.Array) -> jax.Array:
        per_step = optax.sigmoid_binary_cross_entropy(apply(params, x, slots, width), y).mean(-1)  # (B, T)
        return (per_step * mask).sum() / jnp.maximum(mask.sum(), 1.0)

    def step(
        params: Params, opt_state: Any, x: jax.Array, y: jax.Array, mask: jax.Array
    ) -> tuple[Params, Any, jax.Array]:
        value, grads = jax.value_and_grad(loss)(params, x, y, mask)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return tx, jax.jit(step, donate_argnums=(0, 1))
