"""Checkpoints: a :class:`TrainState` plus the loop's bookkeeping, one msgpack file per save.

A file ``step-00001234.msgpack`` holds ``{"format", "meta", "state"}`` written with
``flax.serialization`` (msgpack, the format Flax's own checkpoints used). ``meta`` carries what
an exact resume needs besides the state: the step and epoch, the run's fingerprint (seed, batch
size, data size, optimizer), the history so far and the current epoch's running sums. The
shuffling needs no saved generator state: each epoch's permutation is drawn from a NumPy
generator seeded by ``(seed, epoch)``, so the fingerprint's seed and the step rebuild it.

Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to disk,
then ``os.replace`` puts them in place, so a ``kill -9`` at any moment leaves the previous
checkpoint or the new one, never half a file. The newest ``keep`` files are kept.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, Final

import jax
import numpy as np
from flax import serialization

from .state import TrainingError, TrainState, from_plain, to_plain

FORMAT: Final = 1
_NAME: Final = re.compile(r"^step-(\d+)\.msgpack$")


class CheckpointWarning(UserWarning):
    """A checkpoint file could not be read and an older one was used instead."""


def checkpoint_path(directory: str | os.PathLike[str], step: int) -> Path:
    """Where the checkpoint of ``step`` lives in ``directory``."""
    return Path(directory) / f"step-{step:08d}.msgpack"


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """The checkpoint files in ``directory``, newest (highest step) first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def save_checkpoint(
    directory: str | os.PathLike[str], state: TrainState, meta: dict[str, Any], *, keep: int = 2
) -> Path:
    """Write ``state`` and ``meta`` atomically as the checkpoint of ``state.step``.

    Args:
        directory: the run's checkpoint folder (created if missing).
        state: the state to save; its arrays are copied to the host.
        meta: plain data (numbers, text, lists, dicts with text keys) saved alongside.
        keep: how many of the newest checkpoints to leave in the folder.

    Returns:
        The path of the file written.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    host = jax.device_get(to_plain(state))
    payload = {"format": FORMAT, "meta": meta, "state": serialization.to_state_dict(host)}
    data = serialization.msgpack_serialize(payload)
    path = checkpoint_path(folder, int(host.step))
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(folder)
    for old in list_checkpoints(folder)[keep:]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike[str], template: TrainState) -> tuple[TrainState, dict[str, Any]]:
    """Read one checkpoint into the structure of ``template`` (a fresh state of the same run).

    Raises:
        TrainingError: the file holds a state of another shape (another network or optimizer).
        ValueError, OSError: the file is unreadable or not a checkpoint.
    """
    raw = serialization.msgpack_restore(Path(path).read_bytes())
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or "state" not in raw:
        raise ValueError(f"{path} is not a cellgraph checkpoint (format {FORMAT})")
    plain = to_plain(template)
    try:
        restored = serialization.from_state_dict(plain, raw["state"])
    except (ValueError, KeyError, TypeError) as err:
        raise _mismatch(path, str(err)) from err
    for (where, want), got in zip(jax.tree_util.tree_leaves_with_path(plain), jax.tree.leaves(restored), strict=True):
        expected, found = (np.shape(want), _dtype(want)), (np.shape(got), _dtype(got))
        if expected != found:
            place = jax.tree_util.keystr(where)
            raise _mismatch(path, f"{place} is {found[0]} {found[1]}, expected {expected[0]} {expected[1]}")
    state = from_plain(jax.device_put(restored))
    return state, dict(raw.get("meta") or {})


def load_latest(
    directory: str | os.PathLike[str], template: TrainState
) -> tuple[TrainState, dict[str, Any], Path] | None:
    """The newest readable checkpoint in ``directory``, or None when there is none.

    A file that cannot be read (cut short by a full disk, say) is skipped with a
    :class:`CheckpointWarning` in favour of the one before it.
    """
    for path in list_checkpoints(directory):
        try:
            state, meta = load_checkpoint(path, template)
        except (ValueError, OSError) as err:
            warnings.warn(f"skipping unreadable checkpoint {path}: {err}", CheckpointWarning, stacklevel=2)
            continue
        return state, meta, path
    return None


def _dtype(leaf: Any) -> np.dtype:
    return np.dtype(getattr(leaf, "dtype", type(leaf)))


def _mismatch(path: str | os.PathLike[str], detail: str) -> TrainingError:
    return TrainingError(
        f"checkpoint {path} was written by a different network or optimizer ({detail}); "
        "train with resume=False (--no-resume) to start over, or use another checkpoint folder"
    )


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)
