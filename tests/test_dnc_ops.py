"""The DNC's memory addressing (cellgraph/compiler/dnc.py) against the paper's equations.

A small NumPy DNC written here from Graves et al. (2016), Methods, one example and one head at a
time with plain loops, is the reference; hand-made cases pin the semantics (allocation picks the
least-used row, links record write order, a forward read follows it, free gates release rows);
jax.grad is checked against central finite differences in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import check_grad

from cellgraph.compiler import dnc

# --- the reference: the paper's equations, one example at a time ---------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _oneplus(z: np.ndarray) -> np.ndarray:
    return 1.0 + np.log1p(np.exp(z))


def _content(memory: np.ndarray, key: np.ndarray, beta: float) -> np.ndarray:
    """C(M, k, beta)[i] = softmax_i(beta * cos(k, M[i])), the norms kept off zero as memory_ops does."""
    eps = 1e-6
    cos = np.array([row @ key / (np.sqrt(row @ row + eps) * np.sqrt(key @ key + eps)) for row in memory])
    return _softmax(beta * cos)


def _allocation(u: np.ndarray) -> np.ndarray:
    phi = np.argsort(u, kind="stable")
    a = np.zeros_like(u)
    for j, row in enumerate(phi):
        a[row] = (1 - u[row]) * np.prod(u[phi[:j]])
    return a


def _reference_step(
    state: dict[str, np.ndarray], raw: np.ndarray, w: int, r: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One step for one example: state without a batch axis, raw the interface vector."""
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        piece = raw[pos : pos + n]
        pos += n
        return piece

    kr = take(w * r).reshape(r, w)
    br = _oneplus(take(r))
    kw = take(w)
    bw = _oneplus(take(1))[0]
    e = _sigmoid(take(w))
    v = take(w)
    f = _sigmoid(take(r))
    ga = _sigmoid(take(1))[0]
    gw = _sigmoid(take(1))[0]
    pi = np.stack([_softmax(z) for z in take(3 * r).reshape(r, 3)])
    assert pos == raw.size

    mem, link, p = state["memory"], state["link"], state["precedence"]
    n = mem.shape[0]
    psi = np.ones(n)
    for i in range(r):
        psi *= 1 - f[i] * state["read_w"][i]
    u = (state["usage"] + state["write_w"] - state["usage"] * state["write_w"]) * psi
    ww = gw * (ga * _allocation(u) + (1 - ga) * _content(mem, kw, bw))
    mem = mem * (1 - np.outer(ww, e)) + np.outer(ww, v)
    new_link = np.zeros_like(link)
    for i in range(n):
        for j in range(n):
            if i != j:
                new_link[i, j] = (1 - ww[i] - ww[j]) * link[i, j] + ww[i] * p[j]
    p = (1 - ww.sum()) * p + ww
    wr = np.zeros((r, n))
    for i in range(r):
        fwd = new_link @ state["read_w"][i]
        bwd = new_link.T @ state["read_w"][i]
        wr[i] = pi[i, 0] * bwd + pi[i, 1] * _content(mem, kr[i], br[i]) + pi[i, 2] * fwd
    reads = wr @ mem
    new = {"memory": mem, "usage": u, "link": new_link, "precedence": p, "write_w": ww, "read_w": wr}
    return new, reads.reshape(-1)


def _np_state(state: dict[str, jax.Array], b: int) -> dict[str, np.ndarray]:
    return {
        k: np.asarray(state[k][b], np.float64) for k in ("memory", "usage", "link", "precedence", "write_w", "read_w")
    }


# --- semantics --------------------------------------------------------------------------------------


def test_the_interface_has_the_papers_size_and_ranges() -> None:
    assert dnc.interface_size(8, 1) == 8 + 24 + 5 + 3
    assert dnc.DNC.interface_size(16, 8, 1) == dnc.interface_size(8, 1)
    raw = jax.random.normal(jax.random.key(0), (3, dnc.interface_size(5, 2))) * 4
    i = dnc.parse_interface(raw, 5, 2)
    assert i.read_keys.shape == (3, 2, 5) and i.write_key.shape == (3, 1, 5)
    assert bool((i.read_strengths >= 1).all()) and bool((i.write_strength >= 1).all())
    for gate in (i.erase, i.free_gates, i.allocation_gate, i.write_gate):
        assert bool(((gate > 0) & (gate < 1)).all())
    np.testing.assert_allclose(i.read_modes.sum(-1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="has 38 values, got 30"):
        dnc.parse_interface(raw[:, :30], 5, 2)


def test_the_starting_bias_opens_write_and_allocation_gates_and_closes_the_free_gates() -> None:
    """With only the starting bias (a controller that says nothing yet) each step writes one new
    row and the links record their order: the structure a forward read follows back."""
    bias = dnc.interface_bias(8, 2)
    assert bias.shape == (dnc.interface_size(8, 2),)
    i = dnc.parse_interface(bias[None], 8, 2)
    assert float(i.write_gate[0]) > 0.9 and float(i.allocation_gate[0]) > 0.9
    assert bool((i.free_gates < 0.1).all())
    assert int((np.asarray(bias) != 0).sum()) == 2 + 2  # nothing else moved: keys, modes, erase stay at zero
    state = dnc.init_state(1, 6, 8, 2)
    vector = jnp.zeros_like(bias).at[2 * 8 + 2 + 8 + 1 + 8 : 2 * 8 + 2 + 8 + 1 + 16].set(1.0)  # write all-ones
    rows = []
    for _ in range(4):
        state, _ = dnc.step(state, (bias + vector)[None], 6, 8, 2)
        rows.append(int(np.argmax(np.asarray(state["write_w"][0]))))
        assert float(state["write_w"][0].max()) > 0.85
    assert rows[0] == 0 and len(set(rows)) == 4  # a fresh row each step (which free row: float ties)
    link = np.asarray(state["link"][0])
    for before, after in zip(rows, rows[1:], strict=False):
        assert link[after, before] > 0.8  # the links record the order of the writes


def test_allocation_picks_the_least_used_row_and_matches_the_paper() -> None:
    usage = jnp.array([[0.9, 0.2, 0.05, 0.7, 0.6], [1.0, 1.0, 0.0, 1.0, 1.0]])
    a = np.asarray(dnc.allocation(usage))
    assert a[0].argmax() == 2 and a[1].argmax() == 2
    np.testing.assert_allclose(a[1], [0, 0, 1, 0, 0], atol=1e-7)
    rng = np.random.default_rng(0)
    for u in rng.uniform(0, 1, (6, 7)):
        np.testing.assert_allclose(
            dnc.allocation(jnp.asarray(u[None], jnp.float32))[0], _allocation(u), rtol=1e-5, atol=1e-6
        )
    # an empty memory allocates its first row; a full one allocates nothing
    np.testing.assert_allclose(dnc.allocation(jnp.zeros((1, 4)))[0], [1, 0, 0, 0])
    np.testing.assert_allclose(dnc.allocation(jnp.ones((1, 4)))[0], [0, 0, 0, 0])


def _one_hot(n: int, i: int) -> jax.Array:
    return jnp.zeros((1, n)).at[0, i].set(1.0)


def test_writing_rows_2_then_5_links_5_after_2_and_a_forward_read_follows() -> None:
    n = 8
    link, prec = jnp.zeros((1, n, n)), jnp.zeros((1, n))
    link, prec = dnc.update_links(link, prec, _one_hot(n, 2))
    assert float(jnp.abs(link).max()) == 0.0  # nothing was written before row 2
    np.testing.assert_allclose(prec[0], _one_hot(n, 2)[0])
    link, prec = dnc.update_links(link, prec, _one_hot(n, 5))
    expected = np.zeros((n, n))
    expected[5, 2] = 1.0  # L[i, j]: row i was written right after row j
    np.testing.assert_allclose(link[0], expected)
    np.testing.assert_allclose(prec[0], _one_hot(n, 5)[0])
    assert float(jnp.abs(jnp.diagonal(link[0])).max()) == 0.0
    read_w = _one_hot(n, 2)[:, None, :]  # one head that read row 2
    forward, backward = dnc.directional_weights(link, read_w)
    np.testing.assert_allclose(forward[0, 0], _one_hot(n, 5)[0])
    np.testing.assert_allclose(backward[0, 0], np.zeros(n))  # nothing was written before row 2
    forward, backward = dnc.directional_weights(link, _one_hot(n, 5)[:, None, :])
    np.testing.assert_allclose(backward[0, 0], _one_hot(n, 2)[0])
    # a read weighting in pure forward mode moves from row 2 to row 5
    modes = jnp.array([[[0.0, 0.0, 1.0]]])
    fwd, bwd = dnc.directional_weights(link, read_w)
    w = dnc.read_weighting(modes, bwd, jnp.full((1, 1, n), 1.0 / n), fwd)
    np.testing.assert_allclose(w[0, 0], _one_hot(n, 5)[0])


def test_usage_rises_after_a_write_and_falls_when_a_read_row_is_freed() -> None:
    n = 6
    usage = jnp.zeros((1, n))
    psi = dnc.retention(jnp.zeros((1, 1)), jnp.zeros((1, 1, n)))
    np.testing.assert_allclose(psi[0], np.ones(n))
    usage = dnc.update_usage(usage, _one_hot(n, 3), psi)
    assert float(usage[0, 3]) == 1.0 and float(usage[0].sum()) == 1.0
    # the head read row 3 and its free gate is 1: row 3 is released, the others kept
    psi = dnc.retention(jnp.ones((1, 1)), _one_hot(n, 3)[:, None, :])
    after = dnc.update_usage(usage, jnp.zeros((1, n)), psi)
    assert float(after[0, 3]) == 0.0
    # a free gate of 0 keeps it; and the next allocation goes to the released row once others are used
    kept = dnc.update_usage(usage, jnp.zeros((1, n)), dnc.retention(jnp.zeros((1, 1)), _one_hot(n, 3)[:, None, :]))
    assert float(kept[0, 3]) == 1.0
    full = jnp.ones((1, n)).at[0, 3].set(0.0)
    assert int(dnc.allocation(full)[0].argmax()) == 3


def test_a_dnc_writes_a_sequence_into_free_rows_and_reads_it_back_in_order() -> None:
    """Drive the whole step by hand: write three vectors by allocation, then read them back with
    a content lookup of the first and forward reads -- the copy task's strategy."""
    w, r, n = 4, 1, 5
    big = 30.0
    vecs = [jnp.array([1.0, -1, 1, -1]), jnp.array([1.0, 1, -1, -1]), jnp.array([-1.0, 1, 1, -1])]

    def raw(*, write: jax.Array | None, read_key: jax.Array, mode: int) -> jax.Array:
        parts = [
            read_key,  # read key
            jnp.array([big]),  # read strength
            jnp.zeros(w),  # write key
            jnp.zeros(1),  # write strength
            jnp.full((w,), big),  # erase all
            write if write is not None else jnp.zeros(w),  # write vector
            jnp.full((r,), -big),  # free gates: keep
            jnp.array([big]),  # allocation gate: allocate
            jnp.array([big if write is not None else -big]),  # write gate
            jnp.zeros(3).at[mode].set(big),  # read modes
        ]
        return jnp.concatenate(parts)[None]

    state = dnc.init_state(1, n, w, r)
    for v in vecs:
        state, _ = dnc.step(state, raw(write=v, read_key=jnp.zeros(w), mode=1), n, w, r)
    np.testing.assert_allclose(state["memory"][0, :3], jnp.stack(vecs), atol=1e-4)
    state, reads = dnc.step(state, raw(write=None, read_key=vecs[0], mode=1), n, w, r)
    got = [reads[0]]
    for _ in range(2):
        state, reads = dnc.step(state, raw(write=None, read_key=jnp.zeros(w), mode=2), n, w, r)
        got.append(reads[0])
    np.testing.assert_allclose(jnp.stack(got), jnp.stack(vecs), atol=1e-3)
    state, reads = dnc.step(state, raw(write=None, read_key=jnp.zeros(w), mode=0), n, w, r)
    np.testing.assert_allclose(reads[0], vecs[1], atol=1e-3)  # and backward again


def test_steps_match_the_numpy_reference_over_a_random_sequence() -> None:
    b, n, w, r, steps = 3, 6, 4, 2, 7
    size = dnc.interface_size(w, r)
    raws = np.random.default_rng(1).normal(0, 1.5, (steps, b, size))
    state = dnc.init_state(b, n, w, r)
    refs = [_np_state(state, i) for i in range(b)]
    jstep = jax.jit(dnc.step, static_argnums=(2, 3, 4))
    for t in range(steps):
        state, reads = jstep(state, jnp.asarray(raws[t], jnp.float32), n, w, r)
        for i in range(b):
            refs[i], ref_reads = _reference_step(refs[i], raws[t, i], w, r)
            np.testing.assert_allclose(reads[i], ref_reads, rtol=1e-4, atol=1e-5)
            for k, v in refs[i].items():
                np.testing.assert_allclose(state[k][i], v, rtol=1e-4, atol=1e-5, err_msg=f"{k} at step {t}")
    assert reads.shape == (b, r * w)


# --- gradients: jax.grad vs central differences in float64 -----------------------------------------


def _check_grad(f: Callable[[jax.Array], jax.Array], x: jax.Array, *, tol: float = 1e-6) -> None:
    """Every partial derivative of scalar ``f`` at ``x`` against central differences (float64)."""
    check_grad(f, x, rtol=1e-5, atol=tol, floor=1e-3)


def _weights(shape: tuple[int, ...], seed: int) -> jax.Array:
    """Fixed random weights that turn an array output into a scalar for the checks."""
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape))


def test_content_addressing_gradients_match_finite_differences() -> None:
    from cellgraph.compiler.memory_ops import content_weights

    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        memory = jnp.asarray(rng.normal(size=(2, 5, 3)))
        keys = jnp.asarray(rng.normal(size=(2, 2, 3)))
        beta = jnp.asarray(rng.uniform(0.5, 3, (2, 2)))
        c = _weights((2, 2, 5), 3)
        _check_grad(lambda m: jnp.sum(c * content_weights(m, keys, beta)), memory)
        _check_grad(lambda k: jnp.sum(c * content_weights(memory, k, beta)), keys)
        _check_grad(lambda s: jnp.sum(c * content_weights(memory, keys, s)), beta)


def test_allocation_gradients_match_finite_differences_away_from_ties() -> None:
    with jax.enable_x64(True):
        usage = jnp.asarray([[0.31, 0.72, 0.05, 0.55, 0.9, 0.18], [0.4, 0.2, 0.6, 0.8, 0.1, 0.95]])
        c = _weights(usage.shape, 4)
        _check_grad(lambda u: jnp.sum(c * dnc.allocation(u)), usage)


def test_link_update_gradients_match_finite_differences() -> None:
    with jax.enable_x64(True):
        rng = np.random.default_rng(5)
        link = jnp.asarray(rng.uniform(0, 0.3, (2, 4, 4)) * (1 - np.eye(4)))
        prec = jnp.asarray(rng.dirichlet(np.ones(4), 2) * 0.8)
        ww = jnp.asarray(rng.dirichlet(np.ones(4), 2) * 0.9)
        cl, cp = _weights((2, 4, 4), 6), _weights((2, 4), 7)

        def f(link: jax.Array, prec: jax.Array, ww: jax.Array) -> jax.Array:
            new_link, new_prec = dnc.update_links(link, prec, ww)
            return jnp.sum(cl * new_link) + jnp.sum(cp * new_prec)

        _check_grad(lambda x: f(x, prec, ww), link)
        _check_grad(lambda x: f(link, x, ww), prec)
        _check_grad(lambda x: f(link, prec, x), ww)


def test_a_whole_dnc_step_has_the_gradients_of_finite_differences() -> None:
    """Two steps from a non-empty state, differentiated in the interface and the memory (the
    state's usages stay distinct, so the allocation's sort order is fixed near the point)."""
    b, n, w, r = 2, 5, 3, 2
    with jax.enable_x64(True):
        rng = np.random.default_rng(8)
        state = dnc.init_state(b, n, w, r, jnp.float64)
        for _ in range(3):
            state, _ = dnc.step(state, jnp.asarray(rng.normal(0, 1, (b, dnc.interface_size(w, r)))), n, w, r)
        usage = np.asarray(state["usage"])
        gaps = np.diff(np.sort(usage, axis=-1), axis=-1)
        assert gaps.min() > 1e-4, "usage ties would make the check straddle a re-sort"
        raws = jnp.asarray(rng.normal(0, 1, (2, b, dnc.interface_size(w, r))))
        c = _weights((b, r * w), 9)

        def run(raws: jax.Array, memory: jax.Array) -> jax.Array:
            s = {**state, "memory": memory}
            total = jnp.zeros(())
            for t in range(raws.shape[0]):
                s, reads = dnc.step(s, raws[t], n, w, r)
                total = total + jnp.sum(c * reads) + jnp.sum(s["usage"] * s["write_w"])
            return total

        _check_grad(lambda x: run(x, state["memory"]), raws, tol=1e-5)
        _check_grad(lambda m: run(raws, m), state["memory"], tol=1e-5)
