"""The training loop: minibatches, evaluation, history, NaN stops, checkpoints, Ctrl-C.

``train(model, data)`` runs the update of the spec's learning rule over the training data and
evaluates on the test split after every epoch (or every ``eval_every`` epochs and after the
last). Its choices:

* **Rules.** A rule is an ``(init, update)`` pair over the :class:`TrainState`
  (:mod:`.rules.protocol`), looked up by the name ``train.rule`` gives in the one table of
  :mod:`.rules`; the loop knows no rule by name. Backprop is the optax step of :mod:`.step` over
  shuffled minibatches; an online rule (the perceptron) takes one pass over the data per update;
  a fit in closed form (least squares) is one update on the whole set. Every choice below --
  checkpoints, resume, the run key, NaN stops, the progress bar, evaluation -- holds for all of them.

* **Shuffling** is NumPy's: epoch ``e`` visits the examples in the order
  ``default_rng([seed, e]).permutation(n)``. Each epoch's order follows from the seed and the
  epoch alone, so a resumed run rebuilds it without any saved generator state, and the same seed
  gives the same run, bit for bit (on CPU; GPU reductions may differ in the last bits).
* **The last partial batch.** ``n % batch_size`` examples are left after the full batches. While
  an epoch has fewer than :data:`DROP_REMAINDER_MIN_BATCHES` full batches they form a smaller last
  batch -- one more compilation (a new shape), but a small data set loses nothing. Past that the
  remainder is dropped: it is under a tenth of the epoch and, reshuffled every epoch, a different
  handful each time, which is cheaper than a second step program. ``drop_remainder`` forces
  either. Padding with a mask is not used: the model's loss is a mean we cannot reweight.
* **The data live on the device.** The training set is copied once; each step gathers its batch
  on the device from a slice of the epoch's permutation (one dispatch per step).
* **The host syncs rarely.** Step metrics stay on the device until a sync (every
  :data:`SYNC_EVERY` steps, a few times a second when a bar shows, at each epoch's end and before
  a checkpoint); a sync checks every pending loss, so a NaN or inf is still reported at the first
  step where it appeared, and a checkpoint is never written with non-finite values.
* **Checkpoints** (with ``checkpoint_dir``, or ``runs_dir``: a folder named by the run's key) are
  written every ``checkpoint_every`` steps, or else at an epoch's end at most every
  :data:`CHECKPOINT_SECONDS`, and always at the end and on Ctrl-C; ``resume=True`` continues from
  the newest intact one exactly where it stopped.
* **A run's identity** is its key (:mod:`.runkey`: the spec and its parts, the data, the code,
  the library versions, the settings). A checkpoint of another run is refused, naming what
  differs. A finished run is not trained again: its stored parameters are evaluated afresh on
  the current data with the current code, and :attr:`TrainResult.already_trained` says so.
* **Disk faults.** The checkpoint folder is checked to be writable before the first step. A save
  that fails later (a full disk) warns and training goes on; when the final save or the curve
  fails, the result is still returned, with the failure in :attr:`TrainResult.problems`.
* **Ctrl-C** is deferred to the end of the current step (a second one interrupts at once); the
  run saves a checkpoint and raises :class:`TrainingInterrupted`.
* **Validation and early stopping.** A validation split (``validation``: a fraction of the
  training rows held out with the run's seed, or explicit ``validation_data``) is scored after
  every epoch in evaluation mode, as ``val_<metric>`` in the history. Early stopping watches one of
  those figures after each whole epoch, stops ``patience`` epochs after its best and ends with the
  best epoch's parameters (Keras's ``EarlyStopping(restore_best_weights=True)``, except that the
  best epoch is restored also when the epoch limit comes first). It never watches the test split,
  and without a validation split it is refused. Its bookkeeping -- the best value, epoch and a copy
  of the parameters, the epochs since -- goes into every checkpoint, so a resumed run stops where
  an uninterrupted one does, with the same parameters.
"""

from __future__ import annotations

import math
import os
import re
import signal
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Final

import jax
import jax.numpy as jnp
import numpy as np

from ..access import probe_folder
from ..typedefs import Params
from .ahead import INIT_OPTIONS, abstract, prepared, program_store
from .cache import compilation_cache
from .checkpoint import (
    SaveWarning,
    Stored,
    checkpoint_path,
    describe_os_error,
    latest_intact,
    list_checkpoints,
    prepare_folder,
    restore,
    restore_tree,
    save_checkpoint,
    serialization,
)
from .parallel import DataParallel, data_parallel, is_leader
from .progress import Progress, wants_bar
from .rules import Rule, RunInfo, get_rule
from .runkey import RunKey, differences, plain, run_key, shape_digest, spec_digest
from .setup import (
    DatasetLike,
    EarlyStopping,
    check_watched,
    graph_of,
    require_validation,
    resolve,
    rows,
    settings,
    splits,
    stopping,
    validation_split,
    with_factors,
)
from .state import (
    TrainingError,
    TrainingInterrupted,
    TrainState,
    first_program,
    is_alive,
    nonfinite,
    seed_key_data,
    to_plain,
)
from .step import Batch, Metrics, ModelLike, make_indexed_eval, make_splits_eval

DROP_REMAINDER_MIN_BATCHES: Final = 10
"""From this many full batches per epoch on, the last partial batch is dropped (see above)."""
SYNC_EVERY: Final = 64
"""Most steps whose metrics wait on the device before the host reads them."""
SYNC_SECONDS: Final = 0.25
"""How often the host reads metrics while a progress bar shows."""
CHECKPOINT_SECONDS: Final = 30.0
"""Without ``checkpoint_every``: the least time between two end-of-epoch checkpoints."""
LOOP_ONLY: Final = ("epochs", "steps", "seed", "early_stopping", "eval_every")
"""Settings that change how often the loop calls its programs, never what they compute."""
EVAL_ROWS: Final = 8192
"""Evaluation runs on chunks of at most this many examples (exact for mean metrics)."""
BLOCK_STEPS: Final = 256
"""Most steps one program call runs when several epochs go into one call (see :meth:`_Run.blocks`)."""
BLOCK_EXAMPLES: Final = 1 << 17
"""Most examples one such call visits: blocks are for small epochs, whose host work (a dispatch, a
sync, a history row) costs more than the epoch itself; a long call would delay the progress bar
and Ctrl-C (a perceptron's 20 passes over the 5,686 mushroom rows fit one call: 113,720)."""
NONFINITE: Final = "__nonfinite__"
"""The step metric a rule without a loss gets from the device: 0, or 1 (inf) / 2 (nan) in its
parameters -- checked with the other metrics at a sync, instead of copying the parameters."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run returns.

    Attributes:
        params: the trained parameters.
        history: one row per epoch: ``epoch``, ``step``, ``train_<metric>`` (averaged over the
            epoch's steps), ``val_<metric>`` (on the validation split after the epoch, when there
            is one) and ``test_<metric>`` (on the test split after the epoch).
        metrics: the final metrics on the test split (the training split when there is none),
            always computed by this call from ``params`` (never read from a checkpoint); with
            early stopping, from the restored best epoch's parameters.
        steps: updates applied.
        resumed_at: the step this call continued from (0: trained from the start; ``steps``: the
            run had finished before, see :attr:`already_trained`).
        checkpoint: the checkpoint file holding ``params`` (None: none kept); when early stopping
            restored an earlier epoch, the file holds the last state and, beside it, ``params``.
        curve: the training-curve PNG written (None: none asked for, or it failed).
        problems: what went wrong after training (the final checkpoint or the curve could not be
            written); each was also issued as a :class:`~cellgraph.train.checkpoint.SaveWarning`.
        model: the compiled model that was trained (``result.model.predict(result.params, x)``);
            None only for a result built by hand.
        state: the final :class:`TrainState` (the optimizer's or rule's state, the step, the PRNG
            key): what :func:`cellgraph.save` keeps besides ``params``.
        settings: the run's resolved settings (the spec's ``train:`` block under the arguments).
        scored_on: the split ``metrics`` are from: ``"test"``, or ``"train"`` when the data
            have no test split.
        train_metrics: the final parameters' metrics on the training split, in evaluation mode
            (asked for with ``score_train=True``; else ``{}``, or ``metrics`` when those are
            the training split's).
        val_metrics: ``params``' metrics on the validation split (the ``val_`` figures of their
            history row; ``{}`` without a validation split).
        stopped_early: early stopping ended the run before its epoch or step limit (after the
            epoch ``history[-1]["epoch"]``, at step ``steps``).
        best_epoch: the epoch whose parameters early stopping kept (the best ``val_`` figure it
            watched); None without early stopping.
    """

    params: Params
    history: list[dict[str, float]]
    metrics: dict[str, float]
    steps: int
    resumed_at: int = 0
    checkpoint: str | None = None
    curve: str | None = None
    problems: tuple[str, ...] = ()
    model: Any = None
    state: TrainState | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    scored_on: str = "test"
    train_metrics: dict[str, float] = field(default_factory=dict)
    val_metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    best_epoch: int | None = None

    def predict(self, inputs: Any, *, batch_size: int | None = None) -> dict[str, np.ndarray]:
        """The trained model's outputs for ``inputs`` (``model.predict(params, inputs)``, with the
        model state of a network that keeps one)."""
        model = _model_of(self)
        if _stateful(model):
            return model.predict(self.params, inputs, batch_size=batch_size, state=self.model_state)
        return model.predict(self.params, inputs, batch_size=batch_size)

    @property
    def model_state(self) -> Any:
        """The model state beside ``params`` (batch norm's running statistics; ``{}`` for most
        networks): what evaluation and prediction read."""
        return self.state.model_state if self.state is not None else {}

    def evaluate(self, data: Any = None, *, split: str | None = None) -> dict[str, float]:
        """The trained model's metrics on ``data`` (see :func:`evaluate`)."""
        return evaluate(self, data, split=split)

    @property
    def already_trained(self) -> bool:
        """The run had finished in an earlier call: nothing was trained now, and ``metrics`` are
        a fresh evaluation of the stored parameters."""
        return 0 < self.resumed_at == self.steps


@dataclass(frozen=True)
class StepInfo:
    """What an ``on_step`` callback receives after each step.

    ``metrics`` are device arrays (reading one waits for the step); ``state`` is valid only until
    the next step, which consumes its buffers.
    """

    step: int
    epoch: int
    state: TrainState
    metrics: Metrics


@dataclass(frozen=True)
class _Plan:
    """The batch arithmetic of a run: fixed by the data size, the batch size and the policy."""

    examples: int
    batch_size: int
    full: int  # full batches per epoch
    remainder: int  # size of the last, smaller batch (0: none)
    steps_per_epoch: int
    total: int  # steps of the whole run

    @classmethod
    def for_rule(cls, rule: Rule, examples: int, cfg: Mapping[str, Any], drop: bool | None) -> _Plan:
        """Minibatches for backprop; whole passes for an online rule; one update for a fit."""
        if rule.feed == "once":
            return cls.make(examples, examples, 1, None, False)
        if rule.feed == "epochs":
            steps = cfg["steps"]
            if steps is not None and rule.counts == "examples":  # whole passes that cover `steps` examples
                steps = -(-steps // max(examples, 1))
            return cls.make(examples, examples, cfg["epochs"], steps, False)
        return cls.make(examples, cfg["batch_size"], cfg["epochs"], cfg["steps"], drop)

    @classmethod
    def make(cls, examples: int, batch_size: int, epochs: int | None, steps: int | None, drop: bool | None) -> _Plan:
        size = min(batch_size, examples)
        full, rest = divmod(examples, size)
        if drop is None:
            drop = full >= DROP_REMAINDER_MIN_BATCHES
        remainder = 0 if drop else rest
        per_epoch = full + (1 if remainder else 0)
        total = steps if steps is not None else per_epoch * (epochs or 1)
        return cls(examples, size, full, remainder, per_epoch, total)

    @property
    def epochs(self) -> int:
        return -(-self.total // self.steps_per_epoch)

    def batch(self, index: int) -> tuple[int, int]:
        """(start, size) of batch ``index`` of an epoch."""
        return index * self.batch_size, self.batch_size if index < self.full else self.remainder


@compilation_cache()  # a context manager as a decorator: the caches are on for each call
def train(
    model: Any,
    data: DatasetLike | None = None,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    optimizer: str | Mapping[str, Any] | None = None,
    grad_clip: float | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = True,
    progress: bool = True,
    curve_png: str | os.PathLike[str] | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    params_override: Mapping[str, Any] | None = None,
    drop_remainder: bool | None = None,
    rule: str | None = None,
    score_train: bool = False,
    test_data: Any = None,
    validation: float | None = None,
    validation_data: Any = None,
    early_stopping: Mapping[str, Any] | int | bool | None = None,
    eval_every: int | None = None,
    devices: int | None = None,
) -> TrainResult:
    """Train a model with its learning rule (backprop unless the spec names another) and return
    the trained parameters.

    Settings not given here come from the spec's ``train:`` block (when the model was compiled
    from a spec), then from the defaults of :data:`cellgraph.graph.rules.TRAIN_KEYS`.

    Args:
        model: a compiled model (``init``, ``loss``, ``trainable_mask``), or a spec file, a
            :class:`~cellgraph.Spec` or a built graph, compiled here.
        data: the data: a :class:`~cellgraph.data.Dataset`, a mapping keyed by group names
            (``{"wide": a, "deep": b, "y": labels}``), a tuple ``(x, y)``, a path to an ``.npz`` or
            ``.csv`` file, or a pandas DataFrame (:func:`cellgraph.data.as_dataset`), checked
            against the spec before anything compiles; default: the spec's ``data:`` block.
        test_data: held-out data in any of those forms; then all of ``data`` trains.
        validation: a fraction of the training rows held out, with ``seed``, as a validation split
            scored after every epoch (``val_<metric>`` in the history); default: the spec's
            ``train.validation``.
        validation_data: explicit validation rows instead (a spec's model): anything
            :func:`cellgraph.data.as_dataset` reads except a split data set, e.g. ``(x_val, y_val)``.
            A :class:`~cellgraph.data.Dataset` whose ``x_val`` is set brings its own.
        early_stopping: stop when a validation figure stops improving, ending with the best
            epoch's parameters: ``{"metric": "val_loss", "patience": 5, "min_delta": 0.0, "mode":
            "auto", "restore_best": True}`` (any of them; over the spec's ``train.early_stopping``),
            a patience (``5``), True (the defaults) or False (off, whatever the spec says).
            ``patience`` counts whole epochs without an improvement larger than ``min_delta``;
            ``mode: auto`` maximises accuracy-like metrics (``accuracy``, ``token_accuracy``,
            ``argmax_accuracy``, ``r2``, ``within_tolerance``, ``elbo``) and minimises the rest
            (``loss``, ``mse``, ``mae``, ...). Needs a validation split.
        epochs: passes over the training data (not with ``steps``).
        steps: updates in all (not with ``epochs``).
        batch_size: examples per step (clipped to the data size).
        seed: decides the initial parameters, every step's PRNG key and the shuffling.
        optimizer: an optax optimizer name or ``{"name": ..., **arguments}``.
        grad_clip: the largest global gradient norm.
        checkpoint_dir: folder for checkpoints; None: no checkpoints. A folder holding
            another run's checkpoints is refused (see ``resume``).
        runs_dir: keep checkpoints in ``runs_dir/NAME-KEY`` instead, a folder of this run's own:
            NAME is the spec's name, KEY the start of the run's key (the spec and its parts, the
            data, cellgraph's code, the library versions, the settings). Not with
            ``checkpoint_dir``.
        checkpoint_every: save every this many steps (default: at epoch ends, at most every
            :data:`CHECKPOINT_SECONDS`).
        resume: continue from the newest checkpoint in ``checkpoint_dir``; a finished run is
            evaluated, not trained again. False starts over (and the old checkpoints there are
            removed at the first save).
        progress: show a progress bar (only ever on an interactive terminal).
        curve_png: write the training curve there at the end (and on Ctrl-C).
        on_step: called after every step with a :class:`StepInfo`.
        params_override: spec params (``{"width": 16}``) when ``model`` is a spec file.
        drop_remainder: force dropping (True) or keeping (False) the last partial batch.
        rule: the learning rule, by its name in :data:`cellgraph.train.rules.IMPLEMENTATIONS`
            (default: the spec's ``train.rule``, else backprop).
        score_train: also evaluate the final parameters on the training split
            (:attr:`TrainResult.train_metrics`; one more pass over the training data).
        eval_every: score the held-out splits after every this many epochs and after the last
            (default: the spec's ``train.eval_every``, else 1); the other epochs' history rows
            hold the training figures only. Not with early stopping.
        devices: train data-parallel on this many local devices (default: the spec's
            ``train.devices``, else 1): each batch split over them, the parameters replicated
            (:mod:`.parallel`); the batch size must be a multiple.

    Returns:
        A :class:`TrainResult`.

    Raises:
        TrainingError: the loss or the parameters stopped being finite (naming the step), a
            checkpoint from another run (naming what differs), a checkpoint folder that cannot
            be written, bad settings, an unknown or planned ``rule`` argument, early stopping
            without a validation split.
        TrainingInterrupted: Ctrl-C, after the checkpoint was saved.
        SpecError: a bad ``optimizer`` or spec; a spec whose ``train.rule`` is planned (located).

    >>> result = train("specs/examples/mushroom.yaml", epochs=2, progress=False)  # doctest: +SKIP
    >>> result.metrics["accuracy"]  # doctest: +SKIP

    A spec's programs are kept in cellgraph's cache folder and loaded by the next run that needs
    the same ones (:mod:`.ahead`); the others compile through JAX's persistent compilation cache
    (:mod:`.cache`). Either way the same network trained again compiles nothing.
    """
    model_arg = model
    model, spec, data = resolve(model, data, params_override, test_data=test_data, validation_data=validation_data)
    spec_train = spec.train if spec is not None else {}
    cfg = settings(
        spec_train,
        rule=rule,
        epochs=epochs,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        optimizer=optimizer,
        grad_clip=grad_clip,
        validation=validation,
        early_stopping=early_stopping,
        eval_every=eval_every,
        devices=devices,
    )
    if checkpoint_dir is not None and runs_dir is not None:
        raise TrainingError("give checkpoint_dir or runs_dir, not both")
    named_in_spec = spec is not None and rule is None and "rule" in spec_train
    make_rule = get_rule(cfg["rule"], spec.loc(("train", "rule")) if named_in_spec else None)
    masked = "step_mask" in spec_train and spec is not None
    train_set, test_set = splits(
        data, model, cfg.get("step_mask") == "data", f"{spec.loc(('train', 'step_mask'))}: " if masked else ""
    )
    if cfg.get("factors"):  # Kulkarni's scheme: the rows carry their factors, for the batch order and the loss
        train_set = with_factors(train_set, data, cfg["factors"], spec)
    train_set, val_set = validation_split(
        data, model, train_set, cfg["validation"], cfg["seed"], asked=validation is not None
    )
    stops = stopping(cfg)
    require_validation(spec, stops, val_set is not None)
    located = spec.loc if spec is not None and optimizer is None and grad_clip is None else None
    known: dict[str, Any] = {}  # the recipe of the run's programs, once it is known (below)
    learner = make_rule(
        model,
        cfg,
        RunInfo(
            rows(train_set), getattr(data, "classes", None), located, train_set.get("factors"), _rule_programs(known)
        ),
    )
    plan = _Plan.for_rule(learner, rows(train_set), cfg, drop_remainder)
    recipe = None
    if spec is not None and not callable(getattr(model_arg, "init", None)):  # compiled here, from the spec alone
        # a rule counting examples spans its schedules over the run: its programs read the run's length
        loop_only = LOOP_ONLY if learner.counts == "updates" else ("seed", "early_stopping", "eval_every")
        recipe = {
            "spec": spec_digest(spec),
            # every setting, less those only the loop reads (the seed is an argument of the programs)
            "settings": plain(
                {k: v for k, v in {**cfg, "drop_remainder": drop_remainder}.items() if k not in loop_only}
            ),
            "data": shape_digest({"train": train_set, "test": test_set, "validation": val_set}),
            "classes": getattr(data, "classes", None),
            "score_train": score_train,
        }
        known["recipe"] = recipe
    run = _Run(
        model,
        learner,
        plan,
        cfg["seed"],
        train_set,
        test_set,
        checkpoint_every,
        val_set,
        stops,
        score_train,
        recipe,
        saves=checkpoint_dir is not None or runs_dir is not None,
        eval_every=int(cfg.get("eval_every") or 1),
        watched_steps=on_step is not None,
        parallel=data_parallel(
            int(cfg.get("devices") or 1),
            plan.batch_size,
            learner.traced,
            lambda: f"{spec.loc(('train', 'devices'))}: " if spec is not None and "devices" in spec_train else "",
        ),
    )
    if stops is not None:
        check_watched(spec, stops, run.val_metric_names(), given=early_stopping)
    held = test_set if val_set is None else {"test": test_set, "validation": val_set}  # the key covers both
    run.key = run_key(spec, train_set, held, to_plain(run.state), {**cfg, "drop_remainder": drop_remainder})
    if checkpoint_dir is not None:
        run.folder = Path(checkpoint_dir)
    elif runs_dir is not None:
        run.folder, run.named = Path(runs_dir) / run_folder_name(spec, run.key), False
    run.title = (spec.title or spec.name) if spec is not None else None
    if curve_png is not None:
        _check_curve_path(curve_png)
    run.start(resume)
    result = run.loop(progress=progress, curve_png=curve_png, on_step=on_step)
    scored_on = "test" if run.test_dev is not None else "train"
    if scored_on == "train":
        train_metrics = result.metrics
    elif score_train:
        train_metrics = run.final_scores()["train"]
    else:
        train_metrics = {}
    return replace(result, model=model, settings=cfg, scored_on=scored_on, train_metrics=train_metrics)


SPLITS: Final = ("test", "train", "all")
"""What :func:`evaluate` may score of a data set that is split already."""


def evaluate(
    target: Any, data: Any = None, params: Params | None = None, *, split: str | None = None
) -> dict[str, float]:
    """The model's loss and metrics on ``data``, in evaluation mode (no noise, no dropout), with the
    same names as training reports (``loss``, ``accuracy``; ``accuracy:head`` per scored output
    when there are several).

    Args:
        target: a :class:`TrainResult`, a saved model from :func:`cellgraph.load` (both carry the
            model and its parameters), a compiled model, or a spec file / :class:`~cellgraph.Spec` /
            built graph (compiled here); the last two need ``params``.
        data: anything :func:`cellgraph.data.as_dataset` reads: ``(x, y)``, a mapping by group
            (``{"wide": a, "deep": b, "y": labels}``), an ``.npz`` or ``.csv`` path, a DataFrame,
            a :class:`~cellgraph.data.Dataset`. Default: the spec's ``data:`` block.
        params: the parameters, when ``target`` does not carry them (overrides them when it does).
        split: of data that is split already (a ``Dataset``, the spec's ``data:`` block): ``"test"``
            (the default; the training split when there is no test split), ``"train"`` or
            ``"all"``. Other data is scored whole, whatever its order.

    Raises:
        SpecError: data that do not fit the spec (located at the spec's line).
        TrainingError: no parameters, an unknown ``split``, no data.

    >>> cellgraph.evaluate(result, (x_new, y_new))["accuracy"]  # doctest: +SKIP
    """
    model, params = _model_and_params(target, params)
    if split is not None and split not in SPLITS:
        raise TrainingError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    batch = scored_rows(model, data, split)
    state = _model_state_of(target, model)
    return evaluate_rows(_eval_fn(model), params, jax.device_put(batch), rows(batch), state)


def scored_rows(model: Any, data: Any, split: str | None = None) -> dict[str, Any]:
    """The rows of ``data`` that :func:`evaluate` scores, as one batch keyed by group."""
    graph = model.graph
    given = data is not None  # the spec's own data set is checked where it is loaded
    whole = given and not _is_split(data)
    if data is None:
        spec = graph.graph.get("spec")
        if spec is None or not spec.data:
            raise TrainingError("no data to evaluate on: pass data=..., or give the spec a `data:` block")
        _, _, data = resolve(model, None, None)
    if not _is_split(data):
        from ..data import as_dataset

        data = as_dataset(data, graph, test=0)  # every row, none held out, checked against the spec
    elif given:
        from ..data import check_data

        check_data(graph, data)  # a data set of the user's: located errors, never a reshape traceback
    spec = graph.graph.get("spec")
    meta = getattr(data, "meta", None) or {}
    masked = spec is not None and spec.train.get("step_mask") == "data" and "mask_train" in meta
    train_set, test_set = splits(data, model, masked)  # the scored steps, as in training
    chosen = "all" if whole else split or ("test" if test_set is not None else "train")
    if chosen == "test" and test_set is None:
        raise TrainingError("this data set has no test split: evaluate split='train' or split='all'")
    if chosen == "all" and test_set is not None:
        return jax.tree.map(lambda a, b: np.concatenate([np.asarray(a), np.asarray(b)]), train_set, test_set)
    return test_set if chosen == "test" and test_set is not None else train_set


def _is_split(data: Any) -> bool:
    """Data split into training and test parts already (a ``Dataset``), not rows to score whole."""
    return hasattr(data, "x_train") and hasattr(data, "x_test")


def _model_and_params(target: Any, params: Params | None) -> tuple[Any, Params]:
    """(compiled model, parameters) of a trained result, a loaded artifact, a model or a spec."""
    carried = getattr(target, "params", None)
    if getattr(target, "model", None) is not None:  # a TrainResult, a loaded artifact
        model = _model_of(target)
    elif callable(getattr(target, "apply", None)) and callable(getattr(target, "loss", None)):
        model = target
    else:
        from ..compiler import compile as compile_graph  # a spec file, a Spec or a built graph

        model = compile_graph(graph_of(target, None))
    chosen = params if params is not None else carried
    if chosen is None:
        raise TrainingError("no parameters to evaluate: pass params=..., or a TrainResult or a loaded model")
    return model, chosen


def _stateful(model: Any) -> bool:
    """Whether the model keeps model state (batch norm's running statistics) beside its parameters."""
    return bool(getattr(model, "stateful", False))


def _model_state_of(target: Any, model: Any) -> Any:
    """The model state a trained result or a loaded model carries (``{}`` for a network without);
    a bare model or spec carries none, and evaluating a network that needs it is refused."""
    if not _stateful(model):
        return {}
    state = getattr(target, "model_state", None)
    if not state:
        from ..compiler.model import missing_state

        raise missing_state(model.state_groups)
    return state


def _model_of(result: Any) -> Any:
    model = getattr(result, "model", None)
    if model is None:
        raise TrainingError("this result carries no model (built by hand): compile the spec and pass params=")
    return model


_EVAL_FNS: dict[int, Callable[..., Metrics]] = {}
"""The jitted evaluation of each live model, by ``id`` (a model is not hashable); dropped with the model."""


def _eval_fn(model: Any) -> Callable[..., Metrics]:
    """The jitted chunk evaluation of ``model``, made once per model (so repeated calls compile once)."""
    key = id(model)
    fn = _EVAL_FNS.get(key)
    if fn is None:
        fn = make_indexed_eval(model)
        try:
            weakref.finalize(model, _EVAL_FNS.pop, key, None)
        except TypeError:  # a model that cannot be weakly referenced: not kept
            return fn
        _EVAL_FNS[key] = fn
    return fn


def evaluate_rows(
    eval_fn: Callable[..., Metrics], params: Params, split: Mapping[str, Any], n: int, model_state: Any = None
) -> dict[str, float]:
    """Metrics of ``params`` on a whole device-resident split, in chunks of at most
    :data:`EVAL_ROWS` rows (exact for mean metrics: each chunk's mean is weighted by its rows)."""
    chunk = min(n, EVAL_ROWS)
    sums: dict[str, float] = {}
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        values = jax.device_get(eval_fn(params, split, start, model_state, size=size))
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + float(np.mean(v)) * size
    return {k: v / n for k, v in sums.items()}


def _mean(value: np.ndarray) -> float:
    """A step's metric as one number: a scalar as it is (np.mean of a scalar costs 5 us, times
    two metrics per step), anything larger averaged."""
    return float(value) if value.ndim == 0 else float(np.mean(value))


def run_folder_name(spec: Any, key: RunKey) -> str:
    """``NAME-KEY``: the spec's name (file-name safe) and the first 12 hex digits of the run key."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.name if spec is not None else "run").strip("._")[:64] or "run"
    return f"{name}-{key.digest[:12]}"


class _Run:
    """One run's mutable bookkeeping; :func:`train` is its only user."""

    def __init__(
        self,
        model: ModelLike,
        rule: Rule,
        plan: _Plan,
        seed: int,
        train_set: dict[str, Any],
        test_set: dict[str, Any] | None,
        checkpoint_every: int | None,
        val_set: dict[str, Any] | None = None,
        stops: EarlyStopping | None = None,
        score_train: bool = False,
        recipe: Mapping[str, Any] | None = None,
        saves: bool = False,
        eval_every: int = 1,
        watched_steps: bool = False,
        parallel: DataParallel | None = None,
    ) -> None:
        self.plan, self.seed = plan, seed
        self.parallel = parallel
        place: Callable[[Any], Any] = parallel.place if parallel is not None else jax.device_put
        self.place = place
        self.eval_every = eval_every  # epochs between two scorings of the held-out splits
        self.key: RunKey | None = None  # set by train() once the state's shapes are known
        self.folder: Path | None = None
        self.named = True  # the folder was given by name (checkpoint_dir), not derived from the key
        if checkpoint_every is not None and checkpoint_every < 1:
            raise TrainingError(f"checkpoint_every must be a positive number of steps, got {checkpoint_every}")
        self.every = checkpoint_every
        self.traced = rule.traced
        self.prepare = rule.prepare
        self.train_host = train_set  # what a rule's prepare reads (NumPy, in stored order)
        self.order = rule.order or _permutation
        self.advice = rule.advice
        self.eval_fn = make_indexed_eval(model)
        # the first state: parameters (and a traced rule's state) in one program, compiled on a
        # worker thread while the other programs are lowered (see ahead.py)
        # (or loaded, when this spec's run kept them before: see ahead.py; recipe None: not kept)
        key_data = seed_key_data(seed)
        make_first = first_program(
            model.init,
            rule.init if rule.traced else None,
            getattr(model, "init_state", None) if _stateful(model) else None,
        )

        def store(program: str, **more: Any) -> Path | None:
            return program_store({**recipe, "program": program, **more}) if recipe is not None else None

        first = prepared(make_first, store("init"), lambda: (key_data,), options=INIT_OPTIONS)
        shaped: list[Any] = []

        def shapes() -> Any:  # the first state's shapes: from its lowering, or traced when it was loaded
            if not shaped:
                info = first.out_info if first.out_info is not None else jax.eval_shape(make_first, key_data)
                shaped.append(parallel.abstract(info) if parallel is not None else abstract(info))
            return shaped[0]

        self.train_dev = place(train_set)
        self.train_feed = self.train_dev if rule.traced else train_set  # a host rule reads NumPy
        self.test_dev = place(test_set) if test_set is not None else None
        self.n_test = rows(test_set) if test_set is not None else 0
        self.val_dev = place(val_set) if val_set is not None else None
        self.n_val = rows(val_set) if val_set is not None else 0
        self.watch = _Watch(stops) if stops is not None else None
        # what is scored after each epoch, and at the end: by split name, device data and rows
        self.scored: dict[str, tuple[Any, int]] = {}
        if self.val_dev is not None:
            self.scored["validation"] = (self.val_dev, self.n_val)
        if self.test_dev is not None:
            self.scored["test"] = (self.test_dev, self.n_test)
        if score_train or self.test_dev is None:
            self.scored["train"] = (self.train_dev, plan.examples)
        # the step (needed first) for the run's batch size, then the evaluation, compiled ahead too
        self.step_fn: Callable[..., Any]
        self.block = self.blocks(rule, checkpoint_every, stops is not None or watched_steps)
        self.block_fn: Callable[..., Any] | None = None
        index_sharding = {"sharding": parallel.replicated} if parallel is not None else {}
        if rule.traced and self.block > 1:  # the block program is the one a run needs first
            self.step_fn = _device_step(rule.update, parallel)  # compiled only if a single epoch is run
            perms = jax.ShapeDtypeStruct((self.block, plan.examples), np.int32, **index_sharding)
            self.block_fn = prepared(
                _device_block(rule.update, parallel),
                store("block", size=plan.batch_size, epochs=self.block),
                lambda: (shapes(), self.train_dev, perms),
                size=plan.batch_size,
                steps=plan.steps_per_epoch,
            )
        elif rule.traced:
            step = _device_step(rule.update, parallel)
            perm = jax.ShapeDtypeStruct((plan.examples,), np.int32, **index_sharding)
            self.step_fn = prepared(
                step,
                store("step", size=plan.batch_size),
                lambda: (shapes(), self.train_dev, perm, 0),
                size=plan.batch_size,
            )
        else:
            self.step_fn = _host_step(rule.update)
        # small splits go through one program together (see make_splits_eval); large ones in chunks
        self.splits_eval: Callable[..., Any] | None = None
        if all(n <= EVAL_ROWS for _, n in self.scored.values()):
            splits = {k: d for k, (d, _) in self.scored.items()}
            self.splits_eval = prepared(
                make_splits_eval(model),
                store("evaluate", splits=sorted(splits)),
                lambda: (shapes().params, splits, shapes().model_state),
            )
        if saves:  # Flax's serialization, needed for the first save: imported while XLA compiles
            serialization()
        # a host rule's init may use NumPy: it runs outside the program
        self.state = place(first(key_data) if rule.traced else rule.init(first(key_data)))
        self.scores: tuple[int, dict[str, dict[str, float]]] | None = None  # (step, scores) of the last scoring
        self.restored = False  # early stopping put an earlier epoch's parameters back
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.sums: dict[str, float] = {}  # this epoch's metric * batch size, summed in step order
        self.count = 0  # examples behind self.sums
        self.pending: list[tuple[int, int, int, Metrics]] = []  # (step, epoch, size, device metrics)
        self.last_sync = self.last_save = time.monotonic()
        self.saved_step = -1
        self.resumed_at = 0
        self.fresh_rows = 0  # history rows from here on were computed by this call
        self.save_error: str | None = None  # why the last save failed (None: it did not)
        self.problems: list[str] = []
        self.clear_old = False
        self.bar = Progress(0, enabled=False)
        self.title: str | None = None  # of the training curve
        self.checkpoint: Path | None = None  # the newest checkpoint of this run, on disk

    def blocks(self, rule: Rule, every: int | None, watched: bool) -> int:
        """Epochs run by one program call: several when nothing is due between them.

        A run of many small epochs (an RBM's 3000 passes over 30 images) spends most of its time
        on the host between them: one dispatch, one sync and one history row per epoch (~0.5 ms),
        against microseconds of work. When no epoch inside a block needs the host -- no scoring
        of the held-out splits (``eval_every``), no checkpoint (``checkpoint_every``), no early
        stopping, no ``on_step`` -- the block's epochs run in one ``lax.scan`` (Keras's
        ``steps_per_execution``, chosen here), and their history rows are written after it from
        the metrics it returns. Blocks start at multiples of their length, so a resumed run
        calls the same programs as an unbroken one; epochs outside whole blocks run one by one.
        """
        plan = self.plan
        if not rule.traced or watched or plan.remainder or plan.epochs < 2:
            return 1
        held_out = any(k != "train" for k in self.scored)
        period = self.eval_every if held_out else plan.epochs
        cap = min(BLOCK_STEPS // plan.steps_per_epoch, BLOCK_EXAMPLES // max(plan.examples, 1), plan.epochs)
        fits = [k for k in range(min(period, cap), 0, -1) if period % k == 0]
        if every is not None:  # each block ends on a checkpoint step, or runs inside one period
            fits = [k for k in fits if every % (k * plan.steps_per_epoch) == 0]
        return fits[0] if fits else 1

    # ------------------------------------------------------------------------------ start, save

    def start(self, resume: bool) -> None:
        """Continue from the newest intact checkpoint (``resume``) or start over; then, when there is
        training to do, make sure the folder takes checkpoints before the first step. A fresh run
        lets the rule prepare its state (a resumed one has it from the checkpoint)."""
        if self.folder is not None:
            if not resume:
                self.clear_old = bool(list_checkpoints(self.folder))
            else:
                stored = latest_intact(self.folder)
                if stored is not None:
                    self._resume(stored)
        if self.step == 0 and self.prepare is not None:
            self.state = self.place(self.prepare(self.state, self.train_host))
        if self.folder is not None and not self.finished and is_leader():
            prepare_folder(self.folder)

    def _resume(self, stored: Stored) -> None:
        """Take over a stored run, after checking it is this run (same key) and whole."""
        assert self.key is not None
        path, meta = stored.path, stored.meta
        theirs = meta.get("run")
        if not isinstance(theirs, dict):
            raise TrainingError(
                f"checkpoint {path} carries no run key; train with resume=False (--no-resume) to start over, "
                "or use another checkpoint folder"
            )
        diffs = differences(theirs, self.key)
        if diffs:
            raise TrainingError(
                f"checkpoint {path} belongs to another run ({'; '.join(diffs)}); "
                "train with resume=False (--no-resume) to start over, or use another checkpoint folder"
            )
        state = restore(stored, self.state)
        try:
            step = int(meta["step"])
            history = [{str(k): float(v) for k, v in row.items()} for row in meta.get("history", [])]
            sums = {str(k): float(v) for k, v in meta.get("sums", {}).items()}
            count = int(meta.get("count", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise TrainingError(
                f"checkpoint {path} has unreadable bookkeeping ({err!r}); train with --no-resume"
            ) from None
        if step != int(jax.device_get(state.step)) or not 0 < step <= self.plan.total:
            raise TrainingError(
                f"checkpoint {path} is of step {step}, its state of step {int(state.step)}; train with --no-resume"
            )
        if self.watch is not None:
            self.watch.load(meta, path, self.state)
        self.state, self.step, self.history, self.sums, self.count = self.place(state), step, history, sums, count
        self.saved_step = self.resumed_at = step
        self.fresh_rows = len(history)
        self.checkpoint = path

    def stamped(self) -> TrainState:
        """The state with the loop's step count on it (a rule's update need not advance
        ``state.step``; see the rule protocol), kept as the current state."""
        self.state = self.state.replace(step=self.place(np.asarray(self.step, np.int32)))  # a copy, no program
        return self.state

    def save(self, *, final: bool = False) -> Path | None:
        """Checkpoint the current state (after a sync), unless it is already on disk.

        A save that fails (a full disk, a folder gone read-only) leaves the older checkpoints and
        returns None: during training it warns once and the run goes on (a later save may work);
        the final one is reported by :meth:`loop` with the result.
        """
        if self.folder is None:
            return None
        if self.saved_step == self.step:
            return checkpoint_path(self.folder, self.step)
        self.sync()
        self._check_params()
        meta = {
            "step": self.step,
            "epoch": self.step // self.plan.steps_per_epoch,
            "run": self.key.to_meta() if self.key is not None else None,
            "history": self.history,
            "sums": self.sums,
            "count": self.count,
        }
        if self.watch is not None:
            meta["watch"] = self.watch.to_meta()
        try:
            if not is_leader():  # a multi-host run: process 0 writes, the others read it on resume
                self.saved_step, self.last_save = self.step, time.monotonic()
                self.checkpoint = checkpoint_path(self.folder, self.step)
                return self.checkpoint
            if self.clear_old:
                for old in list_checkpoints(self.folder):
                    old.unlink(missing_ok=True)
                self.clear_old = False
            path = save_checkpoint(self.folder, self.stamped(), meta)
        except OSError as err:
            first = self.save_error is None
            self.save_error = (
                f"could not save the checkpoint of step {self.step} to {self.folder}: {describe_os_error(err)}"
            )
            if first and not final:
                warnings.warn(f"{self.save_error}; training goes on", SaveWarning, stacklevel=2)
            return None
        self.saved_step, self.last_save, self.save_error = self.step, time.monotonic(), None
        self.checkpoint = path
        return path

    def _problem(self, message: str) -> None:
        """Something failed after training: warn, and keep it for the result."""
        self.problems.append(message)
        warnings.warn(message, SaveWarning, stacklevel=3)

    # ------------------------------------------------------------------------------ the loop

    def loop(
        self,
        *,
        progress: bool,
        curve_png: str | os.PathLike[str] | None,
        on_step: Callable[[StepInfo], None] | None,
    ) -> TrainResult:
        plan, per_epoch = self.plan, self.plan.steps_per_epoch
        self.bar = bar = Progress(plan.total, self.step, enabled=wants_bar(progress))
        try:
            with bar, _deferred_sigint() as interrupted:
                if self.count and self.step % per_epoch == 0:
                    self._end_epoch()  # resumed from a save between an epoch's last step and its row
                while not self.finished:
                    epoch = self.step // per_epoch
                    if self._block_due(epoch):
                        self._run_block(epoch)
                        if (
                            self.every
                            and self.step % self.every == 0
                            or (not self.every and time.monotonic() - self.last_save >= CHECKPOINT_SECONDS)
                        ):
                            self.save()
                        if interrupted():
                            raise KeyboardInterrupt
                        continue
                    perm = self.order(self.seed, epoch, plan.examples)
                    perm = self.place(perm) if self.traced else perm
                    first = self.step % per_epoch
                    for index in range(first, min(per_epoch, first + plan.total - self.step)):
                        start, size = plan.batch(index)
                        self.state, metrics = self.step_fn(self.state, self.train_feed, perm, start, size=size)
                        self.step += 1
                        self.pending.append((self.step, epoch, size, metrics))
                        if on_step is not None:
                            on_step(StepInfo(self.step, epoch + 1, self.stamped(), metrics))
                        every = self.every is not None and self.every > 0 and self.step % self.every == 0
                        if self.step % per_epoch == 0:
                            self._end_epoch()
                            if every or (not self.every and time.monotonic() - self.last_save >= CHECKPOINT_SECONDS):
                                self.save()
                        else:
                            self._maybe_sync()
                            if every:
                                self.save()
                        if interrupted():
                            raise KeyboardInterrupt
                        if self.stopped:
                            break
                self.sync()
                self._check_params()
                self.save(final=True)
        except KeyboardInterrupt:
            self._interrupted(curve_png)
        history = list(self.history)
        if self.count:  # the run ended inside an epoch: a last, partial row
            history.append(self._row())
            if self.watch is not None:
                self.watch.see(history[-1], self.state, whole=False)  # a candidate, not an epoch of patience
        self._restore_best()
        metrics = self._final_metrics(history)
        kept = self.folder is not None and self.saved_step == self.step
        if self.folder is not None and not kept:
            self._problem(
                f"{self.save_error or 'the final checkpoint was not saved'}; this result is not kept: "
                "the same run will train again; fix: free space or permissions there, or pass another "
                "folder (--checkpoint-dir DIR, checkpoint_dir= from Python)"
            )
        curve = self._write_curve(history, curve_png) if curve_png is not None else None
        state = self.stamped()
        return TrainResult(
            params=state.params,
            history=history,
            metrics=metrics,
            steps=self.step,
            resumed_at=self.resumed_at,
            checkpoint=str(self.checkpoint) if kept and self.checkpoint is not None else None,
            curve=curve,
            problems=tuple(self.problems),
            state=state,
            val_metrics=self._val_metrics(history),
            stopped_early=self.stopped,
            best_epoch=self.watch.epoch if self.watch is not None and self.watch.epoch else None,
        )

    def _block_due(self, epoch: int) -> bool:
        """Whether the next epochs are a whole block (see :meth:`blocks`)."""
        return (
            self.block_fn is not None
            and self.step % self.plan.steps_per_epoch == 0
            and epoch % self.block == 0
            and self.step + self.block * self.plan.steps_per_epoch <= self.plan.total
        )

    def _run_block(self, epoch: int) -> None:
        """Epochs ``epoch ..`` of a block in one program call, then their history rows, as if
        they had run one by one (the same orders, steps, sums and checks)."""
        assert self.block_fn is not None
        plan, k, per_epoch = self.plan, self.block, self.plan.steps_per_epoch
        perms = np.stack([self.order(self.seed, e, plan.examples) for e in range(epoch, epoch + k)])
        self.state, metrics = self.block_fn(
            self.state, self.train_feed, self.place(perms), size=plan.batch_size, steps=per_epoch
        )
        values = {name: np.asarray(v) for name, v in metrics.items()}  # (k, steps, ...): one sync
        for e in range(k):
            for i in range(per_epoch):
                self.step += 1
                self.pending.append((self.step, epoch + e, plan.batch_size, {n: v[e, i] for n, v in values.items()}))
            self._end_epoch()

    def _write_curve(self, history: list[dict[str, float]], curve_png: str | os.PathLike[str]) -> str | None:
        """Write the curve; a failure (a full disk) is a problem of the result, not its loss."""
        from .curve import plot_curve

        try:
            return str(plot_curve(history, curve_png, title=self.title))
        except OSError as err:
            self._problem(f"could not write the training curve {curve_png}: {describe_os_error(err)}")
            return None

    def _end_epoch(self) -> None:
        self.history.append(self._row())
        self.sums, self.count = {}, 0
        if self.watch is not None:
            self.watch.see(self.history[-1], self.state)

    @property
    def stopped(self) -> bool:
        """Early stopping has ended the run."""
        return self.watch is not None and self.watch.stopped

    @property
    def finished(self) -> bool:
        """Nothing is left to train: the last step is done, or early stopping ended the run."""
        return self.step >= self.plan.total or self.stopped

    def _restore_best(self) -> None:
        """Early stopping's last act: put the best epoch's parameters back (unless they are the last)."""
        watch = self.watch
        if watch is None or not watch.rule.restore_best or watch.kept is None or watch.step == self.step:
            return
        self.state = self.state.replace(params=watch.kept["params"], model_state=watch.kept["model_state"])
        self.restored = True

    def _val_metrics(self, history: list[dict[str, float]]) -> dict[str, float]:
        """The validation figures of the returned parameters: their history row's ``val_`` entries."""
        if self.val_dev is None or not history:
            return {}
        of = self.watch.step if self.restored and self.watch is not None else self.step
        row = next((r for r in reversed(history) if r.get("step") == of), history[-1])
        return {k[len("val_") :]: v for k, v in row.items() if k.startswith("val_")}

    def val_metric_names(self) -> list[str]:
        """The ``val_`` figures the history will hold, from the evaluation's output shapes (no run)."""
        if self.val_dev is None:
            return []
        shapes = jax.eval_shape(
            partial(self.eval_fn, size=min(self.n_val, EVAL_ROWS)),
            self.state.params,
            self.val_dev,
            0,
            self.state.model_state,
        )
        return [f"val_{k}" for k in shapes]

    def _row(self) -> dict[str, float]:
        """The history row of the current epoch: the running sums and the scores of the held-out splits."""
        self.sync()
        epoch = (self.step - 1) // self.plan.steps_per_epoch + 1
        row: dict[str, float] = {"epoch": epoch, "step": self.step}
        row.update({f"train_{k}": v / self.count for k, v in self.sums.items()} if self.count else {})
        due = epoch % self.eval_every == 0 or self.step >= self.plan.total
        if due and (self.val_dev is not None or self.test_dev is not None):
            scores = self.score(("validation", "test"))
            for split, prefix in (("validation", "val"), ("test", "test")):
                row.update({f"{prefix}_{k}": v for k, v in scores.get(split, {}).items()})
        return row

    def score(self, names: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
        """Metrics of the current parameters on the scored splits (``self.scored``; of those, only
        ``names`` when the splits are large), kept with the step they were computed at, so that the
        end of a run does not compute them twice. Small splits are all scored in one program call:
        the training split's final score then rides along after every epoch for a few milliseconds,
        where a call of its own would be one more compilation."""
        params, kept = self.state.params, self.state.model_state
        if self.splits_eval is not None:
            values = jax.device_get(self.splits_eval(params, {k: data for k, (data, _) in self.scored.items()}, kept))
            scores = {k: {m: float(np.mean(v)) for m, v in metrics.items()} for k, metrics in values.items()}
        else:
            scores = {
                k: evaluate_rows(self.eval_fn, params, data, n, kept)
                for k, (data, n) in self.scored.items()
                if names is None or k in names
            }
        self.scores = (self.step, scores)
        return scores

    def final_scores(self) -> dict[str, dict[str, float]]:
        """Every scored split's metrics of the returned parameters: the last scoring's when this
        call made it at the last step with these parameters and it covers every split, else
        computed now (never a stored checkpoint's figures)."""
        if (
            self.scores is not None
            and self.scores[0] == self.step
            and not self.restored
            and set(self.scores[1]) == set(self.scored)
        ):
            return self.scores[1]
        return self.score()

    def _final_metrics(self, history: list[dict[str, float]]) -> dict[str, float]:
        """The final metrics: on the test split, or the training split when there is none."""
        return self.final_scores()["test" if self.test_dev is not None else "train"]

    def evaluate(self, split: Mapping[str, Any], rows: int) -> dict[str, float]:
        """Metrics of the current params on a whole device-resident split (means weighted by rows)."""
        return evaluate_rows(self.eval_fn, self.state.params, split, rows, self.state.model_state)

    # ------------------------------------------------------------------------------ host syncs

    def _maybe_sync(self) -> None:
        if len(self.pending) >= SYNC_EVERY or (self.bar.enabled and time.monotonic() - self.last_sync >= SYNC_SECONDS):
            self.sync()

    def sync(self) -> None:
        """Read the pending step metrics: stop at the first non-finite loss, add up the rest."""
        if not self.pending:
            return
        # np.asarray per metric, not jax.device_get of the list: 880 steps' two scalars took 76 ms
        # through device_get's tree handling, 6 ms this way
        values = [{k: np.asarray(v) for k, v in m.items()} for *_, m in self.pending]
        lossless = False  # a rule without a loss on the host: its parameters are checked instead
        for (step, epoch, size, _), metrics in zip(self.pending, values, strict=True):
            loss = _mean(metrics["loss"]) if "loss" in metrics else 0.0
            flag = int(metrics.pop(NONFINITE, 0))  # a rule without a loss on the device
            lossless = lossless or ("loss" not in metrics and not self.traced)
            if not math.isfinite(loss) or flag:
                self.pending.clear()
                what = f"loss became {_what(loss)}" if flag == 0 else f"params became {('inf', 'nan')[flag - 1]}"
                raise TrainingError(
                    f"{what} at step {step} (epoch {epoch + 1}); {self.advice}",
                    step=step,
                    epoch=epoch + 1,
                )
            for k, v in metrics.items():
                self.sums[k] = self.sums.get(k, 0.0) + _mean(v) * size
            self.count += size
        done = len(self.pending)
        self.pending.clear()
        self.last_sync = time.monotonic()
        if lossless:
            self._check_params()
        if self.bar.enabled:
            self.bar.advance(done)
            epoch = (self.step - 1) // self.plan.steps_per_epoch + 1
            running = {k: v / self.count for k, v in self.sums.items()} if self.count else {}
            self.bar.show(epoch, self.plan.epochs, running)

    def _check_params(self) -> None:
        bad = nonfinite(self.state.params)
        if bad is not None:
            epoch = (self.step - 1) // self.plan.steps_per_epoch + 1
            raise TrainingError(
                f"params became {bad} at step {self.step} (epoch {epoch}); {self.advice}",
                step=self.step,
                epoch=epoch,
            )

    def _interrupted(self, curve_png: str | os.PathLike[str] | None) -> None:
        self.bar.close()
        epoch = max(self.step - 1, 0) // self.plan.steps_per_epoch + 1
        saved: Path | None = None
        failed = ""
        if self.folder is not None:
            if is_alive(self.state):
                saved = self.save()
            if saved is None:  # a second Ctrl-C inside a step (the state is not whole), or a failed save
                failed = f" ({self.save_error})" if self.save_error else ""
                found = list_checkpoints(self.folder)
                saved = found[0] if found else None
        if curve_png is not None and self.history:
            self._write_curve(self.history, curve_png)
        where = f"interrupted at step {self.step} (epoch {epoch})"
        again = f"with checkpoint_dir={str(self.folder)!r}" if self.named else "with the same arguments"
        if saved is not None:
            kept = "checkpoint saved to" if not failed else f"this step was not saved{failed}; the newest checkpoint is"
            message = f"{where}; {kept} {saved}; train again {again} to resume"
        elif failed:
            message = f"{where}; no checkpoint kept{failed}"
        else:
            message = f"{where}; no checkpoint kept (give checkpoint_dir to make a run resumable)"
        raise TrainingInterrupted(
            message, step=self.step, epoch=epoch, checkpoint=str(saved) if saved is not None else None
        ) from None


class _Watch:
    """Early stopping's bookkeeping: the best value of the watched figure, its epoch and step, a
    copy of that epoch's parameters (the next step donates the state's buffers), and the whole
    epochs since without an improvement. All of it goes into every checkpoint."""

    def __init__(self, rule: EarlyStopping) -> None:
        self.rule = rule
        self.best: float | None = None
        self.epoch = 0  # of the best value (0: none yet)
        self.step = 0  # the step the kept parameters are of
        self.wait = 0
        self.stopped = False
        self.kept: dict[str, Any] | None = None  # {"params": ..., "model_state": ...} of the best epoch

    def see(self, row: Mapping[str, float], state: TrainState, *, whole: bool = True) -> None:
        """Take an epoch's history row: keep its parameters when its figure is the best so far,
        else count one more epoch of patience (``whole``) and stop when patience runs out."""
        value = row.get(self.rule.metric)
        if value is not None and self.rule.improves(value, self.best):
            self.best, self.epoch, self.step, self.wait = value, int(row["epoch"]), int(row["step"]), 0
            self.kept = jax.tree.map(_copy, {"params": state.params, "model_state": state.model_state})
        elif whole:
            self.wait += 1
            self.stopped = self.wait >= self.rule.patience

    def to_meta(self) -> dict[str, Any]:
        """The bookkeeping as checkpoint metadata (the kept parameters as host arrays)."""
        meta: dict[str, Any] = {
            "best": self.best,
            "epoch": self.epoch,
            "step": self.step,
            "wait": self.wait,
            "stopped": self.stopped,
        }
        if self.kept is not None:
            meta["kept"] = serialization().to_state_dict(jax.device_get(self.kept))
        return meta

    def load(self, meta: Mapping[str, Any], path: Path, state: TrainState) -> None:
        """Take the bookkeeping over from checkpoint ``path``'s ``meta`` (``state``: a template)."""
        try:
            saved = meta["watch"]
            best = saved["best"]
            self.best = None if best is None else float(best)
            self.epoch, self.step, self.wait = int(saved["epoch"]), int(saved["step"]), int(saved["wait"])
            self.stopped = bool(saved["stopped"])
            kept = saved.get("kept")
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise TrainingError(
                f"checkpoint {path} has unreadable early-stopping bookkeeping ({err!r}); train with --no-resume"
            ) from None
        template = {"params": state.params, "model_state": state.model_state}
        self.kept = restore_tree(path, kept, template) if kept is not None else None


def _copy(leaf: Any) -> Any:
    """A copy of a parameter in a buffer of its own (host arrays stay on the host)."""
    return np.array(leaf, copy=True) if isinstance(leaf, np.ndarray) else jnp.array(leaf, copy=True)


# ---------------------------------------------------------------------------------- helpers


def _check_curve_path(path: str | os.PathLike[str]) -> None:
    """Fail before training, not after it, when the curve cannot be written where asked."""
    out = Path(path)
    if out.is_dir():
        raise TrainingError(f"the training curve {out} is a folder; give a file name such as {out / 'curve.png'}")
    try:
        probe_folder(out.parent)
    except OSError as err:
        raise TrainingError(
            f"cannot write the training curve {out}: {describe_os_error(err)}; "
            "fix: free space or permissions there, or give another path (--curve FILE, curve_png=)"
        ) from None


def _rule_programs(known: Mapping[str, Any]) -> Callable[[str, Callable[..., Any]], Callable[..., Any]]:
    """:attr:`RunInfo.program` for this run: a rule's own program (a one-shot fit's state
    collection), compiled for the arguments of its first call and kept under the run's recipe
    like the loop's programs (:mod:`.ahead`); a later call with other shapes runs plain jit."""

    def program(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        jitted = jax.jit(fn)
        made: list[tuple[Any, Callable[..., Any]]] = []

        def call(*args: Any) -> Any:
            signature = _signature(args)
            if not made:
                recipe = known.get("recipe")
                store = program_store({**recipe, "program": f"rule-{name}"}) if recipe is not None else None
                made.append((signature, prepared(jitted, store, lambda: args)))
            kept_for, kept = made[0]
            return kept(*args) if signature == kept_for else jitted(*args)

        return call

    return program


def _signature(tree: Any) -> tuple[Any, ...]:
    """What a compiled program is specific to: the tree's structure, each leaf's shape and dtype."""
    leaves, structure = jax.tree.flatten(tree)
    return structure, tuple((np.shape(x), str(getattr(x, "dtype", None) or np.asarray(x).dtype)) for x in leaves)


def _flagged(update: Callable[[TrainState, Batch], tuple[TrainState, Metrics]]) -> Callable[..., Any]:
    """``update``, with :data:`NONFINITE` among the metrics of a rule that reports no loss: the
    host then learns of a nan in the parameters at the step it appeared, from a scalar."""

    def flagged(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        state, metrics = update(state, batch)
        if "loss" in metrics:
            return state, metrics
        leaves = [x for x in jax.tree.leaves(state.params) if jnp.issubdtype(x.dtype, jnp.inexact)]
        nan = jnp.any(jnp.stack([jnp.isnan(x).any() for x in leaves])) if leaves else jnp.bool_(False)
        inf = jnp.any(jnp.stack([jnp.isinf(x).any() for x in leaves])) if leaves else jnp.bool_(False)
        return state, {**metrics, NONFINITE: jnp.where(nan, 2, jnp.where(inf, 1, 0)).astype(jnp.int32)}

    return flagged


def _device_block(
    update: Callable[[TrainState, Batch], tuple[TrainState, Metrics]], parallel: DataParallel | None = None
) -> Callable[..., Any]:
    """Several epochs of :func:`_device_step` in one program: ``block(state, data, perms,
    size=batch_size, steps=steps_per_epoch)``, ``perms`` the epochs' orders stacked (epochs, n).
    Returns the state and every step's metrics, stacked (epochs, steps, ...)."""
    step = _flagged(update)

    def block(state: TrainState, data: Batch, perms: jax.Array, size: int, steps: int) -> tuple[TrainState, Metrics]:
        def epoch(state: TrainState, perm: jax.Array) -> tuple[TrainState, Metrics]:
            def one(state: TrainState, index: jax.Array) -> tuple[TrainState, Metrics]:
                idx = jax.lax.dynamic_slice_in_dim(perm, index * size, size)
                batch = jax.tree.map(lambda v: jnp.take(v, idx, axis=0), data)
                return step(state, parallel.shard_rows(batch) if parallel is not None else batch)

            return jax.lax.scan(one, state, jnp.arange(steps))

        return jax.lax.scan(epoch, state, perms)

    return jax.jit(block, donate_argnums=0, static_argnames=("size", "steps"))


def _device_step(
    update: Callable[[TrainState, Batch], tuple[TrainState, Metrics]], parallel: DataParallel | None = None
) -> Callable[..., Any]:
    """``update`` on ``data[perm[start:start + size]]``, gathered on the device, jitted.

    Called as ``step(state, data, perm, start, size=batch_size)``: ``data`` is the whole training
    set (a dict of device arrays), ``perm`` the epoch's int32 permutation, ``start`` a traced
    integer and ``size`` static, so a run compiles once per distinct batch size. One dispatch per
    step, no host slicing; ``state`` is donated, so its buffers are updated in place.
    """

    def step(
        state: TrainState, data: Batch, perm: jax.Array, start: jax.Array, size: int
    ) -> tuple[TrainState, Metrics]:
        idx = jax.lax.dynamic_slice_in_dim(perm, start, size)  # (size,)
        batch = jax.tree.map(lambda v: jnp.take(v, idx, axis=0), data)
        return flagged(state, parallel.shard_rows(batch) if parallel is not None else batch)

    flagged = _flagged(update)
    return jax.jit(step, donate_argnums=0, static_argnames="size")


def _host_step(update: Callable[[TrainState, Batch], tuple[TrainState, Metrics]]) -> Callable[..., Any]:
    """``update`` on the NumPy rows ``data[perm[start:start + size]]`` (a rule that runs on the host)."""

    def step(state: TrainState, data: Batch, perm: np.ndarray, start: int, size: int) -> tuple[TrainState, Metrics]:
        idx = np.asarray(perm)[start : start + size]
        return update(state, jax.tree.map(lambda v: np.asarray(v)[idx], data))

    return step


def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """Epoch ``epoch``'s visiting order: a function of (seed, epoch) alone."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)


def _what(value: float) -> str:
    return "nan" if math.isnan(value) else "inf"


@contextmanager
def _deferred_sigint() -> Iterator[Callable[[], bool]]:
    """While active, the first Ctrl-C only raises a flag (checked between steps); a second one
    interrupts at once. Only in the main thread, and only over Python's default handler."""
    hit = [False]
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield lambda: hit[0]
        return

    def handler(signum: int, frame: Any) -> None:
        if hit[0]:
            raise KeyboardInterrupt
        hit[0] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: hit[0]
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
