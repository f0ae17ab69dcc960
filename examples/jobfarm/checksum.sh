#!/bin/sh
# checksum.sh: the SHA-256 sum of every file under a directory, worked out
# across several hosts over ssh, printed in the order find(1) lists the
# files, as sha256sum(1) prints them.
#
#	checksum.sh [-P slots] [-s ssh-command] directory [host...]
#
# One hub (dsd) runs here, on a Unix socket in a temporary directory.  For
# each host it keeps one ssh connection open, with a worker at the far end
# (`dsrecv -c - -N sum -P slots`) that runs up to `slots` checksums at a
# time; the hub hands each file name to a worker with a free slot, and
# gives the jobs of a worker that dies to another.  With no host, one
# worker runs here, with a slot per processor.  The directory must be at the same
# path on every host (a shared file system), and dsrecv on each host's
# PATH.  Exit status: 0 when every file was summed, 1 when some were not,
# 2 on a usage error, 3 when the hub or its workers did not start.
set -eu

usage() {
	echo "usage: checksum.sh [-P slots] [-s ssh-command] directory [host...]" >&2
	exit 2
}

slots=2
slots_given=
ssh=ssh
while getopts P:s: opt; do
	case $opt in
	P) slots=$OPTARG slots_given=1 ;;
	s) ssh=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
case $slots in
'' | *[!0-9]* | 0) usage ;;
esac
dir=$1
shift
[ -d "$dir" ] || { echo "checksum.sh: $dir: not a directory" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobfarm.XXXXXX")
hub=
cleanup() {
	status=$?
	if [ "$status" -ne 0 ] && [ -s "$tmp/dsd.log" ]; then
		echo "checksum.sh: the hub's log:" >&2
		cat "$tmp/dsd.log" >&2
	fi
	if [ -n "$hub" ]; then
		kill "$hub" 2>/dev/null || :
		wait "$hub" 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The handler gets one NUL-terminated file name on stdin: xargs -0 hands
# it to sha256sum as an argument, whatever bytes it holds.
handler='xargs -0 sha256sum --'
worker="dsrecv -c - -N sum -P $slots -e '$handler'"

# One dsd -x per host: an ssh to the host that runs the worker.  The
# command is run by sh -c in the hub, and the part after the host name by
# the host's shell, hence the quotes within quotes.
set -- "$@" --
workers=0
while [ "$1" != -- ]; do
	set -- "$@" -x "$ssh $1 \"$worker\""
	shift
	workers=$((workers + 1))
done
shift
if [ "$workers" -eq 0 ]; then
	# No host: one local worker, with a slot per processor unless -P
	# says otherwise.
	[ -n "$slots_given" ] || slots=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
	set -- "$@" -x "dsrecv -c - -N sum -P $slots -e '$handler'"
	workers=1
fi

# The hub's log (ssh's complaints among it, each line prefixed with the
# worker's name, x1, x2, ...) is shown only if something goes wrong.
dsd -l "$tmp/hub.sock" "$@" </dev/null 2>"$tmp/dsd.log" &
hub=$!

# Jobs sent before any worker holds the name would find no route, so wait
# until every worker has said hello: for 30 s at most, and then go on with
# those there are (the hub keeps starting the others).
started() {
	n=$(dsctl -c "$tmp/hub.sock" names 2>/dev/null |
		awk -F '\t' '$1 == "sum" { print $2 }')
	echo "${n:-0}"
}
deadline=$(($(date +%s) + 30))
while [ "$(started)" -lt "$workers" ]; do
	kill -0 "$hub" 2>/dev/null || exit 3
	if [ "$(date +%s)" -ge "$deadline" ]; then
		n=$(started)
		if [ "$n" -eq 0 ]; then
			echo "checksum.sh: no worker started within 30 s" >&2
			exit 3
		fi
		echo "checksum.sh: $n of $workers workers started; going on with them" >&2
		break
	fi
	sleep 0.1
done

find "$dir" -type f -print0 | dsctl -c "$tmp/hub.sock" map -0 sum
