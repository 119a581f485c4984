"""A run's programs compiled ahead of time, side by side.

A small network's run compiles three programs (its initialisation, its step, the evaluation of
the scored splits), and on a CPU each compilation takes longer than the whole training (the
mushroom MLP: 0.55 s, 0.35 s and 0.17 s against 0.1 s for 880 steps). Compiled one after the
other, at first use, they are a second of waiting. XLA compiles without holding Python's lock, so
this module lowers all three up front (shapes from ``jax.eval_shape``, no work done) and compiles
them on worker threads, while the main thread goes on preparing the run; each program is waited
for only when it is first called.

A :class:`Program` calls its compiled executable when called with the arguments it was compiled
for, and falls back to the plain ``jax.jit`` function otherwise (a last, smaller batch): what runs
is the same program either way.

**Kept programs.** On a repeated command JAX's persistent cache spares the compilation, but not
the tracing and lowering that compute its key (a third of a second for the mushroom MLP, most of
it the process's first lowering). A run that knows what its programs are made of -- a
:func:`program_store` recipe: the spec's texts and params, the settings, the data's shapes -- keeps
each compiled program in cellgraph's cache folder (``programs/``) under a key of that recipe,
cellgraph's own code, the library versions, JAX's settings, ``XLA_FLAGS``, the device and the
CPU's features, and loads it the next time without tracing anything. Anything else that changes
a program changes one of those; a program that does not load (another JAX, a damaged file) is
compiled again and stored anew. Only programs XLA really compiled are kept: one JAX loaded from its
own persistent cache cannot be serialized again (its payload lacks the compiled functions), so it
is used as it is, and programs with custom calls are never kept (see :func:`_calls_out`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import jax

from . import cache

INIT_OPTIONS: Final[Mapping[str, Any]] = {
    "xla_backend_optimization_level": 0,
    "xla_llvm_disable_expensive_passes": True,
    "xla_cpu_use_fusion_emitters": False,
}
"""XLA options of programs that run once (a run's initialisation): optimising them costs more
compile time than they ever run. The mushroom MLP's initialisation compiled in 0.56 s with
XLA's defaults, 0.29 s at optimisation level 0 without LLVM's expensive passes, and 0.14-0.20 s
with the older fusion emitters as well (the LSTM's 0.76 -> 0.39 s, the DCN's 0.47 -> 0.20 s); it
then ran in 2 ms. A 12-million-parameter MLP's ran in 0.48 s here against 0.11 s fully optimised.
Not for the evaluation, which runs every epoch: at level 0 it compiled 0.07 s sooner for the
mushroom MLP but ran 2.5 times slower, and 5 times slower for the LSTM of the benchmark; without
the fusion emitters the LSTM's evaluation ran 2 times slower. An option this XLA does not know
(a later one may drop it) is left out rather than failing the run (see :func:`compile_later`)."""

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        # a run's three programs at once, even on two cores: the step and the initialisation are
        # waited for first, and the evaluation's share of the cores only lengthens them a little
        _POOL = ThreadPoolExecutor(max_workers=max(3, min(4, os.cpu_count() or 3)), thread_name_prefix="cellgraph-xla")
    return _POOL


def finish() -> None:
    """Wait for every compilation still running (before a process ends without finalising)."""
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=True)
        _POOL = None


def compile_later(lowered: Any, options: Mapping[str, Any] | None = None, store: Path | None = None) -> Future[Any]:
    """``lowered.compile()`` on a worker thread (through the persistent cache when it is on),
    kept at ``store`` when given."""

    def work() -> Any:
        _LOADED.discard(threading.get_ident())
        compiled = _compile(lowered, dict(options or {}))
        # kept only when XLA really compiled it (an executable JAX loaded from its own cache stops
        # working once serialized again: "Function ... not found"), and before anyone runs it
        if store is not None and threading.get_ident() not in _LOADED:
            _keep(compiled, store)
        return compiled

    _watch_cache_hits()
    return _pool().submit(work)


def _compile(lowered: Any, options: dict[str, Any]) -> Any:
    """``lowered.compile`` with those of ``options`` that this XLA knows."""
    while True:
        try:
            return lowered.compile(compiler_options=options) if options else lowered.compile()
        except Exception as err:  # XlaRuntimeError: INVALID_ARGUMENT: No such compile option: 'name'
            unknown = [k for k in options if f"No such compile option: '{k}'" in str(err)]
            if not unknown:
                raise
            options = {k: v for k, v in options.items() if k not in unknown}


_LOADED: set[int] = set()
"""Threads whose last compilation JAX's persistent cache answered."""
_WATCHING: list[bool] = []


def _watch_cache_hits() -> None:
    """Note, per thread, when JAX loads a program from its persistent cache (once per process)."""
    if _WATCHING:
        return
    _WATCHING.append(True)

    def seen(event: str, **_: Any) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            _LOADED.add(threading.get_ident())

    jax.monitoring.register_event_listener(seen)


class Program:
    """A jitted function with one ahead-of-time compiled variant.

    ``static`` are the values of its static arguments that the compiled variant was made for (they
    are not passed to a compiled executable); any other call goes to ``jitted``.
    """

    def __init__(
        self,
        jitted: Callable[..., Any],
        compiled: Future[Any],
        static: Mapping[str, Any] | None = None,
        out_info: Any = None,
    ):
        self.jitted = jitted
        self.future = compiled
        self.static = dict(static or {})
        self.out_info = out_info  # the outputs' shapes and dtypes, when it was lowered here (None: loaded)

    def __call__(self, *args: Any, **static: Any) -> Any:
        if static == self.static:
            return self.future.result()(*args)
        return self.jitted(*args, **static)


def ahead(jitted: Any, *args: Any, options: Mapping[str, Any] | None = None, **static: Any) -> Program:
    """Lower ``jitted`` for ``args`` (arrays or ``jax.ShapeDtypeStruct``) and ``static`` now,
    compile it on a worker thread, and return it as a :class:`Program`."""
    return Program(jitted, compile_later(jitted.lower(*args, **static), options), static)


def prepared(
    jitted: Any,
    store: Path | None,
    make_args: Callable[[], tuple[Any, ...]],
    options: Mapping[str, Any] | None = None,
    **static: Any,
) -> Program:
    """:func:`ahead`, or the program kept at ``store`` (loaded, nothing traced); ``make_args``
    gives the arguments to lower for only when the program must be compiled."""
    if store is not None:
        held = _HELD.get(store)
        if held is not None:
            return Program(jitted, held, static)
        loaded = _load(store)
        if loaded is not None:
            done: Future[Any] = Future()
            done.set_result(loaded)
            _hold(store, done)
            return Program(jitted, done, static)
    lowered = jitted.lower(*make_args(), **static)
    if store is not None and _calls_out(lowered):
        store = None
    compiled = compile_later(lowered, options, store)
    if store is not None:
        _hold(store, compiled)
    return Program(jitted, compiled, static, lowered.out_info)


HOLD_AT_MOST: Final = 32
"""Programs a process holds on to, by their store path: a loop of ``cellgraph.train`` calls over
seeds or settings (a benchmark, a search) lowers or loads each program once. Without it every
call lowered again the programs it could not load -- those JAX's own cache answered, which are
not kept (see :func:`compile_later`): 0.1-0.4 s a call for the ESN -- and read the kept ones
from disk again (0.07-0.12 s)."""
_HELD: dict[Path, Future[Any]] = {}


def forget() -> None:
    """Let go of the programs this process holds: the next run loads or compiles them as a new
    process would."""
    _HELD.clear()


def _hold(store: Path, program: Future[Any]) -> None:
    _HELD[store] = program
    while len(_HELD) > HOLD_AT_MOST:
        _HELD.pop(next(iter(_HELD)))


def _calls_out(lowered: Any) -> bool:
    """Whether a program calls a function outside XLA (a custom call: cellgraph's native LSTM and
    GRU kernels, LAPACK's QR behind an orthogonal initialisation): such a program is not kept.
    Those functions are registered with XLA when a program using them is traced; a later process
    that loads the program without tracing never registers them, and calling it crashed
    (SIGSEGV, for the native kernels and for LAPACK alike)."""
    return "custom_call" in lowered.as_text()


STORE_VERSION: Final = 1
"""Bumped when what a kept program's key covers changes."""
_UNKEYED_CONFIG: Final = ("cache", "log", "debug", "explain")
"""JAX settings that change no program (the caches' own, logging): left out of the key."""


def program_store(recipe: Mapping[str, Any]) -> Path | None:
    """Where the program made from ``recipe`` (plain JSON data saying what it is made of) is kept,
    or None when cellgraph's caches are off (``CELLGRAPH_JAX_CACHE=0``)."""
    if not cache.enabled() or jax.device_count() > 1:
        # a kept program is loaded onto every device the process sees ("expected 8 shards, got 1"
        # for a one-device program in a process simulating 8): with several devices (or hosts)
        # programs come through JAX's persistent cache only
        return None
    from ..compiler.native import cache_dir

    settings = (tuple(jax.config.values.items()), os.environ.get("XLA_FLAGS", ""))
    try:
        machine = _machine_key(settings)
    except TypeError:  # a setting that cannot be hashed: worked out afresh
        machine = _machine_key.__wrapped__(settings)
    key = {"version": STORE_VERSION, "recipe": recipe, "machine": machine}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return cache_dir() / "programs" / f"{recipe.get('program', 'program')}-{digest[:40]}.bin"


@functools.lru_cache(maxsize=8)
def _machine_key(settings: tuple[tuple[tuple[str, Any], ...], str]) -> str:
    """What every kept program's key holds besides its recipe: cellgraph's code, the libraries,
    JAX's settings (``settings``: its config values and XLA_FLAGS), the device and the CPU's
    features. Remembered per settings: worked out afresh it took 0.5 ms, three times a run."""
    from ..compiler.native import _cpu_features
    from .runkey import code_digest, library_versions

    values, xla_flags = settings
    device = jax.devices()[0]
    return json.dumps(
        {
            "code": code_digest(),
            "libraries": {**library_versions(), "ml_dtypes": _version("ml_dtypes")},
            "config": {k: repr(v) for k, v in values if not any(w in k for w in _UNKEYED_CONFIG)},
            "xla_flags": xla_flags,
            "device": [device.platform, device.device_kind, getattr(device.client, "platform_version", "")],
            "cpu": hashlib.sha256(_cpu_features().encode()).hexdigest(),
        },
        sort_keys=True,
        default=str,
    )


@functools.cache  # read once per process: a package's metadata took ~1 ms a read, three reads a run
def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _keep(compiled: Any, store: Path) -> None:
    """Write a compiled program to ``store`` (whole or not at all); a failure only loses the saving."""
    from jax.experimental import serialize_executable

    try:
        payload, in_tree, out_tree = serialize_executable.serialize(compiled)
        data = pickle.dumps((payload, in_tree, out_tree), protocol=pickle.HIGHEST_PROTOCOL)
        store.parent.mkdir(parents=True, exist_ok=True)
        partial = store.with_name(f"{store.name}.{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, store)
        _prune(store.parent)
    except Exception:  # a program that cannot be serialized, a full disk: compiled next time
        return


KEEP_AT_MOST: Final = 256
"""Programs kept in the folder; the least recently written go first (every code change makes new keys)."""


def _prune(folder: Path) -> None:
    kept = sorted(folder.glob("*.bin"), key=lambda p: p.stat().st_mtime)
    for old in kept[: max(0, len(kept) - KEEP_AT_MOST)]:
        old.unlink(missing_ok=True)


def _load(store: Path) -> Any | None:
    """The program kept at ``store``, loaded and ready to call, or None (absent, or unloadable and
    then removed: the caller compiles it again).

    The file is as trusted as JAX's own compilation cache: both live in the user's cache folder.
    """
    from jax.experimental import serialize_executable

    try:
        payload, in_tree, out_tree = pickle.loads(store.read_bytes())
        return serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
    except FileNotFoundError:
        return None
    except Exception:  # another JAX's or a damaged file: removed, the program compiled (or loaded by JAX)
        store.unlink(missing_ok=True)
        return None


def abstract(tree: Any) -> Any:
    """The shapes and dtypes of a tree of arrays (or of ``jax.eval_shape``'s output), for lowering."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
