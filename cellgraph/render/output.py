"""DOT text -> SVG / PNG / PDF bytes: the only module that runs a Graphviz program.

It calls Graphviz through the ``graphviz`` package's :func:`graphviz.pipe` (which finds the
binary, passes ``-n2`` and reports failures) rather than hand-rolled subprocess code. SVGs get
the spec's text and hash in a ``<metadata>`` element, so a figure on a slide can be traced back
to its source; PDF creation dates are pinned to the epoch, so the same spec gives the same bytes.
"""

from __future__ import annotations

import html
import re
from typing import Final

from ..errors import CellgraphError
from .theme import FONT, FONT_BOLD, SVG_FONTS

FORMATS: Final = ("svg", "png", "pdf")
METADATA_NS: Final = "https://cellgraph.invalid/ns/spec"
PNG_DPI: Final = 192  # slide-sharp: a 36 pt pitch becomes 96 px


class RenderError(CellgraphError):
    """Graphviz is missing or failed; the message says what to do."""


MSG_NO_GRAPHVIZ: Final = (
    "Graphviz's programs (`dot`, `neato`) are not installed, so nothing can be drawn; run "
    "`bash scripts/setup.sh` (it installs them with apt-get), or install Graphviz yourself "
    "(apt install graphviz / brew install graphviz / https://graphviz.org/download/). "
    "Validation works without it."
)


def run_graphviz(dot: str, fmt: str, engine: str = "neato", dpi: int = PNG_DPI) -> bytes:
    """Lay out (or just paint, for pinned ``neato``) DOT text into ``fmt`` bytes."""
    if fmt not in FORMATS:
        raise RenderError(f"unknown output format '{fmt}'; use one of: {', '.join(FORMATS)}")
    if fmt == "png":
        dot = dot.replace("  graph [", f'  graph [dpi="{dpi}", ', 1)
    import graphviz  # imported when a drawing is made: `import cellgraph` and training never need it

    try:
        data = graphviz.pipe(engine, fmt, dot.encode("utf-8"), neato_no_op=2 if engine == "neato" else None, quiet=True)
    except graphviz.ExecutableNotFound:
        raise RenderError(MSG_NO_GRAPHVIZ) from None
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz failed: {detail[-1] if detail else err}") from err
    return _pin_pdf_dates(data) if fmt == "pdf" else data


_PDF_DATE: Final = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}[^)]*\)")


def _pin_pdf_dates(pdf: bytes) -> bytes:
    """Replace cairo's timestamps by the epoch, byte for byte the same length (xref offsets hold)."""

    def pin(m: re.Match[bytes]) -> bytes:
        stamp = m.group(0)
        head = b"/" + m.group(1) + b" (D:"
        body = b"19700101000000Z"
        return head + body.ljust(len(stamp) - len(head) - 1, b" ")[: len(stamp) - len(head) - 1] + b")"

    return _PDF_DATE.sub(pin, pdf)


def portable_fonts(svg: bytes) -> bytes:
    """Let browsers without Liberation Sans fall back to Arial / Helvetica, not a serif."""
    text = svg.decode("utf-8")
    text = text.replace(f'font-family="{FONT_BOLD}"', f'font-family="{SVG_FONTS}" font-weight="bold"')
    text = text.replace(f'font-family="{FONT}"', f'font-family="{SVG_FONTS}"')
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


def embed_metadata(svg: bytes, source: str, spec_hash: str, name: str, version: str) -> bytes:
    """Put the spec's text and hash into the SVG, right after its opening tag."""
    text = svg.decode("utf-8")
    block = (
        f'<metadata><cellgraph:spec xmlns:cellgraph="{METADATA_NS}" name="{xml_text(name, attribute=True)}" '
        f'sha256="{spec_hash}" cellgraph-version="{xml_text(version, attribute=True)}">{xml_text(source)}'
        "</cellgraph:spec></metadata>\n"
    )
    match = re.search(r"<svg\b[^>]*>\s*", text)
    if match is None:  # pragma: no cover - Graphviz always writes an svg element
        return svg
    return (text[: match.end()] + block + text[match.end() :]).encode("utf-8")


def read_metadata(svg: bytes | str) -> dict[str, str] | None:
    """The spec name, hash, version and source embedded by :func:`embed_metadata`, if any."""
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    m = re.search(
        r'<cellgraph:spec [^>]*name="([^"]*)" sha256="([0-9a-f]+)" cellgraph-version="([^"]*)">(.*?)</cellgraph:spec>',
        text,
        re.S,
    )
    if m is None:
        return None
    return {
        "name": html.unescape(m.group(1)),
        "sha256": m.group(2),
        "version": html.unescape(m.group(3)),
        "source": html.unescape(m.group(4)),
    }
