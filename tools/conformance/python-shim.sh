#!/usr/bin/env bash
# PYTHON for run-tlsfuzzer.sh that adds per-case expectations to a tlsfuzzer script's
# arguments. run-tlsfuzzer.sh splits TLSFUZZER_ARGS_<script> on spaces, and tlsfuzzer
# case names contain spaces, so `-x 'sanity - x448' -X handshake_failure` cannot go
# through it; this shim reads them from TLSFUZZER_EXPECTATIONS (see expectations/*.txt):
#   <script name> | <case name> | <substring of the expected error>
# and appends `-x <case> -X <substring>` when it runs that script. Anything else it runs
# unchanged with REAL_PYTHON.
set -u
REAL_PYTHON=${REAL_PYTHON:-/usr/bin/python3}
script=${1:-}
name=$(basename -- "$script" .py)
extra=()
if [ -n "${TLSFUZZER_EXPECTATIONS:-}" ] && [ -r "$TLSFUZZER_EXPECTATIONS" ] && [[ $name == test-* ]]; then
  while IFS='|' read -r s c x; do
    s=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"$s")
    [[ -z $s || $s == \#* ]] && continue
    [ "$s" = "$name" ] || continue
    c=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"$c")
    x=$(sed -e 's/[[:space:]]*#.*$//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"$x")
    extra+=(-x "$c" -X "$x")
  done <"$TLSFUZZER_EXPECTATIONS"
fi
exec "$REAL_PYTHON" "$@" "${extra[@]}"
