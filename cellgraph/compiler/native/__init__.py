"""Native CPU kernels: C++ called from JAX through the XLA FFI, built on first use.

XLA:CPU runs the body of a recurrent loop as a chain of small kernels on a single thread (for a
64-cell LSTM about twenty per time step, see docs/benchmarks.md), so a recurrent layer cannot use
a second core however the loop is written. ``recurrent_cpu.cc`` holds fused LSTM and GRU layers,
forward and backward, that take blocks of batch rows through the whole sequence on every core of
XLA's own thread pool, as oneDNN's RNN primitives do for PyTorch.

The library is compiled from the source shipped in this folder with the machine's C++ compiler
(``$CXX``, else ``c++``/``g++``/``clang++``), for this CPU (``-march=native``), and cached under
``$CELLGRAPH_CACHE`` (default ``$XDG_CACHE_HOME/cellgraph`` or ``~/.cache/cellgraph``) by a key
over the source, the flags, the compiler (its command and what ``--version`` prints), jax's and
jaxlib's versions and FFI headers and the CPU's features, so an edit,
an upgrade or another machine sharing the folder gets a fresh build. Building takes a few seconds,
once. Without a compiler, or with ``CELLGRAPH_NATIVE=0``, :func:`available` is False and the
layers run as XLA loops (:mod:`cellgraph.compiler.recurrent`), with the same results to float32
rounding; a warning (:class:`NativeKernelWarning`) says why once per process.

A cached library is machine code that this process maps and runs, so it is trusted only after a
check, as a package manager checks a download (against damage: whoever can write the folder can
write both files, as they could edit the package itself): the build writes into a temporary file in the
cache folder, ``fsync``s it, writes its SHA-256 beside it (``<library>.sha256``, in ``sha256sum``
form, also through a temporary file), and renames both into place, so a reader sees a whole file
or none. Before loading, the library must be a regular file of plausible size with an ELF or
Mach-O header whose SHA-256 matches; anything else (a truncated or zeroed file, stray or flipped
bytes, a missing checksum) is rebuilt once, and if that build fails the layers fall back with the
one warning, never a crash. A compiler that exits 0 without writing a library (``CXX=true``) is
an error, never a cache entry. Builds into one folder take turns under a lock on the folder
(``flock``), and each build first removes the temporary files of builds that died (their process
gone, or older than :data:`_STALE_S`), never those of a live one.

Inside ``with disabled():`` :func:`available` is False for the code that runs there (this thread,
this context), whatever the build: a function traced there takes the XLA loops. Export uses it
(:mod:`cellgraph.compiler.export`): serialized StableHLO must not call our FFI targets, which
exist only in a process that loaded this library and carry no compatibility guarantee.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import hashlib
import os
import platform
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import jax
import jaxlib

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
_STALE_S = 2 * _TIMEOUT_S
"""A temporary file older than this belongs to no live build (a build is killed after _TIMEOUT_S)."""
_MIN_BYTES, _MAX_BYTES = 4096, 256 << 20
"""Plausible sizes of the library (about 150 KB): a truncated file or a runaway output is refused unread."""
_MAGICS = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
"""ELF, 64- and 32-bit Mach-O, universal Mach-O."""
_PREFIX = "cellgraph_native-"
_TEMP = re.compile(r"cellgraph_native-[0-9a-f]+\.so\.tmp-(?P<host>[0-9a-f]+)-(?P<pid>\d+)-.*")


class NativeBuildError(RuntimeError):
    """The native kernels could not be built or loaded (the message says why)."""


class NativeKernelWarning(RuntimeWarning):
    """The native kernels are unavailable, so LSTM and GRU layers run as XLA loops (once per process)."""


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


@functools.cache
def compiler_version(cxx: tuple[str, ...]) -> str:
    """What ``cxx --version`` prints, with its exit status: part of the cache key, so upgrading the
    compiler behind the same command gives a fresh build."""
    try:
        done = subprocess.run([*cxx, "--version"], capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise NativeBuildError(f"cannot run the C++ compiler {' '.join(cxx)}: {err}") from err
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def _key(cxx: list[str], version: str) -> str:
    """The cache entry's name: a hash of everything that decides the library's bytes."""
    parts = [SOURCE.read_bytes(), " ".join(FLAGS).encode(), "\0".join(cxx).encode(), version.encode()]
    parts += [jax.ffi.include_dir().encode(), jax.__version__.encode(), jaxlib.__version__.encode()]
    parts += [_cpu_features().encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def checksum_path(library: Path) -> Path:
    """Where the SHA-256 of ``library`` is kept: beside it, ``<name>.sha256``."""
    return library.with_name(library.name + ".sha256")


def _checksum_line(data: bytes, name: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()}  {name}\n"  # the sha256sum format: `sha256sum -c` checks it


def _implausible(data: bytes) -> str | None:
    """Why ``data`` cannot be a shared library (too small or large, no ELF/Mach-O header), or None."""
    if not _MIN_BYTES <= len(data) <= _MAX_BYTES:
        return f"{len(data)} bytes, not a plausible size for the library"
    if not data.startswith(_MAGICS):
        return "no ELF or Mach-O header"
    return None


def _open_regular(path: Path) -> int:
    """A read-only descriptor of ``path``, which must be a regular file: a FIFO or device put in the
    cache would hang or flood the read (O_NONBLOCK makes opening a FIFO return at once)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NativeBuildError(f"{path} is not a regular file")
    return fd


def _read_capped(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size <= limit and (chunk := os.read(fd, 1 << 20)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _problem(library: Path, fd: int) -> str | None:
    """Why the library open on ``fd`` is not the one that was built, or None when it is."""
    size = os.fstat(fd).st_size
    if not _MIN_BYTES <= size <= _MAX_BYTES:
        return f"{size} bytes, not a plausible size for the library"
    data = _read_capped(fd, _MAX_BYTES)
    if reason := _implausible(data):
        return reason
    try:
        sum_fd = _open_regular(checksum_path(library))
        try:
            recorded = _read_capped(sum_fd, 4096).decode("ascii")
        finally:
            os.close(sum_fd)
    except (OSError, NativeBuildError, UnicodeDecodeError) as err:
        return f"its checksum file cannot be read ({err})"
    if recorded != _checksum_line(data, library.name):
        return "its SHA-256 differs from the one written when it was built"
    return None


def verify(library: Path) -> str | None:
    """Why ``library`` must not be loaded (missing, damaged, not the built file), or None when it may."""
    try:
        fd = _open_regular(library)
    except FileNotFoundError:
        return "not built yet"
    except (OSError, NativeBuildError) as err:
        return str(err)
    try:
        return _problem(library, fd)
    except OSError as err:
        return f"cannot be read ({err})"
    finally:
        os.close(fd)


def _host() -> str:
    """A short tag of this machine: a temporary file's process id means something only on its host."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user's
        return True
    return True


def remove_stale_temporaries(folder: Path, now: float | None = None) -> list[Path]:
    """Remove the temporary files that dead builds left in ``folder`` (killed before their rename):
    those of this host whose process is gone, and any older than :data:`_STALE_S`. A live build's
    files are kept. Returns the removed paths."""
    now = time.time() if now is None else now
    host, removed = _host(), []
    for path in folder.glob(f"{_PREFIX}*.so.tmp-*"):
        match = _TEMP.fullmatch(path.name)
        try:
            old = now - path.lstat().st_mtime > _STALE_S
            dead = match is not None and match["host"] == host and not _alive(int(match["pid"]))
            if old or dead:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Builds into one folder take turns (``flock`` on the folder; released if the holder dies).
    Without ``fcntl``, or on a file system that refuses the lock, the atomic renames still keep
    readers safe; two builds then only do the same work twice."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _fsync(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _compile(cxx: list[str], target: Path) -> None:
    """Compile into a temporary file beside ``target``, check and ``fsync`` it, write its checksum the
    same way, then rename both into place. Nothing is left behind on failure."""
    folder, name = target.parent, " ".join(cxx)
    prefix = f"{target.name}.tmp-{_host()}-{os.getpid()}-"
    temps: list[str] = []
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".so", dir=folder)
        os.close(fd)
        temps.append(tmp)
        command = [*cxx, *FLAGS, "-isystem", jax.ffi.include_dir(), str(SOURCE), "-o", tmp]
        done = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=_TIMEOUT_S)
        if done.returncode != 0:
            raise NativeBuildError(f"{name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        fd = _open_regular(Path(tmp))
        try:
            data = _read_capped(fd, _MAX_BYTES)
        finally:
            os.close(fd)
        if reason := _implausible(data):
            raise NativeBuildError(f"{name} exited 0 but its output is no library ({reason}); nothing was cached")
        os.chmod(tmp, 0o755)  # as a linker leaves a library, whatever the temporary file's mode was
        _fsync(tmp)
        fd, tmp_sum = tempfile.mkstemp(prefix=prefix, suffix=".sha256", dir=folder)
        temps.append(tmp_sum)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(_checksum_line(data, target.name))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_sum, 0o644)  # mkstemp's 0600 would hide it from other users of a shared cache
        os.replace(tmp, target)
        os.replace(tmp_sum, checksum_path(target))
        with contextlib.suppress(OSError):  # not every file system syncs a folder
            _fsync(folder)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise NativeBuildError(f"building with {name} in {folder}: {err}") from err
    finally:
        for path in temps:
            with contextlib.suppress(OSError):
                os.unlink(path)  # renamed already, or a failed build's


def build(*, force: bool = False) -> Path:
    """The shared library for this machine: the cached build when it verifies, else compiled now
    (with ``force``, compiled now in any case)."""
    cxx = compiler()
    if cxx is None:
        raise NativeBuildError("no C++ compiler found (set CXX, or install g++ or clang++)")
    folder = cache_dir()
    target = folder / f"{_PREFIX}{_key(cxx, compiler_version(tuple(cxx)))}.so"
    if not force and verify(target) is None:
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NativeBuildError(f"cannot create the cache folder {folder}: {err}") from err
    with _folder_lock(folder):
        if not force and verify(target) is None:
            return target  # another process built it while this one waited for the lock
        remove_stale_temporaries(folder)
        _compile(cxx, target)
    return target


def load(library: Path) -> ctypes.CDLL:
    """Load ``library`` after verifying it. On Linux the verified descriptor itself is loaded
    (``/proc/self/fd``), so the bytes checked are the bytes mapped even if the path is replaced
    meanwhile."""
    fd = _open_regular(library)
    try:
        if reason := _problem(library, fd):
            raise NativeBuildError(f"{library}: {reason}")
        by_fd = f"/proc/self/fd/{fd}"
        return ctypes.CDLL(by_fd if os.path.exists(by_fd) else str(library))
    finally:
        os.close(fd)


def _load_built() -> ctypes.CDLL:
    """The verified library, rebuilt once when the cached one cannot be loaded."""
    library = build()
    try:
        return load(library)
    except (NativeBuildError, OSError) as err:  # changed since build() checked it, or refused by the loader
        first = err
    library = build(force=True)
    try:
        return load(library)
    except (NativeBuildError, OSError) as err:
        raise NativeBuildError(f"{err} (and before the rebuild: {first})") from err


_OFF: contextvars.ContextVar[bool] = contextvars.ContextVar("cellgraph_native_off", default=False)
"""Set by :func:`disabled`: the native kernels are off for the code running in this context."""


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """While active, :func:`available` is False in this thread, so a function traced here runs its
    LSTM and GRU layers as XLA loops (pure StableHLO, no custom calls). Nests; nothing is unloaded.

    >>> with native.disabled():  # doctest: +SKIP
    ...     exported = jax.export.export(jax.jit(fn))(x)
    """
    token = _OFF.set(True)
    try:
        yield
    finally:
        _OFF.reset(token)


class _Availability:
    """:func:`available`: the decision to load (made once per process) unless :func:`disabled` is active.

    ``available.cache_clear()`` forgets the once-per-process decision (tests change the environment).
    """

    def __call__(self) -> bool:
        """Whether the native kernels are built, loaded and registered with XLA for the CPU, and not
        turned off here by :func:`disabled`."""
        return not _OFF.get() and _registered()

    def cache_clear(self) -> None:
        _registered.cache_clear()


@functools.cache
def _registered() -> bool:
    """Whether the native kernels are built, loaded and registered with XLA for the CPU (once per process)."""
    if os.environ.get("CELLGRAPH_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        library = _load_built()
        for name, symbol in TARGETS.items():
            jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(library, symbol)), platform="cpu")
    except (NativeBuildError, OSError, AttributeError) as err:
        warnings.warn(
            f"cellgraph: the native CPU kernels are unavailable ({err}); LSTM and GRU layers run as XLA loops, "
            "correct but slower on the CPU (set CELLGRAPH_NATIVE=0 to silence this)",
            NativeKernelWarning,
            stacklevel=3,  # the caller of available()
        )
        return False
    return True


available = _Availability()
"""Call it: whether the fused native layers may be used now (see :class:`_Availability`)."""
