"""Property tests: the parsers and the whole validator never fail with anything but a SpecError.

(a) The edge-statement parser on arbitrary text raises only StatementError, and statements
generated from its grammar parse back into the names and operators they were built from.
(b) Loading and validating randomly mutated specs (the zoo's, plus a few fixed ones so this
always runs) either succeeds or raises cellgraph's SpecError, quickly: never another exception,
never a hang.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SPECS, zoo_files
from hypothesis import given, settings
from hypothesis import strategies as st

import cellgraph
from cellgraph.errors import SpecError
from cellgraph.spec.edges import OPERATORS, StatementError, parse_statement
from cellgraph.spec.params import evaluate

# ------------------------------------------------------------------------------ edge statements

STATEMENT_ALPHABET = st.sampled_from(list("ab_xyz019.,-~=<>[]: \t\n{}$#'\"") + ["->", "--", "=>", "~>", "é", "\x00"])


@given(st.text())
@settings(max_examples=300)
def test_parser_on_any_text_raises_only_statement_error(text: str) -> None:
    for allow_index in (False, True):
        try:
            hops = parse_statement(text, allow_index=allow_index)
        except StatementError as err:
            assert 0 <= err.offset <= len(text)
        else:
            assert hops and all(h.op in OPERATORS for h in hops)


@given(st.lists(STATEMENT_ALPHABET, max_size=40).map("".join))
@settings(max_examples=300)
def test_parser_on_statement_like_text_raises_only_statement_error(text: str) -> None:
    for allow_index in (False, True):
        try:
            parse_statement(text, allow_index=allow_index)
        except StatementError as err:
            assert 0 <= err.offset <= len(text)


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}(\.([A-Za-z_][A-Za-z0-9_]{0,3}|[0-9]{1,2})){0,2}", fullmatch=True)
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def statements(draw: st.DrawFn) -> tuple[str, list[list[str]], list[str]]:
    """A valid statement, with the groups of names and the operators it was built from."""
    groups = draw(st.lists(st.lists(NAMES, min_size=1, max_size=3), min_size=2, max_size=5))
    ops = draw(st.lists(st.sampled_from(sorted(OPERATORS)), min_size=len(groups) - 1, max_size=len(groups) - 1))
    parts = [draw(SPACE)]
    for i, group in enumerate(groups):
        parts.append(",".join(draw(SPACE) + name + draw(SPACE) for name in group))
        if i < len(ops):
            parts.append(draw(SPACE) + ops[i] + draw(SPACE))
    parts.append(draw(SPACE))
    return "".join(parts), groups, ops


@given(statements())
@settings(max_examples=300)
def test_generated_statements_round_trip(case: tuple[str, list[list[str]], list[str]]) -> None:
    text, groups, ops = case
    hops = parse_statement(text)
    assert [h.op for h in hops] == ops
    for i, hop in enumerate(hops):
        assert [r.name for r in hop.left] == groups[i]
        assert [r.name for r in hop.right] == groups[i + 1]
        assert text[hop.offset : hop.offset + 2] == hop.op
        for ref in (*hop.left, *hop.right):
            assert text[ref.offset :].startswith(ref.name)


@given(
    st.text(max_size=60),
    st.dictionaries(st.sampled_from(["w", "d", "s"]), st.integers() | st.floats() | st.text(max_size=3)),
)
@settings(max_examples=300)
def test_param_expressions_raise_only_key_or_value_error(expr: str, values: dict) -> None:
    try:
        evaluate(expr, values)
    except (KeyError, ValueError):
        pass


# ------------------------------------------------------------------------- mutated whole specs

FIXED_SPECS = {
    "dense.yaml": """\
cellgraph: 1
name: dense
title: A dense network
params: {width: 4, depth: 3}
cells:
  x: {type: input, size: 3}
  h:
    type: hidden
    size: ${width}
    repeat: ${depth}
    residual: 2
  y: {type: output, size: 2, activation: softmax}
edges:
  - x -> h -> y
  - {from: x, to: y, kind: dense, trainable: false}
train: {rule: backprop, loss: cross_entropy, optimizer: {name: adam, learning_rate: 1e-3}, epochs: 3}
data: {source: xor, split: {test: 0.25, seed: 0}}
draw: {view: cells, max_cells: 6, groups: {h: {show: 3}}}
""",
    "conv.yaml": """\
cellgraph: 1
name: conv
cells:
  x: {type: input, shape: [8, 8, 1]}
  k: {type: kernel, window: 3, channels: 4}
  p: {type: convolution, op: max_pool, window: 2}
  c: {type: capsule, size: 4, dim: 8}
  q: {type: capsule, size: 3, dim: 4}
  y: {type: output, size: 3}
edges:
  - x -> k -> p -> c -> q -> y
""",
    "recurrent.yaml": """\
cellgraph: 1
name: recurrent
cells:
  x: {type: input, size: 3, sequence: true}
  r: {type: recurrent, size: 4}
  m: {type: memory, size: 4, emit: last}
  y: {type: output, size: 1}
edges:
  - x -> r -> m -> y
  - y ~> r
  - m -> r
draw:
  lines:
    - x[0] -- r[0], r[1]
    - r[0:2] -- m
""",
    "rbm.yaml": """\
cellgraph: 1
name: rbm
cells:
  v: {type: backfed_input, size: 6}
  h: {type: probabilistic_hidden, size: 3}
edges:
  - v -- h
train: {rule: contrastive_divergence, k: 1}
data: {source: bars_and_stripes, size: 4}
""",
}

TOKENS = [
    "&a ",
    "*a",
    "!!",
    "!!str ",
    "!!python/object:os.system ",
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    ", ",
    "-",
    "- ",
    "\t",
    "\x00",
    "\x07",
    "'",
    '"',
    "#",
    "---\n",
    "...",
    "<<: ",
    "? ",
    "|",
    ">",
    "${",
    "}",
    "${width}",
    "${x}",
    "~",
    "null",
    "no",
    "010",
    "0x10",
    "1e309",
    "-1",
    "0",
    "9" * 30,
    "99999999999",
    "1_000",
    ".nan",
    "é",
    "\ud7ff",
    "->",
    "--",
    "=>",
    "~>",
    " -> ",
    "x",
    "h",
    "type: ",
    "repeat: 1000",
    "size: ",
    "use: ",
    "\n",
    "\n  ",
    "  ",
]


def _seed_texts() -> dict[str, str]:
    texts = dict(FIXED_SPECS)
    for path in zoo_files():
        texts[f"zoo/{path.name}"] = path.read_text(encoding="utf-8")
    return texts


SEEDS = _seed_texts()
SEED_NAMES = sorted(SEEDS)


@st.composite
def mutation(draw: st.DrawFn, text_len: int) -> tuple[str, int, str]:
    kind = draw(st.sampled_from(["delete", "insert", "replace", "dup_line", "drop_line", "indent", "number", "token"]))
    pos = draw(st.integers(0, max(0, text_len)))
    payload = draw(st.sampled_from(TOKENS) | st.text(max_size=4))
    return kind, pos, payload


def _apply(text: str, kind: str, pos: int, payload: str) -> str:
    pos = min(pos, len(text))
    lines = text.split("\n")
    line_no = text.count("\n", 0, pos)
    if kind == "delete":
        return text[:pos] + text[pos + 1 + len(payload) % 5 :]
    if kind in ("insert", "token"):
        return text[:pos] + payload + text[pos:]
    if kind == "replace":
        return text[:pos] + payload + text[pos + max(1, len(payload)) :]
    if kind == "dup_line":
        return "\n".join([*lines[: line_no + 1], lines[line_no], *lines[line_no + 1 :]])
    if kind == "drop_line":
        return "\n".join(lines[:line_no] + lines[line_no + 1 :])
    if kind == "indent":
        lines[line_no] = (" " * (len(payload) % 4) if payload else "\t") + lines[line_no].lstrip(" ")
        return "\n".join(lines)
    # number: swap the next number for a string, a negative or a huge value
    start = pos
    while start < len(text) and not text[start].isdigit():
        start += 1
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    replacement = ["-3", "'7'", "1e400", "0", "10000000000000", "2.5", "true", "[1]"][len(payload) % 8]
    return text[:start] + replacement + text[end:]


@pytest.fixture(scope="module")
def spec_tree() -> Iterator[Path]:
    """A copy of specs/ (so `use: ../parts/x.yaml` still resolves) where mutants are written."""
    with tempfile.TemporaryDirectory(prefix="cellgraph-mutants-") as tmp:
        root = Path(tmp) / "specs"
        if SPECS.is_dir():
            shutil.copytree(SPECS, root)
        (root / "zoo").mkdir(parents=True, exist_ok=True)
        yield root


def test_enough_seed_specs() -> None:
    zoo = zoo_files()
    if len(zoo) < 5:
        pytest.skip(f"only {len(zoo)} zoo specs exist; the fuzz test runs on the {len(FIXED_SPECS)} fixed specs only")
    assert len(SEEDS) == len(FIXED_SPECS) + len(zoo)


@pytest.mark.parametrize("name", sorted(FIXED_SPECS))
def test_fixed_seed_specs_are_valid(name: str, spec_tree: Path) -> None:
    path = spec_tree / "zoo" / name
    path.write_text(FIXED_SPECS[name], encoding="utf-8")
    graph = cellgraph.load_graph(path)
    assert graph.number_of_nodes() >= 2


@given(data=st.data())
@settings(max_examples=300)
def test_mutated_specs_fail_only_with_spec_error(data: st.DataObject, spec_tree: Path) -> None:
    name = data.draw(st.sampled_from(SEED_NAMES), label="seed")
    text = SEEDS[name]
    for kind, pos, payload in data.draw(st.lists(mutation(len(text)), min_size=1, max_size=4), label="mutations"):
        text = _apply(text, kind, pos, payload)
    path = spec_tree / "zoo" / "_mutant.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    start = time.perf_counter()
    try:
        cellgraph.load_graph(path)
    except SpecError as err:
        assert err.problems, "a SpecError must carry at least one problem"
        assert all(p.message for p in err.problems)
        err.format()  # formatting never fails either
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"validation took {elapsed:.2f} s on {name}"
