"""Data-parallel training (``train.devices``) against one device, in one run: seconds per epoch
and the largest parameter difference, for a wide MLP on a synthetic two-input task.

    .venv/bin/python bench/parallel_bench.py --cpu-devices 8   # 8 simulated CPU devices (this machine)
    .venv/bin/python bench/parallel_bench.py                    # every device JAX sees (GPUs)
    .venv/bin/python bench/parallel_bench.py --write docs/benchmarks.md

On a CPU the simulated devices share the machine's cores, so the figure shows what splitting
costs (the all-reduce, the partitioned program), not a speed-up; on several GPUs each device
computes its share of the batch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

HEADING = "## Data-parallel training (train.devices)"
SPEC = """\
cellgraph: 1
name: wide_two_inputs
cells:
  a: {type: input, size: 64}
  b: {type: input, size: 64}
  h: {type: hidden, size: 512, activation: relu, repeat: 2}
  y: {type: output, size: 10, activation: softmax}
edges:
  - a, b -> h -> y
train:
  loss: cross_entropy
  metrics: [accuracy]
  optimizer: {name: adam, learning_rate: 1.0e-3}
  batch_size: BATCH
  epochs: 3
  seed: 0
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-devices", type=int, default=None, metavar="N", help="simulate N CPU devices")
    parser.add_argument("--batch", type=int, default=512, help="global batch (a multiple of the devices)")
    parser.add_argument("--write", metavar="FILE", help="write the section into this Markdown file")
    args = parser.parse_args()
    if args.cpu_devices:
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.cpu_devices}"
        os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    import numpy as np
    from benchdoc import machine_rows, write_section

    import cellgraph

    n_dev = len(jax.devices())
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(16384, 64)).astype(np.float32), rng.normal(size=(16384, 64)).astype(np.float32)
    mix = rng.normal(size=(128, 10)).astype(np.float32)
    y = (np.concatenate([a, b], axis=1) @ mix).argmax(axis=1).astype(np.int32)  # learnable: a linear teacher
    data = {"a": a, "b": b, "y": y}
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "wide.yaml"
        spec.write_text(SPEC.replace("BATCH", str(args.batch)), encoding="utf-8")
        runs = {}
        for devices in sorted({1, n_dev}):
            cellgraph.train(spec, data, progress=False, resume=False, devices=devices, epochs=1)  # compile
            started = time.perf_counter()
            result = cellgraph.train(spec, data, progress=False, resume=False, devices=devices)
            runs[devices] = (time.perf_counter() - started, result)
    one = runs[1][1]
    lines = [
        "| devices | device kind | global batch | s per epoch | params max diff vs 1 device | test accuracy |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for devices, (seconds, result) in runs.items():
        diff = max(
            float(np.max(np.abs(np.asarray(x) - np.asarray(z))))
            for x, z in zip(jax.tree.leaves(result.params), jax.tree.leaves(one.params), strict=True)
        )
        lines.append(
            f"| {devices} | {jax.devices()[0].device_kind} | {args.batch} | {seconds / 3:.3f} | {diff:.2g} "
            f"| {result.metrics['accuracy']:.4f} |"
        )
    print("\n".join(lines))
    if args.write:
        section = "\n".join([
            HEADING, "",
            f"Written by `.venv/bin/python bench/parallel_bench.py{' --cpu-devices ' + str(args.cpu_devices) if args.cpu_devices else ''} "
            "--write docs/benchmarks.md`: a 128-512-512-10 MLP with two inputs, 16,384 rows, 3 epochs, trained on one "
            "device and data-parallel on every device (times after a compiling run). On a CPU the simulated devices "
            "share the cores: the row shows what splitting costs, not a speed-up.", "",
            *lines, "", *machine_rows(), "",
        ])  # fmt: skip
        write_section(Path(args.write), HEADING, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
