#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static int passed, failed;

void
unit_check(int ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
}

int
main(void)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} suites[] = {
		{ "num", suite_num }, { "buf", suite_buf }, { "err", suite_err },
		{ "addr", suite_addr }, { "proto", suite_proto },
		{ "encode", suite_encode }, { "ident", suite_ident },
		{ "io", suite_io }, { "child", suite_child },
		{ "svc", suite_svc }, { "fmt", suite_fmt }, { "rec", suite_rec },
		{ "hmac", suite_hmac }, { "net", suite_net },
		{ "loop", suite_loop }, { "auth", suite_auth },
		{ "runner", suite_runner }, { "client", suite_client },
		{ "hub", suite_hub },
		{ "swim", suite_swim },
		{ "udp", suite_udp },
		{ "seal", suite_seal },
		{ "peer", suite_peer },
		{ "ctlsrv", suite_ctlsrv },
		{ "hook", suite_hook },
		{ "pool", suite_pool },
		{ "jobmap", suite_jobmap },
		{ "super", suite_super },
	};
	const char *only = getenv("UNIT_ONLY");
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* As in dsrecv: a child that stops reading must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof suites / sizeof suites[0]; i++) {
		int before = failed;

		/* UNIT_ONLY=name runs one suite, for chasing a failure. */
		if (only != NULL && strcmp(only, suites[i].name) != 0)
			continue;
		suites[i].run();
		printf("%-8s %s\n", suites[i].name,
		    failed == before ? "ok" : "FAILED");
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
