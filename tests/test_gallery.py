"""The gallery (NAME.svg/.png, README.md, index.html) and the poster (the whole zoo on one sheet).

Drawing needs Graphviz (``needs_dot``); the page test needs headless Chromium and chromedriver
from the system packages (``apt-get install chromium chromium-driver``, done by
scripts/setup.sh when it runs as root) and the ``selenium`` package (a dev dependency). Both
fail loudly under ``CI=true`` when missing and skip elsewhere.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

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
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "index.html", *(f"{n}.{ext}" for n in SMALL for ext in ("svg", "png"))]
    )
    for name in SMALL:
        assert (out / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
        svg = (out / f"{name}.svg").read_text(encoding="utf-8")
        assert "<cellgraph:spec" in svg and f'name="{name}"' in svg
        ET.fromstring(svg.encode("utf-8"))  # well-formed

    readme = (out / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| <a href=")]
    assert [re.search(r'href="([^"]+)\.svg"', r).group(1) for r in rows] == ["p", "ff", "hn"]
    assert '<img src="p.png" alt="Perceptron (P)"' in readme
    assert "| P | Rosenblatt (1958). *The perceptron" in readme
    assert "Hopfield (1982). *Neural networks and physical systems" in readme
    assert re.search(r"\[p\.yaml\]\([^)]*specs/zoo/p\.yaml\)", readme)

    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert re.findall(r'<img src="([^"]+)"', page) == ["p.svg", "ff.svg", "hn.svg"]
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "Long / Short" not in page and 'Feed Forward <span class="abbr">FF</span>' in page

    # deterministic: the same specs give the same bytes
    again = tmp_path / "again"
    build_gallery([ZOO / f"{name}.yaml" for name in SMALL], again)
    for path in out.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


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
    listed = re.findall(r'<img src="([^"]+)\.svg"', page)
    assert sorted(listed) == sorted(names)
    assert listed[: len(CHART_ORDER)] == [a.lower() for a in CHART_ORDER]
    assert sorted(re.findall(r'<a href="([^"]+)\.svg"><img', readme)) == sorted(names)
    for name in ("zoo-poster.svg", "zoo-poster.png", "zoo-poster.pdf"):
        assert (GALLERY / name).is_file(), f"gallery/{name} missing: run `make gallery`"


def test_gallery_pages_escape_text() -> None:
    from cellgraph.render.gallery import Citation, GalleryEntry

    entry = GalleryEntry("x", "../specs/x.yaml", "A <b>bold</b> & | pipe", "X", (Citation("A & B", "2000", "T*", "V"),))
    page = gallery_html([entry])
    assert "<b>bold" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; | pipe" in page
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


@pytest.mark.timeout(120)
def test_committed_index_html_loads_in_headless_chromium(tmp_path: Path) -> None:
    """Every <img> of gallery/index.html loads (naturalWidth > 0) and the console stays clean."""
    _chromium_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    page = GALLERY / "index.html"
    assert page.is_file(), "gallery/index.html missing: run `make gallery`"
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
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(page.resolve().as_uri())  # returns after the load event: every image has settled
        state = driver.execute_script("return document.readyState")
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
        )
        log = driver.get_log("browser")
    finally:
        driver.quit()
    assert state == "complete"
    expected = len(list(ZOO.glob("*.yaml"))) + len(list(EXAMPLES.glob("*.yaml")))
    assert len(images) == expected
    broken = [src for src, complete, width in images if not complete or not width]
    assert not broken, f"images that did not load: {broken}"
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
