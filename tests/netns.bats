#!/usr/bin/env bats
# dspeer across several hosts: each member in a network namespace of its
# own, on a veth link to a switch namespace that holds two bridges, one
# for a and b, one for c, d and e, joined by a veth link of their own:
#
#   a (10.77.0.1) --+               +-- c (10.77.0.3)
#                   [left]--[right]-+-- d (10.77.0.4)
#   b (10.77.0.2) --+               +-- e (10.77.0.5)
#
# Taking the link between the bridges down partitions the group.  The
# namespaces are made for each test and deleted afterwards, whatever
# happened; this needs root (CI runs the suite as root).

# shellcheck disable=SC2034,SC2154
bats_require_minimum_version 1.5.0
load helper
load peer

NAMES=(a b c d e)
# How long the loss test runs: the longer, the stronger its claim, but it
# is all waiting, twice in `make check`.
LOSS_SECONDS=15  # and in the name of the test

local_setup() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "netns.bats needs root, to make network namespaces" >&2
		return 1
	fi
	NSP=dspeer-t$$-$RANDOM
	ip netns add "$NSP-sw"
	ip -n "$NSP-sw" link add left type bridge
	ip -n "$NSP-sw" link add right type bridge
	ip -n "$NSP-sw" link add middle-l type veth peer name middle-r
	ip -n "$NSP-sw" link set middle-l master left
	ip -n "$NSP-sw" link set middle-r master right
	local i=1 n side
	for n in "${NAMES[@]}"; do
		case $n in a | b) side=left ;; *) side=right ;; esac
		ip netns add "$NSP-$n"
		ip link add name eth0 netns "$NSP-$n" type veth \
		    peer name "to-$n" netns "$NSP-sw"
		ip -n "$NSP-sw" link set "to-$n" master "$side" up
		ip -n "$NSP-$n" addr add "10.77.0.$i/24" dev eth0
		ip -n "$NSP-$n" link set lo up
		ip -n "$NSP-$n" link set eth0 up
		i=$((i + 1))
	done
	for n in left right middle-l middle-r; do
		ip -n "$NSP-sw" link set "$n" up
	done
}

local_teardown() {
	local ns
	# The peers go at once (a graceful leave may take 3 s on a lossy
	# link), then the namespaces.
	kill_peers
	for ns in $(ip netns list | awk -v p="$NSP-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns"
	done
}

# ns_peer NAME [DSPEER-OPTION...]: start NAME in its namespace, on
# 10.77.0.N:7946, logging its events to $T/NAME.events.
ns_peer() {
	local name=$1 i
	shift
	i=$(($(printf '%s\n' "${NAMES[@]}" | grep -nx "$name" | cut -d : -f 1)))
	PEER_PRE=(ip netns exec "$NSP-$name")
	PEER_LISTEN=10.77.0.$i:7946
	peer "$name" -v -E "echo \"\$DS_EVENT \$DS_PEER\" >>$T/$name.events" "$@"
	PEER_PRE=()
	PEER_LISTEN=
}

# ns_group [DSPEER-OPTION...]: a, b, c, d and e, joining through a, all
# alive everywhere.
ns_group() {
	local n
	ns_peer a "$@"
	for n in b c d e; do
		ns_peer "$n" -j 10.77.0.1:7946 "$@"
	done
	wait_for 15 all_see_all a b c d e
}

# events_of NAME KIND: the peers NAME had a KIND event about, sorted.
events_of() {
	[ -f "$T/$1.events" ] || return 0
	awk -v k="$2" '$1 == k { print $2 }' "$T/$1.events" | sort -u | tr '\n' ' '
}

# lossy NS: 10 % of the datagrams that reach namespace NS are lost.
# netem where the kernel has it; else an nftables rule that drops one
# UDP datagram in ten at random, the same loss by another means.
lossy() {
	if ! ip netns exec "$1" tc qdisc add dev eth0 root netem loss 10% 2>/dev/null; then
		ip netns exec "$1" nft -f - <<-'EOF'
		table inet loss {
			chain input {
				type filter hook input priority 0; policy accept;
				meta l4proto udp numgen random mod 10 0 drop
			}
		}
		EOF
	fi
}

@test "netns: a partition marks each side failed on the other, and heals to all alive" {
	ns_group "${FAST[@]}"
	ip -n "$NSP-sw" link set middle-l down
	wait_for 20 everyone failed c a b
	wait_for 20 everyone failed d a b
	wait_for 20 everyone failed e a b
	wait_for 20 everyone failed a c d e
	wait_for 20 everyone failed b c d e
	# Each side still sees its own side alive.
	everyone alive b a
	everyone alive a b
	everyone alive d c e
	ip -n "$NSP-sw" link set middle-l up
	wait_for 30 all_see_all a b c d e
	for n in a b; do
		eq "$(events_of "$n" fail)" "c d e "
		eq "$(events_of "$n" recover)" "c d e "
	done
	for n in c d e; do
		eq "$(events_of "$n" fail)" "a b "
		eq "$(events_of "$n" recover)" "a b "
	done
	# Messages cross again.
	put a "from=a to=e ack=1 id=healed" "across"
	wait_for 10 has_header e "from=a to=e ack=1 id=healed len=6"
}

@test "netns: 10 % loss on every link for 15 s makes no false death, and messages get through" {
	ns_group
	for n in "${NAMES[@]}"; do
		lossy "$NSP-$n"
	done
	t0=$(ms)
	for i in 1 2 3 4 5; do
		put a "from=a to=* ack=1 id=m$i" "message $i"
	done
	for n in b c d e; do
		wait_for 15 all_five "$n"
	done
	# Proving a negative: the loss goes on for LOSS_SECONDS in all, and
	# nobody may be declared dead meanwhile.
	left=$((LOSS_SECONDS * 1000 - ($(ms) - t0)))
	if [ "$left" -gt 0 ]; then
		sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
	fi
	for n in "${NAMES[@]}"; do
		eq "$(events_of "$n" fail)" ""
		no_line_in "$T/$n.err" "failed"
		sees_all "$n" 5
	done
	# Each message came out once at each member, none was refused.
	for n in b c d e; do
		for i in 1 2 3 4 5; do
			eq "$(count_header "$n" "from=a to=* ack=1 id=m$i len=9")" 1
		done
	done
	no_frames a
	# The loss was real: probes went without their ack.  At one probe a
	# second, five members make some 75 probes in 15 s, each losing its
	# ping or its ack about one time in five: some 14 go indirect, and
	# fewer than 3 would happen about once in ten thousand runs.
	lost=0
	for n in "${NAMES[@]}"; do
		lost=$((lost + $(stat_of "$n" indirect)))
	done
	echo "probes that went indirect: $lost"
	[ "$lost" -ge 3 ]
}

# all_five NAME: NAME has all five messages from a.
all_five() {
	local i
	for i in 1 2 3 4 5; do
		has_header "$1" "from=a to=* ack=1 id=m$i len=9" || return 1
	done
}
