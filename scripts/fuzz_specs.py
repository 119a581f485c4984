"""A mutation fuzzer for spec files: damaged and hostile specs must get a cellgraph error, fast.

Every spec the project ships (the zoo, the examples, their parts, the docs' examples and the
tests' good and bad specs) is a seed. Each case mutates one of them, at the byte level (flips,
splices, YAML-significant tokens, invalid UTF-8) and at the YAML-tree level (values swapped or
retyped, keys renamed to near misses, cell types, sizes, edges, ``use:`` paths, ``${…}``
references, aliases), then runs what ``cellgraph validate`` and ``cellgraph summary`` run: load,
validate, build the graph, format the error, draw both views' DOT text.

Each outcome is one of:

* ok — a valid graph (and its DOT text);
* a cellgraph error (``CellgraphError``): what a damaged spec should get; counted by kind;
* a FINDING: any other exception; unsafe text (raw control characters in what the CLI prints
  or in the DOT text, or the content of a file outside the spec tree echoed); a case over
  ``--slow-seconds`` (1 s; confirmed by a rerun, so a busy machine does not cry wolf); a hang
  (no answer within ``--timeout`` s: the worker is killed, its stack dumped first); or a worker
  that died (a signal, an abort).

Cases run in worker processes (``--jobs``) with an address-space cap (``--memory-mb``), so a
spec that reads ``/dev/zero`` ends in a ``MemoryError`` finding rather than in the machine's OOM
killer. Case ``i`` of seed ``s`` is a pure function of ``(s, i)`` and the corpus: a finding is
reproduced by ``--cases 1 --first i``, whatever ``--jobs`` was.

    .venv/bin/python scripts/fuzz_specs.py --cases 2000 --seed 0           # the CI budget
    .venv/bin/python scripts/fuzz_specs.py --cases 100000 --seed 0 --out tmp/fuzz   # long mode

Exit status: 0 without findings, 1 with any, 2 for a usage error. ``--out DIR`` writes
``results.json`` and, per finding class, the inputs, the traceback and a minimised input.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import faulthandler
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parent.parent
CORPUS_DIRS: Final = (
    "specs/zoo",
    "specs/examples",
    "specs/parts",
    "docs/examples",
    "docs/examples/parts",
    "tests/good_specs",
    "tests/bad_specs",
)
PART_DIRS: Final = ("specs/parts", "docs/examples/parts")
MAX_CASE_BYTES: Final = 1_200_000  # a little over the 1 MB file limit, so the limit itself is hit
SECRET: Final = "FUZZ-SECRET-3c1d"  # the content of a file outside the spec tree; must never be echoed

# --- mutation vocabulary --------------------------------------------------------------------

# fmt: off
TOKENS: Final = (
    b"${", b"}", b"${x}", b"*a", b"&a ", b"<<: *a", b"<<: *a\n", b"&a\n",
    b"!!python/object/apply:os.system ['true']", b"!!python/name:os.system",
    b"!!map", b"!!seq", b"!!str", b"!!int", b"!!float", b"!!bool", b"!!binary", b"!!set", b"!!omap",
    b"!!timestamp", b"!local",
    b"\x00", b"\r", b"\r\n", b"\x1b[31m", b"\x1b]0;title\x07", b"\x7f", b"\xc2\x85",
    b"9" * 400, b"9" * 5000, b"-1", b"0", b"1e400", b"-1e400", b".nan", b".inf",
    b"0x7fffffffffffffff", b"0o777", b"1_000_000", b"2001-12-14",
    b"[", b"]", b"{", b"{}", b"[]", b":", b": ", b"- ", b"? ", b"|", b">-", b"---\n", b"...\n",
    b"%YAML 1.1\n", b"%TAG !e! tag:example.com,2000:\n", b"#", b"'", b'"', b"\\", b"~",
    b"null", b"yes", b"no", b"=", b"->", b"<->", b"=>", b".", b"[0]", b"\t", b"    ",
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",  # BOMs, invalid UTF-8
    "\u2028".encode(), "\u202e".encode(), "\ufeff".encode(), "é".encode(), "🙂".encode(),
)
REPEATED: Final = (b"${", b"[", b"{", b"- ", b"  ", b"a", b"${a}", b"*a ", b"\n", b"x -> ")
STRINGS: Final = (
    "", " ", "\n", "x\n", "a\x00b", "\x1b[31mred\x1b[0m", "\x1b]8;;http://x\x07link\x1b]8;;\x07",
    "title\r# injected heading\r![x](http://example.com/x.png)", "\x07\x08\x0b\x0c",
    "${", "}", "${x}", "${missing}", "${" * 3000, "${1/0}", "${2 ** 100000}", "${10 ** 10 ** 10}",
    "${width * 1000000000}", "${__import__('os').system('true')}", "${().__class__.__mro__}",
    "${'a' * 10**9}", "a -> b", "a <-> b", "a -> a", "x[0]", "gen.sample", "../x", "🙂", "\u202e",
    "<script>alert(1)</script>", "&amp;\"'<>", '"', "\\", "{", "x" * 20_000, "-1", "1e400", "nan",
    ".inf", "None", "True", "tanh", "relu", "linear", "softmax", "adam", "sgd", "backprop", "fast",
)
INTS: Final = (0, -1, 1, 2, 3, 7, 64, 2**31, 2**53 + 1, 2**63, 10**12, 10**308, 10**309, 10**400, -(10**400))
FLOATS: Final = (0.0, -0.0, 0.5, 1e-300, 5e-324, 1e308, float("inf"), float("-inf"), float("nan"))
SIZE_KEYS: Final = frozenset(
    "size shape show steps repeat residual width code epochs batch_size n dims side delay "
    "d_steps seed max_cells kernel stride channels units test".split()
)
USE_PATHS: Final = (
    "/dev/zero", "/dev/urandom", "/dev/stdin", "/dev/null", "/etc/passwd", "/etc/hostname",
    "../../x.yaml", "../../outside/secret.txt", "../../../../../../../../etc/passwd",
    "fifo", "./fifo", "dir", "parts", "parts/fuzz_part.yaml", "parts/encoder.yaml",
    "../parts/gan_generator.yaml", "case.yaml", "./case.yaml", "data.csv", "", ".", "..",
    "parts/encoder.yaml\x00.txt", "nonexistent.yaml", "x" * 5000 + ".yaml",
    "http://example.com/x.yaml", "C:\\parts\\x.yaml", "~/x.yaml",
)
EDGE_KEYS: Final = ("kind", "delay", "weight", "merge", "trainable", "density", "scale", "init", "from", "to")
OPTIMIZER_VALUES: Final = (
    "fast", "1e-3", -0.1, 0, 1, 3, 0.9, 0.999, 1.0, 2**31, 10**11, 10**20, 1e39, 3.5e38, 1e-45, True, False,
    [], {}, None, "adam", "sgd",
)
CSV_PATHS: Final = ("data.csv", "/dev/zero", "fifo", "/etc/passwd", "../../outside/secret.txt", "dir", "", "a\x00b")
# fmt: on


# --- corpus and cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """Seed specs: ``(relative path, bytes)``, in a fixed order, and the values seen per key."""

    files: tuple[tuple[str, bytes], ...]
    docs: tuple[Any, ...]  # the parsed YAML of each file, or None
    values: dict[str, tuple[Any, ...]]  # key name -> values it has somewhere in the corpus
    keys: tuple[str, ...]
    cell_types: tuple[str, ...]


def load_corpus(root: Path = ROOT) -> Corpus:
    """Read every seed spec once; parse what parses (the tree mutators need a tree)."""
    files = []
    for folder in CORPUS_DIRS:
        for path in sorted((root / folder).glob("*.yaml")):
            files.append((path.relative_to(root).as_posix(), path.read_bytes()))
    docs = tuple(_parse(data) for _, data in files)
    values: dict[str, list[Any]] = {}
    for doc in docs:
        for key, value in _key_values(doc):
            bucket = values.setdefault(key, [])
            if len(bucket) < 64 and value not in bucket:
                bucket.append(value)
    from cellgraph.cells import CELLS  # the registry is the list of real cell types

    return Corpus(
        files=tuple(files),
        docs=docs,
        values={k: tuple(v) for k, v in values.items()},
        keys=tuple(sorted(values)),
        cell_types=tuple(sorted(CELLS)),
    )


def _parse(data: bytes) -> Any:
    try:
        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception:  # a bad spec or a non-YAML file: byte mutations only
        return None


def _key_values(doc: Any) -> Iterator[tuple[str, Any]]:
    """(key, value) pairs of a tree, each container once: alias bombs and cycles stay cheap."""
    seen: set[int] = set()
    stack = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or depth > 30:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and _small(v):
                    yield k, v
                stack.append((v, depth + 1))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _small(value: Any, budget: int = 40) -> bool:
    """A plain value of at most ``budget`` nodes (a safe seed value to copy around)."""
    stack = [value]
    while stack:
        budget -= 1
        if budget < 0:
            return False
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
            stack.extend(v.keys())
        elif isinstance(v, list):
            stack.extend(v)
        elif not isinstance(v, str | int | float | bool | type(None)) or (isinstance(v, str) and len(v) > 200):
            return False
    return True


@dataclass(frozen=True)
class Case:
    """One fuzz input: the spec, an optional part file beside it, ``-p`` overrides, how it was made."""

    index: int
    base: str
    spec: bytes
    part: bytes | None
    ops: tuple[str, ...]
    params: tuple[str, ...] = ()  # `-p name=value` items


def make_case(corpus: Corpus, seed: int, index: int) -> Case:
    """Case ``index`` of ``seed``: a pure function of its arguments and the corpus."""
    rng = random.Random(f"cellgraph-fuzz:{seed}:{index}")
    bad = [i for i, (n, _) in enumerate(corpus.files) if n.startswith("tests/bad_specs/")]
    good = [i for i in range(len(corpus.files)) if i not in set(bad)]
    base = rng.choice(bad if bad and (rng.random() < 0.3 or not good) else good)  # valid seeds go deeper
    name, data = corpus.files[base]
    ops: list[str] = []
    level = rng.random()
    doc = corpus.docs[base]
    if level < 0.55 and doc is not None:
        data = mutate_tree(rng, corpus, copy.deepcopy(doc), ops) or data
        if rng.random() < 0.25:
            data = mutate_bytes(rng, corpus, data, ops, rng.randint(1, 2))
    else:
        data = mutate_bytes(rng, corpus, data, ops, rng.choice((1, 1, 2, 3, 5, 8)))
    part = None
    if b"fuzz_part" in data:  # a `use:` of the case's own part: mutate a part to sit there
        part_index = rng.choice([i for i, (n, _) in enumerate(corpus.files) if "/parts/" in n])
        part_doc = corpus.docs[part_index]
        part_ops: list[str] = []
        if part_doc is not None and rng.random() < 0.7:
            part = mutate_tree(rng, corpus, copy.deepcopy(part_doc), part_ops)
        if part is None:
            part = mutate_bytes(rng, corpus, corpus.files[part_index][1], part_ops, rng.randint(1, 3))
        ops.extend("part:" + op for op in part_ops)
    params = _overrides(rng, corpus) if rng.random() < 0.12 else ()
    return Case(index, name, bytes(data[:MAX_CASE_BYTES]), part, tuple(ops), params)


def _overrides(rng: random.Random, corpus: Corpus) -> tuple[str, ...]:
    """``-p name=value`` items: the corpus's param names (and others) with hostile values."""
    blocks = corpus.values.get("params", ())
    names = sorted({str(name) for block in blocks if isinstance(block, dict) for name in block})
    names += ["width", "code", "nope", "", "a b", "${width}", "x\x1b[1m"]
    values = (
        "0", "-1", "1e400", "9" * 400, "${width}", "${" * 2000, "[1, 2]", "[", "abc", "", "null", "true",
        ".nan", "\x1b[31m", "64", "3", "${2 ** 100000}", "x" * 5000,
    )  # fmt: skip
    return tuple(f"{rng.choice(names)}={rng.choice(values)}" for _ in range(rng.randint(1, 3)))


# --- byte mutators ----------------------------------------------------------------------------


def mutate_bytes(rng: random.Random, corpus: Corpus, data: bytes, ops: list[str], count: int) -> bytes:
    """Apply ``count`` random byte-level mutations (the AFL "havoc" stage, YAML-flavoured)."""
    buf = bytearray(data)
    for _ in range(count):
        name, op = rng.choice(BYTE_OPS)
        op(rng, corpus, buf)
        ops.append(name)
        if len(buf) > MAX_CASE_BYTES:
            del buf[MAX_CASE_BYTES:]
    return bytes(buf)


def _pos(rng: random.Random, buf: bytearray) -> int:
    """A position, biased towards the start of a line or the place after ``: `` (where values go)."""
    if not buf:
        return 0
    roll = rng.random()
    if roll < 0.3:
        starts = [m.end() for m in re.finditer(rb"\n", buf)]
        return rng.choice(starts) if starts else 0
    if roll < 0.6:
        after = [m.end() for m in re.finditer(rb": ", buf)]
        return rng.choice(after) if after else 0
    return rng.randrange(len(buf) + 1)


def _flip(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    if buf:
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)


def _set_byte(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    if buf:
        buf[rng.randrange(len(buf))] = rng.choice((0, 9, 10, 13, 27, 32, 34, 35, 38, 39, 42, 45, 58, 91, 123, 127, 255))


def _insert_byte(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    i = _pos(rng, buf)
    buf[i:i] = bytes([rng.randrange(256)])


def _delete(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    if buf:
        i = rng.randrange(len(buf))
        del buf[i : i + rng.choice((1, 1, 2, 4, 16, 64, 512))]


def _duplicate(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    if buf:
        i = rng.randrange(len(buf))
        chunk = buf[i : i + rng.choice((1, 4, 16, 64, 256))]
        j = _pos(rng, buf)
        buf[j:j] = chunk * rng.choice((1, 1, 2, 8))


def _duplicate_line(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    lines = bytes(buf).split(b"\n")
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    buf[:] = b"\n".join(lines)


def _swap_lines(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    lines = bytes(buf).split(b"\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    buf[:] = b"\n".join(lines)


def _splice(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    other = rng.choice(corpus.files)[1]
    if rng.random() < 0.5:  # at line boundaries: a plausible document
        mine, theirs = bytes(buf).split(b"\n"), other.split(b"\n")
        a, b = rng.randrange(len(mine) + 1), rng.randrange(len(theirs) + 1)
        buf[:] = b"\n".join(mine[:a] + theirs[b:])
    else:
        a, b = rng.randrange(len(buf) + 1), rng.randrange(len(other) + 1)
        buf[:] = bytes(buf[:a]) + other[b:]


def _line_from_other(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    mine = bytes(buf).split(b"\n")
    theirs = rng.choice(corpus.files)[1].split(b"\n")
    mine[rng.randrange(len(mine))] = rng.choice(theirs)
    buf[:] = b"\n".join(mine)


def _token(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    i = _pos(rng, buf)
    buf[i:i] = rng.choice(TOKENS)


def _replace_token(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    """Replace a word, number or punctuation run with an interesting token."""
    spans = [m.span() for m in re.finditer(rb"[A-Za-z0-9_.$-]+|[^\sA-Za-z0-9_.$-]+", buf)]
    if spans:
        a, b = rng.choice(spans)
        buf[a:b] = rng.choice(TOKENS)


def _repeat(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    i = _pos(rng, buf)
    buf[i:i] = rng.choice(REPEATED) * rng.choice((10, 100, 1_000, 10_000, 60_000))


def _truncate(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    del buf[rng.randrange(len(buf) + 1) :]


def _line_endings(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    buf[:] = bytes(buf).replace(b"\n", rng.choice((b"\r\n", b"\r", b"\n\n", b"\x85", "\u2028".encode())))


def _indent(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    lines = bytes(buf).split(b"\n")
    i = rng.randrange(len(lines))
    lines[i] = rng.choice((b"\t", b"  ", b" ", b"")) + (lines[i].lstrip() if rng.random() < 0.5 else lines[i])
    buf[:] = b"\n".join(lines)


def _encoding(rng: random.Random, corpus: Corpus, buf: bytearray) -> None:
    text = bytes(buf).decode("utf-8", "replace")
    choice = rng.randrange(4)
    if choice == 0:
        buf[:] = b"\xef\xbb\xbf" + bytes(buf)
    elif choice == 1:
        buf[:] = text.encode("utf-16")
    elif choice == 2:
        buf[:] = text.encode("latin-1", "replace")
    else:
        buf[:] = text.encode("utf-32")


BYTE_OPS: Final[tuple[tuple[str, Callable[[random.Random, Corpus, bytearray], None]], ...]] = (
    ("flip", _flip),
    ("set_byte", _set_byte),
    ("insert_byte", _insert_byte),
    ("delete", _delete),
    ("duplicate", _duplicate),
    ("duplicate_line", _duplicate_line),
    ("swap_lines", _swap_lines),
    ("splice", _splice),
    ("line_from_other", _line_from_other),
    ("token", _token),
    ("token", _token),
    ("token", _token),
    ("replace_token", _replace_token),
    ("replace_token", _replace_token),
    ("repeat", _repeat),
    ("truncate", _truncate),
    ("line_endings", _line_endings),
    ("indent", _indent),
    ("encoding", _encoding),
)


# --- tree mutators ----------------------------------------------------------------------------

Slot = tuple[Any, Any]  # (container, key or index): where a value sits


def _slots(doc: Any, limit: int = 5000) -> list[Slot]:
    """Every (container, key) in the tree, each container once (aliases and cycles are safe)."""
    out: list[Slot] = []
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack and len(out) < limit:
        node, depth = stack.pop()
        if id(node) in seen or depth > 60:
            continue
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            if isinstance(v, dict | list):
                stack.append((v, depth + 1))
    return out


def _pick(rng: random.Random, doc: Any, keep: Callable[[Any, Any], bool] | None = None) -> Slot | None:
    """A random slot of ``doc`` (one ``keep(container, key)`` accepts), or None when there is none."""
    slots = [s for s in _slots(doc) if keep is None or keep(*s)]
    return rng.choice(slots) if slots else None


def random_value(rng: random.Random, corpus: Corpus, depth: int = 0) -> Any:
    """A value of a random type, from the interesting ones."""
    kind = rng.randrange(11 if depth < 3 else 8)
    if kind == 0:
        return rng.choice(STRINGS)
    if kind == 1:
        return rng.choice(INTS)
    if kind == 2:
        return rng.choice(FLOATS)
    if kind == 3:
        return rng.choice((True, False))
    if kind == 4:
        return None
    if kind == 5:  # a copy: the case's later mutations must never reach the corpus
        return copy.deepcopy(rng.choice(corpus.values[rng.choice(corpus.keys)]))
    if kind == 6:
        return rng.choice(corpus.cell_types)
    if kind == 7:
        return rng.choice(USE_PATHS)
    if kind == 8:
        return [random_value(rng, corpus, depth + 1) for _ in range(rng.choice((0, 1, 2, 5)))]
    if kind == 9:
        return {rng.choice(corpus.keys): random_value(rng, corpus, depth + 1) for _ in range(rng.choice((0, 1, 3)))}
    return _deep(rng)


def _deep(rng: random.Random) -> Any:
    value: Any = rng.choice((1, "x", None))
    for _ in range(rng.choice((20, 45, 100, 400))):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


def _near_miss(rng: random.Random, word: str) -> str:
    if not word:
        return "x"
    i = rng.randrange(len(word))
    choice = rng.randrange(8)
    if choice == 0:
        return word[:i] + word[i + 1 :]
    if choice == 1 and len(word) > 1:
        j = min(i + 1, len(word) - 1)
        return word[:i] + word[j] + word[i] + word[j + 1 :]
    if choice == 2:
        return word.upper()
    if choice == 3:
        return word + "s"
    if choice == 4:
        return word + rng.choice(("\n", " ", "\t", "\x00", "\x1b[1m", "\u200b"))
    if choice == 5:
        return word.replace("_", "-") if "_" in word else "_" + word
    if choice == 6:
        return word + "." + word
    return word[:i] + rng.choice("xyz0_-.") + word[i:]


def _cells(doc: Any) -> dict[Any, Any] | None:
    cells = doc.get("cells") if isinstance(doc, dict) else None
    return cells if isinstance(cells, dict) and cells else None


def _t_retype(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    slot = _pick(rng, doc)
    if slot is None:
        return False
    node, key = slot
    node[key] = random_value(rng, corpus)
    return True


def _t_corpus_value(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    slot = _pick(rng, doc, lambda node, key: isinstance(node, dict))
    if slot is None:
        return False
    node, key = slot
    pool = corpus.values.get(key) if isinstance(key, str) and rng.random() < 0.7 else None
    node[key] = copy.deepcopy(rng.choice(pool or corpus.values[rng.choice(corpus.keys)]))
    return True


def _t_number(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    slot = _pick(
        rng,
        doc,
        lambda node, key: (isinstance(node[key], int | float) and not isinstance(node[key], bool)) or key in SIZE_KEYS,
    )
    if slot is None:
        return False
    node, key = slot
    node[key] = rng.choice(INTS + FLOATS + ("${" + str(rng.choice(INTS)) + "}", [0], "1", "-1"))
    return True


def _t_delete(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    slot = _pick(rng, doc)
    if slot is None:
        return False
    node, key = slot
    del node[key]
    return True


def _t_duplicate(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    slot = _pick(rng, doc)
    if slot is None:
        return False
    node, key = slot
    if isinstance(node, list):
        node.insert(rng.randrange(len(node) + 1), copy.deepcopy(node[key]))
    else:
        node[_near_miss(rng, str(key)) if rng.random() < 0.7 else rng.choice(corpus.keys)] = copy.deepcopy(node[key])
    return True


def _t_rename(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    slot = _pick(rng, doc, lambda node, key: isinstance(node, dict))
    if slot is None:
        return False
    node, key = slot
    roll = rng.random()
    new = _near_miss(rng, str(key)) if roll < 0.6 else rng.choice(corpus.keys) if roll < 0.9 else rng.choice(INTS[:6])
    node[new] = node.pop(key)
    return True


def _t_swap(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    slots = _slots(doc)
    if len(slots) < 2:
        return False
    (n1, k1), (n2, k2) = rng.sample(slots, 2)
    n1[k1], n2[k2] = n2[k2], n1[k1]
    return True


def _t_cell_type(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    cells = _cells(doc)
    if cells is None:
        return False
    name = rng.choice(list(cells))
    cell = cells[name] if isinstance(cells[name], dict) else {}
    cells[name] = cell
    kind = rng.choice(corpus.cell_types)
    cell["type"] = kind if rng.random() < 0.8 else _near_miss(rng, kind)
    if rng.random() < 0.3:  # options of another cell type, to meet the type's option checks
        other = rng.choice(list(cells.values()))
        if isinstance(other, dict):
            cell.update({k: copy.deepcopy(v) for k, v in other.items() if k != "type"})
    return True


def _t_edge(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    cells = _cells(doc)
    if cells is None or not isinstance(doc, dict):
        return False
    names = [str(n) for n in cells] + ["nope", "x.y", "x[0]", ""]
    a, b = rng.choice(names), rng.choice(names)
    op = rng.choice(("->", "->", "<->", "=>", "-x->", "-[delay=1]->", "~>"))
    edge: Any = f"{a} {op} {b}"
    roll = rng.random()
    option = rng.choice(EDGE_KEYS)
    if roll < 0.15:
        edge = {"from": a, "to": b, option: random_value(rng, corpus, 2)}
    elif roll < 0.3:  # the statement form with options: `{a -> b: {merge: add}}`
        edge = {edge: {option: rng.choice((random_value(rng, corpus, 2), "add", "concat", False, 0.5))}}
    elif roll < 0.4:
        edge = " -> ".join(rng.choice(names) for _ in range(rng.randint(3, 12)))
    edges = doc.get("edges")
    if not isinstance(edges, list):
        edges = doc["edges"] = [] if rng.random() < 0.8 else edges
    if isinstance(edges, list):
        edges.insert(rng.randrange(len(edges) + 1), edge)
    return True


def _t_use(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    cells = _cells(doc)
    if cells is None:
        return False
    name = rng.choice(list(cells) + ["fz"])
    cell: dict[str, Any] = {"use": "parts/fuzz_part.yaml" if rng.random() < 0.3 else rng.choice(USE_PATHS)}
    if rng.random() < 0.5:
        cell["params"] = {rng.choice(corpus.keys): random_value(rng, corpus, 2)}
    if rng.random() < 0.3:
        cell["bind"] = {rng.choice(("x", "z", "code", "sample")): rng.choice([str(n) for n in cells])}
    if rng.random() < 0.2:
        cell["repeat"] = rng.choice((2, 4, 1000))
    cells[name] = cell
    return True


def _t_param_ref(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    params = doc.get("params")
    if not isinstance(params, dict):
        params = doc["params"] = {"p": 3}
    names = [str(k) for k in params] or ["p"]
    slots = _slots(doc)
    node, key = rng.choice(slots)
    a, b = rng.choice(names), rng.choice(names)
    node[key] = rng.choice(
        (
            f"${{{a}}}",
            f"${{{a} * {b}}}",
            f"${{{a} ** {b}}}",
            f"x${{{a}}}y${{{b}}}",
            f"${{{a} // 0}}",
            f"${{{a}.{b}}}",
            f"${{{a}[0]}}",
            f"${{ {a} }}",
            "${" + "(" * 200 + "1" + ")" * 200 + "}",
            "${" + "1+" * 5000 + "1}",
        )
    )
    if rng.random() < 0.3:  # a reference cycle
        params[a] = f"${{{b}}}"
        params[b] = f"${{{a}}}"
    return True


def _t_data(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    roll = rng.random()
    if roll < 0.4:
        doc["data"] = {"csv": rng.choice(CSV_PATHS), "target": rng.choice(("label", "y", "", "\ufefflabel"))}
    elif roll < 0.7 and corpus.values.get("data"):
        doc["data"] = copy.deepcopy(rng.choice(corpus.values["data"]))
        if isinstance(doc["data"], dict):
            doc["data"][rng.choice(corpus.keys)] = random_value(rng, corpus, 2)
    else:
        doc["data"] = random_value(rng, corpus, 1)
    return True


def _t_train(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    train = doc.get("train")
    if not isinstance(train, dict):
        train = doc["train"] = {}
    key = rng.choice(
        ("optimizer", "optimizer", "optimizer", "grad_clip", "rule", "loss", "metrics", "generator", "discriminator")
        + ("steps", "epochs", "batch_size", "seed")
    )
    if key == "optimizer":
        opt = train.get("optimizer") if isinstance(train.get("optimizer"), dict) else {"name": "adam"}
        field_name = rng.choice(
            ("learning_rate", "learning_rate", "name", "b1", "b2", "momentum", "weight_decay", "eps", "nesterov")
        )
        opt[field_name] = rng.choice(OPTIMIZER_VALUES + INTS + FLOATS)
        if rng.random() < 0.3:  # a schedule, with plausible and hostile fields
            opt["learning_rate"] = {
                "schedule": rng.choice(("cosine_decay", "exponential_decay", "warmup_cosine_decay", "constant", "x")),
                rng.choice(("init_value", "decay_steps", "peak_value", "warmup_steps", "decay_rate", "alpha")): (
                    rng.choice(OPTIMIZER_VALUES + INTS + FLOATS)
                ),
            }
    elif key == "grad_clip":
        train[key] = rng.choice(OPTIMIZER_VALUES + INTS + FLOATS)
        train["optimizer"] = opt
    elif key in ("generator", "discriminator"):
        train[key] = rng.choice((["gen"], {"a": 1}, "", "nope", 3, None, "gen.sample"))
    else:
        train[key] = random_value(rng, corpus, 1)
    return True


def _t_splice(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    others = [d for d in corpus.docs if isinstance(d, dict)]
    slots = _slots(doc)
    if not others or not slots:
        return False
    donor = _slots(rng.choice(others))
    if not donor:
        return False
    node, key = rng.choice(slots)
    dn, dk = rng.choice(donor)
    node[key] = copy.deepcopy(dn[dk])
    return True


def _t_alias(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    """Share one object in two places (the dump writes an anchor and an alias), or a cycle."""
    slot = _pick(rng, doc, lambda node, key: isinstance(node[key], dict | list))
    if slot is None:
        return False
    node, key = slot
    target = node[key]
    if rng.random() < 0.3:  # the container holds itself: `&a [*a]` / `&a {k: *a}`
        if isinstance(target, list):
            target.append(target)
        else:
            target[rng.choice(("<<", "self", "cells"))] = target
    else:
        other_node, other_key = rng.choice(_slots(doc))
        other_node[other_key] = target
    return True


def _t_merge(rng: random.Random, corpus: Corpus, doc: Any) -> bool:
    """A ``<<`` merge key holding a mapping, a list, a scalar or the mapping itself."""
    slot = _pick(rng, doc, lambda node, key: isinstance(node[key], dict))
    if slot is None:
        return False
    node, key = slot
    target = node[key]
    target["<<"] = rng.choice((target, {"type": "hidden"}, [target], 3, "x", None, [{"a": 1}, 2]))
    return True


TREE_OPS: Final[tuple[tuple[str, Callable[[random.Random, Corpus, Any], bool]], ...]] = (
    ("retype", _t_retype),
    ("retype", _t_retype),
    ("corpus_value", _t_corpus_value),
    ("corpus_value", _t_corpus_value),
    ("number", _t_number),
    ("number", _t_number),
    ("delete", _t_delete),
    ("duplicate", _t_duplicate),
    ("rename", _t_rename),
    ("swap", _t_swap),
    ("cell_type", _t_cell_type),
    ("cell_type", _t_cell_type),
    ("edge", _t_edge),
    ("edge", _t_edge),
    ("use", _t_use),
    ("param_ref", _t_param_ref),
    ("data", _t_data),
    ("train", _t_train),
    ("splice_tree", _t_splice),
    ("alias", _t_alias),
    ("merge", _t_merge),
)


def mutate_tree(rng: random.Random, corpus: Corpus, doc: Any, ops: list[str]) -> bytes | None:
    """Apply 1–4 tree mutations and dump the tree back to YAML; None if that fails."""
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        name, op = rng.choice(TREE_OPS)
        try:
            if op(rng, corpus, doc):
                ops.append("tree:" + name)
        except Exception:  # a mutation that does not fit this tree (a key of an odd type, ...)
            continue
    try:
        text = yaml.dump(
            doc,
            Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
            sort_keys=False,
            allow_unicode=rng.random() < 0.5,
            default_flow_style=rng.choice((None, False, True)),
            width=rng.choice((80, 10**6)),
        )
    except Exception:  # e.g. a recursive tree the dumper refuses: the case falls back to bytes
        return None
    return text.encode("utf-8", "surrogatepass")


# --- running a case ---------------------------------------------------------------------------


FINDINGS: Final = ("exception", "text", "slow", "hang", "crash")


@dataclass
class Outcome:
    """What one case did: ok, error (a cellgraph error), or a finding (any other status)."""

    index: int
    status: str  # ok | error | exception | text | slow | hang | crash
    seconds: float
    kind: str = ""  # the error kind, or the finding's signature
    detail: str = ""  # the traceback, the unsafe text, or the stack at the slow point
    reran: bool = False  # over the slow limit once, under it when rerun (a busy machine)


def error_kind(err: BaseException) -> str:
    """A cellgraph error's message, with names and numbers blanked, so like errors count together."""
    problems = getattr(err, "problems", None)
    text = problems[0].message if problems else str(err)
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "'…'", text.split("\n")[0])
    text = re.sub(r"\d+", "N", text)
    return f"{type(err).__name__}: {text[:70]}"


def _frame(tb: list[traceback.FrameSummary]) -> str:
    """The innermost frame inside cellgraph (where a fix goes), else the innermost one."""
    for fs in reversed(tb):
        if "/cellgraph/" in fs.filename and "/scripts/" not in fs.filename:
            return f"{_rel(fs.filename)}:{fs.lineno}"
    return f"{_rel(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"


def _rel(filename: str) -> str:
    i = filename.rfind("/cellgraph/")
    return filename[i + 1 :] if i >= 0 else filename


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_DOT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def unsafe_text(terminal: str, dot: str) -> str:
    """The text oracles: what a terminal or Graphviz would get that it must not; "" if nothing.

    Raw control characters (terminal escapes, ``\\r``, NUL, bidi overrides) in what the CLI
    prints, control characters in DOT text, and the content of a file outside the spec tree.
    """
    if SECRET in terminal or SECRET in dot:
        return "a file outside the spec tree echoed"
    if _CONTROL.search(terminal):
        return "control characters in the terminal output"
    if _DOT_CONTROL.search(dot):
        return "control characters in the DOT text"
    return ""


def default_target(path: Path, case: Case) -> tuple[str, str]:
    """What the CLI does with a spec: load, build, draw both views; ``(terminal text, DOT text)``.

    One case in ten also runs ``cellgraph summary`` itself (its printing code; what it prints is
    the terminal text); a rejected spec raises its ``CellgraphError``.
    """
    terminal, dot, _ = _load_and_draw(path, case)
    return terminal, dot


def train_check_target(path: Path, case: Case) -> tuple[str, str]:
    """``default_target``, then what ``train`` does first with an accepted spec's `train:` block.

    Validation promises that a spec it accepts does not fail later for a reason it could have
    seen: for a backprop spec, the run settings are settled and the optimizer is built and
    takes one step on a 3-vector (``--train-check``; imports JAX, which needs a few GiB of
    address space).
    """
    terminal, dot, graph = _load_and_draw(path, case)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax.numpy as jnp

    from cellgraph.train.optim import make_optimizer
    from cellgraph.train.setup import settings

    spec = graph.graph["spec"]
    if spec.train.get("rule", "backprop") == "backprop":
        cfg = settings(dict(spec.train), epochs=None, steps=None)
        tx = make_optimizer(cfg, loc=spec.loc)
        params = {"w": jnp.ones(3)}
        grads = {"w": jnp.full(3, 0.5)}
        state = tx.init(params)
        tx.update(grads, state, params, value=jnp.float32(1.0), grad=grads, value_fn=lambda p: jnp.sum(p["w"] ** 2))
    return terminal, dot


def _load_and_draw(path: Path, case: Case) -> tuple[str, str, Any]:
    """(terminal text, DOT text, graph). ``-p`` items that are not ``name=value`` are usage
    errors (the CLI exits 2 before reading the spec), so they are left out."""
    from cellgraph.graph import load_graph, summarize
    from cellgraph.render import render
    from cellgraph.spec.params import parse_override

    params = []
    for item in case.params:
        with contextlib.suppress(ValueError):
            parse_override(item)
            params.append(item)
    terminal = io.StringIO()
    if case.index % 10 == 0:
        from cellgraph.cli import main

        argv = ["summary", str(path), *(a for item in params for a in ("-p", item))]
        with contextlib.redirect_stdout(terminal), contextlib.redirect_stderr(terminal):
            main(argv + (["--json"] if case.index % 20 == 0 else []))
    graph = load_graph(path, dict(parse_override(item) for item in params))
    summarize(graph)
    return terminal.getvalue(), render(graph).dot + render(graph, view="layers").dot, graph


class _Alarm(BaseException):
    """Raised by SIGALRM inside a minimisation step (BaseException: no `except Exception` eats it)."""


Target = Callable[[Path, Case], tuple[str, str]]


def run_once(case: Case, workdir: Path, target: Target) -> tuple[str, str, str]:
    """Run the target on a case: ``(status, kind, detail)``; status ok | error | exception | text."""
    spec_path = workdir / "root" / "zoo" / "case.yaml"
    part_path = workdir / "root" / "zoo" / "parts" / "fuzz_part.yaml"
    spec_path.write_bytes(case.spec)
    if case.part is not None:
        part_path.write_bytes(case.part)
    else:
        part_path.unlink(missing_ok=True)
    from cellgraph.errors import CellgraphError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            terminal, dot = target(spec_path, case)
    except CellgraphError as err:  # what a damaged spec should get: the CLI prints err.format()
        message = err.format() if hasattr(err, "format") else str(err)
        unsafe = unsafe_text(message, "")
        if unsafe:
            return "text", f"unsafe text: {unsafe}", f"{error_kind(err)}\n{message[-3000:]}"
        return "error", error_kind(err), ""
    except (Exception, SystemExit) as exc:  # anything else is what the fuzzer is for
        tb = traceback.extract_tb(exc.__traceback__)
        kind = f"{type(exc).__name__} at {_frame(tb)}"
        detail = "".join(traceback.format_exception(exc))[-6000:]
        return "exception", kind, detail
    unsafe = unsafe_text(terminal, dot)
    if unsafe:
        return "text", f"unsafe text: {unsafe}", f"a valid spec\n{(terminal + dot)[-3000:]}"
    return "ok", "", ""


def evaluate(case: Case, workdir: Path, target: Target, slow_seconds: float) -> Outcome:
    """One case, timed; a slow case is rerun with a stack dump at the slow point, to confirm it."""
    start = time.perf_counter()
    status, kind, detail = run_once(case, workdir, target)
    seconds = time.perf_counter() - start
    if status in ("exception", "text") or seconds <= slow_seconds:
        return Outcome(case.index, status, seconds, kind, detail)
    dump = workdir / "slow.txt"
    with dump.open("w+") as f:
        faulthandler.dump_traceback_later(slow_seconds, file=f)
        again = time.perf_counter()
        try:
            run_once(case, workdir, target)
        finally:
            faulthandler.cancel_dump_traceback_later()
        rerun = time.perf_counter() - again
    if rerun <= slow_seconds:  # the machine was busy: not a finding; the faster run counts
        return Outcome(case.index, status, rerun, kind, detail, reran=True)
    stack = dump.read_text(errors="replace")
    where = _dump_frame(stack)
    return Outcome(case.index, "slow", max(seconds, rerun), f"slow at {where} ({kind or 'ok'})", stack)


def _dump_frame(stack: str) -> str:
    """The innermost cellgraph frame of a faulthandler dump (most recent call first)."""
    for m in re.finditer(r'File "([^"]+)", line (\d+)', stack):
        if "/cellgraph/" in m.group(1) and "/scripts/" not in m.group(1):
            return f"{_rel(m.group(1))}:{m.group(2)}"
    return "?"


def minimise(case: Case, workdir: Path, target: Target, kind: str, budget: float) -> bytes:
    """Delta debugging on lines, then on bytes: the smallest spec that still gives ``kind``."""
    deadline = time.monotonic() + budget

    def still_fails(data: bytes) -> bool:
        if time.monotonic() > deadline:
            return False
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        try:
            status, got, _ = run_once(Case(case.index, case.base, data, case.part, (), case.params), workdir, target)
        except _Alarm:
            return False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return status in ("exception", "text") and got == kind

    data = case.spec
    for unit in ("lines", "bytes"):
        pieces = data.split(b"\n") if unit == "lines" else [bytes([b]) for b in data]
        if unit == "bytes" and len(pieces) > 4000:
            break
        joiner = b"\n" if unit == "lines" else b""
        n = 2
        while len(pieces) >= 2 and time.monotonic() < deadline:
            chunk = max(1, len(pieces) // n)
            reduced = False
            for start in range(0, len(pieces), chunk):
                candidate = pieces[:start] + pieces[start + chunk :]
                if still_fails(joiner.join(candidate)):
                    pieces, n, reduced = candidate, max(n - 1, 2), True
                    break
            if not reduced:
                if chunk == 1:
                    break
                n = min(len(pieces), n * 2)
        data = joiner.join(pieces)
    return data


# --- workers ----------------------------------------------------------------------------------


def prepare_workdir(root: Path = ROOT) -> Path:
    """A project where ``use:`` paths of the seeds resolve: ``root/zoo/case.yaml``, parts beside.

    ``root/zoo/fifo`` is a FIFO, ``root/zoo/dir`` a folder, ``outside/secret.txt`` a file outside
    the spec tree whose content must never appear in an error.
    """
    work = Path(tempfile.mkdtemp(prefix="cellgraph-fuzz-"))
    zoo = work / "root" / "zoo"
    for parts in (work / "root" / "parts", zoo / "parts"):
        parts.mkdir(parents=True)
        for folder in PART_DIRS:
            for p in (root / folder).glob("*.yaml"):
                shutil.copy(p, parts / p.name)
    (work / "root" / "pyproject.toml").write_text("")  # marks the project: `../parts` stays inside
    (zoo / "dir").mkdir()
    os.mkfifo(zoo / "fifo")
    (zoo / "data.csv").write_text("a,b,label\n0,1,1\n1,0,1\n0,0,0\n1,1,0\n")
    (work / "outside").mkdir()
    (work / "outside" / "secret.txt").write_text(f"{SECRET}: not a spec\n")
    return work


def _worker(conn: Any, corpus: Corpus, seed: int, target: Target, slow: float, memory_mb: int) -> None:
    """Answer case indices with outcomes until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Alarm()

    signal.signal(signal.SIGALRM, on_alarm)
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    workdir = prepare_workdir()
    hang_file = (workdir / "hang.txt").open("w+")
    conn.send(("ready", str(workdir / "hang.txt")))
    try:
        while True:
            task = conn.recv()
            if task is None:
                break
            what, index, extra = task
            case = make_case(corpus, seed, index)
            if what == "case":
                hang_file.seek(0)
                hang_file.truncate()
                faulthandler.dump_traceback_later(extra, file=hang_file)  # where a hang hangs
                try:
                    outcome = evaluate(case, workdir, target, slow)
                finally:
                    faulthandler.cancel_dump_traceback_later()
                finding = outcome.status not in ("ok", "error")
                conn.send(("case", outcome, case if finding else None))
            else:  # ("minimise", index, (kind, budget))
                conn.send(("minimised", index, minimise(case, workdir, target, extra[0], extra[1])))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class _Slot:
    process: Any
    conn: Any
    hang_file: str = ""
    task: tuple[str, int, Any] | None = None
    deadline: float = 0.0


@dataclass
class Config:
    """One fuzzing run's settings (the command's options)."""

    cases: int = 2000
    seed: int = 0
    first: int = 0
    jobs: int = 2
    budget_seconds: float = 0.0  # 0: no time budget
    timeout: float = 10.0  # a case that has not answered by then is a hang
    slow_seconds: float = 1.0
    memory_mb: int = 1024
    minimise_seconds: float = 5.0
    train_check: bool = False  # also settle the run settings and step the optimizer (JAX)
    out: Path | None = None


@dataclass
class Results:
    """What a run found: counts, error kinds, timings and the findings grouped by signature."""

    config: Config
    cases: int = 0
    status: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    reruns: int = 0  # cases over the slow limit once but not when rerun
    times: list[float] = field(default_factory=list)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def finding_count(self) -> int:
        return sum(self.status[s] for s in FINDINGS)

    def record(self, outcome: Outcome, case: Case | None) -> None:
        """Count a case; keep the input of a finding (the first three of each class)."""
        self.cases += 1
        self.status[outcome.status] += 1
        if outcome.status != "hang":
            self.times.append(outcome.seconds)
        if outcome.status == "error":
            self.error_kinds[outcome.kind] += 1
        self.reruns += outcome.reran
        if case is None:
            return
        entry = self.findings.setdefault(
            outcome.kind,
            {"status": outcome.status, "count": 0, "cases": [], "detail": outcome.detail, "minimised": None},
        )
        entry["count"] += 1
        if len(entry["cases"]) < 3:
            entry["cases"].append(case)

    def summary(self) -> str:
        times = sorted(self.times) or [0.0]
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        s = self.status
        return (
            f"fuzz: {self.cases:,} cases (seed {self.config.seed}, {self.config.jobs} jobs) in {self.seconds:.1f} s, "
            f"{self.cases / max(self.seconds, 1e-9):.0f} cases/s: {s['ok']:,} ok, {s['error']:,} cellgraph errors, "
            f"{self.finding_count} findings ({s['exception']} exceptions, {s['text']} unsafe text, {s['slow']} slow, "
            f"{s['hang']} hangs, {s['crash']} crashes; {len(self.findings)} distinct); case time max "
            f"{times[-1]:.3f} s, p99 {p99:.4f} s ({self.reruns} rerun after a slow first run)"
        )

    def to_json(self) -> dict[str, Any]:
        times = sorted(self.times) or [0.0]
        return {
            "command": "scripts/fuzz_specs.py " + " ".join(_argv(self.config)),
            "cases": self.cases,
            "seconds": round(self.seconds, 2),
            "status": dict(self.status),
            "findings": self.finding_count,
            "distinct_findings": len(self.findings),
            "max_case_seconds": round(times[-1], 4),
            "p99_case_seconds": round(times[min(len(times) - 1, int(0.99 * len(times)))], 4),
            "error_kinds": dict(self.error_kinds.most_common(40)),
            "reruns": self.reruns,
            "finding_classes": [
                {
                    "signature": sig,
                    "status": f["status"],
                    "count": f["count"],
                    "cases": [c.index for c in f["cases"]],
                    "minimised": f["minimised"].decode("utf-8", "backslashreplace") if f["minimised"] else None,
                    "detail": f["detail"][-3000:],
                }
                for sig, f in self.findings.items()
            ],
        }


def _argv(config: Config) -> list[str]:
    args = ["--cases", str(config.cases), "--seed", str(config.seed), "--jobs", str(config.jobs)]
    if config.first:
        args += ["--first", str(config.first)]
    if config.budget_seconds:
        args += ["--budget-seconds", str(config.budget_seconds)]
    if config.train_check:
        args += ["--train-check"]
    return args


def _start(ctx: Any, corpus: Corpus, config: Config, target: Target) -> _Slot:
    parent, child = ctx.Pipe()
    args = (child, corpus, config.seed, target, config.slow_seconds, config.memory_mb)
    process = ctx.Process(target=_worker, args=args, daemon=True)
    process.start()
    child.close()
    _ready, hang_file = parent.recv()
    return _Slot(process, parent, hang_file)


def _stop(slot: _Slot, grace: float = 0.0) -> None:
    """End a worker: wait ``grace`` seconds for it to finish (and remove its folder), then kill it."""
    slot.process.join(grace)
    if slot.process.is_alive():
        slot.process.kill()
    slot.process.join(5)
    slot.conn.close()


def run(config: Config, target: Target | None = None, corpus: Corpus | None = None) -> Results:
    """Fuzz: ``config.cases`` cases from ``config.first`` on, in ``config.jobs`` workers."""
    target = target or (train_check_target if config.train_check else default_target)
    corpus = corpus or load_corpus()
    ctx = multiprocessing.get_context("fork")  # workers inherit the corpus and the target
    results = Results(config)
    start = time.monotonic()
    slots = [_start(ctx, corpus, config, target) for _ in range(max(1, config.jobs))]
    pending = list(range(config.first, config.first + config.cases))
    pending.reverse()
    minimise_queue: list[tuple[str, int]] = []
    try:
        while True:
            over_budget = config.budget_seconds > 0 and time.monotonic() - start > config.budget_seconds
            for slot in slots:
                if slot.task is not None:
                    continue
                if pending and not over_budget:
                    index = pending.pop()
                    slot.task = ("case", index, config.timeout * 0.9)
                    slot.deadline = time.monotonic() + config.timeout + config.slow_seconds * 2
                elif minimise_queue and not over_budget:
                    kind, index = minimise_queue.pop()
                    slot.task = ("minimise", index, (kind, config.minimise_seconds))
                    slot.deadline = time.monotonic() + config.minimise_seconds + config.timeout
                if slot.task is not None:
                    slot.conn.send(slot.task)
            busy = [s for s in slots if s.task is not None]
            if not busy:
                break
            ready = multiprocessing.connection.wait([s.conn for s in busy], timeout=0.25)
            for i, slot in enumerate(slots):
                if slot.task is None:
                    continue
                if slot.conn in ready:
                    try:
                        message = slot.conn.recv()
                    except (EOFError, OSError):
                        slots[i] = _lost(ctx, corpus, config, target, slot, results, "crash")
                        continue
                    _take(message, results, corpus, config, minimise_queue)
                    slot.task = None
                elif time.monotonic() > slot.deadline or not slot.process.is_alive():
                    status = "hang" if slot.process.is_alive() else "crash"
                    slots[i] = _lost(ctx, corpus, config, target, slot, results, status)
    finally:
        for slot in slots:
            with contextlib.suppress(Exception):
                slot.conn.send(None)
            _stop(slot, grace=5.0)
        results.seconds = time.monotonic() - start
    if config.out is not None:
        write_out(results, config.out)
    return results


def _take(message: Any, results: Results, corpus: Corpus, config: Config, queue: list[tuple[str, int]]) -> None:
    if message[0] == "minimised":
        _, index, data = message
        for finding in results.findings.values():
            if finding["cases"] and finding["cases"][0].index == index:
                finding["minimised"] = data
        return
    _, outcome, data = message
    new = outcome.kind not in results.findings
    results.record(outcome, data)
    if outcome.status in ("exception", "text") and new and config.minimise_seconds > 0:
        queue.append((outcome.kind, outcome.index))


def _lost(
    ctx: Any, corpus: Corpus, config: Config, target: Target, slot: _Slot, results: Results, status: str
) -> _Slot:
    """A worker that hung (killed here) or died: record the case it held, start a new worker."""
    assert slot.task is not None
    what, index, _ = slot.task
    _stop(slot)
    exitcode = slot.process.exitcode
    if what == "case":
        stack = Path(slot.hang_file).read_text(errors="replace") if Path(slot.hang_file).exists() else ""
        where = _dump_frame(stack)
        if status == "crash":
            sig = f"crash: worker exit {exitcode}" + (
                f" ({signal.Signals(-exitcode).name})" if exitcode and exitcode < 0 else ""
            )
            kind = f"{sig} at {where}"
        else:
            kind = f"hang at {where}"
        outcome = Outcome(index, status, config.timeout, kind, stack[-6000:])
        results.record(outcome, make_case(corpus, config.seed, index))
    shutil.rmtree(Path(slot.hang_file).parent, ignore_errors=True)  # the killed worker's folder
    return _start(ctx, corpus, config, target)


def write_out(results: Results, out: Path) -> None:
    """``results.json``, and per finding class a folder with its inputs, traceback and minimised input."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results.to_json(), indent=2, ensure_ascii=True) + "\n")
    findings = out / "findings"
    if findings.exists():
        shutil.rmtree(findings)
    for n, (sig, f) in enumerate(sorted(results.findings.items())):
        folder = findings / f"{n:03d}-{re.sub(r'[^A-Za-z0-9]+', '-', sig)[:60].strip('-')}"
        folder.mkdir(parents=True)
        (folder / "signature.txt").write_text(f"{sig}\n{f['count']} cases\n")
        (folder / "detail.txt").write_text(f["detail"])
        for c in f["cases"]:
            (folder / f"case-{c.index}.yaml").write_bytes(c.spec)
            if c.part is not None:  # it sits at parts/fuzz_part.yaml beside the case
                (folder / f"case-{c.index}.part.yaml").write_bytes(c.part)
            how = [f"from {c.base}", *c.ops, *(f"-p {item}" for item in c.params)]
            (folder / f"case-{c.index}.ops.txt").write_text("\n".join(how) + "\n", errors="backslashreplace")
        if f["minimised"] is not None:
            (folder / "minimised.yaml").write_bytes(f["minimised"])


# --- command ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Config:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=2000, help="cases to run (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    p.add_argument("--first", type=int, default=0, help="index of the first case (to rerun one case)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--budget-seconds", type=float, default=0.0, help="stop starting cases after this long")
    p.add_argument("--timeout", type=float, default=10.0, help="a case slower than this is a hang (default 10)")
    p.add_argument("--slow-seconds", type=float, default=1.0, help="a case slower than this is a finding (1)")
    p.add_argument("--memory-mb", type=int, default=1024, help="address-space cap per worker (0: none)")
    p.add_argument("--minimise-seconds", type=float, default=5.0, help="per finding class (0: do not minimise)")
    p.add_argument(
        "--train-check",
        action="store_true",
        help="for accepted specs, also build the optimizer and take one step (imports JAX; raises --memory-mb to 4096)",
    )
    p.add_argument("--out", type=Path, help="write results.json and the findings' inputs here")
    a = p.parse_args(argv)
    if a.cases < 0 or a.jobs < 1 or a.timeout <= 0 or a.slow_seconds <= 0:
        p.error("--cases must be >= 0, --jobs >= 1, --timeout and --slow-seconds > 0")
    return Config(
        cases=a.cases,
        seed=a.seed,
        first=a.first,
        jobs=a.jobs,
        budget_seconds=a.budget_seconds,
        timeout=a.timeout,
        slow_seconds=a.slow_seconds,
        memory_mb=max(a.memory_mb, 4096) if a.train_check and a.memory_mb else a.memory_mb,
        minimise_seconds=a.minimise_seconds,
        train_check=a.train_check,
        out=a.out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    results = run(config)
    print(results.summary())
    for sig, f in sorted(results.findings.items(), key=lambda kv: -kv[1]["count"]):
        print(f"  FINDING {f['count']:>6}x  {sig}  (e.g. case {f['cases'][0].index})")
    return 1 if results.finding_count else 0


if __name__ == "__main__":
    sys.exit(main())
