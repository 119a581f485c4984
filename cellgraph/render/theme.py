"""Palettes, sizes and fonts of the drawings, as constants.

Sizes follow ZOO.md §3.2-3.6 scaled to a pitch of 36 pt (the chart's 0.62 p cell diameter, 0.07 r
lines, markers and handlebars at the measured fractions of the cell radius). Cell colours come
from the registry (the chart's exact fills); a theme only changes the page, the ink and, for
``print``, turns the fills into greys that a photocopy keeps apart, with a dashed or dotted
outline as a second cue where two families' greys are neighbours (ZOO.md §1.1: colour is the
family, the marker is the variant inside it, so family cue + marker tell all 14 types apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..cells import CELLS
from ..graph.drawspec import DEFAULT_THEME as DEFAULT_THEME
from ..graph.drawspec import THEMES as THEMES

PITCH: Final = 36.0  # points between neighbouring cell centres
RADIUS: Final = 0.31 * PITCH  # the chart's cell diameter is 0.62 pitch
LINE_WIDTH: Final = 0.8  # ~0.07 r
MARKER_WIDTH: Final = 0.9  # ~0.08 r
OUTLINE_WIDTH: Final = 0.8
FONT: Final = "Liberation Sans"  # Helvetica's metrics; Graphviz's Debian package brings it
FONT_BOLD: Final = "Liberation Sans Bold"
SVG_FONTS: Final = "Liberation Sans,Arial,Helvetica,sans-serif"  # what an SVG asks a browser for
TITLE_SIZE: Final = 13.0
LABEL_SIZE: Final = 9.0


@dataclass(frozen=True)
class Theme:
    """Page and ink colours of one theme, and how it maps cell fills."""

    name: str
    background: str
    ink: str  # lines, markers, text
    muted: str  # ellipsis dots and size labels
    grey_fills: bool = False
    outline_width: float = OUTLINE_WIDTH

    def fill(self, cell_type: str) -> str:
        cell = CELLS[cell_type]
        return PRINT_GREYS[cell.family] if self.grey_fills else cell.style.fill

    def outline(self, cell_type: str) -> str:
        style = CELLS[cell_type].style
        if self.grey_fills:
            return self.ink
        return style.outline or style.fill  # green cells have no visible outline

    def outline_style(self, cell_type: str) -> str:
        """The Graphviz line style of the cell's outline: ``""`` (solid) except in ``print``.

        Colour themes leave it solid, so their DOT (and the golden files) never carry a style
        beyond ``filled``.
        """
        return PRINT_OUTLINES.get(CELLS[cell_type].family, "") if self.grey_fills else ""


PRINT_GREYS: Final = {
    # one grey per colour family, 14% of luminance apart (photocopies merge steps under ~10%);
    # light input to dark output as on the chart; the darkest keeps a black marker at a contrast
    # ratio over 4:1 (WCAG asks 3:1 of graphics)
    "input": "#FFFFFF",
    "convolutional": "#DBDBDB",
    "hidden": "#B8B8B8",
    "recurrent": "#949494",
    "output": "#707070",
}
PRINT_OUTLINES: Final = {
    # the families between two solid neighbours get a broken outline, so two neighbouring greys
    # never share an outline style and two families with one style are 28% of luminance apart
    "convolutional": "dotted",
    "recurrent": "dashed",
}

THEME: Final[dict[str, Theme]] = {
    "chart": Theme("chart", "#FFFFFF", "#000000", "#555555"),
    "light": Theme("light", "#FFFFFF", "#333333", "#777777"),
    "dark": Theme("dark", "#1E1E1E", "#E8E8E8", "#AAAAAA"),
    # outlines a little heavier than the chart's, so that dashes and dots survive a copier
    "print": Theme("print", "#FFFFFF", "#000000", "#444444", grey_fills=True, outline_width=1.2),
}


# Helvetica advance widths (1/1000 em), for placing text before Graphviz measures it
_WIDTHS: Final = dict(
    zip(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
        (278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278)
        + (556,) * 10
        + (278, 278, 584, 584, 584, 556, 1015)
        + (667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833)
        + (722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611)
        + (278, 278, 278, 469, 556, 333)
        + (556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833)
        + (556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500)
        + (334, 260, 334, 584),
        strict=True,
    )
)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Room for ``text`` at ``size`` points, slightly on the generous side.

    Helvetica's advance widths, which Liberation Sans and Arial share; bold runs about 10% wider.
    Text must be placed before Graphviz measures it (left-aligned labels need a box width).
    """
    width = sum(_WIDTHS.get(ch, 600) for ch in text) * size / 1000
    return width * (1.12 if bold else 1.03)
