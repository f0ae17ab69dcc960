/*
 * fuzz_hub: a libFuzzer target for the hub (lib/hub) as its clients see
 * it: hostile bytes on several connections at once.
 *
 * Build and run it with `make fuzz FUZZ=hub SECONDS=n`; tests/fuzz/smoke.sh
 * runs it briefly under `make check`.  One hub lives for the whole run,
 * with a small queue and body limit so that the limits are reached often.
 * Each input is cut into up to four client streams (a byte 0xff ends one
 * stream and starts the next); each client gets a socketpair, writes its
 * stream in pieces while the loop runs, reads whatever comes back, and
 * hangs up.  The sanitizers catch memory errors; the checks below catch a
 * hub that loses track of its connections or its queued bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/hub.h"
#include "../../lib/loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENTS 4

static struct loop *L;
static struct hub *H;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "check failed: %s\n", what);
		abort();
	}
}

static void
setup(void)
{
	struct hub_config cfg;
	char err[200];

	signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof cfg);
	cfg.max_body = 4096;
	cfg.queue = 2048;
	cfg.maxconn = 16;
	L = loop_new(64);
	check(L != NULL, "loop_new");
	H = hub_new(L, &cfg, err, sizeof err);
	check(H != NULL, "hub_new");
}

static void
drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof buf) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd[CLIENTS];
	const uint8_t *start[CLIENTS];
	size_t len[CLIENTS], off[CLIENTS], i, k, n = 0;
	int round, busy;

	if (L == NULL)
		setup();
	/* Streams are cut at each 0xff byte; those past CLIENTS are left out. */
	for (i = 0, k = 0; i <= size; i++)
		if (i == size || data[i] == 0xff) {
			if (n < CLIENTS) {
				start[n] = data + k;
				len[n] = i - k;
				n++;
			}
			k = i + 1;
		}
	for (i = 0; i < n; i++) {
		int sv[2];

		check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0,
		    "socketpair");
		check(hub_add(H, sv[0], sv[0], "fuzz") == 0, "hub_add");
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		fd[i] = sv[1];
		off[i] = 0;
	}
	/* Write in pieces of up to 512 bytes, letting the hub run. */
	for (round = 0; round < 200; round++) {
		busy = 0;
		for (i = 0; i < n; i++) {
			if (off[i] < len[i]) {
				ssize_t w;

				k = len[i] - off[i];
				if (k > 512)
					k = 512;
				w = write(fd[i], start[i] + off[i], k);
				if (w > 0)
					off[i] += (size_t)w;
				busy = 1;
			}
			drain(fd[i]);
		}
		loop_run_once(L, 0);
		if (!busy)
			break;
	}
	for (round = 0; round < 20; round++) {
		for (i = 0; i < n; i++)
			drain(fd[i]);
		loop_run_once(L, 0);
	}
	for (i = 0; i < n; i++)
		close(fd[i]);
	/* The hub notices every hang-up and forgets the connection. */
	for (round = 0; round < 50 && hub_clients(H) > 0; round++)
		loop_run_once(L, 1);
	check(hub_clients(H) == 0, "every connection is gone");
	check(hub_queued(H) == 0, "no bytes stay queued");
	return 0;
}
