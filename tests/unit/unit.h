/*
 * A minimal unit-test harness: CHECK records a pass or a failure (with
 * the file, line and expression), and the runner ends with the line
 * "N passed, N failed".  Each test_*.c file supplies one suite function.
 */
#ifndef DS_UNIT_H
#define DS_UNIT_H

#include <stddef.h>
#include <string.h>

void unit_check(int ok, const char *what, const char *file, int line);
#define CHECK(cond) unit_check((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_STR(got, want) \
	unit_check(strcmp((got), (want)) == 0, #got " == " #want, __FILE__, \
	    __LINE__)
#define CHECK_MEM(got, n, want) \
	unit_check((n) == strlen(want) && memcmp((got), (want), (n)) == 0, \
	    #got " == " #want, __FILE__, __LINE__)

void suite_num(void);
void suite_buf(void);
void suite_err(void);
void suite_addr(void);
void suite_proto(void);
void suite_encode(void);
void suite_ident(void);
void suite_io(void);
void suite_child(void);
void suite_svc(void);
void suite_fmt(void);
void suite_rec(void);
void suite_hmac(void);
void suite_net(void);
void suite_loop(void);
void suite_auth(void);
void suite_runner(void);
void suite_client(void);
void suite_hub(void);
void suite_swim(void);
void suite_udp(void);
void suite_seal(void);
void suite_peer(void);
void suite_ctlsrv(void);
void suite_hook(void);
void suite_pool(void);
void suite_jobmap(void);
void suite_super(void);

#endif
