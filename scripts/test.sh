#!/usr/bin/env bash
# The project's test command: formatting, vet, and every test with the
# race detector. The integration tests start Caddy in-process on free
# loopback ports; the browser tests also need Debian's Chromium
# (scripts/install-browser.sh) or INUBIT_BROWSER_TEST=skip.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"
	echo "$unformatted"
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...
