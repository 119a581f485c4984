"""An echo state network's own figure: the error of free-running prediction (Jaeger & Haas 2004).

A network with **output feedback** (a delayed edge out of its output, ``y ~> r``) that predicts
the next value of its input series is judged the way Jaeger & Haas judged theirs on Mackey-Glass:
from each of ``starts`` points of a series it is teacher-forced for ``warmup`` steps (the true
series fed to its input, the true previous value to its feedback), then runs free for ``horizon``
steps -- its own previous output fed to both -- and the error of the last of these predictions is
compared with the signal's variance:

    NRMSE84 = sqrt(mean over starts of (y_hat(n0 + 84) - d(n0 + 84))^2 / var(d)).

Every run is one row of one step-wise pass (:func:`~.executor.stepwise_forward` with a
:data:`~.executor.StepHook`), so the ``starts`` runs are a single batched ``lax.scan``.

:func:`make_scoring` is ``SCORINGS["ridge"]`` (:mod:`.networks`): networks trained by the ridge
rule *with* output feedback are scored this way; others (a liquid state machine's read-out) are
scored output by output, as usual.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from .executor import Forward, Plan, Values
from .networks import Scoring
from .protocol import Aux, CompileError

Array = jax.Array

STARTS: Final = 50
"""Start points of the free runs (ZOO.md 2.23)."""

HORIZON: Final = 84
"""Free-running steps when the data do not say (``data.horizon``): Jaeger & Haas's 84."""

WARMUP: Final = 100
"""Teacher-forced steps before each free run when the rule's ``washout`` is 0."""

METRICS: Final = ("nrmse", "rmse", "mse")
"""What the scoring reports, each of the last free-running prediction (step ``horizon``)."""


@dataclass(frozen=True)
class FreeRun:
    """How a network with output feedback runs free: its input fed by its output's previous value.

    Attributes:
        source: the input group the series feeds (the output's value stands in for it when free).
        output: the output group fed back through a delayed edge.
        warmup: teacher-forced steps before each free run.
        horizon: free-running predictions; the last is the one scored.
        starts: free runs per series.
    """

    source: str
    output: str
    warmup: int
    horizon: int
    starts: int = STARTS

    def windows(self, steps: int) -> np.ndarray:
        """The start points in a series of ``steps`` steps: index ``i`` is the first value predicted
        free (after inputs ``i - warmup .. i - 1``), evenly spread, at most :attr:`starts`.

        Raises:
            CompileError: the series is shorter than one warm-up and one free run.
        """
        last = steps - self.horizon + 1
        if last < self.warmup:
            raise CompileError(
                f"a free-running score needs {self.warmup} teacher-forced and {self.horizon} free steps, and the "
                f"series has {steps}; fix: give more steps (data `steps:`), or a shorter `washout:` or `horizon:`"
            )
        return np.unique(np.linspace(self.warmup, last, self.starts).round().astype(np.int64))


def free_run_of(graph: nx.DiGraph, plan: Plan) -> FreeRun | None:
    """The :class:`FreeRun` of a graph with one sequence input, one output of the input's size fed
    back through a delayed edge; None for any other graph."""
    outputs = [o for o in plan.outputs if any(o in us for us in plan.delayed.values())]
    sources = [s for s in plan.required if plan.timed[s]]
    if len(outputs) != 1 or len(plan.outputs) != 1 or len(sources) != 1 or len(plan.required) != 1:
        return None
    if math.prod(plan.fed[sources[0]]) != math.prod(plan.infos[outputs[0]].out_shape):
        return None
    spec = graph.graph["spec"]
    washout = int(spec.train.get("washout") or 0)
    horizon = int(dict(spec.data or {}).get("horizon") or HORIZON)
    return FreeRun(sources[0], outputs[0], washout or WARMUP, horizon)


def free_run(
    forward: Forward, run: FreeRun, params: Any, x: Array | np.ndarray, y: Array | np.ndarray
) -> tuple[Array, Array]:
    """Predictions and truth of every free run over series ``x`` (rows, T, in) with targets ``y``
    (rows, T, out), ``y[t]`` the value after ``x[t]``.

    Returns:
        (predicted, true), each (runs, warmup + horizon - 1, out): the outputs of each run's
        warm-up (teacher-forced one-step predictions) then its ``horizon`` free predictions; the
        last column is the ``horizon``-th free prediction.
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    steps = run.warmup + run.horizon - 1
    starts = run.windows(int(x.shape[1]))
    index = starts[:, None] - run.warmup + np.arange(steps)[None]  # (runs, steps)
    xs = x[:, index].reshape(-1, steps, *x.shape[2:])  # (rows * runs, steps, in)
    ys = y[:, index].reshape(-1, steps, *y.shape[2:])
    teacher = jnp.swapaxes(ys, 0, 1)  # (steps, runs, out)

    def hook(t: Array, fed: Values, prev: Values) -> tuple[Values, Values]:
        forced = t < run.warmup
        back = jnp.where(
            forced & (t > 0), teacher[jnp.maximum(t - 1, 0)].reshape(prev[run.output].shape), prev[run.output]
        )
        own = jnp.where(forced, fed[run.source], back.reshape(fed[run.source].shape))
        return {**fed, run.source: own}, {**prev, run.output: back}

    values, _ = forward(params, {run.source: xs}, hook=hook)
    predicted = values[run.output].reshape(ys.shape)
    return predicted, ys


def make_scoring(graph: nx.DiGraph, forward: Forward, plan: Plan) -> Scoring | None:
    """``SCORINGS["ridge"]``: free-running NRMSE for a network with output feedback, else None
    (scored output by output)."""
    run = free_run_of(graph, plan)
    if run is None:
        return None

    def scored(
        params: Any, batch: Mapping[str, Any], key: Array | None = None, state: Any = None
    ) -> tuple[Array, dict[str, Array], dict[str, Aux]]:
        y = jnp.asarray(batch["targets"][run.output])
        x = jnp.asarray(batch["inputs"][run.source])
        predicted, true = free_run(forward, run, params, x.reshape(*x.shape[:2], -1), y.reshape(*y.shape[:2], -1))
        mse = jnp.mean((predicted[:, -1] - true[:, -1]) ** 2)
        metrics = {"nrmse": jnp.sqrt(mse / jnp.var(y)), "rmse": jnp.sqrt(mse), "mse": mse}
        return mse, metrics, {n: Aux() for n in plan.order}

    return Scoring(scored, targets=(run.output,), metrics=METRICS)


__all__ = ["HORIZON", "METRICS", "STARTS", "WARMUP", "FreeRun", "free_run", "free_run_of", "make_scoring"]
