#!/usr/bin/env bash
# Multi-stream serving: Citadel's batching engine vs llama.cpp's llama-server on the same model,
# the same prompts and the same closed-loop workloads (issue 4). llama-server is driven over
# HTTP by ../shared/tools/loadgen.py; Citadel (no HTTP server yet) runs the identical prompts
# through its engine with `citadel bench batch`, fed a JSON Lines file made with loadgen's own
# prompt_of, so both see the same text.
#
#   A  --prompt-tokens 16  --max-tokens 128, concurrency 1 and 16   (llama-server -np 16)
#   B  --prompt-tokens 128 --max-tokens 64,  concurrency 1, 4, 16   (llama-server -np 16)
#   C  --prompt-tokens 32  --max-tokens 32 --shared-prefix 1000, concurrency 8, 24 requests
#                                                                    (llama-server -np 8)
#   A and B send max(4, 2 x concurrency) requests; all use -c 16384 and 2 threads.
#
# usage: bench/batch_bench.sh [--rounds N] [--workloads A,B,C] [--servers llama,citadel]
#            [--llama-bin DIR] [--citadel PATH] [--model FILE] [--threads N] [--kv-mem SIZE]
#            [--idle-wait SECONDS] [--retries N] [--record]
#
# Each (workload, concurrency) is measured on a fresh llama-server, so no prompt cache carries
# over from the previous concurrency; the two servers alternate within each round (which goes
# first flips every round), and the medians over the rounds are printed as one Markdown table
# per workload (bench/batch_summarize.py). --record also appends them to bench/RESULTS.md.
# Raw rows and the llama-server logs are kept under bench/out/batch-<time>/.
# Without --model, a q8_0 Qwen2.5-0.5B-shaped model is synthesized into a temporary directory
# (with the real Qwen tokenizer when ../shared/reference/tokenizer/hf/qwen3 exists, so a
# prompt word is about one token). --llama-bin defaults to $LLAMA_CPP, then to llama-server on
# PATH. A half whose program is missing (no llama-server; a citadel without `bench batch`) is
# skipped with a message.
# The machine is shared: before each measurement the script waits (up to --idle-wait seconds,
# default 300; 0: no wait) until the CPUs are at most 10 % busy, and each raw row records
# other_cores, the CPU (in cores) that processes other than this script's used during it. A
# measurement during which that exceeded 0.2 is repeated, up to --retries times (default 2); the
# disturbed rows stay in the raw file marked "discarded", and the summary lists any disturbed
# row it still had to use.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
WORKLOADS=A,B,C
SERVERS=llama,citadel
LLAMA_BIN=${LLAMA_CPP:-}
CITADEL=${CITADEL:-build/citadel}
SHARED=${SHARED:-../shared}
MODEL=
THREADS=2
KV_MEM=
IDLE_WAIT=300
RETRIES=2
RECORD=
usage() { sed -n '/^# usage:/,/\[--record\]$/p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --workloads) WORKLOADS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --llama-bin) LLAMA_BIN=$2; shift 2 ;;
    --citadel) CITADEL=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --kv-mem) KV_MEM=$2; shift 2 ;;
    --idle-wait) IDLE_WAIT=$2; shift 2 ;;
    --retries) RETRIES=$2; shift 2 ;;
    --record) RECORD=--record; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "batch_bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
LOADGEN=$SHARED/tools/loadgen.py
[ -f "$LOADGEN" ] || { echo "batch_bench: $LOADGEN not found (set SHARED)" >&2; exit 1; }

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
tmp=$(mktemp -d)
server_pid=
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
# Long commands run in the background and are waited for, so that a signal is acted on at once
# (bash runs traps only between foreground commands) and the job can be stopped with the rest.
job_pid=
run_job() {  # OUTFILE COMMAND...
  local outfile=$1 rc=0; shift
  "$@" > "$outfile" &
  job_pid=$!
  wait "$job_pid" || rc=$?
  job_pid=
  return "$rc"
}
cleanup() {
  if [ -n "$job_pid" ]; then kill "$job_pid" 2>/dev/null || true; wait "$job_pid" 2>/dev/null || true; fi
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Which halves run.
run_llama=; run_citadel=
IFS=, read -r -a servers <<< "$SERVERS"
for s in "${servers[@]}"; do
  case "$s" in llama|citadel) ;; *) echo "batch_bench: unknown server '$s' (llama, citadel)" >&2; exit 2 ;; esac
done
case ",$SERVERS," in *,llama,*) run_llama=1 ;; esac
case ",$SERVERS," in *,citadel,*) run_citadel=1 ;; esac
if [ -n "$run_llama" ]; then
  if [ -n "$LLAMA_BIN" ]; then LLAMA_SERVER=$LLAMA_BIN/llama-server
  else LLAMA_SERVER=$(command -v llama-server || true); fi
  if [ -z "$LLAMA_SERVER" ] || [ ! -x "$LLAMA_SERVER" ]; then
    echo "batch_bench: skipping llama-server: no llama-server${LLAMA_BIN:+ in $LLAMA_BIN} (use --llama-bin DIR or LLAMA_CPP=DIR)" >&2
    run_llama=
  fi
fi
if [ -n "$run_citadel" ]; then
  if [ ! -x "$CITADEL" ]; then
    echo "batch_bench: skipping citadel: $CITADEL not found (build it, or --citadel PATH)" >&2
    run_citadel=
  elif ! "$CITADEL" bench batch --help 2>&1 | grep -q -- '--prompts-file'; then
    # CLI11 answers an unknown `bench batch --help` with bench's own help and status 0,
    # so look for the verb's option rather than trusting the exit status.
    echo "batch_bench: skipping citadel: '$CITADEL bench batch' does not exist in this build" >&2
    run_citadel=
  fi
fi
[ -n "$run_llama$run_citadel" ] || { echo "batch_bench: nothing to run" >&2; exit 1; }

# The model.
if [ -z "$MODEL" ]; then
  [ -x "$CITADEL" ] || { echo "batch_bench: need $CITADEL to synthesize the model (or --model FILE)" >&2; exit 1; }
  MODEL=$tmp/qwen2.5-0.5b-q8_0.gguf
  tok=$SHARED/reference/tokenizer/hf/qwen3
  if [ -d "$tok" ]; then tok_args=(--tokenizer "$tok"); MODEL_DESC="q8_0, Qwen tokenizer"
  else tok_args=(); MODEL_DESC="q8_0, synthetic tokenizer"; fi
  "$CITADEL" synth --preset qwen2.5-0.5b --type q8_0 "${tok_args[@]}" -o "$MODEL" >&2
  MODEL_DESC="citadel synth --preset qwen2.5-0.5b, $MODEL_DESC"
else
  MODEL_DESC=$MODEL
fi
[ -f "$MODEL" ] || { echo "batch_bench: model $MODEL not found" >&2; exit 1; }

out=bench/out/batch-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
raw=$out/raw.jsonl
last=$out/last.jsonl
: > "$raw"
echo "batch_bench: model $MODEL_DESC; raw rows in $raw" >&2

# Workload parameters: prompt words, output tokens, shared-prefix words, concurrencies,
# requests (0: max(4, 2 x concurrency)), llama-server slots.
workload() {
  case "$1" in
    A) P=16;  N=128; W=0;    CONCS="1 16";   REQ=0;  NP=16 ;;
    B) P=128; N=64;  W=0;    CONCS="1 4 16"; REQ=0;  NP=16 ;;
    C) P=32;  N=32;  W=1000; CONCS="8";      REQ=24; NP=8 ;;
    *) echo "batch_bench: unknown workload '$1' (A, B, C)" >&2; exit 2 ;;
  esac
}
requests_for() { if [ "$REQ" -gt 0 ]; then echo "$REQ"; else echo $(( $1 * 2 > 4 ? $1 * 2 : 4 )); fi; }

# The exact prompts loadgen sends: request i gets prefix + prompt_of(P, i).
write_prompts() {  # FILE P W R
  python3 - "$SHARED/tools" "$@" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import loadgen
path, p, w, r = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
prefix = loadgen.prompt_of(w, 7) + " " if w else ""
with open(path, "w") as f:
    for i in range(r):
        f.write(json.dumps({"prompt": prefix + loadgen.prompt_of(p, i)}) + "\n")
PY
}

# CPU accounting from /proc: "TOTAL BUSY OWN" jiffies (all CPUs; busy = not idle or iowait;
# own = CPU of this script's finished children, which includes every measured process).
cpu_snap() {
  python3 - "$$" <<'PY'
import sys
v = list(map(int, open("/proc/stat").readline().split()[1:]))
own = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print(sum(v), sum(v) - v[3] - v[4], int(own[13]) + int(own[14]))
PY
}
# Share of the CPUs busy over one second, in percent.
cpu_busy() {
  local a b
  read -r -a a <<< "$(cpu_snap)"; sleep 1; read -r -a b <<< "$(cpu_snap)"
  echo $(( 100 * (b[1] - a[1]) / (b[0] - a[0] > 0 ? b[0] - a[0] : 1) ))
}
wait_idle() {
  [ "$IDLE_WAIT" -gt 0 ] || return 0
  local t0=$SECONDS busy said=
  while :; do
    busy=$(cpu_busy)
    [ "$busy" -le 10 ] && return 0
    [ -n "$said" ] || echo "batch_bench: waiting for the machine to go quiet (${busy} % busy)" >&2
    said=1
    if [ $((SECONDS - t0)) -ge "$IDLE_WAIT" ]; then
      echo "batch_bench: the machine is still ${busy} % busy after ${IDLE_WAIT} s; measuring anyway" >&2
      return 0
    fi
    sleep 4
  done
}
# Cores used by other processes between two cpu_snap lines.
other_cores() {  # BEFORE AFTER
  local a b
  read -r -a a <<< "$1"; read -r -a b <<< "$2"
  python3 -c 'import os, sys
t, busy, own = (int(sys.argv[i + 4]) - int(sys.argv[i + 1]) for i in range(3))
print(round(max(0, busy - own) / max(1, t) * len(os.sched_getaffinity(0)), 2))' "${a[@]}" "${b[@]}"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Tags each JSON line on stdin with the round, workload and server; writes them to $last.
tag() {  # ROUND WORKLOAD SERVER [EXTRA_JSON]
  python3 -c 'import json, sys
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    row = json.loads(line)
    row.update(extra, round=int(sys.argv[1]), workload=sys.argv[2], server=sys.argv[3])
    print(json.dumps(row))' "$@" | tee -a "$last" >&2
}

# Prefix hit rate on llama-server: 1 - (prompt tokens it evaluated, from /metrics) / (prompt
# tokens it was sent, counted with its own /tokenize), over the requests loadgen sent.
llama_hit_rate() {  # PORT PROMPTS_FILE R
  python3 - "$@" <<'PY'
import json, sys, urllib.request
port, path, r = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = f"http://127.0.0.1:{port}"
def post(url, body):
    req = urllib.request.Request(base + url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))
lines = [json.loads(l)["prompt"] for l in open(path)]
sent = sum(len(post("/tokenize", {"content": lines[i % len(lines)], "add_special": True})["tokens"])
           for i in range(r))
evaluated = None
for line in urllib.request.urlopen(base + "/metrics", timeout=60).read().decode().splitlines():
    if line.startswith("llamacpp:prompt_tokens_total"):
        evaluated = float(line.split()[-1])
print(json.dumps({"prefix_hit_rate": round(1 - evaluated / sent, 3) if evaluated is not None and sent else None,
                  "prompt_tokens": sent}))
PY
}

run_llama_one() {  # ROUND WORKLOAD CONC R PROMPTS
  local round=$1 w=$2 c=$3 r=$4 prompts=$5 port log
  port=$(free_port)
  log=$out/llama-$w-c$c-r$round.log
  "$LLAMA_SERVER" -m "$MODEL" -t "$THREADS" -np "$NP" -c 16384 --port "$port" --metrics \
      > "$log" 2>&1 &
  server_pid=$!
  local ok=
  for _ in $(seq 600); do
    kill -0 "$server_pid" 2>/dev/null || break
    if curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  if [ -z "$ok" ]; then
    echo "batch_bench: llama-server did not come up; see $log" >&2
    tail -5 "$log" >&2
    exit 1
  fi
  local prefix_args=()
  if [ "$W" -gt 0 ]; then prefix_args=(--shared-prefix "$W"); fi
  local res hit snap0 snap1
  snap0=$(cpu_snap)
  run_job "$tmp/result" python3 "$LOADGEN" "http://127.0.0.1:$port/v1/completions" \
      --concurrency "$c" --requests "$r" --prompt-tokens "$P" --max-tokens "$N" "${prefix_args[@]}"
  res=$(cat "$tmp/result")
  hit=$(llama_hit_rate "$port" "$prompts" "$r" || echo '{}')
  stop_server
  snap1=$(cpu_snap)
  hit=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); d["other_cores"] = float(sys.argv[2]); print(json.dumps(d))' \
      "$hit" "$(other_cores "$snap0" "$snap1")")
  echo "$res" | tag "$round" "$w" llama-server "$hit"
}

run_citadel_one() {  # ROUND WORKLOAD CONC R PROMPTS
  local round=$1 w=$2 c=$3 r=$4 prompts=$5
  local kv=()
  if [ -n "$KV_MEM" ]; then kv=(--kv-mem "$KV_MEM"); fi
  local res snap0 snap1
  snap0=$(cpu_snap)
  run_job "$tmp/result" "$CITADEL" bench batch -m "$MODEL" --threads "$THREADS" --concurrency "$c" \
      --requests "$r" --gen "$N" --prompts-file "$prompts" "${kv[@]}" --json
  res=$(cat "$tmp/result")
  snap1=$(cpu_snap)
  echo "$res" | tag "$round" "$w" citadel "{\"other_cores\": $(other_cores "$snap0" "$snap1")}"
}

# One measurement, repeated while other processes disturb it (see the top).
measure() {  # SERVER ROUND WORKLOAD CONC R PROMPTS
  local s=$1 attempt final; shift
  for attempt in $(seq $((RETRIES + 1))); do
    wait_idle
    : > "$last"
    "run_${s}_one" "$@"
    final=$([ "$attempt" -gt "$RETRIES" ] && echo 1 || echo 0)
    if python3 - "$last" "$raw" "$final" <<'PY'; then return 0; fi
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
busy = max((r.get("other_cores") or 0 for r in rows), default=0)
retry = busy > 0.2 and sys.argv[3] == "0"
with open(sys.argv[2], "a") as f:
    for r in rows:
        if retry:
            r["discarded"] = True
        f.write(json.dumps(r) + "\n")
if retry:
    print(f"batch_bench: other processes used {busy:.2f} cores during that; measuring again",
          file=sys.stderr)
sys.exit(3 if retry else 0)
PY
  done
}

IFS=, read -r -a wls <<< "$WORKLOADS"
for w in "${wls[@]}"; do workload "$w"; done  # reject unknown names before measuring
for round in $(seq "$ROUNDS"); do
  for w in "${wls[@]}"; do
    workload "$w"
    for c in $CONCS; do
      r=$(requests_for "$c")
      prompts=$tmp/prompts-$w-$r.jsonl
      write_prompts "$prompts" "$P" "$W" "$r"
      echo "batch_bench: round $round/$ROUNDS, workload $w, concurrency $c, $r requests" >&2
      # Interleaved, and which goes first flips each round, so drift hits both alike.
      if [ $((round % 2)) -eq 1 ]; then order="llama citadel"; else order="citadel llama"; fi
      for s in $order; do
        case "$s" in
          llama) [ -n "$run_llama" ] || continue; measure llama "$round" "$w" "$c" "$r" "$prompts" ;;
          citadel) [ -n "$run_citadel" ] || continue; measure citadel "$round" "$w" "$c" "$r" "$prompts" ;;
        esac
      done
    done
  done
done

llama_version=
if [ -n "$run_llama" ]; then
  llama_version=$("$LLAMA_SERVER" --version 2>&1 | grep -m1 '^version' | sed 's/^version: *//' || true)
fi
python3 bench/batch_summarize.py "$raw" --model "$MODEL" --model-desc "$MODEL_DESC" \
    --threads "$THREADS" --llama-version "$llama_version" --commit "$COMMIT" $RECORD
