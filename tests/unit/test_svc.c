#include <stdlib.h>

#include "../../lib/svc.h"
#include "unit.h"

static const char *
getv(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

void
suite_svc(void)
{
	const char *req = "ds1 from=alice to=sum id=a%20b x-trace=t%3D1 "
	    "name=evil len=3\n1 2\n";
	const char *bare = "ds1 from=bob to=*\n\n";
	struct proto_parser p;
	struct svc_env env;
	struct child_result r;
	struct buf out, sout, serr;

	setenv("DS_RE", "stale", 1);
	setenv("DS_X_TRACE", "stale", 1);
	setenv("DS_KEEP", "kept", 1);
	svc_env_init(&env);
	proto_parser_init(&p, PROTO_BODY_DEFAULT);
	CHECK(proto_parse(&p, req, strlen(req)) == PROTO_MSG);
	CHECK(svc_env_build(&env, &p.msg, "sum") == 0);
	CHECK(getv(env.envp, "DS_FROM") && !strcmp(getv(env.envp, "DS_FROM"),
	    "alice"));
	CHECK(getv(env.envp, "DS_TO") && !strcmp(getv(env.envp, "DS_TO"),
	    "sum"));
	CHECK(getv(env.envp, "DS_ID") && !strcmp(getv(env.envp, "DS_ID"),
	    "a b"));
	CHECK(getv(env.envp, "DS_LEN") && !strcmp(getv(env.envp, "DS_LEN"),
	    "3"));
	CHECK(getv(env.envp, "DS_TYPE") && !strcmp(getv(env.envp, "DS_TYPE"),
	    "msg"));
	CHECK(getv(env.envp, "DS_X_TRACE") &&
	    !strcmp(getv(env.envp, "DS_X_TRACE"), "t=1"));
	CHECK(getv(env.envp, "DS_NAME") && !strcmp(getv(env.envp, "DS_NAME"),
	    "sum"));
	/* Inherited values the message does not set do not leak in. */
	CHECK(getv(env.envp, "DS_RE") == NULL);
	CHECK(getv(env.envp, "DS_KEEP") && !strcmp(getv(env.envp, "DS_KEEP"),
	    "kept"));
	CHECK(getv(env.envp, "PATH") != NULL);

	/* A reply: from the service, to the sender, re its id. */
	buf_init(&out, 1 << 20);
	buf_init(&sout, 1 << 20);
	buf_init(&serr, 1 << 20);
	buf_append_str(&sout, "3\n");
	buf_append_str(&serr, "oops\n");
	memset(&r, 0, sizeof r);
	CHECK(svc_reply(&out, &p.msg, "sum", &r, &sout, &serr,
	    PROTO_BODY_DEFAULT) == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out),
	    "ds1 from=sum to=alice type=rep re=a%20b len=2\n3\n\n");
	buf_clear(&out);
	r.status = 4;
	CHECK(svc_reply(&out, &p.msg, "sum", &r, &sout, &serr,
	    PROTO_BODY_DEFAULT) == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out),
	    "ds1 from=sum to=alice type=err re=a%20b status=4 len=5\n"
	    "oops\n\n");
	buf_clear(&out);
	r.status = 137;
	r.signaled = 1;
	r.timed_out = 1;
	CHECK(svc_reply(&out, &p.msg, "sum", &r, &sout, &serr, 2) == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out),
	    "ds1 from=sum to=alice type=err re=a%20b status=137 "
	    "reason=timeout len=2\noo\n");

	/* No id, no re; a type=msg default; replies are not served. */
	proto_parser_init(&p, PROTO_BODY_DEFAULT);
	CHECK(proto_parse(&p, bare, strlen(bare)) == PROTO_MSG);
	CHECK(svc_wants(&p.msg));
	buf_clear(&out);
	memset(&r, 0, sizeof r);
	CHECK(svc_reply(&out, &p.msg, "host", &r, &sout, &serr,
	    PROTO_BODY_DEFAULT) == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out),
	    "ds1 from=host to=bob type=rep len=2\n3\n\n");
	CHECK(svc_env_build(&env, &p.msg, "host") == 0);
	CHECK(getv(env.envp, "DS_ID") == NULL &&
	    !strcmp(getv(env.envp, "DS_LEN"), "0"));
	{
		const char *rep = "ds1 from=a to=b type=rep\n\n";

		proto_parser_init(&p, PROTO_BODY_DEFAULT);
		CHECK(proto_parse(&p, rep, strlen(rep)) == PROTO_MSG &&
		    !svc_wants(&p.msg));
	}
	/* Repeated keys and keys that share a variable: the first wins. */
	{
		const char *dup = "ds1 from=a to=b id=%00 a-b=1 a_b=2 a-b=3\n\n";

		proto_parser_init(&p, PROTO_BODY_DEFAULT);
		CHECK(proto_parse(&p, dup, strlen(dup)) == PROTO_MSG);
		CHECK(svc_env_build(&env, &p.msg, "b") == 0);
		CHECK(getv(env.envp, "DS_A_B") &&
		    !strcmp(getv(env.envp, "DS_A_B"), "1"));
		/* An id that decodes to NUL is still answered with re. */
		buf_clear(&out);
		memset(&r, 0, sizeof r);
		buf_clear(&sout);
		CHECK(svc_reply(&out, &p.msg, "b", &r, &sout, &serr,
		    PROTO_BODY_DEFAULT) == 0);
		CHECK_MEM(buf_head(&out), buf_len(&out),
		    "ds1 from=b to=a type=rep re=%00 len=0\n\n");
	}
	unsetenv("DS_RE");
	unsetenv("DS_X_TRACE");
	unsetenv("DS_KEEP");
	svc_env_free(&env);
	buf_free(&out);
	buf_free(&sout);
	buf_free(&serr);
}
