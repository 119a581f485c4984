"""Train with the network's own rule instead of backprop (``train.rule`` in the spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from ...compiler import Model
from ..state import TrainingError
from .least_squares import fit_least_squares
from .perceptron import fit_perceptron

RULES_HERE = ("perceptron", "least_squares")


def evaluate(model: Model, params: Any, x: Any, y: Any) -> dict[str, float]:
    """The spec's metrics on a whole split, in evaluation mode (no noise, no sampling)."""
    batch = {"x": x} if y is None else {"x": x, "y": y}
    _, metrics = jax.jit(model.loss)(params, batch, None)
    return {k: float(v) for k, v in metrics.items()}


def train_by_rule(
    model: Model, train_cfg: Mapping[str, Any], data: Any, *, seed: int | None, epochs: int | None
) -> Any:
    """Fit ``model`` with the rule its spec names; returns a :class:`~cellgraph.train.TrainResult`."""
    from ..loop import TrainResult

    rule = train_cfg.get("rule")
    seed = int(train_cfg.get("seed", 0) if seed is None else seed)
    x, y = np.asarray(data.x_train), None if data.y_train is None else np.asarray(data.y_train)
    if rule == "perceptron":
        n_epochs = int(epochs or train_cfg.get("epochs") or 10)
        params, mistakes = fit_perceptron(
            model,
            x,
            y,
            eta=float(train_cfg.get("eta", 1.0)),
            epochs=n_epochs,
            shuffle=bool(train_cfg.get("shuffle", True)),
            seed=seed,
        )
        history = [
            {"epoch": e + 1, "step": (e + 1) * len(x), "train_mistakes": float(m)} for e, m in enumerate(mistakes)
        ]
        steps = n_epochs * len(x)
    elif rule == "least_squares":
        params = fit_least_squares(
            model,
            model.init(jax.random.key(seed)),
            x,
            y,
            ridge=float(train_cfg.get("ridge", 0.0)),
            centres=str(train_cfg.get("centres", "data")),
            classes=getattr(data, "classes", None),
            seed=seed,
        )
        history, steps = [], 1
    else:
        raise TrainingError(f"train.rule {rule!r}: its trainer arrives with later work; `rule: backprop` trains now")
    x_test = getattr(data, "x_test", None)
    if x_test is not None and len(x_test):
        metrics = evaluate(model, params, np.asarray(x_test), None if data.y_test is None else np.asarray(data.y_test))
    else:
        metrics = evaluate(model, params, x, y)
    if history:
        history[-1].update({f"test_{k}": v for k, v in metrics.items()})
    return TrainResult(params, history, metrics, steps)
