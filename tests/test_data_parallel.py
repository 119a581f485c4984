"""Data-parallel training over several devices with jax.sharding (issue 19, ``train.devices``).

The suite's JAX has one CPU device, so the runs on 8 devices happen in a child process started
with ``XLA_FLAGS=--xla_force_host_platform_device_count=8``: a spec written here (two inputs, two
heads) trains on 1 and on 8 devices with the same global batch, and the parameters must agree to
float32 reduction order; the 8-device step must really split the batch (its program all-reduces
the gradients) and leave the parameters replicated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_population import TWO_HEADS

import cellgraph
from cellgraph.train import TrainingError

# the populations' two-input, two-head spec, with its batch size left to each test
SPEC = TWO_HEADS.replace("OPT", "adam").replace("batch_size: 16", "batch_size: BATCH").replace("epochs: 6", "epochs: 4")
assert "BATCH" in SPEC and "epochs: 4" in SPEC

CHILD = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    import cellgraph
    from cellgraph.train import TrainingError, loop

    compiled = []  # the text of every step program the loop compiles ahead
    original = loop.prepared

    def spy(jitted, store, make_args, **static):
        if "size" in static:
            compiled.append(jitted.lower(*make_args(), **static).compile().as_text())
        return original(jitted, store, make_args, **static)

    loop.prepared = spy
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(256, 3)).astype(np.float32), rng.normal(size=(256, 2)).astype(np.float32)
    data = {"a": a, "b": b, "cls": (a[:, 0] + b[:, 1] > 0).astype(np.int32),
            "reg": (a[:, 1] - b[:, 0])[:, None].astype(np.float32)}
    spec, odd = sys.argv[1], sys.argv[2]
    one = cellgraph.train(spec, data, progress=False, resume=False, devices=1)
    eight = cellgraph.train(spec, data, progress=False, resume=False, devices=8)
    leaves = zip(jax.tree.leaves(one.params), jax.tree.leaves(eight.params))
    try:
        cellgraph.train(odd, data, progress=False, resume=False, devices=8)
        refused = ""
    except TrainingError as err:
        refused = str(err)
    print(json.dumps({
        "devices": len(jax.devices()),
        "max_diff": max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in leaves),
        "replicated": all(len(x.sharding.device_set) == 8 and x.sharding.is_fully_replicated
                          for x in jax.tree.leaves(eight.params)),
        "all_reduce": ["all-reduce" in text for text in compiled],
        "loss": [one.history[-1]["train_loss"], eight.history[-1]["train_loss"]],
        "metrics": [one.metrics["accuracy:cls"], eight.metrics["accuracy:cls"]],
        "refused": refused,
    }))
    """
)


def test_eight_devices_train_the_same_parameters_as_one(tmp_path: Path) -> None:
    spec, odd = tmp_path / "two_heads.yaml", tmp_path / "odd_batch.yaml"
    spec.write_text(SPEC.replace("BATCH", "32"), encoding="utf-8")
    odd.write_text(SPEC.replace("BATCH", "30"), encoding="utf-8")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(spec), str(odd)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["devices"] == 8
    assert got["max_diff"] < 1e-5, got  # float32 reduction order: ~3e-7 measured
    assert got["replicated"], "the parameters live on every device"
    assert got["all_reduce"] == [False, True], "one device: no collective; eight: the gradients all-reduced"
    assert got["loss"][0] == pytest.approx(got["loss"][1], rel=1e-5)
    assert got["metrics"][0] == got["metrics"][1] > 0.9
    assert "a batch of 30 does not split over 8 devices" in got["refused"] and "multiple of 8" in got["refused"]


def test_more_devices_than_there_are_is_refused_with_the_fix(tmp_path: Path) -> None:
    spec = tmp_path / "two_heads.yaml"
    spec.write_text(SPEC.replace("BATCH", "32").replace("  seed: 0", "  seed: 0\n  devices: 4"), encoding="utf-8")
    with pytest.raises(TrainingError) as err:
        cellgraph.train(spec, {"a": [[0.0] * 3] * 8, "b": [[0.0] * 2] * 8, "cls": [0] * 8, "reg": [[0.0]] * 8},
                        progress=False, resume=False)  # fmt: skip
    message = str(err.value)
    assert f"{spec}:19:" in message, message  # located at train.devices
    assert "4 asked, 1 cpu device(s) here" in message and "xla_force_host_platform_device_count=4" in message


HOST = textwrap.dedent(
    """
    import sys
    import numpy as np
    from cellgraph.train.parallel import initialize_from_env

    assert initialize_from_env()
    import jax
    import cellgraph

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(256, 3)).astype(np.float32), rng.normal(size=(256, 2)).astype(np.float32)
    data = {"a": a, "b": b, "cls": (a[:, 0] + b[:, 1] > 0).astype(np.int32),
            "reg": (a[:, 1] - b[:, 0])[:, None].astype(np.float32)}
    result = cellgraph.train(sys.argv[1], data, progress=False, resume=False, devices=2)
    assert jax.process_count() == 2 and len(jax.local_devices()) == 1
    if jax.process_index() == 0:
        np.savez(sys.argv[2], *[np.asarray(x) for x in jax.tree.leaves(result.params)])
    """
)


def test_two_processes_train_the_same_parameters_as_one(tmp_path: Path) -> None:
    """Two local processes, one CPU device each, joined by jax.distributed from the environment
    (as on a cluster: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID), train one
    global batch split over both; the parameters equal one process's on one device."""
    import socket

    import jax
    import numpy as np

    spec, out = tmp_path / "two_heads.yaml", tmp_path / "params.npz"
    spec.write_text(SPEC.replace("BATCH", "32"), encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
        "JAX_NUM_PROCESSES": "2",
    }
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", HOST, str(spec), str(out)], env={**env, "JAX_PROCESS_ID": str(i)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(256, 3)).astype(np.float32), rng.normal(size=(256, 2)).astype(np.float32)
    data = {"a": a, "b": b, "cls": (a[:, 0] + b[:, 1] > 0).astype(np.int32),
            "reg": (a[:, 1] - b[:, 0])[:, None].astype(np.float32)}  # fmt: skip
    alone = cellgraph.train(spec, data, progress=False, resume=False)
    stored = np.load(out)
    mine = [np.asarray(x) for x in jax.tree.leaves(alone.params)]
    assert len(stored.files) == len(mine)
    for i, x in enumerate(mine):
        np.testing.assert_allclose(stored[f"arr_{i}"], x, rtol=1e-5, atol=1e-6)
