"""`cellgraph view` for networks that train by backprop but hold something to look at.

A memory network's heads and a capsule network's class capsules are what their readers judge
them by, so ``cellgraph view`` picks those views by what the graph holds when the training rule
has no view of its own; a network holding neither is refused before any work, with the fix.
The memory network here is written in the test (a copy task with a two-row controller and an
8 x 6 NTM memory), not taken from specs/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cellgraph.graph import load_graph
from cellgraph.views import HELD_VIEWS, check_viewable, describe, held

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "specs" / "zoo"

OWN_MEMORY = """
cellgraph: 1
name: small_copier
cells:
  x: {type: input, size: 5, sequence: true}
  c: {type: hidden, size: 24}
  m: {type: memory, slots: 8, width: 6, heads: 1, addressing: ntm}
  y: {type: output, size: 4, activation: sigmoid}
edges:
  - x -> c -> m -> y
  - m ~> c
train: {rule: backprop, loss: bce, metrics: [bit_errors], step_mask: data, steps: 4, batch_size: 4}
data: {source: copy_task, n: 64, width: 4, min_length: 1, max_length: 3, split: {test: 0.25, seed: 0}}
"""


@pytest.mark.parametrize(
    ("spec", "what"),
    [(ZOO / "ntm.yaml", "external memory"), (ZOO / "dnc.yaml", "external memory"), (ZOO / "cn.yaml", "class capsules")],
)
def test_memory_and_capsule_networks_are_viewable_by_what_they_hold(spec: Path, what: str) -> None:
    graph = load_graph(spec)
    assert held(graph) == what and check_viewable(graph) == what and what in HELD_VIEWS
    assert describe(what) == f"a network's {what}"


def test_a_network_holding_neither_is_refused_with_the_fix(run_cli: Any, tmp_path: Path) -> None:
    assert held(load_graph(ZOO / "dff.yaml")) is None
    out = run_cli("view", ZOO / "dff.yaml", "--run", tmp_path / "none", "-o", tmp_path / "v.png")
    assert out.code == 1 and "has neither" in out.err and "cellgraph sample" in out.err, out.err
    assert not (tmp_path / "v.png").exists()


def test_cellgraph_view_draws_a_memory_network_of_ones_own(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    Path("copier.yaml").write_text(OWN_MEMORY, encoding="utf-8")
    trained = run_cli("train", "copier.yaml", "--save", "copier.model", "--no-resume")
    assert trained.code == 0, trained.err
    out = run_cli("view", "--run", "copier.model", "-o", "memory.png")
    assert out.code == 0, out.err
    assert "the view of a network's external memory" in out.out
    with Image.open("memory.png") as image:  # the panels: input, target, output, weightings, memory
        assert image.format == "PNG" and min(image.size) > 300
