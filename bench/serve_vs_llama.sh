#!/usr/bin/env bash
# HTTP against HTTP: `citadel serve` and llama.cpp's `llama-server` on the same GGUF file,
# driven by the same client (../shared/tools/loadgen.py: closed loop, streaming, ignore_eos,
# /v1/completions). One server runs at a time; the two alternate every round (which goes first
# flips) and the medians over the rounds are printed, with the ratio of output tokens/s.
#
# usage: bench/serve_vs_llama.sh --model FILE [--llama-bin DIR] [--rounds 3] [--threads 2]
#            [--concurrency 1] [--requests 4] [--prompt-tokens 16] [--max-tokens 128]
#            [--np N] [--record]
# --np: llama-server's slots (-np) and citadel's --max-seqs; default the concurrency. Issue 4
# compares against `llama-server -np 16 -c 16384` at every concurrency: pass --np 16.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL= LLAMA_BIN=${LLAMA_CPP:-} NP_ARG= ROUNDS=3 THREADS=2 CONC=1 REQS=4 PROMPT=16 GEN=128 RECORD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --llama-bin) LLAMA_BIN=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --requests) REQS=$2; shift 2 ;;
    --prompt-tokens) PROMPT=$2; shift 2 ;;
    --max-tokens) GEN=$2; shift 2 ;;
    --np) NP_ARG=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$MODEL" ] || { echo "--model FILE is required" >&2; exit 2; }
LLAMA_SERVER=${LLAMA_BIN:+$LLAMA_BIN/}llama-server
command -v "$LLAMA_SERVER" >/dev/null || { echo "no llama-server (give --llama-bin DIR)" >&2; exit 2; }
SHARED=${SHARED_DIR:-../shared}
OUT=bench/out/serve-vs-llama-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
PORT=18531
NP=${NP_ARG:-$(( CONC > 1 ? CONC : 1 ))}

wait_ready() {  # url
  for _ in $(seq 600); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not become ready: $1" >&2; return 1
}

run_one() {  # name
  local pid
  if [ "$1" = citadel ]; then
    # Engines compared as llama-server runs: no credentials, no audit log.
    build/citadel serve -m m="$MODEL" --port $PORT -t "$THREADS" -c 16384 --max-seqs "$NP" \
      --no-auth --no-audit --data-dir "$OUT" 2>"$OUT/citadel.log" & pid=$!
    wait_ready "http://127.0.0.1:$PORT/ready"
  else
    "$LLAMA_SERVER" -m "$MODEL" --port $PORT -t "$THREADS" -np "$NP" -c 16384 \
      >"$OUT/llama.log" 2>&1 & pid=$!
    wait_ready "http://127.0.0.1:$PORT/health"
  fi
  python3 "$SHARED/tools/loadgen.py" "http://127.0.0.1:$PORT/v1/completions" --concurrency "$CONC" \
    --requests "$REQS" --prompt-tokens "$PROMPT" --max-tokens "$GEN" --model m |
    python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d['server']='$1'; print(json.dumps(d))" \
    >>"$OUT/rows.jsonl"
  kill -TERM $pid; wait $pid 2>/dev/null || true
}

for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="llama citadel"; else order="citadel llama"; fi
  for s in $order; do run_one "$s"; done
done

python3 - "$OUT/rows.jsonl" "$MODEL" "$RECORD" "$CONC" "$REQS" "$PROMPT" "$GEN" "$THREADS" "$NP" <<'PY'
import json, statistics, subprocess, sys, os, datetime, platform
rows = [json.loads(l) for l in open(sys.argv[1])]
model, record = sys.argv[2], sys.argv[3] == "1"
conc, reqs, prompt, gen, threads, np_ = sys.argv[4:10]
def key(r, *names):
    for n in names:
        if n in r: return r[n]
    return float("nan")
med = {}
for s in ("llama", "citadel"):
    rs = [r for r in rows if r["server"] == s]
    med[s] = {k: statistics.median(key(r, k) for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))}
print(json.dumps(med, indent=1))
tps = lambda s: key(med[s], "output_tok_s")
ratio = tps("citadel") / tps("llama")
print(f"output tokens/s: citadel {tps('citadel'):.1f}, llama-server {tps('llama'):.1f}, ratio {ratio:.2f}x")
if record:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with open("bench/RESULTS.md", "a") as f:
        f.write(f"\n### HTTP vs HTTP: citadel serve vs llama-server (bench/serve_vs_llama.sh) — {datetime.date.today()}, {os.cpu_count()} cores, {cpu}, commit {commit}\n\n")
        f.write(f"{os.path.basename(model)}, {threads} threads, llama-server -np {np_} -c 16384 (citadel --max-seqs {np_}), loadgen.py --concurrency {conc} --requests {reqs} --prompt-tokens {prompt} --max-tokens {gen}; medians of {len(rows)//2} alternating rounds, one server at a time.\n\n")
        f.write("| server | output t/s | TTFT p50 / p99 ms | ITL p50 / p99 ms |\n|---|---|---|---|\n")
        for s, name in (("llama", "llama-server"), ("citadel", "citadel serve")):
            m = med[s]
            f.write(f"| {name} | {tps(s):.1f} | {key(m,'ttft_p50_ms'):.0f} / {key(m,'ttft_p99_ms'):.0f} | {key(m,'itl_p50_ms'):.1f} / {key(m,'itl_p99_ms'):.1f} |\n")
        f.write(f"\nRatio citadel / llama-server: **{ratio:.2f}x** output tokens/s.\n")
PY
