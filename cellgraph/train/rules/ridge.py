"""Ridge read-outs of fixed reservoirs: collect states, discard a washout, solve once (ESN, LSM).

An echo state network or a liquid state machine keeps its reservoir as drawn; only the output
weights are learned, by ridge regression of the targets on the states that feed the output
(Jaeger 2001; Maass et al. 2002): ``beta = ([H 1]^T [H 1] + alpha I)^-1 [H 1]^T T``. The states
are collected in one jitted pass over the training set. With ``teacher_forcing`` the output's
feedback edges (``y ~> r``) read the true previous target while collecting, as the network
will read its own (by then accurate) output when it runs free; the first ``washout`` steps of
every sequence are dropped (the reservoir's initial transient).

The rule is the one-shot adapter (:func:`.protocol.one_shot`): one update on the whole training
set, solved on the host in float64 by the solver the least-squares rule uses too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...compiler import Model
from ...compiler.executor import Values
from ..state import TrainingError
from ..step import Batch
from .least_squares import readout_params, readout_targets, solve_readout
from .protocol import Rule, RunInfo, one_shot, program_of


def ridge(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """The read-out weights of every output in one ridge solve; every other group keeps its values."""
    alpha, washout, forcing = float(cfg["alpha"]), int(cfg["washout"]), bool(cfg["teacher_forcing"])
    collect = program_of(info, "collect", make_collector(model, forcing))

    def fit(params: dict, batch: Batch) -> dict:
        values = collect(params, batch["inputs"], batch["targets"])
        return fit_ridge(model, params, values, batch["targets"], alpha=alpha, washout=washout, classes=info.classes)

    return one_shot(model, fit, info)


def make_collector(model: Model, forcing: bool) -> Callable[..., Values]:
    """``(params, inputs, targets) -> every group's values`` in one pass (not jitted); with ``forcing``
    the fed-back outputs' delayed edges read the targets one step late (teacher forcing)."""
    plan = model.plan
    fed_back = [o for o in plan.outputs if any(o in us for us in plan.delayed.values())] if forcing else []

    def collect(params: Any, inputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Values:
        if not fed_back:
            return model.forward(params, dict(inputs))[0]
        missing = [o for o in fed_back if o not in targets]
        if missing:
            raise TrainingError(
                f"teacher forcing feeds back the targets of {', '.join(missing)}, and the data hold none"
            )
        teacher = {o: jnp.swapaxes(jnp.asarray(targets[o]), 0, 1) for o in fed_back}  # (time, batch, ...)

        def hook(t: jax.Array, fed: Values, prev: Values) -> tuple[Values, Values]:
            told = {o: teacher[o][jnp.maximum(t - 1, 0)].reshape(prev[o].shape) for o in fed_back}
            return fed, {**prev, **{o: jnp.where(t > 0, told[o], prev[o]) for o in fed_back}}

        return model.forward(params, dict(inputs), hook=hook)[0]

    return collect


def fit_ridge(
    model: Model,
    params: dict,
    values: Mapping[str, Any],
    targets: Mapping[str, Any],
    *,
    alpha: float,
    washout: int = 0,
    classes: int | None = None,
    outputs: tuple[str, ...] | None = None,
) -> dict:
    """Solve each trained output's weights (of ``outputs``, default all) on the collected
    ``values`` of the groups feeding it.

    Raises:
        TrainingError: the washout leaves no step of the sequences to fit.
    """
    plan = model.plan
    params = {k: dict(v) for k, v in params.items()}
    for out in model.targets if outputs is None else outputs:
        feeders = plan.ports[out][plan.infos[out].cell.main_port]
        states = [np.asarray(values[u], np.float64) for u in feeders]
        t = np.asarray(targets[out])
        n_out = math.prod(plan.infos[out].out_shape)
        if plan.timed[out]:  # (batch, time, ...): drop the washout, then every step is a row
            steps = states[0].shape[1]
            if washout >= steps:
                raise TrainingError(
                    f"train.washout: {washout} steps discarded of sequences of {steps}; fix: a washout below {steps}"
                )
            states = [s[:, washout:].reshape(-1, math.prod(s.shape[2:])) for s in states]
            t = t[:, washout:]
        h = np.concatenate([s.reshape(len(s), -1) for s in states], axis=1)
        target = readout_targets(t.reshape(-1) if t.ndim > 1 and t.size == len(h) else t, n_out, classes)
        params[out] = {**params[out], **readout_params(solve_readout(h, target.reshape(len(h), n_out), alpha))}
    return params


__all__ = ["fit_ridge", "make_collector", "ridge"]
