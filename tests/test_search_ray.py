"""`cellgraph search --backend ray`: Ray Tune runs the trials, Optuna's sampler inside it.

Skipped where Ray is not installed (CI: the `ray` extra is not in `dev`); the missing-Ray message is
tested in test_search.py, which runs everywhere. The test starts a local Ray with 2 CPUs itself and
compares the table and best point with the local backend's on the same tiny grid: the same seeds
give the same training, so the figures agree to float precision.
"""

from __future__ import annotations

import csv
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_search import TOY as LOCAL_TOY

from cellgraph.search import search

pytest.importorskip("optuna")
ray = pytest.importorskip("ray")
pytest.importorskip("ray.tune.search.optuna")

# the local tests' toy spec, shorter (50 steps) and with a larger default rate: Ray's side is the subject here
TOY = LOCAL_TOY.replace("lr: 0.01}", "lr: 0.03}").replace("steps: 200", "steps: 50")
assert "lr: 0.03}" in TOY and "steps: 50" in TOY


@pytest.fixture
def local_ray() -> Iterator[None]:
    """A Ray on this machine for the test's length (the search uses a Ray that is already up)."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()
        for sig, handler in handlers.items():  # ray.init replaced them: the next tests' Ctrl-C must work
            if handler is not None:
                signal.signal(sig, handler)


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(encoding="utf-8") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


# Ray starts its processes with a fork then exec; JAX, imported by earlier tests, warns at any fork.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_a_grid_through_a_local_ray_gives_the_local_table(tmp_path: Path, local_ray: None) -> None:
    """width 0 is refused by validation (never sent to a worker) and listed with its location; the two
    valid points train on Ray's workers and come back as the local backend's rows, report included."""
    spec = tmp_path / "toy.yaml"
    spec.write_text(TOY, encoding="utf-8")
    args = {"grid": {"width": [0, 4, 16]}, "metric": "val_accuracy", "progress": False}
    local = search(spec, output=tmp_path / "local", **args)  # type: ignore[arg-type]
    remote = search(spec, output=tmp_path / "ray", backend="ray", **args)  # type: ignore[arg-type]

    assert remote.best is not None and local.best is not None
    assert remote.best.params == local.best.params
    assert remote.best.value == pytest.approx(local.best.value, abs=1e-6)
    by_point = {t.params["width"]: t for t in remote.trials}
    assert by_point[0].state == "invalid" and "toy.yaml:6:" in by_point[0].error
    assert len(list((tmp_path / "ray" / "runs").iterdir())) == 2  # the invalid point trained nowhere
    for mine, theirs in zip(_rows(tmp_path / "ray"), _rows(tmp_path / "local"), strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in mine.items():
            if value and value.replace(".", "", 1).isdigit() and "." in value:
                assert float(value) == pytest.approx(float(theirs[key]), abs=1e-5), key
            else:
                assert value == theirs[key], key
    assert {"best spec", "contact sheet", "plots", "table (CSV)"} <= set(remote.files)
