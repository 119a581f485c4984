"""A population of 32 same-shape MLPs trained as one vmapped program, against the same 32 trained
one by one (issue 19's target: >= 5x faster on this machine's CPU), in one run.

The network is the lecture's mushroom MLP (``specs/examples/mushroom.yaml``: 117 one-hot inputs,
one hidden layer of 32 ReLU units, softmax over 2 classes, Adam, batches of 128, 5 epochs here);
the 32 members are 8 seeds x 4 learning rates (1e-3, 3e-3, 1e-2, 3e-2). One by one means 32
``cellgraph.train`` calls, their programs compiled once (the first call is timed apart) -- what a
search would otherwise run. The population is one ``train_population`` call, its programs also
compiled beforehand. Both report every member's test accuracy, compared here (max difference).

    .venv/bin/python bench/population_bench.py [--quick] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdoc import machine_rows, write_section

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "examples" / "mushroom.yaml"
HEADING = "## Populations: 32 same-shape variants in one vmapped program"
RATES = (1e-3, 3e-3, 1e-2, 3e-2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 members, 1 epoch (a smoke test)")
    parser.add_argument("--write", metavar="FILE", help="write the section into this Markdown file")
    args = parser.parse_args()
    import cellgraph
    from cellgraph.data import load_dataset
    from cellgraph.train.population import train_population, why_one_by_one

    seeds = range(2) if args.quick else range(8)
    epochs = 1 if args.quick else 5
    members = [{"seed": s, "learning_rate": lr} for s in seeds for lr in RATES]
    data = load_dataset(cellgraph.load_spec(SPEC).data, SPEC.parent)
    assert why_one_by_one(SPEC, members, epochs=epochs) is None

    def one_by_one() -> list[float]:
        return [
            cellgraph.train(SPEC, data, seed=m["seed"], optimizer={"name": "adam", "learning_rate": m["learning_rate"]},
                            epochs=epochs, progress=False, resume=False).metrics["accuracy"]
            for m in members
        ]  # fmt: skip

    def together() -> list[float]:
        return [r.metrics["accuracy"] for r in train_population(SPEC, data, members=members, epochs=epochs)]  # type: ignore[union-attr]

    started = time.perf_counter()
    one_by_one()  # compiles its programs
    first_alone = time.perf_counter() - started
    started = time.perf_counter()
    together()
    first_together = time.perf_counter() - started
    alone_s, together_s, alone_acc, together_acc = [], [], [], []
    for _ in range(1 if args.quick else 3):  # interleaved, best of each
        started = time.perf_counter()
        alone_acc = one_by_one()
        alone_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        together_acc = together()
        together_s.append(time.perf_counter() - started)
    diff = max(abs(a - b) for a, b in zip(alone_acc, together_acc, strict=True))
    ratio = min(alone_s) / min(together_s)
    lines = [
        "| members | epochs | one by one s | population s | speed-up | target | max test-accuracy difference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {len(members)} | {epochs} | {min(alone_s):.2f} (first {first_alone:.2f}) | {min(together_s):.2f} "
        f"(first {first_together:.2f}) | {ratio:.1f}x | >= 5x: {'met' if ratio >= 5 else '**not met**'} | {diff:.2g} |",
    ]
    print("\n".join(lines))
    if args.write:
        section = "\n".join([
            HEADING, "",
            "Written by `.venv/bin/python bench/population_bench.py --write docs/benchmarks.md`: the mushroom MLP "
            "(117-32-2, Adam, batches of 128), 8 seeds x 4 learning rates, trained one by one (32 `cellgraph.train` "
            "calls) and as one population (`cellgraph.train.population.train_population`), programs compiled "
            "before the timed runs (the first runs' times in brackets), best of 3 interleaved runs.", "",
            *lines, "", *machine_rows(), "",
        ])  # fmt: skip
        write_section(Path(args.write), HEADING, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
