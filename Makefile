# One task runner. `make check` = lint + type check + the test suite (CI, .ci/run, runs the test suite).
# Every target works from a fresh clone: the Python ones set up .venv first if needed.

VENV := .venv
BIN := $(VENV)/bin
PY_DIRS := $(wildcard cellgraph tests scripts bench)

.PHONY: help setup fmt lint typecheck test check gallery golden size bench bench-train bench-ttr docs fuzz

help:
	@echo "make setup    create .venv and install cellgraph[dev] (scripts/setup.sh)"
	@echo "make fmt      ruff format + ruff check --fix"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make typecheck  mypy over cellgraph/ ([tool.mypy] in pyproject.toml)"
	@echo "make test     the test suite (scripts/test.sh; PYTEST_ARGS='-k x' passes arguments)"
	@echo "make check    lint + typecheck + test"
	@echo "make docs     regenerate docs/cells.md and docs/cellgraph.schema.json"
	@echo "make size     lines per file of cellgraph/"
	@echo "make bench    validation, rendering and prediction benchmarks -> docs/benchmarks.md"
	@echo "make bench-train  training vs hand-written JAX, Flax, Keras 3, PyTorch -> docs/benchmarks.md (installs .[bench])"
	@echo "make bench-ttr    whole training commands vs Keras 3, JAX, PyTorch -> docs/benchmarks.md (installs .[bench])"
	@echo "make gallery  redraw the committed gallery/ and zoo poster (bash scripts/demo.sh draws into out/gallery/)"
	@echo "make golden   refresh tests/golden/*.dot (review the diff)"
	@echo "make fuzz     100,000 mutated specs through validation and drawing -> tmp/fuzz/ (FUZZ_ARGS='--cases 2000')"

setup:
	@bash scripts/setup.sh

fmt: setup
	$(BIN)/ruff format $(PY_DIRS)
	$(BIN)/ruff check --fix $(PY_DIRS)

lint: setup
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

typecheck: setup
	$(BIN)/mypy

test:
	bash scripts/test.sh $(PYTEST_ARGS)

check: lint typecheck test

docs: setup
	$(BIN)/python scripts/gen_docs.py

# The committed gallery/: its SVGs come out byte-identical on any machine with the same Graphviz;
# its PNGs and the PDF are rasterised by the local cairo and fonts, so commit them knowingly
# (docs/rendering.md, "Reproducible figures").
gallery: setup
	$(BIN)/cellgraph poster specs/zoo -o gallery/zoo-poster.svg
	$(BIN)/cellgraph poster specs/zoo -o gallery/zoo-poster.png
	$(BIN)/cellgraph poster specs/zoo -o gallery/zoo-poster.pdf
	$(BIN)/cellgraph gallery -o gallery   # after the posters: the page links them

fuzz: setup
	$(BIN)/python scripts/fuzz_specs.py --cases 100000 --seed 0 --jobs 2 --out tmp/fuzz $(FUZZ_ARGS)

golden:
	$(BIN)/pytest -q tests/test_render.py -k golden --update-golden
	git diff --stat tests/golden

size:
	@find cellgraph -name '*.py' -print0 | xargs -0 wc -l | sort -n

bench: setup
	$(BIN)/python bench/validate_bench.py --write docs/benchmarks.md
	$(BIN)/python bench/render_bench.py --write docs/benchmarks.md
	$(BIN)/python bench/predict_bench.py --write docs/benchmarks.md

bench-train: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/train_bench.py --seconds 6 --blocks 30 --write docs/benchmarks.md

bench-ttr: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/ttr_bench.py --runs 5 --write docs/benchmarks.md
