"""The training state and the two ways a run ends early: a training error, or the user's Ctrl-C.

:class:`TrainState` is everything that changes while a network learns -- the step count, the
parameters, the model's state, the learning rule's state and the PRNG key -- in one immutable
pytree, so that a jitted update takes one and returns the next, and a checkpoint is that one object
written to disk. The model, the rule's settings and the data stay outside it: they are static,
closed over by the update. Parameters and model state are kept apart as Haiku's
``transform_with_state`` keeps them: parameters are what a rule learns, model state what the
forward pass itself updates (batch-norm statistics).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import CellgraphError
from ..typedefs import Key, Params
from .ahead import INIT_OPTIONS, ahead


class TrainingError(CellgraphError):
    """Training could not go on: the loss or the parameters stopped being finite, a checkpoint
    belongs to another run, or the model and the data do not fit together.

    ``step`` and ``epoch`` (1-based) say where it happened when that is known.
    """

    def __init__(self, message: str, *, step: int | None = None, epoch: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.epoch = epoch


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a ``KeyboardInterrupt`` from an ``on_step`` callback) stopped a run between
    two steps. ``checkpoint`` is the file that was saved (None without a checkpoint folder);
    calling ``train`` again with the same ``checkpoint_dir`` resumes from it.
    """

    def __init__(self, message: str, *, step: int, epoch: int, checkpoint: str | None) -> None:
        super().__init__(message)
        self.step = step
        self.epoch = epoch
        self.checkpoint = checkpoint

    def __str__(self) -> str:
        return str(self.args[0])


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainState:
    """One point of a training run; a pytree, so it passes through ``jax.jit`` whole.

    A JAX-registered dataclass rather than a ``flax.struct`` one: importing Flax takes a tenth of
    a second, and a run needs it only to write its checkpoint (``checkpoint.serialization``
    registers this class with ``flax.serialization`` then, in Flax's own format for it).

    Attributes:
        step: updates applied so far (int32 scalar).
        params: the network's parameters.
        model_state: what the forward pass carries from step to step apart from the parameters
            (batch-norm statistics); ``{}`` for a model without any.
        rule_state: the learning rule's own state (backprop: the optax optimizer's state for
            ``params``); ``{}`` for a rule without any.
        rng: the PRNG key the next step splits its own key from (a typed key array).
    """

    step: jax.Array
    params: Params
    model_state: Any
    rule_state: Any
    rng: jax.Array

    def replace(self, **changes: Any) -> TrainState:
        """A copy with ``changes`` (field names and values) made."""
        return dataclasses.replace(self, **changes)


def init_state(
    init: Callable[[Key], Params],
    tx: optax.GradientTransformation | None = None,
    seed: int | jax.Array = 0,
    model_state: Callable[[], Any] | None = None,
) -> TrainState:
    """The state before the first step: parameters from ``init`` and, with ``tx``, a fresh
    optimizer state as the rule state (the backprop rule's; other rules set theirs in their ``init``).

    One seed decides everything random in a run: it is split once into the key that draws the
    initial parameters and the key that the steps split from (noise, dropout, sampling). It is
    computed as one compiled program, like the training loop's (:func:`first_state`), so that
    both give the same parameters to the last bit (XLA's fused arithmetic can differ from
    op-by-op dispatch in the last place). ``model_state``: the model's initial state
    (``model.init_state``) for a network that keeps one; else ``{}``.

    >>> state = init_state(model.init, optax.adam(1e-3), seed=0)  # doctest: +SKIP
    """
    if not isinstance(seed, int):  # a traced seed (under vmap, jit): the same computation, traced
        return _jit_fresh(init, tx, model_state)(jax.random.key_data(jax.random.key(seed)))
    data = seed_key_data(seed)
    return _compiled_fresh(init, tx, model_state)(data)


def _fresh_state(
    init: Callable[[Key], Params],
    tx: optax.GradientTransformation | None,
    model_state: Callable[[], Any] | None,
    key_data: jax.Array,
) -> TrainState:
    init_key, rng = jax.random.split(jax.random.wrap_key_data(key_data))
    params = init(init_key)
    rule_state = optimizer_state(tx, params) if tx is not None else {}
    kept = model_state() if model_state is not None else {}
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, model_state=kept, rule_state=rule_state, rng=rng)


@functools.lru_cache(maxsize=32)
def _jit_fresh(
    init: Callable[[Key], Params], tx: optax.GradientTransformation | None, model_state: Callable[[], Any] | None
) -> Callable[[Any], TrainState]:
    """:func:`_fresh_state` jitted once per (init, optimizer): repeated calls compile once (the
    cache is bounded: a search over thousands of models must not keep them all alive)."""
    return jax.jit(functools.partial(_fresh_state, init, tx, model_state))


@functools.lru_cache(maxsize=32)
def _compiled_fresh(
    init: Callable[[Key], Params], tx: optax.GradientTransformation | None, model_state: Callable[[], Any] | None
) -> Callable[[Any], TrainState]:
    """:func:`_jit_fresh` compiled with the options of a program that runs once, as the loop's."""
    return ahead(_jit_fresh(init, tx, model_state), seed_key_data(0), options=INIT_OPTIONS)


def seed_key_data(seed: int) -> np.ndarray:
    """The raw data of ``jax.random.key(seed)``, as NumPy: for a seed below 2³² it is plainly
    ``[0, seed]``, so no program is compiled for it (JAX compiles two small ones otherwise)."""
    if 0 <= seed < 2**32:
        return np.array([0, seed], dtype=np.uint32)
    return np.asarray(jax.random.key_data(jax.random.key(seed)))


def first_program(
    init: Callable[[Key], Params],
    rule_init: Callable[[TrainState], TrainState] | None,
    model_state: Callable[[], Any] | None = None,
) -> Callable[[Any], TrainState]:
    """The jitted ``key data -> first state``: :func:`init_state`'s computation, then ``rule_init``
    (a traced rule's), as one program.

    Run op by op, a network's initialisation dispatches dozens of primitives, each compiled on its
    own the first time (28 compilations, 0.6 s for the mushroom MLP); one jitted program is one
    compilation, and the persistent compilation cache can keep it.
    """

    def make(key_data: jax.Array) -> TrainState:
        state = _fresh_state(init, None, model_state, key_data)
        return rule_init(state) if rule_init is not None else state

    return jax.jit(make)


def first_state(
    init: Callable[[Key], Params],
    rule_init: Callable[[TrainState], TrainState] | None,
    seed: int,
    model_state: Callable[[], Any] | None = None,
) -> TrainState:
    """The first state of a run (see :func:`first_program`), compiled and run now."""
    data = seed_key_data(seed)
    return ahead(first_program(init, rule_init, model_state), data, options=INIT_OPTIONS)(data)


def optimizer_state(tx: optax.GradientTransformation, params: Params) -> Any:
    """``tx``'s fresh state for ``params``, each leaf in a buffer of its own: the step donates its
    state, so no two leaves may share one (optax's lbfgs shares some)."""
    return jax.tree.map(jnp.copy, tx.init(params))


def is_alive(state: TrainState) -> bool:
    """False when a donated step consumed ``state``'s buffers (an interrupt mid-dispatch)."""
    return not any(getattr(leaf, "is_deleted", lambda: False)() for leaf in jax.tree.leaves(state))


def to_plain(state: TrainState) -> TrainState:
    """The state with its PRNG key as raw uint32 data, the form serializers accept."""
    return state.replace(rng=jax.random.key_data(state.rng))


def from_plain(state: TrainState) -> TrainState:
    """Undo :func:`to_plain`."""
    return state.replace(rng=jax.random.wrap_key_data(jnp.asarray(state.rng)))


def nonfinite(tree: Any) -> str | None:
    """``"nan"`` or ``"inf"`` when a floating-point leaf of ``tree`` holds one (nan first), else None.

    Checked with NumPy on a host copy: it runs at a run's end and at the syncs of a rule without a
    loss, where a compiled check would be one more compilation than the run needs.
    """
    leaves = [np.asarray(x) for x in jax.device_get(jax.tree.leaves(tree))]
    leaves = [x for x in leaves if np.issubdtype(x.dtype, np.inexact)]
    if any(np.isnan(x).any() for x in leaves):
        return "nan"
    return "inf" if any(np.isinf(x).any() for x in leaves) else None
