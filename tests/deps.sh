#!/bin/sh
# Check that the commands `make check` needs are installed, before any of
# it runs.  Missing ones are installed with apt-get when we run as root on
# a machine that has it; otherwise this names the Debian packages to
# install and fails, so that no part of the suite is silently skipped.
# Quiet when everything is present.

SSHD=/usr/sbin/sshd
INETD=/usr/sbin/inetd

missing=

have() {
	command -v "$1" >/dev/null 2>&1
}

# need PACKAGE: add PACKAGE to the missing list, once.
need() {
	case " $missing " in
	*" $1 "*) ;;
	*) missing=${missing:+$missing }$1 ;;
	esac
}

# The fuzz smoke links clang's libFuzzer and sanitizer runtimes, which
# Debian ships apart from clang, one package per clang version.  Name the
# one for the installed clang, or else for the clang apt would install.
clang_rt_package() {
	version=
	if have clang; then
		version=$(clang -dumpversion 2>/dev/null)
		version=${version%%.*}
	elif have apt-cache; then
		version=$(apt-cache depends clang 2>/dev/null |
			sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1)
	fi
	echo "libclang-rt-${version:-14}-dev"
}

# Whether clang can link a libFuzzer target as the fuzz smoke builds it:
# the only sure test that the runtimes are there.
clang_can_fuzz() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ds-deps.XXXXXX") || return 1
	cat >"$dir/t.c" <<-'EOF'
	int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long);
	int LLVMFuzzerTestOneInput(const unsigned char *p, unsigned long n)
	{ (void)p; (void)n; return 0; }
	EOF
	clang -fsanitize=fuzzer,address,undefined -o "$dir/t" "$dir/t.c" \
		>/dev/null 2>&1
	ok=$?
	rm -rf "$dir"
	return "$ok"
}

check() {
	missing=
	have bats || need bats
	have mandoc || need mandoc
	[ -x "$SSHD" ] || need openssh-server
	have ssh || need openssh-client
	have ssh-keygen || need openssh-client
	have socat || need socat
	have nc || need netcat-openbsd
	have bc || need bc
	# tests/dsd.bats computes the hub's HMAC proofs by hand.
	have openssl || need openssl
	# tests/activation.bats: dsd started by systemd (stood in for by
	# systemd-socket-activate), tcpserver and inetd.
	have systemd-socket-activate || need systemd
	have systemd-analyze || need systemd
	have tcpserver || need ucspi-tcp
	[ -x "$INETD" ] || need openbsd-inetd
	# tests/netns.bats: peers on hosts made of network namespaces, a
	# partition by taking a link down, and loss with tc netem or, on a
	# kernel without netem, an nftables rule that drops at random.
	have ip || need iproute2
	have tc || need iproute2
	have nft || need nftables
	have col || need bsdextrautils
	# tests/farm.bats: the job farm example must be clean under
	# shellcheck.
	have shellcheck || need shellcheck
	have parallel || need parallel
	have cmp || need diffutils
	have od || need coreutils
	have timeout || need coreutils
	if ! have clang; then
		need clang
		need "$(clang_rt_package)"
	elif ! clang_can_fuzz; then
		need "$(clang_rt_package)"
	fi
}

check
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ] && have apt-get; then
	echo "deps: installing $missing" >&2
	# $missing is a list of package names, split on purpose.
	# shellcheck disable=SC2086
	apt-get -q update >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
			--no-install-recommends $missing >/dev/null
	check
	[ -z "$missing" ] && exit 0
fi

echo "deps: missing packages: $missing (install them, or run make check as root)" >&2
exit 1
