#!/usr/bin/env bats
# The framers across a real ssh hop: a throwaway sshd on 127.0.0.1 serves
# `dsrecv -e` on the far side, as in the seed's example.
# Each `run` is followed by `echo "$output"`: bats shows it only when the
# test fails, which is when the remote side's complaint is needed.

load helper
load sshd

local_setup() {
	sshd_start
}

local_teardown() {
	sshd_stop
}

# The seed's example: A asks B (over ssh) to sum the numbers.
seed_sum() {
	set -o pipefail
	echo '1 2 3' | dssend -t sum -f a |
		ds_ssh "dsrecv -e 'tr \" \" + | bc'" | dsrecv
}

@test "ssh: the seed's example sums 1 2 3 to 6 across ssh" {
	run seed_sum
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = 6 ]
}

binary_round_trip() {
	set -o pipefail
	dssend -t cat -f a "$T/in" | ds_ssh 'dsrecv -e cat' >"$T/replies"
}

@test "ssh: a 1 MiB binary body goes there and back unchanged" {
	head -c 1048576 /dev/urandom >"$T/in"
	run binary_round_trip
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run dsrecv -F '%f %t %T %l\n' <"$T/replies"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "cat a rep 1048576" ]
	dsrecv <"$T/replies" >"$T/out"
	same_bytes "$T/in" "$T/out"
}

failing_service() {
	set -o pipefail
	echo 'hello' | dssend -t b -f a -i 7 |
		ds_ssh "dsrecv -e 'cat >/dev/null; echo \"no such thing\" >&2; exit 3'" |
		dsrecv -F '%f %t %T %r %{status} %b'
}

@test "ssh: a command that exits 3 comes back as type=err status=3 with its stderr" {
	run failing_service
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "b a err 7 3 no such thing" ]
}

several_messages() {
	set -o pipefail
	printf 'one\ntwo\nthree\n' | dssend -l -t up -f a -i 1 |
		ds_ssh "dsrecv -e 'tr a-z A-Z'" | dsrecv -F '%r %T %b\n'
}

@test "ssh: several messages are served in order across ssh" {
	run several_messages
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "1 rep ONE" ]
	[ "${lines[1]}" = "2 rep TWO" ]
	[ "${lines[2]}" = "3 rep THREE" ]
	[ "${#lines[@]}" -eq 3 ]
}
