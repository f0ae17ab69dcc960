#!/bin/sh
# Benchmark the peer dspeer against HashiCorp serf, a membership agent of
# the same kind (SWIM over UDP, through its library memberlist): `make
# bench` runs it from the top of the repository, after bench/hub.sh.  See
# bench/RESULTS.md, "Peer", for what it measures.
#
#   1. Failure detection: N members (16 and 64) have converged; one of
#      them is killed with SIGKILL.  The time from the kill until every
#      survivor has marked it failed.  Target: ds/serf at most 0.5.
#   2. Start-up: a seed runs; the N-1 others are started at once, each
#      joining through the seed.  The time until every member sees all N
#      alive.  Target: ds/serf at most 1.
#   3. Loss: 16 members converge, then PEER_LOSS % (default 10) of the
#      packets between them are lost, at random, for PEER_SOAK_SECONDS
#      (default 300).
#      Nobody dies, so every failure declared is a false death.  Target:
#      none for dspeer; serf's count is recorded.  Both groups run at the
#      same time, in the same namespaces, under the same loss.
#   4. Steady state at N members, in the first run of cases 1 and 2, after
#      convergence: bytes sent per member a second over PEER_STEADY_SECONDS
#      (target: ds/serf at most 1), and the resident set per member
#      (target: dspeer at most 1 MiB); also the proportional set size
#      (shared pages divided among the processes that map them) and the
#      CPU time per member, for information.
#
# Every member runs in a network namespace of its own (a "host"), made by
# this script, with one veth to a bridge that has no address; the members
# have addresses 10.211.0.I/24, which exist only inside those namespaces.
# The host side of each veth counts what its member sends (rx_bytes), the
# same way for both programs, UDP and TCP, headers included.  Member I is
# named mI and m1 is the seed; serf listens on port 7946, dspeer on 7947.
# Membership changes are timed from each member's own log: serf's
# "serf: EventMember...: NAME" lines (-log-level info) and dspeer's
# "dspeer: NAME joined|failed|..." lines (-v), each read through
# bench/peer/stamp.c, which prefixes every line with the clock at which it
# came out.  Serf's event handlers are not used: the agent holds member
# events for them for 1 to 3 s to coalesce them, which would be unfair to
# serf.  Runs take turns going first; the medians give the ratios.
#
# Environment: PEER_SIZES (default "16 64") the group sizes of cases 1, 2
# and 4; PEER_RUNS (default 3) runs of cases 1 and 2 per size and
# program; PEER_STEADY_SECONDS (default 60; 0 skips case 4);
# PEER_SOAK_SECONDS (default 300; 0 skips case 3); PEER_SOAK_MEMBERS
# (default 16); PEER_LOSS (default 10) percent; PEER_SIDES (default
# "ds serf"; one of them runs only that half, for trying the script);
# PEER_DS_OPTS (default none) more dspeer options for every member, such
# as "-o probe=500" to try other timings; PEER_KEEP (set: keep the
# members' logs, and say where);
# DS_BIN (default build/bin) where dspeer is; CC (default cc).
#
# It needs root (namespaces).  serf comes from the Debian package serf.
# The loss is made with tc netem on each member's way out where the
# kernel has it, and otherwise with an nftables rule dropping the same
# share of the packets on each member's way in (Debian package nftables);
# either way the sender cannot tell.  Missing packages are installed with
# apt-get.  It exits 1 if a run fails, and 0 otherwise, whether or not a
# target is met: this is a benchmark, not a test.  The default run takes
# 12 to 13 minutes.

sizes=${PEER_SIZES-16 64}
runs=${PEER_RUNS:-3}
steady=${PEER_STEADY_SECONDS:-60}
soak=${PEER_SOAK_SECONDS:-300}
soak_n=${PEER_SOAK_MEMBERS:-16}
loss=${PEER_LOSS:-10}
sides=${PEER_SIDES:-ds serf}
ds_opts=${PEER_DS_OPTS:-}
bin=${DS_BIN:-build/bin}
obj=build/bench
net=10.211.0                    # members are $net.I/24
settle=3                        # seconds between convergence and the next step
conv_limit=90                   # seconds for N members to converge
detect_limit=120                # seconds for a death to reach every survivor

die() {
	echo "peer.sh: $*" >&2
	exit 1
}

# number NAME VALUE: VALUE must be a whole number (0 allowed).
number() {
	case $2 in
	'' | *[!0-9]*) die "$1 must be a whole number, not '$2'" ;;
	esac
}
number PEER_RUNS "$runs"
number PEER_STEADY_SECONDS "$steady"
number PEER_SOAK_SECONDS "$soak"
number PEER_SOAK_MEMBERS "$soak_n"
number PEER_LOSS "$loss"
[ "$runs" -gt 0 ] || die "PEER_RUNS must be at least 1"
[ "$loss" -le 100 ] || die "PEER_LOSS is a percentage, not $loss"
most=0
for n in $sizes $soak_n; do
	number "a group size" "$n"
	if [ "$n" -lt 3 ] || [ "$n" -gt 250 ]; then
		die "a group has 3 to 250 members, not $n"
	fi
	[ "$n" -gt "$most" ] && most=$n
done
for s in $sides; do
	case $s in
	ds | serf) ;;
	*) die "PEER_SIDES holds ds and/or serf, not '$s'" ;;
	esac
done
[ "$(id -u)" = 0 ] || die "network namespaces need root"
case $(date +%s%N) in
*N) die "date +%s%N does not give nanoseconds here (GNU date needed)" ;;
esac
command -v ip >/dev/null 2>&1 || die "no ip command (Debian package iproute2)"

has() {
	case " $sides " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# apt_install PACKAGE: install a Debian package.
apt_install() {
	echo "installing $1 with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null; } ||
		die "apt-get install $1 failed"
}

if has ds; then
	[ -x "$bin/dspeer" ] || die "no $bin/dspeer: run make first"
fi
if has serf; then
	command -v serf >/dev/null 2>&1 || apt_install serf
	command -v serf >/dev/null 2>&1 ||
		die "serf is still missing after apt-get install"
	serf_version=$(serf version 2>/dev/null | head -n 1)
fi

mkdir -p "$obj" || exit 1
# shellcheck disable=SC2086
${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow \
    -Wmissing-prototypes -Wstrict-prototypes -O2 -o "$obj/stamp" \
    bench/peer/stamp.c || die "cannot build $obj/stamp"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-peer.XXXXXX") || exit 1
stamp=$tmp/stamp
cp "$obj/stamp" "$stamp" || die "cannot copy $obj/stamp"
if has ds; then
	# A copy, so that a make during the run cannot change the program.
	cp "$bin/dspeer" "$tmp/dspeer" || die "cannot copy $bin/dspeer"
	dspeer=$tmp/dspeer
	if "$dspeer" </dev/null 2>&1 | grep -q 'not yet written'; then
		die "$bin/dspeer is not written yet"
	fi
fi

# The names of what this script makes carry its pid, so that two runs
# cannot meet, and the exit trap removes exactly those.
tag=dpb$$                       # at most 10 characters: interface names
nsp=ds-peer-bench-$$-           # namespace I is $nsp$I
bridge=${tag}br
made=0                          # namespaces made so far
pids=                           # every member and stamp process running

stop_all() {
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	# shellcheck disable=SC2086
	[ -n "$pids" ] && wait $pids 2>/dev/null
	pids=
}

cleanup() {
	stop_all
	i=1
	while [ "$i" -le "$made" ]; do
		ip netns del "$nsp$i" 2>/dev/null
		i=$((i + 1))
	done
	ip link del "$bridge" 2>/dev/null
	if [ -n "${PEER_KEEP:-}" ]; then
		rm -f "$tmp"/*/fifo.*
		echo "peer.sh: the logs are in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---- the network ----

# mac I: the Ethernet address of member I (net_up's awk makes the same).
mac() {
	printf '02:00:0a:d3:%02x:%02x\n' $(($1 / 256)) $(($1 % 256))
}

# net_up COUNT: namespaces 1 to COUNT, each with eth0 at $net.I on the
# bridge, loopback up, and no IPv6, whose chatter would count as traffic.
# The neighbour tables are filled in advance with permanent entries:
# learnt ones are counted against one limit for all namespaces together
# (net.ipv4.neigh.default.gc_thresh3, 1024), which 64 members that talk
# to each other outgrow, and the connections then fail with "no route to
# host".  Without ARP, that traffic is left out of both sides' counts.
net_up() {
	ip link add "$bridge" type bridge || die "cannot make bridge $bridge"
	echo 1 >"/proc/sys/net/ipv6/conf/$bridge/disable_ipv6" 2>/dev/null
	ip link set "$bridge" up || die "cannot bring $bridge up"
	while [ "$made" -lt "$1" ]; do
		nu_i=$((made + 1))
		nu_ns=$nsp$nu_i
		ip netns add "$nu_ns" || die "cannot make namespace $nu_ns"
		made=$nu_i
		ip netns exec "$nu_ns" sh -c '
		    echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
		    echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
		    ' 2>/dev/null
		ip link add "${tag}h$nu_i" type veth peer name eth0 \
		    netns "$nu_ns" || die "cannot make a veth into $nu_ns"
		echo 1 >"/proc/sys/net/ipv6/conf/${tag}h$nu_i/disable_ipv6" \
		    2>/dev/null
		if ! { ip link set "${tag}h$nu_i" master "$bridge" up &&
		    ip -n "$nu_ns" link set eth0 address "$(mac "$nu_i")" &&
		    ip -n "$nu_ns" link set lo up &&
		    ip -n "$nu_ns" addr add "$net.$nu_i/24" dev eth0 &&
		    ip -n "$nu_ns" link set eth0 up; }; then
			die "cannot set up the network of $nu_ns"
		fi
	done
	nu_i=1
	while [ "$nu_i" -le "$made" ]; do
		awk -v n="$made" -v i="$nu_i" -v net="$net" 'BEGIN {
			for (j = 1; j <= n; j++)
				if (j != i)
					printf "neigh replace %s.%d lladdr " \
					    "02:00:0a:d3:%02x:%02x dev eth0 " \
					    "nud permanent\n", net, j,
					    int(j / 256), j % 256
		}' | ip -n "$nsp$nu_i" -batch - ||
			die "cannot fill the neighbour table of $nsp$nu_i"
		nu_i=$((nu_i + 1))
	done
}

# sent COUNT: the bytes members 1 to COUNT have sent, all told.
sent() {
	se_i=1
	se_total=0
	while [ "$se_i" -le "$1" ]; do
		se_b=$(cat "/sys/class/net/${tag}h$se_i/statistics/rx_bytes")
		se_total=$((se_total + se_b))
		se_i=$((se_i + 1))
	done
	echo "$se_total"
}

# loss_on COUNT: $loss % of the packets between members 1 to COUNT are
# lost, silently: by netem as they leave, or by nftables as they arrive
# (an nftables drop on the way out would fail the sender's sendto(2) and
# connect(2) with EPERM, which a real loss does not).
loss_on() {
	lo_i=1
	while [ "$lo_i" -le "$1" ]; do
		if [ "$loss_by" = netem ]; then
			ip netns exec "$nsp$lo_i" tc qdisc add dev eth0 root netem \
			    loss "$loss%"
		else
			ip netns exec "$nsp$lo_i" nft -f - <<EOF
table netdev dspeerbench {
	chain in {
		type filter hook ingress device "eth0" priority 0;
		numgen random mod 100 < $loss counter drop
	}
}
EOF
		fi || die "cannot set the loss in $nsp$lo_i"
		lo_i=$((lo_i + 1))
	done
}

# dropped COUNT: the packets that members 1 to COUNT lost, all told.
dropped() {
	dr_i=1
	while [ "$dr_i" -le "$1" ]; do
		if [ "$loss_by" = netem ]; then
			ip netns exec "$nsp$dr_i" tc -s qdisc show dev eth0 |
			    sed -n 's/.*(dropped \([0-9]*\).*/\1/p'
		else
			ip netns exec "$nsp$dr_i" nft list table netdev dspeerbench |
			    sed -n 's/.*counter packets \([0-9]*\) .*/\1/p'
		fi
		dr_i=$((dr_i + 1))
	done | awk '{ s += $1 } END { print s + 0 }'
}

# packets COUNT: the packets members 1 to COUNT have sent, all told.
packets() {
	pk_i=1
	pk_total=0
	while [ "$pk_i" -le "$1" ]; do
		pk_b=$(cat "/sys/class/net/${tag}h$pk_i/statistics/rx_packets")
		pk_total=$((pk_total + pk_b))
		pk_i=$((pk_i + 1))
	done
	echo "$pk_total"
}

# ---- the members ----

# start SIDE I DIR: member I of SIDE (ds or serf) in namespace I, joining
# through member 1 unless it is member 1, its log stamped into
# DIR/SIDE.mI; its pid in pid_SIDE_I.
start() {
	st_side=$1
	st_i=$2
	st_dir=$3
	st_f=$st_dir/fifo.$st_side.$st_i
	mkfifo "$st_f" || die "cannot make $st_f"
	"$stamp" <"$st_f" >"$st_dir/$st_side.m$st_i" &
	pids="$pids $!"
	if [ "$st_side" = serf ]; then
		if [ "$st_i" -eq 1 ]; then
			set --
		else
			set -- -join "$net.1:7946"
		fi
		ip netns exec "$nsp$st_i" serf agent -node "m$st_i" \
		    -bind "$net.$st_i:7946" -rpc-addr 127.0.0.1:7373 \
		    -log-level info "$@" </dev/null >"$st_f" 2>&1 &
	elif [ "$st_i" -eq 1 ]; then
		# shellcheck disable=SC2086
		ip netns exec "$nsp$st_i" "$dspeer" -n "m$st_i" \
		    -l "$net.$st_i:7947" -v -1 $ds_opts </dev/null \
		    >"$st_dir/ds.seed" 2>"$st_f" &
	else
		# shellcheck disable=SC2086
		ip netns exec "$nsp$st_i" "$dspeer" -n "m$st_i" \
		    -l "$net.$st_i:7947" -v -j "$net.1:7947" $ds_opts \
		    </dev/null >/dev/null 2>"$st_f" &
	fi
	eval "pid_${st_side}_$st_i=\$!"
	pids="$pids $!"
}

pid_of() {
	eval "echo \$pid_$1_$2"
}

# The awk that reads the stamped logs: ev and who from a line, for both.
# shellcheck disable=SC2016
parse='
function parse(   k) {
	ev = ""
	who = ""
	if ($2 == "dspeer:") {
		who = $3
		if ($4 == "joined") ev = "join"
		else if ($4 == "failed") ev = "fail"
		else if ($4 == "left") ev = "leave"
		else if ($4 == "recovered") ev = "join"
	} else {
		for (k = 3; k < NF; k++)
			if ($(k - 1) == "serf:" && $k ~ /^EventMember[A-Za-z]*:$/) {
				who = $(k + 1)
				if ($k == "EventMemberJoin:") ev = "join"
				else if ($k == "EventMemberFailed:") ev = "fail"
				else if ($k == "EventMemberLeave:") ev = "leave"
				break
			}
	}
	if (who !~ /^[A-Za-z0-9._-]+$/) ev = ""
}
# self(): the member whose log this is, from the name DIR/SIDE.mI.
function self(   s) {
	s = FILENAME
	sub(/.*\./, "", s)
	return s
}
'

# logs SIDE N DIR [SKIP]: sets the positional parameters (in the caller,
# through eval "$(logs ...)") to the stamped logs of members 1 to N of
# SIDE, member SKIP left out.  The lines refer to $lg_dir, which the
# caller sets to DIR.
logs() {
	echo 'set --'
	lg_i=1
	while [ "$lg_i" -le "$2" ]; do
		# shellcheck disable=SC2016
		[ "$lg_i" = "${4:-0}" ] ||
			echo 'set -- "$@" "$lg_dir/'"$1"'.m'"$lg_i"'"'
		lg_i=$((lg_i + 1))
	done
}

# converged SIDE N DIR: "K T": K of the N members see all N alive, the
# last of them since time T (0 if none).
converged() {
	cv_n=$2
	# shellcheck disable=SC2034
	lg_dir=$3
	eval "$(logs "$1" "$2" "$3")"
	# A member just started may have no log yet: leave it out.
	for cv_f; do
		shift
		[ -e "$cv_f" ] && set -- "$@" "$cv_f"
	done
	[ "$#" -gt 0 ] || { echo "0 0"; return 0; }
	awk -v n="$cv_n" "$parse"'
	{
		parse()
		if (ev == "" || who == self()) next
		f = FILENAME
		if (ev == "join" && !((f, who) in up)) {
			up[f, who] = 1
			count[f]++
		} else if (ev != "join" && (f, who) in up) {
			delete up[f, who]
			count[f]--
		}
		if (count[f] == n - 1 && !(f in at))
			at[f] = $1
	}
	END {
		k = 0
		t = 0
		for (i = 1; i < ARGC; i++)
			if (ARGV[i] in at) {
				k++
				if (at[ARGV[i]] + 0 > t) t = at[ARGV[i]] + 0
			}
		printf "%d %.6f\n", k, t
	}' "$@"
}

# detected SIDE N DIR I T0: "K T": K of the survivors have marked member
# I failed since T0, the last of them at time T (0 if none).
detected() {
	dt_v=m$4
	dt_t0=$5
	# shellcheck disable=SC2034
	lg_dir=$3
	eval "$(logs "$1" "$2" "$3" "$4")"
	awk -v v="$dt_v" -v t0="$dt_t0" "$parse"'
	$1 + 0 >= t0 + 0 {
		parse()
		if (ev == "fail" && who == v && !(FILENAME in at))
			at[FILENAME] = $1
	}
	END {
		k = 0
		t = 0
		for (f in at) {
			k++
			if (at[f] + 0 > t) t = at[f] + 0
		}
		printf "%d %.6f\n", k, t
	}' "$@"
}

# deaths SIDE N DIR T0 T1: "D B": D failures declared between T0 and T1,
# by all members together, and B of them seen alive again by the member
# that declared it.
deaths() {
	de_t0=$4
	de_t1=$5
	# shellcheck disable=SC2034
	lg_dir=$3
	eval "$(logs "$1" "$2" "$3")"
	awk -v t0="$de_t0" -v t1="$de_t1" "$parse"'
	$1 + 0 >= t0 + 0 && $1 + 0 <= t1 + 0 {
		parse()
		if (ev == "fail") {
			dead++
			gone[FILENAME, who] = 1
		} else if (ev == "join" && (FILENAME, who) in gone) {
			back++
			delete gone[FILENAME, who]
		}
	}
	END { printf "%d %d\n", dead, back }' "$@"
}

now() {
	date +%s.%N
}

# secs T0 [T1]: seconds from T0 to T1 (default now), three decimals.
secs() {
	awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.3f\n", b - a }'
}

# mem_of PID: "RSS PSS" of process PID in KiB: its resident set, and
# its proportional share of it (a page that N processes map counts 1/N).
mem_of() {
	awk '$1 == "Rss:" { r = $2 } $1 == "Pss:" { p = $2 }
	    END { print r + 0, p + 0 }' "/proc/$1/smaps_rollup"
}

ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)

# cpu SIDE N: the CPU seconds members 1 to N of SIDE have used, all told.
cpu() {
	cp_side=$1
	cp_n=$2
	set --
	cp_i=1
	while [ "$cp_i" -le "$cp_n" ]; do
		set -- "$@" "/proc/$(pid_of "$cp_side" "$cp_i")/stat"
		cp_i=$((cp_i + 1))
	done
	awk -v t="$ticks" '{ s += $14 + $15 } END { printf "%.3f\n", s / t }' \
	    "$@"
}

# mem SIDE N: "RSS PSS", the averages over members 1 to N of SIDE, KiB.
mem() {
	mm_i=1
	while [ "$mm_i" -le "$2" ]; do
		mem_of "$(pid_of "$1" "$mm_i")"
		mm_i=$((mm_i + 1))
	done | awk '{ r += $1; p += $2 } END { printf "%.0f %.0f\n", r / NR, p / NR }'
}

# running SIDE N: how many of members 1 to N of SIDE still run.
running() {
	rn_i=1
	rn_k=0
	while [ "$rn_i" -le "$2" ]; do
		kill -0 "$(pid_of "$1" "$rn_i")" 2>/dev/null && rn_k=$((rn_k + 1))
		rn_i=$((rn_i + 1))
	done
	echo "$rn_k"
}

# gone SIDE N DIR WHEN: die naming the first member of SIDE that exited,
# with the end of its log.
gone() {
	go_i=1
	while [ "$go_i" -le "$2" ]; do
		if ! kill -0 "$(pid_of "$1" "$go_i")" 2>/dev/null; then
			tail -n 5 "$3/$1.m$go_i" | cut -d' ' -f2- >&2
			die "$1 member m$go_i exited $4"
		fi
		go_i=$((go_i + 1))
	done
	die "$1: a member exited $4"
}

# wait_seed SIDE DIR: until member 1 of SIDE is up, 10 s at most.
wait_seed() {
	ws_deadline=$(($(date +%s) + 10))
	while :; do
		if [ "$1" = serf ]; then
			grep -q 'EventMemberJoin: m1 ' "$2/serf.m1" && return 0
		else
			grep -q . "$2/ds.seed" 2>/dev/null && return 0
		fi
		kill -0 "$(pid_of "$1" 1)" 2>/dev/null ||
			die "$1 member m1 exited: $(tail -n 3 "$2/$1.m1" | cut -d' ' -f2-)"
		[ "$(date +%s)" -lt "$ws_deadline" ] ||
			die "$1 member m1 was not up within 10 s"
		sleep 0.05
	done
}

# group SIDE N DIR: member 1 of SIDE, then the N-1 others at once; waits
# until every member sees all N alive.  Sets conv to the seconds from
# starting the others until then, or "-" past conv_limit (with a line).
group() {
	gr_side=$1
	gr_n=$2
	gr_dir=$3
	mkdir -p "$gr_dir" || exit 1
	start "$gr_side" 1 "$gr_dir"
	wait_seed "$gr_side" "$gr_dir"
	gr_t0=$(now)
	gr_i=2
	while [ "$gr_i" -le "$gr_n" ]; do
		start "$gr_side" "$gr_i" "$gr_dir"
		gr_i=$((gr_i + 1))
	done
	gr_deadline=$(($(date +%s) + conv_limit))
	while :; do
		# shellcheck disable=SC2046
		set -- $(converged "$gr_side" "$gr_n" "$gr_dir")
		if [ "$1" -eq "$gr_n" ]; then
			conv=$(secs "$gr_t0" "$2")
			return 0
		fi
		if [ "$(date +%s)" -ge "$gr_deadline" ]; then
			echo "    $gr_side: only $1 of $gr_n members saw all alive" \
			    "within $conv_limit s" >&2
			conv=-
			return 0
		fi
		[ "$(running "$gr_side" "$gr_n")" -eq "$gr_n" ] ||
			gone "$gr_side" "$gr_n" "$gr_dir" "while the group formed"
		sleep 0.2
	done
}

# ---- one run of cases 1, 2 (and 4) ----

# run SIDE N STEADY: a fresh group of N; writes to $tmp/result
# "CONV DETECT BYTES RSS PSS CPU": the seconds to converge and to detect the
# death of member N, and per member, over STEADY seconds in between,
# bytes sent a second, the RSS and PSS in KiB and the CPU in ms a second ("-"
# without STEADY, or when a step did not finish in time).
run() {
	ru_side=$1
	ru_n=$2
	ru_dir=$tmp/run.$ru_side.$ru_n
	rm -rf "$ru_dir"
	group "$ru_side" "$ru_n" "$ru_dir"
	ru_bps=-
	ru_mem="- -"
	ru_cpu=-
	ru_det=-
	if [ "$conv" != - ]; then
		sleep "$settle"
		if [ "$3" -gt 0 ]; then
			ru_b0=$(sent "$ru_n")
			ru_c0=$(cpu "$ru_side" "$ru_n")
			ru_w0=$(now)
			sleep "$3"
			ru_b1=$(sent "$ru_n")
			ru_c1=$(cpu "$ru_side" "$ru_n")
			ru_w=$(secs "$ru_w0")
			ru_mem=$(mem "$ru_side" "$ru_n")
			[ "$(running "$ru_side" "$ru_n")" -eq "$ru_n" ] ||
				gone "$ru_side" "$ru_n" "$ru_dir" "in the steady state"
			ru_bps=$(awk -v a="$ru_b0" -v b="$ru_b1" -v n="$ru_n" \
			    -v w="$ru_w" 'BEGIN { printf "%.0f\n", (b - a) / n / w }')
			ru_cpu=$(awk -v a="$ru_c0" -v b="$ru_c1" -v n="$ru_n" \
			    -v w="$ru_w" \
			    'BEGIN { printf "%.2f\n", (b - a) * 1000 / n / w }')
		fi
		ru_t0=$(now)
		kill -9 "$(pid_of "$ru_side" "$ru_n")"
		ru_deadline=$(($(date +%s) + detect_limit))
		while :; do
			# shellcheck disable=SC2046
			set -- $(detected "$ru_side" "$ru_n" "$ru_dir" "$ru_n" \
			    "$ru_t0")
			if [ "$1" -eq $((ru_n - 1)) ]; then
				ru_det=$(secs "$ru_t0" "$2")
				break
			fi
			if [ "$(date +%s)" -ge "$ru_deadline" ]; then
				echo "    $ru_side: only $1 of $((ru_n - 1)) survivors" \
				    "marked m$ru_n failed within $detect_limit s" >&2
				break
			fi
			sleep 0.2
		done
	fi
	stop_all
	echo "$conv $ru_det $ru_bps $ru_mem $ru_cpu" >"$tmp/result"
}

# show "CONV DETECT BYTES RSS PSS CPU": one run's figures, for a line.
show() {
	# shellcheck disable=SC2086
	set -- $1
	printf 'all alive after %s s, failure seen by all after %s s' "$1" "$2"
	[ "$3" = - ] ||
		printf ';\n        per member: %s B/s, RSS %s KiB, PSS %s KiB, CPU %s ms/s' \
		    "$3" "$4" "$5" "$6"
}

# median: of the numbers on stdin, one a line ("-" when none).
median() {
	sort -n | awk '{ v[NR] = $1 }
	    END {
		if (NR == 0) print "-"
		else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	    }'
}

# col N FILE: the median of column N of FILE, runs that gave "-" left out.
col() {
	awk -v n="$1" '$n != "-" { print $n }' "$2" | median
}

# fig N FILE UNIT: the median of column N of FILE with its unit, or "-".
fig() {
	set -- "$(col "$1" "$2")" "$3"
	if [ "$1" = - ]; then
		echo -
	else
		echo "$1 $2"
	fi
}

# ratio A B: A / B with two decimals and an x, or "-".
ratio() {
	case "$1:$2" in
	-:* | *:- | *:0) echo - ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx\n", a / b }' ;;
	esac
}

# verdict "<= 0.5" VALUE [N FILE...]: met, MISSED, or "-" without a
# value; MISSED too when a run in one of the FILEs has no figure in
# column N (it did not finish in time).
verdict() {
	vd_test=$1
	vd_value=${2%x}
	if [ "$#" -ge 4 ]; then
		vd_col=$3
		shift 3
		if [ -n "$(awk -v n="$vd_col" '$n == "-"' "$@")" ]; then
			echo "MISSED (a run did not finish)"
			return
		fi
	fi
	if [ "$vd_value" = - ]; then
		echo -
		return
	fi
	awk -v r="$vd_value" "BEGIN { print (r $vd_test) ? \"met\" : \"MISSED\" }"
}

summary=
# row CASE DS SERF RATIO TARGET RESULT
row() {
	summary="$summary$(printf '  %-44s %14s %14s %7s %8s %s' "$@")
"
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "peer benchmark: $runs runs per case, medians; sides: $sides;" \
    "commit $commit"
[ -n "$ds_opts" ] && echo "dspeer options: $ds_opts"
[ -n "${serf_version:-}" ] && echo "serf: $serf_version" \
    "($(command -v serf), the defaults: -profile lan)"
need=$most
net_up "$need"
echo "made $made network namespaces on bridge $bridge"

# ---- cases 1, 2 and 4 ----
for n in $sizes; do
	echo
	if [ "$steady" -gt 0 ]; then
		echo "$n members: start together (case 2), steady state for" \
		    "$steady s in run 1 (case 4), kill -9 m$n (case 1)"
	else
		echo "$n members: start together (case 2), kill -9 m$n (case 1)"
	fi
	: >"$tmp/case.ds.$n"
	: >"$tmp/case.serf.$n"
	i=1
	while [ "$i" -le "$runs" ]; do
		if [ $((i % 2)) -eq 1 ]; then
			order="ds serf"
		else
			order="serf ds"
		fi
		w=0
		[ "$i" -eq 1 ] && w=$steady
		line="    run $i/$runs:"
		for s in $order; do
			has "$s" || continue
			run "$s" "$n" "$w"
			cat "$tmp/result" >>"$tmp/case.$s.$n"
			line="$line
      $s: $(show "$(cat "$tmp/result")")"
		done
		echo "$line"
		i=$((i + 1))
	done
	f=$tmp/case.ds.$n
	g=$tmp/case.serf.$n
	r=$(ratio "$(col 2 "$f")" "$(col 2 "$g")")
	row "1. kill -9, $n members: failed everywhere" "$(fig 2 "$f" s)" \
	    "$(fig 2 "$g" s)" "$r" "<= 0.5" "$(verdict '<= 0.5' "$r" 2 "$f" "$g")"
	r=$(ratio "$(col 1 "$f")" "$(col 1 "$g")")
	row "2. start, $n members: all see all alive" "$(fig 1 "$f" s)" \
	    "$(fig 1 "$g" s)" "$r" "<= 1" "$(verdict '<= 1' "$r" 1 "$f" "$g")"
	if [ "$steady" -gt 0 ]; then
		r=$(ratio "$(col 3 "$f")" "$(col 3 "$g")")
		row "4. steady, $n members: bytes/s per member" \
		    "$(fig 3 "$f" B/s)" "$(fig 3 "$g" B/s)" "$r" "<= 1" \
		    "$(verdict '<= 1' "$r")"
		r=$(ratio "$(col 4 "$f")" "$(col 4 "$g")")
		row "4. steady, $n members: RSS per member" "$(fig 4 "$f" KiB)" \
		    "$(fig 4 "$g" KiB)" "$r" "<= 1 MiB" \
		    "$(verdict '<= 1024' "$(col 4 "$f")")"
		r=$(ratio "$(col 5 "$f")" "$(col 5 "$g")")
		row "   steady, $n members: PSS per member" "$(fig 5 "$f" KiB)" \
		    "$(fig 5 "$g" KiB)" "$r" "" "(info)"
		r=$(ratio "$(col 6 "$f")" "$(col 6 "$g")")
		row "   steady, $n members: CPU per member" "$(fig 6 "$f" ms/s)" \
		    "$(fig 6 "$g" ms/s)" "$r" "" "(info)"
	fi
done

# ---- case 3 ----
if [ "$soak" -gt 0 ]; then
	echo
	if ip netns exec "${nsp}1" tc qdisc add dev eth0 root netem loss 0% \
	    2>/dev/null; then
		ip netns exec "${nsp}1" tc qdisc del dev eth0 root
		loss_by=netem
	else
		command -v nft >/dev/null 2>&1 || apt_install nftables
		command -v nft >/dev/null 2>&1 ||
			die "no netem in this kernel, and no nft to make the loss"
		loss_by=nftables
	fi
	echo "$soak_n members, $loss % of the packets lost" \
	    "($loss_by), for $soak s: false deaths (case 3)"
	d=$tmp/soak
	for s in ds serf; do
		has "$s" || continue
		group "$s" "$soak_n" "$d"
		[ "$conv" != - ] || die "$s did not converge before the loss"
		echo "    $s: $soak_n members all alive after $conv s"
	done
	p0=$(packets "$soak_n")
	loss_on "$soak_n"
	t0=$(now)
	left=$soak
	while [ "$left" -gt 0 ]; do
		step=60
		[ "$left" -lt "$step" ] && step=$left
		sleep "$step"
		left=$((left - step))
		line="    after $((soak - left)) s:"
		for s in ds serf; do
			has "$s" || continue
			# shellcheck disable=SC2046
			set -- $(deaths "$s" "$soak_n" "$d" "$t0" "$(now)")
			line="$line $s $1 failures declared ($2 seen alive again);"
		done
		echo "${line%;}"
	done
	t1=$(now)
	p1=$(packets "$soak_n")
	lost=$(dropped "$soak_n")
	# netem's losses never reach the bridge; nftables' do.
	[ "$loss_by" = netem ] && p1=$((p1 + lost))
	awk -v l="$lost" -v p="$((p1 - p0))" 'BEGIN {
		printf "    lost %d of %d packets sent, %.1f %%\n", l, p,
		    (p > 0) ? 100 * l / p : 0
	}'
	for s in ds serf; do
		has "$s" || continue
		# shellcheck disable=SC2046
		set -- $(deaths "$s" "$soak_n" "$d" "$t0" "$t1")
		eval "fd_$s=\$1"
		[ "$(running "$s" "$soak_n")" -eq "$soak_n" ] ||
			gone "$s" "$soak_n" "$d" "during the soak"
	done
	stop_all
	# shellcheck disable=SC2154
	row "3. $loss % loss, $soak_n members, $soak s: false deaths" \
	    "${fd_ds:--}" "${fd_serf:--}" "" "0 (ds)" \
	    "$(verdict '== 0' "${fd_ds:--}")"
fi

# ---- summary ----
echo
echo "summary (commit $commit, $runs runs, medians; ${serf_version:-no serf})"
printf '  %-44s %14s %14s %7s %8s %s\n' case ds serf ratio target result
printf '%s' "$summary"
