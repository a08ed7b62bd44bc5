#!/usr/bin/env bash
# The project's test command: formatting, vet, and every test with the
# race detector. The integration tests start Caddy in-process on free
# loopback ports; the browser tests need Debian's Chromium, which this
# script installs when it is missing (as root), unless
# INUBIT_BROWSER_TEST=skip.
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

if [ "${INUBIT_BROWSER_TEST:-}" != "skip" ]; then
	echo "== chromium for browsertest/"
	bash scripts/install-browser.sh
fi

echo "== go test -race"
# faulttest builds a Caddy binary first (minutes on two cores): more than
# go test's default 10-minute limit per package allows on a slow machine.
# -p 1: one package at a time. Several packages start servers on free
# loopback ports they pick themselves; run side by side, two of them
# could pick the same port between picking and binding it.
go test -race -count=1 -timeout 30m -p 1 ./...
