#!/usr/bin/env bash
# Performance figures of inubit_sessions for BENCHMARKS.md (issue 5).
# Everything runs on 127.0.0.1: a small web app and the INUBIT emulator
# (cmd/benchupstream), plain Caddy (A: reverse_proxy only) and Caddy with
# inubit_sessions in front of the same reverse_proxy (B), one binary.
#
#   bash scripts/bench.sh          # full run, about 25 minutes
#   bash scripts/bench.sh quick    # short rounds, 10k sessions, 100k pending IDs
#
# Sections: load (wrk, A against B), side (A and B loaded at once, sharing
# one CPU), scale (side at 1k, 10k and 100k sessions), memory (resident
# bytes per session in a real Caddy), pending (a long INUBIT maintenance),
# go (go test -bench).
# BENCH_ONLY=load,go runs some of them; BENCH_SCENARIOS="tracked new_id"
# some of the load scenarios (default: tracked known_id body_id new_id;
# new_id runs last: the IDs it adds, and the store writes they cause,
# would otherwise weigh on the scenarios after it);
# BENCH_POOL=10 sends the cookies of only the first 10 of the 1,000
# pooled sessions (all but new_id, which has its own 10,000).
# BENCH_PER_CONN=1 runs wrk with one connection per thread, each sending
# one session's cookie on all its requests, as a browser does (new_id
# still takes the next session per request).
# BENCH_OUT=DIR keeps raw output and summary.md there (default: a new
# directory under /tmp).
# BENCH_PIN=1 (default) pins both Caddys to CPU 0 and wrk and the upstream
# to CPU 1; BENCH_PIN=0 lets all float. BENCH_PORT_BASE (default 18400)
# picks the loopback ports base+1..base+8. BENCH_REBUILD=1 rebuilds ./caddy.
# BENCH_ROUNDS and BENCH_DURATION (seconds) override the load rounds,
# BENCH_SCALE_STEPS="1000 100000" the session counts of the scale section.
# BENCH_B_BLOCK="header X-A b" puts another handler in B instead of
# inubit_sessions: what any one more handler costs, for comparison.
# BENCH_CALIBRATE=1 runs A and B on cmd/benchcaddy (./caddy's modules
# plus two calibration handlers): BENCH_B_BLOCK=bench_noop is a handler
# that only calls the next, BENCH_B_BLOCK=bench_wrap one that wraps the
# response writer as inubit_sessions does and does nothing else,
# BENCH_B_BLOCK="bench_burn 2us" one that spins 2 µs per request.
# BENCH_PERF=1 samples both Caddys of the side section with Linux perf
# (4,999 Hz, cpu-clock; package linux-perf, installed if missing) in
# place of the Go profile: fifty times the samples, for costs below a
# microsecond. ./caddy is then built with its symbol table. Read the
# files with: perf report -i DIR/side-perf-SCENARIO-B.data --no-children --sort sym
# BENCH_PROFILE=0 skips the extra, uncounted round per scenario and server
# that records a CPU profile through the admin API of A and B (base+7,
# base+8), from which the handler's own share of Caddy's CPU is read.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

mode=${1:-full}
case $mode in
full)
	rounds=5 duration=10 mem_steps="1000 10000 100000" scale_steps="1000 10000 100000" pending_sessions=10000 go_count=5
	;;
report) # report DIR: print the load table of an earlier run's load.tsv
	out=${2:?usage: $0 report DIR}
	rounds=0 duration=0 mem_steps="" scale_steps="" pending_sessions=0 go_count=0
	;;
quick)
	rounds=2 duration=3 mem_steps="1000 10000" scale_steps="1000 10000" pending_sessions=1000 go_count=1
	;;
*)
	echo "usage: $0 [full|quick|report DIR]" >&2
	exit 2
	;;
esac
rounds=${BENCH_ROUNDS:-$rounds} duration=${BENCH_DURATION:-$duration} scale_steps=${BENCH_SCALE_STEPS:-$scale_steps}
only=${BENCH_ONLY:-load,side,scale,memory,pending,go}
scenarios=${BENCH_SCENARIOS:-tracked known_id body_id new_id}
conns=32
per_conn=${BENCH_PER_CONN:-0}
export BENCH_PER_CONN=$per_conn
# wrk_threads N: the -t value for N connections.
wrk_threads() { if [[ $per_conn == 1 ]]; then echo "$1"; else echo 1; fi; }
pin=${BENCH_PIN:-1}
base=${BENCH_PORT_BASE:-18400}
out=${out:-${BENCH_OUT:-$(mktemp -d /tmp/inubit-bench.XXXXXX)}}
mkdir -p "$out/bin"
summary=$out/summary.md
[[ $mode == report ]] || : >"$summary"
clk=$(getconf CLK_TCK)
export INUBIT_PASSWORD=bench-$RANDOM$RANDOM

say() { echo "bench: $*" >&2; }
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
note() { echo "$*" >>"$summary"; }
has() { [[ ",$only," == *",$1,"* ]]; }

# --- tools --------------------------------------------------------------
if has load || has side || has scale || has memory || has pending; then
	if ! command -v wrk >/dev/null; then
		say "installing wrk from Debian packages"
		bench_apt_install wrk
	fi
	if [[ ${BENCH_PERF:-0} == 1 ]] && ! command -v perf >/dev/null; then
		say "installing perf from Debian packages"
		bench_apt_install linux-perf
	fi
	# perf names functions only from a symbol table, which xcaddy strips
	# by default: keep it (same flags otherwise) when perf samples.
	if [[ ${BENCH_PERF:-0} == 1 ]] && [[ -x ./caddy ]] && ! go tool nm ./caddy >/dev/null 2>&1; then
		say "./caddy has no symbol table; rebuilding it with one for perf"
		BENCH_REBUILD=1
	fi
	if [[ ! -x ./caddy || ${BENCH_REBUILD:-0} == 1 ]]; then
		say "building ./caddy"
		if [[ ${BENCH_PERF:-0} == 1 ]]; then
			XCADDY_GO_BUILD_FLAGS="-trimpath -tags=nobadger,nomysql,nopgx" bash scripts/build-caddy.sh >&2
		else
			bash scripts/build-caddy.sh >&2
		fi
	fi
	caddy_bin=./caddy
	if [[ ${BENCH_CALIBRATE:-0} == 1 ]]; then
		# A and B both run cmd/benchcaddy: ./caddy plus bench_noop and bench_wrap
		go build -o "$out/bin/benchcaddy" ./cmd/benchcaddy
		caddy_bin=$out/bin/benchcaddy
	fi
	go build -o "$out/bin/benchupstream" ./cmd/benchupstream
	go build -o "$out/bin/benchsessions" ./cmd/benchsessions
fi
pin_caddy=() pin_load=()
if [[ $pin == 1 ]] && command -v taskset >/dev/null && (($(nproc) >= 2)); then
	pin_caddy=(taskset -c 0) pin_load=(taskset -c 1)
fi

# --- processes ----------------------------------------------------------
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

stop() { # stop PID: end one process this script started
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # wait_http URL: until it answers, at most 30 s
	for _ in $(seq 300); do
		curl -fso /dev/null "$1" && return 0
		sleep 0.1
	done
	say "no answer from $1"
	return 1
}

start_upstream() {
	rm -f "$out/ports"
	"${pin_load[@]}" "$out/bin/benchupstream" -ready "$out/ports" 2>"$out/upstream.log" &
	pids+=($!)
	for _ in $(seq 100); do
		[[ -s $out/ports ]] && break
		sleep 0.1
	done
	# shellcheck disable=SC1091
	source "$out/ports"
	inubit="http://127.0.0.1:$INUBIT_PORT"
	say "upstream on 127.0.0.1:$APP_PORT, INUBIT emulator on 127.0.0.1:$INUBIT_PORT"
}

# start_caddy NAME PORT PLUGIN ADMIN: runs $caddy_bin (./caddy) with its own data
# directory; PLUGIN 1 adds inubit_sessions; ADMIN is "off" or a port.
# Sets caddy_pid.
start_caddy() {
	local name=$1 port=$2 plugin=$3 admin=$4 dir=$out/$1
	port_free "$port" || { say "port $port is taken; set BENCH_PORT_BASE"; exit 1; }
	rm -rf "$dir"
	mkdir -p "$dir/data" "$dir/config"
	local admin_line="admin off"
	[[ $admin != off ]] && admin_line="admin 127.0.0.1:$admin"
	local block=""
	if [[ $plugin == 1 && -n ${BENCH_B_BLOCK:-} ]]; then
		block=$BENCH_B_BLOCK # another handler in B's place, to compare against
	elif [[ $plugin == 1 ]]; then
		block=$(bench_handler_block "$inubit" "$dir/sessions")
	fi
	bench_caddyfile "$admin_line" "$dir/data/caddy" "$port" "$block" "$APP_PORT" >"$dir/Caddyfile"
	XDG_DATA_HOME=$dir/data XDG_CONFIG_HOME=$dir/config \
		"${pin_caddy[@]}" "$caddy_bin" run --config "$dir/Caddyfile" --adapter caddyfile \
		>"$dir/caddy.log" 2>&1 &
	caddy_pid=$!
	pids+=("$caddy_pid")
	wait_http "http://127.0.0.1:$port/page"
	say "caddy $name (pid $caddy_pid) on 127.0.0.1:$port"
}

cpu_ticks() { # utime+stime of PID in clock ticks
	local stat
	stat=$(</proc/"$1"/stat)
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo $((${12} + ${13}))
}

status_kb() { # status_kb PID FIELD: a kB value of /proc/PID/status
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

sessions() { # sessions PORT ARGS...: cmd/benchsessions against 127.0.0.1:PORT
	local port=$1
	shift
	"${pin_load[@]}" "$out/bin/benchsessions" -target "http://127.0.0.1:$port" "$@" 2>>"$out/sessions.log"
}

# --- load: A against B --------------------------------------------------
# wrk_round SCENARIO ROUND NAME PORT PID [ADMIN]: one wrk run, one line
# of load.tsv; rounds "warm" and "prof" are not counted, and "prof"
# records a CPU profile through ADMIN.
wrk_round() {
	local scenario=$1 round=$2 name=$3 port=$4 pid=$5 admin=${6:-off} sessions=${BENCH_POOL:-1000} prefix=bench-
	if [[ $scenario == new_id ]]; then
		sessions=10000 prefix=new-
	fi
	local c0 c1 line id_base=$round
	[[ $round == warm ]] && id_base=99
	[[ $round == prof ]] && id_base=98
	local profiler=""
	if [[ $round == prof ]]; then
		curl -fso "$out/cpu-$scenario-$name.pprof" \
			"http://127.0.0.1:$admin/debug/pprof/profile?seconds=$((duration - 1))" &
		profiler=$!
	fi
	c0=$(cpu_ticks "$pid")
	line=$(BENCH_SCENARIO=$scenario BENCH_SESSIONS=$sessions BENCH_PREFIX=$prefix \
		BENCH_NEW_BASE=$((id_base * 100000000)) \
		"${pin_load[@]}" wrk -t"$(wrk_threads "$conns")" -c"$conns" -d"${duration}s" -s scripts/bench/wrk.lua \
		"http://127.0.0.1:$port" | grep '^BENCH ')
	c1=$(cpu_ticks "$pid")
	[[ -n $profiler ]] && wait "$profiler"
	[[ $round == warm ]] && return 0
	# shellcheck disable=SC2086
	local $(echo "${line#BENCH }")
	if [[ $round == prof ]]; then
		printf '%s\t%s\t%s\n' "$scenario" "$name" "$requests" >>"$out/prof.tsv"
		return 0
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$round" "$name" "$requests" \
		"$duration_us" "$p99_us" "$((errors + non2xx))" "$((c1 - c0))" "$p50_us" >>"$out/load.tsv"
	say "$scenario round $round $name: $requests requests, p99 ${p99_us}us, $((c1 - c0)) ticks"
}

# load_table [FILE]: the summary table of $out/load.tsv or of FILE (same
# columns: scenario, round, server, requests, duration_us, p99_us, errors,
# cpu_ticks; a header line first)
load_table() {
	echo "| scenario | A req/s | B req/s | B/A | B/A per round | p99 A ms | p99 B ms | p99 added | CPU/req A µs | CPU/req B µs | CPU B/A | CPU B/A per round | errors |"
	echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"
	awk -F'\t' -v clk="$clk" '
		NR == 1 { next }
		{
			k = $1; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
			req[k, $3] += $4; dur[k, $3] += $5; cpu[k, $3] += $8; err[k] += $7
			rps[k, $2, $3] = $4 / $5 * 1e6; cpr[k, $2, $3] = $8 / $4
			np[k, $3]++; p99[k, $3, np[k, $3]] = $6
			if (!((k, $2) in rseen)) { rseen[k, $2] = 1; nr[k]++; rounds[k, nr[k]] = $2 }
		}
		function med(a, m,    i, j, t) {
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		}
		function spread(a, m) { return sprintf("%.3f (%.3f..%.3f)", med(a, m), a[1], a[m]) }
		END {
			for (i = 1; i <= n; i++) {
				k = order[i]; m = nr[k]
				split("", tr); split("", cr); split("", pa); split("", pb)
				for (x = 1; x <= m; x++) {
					r = rounds[k, x]
					tr[x] = rps[k, r, "B"] / rps[k, r, "A"]; cr[x] = cpr[k, r, "B"] / cpr[k, r, "A"]
				}
				for (x = 1; x <= np[k, "A"]; x++) pa[x] = p99[k, "A", x]
				for (x = 1; x <= np[k, "B"]; x++) pb[x] = p99[k, "B", x]
				a = req[k, "A"] / dur[k, "A"] * 1e6; b = req[k, "B"] / dur[k, "B"] * 1e6
				ma = med(pa, np[k, "A"]); mb = med(pb, np[k, "B"])
				ca = cpu[k, "A"] / clk * 1e6 / req[k, "A"]; cb = cpu[k, "B"] / clk * 1e6 / req[k, "B"]
				printf "| %s | %.0f | %.0f | %.3f | %s | %.2f | %.2f | %+.1f %% | %.1f | %.1f | %.3f | %s | %d |\n",
					k, a, b, b / a, spread(tr, m), ma / 1000, mb / 1000, (mb / ma - 1) * 100,
					ca, cb, cb / ca, spread(cr, m), err[k]
			}
		}' "${1:-$out/load.tsv}"
}

# start_pair: plain Caddy A and Caddy B with inubit_sessions, each with
# its admin API (for profiles) unless BENCH_PROFILE=0, and the pool of
# 1,000 sessions. Sets pid_a, pid_b, admin_a, admin_b.
start_pair() {
	admin_a=off admin_b=off
	if [[ ${BENCH_PROFILE:-1} == 1 ]]; then
		admin_a=$((base + 7)) admin_b=$((base + 8))
	fi
	start_caddy A $((base + 1)) 0 "$admin_a"
	pid_a=$caddy_pid
	start_caddy B $((base + 2)) 1 "$admin_b"
	pid_b=$caddy_pid
	# session S of the pool: cookie bench-S, user uS%100, ID S; also sent
	# to A, where the cookies mean nothing, so that both saw the same
	for port in $((base + 1)) $((base + 2)); do
		sessions "$port" -prefix bench- -n 1000 -ids 1
	done
}

load_section() {
	start_pair
	: >"$out/prof.tsv"
	printf 'scenario\tround\tserver\trequests\tduration_us\tp99_us\terrors\tcpu_ticks\tp50_us\n' >"$out/load.tsv"
	for scenario in $scenarios; do
		duration=2 wrk_round "$scenario" warm A $((base + 1)) "$pid_a"
		duration=2 wrk_round "$scenario" warm B $((base + 2)) "$pid_b"
		if [[ $admin_a != off ]]; then
			wrk_round "$scenario" prof A $((base + 1)) "$pid_a" "$admin_a"
			wrk_round "$scenario" prof B $((base + 2)) "$pid_b" "$admin_b"
		fi
		for round in $(seq "$rounds"); do
			wrk_round "$scenario" "$round" A $((base + 1)) "$pid_a" "$admin_a"
			wrk_round "$scenario" "$round" B $((base + 2)) "$pid_b" "$admin_b"
		done
	done
	grep -h '"level":"error"' "$out/B/caddy.log" "$out/A/caddy.log" >&2 || true
	stop "$pid_a"
	stop "$pid_b"

	note "## Load: plain Caddy (A) against Caddy with inubit_sessions (B)"
	note ""
	note "$rounds alternating rounds of ${duration}s per server, \`wrk -t$(wrk_threads "$conns") -c$conns\`$([[ $per_conn == 1 ]] && echo ', one session per connection')," \
		"pinning: ${pin_caddy[*]:-none} for Caddy, ${pin_load[*]:-none} for wrk and upstream."
	note "Throughput and CPU/request: all requests of all rounds; B/A per round: median (min..max)"
	note "of the ratios of each round's A and B run, which saw about the same machine noise."
	note "p99: median over rounds. CPU: utime+stime of the Caddy process (/proc/PID/stat)."
	note ""
	load_table >>"$summary"
	note ""
	[[ $admin_a != off ]] && profile_shares
	return 0
}

# --- side: A and B at once ---------------------------------------------
# side_round SCENARIO ROUND PID_A PID_B: one wrk against each Caddy at the
# same time. Both Caddys are pinned to the same CPU (BENCH_PIN=1), so the
# scheduler shares it between them: each process's requests per CPU
# second are measured under the same noise, and the one that costs more
# per request serves fewer.
side_round() {
	local scenario=$1 round=$2 pid_a=$3 pid_b=$4 sessions=${BENCH_POOL:-1000} prefix=bench- half=$((conns / 2))
	if [[ $scenario == new_id ]]; then
		sessions=10000 prefix=new-
	fi
	local a0 b0 a1 b1 line_a line_b id_base=$round
	[[ $round == warm ]] && id_base=97
	[[ $round == prof ]] && id_base=96
	a0=$(cpu_ticks "$pid_a") b0=$(cpu_ticks "$pid_b")
	BENCH_SCENARIO=$scenario BENCH_SESSIONS=$sessions BENCH_PREFIX=$prefix BENCH_NEW_BASE=$((id_base * 100000000 + 50000000)) \
		"${pin_load[@]}" wrk -t"$(wrk_threads "$half")" -c"$half" -d"${duration}s" -s scripts/bench/wrk.lua \
		"http://127.0.0.1:$((base + 1))" >"$out/side-a.out" &
	local wa=$!
	BENCH_SCENARIO=$scenario BENCH_SESSIONS=$sessions BENCH_PREFIX=$prefix BENCH_NEW_BASE=$((id_base * 100000000 + 50000000)) \
		"${pin_load[@]}" wrk -t"$(wrk_threads "$half")" -c"$half" -d"${duration}s" -s scripts/bench/wrk.lua \
		"http://127.0.0.1:$((base + 2))" >"$out/side-b.out" &
	local wb=$!
	wait "$wa" "$wb"
	a1=$(cpu_ticks "$pid_a") b1=$(cpu_ticks "$pid_b")
	[[ $round == warm ]] && return 0
	if [[ $round == prof ]]; then
		printf '%s\tA\t%s\n%s\tB\t%s\n' "$scenario" "$(grep -o 'requests=[0-9]*' "$out/side-a.out" | cut -d= -f2)" \
			"$scenario" "$(grep -o 'requests=[0-9]*' "$out/side-b.out" | cut -d= -f2)" >>"$out/side-prof.tsv"
		return 0
	fi
	line_a=$(grep '^BENCH ' "$out/side-a.out") line_b=$(grep '^BENCH ' "$out/side-b.out")
	local requests duration_us p50_us p99_us errors non2xx
	# shellcheck disable=SC2086
	local $(echo "${line_a#BENCH }")
	printf '%s\t%s\tA\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$round" "$requests" "$duration_us" "$p99_us" \
		"$((errors + non2xx))" "$((a1 - a0))" >>"${side_tsv:-$out/side.tsv}"
	# shellcheck disable=SC2086
	local $(echo "${line_b#BENCH }")
	printf '%s\t%s\tB\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$round" "$requests" "$duration_us" "$p99_us" \
		"$((errors + non2xx))" "$((b1 - b0))" >>"${side_tsv:-$out/side.tsv}"
	say "side $scenario round $round: A $(tail -2 "${side_tsv:-$out/side.tsv}" | head -1 | cut -f4) B $requests requests"
}

side_section() {
	start_pair
	printf 'scenario\tround\tserver\trequests\tduration_us\tp99_us\terrors\tcpu_ticks\n' >"$out/side.tsv"
	: >"$out/side-prof.tsv"
	for scenario in $scenarios; do
		duration=2 side_round "$scenario" warm "$pid_a" "$pid_b"
		if [[ ${BENCH_PERF:-0} == 1 ]]; then # both sampled by perf in the same round
			perf record -q -F 4999 -e cpu-clock -g -p "$pid_a" -o "$out/side-perf-$scenario-A.data" \
				-- sleep "$((duration - 1))" 2>>"$out/perf.log" &
			local perf_a=$!
			perf record -q -F 4999 -e cpu-clock -g -p "$pid_b" -o "$out/side-perf-$scenario-B.data" \
				-- sleep "$((duration - 1))" 2>>"$out/perf.log" &
			local perf_b=$!
			side_round "$scenario" prof "$pid_a" "$pid_b"
			wait "$perf_a" "$perf_b"
		elif [[ $admin_a != off ]]; then # both profiled in the same round
			curl -fso "$out/side-cpu-$scenario-A.pprof" \
				"http://127.0.0.1:$admin_a/debug/pprof/profile?seconds=$((duration - 1))" &
			local prof_a=$!
			curl -fso "$out/side-cpu-$scenario-B.pprof" \
				"http://127.0.0.1:$admin_b/debug/pprof/profile?seconds=$((duration - 1))" &
			local prof_b=$!
			side_round "$scenario" prof "$pid_a" "$pid_b"
			wait "$prof_a" "$prof_b"
		fi
		for round in $(seq "$rounds"); do
			side_round "$scenario" "$round" "$pid_a" "$pid_b"
		done
	done
	stop "$pid_a"
	stop "$pid_b"
	note "## Side by side: A and B loaded at once"
	note ""
	note "$rounds rounds of ${duration}s; in each, \`wrk -t$(wrk_threads $((conns / 2))) -c$((conns / 2))\`$([[ $per_conn == 1 ]] && echo ', one session per connection,') against A and another against B at the same"
	note "time; pinning: ${pin_caddy[*]:-none} for both Caddys (they share that CPU), ${pin_load[*]:-none} for wrk and upstream."
	note "CPU per request is the figure to read; throughput only shows how the scheduler split the CPU."
	note ""
	load_table "$out/side.tsv" >>"$summary"
	note ""
}

# --- scale: the cost as the session table grows --------------------------
# One pair of Caddys, grown to each count of scale_steps (sessions with one
# ID each, in B's bolt store); at each count, side-by-side rounds of
# tracked and known_id whose cookies rotate over all the sessions, so that
# most requests find their session out of the CPU's caches. Always the
# next session per request, also with BENCH_PER_CONN=1.
scale_section() {
	local saved_per_conn=$per_conn n=1000 step scenario round
	per_conn=0
	export BENCH_PER_CONN=0
	start_pair
	note "## How the cost grows with the number of sessions"
	note ""
	note "Side by side as above, \`wrk -t1 -c$((conns / 2))\` against each Caddy, cookies rotating over all"
	note "sessions; $rounds rounds of ${duration}s per count; bolt store on; the sessions were created"
	note "(one request with one ID each) before the rounds."
	note ""
	for step in $scale_steps; do
		if ((step > n)); then
			for port in $((base + 1)) $((base + 2)); do
				sessions "$port" -prefix bench- -from "$n" -n $((step - n)) -ids 1 -c 8
			done
			n=$step
			sleep 2 # B's persist worker stores them within a second
		fi
		side_tsv=$out/scale-$n.tsv
		printf 'scenario\tround\tserver\trequests\tduration_us\tp99_us\terrors\tcpu_ticks\n' >"$side_tsv"
		for scenario in tracked known_id; do
			BENCH_POOL=$n duration=2 side_round "$scenario" warm "$pid_a" "$pid_b"
			for round in $(seq "$rounds"); do
				BENCH_POOL=$n side_round "$scenario" "$round" "$pid_a" "$pid_b"
			done
		done
		note "### $n sessions"
		note ""
		load_table "$side_tsv" >>"$summary"
		note ""
		unset side_tsv
	done
	stop "$pid_a"
	stop "$pid_b"
	per_conn=$saved_per_conn
	export BENCH_PER_CONN=$per_conn
}

# seconds FUNC-REGEXP FILE: cumulative CPU of the first matching function
# in a pprof -top -cum listing, in seconds
cum_seconds() {
	awk -v re="$1" '$6 ~ re { v = $4; if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else if (v ~ /us$/) { sub(/us$/, "", v); v /= 1e6 } else sub(/s$/, "", v); print v + 0; found = 1; exit } END { if (!found) print 0 }' "$2"
}

# profile_shares: from the profiled rounds, the share of B's CPU spent in
# the handler itself (ServeHTTP minus reverse_proxy under it) and in its
# background workers.
profile_shares() {
	note "CPU profiles (one more, uncounted ${duration}s round per scenario and server), in CPU µs"
	note "per request of that round: all samples of A and B; of B, the handler's own code"
	note "(inubit_sessions ServeHTTP minus the reverse_proxy it calls), its workers (persist,"
	note "sweep, delivery) and the GC's background workers (A's in brackets)."
	note ""
	note "| scenario | A µs/req | B µs/req | B − A | handler own | workers | GC workers B (A) | rest |"
	note "|---|---:|---:|---:|---:|---:|---:|---:|"
	local scenario name total handler proxy workers gc req
	for scenario in $scenarios; do
		local -A v=()
		for name in A B; do
			top=$out/cpu-$scenario-$name.top
			go tool pprof -top -cum -nodecount=100000 "$caddy_bin" "$out/cpu-$scenario-$name.pprof" \
				>"$top" 2>/dev/null || continue 2
			req=$(awk -F'\t' -v k="$scenario" -v s="$name" '$1 == k && $2 == s { print $3 }' "$out/prof.tsv")
			v[$name.req]=$req
			v[$name.total]=$(awk '/Total samples/ { for (i = 1; i <= NF; i++) if ($i == "=") v = $(i + 1)
				if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else sub(/s$/, "", v); print v + 0; exit }' "$top")
			v[$name.gc]=$(cum_seconds '^runtime[.]gcBgMarkWorker$' "$top")
			v[$name.handler]=$(cum_seconds 'caddy-inubit-sessions[.][(][*]Handler[)][.]ServeHTTP$' "$top")
			v[$name.proxy]=$(cum_seconds 'reverseproxy[.][(][*]Handler[)][.]ServeHTTP$' "$top")
			v[$name.workers]=$(cum_seconds 'caddy-inubit-sessions[.][(][*]state[)][.]runWorker$' "$top")
		done
		awk -v s="$scenario" -v ra="${v[A.req]}" -v rb="${v[B.req]}" -v ta="${v[A.total]}" -v tb="${v[B.total]}" \
			-v ga="${v[A.gc]}" -v gb="${v[B.gc]}" -v h="${v[B.handler]}" -v p="${v[B.proxy]}" -v w="${v[B.workers]}" 'BEGIN {
			u = 1e6; a = ta / ra * u; b = tb / rb * u; own = (h - p) / rb * u; wk = w / rb * u
			gcb = gb / rb * u; gca = ga / ra * u
			printf "| %s | %.1f | %.1f | %+.1f | %.1f | %.1f | %.1f (%.1f) | %+.1f |\n", s, a, b, b - a, own, wk,
				gcb, gca, (b - a) - own - wk - (gcb - gca) }' >>"$summary"
	done
	note ""
	note "\"rest\" is B − A less the three named parts: noise, and time spent elsewhere"
	note "because of the handler (allocation in other code, scheduling)."
	note ""
}

# --- memory: resident bytes per session ----------------------------------
# settle PID ADMIN TAG: two forced collections through the admin API (the
# heap profile of the second is kept), then a pause for the scavenger;
# prints "rss anon file heapinuse" in bytes.
settle() {
	local pid=$1 admin=$2 tag=$3
	curl -fso /dev/null "http://127.0.0.1:$admin/debug/pprof/heap?gc=1"
	sleep 2
	curl -fso "$out/heap-$tag.pprof" "http://127.0.0.1:$admin/debug/pprof/heap?gc=1"
	sleep 5
	local heap
	heap=$(curl -fs "http://127.0.0.1:$admin/debug/vars" | jq '.memstats.HeapInuse')
	echo "$(($(status_kb "$pid" VmRSS) * 1024)) $(($(status_kb "$pid" RssAnon) * 1024))" \
		"$(($(status_kb "$pid" RssFile) * 1024)) $heap"
}

memory_section() {
	local port=$((base + 3)) admin=$((base + 4))
	start_caddy M "$port" 1 "$admin"
	local pid=$caddy_pid
	# warm up without session cookies: no session is created
	"${pin_load[@]}" wrk -t1 -c8 -d2s "http://127.0.0.1:$port/page" >/dev/null
	local before now n=0
	before=$(settle "$pid" "$admin" m0)
	say "memory before sessions: $before"
	note "## Memory per tracked session (real Caddy, bolt store on)"
	note ""
	note "Sessions created by requests (cookie, user, one webappIdentifier each) through"
	note "cmd/benchsessions; after each step two forced GCs via the admin API and 5 s of"
	note "settling. Baseline: $(awk '{ printf "VmRSS %.1f MiB, RssAnon %.1f MiB, RssFile %.1f MiB, HeapInuse %.1f MiB", $1/1048576, $2/1048576, $3/1048576, $4/1048576 }' <<<"$before")."
	note ""
	note "| sessions | VmRSS MiB | B/session VmRSS | B/session RssAnon | B/session RssFile | B/session HeapInuse | store file MiB |"
	note "|---:|---:|---:|---:|---:|---:|---:|"
	for target in $mem_steps; do
		sessions "$port" -prefix mem- -from "$n" -n $((target - n)) -ids 1 -c 8
		n=$target
		sleep 1 # the persist worker writes within 100 ms
		now=$(settle "$pid" "$admin" "m$n")
		say "memory at $n sessions: $now"
		local db_bytes
		db_bytes=$(stat -c %s "$out/M/sessions/inubit_sessions.db")
		awk -v n="$n" -v db="$db_bytes" '
			NR == 1 { split($0, b) } NR == 2 { split($0, a) }
			END {
				printf "| %d | %.1f | %.0f | %.0f | %.0f | %.0f | %.1f |\n", n, a[1] / 1048576,
					(a[1] - b[1]) / n, (a[2] - b[2]) / n, (a[3] - b[3]) / n, (a[4] - b[4]) / n, db / 1048576
			}' <(echo "$before") <(echo "$now") >>"$summary"
	done
	note ""
	go tool pprof -top -sample_index=inuse_space -nodecount=25 "$caddy_bin" "$out/heap-m$n.pprof" \
		>"$out/memory-heap-top.txt" 2>/dev/null || true
	go tool pprof -top -sample_index=inuse_space -nodecount=25 -base "$out/heap-m0.pprof" "$caddy_bin" \
		"$out/heap-m$n.pprof" >"$out/memory-heap-diff.txt" 2>/dev/null || true
	note "Heap growth by allocation site, 0 -> $n sessions (\`go tool pprof -top -sample_index=inuse_space -base\`):"
	note ""
	note '```'
	sed -n '/flat%/,$p' "$out/memory-heap-diff.txt" | head -16 >>"$summary"
	note '```'
	note ""
	stop "$pid"
}

# --- pending: a long INUBIT maintenance ---------------------------------
pending_section() {
	local port=$((base + 5)) admin=$((base + 6)) ids=100
	local total=$((pending_sessions * ids))
	curl -fso /dev/null "$inubit/bench/maintenance?on=1"
	start_caddy P "$port" 1 "$admin"
	local pid=$caddy_pid
	"${pin_load[@]}" wrk -t1 -c8 -d2s "http://127.0.0.1:$port/page" >/dev/null
	local before after
	before=$(settle "$pid" "$admin" p0)
	local t0=$SECONDS
	sessions "$port" -prefix pend- -n "$pending_sessions" -ids "$ids" -users 100 -logout /logout -c 8
	local queue_s=$((SECONDS - t0))
	sleep 3 # the last ended sessions are written and delivery meets the 503
	after=$(settle "$pid" "$admin" "p$total")
	say "memory with $total pending IDs: $after (before: $before)"
	local db_bytes
	db_bytes=$(stat -c %s "$out/P/sessions/inubit_sessions.db")
	go tool pprof -top -sample_index=inuse_space -nodecount=20 -base "$out/heap-p0.pprof" "$caddy_bin" \
		"$out/heap-p$total.pprof" >"$out/pending-heap-diff.txt" 2>/dev/null || true

	# maintenance over: how long until INUBIT has every ID
	curl -fso /dev/null "$inubit/bench/maintenance?on=0"
	t0=$SECONDS
	local cleared=0
	while ((cleared < total && SECONDS - t0 < 1200)); do
		sleep 2
		cleared=$(curl -fs "$inubit/bench/cleared")
	done
	local drain_s=$((SECONDS - t0))
	local drained
	drained=$(settle "$pid" "$admin" p-drained)
	stop "$pid"

	note "## $total pending IDs during an INUBIT maintenance"
	note ""
	note "$pending_sessions sessions with $ids IDs each (100 users) ended by logout while the"
	note "emulator answered 503; the queue lives in bolt. Queued in ${queue_s}s."
	note ""
	note "| | VmRSS MiB | RssAnon MiB | RssFile MiB | HeapInuse MiB |"
	note "|---|---:|---:|---:|---:|"
	for row in "before:$before" "$total pending:$after" "after drain:$drained"; do
		awk -v label="${row%%:*}" '{ printf "| %s | %.1f | %.1f | %.1f | %.1f |\n", label,
			$1 / 1048576, $2 / 1048576, $3 / 1048576, $4 / 1048576 }' <<<"${row#*:}" >>"$summary"
	done
	note ""
	note "Store file: $(awk -v b="$db_bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }')" \
		"($(awk -v b="$db_bytes" -v n="$total" 'BEGIN { printf "%.0f", b / n }') B/ID)."
	note "After maintenance ended: INUBIT had $cleared of $total IDs after ${drain_s}s" \
		"(includes up to 10 s until the next health probe; batch_size 100, concurrency 4)."
	note ""
}

# --- go test -bench -------------------------------------------------------
# median_rows UNIT FILE [REGEX]: one table row per benchmark of FILE whose
# line matches REGEX: its name, the median of its UNIT figures over the
# runs, its B/op and allocs/op.
median_rows() {
	awk -v unit="$1" -v re="${3:-^Benchmark}" '
		$0 ~ re {
			name = $1; sub(/-[0-9]+$/, "", name)
			if (!(name in cnt)) order[++n] = name
			m = ++cnt[name]
			for (i = 3; i < NF; i++) {
				if ($(i + 1) == unit) v[name, m] = $i
				if ($(i + 1) == "B/op") bop[name] = $i
				if ($(i + 1) == "allocs/op") al[name] = $i
			}
		}
		END {
			for (i = 1; i <= n; i++) {
				k = order[i]; m = cnt[k]
				for (x = 1; x <= m; x++) a[x] = v[k, x] + 0
				for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
				printf "| %s | %.0f | %s | %s |\n", k, m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2, bop[k], al[k]
			}
		}' "$2"
}

go_section() {
	say "go test -bench (ServeHTTP, LargePage), count $go_count"
	go test -run '^$' -bench '^Benchmark(ServeHTTP|LargePage)$' -benchtime 1s -count "$go_count" . \
		>"$out/go-serve.txt"
	say "go test -bench (ServeHTTPSessions, Restart, sessiontracker Sweep), count $go_count"
	# A start logs a line, which can land between a benchmark's name
	# and its result: bench_lines puts them back together.
	bench_lines() { awk '/^Benchmark/ { if (/ns\/op/) { print; name = "" } else name = $1; next }
		name != "" && /ns\/op/ { print name, $0; name = "" }'; }
	go test -run '^$' -bench '^Benchmark(ServeHTTPSessions|Restart)$' -benchtime 1s -count "$go_count" . \
		2>&1 | bench_lines >"$out/go-scale.txt"
	go test -run '^$' -bench '^BenchmarkSweep$' -benchtime 1s -count "$go_count" ./sessiontracker \
		2>&1 | bench_lines >>"$out/go-scale.txt"
	say "go test -bench (sessiontracker Scanner), count $go_count"
	go test -run '^$' -bench 'Scanner' -benchtime 1s -count "$go_count" ./sessiontracker \
		>"$out/go-scanner.txt"
	local mem_filter='SessionMemory|PendingMemory'
	[[ $mode == quick ]] && mem_filter='SessionMemory/sessions=1000$|SessionMemory/sessions=10000$'
	say "go test -bench ($mem_filter), once"
	go test -run '^$' -bench "$mem_filter" -benchtime 1x -timeout 30m . >"$out/go-memory.txt"

	note "## go test -bench (medians of $go_count runs)"
	note ""
	note "| benchmark | bare ns/op | handler ns/op | added ns | bare allocs | handler allocs | handler B/op | handler MB/s |"
	note "|---|---:|---:|---:|---:|---:|---:|---:|"
	awk '
		/^Benchmark(ServeHTTP|LargePage)\// {
			name = $1; sub(/-[0-9]+$/, "", name)
			m = ++cnt[name]
			for (i = 3; i < NF; i++) {
				if ($(i + 1) == "ns/op") ns[name, m] = $i
				if ($(i + 1) == "B/op") bop[name, m] = $i
				if ($(i + 1) == "allocs/op") al[name, m] = $i
				if ($(i + 1) == "MB/s") mbs[name, m] = $i
			}
			base = name; sub(/\/(bare|handler)$/, "", base)
			if (!(base in seen)) { seen[base] = 1; order[++n] = base }
		}
		function med(arr, name,    m, i, j, t, a) {
			m = cnt[name]; if (m == 0) return 0
			for (i = 1; i <= m; i++) a[i] = arr[name, i] + 0
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		}
		END {
			for (i = 1; i <= n; i++) {
				k = order[i]; b = k "/bare"; h = k "/handler"
				printf "| %s | %.0f | %.0f | %.0f | %d | %d | %d | %s |\n", k, med(ns, b), med(ns, h),
					med(ns, h) - med(ns, b), med(al, b), med(al, h), med(bop, h),
					(cnt[h] && mbs[h, 1] != "") ? sprintf("%.0f", med(mbs, h)) : ""
			}
		}' "$out/go-serve.txt" >>"$summary"
	note ""
	note "sessiontracker scanner alone (1 MiB page):"
	note ""
	note "| benchmark | MB/s (median) | B/op | allocs/op |"
	note "|---|---:|---:|---:|"
	median_rows MB/s "$out/go-scanner.txt" '^BenchmarkScanner/' >>"$summary"
	note ""
	note "As the session count grows (medians): requests rotating over n stored sessions, a start"
	note "that loads n sessions, one sweep of n sessions none of which is due:"
	note ""
	note "| benchmark | ns/op (median) | B/op | allocs/op |"
	note "|---|---:|---:|---:|"
	median_rows ns/op "$out/go-scale.txt" >>"$summary"
	note ""
	note "Memory benchmarks (one run each):"
	note ""
	note '```'
	grep -E '^Benchmark(SessionMemory|PendingMemory)' "$out/go-memory.txt" >>"$summary" || true
	note '```'
	note ""
}

if [[ $mode == report ]]; then
	load_table
	exit 0
fi
{
	note "# inubit_sessions benchmark, $mode mode, $(date -u +%Y-%m-%dT%H:%MZ)"
	note ""
	note "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!BENCHMARKS.md' || echo ' (modified)')," \
		"$(go version | cut -d' ' -f3), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))," \
		"./caddy $(./caddy version 2>/dev/null | cut -d' ' -f1 || echo '?')"
	note ""
}
if has load || has side || has scale || has memory || has pending; then
	start_upstream
fi
has load && load_section
has side && side_section
has scale && scale_section
has memory && memory_section
has pending && pending_section
has go && go_section
say "raw output in $out"
cat "$summary"
