#!/usr/bin/env bash
# deploy/progress.sh WHAT CMD...: runs CMD (a go build -v), printing
# WHAT and then, every 10 seconds until CMD ends, how long it has run and
# the package it compiled last, so that a long first build (the kiosk's
# cgo and Fyne: several minutes) never looks stuck. CMD's output goes to
# a log that is shown whole if it fails.
set -euo pipefail
what=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "$what"
start=$SECONDS
"$@" >"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		sleep 1
		kill -0 "$pid" 2>/dev/null || break 2
	done
	last=$(grep -v '^#' "$log" | tail -1 || true)
	printf '  ... %ds%s\n' $((SECONDS - start)) "${last:+, last built: $last}"
done
if ! wait "$pid"; then
	cat "$log" >&2
	echo "failed: $*" >&2
	exit 1
fi
echo "  done in $((SECONDS - start))s"
