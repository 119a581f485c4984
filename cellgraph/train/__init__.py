"""Training: a compiled model + a data set -> trained parameters, by plain ``jax.jit`` steps.

``cellgraph.train`` is both this package and a function, like ``cellgraph.render``:
``cellgraph.train("specs/examples/mushroom.yaml")`` trains a spec (see :func:`.loop.train`),
while ``cellgraph.train.optim`` and the other modules stay importable.

* ``optim``       the spec's ``train:`` block -> an optax transformation (clipping, frozen weights)
* ``state``       ``TrainState`` (step, params, model_state, rule_state, rng) and the training errors
* ``step``        the optax step ``(state, batch) -> (state, metrics)`` and the evaluation
* ``rules``       the learning rules: the ``(init, update)`` protocol, the table of rules by name,
                  backprop, the perceptron, least squares
* ``loop``        any rule over the data: batches, per-epoch evaluation, history, NaN stops,
                  Ctrl-C, checkpoints, resume
* ``checkpoint``  checksummed atomic checkpoints (flax.serialization), verified on load
* ``runkey``      a run's identity: the key its folder and checkpoints carry
* ``progress``    the tqdm bar (interactive terminals only)
* ``curve``       the training-curve PNG (Matplotlib, Agg)

May import: ``cellgraph.errors``, ``cellgraph.typedefs``, ``cellgraph.spec``, ``cellgraph.graph``,
``cellgraph.data``, ``cellgraph.compiler``. Imports JAX, so ``import cellgraph`` must not import it.
"""

import sys as _sys
import types as _types
from typing import Any as _Any

from .checkpoint import CheckpointWarning as CheckpointWarning
from .checkpoint import SaveWarning as SaveWarning
from .checkpoint import load_checkpoint as load_checkpoint
from .checkpoint import load_latest as load_latest
from .checkpoint import save_checkpoint as save_checkpoint
from .curve import plot_curve as plot_curve
from .loop import StepInfo as StepInfo
from .loop import TrainResult as TrainResult
from .loop import train as train
from .optim import make_optimizer as make_optimizer
from .state import TrainingError as TrainingError
from .state import TrainingInterrupted as TrainingInterrupted
from .state import TrainState as TrainState
from .state import init_state as init_state
from .step import make_eval as make_eval
from .step import make_train_step as make_train_step

__all__ = [
    "CheckpointWarning",
    "SaveWarning",
    "StepInfo",
    "TrainResult",
    "TrainState",
    "TrainingError",
    "TrainingInterrupted",
    "init_state",
    "load_checkpoint",
    "load_latest",
    "make_eval",
    "make_optimizer",
    "make_train_step",
    "plot_curve",
    "save_checkpoint",
    "train",
]


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: _Any, **kwargs: _Any) -> TrainResult:
        return train(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
