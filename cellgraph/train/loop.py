"""The training loop: minibatches, evaluation, history, NaN stops, checkpoints, Ctrl-C.

``train(model, data)`` runs the jitted step of :mod:`.step` over shuffled minibatches and
evaluates on the test split after every epoch. Its choices:

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
* **Checkpoints** (with ``checkpoint_dir``) are written every ``checkpoint_every`` steps, or else
  at an epoch's end at most every :data:`CHECKPOINT_SECONDS`, and always at the end and on Ctrl-C;
  ``resume=True`` continues from the newest one exactly where it stopped.
* **Ctrl-C** is deferred to the end of the current step (a second one interrupts at once); the
  run saves a checkpoint and raises :class:`TrainingInterrupted`.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jax
import numpy as np

from ..typedefs import Params
from .checkpoint import checkpoint_path, list_checkpoints, load_latest, save_checkpoint
from .optim import describe_optimizer, make_optimizer
from .progress import Progress, wants_bar
from .setup import DatasetLike, resolve, rows, settings, splits
from .state import TrainingError, TrainingInterrupted, TrainState, init_state, is_alive, nonfinite
from .step import Metrics, ModelLike, make_indexed_eval, make_indexed_step

DROP_REMAINDER_MIN_BATCHES: Final = 10
"""From this many full batches per epoch on, the last partial batch is dropped (see above)."""
SYNC_EVERY: Final = 64
"""Most steps whose metrics wait on the device before the host reads them."""
SYNC_SECONDS: Final = 0.25
"""How often the host reads metrics while a progress bar shows."""
CHECKPOINT_SECONDS: Final = 30.0
"""Without ``checkpoint_every``: the least time between two end-of-epoch checkpoints."""
EVAL_ROWS: Final = 8192
"""Evaluation runs on chunks of at most this many examples (exact for mean metrics)."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run returns.

    Attributes:
        params: the trained parameters.
        history: one row per epoch: ``epoch``, ``step``, ``train_<metric>`` (averaged over the
            epoch's steps) and ``test_<metric>`` (on the test split after the epoch).
        metrics: the final metrics on the test split (the training split when there is none).
        steps: updates applied.
    """

    params: Params
    history: list[dict[str, float]]
    metrics: dict[str, float]
    steps: int


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
    checkpoint_every: int | None = None,
    resume: bool = True,
    progress: bool = True,
    curve_png: str | os.PathLike[str] | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    params_override: Mapping[str, Any] | None = None,
    drop_remainder: bool | None = None,
) -> TrainResult:
    """Train a model by gradient descent on its loss and return the trained parameters.

    Settings not given here come from the spec's ``train:`` block (when the model was compiled
    from a spec), then from the defaults of :data:`cellgraph.graph.rules.TRAIN_KEYS`.

    Args:
        model: a compiled model (``init``, ``loss``, ``trainable_mask``), or a spec file, a
            :class:`~cellgraph.Spec` or a built graph, compiled here.
        data: the data set (``x_train``, ``y_train``, ``x_test``, ``y_test``); default: the
            spec's ``data:`` block, loaded with :func:`cellgraph.data.load_dataset`.
        epochs: passes over the training data (not with ``steps``).
        steps: updates in all (not with ``epochs``).
        batch_size: examples per step (clipped to the data size).
        seed: decides the initial parameters, every step's PRNG key and the shuffling.
        optimizer: an optax optimizer name or ``{"name": ..., **arguments}``.
        grad_clip: the largest global gradient norm.
        checkpoint_dir: folder for checkpoints; None: no checkpoints.
        checkpoint_every: save every this many steps (default: at epoch ends, at most every
            :data:`CHECKPOINT_SECONDS`).
        resume: continue from the newest checkpoint in ``checkpoint_dir``; False starts over
            (and the old checkpoints there are removed at the first save).
        progress: show a progress bar (only ever on an interactive terminal).
        curve_png: write the training curve there at the end (and on Ctrl-C).
        on_step: called after every step with a :class:`StepInfo`.
        params_override: spec params (``{"width": 16}``) when ``model`` is a spec file.
        drop_remainder: force dropping (True) or keeping (False) the last partial batch.

    Returns:
        A :class:`TrainResult`.

    Raises:
        TrainingError: the loss or the parameters stopped being finite (naming the step), a
            checkpoint from another run, bad settings.
        TrainingInterrupted: Ctrl-C, after the checkpoint was saved.
        SpecError: a bad ``optimizer`` or spec.

    >>> result = train("specs/examples/mushroom.yaml", epochs=2, progress=False)  # doctest: +SKIP
    >>> result.metrics["accuracy"]  # doctest: +SKIP
    """
    model, spec, data = resolve(model, data, params_override)
    rule = spec.train.get("rule", "backprop") if spec is not None else "backprop"
    if rule != "backprop":  # the network's own rule (perceptron, least squares, ...)
        from .rules.dispatch import train_by_rule

        return train_by_rule(model, spec.train, data, seed=seed, epochs=epochs)
    cfg = settings(
        spec.train if spec is not None else {},
        epochs=epochs,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        optimizer=optimizer,
        grad_clip=grad_clip,
    )
    train_set, test_set = splits(data)
    plan = _Plan.make(rows(train_set), cfg["batch_size"], cfg["epochs"], cfg["steps"], drop_remainder)
    located = spec.loc if spec is not None and optimizer is None and grad_clip is None else None
    tx = make_optimizer(cfg, getattr(model, "trainable_mask", None), loc=located)
    fingerprint = {
        "seed": cfg["seed"],
        "batch_size": plan.batch_size,
        "examples": plan.examples,
        "steps_per_epoch": plan.steps_per_epoch,
        "optimizer": describe_optimizer(cfg),
    }
    run = _Run(model, tx, plan, cfg["seed"], fingerprint, train_set, test_set, checkpoint_dir, checkpoint_every)
    run.title = (spec.title or spec.name) if spec is not None else None
    run.start(resume)
    return run.loop(progress=progress, curve_png=curve_png, on_step=on_step)


class _Run:
    """One run's mutable bookkeeping; :func:`train` is its only user."""

    def __init__(
        self,
        model: ModelLike,
        tx: Any,
        plan: _Plan,
        seed: int,
        fingerprint: dict[str, Any],
        train_set: dict[str, Any],
        test_set: dict[str, Any] | None,
        checkpoint_dir: str | os.PathLike[str] | None,
        checkpoint_every: int | None,
    ) -> None:
        self.plan, self.seed, self.fingerprint = plan, seed, fingerprint
        self.folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if checkpoint_every is not None and checkpoint_every < 1:
            raise TrainingError(f"checkpoint_every must be a positive number of steps, got {checkpoint_every}")
        self.every = checkpoint_every
        self.step_fn = make_indexed_step(model, tx)
        self.eval_fn = make_indexed_eval(model)
        self.state = init_state(model.init, tx, seed)
        self.train_dev = jax.device_put(train_set)
        self.test_dev = jax.device_put(test_set) if test_set is not None else None
        self.n_test = rows(test_set) if test_set is not None else 0
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.sums: dict[str, float] = {}  # this epoch's metric * batch size, summed in step order
        self.count = 0  # examples behind self.sums
        self.pending: list[tuple[int, int, int, Metrics]] = []  # (step, epoch, size, device metrics)
        self.last_sync = self.last_save = time.monotonic()
        self.saved_step = -1
        self.clear_old = False
        self.bar = Progress(0, enabled=False)
        self.title: str | None = None  # of the training curve

    # ------------------------------------------------------------------------------ start, save

    def start(self, resume: bool) -> None:
        """Continue from the newest checkpoint (``resume``) or start over."""
        if self.folder is None:
            return
        if not resume:
            self.clear_old = bool(list_checkpoints(self.folder))
            return
        found = load_latest(self.folder, self.state)
        if found is None:
            return
        state, meta, path = found
        theirs = meta.get("fingerprint", {})
        if theirs != self.fingerprint:
            diffs = [
                f"{k} {theirs.get(k)!r} there, {self.fingerprint[k]!r} here"
                for k in self.fingerprint
                if theirs.get(k) != self.fingerprint[k]
            ]
            raise TrainingError(
                f"checkpoint {path} belongs to another run ({'; '.join(diffs)}); "
                "train with resume=False (--no-resume) to start over, or use another checkpoint folder"
            )
        self.state, self.step = state, int(meta["step"])
        self.history = [dict(row) for row in meta.get("history", [])]
        self.sums = {k: float(v) for k, v in meta.get("sums", {}).items()}
        self.count = int(meta.get("count", 0))
        self.saved_step = self.step

    def save(self) -> Path | None:
        """Checkpoint the current state (after a sync), unless it is already on disk."""
        if self.folder is None:
            return None
        if self.saved_step == self.step:
            return checkpoint_path(self.folder, self.step)
        self.sync()
        self._check_params()
        if self.clear_old:
            for old in list_checkpoints(self.folder):
                old.unlink(missing_ok=True)
            self.clear_old = False
        meta = {
            "step": self.step,
            "epoch": self.step // self.plan.steps_per_epoch,
            "fingerprint": self.fingerprint,
            "history": self.history,
            "sums": self.sums,
            "count": self.count,
        }
        path = save_checkpoint(self.folder, self.state, meta)
        self.saved_step, self.last_save = self.step, time.monotonic()
        return path

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
                while self.step < plan.total:
                    epoch = self.step // per_epoch
                    perm = jax.device_put(_permutation(self.seed, epoch, plan.examples))
                    first = self.step % per_epoch
                    for index in range(first, min(per_epoch, first + plan.total - self.step)):
                        start, size = plan.batch(index)
                        self.state, metrics = self.step_fn(self.state, self.train_dev, perm, start, size=size)
                        self.step += 1
                        self.pending.append((self.step, epoch, size, metrics))
                        if on_step is not None:
                            on_step(StepInfo(self.step, epoch + 1, self.state, metrics))
                        every = bool(self.every) and self.step % self.every == 0
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
                self.sync()
                self._check_params()
                self.save()
        except KeyboardInterrupt:
            self._interrupted(curve_png)
        history = list(self.history)
        if self.count:  # the run ended inside an epoch: a last, partial row
            history.append(self._row())
        metrics = self._final_metrics(history)
        if curve_png is not None:
            from .curve import plot_curve

            plot_curve(history, curve_png, title=self.title)
        return TrainResult(params=self.state.params, history=history, metrics=metrics, steps=self.step)

    def _end_epoch(self) -> None:
        self.history.append(self._row())
        self.sums, self.count = {}, 0

    def _row(self) -> dict[str, float]:
        """The history row of the current epoch: the running sums and a test evaluation."""
        self.sync()
        epoch = (self.step - 1) // self.plan.steps_per_epoch + 1
        row: dict[str, float] = {"epoch": epoch, "step": self.step}
        row.update({f"train_{k}": v / self.count for k, v in self.sums.items()} if self.count else {})
        if self.test_dev is not None:
            row.update({f"test_{k}": v for k, v in self.evaluate(self.test_dev, self.n_test).items()})
        return row

    def _final_metrics(self, history: list[dict[str, float]]) -> dict[str, float]:
        if self.test_dev is None:
            return self.evaluate(self.train_dev, self.plan.examples)
        last = history[-1] if history else {}
        if last.get("step") == self.step:
            return {k[len("test_") :]: v for k, v in last.items() if k.startswith("test_")}
        return self.evaluate(self.test_dev, self.n_test)

    def evaluate(self, split: Mapping[str, Any], rows: int) -> dict[str, float]:
        """Metrics of the current params on a whole device-resident split (means weighted by rows)."""
        chunk = min(rows, EVAL_ROWS)
        sums: dict[str, float] = {}
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            values = jax.device_get(self.eval_fn(self.state.params, split, start, size=size))
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + float(np.mean(v)) * size
        return {k: v / rows for k, v in sums.items()}

    # ------------------------------------------------------------------------------ host syncs

    def _maybe_sync(self) -> None:
        if len(self.pending) >= SYNC_EVERY or (self.bar.enabled and time.monotonic() - self.last_sync >= SYNC_SECONDS):
            self.sync()

    def sync(self) -> None:
        """Read the pending step metrics: stop at the first non-finite loss, add up the rest."""
        if not self.pending:
            return
        values = jax.device_get([m for *_, m in self.pending])
        for (step, epoch, size, _), metrics in zip(self.pending, values, strict=True):
            loss = float(np.mean(metrics["loss"]))
            if not math.isfinite(loss):
                self.pending.clear()
                raise TrainingError(
                    f"loss became {_what(loss)} at step {step} (epoch {epoch + 1}); "
                    "lower the learning rate or add grad_clip",
                    step=step,
                    epoch=epoch + 1,
                )
            for k, v in metrics.items():
                self.sums[k] = self.sums.get(k, 0.0) + float(np.mean(v)) * size
            self.count += size
        done = len(self.pending)
        self.pending.clear()
        self.last_sync = time.monotonic()
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
                f"params became {bad} at step {self.step} (epoch {epoch}); lower the learning rate or add grad_clip",
                step=self.step,
                epoch=epoch,
            )

    def _interrupted(self, curve_png: str | os.PathLike[str] | None) -> None:
        self.bar.close()
        epoch = max(self.step - 1, 0) // self.plan.steps_per_epoch + 1
        saved: Path | None = None
        if self.folder is not None:
            if is_alive(self.state) and int(self.state.step) == self.step:
                saved = self.save()
            else:  # a second Ctrl-C landed inside a step: the state is not whole; keep the last file
                found = list_checkpoints(self.folder)
                saved = found[0] if found else None
        if curve_png is not None and self.history:
            from .curve import plot_curve

            plot_curve(self.history, curve_png, title=self.title)
        where = f"interrupted at step {self.step} (epoch {epoch})"
        if saved is not None:
            message = (
                f"{where}; checkpoint saved to {saved}; train again with checkpoint_dir={str(self.folder)!r} to resume"
            )
        else:
            message = f"{where}; no checkpoint kept (give checkpoint_dir to make a run resumable)"
        raise TrainingInterrupted(
            message, step=self.step, epoch=epoch, checkpoint=str(saved) if saved is not None else None
        ) from None


# ---------------------------------------------------------------------------------- helpers


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
