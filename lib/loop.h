/*
 * loop: one event loop per process, with fds, timers and signals.
 *
 * A program registers each descriptor with a callback and a context
 * pointer (its connection struct, say), arms one-shot timers for its
 * deadlines, and asks for the signals it cares about; then it calls
 * loop_run() until something calls loop_stop().  Every callback runs in
 * the loop, one at a time, so no callback needs a lock, and a signal is
 * just another event: its handler only writes a byte to a self-pipe.
 *
 *   struct loop *l = loop_new(maxconn + 8);
 *   loop_add(l, listen_fd, LOOP_IN, on_accept, srv);
 *   loop_signal(l, SIGTERM, on_term, srv);
 *   c->hello_timer = loop_timer(l, 5000, on_hello_late, c);
 *   loop_run(l);
 *
 * Interest follows the buffers, as in OpenBSD nc: a reader whose input
 * buffer is full drops LOOP_IN with loop_want(), and a writer asks for
 * LOOP_OUT only while output is queued.  An fd that wants nothing is
 * parked: it stays registered but is not polled at all, so not even a
 * hangup wakes it until it asks for something again.
 *
 * The struct is opaque: one loop serves a whole process, so its
 * allocation costs nothing, and keeping the arrays, the timer heap and
 * the signal table private leaves callers a dozen calls to learn.  The
 * number of fds is fixed when the loop is made; timers are bounded only
 * by memory.  Nothing here prints or exits: calls return 0 (or an id)
 * or -1 with errno.  It is not for use from more than one thread.
 *
 * The kernel interface is epoll(7) on Linux, where a round costs time
 * in the number of ready fds rather than of registered ones, and poll(2)
 * elsewhere or when loop_new_flags() asks for it.  Both keep every
 * promise here alike but one, on an fd closed while registered, which
 * the text on events spells out.  "Polled" means watched by whichever
 * is in use.
 *
 * A round of loop_run_once() is: wait with the nearest timer's deadline
 * as its timeout; call back each ready fd in registration order (signal
 * callbacks run, lowest number first, in the turn of the self-pipe,
 * which registers at the first loop_signal()); then fire the timers
 * that are due, earliest first (equal deadlines in the order they were
 * armed).  Because fds go first, an event that arrives in the same round
 * as its deadline wins: the callback can cancel the timer before it
 * fires.  A callback may make any call here but loop_free(),
 * loop_run() and loop_run_once(), and its changes take effect at once:
 *   - loop_del() of an fd whose event is pending in this round means its
 *     callback does not run, and one whose loop_want() dropped LOOP_IN
 *     or LOOP_OUT is not called for it;
 *   - an fd added during a round is first called back in the next one;
 *   - a timer armed by a timer callback fires in a later round, never in
 *     the one that armed it, so a 0 ms timer that re-arms itself cannot
 *     starve the fds.
 */
#ifndef DS_LOOP_H
#define DS_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

/*
 * Events.  A callback gets the ones it wants that are ready, plus
 * LOOP_HUP and LOOP_ERR, which are reported whenever the fd is polled,
 * wanted or not.  LOOP_HUP may come with LOOP_IN while unread bytes
 * remain; read to end of file before closing, or the last bytes are
 * lost.  An fd the kernel cannot watch (a regular file, /dev/null) is
 * always ready for what it wants, as poll(2) has it.
 *
 * LOOP_ERR also stands for an fd that was closed while still
 * registered: close an fd only after loop_del().  poll(2) reports such
 * an fd (POLLNVAL) in the next round.  epoll cannot: closing an fd
 * takes it out of the epoll set without a word, so the loop learns of it
 * only when it next hands the fd to the kernel, which is in the first
 * round after loop_add() and in any round that begins with the fd's
 * interest changed (other bits, or parked and asking again).  LOOP_ERR
 * comes in that round; until then the fd is never ready.  Worse, while
 * a copy of it stays open (dup(2), or a child forked before the close),
 * the kernel goes on watching the copy: its events reach the closed
 * fd's callback, and after loop_del() the loop, unable to take the copy
 * out of the set, drops them, but they may wake every round.  The same
 * LOOP_ERR reports an fd that the kernel would not watch for want of
 * memory.
 */
#define LOOP_IN  0x1u   /* readable, or end of file, or a connection */
#define LOOP_OUT 0x2u   /* writable */
#define LOOP_HUP 0x4u   /* the peer hung up */
#define LOOP_ERR 0x8u   /* an error is pending on the fd, or it is closed */

typedef void loop_fd_fn(struct loop *l, int fd, unsigned events, void *ctx);
typedef void loop_timer_fn(struct loop *l, uint64_t id, void *ctx);
typedef void loop_signal_fn(struct loop *l, int signo, void *ctx);

/*
 * A loop for at most max_fds descriptors (0 is allowed: a loop of timers
 * and signals only).  NULL with errno on failure.  loop_new(n) is
 * loop_new_flags(n, 0).
 */
struct loop *loop_new(size_t max_fds);

/*
 * Flags: LOOP_POLL uses poll(2) even where epoll(7) is there, to test
 * it or to compare; elsewhere it changes nothing.  EINVAL for other bits.
 */
#define LOOP_POLL 0x1u
struct loop *loop_new_flags(size_t max_fds, unsigned flags);

/*
 * Free the loop, restore the signal dispositions it replaced and close
 * its self-pipe and epoll fd.  The caller's fds are left open.  Not
 * from a callback.
 */
void loop_free(struct loop *l);

/*
 * Watch fd for want (LOOP_IN, LOOP_OUT, both, or 0 to register it
 * parked).  The fd should be non-blocking: a callback must never block.
 * Returns 0, or -1 with errno: ENOSPC when max_fds are registered (not
 * EMFILE, which a server keeps for accept(2) running out of fds), EEXIST
 * when fd is already registered, EBADF for a negative fd, EINVAL for
 * other bits in want or a NULL fn, ENOMEM.
 */
int loop_add(struct loop *l, int fd, unsigned want, loop_fd_fn *fn,
    void *ctx);

/*
 * Change what fd is watched for; 0 parks it.  Returns 0, or -1 with
 * errno ENOENT when fd is not registered, EINVAL for bad bits.  It is
 * cheap enough to call after every event: the epoll set is brought up
 * to date before the next wait, so asking for what fd already has, or
 * changing it and back within a round, makes no system call.
 */
int loop_want(struct loop *l, int fd, unsigned want);

/* The interest fd has now (LOOP_IN|LOOP_OUT), or 0 if not registered. */
unsigned loop_wanted(const struct loop *l, int fd);

/*
 * Forget fd; nothing if it is not registered.  Safe from any callback,
 * its own included, and a pending event of fd in this round is dropped.
 * The caller closes fd afterwards, if it wants to.
 */
void loop_del(struct loop *l, int fd);

/*
 * Call fn once, ms milliseconds from now (a negative ms counts as 0):
 * from loop_now() inside a callback, from the clock outside the loop.
 * Returns the timer's id, never 0, or 0 with errno (ENOMEM, or EINVAL
 * for a NULL fn).  Adding and cancelling cost O(log n) in the number of
 * timers.
 */
uint64_t loop_timer(struct loop *l, int64_t ms, loop_timer_fn *fn,
    void *ctx);

/*
 * Cancel a timer that has not fired.  Returns 1 if it was pending, 0 if
 * the id is 0, unknown, already fired or already cancelled, so that a
 * caller may cancel without keeping track.  Safe from any callback,
 * including for a timer due in the same round.
 */
int loop_cancel(struct loop *l, uint64_t id);

/*
 * Call fn in the loop when signo arrives; fn NULL stops that and puts
 * back the disposition the loop replaced.  Deliveries that arrive before
 * the loop gets to them are merged into one call, as the kernel merges
 * pending signals.  The handler is installed with SA_RESTART, since the
 * self-pipe already wakes the loop; other blocking calls in the program go
 * on undisturbed.  Only one loop in a process may take signals.  Returns
 * 0, or -1 with errno: EINVAL for a bad signo, EBUSY when another loop
 * holds signals, or an error of pipe(2) or sigaction(2).
 */
int loop_signal(struct loop *l, int signo, loop_signal_fn *fn, void *ctx);

/*
 * CLOCK_MONOTONIC in milliseconds, read when the wait returns (and again
 * before the round's timers fire), so all callbacks of a round agree.
 */
int64_t loop_now(const struct loop *l);

/*
 * One round: wait at most max_wait_ms (negative: until the next timer or
 * fd event) and dispatch.  Returns the number of callbacks run, 0 when
 * the wait was interrupted or timed out, or -1 with errno: an error of
 * poll(2) or epoll_wait(2), or EBUSY when called from a callback.  With
 * no polled fd, no timer and a negative max_wait_ms, nothing could ever
 * happen, so it returns 0 at once instead of waiting forever.
 */
int loop_run_once(struct loop *l, int max_wait_ms);

/*
 * Run rounds until loop_stop() is called (the round in progress is
 * finished) or nothing is left to wait for: no polled fd and no timer.
 * Returns 0, or -1 with errno from loop_run_once().
 */
int loop_run(struct loop *l);

/*
 * Make loop_run() return after the current round.  A stop asked for
 * outside loop_run() makes the next loop_run() return after no rounds.
 */
void loop_stop(struct loop *l);

#endif
