"""A damaged native-kernel cache is rebuilt or bypassed with one warning, never a crash.

The cached library is machine code that ``cellgraph.compiler.native`` maps into the process, so
every damage here once killed the process with a signal (truncated: SIGBUS, zeroed pages: SIGSEGV,
stray bytes: SIGILL). Each case therefore runs a small LSTM in a subprocess, with the cache folder
(``CELLGRAPH_CACHE``) in a temporary folder: a crash would kill only that process, and its return
code says so (a signal gives a negative one). The subprocess must exit 0 and print the right
result, and the library must have been rebuilt (and verify) or exactly one
:class:`~cellgraph.compiler.native.NativeKernelWarning` been printed.

Rebuilds use a stand-in compiler (a shell script) that copies a library built once by the real
compiler, so each case costs a second, not a compile; one test rebuilds with the real compiler.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import IN_CI, fail_or_skip

from cellgraph.compiler import native, ops

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in compiler is a shell script")

PROBE = """
import json
import numpy as np
import jax.numpy as jnp
from cellgraph.compiler import native, recurrent

x = jnp.asarray(np.linspace(-1.0, 1.0, 2 * 5 * 3).reshape(2, 5, 3), jnp.float32)
w_in = jnp.asarray(np.cos(np.arange(3 * 16)).reshape(3, 16) * 0.5, jnp.float32)
bias = jnp.asarray(np.sin(np.arange(16)) * 0.3, jnp.float32)
w_rec = jnp.asarray(np.cos(np.arange(4 * 16) * 0.7).reshape(4, 16) * 0.4, jnp.float32)
out = recurrent.lstm_sequence(x, w_in, bias, w_rec, False)
print(json.dumps({"native": native.available(), "out": np.asarray(out).tolist()}))
"""
"""A tiny LSTM layer; the native kernel runs when the library loads, the XLA loop otherwise."""

FAKE_CXX = """#!/bin/sh
# a stand-in C++ compiler: copies $FAKE_LIBRARY to the -o file; $FAKE_FAIL makes it fail
if [ "$1" = "--version" ]; then echo "fake c++ 1.0"; exit 0; fi
echo build >> "$FAKE_LOG"
if [ -n "$FAKE_FAIL" ]; then echo "fake compiler: error: $FAKE_FAIL" >&2; exit 1; fi
while [ $# -gt 1 ]; do
  if [ "$1" = "-o" ]; then out="$2"; fi
  shift
done
if [ -n "$FAKE_SLOW" ]; then head -c 100 "$FAKE_LIBRARY" > "$out"; sleep "$FAKE_SLOW"; fi
cp "$FAKE_LIBRARY" "$out"
"""


def _reference() -> np.ndarray:
    """The probe's LSTM in float64 through the XLA scan: what every run must print."""
    with jax.enable_x64(True):
        x = jnp.asarray(np.linspace(-1.0, 1.0, 2 * 5 * 3).reshape(2, 5, 3), jnp.float32).astype(jnp.float64)
        w_in = jnp.asarray(np.cos(np.arange(3 * 16)).reshape(3, 16) * 0.5, jnp.float32).astype(jnp.float64)
        bias = jnp.asarray(np.sin(np.arange(16)) * 0.3, jnp.float32).astype(jnp.float64)
        w_rec = jnp.asarray(np.cos(np.arange(4 * 16) * 0.7).reshape(4, 16) * 0.4, jnp.float32).astype(jnp.float64)
        proj = jnp.swapaxes(x @ w_in + bias, 0, 1)
        zero = jnp.zeros((proj.shape[1], w_rec.shape[0]), proj.dtype)
        return np.asarray(jnp.swapaxes(ops.scan_steps(ops.STEPS["lstm"], proj, w_rec, jnp.tanh, (zero, zero)), 0, 1))


@pytest.fixture(scope="module")
def good_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library built by the real compiler (the user's cache, so usually no compile), copied aside."""
    if native.compiler() is None:
        fail_or_skip("no C++ compiler", "build the native kernels", IN_CI)
    try:
        built = native.build()
    except native.NativeBuildError as err:
        fail_or_skip(f"the native kernels do not build here: {err}", "build the native kernels", IN_CI)
    copy = tmp_path_factory.mktemp("good") / "library.so"
    shutil.copyfile(built, copy)
    assert native.verify(built) is None
    return copy


class Cache:
    """A cache folder, a stand-in compiler and the environment that points a subprocess at both."""

    def __init__(self, root: Path, library: Path) -> None:
        self.folder = root / "cache"
        self.log = root / "builds.log"
        self.cxx = root / "fake-c++"
        self.cxx.write_text(FAKE_CXX)
        self.cxx.chmod(0o755)
        self.env = {
            **os.environ,
            "CELLGRAPH_CACHE": str(self.folder),
            "CXX": str(self.cxx),
            "FAKE_LIBRARY": str(library),
            "FAKE_LOG": str(self.log),
            "JAX_PLATFORMS": "cpu",
        }
        self.env.pop("CELLGRAPH_NATIVE", None)
        self.env.pop("FAKE_FAIL", None)

    def builds(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0

    def populate(self, monkeypatch: pytest.MonkeyPatch) -> Path:
        """Build into the folder here, in this process (building loads nothing), and return the library."""
        for name in ("CELLGRAPH_CACHE", "CXX", "FAKE_LIBRARY", "FAKE_LOG"):
            monkeypatch.setenv(name, self.env[name])
        library = native.build()
        assert native.verify(library) is None and self.builds() == 1
        return library

    def run(self, code: str = PROBE, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-W", "always", "-c", code],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=240,
        )

    def leftovers(self) -> list[str]:
        """Temporary files a build left behind."""
        return sorted(p.name for p in self.folder.iterdir() if ".tmp-" in p.name) if self.folder.exists() else []


@pytest.fixture
def cache(tmp_path: Path, good_library: Path) -> Cache:
    return Cache(tmp_path, good_library)


def _result(done: subprocess.CompletedProcess[str]) -> dict:
    """The probe's JSON line, after checking that the process exited normally (no signal)."""
    assert done.returncode == 0, f"exit {done.returncode} (negative: killed by a signal)\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(result["out"], _reference(), rtol=1e-4, atol=1e-5)
    return result


def _warnings(done: subprocess.CompletedProcess[str]) -> int:
    return done.stderr.count("NativeKernelWarning")


# ---------------------------------------------------------------------------------- damage


def _truncate(lib: Path) -> None:
    data = lib.read_bytes()
    lib.write_bytes(data[: len(data) // 2])


def _truncate_to_nothing(lib: Path) -> None:
    lib.write_bytes(b"")


def _zero_every_page(lib: Path) -> None:
    lib.write_bytes(bytes(lib.stat().st_size))


def _zero_pages_after_the_header(lib: Path) -> None:
    data = bytearray(lib.read_bytes())
    data[4096:] = bytes(len(data) - 4096)  # the ELF header stays: only the checksum can tell
    lib.write_bytes(bytes(data))


def _append_stray_bytes(lib: Path) -> None:
    with lib.open("ab") as out:
        out.write(b"\x0f\x0b" * 64)  # ud2, the instruction behind the SIGILL


def _text_section(data: bytes) -> tuple[int, int]:
    """(offset, size) of the ELF64 little-endian file's .text section."""
    assert data[:5] == b"\x7fELF\x02", "an ELF64 library"
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = headers[shstrndx][4]
    for name, _, _, _, offset, size in headers:
        if data[names + name : names + name + 6] == b".text\0":
            return offset, size
    raise AssertionError("no .text section")


def _flip_bytes_in_text(lib: Path) -> None:
    data = bytearray(lib.read_bytes())
    if data[:4] != b"\x7fELF":
        pytest.skip("the .text of a Mach-O library is not located here")
    offset, size = _text_section(bytes(data))
    for i in range(offset, offset + size, max(1, size // 64)):
        data[i] ^= 0xFF
    lib.write_bytes(bytes(data))


def _delete_the_checksum(lib: Path) -> None:
    native.checksum_path(lib).unlink()


def _garble_the_checksum(lib: Path) -> None:
    native.checksum_path(lib).write_text("0" * 64 + f"  {lib.name}\n")


def _replace_by_a_fifo(lib: Path) -> None:
    lib.unlink()
    os.mkfifo(lib)  # opening it for reading would block: the loader must not hang


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "truncated to nothing": _truncate_to_nothing,
    "every page zeroed": _zero_every_page,
    "pages zeroed after the header": _zero_pages_after_the_header,
    "stray bytes appended": _append_stray_bytes,
    "bytes flipped in .text": _flip_bytes_in_text,
    "checksum deleted": _delete_the_checksum,
    "checksum wrong": _garble_the_checksum,
    "a fifo instead of the library": _replace_by_a_fifo,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cached_library_is_rebuilt_and_the_lstm_runs_natively(
    damage: str, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = cache.populate(monkeypatch)
    DAMAGE[damage](library)
    assert native.verify(library) is not None, "the damage is detected before anything is loaded"
    done = cache.run()
    result = _result(done)
    assert result["native"] is True and _warnings(done) == 0
    assert cache.builds() == 2, "rebuilt exactly once"
    assert native.verify(library) is None
    assert cache.leftovers() == []


def test_a_library_that_verifies_is_loaded_without_a_rebuild(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    library = cache.populate(monkeypatch)
    done = cache.run()
    assert _result(done)["native"] is True and _warnings(done) == 0
    assert cache.builds() == 1 and native.verify(library) is None


@pytest.mark.parametrize("damage", ["truncated", "bytes flipped in .text", "checksum deleted"])
def test_a_damaged_library_that_cannot_be_rebuilt_falls_back_with_one_warning(
    damage: str, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = cache.populate(monkeypatch)
    DAMAGE[damage](library)
    done = cache.run(FAKE_FAIL="broken on purpose")
    assert _result(done)["native"] is False
    assert _warnings(done) == 1
    assert "native CPU kernels are unavailable" in done.stderr and "broken on purpose" in done.stderr
    assert cache.leftovers() == []


@pytest.mark.parametrize(("cxx", "why"), [("true", "no library"), ("false", "failed (exit 1)")])
def test_a_compiler_that_writes_nothing_or_fails_gives_one_warning_and_caches_nothing(
    cxx: str, why: str, cache: Cache
) -> None:
    done = cache.run(CXX=cxx)
    assert _result(done)["native"] is False
    assert _warnings(done) == 1 and why in done.stderr
    cached = sorted(p.name for p in cache.folder.iterdir()) if cache.folder.exists() else []
    assert cached == []


def test_an_empty_compiler_output_is_an_error_not_a_cache_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CXX", "true")
    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path))
    with pytest.raises(native.NativeBuildError, match="exited 0 but its output is no library .*0 bytes"):
        native.build()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_real_compiler_rebuilds_a_truncated_library(good_library: Path, tmp_path: Path) -> None:
    cxx = native.compiler()
    assert cxx is not None
    folder = tmp_path / "cache"
    folder.mkdir()
    name = f"cellgraph_native-{native._key(cxx, native.compiler_version(tuple(cxx)))}.so"
    library = folder / name
    shutil.copyfile(good_library, library)
    native.checksum_path(library).write_text(native._checksum_line(good_library.read_bytes(), name))
    assert native.verify(library) is None  # the same key as the user's cache: this entry would be used
    _truncate(library)
    env = {**os.environ, "CELLGRAPH_CACHE": str(folder), "JAX_PLATFORMS": "cpu"}
    env.pop("CELLGRAPH_NATIVE", None)
    done = subprocess.run([sys.executable, "-W", "always", "-c", PROBE], env=env, capture_output=True, text=True)
    assert _result(done)["native"] is True and _warnings(done) == 0
    assert native.verify(library) is None and library.stat().st_size > len(good_library.read_bytes()) // 2


# ---------------------------------------------------------------------- builds and their files


def test_the_checksum_is_in_sha256sum_form_and_both_files_are_readable_by_all(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = cache.populate(monkeypatch)
    if shutil.which("sha256sum") is None:
        pytest.skip("no sha256sum")
    check = subprocess.run(["sha256sum", "-c", native.checksum_path(library).name], cwd=library.parent)
    assert check.returncode == 0
    assert library.stat().st_mode & 0o777 == 0o755
    assert native.checksum_path(library).stat().st_mode & 0o777 == 0o644


def test_concurrent_builds_of_one_kernel_compile_it_once(cache: Cache) -> None:
    code = "from cellgraph.compiler import native; lib = native.build(); print(native.verify(lib))"
    env = {**cache.env, "FAKE_SLOW": "2"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=240) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["None", "None"]  # both got a verified library
    assert cache.builds() == 1  # the second waited for the first's build under the folder lock
    assert cache.leftovers() == []


def test_a_build_killed_midway_leaves_its_temporary_file_to_the_next_build(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "from cellgraph.compiler import native; native.build()"
    env = {**cache.env, "FAKE_SLOW": "60"}
    victim = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not cache.leftovers() and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.1)
        half_written = cache.leftovers()
        assert half_written, "the build was under way"
    finally:
        os.killpg(victim.pid, signal.SIGKILL)  # the build and its compiler, as kill -9 would
        victim.wait()
    assert cache.leftovers() == half_written  # what a killed build leaves
    for name in ("CELLGRAPH_CACHE", "CXX", "FAKE_LIBRARY", "FAKE_LOG"):
        monkeypatch.setenv(name, cache.env[name])
    library = native.build()
    assert native.verify(library) is None
    assert cache.leftovers() == []


def test_stale_temporary_files_go_and_a_live_builds_stay(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host, key = native._host(), "0123456789abcdef"
    now = time.time()

    def temp(host: str, pid: int, age_s: float, suffix: str = ".so") -> Path:
        path = tmp_path / f"cellgraph_native-{key}.so.tmp-{host}-{pid}-{host}{pid}{age_s}{suffix}"
        path.write_bytes(b"half")
        os.utime(path, (now - age_s, now - age_s))
        return path

    live = temp(host, os.getpid(), 5)
    live_sum = temp(host, os.getpid(), 5, ".sha256")
    of_a_dead_build = temp(host, dead.pid, 5)
    elsewhere_recent = temp("ffffffff", dead.pid, 5)  # another machine's pid means nothing here
    elsewhere_old = temp("ffffffff", dead.pid, native._STALE_S + 60)
    own_but_old = temp(host, os.getpid(), native._STALE_S + 60)
    unrelated = tmp_path / "notes.tmp-1-2"
    unrelated.write_text("not ours")
    removed = native.remove_stale_temporaries(tmp_path, now=now)
    assert sorted(removed) == sorted([of_a_dead_build, elsewhere_old, own_but_old])
    assert all(p.exists() for p in (live, live_sum, elsewhere_recent, unrelated))


def test_the_cache_key_covers_the_source_the_compiler_its_version_and_the_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = native._key(["/usr/bin/c++"], "g++ 12.2.0")
    assert native._key(["/usr/bin/clang++"], "g++ 12.2.0") != key
    assert native._key(["/usr/bin/c++"], "g++ 13.1.0") != key  # the same command, an upgraded compiler
    monkeypatch.setattr(native, "FLAGS", (*native.FLAGS, "-DSOMETHING"))
    assert native._key(["/usr/bin/c++"], "g++ 12.2.0") != key
    monkeypatch.undo()
    edited = tmp_path / "recurrent_cpu.cc"
    edited.write_bytes(native.SOURCE.read_bytes() + b"// edited\n")
    monkeypatch.setattr(native, "SOURCE", edited)
    assert native._key(["/usr/bin/c++"], "g++ 12.2.0") != key


def test_the_compiler_version_is_read_from_the_compiler(cache: Cache) -> None:
    assert "fake c++ 1.0" in native.compiler_version((str(cache.cxx),))
    with pytest.raises(native.NativeBuildError, match="cannot run the C\\+\\+ compiler"):
        native.compiler_version((str(cache.folder / "no-such-compiler"),))
