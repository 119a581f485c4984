"""The graph core, checked by hand: shapes, parameter counts, cycles, repeats and composition.

Every number here is worked out on paper from the cell's definition (micrograd's oracle habit):
a dense group of n cells fed by m values owns m*n weights and n biases; an LSTM layer owns
4*(m*n + n*n + n); and so on.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import networkx as nx
import pytest

from cellgraph import SpecError, build_graph, load_graph, load_spec_text, summarize
from cellgraph.graph.drawspec import drawn_groups

HEADER = "cellgraph: 1\nname: t\n"


def graph_of(body: str) -> nx.DiGraph:
    return build_graph(load_spec_text(HEADER + textwrap.dedent(body)))


def errors_of(body: str) -> str:
    with pytest.raises(SpecError) as err:
        graph_of(body)
    return str(err.value)


def params(graph: nx.DiGraph, node: str) -> int:
    """What a group owns: its own weights and biases plus those of delayed / symmetric edges into it."""
    d = graph.nodes[node]
    return d.get("params", 0) + d.get("edge_params", 0)


# ------------------------------------------------------------------------------------- dense


def test_dense_chain() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 3}
          h: {type: hidden, size: 4}
          y: {type: output, size: 2}
        edges:
          - x -> h -> y
    """)
    assert [g.nodes[n]["shape"] for n in g] == [(3,), (4,), (2,)]
    assert [params(g, n) for n in g] == [0, 3 * 4 + 4, 4 * 2 + 2]
    assert g.graph["params"] == {"trainable": 26, "fixed": 0, "total": 26}
    assert [g.edges[e]["kind"] for e in g.edges] == ["dense", "dense"]


def test_no_bias() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 3}
          y: {type: output, size: 2, use_bias: false}
        edges:
          - x -> y
    """)
    assert params(g, "y") == 6


def test_fan_in_concatenates() -> None:
    g = graph_of("""
        cells:
          a: {type: input, size: 2}
          b: {type: input, size: 3}
          h: {type: hidden, size: 4}
        edges:
          - a, b -> h
    """)
    assert params(g, "h") == (2 + 3) * 4 + 4


def test_fan_in_of_maps_concatenates_channels() -> None:
    g = graph_of("""
        cells:
          a: {type: input, shape: [4, 4, 2]}
          b: {type: input, shape: [4, 4, 3]}
          k: {type: kernel, window: 3, channels: 5}
        edges:
          - a, b -> k
    """)
    assert g.nodes["k"]["shape"] == (4, 4, 5)
    assert params(g, "k") == 3 * 3 * (2 + 3) * 5 + 5


def test_merge_add_sums_equal_shapes() -> None:
    g = graph_of("""
        cells:
          a: {type: input, size: 3}
          b: {type: input, size: 3}
          h: {type: hidden, size: 4}
        edges:
          - a -> h: {merge: add}
          - b -> h: {merge: add}
    """)
    assert params(g, "h") == 3 * 4 + 4


def test_fan_out_feeds_each_target() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 3}
          a: {type: hidden, size: 2}
          b: {type: hidden, size: 5}
        edges:
          - x -> a, b
    """)
    assert (params(g, "a"), params(g, "b")) == (3 * 2 + 2, 3 * 5 + 5)


def test_identity_edge_carries_no_weights() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 3}
          a: {type: hidden, size: 4}
          b: {type: hidden, size: 4}
          c: {type: hidden, size: 4}
        edges:
          - x -> a -> b -> c
          - a => c
    """)
    assert g.edges["a", "c"]["kind"] == "identity"
    assert params(g, "c") == 4 * 4 + 4  # only b -> c is a weight matrix
    assert g.graph["params"]["total"] == (3 * 4 + 4) + 2 * (4 * 4 + 4)


# ------------------------------------------------------------------------- convolution arithmetic

CONV_CASES = [
    # input shape, cell, expected shape, expected parameters
    ([8, 8, 1], "{type: kernel, window: 3, channels: 4}", (8, 8, 4), 3 * 3 * 1 * 4 + 4),
    ([8, 8, 1], "{type: kernel, window: 3, padding: valid, channels: 4}", (6, 6, 4), 3 * 3 * 1 * 4 + 4),
    ([8, 8, 2], "{type: kernel, window: 3, stride: 2}", (4, 4, 2), 3 * 3 * 2 * 2 + 2),
    ([8, 8, 1], "{type: kernel, window: [3, 5], padding: valid}", (6, 4, 1), 3 * 5 + 1),
    ([10, 3], "{type: kernel, window: 3, channels: 4}", (10, 4), 3 * 3 * 4 + 4),
    ([8, 8, 4], "{type: convolution, op: max_pool}", (4, 4, 4), 0),
    ([15, 15, 5], "{type: convolution, op: avg_pool, window: 3, stride: 2}", (7, 7, 5), 0),
    ([5, 5, 1], "{type: convolution, op: max_pool, padding: same}", (3, 3, 1), 0),
    ([4, 4, 3], "{type: convolution, op: upsample}", (8, 8, 3), 0),
    (
        [8, 8, 4],
        "{type: convolution, op: transpose, window: 3, stride: 2, channels: 2}",
        (17, 17, 2),
        3 * 3 * 4 * 2 + 2,
    ),
    (
        [4, 4, 3],
        "{type: convolution, op: transpose, stride: 2, padding: same, channels: 6}",
        (8, 8, 6),
        2 * 2 * 3 * 6 + 6,
    ),
    ([17, 17, 2], "{type: convolution, op: conv, window: 3, channels: 5}", (15, 15, 5), 3 * 3 * 2 * 5 + 5),
    ([9, 9, 1], "{type: convolution, op: conv, window: 3, stride: 2, channels: 2}", (4, 4, 2), 3 * 3 * 1 * 2 + 2),
]


@pytest.mark.parametrize(
    ("shape", "cell", "out", "count"),
    CONV_CASES,
    ids=[
        "kernel-same",
        "kernel-valid",
        "kernel-stride",
        "kernel-rect",
        "kernel-1d",
        "max-pool",
        "avg-pool",
        "pool-same",
        "upsample",
        "transpose-valid",
        "transpose-same",
        "conv-valid",
        "conv-stride",
    ],
)
def test_convolution_arithmetic(shape: list[int], cell: str, out: tuple[int, ...], count: int) -> None:
    g = graph_of(f"""
        cells:
          x: {{type: input, shape: {shape}}}
          c: {cell}
        edges:
          - x -> c
    """)
    assert g.nodes["c"]["shape"] == out
    assert params(g, "c") == count
    assert g.edges["x", "c"]["kind"] == "local"


def test_declared_shape_must_match_the_inferred_one() -> None:
    text = errors_of("""
        cells:
          x: {type: input, shape: [8, 8, 1]}
          p: {type: convolution, op: max_pool, shape: [3, 3, 1]}
        edges:
          - x -> p
    """)
    assert "the group declares [3, 3, 1] but its input [8, 8, 1] gives [4, 4, 1]" in text


def test_windowed_hidden_group_is_a_local_connection() -> None:
    g = graph_of("""
        cells:
          x: {type: input, shape: [6, 6, 1]}
          h: {type: hidden, shape: [6, 6, 2], window: 3}
        edges:
          - x -> h
    """)
    assert g.edges["x", "h"]["kind"] == "local"
    assert params(g, "h") == 3 * 3 * 1 * 2 + 2


# ------------------------------------------------------------------------------------ recurrent


@pytest.mark.parametrize(("cell", "gates"), [("recurrent", 1), ("gated_memory", 3), ("memory", 4)])
def test_recurrent_layers(cell: str, gates: int) -> None:
    g = graph_of(f"""
        cells:
          x: {{type: input, size: 3, sequence: true}}
          r: {{type: {cell}, size: 5}}
          y: {{type: output, size: 1}}
        edges:
          - x -> r -> y
    """)
    m, n = 3, 5
    assert params(g, "r") == gates * (m * n + n * n + n)  # LSTM: 4 * (in*n + n*n + n)
    assert g.nodes["r"]["shape"] == (5,)
    assert g.nodes["y"]["timed"] is True


def test_lstm_without_bias_and_with_two_inputs() -> None:
    g = graph_of("""
        cells:
          a: {type: input, size: 3}
          b: {type: input, size: 2}
          m: {type: memory, size: 5, use_bias: false}
        edges:
          - a, b -> m
    """)
    assert params(g, "m") == 4 * (5 * 5 + 5 * 5)


def test_emit_last_ends_the_sequence() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 3, sequence: true}
          r: {type: gated_memory, size: 4, emit: last}
          y: {type: output, size: 1}
        edges:
          - x -> r -> y
    """)
    assert g.nodes["x"]["timed"] is True
    assert g.nodes["r"]["timed"] is False
    assert g.nodes["y"]["timed"] is False


def test_external_memory_reads_heads_times_width() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 6}
          c: {type: hidden, size: 10}
          m: {type: memory, slots: 16, width: 8, heads: 2, addressing: ntm}
        edges:
          - x -> c -> m
          - m ~> c
    """)
    assert g.nodes["m"]["shape"] == (16,)  # what the heads read: heads x width


# ------------------------------------------------------------------------------------- capsules


def test_capsule_routing() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 16}
          p: {type: capsule, size: 4, dim: 8}
          q: {type: capsule, size: 3, dim: 16}
          y: {type: output, size: 2}
        edges:
          - x -> p -> q -> y
    """)
    assert (g.nodes["p"]["shape"], g.nodes["q"]["shape"]) == ((4, 8), (3, 16))
    assert g.edges["x", "p"]["kind"] == "dense"
    assert g.edges["p", "q"]["kind"] == "routing"
    assert params(g, "p") == 16 * (4 * 8) + 4 * 8  # primary capsules: dense to size x dim
    assert params(g, "q") == 4 * 3 * 8 * 16  # a transform W_ij per capsule pair, no bias
    assert params(g, "y") == (3 * 16) * 2 + 2


# ------------------------------------------------------------------------ symmetric and delayed


def test_symmetric_edge_is_one_matrix() -> None:
    g = graph_of("""
        cells:
          v: {type: backfed_input, size: 3}
          h: {type: probabilistic_hidden, size: 4}
        edges:
          - v -- h
    """)
    assert g.edges["v", "h"]["kind"] == "symmetric"
    assert g.edges["v", "h"]["params"] == 3 * 4
    assert not g.has_edge("h", "v")  # one edge, used both ways
    # an RBM: W (3 x 4), a visible bias per v and a hidden bias per h
    assert g.graph["params"]["total"] == 3 * 4 + 3 + 4


def test_all_to_all_inside_a_group_has_no_self_connections() -> None:
    g = graph_of("""
        cells:
          s: {type: backfed_input, size: 8, values: bipolar}
        edges:
          - s -- s
    """)
    assert g.edges["s", "s"]["kind"] == "symmetric"
    assert g.edges["s", "s"]["params"] == 8 * 7 // 2  # symmetric, zero diagonal


def test_delayed_edges_carry_weights() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 2}
          h: {type: hidden, size: 3}
          y: {type: output, size: 1}
        edges:
          - x -> h -> y
          - h ~> h
          - y ~> h
    """)
    assert (g.edges["h", "h"]["delay"], g.edges["y", "h"]["delay"]) == (1, 1)
    assert g.edges["h", "h"]["params"] == 3 * 3
    assert g.edges["y", "h"]["params"] == 1 * 3
    assert params(g, "h") == (2 * 3 + 3) + 9 + 3
    assert g.graph["params"]["total"] == 21 + (3 * 1 + 1)


def test_fixed_weights_are_counted_as_fixed() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 2}
          h: {type: hidden, size: 3, trainable: false}
          r: {type: hidden, size: 3}
          y: {type: output, size: 1}
        edges:
          - x -> h -> r -> y
          - r ~> r: {trainable: false}
    """)
    h, r_own, r_loop, y = 2 * 3 + 3, 3 * 3 + 3, 3 * 3, 3 * 1 + 1
    assert g.graph["params"] == {"trainable": r_own + y, "fixed": h + r_loop, "total": h + r_own + r_loop + y}
    assert g.nodes["h"]["trainable"] is False


def test_fixed_reservoir_with_sparse_scaled_loop() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 1}
          r: {type: recurrent, size: 10, trainable: false}
          y: {type: output, size: 1}
        edges:
          - x -> r -> y
          - r ~> r: {density: 0.1, scale: 0.9, trainable: false}
    """)
    assert g.edges["r", "r"]["options"]["density"] == 0.1
    assert g.graph["params"]["trainable"] == 10 * 1 + 1


# ---------------------------------------------------------------------------------------- cycles


LEGAL_CYCLES = {
    "delayed": ["x -> a -> b -> y", "b ~> a"],
    "symmetric": ["x -> a -> b -> y", "b -> c", "c -- a"],
    "through-recurrent": ["x -> r -> a -> y", "a -> r"],
    "through-recurrent-backwards": ["x -> a -> r -> y", "r -> a"],
    "recurrent-self": ["x -> r -> y", "r -> r"],
    "delayed-self": ["x -> a -> y", "a ~> a"],
    "two-recurrent": ["x -> r -> m -> y", "m -> r"],
}


@pytest.mark.parametrize("edges", list(LEGAL_CYCLES.values()), ids=list(LEGAL_CYCLES))
def test_legal_cycles(edges: list[str]) -> None:
    cells = {"x": "input", "a": "hidden", "b": "hidden", "c": "hidden", "r": "recurrent", "m": "memory", "y": "output"}
    used = {name for e in edges for name in e.replace("->", " ").replace("--", " ").replace("~>", " ").split()}
    listed = "".join(f"  {n}: {{type: {t}, size: 3}}\n" for n, t in cells.items() if n in used)
    g = build_graph(load_spec_text(HEADER + "cells:\n" + listed + "edges:\n" + "".join(f"  - {e}\n" for e in edges)))
    within_step = nx.DiGraph()
    within_step.add_edges_from(
        (u, v)
        for u, v, d in g.edges(data=True)
        if d["delay"] == 0 and d["kind"] != "symmetric" and not d["feedback"] and u != v
    )
    assert nx.is_directed_acyclic_graph(within_step)
    assert all(g.nodes[n].get("shape") == (3,) for n in g)


def test_cycle_without_delay_names_its_cells() -> None:
    text = errors_of("""
        cells:
          x: {type: input, size: 2}
          a: {type: hidden, size: 3}
          b: {type: hidden, size: 3}
          c: {type: hidden, size: 3}
        edges:
          - x -> a -> b -> c
          - c -> a
    """)
    [line] = [line for line in text.splitlines() if "cycle with no delay" in line]
    assert line.startswith("<spec>:11:5: edges[1]: cycle with no delay: ")
    for name in ("a", "b", "c"):
        assert f"{name} ->" in line or f"-> {name}" in line
    assert "`c ~> a`" in text


def test_hidden_self_loop_is_illegal() -> None:
    assert "'h' feeds itself within one time step" in errors_of("""
        cells:
          x: {type: input, size: 2}
          h: {type: hidden, size: 3}
        edges:
          - x -> h
          - h -> h
    """)


# --------------------------------------------------------------------------- repeat and residual


def test_repeat_chains_copies_in_order() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 2}
          h: {type: hidden, size: 3, repeat: 3}
          y: {type: output, size: 1}
        edges:
          - x -> h -> y
    """)
    assert list(g) == ["x", "h.1", "h.2", "h.3", "y"]
    assert sorted(g.edges) == [("h.1", "h.2"), ("h.2", "h.3"), ("h.3", "y"), ("x", "h.1")]
    assert [g.nodes[n]["repeat"] for n in ("h.1", "h.2", "h.3")] == [(1, 3), (2, 3), (3, 3)]
    assert g.graph["spec"].groups["h"] == ("h.1", "h.2", "h.3")
    assert g.edges["h.1", "h.2"]["implicit"] is True
    assert g.edges["x", "h.1"]["implicit"] is False


def test_copies_are_addressable_and_self_edges_repeat() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 2}
          h: {type: hidden, size: 3, repeat: 2}
        edges:
          - x -> h
          - x -> h.2
          - h ~> h
    """)
    assert g.has_edge("x", "h.2")
    assert params(g, "h.2") == (3 + 2) * 3 + 3 + 3 * 3  # h.1 and x concatenated, plus its own loop
    assert all(g.has_edge(n, n) and g.edges[n, n]["delay"] == 1 for n in ("h.1", "h.2"))


@pytest.mark.parametrize(
    ("repeat", "residual", "skips"),
    [(5, 2, [(1, 3), (3, 5)]), (7, 3, [(1, 4), (4, 7)]), (6, 2, [(1, 3), (3, 5)]), (3, 2, [(1, 3)])],
    ids=["5-by-2", "7-by-3", "6-by-2", "3-by-2"],
)
def test_residual_adds_identity_skips(repeat: int, residual: int, skips: list[tuple[int, int]]) -> None:
    g = graph_of(f"""
        cells:
          x: {{type: input, size: 2}}
          h: {{type: hidden, size: 2, repeat: {repeat}, residual: {residual}}}
        edges:
          - x -> h
    """)
    identity = sorted((u, v) for u, v, d in g.edges(data=True) if d["kind"] == "identity")
    assert identity == sorted((f"h.{i}", f"h.{j}") for i, j in skips)
    assert all(g.edges[e]["implicit"] for e in identity)


# ---------------------------------------------------------------------------------- composition


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


BLOCK = """\
    cellgraph: 1
    name: block
    params: {width: 3}
    cells:
      a:
        type: hidden
        size: ${width}
      b: {type: hidden, size: 2}
    edges:
      - a -> b
    """

ENCODER = """\
    cellgraph: 1
    name: encoder
    cells:
      i: {type: input, size: 4}
      z: {type: hidden, size: 2}
    edges:
      - i -> z
    """


def test_use_inlines_a_part_with_its_params(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").touch()  # a project: `../parts` of nets/ lies inside it
    _write(tmp_path, "parts/block.yaml", BLOCK)
    main = _write(
        tmp_path,
        "nets/main.yaml",
        """\
        cellgraph: 1
        name: main
        cells:
          x: {type: input, size: 4}
          p: {use: ../parts/block.yaml, params: {width: 5}}
          y: {type: output, size: 1}
        edges:
          - x -> p -> y
        """,
    )
    g = load_graph(main)
    assert list(g) == ["x", "p.a", "p.b", "y"]
    assert sorted(g.edges) == [("p.a", "p.b"), ("p.b", "y"), ("x", "p.a")]  # enters sources, leaves sinks
    assert g.nodes["p.a"]["shape"] == (5,)
    assert [params(g, n) for n in g] == [0, 4 * 5 + 5, 5 * 2 + 2, 2 * 1 + 1]
    assert g.nodes["p.a"]["origin"] == "p"
    assert g.nodes["p.a"]["loc"].file.endswith("block.yaml")  # problems in a part point into the part


def test_group_cell_addressing_and_two_copies_of_a_part(tmp_path: Path) -> None:
    _write(tmp_path, "block.yaml", BLOCK)
    main = _write(
        tmp_path,
        "main.yaml",
        """\
        cellgraph: 1
        name: main
        cells:
          x: {type: input, size: 4}
          p: {use: block.yaml}
          q: {use: block.yaml, params: {width: 6}}
        edges:
          - x -> p
          - x -> p.b
          - p.a -> q
        """,
    )
    g = load_graph(main)
    assert {"p.a", "p.b", "q.a", "q.b"} <= set(g)
    assert params(g, "p.b") == (3 + 4) * 2 + 2  # p.a and x concatenated
    assert params(g, "q.a") == 3 * 6 + 6


def test_bind_replaces_a_parts_input(tmp_path: Path) -> None:
    _write(tmp_path, "encoder.yaml", ENCODER)
    main = _write(
        tmp_path,
        "main.yaml",
        """\
        cellgraph: 1
        name: main
        cells:
          x: {type: input, size: 4}
          e: {use: encoder.yaml, bind: {i: x}}
          y: {type: output, size: 4}
        edges:
          - e -> y
        """,
    )
    g = load_graph(main)
    assert list(g) == ["x", "e.z", "y"]
    assert g.has_edge("x", "e.z")
    assert [name for name, _, _ in drawn_groups(g)] == ["x", "e.z", "y"]  # the bound input is drawn once


def test_bind_to_a_group_of_another_shape_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "encoder.yaml", ENCODER)
    main = _write(
        tmp_path,
        "main.yaml",
        """\
        cellgraph: 1
        name: main
        cells:
          x: {type: input, size: 3}
          e: {use: encoder.yaml, bind: {i: x}}
        edges: []
        """,
    )
    with pytest.raises(SpecError) as err:
        load_graph(main)
    assert "main.yaml:5:36: cells.e.bind.i: shape mismatch: the part's 'i' is [4] but 'x' is [3]" in str(err.value)


def test_nested_parts_get_nested_names(tmp_path: Path) -> None:
    _write(tmp_path, "block.yaml", BLOCK)
    _write(
        tmp_path,
        "mid.yaml",
        """\
        cellgraph: 1
        name: mid
        cells:
          inner: {use: block.yaml}
          c: {type: hidden, size: 2}
        edges:
          - inner -> c
        """,
    )
    main = _write(
        tmp_path,
        "main.yaml",
        """\
        cellgraph: 1
        name: main
        cells:
          x: {type: input, size: 4}
          m: {use: mid.yaml}
        edges:
          - x -> m
        """,
    )
    g = load_graph(main)
    assert list(g) == ["x", "m.inner.a", "m.inner.b", "m.c"]
    assert g.has_edge("x", "m.inner.a") and g.has_edge("m.inner.b", "m.c")


# ------------------------------------------------------------------------------------- summary


def test_summarize_rows_follow_drawing_order() -> None:
    g = graph_of("""
        cells:
          x: {type: input, size: 3, sequence: true}
          r: {type: recurrent, size: 2, trainable: false}
          y: {type: output, size: 1}
        edges:
          - x -> r -> y
    """)
    rows = summarize(g)
    assert [(r.name, r.type, r.shape, r.params, r.trainable, r.timed) for r in rows] == [
        ("x", "input", "3", 0, True, True),
        ("r", "recurrent", "2", 3 * 2 + 2 * 2 + 2, False, True),
        ("y", "output", "1", 2 + 1, True, True),
    ]


@pytest.mark.parametrize("show", ["1" + "0" * 400, "0", "big"], ids=["overflow", "zero", "text"])
def test_a_parts_bad_show_is_located_at_the_use(tmp_path: Path, show: str) -> None:
    """A part's draw block is not validated with the part; the `show:` it passes on is checked
    where it lands (found by the fuzzer: 10^400 became inf and int(inf) raised OverflowError)."""
    (tmp_path / "pyproject.toml").touch()
    _write(tmp_path, "block.yaml", BLOCK + f"draw: {{groups: {{a: {{show: {show}}}}}}}\n")
    main = _write(
        tmp_path,
        "main.yaml",
        """\
        cellgraph: 1
        name: main
        cells:
          x: {type: input, size: 4}
          p: {use: block.yaml}
          y: {type: output, size: 1}
        edges:
          - x -> p -> y
        """,
    )
    with pytest.raises(SpecError) as info:
        load_graph(main)
    assert "main.yaml:5:12: cells.p.use: the part's `draw.groups.a.show`" in info.value.format()
