"""DOT text -> SVG / PNG / PDF bytes: the only module that runs a Graphviz program.

It calls Graphviz through the ``graphviz`` package's :func:`graphviz.pipe` (which finds the
binary, passes ``-n2`` and reports failures) rather than hand-rolled subprocess code. SVGs get
the spec's text and hash in a ``<metadata>`` element, so a figure on a slide can be traced back
to its source; PDF creation dates are pinned to the epoch, so the same spec gives the same bytes.

:class:`OutputOptions` holds what a person making slides asks of the file rather than of the
drawing (resolution, box, font, background, metadata). They are applied here, to the DOT text
and to Graphviz's bytes, never to the DOT that ``dot.py`` writes: the golden DOT files and the
default SVG and PDF stay byte for byte what they were. PNGs are trimmed to their ink and given
the same margin on every side, because Graphviz's box around a pinned drawing is lopsided (a
title's text box is taller than its text; legend labels carry slack for browsers' fonts).
"""

from __future__ import annotations

import html
import io
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..errors import CellgraphError
from .theme import FONT, FONT_BOLD, SVG_FONTS

FORMATS: Final = ("svg", "png", "pdf")
METADATA_NS: Final = "https://cellgraph.invalid/ns/spec"
PNG_DPI: Final = 192  # slide-sharp: a 36 pt pitch becomes 96 px
PNG_MARGIN: Final = 1 / 6  # inches of background around a PNG's ink, every side (12 pt; 32 px at 192 dpi)
METADATA_MODES: Final = ("full", "hash", "none")
MAX_PNG_SIDE: Final = 32_000  # pixels; cairo cannot make a larger surface
_FONT_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9 ._+-]{0,63}")
_SIZE: Final = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*[xX×]\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:in)?\s*")


class RenderError(CellgraphError):
    """Graphviz is missing or failed; the message says what to do."""


MSG_NO_GRAPHVIZ: Final = (
    "Graphviz's programs (`dot`, `neato`) are not installed, so nothing can be drawn; run "
    "`bash scripts/setup.sh` (it installs them with apt-get), or install Graphviz yourself "
    "(apt install graphviz / brew install graphviz / https://graphviz.org/download/). "
    "Validation works without it."
)


@dataclass(frozen=True)
class OutputOptions:
    """How a drawing becomes a file; build one with :func:`output_options`, which checks the values.

    The defaults give the files cellgraph always made (the SVG and PDF byte for byte).
    """

    dpi: float = PNG_DPI  # PNG pixels per inch (SVG and PDF are vector: it does not touch them)
    transparent: bool = False  # no background fill, in every format
    font: str | None = None  # the font family of titles, labels and the legend; None: Liberation Sans
    size: tuple[float, float] | None = None  # a box in inches (width, height) the drawing fits into, aspect kept
    metadata: str = "full"  # what the SVG's <metadata> holds: the spec's text and hash, the hash, nothing
    trim: bool = True  # PNG: cut to the ink and put PNG_MARGIN round it (the poster keeps its own sheet)


DEFAULT_OUTPUT: Final = OutputOptions()


def _positive(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 0 and number != float("inf") else None


def parse_size(value: str | tuple[float, float] | list[float], dpi: float = PNG_DPI) -> tuple[float, float]:
    """``"8x4.5"`` (inches; an ``in`` suffix is allowed) or ``(8, 4.5)`` -> ``(8.0, 4.5)``.

    Inches because they mean the same in every format (a PNG gets ``inches x dpi`` pixels) and
    slides are laid out in them (16:9 PowerPoint: 13.33x7.5). Raises :class:`RenderError` naming
    the option and a correct spelling; a size written in pixels gets the inches it meant.
    """
    usage = "size must be WIDTHxHEIGHT in inches, e.g. size='8x4.5' / --size 8x4.5 (a 16:9 slide is 13.33x7.5)"
    if isinstance(value, str):
        m = _SIZE.fullmatch(value)
        px = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*px\s*", value)
        if px is not None:
            w, h = (int(g) / dpi for g in px.groups())
            raise RenderError(
                f"size is in inches, not pixels: for {px.group(1)}x{px.group(2)} px at {dpi:g} dpi write "
                f"--size {w:.4g}x{h:.4g} --dpi {dpi:g}"
            )
        if m is None:
            raise RenderError(f"{usage}; got '{value}'")
        parts: tuple[object, ...] = m.groups()
    elif isinstance(value, tuple | list) and len(value) == 2:
        parts = tuple(value)
    else:
        raise RenderError(f"{usage}; got {value!r}")
    sides = [_positive(v) for v in parts]
    if any(side is None or side > 200 for side in sides):
        raise RenderError(f"{usage}, each side above 0 and at most 200; got {value!r}")
    return (float(parts[0]), float(parts[1]))  # type: ignore[arg-type]


def output_options(
    *,
    dpi: float | None = None,
    transparent: bool = False,
    font: str | None = None,
    size: str | tuple[float, float] | None = None,
    metadata: str | None = None,
    default_dpi: float = PNG_DPI,
    trim: bool = True,
) -> OutputOptions:
    """Checked :class:`OutputOptions`; a bad value raises :class:`RenderError` naming the option and the fix."""
    if dpi is None:
        dpi = default_dpi
    number = _positive(dpi)
    if number is None or number > 2400:
        raise RenderError(
            f"dpi must be a number of pixels per inch above 0 and at most 2400 (e.g. --dpi 300); got {dpi!r}"
        )
    if metadata is None:
        metadata = "full"
    if metadata not in METADATA_MODES:
        raise RenderError(
            f"metadata must be one of {', '.join(METADATA_MODES)} (the spec's text and hash, the hash and name "
            f"only, nothing); got {metadata!r}"
        )
    if font is not None and (not isinstance(font, str) or not _FONT_NAME.fullmatch(font)):
        raise RenderError(
            "font must be a font family name such as 'DejaVu Serif' (a letter, then letters, digits, spaces "
            f"and . _ + -, at most 64 characters; `fc-list : family` lists those installed); got {font!r}"
        )
    box = parse_size(size, number) if size is not None else None
    return OutputOptions(number, bool(transparent), font, box, metadata, trim)


def styled_dot(dot: str, options: OutputOptions, fmt: str) -> str:
    """``dot`` with the options' font, background and box (unchanged for the defaults).

    A ``graph [...]`` statement appended last overrides the header's attributes. A PNG that is
    trimmed is fitted to its box by :func:`png_bytes` instead, so that the margins count in it.
    """
    if options.font is not None:
        dot = dot.replace(f'fontname="{FONT_BOLD}"', f'fontname="{options.font} Bold"')
        dot = dot.replace(f'fontname="{FONT}"', f'fontname="{options.font}"')
    extra = []
    if options.transparent:
        extra.append('bgcolor="transparent"')
    if options.size is not None and not (fmt == "png" and options.trim):
        w, h = options.size
        extra.append(f'size="{w:g},{h:g}!"')
        if fmt == "pdf":  # the page is the box: no 0.5 in page margin round it (Graphviz's default for PDF)
            extra.append('margin="0"')
    if not extra:
        return dot
    end = dot.rstrip().rfind("}")
    return dot[:end] + f"  graph [{', '.join(extra)}]\n" + dot[end:]


def png_bytes(paint: Callable[[float], bytes], options: OutputOptions) -> bytes:
    """A PNG from ``paint(dpi)`` (Graphviz's PNG at that resolution), with even margins and fitted to the box.

    The ink is cut out and put on a canvas with :data:`PNG_MARGIN` on every side. With a size
    the drawing is painted again at the resolution that makes ink plus margins fill the box
    (Graphviz draws crisp text at any dpi; scaling pixels would blur it): the PNG is at most
    ``size x dpi`` pixels and as large along the side that binds. The PNG records ``dpi``, so
    a slide program places it at its size in inches.
    """
    if not options.trim:
        return _png_dpi(paint(options.dpi), options.dpi)
    from PIL import Image  # Pillow comes with matplotlib; imported only when a PNG is made

    margin = round(PNG_MARGIN * options.dpi)
    ink, background = _ink(paint(options.dpi), options.transparent)
    box = None
    if options.size is not None:
        box = (max(1, round(options.size[0] * options.dpi)), max(1, round(options.size[1] * options.dpi)))
        margin = min(margin, box[0] // 8, box[1] // 8)
        room = (box[0] - 2 * margin, box[1] - 2 * margin)
        dpi = options.dpi
        for _ in range(3):  # ink grows with dpi to within a pixel or two of text hinting
            scale = min(room[0] / ink.width, room[1] / ink.height)
            if ink.width <= room[0] and ink.height <= room[1] and scale < 1.004:
                break
            dpi *= scale
            ink, background = _ink(paint(dpi), options.transparent)
        if ink.width > box[0] or ink.height > box[1]:  # pragma: no cover - hinting beyond the margins
            ink.thumbnail(box, Image.Resampling.LANCZOS)
    width, height = ink.width + 2 * margin, ink.height + 2 * margin
    if box is not None:  # the side that binds fills the box exactly (hinting can leave it a pixel or two short)
        width, height = (b if b - side <= 3 else min(side, b) for side, b in zip((width, height), box, strict=True))
    if max(width, height) > MAX_PNG_SIDE:
        raise RenderError(f"the PNG would be {width}x{height} px, too large to make; lower --dpi or --size")
    canvas = Image.new(ink.mode, (width, height), background)
    canvas.paste(ink, ((width - ink.width) // 2, (height - ink.height) // 2))
    out = io.BytesIO()
    canvas.save(out, format="PNG", dpi=(options.dpi, options.dpi))
    return out.getvalue()


def _png_dpi(png: bytes, dpi: float) -> bytes:
    """``png`` with a pHYs chunk saying ``dpi`` (Graphviz writes none), without decoding it: a large
    sheet is not decoded and encoded again just to say how large it is."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or b"pHYs" in png[:64]:
        return png
    per_metre = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    end = 8 + 8 + 13 + 4  # signature, then IHDR: length and type, 13 bytes of data, its CRC
    return png[:end] + chunk + png[end:]


def _ink(data: bytes, transparent: bool) -> tuple[Any, tuple[int, ...]]:
    """The part of a PNG that is not background, and the background colour (RGB, or clear RGBA)."""
    from PIL import Image, ImageChops

    image = Image.open(io.BytesIO(data)).convert("RGBA")
    if transparent:
        mask = image.getchannel("A").point(lambda a: 255 if a > 8 else 0)
        box = mask.getbbox()
        return (image.crop(box) if box else image), (0, 0, 0, 0)
    colour = image.getpixel((0, 0))  # Graphviz's pad: always background
    assert isinstance(colour, tuple)
    background = tuple(colour[:3])
    flat = Image.new("RGB", image.size, background)
    flat.paste(image, mask=image.getchannel("A"))  # cairo's last, partly covered column -> background
    r, g, b = ImageChops.difference(flat, Image.new("RGB", flat.size, background)).split()
    mask = ImageChops.lighter(ImageChops.lighter(r, g), b).point(lambda v: 255 if v > 8 else 0)
    box = mask.getbbox()
    return (flat.crop(box) if box else flat), background


def graphviz_engine(engine: str) -> tuple[str, int | None]:
    """The Graphviz program and its ``-n`` level for one of the engines drawings name.

    ``neato``: every node and edge pinned by cellgraph (``-n2``; both views); anything else as it is.
    """
    if engine == "neato":
        return "neato", 2
    return engine, None


def run_graphviz(dot: str, fmt: str, engine: str = "neato", dpi: float = PNG_DPI) -> bytes:
    """Lay out (or just paint, for pinned ``neato``) DOT text into ``fmt`` bytes."""
    if fmt not in FORMATS:
        raise RenderError(f"unknown output format '{fmt}'; use one of: {', '.join(FORMATS)}")
    if fmt == "png":
        dot = dot.replace("  graph [", f'  graph [dpi="{dpi:g}", ', 1)
    data = pipe_graphviz(dot, fmt, engine)
    return _pin_pdf_dates(data) if fmt == "pdf" else data


def pipe_graphviz(dot: str, fmt: str, engine: str) -> bytes:
    """Graphviz's ``-T<fmt>`` output for DOT text, with its failures as :class:`RenderError`."""
    import graphviz  # imported when a drawing is made: `import cellgraph` and training never need it

    program, no_op = graphviz_engine(engine)
    try:
        return graphviz.pipe(program, fmt, dot.encode("utf-8"), neato_no_op=no_op, quiet=True)
    except graphviz.ExecutableNotFound:
        raise RenderError(MSG_NO_GRAPHVIZ) from None
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz failed: {detail[-1] if detail else err}") from err


_PDF_DATE: Final = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}[^)]*\)")


def _pin_pdf_dates(pdf: bytes) -> bytes:
    """Replace cairo's timestamps by the epoch, byte for byte the same length (xref offsets hold)."""

    def pin(m: re.Match[bytes]) -> bytes:
        stamp = m.group(0)
        head = b"/" + m.group(1) + b" (D:"
        body = b"19700101000000Z"
        return head + body.ljust(len(stamp) - len(head) - 1, b" ")[: len(stamp) - len(head) - 1] + b")"

    return _PDF_DATE.sub(pin, pdf)


def portable_fonts(svg: bytes, font: str | None = None) -> bytes:
    """Let browsers without Liberation Sans fall back to Arial / Helvetica, not a serif.

    With a ``font`` of the user's the SVG names that family as given (no fallback list: cellgraph
    cannot tell a serif from a sans), its bold as ``font-weight``.
    """
    text = svg.decode("utf-8")
    regular, bold, fonts = (FONT, FONT_BOLD, SVG_FONTS) if font is None else (font, f"{font} Bold", font)
    text = text.replace(f'font-family="{bold}"', f'font-family="{fonts}" font-weight="bold"')
    text = text.replace(f'font-family="{regular}"', f'font-family="{fonts}"')
    return text.encode("utf-8")


_XML_FORBIDDEN: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold at all, not even as character references."""
_XML_WHITESPACE: Final = {"\r": "&#13;", "\t": "&#9;", "\n": "&#10;"}


def xml_text(text: str, *, attribute: bool = False) -> str:
    """``text`` escaped for XML 1.0 content (or a double-quoted attribute), kept well-formed.

    ``\r`` is written ``&#13;`` so that a parser gives it back instead of turning it into a
    newline (in attributes ``\t`` and ``\n`` too, which attribute normalisation would turn into
    spaces). Characters XML 1.0 cannot represent at all (C0 controls other than tab, newline and
    carriage return; lone surrogates) become U+FFFD: the loader refuses them in spec files, so
    only a spec built in Python can hold them, and the embedded hash still names its true text.
    """
    out = _XML_FORBIDDEN.sub("\ufffd", html.escape(text))
    keep = "\r\t\n" if attribute else "\r"
    return "".join(_XML_WHITESPACE[ch] if ch in keep else ch for ch in out) if any(c in out for c in keep) else out


def embed_metadata(svg: bytes, source: str, spec_hash: str, name: str, version: str, mode: str = "full") -> bytes:
    """Put the spec's text and hash into the SVG, right after its opening tag.

    ``mode`` ``hash`` keeps only the name and the SHA-256 (a figure for a paper whose spec, comments
    included, should not travel with it, yet can still be matched to its file); ``none`` adds nothing.
    """
    if mode == "none":
        return svg
    text = svg.decode("utf-8")
    head = f'<metadata><cellgraph:spec xmlns:cellgraph="{METADATA_NS}" name="{xml_text(name, attribute=True)}" '
    if mode == "hash":
        block = f'{head}sha256="{spec_hash}"/></metadata>\n'
    else:
        block = (
            f'{head}sha256="{spec_hash}" cellgraph-version="{xml_text(version, attribute=True)}">{xml_text(source)}'
            "</cellgraph:spec></metadata>\n"
        )
    match = re.search(r"<svg\b[^>]*>\s*", text)
    if match is None:  # pragma: no cover - Graphviz always writes an svg element
        return svg
    return (text[: match.end()] + block + text[match.end() :]).encode("utf-8")


def read_metadata(svg: bytes | str) -> dict[str, str] | None:
    """The spec name, hash, version and source embedded by :func:`embed_metadata`, if any.

    An SVG written with ``metadata="hash"`` gives the name and hash only.
    """
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    m = re.search(r"<cellgraph:spec ([^>]*?)(?:/>|>(.*?)</cellgraph:spec>)", text, re.S)
    if m is None:
        return None
    attrs = dict(re.findall(r'([\w:-]+)="([^"]*)"', m.group(1)))
    if "sha256" not in attrs or "name" not in attrs:
        return None
    out = {"name": html.unescape(attrs["name"]), "sha256": attrs["sha256"]}
    if "cellgraph-version" in attrs:
        out["version"] = html.unescape(attrs["cellgraph-version"])
    if m.group(2) is not None:
        out["source"] = html.unescape(m.group(2))
    return out
