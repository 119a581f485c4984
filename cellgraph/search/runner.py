"""The trial runner: a list of variants in, one outcome per variant out.

It takes a list, not one variant, so that variants of the same shape train at once: the runs of
one call (each variant once per seed) are grouped by their **population key** -- everything about
the variant but its learning rate: the cells, edges and bindings, the data, the ``train:`` block
without ``optimizer.learning_rate`` -- and each group of two or more runs trains as one vmapped
program (:func:`cellgraph.train.population.train_population`: the members differ in seed and
learning rate only). A group of one, or one a population cannot train (another rule than
backprop, early stopping, a learning-rate schedule, an optimizer that does not apply its learning
rate last: :func:`~cellgraph.train.population.why_one_by_one`), trains run by run with
:func:`cellgraph.train`. ``RunPlan(population=False)`` trains every run that way.

Every run is kept under ``runs/`` in the search's folder, in a folder named by the run's key (the
spec and its parts, the data, cellgraph's code, the library versions, the settings): a run trained
by ``train`` keeps its checkpoints there, so an interrupted trial resumes where it stopped and a
finished one is evaluated rather than trained again; a population member keeps its metrics there
(``population.json``, under the key ``train`` would give the same run:
:func:`~cellgraph.train.population.run_key_of`), so a rerun reads them back. A run is never reused
once any part of its key changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .variants import Variant

RECORD: Final = "population.json"
"""A population member's result in its run folder: the run's key and its metrics."""


@dataclass(frozen=True)
class RunPlan:
    """What every trial shares: seeds, overrides of the spec's `train:` block, where runs go."""

    seeds: tuple[int | None, ...] = (None,)  # None: the spec's own train.seed
    epochs: int | None = None
    steps: int | None = None
    validation: float | None = None
    runs_dir: Path | None = None
    population: bool = True  # train runs of one shape together (False: each with cellgraph.train)


@dataclass(frozen=True)
class Outcome:
    """A variant's result: its metrics (the mean over seeds), their spread, the time it took.

    ``metrics`` are named by split: ``val_accuracy``, ``test_loss``, ``train_accuracy``.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)  # standard deviation over seeds (0 for one)
    seconds: float = 0.0
    error: str = ""
    trained: int = 0  # runs trained now (0: every seed's run was finished already and only evaluated or read)
    population: int = 0  # the size of the vmapped population its runs trained in (0: none did)


Runner = Callable[[Sequence[Variant], RunPlan], list[Outcome]]
"""A trial runner's type: :func:`train_variants`, or a population backend with the same call."""


def train_variants(variants: Sequence[Variant], plan: RunPlan) -> list[Outcome]:
    """Train each variant once per seed and average its metrics over the seeds; runs of one shape
    train together as a population (see the module docstring) unless ``plan.population`` is off.

    A run that fails (a loss that stops being finite, bad settings) gives an outcome with its
    ``error`` instead of raising, so the search goes on; Ctrl-C raises (after the run's checkpoint,
    for a run trained alone; a population's members keep nothing until the population ends).
    """
    if not plan.population:
        return [_train_one(v, plan) for v in variants]
    runs = [_Run(i, v, seed) for i, v in enumerate(variants) for seed in plan.seeds]
    groups: dict[str, list[_Run]] = {}
    for run in runs:
        groups.setdefault(population_key(run.variant), []).append(run)
    for group in groups.values():
        _train_group(group, plan)
    return [_outcome([r for r in runs if r.index == i]) for i in range(len(variants))]


def population_key(variant: Variant) -> str:
    """What variants must share to train in one population: everything but the seed and the
    learning rate.

    The cells, edges and bindings as loaded (their options resolved from the params), the data
    set's block and the ``train:`` block less ``seed`` and a numeric ``optimizer.learning_rate``.
    Two variants with equal keys compile to the same programs; what else tells them apart (the
    seed, the learning rate) is what a population's members may differ in.
    """
    spec = variant.graph.graph["spec"]
    train = {k: v for k, v in spec.train.items() if k != "seed"}
    optimizer = train.get("optimizer")
    if isinstance(optimizer, Mapping) and isinstance(optimizer.get("learning_rate"), int | float):
        train["optimizer"] = {k: v for k, v in optimizer.items() if k != "learning_rate"}
    parts = [variant.arch, variant.data_key, repr(spec.cells), repr(spec.edges), repr(spec.bindings),
             json.dumps(train, sort_keys=True, default=repr)]  # fmt: skip
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class _Run:
    """One variant's run with one seed: how it trained and what it gave."""

    def __init__(self, index: int, variant: Variant, seed: int | None) -> None:
        self.index, self.variant, self.seed = index, variant, seed
        self.metrics: dict[str, float] | None = None
        self.error = ""
        self.trained = False
        self.population = 0
        self.seconds = 0.0
        self.record: Path | None = None  # where a population member's result is kept
        self.key = ""


def _train_group(group: list[_Run], plan: RunPlan) -> None:
    """Train one group of runs of one shape: read back, as a population, or one by one."""
    from ..train import TrainingError
    from ..train.checkpoint import list_checkpoints
    from ..train.population import why_one_by_one

    given = {"epochs": plan.epochs, "steps": plan.steps, "validation": plan.validation}
    first = group[0].variant
    members = [_member(r) for r in group]
    try:
        # whether runs of this shape can share a program at all, whatever the group's size: a run
        # alone in this batch may have been a population's member in an earlier search
        why = why_one_by_one(first.graph, members if len(members) > 1 else members * 2, **given)
    except (TrainingError, ValueError):
        why = "its settings are refused (training says why)"
    waiting = list(group)
    if why is None and plan.runs_dir is not None:
        try:
            _find_records(group, plan, given)
        except (TrainingError, ValueError):  # settings train() refuses: each run alone says why
            why = "its settings are refused (training says why)"
        waiting = [r for r in group if r.metrics is None]
        # a run trained alone before keeps checkpoints in the same folder: train() evaluates it
        alone = [r for r in waiting if r.record is not None and list_checkpoints(r.record.parent)]
        waiting = [r for r in waiting if r not in alone]
        for run in alone:
            _train_alone(run, plan)
    if why is None and len(waiting) >= 2:
        _train_together(waiting, plan, given)
    else:
        for run in waiting:
            _train_alone(run, plan)


def _member(run: _Run) -> dict[str, Any]:
    """The run as a population member: its seed (the search's, else its spec's) and learning rate."""
    spec = run.variant.graph.graph["spec"]
    return {
        "seed": run.seed if run.seed is not None else spec.train.get("seed"),
        "learning_rate": _learning_rate(run.variant),
    }


def _learning_rate(variant: Variant) -> Any:
    """The variant's own learning rate (its spec's, params resolved; None when the optimizer has its default)."""
    optimizer = variant.graph.graph["spec"].train.get("optimizer")
    return optimizer.get("learning_rate") if isinstance(optimizer, Mapping) else None


def _find_records(group: list[_Run], plan: RunPlan, given: Mapping[str, Any]) -> None:
    """Each run's folder under ``runs/`` (named by the key ``train`` would give it) and, when a
    population kept its result there before under that very key, that result."""
    from ..train.loop import run_folder_name
    from ..train.population import run_key_of

    assert plan.runs_dir is not None
    shapes = None  # the same for every run of the group: traced once
    for run in group:
        spec = run.variant.graph.graph["spec"]
        key, shapes = run_key_of(run.variant.graph, run.variant.data, shapes=shapes, seed=run.seed, **given)
        run.key = key.digest
        run.record = Path(plan.runs_dir) / run_folder_name(spec, key) / RECORD
        stored = _read_record(run.record)
        if stored is not None and stored.get("key") == run.key and isinstance(stored.get("metrics"), dict):
            run.metrics = {str(k): float(v) for k, v in stored["metrics"].items()}


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # none, or a damaged one: the run trains again
    return data if isinstance(data, dict) else None


def _train_together(group: list[_Run], plan: RunPlan, given: Mapping[str, Any]) -> None:
    """One vmapped program for the group; each member's metrics kept in its run folder."""
    from ..train import TrainingError
    from ..train.population import train_population

    start = time.perf_counter()
    members = [_member(r) for r in group]
    try:
        results = train_population(group[0].variant.graph, group[0].variant.data, members=members, **given)
    except (TrainingError, ValueError) as err:
        for run in group:
            run.error = f"seed {run.seed}: {err}"
        return
    seconds = (time.perf_counter() - start) / len(group)
    for run, result in zip(group, results, strict=True):
        run.seconds, run.population = seconds, len(group)
        if isinstance(result, TrainingError):
            run.error = f"seed {run.seed}: {result}"
            continue
        run.metrics, run.trained = named_metrics(result), True
        if run.record is not None:
            _write_record(run.record, {"key": run.key, "steps": result.steps, "metrics": run.metrics})


def _write_record(path: Path, record: Mapping[str, Any]) -> None:
    """Written whole or not at all (a temporary file renamed), so a kill never leaves half a record."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass  # not kept: the run trains again next time, as a run whose last checkpoint failed


def _train_alone(run: _Run, plan: RunPlan) -> None:
    from ..train import TrainingError, train

    start = time.perf_counter()
    try:
        result = train(
            run.variant.graph,
            run.variant.data,
            epochs=plan.epochs,
            steps=plan.steps,
            seed=run.seed,
            validation=plan.validation,
            runs_dir=plan.runs_dir,
            progress=False,
        )
    except (TrainingError, ValueError) as err:
        run.error = f"seed {run.seed}: {err}"
    else:
        run.metrics, run.trained = named_metrics(result), not result.already_trained
    run.seconds = time.perf_counter() - start


def _outcome(runs: Sequence[_Run]) -> Outcome:
    """A variant's outcome from its runs (in seed order): the first error, else the mean."""
    seconds = sum(r.seconds for r in runs)
    population = max((r.population for r in runs if r.trained), default=0)
    for run in runs:
        if run.error:
            return Outcome(seconds=seconds, error=run.error, population=population)
    rows = [r.metrics for r in runs if r.metrics is not None]
    metrics, spread = _mean(rows)
    return Outcome(metrics, spread, seconds, trained=sum(r.trained for r in runs), population=population)


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
