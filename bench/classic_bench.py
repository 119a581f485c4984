"""The classic learning rules beside the library a user would otherwise pick, in one run.

Each ``bench/classic_<family>.py`` trains cellgraph and its reference library on the same data in
the same process and returns :class:`classic_common.Row` records (quality and fit time side by
side); this script runs them all and prints -- or writes into ``docs/benchmarks.md`` -- one table,
with whether each target holds (quality equal or better, time lower).

    .venv/bin/python bench/classic_bench.py                   # print the table
    .venv/bin/python bench/classic_bench.py --write docs/benchmarks.md
    .venv/bin/python bench/classic_bench.py --only som,rbm --quick

The reference libraries (scikit-learn, MiniSom, ReservoirPy, snnTorch) are optional benchmark
dependencies: ``pip install -e .[classic]``. A family whose library is missing is reported as
skipped, never silently dropped.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdoc import machine_rows, write_section
from classic_common import Row

FAMILIES = {
    "perceptron": "classic_perceptron",
    "rbm": "classic_rbm",
    "som": "classic_som",
    "reservoir": "classic_reservoir",
}
HEADING = "## Classic learning rules against their reference libraries"
NOTES = (
    "What holds and what does not (issue 17's target: quality equal or better and time lower on every row):",
    "",
    "- **Quality** is the mean over 8 seeds; a worse mean within two standard errors of the difference (Welch) is "
    "reported as *equal within noise* (both libraries' runs are random: initial weights, visiting orders). "
    "scikit-learn's `BernoulliRBM` runs PCD only: the target is read on cellgraph's PCD rows, the like-for-like "
    "ones; the zoo spec's CD-1 is shown beside them and not counted (its exact log-likelihood is far better than "
    "PCD's on bars-and-stripes, its pseudo-likelihood worse).",
    "- **Time.** What made the whole calls fast: small epochs run in blocks, one `lax.scan` per block (the RBM's "
    "3000 passes: 1.8 s -> 0.12 s; the perceptron's 20 passes in one call), a perceptron pass classified whole "
    "before its mistake-by-mistake loop, a nan in a loss-less rule flagged on the device instead of copying the "
    "parameters, a rule's own programs kept and held in-process across calls, the validated spec remembered while "
    "its files are unchanged, the data digest by XXH3, and a reservoir drawn with `lax.top_k` instead of a full "
    "permutation (the ESN's init 228 -> 41 ms). The whole calls score the held-out split once, at the end, as the "
    "references do; the ESN and LSM calls include that scoring, and their reference time is the library's fit "
    "plus the same scoring.",
)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def table(rows: list[Row]) -> list[str]:
    out = [
        "| network | task | metric | cellgraph | reference | quality | fit s (cellgraph) | fit s (reference) "
        "| time | reference library |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        quality = r.quality if r.quality_holds else "**not met**"
        timing = "met" if r.time_holds else "**not met**"
        if not r.counts:  # shown beside the reference, not a target row
            verdict = r.quality.replace("met", "better") if r.quality_holds else "worse"
            quality = f"{verdict} ({r.other_algorithm}: not counted)"
            timing = "faster" if r.time_holds else "slower"
        compile_note = f" (+{r.compile_s:.2f} compile)" if r.compile_s else ""
        out.append(
            f"| {r.network} | {r.task} | {r.metric} ({r.better} is better) | {_fmt(r.ours)} | {_fmt(r.theirs)} "
            f"| {quality} | {r.ours_s:.3f}{compile_note} | {r.theirs_s:.3f} | {timing} | {r.library} |"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(FAMILIES), help="families, comma-separated")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test, not the figures)")
    parser.add_argument("--write", metavar="FILE", help="write the section into this Markdown file")
    args = parser.parse_args()
    rows: list[Row] = []
    skipped: list[str] = []
    started = time.perf_counter()
    for name in args.only.split(","):
        try:
            module = importlib.import_module(FAMILIES[name.strip()])
            found = module.rows(quick=args.quick)
        except ModuleNotFoundError as e:  # the reference library is an optional dependency
            skipped.append(f"{name}: {e.name} is not installed")
            continue
        rows += found
        for line in table(found)[2:]:
            print(line, flush=True)
    lines = table(rows)
    print("\n".join(lines))
    for s in skipped:
        print(f"skipped {s}")
    if args.write:
        counted = [r for r in rows if r.counts]
        held = sum(r.quality_holds and r.time_holds for r in counted)
        others = sorted({r.other_algorithm for r in rows if not r.counts})
        section = "\n".join(
            [
                HEADING,
                "",
                "Written by `.venv/bin/python bench/classic_bench.py --write docs/benchmarks.md` "
                f"({time.perf_counter() - started:.0f} s). Each row trains cellgraph (from the spec, through "
                "`cellgraph.train`'s rule) and the reference library on the same data in the same run. Target: "
                "quality equal or better and fit time lower on every row; "
                f"{held} of {len(counted)} rows meet both"
                + (
                    f" ({len(rows) - len(counted)} more rows, {', '.join(others)}, compare another algorithm than "
                    "the reference's: shown, not counted)"
                    if others
                    else ""
                )
                + ". Fit times exclude cellgraph's jit compile, shown apart.",
                "",
                *lines,
                "",
                *(f"- skipped {s}" for s in skipped),
                "",
                *NOTES,
                "",
                *machine_rows(),
                "",
            ]
        )
        write_section(Path(args.write), HEADING, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
