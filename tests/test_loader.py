"""The spec layer's building blocks: the located YAML loader, params and edge statements."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import GOOD_SPECS

import cellgraph
from cellgraph import LimitError, Limits, SourceLoc, SpecError
from cellgraph.errors import Problems
from cellgraph.spec.edges import StatementError, parse_statement
from cellgraph.spec.load import decode_text, format_path, load_document, load_file, read_text, resolve_plain
from cellgraph.spec.params import collect_params, evaluate, parse_override, substitute

# ------------------------------------------------------------------------------------ locations

NESTED = """\
cellgraph: 1
name: net
cells:
  x: {type: input, size: 2}
  h:
    type: hidden
    size: 3
edges:
  - x -> h
  - {from: h, to: x}
"""


def test_locations_of_nested_keys_and_values() -> None:
    doc = load_document(NESTED, "net.yaml")
    assert doc.loc(("cells", "h", "size")) == SourceLoc("net.yaml", 7, 11)
    assert doc.key_loc(("cells", "h", "size")) == SourceLoc("net.yaml", 7, 5)
    assert doc.loc(("cells", "x", "size")) == SourceLoc("net.yaml", 4, 26)
    assert doc.key_loc(("cells", "x")) == SourceLoc("net.yaml", 4, 3)
    assert doc.loc(("cells", "x")) == SourceLoc("net.yaml", 4, 6)  # the flow mapping starts at '{'


def test_locations_of_list_items() -> None:
    doc = load_document(NESTED, "net.yaml")
    assert doc.loc(("edges", 0)) == SourceLoc("net.yaml", 9, 5)
    assert doc.loc(("edges", 1)) == SourceLoc("net.yaml", 10, 5)
    assert doc.loc(("edges", 1, "to")) == SourceLoc("net.yaml", 10, 19)


def test_missing_path_falls_back_to_nearest_located_ancestor() -> None:
    doc = load_document(NESTED, "net.yaml")
    assert doc.loc(("cells", "h", "activation")) == doc.loc(("cells", "h"))
    assert doc.loc(("nothing", "here")) == doc.loc(())
    assert str(doc.loc(())) == "net.yaml:1:1"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("cells", "h", "size"), "cells.h.size"),
        (("edges", 2), "edges[2]"),
        (("draw", "lines", 0, "x"), "draw.lines[0].x"),
        ((), ""),
    ],
    ids=["keys", "list-item", "mixed", "root"],
)
def test_format_path(path: tuple, text: str) -> None:
    assert format_path(path) == text


def test_source_loc_formats_like_a_compiler() -> None:
    assert str(SourceLoc("a.yaml", 3, 7)) == "a.yaml:3:7"
    assert str(SourceLoc("<command line>")) == "<command line>"


# -------------------------------------------------------------------- YAML 1.2 scalar resolution


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-3", 0.001),
        ("1E3", 1000.0),
        ("-2.5", -2.5),
        (".5", 0.5),
        ("42", 42),
        ("-7", -7),
        ("0o17", 15),
        ("0x1F", 31),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("y", "y"),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        ("relu", "relu"),
    ],
    ids=lambda v: repr(v),
)
def test_plain_scalars_resolve_with_the_yaml_12_core_schema(text: str, value: object) -> None:
    got = resolve_plain(text)
    assert got == value
    assert type(got) is type(value)


def test_special_floats() -> None:
    assert resolve_plain(".inf") == math.inf
    assert resolve_plain("-.Inf") == -math.inf
    assert math.isnan(resolve_plain(".nan"))


def test_integer_too_long_for_python_becomes_infinite_not_a_crash() -> None:
    doc = load_document("a: " + "9" * 5000 + "\nb: 0x" + "f" * 2000 + "\nc: -" + "1" * 5000 + "\n")
    assert doc.data == {"a": math.inf, "b": math.inf, "c": -math.inf}


def test_no_is_a_string_with_a_yaml11_note() -> None:
    doc = load_document("use_bias: no\nflag: 'no'\n")
    assert doc.data == {"use_bias": "no", "flag": "no"}
    assert "boolean false in YAML 1.1" in doc.yaml11[("use_bias",)]
    assert ("flag",) not in doc.yaml11  # quoted: the author meant the string


def test_leading_zero_is_decimal_with_an_octal_note() -> None:
    doc = load_document("size: 010\nother: 019\nzero: 0\n")
    assert doc.data == {"size": 10, "other": 19, "zero": 0}
    assert doc.yaml11[("size",)] == "'010' is octal 8 in YAML 1.1 but 10 in YAML 1.2"
    assert "not a valid octal" in doc.yaml11[("other",)]
    assert ("zero",) not in doc.yaml11


@pytest.mark.parametrize(
    ("text", "note"),
    [("1_000", "a number in YAML 1.1"), ("1:30", "base-60"), ("ON", "boolean true")],
    ids=["underscore", "sexagesimal", "on"],
)
def test_other_yaml11_readings_are_noted(text: str, note: str) -> None:
    doc = load_document(f"v: {text}\n")
    assert doc.data["v"] == text
    assert note in doc.yaml11[("v",)]


def test_yaml11_key_is_noted() -> None:
    doc = load_document("cells:\n  off: {type: input}\n")
    assert "off" in doc.data["cells"]
    assert "boolean false in YAML 1.1" in doc.yaml11[("cells", "off", "<key>")]


def test_explicit_str_tag_keeps_text() -> None:
    doc = load_document('a: !!str 010\nb: !!str no\nc: "1e-3"\n')
    assert doc.data == {"a": "010", "b": "no", "c": "1e-3"}
    assert doc.yaml11 == {}
    assert {("a",), ("b",), ("c",)} <= doc.quoted


def test_explicit_number_tags() -> None:
    doc = load_document("a: !!int 12\nb: !!float 3\nc: !!bool true\nd: !!null ~\n")
    assert doc.data == {"a": 12, "b": 3.0, "c": True, "d": None}
    assert isinstance(doc.data["b"], float)


def test_wrong_explicit_tag_is_located() -> None:
    with pytest.raises(SpecError) as err:
        load_document("a: 1\nb: !!int twelve\n", "t.yaml")
    assert str(err.value).startswith("t.yaml:2:4: b: 'twelve' is not a valid !!int")


# ------------------------------------------------------------------------------------ merge keys

MERGE = """\
base: &base {type: hidden, size: 3, activation: tanh}
other: &other {size: 99, use_bias: false}
h:
  <<: [*base, *other]
  size: 8
"""


def test_merge_keys_merge_and_explicit_keys_win() -> None:
    doc = load_document(MERGE, "m.yaml")
    assert doc.data["h"] == {"type": "hidden", "size": 8, "activation": "tanh", "use_bias": False}


def test_explicit_key_after_merge_keeps_its_own_location() -> None:
    doc = load_document(MERGE, "m.yaml")
    assert doc.loc(("h", "size")) == SourceLoc("m.yaml", 5, 9)
    assert doc.key_loc(("h", "size")) == SourceLoc("m.yaml", 5, 3)
    assert doc.loc(("h", "activation")).line == 1  # merged values point at the anchor


def test_merge_of_a_scalar_is_refused() -> None:
    with pytest.raises(SpecError, match="`<<` merges only mappings"):
        load_document("h:\n  <<: 3\n  size: 1\n")


# ------------------------------------------------------------------------------ refused documents


def test_duplicate_keys_are_errors_with_both_lines() -> None:
    with pytest.raises(SpecError) as err:
        load_document("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert problem.loc == SourceLoc("d.yaml", 3, 1)
    assert problem.message == "duplicate key 'a' (first at line 1)"


def test_every_problem_of_a_document_is_collected() -> None:
    with pytest.raises(SpecError) as err:
        load_document("a: 1\na: 2\nb: !!python/name:os.system ''\nc: !!set {x}\n", "d.yaml")
    assert [p.loc.line for p in err.value.problems] == [2, 3, 4]


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['echo hi']",
        "a: !!python/name:os.system ''",
        "!!python/object:builtins.dict {}",
        "a: !!binary aGVsbG8=",
        "a: !!timestamp 2001-12-14",
        "a: !custom x",
        "? !!python/name:os.system ''\n: 1",
    ],
    ids=["apply", "name", "root-object", "binary", "timestamp", "local-tag", "tag-on-key"],
)
def test_tags_never_construct_objects(text: str) -> None:
    with pytest.raises(SpecError, match="is not allowed"):
        load_document(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("# only a comment\n", "file is empty"),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
        ("a: [1, 2\n", "YAML syntax error"),
        ("a: &x [1, *x]\n", "recursive structure"),
        ("a: &x {b: {c: *x}}\n", "recursive structure"),
        ("a: *nowhere\n", "YAML syntax error"),
        ("? [a, b]\n: 1\n", "a key must be a plain name"),
        ("1.5: x\n", "is read as float, not a name"),
        ("~: x\n", "is read as NoneType, not a name"),
    ],
    ids=[
        "empty",
        "comment-only",
        "two-documents",
        "unclosed",
        "recursive-list",
        "recursive-map",
        "unknown-alias",
        "list-key",
        "float-key",
        "null-key",
    ],
)
def test_broken_documents_raise_spec_error(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_document(text)


def test_lone_surrogate_is_located() -> None:
    with pytest.raises(SpecError) as err:
        load_document("a: 1\nb: x\ud800\n", "s.yaml")
    assert str(err.value).startswith("s.yaml:2:5: text holds a lone surrogate")


def test_control_character_is_located() -> None:
    with pytest.raises(SpecError) as err:
        load_document("a: 1\nb: x\x07\n", "c.yaml")
    assert str(err.value).startswith("c.yaml:2:5: YAML cannot read this character")


def test_unquoted_reference_in_flow_mapping_is_kept_as_written() -> None:
    doc = load_document("h: {type: hidden, size: ${width}, n: ${2 * (a + b)}}\n")
    assert doc.data == {"h": {"type": "hidden", "size": "${width}", "n": "${2 * (a + b)}"}}
    assert doc.loc(("h", "size")) == SourceLoc("<spec>", 1, 25)


# ------------------------------------------------------------------------------------ file reading


def test_decode_strips_bom_and_refuses_nul_and_bad_utf8() -> None:
    assert decode_text("\ufeffa: 1".encode(), "f") == "a: 1"
    with pytest.raises(SpecError, match=r"^f:2:1: file holds binary data"):
        decode_text(b"a: 1\n\x00", "f")
    with pytest.raises(SpecError, match=r"^f:2:4: not valid UTF-8 text \(byte 0xff\)"):
        decode_text(b"a: 1\nb: \xff\n", "f")


def test_read_text_refuses_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        read_text(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="is a directory"):
        read_text(tmp_path)


def test_load_file_locates_in_the_given_path(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("a:\n  b: 1\n")
    doc = load_file(path)
    assert doc.loc(("a", "b")) == SourceLoc(str(path), 2, 6)


# ------------------------------------------------------------------------------------------ limits


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(LimitError, match="over the limit of 100"):
        read_text(path, Limits(max_bytes=100))
    with pytest.raises(LimitError, match="over the limit of 100 bytes"):
        load_document("a: " + "x" * 200, limits=Limits(max_bytes=100))


def test_depth_limit() -> None:
    load_document("a: " + "[" * 5 + "]" * 5, limits=Limits(max_depth=6))
    with pytest.raises(LimitError, match="nesting deeper than 6 levels"):
        load_document("a: " + "[" * 6 + "]" * 6, limits=Limits(max_depth=6))


def test_alias_count_limit() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 5) + "]\n"
    assert load_document(text, limits=Limits(max_aliases=5)).data["b"] == [1] * 5
    with pytest.raises(LimitError, match="more than 4 aliases"):
        load_document(text, limits=Limits(max_aliases=4))


def test_expansion_limit_stops_an_alias_bomb_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    with pytest.raises(LimitError, match="alias bomb"):
        load_document("\n".join(lines))  # 10^10 values if expanded


def test_limit_error_is_a_spec_error() -> None:
    assert issubclass(LimitError, SpecError)


# ------------------------------------------------------------------------------------------ params


def _params_doc(text: str) -> tuple[dict, Problems, object]:
    doc = load_document(text, "p.yaml")
    problems = Problems()
    values = collect_params(doc, {}, problems, SourceLoc("<command line>"))
    return values, problems, substitute(doc, values, problems)


def test_whole_reference_keeps_the_param_type() -> None:
    values, problems, data = _params_doc(
        "params: {width: 64, rate: 0.5, on: true, sizes: [1, 2]}\n"
        "a: ${width}\nb: ${rate}\nc: ${on}\nd: ${sizes}\ne: ' ${width} '\n"
    )
    assert not problems
    assert data["a"] == 64 and isinstance(data["a"], int)
    assert data["b"] == 0.5
    assert data["c"] is True
    assert data["d"] == [1, 2]
    assert data["e"] == 64
    assert data["params"] == values  # params themselves are left as written


def test_arithmetic_references() -> None:
    _, problems, data = _params_doc("params: {width: 8}\na: ${2 * width}\nb: ${width // 3}\nc: ${(width + 1) ** 2}\n")
    assert not problems
    assert (data["a"], data["b"], data["c"]) == (16, 2, 81)


def test_embedded_references_are_formatted_in() -> None:
    _, problems, data = _params_doc(
        'params: {width: 8, deep: false}\ntitle: "DFF ${width}x${2 * width}, deep=${deep}"\n'
    )
    assert not problems
    assert data["title"] == "DFF 8x16, deep=false"


def test_unknown_reference_suggests_the_closest_param() -> None:
    _, problems, _ = _params_doc("params: {width: 8}\ncells:\n  h: {size: '${widht}'}\n")
    [problem] = problems.items
    assert problem.loc == SourceLoc("p.yaml", 3, 13)
    assert problem.path == "cells.h.size"
    assert problem.message == "unknown param 'widht'; did you mean 'width'?"
    assert "known: width" in problem.fix


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('touch pwned')",
        "open('/etc/passwd').read()",
        "width.__class__",
        "(lambda: 1)()",
        "[width]",
        "'a' * 3",
        "width if width else 1",
        "~width",
        "-text",
        "True",
    ],
)
def test_references_never_run_code(expr: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises((ValueError, KeyError)):
        evaluate(expr, {"width": 4, "text": "abc"})
    assert not (tmp_path / "pwned").exists()


def test_import_reference_is_refused_with_a_located_problem() -> None:
    _, problems, data = _params_doc("params: {w: 1}\nsize: ${__import__('os')}\n")
    [problem] = problems.items
    assert problem.loc == SourceLoc("p.yaml", 2, 7)
    assert "only numbers, param names" in problem.message
    assert data["size"] == "${__import__('os')}"  # left as written


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("1 / 0", "division by zero"),
        ("2 ** 1000", "exponent larger than 64"),
        ("10 ** 40", "number too large"),
        ("(-8) ** 0.5", "not a real number"),
        ("1 +", "is not a name or an arithmetic expression"),
        ("", "is not a name or an arithmetic expression"),
        ("+1" * 200, "longer than 200 characters"),
        ("-" * 100_000 + "1", "longer than 200 characters"),
    ],
    ids=["div0", "big-exponent", "big-result", "complex", "syntax", "empty", "long", "very-long"],
)
def test_bad_arithmetic_is_a_value_error(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(expr, {})


def test_division_keeps_floats_and_floor_division_gives_ints() -> None:
    assert evaluate("8 / 2", {}) == 4.0 and isinstance(evaluate("8 / 2", {}), float)
    assert evaluate("7 // 2", {}) == 3
    assert evaluate("w * 1.5", {"w": 4}) == 6 and isinstance(evaluate("w * 1.5", {"w": 4}), int)


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("width=128", "width", 128),
        ("lr=1e-3", "lr", 0.001),
        ("act=relu", "act", "relu"),
        ("flag=no", "flag", "no"),
        ("on=true", "on", True),
        ("sizes=[1, 2, 3]", "sizes", [1, 2, 3]),
        (" depth = 3 ", "depth", 3),
        ("eq=a=b", "eq", "a=b"),
    ],
    ids=["int", "float", "str", "yaml11-no", "bool", "list", "spaces", "equals-in-value"],
)
def test_parse_override(text: str, name: str, value: object) -> None:
    assert parse_override(text) == (name, value)


def test_parse_override_needs_an_equals_sign() -> None:
    with pytest.raises(ValueError, match="is not name=value"):
        parse_override("width")


def test_overrides_replace_params_and_unknown_ones_are_reported() -> None:
    doc = load_document("params: {width: 4, depth: 2}\n", "p.yaml")
    problems = Problems()
    values = collect_params(doc, {"width": 9, "dpeth": 1}, problems, SourceLoc("<command line>"))
    assert values == {"width": 9, "depth": 2}
    [problem] = problems.items
    assert problem.path == "-p dpeth"
    assert problem.message == "no param named 'dpeth' in this spec; did you mean 'depth'?"
    assert problem.fix == "declared params: depth, width"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{2w: 1}", "'2w' is not a valid param name"),
        ("{a: '${b}', b: 1}", "a param cannot refer to other params"),
        ("{a: {b: 1}}", "expected a number, string, boolean or list, got a mapping"),
        ("[1, 2]", "expected a mapping of names to values, got a list"),
    ],
    ids=["bad-name", "refers", "mapping-value", "not-a-mapping"],
)
def test_bad_params_block(params: str, message: str) -> None:
    doc = load_document(f"params: {params}\n")
    problems = Problems()
    collect_params(doc, {}, problems, SourceLoc("<command line>"))
    assert [p.message for p in problems.items] == [message]


# --------------------------------------------------------------------------------- edge statements


def _hops(text: str, **kw: bool) -> list[tuple[list[str], str, list[str]]]:
    return [([r.name for r in h.left], h.op, [r.name for r in h.right]) for h in parse_statement(text, **kw)]


@pytest.mark.parametrize(
    ("text", "hops"),
    [
        ("a -> b", [(["a"], "->", ["b"])]),
        ("a -> b -> c", [(["a"], "->", ["b"]), (["b"], "->", ["c"])]),
        ("a, b -> c", [(["a", "b"], "->", ["c"])]),
        ("a -> b, c", [(["a"], "->", ["b", "c"])]),
        ("a,b->c,d", [(["a", "b"], "->", ["c", "d"])]),
        ("v -- h", [(["v"], "--", ["h"])]),
        ("s -- s", [(["s"], "--", ["s"])]),
        ("h1 => h3", [(["h1"], "=>", ["h3"])]),
        ("h ~> h", [(["h"], "~>", ["h"])]),
        (
            "x -> h ~> h => y -- z",
            [(["x"], "->", ["h"]), (["h"], "~>", ["h"]), (["h"], "=>", ["y"]), (["y"], "--", ["z"])],
        ),
        ("gen.out -> dis.h.2", [(["gen.out"], "->", ["dis.h.2"])]),
        ("  _a1   ->\tB_2  ", [(["_a1"], "->", ["B_2"])]),
    ],
    ids=[
        "dense",
        "chain",
        "fan-in",
        "fan-out",
        "no-spaces",
        "symmetric",
        "all-to-all",
        "identity",
        "delayed",
        "mixed",
        "dotted",
        "whitespace",
    ],
)
def test_statements_parse_into_hops(text: str, hops: list) -> None:
    assert _hops(text) == hops


def test_hop_and_ref_offsets_point_into_the_text() -> None:
    text = "x, y -> h ~> out"
    hops = parse_statement(text)
    assert [h.offset for h in hops] == [5, 10]
    for hop in hops:
        assert text[hop.offset : hop.offset + 2] == hop.op
        for ref in (*hop.left, *hop.right):
            assert text[ref.offset :].startswith(ref.name)


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("", 0, "empty edge statement"),
        ("   ", 0, "empty edge statement"),
        ("a", 1, "a statement needs an operator between two cells"),
        ("a -> -> b", 5, "'->' needs a cell name before it"),
        ("-> b", 0, "'->' needs a cell name before it"),
        ("a ->", 4, "statement ends without a cell name"),
        ("a -> b,", 7, "statement ends without a cell name"),
        ("a b -> c", 2, "missing ',' or operator before 'b'"),
        ("a, , b -> c", 3, "',' needs a cell name before it"),
        ("a <- b", 2, "unexpected '<' in edge statement; edges point left to right"),
        ("a > b", 2, "unexpected '>' in edge statement; the operators are -> -- => ~>"),
        ("a - b", 2, "unexpected '-' in edge statement; the operators are"),
        ("a -> b!", 6, "unexpected '!'"),
        ("a -> 1b", 5, "unexpected '1'"),
        ("a[0] -> b", 1, "cell indices like `x[0]` are only allowed in `draw.lines`"),
    ],
    ids=[
        "empty",
        "blank",
        "no-operator",
        "double-operator",
        "leading-operator",
        "trailing-operator",
        "trailing-comma",
        "missing-comma",
        "double-comma",
        "reversed",
        "half-arrow",
        "dash",
        "bang",
        "digit-start",
        "index-outside-draw",
    ],
)
def test_statement_errors_carry_the_column(text: str, offset: int, message: str) -> None:
    with pytest.raises(StatementError) as err:
        parse_statement(text)
    assert err.value.offset == offset
    assert str(err.value).startswith(message)
    assert err.value.fix


def test_non_string_statement_is_a_statement_error() -> None:
    with pytest.raises(StatementError, match="must be a string"):
        parse_statement(["a", "b"])  # type: ignore[arg-type]


def test_draw_line_indices_and_slices() -> None:
    hops = parse_statement("x[0] -- r[1:3], r[2:], y", allow_index=True)
    [hop] = hops
    assert [(r.name, r.start, r.stop) for r in hop.left] == [("x", 0, 1)]
    assert [(r.name, r.start, r.stop) for r in hop.right] == [("r", 1, 3), ("r", 2, None), ("y", None, None)]


def test_huge_draw_index_is_a_statement_error() -> None:
    with pytest.raises(StatementError, match="cell index too large"):
        parse_statement("x[" + "9" * 5000 + "] -- y", allow_index=True)


def test_unquoted_reference_inside_a_flow_mapping_is_read_as_one_value() -> None:
    """SPEC.md's one-line form `{type: hidden, size: ${width}}` parses, and columns stay put."""
    graph = cellgraph.load_graph(GOOD_SPECS / "flow_reference.yaml")
    assert graph.nodes["h"]["shape"] == (8,)
    spec = graph.graph["spec"]
    # the reference's column is where the user wrote `${width}`
    line = (GOOD_SPECS / "flow_reference.yaml").read_text().splitlines()[6]
    assert spec.loc(("cells", "h", "size")).col == line.index("${width}") + 1


def test_reference_text_is_shown_as_written_in_messages() -> None:
    text = "cellgraph: 1\nname: t\ncells:\n  x: {type: input, size: ${nope}}\nedges: []\n"
    with pytest.raises(SpecError) as err:
        cellgraph.load_spec_text(text, "t.yaml")
    assert "t.yaml:4:26: cells.x.size: unknown param 'nope'" in str(err.value)
