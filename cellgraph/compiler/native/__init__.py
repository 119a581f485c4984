"""Native CPU kernels: C++ called from JAX through the XLA FFI, built on first use.

XLA:CPU runs the body of a recurrent loop as a chain of small kernels on a single thread (for a
64-cell LSTM about twenty per time step, see docs/benchmarks.md), so a recurrent layer cannot use
a second core however the loop is written. ``recurrent_cpu.cc`` holds fused LSTM and GRU layers,
forward and backward, that take blocks of batch rows through the whole sequence on every core of
XLA's own thread pool, as oneDNN's RNN primitives do for PyTorch.

The library is compiled from the source shipped in this folder with the machine's C++ compiler
(``$CXX``, else ``c++``/``g++``/``clang++``), for this CPU (``-march=native``), and cached under
``$CELLGRAPH_CACHE`` (default ``$XDG_CACHE_HOME/cellgraph`` or ``~/.cache/cellgraph``) by a key
over the source, the flags, the compiler, jaxlib's FFI version and the CPU's features, so an edit,
an upgrade or another machine sharing the folder gets a fresh build. Building takes a few seconds,
once. Without a compiler, or with ``CELLGRAPH_NATIVE=0``, :func:`available` is False and the
layers run as XLA loops (:mod:`cellgraph.compiler.recurrent`), with the same results to float32
rounding; a warning says why once per process.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import jax

SOURCE = Path(__file__).with_name("recurrent_cpu.cc")
TARGETS = {
    "cellgraph_lstm_forward": "CellgraphLstmForward",
    "cellgraph_lstm_backward": "CellgraphLstmBackward",
    "cellgraph_gru_forward": "CellgraphGruForward",
    "cellgraph_gru_backward": "CellgraphGruBackward",
}
"""FFI target name -> the C++ handler symbol that implements it."""
FLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-std=gnu++17", "-shared", "-fPIC", "-w")
_TIMEOUT_S = 300


class NativeBuildError(RuntimeError):
    """The native kernels could not be built or loaded (the message says why)."""


def compiler() -> list[str] | None:
    """The C++ compiler command: ``$CXX`` (words, e.g. ``ccache g++``), else the first of c++, g++,
    clang++ on PATH."""
    if os.environ.get("CXX", "").strip():
        return shlex.split(os.environ["CXX"])
    return next(([path] for name in ("c++", "g++", "clang++") if (path := shutil.which(name))), None)


def cache_dir() -> Path:
    """Where built libraries are kept: $CELLGRAPH_CACHE, $XDG_CACHE_HOME/cellgraph or ~/.cache/cellgraph."""
    if os.environ.get("CELLGRAPH_CACHE"):
        return Path(os.environ["CELLGRAPH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cellgraph"


def _cpu_features() -> str:
    """What -march=native compiles for: the CPU's feature flags (Linux), else the machine name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.machine() + platform.processor()


def _key(cxx: list[str]) -> str:
    parts = [SOURCE.read_bytes(), " ".join(FLAGS).encode(), " ".join(cxx).encode(), jax.ffi.include_dir().encode()]
    parts += [jax.__version__.encode(), _cpu_features().encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def build() -> Path:
    """The shared library for this machine, compiled now unless a cached build exists."""
    cxx = compiler()
    if cxx is None:
        raise NativeBuildError("no C++ compiler found (set CXX, or install g++ or clang++)")
    target = cache_dir() / f"cellgraph_native-{_key(cxx)}.so"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NativeBuildError(f"cannot create the cache folder {target.parent}: {err}") from err
    # build beside the target and rename: another process building at the same time never sees half a file
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    command = [*cxx, *FLAGS, "-isystem", jax.ffi.include_dir(), str(SOURCE), "-o", tmp]
    name = " ".join(cxx)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S)
        if done.returncode != 0:
            raise NativeBuildError(f"{name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        os.replace(tmp, target)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise NativeBuildError(f"running {name}: {err}") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


@functools.cache
def available() -> bool:
    """Whether the native kernels are built, loaded and registered with XLA for the CPU (once per process)."""
    if os.environ.get("CELLGRAPH_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        library = ctypes.CDLL(str(build()))
        for name, symbol in TARGETS.items():
            jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(library, symbol)), platform="cpu")
    except (NativeBuildError, OSError, AttributeError) as err:
        warnings.warn(
            f"cellgraph: the native CPU kernels are unavailable ({err}); LSTM and GRU layers run as XLA loops, "
            "correct but slower on the CPU (set CELLGRAPH_NATIVE=0 to silence this)",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True
