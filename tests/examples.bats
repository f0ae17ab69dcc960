#!/usr/bin/env bats
# The EXAMPLES of dsd(1), run as written there, with paths moved into $T.

load helper
bats_require_minimum_version 1.5.0

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
	run -2 dsd -x
	eq "${lines[1]}" "usage: $synopsis"
	eq "${lines[0]}" "dsd: invalid option -- 'x'"
}
