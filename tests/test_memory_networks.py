"""Memory-augmented networks from their zoo specs: the NTM (this section) and the DNC (below).

Each learning test trains the network from its spec file and scores it on held-out copy-task
sequences from its own outputs (ZOO.md 2.25, 2.26): every output bit of the recall steps
thresholded at 0.5, the wrong bits counted per sequence, the mean over sequences <= 0.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import cellgraph
from cellgraph.compiler import dnc
from cellgraph.compiler import memory_ops as mo
from cellgraph.data import load_dataset
from cellgraph.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
NTM = ROOT / "specs" / "zoo" / "ntm.yaml"
NTM_FRESH_SEED = 7  # generator seed of the length 12-16 set (a generalisation figure, printed, not asserted)


def bit_errors_per_sequence(out: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Wrong bits over the recall steps of each sequence: outputs and targets cut at 0.5,
    compared on the steps ``mask`` marks (the copy task's recall phase)."""
    wrong = (out > 0.5) != (target > 0.5)
    return (wrong & mask[:, :, None]).sum(axis=(1, 2))


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[Any]) -> Path:
    path = tmp_path / "net.yaml"
    text = yaml.safe_dump({"cellgraph": 1, "name": "net", "cells": cells, "edges": edges}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


# =========================================================================================
# NTM (Graves et al. 2014; ZOO.md 2.26)
# =========================================================================================


def _direct_ntm(params: dict[str, Any], x: np.ndarray, slots: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The NTM spec's network written out by hand from memory_ops: x -> a -> b -> c -> y, c -> m,
    m ~> c (last step's read vector into c), one read head and one write head."""
    p = jax.tree.map(np.asarray, params)
    batch, steps, _ = x.shape
    state = mo.ntm_init_state(batch, slots, width, 1, jnp.float32)
    memory, weights = state["memory"], jnp.concatenate([state["read_w"], state["write_w"][:, None]], axis=1)
    read = np.zeros((batch, width), np.float32)
    ys, reads = [], []
    per = width + mo.NTM_HEAD
    for t in range(steps):
        a = np.tanh(x[:, t] @ p["a"]["kernel"] + p["a"]["bias"])
        b = np.tanh(a @ p["b"]["kernel"] + p["b"]["bias"])
        c = np.tanh(b @ p["c"]["kernel"] + p["c"]["bias"] + read @ p["c"]["from:m"])
        ys.append(jax.nn.sigmoid(c @ p["y"]["kernel"] + p["y"]["bias"]))
        iface = jnp.asarray(c @ p["m"]["kernel"] + p["m"]["bias"])
        heads = iface[:, : 2 * per].reshape(batch, 2, per)
        weights = mo.address(
            memory,
            weights,
            heads[..., :width],
            jax.nn.softplus(heads[..., width]),
            jax.nn.sigmoid(heads[..., width + 1]),
            jax.nn.softmax(heads[..., width + 2 : width + 5], axis=-1),
            1.0 + jax.nn.softplus(heads[..., width + 5]),
        )
        read = np.asarray(mo.read(memory, weights[:, :1])[:, 0])
        erase = jax.nn.sigmoid(iface[:, 2 * per : 2 * per + width])
        memory = mo.write(memory, weights[:, 1], erase, jnp.tanh(iface[:, 2 * per + width :]))
        reads.append(read)
    return np.stack(ys, axis=1), np.stack(reads, axis=1)


def test_the_compiled_ntm_is_its_spec_written_out_by_hand() -> None:
    """The step-wise executor's NTM (one scan body: controller, heads, memory) computes what the
    spec says, step for step, from the same parameters."""
    model = cellgraph.compile(NTM, {"slots": 8, "width": 5, "controller": 12})
    params = model.init(jax.random.key(3))
    params["m"]["bias"] = jax.random.normal(jax.random.key(4), params["m"]["bias"].shape)  # heads that move
    x = np.asarray(jax.random.bernoulli(jax.random.key(5), 0.5, (3, 6, 7)), np.float32)
    values, aux = model.forward(params, x)
    y, reads = _direct_ntm(params, x, slots=8, width=5)
    np.testing.assert_allclose(np.asarray(values["y"]), y, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(np.asarray(values["m"]), reads, rtol=2e-5, atol=2e-6)
    probes = aux["m"].probes  # evaluation keeps the memory and the heads' weightings per step
    assert probes is not None and probes["memory"].shape == (3, 6, 8, 5) and probes["read_w"].shape == (3, 6, 1, 8)
    np.testing.assert_allclose(np.asarray(probes["read_w"]).sum(-1), 1.0, rtol=1e-5)


NTM_CELLS: dict[str, Any] = {
    "x": {"type": "input", "size": 4, "sequence": True},
    "c": {"type": "hidden", "size": 8, "activation": "tanh"},
    "y": {"type": "output", "size": 3, "activation": "sigmoid"},
    "m": {"type": "memory", "slots": 6, "width": 4, "addressing": "ntm"},
}


@pytest.mark.parametrize(
    ("cells", "edges", "words"),
    [
        ({}, ["x -> c -> y", "c -> m"], ["nothing reads external memory 'm'", "m ~> c"]),
        ({}, ["x -> c -> y", "c ~> m", "m ~> c"], ["'c' reaches it through a delayed connection", "`c -> m`"]),
        (
            {"m": {"type": "memory", "size": 4, "addressing": "ntm"}},
            ["x -> c -> y", "c -> m", "m ~> c"],
            ["cells.m.addressing", "has no `slots:`"],
        ),
        (
            {"m": {"type": "memory", "slots": 6, "width": 4, "addressing": "turing"}},
            ["x -> c -> y", "c -> m", "m ~> c"],
            ["cells.m.addressing", "ntm"],
        ),
        (
            {"m": {"type": "memory", "slots": 6, "width": 4}},
            ["x -> c -> y", "c -> m", "m ~> c"],
            ["no `addressing:`", "addressing: ntm"],
        ),
    ],
    ids=["nothing-reads-it", "delayed-into-it", "addressing-without-slots", "unknown-addressing", "no-addressing"],
)
def test_bad_external_memories_are_located_with_a_fix(
    tmp_path: Path, cells: dict[str, Any], edges: list[str], words: list[str]
) -> None:
    path = _spec(tmp_path, {**NTM_CELLS, **cells}, edges)
    with pytest.raises(SpecError) as caught:
        cellgraph.load_graph(path)
    text = caught.value.format()
    assert f"{path}:" in text and "fix:" in text, text
    for w in words:
        assert w in text, text


def test_a_memory_read_forward_only_runs_its_own_scan(tmp_path: Path) -> None:
    """Without a delayed edge the network runs layer-wise and the memory scans its input itself;
    its reads equal the step-wise run of the same network with an unused delayed edge."""
    cells = {**NTM_CELLS, "z": {"type": "hidden", "size": 2}}
    model = cellgraph.compile(_spec(tmp_path, cells, ["x -> c -> m -> y", "m -> z"]))
    assert not model.plan.stepwise
    stepped = cellgraph.compile(_spec(tmp_path / "..", cells, ["x -> c -> m -> y", "m -> z", "z ~> c"]))
    params = model.init(jax.random.key(0))
    params["m"]["bias"] = jax.random.normal(jax.random.key(1), params["m"]["bias"].shape)
    zero = {**params, "c": {**params["c"], "from:z": jnp.zeros((2, 8))}}  # the delayed edge adds nothing
    x = jax.random.uniform(jax.random.key(2), (2, 5, 4))
    np.testing.assert_allclose(model.apply(params, x)["y"], stepped.apply(zero, x)["y"], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_ntm_learns_the_copy_task_from_its_spec() -> None:
    """ZOO.md 2.26: mean bit errors per sequence <= 0.5 on held-out sequences of lengths 1-8,
    computed here from the trained network's own outputs on the recall steps.

    Control: the same network untrained (the spec's initial parameters) gets several bits of
    every sequence wrong, far above the pass."""
    result = cellgraph.train(NTM, progress=False, resume=False, checkpoint_dir=None)
    data = load_dataset(result.model.spec.data)
    out = result.predict(data.x_test)["y"]
    errors = bit_errors_per_sequence(out, data.y_test, data.meta["mask_test"])
    untrained = result.model.predict(result.model.init(jax.random.key(0)), data.x_test)["y"]
    assert bit_errors_per_sequence(untrained, data.y_test, data.meta["mask_test"]).mean() > 2.0  # the control
    assert set(np.unique(data.meta["lengths_test"])) == set(range(1, 9))
    long = load_dataset({**result.model.spec.data, "n": 400, "min_length": 12, "max_length": 16}, seed=NTM_FRESH_SEED)
    long_errors = bit_errors_per_sequence(result.predict(long.x_test)["y"], long.y_test, long.meta["mask_test"])
    print(f"NTM copy: {errors.mean():.3f} wrong bits per sequence (lengths 1-8), {long_errors.mean():.3f} at 12-16")
    assert errors.mean() <= 0.5, f"mean bit errors per sequence {errors.mean():.3f}"


# ============================================================================================
# DNC (ZOO.md 2.25) -- written by the DNC helper. The addressing's own semantics and gradient
# checks are in tests/test_dnc_ops.py. specs/zoo/dnc.yaml's `r` is an input group fed only by the
# delayed edge `m ~> r`: what the heads read at one step enters the controller at the next, and
# the data hold none of it.
# ============================================================================================

DNC = ROOT / "specs" / "zoo" / "dnc.yaml"
DNC_BUDGET = 20_000  # ZOO.md 2.25: training sequences at most
DNC_FRESH_SEED = 20240601  # generator seed of the length-12 set: the spec never trains on it


def test_the_dnc_reads_reach_its_controller_one_step_late_and_are_not_data() -> None:
    model = cellgraph.compile(DNC)
    assert model.plan.required == ("x",)
    params = model.init(jax.random.key(0))
    assert "r" not in params  # taken as it is: no matrix on `m ~> r`
    np.testing.assert_array_equal(params["m"]["bias"], dnc.interface_bias(8, 1))  # the gates' starting bias
    ds = load_dataset({**cellgraph.load_spec(DNC).data, "n": 8}, DNC.parent)
    values, aux = model.forward(params, {"x": ds.x_train})
    np.testing.assert_array_equal(values["r"][:, 0], 0.0)
    np.testing.assert_allclose(values["r"][:, 1:], values["m"][:, :-1])
    assert float(np.abs(values["m"]).max()) > 0  # the heads read something written
    probes = aux["m"].probes
    assert probes is not None
    n, steps = ds.x_train.shape[:2]
    assert probes["memory"].shape == (n, steps, 16, 8) and probes["read_modes"].shape == (n, steps, 1, 3)
    # a read weighting mixes weightings summing to 1 (content) or at most 1 (forward, backward)
    assert float(np.asarray(probes["read_w"]).sum(-1).max()) <= 1 + 1e-5


def _dnc_with_r(tmp_path: Path, r: dict[str, Any]) -> Path:
    doc = yaml.safe_load(DNC.read_text(encoding="utf-8"))
    doc["cells"]["r"] = r
    path = tmp_path / "dnc.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_a_read_back_input_of_the_wrong_size_or_not_a_sequence_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        cellgraph.load_graph(_dnc_with_r(tmp_path, {"type": "input", "size": 5, "sequence": True}))
    text = str(err.value)
    assert "dnc.yaml:" in text and "'r' holds 5 values" in text and "passes 8 per step" in text
    assert "`size: 8`" in text
    with pytest.raises(SpecError, match="add `sequence: true` to 'r'"):
        cellgraph.load_graph(_dnc_with_r(tmp_path, {"type": "input", "size": 8}))


@pytest.mark.slow
def test_dnc_learns_the_copy_task_from_its_spec_within_the_budget() -> None:
    """ZOO.md 2.25: <= 0.5 wrong bits per held-out sequence (lengths 1-8) after at most 20,000
    training sequences, from the spec as written; length 12 is printed, not asserted.

    Control: the same network untrained (the spec's initial parameters, the interface's gate
    biases included) gets several bits of every sequence wrong, far above the pass. Every
    parameter of controller, interface and memory moves: the gradient reaches through the heads
    and the delayed read-back."""
    spec = cellgraph.load_spec(DNC)
    assert spec.train["steps"] * spec.train["batch_size"] <= DNC_BUDGET
    result = cellgraph.train(DNC, progress=False, resume=False, checkpoint_dir=None)
    assert result.steps * int(spec.train["batch_size"]) <= DNC_BUDGET
    data = load_dataset(spec.data, DNC.parent)  # the spec's own split: x_test was never trained on
    errors = bit_errors_per_sequence(result.predict(data.x_test)["y"], data.y_test, data.meta["mask_test"])
    before = result.model.init(jax.random.key(0))  # the run's starting parameters (the spec's seed 0)
    untrained = result.model.predict(before, data.x_test)["y"]
    assert bit_errors_per_sequence(untrained, data.y_test, data.meta["mask_test"]).mean() > 2.0  # the control
    for group in ("c1", "c2", "c3", "w", "m"):  # the gradient reached through the heads and the read-back
        for name, value in before[group].items():
            moved = np.abs(np.asarray(result.params[group][name]) - np.asarray(value)).max()
            assert moved > 1e-4, f"{group}.{name} did not move"
    assert set(np.unique(data.meta["lengths_test"])) == set(range(1, 9))
    long = load_dataset({**spec.data, "n": 400, "min_length": 12, "max_length": 12}, DNC.parent, seed=DNC_FRESH_SEED)
    long_errors = bit_errors_per_sequence(result.predict(long.x_test)["y"], long.y_test, long.meta["mask_test"])
    print(f"DNC copy: {errors.mean():.3f} wrong bits per sequence (lengths 1-8), {long_errors.mean():.2f} at 12")
    assert errors.mean() <= 0.5, f"mean bit errors per sequence {errors.mean():.3f}"
