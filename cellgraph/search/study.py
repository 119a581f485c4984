"""The study: Optuna's sampler proposes points, each is validated, the runner trains the valid ones.

The study lives in ``journal.log`` in the output folder (Optuna's JournalStorage, a file backend:
no database). Its name carries a fingerprint of everything that decides a trial's result -- the
spec and its parts, the space, the settings, the data, cellgraph's code and the library versions
-- so running the same command again resumes it (finished trials are read back, not rerun), while
a change to any of those starts a new study instead of reusing stale figures. The sampler is
seeded afresh before each trial from the seed and the number of trials done, so a search stopped
with Ctrl-C and resumed proposes the same points as one that ran straight through.

Trials are asked of the sampler in **batches** (``batch``; default: up to :data:`DEFAULT_BATCH`
for the grid and random samplers, which propose a point without the results before it, and 1 for
TPE, which learns from each result) and the runner trains a batch in one call, so the variants of
one shape in it train as one vmapped population (:mod:`.runner`). Each trial is told its result
as the batch ends; Ctrl-C during a batch leaves all its unfinished trials to run again first.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final, TextIO

from ..errors import SpecError
from ..spec.limits import DEFAULT_LIMITS, Limits
from .records import SearchResult, Trial
from .runner import Outcome, Runner, RunPlan, train_variants
from .settings import Setup, fingerprint, resolve
from .space import Dimension, SearchError, Space
from .variants import DataCache, Variant, make_variant

PREVALIDATE_MAX: Final = 512  # a finite space up to this size is validated whole before any training
DEFAULT_BATCH: Final = 32  # trials asked at once by the grid and random samplers (TPE: 1)


def search(
    spec: str | Path,
    *,
    grid: Mapping[str, Sequence[Any]] | Sequence[str] | None = None,
    random: Mapping[str, str | Sequence[Any]] | Sequence[str] | None = None,
    trials: int | None = None,
    sampler: str | None = None,
    metric: str | None = None,
    direction: str | None = None,
    seeds: int | None = None,
    seed: int | None = None,
    output: str | Path = "search",
    params: Mapping[str, Any] | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    validation: float | None = None,
    progress: bool | TextIO = True,
    runner: Runner = train_variants,
    limits: Limits = DEFAULT_LIMITS,
    report: bool = True,
    backend: str = "local",
    address: str | None = None,
    batch: int | None = None,
    population: bool = True,
) -> SearchResult:
    """Search a spec's params with Optuna: validate each variant, train the valid ones, rank them.

    Args:
        spec: the spec file; its ``params:`` are the space's coordinates and its ``search:`` block
            may declare the space and the settings below (the arguments win).
        grid: values per param, ``{"width": [16, 32, 64]}`` (or ``["width=16,32,64"]``).
        random: a range or a choice per param, ``{"lr": "loguniform:1e-4:1e-1"}``.
        trials: how many trials (default: the whole grid, else 20).
        sampler: ``grid``, ``random`` or ``tpe`` (default: ``grid`` when every dimension is a
            list of values, else ``tpe``), each Optuna's, seeded with ``seed``.
        metric: what to rank by, named by split: ``val_accuracy``, ``val_loss`` (default),
            ``test_accuracy``, ``train_loss``.
        direction: ``maximize`` or ``minimize`` (default: from the metric, accuracy-like up).
        seeds: train each variant this many times (seeds ``seed``, ``seed+1``, ...) and rank
            by the mean.
        output: the folder of the journal, the runs and the report.
        params: fixed overrides of the spec's other params (``-p``).
        epochs, steps, validation: over the spec's ``train:`` settings for every trial.
        progress: print a line per trial (True: to stderr; or a stream).
        runner: trains a list of variants (:func:`~cellgraph.search.runner.train_variants`).
        report: write the table, plots, best spec and contact sheet when the search ends.
        backend: ``local`` (the trials one after the other here) or ``ray`` (Ray Tune runs them,
            Optuna's sampler inside it; :mod:`~cellgraph.search.ray_backend`). ``runner`` is the
            local backend's only.
        address: with ``backend="ray"``, the cluster to join (``HOST:PORT``, ``auto``); None
            starts Ray on this machine with its CPUs.
        batch: trials asked of the sampler and handed to the runner at once (default:
            :data:`DEFAULT_BATCH` for ``grid`` and ``random``, 1 for ``tpe``; TPE with a batch
            proposes with Optuna's constant liar). Local backend only.
        population: train the runs of one shape in a batch as one vmapped population
            (:mod:`.runner`); False trains each with ``cellgraph.train``.

    Returns:
        A :class:`SearchResult`.

    Raises:
        SearchError: a bad option, a dimension naming no param, a metric no trial reports.
        SpecError: a bad ``search:`` block or base spec, located at its line.

    >>> result = search("net.yaml", grid={"width": [4, 16]}, trials=2)  # doctest: +SKIP
    >>> result.best.params  # doctest: +SKIP
    """
    try:
        import optuna  # noqa: F401 - an optional extra: say how to get it before anything else
    except ImportError as err:
        raise SearchError(f"searching needs Optuna ({err}); fix: pip install 'cellgraph[search]'") from None
    _check_backend(backend, address)
    if backend == "ray" and runner is not train_variants:
        raise SearchError("runner= is the local backend's: Ray's workers train with train_variants; fix: drop runner=")
    setup = resolve(
        spec, grid, random, trials, sampler, metric, direction, seeds, seed, params, epochs, steps, validation
    )
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise SearchError(f"--batch {batch!r}: fix: give a whole number of at least 1")
    if backend == "ray" and batch is not None:
        raise SearchError("--batch is the local backend's: Ray runs each trial on its own; fix: drop --batch")
    size = batch if batch is not None else (1 if setup.sampler == "tpe" else DEFAULT_BATCH)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    out = (sys.stderr if progress is True else progress) if progress else None
    cache = DataCache()
    base_variant = make_variant(setup.spec, {}, setup.base, limits, cache)
    if not base_variant.valid:
        if base_variant.problems:
            raise SpecError(list(base_variant.problems))
        raise SearchError(base_variant.error)
    name = "search-" + fingerprint(setup, base_variant)[:16]
    variants: dict[str, Variant] = {}

    def variant_of(point: Mapping[str, Any]) -> Variant:
        key = json.dumps(point, sort_keys=True, default=str)
        if key not in variants:
            variants[key] = make_variant(setup.spec, point, setup.base, limits, cache)
        return variants[key]

    _prevalidate(setup, variant_of, out)
    if backend == "ray":
        from .ray_backend import run_ray_study

        sampler_ = make_sampler(setup.sampler, setup.space, setup.seed)

        def number(index: int, point: Mapping[str, Any]) -> int:
            return _number(index, SimpleNamespace(params=point), setup)

        result = run_ray_study(setup, folder, name, variant_of, sampler_, _suggest, number, limits, address, out)
    else:
        result = _run_study(setup, folder, name, variant_of, runner, out, size, population)
    if report:
        from .report import write_report

        result = write_report(result, setup.spec, variant_of)
        if out is not None:
            for label, path in result.files.items():
                print(f"wrote {label}: {path}", file=out)
    return result


def _check_backend(backend: str, address: str | None) -> None:
    """A known backend, Ray importable for ``ray``: said before any spec loads."""
    if backend not in ("local", "ray"):
        raise SearchError(f"--backend {backend}: unknown backend; fix: write local or ray")
    if backend == "ray":
        from .ray_backend import require_ray

        require_ray()
    elif address is not None:
        raise SearchError(f"--address {address}: only Ray joins a cluster; fix: add --backend ray")


def _prevalidate(setup: Setup, variant_of: Callable[[Mapping[str, Any]], Variant], out: TextIO | None) -> None:
    """Validate every point of a small finite space before any training, and list the invalid ones."""
    size = setup.space.size()
    if size is None or size > PREVALIDATE_MAX:
        return
    bad = [v for v in map(variant_of, setup.space.points()) if not v.valid]
    if out is not None:
        print(f"validated {size} variants: {size - len(bad)} valid, {len(bad)} invalid", file=out)
        for v in bad:
            print(f"  invalid {_point(v.params)}:", file=out)
            print("    " + v.describe_problems().replace("\n", "\n    "), file=out)


def _point(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def make_sampler(kind: str, space: Space, seed: int, batch: int = 1) -> Any:
    """Optuna's sampler of that kind, seeded (TPE starts with a few random trials, as Optuna's does;
    asked for a batch, it counts the batch's running trials as bad ones -- the constant liar -- so
    it does not propose one point several times)."""
    import optuna

    if kind == "grid":
        return _grid_sampler()(space.grid(), seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, constant_liar=batch > 1)


@functools.cache
def _grid_sampler() -> type:
    """Optuna's GridSampler, less its ``study.stop()`` once every point has run: a call only
    ``optimize`` accepts (ask-and-tell raises on it); the trial loop counts the grid's trials itself."""
    import optuna

    class Grid(optuna.samplers.GridSampler):
        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            pass

    return Grid


def _trial_seed(seed: int, done: int, kind: str) -> int:
    """The sampler's seed before trial ``done + 1``. The grid keeps one seed: its order is a
    permutation drawn from it, and the trial number picks the point."""
    return seed if kind == "grid" else (seed * 1_000_003 + done) % (2**32)


def _suggest(trial: Any, d: Dimension) -> Any:
    if d.choices is not None:
        return trial.suggest_categorical(d.name, list(d.choices))
    if d.integer:
        return trial.suggest_int(d.name, int(d.low or 0), int(d.high or 0), step=int(d.step or 1), log=d.log)
    return trial.suggest_float(d.name, float(d.low or 0), float(d.high or 0), step=d.step, log=d.log)


def _run_study(
    setup: Setup,
    folder: Path,
    name: str,
    variant_of: Callable[[Mapping[str, Any]], Variant],
    runner: Runner,
    out: TextIO | None,
    batch: int = 1,
    population: bool = True,
) -> SearchResult:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize" if setup.direction == "maximize" else "minimize",
        load_if_exists=True,
        sampler=make_sampler(setup.sampler, setup.space, setup.seed, batch),
    )
    _requeue_interrupted(study, storage, TrialState)
    others = [s for s in storage.get_all_studies() if s.study_name != name]
    if others and out is not None and not study.get_trials(deepcopy=False):
        print(
            f"note: the spec, its data, the settings or cellgraph's code changed since the earlier search in "
            f"{folder}: a new study starts (the earlier one stays in journal.log)",
            file=out,
        )
    plan = RunPlan(setup.plan.seeds, setup.plan.epochs, setup.plan.steps, setup.plan.validation, folder / "runs")
    resumed = len(_rows(study, TrialState))
    if out is not None:
        dims = ", ".join(f"{d.name} {d.describe()}" for d in setup.space.dims)
        print(
            f"search {setup.spec}: {setup.trials} trials, {setup.sampler} sampler over {dims}; "
            f"ranking by {setup.metric} ({setup.direction[:3]})"
            + (f"; {resumed} done already in {folder}" if resumed else ""),
            file=out,
        )

    plan = replace(plan, population=population)

    def told(trial: Any, outcome: Outcome) -> None:
        """Tell the study a trained trial's outcome."""
        trial.set_user_attr("metrics", outcome.metrics)
        trial.set_user_attr("spread", outcome.spread)
        trial.set_user_attr("seconds", round(outcome.seconds, 3))
        trial.set_user_attr("trained", outcome.trained)
        if outcome.population:
            trial.set_user_attr("population", outcome.population)
        if outcome.error:
            trial.set_user_attr("error", outcome.error)
            study.tell(trial, state=TrialState.FAIL)
            return
        if setup.metric not in outcome.metrics:
            study.tell(trial, state=TrialState.FAIL)
            known = ", ".join(sorted(outcome.metrics)) or "none"
            raise SearchError(f"--metric {setup.metric}: the trials report no such figure; fix: pick one of {known}")
        value = outcome.metrics[setup.metric]
        if not math.isfinite(value):
            trial.set_user_attr("error", f"{setup.metric} is {value}")
            study.tell(trial, state=TrialState.FAIL)
            return
        study.tell(trial, value)

    def report() -> None:
        if out is not None:
            rows = _rows(study, TrialState)
            _report_line(rows[-1] if rows else None, rows, setup, out)

    def run_batch(count: int) -> None:
        """Ask ``count`` trials (the sampler re-seeded before each, as if they ran one by one), tell
        the invalid ones at once, train the valid ones in one runner call, tell each its outcome."""
        asked: list[tuple[Any, Variant]] = []
        done = len(_rows(study, TrialState))
        for i in range(count):
            study.sampler = make_sampler(
                setup.sampler, setup.space, _trial_seed(setup.seed, done + i, setup.sampler), batch
            )
            trial = study.ask()
            variant = variant_of({d.name: _suggest(trial, d) for d in setup.space.dims})
            trial.set_user_attr("arch", variant.arch)
            if variant.valid:
                asked.append((trial, variant))
                continue
            trial.set_user_attr("problems", variant.describe_problems())
            study.tell(trial, state=TrialState.PRUNED)
            report()
        if not asked:
            return
        if out is not None and len(asked) > 1:
            print(f"training {len(asked)} trials together ...", file=out, flush=True)
        try:
            outcomes = runner([v for _, v in asked], plan)
        except BaseException:  # Ctrl-C (or a crash): the batch's trials run again first next time
            for trial, _ in asked:
                trial.set_user_attr("interrupted", True)
                study.tell(trial, state=TrialState.FAIL)
            raise
        for n, ((trial, _), outcome) in enumerate(zip(asked, outcomes, strict=True)):
            try:
                told(trial, outcome)
            except SearchError:
                for later, _ in asked[n + 1 :]:
                    later.set_user_attr("interrupted", True)
                    study.tell(later, state=TrialState.FAIL)
                raise
            report()

    remaining = setup.trials - resumed
    try:
        while remaining > 0:
            count = min(batch, remaining)
            run_batch(count)
            remaining -= count
    finally:
        optuna.logging.set_verbosity(verbosity)
    trials = sorted(
        (_trial_of(_number(i, t, setup), t, setup.space) for i, t in enumerate(_rows(study, TrialState))),
        key=lambda t: t.number,
    )
    return SearchResult(
        trials, setup.metric, setup.direction, setup.sampler, folder, name, setup.space, resumed=resumed
    )


def _number(index: int, trial: Any, setup: Setup) -> int:
    """A row's trial number: the order it ran in; in a grid search, its point's place in the grid
    (the last param varying fastest), so a search resumed after Ctrl-C -- whose trials may run in
    another order -- ends with the same table."""
    if setup.sampler != "grid":
        return index + 1
    place = 0
    for d in setup.space.dims:
        choices = list(d.choices or ())
        value = trial.params.get(d.name)
        place = place * len(choices) + (choices.index(value) if value in choices else 0)
    return place + 1


def _rows(study: Any, state: Any) -> list[Any]:
    """The study's trials that are rows of the table: finished, and not stopped by Ctrl-C."""
    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state in (state.COMPLETE, state.PRUNED) or (t.state == state.FAIL and not t.user_attrs.get("interrupted"))
    ]


def _requeue_interrupted(study: Any, storage: Any, state: Any) -> None:
    """Trials stopped by Ctrl-C (or left running by a killed process) run again first, same params."""
    trials = study.get_trials(deepcopy=False)
    waiting = {json.dumps(t.params, sort_keys=True) for t in trials if t.state == state.WAITING}
    finished = {json.dumps(t.params, sort_keys=True) for t in _rows(study, state)}
    for t in trials:
        if t.state == state.RUNNING:
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            storage.set_trial_state_values(t._trial_id, state.FAIL)
        elif not (t.state == state.FAIL and t.user_attrs.get("interrupted")):
            continue
        key = json.dumps(t.params, sort_keys=True)
        if t.params and key not in waiting and key not in finished:
            study.enqueue_trial(dict(t.params))
            waiting.add(key)


def _trial_of(number: int, t: Any, space: Space) -> Trial:
    attrs = t.user_attrs
    state = (
        "complete"
        if t.value is not None and t.state.name == "COMPLETE"
        else "invalid"
        if t.state.name == "PRUNED"
        else "failed"
    )
    return Trial(
        number,
        {d.name: t.params.get(d.name) for d in space.dims},
        state,
        t.value if state == "complete" else None,
        dict(attrs.get("metrics", {})),
        dict(attrs.get("spread", {})),
        float(attrs.get("seconds", 0.0)),
        str(attrs.get("problems") or attrs.get("error") or ""),
        str(attrs.get("arch", "")),
        int(attrs.get("population", 0)),
    )


def _report_line(t: Any, rows: Sequence[Any], setup: Setup, out: TextIO) -> None:
    if t is None:
        return
    n = len(rows)
    head = f"[{n}/{setup.trials}] {_point(t.params)}"
    if t.state.name == "PRUNED":
        first = str(t.user_attrs.get("problems", "")).splitlines()[:1]
        body = "invalid: " + (first[0] if first else "")
    elif t.state.name == "FAIL":
        body = "failed: " + str(t.user_attrs.get("error", ""))
    else:
        size = int(t.user_attrs.get("population", 0))
        how = f", in a population of {size}" if size else ""
        took = (
            "read back" if t.user_attrs.get("trained") == 0 else f"{float(t.user_attrs.get('seconds', 0)):.1f} s{how}"
        )
        body = f"{setup.metric} {t.value:.4g} ({took})"
    done = [
        (r.value, _number(i, r, setup))
        for i, r in enumerate(rows)
        if r.state.name == "COMPLETE" and r.value is not None
    ]
    if done:
        sign = 1 if setup.direction == "maximize" else -1
        value, number = max(done, key=lambda x: (sign * x[0], -x[1]))
        body += f" | best {value:.4g} (trial {number})"
    print(f"{head}: {body}", file=out, flush=True)
