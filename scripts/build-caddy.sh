#!/usr/bin/env bash
# Builds ./caddy with this module from the working tree, as a user would
# with xcaddy. The placeholder version stands in for a published release,
# which the module proxy would otherwise be asked for.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v xcaddy >/dev/null; then
	go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5
fi
module=$(go list -m)
caddy_version=$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)
CADDY_VERSION="$caddy_version" xcaddy build "$caddy_version" \
	--output ./caddy \
	--with "$module@v0.0.0-00010101000000-000000000000=."
# Capture first: grep -q would close the pipe early and, under pipefail,
# caddy's SIGPIPE would fail the script (exit 141).
modules=$(./caddy list-modules)
if ! grep -qx 'http.handlers.inubit_sessions' <<<"$modules"; then
	echo "built ./caddy lacks http.handlers.inubit_sessions" >&2
	exit 1
fi
echo "built ./caddy with http.handlers.inubit_sessions ($caddy_version)"
