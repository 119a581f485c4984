"""Checkpoints: a :class:`TrainState` plus the loop's bookkeeping, one checksummed file per save.

A file ``step-00001234.msgpack`` is a 52-byte header and a msgpack payload:

========  =====  ===============================================================
bytes     field  meaning
========  =====  ===============================================================
0-7       magic  ``b"\\x89CGCKPT\\n"`` (a non-ASCII first byte, as PNG's, so a text file
                 or a text-mode copy is never mistaken for a checkpoint)
8-11      format this layout's number, :data:`FORMAT` (uint32, little-endian)
12-19     length the payload's size in bytes (uint64, little-endian)
20-51     sha256 SHA-256 of bytes 0-19 and the payload
========  =====  ===============================================================

The payload is ``{"meta", "state"}`` written with ``flax.serialization`` (msgpack, the format
Flax's own checkpoints used). ``meta`` carries what an exact resume needs besides the state: the
step and epoch, the run's key (:mod:`.runkey`), the history so far and the current epoch's running
sums, and with early stopping its bookkeeping and the best epoch's parameters. The shuffling needs no saved generator state: each epoch's permutation is drawn from a
NumPy generator seeded by ``(seed, epoch)``.

**Integrity.** A file is used only when its length and its checksum agree, as a database checks a
page or a package manager an archive: a single flipped bit anywhere, a file cut short, zeroed
pages or foreign bytes are all detected before any of it is decoded. A damaged newest file is
skipped with one :class:`CheckpointWarning` in favour of the one before it; files of another
format (format 1 had no checksum) are refused with a :class:`TrainingError`.

**Writes are atomic:** the bytes go to a temporary file in the same folder, are flushed to disk,
then ``os.replace`` puts them in place and the folder is flushed, so a ``kill -9`` at any moment
leaves the previous checkpoint or the new one, never half a file. A write that fails (a full disk,
a read-only folder) removes its temporary file before the error goes on; temporary files of
processes that no longer run are removed by :func:`prepare_folder`. The newest ``keep`` files
are kept.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import importlib.util
import os
import re
import struct
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import jax
import numpy as np

from ..access import probe_folder, remove_quietly, sync_folder, write_synced
from .state import TrainingError, TrainState, from_plain, to_plain

FORMAT: Final = 3
"""Format 1 (cellgraph up to 0.1.0) was bare msgpack without a checksum; format 2 held the
optimizer's state as ``opt_state``, where format 3 holds ``model_state`` and ``rule_state``."""
MAGIC: Final = b"\x89CGCKPT\n"
_HEADER: Final = struct.Struct("<8sIQ32s")
_NAME: Final = re.compile(r"^step-(\d+)\.msgpack$")
_TMP: Final = re.compile(r"^\.(?:step-\d+\.msgpack|probe)\.(\d+)\.tmp$")  # ours, with the writer's pid


class CheckpointWarning(UserWarning):
    """A checkpoint file could not be read and an older one was used instead (or, as its
    :class:`SaveWarning` subclass, one could not be written)."""


class SaveWarning(CheckpointWarning):
    """A checkpoint or the training curve could not be written (a full disk, a read-only folder);
    the run went on, or its result was returned all the same."""


class CorruptCheckpoint(ValueError):
    """A checkpoint file's bytes are not what was written: cut short, damaged or foreign."""


@dataclass(frozen=True)
class Stored:
    """One intact checkpoint file, decoded but not yet shaped into a :class:`TrainState`."""

    path: Path
    meta: dict[str, Any]
    state: Any  # the state dict as msgpack gave it back


def checkpoint_path(directory: str | os.PathLike[str], step: int) -> Path:
    """Where the checkpoint of ``step`` lives in ``directory``."""
    return Path(directory) / f"step-{step:08d}.msgpack"


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """The checkpoint files in ``directory``, newest (highest step) first.

    Raises:
        TrainingError: the folder exists but cannot be listed.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return []
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError as err:
        raise TrainingError(f"cannot read the checkpoint folder {folder}: {describe_os_error(err)}") from None
    found = [(int(m.group(1)), folder / name) for name in names if (m := _NAME.match(name))]
    return [p for _, p in sorted(found, reverse=True)]


def prepare_folder(directory: str | os.PathLike[str]) -> Path:
    """Make sure checkpoints can be written to ``directory`` before a run spends time training.

    Creates the folder, writes, flushes and removes a probe file, and removes temporary files left
    by processes that no longer run (a ``kill -9`` during a save).

    Raises:
        TrainingError: naming the folder, the reason and the fix.
    """
    folder = Path(directory)
    try:
        probe_folder(folder)
    except OSError as err:
        raise TrainingError(
            f"cannot write checkpoints to {folder}: {describe_os_error(err)}; "
            "fix: free space or permissions there, or pass another folder "
            "(--checkpoint-dir DIR, checkpoint_dir= from Python)"
        ) from None
    for entry in folder.iterdir():
        m = _TMP.match(entry.name)
        if m and not _running(int(m.group(1))):
            remove_quietly(entry)
    return folder


@functools.cache
def serialization() -> ModuleType:
    """``flax.serialization``, imported at a run's first save or load rather than with the
    package (see :func:`_flax_serialization`), with :class:`TrainState` registered in the form
    ``flax.struct`` gave it: a dict of its fields."""
    flax_serialization = _flax_serialization()

    def to_dict(state: TrainState) -> dict[str, Any]:
        return {f.name: flax_serialization.to_state_dict(getattr(state, f.name)) for f in fields(TrainState)}

    def from_dict(template: TrainState, saved: dict[str, Any]) -> TrainState:
        names = [f.name for f in fields(TrainState)]
        missing, unknown = [n for n in names if n not in saved], sorted(set(saved) - set(names))
        if missing or unknown:
            raise ValueError(f"the state's fields are {sorted(saved)}, expected {names}")
        return template.replace(
            **{n: flax_serialization.from_state_dict(getattr(template, n), saved[n], name=n) for n in names}
        )

    flax_serialization.register_serialization_state(TrainState, to_dict, from_dict, override=True)
    return flax_serialization


def _flax_serialization() -> ModuleType:
    """``flax.serialization``, without Flax's package ``__init__`` when Flax is not imported yet.

    Importing ``flax`` imports ``flax.linen`` and the rest of the package: 0.12-0.15 s here, for a
    module that needs only JAX, NumPy and msgpack and loads in 2 ms. So the module is loaded from
    its file under its own name; a later ``import flax`` finds it in ``sys.modules`` and uses it
    (one module, one registry of serializable types). Anything unexpected (another layout of the
    package) falls back to the plain import.
    """
    loaded = sys.modules.get("flax.serialization")
    if loaded is not None:
        return loaded
    if "flax" not in sys.modules:
        try:
            found = importlib.util.find_spec("flax")  # locates the package without running it
            folders = list(found.submodule_search_locations or []) if found is not None else []
            where = importlib.util.spec_from_file_location("flax.serialization", Path(folders[0]) / "serialization.py")
            if where is None or where.loader is None:
                raise ImportError("flax.serialization not found")
            module = importlib.util.module_from_spec(where)
            sys.modules["flax.serialization"] = module
            where.loader.exec_module(module)
            return module
        except Exception:  # any surprise: the plain import below
            sys.modules.pop("flax.serialization", None)
    from flax import serialization as flax_serialization

    return flax_serialization


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then ``os.replace`` it into place.

    Raises:
        whatever ``write`` or the rename raises, after the temporary file was removed (a full
        disk, a read-only folder, Ctrl-C: no partial file is left behind).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def encode(state: TrainState, meta: dict[str, Any]) -> bytes:
    """The bytes of a checkpoint file (header and payload) for ``state`` and ``meta``."""
    host = jax.device_get(to_plain(state))
    payload = serialization().msgpack_serialize({"meta": meta, "state": serialization().to_state_dict(host)})
    head = MAGIC + struct.pack("<IQ", FORMAT, len(payload))
    return _HEADER.pack(MAGIC, FORMAT, len(payload), _digest(head, payload)) + payload


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

    Raises:
        OSError: the file could not be written (no temporary file is left behind).
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    data = encode(state, meta)
    path = checkpoint_path(folder, int(jax.device_get(state.step)))
    write_atomically(path, lambda tmp: write_synced(tmp, data))
    sync_folder(folder)
    for old in list_checkpoints(folder)[keep:]:
        remove_quietly(old)
    return path


def read_checkpoint(path: str | os.PathLike[str]) -> Stored:
    """Read and verify one checkpoint file.

    Raises:
        CorruptCheckpoint: the file is cut short, damaged or not a checkpoint.
        OSError: the file cannot be read.
        TrainingError: an intact file of another format (another cellgraph version).
    """
    path = Path(path)
    blob = path.read_bytes()
    return Stored(path, *decode(blob, path))


def restore(stored: Stored, template: TrainState) -> TrainState:
    """The stored state in the structure of ``template`` (a fresh state of the same run).

    Raises:
        TrainingError: the file holds a state of another shape (another network or optimizer).
    """
    return from_plain(restore_tree(stored.path, stored.state, to_plain(template)))


def restore_tree(path: str | os.PathLike[str], saved: Any, template: Any) -> Any:
    """A tree saved in checkpoint ``path`` (a state dict) in the structure of ``template``, on the
    device, every leaf checked to have the template's shape and dtype.

    Raises:
        TrainingError: the tree has another structure, shape or dtype (another network or optimizer).
    """
    try:
        restored = serialization().from_state_dict(template, saved)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise _mismatch(path, str(err)) from err
    wanted = jax.tree_util.tree_leaves_with_path(template)
    for (where, want), got in zip(wanted, jax.tree.leaves(restored), strict=True):
        expected, found = (np.shape(want), _dtype(want)), (np.shape(got), _dtype(got))
        if expected != found:
            place = jax.tree_util.keystr(where)
            raise _mismatch(path, f"{place} is {found[0]} {found[1]}, expected {expected[0]} {expected[1]}")
    return jax.device_put(restored)


def load_checkpoint(path: str | os.PathLike[str], template: TrainState) -> tuple[TrainState, dict[str, Any]]:
    """Read and verify one checkpoint into the structure of ``template``.

    Raises:
        CorruptCheckpoint (a ValueError), OSError: the file is damaged or unreadable.
        TrainingError: another format, or a state of another shape.
    """
    stored = read_checkpoint(path)
    return restore(stored, template), stored.meta


def latest_intact(directory: str | os.PathLike[str]) -> Stored | None:
    """The newest checkpoint in ``directory`` whose bytes verify, or None when there is none.

    A damaged or unreadable file is skipped with a :class:`CheckpointWarning` naming it and the
    reason, in favour of the one before it.
    """
    files = list_checkpoints(directory)
    for i, path in enumerate(files):
        try:
            return read_checkpoint(path)
        except (CorruptCheckpoint, OSError) as err:
            reason = err.args[0] if isinstance(err, CorruptCheckpoint) else describe_os_error(err)
            then = f"using {files[i + 1].name}" if i + 1 < len(files) else "no older checkpoint: starting over"
            warnings.warn(f"skipping damaged checkpoint {path}: {reason}; {then}", CheckpointWarning, stacklevel=2)
    return None


def load_latest(
    directory: str | os.PathLike[str], template: TrainState
) -> tuple[TrainState, dict[str, Any], Path] | None:
    """The newest intact checkpoint in ``directory`` as (state, meta, path), or None (see
    :func:`latest_intact`)."""
    stored = latest_intact(directory)
    if stored is None:
        return None
    return restore(stored, template), stored.meta, stored.path


def decode(blob: bytes, path: str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    """(meta, state dict) of a checkpoint file's bytes, after checking its length and checksum.

    Raises:
        CorruptCheckpoint: the bytes are cut short, damaged or not a checkpoint.
        TrainingError: an intact file of another format (``path`` names it).
    """
    if not blob.startswith(MAGIC):
        if _is_format_1(blob):
            raise TrainingError(
                f"checkpoint {path} was written by an older cellgraph (checkpoint format 1, without a "
                f"checksum; this version reads format {FORMAT}); train with resume=False (--no-resume) "
                "to start over, or use another checkpoint folder"
            )
        what = "an empty file" if not blob else "all zero bytes" if not blob.strip(b"\0") else "no checkpoint header"
        raise CorruptCheckpoint(f"{what} ({len(blob):,} bytes)")
    if len(blob) < _HEADER.size:
        raise CorruptCheckpoint(f"cut short inside its header ({len(blob)} of {_HEADER.size} bytes)")
    _, version, length, digest = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size :]
    if length != len(payload):
        raise CorruptCheckpoint(f"its payload is {len(payload):,} bytes, the header says {length:,} (cut short?)")
    if _digest(blob[:20], payload) != digest:
        raise CorruptCheckpoint("its SHA-256 checksum does not match (damaged on disk or in transfer)")
    if version != FORMAT:
        raise TrainingError(
            f"checkpoint {path} is in format {version}, and this cellgraph reads format {FORMAT}; "
            "train with resume=False (--no-resume) to start over, or use another checkpoint folder"
        )
    try:
        raw = serialization().msgpack_restore(payload)
    except Exception as err:  # whatever msgpack raises, the file is unusable
        raise CorruptCheckpoint(f"its payload does not decode ({type(err).__name__})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("meta"), dict) or "state" not in raw:
        raise CorruptCheckpoint("its payload is not a cellgraph checkpoint")
    return raw["meta"], raw["state"]


def describe_os_error(err: OSError) -> str:
    """An OSError in words a user can act on (the disk is full, the folder is read-only, ...)."""
    words = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EEXIST: "a file of that name is in the way",
    }
    name = errno.errorcode.get(err.errno or 0, "")
    text = words.get(err.errno or 0) or err.strerror or str(err)
    return f"{text} ({name})" if name else text


# ---------------------------------------------------------------------------------- helpers


def _is_format_1(blob: bytes) -> bool:
    """Whether ``blob`` is an intact format-1 file (bare msgpack ``{"format": 1, ...}``)."""
    if not blob or blob[0] & 0xF0 != 0x80:  # a msgpack fixmap
        return False
    try:
        raw = serialization().msgpack_restore(blob)
    except Exception:  # not msgpack at all
        return False
    return isinstance(raw, dict) and raw.get("format") == 1 and "state" in raw


def _digest(head: bytes, payload: bytes) -> bytes:
    h = hashlib.sha256(head)
    h.update(payload)
    return h.digest()


def _dtype(leaf: Any) -> np.dtype:
    return np.dtype(getattr(leaf, "dtype", type(leaf)))


def _mismatch(path: str | os.PathLike[str], detail: str) -> TrainingError:
    return TrainingError(
        f"checkpoint {path} was written by a different network or optimizer ({detail}); "
        "train with resume=False (--no-resume) to start over, or use another checkpoint folder"
    )


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True
