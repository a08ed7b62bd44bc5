#!/usr/bin/env bash
# Instructions and cache misses per proxied request of plain Caddy (A:
# reverse_proxy only) and Caddy with inubit_sessions (B), counted by
# valgrind's cachegrind. Unlike wrk's throughput and CPU time, these
# counts do not depend on what else the machine runs: the same code
# gives the same figures within a few tenths of a percent, so a change
# of the request path can be measured exactly. They are not time: a
# cache miss costs many instructions' worth, which is why the misses are
# reported too.
#
#   bash scripts/bench-instr.sh
#   INSTR_SCENARIOS="tracked" INSTR_REQUESTS="500 4500" bash scripts/bench-instr.sh
#
# Each server runs under cachegrind twice per scenario, serving
# INSTR_REQUESTS (two counts) requests on one keep-alive connection,
# as a browser sends them; the per-request figure is the difference of
# the two runs divided by the difference of the counts, which removes
# the start, the first request and the stop. Scenarios:
#   untracked  GET /page without a cookie
#   tracked    GET /page with a live session's cookie and its user
#   known_id   the same with webappIdentifier: an ID the session holds
#   asset      GET /asset.js, a 256 KiB static script, with the cookie
#              (not in the default list; INSTR_REQUESTS="50 450" suits it)
#   asset_generated  the same script without Last-Modified: scanned
# The garbage collector is off (INSTR_GOGC=100 turns it on): these are
# the request path's instructions; what the collector adds is measured
# with the load runs of bench.sh. Output (summary.md and the cachegrind files) in INSTR_OUT (default: a
# new directory under /tmp). Every server listens on 127.0.0.1 only.
# valgrind (Debian package) is installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scenarios=${INSTR_SCENARIOS:-untracked tracked known_id}
read -r n1 n2 <<<"${INSTR_REQUESTS:-500 4500}"
((n2 > n1)) || { echo "INSTR_REQUESTS: the second count must be larger" >&2; exit 2; }
gogc=${INSTR_GOGC:-off}
port_a=${INSTR_PORT_BASE:-18600} port_b=$((${INSTR_PORT_BASE:-18600} + 1))
out=${INSTR_OUT:-$(mktemp -d /tmp/bench-instr.XXXXXX)}
mkdir -p "$out/bin"
summary=$out/summary.md
module=$(go list -m)
say() { echo "bench-instr: $*" >&2; }
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh

if ! command -v valgrind >/dev/null || ! command -v cg_diff >/dev/null; then
	say "installing valgrind"
	bench_apt_install valgrind
fi
# Built with go build, not xcaddy: xcaddy strips the symbol table, and
# the per-function table needs it. Same modules (cmd/caddy).
say "building Caddy with symbols and the upstream"
go build -o "$out/bin/caddy" ./cmd/caddy
go build -o "$out/bin/benchupstream" ./cmd/benchupstream

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

export INUBIT_PASSWORD=bench-instr-password
rm -f "$out/ports" # a kept directory's old ports would be read before the new ones are written
"$out/bin/benchupstream" -ready "$out/ports" 2>"$out/upstream.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $out/ports ]] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$out/ports" # APP_PORT, INUBIT_PORT

id="webform@@@Bench/form_orders(1)_app@@@7.xml"

# request_headers SCENARIO: curl -H arguments of the scenario's requests
request_headers() {
	case $1 in
	untracked) ;;
	tracked) echo "-H Cookie:JSESSIONID=bench-7 -H user:u7" ;;
	known_id) echo "-H Cookie:JSESSIONID=bench-7 -H user:u7 -H webappIdentifier:$id" ;;
	asset | asset_generated) echo "-H Cookie:JSESSIONID=bench-7 -H user:u7" ;;
	*) say "unknown scenario $1"; exit 2 ;;
	esac
}

# count NAME PLUGIN PORT SCENARIO N: one server under cachegrind, N
# requests on one connection; prints cachegrind's summary line.
count() {
	local name=$1 plugin=$2 port=$3 scenario=$4 n=$5 dir=$out/$4-$1-$5
	rm -rf "$dir"
	mkdir -p "$dir"
	local block=""
	[[ $plugin == 1 ]] && block=$(bench_handler_block "http://127.0.0.1:$INUBIT_PORT" "$dir/sessions")
	bench_caddyfile "admin off" "$dir/data" "$port" "$block" "$APP_PORT" >"$dir/Caddyfile"
	local path=/page
	[[ $scenario == asset ]] && path=/asset.js
	[[ $scenario == asset_generated ]] && path=/asset.js?generated=1
	for _ in $(seq "$n"); do
		printf 'url = "http://127.0.0.1:%s%s"\noutput = /dev/null\n' "$port" "$path"
	done >"$dir/requests.curl"
	# One P and no asynchronous preemption: valgrind runs one thread at a
	# time, and its signal delivery would only add noise. GOGC=off (the
	# default here) leaves the collector out: its cycles fall at different
	# requests in each run, which moves the totals by thousands of
	# instructions per request; allocation itself is still counted. No
	# memory profile either: its samples unwind stacks at random.
	GOGC=$gogc GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1,memprofilerate=0 XDG_DATA_HOME=$dir XDG_CONFIG_HOME=$dir \
		valgrind --tool=cachegrind --cache-sim=yes --cachegrind-out-file="$dir/cg.out" \
		"$out/bin/caddy" run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/caddy.log" 2>&1 &
	local vg=$!
	pids+=("$vg")
	local up=0
	for _ in $(seq 600); do
		if curl -fso /dev/null "http://127.0.0.1:$port/page"; then up=1; break; fi
		sleep 0.1
	done
	# count runs in a subshell, whose exit does not run the EXIT trap:
	# stop this server here when it fails.
	((up)) || { kill "$vg"; say "$name did not start; see $dir/caddy.log"; exit 1; }
	# shellcheck disable=SC2046
	curl -fsS $(request_headers "$scenario") -K "$dir/requests.curl" || { kill "$vg"; say "requests to $name failed"; exit 1; }
	kill -INT "$vg"
	wait "$vg" || true
	grep '^summary:' "$dir/cg.out" || { say "no cachegrind summary in $dir"; exit 1; }
}

{
	echo "# Instructions per request, cachegrind ($(date -u +%Y-%m-%dT%H:%MZ))"
	echo
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(go version | cut -d' ' -f3), valgrind $(valgrind --version | sed 's/valgrind-//')"
	echo
	echo "Per request: (run of $n2 requests − run of $n1) / $((n2 - n1)), one keep-alive connection, GOGC=$gogc."
	echo "Ir: instructions; I1 miss, D1 miss: first-level instruction and data cache misses (simulated);"
	echo "LL miss: last-level misses, reads and writes. The added count moves by a few hundred between"
	echo "runs (the runtime's scheduler, timers and page allocator); the handler's functions do not."
	echo
	echo "| scenario | Ir A | Ir B | Ir B/A | added Ir | of it in the handler's functions | I1 miss A | I1 miss B | D1 miss A | D1 miss B | LL miss A | LL miss B |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$summary"

for scenario in $scenarios; do
	say "$scenario: A and B, $n1 and $n2 requests"
	declare -A s=()
	for server in A B; do
		plugin=0 port=$port_a
		[[ $server == B ]] && plugin=1 port=$port_b
		s[$server-1]=$(count "$server" $plugin $port "$scenario" "$n1")
		s[$server-2]=$(count "$server" $plugin $port "$scenario" "$n2")
	done
	# Where B's extra instructions go: per function, (B's difference of
	# runs) − (A's), per request.
	cg_diff "$out/$scenario-A-$n1/cg.out" "$out/$scenario-A-$n2/cg.out" >"$out/$scenario-A.diff" 2>/dev/null
	cg_diff "$out/$scenario-B-$n1/cg.out" "$out/$scenario-B-$n2/cg.out" >"$out/$scenario-B.diff" 2>/dev/null
	cg_diff "$out/$scenario-A.diff" "$out/$scenario-B.diff" >"$out/$scenario-BA.diff" 2>/dev/null
	cg_annotate --show=Ir,I1mr --sort=Ir --threshold=0 "$out/$scenario-BA.diff" 2>/dev/null |
		awk -v n="$((n2 - n1))" '$NF ~ /:/ && $1 ~ /^-?[0-9,]+$/ { ir = $1; gsub(",", "", ir); printf "%.1f\t%s\n", ir / n, $NF }' |
		sort -t$'\t' -k1,1 -g -r >"$out/$scenario-functions.tsv"
	# The handler's own functions (with what the compiler inlined into
	# them): the part of the added count that does not move between runs.
	own=$(awk -F'\t' -v m="$module" 'index($2, m) { s += $1 } END { printf "%.0f", s }' "$out/$scenario-functions.tsv")
	# summary: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw
	awk -v sc="$scenario" -v n="$((n2 - n1))" -v own="$own" -v a1="${s[A-1]}" -v a2="${s[A-2]}" -v b1="${s[B-1]}" -v b2="${s[B-2]}" '
		function per(x2, x1, i,   p, q) { split(x2, p, " "); split(x1, q, " "); return (p[i + 2] - q[i + 2]) / n }
		function ll(x2, x1) { return per(x2, x1, 2) + per(x2, x1, 5) + per(x2, x1, 8) }
		BEGIN {
			ia = per(a2, a1, 0); ib = per(b2, b1, 0)
			printf "| %s | %.0f | %.0f | %.3f | %+.0f | %s | %.0f | %.0f | %.0f | %.0f | %.1f | %.1f |\n", sc, ia, ib, ib / ia, ib - ia, own,
				per(a2, a1, 1), per(b2, b1, 1), per(a2, a1, 4) + per(a2, a1, 7), per(b2, b1, 4) + per(b2, b1, 7),
				ll(a2, a1), ll(b2, b1)
		}' >>"$summary"
done

{
	echo
	echo "Functions adding the most instructions per request in B (tracked; all in *-functions.tsv;"
	echo "the scheduler's and timers' rows move with when a timer fell, and partly cancel out):"
	echo
	echo '```'
	head -20 "$out/tracked-functions.tsv" 2>/dev/null | sed 's#/usr/local/go/src/##; s#'"$(pwd)"'/##' || true
	echo '```'
} >>"$summary"
cat "$summary"
say "raw output in $out"
