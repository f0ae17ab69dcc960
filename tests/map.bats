#!/usr/bin/env bats
# dsctl map: jobs from standard input through a real dsd to real dsrecv
# workers, with their order, caps, timeouts, retries, joblog and exit
# statuses (see dsctl(1), map).

# bats's run sets $stderr and $output; handlers are sh scripts in $T.
# shellcheck disable=SC2154,SC2016
bats_require_minimum_version 1.5.0
load helper

export LC_ALL=C
unset DS_HUB DS_KEY

MAP_USAGE='usage: dsctl [-c address] [-k keyfile] map [-0qu] [-P jobs] [-w seconds] [-r retries] [-J joblog] name'
# A joblog line: id, worker, start, seconds, status.
LOGLINE='^[0-9]+'$'\t''[^\t]+'$'\t''[0-9]+\.[0-9]{3}'$'\t''[0-9]+\.[0-9]{3}'$'\t''(0|[1-9][0-9]*|timeout)$'

# hub [DSD-OPTION...]: dsd on a free TCP port; its address in $ADDR.
hub() {
	bg dsd -1 -l 127.0.0.1:0 "$@" >"$T/dsd.out" 2>"$T/dsd.err" 3>&-
	HUB=$!
	wait_for 5 test -s "$T/dsd.out"
	ADDR=$(head -n 1 "$T/dsd.out")
}

holders_are() {
	[ "$(dsctl -c "$ADDR" names |
	    awk -F '\t' -v n="$1" '$1 == n { h = $2 } END { print h + 0 }')" = "$2" ]
}

# handler: the script on standard input becomes $T/h.sh, which workers
# run with $T as $1 and the job on standard input.  It may call
# wait_file SECONDS FILE, which waits for FILE with a deadline.
handler() {
	{
		echo 'wait_file() { i=0; while [ ! -e "$2" ]; do i=$((i + 1)); [ "$i" -le $(($1 * 20)) ] || return 1; sleep 0.05; done; }'
		cat
	} >"$T/h.sh"
}

# workers N [NAME]: N dsrecv workers of NAME (default work) running
# $T/h.sh; waits until the hub lists them all.
workers() {
	local n=$1 name=${2:-work} i
	for ((i = 0; i < n; i++)); do
		bg dsrecv -c "$ADDR" -N "$name" -e "sh $T/h.sh $T" \
		    2>>"$T/workers.err" 3>&-
	done
	wait_for 10 holders_are "$name" "$n"
}

# exited PID: the process is gone (or a zombie, waiting to be reaped).
exited() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

# ---- usage ----

@test "usage: map's options, its name, and its count of arguments: exit 2 before connecting" {
	run -2 dsctl -c "$T/none.sock" map
	eq "$output" "$MAP_USAGE"
	run -2 dsctl -c "$T/none.sock" map a b
	eq "$output" "$MAP_USAGE"
	run -2 dsctl -c "$T/none.sock" map -x work
	eq "$output" "dsctl: map: unknown option -x
$MAP_USAGE"
	run -2 dsctl -c "$T/none.sock" map -P
	eq "$output" "dsctl: map: -P needs an argument
$MAP_USAGE"
	run -2 dsctl -c "$T/none.sock" map -P 0 work
	eq "$output" "dsctl: map: -P 0: expected a number from 1 to 1048576"
	run -2 dsctl -c "$T/none.sock" map -P 1048577 work
	eq "$output" "dsctl: map: -P 1048577: expected a number from 1 to 1048576"
	run -2 dsctl -c "$T/none.sock" map -r -1 work
	eq "$output" "dsctl: map: -r -1: expected a number from 0 to 1000000"
	run -2 dsctl -c "$T/none.sock" map -w soon work
	eq "$output" "dsctl: map: -w soon: expected seconds, such as 10 or 0.5"
	run -2 dsctl -c "$T/none.sock" map 'a b'
	eq "$output" "dsctl: map: bad name 'a b': names are 1 to 64 bytes of [A-Za-z0-9._-]"
}

@test "usage: the man page's SYNOPSIS has map's usage line" {
	synopsis=$(mandoc -T ascii "$BATS_TEST_DIRNAME/../man/dsctl.1" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')
	[[ "$synopsis" == *"dsctl [-c address] [-k keyfile] map [-0qu] [-P jobs] [-w seconds] [-r retries] [-J joblog] name" ]]
}

# ---- the hub ----

@test "no hub: exit 3, the reason on stderr, nothing read or written" {
	run -3 --separate-stderr dsctl -c "$T/none.sock" map work < <(seq 3)
	eq "$output" ""
	[[ "$stderr" == "dsctl: "*"$T/none.sock"* ]]
	run -3 dsctl -c 127.0.0.1:1 map work </dev/null
}

@test "the hub goes away in the middle: exit 3, lost the hub" {
	hub
	handler <<-'EOF'
		touch "$1/started"
		wait_file 20 "$1/release"
	EOF
	workers 1
	seq 3 | dsctl -c "$ADDR" map work >"$T/out" 2>"$T/err" &
	MAP=$!
	wait_for 10 test -e "$T/started"
	kill "$HUB"
	rc=0
	wait "$MAP" || rc=$?
	touch "$T/release"
	eq "$rc" 3
	[[ "$(cat "$T/err")" == "dsctl: map: lost the hub at $ADDR; 0 jobs done, "*" unfinished" ]]
}

# ---- input and output ----

@test "empty input: exit 0, nothing printed" {
	hub
	handler <<<'echo out'
	workers 1
	run -0 --separate-stderr dsctl -c "$ADDR" map work </dev/null
	eq "$output" ""
	eq "$stderr" ""
}

@test "each line is a job whose body is the line with its newline; rep bodies on stdout" {
	hub
	handler <<<'od -An -c | tr -s " "'
	workers 2
	printf 'a b\n\nlast' | dsctl -c "$ADDR" map work >"$T/out" 2>"$T/err"
	eq "$(cat "$T/out")" " a b \\n
 \\n
 l a s t \\n"
	eq "$(cat "$T/err")" ""
}

@test "-0: NUL-terminated items, newlines inside are data; one NUL is added to the last" {
	hub
	handler <<<'cat'
	workers 2
	printf 'a\nb\0c d\0\0e' | dsctl -c "$ADDR" map -0 work >"$T/out"
	bytes_are "$T/out" 'a\nb\0c d\0\0e\0'
}

@test "order: outputs in input order by default, though the first job finishes last" {
	hub
	# Job 1 waits until job 2 has finished.
	handler <<-'EOF'
		read -r x
		if [ "$x" = 1 ]; then wait_file 20 "$1/done.2" || exit 9; fi
		echo "r$x"
		touch "$1/done.$x"
	EOF
	workers 2
	run -0 --separate-stderr dsctl -c "$ADDR" map work < <(seq 6)
	eq "$output" "$(seq 6 | sed 's/^/r/')"
	eq "$stderr" ""
}

@test "order: -u writes each output as its job finishes" {
	hub
	# Job 1 waits until dsctl has written job 2's output.
	handler <<-'EOF'
		read -r x
		if [ "$x" = 1 ]; then
			i=0
			until grep -qx r2 "$1/out" 2>/dev/null; do
				i=$((i + 1)); [ "$i" -le 400 ] || exit 9; sleep 0.05
			done
		fi
		echo "r$x"
	EOF
	workers 2
	seq 6 | dsctl -c "$ADDR" map -u work >"$T/out"
	eq "$(sort "$T/out")" "$(seq 6 | sed 's/^/r/' | sort)"
	first=$(grep -nx r1 "$T/out" | cut -d: -f1)
	second=$(grep -nx r2 "$T/out" | cut -d: -f1)
	[ "$second" -lt "$first" ]
}

@test "250 jobs over 3 workers: exactly one output each, in order" {
	hub
	handler <<<'read -r x; echo "out $x"'
	workers 3
	seq 250 | dsctl -c "$ADDR" map -P 16 work >"$T/out"
	eq "$(wc -l <"$T/out")" 250
	eq "$(sort "$T/out" | uniq -d)" ""
	cmp "$T/out" <(seq 250 | sed 's/^/out /')
}

@test "streaming: a job starts before the input ends" {
	hub
	handler <<<'read -r x; echo "out $x"'
	workers 1
	mkfifo "$T/in"
	dsctl -c "$ADDR" map work <"$T/in" >"$T/out" &
	MAP=$!
	exec 4>"$T/in"
	echo first >&4
	wait_for 10 grep -qx 'out first' "$T/out"
	echo second >&4
	exec 4>&-
	wait "$MAP"
	eq "$(cat "$T/out")" "out first
out second"
}

@test "an item over the hub's limit: exit 1, which item, the limit" {
	hub -M 100
	handler <<<'cat'
	workers 1
	run -1 --separate-stderr dsctl -c "$ADDR" map work \
	    < <(echo ok; head -c 150 /dev/zero | tr '\0' x; echo)
	eq "$stderr" "dsctl: map: item 2 is larger than the hub's limit of 100 bytes"
	# 99 bytes and the newline fit.
	run -0 dsctl -c "$ADDR" map work < <(head -c 99 /dev/zero | tr '\0' x; echo)
	eq "${#output}" 99
}

# ---- the cap on jobs in flight ----

@test "-P 1: one job at a time, even with two workers free" {
	hub
	# A job that finds another one running leaves a mark.
	handler <<-'EOF'
		mkdir "$1/busy" 2>/dev/null || touch "$1/overlap"
		sleep 0.05
		rmdir "$1/busy" 2>/dev/null
		read -r x; echo "$x"
	EOF
	workers 2
	seq 12 | dsctl -c "$ADDR" map -P 1 work >"$T/out"
	[ ! -e "$T/overlap" ]
	cmp "$T/out" <(seq 12)
}

@test "-P 2: two jobs at once" {
	hub
	# Job 1 finishes only once job 2 has started.
	handler <<-'EOF'
		read -r x
		touch "$1/started.$x"
		if [ "$x" = 1 ]; then wait_file 20 "$1/started.2" || exit 9; fi
		echo "$x"
	EOF
	workers 2
	run -0 dsctl -c "$ADDR" map -P 2 work < <(seq 2)
	eq "$output" "1
2"
}

# ---- failures, timeouts, retries ----

@test "failing jobs: err bodies on stderr, the rest on stdout, a summary and exit 1" {
	hub
	handler <<-'EOF'
		read -r x
		if [ $((x % 2)) = 1 ]; then echo "odd $x" >&2; exit 3; fi
		echo "even $x"
	EOF
	workers 2
	run -1 --separate-stderr dsctl -c "$ADDR" map work < <(seq 10)
	eq "$output" "$(seq 2 2 10 | sed 's/^/even /')"
	eq "$stderr" "$(seq 1 2 9 | sed 's/^/odd /')
dsctl: map: 5 of 10 jobs failed (5 err)"
}

@test "an err with an empty body: a line that names the job and its status" {
	hub
	handler <<<'exit 7'
	workers 1
	run -1 --separate-stderr dsctl -c "$ADDR" map work < <(echo x)
	eq "$output" ""
	[[ "${stderr}" =~ ^"dsctl: map: job 1: error reply from "[^$'\n']+" (status=7)"$'\n'"dsctl: map: 1 of 1 job failed (1 err)"$ ]]
}

@test "no route: every job fails with the hub's words" {
	hub
	run -1 --separate-stderr dsctl -c "$ADDR" map nobody < <(seq 2)
	eq "$stderr" "no route to nobody
no route to nobody
dsctl: map: 2 of 2 jobs failed (2 err)"
}

@test "-w: a job with no reply in time times out: status timeout in the joblog, exit 1" {
	hub
	handler <<-'EOF'
		read -r x
		if [ "$x" = slow ]; then wait_file 30 "$1/release"; fi
		echo "out $x"
	EOF
	# One worker each, so that no job waits behind the slow one.
	workers 3
	run -1 --separate-stderr dsctl -c "$ADDR" map -w 1 -J "$T/log" work \
	    < <(printf 'a\nslow\nb\n')
	touch "$T/release"
	eq "$output" "out a
out b"
	eq "$stderr" "dsctl: map: job 2: no reply within 1 s
dsctl: map: 1 of 3 jobs failed (1 timed out)"
	line=$(awk -F '\t' '$1 == 2' "$T/log")
	re=$'^2\t-\t[0-9]+\\.[0-9]{3}\t1\\.[0-9]{3}\ttimeout$'
	[[ "$line" =~ $re ]]
}

@test "-w of the command, not dsctl's: map waits as long as jobs take" {
	hub
	handler <<<'sleep 1; echo done'
	workers 1
	run -0 dsctl -c "$ADDR" -w 0.2 map work < <(echo x)
	eq "$output" "done"
}

@test "-r: a job that fails once succeeds on its retry: exit 0, one output each" {
	hub
	handler <<-'EOF'
		read -r x
		if [ ! -e "$1/tried.$x" ]; then
			touch "$1/tried.$x"; echo "first try $x" >&2; exit 5
		fi
		echo "ok $x"
	EOF
	workers 2
	run -0 --separate-stderr dsctl -c "$ADDR" map -r 1 -J "$T/log" work \
	    < <(seq 20)
	eq "$output" "$(seq 20 | sed 's/^/ok /')"
	eq "$stderr" ""
	eq "$(tail -n +2 "$T/log" | cut -f 5 | sort -u)" "0"
}

@test "-r: without retries the same jobs fail; with too few, too" {
	hub
	handler <<-'EOF'
		read -r x
		n=$(cat "$1/tries.$x" 2>/dev/null || echo 0)
		echo $((n + 1)) >"$1/tries.$x"
		if [ "$n" -lt 2 ]; then echo "try $n of $x" >&2; exit 5; fi
		echo "ok $x"
	EOF
	workers 2
	run -1 --separate-stderr dsctl -c "$ADDR" map -J "$T/log" work < <(seq 4)
	eq "$output" ""
	eq "$stderr" "try 0 of 1
try 0 of 2
try 0 of 3
try 0 of 4
dsctl: map: 4 of 4 jobs failed (4 err)"
	eq "$(tail -n +2 "$T/log" | cut -f 5 | sort -u)" "5"
	# The second tries fail too, and only their bodies are written.
	run -1 --separate-stderr dsctl -c "$ADDR" map -r 0 work < <(seq 4)
	eq "$stderr" "try 1 of 1
try 1 of 2
try 1 of 3
try 1 of 4
dsctl: map: 4 of 4 jobs failed (4 err)"
	run -0 dsctl -c "$ADDR" map -r 3 work < <(seq 4)
	eq "$output" "$(seq 4 | sed 's/^/ok /')"
}

@test "-w and -r: a timed-out attempt is retried, and its late reply is ignored" {
	hub
	# The first attempt of each job hangs until released; the retry answers.
	handler <<-'EOF'
		read -r x
		if [ ! -e "$1/tried.$x" ]; then
			touch "$1/tried.$x"; wait_file 30 "$1/release"
			echo "late $x"; exit 0
		fi
		echo "ok $x"
	EOF
	workers 3
	run -0 --separate-stderr dsctl -c "$ADDR" map -w 1 -r 1 -J "$T/log" \
	    work < <(echo x)
	touch "$T/release"
	eq "$output" "ok x"
	eq "$stderr" ""
	eq "$(tail -n +2 "$T/log" | cut -f 1,5)" "1	0"
}

# ---- the joblog ----

@test "-J: a header and one tab-separated line per job" {
	hub
	handler <<-'EOF'
		read -r x
		if [ "$x" = 3 ]; then exit 4; fi
		echo "$x"
	EOF
	workers 2
	before=$(date +%s)
	run -1 dsctl -c "$ADDR" map -J "$T/log" work < <(seq 5)
	after=$(date +%s)
	eq "$(head -n 1 "$T/log")" "id	worker	start	seconds	status"
	eq "$(wc -l <"$T/log")" 6
	tail -n +2 "$T/log" >"$T/lines"
	while IFS= read -r line; do
		[[ "$line" =~ $LOGLINE ]] || { echo "bad line: $line"; false; }
	done <"$T/lines"
	eq "$(cut -f 1 "$T/lines" | sort -n | tr '\n' ' ')" "1 2 3 4 5 "
	eq "$(awk -F '\t' '$1 == 3 { print $5 }' "$T/lines")" 4
	eq "$(awk -F '\t' '$1 != 3 { print $5 }' "$T/lines" | sort -u)" 0
	# Starts in the epoch seconds of the run; no worker column is empty.
	awk -F '\t' -v b="$before" -v a="$after" \
	    '$3 < b || $3 > a + 1 || $2 == "" { exit 1 }' "$T/lines"
}

@test "-J: a joblog that cannot be made: exit 3 before connecting" {
	run -3 dsctl -c "$T/none.sock" map -J "$T/no/such/dir/log" work </dev/null
	eq "$output" "dsctl: map: cannot create the joblog $T/no/such/dir/log: No such file or directory"
}

# ---- progress ----

@test "progress: none when stderr is not a terminal; on a terminal, cleared at the end" {
	hub
	handler <<<'sleep 0.3; cat'
	workers 2
	run -0 --separate-stderr dsctl -c "$ADDR" map work < <(seq 4)
	eq "$stderr" ""
	# Under script(1), stderr is a terminal.
	seq 4 >"$T/in"
	script -qec "dsctl -c '$ADDR' map work <'$T/in' >'$T/out'" /dev/null \
	    >"$T/tty"
	eq "$(cat "$T/out")" "$(seq 4)"
	grep -q 'dsctl: map: [0-9]*/[0-9?]* done' "$T/tty"
	# The last thing written clears the line.
	[[ "$(tail -c 4 "$T/tty" | od -An -c | tr -d ' ')" == '\r033[K' ]]
	run -0 --separate-stderr script -qec \
	    "dsctl -c '$ADDR' map -q work <'$T/in' >'$T/out'" /dev/null
	eq "$output" ""
}

# ---- the man page ----

@test "man page: the map examples run as shown" {
	hub
	export DS_HUB=$ADDR
	cd "$T"
	bg dsrecv -c "$DS_HUB" -N upper -e 'tr a-z A-Z' 3>&-
	bg dsrecv -c "$DS_HUB" -N upper -e 'tr a-z A-Z' 3>&-
	wait_for 10 holders_are upper 2
	run -0 sh -c "printf 'one\ntwo\nthree\n' | dsctl map -J jobs.tsv upper"
	eq "$output" "ONE
TWO
THREE"
	run -0 sh -c 'cut -f 1,5 jobs.tsv | sort -n'
	eq "$output" "id	status
1	0
2	0
3	0"

	mkdir -p src/sub
	printf 'one\n' >src/a
	printf 'two\n' >'src/sub/b c'
	printf 'three\n' >'src/new
line'
	bg dsrecv -c "$DS_HUB" -N sum -e 'f=$(tr -d "\0"); cksum <"$f"' 3>&-
	wait_for 10 holders_are sum 1
	run -0 sh -c 'find src -type f -print0 | dsctl map -0 -u -P 64 -w 600 -r 2 sum'
	eq "$(sort <<<"$output")" "$(cat src/a src/sub/b\ c src/new?line >/dev/null &&
	    { cksum <src/a; cksum <'src/sub/b c'; cksum <'src/new
line'; } | sort)"

	run -0 sh -c 'seq 3 | dsctl map nobody; echo "exit $?"'
	eq "$output" "no route to nobody
no route to nobody
no route to nobody
dsctl: map: 3 of 3 jobs failed (3 err)
exit 1"
}

@test "a reader that pauses: dsctl goes on taking replies, and the hub keeps it" {
	# The hub disconnects a client whose queue stays full for 1 s.
	hub -w 1 -Q 64k
	handler <<-'EOF'
		read -r x
		head -c 200000 /dev/zero | tr '\0' x
		echo " $x"
	EOF
	workers 2
	run -0 --separate-stderr bash -c "set -o pipefail
	    seq 100 | dsctl -c '$ADDR' map work | { sleep 4; cat; } |
	    sed 's/^x*//'"
	eq "$output" "$(seq 100 | sed 's/^/ /')"
	eq "$stderr" ""
}
