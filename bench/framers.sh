#!/bin/sh
# Benchmark the framers dssend and dsrecv against the plain Unix tools that
# do the same work without framing: `make bench` runs it from the top of
# the repository.  See bench/RESULTS.md for what it measures and why.
#
#   1. 10 million short lines: dssend -l | dsrecv -l against awk '{print}'.
#      Target: at most 1.0 times awk's wall time.
#   2. 1 GiB in 64 KiB chunks: dssend -b 65536 | dsrecv against cat | cat.
#      Target: at least 0.9 times cat's throughput.
#   3. Peak RSS of dssend and dsrecv in -l, -0 and -b modes, for an input
#      and one ten times larger.  Target: flat, within a few MiB.
#
# Each pair is measured side by side, alternating which goes first, so that
# a noisy machine slows both alike; it reports medians and ratios.
#
# Environment: BENCH_RUNS (default 5) runs of each timed case; DS_BIN (default
# build/bin) where dssend and dsrecv are.  It exits 1 if a pipeline fails or
# gives wrong output, and 0 otherwise, whether or not a target is met: this
# is a benchmark, not a test.

runs=${BENCH_RUNS:-5}
bin=${DS_BIN:-build/bin}
lines=10000000                  # case 1
bytes=1073741824                # case 2: 1 GiB
chunk=65536
rss_small_lines=1000000         # case 3: 1M and 10M lines ...
rss_small_bytes=107374182       # ... and 102.4 MiB and 1 GiB
flat_mib=4                      # "within a few MiB"

die() {
	echo "framers.sh: $*" >&2
	exit 1
}

case $runs in
'' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number, not '$runs'" ;;
esac
if [ ! -x "$bin/dssend" ] || [ ! -x "$bin/dsrecv" ]; then
	die "no $bin/dssend and $bin/dsrecv: run make first"
fi
case $(date +%s%N) in
*N) die "date +%s%N does not give nanoseconds here (GNU date needed)" ;;
esac

send="$bin/dssend -t x -f bench"
recv="$bin/dsrecv"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# Which awk this is: mawk on Debian, gawk elsewhere.
awk_path=$(command -v awk)
awk_real=$(readlink -f "$awk_path" 2>/dev/null || echo "$awk_path")
awk_name=$(awk -W version 2>/dev/null </dev/null | head -n 1)
[ -n "$awk_name" ] || awk_name=$(awk --version 2>/dev/null | head -n 1)
[ -n "$awk_name" ] || awk_name=$(basename "$awk_real")
awk_short=$(echo "$awk_name" | awk '{ print $1 }')

# elapsed COMMAND: run the shell command, print its wall time in µs.
elapsed() {
	t0=$(date +%s%N)
	eval "$1" || die "failed: $1"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

# median: of the numbers on stdin, one a line.
median() {
	sort -n | awk '{ v[NR] = $1 }
	    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pair NAME A B: time commands A and B side by side, runs times each,
# alternating which goes first; the µs times go to $tmp/NAME.a and .b.
pair() {
	: >"$tmp/$1.a"
	: >"$tmp/$1.b"
	i=1
	while [ "$i" -le "$runs" ]; do
		if [ $((i % 2)) -eq 1 ]; then
			ta=$(elapsed "$2") || exit 1
			tb=$(elapsed "$3") || exit 1
		else
			tb=$(elapsed "$3") || exit 1
			ta=$(elapsed "$2") || exit 1
		fi
		echo "$ta" >>"$tmp/$1.a"
		echo "$tb" >>"$tmp/$1.b"
		printf '  run %d/%d: %.3f s vs %.3f s\n' "$i" "$runs" \
		    "$(echo "$ta" | awk '{ print $1 / 1e6 }')" \
		    "$(echo "$tb" | awk '{ print $1 / 1e6 }')"
		i=$((i + 1))
	done
}

# cksum_of COMMAND: the cksum of what the shell command writes.
cksum_of() {
	eval "$1" | cksum
}

echo "framers benchmark: $runs runs per timed case, medians;" \
    "awk is $awk_name ($awk_real)"
echo "machine: $(nproc 2>/dev/null || echo '?') cores," \
    "$(uname -sm), $(date -u '+%Y-%m-%d %H:%M UTC')"

# ---- 1. lines ----
echo
echo "1. $lines short lines: $send -l | $recv -l   vs   awk '{print}'"
seq 1 "$lines" >"$tmp/lines" || die "cannot write $tmp/lines"
seq 1 "$rss_small_lines" >"$tmp/lines.small"
# Correctness once, outside the timing: the lines come back exactly.
[ "$(cksum_of "$send -l <'$tmp/lines.small' | $recv -l")" = \
    "$(cksum <"$tmp/lines.small")" ] || die "dssend -l | dsrecv -l changed the lines"
[ "$(cksum_of "tr '\\n' '\\0' <'$tmp/lines.small' | $send -0 | $recv -0")" = \
    "$(tr '\n' '\0' <"$tmp/lines.small" | cksum)" ] ||
	die "dssend -0 | dsrecv -0 changed the records"
pair lines "$send -l <'$tmp/lines' | $recv -l >/dev/null" \
    "awk '{print}' <'$tmp/lines' >/dev/null"
lines_ds=$(median <"$tmp/lines.a")
lines_awk=$(median <"$tmp/lines.b")
lines_ratio=$(awk -v a="$lines_ds" -v b="$lines_awk" \
    'BEGIN { printf "%.2f", a / b }')
lines_ok=$(awk -v r="$lines_ratio" 'BEGIN { print (r <= 1.0) ? "met" : "MISSED" }')
printf '  median: ds %.3f s, %s %.3f s: ds/awk = %s (target <= 1.0: %s)\n' \
    "$(awk -v t="$lines_ds" 'BEGIN { print t / 1e6 }')" "$awk_short" \
    "$(awk -v t="$lines_awk" 'BEGIN { print t / 1e6 }')" \
    "$lines_ratio" "$lines_ok"

# ---- 2. chunks ----
echo
echo "2. 1 GiB in 64 KiB chunks: $send -b $chunk | $recv   vs   cat | cat"
head -c 33554432 /dev/urandom >"$tmp/random" || die "cannot read /dev/urandom"
[ "$(cksum_of "$send -b $chunk <'$tmp/random' | $recv")" = \
    "$(cksum <"$tmp/random")" ] || die "dssend -b | dsrecv changed the bytes"
[ "$(cksum_of "cat '$tmp/random' | $send -b $chunk | $recv")" = \
    "$(cksum <"$tmp/random")" ] || die "dssend -b | dsrecv changed piped bytes"
rm -f "$tmp/random"
pair chunks "head -c $bytes /dev/zero | $send -b $chunk | $recv >/dev/null" \
    "head -c $bytes /dev/zero | cat | cat >/dev/null"
# MiB/s from the median times.
mibs() {
	awk -v t="$1" -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 / (t / 1e6) }'
}
chunks_ds=$(mibs "$(median <"$tmp/chunks.a")")
chunks_cat=$(mibs "$(median <"$tmp/chunks.b")")
chunks_ratio=$(awk -v a="$chunks_ds" -v b="$chunks_cat" \
    'BEGIN { printf "%.2f", a / b }')
chunks_ok=$(awk -v r="$chunks_ratio" 'BEGIN { print (r >= 0.9) ? "met" : "MISSED" }')
printf '  median: ds %s MiB/s, cat %s MiB/s: ds/cat = %s (target >= 0.9: %s)\n' \
    "$chunks_ds" "$chunks_cat" "$chunks_ratio" "$chunks_ok"

# ---- 3. peak RSS ----
echo
echo "3. peak RSS (MiB) of dssend and dsrecv, input x1 and x10"

# A way to get a process's peak RSS in KiB into a file: GNU time, or else
# VmHWM from /proc sampled until it exits (a lower bound, but the high
# water mark only rises, and is read at the last moment we see it).
if /usr/bin/time -f %M -o "$tmp/probe" true 2>/dev/null &&
    [ -s "$tmp/probe" ]; then
	rss_how="GNU time -f %M"
	# peak OUT COMMAND...: run COMMAND with the peak RSS in KiB to OUT.
	peak() {
		out=$1
		shift
		/usr/bin/time -f %M -o "$out" "$@"
	}
else
	rss_how="VmHWM sampled from /proc (install GNU time for exact figures)"
	peak() {
		out=$1
		shift
		"$@" &
		pid=$!
		hwm=0
		while kill -0 "$pid" 2>/dev/null; do
			v=$(sed -n 's/^VmHWM: *\([0-9]*\) kB/\1/p' \
			    "/proc/$pid/status" 2>/dev/null)
			[ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
			sleep 0.02
		done
		wait "$pid"
		st=$?
		echo "$hwm" >"$out"
		return "$st"
	}
fi
echo "  measured with $rss_how"

tr '\n' '\0' <"$tmp/lines.small" >"$tmp/nul.small"
tr '\n' '\0' <"$tmp/lines" >"$tmp/nul"

# rss MODE SIZE SOURCE SENDOPT RECVOPT: one pipeline, both peaks recorded.
# The commands and options are word lists, split on purpose.
# shellcheck disable=SC2086
rss() {
	eval "$3" | peak "$tmp/rss.$1.$2.send" $send $4 |
	    peak "$tmp/rss.$1.$2.recv" $recv $5 >/dev/null ||
		die "the $1 pipeline failed"
}
rss l 1 "cat '$tmp/lines.small'" -l -l
rss l 10 "cat '$tmp/lines'" -l -l
rss 0 1 "cat '$tmp/nul.small'" -0 -0
rss 0 10 "cat '$tmp/nul'" -0 -0
rss b 1 "head -c $rss_small_bytes /dev/zero" "-b $chunk" ""
rss b 10 "head -c $bytes /dev/zero" "-b $chunk" ""

# MiB from a file holding KiB.
mib() {
	awk '{ printf "%.1f", $1 / 1024 }' "$1"
}
rss_flat=met
rss_rows=
for mode in l 0 b; do
	case $mode in
	l) what="-l, 1M / 10M lines" ;;
	0) what="-0, 1M / 10M records" ;;
	b) what="-b 64k, 0.1 / 1 GiB" ;;
	esac
	for prog in send recv; do
		small=$(mib "$tmp/rss.$mode.1.$prog")
		large=$(mib "$tmp/rss.$mode.10.$prog")
		diff=$(awk -v a="$small" -v b="$large" 'BEGIN { printf "%+.1f", b - a }')
		flat=$(awk -v d="$diff" -v f="$flat_mib" \
		    'BEGIN { print (d < f && -d < f) ? "flat" : "GROWS" }')
		[ "$flat" = flat ] || rss_flat=MISSED
		row=$(printf '  %-22s ds%-4s %7s -> %7s MiB  (%s, %s)' "$what" \
		    "$prog" "$small" "$large" "$diff" "$flat")
		echo "$row"
		rss_rows="$rss_rows$row
"
	done
done

# ---- summary ----
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "summary (commit $commit, $runs runs, medians; $awk_short is the awk)"
printf '  %-34s %14s %16s %7s %9s %s\n' case ds baseline ratio target result
printf '  %-34s %12.3f s %14.3f s %6sx %9s %s\n' \
    "10M lines, -l | -l vs $awk_short" \
    "$(awk -v t="$lines_ds" 'BEGIN { print t / 1e6 }')" \
    "$(awk -v t="$lines_awk" 'BEGIN { print t / 1e6 }')" \
    "$lines_ratio" "<= 1.0" "$lines_ok"
printf '  %-34s %8s MiB/s %10s MiB/s %6sx %9s %s\n' \
    "1 GiB, -b 65536 vs cat | cat" "$chunks_ds" "$chunks_cat" \
    "$chunks_ratio" ">= 0.9" "$chunks_ok"
printf '  %-34s %14s %16s %7s %9s %s\n' "peak RSS, -l -0 -b, x1 vs x10" \
    "see above" "" "" "< $flat_mib MiB" "$rss_flat"
