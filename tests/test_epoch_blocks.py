"""Several small epochs in one program call (cellgraph/train/loop.py ``_Run.blocks``).

A run of many tiny epochs spent most of its time on the host between them (an RBM's 3000 passes
over 30 images: 1.6 s, against 0.15 s of work). When nothing is due between epochs the loop now
runs a block of them in one ``lax.scan``. These tests hold it to what the one-by-one loop does:
the same parameters and history rows, a nan located at its step, and a resumed run equal to an
unbroken one. The specs are written here, outside ``specs/``, as a user would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cellgraph
from cellgraph.train import TrainingError, TrainingInterrupted
from cellgraph.train import loop as loop_module
from cellgraph.train.rules import IMPLEMENTATIONS, Rule, RunInfo, register_rule
from cellgraph.train.state import TrainState

RBM = """\
cellgraph: 1
name: my_rbm
cells:
  pixels: {type: backfed_input, size: 9}
  features: {type: probabilistic_hidden, size: 6}
edges:
  - pixels -- features
train:
  rule: contrastive_divergence
  k: 1
  learning_rate: 0.1
  persistent: PERSISTENT
  loss: none
  metrics: [reconstruction_error]
  epochs: 40
  eval_every: 10
  batch_size: 4
  seed: 3
data:
  source: bars_and_stripes
  size: 3
"""


def _spec(tmp_path: Path, persistent: bool = False) -> Path:
    path = tmp_path / "my_rbm.yaml"
    path.write_text(RBM.replace("PERSISTENT", str(persistent).lower()), encoding="utf-8")
    return path


@pytest.fixture
def blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The first epoch of every block the loop runs."""
    seen: list[int] = []
    original = loop_module._Run._run_block

    def spy(self: Any, epoch: int) -> None:
        seen.append(epoch)
        original(self, epoch)

    monkeypatch.setattr(loop_module._Run, "_run_block", spy)
    yield seen


def _close_rows(a: list[dict[str, float]], b: list[dict[str, float]]) -> None:
    assert [sorted(r) for r in a] == [sorted(r) for r in b]
    for ra, rb in zip(a, b, strict=True):
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=1e-5, abs=1e-7), (ra["epoch"], k)


@pytest.mark.parametrize("persistent", [False, True])
def test_a_block_of_epochs_trains_as_the_epochs_one_by_one(tmp_path: Path, blocks: list[int], persistent: bool) -> None:
    spec = _spec(tmp_path, persistent)
    fused = cellgraph.train(spec, progress=False)
    assert blocks == [0, 10, 20, 30], "the 40 epochs ran as 4 blocks of 10 (eval_every: 10)"
    blocks.clear()
    single = cellgraph.train(spec, progress=False, on_step=lambda info: None)  # a callback per step: no blocks
    assert blocks == []
    assert len(fused.history) == 40 and [r["epoch"] for r in fused.history] == list(range(1, 41))
    _close_rows(fused.history, single.history)
    for a, b in zip(jax.tree.leaves(fused.params), jax.tree.leaves(single.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert fused.metrics == pytest.approx(single.metrics, rel=1e-5)
    # the held-out scores are in the rows where eval_every puts them, and only there
    scored = [r["epoch"] for r in fused.history if "test_reconstruction_error" in r]
    assert scored == [10, 20, 30, 40]


def test_blocks_end_on_checkpoint_steps_and_a_resumed_run_is_the_unbroken_one(
    tmp_path: Path, blocks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(tmp_path, persistent=True)
    whole = cellgraph.train(spec, progress=False, checkpoint_dir=tmp_path / "whole", checkpoint_every=15)
    # one step per pass (the rule scans its minibatches): blocks of 10 passes would step over the
    # checkpoints at 15, 30; blocks of 5 end on them and on every scoring (eval_every: 10)
    assert blocks == list(range(0, 40, 5))
    assert sorted(p.name for p in (tmp_path / "whole").glob("step-*"))[-1] == "step-00000040.msgpack"
    original = loop_module._Run._run_block
    calls: list[int] = []

    def interrupt_third(self: Any, epoch: int) -> None:
        calls.append(epoch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        original(self, epoch)

    monkeypatch.setattr(loop_module._Run, "_run_block", interrupt_third)
    with pytest.raises(TrainingInterrupted):
        cellgraph.train(spec, progress=False, checkpoint_dir=tmp_path / "broken", checkpoint_every=15)
    monkeypatch.setattr(loop_module._Run, "_run_block", original)
    resumed = cellgraph.train(spec, progress=False, checkpoint_dir=tmp_path / "broken", checkpoint_every=15)
    assert resumed.resumed_at == 10, "interrupted before its third block, saved at pass 10"
    assert resumed.history == whole.history
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(whole.params), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture
def goes_nan() -> Iterator[str]:
    """A rule without a loss, one pass per update, whose parameters turn nan at its 7th update."""

    def make(model: Any, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
        def init(state: TrainState) -> TrainState:
            return state.replace(rule_state={"updates": jnp.zeros((), jnp.int32)})

        def update(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
            done = state.rule_state["updates"] + 1
            scale = jnp.where(done >= 7, jnp.nan, 1.0)
            params = jax.tree.map(lambda p: p * scale, state.params)
            return state.replace(params=params, rule_state={"updates": done}), {"updates": jnp.float32(1)}

        return Rule(init, update, feed="epochs", advice="tame the rule")

    register_rule("goes_nan", make)
    yield "goes_nan"
    IMPLEMENTATIONS.pop("goes_nan")


def test_a_nan_inside_a_block_is_reported_at_its_step(tmp_path: Path, blocks: list[int], goes_nan: str) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(TrainingError, match=r"params became nan at step 7 \(epoch 7\); tame the rule"):
        cellgraph.train(spec, rule=goes_nan, progress=False, checkpoint_dir=tmp_path / "run")
    assert blocks == [0], "the nan came up inside the first block"
    assert not list((tmp_path / "run").glob("step-*")), "no checkpoint with non-finite params"


def test_a_nan_one_epoch_at_a_time_is_reported_at_its_step_too(tmp_path: Path, goes_nan: str) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(TrainingError, match=r"params became nan at step 7 \(epoch 7\)"):
        cellgraph.train(spec, rule=goes_nan, progress=False, on_step=lambda info: None)
