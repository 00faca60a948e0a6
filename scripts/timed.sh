#!/usr/bin/env bash
# Times the steps of `make test` (the Makefile runs every step through it).
#
#   scripts/timed.sh FILE LABEL COMMAND...   runs COMMAND; appends "LABEL<TAB>seconds<TAB>ok|FAILED"
#                                            to FILE; exits with COMMAND's status
#   scripts/timed.sh --report FILE           prints the steps recorded in FILE and their total
set -uo pipefail

if [ "${1:-}" = "--report" ]; then
  file="$2"
  [ -f "$file" ] || exit 0
  echo
  echo "==== time per step ===="
  awk -F'\t' '{ printf "  %-44s %6.0f s  %s\n", $1, $2, $3; total += $2 }
              END { printf "  %-44s %6.0f s  (%.1f min)\n", "total", total, total / 60 }' "$file"
  exit 0
fi

file="$1"
label="$2"
shift 2
mkdir -p "$(dirname "$file")"
start=$(date +%s%N)
"$@"
status=$?
end=$(date +%s%N)
result=ok
[ "$status" -eq 0 ] || result=FAILED
ms=$(((end - start) / 1000000))
printf '%s\t%d.%03d\t%s\n' "$label" $((ms / 1000)) $((ms % 1000)) "$result" >>"$file"
exit "$status"
