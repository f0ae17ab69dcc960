#!/usr/bin/env bats
# The EXAMPLES of dsd(1), run as written there, with paths moved into $T.

load helper
bats_require_minimum_version 1.5.0

@test "dsd(1) example: a farm of two -x workers, and dsctl map over them" {
	bg dsd -l "$T/farm.sock" -x 'dsrecv -c - -N up -P 4 -e "tr a-z A-Z"' \
	    -x 'dsrecv -c - -N up -P 4 -e "tr a-z A-Z"' 3>&-
	wait_for 5 sh -c "dsctl -c '$T/farm.sock' names | grep -q '^up	2$'"
	run sh -c "printf '%s\n' one two three | dsctl -c '$T/farm.sock' map up"
	[ "$status" -eq 0 ]
	eq "$output" $'ONE\nTWO\nTHREE'
}

@test "dsd(1) example: a hub with a sum service, asked by dsctl" {
	bg dsd -l "$T/hub.sock" -e sum='awk "{s+=\$1} END {print s}"' 3>&-
	wait_for 5 dsctl -c "$T/hub.sock" ping
	run sh -c "seq 100 | dsctl -c '$T/hub.sock' call sum"
	[ "$status" -eq 0 ]
	eq "$output" 5050
}

@test "dsd(1) example: a sort worker through the hub" {
	bg dsd -l "$T/hub.sock" 3>&-
	wait_for 5 dsctl -c "$T/hub.sock" ping
	bg dsrecv -c "$T/hub.sock" -N sort -e 'sort -n' 3>&-
	wait_for 5 sh -c "dsctl -c '$T/hub.sock' names | grep -q '^sort'"
	run sh -c "printf '3\n1\n2\n' | dsctl -c '$T/hub.sock' call sort"
	[ "$status" -eq 0 ]
	eq "$output" $'1\n2\n3'
}

@test "dsd(1) example: -1 on a free port, names, and shutdown on the control socket" {
	dsd -1 -l 127.0.0.1:0 -C "$T/hub.ctl" >"$T/addr" 2>"$T/err" 3>&- &
	BG_PIDS+=("$!")
	wait_for 5 test -s "$T/addr"
	run dsctl -c "$(cat "$T/addr")" names
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^dsctl-[0-9]+$'\t'1$ ]]
	run dsctl -c "$T/hub.ctl" shutdown
	[ "$status" -eq 0 ]
	wait "${BG_PIDS[-1]}"
}

@test "dsd(1) example: talking to the hub by hand" {
	dsd -1 -l 127.0.0.1:0 >"$T/addr" 2>"$T/err" 3>&- &
	BG_PIDS+=("$!")
	wait_for 5 test -s "$T/addr"
	addr=$(cat "$T/addr")
	printf 'ds1 from=me to=* type=hello\n\nds1 from=me to=dsd type=ping id=1\n\n' |
	    nc -N "${addr%:*}" "${addr##*:}" >"$T/out"
	bytes_are "$T/out" 'ds1 from=dsd to=me type=hello max=16777216 queue=1048576 len=0\n\nds1 from=dsd to=me type=rep re=1 len=0\n\n'
}

@test "dsd(1) example: dsd -i as one stage of a pipeline" {
	run sh -c "seq 10 | dssend -t sum | dsd -i -e sum='paste -sd+ | bc' | dsrecv"
	[ "$status" -eq 0 ]
	eq "$output" 55
}

@test "dsd: the usage line is the man page's SYNOPSIS, and a bad option exits 2" {
	synopsis=$(mandoc -T ascii "$BATS_TEST_DIRNAME/../man/dsd.1" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \t\n' ' ' |
	    sed 's/^ //; s/ $//')
	run -2 dsd -y
	eq "${lines[1]}" "usage: $synopsis"
	eq "${lines[0]}" "dsd: invalid option -- 'y'"
}

# The EXAMPLES of dspeer(1).  They name fixed ports; here every member
# binds port 0 and prints its address with -1, so that parallel runs
# cannot collide, and the output is checked with the ports left out.

# The pipelines run under sh -c: stop their members too, not only the sh.
kill_tree() {
	local child
	for child in $(pgrep -P "$1"); do
		kill_tree "$child"
	done
	kill "$1" 2>/dev/null || true
}

local_teardown() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill_tree "$pid"
	done
}

# first_line FILE: wait for FILE's first line, and print it.
first_line() {
	wait_for 5 test -s "$1" >&2 && head -n 1 "$1"
}

@test "dspeer(1) example: a group of three on one host, and its member list" {
	bg dspeer -n a -l 127.0.0.1:0 -1 -C "$T/a.ctl" </dev/null >"$T/a.out" 3>&-
	a=$(first_line "$T/a.out")
	bg dspeer -n b -l 127.0.0.1:0 -j "$a" </dev/null >/dev/null 3>&-
	bg dspeer -n c -l 127.0.0.1:0 -j "$a" </dev/null >/dev/null 3>&-
	wait_for 10 sh -c "dsctl -c '$T/a.ctl' members | grep -c alive | grep -qx 3"
	run sh -c "dsctl -c '$T/a.ctl' members | awk '{print \$1, \$3}'"
	[ "$status" -eq 0 ]
	eq "$output" $'a alive\nb alive\nc alive'
	[[ "$(dsctl -c "$T/a.ctl" members | head -n 1 | cut -f 2)" == "$a" ]]
}

@test "dspeer(1) example: a message by name, with acknowledgement" {
	bg sh -c "dspeer -n b -l 127.0.0.1:0 -1 </dev/null | { read -r addr; echo \"\$addr\" >'$T/b.addr'; dsrecv; } >'$T/b.out'" 3>&-
	b=$(first_line "$T/b.addr")
	bg sh -c "echo hello | dssend -t b -H ack=1 | dspeer -n a -l 127.0.0.1:0 -j '$b'" >"$T/a.out" 2>"$T/a.err" 3>&-
	wait_for 10 grep -qx hello "$T/b.out"
	eq "$(cat "$T/b.out")" hello
	# Nothing was refused on the sending side.
	[ ! -s "$T/a.out" ]
}

@test "dspeer(1) example: events as frames and as commands, while a member joins and is killed" {
	bg sh -c "dspeer -n a -l 127.0.0.1:0 -1 -E 'echo \$DS_EVENT \$DS_PEER >>$T/ev' -M </dev/null | { read -r addr; echo \"\$addr\" >'$T/a.addr'; dsrecv -F '%{event} %{peer}\n'; } >'$T/frames'" 3>&-
	a=$(first_line "$T/a.addr")
	dspeer -n b -l 127.0.0.1:0 -j "$a" </dev/null >/dev/null 2>&1 3>&- &
	b_pid=$!
	BG_PIDS+=("$b_pid")
	wait_for 10 grep -qx 'join b' "$T/frames"
	kill -9 "$b_pid"
	wait_for 15 grep -qx 'fail b' "$T/frames"
	wait_for 5 grep -qx 'fail b' "$T/ev"
	eq "$(cat "$T/frames")" $'join b\nfail b'
	eq "$(cat "$T/ev")" $'join b\nfail b'
}

@test "dspeer(1) example: a group that needs a key, and a graceful leave" {
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$T/key"
	bg dspeer -n a -l 127.0.0.1:0 -1 -k "$T/key" -C "$T/a.ctl" </dev/null >"$T/a.out" 3>&-
	a=$(first_line "$T/a.out")
	dspeer -n b -l 127.0.0.1:0 -j "$a" -k "$T/key" -C "$T/b.ctl" </dev/null >/dev/null 3>&- &
	b_pid=$!
	BG_PIDS+=("$b_pid")
	wait_for 10 sh -c "dsctl -c '$T/a.ctl' members | grep -q '^b.*alive'"
	run dsctl -c "$T/b.ctl" leave
	[ "$status" -eq 0 ]
	eq "$output" ""
	wait "$b_pid"
	run sh -c "dsctl -c '$T/a.ctl' members | awk '{print \$1, \$3}'"
	eq "$output" $'a alive\nb left'
}
