"""What a spec may read, and how fast it is refused: issue 10, items 3, 4 and 9's YAML crashes.

Every hostile input here must give a located error and exit status 1 from the CLI in under a
second: never a hang (FIFO, /dev/stdin), never memory exhaustion (/dev/zero), never a quadratic
scan (a megabyte of ``${``), never an exponential composition, never a raw traceback, and never
the content of a file that is not a spec (an SSH key, a ``.env``, /etc/passwd).
"""

from __future__ import annotations

import gc
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cellgraph import access
from cellgraph.cli import main
from cellgraph.data import load_dataset
from cellgraph.errors import LimitError, SpecError
from cellgraph.spec import compose
from cellgraph.spec.compose import load_spec, load_spec_text
from cellgraph.spec.edges import StatementError, parse_statement
from cellgraph.spec.limits import DEFAULT_LIMITS, Limits
from cellgraph.spec.load import load_document, read_text

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hunter2-SECRET-do-not-print"
LIMIT_S = 1.0

HEAD = "cellgraph: 1\nname: net\n"
PART = "cellgraph: 1\nname: part\ncells:\n  h: {type: hidden, size: 2}\nedges: []\n"


@pytest.fixture(autouse=True)
def _no_search_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets CELLGRAPH_PATH itself, if at all."""
    monkeypatch.delenv(access.ENV_VAR, raising=False)


def _within(seconds: float, fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it takes over ``seconds``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # re-raised in the test's thread
            box["error"] = err

    # a full collection now rather than inside the timed call: late in the whole suite the heap
    # holds many compiled models (two cases took 1.29 s and 1.43 s there, and pass alone)
    gc.collect()
    start = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(max(seconds, 10.0))
    elapsed = time.perf_counter() - start
    assert not thread.is_alive(), f"still running after {elapsed:.1f} s (a hang)"
    if "error" in box:
        raise box["error"]
    return box.get("value"), elapsed


def _cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, float]:
    """(exit status, stdout + stderr, seconds) of ``cellgraph ARGV`` run in this process."""
    capsys.readouterr()
    code, elapsed = _within(LIMIT_S, lambda: main([str(a) for a in argv]))
    captured = capsys.readouterr()
    return code, captured.out + captured.err, elapsed


def _refused(capsys: pytest.CaptureFixture[str], spec: Path, *words: str, extra: tuple[str, ...] = ()) -> str:
    """Validate ``spec`` and check: exit 1, under a second, located, no traceback, ``words`` shown."""
    code, out, elapsed = _cli(capsys, "validate", spec, *extra)
    assert code == 1, out
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"
    assert "Traceback" not in out
    assert SECRET not in out
    for word in words:
        assert word in out, out
    return out


def _net(folder: Path, use: str, name: str = "net.yaml") -> Path:
    """A spec in ``folder`` whose group ``p`` uses ``use``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        HEAD + f"cells:\n  x: {{type: input, size: 2}}\n  p: {{use: '{use}'}}\nedges:\n  - x -> p\n", encoding="utf-8"
    )
    return path


# ------------------------------------------------------------------ only regular files, size-capped


def test_a_fifo_part_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")  # no writer: a plain open() would wait forever
    _refused(capsys, _net(tmp_path, "pipe.yaml"), "net.yaml:5:12:", "cells.p.use", "is a FIFO")


def test_a_fifo_given_as_the_spec_is_refused_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    _refused(capsys, tmp_path / "pipe.yaml", "pipe.yaml", "is a FIFO")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin", "/dev/null", "/dev/urandom"])
def test_devices_are_refused_before_reading(
    device: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    monkeypatch.setenv(access.ENV_VAR, "/dev")  # allowed: so the only thing left to refuse is the kind
    _refused(capsys, _net(tmp_path, device), "cells.p.use", f"'{device}': is a")
    _refused(capsys, Path(device), "not a spec file")


def test_a_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "parts").mkdir()
    _refused(capsys, _net(tmp_path, "parts"), "cells.p.use", "is a directory")


def test_reading_stops_one_byte_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that grows while it is read (here: lies about its size) is never read past the cap."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 20_000)  # 100,000 bytes
    read: list[int] = []
    real_read, real_fstat = os.read, os.fstat

    def counting_read(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        read.append(len(data))
        return data

    def small_fstat(fd: int) -> Any:  # as if the file were empty when opened, then grew
        info = real_fstat(fd)
        return os.stat_result((info.st_mode, *info[1:6], 0, *info[7:10]))

    monkeypatch.setattr(access.os, "read", counting_read)
    monkeypatch.setattr(access.os, "fstat", small_fstat)
    with pytest.raises(LimitError, match="over the limit of 1,000"):
        read_text(big, Limits(max_bytes=1_000))
    assert sum(read) == 1_001


def test_a_file_over_the_size_limit_is_not_read_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 1000)
    monkeypatch.setattr(access.os, "read", lambda fd, n: pytest.fail("read a file known to be too big"))
    with pytest.raises(LimitError, match="5,000 bytes, over the limit of 1,000"):
        read_text(big, Limits(max_bytes=1_000))


# ------------------------------------------------------------------ confinement


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
def test_a_part_outside_the_spec_folder_is_refused_and_never_read(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "home" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text(f"cellgraph: 1\n{SECRET}\n", encoding="utf-8")  # even a "spec" outside is not read
    spec_dir = tmp_path / "downloads"
    target = {"absolute": str(secret), "dotdot": "../home/id_rsa", "symlink": "innocent.yaml"}[kind]
    spec = _net(spec_dir, target)
    if kind == "symlink":
        (spec_dir / "innocent.yaml").symlink_to(secret)
    real_open = os.open

    def guarded_open(path: Any, *args: Any, **kwargs: Any) -> int:
        assert Path(path).resolve() != secret, "opened the file outside"
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(access.os, "open", guarded_open)
    out = _refused(
        capsys, spec, "net.yaml:5:12:", "cells.p.use", f"'{target}' is outside", "--allow DIR", "CELLGRAPH_PATH"
    )
    monkeypatch.undo()
    assert str(spec_dir) in out  # names the folder it may read


def test_allow_and_the_environment_variable_open_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "part.yaml").write_text(PART, encoding="utf-8")
    spec = _net(tmp_path / "nets", "../shared/part.yaml")
    _refused(capsys, spec, "is outside")
    code, out, _ = _cli(capsys, "validate", spec, "--allow", shared)
    assert code == 0, out
    monkeypatch.setenv(access.ENV_VAR, os.pathsep.join(["", str(tmp_path / "nowhere"), str(shared)]))
    code, out, _ = _cli(capsys, "validate", spec)
    assert code == 0, out
    assert load_spec(spec).cell("p.h").type == "hidden"


def test_a_project_marker_opens_the_project_tree(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "part.yaml").write_text(PART, encoding="utf-8")
    spec = _net(tmp_path / "specs" / "zoo", "../../parts/part.yaml")
    with pytest.raises(SpecError, match="is outside"):
        load_spec(spec)
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    assert [c.name for c in load_spec(spec).cells] == ["x", "p.h"]


def test_a_project_marker_in_the_home_folder_opens_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dotfiles repository in ~ must not let a downloaded spec read ~/.ssh."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "part.yaml").write_text(PART, encoding="utf-8")
    spec = _net(tmp_path / "Downloads", "../.ssh/part.yaml")
    assert access.project_root(spec.parent) == spec.parent
    with pytest.raises(SpecError, match="is outside"):
        load_spec(spec)


def test_every_shipped_spec_still_validates_from_any_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the rule does not depend on the working directory
    folders = [ROOT / "specs" / "zoo", ROOT / "specs" / "examples", ROOT / "docs" / "examples"]
    code, out, _ = _cli(capsys, "validate", "-q", *[f for f in folders if f.is_dir()])
    assert code == 0, out


# ------------------------------------------------------------------ never echo a non-spec file


@pytest.mark.parametrize(
    "content",
    [
        f"SECRET_KEY={SECRET}\nOTHER=1\n",  # a .env: one YAML string
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n-----END OPENSSH PRIVATE KEY-----\n",
        f"token: {SECRET}\nuser: bob\n",  # YAML, but not a spec
        f"[{SECRET}\n  : ]]\n",  # a YAML syntax error
        f"{SECRET}\x00binary",
    ],
    ids=["env", "ssh_key", "yaml_mapping", "yaml_error", "binary"],
)
def test_a_part_that_is_not_a_spec_is_refused_without_its_content(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "creds").write_text(content, encoding="utf-8")
    _refused(capsys, _net(tmp_path, "creds"), "net.yaml:5:12:", "cells.p.use", "'creds'")


def test_a_csv_outside_the_project_is_refused_without_its_first_line(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "passwd.csv"
    outside.parent.mkdir()
    outside.write_text(f"{SECRET},b\n1,2\n", encoding="utf-8")
    for written in (str(outside), "../elsewhere/passwd.csv"):
        with pytest.raises(SpecError) as info:
            load_dataset({"csv": written, "target": "label"}, tmp_path / "spec")
        assert "is outside" in str(info.value) and "CELLGRAPH_PATH" in str(info.value)
        assert SECRET not in str(info.value)


def test_a_csv_path_with_a_nul_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="data.csv: CSV file path holds a control character"):
        load_dataset({"csv": "a\x00b.csv", "target": "y"}, tmp_path)


def test_a_csv_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "data.csv")
    with pytest.raises(SpecError, match="not a regular file"):
        _within(LIMIT_S, lambda: load_dataset({"csv": "data.csv", "target": "y"}, tmp_path))


def test_a_csv_path_on_the_search_path_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "d.csv").write_text("a,y\n1,0\n2,1\n3,0\n4,1\n", encoding="utf-8")
    with pytest.raises(SpecError, match="is outside"):
        load_dataset({"csv": str(shared / "d.csv"), "target": "y"}, tmp_path / "spec")
    monkeypatch.setenv(access.ENV_VAR, str(shared))
    ds = load_dataset({"csv": str(shared / "d.csv"), "target": "y"}, tmp_path / "spec")
    assert ds.x_train.shape[0] + ds.x_test.shape[0] == 4


# ------------------------------------------------------------------ linear-time `${...}`

MB = 1_000_000


@pytest.mark.parametrize(
    "body",
    [
        "title: '" + "${" * (MB // 2 - 60) + "'\n",  # one scalar, quoted
        "description: " + "${" * (MB // 2 - 60) + "\n",  # one plain scalar
        "description: '" + "${a" * (MB // 3 - 60) + "'\n",  # unclosed, with bodies
        "edges2: ['" + "${" * (MB // 2 - 60) + "']\n",
        "description: |\n" + ("  " + "${" * 60 + "\n") * (MB // 125),  # many lines
        "description: [" + "'${w}'," * (MB // 7 - 20) + "]\n",  # many scalars
    ],
    ids=["quoted", "plain", "unclosed", "in_list", "lines", "many_scalars"],
)
def test_a_megabyte_of_references_is_refused_in_under_a_second(
    body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text(HEAD + "params: {w: 2}\ncells: {a: {type: input, size: 2}}\nedges: []\n" + body, encoding="utf-8")
    assert 0.9 * MB < spec.stat().st_size <= DEFAULT_LIMITS.max_bytes
    out = _refused(capsys, spec, "big.yaml:")
    assert len(out) < 5_000  # the message quotes a few characters, not the megabyte


def test_an_edge_statement_is_parsed_in_linear_time() -> None:
    text = "a -> " * 1_999
    start = time.perf_counter()
    with pytest.raises(StatementError, match="ends without a cell name"):
        parse_statement(text)  # 10,000 characters, just under the limit
    assert time.perf_counter() - start < 0.2
    with pytest.raises(StatementError, match="over the limit of 10,000"):
        parse_statement("a -> " * 200_000)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'${w'", "unclosed or nested `${` at character 1"),
        ("'x ${w} ${'", "unclosed or nested `${` at character 8"),
        ("'${a${w}}'", "unclosed or nested `${` at character 1"),
    ],
)
def test_a_broken_reference_is_a_located_error(value: str, message: str) -> None:
    text = HEAD + f"params: {{w: 2}}\ntitle: {value}\ncells: {{a: {{type: input, size: 2}}}}\nedges: []\n"
    with pytest.raises(SpecError, match=re.escape(message)) as info:
        load_spec_text(text, "t.yaml")
    assert "t.yaml:4:8: title:" in str(info.value)


def test_references_still_substitute() -> None:
    text = HEAD + "params: {w: 3}\ntitle: 'w=${w}, 2w=${2 * w}'\ncells: {a: {type: input, size: '${w}'}}\nedges: []\n"
    spec = load_spec_text(text, "t.yaml")
    assert spec.title == "w=3, 2w=6"
    assert spec.cell("a").options["size"] == 3


# ------------------------------------------------------------------ a budget on composition


def _fan_out(folder: Path, levels: int = 9, width: int = 4) -> Path:
    """``levels`` files, each using the next ``width`` times: width^(levels-1) copies of the last."""
    for i in range(levels - 1):
        uses = "".join(f"  u{j}: {{use: p{i + 1}.yaml}}\n" for j in range(width))
        (folder / f"p{i}.yaml").write_text(
            f"cellgraph: 1\nname: p{i}\ncells:\n  x: {{type: input, size: 2}}\n{uses}edges:\n  - x -> "
            + ", ".join(f"u{j}" for j in range(width))
            + "\n",
            encoding="utf-8",
        )
    (folder / f"p{levels - 1}.yaml").write_text(PART, encoding="utf-8")
    return folder / "p0.yaml"


def test_an_exponential_composition_is_refused_in_under_a_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _refused(capsys, _fan_out(tmp_path), ".use:", f"more than {DEFAULT_LIMITS.max_parts:,} `use:` parts")


def test_each_part_file_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fan_out(tmp_path, levels=3, width=3)  # 3 + 9 part instances, 2 distinct part files
    calls: list[str] = []
    real = compose.load_document

    def counting(text: str, file: str, limits: Limits) -> Any:
        calls.append(Path(file).name)
        return real(text, file, limits)

    monkeypatch.setattr(compose, "load_document", counting)
    spec = load_spec(root)
    assert len([c for c in spec.cells if c.type == "hidden"]) == 9
    assert sorted(calls) == ["p0.yaml", "p1.yaml", "p2.yaml"]


def test_the_composition_budgets_are_limits(tmp_path: Path) -> None:
    root = _fan_out(tmp_path, levels=2, width=3)
    load_spec(root, limits=Limits(max_parts=3))
    with pytest.raises(LimitError, match="more than 2 `use:` parts"):
        load_spec(root, limits=Limits(max_parts=2))
    with pytest.raises(LimitError, match="more than 30 YAML values"):
        load_spec(root, limits=Limits(max_composed_values=30))


# ------------------------------------------------------------------ item 9: YAML-level crashes

CELLS = "cells:\n  a: {type: input, size: 2}\n  b: {type: output, size: 1}\nedges: [a -> b]\n"


def _deep_alias_chain() -> str:
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]" for i in range(1, 40)]
    return "params:\n" + "".join(f"  {line}\n" for line in lines)


def _merge_chain() -> str:
    lines = ["m0: &m0 {x: 1}"] + [f"m{i}: &m{i} {{<<: *m{i - 1}, y{i}: 1}}" for i in range(1, 150)]
    return "draw:\n" + "".join(f"  {line}\n" for line in lines)


YAML_CASES = {
    # name: (text after `cellgraph: 1\nname: net\n`, expected words)
    "map_tag_on_number": (CELLS.replace("size: 2", "size: !!map 2"), ":4:26: cells.a.size: YAML tag '!!map'"),
    "seq_tag_on_name": ("title: !!seq x\n" + CELLS, ":3:8: title: YAML tag '!!seq' on a plain value"),
    "map_tag_on_key": ("!!map title: x\n" + CELLS, ":3:1: YAML tag '!!map' is not allowed on a key"),
    "str_tag_on_mapping": (CELLS.replace("a: {", "a: !!str {"), ":4:6: cells.a: YAML tag '!!str' on a mapping"),
    "seq_tag_on_mapping": (CELLS.replace("a: {", "a: !!seq {"), ":4:6: cells.a: YAML tag '!!seq' on a mapping"),
    "map_tag_on_list": (CELLS.replace("edges: [", "edges: !!map ["), "edges: YAML tag '!!map' on a list"),
    "int_tag_on_list": (CELLS.replace("edges: [", "edges: !!int ["), "edges: YAML tag '!!int' on a list"),
    "custom_tag_on_mapping": (CELLS.replace("a: {", "a: !cell {"), ":4:6: cells.a: YAML tag '!cell' is not allowed"),
    "custom_tag_on_list": (CELLS.replace("edges: [", "edges: !e ["), "edges: YAML tag '!e' is not allowed"),
    "merge_self": (
        CELLS.replace("cells:\n", "cells: &c\n  <<: *c\n"),
        ":3:8: cells: `<<` merges a mapping into itself",
    ),
    "merge_self_top": ("&top\n" + HEAD + "<<: *top\n" + CELLS, ":1:1: `<<` merges a mapping into itself"),
    "deep_alias_chain": (_deep_alias_chain() + CELLS, "nesting deeper than 40 levels once aliases"),
    "merge_chain": (_merge_chain() + CELLS, "nesting deeper than 40 levels once aliases and merges"),
    "int_309_digits_size": (CELLS.replace("size: 2", "size: 2" + "0" * 308), "cells.a.size: expected an integer"),
    "int_309_digits_in_range": (CELLS.replace("size: 2", "size: 1" + "0" * 308), "over the limit of 100,000,000"),
    "int_400_digits_split": (
        CELLS + "data: {source: xor, split: {test: " + "9" * 400 + ", seed: " + "9" * 400 + "}}\n",
        "data.split",
    ),
    "int_1000_digits_seed": (CELLS + "train: {seed: " + "9" * 1000 + "}\n", "train.seed"),
    "hex_huge": (CELLS.replace("size: 2", "size: 0x" + "f" * 300), "cells.a.size: expected an integer"),
    "nul_in_use": (CELLS.replace("b: {type: output, size: 1}", 'b: {use: "p\\0.yaml"}'), "cells.b.use: the path"),
    "newline_in_use": (CELLS.replace("b: {type: output, size: 1}", 'b: {use: "p\\n.yaml"}'), "control character"),
}


@pytest.mark.parametrize("name", sorted(YAML_CASES))
def test_yaml_level_crashes_are_located_errors(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body, expected = YAML_CASES[name]
    spec = tmp_path / "net.yaml"
    spec.write_text(body if body.startswith("&") else HEAD + body, encoding="utf-8")
    out = _refused(capsys, spec, "net.yaml:", expected)
    assert "fix:" in out


def test_huge_integers_resolve_to_infinity_never_to_an_unconvertible_int() -> None:
    doc = load_document("a: 2" + "0" * 308 + "\nb: -" + "9" * 400 + "\nc: 1" + "0" * 308 + "\nd: 0x" + "f" * 300 + "\n")
    assert doc.data["a"] == float("inf") and doc.data["b"] == float("-inf") and doc.data["d"] == float("inf")
    assert doc.data["c"] == 10**308 and isinstance(doc.data["c"], int)  # within a float's range: kept exact


def test_the_written_value_count_is_limited_before_composing(tmp_path: Path) -> None:
    text = HEAD + CELLS + "description: [" + "1," * 400_000 + "]\n"
    start = time.perf_counter()
    with pytest.raises(LimitError, match="more than 20,000 values"):
        load_document(text, "big.yaml")
    assert time.perf_counter() - start < LIMIT_S


# ------------------------------------------------------------------ files that are no spec at all


@pytest.mark.parametrize(
    "text",
    [f"TOKEN={SECRET}\n", f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n", f"- {SECRET}\n"],
    ids=["dotenv", "ssh_key", "list"],
)
def test_a_root_file_that_is_no_spec_is_not_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text(text)
    out = _refused(capsys, secret, "secret:1:1:", "not a mapping")
    assert SECRET not in out


def test_thousands_of_unknown_keys_are_counted_not_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "".join(f"unknown_{i}: 1\n" for i in range(2000))
    spec = tmp_path / "many.yaml"
    spec.write_text(HEAD + "cells: {x: {type: input, size: 2}}\nedges: []\n" + body)
    out = _refused(capsys, spec, "unknown key 'unknown_0'", "and 1,980 more unknown keys in the spec")
    assert "unknown_20'" not in out  # the 21st is counted, not listed
