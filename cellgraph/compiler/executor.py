"""The one executor: a graph's groups run in topological order, each through the cell protocol.

A :class:`Plan` is read once from the checked graph (static: closed over, never traced): the
order, which groups feed which port of which group, the identity skips, the delayed edges. Both
ways of running a graph walk it with :func:`_walk`, which is where sources are fed (and
corrupted while training), each port's inputs merged and skips handed over -- once:

* **layer-wise** (:func:`layerwise_forward`): each group computes over the whole batch and, for
  sequences, the whole sequence, so a recurrent layer hoists its input projection out of its scan
  and may take its fused kernel (the cell's ``apply``);
* **step-wise** (:func:`stepwise_forward`), for graphs where values cross time steps *between*
  groups (a delayed edge ``a ~> b``, or a cycle broken at a recurrent cell): the whole graph
  advances one step at a time inside a single ``jax.lax.scan``, whose carry holds every carrying
  group's carry (``init_carry`` / ``step`` of the protocol) and the previous value of every
  delayed edge's source. Each delayed edge has its own weight matrix (``params[b]["from:a"]``),
  whose product reaches ``b`` as an :class:`~.protocol.Inputs` delayed term.

Both return ``(values, aux)``: every group's value and its :class:`~.protocol.Aux` record.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from ..cells.features import Feature, active_features, fed_shape, token_range
from ..cells.recurrent import STATE_PORT
from ..data.check import bad_token
from ..errors import SourceLoc, spec_error
from ..graph.attention import ATTENTION, AttentionEdge, attention_edges, is_skip
from ..graph.capsules import class_capsules
from ..graph.checks import forward_graph
from ..graph.rules import drawn_sources, fed_back_inputs
from .attention import attend, key_validity
from .capsule import decoder_mask
from .energy import up_sources, up_terms
from .protocol import Aux, CellFns, CompileError, Ctx, FeatureFns, Inputs, NodeInfo, Out, cell_fns, feature_fns
from .sparse_ops import sparse_recurrence

Array = jax.Array
Values = dict[str, Array]
Forward = Callable[..., tuple[Values, dict[str, Aux]]]
"""``forward(params, inputs, *, key=None, train=False, state=None) -> (values, aux)``."""


@dataclass(frozen=True)
class Plan:
    """What the executor needs of a graph, read once."""

    order: tuple[str, ...]
    sources: tuple[str, ...]
    outputs: tuple[str, ...]
    ports: Mapping[str, Mapping[str, tuple[str, ...]]]  # group -> port -> the groups merged into it
    merge: Mapping[str, Mapping[str, str]]  # group -> port -> concat | add
    skips: Mapping[str, tuple[str, ...]]  # identity edges into each group
    delayed: Mapping[str, tuple[str, ...]]  # groups whose previous value each group reads
    infos: Mapping[str, NodeInfo]
    fns: Mapping[str, CellFns]
    timed: Mapping[str, bool]  # the group's value is a sequence (batch, time, ...)
    where: Mapping[str, tuple[SourceLoc, str]]  # each group's place in the spec, for located errors
    features: Mapping[str, tuple[tuple[Feature, FeatureFns], ...]]  # each group's active features
    owner: Mapping[str, str]  # whose parameters each group computes with: its own, or a shared group's
    tied: Mapping[str, str]  # `tie:`: the group whose weight matrix each such group uses, transposed
    fed: Mapping[str, tuple[int, ...]]  # what the data hold per example (step) for each input group
    drawn: Mapping[str, str] = dataclasses.field(default_factory=dict)  # noise inputs: group -> distribution
    attention: Mapping[str, tuple[AttentionEdge, ...]] = dataclasses.field(default_factory=dict)  # by target
    # the up pass through symmetric edges: group -> the groups written before it across a `--` edge
    up: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # class capsules (scored on the labels, so among the outputs) that a decoder reads masked (.capsule)
    masked: tuple[str, ...] = ()
    # input groups fed by delayed edges (`m ~> r`): group -> the groups whose previous values it takes
    fed_back: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        """The inputs a call must give: every source but the noise the network draws itself."""
        return tuple(s for s in self.sources if s not in self.drawn and s not in self.fed_back)

    @property
    def stochastic(self) -> bool:
        """Whether a training pass draws random numbers (noise inputs, noisy inputs, sampled units, dropout)."""
        return (
            bool(self.drawn)
            or any(f.stochastic for fs in self.features.values() for f, _ in fs)
            or any(fns.stochastic for fns in self.fns.values())
        )

    def feeders(self, n: str) -> tuple[str, ...]:
        """Every group merged into one of ``n``'s ports, or read by its attention edges."""
        attended = tuple(u for a in self.attention.get(n, ()) for u in (a.query, a.source))
        return tuple(u for us in self.ports[n].values() for u in us) + attended

    @property
    def stepwise(self) -> bool:
        """Values cross time steps between groups: the graph must advance one step at a time."""
        return any(self.delayed.values())


def make_plan(graph: nx.DiGraph) -> Plan:
    """Read the executor's :class:`Plan` off a checked graph (its nodes' order breaks ties)."""
    fwd = forward_graph(graph)
    index = {n: i for i, n in enumerate(graph.nodes)}
    up = up_sources(graph)
    ordering = fwd.copy()  # the up pass reads each `u -- v` from u to v: u must come first
    ordering.add_edges_from((u, v) for v, us in up.items() for u in us)
    if not nx.is_directed_acyclic_graph(ordering):
        raise CompileError(
            "the symmetric edges (`--`) and the forward edges form a cycle, so the up pass has no order; "
            "fix: write each `u -- v` with u the group nearer the inputs"
        )
    order = tuple(nx.lexicographical_topological_sort(ordering, key=index.__getitem__))
    ports: dict[str, dict[str, tuple[str, ...]]] = {}
    merge: dict[str, dict[str, str]] = {}
    skips: dict[str, tuple[str, ...]] = {}
    for n in order:
        cell = graph.nodes[n]["cell"]
        by_port: dict[str, list[str]] = {}
        for u in sorted(fwd.predecessors(n), key=index.__getitem__):
            edge = graph.edges[u, n]
            if edge["kind"] not in ("identity", ATTENTION):  # attention joins the weighted sum: Plan.attention
                by_port.setdefault(edge["options"].get("port") or cell.main_port, []).append(u)
        ports[n] = {p: tuple(us) for p, us in by_port.items()}
        merge[n] = {p: graph.edges[us[0], n]["options"].get("merge", "concat") for p, us in by_port.items()}
        skips[n] = tuple(u for u in fwd.predecessors(n) if is_skip(graph.edges[u, n]))  # `=>`, `residual: true`
    delayed: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for u, v, e in graph.edges(data=True):
        if e["kind"] != "symmetric" and (e["delay"] or e["feedback"]):
            delayed[v].append(u)
    infos = {n: _info(graph, n, ports[n]) for n in order}
    scored = class_capsules(graph)  # a capsule network's class capsules: returned, and masked for a decoder
    return Plan(
        order=order,
        sources=tuple(n for n in order if graph.nodes[n]["cell"].is_source),
        outputs=tuple(n for n in order if graph.nodes[n]["cell"].is_output or n == scored),
        ports=ports,
        merge=merge,
        skips=skips,
        delayed={n: tuple(us) for n, us in delayed.items()},
        infos=infos,
        fns={n: cell_fns(graph.nodes[n]["cell"]) for n in order},  # every pointer resolves (tested)
        timed={n: bool(graph.nodes[n].get("timed")) for n in order},
        where={n: (graph.nodes[n]["loc"], graph.nodes[n]["path"]) for n in order},
        features={n: tuple((f, feature_fns(f)) for f in active_features(graph.nodes[n]["options"])) for n in order},
        owner={n: graph.nodes[n].get("owner") or n for n in order},
        tied={n: graph.nodes[n]["tied_to"] for n in order if graph.nodes[n].get("tied_to") is not None},
        fed={n: fed_shape(graph.nodes[n]["options"], tuple(graph.nodes[n]["shape"])) for n in order},
        drawn=drawn_sources(graph),
        attention=attention_edges(graph),
        up=up,
        masked=(scored,) if scored is not None else (),
        fed_back=fed_back_inputs(graph),
    )


def _info(graph: nx.DiGraph, node: str, ports: Mapping[str, tuple[str, ...]]) -> NodeInfo:
    """What a group's cell sees; its ports' merged input shapes were inferred with the graph."""
    d = graph.nodes[node]
    main = ports.get(d["cell"].main_port, ())
    in_shapes = {p: tuple(s) for p, s in (d.get("in_shapes") or {}).items()}
    in_shape = tuple(d["in_shape"]) if d.get("in_shape") is not None else None
    types = tuple(graph.nodes[u]["type"] for u in main)
    return NodeInfo(
        node, d["type"], d["options"], in_shape, tuple(d["shape"]), types, in_shapes, sparse_recurrence(graph, node)
    )


# ------------------------------------------------------------------------------- one group


def merge(values: list[Array], mode: str, lead: int) -> Array:
    """Several inputs of one port as one: summed (``merge: add``) or joined along the last axis
    (flattened side by side where their layouts differ)."""
    if len(values) == 1:
        return values[0]
    if mode == "add":
        return sum(values[1:], values[0])
    if all(v.ndim == values[0].ndim and v.shape[:-1] == values[0].shape[:-1] for v in values):
        return jnp.concatenate(values, axis=-1)
    return jnp.concatenate([v.reshape(*v.shape[:lead], -1) for v in values], axis=-1)


def corrupt(x: Array, options: Mapping[str, Any], key: Array) -> Array:
    """A noisy input's corruption (training only): masking, additive Gaussian or salt and pepper."""
    level = float(options.get("level", 0.25))
    kind = options.get("noise", "masking")
    if kind == "gaussian":
        return x + level * jax.random.normal(key, x.shape, x.dtype)
    k1, k2 = jax.random.split(key)
    hit = jax.random.bernoulli(k1, level, x.shape)
    if kind == "masking":
        return jnp.where(hit, 0.0, x)
    salt = jax.random.bernoulli(k2, 0.5, x.shape).astype(x.dtype)
    return jnp.where(hit, salt, x)


Run = Callable[[str, Inputs, Ctx], Out]
"""How a walk computes one non-source group from its inputs (apply, or one step of a carry)."""


def _walk(
    plan: Plan,
    params: Mapping[str, Any],
    fed: Mapping[str, Array],
    run: Run,
    *,
    lead_of: Callable[[str], int],
    keys: Mapping[str, Array],
    train: bool,
    state: Mapping[str, Any],
    delayed_of: Callable[[str], tuple[Array, ...]] = lambda n: (),
    labels: Mapping[str, Array] | None = None,
) -> tuple[Values, dict[str, Aux]]:
    """Every group once, in order: sources from ``fed``, the others through ``run``; each group's
    features around it (:func:`_features`). ``labels``: class ids by class capsule group, for the
    decoder's mask while training (:func:`.capsule.decoder_mask`)."""
    values: Values = {}
    aux: dict[str, Aux] = {}
    current = dict(state)  # model state, by owning group: a shared group's uses follow one another
    for n in plan.order:
        if n in fed and n not in plan.sources:  # clamped: the value given stands for the group's
            values[n], aux[n] = fed[n], Aux()
            continue
        info = plan.infos[n]
        owner = plan.owner[n]
        ctx = Ctx(info, 1, keys.get(n), train, current.get(owner))
        source, normalize, post = _features(plan, n, group_params(plan, params, n), ctx)
        if n in plan.sources:
            x, fed_state = source(fed[n]) if source is not None else (fed[n], None)  # tokens -> their vectors
            clean = x
            if info.cell.noisy and train and n in keys:
                x = corrupt(x, info.options, keys[n])
            values[n], post_state = post(x)
            aux[n] = Aux(clean=clean, state=_updated(ctx.state, fed_state, post_state))  # clean: a denoiser's target
        else:
            lead = lead_of(n)
            ports = {
                p: merge([_fed(plan, u, _read_by(plan, n, u, values, labels), p) for u in us], plan.merge[n][p], lead)
                for p, us in plan.ports[n].items()
            }
            attended, weights = _attend(plan, params, n, values, fed)
            skips = tuple(values[s] for s in plan.skips[n])
            terms = delayed_of(n) + up_terms(params, values, n, plan.up.get(n, ()))
            inputs = Inputs(ports, info.cell.main_port, skips, terms, attended)
            out = run(n, inputs, dataclasses.replace(ctx, lead=lead, normalize=normalize))
            values[n], post_state = post(out.value)
            aux[n] = out.aux._replace(state=_updated(ctx.state, out.aux.state, post_state), attention=weights)
        if aux[n].state is not None:
            current[owner] = aux[n].state
    return values, aux


def _fed(plan: Plan, u: str, value: Array, port: str) -> Array:
    """What ``u`` feeds a port: its value; a recurrent sequence into a ``state`` port, its final
    state (the step it read last: the first for a backward layer)."""
    if port != STATE_PORT or not plan.timed[u] or plan.infos[u].options.get("emit") == "last":
        return value
    return value[:, 0] if plan.infos[u].options.get("direction") == "backward" else value[:, -1]


def _read_by(plan: Plan, n: str, u: str, values: Values, labels: Mapping[str, Array] | None) -> Array:
    """``u``'s value as group ``n`` reads it: class capsules reach a layer that is no capsule group
    (the decoder) masked to one capsule, the labelled one when ``labels`` are given."""
    if u not in plan.masked or plan.infos[n].cell.vector_valued:
        return values[u]
    return decoder_mask(values[u], (labels or {}).get(u))


def _attend(
    plan: Plan, params: Mapping[str, Any], n: str, values: Values, fed: Mapping[str, Array]
) -> tuple[tuple[Array, ...], dict[str, Array] | None]:
    """Group ``n``'s attention edges: each one's output (a term of its weighted sum) and its
    weights by source (None without attention edges). Padding is read off the token ids as fed."""
    edges = plan.attention.get(n, ())
    if not edges:
        return (), None
    own = group_params(plan, params, n)
    outs, weights = [], {}
    for a in edges:
        out, weights[a.source] = attend(own, a, values[a.query], values[a.source], key_validity(a, fed))
        outs.append(out)
    return tuple(outs), weights


Stage = Callable[[Array], tuple[Array, Any]]
"""A group's features of one stage as one function: ``x -> (x, the state entries they updated or None)``."""


def _features(plan: Plan, n: str, params: Mapping[str, Any], ctx: Ctx) -> tuple[Stage | None, Stage | None, Stage]:
    """The group's ``source`` features as one function of its fed data and its ``pre`` features
    as one ``normalize`` function for its cell (each None without any), and its ``post`` features
    as one function of its value. A stochastic feature draws from a key of its own, folded from
    the group's (which its cell may use too); a feature with model state reads the group's
    (``ctx.state``) and returns the entries it updated."""
    chosen = plan.features[n]
    if not chosen:
        return None, None, _same

    def stage(name: str) -> Stage | None:
        fns = [(i, f, impl) for i, (f, impl) in enumerate(chosen) if f.stage == name]
        if not fns:
            return None

        def apply(x: Array) -> tuple[Array, Any]:
            updated = None
            for i, f, impl in fns:
                key = jax.random.fold_in(ctx.key, i + 1) if f.stochastic and ctx.key is not None else None
                x, new = impl.apply(dict(params), x, dataclasses.replace(ctx, key=key))
                updated = new if updated is None else {**updated, **(new or {})}
            return x, updated

        return apply

    return stage("source"), stage("pre"), stage("post") or _same


def _updated(old: Any, *parts: Any) -> Any:
    """The group's state after its cell and features updated some entries (None: nothing
    updated). Features update entries of a dict; a cell type of one's own may keep any pytree,
    which then comes back whole."""
    changed = [p for p in parts if p is not None]
    if not changed:
        return None
    if len(changed) == 1 and not isinstance(changed[0], Mapping):
        return changed[0]
    merged = dict(old) if isinstance(old, Mapping) else {}
    for p in changed:
        merged.update(p)
    return merged


def _same(x: Array) -> tuple[Array, Any]:
    return x, None


TIED_WEIGHTS: Final = "kernel"
"""The parameter a `tie:` group takes, transposed, from the tied group: a dense layer's weight matrix."""


def group_params(plan: Plan, params: Mapping[str, Any], n: str) -> Any:
    """The parameters group ``n`` computes with: its own, its owner's (`share:`), or its own bias
    with the transpose of the tied group's weight matrix (`tie:`), so the gradients of both uses
    add into that one matrix."""
    own = params.get(plan.owner[n], {})
    tied = plan.tied.get(n)
    if tied is None:
        return own
    return {**own, TIED_WEIGHTS: params[tied][TIED_WEIGHTS].T}


def initial_state(plan: Plan) -> dict[str, Any]:
    """The model state of the groups that keep one, by owning group (``{}`` for most networks):
    their cells' and features' entries in one dict per group, like their parameters."""
    state: dict[str, Any] = {}
    for n in plan.order:
        if plan.owner[n] != n:
            continue
        info, parts = plan.infos[n], []
        cell_state = plan.fns[n].init_state
        if cell_state is not None:
            parts.append(cell_state(info))
        parts += [make(info) for _, impl in plan.features[n] if (make := impl.init_state) is not None]
        merged = _updated({}, *parts)
        if merged is not None and (not isinstance(merged, Mapping) or merged):
            state[n] = merged
    return state


def collect_state(plan: Plan, aux: Mapping[str, Aux], old: Mapping[str, Any]) -> dict[str, Any]:
    """The model state after a forward pass: ``old`` with each group's updated entries (a shared
    group's last use holds its uses' updates in turn). In evaluation nothing changes."""
    new = dict(old)
    for n in plan.order:
        if aux[n].state is not None:
            new[plan.owner[n]] = aux[n].state
    return new


def _keys(plan: Plan, key: Array | None) -> dict[str, Array]:
    return dict(zip(plan.order, jax.random.split(key, len(plan.order)), strict=True)) if key is not None else {}


def feed(
    inputs: Array | Mapping[str, Array], sources: tuple[str, ...], as_array: Callable[[Any], Any] = jnp.asarray
) -> dict[str, Any]:
    """The input groups' arrays (made with ``as_array``: device arrays by default, ``np.asarray``
    keeps them on the host): a mapping by group, or one array for a network with one input."""
    if isinstance(inputs, Mapping):
        missing = [s for s in sources if s not in inputs]
        if missing:
            raise CompileError(
                f"inputs for {', '.join(missing)} are missing; pass {{group: array}} for every input group"
            )
        return {s: as_array(inputs[s]) for s in sources}
    if len(sources) != 1:
        raise CompileError(
            f"the network has {len(sources)} input groups ({', '.join(sources)}); pass a mapping group -> array"
        )
    return {sources[0]: as_array(inputs)}


def _shaped(plan: Plan, inputs: Array | Mapping[str, Array], key: Array | None) -> tuple[dict[str, Array], int]:
    """Each given array shaped (batch, [time,] *shape), and the batch size.

    Besides the inputs, a mapping may give any other group's value: the group is *clamped* to it
    (not computed), as a GAN's discriminator reads real samples where the generated ones enter, or
    a decoder is run from chosen codes. Noise inputs (``distribution: uniform | normal``) are drawn
    here unless given: from ``key``, or from a fixed key without one (evaluation stays repeatable).
    """
    clamped: dict[str, Array] = {}
    if isinstance(inputs, Mapping):
        fed = feed(inputs, plan.required)
        fed.update({s: jnp.asarray(inputs[s]) for s in plan.drawn if s in inputs})
        clamped = {k: jnp.asarray(v) for k, v in inputs.items() if k in plan.infos and k not in plan.sources}
    else:
        fed = feed(inputs, plan.required)
    for n, x in clamped.items():
        _check_clamped(plan, n, tuple(x.shape))
    if fed:
        batch = check_inputs(plan, fed)
    elif clamped:
        batch = next(iter(clamped.values())).shape[0]
    else:
        raise CompileError("nothing to compute from: give the input groups' arrays, or a group's value to clamp it")
    shaped = {s: x.reshape(batch, *((x.shape[1],) if plan.timed[s] else ()), *plan.fed[s]) for s, x in fed.items()}
    for n, x in clamped.items():
        if x.shape[0] != batch:
            raise CompileError(f"the value given for group '{n}' has {x.shape[0]} examples, the inputs {batch}")
        shaped[n] = x.reshape(batch, *plan.infos[n].out_shape)
    missing = [s for s in plan.drawn if s not in shaped]
    if missing:
        shaped.update(draw_noise(plan, None if key is None else jax.random.fold_in(key, 0x6E6F), batch, missing))
    return shaped, batch


def draw_noise(plan: Plan, key: Array | None, batch: int, groups: Sequence[str] | None = None) -> dict[str, Array]:
    """``batch`` draws of the network's noise inputs (``groups`` of them, default all), one key
    each split from ``key`` -- a fixed key without one, so evaluation stays repeatable."""
    groups = tuple(plan.drawn) if groups is None else tuple(groups)
    if not groups:
        return {}
    keys = jax.random.split(jax.random.key(0) if key is None else key, len(groups))
    return {g: draw(plan.drawn[g], k, (batch, *plan.fed[g])) for g, k in zip(groups, keys, strict=True)}


def draw(distribution: str, key: Array, shape: tuple[int, ...]) -> Array:
    """Noise of a drawn input: ``uniform`` on [-1, 1], ``normal`` N(0, 1)."""
    if distribution == "uniform":
        return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)
    return jax.random.normal(key, shape, jnp.float32)


def _check_clamped(plan: Plan, group: str, shape: tuple[int, ...]) -> None:
    """A clamped group's value against the group's shape: a located error, never a reshape traceback."""
    want = plan.infos[group].out_shape
    if plan.timed[group] or len(shape) < 1 or math.prod(shape[1:]) != math.prod(want):
        loc, path = plan.where[group]
        raise spec_error(
            loc,
            path,
            f"the value given for group '{group}' has shape {shape}; expected (examples, {', '.join(map(str, want))})",
            "give one value per example of the group's shape (sequence groups cannot be clamped)",
        )


def check_inputs(plan: Plan, fed: Mapping[str, Any]) -> int:
    """Every input array against its group (:func:`check_input`), and one number of examples for
    all of them, which it returns."""
    for s, x in fed.items():
        check_input(plan, s, tuple(x.shape))
    rows = {x.shape[0] for x in fed.values()}
    if len(rows) > 1:
        sizes = ", ".join(f"'{s}' {x.shape[0]}" for s, x in fed.items())
        raise CompileError(f"the input arrays hold different numbers of examples ({sizes}); give each group the same")
    return rows.pop()  # an int, or a symbolic dimension while exporting for any batch size


def check_input(plan: Plan, group: str, shape: tuple[int, ...]) -> None:
    """An input array's shape against its group: ``(batch, [time,] features...)`` whose features
    hold exactly the group's cells (an 8x8 image feeds a size-64 group). A located error naming the
    group and the shape expected, never a reshape traceback from inside the trace."""
    per = plan.fed[group]  # the group's cells, or one token id per example (step) for an embedding
    cells = math.prod(per)
    timed = plan.timed[group]
    lead = 2 if timed else 1
    want = "(" + ", ".join(["examples", *(["time"] if timed else []), *map(str, per)]) + ")"
    loc, path = plan.where[group]
    if shape == tuple(per) or (not timed and len(shape) < 1) or (timed and len(shape) < 2):
        raise spec_error(
            loc,
            path,
            f"the array for input group '{group}' has shape {shape}: one example, not a batch; expected {want}",
            "add the example axis (x[None] for one example)",
        )
    if timed and len(shape) == 2 and cells > 1:
        raise spec_error(
            loc,
            path,
            f"the array for input group '{group}' has shape {shape}: no time axis, but the group is a "
            f"sequence (`sequence: true`) and takes {want}",
            "give one (time, features) array per example, or drop `sequence: true` for one vector per example",
        )
    features = math.prod(shape[lead:])
    if features != cells:
        seq = "" if timed or len(shape) < 3 else "; a sequence feeds a group with `sequence: true`"
        raise spec_error(
            loc,
            path,
            f"the array for input group '{group}' has shape {shape}: {features} values per "
            f"{'step' if timed else 'example'}, but the group has {cells} cells{seq}",
            f"give an array of shape {want}, or resize the group to the data's {features} features",
        )


def check_tokens(plan: Plan, group: str, ids: np.ndarray) -> None:
    """A token input's ids on the host, before prediction: whole numbers 0 .. vocab - 1. Inside
    the traced lookup an id beyond the table would be clamped to its edge, silently."""
    vocab = token_range(plan.infos[group].options)
    found = bad_token(ids, vocab) if vocab is not None else None
    if vocab is not None and found is not None:
        loc, path = plan.where[group]
        value = found[1]
        raise spec_error(
            loc,
            f"{path}.vocab",
            f"the ids for input group '{group}' hold {value.item()}, but its embedding reads token ids "
            f"0 .. {vocab - 1} (`vocab: {vocab}`)",
            f"number the tokens 0 .. {vocab - 1}, or raise `vocab:` to the number of distinct tokens",
        )


# ---------------------------------------------------------------------------------- layer-wise


def layerwise_forward(plan: Plan) -> Forward:
    """Every group over the whole batch (and sequence) at once: the cells' ``apply``."""

    def lead_of(n: str) -> int:  # (batch,) or (batch, time); `emit: last` reads a sequence, passes one value
        return 2 if any(plan.timed[u] for u in plan.feeders(n)) else 1

    def forward(
        params: Mapping[str, Any],
        inputs: Array | Mapping[str, Array],
        *,
        key: Array | None = None,
        train: bool = False,
        state: Mapping[str, Any] | None = None,
        labels: Mapping[str, Array] | None = None,
    ) -> tuple[Values, dict[str, Aux]]:
        fed, _ = _shaped(plan, inputs, key)

        def run(n: str, inp: Inputs, ctx: Ctx) -> Out:
            apply = plan.fns[n].apply
            assert apply is not None  # only sources have none, and they are fed
            return apply(group_params(plan, params, n), inp, ctx)

        keys = _keys(plan, key)
        return _walk(plan, params, fed, run, lead_of=lead_of, keys=keys, train=train, state=state or {}, labels=labels)

    return forward


# ----------------------------------------------------------------------------------- step-wise


def init_delayed(key: Array, graph: nx.DiGraph, plan: Plan) -> dict[str, dict[str, Array]]:
    """One weight matrix per delayed edge: (source cells, gates x target cells)."""
    params: dict[str, dict[str, Array]] = {}
    edges = [(u, v) for v, us in plan.delayed.items() for u in us if v not in plan.fed_back]  # inputs: no matrix
    for k, (u, v) in zip(jax.random.split(key, max(len(edges), 1)), edges, strict=False):
        gates = graph.nodes[v]["cell"].gates(graph.nodes[v]["options"])
        shape = (math.prod(graph.nodes[u]["shape"]), gates * math.prod(graph.nodes[v]["shape"]))
        params.setdefault(v, {})[f"from:{u}"] = jax.nn.initializers.glorot_uniform()(k, shape)
    return params


StepHook = Callable[[Array, Values, Values], tuple[Values, Values]]
"""``(t, fed, prev) -> (fed, prev)``: what step ``t`` of a step-wise pass reads, rewritten before it
runs -- the inputs fed at that step, and the previous values its delayed edges read. Teacher
forcing puts the targets in ``prev``; running free on its own output puts ``prev`` in ``fed``
(an echo state network's generation, :mod:`.reservoir`)."""


def stepwise_forward(plan: Plan) -> Forward:
    """The whole graph one time step at a time, in one ``lax.scan``: carrying groups use ``step``;
    ``hook=`` (:data:`StepHook`) rewrites what each step reads."""
    if plan.attention:  # validation refuses it too, at the spec's line
        raise CompileError("attention reads whole sequences, and this network runs one step at a time (delayed edges)")
    carrying = tuple(n for n in plan.order if plan.fns[n].step is not None and n not in plan.sources)
    remembered = tuple(sorted({u for us in plan.delayed.values() for u in us}))

    def forward(
        params: Mapping[str, Any],
        inputs: Array | Mapping[str, Array],
        *,
        key: Array | None = None,
        train: bool = False,
        state: Mapping[str, Any] | None = None,
        hook: StepHook | None = None,
    ) -> tuple[Values, dict[str, Aux]]:
        fed, batch = _shaped(plan, inputs, key)
        if any(n not in plan.sources for n in fed):
            raise CompileError(
                "a step-wise network (one with delayed edges) cannot have groups clamped; give its inputs"
            )
        steps = next((x.shape[1] for s, x in fed.items() if plan.timed[s]), 1)
        per_step = {s: jnp.swapaxes(x, 0, 1) for s, x in fed.items() if plan.timed[s]}  # (time, batch, ...)
        static = {s: x for s, x in fed.items() if not plan.timed[s]}
        leaves = jax.tree_util.tree_leaves(params)
        dtype = leaves[0].dtype if leaves else jnp.float32
        carries0 = {n: _carry0(plan, n, batch, dtype) for n in carrying}
        prev0 = {u: jnp.zeros((batch, *plan.infos[u].out_shape), dtype) for u in remembered}

        def step(carry: tuple[dict[str, Any], Values], xs: tuple) -> tuple:
            carries, prev = carry
            slices, k, t = xs
            if hook is not None:  # teacher forcing, or running free on its own output
                slices, prev = hook(t, slices, prev)
            for s, us in plan.fed_back.items():  # an input fed back (`m ~> r`): the previous values as they are
                back = jnp.concatenate([prev[u].reshape(batch, -1) for u in us], -1)
                slices = {**slices, s: back.reshape(batch, *plan.fed[s])}
            new = dict(carries)

            def delayed_of(n: str) -> tuple[Array, ...]:  # previous values through the delayed edges' weights
                return tuple(prev[u].reshape(batch, -1) @ params[n][f"from:{u}"] for u in plan.delayed[n])

            def run(n: str, inp: Inputs, ctx: Ctx) -> Out:
                fns = plan.fns[n]
                if n in new:
                    assert fns.step is not None
                    out, new[n] = fns.step(group_params(plan, params, n), inp, carries[n], ctx)
                    return out
                assert fns.apply is not None
                return fns.apply(group_params(plan, params, n), inp, ctx)

            values, aux = _walk(
                plan,
                params,
                {**static, **slices},
                run,
                lead_of=lambda n: 1,
                keys=_keys(plan, k),
                train=train,
                state=state or {},
                delayed_of=delayed_of,
            )
            return (new, {u: values[u] for u in remembered}), (values, aux)

        step_keys = jax.random.split(key, steps) if key is not None else None
        stacked: tuple[Values, dict[str, Aux]]
        xs = (per_step, step_keys, jnp.arange(steps))
        _, stacked = jax.lax.scan(step, (carries0, prev0), xs, length=steps)

        def unstack(n: str, tree: Any) -> Any:  # every leaf came back (time, batch, ...)
            return jax.tree.map(lambda v: jnp.swapaxes(v, 0, 1) if plan.timed[n] else v[-1], tree)

        values, aux = stacked
        # model state came back once per step: the running statistics moved by every step's batch
        # statistics alike (their mean), which is one update towards the whole sequence's
        states = {n: jax.tree.map(lambda v: jnp.mean(v, axis=0), a.state) for n, a in aux.items()}
        return {n: unstack(n, v) for n, v in values.items()}, {
            n: unstack(n, a._replace(state=None))._replace(state=states[n]) for n, a in aux.items()
        }

    return forward


def _carry0(plan: Plan, n: str, batch: int, dtype: Any) -> Any:
    init_carry = plan.fns[n].init_carry
    if init_carry is None:
        raise CompileError(f"group '{n}' ({plan.infos[n].type}): its cell steps through time but gives no init_carry")
    return init_carry(plan.infos[n], batch, dtype)
