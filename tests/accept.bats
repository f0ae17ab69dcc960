#!/usr/bin/env bats
# dsd when the system runs out of file descriptors: it pauses accepting
# with a backoff instead of spinning on a listener that stays readable,
# and takes the waiting clients once descriptors are free again.

load helper

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() {
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# holder: a client that connects and keeps its connection, saying
# nothing, until it is killed.  They all read the fifo $T/hold, which the
# test holds open, so none of them ever sees end of file.
holder() {
	socat -u - "TCP:$addr" <"$T/hold" >/dev/null 2>&1 3>&- &
	HOLDERS+=("$!")
	BG_PIDS+=("$!")
}

@test "EMFILE: accepting pauses with a backoff, does not spin, and recovers" {
	HOLDERS=()
	# A hard limit dsd cannot raise: about 16 clients fit.
	(
		ulimit -n 24
		exec dsd -1 -l 127.0.0.1:0 -d 120 -c 1000
	) >"$T/addr" 2>"$T/err" 3>&- &
	BG_PIDS+=("$!")
	pid=$!
	wait_for 5 test -s "$T/addr"
	addr=$(cat "$T/addr")
	mkfifo "$T/hold"
	for _ in $(seq 30); do
		holder
	done
	exec 8>"$T/hold"
	wait_for 10 grep -q 'Too many open files; accepting again in' "$T/err"

	# The listener stays readable all along; a loop that polled it would
	# burn a whole CPU.  Over two seconds dsd may use a few ticks at most.
	before=$(cpu_ticks "$pid")
	sleep 2
	after=$(cpu_ticks "$pid")
	[ $((after - before)) -le 20 ] || {
		echo "dsd used $((after - before)) ticks in 2 s" >&2
		false
	}
	# The backoff grows: a handful of log lines, not hundreds.
	[ "$(grep -c 'accepting again' "$T/err")" -le 10 ]
	grep -q 'accepting again in 200 ms' "$T/err"

	# Free descriptors: the clients that waited in the backlog are
	# served, and a new one gets its hello answered.
	for h in "${HOLDERS[@]:0:20}"; do
		kill "$h"
	done
	printf 'ds1 from=late to=* type=hello id=1\n\n' |
	    timeout 10 socat -t 5 - "TCP:$addr" >"$T/late" || true
	exec 8>&-
	bytes_are "$T/late" 'ds1 from=dsd to=late type=hello re=1 max=16777216 queue=1048576 len=0\n\n'
	kill -0 "$pid"
}
