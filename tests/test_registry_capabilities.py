"""The cell registry is the single source of truth (issue 11).

What the graph builder, shape rules, compiler and renderer need to know about a cell type is a
capability on its :class:`~cellgraph.cells.CellType` record, so no module outside ``cells/``
compares a group's type with a name; each vocabulary (themes, initialisers) and the "did you
mean" helper is defined once; and a new cell type is a record, shown here by toy types that
compile, infer shapes and draw without any other module knowing their names.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import Counter

import jax
import pytest
from conftest import ROOT

import cellgraph
from cellgraph.cells import CELLS, ROLES, CellType
from cellgraph.cells.registry import ELMAN, GRU, INITS, LSTM, ShapeIn
from cellgraph.errors import did_you_mean
from cellgraph.options import Choice, check_options

PACKAGE = ROOT / "cellgraph"
CELL_NAMES = frozenset(CELLS)
FAMILIES = frozenset(c.family for c in CELLS.values())

# ------------------------------------------------------------------ no type names outside cells/

ALLOWED_NAMES: dict[str, Counter[str]] = {
    # Modules allowed to compare a group's type with a name, and how often: none left. Ask the
    # cell's capabilities instead (`d["cell"].is_output`, `.reconstructs`, `.probabilistic`,
    # `.backfed`, `.noisy`, `.is_plain`, ...); an exemption here may only shrink.
}
NOT_A_CELL_TYPE: dict[str, Counter[str]] = {
    # the same word meaning something else: here the data task `memory` (NTM/DNC data sets)
    "cellgraph/data/catalog.py": Counter({"memory": 3}),
}


def _names_in(node: ast.AST) -> list[str]:
    """Registered type names a literal spells: a string, or the strings of a tuple/list/set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in CELL_NAMES else []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [n for e in node.elts for n in _names_in(e)]
    return []


def type_names_used(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every cell type a module names where it decides something by type:
    a comparison or membership test (``t == "output"``, ``t in ("kernel", ...)``), a call
    argument (``_cells(graph, "output")``), or a table keyed by type names (``{"memory": 4}``;
    tables keyed by colour family, such as the print greys, are not type tables)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            out += [(node.lineno, n) for side in (node.left, *node.comparators) for n in _names_in(side)]
        elif isinstance(node, ast.Call):
            out += [(node.lineno, n) for a in node.args for n in _names_in(a)]
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if sum(k in CELL_NAMES for k in keys) >= 2 and not set(keys) <= FAMILIES:
                out += [(node.lineno, k) for k in keys if k in CELL_NAMES]
    return out


def _scan() -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("cellgraph/cells/"):
            continue
        used = type_names_used(ast.parse(path.read_text(encoding="utf-8"), rel))
        if used:
            found[rel] = used
    return found


def test_no_module_outside_the_registry_decides_by_cell_type_name() -> None:
    new = []
    for rel, used in _scan().items():
        allowed = ALLOWED_NAMES.get(rel, Counter()) + NOT_A_CELL_TYPE.get(rel, Counter())
        extra = Counter(n for _, n in used) - allowed
        new += [f"{rel}:{line}: {n!r}" for line, n in used if extra[n] > 0]
    assert new == [], "ask the cell's capabilities (cellgraph/cells/registry.py) instead of its name:\n" + "\n".join(
        new
    )


def test_the_allow_list_only_shrinks() -> None:
    """An entry fixed elsewhere must leave the list, so the exemption cannot be reused."""
    found = {rel: Counter(n for _, n in used) for rel, used in _scan().items()}
    stale = {
        rel: dict(allowed - found.get(rel, Counter()))
        for rel, allowed in ALLOWED_NAMES.items()
        if allowed - found.get(rel, Counter())
    }
    assert stale == {}, f"fixed: lower these counts in ALLOWED_NAMES {stale}"


def test_the_scan_sees_each_form_of_naming_a_type() -> None:
    """The scanner itself: every form is caught, and other strings and family tables are not."""
    code = """
if d["type"] == "capsule": pass
if t in ("kernel", "convolution"): pass
cells(graph, "output")
GATES = {"memory": 4, "gated_memory": 3}
GREYS = {"input": 1, "hidden": 2, "output": 3}
params["kernel"]
x == "relu"
"""
    assert sorted(n for _, n in type_names_used(ast.parse(code))) == sorted(
        ["capsule", "kernel", "convolution", "output", "memory", "gated_memory"]
    )


def test_the_chart_has_its_fourteen_cell_types() -> None:
    """Replaces the import-time ``assert len(CELLS) == 14``: adding a type is a new record only."""
    assert sorted(CELLS) == sorted(
        [
            "input",
            "backfed_input",
            "noisy_input",
            "hidden",
            "probabilistic_hidden",
            "spiking_hidden",
            "capsule",
            "output",
            "match_input_output",
            "recurrent",
            "memory",
            "gated_memory",
            "kernel",
            "convolution",
        ]
    )
    source = (PACKAGE / "cells" / "__init__.py").read_text(encoding="utf-8")
    assert not any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(source)))


# ---------------------------------------------------------------------------- the capabilities


def test_capabilities_of_the_chart_types() -> None:
    assert all(c.role in ROLES for c in CELLS.values())
    assert {n for n, c in CELLS.items() if c.is_source} == {"input", "backfed_input", "noisy_input"}
    assert {n for n, c in CELLS.items() if c.is_output} == {"output", "match_input_output"}
    assert {n for n, c in CELLS.items() if c.reconstructs} == {"match_input_output"}
    assert {n for n, c in CELLS.items() if c.noisy} == {"noisy_input"}
    assert {n for n, c in CELLS.items() if c.backfed} == {"backfed_input"}
    assert {n for n, c in CELLS.items() if c.probabilistic} == {"probabilistic_hidden"}
    assert {n for n, c in CELLS.items() if c.local_input} == {"kernel", "convolution"}
    assert {n for n, c in CELLS.items() if c.vector_valued} == {"capsule"}
    assert {n: c.recurrence for n, c in CELLS.items() if c.recurrent} == {
        "recurrent": ELMAN,
        "memory": LSTM,
        "gated_memory": GRU,
    }
    assert (ELMAN.gates, LSTM.gates, GRU.gates) == (1, 4, 3)
    assert LSTM.carry == ("h", "c") and ELMAN.carry == GRU.carry == ("h",)


def test_a_role_outside_the_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="role 'sink'"):
        dataclasses.replace(CELLS["output"], name="toy", role="sink")


@pytest.mark.parametrize("name", ["recurrent", "memory", "gated_memory"])
def test_parameter_counts_read_the_gate_count_of_the_recurrence(name: str) -> None:
    cell = CELLS[name]
    s = ShapeIn(cell.resolve({"size": 4}), (4,), (3,))
    gates = cell.gates(s.options)
    assert gates == cell.recurrence.gates  # type: ignore[union-attr]
    assert cell.count_params(s, (4,)) == gates * (3 * 4 + 4 * 4 + 4)
    assert CELLS["memory"].gates({"slots": 8}) == 1  # an external memory has no gates
    assert CELLS["hidden"].gates({}) == 1


def test_every_recurrence_and_implementation_pointer_resolves() -> None:
    from cellgraph.compiler import ops
    from cellgraph.compiler.protocol import CellFns, cell_fns

    for cell in CELLS.values():
        fns = cell_fns(cell)
        assert isinstance(fns, CellFns), cell.name
        if cell.recurrence is not None:
            assert cell.recurrence.name in ops.STEPS  # the one step function of its update rule
            if cell.impl.endswith(":RECURRENT"):  # the compiled recurrent layer steps through time
                assert fns.step is not None and fns.init_carry is not None


def test_a_type_without_an_implementation_is_refused_when_compiled() -> None:
    from cellgraph.compiler import CompileError
    from cellgraph.compiler.protocol import cell_fns

    with pytest.raises(CompileError, match="'toy' has no compiled implementation"):
        cell_fns(dataclasses.replace(CELLS["hidden"], name="toy", impl=""))


@pytest.mark.parametrize(
    ("shape", "vector", "drawn"), [((5,), False, 5), ((2, 3), False, 6), ((5, 8), True, 5), (None, False, 1)]
)
def test_cells_drawn(shape: tuple[int, ...] | None, vector: bool, drawn: int) -> None:
    cell = dataclasses.replace(CELLS["hidden"], vector_valued=vector)
    assert cell.cells_drawn(shape) == drawn


# ------------------------------------------------------- a new cell type is one record, nothing else


def _toy(monkeypatch: pytest.MonkeyPatch, name: str, like: str, **capabilities: object) -> CellType:
    cell = dataclasses.replace(CELLS[like], name=name, **capabilities)  # type: ignore[arg-type]
    monkeypatch.setitem(CELLS, name, cell)
    return cell


def _spec(cells: str, edges: str) -> cellgraph.Spec:
    return cellgraph.load_spec_text(f"cellgraph: 1\nname: toy\ncells:\n{cells}\nedges: [{edges}]\n", "toy.yaml")


def test_a_toy_output_type_is_an_output_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from cellgraph.graph.fit import label_outputs

    _toy(monkeypatch, "toy_readout", "output", family="hidden", reconstructs=False)
    spec = _spec("  x: {type: input, size: 3}\n  y: {type: toy_readout, size: 2, activation: softmax}", "x -> y")
    graph = cellgraph.build_graph(spec)
    assert list(label_outputs(graph)) == ["y"]  # the data-size check reads the role
    model = cellgraph.compile(spec)
    assert model.outputs == ("y",)  # the compiler reads the role
    out = model.forward(model.init(jax.random.key(0)), jax.numpy.ones((2, 3)))[0]["y"]
    assert out.shape == (2, 2)


def test_a_toy_reconstruction_takes_its_size_from_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    _toy(monkeypatch, "toy_decoder", "match_input_output")
    spec = _spec("  x: {type: input, size: 5}\n  h: {type: hidden, size: 2}\n  y: {type: toy_decoder}", "x -> h -> y")
    assert cellgraph.build_graph(spec).nodes["y"]["shape"] == (5,)


def test_a_toy_gated_type_gets_its_gates_from_its_recurrence(monkeypatch: pytest.MonkeyPatch) -> None:
    _toy(monkeypatch, "toy_gru", "gated_memory")
    spec = _spec("  x: {type: input, size: 3, sequence: true}\n  h: {type: toy_gru, size: 4}", "x -> h")
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    assert params["h"]["w_in"].shape == (3, GRU.gates * 4)
    assert model.graph.nodes["h"]["params"] == GRU.gates * (3 * 4 + 4 * 4 + 4)
    out = model.forward(params, jax.numpy.ones((2, 5, 3)))[0]["h"]
    assert out.shape == (2, 5, 4)


def test_toy_local_and_vector_types_choose_edge_kinds_and_drawn_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    from cellgraph.graph.drawspec import shown_count

    _toy(monkeypatch, "toy_pool", "convolution")
    _toy(monkeypatch, "toy_capsule", "capsule")
    spec = _spec(
        "  x: {type: input, shape: [4, 4, 1]}\n  p: {type: toy_pool}\n"
        "  a: {type: toy_capsule, size: 3, dim: 4}\n  b: {type: toy_capsule, size: 2, dim: 4}",
        "x -> p, p -> a, a -> b",
    )
    graph = cellgraph.build_graph(spec)
    assert graph.edges["x", "p"]["kind"] == "local"
    assert graph.edges["a", "b"]["kind"] == "routing"
    assert graph.edges["p", "a"]["kind"] == "dense"
    assert shown_count(graph, "a", {}, 6) == 3  # three capsules of four values: three cells


# --------------------------------------------------------------------------- vocabularies, once


def test_theme_names_are_defined_once() -> None:
    from cellgraph.graph.drawspec import DRAW_KEYS, THEMES
    from cellgraph.render import theme

    assert theme.THEMES is THEMES
    assert tuple(theme.THEME) == THEMES  # one palette per name, in the same order
    assert DRAW_KEYS["theme"].kind.values is THEMES
    with pytest.raises(cellgraph.render.RenderError, match="theme must be one of chart, light, dark, print"):
        cellgraph.render.api._check_choices({"theme": "neon"})


def test_cells_and_edges_share_one_initialiser_list_and_the_compiler_implements_it() -> None:
    from cellgraph.compiler.cells import _initializer
    from cellgraph.graph.build import EDGE_OPTIONS

    assert EDGE_OPTIONS["init"].kind.values is INITS
    assert CELLS["hidden"].options["init"].kind.values is INITS
    for name in INITS:
        w = _initializer({"init": name}, "glorot_uniform")(jax.random.key(0), (4, 4))
        assert w.shape == (4, 4), name


def test_one_did_you_mean_helper() -> None:
    """Choices, option keys and aliases all say it the same way, through errors.did_you_mean."""
    assert Choice(("relu", "tanh")).check("rellu") == "expected one of relu, tanh; got 'rellu'; did you mean 'relu'?"
    problems: list[str] = []
    check_options({"sise": 3}, {"size": None}, lambda k, m, f: problems.append(m), "a group")
    assert problems == ["unknown key 'sise' in a group; did you mean 'size'?"]
    assert did_you_mean("lr", ["learning_rate", "lr_decay"], {"lr": "learning_rate"}) == (
        "; did you mean 'learning_rate'?"
    )
    assert did_you_mean("betas", ["b1", "b2"], {"betas": ("b1", "b2")}) == "; did you mean 'b1' and 'b2'?"
    assert did_you_mean("betas", ["b1"], {"betas": ("b1", "b2")}) == ""  # an alias only when it applies
    importers = [
        p.relative_to(ROOT).as_posix()
        for p in sorted(PACKAGE.rglob("*.py"))
        if "difflib" in p.read_text(encoding="utf-8") and p.name != "errors.py"
    ]
    assert importers == []
