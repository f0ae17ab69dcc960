#!/bin/sh
# The whole test suite, as `make check` runs it (see tests/README.md).
# Every step runs even when one before it failed, so that one run shows
# everything that is wrong; the last line counts the checks:
#   N passed, N failed
# and the exit status is 1 when anything failed.
set -u

MAKE=${MAKE:-make}
SAN_FLAGS=${SAN_FLAGS:--O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-check.XXXXXX") || exit 3
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0
failures=

# run NAME CMD...: run CMD, showing its output as it comes; its output is
# kept in $tmp/out and its status in $rc.
run() {
	name=$1
	shift
	echo "== $name"
	{ "$@" 2>&1; echo $? >"$tmp/rc"; } | tee "$tmp/out"
	rc=$(cat "$tmp/rc")
}

# tally NAME PASSED FAILED: add a step's counts; a step that failed but
# counted no failure still counts as one.
tally() {
	p=$2 f=$3
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures="$failures $1"
	fi
}

# A step that is one check: it passes or it fails.
one() {
	run "$@"
	if [ "$rc" -eq 0 ]; then tally "$1" 1 0; else tally "$1" 0 1; fi
}

# A C unit-test binary, which closes with "N passed, N failed".
unit() {
	run "$@"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*, }
		f=${f%% failed}
	else
		# It died before its closing line.
		p=0 f=1
	fi
	tally "$1" "$p" "$f"
}

# A bats run in TAP form: each test is one check.
suite() {
	run "$@"
	tally "$1" "$(grep -c '^ok ' "$tmp/out")" "$(grep -c '^not ok ' "$tmp/out")"
}

one deps sh tests/deps.sh
if [ "$rc" -ne 0 ]; then
	echo "$passed passed, $failed failed"
	exit 1
fi
one lint "$MAKE" --no-print-directory lint
one asan-build "$MAKE" -j2 --no-print-directory O=build/asan \
    CFLAGS="$SAN_FLAGS" LDFLAGS="$SAN_FLAGS" all build/asan/tests/unit
# The unit tests mostly wait on timers and sockets: the plain build's run
# goes on beside the sanitizer build's, and is shown after it.
{ build/tests/unit >"$tmp/unit.log" 2>&1; echo $? >"$tmp/unit.rc"; } &
unit_pid=$!
if [ "$rc" -eq 0 ]; then
	unit unit-asan env ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=halt_on_error=1 build/asan/tests/unit
fi
wait "$unit_pid"
# shellcheck disable=SC2016 # the inner shell expands them
unit unit sh -c 'cat "$1"; exit "$(cat "$2")"' sh "$tmp/unit.log" \
    "$tmp/unit.rc"
# Two bats files at a time (bats --jobs runs them through GNU parallel):
# most tests wait on deadlines, not the processors.  The files whose
# tests measure time (failure detection, keepalives, loss) run alone
# afterwards, so that another file's load cannot fail them.
ALONE='peer netns farm'
rest=
for f in tests/*.bats; do
	case " $ALONE " in
	*" $(basename "$f" .bats) "*) ;;
	*) rest="$rest $f" ;;
	esac
done
PAR='--jobs 2 --no-parallelize-within-files'
# shellcheck disable=SC2086
suite bats bats --tap $PAR $rest
# shellcheck disable=SC2086
# shellcheck disable=SC2046
suite bats-alone bats --tap $(for f in $ALONE; do echo "tests/$f.bats"; done)
if [ -x build/asan/bin/dsrecv ]; then
	# Under the sanitizers: the files that drive the programs' own input
	# handling, hostile bytes included.  Those that put the same programs
	# behind outside ones (systemd, inetd, ssh, namespaces), or run the
	# man pages' examples, run once, in the plain pass, to keep the whole
	# check within its ten minutes.
	# dsd.bats, whose faults are timed, runs alone after the others.
	# dspeer's datagram handling is covered under the sanitizers by
	# fuzz_swim and the unit tests of lib/seal, lib/swim and lib/peer.
	ASAN_FILES='dssend dsrecv proto serve dsctl client map'
	# shellcheck disable=SC2046,SC2086
	suite bats-asan env DS_BIN="$PWD/build/asan/bin" \
	    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \
	    bats --tap $PAR $(for f in $ASAN_FILES; do echo "tests/$f.bats"; done)
	suite bats-asan-dsd env DS_BIN="$PWD/build/asan/bin" \
	    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \
	    bats --tap tests/dsd.bats
fi
one fuzz-smoke sh tests/fuzz/smoke.sh

if [ "$failed" -gt 0 ]; then
	echo "check: failed:$failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
