#!/usr/bin/env bash
# Benchmark the job farm (dsd -x workers over ssh, fed by dsctl map)
# against GNU parallel --sshlogin with ssh ControlMaster (-M), on the same
# hosts with the same slots, side by side in one run: `make bench` runs it
# from the top of the repository.  See bench/RESULTS.md, "Jobs".
#
#   1. JOBS_ECHO (default 2000) trivial jobs, each echoing its number.
#      Target: ds at most 0.05x parallel's wall time.
#   2. JOBS_SLEEP (default 200) jobs of `sleep 0.5`.  Target: ds at most
#      1.05x the ideal (jobs x 0.5 s / slots), and at most parallel's.
#      For reference, the time one slot's share of the handlers takes when
#      run in a row here without ds: the ideal plus what starting their
#      processes costs on this machine.
#
# The hosts are 4 network namespaces with an sshd each, made by
# tests/farm.bash (10.78.0.0/24, which exists only inside them), 2 slots
# each.  ds: one dsd with 4 -x workers, `ssh hI dsrecv -c - -N work -P 2
# -e HANDLER`, and `dsctl map work` reading the job list; parallel:
# `parallel -k -M -S 2/h1,...,2/h4 CMD {}`.  Both keep input order and
# both outputs are checked against the expected ones.  Each ds run is
# timed twice: "cold" from starting dsd (its workers' ssh logins
# included, as parallel's are) to the last output, and "warm" for the
# map alone, with the workers already connected, which is how a farm that
# stays up is used.  The ratio to parallel is taken on the cold time, the
# ratio to the ideal on both.  ds runs JOBS_RUNS times (default 3) and its
# medians count; parallel, which takes minutes for the first case, runs
# JOBS_PAR_RUNS times (default 1), printing its progress every 15 s.
#
# Environment: JOBS_RUNS, JOBS_PAR_RUNS, JOBS_ECHO, JOBS_SLEEP (above);
# JOBS_CASES (default "echo sleep": both cases; one of them runs that one);
# DS_BIN (default build/bin) where the programs are.  It needs root and
# bash; GNU parallel comes from the Debian package parallel, installed
# when missing.  It exits 1 if a run fails or gives wrong output, and 0
# otherwise, whether or not a target is met: this is a benchmark, not a
# test.

if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi

runs=${JOBS_RUNS:-3}
par_runs=${JOBS_PAR_RUNS:-1}
n_echo=${JOBS_ECHO:-2000}
n_sleep=${JOBS_SLEEP:-200}
cases=${JOBS_CASES:-echo sleep}
hosts=4
slots=2
nap=0.5

die() {
	echo "jobs.sh: $*" >&2
	exit 1
}

positive() {
	case $2 in
	'' | *[!0-9]* | 0) die "$1 must be a positive number, not '$2'" ;;
	esac
}
positive JOBS_RUNS "$runs"
positive JOBS_PAR_RUNS "$par_runs"
positive JOBS_ECHO "$n_echo"
positive JOBS_SLEEP "$n_sleep"
for c in $cases; do
	case $c in
	echo | sleep) ;;
	*) die "JOBS_CASES holds echo and/or sleep, not '$c'" ;;
	esac
done
has() {
	case " $cases " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}
[ "$(id -u)" = 0 ] || die "network namespaces need root"
command -v ip >/dev/null 2>&1 || die "no ip command (Debian package iproute2)"
[ -x /usr/sbin/sshd ] || die "no /usr/sbin/sshd (Debian package openssh-server)"
case $(date +%s%N) in
*N) die "date +%s%N does not give nanoseconds here (GNU date needed)" ;;
esac
DS_BIN=${DS_BIN:-build/bin}
for p in dsd dsctl dsrecv; do
	[ -x "$DS_BIN/$p" ] || die "no $DS_BIN/$p: run make first"
done

if ! command -v parallel >/dev/null 2>&1; then
	echo "installing parallel with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q parallel >/dev/null 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q parallel >/dev/null; } ||
		die "apt-get install parallel failed"
fi
parallel --version 2>/dev/null | grep -q 'GNU parallel' ||
	die "the parallel on PATH is not GNU parallel (Debian package parallel)"
par_version=$(parallel --version | head -n 1 | sed 's/^GNU parallel //')

T=$(mktemp -d "${TMPDIR:-/tmp}/ds-jobs.XXXXXX") || exit 1
# Measure copies, so that a make during the run cannot change the programs
# half-way through; the hosts run them from there too.
if ! mkdir "$T/bin" || ! cp "$DS_BIN/dsd" "$DS_BIN/dsctl" "$DS_BIN/dsrecv" "$T/bin/"; then
	rm -rf "$T"
	die "cannot copy the programs"
fi
DS_BIN=$T/bin
PATH=$DS_BIN:$PATH
export PATH DS_BIN

# shellcheck source=tests/farm.bash disable=SC1091
. "$(dirname "$0")/../tests/farm.bash"
cleanup() {
	farm_down
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

ms() {
	echo $(($(date +%s%N) / 1000000))
}

# median: of the numbers on stdin, one a line.
median() {
	sort -n | awk '{ v[NR] = $1 }
	    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

calc() {
	local e=$1
	shift
	awk "$@" "BEGIN { print $e }" </dev/null
}

verdict() {
	calc "(r $1) ? \"met\" : \"MISSED\"" -v r="$2"
}

secs() {
	calc 'sprintf("%.2f", m / 1000)' -v m="$1"
}

# ds_run HANDLER JOBS: one cold run: dsd and its workers started, the jobs
# mapped, dsd stopped; "cold_ms warm_ms" in $T/result.
ds_run() {
	local handler=$1 jobs=$2 i x=() t0 t1 t2
	for (( i = 1; i <= hosts; i++ )); do
		x+=(-x "$(farm_x "$i" "$slots" "$handler")")
	done
	t0=$(ms)
	farm_hub "${x[@]}" || die "dsd did not start"
	farm_wait 30 farm_has_holders work "$hosts" ||
		die "the workers did not all connect: $(tail -n 5 "$T/dsd.err")"
	t1=$(ms)
	seq "$jobs" | dsctl -c "$FARM_SOCK" map work >"$T/out" 2>"$T/map.err" ||
		die "dsctl map failed: $(tail -n 3 "$T/map.err")"
	t2=$(ms)
	farm_stop_hub
	seq "$jobs" | cmp -s - "$T/out" || die "ds gave wrong output"
	echo "$((t2 - t0)) $((t2 - t1))" >"$T/result"
}

# par_run CMD JOBS: one run of GNU parallel; its ms in $T/result.
par_run() {
	local cmd=$1 jobs=$2 t0 pid last n_done
	: >"$T/par.log"
	t0=$(ms)
	seq "$jobs" | ip netns exec "$FARM_NS-hub" parallel --will-cite -k -M \
	    --ssh "ssh -F $T/ssh_config" -S "$(par_logins)" \
	    --joblog "$T/par.log" "$cmd" >"$T/out" 2>"$T/par.err" &
	pid=$!
	last=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		if [ $(($(date +%s) - last)) -ge 15 ]; then
			last=$(date +%s)
			n_done=$(($(wc -l <"$T/par.log") - 1))
			printf '      parallel: %d of %d jobs done after %d s\n' \
			    "$((n_done < 0 ? 0 : n_done))" "$jobs" $((($(ms) - t0) / 1000))
		fi
		sleep 0.2
	done
	wait "$pid" || die "parallel failed: $(tail -n 3 "$T/par.err")"
	echo "$(($(ms) - t0))" >"$T/result"
	seq "$jobs" | cmp -s - "$T/out" || die "parallel gave wrong output"
}

par_logins() {
	local i s=
	for (( i = 1; i <= hosts; i++ )); do
		s="$s${s:+,}$slots/h$i"
	done
	echo "$s"
}

# bench_case NAME JOBS DS-HANDLER PARALLEL-CMD: the runs of one case;
# the medians in ds_cold, ds_warm and par.
bench_case() {
	local name=$1 jobs=$2 handler=$3 cmd=$4 r
	: >"$T/$name.ds"
	: >"$T/$name.par"
	for (( r = 1; r <= runs; r++ )); do
		ds_run "$handler" "$jobs"
		cat "$T/result" >>"$T/$name.ds"
		read -r c w <"$T/result"
		printf '    ds run %d/%d: cold %s s, warm %s s\n' "$r" "$runs" \
		    "$(secs "$c")" "$(secs "$w")"
	done
	for (( r = 1; r <= par_runs; r++ )); do
		par_run "$cmd" "$jobs"
		cat "$T/result" >>"$T/$name.par"
		printf '    parallel run %d/%d: %s s\n' "$r" "$par_runs" \
		    "$(secs "$(cat "$T/result")")"
	done
	ds_cold=$(awk '{ print $1 }' "$T/$name.ds" | median)
	ds_warm=$(awk '{ print $2 }' "$T/$name.ds" | median)
	par=$(median <"$T/$name.par")
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "job farm benchmark: $hosts hosts x $slots slots over ssh; ds medians" \
    "of $runs runs, parallel $par_runs; GNU parallel $par_version"
# The load average, as other work on the machine slows both sides.
loadavg() {
	cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?'
}
echo "machine: $(nproc 2>/dev/null || echo '?') cores, $(uname -sm)," \
    "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(loadavg)"
farm_up "$hosts" || die "cannot make the hosts"

summary=

if has echo; then
	echo
	echo "1. $n_echo trivial jobs (echo)"
	# shellcheck disable=SC2016
	bench_case echo "$n_echo" 'read -r n; echo "$n"' 'echo {}'
	ratio=$(calc 'sprintf("%.3f", a / b)' -v a="$ds_cold" -v b="$par")
	ok=$(verdict "<= 0.05" "$ratio")
	printf '  median: ds %s s cold (%s s warm), parallel %s s: ds/parallel = %s (target <= 0.05: %s)\n' \
	    "$(secs "$ds_cold")" "$(secs "$ds_warm")" "$(secs "$par")" "$ratio" "$ok"
	summary="$summary$(printf '  %-30s %9s s %9s s %9s s %8sx %9s %s' \
	    "$n_echo x echo" "$(secs "$ds_cold")" "$(secs "$ds_warm")" "$(secs "$par")" \
	    "$ratio" "<= 0.05" "$ok")"$'\n'
fi

if has sleep; then
	echo
	ideal=$(calc 'n * s / k * 1000' -v n="$n_sleep" -v s="$nap" -v k=$((hosts * slots)))
	echo "2. $n_sleep jobs of sleep $nap (ideal $(secs "$ideal") s)"
	handler="read -r n; sleep $nap; echo \"\$n\""
	bench_case sleep "$n_sleep" "$handler" "sleep $nap; echo {}"
	# What one slot's share of the jobs costs with no farm at all: the
	# handler run here that many times in a row, each in its own sh as
	# dsrecv runs it.  Starting the processes is not free, and no
	# scheduler can beat this.
	per_slot=$(((n_sleep + hosts * slots - 1) / (hosts * slots)))
	t0=$(ms)
	for (( r = 1; r <= per_slot; r++ )); do
		echo "$r" | sh -c "$handler" >/dev/null
	done
	floor=$(($(ms) - t0))
	echo "    the handler $per_slot times in a row, here, without ds: $(secs "$floor") s"
	r_ideal_cold=$(calc 'sprintf("%.3f", a / b)' -v a="$ds_cold" -v b="$ideal")
	r_ideal_warm=$(calc 'sprintf("%.3f", a / b)' -v a="$ds_warm" -v b="$ideal")
	ratio=$(calc 'sprintf("%.3f", a / b)' -v a="$ds_cold" -v b="$par")
	ok_ic=$(verdict "<= 1.05" "$r_ideal_cold")
	ok_iw=$(verdict "<= 1.05" "$r_ideal_warm")
	ok=$(verdict "<= 1" "$ratio")
	printf '  median: ds %s s cold (%s s warm), parallel %s s, ideal %s s\n' \
	    "$(secs "$ds_cold")" "$(secs "$ds_warm")" "$(secs "$par")" "$(secs "$ideal")"
	printf '  ds/ideal = %s cold, %s warm (target <= 1.05: %s cold, %s warm); ds/parallel = %s (target <= 1: %s)\n' \
	    "$r_ideal_cold" "$r_ideal_warm" "$ok_ic" "$ok_iw" "$ratio" "$ok"
	printf '  ds warm / the handlers in a row without ds = %s\n' \
	    "$(calc 'sprintf("%.3f", a / b)' -v a="$ds_warm" -v b="$floor")"
	summary="$summary$(printf '  %-30s %9s s %9s s %9s s %8sx %9s %s' \
	    "$n_sleep x sleep $nap, vs parallel" "$(secs "$ds_cold")" "$(secs "$ds_warm")" \
	    "$(secs "$par")" "$ratio" "<= 1" "$ok")"$'\n'
	summary="$summary$(printf '  %-30s %9s s %9s s %9s s %8sx %9s %s (cold %sx: %s)' \
	    "$n_sleep x sleep $nap, vs ideal" "$(secs "$ds_cold")" "$(secs "$ds_warm")" \
	    "$(secs "$ideal")" "$r_ideal_warm" "<= 1.05" "$ok_iw" "$r_ideal_cold" "$ok_ic")"$'\n'
fi

echo
echo "summary (commit $commit; ds medians of $runs runs, parallel of $par_runs;" \
    "GNU parallel $par_version; load average at the end $(loadavg))"
printf '  %-30s %11s %11s %11s %9s %9s %s\n' case "ds cold" "ds warm" \
    "reference" ratio target result
printf '%s' "$summary"
