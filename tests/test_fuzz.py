"""The spec fuzzer (scripts/fuzz_specs.py): a fixed-seed run finds nothing, and the harness can find.

The CI budget is a fixed seed and 2,000 cases (3–4 s on 2 idle cores, ~15 s when busy); the long mode is
``make fuzz`` (100,000 cases). Both run the fuzzer as a command, in a fresh interpreter, as a
user would; the harness checks run it on stand-in targets that misbehave on purpose, so a
passing fixed-seed run means "nothing found", not "nothing could be found".
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "fuzz_specs.py"
CI_CASES = 2000


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_specs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_specs"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": "0", "JAX_PLATFORMS": "cpu"}


@pytest.mark.slow
def test_fixed_seed_run_has_no_findings(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", str(CI_CASES), "--seed", "0", "--jobs", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        env=_env(),
        cwd=ROOT,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    findings = "\n".join(
        f"{f['count']}x {f['signature']} (cases {f['cases']}); minimised:\n{f['minimised']}\n{f['detail'][-1500:]}"
        for f in results["finding_classes"]
    )
    assert results["cases"] == CI_CASES, proc.stdout + proc.stderr
    assert results["findings"] == 0, f"{proc.stdout}\n{findings}\nthe inputs are in {tmp_path}/findings"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the run reached both ends: valid graphs drawn, and specs rejected with a cellgraph error
    assert results["status"].get("ok", 0) >= 20, results["status"]
    assert results["status"].get("error", 0) >= CI_CASES // 2, results["status"]


def test_cases_are_a_function_of_seed_and_index() -> None:
    fuzz = _fuzz_module()
    corpus = fuzz.load_corpus()
    first = [fuzz.make_case(corpus, 7, i) for i in range(200)]
    again = [fuzz.make_case(corpus, 7, i) for i in range(200)]
    other = [fuzz.make_case(corpus, 8, i) for i in range(200)]
    assert first == again
    assert sum(a.spec != b.spec for a, b in zip(first, other, strict=True)) > 190
    seeds = dict(corpus.files)
    mutated = sum(case.spec != seeds[case.base] for case in first)
    assert mutated >= 195, "a mutation fuzzer whose cases are its seeds tests nothing"
    # both levels of mutation take part, and the tree level uses most of its operators
    ops = {op for case in first for op in case.ops}
    assert {"token", "splice", "flip"} <= ops
    assert len({op for op in ops if op.startswith("tree:")}) >= 15, ops


def test_the_corpus_holds_every_shipped_spec() -> None:
    fuzz = _fuzz_module()
    names = {name for name, _ in fuzz.load_corpus().files}
    for folder in ("specs/zoo", "specs/examples", "specs/parts", "docs/examples", "tests/good_specs"):
        shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob("*.yaml")}
        assert shipped and shipped <= names, folder


# A stand-in target per case index: each way a case can go, once.
_HARNESS = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    import fuzz_specs as fuzz
    from cellgraph.errors import SourceLoc, spec_error

    def target(path, case):
        index = case.index
        if index == 0:
            return "", "digraph {}"                              # ok
        if index == 1:
            raise spec_error(SourceLoc(str(path), 1, 1), "cells", "bad")   # a cellgraph error
        if index == 2:
            return {}["missing"]                                 # an exception
        if index == 3:
            time.sleep(0.6)                                      # slow (twice, so confirmed)
            return "", ""
        if index == 4:
            time.sleep(30)                                       # a hang
        if index == 5:
            os._exit(3)                                          # a crash
        if index == 6:
            return "title \\x1b]0;pwned\\x07", ""                    # a terminal escape printed
        return "", "label=\\"a\\x00b\\""                            # a NUL in DOT text

    config = fuzz.Config(cases=8, jobs=2, timeout=2.0, slow_seconds=0.5, minimise_seconds=1.0)
    results = fuzz.run(config, target=target)
    print(json.dumps({"status": dict(results.status), "findings": sorted(results.findings),
                      "minimised": [f["minimised"] is not None for f in results.findings.values()
                                    if f["status"] in ("exception", "text")]}))
    """
)


def test_the_harness_reports_exceptions_unsafe_text_slow_cases_hangs_and_crashes() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _HARNESS, str(SCRIPT.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["status"] == {"ok": 1, "error": 1, "exception": 1, "slow": 1, "hang": 1, "crash": 1, "text": 2}
    kinds = " | ".join(got["findings"])
    assert "KeyError at " in kinds and "hang at " in kinds and "slow at " in kinds
    assert "crash: worker exit 3" in kinds
    assert "unsafe text: control characters in the terminal output" in kinds
    assert "unsafe text: control characters in the DOT text" in kinds
    assert got["minimised"] == [True, True, True]


def test_the_train_check_stage_builds_and_steps_the_optimizer_of_an_accepted_spec(monkeypatch) -> None:
    import shutil

    import cellgraph.train.optim as optim

    fuzz = _fuzz_module()
    work = fuzz.prepare_workdir()
    try:
        spec = (ROOT / "specs/examples/xor_mlp.yaml").read_bytes()
        case = fuzz.Case(0, "specs/examples/xor_mlp.yaml", spec, None, ())
        assert fuzz.run_once(case, work, fuzz.train_check_target) == ("ok", "", "")
        built = []

        def failing_step(*args, **kwargs):
            built.append(args)
            tx = make_optimizer(*args, **kwargs)
            return tx._replace(update=lambda *a, **k: 1 / 0)  # the optimizer's first step fails

        make_optimizer = optim.make_optimizer
        monkeypatch.setattr(optim, "make_optimizer", failing_step)
        status, kind, _ = fuzz.run_once(case, work, fuzz.train_check_target)
        assert built and status == "exception" and kind.startswith("ZeroDivisionError at "), (status, kind)
    finally:
        shutil.rmtree(work, ignore_errors=True)
