"""A compiled spec as a Flax Linen module, for a Flax user's own model.

``cellgraph.flax_module("net.yaml")`` gives a :class:`GraphModule`: an ``nn.Module`` whose
parameters live in Flax's ``params`` collection with cellgraph's own layout (one entry per group
that owns parameters: ``{"h": {"kernel", "bias"}, ...}``), so they move between a Flax model and
``cellgraph.train`` / ``save`` / ``load`` unchanged. It is used like any Linen layer and trained
by the user's optax loop. Compile the spec once, outside the module (reading and checking a spec
is not work for every trace), and make the layer inside ``@nn.compact`` code -- or give
``flax_module(...)`` to the parent as an attribute:

>>> block = cellgraph.compile("block.yaml")  # doctest: +SKIP
>>> class Net(nn.Module):  # doctest: +SKIP
...     @nn.compact
...     def __call__(self, x, train=False):
...         x = nn.Dense(32)(x)
...         x = GraphModule(block)(x, train=train)
...         return nn.Dense(10)(x)

With ``train=True`` a network that draws random numbers while training (dropout, noisy inputs,
sampled units) takes them from the ``dropout`` PRNG stream (``rngs={"dropout": key}``), as Flax's
own ``nn.Dropout`` does. A network with batch normalisation keeps its running statistics in the
``batch_stats`` collection, as ``nn.BatchNorm`` does: a training pass updates them, so it is
applied with ``mutable=["batch_stats"]``; evaluation reads them. Inputs are an array (a network with one input group) or a mapping by
input group; the output is the output group's array, or a mapping by output group when there are
several (Keras's convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import networkx as nx

from ..spec.model import Spec
from .model import Model, compile

RNG_STREAM = "dropout"
"""The Flax PRNG stream a training pass draws from (the stream Flax's ``nn.Dropout`` uses)."""

STATE_COLLECTION = "batch_stats"
"""The Flax collection the model state lives in (where ``nn.BatchNorm`` keeps its statistics), one
entry per group that keeps state, with cellgraph's layout (``{"h": {"norm_mean", "norm_var"}}``)."""


class GraphModule(nn.Module):
    """A compiled cellgraph network as a Linen module (see the module docstring).

    Attributes:
        model: the compiled network (``cellgraph.compile``); static, never traced.
    """

    model: Model

    @nn.compact
    def __call__(self, inputs: jax.Array | Mapping[str, jax.Array], *, train: bool = False) -> Any:
        model = self.model
        if self.is_initializing():  # cellgraph's own initialisation, once, one Flax parameter per group
            initial = model.init(self.make_rng("params"))
            params = {group: self.param(group, lambda _key, value=value: value) for group, value in initial.items()}
        else:
            params = dict(self.variables.get("params", {}))
        # batch norm's running statistics, in Flax's batch_stats collection (made only when initialising)
        stats = {g: self.variable(STATE_COLLECTION, g, lambda g=g: model.init_state()[g]) for g in model.state_groups}
        key = self.make_rng(RNG_STREAM) if train and model.stochastic else None
        state = {g: v.value for g, v in stats.items()}
        outputs, new = model.apply_with_state(params, inputs, key=key, train=train, state=state)
        if train and not self.is_initializing():  # as nn.BatchNorm: apply(..., mutable=["batch_stats"])
            for g, v in stats.items():
                v.value = new[g]
        return outputs[model.outputs[0]] if len(model.outputs) == 1 else outputs


def flax_module(
    spec: str | Path | Spec | nx.DiGraph | Model, params: Mapping[str, Any] | None = None, *, name: str | None = None
) -> GraphModule:
    """The network of ``spec`` (a spec file, a loaded spec, a checked graph or a compiled model)
    as a Flax Linen module; ``params`` overrides spec params (``{"width": 16}``)."""
    model = spec if isinstance(spec, Model) else compile(spec, params)
    return GraphModule(model, name=name)
