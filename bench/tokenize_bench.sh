#!/usr/bin/env bash
# Tokenizer speed: 1 MB of mixed text (the reference texts: prose, code, CJK, emoji,
# whitespace runs, repeated) tokenized by citadel and by llama.cpp's llama-tokenize on the
# same vocabulary GGUF, in the same run. Load time is measured on a tiny text and
# subtracted, so the figures are tokenizing time alone. Appends the medians to RESULTS.md.
#
# usage: LLAMA_CPP=/path/to/llama.cpp/build/bin bash bench/tokenize_bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
CITADEL=${CITADEL:-build/citadel}
SHARED=${SHARED:-../shared}
LT=${LLAMA_CPP:-}/llama-tokenize
VOCABS=${VOCABS:-"llama-spm gpt-2 deepseek-llm starcoder bert-bge"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$SHARED" "$tmp" <<'PY'
import glob, json, sys
shared, tmp = sys.argv[1], sys.argv[2]
texts = []
for p in sorted(glob.glob(f"{shared}/reference/tokenizer/expected/*.json")):
    texts += [c["text"] for c in json.load(open(p, encoding="utf-8"))["cases"]]
block = "\n".join(texts) + "\n"
out = block * (1_000_000 // len(block.encode()) + 1)
out = out.encode()[:1_000_000].decode("utf-8", "ignore")
open(f"{tmp}/text.txt", "w", encoding="utf-8").write(out)
json.dump([out], open(f"{tmp}/text.json", "w", encoding="utf-8"), ensure_ascii=False)
open(f"{tmp}/tiny.txt", "w").write("hi")
json.dump(["hi"], open(f"{tmp}/tiny.json", "w"))
PY

calc() { awk "BEGIN { print $1 }"; }
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); calc "$t1 - $t0"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

rows=""
for v in $VOCABS; do
  gguf="$SHARED/reference/tokenizer/llama.cpp-vocab/ggml-vocab-$v.gguf"
  [ -f "$gguf" ] || continue
  ours=(); theirs=()
  for _ in $(seq "$RUNS"); do  # interleaved, so drift hits both alike
    big=$(seconds "$CITADEL" tokenize -m "$gguf" --batch "$tmp/text.json")
    small=$(seconds "$CITADEL" tokenize -m "$gguf" --batch "$tmp/tiny.json")
    ours+=("$(calc "$big - $small")")
    if [ -x "$LT" ]; then
      big=$(seconds "$LT" -m "$gguf" -f "$tmp/text.txt" --ids --no-bos --no-parse-special --log-disable)
      small=$(seconds "$LT" -m "$gguf" -f "$tmp/tiny.txt" --ids --no-bos --no-parse-special --log-disable)
      theirs+=("$(calc "$big - $small")")
    fi
  done
  o=$(printf '%s\n' "${ours[@]}" | median)
  if [ ${#theirs[@]} -gt 0 ]; then
    t=$(printf '%s\n' "${theirs[@]}" | median)
    row=$(printf '| %s | %.3f | %.3f | %.2f× |' "$v" "$o" "$t" "$(calc "$t / $o")")
  else
    row=$(printf '| %s | %.3f | — | — |' "$v" "$o")
  fi
  echo "$row"
  rows+="$row"$'\n'
done

{
  echo
  echo "### Tokenizing 1 MB of mixed text — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), commit $(git rev-parse --short HEAD)"
  echo
  echo "Median of $RUNS interleaved runs, load time subtracted (seconds; speed-up = llama-tokenize / citadel)."
  echo
  echo "| vocab | citadel s | llama-tokenize s | speed-up |"
  echo "|---|---|---|---|"
  printf '%s' "$rows"
} >> bench/RESULTS.md
