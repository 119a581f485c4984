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
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

import jax

INIT_OPTIONS: Final[Mapping[str, Any]] = {"xla_backend_optimization_level": 0}
"""XLA options of programs that run once (a run's initialisation): optimising them costs more
compile time than they ever run (mushroom MLP: 0.61 s compile at the default level, 0.36 s here)."""

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


def compile_later(lowered: Any, options: Mapping[str, Any] | None = None) -> Future[Any]:
    """``lowered.compile()`` on a worker thread (through the persistent cache when it is on)."""
    if options:
        return _pool().submit(lowered.compile, compiler_options=dict(options))
    return _pool().submit(lowered.compile)


class Program:
    """A jitted function with one ahead-of-time compiled variant.

    ``static`` are the values of its static arguments that the compiled variant was made for (they
    are not passed to a compiled executable); any other call goes to ``jitted``.
    """

    def __init__(self, jitted: Callable[..., Any], compiled: Future[Any], static: Mapping[str, Any] | None = None):
        self.jitted = jitted
        self.future = compiled
        self.static = dict(static or {})

    def __call__(self, *args: Any, **static: Any) -> Any:
        if static == self.static:
            return self.future.result()(*args)
        return self.jitted(*args, **static)


def ahead(jitted: Any, *args: Any, options: Mapping[str, Any] | None = None, **static: Any) -> Program:
    """Lower ``jitted`` for ``args`` (arrays or ``jax.ShapeDtypeStruct``) and ``static`` now,
    compile it on a worker thread, and return it as a :class:`Program`."""
    return Program(jitted, compile_later(jitted.lower(*args, **static), options), static)


def abstract(tree: Any) -> Any:
    """The shapes and dtypes of a tree of arrays (or of ``jax.eval_shape``'s output), for lowering."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
