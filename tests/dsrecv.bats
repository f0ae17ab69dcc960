#!/usr/bin/env bats
# dsrecv: unframing messages (see dsrecv(1)); the -e service mode is in
# serve.bats and the wire format's error paths in proto.bats.

# bats's run sets $stderr; cat | cmd is how a test feeds a pipe on purpose;
# sh -c scripts take their arguments as "$1" in single quotes.
# shellcheck disable=SC2154,SC2002,SC2016
bats_require_minimum_version 1.5.0
load helper

USAGE='usage: dsrecv [-H | -l | -0 | -F format] [-f from] [-t to] [-n count] [-e command [-P n]] [-N name] [-c address [-R] [-k keyfile]] [-M max]'

# A small stream of three messages with assorted fields, in $T/in.
three() {
	printf '%s' \
	    'ds1 from=alice to=bob type=req re=r0 tag=x%20y id=1 len=3' $'\n' 'one' $'\n' \
	    'ds1 from=carol to=bob id=2 len=0' $'\n' $'\n' \
	    'ds1 from=alice to=dave note=%e2%82%ac id=3 len=5' $'\n' $'thr\ne' $'\n' \
	    >"$T/in"
}

@test "by default the bodies are written verbatim, one after another" {
	three
	quiet dsrecv <"$T/in" >"$T/out"
	bytes_are "$T/out" 'onethr\ne'
}

@test "empty input: no output, exit 0" {
	run --separate-stderr dsrecv </dev/null
	[ "$status" -eq 0 ]
	eq "$output" ""
	eq "$stderr" ""
}

@test "-H passes frames through byte for byte, unusual spellings included" {
	# Lowercase escapes, a repeated extension field, to=*, fields in an
	# unusual order, no len: a relay must not rewrite any of it.
	printf '%s' \
	    'ds1 len=2 to=* x=%c3%a9 x=2 from=a' $'\n' 'hi' $'\n' \
	    'ds1 from=b to=c' $'\n' $'\n' \
	    >"$T/in"
	cat "$T/in" "$T/in" "$T/in" >"$T/in3"
	quiet dsrecv -H <"$T/in3" >"$T/out"
	same_bytes "$T/in3" "$T/out"
}

@test "-H passes 1 MiB binary frames through byte for byte" {
	head -c 1048576 /dev/urandom >"$T/data"
	dssend -t x -b 300000 "$T/data" >"$T/frames"
	quiet dsrecv -H <"$T/frames" >"$T/out"
	same_bytes "$T/frames" "$T/out"
}

@test "-l ends every body with a newline" {
	three
	quiet dsrecv -l <"$T/in" >"$T/out"
	bytes_are "$T/out" 'one\n\nthr\ne\n'
}

@test "-0 ends every body with a NUL" {
	three
	quiet dsrecv -0 <"$T/in" >"$T/out"
	bytes_are "$T/out" 'one\0\0thr\ne\0'
}

@test "-F: %%f %%t %%i %%r %%T %%l print the fields, decoded" {
	three
	quiet dsrecv -F '%f>%t id=%i re=%r %T %l|' <"$T/in" >"$T/out"
	bytes_are "$T/out" 'alice>bob id=1 re=r0 req 3|carol>bob id=2 re= msg 0|alice>dave id=3 re= msg 5|'
}

@test "-F: %%b is the body, binary-safe" {
	printf 'ds1 from=a to=b len=4\n\0\n\377\r\n' >"$T/in"
	quiet dsrecv -F '[%b]' <"$T/in" >"$T/out"
	bytes_are "$T/out" '[\0\n\377\r]'
}

@test "-F: %%h is the header line as received, without its newline" {
	three
	quiet dsrecv -F '%h|' <"$T/in" >"$T/out"
	bytes_are "$T/out" '%s|%s|%s|' \
	    'ds1 from=alice to=bob type=req re=r0 tag=x%20y id=1 len=3' \
	    'ds1 from=carol to=bob id=2 len=0' \
	    'ds1 from=alice to=dave note=%e2%82%ac id=3 len=5'
}

@test "-F: %%{key} is any field, percent-decoded; absent fields print nothing" {
	three
	quiet dsrecv -F '<%{tag}><%{note}><%{from}><%{len}>' <"$T/in" >"$T/out"
	bytes_are "$T/out" '<x y><><alice><3><><><carol><0><><\342\202\254><alice><5>'
}

@test "-F: %%{key} of a repeated field is its first value; an escaped NUL is a NUL byte" {
	printf 'ds1 from=a to=b k=x%%00y k=2\n\n' >"$T/in"
	quiet dsrecv -F '%{k}' <"$T/in" >"$T/out"
	bytes_are "$T/out" 'x\0y'
}

@test "-F: %%%% is a percent sign; \\n \\t \\0 \\\\ are escapes" {
	printf 'ds1 from=a to=b\n\n' >"$T/in"
	quiet dsrecv -F '100%%\n\t\0\\.' <"$T/in" >"$T/out"
	bytes_are "$T/out" '100%%\n\t\0\\.'
}

@test "-F: %%T is msg when type is absent, and %%l is 0 when len is absent" {
	printf 'ds1 from=a to=b\n\n' >"$T/in"
	quiet dsrecv -F '%T %l [%i] [%r] [%b]' <"$T/in" >"$T/out"
	bytes_are "$T/out" 'msg 0 [] [] []'
}

@test "-F: an unknown or trailing conversion is a usage error, before any input is read" {
	run --separate-stderr dsrecv -F '%f %x' </dev/null
	[ "$status" -eq 2 ]
	eq "$output" ""
	eq "$stderr" "dsrecv: -F: unknown conversion %x"
	run --separate-stderr dsrecv -F 'abc%' </dev/null
	[ "$status" -eq 2 ]
	eq "$output" ""
	[[ "$stderr" == "dsrecv: -F: unknown conversion %"* ]]
}

@test "-F: an unknown escape is a usage error" {
	run --separate-stderr dsrecv -F '\q' </dev/null
	[ "$status" -eq 2 ]
	eq "$output" ""
	eq "$stderr" "dsrecv: -F: unknown escape \\q"
}

@test "-F: %%{ without a valid key and } is a usage error" {
	local f
	for f in '%{tag' '%{}' '%{Bad}' '%{a b}'; do
		run --separate-stderr dsrecv -F "$f" </dev/null
		[ "$status" -eq 2 ]
		eq "$output" ""
		eq "$stderr" "dsrecv: -F: %{ must hold a key and end in }"
	done
}

@test "-f keeps only the messages from a name" {
	three
	quiet dsrecv -l -f alice <"$T/in" >"$T/out"
	bytes_are "$T/out" 'one\nthr\ne\n'
}

@test "-t keeps only the messages to a name" {
	three
	quiet dsrecv -l -t bob <"$T/in" >"$T/out"
	bytes_are "$T/out" 'one\n\n'
}

@test "-f and -t together keep the messages that match both" {
	three
	quiet dsrecv -F '%i ' -f alice -t bob <"$T/in" >"$T/out"
	bytes_are "$T/out" '1 '
}

@test "-t '*' keeps the broadcasts, not everything" {
	printf 'ds1 from=a to=*\n\nds1 from=a to=b len=1\nx\n' >"$T/in"
	quiet dsrecv -F '%t;' -t '*' <"$T/in" >"$T/out"
	bytes_are "$T/out" '*;'
}

@test "invalid -f or -t names are usage errors" {
	run --separate-stderr dsrecv -f 'a b' </dev/null
	[ "$status" -eq 2 ]
	eq "$stderr" "dsrecv: -f a b: names are 1 to 64 bytes of [A-Za-z0-9._-]"
	run --separate-stderr dsrecv -t 'a@b' </dev/null
	[ "$status" -eq 2 ]
	eq "$stderr" "dsrecv: -t a@b: names are 1 to 64 bytes of [A-Za-z0-9._-], or '*'"
	run --separate-stderr dsrecv -f '*' </dev/null
	[ "$status" -eq 2 ]
	eq "$output" ""
}

@test "-n stops after that many messages and exits 0" {
	three
	run --separate-stderr dsrecv -F '<%b>' -n 2 <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "<one><>"
	eq "$stderr" ""
	# More than there are: all of them.
	run --separate-stderr dsrecv -F '%i ' -n 99 <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "1 2 3 "
}

@test "-n stops before a bad frame that follows" {
	printf 'ds1 from=a to=b len=1\nx\ngarbage\n' >"$T/in"
	run --separate-stderr dsrecv -l -n 1 <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "x"
	eq "$stderr" ""
}

@test "-n counts only the messages that pass -f" {
	three
	run --separate-stderr dsrecv -F '%i ' -f alice -n 2 <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "1 3 "
}

@test "-n exits promptly while a producer keeps writing" {
	run --separate-stderr timeout 10 sh -c 'yes | dssend -l -t x | dsrecv -l -n 3'
	[ "$status" -eq 0 ]
	eq "$output" "y
y
y"
	eq "$stderr" ""
}

@test "-n exits promptly while the input stays open and idle" {
	# The writer sends two frames and then holds the pipe open: dsrecv
	# must not wait for more input once it has its two messages.
	mkfifo "$T/fifo"
	bg sh -c 'exec >"$1"; printf "ds1 from=a to=b len=1\nx\nds1 from=a to=b len=1\ny\n"; exec sleep 60' sh "$T/fifo"
	run --separate-stderr timeout 10 dsrecv -l -n 2 <"$T/fifo"
	[ "$status" -eq 0 ]
	eq "$output" "x
y"
}

@test "without -n, each message is written as soon as it arrives" {
	# A frame must come out while the writer is still holding the pipe.
	mkfifo "$T/fifo"
	bg sh -c 'exec dsrecv -l <"$1" >"$2"' sh "$T/fifo" "$T/out"
	exec 7>"$T/fifo"
	printf 'ds1 from=a to=b len=5\nfirst\n' >&7
	wait_for 10 grep -qx first "$T/out"
	exec 7>&-
}

@test "-n 0 and -n with a non-number are usage errors" {
	local n
	for n in 0 abc -1 ''; do
		run --separate-stderr dsrecv -n "$n" </dev/null
		[ "$status" -eq 2 ]
		eq "$output" ""
		eq "$stderr" "dsrecv: -n $n: expected a count of 1 or more"
	done
}

@test "-M: a len over the limit stops with exit 1; exactly the limit is fine" {
	printf 'ds1 from=a to=b len=1\nx\nds1 from=a to=b len=11\n01234567890\n' >"$T/in"
	run --separate-stderr dsrecv -M 10 <"$T/in"
	[ "$status" -eq 1 ]
	eq "$output" "x"
	eq "$stderr" "dsrecv: message 2 at byte 44: len 11 exceeds the limit of 10 bytes"
	# A body of exactly the limit is fine.
	printf 'ds1 from=a to=b len=10\n0123456789\n' >"$T/in"
	run --separate-stderr dsrecv -M 10 <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "0123456789"
}

@test "-M takes suffixes, and raises the limit above 16 MiB" {
	head -c 16777217 /dev/zero >"$T/big"
	dssend -M 17M -f a -i 1 -t x "$T/big" >"$T/frames"
	run --separate-stderr dsrecv <"$T/frames"
	[ "$status" -eq 1 ]
	eq "$output" ""
	# "ds1 from=a to=x id=1 len=" is 25 bytes: the value is at byte 25.
	eq "$stderr" "dsrecv: message 1 at byte 25: len 16777217 exceeds the limit of 16777216 bytes"
	quiet dsrecv -M 17M <"$T/frames" >"$T/out"
	same_bytes "$T/big" "$T/out"
}

@test "-M 0 accepts only empty bodies" {
	printf 'ds1 from=a to=b\n\nds1 from=a to=b len=1\nx\n' >"$T/in"
	run --separate-stderr dsrecv -l -M 0 <"$T/in"
	[ "$status" -eq 1 ]
	eq "$output" ""
	eq "$stderr" "dsrecv: message 2 at byte 37: len 1 exceeds the limit of 0 bytes"
}

@test "a bad -M is a usage error" {
	run --separate-stderr dsrecv -M lots </dev/null
	[ "$status" -eq 2 ]
	eq "$output" ""
	eq "$stderr" "dsrecv: -M lots: expected a size such as 65536, 64k or 16M"
}

@test "-H, -l, -0 and -F are exclusive" {
	local pair
	for pair in "-H -l" "-l -0" "-0 -F x" "-F x -H"; do
		# shellcheck disable=SC2086
		run --separate-stderr dsrecv $pair </dev/null
		[ "$status" -eq 2 ]
		eq "$output" ""
		eq "$stderr" "dsrecv: -H, -l, -0 and -F are exclusive
$USAGE"
	done
}

@test "an operand or an unknown option is a usage error" {
	run --separate-stderr dsrecv somefile </dev/null
	[ "$status" -eq 2 ]
	eq "$output" ""
	eq "$stderr" "dsrecv: unexpected argument: somefile
$USAGE"
	run --separate-stderr dsrecv -z </dev/null
	[ "$status" -eq 2 ]
	eq "$output" ""
	eq "${stderr##*$'\n'}" "$USAGE"
}

@test "dssend -l | dsrecv -l and dssend -0 | dsrecv -0 round-trip text exactly" {
	printf 'alpha\n\n  spaced  \ttab\n\303\251\n' >"$T/in"
	dssend -l -t x "$T/in" | quiet dsrecv -l >"$T/out"
	same_bytes "$T/in" "$T/out"
	tr '\n' '\0' <"$T/in" >"$T/in0"
	dssend -0 -t x "$T/in0" | quiet dsrecv -0 >"$T/out0"
	same_bytes "$T/in0" "$T/out0"
}

@test "a closed standard output ends dsrecv without an error message" {
	head -c 1048576 /dev/zero | dssend -b 4k -t x >"$T/frames"
	run --separate-stderr bash -c 'set -o pipefail; dsrecv <"$1" | head -c 10 >/dev/null' sh "$T/frames"
	eq "$stderr" ""
}

# ---- -e -P: handlers at once ----

# reqs N: N requests from me to job, with ids 1..N and the id as the body,
# in $T/in.
reqs() {
	local i
	: >"$T/in"
	for i in $(seq "$1"); do
		printf 'ds1 from=me to=job type=req id=%s len=2\n%s\n\n' "$i" "$i" >>"$T/in"
	done
}

# A handler that says it has started and waits (10 s at most) until $1
# handlers have, then answers with its id: it succeeds only when they run
# at once.  $T must not hold other go.* files.
together() {
	printf 'touch "%s/go.$$"; i=0; while [ "$(ls "%s" | grep -c "^go\\.")" -lt %s ]; do i=$((i+1)); [ $i -lt 1000 ] || { echo "alone $DS_ID" >&2; exit 9; }; sleep 0.01; done; echo "ran $(cat)"' "$T" "$T" "$1"
}

# The re= of each reply in a stream of frames, one a line.
res() {
	dsrecv -F '%T %r\n' <"$1"
}

@test "-P 4 runs four handlers at once; each reply answers its request" {
	reqs 4
	run --separate-stderr sh -c 'dsrecv -P 4 -e "$1" <"$2/in" >"$2/out"' _ "$(together 4)" "$T"
	[ "$status" -eq 0 ]
	eq "$stderr" ""
	eq "$(res "$T/out" | sort)" "rep 1
rep 2
rep 3
rep 4"
	eq "$(dsrecv -F '%r:%b' <"$T/out" | sort)" "1:ran 1
2:ran 2
3:ran 3
4:ran 4"
}

@test "-P: more messages than slots wait for a free one" {
	reqs 6
	quiet dsrecv -P 2 -e "$(together 2)" <"$T/in" >"$T/out"
	eq "$(res "$T/out" | sort)" "rep 1
rep 2
rep 3
rep 4
rep 5
rep 6"
}

@test "-P: replies are written in the order the handlers end, on stdout" {
	reqs 2
	export OUT="$T/out"
	# The first handler ends only once the second one's reply is out.
	quiet dsrecv -P 2 -e '
		if [ "$DS_ID" = 1 ]; then
			i=0
			until grep -q "re=2" "$OUT"; do
				i=$((i+1)); [ $i -lt 1000 ] || exit 9; sleep 0.01
			done
		fi
		cat' <"$T/in" >"$T/out" 3>&-
	eq "$(res "$T/out")" "rep 2
rep 1"
}

@test "-P 1 is the default: one at a time, a passed-through frame after the reply before it" {
	{
		printf 'ds1 from=me to=job type=req id=1 len=0\n\n'
		printf 'ds1 from=x to=me type=rep re=9 len=0\n\n'
		printf 'ds1 from=me to=job type=req id=2 len=0\n\n'
	} >"$T/in"
	quiet dsrecv -e 'sleep 0.2; echo $DS_ID' <"$T/in" >"$T/out"
	eq "$(res "$T/out")" "rep 1
rep 9
rep 2"
}

@test "-P -n: exits once that many handlers have ended, taking no more" {
	reqs 3
	quiet dsrecv -P 2 -n 2 -e "$(together 2)" <"$T/in" >"$T/out"
	eq "$(res "$T/out" | sort)" "rep 1
rep 2"
	eq "$(ls "$T" | grep -c '^go\.')" 2
}

@test "-P: bad input stops dsrecv with exit 1 after the running handlers answer" {
	reqs 2
	echo garbage >>"$T/in"
	run --separate-stderr sh -c 'dsrecv -P 2 -e "$1" <"$2/in" >"$2/out"' _ "$(together 2)" "$T"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "dsrecv: message 3 at byte 84: not a ds1 frame"* ]]
	eq "$(res "$T/out" | sort)" "rep 1
rep 2"
}

@test "-P on its own, -P 0, -P 1025 and -P x are usage errors" {
	run --separate-stderr dsrecv -P 2 </dev/null
	[ "$status" -eq 2 ]
	eq "$stderr" "dsrecv: -P runs handlers at once: it takes -e"
	for n in 0 1025 x ''; do
		run --separate-stderr dsrecv -P "$n" -e cat </dev/null
		[ "$status" -eq 2 ]
		eq "$stderr" "dsrecv: -P $n: expected 1 to 1024 handlers at once"
	done
	quiet dsrecv -P 1024 -e cat </dev/null
}

# ---- -e -P through a hub ----

# hub_hello FILE: the hub's answer to the hello, as the start of FILE.
hub_hello() {
	printf 'ds1 from=dsd to=job type=hello re=1 max=1024 queue=4096 len=0\n\n' >"$1"
}

@test "-c -: the hello announces credit=-P with -e, 1 by default" {
	hub_hello "$T/hub"
	quiet dsrecv -c - -N job -P 4 -e cat <"$T/hub" >"$T/out"
	bytes_are "$T/out" 'ds1 from=job to=* type=hello credit=4 id=1 len=0\n\n'
	quiet dsrecv -c - -N job -e cat <"$T/hub" >"$T/out"
	bytes_are "$T/out" 'ds1 from=job to=* type=hello credit=1 id=1 len=0\n\n'
}

@test "-c without -e announces no credit" {
	# A fake hub that keeps the hello it gets and answers it.
	bg socat UNIX-LISTEN:"$T/h.sock" SYSTEM:"head -n 2 >'$T/hello'; printf 'ds1 from=dsd to=job type=hello re=1 len=0\\\\n\\\\n'; sleep 10" 3>&-
	wait_for 5 test -S "$T/h.sock"
	bg dsrecv -c "unix:$T/h.sock" -N job 3>&-
	wait_for 5 test -s "$T/hello"
	wait_for 5 grep -q '^$' "$T/hello"
	eq "$(head -1 "$T/hello")" "ds1 from=job to=* type=hello id=1 len=0"
}

@test "-c - -P 2: the hub's pipe ends while two run; both replies are written, exit 0" {
	hub_hello "$T/hub"
	reqs 2
	cat "$T/in" >>"$T/hub"
	run --separate-stderr sh -c 'dsrecv -c - -N job -P 2 -e "$1" <"$2/hub" >"$2/out"' _ "$(together 2)" "$T"
	[ "$status" -eq 0 ]
	eq "$stderr" ""
	eq "$(res "$T/out" | sort)" "hello 
rep 1
rep 2"
}

# A hub on a Unix socket in $T, its address in $HUB.
start_hub() {
	bg dsd -1 -l "unix:$T/hub.sock" >"$T/hub.addr" 2>"$T/hub.err" 3>&-
	wait_for 5 test -s "$T/hub.addr"
	HUB=$(cat "$T/hub.addr")
}

@test "-c -P 3: three requests through a hub run at once" {
	start_hub
	bg dsrecv -c "$HUB" -N job -P 3 -e "$(together 3)" 2>"$T/recv.err" 3>&-
	wait_for 5 dsctl -c "$HUB" -w 1 ping job
	for i in 1 2 3; do
		bg sh -c 'echo "$1" | dsctl -c "$2" call job >"$3/call.$1" 2>&1' _ "$i" "$HUB" "$T" 3>&-
	done
	wait_for 15 sh -c 'cat "$1"/call.* | grep -c "^ran" | grep -qx 3' _ "$T"
	eq "$(cat "$T"/call.* | sort)" "ran 1
ran 2
ran 3"
	eq "$(cat "$T/recv.err")" ""
}

@test "-c: pings are answered while a handler runs" {
	start_hub
	export T
	# The handler runs until the test lets it go (or 20 s pass).
	bg dsrecv -c "$HUB" -N slow -e 'touch "$T/started"; i=0; until [ -e "$T/go" ] || [ $i -ge 2000 ]; do i=$((i+1)); sleep 0.01; done; echo done' 3>&-
	wait_for 5 dsctl -c "$HUB" -w 1 ping slow
	bg sh -c 'echo x | dsctl -c "$1" call slow >"$2/reply"' _ "$HUB" "$T" 3>&-
	wait_for 5 test -e "$T/started"
	run --separate-stderr dsctl -c "$HUB" -w 2 ping slow
	[ "$status" -eq 0 ]
	touch "$T/go"
	wait_for 10 test -s "$T/reply"
	eq "$(cat "$T/reply")" done
}
