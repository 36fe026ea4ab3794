#!/usr/bin/env bash
# Issue 4's 1-stream comparison: citadel serve vs llama.cpp's llama-server (-np 16 -c 16384)
# on the same GGUF, 16-token prompts and 128 generated tokens, one stream, greedy, streamed
# /v1/completions, driven by `citadel bench serve`. Each round starts one server, measures
# it, stops it, then the other: only one server is ever up, so neither's leftover work (e.g.
# llama-server finishing a request whose stream failed) runs during the other's turn.
# Per-stream speed = 128 / median end-to-end time of the completed requests (llama-server's
# output parser fails some requests on random-weight models; those are listed, not counted).
#
#   bench/one_stream.sh --model M.gguf --llama-bin PATH/llama-server [--rounds 3] [--record]
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL="" LLAMA="" ROUNDS=3 RECORD=0 REQUESTS=8
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --llama-bin) LLAMA="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "one_stream.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$MODEL" ] || { echo "one_stream.sh: --model FILE.gguf is required" >&2; exit 2; }
[ -x "$LLAMA" ] || { echo "one_stream.sh: --llama-bin PATH/llama-server is required" >&2; exit 2; }
CITADEL=build/citadel
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

wait_ready() {  # URL
  for _ in $(seq 1 300); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "one_stream.sh: $1 did not come up" >&2
  exit 1
}

measure() {  # PORT OUTFILE SEED
  "$CITADEL" bench serve --url "http://127.0.0.1:$1" --model m -c 1 -n "$REQUESTS" --warmup 1 \
    --input-len 16 --output-len 128 --temperature 0 --endpoint completions --seed "$3" \
    --json >"$2"
}

for r in $(seq 1 "$ROUNDS"); do
  "$CITADEL" serve -m "m=$MODEL" --port 18611 -t 2 --no-auth --no-audit --kv-mem 512MiB -c 4096 \
    --data-dir "$OUT/data" 2>"$OUT/citadel.log" &
  pid=$!
  wait_ready http://127.0.0.1:18611/ready
  measure 18611 "$OUT/citadel-$r.json" "$r"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  "$LLAMA" -m "$MODEL" --port 18612 -t 2 -np 16 -c 16384 2>"$OUT/llama.log" >/dev/null &
  pid=$!
  wait_ready http://127.0.0.1:18612/health
  measure 18612 "$OUT/llama-$r.json" "$r"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

python3 - "$OUT" "$ROUNDS" "$MODEL" "$RECORD" <<'EOF'
import json, os, statistics, subprocess, sys, datetime
out, rounds, model, record = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
lines, ratios = [], []
for r in range(1, rounds + 1):
    c = json.load(open(f"{out}/citadel-{r}.json"))["points"][0]["runs"][0]
    l = json.load(open(f"{out}/llama-{r}.json"))["points"][0]["runs"][0]
    cs, ls = 128 / (c["e2e_ms"]["median"] / 1000), 128 / (l["e2e_ms"]["median"] / 1000)
    ratios.append(cs / ls)
    lines.append(f"| {r} | {cs:.1f} ({c['completed']}/{c['completed'] + c['failed']}) | "
                 f"{c['tpot_ms']['median']:.2f} / {c['ttft_ms']['median']:.0f} | {ls:.1f} "
                 f"({l['completed']}/{l['completed'] + l['failed']}) | {l['tpot_ms']['median']:.2f} / "
                 f"{l['ttft_ms']['median']:.0f} | {cs / ls:.2f}x |")
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
text = "\n".join([
    f"### 1 stream, each server alone (bench/one_stream.sh) — {datetime.date.today()}, nproc {os.cpu_count()}, {cpu}, commit {commit}",
    "",
    f"{os.path.basename(model)}, 2 threads each, 16-token prompts, 128 generated, greedy, streamed /v1/completions, one stream; per round citadel is started, measured and stopped, then llama-server (-np 16 -c 16384). Speed = 128 / median E2E of completed requests.",
    "",
    "| round | citadel t/s (done) | TPOT / TTFT p50 ms | llama-server t/s (done) | TPOT / TTFT p50 ms | ratio |",
    "|---|---|---|---|---|---|",
    *lines,
    "",
    f"Median ratio: **{statistics.median(ratios):.2f}x** (target 1.2x).",
    "",
])
print(text)
if record:
    with open("bench/RESULTS.md", "a") as f:
        f.write("\n" + text)
EOF
