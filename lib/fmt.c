#include "fmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "num.h"

int
fmt_check(const char *f, char *err, size_t errlen)
{
	for (; *f != '\0'; f++) {
		if (*f == '%') {
			f++;
			if (*f == '{') {
				const char *close = strchr(f, '}');

				if (close == NULL || !proto_key_ok(f + 1,
				    (size_t)(close - f - 1))) {
					snprintf(err, errlen, "%%{ must hold "
					    "a key and end in }");
					return -1;
				}
				f = close;
			} else if (*f == '\0' || strchr("ftirTlbh%", *f) ==
			    NULL) {
				snprintf(err, errlen, "unknown conversion %%%c",
				    *f ? *f : ' ');
				return -1;
			}
		} else if (*f == '\\') {
			f++;
			if (*f == '\0' || strchr("nt0\\", *f) == NULL) {
				snprintf(err, errlen, "unknown escape \\%c",
				    *f ? *f : ' ');
				return -1;
			}
		}
	}
	return 0;
}

/* Queue a field's value, percent-decoded. */
static int
put_value(struct outq *q, struct proto_str v)
{
	long n;

	if (v.p == NULL)
		return 0;
	if (buf_reserve(&q->copy, v.n) != BUF_OK) {
		errno = ENOMEM;
		return -1;
	}
	n = proto_decode(v.p, v.n, buf_tail(&q->copy));
	if (n > 0)
		buf_commit(&q->copy, (size_t)n);
	return 0;
}

static int
put_key(struct outq *q, const struct proto_msg *m, const char **fp)
{
	const char *f = *fp, *close = strchr(f, '}');
	char key[PROTO_KEY_MAX + 1];
	size_t n = (size_t)(close - f - 1);

	/* fmt_check() made sure of the } and of the key's length. */
	memcpy(key, f + 1, n);
	key[n] = '\0';
	*fp = close;
	return put_value(q, proto_lookup(m, key));
}

int
fmt_render(struct outq *q, const char *f, const struct proto_msg *m)
{
	char num[NUM_U64_MAXLEN];
	int rc = 0;

	for (; *f != '\0' && rc == 0; f++) {
		if (*f == '\\') {
			f++;
			rc = outq_copy(q, *f == 'n' ? "\n" : *f == 't' ? "\t" :
			    *f == '0' ? "" : "\\", 1);
			continue;
		}
		if (*f != '%') {
			rc = outq_copy(q, f, 1);
			continue;
		}
		switch (*++f) {
		case 'f':
			rc = put_value(q, proto_get(m, PF_FROM));
			break;
		case 't':
			rc = put_value(q, proto_get(m, PF_TO));
			break;
		case 'i':
			rc = put_value(q, proto_get(m, PF_ID));
			break;
		case 'r':
			rc = put_value(q, proto_get(m, PF_RE));
			break;
		case 'T':
			rc = put_value(q, proto_type(m));
			break;
		case 'l':
			rc = outq_copy(q, num, num_fmt_u64(num, m->body_len));
			break;
		case 'b':
			rc = outq_put(q, m->body, (size_t)m->body_len);
			break;
		case 'h':
			rc = outq_copy(q, m->frame, m->hdr_len - 1);
			break;
		case '%':
			rc = outq_copy(q, "%", 1);
			break;
		case '{':
			rc = put_key(q, m, &f);
			break;
		}
	}
	return rc;
}
