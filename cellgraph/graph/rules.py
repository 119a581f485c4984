"""Learning rules, losses, metrics and optimizers as static descriptions.

The update rules themselves (pure jitted functions) live in ``train/rules/`` and arrive with the
compiler; what validation needs is here and imports nothing heavy: each rule's options and a
small check of what the rule needs from the graph (a perceptron is a single layer; contrastive
divergence needs a visible -- hidden pair; a read-out rule needs a fixed reservoir; ...).

Losses and metrics are records too, each saying whether it is implemented (the compiler holds a
function of the same name) or planned: a planned name validates, and training refuses it with a
located error rather than computing something else in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import networkx as nx

from ..errors import did_you_mean
from ..options import Bool, Choice, FloatRange, IntRange, Name, Nullable, Option, OptionKind, Text, word

RuleCheck = Callable[[nx.DiGraph, dict[str, Any]], Iterator[tuple[str, str, str]]]
"""(graph, rule options) -> (node or "", problem, fix) for each unmet requirement."""


@dataclass(frozen=True)
class Fed:
    """A group that a rule's own scoring feeds from the data besides the network's input groups:
    a clamped group's observed values (a Markov chain's walk), or the values a group is compared
    with (a Hopfield net's stored patterns). The data check reads these as it reads input groups
    and scored outputs.

    ``role`` is ``"x"`` (fed from the data's ``x``) or ``"y"`` (compared with its ``y``); ``kind``
    a ``y``'s kind as :mod:`cellgraph.data.layout` names them (``"classes"``: a class id per
    example or step, ``"values"``: a value per unit); ``timed``: one per time step.
    """

    group: str
    role: str
    kind: str = "values"
    timed: bool = False


@dataclass(frozen=True)
class Rule:
    """A learning rule as validation sees it."""

    name: str
    doc: str
    options: dict[str, Option] = field(default_factory=dict)
    check: RuleCheck | None = None
    uses_optimizer: bool = False  # gradient-based: `optimizer:` applies
    fed: Callable[[nx.DiGraph], tuple[Fed, ...]] | None = None  # what its own scoring reads (see Fed)


def _cells(graph: nx.DiGraph, has: Callable[[Any], bool]) -> list[str]:
    """The groups whose cell type ``has`` the capability asked (a predicate on the CellType)."""
    return [n for n, d in graph.nodes(data=True) if has(d["cell"])]


def _is_label_output(cell: Any) -> bool:
    return cell.is_output and not cell.reconstructs


def _forward_in(graph: nx.DiGraph, node: str) -> list[str]:
    return [u for u, _, d in graph.in_edges(node, data=True) if d["delay"] == 0 and d["kind"] != "symmetric"]


def _needs_output(graph: nx.DiGraph) -> Iterator[tuple[str, str, str]]:
    if not _cells(graph, lambda cell: cell.is_output):
        yield (
            "",
            "the network has no output group",
            "add a group of type `output` (or `match_input_output`) and connect it",
        )


@dataclass(frozen=True)
class FactorsKind(OptionKind):
    """``{code: GROUP, units: {FACTOR: UNIT, ...}}``: the code group and the unit each factor of the
    data is assigned to (Kulkarni et al. 2015's training scheme, ``train.factors``)."""

    def check(self, value: Any) -> str | None:
        if not isinstance(value, Mapping) or set(value) != {"code", "units"}:
            return "expected {code: GROUP, units: {FACTOR: UNIT, ...}}"
        if not isinstance(value["code"], str) or not value["code"]:
            return "code: expected the name of the code group"
        units = value["units"]
        if not isinstance(units, Mapping) or not units:
            return "units: expected {FACTOR: UNIT, ...}, e.g. {x: 0, size: 1}"
        bad = [k for k, v in units.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0]
        if bad:
            return f"units.{bad[0]}: expected a unit index (an integer >= 0)"
        if len(set(units.values())) != len(units):
            return "units: each factor needs a unit of its own"
        return None

    def describe(self) -> str:
        return "{code: GROUP, units: {FACTOR: UNIT, ...}}"

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "units": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            },
            "required": ["code", "units"],
            "additionalProperties": False,
        }


def factor_code(graph: nx.DiGraph, factors: Mapping[str, Any]) -> tuple[str, int] | None:
    """(the code group, its number of units) that ``train.factors`` names, or None if it names none."""
    code = factors.get("code")
    if code not in graph.nodes:
        return None
    shape = graph.nodes[code].get("shape") or ()
    units = 1
    for d in shape:
        units *= int(d)
    return str(code), units


def _check_backprop(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    yield from _needs_output(graph)
    factors = opts.get("factors")
    if isinstance(factors, Mapping) and FactorsKind().check(factors) is None:
        found = factor_code(graph, factors)
        if found is None:
            yield (
                "",
                f"`factors.code: {factors['code']}` names no group",
                "name the Gaussian code group, e.g. `code: z`",
            )
        else:
            code, size = found
            cell = graph.nodes[code]["cell"]
            if not (cell.probabilistic and graph.nodes[code]["options"].get("distribution") == "gaussian"):
                yield (
                    code,
                    f"`factors.code: {code}` is not a Gaussian code",
                    "name a `probabilistic_hidden` group with `distribution: gaussian`",
                )
            wide = [f for f, u in factors["units"].items() if u >= size]
            if wide:
                yield (
                    "",
                    f"`factors.units.{wide[0]}: {factors['units'][wide[0]]}` is beyond the code's {size} units",
                    f"give a unit 0-{size - 1}",
                )
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
    outputs = _cells(graph, _is_label_output)
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
    joined = sorted({n for pair in _symmetric_pairs(graph) for n in pair}, key=list(graph.nodes).index)
    for n in joined:
        if not graph.nodes[n]["cell"].backfed:
            yield (
                n,
                f"Hebbian storage writes the patterns into the units themselves, and '{n}' is not a visible group",
                f"make '{n}' `type: backfed_input` (a Hopfield unit is input, hidden and output at once)",
            )


def _hebbian_fed(graph: nx.DiGraph) -> tuple[Fed, ...]:
    """A Hopfield net's probes are its visible groups' inputs; ``y`` holds the patterns to recall."""
    joined = sorted({n for pair in _symmetric_pairs(graph) for n in pair}, key=list(graph.nodes).index)
    return tuple(Fed(n, "y") for n in joined)


BOLTZMANN_EXACT_UNITS: Final = 20
"""The most units a Boltzmann machine enumerates (2^20 states) for exact statistics."""


def _check_boltzmann(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    if not _cells(graph, lambda cell: cell.backfed):
        yield "", "a Boltzmann machine needs visible units", "add a group of type `backfed_input`"
    if not _symmetric_pairs(graph):
        yield "", "a Boltzmann machine's connections are symmetric", "join its groups with `--`"
        return
    joined = {n for pair in _symmetric_pairs(graph) for n in pair}
    for n, d in graph.nodes(data=True):
        cell, options = d["cell"], d["options"]
        if n not in joined:
            yield (
                n,
                f"'{n}' is not joined to the machine by a symmetric edge",
                f"join it with `{n} -- ...`, or remove it",
            )
        elif cell.backfed and options.get("values", "binary") != "binary":
            yield n, "a Boltzmann machine's units are binary {0, 1}", "drop `values: bipolar` (or train a Hopfield net)"
        elif not cell.backfed and not (cell.probabilistic and options.get("distribution", "bernoulli") == "bernoulli"):
            yield (
                n,
                f"a Boltzmann machine's hidden units are binary and sampled, and '{n}' is not",
                "make it `type: probabilistic_hidden` (distribution: bernoulli)",
            )
    units = sum(_units(graph, n) or 0 for n in joined)
    if opts.get("exact", True) and units > BOLTZMANN_EXACT_UNITS:
        yield (
            "",
            f"`exact: true` enumerates all 2^{units} states of the machine's {units} units "
            f"(at most {BOLTZMANN_EXACT_UNITS} units)",
            "set `exact: false` (annealed Gibbs sampling), or use fewer units",
        )
    elif int(opts.get("restarts", 1)) > 1 and units > BOLTZMANN_EXACT_UNITS:
        yield (
            "",
            f"`restarts` keeps the start with the highest exact log-likelihood, and {units} units are too many "
            "to enumerate",
            f"set `restarts: 1`, or use at most {BOLTZMANN_EXACT_UNITS} units",
        )


def _visible_hidden(a: Any, b: Any) -> bool:
    """A backfed (visible) group and a probabilistic (hidden) one, in either order."""
    return (a.backfed and b.probabilistic) or (b.backfed and a.probabilistic)


MAX_ENUMERATED_UNITS: Final = 20
"""The most units of an RBM's smaller layer whose states the exact ``log_likelihood`` enumerates
(2^20 states): beyond, ask for ``pseudo_likelihood``."""


def _units(graph: nx.DiGraph, n: str) -> int | None:
    shape = graph.nodes[n].get("shape")
    if not shape:
        return None
    units = 1
    for d in shape:
        units *= int(d)
    return units


def stacked_pairs(graph: nx.DiGraph) -> list[tuple[str, str]]:
    """The ``lower -- upper`` pairs of an RBM or a stack of them (a DBN), bottom up: from the
    visible (``backfed``) group along the symmetric edges, each written lower group first."""
    up = {u: v for u, v in _symmetric_pairs(graph) if u != v}
    start = [u for u in up if graph.nodes[u]["cell"].backfed]
    pairs: list[tuple[str, str]] = []
    at = start[0] if start else None
    while at in up and len(pairs) < len(up):
        pairs.append((at, up[at]))
        at = up[at]
    return pairs


def _is_sigmoid_unit(graph: nx.DiGraph, n: str) -> bool:
    """A Bernoulli unit of an RBM: a probabilistic (Bernoulli) or plain hidden group with sigmoid units."""
    d = graph.nodes[n]
    cell, opts = d["cell"], d["options"]
    if opts.get("activation", "sigmoid" if cell.probabilistic else None) != "sigmoid":
        return False
    if cell.probabilistic:
        return opts.get("distribution", "bernoulli") == "bernoulli"
    return bool(cell.is_hidden and cell.is_plain)


def _asks_metric(opts: dict[str, Any], name: str) -> bool:
    metrics = opts.get("metrics")
    return name == metrics or (isinstance(metrics, list) and name in metrics)


def _check_stack(graph: nx.DiGraph, what: str) -> Iterator[tuple[str, str, str]]:
    """The symmetric edges form one chain up from a visible group, every upper group a layer of
    sigmoid (Bernoulli) units. (A pair written hidden group first, ``h -- v``, leaves ``h`` with
    no input: the graph's checks report it before any rule's.)"""
    pairs = _symmetric_pairs(graph)
    selfs = [u for u, v in pairs if u == v]
    if selfs:
        yield (
            selfs[0],
            f"{what} has no connections inside a layer, but '{selfs[0]}' is joined to itself",
            f"remove the edge `{selfs[0]} -- {selfs[0]}` (a Hopfield net or a Boltzmann machine has them)",
        )
        return
    stacked = stacked_pairs(graph)
    if len(stacked) != len(pairs):
        yield (
            "",
            f"{what}'s symmetric edges must form one chain up from its visible group",
            "join the layers in one line from the `backfed_input` group: `v -- h1 -- h2`",
        )
        return
    for _, v in stacked:
        if not _is_sigmoid_unit(graph, v):
            yield (
                v,
                f"'{v}' is a hidden layer of an RBM, whose units are Bernoulli (sigmoid) units",
                "make it `probabilistic_hidden` (distribution: bernoulli) or `hidden` with `activation: sigmoid`",
            )
    for u, _ in stacked[:1]:
        if graph.nodes[u]["options"].get("values", "binary") != "binary":
            yield u, "an RBM's visible units are binary {0, 1}", "remove `values: bipolar` (that is Hopfield's)"


def _check_cd(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    pairs = [
        (u, v) for u, v in _symmetric_pairs(graph) if _visible_hidden(graph.nodes[u]["cell"], graph.nodes[v]["cell"])
    ]
    if not pairs:
        yield (
            "",
            "contrastive divergence trains a visible -- hidden pair",
            ("join a `backfed_input` group and a `probabilistic_hidden` group with `v -- h`"),
        )
        return
    problems = list(_check_stack(graph, "an RBM"))
    yield from problems
    if problems:
        return
    if len(_symmetric_pairs(graph)) > 1:
        yield (
            "",
            "contrastive divergence trains one visible -- hidden pair (one `--` edge)",
            "keep one `v -- h` edge; train a stack of RBMs with `rule: greedy_layerwise` (a DBN)",
        )
        return
    ((v, h),) = stacked_pairs(graph)
    for n in graph.nodes:
        if n not in (v, h):
            yield (
                n,
                f"contrastive divergence trains only the pair {v} -- {h}; '{n}' would stay untrained",
                "remove it, or train a stack with a read-out with `rule: greedy_layerwise`",
            )
    if _asks_metric(opts, "log_likelihood"):
        sizes = {n: _units(graph, n) for n in (v, h)}
        known = {n: s for n, s in sizes.items() if s is not None}
        if len(known) == 2 and min(known.values()) > MAX_ENUMERATED_UNITS:
            small = min(known, key=lambda n: known[n])
            yield (
                "train.metrics",
                f"the exact log_likelihood sums over the 2^{known[small]} states of '{small}' (the smaller layer), "
                f"more than the 2^{MAX_ENUMERATED_UNITS} this computes",
                "ask for `pseudo_likelihood` instead (any size), or give the RBM a layer of at most "
                f"{MAX_ENUMERATED_UNITS} units",
            )


def _check_layerwise(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    problems = list(_check_stack(graph, "a deep belief network"))
    yield from problems
    if problems:
        return
    if len(stacked_pairs(graph)) < 2:
        yield (
            "",
            "greedy layer-wise training stacks at least two RBMs",
            "join three or more layers in a chain: `v -- h1 -- h2`",
        )
    labelled = [
        n
        for n, d in graph.nodes(data=True)
        if _is_label_output(d["cell"]) or (d["cell"].is_output and d["options"].get("target") == "labels")
    ]
    if not labelled:
        yield (
            "",
            "a deep belief network here is read out to classify, and it has no label output",
            "add an output read from the top layer, e.g. `y: {type: output, size: 10, activation: softmax}` "
            "and `top -> y`",
        )


def _check_readout(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    outputs = _cells(graph, _is_label_output)
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


def som_grid(text: Any, units: int) -> tuple[int, int] | None:
    """(rows, cols) of a SOM's ``train.grid`` (``"10x10"``; None: a square of ``units``), or None
    when the text is not ``ROWSxCOLS`` or there is no square."""
    if text is None:
        side = round(units**0.5)
        return (side, side) if side * side == units else None
    parts = str(text).lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def som_groups(graph: nx.DiGraph) -> tuple[str, str] | None:
    """(the input group, the map group) of a graph :func:`_check_som` accepts, else None."""
    maps = _cells(graph, lambda cell: cell.is_hidden and cell.is_plain)
    if len(maps) != 1:
        return None
    fed = _forward_in(graph, maps[0])
    return (fed[0], maps[0]) if len(fed) == 1 and graph.nodes[fed[0]]["cell"].is_source else None


def _check_ridge(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    yield from _check_readout(graph, opts)
    fed_back = [
        u
        for u, _, e in graph.edges(data=True)
        if graph.nodes[u]["cell"].is_output and e["kind"] != "symmetric" and (e["delay"] or e["feedback"])
    ]
    if opts.get("teacher_forcing") and not fed_back:
        yield (
            "",
            "`teacher_forcing: true` feeds the true targets back through the output's delayed edges, "
            "and no output is fed back",
            "add output feedback (e.g. `y ~> r`), or drop `teacher_forcing`",
        )


CLOSED_FORM: Final = ("least_squares", "ridge")
"""The rules a group may name beside ``train.rule: backprop``: read-outs solved once, in closed
form, before backprop trains the rest (``y: {type: output, rule: ridge}``)."""


def own_rules(graph: nx.DiGraph) -> dict[str, str]:
    """Each group that names a rule of its own (its ``rule:`` option) -> that rule."""
    return {n: str(d["options"]["rule"]) for n, d in graph.nodes(data=True) if d["options"].get("rule") is not None}


def closed_form_groups(graph: nx.DiGraph) -> dict[str, str]:
    """The groups solved in closed form beside backprop (:data:`CLOSED_FORM`) -> their rule."""
    return {n: r for n, r in own_rules(graph).items() if r in CLOSED_FORM}


def _read_by(graph: nx.DiGraph, node: str) -> set[str]:
    """Every group whose values reach ``node``, through forward and delayed edges."""
    directed = nx.subgraph_view(graph, filter_edge=lambda u, v: graph.edges[u, v]["kind"] != "symmetric")
    return nx.ancestors(directed, node)


def group_rule_problems(graph: nx.DiGraph, rule: str, opts: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """What makes a group's own ``rule:`` untrainable beside ``train.rule`` (``rule``): a closed-form
    read-out is linear, reads only fixed groups (backprop would change the features under weights
    solved once) and feeds no group backprop trains (backprop would see a target that moves)."""
    mixed = closed_form_groups(graph)
    for n, own in own_rules(graph).items():
        if own != rule and rule != "backprop":
            yield (
                n,
                f"'{n}' says `rule: {own}`, and a group's own rule goes beside `train.rule: backprop` only "
                f"(this spec trains with `rule: {rule}`)",
                f"drop `rule: {own}` from '{n}' (it inherits `train.rule`), or train with `rule: backprop`",
            )
    if rule != "backprop":
        return
    for n, own in mixed.items():
        d = graph.nodes[n]
        if d["options"].get("activation") not in ("linear", None):
            yield (
                n,
                f"a `rule: {own}` read-out is linear, and '{n}' is {d['options']['activation']}",
                (f"set `activation: linear` on '{n}'"),
            )
        for u in sorted(_read_by(graph, n)):
            if graph.nodes[u]["cell"].is_source or not graph.nodes[u]["trainable"]:
                continue
            yield (
                n,
                (f"'{n}' is solved once (`rule: {own}`) on the values of '{u}', which backprop would then change"),
                f"mark '{u}' `trainable: false` (a fixed reservoir or random layer), or drop `rule: {own}` from '{n}'",
            )
        fed = sorted(
            v
            for _, v, e in graph.out_edges(n, data=True)
            if e["kind"] != "symmetric" and v != n and graph.nodes[v]["trainable"] and v not in mixed
        )
        for v in fed:
            yield (
                n,
                (f"'{n}' (`rule: {own}`) feeds '{v}', which backprop trains while '{n}' is solved apart"),
                f"drop the edge from '{n}' to '{v}' (feed '{v}' from the fixed groups), or drop `rule: {own}` from '{n}'",
            )
    if opts.get("teacher_forcing") and "ridge" in mixed.values():
        fed_back = {
            u for u, _, e in graph.edges(data=True) if e["kind"] != "symmetric" and (e["delay"] or e["feedback"])
        }
        if not fed_back & {n for n, r in mixed.items() if r == "ridge"}:
            yield (
                "train.teacher_forcing",
                (
                    "`teacher_forcing: true` feeds the true targets back through a ridge output's delayed edges, "
                    "and no `rule: ridge` output is fed back"
                ),
                "add output feedback (e.g. `y ~> r`), or drop `teacher_forcing`",
            )


def _check_som(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    maps = _cells(graph, lambda cell: cell.is_hidden and cell.is_plain)
    if len(maps) != 1:
        yield (
            "",
            f"a self-organising map has one map group; found {len(maps)} hidden groups",
            "keep one `hidden` group fed by the inputs",
        )
        return
    m = maps[0]
    others = [n for n, d in graph.nodes(data=True) if not d["cell"].is_source and n != m]
    if others:
        yield (
            others[0],
            f"a self-organising map trains its map group alone; '{others[0]}' would stay untrained",
            f"remove '{others[0]}' (the map's units are its output: `model.predict` gives their distances)",
        )
    if som_groups(graph) is None:
        yield m, "the map is fed by one input group, straight", f"feed '{m}' from exactly one input: `x -> {m}`"
    options = graph.nodes[m]["options"]  # a bias (use_bias) is left unused: a unit is its weight vector
    if options.get("window") is not None:
        yield m, "a map unit sees the whole input, not a window", "remove `window:` from the map group"
    units = 1
    for d in graph.nodes[m].get("shape") or ():
        units *= int(d)
    grid = som_grid(opts.get("grid"), units)
    if opts.get("grid") is None and grid is None:
        yield (
            "train.rule",
            f"the map's {units} units make no square grid",
            f'give the layout, e.g. `grid: "{units}x1"` (rows x cols, rows * cols = {units})',
        )
    elif grid is None:
        yield "train.grid", f"expected 'ROWSxCOLS', got {opts.get('grid')!r}", f'write e.g. `grid: "{units}x1"`'
    elif grid[0] * grid[1] != units:
        yield (
            "train.grid",
            f"a {grid[0]}x{grid[1]} grid has {grid[0] * grid[1]} places but the map group '{m}' has {units} units",
            f"make rows * cols = {units}, or set the size of '{m}' to {grid[0] * grid[1]}",
        )
    if opts.get("batch_size", 1) != 1:
        yield (
            "train.batch_size",
            "the SOM learns online, one point per step",
            "set `batch_size: 1` (or leave it out); `steps` counts single-point updates",
        )


ADVERSARIAL: Final = "adversarial"
"""The GAN's rule and its loss, one name for both."""

DRAWN: Final = ("uniform", "normal")
"""The `distribution:` values of an input that draws its own values (noise), never fed by data:
``uniform`` on [-1, 1], ``normal`` N(0, 1)."""


def drawn_sources(graph: nx.DiGraph) -> dict[str, str]:
    """Input groups that draw their own values (a GAN's noise): group -> distribution."""
    return {
        n: d["options"]["distribution"]
        for n, d in graph.nodes(data=True)
        if d["cell"].is_source and d["options"].get("distribution") in DRAWN
    }


def fed_back_inputs(graph: nx.DiGraph) -> dict[str, tuple[str, ...]]:
    """Input groups fed by delayed edges (a DNC's read vectors, ``m ~> r``): group -> the groups
    whose previous step's values, concatenated as they are, are its value. The data hold none."""
    fed: dict[str, list[str]] = {}
    for u, v, e in graph.edges(data=True):
        if graph.nodes[v]["cell"].is_source and e["kind"] != "symmetric" and (e["delay"] or e["feedback"]):
            fed.setdefault(v, []).append(u)
    return {n: tuple(us) for n, us in fed.items()}


@dataclass(frozen=True)
class Adversaries:
    """The two networks of `rule: adversarial`, read from one graph.

    Attributes:
        generator: the generator part's groups; ``discriminator``: the discriminator's.
        sample: the generator's group the discriminator reads -- where real data enter too.
        verdict: the discriminator's one output unit, P(real).
        noise: the generator's drawn inputs.
    """

    generator: tuple[str, ...]
    discriminator: tuple[str, ...]
    sample: str
    verdict: str
    noise: tuple[str, ...]


def _part(graph: nx.DiGraph, name: Any) -> tuple[str, ...]:
    return tuple(n for n, d in graph.nodes(data=True) if (d["origin"] or "").split(".")[0] == name)


def adversaries(graph: nx.DiGraph) -> Adversaries | None:
    """The generator and discriminator of a spec trained with `rule: adversarial` (None for another
    rule, or a graph that :func:`_check_adversarial` refuses)."""
    spec = graph.graph.get("spec")
    train = spec.train if spec is not None else {}
    if train.get("rule") != ADVERSARIAL:
        return None
    problems = list(_check_adversarial(graph, dict(train)))
    if problems:
        return None
    gen, dis = _part(graph, train["generator"]), _part(graph, train["discriminator"])
    noise = tuple(n for n in gen if n in drawn_sources(graph))
    return Adversaries(gen, dis, _samples(graph, gen, dis)[0], _verdicts(graph, dis)[0], noise)


def _samples(graph: nx.DiGraph, gen: tuple[str, ...], dis: tuple[str, ...]) -> list[str]:
    """The generator's groups the discriminator reads."""
    return sorted({u for u, v in graph.edges() if u in gen and v in dis})


def _verdicts(graph: nx.DiGraph, dis: tuple[str, ...]) -> list[str]:
    """The discriminator's output groups."""
    return [n for n in dis if graph.nodes[n]["cell"].is_output]


def _check_adversarial(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    origins = {d["origin"].split(".")[0] for _, d in graph.nodes(data=True) if d["origin"]}
    named = True
    for key in ("generator", "discriminator"):
        name = opts.get(key)
        if name is None:
            named = False
            yield (
                "",
                f"adversarial training needs `{key}:`",
                f"name the `use:` group of the {key}, e.g. `{key}: {key[:3]}`",
            )
        elif not isinstance(name, str):
            named = False  # already refused by the option's kind ("expected a group name"); a list is unhashable
        elif name not in origins:
            named = False
            yield (
                "",
                f"`{key}: {name}` names no composed part",
                "known parts: " + (", ".join(sorted(origins)) or "(none)"),
            )
    if not named:
        return
    gen, dis = _part(graph, opts["generator"]), _part(graph, opts["discriminator"])
    if opts["generator"] == opts["discriminator"]:
        yield "", "the generator and the discriminator are the same part", "name two different `use:` groups"
        return
    samples = _samples(graph, gen, dis)
    if len(samples) != 1:
        found = ", ".join(samples) or "none"
        yield (
            "",
            f"the discriminator must read exactly one group of the generator (its sample); found {found}",
            "bind the discriminator's input to the generator's output, e.g. `bind: {x: gen.sample}`",
        )
    if any(u not in gen for s in samples for u in graph.predecessors(s)) or any(
        v not in dis and v not in gen for s in samples for v in graph.successors(s)
    ):
        yield (
            samples[0],
            "the generator's sample must be computed by the generator alone and read by the discriminator",
            "keep every other group's edges away from the sample group",
        )
    noise = [n for n in gen if n in drawn_sources(graph)]
    fed = [n for n in gen if graph.nodes[n]["cell"].is_source and n not in noise]
    if not noise:
        yield (
            "",
            "the generator has no noise input",
            "give its input `distribution: uniform` (or `normal`): a GAN draws its latent noise itself",
        )
    if fed:
        yield (
            fed[0],
            f"the generator's input '{fed[0]}' is fed from data; only drawn noise may enter the generator here",
            "give it `distribution: uniform` or `normal` (conditional GANs are not supported yet)",
        )
    if any(graph.nodes[n]["cell"].is_source for n in dis):
        first = next(n for n in dis if graph.nodes[n]["cell"].is_source)
        yield (
            first,
            "the discriminator has an input of its own; it reads only the samples (generated or real)",
            "bind its input to the generator's sample with `bind:`",
        )
    verdicts = _verdicts(graph, dis)
    if len(verdicts) != 1:
        yield (
            "",
            f"the discriminator must have one output group (its verdict); found {len(verdicts)}",
            "end the discriminator in one output of size 1 with `activation: sigmoid`",
        )
    else:
        v = graph.nodes[verdicts[0]]
        if tuple(v["shape"] or ()) != (1,) or v["options"].get("activation") != "sigmoid":
            yield (
                verdicts[0],
                "the discriminator's verdict must be one sigmoid unit, P(real)",
                "give it `size: 1, activation: sigmoid`",
            )


def _check_counting(graph: nx.DiGraph, opts: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    states = [
        n
        for n in _cells(graph, lambda cell: cell.probabilistic)
        if graph.nodes[n]["options"].get("distribution") == "categorical"
    ]
    if not states:
        yield (
            "",
            "a Markov chain's states are a categorical group",
            "add `distribution: categorical` to its `probabilistic_hidden` group",
        )
        return
    for n in graph.nodes:
        if n != states[0]:
            yield n, f"a Markov chain is its one group of states, and '{n}' is another group", f"remove '{n}'"
    s = states[0]
    if not any(u == v == s and d["delay"] > 0 for u, v, d in graph.edges(data=True)):
        yield (
            s,
            f"the chain's next state is drawn from a row of the transition matrix: '{s}' needs a delayed edge to itself",
            f"add the edge `{s} ~> {s}`",
        )


def _counting_fed(graph: nx.DiGraph) -> tuple[Fed, ...]:
    """A chain's walk: ``x`` one-hot states per step into the chain's group, ``y`` the next ids."""
    states = [
        n
        for n in _cells(graph, lambda cell: cell.probabilistic)
        if graph.nodes[n]["options"].get("distribution") == "categorical"
    ]
    return (Fed(states[0], "x", timed=True), Fed(states[0], "y", "classes", True)) if states else ()


_LR = Option(FloatRange(0.0, lo_open=True), 0.1, "learning rate of the rule")

RULES: Final[dict[str, Rule]] = {
    r.name: r
    for r in (
        Rule(
            "backprop",
            "gradient descent on the loss with an optax optimizer (through time where there is time)",
            {
                "factors": Option(
                    Nullable(FactorsKind()),
                    None,
                    "Kulkarni et al. 2015's scheme for a Gaussian code: each batch varies one factor of the "
                    "data (meta['factors_train']), and the code units not assigned to it are clamped to the "
                    "batch mean (pulled to it by their deviation); {code: z, units: {x: 0, size: 1}}",
                ),
            },
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
            {
                "sweeps": Option(
                    IntRange(1, 10000), 50, "most recall sweeps (recall stops at a sweep that changes nothing)"
                ),
                "synchronous": Option(Bool(), False, "recall updates every unit at once instead of one by one"),
            },
            _check_hebbian,
            fed=_hebbian_fed,
        ),
        Rule(
            "boltzmann",
            "Boltzmann learning: <s_i s_j> clamped minus free, by exact enumeration or annealed Gibbs sampling",
            {
                "learning_rate": _LR,
                "exact": Option(Bool(), True, "enumerate all states (small nets) instead of sampling"),
                "restarts": Option(
                    IntRange(1, 1024),
                    1,
                    "independent starts trained side by side; the one with the highest log-likelihood is kept",
                ),
                "init_std": Option(FloatRange(0.0, lo_open=True), 0.01, "standard deviation of the starting weights"),
                "chains": Option(IntRange(1, 100000), 16, "sampled chains per example and free chains (exact: false)"),
                "sweeps": Option(IntRange(2, 100000), 20, "Gibbs sweeps per phase, half cooling (exact: false)"),
                "temperature": Option(FloatRange(1.0), 10.0, "starting temperature of the anneal (exact: false)"),
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
                "momentum": Option(
                    FloatRange(0.0, 1.0, hi_open=True),
                    0.9,
                    "momentum of the layers' CD updates (Hinton 2010's practical guide: 0.9)",
                ),
                "finetune": Option(Bool(), False, "fine-tune the stack by backprop afterwards"),
            },
            _check_layerwise,
            True,  # the read-out and the fine-tuning are backprop with the spec's optimizer
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
                "batch": Option(
                    Bool(),
                    False,
                    "Kohonen's batch map instead: each pass sets every unit to the neighbourhood-weighted "
                    "mean of the points (no learning rate; sigma decays over the points visited)",
                ),
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
            _check_ridge,
        ),
        Rule(
            "adversarial",
            "alternate discriminator and generator updates (non-saturating GAN loss)",
            {
                "generator": Option(Name(), None, "the generator's `use:` group"),
                "discriminator": Option(Name(), None, "the discriminator's `use:` group"),
                "d_steps": Option(IntRange(1, 100), 1, "discriminator steps per generator step"),
                "ema": Option(
                    FloatRange(0.0, 1.0, hi_open=True),
                    0.0,
                    "decay of the running average of the generator's weights kept as its parameters "
                    "(Yazici et al. 2019; 0: the last weights)",
                ),
            },
            _check_adversarial,
            True,
        ),
        Rule(
            "counting",
            "maximum-likelihood transition probabilities by counting transitions",
            {"smoothing": Option(FloatRange(0.0), 0.0, "pseudo-count added to every transition")},
            _check_counting,
            fed=_counting_fed,
        ),
    )
}

IMPLEMENTED: Final = "implemented"
PLANNED: Final = "planned"


@dataclass(frozen=True)
class Loss(Mapping[str, Option]):
    """A loss as validation sees it: its options, and whether anything computes it yet.

    ``status`` is :data:`IMPLEMENTED` (``cellgraph.compiler.losses.LOSS_FNS`` holds it under the
    same name: the name is the pointer, resolved when a model is compiled, like Optax's aliases)
    or :data:`PLANNED`: the name validates, so a spec can be written and drawn today, but
    training refuses it with a located error that says ``meanwhile`` -- never a silent stand-in.
    The record reads as its options mapping, so option checks and the docs see it as before.
    """

    name: str
    doc: str
    options: dict[str, Option] = field(default_factory=dict)
    status: str = IMPLEMENTED
    meanwhile: str = ""  # for a planned loss: what to train with until it arrives
    labels: bool = False  # reads the targets as classes (ids, or 0/1 for one unit): accuracy by default
    composite: bool = False  # no function of one output: the compiler assembles it from its terms

    def __getitem__(self, key: str) -> Option:
        return self.options[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)


@dataclass(frozen=True)
class Metric:
    """A metric as validation sees it: what it measures, where it applies, whether it exists yet.

    An implemented metric has a function of the same name in
    ``cellgraph.compiler.losses.METRIC_FNS`` (``applies`` says for which outputs it is defined; a
    spec that asks for it elsewhere is refused when training starts). A planned one validates and
    is refused at training time with ``meanwhile``.
    """

    name: str
    doc: str
    applies: str = "every network"
    status: str = IMPLEMENTED
    meanwhile: str = ""


_PER_UNIT: Final = "outputs with a target value per unit: regression, one unit, bits, a reconstruction"

_LOSS_TARGET: Final = Option(Name(), None, "the input group reconstructed (default: the match cell's target)")

LOSSES: Final[dict[str, Loss]] = {
    loss.name: loss
    for loss in (
        Loss(
            "cross_entropy",
            "softmax cross-entropy on integer class labels, from the logits",
            {"label_smoothing": Option(FloatRange(0.0, 1.0), 0.0, "label smoothing")},
            labels=True,
        ),
        Loss("bce", "binary cross-entropy on 0/1 targets (from the logits of a sigmoid output)", labels=True),
        Loss("mse", "mean squared error"),
        Loss("mae", "mean absolute error"),
        Loss(
            "huber",
            "Huber loss: squared below `delta`, linear above",
            {"delta": Option(FloatRange(0.0, lo_open=True), 1.0, "quadratic zone")},
        ),
        Loss(
            "reconstruction",
            "error of each match-input-output group against the clean input it reconstructs",
            {
                "error": Option(Choice(("mse", "bce")), "mse", "per-element reconstruction error"),
                "sparsity": Option(
                    FloatRange(0.0, 1.0, lo_open=True, hi_open=True),
                    0.05,
                    "target mean activation of the code (sparse AE)",
                ),
                "sparsity_weight": Option(FloatRange(0.0), 0.0, "weight of the KL sparsity penalty (0: none)"),
                "activity_weight": Option(
                    FloatRange(0.0),
                    0.0,
                    "weight of the per-input penalty sum_j log(1 + h_j / 0.01) on the sigmoid code: few units "
                    "on for each input (sparse AE; 0: none)",
                ),
                "target": _LOSS_TARGET,
            },
            composite=True,
        ),
        Loss(
            "elbo",
            "negative evidence lower bound: reconstruction plus beta x the KL of the Gaussian code (VAE)",
            {
                "beta": Option(FloatRange(0.0), 1.0, "weight of the KL term"),
                "error": Option(Choice(("mse", "bce")), "bce", "reconstruction likelihood"),
                "target": _LOSS_TARGET,
            },
            composite=True,
        ),
        Loss(
            "margin",
            "the capsule margin loss (Sabour et al. 2017), a squared hinge per class on integer labels: "
            "T_k max(0, m_plus - s_k)^2 + down_weight (1 - T_k) max(0, s_k - m_minus)^2 summed over the "
            "output's units s_k (capsule lengths, or one unit for two classes), plus "
            "reconstruction_weight x the summed squared error of any reconstruction output",
            {
                "m_plus": Option(FloatRange(0.0, 1.0), 0.9, "target length of the true class"),
                "m_minus": Option(FloatRange(0.0, 1.0), 0.1, "ceiling for other classes"),
                "down_weight": Option(FloatRange(0.0), 0.5, "weight of absent classes"),
                "reconstruction_weight": Option(FloatRange(0.0), 0.0005, "weight of the decoder loss"),
                "labels": Option(
                    Name(),
                    None,
                    "the capsule group whose lengths are scored against the labels (default: the one capsule "
                    "group feeding no other, when no output reads the labels)",
                ),
            },
            labels=True,
        ),
        Loss(
            "adversarial",
            "the GAN losses of `rule: adversarial`: the discriminator minimises -log D(x) - log(1 - D(G(z))), "
            "the generator the non-saturating -log D(G(z)); as one figure, their sum",
            composite=True,
        ),
        Loss(
            "none",
            "no loss of its own: the learning rule has its own objective (energy-based, counting)",
            composite=True,
        ),
    )
}
"""Every loss a spec may name (``train.loss``), implemented or planned."""

METRICS: Final[dict[str, Metric]] = {
    m.name: m
    for m in (
        Metric(
            "accuracy",
            "share of predictions equal to the label (argmax of several units, a threshold on one)",
            "class-label outputs (cross_entropy, bce, margin, step or sign units), or any output asked by name",
        ),
        Metric(
            "argmax_accuracy",
            "share of examples whose largest unit is the target's largest (a one-hot reconstruction)",
            _PER_UNIT,
        ),
        Metric("mse", "mean squared error", _PER_UNIT),
        Metric("mae", "mean absolute error", _PER_UNIT),
        Metric("rmse", "root of the mean squared error", _PER_UNIT),
        Metric(
            "nrmse",
            "rmse over the targets' standard deviation: sqrt(mean squared error / variance of the target)",
            _PER_UNIT,
        ),
        Metric(
            "r2",
            "coefficient of determination 1 - SSE / SST (1: perfect, 0: no better than the mean)",
            _PER_UNIT,
        ),
        Metric(
            "within_tolerance",
            "share of examples whose every output is within `tolerance` of its target",
            _PER_UNIT,
        ),
        Metric(
            "bit_errors",
            "wrong bits per example (per sequence), each unit thresholded like `accuracy` does",
            "outputs whose targets are bits shaped like the output (bce, copy tasks, one-unit outputs)",
        ),
        Metric(
            "token_accuracy",
            "share of label positions (tokens, time steps) predicted right",
            "class-label outputs (cross_entropy, bce, margin, step or sign units)",
        ),
        Metric(
            "log_likelihood",
            "mean log-likelihood of the held-out data under the model, in nats: exact for an RBM or a "
            "Boltzmann machine small enough to enumerate, the transitions' log-probability for a Markov chain",
            "networks trained with `rule: counting`, `contrastive_divergence` or `boltzmann`",
        ),
        Metric(
            "pseudo_likelihood",
            "mean log pseudo-likelihood of the data, sum_i log p(v_i | the other units), in nats (the "
            "expectation of scikit-learn's BernoulliRBM.score_samples); any size of RBM",
            "networks trained with `rule: contrastive_divergence`",
        ),
        Metric("reconstruction_error", "mean squared error of a reconstruction", "reconstruction outputs"),
        Metric("elbo", "the evidence lower bound (minus the loss)", "`loss: elbo` with a Gaussian code"),
        Metric("kl", "mean KL divergence of the Gaussian code from the prior", "`loss: elbo` with a Gaussian code"),
        Metric(
            "quantization_error",
            "mean distance from each input to its best-matching map unit",
            "networks trained with `rule: som`",
        ),
        Metric(
            "topographic_error",
            "share of inputs whose two best-matching units are not grid neighbours (diagonals count)",
            "networks trained with `rule: som`",
        ),
        Metric(
            "ks_statistic",
            "two-sample Kolmogorov-Smirnov distance between generated samples and the data (the largest "
            "over a sample's values, each compared as a 1-D distribution); as many samples as data rows",
            applies="networks trained with `rule: adversarial`",
        ),
        Metric(
            "spearman",
            "rank correlation of a code unit with a true factor of the data (e.g. a square's x-position)",
            status=PLANNED,
            meanwhile="batches carry no factors yet; compute it from `model.forward` and the data set's "
            "`meta['factors_test']`",
        ),
    )
}
"""Every metric a spec may ask for (``train.metrics``), implemented or planned."""

SCHEDULES: Final = (
    # optax's learning-rate schedules (optax/schedules), usable as `learning_rate: {schedule: ...}`
    "constant", "linear", "cosine_decay", "exponential_decay", "polynomial", "piecewise_constant",
    "warmup_cosine_decay", "warmup_exponential_decay", "cosine_onecycle", "linear_onecycle",
)  # fmt: skip

# ------------------------------------------------------------------------ optimizer arguments
# What `optimizer: {name: ..., arg: value}` may say, checked at validation without importing optax:
# `validate` saying ok means `train` builds the optimizer. The names mirror optax's signatures
# (tests/test_text_safety.py compares them with the installed optax); the ranges are the ones
# under which the update is defined: moment decays in [0, 1), eps > 0, penalties >= 0.

_RATE = FloatRange(0.0, lo_open=True)  # (0, inf): a step size
_DECAY = FloatRange(0.0, 1.0, hi_open=True)  # [0, 1): a moment's decay (b1, b2, momentum, rho, ...)
_POSITIVE = FloatRange(0.0, lo_open=True)
_NONNEG = FloatRange(0.0)
_REAL = FloatRange()

OPTIMIZER_ARG_KINDS: Final[dict[str, OptionKind]] = {
    "learning_rate": _RATE,
    "max_learning_rate": _RATE,
    **dict.fromkeys(("b1", "b2", "b3", "momentum", "decay", "rho", "decay_rate"), _DECAY),
    "eps": _POSITIVE,
    **dict.fromkeys(("eps_root", "weight_decay", "weight_decay_rate", "initial_accumulator_value"), _NONNEG),
    **dict.fromkeys(("initial_scale", "eta", "gamma"), _NONNEG),
    **dict.fromkeys(("min_norm", "trust_coefficient", "scaling", "clipping_threshold"), _POSITIVE),
    **dict.fromkeys(("min_step_size", "max_step_size"), _POSITIVE),
    **dict.fromkeys(("alpha", "beta", "f_min", "threshold"), _REAL),
    "eta_minus": FloatRange(0.0, 1.0, lo_open=True, hi_open=True),
    "eta_plus": FloatRange(1.0, lo_open=True),
    "variant": Choice(("sps", "sps+")),
    **dict.fromkeys(("min_dim_size_to_factor", "memory_size"), IntRange(1)),
    **dict.fromkeys(("decay_offset", "seed"), IntRange(0)),
    **dict.fromkeys(
        (
            "nesterov",
            "multiply_by_parameter_scale",
            "factored",
            "scale_init_precond",
            "eps_in_sqrt",
            "centered",
            "bias_correction",
            "bias_correction_mu",
            "bias_correction_nu",
            "trust_ratio_mask",
        ),
        Bool(),
    ),  # fmt: skip
}
"""The kind of each optimizer argument a spec may set, by name (see :data:`OPTIMIZER_ARGS`)."""

OPTIMIZER_ARG_OVERRIDES: Final[dict[tuple[str, str], OptionKind]] = {
    ("lars", "eps"): _NONNEG,  # optax's default is 0 there
    ("polyak_sgd", "eps"): _NONNEG,
    ("lars", "weight_decay_mask"): Bool(),  # a pytree mask elsewhere; lars also takes true / false
}

OPTIMIZER_ARGS: Final[dict[str, tuple[str, ...]]] = {
    "adabelief": ("learning_rate", "b1", "b2", "eps", "eps_root", "nesterov"),
    "adadelta": ("learning_rate", "rho", "eps", "weight_decay", "weight_decay_mask"),
    "adafactor": (
        "learning_rate", "min_dim_size_to_factor", "decay_rate", "decay_offset", "multiply_by_parameter_scale",
        "clipping_threshold", "momentum", "dtype_momentum", "weight_decay_rate", "eps", "factored",
        "weight_decay_mask",
    ),
    "adagrad": ("learning_rate", "initial_accumulator_value", "eps"),
    "adam": ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype", "nesterov"),
    "adamax": ("learning_rate", "b1", "b2", "eps"),
    "adamaxw": ("learning_rate", "b1", "b2", "eps", "weight_decay", "mask"),
    "adamw": ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype", "weight_decay", "mask", "nesterov"),
    "adan": ("learning_rate", "b1", "b2", "b3", "eps", "eps_root", "weight_decay", "mask"),
    "amsgrad": ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype", "bias_correction_mu", "bias_correction_nu"),
    "fromage": ("learning_rate", "min_norm"),
    "lamb": ("learning_rate", "b1", "b2", "eps", "eps_root", "weight_decay", "mask"),
    "lars": (
        "learning_rate", "weight_decay", "weight_decay_mask", "trust_coefficient", "eps", "trust_ratio_mask",
        "momentum", "nesterov",
    ),
    "lbfgs": ("learning_rate", "memory_size", "scale_init_precond", "linesearch"),
    "lion": ("learning_rate", "b1", "b2", "mu_dtype", "weight_decay", "mask"),
    "nadam": ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype", "nesterov"),
    "nadamw": ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype", "weight_decay", "mask", "nesterov"),
    "noisy_sgd": ("learning_rate", "eta", "gamma", "key", "seed"),
    "novograd": ("learning_rate", "b1", "b2", "eps", "eps_root", "weight_decay"),
    "optimistic_gradient_descent": ("learning_rate", "alpha", "beta"),
    "polyak_sgd": ("max_learning_rate", "scaling", "f_min", "eps", "variant"),
    "radam": ("learning_rate", "b1", "b2", "eps", "eps_root", "threshold", "nesterov"),
    "rmsprop": (
        "learning_rate", "decay", "eps", "initial_scale", "eps_in_sqrt", "centered", "momentum", "nesterov",
        "bias_correction",
    ),
    "rprop": ("learning_rate", "eta_minus", "eta_plus", "min_step_size", "max_step_size"),
    "sgd": ("learning_rate", "momentum", "nesterov", "accumulator_dtype"),
    "sm3": ("learning_rate", "momentum"),
    "yogi": ("learning_rate", "b1", "b2", "eps"),
}  # fmt: skip
"""Every argument of each optax optimizer, in optax's order; those without a kind (dtypes, masks,
line searches, PRNG keys) take Python objects and cannot be set from a spec."""

OPTIMIZERS: Final = tuple(OPTIMIZER_ARGS)
"""optax's optimizer aliases (optax/_src/alias.py); kept static so validation needs no JAX."""

OPTIMIZER_NULLABLE: Final = frozenset(
    {
        ("adadelta", "learning_rate"), ("adafactor", "learning_rate"), ("lbfgs", "learning_rate"),
        ("adafactor", "momentum"), ("adafactor", "weight_decay_rate"),
        ("rmsprop", "momentum"), ("sgd", "momentum"), ("noisy_sgd", "seed"),
    }
)  # fmt: skip
"""(optimizer, argument) pairs whose optax default is None, so `null` is a value they accept."""

_STEPS = IntRange(1)
_STEP = IntRange(0)
SCHEDULE_ARGS: Final[dict[str, dict[str, OptionKind]]] = {
    "constant": {"value": _NONNEG},
    "linear": {"init_value": _NONNEG, "end_value": _NONNEG, "transition_steps": _STEPS, "transition_begin": _STEP},
    "cosine_decay": {"init_value": _NONNEG, "decay_steps": _STEPS, "alpha": FloatRange(0.0, 1.0), "exponent": _POSITIVE},
    "exponential_decay": {
        "init_value": _NONNEG, "transition_steps": _STEPS, "decay_rate": _POSITIVE, "transition_begin": _STEP,
        "staircase": Bool(), "end_value": _NONNEG,
    },
    "polynomial": {
        "init_value": _NONNEG, "end_value": _NONNEG, "power": _POSITIVE, "transition_steps": _STEPS,
        "transition_begin": _STEP,
    },
    "piecewise_constant": {"init_value": _NONNEG, "boundaries_and_scales": Text()},  # checked on its own
    "warmup_cosine_decay": {
        "init_value": _NONNEG, "peak_value": _POSITIVE, "warmup_steps": _STEP, "decay_steps": _STEPS,
        "end_value": _NONNEG, "exponent": _POSITIVE,
    },
    "warmup_exponential_decay": {
        "init_value": _NONNEG, "peak_value": _POSITIVE, "warmup_steps": _STEP, "transition_steps": _STEPS,
        "decay_rate": _POSITIVE, "transition_begin": _STEP, "staircase": Bool(), "end_value": _NONNEG,
    },
    "cosine_onecycle": {
        "transition_steps": _STEPS, "peak_value": _POSITIVE, "pct_start": FloatRange(0.0, 1.0, lo_open=True, hi_open=True),
        "div_factor": _POSITIVE, "final_div_factor": _POSITIVE,
    },
    "linear_onecycle": {
        "transition_steps": _STEPS, "peak_value": _POSITIVE, "pct_start": FloatRange(0.0, 1.0, lo_open=True, hi_open=True),
        "pct_final": FloatRange(0.0, 1.0, lo_open=True, hi_open=True), "div_factor": _POSITIVE,
        "final_div_factor": _POSITIVE,
    },
}  # fmt: skip
"""Each optax schedule's arguments (``optax.<name>_schedule``) and their kinds."""

SCHEDULE_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "constant": ("value",),
    "linear": ("init_value", "end_value", "transition_steps"),
    "cosine_decay": ("init_value", "decay_steps"),
    "exponential_decay": ("init_value", "transition_steps", "decay_rate"),
    "polynomial": ("init_value", "end_value", "power", "transition_steps"),
    "piecewise_constant": ("init_value",),
    "warmup_cosine_decay": ("init_value", "peak_value", "warmup_steps", "decay_steps"),
    "warmup_exponential_decay": ("init_value", "peak_value", "warmup_steps", "transition_steps", "decay_rate"),
    "cosine_onecycle": ("transition_steps", "peak_value"),
    "linear_onecycle": ("transition_steps", "peak_value"),
}

OTHER_LIBRARY_NAMES: Final = {"lr": "learning_rate", "beta1": "b1", "beta2": "b2", "epsilon": "eps"}
"""Argument names from PyTorch and Keras -> optax's, for the "did you mean" of an unknown argument."""

ArgProblem = tuple[tuple[str | int, ...], str, str]
"""(key path below ``train.optimizer``, problem, fix)."""


def optimizer_arg_kind(optimizer: str, arg: str) -> OptionKind | None:
    """The kind of an argument a spec may give ``optimizer``, or None when a spec cannot set it."""
    return OPTIMIZER_ARG_OVERRIDES.get((optimizer, arg)) or OPTIMIZER_ARG_KINDS.get(arg)


def _is_numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


_EXAMPLES: Final = {
    "learning_rate": "0.001", "b1": "0.9", "b2": "0.999", "momentum": "0.9", "decay": "0.9", "rho": "0.9",
    "eps": "1.0e-8", "weight_decay": "0.0001", "init_value": "0.001", "peak_value": "0.01", "end_value": "0.0",
    "decay_steps": "1000", "transition_steps": "1000", "warmup_steps": "100",
}  # fmt: skip


def _value_problem(kind: OptionKind, key: str | int, value: Any) -> tuple[str, str] | None:
    if _is_numeric_text(value) and not isinstance(kind, Choice):
        return f"{word(value)} is text, not a number", f"write it without quotes, e.g. `{key}: {value.strip()}`"
    problem = kind.check(value)
    if not problem:
        return None
    example = _EXAMPLES.get(str(key))
    return problem, f"`{key}` takes {kind.describe()}" + (f", e.g. `{key}: {example}`" if example else "")


def optimizer_problems(opt: Any) -> Iterator[ArgProblem]:
    """Every problem of an ``optimizer:`` value: its name, its arguments' names, kinds and ranges.

    Pure and static (no optax), so validation and :mod:`cellgraph.train.optim` share it.

    >>> [m for _, m, _ in optimizer_problems({"name": "sgd", "learning_rate": -0.1, "momentum": 0.9})]
    ['expected a number in (0, inf], got -0.1']
    """
    if isinstance(opt, str) or opt is None:
        name: Any = opt
    elif isinstance(opt, Mapping):
        name = opt.get("name")
    else:
        yield (
            (),
            f"expected an optimizer name or a mapping, got {word(opt)}",
            "write `optimizer: adam` or `optimizer: {name: adam, learning_rate: 0.001}`",
        )
        return
    if not isinstance(name, str) or name not in OPTIMIZER_ARGS:
        yield (
            () if isinstance(opt, str) else ("name",),
            f"unknown optax optimizer {word(name)}{did_you_mean(str(name), OPTIMIZER_ARGS)}",
            "write `optimizer: adam` or `optimizer: {name: adam, learning_rate: 0.001}`; optimizers: "
            + ", ".join(OPTIMIZER_ARGS),
        )
        return
    if not isinstance(opt, Mapping):
        return
    accepted = OPTIMIZER_ARGS[name]
    settable = [a for a in accepted if optimizer_arg_kind(name, a) is not None]
    for key, value in opt.items():
        if key == "name":
            continue
        path: tuple[str | int, ...] = (key,)
        if key not in accepted:
            other = OTHER_LIBRARY_NAMES.get(str(key))
            hint = f"; did you mean '{other}'?" if other in accepted else did_you_mean(str(key), settable)
            yield (
                path,
                f"optax.{name} has no argument {word(key)}{hint}",
                f"arguments of optax.{name}: {', '.join(settable)}",
            )
            continue
        kind = optimizer_arg_kind(name, key)
        if kind is None:
            yield (
                path,
                f"optax.{name}'s argument '{key}' takes a Python object (a dtype, mask or function); a spec cannot set it",
                f"remove `{key}:`; arguments a spec can set: {', '.join(settable)}",
            )
            continue
        if value is None and (name, key) in OPTIMIZER_NULLABLE:
            continue
        if key == "learning_rate" and isinstance(value, Mapping):
            yield from (((key, *p), m, f) for p, m, f in schedule_problems(value))
            continue
        problem = _value_problem(kind, key, value)
        if problem:
            yield path, *problem


def schedule_problems(value: Mapping[str, Any]) -> Iterator[ArgProblem]:
    """Problems of a learning-rate schedule mapping ``{schedule: cosine_decay, init_value: ..., ...}``."""
    kind = value.get("schedule")
    if not isinstance(kind, str) or kind not in SCHEDULE_ARGS:
        yield (
            ("schedule",),
            f"unknown optax schedule {word(kind)}{did_you_mean(str(kind), SCHEDULE_ARGS)}",
            "write `learning_rate: {schedule: cosine_decay, init_value: 0.001, decay_steps: 1000}`; schedules: "
            + ", ".join(SCHEDULE_ARGS),
        )
        return
    args = SCHEDULE_ARGS[kind]
    for key, arg in value.items():
        if key == "schedule":
            continue
        if key not in args:
            yield (
                (key,),
                f"schedule '{kind}' has no argument {word(key)}{did_you_mean(str(key), args)}",
                f"arguments of optax.{kind}: {', '.join(args)}",
            )
        elif key == "boundaries_and_scales":
            yield from _boundaries_problems(arg)
        else:
            problem = _value_problem(args[key], key, arg)
            if problem:
                yield (key,), *problem
    for key in SCHEDULE_REQUIRED[kind]:
        if key not in value:
            yield (), f"schedule '{kind}' needs `{key}:`", f"add `{key}:`; it takes {args[key].describe()}"


def _boundaries_problems(value: Any) -> Iterator[ArgProblem]:
    path: tuple[str | int, ...] = ("boundaries_and_scales",)
    fix = "map steps to factors, e.g. `boundaries_and_scales: {1000: 0.1, 2000: 0.1}`"
    if value is None:
        return
    if not isinstance(value, Mapping):
        yield path, f"expected a mapping of steps to factors, got {word(value)}", fix
        return
    for step, scale in value.items():
        if not (isinstance(step, int) and not isinstance(step, bool) or str(step).isdigit()):
            yield path, f"a boundary is a step number, got {word(step)}", fix
        else:
            problem = _POSITIVE.check(scale)
            if problem:
                yield (*path, step), problem, fix


HIGHER_IS_BETTER: Final = frozenset(
    {
        "accuracy",
        "argmax_accuracy",
        "token_accuracy",
        "r2",
        "within_tolerance",
        "log_likelihood",
        "pseudo_likelihood",
        "elbo",
    }
)
"""Metrics that grow as a network improves; early stopping's ``mode: auto`` maximises these and
minimises every other (``loss``, ``mse``, ``mae``, ``rmse``, ``bit_errors``, ``kl``, ...)."""

EARLY_STOPPING: Final[dict[str, Option]] = {
    "metric": Option(Text(), "val_loss", "the validation figure watched: val_loss, val_accuracy, val_mse:head, ..."),
    "patience": Option(IntRange(1), 5, "epochs without an improvement after which training stops"),
    "min_delta": Option(FloatRange(0.0), 0.0, "the least change of the metric that counts as an improvement"),
    "mode": Option(Choice(("auto", "min", "max")), "auto", "min: lower is better; max: higher; auto: from the metric"),
    "restore_best": Option(Bool(), True, "end with the best epoch's parameters, not the last epoch's"),
}
"""The options of ``train.early_stopping`` (Keras's ``EarlyStopping`` callback, Ludwig's ``early_stop``)."""

EarlyStoppingProblem = tuple[str, str, str]
"""(option, problem, fix) of one bad ``early_stopping`` value; option "" for the value as a whole."""


def early_stopping_problems(value: Any) -> Iterator[EarlyStoppingProblem]:
    """What is wrong with an ``early_stopping`` value: a mapping of :data:`EARLY_STOPPING`, a
    patience (``early_stopping: 5``, Ludwig's habit), ``true`` (every default) or ``false``/null (off).

    The metric must be a validation figure, ``val_<metric>`` or ``val_<metric>:<output>``, whose
    metric is ``loss`` or one of :data:`METRICS`: early stopping never watches the training or the
    test split (choosing the epoch on the test split would make its figures optimistic).
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        problem = EARLY_STOPPING["patience"].kind.check(value)
        if problem:
            yield "patience", problem, "a patience of at least 1 epoch, e.g. `early_stopping: 5`"
        return
    if not isinstance(value, Mapping):
        yield "", f"expected a mapping, a patience or true/false, got {word(value)}", _EARLY_STOPPING_FIX
        return
    for key, item in value.items():
        option = EARLY_STOPPING.get(str(key))
        if option is None:
            hint = did_you_mean(str(key), EARLY_STOPPING, {"monitor": "metric", "restore_best_weights": "restore_best"})
            yield str(key), f"unknown key '{key}' in early_stopping{hint}", "keys: " + ", ".join(EARLY_STOPPING)
            continue
        problem = option.kind.check(item)
        if problem:
            yield str(key), problem, f"{key}: {option.doc} ({option.kind.describe()}; default {word(option.default)})"
        elif key == "metric":
            yield from _watched_metric_problems(item)


_EARLY_STOPPING_FIX: Final = "e.g. `early_stopping: {metric: val_loss, patience: 5}`, or `early_stopping: 5`"


def _watched_metric_problems(name: str) -> Iterator[EarlyStoppingProblem]:
    """A watched metric names a validation figure of a metric that exists."""
    fix = "watch a validation figure: val_loss, or val_ and a metric (val_accuracy, val_r2, val_mse:head)"
    split, _, metric = name.partition("_")
    if split in ("train", "test") and metric:
        why = (
            "the training figures keep improving while a network overfits"
            if split == "train"
            else "choosing the epoch on the test split makes its figures optimistic"
        )
        yield "metric", f"early stopping watches the validation split, not '{name}' ({why})", fix
        return
    if split != "val" or not metric:
        hint = f"; did you mean 'val_{name}'?" if name.partition(":")[0] in ("loss", *METRICS) else ""
        yield "metric", f"'{name}' is not a validation figure{hint}", fix
        return
    base = metric.partition(":")[0]
    if base != "loss" and base not in METRICS:
        yield "metric", f"unknown metric '{base}' in '{name}'{did_you_mean(base, ['loss', *METRICS])}", fix


def watched_mode(metric: str, mode: str = "auto") -> str:
    """``min`` or ``max``: ``mode`` itself, or for ``auto`` from the metric (:data:`HIGHER_IS_BETTER`)."""
    if mode != "auto":
        return mode
    base = metric.removeprefix("val_").partition(":")[0]
    return "max" if base in HIGHER_IS_BETTER else "min"


@dataclass(frozen=True)
class EarlyStoppingKind(OptionKind):
    """The kind of ``train.early_stopping`` (see :func:`early_stopping_problems`)."""

    def check(self, value: Any) -> str | None:
        for key, problem, _ in early_stopping_problems(value):
            return f"early_stopping.{key}: {problem}" if key else problem
        return None

    def describe(self) -> str:
        return "a mapping of " + ", ".join(EARLY_STOPPING) + "; a patience; or true/false"

    def schema(self) -> dict[str, Any]:
        fields = {k: {**o.kind.schema(), "description": o.doc} for k, o in EARLY_STOPPING.items()}
        mapping = {"type": "object", "properties": fields, "additionalProperties": False}
        return {"oneOf": [mapping, {"type": "integer", "minimum": 1}, {"type": "boolean"}, {"type": "null"}]}


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
    "validation": Option(
        FloatRange(0.0, 1.0, lo_open=True, hi_open=True),
        None,
        "fraction of the training part held out (with the run's seed) and scored after every epoch as val_<metric>",
    ),
    "eval_every": Option(
        IntRange(1, 10_000_000),
        1,
        "score the held-out splits after every this many epochs, and after the last (Keras's validation_freq): "
        "for runs of many tiny epochs, whose scoring would cost more than the training",
    ),
    "step_mask": Option(
        Choice(("none", "data")),
        "none",
        "data: the loss and the metrics of a sequence output count only the steps the data set scores (its "
        "mask: copy_task's recall phase, reversal's real tokens), as Graves et al. trained the copy task; "
        "none: every step",
    ),
    "devices": Option(
        IntRange(1, 4096),
        1,
        "local devices to train on, data-parallel (jax.sharding): each batch split over them, the parameters "
        "replicated; the batch size must be a multiple",
    ),
    "early_stopping": Option(
        EarlyStoppingKind(),
        None,
        "stop when a validation figure stops improving, keeping the best epoch's parameters, "
        "e.g. {metric: val_loss, patience: 5}",
    ),
}
