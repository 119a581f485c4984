#!/usr/bin/env bash
# Run the test suite: set up (quick when already done), then pytest on the CPU.
#
#   bash scripts/test.sh                 # the whole suite
#   bash scripts/test.sh -k shapes -x    # extra arguments go to pytest
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export JAX_PLATFORMS=cpu # the suite needs no accelerator, and results stay machine-independent
exec .venv/bin/pytest "$@"
