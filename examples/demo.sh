#!/bin/sh
# A short, narrated tour: first the seed's example through a hub (dsd),
# where node A serves sort and node B serves sum and each asks the other;
# then the same kind of request and reply through plain Unix pipes, with
# no hub at all; then a group of peers (dspeer) that know who is alive and
# send to each other by name over UDP; last, a job farm: a list of jobs
# mapped over workers that the hub supervises.  Run it with `make demo`.
set -eu

# Use the programs of this checkout, whatever the caller's PATH holds.
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../build/bin
for p in dssend dsrecv dsd dsctl dspeer; do
	if [ ! -x "$bin/$p" ]; then
		echo "demo: $bin has no $p: run make first" >&2
		exit 1
	fi
done
PATH=$bin:$PATH
export PATH
unset DS_NAME

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-demo.XXXXXX")
pids=
# Every process the demo starts is stopped, however it ends.
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || :
	done
	wait 2>/dev/null || :
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() {
	printf '%s\n' "$@"
}

# wire FILE: show the bytes of FILE as they travel, each line marked |.
wire() {
	sed -e 's/^$/    |/' -e t -e 's/^/    | /' "$1"
}

# stage COMMAND IN OUT: show COMMAND, then run it from IN into OUT.
stage() {
	printf '    $ %s\n' "$1"
	eval "$1" <"$2" >"$3"
}

# ask NUMBER TEXT INPUT SERVICE UNWRAP [NOTE]: one round trip.  A sends
# INPUT to B as request NUMBER, B serves it with `dsrecv -e SERVICE`, and
# A reads the reply with UNWRAP.
ask() {
	say "" "== $1. A asks B to $2" ""
	if [ -n "${6-}" ]; then
		say "$6" ""
	fi
	printf '%s' "$3" >"$tmp/input"
	say "A turns the input into a message (a request to B):"
	stage "dssend -f A -t B -i $1" "$tmp/input" "$tmp/request"
	say "  On the wire: a header line, then len bytes of body and a newline:"
	wire "$tmp/request"
	say "" "B runs a command for each message; its output becomes the reply:"
	stage "dsrecv -e '$4'" "$tmp/request" "$tmp/reply"
	say "  On the wire: re= names the request this reply answers:"
	wire "$tmp/reply"
	say "" "A reads the reply:"
	stage "$5" "$tmp/reply" "$tmp/answer"
	sed 's/^/    /' "$tmp/answer"
}


# run COMMAND: show COMMAND and start it in the background.
run() {
	printf '    $ %s &\n' "$1"
	eval "$1 &"
	pids="$pids $!"
}

# show COMMAND: show COMMAND, run it, and indent what it prints.
show() {
	printf '    $ %s\n' "$1"
	eval "$1" | sed 's/^/    /'
}

# wait_until WHAT COMMAND...: retry COMMAND for at most 5 s.
wait_until() {
	what=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			echo "demo: $what did not happen within 5 s" >&2
			cat "$tmp/dsd.log" >&2
			exit 1
		fi
		sleep 0.05
	done
}

# holds_both: the hub knows the names sort and sum.
holds_both() {
	[ "$(dsctl -c "$hub" names | grep -c -E '^(sort|sum)	')" -eq 2 ]
}

say "ds demo: programs that talk in messages."
say "Lines starting with \$ are commands; lines marked | are bytes on the wire."
say "" "== Part 1: a hub, and two nodes that serve each other" ""
# Short relative paths read better; the directory is a fresh temporary one.
cd "$tmp"
hub=./hub.sock
ctl=./hub.ctl
say "The hub routes messages by name. It listens on a Unix socket here:"
run "dsd -l $hub -C $ctl 2>dsd.log"
wait_until "the hub's start" dsctl -c "$hub" ping
say "" "Node A serves sort, and node B serves sum, each with a plain command:"
run "dsrecv -c $hub -N sort -e 'sort -n' 2>A.log"
run "dsrecv -c $hub -N sum -e 'tr \" \" \"\\n\" | paste -sd+ - | bc' 2>B.log"
wait_until "the nodes' hellos" holds_both
say "" "The hub now knows both names, with the number of holders of each"
say "(dsctl holds a name of its own while it asks):"
show "dsctl -c $hub names"
say "" "== A asks B for a sum" ""
show "dsctl -c $hub call sum 1 2 3 4 5 6 7 8 9 10"
say "" "== B asks A to sort a list" ""
show "printf '42\\n7\\n19\\n3\\n' | dsctl -c $hub call sort"
say "" "== What the hub counted" ""
show "dsctl -c $hub stats | grep -E '^(connections|msgs_in|msgs_out)\\s'"
say "" "A message to a name nobody holds is answered with an error, and dsctl"
say "exits 1:"
show "dsctl -c $hub call nobody hello 2>&1 || echo \"exit status \$?\""
say "" "The control socket (mode 0600) takes privileged commands:"
show "dsctl -c $ctl shutdown"
say "" "The hub drains and exits; the nodes see it go and exit too:"
show "wait; cat A.log B.log"

say "" "== Part 2: the same requests through plain pipes, with no hub" ""

ask 1 "sum these numbers: 1 2 3 4" \
	'1 2 3 4
' 'tr " " + | bc' 'dsrecv'

ask 2 "sort these words: pear apple fig banana" \
	'pear
apple
fig
banana
' 'sort' 'dsrecv'

# $(cat) is B's to expand, in the shell that dsrecv -e starts.
# shellcheck disable=SC2016
ask 3 "divide 6 by 0" \
	'6 / 0
' 'expr $(cat)' "dsrecv -F '%T status=%{status}: %b'" \
"When B's command fails, the reply has type=err, the command's exit status
and, as its body, what the command wrote to its standard error."

say "" "== All in one pipeline"
say "The stages above are just a pipeline.  Put ssh in the middle and B is"
say "another machine:"
say "    echo '1 2 3' | dssend -t sum -f a | ssh b \"dsrecv -e 'tr \\\" \\\" + | bc'\" | dsrecv"
say "Here, without ssh:"
printf '    $ %s\n' "echo '1 2 3' | dssend -t sum -f a | dsrecv -e 'tr \" \" + | bc' | dsrecv"
echo '1 2 3' | dssend -t sum -f a | dsrecv -e 'tr " " + | bc' | dsrecv |
	sed 's/^/    /'

say "" "== Part 3: peers, with no hub and no single point of failure" ""
say "Three members on this host, on ports the system picks; a prints its"
say "address, and b and c join through it:"
run "dspeer -n a -l 127.0.0.1:0 -1 -C ./a.ctl </dev/null >a.out 2>a.log"
wait_until "a's start" test -s a.out
seed=$(head -n 1 a.out)
run "dspeer -n b -l 127.0.0.1:0 -j $seed -C ./b.ctl </dev/null >b.out 2>b.log"
run "dspeer -n c -l 127.0.0.1:0 -j $seed </dev/null >/dev/null 2>c.log"
c_pid=$!
wait_until "the group's forming" sh -c \
    "[ \$(dsctl -c ./a.ctl members | grep -c '	alive	') -eq 3 ]"
say "" "a's member list: name, address, state and incarnation:"
show "dsctl -c ./a.ctl members"
say "" "A message from a to b, by name, in one datagram:"
show "dsctl -c ./a.ctl send b hello from a"
wait_until "the message's arrival" grep -q 'hello from a' b.out
say "  b writes what it receives on its standard output:"
wire b.out
say "" "Kill c outright; probing finds out, and every member marks it failed:"
printf '    $ kill -9 %s\n' "c's pid"
kill -9 "$c_pid"
wait_until "c's failure" sh -c "dsctl -c ./a.ctl members | grep -q '^c	.*	failed	'"
show "dsctl -c ./a.ctl members | cut -f 1,3"
say "" "b leaves gracefully, and is shown as left, not failed:"
show "dsctl -c ./b.ctl leave"
wait_until "b's leave" sh -c "dsctl -c ./a.ctl members | grep -q '^b	.*	left	'"
show "dsctl -c ./a.ctl members | cut -f 1,3"

say "" "== Part 4: a job farm: jobs spread over supervised workers" ""
say "The hub starts two workers itself (-x), each a dsrecv on the hub"
say "connection that is its stdin and stdout; with ssh in front of each"
say "command they would be two hosts.  Each runs up to 2 jobs at once (-P 2):"
run "dsd -l ./farm.sock -x 'dsrecv -c - -N wc -P 2 -e \"wc -w\"' -x 'dsrecv -c - -N wc -P 2 -e \"wc -w\"' 2>farm.log"
farm=$!
wait_until "the workers' hellos" sh -c \
    "dsctl -c ./farm.sock names | grep -q '^wc	2$'"
say "" "dsctl map sends each input line as one job, and prints the replies"
say "in input order; -J logs which worker ran each job:"
show "printf '%s\\n' 'one' 'two words' 'now three words' 'and now four words' | dsctl -c ./farm.sock map -J jobs.tsv wc"
show "cut -f 1,2,5 jobs.tsv"
say "" "Kill a worker outright: the hub logs it and starts it again:"
printf '    $ kill -9 %s\n' "the first worker's pid"
kill -9 "$(pgrep -P "$farm" | head -n 1)"
wait_until "the restart" grep -q 'starting again' farm.log
sed 's/^/    /' farm.log
say "" "That is the tour.  The man pages have the rest: dsproto(7) for the"
say "format, and dssend(1), dsrecv(1), dsd(1), dspeer(1) and dsctl(1)."
