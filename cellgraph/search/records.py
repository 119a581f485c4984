"""What a search returns: one :class:`Trial` per point tried, and the :class:`SearchResult`.

Plain records, apart from the study that makes them and the report that writes them, so both
can import them (the report is written at the study's end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .space import Space


@dataclass(frozen=True)
class Trial:
    """One row of the results: a point, how it ended, its metrics."""

    number: int  # 1, 2, ... in the order the trials ran
    params: dict[str, Any]
    state: str  # "complete", "invalid" (refused by validation) or "failed" (training failed)
    value: float | None = None  # the searched metric
    metrics: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""
    arch: str = ""
    population: int = 0  # the size of the vmapped population it trained in (0: trained alone, or read back)


@dataclass(frozen=True)
class SearchResult:
    """What :func:`search` returns: every trial, the best one, and the files written."""

    trials: list[Trial]
    metric: str
    direction: str  # "maximize" or "minimize"
    sampler: str
    folder: Path
    study_name: str
    space: Space
    files: dict[str, Path] = field(default_factory=dict)
    resumed: int = 0  # trials found finished in the folder's journal

    @property
    def best(self) -> Trial | None:
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        if not done:
            return None
        sign = 1 if self.direction == "maximize" else -1
        return max(done, key=lambda t: (sign * (t.value or 0.0), -t.number))


__all__ = ["SearchResult", "Trial"]
