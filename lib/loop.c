#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * epoll(7) is Linux's; glibc and musl declare it whatever the feature
 * macros say.  Elsewhere the loop is poll(2) only.
 */
#ifdef __linux__
#include <sys/epoll.h>
#define HAVE_EPOLL 1
#define USES_EPOLL(l) ((l)->epfd >= 0)
#else
#define USES_EPOLL(l) 0
#endif

/* Signals 1..LOOP_NSIG-1 can be taken; that covers Linux's 64. */
#define LOOP_NSIG 65
#define NO_SLOT ((size_t)-1)

/*
 * One registered fd.  Slots sit in registration order, in step with the
 * pollfd array of the poll backend; a deleted slot keeps its place (fn
 * NULL, pollfd fd -1) until compact() squeezes it out, so that deleting
 * never moves the slots of a round that is being dispatched.
 */
struct slot {
	int fd;
	unsigned want;
	loop_fd_fn *fn;
	void *ctx;
#ifdef HAVE_EPOLL
	/*
	 * The epoll backend's view of the fd.  The kernel's set lags the
	 * wants: loop_want() only marks the slot dirty, and the set is put
	 * right before the next epoll_wait(), so that interest switched off
	 * and on within a round costs no system call.
	 */
	uint32_t gen;           /* tells this registration from older ones */
	unsigned armed;         /* the interest in the epoll set, or 0 */
	unsigned char fake;     /* FAKE_*: reported without epoll */
	unsigned char dirty;    /* on the dirty list */
#endif
};

#ifdef HAVE_EPOLL
/* Why a slot that wants something is not in the epoll set. */
enum {
	FAKE_NONE,
	FAKE_FILE,      /* epoll refused it (EPERM): always ready, as in poll */
	FAKE_BAD        /* closed, or the kernel would not watch it: LOOP_ERR */
};

/* A ready fd of the epoll backend's round, found by its key. */
struct ready {
	size_t slot;            /* where it was when the round began */
	uint64_t key;           /* see ep_key() */
	unsigned events;        /* LOOP_* */
};
#endif

/*
 * A timer lives in a record that stays put while the heap moves its
 * index around, so a cancel finds it in O(1) from its id: the low 32
 * bits are the record's index, the high 32 its generation, which changes
 * each time the record is freed so that a stale id matches nothing.
 */
struct timer {
	int64_t when;
	uint64_t seq;           /* ties on when go in the order armed */
	loop_timer_fn *fn;      /* NULL: the record is free */
	void *ctx;
	uint32_t gen;
	uint32_t pos;           /* index in the heap, or the next free record */
};

struct loop {
	/* Descriptors. */
	struct pollfd *pfd;     /* the poll backend's; NULL with epoll */
	struct slot *slot;
	size_t len;             /* slots in use, dead ones included */
	size_t cap;             /* max_fds plus one for the self-pipe */
	size_t max_fds;
	size_t nuser;           /* live slots of the caller's */
	size_t ndead;
	size_t npolling;        /* live slots that are not parked */
	size_t *where;          /* fd -> slot, or NO_SLOT */
	size_t nwhere;

	/* The epoll backend; epfd is -1 with poll. */
	int epfd;
#ifdef HAVE_EPOLL
	struct epoll_event *ev;
	int nev;
	struct ready *ready;
	int *dirty;             /* fds of dirty slots, and maybe stale ones */
	size_t ndirty;
	size_t nfake;           /* slots with fake set */
	uint32_t gen;
#endif

	/* The round being dispatched: slots [next, npolled) are still due. */
	size_t next;
	size_t npolled;
	int running;
	int stopping;
	int64_t now;

	/* Timers: a binary min-heap of record indices. */
	struct timer *timer;
	uint32_t *heap;
	size_t nheap;
	size_t ntimer;          /* records allocated */
	size_t timer_cap;
	uint32_t free_timer;    /* head of the free records, or UINT32_MAX */
	uint64_t seq;

	/* Signals. */
	int sig_rfd, sig_wfd;
	struct {
		loop_signal_fn *fn;
		void *ctx;
		int installed;
		struct sigaction old;
	} sig[LOOP_NSIG];
};

/*
 * The handler can reach only globals.  One loop owns them at a time;
 * the handler marks the signal and writes a byte to wake poll, and the
 * flag, not the byte, says which signal came, so a full pipe loses
 * nothing.
 */
static volatile sig_atomic_t sig_pending[LOOP_NSIG];
static volatile sig_atomic_t sig_wake_fd = -1;
static struct loop *sig_owner;

static int64_t
clock_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#ifdef HAVE_EPOLL
/*
 * Make the epoll set and the arrays a round needs: epoll_wait() gets
 * room for every slot, so that one round sees every ready fd, as poll
 * does.
 */
static int
epoll_open(struct loop *l)
{
	size_t nev = l->cap;

	if (nev > (size_t)INT_MAX / sizeof *l->ev)
		nev = (size_t)INT_MAX / sizeof *l->ev;
	l->nev = (int)nev;
	l->ev = calloc(nev, sizeof *l->ev);
	l->ready = calloc(l->cap, sizeof *l->ready);
	l->dirty = calloc(l->cap, sizeof *l->dirty);
	if (l->ev == NULL || l->ready == NULL || l->dirty == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	return 0;
}
#endif

struct loop *
loop_new_flags(size_t max_fds, unsigned flags)
{
	struct loop *l;
	int saved;

	if ((flags & ~LOOP_POLL) != 0 ||
	    max_fds > (SIZE_MAX - 1) / sizeof(struct slot)) {
		errno = EINVAL;
		return NULL;
	}
	if ((l = calloc(1, sizeof *l)) == NULL)
		return NULL;
	l->max_fds = max_fds;
	l->cap = max_fds + 1;
	l->free_timer = UINT32_MAX;
	l->sig_rfd = l->sig_wfd = -1;
	l->epfd = -1;
	l->now = clock_ms();
	if ((l->slot = calloc(l->cap, sizeof *l->slot)) == NULL)
		goto fail;
#ifdef HAVE_EPOLL
	if ((flags & LOOP_POLL) == 0) {
		if (epoll_open(l) < 0)
			goto fail;
		return l;
	}
#endif
	if ((l->pfd = calloc(l->cap, sizeof *l->pfd)) == NULL)
		goto fail;
	return l;
fail:
	saved = errno;
	loop_free(l);
	errno = saved;
	return NULL;
}

struct loop *
loop_new(size_t max_fds)
{
	return loop_new_flags(max_fds, 0);
}

void
loop_free(struct loop *l)
{
	int s;

	if (l == NULL)
		return;
	for (s = 1; s < LOOP_NSIG; s++)
		if (l->sig[s].installed) {
			sigaction(s, &l->sig[s].old, NULL);
			sig_pending[s] = 0;
		}
	if (sig_owner == l) {
		sig_wake_fd = -1;
		sig_owner = NULL;
	}
	if (l->sig_rfd >= 0)
		close(l->sig_rfd);
	if (l->sig_wfd >= 0)
		close(l->sig_wfd);
	if (l->epfd >= 0)
		close(l->epfd);
#ifdef HAVE_EPOLL
	free(l->ev);
	free(l->ready);
	free(l->dirty);
#endif
	free(l->pfd);
	free(l->slot);
	free(l->where);
	free(l->timer);
	free(l->heap);
	free(l);
}

int64_t
loop_now(const struct loop *l)
{
	return l->now;
}

/* Descriptors. */

static size_t
slot_of(const struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nwhere)
		return NO_SLOT;
	return l->where[fd];
}

/* Make where[] cover fd.  0, or -1 with ENOMEM. */
static int
grow_where(struct loop *l, int fd)
{
	size_t n = l->nwhere ? l->nwhere : 64, i;
	size_t *w;

	while (n <= (size_t)fd)
		n *= 2;
	if (n > SIZE_MAX / sizeof *w) {
		errno = ENOMEM;
		return -1;
	}
	if ((w = realloc(l->where, n * sizeof *w)) == NULL)
		return -1;
	for (i = l->nwhere; i < n; i++)
		w[i] = NO_SLOT;
	l->where = w;
	l->nwhere = n;
	return 0;
}

/*
 * Squeeze out dead slots, keeping the order.  Safe in the middle of a
 * round: next and npolled are moved to where their slots went, and the
 * revents move with their slots.
 */
static void
compact(struct loop *l)
{
	size_t r, w = 0, next = l->len, npolled = l->len;

	for (r = 0; r < l->len; r++) {
		if (r == l->next)
			next = w;
		if (r == l->npolled)
			npolled = w;
		if (l->slot[r].fn == NULL)
			continue;
		if (w != r) {
			l->slot[w] = l->slot[r];
			if (l->pfd != NULL)
				l->pfd[w] = l->pfd[r];
			l->where[l->slot[w].fd] = w;
		}
		w++;
	}
	if (l->next >= l->len)
		next = w;
	if (l->npolled >= l->len)
		npolled = w;
	l->next = next;
	l->npolled = npolled;
	l->len = w;
	l->ndead = 0;
}

static short
poll_events(unsigned want)
{
	return (short)(((want & LOOP_IN) ? POLLIN : 0) |
	    ((want & LOOP_OUT) ? POLLOUT : 0));
}

#ifdef HAVE_EPOLL
/*
 * The epoll backend.  The kernel keys what it watches by fd and open
 * file, and hands back the 64 bits of data it was given; these carry the
 * fd and the slot's generation, so that an event of an fd that was
 * deleted in this round, and perhaps added again under the same number,
 * is told from one of the fd now registered.
 */
static uint64_t
ep_key(const struct slot *s)
{
	return (uint64_t)s->gen << 32 | (uint32_t)s->fd;
}

static int
key_fd(uint64_t key)
{
	return (int)(uint32_t)key;
}

static uint32_t
ep_events(unsigned want)
{
	/* Level-triggered, as poll(2) is. */
	return ((want & LOOP_IN) ? (uint32_t)EPOLLIN : 0) |
	    ((want & LOOP_OUT) ? (uint32_t)EPOLLOUT : 0);
}

static unsigned
ep_loop_events(uint32_t re)
{
	unsigned ev = 0;

	if (re & EPOLLIN)
		ev |= LOOP_IN;
	if (re & EPOLLOUT)
		ev |= LOOP_OUT;
	if (re & EPOLLHUP)
		ev |= LOOP_HUP;
	if (re & EPOLLERR)
		ev |= LOOP_ERR;
	return ev;
}

static void
ep_forget(struct loop *l, struct slot *s)
{
	struct epoll_event ev;

	/*
	 * A parked fd must leave the set: epoll reports EPOLLHUP and
	 * EPOLLERR whatever the interest, and a parked fd hears nothing.
	 * The call fails if the fd was closed, which took it out already.
	 */
	if (s->armed != 0) {
		memset(&ev, 0, sizeof ev);
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, &ev);
		s->armed = 0;
	}
}

/* Make the kernel's set agree with slot i's want. */
static void
ep_apply(struct loop *l, size_t i)
{
	struct slot *s = &l->slot[i];
	struct epoll_event ev;
	int op;

	s->dirty = 0;
	if (s->fake != FAKE_NONE) {
		/* Parking ends it; the next want tries epoll afresh. */
		if (s->want == 0) {
			s->fake = FAKE_NONE;
			l->nfake--;
		}
		return;
	}
	if (s->want == s->armed)
		return;
	if (s->want == 0) {
		ep_forget(l, s);
		return;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = ep_events(s->want);
	ev.data.u64 = ep_key(s);
	op = s->armed != 0 ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, s->fd, &ev) == 0) {
		s->armed = s->want;
		return;
	}
	/*
	 * EPERM is a regular file or a device without poll support, which
	 * poll(2) finds always ready.  Anything else means the fd was closed
	 * behind the loop's back (EBADF, or ENOENT when its number went to
	 * another file) or the kernel would not watch it (ENOMEM, ENOSPC):
	 * LOOP_ERR from now on, as poll reports POLLNVAL.
	 */
	s->fake = errno == EPERM ? FAKE_FILE : FAKE_BAD;
	ep_forget(l, s);
	l->nfake++;
}

/* Put the kernel's set right for every dirty slot. */
static void
ep_flush(struct loop *l)
{
	size_t k, i;

	for (k = 0; k < l->ndirty; k++) {
		/* A deleted slot's entry finds nothing, or its successor. */
		i = slot_of(l, l->dirty[k]);
		if (i != NO_SLOT && l->slot[i].dirty)
			ep_apply(l, i);
	}
	l->ndirty = 0;
}

static void
ep_mark(struct loop *l, size_t i)
{
	struct slot *s = &l->slot[i];

	if (s->dirty)
		return;
	/* Stale entries of deleted slots can fill it: then flush early. */
	if (l->ndirty == l->cap)
		ep_flush(l);
	l->dirty[l->ndirty++] = s->fd;
	s->dirty = 1;
}
#endif

static void
set_want(struct loop *l, size_t i, unsigned want)
{
	struct slot *s = &l->slot[i];

	if (s->want != 0 && want == 0)
		l->npolling--;
	else if (s->want == 0 && want != 0)
		l->npolling++;
	s->want = want;
#ifdef HAVE_EPOLL
	if (USES_EPOLL(l)) {
		/* Unchanged interest costs no system call, now or later. */
		if (s->fake != FAKE_NONE ? want == 0 : want != s->armed)
			ep_mark(l, i);
		return;
	}
#endif
	/* poll(2) skips a negative fd, so a parked fd costs it nothing. */
	l->pfd[i].fd = want ? s->fd : -1;
	l->pfd[i].events = poll_events(want);
}

/* Add without the checks on the caller's limit and bits. */
static int
add_slot(struct loop *l, int fd, unsigned want, loop_fd_fn *fn, void *ctx)
{
	size_t i;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (slot_of(l, fd) != NO_SLOT) {
		errno = EEXIST;
		return -1;
	}
	if ((size_t)fd >= l->nwhere && grow_where(l, fd) < 0)
		return -1;
	if (l->len == l->cap)
		compact(l);
	if (l->len == l->cap) {
		/* Only the self-pipe can get here, and it has its place. */
		errno = ENOSPC;
		return -1;
	}
	i = l->len++;
	l->slot[i].fd = fd;
	l->slot[i].want = 0;
	l->slot[i].fn = fn;
	l->slot[i].ctx = ctx;
#ifdef HAVE_EPOLL
	/*
	 * A new generation: the round's events of an fd deleted in it do
	 * not match this one.  The set learns of it before the next wait.
	 */
	l->slot[i].gen = ++l->gen;
	l->slot[i].armed = 0;
	l->slot[i].fake = FAKE_NONE;
	l->slot[i].dirty = 0;
#endif
	if (l->pfd != NULL) {
		l->pfd[i].fd = -1;
		l->pfd[i].events = 0;
		/* Past npolled, so this round does not dispatch it. */
		l->pfd[i].revents = 0;
	}
	set_want(l, i, want);
	l->where[fd] = i;
	return 0;
}

int
loop_add(struct loop *l, int fd, unsigned want, loop_fd_fn *fn, void *ctx)
{
	if (fn == NULL || (want & ~(LOOP_IN | LOOP_OUT)) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (fd >= 0 && slot_of(l, fd) == NO_SLOT && l->nuser >= l->max_fds) {
		errno = ENOSPC;
		return -1;
	}
	if (add_slot(l, fd, want, fn, ctx) < 0)
		return -1;
	l->nuser++;
	return 0;
}

int
loop_want(struct loop *l, int fd, unsigned want)
{
	size_t i = slot_of(l, fd);

	if ((want & ~(LOOP_IN | LOOP_OUT)) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (i == NO_SLOT) {
		errno = ENOENT;
		return -1;
	}
	set_want(l, i, want);
	return 0;
}

unsigned
loop_wanted(const struct loop *l, int fd)
{
	size_t i = slot_of(l, fd);

	return i == NO_SLOT ? 0 : l->slot[i].want;
}

static void
del_slot(struct loop *l, size_t i)
{
	struct slot *s = &l->slot[i];

#ifdef HAVE_EPOLL
	if (USES_EPOLL(l)) {
		/*
		 * Out of the set at once, not at the next flush: the caller
		 * closes the fd next, and the set must not outlive it.
		 */
		ep_forget(l, s);
		if (s->fake != FAKE_NONE)
			l->nfake--;
		s->fake = FAKE_NONE;
		if (s->want != 0)
			l->npolling--;
		s->want = 0;
	}
#endif
	if (l->pfd != NULL) {
		set_want(l, i, 0);
		l->pfd[i].revents = 0;
	}
	l->where[s->fd] = NO_SLOT;
	s->fn = NULL;
	s->ctx = NULL;
	l->ndead++;
}

void
loop_del(struct loop *l, int fd)
{
	size_t i = slot_of(l, fd);

	if (i == NO_SLOT || fd == l->sig_rfd)
		return;
	del_slot(l, i);
	l->nuser--;
}

/*
 * Run the callbacks of the signals that came; returns how many ran.
 * The pipe is emptied before the flags are read, so a signal that comes
 * in between leaves a byte for the next round: none is missed.
 */
static int
take_signals(struct loop *l)
{
	char drain[256];
	int s, n = 0;

	while (read(l->sig_rfd, drain, sizeof drain) > 0)
		;
	for (s = 1; s < LOOP_NSIG; s++) {
		if (!sig_pending[s])
			continue;
		sig_pending[s] = 0;
		if (l->sig[s].fn != NULL) {
			l->sig[s].fn(l, s, l->sig[s].ctx);
			n++;
		}
	}
	return n;
}

/*
 * The self-pipe's callback.  dispatch_fds() knows it and calls
 * take_signals() itself, to count the signals' callbacks.
 */
static void
on_sig_pipe(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)fd;
	(void)events;
	(void)ctx;
	take_signals(l);
}

static unsigned
loop_events(short re)
{
	unsigned ev = 0;

	if (re & POLLIN)
		ev |= LOOP_IN;
	if (re & POLLOUT)
		ev |= LOOP_OUT;
	if (re & POLLHUP)
		ev |= LOOP_HUP;
	if (re & (POLLERR | POLLNVAL))
		ev |= LOOP_ERR;
	return ev;
}

/*
 * Call back the slots that poll(2) found ready; it said how many, so the
 * scan stops at the last of them.  Returns how many callbacks ran.
 */
static int
dispatch_fds(struct loop *l, int ready)
{
	int n = 0;

	l->next = 0;
	l->npolled = l->len;
	while (ready > 0 && l->next < l->npolled) {
		size_t i = l->next++;
		struct slot s;
		unsigned ev;

		if (l->pfd[i].revents == 0)
			continue;
		ready--;
		/* A copy: the callback may move or free the slot. */
		s = l->slot[i];
		if (s.fn == NULL || s.want == 0)
			continue;
		/* What was unwanted since poll returned is not delivered. */
		ev = loop_events(l->pfd[i].revents) &
		    (s.want | LOOP_HUP | LOOP_ERR);
		l->pfd[i].revents = 0;
		if (ev == 0)
			continue;
		if (s.fn == on_sig_pipe) {
			/* Count the signals' callbacks, not the pipe's. */
			n += take_signals(l);
			continue;
		}
		s.fn(l, s.fd, ev, s.ctx);
		n++;
	}
	l->next = l->npolled = 0;
	return n;
}

#ifdef HAVE_EPOLL
static int
ready_cmp(const void *a, const void *b)
{
	const struct ready *ra = a, *rb = b;

	return ra->slot < rb->slot ? -1 : ra->slot > rb->slot;
}

/*
 * Call back what epoll_wait() returned, and the fds epoll cannot watch,
 * in registration order: the ready ones alone are sorted by slot, which
 * is cheap when few of many are ready.  Each is looked up again by its
 * key before its turn, since an earlier callback may have deleted it.
 * Returns how many callbacks ran.
 */
static int
ep_dispatch(struct loop *l, int nev)
{
	size_t nready = 0, i, k;
	int n = 0, sorted = 1;

	for (k = 0; k < (size_t)nev; k++) {
		uint64_t key = l->ev[k].data.u64;
		struct slot *s;

		/*
		 * No match means an fd closed behind the loop's back that
		 * another process keeps open: the kernel watches it still,
		 * and nothing can take it out (see loop.h).
		 */
		if ((i = slot_of(l, key_fd(key))) == NO_SLOT)
			continue;
		s = &l->slot[i];
		if (ep_key(s) != key || s->armed == 0 || s->fake != FAKE_NONE)
			continue;
		if (nready > 0 && l->ready[nready - 1].slot > i)
			sorted = 0;
		l->ready[nready].slot = i;
		l->ready[nready].key = key;
		l->ready[nready++].events = ep_loop_events(l->ev[k].events);
	}
	for (i = 0; l->nfake > 0 && i < l->len; i++) {
		struct slot *s = &l->slot[i];

		if (s->fn == NULL || s->fake == FAKE_NONE || s->want == 0)
			continue;
		if (nready > 0 && l->ready[nready - 1].slot > i)
			sorted = 0;
		l->ready[nready].slot = i;
		l->ready[nready].key = ep_key(s);
		l->ready[nready++].events =
		    s->fake == FAKE_FILE ? s->want : LOOP_ERR;
	}
	if (!sorted)
		qsort(l->ready, nready, sizeof *l->ready, ready_cmp);
	for (k = 0; k < nready; k++) {
		const struct ready *r = &l->ready[k];
		struct slot s;
		unsigned ev;

		if ((i = slot_of(l, key_fd(r->key))) == NO_SLOT ||
		    ep_key(&l->slot[i]) != r->key)
			continue;
		/* A copy: the callback may move or free the slot. */
		s = l->slot[i];
		/* What was unwanted since the wait is not delivered. */
		ev = r->events & (s.want | LOOP_HUP | LOOP_ERR);
		if (s.want == 0 || ev == 0)
			continue;
		if (s.fn == on_sig_pipe) {
			n += take_signals(l);
			continue;
		}
		s.fn(l, s.fd, ev, s.ctx);
		n++;
	}
	return n;
}
#endif

/* Timers. */

static int
timer_before(const struct loop *l, uint32_t a, uint32_t b)
{
	const struct timer *ta = &l->timer[a], *tb = &l->timer[b];

	return ta->when < tb->when ||
	    (ta->when == tb->when && ta->seq < tb->seq);
}

static void
heap_set(struct loop *l, size_t pos, uint32_t t)
{
	l->heap[pos] = t;
	l->timer[t].pos = (uint32_t)pos;
}

static void
heap_up(struct loop *l, size_t pos)
{
	uint32_t t = l->heap[pos];

	while (pos > 0) {
		size_t parent = (pos - 1) / 2;

		if (!timer_before(l, t, l->heap[parent]))
			break;
		heap_set(l, pos, l->heap[parent]);
		pos = parent;
	}
	heap_set(l, pos, t);
}

static void
heap_down(struct loop *l, size_t pos)
{
	uint32_t t = l->heap[pos];

	for (;;) {
		size_t child = 2 * pos + 1;

		if (child >= l->nheap)
			break;
		if (child + 1 < l->nheap &&
		    timer_before(l, l->heap[child + 1], l->heap[child]))
			child++;
		if (!timer_before(l, l->heap[child], t))
			break;
		heap_set(l, pos, l->heap[child]);
		pos = child;
	}
	heap_set(l, pos, t);
}

/* Take record t out of the heap and free it. */
static void
timer_remove(struct loop *l, uint32_t t)
{
	size_t pos = l->timer[t].pos;
	uint32_t last = l->heap[--l->nheap];

	if (pos < l->nheap) {
		heap_set(l, pos, last);
		if (pos > 0 && timer_before(l, last, l->heap[(pos - 1) / 2]))
			heap_up(l, pos);
		else
			heap_down(l, pos);
	}
	l->timer[t].fn = NULL;
	l->timer[t].ctx = NULL;
	/* Generation 0 is never used, so no id is ever 0. */
	if (++l->timer[t].gen == 0)
		l->timer[t].gen = 1;
	l->timer[t].pos = l->free_timer;
	l->free_timer = t;
}

static int
grow_timers(struct loop *l)
{
	size_t n = l->timer_cap ? l->timer_cap * 2 : 16;
	struct timer *t;
	uint32_t *h;

	/* Indices are 32 bits, and UINT32_MAX ends the free list. */
	if (l->timer_cap > UINT32_MAX / 4 || n > SIZE_MAX / sizeof *t) {
		errno = ENOMEM;
		return -1;
	}
	if ((t = realloc(l->timer, n * sizeof *t)) == NULL)
		return -1;
	l->timer = t;
	if ((h = realloc(l->heap, n * sizeof *h)) == NULL)
		return -1;
	l->heap = h;
	l->timer_cap = n;
	return 0;
}

uint64_t
loop_timer(struct loop *l, int64_t ms, loop_timer_fn *fn, void *ctx)
{
	struct timer *tm;
	uint32_t t;

	if (fn == NULL) {
		errno = EINVAL;
		return 0;
	}
	if (l->free_timer != UINT32_MAX) {
		t = l->free_timer;
		l->free_timer = l->timer[t].pos;
	} else {
		if (l->ntimer == l->timer_cap && grow_timers(l) < 0)
			return 0;
		t = (uint32_t)l->ntimer++;
		l->timer[t].gen = 1;
	}
	tm = &l->timer[t];
	/*
	 * A callback counts from the round's time, like the rest of the
	 * round; set-up code outside the loop counts from the clock, so time
	 * spent since the last round does not shorten its deadlines.
	 */
	if (!l->running)
		l->now = clock_ms();
	if (ms < 0)
		ms = 0;
	tm->when = ms > INT64_MAX - l->now ? INT64_MAX : l->now + ms;
	tm->seq = l->seq++;
	tm->fn = fn;
	tm->ctx = ctx;
	l->heap[l->nheap] = t;
	heap_up(l, l->nheap++);
	return (uint64_t)tm->gen << 32 | t;
}

int
loop_cancel(struct loop *l, uint64_t id)
{
	uint32_t t = (uint32_t)id, gen = (uint32_t)(id >> 32);

	if (gen == 0 || t >= l->ntimer || l->timer[t].fn == NULL ||
	    l->timer[t].gen != gen)
		return 0;
	timer_remove(l, t);
	return 1;
}

/*
 * Fire what is due by now.  A timer armed here gets a deadline of at
 * least now and a seq of at least limit, so it sorts after every timer
 * that was due when this began: meeting one at the top means the rest
 * can wait for the next round.
 */
static int
fire_timers(struct loop *l)
{
	uint64_t limit = l->seq;
	int n = 0;

	while (l->nheap > 0) {
		uint32_t t = l->heap[0];
		struct timer tm = l->timer[t];

		if (tm.when > l->now || tm.seq >= limit)
			break;
		/* Free it first: its callback may arm a timer in its place. */
		timer_remove(l, t);
		tm.fn(l, (uint64_t)tm.gen << 32 | t, tm.ctx);
		n++;
	}
	return n;
}

/* Signals. */

static void
on_signal(int signo)
{
	int saved = errno;

	if (signo > 0 && signo < LOOP_NSIG)
		sig_pending[signo] = 1;
	if (sig_wake_fd >= 0) {
		char b = (char)signo;
		ssize_t r = write(sig_wake_fd, &b, 1);

		/* A full pipe is already a wake-up. */
		(void)r;
	}
	errno = saved;
}

static int
nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

static int
open_sig_pipe(struct loop *l)
{
	int p[2], saved;

	if (pipe(p) < 0)
		return -1;
	if (nonblock_cloexec(p[0]) < 0 || nonblock_cloexec(p[1]) < 0 ||
	    add_slot(l, p[0], LOOP_IN, on_sig_pipe, NULL) < 0) {
		saved = errno;
		close(p[0]);
		close(p[1]);
		errno = saved;
		return -1;
	}
	l->sig_rfd = p[0];
	l->sig_wfd = p[1];
	sig_wake_fd = p[1];
	sig_owner = l;
	return 0;
}

int
loop_signal(struct loop *l, int signo, loop_signal_fn *fn, void *ctx)
{
	struct sigaction sa;

	if (signo <= 0 || signo >= LOOP_NSIG) {
		errno = EINVAL;
		return -1;
	}
	if (sig_owner != NULL && sig_owner != l) {
		errno = EBUSY;
		return -1;
	}
	if (fn == NULL) {
		if (l->sig[signo].installed &&
		    sigaction(signo, &l->sig[signo].old, NULL) < 0)
			return -1;
		l->sig[signo].installed = 0;
		l->sig[signo].fn = NULL;
		l->sig[signo].ctx = NULL;
		sig_pending[signo] = 0;
		return 0;
	}
	if (l->sig_rfd < 0 && open_sig_pipe(l) < 0)
		return -1;
	if (!l->sig[signo].installed) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		if (sigaction(signo, &sa, &l->sig[signo].old) < 0)
			return -1;
		l->sig[signo].installed = 1;
	}
	l->sig[signo].fn = fn;
	l->sig[signo].ctx = ctx;
	return 0;
}

/* Running. */

static int
poll_timeout(const struct loop *l, int max_wait_ms)
{
	int timeout = max_wait_ms < 0 ? -1 : max_wait_ms;

	if (l->nheap > 0) {
		int64_t d = l->timer[l->heap[0]].when - l->now;
		int t = d <= 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;

		if (timeout < 0 || t < timeout)
			timeout = t;
	}
	return timeout;
}

/* Wait and dispatch the fds with either backend. */
static int
wait_fds(struct loop *l, int timeout)
{
	int n;

#ifdef HAVE_EPOLL
	if (USES_EPOLL(l)) {
		/* poll(2) would find a fake one ready at once. */
		if (l->nfake > 0)
			timeout = 0;
		n = epoll_wait(l->epfd, l->ev, l->nev, timeout);
		l->now = clock_ms();
		if (n < 0)
			return -1;
		return n > 0 || l->nfake > 0 ? ep_dispatch(l, n) : 0;
	}
#endif
	n = poll(l->pfd, (nfds_t)l->len, timeout);
	l->now = clock_ms();
	if (n < 0)
		return -1;
	return n > 0 ? dispatch_fds(l, n) : 0;
}

int
loop_run_once(struct loop *l, int max_wait_ms)
{
	int n, timeout;

	if (l->running) {
		errno = EBUSY;
		return -1;
	}
	if (l->ndead > 0)
		compact(l);
#ifdef HAVE_EPOLL
	if (USES_EPOLL(l))
		ep_flush(l);
#endif
	l->now = clock_ms();
	timeout = poll_timeout(l, max_wait_ms);
	if (timeout < 0 && l->npolling == 0)
		return 0;
	l->running = 1;
	if ((n = wait_fds(l, timeout)) < 0) {
		if (errno != EINTR && errno != EAGAIN) {
			l->running = 0;
			return -1;
		}
		n = 0;
	}
	if (l->nheap > 0) {
		/* The fd callbacks may have taken a while. */
		l->now = clock_ms();
		n += fire_timers(l);
	}
	l->running = 0;
	return n;
}

int
loop_run(struct loop *l)
{
	int rc = 0;

	if (l->running) {
		errno = EBUSY;
		return -1;
	}
	while (!l->stopping && (l->npolling > 0 || l->nheap > 0)) {
		if (loop_run_once(l, -1) < 0) {
			rc = -1;
			break;
		}
	}
	l->stopping = 0;
	return rc;
}

void
loop_stop(struct loop *l)
{
	l->stopping = 1;
}
