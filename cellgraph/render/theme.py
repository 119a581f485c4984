"""Palettes, sizes and fonts of the drawings, as constants.

Sizes follow ZOO.md §3.2-3.6 scaled to a pitch of 36 pt (the chart's 0.62 p cell diameter, 0.07 r
lines, markers and handlebars at the measured fractions of the cell radius). Cell colours come
from the registry (the chart's exact fills); a theme only changes the page, the ink and, for
``print``, turns the fills into distinguishable greys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..cells import CELLS

PITCH: Final = 36.0  # points between neighbouring cell centres
RADIUS: Final = 0.31 * PITCH  # the chart's cell diameter is 0.62 pitch
LINE_WIDTH: Final = 0.8  # ~0.07 r
MARKER_WIDTH: Final = 0.9  # ~0.08 r
OUTLINE_WIDTH: Final = 0.8
FONT: Final = "Helvetica"  # Graphviz maps it to the system's Helvetica-metric sans
TITLE_SIZE: Final = 13.0
LABEL_SIZE: Final = 9.0
THEMES: Final = ("chart", "light", "dark", "print")


@dataclass(frozen=True)
class Theme:
    """Page and ink colours of one theme, and how it maps cell fills."""

    name: str
    background: str
    ink: str  # lines, markers, text
    muted: str  # ellipsis dots and size labels
    grey_fills: bool = False

    def fill(self, cell_type: str) -> str:
        fill = CELLS[cell_type].style.fill
        return _grey(fill) if self.grey_fills else fill

    def outline(self, cell_type: str) -> str:
        style = CELLS[cell_type].style
        if self.grey_fills:
            return self.ink
        return style.outline or style.fill  # green cells have no visible outline


def _grey(colour: str) -> str:
    """Luminance of a fill, lifted so that black markers stay readable on it."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    level = int(150 + (y / 255) * 95)
    return f"#{level:02X}{level:02X}{level:02X}"


THEME: Final[dict[str, Theme]] = {
    "chart": Theme("chart", "#FFFFFF", "#000000", "#555555"),
    "light": Theme("light", "#FFFFFF", "#333333", "#777777"),
    "dark": Theme("dark", "#1E1E1E", "#E8E8E8", "#AAAAAA"),
    "print": Theme("print", "#FFFFFF", "#000000", "#444444", grey_fills=True),
}
