"""The loss and metrics a spec asks for, as one pure function of (params, batch, key).

Defaults follow the output cells (SPEC.md): a softmax output is scored with cross-entropy on
integer labels (from its logits, for numerical stability), a sigmoid output with binary
cross-entropy, anything else with mean squared error; a match-input-output cell is scored
against the clean value of the input it reconstructs (a noisy input's target is the data before
corruption). ``elbo`` adds the KL terms of Gaussian probabilistic cells; ``reconstruction`` may add
two sparsity penalties on the sigmoid hidden groups (sparse autoencoders): a KL penalty that holds
each unit's mean activation at ``sparsity`` (``sparsity_weight``), and a per-input log penalty that
lets only a few units be on for any one input (``activity_weight``, see :data:`ACTIVITY_SCALE`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import optax

Array = jax.Array

ACTIVITY_SCALE: Final = 0.01
"""ε of the per-input sparsity penalty ``Σ_j log(1 + h_j / ε)`` (``activity_weight``).

The KL term alone constrains only each unit's *mean* over the data, which a dense code meets: every
unit at about ``sparsity`` on every input, read out by large decoder weights (measured on ZOO.md's
SAE task: no unit above 0.14, 14 of 32 above 0.05 on each input). The log penalty, the log-sum
sparsity measure of Candès, Wakin & Boyd (2008), grows linearly below ε and only logarithmically
above it, so a faint unit costs as much as a strongly active one: units are driven to be either
off (≪ ε) or clearly on, an L0-like code. ε = 0.01, a fifth of the usual ρ = 0.05, sits below the
activation of an active unit and above the tail of an inactive sigmoid.
"""


def _loss_config(train: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    loss = train.get("loss")
    if isinstance(loss, Mapping):
        return str(loss.get("name")), {k: v for k, v in loss.items() if k != "name"}
    return (str(loss) if loss is not None else None), {}


def _default_loss(activation: str) -> str:
    return {"softmax": "cross_entropy", "log_softmax": "cross_entropy", "sigmoid": "bce"}.get(activation, "mse")


def _classify(out: Array, activation: str) -> Array:
    """Predicted class ids: argmax of several units, or a threshold on one."""
    if out.shape[-1] > 1:
        return jnp.argmax(out, axis=-1)
    cut = 0.0 if activation in ("linear", "tanh", "sign") else 0.5
    return (out[..., 0] > cut).astype(jnp.int32)


def _labels_like(y: Array, out: Array) -> Array:
    """Float targets shaped like the output (regression, or one sigmoid unit)."""
    y = jnp.asarray(y, out.dtype)
    return y.reshape(out.shape)


def make_loss(
    graph: nx.DiGraph,
    forward: Callable[..., tuple[dict[str, Array], dict[str, Any]]],
    sources: tuple[str, ...],
    outputs: tuple[str, ...],
) -> Callable[[Any, Mapping[str, Any], Array | None], tuple[Array, dict[str, Array]]]:
    """Build ``loss(params, batch, key) -> (scalar, metrics)``; a key means training mode."""
    spec = graph.graph["spec"]
    train = dict(spec.train)
    name, opts = _loss_config(train)
    wanted = list(train.get("metrics") or [])
    wanted = [wanted] if isinstance(wanted, str) else wanted
    target = train.get("target")
    tolerance = float(train.get("tolerance") or 0.04)
    node = graph.nodes

    supervised, recon = [], []
    for o in outputs:
        if target is not None and o != target:
            continue
        goal = node[o]["options"].get("target")
        if node[o]["type"] == "match_input_output" and goal != "labels":
            recon.append((o, goal or opts.get("target") or _first_source(graph, o, sources)))
        elif goal not in (None, "labels"):
            recon.append((o, goal))
        else:
            supervised.append(o)
    gaussian = [
        n
        for n in graph.nodes
        if node[n]["type"] == "probabilistic_hidden" and node[n]["options"].get("distribution") == "gaussian"
    ]
    sparse_groups = [
        n for n in graph.nodes if node[n]["type"] == "hidden" and node[n]["options"].get("activation") == "sigmoid"
    ]

    def loss_fn(params: Any, batch: Mapping[str, Any], key: Array | None) -> tuple[Array, dict[str, Array]]:
        values, aux = forward(params, batch["x"], key=key, train=key is not None)
        total = jnp.zeros((), jnp.float32)
        metrics: dict[str, Array] = {}
        for o in supervised:
            act = node[o]["options"].get("activation", "linear")
            kind = name if name not in (None, "reconstruction", "elbo", "none") else _default_loss(act)
            out, pre = values[o], aux[f"{o}~pre"]
            y = batch["y"]
            if kind == "cross_entropy":
                labels = jnp.asarray(y).astype(jnp.int32).reshape(out.shape[:-1])
                smooth = float(opts.get("label_smoothing", 0.0))
                if smooth:
                    onehot = optax.smooth_labels(jax.nn.one_hot(labels, out.shape[-1]), smooth)
                    part = optax.softmax_cross_entropy(pre, onehot).mean()
                else:
                    part = optax.softmax_cross_entropy_with_integer_labels(pre, labels).mean()
            elif kind == "bce":
                part = (
                    optax.sigmoid_binary_cross_entropy(pre, _labels_like(y, out)).mean()
                    if act == "sigmoid"
                    else _bce(out, _labels_like(y, out))
                )
            elif kind == "mae":
                part = jnp.abs(out - _labels_like(y, out)).mean()
            elif kind == "huber":
                part = optax.huber_loss(out, _labels_like(y, out), float(opts.get("delta", 1.0))).mean()
            else:
                part = jnp.square(out - _labels_like(y, out)).mean()
            total = total + part
            # softmax is monotonic: classes from the logits, so the softmax itself is never computed
            monotonic = act in ("softmax", "log_softmax") and kind == "cross_entropy" and out.shape[-1] > 1
            scores = pre if monotonic else out
            metrics.update(_supervised_metrics(wanted, out, y, act, kind, tolerance, scores))
        for o, goal in recon:
            out, clean = values[o], aux[goal] if goal in aux else values[goal]
            clean = clean.reshape(out.shape)
            error = opts.get("error") or ("bce" if node[o]["options"].get("activation") == "sigmoid" else "mse")
            if error == "bce":
                pre = aux[f"{o}~pre"]
                per = (
                    optax.sigmoid_binary_cross_entropy(pre, clean)
                    if node[o]["options"].get("activation") == "sigmoid"
                    else _bce(out, clean)
                )
            else:
                per = jnp.square(out - clean)
            per_example = per.reshape(per.shape[0], -1).sum(axis=-1)
            part = per_example.mean() if name == "elbo" else per.mean()
            total = total + part
            metrics["reconstruction_error"] = jnp.square(out - clean).mean()
            if "argmax_accuracy" in wanted:
                metrics["argmax_accuracy"] = (
                    jnp.argmax(out.reshape(out.shape[0], -1), -1) == jnp.argmax(clean.reshape(clean.shape[0], -1), -1)
                ).mean()
            if "mse" in wanted:
                metrics["mse"] = jnp.square(out - clean).mean()
        if name == "elbo" and gaussian:
            kl = sum((aux[f"{g}~pre"]["kl"] for g in gaussian), jnp.zeros(()))
            kl = jnp.mean(kl)
            total = total + float(opts.get("beta", 1.0)) * kl
            metrics["kl"] = kl
            metrics["elbo"] = -total
        weight = float(opts.get("sparsity_weight", 0.0))
        if weight > 0 and sparse_groups:
            rho = float(opts.get("sparsity", 0.05))
            penalty = jnp.zeros(())
            for g in sparse_groups:
                rho_hat = jnp.clip(values[g].reshape(values[g].shape[0], -1).mean(axis=0), 1e-6, 1 - 1e-6)
                penalty = penalty + jnp.sum(
                    rho * jnp.log(rho / rho_hat) + (1 - rho) * jnp.log((1 - rho) / (1 - rho_hat))
                )
                metrics[f"mean_activation:{g}"] = rho_hat.mean()
            total = total + weight * penalty
        activity_weight = float(opts.get("activity_weight", 0.0))
        if activity_weight > 0 and sparse_groups:
            activity = jnp.zeros(())
            for g in sparse_groups:
                code = values[g].reshape(values[g].shape[0], -1)
                activity = activity + jnp.log1p(code / ACTIVITY_SCALE).sum(axis=-1).mean()
            total = total + activity_weight * activity
        metrics["loss"] = total
        return total, metrics

    return loss_fn


def _first_source(graph: nx.DiGraph, node: str, sources: tuple[str, ...]) -> str:
    origin = graph.nodes[node]["origin"]
    same = [s for s in sources if graph.nodes[s]["origin"] == origin]
    return (same or list(sources))[0]


def _bce(p: Array, y: Array) -> Array:
    p = jnp.clip(p, 1e-7, 1 - 1e-7)
    return -(y * jnp.log(p) + (1 - y) * jnp.log1p(-p))


def _supervised_metrics(
    wanted: list[str], out: Array, y: Any, act: str, kind: str, tolerance: float, scores: Array
) -> dict[str, Array]:
    metrics: dict[str, Array] = {}
    classification = kind in ("cross_entropy", "bce") or act in ("step", "sign")
    if classification or "accuracy" in wanted:
        labels = jnp.asarray(y).reshape(-1)
        pred = _classify(scores, act).reshape(-1)
        metrics["accuracy"] = (pred == labels.astype(pred.dtype)).mean()
    if not classification or out.shape[-1] == 1:
        # errors need targets shaped like the output: regression, or one unit per example or
        # step (a sigmoid probability, a step output), where they are asked for by name
        err = out - _labels_like(y, out)
        if not classification or "mse" in wanted:
            metrics["mse"] = jnp.square(err).mean()
        if "mae" in wanted:
            metrics["mae"] = jnp.abs(err).mean()
        if "rmse" in wanted:
            metrics["rmse"] = jnp.sqrt(jnp.square(err).mean())
        if "within_tolerance" in wanted:
            metrics["within_tolerance"] = (jnp.abs(err) < tolerance).reshape(err.shape[0], -1).all(axis=-1).mean()
    return metrics
