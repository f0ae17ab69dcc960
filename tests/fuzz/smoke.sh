#!/bin/sh
# A short fuzz run of each fuzz target, for `make check`: fuzz_proto (the
# ds1 parser and encoder), fuzz_hub (the hub, fed hostile clients) and
# fuzz_swim (the seal and the membership, fed hostile datagrams).
#
# It builds tests/fuzz/fuzz_NAME.c as the Makefile's fuzz target does and
# runs it for about SMOKE_SECONDS (default 20; the hub and swim get half each) on a copy
# of its seed corpus, so the inputs it finds never land in the source tree.
# A crash fails the check; the input that caused it is kept in build/fuzz/
# for `fuzz_NAME FILE` to replay.  Without clang it says so and passes, since only clang
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

# smoke NAME SEEDS SECONDS: build fuzz_NAME and run it; 1 on any failure.
# The library, compiled once for every target, two files at a time.
objs() {
	mkdir -p "$tmp/obj" || return 1
	# shellcheck disable=SC2086,SC2016 # src is a word list on purpose;
	# the script in single quotes is the inner shell's to expand.
	printf '%s\n' $src | FLAGS=$flags xargs -P 2 -I{} sh -c \
	    'o=$1/$(basename "$2" .c); clang $FLAGS -c -o "$o.o" "$2" 2>"$o.log"' \
	    sh "$tmp/obj" {}
	cat "$tmp"/obj/*.log >"$tmp/cc.log" 2>/dev/null
	for m in $mods; do
		[ -e "$tmp/obj/$m.o" ] || return 1
	done
}

smoke() {
	name=$1 seeddir=$2 secs=$3 bin=build/fuzz/fuzz_$1
	# shellcheck disable=SC2086 # flags are a word list on purpose
	if ! clang $flags -o "$bin" "tests/fuzz/fuzz_$name.c" "$tmp"/obj/*.o \
	    >"$tmp/cc.log" 2>&1; then
		cat "$tmp/cc.log" >&2
		echo "fuzz smoke: FAILED: cannot build $bin" >&2
		return 1
	fi
	if [ -s "$tmp/cc.log" ]; then
		cat "$tmp/cc.log" >&2
		echo "fuzz smoke: FAILED: $bin builds with warnings" >&2
		return 1
	fi
	rm -rf "$tmp/corpus" "$tmp/crash"
	mkdir "$tmp/corpus" "$tmp/crash" || return 1
	cp "$seeddir"/* "$tmp/corpus/" || return 1
	seeds=$(count "$tmp/corpus")
	"$bin" -max_total_time="$secs" -max_len=8192 -timeout=10 \
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
		grep -E 'check failed|ERROR:|runtime error|SUMMARY' \
		    "$tmp/fuzz.log" | head -n 5 >&2
		if [ -n "$crash" ]; then
			cp "$tmp/crash/$crash" "build/fuzz/$crash"
			echo "fuzz smoke: FAILED: the input is in" \
			    "build/fuzz/$crash; replay it with $bin" \
			    "build/fuzz/$crash" >&2
		else
			tail -n 20 "$tmp/fuzz.log" >&2
			echo "fuzz smoke: FAILED: $bin exited with status" \
			    "$status" >&2
		fi
		return 1
	fi
	echo "fuzz smoke: $name ok, ${runs:-?} inputs in ${secs}s, no crashes" \
	    "(corpus $seeds seeds -> $found inputs)"
}

rc=0
if ! objs || [ -s "$tmp/cc.log" ]; then
	cat "$tmp/cc.log" >&2
	echo "fuzz smoke: FAILED: the library does not build cleanly" >&2
	exit 1
fi
smoke proto tests/fuzz/corpus "$seconds" || rc=1
smoke hub tests/fuzz/hub-corpus $((seconds / 2 > 0 ? seconds / 2 : 1)) || rc=1
smoke swim tests/fuzz/swim-corpus $((seconds / 2 > 0 ? seconds / 2 : 1)) || rc=1
exit $rc
