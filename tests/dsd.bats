#!/usr/bin/env bats
# dsd: the hub, tested from outside through real sockets with frames
# written by hand (see dsd(1) and the hub in dsproto(7)).

# Variables named PID_x, FD_x and OFF_x are made with printf -v and read
# with ${!var}; frames are built with printf formats held in variables.
# shellcheck disable=SC2016,SC2034,SC2059,SC2154
bats_require_minimum_version 1.5.0
load helper

# Tests run under LC_ALL=C, so that ${#body} counts bytes.
export LC_ALL=C

# frame HEADER [BODY]: print one frame: "ds1 HEADER len=N", LF, BODY, LF.
# The hub writes len=0 even for an empty body, so every frame here has it.
frame() {
	printf 'ds1 %s len=%d\n%s\n' "$1" "${#2}" "$2"
}

# hub [DSD-OPTION...]: start dsd on the Unix socket $T/hub.sock, with its
# control socket $T/ctl.sock, and wait until it serves.  The bound
# addresses (-1) go to $T/dsd.out, its stderr to $T/dsd.err, its pid to
# $HUB.  The command in the array HUB_PRE, if any, runs it.
HUB_PRE=()
hub() {
	bg "${HUB_PRE[@]}" dsd -1 -l "$T/hub.sock" -C "$T/ctl.sock" "$@" \
	    >"$T/dsd.out" 2>"$T/dsd.err" 3>&-
	HUB=$!
	wait_for 5 test -s "$T/dsd.out"
}

# client NAME [ADDRESS]: a connection to the hub (by default its Unix
# socket) that stays open until the test kills it: a socat reading a fifo
# that this shell holds open.  `put NAME ...` writes frames to it; what it
# receives piles up in $T/NAME.out ($OUT, if set, instead).  Its pid is
# in PID_NAME.
OPEN_FDS=()
client() {
	local name=$1 addr=${2:-UNIX-CONNECT:$T/hub.sock} fd
	local out=${OUT:-$T/$name.out}
	mkfifo "$T/$name.in"
	[ -p "$out" ] || : >"$out"
	bg conn_proc "$T/$name.in" "$out" - "$addr" 3>&-
	printf -v "PID_$name" %s "$!"
	exec {fd}<>"$T/$name.in"
	printf -v "FD_$name" %s "$fd"
	printf -v "OFF_$name" %s 0
	OPEN_FDS+=("$fd")
}

# conn_proc IN OUT SOCAT-ARG...: the process behind a client.  It lets
# go of the other clients' fifos, so that they close when this shell
# closes them, and opens its own fifo itself (opening a fifo waits for
# the other end).
conn_proc() {
	local in=$1 out=$2 fd
	shift 2
	for fd in "${OPEN_FDS[@]}"; do
		exec {fd}>&-
	done
	exec socat "$@" <"$in" >>"$out" 2>>"$in.err"
}

# deaf NAME: a client that never reads what the hub sends it (socat -u
# only writes to the socket).
deaf() {
	local name=$1 fd
	mkfifo "$T/$name.in"
	bg conn_proc "$T/$name.in" /dev/null -u - "UNIX-CONNECT:$T/hub.sock" 3>&-
	printf -v "PID_$name" %s "$!"
	exec {fd}<>"$T/$name.in"
	printf -v "FD_$name" %s "$fd"
	OPEN_FDS+=("$fd")
}

# put NAME HEADER [BODY]: NAME writes one frame.
put() {
	local fd=FD_$1
	frame "$2" "$3" >&"${!fd}"
}

# raw NAME FORMAT [ARG...]: NAME writes printf FORMAT's bytes.
raw() {
	local fd=FD_$1
	shift
	printf "$@" >&"${!fd}"
}

# hello NAME [ADDRESS]: connect as NAME, say hello, and take the hub's
# hello, which names the limits $MAX and $QUEUE (by default dsd's).
hello() {
	client "$@"
	put "$1" "from=$1 to=* type=hello id=hi"
	expect "$1" "from=dsd to=$1 type=hello re=hi max=${MAX:-16777216} queue=${QUEUE:-1048576}"
}

size() {
	stat -c %s "$1"
}

at_least() {
	[ "$(size "$1")" -ge "$2" ]
}

# expect NAME HEADER [BODY]: the next frame NAME receives is exactly this
# one ("ds1 HEADER len=N").  It waits up to 5 s for it.
expect() {
	local name=$1
	shift
	frame "$@" >"$T/want"
	expect_file "$name" "$T/want"
}

# expect_file NAME FILE: the next bytes NAME receives are FILE's.
expect_file() {
	local off_var=OFF_$1 out=$T/$1.out n off
	off=${!off_var}
	n=$(size "$2")
	wait_for 5 at_least "$out" $((off + n)) || true
	tail -c +$((off + 1)) "$out" | head -c "$n" >"$T/got"
	if ! cmp -s "$2" "$T/got"; then
		echo "$1 expected:"
		cat -A "$2"
		echo "$1 got:"
		tail -c +$((off + 1)) "$out" | cat -A | head -40
		return 1
	fi
	printf -v "$off_var" %s $((off + n))
}

# sync NAME: a ping from NAME to the hub and its answer.  Whatever the
# hub did with NAME's earlier frames, it has done it by then, and what
# those frames made it send to NAME has arrived.
SYNCS=0
sync() {
	SYNCS=$((SYNCS + 1))
	put "$1" "from=$1 to=dsd type=ping id=sync$SYNCS"
	expect "$1" "from=dsd to=$1 type=rep re=sync$SYNCS"
}

# drain NAME: sync, taking whatever NAME received before the answer as
# seen (for tests that count what arrived rather than expect each frame).
drain() {
	local off_var=OFF_$1
	SYNCS=$((SYNCS + 1))
	put "$1" "from=$1 to=dsd type=ping id=sync$SYNCS"
	frame "from=dsd to=$1 type=rep re=sync$SYNCS" >"$T/want"
	wait_for 5 grep -aqxF "ds1 from=dsd to=$1 type=rep re=sync$SYNCS len=0" "$T/$1.out"
	printf -v "$off_var" %s "$(size "$T/$1.out")"
	tail -c "$(size "$T/want")" "$T/$1.out" | cmp -s - "$T/want"
}

# nothing_more NAME: NAME has received nothing beyond what was expected.
nothing_more() {
	local off_var=OFF_$1
	if [ "$(size "$T/$1.out")" -ne "${!off_var}" ]; then
		echo "$1 got more:"
		tail -c +$((${!off_var} + 1)) "$T/$1.out" | cat -A | head -40
		return 1
	fi
}

# exited PID: the process is gone (or a zombie, waiting to be reaped).
exited() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

# closed NAME: the hub closed NAME's connection, so its socat ended.
closed() {
	local pid=PID_$1
	wait_for 5 exited "${!pid}"
}

# hub_exit: wait for dsd to end and put its exit status in $rc.
hub_exit() {
	wait_for 10 exited "$HUB"
	rc=0
	wait "$HUB" || rc=$?
}

# ctl COMMAND: one request to the hub on the control socket, as "op";
# the reply's body goes to stdout.
ctl() {
	{
		frame "from=op to=* type=hello id=h"
		frame "from=op to=dsd type=req id=c" "$1"$'\n'
	} | socat -t 5 - "UNIX-CONNECT:$T/ctl.sock" >"$T/ctl.out"
	dsrecv <"$T/ctl.out"
}

# stat_of KEY: one counter from the hub's stats.
stat_of() {
	ctl stats | awk -F '\t' -v k="$1" '$1 == k { print $2 }'
}

stat_is() {
	[ "$(stat_of "$1")" = "$2" ]
}

# held NAME: a client holds NAME.
held() {
	ctl names | grep -q "^$1	[1-9]"
}

stat_at_least() {
	[ "$(stat_of "$1")" -ge "$2" ]
}

# Bystanders: a pair of clients, by1 sending a numbered message to by2
# every 20 ms, in the background, while a test hurts the hub in some
# other way.  bystanders_flowing checks that messages still arrive;
# bystanders_check stops them and checks that by2 got every one, in
# order, and by1 nothing but its hello.
bystanders() {
	hello by1
	hello by2
	bg by_loop 3>&-
	BY=$!
	bystanders_flowing
}

by_loop() {
	local i=0
	# Not bats's trap on every command: it would cost more than the loop.
	trap - DEBUG
	while [ ! -e "$T/by.stop" ]; do
		i=$((i + 1))
		put by1 "from=by1 to=by2 id=$i" "m$i"
		echo "$i" >"$T/by.sent"
		sleep 0.02
	done
}

by_count() {
	grep -ac '^ds1 from=by1 to=by2 ' "$T/by2.out" || true
}

by_more_than() {
	[ "$(by_count)" -gt "$1" ]
}

bystanders_flowing() {
	local n
	n=$(by_count)
	wait_for 3 by_more_than $((n + 5))
}

bystanders_check() {
	local sent
	touch "$T/by.stop"
	wait_for 5 exited "$BY"
	sent=$(cat "$T/by.sent")
	wait_for 5 by_more_than $((sent - 1))
	grep -a '^ds1 from=by1 to=by2 ' "$T/by2.out" |
	    sed 's/.* id=\([0-9]*\) .*/\1/' >"$T/by.got"
	seq "$sent" >"$T/by.want"
	if ! cmp -s "$T/by.want" "$T/by.got"; then
		echo "bystanders: sent $sent, by2 got $(wc -l <"$T/by.got")"
		diff "$T/by.want" "$T/by.got" | head
		return 1
	fi
	nothing_more by1
}

# lines FILE: the number of lines in FILE.
lines() {
	wc -l <"$1"
}

# --- hello --------------------------------------------------------------

@test "hello: the hub answers with its name, the body limit and the queue size" {
	hub -n central -M 1000 -Q 64k
	client alice
	put alice "from=alice to=* type=hello id=1"
	expect alice "from=central to=alice type=hello re=1 max=1000 queue=65536"
	# The name is held now: frames from it are served.
	put alice "from=alice to=central type=ping id=2"
	expect alice "from=central to=alice type=rep re=2"
	nothing_more alice
	[ ! -s "$T/dsd.err" ]
}

@test "hello: a second hello on a connection is refused with bad-hello, not routed" {
	hub
	hello bob
	hello alice
	put alice "from=alice to=* type=hello id=2"
	expect alice "from=dsd to=alice type=err re=2 status=1 reason=bad-hello" $'already said hello\n'
	put alice "from=alice to=bob type=hello id=3"
	expect alice "from=dsd to=alice type=err re=3 status=1 reason=bad-hello" $'already said hello\n'
	# The connection stays usable, and bob saw none of it.
	sync alice
	sync bob
	nothing_more alice
	nothing_more bob
}

@test "hello: the hub's own name is refused and the connection closed" {
	hub
	client imp
	put imp "from=dsd to=* type=hello id=1"
	expect imp "from=dsd to=* type=err re=1 status=1 reason=bad-hello" $'dsd is the hub\'s own name\n'
	closed imp
	nothing_more imp
	eq "$(ctl names)" "op	1"
}

@test "hello: a frame before the hello gets err reason=no-hello and the connection is closed" {
	hub
	hello bob
	client alice
	put alice "from=alice to=bob id=1" "hi"
	put alice "from=alice to=* type=hello id=2"
	expect alice "from=dsd to=alice type=err re=1 status=1 reason=no-hello" $'say hello before sending\n'
	closed alice
	nothing_more alice
	# Neither the message nor the late hello went anywhere.
	sync bob
	nothing_more bob
	eq "$(ctl names)" "bob	1
op	1"
}

@test "hello: none within the deadline (-d 0.5) gets err reason=timeout and the connection is closed" {
	hub -d 0.5
	client mute
	expect mute "from=dsd to=* type=err status=1 reason=timeout" $'no hello within 500 ms\n'
	closed mute
	nothing_more mute
	eq "$(cat "$T/dsd.err")" "dsd: client 1 (unix:): no hello within 500 ms"
	eq "$(stat_of timeouts)" 1
}

# --- routing ------------------------------------------------------------

@test "routing: to=NAME reaches its one holder, byte for byte" {
	hub
	hello alice
	hello bob
	hello carol
	put alice "from=alice to=bob type=req trace=t%201 id=7" $'hello\nbob\n'
	expect bob "from=alice to=bob type=req trace=t%201 id=7" $'hello\nbob\n'
	put bob "from=bob to=alice type=rep re=7"
	expect alice "from=bob to=alice type=rep re=7"
	sync alice
	sync bob
	sync carol
	nothing_more alice
	nothing_more bob
	nothing_more carol
}

@test "routing: a group of 3 holders gets the messages round-robin, 3 each of 9" {
	hub
	hello alice
	for g in g1 g2 g3; do
		hello "$g"
		put "$g" "from=$g to=dsd type=req id=j" $'join work\n'
		expect "$g" "from=dsd to=$g type=rep re=j"
	done
	for i in 1 2 3 4 5 6 7 8 9; do
		put alice "from=alice to=work id=$i" "w$i"
	done
	sync alice
	nothing_more alice
	for g in g1 g2 g3; do
		drain "$g"
		eq "$(grep -ac '^ds1 from=alice to=work ' "$T/$g.out")" 3
	done
	# Each message went to exactly one of them.
	cat "$T/g1.out" "$T/g2.out" "$T/g3.out" | grep -a '^w' | sort -n -k1.2 >"$T/all"
	eq "$(tr '\n' ' ' <"$T/all")" "w1 w2 w3 w4 w5 w6 w7 w8 w9 "
}

@test "routing: fan=all reaches every holder of the name except the sender" {
	hub
	hello alice
	for g in g1 g2 g3; do
		hello "$g"
		put "$g" "from=$g to=dsd type=req id=j" $'join work\n'
		expect "$g" "from=dsd to=$g type=rep re=j"
	done
	put g1 "from=g1 to=work fan=all id=1" "from g1"
	expect g2 "from=g1 to=work fan=all id=1" "from g1"
	expect g3 "from=g1 to=work fan=all id=1" "from g1"
	put alice "from=alice to=work fan=all id=2" "from alice"
	for g in g1 g2 g3; do
		expect "$g" "from=alice to=work fan=all id=2" "from alice"
	done
	for c in alice g1 g2 g3; do
		sync "$c"
		nothing_more "$c"
	done
}

@test "routing: to=* reaches every client except the sender" {
	hub
	hello alice
	hello bob
	hello carol
	put alice "from=alice to=* id=1" "to all"
	expect bob "from=alice to=* id=1" "to all"
	expect carol "from=alice to=* id=1" "to all"
	for c in alice bob carol; do
		sync "$c"
		nothing_more "$c"
	done
}

@test "routing: no holder gets err reason=no-route re=ID; a reply to nobody is dropped quietly" {
	hub
	hello alice
	put alice "from=alice to=nobody type=req id=42" "anyone?"
	expect alice "from=dsd to=alice type=err re=42 status=1 reason=no-route" $'no route to nobody\n'
	put alice "from=alice to=nobody id=43"
	expect alice "from=dsd to=alice type=err re=43 status=1 reason=no-route" $'no route to nobody\n'
	put alice "from=alice to=nobody type=rep re=9"
	put alice "from=alice to=nobody type=err re=9 status=1"
	sync alice
	nothing_more alice
	eq "$(stat_of no_route)" 4
}

@test "routing: join and leave change what a connection holds and where frames go" {
	hub
	hello alice
	hello bob
	put alice "from=alice to=dsd type=req id=1" $'join svc\n'
	expect alice "from=dsd to=alice type=rep re=1"
	put bob "from=bob to=svc type=req id=2" "for svc"
	expect alice "from=bob to=svc type=req id=2" "for svc"
	# alice may now send as svc, and a reply to svc finds it.
	put alice "from=svc to=bob type=rep re=2" "done"
	expect bob "from=svc to=bob type=rep re=2" "done"
	eq "$(ctl names)" "alice	1
bob	1
op	1
svc	1"
	put alice "from=alice to=dsd type=req id=3" $'leave svc\n'
	expect alice "from=dsd to=alice type=rep re=3"
	put bob "from=bob to=svc type=req id=4" "for svc"
	expect bob "from=dsd to=bob type=err re=4 status=1 reason=no-route" $'no route to svc\n'
	put alice "from=svc to=bob id=5"
	expect alice "from=dsd to=alice type=err re=5 status=1 reason=not-yours" $'this connection does not hold the name svc\n'
	# The hello name cannot be left, and nobody may join the hub's name.
	put alice "from=alice to=dsd type=req id=6" $'leave alice\n'
	expect alice "from=dsd to=alice type=err re=6 status=1 reason=bad-argument" $'cannot leave the hello name alice\n'
	put alice "from=alice to=dsd type=req id=7" $'join dsd\n'
	expect alice "from=dsd to=alice type=err re=7 status=1 reason=bad-argument" $'join needs a name other than the hub\'s\n'
	put alice "from=alice to=dsd type=req id=8" $'leave svc\n'
	expect alice "from=dsd to=alice type=err re=8 status=1 reason=bad-argument" $'not holding svc\n'
	for c in alice bob; do
		sync "$c"
		nothing_more "$c"
	done
}

@test "stamping: a from the connection does not hold is refused with not-yours and not delivered" {
	hub
	hello alice
	hello bob
	hello carol
	put alice "from=bob to=carol id=1" "forged"
	expect alice "from=dsd to=alice type=err re=1 status=1 reason=not-yours" $'this connection does not hold the name bob\n'
	# The connection stays usable: the next frame reaches carol, and it
	# is the first thing she gets.
	put alice "from=alice to=carol id=2" "real"
	expect carol "from=alice to=carol id=2" "real"
	put alice "from=carol to=* id=3" "forged"
	expect alice "from=dsd to=alice type=err re=3 status=1 reason=not-yours" $'this connection does not hold the name carol\n'
	for c in alice bob carol; do
		sync "$c"
		nothing_more "$c"
	done
	eq "$(stat_of refused)" 2
}

# --- control ------------------------------------------------------------

@test "control: type=ping gets an empty rep; a body 'ping' gets 'pong'; unknown commands are named" {
	hub
	hello alice
	put alice "from=alice to=dsd type=ping id=1"
	expect alice "from=dsd to=alice type=rep re=1"
	put alice "from=alice to=dsd type=req id=2" $'ping\n'
	expect alice "from=dsd to=alice type=rep re=2" $'pong\n'
	put alice "from=alice to=dsd id=3" $'ping\n'
	expect alice "from=dsd to=alice type=rep re=3" $'pong\n'
	put alice "from=alice to=dsd type=req id=4" $'frobnicate\n'
	expect alice "from=dsd to=alice type=err re=4 status=1 reason=unknown-command" \
	    $'unknown command \'frobnicate\' (try ping, stats, names, join, leave, kick, shutdown)\n'
	put alice "from=alice to=dsd type=req id=5" $'ping me\n'
	expect alice "from=dsd to=alice type=err re=5 status=1 reason=unknown-command" \
	    $'unknown command \'ping\' (try ping, stats, names, join, leave, kick, shutdown)\n'
	# The hub never answers an answer.
	put alice "from=alice to=dsd type=rep re=77" $'ping\n'
	sync alice
	nothing_more alice
}

# counters NAME: NAME asks the hub for stats; the counters that do not
# depend on time or sizes go to $T/counters.
counters() {
	local off_var=OFF_$1
	SYNCS=$((SYNCS + 1))
	put "$1" "from=$1 to=dsd type=req id=st$SYNCS" $'stats\n'
	wait_for 5 grep -aq "^ds1 from=dsd to=$1 type=rep re=st$SYNCS " "$T/$1.out"
	wait_for 5 grep -aq '^uptime_s' "$T/$1.out"
	tail -c +$((${!off_var} + 1)) "$T/$1.out" | dsrecv |
	    grep -E '^(connections|connections_total|names|msgs_in|msgs_out|drops|no_route|refused|bad_frames|slow_disconnects|timeouts|handlers_running|handlers_total)	' >"$T/counters"
	printf -v "$off_var" %s "$(size "$T/$1.out")"
}

@test "control: stats counts messages in and out, drops, no-route and refusals" {
	hub
	hello alice
	counters alice
	eq "$(cat "$T/counters")" "connections	1
connections_total	1
names	1
msgs_in	2
msgs_out	1
drops	0
no_route	0
refused	0
bad_frames	0
slow_disconnects	0
timeouts	0
handlers_running	0
handlers_total	0"
	hello bob
	put alice "from=alice to=bob id=1" "x"
	put alice "from=alice to=nobody id=2" "x"
	put alice "from=bob to=alice id=3" "x"
	expect bob "from=alice to=bob id=1" "x"
	# msgs_in: 2 hellos, 3 frames, 2 stats; msgs_out: 2 hellos, the
	# stats reply, the delivery and 2 errors.
	counters alice
	eq "$(cat "$T/counters")" "connections	2
connections_total	2
names	2
msgs_in	7
msgs_out	6
drops	2
no_route	1
refused	1
bad_frames	0
slow_disconnects	0
timeouts	0
handlers_running	0
handlers_total	0"
	grep -aq '^ds1 from=dsd to=alice type=err re=2 status=1 reason=no-route ' "$T/alice.out"
	grep -aq '^ds1 from=dsd to=alice type=err re=3 status=1 reason=not-yours ' "$T/alice.out"
	# bytes, the queue and the uptime are there too.
	ctl stats >"$T/stats"
	for k in bytes_in bytes_out queued_bytes queue_max uptime_s; do
		grep -q "^$k	[0-9][0-9]*\$" "$T/stats"
	done
}

@test "control: names lists every name and its holders, sorted" {
	hub -e svc=cat
	hello zed
	hello alice
	hello bob
	for c in alice zed; do
		put "$c" "from=$c to=dsd type=req id=j" $'join team\n'
		expect "$c" "from=dsd to=$c type=rep re=j"
	done
	put bob "from=bob to=dsd type=req id=n" $'names\n'
	expect bob "from=dsd to=bob type=rep re=n" "alice	1
bob	1
svc	1
team	2
zed	1
"
}

@test "control: kick and shutdown are denied on a normal connection" {
	hub
	hello alice
	hello bob
	put alice "from=alice to=dsd type=req id=1" $'kick bob\n'
	expect alice "from=dsd to=alice type=err re=1 status=1 reason=denied" $'kick is allowed only on the control socket\n'
	put alice "from=alice to=dsd type=req id=2" $'shutdown\n'
	expect alice "from=dsd to=alice type=err re=2 status=1 reason=denied" $'shutdown is allowed only on the control socket\n'
	sync bob
	sync alice
	nothing_more alice
	kill -0 "$HUB"
	[ ! -s "$T/dsd.err" ]
}

@test "control: the control socket is mode 0600 and may kick: every holder of the name is closed" {
	hub
	eq "$(stat -c %a "$T/ctl.sock")" 600
	hello alice
	hello victim
	hello other
	put other "from=other to=dsd type=req id=j" $'join victim\n'
	expect other "from=dsd to=other type=rep re=j"
	eq "$(ctl 'kick victim')" "kicked 2"
	closed victim
	closed other
	nothing_more victim
	nothing_more other
	grep -q '^dsd: client 2 (unix: as victim): closed: kicked$' "$T/dsd.err"
	grep -q '^dsd: client 3 (unix: as other): closed: kicked$' "$T/dsd.err"
	eq "$(lines "$T/dsd.err")" 2
	eq "$(ctl 'kick nobody')" "kicked 0"
	put alice "from=alice to=victim id=1"
	expect alice "from=dsd to=alice type=err re=1 status=1 reason=no-route" $'no route to victim\n'
}

@test "control: shutdown on the control socket drains the queues, then dsd exits 0" {
	hub
	# cons's socat writes into a fifo nobody reads yet, so what the hub
	# sends it stays queued in the hub.
	mkfifo "$T/cons.fifo"
	exec {hold}<>"$T/cons.fifo"
	OUT=$T/cons.fifo client cons
	put cons "from=cons to=* type=hello id=hi"
	hello prod
	body=$(head -c 4000 /dev/zero | tr '\0' x)
	for i in $(seq 200); do
		put prod "from=prod to=cons id=$i" "$body"
	done
	sync prod
	wait_for 5 stat_at_least queued_bytes 100000
	eq "$(ctl shutdown)" ""
	grep -q '^dsd: shutdown asked on the control socket$' "$T/dsd.err"
	# It waits for cons to take what is queued for it.
	kill -0 "$HUB"
	cat <"$T/cons.fifo" >"$T/cons.out" {hold}>&- &
	reader=$!
	hub_exit
	eq "$rc" 0
	exec {hold}>&-
	wait_for 5 exited "$reader"
	eq "$(grep -ac '^ds1 from=prod to=cons ' "$T/cons.out")" 200
	closed prod
	# Its sockets are gone.
	[ ! -e "$T/hub.sock" ]
	[ ! -e "$T/ctl.sock" ]
}

# --- local services -----------------------------------------------------

@test "-e: a local service's output comes back as a rep to the sender" {
	hub -e up='tr a-z A-Z' -e who='printf "%s %s %s" "$DS_FROM" "$DS_TO" "$DS_ID"'
	hello alice
	put alice "from=alice to=up type=req id=1" $'shout\n'
	expect alice "from=up to=alice type=rep re=1" $'SHOUT\n'
	put alice "from=alice to=who type=req id=2"
	expect alice "from=who to=alice type=rep re=2" "alice who 2"
	sync alice
	nothing_more alice
	# A service name cannot be taken by a client.
	put alice "from=alice to=dsd type=req id=3" $'join up\n'
	expect alice "from=dsd to=alice type=err re=3 status=1 reason=bad-argument" $'cannot join up: is a service of this hub\n'
	eq "$(stat_of handlers_total)" 2
}

@test "-e: a handler that exits non-zero gets err status=N with its stderr as the body" {
	hub -e fail='echo "no such thing" >&2; exit 3'
	hello alice
	put alice "from=alice to=fail type=req id=9" "x"
	expect alice "from=fail to=alice type=err re=9 status=3" $'no such thing\n'
	sync alice
	nothing_more alice
}

@test "-e: a handler past its deadline (-T 0.5) is stopped: err reason=timeout" {
	hub -T 0.5 -e slow='sleep 10'
	hello alice
	start=$(date +%s%N)
	put alice "from=alice to=slow type=req id=1"
	# Killed (status 128 + 9) well before the sleep would end.
	expect alice "from=slow to=alice type=err re=1 status=137 reason=timeout" \
	    $'slow: the handler ran past its deadline of 500 ms\n'
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -lt 3000 ]
	eq "$(stat_of handlers_running)" 0
}

@test "-e: -P 4 runs 4 handlers at once and holds the fifth until one ends" {
	mkdir "$T/m"
	# Each handler leaves a marker and waits for the go file.
	hub -P 4 -T 10 -e wait="touch $T/m/\$DS_ID; while [ ! -e $T/go ]; do sleep 0.02; done; echo \$DS_ID"
	hello alice
	for i in 1 2 3 4 5; do
		put alice "from=alice to=wait type=req id=$i"
	done
	wait_for 5 test -e "$T/m/4"
	eq "$(stat_of handlers_running)" 4
	eq "$(find "$T/m" -type f | wc -l)" 4
	[ ! -e "$T/m/5" ]
	touch "$T/go"
	for i in 1 2 3 4 5; do
		wait_for 5 grep -aq "^ds1 from=wait to=alice type=rep re=$i len=2\$" "$T/alice.out"
	done
	eq "$(stat_of handlers_total)" 5
}

# --- jobs: credit, queues, requeue, keepalive ---------------------------

# worker CONN CREDIT [NAME]: a connection CONN that says hello as NAME
# (default work) with credit=CREDIT, and takes the hub's hello.
worker() {
	local name=${3:-work}
	client "$1"
	put "$1" "from=$name to=* type=hello credit=$2 id=hi"
	expect "$1" "from=dsd to=$name type=hello re=hi max=16777216 queue=1048576 credit=$2"
}

# wsync CONN: sync for a worker connection, whose name is work.
wsync() {
	SYNCS=$((SYNCS + 1))
	put "$1" "from=work to=dsd type=ping id=sync$SYNCS"
	expect "$1" "from=dsd to=work type=rep re=sync$SYNCS"
}

# no_worker PATTERN: no process runs with PATTERN in its command line.
no_worker() {
	! pgrep -f -- "$1" >/dev/null
}

started_twice() {
	[ "$(grep -c '^dsd: x1: starting$' "$T/dsd.err")" -eq 2 ]
}

# job N: alice's request N to work, as alice sent it and as it arrives.
job() {
	put alice "from=alice to=work type=req id=$1" "job $1"
}

@test "jobs: each worker gets at most its credit; the rest wait in order and go as credit comes back" {
	hub -K 0
	worker w1 1
	worker w2 2
	hello alice
	for i in 1 2 3 4 5; do job "$i"; done
	expect w1 "from=alice to=work type=req id=1" "job 1"
	expect w2 "from=alice to=work type=req id=2" "job 2"
	expect w2 "from=alice to=work type=req id=3" "job 3"
	wait_for 5 stat_is jobs_queued 2
	eq "$(stat_of jobs_in_flight)" 3
	eq "$(stat_of workers)" 2
	# The reply goes to alice with worker= added; job 4 takes its place.
	put w2 "from=work to=alice type=rep re=2" "done 2"
	expect alice "from=work to=alice type=rep re=2 worker=client2" "done 2"
	expect w2 "from=alice to=work type=req id=4" "job 4"
	put w1 "from=work to=alice type=err re=1 status=3" "failed 1"
	expect alice "from=work to=alice type=err re=1 status=3 worker=client1" "failed 1"
	expect w1 "from=alice to=work type=req id=5" "job 5"
	# Replies on two connections may pass each other: one at a time.
	for i in 3 4; do put w2 "from=work to=alice type=rep re=$i" "done $i"; done
	expect alice "from=work to=alice type=rep re=3 worker=client2" "done 3"
	expect alice "from=work to=alice type=rep re=4 worker=client2" "done 4"
	put w1 "from=work to=alice type=rep re=5" "done 5"
	expect alice "from=work to=alice type=rep re=5 worker=client1" "done 5"
	# A second answer to a job already answered is no job's: routed as
	# any reply, not doubled up as a job's.
	sync alice
	nothing_more alice
	wsync w1
	nothing_more w1
	eq "$(stat_of jobs_total)" 5
	eq "$(stat_of jobs_done)" 5
	eq "$(stat_of jobs_queued)" 0
}

@test "jobs: a lost worker's jobs go to another, marked redelivered=1, and the requester gets one reply each" {
	hub -K 0
	worker w1 2
	hello alice
	job 1
	job 2
	expect w1 "from=alice to=work type=req id=1" "job 1"
	expect w1 "from=alice to=work type=req id=2" "job 2"
	worker w2 1
	kill "$PID_w1"
	closed w1
	wait_for 5 grep -q "2 jobs in flight queued again" "$T/dsd.err"
	expect w2 "from=alice to=work type=req redelivered=1 id=1" "job 1"
	put w2 "from=work to=alice type=rep re=1" "one"
	expect w2 "from=alice to=work type=req redelivered=1 id=2" "job 2"
	put w2 "from=work to=alice type=rep re=2" "two"
	expect alice "from=work to=alice type=rep re=1 worker=client3" "one"
	expect alice "from=work to=alice type=rep re=2 worker=client3" "two"
	sync alice
	nothing_more alice
	eq "$(stat_of jobs_redelivered)" 2
}

@test "jobs: a job waits while its name has no worker, and goes to the next one that comes" {
	hub -K 0
	worker w1 1
	hello alice
	job 1
	expect w1 "from=alice to=work type=req id=1" "job 1"
	kill "$PID_w1"
	closed w1
	job 2
	sync alice
	# No worker, two jobs waiting, and no error for either.
	nothing_more alice
	wait_for 5 stat_is jobs_queued 2
	worker w2 1
	expect w2 "from=alice to=work type=req redelivered=1 id=1" "job 1"
	put w2 "from=work to=alice type=rep re=1" "one"
	expect w2 "from=alice to=work type=req id=2" "job 2"
	wait_for 5 grep -aq '^ds1 from=work to=alice type=rep re=1 worker=client[0-9]* len=3$' "$T/alice.out"
}

@test "jobs: a worker silent past the keepalive (-K 1) is pinged, then closed, and its job sent again" {
	hub -K 1
	worker w1 1
	hello alice
	job 1
	# The ping may come before the job or after it.
	wait_for 5 grep -aq '^ds1 from=alice to=work type=req id=1 len=5$' "$T/w1.out"
	wait_for 5 grep -aq '^ds1 from=dsd to=work type=ping id=ka1 len=0$' "$T/w1.out"
	closed w1
	grep -q "(unix: as work): closed: no answer to the keepalive$" "$T/dsd.err"
	eq "$(stat_of keepalive_lost)" 1
	worker w2 1
	expect w2 "from=alice to=work type=req redelivered=1 id=1" "job 1"
	# A worker that answers its pings stays.
	wait_for 5 grep -aq '^ds1 from=dsd to=work type=ping id=ka2 len=0$' "$T/w2.out"
	put w2 "from=work to=dsd type=rep re=ka2"
	wait_for 5 grep -aq '^ds1 from=dsd to=work type=ping id=ka3 len=0$' "$T/w2.out"
	put w2 "from=work to=alice type=rep re=1" "one"
	wait_for 5 grep -aq '^ds1 from=work to=alice type=rep re=1 worker=client[0-9]* len=3$' "$T/alice.out"
	kill -0 "$PID_w2"
	eq "$(stat_of keepalive_lost)" 1
}

@test "jobs: a requester that leaves takes its waiting jobs with it; the late reply is dropped" {
	hub -K 0
	worker w1 1
	hello alice
	job 1
	job 2
	expect w1 "from=alice to=work type=req id=1" "job 1"
	wait_for 5 stat_is jobs_queued 1
	kill "$PID_alice"
	closed alice
	wait_for 5 stat_is jobs_queued 0
	drops=$(stat_of drops)
	put w1 "from=work to=alice type=rep re=1" "one"
	wait_for 5 stat_is drops $((drops + 1))
	wsync w1
	nothing_more w1
	eq "$(stat_of jobs_in_flight)" 0
}

@test "jobs: -q 2 holds the requester back while 2 jobs wait, and every job still runs, in order" {
	hub -K 0 -q 2
	worker w1 1
	hello alice
	for i in 1 2 3 4 5 6; do job "$i"; done
	expect w1 "from=alice to=work type=req id=1" "job 1"
	wait_for 5 stat_is blocked 1
	eq "$(stat_of jobs_queued)" 2
	for i in 1 2 3 4 5 6; do
		[ "$i" = 1 ] || expect w1 "from=alice to=work type=req id=$i" "job $i"
		put w1 "from=work to=alice type=rep re=$i" "r$i"
		expect alice "from=work to=alice type=rep re=$i worker=client1" "r$i"
	done
	eq "$(stat_of jobs_done)" 6
	eq "$(stat_of blocked)" 0
}

@test "jobs: a bad credit is refused with bad-hello; a msg or a req without id to workers is no job" {
	hub -K 0
	for bad in 0 1025 x; do
		client "b$bad"
		put "b$bad" "from=b$bad to=* type=hello credit=$bad id=hi"
		expect "b$bad" "from=dsd to=b$bad type=err re=hi status=1 reason=bad-hello" \
		    $'credit must be a count from 1 to 1024\n'
		closed "b$bad"
	done
	worker w1 1
	hello alice
	put alice "from=alice to=work id=m1" "a message"
	put alice "from=alice to=work type=req" "no id"
	expect w1 "from=alice to=work id=m1" "a message"
	expect w1 "from=alice to=work type=req" "no id"
	eq "$(stat_of jobs_total)" 0
}

@test "-x: a supervised worker over its stdin and stdout serves jobs, logs with its name, and is restarted" {
	hub -x "echo starting >&2; exec dsrecv -c - -N work -e 'tr a-z A-Z; : $T'"
	wait_for 5 held work
	wait_for 5 grep -q '^dsd: x1: starting$' "$T/dsd.err"
	hello alice
	put alice "from=alice to=work type=req id=1" "hi"
	expect alice "from=work to=alice type=rep re=1 worker=x1" "HI"
	# Killed: logged, started again, and serving again.
	pkill -9 -f -- "-N work -e tr a-z A-Z; : $T"
	wait_for 5 grep -q '^dsd: x1: killed by signal 9; starting again in 0.1 s$' "$T/dsd.err"
	wait_for 5 started_twice
	wait_for 5 held work
	put alice "from=alice to=work type=req id=2" "again"
	expect alice "from=work to=alice type=rep re=2 worker=x1" "AGAIN"
	# SIGTERM: the worker is stopped, not restarted, and dsd exits 0.
	kill -TERM "$HUB"
	hub_exit
	eq "$rc" 0
	wait_for 5 no_worker "-N work -e tr a-z A-Z; : $T"
	[ "$(grep -c '^dsd: x1: starting$' "$T/dsd.err")" -eq 2 ]
}

@test "-x: a job sent while the workers start waits for them; one to a name none of them took gets no-route" {
	hub -x "while [ ! -e $T/go ]; do sleep 0.05; done; exec dsrecv -c - -N work -e 'tr a-z A-Z'"
	hello alice
	put alice "from=alice to=work type=req id=1" "early"
	put alice "from=alice to=nobody type=req id=2" "lost"
	sync alice
	nothing_more alice
	eq "$(stat_of jobs_queued)" 2
	touch "$T/go"
	expect alice "from=dsd to=alice type=err re=2 status=1 reason=no-route" $'no route to nobody\n'
	expect alice "from=work to=alice type=rep re=1 worker=x1" "EARLY"
	# Once the workers are up, no job waits for a name nobody holds.
	put alice "from=alice to=nobody type=req id=3" "lost"
	expect alice "from=dsd to=alice type=err re=3 status=1 reason=no-route" $'no route to nobody\n'
}

@test "-x: jobs wait for starting workers no longer than the hello deadline (-d 1)" {
	hub -d 1 -x 'exec sleep 30'
	hello alice
	put alice "from=alice to=work type=req id=1" "early"
	expect alice "from=dsd to=alice type=err re=1 status=1 reason=no-route" $'no route to work\n'
}

@test "-x: a worker that keeps failing is started again with a doubling wait" {
	hub -x 'echo "no host" >&2; exit 255'
	wait_for 5 grep -q '^dsd: x1: exited with status 255; starting again in 0.4 s$' "$T/dsd.err"
	grep -q '^dsd: x1: no host$' "$T/dsd.err"
	grep -q '^dsd: x1: exited with status 255; starting again in 0.1 s$' "$T/dsd.err"
	grep -q '^dsd: x1: exited with status 255; starting again in 0.2 s$' "$T/dsd.err"
}

# --- limits and faults, each with bystanders that must lose nothing -----

@test "fault: garbage gets err reason=bad-frame, the connection is closed, one line is logged" {
	hub
	bystanders
	hello bad
	raw bad 'hello world\n'
	expect bad "from=dsd to=bad type=err status=1 reason=bad-frame" \
	    $'message 2 at byte 42: not a ds1 frame: header must start with \'ds1 \', found \'h\'\n'
	closed bad
	nothing_more bad
	bystanders_flowing
	eq "$(cat "$T/dsd.err")" "dsd: client 3 (unix: as bad): message 2 at byte 42: not a ds1 frame: header must start with 'ds1 ', found 'h'"
	bystanders_check
	eq "$(stat_of bad_frames)" 1
}

@test "fault: a header over 4096 bytes is refused as soon as 4096 bytes came without a newline" {
	hub
	bystanders
	hello bad
	# 4096 bytes and no newline: with one it would be too long, so the hub
	# must not wait for it.  (Not a byte more: socat would fail writing
	# it to the closed socket, and might end before it shows the reply.)
	long=$(head -c 4096 /dev/zero | tr '\0' a)
	long="ds1 from=bad to=by2 x=$long"
	raw bad %s "${long:0:4096}"
	expect bad "from=dsd to=bad type=err status=1 reason=bad-frame" \
	    $'message 2 at byte 4138: header line longer than 4096 bytes\n'
	closed bad
	nothing_more bad
	bystanders_flowing
	eq "$(cat "$T/dsd.err")" "dsd: client 3 (unix: as bad): message 2 at byte 4138: header line longer than 4096 bytes"
	bystanders_check
	eq "$(stat_of bad_frames)" 1
}

@test "fault: a len over the body limit (-M) is refused before any of the body is read" {
	MAX=1000
	hub -M 1000
	bystanders
	hello bad
	put bad "from=bad to=by2 id=1" "$(head -c 1000 /dev/zero | tr '\0' a)"
	raw bad 'ds1 from=bad to=by2 len=1001\n'
	expect bad "from=dsd to=bad type=err status=1 reason=bad-frame" \
	    $'message 3 at byte 1101: len 1001 exceeds the limit of 1000 bytes\n'
	closed bad
	nothing_more bad
	bystanders_flowing
	eq "$(cat "$T/dsd.err")" "dsd: client 3 (unix: as bad): message 3 at byte 1101: len 1001 exceeds the limit of 1000 bytes"
	# The frame of exactly -M bytes before it was delivered.
	wait_for 5 grep -aq '^ds1 from=bad to=by2 id=1 len=1000$' "$T/by2.out"
	bystanders_check
}

# trickle NAME TEXT: NAME writes TEXT one byte every 0.2 s.
trickle() {
	local fd=FD_$1 i
	trap - DEBUG
	for ((i = 0; i < ${#2}; i++)); do
		printf %s "${2:i:1}" >&"${!fd}"
		sleep 0.2
	done
}

@test "fault: slowloris, a header that trickles in, is cut off at the -d deadline" {
	hub -d 1
	bystanders
	hello slow
	start=$(date +%s%N)
	# 20 s of header at this pace; the hub gives it 1 s.
	bg trickle slow 'ds1 from=slow to=by2 id=1 x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa len=0' 3>&-
	expect slow "from=dsd to=slow type=err status=1 reason=timeout" $'a frame stalled for 1000 ms\n'
	closed slow
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -lt 4000 ]
	nothing_more slow
	eq "$(cat "$T/dsd.err")" "dsd: client 3 (unix: as slow): a frame stalled for 1000 ms"
	bystanders_check
	eq "$(stat_of timeouts)" 1
}

@test "fault: a partial header and then nothing is cut off at the -d deadline" {
	hub -d 1
	bystanders
	hello slow
	raw slow 'ds1 from=slow to=by2 id=1'
	expect slow "from=dsd to=slow type=err status=1 reason=timeout" $'a frame stalled for 1000 ms\n'
	closed slow
	nothing_more slow
	bystanders_check
}

@test "fault: a body that stops half-way is cut off at the -d deadline" {
	hub -d 1
	bystanders
	hello slow
	raw slow 'ds1 from=slow to=by2 id=1 len=100\nonly part of it'
	expect slow "from=dsd to=slow type=err status=1 reason=timeout" $'a frame stalled for 1000 ms\n'
	closed slow
	nothing_more slow
	bystanders_check
	run ! grep -aq 'only part' "$T/by2.out"
}

@test "limit: at -c maxconn a new connection waits in the backlog and is served once a client leaves" {
	hub -c 3
	bystanders
	hello x
	# The fourth connection is made by the kernel, but dsd does not take it.
	client y
	put y "from=y to=* type=hello id=hi"
	bystanders_flowing
	bystanders_flowing
	[ ! -s "$T/y.out" ]
	# The control socket has places of its own: the operator gets in.
	eq "$(stat_of connections)" 4
	kill "$PID_x"
	expect y "from=dsd to=y type=hello re=hi max=16777216 queue=1048576"
	sync y
	nothing_more y
	bystanders_check
}

# flood NAME TO COUNT SIZE: in the background, NAME sends COUNT messages
# of SIZE bytes to TO, with ids 1 to COUNT; a COUNT of 0 never ends.  Its
# pid is $FLOOD.  (dssend does it, not a shell loop: a shell blocked in
# a write to a full fifo does not die of SIGTERM.)
flood() {
	local fd=FD_$1 src=/dev/zero
	if [ "$3" -gt 0 ]; then
		src=$T/$1.payload
		head -c $(($3 * $4)) /dev/zero | tr '\0' x >"$src"
	fi
	bg flood_proc "$src" "${!fd}" -b "$4" -i 1 -f "$1" -t "$2" 3>&-
	FLOOD=$!
}

flood_proc() {
	local src=$1 fd=$2
	shift 2
	exec dssend "$@" "$src" >&"$fd"
}

@test "limit: a consumer that never reads holds its producer back, then is cut off (-Q 64k -w 1)" {
	QUEUE=65536
	hub -Q 64k -w 1
	bystanders
	deaf slow
	raw slow 'ds1 from=slow to=* type=hello id=hi\n\n'
	wait_for 5 held slow
	hello prod
	flood prod slow 300 4000
	flooder=$FLOOD
	# prod is held back while slow's queue is full...
	wait_for 5 stat_is blocked 1
	[ "$(stat_of queue_max)" -ge 65536 ]
	bystanders_flowing
	# ...until slow has been over its queue for -w, and is cut off.
	wait_for 5 stat_is slow_disconnects 1
	grep -q '^dsd: client 3 (unix: as slow): closed: slow consumer: its queue stayed full$' "$T/dsd.err"
	eq "$(lines "$T/dsd.err")" 1
	# Then prod goes on: what is left gets no-route.
	wait_for 10 exited "$flooder"
	drain prod
	grep -aq '^ds1 from=dsd to=prod type=err re=300 status=1 reason=no-route len=' "$T/prod.out"
	bystanders_check
	eq "$(stat_of blocked)" 0
}

@test "limit: producers flooding a reader that never reads cannot grow dsd's memory (VmRSS)" {
	MAX=1048576
	hub -Q 1M -M 1M -w 60
	bystanders
	deaf slow
	raw slow 'ds1 from=slow to=* type=hello id=hi\n\n'
	wait_for 5 held slow
	# Four producers, each with 64 MiB to send.
	for p in p1 p2 p3 p4; do
		hello "$p"
		flood "$p" slow 0 65536
	done
	wait_for 10 stat_is blocked 4
	[ "$(stat_of queue_max)" -ge 1048576 ]
	# Twice, some time apart: held back, they stay held back.
	for round in 1 2; do
		bystanders_flowing
		bystanders_flowing
		rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$HUB/status")
		echo "VmRSS: $rss kB"
		[ "$rss" -lt $(((64 + 1) * 1024)) ]
	done
	eq "$(stat_of blocked)" 4
	bystanders_check
}

# --- signals ------------------------------------------------------------

@test "SIGTERM: dsd stops reading, delivers what is queued, then exits 0" {
	hub -w 10
	# Draining, the hub reads nothing more, so the bystanders stop just
	# before the signal; what the hub has read from them must arrive.
	bystanders
	# cons's socat writes into a fifo nobody reads yet, so what the hub
	# sends it stays queued in the hub.
	mkfifo "$T/cons.fifo"
	exec {hold}<>"$T/cons.fifo"
	OUT=$T/cons.fifo client cons
	put cons "from=cons to=* type=hello id=hi"
	hello prod
	flood prod cons 200 4000
	wait_for 10 exited "$FLOOD"
	sync prod
	wait_for 5 stat_at_least queued_bytes 100000
	bystanders_flowing
	touch "$T/by.stop"
	wait_for 5 exited "$BY"
	sync by1
	kill -TERM "$HUB"
	wait_for 5 grep -q '^dsd: SIGTERM: draining, then exiting$' "$T/dsd.err"
	# It does not read any more...
	put prod "from=prod to=dsd type=ping id=late"
	# ...and waits for cons to take what is queued for it.
	kill -0 "$HUB"
	cat <"$T/cons.fifo" >"$T/cons.out" {hold}>&- &
	reader=$!
	hub_exit
	eq "$rc" 0
	exec {hold}>&-
	wait_for 5 exited "$reader"
	eq "$(grep -ac '^ds1 from=prod to=cons ' "$T/cons.out")" 200
	eq "$(grep -ac '^ds1 from=prod to=cons id=200 len=4000$' "$T/cons.out")" 1
	closed prod
	run ! grep -aq 're=late' "$T/prod.out"
	eq "$(cat "$T/dsd.err")" "dsd: SIGTERM: draining, then exiting"
	bystanders_check
}

@test "SIGPIPE: a client that vanishes while the hub writes to it does not kill dsd" {
	# Started with SIGPIPE at its default action, so that only dsd's own
	# handling keeps it alive.
	HUB_PRE=(env --default-signal=PIPE)
	hub -w 10
	bystanders
	mkfifo "$T/victim.fifo"
	exec {hold}<>"$T/victim.fifo"
	OUT=$T/victim.fifo client victim
	put victim "from=victim to=* type=hello id=hi"
	hello prod
	flood prod victim 0 4000
	wait_for 5 stat_at_least queued_bytes 100000
	# The victim goes with its socket full and the hub's queue for it
	# not empty: the hub's next write to it fails with EPIPE.
	kill -KILL "$PID_victim"
	wait "$PID_victim" 2>/dev/null || true
	wait_for 5 stat_is connections 4
	kill -0 "$HUB"
	# prod's frames to victim now get no-route; the hub serves on.
	wait_for 5 grep -aq '^ds1 from=dsd to=prod type=err re=[0-9]* status=1 reason=no-route ' "$T/prod.out"
	kill "$FLOOD"
	bystanders_check
	[ ! -s "$T/dsd.err" ]
	exec {hold}>&-
}

# --- -k: the key ----------------------------------------------------------

# hmac KEYFILE TEXT: hex(HMAC-SHA256(key, TEXT)), the key being the file's
# bytes less its newline.
hmac() {
	printf %s "$2" | openssl dgst -sha256 -hmac "$(cat "$1")" -r | cut -d ' ' -f 1
}

# hub_nonce NAME: the nonce in the hub's hello to NAME.
hub_nonce() {
	sed -n 's/^ds1 from=dsd to=[^ ]* type=hello re=hi .* nonce=\([0-9a-f]*\) .*/\1/p' "$T/$1.out"
}

# login NAME: connect as NAME to a hub with the key $T/key: hello with a
# nonce, check the hub's proof, and send ours.
login() {
	local cn hn
	cn=$(printf '%064x' "$RANDOM")
	client "$1"
	put "$1" "from=$1 to=* type=hello nonce=$cn id=hi"
	wait_for 5 grep -aq "^ds1 from=dsd to=$1 type=hello " "$T/$1.out"
	hn=$(hub_nonce "$1")
	[ "${#hn}" -eq 64 ]
	expect "$1" "from=dsd to=$1 type=hello re=hi max=16777216 queue=1048576 auth=hmac-sha256 nonce=$hn mac=$(hmac "$T/key" "$cn dsd")"
	put "$1" "from=$1 to=dsd type=auth mac=$(hmac "$T/key" "$hn $1") id=au"
	expect "$1" "from=dsd to=$1 type=rep re=au"
}

@test "-k: the hub proves the key, the client proves it back, and then holds its name" {
	echo 's3cret key' >"$T/key"
	hub -k "$T/key"
	login bob
	login alice
	put alice "from=alice to=bob id=1" "signed"
	expect bob "from=alice to=bob id=1" "signed"
	sync alice
	nothing_more alice
	[ ! -s "$T/dsd.err" ]
}

@test "-k: a wrong proof gets err reason=auth and the connection is closed; frames before it get no-hello" {
	echo 's3cret key' >"$T/key"
	hub -k "$T/key"
	login bob
	# Without a nonce of its own, the client gets no proof from the hub.
	client alice
	put alice "from=alice to=* type=hello id=hi"
	wait_for 5 grep -aq '^ds1 from=dsd to=alice type=hello ' "$T/alice.out"
	hn=$(hub_nonce alice)
	expect alice "from=dsd to=alice type=hello re=hi max=16777216 queue=1048576 auth=hmac-sha256 nonce=$hn"
	echo 'wrong key' >"$T/wrong"
	put alice "from=alice to=dsd type=auth mac=$(hmac "$T/wrong" "$hn alice") id=au"
	expect alice "from=dsd to=alice type=err re=au status=1 reason=auth" $'authentication failed\n'
	closed alice
	eq "$(cat "$T/dsd.err")" "dsd: client 2 (unix: as alice): authentication failed"
	# A frame before the proof.
	client carol
	put carol "from=carol to=* type=hello id=hi"
	put carol "from=carol to=bob id=1" "unsigned"
	wait_for 5 grep -aq '^ds1 from=dsd to=carol type=hello ' "$T/carol.out"
	hn=$(hub_nonce carol)
	expect carol "from=dsd to=carol type=hello re=hi max=16777216 queue=1048576 auth=hmac-sha256 nonce=$hn"
	expect carol "from=dsd to=carol type=err re=1 status=1 reason=no-hello" $'authenticate before sending\n'
	closed carol
	# bob got nothing from either.
	sync bob
	nothing_more bob
	eq "$(stat_of auth_failures)" 1
}

# --- many clients ---------------------------------------------------------

# echo_bot PORT N: a client "echo" on 127.0.0.1:PORT that answers each
# of N messages with a rep carrying the same body, then ends.
echo_bot() {
	local port=$1 n=$2 fd line from id len body i
	exec {fd}<>"/dev/tcp/127.0.0.1/$port"
	frame "from=echo to=* type=hello id=hi" >&"$fd"
	IFS= read -r -t 10 -u "$fd" line
	IFS= read -r -t 10 -u "$fd" line
	for ((i = 0; i < n; i++)); do
		IFS= read -r -t 20 -u "$fd" line || return 1
		from=${line#* from=}
		from=${from%% *}
		id=${line#* id=}
		id=${id%% *}
		len=${line##* len=}
		body=
		[ "$len" -eq 0 ] || IFS= read -r -N "$len" -t 10 -u "$fd" body
		IFS= read -r -t 10 -u "$fd" line
		frame "from=echo to=$from type=rep re=$id" "$body" >&"$fd"
	done
}

# many_clients PORT N: open N connections to the hub on 127.0.0.1:PORT,
# all at once; each says hello as cI and sends "cI" to echo.  Then read
# every answer, and print how many were exactly right, or what came
# instead.
many_clients() {
	local port=$1 n=$2 i k fd got line ok=0
	local -a fds=()
	for ((i = 0; i < n; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
		fds+=("$fd")
	done
	for ((i = 0; i < n; i++)); do
		{
			frame "from=c$i to=* type=hello id=hi"
			frame "from=c$i to=echo type=req id=$i" "c$i"
		} >&"${fds[i]}" || return 1
	done
	for ((i = 0; i < n; i++)); do
		fd=${fds[i]}
		got=
		for ((k = 0; k < 4; k++)); do
			IFS= read -r -t 10 -u "$fd" line
			got+=$line'|'
		done
		if [ "$got" = "ds1 from=dsd to=c$i type=hello re=hi max=16777216 queue=1048576 len=0||ds1 from=echo to=c$i type=rep re=$i len=$((${#i} + 1))|c$i|" ]; then
			ok=$((ok + 1))
		else
			echo "c$i got: $got"
		fi
		exec {fd}>&-
	done
	echo "$ok"
}

# plain FUNCTION ARG...: run one of the functions above in a bash of its
# own, without bats's traps on every command, which would make the loops
# slow.
plain() {
	bash -c "$(declare -f frame echo_bot many_clients); \"\$@\"" plain "$@"
}

@test "1000 clients at once: each says hello, sends to one receiver, and gets its answer" {
	ulimit -n 4096 || {
		echo "cannot raise the limit on open files to 4096" >&2
		false
	}
	hub -c 1100 -l 127.0.0.1:0
	port=$(sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/dsd.out")
	[ -n "$port" ]
	bg plain echo_bot "$port" 1000 3>&-
	bot=$!
	wait_for 5 held echo
	# This shell holds all 1000 connections itself (bash's /dev/tcp).
	plain many_clients "$port" 1000 >"$T/many"
	eq "$(tail -n 1 "$T/many")" 1000
	wait_for 5 exited "$bot"
	wait "$bot"
	eq "$(stat_of drops)" 0
	eq "$(stat_of no_route)" 0
	[ ! -s "$T/dsd.err" ]
}
