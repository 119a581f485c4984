"""Reservoir networks as their users look at them (``cellgraph view`` of `rule: ridge`).

* An **echo state network** with output feedback: a few of its free runs on the held-out series
  -- the true signal, the teacher-forced warm-up's tail and then the network running on its own
  output -- with the 84th free step marked, where NRMSE84 is measured (its value in the title).
* A **liquid state machine**: a raster of the liquid's spikes for one held-out example of each
  class (input spikes below, in their own colour), the read-out's verdict in each title.

Drawn like :mod:`cellgraph.figures` (Agg, a figure of its own, default style, no "Software" stamp).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..errors import CellgraphError
from . import trained

RUNS: Final = 3
"""Free runs drawn of the ESN's fifty."""

SHOWN_WARMUP: Final = 60
"""Teacher-forced steps drawn before each free run."""


def view(result: Any, path: str | os.PathLike[str], *, data: Any = None, **options: Any) -> Path:
    """Draw a trained reservoir network as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a `rule: ridge` spec.
        path: the PNG to write.
        data: a :class:`~cellgraph.data.Dataset` whose held-out part is drawn; default: the spec's
            ``data:`` block.

    Returns:
        The path written.

    Raises:
        CellgraphError: not a trained reservoir network, no data, or an unknown option.
    """
    from matplotlib import style

    from ..compiler.reservoir import free_run_of
    from ..figures import _save
    from ..sampling import reference_data

    model, params = trained(result, options, view="reservoir", takes="`data` alone", network="network")
    data = data if data is not None else reference_data(model.graph)
    if data is None or getattr(data, "x_test", None) is None:
        raise CellgraphError("the spec has no `data:` block with a held-out part: pass data=a Dataset")
    title = model.graph.graph["spec"].title or model.graph.graph["spec"].name
    run = free_run_of(model.graph, model.plan)
    liquids = _spiking_groups(model)
    with style.context("default"):
        if run is not None:
            return _save(_free_run_figure(model, params, run, data, title), path)
        if liquids:
            return _save(_raster_figure(model, params, liquids[0], data, title), path)
    raise CellgraphError(
        "the reservoir view draws an echo state network with output feedback (`y ~> r`) or a liquid of "
        "`spiking_hidden` cells; this network has neither"
    )


def _spiking_groups(model: Any) -> list[str]:
    from ..compiler.spiking import SPIKING

    return [n for n in model.plan.order if model.plan.fns[n] is SPIKING]


# ------------------------------------------------------------------------------------ ESN


def _free_run_figure(model: Any, params: Any, run: Any, data: Any, title: str) -> Any:
    import jax

    from ..compiler.reservoir import free_run
    from ..figures import _figure

    x = np.asarray(data.x_test, np.float32)
    y = np.asarray(data.y_test, np.float32)
    x, y = x.reshape(*x.shape[:2], -1), y.reshape(*y.shape[:2], -1)
    predicted, true = (np.asarray(a)[..., 0] for a in jax.jit(lambda p: free_run(model.forward, run, p, x, y))(params))
    nrmse = math.sqrt(float(np.mean((predicted[:, -1] - true[:, -1]) ** 2)) / float(np.var(y)))
    starts = run.windows(x.shape[1])
    picks = np.linspace(0, len(starts) - 1, RUNS).round().astype(int)
    fig = _figure(10.0, 2.3 * RUNS)
    axes = fig.subplots(RUNS, 1, sharey=True)
    first = run.warmup - 1  # the column of the first free prediction
    shown = slice(max(0, first - SHOWN_WARMUP), None)
    for ax, k in zip(np.atleast_1d(axes), picks, strict=True):
        steps = np.arange(predicted.shape[1])[shown] - first + 1  # 1 = the first free step
        ax.plot(steps, true[k, shown], color="0.75", lw=4.0, label="true series")
        forced = steps <= 0
        ax.plot(steps[forced], predicted[k, shown][forced], color="#1f77b4", lw=1.2, ls="--", label="teacher-forced")
        ax.plot(steps[~forced], predicted[k, shown][~forced], color="#d62728", lw=1.2, label="running free")
        ax.axvline(0.5, color="0.6", lw=0.8)
        ax.axvline(run.horizon, color="#d62728", lw=0.8, ls=":")
        err = predicted[k, -1] - true[k, -1]
        ax.plot([run.horizon], [predicted[k, -1]], "o", color="#d62728", ms=4)
        ax.set_title(
            f"start {int(starts[k])} of the held-out series: error at step {run.horizon} = {err:+.2e}", fontsize=9
        )
        ax.set_ylabel("u(t)")
    bottom = np.atleast_1d(axes)[-1]
    bottom.set_xlabel(f"step (1..{run.horizon}: free-running prediction; dotted: step {run.horizon})")
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=8, ncol=3)
    fig.suptitle(
        f"{title}: NRMSE{run.horizon} = {nrmse:.4f} over {len(starts)} free runs (teacher-forced warm-up {run.warmup})",
        fontsize=11,
    )
    return fig


# ------------------------------------------------------------------------------------ LSM


def spike_trains(model: Any, params: Any, group: str, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the spikes of spiking ``group``, (batch, time, cells) 0/1, and the outputs' values at the
    last step) for inputs ``x``: the same network with the group passing on every step, its
    filtered trains turned back into spikes."""
    import jax

    from ..compiler.model import compile_graph
    from ..compiler.spiking import Lif
    from ..graph.shapes import mark_timed

    graph = model.graph.copy()
    graph.nodes[group]["options"] = {**graph.nodes[group]["options"], "emit": "sequence"}
    mark_timed(graph)  # the group's readers now see every step; the dynamics are the same
    values, _ = jax.jit(compile_graph(graph).forward)(params, x)
    trains = np.asarray(values[group], np.float64)
    lif = Lif.of(graph.nodes[group]["options"])
    if lif.trace_decay is not None:  # trace(t) = decay trace(t - 1) + spike(t)
        before = np.concatenate([np.zeros_like(trains[:, :1]), trains[:, :-1]], axis=1)
        trains = trains - lif.trace_decay * before
    return np.round(trains).astype(np.int8), {o: np.asarray(values[o])[:, -1] for o in model.plan.outputs}


def _raster_figure(model: Any, params: Any, group: str, data: Any, title: str) -> Any:
    from ..figures import _figure

    x, labels = np.asarray(data.x_test, np.float32), np.asarray(data.y_test)
    classes = sorted(int(c) for c in np.unique(labels))
    picks = [int(np.flatnonzero(labels == c)[0]) for c in classes]
    spikes, outs = spike_trains(model, params, group, x[picks])
    scores = next(iter(outs.values()))
    dt = float(model.graph.nodes[group]["options"].get("dt", 1.0))
    fig = _figure(5.0 * len(picks), 5.5)
    grid = fig.subplots(2, len(picks), sharex=True, sharey="row", gridspec_kw={"height_ratios": [1, 4]})
    grid = np.asarray(grid).reshape(2, len(picks))
    channels = x.shape[-1]
    for k, c in enumerate(classes):
        top, ax = grid[0, k], grid[1, k]
        ti, ch = np.nonzero(x[picks[k]].reshape(x.shape[1], -1))
        top.scatter(ti * dt, ch, s=40, marker="|", color="#1f77b4")
        top.set_ylim(-0.5, channels - 0.5)
        top.set_yticks(range(channels))
        rate = spikes[k].mean() * 1000.0 / dt
        verdict = int(np.argmax(scores[k])) if np.size(scores[k]) > 1 else None
        said = f"; the read-out says {verdict}" if verdict is not None else ""
        top.set_title(f"class {c}: liquid fires at {rate:.1f} Hz on average{said}", fontsize=10)
        t, cell = np.nonzero(spikes[k])
        ax.scatter(t * dt, cell, s=6, marker="|", color="#2ca02c")
        ax.set_xlabel("time (ms)")
        ax.set_xlim(0, x.shape[1] * dt)
        ax.set_ylim(-1, spikes.shape[-1])
    grid[0, 0].set_ylabel("input channel")
    grid[1, 0].set_ylabel(f"liquid '{group}' cell")
    fig.suptitle(f"{title}: spikes of one held-out example per class", fontsize=11)
    return fig


__all__ = ["spike_trains", "view"]
