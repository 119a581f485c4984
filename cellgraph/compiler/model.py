"""Graph -> pure JAX functions: ``init(key) -> params`` and ``apply(params, inputs, ...)``.

The graph is static: it is closed over, never traced. The executor (:mod:`.executor`) walks the
groups in topological order, each through the cell protocol (:mod:`.protocol`): layer-wise
(whole sequences per layer, input projections hoisted out of the scans), or step-wise in one
scan when values cross time steps between groups. Nothing here touches Python state at run
time, so ``jax.jit``, ``jax.grad`` and ``jax.vmap`` apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from ..graph import build_graph
from ..graph.attention import MSG_MEMORY_READ, stored_states
from ..graph.decoding import teachers
from ..graph.rules import adversaries, closed_form_groups
from ..spec.compose import load_spec
from ..spec.model import Spec
from .adversarial import make_adversarial
from .attention import init_attention
from .energy import init_symmetric
from .executor import (
    TIED_WEIGHTS,
    Forward,
    Plan,
    check_inputs,
    check_tokens,
    collect_state,
    feed,
    init_delayed,
    initial_state,
    layerwise_forward,
    make_plan,
    stepwise_forward,
)
from .factors import make_factor_clamp
from .losses import make_batch, make_loss, scored_outputs
from .networks import batch_maker, own_scoring
from .protocol import Aux, CompileError
from .sparse import reservoir_weights

Array = jax.Array
Params = dict[str, dict[str, Array]]


@dataclass(frozen=True)
class Model:
    """A compiled spec: pure functions over (params, data) plus what they were made from."""

    graph: nx.DiGraph
    init: Callable[[Array], Params]
    apply: Callable[..., dict[str, Array]]  # (params, inputs, *, key=None, train=False, state=None)
    forward: Forward  # every group's value, and its Aux record
    # (params, batch, key, state=None) -> (loss, metrics); a key means training mode
    loss: Callable[..., tuple[Array, dict[str, Array]]]
    trainable_mask: Callable[[Params], Any] | None  # None when no group is frozen: no optimizer mask
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    plan: Plan
    init_state: Callable[[], dict[str, Any]]  # the model state of the groups that keep one (else {})
    predict: Callable[..., dict[str, np.ndarray]]  # (params, inputs, *, batch_size=None, state=None): jitted, chunked
    targets: tuple[str, ...]  # the outputs scored against the data's targets (what batch() feeds)
    # (params, batch, key, state) -> (loss, (metrics, next state)): the training step's loss
    loss_with_state: Callable[..., tuple[Array, tuple[dict[str, Array], dict[str, Any]]]]
    # (params, inputs, *, key=None, train=False, state=None) -> (outputs, next state)
    apply_with_state: Callable[..., tuple[dict[str, Array], dict[str, Any]]]
    state_groups: tuple[str, ...]  # the groups that keep model state (batch norm's running statistics)
    # a network scored by its own rule (.networks): how its batches are keyed; None: make_batch
    batcher: Callable[[Any, Any], dict[str, dict[str, Any]]] | None = None

    @property
    def spec(self) -> Spec:
        return self.graph.graph["spec"]

    @property
    def stateful(self) -> bool:
        """Whether the network keeps model state beside its parameters (batch norm's running
        statistics): training updates it, and evaluation and prediction need it (``state=``)."""
        return bool(self.state_groups)

    @property
    def stochastic(self) -> bool:
        """Whether a training pass draws random numbers (noisy inputs, sampled units, dropout)."""
        return self.plan.stochastic

    def batch(self, x: Any, y: Any = None) -> dict[str, dict[str, Any]]:
        """``{"inputs": ..., "targets": ...}`` from one input array (or a mapping by input group)
        and one target array, given to every output trained on labels or values."""
        if self.batcher is not None:
            return self.batcher(x, y)
        return make_batch(self.inputs, self.targets, x, y)


def _check_compilable(graph: nx.DiGraph) -> None:
    for _, _, e in graph.edges(data=True):
        if e["kind"] == "symmetric":
            continue  # used by the energy-based rules, not by a forward pass
    for n, d in graph.nodes(data=True):
        external = d["options"].get("addressing") is not None  # read and write heads: compiler/memory.py
        if d["options"].get("slots") is not None and not external and not stored_states(graph, n):
            raise CompileError(f"{d['loc']}: {d['path']}: " + MSG_MEMORY_READ.format(group=n))


_SYMMETRIC_SALT: Final = 0x73796D
"""Folded into the init key for the symmetric edges' matrices."""

_ATTENTION_SALT: Final = 0x617474
"""Folded into the init key for the attention edges' own keys, apart from the groups' splits."""

_RESERVOIR_SALT: Final = 0x726573
"""Folded into the init key for the reservoir edges' sparse random matrices."""

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
    plan = make_plan(graph)
    forward = stepwise_forward(plan) if plan.stepwise else layerwise_forward(plan)
    if precision != "float32":
        forward = _in_precision(forward, PRECISIONS[precision])
    taught = teachers(graph)  # teacher inputs: fed from the targets in training, decoded otherwise
    gan = adversaries(graph)
    # the inputs a user's data hold: not the teacher inputs, nor the noise the network draws; a
    # GAN's real samples enter where its generated ones do
    given = tuple(s for s in plan.required if s not in taught) + ((gan.sample,) if gan is not None else ())
    own = own_scoring(graph, forward, plan)  # a network judged by its own rule's figures
    if own is not None and own.inputs is not None:
        given = own.inputs
    if own is not None and own.forward is not None:
        forward = own.forward
    if own is not None and own.outputs is not None:
        plan = replace(plan, outputs=own.outputs)  # what apply and predict return
    if taught:
        forward = _decoding(forward, plan, taught, given)

    def init(key: Array) -> Params:
        k_groups, k_delayed = jax.random.split(key) if plan.stepwise else (key, None)
        params: Params = {}
        for k, n in zip(jax.random.split(k_groups, len(plan.order)), plan.order, strict=True):
            if plan.owner[n] != n:  # `share:`: it computes with its owner's parameters, made once
                continue
            p = plan.fns[n].init(k, plan.infos[n])
            for i, (_, fns) in enumerate(plan.features[n]):  # a feature's parameters join its group's
                p = {**p, **fns.init(jax.random.fold_in(k, i + 1), plan.infos[n])}
            if n in plan.tied:  # `tie:`: the matrix is the tied group's, transposed; the bias its own
                p = {k: v for k, v in p.items() if k != TIED_WEIGHTS}
            if p:
                params[n] = p
        if k_delayed is not None:  # the delayed edges' matrices join their target groups'
            for n, extra in init_delayed(k_delayed, graph, plan).items():
                params[n] = {**params.get(n, {}), **extra}
        for n, extra in init_symmetric(jax.random.fold_in(key, _SYMMETRIC_SALT), graph).items():
            params[n] = {**params.get(n, {}), **extra}  # `--` matrices, visible biases
        for n, edges in plan.attention.items():  # so do the attention edges' projections
            for a in edges:
                pair = plan.order.index(a.source) * len(plan.order) + plan.order.index(n)
                k = jax.random.fold_in(jax.random.fold_in(key, _ATTENTION_SALT), pair)
                params[n] = {**params.get(n, {}), **init_attention(k, a)}
        # edges with `density:` or `scale:` are fixed random (reservoir) connections
        return reservoir_weights(jax.random.fold_in(key, _RESERVOIR_SALT), graph, plan, params)

    def init_state() -> dict[str, Any]:
        return initial_state(plan)

    state_groups = tuple(initial_state(plan))

    def state_for(state: Mapping[str, Any] | None, train: bool) -> Mapping[str, Any]:
        """The state a pass reads: the one given, else (None, or ``{}`` as a state made without
        ``model_state=``) the initial one -- refused in evaluation, where running statistics that
        were never trained would give quietly wrong outputs."""
        if state is not None and (state or not state_groups):
            return state
        if state_groups and not train:
            raise missing_state(state_groups)
        return init_state() if state_groups else {}

    def apply_with_state(
        params: Params,
        inputs: Array | Mapping[str, Array],
        *,
        key: Array | None = None,
        train: bool = False,
        state: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Array], dict[str, Any]]:
        state = state_for(state, train)
        values, aux = forward(params, inputs, key=key, train=train, state=state)
        return {o: values[o] for o in plan.outputs}, collect_state(plan, aux, state)

    def apply(
        params: Params,
        inputs: Array | Mapping[str, Array],
        *,
        key: Array | None = None,
        train: bool = False,
        state: Mapping[str, Any] | None = None,
    ) -> dict[str, Array]:
        return apply_with_state(params, inputs, key=key, train=train, state=state)[0]

    solved = closed_form_groups(graph)  # read-outs solved once beside backprop: the optimizer leaves them

    def trainable_mask(params: Params) -> Any:
        flags = {n: bool(graph.nodes[n]["trainable"]) and n not in solved for n in params}
        return {n: jax.tree_util.tree_map(lambda _, f=flags[n]: f, p) for n, p in params.items()}

    scored = (
        own.scored
        if own is not None
        else make_adversarial(graph, forward, plan).scored
        if gan is not None
        else make_loss(
            graph,
            forward,
            plan.sources,
            plan.outputs,
            make_factor_clamp(graph, graph.graph["spec"].train.get("factors")),
        )
    )

    def loss(
        params: Params, batch: Mapping[str, Any], key: Array | None, state: Mapping[str, Any] | None = None
    ) -> tuple[Array, dict[str, Array]]:
        value, (metrics, _) = loss_with_state(params, batch, key, state)
        return value, metrics

    def loss_with_state(
        params: Params, batch: Mapping[str, Any], key: Array | None, state: Mapping[str, Any] | None
    ) -> tuple[Array, tuple[dict[str, Array], dict[str, Any]]]:
        state = state_for(state, key is not None)
        value, metrics, aux = scored(params, _taught(batch, taught), key, state)
        return value, (metrics, collect_state(plan, aux, state))

    # without frozen groups the optimizer needs no mask (optax.partition costs time every step)
    frozen = bool(solved) or any(not graph.nodes[n]["trainable"] for n in plan.order)
    mask = trainable_mask if frozen else None
    predict = _make_predict(plan, apply, state_groups, given)
    targets = tuple(scored_outputs(graph, given, plan.outputs)[0]) if gan is None else ()
    if own is not None:
        targets = own.targets
    return Model(
        graph,
        init,
        apply,
        forward,
        loss,
        mask,
        given,
        plan.outputs,
        plan,
        init_state,
        predict,
        targets,
        loss_with_state,
        apply_with_state,
        state_groups,
        batch_maker(given, targets) if own is not None else None,
    )


PREDICT_CHUNK: Final = 8192
"""Examples per call of :meth:`Model.predict` by default: large enough to keep a CPU or GPU busy,
small enough that a big data set is never one device allocation."""


def missing_state(groups: tuple[str, ...]) -> CompileError:
    """The refusal of an evaluation pass without the model state it reads."""
    return CompileError(
        f"this network keeps model state (the running statistics of {', '.join(map(repr, groups))}: norm: batch), "
        "and evaluation and prediction use it; fix: pass state=... (a training result's or a loaded model's `.model_state`), or call `result.predict(...)` "
        "or `cellgraph.evaluate(result, ...)`, which pass it",
    )


def _make_predict(
    plan: Plan, apply: Callable[..., dict[str, Array]], state_groups: tuple[str, ...], given: tuple[str, ...]
) -> Callable[..., dict[str, np.ndarray]]:
    jitted = jax.jit(lambda params, inputs, state: apply(params, inputs, state=state))

    def predict(
        params: Params,
        inputs: Array | Mapping[str, Array],
        *,
        batch_size: int | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> dict[str, np.ndarray]:
        """Every output group's values for ``inputs`` (an array for one input group, else a mapping
        by group), as NumPy arrays, in evaluation mode.

        The inputs are checked against their groups first (a located error naming the group and the
        shape expected), then run in chunks of ``batch_size`` examples (default
        :data:`PREDICT_CHUNK`) through one jitted forward pass; a last, smaller chunk is padded so
        that every chunk reuses one compilation. ``state``: the model state, for a network that
        keeps one (batch norm's running statistics: ``result.model_state``).
        """
        fed: dict[str, np.ndarray] = feed(inputs, given, np.asarray)  # a teacher input is decoded
        n = check_inputs(plan, fed)
        for group, ids in fed.items():
            check_tokens(plan, group, ids)
        size = min(n, batch_size or PREDICT_CHUNK)
        if size < 1:
            raise CompileError(f"batch_size must be a positive number of examples, got {batch_size}")
        device_params = jax.device_put(params)
        if state is None and state_groups:
            raise missing_state(state_groups)
        device_state = jax.device_put(dict(state or {}))
        parts = []
        for start in range(0, n, size):
            chunk = {s: x[start : start + size] for s, x in fed.items()}
            short = size - len(next(iter(chunk.values())))
            if short:  # pad the last chunk: one shape, one compilation
                chunk = {s: np.concatenate([x, np.zeros((short, *x.shape[1:]), x.dtype)]) for s, x in chunk.items()}
            parts.append((jitted(device_params, chunk, device_state), size - short))
        host = jax.device_get([p for p, _ in parts])
        return {o: np.concatenate([h[o][:k] for h, (_, k) in zip(host, parts, strict=True)]) for o in plan.outputs}

    return predict


def _taught(batch: Mapping[str, Any], taught: Mapping[str, tuple[str, int]]) -> Mapping[str, Any]:
    """The batch with each teacher input fed its output's target tokens one step late, the start
    token first (teacher forcing); a batch that already holds them is left as it is."""
    missing = [t for t in taught if t not in batch["inputs"]]
    if not missing:
        return batch
    inputs = dict(batch["inputs"])
    for t in missing:
        output, start = taught[t]
        y = batch["targets"].get(output)
        if y is None:
            raise CompileError(
                f"input group '{t}' is fed '{output}'s targets (teacher: {output}), and this batch has none; "
                f"fix: give the targets of '{output}', or the tokens of '{t}' themselves"
            )
        y = jnp.asarray(y)
        ids = (jnp.argmax(y, axis=-1) if y.ndim == 3 else y).astype(jnp.int32)  # one-hot targets: their ids
        inputs[t] = jnp.concatenate([jnp.full((ids.shape[0], 1), start, jnp.int32), ids[:, :-1]], axis=1)
    return {**batch, "inputs": inputs}


def _decoding(forward: Forward, plan: Plan, taught: Mapping[str, tuple[str, int]], given: tuple[str, ...]) -> Forward:
    """``forward`` that decodes greedily where the teacher inputs are not given: each teacher input
    starts as the start token, and one pass after another fills in step ``i + 1`` with the token its
    output chose at step ``i``. The validated graph reaches the output from the teacher only
    through groups that read the past, so step ``i``'s output never depends on later tokens, and
    the last pass gives what the network computes on its own choices (``steps`` passes: the
    length of the longest sequence fed, unless ``steps=`` says otherwise)."""

    def decode(
        params: Params,
        inputs: Array | Mapping[str, Array],
        *,
        steps: int | None = None,
        **kw: Any,
    ) -> tuple[dict[str, Array], dict[str, Aux]]:
        if isinstance(inputs, Mapping) and all(t in inputs for t in taught):
            return forward(params, inputs, **kw)  # teacher-forced: the tokens are given
        fed = feed(inputs, given)
        if steps is None:
            lengths = [x.shape[1] for s, x in fed.items() if plan.timed[s]]
            if not lengths:
                raise CompileError(
                    f"the network decodes {', '.join(o for o, _ in taught.values())} one step at a time, and no "
                    "sequence is fed to say how many steps; fix: pass steps=N"
                )
            steps = max(lengths)
        rows = next(iter(fed.values())).shape[0]
        tokens = {t: jnp.full((rows, steps), start, jnp.int32) for t, (_, start) in taught.items()}

        def one(i: Array, tokens: dict[str, Array]) -> dict[str, Array]:
            values, _ = forward(params, {**fed, **tokens}, **kw)
            return {
                t: tokens[t].at[:, i + 1].set(jnp.argmax(values[o][:, i], axis=-1).astype(jnp.int32))
                for t, (o, _) in taught.items()
            }

        tokens = jax.lax.fori_loop(0, steps - 1, one, tokens)
        return forward(params, {**fed, **tokens}, **kw)

    return decode


def _in_precision(forward: Forward, dtype: Any) -> Forward:
    """``forward`` computing in ``dtype``: float parameters and inputs cast in, float values cast back to float32."""

    def cast(to: Any) -> Callable[[Any], Any]:
        return lambda a: a.astype(to) if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating) else a

    def low(
        params: Params, inputs: Array | Mapping[str, Array], *, key: Array | None = None, train: bool = False, **kw: Any
    ) -> tuple[dict[str, Array], dict[str, Aux]]:
        inputs = {k: jnp.asarray(v) for k, v in inputs.items()} if isinstance(inputs, Mapping) else jnp.asarray(inputs)
        values, aux = forward(
            jax.tree.map(cast(dtype), params), jax.tree.map(cast(dtype), inputs), key=key, train=train, **kw
        )
        return jax.tree.map(cast(jnp.float32), values), jax.tree.map(cast(jnp.float32), aux)

    return low


def compile(
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
