#!/usr/bin/env bash
# pasta bench t2i on a GPU machine: full-size SDXL built from its published configs with random
# weights (no download), a turn of 16 images of 1024x1024 at 30 steps (guidance 5) and at 4 steps
# (few-step sampling, guidance 0), in fp16 and bf16, without and with torch.compile.
#   scripts/bench_t2i_gpu.sh [OUT] [extra pasta bench t2i options, e.g. --repeats 2]
# Needs PASTA installed with the sdxl and clip extras (pip install -e '.[sdxl,clip]'); PASTA=path
# picks the pasta command (default: .venv/bin/pasta, else pasta on PATH). One setting per call of
# pasta bench t2i, so a failing or slow one leaves the others' figures in OUT/<setting>/t2i.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-t2i-gpu}
shift || true
PASTA=${PASTA:-$( [ -x .venv/bin/pasta ] && echo .venv/bin/pasta || echo pasta )}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.csv" || true
for dtype in fp16 bf16; do
  for compile in off on; do
    echo "== sdxl $dtype compile=$compile"
    "$PASTA" bench t2i --models sdxl --steps 30,4 --dtypes "$dtype" --compile "$compile" \
      --images 16 --batch-size 16 --out "$OUT/sdxl-$dtype-compile-$compile" "$@" || echo "failed: $dtype $compile"
  done
done
cat "$OUT"/*/t2i.md
