#!/usr/bin/env bats
# dsctl: every command against a real dsd, with its exit statuses and
# error text (see dsctl(1)).

# bats's run sets $stderr and $output; sh -c scripts take their
# arguments as "$1" in single quotes.
# shellcheck disable=SC2154,SC2016,SC2001
bats_require_minimum_version 1.5.0
load helper

export LC_ALL=C
unset DS_HUB DS_KEY

USAGE='usage: dsctl [-j] [-c address] [-k keyfile] [-w timeout] command [arg ...]'
# A round-trip time: milliseconds with three decimals.
MS='[0-9]+\.[0-9]{3}'

# hub [DSD-OPTION...]: dsd on a free TCP port, with its control socket
# $T/ctl.sock and two local services: echo (cat) and fail (a message on
# stderr, exit 3).  The address is in $ADDR, the pid in $HUB.
hub() {
	bg dsd -1 -l 127.0.0.1:0 -C "$T/ctl.sock" -e echo=cat \
	    -e fail='echo "bad input" >&2; exit 3' "$@" \
	    >"$T/dsd.out" 2>"$T/dsd.err" 3>&-
	HUB=$!
	wait_for 5 test -s "$T/dsd.out"
	ADDR=$(head -n 1 "$T/dsd.out")
}

# has_name NAME: the hub lists NAME among its names.
has_name() {
	dsctl -c "$ADDR" names | cut -f 1 | grep -qx "$1"
}

# holders NAME: how many connections hold NAME (0 for none).
holders() {
	dsctl -c "$ADDR" names |
	    awk -F '\t' -v n="$1" '$1 == n { h = $2 } END { print h + 0 }'
}

holders_are() {
	[ "$(holders "$1")" = "$2" ]
}

# worker NAME [ping|mute]: a client of the hub that holds NAME and logs
# every line it receives to $T/NAME.log.  It answers each ping with an
# empty rep, as dsrecv -c does, unless it is mute; it never answers
# anything else.  Waits until the hub counts one more holder of NAME.
worker() {
	local name=$1 mode=${2:-ping} before
	before=$(holders "$name")
	cat >"$T/worker.sh" <<-'EOF'
		name=$1 mode=$2 log=$3
		printf 'ds1 from=%s to=* type=hello id=h len=0\n\n' "$name"
		while IFS= read -r line; do
			printf '%s\n' "$line" >>"$log"
			case $mode:$line in
			ping:"ds1 "*" type=ping "*)
				from=${line#*from=}; from=${from%% *}
				id=${line#* id=}; id=${id%% *}
				printf 'ds1 from=%s to=%s type=rep re=%s len=0\n\n' \
				    "$name" "$from" "$id"
				;;
			esac
		done
	EOF
	: >"$T/$name.log"
	bg socat "TCP:$ADDR" EXEC:"bash $T/worker.sh $name $mode $T/$name.log" 3>&-
	printf -v "PID_$name" %s "$!"
	wait_for 5 holders_are "$name" $((before + 1))
}

# exited PID: the process is gone (or a zombie, waiting to be reaped).
exited() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

# A listener that accepts and never says a word.
mute_listener() {
	bg socat UNIX-LISTEN:"$T/mute.sock",fork SYSTEM:'cat >/dev/null' 3>&-
	wait_for 5 test -S "$T/mute.sock"
}

# ---- usage ----

@test "usage: no command prints the usage line and exits 2" {
	run -2 dsctl
	eq "$output" "$USAGE"
}

@test "usage: the usage line is the man page's SYNOPSIS" {
	synopsis=$(mandoc -T ascii "$BATS_TEST_DIRNAME/../man/dsctl.1" | col -b |
	    sed -n '/^SYNOPSIS/{n;p;}' | sed 's/^ *//')
	eq "usage: $synopsis" "$USAGE"
}

@test "usage: an unknown command or option, a wrong count of arguments" {
	run -2 dsctl frob
	eq "$output" "dsctl: unknown command 'frob'
$USAGE"
	run -2 dsctl -x ping
	eq "${lines[1]}" "$USAGE"
	run -2 dsctl kick
	eq "$output" "$USAGE"
	run -2 dsctl kick a b
	eq "$output" "$USAGE"
	run -2 dsctl stats extra
	eq "$output" "$USAGE"
	run -2 dsctl ping a b
	eq "$output" "$USAGE"
	run -2 dsctl call
	eq "$output" "$USAGE"
}

@test "usage: members and leave take no arguments, checked before connecting" {
	run -2 dsctl -c "$T/none.sock" members a
	eq "$output" "$USAGE"
	run -2 dsctl -c "$T/none.sock" leave now
	eq "$output" "$USAGE"
	run -2 dsctl -j -c "$T/none.sock" members -x
	eq "$output" "$USAGE"
}

@test "usage: a bad name, timeout or address exits 2 before connecting" {
	run -2 dsctl -c "$T/none.sock" call 'a b' x
	eq "$output" "dsctl: call: bad name 'a b': names are 1 to 64 bytes of [A-Za-z0-9._-]"
	run -2 dsctl -w soon ping
	eq "$output" "dsctl: -w soon: expected seconds, such as 10 or 0.5"
	run -2 dsctl -c nonsense ping
	eq "$output" "dsctl: bad address 'nonsense': expected host:port"
	run -2 dsctl -c "127.0.0.1:1,,x:2" ping
	eq "$output" "dsctl: empty address in the hub list '127.0.0.1:1,,x:2'"
	DS_HUB=nonsense run -2 dsctl ping
	eq "$output" "dsctl: bad address 'nonsense': expected host:port"
}

# ---- ping ----

@test "ping: the hub's name and the round-trip time" {
	hub
	run -0 --separate-stderr dsctl -c "$ADDR" ping
	[[ "$output" =~ ^dsd$'\t'$MS$ ]]
	eq "$stderr" ""
}

@test "ping -j: one JSON object" {
	hub -n central
	run -0 --separate-stderr dsctl -j -c "$ADDR" ping
	[[ "$output" =~ ^\{\"name\":\"central\",\"ms\":$MS\}$ ]]
}

@test "ping NAME: a client answers for its name" {
	hub
	worker w1
	run -0 --separate-stderr dsctl -c "$ADDR" ping w1
	[[ "$output" =~ ^w1$'\t'$MS$ ]]
	run -0 --separate-stderr dsctl -j -c "$ADDR" ping w1
	[[ "$output" =~ ^\{\"name\":\"w1\",\"ms\":$MS\}$ ]]
	grep -q '^ds1 from=dsctl-[0-9]* to=w1 type=ping id=' "$T/w1.log"
}

@test "ping NAME: nobody holds it: exit 1, the hub's error on stderr" {
	hub
	run -1 --separate-stderr dsctl -c "$ADDR" ping nobody
	eq "$output" ""
	eq "$stderr" "no route to nobody"
}

@test "ping NAME: a client that does not answer: exit 4 after -w" {
	hub
	worker quiet mute
	start=$(date +%s%N)
	run -4 --separate-stderr dsctl -w 0.3 -c "$ADDR" ping quiet
	elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
	eq "$output" ""
	eq "$stderr" "dsctl: no reply from quiet within 0.3 s"
	[ "$elapsed" -ge 300 ]
	[ "$elapsed" -lt 5000 ]
}

# ---- stats ----

@test "stats: key<TAB>value lines, numbers" {
	hub
	run -0 --separate-stderr dsctl -c "$ADDR" stats
	eq "$stderr" ""
	for k in connections msgs_in msgs_out bytes_in bytes_out drops \
	    no_route refused bad_frames slow_disconnects queued_bytes \
	    queue_max uptime_s; do
		grep -q "^$k"$'\t'"[0-9][0-9]*\$" <<<"$output" || {
			echo "no $k in: $output"
			return 1
		}
	done
	# Every line has the form.
	run -1 grep -v $'^[a-z_]*\t[0-9]*$' <<<"$output"
}

@test "stats -j: one object with the same keys, numbers as numbers" {
	hub
	dsctl -c "$ADDR" stats | cut -f 1 >"$T/keys"
	run -0 --separate-stderr dsctl -j -c "$ADDR" stats
	eq "${#lines[@]}" 1
	[[ "$output" =~ ^\{\"connections\":[0-9]+,.*\}$ ]]
	grep -o '"[a-z_]*":[0-9]*[,}]' <<<"$output" | cut -d '"' -f 2 >"$T/jkeys"
	same_bytes "$T/keys" "$T/jkeys"
	# Between the pairs there are only their commas.
	eq "$(sed 's/"[a-z_]*":[0-9]*//g' <<<"$output")" \
	    "{$(head -c $(($(wc -l <"$T/keys") - 1)) /dev/zero | tr '\0' ,)}"
}

@test "stats -j: a counter moves: no_route" {
	hub
	run -0 dsctl -j -c "$ADDR" stats
	[[ "$output" == *'"no_route":0,'* ]]
	run -1 dsctl -c "$ADDR" send nobody x
	run -0 dsctl -j -c "$ADDR" stats
	[[ "$output" == *'"no_route":1,'* ]]
}

# ---- names ----

@test "names: name<TAB>holders, sorted, with dsctl's own name" {
	hub
	worker w1
	worker w2
	worker w2
	run -0 --separate-stderr dsctl -c "$ADDR" names
	eq "$stderr" ""
	eq "$(grep -v '^dsctl-' <<<"$output")" "echo	1
fail	1
w1	1
w2	2"
	# Its own name, once: dsctl-PID.
	eq "$(grep -c $'^dsctl-[0-9]*\t1$' <<<"$output")" 1
	eq "$output" "$(sort <<<"$output")"
}

@test "names -j: one object per name" {
	hub
	worker w1
	run -0 --separate-stderr dsctl -j -c "$ADDR" names
	eq "$(grep -v '"name":"dsctl-' <<<"$output")" '{"name":"echo","holders":1}
{"name":"fail","holders":1}
{"name":"w1","holders":1}'
	eq "$(grep -Ec '^\{"name":"dsctl-[0-9]+","holders":1\}$' <<<"$output")" 1
}

@test "names: each dsctl has its own name" {
	hub
	worker quiet mute
	# One dsctl waits for a reply that never comes while another looks.
	bg dsctl -w 5 -c "$ADDR" call quiet x 3>&-
	wait_for 5 grep -q 'type=req' "$T/quiet.log"
	run -0 dsctl -c "$ADDR" names
	eq "$(grep -c '^dsctl-' <<<"$output")" 2
	eq "$(grep '^dsctl-' <<<"$output" | cut -f 1 | sort -u | wc -l)" 2
}

# ---- call ----

@test "call: the arguments joined by spaces with a newline are the body" {
	hub
	run -0 --separate-stderr dsctl -c "$ADDR" call echo hello  big world
	eq "$output" "hello big world"
	eq "$stderr" ""
	dsctl -c "$ADDR" call echo a b >"$T/out"
	bytes_are "$T/out" 'a b\n'
}

@test "call: arguments may start with '-'" {
	hub
	dsctl -c "$ADDR" call echo -n -x >"$T/out"
	bytes_are "$T/out" '%s\n' '-n -x'
}

@test "call: without arguments, standard input is the body, byte for byte" {
	hub
	printf 'one\ntwo' | dsctl -c "$ADDR" call echo >"$T/out"
	bytes_are "$T/out" 'one\ntwo'
	dsctl -c "$ADDR" call echo </dev/null >"$T/out"
	bytes_are "$T/out" ''
	head -c 200000 /dev/urandom >"$T/big"
	dsctl -c "$ADDR" call echo <"$T/big" >"$T/out"
	same_bytes "$T/big" "$T/out"
}

@test "call: a body over the hub's -M is refused with exit 1" {
	hub -M 1k
	head -c 1025 /dev/zero >"$T/big"
	run -1 --separate-stderr dsctl -c "$ADDR" call echo <"$T/big"
	eq "$output" ""
	eq "$stderr" "dsctl: the body is larger than the hub's limit of 1024 bytes"
	head -c 1024 /dev/zero >"$T/fits"
	dsctl -c "$ADDR" call echo <"$T/fits" >"$T/out"
	same_bytes "$T/fits" "$T/out"
}

@test "call: an err reply: exit 1, its body on stderr, nothing on stdout" {
	hub
	run -1 --separate-stderr dsctl -c "$ADDR" call fail x
	eq "$output" ""
	eq "$stderr" "bad input"
}

@test "call: no route: exit 1 with the hub's words" {
	hub
	run -1 --separate-stderr dsctl -c "$ADDR" call nobody x
	eq "$output" ""
	eq "$stderr" "no route to nobody"
}

@test "call: the hub's own name takes control commands" {
	hub
	run -0 dsctl -c "$ADDR" call dsd ping
	eq "$output" "pong"
	run -1 --separate-stderr dsctl -c "$ADDR" call dsd frobnicate
	eq "$output" ""
	[[ "$stderr" == *frobnicate* ]]
}

@test "call: no reply within -w: exit 4" {
	hub
	worker quiet mute
	run -4 --separate-stderr dsctl -w 0.2 -c "$ADDR" call quiet hello
	eq "$output" ""
	eq "$stderr" "dsctl: no reply from quiet within 0.2 s"
	wait_for 5 grep -q '^hello$' "$T/quiet.log"
}

@test "call: a client's rep is printed" {
	hub
	# A client that answers one request by hand, with its body.
	cat >"$T/answer.sh" <<-'EOF'
		printf 'ds1 from=svc to=* type=hello id=h len=0\n\n'
		while IFS= read -r line; do
			case $line in
			"ds1 "*" type=req "*)
				from=${line#*from=}; from=${from%% *}
				id=${line#* id=}; id=${id%% *}
				printf 'ds1 from=svc to=%s type=rep re=%s len=6\nfrom 1\n' \
				    "$from" "$id"
				;;
			esac
		done
	EOF
	bg socat "TCP:$ADDR" EXEC:"bash $T/answer.sh" 3>&-
	wait_for 5 has_name svc
	run -0 --separate-stderr dsctl -c "$ADDR" call svc q
	eq "$output" "from 1"
	eq "$stderr" ""
}

# ---- send ----

@test "send: the message (type msg, the default, so unwritten) arrives; exit 0 once the hub confirms" {
	hub
	worker w1
	run -0 --separate-stderr dsctl -c "$ADDR" send w1 hello there
	eq "$output" ""
	eq "$stderr" ""
	wait_for 5 grep -q '^hello there$' "$T/w1.log"
	grep -q '^ds1 from=dsctl-[0-9]* to=w1 id=[^ ]* len=12$' "$T/w1.log"
}

@test "send: standard input as the body" {
	hub
	worker w1
	printf 'line one\nline two\n' | dsctl -c "$ADDR" send w1
	wait_for 5 grep -q '^line two$' "$T/w1.log"
	grep -q '^ds1 from=dsctl-[0-9]* to=w1 id=[^ ]* len=18$' "$T/w1.log"
}

@test "send: nobody holds the name: exit 1, the hub's error on stderr" {
	hub
	run -1 --separate-stderr dsctl -c "$ADDR" send nobody hi
	eq "$output" ""
	eq "$stderr" "no route to nobody"
}

# ---- kick ----

@test "kick: on the control socket, closes the holders and prints the count" {
	hub
	worker w1
	worker w1
	run -0 --separate-stderr dsctl -c "$T/ctl.sock" kick w1
	eq "$output" "kicked 2"
	eq "$stderr" ""
	wait_for 5 exited "$PID_w1"
	run -0 dsctl -c "$ADDR" names
	[[ "$output" != *w1* ]]
}

@test "kick -j: the name and the count" {
	hub
	worker w1
	run -0 dsctl -j -c "$T/ctl.sock" kick w1
	eq "$output" '{"name":"w1","kicked":1}'
	run -0 dsctl -j -c "unix:$T/ctl.sock" kick w1
	eq "$output" '{"name":"w1","kicked":0}'
}

@test "kick: refused on an ordinary connection: exit 1, the hub's reason" {
	hub
	worker w1
	run -1 --separate-stderr dsctl -c "$ADDR" kick w1
	eq "$output" ""
	[[ "$stderr" == *"control socket"* ]]
	has_name w1
}

# ---- shutdown ----

@test "shutdown: on the control socket, the hub exits 0" {
	hub
	run -0 --separate-stderr dsctl -c "$T/ctl.sock" shutdown
	eq "$output" ""
	eq "$stderr" ""
	wait_for 10 exited "$HUB"
	rc=0
	wait "$HUB" || rc=$?
	eq "$rc" 0
}

@test "shutdown: refused on an ordinary connection: exit 1" {
	hub
	run -1 --separate-stderr dsctl -c "$ADDR" shutdown
	eq "$output" ""
	[[ "$stderr" == *"control socket"* ]]
	run -0 dsctl -c "$ADDR" ping
}

# ---- addresses ----

@test "address: \$DS_HUB is the default" {
	hub
	DS_HUB=$ADDR run -0 dsctl ping
	[[ "$output" =~ ^dsd$'\t'$MS$ ]]
	# -c wins over it.
	DS_HUB=$T/none.sock run -0 dsctl -c "$ADDR" ping
}

@test "address: nothing listens: exit 3, the reason on stderr" {
	run -3 --separate-stderr dsctl -c "$T/none.sock" ping
	eq "$output" ""
	eq "$stderr" "dsctl: cannot connect to unix:$T/none.sock: No such file or directory"
	# A port that was just given up.
	hub
	kill "$HUB"
	wait_for 5 exited "$HUB"
	run -3 --separate-stderr dsctl -c "$ADDR" stats
	eq "$stderr" "dsctl: cannot connect to $ADDR: Connection refused"
}

@test "address: a list: the next hub is tried when one refuses" {
	hub
	run -0 --separate-stderr dsctl -c "$T/none.sock,$ADDR" ping
	[[ "$output" =~ ^dsd$'\t'$MS$ ]]
	eq "$stderr" ""
	run -3 --separate-stderr dsctl -c "$T/none.sock,$T/none2.sock" ping
	eq "$stderr" "dsctl: cannot connect to unix:$T/none.sock: No such file or directory (and 1 other hub failed)"
}

@test "address: a hub that never answers the hello: exit 4 after -w" {
	mute_listener
	run -4 --separate-stderr dsctl -w 0.3 -c "$T/mute.sock" ping
	eq "$output" ""
	eq "$stderr" "dsctl: $T/mute.sock: no answer to the hello within 300 ms"
	# ... and the next hub in the list is tried after it.
	hub
	run -0 dsctl -w 0.3 -c "$T/mute.sock,$ADDR" ping
}

# ---- keys ----

@test "key: -k with the hub's key" {
	printf 'sesame\n' >"$T/key"
	hub -k "$T/key"
	run -0 --separate-stderr dsctl -k "$T/key" -c "$ADDR" ping
	[[ "$output" =~ ^dsd$'\t'$MS$ ]]
	eq "$stderr" ""
	# A CRLF key file holds the same key.
	printf 'sesame\r\n' >"$T/key2"
	run -0 dsctl -k "$T/key2" -c "$ADDR" call echo hi
	eq "$output" "hi"
	# $DS_KEY is the default.
	DS_KEY=$T/key run -0 dsctl -c "$ADDR" stats
}

@test "key: a wrong key: exit 1" {
	printf 'sesame\n' >"$T/key"
	printf 'open sesame\n' >"$T/bad"
	hub -k "$T/key"
	run -1 --separate-stderr dsctl -k "$T/bad" -c "$ADDR" ping
	eq "$output" ""
	eq "$stderr" "dsctl: $ADDR: the hub failed to prove that it knows the key (another key?)"
}

@test "key: none, to a hub that wants one: exit 1" {
	printf 'sesame\n' >"$T/key"
	hub -k "$T/key"
	run -1 --separate-stderr dsctl -c "$ADDR" ping
	eq "$output" ""
	eq "$stderr" "dsctl: $ADDR: hub requires a key (-k)"
}

@test "key: one, to a hub that does not ask: exit 1" {
	printf 'sesame\n' >"$T/key"
	hub
	run -1 --separate-stderr dsctl -k "$T/key" -c "$ADDR" ping
	eq "$stderr" "dsctl: $ADDR: hub does not authenticate, but a key was given"
	# -k '' is no key, even with $DS_KEY set: the control socket needs none.
	DS_KEY=$T/key run -0 dsctl -k '' -c "$T/ctl.sock" kick nobody
	eq "$output" "kicked 0"
}

@test "key: an empty, missing or too large key file" {
	hub
	: >"$T/empty"
	run -1 --separate-stderr dsctl -k "$T/empty" -c "$ADDR" ping
	eq "$stderr" "dsctl: key file $T/empty is empty"
	run -3 --separate-stderr dsctl -k "$T/missing" -c "$ADDR" ping
	eq "$stderr" "dsctl: cannot open key file $T/missing: No such file or directory"
	head -c 4097 /dev/zero | tr '\0' k >"$T/huge"
	run -1 --separate-stderr dsctl -k "$T/huge" -c "$ADDR" ping
	eq "$stderr" "dsctl: key file $T/huge is larger than 4096 bytes"
}

# ---- the man page ----

@test "man page: the examples run as shown" {
	bg dsd -1 -l 127.0.0.1:0 -C "$T/hub.ctl" \
	    -e sum='awk "{for (i = 1; i <= NF; i++) s += \$i} END {print s}"' \
	    >"$T/addr" 2>"$T/dsd.err" 3>&-
	HUB=$!
	wait_for 5 test -s "$T/addr"
	export DS_HUB
	DS_HUB=$(cat "$T/addr")
	run -0 dsctl ping
	[[ "$output" =~ ^dsd$'\t'$MS$ ]]
	run -0 dsctl call sum 1 2 3
	eq "$output" "6"
	run -0 sh -c 'seq 100 | dsctl call sum'
	eq "$output" "5050"
	run -0 dsctl -j names
	eq "$(grep -v dsctl- <<<"$output")" '{"name":"sum","holders":1}'
	run -0 sh -c "dsctl -j stats | grep -o '\"no_route\":[0-9]*'"
	eq "$output" '"no_route":0'
	run -0 sh -c 'dsctl send nobody hello; echo "exit $?"'
	eq "$output" "no route to nobody
exit 1"
	run -0 sh -c 'dsctl -w 0.5 ping || echo "hub down"'
	[[ "$output" =~ ^dsd$'\t'$MS$ ]]
	run -0 dsctl -c "$T/hub.ctl" kick worker
	eq "$output" "kicked 0"
	run -0 dsctl -c "$T/hub.ctl" shutdown
	wait_for 10 exited "$HUB"
	run -0 sh -c 'dsctl -w 0.5 ping || echo "hub down"'
	eq "${lines[-1]}" "hub down"
}
