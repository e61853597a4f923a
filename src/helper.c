/* The privileged helper: starts, supervises and stops the ProxyAutostart backends for the
 * serving process (include/spliced/helper.h has the contract and the privileges kept).
 *
 * Forked before the serving process leaves root, the helper keeps only its conversations
 * (SOCK_SEQPACKET), the error log and /dev/null; each backend opens its Output= itself, as
 * its user, and the output of a backend without Output= is a pipe the helper reads and
 * writes into the error log line by line, marked as the backend's. It acts on
 * fixed-size requests that name a backend by its slot, and re-reads the configuration
 * file itself on a reload, so a compromised serving process can start, query or stop
 * the configured commands and nothing else.
 * One poll() loop serves the conversations, the backends' output pipes, a signalfd for
 * SIGCHLD and the timers (restart backoff, stop grace). When the last conversation closes it stops every backend, reaps
 * everything it is parent of, and exits: neither a backend nor a zombie outlives it. */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spliced/config.h"
#include "spliced/helper.h"
#include "spliced/log.h"
#include "spliced/privdrop.h"

#define HELPER_TICK_MS 50            /* how often a stopping process group is looked at */
#define HELPER_READY_MS 10000        /* helper_spawn() waits this long for HMSG_READY */
#define HELPER_FOREGROUND_MS 1000    /* a clean exit sooner than this looks like a daemon */
#define HELPER_CMDLINE_MAX 200       /* bytes of a backend's command shown in the log */
#define HELPER_ENV_PATH "PATH=/usr/local/bin:/usr/bin:/bin"
#define HELPER_NEVER UINT64_MAX
#define HELPER_BIND_CAPS (1ull << CAP_NET_BIND_SERVICE)
#define HELPER_SETID_CAPS ((1ull << CAP_SETUID) | (1ull << CAP_SETGID) | (1ull << CAP_KILL) | \
			   HELPER_BIND_CAPS)
#define HELPER_KEY_CAPS (1ull << CAP_DAC_READ_SEARCH)
#define HELPER_OUT_READS 16          /* reads of a backend's pipe per loop turn (of 4 KiB) */

/* What defines one ProxyAutostart process, copied out of the configuration it was read
 * from (which a reload frees) and resolved (ids, passwd entry) when it was read. */
struct helper_spec {
	struct cfg_autostart a;
	char name[CFG_NAME_MAX];           /* the backend's URL, for messages */
	uid_t uid;
	gid_t gid;
	uint32_t digest;                   /* helper_autostart_digest() */
	char env_home[CFG_PATH_MAX + 8];
	char env_user[CFG_NAME_MAX + 8];
	char env_logname[CFG_NAME_MAX + 8];
};

/* One slot: the entry it holds (argv and envp point into its own copy) and where its
 * process is in its life. */
struct helper_backend {
	struct helper_spec s;
	bool used;                         /* false: free, or retired */
	bool retiring;                     /* a reload removed it: freed once it is gone */
	const struct cfg_autostart *a;     /* &s.a */
	const char *name;                  /* s.name */
	char *argv[CFG_AUTOSTART_ARGV + 1];
	char *envp[4 + CFG_AUTOSTART_ENV + 1];
	char cmdline[HELPER_CMDLINE_MAX + 4];

	enum helper_bstate state;
	pid_t pid;                         /* the group leader; 0 once reaped */
	pid_t pgid;                        /* its process group while members may remain */
	bool want_running;                 /* restart it when it dies */
	uint32_t starts;
	uint32_t last_exit;                /* HMSG_STATE's last_exit (0: none yet) */
	unsigned backoff_cur_ms;
	uint64_t next_start;               /* CLOCK_MONOTONIC ms: not started before */
	uint64_t started_at;
	uint64_t kill_at;                  /* HB_STOPPING: SIGKILL then; HELPER_NEVER once sent */

	/* Without Output=: the read end of the pipe that is the standard output and error of
	 * the process started last (non-blocking; -1 when none), and the line being read. */
	int out_fd;
	pid_t out_pid;                     /* that process, named in its lines */
	size_t out_len;
	char out_line[LOG_OUTPUT_MAX];
};

struct helper {
	struct helper_backend b[HELPER_MAX_SLOTS];  /* requests may name any: unused ones
						     * are answered HB_STOPPED */
	unsigned nb;                       /* slots ever used: b[nb..] never were */
	int *conv;                         /* conversations; -1 once closed */
	unsigned nconv, nopen;
	struct pollfd *pfd;                /* nconv + HELPER_MAX_SLOTS + 1 */
	unsigned *pconv;                   /* pfd index -> conversation, or backend (pipes) */
	int sfd;                           /* signalfd: SIGCHLD */
	int devnull;                       /* every backend's standard input */
	unsigned long out_dropped;         /* backend lines the error log did not take */
	char error_log[CFG_PATH_MAX];      /* config.error_log, reopened on SIGUSR1 ("" =
					    * standard error: nothing to reopen) */
	pid_t self;
	char *cfg_path;                    /* what a reload loads; NULL: the built-in one */
	bool started_root;                 /* User=/Group= apply (else: the helper's ids) */
	bool switch_ids;                   /* still root: each backend switches to its ids */
	uid_t uid;                         /* !switch_ids: the ids every backend runs as */
	gid_t gid;
	bool closing;                      /* no conversation left: stop everything and exit */
};

/* Why a backend could not be started, sent by its child over the exec-error pipe. */
enum helper_stage {
	HS_SETSID = 1,
	HS_STDIO,
	HS_SETGROUPS,
	HS_SETRESGID,
	HS_SETRESUID,
	HS_PRIVS,
	HS_OUTPUT,
	HS_CHDIR,
	HS_CLOSE,
	HS_EXEC,
};

struct helper_execerr {
	int32_t stage;                     /* enum helper_stage */
	int32_t err;                       /* errno */
};

/* ---- messages: pure, shared by both ends ---- */

void helper_msg_request(struct helper_msg *m, enum helper_msg_type type, unsigned backend)
{
	memset(m, 0, sizeof(*m));
	m->magic = HELPER_MSG_MAGIC;
	m->type = (uint16_t)type;
	m->backend = (uint16_t)backend;
}

/* What both directions check first: one whole message carrying our magic. The length is
 * checked before any field is read. */
static int helper_msg_check_common(const struct helper_msg *m, long len, const char **why)
{
	if (len != (long)sizeof(*m)) {
		*why = "message of the wrong size";
		return -EPROTO;
	}
	if (m->magic != HELPER_MSG_MAGIC) {
		*why = "bad magic";
		return -EPROTO;
	}
	return 0;
}

int helper_msg_check_request(const struct helper_msg *m, long len, unsigned nbackend,
			     const char **why)
{
	if (helper_msg_check_common(m, len, why) < 0)
		return -EPROTO;
	if (m->type == HMSG_BIND) {
		if (m->backend >= CFG_MAX_LISTEN && m->backend != HELPER_LISTEN_METRICS) {
			*why = "no such Listen line";
			return -EPROTO;
		}
		if (m->starts == 0 || m->starts > HELPER_BIND_MAX) {
			*why = "BIND asks for no socket or too many";
			return -EPROTO;
		}
		if (m->state || m->pid || m->backoff_ms) {
			*why = "non-zero field in a request";
			return -EPROTO;
		}
		return 0;
	}
	if (m->type == HMSG_OPEN) {
		if (m->backend >= TLS_MAX_FILES) {
			*why = "no such certificate or key file";
			return -EPROTO;
		}
		if (m->state || m->pid || m->starts || m->backoff_ms) {
			*why = "non-zero field in a request";
			return -EPROTO;
		}
		return 0;
	}
	if (m->type != HMSG_START && m->type != HMSG_STATUS && m->type != HMSG_STOP &&
	    m->type != HMSG_RELOAD) {
		*why = "not a request";
		return -EPROTO;
	}
	if (m->backend >= nbackend) {
		*why = "no such backend";
		return -EPROTO;
	}
	if (m->state || m->pid || m->starts || m->backoff_ms ||
	    (m->type == HMSG_RELOAD && m->backend)) {
		*why = "non-zero field in a request";
		return -EPROTO;
	}
	return 0;
}

int helper_msg_check_state(const struct helper_msg *m, long len, unsigned nbackend,
			   const char **why)
{
	if (helper_msg_check_common(m, len, why) < 0)
		return -EPROTO;
	if (m->type != HMSG_STATE) {
		*why = "not a state message";
		return -EPROTO;
	}
	if (m->backend >= nbackend) {
		*why = "no such backend";
		return -EPROTO;
	}
	if (m->state > HB_STOPPING) {
		*why = "unknown backend state";
		return -EPROTO;
	}
	if (m->pid < 0) {
		*why = "negative pid";
		return -EPROTO;
	}
	return 0;
}

int helper_msg_check_reply(const struct helper_msg *m, long len, const char **why)
{
	if (helper_msg_check_common(m, len, why) < 0)
		return -EPROTO;
	switch (m->type) {
	case HMSG_STATE:
		return helper_msg_check_state(m, len, HELPER_MAX_SLOTS, why);
	case HMSG_MAPPED:
		if (m->backend >= CFG_MAX_AUTOSTART || m->starts >= HELPER_MAX_SLOTS) {
			*why = "MAPPED out of range";
			return -EPROTO;
		}
		if (m->state || m->pid) {
			*why = "non-zero field in MAPPED";
			return -EPROTO;
		}
		return 0;
	case HMSG_RELOADED:
		if (m->state >= 4096 || (m->state && m->backend) ||
		    m->backend > CFG_MAX_AUTOSTART) {
			*why = "RELOADED out of range";
			return -EPROTO;
		}
		if (m->pid || m->starts || m->backoff_ms) {
			*why = "non-zero field in RELOADED";
			return -EPROTO;
		}
		return 0;
	case HMSG_BOUND:
		if ((m->backend >= CFG_MAX_LISTEN && m->backend != HELPER_LISTEN_METRICS) ||
		    m->state >= 4096 || (m->state && m->starts) ||
		    (!m->state && (m->starts == 0 || m->starts > HELPER_BOUND_MAX))) {
			*why = "BOUND out of range";
			return -EPROTO;
		}
		if (m->pid || m->backoff_ms) {
			*why = "non-zero field in BOUND";
			return -EPROTO;
		}
		return 0;
	case HMSG_OPENED:
		if (m->backend >= TLS_MAX_FILES || m->state >= 4096 ||
		    (m->state && (m->starts || m->backoff_ms)) || (!m->state && m->starts != 1)) {
			*why = "OPENED out of range";
			return -EPROTO;
		}
		if (m->pid) {
			*why = "non-zero field in OPENED";
			return -EPROTO;
		}
		return 0;
	default:
		*why = "not a reply";
		return -EPROTO;
	}
}

/* FNV-1a, 32 bits, over bytes and over a string up to its NUL (or the end of its buffer),
 * the NUL included so that ("ab", "c") and ("a", "bc") differ. */
#define HELPER_FNV_BASIS 2166136261u
#define HELPER_FNV_PRIME 16777619u

static uint32_t helper_fnv(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * HELPER_FNV_PRIME;
	return h;
}

static uint32_t helper_fnv_str(uint32_t h, const char *buf, size_t cap, size_t off)
{
	size_t n = off < cap ? strnlen(buf + off, cap - off) : 0;

	if (n)
		h = helper_fnv(h, buf + off, n);
	return helper_fnv(h, "", 1);
}

uint32_t helper_tls_file_digest(const struct tls_file *f)
{
	uint32_t h = helper_fnv_str(HELPER_FNV_BASIS, f->path, sizeof(f->path), 0);

	h = helper_fnv(h, &f->kind, sizeof(f->kind));
	return helper_fnv(h, &f->scope, sizeof(f->scope));
}

uint32_t helper_autostart_digest(const struct config *cfg, const struct cfg_autostart *a)
{
	const char *user = a->user[0] ? a->user : cfg->user;
	const char *group = a->group[0] ? a->group : (a->user[0] ? "" : cfg->group);
	uint32_t h = HELPER_FNV_BASIS, n;

	if (a->backend >= 0 && (unsigned)a->backend < cfg->nbackend &&
	    (unsigned)a->backend < CFG_MAX_BACKENDS)
		h = helper_fnv_str(h, cfg->backend[a->backend].name,
				   sizeof(cfg->backend[a->backend].name), 0);
	else
		h = helper_fnv_str(h, "", 1, 0);
	n = a->argc < CFG_AUTOSTART_ARGV ? a->argc : CFG_AUTOSTART_ARGV;
	h = helper_fnv(h, &n, sizeof(n));
	for (unsigned k = 0; k < n; k++)
		h = helper_fnv_str(h, a->text, sizeof(a->text), a->argv_off[k]);
	n = a->nenv < CFG_AUTOSTART_ENV ? a->nenv : CFG_AUTOSTART_ENV;
	h = helper_fnv(h, &n, sizeof(n));
	for (unsigned k = 0; k < n; k++)
		h = helper_fnv_str(h, a->envtext, sizeof(a->envtext), a->env_off[k]);
	h = helper_fnv_str(h, user, sizeof(cfg->user), 0);
	h = helper_fnv_str(h, group, sizeof(cfg->group), 0);
	h = helper_fnv_str(h, a->dir, sizeof(a->dir), 0);
	return helper_fnv_str(h, a->output, sizeof(a->output), 0);
}

int helper_msg_check_ready(const struct helper_msg *m, long len, const char **why)
{
	if (helper_msg_check_common(m, len, why) < 0)
		return -EPROTO;
	if (m->type != HMSG_READY) {
		*why = "not a READY message";
		return -EPROTO;
	}
	if (m->backend || m->state || m->pid || m->starts || m->backoff_ms) {
		*why = "non-zero field in READY";
		return -EPROTO;
	}
	return 0;
}

/* An unstable delay is never 0 (even with min_ms 0): a backend that dies at once must not
 * be restarted in a loop. A clean end is no sign of trouble, so it never grows the delay,
 * but it still waits min_ms: a START per refused connection to a backend that exits at
 * once must not become a fork loop. The doubling is done in 64 bits so max_ms near
 * UINT_MAX cannot wrap. */
unsigned helper_backoff_next(unsigned cur_ms, unsigned min_ms, unsigned max_ms,
			     uint64_t uptime_ms, bool clean)
{
	uint64_t next;

	if (uptime_ms >= HELPER_STABLE_MS)
		return 0;
	if (max_ms < min_ms)
		max_ms = min_ms;
	next = cur_ms && !clean ? 2ull * cur_ms : min_ms;
	if (next < min_ms)
		next = min_ms;
	if (next > max_ms)
		next = max_ms;
	return next ? (unsigned)next : 1;
}

/* ---- the helper process ---- */

static uint64_t helper_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int helper_cmp_int(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;

	return (a > b) - (a < b);
}

/* Closes every descriptor inherited from the serving process (listening sockets, access
 * logs, the serving ends of the conversations, ...) but 0, 1, 2, the error log and the
 * helper's own conversations; then makes sure 0, 1 and 2 are open, so that whatever the
 * helper opens later is above them. 0 or -errno with msg set. */
static int helper_close_inherited(const int *conv, unsigned nconv, char *msg, size_t len)
{
	int *keep = malloc((nconv + 4) * sizeof(*keep));
	unsigned n = 0, lo = 0;
	int ret = 0;

	if (!keep) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	keep[n++] = 0;
	keep[n++] = 1;
	keep[n++] = 2;
	if (log_fd_get() >= 0)
		keep[n++] = log_fd_get();
	for (unsigned i = 0; i < nconv; i++)
		keep[n++] = conv[i];
	qsort(keep, n, sizeof(*keep), helper_cmp_int);
	for (unsigned k = 0; k < n && ret == 0; k++) {
		unsigned fd = (unsigned)keep[k];

		if (fd > lo && close_range(lo, fd - 1, 0) < 0)
			ret = -errno;
		if (fd >= lo)
			lo = fd + 1;
	}
	if (ret == 0 && close_range(lo, ~0U, 0) < 0)
		ret = -errno;
	free(keep);
	if (ret < 0) {
		snprintf(msg, len, "closing inherited descriptors: %s", strerror(-ret));
		return ret;
	}
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (open("/dev/null", O_RDWR) != fd) {
			snprintf(msg, len, "opening /dev/null as descriptor %d failed", fd);
			return -EBADF;
		}
	}
	return 0;
}

/* SIGCHLD and SIGUSR1 (reopen the error log, as the serving process does) are read
 * through a signalfd; the signals meant for the serving process (a terminal's ^C reaches
 * the whole process group) are ignored: the helper ends only when its conversations do.
 * 0 or -errno with msg set. */
static int helper_signals(struct helper *h, char *msg, size_t len)
{
	static const int ignored[] = { SIGINT, SIGHUP, SIGTERM, SIGPIPE };
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t set;

	for (unsigned i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
	/* An inherited SIG_IGN for SIGCHLD would make the kernel reap the backends for us. */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		goto out_err;
	h->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (h->sfd < 0)
		goto out_err;
	return 0;
out_err:
	snprintf(msg, len, "SIGCHLD: %s", strerror(errno));
	return -errno;
}

/* A configuration entry the helper can run: a command of 1 to CFG_AUTOSTART_ARGV words,
 * the first an absolute path, and Env= strings NAME=VALUE, every offset inside its text
 * and every string ended there. */
static bool helper_autostart_valid(const struct cfg_autostart *a)
{
	if (a->argc == 0 || a->argc > CFG_AUTOSTART_ARGV || a->nenv > CFG_AUTOSTART_ENV)
		return false;
	for (unsigned k = 0; k < a->argc; k++) {
		size_t off = a->argv_off[k];

		if (off >= sizeof(a->text) || !memchr(a->text + off, '\0', sizeof(a->text) - off))
			return false;
	}
	if (a->text[a->argv_off[0]] != '/')
		return false;
	for (unsigned k = 0; k < a->nenv; k++) {
		size_t off = a->env_off[k];
		const char *eq;

		if (off >= sizeof(a->envtext) ||
		    !memchr(a->envtext + off, '\0', sizeof(a->envtext) - off))
			return false;
		eq = strchr(a->envtext + off, '=');
		if (!eq || eq == a->envtext + off)
			return false;
	}
	return true;
}

/* The command and environment of slot b, built when an entry is put in it (the entry was
 * checked by helper_autostart_valid()): the backend gets exactly PATH, HOME, USER,
 * LOGNAME and its Env= strings (which may replace those four). */
static void helper_backend_command(struct helper_backend *b)
{
	const struct cfg_autostart *a = b->a;
	unsigned nenv = 0, k;
	size_t used = 0;

	for (k = 0; k < a->argc; k++)
		b->argv[k] = (char *)a->text + a->argv_off[k];
	b->argv[a->argc] = NULL;
	b->envp[nenv++] = (char *)HELPER_ENV_PATH;
	b->envp[nenv++] = b->s.env_home;
	b->envp[nenv++] = b->s.env_user;
	b->envp[nenv++] = b->s.env_logname;
	for (k = 0; k < a->nenv; k++) {
		char *e = (char *)a->envtext + a->env_off[k];
		size_t nlen = (size_t)(strchr(e, '=') - e) + 1;
		unsigned j;

		for (j = 0; j < nenv && strncmp(b->envp[j], e, nlen) != 0; j++)
			;
		b->envp[j] = e;
		if (j == nenv)
			nenv++;
	}
	b->envp[nenv] = NULL;
	for (k = 0; k < a->argc && used < HELPER_CMDLINE_MAX; k++) {
		int w = snprintf(b->cmdline + used, HELPER_CMDLINE_MAX + 1 - used, "%s%s",
				 k ? " " : "", b->argv[k]);

		used += w > 0 ? (size_t)w : 0;
	}
	if (used > HELPER_CMDLINE_MAX || k < a->argc)
		strcpy(b->cmdline + HELPER_CMDLINE_MAX - 3, "...");
}

int helper_backend_ids(const struct config *cfg, const struct cfg_autostart *a, uid_t *uid,
		       gid_t *gid, char *msg, size_t msglen)
{
	/* With User= but no Group=, the user's own group, not the server's Group. */
	const char *user = a->user[0] ? a->user : cfg->user;
	const char *group = a->group[0] ? a->group : (a->user[0] ? "" : cfg->group);

	return privdrop_ids(user, group, uid, gid, msg, msglen);
}

/* Entry i of cfg, copied and resolved into *sp: everything starting it needs that
 * privileges may be required for: its uid and gid (a backend without User= runs as the
 * server's User/Group) and its passwd entry. Not started as root: the helper's own ids.
 * Its Output= is not opened here but by its own process, as its user (see
 * helper_exec()). 0 or -errno with msg set. */
static int helper_spec_init(const struct helper *h, const struct config *cfg, unsigned i,
			    struct helper_spec *sp, char *msg, size_t len)
{
	const struct cfg_autostart *a = &cfg->autostart[i];
	struct passwd *pw;
	int ret;

	memset(sp, 0, sizeof(*sp));
	if (a->backend < 0 || (unsigned)a->backend >= cfg->nbackend ||
	    (unsigned)a->backend >= CFG_MAX_BACKENDS) {
		snprintf(msg, len, "ProxyAutostart entry %u names no backend", i);
		return -EINVAL;
	}
	sp->a = *a;
	memcpy(sp->name, cfg->backend[a->backend].name, sizeof(sp->name));
	sp->name[sizeof(sp->name) - 1] = '\0';
	if (!helper_autostart_valid(a)) {
		snprintf(msg, len, "ProxyAutostart %s (entry %u): malformed command or "
			 "environment", sp->name, i);
		return -EINVAL;
	}
	sp->digest = helper_autostart_digest(cfg, a);
	if (h->started_root) {
		char why[256];

		ret = helper_backend_ids(cfg, a, &sp->uid, &sp->gid, why, sizeof(why));
		if (ret < 0) {
			snprintf(msg, len, "ProxyAutostart %s: %s", sp->name, why);
			return ret;
		}
	} else {
		sp->uid = geteuid();
		sp->gid = getegid();
	}
	pw = getpwuid(sp->uid);
	snprintf(sp->env_home, sizeof(sp->env_home), "HOME=%s",
		 pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : "/");
	if (pw) {
		snprintf(sp->env_user, sizeof(sp->env_user), "USER=%s", pw->pw_name);
		snprintf(sp->env_logname, sizeof(sp->env_logname), "LOGNAME=%s", pw->pw_name);
	} else {
		snprintf(sp->env_user, sizeof(sp->env_user), "USER=%u", (unsigned)sp->uid);
		snprintf(sp->env_logname, sizeof(sp->env_logname), "LOGNAME=%u",
			 (unsigned)sp->uid);
	}
	return 0;
}

/* Puts entry *sp in slot i, free or not (a kept slot gets its new timeouts this way),
 * without touching the state of its process. */
static void helper_slot_set(struct helper *h, unsigned i, const struct helper_spec *sp)
{
	struct helper_backend *b = &h->b[i];

	b->s = *sp;
	b->a = &b->s.a;
	b->name = b->s.name;
	helper_backend_command(b);
	if (!b->used) {
		b->used = true;
		b->out_fd = -1;
	}
	if (i >= h->nb)
		h->nb = i + 1;
}

/* Resolves every backend into slots 0..nautostart and opens what they share: /dev/null
 * for their standard input. 0 or -errno with msg set. */
static int helper_init(struct helper *h, const struct config *cfg, char *msg, size_t len)
{
	struct helper_spec *sp;
	int ret = 0;

	h->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (h->devnull < 0) {
		snprintf(msg, len, "/dev/null: %s", strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < HELPER_MAX_SLOTS; i++)
		h->b[i].out_fd = -1;
	sp = malloc(sizeof(*sp));
	if (!sp) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < cfg->nautostart && ret == 0; i++) {
		ret = helper_spec_init(h, cfg, i, sp, msg, len);
		if (ret == 0)
			helper_slot_set(h, i, sp);
	}
	free(sp);
	return ret;
}

static unsigned helper_cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	unsigned last = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%u", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

/* Reads the process's capabilities back from the kernel: true when its effective and
 * permitted sets are exactly `want`, nothing is inheritable or ambient, and (when
 * `bounds`) the bounding set is empty. */
static bool helper_caps_are(uint64_t want, bool bounds)
{
	unsigned last = helper_cap_last();

	if (capng_get_caps_process() < 0)
		return false;
	for (unsigned c = 0; c <= last; c++) {
		int w = c < 64 && (want >> c & 1);

		if (capng_have_capability(CAPNG_EFFECTIVE, c) != w ||
		    capng_have_capability(CAPNG_PERMITTED, c) != w ||
		    capng_have_capability(CAPNG_INHERITABLE, c) != 0 ||
		    (bounds && capng_have_capability(CAPNG_BOUNDING_SET, c) != 0) ||
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0)
			return false;
	}
	return true;
}

static int helper_lock(char *msg, size_t len)
{
	int ret = privdrop_lock(msg, len);

	if (ret < 0)
		return ret;
	/* Not dumpable: a backend running as the helper's user cannot ptrace it. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

/* Started as another user: the backends run as that user too; whatever capabilities the
 * process had (file capabilities for binding) are cleared. */
static int helper_privs_unprivileged(struct helper *h, const struct config *cfg, char *msg,
				     size_t len)
{
	bool named = cfg->user[0] || cfg->group[0];
	int ret;

	for (unsigned i = 0; i < h->nb; i++)
		named |= h->b[i].a->user[0] || h->b[i].a->group[0];
	if (named)
		log_warn("helper", "not started as root: backends run as uid %u, ProxyAutostart "
			 "User=/Group= cannot be applied", (unsigned)geteuid());
	capng_clear(CAPNG_SELECT_BOTH);
	capng_apply(CAPNG_SELECT_BOUNDS);  /* needs CAP_SETPCAP: best effort */
	if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
		snprintf(msg, len, "could not clear capabilities");
		return -EPERM;
	}
	ret = helper_lock(msg, len);
	if (ret < 0)
		return ret;
	if (!helper_caps_are(0, false)) {
		snprintf(msg, len, "capabilities still held after clearing them");
		return -EPERM;
	}
	log_notice("helper", "helper: running as uid %u gid %u with no capabilities",
		   (unsigned)geteuid(), (unsigned)getegid());
	return 0;
}

/* Every backend runs as uid:gid: the helper becomes that user for good, keeping only
 * CAP_NET_BIND_SERVICE (HMSG_BIND), which libcap-ng carries across the uid change
 * (PR_SET_KEEPCAPS, cleared again before it returns). Not dumpable (helper_lock()): a
 * backend of the same uid cannot ptrace it to use that capability. Its backends lose it
 * at exec (no inheritable, ambient or bounding set), and before it (helper_exec()). */
static int helper_privs_become(uid_t uid, gid_t gid, uint64_t keys, char *msg, size_t len)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int ret;

	capng_clear(CAPNG_SELECT_ALL);
	capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_BIND_SERVICE);
	if (keys)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_DAC_READ_SEARCH);
	ret = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (ret < 0) {
		snprintf(msg, len, "switching to uid %u gid %u failed (capng_change_id %d)",
			 (unsigned)uid, (unsigned)gid, ret);
		return -EPERM;
	}
	ret = helper_lock(msg, len);
	if (ret < 0)
		return ret;
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || getgroups(0, NULL) > 0 ||
	    !helper_caps_are(HELPER_BIND_CAPS | keys, true) ||
	    prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0) {
		snprintf(msg, len, "privileges other than CAP_NET_BIND_SERVICE still held after "
			 "the switch to uid %u gid %u", (unsigned)uid, (unsigned)gid);
		return -EPERM;
	}
	log_notice("helper", "helper: running as uid %u gid %u with CAP_NET_BIND_SERVICE%s only",
		   (unsigned)uid, (unsigned)gid, keys ? " and CAP_DAC_READ_SEARCH" : "");
	return 0;
}

/* Backends of different users: the helper stays uid 0 (it must switch to each) with only
 * the capabilities that switching and signalling them need, and binding (HMSG_BIND). libcap-ng applies the
 * bounding set before the capabilities, while CAP_SETPCAP is still held. */
static int helper_privs_setid(uint64_t keys, char *msg, size_t len)
{
	int ret;

	capng_clear(CAPNG_SELECT_ALL);
	capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SETUID, CAP_SETGID,
		      CAP_KILL, CAP_NET_BIND_SERVICE, -1);
	if (keys)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_DAC_READ_SEARCH);
	ret = capng_apply(CAPNG_SELECT_ALL);
	if (ret < 0) {
		snprintf(msg, len, "reducing capabilities failed (capng_apply %d)", ret);
		return -EPERM;
	}
	ret = helper_lock(msg, len);
	if (ret < 0)
		return ret;
	if (!helper_caps_are(HELPER_SETID_CAPS | keys, true)) {
		snprintf(msg, len, "capabilities other than CAP_SETUID, CAP_SETGID, CAP_KILL, "
			 "CAP_NET_BIND_SERVICE still held");
		return -EPERM;
	}
	log_notice("helper", "helper: running as uid 0 with CAP_SETUID, CAP_SETGID, CAP_KILL, "
		   "CAP_NET_BIND_SERVICE%s only", keys ? ", CAP_DAC_READ_SEARCH" : "");
	return 0;
}

/* Gives up what the helper does not need (see helper.h). No backend ever runs as root.
 * 0 or -errno with msg set. */
static int helper_privileges(struct helper *h, const struct config *cfg, char *msg, size_t len)
{
	/* HMSG_OPEN: the certificate and key files, which may be root's alone */
	uint64_t keys = cfg->tls && cfg->tls->nfile ? HELPER_KEY_CAPS : 0;
	bool same = true;
	uid_t uid;
	gid_t gid;
	int ret;

	if (geteuid() != 0)
		return helper_privs_unprivileged(h, cfg, msg, len);
	/* a bounding set without it (a systemd unit's CapabilityBoundingSet): the files a
	 * reload reads are then those the helper's user may read */
	if (keys && (capng_get_caps_process() < 0 ||
		     capng_have_capability(CAPNG_PERMITTED, CAP_DAC_READ_SEARCH) != 1)) {
		log_warn("helper", "helper: CAP_DAC_READ_SEARCH is not available (bounding set?): "
			 "a reload reads only the SSL files its user may read");
		keys = 0;
	}
	if (h->nb) {
		uid = h->b[0].s.uid;
		gid = h->b[0].s.gid;
	} else {
		ret = privdrop_ids(cfg->user, cfg->group, &uid, &gid, msg, len);
		if (ret < 0)
			return ret;
	}
	for (unsigned i = 0; i < h->nb; i++) {
		if (h->b[i].s.uid == 0 || uid == 0) {
			snprintf(msg, len, "ProxyAutostart: refusing to run a backend as root");
			return -EPERM;
		}
		if (h->b[i].s.gid == 0) {
			snprintf(msg, len, "ProxyAutostart: refusing to run a backend with group "
				 "root");
			return -EPERM;
		}
		same &= h->b[i].s.uid == uid && h->b[i].s.gid == gid;
	}
	if (uid == 0) {
		snprintf(msg, len, "ProxyAutostart: refusing to run a backend as root");
		return -EPERM;
	}
	if (gid == 0) {
		snprintf(msg, len, "ProxyAutostart: refusing to run a backend with group root");
		return -EPERM;
	}
	if (same) {
		h->uid = uid;
		h->gid = gid;
		return helper_privs_become(uid, gid, keys, msg, len);
	}
	h->switch_ids = true;
	return helper_privs_setid(keys, msg, len);
}

/* ---- talking to the serving process ---- */

/* Sends backend i's state on conversation fd. State messages are snapshots: one that
 * would block is dropped, and a peer that went away is noticed by the next recv(). */
static void helper_send_state(const struct helper *h, int fd, unsigned i, uint64_t now)
{
	const struct helper_backend *b = &h->b[i];
	struct helper_msg m = {
		.magic = HELPER_MSG_MAGIC,
		.type = HMSG_STATE,
		.backend = (uint16_t)i,
		.state = b->state,
		.starts = b->starts,
		.last_exit = b->last_exit,
	};

	if (b->state == HB_RUNNING || b->state == HB_STOPPING)
		m.pid = b->pid;
	if (b->state == HB_BACKOFF && b->next_start > now)
		m.backoff_ms = (uint32_t)(b->next_start - now < UINT32_MAX ? b->next_start - now
									 : UINT32_MAX);
	send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Backend b changed state: every open conversation hears of it. */
static void helper_changed(const struct helper *h, const struct helper_backend *b, uint64_t now)
{
	for (unsigned c = 0; c < h->nconv; c++)
		if (h->conv[c] >= 0)
			helper_send_state(h, h->conv[c], (unsigned)(b - h->b), now);
}

static void helper_conv_close(struct helper *h, unsigned c)
{
	close(h->conv[c]);
	h->conv[c] = -1;
	h->nopen--;
}

/* ---- backends' output ---- */

/* Writes b->out_line[0..out_len) as one entry of the error log (split: the line goes on in
 * the next one). A line the log does not take at once is dropped and counted; the count
 * is reported with the next line that is written. */
static void helper_out_emit(struct helper *h, struct helper_backend *b, bool split)
{
	if (log_output(b->name, (int)b->out_pid, b->out_line, b->out_len, split) == -EAGAIN) {
		h->out_dropped++;
	} else if (h->out_dropped) {
		log_warn("helper", "autostart: %lu lines of backend output dropped: the error log "
			 "did not take them without waiting", h->out_dropped);
		h->out_dropped = 0;
	}
	b->out_len = 0;
}

/* Reads what b's output pipe holds, at most HELPER_OUT_READS reads (a backend that writes
 * without pause cannot hold up the loop; it waits on its full pipe instead), and writes
 * each complete line; a line longer than LOG_OUTPUT_MAX becomes several entries. At EOF
 * (every writer gone), or when `last` (its process exited), a partial line is written
 * too and the pipe closed. */
static void helper_out_read(struct helper *h, struct helper_backend *b, bool last)
{
	char buf[4096];
	bool eof = false;

	for (unsigned r = 0; b->out_fd >= 0 && r < HELPER_OUT_READS; r++) {
		ssize_t n = read(b->out_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			eof = true;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				helper_out_emit(h, b, false);
				continue;
			}
			if (b->out_len == sizeof(b->out_line))
				helper_out_emit(h, b, true);
			b->out_line[b->out_len++] = buf[i];
		}
	}
	if (b->out_fd >= 0 && (eof || last)) {
		if (b->out_len)
			helper_out_emit(h, b, false);
		close(b->out_fd);
		b->out_fd = -1;
	}
}

/* ---- backends ---- */

static void __attribute__((noreturn)) helper_exec_fail(int efd, enum helper_stage stage, int err)
{
	struct helper_execerr e = { .stage = stage, .err = err };

	/* Should the record be lost, the parent takes the exec for a success and sees the
	 * process exit with 127 instead. */
	if (write(efd, &e, sizeof(e)) != (ssize_t)sizeof(e))
		_exit(127);
	_exit(127);
}

/* The child that becomes backend b: default signal handling, its own session, /dev/null
 * as standard input, its user (when the helper is still root, with the result checked),
 * its output as standard output and error (out: the write end of its pipe to the helper
 * when it has no Output=), its directory, then exec with nothing open but 0, 1 and 2.
 * Any failure is reported on efd. */
static void __attribute__((noreturn)) helper_exec(const struct helper *h,
						  const struct helper_backend *b, int efd, int out)
{
	const struct cfg_autostart *a = b->a;
	struct sigaction sa = { .sa_handler = SIG_DFL };
	enum helper_stage stage;
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);  /* SIGKILL, SIGSTOP, libc's own: EINVAL, fine */
	/* glibc refuses to touch its own two (32, 33), but they can arrive ignored (GNU make
	 * ignores them in its children): reset them with the system call itself. */
	for (int sig = 32; sig < SIGRTMIN; sig++) {
		struct { void (*handler)(int); unsigned long flags; void (*restorer)(void);
			 uint64_t mask; } ksa = { .handler = SIG_DFL };

		syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	stage = HS_SETSID;
	if (setsid() < 0)
		goto fail;
	stage = HS_STDIO;
	if (dup2(h->devnull, 0) < 0)
		goto fail;
	if (!a->output[0] && (dup2(out, 1) < 0 || dup2(out, 2) < 0))
		goto fail;
	if (h->switch_ids) {
		uid_t ruid, euid, suid;
		gid_t rgid, egid, sgid;

		stage = HS_SETGROUPS;
		if (setgroups(1, &b->s.gid) < 0)
			goto fail;
		stage = HS_SETRESGID;
		if (setresgid(b->s.gid, b->s.gid, b->s.gid) < 0)
			goto fail;
		stage = HS_SETRESUID;
		if (setresuid(b->s.uid, b->s.uid, b->s.uid) < 0)
			goto fail;
		stage = HS_PRIVS;
		errno = EPERM;
		if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
		    ruid != b->s.uid || euid != b->s.uid || suid != b->s.uid || rgid != b->s.gid ||
		    egid != b->s.gid || sgid != b->s.gid || capng_get_caps_process() < 0 ||
		    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
		    capng_have_permitted_capabilities() != CAPNG_NONE)
			goto fail;
	} else {
		/* The helper's own user: it keeps CAP_NET_BIND_SERVICE, the backend does not
		 * (exec would clear it too: no inheritable, ambient or bounding set). */
		stage = HS_PRIVS;
		errno = EPERM;
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0 || capng_get_caps_process() < 0 ||
		    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
			goto fail;
	}
	/* The backend dies with the helper, should the helper be killed (set after the id
	 * switch, which clears it; a helper already gone shows in getppid()). */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != h->self)
		_exit(127);
	/* Output= is opened here, after the switch, so that only the backend's own rights
	 * apply: the helper may be root, and the file and its directory are the backend's
	 * (a symbolic link it put there leads nowhere it could not write itself). Opened at
	 * every start, so a rotated file is followed from the next start on. O_NONBLOCK: a
	 * FIFO without a reader fails with ENXIO instead of blocking this child, and with it
	 * the helper, which waits on efd; the backend gets a blocking descriptor. */
	if (a->output[0]) {
		int fd, fl;

		stage = HS_OUTPUT;
		fd = open(a->output, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
			  O_NONBLOCK, 0640);
		if (fd < 0)
			goto fail;
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0)
			goto fail;
		close(fd);
	}
	stage = HS_CHDIR;
	if (chdir(a->dir[0] ? a->dir : "/") < 0)
		goto fail;
	stage = HS_CLOSE;
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	stage = HS_EXEC;
	execve(b->argv[0], b->argv, b->envp);
fail:
	helper_exec_fail(efd, stage, errno);
}

static void helper_stage_text(const struct helper_backend *b, int stage, char *out, size_t len)
{
	switch (stage) {
	case HS_SETSID:
		snprintf(out, len, "setsid");
		break;
	case HS_STDIO:
		snprintf(out, len, "standard input and output");
		break;
	case HS_SETGROUPS:
		snprintf(out, len, "setgroups %u", (unsigned)b->s.gid);
		break;
	case HS_SETRESGID:
		snprintf(out, len, "setresgid %u", (unsigned)b->s.gid);
		break;
	case HS_SETRESUID:
		snprintf(out, len, "setresuid %u", (unsigned)b->s.uid);
		break;
	case HS_PRIVS:
		snprintf(out, len, "privileges still held after the switch to uid %u",
			 (unsigned)b->s.uid);
		break;
	case HS_OUTPUT:
		snprintf(out, len, "open Output %s", b->a->output);
		break;
	case HS_CHDIR:
		snprintf(out, len, "chdir %s", b->a->dir[0] ? b->a->dir : "/");
		break;
	case HS_CLOSE:
		snprintf(out, len, "close_range");
		break;
	case HS_EXEC:
		snprintf(out, len, "exec %s", b->argv[0]);
		break;
	default:
		snprintf(out, len, "stage %d", stage);
		break;
	}
}

/* The earliest next start of b, whose process ended after running uptime_ms (`clean`: see
 * helper_backoff_next()). */
static void helper_backoff(struct helper_backend *b, uint64_t now, uint64_t uptime_ms,
			   bool clean)
{
	b->backoff_cur_ms = helper_backoff_next(b->backoff_cur_ms, b->a->backoff_min_ms,
						b->a->backoff_max_ms, uptime_ms, clean);
	b->next_start = now + b->backoff_cur_ms;
}

/* The process of b is gone (or never started) after running uptime_ms: schedule its next
 * start. A clean exit (status 0) is not restarted until the next HMSG_START, and that
 * start still waits for the backoff. */
static void helper_schedule(struct helper *h, struct helper_backend *b, uint64_t now,
			    uint64_t uptime_ms, bool clean)
{
	helper_backoff(b, now, uptime_ms, clean);
	if (clean)
		b->want_running = false;
	if (b->want_running) {
		b->state = HB_BACKOFF;
		if (b->backoff_cur_ms)
			log_notice("helper", "autostart: backend %s: next start in %.1f s "
				   "(RestartBackoff)", b->name, b->backoff_cur_ms / 1000.0);
		else
			log_notice("helper", "autostart: backend %s: restarting it now", b->name);
	} else {
		b->state = b->next_start > now ? HB_BACKOFF : HB_STOPPED;
	}
	helper_changed(h, b, now);
}

/* Starts backend b (want_running is set). The exec-error pipe makes the outcome known
 * here: EOF means the exec succeeded; a record says which step failed, which counts as an
 * exit after 0 s. */
static void helper_start(struct helper *h, struct helper_backend *b, uint64_t now)
{
	struct helper_execerr e;
	char what[CFG_PATH_MAX + 64];
	int p[2], out[2] = { -1, -1 }, st, fl;
	ssize_t n;
	pid_t pid;

	if (b->out_fd >= 0)
		helper_out_read(h, b, true);   /* the previous process's, should it be open */
	/* Without Output=: the backend's standard output and error are a pipe of its own
	 * (never a descriptor of the error log, which it could truncate or write lines
	 * into that look like spliced's); the helper's end is non-blocking, the backend's
	 * is not. */
	if (!b->a->output[0] && pipe2(out, O_CLOEXEC) < 0) {
		log_error("helper", "autostart: backend %s: output pipe: %s", b->name,
			  strerror(errno));
		helper_schedule(h, b, now, 0, false);
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_error("helper", "autostart: backend %s: pipe: %s", b->name, strerror(errno));
		goto out_close_out;
	}
	pid = fork();
	if (pid < 0) {
		log_error("helper", "autostart: backend %s: fork: %s", b->name, strerror(errno));
		close(p[0]);
		close(p[1]);
		goto out_close_out;
	}
	if (pid == 0) {
		close(p[0]);
		if (out[0] >= 0)
			close(out[0]);
		helper_exec(h, b, p[1], out[1]);
	}
	close(p[1]);
	if (out[1] >= 0)
		close(out[1]);
	out[1] = -1;
	do
		n = read(p[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		helper_stage_text(b, e.stage, what, sizeof(what));
		log_error("helper", "autostart: backend %s: %s: %s", b->name, what,
			  strerror(e.err));
		goto out_close_out;
	}
	if (out[0] >= 0) {
		fl = fcntl(out[0], F_GETFL);
		if (fl >= 0)
			fcntl(out[0], F_SETFL, fl | O_NONBLOCK);
		b->out_fd = out[0];
		b->out_pid = pid;
		b->out_len = 0;
	}
	b->pid = pid;
	b->pgid = pid;
	b->starts++;
	b->started_at = now;
	b->state = HB_RUNNING;
	log_notice("helper", "autostart: started backend %s (pid %d): %s", b->name, (int)pid,
		   b->cmdline);
	helper_changed(h, b, now);
	return;
out_close_out:
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	helper_schedule(h, b, now, 0, false);
}

/* SIGTERM to b's process group; SIGKILL follows at kill_at. A scheduled start is
 * cancelled. */
static void helper_stop(struct helper *h, struct helper_backend *b, uint64_t now)
{
	b->want_running = false;
	if (b->state == HB_RUNNING) {
		log_notice("helper", "autostart: stopping backend %s (pid %d)", b->name,
			   (int)b->pid);
		kill(-b->pgid, SIGTERM);
		b->state = HB_STOPPING;
		b->kill_at = now + b->a->stop_timeout_ms;
		helper_changed(h, b, now);
	} else if (b->state == HB_BACKOFF) {
		b->state = HB_STOPPED;
		helper_changed(h, b, now);
	}
}

/* The leader of b exited with wait status st and was reaped. Its group was sent SIGKILL
 * just before (see helper_reap()). */
static void helper_exited(struct helper *h, struct helper_backend *b, int st, uint64_t now)
{
	uint64_t up = now - b->started_at;
	bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;

	b->last_exit = WIFSIGNALED(st) ? 257 + (uint32_t)WTERMSIG(st) : 1 + (uint32_t)WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		log_notice("helper", "autostart: backend %s (pid %d) killed by signal %d after "
			   "%.1f s", b->name, (int)b->pid, WTERMSIG(st), up / 1000.0);
	else
		log_notice("helper", "autostart: backend %s (pid %d) exited with status %d after "
			   "%.1f s", b->name, (int)b->pid, WEXITSTATUS(st), up / 1000.0);
	/* A daemon's parent exits 0 at once and its child leaves the process group
	 * (setsid): it is not chased, but the log says why the backend seems gone. */
	if (clean && up < HELPER_FOREGROUND_MS && b->state != HB_STOPPING)
		log_warn("helper", "autostart: backend %s exited with status 0 %.1f s after its "
			 "start: backends must stay in the foreground (do not daemonize)",
			 b->name, up / 1000.0);
	if (kill(-b->pgid, 0) == 0)
		log_notice("helper", "autostart: backend %s: killed the processes left in its "
			   "process group", b->name);
	/* What it wrote before it ended is in the pipe: written out, a partial last line
	 * too. Its group was just killed; a process that left it loses its output. */
	if (b->out_fd >= 0)
		helper_out_read(h, b, true);
	b->pid = 0;
	if (b->state == HB_STOPPING) {
		/* helper_timers() sees the group go. A stop is not a crash, but a START after
		 * it still waits for the (clean-exit) backoff, as after any other end. */
		helper_backoff(b, now, up, true);
		return;
	}
	b->pgid = 0;
	helper_schedule(h, b, now, up, clean);
}

/* Reaps every child that exited. Each is looked at first without reaping it: while a
 * backend's leader is an unreaped zombie its pid, and so its process group id, cannot be
 * reused, so the SIGKILL that clears what it left in its group reaches only that group.
 * Children that are no leader are the backends' descendants reparented to the helper
 * (PR_SET_CHILD_SUBREAPER): they are just reaped. */
static void helper_reap(struct helper *h, uint64_t now)
{
	for (;;) {
		siginfo_t si;
		struct helper_backend *b = NULL;
		int st;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		for (unsigned i = 0; i < h->nb && !b; i++)
			if (h->b[i].pid == si.si_pid)
				b = &h->b[i];
		if (b)
			kill(-b->pgid, SIGKILL);
		while (waitpid(si.si_pid, &st, 0) < 0)
			if (errno != EINTR)
				return;
		if (b)
			helper_exited(h, b, st, now);
	}
}

/* ---- slots across reloads ---- */

/* Slot b holds the new line of a backend whose old line's process is still being stopped
 * (a slot a reload removed): b does not start before that process group is gone. */
static bool helper_waits(const struct helper *h, const struct helper_backend *b)
{
	for (unsigned i = 0; i < h->nb; i++) {
		const struct helper_backend *p = &h->b[i];

		if (p != b && p->used && p->retiring && strcmp(p->name, b->name) == 0)
			return true;
	}
	return false;
}

/* A removed slot whose process group is gone is freed: requests for it are answered
 * HB_STOPPED, a later reload may give it to another entry. A successor waiting for it
 * is started by helper_timers(). */
static void helper_retire(struct helper *h, struct helper_backend *b)
{
	log_info("helper", "autostart: slot %u (backend %s) retired", (unsigned)(b - h->b),
		 b->name);
	if (b->out_fd >= 0)
		close(b->out_fd);
	memset(b, 0, sizeof(*b));
	b->out_fd = -1;
}

static void helper_stopping(struct helper *h, struct helper_backend *b, uint64_t now)
{
	if (b->pid == 0) {
		if (kill(-b->pgid, 0) < 0 && errno == ESRCH) {
			b->pgid = 0;
			b->state = HB_STOPPED;
			log_notice("helper", "autostart: backend %s stopped", b->name);
			helper_changed(h, b, now);
			if (b->retiring)
				helper_retire(h, b);
		}
		return;
	}
	if (now >= b->kill_at) {
		/* The leader is not reaped: the group id is still its own. */
		kill(-b->pgid, SIGKILL);
		log_warn("helper", "autostart: backend %s did not stop within %.1f s of SIGTERM: "
			 "SIGKILL", b->name, b->a->stop_timeout_ms / 1000.0);
		b->kill_at = HELPER_NEVER;
	}
}

/* Due starts, the end of a backoff that is not to be followed by a start, stops. */
static void helper_timers(struct helper *h, uint64_t now)
{
	for (unsigned i = 0; i < h->nb; i++) {
		struct helper_backend *b = &h->b[i];

		if (b->state == HB_BACKOFF && now >= b->next_start && !helper_waits(h, b)) {
			if (b->want_running) {
				helper_start(h, b, now);
			} else {
				b->state = HB_STOPPED;
				helper_changed(h, b, now);
			}
		} else if (b->state == HB_STOPPING) {
			helper_stopping(h, b, now);
		}
	}
}

/* Milliseconds until the nearest timer, for poll(); -1 when none. */
static int helper_timeout(const struct helper *h, uint64_t now)
{
	uint64_t next = HELPER_NEVER;

	for (unsigned i = 0; i < h->nb; i++) {
		const struct helper_backend *b = &h->b[i];

		/* one waiting for a predecessor is woken by the predecessor's stop ticks */
		if (b->state == HB_BACKOFF && b->next_start < next && !helper_waits(h, b))
			next = b->next_start;
		if (b->state == HB_STOPPING) {
			if (now + HELPER_TICK_MS < next)
				next = now + HELPER_TICK_MS;
			if (b->kill_at < next)
				next = b->kill_at;
		}
	}
	if (next == HELPER_NEVER)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

/* ---- reload ---- */

/* The new entries, resolved, and the slot each goes to (-1: a new one). */
struct helper_reload {
	struct config cfg;
	struct helper_spec sp[CFG_MAX_AUTOSTART];
	int slot[CFG_MAX_AUTOSTART];
	unsigned n;
	const char *file;
};

/* Entry sp may run under the privileges the helper kept. 0 or -EPERM with msg set. */
static int helper_reload_allowed(const struct helper *h, const struct helper_reload *r,
				 const struct helper_spec *sp, char *msg, size_t len)
{
	if (sp->uid == 0 || sp->gid == 0) {
		snprintf(msg, len, "%s:%u: ProxyAutostart %s would run as %s root", r->file,
			 sp->a.line, sp->name, sp->uid == 0 ? "user" : "group");
		return -EPERM;
	}
	if (h->started_root && !h->switch_ids && (sp->uid != h->uid || sp->gid != h->gid)) {
		snprintf(msg, len, "%s:%u: ProxyAutostart %s would run as uid %u gid %u; the "
			 "helper runs as uid %u gid %u since start-up: restart spliced", r->file,
			 sp->a.line, sp->name, (unsigned)sp->uid, (unsigned)sp->gid,
			 (unsigned)h->uid, (unsigned)h->gid);
		return -EPERM;
	}
	return 0;
}

/* Loads the configuration again and decides what becomes of every slot, changing
 * nothing. 0 or -errno with msg set. */
static int helper_reload_prepare(const struct helper *h, struct helper_reload *r, char *msg,
				 size_t len)
{
	struct config_error cerr;
	bool taken[HELPER_MAX_SLOTS] = { false };
	unsigned need = 0;
	int ret;

	memset(&cerr, 0, sizeof(cerr));
	r->file = h->cfg_path ? h->cfg_path : "(built-in)";
	ret = h->cfg_path ? config_load(&r->cfg, h->cfg_path, &cerr)
			  : config_builtin(&r->cfg, &cerr);
	if (ret < 0) {
		char what[sizeof(cerr.file) + sizeof(cerr.msg) + 32];

		config_error_format(&cerr, what, sizeof(what));
		snprintf(msg, len, "%s%s", what, ret == -EACCES ? " (the helper reads it as its "
			 "own user, which must be able to)" : "");
		return ret;
	}
	r->n = r->cfg.nautostart;
	for (unsigned i = 0; i < r->n; i++) {
		char why[768];

		ret = helper_spec_init(h, &r->cfg, i, &r->sp[i], why, sizeof(why));
		if (ret < 0) {
			snprintf(msg, len, "%s:%u: %s", r->file, r->cfg.autostart[i].line, why);
			return ret;
		}
		ret = helper_reload_allowed(h, r, &r->sp[i], msg, len);
		if (ret < 0)
			return ret;
		if (!h->started_root && (r->sp[i].a.user[0] || r->sp[i].a.group[0]))
			log_warn("helper", "reload: %s:%u: not started as root: ProxyAutostart %s "
				 "runs as uid %u, User=/Group= cannot be applied", r->file,
				 r->sp[i].a.line, r->sp[i].name, (unsigned)r->sp[i].uid);
		r->slot[i] = -1;
		for (unsigned s = 0; s < h->nb && r->slot[i] < 0; s++) {
			const struct helper_backend *b = &h->b[s];

			if (b->used && !b->retiring && !taken[s] && b->s.digest == r->sp[i].digest &&
			    b->s.uid == r->sp[i].uid && b->s.gid == r->sp[i].gid &&
			    strcmp(b->name, r->sp[i].name) == 0) {
				r->slot[i] = (int)s;
				taken[s] = true;
			}
		}
		need += r->slot[i] < 0;
	}
	/* a removed slot whose process is gone is freed at once */
	for (unsigned s = 0; s < h->nb; s++)
		need += h->b[s].used && (taken[s] || h->b[s].state == HB_RUNNING ||
					 h->b[s].state == HB_STOPPING);
	if (need > HELPER_MAX_SLOTS) {
		snprintf(msg, len, "%s: %u ProxyAutostart processes would be configured or still "
			 "stopping, more than %u: try again once the removed ones are gone",
			 r->file, need, HELPER_MAX_SLOTS);
		return -ENOSPC;
	}
	return 0;
}

static bool helper_reload_kept(const struct helper_reload *r, unsigned s)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->slot[i] == (int)s)
			return true;
	return false;
}

/* An entry of r for backend `name` that gets a new slot. */
static bool helper_reload_has_new(const struct helper_reload *r, const char *name)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->slot[i] < 0 && strcmp(r->sp[i].name, name) == 0)
			return true;
	return false;
}

/* Carries out what helper_reload_prepare() decided: stops the slots no entry keeps, puts
 * new entries in free slots (restarting a changed line that was wanted running), and
 * updates the kept ones in place. Fills r->slot[] for every entry. */
static void helper_reload_apply(struct helper *h, struct helper_reload *r, uint64_t now)
{
	bool restart[CFG_MAX_AUTOSTART] = { false };

	for (unsigned s = 0; s < h->nb; s++) {
		struct helper_backend *b = &h->b[s];
		bool wanted = b->want_running || b->state == HB_RUNNING;
		bool changed;

		if (!b->used || b->retiring || helper_reload_kept(r, s))
			continue;
		changed = helper_reload_has_new(r, b->name);
		for (unsigned i = 0; i < r->n && changed && wanted; i++)
			restart[i] |= r->slot[i] < 0 && strcmp(r->sp[i].name, b->name) == 0;
		if (changed)
			log_notice("helper", "reload: backend %s changed%s", b->name,
				   wanted ? ", restarting" : "");
		else
			log_notice("helper", "reload: backend %s removed, stopping", b->name);
		b->retiring = true;
		helper_stop(h, b, now);
		if (b->state == HB_STOPPED)
			helper_retire(h, b);
	}
	for (unsigned i = 0; i < r->n; i++) {
		struct helper_backend *b;
		unsigned s = 0;

		if (r->slot[i] >= 0) {
			b = &h->b[r->slot[i]];
			helper_slot_set(h, (unsigned)r->slot[i], &r->sp[i]);
			log_notice("helper", "reload: backend %s unchanged (pid %d)", b->name,
				   (int)b->pid);
			continue;
		}
		while (h->b[s].used)
			s++;  /* helper_reload_prepare() counted a free one */
		r->slot[i] = (int)s;
		b = &h->b[s];
		helper_slot_set(h, s, &r->sp[i]);
		log_notice("helper", "reload: backend %s new (slot %u)%s", b->name, s,
			   helper_waits(h, b) ? ", waits for its old process to be gone" : "");
		if (!restart[i])
			continue;
		b->want_running = true;
		if (helper_waits(h, b)) {
			b->state = HB_BACKOFF;
			helper_changed(h, b, now);
		} else {
			helper_start(h, b, now);
		}
	}
}

/* One reply datagram on the conversation that asked: not dropped as a state snapshot
 * may be, but not waited for longer than 2 s either (then the conversation ends). */
static bool helper_reply(struct helper *h, unsigned c, enum helper_msg_type type,
			 unsigned backend, uint32_t state, uint32_t starts, uint32_t extra)
{
	struct helper_msg m = {
		.magic = HELPER_MSG_MAGIC, .type = (uint16_t)type, .backend = (uint16_t)backend,
		.state = state, .starts = starts, .backoff_ms = extra,
	};
	struct timeval tv = { .tv_sec = 2 };

	if (h->conv[c] < 0)
		return false;
	setsockopt(h->conv[c], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send(h->conv[c], &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m))
		return true;
	log_error("helper", "conversation %u ended: reload answer not taken: %s", c,
		  strerror(errno));
	helper_conv_close(h, c);
	return false;
}

/* HMSG_RELOAD on conversation c (the last one). */
static void helper_reload(struct helper *h, unsigned c, uint64_t now)
{
	struct helper_reload *r = calloc(1, sizeof(*r));
	char msg[2048];
	int ret = -ENOMEM;

	snprintf(msg, sizeof(msg), "out of memory");
	if (r) {
		log_notice("helper", "reload: reading %s", h->cfg_path ? h->cfg_path
					 : "the built-in configuration");
		ret = helper_reload_prepare(h, r, msg, sizeof(msg));
	}
	if (ret < 0) {
		log_error("helper", "reload: %s; nothing changed", msg);
		helper_reply(h, c, HMSG_RELOADED, 0, (uint32_t)-ret, 0, 0);
		goto out_free;
	}
	helper_reload_apply(h, r, now);
	for (unsigned i = 0; i < r->n; i++)
		if (!helper_reply(h, c, HMSG_MAPPED, i, 0, (uint32_t)r->slot[i],
				  r->sp[i].digest))
			goto out_free;
	helper_reply(h, c, HMSG_RELOADED, r->n, 0, 0, 0);
	log_notice("helper", "reload: %u ProxyAutostart entries", r->n);
out_free:
	if (r)
		config_free(&r->cfg);
	free(r);
}

/* ---- binding Listen addresses (HMSG_BIND) ---- */

/* One listening socket for l, made as the serving process makes its own (main.c,
 * listen_socket()): SO_REUSEADDR, SO_REUSEPORT (one socket per worker), IPV6_V6ONLY for
 * IPv6, non-blocking, backlog 4096. The descriptor, or -errno. */
static int helper_listen_socket(const struct cfg_listen *l)
{
	int one = 1, ret;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (l->addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0 ||
	    listen(fd, 4096) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Nothing listens on l: a bind without SO_REUSEPORT succeeds (as main.c's
 * listen_probe(): SO_REUSEPORT would let the new sockets share a port another process
 * of the same user listens on). 0 or -errno (-EADDRINUSE). */
static int helper_listen_probe(const struct cfg_listen *l)
{
	int one = 1, ret = 0;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if ((l->addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The answer to HMSG_BIND (HMSG_BOUND) or HMSG_OPEN (HMSG_OPENED, with extra): n
 * descriptors (n > 0, in datagrams of HELPER_BOUND_MAX at most) or the errno err (n 0),
 * each datagram not waited for longer than 2 s (then the conversation ends, as for a
 * reload). */
static void helper_reply_fds(struct helper *h, unsigned c, enum helper_msg_type type,
			     unsigned line, const int *fds, unsigned n, int err, uint32_t extra)
{
	struct helper_msg m = {
		.magic = HELPER_MSG_MAGIC, .type = (uint16_t)type, .backend = (uint16_t)line,
		.state = (uint32_t)err, .backoff_ms = err ? 0 : extra,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * HELPER_BOUND_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct timeval tv = { .tv_sec = 2 };
	unsigned sent = 0;

	if (h->conv[c] < 0)
		return;
	setsockopt(h->conv[c], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	do {
		unsigned k = n - sent < HELPER_BOUND_MAX ? n - sent : HELPER_BOUND_MAX;

		if (!err) {
			struct cmsghdr *cm;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * k);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * k);
			memcpy(CMSG_DATA(cm), fds + sent, sizeof(int) * k);
			m.starts = k;
		}
		if (sendmsg(h->conv[c], &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(m))
			goto out_fail;
		sent += k;
	} while (sent < n);
	return;
out_fail:
	log_error("helper", "conversation %u ended: %s answer not taken: %s", c,
		  type == HMSG_OPENED ? "open" : "bind", strerror(errno));
	helper_conv_close(h, c);
}

/* The configuration file as the helper reads it now (HMSG_BIND, HMSG_OPEN), on the heap
 * (helper_cfg_free()). NULL with *ret = -errno and the reason logged, prefixed with
 * what, when it cannot be read or allocated. */
static struct config *helper_cfg_read(const struct helper *h, const char *what, int *ret)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct config_error cerr;
	char text[sizeof(cerr.file) + sizeof(cerr.msg) + 32];

	if (!cfg) {
		log_error("helper", "%s: out of memory", what);
		*ret = -ENOMEM;
		return NULL;
	}
	memset(&cerr, 0, sizeof(cerr));
	*ret = h->cfg_path ? config_load(cfg, h->cfg_path, &cerr) : config_builtin(cfg, &cerr);
	if (*ret < 0) {
		config_error_format(&cerr, text, sizeof(text));
		log_error("helper", "%s: %s", what, text);
		config_free(cfg);   /* what a failed parse had compiled */
		free(cfg);
		return NULL;
	}
	return cfg;
}

static void helper_cfg_free(struct config *cfg)
{
	if (cfg)
		config_free(cfg);
	free(cfg);
}

/* HMSG_BIND on conversation c (the last one). The address comes from the configuration
 * file, read again now (never from the serving process): a compromised serving process
 * can have the helper bind the addresses of the file's own Listen lines, nothing else.
 * Read now rather than at the last HMSG_RELOAD: the serving process binds its new
 * addresses before it asks the helper to reload (the last step of a reload that can
 * fail), and checks what it gets against its own reading. */
static void helper_bind_request(struct helper *h, unsigned c, const struct helper_msg *m)
{
	const char *file = h->cfg_path ? h->cfg_path : "(built-in)";
	const struct cfg_listen *l = NULL;
	int fds[HELPER_BIND_MAX];
	unsigned n = 0;
	int ret;
	struct config *cfg = helper_cfg_read(h, "bind", &ret);

	if (!cfg)
		goto out_reply;
	if (m->backend == HELPER_LISTEN_METRICS && cfg->metrics.addrlen)
		l = &cfg->metrics;
	else if (m->backend < cfg->nlisten)
		l = &cfg->listen[m->backend];
	if (!l) {
		log_error("helper", "bind: %s has no %s line %u", file,
			  m->backend == HELPER_LISTEN_METRICS ? "MetricsListen" : "Listen",
			  m->backend);
		ret = -ENOENT;
		goto out_reply;
	}
	if (l->addr.ss_family != AF_INET && l->addr.ss_family != AF_INET6) {
		ret = -EAFNOSUPPORT;
		goto out_log;
	}
	ret = helper_listen_probe(l);
	while (ret >= 0 && n < m->starts) {
		ret = helper_listen_socket(l);
		if (ret >= 0)
			fds[n++] = ret;
	}
	if (ret >= 0) {
		log_notice("helper", "bind: %s: %u listening sockets for the serving process",
			   l->name, n);
		ret = 0;
		goto out_reply;
	}
out_log:
	log_error("helper", "bind: could not bind to address %s: %s%s", l->name,
		  strerror(-ret), ret == -EADDRINUSE ? " (another process listens there)" : "");
out_reply:
	helper_reply_fds(h, c, HMSG_BOUND, m->backend, fds, ret < 0 ? 0 : n, ret < 0 ? -ret : 0,
			 0);
	while (n-- > 0)
		close(fds[n]);
	helper_cfg_free(cfg);
}

/* ---- opening certificate and key files (HMSG_OPEN) ---- */

/* HMSG_OPEN on conversation c (the last one). The path comes from the configuration file,
 * read again now, as for HMSG_BIND: a compromised serving process can have the helper
 * open the files of the file's own SSL directives, nothing else. */
static void helper_open_request(struct helper *h, unsigned c, const struct helper_msg *m)
{
	const struct tls_file *f;
	uint32_t digest = 0;
	struct stat st;
	int fd = -1, ret;
	struct config *cfg = helper_cfg_read(h, "open", &ret);

	if (!cfg)
		goto out_reply;
	if (!cfg->tls || m->backend >= cfg->tls->nfile) {
		log_error("helper", "open: %s names no certificate or key file %u",
			  h->cfg_path ? h->cfg_path : "(built-in)", m->backend);
		ret = -ENOENT;
		goto out_reply;
	}
	f = &cfg->tls->file[m->backend];
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		log_error("helper", "open: %s: %s", f->path, strerror(-ret));
		goto out_reply;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)(1 << 20)) {
		log_error("helper", "open: %s: not a regular file of at most 1 MiB", f->path);
		ret = -EINVAL;
		goto out_reply;
	}
	digest = helper_tls_file_digest(f);
	log_notice("helper", "open: %s for the serving process", f->path);
	ret = 0;
out_reply:
	helper_reply_fds(h, c, HMSG_OPENED, m->backend, &fd, ret < 0 ? 0 : 1, ret < 0 ? -ret : 0,
			 digest);
	if (fd >= 0)
		close(fd);
	helper_cfg_free(cfg);
}

static void helper_request(struct helper *h, unsigned c, const struct helper_msg *m,
			   uint64_t now)
{
	struct helper_backend *b = &h->b[m->backend];

	/* A retired slot is answered HB_STOPPED; a removed one still stopping, with its
	 * state: neither is started again. */
	if (m->type == HMSG_START && (!b->used || b->retiring))
		goto out_answer;
	switch (m->type) {
	case HMSG_START:
		if (b->state == HB_RUNNING || b->state == HB_STOPPING)
			break;
		if (helper_waits(h, b)) {
			/* The process of the line it replaces still goes: they usually bind
			 * the same port. Started once that one is gone (helper_timers()). */
			b->want_running = true;
			if (b->state != HB_BACKOFF) {
				b->state = HB_BACKOFF;
				helper_changed(h, b, now);
			}
			break;
		}
		if (now >= b->next_start) {
			b->want_running = true;
			helper_start(h, b, now);
			break;
		}
		/* Never sooner than the backoff: a request per refused connection must not
		 * become a fork loop. */
		if (!b->want_running)
			log_notice("helper", "autostart: backend %s: start requested, next start "
				   "in %.1f s (RestartBackoff)", b->name,
				   (b->next_start - now) / 1000.0);
		b->want_running = true;
		if (b->state != HB_BACKOFF) {
			b->state = HB_BACKOFF;
			helper_changed(h, b, now);
		}
		break;
	case HMSG_STOP:
		helper_stop(h, b, now);
		break;
	default:
		break;
	}
out_answer:
	if (h->conv[c] >= 0)
		helper_send_state(h, h->conv[c], m->backend, now);
}

/* One datagram from conversation c. Anything that is not exactly one valid request ends
 * the conversation; the others go on. */
static void helper_conv_read(struct helper *h, unsigned c, uint64_t now)
{
	struct helper_msg m;
	const char *why;
	bool bad;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	n = recv(h->conv[c], &m, sizeof(m), MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		log_info("helper", "conversation %u closed", c);
		helper_conv_close(h, c);
		return;
	}
	bad = helper_msg_check_request(&m, (long)n, HELPER_MAX_SLOTS, &why) < 0;
	if (!bad && (m.type == HMSG_RELOAD || m.type == HMSG_BIND || m.type == HMSG_OPEN) &&
	    c != h->nconv - 1) {
		why = m.type == HMSG_RELOAD ? "reload asked on a worker's conversation"
		    : m.type == HMSG_BIND   ? "bind asked on a worker's conversation"
					    : "open asked on a worker's conversation";
		bad = true;
	}
	if (bad) {
		log_error("helper", "conversation %u ended: %s", c, why);
		helper_conv_close(h, c);
		return;
	}
	if (m.type == HMSG_RELOAD)
		helper_reload(h, c, now);
	else if (m.type == HMSG_BIND)
		helper_bind_request(h, c, &m);
	else if (m.type == HMSG_OPEN)
		helper_open_request(h, c, &m);
	else
		helper_request(h, c, &m, now);
}

/* No conversation is left: the serving process stopped or died. Every backend stops. */
static void helper_close_all(struct helper *h, uint64_t now)
{
	h->closing = true;
	for (unsigned i = 0; i < h->nb; i++)
		helper_stop(h, &h->b[i], now);
}

static bool helper_all_stopped(const struct helper *h)
{
	for (unsigned i = 0; i < h->nb; i++)
		if (h->b[i].state == HB_STOPPING || h->b[i].state == HB_RUNNING)
			return false;
	return true;
}

/* Before exiting: children still left are processes that escaped their backend's group
 * (setsid) and were reparented to the helper. They are killed and reaped, for at most
 * two seconds, rather than left running with no one to supervise them. */
static void helper_sweep(void)
{
	char path[64], buf[4096];
	bool said = false;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	for (unsigned round = 0; round < 100; round++) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 20 * 1000000 };
		int st, fd;
		pid_t r;
		ssize_t n;

		while ((r = waitpid(-1, &st, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			return;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		for (char *s = buf, *end; *s; s = end) {
			long pid = strtol(s, &end, 10);

			if (end == s)
				break;
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0 && !said) {
				log_warn("helper", "helper: killing processes that left their "
					 "backend's process group");
				said = true;
			}
		}
		nanosleep(&ts, NULL);
	}
}

/* SIGUSR1: the error log is reopened by its path onto the same descriptor, as the serving
 * process does, with the same rules (log_file_open(): its directory is writable by the
 * serving process's user, and the helper may be uid 0, so a symbolic link is not
 * followed, and a FIFO cannot block the helper). On failure the old file stays in use and
 * the reason is logged there. */
static void helper_log_reopen(const struct helper *h)
{
	char msg[1024];

	if (!h->error_log[0] || log_fd_get() == STDERR_FILENO)
		return;  /* standard error: nothing to reopen */
	if (log_reopen(msg, sizeof(msg)) < 0)
		log_error("helper", "SIGUSR1: reopening the error log: %s (the old file stays in "
			  "use)", msg);
	else
		log_notice("helper", "caught SIGUSR1, error log reopened");
}

static void __attribute__((noreturn)) helper_run(struct helper *h)
{
	for (;;) {
		uint64_t now = helper_now_ms();
		unsigned n = 0, nc;
		int ret;

		helper_timers(h, now);
		if (!h->nopen && !h->closing)
			helper_close_all(h, now);
		if (h->closing && helper_all_stopped(h)) {
			helper_sweep();
			log_notice("helper", "helper: exiting");
			_exit(0);
		}
		for (unsigned c = 0; c < h->nconv; c++) {
			if (h->conv[c] < 0)
				continue;
			h->pfd[n] = (struct pollfd){ .fd = h->conv[c], .events = POLLIN };
			h->pconv[n++] = c;
		}
		nc = n;
		for (unsigned i = 0; i < h->nb; i++) {
			if (h->b[i].out_fd < 0)
				continue;
			h->pfd[n] = (struct pollfd){ .fd = h->b[i].out_fd, .events = POLLIN };
			h->pconv[n++] = i;
		}
		h->pfd[n] = (struct pollfd){ .fd = h->sfd, .events = POLLIN };
		ret = poll(h->pfd, n + 1, helper_timeout(h, now));
		if (ret < 0) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000000 };

			if (errno != EINTR) {
				log_error("helper", "poll: %s", strerror(errno));
				nanosleep(&ts, NULL);
			}
			continue;
		}
		now = helper_now_ms();
		/* Output first: a backend's last lines are read before its exit is. */
		for (unsigned k = nc; k < n; k++)
			if (h->pfd[k].revents)
				helper_out_read(h, &h->b[h->pconv[k]], false);
		if (h->pfd[n].revents) {
			struct signalfd_siginfo si;
			bool reopen = false;

			while (read(h->sfd, &si, sizeof(si)) > 0)
				reopen |= si.ssi_signo == SIGUSR1;
			if (reopen)
				helper_log_reopen(h);
			helper_reap(h, now);
		}
		for (unsigned k = 0; k < nc; k++)
			if (h->pfd[k].revents)
				helper_conv_read(h, h->pconv[k], now);
	}
}

/* The end of the set-up: HMSG_READY on the last conversation, the one helper_spawn()
 * waits on. 0 or -errno with msg set. */
static int helper_ready(const struct helper *h, char *msg, size_t len)
{
	struct helper_msg m = { .magic = HELPER_MSG_MAGIC, .type = HMSG_READY };

	if (send(h->conv[h->nconv - 1], &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		snprintf(msg, len, "sending READY: %s", strerror(errno));
		return -EPIPE;
	}
	return 0;
}

/* The helper process, from fork to _exit. Set-up failures are logged and end it with
 * status 1, before HMSG_READY: helper_spawn() sees the conversation close and fails. */
static void __attribute__((noreturn)) helper_main(const struct config *cfg,
						  const char *cfg_path, int *conv,
						  unsigned nconv)
{
	struct helper *h;
	char msg[1024];

	prctl(PR_SET_NAME, "spliced-helper", 0, 0, 0);
	if (helper_close_inherited(conv, nconv, msg, sizeof(msg)) < 0)
		goto fail;
	h = calloc(1, sizeof(*h));
	if (h) {
		h->pfd = calloc(nconv + HELPER_MAX_SLOTS + 1, sizeof(*h->pfd));
		h->pconv = calloc(nconv + HELPER_MAX_SLOTS + 1, sizeof(*h->pconv));
		h->cfg_path = cfg_path ? strdup(cfg_path) : NULL;
	}
	if (!h || !h->pfd || !h->pconv || (cfg_path && !h->cfg_path)) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto fail;
	}
	h->conv = conv;
	h->nconv = h->nopen = nconv;
	h->sfd = -1;
	h->self = getpid();
	h->started_root = geteuid() == 0;
	_Static_assert(sizeof(h->error_log) == sizeof(cfg->error_log), "error_log size");
	memcpy(h->error_log, cfg->error_log, sizeof(h->error_log));
	h->error_log[sizeof(h->error_log) - 1] = '\0';
	if (helper_signals(h, msg, sizeof(msg)) < 0)
		goto fail;
	/* The backends' orphaned descendants are reparented here, and reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		snprintf(msg, sizeof(msg), "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		goto fail;
	}
	if (helper_init(h, cfg, msg, sizeof(msg)) < 0 ||
	    helper_privileges(h, cfg, msg, sizeof(msg)) < 0 ||
	    helper_ready(h, msg, sizeof(msg)) < 0)
		goto fail;
	helper_run(h);
fail:
	log_error("helper", "%s", msg);
	_exit(1);
}

/* The serving side waits for one datagram of the helper on sock until `until`
 * (helper_now_ms()) into mh (MSG_TRUNC, descriptors close-on-exec). Its length; 0 when
 * the helper closed the conversation or the receive failed; -ETIMEDOUT; or poll's
 * -errno. */
static ssize_t helper_recvmsg_until(int sock, struct msghdr *mh, uint64_t until)
{
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		uint64_t now = helper_now_ms();
		ssize_t n;
		int r;

		if (now >= until)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(until - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		n = recvmsg(sock, mh, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return 0;
	}
}

/* One helper_msg from sock until `until`, as helper_recvmsg_until(). */
static ssize_t helper_msg_recv_until(int sock, struct helper_msg *m, uint64_t until)
{
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(m, 0, sizeof(*m));
	return helper_recvmsg_until(sock, &mh, until);
}

/* The serving side of the set-up: the helper's first datagram on sock must be its
 * HMSG_READY, within HELPER_READY_MS. 0, or -errno with msg set. */
static int helper_wait_ready(int sock, char *msg, size_t len)
{
	struct helper_msg m;
	const char *why;
	ssize_t n = helper_msg_recv_until(sock, &m, helper_now_ms() + HELPER_READY_MS);

	if (n == -ETIMEDOUT) {
		snprintf(msg, len, "the helper did not finish its set-up within %u s",
			 HELPER_READY_MS / 1000);
		return -ETIMEDOUT;
	}
	if (n < 0) {
		snprintf(msg, len, "waiting for the helper: poll: %s", strerror((int)-n));
		return (int)n;
	}
	if (n == 0) {
		snprintf(msg, len, "the helper could not set up the backends' supervision and "
			 "exited (the error log says why)");
		return -EPERM;
	}
	if (helper_msg_check_ready(&m, (long)n, &why) < 0) {
		snprintf(msg, len, "the helper's first message is not READY: %s", why);
		return -EPROTO;
	}
	return 0;
}

pid_t helper_spawn(const struct config *cfg, const char *cfg_path, unsigned nsock, int *socks,
		   char *msg, size_t msglen)
{
	int *mine, ret, st;
	unsigned i;
	pid_t pid;

	if (!nsock || cfg->nautostart > CFG_MAX_AUTOSTART) {
		snprintf(msg, msglen, "helper: bad arguments");
		return -EINVAL;
	}
	mine = calloc(nsock, sizeof(*mine));
	if (!mine) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < nsock; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			ret = -errno;
			snprintf(msg, msglen, "socketpair: %s", strerror(errno));
			goto out_close;
		}
		socks[i] = sv[0];
		mine[i] = sv[1];
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(msg, msglen, "fork: %s", strerror(errno));
		goto out_close;
	}
	if (pid == 0)
		helper_main(cfg, cfg_path, mine, nsock);
	/* Closed before waiting: a helper that exits is then seen as EOF. */
	for (i = 0; i < nsock; i++)
		close(mine[i]);
	free(mine);
	ret = helper_wait_ready(socks[nsock - 1], msg, msglen);
	if (ret == 0)
		return pid;
	/* Our unreaped child: the pid cannot have been reused. */
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	for (i = 0; i < nsock; i++) {
		close(socks[i]);
		socks[i] = -1;
	}
	return ret;
out_close:
	while (i-- > 0) {
		close(socks[i]);
		close(mine[i]);
		socks[i] = -1;
	}
	free(mine);
	return ret;
}

/* Graceful shutdown: the STOPs say what is meant, closing the last conversation is what
 * makes the helper stop everything and exit. Sends are bounded by a 1 s timeout so that a
 * helper that stopped reading cannot hang the serving process. */
int helper_shutdown(pid_t pid, int sock, const struct config *cfg)
{
	struct timeval tv = { .tv_sec = 1 };
	unsigned longest = 0;
	uint64_t deadline;
	int st;

	if (sock >= 0) {
		setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		for (unsigned i = 0; i < HELPER_MAX_SLOTS; i++) {
			struct helper_msg m;

			helper_msg_request(&m, HMSG_STOP, i);
			send(sock, &m, sizeof(m), MSG_NOSIGNAL);
		}
		close(sock);
	}
	for (unsigned i = 0; i < cfg->nautostart; i++)
		if (cfg->autostart[i].stop_timeout_ms > longest)
			longest = cfg->autostart[i].stop_timeout_ms;
	deadline = helper_now_ms() + longest + 2000;
	for (;;) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 20 * 1000000 };
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (helper_now_ms() >= deadline)
			break;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return -ETIMEDOUT;
}

/* ---- the serving side of HMSG_BIND ---- */

bool helper_listener_check(int fd, const struct cfg_listen *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int v, type, domain;
	socklen_t vl = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &vl) < 0 || type != SOCK_STREAM)
		return false;
	vl = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &vl) < 0 ||
	    domain != l->addr.ss_family)
		return false;
	vl = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) < 0 || !v)
		return false;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || ss.ss_family != l->addr.ss_family)
		return false;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&ss, *b = (const void *)&l->addr;

		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&ss, *b = (const void *)&l->addr;

		return a->sin6_port == b->sin6_port && a->sin6_scope_id == b->sin6_scope_id &&
		       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
	}
	return false;
}

static void helper_close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* One datagram from the helper on sock, within the time left until `until`: *m and the
 * descriptors it carries (at most max, close-on-exec), *nfd of them. 0, or -errno with
 * msg set and nothing left open. */
static int helper_recv_fds(int sock, uint64_t until, struct helper_msg *m, int *fds,
			   unsigned max, unsigned *nfd, char *msg, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * HELPER_BOUND_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	const char *why;
	ssize_t n;

	*nfd = 0;
	memset(m, 0, sizeof(*m));
	n = helper_recvmsg_until(sock, &mh, until);
	if (n == -ETIMEDOUT) {
		snprintf(msg, len, "the helper did not answer the bind in time");
		return -ETIMEDOUT;
	}
	if (n < 0) {
		snprintf(msg, len, "waiting for the helper: poll: %s", strerror((int)-n));
		return (int)n;
	}
	if (n == 0) {
		snprintf(msg, len, "the helper closed its conversation");
		return -EPIPE;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (*nfd < max)
				fds[(*nfd)++] = fd;
			else
				close(fd);
		}
	}
	if ((mh.msg_flags & MSG_CTRUNC) || helper_msg_check_reply(m, (long)n, &why) < 0) {
		helper_close_fds(fds, *nfd);
		*nfd = 0;
		snprintf(msg, len, "the helper's answer to a bind: %s",
			 mh.msg_flags & MSG_CTRUNC ? "descriptors cut off" : why);
		return -EPROTO;
	}
	return 0;
}

int helper_conv_drain(int sock)
{
	int n = 0;

	for (unsigned i = 0; i < 4096; i++) {
		struct helper_msg m;
		int fds[HELPER_BOUND_MAX];
		unsigned nfd;
		char msg[160];
		int ret = helper_recv_fds(sock, helper_now_ms() + 1, &m, fds, HELPER_BOUND_MAX,
					  &nfd, msg, sizeof(msg));

		if (ret < 0 && ret != -EPROTO)
			break;
		helper_close_fds(fds, nfd);
		n++;
	}
	return n;
}

/* The HMSG_BOUND answers to a bind of k sockets on Listen line `line`: fds[0..k) or
 * -errno with msg set (and fds closed). STATE messages in between are skipped. */
static int helper_bound(int sock, unsigned line, const struct cfg_listen *l, unsigned k,
			int *fds, uint64_t until, char *msg, size_t len)
{
	unsigned got = 0;

	while (got < k) {
		struct helper_msg m;
		unsigned nfd;
		int ret = helper_recv_fds(sock, until, &m, fds + got, k - got, &nfd, msg, len);

		if (ret < 0)
			return ret;
		if (m.type != HMSG_BOUND && !nfd)
			continue;
		if (m.type != HMSG_BOUND || m.backend != line || m.starts != nfd ||
		    (m.state && got)) {
			helper_close_fds(fds + got, nfd);
			snprintf(msg, len, "the helper's answer to a bind of %s does not match "
				 "the request", l->name);
			return -EPROTO;
		}
		if (m.state) {
			snprintf(msg, len, "the helper could not bind %s: %s (the error log says "
				 "why)", l->name, strerror((int)m.state));
			return -(int)m.state;
		}
		got += nfd;
	}
	return 0;
}

int helper_bind(int sock, unsigned line, const struct cfg_listen *l, unsigned k, int *fds,
		unsigned timeout_ms, char *msg, size_t len)
{
	uint64_t until = helper_now_ms() + timeout_ms;
	struct helper_msg m;
	int ret;

	if (k == 0 || k > HELPER_BIND_MAX) {
		snprintf(msg, len, "helper_bind: bad arguments");
		return -EINVAL;   /* fds is not that long */
	}
	for (unsigned i = 0; i < k; i++)
		fds[i] = -1;
	if (line >= CFG_MAX_LISTEN && line != HELPER_LISTEN_METRICS) {
		snprintf(msg, len, "helper_bind: bad arguments");
		return -EINVAL;
	}
	helper_msg_request(&m, HMSG_BIND, line);
	m.starts = k;
	if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		snprintf(msg, len, "asking the helper to bind %s: %s", l->name, strerror(errno));
		return -errno;
	}
	ret = helper_bound(sock, line, l, k, fds, until, msg, len);
	if (ret < 0)
		goto out_close;
	for (unsigned i = 0; i < k; i++) {
		int fl = fcntl(fds[i], F_GETFL);

		if (!helper_listener_check(fds[i], l)) {
			snprintf(msg, len, "the helper bound another address than %s: the "
				 "configuration file changed while it was read; reload again",
				 l->name);
			ret = -ESTALE;
			goto out_close;
		}
		if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)) {
			snprintf(msg, len, "%s: F_SETFL: %s", l->name, strerror(errno));
			ret = -EBADF;
			goto out_close;
		}
	}
	return 0;
out_close:
	helper_close_fds(fds, k);
	return ret;
}

/* ---- the serving side of HMSG_OPEN ---- */

int helper_open(int sock, unsigned index, const struct tls_file *f, unsigned timeout_ms,
		char *msg, size_t len)
{
	uint64_t until = helper_now_ms() + timeout_ms;
	struct helper_msg m;
	struct stat st;
	unsigned nfd;
	int fd = -1, ret;

	if (index >= TLS_MAX_FILES) {
		snprintf(msg, len, "helper_open: bad arguments");
		return -EINVAL;
	}
	helper_msg_request(&m, HMSG_OPEN, index);
	if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		ret = -errno;
		snprintf(msg, len, "asking the helper to open %s: %s", f->path, strerror(-ret));
		return ret;
	}
	do {   /* HMSG_STATE messages in between are skipped */
		ret = helper_recv_fds(sock, until, &m, &fd, 1, &nfd, msg, len);
		if (ret < 0)
			return ret;
	} while (m.type == HMSG_STATE && !nfd);
	if (m.type != HMSG_OPENED || m.backend != index || m.starts != nfd) {
		helper_close_fds(&fd, nfd);
		snprintf(msg, len, "the helper's answer to opening %s does not match the request",
			 f->path);
		return -EPROTO;
	}
	if (m.state) {
		snprintf(msg, len, "the helper could not open %s: %s (the error log says why)",
			 f->path, strerror((int)m.state));
		return -(int)m.state;
	}
	if (m.backoff_ms != helper_tls_file_digest(f)) {
		helper_close_fds(&fd, nfd);
		snprintf(msg, len, "the helper opened another file than %s: the configuration "
			 "file changed while it was read; reload again", f->path);
		return -ESTALE;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		helper_close_fds(&fd, nfd);
		snprintf(msg, len, "the helper's descriptor for %s is not a regular file", f->path);
		return -EPROTO;
	}
	return fd;
}

int helper_reload_ask(int sock, const struct config *cfg, uint16_t *slot, unsigned timeout_ms,
		      char *msg, size_t len)
{
	uint64_t until = helper_now_ms() + timeout_ms;
	struct helper_msg m;
	unsigned mapped = 0;
	const char *why;

	helper_msg_request(&m, HMSG_RELOAD, 0);
	if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		snprintf(msg, len, "asking the helper to reload: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n = helper_msg_recv_until(sock, &m, until);

		if (n < 0) {
			snprintf(msg, len, "the helper did not answer the reload within %u s",
				 timeout_ms / 1000);
			return -1;
		}
		if (n == 0) {
			snprintf(msg, len, "the helper closed its conversation");
			return -1;
		}
		if (helper_msg_check_reply(&m, (long)n, &why) < 0) {
			snprintf(msg, len, "the helper's answer: %s", why);
			return -1;
		}
		if (m.type == HMSG_STATE)
			continue;
		if (m.type == HMSG_MAPPED) {
			const struct cfg_autostart *a;

			if (m.backend >= cfg->nautostart) {
				snprintf(msg, len, "the helper maps ProxyAutostart %u, the configuration "
					 "has %u: it changed while it was read; reload again",
					 m.backend, cfg->nautostart);
				return -1;
			}
			a = &cfg->autostart[m.backend];
			if (helper_autostart_digest(cfg, a) != m.backoff_ms) {
				snprintf(msg, len, "ProxyAutostart %s (line %u) differs in the helper's "
					 "reading: the file changed while it was read; reload again",
					 cfg->backend[a->backend].name, a->line);
				return -1;
			}
			slot[m.backend] = (uint16_t)m.starts;
			mapped++;
			continue;
		}
		/* HMSG_RELOADED */
		if (m.state) {
			snprintf(msg, len, "the helper refused the new ProxyAutostart lines: %s "
				 "(its reason is in the error log)", strerror((int)m.state));
			return -1;
		}
		if (m.backend != cfg->nautostart || mapped != cfg->nautostart) {
			snprintf(msg, len, "the helper read %u ProxyAutostart lines, this process %u: "
				 "the file changed while it was read; reload again", m.backend,
				 cfg->nautostart);
			return -1;
		}
		return 0;
	}
}
