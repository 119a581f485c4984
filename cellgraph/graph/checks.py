"""Graph rules, one small function each: cycles, sources, rule compatibility, train and data.

Each function adds located problems to a :class:`Problems`; only :func:`refuse_planned` raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from ..access import data_file_refusal
from ..cells.registry import numel
from ..data.blocks import check_own_block
from ..data.catalog import SOURCES, SPLIT_OPTIONS
from ..errors import Problems, did_you_mean
from ..options import check_options
from ..spec.load import format_path
from ..spec.model import Spec
from ..spec.validate import DESCRIPTION_MAX, TEXT_FIX, TITLE_MAX, kind_of, text_problem
from ..typedefs import NodeName
from .capsules import check_class_capsules
from .rules import (
    ADVERSARIAL,
    LOSSES,
    METRICS,
    PLANNED,
    RULES,
    TRAIN_KEYS,
    fed_back_inputs,
    group_rule_problems,
    optimizer_problems,
    own_rules,
)


def forward_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """The edges that carry a value within one time step (not delayed, not symmetric)."""
    fwd: nx.DiGraph[NodeName] = nx.DiGraph()
    fwd.add_nodes_from(graph.nodes)
    fwd.add_edges_from(
        (u, v)
        for u, v, d in graph.edges(data=True)
        if d["delay"] == 0
        and d["kind"] != "symmetric"
        and not d["feedback"]
        and not (u == v and graph.nodes[u]["cell"].recurrent)
    )
    return fwd


def check_cycles(graph: nx.DiGraph, problems: Problems) -> None:
    """Break legal cycles at recurrent-family cells; report the rest, naming their cells.

    A cycle is legal through a delayed edge, a symmetric edge, or a recurrent / memory /
    gated_memory cell. Inside a strongly connected component, edges that leave a
    recurrent-family cell backwards in declaration order read that cell's previous state
    (they are marked ``feedback``); if that is not enough, every in-component edge that leaves
    a recurrent-family cell is marked.
    """
    order = {n: i for i, n in enumerate(graph.nodes)}
    fwd = forward_graph(graph)
    for component in nx.strongly_connected_components(fwd):
        if len(component) < 2:
            continue
        inner = [(u, v) for u, v in fwd.edges(component) if v in component and graph.nodes[u]["cell"].recurrent]
        for pass_edges in ([e for e in inner if order[e[1]] <= order[e[0]]], inner):
            for u, v in pass_edges:
                graph.edges[u, v]["feedback"] = True
            if nx.is_directed_acyclic_graph(forward_graph(graph).subgraph(component)):
                break
    fwd = forward_graph(graph)
    for u in fwd.nodes:
        if fwd.has_edge(u, u):
            d = graph.edges[u, u]
            problems.add(
                d["loc"],
                d["path"],
                f"'{u}' feeds itself within one time step",
                f"use a delayed edge `{u} ~> {u}`, a symmetric one `{u} -- {u}`, or a recurrent cell type",
            )
            fwd.remove_edge(u, u)
    seen: set[frozenset[str]] = set()
    while True:
        try:
            cycle = nx.find_cycle(fwd)
        except nx.NetworkXNoCycle:
            return
        nodes = [u for u, _ in cycle]
        key = frozenset(nodes)
        if key in seen:  # pragma: no cover - defensive; each cycle is cut below
            return
        seen.add(key)
        u, v = cycle[-1][0], cycle[-1][1]
        d = graph.edges[u, v]
        problems.add(
            d["loc"],
            d["path"],
            "cycle with no delay: " + " -> ".join([*nodes, nodes[0]]),
            f"make one edge delayed (`{u} ~> {v}`), or put a recurrent / memory / gated_memory cell in the loop",
        )
        fwd.remove_edge(u, v)


def _fed_by_unknown(graph: nx.DiGraph) -> set[str]:
    """Groups fed by a name that is not a node: an unknown type or a failed `bind:`, both already
    reported, so "has no input" would only add noise."""
    return {e.dst for e in graph.graph["spec"].edges if e.src not in graph}


def check_sources(graph: nx.DiGraph, problems: Problems) -> None:
    """Every computing group needs something feeding it; an ``input`` group takes only data."""
    for n, d in graph.nodes(data=True):
        fed_by = [u for u in graph.predecessors(n) if u != n]
        if graph.has_edge(n, n) and (graph.edges[n, n]["kind"] == "symmetric" or graph.edges[n, n]["delay"]):
            fed_by.append(n)  # a group that talks to itself (a Markov chain's states, a reservoir)
        if d["cell"].is_source:  # data enters here: a forward edge into it would be silently unused
            for u in fed_by:
                e = graph.edges[u, n]
                if e["delay"] == 0 and e["kind"] != "symmetric":
                    problems.add(
                        e["loc"],
                        e["path"],
                        f"'{n}' is an input group{'' if d['cell'].is_plain else ' (' + d['type'] + ')'}; "
                        "nothing can feed it within a time step",
                        f"use `~>` for feedback into '{n}'"
                        + (", or `--` for a symmetric connection" if d["cell"].backfed else "")
                        + f", or make '{n}' a hidden group",
                    )
        elif not d["cell"].is_source and not fed_by and n not in _fed_by_unknown(graph):
            problems.add(d["loc"], d["path"], f"'{n}' has no input", f"connect something to it, e.g. `x -> {n}`")


def check_fed_back(graph: nx.DiGraph, problems: Problems) -> None:
    """An input group fed by delayed edges (``m ~> r``) takes the previous step's values of its
    sources as they are, one value per step: it must be a sequence and hold exactly their cells
    (runs after shape inference)."""
    for n, us in fed_back_inputs(graph).items():
        d = graph.nodes[n]
        if d.get("shape") is None or any(graph.nodes[u].get("shape") is None for u in us):
            continue  # a shape problem already reported
        if not d["options"].get("sequence", False):
            problems.add(
                d["loc"],
                d["path"],
                f"'{n}' is an input group fed back by {', '.join(f'`{u} ~> {n}`' for u in us)}: it takes one value "
                "per time step, so it is a sequence",
                f"add `sequence: true` to '{n}'",
            )
        wanted = sum(numel(graph.nodes[u]["shape"]) for u in us)
        if numel(d["shape"]) != wanted:
            problems.add(
                d["spec"].option_loc("size") if "size" in d["options"] else d["loc"],
                f"{d['path']}.size",
                f"'{n}' holds {numel(d['shape'])} values, and what feeds it back ({', '.join(us)}) passes "
                f"{wanted} per step, which '{n}' takes as it is",
                f"give '{n}' `size: {wanted}`",
            )


def check_text(spec: Spec, problems: Problems) -> None:
    """The title and description as substituted: ``title: "${t}"`` passes the loader's check of the
    written text, so the value a param gave it is checked here (an identical problem found by both
    is reported once)."""
    for key, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX)):
        problem = text_problem(getattr(spec, key), limit, multiline=key == "description")
        if problem:
            problems.add(spec.loc((key,)), key, problem, TEXT_FIX[key])


def check_targets(spec: Spec, graph: nx.DiGraph, problems: Problems) -> None:
    """`target:` of output cells, `train.target` and `loss.target` name real groups."""
    for _, d in graph.nodes(data=True):
        target = d["options"].get("target")
        if target is not None and target != "labels" and target not in graph:
            problems.add(
                d["spec"].option_loc("target"),
                f"{d['path']}.target",
                f"unknown group '{target}'{did_you_mean(target, graph.nodes)}",
                "name the input group this output is compared with, or `labels`",
            )
    train = spec.train
    outputs = [n for n, d in graph.nodes(data=True) if d["cell"].is_output]
    if isinstance(train.get("target"), str) and train["target"] not in outputs:
        problems.add(
            spec.loc(("train", "target")),
            "train.target",
            f"'{train['target']}' is not an output group{did_you_mean(train['target'], outputs)}",
            "output groups: " + (", ".join(outputs) or "(none)"),
        )
    _check_output_losses(graph, problems)
    check_class_capsules(spec, graph, problems)
    loss = train.get("loss")
    if isinstance(loss, dict) and isinstance(loss.get("target"), str) and loss["target"] not in graph:
        problems.add(
            spec.loc(("train", "loss", "target")),
            "train.loss.target",
            f"unknown group '{loss['target']}'{did_you_mean(loss['target'], graph.nodes)}",
            "name the input group reconstructed",
        )


def _check_output_losses(graph: nx.DiGraph, problems: Problems) -> None:
    """An output's own `loss:` is a loss of one output (not a composite such as `elbo`)."""
    single = [n for n, r in LOSSES.items() if not r.composite]
    for _, d in graph.nodes(data=True):
        name = d["options"].get("loss")
        if not isinstance(name, str):
            continue  # absent, or its type reported with the cell's options
        record = LOSSES.get(name)
        if record is None or record.composite:
            why = (
                f"unknown loss '{name}'{did_you_mean(name, single)}"
                if record is None
                else (f"'{name}' scores the network as a whole, not one output")
            )
            problems.add(
                d["spec"].option_loc("loss"),
                f"{d['path']}.loss",
                why,
                "an output's own loss is one of: " + ", ".join(single) + " (a composite loss goes in `train.loss`)",
            )


def check_rule(spec: Spec, graph: nx.DiGraph, problems: Problems) -> None:
    """The train block's keys and values, and what its rule needs from the graph."""
    if "train" not in spec.doc.data:  # no train block: backprop, unless training is told another rule
        _report_rule_problems(spec, graph, problems, "backprop", group_rule_problems(graph, "backprop", {}))
        return
    train = dict(spec.train)
    rule_name = train.get("rule", "backprop")
    rule = RULES.get(rule_name) if isinstance(rule_name, str) else None
    if rule is None:
        problems.add(
            spec.loc(("train", "rule")),
            "train.rule",
            f"unknown rule {rule_name!r}{did_you_mean(str(rule_name), RULES)}",
            "rules: " + ", ".join(RULES),
        )
        return

    def report(key: str, message: str, fix: str) -> None:
        problems.add(spec.loc(("train", key)), f"train.{key}", message, fix)

    plain = {k: v for k, v in train.items() if k not in ("loss", "metrics", "optimizer")}
    # a group's own rule (`y: {rule: ridge}`) takes its options from the train block too
    beside = {k: o for r in own_rules(graph).values() if r in RULES for k, o in RULES[r].options.items()}
    check_options(
        plain,
        {**TRAIN_KEYS, **beside, **rule.options},
        report,
        f"train (rule {rule.name})",
        extra=("rule", "loss", "metrics", "optimizer"),  # the rule: checked above against RULES
    )
    if "steps" in train and "epochs" in train:
        report("steps", "give `epochs` or `steps`, not both", "keep one of the two")
    if train.get("early_stopping") not in (None, False) and isinstance(train.get("eval_every"), int):
        if train["eval_every"] > 1:
            report(
                "eval_every",
                "early stopping watches a score after every epoch, and `eval_every` skips epochs",
                "remove `eval_every` (or early stopping)",
            )
    _check_loss(spec, train.get("loss"), problems, graph)
    _check_metrics(spec, train.get("metrics"), problems)
    adversarial_loss = loss_name(train.get("loss")) == ADVERSARIAL
    if adversarial_loss != (rule.name == ADVERSARIAL) and (adversarial_loss or "loss" in train):
        report(
            "loss",
            "the adversarial loss goes with `rule: adversarial`, and that rule trains with it alone",
            "use `rule: adversarial` with `loss: adversarial` (or no `loss:`), or another loss with another rule",
        )
    if "optimizer" in train:
        if not rule.uses_optimizer:
            report(
                "optimizer",
                f"rule '{rule.name}' does not use an optimizer",
                "remove `optimizer:` (the rule has its own update)",
            )
        else:
            _check_optimizer(spec, train["optimizer"], problems)
    found = rule.check(graph, {**{k: o.default for k, o in rule.options.items()}, **train}) if rule.check else ()
    beside_found = group_rule_problems(graph, rule.name, {**{k: o.default for k, o in beside.items()}, **train})
    _report_rule_problems(spec, graph, problems, rule.name, (*found, *beside_found))


def _report_rule_problems(
    spec: Spec, graph: nx.DiGraph, problems: Problems, rule: str, found: Iterable[tuple[str, str, str]]
) -> None:
    """Each (node, message, fix) of a rule's checks, located at the group, the rule's option or
    ``train.rule``."""
    for node, message, fix in found:
        if node.startswith("train.") and node not in graph:  # the problem is one of the rule's options
            problems.add(spec.loc(("train", node.removeprefix("train."))), node, message, fix)
            continue
        loc = graph.nodes[node]["loc"] if node else spec.loc(("train", "rule"))
        problems.add(loc, f"train.rule ({rule})" if not node else graph.nodes[node]["path"], message, fix)


def _check_loss(spec: Spec, loss: Any, problems: Problems, graph: nx.DiGraph | None = None) -> None:
    if loss is None:
        return
    path = ("train", "loss")
    if isinstance(loss, dict) and "name" not in loss:
        _check_per_output_losses(spec, loss, problems, graph)
        return
    name, opts = (
        (loss, {})
        if isinstance(loss, str)
        else (loss.get("name"), {k: v for k, v in loss.items() if k != "name"})
        if isinstance(loss, dict)
        else (None, {})
    )
    if not isinstance(name, str) or name not in LOSSES:
        problems.add(
            spec.loc(path),
            "train.loss",
            f"unknown loss {name!r}{did_you_mean(str(name), LOSSES)}",
            "losses: " + ", ".join(LOSSES) + " (write a name, or {name: ..., option: value})",
        )
        return

    def report(key: str, message: str, fix: str) -> None:
        problems.add(spec.loc((*path, key)), f"train.loss.{key}", message, fix)

    check_options(opts, LOSSES[name].options, report, f"loss '{name}'")


def _check_per_output_losses(spec: Spec, losses: dict[str, Any], problems: Problems, graph: nx.DiGraph | None) -> None:
    """``train.loss`` per output group (Keras's ``loss={...}``): each key an output group, each value
    a loss of one output, or ``{name: ..., weight: w, option: value}``."""
    outputs = [n for n, d in graph.nodes(data=True) if d["cell"].is_output] if graph is not None else None
    single = [n for n, r in LOSSES.items() if not r.composite]
    if not losses:
        problems.add(
            spec.loc(("train", "loss")), "train.loss", "an empty mapping", "write a loss name, or {output: loss}"
        )
    for group, value in losses.items():
        where = ("train", "loss", group)
        if outputs is not None and group not in outputs:
            problems.add(
                spec.doc.key_loc(where),
                format_path(where),
                f"'{group}' is not an output group{did_you_mean(str(group), outputs)}",
                "a loss per output is written {output: loss}; output groups: "
                + (", ".join(outputs) or "(none)")
                + " (or give the network one loss: `loss: name` / `{name: ..., option: value}`)",
            )
            continue
        name = value.get("name") if isinstance(value, dict) else value
        record = LOSSES.get(name) if isinstance(name, str) else None
        if record is None or record.composite:
            why = (
                f"unknown loss {name!r}{did_you_mean(str(name), single)}"
                if record is None
                else f"'{name}' scores the network as a whole, not one output"
            )
            problems.add(spec.loc(where), format_path(where), why, "a loss per output is one of: " + ", ".join(single))
            continue
        if isinstance(value, dict):
            opts = {k: v for k, v in value.items() if k not in ("name", "weight")}

            def report(key: str, message: str, fix: str, _where: tuple[str, ...] = where) -> None:
                problems.add(spec.loc((*_where, key)), format_path((*_where, key)), message, fix)

            check_options(opts, record.options, report, f"loss '{name}'")
            weight = value.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                report("weight", f"expected a number >= 0, got {weight!r}", "e.g. `weight: 0.5`")
        if graph is not None and graph.nodes[group]["options"].get("loss") is not None:
            problems.add(
                spec.loc(where),
                format_path(where),
                f"'{group}' names its loss twice: here and in its own `loss:` option",
                "keep one of the two",
            )


def _check_metrics(spec: Spec, metrics: Any, problems: Problems) -> None:
    if metrics is None:
        return
    items = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(items, list):
        problems.add(
            spec.loc(("train", "metrics")),
            "train.metrics",
            "expected a metric name or a list of them",
            "e.g. `metrics: [accuracy]`",
        )
        return
    for i, m in enumerate(items):
        if not isinstance(m, str) or m not in METRICS:  # a mapping or list item cannot name one
            path = ("train", "metrics", i) if isinstance(metrics, list) else ("train", "metrics")
            problems.add(
                spec.loc(path),
                format_path(path),
                f"unknown metric {m!r}{did_you_mean(m, METRICS)}"
                if isinstance(m, str)
                else f"expected a metric name, got {kind_of(m)}",
                "metrics: " + ", ".join(METRICS),
            )


def loss_name(loss: Any) -> str | None:
    """The loss a ``train.loss`` value names: a name, or a mapping's ``name`` (None when absent)."""
    name = loss.get("name") if isinstance(loss, dict) else loss
    return name if isinstance(name, str) else None


def metric_names(metrics: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, name) of each metric ``train.metrics`` asks for: one name, or a list of them."""
    if isinstance(metrics, str):
        return [(("train", "metrics"), metrics)]
    if isinstance(metrics, list):
        return [(("train", "metrics", i), m) for i, m in enumerate(metrics) if isinstance(m, str)]
    return []


def check_implemented(spec: Spec, problems: Problems) -> None:
    """A planned loss or metric (one that validates but that nothing computes yet) is refused.

    Not part of validation -- a spec that names one can be checked, drawn and compiled today --
    but every path that trains or evaluates runs it (``cellgraph.compiler.losses.make_loss``), so
    a planned name never trains with some other loss in its place.
    """
    name = loss_name(spec.train.get("loss"))
    record = LOSSES.get(name) if name is not None else None
    if record is not None and record.status == PLANNED:
        problems.add(
            spec.loc(("train", "loss")),
            "train.loss",
            f"loss '{name}' is planned, not implemented yet: nothing would compute it",
            f"{record.meanwhile}; implemented losses: "
            + ", ".join(n for n, r in LOSSES.items() if r.status != PLANNED),
        )
    for path, metric in metric_names(spec.train.get("metrics")):
        m = METRICS.get(metric)
        if m is not None and m.status == PLANNED:
            problems.add(
                spec.loc(path),
                format_path(path),
                f"metric '{metric}' is planned, not implemented yet: nothing would compute it",
                f"remove it from `metrics:` ({m.meanwhile})",
            )


def refuse_planned(spec: Spec) -> None:
    """Raise the located :class:`~cellgraph.errors.SpecError` of :func:`check_implemented`, if any:
    the one line a trainer runs before it loads data, JAX or a run folder."""
    problems = Problems()
    check_implemented(spec, problems)
    problems.raise_if_any()


def _check_optimizer(spec: Spec, opt: Any, problems: Problems) -> None:
    """The optimizer's name, and each argument's name, kind and range (see
    :func:`~cellgraph.graph.rules.optimizer_problems`): `validate` saying ok means `train` can
    build the optimizer and will not start from a negative or infinite learning rate."""
    for sub, message, fix in optimizer_problems(opt):
        path = ("train", "optimizer", *sub)
        problems.add(spec.loc(path), format_path(path), message, fix)


def check_data(spec: Spec, problems: Problems, graph: nx.DiGraph | None = None) -> None:
    """The data block: a known source with its options, or the user's CSV file."""
    data = dict(spec.data)
    if not data:
        return

    def report_own(key: tuple[str | int, ...], message: str, fix: str) -> None:
        path = ("data", *key)
        problems.add(spec.loc(path), format_path(path), message, fix)

    inputs = [n for n, d in graph.nodes(data=True) if d["cell"].is_source] if graph is not None else None
    outputs = [n for n, d in graph.nodes(data=True) if d["cell"].is_output] if graph is not None else None
    folder = Path(spec.file).parent if not spec.file.startswith("<") else None
    allowed = graph.graph.get("allow", ()) if graph is not None else ()
    if check_own_block(spec.data, report_own, inputs=inputs, outputs=outputs, folder=folder, allow=allowed):
        return  # the user's own arrays: an npz file, or CSV columns per group
    if "csv" in data:
        data.setdefault("source", "csv")
        data["path"] = data.pop("csv")
    source = data.get("source")
    if source is None:
        problems.add(
            spec.loc(("data",)),
            "data",
            "missing 'source'",
            "name a built-in data set (`source: mushroom`) or a file (`csv: my.csv`)",
        )
        return
    ds = SOURCES.get(source) if isinstance(source, str) else None
    if ds is None:
        problems.add(
            spec.loc(("data", "source")),
            "data.source",
            f"unknown data source {source!r}{did_you_mean(str(source), SOURCES)}",
            "built-in sources: " + ", ".join(SOURCES),
        )
        return

    def report(key: str, message: str, fix: str) -> None:
        key_path = ("data", "csv") if key == "path" and "csv" in spec.data else ("data", key)
        problems.add(spec.loc(key_path), format_path(key_path), message, fix)

    check_options(
        {k: v for k, v in data.items() if k not in ("source", "split")}, ds.options, report, f"data source '{ds.name}'"
    )
    if ds.name == "csv":
        for key in ("path", "target"):
            if not data.get(key):
                report(
                    key,
                    f"a CSV source needs `{'csv' if key == 'path' else key}:`",
                    "e.g. `data: {csv: my_data.csv, target: label}`",
                )
        path = data.get("path")
        if isinstance(path, str) and path and not spec.file.startswith("<"):
            allowed = graph.graph.get("allow", ()) if graph is not None else ()
            refusal = data_file_refusal(Path(spec.file).parent, path, allowed)
            if refusal is not None:  # outside the spec's project, or not a regular file: never opened
                report("path", f"CSV file {refusal[0]}", refusal[1])
    split = data.get("split")
    if split is not None:
        if not isinstance(split, dict):
            problems.add(
                spec.loc(("data", "split")), "data.split", "expected a mapping", "e.g. `split: {test: 0.3, seed: 0}`"
            )
        else:

            def report_split(key: str, message: str, fix: str) -> None:
                problems.add(spec.loc(("data", "split", key)), f"data.split.{key}", message, fix)

            check_options(split, SPLIT_OPTIONS, report_split, "data.split")
