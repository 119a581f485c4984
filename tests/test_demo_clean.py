"""The main job leaves ``git status`` clean: every file ``scripts/demo.sh`` writes is ignored by git.

PNG and PDF bytes depend on the machine (docs/rendering.md, "Reproducible figures"), so a demo
that drew into the committed ``gallery/`` showed 39 modified files after a run on a fresh machine.
These tests read the script instead of running it (the run sets up a venv and trains): they
collect the paths its ``cellgraph`` commands write and ask git whether each is ignored.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

DEMO = ROOT / "scripts" / "demo.sh"
FORMATS = ("svg", "png", "pdf")  # the values of the script's `for ext in ...` loop
RUN_FOLDER = ".cellgraph/runs/mushroom-0123456789ab/ckpt.msgpack"
"""Where ``cellgraph train`` keeps a run by default (a sample path inside the folder)."""


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module", autouse=True)
def _checkout() -> None:
    if shutil.which("git") is None or _git("rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        pytest.skip("not a git checkout")


def demo_outputs(script: str) -> list[str]:
    """The files and folders the script's ``cellgraph ... -o PATH`` commands write, variables expanded."""
    variables = dict(re.findall(r"^\s*(\w+)=([^\s#]+)", script, flags=re.M))
    paths = []
    for target in re.findall(r"\bcellgraph\b[^\n]*?\s-o\s+(\S+)", script):
        target = target.strip("\"'")
        target = re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), target)
        paths += (
            [target.replace("$ext", ext).replace("${ext}", ext) for ext in FORMATS] if "$ext" in target else [target]
        )
    return paths


def _samples(path: str) -> list[str]:
    """A folder stands for the files a gallery writes into it."""
    if path.endswith("/") or "." not in Path(path).name:
        folder = path.rstrip("/")
        return [f"{folder}/ff.svg", f"{folder}/ff.png", f"{folder}/README.md", f"{folder}/index.html"]
    return [path]


def test_every_file_the_demo_writes_is_ignored_by_git() -> None:
    outputs = demo_outputs(DEMO.read_text(encoding="utf-8"))
    assert len(outputs) >= 4, f"found too few `-o` targets in {DEMO.name} to check: {outputs}"  # gallery + 3 posters
    unresolved = [p for p in outputs if "$" in p]
    assert not unresolved, f"cannot expand {unresolved}: keep demo.sh's output folder in a plain variable"
    files = [f for p in outputs for f in _samples(p)] + [RUN_FOLDER]
    for file in files:
        ignored = _git("check-ignore", "-q", "--no-index", file).returncode == 0
        tracked = bool(_git("ls-files", "--", file).stdout.strip())
        assert ignored and not tracked, f"bash scripts/demo.sh writes {file}, which git tracks or would show as new"


def test_the_check_sees_a_demo_that_draws_into_the_committed_gallery() -> None:
    """The old demo (``-o gallery/``) must fail the check above: the committed gallery is not ignored."""
    old = 'cellgraph gallery "${specs[@]}" -o gallery/\ncellgraph poster specs/zoo -q -o "gallery/zoo-poster.$ext"\n'
    outputs = demo_outputs(old)
    assert outputs == ["gallery/", "gallery/zoo-poster.svg", "gallery/zoo-poster.png", "gallery/zoo-poster.pdf"]
    assert all(_git("check-ignore", "-q", "--no-index", f).returncode == 1 for p in outputs for f in _samples(p))
    assert _git("ls-files", "--", "gallery/ff.png").stdout.strip() == "gallery/ff.png"
