// Command benchcaddy is cmd/caddy plus the calibration handlers of
// internal/benchcalib (bench_noop, bench_wrap, bench_burn), for scripts/bench.sh
// with BENCH_CALIBRATE=1. Not for deployment.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/inubit-caddy/caddy-inubit-sessions"
	_ "github.com/inubit-caddy/caddy-inubit-sessions/internal/benchcalib"
)

func main() {
	caddycmd.Main()
}
