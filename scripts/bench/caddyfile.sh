# Sourced by scripts/bench.sh and scripts/bench-instr.sh: the Caddyfile
# of a benchmark Caddy, plain (A) or with inubit_sessions (B), so that
# both scripts measure the same configuration. (The here-documents are
# not indented, so that the Caddyfiles keep their own indentation.)

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
