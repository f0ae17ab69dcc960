# Hosts made of network namespaces, each with its own sshd, for the job
# farm tests (farm.bats) and benchmark (bench/jobs.sh).  It needs bash,
# root and ip(8).  The farm's own files (keys, configs, sshd logs) go in
# $FARM_DIR (default $T), the hub's (its socket and stderr) in $T, so that
# one farm can serve several tests, each with a hub of its own.
#
#	farm_up 4           # hosts h1..h4, ssh config in $FARM_DIR/ssh_config
#	farm_hub -x "$(farm_x 1 2 "$T/job.sh")"
#	seq 10 | dsctl -c "$FARM_SOCK" map work
#	farm_stop_hub       # the hub and all it started; the hosts stay
#	farm_down           # also on failure: every process and namespace
#
# The layout, all of it inside namespaces made here, so that no address or
# route of the machine itself is touched, and two runs at once do not
# clash (the namespace names hold the shell's pid and a random number):
#
#	hub namespace: bridge br0, 10.78.0.254/24; dsd, and the ssh clients
#	    |    |
#	   h1 ...hN: eth0, 10.78.0.I/24; sshd on port 22
#
# dsd runs in the hub namespace and listens on $FARM_SOCK (a Unix socket,
# which the tests' own namespace reaches through the file system) and on
# $FARM_HUB, which the hosts reach, for workers that connect back.  A
# command run by dsd -x is in the hub namespace too, so that
# `ssh -F $FARM_DIR/ssh_config h1 CMD` reaches h1; `farm_ssh I CMD` does
# the same from anywhere.  On each host, CMD runs as this user with PATH
# starting with $DS_BIN (the programs under test; the sanitizer pass sets
# it) and HOME in $FARM_DIR, so that no login script of the machine runs.
# The variables a test needs are exported, so that a farm made in bats'
# setup_file serves the tests.

FARM_NET=10.78.0
FARM_HUB_IP=$FARM_NET.254
FARM_HUB=$FARM_HUB_IP:7070
FARM_N=${FARM_N:-0}
FARM_NS=${FARM_NS:-}
FARM_DIR=${FARM_DIR:-}
# The pids of the hosts' sshds, which farm_stop_hub spares.
FARM_SSHD=${FARM_SSHD:-}
FARM_SOCK=
FARM_HUB_PID=
FARM_PIDS=()
FARM_DEADLINE=${FARM_DEADLINE:-10}
# The ssh clients give up on a silent server after ServerAliveInterval
# times ServerAliveCountMax seconds: longer than dsd's keepalive in the
# tests (dsd -K 1 closes a silent worker after 2 s), so that a host whose
# link is down is found by dsd, not by ssh.
FARM_ALIVE=${FARM_ALIVE:-5}

# The throwaway sshd's settings and sq, shared with tests/ssh.bats.
# shellcheck source=tests/sshd.bash
. "$(dirname "${BASH_SOURCE[0]}")/sshd.bash"

# farm_wait SECONDS CMD...: retry CMD until it succeeds or the deadline
# passes.
farm_wait() {
	local deadline=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "farm: timed out: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# farm_up N: make hosts h1..hN, each with an sshd, and the hub namespace;
# return when every host answers `ssh hI true`.
farm_up() {
	local n=$1 i ns user sshd=/usr/sbin/sshd
	if [ "$(id -u)" -ne 0 ]; then
		echo "farm: network namespaces need root" >&2
		return 1
	fi
	# shellcheck disable=SC2034 # for the callers
	FARM_N=$n
	FARM_NS=dsfarm-$$-$RANDOM
	FARM_DIR=${FARM_DIR:-$T}
	FARM_SSHD=
	export FARM_N FARM_NS FARM_DIR FARM_SSHD
	local d=$FARM_DIR
	user=$(id -un)
	mkdir -p /run/sshd "$d/home"
	ssh-keygen -q -t ed25519 -N '' -C ds-farm-host -f "$d/host_key" </dev/null &&
	ssh-keygen -q -t ed25519 -N '' -C ds-farm-client -f "$d/key" </dev/null &&
	cp "$d/key.pub" "$d/authorized_keys" || return 1

	ip netns add "$FARM_NS-hub" || return 1
	ip -n "$FARM_NS-hub" link set lo up &&
	ip -n "$FARM_NS-hub" link add br0 type bridge &&
	ip -n "$FARM_NS-hub" addr add "$FARM_HUB_IP/24" dev br0 &&
	ip -n "$FARM_NS-hub" link set br0 up || return 1

	: >"$d/ssh_config"
	for (( i = 1; i <= n; i++ )); do
		ns=$FARM_NS-h$i
		ip netns add "$ns" &&
		ip link add name eth0 netns "$ns" type veth \
		    peer name "h$i" netns "$FARM_NS-hub" &&
		ip -n "$FARM_NS-hub" link set "h$i" master br0 up &&
		ip -n "$ns" addr add "$FARM_NET.$i/24" dev eth0 &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" link set eth0 up || return 1
		sshd_config_lines "$d" "$user" >"$d/sshd_config.h$i"
		cat >>"$d/sshd_config.h$i" <<-EOF
			ListenAddress $FARM_NET.$i
			Port 22
			PrintLastLog no
			MaxStartups 100:30:200
			MaxSessions 100
			SetEnv PATH=$DS_BIN:/usr/local/bin:/usr/bin:/bin HOME=$d/home ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 LC_ALL=C
			LogLevel INFO
		EOF
		# fd 3 is bats' own; a daemon holding it open would hang bats.
		ip netns exec "$ns" "$sshd" -D -e -f "$d/sshd_config.h$i" \
		    </dev/null >"$d/sshd.h$i.log" 2>&1 3>&- &
		FARM_PIDS+=("$!")
		FARM_SSHD="$FARM_SSHD $!"
		cat >>"$d/ssh_config" <<-EOF
			Host h$i
			    HostName $FARM_NET.$i
		EOF
	done
	cat >>"$d/ssh_config" <<-EOF
		Host *
		    User $user
		    IdentityFile $d/key
		    IdentitiesOnly yes
		    StrictHostKeyChecking no
		    UserKnownHostsFile /dev/null
		    GlobalKnownHostsFile /dev/null
		    BatchMode yes
		    LogLevel ERROR
		    ConnectTimeout 5
		    ServerAliveInterval $FARM_ALIVE
		    ServerAliveCountMax 3
	EOF
	for (( i = 1; i <= n; i++ )); do
		if ! farm_wait "$FARM_DEADLINE" grep -q "Server listening on $FARM_NET.$i port 22" \
		    "$d/sshd.h$i.log"; then
			echo "farm: the sshd of h$i did not start:" >&2
			cat "$d/sshd.h$i.log" >&2
			return 1
		fi
	done
	# Every host at once: each ssh takes a good part of a second.
	local checks=()
	for (( i = 1; i <= n; i++ )); do
		farm_ssh "$i" true </dev/null 3>&- &
		checks+=("$!")
	done
	for (( i = 1; i <= n; i++ )); do
		if ! wait "${checks[i - 1]}"; then
			echo "farm: ssh h$i true failed; its sshd says:" >&2
			cat "$d/sshd.h$i.log" >&2
			return 1
		fi
	done
}

# farm_ssh I CMD: run the shell command CMD on host hI, stdin and stdout
# passed through.
farm_ssh() {
	ip netns exec "$FARM_NS-hub" ssh -F "$FARM_DIR/ssh_config" "h$1" "$2"
}

# farm_x I SLOTS HANDLER [NAME]: the dsd -x command of a worker on host hI
# that serves NAME (default work) with up to SLOTS handlers at once, each
# running the shell command HANDLER.
farm_x() {
	printf 'ssh -F %s h%s dsrecv -c - -N %s -P %s -e %s' \
	    "$(sq "$FARM_DIR/ssh_config")" "$1" "${4:-work}" "$2" \
	    "$(sq "$(sq "$3")")"
}

# farm_back I SLOTS HANDLER [NAME]: the same worker, connecting back to
# the hub over the network; run in the background, its stderr in
# $T/back.hI.err.
farm_back() {
	ip netns exec "$FARM_NS-hub" ssh -F "$FARM_DIR/ssh_config" "h$1" \
	    "dsrecv -c $FARM_HUB -N ${4:-work} -P $2 -e $(sq "$3")" \
	    </dev/null 2>"$T/back.h$1.err" 3>&- &
	FARM_PIDS+=("$!")
}

# farm_hub [DSD-OPTION...]: start dsd in the hub namespace, listening on
# $FARM_SOCK ($T/hub.sock) and $FARM_HUB, its stderr in $T/dsd.err;
# return once it answers a ping.
farm_hub() {
	FARM_SOCK=$T/hub.sock
	ip netns exec "$FARM_NS-hub" dsd -l "$FARM_SOCK" -l "$FARM_HUB" "$@" \
	    </dev/null >"$T/dsd.out" 2>"$T/dsd.err" 3>&- &
	FARM_HUB_PID=$!
	FARM_PIDS+=("$!")
	if ! farm_wait "$FARM_DEADLINE" farm_ping; then
		echo "farm: dsd did not start; its stderr:" >&2
		cat "$T/dsd.err" >&2
		return 1
	fi
}

farm_ping() {
	kill -0 "$FARM_HUB_PID" 2>/dev/null &&
	    dsctl -c "$FARM_SOCK" ping >/dev/null 2>&1
}

# farm_holders NAME: how many connections hold NAME at the hub (0 when
# none).
farm_holders() {
	dsctl -c "$FARM_SOCK" names 2>/dev/null |
	    awk -F '\t' -v n="$1" '$1 == n { h = $2 } END { print h + 0 }'
}

# farm_has_holders NAME N: NAME has N holders at the hub.
farm_has_holders() {
	[ "$(farm_holders "$1")" -eq "$2" ]
}

# farm_pids NS [COMM]: the processes in network namespace NS (the full
# name), or only those whose command name is COMM.
farm_pids() {
	local pid comm
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		if [ -n "${2:-}" ]; then
			comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
			[ "$comm" = "$2" ] || continue
		fi
		echo "$pid"
	done
}

# farm_kill_remote I [SIGNAL]: kill the dsrecv processes on host hI (the
# far end of its worker).  They are found by their network namespace, as
# every host shares the machine's process table.
farm_kill_remote() {
	local pids
	pids=$(farm_pids "$FARM_NS-h$1" dsrecv)
	[ -n "$pids" ] || { echo "farm: no dsrecv on h$1" >&2; return 1; }
	# shellcheck disable=SC2086
	kill -"${2:-KILL}" $pids
}

# farm_kill_ssh I [SIGNAL]: kill the ssh clients that dsd runs to host
# hI (the near end of its worker), found in the hub namespace by their
# command line.
farm_kill_ssh() {
	local pid found=
	for pid in $(farm_pids "$FARM_NS-hub" ssh); do
		case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in
		"ssh -F $FARM_DIR/ssh_config h$1 "*)
			kill -"${2:-KILL}" "$pid" && found=1 ;;
		esac
	done
	[ -n "$found" ] || { echo "farm: no ssh to h$1" >&2; return 1; }
}

# farm_link I up|down: bring host hI's network link up or down.
farm_link() {
	ip -n "$FARM_NS-h$1" link set dev eth0 "$2"
}

# farm_stop_hub: stop dsd, and then whatever it and its workers left
# running, on the hub or on the hosts, but not the sshds; return when
# they are gone.
farm_stop_hub() {
	local pid pids ns deadline=$(( $(date +%s) + 5 )) sig=TERM
	if [ -n "$FARM_HUB_PID" ]; then
		kill "$FARM_HUB_PID" 2>/dev/null
		wait "$FARM_HUB_PID" 2>/dev/null
		# Not to be killed again at farm_down: the pid may be reused.
		local kept=()
		for pid in "${FARM_PIDS[@]}"; do
			[ "$pid" = "$FARM_HUB_PID" ] || kept+=("$pid")
		done
		FARM_PIDS=("${kept[@]}")
		FARM_HUB_PID=
	fi
	while :; do
		pids=
		for ns in $(ip netns list | awk -v p="$FARM_NS-" 'index($1, p) == 1 { print $1 }'); do
			for pid in $(farm_pids "$ns"); do
				case " $FARM_SSHD " in
				*" $pid "*) ;;
				*) pids="$pids $pid" ;;
				esac
			done
		done
		[ -n "$pids" ] || return 0
		[ "$(date +%s)" -lt "$deadline" ] || sig=KILL
		# shellcheck disable=SC2086
		kill -"$sig" $pids 2>/dev/null
		sleep 0.05
	done
}

# farm_down: stop every process in the farm's namespaces (dsd, ssh
# clients, sshds and whatever they run), wait until they are gone, and
# delete the namespaces.  Safe to call twice, and after a failed farm_up.
farm_down() {
	local ns pids pid deadline
	[ -n "$FARM_NS" ] || return 0
	for pid in "${FARM_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	deadline=$(( $(date +%s) + 5 ))
	while :; do
		pids=
		for ns in $(ip netns list | awk -v p="$FARM_NS-" 'index($1, p) == 1 { print $1 }'); do
			pids="$pids $(farm_pids "$ns")"
		done
		[ -n "${pids// /}" ] || break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null
		else
			# shellcheck disable=SC2086
			kill $pids 2>/dev/null
		fi
		sleep 0.05
	done
	for pid in "${FARM_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	FARM_PIDS=()
	FARM_SSHD=
	FARM_HUB_PID=
	for ns in $(ip netns list | awk -v p="$FARM_NS-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns"
	done
	FARM_NS=
	return 0
}
