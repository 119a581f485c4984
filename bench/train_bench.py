"""Training speed: cellgraph-compiled specs against hand-written JAX, Flax and PyTorch, measured in one run.

Every workload (``workloads.py``) is trained by four contenders on the same batches with Adam at
1e-3: the spec compiled by cellgraph and stepped by its backprop rule's update, jitted as the
training loop jits it (the step ``cellgraph train`` runs, less the loop's on-device batch gather), a hand-written pure-JAX version, a hand-written Flax Linen version
(both under plain ``jax.jit`` with donated state), and PyTorch eager with its intra-op threads
set to the cores XLA uses.

How it measures (CPU run):

* step time: all contenders are timed in one interpreter, block by block in turn (each block
  several steps ending in a device synchronisation, so asynchronous dispatch counts as a user
  gets it), in a fresh shuffled order every round; the median block, and the blocks' min and max.
  Interleaving keeps the ratios honest on a machine whose speed drifts: timed one after the other
  in separate interpreters, PyTorch's DCN step read 3.1 ms in one run and 4.1 ms in another.
* first call (trace, compile, one step) and peak memory: each contender once more in a fresh
  interpreter, so compilation caches and memory do not leak between them; peak memory is the
  resident memory the run added (``VmHWM`` reset through ``/proc/self/clear_refs``).

``--gpu`` (what ``bench/gpu.sh`` runs) uses each workload's large GPU batch, float32 and bfloat16
(mixed precision: float32 weights, optimizer and loss), device memory from the allocator's peak,
and takes first calls from the timing interpreter to stay within a few minutes.

    .venv/bin/python bench/train_bench.py                           # print the table
    .venv/bin/python bench/train_bench.py --seconds 6 --blocks 30 --write docs/benchmarks.md  # make bench-train
    .venv/bin/python bench/train_bench.py --only lstm,gru --contenders cellgraph,jax

PyTorch is optional: without it installed the PyTorch rows say so.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchdoc import machine_rows, write_section
from workloads import BY_NAME, ROOT, WORKLOADS, Workload, batches

COMMAND = ".venv/bin/python bench/train_bench.py"
GPU_COMMAND = "bash bench/gpu.sh"
HEADING = "## Training"
GPU_HEADING = "## Training on a GPU"
CONTENDERS = ("cellgraph", "jax", "flax", "keras", "torch")
TITLES = {
    "cellgraph": "cellgraph",
    "jax": "hand-written JAX",
    "flax": "Flax (Linen)",
    "keras": "Keras 3 (JAX)",
    "torch": "PyTorch eager",
}
OPTIONAL = {"keras": "Keras 3", "torch": "PyTorch"}
"""Contenders whose library is an optional benchmark dependency: without it their rows say so."""
TARGETS = {
    "mlp128": 1.5,
    "mlp4096": 1.05,
    "mnist": 1.05,
    "mnist_dln": 1.05,
    "dff40": 1.05,
    "lstm": 1.05,
    "gru": 1.05,
    "dcn": 1.05,
    "dcn_bn": 1.05,
    "transformer": 1.05,
}
"""cellgraph / hand-written JAX must stay at or below these ratios (the issues' targets)."""
TORCH_TARGETS = {"dcn": 1.2, "mnist_dln": 1.0, "dcn_bn": 1.0, "transformer": 1.0}
"""cellgraph must be at least this many times faster than PyTorch eager on these workloads."""
PEAK_N = 2048
"""The side of the float32 matrix product that measures the machine's peak in each run."""

Runner = tuple[Callable[[int], None], Callable[[], None]]


# ---------------------------------------------------------------------------------- contenders


def build_cellgraph(w: Workload, data: list[dict[str, Any]], precision: str = "float32") -> Runner:
    """The spec compiled by cellgraph, stepped exactly as ``cellgraph train`` steps it."""
    import jax

    import cellgraph
    from cellgraph.train import init_state, make_optimizer
    from cellgraph.train.step import make_update

    model = cellgraph.compile(ROOT / w.spec, w.params, precision=precision)
    tx = make_optimizer(model.spec.train, model.trainable_mask)
    state = {"s": init_state(model.init, tx, seed=0, model_state=model.init_state if model.stateful else None)}
    # the backprop rule's update as the training loop jits it (the loop counts steps itself)
    step_fn = jax.jit(make_update(model, tx, count=False), donate_argnums=0)
    device = [jax.device_put(model.batch(b["x"], b["y"])) for b in data]  # keyed by group

    def step(i: int) -> None:
        state["s"], _ = step_fn(state["s"], device[i % len(device)])

    def sync() -> None:
        jax.block_until_ready(state["s"])

    return step, sync


def builder(contender: str) -> Callable[..., Runner]:
    if contender == "cellgraph":
        return build_cellgraph
    module = {"jax": "hand_jax", "flax": "hand_flax", "keras": "hand_keras", "torch": "hand_torch"}[contender]
    return __import__(module).build


# ------------------------------------------------------------------------------- measurements


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS
    except OSError:
        pass


def _device_peak_mib(contender: str) -> float | None:
    """The accelerator allocator's peak, or None on the CPU."""
    if contender == "torch":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    import jax

    if jax.default_backend() == "cpu":
        return None
    stats = jax.devices()[0].memory_stats() or {}
    return stats["peak_bytes_in_use"] / 2**20 if "peak_bytes_in_use" in stats else None


def _timed_block(runner: Runner, n: int, first: int) -> float:
    step, sync = runner
    start = time.perf_counter()
    for i in range(first, first + n):
        step(i)
    sync()
    return (time.perf_counter() - start) / n


def _summary(times: list[float], n: int) -> dict[str, Any]:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "steps_per_block": n}


def _start(w: Workload, contender: str, data: list[dict[str, Any]], precision: str) -> tuple[Runner, dict[str, float]]:
    """Build a contender and make its first call; the times of both."""
    t0 = time.perf_counter()
    runner = builder(contender)(w, data, precision)
    t1 = time.perf_counter()
    runner[0](0)
    runner[1]()
    return runner, {"build_s": t1 - t0, "first_call_s": time.perf_counter() - t1}


def _block_size(runner: Runner, seconds: float, blocks: int) -> int:
    per_step = _timed_block(runner, 3, 1)  # also the warm-up
    return max(3, round(seconds / blocks / max(per_step, 1e-6)))


def _threads(contenders: list[str]) -> int:
    """The cores this process may use; PyTorch's intra-op threads are set to as many (XLA uses them all)."""
    threads = len(os.sched_getaffinity(0))
    if "torch" in contenders:
        import torch

        torch.set_num_threads(threads)
    return threads


def probe(w: Workload, contender: str, precision: str) -> dict[str, Any]:
    """First call and peak memory of one contender, in this fresh interpreter."""
    threads = _threads([contender])
    data = batches(w)
    _reset_peak()
    base = _status_kib("VmRSS")
    runner, first = _start(w, contender, data, precision)
    out = {"workload": w.name, "contender": contender, "precision": precision, "threads": threads, **first}
    _timed_block(runner, 3, 1)  # a few steps more: memory that only later steps allocate
    device = _device_peak_mib(contender)
    out["peak_mib"] = device if device is not None else (_status_kib("VmHWM") - base) / 1024
    out["memory"] = "device" if device is not None else "host"  # host: resident memory added
    return out


def interleaved(
    w: Workload, contenders: list[str], seconds: float, blocks: int, precisions: list[str]
) -> list[dict[str, Any]]:
    """Step times of every contender in one interpreter, one block of each in turn, in a shuffled order.

    Every (contender, precision) pair is one entry of each round. The order is a fresh (seeded)
    permutation per round, not a rotation: in a rotation the same contender follows PyTorch's
    block in three rounds of four, and any cost of coming right after it (its OpenMP threads
    winding down) falls on that one. On the batch-4096 MLP, cellgraph / JAX read 1.02 with
    cellgraph after PyTorch in the rotation and 0.96 with JAX there (one run each, within the
    blocks' spread, but a bias a shuffle removes at no cost). On an accelerator the
    allocator's peak for the whole interpreter is reported with every entry.
    """
    _threads(contenders)
    data = batches(w)
    keys = [(c, p) for p in precisions for c in contenders]
    runs, firsts, sizes = {}, {}, {}
    for key in keys:
        runs[key], firsts[key] = _start(w, key[0], data, key[1])
        sizes[key] = _block_size(runs[key], seconds, blocks)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in keys}
    order = random.Random(0)
    for b in range(blocks):
        for key in order.sample(keys, len(keys)):
            times[key].append(_timed_block(runs[key], sizes[key], 4 + b * sizes[key]))
    jax_contenders = [c for c in contenders if c != "torch"]
    device = _device_peak_mib(jax_contenders[0]) if jax_contenders else None
    memory = {} if device is None else {"peak_mib": device, "memory": "device, all JAX contenders"}
    work = {"flops": _step_flops(w, data), "peak_flops": _peak_flops()}
    return [
        {"workload": w.name, "contender": c, "precision": p, **firsts[(c, p)], **_summary(times[(c, p)], sizes[(c, p)]),
         **memory, **work}
        for c, p in keys
    ]  # fmt: skip


def _step_flops(w: Workload, data: list[dict[str, Any]]) -> float:
    """Floating-point operations of one training step: XLA's cost analysis of cellgraph's compiled
    step (the same network every contender trains)."""
    import jax

    import cellgraph
    from cellgraph.train import init_state, make_optimizer
    from cellgraph.train.step import make_update

    model = cellgraph.compile(ROOT / w.spec, w.params)
    tx = make_optimizer(model.spec.train, model.trainable_mask)
    batch = jax.device_put(model.batch(data[0]["x"], data[0]["y"]))
    first = init_state(model.init, tx, 0, model_state=model.init_state if model.stateful else None)
    compiled = jax.jit(make_update(model, tx, count=False)).lower(first, batch).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", 0.0))


def _peak_flops(runs: int = 5) -> float:
    """The machine's measured peak: float32 operations per second of a large matrix product in
    JAX (the best of a few), taken in the same run as the steps it is compared with."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (PEAK_N, PEAK_N), jnp.float32)
    matmul = jax.jit(lambda x: x @ x)
    matmul(a).block_until_ready()
    best = math.inf
    for _ in range(runs):
        start = time.perf_counter()
        matmul(a).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * PEAK_N**3 / best


def _subprocess(args: list[str]) -> tuple[Any, str | None]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        return None, (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def run_workload(
    w: Workload, contenders: list[str], seconds: float, blocks: int, precisions: list[str], gpu: bool
) -> list[dict[str, Any]]:
    """Every contender's figures for one workload, at every precision."""
    common = ["--seconds", str(seconds), "--blocks", str(blocks), "--batch", str(w.batch)]
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for p in precisions:
        for c in contenders:
            base = {"workload": w.name, "contender": c, "precision": p}
            if c in OPTIONAL and importlib.util.find_spec(c) is None:
                results[(c, p)] = {**base, "missing": f"{OPTIONAL[c]} is not installed"}
            elif c == "torch" or not gpu:  # the GPU run skips the fresh-interpreter probes of JAX contenders
                got, err = _subprocess(["--probe", w.name, c, "--precision", p, *common])
                results[(c, p)] = got if err is None else {**base, "error": err}
            else:
                results[(c, p)] = dict(base)
    ready = [c for c in contenders if not any({"error", "missing"} & set(results[(c, p)]) for p in precisions)]
    if ready:
        got, err = _subprocess(["--interleave", w.name, ",".join(ready), "--precision", ",".join(precisions), *common])
        for r in got or []:
            mine = results[(r["contender"], r["precision"])]
            for k, v in r.items():
                if k not in ("build_s", "first_call_s", "peak_mib", "memory") or k not in mine:
                    mine[k] = v  # a fresh interpreter's first call and memory win
        for key in [(c, p) for c in ready for p in precisions] if err is not None else []:
            results[key]["error"] = err
    return [results[(c, p)] for p in precisions for c in contenders]


# ------------------------------------------------------------------------------------- the table


def _ms(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.2f} s"


def _versions() -> dict[str, str]:
    import flax
    import jax
    import optax

    rows = {
        "JAX": f"{jax.__version__} ({jax.default_backend()}: {jax.devices()[0].device_kind})",
        "Flax / Optax": f"{flax.__version__} / {optax.__version__}",
    }
    if importlib.util.find_spec("keras") is not None:
        from importlib.metadata import version

        rows["Keras"] = f"{version('keras')} (JAX backend)"
    if importlib.util.find_spec("torch") is not None:
        import torch

        where = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
        rows["PyTorch"] = f"{torch.__version__} ({where})"
    return rows


def table(results: list[dict[str, Any]], gpu: bool) -> tuple[str, list[str]]:
    """The Markdown table and one line per target (met or not)."""
    by = {(r["workload"], r["precision"], r["contender"]): r for r in results}
    keys = list(dict.fromkeys((r["workload"], r["precision"], r["batch"]) for r in results))
    lines = [
        "| workload | contender | train step, median (min–max) | % of peak | vs hand-written JAX | vs PyTorch "
        "| first call | peak memory |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    verdicts = []
    for name, precision, batch in keys:
        w = BY_NAME[name].at(batch)
        title = w.title + (f", {precision}" if gpu or precision != "float32" else "")
        jax_r, torch_r = by.get((name, precision, "jax"), {}), by.get((name, precision, "torch"), {})
        shown = [c for c in CONTENDERS if (name, precision, c) in by]
        for c in shown:
            r = by[(name, precision, c)]
            label = title if c == shown[0] else ""
            if "median_s" not in r or "error" in r:
                why = r.get("missing") or f"failed: {r.get('error')}"
                lines.append(f"| {label} | {TITLES[c]} | {why} | | | | | |")
                continue
            vs_jax = f"{r['median_s'] / jax_r['median_s']:.2f}" if "median_s" in jax_r else "–"
            vs_torch = f"{r['median_s'] / torch_r['median_s']:.2f}" if "median_s" in torch_r else "–"
            where = r.get("memory", "host")
            memory = f"{r['peak_mib']:.0f} MiB" + ("" if where == "host" else f" ({where})") if "peak_mib" in r else "–"
            bold = "**" if c == "cellgraph" else ""
            peak = _percent_of_peak(r)
            lines.append(
                f"| {label} | {bold}{TITLES[c]}{bold} | {bold}{_ms(r['median_s'])}{bold} "
                f"({_ms(r['min_s'])}–{_ms(r['max_s'])}) | {peak} | {vs_jax} | {vs_torch} | {_ms(r['first_call_s'])} "
                f"| {memory} |"
            )
        cg = by.get((name, precision, "cellgraph"), {})
        if "median_s" in cg and "median_s" in jax_r and name in TARGETS and not gpu:
            ratio = cg["median_s"] / jax_r["median_s"]
            ok = "met" if ratio <= TARGETS[name] else "**not met**"
            verdicts.append(f"- {title}: cellgraph / hand-written JAX = {ratio:.2f} (target ≤ {TARGETS[name]}: {ok})")
        if "median_s" in cg and "median_s" in torch_r:
            ratio = cg["median_s"] / torch_r["median_s"]
            ok = "faster than PyTorch" if ratio < 1 else "**slower than PyTorch**"
            if name in TORCH_TARGETS and not gpu:
                need = TORCH_TARGETS[name]
                ok += f"; {1 / ratio:.2f}x its speed, target ≥ {need}x: " + (
                    "met" if 1 / ratio >= need else "**not met**"
                )
            verdicts.append(f"- {title}: cellgraph / PyTorch = {ratio:.2f} ({ok})")
    return "\n".join(lines), verdicts


def _percent_of_peak(r: dict[str, Any]) -> str:
    """The step's floating-point work per second as a share of the run's measured peak."""
    if not r.get("flops") or not r.get("peak_flops"):
        return "–"
    share = r["flops"] / r["median_s"] / r["peak_flops"] * 100
    return f"{share:.2g} %" if share < 10 else f"{share:.0f} %"


def section(
    results: list[dict[str, Any]], heading: str, seconds: float, blocks: int, gpu: bool, command: str = COMMAND
) -> str:
    body, verdicts = table(results, gpu)
    threads = next((r["threads"] for r in results if "threads" in r), "?")
    how = (
        "Each contender trains the same network on the same batches with Adam (learning rate 1e-3). "
        f"*train step*: median of {blocks} timed blocks of about {seconds / blocks * 1e3:.0f} ms, each block several "
        "steps ending in a device synchronisation (`block_until_ready`; `torch.cuda.synchronize` for PyTorch), min and "
        "max of the blocks in brackets; all contenders are timed in one interpreter, a block of each in turn, "
        "in a shuffled order every round. "
        "Ratios below 1 mean the row is faster. "
        "*% of peak*: the step's floating-point operations (XLA's cost analysis of cellgraph's compiled step, "
        "the same network for every contender) per second of the median step, as a share of the peak a "
        f"{PEAK_N}x{PEAK_N} float32 matrix product reaches in the same run (best of 5). "
    )
    if gpu:
        how += (
            "bfloat16 rows: mixed precision (float32 weights, optimizer and loss; `precision: bfloat16` for cellgraph, "
            "`dtype=jnp.bfloat16` for Flax, `torch.autocast` for PyTorch). *first call*: compile and first step, "
            "measured in the timing interpreter (the first contender also pays for starting the device). "
            "*peak memory*: the device allocator's peak for the interpreter (JAX: all JAX-based contenders together)."
        )
    else:
        how += (
            "*first call*: trace, compile and one step, in a fresh interpreter (PyTorch has nothing to compile). "
            "*peak memory*: resident memory the contender's run added over its data (`VmHWM`), compilation included. "
            f"PyTorch runs with {threads} intra-op threads, the cores XLA uses."
        )
    how += (
        " Specs: `specs/examples/mushroom.yaml`, `bench/specs/*.yaml`, `specs/examples/digits_dcn.yaml`, `specs/examples/digits_dcn_bn.yaml`; "
        "hand-written versions: `bench/hand_jax.py`, `bench/hand_flax.py`, `bench/hand_keras.py` "
        "(Keras 3 on its JAX backend, `train_on_batch`, which returns each step's loss), `bench/hand_torch.py`."
    )
    return "\n".join(
        [heading, "", f"`{GPU_COMMAND if gpu else command}`", "", how, "", body, "", *verdicts, "",
         *machine_rows(**_versions()), ""]
    )  # fmt: skip


def _command(argv: list[str] | None) -> str:
    """The command behind the figures, as run, less where the raw JSON went."""
    given, shown = list(sys.argv[1:] if argv is None else argv), []
    while given:
        arg = given.pop(0)
        if arg == "--json":
            given = given[1:]
        elif not arg.startswith("--json="):
            shown.append(arg)
    return " ".join([COMMAND, *shown])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated workloads: " + ",".join(BY_NAME))
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per contender (default 3)")
    ap.add_argument("--blocks", type=int, default=15)
    ap.add_argument("--gpu", action="store_true", help="large GPU batches, float32 and bfloat16 (bench/gpu.sh)")
    ap.add_argument("--precision", help="comma-separated: float32,bfloat16 (default: float32; with --gpu both)")
    ap.add_argument("--write", type=Path, help="replace this run's section of a Markdown file")
    ap.add_argument("--json", type=Path, help="also save the raw results here")
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--probe", nargs=2, metavar=("WORKLOAD", "CONTENDER"), help=argparse.SUPPRESS)
    ap.add_argument("--interleave", nargs=2, metavar=("WORKLOAD", "CONTENDERS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    precisions = (args.precision or ("float32,bfloat16" if args.gpu else "float32")).split(",")
    if args.probe or args.interleave:
        name, what = args.probe or args.interleave
        w = BY_NAME[name].at(args.batch) if args.batch else BY_NAME[name]
        if args.probe:
            print(json.dumps(probe(w, what, precisions[0])))
        else:
            print(json.dumps(interleaved(w, what.split(","), args.seconds, args.blocks, precisions)))
        return 0
    names = args.only.split(",") if args.only else [w.name for w in WORKLOADS]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    contenders = args.contenders.split(",")
    results = []
    for name in names:
        w = BY_NAME[name].at(BY_NAME[name].gpu_batch) if args.gpu else BY_NAME[name]
        mine = [c for c in contenders if c in w.contenders]  # those with a hand-written version of it
        for r in run_workload(w, mine, args.seconds, args.blocks, precisions, args.gpu):
            r["batch"] = w.batch
            results.append(r)
            shown = _ms(r["median_s"]) if "median_s" in r else r.get("missing") or r.get("error")
            print(f"{name:8} {r['precision']:9} {r['contender']:10} {shown}", file=sys.stderr, flush=True)
    heading = GPU_HEADING if args.gpu else HEADING
    text = section(results, heading, args.seconds, args.blocks, args.gpu, _command(argv))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.write:
        write_section(args.write, heading, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
