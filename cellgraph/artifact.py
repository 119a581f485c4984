"""A trained model in one folder: ``cellgraph.save(result, path)`` and ``cellgraph.load(path)``.

A saved model is a folder::

    model/
      cellgraph.json   what the rest means: the format, the spec's params and the digest of its
                       texts, the versions of cellgraph, JAX and the libraries, the inputs and
                       outputs, the step, the metrics and the run's settings
      spec/            the spec and every `use:` part it read, as they were when it trained, in
                       the layout they had (so `use:` paths still resolve)
      arrays/          the parameters, the optimizer's (the learning rule's) state, the model
                       state, the step and the PRNG key, written by Orbax (orbax-checkpoint,
                       the checkpoint library of the JAX ecosystem)

Choices:

* **The model is rebuilt from the stored texts** (``spec/``), never from the spec file it was
  trained from, which may have changed since; a problem with the data is reported at a line of
  ``model/spec/NAME.yaml``, a file the user can open. Loading checks that the texts are the
  ones saved (the digest in ``cellgraph.json``: an edit there is refused) and that every stored
  parameter has the shape the rebuilt model expects.
* **Atomic writes.** Everything is written into a temporary folder beside ``path``, flushed, and
  renamed into place; a reader sees the old model or the new one, never a mix. An existing
  ``path`` is replaced only when it is a saved model itself: any other folder is refused.
* **Refusals name the artifact and the fix**: another format (saved by another cellgraph), a
  run folder of checkpoints given where a saved model is expected, a missing or damaged file, a
  stored spec that this cellgraph no longer builds, parameters of other shapes.

Run folders (``.cellgraph/runs/NAME-KEY``: the training loop's own checksummed checkpoints) stay
as they are: :func:`load_run` reads a run's newest intact checkpoint for a given spec.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .access import probe_folder, sync_folder, write_synced
from .errors import CellgraphError

FORMAT: Final = 1
"""The layout written by :func:`save`; :func:`load` reads only this one."""
KIND: Final = "cellgraph-model"
META: Final = "cellgraph.json"
ARRAYS: Final = "arrays"
SPEC: Final = "spec"


class ArtifactError(CellgraphError):
    """A saved model cannot be written or read (the message names it and the fix)."""


@dataclass(frozen=True)
class Trained:
    """A trained model: the compiled model and its parameters, with what was saved beside them.

    Unpacks as ``model, params = cellgraph.load(path)``.

    Attributes:
        model: the compiled model, rebuilt from the stored spec text.
        params: its parameters.
        opt_state: the optimizer's (learning rule's) state as stored: nested dicts of arrays, as
            ``flax.serialization.to_state_dict`` gives them (``from_state_dict(template, opt_state)``
            shapes them back); ``{}`` for a rule without state.
        model_state: the model's state besides the parameters (``{}`` for most models).
        step: the updates the parameters had.
        rng: the run's PRNG key data (uint32), or None.
        metrics: the metrics recorded when it was saved (``{}`` when none).
        info: the saved ``cellgraph.json`` (versions, settings, the spec's texts); ``{}`` for a run.
        path: where it was loaded from (None: never saved).
    """

    model: Any
    params: Any
    opt_state: Any = field(default_factory=dict)
    model_state: Any = field(default_factory=dict)
    step: int = 0
    rng: Any = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None

    def __iter__(self) -> Iterator[Any]:
        yield self.model
        yield self.params

    def predict(self, inputs: Any, *, batch_size: int | None = None) -> Any:
        """The outputs for ``inputs`` by output group (``model.predict(params, inputs)``, with the
        model state of a network that keeps one)."""
        if getattr(self.model, "stateful", False):
            return self.model.predict(self.params, inputs, batch_size=batch_size, state=self.model_state)
        return self.model.predict(self.params, inputs, batch_size=batch_size)

    def evaluate(self, data: Any = None, *, split: str | None = None) -> dict[str, float]:
        """The metrics on ``data`` (see :func:`cellgraph.evaluate`)."""
        from .train.loop import evaluate

        return evaluate(self, data, split=split)


# ------------------------------------------------------------------------------------------ save


def save(result: Any, path: str | os.PathLike[str]) -> Path:
    """Save a trained model (a :class:`~cellgraph.train.TrainResult`, or a :class:`Trained` from
    :func:`load` or :func:`load_run`) as one folder at ``path``; returns it.

    Raises:
        ArtifactError: a result without a model compiled from a spec, or ``path`` is a file or a
            folder that is not a saved model (never overwritten), or the folder cannot be written.

    >>> cellgraph.save(cellgraph.train("net.yaml"), "net.model")  # doctest: +SKIP
    """
    model = getattr(result, "model", None)
    spec = getattr(model, "spec", None) if model is not None else None
    if model is None or spec is None or not getattr(spec, "sources", ()):
        raise ArtifactError(
            "cellgraph.save needs a trained result whose model was compiled from a spec "
            "(cellgraph.train(SPEC) returns one); this one carries "
            f"{'no model' if model is None else 'a model without its spec text'}"
        )
    out = Path(path)
    check_destination(out)
    arrays = _arrays_of(result)
    info = _info(result, model, spec)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # as a folder made by mkdir, not mkdtemp's private 0700
    except OSError as err:
        raise ArtifactError(f"cannot write the saved model {out}: {_reason(err)}") from None
    try:
        _write_arrays(tmp / ARRAYS, arrays)
        for file, text in _relative_sources(spec)[1]:
            target = tmp / SPEC / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _write_json(tmp / META, info)
        sync_folder(tmp)
        _swap_into_place(tmp, out)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArtifactError(f"cannot write the saved model {out}: {_reason(err)}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def check_destination(out: Path) -> None:
    """Refuse, before any work, to put a saved model where it would overwrite anything but an older
    saved model (the command line checks ``--save PATH`` before training)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ArtifactError(f"{out} exists and is not a saved model folder; give a new path, such as {out}.model")
    if out.is_dir() and any(out.iterdir()) and not (out / META).is_file():
        raise ArtifactError(
            f"{out} is a folder that holds something other than a saved model; it is left as it is: "
            "give a new path (a saved model is a folder of its own)"
        )
    try:
        probe_folder(out.parent if str(out.parent) else Path("."))
    except OSError as err:
        raise ArtifactError(
            f"cannot write the saved model {out}: {_reason(err)}; free space or permissions there, or give another path"
        ) from None


def _arrays_of(result: Any) -> dict[str, Any]:
    """The arrays to keep: parameters, the rule's and the model's state, the step and the key."""
    import jax
    import numpy as np
    from flax import serialization

    state = getattr(result, "state", None)
    rng: Any
    if state is not None:  # a TrainResult: its final TrainState
        rule_state = serialization.to_state_dict(state.rule_state)
        model_state = serialization.to_state_dict(state.model_state)
        step, rng = int(jax.device_get(state.step)), jax.random.key_data(state.rng)
    else:  # a Trained: what was loaded
        rule_state = getattr(result, "opt_state", {}) or {}
        model_state = getattr(result, "model_state", {}) or {}
        step, rng = int(getattr(result, "step", 0) or getattr(result, "steps", 0)), getattr(result, "rng", None)
    tree = {
        "params": serialization.to_state_dict(result.params),
        "rule_state": rule_state,
        "model_state": model_state,
        "step": np.asarray(step, np.int32),
    }
    if rng is not None:
        tree["rng"] = rng
    return jax.tree.map(lambda leaf: np.asarray(jax.device_get(leaf)), tree)


def _info(result: Any, model: Any, spec: Any) -> dict[str, Any]:
    """``cellgraph.json``: everything needed to rebuild the model and to judge the arrays."""
    from .train.runkey import library_versions, plain

    root, sources = _relative_sources(spec)
    metrics = getattr(result, "metrics", {}) or {}
    return {
        "kind": KIND,
        "format": FORMAT,
        "cellgraph": cellgraph_version(),
        "libraries": {**library_versions(), "orbax-checkpoint": _version_of("orbax-checkpoint")},
        "spec": {
            "name": spec.name,
            "trained_from": _trained_from(model, spec),
            "root": root,
            "files": [f for f, _ in sources],
            "params": plain(dict(spec.params)),
            "digest": spec_text_digest(spec),
        },
        "inputs": {n: _shape_note(model, n) for n in model.inputs},
        "outputs": list(model.outputs),
        "step": int(getattr(result, "steps", 0) or getattr(result, "step", 0)),
        "metrics": {k: (float(v) if math.isfinite(float(v)) else None) for k, v in metrics.items()},
        "settings": plain(
            dict(getattr(result, "settings", {}) or (getattr(result, "info", {}) or {}).get("settings", {}))
        ),
    }


def _shape_note(model: Any, name: str) -> dict[str, Any]:
    return {"shape": list(model.graph.nodes[name]["shape"]), "sequence": bool(model.plan.timed[name])}


def spec_text_digest(spec: Any) -> str:
    """SHA-256 of the spec's and its parts' texts (in reading order) and its params: what decides
    the model a saved model rebuilds (JAX-free, so the command line checks it before JAX loads)."""
    texts = [text for _, text in spec.sources]
    blob = json.dumps([texts, dict(spec.params)], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _trained_from(model: Any, spec: Any) -> str | None:
    """The spec file's path when it trained (a `data:` block's files are read beside it); a loaded
    model saved again keeps the path it was loaded with."""
    if "trained_from" in model.graph.graph:
        return model.graph.graph["trained_from"]
    return None if str(spec.file).startswith("<") else os.path.abspath(spec.file)


def _relative_sources(spec: Any) -> tuple[str, list[tuple[str, str]]]:
    """(root, [(path, text)]): the spec's and its parts' texts, by paths relative to the folder
    that holds them all, so the same layout can be laid out again (`use:` paths stay valid)."""
    here = Path.cwd()
    files = []
    for i, (file, text) in enumerate(spec.sources):
        where = here / "spec.yaml" if i == 0 and file.startswith("<") else Path(os.path.abspath(here / file))
        files.append((where, text))
    top = Path(os.path.commonpath([str(p.parent) for p, _ in files]))
    rel = [(p.relative_to(top).as_posix(), text) for p, text in files]
    return rel[0][0], rel


def _orbax() -> Any:
    """orbax.checkpoint, imported on first use (it imports JAX)."""
    import orbax.checkpoint as ocp  # type: ignore[import-untyped]

    return ocp


def _write_arrays(where: Path, tree: dict[str, Any]) -> None:
    ocp = _orbax()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Orbax's notes on its own defaults are not the user's concern
        checkpointer = ocp.StandardCheckpointer()
        try:
            checkpointer.save(where.resolve(), tree)
            checkpointer.wait_until_finished()
        finally:
            checkpointer.close()


def _write_json(where: Path, info: Mapping[str, Any]) -> None:
    write_synced(where, (json.dumps(info, indent=1, sort_keys=False, allow_nan=False) + "\n").encode("utf-8"))


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an older saved model there is moved aside first, then removed."""
    old: Path | None = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "model")
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:  # put the old one back: never leave nothing
            os.replace(old / "model", out)
            shutil.rmtree(old, ignore_errors=True)
        raise
    sync_folder(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------------ load


def is_saved_model(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder written by :func:`save` (holds ``cellgraph.json``)."""
    return (Path(path) / META).is_file()


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder of training checkpoints (``step-*.msgpack``)."""
    folder = Path(path)
    return folder.is_dir() and any(folder.glob("step-*.msgpack"))


def load(path: str | os.PathLike[str]) -> Trained:
    """Load a model saved by :func:`save`: the model rebuilt from its stored spec text, its
    parameters and the rest of its state. ``model, params = cellgraph.load(path)`` works too.

    Raises:
        ArtifactError: not a saved model (a run folder, another file), another format, a damaged
            file, a stored spec this cellgraph does not build, parameters of other shapes -- each
            naming ``path`` and the fix.

    >>> trained = cellgraph.load("net.model")  # doctest: +SKIP
    >>> trained.predict(x)["y"]  # doctest: +SKIP
    """
    where = Path(path)
    info = read_info(where)
    model = _rebuild(where, info)
    arrays = _read_arrays(where)
    params = _checked_params(where, model, arrays.get("params"))
    metrics = {k: float(v) for k, v in (info.get("metrics") or {}).items() if v is not None}
    return Trained(
        model=model,
        params=params,
        opt_state=arrays.get("rule_state", {}),
        model_state=_checked_state(where, model, arrays.get("model_state")),
        step=int(arrays.get("step", info.get("step", 0))),
        rng=arrays.get("rng"),
        metrics=metrics,
        info=info,
        path=str(where),
    )


def read_info(where: Path) -> dict[str, Any]:
    """The saved model's ``cellgraph.json``, after checking that it is one, in this format."""
    if not where.exists():
        raise ArtifactError(f"no saved model at {where}; save one with cellgraph.save(result, PATH) or --save PATH")
    if not where.is_dir():
        raise ArtifactError(
            f"{where} is a file, not a saved model (a saved model is a folder holding {META}); "
            "give the folder that cellgraph.save or `cellgraph train --save` wrote"
        )
    if not (where / META).is_file():
        if is_run_folder(where):
            raise ArtifactError(
                f"{where} is a run folder of training checkpoints, not a saved model; "
                "fix: load it with its spec, cellgraph.load_run(SPEC, FOLDER) (the CLI's --run takes it with SPEC)"
            )
        raise ArtifactError(f"{where} is not a saved cellgraph model (it holds no {META})")
    try:
        info = json.loads((where / META).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{where / META} cannot be read ({_reason(err)}): the saved model is damaged") from None
    if not isinstance(info, dict) or info.get("kind") != KIND:
        raise ArtifactError(f"{where / META} does not describe a saved cellgraph model")
    if info.get("format") != FORMAT:
        by = info.get("cellgraph", "another version")
        raise ArtifactError(
            f"{where} was saved in format {info.get('format')!r} by cellgraph {by}; this cellgraph "
            f"({cellgraph_version()}) reads format {FORMAT}; fix: load it with cellgraph {by} and train "
            "again with this one, or retrain from the spec"
        )
    return info


def stored_graph(path: str | os.PathLike[str]) -> Any:
    """The checked graph of a saved model's stored spec, without importing JAX (the command line
    checks the user's data against it before anything compiles)."""
    where = Path(path)
    return _stored_graph(where, read_info(where))


def _stored_graph(where: Path, info: Mapping[str, Any]) -> Any:
    """The graph built from the stored texts (``spec/``), checked to be the texts that were saved."""
    from .graph import build_graph
    from .spec.compose import load_spec
    from .spec.limits import DEFAULT_LIMITS, Limits

    stored = info.get("spec")
    try:
        assert isinstance(stored, dict)
        root, params, digest = str(stored["root"]), dict(stored.get("params") or {}), stored["digest"]
    except (AssertionError, KeyError, TypeError, ValueError) as err:
        raise ArtifactError(f"{where / META} lacks the spec's record ({err!r}): the saved model is damaged") from None
    folder = where / SPEC
    if not folder.is_dir():
        raise ArtifactError(f"{where} lacks its spec texts ({SPEC}/): the saved model is incomplete")
    limits = Limits(**{**DEFAULT_LIMITS.__dict__, "allow": (str(folder.resolve()),)})
    try:
        spec = load_spec(_inside(folder, root, where), params, limits)
        graph = build_graph(spec)
    except CellgraphError as err:
        raise _unbuildable(where, info, err) from None
    if spec_text_digest(spec) != digest:
        raise ArtifactError(
            f"{where}: its spec texts ({SPEC}/) differ from the ones it was saved with (edited since?); "
            "fix: put the saved texts back, or retrain and save again"
        )
    graph.graph["trained_from"] = stored.get("trained_from")
    return graph


def _rebuild(where: Path, info: Mapping[str, Any]) -> Any:
    """The model compiled from the stored spec."""
    from .compiler import compile as compile_graph

    graph = _stored_graph(where, info)
    try:
        return compile_graph(graph)
    except CellgraphError as err:
        raise _unbuildable(where, info, err) from None


def _unbuildable(where: Path, info: Mapping[str, Any], err: Exception) -> ArtifactError:
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    by = info.get("cellgraph", "another version")
    return ArtifactError(
        f"{where}: its stored spec does not build with this cellgraph ({cellgraph_version()}): {first}; "
        f"fix: load it with cellgraph {by}, or retrain from the spec"
    )


def _inside(top: Path, file: str, where: Path) -> Path:
    """``top / file`` as the user named the model (messages then point into it), refusing a stored
    path that would leave ``top`` (a damaged or crafted file)."""
    if Path(file).is_absolute() or not (top / file).resolve().is_relative_to(top.resolve()):
        raise ArtifactError(f"{where / META} names the spec file {file!r} outside the model: it is damaged")
    return top / file


def _read_arrays(where: Path) -> dict[str, Any]:
    """The stored arrays, restored onto this machine's default device (whatever device saved them)."""
    import jax

    ocp = _orbax()
    folder = (where / ARRAYS).resolve()
    if not folder.is_dir():
        raise ArtifactError(f"{where} lacks its arrays ({ARRAYS}/): the saved model is incomplete")
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checkpointer = ocp.StandardCheckpointer()
        try:
            metadata = checkpointer.metadata(folder)
            tree = getattr(metadata, "item_metadata", metadata)
            tree = getattr(tree, "tree", tree)
            target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree)
            restored = checkpointer.restore(folder, target)
        except Exception as err:  # Orbax and TensorStore raise many kinds on damaged files
            raise ArtifactError(
                f"{where}: its arrays cannot be read ({type(err).__name__}: {str(err)[:200]}); the saved model is damaged"
            ) from None
        finally:
            checkpointer.close()
    return dict(restored)


def _checked_params(where: Path, model: Any, stored: Any) -> Any:
    """The stored parameters in the model's structure, each of the shape and dtype it expects."""
    import jax

    if stored is None:
        raise ArtifactError(f"{where} holds no parameters: the saved model is damaged")
    return _checked_tree(where, jax.eval_shape(model.init, jax.random.key(0)), stored, "parameter")


def _checked_state(where: Path, model: Any, stored: Any) -> Any:
    """The stored model state (batch norm's running statistics) in the model's structure; ``{}``
    for a network that keeps none."""
    if not getattr(model, "stateful", False):
        return stored or {}
    return _checked_tree(where, model.init_state(), stored or {}, "model state")


def _checked_tree(where: Path, template: Any, stored: Any, what: str) -> Any:
    import jax
    import numpy as np
    from flax import serialization

    want = {jax.tree_util.keystr(p): (tuple(a.shape), np.dtype(a.dtype)) for p, a in _leaves(template)}
    got = {jax.tree_util.keystr(p): (tuple(np.shape(a)), np.dtype(a.dtype)) for p, a in _leaves(stored)}
    for place in sorted(set(want) | set(got)):
        if want.get(place) != got.get(place):
            w = want.get(place)
            g = got.get(place)
            raise ArtifactError(
                f"{where}: {what} {place} is {_describe(g)} there, this cellgraph's model expects {_describe(w)}; "
                f"fix: load it with cellgraph {_saved_by(where)}, or retrain"
            )
    return serialization.from_state_dict(template, stored)


def _leaves(tree: Any) -> list[tuple[Any, Any]]:
    import jax

    return list(jax.tree_util.tree_leaves_with_path(tree))


def _describe(entry: tuple[tuple[int, ...], Any] | None) -> str:
    return "missing" if entry is None else f"{entry[1]}{list(entry[0])}"


def _saved_by(where: Path) -> str:
    try:
        return str(json.loads((where / META).read_text(encoding="utf-8")).get("cellgraph", "the saving version"))
    except (OSError, ValueError):
        return "the saving version"


# ------------------------------------------------------------------------------------------ runs


def load_run(spec: Any, folder: str | os.PathLike[str], params_override: Mapping[str, Any] | None = None) -> Trained:
    """The newest intact checkpoint in a run folder (``.cellgraph/runs/NAME-KEY`` or a
    ``--checkpoint-dir``), for the spec it was trained from.

    Args:
        spec: the spec file, :class:`~cellgraph.Spec` or built graph of the run.
        folder: the run's folder of ``step-*.msgpack`` checkpoints.
        params_override: spec params (``{"width": 16}``) as given to the training run.

    Raises:
        ArtifactError: no checkpoint there, or one of another spec (or other params), naming both.
    """
    from .compiler import compile as compile_graph
    from .train.checkpoint import latest_intact
    from .train.runkey import spec_digest
    from .train.setup import graph_of

    where = Path(folder)
    if is_saved_model(where):
        raise ArtifactError(f"{where} is a saved model, not a run folder: load it with cellgraph.load({str(where)!r})")
    if not where.is_dir():
        raise ArtifactError(
            f"no run folder at {where}; train first (`cellgraph train SPEC` keeps runs in .cellgraph/runs)"
        )
    stored = latest_intact(where)
    if stored is None:
        raise ArtifactError(f"{where} holds no intact checkpoint; train first, or give the run's folder")
    graph = graph_of(spec, params_override)
    model = compile_graph(graph)
    ran = stored.meta.get("run") if isinstance(stored.meta, dict) else None
    theirs = ran.get("spec") if isinstance(ran, dict) else None
    if theirs is not None and theirs != spec_digest(model.spec):
        raise ArtifactError(
            f"{stored.path} was trained from another spec than {model.spec.file} (or with other params, its "
            "`use:` parts or -p values changed since); fix: pass the spec and -p values it was trained with, "
            "or train this spec"
        )
    state = stored.state if isinstance(stored.state, dict) else {}
    params = _checked_params(where, model, state.get("params"))
    return Trained(
        model=model,
        params=params,
        opt_state=state.get("rule_state") or {},
        model_state=_checked_state(where, model, state.get("model_state")),
        step=int(stored.meta.get("step", 0)),
        rng=state.get("rng"),
        metrics={},
        info={},
        path=str(stored.path),
    )


def load_trained(spec: Any, run: str | os.PathLike[str], params_override: Mapping[str, Any] | None = None) -> Trained:
    """A saved model (``run`` holds ``cellgraph.json``) or a run folder's newest checkpoint for ``spec``."""
    if is_saved_model(run):
        return load(run)
    if spec is None:
        raise ArtifactError(
            f"{run} is not a saved model; a run folder needs its spec too (cellgraph predict SPEC --run)"
        )
    return load_run(spec, run, params_override)


# ------------------------------------------------------------------------------------------ helpers


def cellgraph_version() -> str:
    return _version_of("cellgraph")


def _version_of(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError):
        return err.strerror or str(err)
    return str(err)
