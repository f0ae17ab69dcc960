#!/bin/sh
# The resident memory of one dspeer member when the program is linked
# statically against musl, which maps no shared libc: `make bench` runs it
# after bench/peer.sh, and it runs alone from the top of the repository.
# 16 members join on loopback (ports the system picks); after 10 s of
# steady state the script prints their mean Rss (smaps_rollup) against the
# 1 MiB target.  It needs musl-gcc (Debian package musl-tools).

n=${PEER_RSS_MEMBERS:-16}
settle=${PEER_RSS_SECONDS:-10}

if ! command -v musl-gcc >/dev/null 2>&1; then
	echo "peer-rss: musl-gcc is missing (Debian package musl-tools)" >&2
	exit 1
fi
make -s O=build/musl CC=musl-gcc LDFLAGS=-static build/musl/bin/dspeer ||
	exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-rss.XXXXXX") || exit 1
pids=
cleanup() {
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$pids" ] && kill $pids 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

d=build/musl/bin/dspeer
$d -n rss1 -l 127.0.0.1:0 -1 </dev/null >"$tmp/seed" 2>/dev/null &
pids=$!
i=0
while [ ! -s "$tmp/seed" ] && [ "$i" -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
seed=$(head -n 1 "$tmp/seed")
[ -n "$seed" ] || { echo "peer-rss: the seed did not start" >&2; exit 1; }
i=2
while [ "$i" -le "$n" ]; do
	$d -n "rss$i" -l 127.0.0.1:0 -j "$seed" </dev/null >/dev/null 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
sleep "$settle"
for p in $pids; do
	awk '/^Rss:/ { print $2 }' "/proc/$p/smaps_rollup"
done | awk -v n="$n" '
	{ s += $1; k++ }
	END {
		if (k != n) { print "peer-rss: only " k " of " n " members ran"; exit 1 }
		rss = s / k
		printf "  5. static musl build, %d members: RSS per member %8.0f KiB" \
		    "   target <= 1024 KiB %s\n", k, rss,
		    rss <= 1024 ? "met" : "MISSED"
	}'
