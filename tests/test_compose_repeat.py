"""`repeat:` on a `use:` group: a composed block chained N times, and `residual: true` (one skip per block).

The block is a part file with one input group ``x`` and one last group ``b``: copy i's ``x`` is
bound to copy i-1's ``b`` (copy 1's to its `bind:` target), so "10 blocks with residual" is 10
copies and 10 identity skips, each around one block. Every misuse is a located error in the
spec that wrote it (file:line:col, key path, fix); nothing is dropped without a word.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from conftest import ROOT, run_cli_process

import cellgraph
from cellgraph import LimitError, Limits, SpecError, load_graph

PART = """\
    cellgraph: 1
    name: res_block
    params: {width: 8}
    cells:
      x: {type: input, size: "${width}"}
      a: {type: hidden, size: "${width}", activation: relu}
      b: {type: hidden, size: "${width}", activation: linear}
    edges:
      - x -> a -> b
    """

# a block that reads a context besides its input: `chain:` must say which input the repeat chains
TWO_INPUTS = """\
    cellgraph: 1
    name: ctx_block
    cells:
      x: {type: input, size: 8}
      ctx: {type: input, size: 3}
      b: {type: hidden, size: 8}
    edges:
      - x, ctx -> b
    """

# a block with two last groups: the repeat cannot tell which one the next copy reads
TWO_ENDS = """\
    cellgraph: 1
    name: forked
    cells:
      x: {type: input, size: 8}
      b: {type: hidden, size: 8}
      c: {type: hidden, size: 8}
    edges:
      - x -> b, c
    """

# a block that writes its own skip
SKIPPED = PART + "  - x => b\n"

# a block whose output is narrower than its input: copy 2 cannot read copy 1
NARROWING = PART.replace('b: {type: hidden, size: "${width}"', "b: {type: hidden, size: 2")

MAIN = """\
cellgraph: 1
name: main
cells:
  x: {{type: input, size: 4}}
  stem: {{type: hidden, size: 8}}
  block: {body}
  y: {{type: output, size: 1, activation: linear}}
edges:
  - x -> stem
  - block -> y
{extra}"""
BLOCK_LINE = 6  # the line of `block:` in MAIN, where its errors are located


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _main(folder: Path, body: str, extra: str = "", part: str = PART) -> Path:
    """main.yaml with ``block: <body>`` on line 6, using part.yaml (``extra``: more edge lines)."""
    _write(folder, "part.yaml", part)
    return _write(folder, "main.yaml", MAIN.format(body=body, extra=extra))


def _identity(graph: nx.DiGraph) -> list[tuple[str, str]]:
    return sorted(((u, v) for u, v, d in graph.edges(data=True) if d["kind"] == "identity"), key=str)


# ------------------------------------------------------------------------- the 10-block residual MLP


TEN = "{use: part.yaml, repeat: 10, residual: true, bind: {x: stem}}"


def test_ten_blocks_with_residual_give_ten_skips(tmp_path: Path) -> None:
    graph = load_graph(_main(tmp_path, TEN))
    spec = graph.graph["spec"]
    blocks = [f"block.{i}" for i in range(1, 11)]
    assert list(graph) == ["x", "stem", *[f"{b}.{c}" for b in blocks for c in "ab"], "y"]
    assert len(graph) == 23  # x, stem, 10 x (a, b), y: every copy's `x` is bound, so none is drawn
    # x -> stem, stem -> block.1.a, 10 x (a -> b), 9 x (b -> next a), block.10.b -> y, 10 skips
    assert graph.number_of_edges() == 1 + 1 + 10 + 9 + 1 + 10
    starts = ["stem", *[f"{b}.b" for b in blocks[:-1]]]
    assert _identity(graph) == sorted(zip(starts, [f"{b}.b" for b in blocks], strict=True), key=str)
    assert all(graph.has_edge(f"block.{i}.b", f"block.{i + 1}.a") for i in range(1, 10))
    assert graph.has_edge("stem", "block.1.a") and graph.has_edge("block.10.b", "y")
    skip = graph.edges["stem", "block.1.b"]
    assert skip["implicit"] and skip["path"] == "cells.block.residual"
    written = MAIN.format(body=TEN, extra="").splitlines()[BLOCK_LINE - 1]
    assert (skip["loc"].line, skip["loc"].col) == (BLOCK_LINE, written.index("true") + 1)  # at `residual: true`
    assert spec.groups["block"] == tuple(f"{b}.{c}" for b in blocks for c in "ab")
    assert spec.groups["block.3"] == ("block.3.a", "block.3.b")
    assert spec.groups["block.3.a"] == ("block.3.a",)
    assert graph.nodes["block.3.a"]["origin"] == "block.3"
    assert graph.graph["params"]["total"] == (4 * 8 + 8) + 20 * (8 * 8 + 8) + (8 + 1)


SHALLOW = """\
cellgraph: 1
name: shallow
cells:
  x: {type: input, size: 4}
  stem: {type: hidden, size: 8}
  y: {type: output, size: 1, activation: linear}
edges:
  - x -> stem -> y
"""


def test_the_ten_block_mlp_compiles_and_its_skips_carry_the_stem(tmp_path: Path) -> None:
    """With every block's weights zero each block adds nothing to its skip, so the net is x -> stem -> y."""
    import jax

    model = cellgraph.compile(_main(tmp_path, TEN))
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    assert model.apply(params, x)["y"].shape == (5, 1)
    assert model.inputs == ("x",) and model.outputs == ("y",)
    zeroed = {g: jax.tree_util.tree_map(np.zeros_like, p) if g.startswith("block.") else p for g, p in params.items()}
    shallow = cellgraph.compile(_write(tmp_path, "shallow.yaml", SHALLOW))
    kept = {g: params[g] for g in ("stem", "y")}
    np.testing.assert_allclose(model.apply(zeroed, x)["y"], shallow.apply(kept, x)["y"], rtol=1e-6, atol=1e-6)
    assert not np.allclose(model.apply(params, x)["y"], shallow.apply(kept, x)["y"])  # the blocks do compute


@pytest.mark.parametrize("count", [1, 2, 10])
def test_one_skip_per_copy(tmp_path: Path, count: int) -> None:
    graph = load_graph(_main(tmp_path, f"{{use: part.yaml, repeat: {count}, residual: true, bind: {{x: stem}}}}"))
    assert len(_identity(graph)) == count
    assert graph.has_edge(f"block.{count}.b", "y")


def test_residual_without_repeat_skips_around_the_one_copy(tmp_path: Path) -> None:
    graph = load_graph(_main(tmp_path, "{use: part.yaml, residual: true, bind: {x: stem}}"))
    assert _identity(graph) == [("stem", "block.b")]
    assert [n for n in graph if n.startswith("block")] == ["block.a", "block.b"]  # no copy index


def test_repeat_without_residual_only_chains(tmp_path: Path) -> None:
    graph = load_graph(_main(tmp_path, "{use: part.yaml, repeat: 3, bind: {x: stem}}", extra="  - stem -> block.2.b\n"))
    assert _identity(graph) == []
    assert sorted(e for e in graph.edges if "block" in e[0] and "block" in e[1]) == [
        ("block.1.a", "block.1.b"),
        ("block.1.b", "block.2.a"),
        ("block.2.a", "block.2.b"),
        ("block.2.b", "block.3.a"),
        ("block.3.a", "block.3.b"),
    ]
    assert graph.has_edge("stem", "block.2.b")  # each copy's groups stay addressable


def test_an_unbound_first_input_stays_an_input_of_the_network(tmp_path: Path) -> None:
    main = _main(tmp_path, "{use: part.yaml, repeat: 2}")
    graph = load_graph(main)
    assert "block.1.x" in graph and "block.2.x" not in graph
    assert graph.has_edge("block.1.b", "block.2.a")


def test_chain_names_the_chained_input_and_bind_feeds_the_others_in_every_copy(tmp_path: Path) -> None:
    main = _main(
        tmp_path,
        "{use: part.yaml, repeat: 3, chain: {x: b}, bind: {x: stem, ctx: c}}",
        part=TWO_INPUTS,
    ).read_text()
    main = main.replace("  y: {type", "  c: {type: input, size: 3}\n  y: {type")
    graph = load_graph(_write(tmp_path, "main.yaml", main))
    assert sorted(graph.predecessors("block.1.b")) == ["c", "stem"]
    assert sorted(graph.predecessors("block.3.b")) == ["block.2.b", "c"]


def test_params_reach_every_copy(tmp_path: Path) -> None:
    main = _main(tmp_path, "{use: part.yaml, params: {width: 6}, repeat: 2}")
    graph = load_graph(main)
    assert all(graph.nodes[n]["shape"] == (6,) for n in graph if n.startswith("block."))


def test_the_cell_budget_counts_every_copy_before_building_them(tmp_path: Path) -> None:
    main = _main(tmp_path, "{use: part.yaml, repeat: 30, bind: {x: stem}}")
    with pytest.raises(LimitError) as err:
        load_graph(main, limits=Limits(max_cells=50))
    assert f"main.yaml:{BLOCK_LINE}:3: cells.block: the network has more than 50 cell groups" in str(err.value)


def test_plain_group_residual_counts_are_unchanged() -> None:
    """`residual: k` on a plain group still skips h.1 => h.(1+k) ...: 20 copies by 2 give 9 skips."""
    spec = cellgraph.load_spec_text(
        "cellgraph: 1\nname: t\ncells:\n  x: {type: input, size: 4}\n"
        "  h: {type: hidden, size: 4, repeat: 20, residual: 2}\nedges:\n  - x -> h\n"
    )
    skips = [(e.src, e.dst) for e in spec.edges if e.kind == "identity"]
    assert skips == [(f"h.{i}", f"h.{i + 2}") for i in range(1, 18, 2)]


# ------------------------------------------------------------------------------------ located misuse

# (name, block body, extra edge lines, part, the written text the error points at, key path, message, fix)
MISUSES = [
    (
        "residual_distance_on_a_part",
        "{use: part.yaml, repeat: 10, residual: 2, bind: {x: stem}}",
        "",
        PART,
        "2",
        "cells.block.residual",
        "on a `use:` group, residual is true or false (one identity skip around each copy), got the number 2",
        "write `residual: true`",
    ),
    (
        "repeat_zero",
        "{use: part.yaml, repeat: 0}",
        "",
        PART,
        "0",
        "cells.block.repeat",
        "expected a positive integer, got the number 0",
        "e.g. `repeat: 10`",
    ),
    (
        "repeat_over_the_limit",
        "{use: part.yaml, repeat: 5000}",
        "",
        PART,
        "5000",
        "cells.block.repeat",
        "5,000 is over the limit of 1,000",
        "smaller count",
    ),
    (
        "chain_without_repeat",
        "{use: part.yaml, chain: {x: b}}",
        "",
        PART,
        "chain",
        "cells.block.chain",
        "`chain:` links the copies of a repeated part, and this group has no `repeat:`",
        "add `repeat: N`, or remove `chain:`",
    ),
    (
        "chain_from_an_inner_group",
        "{use: part.yaml, repeat: 2, chain: {a: b}}",
        "",
        PART,
        "a:",
        "cells.block.chain.a",
        "the part's 'a' is fed inside the part; only an input group can read the previous copy",
        "chain one of the part's input groups: x",
    ),
    (
        "chain_from_an_unknown_group",
        "{use: part.yaml, repeat: 2, chain: {xx: b}}",
        "",
        PART,
        "xx:",
        "cells.block.chain.xx",
        "'part.yaml' has no group 'xx'; did you mean 'x'?",
        "chain one of the part's input groups: x",
    ),
    (
        "chain_to_an_unknown_group",
        "{use: part.yaml, repeat: 2, chain: {x: bb}}",
        "",
        PART,
        "bb",
        "cells.block.chain.x",
        "'part.yaml' has no group 'bb'; did you mean 'b'?",
        "usually its last",
    ),
    (
        "chain_to_a_replaced_group",
        "{use: part.yaml, repeat: 2, chain: {x: x}}",
        "",
        PART,
        "x}",
        "cells.block.chain.x",
        "the part's 'x' is replaced through `bind:` or `chain:`, so a copy has none of its own to pass on",
        "chain to a group the part computes",
    ),
    (
        "chain_not_a_mapping",
        "{use: part.yaml, repeat: 2, chain: [x, b]}",
        "",
        PART,
        "[x",
        "cells.block.chain",
        "expected a mapping `part_input: part_group`, got a list",
        "e.g. `chain: {x: out}`",
    ),
    (
        "two_inputs_and_no_chain",
        "{use: part.yaml, repeat: 2}",
        "",
        TWO_INPUTS,
        "2",
        "cells.block.repeat",
        "'part.yaml' has 2 input groups (x, ctx); `repeat:` chains copies through exactly one",
        "`chain: {x: b}`",
    ),
    (
        "two_last_groups_and_no_chain",
        "{use: part.yaml, residual: true}",
        "",
        TWO_ENDS,
        "true",
        "cells.block.residual",
        "'part.yaml' has 2 last groups (b, c); `residual:` cannot tell which one the next copy reads",
        "`chain: {x: b}`",
    ),
    (
        "residual_with_two_chained_inputs",
        "{use: part.yaml, repeat: 2, residual: true, chain: {x: b, ctx: b}}",
        "",
        TWO_INPUTS,
        "true",
        "cells.block.residual",
        "`residual: true` skips from a copy's input to its output, and `chain:` names 2 inputs (x, ctx)",
        "write the skips inside the part",
    ),
    (
        "residual_twice",
        "{use: part.yaml, repeat: 2, residual: true, bind: {x: stem}}",
        "",
        SKIPPED,
        "true",
        "cells.block.residual",
        "'part.yaml' already connects x to b; `residual: true` would add that skip again",
        "remove `residual: true`",
    ),
    (
        "edge_into_a_bound_block",
        TEN,
        "  - stem -> block\n",
        PART,
        None,
        "edges[2]",
        "an edge into 'block' feeds nothing: its part's input groups are all bound",
        "remove this edge",
    ),
    (
        "edge_into_an_unbound_block",
        "{use: part.yaml, repeat: 10, residual: true}",
        "  - stem -> block\n",
        PART,
        None,
        "edges[2]",
        "'block' starts at the part's input group 'x', which a repeated part reads through `bind:`",
        "write `bind: {x: stem}` on 'block' instead of this edge",
    ),
    (
        "edge_into_a_later_copy",
        TEN,
        "  - {from: stem, to: block.2}\n",
        PART,
        None,
        "edges[2].to",
        "an edge into 'block.2' feeds nothing",
        "connect to one of its groups by name (stem -> block.2.<group>)",
    ),
    (
        "residual_true_on_a_plain_group",
        "{type: hidden, size: 8, repeat: 4, residual: true}",
        "",
        PART,
        "true",
        "cells.block.residual",
        "on a plain group, residual is a skip distance in groups, got",
        "`use: block.yaml, repeat: N, residual: true`",
    ),
    (
        "chain_on_a_plain_group",
        "{type: hidden, size: 8, repeat: 4, chain: {x: b}}",
        "",
        PART,
        "chain",
        "cells.block.chain",
        "'chain' is only valid with `use:`",
        "remove 'chain'",
    ),
    (
        "copies_that_cannot_chain",
        "{use: part.yaml, repeat: 3, bind: {x: stem}}",
        "",
        NARROWING,
        "3",
        "cells.block.repeat",
        "shape mismatch: the part's 'x' is [8] but 'block.1.b' is [2]",
        "bind a group of the same shape",
    ),
]


@pytest.mark.parametrize(
    ("body", "extra", "part", "at", "path", "message", "fix"),
    [case[1:] for case in MISUSES],
    ids=[case[0] for case in MISUSES],
)
def test_misuse_is_a_located_error(
    tmp_path: Path, body: str, extra: str, part: str, at: str | None, path: str, message: str, fix: str
) -> None:
    main = _main(tmp_path, body, extra, part)
    with pytest.raises(SpecError) as err:
        load_graph(main)
    problems = [p for p in err.value.problems if p.path == path]
    assert problems, str(err.value)
    problem = problems[0]
    assert Path(problem.loc.file).name == "main.yaml"
    assert message in problem.message and fix in problem.fix
    lines = MAIN.format(body=body, extra=extra).splitlines()
    if at is None:  # an edge (the last line written): at the group it enters
        assert (problem.loc.line, problem.loc.col) == (len(lines), lines[-1].rindex("block") + 1)
    else:
        assert problem.loc.line == BLOCK_LINE
        line = lines[BLOCK_LINE - 1]
        assert problem.loc.col == line.index(at) + 1, (problem.loc, line)


def test_a_misuse_exits_with_status_1_and_no_traceback(tmp_path: Path) -> None:
    main = _main(tmp_path, "{use: part.yaml, repeat: 2, residual: 2}")
    result = run_cli_process("validate", main)
    assert result.code == 1 and "Traceback" not in result.text
    assert f"main.yaml:{BLOCK_LINE}:" in result.text and "cells.block.residual" in result.text and "fix:" in result.text


def test_the_documented_example_validates() -> None:
    graph = load_graph(ROOT / "docs" / "examples" / "04_residual_blocks.yaml")
    assert len(_identity(graph)) == 10 and len(graph) == 23
