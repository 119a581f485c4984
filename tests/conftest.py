"""Shared fixtures: spec paths, the CLI run in-process and as a real process, hypothesis profiles.

Nothing here imports JAX: the spec and graph layers must stay importable and testable without it.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from cellgraph.cli import main

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
SPECS = ROOT / "specs"
ZOO = SPECS / "zoo"
EXAMPLES = SPECS / "examples"
BAD_SPECS = TESTS / "bad_specs"
GOOD_SPECS = TESTS / "good_specs"
IN_CI = os.environ.get("CI", "").lower() == "true"
GOLDEN = TESTS / "golden"
GRAPHVIZ_PROGRAMS = ("dot", "neato")

# CI runs are reproducible (derandomize) and never flaky on slow machines (no deadline).
settings.register_profile(
    "ci", deadline=None, derandomize=True, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if IN_CI else "dev")


@pytest.fixture
def bad_specs_dir() -> Path:
    """tests/bad_specs: tiny broken specs, one problem each, named after the problem."""
    return BAD_SPECS


@pytest.fixture
def zoo_dir() -> Path:
    """specs/zoo: the 29 networks of the chart."""
    return ZOO


@pytest.fixture
def tiny_spec() -> Path:
    """A small valid spec with params `width` and `depth` (37 parameters)."""
    return GOOD_SPECS / "tiny.yaml"


@dataclass(frozen=True)
class CliResult:
    """What one `cellgraph` run produced."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


CliRunner = Callable[..., CliResult]


def _exit_code(code: object) -> int:
    """Exit status the way the interpreter computes it from ``SystemExit.code``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # a message: printed to stderr, status 1


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run ``cellgraph ARGS`` in this process: ``run_cli("validate", path)`` -> CliResult."""

    def run(*argv: str | os.PathLike[str]) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors, --help, --version, SystemExit(message)
            code = _exit_code(exc.code)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_cli_process(*argv: str | os.PathLike[str], cwd: Path = ROOT, timeout: float = 120) -> CliResult:
    """Run ``python -m cellgraph.cli ARGS`` as a real process."""
    proc = subprocess.run(
        [sys.executable, "-m", "cellgraph.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run_cli_subprocess() -> Callable[..., CliResult]:
    return run_cli_process


@pytest.fixture(scope="session")
def generated_bad_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Broken specs that are better generated than committed: binary content, invalid UTF-8."""
    folder = tmp_path_factory.mktemp("generated_bad_specs")
    files = {
        # a PNG header (with NUL bytes) where YAML text should be
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00",
        # Latin-1 bytes on line 3, column 11: 'caf\xe9' is not UTF-8
        "invalid_utf8": b"cellgraph: 1\nname: tiny\ntitle: caf\xe9\ncells:\n  x: {type: input, size: 2}\nedges: []\n",
        # a control character (BEL) on line 3, column 12
        "control_character": b"cellgraph: 1\nname: tiny\ntitle: bell\x07\ncells:\n  x: {type: input, size: 2}\nedges: []\n",
    }
    out = {}
    for name, data in files.items():
        path = folder / f"{name}.yaml"
        path.write_bytes(data)
        out[name] = path
    return out


def zoo_files() -> list[Path]:
    return sorted(ZOO.glob("*.yaml"))


def spec_file_ids(paths: Sequence[Path]) -> list[str]:
    return [p.stem for p in paths]


# --------------------------------------------------------------------------- Graphviz and goldens


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.dot from the current renderer (review the diff before committing)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_dot: needs Graphviz's `dot` and `neato`; fails under CI=true when they are missing, skips elsewhere",
    )


def require_graphviz() -> None:
    """Fail (under CI=true) or skip (elsewhere) when Graphviz's programs are not on PATH."""
    missing = [p for p in GRAPHVIZ_PROGRAMS if shutil.which(p) is None]
    if not missing:
        return
    reason = (
        f"Graphviz is not installed ({', '.join(missing)} not on PATH): "
        "run `bash scripts/setup.sh` or `apt install graphviz`"
    )
    fail_or_skip(reason, "render", IN_CI)


def fail_or_skip(reason: str, what: str, in_ci: bool) -> None:
    """A missing system tool fails the run under CI=true (CI must {what} for real) and skips elsewhere."""
    if in_ci:
        pytest.fail(f"{reason}; CI must {what} for real", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_dot") is not None:
        require_graphviz()


@pytest.fixture
def needs_dot() -> None:
    """The fixture form of the ``needs_dot`` marker."""
    require_graphviz()


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True under ``pytest --update-golden``."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def assert_golden(update_golden: bool) -> Callable[[str, str], None]:
    """Compare text with tests/golden/NAME; ``--update-golden`` rewrites the file instead."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            return
        if not path.exists():
            pytest.fail(f"no golden file {path.relative_to(ROOT)}; create it with `pytest --update-golden`")
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = difflib.unified_diff(
                expected.splitlines(keepends=True), text.splitlines(keepends=True), f"golden/{name}", "rendered", n=1
            )
            pytest.fail(
                f"{name} differs from tests/golden (if intended: `pytest --update-golden`, then review the diff):\n"
                + "".join(diff)[:6000],
                pytrace=False,
            )

    return check


# --------------------------------------------------------------------------- JAX compilation cache

JAX_CACHE_SETTINGS = {
    # compiled programs are kept under .pytest_cache, so later runs (and subprocesses) skip XLA
    "jax_persistent_cache_min_compile_time_secs": 0,  # the default (1 s) would skip small programs
    "jax_persistent_cache_min_entry_size_bytes": 0,
}


@pytest.fixture(scope="session", autouse=True)
def jax_compilation_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Turn on JAX's persistent compilation cache for this process and its subprocesses.

    Environment variables reach subprocesses (and a JAX imported later); ``jax.config.update``
    covers a JAX already imported by a test module. Neither imports JAX here.
    """
    cache = request.config.cache
    folder = Path(cache.mkdir("jax-compilation-cache")) if cache is not None else tmp_path_factory.mktemp("jax")
    settings = {"jax_compilation_cache_dir": str(folder), **JAX_CACHE_SETTINGS}
    for name, value in settings.items():
        if name.upper() in os.environ:
            continue  # the developer's own setting wins
        os.environ[name.upper()] = str(value)
        if "jax" in sys.modules:
            sys.modules["jax"].config.update(name, value)
    return folder
