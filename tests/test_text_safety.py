"""Text from a spec cannot inject into a terminal, Markdown, DOT or SVG; optimizer arguments are
checked at validation (issue 10, items 5 and 9).

Two layers, each tested on its own: validation refuses names and titles that are not bounded,
printable text (located, exit 1, under 1 s); and every writer escapes for its medium anyway, which
the tests show on graphs built in Python past validation. Optimizer arguments are typed and
range-checked statically (no optax at validation), and a test keeps that table equal to optax's
signatures, so `validate` saying ok means `train` builds the optimizer.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import re
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from conftest import GOOD_SPECS, CliRunner

from cellgraph.errors import Problem, SourceLoc, SpecError, terminal_safe
from cellgraph.graph import load_graph
from cellgraph.graph.rules import (
    OPTIMIZER_ARGS,
    OPTIMIZER_NULLABLE,
    OPTIMIZERS,
    SCHEDULE_ARGS,
    SCHEDULE_REQUIRED,
    SCHEDULES,
    optimizer_arg_kind,
    optimizer_problems,
)
from cellgraph.options import Bool, Choice, FloatRange, IntRange, OptionKind
from cellgraph.render import render
from cellgraph.render.dot import DOT_TEXT_MAX, caption_text, quote
from cellgraph.render.output import embed_metadata, read_metadata
from cellgraph.spec.validate import DESCRIPTION_MAX, NAME_MAX, TITLE_MAX

ESC = "\x1b"
MARKDOWN_ATTACK = "Tiny\r# Heading\n![x](http://evil/x.png)"
HOSTILE_TITLES = {
    "escape": "Tiny\x1b[31m red\x1b[0m",
    "markdown": MARKDOWN_ATTACK,
    "nul": "nul\x00byte",
    "bell-del-c1": "a\x07b\x7fc\x9bd",
    "bidi": "bidi \u202e txet",
    "line-separator": "line\u2028sep\u2029end",
    "quotes-backslash": 'say "hi" \\N \\G \\l',
    "entity": "x &#27; &#0; &amp; <b>bold</b> y",
}
FAST = 1.0  # seconds a refusal may take


# ------------------------------------------------------------------------------------ helpers


def _spec_text(*, name: str = "tiny", title: str | None = None, extra: str = "", cells: str = "") -> str:
    lines = ["cellgraph: 1", f"name: {json.dumps(name)}"]
    if title is not None:
        lines.append(f"title: {json.dumps(title)}")  # a JSON string is a YAML double-quoted scalar
    lines += [
        "cells:",
        "  x: {type: input, size: 2}",
        cells or "  y: {type: output, size: 1, activation: sigmoid}",
        "edges:",
        "  - x -> y",
    ]
    return "\n".join(lines) + "\n" + extra


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(run_cli: CliRunner, path: Path, head: str, fix: str = "") -> str:
    """Run `cellgraph validate`: exit 1, the located ``head`` line, a fix line, fast, no raw control bytes."""
    start = time.perf_counter()
    result = run_cli("validate", path)
    elapsed = time.perf_counter() - start
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert result.out == ""
    lines = result.err.splitlines()
    hits = [i for i, line in enumerate(lines) if head in line]
    assert hits, f"expected {head!r} in:\n{result.err}"
    assert lines[hits[0]].startswith(str(path)), lines[hits[0]]
    assert lines[hits[0] + 1].startswith("  fix: ") and fix in lines[hits[0] + 1], lines[hits[0] + 1]
    assert not any(c in result.err for c in (ESC, "\r", "\x00", "\u202e", "\u2028")), repr(result.err)
    assert elapsed < FAST, f"{elapsed:.2f} s"
    return result.err


def _hostile_graph(title: str, *, source: str | None = None) -> nx.DiGraph:
    """The tiny spec's graph with ``title`` (and caption) set in Python, past validation."""
    graph = load_graph(GOOD_SPECS / "tiny.yaml")
    spec = graph.graph["spec"]
    graph.graph["spec"] = dataclasses.replace(
        spec, title=title, description=title, source=spec.source if source is None else source
    )
    graph.graph["draw"] = dataclasses.replace(graph.graph["draw"], caption=title)
    return graph


def _parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))  # raises ParseError unless well-formed XML 1.0


# --------------------------------------------------------------------- validation of text


@pytest.mark.parametrize(
    ("title", "where"),
    [
        (HOSTILE_TITLES["escape"], "character 5 is the control character \\x1b"),
        (MARKDOWN_ATTACK, "character 5 is a line break \\r"),
        (HOSTILE_TITLES["nul"], "character 4 is the control character \\x00"),
        (HOSTILE_TITLES["bell-del-c1"], "character 2 is the control character \\x07"),
        (HOSTILE_TITLES["bidi"], "character 6 is the bidirectional control \\u202e"),
        (HOSTILE_TITLES["line-separator"], "character 5 is a line break \\u2028"),
        ("two\nlines", "character 4 is a line break \\n"),
        ("tab\there", "character 4 is the control character \\t"),
        ("x" * (TITLE_MAX + 1), f"{TITLE_MAX + 1} characters, over the limit of {TITLE_MAX}"),
        ("x" * 20_000, f"20,000 characters, over the limit of {TITLE_MAX}"),
    ],
    ids=["escape", "markdown", "nul", "bell", "bidi", "line-separator", "newline", "tab", "201", "20k"],
)
def test_a_title_that_is_not_one_printable_line_is_refused(
    run_cli: CliRunner, tmp_path: Path, title: str, where: str
) -> None:
    path = _write(tmp_path, _spec_text(title=title))
    _refused(run_cli, path, f"spec.yaml:3:8: title: {where}", "one line of at most 200 printable characters")


def test_a_description_may_hold_lines_and_tabs_but_no_control_characters(run_cli: CliRunner, tmp_path: Path) -> None:
    fine = json.dumps("Two lines,\n\tand a tab: fine. Natschläger ×")
    ok = _write(tmp_path, _spec_text(extra=f"description: {fine}\n"))
    assert run_cli("validate", ok).code == 0
    hostile = json.dumps("ok\nthen \x1b[2J")
    bad = _write(tmp_path, _spec_text(extra=f"description: {hostile}\n"), "bad.yaml")
    _refused(run_cli, bad, "bad.yaml:8:14: description: character 9 is the control character \\x1b", "4,000")
    long = _write(tmp_path, _spec_text(extra=f"description: {'x' * (DESCRIPTION_MAX + 1)}\n"), "long.yaml")
    _refused(run_cli, long, "long.yaml:8:14: description: 4,001 characters, over the limit of 4,000", "4,000")


def test_a_title_built_from_a_param_is_checked_after_substitution(run_cli: CliRunner, tmp_path: Path) -> None:
    text = _spec_text(title="T ${t}").replace("cells:", 'params: {t: "red\\e[31m"}\ncells:', 1)
    path = _write(tmp_path, text)
    _refused(run_cli, path, "spec.yaml:3:8: title: character 6 is the control character \\x1b", "one line")
    result = run_cli("validate", path, "-p", "t=fine")
    assert result.code == 0, result.text


def test_printable_unicode_titles_are_accepted(run_cli: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, _spec_text(title="Echo State Network (ESN) — Jäger, 2001 × 3 ✓"))
    result = run_cli("summary", path)
    assert result.code == 0, result.text
    assert "Echo State Network (ESN) — Jäger, 2001 × 3 ✓" in result.out


@pytest.mark.parametrize(
    ("name", "cells", "head"),
    [
        ("tiny\n", "", "spec.yaml:2:7: name: the string 'tiny\\n' is not a valid network name"),
        ("a" * (NAME_MAX + 1), "", f"spec.yaml:2:7: name: the name has 65 characters, over the limit of {NAME_MAX}"),
        ("tiny", '  "y\\n": {type: output, size: 1}', "spec.yaml:5:3: cells.y\\n: 'y\\n' is not a valid group name"),
        (
            "tiny",
            f"  {'y' * 70}: {{type: output, size: 1}}",
            f"spec.yaml:5:3: cells.{'y' * 59}…: the group name has 70 characters, over the limit of {NAME_MAX}",
        ),
    ],
    ids=["name-newline", "name-long", "group-newline", "group-long"],
)
def test_names_are_matched_to_their_end_and_bounded(
    run_cli: CliRunner, tmp_path: Path, name: str, cells: str, head: str
) -> None:
    path = _write(tmp_path, _spec_text(name=name, cells=cells))
    _refused(run_cli, path, head)


@pytest.mark.parametrize(
    ("draw", "head"),
    [
        ('{caption: "a\\u202eb"}', "draw.caption: character 2 is the bidirectional control \\u202e"),
        ('{caption: "a\\rb"}', "draw.caption: character 2 is a line break \\r"),
        ('{groups: {y: {label: "\\e[31m"}}}', "draw.groups.y.label: character 1 is the control character \\x1b"),
    ],
    ids=["caption-bidi", "caption-cr", "label-escape"],
)
def test_drawn_text_in_the_draw_block_is_checked_too(run_cli: CliRunner, tmp_path: Path, draw: str, head: str) -> None:
    path = _write(tmp_path, _spec_text(extra=f"draw: {draw}\n"))
    _refused(run_cli, path, head, "one line of text")


# ------------------------------------------------------------------------------ terminals


def test_a_problem_prints_as_two_lines_without_control_characters() -> None:
    problem = Problem(SourceLoc("a\x1b[2J.yaml", 3, 8), "cells.h\r", "bad 'x\x1b]0;pwned\x07'\nline", "fix\u202e it")
    text = SpecError([problem]).format()
    assert len(text.splitlines()) == 2
    assert text == "a\\x1b[2J.yaml:3:8: cells.h\\r: bad 'x\\x1b]0;pwned\\x07'\\nline\n  fix: fix\\u202e it"
    assert terminal_safe("Natschläger × 3") == "Natschläger × 3"


def test_file_names_with_escapes_print_escaped_in_validate_and_summary(run_cli: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, _spec_text(title="Tiny"), "t\x1b[31mred.yaml")
    for command in ("validate", "summary"):
        result = run_cli(command, path)
        assert result.code == 0, result.text
        assert ESC not in result.text
        assert "t\\x1b[31mred.yaml" in result.out


def test_a_message_from_main_is_escaped(run_cli: CliRunner, tmp_path: Path) -> None:
    """`cellgraph: ...` messages (here a RenderError quoting the output name) go through terminal_safe."""
    result = run_cli("render", GOOD_SPECS / "tiny.yaml", "-o", str(tmp_path / "out\x1b[2J.xyz"))
    assert result.code == 1
    assert ESC not in result.text
    assert "out\\x1b[2J.xyz" in result.err


# -------------------------------------------------------------------- DOT, SVG, Markdown


@pytest.mark.parametrize("title", list(HOSTILE_TITLES.values()), ids=list(HOSTILE_TITLES))
def test_dot_strings_hold_no_raw_control_character_or_entity(title: str) -> None:
    text = quote(title)
    assert text.startswith('"') and text.endswith('"')
    body = text[1:-1]
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u202e\u2028\u2029" for c in body)
    assert "&#" not in body.replace("&amp;#", "")  # Graphviz decodes entities: none survives as one
    assert '"' not in body.replace('\\"', "")


@pytest.mark.needs_dot
@pytest.mark.parametrize("view", ["cells", "layers"])
@pytest.mark.parametrize("title", list(HOSTILE_TITLES.values()), ids=list(HOSTILE_TITLES))
def test_a_hostile_title_built_in_python_renders_to_well_formed_svg(title: str, view: str) -> None:
    drawing = render(_hostile_graph(title), view=view)  # `dot` (layers) or `neato` (cells) must accept it
    svg = drawing.svg
    root = _parse_svg(svg)
    assert not any(c in svg for c in (ESC, "\x00", "\x07", "\x9b", "\u202e"))
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    if view == "cells":
        assert caption_text(terminal_safe(title).replace("\\r", " ").replace("\\n", " "))[:4] in texts


@pytest.mark.needs_dot
def test_a_20_kb_title_from_python_renders_capped() -> None:
    title = "Very long title " * 1300  # 20,800 characters: Graphviz refuses quoted strings over 16 KB
    drawing = render(_hostile_graph(title))
    assert len(caption_text(title)) == TITLE_MAX
    assert caption_text(title) in drawing.dot.replace("\\", "")
    root = _parse_svg(drawing.svg)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(t.endswith("…") and len(t) <= TITLE_MAX for t in texts)


@pytest.mark.needs_dot
def test_an_over_long_dot_id_is_cut_to_a_distinct_string_dot_accepts() -> None:
    import graphviz

    a, b = "a" * 20_000 + "1", "a" * 20_000 + "2"
    assert quote(a) != quote(b)
    assert len(quote(a).encode()) < 16_384 and len(quote(a)) <= DOT_TEXT_MAX + 2
    dot = f"digraph g {{ {quote(a)} -> {quote(b)} [label={quote('x' * 30_000)}] }}"
    assert graphviz.pipe("dot", "svg", dot.encode("utf-8"), quiet=True).startswith(b"<?xml")


@pytest.mark.needs_dot
def test_an_entity_in_a_validated_title_cannot_put_a_control_character_into_the_svg(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    """`&#27;` is printable text, so validation accepts it; Graphviz would decode it to a raw ESC."""
    path = _write(tmp_path, _spec_text(title="x &#27; y &#0; z"))
    out = tmp_path / "out.svg"
    result = run_cli("render", path, "-o", out)
    assert result.code == 0, result.text
    svg = out.read_text(encoding="utf-8")
    _parse_svg(svg)
    assert "x &amp;#27; y &amp;#0; z" in svg


def test_svg_metadata_keeps_carriage_returns_and_stays_well_formed() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg">\n</svg>\n'
    source = "cellgraph: 1\r\nname: tiny\r\ntitle: bad\x1b\x00\n"
    out = embed_metadata(svg, source, "ab12", "ti\rny\n\t", "1.0")
    root = _parse_svg(out.decode("utf-8"))
    spec = next(root.iter("{https://cellgraph.invalid/ns/spec}spec"))
    assert spec.text == "cellgraph: 1\r\nname: tiny\r\ntitle: bad\ufffd\ufffd\n"  # a raw \r would read as \n
    assert spec.get("name") == "ti\rny\n\t"  # not normalised to spaces
    meta = read_metadata(out)
    assert meta is not None and meta["source"] == spec.text and meta["name"] == "ti\rny\n\t"


@pytest.mark.needs_dot
def test_the_gallery_readme_gets_no_injected_heading_image_or_html(tmp_path: Path) -> None:
    from cellgraph.render.gallery import build_gallery

    graph = _hostile_graph(MARKDOWN_ATTACK + " <img src=x onerror=alert(1)>\u2028# Two\x1b[31m")
    build_gallery([graph], tmp_path)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()  # as a Markdown reader splits them: on \r, U+2028 and the like too
    assert [line for line in lines if line.startswith("#")] == ["# Gallery"]
    assert [line for line in lines if line.startswith("| <a href")] == [lines[-1]]  # one row, the last line
    assert not [line for line in lines if line.lstrip().startswith(("![", "<img", "<script"))]
    markdown = re.sub(r'alt="[^"<>]*"', 'alt=""', readme)  # an attribute's text is not Markdown
    assert "![" not in markdown and "\\!\\[x\\](http://evil/x.png)" in markdown  # shown as text, never an image
    assert not re.search(r"(?<!\\)<img src=x", readme)  # `\<` shows a "<": no raw HTML tag
    assert ESC not in readme and "\r" not in readme
    _parse_svg((tmp_path / "tiny.svg").read_text(encoding="utf-8"))
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x" in html


# -------------------------------------------------------------------- optimizer arguments


def test_the_static_optimizer_table_matches_optax() -> None:
    """Validation does not import optax: its table must name exactly optax's arguments."""
    import optax

    assert set(OPTIMIZER_ARGS) == set(OPTIMIZERS)
    for name, args in OPTIMIZER_ARGS.items():
        params = inspect.signature(getattr(optax, name)).parameters
        assert args == tuple(params), name
        nullable = {a for a, p in params.items() if p.default is None and optimizer_arg_kind(name, a)}
        assert nullable == {a for n, a in OPTIMIZER_NULLABLE if n == name}, name
    assert set(SCHEDULE_ARGS) == set(SCHEDULES) == set(SCHEDULE_REQUIRED)
    for kind, args in SCHEDULE_ARGS.items():
        fn = getattr(optax, f"{kind}_schedule", None) or getattr(optax, kind)
        params = inspect.signature(fn).parameters
        assert tuple(args) == tuple(params), kind
        assert SCHEDULE_REQUIRED[kind] == tuple(a for a, p in params.items() if p.default is inspect.Parameter.empty)


def _sample(kind: OptionKind) -> Any:
    """A value inside ``kind``'s range."""
    if isinstance(kind, Bool):
        return True
    if isinstance(kind, Choice):
        return kind.values[-1]
    if isinstance(kind, IntRange):
        return kind.lo + 1
    assert isinstance(kind, FloatRange)
    lo = kind.lo if math.isfinite(kind.lo) else 0.0
    return (lo + kind.hi) / 2 if math.isfinite(kind.hi) else lo + 0.5


@pytest.mark.parametrize("name", sorted(OPTIMIZER_ARGS))
def test_every_argument_validation_accepts_builds_the_optimizer(name: str) -> None:
    """`validate` ok => `train` builds it: each settable argument, set to a value in range."""
    from cellgraph.train import make_optimizer

    for arg in OPTIMIZER_ARGS[name]:
        kind = optimizer_arg_kind(name, arg)
        if kind is None:
            continue
        opt = {"name": name, arg: _sample(kind)}
        assert list(optimizer_problems(opt)) == [], opt
        with warnings.catch_warnings():  # noisy_sgd warns about its PRNG key and `seed`
            warnings.simplefilter("ignore")
            make_optimizer({"optimizer": opt})


BAD_OPTIMIZERS: list[tuple[str, str, str]] = [
    # (the optimizer's flow mapping, the located problem, a piece of its fix)
    ("{name: adam, learning_rate: fast}", "train.optimizer.learning_rate: expected a number, got 'fast'", "0.001"),
    ("{name: adam, learning_rate: '1e-3'}", "train.optimizer.learning_rate: '1e-3' is text, not a number", "1e-3"),
    ("{name: sgd, learning_rate: " + "9" * 400 + "}", "train.optimizer.learning_rate: expected a finite number", ""),
    ("{name: sgd, learning_rate: -0.1}", "train.optimizer.learning_rate: expected a number in (0, inf), got -0.1", ""),
    ("{name: sgd, learning_rate: 0}", "train.optimizer.learning_rate: expected a number in (0, inf), got 0", ""),
    ("{name: sgd, learning_rate: .nan}", "train.optimizer.learning_rate: expected a finite number", ""),
    ("{name: sgd, learning_rate: .inf}", "train.optimizer.learning_rate: expected a finite number", ""),
    ("{name: sgd, learning_rate: true}", "train.optimizer.learning_rate: expected a number, got true", ""),
    ("{name: adam, b1: 1.0}", "train.optimizer.b1: expected a number in [0, 1), got 1.0", "b1: 0.9"),
    ("{name: adam, b2: -0.5}", "train.optimizer.b2: expected a number in [0, 1), got -0.5", ""),
    ("{name: sgd, learning_rate: 0.1, momentum: 1.5}", "train.optimizer.momentum: expected a number in [0, 1)", ""),
    ("{name: adam, eps: 0}", "train.optimizer.eps: expected a number in (0, inf), got 0", "1.0e-8"),
    ("{name: adamw, weight_decay: -1}", "train.optimizer.weight_decay: expected a number in [0, inf), got -1", ""),
    ("{name: adam, nesterov: 'yes'}", "train.optimizer.nesterov: expected true or false, got 'yes'", ""),
    ("{name: adam, lr: 0.1}", "train.optimizer.lr: optax.adam has no argument 'lr'; did you mean 'learning_rate'?", ""),
    ("{name: adam, beta1: 0.9}", "train.optimizer.beta1: optax.adam has no argument 'beta1'; did you mean 'b1'?", ""),
    ("{name: adam, mu_dtype: bfloat16}", "train.optimizer.mu_dtype: optax.adam's argument 'mu_dtype' takes", "remove"),
    ("{name: polyak_sgd, variant: fast}", "train.optimizer.variant: expected one of sps, sps+; got 'fast'", ""),
    ("{name: adam, b1: [0.9]}", "train.optimizer.b1: expected a number, got a list", ""),
    (
        "{name: sgd, learning_rate: {schedule: cosine, init_value: 0.1}}",
        "train.optimizer.learning_rate.schedule: unknown optax schedule 'cosine'; did you mean 'cosine_decay'?",
        "schedules:",
    ),
    (
        "{name: sgd, learning_rate: {schedule: cosine_decay, init_value: 0.1}}",
        "train.optimizer.learning_rate: schedule 'cosine_decay' needs `decay_steps:`",
        "add `decay_steps:`",
    ),
    (
        "{name: sgd, learning_rate: {schedule: cosine_decay, init_value: -1, decay_steps: 10}}",
        "train.optimizer.learning_rate.init_value: expected a number in [0, inf), got -1",
        "",
    ),
    (
        "{name: sgd, learning_rate: {schedule: cosine_decay, init_value: 0.1, decay_steps: 1.5}}",
        "train.optimizer.learning_rate.decay_steps: expected an integer, got 1.5",
        "",
    ),
    (
        "{name: sgd, learning_rate: {schedule: linear, init_value: 0.1, end_value: 0, transition_steps: 9, x: 1}}",
        "train.optimizer.learning_rate.x: schedule 'linear' has no argument 'x'",
        "arguments of optax.linear",
    ),
    (
        "{name: sgd, learning_rate: {schedule: piecewise_constant, init_value: 0.1, boundaries_and_scales: {ten: 0.1}}}",
        "train.optimizer.learning_rate.boundaries_and_scales: a boundary is a step number, got 'ten'",
        "boundaries_and_scales: {1000: 0.1",
    ),
    ("{name: sgd, momentum: {schedule: constant, value: 0.9}}", "train.optimizer.momentum: expected a number", ""),
]
BAD_IDS = [f"{k}-{m.split(':')[0].split('.')[-1]}" for k, (_, m, _) in enumerate(BAD_OPTIMIZERS)]


@pytest.mark.parametrize(("optimizer", "head", "fix"), BAD_OPTIMIZERS, ids=BAD_IDS)
def test_a_bad_optimizer_argument_is_refused_at_validation(
    run_cli: CliRunner, tmp_path: Path, optimizer: str, head: str, fix: str
) -> None:
    extra = f"train:\n  loss: bce\n  optimizer: {optimizer}\ndata:\n  source: xor\n"
    path = _write(tmp_path, _spec_text(extra=extra))
    err = _refused(run_cli, path, f"spec.yaml:12:14: {head}" if head.startswith("train.optimizer:") else head, fix)
    assert len([line for line in err.splitlines() if not line.startswith(" ")]) == 1, err


@pytest.mark.parametrize(("optimizer", "head", "fix"), BAD_OPTIMIZERS, ids=BAD_IDS)
def test_the_training_side_refuses_the_same_arguments_with_a_spec_error(
    tmp_path: Path, optimizer: str, head: str, fix: str
) -> None:
    """A graph built in Python skips validation: `make_optimizer` raises the same SpecError, never a
    TypeError or OverflowError from inside optax."""
    import yaml

    from cellgraph.train import make_optimizer

    with pytest.raises(SpecError) as info:
        make_optimizer({"optimizer": yaml.safe_load(optimizer)})
    assert head.split(": ", 1)[0] in info.value.format()


@pytest.mark.parametrize(
    ("grad_clip", "head"),
    [
        ("0", "train.grad_clip: expected a number in (0, inf), got 0"),
        (".inf", "train.grad_clip: expected a finite number in (0, inf), got inf"),
        ("1" + "0" * 400, "train.grad_clip: expected a finite number in (0, inf), got inf"),
    ],
    ids=["zero", "inf", "400-digits"],
)
def test_grad_clip_must_be_finite_and_positive(run_cli: CliRunner, tmp_path: Path, grad_clip: str, head: str) -> None:
    extra = f"train:\n  loss: bce\n  grad_clip: {grad_clip}\ndata:\n  source: xor\n"
    _refused(run_cli, _write(tmp_path, _spec_text(extra=extra)), f"spec.yaml:10:14: {head}", "grad_clip")


def test_a_valid_optimizer_block_still_trains(tmp_path: Path) -> None:
    from cellgraph.train import train

    extra = (
        "train:\n  loss: bce\n  grad_clip: 1.0\n  batch_size: 4\n"
        "  optimizer:\n    name: sgd\n    momentum: 0.9\n    nesterov: true\n"
        "    learning_rate: {schedule: warmup_cosine_decay, init_value: 0.0, peak_value: 0.5, warmup_steps: 2,"
        " decay_steps: 8}\n"
        "data:\n  source: xor\n"
    )
    graph = load_graph(_write(tmp_path, _spec_text(extra=extra)))
    result = train(graph, steps=4, progress=False, checkpoint_dir=tmp_path / "run")
    assert result.steps == 4
    assert math.isfinite(result.metrics["loss"])


def test_a_piecewise_schedule_with_step_keys_trains(tmp_path: Path) -> None:
    from cellgraph.train import train

    extra = (
        "train:\n  loss: bce\n  batch_size: 4\n  optimizer:\n    name: adam\n"
        "    learning_rate: {schedule: piecewise_constant, init_value: 0.01, boundaries_and_scales: {2: 0.5}}\n"
        "data:\n  source: xor\n"
    )
    graph = load_graph(_write(tmp_path, _spec_text(extra=extra)))
    result = train(graph, steps=3, progress=False, checkpoint_dir=tmp_path / "run")
    assert result.steps == 3 and math.isfinite(result.metrics["loss"])


# ------------------------------------------------------------------------ adversarial names


@pytest.mark.parametrize("value", ["[gen]", "{gen: 1}", "3"], ids=["list", "mapping", "number"])
def test_an_adversarial_generator_that_is_not_a_name_is_refused(run_cli: CliRunner, tmp_path: Path, value: str) -> None:
    extra = f"train:\n  rule: adversarial\n  generator: {value}\n  discriminator: dis\n"
    path = _write(tmp_path, _spec_text(extra=extra))
    _refused(run_cli, path, "spec.yaml:10:14: train.generator: expected a group name, got", "generator's `use:` group")


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "adam", "learning_rate": 100_000_000_000},
        {
            "name": "sgd",
            "learning_rate": {"schedule": "cosine_decay", "init_value": 100_000_000_000, "decay_steps": 10},
        },
    ],
    ids=["rate", "schedule"],
)
def test_a_large_integer_rate_reaches_optax_as_a_float(optimizer: dict[str, Any]) -> None:
    """Found by scripts/fuzz_specs.py --train-check: `validate` accepted the integer, then JAX's
    int32 conversion overflowed inside the first step."""
    import jax.numpy as jnp

    from cellgraph.train.optim import make_optimizer

    tx = make_optimizer({"optimizer": optimizer})
    params = {"w": jnp.ones(3)}
    updates, _ = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
    assert bool(jnp.all(jnp.isfinite(updates["w"])))
