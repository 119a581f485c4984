"""A trained model as serialized StableHLO (``jax.export``), runnable with JAX alone.

``export(model, params)`` traces the forward pass in evaluation mode with the parameters baked in
as constants and returns a :class:`jax.export.Exported`; ``save_exported`` writes its bytes. Anyone
with JAX runs it without cellgraph::

    exported = jax.export.deserialize(open("model.stablehlo", "rb").read())
    outputs = exported.call(x)          # one input group: an array; several: {group: array}
    outputs["y"]                        # a mapping by output group, as ``model.apply`` returns

Choices:

* **No custom calls.** The native LSTM/GRU kernels (:mod:`.native`) are XLA FFI targets that exist
  only in a process that loaded cellgraph's library, and ``jax.export`` refuses to serialize them.
  Tracing runs inside :func:`.native.disabled`, so those layers are traced as XLA loops (the same
  values to float32 rounding). The traced function is a fresh closure each time, so no earlier
  trace of ``model.apply`` (made with the kernels on) is reused from JAX's caches.
* **Batch and time are symbolic** (``jax.export.symbolic_shape``) unless given: one file serves
  any batch size and sequence length. Some CPU code paths choose a layout from the batch size (the
  recurrent layers' chains, the convolutions' im2col); a model whose trace needs a concrete number
  is refused with the fix (``batch=N`` / ``--batch N``), never exported half-way.
* **Inputs are float32** with the shapes the spec infers: ``(batch, *shape)``, or ``(batch, time,
  *shape)`` for a sequence group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from jax import export as jax_export

from ..access import replace_synced
from ..errors import CellgraphError
from . import native

SUFFIX = ".stablehlo"
"""The file extension the CLI suggests for a serialized export."""


class ExportError(CellgraphError):
    """A model could not be exported (the message says why and what to pass instead)."""


def input_shapes(model: Any, batch: int | str = "b", time: int | str | None = "t") -> dict[str, tuple[Any, ...]]:
    """Each input group's array shape: ``(batch, *shape)``, with ``time`` after the batch for a
    sequence group; ``batch``/``time`` as numbers or as names of symbolic dimensions."""
    shapes: dict[str, tuple[Any, ...]] = {}
    for n in model.inputs:
        node = model.graph.nodes[n]
        lead: tuple[Any, ...] = (batch, time) if model.plan.timed[n] else (batch,)
        shapes[n] = (*lead, *node["shape"])
    return shapes


def export(
    model: Any,
    params: Mapping[str, Any],
    path: str | os.PathLike[str] | None = None,
    *,
    batch: int | None = None,
    time: int | None = None,
    platforms: Sequence[str] | None = None,
    state: Mapping[str, Any] | None = None,
) -> jax_export.Exported:
    """The model's forward pass (evaluation mode, ``params`` as constants) as a ``jax.export.Exported``.

    Args:
        model: a compiled model (:func:`cellgraph.compile`).
        params: its parameters (a :class:`~cellgraph.train.TrainResult`'s ``params``).
        path: also write the serialized bytes there (see :func:`save_exported`).
        batch: a fixed batch size; default: any (a symbolic dimension).
        time: a fixed sequence length for sequence inputs; default: any.
        platforms: the platforms the export runs on (``("cpu", "cuda")``); default: this machine's.
        state: the model state of a network that keeps one (batch norm's running statistics: a
            training result's or loaded model's ``model_state``), baked in as constants too.

    Raises:
        ExportError: the model cannot be traced for a symbolic size (naming the fix), or a bad argument.

    >>> exported = export(result.model, result.params, "model.stablehlo")  # doctest: +SKIP
    >>> exported.call(x)["y"]  # doctest: +SKIP
    """
    for name, value in (("batch", batch), ("time", time)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ExportError(f"{name} must be a positive whole number, got {value!r}")
    name = getattr(getattr(model, "spec", None), "name", "the model")
    if not model.inputs or not model.outputs:
        missing, does = ("input", "read") if not model.inputs else ("output", "return")
        raise ExportError(
            f"{name} has no {missing} group, so its forward pass has nothing to {does}: nothing to export"
        )
    timed = any(model.plan.timed[n] for n in model.inputs)
    free = {"b": batch is None, "t": timed and time is None}  # the sizes left symbolic
    if getattr(model, "stateful", False) and not state:
        raise ExportError(
            f"{name} keeps model state (the running statistics of {', '.join(model.state_groups)}: norm: batch), "
            "which its forward pass reads; fix: pass state=result.model_state (a loaded model's .model_state)"
        )
    constants = jax.tree.map(jnp.asarray, dict(params))
    kept = jax.tree.map(jnp.asarray, dict(state or {}))

    def forward(x: Any) -> dict[str, jax.Array]:  # a fresh function: no trace made with native kernels is reused
        if kept:
            return dict(model.apply(constants, x, state=kept))
        return dict(model.apply(constants, x))

    try:
        with native.disabled():
            exported = jax_export.export(jax.jit(forward), platforms=platforms)(_arguments(model, batch, time, free))
    except Exception as err:
        if not any(free.values()) or not _traces(model, constants, batch or 2, time or 3, {}):
            raise  # not about the symbolic sizes: the model's own error
        # which size a layer needs as a number: each symbolic size alone, the other concrete
        culprits = [
            s for s, on in free.items() if on and not _traces(model, constants, batch or 2, time or 3, {s: True})
        ]
        raise ExportError(_symbolic_refusal(name, culprits or [s for s, on in free.items() if on], err)) from None
    if path is not None:
        save_exported(exported, path)
    return exported


def _arguments(model: Any, batch: int | None, time: int | None, free: Mapping[str, bool]) -> Any:
    """The traced function's argument: one array spec for one input group, else a mapping by group;
    the ``free`` sizes as symbolic dimensions (one scope), the others as given."""
    names = [s for s, on in free.items() if on]
    dims = dict(zip(names, jax_export.symbolic_shape(", ".join(names)), strict=True)) if names else {}
    sizes = input_shapes(model, dims.get("b", batch), dims.get("t", time))  # type: ignore[arg-type]
    avals = {n: jax.ShapeDtypeStruct(shape, jnp.float32) for n, shape in sizes.items()}
    return avals[model.inputs[0]] if len(model.inputs) == 1 else avals


def _traces(model: Any, params: Any, batch: int, time: int, free: Mapping[str, bool]) -> bool:
    """Whether the forward pass traces with these sizes (``free`` ones symbolic)."""
    try:
        with native.disabled():
            jax.eval_shape(lambda x: model.apply(params, x), _arguments(model, batch, time, free))
    except Exception:
        return False
    return True


def _symbolic_refusal(name: str, symbols: Sequence[str], err: Exception) -> str:
    what = " or ".join({"b": "batch size", "t": "sequence length"}[s] for s in symbols)
    flags = " and ".join({"b": "batch=N (--batch N)", "t": "time=T (--time T)"}[s] for s in symbols)
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"{name} cannot be exported for any {what}: a layer needs a concrete size ({first}); fix: pass {flags}"


def signature(exported: jax_export.Exported) -> tuple[dict[str, str], dict[str, str]]:
    """(inputs, outputs) of an export by group name, each as its dtype and shape (``float32[b,2]``)."""
    (args, _kwargs) = jax.tree.unflatten(exported.in_tree, exported.in_avals)
    outputs = jax.tree.unflatten(exported.out_tree, exported.out_avals)
    x = args[0]
    inputs = {str(k): str(v) for k, v in x.items()} if isinstance(x, Mapping) else {"x": str(x)}
    return inputs, {str(k): str(v) for k, v in outputs.items()}


def save_exported(exported: jax_export.Exported, path: str | os.PathLike[str]) -> Path:
    """Write ``exported.serialize()`` to ``path`` through a temporary file renamed into place."""
    out = Path(path)
    if out.is_dir():
        raise ExportError(f"{out} is a folder; give a file name such as {out / ('model' + SUFFIX)}")
    blob = exported.serialize()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        replace_synced(out, bytes(blob))
    except OSError as err:
        raise ExportError(f"cannot write the export {out}: {err.strerror or err}") from None
    return out


def load_exported(path: str | os.PathLike[str]) -> jax_export.Exported:
    """Read a file written by :func:`export` (``jax.export.deserialize`` of its bytes)."""
    try:
        blob = Path(path).read_bytes()
    except OSError as err:
        raise ExportError(f"cannot read the export {path}: {err.strerror or err}") from None
    try:
        return jax_export.deserialize(bytearray(blob))
    except Exception as err:  # flatbuffers raise assorted errors on foreign bytes
        raise ExportError(f"{path} is not a serialized jax.export model ({type(err).__name__})") from None
