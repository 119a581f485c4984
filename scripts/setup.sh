#!/usr/bin/env bash
# Set up a machine for cellgraph: Graphviz (for diagrams), headless Chromium (for the gallery
# page test, when run as root), a virtual environment at .venv and
# cellgraph installed into it in editable mode with its dev tools.
#
#   bash scripts/setup.sh          # from the repository root (any folder works)
#
# Idempotent and quick when nothing changed: the editable install is redone only when
# pyproject.toml (or the Python behind .venv) changed since the last successful install.
# Environment: PYTHON (default python3, must be >= 3.11).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.cellgraph-setup"
PYTHON=${PYTHON:-python3}

say() { printf 'setup: %s\n' "$*"; }
warn() { printf 'setup: %s\n' "$*" >&2; }

# ------------------------------------------------------------------------------------ Graphviz
# Validation needs no Graphviz; rendering does (the `dot` binary). Install it where we can.
graphviz_advice() {
  warn "Graphviz ('dot') is not installed; validation works without it, rendering will not."
  warn "  install Graphviz: sudo apt install graphviz  (Debian/Ubuntu)"
  warn "                    brew install graphviz      (macOS)"
  warn "                    sudo dnf install graphviz  (Fedora)   |  choco install graphviz (Windows)"
  warn "  or see https://graphviz.org/download/ ; then run this script again."
}

install_graphviz() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      return 1
    fi
  fi
  command -v apt-get >/dev/null 2>&1 || return 1
  say "installing Graphviz with apt-get ..."
  local log
  log=$(mktemp)
  # ${sudo[@]+...}: an empty array is "unbound" under `set -u` in bash 3 (macOS)
  if ! { ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz; } \
    >"$log" 2>&1; then
    warn "apt-get could not install graphviz:"
    tail -n 20 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  command -v dot >/dev/null 2>&1
}

if ! command -v dot >/dev/null 2>&1; then
  if ! install_graphviz; then
    graphviz_advice
  else
    say "$(dot -V 2>&1)"
  fi
fi

# ------------------------------------------------------------------- headless Chromium (tests)
# tests/test_gallery.py opens gallery/index.html in headless Chromium, driven through Debian's
# chromium-driver. Only the tests need them, so they are installed only when this script runs
# as root (a CI container, a dev container); elsewhere it says what to run.
chromium_ready() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }

# apt_install_as_root WHY PACKAGE...: install with apt-get, only when this script runs as root
# (a CI or dev container); on failure, show the end of apt-get's log.
apt_install_as_root() {
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  local why=$1 log names
  shift
  names=$(printf '%s ' "$@" | sed 's/--[a-z-]* //g')  # the packages, without apt-get options
  say "installing ${names% } with apt-get ($why) ..."
  log=$(mktemp)
  if ! { env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$log" 2>&1; then
    warn "apt-get could not install ${names% }:"
    tail -n 20 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

install_chromium() { apt_install_as_root "for the gallery page test" chromium chromium-driver && chromium_ready; }

if ! chromium_ready && ! install_chromium; then
  warn "headless Chromium is missing: the gallery page test skips (and fails under CI=true). Install it with"
  warn "  sudo apt-get install chromium chromium-driver   (Debian; the test expects /usr/bin/chromium and /usr/bin/chromedriver)"
fi

# ------------------------------------------------------------------------------ C++ compiler
# cellgraph builds its native CPU kernels (cellgraph/compiler/native) with the machine's C++
# compiler on first use; without one, LSTM and GRU layers run as slower XLA loops (and the kernel tests
# fail under CI=true). Installed like Chromium: with apt-get when this script runs as root.
cxx_ready() { [ -n "${CXX:-}" ] || command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1; }

install_cxx() { apt_install_as_root "for the native CPU kernels" --no-install-recommends g++ && cxx_ready; }

if ! cxx_ready && ! install_cxx; then
  warn "no C++ compiler: LSTM and GRU layers will run as XLA loops on the CPU (correct, slower). Install one with"
  warn "  sudo apt-get install g++   (Debian/Ubuntu)  |  xcode-select --install (macOS)  |  or set CXX"
fi

# ---------------------------------------------------------------------------------- Python venv
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  warn "$PYTHON not found; install Python 3.11 or newer (or set PYTHON=/path/to/python3.11)"
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  warn "cellgraph needs Python >= 3.11; $PYTHON is $("$PYTHON" -V 2>&1) (set PYTHON=/path/to/python3.11)"
  exit 1
fi

# A venv whose interpreter vanished (pyenv version removed, folder copied) is rebuilt.
if [ -d "$VENV" ] && ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
  say "$VENV is broken; recreating it"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# What the installed state depends on: the project's metadata, the venv's Python and this
# folder. The stamp alone is not trusted: cellgraph must also resolve to this checkout (found
# without importing it, which keeps this check fast).
state() {
  "$VENV/bin/python" -I - "$ROOT" <<'PY' # -I: the current folder is not on sys.path
import hashlib, importlib.util, pathlib, sys
root = pathlib.Path(sys.argv[1]).resolve()
digest = hashlib.sha256((root / "pyproject.toml").read_bytes())
digest.update(sys.version.encode() + str(root).encode())
spec = importlib.util.find_spec("cellgraph")
here = spec is not None and spec.origin is not None and pathlib.Path(spec.origin).resolve().parent == root / "cellgraph"
print(digest.hexdigest(), "here" if here else "elsewhere")
PY
}

read -r want where < <(state)
have=$(cat "$STAMP" 2>/dev/null || true)
if [ "$want" = "$have" ] && [ "$where" = here ] && [ -x "$VENV/bin/cellgraph" ]; then
  exit 0 # already set up
fi

# pip and the build backend are chatty even with --quiet (deprecation notes, index warnings):
# keep their output in a log and show it only when a step fails.
pip_quiet() {
  local log
  log=$(mktemp)
  if ! "$VENV/bin/python" -m pip "$@" >"$log" 2>&1; then
    warn "pip $* failed:"
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

say "installing cellgraph (editable) with its dev tools into .venv ..."
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_quiet install --quiet --upgrade pip
pip_quiet install --quiet -e '.[dev]'
echo "$want" >"$STAMP"
say "done: $("$VENV/bin/cellgraph" --version)"
