"""A population of same-shape variants trains as one vmapped program (issue 19).

The members differ in seed and learning rate; trained together they must give what each gives
trained alone with ``cellgraph.train`` (same seeds): the same initial parameters, data orders and
updates, so the same history and metrics up to the float order of batched products. The specs
are written here, outside ``specs/``, with two inputs and two heads, as a user's would be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import cellgraph
from cellgraph.train import TrainingError
from cellgraph.train.population import LR_LAST, train_population, why_one_by_one

TWO_HEADS = """\
cellgraph: 1
name: two_heads
cells:
  a: {type: input, size: 3}
  b: {type: input, size: 2}
  h: {type: hidden, size: 12, activation: tanh}
  cls: {type: output, size: 2, activation: softmax}
  reg: {type: output, size: 1, activation: linear}
edges:
  - a, b -> h
  - h -> cls, reg
train:
  loss: {cls: cross_entropy, reg: mse}
  metrics: [accuracy]
  optimizer: {name: OPT, learning_rate: 0.05}
  batch_size: 16
  epochs: 6
  seed: 0
"""


def _data(n: int = 120, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 2)).astype(np.float32)
    cls = (a[:, 0] + b[:, 1] > 0).astype(np.int32)
    reg = (a[:, 1] - 0.5 * b[:, 0]).astype(np.float32)[:, None]
    return {"a": a, "b": b, "cls": cls, "reg": reg}


def _spec(tmp_path: Path, optimizer: str = "adam") -> Path:
    path = tmp_path / "two_heads.yaml"
    path.write_text(TWO_HEADS.replace("OPT", optimizer), encoding="utf-8")
    return path


MEMBERS = [
    {"seed": 0},
    {"seed": 1, "learning_rate": 0.01},
    {"seed": 2, "learning_rate": 0.2},
    {"seed": 0, "learning_rate": 0.002},
]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_population_trains_each_member_as_it_trains_alone(tmp_path: Path, optimizer: str) -> None:
    spec, data = _spec(tmp_path, optimizer), _data()
    assert why_one_by_one(spec, MEMBERS) is None, "these members share one program"
    together = train_population(spec, data, members=MEMBERS)
    for member, got in zip(MEMBERS, together, strict=True):
        assert not isinstance(got, TrainingError)
        lr = member.get("learning_rate", 0.05)
        alone = cellgraph.train(spec, data, seed=member["seed"], optimizer={"name": optimizer, "learning_rate": lr},
                                progress=False, resume=False)  # fmt: skip
        assert len(got.history) == len(alone.history) == 6
        for mine, theirs in zip(got.history, alone.history, strict=True):
            assert sorted(mine) == sorted(theirs)
            for k in mine:
                assert mine[k] == pytest.approx(theirs[k], rel=2e-4, abs=1e-6), (member, mine["epoch"], k)
        assert got.metrics == pytest.approx(alone.metrics, rel=2e-4, abs=1e-6)
        for x, y in zip(jax.tree.leaves(got.params), jax.tree.leaves(alone.params), strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-4, atol=2e-5)
        assert got.settings["seed"] == member["seed"] and got.settings["optimizer"]["learning_rate"] == lr
    # the members really differ: learning rates and seeds change what is learned
    losses = [r.history[-1]["train_loss"] for r in together]  # type: ignore[union-attr]
    assert len({round(v, 6) for v in losses}) == len(losses)


def test_a_validation_split_held_out_per_seed_is_each_members_own(tmp_path: Path) -> None:
    """``validation`` holds rows out with the run's seed, so members of other seeds train and are
    scored on other rows (members 0 and 2 share seed 0, hence their rows); each member's history,
    ``val_`` figures and metrics are those of its run trained alone."""
    spec, data = _spec(tmp_path), _data()
    members: list[dict[str, Any]] = [
        {"seed": 0},
        {"seed": 1},
        {"seed": 0, "learning_rate": 0.01},
    ]  # 2 rates: 2 compilations
    assert why_one_by_one(spec, members, validation=0.25) is None
    together = train_population(spec, data, members=members, validation=0.25)
    for member, got in zip(members, together, strict=True):
        assert not isinstance(got, TrainingError)
        lr = member.get("learning_rate", 0.05)
        alone = cellgraph.train(spec, data, seed=member["seed"], optimizer={"name": "adam", "learning_rate": lr},
                                validation=0.25, progress=False, resume=False)  # fmt: skip
        assert got.val_metrics and sorted(got.val_metrics) == sorted(alone.val_metrics)
        assert got.val_metrics == pytest.approx(alone.val_metrics, rel=1e-5, abs=1e-6), member
        assert got.metrics == pytest.approx(alone.metrics, rel=1e-5, abs=1e-6), member
        for mine, theirs in zip(got.history, alone.history, strict=True):
            assert sorted(mine) == sorted(theirs) and any(k.startswith("val_") for k in mine)
            assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6), (member, mine["epoch"])
    # another seed holds out other rows: the same learning rate scores differently on them
    assert together[0].val_metrics != together[1].val_metrics  # type: ignore[union-attr]


def test_a_diverging_member_fails_alone_and_the_others_finish(tmp_path: Path) -> None:
    members = [{"seed": 0, "learning_rate": 0.05}, {"seed": 1, "learning_rate": 1e9}]
    spec = _spec(tmp_path, "sgd")
    good, bad = train_population(spec, _data(), members=members)
    assert isinstance(bad, TrainingError) and "loss became" in str(bad) and "(epoch 1)" in str(bad)
    assert not isinstance(good, TrainingError) and good.metrics["accuracy:cls"] > 0.8


def test_members_that_cannot_share_a_program_train_one_by_one_with_the_same_results(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "adafactor")  # its learning rate is not its last factor
    members = [{"seed": 0, "learning_rate": 0.05}, {"seed": 1, "learning_rate": 0.1}]
    assert "adafactor" in (why_one_by_one(spec, members) or "")
    assert "early stopping" in (why_one_by_one(spec, members, validation=0.2, early_stopping=2) or "")
    results = train_population(spec, _data(), members=members)
    alone = cellgraph.train(spec, _data(), seed=1, optimizer={"name": "adafactor", "learning_rate": 0.1},
                            progress=False, resume=False)  # fmt: skip
    assert results[1].metrics == alone.metrics  # type: ignore[union-attr]


def test_a_member_may_vary_only_the_seed_and_the_learning_rate(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"member 1: 'batch_size' cannot differ inside a population"):
        train_population(_spec(tmp_path), _data(), members=[{"seed": 0}, {"batch_size": 8}])
    with pytest.raises(TrainingError, match="needs members"):
        train_population(_spec(tmp_path), _data(), members=[])


@pytest.mark.parametrize("name", sorted(LR_LAST))
def test_each_listed_optimizer_applies_its_learning_rate_last(name: str) -> None:
    """What the population relies on: optimizer(lr) is scale(lr) after optimizer(1.0), bit for bit."""
    params: Any = {"w": jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)), jnp.float32)}
    make = getattr(optax, name)
    one, two = make(learning_rate=0.037), optax.chain(make(learning_rate=1.0), optax.scale(0.037))
    p1, p2, s1, s2 = params, params, one.init(params), two.init(params)
    for i in range(4):
        u1, s1 = one.update(jax.tree.map(lambda x, i=i: jnp.sin(x * (i + 1)), p1), s1, p1)
        u2, s2 = two.update(jax.tree.map(lambda x, i=i: jnp.sin(x * (i + 1)), p2), s2, p2)
        p1, p2 = optax.apply_updates(p1, u1), optax.apply_updates(p2, u2)
    assert np.array_equal(np.asarray(p1["w"]), np.asarray(p2["w"]))
