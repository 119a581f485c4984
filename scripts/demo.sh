#!/usr/bin/env bash
# The main job: set up, validate and summarise every network of the zoo and the examples, draw
# the gallery (an SVG and a PNG per spec, README.md, index.html) and the zoo poster into out/gallery/,
# then train the lecture's mushroom MLP (specs/examples/mushroom.yaml) and print its test accuracy.
#
#   bash scripts/demo.sh
#
# Everything it writes is ignored by git (out/, .cellgraph/, .venv/), so `git status` stays clean:
# PNG and PDF bytes depend on the machine's Graphviz, cairo and fonts (docs/rendering.md,
# "Reproducible figures"). `make gallery` refreshes the committed copy in gallery/.
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

echo
gallery=out/gallery  # untracked (.gitignore); the committed gallery/ is `make gallery`'s
if command -v dot >/dev/null 2>&1; then
  echo "== gallery: ${#specs[@]} drawings and the zoo poster in $gallery/"
  mkdir -p "$gallery"
  for ext in svg png pdf; do  # the posters first: the gallery page links those it finds
    .venv/bin/cellgraph poster specs/zoo -q -o "$gallery/zoo-poster.$ext"
  done
  .venv/bin/cellgraph gallery "${specs[@]}" -o "$gallery/"
  echo "wrote $gallery/zoo-poster.svg, .png and .pdf (open $gallery/index.html or $gallery/README.md)"
else
  echo "== gallery: skipped, Graphviz is not installed (see the setup: lines above)" >&2
fi

# A second run finds the finished run (.cellgraph/runs/), evaluates its stored parameters afresh and
# says it did not train again; any change to the spec, the data or the code is a new run.
echo
echo "== train: the lecture's mushroom MLP, specs/examples/mushroom.yaml (CPU, a few seconds)"
.venv/bin/cellgraph train specs/examples/mushroom.yaml
