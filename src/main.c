/* spliced: command line, start-up order, signals.
 *
 * Start-up: read the configuration (nothing starts if it is wrong), open the error log,
 * make sure no other process listens on a Listen address, bind every listener once per
 * worker (SO_REUSEPORT) or share the one a service manager passed (socket activation,
 * sdlisten.c), fork the privileged helper (started as root, or a backend has
 * ProxyAutostart: it starts backends and binds a privileged port a reload adds), then stay
 * as the supervisor (supervise.c) of a forked serving process, forked again if it crashes,
 * on the same listeners and helper. The serving process leaves root, starts the workers,
 * then serves: SIGHUP reloads the configuration (a new generation of workers takes over),
 * SIGTERM/SIGINT stop gracefully: workers first, then the supervisor has the helper stop
 * the backends. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spliced/cfgcheck.h"
#include "spliced/config.h"
#include "spliced/file.h"
#include "spliced/helper.h"
#include "spliced/mime.h"
#include "spliced/log.h"
#include "spliced/notify.h"
#include "spliced/pidfile.h"
#include "spliced/privdrop.h"
#include "spliced/relay-t.h"
#include "spliced/sdlisten.h"
#include "spliced/stats.h"
#include "spliced/supervise.h"
#include "spliced/tls.h"
#include "spliced/trace.h"
#include "spliced/worker.h"

#include "spliced/version.h"

/* How long `-k stop` waits for the process to exit: a graceful stop takes at most 30 s
 * for the requests in flight, then the helper stops the backends. */
#define STOP_WAIT_MS 40000

/* How long a reload waits for the helper's answer. */
#define RELOAD_HELPER_MS 10000

/* One configuration and what was opened for it: a generation. The first one is made at
 * start; each reload (SIGHUP) that succeeds makes the next one, whose workers take over
 * while the previous generation's workers retire (worker_retire()). A generation is freed
 * when its workers have ended and no older generation is left (an older generation's
 * workers hand connections to this one's). Listening sockets and access log descriptors
 * are shared with the next generation when the address or path stays: main owns them and
 * closes each when the last generation that uses it is freed. */
struct gen {
	uint64_t number;
	struct config cfg;
	bool cfg_loaded;
	struct file_roots files;
	bool files_open;
	struct slot_shared **slots;  /* [cfg.nbackend] connection counts of backends with max=,
				      * all workers; shared with the generation before when the
				      * backend's name stays (reference counted) */
	int alog_fd[CFG_MAX_CUSTOMLOG];
	struct worker *w;            /* [nw] */
	unsigned nw;
	bool started;                /* its threads were created */
	bool live;                   /* registered with stats_live_add() */
	bool forced;                 /* its workers were told to stop (too many draining) */
	int (*lfd)[CFG_MAX_LISTEN + 1]; /* [nw]: each worker's listening sockets, */
	unsigned nlfd;               /* the Listen lines' then MetricsListen's */
	bool lact[CFG_MAX_LISTEN + 1]; /* that listener was passed by socket activation */
	uint16_t as_slot[CFG_MAX_AUTOSTART];
	struct tls_ctxs *tls;        /* TLS contexts (certificates and keys read) or NULL */
};

static int gen_tls(struct gen *g, int helper_sock, char *msg, size_t len);

#define MAX_GENS 16               /* generations alive at once (reloads still draining) */

static void usage(FILE *f)
{
	fprintf(f, "usage: spliced [-c FILE] [-t] [-k stop|reload] [-h] [-v]\n"
		   "  -c FILE  read the configuration from FILE (Apache httpd syntax)\n"
		   "  -t       check the configuration and exit (0: Syntax OK, 1: error)\n"
		   "  -k stop  send SIGTERM to the spliced named by the configuration's PidFile and\n"
		   "           wait for it to exit (0: stopped, 1: error, 2: still running after\n"
		   "           %u s, 3: was not running)\n"
		   "  -k reload  send SIGHUP to it: it reloads its configuration gracefully\n"
		   "           (0: signalled, 1: error, 3: not running; -k graceful is the same)\n"
		   "  -h       print this help\n"
		   "  -v       print the version\n"
		   "Without -c, the built-in configuration: Listen 127.0.0.1:8080, %s\n",
		STOP_WAIT_MS / 1000, config_builtin_demo() ? "the demo site (DocumentRoot demo/site) and /app/ proxied to "
					"the demo application, started on the first request"
				      : "ProxyPass / http://127.0.0.1:8000/");
}

static int listen_socket(const struct cfg_listen *l, char *err, size_t errlen)
{
	int one = 1;
	/* non-blocking: a retiring worker takes what is queued with accept4() (worker.c) */
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		goto out_err;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto out_close;
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0)
		goto out_close;
	if (listen(fd, 4096) < 0)
		goto out_close;
	return fd;
out_close:
	close(fd);
out_err:
	snprintf(err, errlen, "could not bind to address %s: %s", l->name, strerror(errno));
	return -1;
}

/* The listeners are bound with SO_REUSEPORT, one per worker, and SO_REUSEPORT would let
 * another process of the same user bind the same address and take a share of its
 * connections: a second spliced started on a running one's Listen would start without
 * error. So each address is first bound by a probe without SO_REUSEPORT (with
 * SO_REUSEADDR, as the listeners: a connection in TIME_WAIT does not count), which fails
 * with EADDRINUSE while any socket listens there; then it is closed and the workers' sockets
 * are bound. (Listen never has port 0: the configuration refuses it.) 0 or -errno with
 * err set. */
static int listen_probe(const struct cfg_listen *l, char *err, size_t errlen)
{
	int one = 1, ret = 0;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		ret = -errno;
		goto out_err;
	}
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0)
		ret = -errno;
	close(fd);
	if (ret == 0)
		return 0;
out_err:
	if (ret == -EADDRINUSE)
		snprintf(err, errlen, "could not bind to address %s: %s (another process listens "
			 "there)", l->name, strerror(-ret));
	else
		snprintf(err, errlen, "could not bind to address %s: %s", l->name, strerror(-ret));
	return ret;
}

/* Opens DocumentRoot and the Alias directories (before privileges are dropped: the
 * serving user then needs no search permission above them) and the MIME types. */
static int open_files(const struct config *cfg, struct file_roots *f, char *msg, size_t len)
{
	const char *names[CFG_MAX_INDEX];
	struct config_error merr;
	int ret;

	for (unsigned i = 0; i < cfg->ndir_index; i++)
		names[i] = cfg->dir_index[i];
	f->docroot.fd = -1;
	for (unsigned i = 0; i < CFG_MAX_ALIAS; i++)
		f->alias[i].fd = -1;
	if (cfg->document_root[0]) {
		ret = file_root_open(&f->docroot, cfg->document_root, cfg->follow_symlinks);
		if (ret < 0) {
			snprintf(msg, len, "DocumentRoot %.900s: %s", cfg->document_root, strerror(-ret));
			return ret;
		}
		file_root_set_index(&f->docroot, names, cfg->ndir_index);
	}
	for (unsigned i = 0; i < cfg->nalias; i++) {
		ret = file_root_open(&f->alias[i], cfg->alias[i].dir, cfg->follow_symlinks);
		if (ret < 0) {
			snprintf(msg, len, "Alias %.100s %.800s: %s", cfg->alias[i].prefix, cfg->alias[i].dir,
				 strerror(-ret));
			return ret;
		}
		file_root_set_index(&f->alias[i], names, cfg->ndir_index);
	}
	for (unsigned i = 0; i < CFG_MAX_ROOTS; i++)
		f->rwroot[i].fd = -1;
	for (unsigned i = 0; i < cfg->nroot; i++) {
		/* A rule may name a directory that is not there yet: its files are 404 then. */
		ret = file_root_open(&f->rwroot[i], cfg->file_root[i], cfg->follow_symlinks);
		if (ret < 0)
			log_warn("main", "RewriteRule file root %s: %s; its files will be 404",
				 cfg->file_root[i], strerror(-ret));
		else
			file_root_set_index(&f->rwroot[i], names, cfg->ndir_index);
	}
	f->mime = cfg->types_config[0] ? mime_load(cfg->types_config, &merr)
				       : mime_load_default(&merr);
	if (!f->mime) {
		config_error_format(&merr, msg, len);
		return -EINVAL;
	}
	return 0;
}

/* Each proxied connection holds two descriptors and each worker up to RELAY_POOL_MAX
 * pipes: raise the soft limit to the hard one (before leaving root) and say so when even
 * that cannot hold MaxConnections. */
static void raise_fd_limit(const struct config *cfg, unsigned nw)
{
	uint64_t need = 2ull * cfg->max_connections + 2ull * RELAY_POOL_MAX * nw +
			(uint64_t)cfg->nlisten * nw + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warn("main", "open files limit %llu is below the %llu that MaxConnections %u "
			 "needs; connections over it are refused", (unsigned long long)rl.rlim_cur,
			 (unsigned long long)need, cfg->max_connections);
}

static unsigned worker_count(const struct config *cfg)
{
	long n = cfg->workers ? (long)cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static void stats_report(const struct stats *s)
{
	const struct stats t = *s;

	log_notice("main",
		   "stats: connections=%llu requests=%llu 1xx=%llu 2xx=%llu 3xx=%llu 4xx=%llu "
		   "5xx=%llu no_response=%llu parse_errors=%llu spliced_bytes=%llu "
		   "copied_bytes=%llu splice_transfers=%llu backend_connects=%llu "
		   "backend_reuses=%llu backend_retries=%llu",
		   (unsigned long long)t.accepted, (unsigned long long)t.requests,
		   (unsigned long long)t.status[1], (unsigned long long)t.status[2],
		   (unsigned long long)t.status[3], (unsigned long long)t.status[4],
		   (unsigned long long)t.status[5], (unsigned long long)t.status[0],
		   (unsigned long long)t.parse_errors, (unsigned long long)t.bytes_spliced,
		   (unsigned long long)t.bytes_copied, (unsigned long long)t.splice_transfers,
		   (unsigned long long)t.up_connects, (unsigned long long)t.up_reuses,
		   (unsigned long long)t.up_retries);
}

static const struct gen *alog_gen;  /* the current generation: SIGUSR1 reopens its logs */
static uid_t log_owner;   /* who besides root may own a log file: User, or ourselves */

/* SIGUSR1: the access logs are reopened by path onto the same descriptors, which the
 * workers keep writing to. */
static int reopen_access_logs(void)
{
	int failed = 0;

	for (unsigned i = 0; alog_gen && i < alog_gen->cfg.ncustomlog; i++) {
		char msg[1024];
		int ret = log_reopen_fd(alog_gen->alog_fd[i], alog_gen->cfg.customlog[i].path,
					log_owner, msg, sizeof(msg));

		if (ret < 0) {
			log_error("main", "SIGUSR1: reopening CustomLog %s (the old file stays in use)",
				  msg);
			failed = ret;
		}
	}
	return failed;
}

/* Who besides root may own a log file that is opened or reopened: User when started as
 * root (the serving process, running as User, creates the new file after a rotation),
 * else the process's own user. 0 or -errno with msg set. */
static int log_owner_find(const struct config *cfg, char *msg, size_t len)
{
	gid_t gid;

	log_owner = geteuid();
	if (log_owner != 0)
		return 0;
	return privdrop_ids(cfg->user, cfg->group, &log_owner, &gid, msg, len);
}

/* Regular log files opened as root are handed to User/Group, so that the serving process
 * can reopen them on SIGUSR1 (logrotate's "create" then makes the new file with that
 * owner, or the log directory must be writable by User). Anything else (/dev/null, a
 * terminal, descriptors 1 and 2) is left as it is. */
static void log_give(int fd, const char *what, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (fchown(fd, uid, gid) < 0)
		log_warn("main", "%s: chown to uid %u: %s", what, (unsigned)uid, strerror(errno));
}

static int give_logs_to_user(const struct gen *g, char *msg, size_t len)
{
	const struct config *cfg = &g->cfg;
	char what[CFG_PATH_MAX + 16];
	uid_t uid;
	gid_t gid;
	int ret, efd = log_fd_get();

	if (geteuid() != 0)
		return 0;
	ret = privdrop_ids(cfg->user, cfg->group, &uid, &gid, msg, len);
	if (ret < 0)
		return ret;
	if (efd != STDERR_FILENO)
		log_give(efd, "ErrorLog", uid, gid);
	for (unsigned i = 0; i < cfg->ncustomlog; i++) {
		snprintf(what, sizeof(what), "CustomLog %s", cfg->customlog[i].path);
		log_give(g->alog_fd[i], what, uid, gid);
	}
	return 0;
}

/* CustomLog and TransferLog files, opened before privileges are dropped, with the rules
 * of log_file_open(); at a reload, a path the previous generation has keeps its
 * descriptor, a new one is opened as the serving user. */
static int open_access_logs(struct gen *g, const struct gen *prev, char *msg, size_t len)
{
	const struct config *cfg = &g->cfg;
	char why[1024];

	for (unsigned i = 0; i < CFG_MAX_CUSTOMLOG; i++)
		g->alog_fd[i] = -1;
	for (unsigned i = 0; i < cfg->ncustomlog; i++) {
		for (unsigned k = 0; prev && k < prev->cfg.ncustomlog; k++)
			if (strcmp(prev->cfg.customlog[k].path, cfg->customlog[i].path) == 0)
				g->alog_fd[i] = prev->alog_fd[k];
		if (g->alog_fd[i] >= 0)
			continue;
		g->alog_fd[i] = log_file_open(cfg->customlog[i].path, log_owner, why, sizeof(why));
		if (g->alog_fd[i] < 0) {
			int ret = g->alog_fd[i];

			snprintf(msg, len, "CustomLog %.1000s", why);
			return ret;
		}
	}
	return 0;
}

static pid_t helper_pid;

/* The built-in demo's application runs as nobody when spliced runs as root: a tree
 * checked out where others cannot enter (a home directory) makes it fail to start, and
 * /app/ answer 503. Say why at once. */
static void demo_reach_warning(const struct config *cfg)
{
	char p[CFG_PATH_MAX];
	const struct cfg_autostart *a = &cfg->autostart[0];
	struct stat st;

	if (geteuid() != 0 || cfg->nautostart != 1 || a->argc < 2)
		return;
	snprintf(p, sizeof(p), "%s", a->text + a->argv_off[1]);
	for (char *slash = strrchr(p, '/'); slash && slash != p; slash = strrchr(p, '/')) {
		*slash = '\0';
		if (stat(p, &st) == 0 && !(st.st_mode & S_IXOTH)) {
			log_warn("main", "the demo application %s cannot be started as user nobody: "
				 "%s is not searchable by others (chmod o+x it, or put the tree "
				 "elsewhere); /app/ will answer 503", a->text + a->argv_off[1], p);
			return;
		}
	}
}

/* A backend running as the serving process's user is reachable from it (signals, ptrace,
 * /proc/PID/environ): fine for a demo, worth a word in the log for anything else. */
static void autostart_same_user_notice(const struct config *cfg)
{
	uid_t suid, buid;
	gid_t sgid, bgid;
	char msg[256];

	if (geteuid() != 0 || privdrop_ids(cfg->user, cfg->group, &suid, &sgid, msg, sizeof(msg)) < 0)
		return;
	for (unsigned i = 0; i < cfg->nautostart; i++) {
		const struct cfg_autostart *a = &cfg->autostart[i];

		if (helper_backend_ids(cfg, a, &buid, &bgid, msg, sizeof(msg)) == 0 && buid == suid)
			log_notice("main", "ProxyAutostart %s runs as uid %u, the serving process's "
				   "user: give it its own User= to keep it out of spliced's reach",
				   cfg->backend[a->backend].name, (unsigned)buid);
	}
}

/* What start-up builds, phase by phase, for serve() and the shutdown. */
struct startup {
	struct gen *g;              /* the current generation */
	struct gen *gens[MAX_GENS]; /* every generation alive, oldest first (g is the last) */
	unsigned ngens;
	const char *cfg_path;       /* NULL: the built-in configuration */
	bool test_only;
	bool stop_other;            /* -k stop */
	bool reload_other;          /* -k reload */
	int pid_fd;                 /* PidFile written, -1: none */
	unsigned nw;
	int helper_sock;            /* main's conversation with the helper, -1: none */
	struct supervise sv;        /* the supervisor, and in a serving process its parent */
	sigset_t signals;           /* taken by the main thread only */
	char msg[1024];             /* why a phase failed */
};

/* The PidFile, when this process wrote it: removed, or emptied when the directory is no
 * longer writable after the privilege drop (see pidfile_remove()). */
static void pid_file_remove(struct startup *st)
{
	if (st->pid_fd < 0)
		return;
	if (pidfile_remove(st->g->cfg.pid_file, st->pid_fd) == 1)
		log_info("main", "PidFile %s emptied (its directory is not writable by uid %u)",
			 st->g->cfg.pid_file, (unsigned)geteuid());
	st->pid_fd = -1;
}

/* A phase failed after the error log was opened: the reason goes there and to stderr. */
static int startup_fail(struct startup *st)
{
	log_error("main", "%s", st->msg);
	fprintf(stderr, "spliced: %s\n", st->msg);
	notify_send("STATUS=start-up failed: %s\nERRNO=1\n", st->msg);
	pid_file_remove(st);
	return 1;
}

/* -k ACTION: stop, reload (graceful: the same). -1 to go on, else exit code. */
static int arg_k(struct startup *st, const char *action)
{
	if (strcmp(action, "stop") == 0) {
		st->stop_other = true;
		return -1;
	}
	if (strcmp(action, "reload") == 0 || strcmp(action, "graceful") == 0) {
		st->reload_other = true;
		return -1;
	}
	fprintf(stderr, "spliced: -k %s: unknown action (stop, reload or graceful)\n", action);
	usage(stderr);
	return 1;
}

/* -k stop, after the configuration is read: its PidFile names the process. */
static int stop_other(const struct startup *st)
{
	char msg[1200];
	enum pidfile_stop_code code;

	if (!st->g->cfg.pid_file[0]) {
		fprintf(stderr, "spliced: -k %s: %s has no PidFile directive\n",
			st->reload_other ? "reload" : "stop",
			st->cfg_path ? st->cfg_path : "the built-in configuration");
		return PIDFILE_ERROR;
	}
	code = st->reload_other ? pidfile_reload(st->g->cfg.pid_file, msg, sizeof(msg))
				: pidfile_stop(st->g->cfg.pid_file, STOP_WAIT_MS, msg, sizeof(msg));
	fprintf(code == PIDFILE_ERROR || code == PIDFILE_STILL_RUNNING ? stderr : stdout,
		"spliced: %s\n", msg);
	return (int)code;
}

/* -c FILE, -t, -k stop, -h, -v. Returns -1 to go on, else the exit code. */
static int phase_args(struct startup *st, int argc, char **argv)
{
	int opt, ret;

	while ((opt = getopt(argc, argv, "c:tk:hv")) != -1) {
		switch (opt) {
		case 'c':
			st->cfg_path = optarg;
			break;
		case 't':
			st->test_only = true;
			break;
		case 'k':
			ret = arg_k(st, optarg);
			if (ret >= 0)
				return ret;
			break;
		case 'v':
			printf("spliced %s\n", SPLICED_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	return -1;
}

/* Loads -c FILE; every error goes to stderr, one a line. Returns -1 to go on, or 1. */
static int config_report(struct startup *st)
{
	struct config_errors *errs = malloc(sizeof(*errs));
	int ret;

	if (!errs) {
		fprintf(stderr, "spliced: out of memory\n");
		return 1;
	}
	ret = config_load_all(&st->g->cfg, st->cfg_path, errs);
	for (unsigned i = 0; ret < 0 && i < errs->n; i++) {
		config_error_format(&errs->e[i], st->msg, sizeof(st->msg));
		fprintf(stderr, "spliced: %s\n", st->msg);
	}
	if (ret < 0 && errs->n == CFG_MAX_ERRORS)
		fprintf(stderr, "spliced: stopped after %d errors\n", CFG_MAX_ERRORS);
	free(errs);
	return ret < 0 ? 1 : -1;
}

static void config_test_print(void *arg, bool warning, const struct config_error *e)
{
	struct startup *st = arg;

	config_error_format(e, st->msg, sizeof(st->msg));
	fprintf(stderr, "spliced: %s%s\n", warning ? "warning: " : "", st->msg);
}

/* -t after a valid parse: what start-up would find missing (cfgcheck.h). */
static int config_test(struct startup *st)
{
	if (cfgcheck_run(&st->g->cfg, config_test_print, st) > 0)
		return 1;
	if (st->stop_other || st->reload_other)
		return -1;
	printf("Syntax OK\n");
	return 0;
}

/* The configuration (nothing starts if it is wrong), then the error log. Before the log is
 * open, errors go to stderr only. Returns -1 to go on, else the exit code. */
static int phase_config(struct startup *st)
{
	struct config_error cerr;
	int ret;

	if (st->cfg_path) {
		if (config_report(st) > 0)
			return 1;
	} else if ((ret = config_builtin(&st->g->cfg, &cerr)) < 0) {
		config_error_format(&cerr, st->msg, sizeof(st->msg));
		fprintf(stderr, "spliced: %s\n", st->msg);
		return 1;
	}
	st->g->cfg_loaded = true;
	if (st->test_only)
		return config_test(st);
	/* -k reload: a configuration that would not load is refused here, before any signal */
	if (st->reload_other && config_test(st) > 0)
		return 1;
	if (st->stop_other || st->reload_other)
		return stop_other(st);
	if (log_owner_find(&st->g->cfg, st->msg, sizeof(st->msg)) < 0) {
		fprintf(stderr, "spliced: %s\n", st->msg);
		return 1;
	}
	if (log_open(st->g->cfg.error_log, log_owner, st->msg, sizeof(st->msg)) < 0) {
		fprintf(stderr, "spliced: ErrorLog %s\n", st->msg);
		return 1;
	}
	if (st->g->cfg.scope[0].log_level >= 0)
		log_set_level((enum log_level)st->g->cfg.scope[0].log_level);
	if (!st->cfg_path)
		demo_reach_warning(&st->g->cfg);
	return -1;
}

static struct sdlisten activated;   /* the sockets the service manager passed, if any */
static bool socket_activated;       /* ... it passed some at start (they outlive us) */

/* The socket a worker accepts on for Listen line li (SDLISTEN_METRICS: MetricsListen):
 * its own duplicate of the passed socket, when the service manager passed one for that
 * address (every worker accepts on it), else a new SO_REUSEPORT socket. The descriptor,
 * or -1 with err set. */
static int listen_fd_for(unsigned li, const struct cfg_listen *l, char *err, size_t errlen)
{
	int fd = sdlisten_fd(&activated, li);

	if (fd < 0)
		return listen_socket(l, err, errlen);
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "%s: duplicating the passed socket: %s", l->name,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The sockets passed by socket activation (LISTEN_FDS), matched to their Listen lines;
 * those addresses are not probed: the passed socket is the listener. */
static int listen_activated(const struct config *cfg, char *msg, size_t len)
{
	if (sdlisten_from_env(&activated, msg, len) < 0 ||
	    sdlisten_match(&activated, cfg, msg, len) < 0)
		return -1;
	for (unsigned li = 0; li <= SDLISTEN_METRICS; li++) {
		int i = activated.of[li];

		if (i >= 0)
			log_notice("main", "%s %s: the socket passed as descriptor %d (name \"%s\")",
				   li == SDLISTEN_METRICS ? "MetricsListen" : "Listen",
				   li == SDLISTEN_METRICS ? cfg->metrics.name : cfg->listen[li].name,
				   activated.fd[i], activated.name[i]);
	}
	return 0;
}

static bool same_addr(const struct cfg_listen *a, const struct cfg_listen *b)
{
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* The index of address l among prev's listeners (its Listen lines, then MetricsListen),
 * or -1 (no prev, or not there). */
static int prev_index(const struct gen *prev, const struct cfg_listen *l)
{
	for (unsigned k = 0; prev && k < prev->cfg.nlisten; k++)
		if (same_addr(&prev->cfg.listen[k], l))
			return (int)k;
	if (prev && prev->cfg.metrics.addrlen && same_addr(&prev->cfg.metrics, l))
		return (int)prev->cfg.nlisten;
	return -1;
}

/* A new address at a reload that the serving user may not bind (a port below 1024): the
 * helper, which keeps CAP_NET_BIND_SERVICE, binds it from its own reading of the file
 * (Listen line li) and checks nothing else listens there; helper_bind() checks that what
 * it sends is a listener on a's address. 0 or -1 (err). */
static int listen_by_helper(struct gen *g, unsigned l, unsigned li, const struct cfg_listen *a,
			    int helper_sock, char *err, size_t errlen)
{
	unsigned k = l == g->cfg.nlisten ? 1 : g->nw;   /* MetricsListen: worker 0 only */
	int fds[HELPER_BIND_MAX];

	if (k > HELPER_BIND_MAX) {
		snprintf(err, errlen, "%s: the helper binds at most %u sockets for %u workers",
			 a->name, HELPER_BIND_MAX, k);
		return -1;
	}
	if (helper_bind(helper_sock, li, a, k, fds, RELOAD_HELPER_MS, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < k; i++)
		g->lfd[i][l] = fds[i];
	log_notice("main", "%s: bound by the helper (%u sockets)", a->name, k);
	return 0;
}

/* Every Listen address once per worker (SO_REUSEPORT), MetricsListen on worker 0's list
 * last, after checking that no other process listens there; or, at start, the socket the
 * service manager passed for it. At a reload an address the previous generation listens
 * on keeps its sockets (never closed: no connection is refused), and only new addresses
 * are bound, as the serving user, or by the helper (helper_sock >= 0) when that user
 * may not. 0 or -1 (msg). */
static int gen_listen(struct gen *g, const struct gen *prev, int helper_sock, char *msg,
		      size_t len)
{
	const struct config *cfg = &g->cfg;
	unsigned nl = cfg->nlisten + (cfg->metrics.addrlen ? 1 : 0);
	char m[1000];
	int ret;

	g->lfd = calloc(g->nw, sizeof(*g->lfd));
	if (!g->lfd) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < g->nw; i++)
		for (unsigned l = 0; l <= CFG_MAX_LISTEN; l++)
			g->lfd[i][l] = -1;
	g->nlfd = nl;
	for (unsigned l = 0; l < nl; l++) {
		const struct cfg_listen *a = l < cfg->nlisten ? &cfg->listen[l] : &cfg->metrics;
		const char *what = l < cfg->nlisten ? "" : "MetricsListen: ";
		unsigned li = l < cfg->nlisten ? l : SDLISTEN_METRICS;
		int k = prev_index(prev, a);

		if (k >= 0) {
			/* kept: the same sockets, every worker's */
			for (unsigned i = 0; i < g->nw; i++)
				g->lfd[i][l] = prev->lfd[i][k];
			g->lact[l] = prev->lact[k];
			continue;
		}
		g->lact[l] = !prev && sdlisten_fd(&activated, li) >= 0;
		ret = g->lact[l] ? 0 : listen_probe(a, m, sizeof(m));
		if (ret == -EACCES && prev && helper_sock >= 0) {
			if (listen_by_helper(g, l, li, a, helper_sock, m, sizeof(m)) < 0)
				goto fail;
			continue;
		}
		if (ret < 0)
			goto fail;
		for (unsigned i = 0; i < g->nw; i++) {
			/* MetricsListen: worker 0 only */
			if (l == cfg->nlisten && i > 0)
				break;
			g->lfd[i][l] = prev ? listen_socket(a, m, sizeof(m))
					    : listen_fd_for(li, a, m, sizeof(m));
			if (g->lfd[i][l] < 0)
				goto fail;
		}
		continue;
fail:
		snprintf(msg, len, "%s%s%s", what, m,
			 prev && helper_sock < 0 && ret == -EACCES ? " (spliced runs as its User "
			 "now, and no helper runs, which binds such a port when spliced starts as "
			 "root: a restart, or socket activation, is needed)" : "");
		return -1;
	}
	for (unsigned i = 0; i < g->nw; i++) {
		struct worker *w = &g->w[i];

		w->wake_fd = -1;
		w->inbox_fd = -1;
		w->helper_fd = -1;
		w->metrics_li = -1;
		w->all = g->w;
		w->nall = g->nw;
		w->gen = g->number;
		for (unsigned l = 0; l < nl; l++) {
			if (g->lfd[i][l] < 0)
				continue; /* MetricsListen on another worker */
			if (l == cfg->nlisten)
				w->metrics_li = (int)w->nlisten;
			w->listen_fd[w->nlisten++] = g->lfd[i][l];
		}
	}
	return 0;
}

static int phase_listen(struct startup *st)
{
	if (listen_activated(&st->g->cfg, st->msg, sizeof(st->msg)) < 0 ||
	    gen_listen(st->g, NULL, -1, st->msg, sizeof(st->msg)) < 0)
		return -1;
	socket_activated = activated.n > 0;
	sdlisten_close(&activated);   /* every worker has its own copy */
	return 0;
}

/* PidFile: written as root (before the drop), after phase_listen made sure no other
 * process listens on our addresses; still, a running spliced's PID file is never taken
 * over. 0 or -1 (st->msg). */
static int write_pid_file(struct startup *st)
{
	char m[sizeof(st->msg) - 32];
	pid_t other;
	int fd;

	if (!st->g->cfg.pid_file[0])
		return 0;
	if (pidfile_read(st->g->cfg.pid_file, &other, m, sizeof(m)) == 1 && other != getpid() &&
	    pidfile_is_spliced(other)) {
		snprintf(st->msg, sizeof(st->msg), "PidFile %.900s: spliced (pid %d) is running with "
			 "it; stop it first (spliced -k stop)", st->g->cfg.pid_file, (int)other);
		return -1;
	}
	fd = pidfile_write(st->g->cfg.pid_file, getpid(), m, sizeof(m));
	if (fd < 0) {
		snprintf(st->msg, sizeof(st->msg), "PidFile %s", m);
		return -1;
	}
	st->pid_fd = fd;
	return 0;
}

/* What only root may open: the access logs (handed to User), the static roots. Then the
 * helper, forked while this process is still single-threaded and privileged. 0 or -1. */
static int phase_privileged(struct startup *st)
{
	const struct config *cfg = &st->g->cfg;

	tzset(); /* %t: before privileges are dropped, the zone files may be unreadable after */
	if (write_pid_file(st) < 0)
		return -1;
	if (open_access_logs(st->g, NULL, st->msg, sizeof(st->msg)) < 0 ||
	    give_logs_to_user(st->g, st->msg, sizeof(st->msg)) < 0)
		return -1;
	st->g->files_open = true;
	if (open_files(cfg, &st->g->files, st->msg, sizeof(st->msg)) < 0 ||
	    gen_tls(st->g, -1, st->msg, sizeof(st->msg)) < 0)
		return -1;
	/* Started as root, the helper runs even without ProxyAutostart: it binds a port
	 * below 1024 that a reload adds (the serving process keeps no capability), and a
	 * reload may add ProxyAutostart lines. */
	if (cfg->nautostart || geteuid() == 0) {
		/* One conversation per worker, and the last one for this thread's shutdown. */
		int socks[st->nw + 1];
		char m[sizeof(st->msg) - 32];

		helper_pid = helper_spawn(cfg, st->cfg_path, st->nw + 1, socks, m, sizeof(m));
		if (helper_pid < 0) {
			snprintf(st->msg, sizeof(st->msg), "starting the helper: %s", m);
			return -1;
		}
		for (unsigned i = 0; i < st->nw; i++)
			st->g->w[i].helper_fd = socks[i];
		st->helper_sock = socks[st->nw];
		autostart_same_user_notice(cfg);
	}
	return 0;
}

/* Started as User/Group already (a service unit's User=, with socket activation): nothing
 * to apply and nothing to warn about. */
static bool runs_as_user(const struct config *cfg)
{
	char m[256];
	uid_t uid;
	gid_t gid;

	return privdrop_ids(cfg->user, cfg->group, &uid, &gid, m, sizeof(m)) == 0 &&
	       uid == getuid() && uid == geteuid() && gid == getgid() && gid == getegid();
}

/* User/Group, no capabilities, no_new_privs. 0 or -1. */
static int phase_drop(struct startup *st)
{
	int applied;

	if (privdrop_apply(st->g->cfg.user, st->g->cfg.group, &applied, st->msg, sizeof(st->msg)) < 0)
		return -1;
	if (applied)
		log_notice("main", "%s", st->msg);
	else if ((st->g->cfg.user[0] || st->g->cfg.group[0]) && !runs_as_user(&st->g->cfg))
		log_warn("main", "not started as root: User/Group cannot be applied, running as uid %u",
			 (unsigned)getuid());
	/* after the drop, which clears it */
	if (supervise_bind_to_parent(&st->sv) < 0) {
		snprintf(st->msg, sizeof(st->msg), "the supervisor (pid %d) ended",
			 (int)st->sv.self);
		return -1;
	}
	return 0;
}

/* Is fd used by a generation of st other than g? */
static bool fd_shared(const struct startup *st, const struct gen *g, int fd, bool listener)
{
	for (unsigned k = 0; k < st->ngens; k++) {
		const struct gen *o = st->gens[k];

		if (o == g)
			continue;
		for (unsigned i = 0; listener && o->lfd && i < o->nw; i++)
			for (unsigned l = 0; l < o->nlfd; l++)
				if (o->lfd[i][l] == fd)
					return true;
		for (unsigned i = 0; !listener && i < o->cfg.ncustomlog; i++)
			if (o->alog_fd[i] == fd)
				return true;
	}
	return false;
}

/* Frees g (its workers ended or never ran), closing the listening sockets and log files
 * that no other generation of st uses. g must not be in st->gens. */
static void gen_free(struct startup *st, struct gen *g)
{
	if (!g)
		return;
	if (g->live)
		stats_live_end(g->w);
	for (unsigned i = 0; g->w && i < g->nw; i++)
		if (g->w[i].cfg)   /* worker_init() was called */
			worker_destroy(&g->w[i]);
	for (unsigned i = 0; g->lfd && i < g->nw; i++)
		for (unsigned l = 0; l < g->nlfd; l++)
			if (g->lfd[i][l] >= 0 && !fd_shared(st, g, g->lfd[i][l], true))
				close(g->lfd[i][l]);
	/* two access logs of one path share a descriptor after a reload: closed once */
	for (unsigned i = 0; i < g->cfg.ncustomlog; i++) {
		bool seen = false;

		for (unsigned k = 0; k < i; k++)
			seen |= g->alog_fd[k] == g->alog_fd[i];
		if (g->alog_fd[i] >= 0 && !seen && !fd_shared(st, g, g->alog_fd[i], false))
			close(g->alog_fd[i]);
	}
	for (unsigned b = 0; g->slots && b < g->cfg.nbackend; b++)
		if (g->slots[b] && --g->slots[b]->refs == 0)
			free(g->slots[b]);
	if (g->files_open) {
		file_root_close(&g->files.docroot);
		for (unsigned i = 0; i < CFG_MAX_ALIAS; i++)
			file_root_close(&g->files.alias[i]);
		for (unsigned i = 0; i < CFG_MAX_ROOTS; i++)
			file_root_close(&g->files.rwroot[i]);
		mime_free((struct mime_table *)g->files.mime);
	}
	free(g->lfd);
	free(g->w);
	free(g->slots);             /* after the workers: their pools counted in them */
	tls_ctxs_free(g->tls);      /* after the workers: their sessions used them */
	if (g->cfg_loaded)
		config_free(&g->cfg);
	free(g);
}

/* A certificate or key file opened by the helper (tls_open_fn; arg: its conversation). */
static int gen_tls_open(void *arg, unsigned index, const struct tls_file *f, char *msg,
			size_t len)
{
	return helper_open(*(int *)arg, index, f, RELOAD_HELPER_MS, msg, len);
}

/* TLS: the certificates and keys, read now: as root at start (a key only root may read
 * works), and at a reload through the helper when there is one (helper_sock >= 0: it
 * opens the files its own reading of the configuration names, with the rights it kept
 * for that); without a helper, by the serving process, which then must be able to read
 * them. 0 or -1 (msg). */
static int gen_tls(struct gen *g, int helper_sock, char *msg, size_t len)
{
	static bool told;

	if (tls_ctxs_load_via(&g->cfg, &g->tls, NULL, NULL,
			      helper_sock >= 0 ? gen_tls_open : NULL, &helper_sock, msg, len) < 0)
		return -1;
	if (g->tls && !told) {
		told = true;
		if (tls_kernel_available())
			log_notice("main", "TLS: this kernel has kernel TLS, but spliced encrypts in "
				   "user space: bodies over TLS are copied");
		else
			log_notice("main", "TLS: this kernel has no kernel TLS (TCP_ULP \"tls\" "
				   "refused): records are encrypted in user space, bodies over TLS "
				   "are copied");
	}
	return 0;
}

static struct gen *gen_new(unsigned nw, uint64_t number)
{
	struct gen *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->w = calloc(nw, sizeof(*g->w));
	if (!g->w) {
		free(g);
		return NULL;
	}
	g->nw = nw;
	g->number = number;
	for (unsigned i = 0; i < CFG_MAX_CUSTOMLOG; i++)
		g->alog_fd[i] = -1;
	for (unsigned i = 0; i < CFG_MAX_AUTOSTART; i++)
		g->as_slot[i] = (uint16_t)i;
	return g;
}

/* The max= counts of g's backends: the previous generation's for a backend of the same
 * name (its connections still count), new ones for the others. 0 or -1. */
static int gen_slots(struct gen *g, const struct gen *prev)
{
	g->slots = calloc(g->cfg.nbackend ? g->cfg.nbackend : 1, sizeof(*g->slots));
	if (!g->slots)
		return -1;
	for (unsigned b = 0; b < g->cfg.nbackend; b++) {
		for (unsigned k = 0; prev && k < prev->cfg.nbackend && !g->slots[b]; k++)
			if (strcmp(prev->cfg.backend[k].name, g->cfg.backend[b].name) == 0)
				g->slots[b] = prev->slots[k];
		if (!g->slots[b] && !(g->slots[b] = calloc(1, sizeof(*g->slots[b]))))
			return -1;
		g->slots[b]->refs++;
	}
	return 0;
}

/* Every worker of g made ready (nothing runs yet). 0 or -1 (msg). */
static int gen_prepare(struct gen *g, const struct gen *prev, char *msg, size_t len)
{
	unsigned per_worker = (g->cfg.max_connections + g->nw - 1) / g->nw;
	int ret;

	if (gen_slots(g, prev) < 0) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < g->nw; i++) {
		g->w[i].slots = g->slots;
		g->w[i].files = &g->files;
		memcpy(g->w[i].alog_fd, g->alog_fd, sizeof(g->alog_fd));
		g->w[i].gen = g->number;
		g->w[i].tls_ctxs = g->tls;
		ret = worker_init(&g->w[i], &g->cfg, i, per_worker);
		if (ret < 0) {
			snprintf(msg, len, "worker %u: %s", i, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* g's worker threads start; returns once each has its ring (or one could not make it:
 * then they are stopped and joined). 0 or -1 (msg). */
static int gen_run(struct gen *g, char *msg, size_t len)
{
	int ret;

	for (unsigned i = 0; i < g->nw; i++)
		memcpy(g->w[i].as_slot, g->as_slot, sizeof(g->as_slot));
	ret = stats_live_add(g->w, g->nw);
	if (ret < 0) {
		snprintf(msg, len, "%s", ret == -EBUSY ? "too many earlier configurations are still "
			 "finishing their requests" : strerror(-ret));
		return -1;
	}
	g->live = true;
	for (unsigned i = 0; i < g->nw; i++) {
		ret = pthread_create(&g->w[i].thread, NULL, worker_main, &g->w[i]);
		if (ret) {
			snprintf(msg, len, "worker %u: pthread_create: %s", i, strerror(ret));
			goto fail;
		}
	}
	/* bounded: a ring is made in microseconds; 10 s means something is badly wrong */
	for (unsigned t = 0; t < 10000; t++) {
		struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000 };
		unsigned ok = 0;

		for (unsigned i = 0; i < g->nw; i++) {
			int r = __atomic_load_n(&g->w[i].ready, __ATOMIC_ACQUIRE);

			if (r < 0) {
				snprintf(msg, len, "worker %u could not set up its io_uring (the error "
					 "log says why)", i);
				goto fail;
			}
			ok += r > 0;
		}
		if (ok == g->nw) {
			g->started = true;
			return 0;
		}
		nanosleep(&ms, NULL);
	}
	snprintf(msg, len, "the workers did not start within 10 s");
fail:
	for (unsigned k = 0; k < g->nw; k++) {
		if (!g->w[k].thread)
			continue;
		worker_stop(&g->w[k]);
		pthread_join(g->w[k].thread, NULL);
		g->w[k].thread = 0;
	}
	return -1;
}

static int phase_workers(struct startup *st)
{
	if (gen_prepare(st->g, NULL, st->msg, sizeof(st->msg)) < 0 ||
	    gen_run(st->g, st->msg, sizeof(st->msg)) < 0)
		return -1;
	stats_set_current(&st->g->cfg);
	st->gens[st->ngens++] = st->g;
	alog_gen = st->g;
	for (unsigned l = 0; l < st->g->cfg.nlisten; l++)
		log_notice("main", "spliced %s listening on %s, %u workers", SPLICED_VERSION,
			   st->g->cfg.listen[l].name, st->nw);
	/* The listeners were listening since phase_listen and every worker runs now. */
	notify_send("READY=1\nSTATUS=serving on %s%s, %u workers\nMAINPID=%d\n",
		    st->g->cfg.listen[0].name, st->g->cfg.nlisten > 1 ? " and more" : "", st->nw,
		    (int)st->sv.self);
	supervise_ready(&st->sv);
	return 0;
}

/* ---- reload (SIGHUP) ---------------------------------------------------------------- */

/* What a reload cannot change in a running spliced: it says so, and keeps the running
 * configuration. 0 or -1 (msg). */
static int reload_fixed(const struct startup *st, const struct config *n, char *msg, size_t len)
{
	const struct config *o = &st->g->cfg;
	const char *what = NULL;

	if (strcmp(o->user, n->user) != 0)
		what = "User";
	else if (strcmp(o->group, n->group) != 0)
		what = "Group";
	else if (worker_count(n) != st->nw)
		what = "Workers";
	else if (strcmp(o->error_log, n->error_log) != 0)
		what = "ErrorLog";
	else if (strcmp(o->pid_file, n->pid_file) != 0)
		what = "PidFile";
	else if ((o->nautostart == 0) != (n->nautostart == 0) && helper_pid <= 0)
		what = "ProxyAutostart (the helper that starts backends is forked at start only)";
	if (!what)
		return 0;
	snprintf(msg, len, "%s cannot change on a reload: restart spliced (spliced -k stop, "
		 "then start it) to apply it", what);
	return -1;
}

/* The helper re-reads the configuration too (it trusts nothing the serving process
 * could send) and says which of its slots each ProxyAutostart is; the descriptions it
 * parsed must be the ones this process parsed (else the file changed in between). */
static int reload_helper(struct startup *st, struct gen *g, char *msg, size_t len)
{
	if (helper_pid <= 0 || st->helper_sock < 0)
		return 0;
	return helper_reload_ask(st->helper_sock, &g->cfg, g->as_slot, RELOAD_HELPER_MS, msg, len);
}

/* At a reload, generation from stops listening on the sockets that generation to does not
 * use: shutdown(2), not close, so that the descriptor numbers stay valid while from's
 * workers finish; new connections are refused at once, and a connection the kernel had
 * queued there that no retiring worker took yet (worker_accept_queued()) is reset. Sockets passed by socket activation are left
 * listening: they are the service manager's. (A graceful stop: worker_begin_stop().) */
static void listeners_shut(const struct gen *from, const struct gen *to)
{
	for (unsigned i = 0; from->lfd && i < from->nw; i++) {
		for (unsigned l = 0; l < from->nlfd; l++) {
			int fd = from->lfd[i][l];
			bool kept = false;

			for (unsigned k = 0; to && to->lfd && k < to->nw; k++)
				for (unsigned m = 0; m < to->nlfd; m++)
					kept |= to->lfd[k][m] == fd;
			if (fd >= 0 && !kept && !from->lact[l])
				shutdown(fd, SHUT_RDWR);
		}
	}
}

/* Retiring workers have no deadline (a download or a WebSocket goes on while it moves):
 * when half the generations spliced keeps are still finishing, the oldest one is stopped
 * as at a graceful stop (its idle connections close, the others get Timeout, at most
 * 30 s), so that reloads in a row can go on. */
static void reload_limit_draining(struct startup *st)
{
	struct gen *old;
	unsigned active = 0;

	if (st->ngens < MAX_GENS / 2 || st->gens[0]->forced)
		return;
	old = st->gens[0];
	old->forced = true;
	for (unsigned i = 0; i < old->nw; i++) {
		if (old->w[i].thread)
			worker_stop(&old->w[i]);
		active += old->w[i].active;
	}
	log_notice("main", "%u earlier configurations are still finishing their requests: the "
		   "oldest (%llu, about %u connections) stops now, as at a graceful stop",
		   st->ngens - 1, (unsigned long long)old->number, active);
}

/* The new configuration from path: 0, or -1 with the first error in msg (and, when there
 * are more, every one in the error log). */
static int reload_load(struct gen *g, const char *path, char *msg, size_t len)
{
	struct config_errors *errs = malloc(sizeof(*errs));
	int ret;

	if (!errs) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	ret = config_load_all(&g->cfg, path, errs);
	if (ret < 0 && errs->n) {
		/* more than one: each on its own line, the first again in the summary */
		for (unsigned i = 0; errs->n > 1 && i < errs->n; i++) {
			char one[1200];

			config_error_format(&errs->e[i], one, sizeof(one));
			log_error("main", "reload: %s", one);
		}
		config_error_format(&errs->e[0], msg, len);
		if (errs->n > 1) {
			size_t l = strlen(msg);

			snprintf(msg + l, len - l, " (and %u more errors, above)", errs->n - 1);
		}
	} else if (ret < 0) {
		snprintf(msg, len, "%s: %s", path, strerror(-ret));
	}
	free(errs);
	return ret < 0 ? -1 : 0;
}

/* SIGHUP: the configuration is read and checked; a bad one changes nothing. A good one
 * gets its own workers, which take over the listening sockets (kept when the address
 * stays), while the previous workers finish their requests and hand their idle
 * connections over. Returns true when the new configuration took effect. */
static bool reload(struct startup *st)
{
	struct config_error cerr;
	struct timespec mono;
	struct gen *g;
	char msg[1200];
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration\n",
		    (unsigned long long)mono.tv_sec * 1000000ull +
			    (unsigned long long)mono.tv_nsec / 1000);
	log_notice("main", "caught SIGHUP, reloading %s", st->cfg_path ? st->cfg_path
							  : "the built-in configuration");
	reload_limit_draining(st);
	g = st->ngens < MAX_GENS ? gen_new(st->nw, st->g->number + 1) : NULL;
	if (!g) {
		snprintf(msg, sizeof(msg), st->ngens < MAX_GENS ? "out of memory"
				: "%u earlier configurations are still finishing their requests",
			 st->ngens);
		goto fail;
	}
	ret = st->cfg_path ? reload_load(g, st->cfg_path, msg, sizeof(msg))
			   : config_builtin(&g->cfg, &cerr);
	g->cfg_loaded = true;   /* a failed parse holds what it had compiled: freed too */
	if (ret < 0) {
		if (!st->cfg_path)
			config_error_format(&cerr, msg, sizeof(msg));
		goto fail;
	}
	if (reload_fixed(st, &g->cfg, msg, sizeof(msg)) < 0 ||
	    gen_listen(g, st->g, helper_pid > 0 ? st->helper_sock : -1, msg, sizeof(msg)) < 0 ||
	    open_access_logs(g, st->g, msg, sizeof(msg)) < 0)
		goto fail;
	g->files_open = true;
	/* what can fail comes before the helper, which applies the new ProxyAutostart lines
	 * as soon as it has read them */
	if (open_files(&g->cfg, &g->files, msg, sizeof(msg)) < 0 ||
	    gen_tls(g, helper_pid > 0 ? st->helper_sock : -1, msg, sizeof(msg)) < 0 ||
	    gen_prepare(g, st->g, msg, sizeof(msg)) < 0 ||
	    reload_helper(st, g, msg, sizeof(msg)) < 0)
		goto fail;
	for (unsigned i = 0; i < g->nw; i++) {
		g->w[i].helper_fd = st->g->w[i].helper_fd;
		g->w[i].helper_lent = true;   /* until the new workers run */
	}
	if (gen_run(g, msg, sizeof(msg)) < 0)
		goto fail;
	/* The new workers run: the previous ones retire in their favour. */
	for (unsigned i = 0; i < st->nw; i++) {
		g->w[i].helper_lent = false;
		st->g->w[i].helper_lent = true;
		worker_retire(&st->g->w[i], &g->w[i]);
	}
	listeners_shut(st->g, g);
	st->g = g;
	st->gens[st->ngens++] = g;
	alog_gen = g;
	stats_set_current(&g->cfg);
	if (g->cfg.scope[0].log_level >= 0)
		log_set_level((enum log_level)g->cfg.scope[0].log_level);
	stats_reload_count(true, g->number);
	TRACE_RELOAD(g->number, 1);
	log_notice("main", "configuration %llu in use: listening on %s%s; the requests in flight "
		   "finish on the previous one", (unsigned long long)g->number,
		   g->cfg.listen[0].name, g->cfg.nlisten > 1 ? " and more" : "");
	notify_send("READY=1\nSTATUS=serving on %s%s, %u workers (configuration %llu)\n",
		    g->cfg.listen[0].name, g->cfg.nlisten > 1 ? " and more" : "", st->nw,
		    (unsigned long long)g->number);
	return true;
fail:
	log_error("main", "reload failed, the running configuration stays in use: %s", msg);
	gen_free(st, g);
	stats_reload_count(false, st->g->number);
	TRACE_RELOAD(st->g->number, 0);
	notify_send("READY=1\nSTATUS=reload failed (%s); serving on the previous "
		    "configuration\n", msg);
	return false;
}

/* The supervisor is done: the serving process stopped (or crashed too often). The helper
 * stops the backends as at every stop: the serving process's conversations are closed,
 * and this process's copies now. */
static void supervisor_end(struct startup *st, int code)
{
	for (unsigned i = 0; i < st->g->nw; i++) {
		if (st->g->w[i].helper_fd >= 0)
			close(st->g->w[i].helper_fd);
		st->g->w[i].helper_fd = -1;
	}
	if (st->sv.helper > 0) {
		int hret = helper_shutdown(st->sv.helper, st->helper_sock, &st->g->cfg);

		if (hret != 0)
			log_error("main", "the helper ended with %d", hret);
	} else if (st->helper_sock >= 0) {
		close(st->helper_sock);
	}
	st->helper_sock = -1;
	pid_file_remove(st);
	st->ngens = 0;
	gen_free(st, st->g);
	st->g = NULL;
	log_notice("main", code ? "stopped (exit status %d)" : "stopped", code);
	notify_send("STATUS=stopped\n");
	notify_close();
}

/* The process that started becomes the supervisor (supervise.h), holding what the
 * privileged set-up opened; a child drops privileges and serves. Returns -1 in the serving
 * process (go on), else the supervisor's exit code. */
static int phase_supervise(struct startup *st)
{
	char m[sizeof(st->msg) - 32];
	int code = 0, ret;

	/* The service manager's socket, connected while it is reachable; every serving
	 * process inherits it (NotifyAccess=all). */
	if (notify_init(m, sizeof(m)) < 0)
		log_warn("main", "%s: readiness is not reported", m);
	/* what only start-up needed (binding, opening, chown) is done */
	if (privdrop_supervisor(st->msg, sizeof(st->msg)) < 0)
		return startup_fail(st);
	st->sv.helper = helper_pid;
	ret = supervise_run(&st->sv, &st->signals, &code);
	if (ret < 0) {
		snprintf(st->msg, sizeof(st->msg), "forking the serving process: %s",
			 strerror(-ret));
		return startup_fail(st);
	}
	if (ret == 0) {
		/* the supervisor owns the PidFile, and the helper is its child */
		if (st->pid_fd >= 0)
			close(st->pid_fd);
		st->pid_fd = -1;
		return -1;
	}
	supervisor_end(st, code);
	return code;
}

/* A serving process started after a crash: what its predecessor left unread on the
 * helper's conversation is dropped, and a configuration reloaded since start is read
 * again (the supervisor holds the one read at start). */
static void phase_respawned(struct startup *st)
{
	int n;

	if (st->sv.started <= 1)
		return;
	n = st->helper_sock >= 0 ? helper_conv_drain(st->helper_sock) : 0;
	log_notice("main", "serving again after a crash (serving process %u)%s", st->sv.started,
		   st->sv.reloads ? "; the configuration was reloaded since start: reloading it"
				  : "");
	if (n > 0)
		log_info("main", "%d messages of the helper to the previous serving process dropped",
			 n);
	if (st->sv.reloads)
		reload(st);
}

/* ---- serving -------------------------------------------------------------------------- */

static void gens_stop(struct startup *st, bool refuse)
{
	for (unsigned k = 0; k < st->ngens; k++)
		for (unsigned i = 0; i < st->gens[k]->nw; i++)
			if (st->gens[k]->w[i].thread) {
				/* refuse new connections at once (worker_begin_stop()) */
				st->gens[k]->w[i].refuse_on_stop = refuse && !socket_activated;
				worker_stop(&st->gens[k]->w[i]);
			}
}

/* Joins the workers that ended; frees the oldest generations whose workers all ended.
 * Returns how many workers still run; *died: a worker of the current generation ended
 * while nothing asked it to. */
static unsigned gens_reap(struct startup *st, bool stopping, int *code, bool *died)
{
	unsigned running = 0;

	for (unsigned k = 0; k < st->ngens; k++) {
		struct gen *g = st->gens[k];

		for (unsigned i = 0; i < g->nw; i++) {
			struct worker *w = &g->w[i];

			if (w->thread && pthread_tryjoin_np(w->thread, NULL) == 0) {
				w->thread = 0;
				if (w->exit_code)
					*code = 1;
				if (g == st->g && !stopping) {
					log_error("main", "worker %u ended unexpectedly; stopping", i);
					*died = true;
				}
			}
			running += w->thread != 0;
		}
	}
	/* oldest first: a younger generation's workers receive the older ones' connections */
	while (st->ngens > 1 && st->gens[0] != st->g) {
		struct gen *g = st->gens[0];
		bool ended = true;

		for (unsigned i = 0; i < g->nw; i++)
			ended &= g->w[i].thread == 0;
		if (!ended)
			break;
		memmove(st->gens, st->gens + 1, (st->ngens - 1) * sizeof(st->gens[0]));
		st->ngens--;
		log_info("main", "configuration %llu: its last requests finished",
			 (unsigned long long)g->number);
		gen_free(st, g);
	}
	return running;
}

/* Waits for signals: SIGHUP reloads, SIGUSR1 reopens the logs, SIGTERM/SIGINT (or a worker
 * that ended on its own) stops everyone gracefully. */
static int serve(struct startup *st)
{
	bool stopping = false, died = false;
	int code = 0;

	for (;;) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 200000000 };
		int sig = sigtimedwait(&st->signals, NULL, &ts);

		if (sig == SIGUSR1) {
			char why[1024];
			int ret = log_reopen(why, sizeof(why));

			/* The helper writes to the error log too (when it runs as another user,
			 * signal it yourself: pidof spliced lists both). */
			if (helper_pid > 0 && kill(helper_pid, SIGUSR1) < 0 && errno != EPERM)
				log_warn("main", "SIGUSR1 to the helper: %s", strerror(errno));

			if (ret < 0)
				log_error("main", "SIGUSR1: reopening the error log: %s (the old "
					  "file stays in use; the log directory must be writable by User)",
					  why);
			if (reopen_access_logs() == 0 && ret == 0)
				log_notice("main", "caught SIGUSR1, logs reopened");
		}
		if (sig == SIGHUP && !stopping)
			reload(st);
		if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			log_notice("main", "caught %s, shutting down gracefully",
				   sig == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
			notify_send("STOPPING=1\nSTATUS=stopping: finishing the requests in "
				    "flight\n");
			gens_stop(st, true);
		}
		if (!gens_reap(st, stopping, &code, &died))
			break;
		if (died && !stopping) {
			stopping = true;
			code = 1;
			notify_send("STOPPING=1\nSTATUS=stopping: a worker ended unexpectedly\n");
			/* the listeners stay: the supervisor starts a new serving process on them */
			gens_stop(st, false);
		}
	}
	return code;
}

/* After serve(): the workers are gone; the helper stops the backends. */
static void phase_shutdown(struct startup *st)
{
	struct stats t;

	stats_total(&t);
	stats_report(&t);
	while (st->ngens > 1) {
		struct gen *g = st->gens[0];

		memmove(st->gens, st->gens + 1, (st->ngens - 1) * sizeof(st->gens[0]));
		st->ngens--;
		gen_free(st, g);
	}
	/* the current generation's workers close the conversations with the helper */
	for (unsigned i = 0; i < st->g->nw; i++) {
		if (st->g->w[i].cfg)
			worker_destroy(&st->g->w[i]);
		st->g->w[i].cfg = NULL;
	}
	/* the supervisor keeps its copies: it stops the helper once this process is gone */
	if (st->helper_sock >= 0)
		close(st->helper_sock);
	st->helper_sock = -1;
	st->ngens = 0;
	gen_free(st, st->g);
	st->g = NULL;
	log_info("main", "serving process %u stopped", st->sv.started);
	notify_close();
	stats_live_clear();
}

int main(int argc, char **argv)
{
	static struct startup st = { .helper_sock = -1, .pid_fd = -1 };
	int ret;

	ret = phase_args(&st, argc, argv);
	if (ret >= 0)
		return ret;
	st.g = gen_new(1, 1);
	if (!st.g) {
		fprintf(stderr, "spliced: out of memory\n");
		return 1;
	}
	free(st.g->w);
	st.g->w = NULL;
	ret = phase_config(&st);
	if (ret >= 0)
		return ret;
	st.nw = worker_count(&st.g->cfg);
	raise_fd_limit(&st.g->cfg, st.nw);
	st.g->w = calloc(st.nw, sizeof(*st.g->w));
	if (!st.g->w) {
		snprintf(st.msg, sizeof(st.msg), "out of memory");
		return startup_fail(&st);
	}
	st.g->nw = st.nw;
	/* Only the main thread takes signals (the helper and the workers inherit the mask;
	 * the helper sets its own); blocked before the first listener accepts, so that a
	 * signal sent as soon as the port answers is taken by serve(), not by its default
	 * action (SIGHUP's ends the process). */
	sigemptyset(&st.signals);
	sigaddset(&st.signals, SIGTERM);
	sigaddset(&st.signals, SIGINT);
	sigaddset(&st.signals, SIGHUP);
	sigaddset(&st.signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &st.signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (phase_listen(&st) < 0 || phase_privileged(&st) < 0)
		return startup_fail(&st);
	ret = phase_supervise(&st);
	if (ret >= 0)
		return ret;
	if (phase_drop(&st) < 0 || phase_workers(&st) < 0)
		return startup_fail(&st);
	phase_respawned(&st);
	ret = serve(&st);
	phase_shutdown(&st);
	return ret;
}
