#!/usr/bin/env bats
# dsd started by others, for real: systemd socket activation (with
# systemd-socket-activate standing in for systemd), tcpserver,
# openbsd-inetd, and dsd -i on pipes and over ssh.  The example unit files
# and inetd.conf lines in examples/ are run as they are written, with only
# the port, the paths and the user replaced, so that they cannot rot.
# Every client writes hand-made frames and every reply is compared byte
# for byte.

# bats's run sets $stderr; sh -c scripts take their arguments as "$1" in
# single quotes.
# shellcheck disable=SC2154,SC2016
bats_require_minimum_version 1.5.0
load helper
load sshd

EXAMPLES=$BATS_TEST_DIRNAME/../examples
INETD=/usr/sbin/inetd
# The hub's limits in its hello, with dsd's defaults.
LIMITS='max=16777216 queue=1048576'
# A local service that adds up the numbers in its body, one a line.
SUM_CMD='awk "{ s += \$1 } END { print s }"'
PORT_TRIES=10
DEADLINE=10

# sshd_start is called by the one test that needs it.
local_teardown() {
	local fd
	for fd in "${CLIENT_FDS[@]}"; do
		exec {fd}>&- 2>/dev/null || true
	done
	inetd_stop
	sshd_stop
}

random_port() {
	echo $(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
}

# systemd-socket-activate passes its children only PATH, TERM, USER and
# HOME; the sanitizer settings must be handed on by name.
sa_env() {
	SA_ENV=()
	[ -z "${ASAN_OPTIONS+set}" ] || SA_ENV+=(-E ASAN_OPTIONS)
	[ -z "${UBSAN_OPTIONS+set}" ] || SA_ENV+=(-E UBSAN_OPTIONS)
}

# activate ARG...: run systemd-socket-activate ARG... in the background,
# with @PORT@ in any ARG replaced by a random high port, and wait until it
# listens on every -l address.  It cannot listen on port 0 and tell the
# port, so a port that is taken means another try with another one.
# Sets PORT and SA_PID; its standard error, and the started program's, go
# to $T/activate.log.  With Accept=no, systemd-socket-activate becomes
# the program on the first connection, so SA_PID is then dsd.
activate() {
	local try arg nlisten=0 deadline args
	for arg in "$@"; do
		[ "$arg" != -l ] || nlisten=$((nlisten + 1))
	done
	sa_env
	for (( try = 1; try <= PORT_TRIES; try++ )); do
		PORT=$(random_port)
		args=("${@//@PORT@/$PORT}")
		# fd 3 is bats' own; a server holding it open would hang bats.
		systemd-socket-activate "${SA_ENV[@]}" "${args[@]}" \
		    </dev/null 2>"$T/activate.log" 3>&- &
		SA_PID=$!
		BG_PIDS+=("$SA_PID")
		deadline=$(( $(date +%s) + DEADLINE ))
		while :; do
			if [ "$(grep -c '^Listening on ' "$T/activate.log")" -eq "$nlisten" ]; then
				return 0
			fi
			if ! kill -0 "$SA_PID" 2>/dev/null; then
				wait "$SA_PID" 2>/dev/null || true
				if grep -q 'Address already in use' "$T/activate.log"; then
					break
				fi
				echo "activate: systemd-socket-activate $* exited:" >&2
				cat "$T/activate.log" >&2
				return 1
			fi
			if [ "$(date +%s)" -ge "$deadline" ]; then
				echo "activate: systemd-socket-activate $* did not listen:" >&2
				cat "$T/activate.log" >&2
				return 1
			fi
			sleep 0.05
		done
	done
	echo "activate: no free port after $PORT_TRIES tries" >&2
	return 1
}

# client NAME ADDRESS: connect a client called NAME to the socat ADDRESS
# (TCP:host:port or UNIX-CONNECT:path).  `say NAME FORMAT [ARG...]` sends
# it printf's bytes, `expect NAME FORMAT [ARG...]` waits until it has
# received exactly everything expected of it so far, and `hangup NAME`
# closes its side.
CLIENT_FDS=()
client() {
	local name=$1 address=$2 fd f
	mkfifo "$T/$name.in"
	: >"$T/$name.want"
	# The client does not keep the other clients' pipes open: each must
	# see its end of input when its own writer goes.
	(
		for f in "${CLIENT_FDS[@]}"; do
			exec {f}>&-
		done
		exec socat -t 10 - "$address" <"$T/$name.in" >"$T/$name.out" \
		    2>"$T/$name.err" 3>&-
	) &
	BG_PIDS+=("$!")
	exec {fd}>"$T/$name.in"
	CLIENT_FDS+=("$fd")
	printf -v "CLIENT_FD_$name" %s "$fd"
}

say() {
	local var=CLIENT_FD_$1
	shift
	# shellcheck disable=SC2059
	printf "$@" >&"${!var}"
}

expect() {
	local name=$1
	shift
	# shellcheck disable=SC2059
	printf "$@" >>"$T/$name.want"
	if ! wait_for "$DEADLINE" cmp -s "$T/$name.want" "$T/$name.out"; then
		echo "client $name expected:"; od -c "$T/$name.want"
		echo "got:"; od -c "$T/$name.out"
		echo "socat said:"; cat "$T/$name.err"
		return 1
	fi
}

hangup() {
	local var=CLIENT_FD_$1 fd
	fd=${!var}
	exec {fd}>&-
}

# hello NAME: NAME says hello and is accepted.
hello() {
	say "$1" 'ds1 from=%s to=* type=hello id=h1\n\n' "$1"
	expect "$1" 'ds1 from=dsd to=%s type=hello re=h1 %s len=0\n\n' "$1" "$LIMITS"
}

# exchange A B: A and B, both connected and said hello, exchange a
# request and its reply through the hub; B then pings the hub, whose reply
# says that nothing B sent failed.
exchange() {
	say "$2" 'ds1 from=%s to=%s type=req id=q1 len=3\nhi\n\n' "$2" "$1"
	expect "$1" 'ds1 from=%s to=%s type=req id=q1 len=3\nhi\n\n' "$2" "$1"
	say "$1" 'ds1 from=%s to=%s type=rep re=q1 id=r1 len=3\nHI\n\n' "$1" "$2"
	expect "$2" 'ds1 from=%s to=%s type=rep re=q1 id=r1 len=3\nHI\n\n' "$1" "$2"
	say "$2" 'ds1 from=%s to=dsd type=ping id=p1\n\n' "$2"
	expect "$2" 'ds1 from=dsd to=%s type=rep re=p1 len=0\n\n' "$2"
}

# single_connection NC-ARG...: one connection to a dsd that serves only it
# and has the local service echo=cat: no hello, a message to a name that
# nobody holds, then one to the service.  The transcript is exact.
single_connection() {
	printf 'ds1 from=me to=nobody id=1\n\nds1 from=me to=echo type=req id=2 len=3\nhi\n\n' |
		timeout "$DEADLINE" nc -N "$@" >"$T/out"
	bytes_are "$T/out" '%s\n%s\n\n%s\n%s\n\n' \
	    'ds1 from=dsd to=me type=err re=1 status=1 reason=no-route len=19' \
	    'no route to nobody' \
	    'ds1 from=echo to=me type=rep re=2 len=3' 'hi'
}

# unit_values FILE KEY: the values of KEY= in a unit file, one a line.
unit_values() {
	sed -n "s/^$2=//p" "$1"
}

# exec_start FILE: the ExecStart= of a unit file as the array ARGV, split
# as systemd splits it, /usr/local/bin/dsd replaced by the dsd under test
# and %t (the runtime directory) by $T.  Any other specifier or variable
# fails the test: it would need handling here.
exec_start() {
	local line arg
	line=$(unit_values "$1" ExecStart)
	[ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] || {
		echo "exec_start: $1 has not exactly one ExecStart: $line"
		return 1
	}
	mapfile -t ARGV < <(printf '%s\n' "$line" | xargs printf '%s\n')
	[ "${ARGV[0]}" = /usr/local/bin/dsd ] || {
		echo "exec_start: $1 does not run /usr/local/bin/dsd: $line"
		return 1
	}
	ARGV[0]=$DS_BIN/dsd
	ARGV=("${ARGV[@]//%t/$T}")
	for arg in "${ARGV[@]}"; do
		case $arg in
		*%* | *\$*)
			echo "exec_start: $1: cannot run $arg here"
			return 1 ;;
		esac
	done
}

# listen_args FILE: -l options for systemd-socket-activate, from the
# ListenStream= lines of a socket unit: the one TCP address on @PORT@,
# Unix socket paths moved into $T.  Also --fdname, from
# FileDescriptorName=, once for each socket.
listen_args() {
	local addr names='' ntcp=0
	LISTEN=()
	while read -r addr; do
		case $addr in
		/*)	LISTEN+=(-l "$T/${addr##*/}") ;;
		127.0.0.1:[0-9]*)
			ntcp=$((ntcp + 1))
			LISTEN+=(-l "127.0.0.1:@PORT@") ;;
		*)	echo "listen_args: $1: cannot listen on $addr here"
			return 1 ;;
		esac
		names=$names${names:+:}$(unit_values "$1" FileDescriptorName)
	done < <(unit_values "$1" ListenStream)
	[ "$ntcp" -le 1 ] || {
		echo "listen_args: $1: more than one TCP address"
		return 1
	}
	[ "$(unit_values "$1" FileDescriptorName)" = "" ] ||
		LISTEN+=(--fdname="$names")
}

# The inetd.conf examples.  openbsd-inetd cannot bind port 0 either, and
# says nothing on its standard error when a port is taken (it logs that
# to syslog and retries later), so whether it listens is read from
# /proc: the socket listening on the port must be one of its own.

# listener_inode PORT: the inode of the socket that listens on
# 127.0.0.1:PORT, if any.
listener_inode() {
	awk -v local="$(printf '0100007F:%04X' "$1")" \
	    '$2 == local && $4 == "0A" { print $10; exit }' /proc/net/tcp
}

# holds_socket PID INODE: whether process PID has socket INODE open.
holds_socket() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" != "socket:[$2]" ] || return 0
	done
	return 1
}

INETD_PID=
INETD_PIDFILE_SAVED=

# inetd_start LINE: run openbsd-inetd in the foreground (-d) with a
# configuration of just LINE, an example line from examples/inetd.conf:
# its address 127.0.0.1:PORT moves to a random free high port, its user
# becomes ours and /usr/local/bin/dsd the dsd under test.  Sets PORT;
# inetd's debug output goes to $T/inetd.log.
inetd_start() {
	local line=$1 try inode deadline cmd
	[[ $line == 127.0.0.1:[0-9]*' stream tcp '*' nobody /usr/local/bin/dsd dsd '* ]] || {
		echo "inetd_start: not an example line this test knows: $line" >&2
		return 1
	}
	# openbsd-inetd writes /run/inetd.pid, even with -d, and removes it as
	# it exits.  As root that would clobber the pid file of the system's
	# inetd, so it gets a /run of its own if it may, and else the file is
	# put back afterwards.  Other users cannot write there.
	cmd=(env -u NOTIFY_SOCKET -u WATCHDOG_PID -u WATCHDOG_USEC "$INETD" -d "$T/inetd.conf")
	if [ "$(id -u)" -eq 0 ]; then
		if unshare --mount sh -c 'mount -t tmpfs tmpfs /run' 2>/dev/null; then
			cmd=(unshare --mount sh -c 'mount -t tmpfs tmpfs /run && exec "$@"' sh "${cmd[@]}")
		elif [ -e /run/inetd.pid ]; then
			cp -p /run/inetd.pid "$T/inetd.pid.saved"
			INETD_PIDFILE_SAVED=1
		fi
	fi
	line=${line/ nobody / "$(id -un)" }
	line=${line/ \/usr\/local\/bin\/dsd / "$DS_BIN/dsd" }
	for (( try = 1; try <= PORT_TRIES; try++ )); do
		PORT=$(random_port)
		printf '%s\n' "127.0.0.1:$PORT ${line#* }" >"$T/inetd.conf"
		"${cmd[@]}" </dev/null >"$T/inetd.log" 2>&1 3>&- &
		INETD_PID=$!
		deadline=$(( $(date +%s) + DEADLINE ))
		while :; do
			inode=$(listener_inode "$PORT")
			if [ -n "$inode" ]; then
				holds_socket "$INETD_PID" "$inode" && return 0
				break		# Someone else's: another port.
			fi
			if ! kill -0 "$INETD_PID" 2>/dev/null; then
				echo "inetd_start: inetd exited:" >&2
				cat "$T/inetd.log" >&2
				return 1
			fi
			if [ "$(date +%s)" -ge "$deadline" ]; then
				echo "inetd_start: inetd did not listen on port $PORT:" >&2
				cat "$T/inetd.log" >&2
				return 1
			fi
			sleep 0.05
		done
		inetd_stop
	done
	echo "inetd_start: no free port after $PORT_TRIES tries" >&2
	return 1
}

# inetd_stop: stop inetd and every dsd it started that still runs, and
# put back the system's pid file if it had to be saved.
inetd_stop() {
	local pid
	if [ -n "$INETD_PID" ]; then
		kill "$INETD_PID" 2>/dev/null || true
		wait "$INETD_PID" 2>/dev/null || true
		INETD_PID=
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done < <(inetd_children)
	fi
	if [ -n "$INETD_PIDFILE_SAVED" ]; then
		cp -p "$T/inetd.pid.saved" /run/inetd.pid
		INETD_PIDFILE_SAVED=
	fi
}

# inetd_children: the pids of the programs inetd started.
inetd_children() {
	sed -n 's/^\([0-9][0-9]*\) execv .*/\1/p' "$T/inetd.log"
}

# inetd_children_gone: every dsd inetd started has ended, with status 0.
inetd_children_gone() {
	local pid
	while read -r pid; do
		grep -qx "$pid reaped, status 0" "$T/inetd.log" || return 1
	done < <(inetd_children)
}

# example_line KIND: the nowait line of examples/inetd.conf, or the wait
# line, which is there commented out.
example_line() {
	case $1 in
	nowait)	grep -E '^[^#].* stream tcp nowait ' "$EXAMPLES/inetd.conf" ;;
	wait)	sed -n 's/^#\([^ #][^ ]* stream tcp wait .*\)/\1/p' "$EXAMPLES/inetd.conf" ;;
	esac
}

@test "systemd Accept=no: two clients say hello and exchange a message through the hub" {
	activate -l 127.0.0.1:@PORT@ "$DS_BIN/dsd" -e echo=cat
	client a "TCP:127.0.0.1:$PORT"
	hello a
	client b "TCP:127.0.0.1:$PORT"
	hello b
	exchange a b
	# No -l: the only way in was the socket systemd-socket-activate made.
	grep -q "^Execing $DS_BIN/dsd " "$T/activate.log"
}

@test "systemd Accept=no: names in LISTEN_FDNAMES (--fdname) are taken" {
	activate -l 127.0.0.1:@PORT@ --fdname=hub "$DS_BIN/dsd"
	client a "TCP:127.0.0.1:$PORT"
	say a 'ds1 from=a to=* type=hello id=1\n\nds1 from=a to=dsd type=req id=2 len=6\nnames\n\n'
	expect a 'ds1 from=dsd to=a type=hello re=1 %s len=0\n\n%s\n%b\n\n' "$LIMITS" \
	    'ds1 from=dsd to=a type=rep re=2 len=4' 'a\t1'
}

@test "systemd Accept=no: more names in LISTEN_FDNAMES than sockets is refused" {
	activate -l 127.0.0.1:@PORT@ --fdname=one:two "$DS_BIN/dsd"
	# The first connection makes it start dsd, which refuses to go on.
	timeout "$DEADLINE" nc -N 127.0.0.1 "$PORT" </dev/null >"$T/out"
	rc=0
	wait "$SA_PID" || rc=$?
	eq "$rc" 3
	eq "$(cat "$T/out")" ""
	eq "$(grep '^dsd' "$T/activate.log")" \
	    "dsd: socket activation: LISTEN_FDNAMES has 2 names for 1 sockets"
}

@test "systemd Accept=no: a TCP and a Unix socket at once, clients on each meet" {
	activate -l 127.0.0.1:@PORT@ -l "$T/hub.sock" --fdname=tcp:unix \
	    "$DS_BIN/dsd" -e echo=cat
	client a "TCP:127.0.0.1:$PORT"
	hello a
	client b "UNIX-CONNECT:$T/hub.sock"
	hello b
	exchange a b
	# The service answers on both.
	say a 'ds1 from=a to=echo type=req id=e1 len=2\nA\n\n'
	expect a 'ds1 from=echo to=a type=rep re=e1 len=2\nA\n\n'
	say b 'ds1 from=b to=echo type=req id=e2 len=2\nB\n\n'
	expect b 'ds1 from=echo to=b type=rep re=e2 len=2\nB\n\n'
}

@test "systemd --inetd: a listening socket on standard input is served as a hub" {
	activate -l 127.0.0.1:@PORT@ --inetd "$DS_BIN/dsd" -e echo=cat
	client a "TCP:127.0.0.1:$PORT"
	hello a
	client b "TCP:127.0.0.1:$PORT"
	hello b
	exchange a b
}

@test "systemd Accept=yes --inetd: the connection on standard input gets its service, no-route, then dsd exits 0" {
	activate -l 127.0.0.1:@PORT@ -a --inetd "$DS_BIN/dsd" -e echo=cat
	single_connection 127.0.0.1 "$PORT"
	wait_for "$DEADLINE" grep -q '^Child [0-9]* died with code 0$' "$T/activate.log"
	# Another connection gets a dsd of its own.
	single_connection 127.0.0.1 "$PORT"
	wait_for "$DEADLINE" eval '[ "$(grep -c "^Child [0-9]* died with code 0$" "$T/activate.log")" -eq 2 ]'
	eq "$(grep -c '^Spawned ' "$T/activate.log")" 2
	run ! grep '^dsd' "$T/activate.log"
}

@test "systemd Accept=yes: one connected socket in LISTEN_FDS is served as one connection" {
	activate -l 127.0.0.1:@PORT@ -a "$DS_BIN/dsd" -e echo=cat
	single_connection 127.0.0.1 "$PORT"
	wait_for "$DEADLINE" grep -q '^Child [0-9]* died with code 0$' "$T/activate.log"
	run ! grep '^dsd' "$T/activate.log"
}

@test "tcpserver: a client gets its reply from a dsd -e service, and dsd exits 0" {
	# shellcheck disable=SC2217
	bg tcpserver -v -1 -HR 127.0.0.1 0 "$DS_BIN/dsd" -e "sum=$SUM_CMD" \
	    </dev/null >"$T/port" 2>"$T/tcpserver.log" 3>&-
	wait_for "$DEADLINE" test -s "$T/port"
	printf 'ds1 from=me to=sum type=req id=7 len=6\n1\n2\n3\n\n' |
		timeout "$DEADLINE" nc -N 127.0.0.1 "$(cat "$T/port")" >"$T/out"
	bytes_are "$T/out" 'ds1 from=sum to=me type=rep re=7 len=2\n6\n\n'
	wait_for "$DEADLINE" grep -q '^tcpserver: end [0-9]* status 0$' "$T/tcpserver.log"
	run ! grep '^dsd' "$T/tcpserver.log"
}

@test "inetd nowait: the example line serves each connection with its own dsd" {
	line=$(example_line nowait)
	[ -n "$line" ]
	inetd_start "$line"
	single_connection 127.0.0.1 "$PORT"
	single_connection 127.0.0.1 "$PORT"
	wait_for "$DEADLINE" inetd_children_gone
	eq "$(grep -c ' execv ' "$T/inetd.log")" 2
}

@test "inetd wait: the example line starts one dsd on the listening socket, a hub" {
	line=$(example_line wait)
	[ -n "$line" ]
	inetd_start "$line"
	client a "TCP:127.0.0.1:$PORT"
	hello a
	client b "TCP:127.0.0.1:$PORT"
	hello b
	exchange a b
	say b 'ds1 from=b to=echo type=req id=e1 len=2\nB\n\n'
	expect b 'ds1 from=echo to=b type=rep re=e1 len=2\nB\n\n'
	eq "$(grep -c ' execv ' "$T/inetd.log")" 1
}

@test "dsd -i: frames piped in without a hello get the service's reply and no-route" {
	printf 'ds1 from=me to=nobody id=1\n\nds1 from=me to=sum type=req id=2 len=4\n4\n5\n\n' |
		dsd -i -e "sum=$SUM_CMD" >"$T/out" 2>"$T/err"
	bytes_are "$T/out" '%s\n%s\n\n%s\n%s\n\n' \
	    'ds1 from=dsd to=me type=err re=1 status=1 reason=no-route len=19' \
	    'no route to nobody' \
	    'ds1 from=sum to=me type=rep re=2 len=2' '9'
	bytes_are "$T/err" ''
}

# read_frame FD: one frame from FD into FRAME, header line and body.
read_frame() {
	local header len body
	IFS= read -r -t "$DEADLINE" -u "$1" header || return 1
	len=${header##* len=}
	IFS= read -r -t "$DEADLINE" -u "$1" -N $((len + 1)) body || return 1
	FRAME=$header$'\n'$body
}

@test "dsd -i: a coprocess on a pipe pair says hello, asks, and sees dsd exit 0 at its end" {
	export LC_ALL=C
	coproc DSD { exec dsd -i -e "sum=$SUM_CMD" 2>"$T/err" 3>&-; }
	pid=$DSD_PID
	printf 'ds1 from=me to=* type=hello id=1\n\n' >&"${DSD[1]}"
	read_frame "${DSD[0]}"
	eq "$FRAME" "ds1 from=dsd to=me type=hello re=1 $LIMITS len=0"$'\n\n'
	printf 'ds1 from=me to=sum type=req id=2 len=6\n10\n20\n\n' >&"${DSD[1]}"
	read_frame "${DSD[0]}"
	eq "$FRAME" $'ds1 from=sum to=me type=rep re=2 len=3\n30\n\n'
	fd=${DSD[1]}
	exec {fd}>&-
	rc=0
	wait "$pid" || rc=$?
	eq "$rc" 0
	bytes_are "$T/err" ''
}

ssh_sum() {
	set -o pipefail
	printf '1\n2\n3\n' | dssend -t sum -f a -i 7 |
		ds_ssh "dsd -i -e $(sq "sum=$SUM_CMD")" >"$T/out"
}

@test "dsd -i over ssh: a request written by dssend is answered from the far side" {
	sshd_start
	run ssh_sum
	echo "$output"
	eq "$status" 0
	eq "$output" ""
	bytes_are "$T/out" 'ds1 from=sum to=a type=rep re=7 len=2\n6\n\n'
}

@test "examples: dsd.socket with dsd.service run as written, hub and control socket" {
	listen_args "$EXAMPLES/systemd/dsd.socket"
	exec_start "$EXAMPLES/systemd/dsd.service"
	eq "$(unit_values "$EXAMPLES/systemd/dsd.service" RuntimeDirectory)" dsd
	mkdir "$T/dsd"
	activate "${LISTEN[@]}" "${ARGV[@]}"
	client a "TCP:127.0.0.1:$PORT"
	hello a
	client b "UNIX-CONNECT:$T/dsd.sock"
	hello b
	exchange a b
	eq "$(stat -c %a "$T/dsd/control")" 600
	client ctl "UNIX-CONNECT:$T/dsd/control"
	say ctl 'ds1 from=ctl to=* type=hello id=1\n\nds1 from=ctl to=dsd type=req id=2 len=6\nnames\n\n'
	expect ctl 'ds1 from=dsd to=ctl type=hello re=1 %s len=0\n\n%s\n%b\n\n' "$LIMITS" \
	    'ds1 from=dsd to=ctl type=rep re=2 len=14' 'a\t1\nb\t1\nctl\t1'
	# systemctl stop: dsd drains and exits 0, and removes its control socket.
	kill "$SA_PID"
	rc=0
	wait "$SA_PID" || rc=$?
	eq "$rc" 0
	[ ! -e "$T/dsd/control" ]
}

@test "examples: dsd-conn.socket with dsd-conn@.service run as written, one dsd per connection" {
	eq "$(unit_values "$EXAMPLES/systemd/dsd-conn.socket" Accept)" yes
	eq "$(unit_values "$EXAMPLES/systemd/dsd-conn@.service" StandardInput)" socket
	listen_args "$EXAMPLES/systemd/dsd-conn.socket"
	exec_start "$EXAMPLES/systemd/dsd-conn@.service"
	activate "${LISTEN[@]}" -a --inetd "${ARGV[@]}"
	single_connection 127.0.0.1 "$PORT"
	wait_for "$DEADLINE" grep -q '^Child [0-9]* died with code 0$' "$T/activate.log"
}

@test "examples: systemd-analyze verify finds nothing wrong with the unit files" {
	local units=/lib/systemd/system root=$T/root
	[ -d "$units" ] || units=/usr/lib/systemd/system
	# A root of their own, with the system's units and a dsd where the
	# units look for it, so that nothing is installed here.
	mkdir -p "$root/etc/systemd/system" "$root/lib/systemd" "$root/usr/local/bin"
	cp -a "$units" "$root/lib/systemd/system"
	cp "$EXAMPLES"/systemd/* "$root/etc/systemd/system/"
	printf '#!/bin/sh\n' >"$root/usr/local/bin/dsd"
	chmod 755 "$root/usr/local/bin/dsd"
	run systemd-analyze verify --man=no --root="$root" \
	    dsd.socket dsd.service dsd-conn.socket dsd-conn@.service
	echo "$output"
	eq "$status" 0
	eq "$output" ""
}
