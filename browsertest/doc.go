// Package browsertest drives a real browser, Debian's headless Chromium,
// through the inubit_sessions handler: an in-process Caddy in front of
// the INUBIT emulator (fakeinubit) and the demo web app (demoapp). The
// browser runs the portal's HTML and script and keeps its own cookies;
// the tests check which clear calls INUBIT received. It holds tests
// only.
//
// Chromium must be installed (bash scripts/install-browser.sh, as root);
// without it the tests fail, unless INUBIT_BROWSER_TEST=skip is set.
// Every server here listens on 127.0.0.1, and Chromium is confined to
// loopback: see chromium_test.go.
package browsertest
