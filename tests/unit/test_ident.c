#include <stdlib.h>

#include "../../lib/ident.h"
#include "unit.h"

void
suite_ident(void)
{
	struct ident_seq s;
	char err[160], name[PROTO_NAME_MAX + 1], first[80];
	const char *id;
	size_t n, dash;
	int i;

	CHECK(ident_seq_init(&s, NULL) == 0);
	id = ident_seq_next(&s, &n);
	dash = strcspn(id, "-");
	CHECK(dash >= 16 && id[dash] == '-' && strcmp(id + dash, "-1") == 0);
	memcpy(first, id, n + 1);
	id = ident_seq_next(&s, &n);
	CHECK(strncmp(id, first, dash + 1) == 0 &&
	    strcmp(id + dash, "-2") == 0);
	for (i = 3; i <= 10; i++)
		id = ident_seq_next(&s, &n);
	CHECK(strcmp(id + dash, "-10") == 0 && n == dash + 3);

	CHECK(ident_seq_init(&s, "98") == 0);
	CHECK_STR(ident_seq_next(&s, &n), "98");
	CHECK_STR(ident_seq_next(&s, &n), "99");
	CHECK_STR(ident_seq_next(&s, &n), "100");
	CHECK(n == 3);
	CHECK(ident_seq_init(&s, "0") == 0);
	CHECK_STR(ident_seq_next(&s, &n), "0");
	CHECK_STR(ident_seq_next(&s, &n), "1");
	/* Not a canonical number: repeated as given, and encoded. */
	CHECK(ident_seq_init(&s, "007") == 0);
	CHECK_STR(ident_seq_next(&s, &n), "007");
	CHECK_STR(ident_seq_next(&s, &n), "007");
	CHECK(ident_seq_init(&s, "job 1") == 0);
	CHECK_STR(ident_seq_next(&s, &n), "job%201");
	CHECK(ident_seq_init(&s, "") == -1);
	CHECK(ident_seq_init(&s, "12345678901234567890123456789012345678901"
	    "234567890123456789012345") == -1);

	setenv("DS_NAME", "worker-1", 1);
	CHECK(ident_default(name, err, sizeof err) == 0 &&
	    strcmp(name, "worker-1") == 0);
	setenv("DS_NAME", "bad name", 1);
	CHECK(ident_default(name, err, sizeof err) == -1 &&
	    strstr(err, "invalid name in DS_NAME: 'bad name'") != NULL);
	unsetenv("DS_NAME");
	CHECK(ident_default(name, err, sizeof err) == 0 &&
	    proto_name_ok(name, strlen(name)) && strchr(name, '.') == NULL);
}
