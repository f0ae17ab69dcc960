/*
 * fuzz_swim: a libFuzzer target for what a member does with a datagram
 * off the network: the seal (lib/seal) and the membership (lib/swim).
 *
 * Build and run it with `make fuzz FUZZ=swim SECONDS=n`; tests/fuzz/
 * smoke.sh runs it briefly under `make check`.  Each input is cut into
 * datagrams at 0xff bytes; each goes first to seal_open (on a copy) and
 * then to swim_recv from one of three addresses, with the clock moving on
 * and swim_tick run in between, on one member that lives for the whole
 * run.  Every datagram the member sends in answer must be a well-formed
 * ds1 frame within its budget.  The sanitizers catch memory errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/auth.h"
#include "../../lib/proto.h"
#include "../../lib/seal.h"
#include "../../lib/swim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct swim *S;
static struct seal *K;
static uint64_t now = 1000;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "check failed: %s\n", what);
		abort();
	}
}

static void
sent(void *ctx, const char *addr, const void *buf, size_t len)
{
	struct proto_msg m;
	uint64_t off;
	char err[160];

	(void)ctx;
	check(addr != NULL && strlen(addr) >= 1 && strlen(addr) <= 64,
	    "an address of 1 to 64 bytes");
	check(len <= 1400, "a datagram within the budget");
	check(proto_parse_datagram(buf, len, 1400, &m, &off, err,
	    sizeof err) == PROTO_MSG, "a well-formed datagram");
}

static void
setup(void)
{
	struct swim_config c;
	struct auth_key key;
	char err[200];

	swim_config_init(&c);
	c.name = "me";
	c.addr = "10.0.0.1:7946";
	c.group = "g";
	c.seed = 7;
	c.send = sent;
	c.max_members = 64;
	S = swim_new(&c, now, err, sizeof err);
	check(S != NULL, "swim_new");
	check(swim_join(S, now, "10.0.0.2:7946") == 0, "swim_join");
	memset(&key, 0, sizeof key);
	memcpy(key.k, "fuzzing key", 11);
	key.len = 11;
	K = seal_new(&key, 16, 0);
	check(K != NULL, "seal_new");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const from[] = {
		"10.0.0.2:7946", "10.0.0.3:7946", "[::1]:1"
	};
	static char copy[65536];
	size_t start = 0, i, n = 0;

	if (S == NULL)
		setup();
	for (i = 0; i <= size; i++) {
		size_t len;

		if (i < size && data[i] != 0xff)
			continue;
		len = i - start;
		if (len < sizeof copy) {
			memcpy(copy, data + start, len);
			/* The seal refuses what it cannot check; it must not
			 * accept an unsigned datagram. */
			check(seal_open(K, copy, len, now * 1000) < 0,
			    "nothing unsigned passes the seal");
			(void)swim_recv(S, now, from[n++ % 3], data + start,
			    len);
		}
		now += (len > 0 ? data[start] & 0x3f : 0) + 1;
		swim_tick(S, now);
		start = i + 1;
	}
	check(swim_count(S) <= 64, "the member table stays bounded");
	return 0;
}
