"""An external memory at work on one held-out sequence: the picture an NTM or DNC is read by.

Panels, time running left to right: the input sequence; the target and the network's output
(the recall steps framed); every read head's weighting over the memory rows at each step; the
write weighting; and the memory's contents after the last step (rows by width). A copy-task
network that has learned shows a write head walking down the rows while the vectors come in and
a read head walking the same rows afterwards (Graves et al. 2014, fig. 6).

These networks train by backprop like most others, so the view is picked by what the network
holds (:data:`cellgraph.views.HELD_VIEWS`): ``cellgraph view SPEC RUN -o memory.png``, or
``cellgraph.views.view(result, path)`` / ``cellgraph.views.memory.view(result, path)`` from Python.
Drawn like :mod:`cellgraph.figures` (Agg, a figure of its own, default style).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CellgraphError
from . import trained


def _memory_group(model: Any) -> str:
    """The first group with read and write heads (``slots:`` and ``addressing:``)."""
    for n in model.plan.order:
        o = model.plan.infos[n].options
        if o.get("slots") is not None and o.get("addressing") is not None:
            return str(n)
    raise CellgraphError("the memory view draws a network with an external memory (`slots:` and `addressing:`)")


def view(
    result: Any, path: str | os.PathLike[str], *, data: Any = None, index: int | None = None, **options: Any
) -> Path:
    """Draw one held-out sequence's pass through the network's external memory as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a spec with a
            ``memory`` group that has ``slots:`` and ``addressing:``.
        path: the PNG to write.
        data: a :class:`~cellgraph.data.Dataset` (its held-out part is read); default: the spec's
            ``data:`` block.
        index: which held-out sequence; default: the first of the longest length held out.

    Returns:
        The path written.
    """
    from matplotlib import style

    from ..figures import _save
    from ..sampling import reference_data

    model, params = trained(result, options, view="memory", takes="`data` and `index`", network="memory network")
    group = _memory_group(model)
    ds = data if data is not None else reference_data(model.graph)
    if ds is None:
        raise CellgraphError("the spec has no `data:` block: pass data=<a Dataset>")
    x, y = np.asarray(ds.x_test), np.asarray(ds.y_test)
    mask = ds.meta.get("mask_test")
    lengths = ds.meta.get("lengths_test")
    if index is None:
        index = int(np.argmax(lengths)) if lengths is not None else 0
    if not 0 <= index < len(x):
        raise CellgraphError(f"index {index}: the held-out part has {len(x)} sequences")
    values, aux = model.forward(params, x[index : index + 1], state=getattr(result, "model_state", None) or None)
    probes = aux[group].probes
    if probes is None:
        raise CellgraphError(f"group '{group}' recorded no memory states")
    out_group = model.outputs[0]
    panels = {
        "fed": x[index],
        "wanted": y[index],
        "produced": np.asarray(values[out_group])[0],
        "read": np.asarray(probes["read_w"])[0],  # (time, heads, slots)
        "write": np.asarray(probes["write_w"])[0],  # (time, slots)
        "rows": np.asarray(probes["memory"])[0, -1],  # (slots, width) after the last step
    }
    for extra in ("read_modes", "usage"):  # the DNC's: (time, heads, 3) backward/content/forward; (time, slots)
        if extra in probes:
            panels[extra] = np.asarray(probes[extra])[0]
    recall = np.asarray(mask[index]) if mask is not None else None
    spec = model.graph.graph["spec"]
    wrong = ((panels["produced"] > 0.5) != (panels["wanted"] > 0.5)) & (recall[:, None] if recall is not None else True)
    title = (
        f"{spec.title or spec.name}: held-out sequence {index}"
        + (f" (length {int(lengths[index])})" if lengths is not None else "")
        + f", {int(wrong.sum())} bits wrong"
    )
    with style.context("default"):
        return _save(_figure_of(panels, recall, title), path)


def _figure_of(p: dict[str, np.ndarray], recall: np.ndarray | None, title: str) -> Any:
    from ..figures import _figure

    heads = p["read"].shape[1]
    rows = [("input", p["fed"].T, "Greys"), ("target", p["wanted"].T, "Greys"), ("output", p["produced"].T, "Greys")]
    rows += [
        (f"read head {h + 1}" if heads > 1 else "read weighting", p["read"][:, h].T, "Blues") for h in range(heads)
    ]
    if "read_modes" in p:  # rows b, c, f: backward (links), content, forward (links)
        rows += [
            (
                f"read modes {h + 1}\n(b, c, f)" if heads > 1 else "read modes\n(b, c, f)",
                p["read_modes"][:, h].T,
                "Purples",
            )
            for h in range(p["read_modes"].shape[1])
        ]
    rows.append(("write weighting", p["write"].T, "Reds"))
    if "usage" in p:
        rows.append(("usage", p["usage"].T, "Greens"))
    ratios = [max(r[1].shape[0], 3) for r in rows]
    fig = _figure(11.0, 1.2 + 0.09 * sum(ratios) + 0.35 * len(rows))
    grid = fig.add_gridspec(len(rows), 2, width_ratios=[3.2, 1.0], height_ratios=ratios, hspace=0.45, wspace=0.18)
    steps = p["fed"].shape[0]
    for i, (name, image, cmap) in enumerate(rows):
        ax = fig.add_subplot(grid[i, 0])
        ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
        ax.set_yticks([])
        ax.set_xticks(range(0, steps, 2) if i == len(rows) - 1 else [])
        if recall is not None and i in (1, 2):  # the target and output rows: frame the recall steps
            on = np.flatnonzero(recall)
            if on.size:
                ax.axvspan(on[0] - 0.5, on[-1] + 0.5, fill=False, edgecolor="#2e7d32", linewidth=1.2)
    rows_axis = fig.add_subplot(grid[3:, 1])
    memory = p["rows"]
    bound = float(np.abs(memory).max()) or 1.0
    shown = rows_axis.imshow(memory, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto", interpolation="nearest")
    rows_axis.set_title("memory after the last step", fontsize=8)
    rows_axis.set_xlabel("width", fontsize=8)
    rows_axis.set_ylabel("row", fontsize=8)
    fig.colorbar(shown, ax=rows_axis, fraction=0.08)
    fig.axes[len(rows) - 1].set_xlabel("time step", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


__all__ = ["view"]
