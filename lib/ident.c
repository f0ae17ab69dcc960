#include "ident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "num.h"

int
ident_default(char *dst, char *err, size_t errlen)
{
	const char *env = getenv("DS_NAME");
	char host[256];
	size_t i, n;

	if (env != NULL && env[0] != '\0') {
		n = strlen(env);
		if (!proto_name_ok(env, n)) {
			char shown[80];

			snprintf(err, errlen, "invalid name in DS_NAME: '%s' "
			    "(names are 1 to 64 bytes of [A-Za-z0-9._-])",
			    err_printable(shown, sizeof shown, env, n));
			return -1;
		}
		memcpy(dst, env, n + 1);
		return 0;
	}
	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	n = strcspn(host, ".");
	if (n > PROTO_NAME_MAX)
		n = PROTO_NAME_MAX;
	for (i = 0; i < n; i++) {
		char c = host[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-';

		dst[i] = ok ? c : '-';
	}
	if (n == 0) {
		/* A host with no name still needs one to speak as. */
		memcpy(dst, "localhost", 10);
		return 0;
	}
	dst[n] = '\0';
	return 0;
}

int
ident_seq_init(struct ident_seq *s, const char *user)
{
	struct timespec ts;
	struct buf b;
	uint64_t v;

	memset(s, 0, sizeof *s);
	if (user != NULL) {
		size_t n = strlen(user);

		if (n == 0 || proto_encoded_len(user, n) > PROTO_TOKEN_MAX)
			return -1;
		if (num_parse_u64(user, n, UINT64_MAX / 2, NUM_CANON, &v) ==
		    NUM_OK) {
			s->mode = IDENT_COUNT;
			s->len = num_fmt_u64(s->text, v);
			return 0;
		}
		s->mode = IDENT_FIXED;
		buf_init(&b, IDENT_TEXT_MAX);
		if (proto_encode_value(&b, user, n) != 0) {
			buf_free(&b);
			return -1;
		}
		memcpy(s->text, buf_head(&b), buf_len(&b));
		s->len = buf_len(&b);
		buf_free(&b);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	v = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	s->len = num_fmt_u64(s->text, v);
	s->text[s->len++] = '-';
	s->digits_at = s->len;
	s->text[s->len++] = '1';
	s->mode = IDENT_AUTO;
	return 0;
}

size_t
ident_seq_peek_len(const struct ident_seq *s)
{
	size_t i;

	if (!s->started || s->mode == IDENT_FIXED)
		return s->len;
	/* Counting up adds a digit only when every digit is a nine. */
	for (i = s->digits_at; i < s->len; i++)
		if (s->text[i] != '9')
			return s->len;
	return s->len + 1;
}

/* Add one to the decimal digits at the end of the text. */
static void
count_up(struct ident_seq *s)
{
	size_t i = s->len;

	while (i > s->digits_at) {
		i--;
		if (s->text[i] != '9') {
			s->text[i]++;
			return;
		}
		s->text[i] = '0';
	}
	/* All nines: 999 becomes 1000.  Twenty digits cannot overflow. */
	memmove(s->text + s->digits_at + 1, s->text + s->digits_at,
	    s->len - s->digits_at);
	s->text[s->digits_at] = '1';
	s->len++;
}

const char *
ident_seq_next(struct ident_seq *s, size_t *len)
{
	if (s->started && s->mode != IDENT_FIXED)
		count_up(s);
	s->started = 1;
	s->text[s->len] = '\0';
	*len = s->len;
	return s->text;
}
