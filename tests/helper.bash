# Shared setup for the bats suite.  Load it with `load helper`.
#
# DS_BIN selects the programs under test (the sanitizer run of
# `make check` points it at build/asan/bin); by default the normal build.
# Each test gets its own scratch directory in $T, removed afterwards,
# and every background process started with `bg` is killed on teardown,
# whether the test passed or not.

DS_BIN=${DS_BIN:-$BATS_TEST_DIRNAME/../build/bin}
PATH=$DS_BIN:$PATH
export PATH DS_BIN
# Tests must not inherit a name from the caller's environment.
unset DS_NAME
# Under the sanitizer build, undefined behaviour must stop the program, so
# that the tests notice it.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/ds-test.XXXXXX")
	BG_PIDS=()
	if declare -F local_setup >/dev/null; then local_setup; fi
}

teardown() {
	if declare -F local_teardown >/dev/null; then local_teardown; fi
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$T"
}

# bg CMD...: run CMD in the background and remember it for teardown.
bg() {
	"$@" &
	BG_PIDS+=("$!")
}

# wait_for SECONDS CMD...: retry CMD until it succeeds or the deadline passes.
wait_for() {
	local deadline=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "wait_for: timed out: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Compare two files byte for byte, showing where they differ.
same_bytes() {
	cmp "$1" "$2"
}

# eq GOT WANT: compare two strings, showing both when they differ.
eq() {
	if [ "$1" != "$2" ]; then
		printf 'expected: %q\n     got: %q\n' "$2" "$1"
		return 1
	fi
}

# quiet CMD...: run CMD, failing if it exits non-zero or writes to stderr.
quiet() {
	local rc=0
	"$@" 2>"$T/quiet.err" || rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$T/quiet.err" ]; then
		echo "quiet: '$*' exited $rc; stderr:"
		cat "$T/quiet.err"
		return 1
	fi
}

# bytes_are FILE FORMAT [ARG...]: FILE holds exactly printf FORMAT's bytes.
bytes_are() {
	local f=$1
	shift
	# shellcheck disable=SC2059
	printf "$@" >"$T/expected"
	if ! cmp "$T/expected" "$f"; then
		echo "expected:"; od -c "$T/expected" | head -20
		echo "got:"; od -c "$f" | head -20
		return 1
	fi
}
