#!/usr/bin/env bats
# dssend -c and dsrecv -c: the framers as clients of a hub (see dssend(1),
# dsrecv(1) and dsd(1)).  Every test runs real hubs on a Unix socket in $T
# or on 127.0.0.1 port 0.

# bats's run sets $stderr; sh -c scripts take their arguments as "$1"; each
# test runs in a subshell of its own, so what it sets stays there.
# shellcheck disable=SC2154,SC2016,SC2030,SC2031
bats_require_minimum_version 1.5.0
load helper

local_setup() {
	# Tests must not inherit a hub or a key from the caller.
	unset DS_HUB DS_KEY
}

# start_hub ID [DSD-OPTION...]: a hub on the Unix socket $T/ID.sock, with
# its stderr in $T/ID.err.  Its address goes to $HUB, its pid to $HUB_PID.
start_hub() {
	local id=$1
	shift
	bg dsd -1 -l "unix:$T/$id.sock" "$@" >"$T/$id.addr" 2>"$T/$id.err" 3>&-
	HUB_PID=${BG_PIDS[-1]}
	wait_for 5 test -s "$T/$id.addr"
	HUB=$(cat "$T/$id.addr")
}

# start_tcp_hub: the same on 127.0.0.1, on a port the system picks.
start_tcp_hub() {
	bg dsd -1 -l 127.0.0.1:0 >"$T/tcp.addr" 2>"$T/tcp.err" 3>&-
	HUB_PID=${BG_PIDS[-1]}
	wait_for 5 test -s "$T/tcp.addr"
	HUB=$(cat "$T/tcp.addr")
}

# answers NAME [ADDRESS]: a client holds NAME at the hub and answers pings.
# $KEY, when set, is the key file to prove ourselves with.
answers() {
	dsctl -c "${2:-$HUB}" ${KEY:+-k "$KEY"} ping "$1" >/dev/null 2>&1
}

# receiver NAME OUT [DSRECV-OPTION...]: dsrecv -c as NAME in the
# background, stdout to OUT, stderr to OUT.err; waits until it is there.
# Its pid goes to $RECV_PID.
receiver() {
	local name=$1 out=$2
	shift 2
	bg dsrecv -c "$HUB" -N "$name" "$@" >"$out" 2>"$out.err" 3>&-
	RECV_PID=${BG_PIDS[-1]}
	wait_for 5 answers "$name"
}

# exited PID: the process is gone.
exited() {
	! kill -0 "$1" 2>/dev/null
}

# ---- delivery ----

@test "dssend -c to dsrecv -c through a hub on a Unix socket" {
	start_hub a
	receiver bob "$T/out" -n 1
	run --separate-stderr dssend -c "$HUB" -t bob -f al <<<hello
	[ "$status" -eq 0 ]
	eq "$stderr" ""
	eq "$output" ""
	wait "$RECV_PID"
	bytes_are "$T/out" 'hello\n'
	eq "$(cat "$T/out.err")" ""
}

@test "dssend -c to dsrecv -c through a hub on TCP, with -H and -F" {
	start_tcp_hub
	receiver bob "$T/out" -n 2 -F '%f %t %T %i %{k}: %b'
	printf 'one\ntwo\n' | quiet dssend -l -c "$HUB" -t bob -f al -i 7 -T note -H k=v
	wait "$RECV_PID"
	eq "$(cat "$T/out")" "al bob note 7 v: oneal bob note 8 v: two"
}

@test "10000 lines with -l arrive complete and in order" {
	start_hub a
	seq 10000 >"$T/in"
	receiver bob "$T/out" -l -n 10000
	quiet dssend -l -c "$HUB" -t bob -f al "$T/in"
	wait "$RECV_PID"
	same_bytes "$T/in" "$T/out"
}

@test "a 5 MiB body in -b chunks and a 3 MiB whole file arrive intact" {
	start_hub a
	head -c 5242880 /dev/urandom >"$T/big"
	head -c 3145728 /dev/urandom >"$T/whole"
	receiver bob "$T/out" -H
	quiet dssend -b 64k -c "$HUB" -t bob -f al "$T/big"
	quiet dssend -c "$HUB" -t bob -f al "$T/whole"
	wait_for 10 sh -c '[ "$(dsrecv -F "%l\n" <"$1" | paste -sd+ | bc)" = 8388608 ]' _ "$T/out"
	dsrecv -F '%b' <"$T/out" | head -c 5242880 >"$T/got"
	same_bytes "$T/big" "$T/got"
	dsrecv -F '%b' <"$T/out" | tail -c 3145728 >"$T/got"
	same_bytes "$T/whole" "$T/got"
}

@test "a broadcast reaches every receiver" {
	start_hub a
	receiver r1 "$T/out1" -n 1
	receiver r2 "$T/out2" -n 1
	local p1=$RECV_PID
	echo all | quiet dssend -c "$HUB" -t '*' -f al
	wait "$p1"
	wait "$RECV_PID"
	eq "$(cat "$T/out1")" all
	eq "$(cat "$T/out2")" all
}

@test "dsrecv -c filters with -f and -t as it does on stdin" {
	start_hub a
	receiver bob "$T/out" -l -f keep -n 1
	echo dropped | quiet dssend -c "$HUB" -t bob -f other
	echo kept | quiet dssend -c "$HUB" -t bob -f keep
	wait "$RECV_PID"
	eq "$(cat "$T/out")" kept
}

@test "an empty -c address is \$DS_HUB" {
	start_hub a
	export DS_HUB=$HUB
	bg dsrecv -c '' -N bob -n 1 >"$T/out" 3>&-
	RECV_PID=${BG_PIDS[-1]}
	wait_for 5 answers bob
	quiet dssend -c '' -t bob -f al <<<env
	wait "$RECV_PID"
	eq "$(cat "$T/out")" env
}

@test "dssend -c - talks to dsd -i over a pipe pair" {
	mkfifo "$T/up" "$T/down"
	echo hi >"$T/in"
	bg sh -c 'exec dsd -i <"$1/up" >"$1/down" 2>"$1/dsd.err"' _ "$T" 3>&-
	run --separate-stderr sh -c 'exec dssend -c - -t nobody -f al -i 1 "$1/in" >"$1/up" <"$1/down"' _ "$T"
	[ "$status" -eq 1 ]
	eq "$stderr" "dssend: message 1 to nobody: no route to nobody"
}

# ---- errors ----

@test "no route: dssend -c reports each message and exits 1" {
	start_hub a
	run --separate-stderr dssend -l -c "$HUB" -t nobody -f al -i 5 <<<$'a\nb'
	[ "$status" -eq 1 ]
	eq "$output" ""
	eq "$stderr" "dssend: message 5 to nobody: no route to nobody
dssend: message 6 to nobody: no route to nobody"
}

@test "dssend -c reads the hub's errors while it sends: 50000 of them through an 8k queue" {
	start_hub a -Q 8k -w 2
	seq 50000 >"$T/in"
	run --separate-stderr timeout 30 dssend -l -c "$HUB" -t nobody -f al -i 1 "$T/in"
	[ "$status" -eq 1 ]
	eq "$(printf '%s\n' "$stderr" | wc -l)" 50000
	eq "$(printf '%s\n' "$stderr" | tail -n 1)" "dssend: message 50000 to nobody: no route to nobody"
}

@test "dssend -c -f with the hub's own name: the hello is refused, exit 1" {
	start_hub a
	run --separate-stderr dssend -c "$HUB" -t bob -f dsd <<<x
	[ "$status" -eq 1 ]
	eq "$output" ""
	[[ "$stderr" == "dssend: $HUB: the hub refused the hello"* ]]
}

@test "no hub: exit 3 with the reason" {
	run --separate-stderr dssend -c "unix:$T/none.sock" -t bob -f al <<<x
	[ "$status" -eq 3 ]
	eq "$output" ""
	[[ "$stderr" == "dssend: "*"unix:$T/none.sock"* ]]
	run --separate-stderr dsrecv -c "unix:$T/none.sock" -N bob
	[ "$status" -eq 3 ]
	[[ "$stderr" == "dsrecv: "*"unix:$T/none.sock"* ]]
}

@test "a hub that never answers the hello: exit 4" {
	# A listening socket that nobody accepts on: the connect works, the
	# hello gets no answer.
	bg socat -u UNIX-LISTEN:"$T/mute.sock",fork OPEN:/dev/null 3>&-
	wait_for 5 test -S "$T/mute.sock"
	run --separate-stderr timeout 30 dssend -c "unix:$T/mute.sock" -t bob -f al <<<x
	[ "$status" -eq 4 ]
	[[ "$stderr" == "dssend: "*"hello"* ]]
}

@test "dsrecv -c without -R: losing the hub is exit 3" {
	start_hub a
	receiver bob "$T/out"
	kill "$HUB_PID"
	wait_for 10 exited "$RECV_PID"
	local rc=0
	wait "$RECV_PID" || rc=$?
	eq "$rc" 3
	eq "$(cat "$T/out.err")" "dsrecv: lost the hub at $HUB"
}

# ---- several hubs ----

@test "failover: the first hub in the list is dead, the second is used" {
	start_hub b
	local list="unix:$T/dead.sock,$HUB"
	bg dsrecv -c "$list" -N bob -n 1 >"$T/out" 2>"$T/out.err" 3>&-
	RECV_PID=${BG_PIDS[-1]}
	wait_for 5 answers bob
	echo over | quiet dssend -c "$list" -t bob -f al
	wait "$RECV_PID"
	eq "$(cat "$T/out")" over
	eq "$(cat "$T/out.err")" ""
}

@test "-R: dsrecv reconnects when its hub is replaced at the same path" {
	start_hub a
	receiver bob "$T/out" -R
	echo before | quiet dssend -c "$HUB" -t bob -f al
	wait_for 5 grep -qx before "$T/out"
	kill "$HUB_PID"
	wait_for 10 exited "$HUB_PID"
	wait_for 10 grep -q "lost the hub at $HUB; reconnecting" "$T/out.err"
	start_hub a
	wait_for 15 answers bob
	echo after | quiet dssend -c "$HUB" -t bob -f al
	wait_for 5 grep -qx after "$T/out"
	eq "$(cat "$T/out")" "before
after"
	grep -q "connected to the hub at $HUB" "$T/out.err"
	# dsrecv -R is still there, waiting for more.
	kill -0 "$RECV_PID"
}

@test "-R: dsrecv moves on to the next hub in the list" {
	start_hub one
	local first=$HUB first_pid=$HUB_PID
	start_hub two
	local second=$HUB
	bg dsrecv -c "$first,$second" -N bob -R >"$T/out" 2>"$T/out.err" 3>&-
	wait_for 5 answers bob "$first"
	kill "$first_pid"
	wait_for 15 answers bob "$second"
	echo moved | quiet dssend -c "$second" -t bob -f al
	wait_for 5 grep -qx moved "$T/out"
}

@test "-R: dsrecv waits for a hub that is not there yet" {
	bg dsrecv -c "unix:$T/a.sock" -N bob -R >"$T/out" 2>"$T/out.err" 3>&-
	wait_for 5 test -s "$T/out.err"
	start_hub a
	wait_for 15 answers bob
	echo late | quiet dssend -c "$HUB" -t bob -f al
	wait_for 5 grep -qx late "$T/out"
	[[ "$(head -n 1 "$T/out.err")" == "dsrecv: cannot connect to unix:$T/a.sock"*"; retrying" ]]
}

# ---- keys ----

@test "-k: the right key gets in, both ways" {
	printf 'sekrit\n' >"$T/key"
	KEY=$T/key
	start_hub a -k "$T/key"
	receiver bob "$T/out" -n 1 -k "$T/key"
	echo secret | quiet dssend -c "$HUB" -k "$T/key" -t bob -f al
	wait "$RECV_PID"
	eq "$(cat "$T/out")" secret
}

@test "-k: DS_KEY names the key file when -k is not given" {
	printf 'sekrit\n' >"$T/key"
	start_hub a -k "$T/key"
	DS_KEY="$T/key" run --separate-stderr dssend -c "$HUB" -t nobody -f al -i 1 <<<x
	[ "$status" -eq 1 ]
	eq "$stderr" "dssend: message 1 to nobody: no route to nobody"
}

@test "-k: a wrong key is refused, exit 1" {
	printf 'sekrit\n' >"$T/key"
	printf 'wrong\n' >"$T/bad"
	start_hub a -k "$T/key"
	run --separate-stderr dssend -c "$HUB" -k "$T/bad" -t bob -f al <<<x
	[ "$status" -eq 1 ]
	[[ "$stderr" == "dssend: $HUB: "*"key"* ]]
	run --separate-stderr dsrecv -c "$HUB" -k "$T/bad" -N bob
	[ "$status" -eq 1 ]
	[[ "$stderr" == "dsrecv: $HUB: "*"key"* ]]
}

@test "-k: no key for a hub that wants one, and a key for one that does not" {
	printf 'sekrit\n' >"$T/key"
	start_hub a -k "$T/key"
	run --separate-stderr dssend -c "$HUB" -t bob -f al <<<x
	[ "$status" -eq 1 ]
	eq "$stderr" "dssend: $HUB: hub requires a key (-k)"
	start_hub b
	run --separate-stderr dssend -c "$HUB" -k "$T/key" -t bob -f al <<<x
	[ "$status" -eq 1 ]
	[[ "$stderr" == "dssend: $HUB: hub does not authenticate"* ]]
}

@test "-k: a key file that cannot be read is an error before any connection" {
	run --separate-stderr dssend -c "unix:$T/none.sock" -k "$T/nokey" -t bob -f al <<<x
	[ "$status" -ne 0 ]
	[[ "$stderr" == "dssend: "*"$T/nokey"* ]]
}

# ---- services ----

@test "dsrecv -c -e: a sort service called with dsctl call" {
	start_hub a
	receiver sort "$T/out" -e 'sort -n'
	run --separate-stderr sh -c 'printf "10\n9\n100\n" | dsctl -c "$1" call sort' _ "$HUB"
	[ "$status" -eq 0 ]
	eq "$output" "9
10
100"
	eq "$(cat "$T/out")" ""
	eq "$(cat "$T/out.err")" ""
}

@test "dsrecv -c -e: the reply comes from the name it holds; a failure is an err" {
	start_hub a
	receiver svc "$T/out" -e 'read -r x; [ "$x" = ok ] || { echo "bad: $x" >&2; exit 3; }; echo "$DS_NAME $DS_TO"'
	run --separate-stderr sh -c 'echo ok | dsctl -c "$1" call svc' _ "$HUB"
	[ "$status" -eq 0 ]
	eq "$output" "svc svc"
	run --separate-stderr sh -c 'echo no | dsctl -c "$1" call svc' _ "$HUB"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"bad: no"* ]]
	eq "$(cat "$T/out")" ""
}

@test "dsrecv -c -e -n: the last reply reaches the hub before dsrecv exits" {
	start_hub a
	receiver once "$T/out" -e 'tr a-z A-Z' -n 1
	run --separate-stderr sh -c 'echo shout | dsctl -c "$1" call once' _ "$HUB"
	[ "$status" -eq 0 ]
	eq "$output" SHOUT
	wait "$RECV_PID"
}

@test "dsrecv -c - speaks the hub protocol on stdin and stdout" {
	# A hub's side of the conversation, by hand: the answer to the
	# hello (id 1, the client's first), a ping and a request.
	printf 'ds1 from=dsd to=sort type=hello re=1 max=1024 queue=4096 len=0\n\n' >"$T/hub"
	printf 'ds1 from=dsd to=sort type=ping id=p1 len=0\n\n' >>"$T/hub"
	printf 'ds1 from=me to=sort type=req id=7 len=6\n3\n1\n2\n\n' >>"$T/hub"
	run --separate-stderr sh -c 'dsrecv -c - -N sort -e "sort -n" <"$1/hub" >"$1/out"' _ "$T"
	[ "$status" -eq 0 ]
	eq "$stderr" ""
	bytes_are "$T/out" 'ds1 from=sort to=* type=hello credit=1 id=1 len=0\n\nds1 from=sort to=dsd type=rep re=p1 len=0\n\nds1 from=sort to=me type=rep re=7 len=6\n1\n2\n3\n\n'
}

@test "dsrecv -c - serves the requests of dsd -i over a pipe pair" {
	mkfifo "$T/up" "$T/down"
	# dsd -i serves the pipe as its one connection; through its control
	# socket, dssend -c sends a request to the name dsrecv holds there.
	# The shells open the pipes, so that no open blocks the test.
	bg sh -c 'exec dsd -i -C "$1/ctl.sock" <"$1/up" >"$1/down" 2>"$1/dsd.err"' _ "$T" 3>&-
	bg sh -c 'exec dsrecv -c - -N sort -e "sort -n >\"\$DS_OUT\"" >"$1/up" <"$1/down" 2>"$1/recv.err"' _ "$T" 3>&-
	wait_for 5 sh -c 'dsctl -c "unix:$1/ctl.sock" names 2>/dev/null | grep -q "^sort	"' _ "$T"
	quiet dssend -c "unix:$T/ctl.sock" -t sort -f me -T req -H out="$T/sorted" <<<$'3\n1\n2'
	wait_for 5 test -s "$T/sorted"
	eq "$(cat "$T/sorted")" "1
2
3"
	eq "$(cat "$T/recv.err")" ""
}

@test "dsrecv -c - ends with 0 when the hub closes the pipe" {
	printf 'ds1 from=dsd to=sort type=hello re=1 max=1024 queue=4096\n\n' >"$T/hub"
	run --separate-stderr sh -c 'dsrecv -c - -N sort -e cat <"$1/hub" >"$1/out"' _ "$T"
	[ "$status" -eq 0 ]
	eq "$stderr" ""
	bytes_are "$T/out" 'ds1 from=sort to=* type=hello credit=1 id=1 len=0\n\n'
}

# ---- usage ----

@test "-k and -R need -c; -c - takes -e and no -R; -N works with -c" {
	run --separate-stderr dsrecv -R </dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "dsrecv: -k and -R need -c"* ]]
	run --separate-stderr dsrecv -k key </dev/null
	[ "$status" -eq 2 ]
	run --separate-stderr dsrecv -c - </dev/null
	[ "$status" -eq 2 ]
	eq "$stderr" "dsrecv: -c -: the standard output is the hub; it takes -e"
	run --separate-stderr dsrecv -c - -R -e cat </dev/null
	[ "$status" -eq 2 ]
	run --separate-stderr dssend -t x -k key </dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "dssend: -k needs -c"* ]]
	run --separate-stderr dssend -t x -c - </dev/null
	[ "$status" -eq 2 ]
	eq "$stderr" "dssend: -c -: the standard input is the hub; name the files to send"
}

@test "the usage lines match the synopses of the man pages" {
	local m want
	for m in dssend dsrecv; do
		# One long line, without the overstrikes of bold and underline.
		want=$(mandoc -T ascii -O width=1000 "$BATS_TEST_DIRNAME/../man/$m.1" |
		    sed 's/.\x08//g' | sed -n '/^SYNOPSIS/{n;p;}' | sed 's/^ *//; s/  */ /g')
		run --separate-stderr "$m" -z </dev/null
		[ "$status" -eq 2 ]
		eq "${stderr##*$'\n'}" "usage: $want"
	done
}
