#!/usr/bin/env bash
# Runs every fuzz test for longer than the test run does (which replays
# only the seed corpus). Usage: scripts/fuzz.sh [seconds per target]
# New failing inputs are written under testdata/fuzz/ of their package;
# commit them so that every test run replays them.
set -euo pipefail
cd "$(dirname "$0")/.."

per_target="${1:-60}"
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "== $pkg $target (${per_target}s)"
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "${per_target}s" >"$log" 2>&1; then
			tail -n 40 "$log"
			status=1
		else
			tail -n 3 "$log"
		fi
	done
done
exit "$status"
