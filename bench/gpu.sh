#!/usr/bin/env bash
# The training benchmark on an NVIDIA GPU, in one command: float32 and bfloat16 (mixed precision),
# each workload at its large GPU batch, cellgraph against hand-written JAX and Flax (and PyTorch
# when a CUDA build of it is installed); then the population (32 vmapped MLPs against one by one)
# and data-parallel training over every GPU. Takes about 5 minutes (under 8) on one H100.
#
#   bash bench/gpu.sh                        # all workloads -> docs/benchmarks.md, "Training on a GPU: <card>"
#   bash bench/gpu.sh --only lstm,gru        # any train_bench.py option is passed on
#
# Needs a Python whose JAX sees the GPU, with Flax, Optax, NetworkX, PyYAML and NumPy (a CUDA
# image's python3 usually has them all); cellgraph itself runs from this checkout. Set PYTHON to
# choose the interpreter (default: python3). Raw results go to $OUT/gpu-results.json when OUT is
# set (the device tool's output folder), else bench/gpu-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # allocate as needed: the allocator's peak is what a run used

if [[ ${CELLGRAPH_BENCH_ALLOW_CPU:-0} != 1 ]]; then  # (set to 1 to rehearse the script on a CPU)
  "$PY" -c 'import jax, sys; sys.exit(jax.default_backend() != "gpu")' || {
    echo "bench/gpu.sh: JAX sees no GPU with $PY ($("$PY" -c 'import jax; print(jax.devices())' 2>&1 | tail -1))" >&2
    echo "  install a CUDA build of JAX (pip install 'jax[cuda13]') or set PYTHON to an interpreter that has one" >&2
    exit 1
  }
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true
fi
"$PY" bench/train_bench.py --gpu --seconds 1 --blocks 8 --write docs/benchmarks.md \
  --json "${OUT:-bench}/gpu-results.json" "$@"
# issue 19: a population of 32 same-shape MLPs vmapped against one by one, and data-parallel
# training over every GPU JAX sees (one GPU: the one-device row alone)
"$PY" bench/population_bench.py --write docs/benchmarks.md
"$PY" bench/parallel_bench.py --batch 4096 --write docs/benchmarks.md
