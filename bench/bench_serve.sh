#!/usr/bin/env bash
# `citadel bench serve` against `citadel serve` and llama.cpp's `llama-server` on the same GGUF
# file: a closed-loop sweep over concurrency, the same prompts and schedule for both (--compare:
# citadel first, then llama-server, one at a time), streaming /v1/completions with ignore_eos.
# Greedy (--temperature 0): llama-server runs its chat-output parser on every streamed chunk,
# also on /v1/completions, and on a random-weight model's gibberish (bytes that are not UTF-8)
# it fails with "Failed to parse input" error events; sampled at the default temperature a
# quarter to a half of its requests failed so, greedy only a few. Failures are listed.
# Writes the JSON and text reports under bench/out/, the chart (TPOT p50/p99 against output
# tokens/s) to bench/bench_serve.svg, and with --record a table to bench/RESULTS.md.
#
# usage: bench/bench_serve.sh --model FILE [--llama-bin PATH/llama-server] [--threads 2]
#            [--sweep 1,4,16] [--requests 48] [--input-len 16] [--output-len 64] [--record]
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL= LLAMA_SERVER=${LLAMA_SERVER:-llama-server} THREADS=2 SWEEP=1,4,16 REQS=48 IN=16 OUT_LEN=64 RECORD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --llama-bin) LLAMA_SERVER=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --sweep) SWEEP=$2; shift 2 ;;
    --requests) REQS=$2; shift 2 ;;
    --input-len) IN=$2; shift 2 ;;
    --output-len) OUT_LEN=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$MODEL" ] || { echo "--model FILE is required (e.g. citadel synth --preset qwen2.5-0.5b --type q8_0)" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "no model file $MODEL" >&2; exit 2; }
command -v "$LLAMA_SERVER" >/dev/null || { echo "no llama-server at '$LLAMA_SERVER' (give --llama-bin PATH)" >&2; exit 2; }
[ -x build/citadel ] || { echo "build/citadel is missing: build first" >&2; exit 2; }
OUT=bench/out/bench-serve-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
CITADEL_PORT=18541 LLAMA_PORT=18542
MAX_SEQS=${SWEEP##*,}  # the highest level of the sweep: both servers get that many slots

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_ready() {  # url
  for _ in $(seq 1200); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not become ready: $1" >&2; return 1
}

# Engines compared as llama-server runs: no credentials, no audit log.
build/citadel serve -m m="$MODEL" --port $CITADEL_PORT -t "$THREADS" -c 4096 --max-seqs "$MAX_SEQS" \
  --no-auth --no-audit --data-dir "$OUT" 2>"$OUT/citadel.log" & PIDS+=($!)
"$LLAMA_SERVER" -m "$MODEL" --alias m --port $LLAMA_PORT -t "$THREADS" -np "$MAX_SEQS" \
  -c $((4096 * MAX_SEQS)) >"$OUT/llama.log" 2>&1 & PIDS+=($!)
wait_ready "http://127.0.0.1:$CITADEL_PORT/ready"
wait_ready "http://127.0.0.1:$LLAMA_PORT/health"

ARGS=(--url "http://127.0.0.1:$CITADEL_PORT" --model m --name citadel
      --compare "http://127.0.0.1:$LLAMA_PORT" --compare-model m --compare-name llama-server
      --sweep "$SWEEP" -n "$REQS" --warmup 2 --input-len "$IN" --output-len "$OUT_LEN" --seed 1
      --endpoint completions --temperature 0)
build/citadel bench serve "${ARGS[@]}" --json --chart bench/bench_serve.svg >"$OUT/result.json"
cp bench/bench_serve.svg "$OUT/"
echo "wrote $OUT/result.json and bench/bench_serve.svg"

python3 - "$OUT/result.json" "$MODEL" "$RECORD" "$THREADS" "$SWEEP" "$REQS" "$IN" "$OUT_LEN" <<'PY'
import json, subprocess, sys, os, datetime
r = json.load(open(sys.argv[1]))
model, record, threads, sweep, reqs, inp, outp = sys.argv[2], sys.argv[3] == "1", *sys.argv[4:]
rows, notes = [], []
for p in r["points"]:
    a, b = p["runs"]
    c = p["load"]["concurrency"]
    for x in (a, b):
        rows.append(f"| {c} | {x['label']} | {x['completed']}/{x['completed'] + x['failed']} | "
                    f"{x['request_throughput']:.2f} | {x['output_throughput']:.1f} | "
                    f"{x['ttft_ms']['median']:.0f} / {x['ttft_ms']['p99']:.0f} | "
                    f"{x['tpot_ms']['median']:.1f} / {x['tpot_ms']['p99']:.1f} | "
                    f"{x['itl_ms']['median']:.1f} / {x['itl_ms']['p99']:.1f} | "
                    f"{x['e2e_ms']['median']:.0f} / {x['e2e_ms']['p99']:.0f} |")
    ratio = a["output_throughput"] / b["output_throughput"] if b["output_throughput"] else float("nan")
    rows.append(f"| {c} | **citadel / llama-server** | | | **{ratio:.2f}x** | | | | |")
    for x in (a, b):
        for e in x["errors"]:
            notes.append(f"- c={c} {x['label']}: {e['count']} failed: {e['message'][:160]}")
table = ("| concurrency | server | done | req/s | output tok/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms | ITL p50 / p99 ms | E2E p50 / p99 ms |\n"
         "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
         + ("\nFailures:\n" + "\n".join(notes) + "\n" if notes else ""))
print(table)
if record:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with open("bench/RESULTS.md", "a") as f:
        f.write(f"\n### citadel bench serve: citadel serve vs llama-server (bench/bench_serve.sh) — "
                f"{datetime.date.today()}, nproc {os.cpu_count()}, {cpu}, commit {commit}\n\n")
        f.write(f"{os.path.basename(os.path.realpath(model))}, {threads} threads each, closed loop, sweep {sweep}, "
                f"{reqs} requests per level (+2 warm-up), synthetic prompts of {inp} words, {outp} output tokens "
                f"(ignore_eos), greedy, streaming /v1/completions; both servers up, loaded one at a time. "
                f"Chart: [bench_serve.svg](bench_serve.svg) (TPOT p50 solid, p99 dashed, against output tokens/s).\n\n")
        f.write(table)
PY
