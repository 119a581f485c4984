"""Issue 13's "done when": a corpus of non-zoo networks draws cleanly in both views, by automatic layout.

tests/drawing_corpus/*.yaml are small specs of the structures new users draw (two inputs, heads,
towers, a U-Net, encoder-decoders, dense and residual skips, feedback, complete graphs, deep
repeats, wide groups, ...), none with a ``draw:`` block: the layout engine must place them
itself. Each is rendered in the cells and the layers view and measured on the SVG with
tests/svg_geometry.py: no line through a cell it does not join, no two connections on top of
each other, every group of the spec drawn, and the layers view within 10 % of the 16:9 slide
aspect. One test per check, so a failure says which check and which drawing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import svg_geometry as sg
import yaml

from cellgraph.render import render

CORPUS = Path(__file__).resolve().parent / "drawing_corpus"
FILES = sorted(CORPUS.glob("*.yaml"))
VIEWS = ("cells", "layers")
TARGET_ASPECT = 16 / 9
ASPECT_TOLERANCE = 0.10

CASES = [pytest.param(f, v, id=f"{f.stem}-{v}") for f in FILES for v in VIEWS]


@cache
def _svg(path: Path, view: str) -> str:
    """One render per (spec, view), shared by the checks below (rendering dominates their time)."""
    return render(path, view=view).svg


@cache
def _drawing(path: Path, view: str) -> sg.Drawing:
    return sg.parse(_svg(path, view))


def _top_level_groups(path: Path) -> list[str]:
    """The keys of the spec's ``cells:`` mapping: a repeated group by its name, a part by its group name."""
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["cells"])


def test_the_corpus_has_at_least_25_specs() -> None:
    assert len(FILES) >= 25, [f.name for f in FILES]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_corpus_spec_validates_and_leaves_layout_to_the_engine(path: Path, run_cli) -> None:
    """Valid today, one comment line on top saying what it exercises, and no draw hints at all."""
    result = run_cli("validate", path)
    assert result.code == 0 and result.out.startswith("ok"), result.text
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# "), f"{path.name}: start with a one-line comment saying what structure it exercises"
    assert "draw" not in yaml.safe_load(text), f"{path.name}: no draw: block (the point is automatic layout)"


@pytest.mark.parametrize(("path", "view"), CASES)
def test_no_line_passes_through_a_cell(path: Path, view: str) -> None:
    violations = sg.lines_through_cells(_drawing(path, view))
    assert not violations, f"{len(violations)} line(s) through cells:\n" + "\n".join(violations[:20])


@pytest.mark.parametrize(("path", "view"), CASES)
def test_no_two_connections_coincide(path: Path, view: str) -> None:
    violations = sg.coincident_edges(_drawing(path, view))
    assert not violations, f"{len(violations)} coincident pair(s):\n" + "\n".join(violations[:20])


@pytest.mark.parametrize(("path", "view"), CASES)
def test_every_group_is_drawn(path: Path, view: str) -> None:
    drawn = sg.groups_drawn(_drawing(path, view), view)
    missing = [g for g in _top_level_groups(path) if not sg.group_visible(g, drawn)]
    assert not missing, f"groups not drawn: {missing}; drawn: {sorted(drawn)}"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_layers_view_fits_a_slide(path: Path) -> None:
    ratio = sg.aspect(_svg(path, "layers"))
    assert abs(ratio / TARGET_ASPECT - 1) <= ASPECT_TOLERANCE, f"aspect {ratio:.2f}, target 16:9 = {TARGET_ASPECT:.2f}"
