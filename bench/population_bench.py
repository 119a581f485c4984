"""A population of 32 same-shape MLPs trained as one vmapped program, against the same 32 trained
one by one (issue 19's target: >= 5x faster on this machine's CPU), in one run.

Two networks: a small MLP on the two-spirals task (2-16-16-2, batches of 32, 450 training rows,
20 epochs: the networks a search tries by the hundred, whose steps are dispatch-bound) and the
lecture's mushroom MLP (``specs/examples/mushroom.yaml``: 117-64-64-2, batches of 128, 5 epochs:
compute-bound -- one step, 4.5 MFLOP, takes 0.23 ms here, ~20 GFLOP/s, and the vmapped step of
32 members runs at ~43 GFLOP/s, about what the two cores give, so batching can win at most ~2x).
The 32 members are 8 seeds x 4 learning rates (1e-3, 3e-3, 1e-2, 3e-2), Adam. One by one means
32 ``cellgraph.train`` calls, their programs compiled once (the first round is timed apart) --
what a search would otherwise run. The population is one ``train_population`` call, its programs
also compiled beforehand. Both report every member's test accuracy, compared here (max
difference).

    .venv/bin/python bench/population_bench.py [--quick] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdoc import machine_rows, write_section

ROOT = Path(__file__).resolve().parent.parent
MUSHROOM = ROOT / "specs" / "examples" / "mushroom.yaml"
HEADING = "## Populations: 32 same-shape variants in one vmapped program"
RATES = (1e-3, 3e-3, 1e-2, 3e-2)
SMALL = ROOT / "bench" / "specs" / "small_mlp.yaml"


def _compare(name: str, spec: Path, members: list[dict[str, Any]], epochs: int, repeats: int) -> str:
    """One table row: the members one by one and as a population, interleaved, best of ``repeats``."""
    import cellgraph
    from cellgraph.data import load_dataset
    from cellgraph.train.population import train_population, why_one_by_one

    data = load_dataset(cellgraph.load_spec(spec).data, spec.parent)
    assert why_one_by_one(spec, members, epochs=epochs) is None

    def one_by_one() -> list[float]:
        return [
            cellgraph.train(spec, data, seed=m["seed"], optimizer={"name": "adam", "learning_rate": m["learning_rate"]},
                            epochs=epochs, progress=False, resume=False).metrics["accuracy"]
            for m in members
        ]  # fmt: skip

    def together() -> list[float]:
        return [r.metrics["accuracy"] for r in train_population(spec, data, members=members, epochs=epochs)]  # type: ignore[union-attr]

    started = time.perf_counter()
    one_by_one()  # compiles its programs
    first_alone = time.perf_counter() - started
    started = time.perf_counter()
    together()
    first_together = time.perf_counter() - started
    alone_s, together_s, alone_acc, together_acc = [], [], [], []
    for _ in range(repeats):  # interleaved, best of each
        started = time.perf_counter()
        alone_acc = one_by_one()
        alone_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        together_acc = together()
        together_s.append(time.perf_counter() - started)
    diff = max(abs(a - b) for a, b in zip(alone_acc, together_acc, strict=True))
    ratio = min(alone_s) / min(together_s)
    return (
        f"| {name} | {len(members)} | {epochs} | {min(alone_s):.2f} (first {first_alone:.2f}) | {min(together_s):.2f} "
        f"(first {first_together:.2f}) | {ratio:.1f}x | >= 5x: {'met' if ratio >= 5 else '**not met**'} | {diff:.2g} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 members, 1 epoch (a smoke test)")
    parser.add_argument("--write", metavar="FILE", help="write the section into this Markdown file")
    args = parser.parse_args()
    members = [{"seed": s, "learning_rate": lr} for s in range(2 if args.quick else 8) for lr in RATES]
    repeats = 1 if args.quick else 3
    lines = [
        "| network | members | epochs | one by one s | population s | speed-up | target | max test-accuracy difference |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, spec, epochs in (
        ("2-16-16-2, two spirals, batch 32", SMALL, 20),
        ("117-64-64-2, mushroom, batch 128", MUSHROOM, 5),
    ):
        lines.append(_compare(name, spec, members, 1 if args.quick else epochs, repeats))
        print(lines[-1], flush=True)
    print("\n".join(lines))
    if args.write:
        section = "\n".join([
            HEADING, "",
            "Written by `.venv/bin/python bench/population_bench.py --write docs/benchmarks.md`: 8 seeds x 4 "
            "learning rates of a small MLP (two spirals) and of the mushroom MLP, trained one by one (32 "
            "`cellgraph.train` calls) and as one population (`cellgraph.train.population.train_population`), "
            "programs compiled before the timed runs (the first rounds' times in brackets), best of 3 interleaved "
            "runs. Populations pay where steps are small and dispatch-bound, as in a search over small networks; "
            "the mushroom MLP's steps are compute-bound (one step runs at ~20 GFLOP/s of the two cores' ~45), so "
            "batching them wins less than 2x.", "",
            *lines, "", *machine_rows(), "",
        ])  # fmt: skip
        write_section(Path(args.write), HEADING, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
