"""`cellgraph search` trains the trials of one shape as one vmapped population (issue 19).

The spec is written here, outside ``specs/``, with two inputs and two heads and its data in an
``.npz`` file beside it, as a user's would be. The search over learning rates and seeds must give
the metrics the one-by-one runner gives (the same runs, up to the float order of batched
products), group variants of other widths apart, keep each member's result under the run key
``train`` would use, and read it back on a rerun instead of training again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("optuna")

import cellgraph.train.population as population  # after the skip: the search needs Optuna
from cellgraph.search import RunPlan, search, train_variants
from cellgraph.search.runner import RECORD, population_key
from cellgraph.search.variants import DataCache, make_variant
from cellgraph.train import TrainingError, train
from cellgraph.train.loop import run_folder_name

SPEC = """\
cellgraph: 1
name: two_heads
params: {width: 12, lr: 0.05}
cells:
  a: {type: input, size: 3}
  b: {type: input, size: 2}
  h: {type: hidden, size: '${width}', activation: tanh}
  cls: {type: output, size: 2, activation: softmax}
  reg: {type: output, size: 1, activation: linear}
edges:
  - a, b -> h
  - h -> cls, reg
train:
  loss: {cls: cross_entropy, reg: mse}
  metrics: [accuracy]
  optimizer: {name: adam, learning_rate: '${lr}'}
  batch_size: 16
  epochs: 3
  seed: 0
data: {npz: two_heads.npz, inputs: {a: a, b: b}, targets: {cls: cls, reg: reg}, split: {test: 0.25, seed: 1}}
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(160, 3)).astype(np.float32), rng.normal(size=(160, 2)).astype(np.float32)
    cls = (a[:, 0] + b[:, 1] > 0).astype(np.int32)
    reg = (a[:, 1] - 0.5 * b[:, 0]).astype(np.float32)[:, None]
    np.savez(tmp_path / "two_heads.npz", a=a, b=b, cls=cls, reg=reg)
    path = tmp_path / "two_heads.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


class Counted:
    """Wraps train_population: the sizes of the populations trained (``stub``: trains nothing and
    gives each member a TrainingError, for tests of what would train)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stub: bool = False) -> None:
        self.sizes: list[int] = []
        self.widths: list[int] = []
        self.real = population.train_population
        self.stub = stub
        monkeypatch.setattr(population, "train_population", self)

    def __call__(self, model: Any, *args: Any, members: Any, **kwargs: Any) -> Any:
        self.sizes.append(len(members))
        self.widths.append(model.graph["spec"].params["width"])
        if self.stub:
            return [TrainingError("not trained in this test")] * len(members)
        return self.real(model, *args, members=members, **kwargs)


def test_a_search_over_learning_rates_and_seeds_is_one_population_with_the_one_by_one_metrics(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 learning rates x 2 seeds, ranked by val_loss (a validation split held out per seed): one
    program of 6 members, the same figures as training each run alone."""
    counted = Counted(monkeypatch)
    kwargs: dict[str, Any] = {"grid": {"lr": [0.01, 0.05, 0.2]}, "seeds": 2, "progress": False, "report": False}
    together = search(spec, output=tmp_path / "together", **kwargs)
    assert counted.sizes == [6]
    alone = search(spec, output=tmp_path / "alone", population=False, **kwargs)
    assert counted.sizes == [6]  # the one-by-one runner never builds a population
    assert [t.population for t in together.trials] == [6, 6, 6] and {t.population for t in alone.trials} == {0}
    for mine, theirs in zip(together.trials, alone.trials, strict=True):
        assert mine.params == theirs.params and mine.state == theirs.state == "complete"
        assert sorted(mine.metrics) == sorted(theirs.metrics)
        assert "val_loss" in mine.metrics and "test_accuracy:cls" in mine.metrics
        for name, value in theirs.metrics.items():
            assert mine.metrics[name] == pytest.approx(value, rel=1e-5, abs=1e-6), (mine.params, name)
    # the learning rates really differ in what they give
    assert len({round(t.metrics["val_loss"], 5) for t in together.trials}) == 3


def test_variants_of_other_widths_train_as_populations_of_their_own(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grouping only (nothing trains here: the real training is the test above's)."""
    import cellgraph.train

    cache = DataCache()
    variants = [make_variant(spec, {"width": w, "lr": lr}, cache=cache) for w in (4, 12) for lr in (0.01, 0.1)]
    variants.append(make_variant(spec, {"width": 7, "lr": 0.01}, cache=cache))
    keys = [population_key(v) for v in variants]
    assert keys[0] == keys[1] != keys[2] == keys[3] != keys[4]  # the learning rate does not split; the width does
    alone: list[int] = []

    def fake_train(graph: Any, data: Any, **kwargs: Any) -> Any:
        alone.append(graph.graph["spec"].params["width"])
        raise TrainingError("not trained in this test")

    monkeypatch.setattr(cellgraph.train, "train", fake_train)
    counted = Counted(monkeypatch, stub=True)
    outcomes = train_variants(variants, RunPlan(seeds=(0, 1)))
    # widths 4 and 12: 2 learning rates x 2 seeds each; width 7 has two seeds: a population of 2
    assert sorted(zip(counted.widths, counted.sizes, strict=True)) == [(4, 4), (7, 2), (12, 4)]
    assert alone == []
    assert all("not trained in this test" in o.error for o in outcomes)
    train_variants([variants[4]], RunPlan())  # one variant, one seed: a group of one trains with cellgraph.train
    assert alone == [7] and len(counted.sizes) == 3
    train_variants(variants[:2], RunPlan(population=False))  # the one-by-one runner: every run alone
    assert alone == [7, 4, 4] and len(counted.sizes) == 3


def test_a_member_is_kept_under_the_key_train_would_use_and_read_back_until_something_changes(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DataCache()
    variants = [make_variant(spec, {"lr": lr}, cache=cache) for lr in (0.01, 0.1)]
    runs = tmp_path / "runs"
    plan = RunPlan(seeds=(0, 1), validation=0.25, runs_dir=runs)
    counted = Counted(monkeypatch)
    first = train_variants(variants, plan)
    assert counted.sizes == [4] and [o.trained for o in first] == [2, 2]
    # each member's record sits in the folder train() names for that very run
    alone = train(variants[1].graph, variants[1].data, seed=1, validation=0.25, progress=False,
                            runs_dir=tmp_path / "alone")  # fmt: skip
    folder = Path(str(alone.checkpoint)).parent.name
    assert (runs / folder / RECORD).is_file()
    key, _ = population.run_key_of(variants[1].graph, variants[1].data, seed=1, validation=0.25)
    assert run_folder_name(variants[1].graph.graph["spec"], key) == folder
    # the same runs again: read back, nothing trained, the same figures
    again = train_variants(variants, plan)
    assert counted.sizes == [4] and [o.trained for o in again] == [0, 0] and [o.population for o in again] == [0, 0]
    for mine, theirs in zip(again, first, strict=True):
        assert mine.metrics == theirs.metrics and mine.spread == theirs.spread
    # a run alone in its batch (a TPE search asks one trial at a time) is read back all the same
    (lone,) = train_variants(variants[:1], RunPlan(seeds=(1,), validation=0.25, runs_dir=runs))
    assert counted.sizes == [4] and lone.trained == 0 and lone.metrics
    # a changed setting (the epochs, the validation split), changed code: other runs, trained again
    stub = Counted(monkeypatch, stub=True)
    train_variants(variants, RunPlan(seeds=(0, 1), validation=0.25, runs_dir=runs, epochs=2))
    assert stub.sizes == [4]
    train_variants(variants, RunPlan(seeds=(0, 1), validation=0.3, runs_dir=runs))
    assert stub.sizes == [4, 4]
    monkeypatch.setattr("cellgraph.train.population.code_digest", lambda: "edited")
    train_variants(variants, plan)
    assert stub.sizes == [4, 4, 4]


def test_ctrl_c_inside_a_batch_leaves_the_whole_batch_to_run_again(spec: Path, tmp_path: Path) -> None:
    """A grid search hands the runner its 4 trials at once; Ctrl-C in that call finishes none of
    them, so the same search again trains all 4 (and only those), once each."""
    from cellgraph.search import Outcome

    calls: list[list[float]] = []

    def runner(variants: Any, plan: RunPlan) -> list[Outcome]:
        calls.append([v.params["lr"] for v in variants])
        if len(calls) == 1:
            raise KeyboardInterrupt
        return [Outcome({"val_loss": v.params["lr"]}, trained=1) for v in variants]

    kwargs: dict[str, Any] = {"grid": {"lr": [0.01, 0.02, 0.03, 0.04]}, "progress": False, "report": False}
    with pytest.raises(KeyboardInterrupt):
        search(spec, output=tmp_path / "out", runner=runner, **kwargs)
    result = search(spec, output=tmp_path / "out", runner=runner, **kwargs)
    assert [sorted(c) for c in calls] == [[0.01, 0.02, 0.03, 0.04]] * 2  # one batch each time, then nothing left
    assert result.resumed == 0 and sorted(t.value or 0 for t in result.trials) == [0.01, 0.02, 0.03, 0.04]
    assert search(spec, output=tmp_path / "out", runner=runner, **kwargs).resumed == 4 and len(calls) == 2


def test_the_cli_trains_same_shape_trials_together_unless_told_not_to(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cellgraph.cli import main

    counted = Counted(monkeypatch)
    argv = ["search", str(spec), "--grid", "lr=0.01,0.05", "--metric", "val_loss"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    assert counted.sizes == [2] and "in a population of 2" in captured.out + captured.err
    assert main([*argv, "-o", str(tmp_path / "b"), "--no-population"]) == 0
    assert counted.sizes == [2]  # no second population
    assert main([*argv, "-o", str(tmp_path / "c"), "--batch", "0"]) == 2
    assert "--batch" in capsys.readouterr().err
