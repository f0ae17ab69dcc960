#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

static void
close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

static int
parent_end(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

/*
 * A command that is nothing but plain words runs without a shell:
 * "sleep 0.5" costs one exec rather than two, which is most of a short
 * job's cost.  A word is plain when it holds only letters, digits and
 * _ - . / , : @ + = %, so that sh would pass it on unchanged, and the
 * first word must not be an assignment, a keyword or a builtin, which
 * sh would not run as a program.  Anything else, and a program that
 * cannot be run (not found, a script without #!), goes to sh -c, whose
 * answer is then exactly what it always was.
 */
#define PLAIN_WORDS 32
#define PLAIN_MAX 1024

static const char *const shell_words[] = {
	"!", ".", ":", "[", "alias", "bg", "break", "case", "cd", "command",
	"continue", "do", "done", "echo", "elif", "else", "esac", "eval",
	"exec", "exit", "export", "false", "fc", "fg", "fi", "for",
	"getopts", "hash", "if", "in", "jobs", "kill", "local", "printf",
	"pwd", "read", "readonly", "return", "set", "shift", "test", "then",
	"times", "trap", "true", "type", "ulimit", "umask", "unalias",
	"unset", "until", "wait", "while", NULL
};

static int
plain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
	    c == '/' || c == ',' || c == ':' || c == '@' || c == '+' ||
	    c == '=' || c == '%';
}

/*
 * Split cmd into argv (words kept in store) when it is plain words.
 * Returns the count of words, or 0 when it needs a shell.
 */
static int
plain_words(const char *cmd, char store[PLAIN_MAX], char *argv[])
{
	size_t n = strlen(cmd), i;
	int argc = 0, i2;

	if (n >= PLAIN_MAX)
		return 0;
	memcpy(store, cmd, n + 1);
	for (i = 0; i < n; i++) {
		if (store[i] == ' ' || store[i] == '\t') {
			store[i] = '\0';
			continue;
		}
		if (!plain_char(store[i]))
			return 0;
		if (i == 0 || store[i - 1] == '\0') {
			if (argc == PLAIN_WORDS)
				return 0;
			argv[argc++] = store + i;
		}
	}
	if (argc == 0 || strchr(argv[0], '=') != NULL)
		return 0;
	for (i2 = 0; shell_words[i2] != NULL; i2++)
		if (strcmp(argv[0], shell_words[i2]) == 0)
			return 0;
	argv[argc] = NULL;
	return argc;
}

extern char **environ;

/* Both spawners: group says whether the child leads a process group. */
static int
spawn(struct child *c, const char *cmd, char *const envp[], int group)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int saved, plain;
	pid_t pid;
	char store[PLAIN_MAX], *words[PLAIN_WORDS + 1];

	if (pipe(pin) < 0 || pipe(pout) < 0 || pipe(perr) < 0)
		goto fail;
	if (parent_end(pin[1]) < 0 || parent_end(pout[0]) < 0 ||
	    parent_end(perr[0]) < 0)
		goto fail;
	plain = plain_words(cmd, store, words);
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		char *argv[4];

		/*
		 * Both sides set the group, so that it is in place whichever
		 * runs first: before exec here, before any kill there.
		 */
		if (group && setpgid(0, 0) < 0)
			_exit(126);
		argv[0] = "sh";
		argv[1] = "-c";
		argv[2] = (char *)cmd;
		argv[3] = NULL;
		if (dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 ||
		    dup2(perr[1], 2) < 0)
			_exit(126);
		/* Close the originals unless dup2 landed them in place. */
		if (pin[0] > 2)
			close(pin[0]);
		if (pout[1] > 2)
			close(pout[1]);
		if (perr[1] > 2)
			close(perr[1]);
		signal(SIGPIPE, SIG_DFL);
		if (plain) {
			/* execvp() finds the program on envp's PATH. */
			environ = (char **)envp;
			execvp(words[0], words);
		}
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	/* EACCES here means the child has already exec'd, after its own. */
	if (group)
		(void)setpgid(pid, pid);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	c->pid = pid;
	c->in = pin[1];
	c->out = pout[0];
	c->err = perr[0];
	return 0;
fail:
	saved = errno;
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	errno = saved;
	return -1;
}

int
child_spawn(struct child *c, const char *cmd, char *const envp[])
{
	return spawn(c, cmd, envp, 0);
}

int
child_spawn_group(struct child *c, const char *cmd, char *const envp[])
{
	return spawn(c, cmd, envp, 1);
}

void
child_decode_status(int wstatus, struct child_result *r)
{
	if (WIFEXITED(wstatus)) {
		r->status = WEXITSTATUS(wstatus);
		r->signaled = 0;
	} else if (WIFSIGNALED(wstatus)) {
		r->status = 128 + WTERMSIG(wstatus);
		r->signaled = 1;
	} else {
		r->status = 255;
		r->signaled = 0;
	}
}

/* Read what is there into b; past its limit, read and drop.  1 at EOF. */
static int
drain(int fd, struct buf *b, int *overflow)
{
	char scratch[16384];

	for (;;) {
		char *dst = scratch;
		size_t room = sizeof scratch;
		ssize_t r;

		size_t want = b->limit - buf_len(b);

		/*
		 * A full buffer is not yet an overflow: only a byte that
		 * does not fit is, so output of exactly the limit is fine.
		 */
		if (want > 65536)
			want = 65536;
		if (!*overflow && want > 0 && buf_reserve(b, want) == BUF_OK) {
			dst = buf_tail(b);
			room = want;
		}
		r = read(fd, dst, room);
		if (r == 0)
			return 1;
		if (r < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR) ? 0 : 1;
		if (dst != scratch)
			buf_commit(b, (size_t)r);
		else
			*overflow = 1;
	}
}

int
child_run(const char *cmd, char *const envp[], const void *in,
    size_t inlen, int timeout_ms, struct buf *out, struct buf *err,
    struct child_result *r)
{
	const char *inp = in;
	long long deadline = timeout_ms >= 0 ? io_now_ms() + timeout_ms : 0;
	struct child c;
	int wstatus;

	memset(r, 0, sizeof *r);
	/*
	 * With a deadline the child gets a process group of its own, so that
	 * the kill reaches what it started too (a sleep holding our pipes);
	 * without one it stays in ours, and a ^C at the terminal reaches it.
	 */
	if ((timeout_ms >= 0 ? child_spawn_group(&c, cmd, envp) :
	    child_spawn(&c, cmd, envp)) < 0)
		return -1;
	if (inlen == 0) {
		close(c.in);
		c.in = -1;
	}
	while (c.in >= 0 || c.out >= 0 || c.err >= 0) {
		struct pollfd p[3];
		int np = 0, wait = -1, i;

		if (c.in >= 0) {
			p[np].fd = c.in;
			p[np++].events = POLLOUT;
		}
		if (c.out >= 0) {
			p[np].fd = c.out;
			p[np++].events = POLLIN;
		}
		if (c.err >= 0) {
			p[np].fd = c.err;
			p[np++].events = POLLIN;
		}
		if (timeout_ms >= 0) {
			long long left = deadline - io_now_ms();

			if (left <= 0) {
				kill(-c.pid, SIGKILL);
				kill(c.pid, SIGKILL);
				r->timed_out = 1;
				break;
			}
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		if (poll(p, (nfds_t)np, wait) < 0) {
			if (errno == EINTR)
				continue;
			if (timeout_ms >= 0)
				kill(-c.pid, SIGKILL);
			kill(c.pid, SIGKILL);
			break;
		}
		for (i = 0; i < np; i++) {
			if (p[i].revents == 0)
				continue;
			if (p[i].fd == c.in) {
				ssize_t w = write(c.in, inp, inlen);

				if (w > 0) {
					inp += w;
					inlen -= (size_t)w;
				}
				/* EPIPE: the child stopped reading. */
				if (inlen == 0 || (w < 0 && errno != EAGAIN &&
				    errno != EINTR)) {
					close(c.in);
					c.in = -1;
				}
			} else if (p[i].fd == c.out) {
				if (drain(c.out, out, &r->out_overflow)) {
					close(c.out);
					c.out = -1;
				}
			} else if (p[i].fd == c.err) {
				if (drain(c.err, err, &r->err_overflow)) {
					close(c.err);
					c.err = -1;
				}
			}
		}
	}
	if (c.in >= 0)
		close(c.in);
	if (c.out >= 0)
		close(c.out);
	if (c.err >= 0)
		close(c.err);
	while (waitpid(c.pid, &wstatus, 0) < 0)
		if (errno != EINTR)
			return -1;
	child_decode_status(wstatus, r);
	return 0;
}
