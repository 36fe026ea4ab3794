#!/usr/bin/env bash
# Runs each reference check of ../shared/checks whose citadel verb exists; a check whose
# verb is missing is reported as not yet applicable. Exits non-zero if any check fails.
set -uo pipefail
cd "$(dirname "$0")/.."
exe=${CITADEL:-build/citadel}
checks=${SHARED_DIR:-../shared}/checks
if [ ! -d "$checks" ]; then
  echo "reference checks: $checks not found (the shared reference data sits beside the repo)"
  exit 1
fi
# The template references were rendered with strftime_now() pinned to the time in their
# "now" field; citadel's template verb honours the same pin through CITADEL_NOW.
if [ -z "${CITADEL_NOW:-}" ]; then
  ref=$(ls "$checks"/../reference/templates/*.json 2>/dev/null | head -1)
  [ -n "$ref" ] && export CITADEL_NOW=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["now"])' "$ref")
fi
status=0
for pair in check_logits:logits check_tokenizers:tokenize check_templates:template; do
  check=${pair%%:*}; verb=${pair##*:}
  if ! "$exe" --help 2>/dev/null | grep -qE "^ +$verb( |$)"; then
    echo "== $check: skipped (citadel has no '$verb' verb yet)"
    continue
  fi
  echo "== $check"
  CITADEL="$exe" python3 "$checks/$check.py" || status=1
done
exit $status
