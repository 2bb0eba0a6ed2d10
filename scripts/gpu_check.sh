#!/usr/bin/env bash
# The GPU check: the GPU tests, then the GPU benchmark against PyTorch, in a few minutes.
# Runs from the source tree (no install, no network):  bash scripts/gpu_check.sh [SECONDS]
# SECONDS bounds each of the two parts (default 240).
set -u
cd "$(dirname "$0")/.."
limit=${1:-240}
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} HYPOTHESIS_PROFILE=ci PYTHONUNBUFFERED=1

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
python -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__)"

echo "== GPU tests (every test parametrized by device, kernels on the real GPU)"
timeout "$limit" python -m pytest -q -p no:cacheprovider -k "cuda" tests 2>&1 | tail -n 30
tests_rc=${PIPESTATUS[0]}

echo "== GPU benchmark (fp32, TF32 off on both; median of 10 steps)"
timeout "$limit" python benchmarks/gan_step.py --device cuda --case mlp-gan dcgan28 dcgan64 \
    --batch-for mlp-gan=64 dcgan28=128 dcgan64=128 --repeats 10 2>&1
bench_rc=$?
timeout "$limit" python benchmarks/wgan_gp_step.py --device cuda --case wgan28 wgan64 \
    --batch 64 --repeats 10 2>&1 || bench_rc=$?

echo "== summary: tests exit $tests_rc, benchmark exit $bench_rc"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
