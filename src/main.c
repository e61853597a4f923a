/* spliced: command line, start-up order, signals.
 *
 * Start-up: read the configuration (nothing starts if it is wrong), open the error log,
 * make sure no other process listens on a Listen address, bind every listener once per
 * worker (SO_REUSEPORT), fork the privileged helper when a
 * backend has ProxyAutostart, leave root, start the workers, then wait for SIGTERM/SIGINT
 * and stop gracefully: workers first, then the helper stops the backends. */
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
#include "spliced/stats.h"
#include "spliced/worker.h"

#define SPLICED_VERSION "0.1.0"

/* How long `-k stop` waits for the process to exit: a graceful stop takes at most 30 s
 * for the requests in flight, then the helper stops the backends. */
#define STOP_WAIT_MS 40000

static void usage(FILE *f)
{
	fprintf(f, "usage: spliced [-c FILE] [-t] [-k stop] [-h] [-v]\n"
		   "  -c FILE  read the configuration from FILE (Apache httpd syntax)\n"
		   "  -t       check the configuration and exit (0: Syntax OK, 1: error)\n"
		   "  -k stop  send SIGTERM to the spliced named by the configuration's PidFile and\n"
		   "           wait for it to exit (0: stopped, 1: error, 2: still running after\n"
		   "           %u s, 3: was not running); -k reload is not implemented yet\n"
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
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

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

static void stats_report(struct worker *w, unsigned n)
{
	struct stats t;

	stats_sum(w, n, &t);
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

static int alog_fds[CFG_MAX_CUSTOMLOG];
static const struct config *alog_cfg;
static uid_t log_owner;   /* who besides root may own a log file: User, or ourselves */

/* SIGUSR1: the access logs are reopened by path onto the same descriptors, which the
 * workers keep writing to. */
static int reopen_access_logs(void)
{
	int failed = 0;

	for (unsigned i = 0; alog_cfg && i < alog_cfg->ncustomlog; i++) {
		char msg[1024];
		int ret = log_reopen_fd(alog_fds[i], alog_cfg->customlog[i].path, log_owner, msg,
					sizeof(msg));

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

static int give_logs_to_user(const struct config *cfg, char *msg, size_t len)
{
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
		log_give(alog_fds[i], what, uid, gid);
	}
	return 0;
}

/* CustomLog and TransferLog files, opened before privileges are dropped, with the rules
 * of log_file_open(). */
static int open_access_logs(const struct config *cfg, char *msg, size_t len)
{
	char why[1024];

	for (unsigned i = 0; i < cfg->ncustomlog; i++) {
		alog_fds[i] = log_file_open(cfg->customlog[i].path, log_owner, why, sizeof(why));
		if (alog_fds[i] < 0) {
			snprintf(msg, len, "CustomLog %.1000s", why);
			return alog_fds[i];
		}
	}
	alog_cfg = cfg;
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

/* The helper should outlive the workers; if it does not, say so once (requests for a
 * stopped backend then get 503 after StartTimeout, the others are served as before). */
static void helper_check(void)
{
	int st;

	if (helper_pid <= 0 || waitpid(helper_pid, &st, WNOHANG) != helper_pid)
		return;
	if (WIFSIGNALED(st))
		log_error("main", "the helper (pid %d) was killed by signal %d: backends are no "
			  "longer started or supervised", (int)helper_pid, WTERMSIG(st));
	else
		log_error("main", "the helper (pid %d) exited with status %d: backends are no "
			  "longer started or supervised", (int)helper_pid, WEXITSTATUS(st));
	helper_pid = 0;
}

/* Waits for SIGTERM/SIGINT (or a worker that ended on its own), then stops everyone. */
static int serve(struct worker *w, unsigned n, const sigset_t *set)
{
	unsigned running = n;
	bool stopping = false;
	int code = 0;

	while (running) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 200000000 };
		int sig = sigtimedwait(set, NULL, &ts);

		helper_check();

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
		if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			log_notice("main", "caught %s, shutting down gracefully",
				   sig == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
			notify_send("STOPPING=1\nSTATUS=stopping: finishing the requests in "
				    "flight\n");
			for (unsigned i = 0; i < n; i++)
				worker_stop(&w[i]);
		}
		running = 0;
		for (unsigned i = 0; i < n; i++) {
			if (w[i].thread && pthread_tryjoin_np(w[i].thread, NULL) == 0) {
				w[i].thread = 0;
				if (w[i].exit_code)
					code = 1;
				if (!stopping) {
					log_error("main", "worker %u ended unexpectedly; stopping", i);
					stopping = true;
					code = 1;
					notify_send("STOPPING=1\nSTATUS=stopping: worker %u "
						    "ended unexpectedly\n", i);
					for (unsigned k = 0; k < n; k++)
						worker_stop(&w[k]);
				}
			}
			running += w[i].thread != 0;
		}
	}
	return code;
}

/* What start-up builds, phase by phase, for serve() and the shutdown. */
struct startup {
	struct config cfg;
	struct file_roots files;
	const char *cfg_path;       /* NULL: the built-in configuration */
	bool test_only;
	bool stop_other;            /* -k stop */
	int pid_fd;                 /* PidFile written, -1: none */
	struct worker *w;
	unsigned nw;
	struct slot_shared *slots;  /* connection counts of backends with max=, all workers */
	int helper_sock;            /* main's conversation with the helper, -1: none */
	sigset_t signals;           /* taken by the main thread only */
	char msg[1024];             /* why a phase failed */
};

/* The PidFile, when this process wrote it: removed, or emptied when the directory is no
 * longer writable after the privilege drop (see pidfile_remove()). */
static void pid_file_remove(struct startup *st)
{
	if (st->pid_fd < 0)
		return;
	if (pidfile_remove(st->cfg.pid_file, st->pid_fd) == 1)
		log_info("main", "PidFile %s emptied (its directory is not writable by uid %u)",
			 st->cfg.pid_file, (unsigned)geteuid());
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

/* -k ACTION: stop, or reload (not implemented: says so). -1 to go on, else exit code. */
static int arg_k(struct startup *st, const char *action)
{
	if (strcmp(action, "stop") == 0) {
		st->stop_other = true;
		return -1;
	}
	if (strcmp(action, "reload") == 0 || strcmp(action, "graceful") == 0) {
		fprintf(stderr, "spliced: -k %s: a graceful reload is not implemented yet; restart "
			"instead (spliced -k stop, then start it again)\n", action);
		return 1;
	}
	fprintf(stderr, "spliced: -k %s: unknown action (stop is the one there is)\n", action);
	usage(stderr);
	return 1;
}

/* -k stop, after the configuration is read: its PidFile names the process. */
static int stop_other(const struct startup *st)
{
	char msg[1200];
	enum pidfile_stop_code code;

	if (!st->cfg.pid_file[0]) {
		fprintf(stderr, "spliced: -k stop: %s has no PidFile directive\n",
			st->cfg_path ? st->cfg_path : "the built-in configuration");
		return PIDFILE_ERROR;
	}
	code = pidfile_stop(st->cfg.pid_file, STOP_WAIT_MS, msg, sizeof(msg));
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
	ret = config_load_all(&st->cfg, st->cfg_path, errs);
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
	if (cfgcheck_run(&st->cfg, config_test_print, st) > 0)
		return 1;
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
	} else if ((ret = config_builtin(&st->cfg, &cerr)) < 0) {
		config_error_format(&cerr, st->msg, sizeof(st->msg));
		fprintf(stderr, "spliced: %s\n", st->msg);
		return 1;
	}
	if (st->test_only)
		return config_test(st);
	if (st->stop_other)
		return stop_other(st);
	if (log_owner_find(&st->cfg, st->msg, sizeof(st->msg)) < 0) {
		fprintf(stderr, "spliced: %s\n", st->msg);
		return 1;
	}
	if (log_open(st->cfg.error_log, log_owner, st->msg, sizeof(st->msg)) < 0) {
		fprintf(stderr, "spliced: ErrorLog %s\n", st->msg);
		return 1;
	}
	if (st->cfg.scope[0].log_level >= 0)
		log_set_level((enum log_level)st->cfg.scope[0].log_level);
	if (!st->cfg_path)
		demo_reach_warning(&st->cfg);
	return -1;
}

/* Every Listen address once per worker (SO_REUSEPORT), MetricsListen on worker 0, after
 * checking that no other process listens there. 0 or -1 (st->msg). */
static int phase_listen(struct startup *st)
{
	const struct config *cfg = &st->cfg;
	char m[sizeof(st->msg) - 32];

	for (unsigned l = 0; l < cfg->nlisten; l++)
		if (listen_probe(&cfg->listen[l], st->msg, sizeof(st->msg)) < 0)
			return -1;
	if (cfg->metrics.addrlen && listen_probe(&cfg->metrics, m, sizeof(m)) < 0)
		goto out_metrics;
	for (unsigned i = 0; i < st->nw; i++) {
		struct worker *w = &st->w[i];

		w->wake_fd = -1;
		w->helper_fd = -1;
		for (unsigned l = 0; l < cfg->nlisten; l++) {
			int fd = listen_socket(&cfg->listen[l], st->msg, sizeof(st->msg));

			if (fd < 0)
				return -1;
			w->listen_fd[w->nlisten++] = fd;
		}
		w->metrics_li = -1;
		w->all = st->w;
		w->nall = st->nw;
		if (i == 0 && cfg->metrics.addrlen) {
			int fd = listen_socket(&cfg->metrics, m, sizeof(m));

			if (fd < 0)
				goto out_metrics;
			w->metrics_li = (int)w->nlisten;
			w->listen_fd[w->nlisten++] = fd;
		}
	}
	return 0;
out_metrics:
	snprintf(st->msg, sizeof(st->msg), "MetricsListen: %s", m);
	return -1;
}

/* PidFile: written as root (before the drop), after phase_listen made sure no other
 * process listens on our addresses; still, a running spliced's PID file is never taken
 * over. 0 or -1 (st->msg). */
static int write_pid_file(struct startup *st)
{
	char m[sizeof(st->msg) - 32];
	pid_t other;
	int fd;

	if (!st->cfg.pid_file[0])
		return 0;
	if (pidfile_read(st->cfg.pid_file, &other, m, sizeof(m)) == 1 && other != getpid() &&
	    pidfile_is_spliced(other)) {
		snprintf(st->msg, sizeof(st->msg), "PidFile %.900s: spliced (pid %d) is running with "
			 "it; stop it first (spliced -k stop)", st->cfg.pid_file, (int)other);
		return -1;
	}
	fd = pidfile_write(st->cfg.pid_file, getpid(), m, sizeof(m));
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
	const struct config *cfg = &st->cfg;

	tzset(); /* %t: before privileges are dropped, the zone files may be unreadable after */
	if (write_pid_file(st) < 0)
		return -1;
	if (open_access_logs(cfg, st->msg, sizeof(st->msg)) < 0 ||
	    give_logs_to_user(cfg, st->msg, sizeof(st->msg)) < 0 ||
	    open_files(cfg, &st->files, st->msg, sizeof(st->msg)) < 0)
		return -1;
	if (cfg->nautostart) {
		/* One conversation per worker, and the last one for this thread's shutdown. */
		int socks[st->nw + 1];
		char m[sizeof(st->msg) - 32];

		helper_pid = helper_spawn(cfg, st->nw + 1, socks, m, sizeof(m));
		if (helper_pid < 0) {
			snprintf(st->msg, sizeof(st->msg), "starting the helper: %s", m);
			return -1;
		}
		for (unsigned i = 0; i < st->nw; i++)
			st->w[i].helper_fd = socks[i];
		st->helper_sock = socks[st->nw];
		autostart_same_user_notice(cfg);
	}
	return 0;
}

/* User/Group, no capabilities, no_new_privs; then only the main thread takes signals
 * (the workers inherit the mask). 0 or -1. */
static int phase_drop(struct startup *st)
{
	int applied;
	char m[sizeof(st->msg) - 32];

	/* The service manager's socket, connected while it is reachable. */
	if (notify_init(m, sizeof(m)) < 0)
		log_warn("main", "%s: readiness is not reported", m);

	if (privdrop_apply(st->cfg.user, st->cfg.group, &applied, st->msg, sizeof(st->msg)) < 0)
		return -1;
	if (applied)
		log_notice("main", "%s", st->msg);
	else if (st->cfg.user[0] || st->cfg.group[0])
		log_warn("main", "not started as root: User/Group cannot be applied, running as uid %u",
			 (unsigned)getuid());
	sigemptyset(&st->signals);
	sigaddset(&st->signals, SIGTERM);
	sigaddset(&st->signals, SIGINT);
	sigaddset(&st->signals, SIGHUP);
	sigaddset(&st->signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &st->signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Every worker is ready before any runs (the metrics endpoint on worker 0 reads all of
 * them), then their threads start. 0 or -1. */
static int phase_workers(struct startup *st)
{
	unsigned per_worker = (st->cfg.max_connections + st->nw - 1) / st->nw;
	int ret;

	st->slots = calloc(st->cfg.nbackend ? st->cfg.nbackend : 1, sizeof(*st->slots));
	if (!st->slots) {
		snprintf(st->msg, sizeof(st->msg), "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < st->nw; i++) {
		st->w[i].slots = st->slots;
		st->w[i].files = &st->files;
		memcpy(st->w[i].alog_fd, alog_fds, sizeof(alog_fds));
		ret = worker_init(&st->w[i], &st->cfg, i, per_worker);
		if (ret < 0) {
			snprintf(st->msg, sizeof(st->msg), "worker %u: %s", i, strerror(-ret));
			return -1;
		}
	}
	for (unsigned i = 0; i < st->nw; i++) {
		ret = pthread_create(&st->w[i].thread, NULL, worker_main, &st->w[i]);
		if (ret) {
			snprintf(st->msg, sizeof(st->msg), "worker %u: pthread_create: %s", i,
				 strerror(ret));
			return -1;
		}
	}
	for (unsigned l = 0; l < st->cfg.nlisten; l++)
		log_notice("main", "spliced %s listening on %s, %u workers", SPLICED_VERSION,
			   st->cfg.listen[l].name, st->nw);
	/* The listeners were listening since phase_listen and every worker runs now. */
	notify_send("READY=1\nSTATUS=serving on %s%s, %u workers\nMAINPID=%d\n",
		    st->cfg.listen[0].name, st->cfg.nlisten > 1 ? " and more" : "", st->nw,
		    (int)getpid());
	return 0;
}

/* After serve(): the workers are gone; the helper stops the backends. */
static void phase_shutdown(struct startup *st)
{
	stats_report(st->w, st->nw);
	for (unsigned i = 0; i < st->nw; i++)
		worker_destroy(&st->w[i]);   /* closes the workers' conversations with the helper */
	free(st->w);
	free(st->slots);            /* after the workers: their pools counted in it */
	if (helper_pid > 0) {
		int hret = helper_shutdown(helper_pid, st->helper_sock, &st->cfg);

		if (hret != 0)
			log_error("main", "the helper ended with %d", hret);
	}
	pid_file_remove(st);
	log_notice("main", "stopped");
	notify_send("STATUS=stopped\n");
	notify_close();
	config_free(&st->cfg);
}

int main(int argc, char **argv)
{
	static struct startup st = { .helper_sock = -1, .pid_fd = -1 };
	int ret;

	ret = phase_args(&st, argc, argv);
	if (ret >= 0)
		return ret;
	ret = phase_config(&st);
	if (ret >= 0)
		return ret;
	st.nw = worker_count(&st.cfg);
	raise_fd_limit(&st.cfg, st.nw);
	st.w = calloc(st.nw, sizeof(*st.w));
	if (!st.w) {
		snprintf(st.msg, sizeof(st.msg), "out of memory");
		return startup_fail(&st);
	}
	if (phase_listen(&st) < 0 || phase_privileged(&st) < 0 || phase_drop(&st) < 0 ||
	    phase_workers(&st) < 0)
		return startup_fail(&st);
	ret = serve(st.w, st.nw, &st.signals);
	phase_shutdown(&st);
	return ret;
}
