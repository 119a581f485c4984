"""Read-outs in one solve: beta = pinv([H 1]) T, or ridge (H^T H + lambda I)^-1 H^T T.

For networks whose hidden layers stay fixed (RBF with placed centres, ELM with random weights),
only the output weights are learned, by linear least squares on the features that feed the
output (Broomhead & Lowe 1988; Huang et al. 2006). Fixed radial units are first centred on
training points (``centres: data``) or on an even grid over the inputs' range (``grid``).

The rule is the one-shot adapter (:func:`.protocol.one_shot`) over :func:`fit_least_squares`: one
update on the whole training set, solved on the host in float64.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from ...compiler import Model
from ...graph.checks import forward_graph
from ..step import Batch
from .protocol import Rule, RunInfo, one_shot


def least_squares(model: Model, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """The output weights in one solve; the groups before the output keep their (fixed) values."""
    ridge, centres, seed = float(cfg["ridge"]), str(cfg["centres"]), int(cfg["seed"])

    def fit(params: dict, batch: Batch) -> dict:
        inputs = {k: np.asarray(v) for k, v in batch["inputs"].items()}
        x = inputs[model.inputs[0]] if len(inputs) == 1 else inputs
        y = np.asarray(batch["targets"][model.outputs[0]])  # the output group it solves for
        return fit_least_squares(model, params, x, y, ridge=ridge, centres=centres, classes=info.classes, seed=seed)

    return one_shot(model, fit, info)


def _place_centres(model: Model, params: dict, x: np.ndarray | Mapping[str, np.ndarray], how: str, seed: int) -> dict:
    graph = model.graph
    params = {k: dict(v) for k, v in params.items()}
    values, _ = model.forward(params, x)
    for n, p in params.items():
        if "centres" not in p or how == "init":
            continue
        fwd = [u for u in forward_graph(graph).predecessors(n)]
        rows = len(next(iter(x.values())) if isinstance(x, Mapping) else x)
        feats = np.concatenate([np.asarray(values[u]).reshape(rows, -1) for u in fwd], axis=1)  # (n, in)
        k = p["centres"].shape[1]
        if how == "grid":
            lo, hi = feats.min(axis=0), feats.max(axis=0)
            per_axis = max(1, math.ceil(k ** (1 / feats.shape[1])))
            axes = [np.linspace(a, b, per_axis) for a, b in zip(lo, hi, strict=True)]
            grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, feats.shape[1])[:k]
            centres = grid
        else:
            unique = np.unique(feats, axis=0)
            pick = np.random.default_rng(seed).permutation(len(unique))[:k]
            centres = unique[pick]
            if len(centres) < k:  # fewer distinct points than units: repeat
                centres = np.resize(centres, (k, feats.shape[1]))
        p["centres"] = jnp.asarray(centres.T, jnp.float32)  # (in, k)
    return params


def fit_least_squares(
    model: Model,
    params: dict,
    x: np.ndarray | Mapping[str, np.ndarray],
    y: np.ndarray,
    *,
    ridge: float = 0.0,
    centres: str = "data",
    classes: int | None = None,
    seed: int = 0,
) -> dict:
    """Solve the output group's weights; everything before it keeps its (fixed) values."""
    graph = model.graph
    out = model.outputs[0]
    params = _place_centres(model, params, x, centres, seed)
    values, _ = model.forward(params, x)
    rows = len(y)
    fwd = [u for u in forward_graph(graph).predecessors(out)]
    h = np.concatenate([np.asarray(values[u], np.float64).reshape(rows, -1) for u in fwd], axis=1)
    n_out = math.prod(graph.nodes[out]["shape"])
    t = readout_targets(y, n_out, classes).reshape(len(h), n_out)
    params[out] = readout_params(solve_readout(h, t, ridge))
    return params


def readout_targets(y: np.ndarray, n_out: int, classes: int | None) -> np.ndarray:
    """The targets as float64 values per output unit: class ids become one-hot rows when the
    output has one unit per class (a linear classifier)."""
    t = np.asarray(y, np.float64)
    if classes is not None and n_out == classes and t.ndim == 1:
        t = np.eye(classes)[t.astype(int)]
    return t


def solve_readout(h: np.ndarray, t: np.ndarray, ridge: float) -> np.ndarray:
    """``beta`` (features + 1, outputs) minimising ``|[h 1] beta - t|^2 + ridge |beta|^2`` in
    float64: the normal equations with the penalty, or the pseudo-inverse when ``ridge`` is 0.
    The last row is the bias (a constant feature). Both read-out rules solve here."""
    h1 = np.concatenate([np.asarray(h, np.float64), np.ones((len(h), 1))], axis=1)
    if ridge > 0:
        return np.linalg.solve(h1.T @ h1 + ridge * np.eye(h1.shape[1]), h1.T @ np.asarray(t, np.float64))
    return np.linalg.lstsq(h1, np.asarray(t, np.float64), rcond=None)[0]


def readout_params(beta: np.ndarray) -> dict:
    """A dense output group's parameters from a solved ``beta`` (bias last)."""
    return {"kernel": jnp.asarray(beta[:-1], jnp.float32), "bias": jnp.asarray(beta[-1], jnp.float32)}


__all__ = ["fit_least_squares", "least_squares", "readout_params", "readout_targets", "solve_readout"]
