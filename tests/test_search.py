"""`cellgraph search`: the space, validation before training, Optuna's samplers, resume, the report.

One test trains for real (a toy task with a known-best region); the others use a runner that
scores variants by a formula, so they test the search machinery in well under a second each.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cellgraph.cli import main
from cellgraph.errors import SpecError
from cellgraph.search import Outcome, RunPlan, SearchError, Variant, search
from cellgraph.spec.compose import load_spec

pytest.importorskip("optuna")

TOY = """\
cellgraph: 1
name: toy
params: {width: 16, lr: 0.01}
cells:
  x: {type: input, size: 2}
  h: {type: hidden, size: '${width}', activation: tanh}
  y: {type: output, size: 2, activation: softmax}
edges:
  - x -> h -> y
train:
  loss: cross_entropy
  metrics: [accuracy]
  optimizer: {name: adam, learning_rate: '${lr}'}
  steps: 200
  batch_size: 64
  seed: 0
data: {source: two_spirals, n: 300, turns: 0.75, noise: 0.05, split: {test: 0.3, seed: 0}}
"""


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(TOY, encoding="utf-8")
    return path


class Scored:
    """A runner that scores a variant by a formula (best at width 16, lr 0.03) and counts calls."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.stop_after = stop_after

    def __call__(self, variants: Sequence[Variant], plan: RunPlan) -> list[Outcome]:
        out = []
        for v in variants:
            assert v.valid  # an invalid variant never reaches training
            if self.stop_after is not None and len(self.calls) == self.stop_after:
                raise KeyboardInterrupt
            self.calls.append(dict(v.params))
            width, lr = v.overrides.get("width", 16), v.overrides.get("lr", 0.01)
            score = 1.0 - abs(math.log2(width / 16)) / 8 - abs(math.log10(lr / 0.03)) / 8
            out.append(Outcome({"val_accuracy": score, "val_loss": 1 - score}, {}, 0.0))
        return out


def _table(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(encoding="utf-8") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_grid_search_finds_the_known_best_region(toy: Path, tmp_path: Path) -> None:
    """Too narrow a hidden layer (1 unit) or too small a learning rate (1e-4) cannot separate the
    spirals in 200 steps; the grid trains all four corners once and ranks width 16, lr 0.03 first."""
    out = tmp_path / "out"
    result = search(toy, grid={"width": [1, 16], "lr": [1e-4, 0.03]}, metric="val_accuracy", output=out, progress=False)
    points = sorted((t.params["width"], t.params["lr"]) for t in result.trials)
    assert points == [(1, 1e-4), (1, 0.03), (16, 1e-4), (16, 0.03)]  # every grid point, once
    assert all(t.state == "complete" for t in result.trials)
    best = result.best
    assert best is not None and best.params == {"width": 16, "lr": 0.03}
    assert best.value is not None and best.value >= 0.9
    others = [t.value for t in result.trials if t is not best]
    assert max(v for v in others if v is not None) < 0.8
    for name in ("results.csv", "results.md", "metric.png", "best.yaml", "contact_sheet.png"):
        assert (out / name).stat().st_size > 0, name
    best_spec = load_spec(out / "best.yaml")
    assert dict(best_spec.params) == {"width": 16, "lr": 0.03}
    assert "| 16 | 0.03 |" in (out / "results.md").read_text(encoding="utf-8")


SPACES = {
    "random": {"grid": {"width": [2, 4, 16]}, "random": {"lr": "loguniform:1e-4:1e-1"}, "trials": 6},
    "grid": {"grid": {"width": [2, 4, 16], "lr": [0.001, 0.03]}},  # Ctrl-C leaves its point to run again
}


@pytest.mark.parametrize("sampler", sorted(SPACES))
def test_an_interrupted_search_resumes_without_rerunning_and_ends_with_the_same_table(
    toy: Path, tmp_path: Path, sampler: str
) -> None:
    """Ctrl-C in the middle of the fourth trial; the same call again trains only what is left.

    One trial per runner call (``batch=1``): Ctrl-C inside a batch leaves the whole batch to run
    again (tests/test_search_population.py), and this runner keeps nothing of its own."""
    kwargs: dict[str, Any] = {
        **SPACES[sampler], "sampler": sampler, "metric": "val_accuracy", "progress": False, "batch": 1
    }  # fmt: skip
    straight = Scored()
    search(toy, output=tmp_path / "a", runner=straight, **kwargs)
    first = Scored(stop_after=3)
    with pytest.raises(KeyboardInterrupt):
        search(toy, output=tmp_path / "b", runner=first, **kwargs)
    second = Scored()
    result = search(toy, output=tmp_path / "b", runner=second, **kwargs)
    assert len(first.calls) == 3 and len(second.calls) == 3 == len(straight.calls) - 3  # the finished three stay
    ran, key = first.calls + second.calls, lambda p: sorted(p.items())
    if sampler == "grid":  # every point once; the rest of the grid may run in another order
        assert sorted(ran, key=key) == sorted(straight.calls, key=key)
    else:  # the sampler, re-seeded per trial, proposes the same points in the same order
        assert ran == straight.calls
    assert result.resumed == 3
    assert _table(tmp_path / "a") == _table(tmp_path / "b")


def test_a_tpe_search_over_the_specs_search_block_converges(toy: Path, tmp_path: Path) -> None:
    toy.write_text(
        TOY + "search:\n  space:\n    width: [2, 4, 8, 16, 32]\n    lr: {low: 1.0e-4, high: 0.1, log: true}\n"
        "  trials: 24\n  metric: val_accuracy\n  sampler: tpe\n",
        encoding="utf-8",
    )
    runner = Scored()
    result = search(toy, output=tmp_path / "out", runner=runner, progress=False, report=False)
    assert result.sampler == "tpe" and len(result.trials) == 24
    best = result.best
    assert best is not None and best.params["width"] == 16 and 0.01 <= best.params["lr"] <= 0.09


def test_an_invalid_variant_is_listed_with_its_location_and_the_search_goes_on(toy: Path, tmp_path: Path) -> None:
    runner = Scored()
    result = search(toy, grid={"width": [0, 16]}, output=tmp_path / "out", runner=runner, progress=False)
    states = {t.params["width"]: t for t in result.trials}
    assert states[0].state == "invalid" and states[16].state == "complete"
    assert f"{toy}:6:" in states[0].error and "cells.h.size" in states[0].error
    assert runner.calls == [{"width": 16}]
    assert "invalid" in (tmp_path / "out" / "results.csv").read_text(encoding="utf-8")


def test_a_finished_trial_is_reused_only_for_the_same_code_data_and_settings(
    toy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    kwargs: dict[str, Any] = {"grid": {"width": [4, 16]}, "output": out, "progress": False, "report": False}
    assert len((r := Scored()) and search(toy, runner=r, **kwargs).trials) == 2 and len(r.calls) == 2
    again = Scored()
    search(toy, runner=again, **kwargs)
    assert again.calls == []  # the same search: read back
    settings = Scored()
    search(toy, runner=settings, epochs=3, **kwargs)
    assert len(settings.calls) == 2  # other settings: trained again
    toy.write_text(TOY.replace("noise: 0.05", "noise: 0.1"), encoding="utf-8")
    data = Scored()
    search(toy, runner=data, **kwargs)
    assert len(data.calls) == 2  # other data: trained again
    import cellgraph.train.runkey as runkey

    monkeypatch.setattr(runkey, "code_digest", lambda: "edited")
    code = Scored()
    search(toy, runner=code, **kwargs)
    assert len(code.calls) == 2  # other code: trained again


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--grid", "widht=1,2"], ["--grid widht", "did you mean 'width'", "fix:"]),
        (["--grid", "width"], ["--grid width", "NAME=VALUES", "fix:"]),
        (["--random", "lr=loguniform:1e-4"], ["--random lr=loguniform:1e-4", "LOW:HIGH", "fix:"]),
        (["--random", "lr=loguniform:0:1"], ["log range needs low > 0", "fix:"]),
        (["--random", "lr=normal:0:1"], ["unknown distribution 'normal'", "fix:"]),
        (["--random", "lr=uniform:1e-4:1e-1", "--sampler", "grid"], ["a grid needs a list of values", "fix:"]),
        (["--grid", "width=2", "--metric", "accuracy"], ["val_accuracy", "fix:"]),
        (["--grid", "width=2", "--trials", "0"], ["--trials 0", "fix:"]),
    ],
    ids=["unknown-param", "no-values", "short-range", "log-zero", "unknown-dist", "grid-range", "metric", "trials"],
)
def test_bad_options_are_named_with_a_fix_and_no_traceback(
    toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
) -> None:
    assert main(["search", str(toy), "-o", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for text in expected:
        assert text in err


def test_a_bad_search_block_is_located(toy: Path, tmp_path: Path) -> None:
    toy.write_text(TOY + "search:\n  space:\n    width: {low: 8, hihg: 4}\n  trails: 3\n", encoding="utf-8")
    with pytest.raises(SpecError) as err:
        search(toy, output=tmp_path / "out", progress=False)
    text = err.value.format()
    assert f"{toy}:20:" in text and "did you mean 'high'" in text
    assert f"{toy}:21:" in text and "did you mean 'trials'" in text


def test_the_search_block_is_part_of_a_valid_spec(toy: Path) -> None:
    toy.write_text(TOY + "search:\n  space:\n    width: [4, 16]\n", encoding="utf-8")
    assert load_spec(toy).name == "toy"


def test_a_space_with_nothing_to_search_says_how(toy: Path, tmp_path: Path) -> None:
    with pytest.raises(SearchError, match="--grid NAME=a,b,c"):
        search(toy, output=tmp_path / "out", progress=False)


def test_cellgraph_search_is_callable_after_the_package_is_imported() -> None:
    import cellgraph
    import cellgraph.search

    assert callable(cellgraph.search) and cellgraph.search.search is search


def test_imports_flow_one_way() -> None:
    """cellgraph.search may import spec, graph, data, train and render; only cli and the top
    ``__init__`` import it (and it never imports the cli)."""
    import ast

    package = Path(__file__).resolve().parents[1] / "cellgraph"
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        inside = module.startswith("cellgraph.search")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if inside:
                    assert not name.endswith("cli"), f"{module} imports {name}"
                elif module not in ("cellgraph.cli", "cellgraph.__init__"):
                    assert "search" not in name.split("."), f"{module} imports {name}"


def test_each_variant_trains_once_per_seed_and_is_ranked_by_the_mean(
    toy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--seeds 3``: seeds 5, 6, 7 (from ``--seed 5``), the mean and its spread in the table; a run
    whose training fails is a `failed` row and the search goes on. Run by run (``population=False``)
    so that every run goes through the patched ``train``; populations: test_search_population.py."""
    import types

    import cellgraph.train
    from cellgraph.train import TrainingError

    seen: list[tuple[int, int | None]] = []

    def fake_train(graph: Any, data: Any, *, seed: int | None = None, **kwargs: Any) -> Any:
        width = graph.graph["spec"].params["width"]
        seen.append((width, seed))
        if width == 2:
            raise TrainingError("the loss stopped being finite at step 3")
        accuracy = 0.1 * (seed or 0)  # 0.5, 0.6, 0.7
        return types.SimpleNamespace(
            train_metrics={},
            metrics={"accuracy": accuracy},
            val_metrics={"accuracy": accuracy},
            scored_on="test",
            already_trained=False,
        )

    monkeypatch.setattr(cellgraph.train, "train", fake_train)
    result = search(
        toy, grid={"width": [2, 16]}, seeds=3, seed=5, metric="val_accuracy", output=tmp_path / "out", progress=False,
        population=False,
    )  # fmt: skip
    assert seen == [(2, 5), (16, 5), (16, 6), (16, 7)] or seen == [(16, 5), (16, 6), (16, 7), (2, 5)]
    rows = {t.params["width"]: t for t in result.trials}
    assert rows[16].state == "complete" and rows[16].value == pytest.approx(0.6)
    assert rows[16].spread["val_accuracy"] == pytest.approx(math.sqrt(2 / 3) * 0.1)
    assert rows[2].state == "failed" and "loss stopped being finite" in rows[2].error


def test_without_optuna_the_error_says_how_to_install_it(
    toy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    with pytest.raises(SearchError, match=r"pip install 'cellgraph\[search\]'"):
        search(toy, grid={"width": [4]}, output=tmp_path / "out", progress=False)


def test_without_ray_the_ray_backend_says_how_to_install_it(
    toy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ray is an optional extra: its absence is a one-line fix (exit 2 from the CLI), not a traceback."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    hint = r"--backend ray needs Ray Tune: pip install 'cellgraph\[ray\]'"
    with pytest.raises(SearchError, match=hint):
        search(toy, grid={"width": [4]}, output=tmp_path / "out", progress=False, backend="ray")
    code = main(["search", str(toy), "--grid", "width=4", "-o", str(tmp_path / "cli"), "--backend", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'cellgraph[ray]'" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "runs").exists()


def test_an_address_without_the_ray_backend_is_refused(toy: Path, tmp_path: Path) -> None:
    with pytest.raises(SearchError, match="fix: add --backend ray"):
        search(toy, grid={"width": [4]}, output=tmp_path / "out", progress=False, address="auto")
