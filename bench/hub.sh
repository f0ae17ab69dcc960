#!/bin/sh
# Benchmark the hub dsd against nats-server, a message server of the same
# kind: `make bench` runs it from the top of the repository, after
# bench/framers.sh.  See bench/RESULTS.md, "Hub", for what it measures.
#
#   1. 1 -> 1 throughput: one publisher, one subscriber, BENCH_MSGS
#      messages of 16 B, 128 B and 1 KiB.  Messages a second at the
#      subscriber.  Target: ds/nats at least 1.5.
#   2. Request/reply: one requester, one responder, each request waits for
#      its reply.  p50 and p99 round-trip latency.  Target: ds/nats at
#      most 0.8.
#   3. 10,000 idle connections: the server's RSS growth per connection
#      (target: ds/nats at most 0.5), and 1 -> 1 throughput at 128 B with
#      them open against the same with 10 open (target: at least 0.5, for
#      each server).
#
# Both servers listen on 127.0.0.1, on a free port, and each measurement
# gets a fresh server.  The load comes from bench/loadgen.c, built here
# into build/bench; it speaks ds1 to dsd and the NATS text protocol to
# nats-server, and asks the same of both.  Each case runs BENCH_RUNS
# times, the two servers taking turns going first, and the medians give
# the ratios.
#
# Environment: BENCH_RUNS (default 5) runs of each case; BENCH_MSGS
# (default 2000000) messages per throughput run; BENCH_RR (default 20000)
# round trips per latency run; BENCH_IDLE (default 10000) idle
# connections; DS_BIN (default build/bin) where dsd is; CC (default cc).
# nats-server comes from the Debian package nats-server, which is
# installed when missing if this runs as root.  It exits 1 if a run fails,
# and 0 otherwise, whether or not a target is met: this is a benchmark,
# not a test.

runs=${BENCH_RUNS:-5}
msgs=${BENCH_MSGS:-2000000}
rr_count=${BENCH_RR:-20000}
idle=${BENCH_IDLE:-10000}
bin=${DS_BIN:-build/bin}
obj=build/bench
lg=$obj/loadgen
sizes="16 128 1024"
rr_size=16
idle_size=128
few=10                          # case 3: the baseline number of connections

die() {
	echo "hub.sh: $*" >&2
	exit 1
}

# positive NAME VALUE: VALUE must be a positive number.
positive() {
	case $2 in
	'' | *[!0-9]* | 0) die "$1 must be a positive number, not '$2'" ;;
	esac
}
positive BENCH_RUNS "$runs"
positive BENCH_MSGS "$msgs"
positive BENCH_RR "$rr_count"
positive BENCH_IDLE "$idle"
[ -x "$bin/dsd" ] || die "no $bin/dsd: run make first"
case $(date +%s%N) in
*N) die "date +%s%N does not give nanoseconds here (GNU date needed)" ;;
esac

# nats-server lives in /usr/sbin, which is not on every PATH.
find_nats() {
	command -v nats-server 2>/dev/null ||
	    { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; }
}
nats=$(find_nats)
if [ -z "$nats" ]; then
	[ "$(id -u)" = 0 ] ||
		die "nats-server is missing: install the Debian package nats-server (apt-get install nats-server) as root"
	echo "installing nats-server with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server >/dev/null 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server >/dev/null; } ||
		die "apt-get install nats-server failed"
	nats=$(find_nats)
	[ -n "$nats" ] || die "nats-server is still missing after apt-get install"
fi
nats_version=$("$nats" --version 2>/dev/null | sed 's/^nats-server: *//')

# Every server and the idle connections need a descriptor each.  ulimit -n
# is not POSIX, but dash, bash and busybox sh all have it.
need_fds=$((idle + 256))
# shellcheck disable=SC3045
cur_fds=$(ulimit -n)
if [ "$cur_fds" != unlimited ] && [ "$cur_fds" -lt "$need_fds" ]; then
	# shellcheck disable=SC3045
	ulimit -n "$need_fds" 2>/dev/null ||
		die "ulimit -n is $cur_fds and $idle connections need $need_fds: run as root, or set BENCH_IDLE lower"
fi
maxconn=$((idle + 64))

mkdir -p "$obj" || exit 1
# shellcheck disable=SC2086
${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow \
    -Wmissing-prototypes -Wstrict-prototypes -O2 -o "$lg" bench/loadgen.c ||
	die "cannot build $lg"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-bench.XXXXXX") || exit 1
srv_pid=
idle_pid=
# Stop only what this script started, by its pid.
cleanup() {
	[ -n "$idle_pid" ] && kill "$idle_pid" 2>/dev/null
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# Measure a copy, so that a make during the run cannot change the program
# half-way through.
cp "$bin/dsd" "$tmp/dsd" || die "cannot copy $bin/dsd"
dsd=$tmp/dsd

ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)

# median: of the numbers on stdin, one a line.
median() {
	sort -n | awk '{ v[NR] = $1 }
	    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# calc EXPR [VAR=VALUE...]: an awk expression, printed as awk prints it.
calc() {
	e=$1
	shift
	awk "$@" "BEGIN { print $e }" </dev/null
}

# The resident set of process $1 in KiB, and its CPU time in seconds.
rss_of() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}
cpu_of() {
	awk -v t="$ticks" '{ print ($14 + $15) / t }' "/proc/$1/stat"
}

# start_server ds|nats: a fresh server on a free port of 127.0.0.1;
# sets srv_pid and srv_addr and returns once it takes connections.
start_server() {
	case $1 in
	ds)
		: >"$tmp/dsd.out"
		"$dsd" -1 -l 127.0.0.1:0 -c "$maxconn" >"$tmp/dsd.out" \
		    2>"$tmp/server.err" &
		srv_pid=$!
		deadline=$(($(date +%s) + 10))
		until grep -q . "$tmp/dsd.out"; do
			kill -0 "$srv_pid" 2>/dev/null ||
				die "dsd exited: $(tail -n 1 "$tmp/server.err")"
			[ "$(date +%s)" -lt "$deadline" ] ||
				die "dsd printed no address within 10 s"
			sleep 0.05
		done
		srv_addr=$(head -n 1 "$tmp/dsd.out")
		;;
	nats)
		port=$("$lg" port) || die "no free port"
		"$nats" -a 127.0.0.1 -p "$port" >"$tmp/server.err" 2>&1 &
		srv_pid=$!
		srv_addr=127.0.0.1:$port
		;;
	esac
	"$lg" "$1" "$srv_addr" wait 10 2>"$tmp/lg.err" ||
		die "$1 server on $srv_addr did not start: $(cat "$tmp/lg.err")" \
		    "$(tail -n 1 "$tmp/server.err")"
}

stop_server() {
	kill "$srv_pid" 2>/dev/null
	wait "$srv_pid" 2>/dev/null
	srv_pid=
}

# loadgen ds|nats ARGS...: run the load generator against the server,
# its one line of figures on stdout.
loadgen() {
	p=$1
	shift
	"$lg" "$p" "$srv_addr" "$@" 2>"$tmp/lg.err" ||
		die "loadgen $p $*: $(cat "$tmp/lg.err")"
}

# field NAME LINE: the value of NAME=... in a loadgen line.
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# The run functions below run in this shell, not in a subshell, so that
# the exit trap knows every process they start; each writes its figures
# to $tmp/result.

# tp ds|nats SIZE: one throughput run on a fresh server: the rate and the
# server's CPU seconds.
tp() {
	start_server "$1"
	c0=$(cpu_of "$srv_pid")
	line=$(loadgen "$1" tp "$2" "$msgs") || exit 1
	c1=$(cpu_of "$srv_pid")
	stop_server
	echo "$(field rate "$line") $(calc 'b - a' -v a="$c0" -v b="$c1")" \
	    >"$tmp/result"
}

# rr ds|nats: one latency run on a fresh server: p50 and p99 in µs.
rr() {
	start_server "$1"
	line=$(loadgen "$1" rr "$rr_size" "$rr_count") || exit 1
	stop_server
	echo "$(field p50_us "$line") $(field p99_us "$line")" >"$tmp/result"
}

# held ds|nats N: a fresh server, N idle connections, then a throughput
# run at idle_size: the RSS before and after (KiB) and the rate.
held() {
	start_server "$1"
	r0=$(rss_of "$srv_pid")
	: >"$tmp/idle.out"
	"$lg" "$1" "$srv_addr" idle "$2" >"$tmp/idle.out" 2>"$tmp/idle.err" &
	idle_pid=$!
	deadline=$(($(date +%s) + 120))
	until grep -q '^ready' "$tmp/idle.out"; do
		kill -0 "$idle_pid" 2>/dev/null ||
			die "loadgen $1 idle $2: $(cat "$tmp/idle.err")"
		[ "$(date +%s)" -lt "$deadline" ] ||
			die "$2 idle connections to $1 were not ready within 120 s"
		sleep 0.05
	done
	r1=$(rss_of "$srv_pid")
	line=$(loadgen "$1" tp "$idle_size" "$msgs") || exit 1
	kill "$idle_pid" 2>/dev/null
	wait "$idle_pid" 2>/dev/null
	idle_pid=
	stop_server
	echo "$r0 $r1 $(field rate "$line")" >"$tmp/result"
}

# both NAME SHOW FUNC ARGS...: FUNC ARGS... ds and FUNC ARGS... nats,
# runs times, taking turns going first; each run's figures are added to
# $tmp/NAME.ds and $tmp/NAME.nats, and printed by the function SHOW.
both() {
	name=$1
	show=$2
	shift 2
	: >"$tmp/$name.ds"
	: >"$tmp/$name.nats"
	i=1
	while [ "$i" -le "$runs" ]; do
		if [ $((i % 2)) -eq 1 ]; then
			order="ds nats"
		else
			order="nats ds"
		fi
		for s in $order; do
			"$@" "$s" || exit 1
			cat "$tmp/result" >>"$tmp/$name.$s"
			eval "fig_$s=\$(cat \"\$tmp/result\")"
		done
		# shellcheck disable=SC2154
		printf '    run %d/%d: ds %s; nats %s\n' "$i" "$runs" \
		    "$("$show" "$fig_ds")" "$("$show" "$fig_nats")"
		i=$((i + 1))
	done
}

# col N FILE: the median of column N of FILE.
col() {
	awk -v n="$1" '{ print $n }' "$2" | median
}

verdict() {
	calc "(r $1) ? \"met\" : \"MISSED\"" -v r="$2"
}

# The functions take the server last, so that both() can add it.
tp_size() { tp "$2" "$1"; }
held_n() { held "$2" "$1"; }
show_tp() {
	# shellcheck disable=SC2086
	set -- $1
	printf '%8s msg/s (server CPU %s s)' "$1" "$2"
}
show_rr() {
	# shellcheck disable=SC2086
	set -- $1
	printf 'p50 %s µs, p99 %s µs' "$1" "$2"
}
show_held() {
	# shellcheck disable=SC2086
	set -- $1
	printf '%8s msg/s, RSS %s -> %s KiB' "$3" "$1" "$2"
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "hub benchmark: $runs runs per case, medians; dsd against" \
    "nats-server $nats_version"
echo "machine: $(nproc 2>/dev/null || echo '?') cores," \
    "$(uname -sm), $(date -u '+%Y-%m-%d %H:%M UTC')"

# ---- 1. throughput ----
echo
echo "1. 1 -> 1 throughput, $msgs messages per run, at the subscriber"
summary=
for size in $sizes; do
	echo "  $size B bodies"
	both "tp$size" show_tp tp_size "$size"
	ds=$(col 1 "$tmp/tp$size.ds")
	nt=$(col 1 "$tmp/tp$size.nats")
	ds_cpu=$(col 2 "$tmp/tp$size.ds")
	nt_cpu=$(col 2 "$tmp/tp$size.nats")
	ratio=$(calc 'sprintf("%.2f", a / b)' -v a="$ds" -v b="$nt")
	ok=$(verdict ">= 1.5" "$ratio")
	printf '  median: ds %.0f msg/s, nats %.0f msg/s: ds/nats = %s (target >= 1.5: %s)\n' \
	    "$ds" "$nt" "$ratio" "$ok"
	printf '  server CPU per message: ds %.0f ns, nats %.0f ns\n' \
	    "$(calc 'c / m * 1e9' -v c="$ds_cpu" -v m="$msgs")" \
	    "$(calc 'c / m * 1e9' -v c="$nt_cpu" -v m="$msgs")"
	summary="$summary$(printf '  %-32s %10.0f msg/s %10.0f msg/s %6sx %9s %s' \
	    "1 -> 1, $size B" "$ds" "$nt" "$ratio" ">= 1.5" "$ok")
"
done

# ---- 2. request/reply ----
echo
echo "2. request/reply, $rr_size B each way, $rr_count round trips" \
    "per run after 1000 to warm up"
both rr show_rr rr
for q in 1:p50 2:p99; do
	ds=$(col "${q%:*}" "$tmp/rr.ds")
	nt=$(col "${q%:*}" "$tmp/rr.nats")
	ratio=$(calc 'sprintf("%.2f", a / b)' -v a="$ds" -v b="$nt")
	ok=$(verdict "<= 0.8" "$ratio")
	printf '  median %s: ds %s µs, nats %s µs: ds/nats = %s (target <= 0.8: %s)\n' \
	    "${q#*:}" "$ds" "$nt" "$ratio" "$ok"
	summary="$summary$(printf '  %-32s %13s µs %13s µs %6sx %9s %s' \
	    "request/reply ${q#*:}" "$ds" "$nt" "$ratio" "<= 0.8" "$ok")
"
done

# ---- 3. idle connections ----
echo
echo "3. $idle idle connections: server RSS, and 1 -> 1 throughput at" \
    "$idle_size B with them open"
echo "  with $idle connections"
both held show_held held_n "$idle"
echo "  with $few connections"
both few show_held held_n "$few"
# Per connection: the median of each run's growth over the connections.
for s in ds nats; do
	awk -v n="$idle" '{ print ($2 - $1) / n }' "$tmp/held.$s" | median \
	    >"$tmp/per.$s"
done
ds_per=$(cat "$tmp/per.ds")
nt_per=$(cat "$tmp/per.nats")
ratio=$(calc 'sprintf("%.2f", a / b)' -v a="$ds_per" -v b="$nt_per")
ok=$(verdict "<= 0.5" "$ratio")
printf '  median RSS per connection: ds %.2f KiB, nats %.2f KiB: ds/nats = %s (target <= 0.5: %s)\n' \
    "$ds_per" "$nt_per" "$ratio" "$ok"
summary="$summary$(printf '  %-32s %10.2f KiB %14.2f KiB %6sx %9s %s' \
    "RSS per idle connection" "$ds_per" "$nt_per" "$ratio" "<= 0.5" "$ok")
"
for s in ds nats; do
	many=$(col 3 "$tmp/held.$s")
	some=$(col 3 "$tmp/few.$s")
	ratio=$(calc 'sprintf("%.2f", a / b)' -v a="$many" -v b="$some")
	ok=$(verdict ">= 0.5" "$ratio")
	printf '  median %s: %.0f msg/s with %s open, %.0f msg/s with %s: ratio %s (target >= 0.5: %s)\n' \
	    "$s" "$many" "$idle" "$some" "$few" "$ratio" "$ok"
	eval "many_$s=\$many some_$s=\$some ratio_$s=\$ratio ok_$s=\$ok"
done
# shellcheck disable=SC2154
summary="$summary$(printf '  %-32s %15sx %15sx %7s %9s ds %s, nats %s' \
    "1 -> 1, $idle vs $few open" "$ratio_ds" "$ratio_nats" "" ">= 0.5" \
    "$ok_ds" "$ok_nats")
"

# ---- summary ----
echo
echo "summary (commit $commit, $runs runs, medians; nats-server $nats_version)"
printf '  %-32s %16s %16s %7s %9s %s\n' case ds nats ratio target result
printf '%s' "$summary"
