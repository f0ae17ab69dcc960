#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

void
svc_env_init(struct svc_env *e)
{
	e->envp = NULL;
	e->n = e->cap = 0;
	/* A header is at most 4 KiB, so its variables fit well within this. */
	buf_init(&e->strings, 64 * 1024);
}

void
svc_env_free(struct svc_env *e)
{
	free(e->envp);
	buf_free(&e->strings);
	e->envp = NULL;
	e->n = e->cap = 0;
}

static int
push(struct svc_env *e, char *s)
{
	if (e->n + 2 > e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 64;
		char **p = realloc(e->envp, ncap * sizeof *p);

		if (p == NULL)
			return -1;
		e->envp = p;
		e->cap = ncap;
	}
	e->envp[e->n++] = s;
	e->envp[e->n] = NULL;
	return 0;
}

/* Write "DS_<KEY>=" for a key into dst, which holds SVC_NAME_MAX bytes. */
#define SVC_NAME_MAX (3 + PROTO_KEY_MAX + 1)
static size_t
env_name(char *dst, const char *key, size_t n)
{
	size_t i;

	memcpy(dst, "DS_", 3);
	for (i = 0; i < n && i < PROTO_KEY_MAX; i++) {
		char c = key[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (c == '-')
			c = '_';
		dst[3 + i] = c;
	}
	dst[3 + i] = '=';
	return 4 + i;
}

static int
put_value(struct buf *b, const char *v, size_t n)
{
	long dn;

	if (buf_reserve(b, n + 1) != BUF_OK)
		return -1;
	dn = proto_decode(v, n, buf_tail(b));
	if (dn < 0 || memchr(buf_tail(b), '\0', (size_t)dn) != NULL) {
		memcpy(buf_tail(b), v, n);
		dn = (long)n;
	}
	buf_commit(b, (size_t)dn);
	return buf_append_byte(b, '\0') == BUF_OK ? 0 : -1;
}

/* Is env entry s one that the message, or DS_NAME, will provide? */
static int
shadowed(const char *s, const struct proto_msg *m)
{
	static const char *const wk[] = {
		"DS_NAME=", "DS_FROM=", "DS_TO=", "DS_TYPE=", "DS_RE=",
		"DS_ID=", "DS_LEN="
	};
	char name[SVC_NAME_MAX];
	size_t i;
	int f;

	if (strncmp(s, "DS_", 3) != 0)
		return 0;
	for (i = 0; i < sizeof wk / sizeof wk[0]; i++)
		if (strncmp(s, wk[i], strlen(wk[i])) == 0)
			return 1;
	for (f = 0; f < m->nfields; f++) {
		struct proto_str k = proto_key(m, f);

		if (strncmp(s, name, env_name(name, k.p, k.n)) == 0)
			return 1;
	}
	return 0;
}

/*
 * Was a field before index f already exported under the same variable?
 * Repeated keys, and keys such as a-b and a_b that map to one name, give
 * the first field's value, as proto_lookup() does.
 */
static int
exported(const struct proto_msg *m, int f)
{
	char want[SVC_NAME_MAX], have[SVC_NAME_MAX];
	struct proto_str k = proto_key(m, f);
	size_t wn = env_name(want, k.p, k.n);
	int i;

	for (i = 0; i < f; i++) {
		k = proto_key(m, i);
		if (env_name(have, k.p, k.n) == wn &&
		    memcmp(have, want, wn) == 0)
			return 1;
	}
	return 0;
}

int
svc_env_build(struct svc_env *e, const struct proto_msg *m,
    const char *self)
{
	size_t offs[PROTO_FIELDS_MAX + 2];
	size_t nstr = 0, i;
	char **env;
	int f;

	e->n = 0;
	buf_clear(&e->strings);
	for (env = environ; env != NULL && *env != NULL; env++)
		if (!shadowed(*env, m) && push(e, *env) < 0)
			return -1;

	/*
	 * The strings buffer may move while it grows, so remember offsets
	 * and turn them into pointers once it is complete.
	 */
	for (f = 0; f < m->nfields; f++) {
		struct proto_str k = proto_key(m, f), v = proto_val(m, f);

		if (proto_str_eq(k, "name") || exported(m, f))
			continue;
		char name[SVC_NAME_MAX];

		offs[nstr++] = buf_len(&e->strings);
		if (buf_append(&e->strings, name, env_name(name, k.p, k.n)) !=
		    BUF_OK || put_value(&e->strings, v.p, v.n) < 0)
			return -1;
	}
	if (m->wk[PF_TYPE] < 0) {
		offs[nstr++] = buf_len(&e->strings);
		if (buf_append(&e->strings, "DS_TYPE=msg", 12) != BUF_OK)
			return -1;
	}
	if (m->wk[PF_LEN] < 0) {
		offs[nstr++] = buf_len(&e->strings);
		if (buf_append(&e->strings, "DS_LEN=0", 9) != BUF_OK)
			return -1;
	}
	offs[nstr++] = buf_len(&e->strings);
	if (buf_append(&e->strings, "DS_NAME=", 8) != BUF_OK ||
	    buf_append(&e->strings, self, strlen(self) + 1) != BUF_OK)
		return -1;
	for (i = 0; i < nstr; i++)
		if (push(e, buf_head(&e->strings) + offs[i]) < 0)
			return -1;
	return 0;
}

int
svc_wants(const struct proto_msg *m)
{
	struct proto_str t = proto_type(m);

	return !proto_str_eq(t, "rep") && !proto_str_eq(t, "err");
}

int
svc_reply(struct buf *out, const struct proto_msg *req, const char *self,
    const struct child_result *r, const struct buf *sout,
    const struct buf *serr, uint64_t max_body)
{
	struct proto_str from = proto_get(req, PF_FROM);
	struct proto_str id = proto_get(req, PF_ID);
	char to[PROTO_NAME_MAX + 1], re[PROTO_TOKEN_MAX + 1];
	char status[16];
	struct proto_kv kv[2];
	struct proto_hdr h;
	const char *body;
	size_t body_len;
	long n;

	memset(&h, 0, sizeof h);
	memcpy(to, from.p, from.n);
	to[from.n] = '\0';
	h.from = self;
	h.to = to;
	if (id.p != NULL) {
		/* Decoded here; the encoder encodes it again on the way out. */
		n = proto_decode(id.p, id.n, re);
		if (n > 0) {
			h.re = re;
			h.re_len = (size_t)n;
		}
	}
	if (r->status == 0 && !r->signaled && !r->out_overflow) {
		h.type = "rep";
		body = buf_head(sout);
		body_len = buf_len(sout);
	} else {
		h.type = "err";
		snprintf(status, sizeof status, "%d", r->status);
		kv[0].key = "status";
		kv[0].val = status;
		kv[0].val_len = strlen(status);
		h.extra = kv;
		h.nextra = 1;
		if (r->timed_out) {
			kv[1].key = "reason";
			kv[1].val = "timeout";
			kv[1].val_len = 7;
			h.nextra = 2;
		} else if (r->out_overflow) {
			kv[1].key = "reason";
			kv[1].val = "reply-too-large";
			kv[1].val_len = 15;
			h.nextra = 2;
		}
		body = buf_head(serr);
		body_len = buf_len(serr);
	}
	if (body_len > max_body)
		body_len = (size_t)max_body;
	return proto_encode(out, &h, body, body_len);
}
