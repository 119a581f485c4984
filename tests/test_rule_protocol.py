"""Learning rules follow one protocol (issue 11): ``(init, update)`` over a ``TrainState``.

* The package's imports form no cycle (the loop and the old rule dispatcher imported each
  other), and the loop imports no rule module: it finds rules in one table, by name.
* A new rule is a few lines and one registration: it trains through ``cellgraph.train`` with
  checkpoints, resume and NaN stops, without touching any other module.
* The perceptron keeps the classic online rule exactly (checked against a NumPy oracle) and now
  resumes from a checkpoint to the same parameters as an uninterrupted run; least squares is
  checkpointed and not solved again.
* A planned rule is refused at ``train.rule`` in the spec; an unknown one with a suggestion.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, ZOO
from test_train_loop import RUN, same_tree, tiny_data, tiny_model

import cellgraph
from cellgraph.data import load_dataset
from cellgraph.errors import SpecError
from cellgraph.graph.rules import RULES as KNOWN_RULES
from cellgraph.train import StepInfo, TrainingError, TrainingInterrupted
from cellgraph.train.rules import IMPLEMENTATIONS, Rule, RunInfo, get_rule, register_rule
from cellgraph.train.setup import settings
from cellgraph.train.state import TrainState

PACKAGE = ROOT / "cellgraph"

# ------------------------------------------------------------------------------- imports


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges(path: Path) -> Iterator[str]:
    """The cellgraph modules ``path`` imports, anywhere in it (functions too).

    ``from pkg import sub`` where ``sub`` is a module depends on ``pkg.sub``, not on ``pkg``'s
    ``__init__`` (Python runs that first in any case, as the parent of every module in it).
    """
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "cellgraph")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "cellgraph":
                continue
            subs = [f"{target}.{a.name}" for a in node.names]
            found = [s for s in subs if (ROOT / Path(*s.split("."))).with_suffix(".py").exists()]
            found += [s for s in subs if (ROOT / Path(*s.split(".")) / "__init__.py").exists()]
            yield from found if len(found) == len(subs) else [target, *found]


def _import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        graph.add_node(module)
        graph.add_edges_from((module, target) for target in _edges(path) if target != module)
    return graph


def test_the_package_has_no_import_cycle() -> None:
    graph = _import_graph()
    assert "cellgraph.train.rules.backprop" in graph and graph.number_of_edges() > 100  # the walk saw it all
    cycles = sorted(nx.simple_cycles(graph.subgraph(m for m in graph if m.startswith("cellgraph"))))
    assert cycles == [], f"import cycles: {cycles[:5]}"


def test_the_walker_sees_function_level_imports() -> None:
    """The cycle the issue names went through an import inside a function: the walker must see one."""
    graph = _import_graph()
    assert graph.has_edge("cellgraph.train.setup", "cellgraph.compiler")  # imported inside resolve()


def test_the_loop_imports_no_rule_module() -> None:
    rule_modules = {
        m for m in _import_graph().successors("cellgraph.train.loop") if m.startswith("cellgraph.train.rules")
    }
    assert rule_modules == {"cellgraph.train.rules"}  # the table, nothing named by rule


def test_every_rule_pointer_resolves_to_a_maker_of_a_known_rule() -> None:
    for name in IMPLEMENTATIONS:
        assert name in KNOWN_RULES, f"{name} has no record in cellgraph.graph.rules.RULES"
        assert callable(get_rule(name))


# ------------------------------------------------------------------------------- a toy rule


def sign_descent(model: Any, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
    """A rule in a few lines: params -= 0.05 * sign(gradient); its state counts its updates."""
    grad = jax.value_and_grad(lambda params, batch: model.loss(params, batch, None)[0])

    def init(state: TrainState) -> TrainState:
        return state.replace(rule_state={"updates": jnp.zeros((), jnp.int32)})

    def update(state: TrainState, batch: Mapping[str, jax.Array]) -> tuple[TrainState, dict[str, jax.Array]]:
        value, g = grad(state.params, batch)
        params = jax.tree.map(lambda p, d: p - 0.05 * jnp.sign(d), state.params, g)
        counted = {"updates": state.rule_state["updates"] + 1}
        return state.replace(step=state.step + 1, params=params, rule_state=counted), {"loss": value}

    return Rule(init, update)


@pytest.fixture
def toy_rule() -> Iterator[str]:
    register_rule("sign_descent", sign_descent)
    yield "sign_descent"
    IMPLEMENTATIONS.pop("sign_descent")


def _toy_run(rule: str, **changes: Any) -> cellgraph.train.TrainResult:
    return cellgraph.train(tiny_model(), tiny_data(), **{**RUN, "optimizer": None, "rule": rule, **changes})


def _interrupt_at(step: int) -> Callable[[StepInfo], None]:
    def callback(info: StepInfo) -> None:
        if info.step == step:
            raise KeyboardInterrupt

    return callback


def test_a_toy_rule_trains_with_checkpoints_and_resumes_to_the_same_params(toy_rule: str, tmp_path: Path) -> None:
    whole = _toy_run(toy_rule)
    assert whole.steps == 30 and whole.history[-1]["train_loss"] < whole.history[0]["train_loss"]
    assert whole.metrics["accuracy"] > 0.9  # it learned the blobs
    with pytest.raises(TrainingInterrupted) as stop:
        _toy_run(toy_rule, checkpoint_dir=tmp_path, on_step=_interrupt_at(13))
    assert stop.value.checkpoint == str(tmp_path / "step-00000013.msgpack")
    resumed = _toy_run(toy_rule, checkpoint_dir=tmp_path)
    assert resumed.resumed_at == 13 and same_tree(resumed.params, whole.params)
    assert resumed.history == whole.history
    again = _toy_run(toy_rule, checkpoint_dir=tmp_path)  # finished: evaluated, not trained again
    assert again.already_trained and same_tree(again.params, whole.params)


def test_the_rule_state_is_checkpointed(toy_rule: str, tmp_path: Path) -> None:
    counts: list[int] = []
    _toy_run(
        toy_rule, checkpoint_dir=tmp_path, on_step=lambda info: counts.append(int(info.state.rule_state["updates"]))
    )
    assert counts == list(range(1, 31))
    from cellgraph.train.checkpoint import latest_intact

    stored = latest_intact(tmp_path)
    assert stored is not None and int(stored.state["rule_state"]["updates"]) == 30


def test_a_rule_without_a_loss_is_stopped_when_its_params_go_nan(tmp_path: Path) -> None:
    def blow_up(model: Any, cfg: Mapping[str, Any], info: RunInfo) -> Rule:
        def update(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
            scale = jnp.where(state.step >= 4, jnp.nan, 1.0)  # from the fifth update on
            params = jax.tree.map(lambda p: p * scale, state.params)
            return state.replace(step=state.step + 1, params=params), {"updates": jnp.float32(1)}

        return Rule(lambda state: state, update, advice="tame the rule")

    register_rule("blow_up", blow_up)
    try:
        with pytest.raises(TrainingError, match=r"params became nan at step \d+ \(epoch 1\); tame the rule"):
            _toy_run("blow_up", checkpoint_dir=tmp_path)
    finally:
        IMPLEMENTATIONS.pop("blow_up")
    assert not list(tmp_path.glob("step-*")), "no checkpoint with non-finite params"


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="'perceptron' is registered already"):
        register_rule("perceptron", sign_descent)


# ------------------------------------------------------------------------------- the perceptron

GATE_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)


def _classic_perceptron(x: np.ndarray, t: np.ndarray, *, eta: float, epochs: int, seed: int) -> tuple:
    """The lecture's rule, written out: the oracle for the rule's exactness (integer data: exact)."""
    rng = np.random.default_rng(seed)
    w, b, mistakes = np.zeros(x.shape[1], np.float32), np.float32(0), []
    for _ in range(epochs):
        wrong = 0
        for i in rng.permutation(len(x)):
            delta = np.float32(eta) * (t[i] - np.float32(x[i] @ w + b > 0))
            w, b, wrong = w + delta * x[i], b + delta, wrong + int(delta != 0)
        mistakes.append(wrong)
    return w, b, mistakes


@pytest.mark.parametrize("gate", ["and", "xor"])
def test_the_perceptron_is_the_classic_online_rule(gate: str) -> None:
    data = load_dataset({"source": gate})
    result = cellgraph.train(ZOO / "p.yaml", data=data, epochs=10, progress=False)
    w, b, mistakes = _classic_perceptron(GATE_X, np.asarray(data.y_train, np.float32), eta=1.0, epochs=10, seed=0)
    assert np.array_equal(np.asarray(data.x_train, np.float32), GATE_X)
    assert np.array_equal(result.params["y"]["kernel"][:, 0], w) and np.array_equal(result.params["y"]["bias"], [b])
    assert [row["train_mistakes"] for row in result.history] == mistakes
    assert result.steps == 10  # one update per pass over the data


@pytest.mark.parametrize("stop", [3, 7])
def test_the_perceptron_resumes_to_the_same_params(tmp_path: Path, stop: int) -> None:
    """XOR: the corrections never stop, so every epoch changes the weights (a resume that lost
    or repeated an epoch, or changed its order, would end elsewhere)."""
    data = load_dataset({"source": "xor"})

    def train(**kwargs: Any) -> cellgraph.train.TrainResult:
        return cellgraph.train(ZOO / "p.yaml", data=data, epochs=10, progress=False, **kwargs)

    whole = train()
    with pytest.raises(TrainingInterrupted):
        train(checkpoint_dir=tmp_path, on_step=_interrupt_at(stop))
    resumed = train(checkpoint_dir=tmp_path)
    assert resumed.resumed_at == stop
    assert same_tree(resumed.params, whole.params) and resumed.history == whole.history
    assert all(row["train_mistakes"] > 0 for row in whole.history)


def test_least_squares_is_checkpointed_and_not_solved_again(tmp_path: Path) -> None:
    path = EXAMPLES / "rbf_xor.yaml"
    first = cellgraph.train(path, checkpoint_dir=tmp_path, progress=False)
    assert first.steps == 1 and first.checkpoint is not None and first.metrics["mse"] < 1e-6
    again = cellgraph.train(path, checkpoint_dir=tmp_path, progress=False)
    assert again.already_trained and same_tree(again.params, first.params)


def test_rule_option_defaults_come_from_the_rule_records() -> None:
    cfg = settings({"rule": "perceptron"}, epochs=None, steps=None)
    for key, option in KNOWN_RULES["perceptron"].options.items():
        assert cfg[key] == option.default
    assert settings({"rule": "perceptron", "eta": 0.5}, epochs=None, steps=None)["eta"] == 0.5


def test_an_optimizer_for_a_rule_without_one_is_refused() -> None:
    with pytest.raises(TrainingError, match="rule 'perceptron' has its own update and no optimizer: drop optimizer"):
        cellgraph.train(ZOO / "p.yaml", data=load_dataset({"source": "and"}), optimizer="sgd", progress=False)


# ------------------------------------------------------------------------------- refusals


def test_a_planned_rule_is_refused_at_train_rule_in_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(IMPLEMENTATIONS, "hebbian")  # known to validation, its trainer taken away
    path = ZOO / "hn.yaml"
    assert cellgraph.load_spec(path).train["rule"] == "hebbian" and "hebbian" not in IMPLEMENTATIONS
    with pytest.raises(SpecError) as info:
        cellgraph.train(path, progress=False)
    (problem,) = info.value.problems
    assert problem.loc.file.endswith("hn.yaml") and problem.loc.line > 0 and problem.path == "train.rule"
    assert "rule 'hebbian' is planned: its trainer is not implemented yet" in problem.message
    assert all(name in problem.fix for name in ("backprop", "least_squares", "perceptron"))


def test_an_unknown_rule_is_refused_with_a_suggestion() -> None:
    with pytest.raises(TrainingError, match=r"unknown rule 'perceptorn'; did you mean 'perceptron'\?.*backprop"):
        _toy_run("perceptorn")


def test_a_planned_rule_given_as_an_argument_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(IMPLEMENTATIONS, "som")  # known to validation, its trainer taken away
    with pytest.raises(TrainingError, match=r"train.rule: rule 'som' is planned"):
        _toy_run("som")
