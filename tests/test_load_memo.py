"""load_graph remembers a valid spec's graph, and never gives it for changed input.

A search or a benchmark loads one spec hundreds of times, so :func:`cellgraph.graph.load_graph`
keeps the last graphs it built. These tests change each thing a load depends on -- the spec's
text, a part it uses, the overrides, the working folder -- and check the next load sees it; and
that a caller's edits to a given graph never reach the next caller.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cellgraph.errors import SpecError
from cellgraph.graph import load_graph
from cellgraph.graph.api import _LOADED

PART = """
cellgraph: 1
name: body
params: {width: 4}
cells:
  x: {type: input, size: 3}
  h: {type: hidden, size: '${width}'}
  y: {type: output, size: 2}
edges:
  - x -> h -> y
"""

SPEC = """
cellgraph: 1
name: outer
params: {width: 5}
cells:
  net: {use: part.yaml, params: {width: '${width}'}}
edges: []
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")  # the project the part lies in
    (tmp_path / "part.yaml").write_text(PART, encoding="utf-8")
    path = tmp_path / "outer.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def _width(graph: object) -> int:
    return int(graph.nodes["net.h"]["shape"][-1])  # type: ignore[attr-defined]


def test_a_changed_spec_or_part_is_read_again(spec: Path) -> None:
    assert _width(load_graph(spec)) == 5
    assert any(str(spec) in key for key in _LOADED)  # remembered: the next loads check its texts
    spec.write_text(SPEC.replace("width: 5", "width: 7"), encoding="utf-8")
    assert _width(load_graph(spec)) == 7
    part = spec.parent / "part.yaml"
    part.write_text(PART.replace("size: 2", "size: 9"), encoding="utf-8")
    assert load_graph(spec).nodes["net.y"]["shape"][-1] == 9
    part.write_text(PART.replace("type: hidden", "type: hiden"), encoding="utf-8")  # now invalid
    with pytest.raises(SpecError, match="hiden"):
        load_graph(spec)
    part.unlink()
    with pytest.raises(SpecError, match="part.yaml"):
        load_graph(spec)


def test_overrides_and_the_working_folder_are_part_of_what_is_remembered(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _width(load_graph(spec, {"width": 3})) == 3
    assert _width(load_graph(spec)) == 5
    assert _width(load_graph(spec, {"width": 3})) == 3
    monkeypatch.chdir(spec.parent)
    assert _width(load_graph("outer.yaml")) == 5
    other = spec.parent / "elsewhere"
    other.mkdir()
    (other / "outer.yaml").write_text(SPEC.replace("width: 5", "width: 6"), encoding="utf-8")
    (other / "part.yaml").write_text(PART, encoding="utf-8")
    monkeypatch.chdir(other)  # the same relative path names another file now
    assert _width(load_graph("outer.yaml")) == 6


def test_a_callers_changes_to_its_graph_stay_its_own(spec: Path) -> None:
    load_graph(spec)
    first = load_graph(spec)  # given from memory
    first.graph["params"] = {"total": -1}
    first.nodes["net.h"]["shape"] = (99,)
    first.remove_node("net.y")
    second = load_graph(spec)
    assert "net.y" in second and _width(second) == 5 and second.graph["params"]["total"] > 0
    assert second is not first
