"""After training (issue 12): the trained model is kept, evaluated, saved, reloaded, exported, and the
command line does all of it.

* ``TrainResult.model`` is the model that was trained; ``predict`` and ``cellgraph.evaluate`` use it.
* ``cellgraph.save`` / ``cellgraph.load``: one folder (Orbax arrays + a JSON record of the spec's
  text, its parts and the versions), written atomically; the model is rebuilt from the stored text
  (not the file on disk, which may have changed), with identical predictions in a fresh process;
  an artifact of another format, a run folder or a damaged file is refused naming it and the fix.
* ``cellgraph.export``: serialized StableHLO that JAX alone runs, also for an LSTM, whose native
  kernels (FFI custom calls) are turned off while tracing.
* The CLI: ``train --data --save --json``, ``predict``, ``evaluate``, ``export``; every mistake exits
  1 (2 for usage) with a message, never a traceback; JAX's persistent compilation cache only while a
  command runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from flax import serialization

import cellgraph
from cellgraph.artifact import ArtifactError, Trained
from cellgraph.compiler import native
from cellgraph.compiler.export import ExportError, input_shapes, load_exported
from cellgraph.data import Dataset
from cellgraph.train import TrainingError

PART = """\
cellgraph: 1
name: block
params: {width: 8}
cells:
  x: {type: input, size: "${width}"}
  h: {type: hidden, size: "${width}", activation: tanh}
edges:
  - x -> h
"""

NET = """\
cellgraph: 1
name: mine
params: {width: 8}
cells:
  wide: {type: input, size: 3}
  deep: {type: input, size: 4}
  stem: {type: hidden, size: "${width}", activation: relu}
  body: {use: parts/block.yaml, params: {width: "${width}"}, bind: {x: stem}}
  y: {type: output, size: 2, activation: softmax}
edges:
  - deep -> stem
  - body -> y
  - wide -> y
train:
  loss: cross_entropy
  metrics: [accuracy]
  optimizer: {name: adam, learning_rate: 0.02}
  epochs: 4
  batch_size: 32
  seed: 0
"""

LSTM = """\
cellgraph: 1
name: seq
cells:
  x: {type: input, size: 2, sequence: true}
  m: {type: memory, size: 8, emit: last}
  y: {type: output, size: 1, activation: linear}
edges:
  - x -> m -> y
train: {loss: mse, optimizer: {name: adam, learning_rate: 0.01}, steps: 5, batch_size: 16, seed: 0}
"""


def arrays(n: int = 240, seed: int = 0) -> dict[str, np.ndarray]:
    """Two inputs; the label depends on both (learnable, not trivially)."""
    rng = np.random.default_rng(seed)
    wide = rng.integers(0, 2, (n, 3)).astype(np.float32)
    deep = rng.normal(size=(n, 4)).astype(np.float32)
    y = ((wide[:, 0] + deep[:, 0] + deep[:, 1]) > 0.5).astype(np.int32)
    return {"wide": wide, "deep": deep, "y": y}


def dataset(data: dict[str, np.ndarray], k: int = 180) -> Dataset:
    x = {g: data[g] for g in ("wide", "deep")}
    return Dataset(
        "mine",
        "classification",
        {g: a[:k] for g, a in x.items()},
        data["y"][:k],
        {g: a[k:] for g, a in x.items()},
        data["y"][k:],
        classes=2,
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """net.yaml (using parts/block.yaml) and data.npz in an empty project folder; returns net.yaml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "0")  # tests of the cache turn it on themselves
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")  # the project root `use:` may read in
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "block.yaml").write_text(PART, encoding="utf-8")
    (tmp_path / "net.yaml").write_text(NET, encoding="utf-8")
    np.savez(tmp_path / "data.npz", **arrays())
    return tmp_path / "net.yaml"


@pytest.fixture
def trained(project: Path) -> cellgraph.train.TrainResult:
    return cellgraph.train(str(project), dataset(arrays()), progress=False)


def inputs_of(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"wide": data["wide"], "deep": data["deep"]}


# ---------------------------------------------------------------------------------- the result


def test_the_result_holds_the_model_it_trained(trained: Any) -> None:
    x = inputs_of(arrays())
    assert trained.model.inputs == ("wide", "deep") and trained.model.outputs == ("y",)
    want = trained.model.apply(trained.params, x)["y"]
    got = trained.predict(x)["y"]
    assert isinstance(got, np.ndarray) and got.shape == (240, 2)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6, atol=1e-7)
    assert trained.state is not None and int(trained.state.step) == trained.steps
    assert trained.settings["epochs"] == 4 and trained.scored_on == "test"


def test_evaluate_gives_the_training_figures_on_the_same_split(trained: Any) -> None:
    data = dataset(arrays())
    again = cellgraph.evaluate(trained, data)
    assert again.keys() == trained.metrics.keys() == {"loss", "accuracy"}
    for k, v in trained.metrics.items():
        assert again[k] == pytest.approx(v, rel=1e-6)
    on_train = cellgraph.evaluate(trained, data, split="train")
    assert on_train != again
    both = cellgraph.evaluate(trained, data, split="all")
    assert both["loss"] == pytest.approx((on_train["loss"] * 180 + again["loss"] * 60) / 240, rel=1e-5)


def test_evaluate_takes_a_model_or_a_spec_with_params(trained: Any, project: Path) -> None:
    data = dataset(arrays())
    by_result = cellgraph.evaluate(trained, data)
    assert cellgraph.evaluate(trained.model, data, params=trained.params) == by_result
    assert cellgraph.evaluate(str(project), data, params=trained.params) == pytest.approx(by_result)
    with pytest.raises(TrainingError, match="no parameters to evaluate"):
        cellgraph.evaluate(trained.model, data)
    with pytest.raises(TrainingError, match="split must be one of test, train, all"):
        cellgraph.evaluate(trained, data, split="validation")


def test_evaluate_refuses_data_that_do_not_fit_with_a_located_error(trained: Any, project: Path) -> None:
    data = arrays()
    wrong = Dataset(
        "mine", "classification", {"wide": data["wide"], "deep": data["deep"][:, :3]}, data["y"], None, None
    )
    with pytest.raises(cellgraph.SpecError, match=r"net\.yaml:\d+:\d+: cells\.deep"):
        cellgraph.evaluate(trained, wrong)
    with pytest.raises(cellgraph.SpecError, match=r"net\.yaml:\d+:\d+: cells\.deep"):
        cellgraph.evaluate(trained, {"wide": data["wide"], "deep": data["deep"][:, :3], "y": data["y"]})


def test_score_train_adds_the_training_split_in_evaluation_mode(project: Path) -> None:
    data = dataset(arrays())
    result = cellgraph.train(str(project), data, progress=False, score_train=True)
    assert result.train_metrics == pytest.approx(cellgraph.evaluate(result, data, split="train"))
    without = cellgraph.train(str(project), data, progress=False)
    assert without.train_metrics == {}


# ---------------------------------------------------------------------------------- save / load


def test_save_writes_one_folder_with_the_spec_texts_and_the_versions(trained: Any, project: Path) -> None:
    out = cellgraph.save(trained, "mine.model")
    assert sorted(p.name for p in out.iterdir()) == ["arrays", "cellgraph.json", "spec"]
    info = json.loads((out / "cellgraph.json").read_text())
    assert info["kind"] == "cellgraph-model" and info["format"] == 1
    assert info["libraries"]["jax"] == jax.__version__ and "orbax-checkpoint" in info["libraries"]
    assert info["cellgraph"]
    assert info["spec"]["files"] == ["net.yaml", "parts/block.yaml"] and info["spec"]["root"] == "net.yaml"
    assert (out / "spec" / "net.yaml").read_text() == NET and (
        out / "spec" / "parts" / "block.yaml"
    ).read_text() == PART
    assert info["spec"]["trained_from"] == str(project.resolve())
    assert info["step"] == trained.steps and info["metrics"] == pytest.approx(trained.metrics)
    assert info["inputs"] == {"wide": {"shape": [3], "sequence": False}, "deep": {"shape": [4], "sequence": False}}
    assert not [p for p in Path(".").iterdir() if p.name.startswith(".mine.model")]  # no temporary left


def test_load_gives_the_model_params_and_optimizer_state(trained: Any) -> None:
    out = cellgraph.save(trained, "mine.model")
    loaded = cellgraph.load(out)
    assert isinstance(loaded, Trained) and loaded.step == trained.steps
    model, params = loaded  # unpacks as (model, params)
    assert model is loaded.model
    same = jax.tree.map(lambda a, b: bool(np.array_equal(np.asarray(a), np.asarray(b))), params, trained.params)
    assert all(jax.tree.leaves(same))
    want_opt = serialization.to_state_dict(trained.state.rule_state)
    assert jax.tree.structure(loaded.opt_state) == jax.tree.structure(want_opt)
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(jax.tree.leaves(loaded.opt_state), jax.tree.leaves(want_opt), strict=True)
    )
    np.testing.assert_array_equal(loaded.predict(inputs_of(arrays()))["y"], trained.predict(inputs_of(arrays()))["y"])
    assert loaded.evaluate(dataset(arrays())) == pytest.approx(trained.metrics)


FRESH = """
import sys, numpy as np, cellgraph
trained = cellgraph.load(sys.argv[1])
data = np.load(sys.argv[2])
out = trained.predict({"wide": data["wide"], "deep": data["deep"]})
np.save(sys.argv[3], out["y"])
"""


def test_predictions_are_identical_after_a_reload_in_a_fresh_process(trained: Any, project: Path) -> None:
    out = cellgraph.save(trained, "mine.model")
    # the spec and its part change on disk afterwards: the saved model keeps the texts it was trained from
    (project.parent / "parts" / "block.yaml").write_text(PART.replace("tanh", "relu"), encoding="utf-8")
    project.write_text(NET.replace("width: 8}", "width: 16}"), encoding="utf-8")
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", FRESH, str(out.resolve()), str(project.parent / "data.npz"), "pred.npy"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(elsewhere / "pred.npy"), trained.predict(inputs_of(arrays()))["y"])


def test_saving_again_replaces_a_saved_model_but_never_another_folder(trained: Any, project: Path) -> None:
    cellgraph.save(trained, "mine.model")
    again = cellgraph.save(cellgraph.load("mine.model"), "mine.model")  # a loaded model saves too
    assert cellgraph.load(again).step == trained.steps
    (project.parent / "mine").mkdir()
    (project.parent / "mine" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ArtifactError, match="holds something other than a saved model; it is left as it is"):
        cellgraph.save(trained, "mine")
    assert (project.parent / "mine" / "notes.txt").read_text() == "mine"
    with pytest.raises(ArtifactError, match="net.yaml exists and is not a saved model folder"):
        cellgraph.save(trained, "net.yaml")


def test_save_needs_a_model_compiled_from_a_spec(trained: Any) -> None:
    from dataclasses import replace

    with pytest.raises(ArtifactError, match="needs a trained result whose model was compiled from a spec"):
        cellgraph.save(replace(trained, model=None), "x.model")


def test_load_refuses_another_format_naming_the_artifact_and_the_fix(trained: Any) -> None:
    out = cellgraph.save(trained, "mine.model")
    meta = out / "cellgraph.json"
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps({**info, "format": 99, "cellgraph": "9.9"}), encoding="utf-8")
    with pytest.raises(ArtifactError) as caught:
        cellgraph.load(out)
    message = str(caught.value)
    assert "mine.model was saved in format 99 by cellgraph 9.9" in message
    assert "reads format 1" in message and "fix: load it with cellgraph 9.9" in message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("missing", "no saved model at"),
        ("file", "is a file, not a saved model"),
        ("json", "cannot be read"),
        ("kind", "does not describe a saved cellgraph model"),
        ("arrays", "lacks its arrays"),
        ("texts", "lacks its spec texts"),
        ("edited", "its spec texts (spec/) differ from the ones it was saved with"),
        ("escape", "outside the model: it is damaged"),
        ("shape", "parameter ['body.h']['bias'] is float32[8] there, this cellgraph's model expects float32[5]"),
    ],
)
def test_load_refuses_a_damaged_artifact_with_a_message(trained: Any, damage: str, expected: str) -> None:
    import shutil

    out = cellgraph.save(trained, "mine.model")
    meta = out / "cellgraph.json"
    info = json.loads(meta.read_text())
    if damage == "missing":
        shutil.rmtree(out)
    elif damage == "file":
        shutil.rmtree(out)
        out.write_text("x", encoding="utf-8")
    elif damage == "json":
        meta.write_text("{", encoding="utf-8")
    elif damage == "kind":
        meta.write_text(json.dumps({**info, "kind": "other"}), encoding="utf-8")
    elif damage == "arrays":
        shutil.rmtree(out / "arrays")
    elif damage == "texts":
        shutil.rmtree(out / "spec")
    elif damage == "edited":
        (out / "spec" / "parts" / "block.yaml").write_text(PART.replace("tanh", "relu"), encoding="utf-8")
    elif damage == "escape":
        info["spec"]["root"] = "../../net.yaml"
        meta.write_text(json.dumps(info), encoding="utf-8")
    elif damage == "shape":  # the stored params no longer fit the stored spec (its digest rewritten to match)
        from cellgraph.artifact import spec_text_digest

        info["spec"]["params"] = {"width": 5}
        info["spec"]["digest"] = spec_text_digest(cellgraph.load_spec(out / "spec" / "net.yaml", {"width": 5}))
        meta.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(ArtifactError, match=expected_pattern(expected)):
        cellgraph.load(out)


def expected_pattern(text: str) -> str:
    import re

    return re.escape(text)


def test_a_run_folder_loads_with_its_spec_and_is_refused_as_an_artifact(project: Path) -> None:
    result = cellgraph.train(str(project), dataset(arrays()), progress=False, runs_dir=".cellgraph/runs")
    folder = Path(result.checkpoint).parent
    with pytest.raises(ArtifactError, match="is a run folder of training checkpoints, not a saved model"):
        cellgraph.load(folder)
    run = cellgraph.load_run(str(project), folder)
    assert run.step == result.steps
    np.testing.assert_array_equal(run.predict(inputs_of(arrays()))["y"], result.predict(inputs_of(arrays()))["y"])
    with pytest.raises(ArtifactError, match="was trained from another spec"):
        cellgraph.load_run(str(project), folder, {"width": 16})


# ---------------------------------------------------------------------------------- export


def test_disabled_turns_the_native_kernels_off_in_this_context_only() -> None:
    before = native.available()
    with native.disabled():
        assert not native.available()
        with native.disabled():
            assert not native.available()
        assert not native.available()
    assert native.available() == before


def test_disabled_keeps_the_kernels_custom_calls_out_of_a_trace(tmp_path: Path) -> None:
    """A gradient of an LSTM takes the native kernels (where built); traced under disabled() it does not."""
    spec = tmp_path / "seq.yaml"
    spec.write_text(LSTM, encoding="utf-8")
    model = cellgraph.compile(str(spec))
    params = model.init(jax.random.key(0))
    batch = model.batch(np.zeros((16, 9, 2), np.float32), np.zeros((16, 1), np.float32))

    def grad_text() -> str:
        return str(jax.make_jaxpr(jax.grad(lambda p: model.loss(p, batch, None)[0]))(params))

    if native.available():
        assert "cellgraph_lstm" in grad_text()
    with native.disabled():
        assert "cellgraph_lstm" not in grad_text()


def test_an_mlp_exports_for_any_batch_and_runs_with_jax_alone(trained: Any, tmp_path: Path) -> None:
    path = tmp_path / "mine.stablehlo"
    exported = cellgraph.export(trained.model, trained.params, path)
    assert [str(a) for a in exported.in_avals] == ["float32[b,4]", "float32[b,3]"]  # (deep, wide): any batch
    again = jax.export.deserialize(bytearray(path.read_bytes()))
    for batch in (7, 1, 240):
        x = {k: v[:batch] for k, v in inputs_of(arrays()).items()}
        want = np.asarray(trained.model.apply(trained.params, x)["y"])
        np.testing.assert_allclose(np.asarray(again.call(x)["y"]), want, rtol=1e-6, atol=1e-7)
    assert [str(a) for a in load_exported(path).out_avals] == ["float32[b,2]"]


def test_a_fixed_batch_export_takes_that_batch_only(trained: Any) -> None:
    exported = cellgraph.export(trained.model, trained.params, batch=5)
    assert [str(a) for a in exported.in_avals] == ["float32[5,4]", "float32[5,3]"]  # (deep, wide), keys sorted


def test_an_lstm_exports_with_the_native_kernels_turned_off_for_the_trace(tmp_path: Path) -> None:
    spec = tmp_path / "seq.yaml"
    spec.write_text(LSTM, encoding="utf-8")
    model = cellgraph.compile(str(spec))
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(16, 9, 2)).astype(np.float32)
    want = np.asarray(model.apply(params, x)["y"])  # with the native kernels where they are built
    exported = cellgraph.export(model, params, tmp_path / "seq.stablehlo")
    assert [str(a) for a in exported.in_avals] == ["float32[b,t,2]"]  # any batch, any sequence length
    assert "cellgraph_" not in exported.mlir_module()  # no custom call of ours in the module
    got = load_exported(tmp_path / "seq.stablehlo").call(x)["y"]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    other = np.random.default_rng(1).normal(size=(5, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(exported.call(other)["y"]), np.asarray(model.apply(params, other)["y"]), atol=1e-5
    )


def test_a_size_a_layer_needs_as_a_number_is_named_with_the_fix() -> None:
    """The echo state network steps through time in one scan: its length must be a number."""
    from conftest import ZOO

    model = cellgraph.compile(ZOO / "esn.yaml")
    params = model.init(jax.random.key(0))
    with pytest.raises(ExportError, match=r"esn cannot be exported for any sequence length: .*fix: pass time=T"):
        cellgraph.export(model, params)
    exported = cellgraph.export(model, params, time=20)
    assert [str(a) for a in exported.in_avals] == ["float32[b,20,1]"]  # any batch, 20 steps
    x = np.random.default_rng(0).normal(size=(3, 20, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(exported.call(x)["y"]), np.asarray(model.apply(params, x)["y"]), atol=1e-6)
    nothing = cellgraph.compile(ZOO / "mc.yaml")
    with pytest.raises(ExportError, match="mc has no output group"):  # its walk feeds `s` itself
        cellgraph.export(nothing, nothing.init(jax.random.key(0)))


def test_export_refuses_bad_sizes_and_paths(trained: Any, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="batch must be a positive whole number, got 0"):
        cellgraph.export(trained.model, trained.params, batch=0)
    with pytest.raises(ExportError, match="is a folder; give a file name"):
        cellgraph.export(trained.model, trained.params, tmp_path, batch=2)
    (tmp_path / "junk.stablehlo").write_bytes(b"not a model")
    with pytest.raises(ExportError, match="is not a serialized jax.export model"):
        load_exported(tmp_path / "junk.stablehlo")


def test_input_shapes_put_time_after_the_batch_for_a_sequence(tmp_path: Path) -> None:
    spec = tmp_path / "seq.yaml"
    spec.write_text(LSTM, encoding="utf-8")
    assert input_shapes(cellgraph.compile(str(spec)), 4, 9) == {"x": (4, 9, 2)}


# ---------------------------------------------------------------------------------- the CLI


def test_cli_trains_on_a_data_file_saves_and_reports_both_splits(run_cli: Any, project: Path) -> None:
    result = run_cli("train", project, "--data", "data.npz", "--save", "mine.model", "--json")
    assert result.code == 0, result.err
    figures = json.loads(result.out)
    assert set(figures) == {"test", "train"}
    assert set(figures["test"]) == set(figures["train"]) == {"loss", "accuracy"}
    loaded = cellgraph.load("mine.model")
    assert loaded.metrics == pytest.approx(figures["test"])
    text = run_cli("train", project, "--data", "data.npz")  # the same run: already trained
    assert text.code == 0, text.err
    assert "\ntest: accuracy" in text.out and "\ntrain: accuracy" in text.out


def test_cli_predict_evaluate_and_export_a_saved_model(run_cli: Any, project: Path) -> None:
    assert run_cli("train", project, "--data", "data.npz", "--save", "mine.model", "--json").code == 0
    loaded = cellgraph.load("mine.model")
    predicted = run_cli("predict", "--run", "mine.model", "--data", "data.npz", "-o", "out.npz")
    assert predicted.code == 0, predicted.err
    assert "wrote out.npz: y [240, 2]" in predicted.out
    with np.load("out.npz") as out:
        np.testing.assert_array_equal(out["y"], loaded.predict(inputs_of(arrays()))["y"])
    scored = run_cli("evaluate", project, "--run", "mine.model", "--data", "data.npz", "--json")
    assert scored.code == 0, scored.err
    figures = json.loads(scored.out)
    assert figures["all"] == pytest.approx(loaded.evaluate(arrays()), rel=1e-5)
    exported = run_cli("export", "--run", "mine.model", "-o", "mine.stablehlo", "--batch", "5")
    assert exported.code == 0, exported.err
    x = {k: v[:5] for k, v in inputs_of(arrays()).items()}
    got = load_exported("mine.stablehlo").call(x)["y"]
    np.testing.assert_allclose(np.asarray(got), loaded.predict(x)["y"], atol=1e-6)


def test_cli_reads_a_run_folder_with_its_spec(run_cli: Any, project: Path) -> None:
    assert run_cli("train", project, "--data", "data.npz", "--json").code == 0
    (folder,) = Path(".cellgraph/runs").iterdir()
    scored = run_cli("evaluate", project, "--run", folder, "--data", "data.npz", "--json")
    assert scored.code == 0, scored.err
    assert set(json.loads(scored.out)["all"]) == {"loss", "accuracy"}
    alone = run_cli("evaluate", "--run", folder, "--data", "data.npz")
    assert alone.code == 2 and "a run folder needs its spec" in alone.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("predict", "--run", "nowhere.model", "--data", "data.npz", "-o", "o.npz"), "not a saved model"),
        (("predict", "net.yaml", "--run", "nowhere", "--data", "data.npz", "-o", "o.npz"), "no run folder at nowhere"),
        (("predict", "--run", "mine.model", "--data", "missing.npz", "-o", "o.npz"), "missing.npz"),
        (("predict", "--run", "mine.model", "--data", "data.npz", "-o", "out.csv"), "give a file name ending in .npz"),
        (("evaluate", "net.yaml", "--run", "mine.model"), "the spec has no `data:` block"),
        (("export", "--run", "mine.model", "-o", "m.stablehlo", "--batch", "0"), "batch must be a positive"),
        (("export", "--run", "mine.model", "-o", "."), "is a folder; give a file name"),
        (("train", "net.yaml", "--data", "data.npz", "--save", "net.yaml"), "exists and is not a saved model folder"),
    ],
)
def test_cli_mistakes_exit_1_with_a_message_never_a_traceback(
    run_cli: Any, project: Path, argv: tuple[str, ...], expected: str
) -> None:
    assert run_cli("train", project, "--data", "data.npz", "--save", "mine.model", "--json").code == 0
    result = run_cli(*argv)
    assert result.code in (1, 2), result.err
    assert expected in result.err and "Traceback" not in result.err


def test_cli_refuses_a_saved_model_with_another_spec(run_cli: Any, project: Path) -> None:
    assert run_cli("train", project, "--data", "data.npz", "--save", "mine.model", "--json").code == 0
    project.write_text(NET.replace("learning_rate: 0.02", "learning_rate: 0.03"), encoding="utf-8")
    result = run_cli("predict", project, "--run", "mine.model", "--data", "data.npz", "-o", "out.npz")
    assert result.code == 1 and "was saved from another spec than" in result.err
    assert run_cli("predict", "--run", "mine.model", "--data", "data.npz", "-o", "out.npz").code == 0


def test_cli_bad_data_is_a_located_error(run_cli: Any, project: Path) -> None:
    bad = arrays()
    bad["deep"] = bad["deep"][:, :3]  # the spec says size 4
    np.savez("bad.npz", **bad)
    result = run_cli("train", project, "--data", "bad.npz")
    assert result.code == 1 and "Traceback" not in result.err
    assert "net.yaml:" in result.err and "deep" in result.err


def test_the_compilation_cache_is_on_only_while_a_command_runs(
    run_cli: Any, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "1")
    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)  # as in a program without a cache of its own
    try:
        assert run_cli("train", project, "--data", "data.npz", "--json").code == 0
        assert jax.config.jax_compilation_cache_dir is None  # restored: a program calling main() is unchanged
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_a_command_keeps_its_compiled_programs_for_the_next(
    run_cli_subprocess: Any, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a process of its own (JAX decides once per process whether it uses the cache), without
    the test suite's own cache (conftest sets JAX_COMPILATION_CACHE_DIR, which the CLI respects)."""
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "1")
    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    first = run_cli_subprocess("train", project, "--data", "data.npz", "--json", cwd=project.parent)
    assert first.code == 0, first.err
    kept = sorted(p.name for p in (tmp_path / "cache" / "programs").iterdir())
    assert len(kept) == 3, kept  # the run's initialisation, step and evaluation (cellgraph.train.ahead)
    again = run_cli_subprocess(
        "evaluate",
        project,
        "--run",
        next(Path(".cellgraph/runs").iterdir()),
        "--data",
        "data.npz",
        "--json",
        cwd=project.parent,
    )
    assert again.code == 0, again.err


def test_train_from_python_keeps_its_compiled_programs_and_leaves_jax_as_it_was(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cellgraph.train keeps a spec's compiled programs in cellgraph's folder (issue 14) and leaves
    JAX's own settings as they were."""
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    monkeypatch.setenv("CELLGRAPH_JAX_CACHE", "1")
    monkeypatch.setenv("CELLGRAPH_CACHE", str(tmp_path / "cache"))
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)  # a program without a cache of its own
    jax_cache.reset_cache()
    try:
        cellgraph.train(str(project), dataset(arrays()), epochs=1, progress=False)
        assert len(sorted((tmp_path / "cache" / "programs").iterdir())) == 3, "the run's programs were not kept"
        assert jax.config.jax_compilation_cache_dir is None
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
        jax_cache.reset_cache()
