#!/bin/sh
# A short fuzz run of the ds1 parser and encoder, for `make check`.
#
# It builds tests/fuzz/fuzz_proto.c as the Makefile's fuzz target does and
# runs it for about SMOKE_SECONDS (default 20) on a copy of the seed corpus,
# so the inputs it finds never land in the source tree.  A crash fails the
# check; the input that caused it is kept in build/fuzz/ for `fuzz_proto
# FILE` to replay.  Without clang it says so and passes, since only clang
# has libFuzzer (tests/deps.sh installs it where it can).
#
# Run it from the top of the repository.

seconds=${SMOKE_SECONDS:-20}

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz smoke: skipped, clang is missing (libFuzzer needs clang)"
	exit 0
fi

# The same sources and flags as the fuzz target in the Makefile.
mods=$(sed -n 's/^LIB_MODS *= *//p' Makefile)
src=
for m in $mods; do
	src="$src lib/$m.c"
done
flags='-std=c99 -D_POSIX_C_SOURCE=200809L
    -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
    -O1 -g -fsanitize=fuzzer,address,undefined'

# count DIR: how many files DIR holds.
count() {
	set -- "$1"/*
	if [ -e "$1" ]; then echo "$#"; else echo 0; fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

mkdir -p build/fuzz || exit 1
# shellcheck disable=SC2086 # flags and src are word lists on purpose
if ! clang $flags -o build/fuzz/fuzz_proto tests/fuzz/fuzz_proto.c $src \
    >"$tmp/cc.log" 2>&1; then
	cat "$tmp/cc.log" >&2
	echo "fuzz smoke: FAILED: cannot build build/fuzz/fuzz_proto" >&2
	exit 1
fi
if [ -s "$tmp/cc.log" ]; then
	cat "$tmp/cc.log" >&2
	echo "fuzz smoke: FAILED: build/fuzz/fuzz_proto builds with warnings" >&2
	exit 1
fi

mkdir "$tmp/corpus" "$tmp/crash" || exit 1
cp tests/fuzz/corpus/* "$tmp/corpus/" || exit 1
seeds=$(count "$tmp/corpus")

build/fuzz/fuzz_proto -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -artifact_prefix="$tmp/crash/" -print_final_stats=1 "$tmp/corpus" \
    >"$tmp/fuzz.log" 2>&1
status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/fuzz.log")
found=$(count "$tmp/corpus")
crash=
for f in "$tmp/crash"/*; do
	[ -e "$f" ] && crash=${f##*/}
	break
done
if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
	# The reason (a failed check or a sanitizer report) and the input.
	grep -E 'check failed|ERROR:|runtime error|SUMMARY' "$tmp/fuzz.log" \
	    | head -n 5 >&2
	if [ -n "$crash" ]; then
		cp "$tmp/crash/$crash" "build/fuzz/$crash"
		echo "fuzz smoke: FAILED: the input is in build/fuzz/$crash;" \
		    "replay it with build/fuzz/fuzz_proto build/fuzz/$crash" >&2
	else
		tail -n 20 "$tmp/fuzz.log" >&2
		echo "fuzz smoke: FAILED: fuzz_proto exited with status $status" >&2
	fi
	exit 1
fi
echo "fuzz smoke: ok, ${runs:-?} inputs in ${seconds}s, no crashes" \
    "(corpus $seeds seeds -> $found inputs)"
