#!/usr/bin/env bats
# The job farm over real ssh: hosts made of network namespaces, each with
# its own sshd (tests/farm.bash draws the layout), workers that dsd runs
# with -x over ssh or that connect back to it, and `dsctl map` sending the
# jobs.  Workers die, their ssh dies, a host's link goes down: every job
# still gets exactly one output, in input order.  The namespaces are made
# once for the file and deleted afterwards, whatever happened; this needs
# root (CI runs the suite as root).

# shellcheck disable=SC2034,SC2154
bats_require_minimum_version 1.5.0
load helper
load farm

# One farm of four hosts serves every test: making it takes seconds.  Each
# test starts a hub of its own, and at its end the hub goes, with every
# process it or its workers left on the hosts (not the sshds), and every
# link is up again.
setup_file() {
	FARM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ds-farm.XXXXXX")
	export FARM_DIR
	if ! farm_up 4; then
		farm_down
		rm -rf "$FARM_DIR"
		return 1
	fi
}

teardown_file() {
	farm_down
	rm -rf "$FARM_DIR"
}

local_teardown() {
	local i
	farm_stop_hub
	for (( i = 1; i <= FARM_N; i++ )); do
		farm_link "$i" up
	done
}

# handler NAME SCRIPT: an executable sh script $T/NAME with body SCRIPT.
# Every handler starts by reading its job (one line) into $n and adding
# "n redelivered" to $T/runs, so that a test sees what ran where and how
# often, as the hosts share this file system.
handler() {
	{
		echo '#!/bin/sh'
		echo 'read -r n'
		echo "echo \"\$n \${DS_REDELIVERED:-0}\" >>$T/runs"
		echo "$2"
	} >"$T/$1"
	chmod +x "$T/$1"
}

# runs: how many handlers have started.
runs() {
	if [ -f "$T/runs" ]; then wc -l <"$T/runs"; else echo 0; fi
}

runs_at_least() {
	[ "$(runs)" -ge "$1" ]
}

# redelivered: how many handlers ran a job that had been sent before.
redelivered() {
	awk '$2 > 0' "$T/runs" | wc -l
}

# some_redelivered: at least one job was sent again; if not, show what
# ran, and the hub's counters and log.
some_redelivered() {
	[ "$(redelivered)" -ge 1 ] && return 0
	echo "no job was redelivered; the runs:"
	tr '\n' ' ' <"$T/runs"
	echo
	dsctl -c "$FARM_SOCK" stats | grep -e jobs -e keepalive
	cat "$T/dsd.err"
	return 1
}

# busy I: a handler is running on host hI (its sleep is), so that the
# worker there has a job in flight.
busy() {
	[ -n "$(farm_pids "$FARM_NS-h$1" sleep)" ]
}

# wait_busy I: wait until busy I, or show why not.
wait_busy() {
	wait_for 20 busy "$1" && return 0
	echo "h$1 ran no handler; $(runs) handlers ran; the map ended: $(cat "$T/rc" 2>/dev/null)"
	dsctl -c "$FARM_SOCK" stats | grep -e jobs -e keepalive
	cat "$T/dsd.err"
	return 1
}

# workers HANDLER SLOTS...: dsd -x options for one worker per SLOTS
# argument, on h1, h2, ..., each with that many slots.
workers() {
	local h=$1 i=1 s
	shift
	X=()
	for s in "$@"; do
		X+=(-x "$(farm_x "$i" "$s" "$T/$h")")
		i=$((i + 1))
	done
}

# map_bg [MAP-OPTION...]: `dsctl map work` in the background, stdin from
# $T/in, stdout to $T/out, stderr to $T/err, and its exit status in
# $T/rc once it ends.
map_proc() {
	local rc=0
	dsctl -c "$FARM_SOCK" map "$@" work <"$T/in" >"$T/out" 2>"$T/err" || rc=$?
	echo "$rc" >"$T/rc.tmp"
	mv "$T/rc.tmp" "$T/rc"
}

# map_run [MAP-OPTION...]: the same in the foreground; its status in $rc.
map_run() {
	rc=0
	dsctl -c "$FARM_SOCK" map "$@" work <"$T/in" >"$T/out" 2>"$T/err" || rc=$?
	# Shown if the test fails.
	echo "dsctl map $* exited $rc; its stderr:"
	head -20 "$T/err"
}

map_bg() {
	rm -f "$T/rc"
	bg map_proc "$@" 3>&-
}

# map_wait SECONDS: wait for the background map; its status in $rc.
map_wait() {
	if ! wait_for "$1" test -e "$T/rc"; then
		echo "map did not end; dsd said:"
		cat "$T/dsd.err"
		return 1
	fi
	rc=$(cat "$T/rc")
}

# expect N: the output of N jobs of the "job N" kind, in order.
expect() {
	seq "$1" | sed 's/^/job /' >"$T/expected"
}

# exactly_once: $T/out is $T/expected, line for line: every output once,
# in input order.
exactly_once() {
	if ! cmp -s "$T/expected" "$T/out"; then
		echo "outputs differ from the expected ones:"
		diff "$T/expected" "$T/out" | head -20
		echo "lines repeated:"
		sort "$T/out" | uniq -d | head
		echo "dsctl said:"
		head "$T/err"
		echo "dsd said:"
		tail -20 "$T/dsd.err"
		return 1
	fi
}

# joblog_workers FILE: the set of workers in a job log, space-separated.
joblog_workers() {
	tail -n +2 "$1" | cut -f 2 | sort -u | tr '\n' ' '
}

@test "farm: every host answers over ssh, with the programs under test first on its PATH" {
	for i in 1 2 3 4; do
		run farm_ssh "$i" 'command -v dsrecv; ip -o -4 addr show dev eth0 | awk "{ print \$4 }"'
		echo "$output"
		[ "$status" -eq 0 ]
		eq "${lines[0]}" "$DS_BIN/dsrecv"
		eq "${lines[1]}" "10.78.0.$i/24"
	done
}

@test "farm -x: 200 jobs over 4 hosts x 2 slots, each output exactly once, in input order" {
	handler job.sh 'echo "job $n"'
	workers job.sh 2 2 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 4
	seq 200 >"$T/in"
	expect 200
	map_run -J "$T/log"
	[ "$rc" -eq 0 ]
	exactly_once
	eq "$(runs)" 200
	# Every host had a share.
	eq "$(joblog_workers "$T/log")" "x1 x2 x3 x4 "
}

started_twice() {
	[ "$(grep -cx 'dsd: x1: starting on h1' "$T/dsd.err")" -ge 2 ]
}

@test "farm -x: a worker's stderr reaches dsd's, prefixed with its label, and it is restarted when it exits" {
	handler job.sh 'echo "job $n"'
	farm_hub -x "echo starting on h1 >&2; $(farm_x 1 2 "$T/job.sh")"
	wait_for 20 farm_has_holders work 1
	grep -qx 'dsd: x1: starting on h1' "$T/dsd.err"
	farm_kill_remote 1
	wait_for 20 started_twice
	wait_for 20 farm_has_holders work 1
	seq 10 >"$T/in"
	expect 10
	map_run
	[ "$rc" -eq 0 ]
	exactly_once
}

@test "farm connect-back: workers that ssh out and connect to the hub get every job exactly once" {
	handler job.sh 'echo "job $n"'
	farm_hub
	for i in 1 2 3 4; do
		farm_back "$i" 2 "$T/job.sh"
	done
	wait_for 20 farm_has_holders work 4
	seq 100 >"$T/in"
	expect 100
	map_run -J "$T/log"
	[ "$rc" -eq 0 ]
	exactly_once
	# A worker that connected is known by its address.
	eq "$(tail -n +2 "$T/log" | cut -f 2 | sed 's/:[0-9]*$//' | sort -u | tr '\n' ' ')" \
	    "10.78.0.1 10.78.0.2 10.78.0.3 10.78.0.4 "
	# -u: in completion order, still each exactly once.
	map_run -u
	[ "$rc" -eq 0 ]
	sort -V "$T/out" >"$T/sorted"
	cmp "$T/expected" "$T/sorted"
}

@test "farm -x: killing a worker's remote dsrecv mid-run loses no job and duplicates none" {
	handler slow.sh 'sleep 0.3; echo "job $n"'
	workers slow.sh 2 2 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 4
	seq 100 >"$T/in"
	expect 100
	map_bg
	wait_for 20 runs_at_least 8
	wait_busy 1
	farm_kill_remote 1
	map_wait 60
	[ "$rc" -eq 0 ]
	exactly_once
	# The jobs h1 held were sent again.
	some_redelivered
}

@test "farm -x: killing a worker's ssh client mid-run loses no job and duplicates none" {
	handler slow.sh 'sleep 0.3; echo "job $n"'
	workers slow.sh 2 2 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 4
	seq 100 >"$T/in"
	expect 100
	map_bg
	wait_for 20 runs_at_least 8
	wait_busy 2
	farm_kill_ssh 2
	map_wait 60
	[ "$rc" -eq 0 ]
	exactly_once
	some_redelivered
}

@test "farm -x: a worker with -P 1 beside one with -P 4 gets about a fifth of the jobs" {
	handler slow.sh 'sleep 0.1; echo "job $n"'
	workers slow.sh 1 4
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 2
	seq 100 >"$T/in"
	expect 100
	map_run -J "$T/log"
	[ "$rc" -eq 0 ]
	exactly_once
	slow=$(tail -n +2 "$T/log" | cut -f 2 | grep -cx x1)
	fast=$(tail -n +2 "$T/log" | cut -f 2 | grep -cx x2)
	echo "x1 (-P 1): $slow jobs, x2 (-P 4): $fast jobs"
	eq "$((slow + fast))" 100
	# 20 and 80 in proportion to the slots; round-robin would give 50.
	[ "$slow" -ge 8 ] && [ "$slow" -le 32 ]
}

@test "farm map -w: a job that takes too long times out, the others complete, exit 1 with a summary" {
	handler job.sh 'if [ "$n" = 3 ]; then sleep 30; fi; echo "job $n"'
	workers job.sh 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 2
	seq 5 >"$T/in"
	run -1 --separate-stderr dsctl -c "$FARM_SOCK" map -w 1 -J "$T/log" work <"$T/in"
	echo "$output"
	echo "$stderr"
	eq "$output" $'job 1\njob 2\njob 4\njob 5'
	eq "${stderr_lines[-1]}" "dsctl: map: 1 of 5 jobs failed (1 timed out)"
	awk -F '\t' '$1 == 3 { print $2, $5 }' "$T/log" >"$T/job3"
	bytes_are "$T/job3" '%s\n' '- timeout'
}

@test "farm map -r: jobs that fail or time out once are retried, and then all succeed" {
	# The first attempt at each job fails, and the first at job 3 hangs.
	handler flaky.sh "if mkdir $T/tried.\$n 2>/dev/null; then
		if [ \"\$n\" = 3 ]; then sleep 30; fi
		echo \"attempt 1 of \$n failed\" >&2; exit 1
	fi
	echo \"job \$n\""
	workers flaky.sh 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 2
	seq 5 >"$T/in"
	expect 5
	map_run -w 2 -r 1 -J "$T/log"
	[ "$rc" -eq 0 ]
	exactly_once
	eq "$(runs)" 10
	eq "$(tail -n +2 "$T/log" | cut -f 5 | sort -u)" 0
}

@test "farm map: without -r the failed jobs are reported, exit 1 with a summary" {
	handler flaky.sh "if mkdir $T/tried.\$n 2>/dev/null; then
		echo \"attempt 1 of \$n failed\" >&2; exit 1
	fi
	echo \"job \$n\""
	workers flaky.sh 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 2
	seq 5 >"$T/in"
	run -1 --separate-stderr dsctl -c "$FARM_SOCK" map work <"$T/in"
	eq "$output" ""
	eq "${stderr_lines[-1]}" "dsctl: map: 5 of 5 jobs failed (5 err)"
	[[ "$stderr" == *"attempt 1 of 3 failed"* ]]
}

@test "farm map: some jobs fail: the rest come out in order, the errors on stderr, exit 1 with a summary" {
	handler job.sh 'if [ $((n % 10)) -eq 0 ]; then echo "no good: $n" >&2; exit 3; fi; echo "job $n"'
	workers job.sh 2 2 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 4
	seq 50 >"$T/in"
	seq 50 | grep -v '0$' | sed 's/^/job /' >"$T/expected"
	map_run -J "$T/log"
	[ "$rc" -eq 1 ]
	exactly_once
	cat "$T/err"
	grep -c '^no good: ' "$T/err" | grep -qx 5
	for n in 10 20 30 40 50; do
		grep -qx "no good: $n" "$T/err"
	done
	eq "$(tail -n 1 "$T/err")" "dsctl: map: 5 of 50 jobs failed (5 err)"
	eq "$(awk -F '\t' 'NR > 1 && $5 != 0 { print $1 ":" $5 }' "$T/log" | sort -n | tr '\n' ' ')" \
	    "10:3 20:3 30:3 40:3 50:3 "
}

@test "farm map -J: the job log has a header and one well-formed line per job" {
	handler job.sh 'echo "job $n"'
	workers job.sh 2 2 2 2
	farm_hub "${X[@]}"
	wait_for 20 farm_has_holders work 4
	seq 100 >"$T/in"
	expect 100
	t0=$(date +%s)
	map_run -J "$T/log"
	[ "$rc" -eq 0 ]
	t1=$(date +%s)
	exactly_once
	eq "$(head -n 1 "$T/log")" $'id\tworker\tstart\tseconds\tstatus'
	eq "$(wc -l <"$T/log")" 101
	# Each id once, 1 to 100.
	tail -n +2 "$T/log" | cut -f 1 | sort -n >"$T/ids"
	seq 100 | cmp - "$T/ids"
	# Every line: five fields, a known worker, start within the run,
	# seconds with 3 decimals, status 0.
	run awk -F '\t' -v t0="$t0" -v t1="$t1" 'NR > 1 && !(NF == 5 &&
	    $2 ~ /^x[1-4]$/ && $3 ~ /^[0-9]+\.[0-9][0-9][0-9]$/ &&
	    $3 >= t0 - 1 && $3 <= t1 + 1 && $4 ~ /^[0-9]+\.[0-9][0-9][0-9]$/ &&
	    $4 <= t1 - t0 + 1 && $5 == "0") { print "bad line " NR ": " $0 }' "$T/log"
	eq "$output" ""
}

@test "farm -x: a host whose link goes down mid-run has its jobs requeued after the keepalive deadline" {
	handler slow.sh 'sleep 0.3; echo "job $n"'
	workers slow.sh 2 2 2 2
	farm_hub -K 1 "${X[@]}"
	wait_for 20 farm_has_holders work 4
	seq 100 >"$T/in"
	expect 100
	map_bg -J "$T/log"
	wait_for 20 runs_at_least 8
	wait_busy 1
	farm_link 1 down
	down=$(date +%s)
	# dsd gives up on a worker silent for 2 x 1 s; ssh would take 15 s.
	map_wait 30
	took=$(($(date +%s) - down))
	farm_link 1 up
	echo "the run ended $took s after the link went down"
	[ "$rc" -eq 0 ]
	exactly_once
	some_redelivered
	[ "$took" -lt 12 ]
}

@test "farm example: checksum.sh sums a directory across the hosts, as sha256sum does" {
	mkdir -p "$T/files/sub"
	for i in $(seq 30); do
		head -c $((i * 1000)) /dev/urandom >"$T/files/f$i"
	done
	printf 'two words\n' >"$T/files/sub/with space"
	find "$T/files" -type f -print0 | xargs -0 sha256sum -- >"$T/expected"
	run -0 --separate-stderr ip netns exec "$FARM_NS-hub" \
	    "$BATS_TEST_DIRNAME/../examples/jobfarm/checksum.sh" \
	    -s "ssh -F $FARM_DIR/ssh_config" "$T/files" h1 h2 h3 h4
	echo "$stderr"
	printf '%s\n' "$output" >"$T/out"
	cmp "$T/expected" "$T/out"
}

@test "farm example: checksum.sh with no host runs its workers here" {
	mkdir -p "$T/files"
	for i in $(seq 10); do
		echo "file $i" >"$T/files/f$i"
	done
	find "$T/files" -type f -print0 | xargs -0 sha256sum -- >"$T/expected"
	run -0 --separate-stderr "$BATS_TEST_DIRNAME/../examples/jobfarm/checksum.sh" "$T/files"
	echo "$stderr"
	printf '%s\n' "$output" >"$T/out"
	cmp "$T/expected" "$T/out"
}

@test "farm example: checksum.sh is clean under shellcheck here" {
	run shellcheck "$BATS_TEST_DIRNAME/../examples/jobfarm/checksum.sh"
	echo "$output"
	[ "$status" -eq 0 ]
}
