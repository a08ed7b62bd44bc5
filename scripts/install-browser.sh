#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the browser test
# (browsertest/), unless /usr/bin/chromium is already there. Needs root
# and Debian's package archive; runs apt only when something is missing,
# so it is cheap to call again.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-browser.sh: /usr/bin/chromium is missing and installing it needs root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
if [ ! -x /usr/bin/chromium ]; then
	echo "install-browser.sh: apt installed chromium but /usr/bin/chromium is missing" >&2
	exit 1
fi
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
