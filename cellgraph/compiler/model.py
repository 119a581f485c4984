"""Graph -> pure JAX functions: ``init(key) -> params`` and ``apply(params, inputs, ...)``.

The graph is static: it is closed over, never traced. ``apply`` walks the groups in topological
order of the forward graph, each group reading the merge of its inputs (concatenated along the
last axis, or summed with ``merge: add``) and adding its identity skips before its activation.
Groups that carry sequences hold (batch, time, ...) arrays; dense groups apply per step through
the trailing axes, and recurrent layers hoist their input projection out of the scan. Nothing
here touches Python state at run time, so ``jax.jit``, ``jax.grad`` and ``jax.vmap`` apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx

from ..graph import build_graph
from ..graph.checks import forward_graph
from ..spec.compose import load_spec
from ..spec.model import Spec
from .cells import CompileError, NodeInfo, cell_fns, corrupt
from .losses import make_loss
from .stepwise import delayed_inputs, init_delayed, make_stepwise_forward

Array = jax.Array
Params = dict[str, dict[str, Array]]


@dataclass(frozen=True)
class Model:
    """A compiled spec: pure functions over (params, data) plus what they were made from."""

    graph: nx.DiGraph
    init: Callable[[Array], Params]
    apply: Callable[..., dict[str, Array]]
    forward: Callable[..., tuple[dict[str, Array], dict[str, Any]]]  # every group's value, and aux
    loss: Callable[[Params, Mapping[str, Any], Array | None], tuple[Array, dict[str, Array]]]
    trainable_mask: Callable[[Params], Any] | None  # None when no group is frozen: no optimizer mask
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def spec(self) -> Spec:
        return self.graph.graph["spec"]

    @property
    def stochastic(self) -> bool:
        """Whether a training pass draws random numbers (noisy inputs, sampled units)."""
        return any(cell_fns(d["cell"]).stochastic for _, d in self.graph.nodes(data=True))


def _info(graph: nx.DiGraph, node: str, forward: list[str]) -> NodeInfo:
    """What a group's cell sees; its merged input shape was inferred with the graph."""
    d = graph.nodes[node]
    in_shape = tuple(d["in_shape"]) if d.get("in_shape") is not None else None
    return NodeInfo(
        node, d["type"], d["options"], in_shape, tuple(d["shape"]), tuple(graph.nodes[u]["type"] for u in forward)
    )


def _merge_mode(graph: nx.DiGraph, node: str, forward: list[str]) -> str:
    return graph.edges[forward[0], node]["options"].get("merge", "concat") if forward else "concat"


def _merge(values: list[Array], mode: str, lead: int) -> Array:
    if len(values) == 1:
        return values[0]
    if mode == "add":
        return sum(values[1:], values[0])
    if all(v.ndim == values[0].ndim and v.shape[:-1] == values[0].shape[:-1] for v in values):
        return jnp.concatenate(values, axis=-1)
    return jnp.concatenate([v.reshape(*v.shape[:lead], -1) for v in values], axis=-1)


def _check_compilable(graph: nx.DiGraph) -> None:
    for _, _, e in graph.edges(data=True):
        if e["kind"] == "symmetric":
            continue  # used by the energy-based rules, not by a forward pass
        if e["kind"] in ("routing", "attention"):
            raise CompileError(f"{e['loc']}: {e['path']}: {e['kind']} connections compile in a later release")


PRECISIONS: Final = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def compile_graph(graph: nx.DiGraph, *, precision: str | None = None) -> Model:
    """Compile a checked graph (from :func:`cellgraph.build_graph`) into a :class:`Model`.

    ``precision`` (default: the spec's ``train.precision``, else float32) is the dtype the
    forward and backward passes compute in. Parameters stay float32 (the optimizer updates
    float32 master weights) and are cast on the way in; every group's value comes back as
    float32, so losses and metrics are computed in full precision (mixed precision training).
    """
    _check_compilable(graph)
    precision = precision or graph.graph["spec"].train.get("precision") or "float32"
    if precision not in PRECISIONS:
        raise CompileError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    fwd = forward_graph(graph)
    order_index = {n: i for i, n in enumerate(graph.nodes)}
    order = list(nx.lexicographical_topological_sort(fwd, key=order_index.__getitem__))
    preds = {
        n: [
            u
            for u in sorted(fwd.predecessors(n), key=order_index.__getitem__)
            if graph.edges[u, n]["kind"] != "identity"
        ]
        for n in order
    }
    skips = {n: [u for u in fwd.predecessors(n) if graph.edges[u, n]["kind"] == "identity"] for n in order}
    infos = {n: _info(graph, n, preds[n]) for n in order}
    sources = tuple(n for n in order if graph.nodes[n]["cell"].is_source)
    fns = {n: cell_fns(graph.nodes[n]["cell"]) for n in order}  # every pointer resolves (tested)
    outputs = tuple(n for n in order if graph.nodes[n]["cell"].is_output)
    timed = {n: bool(graph.nodes[n].get("timed")) for n in order}

    def init(key: Array) -> Params:
        keys = jax.random.split(key, len(order))
        params: Params = {}
        for k, n in zip(keys, order, strict=True):
            p = fns[n].init(k, infos[n])
            if p:
                params[n] = p
        return params

    def forward(
        params: Params, inputs: Array | Mapping[str, Array], *, key: Array | None = None, train: bool = False
    ) -> tuple[dict[str, Array], dict[str, Any]]:
        feed = _feed(inputs, sources)
        keys = dict(zip(order, jax.random.split(key, len(order)), strict=True)) if key is not None else {}
        values: dict[str, Array] = {}
        aux: dict[str, Any] = {}
        batch = next(iter(feed.values())).shape[0]
        for n in order:
            info = infos[n]
            # leading axes of what the group reads: (batch,) or (batch, time); a recurrent layer
            # with `emit: last` reads a sequence but passes on one value
            lead = 2 if (timed[n] if n in sources else any(timed[u] for u in preds[n])) else 1
            if n in sources:
                x = feed[n]
                x = x.reshape(batch, *((x.shape[1],) if timed[n] else ()), *info.out_shape)  # (batch, [time,] *shape)
                aux[n] = x  # the clean value (a noisy input's target)
                if info.cell.noisy and train and n in keys:
                    x = corrupt(x, info.options, keys[n])
                values[n] = x
                continue
            ins = [values[u] for u in preds[n]]
            merged = _merge(ins, _merge_mode(graph, n, preds[n]), lead) if ins else None
            sk = [values[u] for u in skips[n]]
            out, extra = fns[n].apply(params.get(n, {}), merged, sk, info, lead, keys.get(n), train)
            values[n] = out
            aux[f"{n}~pre"] = extra
        return values, aux

    def apply(
        params: Params, inputs: Array | Mapping[str, Array], *, key: Array | None = None, train: bool = False
    ) -> dict[str, Array]:
        values, _ = forward(params, inputs, key=key, train=train)
        return {o: values[o] for o in outputs}

    def trainable_mask(params: Params) -> Any:
        flags = {n: bool(graph.nodes[n]["trainable"]) for n in params}
        return {n: jax.tree_util.tree_map(lambda _, f=flags[n]: f, p) for n, p in params.items()}

    delayed = delayed_inputs(graph)
    if any(delayed.values()):  # values cross time steps between groups: one scan over the graph
        forward = make_stepwise_forward(
            graph,
            order,
            preds,
            skips,
            infos,
            sources,
            delayed,
            _merge,
            lambda n: _merge_mode(graph, n, preds[n]),
            lambda inputs: _feed(inputs, sources),
        )
        layer_init = init

        def init(key: Array) -> Params:  # noqa: F811 - the delayed edges' matrices join the groups'
            k1, k2 = jax.random.split(key)
            params = layer_init(k1)
            for n, extra in init_delayed(k2, graph, delayed).items():
                params[n] = {**params.get(n, {}), **extra}
            return params

    if precision != "float32":
        forward = _in_precision(forward, PRECISIONS[precision])
    loss = make_loss(graph, forward, sources, outputs)
    # without frozen groups the optimizer needs no mask (optax.partition costs time every step)
    frozen = any(not graph.nodes[n]["trainable"] for n in order)
    return Model(graph, init, apply, forward, loss, trainable_mask if frozen else None, sources, outputs)


def _in_precision(forward: Callable[..., Any], dtype: Any) -> Callable[..., Any]:
    """``forward`` computing in ``dtype``: float parameters and inputs cast in, float values cast back to float32."""

    def cast(to: Any) -> Callable[[Any], Any]:
        return lambda a: a.astype(to) if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating) else a

    def low(
        params: Params, inputs: Array | Mapping[str, Array], *, key: Array | None = None, train: bool = False
    ) -> tuple[dict[str, Array], dict[str, Any]]:
        inputs = {k: jnp.asarray(v) for k, v in inputs.items()} if isinstance(inputs, Mapping) else jnp.asarray(inputs)
        values, aux = forward(
            jax.tree.map(cast(dtype), params), jax.tree.map(cast(dtype), inputs), key=key, train=train
        )
        return jax.tree.map(cast(jnp.float32), values), jax.tree.map(cast(jnp.float32), aux)

    return low


def _feed(inputs: Array | Mapping[str, Array], sources: tuple[str, ...]) -> dict[str, Array]:
    if isinstance(inputs, Mapping):
        missing = [s for s in sources if s not in inputs]
        if missing:
            raise CompileError(
                f"inputs for {', '.join(missing)} are missing; pass {{group: array}} for every input group"
            )
        return {s: jnp.asarray(inputs[s]) for s in sources}
    if len(sources) != 1:
        raise CompileError(
            f"the network has {len(sources)} input groups ({', '.join(sources)}); pass a mapping group -> array"
        )
    return {sources[0]: jnp.asarray(inputs)}


def compile(  # noqa: A001
    spec: str | Path | Spec | nx.DiGraph, params: Mapping[str, Any] | None = None, *, precision: str | None = None
) -> Model:
    """Compile a spec file, a loaded :class:`Spec` or a checked graph into a :class:`Model`.

    ``precision``: "float32", "bfloat16" or "float16" compute (see :func:`compile_graph`);
    default: the spec's ``train.precision``.

    >>> model = compile("specs/zoo/dff.yaml")  # doctest: +SKIP
    >>> params = model.init(jax.random.key(0))  # doctest: +SKIP
    >>> model.apply(params, x)["y"].shape  # doctest: +SKIP
    """
    if isinstance(spec, nx.DiGraph):
        return compile_graph(spec, precision=precision)
    if isinstance(spec, Spec):
        return compile_graph(build_graph(spec), precision=precision)
    return compile_graph(build_graph(load_spec(spec, params)), precision=precision)
