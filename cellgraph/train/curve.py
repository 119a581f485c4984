"""The training curve: loss and every metric per epoch, train and test, as one PNG.

Drawn with Matplotlib's Agg renderer on a ``Figure`` of its own (no pyplot, no global state, no
display needed), under Matplotlib's default style so a user's matplotlibrc cannot change the
picture, and saved without the "Software" stamp: the same history gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from .checkpoint import write_atomically

_PREFIXES: Final = ("train_", "val_", "test_")
_COLOURS: Final = {"train_": "#1f77b4", "val_": "#2ca02c", "test_": "#d62728"}


def curve_metrics(history: Sequence[Mapping[str, float]]) -> list[str]:
    """The metric names a history holds (``loss`` first, then sorted), without prefixes."""
    names = {k[len(p) :] for row in history for k in row for p in _PREFIXES if k.startswith(p)}
    return sorted(names, key=lambda n: (n != "loss", n))


def plot_curve(
    history: Sequence[Mapping[str, float]], path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write the training curve of ``history`` (rows from ``TrainResult.history``) to a PNG.

    One panel per metric, x = epoch, a line for the training split and one for the test split.
    The loss panel is logarithmic when every loss is positive.

    Returns:
        The path written.

    >>> plot_curve(result.history, "curve.png", title="mushroom")  # doctest: +SKIP
    """
    from matplotlib import style  # lazy: plotting only when a curve is asked for
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = curve_metrics(history) or ["loss"]
    out = Path(path)
    with style.context("default"):
        fig = Figure(figsize=(4.0 * len(names), 3.2), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names, strict=True):
            positive = True
            for prefix in _PREFIXES:
                pts = [(row["epoch"], row[prefix + name]) for row in history if prefix + name in row]
                if not pts:
                    continue
                xs, ys = zip(*pts, strict=True)
                positive = positive and all(y > 0 for y in ys)
                ax.plot(xs, ys, label=prefix.rstrip("_"), color=_COLOURS[prefix], marker="." if len(xs) < 30 else None)
            if name == "loss" and positive and history:
                ax.set_yscale("log")
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend()
        if title:
            fig.suptitle(title)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))
    return out
