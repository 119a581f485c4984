"""The training machinery (cellgraph.train) on a hand-written model, independent of the compiler.

``tiny_model`` is a two-layer MLP in plain jax.numpy exposing the fields of a compiled
``Model`` (init, apply, loss, trainable_mask, inputs, outputs, graph=None), and ``tiny_data`` two
Gaussian blobs. Every run here uses the same shapes, so the persistent compilation cache turns
most compilations into lookups. No test times anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import EXAMPLES

import cellgraph
from cellgraph.errors import SpecError
from cellgraph.train import (
    StepInfo,
    TrainingError,
    TrainingInterrupted,
    TrainResult,
    init_state,
    make_eval,
    make_optimizer,
    make_train_step,
    plot_curve,
    train,
)
from cellgraph.train.checkpoint import list_checkpoints
from cellgraph.train.loop import _Plan
from cellgraph.train.optim import parse_optimizer
from cellgraph.train.progress import Progress, wants_bar

TESTS = Path(__file__).resolve().parent

# ------------------------------------------------------------------------------- the test double


@dataclass(frozen=True)
class TinyModel:
    """The fields of ``cellgraph.compiler.Model`` that training uses."""

    graph: Any
    init: Callable[..., Any]
    apply: Callable[..., Any]
    loss: Callable[..., Any]
    trainable_mask: Callable[..., Any]
    inputs: tuple[str, ...] = ("x",)
    outputs: tuple[str, ...] = ("y",)


def tiny_model(*, features: int = 2, hidden: int = 8, classes: int = 2, frozen: tuple[str, ...] = ()) -> TinyModel:
    """x -> relu(8) -> softmax(2); the key (training only) adds a little input noise."""

    def init(key: jax.Array) -> dict[str, dict[str, jax.Array]]:
        k1, k2 = jax.random.split(key)
        return {
            "h": {"w": jax.random.normal(k1, (features, hidden)) / np.sqrt(features), "b": jnp.zeros(hidden)},
            "y": {"w": jax.random.normal(k2, (hidden, classes)) / np.sqrt(hidden), "b": jnp.zeros(classes)},
        }

    def apply(params: Mapping[str, Any], x: jax.Array, *, key: jax.Array | None = None, train: bool = False) -> dict:
        if key is not None:
            x = x + 0.05 * jax.random.normal(key, x.shape)
        h = jax.nn.relu(x @ params["h"]["w"] + params["h"]["b"])  # (batch, hidden)
        return {"y": h @ params["y"]["w"] + params["y"]["b"]}  # (batch, classes) logits

    def loss(params: Mapping[str, Any], batch: Mapping[str, jax.Array], key: jax.Array | None) -> tuple:
        labels = batch["targets"]  # a model without `batch` gets {"inputs": x, "targets": y}
        logits = apply(params, batch["inputs"], key=key, train=key is not None)["y"]
        logp = jax.nn.log_softmax(logits)
        value = -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))
        return value, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == labels)}

    def trainable_mask(params: Mapping[str, Any]) -> dict[str, bool]:
        return {name: name not in frozen for name in params}  # a prefix of the params tree

    return TinyModel(None, init, apply, loss, trainable_mask)


@dataclass(frozen=True)
class TinyData:
    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int = 2


def tiny_data(n: int = 200, seed: int = 0) -> TinyData:
    """Two Gaussian blobs; 150 training examples (batches of 16: 9 full and one of 6), 50 test."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int32)
    x = (rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)).astype(np.float32)
    k = n * 3 // 4
    return TinyData("blobs", "classification", x[:k], y[:k], x[k:], y[k:])


RUN: dict[str, Any] = {
    "epochs": 3,
    "batch_size": 16,
    "seed": 0,
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "progress": False,
}
STEPS_PER_EPOCH = 10


def run(**changes: Any) -> TrainResult:
    model = changes.pop("model", None) or tiny_model()
    return train(model, changes.pop("data", None) or tiny_data(), **{**RUN, **changes})


def same_tree(a: Any, b: Any) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb, strict=True)
    )


# ------------------------------------------------------------------------------- learning


def test_loss_goes_down_and_the_task_is_learned() -> None:
    result = run()
    assert result.steps == 3 * STEPS_PER_EPOCH
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert [row["step"] for row in result.history] == [10, 20, 30]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert set(result.metrics) == {"loss", "accuracy"}
    assert result.metrics["accuracy"] >= 0.9  # held-out blobs
    assert result.metrics == {k[5:]: v for k, v in result.history[-1].items() if k.startswith("test_")}


def test_same_seed_same_params_bit_for_bit_and_other_seeds_differ() -> None:
    a, b, c = run(), run(), run(seed=1)
    assert same_tree(a.params, b.params)
    assert a.history == b.history
    assert not same_tree(a.params, c.params)


def test_steps_instead_of_epochs_end_with_a_partial_epoch_row() -> None:
    result = run(epochs=None, steps=13)
    assert result.steps == 13
    assert [(row["epoch"], row["step"]) for row in result.history] == [(1, 10), (2, 13)]
    with pytest.raises(TrainingError, match="epochs or steps, not both"):
        run(steps=13)


def test_eval_every_scores_the_held_out_split_every_n_epochs_and_after_the_last() -> None:
    result = run(epochs=7, eval_every=3)
    scored = [row["epoch"] for row in result.history if "test_loss" in row]
    assert scored == [3, 6, 7]
    assert all("train_loss" in row for row in result.history)
    every = run(epochs=7)  # the same training: only the scoring differs
    assert same_tree(result.params, every.params) and result.metrics == every.metrics
    with pytest.raises(TrainingError, match="eval_every"):
        run(epochs=7, eval_every=3, validation=0.2, early_stopping=2)
    with pytest.raises(TrainingError, match="eval_every must be an integer >= 1"):
        run(eval_every=0)


def test_eval_every_with_early_stopping_is_refused_where_the_spec_says_it() -> None:
    text = (
        "cellgraph: 1\nname: ev\ncells:\n  x: {type: input, size: 2}\n  y: {type: output, size: 1}\n"
        "edges: [x -> y]\ntrain:\n  validation: 0.2\n  early_stopping: 3\n  eval_every: 5\n"
    )
    with pytest.raises(SpecError) as err:
        cellgraph.build_graph(cellgraph.load_spec_text(text, "ev.yaml"))
    (problem,) = err.value.problems
    assert problem.path == "train.eval_every" and problem.loc.line == 10


def test_the_last_partial_batch_is_kept_for_small_data_and_dropped_for_big() -> None:
    small = _Plan.make(examples=150, batch_size=16, epochs=2, steps=None, drop=None)
    assert (small.full, small.remainder, small.steps_per_epoch, small.total) == (9, 6, 10, 20)
    big = _Plan.make(examples=1000, batch_size=16, epochs=1, steps=None, drop=None)
    assert (big.full, big.remainder, big.steps_per_epoch) == (62, 0, 62)
    forced = _Plan.make(examples=1000, batch_size=16, epochs=1, steps=None, drop=False)
    assert (forced.remainder, forced.steps_per_epoch) == (8, 63)
    whole = _Plan.make(examples=5, batch_size=64, epochs=1, steps=None, drop=None)
    assert (whole.batch_size, whole.full, whole.remainder) == (5, 1, 0)


def test_nan_stops_training_naming_the_step() -> None:
    with pytest.raises(TrainingError) as info:
        run(optimizer={"name": "sgd", "learning_rate": 1e30})
    message = str(info.value)
    assert message == "loss became nan at step 2 (epoch 1); lower the learning rate or add grad_clip"
    assert (info.value.step, info.value.epoch) == (2, 1)


def test_trainable_false_freezes_those_weights() -> None:
    model = tiny_model(frozen=("h",))
    tx = make_optimizer(RUN, model.trainable_mask)
    before = init_state(model.init, tx, seed=0).params
    after = run(model=model).params
    assert same_tree(after["h"], before["h"])
    assert not np.array_equal(after["y"]["w"], before["y"]["w"])


# ------------------------------------------------------------------------------- optimizers


def test_optimizer_by_name_with_arguments_and_clipping() -> None:
    spec = {"optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True}}
    assert parse_optimizer(spec) == ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True})
    assert parse_optimizer({"optimizer": "adam"}) == ("adam", {"learning_rate": 1e-3})  # the default rate
    assert parse_optimizer({}) == ("adam", {"learning_rate": 1e-3})
    result = run(optimizer=spec["optimizer"], grad_clip=1.0, epochs=2)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_line_search_optimizers_get_their_extra_arguments() -> None:
    result = run(optimizer={"name": "polyak_sgd", "max_learning_rate": 0.5}, epochs=1)
    assert np.isfinite(result.metrics["loss"])


@pytest.mark.parametrize(
    ("optimizer", "expected"),
    [
        ({"name": "adam", "lr": 0.1}, ["train.optimizer.lr", "optax.adam has no argument 'lr'", "'learning_rate'"]),
        ("adamm", ["train.optimizer", "unknown optax optimizer 'adamm'; did you mean 'adam'?", "optimizers: "]),
        ({"name": "sgd", "learning_rate": "1e-3"}, ["train.optimizer.learning_rate", "is text, not a number"]),
        (
            {"name": "adam", "b1": 0.9, "betas": 1, "eps": 1e-8},
            ["train.optimizer.betas", "arguments of optax.adam: learning_rate, b1, b2, eps"],
        ),
    ],
    ids=["bad-argument", "unknown-name", "number-as-text", "one-bad-among-good"],
)
def test_bad_optimizer_settings_name_the_spec_key(optimizer: Any, expected: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        make_optimizer({"optimizer": optimizer})
    text = info.value.format()
    for part in expected:
        assert part in text


def test_bad_grad_clip_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="train.grad_clip: expected a positive number"):
        make_optimizer({"optimizer": "adam", "grad_clip": -1.0})


# ------------------------------------------------------------------------------- step and eval


def test_train_step_is_a_donating_jitted_function_and_eval_is_pure() -> None:
    model = tiny_model()
    tx = make_optimizer(RUN, model.trainable_mask)
    state = init_state(model.init, tx, seed=0)
    data = tiny_data()
    batch = {"inputs": jnp.asarray(data.x_train[:16]), "targets": jnp.asarray(data.y_train[:16])}
    first_w = np.asarray(state.params["h"]["w"]).copy()
    old = state
    step = make_train_step(model, tx)
    state, metrics = step(state, batch)
    assert old.params["h"]["w"].is_deleted()  # donated: updated in place
    assert int(state.step) == 1
    assert set(metrics) == {"loss", "accuracy"}
    assert not np.array_equal(np.asarray(state.params["h"]["w"]), first_w)
    evaluate = make_eval(model)
    assert same_tree(evaluate(state.params, batch), evaluate(state.params, batch))  # no key: no noise


# ------------------------------------------------------------------------------- checkpoints


def interrupt_at(step: int) -> Callable[[StepInfo], None]:
    def callback(info: StepInfo) -> None:
        if info.step == step:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("stop", [7, 10, 16], ids=["mid-epoch", "epoch-end", "in-the-short-last-batch"])
def test_a_run_interrupted_and_resumed_ends_with_the_same_params(tmp_path: Path, stop: int) -> None:
    whole = run()
    with pytest.raises(TrainingInterrupted) as info:
        run(checkpoint_dir=tmp_path, on_step=interrupt_at(stop))
    assert info.value.step == stop
    assert info.value.checkpoint == str(tmp_path / f"step-{stop:08d}.msgpack")
    assert "checkpoint saved to" in str(info.value) and "to resume" in str(info.value)
    resumed = run(checkpoint_dir=tmp_path)
    assert same_tree(resumed.params, whole.params)
    assert resumed.history == whole.history
    assert resumed.steps == whole.steps


def test_ctrl_c_is_deferred_to_the_end_of_the_step(tmp_path: Path) -> None:
    def press_ctrl_c(info: StepInfo) -> None:
        if info.step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted) as info:
        run(checkpoint_dir=tmp_path, on_step=press_ctrl_c)
    assert info.value.step == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert list_checkpoints(tmp_path) == [tmp_path / "step-00000005.msgpack"]


def test_a_finished_run_is_evaluated_not_trained_again_and_more_epochs_are_another_run(tmp_path: Path) -> None:
    first = run(checkpoint_dir=tmp_path)
    again = run(checkpoint_dir=tmp_path)
    assert not first.already_trained and again.already_trained and again.resumed_at == again.steps == 30
    assert same_tree(again.params, first.params) and again.history == first.history
    assert again.metrics == first.metrics  # evaluated afresh, on the same data: the same figures
    with pytest.raises(TrainingError, match=r"belongs to another run \(epochs 3 there, 4 here\)"):
        run(checkpoint_dir=tmp_path, epochs=4)


def test_a_checkpoint_of_another_run_is_refused_and_no_resume_starts_over(tmp_path: Path) -> None:
    run(checkpoint_dir=tmp_path, epochs=1)
    with pytest.raises(TrainingError, match=r"belongs to another run \(batch_size 16 there, 32 here"):
        run(checkpoint_dir=tmp_path, epochs=1, batch_size=32)
    fresh = run(checkpoint_dir=tmp_path, epochs=1, batch_size=32, resume=False)
    assert fresh.steps == 5
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000005.msgpack"]


KILLED_RUN = """
import sys, time
sys.path.insert(0, {tests!r})
from test_train_loop import RUN, tiny_data, tiny_model
from cellgraph.train import runkey, train

runkey.code_digest = lambda: {code!r}  # the parent's: a file edited meanwhile must not make it another run

def wait_for_the_kill(info):
    if info.step == {stop}:
        print("READY", flush=True)
        time.sleep(120)

train(tiny_model(), tiny_data(), **RUN, checkpoint_dir={folder!r}, checkpoint_every=4, on_step=wait_for_the_kill)
print("FINISHED", flush=True)
"""


def test_a_run_killed_with_sigkill_resumes_from_its_checkpoint_to_the_same_params(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    from cellgraph.train.runkey import code_digest

    script = KILLED_RUN.format(tests=str(TESTS), stop=14, folder=str(folder), code=code_digest())
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if line.strip() != "READY":
                proc.wait(timeout=60)
                pytest.fail(
                    f"the training subprocess did not reach step 14: {proc.stderr.read() if proc.stderr else ''}"
                )
            proc.send_signal(signal.SIGKILL)  # kill -9: no handler, no clean-up
            assert proc.wait(timeout=60) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
    assert list_checkpoints(folder) == [folder / "step-00000012.msgpack", folder / "step-00000008.msgpack"]
    resumed = run(checkpoint_dir=folder)
    whole = run()
    assert same_tree(resumed.params, whole.params)
    assert resumed.history == whole.history


# ------------------------------------------------------------------------------- progress, curve


def test_the_progress_bar_shows_only_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    assert not wants_bar(True)  # pytest captures stderr: not a terminal
    assert not wants_bar(False, Terminal())  # type: ignore[arg-type]
    assert wants_bar(True, Terminal())  # type: ignore[arg-type]
    with Progress(total=20, initial=5, enabled=True) as bar:
        bar.advance(10)
        bar.show(2, 3, {"loss": 0.25, "accuracy": 0.875, "kl": 1.0})
    err = capsys.readouterr().err
    assert "15/20" in err and "epoch 2/3" in err and "loss=0.25" in err and "accuracy=0.875" in err


def test_the_training_curve_png_is_written_and_byte_identical(tmp_path: Path) -> None:
    result = run(curve_png=tmp_path / "a.png")
    plot_curve(result.history, tmp_path / "b.png")
    a, b = (tmp_path / "a.png").read_bytes(), (tmp_path / "b.png").read_bytes()
    assert a.startswith(b"\x89PNG\r\n\x1a\n")
    assert a == b
    assert b"Software" not in a and b"matplotlib" not in a.lower()


# ------------------------------------------------------------------------------- the command line


@pytest.fixture
def train_double(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """`cellgraph train` trains the tiny model instead of compiling its spec; records the calls.

    It runs in an empty folder, so the default run folder (.cellgraph/runs/...) is the test's own."""
    import cellgraph.train as package

    monkeypatch.chdir(tmp_path)
    calls: list[dict[str, Any]] = []

    def fake(graph: Any, data: Any = None, **kwargs: Any) -> TrainResult:  # data: the CLI loads it first
        calls.append(kwargs)
        settings = {**RUN, **{k: v for k, v in kwargs.items() if v is not None}}
        return train(tiny_model(), tiny_data(), **settings)

    monkeypatch.setattr(package, "train", fake)
    return calls


def test_cli_train_json_prints_only_the_final_metrics(run_cli: Any, tiny_spec: Path, train_double: list) -> None:
    result = run_cli("train", tiny_spec, "--epochs", "2", "--seed", "0", "--json")
    assert result.code == 0, result.err
    figures = json.loads(result.out)  # {"test": {...}, "train": {...}}: which split each figure is from
    assert set(figures) == {"test", "train"}
    assert set(figures["test"]) == set(figures["train"]) == {"loss", "accuracy"}
    assert train_double[0]["epochs"] == 2 and train_double[0]["progress"] is False


def test_cli_train_prints_a_summary_and_writes_the_curve(
    run_cli: Any, tiny_spec: Path, tmp_path: Path, train_double: list
) -> None:
    curve = tmp_path / "curve.png"
    result = run_cli("train", tiny_spec, "--epochs", "2", "--curve", curve)
    assert result.code == 0, result.err
    assert "2 epochs, 20 steps" in result.out and "test: accuracy" in result.out and f"wrote {curve}" in result.out
    assert curve.exists()


def test_cli_train_ctrl_c_saves_and_prints_the_resume_command(
    run_cli: Any, tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cellgraph.train as package

    def fake(graph: Any, data: Any = None, **kwargs: Any) -> TrainResult:  # data: the CLI loads it first
        return train(tiny_model(), tiny_data(), **{**RUN, **kwargs, "epochs": 3, "on_step": interrupt_at(4)})

    monkeypatch.setattr(package, "train", fake)
    folder = tmp_path / "ck"
    result = run_cli("train", tiny_spec, "-p", "width=3", "--epochs", "3", "--checkpoint-dir", folder)
    assert result.code == 130
    assert f"interrupted at step 4 (epoch 1); checkpoint saved to {folder / 'step-00000004.msgpack'}" in result.err
    assert f"resume: cellgraph train {tiny_spec} -p width=3 --epochs 3 --checkpoint-dir {folder}" in result.err


def test_cli_train_reports_spec_errors_like_validate(run_cli: Any, bad_specs_dir: Path) -> None:
    bad = sorted(bad_specs_dir.glob("*.yaml"))[0]
    validate = run_cli("validate", bad)
    trained = run_cli("train", bad)
    assert trained.code == validate.code == 1
    assert trained.err == validate.err


def test_cli_train_runs_the_compiled_mushroom_spec_end_to_end(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one test through the real compiler and data loader: a narrow mushroom MLP, one epoch.

    It runs in an empty folder, so the default run folder (.cellgraph/runs/...) starts empty: in
    the repository it could hold an earlier run's result, which the command would return as is.
    """
    from conftest import EXAMPLES

    monkeypatch.chdir(tmp_path)
    spec = EXAMPLES / "mushroom.yaml"
    result = run_cli("train", spec, "-p", "width=8", "-p", "depth=1", "--epochs", "1", "--json")
    assert result.code == 0, result.err
    metrics = json.loads(result.out)["test"]
    assert set(metrics) == {"accuracy", "loss"}
    assert metrics["accuracy"] > 0.8


def test_learning_rate_schedule_by_name() -> None:
    """`learning_rate: {schedule: cosine_decay, ...}` becomes the optax schedule."""
    import optax

    from cellgraph.train import make_optimizer

    cfg = {
        "optimizer": {
            "name": "sgd",
            "learning_rate": {"schedule": "cosine_decay", "init_value": 1.0, "decay_steps": 10},
        }
    }
    tx = make_optimizer(cfg)
    params = {"w": jnp.ones(())}
    state = tx.init(params)
    sizes = []
    for _ in range(3):
        updates, state = tx.update({"w": jnp.ones(())}, state, params)
        sizes.append(float(-updates["w"]))
    expected = [float(optax.cosine_decay_schedule(1.0, 10)(k)) for k in range(3)]
    assert sizes == pytest.approx(expected)
    assert sizes[0] > sizes[2]


def test_unknown_schedule_is_a_located_spec_error(tmp_path: Path) -> None:
    from cellgraph import SpecError, load_graph

    spec = tmp_path / "s.yaml"
    spec.write_text(
        "cellgraph: 1\nname: s\ncells:\n  x: {type: input, size: 2}\n  y: {type: output, size: 1}\n"
        "edges: [x -> y]\ntrain:\n  optimizer: {name: adam, learning_rate: {schedule: cosine, init_value: 0.1}}\n"
    )
    with pytest.raises(
        SpecError, match=r"s.yaml:8:\d+: train.optimizer.learning_rate.schedule: unknown optax schedule 'cosine'"
    ):
        load_graph(spec)


# ---------------------------------------------------------------------------------- compilations


def _count_compilations(run: Callable[[], Any]) -> tuple[int, int]:
    """(programs XLA compiled or loaded from the persistent cache, of which loaded) while ``run`` ran."""
    programs: list[float] = []
    hits: list[str] = []

    def on_duration(event: str, duration: float, **_: Any) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            programs.append(duration)

    def on_event(event: str, **_: Any) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    try:
        run()
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
        jax.monitoring.unregister_event_listener(on_event)
    return len(programs), len(hits)


def test_a_small_run_compiles_three_programs_and_a_second_run_none() -> None:
    """The mushroom MLP (issue 14): its initialisation, its step and one evaluation of every scored
    split (test and training) are the whole compile budget; nothing runs op by op. The same model
    trained again compiles nothing: every program comes from the persistent compilation cache."""
    from cellgraph import compile as compile_spec
    from cellgraph.train import train

    jax.clear_caches()
    model = compile_spec(EXAMPLES / "mushroom.yaml")
    programs, _ = _count_compilations(lambda: train(model, epochs=2, progress=False, score_train=True))
    assert programs <= 3, f"{programs} programs"
    programs, loaded = _count_compilations(lambda: train(model, epochs=2, progress=False, score_train=True))
    assert programs == loaded, f"{programs - loaded} compiled again"


@pytest.fixture
def no_jax_cache() -> Any:
    """JAX's persistent cache off for one test (the suite turns it on: conftest.py), as in a
    program that never set one."""
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    jax_cache.reset_cache()
    yield
    jax.config.update("jax_compilation_cache_dir", before)
    jax_cache.reset_cache()


def test_a_spec_run_keeps_its_programs_and_the_next_run_traces_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_jax_cache: None
) -> None:
    """Trained from its spec, a run keeps its compiled programs in cellgraph's cache folder; the
    same command again loads them (no compilation, no trace: JAX's compile events stay silent),
    gives the same parameters bit for bit; a setting that changes a program (the batch size)
    compiles afresh, and a damaged file is removed and its program compiled or loaded by JAX."""
    from cellgraph.train import train
    from cellgraph.train.ahead import forget

    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "1")
    spec = EXAMPLES / "mushroom.yaml"
    results = []

    def run(**kw: Any) -> None:
        results.append(train(spec, epochs=1, progress=False, **kw))

    first, _ = _count_compilations(run)
    kept = sorted((tmp_path / "cache" / "programs").glob("*.bin"))
    assert first == 3 and len(kept) == 3, (first, kept)
    again, _ = _count_compilations(run)
    assert again == 0, f"{again} programs compiled or loaded by JAX on the second run"
    same = jax.tree.leaves(jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), results[0].params, results[1].params))
    assert all(same)
    other, _ = _count_compilations(lambda: run(batch_size=64))
    assert other >= 2  # its step and initialisation (the evaluation's shapes did not change)
    step = next(p for p in kept if p.name.startswith("step-"))
    step.write_bytes(b"not a program")
    forget()  # as in a later process: this one holds the programs it loaded
    damaged, _ = _count_compilations(run)  # removed, and the step comes from JAX's cache
    assert damaged == 1 and results[-1].metrics == results[1].metrics
    assert not step.exists() or step.read_bytes() != b"not a program"


def test_programs_are_not_kept_with_the_caches_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cellgraph.train import train

    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "0")
    train(EXAMPLES / "mushroom.yaml", epochs=1, progress=False)
    assert not (tmp_path / "cache" / "programs").exists()


def test_a_kept_program_is_named_anew_when_jax_settings_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine part of a kept program's key is remembered per process, but per JAX settings:
    another config value or XLA_FLAGS names another program file."""
    import jax

    from cellgraph.train.ahead import program_store

    recipe = {"program": "step", "shapes": [[2, 3]]}
    first = program_store(recipe)
    assert first is not None and program_store(dict(recipe)) == first
    assert program_store({**recipe, "shapes": [[2, 4]]}) != first
    with jax.default_matmul_precision("highest"):  # a config value, set for this block only
        assert program_store(recipe) != first
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_fast_math=false")
    assert program_store(recipe) != first
    monkeypatch.undo()
    assert program_store(recipe) == first


def test_a_compile_option_this_xla_does_not_know_is_left_out() -> None:
    """The initialisation's options name XLA flags (INIT_OPTIONS); a later XLA that drops one must
    still compile the program, with the options it knows, rather than fail the run."""
    import jax

    from cellgraph.train.ahead import INIT_OPTIONS, compile_later

    lowered = jax.jit(lambda x: x * 2.0 + 1.0).lower(jax.ShapeDtypeStruct((3,), np.float32))
    options = {**INIT_OPTIONS, "xla_no_such_option_anywhere": True}
    compiled = compile_later(lowered, options).result()
    assert compiled(np.arange(3, dtype=np.float32)).tolist() == [1.0, 3.0, 5.0]
    with pytest.raises(Exception, match="No such compile option"):  # the plain call fails: the fallback is needed
        lowered.compile(compiler_options={"xla_no_such_option_anywhere": True})


def test_programs_that_call_out_of_xla_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_jax_cache: None
) -> None:
    """An LSTM's step calls cellgraph's native kernel and its initialisation LAPACK's QR (custom
    calls, registered with XLA while tracing): loaded untraced in a later process they crashed it.
    They are compiled each time; the programs without custom calls are kept, and a second run
    trains the same."""
    from cellgraph.train import train

    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "1")
    spec = tmp_path / "lstm.yaml"
    spec.write_text(
        "cellgraph: 1\nname: tiny_lstm\ncells:\n  x: {type: input, size: 2, sequence: true}\n"
        "  m: {type: memory, size: 4, emit: last}\n  y: {type: output, size: 1, activation: linear}\n"
        "edges:\n  - x -> m -> y\ntrain: {loss: mse, batch_size: 16, epochs: 1}\n"
        "data: {source: adding, n: 64, steps: 6, split: {test: 0.25, seed: 0}}\n",
        encoding="utf-8",
    )
    first = train(spec, progress=False)
    kept = sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "programs").glob("*.bin"))
    assert "step" not in kept and "init" not in kept, kept
    again = train(spec, progress=False)
    assert again.metrics == first.metrics


def test_a_one_shot_fit_keeps_its_own_programs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_jax_cache: None
) -> None:
    """A ridge read-out collects its reservoir's states with a program of the rule's own
    (RunInfo.program): kept beside the loop's, so the same spec trained again in a new process
    compiles nothing and traces nothing (it was traced and lowered on every call: ~0.3-0.7 s of an
    ESN's 0.9 s call) -- and learns the same weights."""
    from cellgraph.train import train
    from cellgraph.train.ahead import forget

    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "1")
    spec = tmp_path / "my_reservoir.yaml"
    spec.write_text(
        "cellgraph: 1\nname: my_reservoir\ncells:\n  u: {type: input, size: 1, sequence: true}\n"
        "  pool: {type: recurrent, size: 40, activation: tanh, trainable: false}\n"
        "  out: {type: output, size: 1, activation: linear}\n"
        "edges:\n  - u -> pool: {trainable: false}\n  - pool -> out\n"
        "  - pool -> pool: {trainable: false, density: 0.2, scale: 0.9}\n"
        "train: {rule: ridge, alpha: 1.0e-6, washout: 10}\n"
        "data: {source: mackey_glass, steps: 400}\n",
        encoding="utf-8",
    )
    results = []
    first, _ = _count_compilations(lambda: results.append(train(spec, progress=False, resume=False)))
    kept = sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "programs").glob("*.bin"))
    assert "rule" in kept, kept  # rule-collect and rule-fit-metrics beside init and evaluate
    forget()  # as in a new process
    again, _ = _count_compilations(lambda: results.append(train(spec, progress=False, resume=False)))
    assert first >= 3 and again == 0, (first, again)
    for a, b in zip(jax.tree.leaves(results[0].params), jax.tree.leaves(results[1].params), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
