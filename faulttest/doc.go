// Package faulttest runs the inubit_sessions handler inside real Caddy
// processes, built once from cmd/caddy, and injects faults around them:
// INUBIT maintenance, server errors, a refused password, config reloads,
// SIGTERM and SIGKILL, and a chaos run of browsers while Caddy is killed
// again and again. It holds tests only.
//
// Every process and server the tests start listens on 127.0.0.1 only.
// Measured figures are logged as "FIGURE name=value" lines (go test -v).
// Set FAULTTEST_CADDY_RACE=1 to build Caddy with the race detector.
package faulttest
