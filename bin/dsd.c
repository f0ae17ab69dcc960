/*
 * dsd: the hub.  Routes ds1 messages between clients by name, runs local
 * services, and answers control requests.  See dsd(1) and dsproto(7).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/addr.h"
#include "../lib/auth.h"
#include "../lib/err.h"
#include "../lib/hub.h"
#include "../lib/io.h"
#include "../lib/loop.h"
#include "../lib/net.h"
#include "../lib/num.h"
#include "../lib/proto.h"

#define USAGE "usage: dsd [-1iv] [-l address]... [-C control-socket] " \
	"[-n name] [-c maxconn] [-M max] [-Q queue-bytes] [-w seconds] " \
	"[-d seconds] [-I seconds] [-k keyfile] [-e name=command]... " \
	"[-P handlers] [-T seconds] [-x command]... [-K seconds] [-q jobs]"

#define DEFAULT_LISTEN "127.0.0.1:7070"
#define MAX_LISTEN 64
#define MAX_SERVICES 256
#define MAX_WORKERS 1024
#define HOUR_MS (3600u * 1000u)

struct config {
	int print_bound;                  /* -1 */
	int stdio;                        /* -i */
	const char *listen[MAX_LISTEN];   /* -l */
	int nlisten;
	const char *control;              /* -C */
	const char *keyfile;              /* -k */
	const char *service[MAX_SERVICES];/* -e */
	int nservice;
	const char **worker;              /* -x */
	int nworker;
	struct hub_config hub;
};

/* Unix socket files we made, removed at exit. */
static char *made[MAX_LISTEN + 1];
static int nmade;

static void
usage(void)
{
	fprintf(stderr, "%s\n", USAGE);
	exit(DS_EXIT_USAGE);
}

static void
log_line(void *ctx, const char *line)
{
	(void)ctx;
	err_warn("%s", line);
}

static int
seconds(const char *opt, const char *s, uint64_t max_ms)
{
	uint64_t ms;

	if (num_parse_seconds(s, max_ms, &ms) != NUM_OK || ms == 0)
		err_die(DS_EXIT_USAGE, "%s %s: expected seconds, such as 10 "
		    "or 0.5", opt, s);
	return (int)ms;
}

static uint64_t
count(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;

	if (num_parse_u64(s, strlen(s), max, 0, &v) != NUM_OK || v == 0)
		err_die(DS_EXIT_USAGE, "%s %s: expected a number from 1 to "
		    "%llu", opt, s, (unsigned long long)max);
	return v;
}

static void
options(struct config *cfg, int argc, char *argv[])
{
	uint64_t v;
	int c;

	while ((c = getopt(argc, argv, "1ivl:C:n:c:M:Q:w:d:I:k:e:P:T:x:K:q:")) !=
	    -1) {
		switch (c) {
		case '1':
			cfg->print_bound = 1;
			break;
		case 'i':
			cfg->stdio = 1;
			break;
		case 'v':
			cfg->hub.verbose = 1;
			break;
		case 'l':
			if (cfg->nlisten == MAX_LISTEN)
				err_die(DS_EXIT_USAGE, "-l: at most %d "
				    "addresses", MAX_LISTEN);
			cfg->listen[cfg->nlisten++] = optarg;
			break;
		case 'C':
			cfg->control = optarg;
			break;
		case 'n':
			if (!proto_name_ok(optarg, strlen(optarg)))
				err_die(DS_EXIT_USAGE, "-n %s: names are 1 to "
				    "64 bytes of [A-Za-z0-9._-]", optarg);
			cfg->hub.name = optarg;
			break;
		case 'c':
			cfg->hub.maxconn = count("-c", optarg, 1000000);
			break;
		case 'M':
			if (num_parse_size(optarg, 0, PROTO_BODY_MAX, &v) !=
			    NUM_OK || v == 0)
				err_die(DS_EXIT_USAGE, "-M %s: expected a size "
				    "such as 65536, 64k or 16M", optarg);
			cfg->hub.max_body = v;
			break;
		case 'Q':
			if (num_parse_size(optarg, 1024, (uint64_t)1 << 32,
			    &v) != NUM_OK)
				err_die(DS_EXIT_USAGE, "-Q %s: expected a size "
				    "from 1k to 4G, such as 1M", optarg);
			cfg->hub.queue = (size_t)v;
			break;
		case 'w':
			cfg->hub.write_ms = seconds("-w", optarg, HOUR_MS);
			break;
		case 'd':
			cfg->hub.hello_ms = seconds("-d", optarg, HOUR_MS);
			break;
		case 'I':
			cfg->hub.idle_ms = seconds("-I", optarg, 24 * HOUR_MS);
			break;
		case 'k':
			cfg->keyfile = optarg;
			break;
		case 'e':
			if (cfg->nservice == MAX_SERVICES)
				err_die(DS_EXIT_USAGE, "-e: at most %d "
				    "services", MAX_SERVICES);
			cfg->service[cfg->nservice++] = optarg;
			break;
		case 'P':
			cfg->hub.max_children = count("-P", optarg, 4096);
			break;
		case 'T':
			cfg->hub.child_ms = seconds("-T", optarg, 24 * HOUR_MS);
			break;
		case 'x':
			if (cfg->nworker == MAX_WORKERS)
				err_die(DS_EXIT_USAGE, "-x: at most %d workers",
				    MAX_WORKERS);
			if (cfg->worker == NULL && (cfg->worker = calloc(
			    MAX_WORKERS, sizeof *cfg->worker)) == NULL)
				err_die(DS_EXIT_SYS, "out of memory");
			if (optarg[0] == '\0')
				err_die(DS_EXIT_USAGE, "-x: expected a command");
			cfg->worker[cfg->nworker++] = optarg;
			break;
		case 'q':
			cfg->hub.jobs_max = count("-q", optarg, 1u << 24);
			break;
		case 'K':
			cfg->hub.keepalive_ms = strcmp(optarg, "0") == 0 ? -1 :
			    seconds("-K", optarg, HOUR_MS);
			break;
		default:
			usage();
		}
	}
	if (optind != argc) {
		err_warn("unexpected argument: %s", argv[optind]);
		usage();
	}
	if (cfg->stdio && cfg->nlisten > 0)
		err_die(DS_EXIT_USAGE, "-i serves standard input; it does not "
		    "go with -l");
	if (cfg->stdio && cfg->print_bound)
		err_die(DS_EXIT_USAGE, "-i uses standard output for the "
		    "connection; it does not go with -1");
}

static void
remove_made(void)
{
	int i;

	for (i = 0; i < nmade; i++)
		unlink(made[i]);
}

/* Listen on one -l or -C address; print it for -1. */
static void
listen_on(struct hub *h, const char *s, int control, int print)
{
	struct addr a;
	char err[300], name[300];
	int fd;

	if (addr_parse(s, &a, err, sizeof err) == -1)
		err_die(DS_EXIT_USAGE, "%s %s: %s", control ? "-C" : "-l", s,
		    err);
	if (control && a.kind != ADDR_UNIX)
		err_die(DS_EXIT_USAGE, "-C %s: the control socket is a Unix "
		    "socket path", s);
	fd = net_listen_mode(&a, SOMAXCONN, control ? 0600 : -1, err,
	    sizeof err);
	if (fd == -1)
		err_die(DS_EXIT_SYS, "%s", err);
	if (a.kind == ADDR_UNIX && nmade < MAX_LISTEN + 1 &&
	    (made[nmade] = strdup(a.path)) != NULL)
		nmade++;
	if (hub_listen(h, fd, control) == -1)
		err_die(DS_EXIT_SYS, "cannot watch %s:", s);
	if (print) {
		if (net_bound_name(fd, name, sizeof name) == -1)
			snprintf(name, sizeof name, "%s", s);
		printf("%s\n", name);
	}
}

/*
 * inetd makes the connection standard error too: our log lines would go
 * to the client, in the middle of its frames.  Then they go nowhere.
 */
static void
quiet_stderr_on_socket(void)
{
	struct stat in, er;
	int fd;

	if (fstat(0, &in) == -1 || fstat(2, &er) == -1 ||
	    in.st_dev != er.st_dev || in.st_ino != er.st_ino)
		return;
	if ((fd = open("/dev/null", O_WRONLY)) == -1)
		return;
	if (fd != 2) {
		dup2(fd, 2);
		close(fd);
	}
}

/* Sockets from systemd, or from inetd on standard input. */
static int
inherited(struct hub *h, int print)
{
	int fds[MAX_LISTEN];
	char (*names)[NET_NAME_MAX];
	char err[300], name[300];
	int n, i, kind;

	if ((names = malloc(MAX_LISTEN * sizeof *names)) == NULL)
		err_die(DS_EXIT_SYS, "out of memory");
	n = net_activation(fds, names, MAX_LISTEN, err, sizeof err);
	free(names);
	if (n == -1)
		err_die(DS_EXIT_SYS, "socket activation: %s", err);
	for (i = 0; i < n; i++) {
		kind = net_fd_kind(fds[i]);
		if (kind == NET_LISTENING) {
			if (hub_listen(h, fds[i], 0) == -1)
				err_die(DS_EXIT_SYS, "cannot watch fd %d:",
				    fds[i]);
			if (print && net_bound_name(fds[i], name,
			    sizeof name) == 0)
				printf("%s\n", name);
		} else if (kind == NET_CONNECTED && n == 1) {
			/* Accept=yes without StandardInput=socket. */
			if (hub_single(h, fds[i], fds[i]) == -1)
				err_die(DS_EXIT_SYS, "cannot serve fd %d:",
				    fds[i]);
		} else {
			err_die(DS_EXIT_USAGE, "socket activation: fd %d is "
			    "not a listening stream socket", fds[i]);
		}
	}
	if (n > 0)
		return n;
	kind = net_fd_kind(0);
	if (kind == NET_LISTENING) {
		/* inetd "wait", or systemd with StandardInput=socket. */
		if (hub_listen(h, 0, 0) == -1)
			err_die(DS_EXIT_SYS, "cannot watch standard input:");
		return 1;
	}
	if (kind == NET_CONNECTED) {
		/* inetd "nowait", tcpserver, systemd Accept=yes. */
		quiet_stderr_on_socket();
		int wfd = net_fd_kind(1) == NET_CONNECTED ? 1 : 0;

		(void)net_nodelay(0);
		if (hub_single(h, 0, wfd) == -1)
			err_die(DS_EXIT_SYS, "cannot serve standard input:");
		return 1;
	}
	return 0;
}

static struct hub *the_hub;

static void
on_term(struct loop *l, int signo, void *ctx)
{
	const struct config *cfg = ctx;

	(void)l;
	err_warn("%s: draining, then exiting", signo == SIGINT ? "SIGINT" :
	    "SIGTERM");
	hub_drain(the_hub, cfg->hub.write_ms > 0 ? cfg->hub.write_ms :
	    HUB_WRITE_MS);
}

int
main(int argc, char *argv[])
{
	struct config cfg;
	struct auth_key key;
	struct loop *l;
	struct hub *h;
	char err[300];
	size_t maxconn, maxfd;
	int i, rc;

	err_init(argv[0]);
	memset(&cfg, 0, sizeof cfg);
	options(&cfg, argc, argv);
	cfg.hub.log = log_line;
	signal(SIGPIPE, SIG_IGN);
	if (cfg.keyfile == NULL)
		cfg.keyfile = getenv("DS_KEY");
	if (cfg.keyfile != NULL && cfg.keyfile[0] != '\0') {
		if (auth_key_load(&key, cfg.keyfile, err, sizeof err) == -1)
			err_die(DS_EXIT_USAGE, "-k: %s", err);
		cfg.hub.key = &key;
	}
	maxconn = cfg.hub.maxconn ? cfg.hub.maxconn : HUB_MAXCONN;
	maxfd = maxconn + HUB_CONTROL_MAX + MAX_LISTEN + 8 + 3 *
	    (cfg.hub.max_children ? cfg.hub.max_children : HUB_CHILDREN) +
	    3 * (size_t)cfg.nworker;
	io_raise_nofile(maxfd + 16);
	if ((l = loop_new(maxfd)) == NULL)
		err_die(DS_EXIT_SYS, "cannot make the loop:");
	if ((h = hub_new(l, &cfg.hub, err, sizeof err)) == NULL)
		err_die(DS_EXIT_SYS, "%s", err);
	the_hub = h;
	for (i = 0; i < cfg.nservice; i++) {
		const char *eq = strchr(cfg.service[i], '=');
		char name[PROTO_NAME_MAX + 1];
		size_t n = eq != NULL ? (size_t)(eq - cfg.service[i]) : 0;

		if (eq == NULL || n == 0 || n > PROTO_NAME_MAX || eq[1] == '\0')
			err_die(DS_EXIT_USAGE, "-e %s: expected name=command",
			    cfg.service[i]);
		memcpy(name, cfg.service[i], n);
		name[n] = '\0';
		if (hub_service(h, name, eq + 1) == -1)
			err_die(DS_EXIT_USAGE, "-e %s: %s", cfg.service[i],
			    errno == EEXIST ? "that name is already a service" :
			    "names are 1 to 64 bytes of [A-Za-z0-9._-], other "
			    "than the hub's own");
	}
	atexit(remove_made);
	if (cfg.stdio) {
		if (hub_single(h, 0, 1) == -1)
			err_die(DS_EXIT_SYS, "cannot serve standard input:");
	} else if (cfg.nlisten == 0 && inherited(h, cfg.print_bound) > 0) {
		/* Sockets came from systemd or inetd. */
	} else {
		if (cfg.nlisten == 0)
			cfg.listen[cfg.nlisten++] = DEFAULT_LISTEN;
		for (i = 0; i < cfg.nlisten; i++)
			listen_on(h, cfg.listen[i], 0, cfg.print_bound);
	}
	if (cfg.control != NULL)
		listen_on(h, cfg.control, 1, 0);
	if (cfg.print_bound && fflush(stdout) == EOF)
		err_die(DS_EXIT_SYS, "cannot write the bound addresses:");
	for (i = 0; i < cfg.nworker; i++)
		if (hub_worker(h, cfg.worker[i]) == -1)
			err_die(DS_EXIT_SYS, "-x %s: cannot start it:",
			    cfg.worker[i]);
	if (loop_signal(l, SIGTERM, on_term, &cfg) == -1 ||
	    loop_signal(l, SIGINT, on_term, &cfg) == -1)
		err_die(DS_EXIT_SYS, "cannot take signals:");
	if (loop_run(l) == -1)
		err_die(DS_EXIT_SYS, "poll:");
	rc = hub_failed(h) ? DS_EXIT_DATA : DS_EXIT_OK;
	hub_free(h);
	loop_free(l);
	free(cfg.worker);
	return rc;
}
