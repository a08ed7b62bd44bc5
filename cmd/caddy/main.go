// Command caddy is Caddy with its standard modules and the inubit_sessions
// handler, built from this repository: what `xcaddy build --with` makes,
// for tests and for running a checkout without xcaddy.
//
//	go build -o caddy ./cmd/caddy
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/inubit-caddy/caddy-inubit-sessions"
)

func main() {
	caddycmd.Main()
}
