"""Learning rules, losses, metrics and optimizers as static descriptions.

The update rules themselves (pure jitted functions) live in ``train/rules/`` and arrive with the
compiler; what validation needs is here and imports nothing heavy: each rule's options and a
small check of what the rule needs from the graph (a perceptron is a single layer; contrastive
divergence needs a visible -- hidden pair; a read-out rule needs a fixed reservoir; ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import networkx as nx

from ..options import Bool, Choice, FloatRange, IntRange, Name, Option, Text

RuleCheck = Callable[[nx.DiGraph, dict[str, Any]], Iterator[tuple[str, str, str]]]
"""(graph, rule options) -> (node or "", problem, fix) for each unmet requirement."""


@dataclass(frozen=True)
class Rule:
    """A learning rule as validation sees it."""

    name: str
    doc: str
    options: dict[str, Option] = field(default_factory=dict)
    check: RuleCheck | None = None
    uses_optimizer: bool = False  # gradient-based: `optimizer:` applies


def _cells(graph: nx.DiGraph, *types: str) -> list[str]:
    return [n for n, d in graph.nodes(data=True) if d["type"] in types]


def _forward_in(graph: nx.DiGraph, node: str) -> list[str]:
    return [u for u, _, d in graph.in_edges(node, data=True) if d["delay"] == 0 and d["kind"] != "symmetric"]


def _needs_output(graph: nx.DiGraph) -> Iterator[tuple[str, str, str]]:
    if not _cells(graph, "output", "match_input_output"):
        yield (
            "",
            "the network has no output group",
            "add a group of type `output` (or `match_input_output`) and connect it",
        )


def _check_backprop(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    yield from _needs_output(graph)
    for n, d in graph.nodes(data=True):
        if not d["trainable"]:
            continue
        if d["options"].get("activation") in ("step", "sign"):
            yield (
                n,
                f"activation '{d['options']['activation']}' has no gradient, so backprop cannot train '{n}'",
                ("use `activation: sigmoid` (or tanh), or train with `rule: perceptron`"),
            )
        if not d["cell"].differentiable:
            yield (
                n,
                f"a {d['type']} group has no gradient, so backprop cannot train '{n}'",
                ("mark it `trainable: false` (a fixed reservoir) or use a read-out rule such as `rule: ridge`"),
            )


def _check_perceptron(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    outputs = _cells(graph, "output")
    if len(outputs) != 1:
        yield (
            "",
            f"the perceptron rule trains exactly one output group; found {len(outputs)}",
            "keep one `output` group fed straight from the inputs",
        )
        return
    others = [n for n, d in graph.nodes(data=True) if not d["cell"].is_source and n not in outputs]
    if others:
        yield (
            others[0],
            f"the perceptron rule trains a single layer, but '{others[0]}' is a hidden layer",
            ("remove hidden groups, or use `rule: backprop` for a multilayer network"),
        )
        return  # the output's inputs are then hidden layers too: no second message
    for u in _forward_in(graph, outputs[0]):
        if not graph.nodes[u]["cell"].is_source:
            yield (
                outputs[0],
                f"the output is fed by '{u}', not by an input",
                "connect the inputs straight to the output",
            )


def _symmetric_pairs(graph: nx.DiGraph) -> list[tuple[str, str]]:
    return [(u, v) for u, v, d in graph.edges(data=True) if d["kind"] == "symmetric"]


def _check_hebbian(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    selfs = [u for u, v in _symmetric_pairs(graph) if u == v]
    if not selfs:
        yield (
            "",
            "Hebbian storage needs a group connected to itself symmetrically",
            "add the edge `s -- s` (all-to-all, no self-connections)",
        )


def _check_boltzmann(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    if not _cells(graph, "backfed_input"):
        yield "", "a Boltzmann machine needs visible units", "add a group of type `backfed_input`"
    if not _symmetric_pairs(graph):
        yield "", "a Boltzmann machine's connections are symmetric", "join its groups with `--`"


def _check_cd(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    pairs = [
        (u, v)
        for u, v in _symmetric_pairs(graph)
        if {graph.nodes[u]["type"], graph.nodes[v]["type"]} == {"backfed_input", "probabilistic_hidden"}
    ]
    if not pairs:
        yield (
            "",
            "contrastive divergence trains a visible -- hidden pair",
            ("join a `backfed_input` group and a `probabilistic_hidden` group with `v -- h`"),
        )


def _check_layerwise(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    if len(_cells(graph, "probabilistic_hidden")) < 2:
        yield (
            "",
            "greedy layer-wise training stacks at least two probabilistic hidden layers",
            ("use two or more `probabilistic_hidden` groups in a chain"),
        )


def _check_readout(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    outputs = _cells(graph, "output")
    if not outputs:
        yield from _needs_output(graph)
        return
    for n, d in graph.nodes(data=True):
        if d["cell"].is_source or n in outputs:
            continue
        if d["trainable"]:
            yield (
                n,
                f"a read-out rule trains only the output; '{n}' would keep its random weights untrained",
                (f"mark '{n}' `trainable: false` (a fixed random layer), or use `rule: backprop`"),
            )
    for n in outputs:
        if graph.nodes[n]["options"].get("activation") not in ("linear", None):
            yield n, "a least-squares read-out is linear", "set `activation: linear` on the output"


def _check_som(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    maps = _cells(graph, "hidden")
    if len(maps) != 1:
        yield (
            "",
            f"a self-organising map has one map group; found {len(maps)} hidden groups",
            "keep one `hidden` group fed by the inputs",
        )


def _check_adversarial(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    origins = {d["origin"].split(".")[0] for _, d in graph.nodes(data=True) if d["origin"]}
    for key in ("generator", "discriminator"):
        name = opts.get(key)
        if name is None:
            yield (
                "",
                f"adversarial training needs `{key}:`",
                f"name the `use:` group of the {key}, e.g. `{key}: {key[:3]}`",
            )
        elif name not in origins:
            yield (
                "",
                f"`{key}: {name}` names no composed part",
                "known parts: " + (", ".join(sorted(origins)) or "(none)"),
            )


def _check_counting(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    states = [
        n
        for n in _cells(graph, "probabilistic_hidden")
        if graph.nodes[n]["options"].get("distribution") == "categorical"
    ]
    if not states:
        yield (
            "",
            "a Markov chain's states are a categorical group",
            "add `distribution: categorical` to its `probabilistic_hidden` group",
        )


_LR = Option(FloatRange(0.0, lo_open=True), 0.1, "learning rate of the rule")

RULES: Final[dict[str, Rule]] = {
    r.name: r
    for r in (
        Rule(
            "backprop",
            "gradient descent on the loss with an optax optimizer (through time where there is time)",
            {},
            _check_backprop,
            True,
        ),
        Rule(
            "perceptron",
            "Rosenblatt's error correction: w <- w + eta (t - o) x, one example at a time",
            {
                "eta": Option(FloatRange(0.0, lo_open=True), 1.0, "learning rate"),
                "shuffle": Option(Bool(), True, "shuffle examples every epoch"),
            },
            _check_perceptron,
        ),
        Rule(
            "hebbian",
            "one-shot Hebbian storage W = (1/N) sum of x x^T, zero diagonal (Hopfield)",
            {"sweeps": Option(IntRange(1, 10000), 50, "most asynchronous recall sweeps")},
            _check_hebbian,
        ),
        Rule(
            "boltzmann",
            "Boltzmann learning: <s_i s_j> clamped minus free, by exact enumeration or annealed Gibbs sampling",
            {
                "learning_rate": _LR,
                "exact": Option(Bool(), True, "enumerate all states (small nets) instead of sampling"),
            },
            _check_boltzmann,
        ),
        Rule(
            "contrastive_divergence",
            "CD-k (Hinton 2002): <v h>_data - <v h>_model after k Gibbs steps",
            {
                "k": Option(IntRange(1, 1000), 1, "Gibbs steps"),
                "learning_rate": _LR,
                "persistent": Option(Bool(), False, "persistent chains (PCD)"),
            },
            _check_cd,
        ),
        Rule(
            "greedy_layerwise",
            "stack RBMs trained one at a time with CD, then fit a read-out (DBN)",
            {
                "k": Option(IntRange(1, 1000), 1, "Gibbs steps per layer"),
                "learning_rate": _LR,
                "layer_epochs": Option(IntRange(1, 100000), 20, "epochs per layer"),
                "finetune": Option(Bool(), False, "fine-tune the stack by backprop afterwards"),
            },
            _check_layerwise,
        ),
        Rule(
            "som",
            "Kohonen's self-organising map: move the best match and its grid neighbours towards the input",
            {
                "grid": Option(Text(), None, "map layout 'rows x cols' (default: square)"),
                "sigma": Option(FloatRange(0.0, lo_open=True), 5.0, "initial neighbourhood width"),
                "sigma_end": Option(FloatRange(0.0, lo_open=True), 0.5, "final neighbourhood width"),
                "alpha": Option(FloatRange(0.0, 1.0, lo_open=True), 0.5, "initial learning rate"),
                "alpha_end": Option(FloatRange(0.0, 1.0, lo_open=True), 0.01, "final learning rate"),
            },
            _check_som,
        ),
        Rule(
            "least_squares",
            "output weights in one solve: beta = pinv(H) T (ELM, RBF read-out)",
            {
                "ridge": Option(FloatRange(0.0), 0.0, "ridge penalty (0: Moore-Penrose pseudo-inverse)"),
                "centres": Option(
                    Choice(("data", "grid", "init")),
                    "data",
                    "where fixed radial (gaussian) units are centred: on training points, on a grid over the "
                    "data's range, or where `init` put them",
                ),
            },
            _check_readout,
        ),
        Rule(
            "ridge",
            "ridge regression of the read-out on collected states (ESN, LSM)",
            {
                "alpha": Option(FloatRange(0.0), 1e-8, "ridge penalty"),
                "washout": Option(IntRange(0), 0, "initial steps discarded"),
                "teacher_forcing": Option(Bool(), False, "feed the target back while collecting states"),
            },
            _check_readout,
        ),
        Rule(
            "adversarial",
            "alternate discriminator and generator updates (non-saturating GAN loss)",
            {
                "generator": Option(Name(), None, "the generator's `use:` group"),
                "discriminator": Option(Name(), None, "the discriminator's `use:` group"),
                "d_steps": Option(IntRange(1, 100), 1, "discriminator steps per generator step"),
            },
            _check_adversarial,
            True,
        ),
        Rule(
            "counting",
            "maximum-likelihood transition probabilities by counting transitions",
            {"smoothing": Option(FloatRange(0.0), 0.0, "pseudo-count added to every transition")},
            _check_counting,
        ),
    )
}

_LOSS_TARGET: Final = Option(Name(), None, "the input group reconstructed (default: the match cell's target)")

LOSSES: Final[dict[str, dict[str, Option]]] = {
    "cross_entropy": {"label_smoothing": Option(FloatRange(0.0, 1.0), 0.0, "label smoothing")},
    "bce": {},
    "mse": {},
    "mae": {},
    "huber": {"delta": Option(FloatRange(0.0, lo_open=True), 1.0, "quadratic zone")},
    "reconstruction": {
        "error": Option(Choice(("mse", "bce")), "mse", "per-element reconstruction error"),
        "sparsity": Option(
            FloatRange(0.0, 1.0, lo_open=True, hi_open=True), 0.05, "target mean activation of the code (sparse AE)"
        ),
        "sparsity_weight": Option(FloatRange(0.0), 0.0, "weight of the KL sparsity penalty (0: none)"),
        "target": _LOSS_TARGET,
    },
    "elbo": {
        "beta": Option(FloatRange(0.0), 1.0, "weight of the KL term"),
        "error": Option(Choice(("mse", "bce")), "bce", "reconstruction likelihood"),
        "target": _LOSS_TARGET,
    },
    "margin": {
        "m_plus": Option(FloatRange(0.0, 1.0), 0.9, "target length of the true class"),
        "m_minus": Option(FloatRange(0.0, 1.0), 0.1, "ceiling for other classes"),
        "down_weight": Option(FloatRange(0.0), 0.5, "weight of absent classes"),
        "reconstruction_weight": Option(FloatRange(0.0), 0.0005, "weight of the decoder loss"),
    },
    "adversarial": {},
    "none": {},
}

METRICS: Final = (
    "accuracy", "argmax_accuracy", "mse", "mae", "rmse", "nrmse", "r2", "within_tolerance",
    "bit_errors", "token_accuracy", "log_likelihood", "reconstruction_error", "elbo", "kl",
    "quantization_error", "topographic_error", "ks_statistic", "spearman",
)  # fmt: skip

OPTIMIZERS: Final = (
    # optax's optimizer aliases (optax/_src/alias.py); kept static so validation needs no JAX
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lbfgs",
    "lion",
    "nadam",
    "nadamw",
    "noisy_sgd",
    "novograd",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "radam",
    "rmsprop",
    "rprop",
    "sgd",
    "sm3",
    "yogi",
)

SCHEDULES: Final = (
    # optax's learning-rate schedules (optax/schedules), usable as `learning_rate: {schedule: ...}`
    "constant", "linear", "cosine_decay", "exponential_decay", "polynomial", "piecewise_constant",
    "warmup_cosine_decay", "warmup_exponential_decay", "cosine_onecycle", "linear_onecycle",
)  # fmt: skip

TRAIN_KEYS: Final[dict[str, Option]] = {
    "rule": Option(Choice(tuple(RULES)), "backprop", "how the network learns"),
    "target": Option(Name(), None, "the output group the loss applies to (default: every output group)"),
    "loss": Option(Text(), None, "loss (default from the output cells); a name or {name: ..., options}"),
    "metrics": Option(Text(), None, "metrics to report"),
    "optimizer": Option(Text(), "adam", "optax optimizer: a name or {name: adam, learning_rate: 0.001, ...}"),
    "epochs": Option(IntRange(1, 10_000_000), 10, "passes over the training data"),
    "steps": Option(IntRange(1, 100_000_000), None, "training steps (instead of epochs)"),
    "batch_size": Option(IntRange(1, 10_000_000), 32, "examples per step"),
    "seed": Option(IntRange(0), 0, "random seed (init, shuffling, noise)"),
    "grad_clip": Option(FloatRange(0.0, lo_open=True), None, "clip the global gradient norm"),
    "tolerance": Option(
        FloatRange(0.0, lo_open=True),
        None,
        "absolute error under which a prediction counts as right (metric within_tolerance)",
    ),
    "precision": Option(
        Choice(("float32", "bfloat16", "float16")),
        "float32",
        "compute dtype of the forward and backward passes; weights, optimizer state and loss stay float32",
    ),
}
