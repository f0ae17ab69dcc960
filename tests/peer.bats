#!/usr/bin/env bats
# dspeer: members of a group on 127.0.0.1, each on a port of its own,
# tested from outside: frames on their stdin and stdout, the member list
# and counters through dsctl on their control sockets, and hostile
# datagrams sent by hand with socat and nc (see dspeer(1) and the peers in
# dsproto(7)).

# shellcheck disable=SC2016,SC2034,SC2154
bats_require_minimum_version 1.5.0
load helper
load peer

local_teardown() {
	kill_peers
}

USAGE="usage: dspeer -n name [-1Mv] [-l address] [-a address] [-j seed]... [-g group] [-k keyfile] [-C control-socket] [-E command] [-w seconds] [-o key=value]..."

# udp ADDRESS FILE: send FILE's bytes to ADDRESS as one datagram.
udp() {
	socat -b 65507 -u "OPEN:$2" "UDP-SENDTO:$1"
}

# hmac KEYFILE FILE: hex(HMAC-SHA256(key, FILE's bytes)), the key being the
# key file's bytes less its newline.
hmac() {
	openssl dgst -sha256 -hmac "$(cat "$1")" -r <"$2" | cut -d ' ' -f 1
}

# sealed KEYFILE TS HEADER BODY: a datagram as a key holder sends it:
# "ds1 HEADER len=N ts=TS mac=M", LF, BODY, LF; M over all of it without
# the mac field.
sealed() {
	printf 'ds1 %s len=%d ts=%s\n%s\n' "$3" "${#4}" "$2" "$4" >"$T/unsealed"
	printf 'ds1 %s len=%d ts=%s mac=%s\n%s\n' "$3" "${#4}" "$2" \
	    "$(hmac "$1" "$T/unsealed")" "$4"
}

now_us() {
	date +%s%6N
}

# --- joining and the member list --------------------------------------------

@test "join: six peers join through one seed and each sees all six alive" {
	group -- a b c d e f
	for n in a b c d e f; do
		run -0 members "$n"
		[ "${#lines[@]}" -eq 6 ]
		# Sorted by name, ourselves included.
		eq "$(printf '%s\n' "$output" | cut -f 1 | tr '\n' ' ')" "a b c d e f "
	done
	# Each line: name, the address it advertised, state, incarnation.
	run -0 members c
	tab=$'\t'
	[[ "${lines[0]}" =~ ^a"$tab$ADDR_a$tab"alive"$tab"[0-9]+$ ]]
	[[ "${lines[5]}" =~ ^f"$tab$ADDR_f$tab"alive"$tab"[0-9]+$ ]]
	run -0 dsctl -j -c "$T/c.sock" members
	[[ "${lines[1]}" =~ ^\{\"name\":\"b\",\"addr\":\"$ADDR_b\",\"state\":\"alive\",\"inc\":[0-9]+\}$ ]]
	run -0 stat_of d alive
	eq "$output" 6
	run -0 stat_of d name
	eq "$output" d
}

# --- messages -----------------------------------------------------------------

@test "messages: a frame goes to the member named, from our name, its body intact; to ourselves, straight out" {
	group -- a b c
	head -c 1000 /dev/urandom >"$T/body"
	# from= is replaced with the sender's name; every other field stays.
	put_file a "from=someone to=b type=msg x=1 id=m1" "$T/body"
	wait_for 5 has_header b "from=a to=b type=msg x=1 id=m1 len=1000"
	frames b | dsrecv -F '%b' >"$T/got"
	same_bytes "$T/body" "$T/got"
	# Only b got it.
	no_frames a
	no_frames c
	run -0 stat_of a msgs_out
	eq "$output" 1
	run -0 stat_of b msgs_in
	eq "$output" 1
	# To our own name: straight out on our own stdout, not sent.
	put a "from=x to=a type=note id=s" "to myself"
	wait_for 5 has_header a "from=a to=a type=note id=s len=9"
	eq "$(frames a | dsrecv -F '%b')" "to myself"
	run -0 stat_of a msgs_out
	eq "$output" 1
	eq "$(frames b | dsrecv -F '%i\n')" "m1"
	no_frames c
}

@test "messages: to=* reaches every other member once, and not ourselves" {
	group -- a b c d
	put a "from=a to=* id=all" "to all"
	wait_for 5 everyone_has "from=a to=* id=all len=6" b c d
	# A second broadcast: once it has arrived, so would any copy of the
	# first.
	put a "from=a to=* id=next" "again"
	wait_for 5 everyone_has "from=a to=* id=next len=5" b c d
	for n in b c d; do
		eq "$(count_header "$n" "from=a to=* id=all len=6")" 1
		eq "$(body_of "$n" all)" "to all"
	done
	no_frames a
}

# everyone_has HEADER NAME...: every NAME wrote a frame "ds1 HEADER".
everyone_has() {
	local h=$1 n
	shift
	for n in "$@"; do
		has_header "$n" "$h" || return 1
	done
}

@test "messages: ack=1 is delivered once, acknowledged, and retried while the receiver is stopped" {
	group -- a b
	put a "from=a to=b type=msg ack=1 id=r1" "reliable"
	wait_for 5 has_header b "from=a to=b type=msg ack=1 id=r1 len=8"
	wait_for 5 stat_at_least a msgs_acked 1
	# b stops for less than a suspicion timeout (0.8 s with the default
	# timings): a sends again after 200 ms, and b, once it runs again,
	# finds both copies waiting, delivers one and acknowledges both.
	kill -STOP "$PID_b"
	put a "from=a to=b type=msg ack=1 id=r2" "once only"
	wait_for 5 stat_at_least a msgs_retried 1
	kill -CONT "$PID_b"
	wait_for 5 stat_at_least a msgs_acked 2
	wait_for 5 has_header b "from=a to=b type=msg ack=1 id=r2 len=9"
	wait_for 5 stat_at_least b msgs_dup 1
	eq "$(count_header b "from=a to=b type=msg ack=1 id=r2 len=9")" 1
	eq "$(body_of b r2)" "once only"
	run -0 stat_of a msgs_failed
	eq "$output" 0
	# No err frame at the sender.
	no_frames a
	state_is a b alive
}

@test "refused: too big for a datagram, reserved fields, no route with -w 0" {
	group -w 0 -- a b
	# "ds1 from=a to=b id=f len=1369" LF body LF is exactly 1400 bytes.
	head -c 1369 /dev/zero | tr '\0' x >"$T/fits"
	head -c 1370 /dev/zero | tr '\0' x >"$T/big"
	put_file a "from=a to=b id=f" "$T/fits"
	wait_for 5 has_header b "from=a to=b id=f len=1369"
	put_file a "from=a to=b id=b" "$T/big"
	wait_for 5 refused a b too-big
	eq "$(body_of a b)" "a frame of 1401 bytes does not fit the datagram budget of 1400 bytes"
	grep -qxF "dspeer: cannot send to b: a frame of 1401 bytes does not fit the datagram budget of 1400 bytes" "$T/a.err"
	# Fields and types that belong to the datagram layer.
	put a "from=a to=b seq=5 id=seq" "x"
	wait_for 5 refused a seq bad-frame
	put a "from=a to=b g=x id=g" "x"
	wait_for 5 refused a g bad-frame
	put a "from=a to=b ts=1 id=ts" "x"
	wait_for 5 refused a ts bad-frame
	put a "from=a to=b mac=00 id=mac" "x"
	wait_for 5 refused a mac bad-frame
	put a "from=a to=b inc=1 id=inc" "x"
	wait_for 5 refused a inc bad-frame
	put a "from=a to=b type=swim-ping id=sw" "x"
	wait_for 5 refused a sw bad-frame
	put a "from=a to=b type=peer-ack id=pa" "x"
	wait_for 5 refused a pa bad-frame
	# A name nobody holds, with -w 0: refused at once.
	put a "from=a to=nobody id=n0" "x"
	wait_for 5 refused a n0 no-route
	grep -q "^dspeer: cannot send to nobody: " "$T/a.err"
	# b got only the one that fits.
	eq "$(frames b | dsrecv -F '%i\n')" "f"
	# Without an id, the err frame has no re.
	put a "from=a to=nobody" "x"
	wait_for 5 frames_have a "from=a to=a type=err status=1 reason=no-route len="
	# Still running, and still sending.
	put a "from=a to=b id=after" "x"
	wait_for 5 has_header b "from=a to=b id=after len=1"
}

# refused NAME ID REASON: NAME wrote an err frame about its frame ID.
refused() {
	frames_have "$1" "from=$1 to=$1 type=err re=$2 status=1 reason=$3 len="
}

# body_of NAME ID: the body of the frame NAME wrote with id or re ID (one
# line, without its newline).
body_of() {
	frames "$1" | dsrecv -F '%i\t%r\t%b\n' |
	    awk -F '\t' -v id="$2" '$1 == id || $2 == id { print $3 }'
}

# frames_have NAME TEXT: a header line NAME wrote contains TEXT.
frames_have() {
	frames "$1" | grep -a '^ds1 ' | grep -aqF "$2"
}

@test "refused: a name not in the list is held for -w seconds, and delivered if it joins" {
	peer a -w 1
	t0=$(ms)
	put a "from=a to=nobody id=n1" "x"
	wait_for 5 refused a n1 no-route
	t1=$(ms)
	[ $((t1 - t0)) -ge 900 ] || { echo "refused after $((t1 - t0)) ms"; false; }
	# With a longer hold, a member that joins in time gets it.
	peer b -w 10
	put b "from=b to=late id=l1" "for the late one"
	peer late -j "$ADDR_b"
	wait_for 10 has_header late "from=b to=late id=l1 len=16"
	no_frames b
}

# --- failures and leaving ---------------------------------------------------

@test "kill -9: every survivor marks the peer failed; messages to it are refused" {
	group "${FAST[@]}" -w 5 -- a b c d e
	kill -9 "$PID_c"
	# Sent before anyone noticed: retried until c is declared failed.
	put a "from=a to=c ack=1 id=lost" "hello?"
	wait_for 10 everyone failed c a b d e
	wait_for 10 refused a lost no-ack
	grep -q '^dspeer: cannot send to c: ' "$T/a.err"
	# c is dead now: refused at once, not held for -w.
	t0=$(ms)
	put a "from=a to=c id=dead" "hello?"
	wait_for 5 refused a dead no-route
	[ $(($(ms) - t0)) -lt 4000 ]
	for n in a b d e; do
		run -0 stat_of "$n" failed
		eq "$output" 1
		run -0 stat_of "$n" alive
		eq "$output" 4
	done
}

@test "leave: SIGTERM and dsctl leave exit 0 and are seen as left, not failed" {
	group "${FAST[@]}" -v -- a b c d e
	kill -TERM "$PID_d"
	exit_of d
	eq "$rc" 0
	wait_for 10 everyone left d a b c e
	run -0 dsctl -c "$T/e.sock" leave
	exit_of e
	eq "$rc" 0
	wait_for 10 everyone left e a b c
	# The control socket is removed at exit.
	[ ! -e "$T/e.sock" ]
	[ ! -e "$T/d.sock" ]
	for n in a b c; do
		grep -qxF "dspeer: d left ($ADDR_d)" "$T/$n.err"
		grep -qxF "dspeer: e left ($ADDR_e)" "$T/$n.err"
		no_line_in "$T/$n.err" "^dspeer: [de] failed"
		run -0 stat_of "$n" left
		eq "$output" 2
		run -0 stat_of "$n" failed
		eq "$output" 0
	done
}

@test "SIGSTOP for less than the suspicion timeout: the peer refutes and nobody declares it dead" {
	# With a probe every 100 ms and -o suspicion=16, a suspicion lasts
	# at least 1.6 s (16 periods x max(1, log10 5)); e stops for 0.6 s,
	# long enough to miss several probes and be suspected.
	group -v "${FAST[@]}" -o suspicion=16 -- a b c d e
	kill -STOP "$PID_e"
	wait_for 5 stopped "$PID_e"
	# Proving a negative: e stays stopped for 0.6 s.
	sleep 0.6
	kill -CONT "$PID_e"
	wait_for 10 all_see_all a b c d e
	for n in a b c d e; do
		no_line_in "$T/$n.err" "^dspeer: e failed" "^dspeer: e recovered"
	done
	# It was suspected (four members probe it ten times a second), and
	# said so.
	run -0 stat_of e refutations
	[ "$output" -ge 1 ]
	for n in a b c d; do
		run -0 stat_of "$n" deaths
		eq "$output" 0
	done
}

# --- hostile datagrams ------------------------------------------------------

@test "hostile datagrams: garbage, oversized, truncated, foreign and a flood are counted and change nothing" {
	group -g blue -- a b c
	members a | cut -f 1,3 >"$T/before"
	bad0=$(stat_of a bad)
	foreign0=$(stat_of a foreign)
	# Not ds1 at all, with socat and with nc.
	head -c 500 /dev/urandom >"$T/random"
	udp "$ADDR_a" "$T/random"
	printf 'hello, is anyone there?\n' | nc -u -q 0 "${ADDR_a%:*}" "${ADDR_a##*:}"
	# 65000 bytes, beyond any budget.
	{ printf 'ds1 from=x to=a g=blue len=64966\n'; head -c 64966 /dev/zero | tr '\0' y; printf '\n'; } >"$T/huge"
	[ "$(stat -c %s "$T/huge")" -eq 65000 ]
	udp "$ADDR_a" "$T/huge"
	# Cut short: the body is not all there.
	printf 'ds1 from=x to=a type=swim-ping g=blue inc=1 id=7 len=40\na x 1 127.0.0.1:9\n' >"$T/short"
	udp "$ADDR_a" "$T/short"
	# A bad update line.
	printf 'ds1 from=x to=a type=swim-ping g=blue inc=1 id=7 len=9\nz x 1 2 \n\n' >"$T/badline"
	udp "$ADDR_a" "$T/badline"
	wait_for 5 stat_at_least a bad $((bad0 + 5))
	# Well-formed, but another group's, or no group's.
	printf 'ds1 from=x to=a type=swim-ping g=red inc=1 id=7 len=18\na x 1 127.0.0.1:9\n\n' >"$T/red"
	udp "$ADDR_a" "$T/red"
	printf 'ds1 from=x to=a type=swim-ping inc=1 id=7 len=18\na x 1 127.0.0.1:9\n\n' >"$T/none"
	udp "$ADDR_a" "$T/none"
	printf 'ds1 from=x to=a type=msg g=red len=2\nhi\n' >"$T/redmsg"
	udp "$ADDR_a" "$T/redmsg"
	wait_for 5 stat_at_least a foreign $((foreign0 + 3))
	# A message for another name.
	printf 'ds1 from=b to=zz g=blue len=2\nhi\n' >"$T/other"
	udp "$ADDR_a" "$T/other"
	wait_for 5 stat_at_least a misdirected 1
	# Still up, still the same members, nothing came out.
	kill -0 "$PID_a"
	members a | cut -f 1,3 >"$T/after"
	same_bytes "$T/before" "$T/after"
	no_frames a
	# And messages still work both ways.
	put b "from=b to=a id=ok" "still here"
	wait_for 5 has_header a "from=b to=a id=ok len=10"
	put a "from=a to=b id=ok2" "me too"
	wait_for 5 has_header b "from=a to=b id=ok2 len=6"
	all_see_all a b c
	# A flood: 2000 datagrams of 8 bytes, from one socat.
	bad1=$(stat_of a bad)
	yes garbage | head -n 2000 >"$T/flood"
	socat -b 8 -u "OPEN:$T/flood" "UDP-SENDTO:$ADDR_a"
	wait_for 5 stat_at_least a bad $((bad1 + 100))
	put b "from=b to=a id=ok3" "after the flood"
	wait_for 5 has_header a "from=b to=a id=ok3 len=15"
	all_see_all a b c
}


@test "-v: bad datagrams are not logged one by one, but summed up at most once a second" {
	peer a -v
	yes garbage | head -n 3 >"$T/three"
	socat -b 8 -u "OPEN:$T/three" "UDP-SENDTO:$ADDR_a"
	wait_for 5 summed_up 3
	yes garbage | head -n 2000 >"$T/flood"
	t0=$(ms)
	socat -b 8 -u "OPEN:$T/flood" "UDP-SENDTO:$ADDR_a"
	bad=$(stat_of a bad)
	wait_for 5 summed_up "$bad"
	secs=$(( ($(ms) - t0) / 1000 ))
	# One line for the first three, and at most one a second after that.
	[ "$(grep -c '^dspeer: dropped ' "$T/a.err")" -le $((secs + 3)) ]
	no_line_in "$T/a.err" '^dspeer: [^d]' '^dspeer: d[^r]'
}

# summed_up N: a's stderr accounts for N bad datagrams, each line like
# "dspeer: dropped 3 bad datagrams (last from 127.0.0.1:5000: not ds1)".
summed_up() {
	local n
	n=$(grep -aE '^dspeer: dropped [0-9]+ bad datagrams? \(last from 127\.0\.0\.1:[0-9]+: .+\)$' "$T/a.err" |
	    awk '{ n += $3 } END { print n + 0 }')
	[ "$n" -eq "$1" ]
}

@test "stats: every counter that dspeer(1) lists, in its order, and no other" {
	documented=$(sed -n '/^The counters of/,/^\.El/p' "$BATS_TEST_DIRNAME/../man/dspeer.1" |
	    sed -n 's/^\.It Li //p' | tr -d ',' | tr -s ' ' '\n' | tr '\n' ' ')
	[ "$(echo "$documented" | wc -w)" -ge 30 ]
	peer a
	run -0 dsctl -c "$T/a.sock" stats
	eq "$(printf '%s\n' "$output" | cut -f 1 | tr '\n' ' ')" "$documented"
	# Every value is a number, but the name.
	[ "$(printf '%s\n' "$output" | awk -F '\t' 'NR > 1 && $2 !~ /^[0-9]+$/' | wc -l)" -eq 0 ]
}

@test "control socket: mode 0600; ping, send to a member, refusals and unknown commands" {
	group -w 5 -- a b
	eq "$(stat -c %a "$T/a.sock")" 600
	run -0 dsctl -c "$T/a.sock" ping
	run -0 dsctl -c "$T/a.sock" call a ping
	eq "$output" pong
	run -0 dsctl -c "$T/a.sock" send b hello there
	wait_for 5 frames_have b "from=a to=b "
	eq "$(frames b | dsrecv -F '%f %t %b')" "a b hello there"
	# Refused at once, not held for -w 5.
	t0=$(ms)
	run --separate-stderr dsctl -c "$T/a.sock" send nobody hi
	[ "$status" -eq 1 ]
	[ $(($(ms) - t0)) -lt 3000 ]
	[[ "$stderr" == *"nobody"* ]]
	run --separate-stderr dsctl -c "$T/a.sock" call a frob
	[ "$status" -eq 1 ]
	[ -n "$stderr" ]
	# Nothing of this came out on a's stdout.
	no_frames a
}

# --- the group label ----------------------------------------------------------

@test "-g: two groups that share seed addresses never merge" {
	peer r1 -g red -o sync=200
	peer b1 -g blue -o sync=200
	peer r2 -g red -o sync=200 -j "$ADDR_r1" -j "$ADDR_b1"
	peer b2 -g blue -o sync=200 -j "$ADDR_b1" -j "$ADDR_r1"
	peer u -o sync=200 -o join-retry=100 -j "$ADDR_r1" -j "$ADDR_b1"
	wait_for 10 all_see_all r1 r2
	wait_for 10 all_see_all b1 b2
	# Each seed got the other group's join requests, and the unlabelled
	# one's, and ignored them.
	wait_for 10 stat_at_least r1 foreign 2
	wait_for 10 stat_at_least b1 foreign 2
	# A few syncs later (200 ms apart), still apart.
	wait_for 10 stat_at_least r2 syncs 2
	wait_for 10 stat_at_least b2 syncs 2
	all_see_all r1 r2
	all_see_all b1 b2
	sees_all u 1
	# A broadcast stays in its group.
	put r1 "from=r1 to=* id=red" "red only"
	wait_for 5 has_header r2 "from=r1 to=* id=red len=8"
	no_frames b1
	no_frames b2
	no_frames u
}

# --- keys ---------------------------------------------------------------------

@test "-k: peers with the key form a group; another key or none never joins" {
	echo 'the group key' >"$T/key"
	echo 'another key' >"$T/other"
	group -k "$T/key" -- a b c
	auth0=$(stat_of a auth_fail)
	peer x -k "$T/other" -o join-retry=100 -j "$ADDR_a"
	peer y -o join-retry=100 -j "$ADDR_a"
	# x and y ask again every 100 ms while alone.
	wait_for 10 stat_at_least a auth_fail $((auth0 + 6))
	all_see_all a b c
	sees_all x 1
	sees_all y 1
	# The keyed ones still talk.
	put c "from=c to=a id=k" "sealed"
	wait_for 5 has_header a "from=c to=a id=k len=6"
}

@test "-k: a sealed datagram is taken once; a copy is replayed, an old one stale, a bad mac refused" {
	echo 'the group key' >"$T/key"
	echo 'another key' >"$T/other"
	group -k "$T/key" -- a b
	# A message as b would send it, made here with the key.
	sealed "$T/key" "$(now_us)" "from=b to=a id=forged" "made by hand" >"$T/dgram"
	udp "$ADDR_a" "$T/dgram"
	wait_for 5 has_header a "from=b to=a id=forged len=12"
	# The same bytes again.
	replayed0=$(stat_of a replayed)
	udp "$ADDR_a" "$T/dgram"
	wait_for 5 stat_at_least a replayed $((replayed0 + 1))
	# Two minutes old.
	sealed "$T/key" "$(($(now_us) - 120000000))" "from=b to=a id=old" "old" >"$T/old"
	udp "$ADDR_a" "$T/old"
	wait_for 5 stat_at_least a stale 1
	# Another key, a mac that was tampered with, no mac at all.
	auth0=$(stat_of a auth_fail)
	sealed "$T/other" "$(now_us)" "from=b to=a id=wrongkey" "x" >"$T/wrong"
	udp "$ADDR_a" "$T/wrong"
	sealed "$T/key" "$(now_us)" "from=b to=a id=tampered" "x" | sed '2s/x/y/' >"$T/tampered"
	udp "$ADDR_a" "$T/tampered"
	frame "from=b to=a id=plain" "x" >"$T/plain"
	udp "$ADDR_a" "$T/plain"
	wait_for 5 stat_at_least a auth_fail $((auth0 + 3))
	# Only the first one came out, once.
	eq "$(frames a | dsrecv -F '%i\n')" "forged"
	all_see_all a b
}

# --- events -------------------------------------------------------------------

@test "-E and -M: join, fail, recover and leave, with DS_EVENT, DS_PEER, DS_ADDR, DS_INC, DS_SELF" {
	group "${FAST[@]}" -- b c
	peer a "${FAST[@]}" -M -j "$ADDR_b" \
	    -E "echo \"\$DS_EVENT \$DS_PEER \$DS_ADDR \$DS_INC \$DS_SELF\" >>$T/a.events"
	wait_for 10 all_see_all a b c
	wait_for 5 event_count 2
	# c stops long enough to be declared failed, then comes back.
	kill -STOP "$PID_c"
	wait_for 10 grep -q '^fail c ' "$T/a.events"
	kill -CONT "$PID_c"
	wait_for 10 grep -q '^recover c ' "$T/a.events"
	kill -TERM "$PID_b"
	wait_for 10 grep -q '^leave b ' "$T/a.events"
	sort "$T/a.events" | cut -d ' ' -f 1-3,5 >"$T/got"
	printf '%s\n' "fail c $ADDR_c a" "join b $ADDR_b a" "join c $ADDR_c a" \
	    "leave b $ADDR_b a" "recover c $ADDR_c a" >"$T/want"
	diff "$T/want" "$T/got"
	# In the order they happened.
	eq "$(grep -n '' "$T/a.events" | grep -E ':(fail|recover|leave) ' | cut -d ' ' -f 1 | tr '\n' ' ')" \
	    "3:fail 4:recover 5:leave "
	# -M: the same events as frames on stdout, with the same incarnations.
	while read -r ev p addr inc self; do
		has_header a "from=a to=a type=event event=$ev peer=$p addr=$addr inc=$inc len=0" ||
		    { echo "no event frame for: $ev $p $addr $inc"; frames a; false; }
	done <"$T/a.events"
	eq "$(frames a | grep -ac '^ds1 ')" 5
	run -0 stat_of a events
	eq "$output" 5
}

event_count() {
	[ -f "$T/a.events" ] && [ "$(lines_in "$T/a.events")" -ge "$1" ]
}

@test "-E: the command's stderr is copied with a prefix, its stdout thrown away" {
	peer a -E 'echo "to stdout"; echo "to stderr $DS_PEER" >&2'
	peer b -j "$ADDR_a"
	wait_for 10 grep -qxF "dspeer: -E: to stderr b" "$T/a.err"
	no_frames a
}

# --- usage and start-up errors --------------------------------------------------

@test "usage: the usage line is the man page's SYNOPSIS" {
	synopsis=$(mandoc -T ascii "$BATS_TEST_DIRNAME/../man/dspeer.1" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//')
	eq "usage: $synopsis" "$USAGE"
}

# usage_error ARG...: dspeer ARG... exits 2 with one line on stderr and
# nothing on stdout; the line is in $stderr.
usage_error() {
	run --separate-stderr dspeer "$@" </dev/null
	echo "stderr: $stderr"
	[ "$status" -eq 2 ]
	eq "$output" ""
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "usage: no -n, a bad name, a bad -o, a wildcard without -a or -j exit 2 with one line" {
	usage_error -l 127.0.0.1:0
	eq "$stderr" "$USAGE"
	usage_error -n 'a b' -l 127.0.0.1:0
	[[ "$stderr" == "dspeer: "*"a b"* ]]
	usage_error -n "$(printf 'x%.0s' {1..65})" -l 127.0.0.1:0
	[[ "$stderr" == "dspeer: "* ]]
	usage_error -n a -l 127.0.0.1:0 -g 'no good'
	[[ "$stderr" == "dspeer: "*"no good"* ]]
	usage_error -n a -l 127.0.0.1:0 -o frob=1
	[[ "$stderr" == "dspeer: "*"frob"* ]]
	usage_error -n a -l 127.0.0.1:0 -o probe=soon
	[[ "$stderr" == "dspeer: "*"probe"* ]]
	usage_error -n a -l 127.0.0.1:0 -o probe
	[[ "$stderr" == "dspeer: "*"probe"* ]]
	# Out of range: swim_new's message.
	usage_error -n a -l 127.0.0.1:0 -o probe=200 -o probe-timeout=150
	[[ "$stderr" == "dspeer: "* ]]
	usage_error -n a -l 127.0.0.1:0 -w soon
	[[ "$stderr" == "dspeer: "*"soon"* ]]
	usage_error -n a -l nonsense
	[[ "$stderr" == "dspeer: "*"nonsense"* ]]
	usage_error -n a -l 0.0.0.0:0
	eq "$stderr" "dspeer: -l 0.0.0.0:0 is a wildcard: give -a with the address peers should use"
	usage_error -n a -l 127.0.0.1:0 extra
	eq "$stderr" "$USAGE"
	# getopt's complaint, then the usage line.
	run --separate-stderr dspeer -n a -x </dev/null
	[ "$status" -eq 2 ]
	eq "$stderr" "dspeer: invalid option -- 'x'
$USAGE"
	# At most 16 seeds.
	seeds=()
	for i in $(seq 17); do
		seeds+=(-j "127.0.0.1:$i")
	done
	usage_error -n a -l 127.0.0.1:0 "${seeds[@]}"
}

@test "start-up: a port in use, a seed that does not resolve exit 3; a bad key file exits 1" {
	peer a
	run --separate-stderr dspeer -n b -l "$ADDR_a" </dev/null
	[ "$status" -eq 3 ]
	eq "$stderr" "dspeer: cannot bind $ADDR_a: Address already in use"
	run --separate-stderr dspeer -n b -l 127.0.0.1:0 -j no-such-host.invalid:7946 </dev/null
	[ "$status" -eq 3 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dspeer: "*"no-such-host.invalid"* ]]
	: >"$T/empty"
	run --separate-stderr dspeer -n b -l 127.0.0.1:0 -k "$T/empty" </dev/null
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dspeer: "* ]]
	# The control socket of a live peer is not taken over.
	run --separate-stderr dspeer -n b -l 127.0.0.1:0 -C "$T/a.sock" </dev/null
	[ "$status" -eq 3 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	dsctl -c "$T/a.sock" ping
}
