"""docs/own-network.md runs: its Python blocks in order, then its console commands, in an empty folder.

If the tutorial drifts from the code -- a renamed function, a changed signature, a command that
exits non-zero -- this fails, so what the page shows is what works.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "own-network.md"


def _blocks(kind: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8").replace("specs/examples/", f"{ROOT}/specs/examples/")
    return re.findall(rf"```{kind}\n(.*?)```", text, flags=re.S)


def test_the_tutorial_runs_as_written(run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    printed = io.StringIO()
    blocks = _blocks("python")
    assert len(blocks) >= 6
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), scope)
    shown = printed.getvalue()
    assert "wide_deep.yaml:17:29: cells.wide.size: input group `wide` takes 8 values" in shown  # as the page says
    assert "fix: set `size: 5` on `wide`" in shown
    assert scope["result"].metrics["accuracy"] >= 0.9
    flax_accuracy = float((scope["logits"].argmax(-1) == scope["test"]["y"]).mean())  # the Flax model, fine-tuned
    assert flax_accuracy >= 0.9, flax_accuracy
    commands = [line[2:] for block in _blocks("console") for line in block.splitlines() if line.startswith("$ ")]
    assert len(commands) == 4
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "cellgraph"
        result = run_cli(*argv[1:])
        assert result.code == 0, (command, result.err)
    assert (tmp_path / "predictions.npz").exists() and (tmp_path / "cli.stablehlo").exists()
