"""The gallery (NAME.svg/.png, README.md, index.html) and the poster (the whole zoo on one sheet).

Drawing needs Graphviz (``needs_dot``); the page test needs headless Chromium and chromedriver
from the system packages (``apt-get install chromium chromium-driver``, done by
scripts/setup.sh when it runs as root) and the ``selenium`` package (a dev dependency). Both
fail loudly under ``CI=true`` when missing and skip elsewhere.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from conftest import EXAMPLES, IN_CI, ROOT, ZOO, CliRunner, fail_or_skip

from cellgraph.cells import CELLS
from cellgraph.render.gallery import build_gallery, find_citations, gallery_html, gallery_readme
from cellgraph.render.poster import CHART_ORDER, HEADLINE, render_poster

GALLERY = ROOT / "gallery"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SMALL = ("hn", "p", "ff")  # given out of order: the gallery puts them in the chart's (P, FF, HN)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _zoo_titles() -> list[str]:
    titles = []
    for path in sorted(ZOO.glob("*.yaml")):
        m = re.search(r"^title: (.+)$", path.read_text(encoding="utf-8"), re.M)
        assert m, path
        titles.append(m.group(1).strip())
    return titles


def _has_legend(svg: str) -> bool:
    return "<title>~legend:" in svg


def _has_caption(svg: str) -> bool:
    return "<title>~title</title>" in svg


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.encode("utf-8"))
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


# ------------------------------------------------------------------------------- citations (pure)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (
            "Gates. Hochreiter, S., Schmidhuber, J. (1997). Long short-term memory. Neural Computation "
            "9(8):1735–1780 (the forget gate came with Gers, Schmidhuber & Cummins 2000).",
            ["Hochreiter & Schmidhuber (1997). Long short-term memory. Neural Computation 9(8):1735–1780"],
        ),
        (
            "The zoo cites Rosenblatt, F. (1958), Psychological Review 65(6):386–408; backpropagation: "
            "Rumelhart, D.E., Hinton, G.E., Williams, R.J. (1986). Learning representations by back-propagating "
            "errors. Nature 323:533–536.",
            [
                "Rosenblatt (1958). Psychological Review 65(6):386–408",
                "Rumelhart, Hinton & Williams (1986). Learning representations by back-propagating errors. "
                "Nature 323:533–536",
            ],
        ),
        (
            "Graves, A., Wayne, G., Reynolds, M., Harley, T., Danihelka, I. et al. (2016). Hybrid computing. Nature 538.",
            ["Graves et al. (2016). Hybrid computing. Nature 538"],
        ),
        (
            "Cambria, E., Huang, G.-B. et al. (2013). Extreme learning machines.",
            ["Cambria et al. (2013). Extreme learning machines"],
        ),
        ("Trained on mushrooms (Schlimmer 1981, UCI Machine Learning Repository).", []),
    ],
    ids=["two-authors", "two-references", "et-al", "hyphenated-initials", "no-reference"],
)
def test_find_citations(description: str, expected: list[str]) -> None:
    assert [c.text() for c in find_citations(description)] == expected


def test_every_zoo_spec_has_a_citation() -> None:
    from cellgraph.spec.compose import load_spec

    for path in sorted(ZOO.glob("*.yaml")):
        citations = find_citations(load_spec(path).description)
        assert citations, f"{path.name}: no 'Surname, I. (year)' reference in its description"
        assert all(c.year.isdigit() and c.authors for c in citations)


# --------------------------------------------------------------------------------------- gallery


@pytest.mark.needs_dot
def test_build_gallery_writes_drawings_readme_and_page(tmp_path: Path) -> None:
    out = tmp_path / "gallery"
    entries = build_gallery([ZOO / f"{name}.yaml" for name in SMALL], out)
    assert [e.name for e in entries] == ["p", "ff", "hn"]  # the chart's order
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        [
            "README.md",
            "index.html",
            *(f"{n}.{ext}" for n in SMALL for ext in ("svg", "png")),
            *(f"thumbs/{n}.svg" for n in SMALL),
        ]
    )
    for name in SMALL:
        assert (out / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
        svg = (out / f"{name}.svg").read_text(encoding="utf-8")
        assert "<cellgraph:spec" in svg and f'name="{name}"' in svg
        ET.fromstring(svg.encode("utf-8"))  # well-formed
        assert _has_legend(svg) and _has_caption(svg)  # the full drawing keeps both
        thumb = (out / "thumbs" / f"{name}.svg").read_text(encoding="utf-8")
        ET.fromstring(thumb.encode("utf-8"))
        assert not _has_legend(thumb) and not _has_caption(thumb), name  # the card's title says it once

    readme = (out / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| <a href=")]
    assert [re.search(r'href="([^"]+)\.svg"', r).group(1) for r in rows] == ["p", "ff", "hn"]
    assert '<img src="p.png" alt="Perceptron (P)"' in readme
    assert "| P | Rosenblatt (1958). *The perceptron" in readme
    assert "Hopfield (1982). *Neural networks and physical systems" in readme
    assert re.search(r"\[p\.yaml\]\([^)]*specs/zoo/p\.yaml\)", readme)

    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert re.findall(r'<img src="([^"]+)"', page) == [
        f"{where}{n}.svg" for n in ("p", "ff", "hn") for where in ("thumbs/", "")
    ]  # each card: its thumbnail, then the full drawing of its enlarged view
    assert re.findall(r'<a class="thumb" href="([^"]+)"', page) == ["#view/p", "#view/ff", "#view/hn"]
    assert re.findall(r'<section class="view" id="([^"]+)"', page) == ["view/p", "view/ff", "view/hn"]
    assert "http://" not in page and "https://" not in page and "fetch(" not in page
    assert re.findall(r"<script[^>]*>", page) == ["<script>"]  # one small inline script (Esc), no src
    assert "Long / Short" not in page and 'Feed Forward <span class="abbr">FF</span>' in page
    assert page.count("<h2") == 3 and page.count('Feed Forward <span class="abbr">') == 1  # one heading a card
    spec = (ZOO / "ff.yaml").read_text(encoding="utf-8")
    assert html.escape(spec.rstrip()) in page  # the spec beside its drawing, escaped
    assert "zoo-poster" not in page  # no poster in the folder: no link

    # deterministic: the same specs give the same bytes
    again = tmp_path / "again"
    build_gallery([ZOO / f"{name}.yaml" for name in SMALL], again)
    for path in out.rglob("*"):
        if path.is_file():
            assert (again / path.relative_to(out)).read_bytes() == path.read_bytes(), path.name


@pytest.mark.needs_dot
def test_gallery_links_the_poster_when_present(tmp_path: Path) -> None:
    out = tmp_path / "gallery"
    out.mkdir()
    (out / "zoo-poster.pdf").write_bytes(b"%PDF-1.4\n")
    (out / "zoo-poster.png").write_bytes(PNG_MAGIC)
    build_gallery([ZOO / "p.yaml"], out)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<a class="poster" href="([^"]+)"', page) == ["zoo-poster.pdf", "zoo-poster.png"]


@pytest.mark.needs_dot
def test_gallery_names_clashing_stems_by_folder(tmp_path: Path) -> None:
    other = tmp_path / "examples"
    other.mkdir()
    text = (ZOO / "p.yaml").read_text(encoding="utf-8").replace("title: Perceptron (P)", "title: A & <b> copy")
    (other / "p.yaml").write_text(text, encoding="utf-8")
    entries = build_gallery([other / "p.yaml", ZOO / "p.yaml"], tmp_path / "out")
    assert [e.name for e in entries] == ["p", "examples-p"]  # the chart's P first, the copy after
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "A &amp; &lt;b&gt; copy" in page and "<b>" not in page
    readme = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "A & \\<b\\> copy" in readme


def test_committed_gallery_lists_every_spec() -> None:
    """gallery/ holds a drawing per spec of specs/zoo and specs/examples, and its pages list them all."""
    names = [p.stem for p in sorted(ZOO.glob("*.yaml"))] + [p.stem for p in sorted(EXAMPLES.glob("*.yaml"))]
    for name in names:
        assert (GALLERY / f"{name}.svg").is_file(), f"gallery/{name}.svg missing: run `make gallery`"
        assert (GALLERY / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
    readme = (GALLERY / "README.md").read_text(encoding="utf-8")
    page = (GALLERY / "index.html").read_text(encoding="utf-8")
    listed = re.findall(r'<img src="thumbs/([^"]+)\.svg"', page)
    assert sorted(listed) == sorted(names)
    assert listed[: len(CHART_ORDER)] == [a.lower() for a in CHART_ORDER]
    assert re.findall(r'<img src="([^"/]+)\.svg"', page) == listed  # the enlarged views' full drawings
    for name in names:
        thumb = (GALLERY / "thumbs" / f"{name}.svg").read_text(encoding="utf-8")
        assert not _has_legend(thumb) and not _has_caption(thumb), f"gallery/thumbs/{name}.svg: run `make gallery`"
    assert re.findall(r'<a class="poster" href="([^"]+)"', page) == [
        "zoo-poster.pdf",
        "zoo-poster.svg",
        "zoo-poster.png",
    ]
    assert sorted(re.findall(r'<a href="([^"]+)\.svg"><img', readme)) == sorted(names)
    for name in ("zoo-poster.svg", "zoo-poster.png", "zoo-poster.pdf"):
        assert (GALLERY / name).is_file(), f"gallery/{name} missing: run `make gallery`"


def test_gallery_pages_escape_text() -> None:
    from cellgraph.render.gallery import Citation, GalleryEntry

    source = "name: x  # </pre><script>alert(1)</script> & <b>\n"
    entry = GalleryEntry(
        "x", "../specs/x.yaml", "A <b>bold</b> & | pipe", "X", (Citation("A & B", "2000", "T*", "V"),), source
    )
    page = gallery_html([entry], poster=["zoo-poster.pdf"])
    assert "<b>bold" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; | pipe" in page
    assert "alert" not in page.split('<pre class="spec"><code>', 1)[0]
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;</code></pre>" in page
    assert page.count("<script>") == 1 and '<a class="poster" href="zoo-poster.pdf">PDF</a>' in page
    readme = gallery_readme([entry])
    row = next(line for line in readme.splitlines() if line.startswith("| <a"))
    assert row.count(" | ") == 3  # the title's pipe is escaped: still four cells
    assert "\\<b\\>bold" in row and "*T\\**" in row


# ---------------------------------------------------------------------------------- index.html


def _chromium_or_skip() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return
    reason = (
        f"headless Chromium is not available ({', '.join(missing)} missing): run `bash scripts/setup.sh` as root "
        "(or `sudo apt-get install chromium chromium-driver`, then `.venv/bin/pip install -e '.[dev]'`)"
    )
    fail_or_skip(reason, "test the gallery page", IN_CI)


def _chromium(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def _file_of(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(unquote(urlsplit(url).path))


@pytest.mark.timeout(120)
def test_committed_index_html_loads_in_headless_chromium(tmp_path: Path) -> None:
    """Every thumbnail of gallery/index.html loads (naturalWidth > 0) and has no legend; a click opens
    the full drawing beside its spec text, Esc closes it; the poster links resolve; the console stays clean."""
    _chromium_or_skip()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    page = GALLERY / "index.html"
    assert page.is_file(), "gallery/index.html missing: run `make gallery`"
    driver = _chromium(tmp_path / "chromium-profile")
    try:
        driver.get(page.resolve().as_uri())  # returns after the load event: every eager image has settled
        state = driver.execute_script("return document.readyState")
        thumbs = driver.execute_script(
            "return Array.from(document.querySelectorAll('a.thumb img')).map(i => [i.src, i.complete, i.naturalWidth])"
        )
        titles = driver.execute_script(
            "return Array.from(document.querySelectorAll('article')).map(a => [a.querySelector('h2').innerText, "
            "a.innerText])"
        )
        hidden = driver.execute_script(
            "return Array.from(document.querySelectorAll('.view')).every(v => getComputedStyle(v).display === 'none')"
        )

        # click to enlarge: the full drawing (legend and caption) beside the spec's text
        driver.find_element(By.CSS_SELECTOR, 'a.thumb[href="#view/lstm"]').click()
        view = driver.find_element(By.ID, "view/lstm")
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script(
                "const i = arguments[0].querySelector('img'); return i.complete && i.naturalWidth > 0", view
            )
        )
        opened = (
            view.is_displayed(),
            driver.execute_script("return location.hash"),
            view.find_element(By.CSS_SELECTOR, ".drawing img").get_attribute("src"),
            view.find_element(By.CSS_SELECTOR, "pre.spec").get_attribute("textContent"),
            view.find_element(By.CSS_SELECTOR, "pre.spec").is_displayed(),
        )
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
        WebDriverWait(driver, 10).until(lambda d: not view.is_displayed())
        closed_hash = driver.execute_script("return location.hash")
        poster = driver.execute_script("return Array.from(document.querySelectorAll('a.poster')).map(a => a.href)")
        log = driver.get_log("browser")
        svg_poster = next(url for url in poster if url.endswith(".svg"))
        driver.get(svg_poster)
        poster_root = driver.execute_script("return document.documentElement.localName")
    finally:
        driver.quit()
    assert state == "complete"
    expected = len(list(ZOO.glob("*.yaml"))) + len(list(EXAMPLES.glob("*.yaml")))
    assert len(thumbs) == expected
    broken = [src for src, complete, width in thumbs if not complete or not width]
    assert not broken, f"images that did not load: {broken}"
    for src, _, _ in thumbs:  # thumbnails are drawn without legend and caption
        svg = _file_of(src).read_text(encoding="utf-8")
        assert not _has_legend(svg) and not _has_caption(svg), src
    for h2, text in titles:  # each title once: the drawing does not repeat it, the view is hidden
        title = h2.rsplit(" ", 1)[0]
        assert text.count(title) == 1, (title, text)
    assert hidden, "an enlarged view shows before any click"
    shown, opened_hash, src, spec_text, spec_shown = opened
    assert shown and spec_shown and opened_hash == "#view/lstm"
    assert _file_of(src) == (GALLERY / "lstm.svg").resolve()
    assert _has_legend(_file_of(src).read_text(encoding="utf-8"))
    assert spec_text == (ZOO / "lstm.yaml").read_text(encoding="utf-8").rstrip()
    assert closed_hash == "#lstm"  # Esc goes back to the card
    assert [_file_of(url).name for url in poster] == ["zoo-poster.pdf", "zoo-poster.svg", "zoo-poster.png"]
    assert all(_file_of(url).is_file() for url in poster), poster
    assert poster_root == "svg"  # the link opens in the browser
    errors = [entry for entry in log if entry.get("level") in ("SEVERE", "ERROR")]
    assert not errors, f"console errors: {errors}"


# ---------------------------------------------------------------------------------------- poster


@pytest.mark.needs_dot
def test_poster_svg_has_every_title_and_the_legend() -> None:
    poster = render_poster(sorted(ZOO.glob("*.yaml")))
    texts = _svg_texts(poster.svg)
    titles = _zoo_titles()
    assert len(titles) == 29
    for title in titles:
        assert texts.count(title) == 1, title
    labels = [c.label for c in sorted(CELLS.values(), key=lambda c: c.legend_order)]
    assert len(labels) == 14
    assert [t for t in texts if t in labels] == labels  # legend in the chart's order
    assert texts[:2] == list(HEADLINE)
    credit = " ".join(texts[2:4])
    assert "cellgraph specs" in credit and "F. van Veen & S. Leijnen" in credit and "2019" in credit
    assert "Asimov" not in poster.dot
    # the networks in the chart's order, one pinned drawing
    order = [m.group(1) for t in texts if t in titles and (m := re.search(r"\(([^()]+)\)$", t))]
    assert order == list(CHART_ORDER)
    nodes = [line for line in poster.dot.splitlines() if line.startswith('  "') and " -- " not in line]
    assert poster.engine == "neato" and all('pos="' in line for line in nodes)  # one pinned drawing
    assert render_poster(sorted(ZOO.glob("*.yaml"))).dot == poster.dot  # deterministic


@pytest.mark.needs_dot
@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_poster_formats_are_deterministic(tmp_path: Path, fmt: str) -> None:
    specs = [ZOO / f"{name}.yaml" for name in ("p", "lstm", "hn")]
    a = render_poster(specs).save(tmp_path / f"a.{fmt}").read_bytes()
    b = render_poster(specs).save(tmp_path / f"b.{fmt}").read_bytes()
    assert a == b
    assert a.startswith(PNG_MAGIC if fmt == "png" else b"%PDF")


# ------------------------------------------------------------------------------------------- CLI


@pytest.mark.needs_dot
def test_cli_gallery_and_poster(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli("gallery", ZOO / "p.yaml", ZOO / "rnn.yaml", "-o", tmp_path / "g")
    assert result.code == 0, result.text
    assert "wrote 2 drawings" in result.out
    assert (tmp_path / "g" / "rnn.png").is_file()
    result = run_cli("poster", ZOO / "p.yaml", ZOO / "rnn.yaml", "-o", tmp_path / "zoo.svg")
    assert result.code == 0, result.text
    assert "Recurrent Neural Network (RNN)" in _svg_texts((tmp_path / "zoo.svg").read_text(encoding="utf-8"))


def test_cli_gallery_and_poster_report_spec_errors(run_cli: CliRunner, bad_specs_dir: Path, tmp_path: Path) -> None:
    bad = bad_specs_dir / "bad_activation.yaml"
    for command, out in (("gallery", tmp_path / "g"), ("poster", tmp_path / "zoo.svg")):
        result = run_cli(command, ZOO / "p.yaml", bad, "-o", out)
        assert result.code == 1, result.text
        assert re.search(r"bad_activation\.yaml:\d+:\d+: cells\.h\.activation: ", result.err)
        assert "  fix: " in result.err
        assert not out.exists()  # nothing is drawn when a spec is broken


@pytest.mark.needs_dot
def test_gallery_and_poster_never_import_jax(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from cellgraph.cli import main\n"
        f"a = main(['gallery', '-q', {str(ZOO / 'lstm.yaml')!r}, '-o', {str(tmp_path / 'g')!r}])\n"
        f"b = main(['poster', '-q', {str(ZOO / 'lstm.yaml')!r}, '-o', {str(tmp_path / 'p.svg')!r}])\n"
        "print(a, b, sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'flax', 'optax')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "0 0 []"


def test_chromium_helper_is_strict_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Chromium, CI fails (never a silent skip); a developer machine skips with the fix."""
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(module, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must test the gallery page"):
        module._chromium_or_skip()
    monkeypatch.setattr(module, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="chromium-driver"):
        module._chromium_or_skip()
