"""JAX's persistent compilation cache, on while cellgraph trains, predicts, evaluates or exports.

A small network's command is mostly fixed costs: importing JAX, then compiling its three programs
(initialisation, step, evaluation), which takes longer than the training itself. JAX can keep
compiled programs on disk and load them the next time the same program is asked for; its key
covers the program's text, the JAX and XLA versions and the device, so a changed network, shape,
setting or library never gets a stale program. cellgraph turns that cache on in its own cache
folder (``$CELLGRAPH_CACHE``, else ``$XDG_CACHE_HOME/cellgraph`` or ``~/.cache/cellgraph``, under
``jax/``) for the duration of one call and keeps every program, however quick to compile (JAX's
default keeps only those over a second, which is none of a small network's).

A cache the user set up for JAX (``JAX_COMPILATION_CACHE_DIR``, ``jax.config``) is used as it is;
``CELLGRAPH_JAX_CACHE=0`` turns cellgraph's off. After the call JAX's settings are as they were,
so a program that calls :func:`cellgraph.train` keeps its own choice for everything else.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Final

from ..compiler.native import cache_dir

MIN_COMPILE_SECONDS: Final = 0.0
"""Programs that compile faster than this are not kept (JAX's default: 1 s)."""
OFF: Final = ("0", "false", "no", "off")


def enabled() -> bool:
    """Whether cellgraph may turn the cache on (``CELLGRAPH_JAX_CACHE`` is not 0/false/no/off)."""
    return os.environ.get("CELLGRAPH_JAX_CACHE", "1").strip().lower() not in OFF


@contextlib.contextmanager
def compilation_cache() -> Iterator[None]:
    """Compile through the persistent cache in cellgraph's cache folder while the block runs."""
    if not enabled():
        yield
        return
    import jax
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    if getattr(jax.config, "jax_compilation_cache_dir", None):  # the user's own (or an enclosing call's): as it is
        yield
        return
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    before = {name: getattr(jax.config, name) for name in names}
    jax.config.update(names[0], str(cache_dir() / "jax"))
    jax.config.update(names[1], MIN_COMPILE_SECONDS)
    try:
        yield
    finally:
        for name, value in before.items():
            jax.config.update(name, value)
        jax_cache.reset_cache()  # JAX opens its cache once per process: close ours again
