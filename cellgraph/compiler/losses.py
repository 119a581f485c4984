"""The loss and metrics a spec asks for, as one pure function of (params, batch, key).

Defaults follow the output cells (SPEC.md): a softmax output is scored with cross-entropy on
integer labels (from its logits, for numerical stability), a sigmoid output with binary
cross-entropy, anything else with mean squared error; a match-input-output cell is scored
against the clean value of the input it reconstructs (a noisy input's target is the data before
corruption). ``elbo`` adds the KL terms of Gaussian probabilistic cells; ``reconstruction`` may add
two sparsity penalties on the sigmoid hidden groups (sparse autoencoders): a KL penalty that holds
each unit's mean activation at ``sparsity`` (``sparsity_weight``), and a per-input log penalty that
lets only a few units be on for any one input (``activity_weight``, see :data:`ACTIVITY_SCALE`).

Each name of ``graph/rules.py``'s ``LOSSES`` and ``METRICS`` that is implemented has its function
here under the same name (:data:`OUTPUT_LOSSES`, :data:`METRIC_FNS`), as Optax defines each alias
once; a planned name has none, and the loss refuses it with a located error when it is first
called (training or evaluation) -- never another loss in its place. A metric asked for where it is
not defined (``rmse`` of class labels, ``kl`` without ``loss: elbo``) is refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import optax

from ..errors import Problems, spec_error
from ..graph.checks import check_implemented, metric_names
from ..graph.fit import output_loss, own_loss, per_output_losses, supervised_outputs
from ..graph.rules import LOSSES, METRICS, PLANNED, Loss, Metric
from ..spec.load import format_path
from .capsule import lengths as capsule_lengths
from .factors import FactorClamp
from .protocol import Aux, CompileError

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


OutputLoss = Callable[[Array, Array, Any, str, Mapping[str, Any]], Array]
"""(pre-activation, output, labels or targets, activation, loss options) -> the output's loss."""


def _loss_config(train: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(the network's loss name, its options); (None, {}) for a loss written per output group."""
    loss = train.get("loss")
    if per_output_losses(train) is not None:
        return None, {}
    if isinstance(loss, Mapping):
        return str(loss.get("name")), {k: v for k, v in loss.items() if k != "name"}
    return (str(loss) if loss is not None else None), {}


def _classify(out: Array, activation: str) -> Array:
    """Predicted class ids: argmax of several units, or a threshold on one."""
    if out.shape[-1] > 1:
        return jnp.argmax(out, axis=-1)
    return (out[..., 0] > _cut(activation)).astype(jnp.int32)


def _cut(activation: str) -> float:
    """Where one unit's value turns from class 0 to class 1 (a bit from off to on)."""
    return 0.0 if activation in ("linear", "tanh", "sign") else 0.5


def _labels_like(y: Array, out: Array) -> Array:
    """Float targets shaped like the output (regression, or one sigmoid unit); class ids for an
    output with a unit per class become one-hot rows (a least-squares classifier's targets)."""
    y = jnp.asarray(y)
    if jnp.issubdtype(y.dtype, jnp.integer) and out.shape[-1] > 1 and y.size * out.shape[-1] == out.size:
        return jax.nn.one_hot(y.reshape(out.shape[:-1]), out.shape[-1], dtype=out.dtype)
    return y.astype(out.dtype).reshape(out.shape)


def _int_labels(y: Any, out: Array) -> Array:
    """Integer class ids, one per example (or step) of an output with a unit per class."""
    return jnp.asarray(y).astype(jnp.int32).reshape(out.shape[:-1])


def _cross_entropy(pre: Array, out: Array, y: Any, act: str, opts: Mapping[str, Any]) -> Array:
    labels = _int_labels(y, out)
    smooth = float(opts.get("label_smoothing", 0.0))
    if smooth:
        onehot = optax.smooth_labels(jax.nn.one_hot(labels, out.shape[-1]), smooth)
        return optax.softmax_cross_entropy(pre, onehot).mean()
    return optax.softmax_cross_entropy_with_integer_labels(pre, labels).mean()


def _bce_loss(pre: Array, out: Array, y: Any, act: str, opts: Mapping[str, Any]) -> Array:
    target = _labels_like(y, out)
    return optax.sigmoid_binary_cross_entropy(pre, target).mean() if act == "sigmoid" else _bce(out, target).mean()


def _mse(pre: Array, out: Array, y: Any, act: str, opts: Mapping[str, Any]) -> Array:
    return jnp.square(out - _labels_like(y, out)).mean()


def _mae(pre: Array, out: Array, y: Any, act: str, opts: Mapping[str, Any]) -> Array:
    return jnp.abs(out - _labels_like(y, out)).mean()


def _huber(pre: Array, out: Array, y: Any, act: str, opts: Mapping[str, Any]) -> Array:
    return optax.huber_loss(out, _labels_like(y, out), delta=float(opts.get("delta", 1.0))).mean()


def _margin(pre: Array, out: Array, y: Any, act: str, opts: Mapping[str, Any]) -> Array:
    """Sabour, Frosst & Hinton's (2017) margin loss on integer labels, eq. 4.

    ``L_k = T_k max(0, m+ - s_k)^2 + lambda (1 - T_k) max(0, s_k - m-)^2``, summed over the
    classes k and averaged over the examples: each unit ``s_k`` (a capsule's length) is pushed
    above ``m_plus`` for the true class and below ``m_minus`` for the others -- a squared hinge
    per class, one-vs-rest, rather than Crammer-Singer's single hinge on the margin between the
    true class and the best other, because that is what the options describe and what lets a
    capsule network report several classes at once. One unit is two classes: T = the 0/1 label.
    """
    if out.shape[-1] == 1:
        present = _labels_like(y, out)
    else:
        present = jax.nn.one_hot(_int_labels(y, out), out.shape[-1], dtype=out.dtype)
    up = jnp.square(jax.nn.relu(float(opts.get("m_plus", 0.9)) - out))
    down = jnp.square(jax.nn.relu(out - float(opts.get("m_minus", 0.1))))
    per = present * up + float(opts.get("down_weight", 0.5)) * (1 - present) * down
    return per.sum(axis=-1).mean()


def _step_mean(per_step: Array, steps: Array) -> Array:
    """The mean of ``per_step`` (batch, time) over the steps ``steps`` marks (Keras's temporal
    sample weights with 0/1 weights)."""
    w = jnp.asarray(steps).astype(per_step.dtype)
    return (per_step * w).sum() / jnp.maximum(w.sum(), 1.0)


def _stepwise(
    loss: OutputLoss, pre: Array, out: Array, y: Any, act: str, opts: Mapping[str, Any], steps: Array
) -> Array:
    """``loss`` averaged over the steps that count: the loss of every (example, step) alone, then
    their mean over the marked steps -- the same as ``loss`` itself when every step is marked,
    for the losses that average over their units (cross-entropy, bce, mse, mae, huber)."""
    n, t = steps.shape
    lead = lambda a: jnp.asarray(a).reshape(n * t, 1, *jnp.shape(a)[2:])  # noqa: E731
    per = jax.vmap(lambda p, o, target: loss(p, o, target, act, opts))(lead(pre), lead(out), lead(y))
    return _step_mean(per.reshape(n, t), steps)


OUTPUT_LOSSES: Final[dict[str, OutputLoss]] = {
    "cross_entropy": _cross_entropy,
    "bce": _bce_loss,
    "mse": _mse,
    "mae": _mae,
    "huber": _huber,
    "margin": _margin,
}
"""The loss of one supervised output, by its ``LOSSES`` name."""


def register_loss(record: Loss, fn: OutputLoss) -> None:
    """Add a loss of one output: its JAX-free record (what validation knows) and its function.

    Like :func:`cellgraph.cells.register_cell` and ``register_rule``: a name is registered once.
    """
    if record.name in LOSSES or record.name in OUTPUT_LOSSES:
        raise ValueError(f"loss {record.name!r} registered twice")
    LOSSES[record.name] = record
    OUTPUT_LOSSES[record.name] = fn


COMPOSITE_LOSSES: Final[dict[str, str]] = {name: loss.doc for name, loss in LOSSES.items() if loss.composite}
"""Losses that are no function of one output (``Loss.composite``): :func:`make_loss` assembles
them from its terms, and a supervised output under one of them trains with its activation's
default loss."""


@dataclass(frozen=True)
class Scored:
    """One output as the metrics see it."""

    out: Array  # the output's values
    target: Any  # class ids, or values with the output's size (a reconstruction's clean input)
    scores: Array  # what classes are read from: the logits of a softmax, else ``out``
    act: str
    kind: str  # the loss it trains with, or "reconstruction"
    tolerance: float
    steps: Array | None = None  # (batch, time): the steps that count (``train.step_mask``); None: all

    def mean(self, per: Array) -> Array:
        """The mean of ``per`` (batch, time, ...) over the steps that count, each step's values
        averaged first (the plain mean when every step counts)."""
        if self.steps is None:
            return per.mean()
        return _step_mean(per.reshape(*self.steps.shape, -1).mean(axis=-1), self.steps)

    @property
    def shaped(self) -> bool:
        """The target holds a value per output unit (regression, bits, one-hot, a reconstruction)."""
        return int(jnp.size(self.target)) == int(self.out.size)

    @property
    def labelled(self) -> bool:
        """The output is scored as classes."""
        record = LOSSES.get(self.kind)  # read now: a loss registered after import counts too
        return bool(record is not None and record.labels) or self.act in ("step", "sign")

    def err(self) -> Array:
        return self.out - _labels_like(self.target, self.out)


MetricFn = Callable[[Scored], Array | None]
"""A metric of one output; None where it is not defined for that output."""


def _accuracy(s: Scored) -> Array | None:
    if s.kind == "reconstruction":
        return None
    if s.shaped and s.out.shape[-1] > 1:  # one-hot (or bit) targets: the largest unit names the class
        return s.mean(jnp.argmax(s.scores, -1) == jnp.argmax(_labels_like(s.target, s.out), -1))
    if s.steps is not None:
        right = _classify(s.scores, s.act).reshape(s.out.shape[:-1]) == jnp.asarray(s.target).reshape(s.out.shape[:-1])
        return s.mean(right)
    labels = jnp.asarray(s.target).reshape(-1)
    pred = _classify(s.scores, s.act).reshape(-1)
    return (pred == labels.astype(pred.dtype)).mean()


def _token_accuracy(s: Scored) -> Array | None:
    """Share of label positions right: ``accuracy`` over every (example, step) of a class output."""
    return _accuracy(s) if s.labelled else None


def _argmax_accuracy(s: Scored) -> Array | None:
    if not s.shaped:
        return None
    n = s.out.shape[0]
    return (jnp.argmax(s.out.reshape(n, -1), -1) == jnp.argmax(_labels_like(s.target, s.out).reshape(n, -1), -1)).mean()


def _errors(fn: Callable[[Scored], Array]) -> MetricFn:
    """An error metric: defined where the target holds a value per output unit."""
    return lambda s: fn(s) if s.shaped else None


def _nrmse(s: Scored) -> Array:
    """sqrt(MSE / variance of the target), Jaeger's NRMSE (ZOO 2.23), over the batch evaluated."""
    target = _labels_like(s.target, s.out)
    return jnp.sqrt(jnp.square(s.err()).mean() / jnp.var(target))


def _r2(s: Scored) -> Array:
    target = _labels_like(s.target, s.out)
    return 1 - jnp.square(s.err()).sum() / jnp.square(target - target.mean()).sum()


def _bit_errors(s: Scored) -> Array:
    """Wrong bits per example (per sequence), the NTM/DNC copy-task measure: each unit and its
    target thresholded where ``accuracy`` thresholds one unit, summed over all but the batch axis."""
    cut = _cut(s.act)
    wrong = (s.out > cut) != (_labels_like(s.target, s.out) > cut)
    if s.steps is not None:  # only the scored steps' bits
        wrong = wrong & s.steps.reshape(*s.steps.shape, *([1] * (wrong.ndim - s.steps.ndim))).astype(bool)
    return wrong.reshape(wrong.shape[0], -1).sum(axis=-1).astype(jnp.float32).mean()


def _reconstruction_error(s: Scored) -> Array | None:
    return jnp.square(s.err()).mean() if s.kind == "reconstruction" else None


METRIC_FNS: Final[dict[str, MetricFn]] = {
    "accuracy": _accuracy,
    "argmax_accuracy": _argmax_accuracy,
    "mse": _errors(lambda s: s.mean(jnp.square(s.err()))),
    "mae": _errors(lambda s: s.mean(jnp.abs(s.err()))),
    "rmse": _errors(lambda s: jnp.sqrt(s.mean(jnp.square(s.err())))),
    "nrmse": _errors(_nrmse),
    "r2": _errors(_r2),
    "within_tolerance": _errors(
        lambda s: (jnp.abs(s.err()) < s.tolerance).reshape(s.out.shape[0], -1).all(axis=-1).mean()
    ),
    "bit_errors": _errors(_bit_errors),
    "token_accuracy": _token_accuracy,
    "reconstruction_error": _reconstruction_error,
}
"""Each implemented per-output metric of ``METRICS``, by name. Evaluation averages a metric over
chunks of examples (``train/loop.py``), which is exact for the means and close for the others
(``rmse``, ``nrmse``, ``r2``) when a split fits one chunk or its chunks are alike."""


def register_metric(record: Metric, fn: MetricFn) -> None:
    """Add a per-output metric: its JAX-free record and its function (a name is registered once)."""
    if record.name in METRICS or record.name in METRIC_FNS:
        raise ValueError(f"metric {record.name!r} registered twice")
    METRICS[record.name] = record
    METRIC_FNS[record.name] = fn


LOSS_METRICS: Final = ("elbo", "kl", "ks_statistic")
"""Metrics the loss reports itself: the ELBO's terms (:func:`make_loss` with ``loss: elbo``) and the
adversarial loss's distance between generated and real samples (:mod:`.adversarial`)."""


def _default_metrics(s: Scored) -> tuple[str, ...]:
    """What every output reports unasked: its accuracy, its squared error, or its reconstruction."""
    if s.kind == "reconstruction":
        return ("reconstruction_error",)
    return ("accuracy",) if s.labelled else ("mse",)


def make_loss(
    graph: nx.DiGraph,
    forward: Callable[..., tuple[dict[str, Array], dict[str, Aux]]],
    sources: tuple[str, ...],
    outputs: tuple[str, ...],
    factor_clamp: FactorClamp | None = None,
) -> Callable[..., tuple[Array, dict[str, Array], dict[str, Aux]]]:
    """Build ``loss(params, batch, key, state) -> (scalar, metrics, aux)``; a key means training
    mode, ``state`` is the model state the forward pass reads, and ``aux`` every group's
    :class:`~.protocol.Aux` record (the model collects the updated state from it).

    A planned loss or metric (see :func:`~cellgraph.graph.checks.check_implemented`), or a metric
    that none of the scored outputs defines, makes the loss raise a located
    :class:`~cellgraph.errors.SpecError` when it is called (traced), before anything trains.
    """
    spec = graph.graph["spec"]
    train = dict(spec.train)
    planned = Problems()
    check_implemented(spec, planned)
    name, opts = _loss_config(train)
    if name is not None and name not in COMPOSITE_LOSSES and name not in OUTPUT_LOSSES and not planned.items:
        raise spec_error(  # registered as implemented, but no function: never a silent default loss
            spec.loc(("train", "loss")),
            "train.loss",
            f"loss {name!r} is registered but has no function in cellgraph.compiler.losses.OUTPUT_LOSSES",
            "register its function beside its record (see docs/architecture.md)",
        )
    asked = metric_names(train.get("metrics"))
    wanted = [m for _, m in asked]
    tolerance = float(train.get("tolerance") or 0.04)
    node = graph.nodes
    supervised, recon = scored_outputs(graph, sources, outputs)
    gaussian = [
        n for n in graph.nodes if node[n]["cell"].probabilistic and node[n]["options"].get("distribution") == "gaussian"
    ]
    sparse_groups = [
        n for n in graph.nodes if _plain_hidden(node[n]["cell"]) and node[n]["options"].get("activation") == "sigmoid"
    ]

    several = len(supervised) + len(recon) > 1
    capsules = [o for o in supervised if node[o]["cell"].vector_valued]  # masked for a decoder in training
    seen: dict[str, int] = {}  # how many outputs have reported each metric (for the mean)

    def report(metrics: dict[str, Array], s: Scored, output: str) -> None:
        """Each metric under its name; with several scored outputs, under ``name:output`` too, and
        the plain name holds the mean over the outputs that define it."""
        for m in dict.fromkeys((*_default_metrics(s), *(w for w in wanted if w in METRIC_FNS))):
            value = METRIC_FNS[m](s)
            if value is None:
                continue
            if several:
                metrics[f"{m}:{output}"] = value
                seen[m] = seen.get(m, 0) + 1
                value = metrics[m] + (value - metrics[m]) / seen[m] if m in metrics else value
            metrics[m] = value

    owned = {o: own_loss(graph, o) for o in (*supervised, *(o for o, _ in recon))}  # (name, options, weight)
    kinds = {o: _output_kind(spec, graph, o, name, owned[o][0]) for o in supervised}
    weights = {o: owned[o][2] for o in owned}
    own_options = {o: owned[o][1] for o in supervised}

    def loss_fn(
        params: Any, batch: Mapping[str, Any], key: Array | None, state: Mapping[str, Any]
    ) -> tuple[Array, dict[str, Array], dict[str, Aux]]:
        planned.raise_if_any()  # a planned name: refused where training starts, never substituted
        total = jnp.zeros((), jnp.float32)
        metrics: dict[str, Array] = {}
        if factor_clamp is not None and key is not None and "factors" in batch:  # train.factors' batches
            values, aux, penalty = factor_clamp(forward, params, batch["inputs"], batch["factors"], key, state)
            total = total + penalty
            metrics["clamp_penalty"] = penalty
        elif capsules and key is not None:  # the decoder reads the true class's capsule (Sabour et al.)
            labels = {c: _target(batch, c) for c in capsules}
            values, aux = forward(params, batch["inputs"], key=key, train=True, state=state, labels=labels)
        else:
            values, aux = forward(params, batch["inputs"], key=key, train=key is not None, state=state)
        seen.clear()
        for o in supervised:
            act = node[o]["options"].get("activation", "linear")
            kind = kinds[o]
            out, pre, y = values[o], _read(aux, o, "pre"), _target(batch, o)
            if node[o]["cell"].vector_valued:  # class capsules: scored (and classified) by their lengths
                out = pre = capsule_lengths(out)
            own = own_options[o] or (opts if kind == name else {})  # options go with the name they follow
            steps = (batch.get("weights") or {}).get(o)  # train.step_mask: the steps that count
            if steps is not None:
                part = _stepwise(OUTPUT_LOSSES[kind], pre, out, y, act, own, steps)
            else:
                part = OUTPUT_LOSSES[kind](pre, out, y, act, own)
            total = total + (part if weights[o] == 1.0 else weights[o] * part)
            if several:
                metrics[f"loss:{o}"] = part
            # softmax is monotonic: classes from the logits, so the softmax itself is never computed
            monotonic = act in ("softmax", "log_softmax") and kind == "cross_entropy" and out.shape[-1] > 1
            report(metrics, Scored(out, y, pre if monotonic else out, act, kind, tolerance, steps), o)
        for o, goal in recon:
            clean = aux[goal].clean
            out, clean = values[o], (values[goal] if clean is None else clean).reshape(values[o].shape)
            act = node[o]["options"].get("activation", "linear")
            sigmoid = act == "sigmoid"
            # the margin loss's decoder term is Sabour et al.'s sum of squared errors
            error = opts.get("error") or ("bce" if sigmoid and name != "margin" else "mse")
            if error == "bce":
                pre = _read(aux, o, "pre")
                per = optax.sigmoid_binary_cross_entropy(pre, clean) if sigmoid else _bce(out, clean)
            else:
                per = jnp.square(out - clean)
            per_example = per.reshape(per.shape[0], -1).sum(axis=-1)
            if name == "elbo":
                part = per_example.mean()
            elif name == "margin":
                part = float(opts.get("reconstruction_weight", 0.0005)) * per_example.mean()
            else:
                part = per.mean()
            total = total + (part if weights[o] == 1.0 else weights[o] * part)
            if several:
                metrics[f"loss:{o}"] = part
            report(metrics, Scored(out, clean, out, act, "reconstruction", tolerance), o)
        if name == "elbo" and gaussian:
            kl = jnp.mean(sum((_read(aux, g, "kl") for g in gaussian), jnp.zeros(())))
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
        if supervised or recon:  # else the rule's own trainer measures the network (Hopfield recall)
            _refuse_unmet(spec, asked, metrics)
        metrics["loss"] = total
        return total, metrics, aux

    return loss_fn


def _output_kind(spec: Any, graph: nx.DiGraph, output: str, name: str | None, own: str | None) -> str:
    """The loss one supervised output trains with: its own (``own``: a per-output ``train.loss``
    entry or its ``loss:`` option), else ``train.loss``, else its activation's; a planned one is
    refused where it is written, never replaced."""
    d = graph.nodes[output]
    kind = output_loss(own or name, d["options"].get("activation", "linear"))
    record = LOSSES.get(kind)
    per_output = per_output_losses(spec.train) or {}
    where, path = (
        (spec.loc(("train", "loss", output)), f"train.loss.{output}")
        if output in per_output
        else (d["spec"].option_loc("loss"), f"{d['path']}.loss")
        if own
        else (spec.loc(("train", "loss")), "train.loss")
    )
    if own and record is not None and record.status == PLANNED:
        raise spec_error(
            where, path, f"loss '{own}' is planned, not implemented yet: nothing would compute it", record.meanwhile
        )
    if kind not in OUTPUT_LOSSES and record is not None and record.status != PLANNED:
        raise spec_error(
            where,
            path,
            f"loss {kind!r} is registered but has no function in cellgraph.compiler.losses.OUTPUT_LOSSES",
            "register its function beside its record (see docs/architecture.md)",
        )
    return kind


def scored_outputs(
    graph: nx.DiGraph, sources: tuple[str, ...], outputs: tuple[str, ...]
) -> tuple[list[str], list[tuple[str, str]]]:
    """The outputs the loss scores: those compared with targets from the data (class labels or
    values), and those compared with another group's value (a reconstruction, with that group).
    ``train.target`` keeps only the one it names. Which outputs read the data's targets is decided
    once, by :func:`cellgraph.graph.fit.supervised_outputs` (the data checks ask it too); this
    keeps the compiler's order."""
    target = graph.graph["spec"].train.get("target")
    _, opts = _loss_config(graph.graph["spec"].train)
    on_targets = set(supervised_outputs(graph)[0])
    supervised = [o for o in outputs if o in on_targets]
    recon = [
        (o, graph.nodes[o]["options"].get("target") or opts.get("target") or _first_source(graph, o, sources))
        for o in outputs
        if o not in on_targets and (target is None or o == target)
    ]
    return supervised, recon


def _read(aux: Mapping[str, Aux], group: str, field: str) -> Array:
    """A field of a group's :class:`Aux` record that the loss needs; a cell that left it out is an
    error naming the group (never a silent substitute such as the activated value for the logits)."""
    value: Array | None = getattr(aux[group], field)
    if value is None:
        raise CompileError(f"group '{group}': its cell's Aux record has no `{field}`, which this loss reads")
    return value


def _target(batch: Mapping[str, Any], output: str) -> Any:
    targets = batch.get("targets") or {}
    if output not in targets:
        raise CompileError(
            f"the batch has no target for output group '{output}' (it has: {', '.join(targets) or 'none'}); "
            'pass {"inputs": {group: array}, "targets": {output: array}}, e.g. model.batch(x, y)'
        )
    return targets[output]


Batch = dict[str, dict[str, Any]]
"""``{"inputs": {input group: array}, "targets": {output group: array}}``: what the loss reads."""


def make_batch(sources: tuple[str, ...], targets: tuple[str, ...], x: Any, y: Any = None) -> Batch:
    """A :data:`Batch` from the inputs (an array for a network with one input group, else a mapping
    by group) and the targets (a mapping by output group, or one array that every output in
    ``targets`` -- those scored against the data's targets -- gets). The arrays are kept as given
    (NumPy stays on the host)."""
    if isinstance(x, Mapping):
        inputs = dict(x)
    elif len(sources) == 1:
        inputs = {sources[0]: x}
    else:
        raise CompileError(
            f"the network has {len(sources)} input groups ({', '.join(sources)}); pass a mapping group -> array"
        )
    if y is None:
        return {"inputs": inputs, "targets": {}}
    if isinstance(y, Mapping):
        return {"inputs": inputs, "targets": dict(y)}
    return {"inputs": inputs, "targets": dict.fromkeys(targets, y)}


def _refuse_unmet(spec: Any, asked: list[tuple[tuple[str | int, ...], str]], metrics: Mapping[str, Array]) -> None:
    """A metric the spec asks for that no scored output defines is an error, not a silent gap."""
    for path, m in asked:
        if m not in metrics and not any(k.startswith(f"{m}:") for k in metrics):
            raise spec_error(
                spec.loc(path),
                format_path(path),
                f"metric '{m}' is not defined for this network's outputs: it applies to {METRICS[m].applies}",
                "remove it from `metrics:`, or score an output it applies to (`train.loss`, `train.target`)",
            )


def _plain_hidden(cell: Any) -> bool:
    """A dense hidden layer (no variant capability): the groups a sparsity penalty reads."""
    return cell.is_hidden and cell.is_plain


def _first_source(graph: nx.DiGraph, node: str, sources: tuple[str, ...]) -> str:
    origin = graph.nodes[node]["origin"]
    same = [s for s in sources if graph.nodes[s]["origin"] == origin]
    return (same or list(sources))[0]


def _bce(p: Array, y: Array) -> Array:
    p = jnp.clip(p, 1e-7, 1 - 1e-7)
    return -(y * jnp.log(p) + (1 - y) * jnp.log1p(-p))
