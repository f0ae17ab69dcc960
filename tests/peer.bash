# Shared functions for the dspeer tests (peer.bats, netns.bats).  Load it
# after helper:
#
#	load helper
#	load peer
#
# `peer NAME [DSPEER-OPTION...]` starts one member: stdin is a fifo that
# this shell holds open (so that the peer keeps running, and `put NAME`
# writes frames to it), stdout goes to $T/NAME.out (its first line is the
# advertised address, from -1), stderr to $T/NAME.err, and the control
# socket is $T/NAME.sock.  Its pid is in PID_NAME, its address in
# ADDR_NAME.  By default it binds 127.0.0.1:0; PEER_LISTEN overrides that,
# and the command in the array PEER_PRE, if any, runs it (as in
# `ip netns exec NS`).

# Variables named PID_x, FD_x and ADDR_x are made with printf -v and read
# with ${!var}.
# shellcheck disable=SC2034,SC2154

# Tests run under LC_ALL=C, so that ${#body} counts bytes.
export LC_ALL=C

# Fast timings for tests that wait for a failure to be detected or a
# partition to heal: a probe every 100 ms, a full sync every second.
FAST=(-o probe=100 -o probe-timeout=50 -o suspicion=4 -o sync=1000)

PEER_PRE=()
PEER_LISTEN=
OPEN_FDS=()

# frame HEADER [BODY]: print one frame: "ds1 HEADER len=N", LF, BODY, LF.
frame() {
	printf 'ds1 %s len=%d\n%s\n' "$1" "${#2}" "$2"
}

# lines_in FILE: how many complete lines FILE holds.
lines_in() {
	local n
	n=$(wc -l <"$1")
	echo "$n"
}

has_a_line() {
	[ -f "$1" ] && [ "$(lines_in "$1")" -ge 1 ]
}

peer() {
	local name=$1 fd addr
	shift
	mkfifo "$T/$name.in"
	bg peer_proc "$T/$name" "${PEER_PRE[@]}" dspeer -n "$name" \
	    -l "${PEER_LISTEN:-127.0.0.1:0}" -1 -C "$T/$name.sock" "$@" 3>&-
	printf -v "PID_$name" %s "$!"
	exec {fd}<>"$T/$name.in"
	printf -v "FD_$name" %s "$fd"
	OPEN_FDS+=("$fd")
	if ! wait_for 10 has_a_line "$T/$name.out"; then
		echo "peer $name did not start; its stderr:"
		cat "$T/$name.err"
		return 1
	fi
	read -r addr <"$T/$name.out"
	printf -v "ADDR_$name" %s "$addr"
}

# peer_proc PREFIX CMD...: the process behind a peer.  It lets go of the
# other peers' fifos, and opens its own itself (the shell holds it open
# for writing, so that does not wait).
peer_proc() {
	local prefix=$1 fd
	shift
	for fd in "${OPEN_FDS[@]}"; do
		exec {fd}>&-
	done
	exec "$@" <"$prefix.in" >"$prefix.out" 2>"$prefix.err"
}

# put NAME HEADER [BODY]: write one frame to NAME's stdin.
put() {
	local fd=FD_$1
	frame "$2" "$3" >&"${!fd}"
}

# put_file NAME HEADER FILE: a frame whose body is FILE's bytes.
put_file() {
	local fd=FD_$1
	{
		printf 'ds1 %s len=%d\n' "$2" "$(stat -c %s "$3")"
		cat "$3"
		printf '\n'
	} >"$T/put.tmp"
	cat "$T/put.tmp" >&"${!fd}"
}

# frames NAME: what NAME wrote to stdout after its address line.
frames() {
	tail -n +2 "$T/$1.out"
}

# has_header NAME HEADER: NAME wrote a frame whose header line is
# "ds1 HEADER" (HEADER ends with its len= field).
has_header() {
	frames "$1" | grep -aqxF "ds1 $2"
}

# no_frames NAME: NAME wrote nothing after its address line.
no_frames() {
	if [ -n "$(frames "$1" | head -c 1)" ]; then
		echo "$1 wrote:"
		frames "$1" | head -c 400 | cat -A
		echo
		return 1
	fi
}

# count_header NAME HEADER: how many such frames NAME wrote.
count_header() {
	local n
	n=$(frames "$1" | grep -acxF "ds1 $2")
	echo "$n"
}

# members NAME: NAME's member list, as dsctl prints it.
members() {
	dsctl -c "$T/$1.sock" members
}

# state_of NAME PEER: PEER's state in NAME's list (empty when absent).
state_of() {
	members "$1" 2>/dev/null | awk -F '\t' -v p="$2" '$1 == p { print $3 }'
}

state_is() {
	[ "$(state_of "$1" "$2")" = "$3" ]
}

# sees_all NAME N: NAME knows exactly N members, all alive.
sees_all() {
	local list
	list=$(members "$1" 2>/dev/null) || return 1
	[ "$(printf '%s\n' "$list" | grep -c .)" -eq "$2" ] &&
	    [ "$(printf '%s\n' "$list" | awk -F '\t' '$3 == "alive"' | grep -c .)" -eq "$2" ]
}

# everyone STATE PEER NAME...: every NAME holds PEER in STATE.
everyone() {
	local state=$1 p=$2 n
	shift 2
	for n in "$@"; do
		state_is "$n" "$p" "$state" || return 1
	done
}

# all_see_all NAME...: every NAME knows exactly these members, all alive.
all_see_all() {
	local n
	for n in "$@"; do
		sees_all "$n" $# || return 1
	done
}

# group [OPTION...] -- NAME...: start NAME... with the options, the first
# alone and the others joining through it, and wait until every one of
# them sees all of them alive.
group() {
	local opts=() n first
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	first=$1
	peer "$first" "${opts[@]}"
	shift
	local seed=ADDR_$first
	for n in "$@"; do
		peer "$n" -j "${!seed}" "${opts[@]}"
	done
	wait_for 15 all_see_all "$first" "$@"
}

# stat_of NAME KEY: one counter from NAME's stats.
stat_of() {
	dsctl -c "$T/$1.sock" stats | awk -F '\t' -v k="$2" '$1 == k { print $2 }'
}

# stat_at_least NAME KEY N
stat_at_least() {
	local v
	v=$(stat_of "$1" "$2") || return 1
	[ -n "$v" ] && [ "$v" -ge "$3" ]
}

# exited PID: the process is gone (or a zombie, waiting to be reaped).
exited() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# stopped PID: the process is stopped by a signal.
stopped() {
	grep -q '^State:[[:space:]]*T' "/proc/$1/status"
}

# exit_of NAME: wait (up to 10 s) for NAME to end; its status in $rc.
exit_of() {
	local pid=PID_$1
	wait_for 10 exited "${!pid}"
	rc=0
	wait "${!pid}" || rc=$?
}

# no_line_in FILE REGEX...: no line of FILE matches any REGEX; shows the
# ones that do.
no_line_in() {
	local f=$1 re
	shift
	for re in "$@"; do
		if grep -aE "$re" "$f"; then
			echo "^ unexpected in $f"
			return 1
		fi
	done
}

# ms: the monotonic-enough wall clock in milliseconds.
ms() {
	echo $(($(date +%s%N) / 1000000))
}

# Teardown: the peers go at once, without a graceful leave; disowned, so
# that bash does not report the kill.
kill_peers() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		disown "$pid" 2>/dev/null || true
		kill -9 "$pid" 2>/dev/null || true
	done
	for pid in "${BG_PIDS[@]}"; do
		wait_for 5 exited "$pid" || true
	done
}
