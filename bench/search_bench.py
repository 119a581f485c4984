"""A `cellgraph.search` grid of 32 points (4 learning rates x 8 seeds) on the small two-spirals MLP,
trained by the population runner and by the one-by-one runner, in one run (issue 19).

The spec is bench/population_bench.py's 2-16-16-2 MLP (batches of 32, 20 epochs) with its
learning rate and seed as params, so the grid's 32 points are 32 trials of one shape: the
population runner trains them as one vmapped program (a grid search asks all 32 trials at once),
the one-by-one runner (``population=False``) with 32 ``cellgraph.train`` calls. Each search runs
once untimed first, into a folder of its own, so the programs each needs are compiled and kept
(what a second search of the same spec finds); the timed runs are best of ``--repeats``, each in a
fresh folder (nothing read back). Both rank by ``val_accuracy`` (a validation split held out per
seed); the table gives the largest difference between the two runners' figures over the trials.

    .venv/bin/python bench/search_bench.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parent / "specs" / "small_mlp.yaml"
GRID: dict[str, list[Any]] = {"lr": [1e-3, 3e-3, 1e-2, 3e-2], "seed": list(range(8))}


def _search(spec: Path, folder: Path, population: bool) -> tuple[float, dict[tuple[Any, ...], dict[str, float]]]:
    from cellgraph.search import search

    started = time.perf_counter()
    result = search(spec, grid=GRID, metric="val_accuracy", output=folder, progress=False, report=False,
                    population=population)  # fmt: skip
    seconds = time.perf_counter() - started
    assert len(result.trials) == 32 and all(t.state == "complete" for t in result.trials)
    assert all((t.population == 32) == population for t in result.trials)
    return seconds, {tuple(sorted(t.params.items())): t.metrics for t in result.trials}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each runner (best is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = SPEC
        first = {p: _search(spec, root / f"warm-{p}", p)[0] for p in (True, False)}
        times: dict[bool, list[float]] = {True: [], False: []}
        figures: dict[bool, dict[tuple[Any, ...], dict[str, float]]] = {}
        for r in range(args.repeats):  # interleaved
            for population in (True, False):
                seconds, figures[population] = _search(spec, root / f"run{r}-{population}", population)
                times[population].append(seconds)
    diff = max(
        abs(value - figures[False][point][name])
        for point, metrics in figures[True].items()
        for name, value in metrics.items()
    )
    together, alone = min(times[True]), min(times[False])
    print("| search | trials | one by one s | population s | speed-up | max metric difference |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| grid 4 lr x 8 seeds, 2-16-16-2 two spirals, 20 epochs | 32 | {alone:.2f} (first {first[False]:.2f}) | "
        f"{together:.2f} (first {first[True]:.2f}) | {alone / together:.1f}x | {diff:.2g} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
