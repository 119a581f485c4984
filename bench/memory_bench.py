"""The NTM's training step: the compiled zoo spec against a hand-written JAX NTM, in one run.

Both train ``specs/zoo/ntm.yaml``'s network (three tanh layers of 100, a 32 x 16 memory, one read
and one write head) on the same copy-task batches with Adam and global-norm clipping, the loss on
the recall steps alone (the spec's ``step_mask: data``): cellgraph's
step is the backprop rule's update jitted as ``cellgraph train`` jits it (``make_update``), the
hand-written one :mod:`hand_ntm` under ``jax.jit`` with donated state. Timed in one interpreter,
block by block in turn (each block ``--steps`` steps ending in a device synchronisation), the
order alternating; the median block of each, in seconds per step and sequences per second, and the
ratio compiled / hand (target: <= 1.05).

    .venv/bin/python bench/memory_bench.py                  # batch 16 (the spec's), 20 blocks
    .venv/bin/python bench/memory_bench.py --batch 64 --blocks 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "zoo" / "ntm.yaml"


def _batches(batch: int, count: int) -> list[tuple[Any, Any, Any]]:
    import numpy as np

    from cellgraph.data import load_dataset
    from cellgraph.spec.compose import load_spec

    ds = load_dataset(load_spec(SPEC).data)
    rng = np.random.default_rng(0)
    picks = [rng.integers(0, len(ds.x_train), batch) for _ in range(count)]
    mask = ds.meta["mask_train"].astype(np.float32)  # the recall steps (train.step_mask: data)
    return [(ds.x_train[i], ds.y_train[i], mask[i]) for i in picks]


def build_cellgraph(data: list[tuple[Any, Any, Any]]) -> tuple[Any, Any]:
    """The spec compiled by cellgraph, stepped as ``cellgraph train`` steps it."""
    import jax

    import cellgraph
    from cellgraph.train import init_state, make_optimizer
    from cellgraph.train.step import make_update

    model = cellgraph.compile(SPEC)
    tx = make_optimizer(model.spec.train, model.trainable_mask)
    state = {"s": init_state(model.init, tx, seed=0)}
    step_fn = jax.jit(make_update(model, tx, count=False), donate_argnums=0)
    # the batch as the loop gives it with `step_mask: data`: the scored steps ride along as weights
    device = [jax.device_put({**model.batch(x, y), "weights": {"y": m > 0}}) for x, y, m in data]

    def step(i: int) -> None:
        state["s"], _ = step_fn(state["s"], device[i % len(device)])

    return step, lambda: jax.block_until_ready(state["s"])


def build_hand(data: list[tuple[Any, Any, Any]]) -> tuple[Any, Any]:
    """The hand-written JAX NTM (:mod:`hand_ntm`) with the spec's sizes and optimizer settings."""
    import jax

    sys.path.insert(0, str(Path(__file__).parent))
    import hand_ntm

    from cellgraph.spec.compose import load_spec

    spec = load_spec(SPEC)
    p = spec.params
    rate = spec.train["optimizer"]["learning_rate"]  # the spec's cosine decay, or a constant
    lr: Any = float(rate) if not isinstance(rate, dict) else None
    if lr is None:
        import optax

        lr = optax.cosine_decay_schedule(float(rate["init_value"]), int(rate["decay_steps"]))
    tx, step_fn = hand_ntm.make_step(int(p["slots"]), int(p["width"]), lr, float(spec.train["grad_clip"]))
    params = hand_ntm.init(jax.random.key(0), int(p["bits"]), int(p["controller"]), int(p["slots"]), int(p["width"]))
    state = {"p": params, "o": tx.init(params)}
    device = [jax.device_put(b) for b in data]

    def step(i: int) -> None:
        x, y, m = device[i % len(device)]
        state["p"], state["o"], _ = step_fn(state["p"], state["o"], x, y, m)

    return step, lambda: jax.block_until_ready(state["p"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=50, help="steps per timed block")
    ap.add_argument("--blocks", type=int, default=20, help="timed blocks per contender")
    args = ap.parse_args(argv)
    data = _batches(args.batch, 64)
    runners = {"cellgraph": build_cellgraph(data), "hand-written JAX": build_hand(data)}
    first = {}
    for name, (step, sync) in runners.items():  # compile and warm up
        t = time.perf_counter()
        step(0)
        sync()
        first[name] = time.perf_counter() - t
        for i in range(5):
            step(i)
        sync()
    times: dict[str, list[float]] = {n: [] for n in runners}
    order = list(runners)
    for block in range(args.blocks):
        for name in order if block % 2 == 0 else order[::-1]:
            step, sync = runners[name]
            t = time.perf_counter()
            for i in range(args.steps):
                step(i)
            sync()
            times[name].append((time.perf_counter() - t) / args.steps)
    print(f"NTM copy-task training step, batch {args.batch}, {args.blocks} blocks of {args.steps} steps (median block)")
    median = {n: statistics.median(ts) for n, ts in times.items()}
    for name, ts in times.items():
        print(
            f"  {name:18s} {1e3 * median[name]:7.3f} ms/step  (min {1e3 * min(ts):.3f}, max {1e3 * max(ts):.3f})  "
            f"{args.batch / median[name]:8.0f} sequences/s  first call {first[name]:.2f} s"
        )
    print(f"  ratio cellgraph / hand-written: {median['cellgraph'] / median['hand-written JAX']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
