"""The progress bar: steps done, epoch, live loss and accuracy (tqdm, on standard error).

It shows only when asked for and when standard error is a terminal, so logs, pipes, CI and
tests get no bar and never import tqdm. The loop feeds it at its host syncs (a few times a
second at most), not every step, so the bar costs the hot path nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO

SHOWN: Final = ("loss", "accuracy", "argmax_accuracy", "token_accuracy", "mse", "mae")
"""Metrics the bar shows, in this order, when the model reports them (at most three)."""


def wants_bar(progress: bool, stream: TextIO | None = None) -> bool:
    """True when a bar was asked for and ``stream`` (default: stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    return bool(progress) and hasattr(stream, "isatty") and stream.isatty()


class Progress:
    """A training progress bar, or nothing at all when ``enabled`` is False.

    >>> with Progress(total=100, initial=0, enabled=False) as bar:
    ...     bar.advance(10)
    """

    def __init__(self, total: int, initial: int = 0, *, enabled: bool = True, desc: str = "train") -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm  # lazy: tqdm only for an interactive run

            self._bar = tqdm(
                total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, file=sys.stderr, leave=True
            )

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def advance(self, steps: int) -> None:
        if self._bar is not None and steps:
            self._bar.update(steps)

    def show(self, epoch: int, epochs: int, metrics: Mapping[str, float]) -> None:
        """Put the epoch and the running metrics next to the bar."""
        if self._bar is None:
            return
        self._bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
        shown = {k: f"{metrics[k]:.4g}" for k in SHOWN if k in metrics}
        self._bar.set_postfix(dict(list(shown.items())[:3]), refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
