"""examples/own_network.ipynb runs from top to bottom (nbclient) and shows its diagram inline."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "own_network.ipynb"


def test_the_notebook_runs_and_draws_inline() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    svg = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert svg and "<svg" in svg[0] and "Input Cell" in svg[0]  # the chart-style diagram, inline
    metrics = next(o["data"]["text/plain"] for o in outputs if "accuracy" in o.get("data", {}).get("text/plain", ""))
    accuracy = float(metrics.split("'accuracy': ")[1].split(",")[0])
    assert accuracy >= 0.9, metrics
