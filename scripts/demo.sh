#!/usr/bin/env bash
# The main job: set up, validate and summarise every network of the zoo and the examples, then
# redraw gallery/ (an SVG and a PNG per spec, README.md, index.html) and the zoo poster.
#
#   bash scripts/demo.sh
#
# A later step of the project extends this script to train the mushroom demo.
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

if ! command -v dot >/dev/null 2>&1; then
  echo "== gallery: skipped, Graphviz is not installed (see the setup: lines above)" >&2
  exit 0
fi
echo "== gallery: ${#specs[@]} drawings and the zoo poster in gallery/"
.venv/bin/cellgraph gallery "${specs[@]}" -o gallery/
for ext in svg png pdf; do
  .venv/bin/cellgraph poster specs/zoo -q -o "gallery/zoo-poster.$ext"
done
echo "wrote gallery/zoo-poster.svg, .png and .pdf (open gallery/index.html or gallery/README.md)"
