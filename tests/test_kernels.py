"""The compiler's fast paths give the values and gradients of the plain JAX they replace.

``compiler.recurrent`` (LSTM / GRU with hand-derived gradients, batch chains), the native CPU
LSTM and GRU kernels (``compiler.native``, float32 only, so checked against float64 within
float32 rounding), the im2col
convolution and the tiled pooling in ``compiler.ops`` exist only for speed (bench/train_bench.py);
each is checked here against the straightforward version: ``lax.scan`` under autodiff,
``lax.conv_general_dilated`` and ``lax.reduce_window``, in float64 so that differences are
algorithmic, not rounding.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import IN_CI, fail_or_skip
from jax import lax
from jax.test_util import check_grads

from cellgraph.compiler import native, ops, recurrent


def _scan(name: str, carries: int):
    def scan(proj: jax.Array, w_rec: jax.Array, act) -> jax.Array:
        zero = jnp.zeros((proj.shape[1], w_rec.shape[0]), proj.dtype)
        return ops.scan_steps(ops.STEPS[name], proj, w_rec, act, (zero,) * carries if carries > 1 else zero)

    return scan


KINDS = {  # name -> (fused layer, reference scan, gate blocks)
    "lstm": (recurrent.lstm_sequence, _scan("lstm", 2), 4),
    "gru": (recurrent.gru_sequence, _scan("gru", 1), 3),
}


def _weights(gates: int, features: int, n: int, seed: int = 0) -> tuple[jax.Array, ...]:
    k = jax.random.split(jax.random.key(seed), 3)
    w_in = jax.random.normal(k[0], (features, gates * n), jnp.float64) * 0.5
    bias = jax.random.normal(k[1], (gates * n,), jnp.float64) * 0.3
    w_rec = jax.random.normal(k[2], (n, gates * n), jnp.float64) * 0.4
    return w_in, bias, w_rec


def _reference(scan, x, w_in, bias, w_rec, last):
    proj = jnp.swapaxes(x @ w_in + bias, 0, 1)  # (time, batch, g*n)
    hs = jnp.swapaxes(scan(proj, w_rec, jnp.tanh), 0, 1)
    return hs[:, -1] if last else hs


@pytest.mark.parametrize(("kind", "last", "chains"), list(itertools.product(KINDS, (True, False), (1, 2, 3))))
def test_fused_recurrent_layer_matches_the_autodiff_scan(
    kind: str, last: bool, chains: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recurrent, "chains_for", lambda batch: chains)
    fused, scan, gates = KINDS[kind]
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(1), (6, 7, 3), jnp.float64)
        weights = _weights(gates, 3, 5)
        out = fused(x, *weights, last)
        ref = _reference(scan, x, *weights, last)
        assert out.shape == ((6, 5) if last else (6, 7, 5))
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)

        def loss(layer):
            return lambda *args: jnp.sum(jnp.sin(layer(*args)))

        got = jax.grad(loss(fused), argnums=(0, 1, 2, 3))(x, *weights, last)
        want = jax.grad(loss(lambda *a: _reference(scan, *a)), argnums=(0, 1, 2, 3))(x, *weights, last)
        for g, r, name in zip(got, want, ("x", "w_in", "bias", "w_rec"), strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12, err_msg=f"d/d{name}")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fused_recurrent_layer_on_accelerators_matches_too(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU/TPU path (one chain, uninitialised scratch buffers) computes the same values and gradients."""
    monkeypatch.setattr(recurrent, "_backend", lambda: "gpu")
    assert recurrent.chains_for(64) == 1
    fused, scan, gates = KINDS[kind]
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(4), (5, 6, 3), jnp.float64)
        weights = _weights(gates, 3, 4, seed=5)
        for last in (True, False):
            np.testing.assert_allclose(fused(x, *weights, last), _reference(scan, x, *weights, last), rtol=1e-12)
            got = jax.grad(lambda *a, e=last: jnp.sum(jnp.sin(fused(*a, e))), argnums=(0, 1, 2, 3))(x, *weights)
            want = jax.grad(lambda *a, e=last: jnp.sum(jnp.sin(_reference(scan, *a, e))), argnums=(0, 1, 2, 3))(
                x, *weights
            )
            for g, r in zip(got, want, strict=True):
                np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fused_recurrent_gradients_match_finite_differences(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recurrent, "chains_for", lambda batch: 2)
    fused, _, gates = KINDS[kind]
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(2), (4, 5, 2), jnp.float64)
        args = (x, *_weights(gates, 2, 3, seed=3))
        check_grads(jax.jit(lambda *a: jnp.sum(jnp.cos(fused(*a, False)))), args, order=1, modes=("rev",))


def test_batch_chains_are_one_per_core_dividing_the_batch_with_16_rows_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recurrent.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(recurrent, "_backend", lambda: "cpu")
    want = {1: 1, 15: 1, 31: 1, 32: 2, 40: 2, 48: 3, 50: 2, 64: 4, 1000: 4}  # 50: 3 would not divide it
    assert {batch: recurrent.chains_for(batch) for batch in want} == want
    monkeypatch.setattr(recurrent, "_backend", lambda: "gpu")
    assert recurrent.chains_for(1000) == 1  # one kernel stream: chains would only add launches


# ------------------------------------------------------------------ native CPU LSTM and GRU


@pytest.fixture
def native_kernels() -> None:
    """The native kernels must build here: CI fails without them, other machines skip."""
    if not native.available():
        fail_or_skip(f"no native kernels (compiler: {native.compiler()})", "build the native kernels", IN_CI)


NATIVE_SHAPES = [  # (batch, time, features, cells): vector-width tails, one row, one step, odd sizes
    (6, 7, 3, 5),
    (17, 4, 1, 16),
    (1, 1, 2, 70),
    (9, 6, 20, 33),
    (64, 30, 2, 64),
]


@pytest.mark.usefixtures("native_kernels")
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("last", [True, False])
@pytest.mark.parametrize(("batch", "time", "features", "n"), NATIVE_SHAPES)
def test_native_layer_matches_the_float64_scan(
    kind: str, batch: int, time: int, features: int, n: int, last: bool
) -> None:
    layer, scan, gates = KINDS[kind]
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(7), (batch, time, features), jnp.float64)
        weights = _weights(gates, features, n, seed=8)

        def loss(layer):
            return lambda *args: jnp.sum(jnp.sin(layer(*args, last)))

        ref_out = _reference(scan, x, *weights, last)
        ref_grads = jax.grad(loss(lambda *a: _reference(scan, *a)), argnums=(0, 1, 2, 3))(x, *weights)
        args32 = [a.astype(jnp.float32) for a in (x, *weights)]
        assert recurrent._native(*args32)
        lowered = jax.jit(jax.grad(loss(layer), argnums=(0, 1, 2, 3))).lower(*args32).as_text()
        assert f"cellgraph_{kind}_forward" in lowered and f"cellgraph_{kind}_backward" in lowered
        out, _ = jax.vjp(lambda *a: layer(*a, last), *args32)  # the fwd rule's output: the native kernel's
        grads = jax.grad(loss(layer), argnums=(0, 1, 2, 3))(*args32)
    assert out.dtype == jnp.float32 and out.shape == ref_out.shape
    np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-5)  # XLA's own float32 scan errs by 5e-6 here
    for g, r, name in zip(grads, ref_grads, ("x", "w_in", "bias", "w_rec"), strict=True):
        assert g.dtype == jnp.float32
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(r).max())), err_msg=name)


@pytest.mark.usefixtures("native_kernels")
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_native_layer_under_vmap_equals_one_call_per_member(kind: str) -> None:
    layer, _, gates = KINDS[kind]
    x = jax.random.normal(jax.random.key(1), (3, 4, 5, 2), jnp.float32)
    with jax.enable_x64(True):
        weights = [w.astype(jnp.float32) for w in _weights(gates, 2, 6, seed=2)]
    batched = jax.vmap(lambda xi: layer(xi, *weights, False))(x)
    one_by_one = jnp.stack([layer(xi, *weights, False) for xi in x])
    np.testing.assert_array_equal(batched, one_by_one)


def _relative(got: jax.Array, want: jax.Array) -> float:
    """The norm-wise relative error |got - want| / |want|, in float64."""
    got64, want64 = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got64 - want64) / np.linalg.norm(want64))


def _near_zero_problem(gates: int, scale: float) -> list[jax.Array]:
    """Float32 inputs of size ``scale`` for a layer whose every tanh argument is of that size too: the
    tanh block's bias is zero, the states stay small. The sigmoid gates keep a bias: near zero their
    values are near 0.5, where nothing is lost. 19 cells: whole vectors and a scalar tail."""
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(11), (8, 6, 3), jnp.float64) * scale
        w_in, bias, w_rec = _weights(gates, 3, 19, seed=12)
        bias = bias.at[2 * 19 : 3 * 19].set(0.0)
        return [a.astype(jnp.float32) for a in (x, w_in, bias, w_rec)]


@pytest.mark.usefixtures("native_kernels")
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("scale", [1e-6, 1e-4, 1e-2])
def test_native_layer_keeps_relative_precision_near_zero(kind: str, scale: float) -> None:
    """Values and gradients of a layer whose tanh arguments are near zero, against float64, relative.

    The absolute tolerances above cannot see this. With tanh(x) computed as 2 sigmoid(2x) - 1 the
    outputs and the recurrent weights' gradient erred by 9e-2 (relative) at scale 1e-6, 9e-4 at
    1e-4 and 9e-6 at 1e-2; XLA's float32 loop and the kernel now err by at most 4e-7 at every
    scale, so 2e-6 leaves a margin of five for other CPUs' rounding."""
    layer, scan, gates = KINDS[kind]
    args32 = _near_zero_problem(gates, scale)
    assert recurrent._native(*args32)

    def loss(layer):
        return lambda *args: jnp.sum(jnp.sin(layer(*args, False)))

    with jax.enable_x64(True):
        args64 = [a.astype(jnp.float64) for a in args32]  # the same inputs, exactly
        ref_out = _reference(scan, *args64, False)
        ref_grads = jax.grad(loss(lambda *a: _reference(scan, *a)), argnums=(0, 1, 2, 3))(*args64)
    out, _ = jax.vjp(lambda *a: layer(*a, False), *args32)  # the native forward kernel's output
    grads = jax.grad(loss(layer), argnums=(0, 1, 2, 3))(*args32)
    assert float(jnp.abs(out).max()) < 100 * scale  # the tanh arguments are as small as meant
    errors = {"output": _relative(out, ref_out), "inference output": _relative(layer(*args32, False), ref_out)}
    errors |= {
        f"d/d{name}": _relative(g, r)
        for g, r, name in zip(grads, ref_grads, ("x", "w_in", "bias", "w_rec"), strict=True)
    }
    assert max(errors.values()) < 2e-6, errors


def test_without_a_compiler_the_lstm_runs_as_an_xla_loop_after_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path))
    native.available.cache_clear()
    try:
        with pytest.warns(native.NativeKernelWarning, match="native CPU kernels are unavailable .*no-such-compiler"):
            assert not native.available()
        assert not native.available()  # decided once per process: no second warning (warnings are errors here)
        x = jnp.ones((2, 3, 1), jnp.float32)
        w_in, bias, w_rec = jnp.full((1, 8), 0.1), jnp.zeros(8), jnp.full((2, 8), 0.2)
        assert not recurrent._native(x, w_in, bias, w_rec)
        text = jax.jit(lambda *a: recurrent.lstm_sequence(*a, True)).lower(x, w_in, bias, w_rec).as_text()
        assert "cellgraph_lstm" not in text and "while" in text
    finally:
        native.available.cache_clear()


def test_cellgraph_native_0_turns_the_kernels_off_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELLGRAPH_NATIVE", "0")
    native.available.cache_clear()
    try:
        assert not native.available()
    finally:
        native.available.cache_clear()


def test_a_failing_build_says_what_the_compiler_said(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.cc"
    broken.write_text("this is not C++\n")
    monkeypatch.setattr(native, "SOURCE", broken)
    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    if native.compiler() is None:
        fail_or_skip("no C++ compiler", "build the native LSTM kernel", IN_CI)
    with pytest.raises(native.NativeBuildError, match="failed .*broken.cc"):
        native.build()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # no half-written library left behind


def test_cxx_may_name_a_compiler_with_a_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXX", "ccache g++")
    assert native.compiler() == ["ccache", "g++"]


# ------------------------------------------------------------------------------- convolution

CONVS = [  # (input shape, kernel window, stride, padding)
    ((3, 8, 8, 2), (3, 3), (1, 1), "same"),
    ((3, 8, 8, 2), (3, 3), (2, 2), "same"),
    ((3, 7, 6, 2), (2, 3), (2, 1), "valid"),
    ((3, 5, 5, 1), (5, 5), (1, 1), "valid"),
    ((2, 9, 3), (4,), (2,), "same"),
    ((2, 9, 3), (3,), (1,), "valid"),
]


@pytest.mark.parametrize(("shape", "window", "stride", "padding"), CONVS)
def test_patch_convolution_matches_xla_convolution(
    shape: tuple[int, ...], window: tuple[int, ...], stride: tuple[int, ...], padding: str
) -> None:
    rank = len(window)
    dims = ops._DIMS[rank]
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(0), shape, jnp.float64)
        kernel = jax.random.normal(jax.random.key(1), (*window, shape[-1], 4), jnp.float64)
        pads = lax.padtype_to_pads(shape[1:-1], window, stride, padding.upper())

        def by_xla(x, k):
            return lax.conv_general_dilated(x, k, stride, padding.upper(), dimension_numbers=dims)

        def by_patches(x, k):
            ref = by_xla(x, k)
            return ops._im2col_conv(x, k, stride, pads, list(ref.shape[1:-1]))

        np.testing.assert_allclose(by_patches(x, kernel), by_xla(x, kernel), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ops.conv(x, kernel, stride, padding), by_xla(x, kernel), rtol=1e-12, atol=1e-12)
        for argnum in (0, 1):
            got = jax.grad(lambda *a: jnp.sum(jnp.sin(by_patches(*a))), argnums=argnum)(x, kernel)
            want = jax.grad(lambda *a: jnp.sum(jnp.sin(by_xla(*a))), argnums=argnum)(x, kernel)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_large_convolutions_keep_xla_convolution(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(ops, "_im2col_conv", lambda *a: calls.append(a))
    monkeypatch.setattr(ops, "IM2COL_MAX_ELEMENTS", 10)
    x, kernel = jnp.ones((2, 4, 4, 1)), jnp.ones((3, 3, 1, 2))
    assert ops.conv(x, kernel, (1, 1), "same").shape == (2, 4, 4, 2)
    assert calls == []


# ----------------------------------------------------------------------------------- pooling

POOLS = [  # (input shape, window, stride, padding): tiling ones use the reshape path
    ((2, 8, 8, 3), (2, 2), (2, 2), "valid"),
    ((2, 6, 4, 3), (3, 2), (3, 2), "same"),
    ((2, 8, 3), (4,), (4,), "valid"),
    ((2, 7, 7, 3), (2, 2), (2, 2), "same"),  # 7 is not a multiple of 2: reduce_window
    ((2, 8, 8, 3), (3, 3), (2, 2), "valid"),  # overlapping windows: reduce_window
]


@pytest.mark.parametrize("kind", ["max_pool", "avg_pool"])
@pytest.mark.parametrize(("shape", "window", "stride", "padding"), POOLS)
def test_pooling_matches_reduce_window(
    kind: str, shape: tuple[int, ...], window: tuple[int, ...], stride: tuple[int, ...], padding: str
) -> None:
    with jax.enable_x64(True):
        # distinct values, so every window's maximum is unique and differentiable
        x = jax.random.permutation(jax.random.key(0), jnp.arange(np.prod(shape), dtype=jnp.float64)).reshape(shape)
        dims, strides = (1, *window, 1), (1, *stride, 1)

        def ref(x):
            if kind == "max_pool":
                return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, padding.upper())
            return lax.reduce_window(x, 0.0, lax.add, dims, strides, padding.upper()) / np.prod(window)

        def got(x):
            return ops.pool(x, window, stride, padding, kind)

        np.testing.assert_allclose(got(x), ref(x), rtol=1e-12)
        np.testing.assert_allclose(
            jax.grad(lambda x: jnp.sum(jnp.sin(got(x))))(x), jax.grad(lambda x: jnp.sum(jnp.sin(ref(x))))(x), rtol=1e-10
        )


def test_tiled_max_pool_gives_ties_to_the_first_maximum_as_reduce_window_does() -> None:
    x = jnp.zeros((1, 4, 4, 2)).at[0, 1, 1, 0].set(-1.0)  # all windows tied at 0 but one element
    dims = (1, 2, 2, 1)

    def ref(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, dims, dims, "VALID")

    g = jax.grad(
        lambda x: jnp.sum(ops.pool(x, (2, 2), (2, 2), "valid", "max_pool") * jnp.arange(1.0, 9.0).reshape(1, 2, 2, 2))
    )
    want = jax.grad(lambda x: jnp.sum(ref(x) * jnp.arange(1.0, 9.0).reshape(1, 2, 2, 2)))
    np.testing.assert_array_equal(g(x), want(x))
    assert float(jnp.sum(g(x) != 0)) == 8  # one element per window and channel


@pytest.mark.parametrize(("kind", "gates_fn"), [("lstm", "lstm_gates"), ("gru", "gru_gates")])
def test_the_recurrence_math_is_written_once(kind: str, gates_fn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The step function and the hand-differentiated layer both compute their gates through one
    function of ``ops``: replace it, and both change (the native kernels are the tested override)."""
    fused, scan, gates = KINDS[kind]
    with jax.enable_x64(True):  # float64: the XLA loops, not the float32 native kernels
        x = jax.random.normal(jax.random.key(1), (4, 5, 3), jnp.float64)
        weights = _weights(gates, 3, 2)
        before = (fused(x, *weights, False), _reference(scan, x, *weights, False))
        real = getattr(ops, gates_fn)

        def doubled(*args: Any) -> Any:  # forwards whatever the gate function takes
            out = real(*args)
            return (2 * out[0], *out[1:])

        monkeypatch.setattr(ops, gates_fn, doubled)
        after = (fused(x, *weights, False), _reference(scan, x, *weights, False))
    for old, new in zip(before, after, strict=True):
        assert not np.allclose(old, new)  # each path went through the one definition
    np.testing.assert_allclose(after[0], after[1], rtol=1e-12, atol=1e-12)  # and they still agree
