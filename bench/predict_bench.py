"""Prediction throughput: ``Model.predict`` against a hand-written ``jax.jit`` forward pass, one run.

Both contenders start from the same host (NumPy) inputs and end with host (NumPy) outputs, so
the transfers count on both sides as a user gets them: cellgraph's ``predict(params, x)``, which
checks the inputs against the spec and runs them in chunks of up to 8,192 examples through one
jitted forward pass, and the workload's forward pass written by hand (``hand_jax.py``) under
``jax.jit``, called once on all the examples. Repetitions alternate between the two; the median
of each is reported with their ratio (target: cellgraph / hand-written JAX <= 1.05).

    .venv/bin/python bench/predict_bench.py                       # print the table
    .venv/bin/python bench/predict_bench.py --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from benchdoc import machine_rows, write_section
from workloads import BY_NAME, ROOT, Workload

HEADING = "## Prediction"
TARGET = 1.05
ROWS = {"mnist": 32768, "lstm": 4096, "dcn": 16384}
"""Examples predicted per repetition, by workload: several of ``predict``'s chunks for the MLP and DCN."""


def _inputs(w: Workload, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    if w.family == "lstm" or w.family == "gru":
        return rng.normal(size=(n, 100, w.sizes[0])).astype(np.float32)
    if w.family == "dcn":
        return rng.random((n, 8, 8, 1), dtype=np.float32)
    return rng.random((n, w.sizes[0]), dtype=np.float32)


def contenders(w: Workload) -> dict[str, Callable[[np.ndarray], Any]]:
    """name -> ``predict(x) -> host array``, each compiled and run once before timing."""
    import hand_jax
    import jax

    import cellgraph

    model = cellgraph.compile(ROOT / w.spec, w.params)
    params = jax.device_put(model.init(jax.random.key(0)))
    init, apply = hand_jax.network(w)
    hand_params = jax.device_put(init(jax.random.key(0)))
    jitted = jax.jit(apply)
    out = model.outputs[0]
    return {
        "cellgraph": lambda x: model.predict(params, x)[out],
        "jax": lambda x: np.asarray(jitted(hand_params, x)),
    }


def measure(w: Workload, repeats: int) -> dict[str, Any]:
    x = _inputs(w, ROWS[w.name])
    runs = contenders(w)
    for fn in runs.values():
        fn(x)  # compile
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    return {
        "workload": w.name,
        "label": w.label,
        "rows": len(x),
        "median_s": median,
        "spread": {name: (min(t), max(t)) for name, t in times.items()},
        "ratio": median["cellgraph"] / median["jax"],
    }


def section(results: list[dict[str, Any]], repeats: int) -> str:
    import jax

    lines = [
        HEADING,
        "",
        f"`{' '.join(['.venv/bin/python bench/predict_bench.py', *sys.argv[1:]])}` — {repeats} alternating "
        "repetitions per contender; host inputs to host outputs; median (min–max).",
        "",
        "| workload | examples | cellgraph `predict` | hand-written `jax.jit` | cellgraph / JAX |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cg, hj = r["median_s"]["cellgraph"], r["median_s"]["jax"]
        (clo, chi), (jlo, jhi) = r["spread"]["cellgraph"], r["spread"]["jax"]
        lines.append(
            f"| {r['label']} | {r['rows']:,} | {cg * 1e3:.1f} ms ({clo * 1e3:.1f}–{chi * 1e3:.1f}) | "
            f"{hj * 1e3:.1f} ms ({jlo * 1e3:.1f}–{jhi * 1e3:.1f}) | {r['ratio']:.2f} |"
        )
    lines += ["", f"Target: cellgraph / hand-written JAX ≤ {TARGET}."]
    for r in results:
        met = "met" if r["ratio"] <= TARGET else "NOT met"
        lines.append(f"- {r['label']}: {r['ratio']:.2f} ({met})")
    lines += ["", *machine_rows(JAX=jax.__version__), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated workloads: " + ",".join(ROWS))
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else list(ROWS)
    results = []
    for name in names:
        r = measure(BY_NAME[name], args.repeats)
        print(f"{name:8} cellgraph/jax {r['ratio']:.3f}", file=sys.stderr, flush=True)
        results.append(r)
    text = section(results, args.repeats)
    if args.write:
        write_section(args.write, HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
