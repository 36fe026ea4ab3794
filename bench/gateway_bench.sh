#!/usr/bin/env bash
# The gateway's cost per request, against nginx doing key checking in front of the same stub.
#
#   nginx-stub   nginx answering a fixed chat.completion (the stub backend)
#   nginx-gw     nginx checking the API key (map on Authorization) and proxying to nginx-stub
#   citadel-base citadel serve --bench-stub-model, every gateway filter off (--no-auth ...)
#   citadel-gw   the same with every filter on: API key (SQLite store), rpm/tpm limits, PII
#                redaction in and out, prompt-injection rules, audit log (hash chain, fsync)
#
# Added latency: nginx-gw - nginx-stub, citadel-gw - citadel-base (p50 and p99 at a fixed
# --rate, open loop, bench/http_load.cpp); max requests/s with wrk (closed loop). Rounds are
# interleaved; the medians over rounds go to bench/RESULTS.md (--record).
# Usage: bench/gateway_bench.sh [--rate 1000] [--seconds 10] [--rounds 3] [--record]
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=1000 SECONDS_PER_RUN=10 ROUNDS=3 RECORD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
CITADEL=${CITADEL:-build/citadel}
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$CITADEL" ] || { echo "build citadel first (make build)" >&2; exit 1; }
[ -x "$NGINX" ] || { echo "nginx not found: apt-get install nginx-light" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

TMP=$(mktemp -d /tmp/citadel-gwbench-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
g++ -std=c++20 -O2 bench/http_load.cpp -lpthread -o "$TMP/http_load"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_STUB=$(free_port); P_NGW=$(free_port); P_BASE=$(free_port); P_CGW=$(free_port)

# The request: a system and a user message, with an e-mail address and a phone number in it.
cat > "$TMP/req.json" <<'JSON'
{"model":"stub","messages":[{"role":"system","content":"You are a helpful assistant for the operations team."},{"role":"user","content":"Summarise the notes of the Falcon project meeting and send them to li.wei@example.com or call 13812345678 if anything is unclear."}],"max_tokens":64}
JSON
STUB_REPLY='{"id":"chatcmpl-stub","object":"chat.completion","created":1763700000,"model":"stub","choices":[{"index":0,"message":{"role":"assistant","content":"This is a fixed reply from the benchmark stub model; write to ops@example.com for help."},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":22,"total_tokens":62}}'

# nginx: the stub backend and the key-checking reverse proxy in front of it.
"$CITADEL" keys create --db "$TMP/keys.db" --name bench --role user --rpm 10000000 --tpm 1000000000 > "$TMP/key.txt" 2>/dev/null
KEY=$(cat "$TMP/key.txt")
USER_LINE=""; [ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
cat > "$TMP/nginx.conf" <<CONF
$USER_LINE
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx-body; proxy_temp_path $TMP/nginx-proxy;
  fastcgi_temp_path $TMP/nginx-fcgi; uwsgi_temp_path $TMP/nginx-uwsgi; scgi_temp_path $TMP/nginx-scgi;
  keepalive_requests 1000000;
  map_hash_bucket_size 256;
  map \$http_authorization \$key_ok { "Bearer $KEY" 1; default 0; }
  upstream stub { server 127.0.0.1:$P_STUB; keepalive 64; }
  server {
    listen 127.0.0.1:$P_STUB;
    location / { default_type application/json; return 200 '$STUB_REPLY'; }
  }
  server {
    listen 127.0.0.1:$P_NGW;
    location / {
      if (\$key_ok = 0) { return 401 '{"error":{"message":"Incorrect API key provided."}}'; }
      proxy_pass http://stub; proxy_http_version 1.1; proxy_set_header Connection "";
    }
  }
}
CONF
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

serve() {  # port, log, extra args...
  local port=$1 log=$2; shift 2
  "$CITADEL" serve --bench-stub-model stub --host 127.0.0.1 --port "$port" --data-dir "$TMP" "$@" 2> "$log" &
  PIDS+=($!)
}
serve "$P_BASE" "$TMP/base.log" --no-auth --no-audit --no-injection-guard
serve "$P_CGW" "$TMP/gw.log" --keys-db "$TMP/keys.db" --pii-input redact --pii-output redact \
  --audit-log "$TMP/audit.jsonl"
for p in $P_STUB $P_NGW $P_BASE $P_CGW; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/health" && break; sleep 0.1; done
done
# Sanity: the citadel gateway really redacts and audits, nginx really checks the key.
curl -s -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d @"$TMP/req.json" \
  "http://127.0.0.1:$P_CGW/v1/chat/completions" | grep -q '\[EMAIL\]' || { echo "citadel-gw: no redaction?" >&2; cat "$TMP/gw.log" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -d @"$TMP/req.json" "http://127.0.0.1:$P_NGW/v1/chat/completions")" = 401 ] || { echo "nginx-gw does not check keys" >&2; exit 1; }

url() { case $1 in nginx-stub) echo "http://127.0.0.1:$P_STUB";; nginx-gw) echo "http://127.0.0.1:$P_NGW";;
  citadel-base) echo "http://127.0.0.1:$P_BASE";; citadel-gw) echo "http://127.0.0.1:$P_CGW";; esac; }
TARGETS=(nginx-stub nginx-gw citadel-base citadel-gw)
: > "$TMP/results.jsonl"
for round in $(seq "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    out=$("$TMP/http_load" --url "$(url "$t")/v1/chat/completions" --rate "$RATE" --seconds "$SECONDS_PER_RUN" \
      --connections 8 --body "$TMP/req.json" --header "authorization: Bearer $KEY")
    echo "round $round $t $out"
    echo "{\"target\":\"$t\",\"round\":$round,\"r\":$out}" >> "$TMP/results.jsonl"
  done
done
# Max throughput (closed loop): wrk, 2 threads, 32 connections.
cat > "$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$TMP/req.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
for t in nginx-gw citadel-gw; do
  for round in $(seq "$ROUNDS"); do
    rps=$(wrk -t2 -c32 -d5s -s "$TMP/post.lua" "$(url "$t")/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
    echo "wrk $t round $round: $rps req/s"
    echo "{\"target\":\"$t\",\"wrk_rps\":$rps}" >> "$TMP/results.jsonl"
  done
done
lines=$(wc -l < "$TMP/audit.jsonl")
echo "citadel-gw audit records: $lines"
"$CITADEL" audit verify "$TMP/audit.jsonl"
python3 - "$TMP/results.jsonl" "$RATE" "$RECORD" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(git rev-parse --short HEAD)" <<'PY'
import json, statistics, sys, datetime
path, rate, record, nproc, cpu, commit = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
med = lambda xs: statistics.median(xs) if xs else float('nan')
lat = {}
for r in rows:
    if 'r' in r:
        lat.setdefault(r['target'], []).append(r['r'])
def m(t, k): return med([x[k] for x in lat[t]])
wrk = {t: med([r['wrk_rps'] for r in rows if r.get('target') == t and 'wrk_rps' in r]) for t in ('nginx-gw', 'citadel-gw')}
errors = {t: sum(x['errors'] + sum(v for s, v in x['statuses'].items() if s != '200') for x in lat[t]) for t in lat}
lines = [f"### Gateway overhead vs nginx — {datetime.date.today()} — {nproc} cores, {cpu}, commit {commit}",
         f"Open loop at {rate} req/s, 8 connections, medians of {len(lat['citadel-gw'])} rounds (µs); "
         f"non-200 or errors: {errors}.", "",
         "| target | p50 | p99 | p99.9 | achieved req/s |", "|---|---|---|---|---|"]
for t in ('nginx-stub', 'nginx-gw', 'citadel-base', 'citadel-gw'):
    lines.append(f"| {t} | {m(t,'p50_us'):.0f} | {m(t,'p99_us'):.0f} | {m(t,'p999_us'):.0f} | {m(t,'rps'):.0f} |")
lines += ["", "| added by | p50 µs | p99 µs | max req/s (wrk -t2 -c32) |", "|---|---|---|---|",
          f"| nginx key check + proxy (nginx-gw − nginx-stub) | {m('nginx-gw','p50_us')-m('nginx-stub','p50_us'):.0f} | {m('nginx-gw','p99_us')-m('nginx-stub','p99_us'):.0f} | {wrk['nginx-gw']:.0f} |",
          f"| citadel gateway, all filters (citadel-gw − citadel-base) | {m('citadel-gw','p50_us')-m('citadel-base','p50_us'):.0f} | {m('citadel-gw','p99_us')-m('citadel-base','p99_us'):.0f} | {wrk['citadel-gw']:.0f} |", ""]
text = "\n".join(lines)
print(text)
if record == "1":
    with open("bench/RESULTS.md", "a") as f:
        f.write("\n" + text + "\n")
PY
