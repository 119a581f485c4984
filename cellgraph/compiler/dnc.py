"""The Differentiable Neural Computer's memory addressing (Graves et al. 2016, Nature 538, Methods).

One write head and ``R`` read heads share an ``N x W`` memory. Each step the controller emits an
unconstrained interface vector; :func:`parse_interface` squashes its pieces (oneplus strengths,
sigmoid gates, softmax read modes), and :func:`step` then, in the paper's order:

1. frees memory: the retention ``psi = prod_i (1 - f_i w^r_{t-1,i})`` and the usage
   ``u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} w^w_{t-1}) psi``;
2. allocates: the least-used rows first, ``a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i]`` for
   ``phi`` the rows sorted by usage;
3. writes: ``w^w = g^w (g^a a + (1 - g^a) c^w)``, erase then add;
4. links: the precedence ``p`` and the temporal link matrix ``L`` (``L[i, j]``: row ``i`` was
   written right after row ``j``; zero diagonal);
5. reads: each head mixes its backward ``L^T w^r``, content and forward ``L w^r`` weightings by
   its read modes, and reads ``M^T w^r``.

Every function is pure and batched over a leading batch axis (and a head axis where there are
heads), so a whole step is one fused body inside the executor's ``lax.scan``. The sort in the
allocation is the one non-differentiable piece: as in the paper, its order is a constant and the
gradient flows through the usage values it orders.

The dense map to the interface starts with the write and allocation gates open and the free gates
shut (:func:`interface_bias`): a memory written row after row from the first update, which the zoo's
DNC needs to learn the copy task within ZOO.md's budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from .memory_ops import content_weights

READ_MODES = 3
"""Per read head: backward (0), content (1) and forward (2), the paper's order of ``pi``."""


class Interface(NamedTuple):
    """One step's interface vector, squashed into the ranges the paper gives each piece."""

    read_keys: Array  # (B, R, W)
    read_strengths: Array  # (B, R), oneplus: >= 1
    write_key: Array  # (B, 1, W)
    write_strength: Array  # (B, 1), oneplus
    erase: Array  # (B, W), sigmoid
    write_vector: Array  # (B, W)
    free_gates: Array  # (B, R), sigmoid
    allocation_gate: Array  # (B,), sigmoid
    write_gate: Array  # (B,), sigmoid
    read_modes: Array  # (B, R, 3), softmax over (backward, content, forward)


def interface_size(width: int, heads: int) -> int:
    """Length of the raw interface vector: ``W R + 3 W + 5 R + 3`` (the paper's
    ``(W x R) + 3W + 5R + 3``)."""
    return width * heads + 3 * width + 5 * heads + 3


START_WRITE_GATE = 3.0
"""The write gate's starting bias: sigmoid(3) ~ 0.95, so every step writes from the start. At zero
(0.5) every write is half strength: half the vector over half the old row, usage raised half-way,
and the precedence and links it leaves half as strong, so the order a forward read needs is faint."""

START_ALLOCATION_GATE = 3.0
"""The allocation gate's starting bias: sigmoid(3) ~ 0.95, so writes go to free rows, one new row
per step: the order the temporal link matrix records and a forward read follows back (the paper's
reason for both mechanisms: allocation finds unused rows to write, the links give back a sequence
in the order it was written).
At zero half of each write follows the write key's content weighting, even over an empty memory:
every row gets a 1/N share of every vector, and the forward links point a little everywhere.
Measured on the zoo's DNC (copy task, its spec's training, 20,000 sequences): 4.70 wrong bits per
held-out sequence with zero biases (seed 0); with the biases of this module 0.000-0.147 for seeds
0-7 (docs/memory.md)."""

START_FREE_GATE = -3.0
"""The free gates' starting bias: sigmoid(-3) ~ 0.05, so a row a head reads is kept rather than
released; the copy task recalls every row once and never needs one freed within a sequence. At zero
(0.5) half of what a head read at each step is freed, and once the free rows run out (every step
writes: the length-12 set runs 2 * 12 + 1 = 25 steps on 16 rows) allocation writes over rows the
head may still have to recall. Measured with both gate biases, seeds 0-3: lengths 1-8 hardly
change (0.001-0.007 wrong bits without it, 0.001-0.147 with it), length 12 does (0.07-4.28
without, 0.00-0.33 with)."""


def interface_bias(width: int, heads: int) -> Array:
    """Starting bias of the dense map to the interface, in :func:`parse_interface`'s order: zero but
    for the write and allocation gates (:data:`START_WRITE_GATE`, :data:`START_ALLOCATION_GATE`)
    and each head's free gate (:data:`START_FREE_GATE`), so training starts from a memory that is
    written row after row in order, the structure the temporal links read back."""
    w, r = width, heads
    return jnp.concatenate(
        [
            jnp.zeros((w * r + r + w + 1 + w + w,)),  # read keys and strengths, write key and strength, erase, vector
            jnp.full((r,), START_FREE_GATE),
            jnp.array([START_ALLOCATION_GATE, START_WRITE_GATE]),
            jnp.zeros((READ_MODES * r,)),
        ]
    )


def oneplus(x: Array) -> Array:
    """``1 + log(1 + e^x)``: a strength of at least 1, so a key is never ignored outright."""
    return 1.0 + jax.nn.softplus(x)


def parse_interface(raw: Array, width: int, heads: int) -> Interface:
    """Split ``raw`` (B, interface_size) in the paper's order and squash each piece."""
    w, r = width, heads
    sizes = (w * r, r, w, 1, w, w, r, 1, 1, READ_MODES * r)
    cuts = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
    if raw.shape[-1] != sum(sizes):
        raise ValueError(f"a DNC interface with width {w} and {r} heads has {sum(sizes)} values, got {raw.shape[-1]}")
    kr, br, kw, bw, e, v, f, ga, gw, pi = jnp.split(raw, cuts, axis=-1)
    batch = raw.shape[:-1]
    return Interface(
        read_keys=kr.reshape(*batch, r, w),
        read_strengths=oneplus(br),
        write_key=kw.reshape(*batch, 1, w),
        write_strength=oneplus(bw),
        erase=jax.nn.sigmoid(e),
        write_vector=v,
        free_gates=jax.nn.sigmoid(f),
        allocation_gate=jax.nn.sigmoid(ga[..., 0]),
        write_gate=jax.nn.sigmoid(gw[..., 0]),
        read_modes=jax.nn.softmax(pi.reshape(*batch, r, READ_MODES), axis=-1),
    )


def retention(free_gates: Array, read_w: Array) -> Array:
    """``psi = prod_i (1 - f_i w^r_{t-1,i})``: how much of each row survives being freed.

    ``free_gates`` (B, R), ``read_w`` (B, R, N) -> (B, N). A free gate of 1 releases what its head
    just read, so the row can be allocated again."""
    return jnp.prod(1.0 - free_gates[..., None] * read_w, axis=-2)


def update_usage(usage: Array, write_w: Array, psi: Array) -> Array:
    """``u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} w^w_{t-1}) psi``: a write raises usage towards 1,
    freeing scales it down. All (B, N)."""
    return (usage + write_w - usage * write_w) * psi


def allocation(usage: Array) -> Array:
    """The allocation weighting (B, N): the least-used row gets ``1 - u``, each next one what the
    rows before it leave (``prod`` of their usages), so a free row takes almost all the weight.

    The sort order is a constant (``argsort`` has no gradient); the weighting is differentiable in
    the usage values, the paper's choice. Ties (an empty memory) go to the lower row index."""
    order = jax.lax.stop_gradient(jnp.argsort(usage, axis=-1))
    sorted_usage = jnp.take_along_axis(usage, order, axis=-1)
    before = jnp.cumprod(sorted_usage, axis=-1)
    before = jnp.concatenate([jnp.ones_like(before[..., :1]), before[..., :-1]], axis=-1)
    sorted_alloc = (1.0 - sorted_usage) * before
    back = jnp.argsort(order, axis=-1)  # inverse permutation: sorted position of each row
    return jnp.take_along_axis(sorted_alloc, back, axis=-1)


def write_weighting(alloc: Array, content: Array, allocation_gate: Array, write_gate: Array) -> Array:
    """``w^w = g^w (g^a a + (1 - g^a) c^w)``: (B, N) from (B, N), (B, N), (B,), (B,)."""
    ga, gw = allocation_gate[..., None], write_gate[..., None]
    return gw * (ga * alloc + (1.0 - ga) * content)


def write_memory(memory: Array, write_w: Array, erase: Array, vector: Array) -> Array:
    """Erase then add: ``M (E - w^w e^T) + w^w v^T``. memory (B, N, W); write_w (B, N);
    erase, vector (B, W)."""
    memory = memory * (1.0 - write_w[..., :, None] * erase[..., None, :])
    return memory + write_w[..., :, None] * vector[..., None, :]


def update_links(link: Array, precedence: Array, write_w: Array) -> tuple[Array, Array]:
    """The temporal link matrix and precedence after a write.

    ``L_t[i, j] = (1 - w[i] - w[j]) L_{t-1}[i, j] + w[i] p_{t-1}[j]`` with a zero diagonal (a row
    never follows itself), then ``p_t = (1 - sum w) p_{t-1} + w``: the rows written last. link
    (B, N, N), precedence and write_w (B, N). Returns (link, precedence)."""
    wi, wj = write_w[..., :, None], write_w[..., None, :]
    link = (1.0 - wi - wj) * link + wi * precedence[..., None, :]
    n = link.shape[-1]
    link = link * (1.0 - jnp.eye(n, dtype=link.dtype))
    precedence = (1.0 - jnp.sum(write_w, axis=-1, keepdims=True)) * precedence + write_w
    return link, precedence


def directional_weights(link: Array, read_w: Array) -> tuple[Array, Array]:
    """Forward ``L w^r`` (the rows written after the last read ones) and backward ``L^T w^r``
    (written before). link (B, N, N); read_w (B, R, N) -> two (B, R, N)."""
    forward = jnp.einsum("bij,brj->bri", link, read_w)
    backward = jnp.einsum("bji,brj->bri", link, read_w)
    return forward, backward


def read_weighting(modes: Array, backward: Array, content: Array, forward: Array) -> Array:
    """``w^r = pi[0] b + pi[1] c + pi[2] f``, per head: modes (B, R, 3), the rest (B, R, N)."""
    return modes[..., 0:1] * backward + modes[..., 1:2] * content + modes[..., 2:3] * forward


def read_memory(memory: Array, read_w: Array) -> Array:
    """``r^i = M^T w^r_i``: memory (B, N, W), read_w (B, R, N) -> (B, R, W)."""
    return jnp.einsum("bnw,brn->brw", memory, read_w)


State = dict[str, Array]
"""memory (B, N, W), usage (B, N), link (B, N, N), precedence (B, N), write_w (B, N),
read_w (B, R, N), read_modes (B, R, 3), reads (B, R, W): all a step needs, plus what views plot."""


def init_state(batch: int, slots: int, width: int, heads: int, dtype: Any = jnp.float32) -> State:
    """An empty memory: zero rows, zero usage, no links, no previous weightings or reads."""

    def z(*shape: int) -> Array:
        return jnp.zeros((batch, *shape), dtype)

    modes = jnp.zeros((batch, heads, READ_MODES), dtype).at[..., 1].set(1.0)  # not read: views only
    return {
        "memory": z(slots, width),
        "usage": z(slots),
        "link": z(slots, slots),
        "precedence": z(slots),
        "write_w": z(slots),
        "read_w": z(heads, slots),
        "read_modes": modes,
        "reads": z(heads, width),
    }


def step(state: State, raw: Array, slots: int, width: int, heads: int) -> tuple[State, Array]:
    """One DNC memory step from the raw interface (B, W R + 3 W + 5 R + 3).

    Returns the new state and what the heads read this step, flattened to (B, R * W)."""
    iface = parse_interface(raw, width, heads)
    memory = state["memory"]
    psi = retention(iface.free_gates, state["read_w"])
    usage = update_usage(state["usage"], state["write_w"], psi)
    content_w = content_weights(memory, iface.write_key, iface.write_strength)[..., 0, :]
    write_w = write_weighting(allocation(usage), content_w, iface.allocation_gate, iface.write_gate)
    memory = write_memory(memory, write_w, iface.erase, iface.write_vector)
    link, precedence = update_links(state["link"], state["precedence"], write_w)
    forward, backward = directional_weights(link, state["read_w"])
    content_r = content_weights(memory, iface.read_keys, iface.read_strengths)
    read_w = read_weighting(iface.read_modes, backward, content_r, forward)
    reads = read_memory(memory, read_w)
    new = {
        "memory": memory,
        "usage": usage,
        "link": link,
        "precedence": precedence,
        "write_w": write_w,
        "read_w": read_w,
        "read_modes": iface.read_modes,
        "reads": reads,
    }
    return new, reads.reshape(*reads.shape[:-2], heads * width)


@dataclass(frozen=True)
class DNCAddressing:
    """The DNC as an external memory group's addressing scheme (``addressing: dnc``): the object
    :mod:`.memory` looks up by name and calls once per time step."""

    def interface_size(self, slots: int, width: int, heads: int) -> int:
        """``W R + 3 W + 5 R + 3`` (independent of ``slots``)."""
        return interface_size(width, heads)

    def init_state(self, batch: int, slots: int, width: int, heads: int, dtype: Any = jnp.float32) -> State:
        """See :func:`init_state`."""
        return init_state(batch, slots, width, heads, dtype)

    def init_bias(self, slots: int, width: int, heads: int) -> Array:
        """See :func:`interface_bias`."""
        return interface_bias(width, heads)

    def step(self, state: State, interface: Array, slots: int, width: int, heads: int) -> tuple[State, Array]:
        """See :func:`step`."""
        return step(state, interface, slots, width, heads)


DNC = DNCAddressing()
"""The instance ``ADDRESSING["dnc"]`` points at."""
