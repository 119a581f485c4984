"""What each classic-rule benchmark reports: one :class:`Row` per (network, figure), cellgraph
beside the library a user would otherwise pick, measured in the same run on the same data."""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

TIE_SEEDS = 8
"""Seeds on each side below which a worse mean is never called equal (see :attr:`Row.quality`)."""


def seeds_for(quick: bool) -> tuple[list[int], int]:
    """(seeds for the quality figures, repeats for the timings): 8 seeds and best of 3, or one
    of each for a smoke test."""
    return ([0], 1) if quick else (list(range(TIE_SEEDS)), 3)


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


@dataclass(frozen=True)
class Row:
    """One comparison.

    Attributes:
        network: the zoo network (``"RBM"``).
        task: the data, in a few words.
        metric: the quality figure's name; ``better`` says which way is better ("lower"/"higher").
        ours / theirs: the figure for cellgraph and for the reference library.
        ours_s / theirs_s: seconds to train (fit) each, after warm-up where a jit compile applies;
            the compile time is reported apart in ``compile_s``.
        library: the reference library and version (``"scikit-learn 1.9.1 BernoulliRBM"``).
    """

    network: str
    task: str
    metric: str
    better: str
    ours: float
    theirs: float
    ours_s: float
    theirs_s: float
    library: str
    compile_s: float = 0.0
    ours_seeds: tuple[float, ...] = ()  # the figure per seed (``ours`` is their mean)
    theirs_seeds: tuple[float, ...] = ()
    # why the row compares another algorithm than the reference runs ("" when it is the same):
    # such a row is reported, but the target (the same algorithm, as good and faster) is not read on it
    other_algorithm: str = ""

    @property
    def quality(self) -> str:
        """``"met"`` (as good or better), ``"equal within noise"`` or ``"not met"``.

        Both libraries' runs are random (initial weights, visiting orders), so two means over a
        few seeds differ even for the same algorithm. "Equal" is read the way a statistician
        would: the means differ by no more than two standard errors of their difference
        (Welch's), over at least :data:`TIE_SEEDS` seeds on each side; the per-seed figures are
        in the row, so the reader can check.
        """
        if self.ours <= self.theirs if self.better == "lower" else self.ours >= self.theirs:
            return "met"
        a, b = self.ours_seeds, self.theirs_seeds
        if min(len(a), len(b)) >= TIE_SEEDS:
            se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
            if abs(self.ours - self.theirs) <= 2 * se:
                return "equal within noise"
        return "not met"

    @property
    def counts(self) -> bool:
        """Whether the row is one the target is read on (the same algorithm on both sides)."""
        return not self.other_algorithm

    @property
    def quality_holds(self) -> bool:
        return self.quality != "not met"

    @property
    def time_holds(self) -> bool:
        return self.ours_s < self.theirs_s


@contextmanager
def empty_program_cache() -> Iterator[None]:
    """cellgraph's compile caches in a fresh folder, so the first call really compiles (the
    compile time each row reports apart)."""
    before = os.environ.get("CELLGRAPH_CACHE")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CELLGRAPH_CACHE"] = folder
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("CELLGRAPH_CACHE", None)
            else:
                os.environ["CELLGRAPH_CACHE"] = before


def best_of(fit: Callable[[int], Any], repeats: int, seed: int = 0) -> float:
    """The best seconds of ``repeats`` calls ``fit(seed)``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fit(seed)
        times.append(time.perf_counter() - started)
    return min(times)


def timed(fit: Callable[[int], Any], repeats: int, seed: int = 0) -> tuple[float, float]:
    """(best seconds of ``repeats`` calls after a first one, the first call's extra seconds: its
    compile, when the program cache started empty)."""
    started = time.perf_counter()
    fit(seed)
    first = time.perf_counter() - started
    best = best_of(fit, repeats, seed)
    return best, max(first - best, 0.0)


def print_rows(rows: Iterable[Row]) -> None:
    """One line per row, for a family's script run on its own."""
    for row in rows:
        print(
            f"{row.network} [{row.task}] {row.metric}: cellgraph {row.ours:.4g} vs {row.theirs:.4g} "
            f"({row.quality}); fit {row.ours_s:.3f} s (+{row.compile_s:.2f} s compile) "
            f"vs {row.theirs_s:.3f} s ({'met' if row.time_holds else 'NOT met'}) -- {row.library}"
        )
