#!/usr/bin/env bats
# The ds1 wire format (see dsproto(7)) as dsrecv sees it: hand-written
# frames, every parse error with its message, its position and its exit
# status, and percent-encoding.

# bats's run sets $stderr; cat | cmd is how a test feeds a pipe on purpose;
# sh -c scripts take their arguments as "$1" in single quotes.
# shellcheck disable=SC2154,SC2002,SC2016
bats_require_minimum_version 1.5.0
load helper

# A good message, 25 bytes long, that every error test sends first: the
# bad frame is then message 2 and starts at byte 25.
GOOD='ds1 from=a to=b len=2\nok\n'

# after_good FORMAT [ARG...]: $T/in is the good message, then what printf
# writes.
after_good() {
	# shellcheck disable=SC2059
	{ printf "$GOOD"; printf "$@"; } >"$T/in"
}

# fails_at PREFIX REASON: dsrecv -l on $T/in prints the good message, then
# exits 1 blaming message 2 at the byte right after PREFIX, a literal
# string that the bad frame starts with.
fails_at() {
	local LC_ALL=C
	local b=$((25 + ${#1}))
	run --separate-stderr dsrecv -l <"$T/in"
	eq "$output" "ok"
	eq "$stderr" "dsrecv: message 2 at byte $b: $2"
	[ "$status" -eq 1 ]
}

# fails_at_end REASON: as fails_at, for an error at the end of the input.
fails_at_end() {
	local b
	b=$(wc -c <"$T/in")
	run --separate-stderr dsrecv -l <"$T/in"
	eq "$output" "ok"
	eq "$stderr" "dsrecv: message 2 at byte $b: $1"
	[ "$status" -eq 1 ]
}

# rep N CHAR: CHAR N times.
rep() {
	local s
	printf -v s '%*s' "$1" ''
	printf '%s' "${s// /$2}"
}

# ---- frames written by hand ----

@test "the hand-written frame of the man page prints hello" {
	run --separate-stderr sh -c "printf 'ds1 from=me to=echo len=5\nhello\n' | dsrecv"
	[ "$status" -eq 0 ]
	eq "$output" "hello"
	eq "$stderr" ""
	printf 'ds1 from=me to=echo len=5\nhello\n' | dsrecv >"$T/out"
	bytes_are "$T/out" 'hello'
}

@test "a header without len is a message with an empty body" {
	printf 'ds1 from=me to=you\n\nds1 from=me to=you len=1\nx\n' >"$T/in"
	run --separate-stderr dsrecv -F '%f to %t: %l bytes [%b]\n' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "me to you: 0 bytes []
me to you: 1 bytes [x]"
	# The same as len=0 written out.
	printf 'ds1 from=a to=b len=0\n\n' >"$T/in"
	run --separate-stderr dsrecv -F '[%l:%b]' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "[0:]"
}

@test "fields may come in any order" {
	printf 'ds1 len=3 id=9 x=1 to=b type=req from=a\nabc\n' >"$T/in"
	run --separate-stderr dsrecv -F '%f %t %T %i %l %b %{x}' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "a b req 9 3 abc 1"
}

@test "a body may hold newlines, NULs and what looks like a header" {
	printf 'ds1 from=a to=b len=25\nds1 from=x to=y len=0\n\0\n\n\n' >"$T/in"
	dsrecv -F '%l:%b|' <"$T/in" >"$T/out"
	bytes_are "$T/out" '25:ds1 from=x to=y len=0\n\0\n\n|'
}

@test "to=* is a broadcast and is accepted" {
	printf 'ds1 from=a to=* len=1\nx\n' >"$T/in"
	run --separate-stderr dsrecv -F '%t %b' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "* x"
}

@test "type may be any token, not only msg req rep err" {
	printf 'ds1 from=a to=b type=my-type_2\n\n' >"$T/in"
	run --separate-stderr dsrecv -F '%T' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "my-type_2"
}

@test "extension fields are kept, repeated and in order" {
	printf 'ds1 from=a to=b z=1 a=2 z=3\n\n' >"$T/in"
	run --separate-stderr dsrecv -F '%h' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" "ds1 from=a to=b z=1 a=2 z=3"
}

@test "limits: a 4096-byte header, 64 fields, a 32-byte key, 64-byte names, id, re and type" {
	local name key fields="" i hdr pad
	name=$(rep 64 n)
	key=$(rep 32 k)
	for i in $(seq 58); do fields="$fields f=$i"; done
	hdr="ds1 from=$name to=$name type=$(rep 64 t) id=$(rep 61 i)%41 re=$(rep 64 r) $key=v$fields"
	# Pad the last value so that the line, LF included, is 4096 bytes.
	pad=$((4095 - ${#hdr}))
	[ "$pad" -gt 0 ]
	hdr="$hdr$(rep "$pad" 9)"
	printf '%s\n\n' "$hdr" >"$T/in"
	eq "$(head -1 "$T/in" | wc -c)" 4096
	run --separate-stderr dsrecv -F '%{id}|%{'"$key"'}|%{f}' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$stderr" ""
	eq "$output" "$(rep 61 i)A|v|1"
}

# ---- percent-encoding ----

@test "escapes decode in either case, and an escape of any byte is accepted" {
	printf 'ds1 from=a to=b k=%%41%%62%%2f%%2F%%c3%%A9%%20%%25%%3d\n\n' >"$T/in"
	dsrecv -F '%{k}' <"$T/in" >"$T/out"
	bytes_are "$T/out" 'Ab//\303\251 %%='
}

@test "UTF-8 and other bytes from 0x80 up stand for themselves" {
	printf 'ds1 from=a to=b k=\303\251\342\202\254\377\n\n' >"$T/in"
	dsrecv -F '%{k}' <"$T/in" >"$T/out"
	bytes_are "$T/out" '\303\251\342\202\254\377'
}

@test "dssend escapes exactly the bytes the format requires, uppercase, and dsrecv decodes them" {
	local c v="" want="" o
	for c in $(seq 1 255); do
		printf -v o '\\%03o' "$c"
		# shellcheck disable=SC2059
		printf -v o "$o"
		if [ "$c" -eq 10 ]; then o=$'\n'; fi
		v+=$o
		if { [ "$c" -ge 33 ] && [ "$c" -le 126 ] && [ "$c" -ne 37 ] && [ "$c" -ne 61 ]; } || [ "$c" -ge 128 ]; then
			want+=$o
		else
			printf -v o '%%%02X' "$c"
			want+=$o
		fi
	done
	LC_ALL=C dssend -f a -t b -i 1 -H "k=$v" </dev/null >"$T/frames"
	printf 'ds1 from=a to=b k=%s id=1 len=0\n\n' "$want" >"$T/want"
	same_bytes "$T/want" "$T/frames"
	dsrecv -F '%{k}' <"$T/frames" >"$T/out"
	printf '%s' "$v" >"$T/v"
	same_bytes "$T/v" "$T/out"
}

@test "a name is never decoded: from=%%61 is an error, not 'a'" {
	after_good 'ds1 from=%%61 to=b\n\n'
	fails_at 'ds1 from=' "bad name in 'from': names are 1 to 64 bytes of [A-Za-z0-9._-]"
}

# ---- errors: each stops dsrecv with exit 1, after the good messages ----

@test "garbage as the whole input: message 1 at byte 0, nothing on stdout" {
	printf 'hello world\n' >"$T/in"
	run --separate-stderr dsrecv <"$T/in"
	[ "$status" -eq 1 ]
	eq "$output" ""
	eq "$stderr" "dsrecv: message 1 at byte 0: not a ds1 frame: header must start with 'ds1 ', found 'h'"
}

@test "garbage after a good message" {
	after_good 'GET / HTTP/1.0\r\n\r\n'
	fails_at '' "not a ds1 frame: header must start with 'ds1 ', found 'G'"
}

@test "binary garbage is named by its hex value; DS1 is not ds1" {
	after_good '\377\376ds1'
	fails_at '' "not a ds1 frame: header must start with 'ds1 ', found 0xff"
	# The version is case-sensitive.
	after_good 'DS1 from=a to=b\n\n'
	fails_at '' "not a ds1 frame: header must start with 'ds1 ', found 'D'"
}

@test "garbage is refused at once, without waiting for a newline or the end of input" {
	mkfifo "$T/fifo"
	bg sh -c 'exec >"$1"; printf "xyz"; exec sleep 60' sh "$T/fifo"
	run --separate-stderr timeout 10 dsrecv <"$T/fifo"
	[ "$status" -eq 1 ]
	eq "$stderr" "dsrecv: message 1 at byte 0: not a ds1 frame: header must start with 'ds1 ', found 'x'"
}

@test "versions ds2 and ds10 are refused as unsupported" {
	after_good 'ds2 from=a to=b len=0\n\n'
	fails_at '' "unsupported protocol version 'ds2' (this is ds1)"
	after_good 'ds10 from=a to=b\n\n'
	fails_at '' "unsupported protocol version"
}

@test "ds1 must be followed by a space" {
	after_good 'ds1\tfrom=a to=b\n\n'
	fails_at 'ds1' "expected a space after 'ds1', found 0x09"
	after_good 'ds1x from=a to=b\n\n'
	fails_at 'ds1' "expected a space after 'ds1', found 'x'"
}

@test "a header line of 4097 bytes or more is refused at byte 4096" {
	after_good 'ds1 from=a to=b x=%s\n\n' "$(rep 5000 v)"
	fails_at "ds1 from=a to=b x=$(rep 4078 v)" "header line longer than 4096 bytes"
	# "ds1 from=a to=b x=" is 18 bytes: 18 + 4078 + the LF is 4097.
	after_good 'ds1 from=a to=b x=%s\n\n' "$(rep 4078 v)"
	fails_at "ds1 from=a to=b x=$(rep 4078 v)" "header line longer than 4096 bytes"
}

@test "a header line of 4096 bytes, LF included, is accepted" {
	printf 'ds1 from=a to=b x=%s\n\n' "$(rep 4077 v)" >"$T/in"
	run --separate-stderr dsrecv -F '%l' <"$T/in"
	[ "$status" -eq 0 ]
	eq "$output" 0
}

@test "an over-long header is refused as soon as 4096 bytes have arrived" {
	mkfifo "$T/fifo"
	bg sh -c 'exec >"$1"; printf "ds1 from=a to=b x=%s" "$2"; exec sleep 60' sh "$T/fifo" "$(rep 4090 v)"
	run --separate-stderr timeout 10 dsrecv <"$T/fifo"
	[ "$status" -eq 1 ]
	eq "$stderr" "dsrecv: message 1 at byte 4096: header line longer than 4096 bytes"
}

@test "more than 64 fields is refused at the 65th" {
	local fields="" i
	for i in $(seq 63); do fields="$fields f=$i"; done
	after_good 'ds1 from=a%s x=1\n\n' "$fields"
	fails_at "ds1 from=a$fields " "more than 64 fields"
}

@test "a key longer than 32 bytes is refused" {
	after_good 'ds1 from=a to=b %s=1\n\n' "$(rep 33 k)"
	fails_at 'ds1 from=a to=b ' "key longer than 32 bytes"
}

@test "a missing from or to is refused at the end of the header" {
	after_good 'ds1 to=b len=1\nx\n'
	fails_at 'ds1 to=b len=1' "missing required field 'from'"
	after_good 'ds1 from=a len=1\nx\n'
	fails_at 'ds1 from=a len=1' "missing required field 'to'"
	after_good 'ds1\n\n'
	fails_at 'ds1' "missing required field 'from'"
}

@test "every well-known field is refused when repeated" {
	local f v
	for f in from to type re id len; do
		v=1
		case $f in from | to) v=a ;; type) v=req ;; esac
		after_good 'ds1 from=a to=b %s=%s %s=%s\n\n' "$f" "$v" "$f" "$v"
		case $f in
		# The header already has from and to: the first copy repeats.
		from | to) fails_at "ds1 from=a to=b " "repeated field '$f'" ;;
		*) fails_at "ds1 from=a to=b $f=$v " "repeated field '$f'" ;;
		esac
	done
	after_good 'ds1 to=b to=b from=a\n\n'
	fails_at 'ds1 to=b ' "repeated field 'to'"
}

@test "an empty value is refused" {
	after_good 'ds1 from=a to=b x= y=1\n\n'
	fails_at 'ds1 from=a to=b x=' "empty value for 'x'"
	after_good 'ds1 from= to=b\n\n'
	fails_at 'ds1 from=' "empty value for 'from'"
	after_good 'ds1 from=a to=b x=\n\n'
	fails_at 'ds1 from=a to=b x=' "empty value for 'x'"
}

@test "two spaces between fields, or one at the end, are refused" {
	after_good 'ds1 from=a  to=b\n\n'
	fails_at 'ds1 from=a ' "empty field (one space between fields, none at the end)"
	after_good 'ds1 from=a to=b \n\n'
	fails_at 'ds1 from=a to=b ' "empty field (one space between fields, none at the end)"
}

@test "a field without '=' is refused" {
	after_good 'ds1 from=a to=b flag\n\n'
	fails_at 'ds1 from=a to=b flag' "field 'flag' has no '='"
	after_good 'ds1 from=a flag to=b\n\n'
	fails_at 'ds1 from=a flag' "field 'flag' has no '='"
}

@test "a key with an uppercase or other bad byte is refused" {
	after_good 'ds1 from=a To=b\n\n'
	fails_at 'ds1 from=a ' "bad byte 'T' in a key: keys are [a-z0-9_-]"
	after_good 'ds1 from=a to=b x.y=1\n\n'
	fails_at 'ds1 from=a to=b x' "bad byte '.' in a key: keys are [a-z0-9_-]"
}

@test "a control byte in a value is refused: it must be percent-encoded" {
	after_good 'ds1 from=a to=b x=1\t2\n\n'
	fails_at 'ds1 from=a to=b x=1' "0x09 in the value of 'x' must be percent-encoded"
	after_good 'ds1 from=a to=b x=1\0002\n\n'
	fails_at 'ds1 from=a to=b x=1' "0x00 in the value of 'x' must be percent-encoded"
	after_good 'ds1 from=a to=b x=1\1772\n\n'
	fails_at 'ds1 from=a to=b x=1' "0x7f in the value of 'x' must be percent-encoded"
}

@test "an '=' in a value is refused: it must be percent-encoded" {
	after_good 'ds1 from=a to=b x=1=2\n\n'
	fails_at 'ds1 from=a to=b x=1' "'=' in the value of 'x' must be percent-encoded"
}

@test "a carriage return in the header is refused" {
	after_good 'ds1 from=a to=b len=1\r\nx\n'
	fails_at 'ds1 from=a to=b len=1' "carriage return in header (lines end with a bare newline)"
	after_good 'ds1 from=a to=b\r\n\n'
	fails_at 'ds1 from=a to=b' "carriage return in header (lines end with a bare newline)"
	after_good 'ds1 from=a to=b x=1\r2\n\n'
	fails_at 'ds1 from=a to=b x=1' "carriage return in header (lines end with a bare newline)"
}

@test "a bad percent escape is refused" {
	after_good 'ds1 from=a to=b x=1%%4g\n\n'
	fails_at 'ds1 from=a to=b x=1' "bad percent escape in 'x'"
	after_good 'ds1 from=a to=b x=1%%4\n\n'
	fails_at 'ds1 from=a to=b x=1' "bad percent escape in 'x'"
	after_good 'ds1 from=a to=b x=%% y=1\n\n'
	fails_at 'ds1 from=a to=b x=' "bad percent escape in 'x'"
}

@test "a bad name in from is refused: @ is reserved, * is for to only" {
	local v
	for v in 'a@b' '*' 'a/b' "$(rep 65 n)"; do
		after_good 'ds1 from=%s to=b\n\n' "$v"
		fails_at 'ds1 from=' "bad name in 'from': names are 1 to 64 bytes of [A-Za-z0-9._-]"
	done
}

@test "a bad name in to is refused" {
	local v
	for v in 'a@b' '**' 'a%20b' "$(rep 65 n)"; do
		after_good 'ds1 from=a to=%s\n\n' "$v"
		fails_at 'ds1 from=a to=' "bad name in 'to': names are 1 to 64 bytes of [A-Za-z0-9._-], or '*'"
	done
}

@test "a bad type is refused" {
	local v
	for v in Req 'a.b' "$(rep 65 t)"; do
		after_good 'ds1 from=a to=b type=%s\n\n' "$v"
		fails_at 'ds1 from=a to=b type=' "bad type: types are 1 to 64 bytes of [a-z0-9_-]"
	done
}

@test "an id or re longer than 64 bytes as written is refused" {
	after_good 'ds1 from=a to=b id=%s\n\n' "$(rep 65 i)"
	fails_at 'ds1 from=a to=b id=' "'id' is longer than 64 bytes"
	# 22 escapes: 66 bytes as written, though only 22 decoded.
	after_good 'ds1 from=a to=b re=%s\n\n' "$(rep 22 '%41')"
	fails_at 'ds1 from=a to=b re=' "'re' is longer than 64 bytes"
}

@test "a len that is not a plain decimal number, or has a leading zero, is refused" {
	local v
	for v in -1 +1 1x 0x10 1.0; do
		after_good 'ds1 from=a to=b len=%s\nx\n' "$v"
		fails_at 'ds1 from=a to=b len=' "bad len '$v': not a decimal number"
	done
	after_good 'ds1 from=a to=b len=01\nx\n'
	fails_at 'ds1 from=a to=b len=' "bad len '01': leading zero"
}

@test "a len over the default limit of 16 MiB, however large, is refused" {
	after_good 'ds1 from=a to=b len=16777217\n'
	fails_at 'ds1 from=a to=b len=' "len 16777217 exceeds the limit of 16777216 bytes"
	after_good 'ds1 from=a to=b len=99999999999999999999\n'
	fails_at 'ds1 from=a to=b len=' "len 99999999999999999999 exceeds the limit of 16777216 bytes"
	after_good 'ds1 from=a to=b len=18446744073709551616\n'
	fails_at 'ds1 from=a to=b len=' "len 18446744073709551616 exceeds the limit of 16777216 bytes"
}

@test "a len over the limit is refused before its body arrives" {
	mkfifo "$T/fifo"
	bg sh -c 'exec >"$1"; printf "ds1 from=a to=b len=99999999\n"; exec sleep 60' sh "$T/fifo"
	run --separate-stderr timeout 10 dsrecv <"$T/fifo"
	[ "$status" -eq 1 ]
	eq "$output" ""
	eq "$stderr" "dsrecv: message 1 at byte 20: len 99999999 exceeds the limit of 16777216 bytes"
}

@test "the man page's example: message 3 at byte 69" {
	printf 'ds1 from=a to=b len=1\nx\nds1 from=a to=b len=2\nyy\nds1 from=a to=b len=99999999\n' >"$T/in"
	run --separate-stderr dsrecv -l <"$T/in"
	[ "$status" -eq 1 ]
	eq "$output" "x
yy"
	eq "$stderr" "dsrecv: message 3 at byte 69: len 99999999 exceeds the limit of 16777216 bytes"
}

@test "a body followed by something other than a newline is refused" {
	after_good 'ds1 from=a to=b len=2\nabc\n'
	fails_at $'ds1 from=a to=b len=2\nab' "expected a newline after the 2-byte body, found 'c'"
}

@test "a len=0 frame without its closing newline is refused at the next header" {
	after_good 'ds1 from=a to=b\nds1 from=a to=b\n\n'
	fails_at $'ds1 from=a to=b\n' "expected a newline after the 0-byte body, found 'd'"
}

@test "input that ends inside the header line is a truncated frame" {
	after_good 'ds1 from=a to=b'
	fails_at_end "truncated frame: input ends inside the header line (15 bytes, no newline)"
	after_good 'ds'
	fails_at_end "truncated frame: input ends inside the header line (2 bytes, no newline)"
}

@test "input that ends inside the body is a truncated frame" {
	after_good 'ds1 from=a to=b len=10\nabc'
	fails_at_end "truncated frame: input ends inside the body (3 of 10 bytes)"
	after_good 'ds1 from=a to=b len=10\n'
	fails_at_end "truncated frame: input ends inside the body (0 of 10 bytes)"
}

@test "input that ends before the body's closing newline is a truncated frame" {
	after_good 'ds1 from=a to=b len=3\nabc'
	fails_at_end "truncated frame: missing the newline after the 3-byte body"
	after_good 'ds1 from=a to=b\n'
	fails_at_end "truncated frame: missing the newline after the 0-byte body"
}

@test "a truncated 1 MiB body: the good messages before it are all out" {
	head -c 1048576 /dev/urandom >"$T/data"
	printf 'first\nsecond\n' | dssend -l -f a -t b -i 1 >"$T/in"
	dssend -f a -t b -i 3 "$T/data" | head -c 600000 >>"$T/in"
	run --separate-stderr dsrecv -l <"$T/in"
	[ "$status" -eq 1 ]
	eq "$output" "first
second"
	# The header "ds1 from=a to=b id=3 len=1048576\n" is 33 bytes.
	eq "$stderr" "dsrecv: message 3 at byte $(wc -c <"$T/in"): truncated frame: input ends inside the body ($((600000 - 33)) of 1048576 bytes)"
}

@test "message and byte count every frame, also those after a large body and those filtered out" {
	head -c 1048576 /dev/urandom >"$T/data"
	dssend -f big -t b -i 1 "$T/data" >"$T/in"
	printf 'ds1 from=a to=b len=2\nok\nds1 from=a to=b len=1\nxy\n' >>"$T/in"
	# The big frame: "ds1 from=big to=b id=1 len=1048576\n" (35 bytes),
	# the body and its LF.
	run --separate-stderr dsrecv -l -f a <"$T/in"
	[ "$status" -eq 1 ]
	eq "$output" "ok"
	eq "$stderr" "dsrecv: message 3 at byte $((35 + 1048576 + 1 + 25 + 23)): expected a newline after the 1-byte body, found 'y'"
}
