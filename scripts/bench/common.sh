# Sourced by scripts/bench.sh and scripts/bench-instr.sh: what both need,
# so that they install tools alike and measure the same configuration.
# (The here-documents are not indented, so that the Caddyfiles keep their
# own indentation.)

# bench_apt_install PACKAGE: installs a Debian package, refreshing the
# package lists only if the first attempt fails.
bench_apt_install() {
	apt-get install -y -o DPkg::Lock::Timeout=300 "$1" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -o DPkg::Lock::Timeout=300 "$1" >/dev/null; }
}

# bench_handler_block INUBIT_URL STORAGE_DIR: B's inubit_sessions block.
bench_handler_block() {
	cat <<EOF
inubit_sessions {
		endpoint $1/ibis/rest/webapp/session/instances
		basic_auth svc-bench {env.INUBIT_PASSWORD}
		user {http.request.header.user}
		logout /logout
		storage $2
	}
EOF
}

# bench_caddyfile ADMIN_LINE DATA_DIR PORT BLOCK APP_PORT: one site on
# 127.0.0.1:PORT proxying to the web app on APP_PORT, BLOCK (a handler,
# or nothing for plain Caddy) in front.
bench_caddyfile() {
	cat <<EOF
{
	$1
	persist_config off
	auto_https off
	storage file_system $2
	servers {
		protocols h1
	}
	log {
		output stderr
		level WARN
	}
}
http://127.0.0.1:$3 {
	bind 127.0.0.1
	$4
	reverse_proxy 127.0.0.1:$5
}
EOF
}
