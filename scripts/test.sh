#!/usr/bin/env bash
# Run the test suite: set up (quick when already done), then pytest on the CPU.
#
#   bash scripts/test.sh                 # the whole suite
#   bash scripts/test.sh -k shapes -x    # extra arguments go to pytest
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export JAX_PLATFORMS=cpu # the suite needs no accelerator, and results stay machine-independent
# two worker processes (pytest-xdist): most tests wait on one-threaded XLA compiles, so two cores
# share them -- a fresh clone's suite took 14 min 12 s on this 2-core machine with two workers (one
# process: 25 min 30 s, in a run that shared the machine with other work). CELLGRAPH_TEST_WORKERS=0
# runs it in this process (for -x / --pdb); more workers use more cores (each holds up to ~3.6 GB)
workers="${CELLGRAPH_TEST_WORKERS:-2}"
if [ "$workers" = "0" ]; then
  exec .venv/bin/pytest "$@"
fi
exec .venv/bin/pytest -n "$workers" --dist worksteal "$@"  # idle workers take queued tests: no long tail on one
