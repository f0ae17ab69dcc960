#include "../../lib/fmt.h"
#include "unit.h"

static int
renders(const char *format, const char *frame, const char *want, size_t n)
{
	struct proto_parser p;
	struct outq q;
	int ok;

	proto_parser_init(&p, PROTO_BODY_DEFAULT);
	if (proto_parse(&p, frame, strlen(frame)) != PROTO_MSG)
		return 0;
	outq_init(&q, -1);
	ok = fmt_render(&q, format, &p.msg) == 0 &&
	    buf_len(&q.copy) == n && memcmp(buf_head(&q.copy), want, n) == 0;
	outq_free(&q);
	return ok;
}

void
suite_fmt(void)
{
	const char *f = "ds1 from=a to=b type=req re=r%201 x-y=%41 id=7 len=2\nhi\n";
	char err[80];

	CHECK(fmt_check("%f %t %i %r %T %l %b %h %{x-y} %% \\n\\t\\0\\\\", err,
	    sizeof err) == 0);
	CHECK(fmt_check("%q", err, sizeof err) < 0 &&
	    strcmp(err, "unknown conversion %q") == 0);
	CHECK(fmt_check("abc%", err, sizeof err) < 0 &&
	    strcmp(err, "unknown conversion % ") == 0);
	CHECK(fmt_check("\\x", err, sizeof err) < 0 &&
	    strcmp(err, "unknown escape \\x") == 0);
	CHECK(fmt_check("%{Bad}", err, sizeof err) < 0 &&
	    strcmp(err, "%{ must hold a key and end in }") == 0);
	CHECK(fmt_check("%{open", err, sizeof err) < 0);

	CHECK(renders("%f>%t %T %i/%r %l:%b", f, "a>b req 7/r 1 2:hi", 18));
	CHECK(renders("[%{x-y}][%{none}]%%\\t\\0\\\\\\n", f,
	    "[A][]%\t\0\\\n", 10));
	CHECK(renders("%h", f, "ds1 from=a to=b type=req re=r%201 x-y=%41 "
	    "id=7 len=2", 52));
	/* Absent fields print nothing; the type defaults to msg. */
	CHECK(renders("<%i><%r><%T><%l>", "ds1 from=a to=b\n\n",
	    "<><><msg><0>", 12));
}
