# A throwaway sshd for the bats suite.  Load it after helper:
#
#	load helper
#	load sshd
#	local_setup() { sshd_start; }
#	local_teardown() { sshd_stop; }
#
# sshd_start makes a host key, a client key and a config in $T, and starts
# /usr/sbin/sshd in the foreground on 127.0.0.1 and a random high port.
# sshd cannot listen on port 0 and report the port it got, so a port that
# is taken is detected from the log and another random port is tried.
# Then `ds_ssh CMD` runs CMD on the other side, with the programs under
# test ($DS_BIN) first on its PATH.

SSHD=/usr/sbin/sshd
SSHD_TRIES=10
SSHD_DEADLINE=10
SSH_TIMEOUT=60

SSHD_PID=
SSHD_PORT=

# sq WORD: WORD quoted for a POSIX shell, so that it survives the remote
# login shell whatever bytes it holds.
sq() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# sshd_config_lines KEYDIR USER: the settings every throwaway sshd of the
# tests shares: keys from KEYDIR, only USER, by key, nothing forwarded.
sshd_config_lines() {
	cat <<-EOF
		HostKey $1/host_key
		AuthorizedKeysFile $1/authorized_keys
		AllowUsers $2
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		StrictModes no
		UsePAM no
		PidFile none
		PrintMotd no
		X11Forwarding no
		AllowTcpForwarding no
	EOF
}

# sshd_wait_ready: wait until the sshd just started says it listens (0),
# dies (1, the caller tries another port), or the deadline passes (2).
sshd_wait_ready() {
	local deadline=$(( $(date +%s) + SSHD_DEADLINE ))
	while :; do
		if grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$T/sshd.log"; then
			return 0
		fi
		if ! kill -0 "$SSHD_PID" 2>/dev/null; then
			wait "$SSHD_PID" 2>/dev/null || true
			SSHD_PID=
			return 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			return 2
		fi
		sleep 0.05
	done
}

sshd_start() {
	local user try rc
	user=$(id -un)
	# sshd running as root insists on its privilege separation directory,
	# which a fresh container may not have yet.
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p /run/sshd
	fi
	ssh-keygen -q -t ed25519 -N '' -C ds-test-host -f "$T/host_key" </dev/null
	ssh-keygen -q -t ed25519 -N '' -C ds-test-client -f "$T/key" </dev/null
	cp "$T/key.pub" "$T/authorized_keys"

	for (( try = 1; try <= SSHD_TRIES; try++ )); do
		SSHD_PORT=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
		{
			printf 'ListenAddress 127.0.0.1\nPort %s\n' "$SSHD_PORT"
			sshd_config_lines "$T" "$user"
			echo 'LogLevel INFO'
		} >"$T/sshd_config"
		# -e sends the whole log, early fatal errors included, to stderr.
		# fd 3 is bats' own; a daemon holding it open would hang bats.
		"$SSHD" -D -e -f "$T/sshd_config" </dev/null >"$T/sshd.log" 2>&1 3>&- &
		SSHD_PID=$!
		rc=0
		sshd_wait_ready || rc=$?
		case $rc in
		0)	SSH_USER=$user
			return 0 ;;
		1)	# Dead: try another port if this one was taken, else give up.
			if ! grep -q -e 'Address already in use' -e 'Cannot bind any address' "$T/sshd.log"; then
				echo "sshd_start: sshd exited on port $SSHD_PORT:" >&2
				cat "$T/sshd.log" >&2
				return 1
			fi ;;
		*)	echo "sshd_start: sshd did not listen on port $SSHD_PORT within ${SSHD_DEADLINE}s:" >&2
			cat "$T/sshd.log" >&2
			sshd_stop
			return 1 ;;
		esac
	done
	echo "sshd_start: no free port after $SSHD_TRIES tries" >&2
	return 1
}

# sshd_stop: stop the sshd, if it runs, and wait until it is gone, so
# that its port is free again.  Safe to call twice.
sshd_stop() {
	[ -n "$SSHD_PID" ] || return 0
	kill "$SSHD_PID" 2>/dev/null || true
	local deadline=$(( $(date +%s) + SSHD_DEADLINE ))
	while kill -0 "$SSHD_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			kill -KILL "$SSHD_PID" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$SSHD_PID" 2>/dev/null || true
	SSHD_PID=
}

# ds_ssh CMD: run the shell command CMD on the throwaway sshd, with stdin
# and stdout passed through.  The remote PATH starts with $DS_BIN, and the
# sanitizer options are passed explicitly because sshd does not forward the
# caller's environment.  Leak checking is off over ssh, as in the sanitizer
# run of `make check`.
ds_ssh() {
	timeout "$SSH_TIMEOUT" ssh -F /dev/null \
		-i "$T/key" -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$T/known_hosts" \
		-o StrictHostKeyChecking=accept-new \
		-o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10 \
		-p "$SSHD_PORT" "$SSH_USER@127.0.0.1" \
		"PATH=$(sq "$DS_BIN"):\$PATH ASAN_OPTIONS=detect_leaks=0" \
		"UBSAN_OPTIONS=halt_on_error=1;" \
		"export PATH ASAN_OPTIONS UBSAN_OPTIONS; $1"
}
