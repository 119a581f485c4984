"""The NTM's memory operations (cellgraph/compiler/memory_ops.py): what each one does, and its
gradients against central finite differences in float64 on small random inputs."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from gradcheck import check_grad

from cellgraph.compiler import memory_ops as mo


def _check_grad(f: Callable[[jax.Array], jax.Array], x: jax.Array, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """jax.grad of scalar ``f`` at ``x`` against central differences, every entry at once (float64)."""
    check_grad(f, x, rtol=rtol, atol=atol, floor=1e-4)


def _coeffs(shape: tuple[int, ...], seed: int) -> jax.Array:
    """Fixed random weights that make an array output one scalar (every entry counts)."""
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape))


def _simplex(rng: np.random.Generator, shape: tuple[int, ...]) -> jax.Array:
    return jnp.asarray(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))


# -------------------------------------------------------------------------------- semantics


def test_a_strong_key_picks_the_matching_row() -> None:
    rng = np.random.default_rng(0)
    memory = jnp.asarray(rng.normal(size=(6, 4)), jnp.float32)
    for row in range(6):
        w = mo.content_weights(memory, memory[row][None] * 3.0, jnp.asarray([50.0]))  # the scale does not matter
        assert int(jnp.argmax(w[0])) == row and float(w[0, row]) > 0.9


def test_shift_plus_one_moves_a_one_hot_weighting_one_row_and_wraps() -> None:
    n = 5
    plus, minus, stay = jnp.asarray([0.0, 0.0, 1.0]), jnp.asarray([1.0, 0.0, 0.0]), jnp.asarray([0.0, 1.0, 0.0])
    for i in range(n):
        w = jax.nn.one_hot(i, n)
        np.testing.assert_array_equal(mo.shift(w, plus), jax.nn.one_hot((i + 1) % n, n))
        np.testing.assert_array_equal(mo.shift(w, minus), jax.nn.one_hot((i - 1) % n, n))
        np.testing.assert_array_equal(mo.shift(w, stay), w)
    half = mo.shift(jax.nn.one_hot(n - 1, n), jnp.asarray([0.0, 0.5, 0.5]))  # a fractional shift blurs
    np.testing.assert_allclose(half, [0.5, 0, 0, 0, 0.5])


def test_interpolation_and_sharpening() -> None:
    content, prev = jax.nn.one_hot(1, 4), jax.nn.one_hot(3, 4)
    np.testing.assert_allclose(mo.interpolate(content, prev, jnp.asarray(1.0)), content)
    np.testing.assert_allclose(mo.interpolate(content, prev, jnp.asarray(0.0)), prev)
    blurred = jnp.asarray([0.1, 0.6, 0.3, 0.0])
    sharp = mo.sharpen(blurred, jnp.asarray(4.0))
    np.testing.assert_allclose(float(sharp.sum()), 1.0, rtol=1e-6)
    np.testing.assert_allclose(sharp, blurred**4 / jnp.sum(blurred**4), rtol=1e-5, atol=1e-12)
    assert float(sharp[1]) > 0.9  # the largest weight gains
    np.testing.assert_allclose(mo.sharpen(blurred, jnp.asarray(1.0)), blurred, atol=1e-6)  # gamma 1 keeps it
    spread = mo.sharpen(jnp.full((32,), 1 / 32), jnp.asarray(400.0))  # no 0 / 0 at a large gamma
    np.testing.assert_allclose(spread, np.full(32, 1 / 32), rtol=1e-5)


def test_read_is_the_weighted_sum_of_rows() -> None:
    memory = jnp.arange(12.0).reshape(4, 3)
    w = jnp.asarray([[0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.5]])  # two heads
    np.testing.assert_allclose(mo.read(memory, w), [memory[1], (memory[0] + memory[3]) / 2])


def test_erase_then_add_with_a_one_hot_weighting_changes_only_that_row() -> None:
    rng = np.random.default_rng(1)
    memory = jnp.asarray(rng.normal(size=(5, 3)))
    erase, add = jnp.asarray([1.0, 0.0, 0.5]), jnp.asarray([2.0, -1.0, 0.25])
    new = mo.write(memory, jax.nn.one_hot(2, 5), erase, add)
    np.testing.assert_allclose(np.delete(new, 2, axis=0), np.delete(memory, 2, axis=0))
    np.testing.assert_allclose(new[2], memory[2] * (1 - erase) + add)


def test_an_ntm_step_can_copy_with_hand_set_heads() -> None:
    """Saturated interface values that walk the write head down the rows while the vectors come
    in, then walk the read head over them: the reads give the vectors back in order."""
    width, heads, slots, length = 4, 1, 8, 3
    bits = np.random.default_rng(3).integers(0, 2, (length, width)).astype(np.float32)

    def head(shift: int) -> np.ndarray:  # key, strength, gate (keep the last weighting), shift, gamma
        block = np.zeros(width + mo.NTM_HEAD, np.float32)
        block[width + 1] = -30.0
        block[width + 2 + mo.SHIFTS.index(shift)] = 30.0
        block[width + 5] = 30.0
        return block

    state = mo.ntm_init_state(1, slots, width, heads, jnp.float32)
    reads = []
    for t in range(2 * length):
        writing = t < length
        erase = np.full(width, 30.0 if writing else -30.0, np.float32)
        add = 30.0 * (2 * bits[t] - 1) if writing else np.zeros(width, np.float32)
        iface = np.concatenate([head(0 if writing else 1), head(1 if writing else 0), erase, add])
        assert iface.size == mo.ntm_interface_size(width, heads)
        state, r = mo.ntm_step(state, jnp.asarray(iface[None]), slots, width, heads)
        reads.append(np.asarray(r[0]))
    np.testing.assert_allclose((np.asarray(reads[length : 2 * length]) + 1) / 2, bits, atol=1e-4)


# ------------------------------------------------------------------------------- gradients


def test_content_addressing_gradients() -> None:
    with jax.enable_x64(True):
        rng = np.random.default_rng(10)
        memory = jnp.asarray(rng.normal(size=(2, 5, 3)))
        keys = jnp.asarray(rng.normal(size=(2, 2, 3)))
        beta = jnp.asarray(rng.uniform(0.5, 3.0, (2, 2)))
        c = _coeffs((2, 2, 5), 11)
        _check_grad(lambda m: jnp.sum(c * mo.content_weights(m, keys, beta)), memory)
        _check_grad(lambda k: jnp.sum(c * mo.content_weights(memory, k, beta)), keys)
        _check_grad(lambda b: jnp.sum(c * mo.content_weights(memory, keys, b)), beta)


def test_interpolation_shift_and_sharpening_gradients() -> None:
    with jax.enable_x64(True):
        rng = np.random.default_rng(12)
        w, prev = _simplex(rng, (2, 3, 6)), _simplex(rng, (2, 3, 6))
        gate = jnp.asarray(rng.uniform(0.1, 0.9, (2, 3)))
        shifts = _simplex(rng, (2, 3, 3))
        gamma = jnp.asarray(rng.uniform(1.0, 3.0, (2, 3)))
        c = _coeffs((2, 3, 6), 13)
        _check_grad(lambda g: jnp.sum(c * mo.interpolate(w, prev, g)), gate)
        _check_grad(lambda x: jnp.sum(c * mo.interpolate(x, prev, gate)), w)
        _check_grad(lambda x: jnp.sum(c * mo.shift(x, shifts)), w)
        _check_grad(lambda s: jnp.sum(c * mo.shift(w, s)), shifts)
        _check_grad(lambda x: jnp.sum(c * mo.sharpen(x, gamma)), w)
        _check_grad(lambda g: jnp.sum(c * mo.sharpen(w, g)), gamma)


def test_read_and_write_gradients() -> None:
    with jax.enable_x64(True):
        rng = np.random.default_rng(14)
        memory = jnp.asarray(rng.normal(size=(2, 5, 3)))
        rw, ww = _simplex(rng, (2, 2, 5)), _simplex(rng, (2, 5))
        erase, add = jnp.asarray(rng.uniform(0, 1, (2, 3))), jnp.asarray(rng.normal(size=(2, 3)))
        cr, cw = _coeffs((2, 2, 3), 15), _coeffs((2, 5, 3), 16)
        _check_grad(lambda m: jnp.sum(cr * mo.read(m, rw)), memory)
        _check_grad(lambda w: jnp.sum(cr * mo.read(memory, w)), rw)
        _check_grad(lambda m: jnp.sum(cw * mo.write(m, ww, erase, add)), memory)
        _check_grad(lambda w: jnp.sum(cw * mo.write(memory, w, erase, add)), ww)
        _check_grad(lambda e: jnp.sum(cw * mo.write(memory, ww, e, add)), erase)
        _check_grad(lambda a: jnp.sum(cw * mo.write(memory, ww, erase, a)), add)


def test_a_whole_ntm_step_has_the_gradients_of_finite_differences() -> None:
    """Two steps from a non-empty state with two read heads, differentiated in the raw interface
    (every squashing included) and in the memory at once."""
    with jax.enable_x64(True):
        width, heads, slots = 3, 2, 4
        rng = np.random.default_rng(17)
        size = mo.ntm_interface_size(width, heads)
        read_w, write_w = _simplex(rng, (1, heads, slots)), _simplex(rng, (1, slots))
        second = jnp.asarray(rng.normal(size=(1, size)))
        c1, c2 = _coeffs((1, heads * width), 18), _coeffs((1, heads * width), 19)
        cm = _coeffs((1, slots, width), 20)

        def run(flat: jax.Array) -> jax.Array:  # the first interface and the memory, as one vector
            iface, memory = flat[:size].reshape(1, size), flat[size:].reshape(1, slots, width)
            state = {"memory": memory, "read_w": read_w, "write_w": write_w}
            state, r1 = mo.ntm_step(state, iface, slots, width, heads)
            state, r2 = mo.ntm_step(state, second, slots, width, heads)
            return jnp.sum(c1 * r1) + jnp.sum(c2 * r2) + jnp.sum(cm * state["memory"])

        flat = jnp.asarray(rng.normal(size=size + slots * width))
        _check_grad(run, flat, rtol=1e-5, atol=1e-7)
