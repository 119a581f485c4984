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
own ``nn.Dropout`` does. Inputs are an array (a network with one input group) or a mapping by
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


class GraphModule(nn.Module):
    """A compiled cellgraph network as a Linen module (see the module docstring).

    Attributes:
        model: the compiled network (``cellgraph.compile``); static, never traced.
    """

    model: Model

    @nn.compact
    def __call__(self, inputs: jax.Array | Mapping[str, jax.Array], *, train: bool = False) -> Any:
        params = {group: self.param(group, _group_init(self.model, group)) for group in _owners(self.model)}
        key = self.make_rng(RNG_STREAM) if train and self.model.stochastic else None
        outputs = self.model.apply(params, inputs, key=key, train=train)
        return outputs[self.model.outputs[0]] if len(self.model.outputs) == 1 else outputs


def flax_module(
    spec: str | Path | Spec | nx.DiGraph | Model, params: Mapping[str, Any] | None = None, *, name: str | None = None
) -> GraphModule:
    """The network of ``spec`` (a spec file, a loaded spec, a checked graph or a compiled model)
    as a Flax Linen module; ``params`` overrides spec params (``{"width": 16}``)."""
    model = spec if isinstance(spec, Model) else compile(spec, params)
    return GraphModule(model, name=name)


def _owners(model: Model) -> tuple[str, ...]:
    """The groups that own parameters, in the network's order (a shared group uses its owner's)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    return tuple(n for n in model.plan.order if n in shapes)


def _group_init(model: Model, group: str) -> Any:
    """Flax's initialiser of one group's parameters: cellgraph's own initialisation, from the key
    Flax gives this parameter (the whole network's initial values are made and this group's kept)."""

    def init(key: jax.Array) -> Any:
        return model.init(key)[group]

    return init
