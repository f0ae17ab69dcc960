#!/bin/sh
# A short, narrated tour of dssend and dsrecv: A asks B to do some work,
# and B answers, all through plain Unix pipes.  Run it with `make demo`.
set -eu

# Use the programs of this checkout, whatever the caller's PATH holds.
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../build/bin
if [ ! -x "$bin/dssend" ] || [ ! -x "$bin/dsrecv" ]; then
	echo "demo: $bin has no dssend or dsrecv: run make first" >&2
	exit 1
fi
PATH=$bin:$PATH
export PATH
unset DS_NAME

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
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

say "ds demo: programs that talk in messages, through plain Unix pipes."
say "Lines starting with \$ are commands; lines marked | are bytes on the wire."

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
