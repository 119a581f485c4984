"""A run's identity: one key over everything that decides what a training run computes.

A build system rebuilds a target when any of its inputs changed, and it can say which one. A
training run's inputs are:

* **the spec**: the root file's text and the text of every ``use:`` part it composed
  (``Spec.sources``), and its resolved params (command-line ``-p`` overrides included);
* **the data**: every array of the training and test splits, as dtype, shape and bytes, so an
  edited CSV and a changed generator both count;
* **the model**: the tree of parameter and optimizer-state shapes (all that is known of a compiled
  model handed over without a spec);
* **cellgraph's own code**: a hash of the package's ``.py`` and native ``.cc`` files, computed once
  per process, when the first run needs it (an editable install keeps version 0.1.0 through every
  edit, so the version says nothing);
* **the libraries** that compute: jax, jaxlib, flax, optax and numpy versions;
* **the settings**: every ``train:`` setting after the keyword arguments were applied (epochs or
  steps, batch size, seed, optimizer, grad_clip, loss, precision, ...) and ``drop_remainder``.

The key is the SHA-256 of all parts. A checkpoint stores the key with each part's digest (and the
settings and versions themselves), so loading a checkpoint of another run names what differs:
"the data changed", "epochs 5 there, 10 here".

Left out on purpose: the machine and the JAX backend (a run checkpointed on a GPU may be resumed
or evaluated on a CPU; results agree to rounding, not bit for bit), and ``checkpoint_every``,
``progress`` and ``curve_png``, which change nothing the run computes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jax
import numpy as np
import xxhash

KEY_VERSION: Final = 1
"""Bumped when the key's recipe changes, so an old key never equals a new one by accident."""
LIBRARIES: Final = ("jax", "jaxlib", "flax", "optax", "numpy")
_PACKAGE: Final = Path(__file__).resolve().parents[1]  # the cellgraph package folder
_CODE_SUFFIXES: Final = (".py", ".cc", ".h")


@dataclass(frozen=True)
class RunKey:
    """The key of one run and its parts (hex SHA-256 digests, versions, plain settings)."""

    spec: str | None  # None: a compiled model without a spec
    data: str
    model: str
    code: str
    libraries: Mapping[str, str]
    settings: Mapping[str, Any]

    @property
    def digest(self) -> str:
        """The whole key: SHA-256 of every part."""
        return _sha256_json([KEY_VERSION, self.spec, self.data, self.model, self.code, self.libraries, self.settings])

    def to_meta(self) -> dict[str, Any]:
        """The key as a checkpoint stores it (settings as canonical JSON text: no msgpack type drift)."""
        return {
            "version": KEY_VERSION,
            "key": self.digest,
            "spec": self.spec,
            "data": self.data,
            "model": self.model,
            "code": self.code,
            "libraries": dict(self.libraries),
            "settings": _canonical(self.settings),
        }


def run_key(
    spec: Any,
    train_set: Mapping[str, Any],
    test_set: Mapping[str, Any] | None,
    shapes: Any,
    settings: Mapping[str, Any],
) -> RunKey:
    """The key of a run (see the module docstring for what each part covers).

    Args:
        spec: the run's :class:`~cellgraph.Spec`, or None for a compiled model without one.
        train_set, test_set: the splits as ``{"inputs": ..., "targets": ...}`` batches.
        shapes: a pytree whose leaves' shapes and dtypes describe the model (the initial state).
        settings: the run's resolved settings (plain data after :func:`plain`).
    """
    return RunKey(
        spec=spec_digest(spec),
        data=data_digest({"train": train_set, "test": test_set}),
        model=shape_digest(shapes),
        code=code_digest(),
        libraries=library_versions(),
        settings=plain(settings),
    )


def spec_digest(spec: Any) -> str | None:
    """The texts of the spec and its parts, in reading order, and its resolved params."""
    if spec is None:
        return None
    texts = [text for _, text in getattr(spec, "sources", ())] or [getattr(spec, "source", "")]
    return _sha256_json([texts, plain(getattr(spec, "params", {}))])


def data_digest(tree: Any) -> str:
    """Every array of ``tree`` as its place in the tree, dtype, shape and bytes.

    Hashed with XXH3-128 (the ``xxhash`` package) rather than SHA-256: every ``train`` call that
    may resume digests its whole data set, and the mushroom set's 3.8 MB took 3.4 ms with SHA-256
    (a copy, then the hash) against 0.16 ms read in place -- a tenth of a perceptron's whole call.
    The digest tells runs apart; it does not defend against forged data, so 128 bits of a fast
    non-cryptographic hash suffice.
    """
    h = xxhash.xxh3_128()
    for where, leaf in jax.tree_util.tree_leaves_with_path(tree):
        array = np.asarray(leaf)
        h.update(f"{jax.tree_util.keystr(where)}|{array.dtype.str}|{array.shape}|".encode())
        h.update(repr(array.tolist()).encode() if array.dtype.hasobject else np.ascontiguousarray(array).data)
    return h.hexdigest()


def shape_digest(tree: Any) -> str:
    """The structure of ``tree`` with each leaf's shape and dtype (not its values)."""
    return _sha256_json(
        [
            [jax.tree_util.keystr(where), list(np.shape(leaf)), str(getattr(leaf, "dtype", type(leaf).__name__))]
            for where, leaf in jax.tree_util.tree_leaves_with_path(tree)
        ]
    )


@lru_cache(maxsize=1)
def code_digest() -> str:
    """cellgraph's own source: every ``.py``, ``.cc`` and ``.h`` file of the package, by relative
    path and bytes (computed once per process, by the first run that needs it; a few milliseconds)."""
    return digest_files(_PACKAGE, _CODE_SUFFIXES)


def digest_files(root: Path, suffixes: Sequence[str]) -> str:
    """SHA-256 over the files under ``root`` with those suffixes, in path order."""
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.suffix in suffixes and "__pycache__" not in p.parts)
    for path in files:
        data = path.read_bytes()
        h.update(f"{path.relative_to(root).as_posix()}|{len(data)}|".encode())
        h.update(data)
    return h.hexdigest()


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    """Read once per process: the libraries a process computes with are the ones it imported at
    start (an upgrade takes effect in the next process), and reading the metadata costs ~9 ms."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in LIBRARIES:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            found.append((name, "not installed"))
    return tuple(found)


def library_versions() -> dict[str, str]:
    """The installed versions of the libraries that compute a run."""
    return dict(_versions())


def differences(stored: Mapping[str, Any], current: RunKey) -> list[str]:
    """What differs between a checkpoint's stored key and this run's, in words; [] when equal."""
    if stored.get("key") == current.digest:
        return []
    if stored.get("version") != KEY_VERSION:
        return [f"its run key is of another kind (version {stored.get('version')!r}, here {KEY_VERSION})"]
    out = _setting_differences(_parse_settings(stored.get("settings")), plain(current.settings))
    if stored.get("spec") != current.spec:
        if stored.get("spec") is None or current.spec is None:
            out.append("one run has a spec and the other a compiled model")
        else:
            out.append("the spec or one of its `use:` parts changed (or its params)")
    if stored.get("data") != current.data:
        out.append("the data changed")
    if stored.get("model") != current.model:
        out.append("the network's parameter shapes differ")
    if stored.get("code") != current.code:
        out.append("cellgraph's code changed")
    theirs = stored.get("libraries") or {}
    for name, here in current.libraries.items():
        if theirs.get(name) != here:
            out.append(f"{name} {theirs.get(name)} there, {here} here")
    return out or ["its run key differs"]


def plain(value: Any) -> Any:
    """``value`` as JSON data: mappings with text keys (sorted), lists, text, numbers, None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    return repr(value)


# ---------------------------------------------------------------------------------- helpers


def _setting_differences(theirs: Mapping[str, Any] | None, ours: Mapping[str, Any]) -> list[str]:
    if theirs is None:
        return ["its settings are unreadable"]
    keys = list(ours) + [k for k in theirs if k not in ours]
    return [
        f"{k} {_show(theirs.get(k))} there, {_show(ours.get(k))} here" for k in keys if theirs.get(k) != ours.get(k)
    ]


def _parse_settings(text: Any) -> Mapping[str, Any] | None:
    try:
        parsed = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "none" if value is None else str(value)


def _canonical(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()
