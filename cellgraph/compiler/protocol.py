"""The cell protocol: what one group's JAX half receives and returns.

A cell type's JAX half is a :class:`CellFns`, named by the registry record's ``impl`` pointer
(``"module:attribute"``), so the registry stays JAX-free and this package never lists the types
it serves. The executor (:mod:`.executor`) calls it with:

* :class:`Inputs` -- the group's inputs *by port*: every edge feeds one of the type's named
  ports (``CellType.ports``, picked with the edge option ``port:``, default the first), and the
  edges into one port are merged; identity skips and delayed (previous-step) terms ride beside
  them, to be added before the activation. Attention, gates and memories tell their inputs apart
  by port, not by position;
* :class:`Ctx` -- the group's static description (:class:`NodeInfo`), its leading axes, its PRNG
  key, whether it trains, and its model state (batch statistics and the like);

and gets back an :class:`Out`: the group's value and an :class:`Aux` record -- the typed
auxiliary values the losses read (logits, a KL term, a source's clean value, the new model
state) and the attention weights a plot reads. A type that carries values across time steps (recurrent, later memories) also gives
``init_carry`` and ``step``: one time step from a carry of any pytree shape, which is how the
step-wise executor runs it. That is the shape of Haiku's and Flax's recurrent cells
(``initial_state`` + ``__call__(x, state)``) and of Equinox's ``(params, x, state)`` modules.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import jax

from ..cells.features import Feature
from ..cells.registry import CELLS, CellType, Recurrence
from ..errors import CellgraphError
from ..typedefs import Shape

Array = jax.Array
Params = dict[str, Array]
Carry = Any
"""Whatever a cell hands itself from one time step to the next: ``h``, ``(h, c)``, a memory."""
State = Any
"""A group's model state: values that change while training but not by gradient (batch statistics)."""


class CompileError(CellgraphError):
    """A spec that validates but cannot (yet) be compiled; the message names the group."""


@dataclass(frozen=True)
class NodeInfo:
    """What a cell's init and apply see of its group (static: closed over, never traced)."""

    name: str
    type: str
    options: Mapping[str, Any]
    in_shape: Shape | None  # the main port's merged input, per example and step
    out_shape: Shape
    sources: tuple[str, ...] = ()  # the types of the groups feeding the main port
    in_shapes: Mapping[str, Shape] = field(default_factory=dict)  # every fed port's merged input
    # a fixed sparse reservoir (a plain recurrence drawn with `density` in a group that does not
    # train): the nonzero count of its recurrent matrix, which steps it by its nonzeros alone
    # (:func:`cellgraph.compiler.sparse.sparse_product`); None otherwise
    sparse_recurrence: int | None = None

    @property
    def cell(self) -> CellType:
        """The group's registered type: its capabilities, not its name, decide what compiles."""
        return CELLS[self.type]

    @property
    def recurrence(self) -> Recurrence:
        """The update rule of a recurrent group (only recurrent cells ask)."""
        rec = self.cell.recurrence
        assert rec is not None, f"{self.type} is not recurrent"
        return rec


@dataclass(frozen=True)
class Inputs:
    """A group's inputs for one call: merged values by port, plus terms added before the activation."""

    ports: Mapping[str, Array]  # only the ports some edge feeds
    main_port: str = "in"
    skips: tuple[Array, ...] = ()  # identity edges: values of the group's own shape
    delayed: tuple[Array, ...] = ()  # previous-step values through their edges' weights: (batch, gates * cells)
    # attention edges' outputs, (batch, time, cells) each: terms of the group's weighted sum, so they
    # are added before `norm:` (the skips and delayed terms come after it, unless `norm_at: output`)
    attended: tuple[Array, ...] = ()

    @property
    def x(self) -> Array | None:
        """The main port's merged value (None for a group fed only by delayed or symmetric edges)."""
        return self.ports.get(self.main_port)


@dataclass(frozen=True)
class Ctx:
    """How a group is called: its description, leading axes, randomness, mode and model state."""

    info: NodeInfo
    lead: int  # leading axes of what it reads: 1 = (batch,), 2 = (batch, time)
    key: Array | None = None  # present only while training a type that draws random numbers
    train: bool = False
    state: State = None
    # the group's `norm:` (a pre-stage feature), which a cell that computes a weighted sum applies
    # to it before the skips, delayed terms and activation -- or, with `norm_at: output`, to its
    # value after them (post-norm); None: nothing to apply
    # (returning the weighted sum and the model state entries it updated, or None)
    normalize: Callable[[Array], tuple[Array, State]] | None = None


class Aux(NamedTuple):
    """What a group leaves for the losses besides its value (a pytree: absent fields are None)."""

    pre: Array | None = None  # the pre-activation (logits): losses read it for numerical stability
    kl: Array | None = None  # a Gaussian code's KL divergence from the prior, per example
    clean: Array | None = None  # a source's value before corruption (a denoiser's target)
    state: State = None  # the group's new model state
    # each attention edge's weights into the group, by source: (batch, heads, queries, keys), rows
    # summing to 1 -- for plots and probes, not read by any loss
    attention: Mapping[str, Array] | None = None
    # internal values a plot reads, by name (an external memory's contents and head weightings
    # after each step; evaluation only) -- not read by any loss
    probes: Mapping[str, Array] | None = None


class Out(NamedTuple):
    """A cell's answer: its value and its :class:`Aux` record."""

    value: Array
    aux: Aux


Init = Callable[[Array, NodeInfo], Params]
Apply = Callable[[Params, Inputs, Ctx], Out]
Step = Callable[[Params, Inputs, Carry, Ctx], tuple[Out, Carry]]


@dataclass(frozen=True)
class CellFns:
    """The JAX half of a cell type.

    ``apply`` computes the group over whatever leading axes it is given (a recurrent layer: a
    whole sequence, where it may use a fused kernel). ``init_carry`` and ``step`` are given by
    types that carry values across time steps; the step-wise executor calls ``step`` once per
    step. ``init_state`` is given by types with model state. ``stochastic``: it draws random
    numbers while training (noise, sampling), so the executor gives it a key.
    """

    init: Init
    apply: Apply | None  # None for sources: the executor feeds them
    stochastic: bool = False
    init_carry: Callable[[NodeInfo, int, Any], Carry] | None = None  # (info, batch, dtype) -> carry
    step: Step | None = None
    init_state: Callable[[NodeInfo], State] | None = None


@dataclass(frozen=True)
class FeatureFns:
    """The JAX half of a group feature (:mod:`cellgraph.cells.features`).

    ``init`` gives the parameters it adds to its group's (named ``norm_scale``, ...: they live in the
    group's dict beside the cell's own). ``apply(params, value, ctx) -> (value, state)`` transforms
    the group's fed data (a ``source`` feature), weighted sum (``pre``) or value (``post``);
    ``ctx.key`` is the feature's own key while training a stochastic feature. ``init_state`` is
    given by a feature that keeps model state (batch norm's running statistics, in the group's
    state dict beside other features' entries; None when the group's options need none):
    ``ctx.state`` holds the group's current state, and ``apply`` returns the entries it updates
    (None: nothing to update, as in evaluation).
    """

    init: Init
    apply: Callable[[Params, Array, Ctx], tuple[Array, State]]
    init_state: Callable[[NodeInfo], State] | None = None


@functools.cache
def _resolve(pointer: str) -> Any:
    module, _, attr = pointer.partition(":")
    return getattr(importlib.import_module(module), attr)


def cell_fns(cell: CellType) -> CellFns:
    """The JAX half of ``cell``, found through its registry pointer (imported on first use)."""
    if not cell.impl:
        raise CompileError(f"cell type '{cell.name}' has no compiled implementation (its `impl` is empty)")
    fns = _resolve(cell.impl)
    if not isinstance(fns, CellFns):
        raise TypeError(f"{cell.impl} is a {type(fns).__name__}, not CellFns")
    return fns


def feature_fns(feature: Feature) -> FeatureFns:
    """The JAX half of ``feature``, found through its registry pointer (imported on first use)."""
    if not feature.impl:
        raise CompileError(f"feature '{feature.name}' has no compiled implementation (its `impl` is empty)")
    fns = _resolve(feature.impl)
    if not isinstance(fns, FeatureFns):
        raise TypeError(f"{feature.impl} is a {type(fns).__name__}, not FeatureFns")
    return fns


class _CellFnsByName(Mapping[str, CellFns]):
    """Every registered type name -> its :class:`CellFns`, read through the registry."""

    def __getitem__(self, name: str) -> CellFns:
        return cell_fns(CELLS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(CELLS)

    def __len__(self) -> int:
        return len(CELLS)


CELL_FNS: Final[Mapping[str, CellFns]] = _CellFnsByName()
