"""Time to result: a whole training command, from the shell prompt to the printed metric.

What a user waits for is the whole process: starting Python, importing the framework, reading the
data, compiling, training, scoring. For each job of ``ttr_jobs.py`` this measures the wall time of
the process that does it all,

* ``cellgraph train SPEC --no-resume --json`` (the command line, as a user types it);
* the same job written in Keras 3 on its JAX backend (``model.fit``; ``ttr_keras.py``), by hand in
  JAX and Optax (``ttr_jax.py``) and in PyTorch eager (``ttr_torch.py``),

*cold* (an empty compilation cache: cellgraph's own folder, ``CELLGRAPH_CACHE``, and for the other
JAX programs JAX's persistent cache turned on in an empty folder, every program kept) and *warm*
(the same folder again, filled by the run before). PyTorch compiles nothing, so its one time fills
both columns. cellgraph's native LSTM kernels are built before timing and copied into each fresh
folder: only the compilation cache is cold. Also reported: the programs XLA compiled in a cold run
(``JAX_LOG_COMPILES``, in a run of its own, untimed) and the test figure each contender reached,
which shows they did the same work. Every process runs with Python's default of writing and reusing
bytecode (``PYTHONDONTWRITEBYTECODE`` is removed from the environment).

    .venv/bin/python bench/ttr_bench.py                        # print the table
    .venv/bin/python bench/ttr_bench.py --runs 5 --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchdoc import machine_rows, write_section
from ttr_jobs import JOBS, Job

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HEADING = "## Time to result"
CONTENDERS = ("cellgraph", "keras", "jax", "torch")
LABELS = {
    "cellgraph": "**cellgraph** (CLI)",
    "keras": "Keras 3 (JAX backend)",
    "jax": "hand-written JAX",
    "torch": "PyTorch eager",
}
TARGETS = {"mushroom": {"cold": 2.0, "warm": 1.5, "compilations": 3}}


def _native_kernels() -> list[Path]:
    """cellgraph's built native kernels (built now by training the LSTM job once if there are none)."""
    from cellgraph.compiler.native import cache_dir

    found = sorted(cache_dir().glob("cellgraph_native-*"))
    if not found:
        subprocess.run(_argv("cellgraph", JOBS["lstm"]), check=True, capture_output=True, cwd=ROOT)
        found = sorted(cache_dir().glob("cellgraph_native-*"))
    return found


def _argv(contender: str, job: Job) -> list[str]:
    python = sys.executable
    if contender == "cellgraph":
        return [str(Path(python).with_name("cellgraph")), "train", job.spec, *job.cli, "--no-resume", "--json"]
    return [python, str(BENCH / f"ttr_{contender}.py"), job.name]


def _env(contender: str, cache: Path, kernels: list[Path], log: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))}
    env["JAX_PLATFORMS"] = "cpu"
    env["KERAS_BACKEND"] = "jax"
    # Python's default: bytecode written on the first import and read after (an editable install's
    # modules would otherwise be compiled from source in every process; installed libraries are not)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("CELLGRAPH_JAX_CACHE", None)
    if contender == "cellgraph":
        env["CELLGRAPH_CACHE"] = str(cache)
        for kernel in kernels:
            if not (cache / kernel.name).exists():
                cache.mkdir(parents=True, exist_ok=True)
                shutil.copy2(kernel, cache / kernel.name)
    elif contender in ("keras", "jax"):
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    if log:
        env["JAX_LOG_COMPILES"] = "1"
    return env


def _run(contender: str, job: Job, cache: Path, kernels: list[Path], log: bool = False) -> tuple[float, str, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        _argv(contender, job), env=_env(contender, cache, kernels, log), capture_output=True, text=True, cwd=ROOT
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{contender} {job.name} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, proc.stdout, proc.stderr


def _figure(contender: str, job: Job, stdout: str) -> float:
    """The test figure a run printed (cellgraph: its JSON's test split; others: {"value": ...})."""
    last = json.loads(stdout.strip().splitlines()[-1])
    if contender == "cellgraph":
        return float(last["test"][job.metric])
    return float(last["value"])


def measure(job: Job, contender: str, runs: int, kernels: list[Path]) -> dict[str, Any]:
    """Cold and warm wall times, the cold run's compilations and the test figure of one contender."""
    cold, warm, figures = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(runs):  # a fresh cache each time
            wall, out, _ = _run(contender, job, Path(tmp) / f"cold{k}", kernels)
            cold.append(wall)
            figures.append(_figure(contender, job, out))
        if contender != "torch":
            shared = Path(tmp) / "warm"
            _run(contender, job, shared, kernels)  # fills it
            for _ in range(runs):
                wall, out, _ = _run(contender, job, shared, kernels)
                warm.append(wall)
        compiled = None
        if contender != "torch":
            _, _, err = _run(contender, job, Path(tmp) / "logged", kernels, log=True)
            compiled = err.count("Finished XLA compilation")
    return {"cold": cold, "warm": warm or cold, "compilations": compiled, "figure": statistics.median(figures)}


def _s(times: list[float]) -> str:
    median = statistics.median(times)
    return f"{median:.2f} s" + (f" ({min(times):.2f}–{max(times):.2f})" if len(times) > 1 else "")


def _verdict(job: str, what: str, value: float) -> str:
    target = TARGETS.get(job, {}).get(what)
    if target is None:
        return ""
    ok = value <= target
    unit = "" if what == "compilations" else " s"
    return f" (target ≤ {target:g}{unit}: {'met' if ok else 'MISSED'})"


def to_markdown(results: Mapping[str, Mapping[str, Mapping[str, Any]]], runs: int, command: str) -> str:
    lines = [
        HEADING,
        "",
        f"`{command}`",
        "",
        "Whole-process wall time of one training job, from the shell to the printed test figure: starting "
        "Python, imports, data, compilation, training, scoring. *cold*: an empty compilation cache (cellgraph's "
        "folder; for Keras and hand-written JAX, JAX's persistent cache on in an empty folder, every program "
        "kept); *warm*: the same folder again. Median of "
        f"{runs} runs (min–max). *compilations*: programs XLA compiled in a cold run (`JAX_LOG_COMPILES`; "
        "PyTorch compiles none). Scripts: `bench/ttr_keras.py`, `bench/ttr_jax.py`, `bench/ttr_torch.py` "
        "(the training benchmark's networks), data read with NumPy alone (`bench/ttr_data.py`).",
        "",
        "| job | contender | cold | warm | compilations | test figure |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    notes = []
    for name, by in results.items():
        job = JOBS[name]
        for k, contender in enumerate(CONTENDERS):
            r = by.get(contender)
            if r is None:
                continue
            warm = "—" if contender == "torch" else _s(r["warm"])
            compiled = "—" if r["compilations"] is None else str(r["compilations"])
            lines.append(
                f"| {job.label if k == 0 else ''} | {LABELS[contender]} | {_s(r['cold'])} | {warm} | {compiled} | "
                f"{job.metric} {r['figure']:.4g} |"
            )
        mine = by.get("cellgraph")
        if mine:
            cold, warm = statistics.median(mine["cold"]), statistics.median(mine["warm"])
            notes.append(
                f"- {job.label}: cellgraph cold {cold:.2f} s{_verdict(name, 'cold', cold)}, "
                f"warm {warm:.2f} s{_verdict(name, 'warm', warm)}, "
                f"{mine['compilations']} compilations{_verdict(name, 'compilations', mine['compilations'])}"
            )
            for other in ("keras", "jax", "torch"):
                if other in by:
                    ratio = cold / statistics.median(by[other]["cold"])
                    ratio_w = warm / statistics.median(by[other]["warm"])
                    notes.append(f"  - cellgraph / {LABELS[other]}: cold {ratio:.2f}, warm {ratio_w:.2f}")
    return "\n".join([*lines, "", *notes, "", *machine_rows(**_versions()), ""])


def _versions() -> dict[str, str]:
    out = {}
    for package in ("jax", "keras", "torch"):
        try:
            from importlib.metadata import version

            out[package] = version(package)
        except Exception:
            continue
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per cell (default 3)")
    parser.add_argument("--only", nargs="*", choices=sorted(JOBS), help="jobs to run (default: all)")
    parser.add_argument("--contenders", nargs="*", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--write", type=Path, metavar="FILE", help="also write the section into FILE")
    args = parser.parse_args(argv)
    available = [c for c in args.contenders if c == "cellgraph" or c == "jax" or _installed(c)]
    kernels = _native_kernels()
    results: dict[str, dict[str, Any]] = {}
    for name in args.only or list(JOBS):
        results[name] = {}
        for contender in available:
            results[name][contender] = measure(JOBS[name], contender, args.runs, kernels)
            print(f"{name} {contender}: {json.dumps(results[name][contender])}", file=sys.stderr)
    command = ".venv/bin/python bench/ttr_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    section = to_markdown(results, args.runs, command.strip())
    print(section)
    if args.write:
        write_section(args.write, HEADING, section)
        print(f"wrote {args.write}", file=sys.stderr)
    return 0


def _installed(contender: str) -> bool:
    import importlib.util

    return importlib.util.find_spec("keras" if contender == "keras" else "torch") is not None


if __name__ == "__main__":
    sys.exit(main())
