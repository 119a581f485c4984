"""A folder of drawings: NAME.svg and NAME.png per spec, a README.md table and an index.html page.

The page shows each network as a thumbnail (``thumbs/NAME.svg``: the drawing without its legend and
caption, which are unreadable at thumbnail size and would repeat the card's title); a click opens
the full drawing beside its spec text (a CSS ``:target`` view, no script needed). The zoo poster
(``zoo-poster.pdf``/``.svg``/``.png``, drawn by ``cellgraph poster``) is linked when it is in the folder.

The zoo's networks come first, in the 2019 chart's order (the poster's rows), then every other
spec in the order given. NAME is the spec file's stem (``lstm.svg``); a stem already taken gets
its folder as a prefix (``examples-lstm.svg``). Each entry's paper is the citation found in the
spec's ``description`` (``Surname, I. (year). Title. Venue``), shortened. Every file is a pure
function of the specs: no timestamps, stable order, so its SVGs regenerate byte-identically (PNG and
PDF bytes depend on the machine's cairo and fonts: docs/rendering.md).
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

import networkx as nx

from ..errors import terminal_safe
from ..graph import load_graph
from .api import render
from .poster import abbreviation, chart_order

THUMB_WIDTH: Final = 240  # px, the README's thumbnails
THUMBS: Final = "thumbs"  # the page's legend-less thumbnails: THUMBS/NAME.svg
POSTER: Final = ("zoo-poster.pdf", "zoo-poster.svg", "zoo-poster.png")  # linked from the page when present
REGENERATE: Final = "bash scripts/demo.sh"  # the README's main command redraws the gallery and the poster

_NAME: Final = r"[A-Z][\w'’]*(?:-[A-Z][\w'’]*)*"  # Hochreiter, Pouget-Abadie, Natschläger
_INITIALS: Final = r"[A-Z]\.(?:-?[A-Z]\.)*"  # S., G.E., G.-B.
_AUTHOR: Final = rf"{_NAME}, {_INITIALS}"
_CITATION: Final = re.compile(
    rf"(?P<authors>{_AUTHOR}(?:, {_AUTHOR})*(?:,? et al\.)?) \((?P<year>\d{{4}})\)(?P<sep>[.,])\s*(?P<rest>[^;]*)"
)


@dataclass(frozen=True)
class Citation:
    """One reference found in a description, authors already shortened."""

    authors: str  # "Hochreiter & Schmidhuber", "Vincent et al."
    year: str
    title: str  # may be empty (a reference given as "Name, I. (year), Venue")
    venue: str

    def text(self) -> str:
        return ". ".join(p for p in (f"{self.authors} ({self.year})", self.title, self.venue) if p)


@dataclass(frozen=True)
class GalleryEntry:
    """One drawing of the gallery."""

    name: str  # file stem: NAME.svg, NAME.png
    spec: str  # the spec file, relative to the gallery folder where possible
    title: str  # the full name, without "(ABBR)"
    abbr: str  # the chart's abbreviation, or the spec's name
    citations: tuple[Citation, ...]
    source: str = ""  # the spec file's text, shown beside the enlarged drawing

    @property
    def svg(self) -> str:
        return f"{self.name}.svg"

    @property
    def thumb(self) -> str:
        return f"{THUMBS}/{self.name}.svg"

    @property
    def png(self) -> str:
        return f"{self.name}.png"

    @property
    def paper(self) -> str:
        """The first reference in full, later ones as author and year only."""
        if not self.citations:
            return ""
        first, *more = self.citations
        also = "; ".join(f"{c.authors} ({c.year})" for c in more)
        return first.text() + (f"; also {also}" if also else "")


def _short_authors(authors: str) -> str:
    names = re.findall(rf"({_NAME}), {_INITIALS}", authors)
    if "et al" in authors or len(names) > 3:
        return f"{names[0]} et al."
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " & " + names[-1]


def find_citations(description: str) -> tuple[Citation, ...]:
    """The references of a description written "Surname, I., Surname, I. (year). Title. Venue".

    A reference runs to the next ``;`` or the end; a trailing remark in parentheses that starts
    in lower case ("(the forget gate came ...)") is dropped.

    >>> find_citations("... Elman, J.L. (1990). Finding structure in time. Cognitive Science 14(2):179–211.")[0].text()
    'Elman (1990). Finding structure in time. Cognitive Science 14(2):179–211'
    """
    out = []
    for m in _CITATION.finditer(" ".join(description.split())):
        rest = re.sub(r"\s*\([a-z][^()]*\)\s*$", "", m.group("rest").strip().rstrip(".")).strip().rstrip(".")
        title, venue = "", rest
        if m.group("sep") == ".":
            head, dot, tail = rest.partition(". ")
            title, venue = (head, tail) if dot else (rest, "")
        out.append(Citation(_short_authors(m.group("authors")), m.group("year"), title.strip(), venue.strip()))
    return tuple(out)


def gallery_order(graphs: Sequence[nx.DiGraph]) -> list[int]:
    """Indices of ``graphs``: the chart's networks in the chart's order, then the others as given."""
    rows, extras = chart_order(graphs)
    return [k for row in rows for k in row] + extras


def _entry(graph: nx.DiGraph, name: str, out_dir: Path) -> GalleryEntry:
    spec = graph.graph["spec"]
    title = spec.title or spec.name
    abbr = abbreviation(title)
    if abbr:
        title = re.sub(r"\s*\([^()]+\)\s*$", "", title)
    try:
        where = Path(os.path.relpath(Path(spec.file).resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows): keep the path as given
        where = Path(spec.file).as_posix()
    return GalleryEntry(name, where, title, abbr or spec.name, find_citations(spec.description or ""), spec.source)


def _names(graphs: Sequence[nx.DiGraph]) -> list[str]:
    names: list[str] = []
    for graph in graphs:
        path = Path(graph.graph["spec"].file)
        name = path.stem
        if name in names:
            name = f"{path.parent.name}-{path.stem}" if path.parent.name else name
        base, k = name, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def _thumbnail_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """The graph drawn without legend and caption: at thumbnail size a legend beside a wide network
    shrinks both past reading, and the caption would repeat the title printed under the thumbnail."""
    bare = graph.copy()  # a new graph dict: the caller's settings stay as they are
    bare.graph["draw"] = dataclasses.replace(graph.graph["draw"], legend=False, caption="")
    return bare


def build_gallery(specs: Sequence[str | Path | nx.DiGraph], out_dir: str | Path) -> list[GalleryEntry]:
    """Draw every spec into ``out_dir`` as NAME.svg, NAME.png and thumbs/NAME.svg (no legend, no
    caption), then write README.md and index.html (which links the zoo poster if the folder has it).

    Args:
        specs: spec files, or graphs from :func:`load_graph` (their spec's file names the drawing).
        out_dir: the gallery folder (created if missing; files of the same name are replaced).

    Returns:
        the entries, in gallery order.

    Raises:
        SpecError: a spec has a problem (nothing is written then).
        RenderError: Graphviz is missing or failed.

    >>> build_gallery(["specs/zoo/p.yaml", "specs/zoo/lstm.yaml"], "gallery")  # doctest: +SKIP
    """
    graphs = [s if isinstance(s, nx.DiGraph) else load_graph(s) for s in specs]
    order = gallery_order(graphs)
    graphs = [graphs[k] for k in order]
    out = Path(out_dir)
    (out / THUMBS).mkdir(parents=True, exist_ok=True)
    entries = []
    for graph, name in zip(graphs, _names(graphs), strict=True):
        entry = _entry(graph, name, out)
        drawing = render(graph)
        (out / entry.svg).write_bytes(drawing.svg.encode("utf-8"))
        (out / entry.png).write_bytes(drawing.to_bytes("png"))
        (out / entry.thumb).write_bytes(render(_thumbnail_graph(graph)).svg.encode("utf-8"))
        entries.append(entry)
    poster = [name for name in POSTER if (out / name).is_file()]
    (out / "README.md").write_text(gallery_readme(entries), encoding="utf-8", newline="\n")
    (out / "index.html").write_text(gallery_html(entries, poster), encoding="utf-8", newline="\n")
    return entries


# ------------------------------------------------------------------------------------ README.md


def _one_line(text: str) -> str:
    """``text`` on one line with no control characters: a table row of Markdown ends at any line
    break (``\r``, U+2028 and the like too), so a title holding one could start a heading or an
    image line of its own; other control characters are shown as escapes such as ``\\x1b``."""
    return terminal_safe(" ".join(text.splitlines()))


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, with Markdown's and HTML's specials escaped
    (so no link, image, emphasis, heading or raw HTML can start in it)."""
    return re.sub(r"([\\`*_\[\]<>|#!])", r"\\\1", _one_line(text))


def _md_paper(entry: GalleryEntry) -> str:
    if not entry.citations:
        return "—"
    first, *more = entry.citations
    parts = [_md(f"{first.authors} ({first.year})")]
    if first.title:
        parts.append(f"*{_md(first.title)}*")
    if first.venue:
        parts.append(_md(first.venue))
    also = "; ".join(_md(f"{c.authors} ({c.year})") for c in more)
    return ". ".join(parts) + (f"; also {also}" if also else "")


def gallery_readme(entries: Sequence[GalleryEntry]) -> str:
    """The gallery's README.md: a table of thumbnails (linking to the SVGs), names and papers."""
    lines = [
        "# Gallery",
        "",
        "<!-- Generated by `cellgraph gallery`; do not edit. -->",
        "",
        f"{len(entries)} networks, each drawn from its YAML spec in the style of the Neural Network Zoo chart "
        "(after F. van Veen & S. Leijnen, *The Neural Network Zoo*, 2019). The chart's networks come first, in "
        "the chart's order; the other specs follow. Each thumbnail links to its SVG, which carries the spec in "
        "`<metadata>`; [index.html](index.html) shows the same as a page.",
        "",
        f"Regenerate this folder with `{REGENERATE}` (or `cellgraph gallery -o gallery/`). "
        "`cellgraph poster specs/zoo -o zoo-poster.pdf` draws the whole zoo on one sheet.",
        "",
        "| drawing | network | abbr. | paper |",
        "| --- | --- | --- | --- |",
    ]
    for e in entries:
        # one line (a line break would end the table row), and GFM splits cells on any |
        alt = html.escape(_one_line(f"{e.title} ({e.abbr})"), quote=True).replace("|", "&#124;")
        thumb = f'<a href="{html.escape(quote(e.svg))}"><img src="{html.escape(quote(e.png))}" alt="{alt}" width="{THUMB_WIDTH}"></a>'
        network = f"{_md(e.title)}<br>[{_md(e.spec.rsplit('/', 1)[-1])}]({quote(e.spec)})"
        lines.append(f"| {thumb} | {network} | {_md(e.abbr)} | {_md_paper(e)} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- index.html

_CSS: Final = """\
:root { color-scheme: light; }
body { margin: 0; padding: 1.5rem; font-family: Helvetica, Arial, sans-serif; color: #111; background: #fff; }
body:has(.view:target) { overflow: hidden; }
header { max-width: 60rem; margin-bottom: 1.5rem; }
h1 { font-weight: 300; margin: 0 0 0.5rem; }
header p { margin: 0.25rem 0; color: #444; line-height: 1.4; }
header a, .files a { color: #0066cc; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(18rem, 1fr)); gap: 1.25rem; }
article { display: flex; flex-direction: column; border: 1px solid #ddd; border-radius: 6px; padding: 0.75rem; }
article:target { border-color: #0066cc; }
.thumb { display: block; cursor: zoom-in; }
.thumb img { display: block; width: 100%; height: 13rem; object-fit: contain; }
h2 { font-size: 1rem; font-weight: 400; margin: 0.75rem 0 0.25rem; }
.abbr { font-weight: 700; }
.paper { font-size: 0.8rem; color: #444; line-height: 1.35; margin: 0.25rem 0; flex-grow: 1; }
.files { font-size: 0.8rem; margin: 0.5rem 0 0; }
.files a { margin-right: 0.75rem; }
code { font-size: 0.85rem; }
.view { display: none; position: fixed; inset: 0; z-index: 10; }
.view:target { display: block; }
.backdrop { position: absolute; inset: 0; background: rgba(0, 0, 0, 0.6); cursor: zoom-out; }
.panel { position: absolute; inset: 1.5rem; display: grid; grid-template-columns: minmax(0, 3fr) minmax(16rem, 2fr);
  grid-template-rows: minmax(0, 1fr); gap: 1rem; padding: 2.5rem 1rem 1rem; background: #fff; border-radius: 8px; }
.drawing { position: relative; display: block; cursor: zoom-in; }
.drawing img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; }
.side { display: flex; flex-direction: column; min-height: 0; }
.side .files { margin: 0 0 0.5rem; }
.side .files code { margin-right: 0.75rem; }
.spec { flex: 1; min-height: 0; overflow: auto; margin: 0; padding: 0.75rem; border: 1px solid #ddd; border-radius: 4px;
  background: #f6f8fa; font-size: 0.8rem; line-height: 1.35; white-space: pre; }
.close { position: absolute; top: 0.25rem; right: 0.75rem; font-size: 1.75rem; line-height: 1; color: #444;
  text-decoration: none; }
@media (max-width: 48rem) {
  .panel { inset: 0.5rem; grid-template-columns: minmax(0, 1fr); grid-template-rows: minmax(0, 1fr) minmax(0, 1fr); }
}
"""

# Esc closes the enlarged view (back to its card); everything else works without scripts.
_SCRIPT: Final = (
    'addEventListener("keydown", e => { if (e.key === "Escape" && location.hash.startsWith("#view/")) '
    "location.hash = location.hash.slice(6); });"
)


def _html_paper(entry: GalleryEntry) -> str:
    if not entry.citations:
        return ""
    first, *more = entry.citations
    parts = [html.escape(f"{first.authors} ({first.year})")]
    if first.title:
        parts.append(f"<cite>{html.escape(first.title)}</cite>")
    if first.venue:
        parts.append(html.escape(first.venue))
    also = "; ".join(html.escape(f"{c.authors} ({c.year})") for c in more)
    return ". ".join(parts) + (f"; also {also}" if also else "")


def _files(entry: GalleryEntry) -> str:
    esc = html.escape
    return (
        f'<a href="{esc(quote(entry.svg))}">SVG</a><a href="{esc(quote(entry.png))}">PNG</a>'
        f'<a href="{esc(quote(entry.spec))}">spec</a>'
    )


def _view(entry: GalleryEntry) -> list[str]:
    """The enlarged view of one entry: the full drawing (legend and caption, so the title shows once)
    beside the spec's text. It is shown while the address ends in ``#view/NAME`` (CSS ``:target``);
    ``/`` cannot occur in a file stem, so these ids never meet an entry's own."""
    esc = html.escape
    card = f"#{esc(quote(entry.name))}"  # closing returns to the card
    spec_file = entry.spec.rsplit("/", 1)[-1]
    return [
        f'  <section class="view" id="view/{esc(entry.name)}" role="dialog" aria-modal="true" '
        f'aria-labelledby="title/{esc(entry.name)}">',
        f'    <a class="backdrop" href="{card}" tabindex="-1" aria-hidden="true"></a>',
        '    <div class="panel">',
        f'      <a class="close" href="{card}" title="close (Esc)" aria-label="close">×</a>',
        f'      <a class="drawing" href="{esc(quote(entry.svg))}" title="open the SVG">'
        f'<img src="{esc(quote(entry.svg))}" alt="{esc(entry.title)} ({esc(entry.abbr)}), with its legend" '
        'loading="lazy"></a>',
        '      <div class="side">',
        f'        <p class="files"><code>{esc(spec_file)}</code> {_files(entry)}</p>',
        f'        <pre class="spec"><code>{esc(entry.source.rstrip())}</code></pre>',
        "      </div>",
        "    </div>",
        "  </section>",
    ]


def _poster_links(poster: Sequence[str]) -> list[str]:
    if not poster:
        return []
    esc = html.escape
    links = " · ".join(
        f'<a class="poster" href="{esc(quote(p))}">{esc(p.rsplit(".", 1)[-1].upper())}</a>' for p in poster
    )
    return [f"<p>The whole zoo on one sheet, the poster: {links}.</p>"]


def gallery_html(entries: Sequence[GalleryEntry], poster: Sequence[str] = ()) -> str:
    """A self-contained page: a responsive grid of cards (thumbnail, title, paper), each thumbnail
    opening its full drawing beside the spec text; ``poster`` (file names in the folder) is linked
    in the header. No external files and no network: it works from ``file://``."""
    esc = html.escape
    cards = []
    for e in entries:
        paper = _html_paper(e)
        cards += [
            f'<article id="{esc(e.name)}">',
            f'  <a class="thumb" href="#view/{esc(quote(e.name))}" title="enlarge, with the spec">'
            f'<img src="{esc(quote(e.thumb))}" alt="{esc(e.title)} ({esc(e.abbr)})"></a>',
            f'  <h2 id="title/{esc(e.name)}">{esc(e.title)} <span class="abbr">{esc(e.abbr)}</span></h2>',
            f'  <p class="paper">{paper}</p>' if paper else '  <p class="paper"></p>',
            f'  <p class="files">{_files(e)}</p>',
            *_view(e),
            "</article>",
        ]
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>cellgraph gallery</title>",
        '<link rel="icon" href="data:,">',
        "<style>",
        _CSS.rstrip("\n"),
        "</style>",
        "</head>",
        "<body>",
        "<header>",
        "<h1>cellgraph gallery</h1>",
        f"<p>{len(entries)} networks, each drawn from its YAML spec in the style of the Neural Network Zoo chart "
        "(after F. van Veen &amp; S. Leijnen, <cite>The Neural Network Zoo</cite>, 2019). The chart's networks "
        "come first, in the chart's order; the other specs follow. Click a drawing to see it whole, with its "
        "legend, beside its spec.</p>",
        *_poster_links(poster),
        f"<p>Generated by <code>cellgraph gallery</code>; regenerate with <code>{esc(REGENERATE)}</code>.</p>",
        "</header>",
        "<main>",
        *cards,
        "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"
