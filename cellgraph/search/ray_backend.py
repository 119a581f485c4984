"""The Ray Tune backend: Ray runs the trials, on this machine or on a cluster; Optuna still samples.

``search(..., backend="ray")`` hands the trial loop to ``ray.tune.Tuner``: its searcher is
Ray's ``OptunaSearch`` built with the very sampler the local backend uses, over the same space
(asked define-by-run, so a step, a log scale and a choice mean what they mean locally). Each point
is validated here, on the driver, before Ray sees it: an invalid one is told to Optuna as pruned,
as the local backend does, and becomes an `invalid` row with its located problems; it is never
sent to a worker. A worker loads the spec again with the point's params (the spec and its data
files must therefore be at the same path on every node: a shared folder, or the same checkout) and
trains it with :func:`~cellgraph.search.runner.train_variants`, into the same keyed ``runs/``
folder, so a search run again evaluates its finished runs instead of training them again.

The rows come back as the same :class:`~cellgraph.search.records.Trial` records, so the report is
the local one. Ray is an optional extra (``pip install 'cellgraph[ray]'``), imported only here and
only when this backend runs.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from ..spec.limits import Limits
from .records import SearchResult, Trial
from .runner import RunPlan
from .space import SearchError
from .variants import Variant

INSTALL: Final = "--backend ray needs Ray Tune: pip install 'cellgraph[ray]'"
CONNECT_TIMEOUT_S: Final = 5.0
QUIET_LOGGERS: Final = ("ray", "ray.tune", "ray.tune.search.optuna.optuna_search")


def require_ray() -> None:
    """Raise the install hint (a SearchError, never a traceback) when Ray Tune cannot be imported."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401
    except ImportError as err:
        raise SearchError(f"{INSTALL} ({err})") from None


@dataclass(frozen=True)
class Job:
    """What a worker needs to rebuild and train a point: small and picklable (no graph, no data)."""

    spec: str
    base: dict[str, Any]
    limits: Limits
    plan: RunPlan
    metric: str


def train_point(config: dict[str, Any], *, job: Job) -> None:
    """Ray's function trainable: load the point's variant, train it once per seed, report once.

    The searched metric is always reported (NaN when the run failed) because Tune checks that it is
    there; ``error`` says why, and the driver records such a trial as failed.
    """
    from ray import tune

    from .runner import train_variants
    from .variants import make_variant

    variant = make_variant(job.spec, config, job.base, job.limits)
    if not variant.valid:  # the driver validated it: only a node with other files gets here
        report: dict[str, Any] = {job.metric: math.nan, "error": variant.describe_problems(), "seconds": 0.0}
    else:
        outcome = train_variants([variant], job.plan)[0]
        report = {
            **outcome.metrics,
            "spread": dict(outcome.spread),
            "seconds": outcome.seconds,
            "error": outcome.error,
            "trained": outcome.trained,
        }
        if not outcome.error and job.metric not in outcome.metrics:
            known = ", ".join(sorted(outcome.metrics)) or "none"
            report["error"] = f"--metric {job.metric}: the trials report no such figure; fix: pick one of {known}"
        report.setdefault(job.metric, math.nan)
    tune.report(report)


@dataclass
class _Row:
    order: int  # 1, 2, ... in the order the points were proposed
    params: dict[str, Any]
    arch: str
    state: str = "running"
    value: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


def _validating_searcher(
    inner: Any, variant_of: Callable[[Mapping[str, Any]], Variant], total: int, on_row: Callable[[_Row], None]
) -> Any:
    """Wrap ``OptunaSearch`` so a point is validated before Ray gets it, and every row is kept here.

    Built in a function so that ``ray`` is imported only when this backend runs.
    """
    from ray.tune.search import Searcher

    class Validating(Searcher):
        def __init__(self) -> None:
            super().__init__(metric=inner.metric, mode=inner.mode)
            self.rows: list[_Row] = []
            self._inner_id: dict[str, str] = {}
            self._row: dict[str, _Row] = {}

        def set_search_properties(self, metric: Any, mode: Any, config: Any, **spec: Any) -> bool:
            return True  # the inner searcher was built with its space, metric and mode

        def suggest(self, trial_id: str) -> dict[Any, Any] | None:
            while len(self.rows) < total:
                inner_id = f"{trial_id}-{len(self.rows)}"
                point = inner.suggest(inner_id)
                if point is None or point == Searcher.FINISHED:
                    return point  # None (wait) or FINISHED, passed on
                variant = variant_of(point)
                row = _Row(len(self.rows) + 1, dict(point), variant.arch)
                self.rows.append(row)
                if variant.valid:
                    self._inner_id[trial_id], self._row[trial_id] = inner_id, row
                    return dict(point)
                inner.on_trial_complete(inner_id, None, error=False)  # Optuna: pruned, as locally
                row.state, row.error = "invalid", variant.describe_problems()
                on_row(row)
            return Searcher.FINISHED  # type: ignore[return-value]  # Tune's sentinel: no more trials

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            pass  # one report per trial, at its end: nothing for a pruner to see before

        def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
            row = self._row.get(trial_id)
            if row is None:
                return
            result = result or {}
            row.metrics = {k: float(v) for k, v in result.items() if _is_figure(k, v)}
            row.spread = _spread(result)
            row.seconds = float(result.get("seconds") or 0.0)
            value = result.get(inner.metric)
            row.error = str(result.get("error") or "")
            if error and not row.error:
                row.error = "the Ray trial stopped with an error (its log is under the search folder's ray/)"
            elif not row.error and (value is None or not math.isfinite(float(value))):
                row.error = f"{inner.metric} is {value}"
            if row.error:
                row.state = "failed"
                inner.on_trial_complete(self._inner_id[trial_id], None, error=True)
            else:
                row.state, row.value = "complete", float(value or 0.0)  # finite: checked above
                inner.on_trial_complete(self._inner_id[trial_id], {inner.metric: row.value})
            on_row(row)

        def save(self, checkpoint_path: str) -> None:
            pass  # no resume of the Tune experiment: the keyed runs/ folder spares finished runs

        def restore(self, checkpoint_path: str) -> None:
            pass

    return Validating()


RAY_KEYS: Final = frozenset({"seconds", "trained", "time_this_iter_s", "time_total_s", "timestamp", "pid"})


def _is_figure(key: str, value: Any) -> bool:
    """A cellgraph figure (``val_accuracy``...) among Ray's own result keys."""
    return (
        key.split("_", 1)[0] in ("train", "val", "test")
        and key not in RAY_KEYS
        and key != "training_iteration"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    )


def _spread(result: Mapping[str, Any]) -> dict[str, float]:
    """The reported ``spread`` dict, whether Ray passes it nested or flattened (``spread/val_loss``)."""
    nested = result.get("spread")
    items = dict(nested) if isinstance(nested, Mapping) else {}
    items.update({k.split("/", 1)[1]: v for k, v in result.items() if k.startswith("spread/")})
    return {k: float(v) for k, v in items.items()}


def run_ray_study(
    setup: Any,
    folder: Path,
    name: str,
    variant_of: Callable[[Mapping[str, Any]], Variant],
    sampler: Any,
    suggest: Callable[[Any, Any], Any],
    number: Callable[[int, Mapping[str, Any]], int],
    limits: Limits,
    address: str | None,
    out: TextIO | None,
) -> SearchResult:
    """Run ``setup.trials`` trials through Ray Tune and return them as the local backend's rows.

    ``address=None`` starts Ray on this machine with its CPUs (and stops it at the end); an address
    (``HOST:PORT``, ``ray://HOST:10001`` or ``auto``) joins that cluster. A Ray that this process
    started already (``ray.init`` before the search) is used as it is.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no experiment box: a line per trial, as locally
    import optuna
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    started = False
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}  # ray.init replaces them
    if address is not None and not ray.is_initialized():
        _check_reachable(address)
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        try:
            if address is None:
                ray.init(num_cpus=os.cpu_count() or 1, **options)
            else:
                ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise SearchError(
                f"--backend ray: cannot start {where}: {err}; fix: start the cluster with `ray start --head` and "
                "pass its address (--address HOST:6379), or leave --address out to run Ray on this machine"
            ) from None
        started = True
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    levels = {n: logging.getLogger(n).level for n in QUIET_LOGGERS}
    for n in QUIET_LOGGERS:
        logging.getLogger(n).setLevel(logging.ERROR)
    plan = RunPlan(
        setup.plan.seeds, setup.plan.epochs, setup.plan.steps, setup.plan.validation, (folder / "runs").resolve()
    )
    job = Job(str(Path(setup.spec).resolve()), dict(setup.base), limits, plan, setup.metric)
    mode = "max" if setup.direction == "maximize" else "min"
    inner = OptunaSearch(
        space=lambda trial: _define(trial, setup, suggest), metric=setup.metric, mode=mode, sampler=sampler
    )
    start = time.perf_counter()

    def on_row(row: _Row) -> None:
        if out is not None:
            _progress(row, searcher.rows, setup, number, out)

    searcher = _validating_searcher(inner, variant_of, setup.trials, on_row)
    if out is not None:
        where = address or f"a local Ray ({int(ray.cluster_resources().get('CPU', 0))} CPUs)"
        dims = ", ".join(f"{d.name} {d.describe()}" for d in setup.space.dims)
        print(
            f"search {setup.spec} through {where}: {setup.trials} trials, {setup.sampler} sampler over {dims}; "
            f"ranking by {setup.metric} ({setup.direction[:3]})",
            file=out,
        )
    try:
        tuner = tune.Tuner(
            tune.with_parameters(train_point, job=job),
            tune_config=tune.TuneConfig(search_alg=searcher, num_samples=-1),
            run_config=tune.RunConfig(name=name, storage_path=str((folder / "ray").resolve()), verbose=0),
        )
        tuner.fit()
    finally:
        optuna.logging.set_verbosity(verbosity)
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)
        if started:
            ray.shutdown()
            for sig, handler in handlers.items():  # Ctrl-C of a later cellgraph.train in this process
                if handler is not None:
                    signal.signal(sig, handler)
    unknown = [r.error for r in searcher.rows if r.error.startswith(f"--metric {setup.metric}:")]
    if unknown:
        raise SearchError(unknown[0])  # as the local backend says it (there, at the first trial)
    if any(r.state == "running" for r in searcher.rows):
        raise KeyboardInterrupt  # Tune stopped on Ctrl-C; the finished runs stay in runs/ for the rerun
    if out is not None:
        print(f"{len(searcher.rows)} trials through Ray in {time.perf_counter() - start:.1f} s", file=out)
    trials = sorted((_trial(number(r.order - 1, r.params), r, setup) for r in searcher.rows), key=lambda t: t.number)
    return SearchResult(trials, setup.metric, setup.direction, setup.sampler, folder, name, setup.space)


def _check_reachable(address: str) -> None:
    """A ``HOST:PORT`` that nothing answers at is said at once: Ray itself retries for minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # ``auto`` and other forms: Ray's own lookup
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise SearchError(
            f"--address {address}: no Ray cluster answers there ({err}); fix: start one with `ray start --head` "
            "on that host and pass the address it prints (HOST:6379), or leave --address out to run Ray here"
        ) from None


def _define(trial: Any, setup: Any, suggest: Callable[..., Any]) -> dict[str, Any]:
    """The define-by-run space: the local backend's suggestions, one per dimension."""
    return {d.name: suggest(trial, d) for d in setup.space.dims}


def _trial(number: int, row: _Row, setup: Any) -> Trial:
    state = row.state if row.state in ("complete", "invalid") else "failed"
    error = row.error or ("" if state != "failed" else "the trial did not finish")
    return Trial(
        number,
        {d.name: row.params.get(d.name) for d in setup.space.dims},
        state,
        row.value if state == "complete" else None,
        dict(row.metrics),
        dict(row.spread),
        round(row.seconds, 3),
        error,
        row.arch,
    )


def _progress(
    row: _Row, rows: list[_Row], setup: Any, number: Callable[[int, Mapping[str, Any]], int], out: TextIO
) -> None:
    point = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.params.items())
    if row.state == "invalid":
        body = "invalid: " + (row.error.splitlines() or [""])[0]
    elif row.state == "failed":
        body = "failed: " + row.error
    else:
        body = f"{setup.metric} {row.value:.4g} ({row.seconds:.1f} s)"
    done = sum(r.state != "running" for r in rows)
    scored = [r for r in rows if r.state == "complete" and r.value is not None]
    if scored:
        sign = 1 if setup.direction == "maximize" else -1
        value, best = max((sign * (r.value or 0.0), -number(r.order - 1, r.params)) for r in scored)
        body += f" | best {sign * value:.4g} (trial {-best})"
    print(f"[{done}/{setup.trials}] (ray) {point}: {body}", file=out, flush=True)
