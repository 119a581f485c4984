"""The public names exist, the import direction holds, and validation never imports JAX."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import cellgraph

PACKAGE = ROOT / "cellgraph"

PUBLIC_NAMES = [
    "CellgraphError",
    "LimitError",
    "Limits",
    "Problem",
    "SourceLoc",
    "Spec",
    "SpecError",
    "build_graph",
    "load_graph",
    "load_spec",
    "load_spec_text",
    "summarize",
]


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_name_exists(name: str) -> None:
    assert name in cellgraph.__all__
    assert getattr(cellgraph, name) is not None


def test_all_lists_only_existing_names() -> None:
    missing = [n for n in cellgraph.__all__ if not hasattr(cellgraph, n)]
    assert missing == []
    assert sorted(cellgraph.__all__) == list(cellgraph.__all__)


def test_error_classes_form_one_tree() -> None:
    assert issubclass(cellgraph.SpecError, cellgraph.CellgraphError)
    assert issubclass(cellgraph.LimitError, cellgraph.SpecError)
    assert issubclass(cellgraph.CellgraphError, Exception)


# ----------------------------------------------------------------------------- import direction


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every cellgraph module ``path`` imports (anywhere in it, including inside functions)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "cellgraph")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "cellgraph":
                continue
            found.add(target)
            for alias in node.names:  # `from . import conv` imports the module cellgraph.cells.conv
                candidate = f"{target}.{alias.name}"
                if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists():
                    found.add(candidate)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = {_module_name(p): _imports(p) for p in MODULES}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


ABOVE_OPTIONS = [
    "cellgraph.spec",
    "cellgraph.cells",
    "cellgraph.graph",
    "cellgraph.data",
    "cellgraph.compiler",
    "cellgraph.render",
    "cellgraph.train",
    "cellgraph.cli",
    "cellgraph.schema",
]
"""Every layer above ``options`` (and ``access``), which they must never import."""
FORBIDDEN = {
    # layer -> cellgraph modules it must never import
    "errors": ["cellgraph"],  # nothing of cellgraph at all
    "typedefs": ["cellgraph"],
    "options": ABOVE_OPTIONS,
    # safe file access (the rule `use:` and CSV paths share): beside errors, below everything
    "access": [*ABOVE_OPTIONS, "cellgraph.options"],
    "spec": [
        "cellgraph.cells",
        "cellgraph.graph",
        "cellgraph.data",
        "cellgraph.compiler",
        "cellgraph.render",
        "cellgraph.train",
        "cellgraph.cli",
        "cellgraph.schema",
    ],
    "cells": [
        "cellgraph.spec",
        "cellgraph.graph",
        "cellgraph.data",
        "cellgraph.render",
        "cellgraph.train",
        "cellgraph.cli",
        "cellgraph.schema",
    ],
    "graph": ["cellgraph.render", "cellgraph.compiler", "cellgraph.train", "cellgraph.cli", "cellgraph.schema"],
}


def test_every_module_is_parsed() -> None:
    assert len(IMPORTS) >= 20
    assert "cellgraph.spec.load" in IMPORTS
    assert "cellgraph.spec.load" in IMPORTS["cellgraph.spec.compose"]  # the walker resolves relative imports
    assert "cellgraph.cells.conv" in IMPORTS["cellgraph.cells"]


@pytest.mark.parametrize("module", sorted(IMPORTS), ids=sorted(IMPORTS))
def test_import_direction(module: str) -> None:
    layer = _layer(module)
    forbidden = FORBIDDEN.get(layer, [])
    if layer in ("errors", "typedefs"):
        bad = sorted(IMPORTS[module])
    else:
        bad = sorted(m for m in IMPORTS[module] if _under(m, *forbidden))
    assert bad == [], f"{module} ({layer} layer) imports {bad}"


@pytest.mark.parametrize(
    "module", sorted(m for m in IMPORTS if _under(m, "cellgraph.data.catalog", "cellgraph.data")), ids=str
)
def test_data_catalog_imports_only_options_and_errors(module: str) -> None:
    allowed = ("cellgraph.options", "cellgraph.errors")
    if module == "cellgraph.data.catalog":
        assert all(_under(m, *allowed) for m in IMPORTS[module]), IMPORTS[module]
    else:
        assert not any(_under(m, "cellgraph.graph", "cellgraph.spec", "cellgraph.cells") for m in IMPORTS[module])


def test_nothing_below_the_top_imports_the_cli() -> None:
    users = sorted(m for m, imported in IMPORTS.items() if "cellgraph.cli" in imported and m != "cellgraph.cli")
    assert users == []


# --------------------------------------------------------------------------------------- no JAX

NO_JAX_SCRIPT = """
import json, sys
import cellgraph
from cellgraph.cli import main
graph = cellgraph.load_graph(sys.argv[1])
code = main(["validate", "-q", sys.argv[1]])
main(["summary", "--json", sys.argv[1]])
main(["schema"])
main(["cells"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "flax", "optax"))
print(json.dumps({"code": code, "nodes": graph.number_of_nodes(), "heavy": heavy}))
"""


def test_validation_never_imports_jax(tiny_spec: Path) -> None:
    spec = tiny_spec
    proc = subprocess.run(
        [sys.executable, "-c", NO_JAX_SCRIPT, str(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    assert report["nodes"] == 4
    assert report["heavy"] == []


def test_importing_cellgraph_never_imports_jax() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, cellgraph; print(any(m.startswith('jax') for m in sys.modules))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_load_spec_text_takes_a_path_for_its_file(tmp_path: Path) -> None:
    """``file`` may be a Path as well as a str: it names the text in errors and anchors ``use:``."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "block.yaml").write_text(
        "cellgraph: 1\nname: block\ncells:\n  x: {type: input, size: 3}\n  h: {type: hidden, size: 4}\nedges:\n  - x -> h\n",
        encoding="utf-8",
    )
    text = (
        "cellgraph: 1\nname: net\ncells:\n  x: {type: input, size: 3}\n"
        "  b: {use: parts/block.yaml, bind: {x: x}}\n  y: {type: output, size: 2}\nedges:\n  - b -> y\n"
    )
    spec = cellgraph.load_spec_text(text, tmp_path / "net.yaml")
    assert spec.name == "net"
    with pytest.raises(cellgraph.SpecError, match=r"bad\.yaml"):
        cellgraph.load_spec_text("cells: {", tmp_path / "bad.yaml")
