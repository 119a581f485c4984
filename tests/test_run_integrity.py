"""Trust in a run's result: run identity, checkpoint integrity and disk faults (issue 10, items 1, 6, 7).

* **Run identity.** A run folder is keyed by everything that decides the result (the spec and its
  `use:` parts, the data's contents, cellgraph's code, the library versions, the settings); a
  finished run re-evaluates its stored parameters and says so; a folder holding another run is
  refused, naming what differs. The CLI cases run the real compiler on a two-file spec with a CSV.
* **Checkpoint integrity.** Every single-bit flip, truncation, zeroed page and foreign file is
  detected; a damaged newest checkpoint gives one warning and the previous one, never other
  parameters, a TypeError or "loss became nan".
* **Disk faults.** An unwritable folder is refused before the first step; a full disk while saving
  (simulated: these tests run as root, where chmod does not stop writes) leaves no partial file,
  and the metrics are returned (and printed) all the same.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_train_loop import RUN, same_tree, tiny_data, tiny_model

import cellgraph.access as access
import cellgraph.train.checkpoint as checkpoint_module
import cellgraph.train.runkey as runkey
from cellgraph.train import CheckpointWarning, StepInfo, TrainingError, TrainResult, make_eval, train
from cellgraph.train.checkpoint import (
    FORMAT,
    MAGIC,
    CorruptCheckpoint,
    SaveWarning,
    decode,
    list_checkpoints,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from cellgraph.train.state import TrainState

# ------------------------------------------------------------------------------- a project on disk

PART = """\
cellgraph: 1
name: block
params: {{width: 6}}
cells:
  x: {{type: input, size: 2}}
  h: {{type: hidden, size: "${{width}}", activation: {activation}}}
  y: {{type: output, size: 2, activation: softmax}}
edges:
  - x -> h -> y
"""

ROOT_SPEC = """\
cellgraph: 1
name: composed
cells:
  net: {use: part.yaml}
edges: []
train:
  loss: cross_entropy
  metrics: [accuracy]
  optimizer: {name: adam, learning_rate: 0.05}
  epochs: 3
  batch_size: 16
  seed: 0
data:
  csv: data.csv
  target: label
  split: {test: 0.3, seed: 0}
"""


def write_csv(folder: Path, *, inverted: bool = False) -> None:
    """120 rows of two Gaussian blobs; ``inverted`` swaps the labels (same features)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 120)
    points = rng.normal(size=(120, 2)) + np.where(labels[:, None] == 1, 1.5, -1.5)
    shown = 1 - labels if inverted else labels
    rows = [f"{a:.3f},{b:.3f},{y}" for (a, b), y in zip(points, shown, strict=True)]
    (folder / "data.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """net.yaml (using part.yaml) and data.csv in an empty working folder; returns net.yaml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "part.yaml").write_text(PART.format(activation="relu"), encoding="utf-8")
    (tmp_path / "net.yaml").write_text(ROOT_SPEC, encoding="utf-8")
    write_csv(tmp_path)
    return tmp_path / "net.yaml"


def train_json(run_cli: Any, *argv: Any) -> tuple[dict[str, float], Any]:
    result = run_cli("train", *argv, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)["test"], result


def run_folders() -> list[str]:
    runs = Path(".cellgraph/runs")
    return sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []


def fresh_metrics(spec: Path) -> dict[str, float]:
    """What training the spec as it is now gives, with no run folder at all."""
    return train(str(spec), progress=False).metrics


# ------------------------------------------------------------------------------- run identity (CLI)


def test_editing_a_use_part_is_a_new_run_with_a_true_figure(run_cli: Any, project: Path) -> None:
    first, _ = train_json(run_cli, project)
    (project.parent / "part.yaml").write_text(PART.format(activation="tanh"), encoding="utf-8")
    second, result = train_json(run_cli, project)
    assert "already trained" not in result.err
    assert len(run_folders()) == 2  # the edited part is a run of its own
    assert second == fresh_metrics(project)
    assert second != first


def test_changing_the_csv_labels_is_a_new_run(run_cli: Any, project: Path) -> None:
    first, _ = train_json(run_cli, project)
    assert first["accuracy"] > 0.9
    write_csv(project.parent, inverted=True)
    second, result = train_json(run_cli, project)
    assert "already trained" not in result.err
    assert len(run_folders()) == 2
    assert second == fresh_metrics(project)  # learned the inverted labels: not the stale ~1.0 nor ~0.0
    assert second["accuracy"] > 0.9


def test_changing_cellgraph_code_is_a_new_run(run_cli: Any, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train_json(run_cli, project)
    # as if a cell's code had been edited: another digest, but one of this code (a constant one
    # would also key the compiled programs kept from earlier test sessions, of other code)
    edited = runkey.code_digest()[::-1]
    monkeypatch.setattr(runkey, "code_digest", lambda: edited)
    _, result = train_json(run_cli, project)
    assert "already trained" not in result.err
    assert len(run_folders()) == 2


def test_a_finished_run_is_evaluated_and_says_it_did_not_train(run_cli: Any, project: Path) -> None:
    first = run_cli("train", project)
    assert first.code == 0 and first.out.startswith("trained composed: 3 epochs, 18 steps"), first.err
    again = run_cli("train", project)
    assert again.code == 0, again.err
    folder = Path(".cellgraph/runs") / run_folders()[0]
    assert again.out.startswith(
        f"already trained composed: 3 epochs, 18 steps ({folder / 'step-00000018.msgpack'}): "
        "evaluated the stored parameters; --no-resume trains again\n"
    )
    assert first.out.splitlines()[1] == again.out.splitlines()[1]  # the same test metrics, evaluated afresh
    quiet = run_cli("train", project, "--json")
    assert json.loads(quiet.out) and "already trained composed" in quiet.err


def test_a_checkpoint_dir_with_other_epochs_is_refused_naming_them(
    run_cli: Any, tiny_spec: Path, tmp_path: Path, train_double: list
) -> None:
    folder = tmp_path / "ck"
    assert run_cli("train", tiny_spec, "--epochs", "1", "--checkpoint-dir", folder).code == 0
    refused = run_cli("train", tiny_spec, "--epochs", "2", "--checkpoint-dir", folder)
    assert refused.code == 1 and refused.out == ""
    assert "belongs to another run (epochs 1 there, 2 here" in refused.err
    assert "--no-resume" in refused.err and "Traceback" not in refused.err
    over = run_cli("train", tiny_spec, "--epochs", "2", "--checkpoint-dir", folder, "--no-resume")
    assert over.code == 0 and "trained tiny: 2 epochs, 20 steps" in over.out


# ------------------------------------------------------------------------------- run identity (Python)


def run(**changes: Any) -> TrainResult:
    model = changes.pop("model", None) or tiny_model()
    return train(model, changes.pop("data", None) or tiny_data(), **{**RUN, **changes})


def test_a_checkpoint_folder_of_other_data_is_refused_naming_the_data(tmp_path: Path) -> None:
    run(checkpoint_dir=tmp_path, epochs=1)
    with pytest.raises(TrainingError, match=r"belongs to another run \(the data changed\); train with resume=False"):
        run(checkpoint_dir=tmp_path, epochs=1, data=tiny_data(seed=1))


def test_a_finished_run_reports_fresh_metrics_never_its_stored_history(tmp_path: Path) -> None:
    first = run(checkpoint_dir=tmp_path)
    # doctor the stored history (a valid file: rewritten with its checksum) to hold other figures
    stored = read_checkpoint(list_checkpoints(tmp_path)[0])
    state, meta = load_checkpoint(stored.path, _template())
    meta["history"][-1]["test_accuracy"] = meta["history"][-1]["test_loss"] = 0.125
    save_checkpoint(tmp_path, state, meta)
    again = run(checkpoint_dir=tmp_path)
    assert again.already_trained and again.resumed_at == again.steps == 30 and not first.already_trained
    assert again.history[-1]["test_accuracy"] == 0.125  # the record of training is kept as it was
    data = tiny_data()
    evaluated = make_eval(tiny_model())(again.params, {"inputs": data.x_test, "targets": data.y_test})
    assert again.metrics == pytest.approx({k: float(v) for k, v in evaluated.items()}, rel=1e-6)
    assert again.metrics["accuracy"] != 0.125


def test_the_key_names_each_difference() -> None:
    base = runkey.RunKey("s", "d", "m", "c", {"jax": "1"}, {"epochs": 5, "seed": 0})
    stored = base.to_meta()
    assert runkey.differences(stored, base) == []
    changed = runkey.RunKey("s2", "d2", "m2", "c2", {"jax": "2"}, {"epochs": 10, "seed": 0})
    assert runkey.differences(stored, changed) == [
        "epochs 5 there, 10 here",
        "the spec or one of its `use:` parts changed (or its params)",
        "the data changed",
        "the network's parameter shapes differ",
        "cellgraph's code changed",
        "jax 1 there, 2 here",
    ]


def test_the_data_digest_sees_every_byte_dtype_and_shape() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    base = runkey.data_digest({"x": x})
    flipped = x.copy()
    flipped.reshape(-1).view(np.uint8)[17] ^= 1
    assert runkey.data_digest({"x": flipped}) != base
    assert runkey.data_digest({"x": x.reshape(4, 3)}) != base
    assert runkey.data_digest({"x": x.astype(np.float64)}) != base
    assert runkey.data_digest({"x": x.copy()}) == base


# ------------------------------------------------------------------------------- checkpoint integrity


def _template() -> TrainState:
    from cellgraph.train import init_state, make_optimizer

    model = tiny_model()
    return init_state(model.init, make_optimizer(RUN, model.trainable_mask), 0)


@pytest.fixture
def saved_run(tmp_path: Path) -> tuple[Path, TrainResult]:
    """A finished tiny run with checkpoints at steps 20 and 30 (the newest two of 10, 20, 30)."""
    folder = tmp_path / "ck"
    result = run(checkpoint_dir=folder, checkpoint_every=10)
    assert [p.name for p in list_checkpoints(folder)] == ["step-00000030.msgpack", "step-00000020.msgpack"]
    return folder, result


def _flip(blob: bytes, bit: int) -> bytes:
    damaged = bytearray(blob)
    damaged[bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


def test_every_single_bit_flip_of_a_checkpoint_is_detected(saved_run: tuple[Path, TrainResult]) -> None:
    folder, _ = saved_run
    newest = folder / "step-00000030.msgpack"
    blob = newest.read_bytes()
    assert len(blob) * 8 > 10_000
    for bit in range(len(blob) * 8):  # every bit: header, run key, history and every parameter
        with pytest.raises(CorruptCheckpoint):
            decode(_flip(blob, bit), newest)
    decode(blob, newest)  # the intact bytes pass
    for bit in range(0, len(blob) * 8, 61):  # and through the file, a few hundred of them
        newest.write_bytes(_flip(blob, bit))
        with pytest.raises(CorruptCheckpoint):
            read_checkpoint(newest)


def _exponent_flip(blob: bytes, stored: Any) -> bytes:
    """Flip the top exponent bit of one float32 parameter (a value becomes huge)."""
    value = np.asarray(stored.state["params"]["y"]["w"], np.float32).ravel()[3]
    at = blob.index(value.tobytes())
    damaged = bytearray(blob)
    damaged[at + 3] ^= 0x40
    return bytes(damaged)


DAMAGE: dict[str, Callable[[bytes, Any], bytes]] = {
    "bit-flip-in-the-header": lambda b, _: _flip(b, 8 * 10 + 3),
    "bit-flip-in-the-payload": lambda b, _: _flip(b, 8 * (len(b) // 2)),
    "flipped-exponent": _exponent_flip,
    "cut-in-half": lambda b, _: b[: len(b) // 2],
    "cut-inside-the-header": lambda b, _: b[:30],
    "one-byte-short": lambda b, _: b[:-1],
    "one-byte-more": lambda b, _: b + b"\0",
    "zeroed-page": lambda b, _: b[:1024] + bytes(min(4096, len(b) - 1024)) + b[1024 + 4096 :],
    "all-zero": lambda b, _: bytes(len(b)),
    "empty": lambda b, _: b"",
    "garbage": lambda b, _: np.random.default_rng(0).bytes(len(b)),
    "text": lambda b, _: b"not a checkpoint\n",
    "msgpack-of-something-else": lambda b, _: checkpoint_module.serialization().msgpack_serialize(
        {"format": 1, "meta": 3}
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_newest_checkpoint_warns_once_and_the_previous_one_is_used(
    saved_run: tuple[Path, TrainResult], damage: str
) -> None:
    folder, whole = saved_run
    newest = folder / "step-00000030.msgpack"
    blob = newest.read_bytes()
    newest.write_bytes(DAMAGE[damage](blob, read_checkpoint(newest)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = run(checkpoint_dir=folder, checkpoint_every=10)
    mine = [w for w in caught if issubclass(w.category, CheckpointWarning)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    assert f"skipping damaged checkpoint {newest}" in str(mine[0].message)
    assert "using step-00000020.msgpack" in str(mine[0].message)
    assert resumed.resumed_at == 20  # retrained the last 10 steps from the intact file
    assert same_tree(resumed.params, whole.params) and resumed.history == whole.history
    assert read_checkpoint(newest).meta["step"] == 30  # and wrote the final one again, intact


def test_when_every_checkpoint_is_damaged_the_run_starts_over(saved_run: tuple[Path, TrainResult]) -> None:
    folder, whole = saved_run
    for path in list_checkpoints(folder):
        path.write_bytes(path.read_bytes()[:-7])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = run(checkpoint_dir=folder)
    messages = [str(w.message) for w in caught if issubclass(w.category, CheckpointWarning)]
    assert len(messages) == 2 and "no older checkpoint: starting over" in messages[1]
    assert again.resumed_at == 0 and same_tree(again.params, whole.params)


def test_a_format_1_checkpoint_is_refused_clearly(tmp_path: Path) -> None:
    serialization = checkpoint_module.serialization()  # flax.serialization, TrainState registered
    state = serialization.to_state_dict(_template().replace(rng=np.zeros(2, np.uint32)))
    old = serialization.msgpack_serialize({"format": 1, "meta": {"step": 30}, "state": state})
    (tmp_path / "step-00000030.msgpack").write_bytes(old)
    with pytest.raises(TrainingError, match=r"older cellgraph \(checkpoint format 1.*--no-resume"):
        run(checkpoint_dir=tmp_path)
    assert run(checkpoint_dir=tmp_path, resume=False).steps == 30


def test_an_intact_checkpoint_of_another_format_is_refused_clearly(saved_run: tuple[Path, TrainResult]) -> None:
    folder, _ = saved_run
    newest = folder / "step-00000030.msgpack"
    blob = newest.read_bytes()
    payload = blob[52:]
    head = MAGIC + struct.pack("<IQ", FORMAT + 1, len(payload))
    digest = checkpoint_module._digest(head, payload)
    newest.write_bytes(head + digest + payload)
    with pytest.raises(TrainingError, match=rf"in format {FORMAT + 1}, and this cellgraph reads format {FORMAT}"):
        run(checkpoint_dir=folder, checkpoint_every=10)


# ------------------------------------------------------------------------------- disk faults


def _never_called(info: StepInfo) -> None:
    raise AssertionError(f"training started (step {info.step}) before the folder was checked")


def test_a_checkpoint_folder_that_cannot_be_made_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    folder = tmp_path / "file" / "ck"
    with pytest.raises(TrainingError, match=rf"cannot write checkpoints to {folder}: .*fix: .*--checkpoint-dir"):
        run(checkpoint_dir=folder, on_step=_never_called)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, int], list[int]]:
    """``full_disk(folder, from_step)``: every os.replace into ``folder`` of a checkpoint of that
    step or later fails with ENOSPC, as on a full disk (after the bytes went to the temporary file).
    Returns the steps whose save failed."""
    real = os.replace

    def arm(folder: Path, from_step: int = 0) -> list[int]:
        failed: list[int] = []

        def replace(src: Any, dst: Any) -> None:
            name = Path(dst).name
            if Path(dst).parent == folder and name.startswith("step-") and int(name[5:13]) >= from_step:
                failed.append(int(name[5:13]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
            real(src, dst)

        monkeypatch.setattr(checkpoint_module.os, "replace", replace)
        return failed

    return arm


def test_an_unwritable_folder_found_by_the_probe_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint_module.os, "fsync", no_space)
    with pytest.raises(TrainingError, match=r"cannot write checkpoints to .*: the disk is full \(ENOSPC\)"):
        run(checkpoint_dir=tmp_path / "ck", on_step=_never_called)
    assert list((tmp_path / "ck").iterdir()) == []  # the probe is gone too


def test_a_full_disk_while_saving_keeps_training_and_returns_the_metrics(
    tmp_path: Path, full_disk: Callable[..., list[int]]
) -> None:
    whole = run()
    folder = tmp_path / "ck"
    failed = full_disk(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(checkpoint_dir=folder, checkpoint_every=4)
    assert failed == [4, 8, 12, 16, 20, 24, 28, 30]
    assert result.metrics == whole.metrics and same_tree(result.params, whole.params)
    assert result.checkpoint is None
    assert len(result.problems) == 1 and "the disk is full (ENOSPC)" in result.problems[0]
    assert "this result is not kept" in result.problems[0]
    saves = [str(w.message) for w in caught if issubclass(w.category, SaveWarning)]
    assert len(saves) == 2  # the first failed save during training, and the final one
    assert "training goes on" in saves[0] and saves[1] == result.problems[0]
    assert sorted(p.name for p in folder.iterdir()) == []  # no partial or temporary file


def test_a_disk_that_fills_up_keeps_the_last_good_checkpoint_and_a_rerun_resumes(
    tmp_path: Path, full_disk: Callable[..., list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run()
    folder = tmp_path / "ck"
    full_disk(folder, 20)
    with pytest.warns(SaveWarning):
        first = run(checkpoint_dir=folder, checkpoint_every=10)
    assert first.metrics == whole.metrics and first.problems
    assert [p.name for p in folder.iterdir()] == ["step-00000010.msgpack"]
    monkeypatch.undo()  # space freed
    again = run(checkpoint_dir=folder, checkpoint_every=10)
    assert again.resumed_at == 10 and same_tree(again.params, whole.params) and not again.problems


def test_a_failed_save_removes_its_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    state = _template()
    monkeypatch.setattr(checkpoint_module.os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path, state, {"step": 0})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_curve_keeps_the_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.replace
    curve = tmp_path / "curve.png"

    def replace(src: Any, dst: Any) -> None:
        if Path(dst) == curve:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.warns(SaveWarning, match="could not write the training curve"):
        result = run(curve_png=curve)
    assert result.metrics and result.curve is None and not curve.exists()
    assert result.problems == (f"could not write the training curve {curve}: the disk is full (ENOSPC)",)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no half-written curve left


def test_an_unwritable_curve_path_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(TrainingError, match=r"cannot write the training curve .*--curve FILE"):
        run(curve_png=tmp_path / "file" / "curve.png", on_step=_never_called)


def test_temporary_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    folder.mkdir()
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text()) if Path("/proc/sys/kernel/pid_max").exists() else 2**22
    stale = folder / f".step-00000004.msgpack.{pid_max + 1}.tmp"
    stale.write_bytes(b"half a checkpoint")
    run(checkpoint_dir=folder, epochs=1)
    assert not stale.exists()


# ------------------------------------------------------------------------------- disk faults (CLI)


@pytest.fixture
def train_double(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """`cellgraph train` trains the tiny model instead of compiling its spec, in an empty folder;
    records the calls."""
    import cellgraph.train as package

    monkeypatch.chdir(tmp_path)
    calls: list[dict[str, Any]] = []

    def fake(graph: Any, data: Any = None, **kwargs: Any) -> TrainResult:  # data: the CLI loads it first
        calls.append(kwargs)
        return train(tiny_model(), tiny_data(), **{**RUN, **{k: v for k, v in kwargs.items() if v is not None}})

    monkeypatch.setattr(package, "train", fake)
    return calls


def test_cli_full_disk_prints_the_metrics_then_the_warning_and_exits_1(
    run_cli: Any, tiny_spec: Path, tmp_path: Path, train_double: list, full_disk: Callable[..., list[int]]
) -> None:
    folder = tmp_path / "ck"
    full_disk(folder)
    result = run_cli("train", tiny_spec, "--epochs", "1", "--checkpoint-dir", folder)
    assert result.code == 1
    assert "trained tiny: 1 epoch, 10 steps" in result.out and "test: accuracy" in result.out
    assert "cellgraph: warning: could not save the checkpoint of step 10" in result.err
    assert "the disk is full (ENOSPC)" in result.err and "Traceback" not in result.err
    assert list(folder.iterdir()) == []


def test_cli_unwritable_working_folder_is_refused_before_anything_loads(
    run_cli: Any, tiny_spec: Path, tmp_path: Path, train_double: list
) -> None:
    (tmp_path / ".cellgraph").write_text("a file where the run folders should go")
    result = run_cli("train", tiny_spec, "--epochs", "1")
    assert result.code == 1 and result.out == "" and train_double == []  # refused before train() ran
    assert result.err.startswith("cellgraph: cannot write checkpoints to .cellgraph/runs: ")
    assert "--checkpoint-dir" in result.err and "Traceback" not in result.err


def test_cli_full_disk_in_the_working_folder_is_refused_before_anything_loads(
    run_cli: Any, tiny_spec: Path, train_double: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(access, "write_synced", no_space)  # the probe's write, as on a full disk
    result = run_cli("train", tiny_spec, "--epochs", "1")
    assert result.code == 1 and train_double == []
    assert "cellgraph: cannot write checkpoints to .cellgraph/runs: No space left on device (ENOSPC)" in result.err


def test_cli_unwritable_checkpoint_dir_is_refused_before_training(
    run_cli: Any, tiny_spec: Path, tmp_path: Path, train_double: list
) -> None:
    (tmp_path / "file").write_text("in the way")
    result = run_cli("train", tiny_spec, "--epochs", "1", "--checkpoint-dir", tmp_path / "file" / "ck")
    assert result.code == 1 and result.out == ""
    assert result.err.startswith(f"cellgraph: cannot write checkpoints to {tmp_path / 'file' / 'ck'}: ")
    assert "--checkpoint-dir" in result.err and "Traceback" not in result.err


def test_checkpoints_use_flax_serialization_without_importing_all_of_flax() -> None:
    """A run's first save loads flax.serialization alone (Flax's package import, with linen, took
    0.12-0.15 s of a 2 s command); a later `import flax` finds that same module, so Flax and
    cellgraph share one registry of serializable types, and the state still round-trips."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from cellgraph.train import checkpoint\n"
        "from cellgraph.train.state import TrainState\n"
        "s = checkpoint.serialization()\n"
        "assert 'flax' not in sys.modules and 'flax.linen' not in sys.modules, sorted(sys.modules)\n"
        "state = TrainState(step=np.int32(3), params={'w': np.ones(2, np.float32)}, model_state={},\n"
        "                   rule_state={}, rng=np.zeros(2, np.uint32))\n"
        "raw = s.msgpack_restore(s.msgpack_serialize(s.to_state_dict(state)))\n"
        "back = s.from_state_dict(state, raw)\n"
        "assert int(back.step) == 3 and back.params['w'].tolist() == [1.0, 1.0]\n"
        "import flax\n"
        "assert flax.serialization is s and s.to_state_dict(state)['step'] == 3\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
