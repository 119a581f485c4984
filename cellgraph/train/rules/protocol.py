"""The rule protocol: a learning rule is an ``(init, update)`` pair over a :class:`TrainState`.

It is Optax's ``GradientTransformation`` one level up. Optax's ``init(params) -> opt_state`` and
``update(grads, opt_state, params)`` see only gradients; a classic rule (the perceptron's error
correction, a least-squares read-out, Hebbian storage) has no gradient, so here ``update`` takes
the whole state -- parameters, model state, the rule's own state, the PRNG key -- and a batch,
and returns the next state and the batch's metrics. Backprop is one such rule (its rule state is
the optax state); the loop drives every rule the same way and knows none by name.

A rule also says how the loop feeds it (:data:`Feed`): minibatches, one pass over the data per
update (an online rule scans the examples inside its update), or the whole set once (a fit in
closed form, :func:`one_shot`). Everything else -- the run key, checkpoints, resume, the progress
bar, NaN stops, evaluation -- is the loop's, the same for every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import jax
import numpy as np

from ...typedefs import Params
from ..state import TrainState
from ..step import Batch, Metrics, ModelLike, make_eval

Feed = Literal["batches", "epochs", "once"]
"""How the loop cuts the training set into ``update`` calls:

* ``"batches"``: minibatches of ``batch_size`` in the loop's shuffled order (backprop);
* ``"epochs"``: one update per pass over the whole set, in the rule's ``order`` (an online rule
  that visits the examples one at a time inside its update, never losing a remainder);
* ``"once"``: one update on the whole set in its stored order; the run is one step (closed-form fits).
"""

Order = Callable[[int, int, int], np.ndarray]
"""``(seed, epoch, n) -> the int32 visiting order of epoch`` (0-based); a function of its
arguments alone, so a resumed run rebuilds it."""


@dataclass(frozen=True)
class RunInfo:
    """What a rule may know of its run besides the model and the settings.

    Attributes:
        examples: rows in the training split.
        classes: the data set's number of classes (None: regression or unknown).
        loc: maps a ``train:`` key path to its place in the spec file (``Spec.loc``), for errors
            that point at the YAML; None when the settings came from arguments.
        factors: the training rows' true factors, one column per factor of ``train.factors``
            (None without it): what a rule's batch order may group the rows by.
        program: ``(name, fn) -> callable``: ``jax.jit(fn)`` compiled for the arguments of its
            first call and kept with the run's other programs (None: plain ``jax.jit``). A rule
            that runs JAX on the host side of its update (a one-shot fit collecting states)
            gets its program through :func:`program_of`, so a later run of the same spec loads
            it instead of tracing it again -- the loop's own programs are kept the same way.
    """

    examples: int
    classes: int | None = None
    loc: Callable[[tuple[str | int, ...]], Any] | None = None
    factors: np.ndarray | None = None
    program: Callable[[str, Callable[..., Any]], Callable[..., Any]] | None = None


def program_of(info: RunInfo | None, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``jax.jit(fn)``, kept by the run under ``name`` when the run keeps programs (see
    :attr:`RunInfo.program`)."""
    if info is None or info.program is None:
        return jax.jit(fn)
    return info.program(name, fn)


class Rule(NamedTuple):
    """A learning rule bound to one model and its settings, as the loop drives it.

    Attributes:
        init: ``state -> state``: the fresh state (parameters from the model's init, empty model
            and rule state) made ready for this rule: its rule state set, and its starting
            parameters where the rule has its own (the perceptron starts from zero).
        update: ``(state, batch) -> (state, metrics)``: one update. It need not advance
            ``state.step``: the loop counts updates and stamps its count on the state whenever it
            hands the state out (checkpoints, ``on_step``, the result). ``metrics`` are scalars (or per-example values) averaged by the loop over an
            epoch's examples; a ``"loss"`` among them is checked for nan/inf at every sync, and
            a rule without one has its parameters checked instead.
        feed: how the loop cuts the data into updates (:data:`Feed`).
        order: each epoch's visiting order (None: the loop's ``default_rng([seed, epoch])``).
        traced: ``update`` is a pure JAX function: the loop jits it with the state donated and
            gathers each batch on the device. False: a host function (NumPy), called with NumPy
            arrays in their stored dtype.
        advice: the fix a nan or inf stop suggests.
        counts: what a run's ``steps`` count: ``"updates"`` (calls of ``update``), or, for a rule
            fed ``"epochs"`` that learns one example at a time (the SOM), ``"examples"``: ``steps:
            10000`` is then 10,000 single-example updates, so the loop runs ``ceil(steps /
            examples)`` passes and the rule itself leaves the examples past ``steps`` unused.
        prepare: ``(state, train_set) -> state``, or None: called once on a fresh run, before the
            first update, with the whole training set as host (NumPy) arrays in their stored order
            (backprop solves the closed-form read-outs a spec puts beside it here). Not called on
            a resumed run: its checkpoint holds the prepared state. It must keep every leaf's
            shape and dtype (the step programs are compiled for the first state's).
    """

    init: Callable[[TrainState], TrainState]
    update: Callable[[TrainState, Batch], tuple[TrainState, Metrics]]
    feed: Feed = "batches"
    order: Order | None = None
    traced: bool = True
    advice: str = "lower the learning rate or add grad_clip"
    counts: Literal["updates", "examples"] = "updates"
    prepare: Callable[[TrainState, Batch], TrainState] | None = None


RuleMaker = Callable[[ModelLike, Mapping[str, Any], RunInfo], Rule]
"""``(model, settings, info) -> Rule``: what the rule table points to. ``settings`` are the run's
resolved ``train:`` settings, the rule's options among them (defaults from
:data:`cellgraph.graph.rules.RULES`)."""


def stored_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The training set as stored, whatever the seed and epoch."""
    return np.arange(n, dtype=np.int32)


def one_shot(model: ModelLike, fit: Callable[[Params, Batch], Params], info: RunInfo | None = None) -> Rule:
    """A fit in closed form (least squares, counting, Hebbian storage) as a rule.

    ``fit(params, batch) -> params`` sees the whole training set once, as NumPy arrays in their
    stored order and dtype, and may solve on the host in float64. The update's metrics are the
    model's loss and metrics on that set with the fitted parameters (a fit has no "before").
    """
    evaluate = program_of(info, "fit-metrics", make_eval(model))

    def update(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        params = fit(state.params, batch)
        return state.replace(step=state.step + 1, params=params), evaluate(params, batch)

    return Rule(init=lambda state: state, update=update, feed="once", order=stored_order, traced=False)


__all__ = ["Feed", "Order", "Rule", "RuleMaker", "RunInfo", "one_shot", "program_of", "stored_order"]
