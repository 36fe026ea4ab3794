#!/usr/bin/env bash
# Citadel vs llama.cpp on the same GGUF files, in the same run: pp512 and tg128 with 2 threads,
# as in the issue's targets. Models are made here (never downloaded): `citadel synth` writes a
# Qwen2.5-0.5B-shaped f16 model with the real Qwen tokenizer, and llama.cpp's own quantizer
# makes the other types (as the anchors in ../shared/docs/ANCHORS.md were made).
#
#   LLAMA_CPP=/path/to/llama.cpp/build/bin bash bench/run_bench.sh [ROUNDS]
#
# Each round runs llama-bench (-r 3) and `citadel bench run` (-r 3) back to back per type; the
# medians over the rounds and their ratio are appended to bench/RESULTS.md with the date,
# machine and commit. Without LLAMA_CPP only Citadel is measured.
#
# ISA=avx2 measures Citadel's AVX2 kernels (CITADEL_ISA=avx2) on an AVX-512 machine; point
# LLAMA_CPP at a llama.cpp built without AVX-512 for the same comparison, e.g.
#   cmake -B build-avx2 -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
#         -DGGML_AVX512=OFF && ninja -C build-avx2 llama-bench
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${THREADS:-2}
TYPES=${TYPES:-"q8_0 q4_0 q4_k_m f16"}
MODELS=${MODELS:-bench/out/models}
CITADEL=${CITADEL:-build/citadel}
LLAMA=${LLAMA_CPP:-}
SHARED=${SHARED:-../shared}
NOTE=""
if [ -n "${ISA:-}" ]; then
  export CITADEL_ISA=$ISA
  NOTE="Citadel forced to CITADEL_ISA=$ISA; llama.cpp from $LLAMA."
fi
mkdir -p "$MODELS" bench/out

base="$MODELS/qwen2.5-0.5b-f16.gguf"
[ -f "$base" ] || "$CITADEL" synth --preset qwen2.5-0.5b --type f16 \
    --tokenizer "$SHARED/reference/tokenizer/hf/qwen3" -o "$base"
for t in $TYPES; do
  f="$MODELS/qwen2.5-0.5b-$t.gguf"
  [ "$t" = f16 ] || [ -f "$f" ] || {
    if [ -n "$LLAMA" ]; then "$LLAMA/llama-quantize" "$base" "$f" "$t" 2 >/dev/null 2>&1
    else "$CITADEL" quantize "$base" "$f" "$t" >/dev/null; fi; }
done

raw=bench/out/raw-$(date +%Y%m%d-%H%M%S).tsv
for r in $(seq "$ROUNDS"); do
  for t in $TYPES; do
    f="$MODELS/qwen2.5-0.5b-$t.gguf"
    if [ -n "$LLAMA" ]; then
      "$LLAMA/llama-bench" -m "$f" -t "$THREADS" -p 512 -n 128 -r 3 -o json 2>/dev/null |
        python3 -c 'import json,sys
for x in json.load(sys.stdin):
    test = "pp512" if x["n_prompt"] else "tg128"
    print(sys.argv[1], "llama.cpp", test, x["avg_ts"], sep="\t")' "$t" >> "$raw"
    fi
    "$CITADEL" bench run -m "$f" -t "$THREADS" -p 512 -n 128 -r 3 --json |
      python3 -c 'import json,sys
for x in json.load(sys.stdin)["results"]:
    print(sys.argv[1], "citadel", x["test"], x["tokens_per_s_median"], sep="\t")' "$t" >> "$raw"
  done
done

python3 bench/summarize.py "$raw" "$MODELS" "$NOTE" | tee -a bench/RESULTS.md
