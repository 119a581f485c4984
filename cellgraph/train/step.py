"""One gradient step and one evaluation, as pure functions under plain ``jax.jit``.

The step is ``(state, batch) -> (state, metrics)``: it splits the step's PRNG key off
``state.rng``, differentiates ``model.loss`` and applies the optimizer. It is jitted with
``jax.jit`` and ``donate_argnums`` for the state, so parameters and optimizer moments are updated
in place -- never with ``nnx.jit``, whose per-call graph traversal costs more than a small
network's whole step. The model and the optimizer are closed over (static); only arrays go in.

This step is the backprop rule's update (:mod:`.rules.backprop`); the training loop runs it,
like every rule's update, with the batch gathered on the device from the whole training set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax
import optax

from ..typedefs import Key, Params
from .state import TrainState

Batch = Mapping[str, Any]
"""``{"inputs": {input group: array}, "targets": {output group: array}}`` (``model.batch(x, y)``
builds one); ``"targets"`` is empty for unsupervised data."""

Metrics = dict[str, jax.Array]
"""Scalar arrays by name; always holds ``"loss"``."""

LossFn = Callable[[Params, Batch, Key | None], tuple[jax.Array, Mapping[str, jax.Array]]]


class ModelLike(Protocol):
    """What training needs of a compiled model (``cellgraph.compiler.Model`` has it all)."""

    @property
    def init(self) -> Callable[[Key], Params]: ...

    @property
    def loss(self) -> LossFn: ...

    @property
    def trainable_mask(self) -> Callable[[Params], Any] | None: ...


StatefulLossFn = Callable[..., tuple[jax.Array, tuple[Mapping[str, jax.Array], Any]]]
"""``(params, batch, key, model_state) -> (loss, (metrics, next model state))``."""


def step_fn(
    loss: LossFn,
    tx: optax.GradientTransformationExtraArgs,
    *,
    stochastic: bool = True,
    count: bool = True,
    stateful_loss: StatefulLossFn | None = None,
) -> Callable[..., tuple[TrainState, Metrics]]:
    """The pure, unjitted step: ``(state, batch) -> (next state, metrics of this batch)``.

    The metrics are measured on the parameters *before* the update (they come with the
    gradient), which is what a training curve conventionally shows. A model that draws no random
    numbers while training (``stochastic=False``: no noisy inputs, no sampled units) gets the
    state's key unsplit: splitting costs ~50 µs a step on the CPU, a quarter of a small MLP's step.

    ``count=False`` leaves ``state.step`` as it is, for the training loop, which counts steps
    itself and stamps the count on the state whenever it hands the state out: the increment in
    the compiled step cost the 40-layer DFF's step 8-15 % on this 2-core CPU (XLA schedules the
    scalar add as a fusion of its own), in interleaved runs of the training benchmark.

    ``stateful_loss`` is given for a network with model state (batch norm's running statistics):
    the step then reads ``state.model_state`` and keeps what the training pass made of it.
    """

    def kept(params: Params, batch: Batch, key: Any, model_state: Any) -> tuple[jax.Array, Any]:
        """``loss`` in ``stateful_loss``'s form: the model state passes through unchanged."""
        value, metrics = loss(params, batch, key)
        return value, (metrics, model_state)

    full = stateful_loss or kept

    def step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        rng, key = jax.random.split(state.rng) if stochastic else (state.rng, state.rng)

        def value_fn(params: Params) -> jax.Array:  # for line-search optimizers (lbfgs)
            return full(params, batch, key, state.model_state)[0]

        (value, (metrics, model_state)), grads = jax.value_and_grad(full, has_aux=True)(
            state.params, batch, key, state.model_state
        )
        updates, opt_state = tx.update(
            grads, state.rule_state, state.params, value=value, grad=grads, value_fn=value_fn
        )
        params = optax.apply_updates(state.params, updates)
        changes = {"params": params, "rule_state": opt_state, "rng": rng, "model_state": model_state}
        if count:
            changes["step"] = state.step + 1
        return state.replace(**changes), {"loss": value, **metrics}

    return step


def make_train_step(model: ModelLike, tx: optax.GradientTransformationExtraArgs) -> Callable[..., Any]:
    """The jitted training step ``(state, batch) -> (state, metrics)``.

    ``state`` is donated: after the call the old state's buffers are gone, so always rebind
    (``state, metrics = step(state, batch)``).

    >>> step = make_train_step(model, make_optimizer({"optimizer": "adam"}))  # doctest: +SKIP
    >>> state, metrics = step(state, model.batch(x, y))  # doctest: +SKIP
    """
    return jax.jit(make_update(model, tx), donate_argnums=0)


def make_update(
    model: ModelLike, tx: optax.GradientTransformationExtraArgs, *, count: bool = True
) -> Callable[..., Any]:
    """:func:`step_fn` for ``model``, not jitted (the backprop rule's update, with ``count=False``;
    the loop jits it and counts the steps).

    A model that says it draws no random numbers while training (``stochastic = False``) gets the
    state's key unsplit; one that does not say is assumed to draw them.
    """
    stateful = bool(getattr(model, "stateful", False))
    return step_fn(
        model.loss,
        tx,
        stochastic=bool(getattr(model, "stochastic", True)),
        count=count,
        stateful_loss=getattr(model, "loss_with_state", None) if stateful else None,
    )


def _scored(model: ModelLike, params: Params, batch: Batch, model_state: Any) -> Metrics:
    """The loss and metrics in evaluation mode: ``model.loss(params, batch, None)`` -- no key means
    no training-time noise (a ``noisy_input`` passes its input through, dropout keeps every unit)
    -- with the model state for a network that keeps one (batch norm's running statistics)."""
    if getattr(model, "stateful", False):
        value, metrics = model.loss(params, batch, None, model_state)  # type: ignore[call-arg]
    else:
        value, metrics = model.loss(params, batch, None)
    return {"loss": value, **metrics}


def make_eval(model: ModelLike) -> Callable[..., Metrics]:
    """Jitted ``(params, batch, model_state=None) -> metrics`` in evaluation mode (see :func:`_scored`)."""

    def evaluate(params: Params, batch: Batch, model_state: Any = None) -> Metrics:
        return _scored(model, params, batch, model_state)

    return jax.jit(evaluate)


def make_indexed_eval(model: ModelLike) -> Callable[..., Metrics]:
    """:func:`make_eval` on the rows ``start:start + size`` of a device-resident split:
    ``(params, data, start, model_state=None, *, size)``."""

    def evaluate(
        params: Params, data: Mapping[str, jax.Array], start: jax.Array, model_state: Any = None, *, size: int
    ) -> Metrics:
        batch = jax.tree.map(lambda v: jax.lax.dynamic_slice_in_dim(v, start, size), data)
        return _scored(model, params, batch, model_state)

    return jax.jit(evaluate, static_argnames="size")


def make_splits_eval(model: ModelLike) -> Callable[..., dict[str, Metrics]]:
    """Jitted ``(params, {split: batch}, model_state=None) -> {split: metrics}``: every split a run scores after an
    epoch (validation, test, the training split's final score) in one program, each split whole.

    One program instead of one per split's shape: a small run's whole compile budget is its
    initialisation, its step and this.
    """

    def evaluate(params: Params, splits: Mapping[str, Batch], model_state: Any = None) -> dict[str, Metrics]:
        return {name: _scored(model, params, batch, model_state) for name, batch in splits.items()}

    return jax.jit(evaluate)
