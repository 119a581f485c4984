"""The trial runner: a list of variants in, one outcome per variant out.

It takes a list, not one variant, so that a later backend can train several variants of the same
shape at once (a vmapped population) behind the same call; this one trains them one after the
other with :func:`cellgraph.train`. Each run keeps its checkpoints under ``runs/`` in the search's
folder, in a folder named by the run's key (the spec and its parts, the data, cellgraph's code,
the library versions, the settings), so an interrupted trial resumes where it stopped, a finished
one is evaluated rather than trained again, and a run is never reused once any of those changed.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .variants import Variant


@dataclass(frozen=True)
class RunPlan:
    """What every trial shares: seeds, overrides of the spec's `train:` block, where runs go."""

    seeds: tuple[int | None, ...] = (None,)  # None: the spec's own train.seed
    epochs: int | None = None
    steps: int | None = None
    validation: float | None = None
    runs_dir: Path | None = None


@dataclass(frozen=True)
class Outcome:
    """A variant's result: its metrics (the mean over seeds), their spread, the time it took.

    ``metrics`` are named by split: ``val_accuracy``, ``test_loss``, ``train_accuracy``.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)  # standard deviation over seeds (0 for one)
    seconds: float = 0.0
    error: str = ""
    trained: int = 0  # runs trained now (0: every seed's run was finished already and only evaluated)


Runner = Callable[[Sequence[Variant], RunPlan], list[Outcome]]
"""A trial runner's type: :func:`train_variants`, or a population backend with the same call."""


def train_variants(variants: Sequence[Variant], plan: RunPlan) -> list[Outcome]:
    """Train each variant once per seed and average its metrics over the seeds.

    A run that fails (a loss that stops being finite, bad settings) gives an outcome with its
    ``error`` instead of raising, so the search goes on; Ctrl-C raises, after the run's checkpoint.
    """
    return [_train_one(v, plan) for v in variants]


def _train_one(variant: Variant, plan: RunPlan) -> Outcome:
    from ..train import TrainingError, train

    start = time.perf_counter()
    rows: list[dict[str, float]] = []
    trained = 0
    for seed in plan.seeds:
        try:
            result = train(
                variant.graph,
                variant.data,
                epochs=plan.epochs,
                steps=plan.steps,
                seed=seed,
                validation=plan.validation,
                runs_dir=plan.runs_dir,
                progress=False,
            )
        except (TrainingError, ValueError) as err:
            return Outcome(seconds=time.perf_counter() - start, error=f"seed {seed}: {err}")
        trained += 0 if result.already_trained else 1
        rows.append(named_metrics(result))
    metrics, spread = _mean(rows)
    return Outcome(metrics, spread, time.perf_counter() - start, trained=trained)


def named_metrics(result: Any) -> dict[str, float]:
    """A TrainResult's figures by split: ``test_*`` (or ``train_*`` without a test split), ``val_*``."""
    out: dict[str, float] = {}
    for name, value in result.train_metrics.items():
        out[f"train_{name}"] = float(value)
    for name, value in result.metrics.items():
        out[f"{result.scored_on}_{name}"] = float(value)
    for name, value in result.val_metrics.items():
        out[f"val_{name}"] = float(value)
    return out


def _mean(rows: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    names = [k for k in rows[0] if all(k in r for r in rows)]
    mean = {k: statistics.fmean(r[k] for r in rows) for k in names}
    spread = {k: statistics.pstdev([r[k] for r in rows]) if len(rows) > 1 else 0.0 for k in names}
    return mean, {k: v for k, v in spread.items() if not math.isnan(v)}
