#!/usr/bin/env bash
# Rebuilds test/fixtures/models/: the three tiny random-weight models, then the batch our CLI's `grads`
# feeds for test/fixtures/models/sft-data.jsonl (so the reference is for exactly that batch), then the
# PyTorch references (float64 Hugging Face forwards in scripts/make-fixtures.py). Needs /usr/bin/python3
# with torch; the tests need neither.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
$PY scripts/make-fixtures.py models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Batch flags: keep them in step with GRADS_FLAGS in test/models-reference.test.ts.
for m in gpt2-tiny llama-tiny qwen2-tiny; do
  npm run --silent cli -- grads --model "test/fixtures/models/$m" --method full \
    --data test/fixtures/models/sft-data.jsonl --batch 3 --seq 12 --seed 1 --out "$tmp/$m"
  $PY scripts/make-fixtures.py reference "$m" "$tmp/$m/batch.safetensors"
done
