"""Graphviz's painted drawing -> TikZ (``.tex``), so a figure in a LaTeX paper or a Beamer slide is
vector, takes the document's fonts and can be edited by hand.

Graphviz lays out (``dot``) or only paints (pinned ``neato -n2``) the DOT that ``dot.py`` wrote and
hands back its drawing operations as JSON (``-Tjson``: xdot operations under ``_draw_``,
``_ldraw_``, ``_hdraw_``, ``_tdraw_`` ...). :func:`tikz_from_json` turns those into TikZ paths
one for one, so the ``.tex`` shows what the SVG shows: the same circles, lines, arrowheads and
text, at the same places, in the same colours and painting order. It is pure (a dict in, text
out) and testable without Graphviz; :func:`to_tikz` runs Graphviz and calls it.

Choices, each for the sake of a faithful copy:

- Units: Graphviz's points are PostScript points, TeX's ``bp`` (1/72 in; TeX's ``pt`` is
  1/72.27 in). The picture sets ``x=1bp, y=1bp``; coordinates are written without a unit, y up
  as Graphviz has it. Line widths and font sizes are in ``bp`` too.
- Colours: one ``\\definecolor{cgRRGGBB}{HTML}{RRGGBB}`` per colour used, named after its value
  (deterministic, deduplicated), inside the picture so that an ``\\input`` file is self-contained.
  Alpha becomes ``opacity``; a fully transparent pen or fill is not drawn.
- Lines: dashed and dotted as the SVG draws them (``on 5 off 2``; ``on 1 off 5``).
- Painting order: as Graphviz's (background, graph label, clusters, then edges and nodes as
  ``outputorder`` says), so that in the cells view the cells hide the lines behind them.
- The bounding box is Graphviz's page, its ``pad`` included. The background fills it only where
  the graph has a ``bgcolor`` that is not transparent (Graphviz's JSON paints white otherwise,
  and for ``dot`` leaves the pad out).
- Text: a node anchored at Graphviz's baseline point (``base west``/``base``/``base east`` for
  left, centre, right). The size is Graphviz's; the family follows the font's name (sans for
  Liberation Sans and Helvetica, serif for Times, typewriter for mono fonts), bold and italic as
  named or as the label's markup says. The standalone document uses the default Computer
  Modern, scalable to Graphviz's sizes with ``fix-cm`` (base LaTeX); a commented line loads
  Helvetica (``helvet``), whose metrics Graphviz measured with (Liberation Sans shares them),
  for where its fonts are installed (TeX Live's ``helvetic``; a bare ``texlive-latex-base`` lacks them).
- Special characters: LaTeX's ``& % $ # _ { } ~ ^ \\ < > |`` are escaped, and the non-ASCII
  characters cellgraph writes (``· × … − – — ◯ △ □``, arrows, Greek letters, comparison signs)
  become commands that base LaTeX knows, so ``pdflatex`` with ``\\usepackage[utf8]{inputenc}``
  (the default input encoding since 2018) needs no extra package; ``□`` is amssymb's
  ``\\square`` where that is loaded and a framed box otherwise. Accented Latin letters stay UTF-8
  (inputenc handles them); any other character stays UTF-8 too and needs ``lualatex`` or
  ``xelatex`` with a font that has it.
- Not mapped: gradient fills (Graphviz's ``fillcolor="a:b"``) take their first colour, images
  (``I``) are left out with a comment; neither occurs in cellgraph's drawings.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .output import pipe_graphviz

# the attributes that hold xdot operations, in the order Graphviz paints them within one object
_NODE_KEYS: Final = ("_draw_", "_ldraw_")
_EDGE_KEYS: Final = ("_draw_", "_tdraw_", "_hdraw_", "_ldraw_", "_tldraw_", "_hldraw_", "_xldraw_")
_DASHES: Final = {  # Graphviz's SVG dash arrays, in points
    "dashed": "dash pattern=on 5bp off 2bp",
    "dotted": "dash pattern=on 1bp off 5bp",
}
_DEFAULT_PAD: Final = 4.0  # points: Graphviz's default `pad` (0.0555 in)
_TRANSPARENT: Final = ("transparent", "none", "invis")

# Graphviz's X11 colour names that cellgraph or a hand-written DOT might leave unconverted
_NAMED: Final = {
    "black": "000000",
    "white": "FFFFFF",
    "red": "FF0000",
    "green": "00FF00",
    "blue": "0000FF",
    "grey": "C0C0C0",
    "gray": "C0C0C0",
    "lightgrey": "D3D3D3",
    "lightgray": "D3D3D3",
}

_LATEX_SPECIALS: Final = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_MATH: Final = {
    "·": r"\cdot",
    "×": r"\times",
    "−": "-",
    "±": r"\pm",
    "÷": r"\div",
    "°": r"^\circ",
    "µ": r"\mu",
    "≤": r"\leq",
    "≥": r"\geq",
    "≠": r"\neq",
    "≈": r"\approx",
    "∞": r"\infty",
    "→": r"\rightarrow",
    "←": r"\leftarrow",
    "↔": r"\leftrightarrow",
    "⇒": r"\Rightarrow",
    "↑": r"\uparrow",
    "↓": r"\downarrow",
    "∑": r"\sum",
    "∏": r"\prod",
    "√": r"\surd",
    "∈": r"\in",
    "∘": r"\circ",
    "⊕": r"\oplus",
    "⊗": r"\otimes",
    "◯": r"\bigcirc",
    "○": r"\bigcirc",
    "△": r"\triangle",
    "▽": r"\bigtriangledown",
    "●": r"\bullet",
    "★": r"\star",
    "⋯": r"\cdots",
}
_GREEK: Final = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi o pi rho varsigma sigma tau upsilon "
    "phi chi psi omega"
).split()
for _i, _name in enumerate(_GREEK):
    _MATH[chr(0x3B1 + _i)] = "o" if _name == "o" else "\\" + _name
for _ch, _name in zip("ΓΔΘΛΞΠΣΦΨΩ", "Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega".split(), strict=True):
    _MATH[_ch] = "\\" + _name
_TEXT: Final = {
    "…": r"\ldots{}",
    "–": r"\textendash{}",
    "—": r"\textemdash{}",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "•": r"\textbullet{}",
    "§": r"\S{}",
    "¶": r"\P{}",
    "©": r"\copyright{}",
    "\u00a0": "~",
    "□": r"{\ifdefined\square\ensuremath{\square}\else{\fboxsep=0pt\fbox{\rule{0pt}{.6em}\rule{.6em}{0pt}}}\fi}",
    "■": r"{\rule{.6em}{.6em}}",
}


def latex_text(text: str) -> str:
    """``text`` as LaTeX that prints it (see the module's notes for which characters map to what).

    Spaces that TeX would drop or merge (leading, trailing, repeated) become ``\\ ``; ``--`` is
    kept from turning into a dash. Control characters become spaces (Graphviz has already split
    the lines).
    """
    out: list[str] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cc":
            ch = " "
        if ch == " ":
            hard = i == 0 or i == len(text) - 1 or text[i - 1] == " "
            out.append("\\ " if hard else " ")
        elif ch in _LATEX_SPECIALS:
            out.append(_LATEX_SPECIALS[ch])
        elif ch == "-":
            out.append("-{}" if text[i + 1 : i + 2] == "-" else "-")
        elif ch in _MATH:
            out.append("\\ensuremath{" + _MATH[ch] + "}")
        elif ch in _TEXT:
            out.append(_TEXT[ch])
        else:
            out.append(ch)
    return "".join(out)


def _num(value: float) -> str:
    """A coordinate as short text, the same for the same value (no ``-0``, no trailing zeros)."""
    text = f"{float(value):.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _point(p: Sequence[float]) -> str:
    return f"({_num(p[0])},{_num(p[1])})"


@dataclass(frozen=True)
class _Colour:
    name: str | None  # None: nothing is painted
    opacity: float = 1.0


@dataclass
class _Pen:
    """The xdot drawing state; a fresh one for every operation list (xdot semantics)."""

    stroke: _Colour = field(default_factory=lambda: _Colour("cg000000"))
    fill: _Colour = field(default_factory=lambda: _Colour("cg000000"))
    width: float = 1.0
    dash: str = ""
    invisible: bool = False
    size: float = 14.0
    face: str = "Times-Roman"
    fontchar: int = 0


class _Writer:
    """Collects the TikZ lines and the colours they use."""

    def __init__(self) -> None:
        self.colours: dict[str, str] = {}  # name -> RRGGBB
        self.lines: list[str] = []
        self.skipped: set[str] = set()

    def colour(self, spec: Mapping[str, Any]) -> _Colour:
        """An xdot ``c``/``C`` operand -> a defined colour (a gradient gives its first stop)."""
        value = spec.get("color")
        if value is None:
            stops = spec.get("stops") or []
            value = stops[0].get("color") if stops else None
            self.skipped.add("gradient fill (first colour used)")
        text = str(value or "").strip().lower()
        if text in _TRANSPARENT or not text:
            return _Colour(None)
        m = re.fullmatch(r"#([0-9a-f]{6})([0-9a-f]{2})?", text)
        if m is not None:
            rgb = m.group(1).upper()
            alpha = int(m.group(2), 16) / 255 if m.group(2) else 1.0
        elif text in _NAMED:
            rgb, alpha = _NAMED[text], 1.0
        else:
            self.skipped.add(f"colour '{text}' (black used)")
            rgb, alpha = "000000", 1.0
        if alpha <= 0:
            return _Colour(None)
        name = f"cg{rgb}"
        self.colours[name] = rgb
        return _Colour(name, round(alpha, 3))

    def ops(self, ops: Iterable[Mapping[str, Any]]) -> None:
        """Paint one xdot operation list."""
        pen = _Pen()
        for op in ops:
            kind = op.get("op")
            if kind == "c":
                pen.stroke = self.colour(op)
            elif kind == "C":
                pen.fill = self.colour(op)
            elif kind == "S":
                self._style(pen, str(op.get("style", "")))
            elif kind == "F":
                pen.size = float(op.get("size", pen.size))
                pen.face = str(op.get("face", pen.face))
            elif kind == "t":
                pen.fontchar = int(op.get("fontchar", 0))
            elif kind == "T":
                self._text(pen, op)
            elif kind in ("E", "e", "P", "p", "B", "b", "L"):
                self._shape(pen, kind, op)
            else:
                self.skipped.add(f"xdot operation '{kind}'")
                self.lines.append(f"% (xdot operation '{_comment(str(kind))}' left out)")

    @staticmethod
    def _style(pen: _Pen, style: str) -> None:
        m = re.fullmatch(r"setlinewidth\(([-+0-9.eE]+)\)", style)
        if m is not None:
            pen.width = float(m.group(1))
        elif style == "bold":
            pen.width = 2.0
        elif style in ("solid", "dashed", "dotted"):
            pen.dash = _DASHES.get(style, "")
        elif style == "invis":
            pen.invisible = True

    def _shape(self, pen: _Pen, kind: str, op: Mapping[str, Any]) -> None:
        if pen.invisible:
            return
        # In Graphviz's JSON a capital letter is the filled form, for béziers too (in plain xdot
        # text `b` is the filled bézier; the JSON writer spells it `B`).
        filled = kind in ("E", "P", "B") and pen.fill.name is not None
        stroked = pen.stroke.name is not None
        if not (filled or stroked):
            return
        options = []
        if filled:
            options.append(f"fill={pen.fill.name}")
            if pen.fill.opacity < 1:
                options.append(f"fill opacity={_num(pen.fill.opacity)}")
        if stroked:
            options.append(f"draw={pen.stroke.name}")
            if pen.stroke.opacity < 1:
                options.append(f"draw opacity={_num(pen.stroke.opacity)}")
            options.append(f"line width={_num(pen.width)}bp")
            if pen.dash:
                options.append(pen.dash)
        self.lines.append(f"\\path[{', '.join(options)}] {_geometry(kind, op)};")

    def _text(self, pen: _Pen, op: Mapping[str, Any]) -> None:
        text = str(op.get("text", ""))
        if pen.invisible or pen.stroke.name is None or not text.strip():
            return
        align = op.get("align", "c")
        anchor = {"l": "base west", "-1": "base west", "r": "base east", "1": "base east"}.get(str(align), "base")
        x, y = op.get("pt") or (op.get("x", 0), op.get("y", 0))
        options = [f"anchor={anchor}", f"text={pen.stroke.name}"]
        if pen.stroke.opacity < 1:
            options.append(f"text opacity={_num(pen.stroke.opacity)}")
        options.append(f"font={_font(pen)}")
        self.lines.append(f"\\node[{', '.join(options)}] at {_point((x, y))} {{{latex_text(text)}}};")


def _geometry(kind: str, op: Mapping[str, Any]) -> str:
    """The path of one xdot shape operation."""
    if kind in ("E", "e"):
        cx, cy, rx, ry = (float(v) for v in op["rect"])
        if rx == ry:
            return f"{_point((cx, cy))} circle [radius={_num(rx)}]"
        return f"{_point((cx, cy))} ellipse [x radius={_num(rx)}, y radius={_num(ry)}]"
    points = [tuple(float(v) for v in p) for p in op["points"]]
    if kind in ("P", "p"):
        return " -- ".join(_point(p) for p in points) + " -- cycle"
    if kind == "L":
        return " -- ".join(_point(p) for p in points)
    # a cubic B-spline in Bézier form: a start point, then (control, control, end) triples
    parts = [_point(points[0])]
    closed = kind == "B" and len(points) > 4 and points[-1] == points[0]
    for i in range(1, len(points) - 2, 3):
        end = "cycle" if closed and i + 2 == len(points) - 1 else _point(points[i + 2])
        parts.append(f".. controls {_point(points[i])} and {_point(points[i + 1])} .. {end}")
    return " ".join(parts)


def _font(pen: _Pen) -> str:
    """A LaTeX font switch for Graphviz's font name, size and markup (bold 1, italic 2)."""
    face = pen.face.lower()
    if any(word in face for word in ("mono", "courier", "typewriter", "code")):
        family = "\\ttfamily"
    elif any(word in face for word in ("times", "serif", "roman", "georgia", "palatino")) and "sans" not in face:
        family = "\\rmfamily"
    else:
        family = "\\sffamily"
    series = "\\bfseries" if "bold" in face or pen.fontchar & 1 else ""
    shape = "\\itshape" if "italic" in face or "oblique" in face or pen.fontchar & 2 else ""
    size = _num(pen.size)
    leading = _num(pen.size * 1.2)
    return f"{{\\fontsize{{{size}bp}}{{{leading}bp}}\\selectfont{family}{series}{shape}}}"


def _comment(text: str) -> str:
    """``text`` safe on a ``%`` comment line."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _is_subgraph(obj: Mapping[str, Any]) -> bool:
    return any(key in obj for key in ("nodes", "edges", "subgraphs", "_subgraph_cnt"))


def _paint_order(graph: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Clusters, then nodes and edges in the order Graphviz's ``emit_view`` paints them."""
    objects: list[Mapping[str, Any]] = list(graph.get("objects", []))
    edges: list[Mapping[str, Any]] = list(graph.get("edges", []))
    order: list[tuple[str, Mapping[str, Any]]] = [("cluster", o) for o in objects if _is_subgraph(o)]
    nodes = [(i, o) for i, o in enumerate(objects) if not _is_subgraph(o)]
    mode = str(graph.get("outputorder", "breadthfirst"))
    if mode == "edgesfirst":
        return order + [("edge", e) for e in edges] + [("node", o) for _, o in nodes]
    if mode == "nodesfirst":
        return order + [("node", o) for _, o in nodes] + [("edge", e) for e in edges]
    # breadthfirst: each node, then each of its out-edges after that edge's head
    out: dict[int, list[Mapping[str, Any]]] = {}
    for e in edges:
        out.setdefault(int(e.get("tail", -1)), []).append(e)
    done: set[int] = set()

    def node(i: int) -> None:
        if i not in done and 0 <= i < len(objects) and not _is_subgraph(objects[i]):
            done.add(i)
            order.append(("node", objects[i]))

    for i, _ in nodes:
        node(i)
        for e in out.get(i, []):
            node(int(e.get("head", -1)))
            order.append(("edge", e))
    return order


def _label(obj: Mapping[str, Any], kind: str, objects: Sequence[Mapping[str, Any]]) -> str:
    if kind == "edge":

        def name(i: Any) -> str:
            return str(objects[i].get("name", i)) if isinstance(i, int) and 0 <= i < len(objects) else str(i)

        return f"{name(obj.get('tail'))} -- {name(obj.get('head'))}"
    return str(obj.get("name", ""))


def _background(graph: Mapping[str, Any]) -> bool:
    bgcolor = str(graph.get("bgcolor", "")).strip().lower()
    if not bgcolor or bgcolor in _TRANSPARENT:
        return False
    return not re.fullmatch(r"#[0-9a-f]{6}00", bgcolor)


def _bounding_box(graph: Mapping[str, Any]) -> str | None:
    """Graphviz's page: its ``bb`` with ``pad`` (inches) round it."""
    try:
        x0, y0, x1, y1 = (float(v) for v in str(graph["bb"]).split(","))
    except (KeyError, ValueError):
        return None
    try:
        pad = float(str(graph.get("pad", "")).split(",")[0]) * 72
    except ValueError:
        pad = _DEFAULT_PAD
    return f"{_point((x0 - pad, y0 - pad))} rectangle {_point((x1 + pad, y1 + pad))}"


def tikz_from_json(graph: Mapping[str, Any], *, standalone: bool = True) -> str:
    """Graphviz's ``-Tjson`` drawing (parsed) -> a TikZ picture, or a whole document with ``standalone``.

    Pure and deterministic: the same dict gives the same text. The picture alone is what a
    Beamer slide ``\\input``s (it defines its own colours); scale it with
    ``\\resizebox{\\linewidth}{!}{\\input{drawing.tex}}``, text included.
    """
    writer = _Writer()
    objects: list[Mapping[str, Any]] = list(graph.get("objects", []))
    box = _bounding_box(graph)
    if _background(graph):
        writer.lines.append("% background")
        fills = [op for op in graph.get("_draw_", []) if op.get("op") == "C"]
        colour = writer.colour(fills[-1]) if fills else writer.colour({"color": graph["bgcolor"]})
        if box is None or colour.name is None:
            writer.ops(graph.get("_draw_", []))
        else:
            opacity = f", fill opacity={_num(colour.opacity)}" if colour.opacity < 1 else ""
            writer.lines.append(f"\\path[fill={colour.name}{opacity}] {box};")
    if graph.get("_ldraw_"):
        writer.lines.append("% graph label")
        writer.ops(graph["_ldraw_"])
    for kind, obj in _paint_order(graph):
        keys = _EDGE_KEYS if kind == "edge" else _NODE_KEYS
        lists = [obj[k] for k in keys if obj.get(k)]
        lists += [obj[k] for k in sorted(obj) if k not in keys and k.endswith("draw_") and obj.get(k)]
        if not lists:
            continue
        writer.lines.append(f"% {kind} {_comment(_label(obj, kind, objects))}")
        for ops in lists:
            writer.ops(ops)
    name = _comment(str(graph.get("name", "")))
    head = [f"% Made by cellgraph: the drawing of {name!r} as TikZ, from Graphviz's layout."]
    if not standalone:
        head.append("% \\input it into a LaTeX or Beamer document that loads tikz; scale it with")
        head.append("% \\resizebox{\\linewidth}{!}{\\input{this-file}}.")
    if writer.skipped:
        head.append("% Not reproduced exactly: " + "; ".join(sorted(_comment(s) for s in writer.skipped)) + ".")
    picture = ["\\begin{tikzpicture}[x=1bp, y=1bp, every node/.style={inner sep=0pt, outer sep=0pt}]"]
    picture += [f"\\definecolor{{{n}}}{{HTML}}{{{rgb}}}" for n, rgb in sorted(writer.colours.items())]
    if box is not None:
        picture.append(f"\\path[use as bounding box] {box};")
    picture += writer.lines
    picture.append("\\end{tikzpicture}")
    if not standalone:
        return "\n".join(head + picture) + "\n"
    preamble = [
        "\\RequirePackage{fix-cm}% Computer Modern at any size (the sizes are Graphviz's)",
        "\\documentclass[tikz]{standalone}",
        "\\usepackage[utf8]{inputenc}",
        "% \\usepackage{helvet}% Helvetica (needs its fonts): the metrics Graphviz measured the text with",
        "\\begin{document}",
    ]
    return "\n".join(head + preamble + picture + ["\\end{document}"]) + "\n"


def graphviz_json(dot: str, engine: str) -> dict[str, Any]:
    """Graphviz's drawing of ``dot`` as parsed ``-Tjson``, run as :func:`~.output.run_graphviz` runs it
    (the same program and ``-n`` level for each of the engines a Rendering names)."""
    data = pipe_graphviz(dot, "json", engine)
    parsed: dict[str, Any] = json.loads(data.decode("utf-8"))
    return parsed


def to_tikz(dot: str, engine: str, *, standalone: bool = True) -> str:
    """The drawing of ``dot`` (as :class:`~cellgraph.render.api.Rendering` holds it) as TikZ text.

    ``engine`` is the Rendering's (``neato``: both views come pinned). With ``standalone`` a whole ``standalone``-class document (``pdflatex`` makes a PDF of
    just the drawing); without, the ``tikzpicture`` alone, for ``\\input`` into a paper or slide.
    """
    return tikz_from_json(graphviz_json(dot, engine), standalone=standalone)
