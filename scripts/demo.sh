#!/usr/bin/env bash
# The main job: set up, then validate and summarise every network of the zoo and the examples.
#
#   bash scripts/demo.sh
#
# Later steps of the project extend this script to draw the gallery and to train the
# mushroom demo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export JAX_PLATFORMS=cpu

shopt -s nullglob
specs=(specs/zoo/*.yaml specs/examples/*.yaml)
if [ ${#specs[@]} -eq 0 ]; then
  echo "demo: no specs found under specs/zoo/ or specs/examples/" >&2
  exit 1
fi

echo "== validate: ${#specs[@]} specs"
.venv/bin/cellgraph validate "${specs[@]}"

echo
echo "== summary"
.venv/bin/cellgraph summary "${specs[@]}"
