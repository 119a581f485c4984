"""Which files a spec may read, and reading them without hanging or exhausting memory.

A spec is data a user may have received from anyone, and ``use:`` and a CSV ``data:`` path make
it name other files. Two rules keep that from becoming a way in:

* **Only regular files, size-capped before reading.** The path is ``stat``-ed before it is opened
  (so a device is never opened at all), opened with ``O_NONBLOCK`` (a FIFO or ``/dev/stdin``
  cannot block), checked again with ``fstat`` on the open descriptor (the file cannot be swapped
  in between), and read to at most ``max_bytes + 1`` bytes (a growing file cannot exhaust
  memory).
* **Confinement.** A path a spec names must resolve, after symlinks, inside the spec's *project*
  or inside a folder the user allowed explicitly (``--allow DIR``, or ``CELLGRAPH_PATH``, an
  ``os.pathsep``-separated list, as ``PYTHONPATH`` is). The project is the nearest folder at or
  above the root spec's folder that holds ``.git`` or ``pyproject.toml`` (the rule Bazel's
  workspace, Go's module root and pytest's rootdir use), so ``specs/zoo/gan.yaml`` may use
  ``../parts/`` in this repository from any working directory, while a spec downloaded to a
  folder without a project marker reads only its own folder tree. The home directory and the
  filesystem root never count as a project (a dotfiles repository in ``~`` would otherwise open
  ``~/.ssh``). The working directory plays no part, so a spec means the same wherever it is run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from .errors import LimitError, Problem, SourceLoc, spec_error

ENV_VAR: Final = "CELLGRAPH_PATH"
PROJECT_MARKERS: Final = (".git", "pyproject.toml")
_CHUNK: Final = 1 << 16


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def read_limited(path: Path, max_bytes: int, shown: str, what: str = "spec") -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, or a located :class:`SpecError`.

    Never opens a device, never blocks, never reads more than ``max_bytes + 1`` bytes, and never
    puts any of the file's content into an error.
    """
    loc = SourceLoc(shown)
    try:
        kind = _kind(os.stat(path).st_mode)
        if kind is not None:
            raise spec_error(loc, "", f"is {kind}, not a {what} file", f"pass a regular {what} file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise spec_error(loc, "", "file not found", "check the path") from None
    except NotADirectoryError:
        raise spec_error(loc, "", "file not found (a folder on the path is a file)", "check the path") from None
    except ValueError:  # an embedded NUL
        raise spec_error(loc, "", "the path holds a NUL character", "check the path") from None
    except OSError as err:
        raise spec_error(loc, "", f"cannot read file: {err.strerror}") from None
    try:
        info = os.fstat(fd)  # the file actually opened, not whatever the path names now
        kind = _kind(info.st_mode)
        if kind is not None:
            raise spec_error(loc, "", f"is {kind}, not a {what} file", f"pass a regular {what} file")
        chunks: list[bytes] = []
        size = 0 if info.st_size <= max_bytes else info.st_size  # too big already: read nothing
        while size <= max_bytes:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise spec_error(loc, "", f"cannot read file: {err.strerror}") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise LimitError(
            [
                Problem(
                    loc,
                    "",
                    f"file is {'at least ' if size == max_bytes + 1 else ''}{size:,} bytes, "
                    f"over the limit of {max_bytes:,}",
                    "a spec is a short description; use `repeat:` and `params:` instead of listing cells"
                    if what == "spec"
                    else f"use a smaller {what} file",
                )
            ]
        )
    return b"".join(chunks)


def project_root(folder: Path) -> Path:
    """The nearest folder at or above ``folder`` holding a project marker, else ``folder``."""
    folder = folder.resolve()
    never = {Path(folder.anchor)}
    try:
        never.add(Path.home().resolve())
    except (RuntimeError, KeyError, OSError):  # no home directory known
        pass
    for candidate in (folder, *folder.parents):
        if candidate in never:
            break
        if any(_exists(candidate / marker) for marker in PROJECT_MARKERS):
            return candidate
    return folder


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a folder we may not look into holds no marker for us
        return False


def search_path(allowed: Iterable[str | Path] = ()) -> tuple[Path, ...]:
    """Folders allowed explicitly: ``allowed`` (``--allow``) then ``CELLGRAPH_PATH``'s entries."""
    entries = [*allowed, *os.environ.get(ENV_VAR, "").split(os.pathsep)]
    out: list[Path] = []
    for entry in entries:
        text = str(entry)
        if not text or "\x00" in text:
            continue
        path = Path(text).expanduser().resolve()
        if path not in out:
            out.append(path)
    return tuple(out)


def allowed_roots(spec_folder: Path, allowed: Iterable[str | Path] = ()) -> tuple[Path, ...]:
    """Every folder tree a spec in ``spec_folder`` (and its parts) may read files from."""
    roots = [project_root(spec_folder)]
    roots += [p for p in search_path(allowed) if p not in roots]
    return tuple(roots)


def confined(target: Path, roots: Iterable[Path]) -> Path | None:
    """``target`` resolved (symlinks followed), if it lies inside one of ``roots``; else None."""
    try:
        resolved = target.resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL, a symlink loop
        return None
    return resolved if any(resolved.is_relative_to(root) for root in roots) else None


def outside_message(written: str, roots: Iterable[Path]) -> tuple[str, str]:
    """(message, fix) for a path outside every allowed folder."""
    shown = ", ".join(str(r) for r in roots)
    return (
        f"'{written}' is outside the folders a spec may read ({shown})",
        f"move the file into the spec's project, or allow its folder: `--allow DIR` or {ENV_VAR}=DIR",
    )


def has_control_char(written: str) -> bool:
    """True when a path a spec wrote holds a C0 control character (a NUL, a newline, ...) or DEL."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in written)


def data_file_refusal(folder: Path, written: str, allowed: Iterable[str | Path] = ()) -> tuple[str, str] | None:
    """(message, fix) when a data file a spec in ``folder`` names may not be read; else None.

    The rule ``use:`` follows, for a CSV ``data:`` path: plain text, inside the spec's project or
    an allowed folder, and a regular file. The message names the path, never the file's content.
    """
    if has_control_char(written):
        return "path holds a control character (a NUL, a newline, ...)", "e.g. `csv: data.csv`"
    roots = allowed_roots(folder, allowed)
    path = folder / written  # an absolute path stays absolute
    if confined(path, roots) is None:
        return outside_message(written, roots)
    if not path.is_file():  # also a FIFO, a device or a folder
        return (
            f"'{written}' not found or not a regular file (looked at {path})",
            "give a path relative to the spec file",
        )
    return None


# ------------------------------------------------------------------- writing: probes and temp files
# Standard library only, like the rest of this module, so the command line can check a run folder
# before JAX loads (train/checkpoint.py writes its files through the same three functions).


def probe_folder(folder: Path) -> None:
    """Create ``folder`` and write, flush and remove a probe file there.

    Raises:
        OSError: the folder cannot be created or written (the probe is removed all the same).
    """
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".probe.{os.getpid()}.tmp"
    try:
        write_synced(probe, b"cellgraph")
    finally:
        remove_quietly(probe)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and make it durable (flush and fsync) before returning."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened or synced."""
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


def replace_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, make it durable and rename it into place:
    a reader sees the old file or the new one, never a part. The temporary file never stays."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_synced(tmp, data)
        os.replace(tmp, path)
    finally:
        remove_quietly(tmp)


def remove_quietly(path: Path) -> None:
    """Remove ``path`` if it is there; a failure to remove is not the error worth reporting."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
