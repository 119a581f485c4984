"""Output options of ``cellgraph.render`` and ``render`` / ``poster`` on the command line (issue 13).

Each option is held to two things: it changes what it should (PNG pixel size for ``dpi`` and
``size``, an alpha channel for ``transparent``, the font family in the SVG for ``font``, the
``<metadata>`` block for ``metadata``), and nothing else (the DOT text that the golden files pin
stays the same, and so does every other byte of the SVG). PNGs have even margins by default; the
poster's PNG is made at 300 dpi. Bad values are errors that name the option and how to write it.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from conftest import ZOO, CliRunner
from PIL import Image, ImageChops

from cellgraph.render import RenderError, render
from cellgraph.render.output import PNG_DPI, PNG_MARGIN, output_options, parse_size, read_metadata
from cellgraph.render.poster import POSTER_DPI, render_poster

needs_dot = pytest.mark.needs_dot
LSTM = ZOO / "lstm.yaml"
MARGIN_PX = round(PNG_MARGIN * PNG_DPI)  # 32


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def margins(image: Image.Image) -> tuple[int, int, int, int]:
    """Background rows and columns round the ink: (left, top, right, bottom), in pixels."""
    rgba = image.convert("RGBA")
    corner = rgba.getpixel((0, 0))
    diff = ImageChops.difference(rgba, Image.new("RGBA", rgba.size, corner))
    bands = diff.split()
    mask = bands[0]
    for band in bands[1:]:
        mask = ImageChops.lighter(mask, band)
    box = mask.point(lambda v: 255 if v > 8 else 0).getbbox()
    assert box is not None, "the PNG is blank"
    return box[0], box[1], rgba.width - box[2], rgba.height - box[3]


def ink_aspect(image: Image.Image) -> float:
    left, top, right, bottom = margins(image)
    return (image.width - left - right) / (image.height - top - bottom)


def without_metadata(svg: str) -> str:
    return re.sub(r"<metadata>.*?</metadata>\n", "", svg, flags=re.S)


# ------------------------------------------------------------------------------ nothing else changes


@pytest.mark.parametrize(
    "options",
    [
        {"dpi": 300},
        {"transparent": True},
        {"font": "DejaVu Serif"},
        {"size": "8x4.5"},
        {"metadata": "hash"},
        {"metadata": "none"},
    ],
)
@pytest.mark.parametrize("view", ["cells", "layers"])
def test_options_leave_the_dot_text_alone(options: dict[str, object], view: str) -> None:
    """The DOT that the golden files pin is the drawing; the options only touch the file made of it."""
    assert render(LSTM, view=view, **options).dot == render(LSTM, view=view).dot  # type: ignore[arg-type]


@needs_dot
def test_defaults_are_the_files_cellgraph_always_made() -> None:
    plain = render(LSTM)
    explicit = render(LSTM, dpi=PNG_DPI, transparent=False, font=None, size=None, metadata="full")
    assert explicit.svg == plain.svg
    assert explicit.to_bytes("png") == plain.to_bytes("png")
    assert 'font-family="Liberation Sans,Arial,Helvetica,sans-serif"' in plain.svg


@needs_dot
def test_dpi_changes_the_png_only() -> None:
    base = render(LSTM)
    assert render(LSTM, dpi=300).svg == base.svg  # vector formats have no pixels
    assert render(LSTM, dpi=300).to_bytes("pdf") == base.to_bytes("pdf")
    low, high = png(render(LSTM, dpi=96).to_bytes("png")), png(render(LSTM, dpi=288).to_bytes("png"))
    assert high.width / low.width == pytest.approx(3, rel=0.02)
    assert high.height / low.height == pytest.approx(3, rel=0.02)
    assert high.info["dpi"] == pytest.approx((288, 288), abs=0.05)  # a slide program sizes it in inches
    assert png(base.to_bytes("png")).info["dpi"] == pytest.approx((PNG_DPI, PNG_DPI), abs=0.05)


@needs_dot
@pytest.mark.parametrize("mode", ["full", "hash", "none"])
def test_metadata_modes(mode: str) -> None:
    source = LSTM.read_text(encoding="utf-8")
    full = render(LSTM).svg
    svg = render(LSTM, metadata=mode).svg
    assert without_metadata(svg) == without_metadata(full)  # the drawing is untouched
    meta = read_metadata(svg)
    if mode == "full":
        assert svg == full
        assert meta is not None and meta["source"] == source
    elif mode == "hash":
        assert meta == {"name": "lstm", "sha256": hashlib.sha256(source.encode("utf-8")).hexdigest()}
        first_comment = next(line for line in source.splitlines() if line.startswith("#"))
        assert first_comment[1:].strip() not in svg  # neither the spec's text nor its comments travel
        assert "cellgraph-version" not in svg
    else:
        assert meta is None
        assert "<metadata" not in svg and "cellgraph:spec" not in svg


@needs_dot
def test_font_names_the_family_in_the_svg() -> None:
    svg = render(LSTM, font="DejaVu Serif", legend=True).svg
    families = set(re.findall(r'font-family="([^"]*)"', svg))
    assert families == {"DejaVu Serif"}
    assert "Liberation" not in svg
    base = render(LSTM, legend=True)
    assert render(LSTM, font="DejaVu Serif", legend=True).to_bytes("png") != base.to_bytes("png")
    # the layers view's labels and the poster's bold headline follow too
    assert set(re.findall(r'font-family="([^"]*)"', render(LSTM, view="layers", font="DejaVu Sans").svg)) == {
        "DejaVu Sans"
    }
    poster = render_poster([ZOO / "p.yaml"], font="DejaVu Serif").svg
    assert 'font-family="DejaVu Serif" font-weight="bold"' in poster
    assert "Liberation" not in poster


@needs_dot
def test_saved_dot_carries_the_options(tmp_path: Path) -> None:
    drawing = render(LSTM, font="DejaVu Serif", transparent=True, size="4x3")
    text = drawing.save(tmp_path / "lstm.dot").read_text(encoding="utf-8")
    assert 'fontname="DejaVu Serif"' in text and "Liberation" not in text
    assert text.rstrip().endswith('graph [bgcolor="transparent", size="4,3!"]\n}')
    assert render(LSTM).save(tmp_path / "plain.dot").read_text(encoding="utf-8") == render(LSTM).dot


# ---------------------------------------------------------------------------------------- the PNG


@needs_dot
@pytest.mark.parametrize(
    "spec, options",
    [
        ("lstm", {}),
        ("ff", {}),
        ("hn", {}),
        ("dcign", {"view": "layers"}),
        ("lstm", {"theme": "dark"}),
        ("lstm", {"direction": "TB", "legend": True}),
    ],
)
def test_png_margins_are_even(spec: str, options: dict[str, object]) -> None:
    """Graphviz's box leaves 51 px above the title and 17 px below the cells; the PNG evens them."""
    image = png(render(ZOO / f"{spec}.yaml", **options).to_bytes("png"))  # type: ignore[arg-type]
    assert image.mode == "RGB"
    for side in margins(image):
        assert side == pytest.approx(MARGIN_PX, abs=1), margins(image)


@needs_dot
def test_transparent_png_has_an_alpha_channel() -> None:
    plain = png(render(LSTM).to_bytes("png"))
    clear = png(render(LSTM, transparent=True).to_bytes("png"))
    assert plain.mode == "RGB"
    assert clear.mode == "RGBA"
    assert clear.size == plain.size
    alpha = clear.getchannel("A")
    assert clear.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert alpha.getextrema() == (0, 255)
    # the ink is the same ink: composited on white it is the plain PNG
    white = Image.new("RGBA", clear.size, (255, 255, 255, 255))
    white.alpha_composite(clear)
    diff = ImageChops.difference(white.convert("RGB"), plain)
    assert max(hi for _, hi in diff.getextrema()) <= 2
    # dark theme: the page colour is gone, the light ink stays
    dark = png(render(LSTM, theme="dark", transparent=True).to_bytes("png"))
    assert dark.getpixel((0, 0))[3] == 0  # type: ignore[index]
    svg = render(LSTM, transparent=True).svg
    assert 'fill="#ffffff"' not in svg.lower().split('<g id="node', 1)[0]  # no page rectangle
    assert without_metadata(svg) != without_metadata(render(LSTM).svg)


@needs_dot
@pytest.mark.parametrize(
    "size, dpi, view",
    [("8x4.5", None, "cells"), ("4x4", 100, "cells"), ("2x1", 100, "layers"), ("3x6", 150, "cells")],
)
def test_size_fits_the_png_into_the_box(size: str, dpi: int | None, view: str) -> None:
    box = tuple(round(float(s) * (dpi or PNG_DPI)) for s in size.split("x"))
    plain = png(render(LSTM, view=view).to_bytes("png"))
    image = png(render(LSTM, view=view, size=size, dpi=dpi).to_bytes("png"))
    assert image.width <= box[0] and image.height <= box[1]
    assert image.width == box[0] or image.height == box[1], "the side that binds fills the box"
    left, top, right, bottom = margins(image)
    assert abs(left - right) <= 2 and abs(top - bottom) <= 2
    assert ink_aspect(image) == pytest.approx(ink_aspect(plain), rel=0.03)  # aspect kept


@needs_dot
def test_size_scales_svg_and_pdf() -> None:
    svg = render(LSTM, size="4x3").svg
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert m is not None
    width, height = float(m.group(1)), float(m.group(2))
    assert max(width / 288, height / 216) == pytest.approx(1, abs=0.01)  # 4x3 in = 288x216 pt
    pdf = render(LSTM, size="4x3").to_bytes("pdf")
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
    assert box is not None and max(float(box.group(1)) / 288, float(box.group(2)) / 216) == pytest.approx(1, abs=0.01)


@needs_dot
def test_png_with_options_is_deterministic() -> None:
    make = lambda: render(LSTM, size="5x3", transparent=True, font="DejaVu Sans").to_bytes("png")  # noqa: E731
    assert make() == make()


# ---------------------------------------------------------------------------------------- poster


def test_poster_png_is_300_dpi_by_default() -> None:
    assert POSTER_DPI == 300
    assert render_poster([ZOO / "p.yaml"]).options.dpi == 300
    assert render_poster([ZOO / "p.yaml"], dpi=96).options.dpi == 96


@needs_dot
def test_poster_png_pixels_follow_dpi() -> None:
    specs = [ZOO / "p.yaml", ZOO / "ff.yaml"]
    default = png(render_poster(specs).to_bytes("png"))
    low = png(render_poster(specs, dpi=100).to_bytes("png"))
    assert default.width / low.width == pytest.approx(3, rel=0.01)
    assert default.info["dpi"] == pytest.approx((300, 300), abs=0.05)
    boxed = png(render_poster(specs, size="4x4", dpi=100).to_bytes("png"))
    assert max(boxed.size) == 400
    assert render_poster(specs, transparent=True).to_bytes("png")[:8] == b"\x89PNG\r\n\x1a\n"
    meta = read_metadata(render_poster(specs, metadata="hash").svg)
    assert meta is not None and set(meta) == {"name", "sha256"}


# ---------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "options, words",
    [
        ({"dpi": 0}, ["dpi", "above 0", "--dpi 300"]),
        ({"dpi": -72}, ["dpi", "above 0"]),
        ({"dpi": True}, ["dpi"]),
        ({"dpi": float("nan")}, ["dpi"]),
        ({"metadata": "secret"}, ["metadata", "full, hash, none"]),
        ({"size": "8"}, ["size", "WIDTHxHEIGHT", "inches", "--size 8x4.5"]),
        ({"size": "0x4"}, ["size", "above 0"]),
        ({"size": (3,)}, ["size", "WIDTHxHEIGHT"]),
        ({"size": "1920x1080px"}, ["inches, not pixels", "--size 10x5.625"]),
        ({"font": 'Evil" onload="x'}, ["font", "font family name"]),
        ({"font": ""}, ["font"]),
    ],
)
def test_bad_values_name_the_option_and_the_fix(options: dict[str, object], words: list[str]) -> None:
    with pytest.raises(RenderError) as err:
        render(LSTM, **options)  # type: ignore[arg-type]
    for word in words:
        assert word in str(err.value)


def test_size_spellings() -> None:
    assert parse_size("8x4.5") == (8.0, 4.5)
    assert parse_size(" 13.33 X 7.5in ") == (13.33, 7.5)
    assert parse_size((4, 3)) == (4.0, 3.0)
    assert output_options(size="6x4").size == (6.0, 4.0)


@pytest.mark.parametrize(
    "args, option",
    [
        (["--dpi", "0"], "--dpi"),
        (["--dpi", "many"], "--dpi"),
        (["--metadata", "secret"], "--metadata"),
        (["--size", "8"], "--size"),
        (["--size", "1920x1080px"], "--size"),
        (["--font", "a;b"], "--font"),
    ],
)
@pytest.mark.parametrize("command", ["render", "poster"])
def test_cli_bad_values_are_usage_errors(
    run_cli: CliRunner, tmp_path: Path, command: str, args: list[str], option: str
) -> None:
    spec = [str(LSTM)] if command == "render" else [str(ZOO / "p.yaml")]
    result = run_cli(command, *spec, "-o", tmp_path / "out.png", *args)
    assert result.code == 2
    assert f"argument {option}" in result.err
    assert "Traceback" not in result.text
    assert not (tmp_path / "out.png").exists()


# ------------------------------------------------------------------------------------------- CLI


@needs_dot
def test_cli_render_options(run_cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "lstm.png"
    result = run_cli("render", LSTM, "-o", out, "--dpi", "96", "--size", "4x3", "--transparent", "-q")
    assert result.code == 0, result.text
    image = png(out.read_bytes())
    assert image.mode == "RGBA" and max(image.size) == 384 and image.height <= 288
    svg = tmp_path / "lstm.svg"
    assert run_cli("render", LSTM, "-o", svg, "--font", "DejaVu Serif", "--metadata", "hash", "-q").code == 0
    text = svg.read_text(encoding="utf-8")
    assert 'font-family="DejaVu Serif"' in text
    meta = read_metadata(text)
    assert meta is not None and set(meta) == {"name", "sha256"}
    assert run_cli("render", LSTM, "-o", svg, "--metadata", "none", "-q").code == 0
    assert "<metadata" not in svg.read_text(encoding="utf-8")


@needs_dot
def test_cli_poster_png_is_300_dpi(run_cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "zoo.png"
    assert run_cli("poster", ZOO / "p.yaml", ZOO / "ff.yaml", "-o", out, "-q").code == 0
    at_300 = png(out.read_bytes())
    assert at_300.info["dpi"] == pytest.approx((300, 300), abs=0.05)
    assert run_cli("poster", ZOO / "p.yaml", ZOO / "ff.yaml", "-o", out, "-q", "--dpi", "100").code == 0
    assert at_300.width / png(out.read_bytes()).width == pytest.approx(3, rel=0.01)
