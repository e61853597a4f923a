/* End-to-end suite for ProxyAutostart and the privilege separation around it: the real
 * spliced binary starts, supervises and stops the real tools/testbackend (or a stand-in
 * such as /bin/sleep or /bin/false) through its privileged helper, and a raw client on
 * loopback checks what the clients see.
 *
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets both). Started
 * as root (as CI does), spliced serves as nobody/nogroup and its backends run as nobody
 * too: the testbackend binary is copied into a 0755 temporary directory when nobody cannot
 * execute it where it was built, and every file a backend writes lives in a 0777 directory.
 * The checks of credentials and capabilities need root and say SKIP without it.
 *
 * Every wait is bounded; the only time bounds are generous upper bounds against hangs and,
 * where a behaviour is defined by a delay (StartTimeout), "the answer came before the delay
 * could have elapsed" or "not before half of it". Nothing here measures speed. */
#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define NOBODY_UID  65534
#define NOGROUP_GID 65534
#define DAEMON_ID   1              /* uid and gid of Debian's "daemon" */
#define CAPS_NONE   "0000000000000000"
#define CAPS_BIND   "0000000000000400"   /* CAP_NET_BIND_SERVICE */
#define CAPS_HELPER "00000000000004e0"   /* CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_NET_BIND_SERVICE */
#define SETTLE_MS   5000           /* a state that follows start-up must appear within this */

/* ---- small helpers ------------------------------------------------------------------ */

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; response head:\n%s%s", \
		      (want), (r)->status, e2e_escs((r)->head), e2e_diag())

/* SIGTERM spliced, which must exit 0. */
static void stop_spliced_ok(struct e2e_proc *sp)
{
	int code = e2e_spliced_stop(sp);

	if (code != 0) {
		char *rep = e2e_spliced_report(sp);

		ck_abort_msg("spliced exited with %d after SIGTERM (expected 0)\n%s", code, rep);
	}
}

/* A free 127.0.0.1 port for a backend that spliced will start: held (bound, not listening,
 * so a connection to it is refused) until release, so that spliced's own listener cannot
 * be given the same port meanwhile. */
static int hold_port(int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(*fd >= 0, "socket: %s", strerror(errno));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s",
		      strerror(errno));
	ck_assert_msg(getsockname(*fd, (struct sockaddr *)&sa, &sl) == 0, "getsockname: %s",
		      strerror(errno));
	return ntohs(sa.sin_port);
}

/* Child: become nobody/nogroup and check that path is executable (0) or not (1). */
static bool nobody_can_exec(const char *path)
{
	pid_t pid = fork();
	int st = 0;

	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOGROUP_GID) != 0 || setuid(NOBODY_UID) != 0)
			_exit(2);
		_exit(access(path, X_OK) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 2, "could not become nobody to check %s",
		      path);
	return WEXITSTATUS(st) == 0;
}

/* Copies the file src to dst with mode. */
/* A new directory in the test's temporary directory with mode (chmod'ed past the umask). */
static const char *new_dir(const char *name, mode_t mode)
{
	static char slot[4][400];
	static unsigned next;
	char *path = slot[next++ % 4];

	snprintf(path, sizeof(slot[0]), "%s/%s", e2e_temp_dir(), name);
	ck_assert_msg(mkdir(path, mode) == 0, "mkdir %s: %s", path, strerror(errno));
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

/* TESTBACKEND_BIN, or a copy in a 0755 directory when nobody cannot execute it there (a
 * parent directory not searchable by others, say). */
static const char *backend_bin(void)
{
	static char copy[400];
	const char *bin = e2e_env_bin("TESTBACKEND_BIN");

	if (!is_root() || nobody_can_exec(bin))
		return bin;
	if (copy[0])
		return copy;
	snprintf(copy, sizeof(copy), "%s/testbackend", new_dir("bin", 0755));
	e2e_copy_file(bin, copy, 0755);
	ck_assert_msg(nobody_can_exec(copy), "user nobody cannot execute %s (nor the copy %s): "
		      "is the temporary directory %s searchable by others?", bin, copy,
		      e2e_temp_dir());
	return copy;
}

/* A directory the backend (nobody) can write into; *start = its "starts" file (-s). */
static const char *run_dir(char *start, size_t len)
{
	static unsigned seq;
	char name[32];
	const char *dir;

	snprintf(name, sizeof(name), "run%u", ++seq);
	dir = new_dir(name, 0777);
	snprintf(start, len, "%s/starts", dir);
	return dir;
}

/* Number of "start PID" lines in the -s file (0 when it does not exist yet). */
static unsigned count_starts(const char *path)
{
	char *text = e2e_read_file(path, NULL);
	unsigned n = 0;

	for (const char *p = text; p && (p = strstr(p, "start ")) != NULL; p += 6)
		if (p == text || p[-1] == '\n')
			n++;
	free(text);
	return n;
}

/* The pid of the nth (1-based) start in the -s file, 0 if there is none. */
static pid_t start_pid(const char *path, unsigned nth)
{
	char *text = e2e_read_file(path, NULL);
	unsigned n = 0;
	pid_t pid = 0;

	for (const char *p = text; p && (p = strstr(p, "start ")) != NULL; p += 6) {
		if ((p == text || p[-1] == '\n') && ++n == nth) {
			pid = (pid_t)atol(p + 6);
			break;
		}
	}
	free(text);
	return pid;
}

static bool wait_starts(const char *path, unsigned n, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;

	while (count_starts(path) < n) {
		if (mono_ms() >= deadline)
			return false;
		e2e_sleep_ms(20);
	}
	return true;
}

/* Occurrences of needle in text. */
static unsigned count_of(const char *text, const char *needle)
{
	unsigned n = 0;
	size_t l = strlen(needle);

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += l)
		n++;
	return n;
}

/* The pid in the nth (1-based) "autostart: started backend NAME (pid P)" line, 0 if none. */
static pid_t log_started_pid(const struct e2e_proc *sp, const char *name, unsigned nth)
{
	char *log = e2e_spliced_log(sp);
	char needle[160];
	const char *p = log;
	pid_t pid = 0;

	snprintf(needle, sizeof(needle), "autostart: started backend %s (pid ", name);
	for (unsigned i = 1; (p = strstr(p, needle)) != NULL; i++) {
		p += strlen(needle);
		if (i == nth) {
			pid = (pid_t)atol(p);
			break;
		}
	}
	free(log);
	return pid;
}

/* Waits (bounded) until the error log holds needle; fails the test with the log if not. */
static void ck_log_has(const struct e2e_proc *sp, const char *needle, int timeout_ms)
{
	if (!e2e_log_wait_for(sp, needle, timeout_ms)) {
		char *log = e2e_spliced_log(sp);

		ck_abort_msg("the error log has no \"%s\" within %d ms; it has:\n%s", needle,
			     timeout_ms, log);
	}
}

/* kill(target, 0) fails with ESRCH within timeout_ms (target: a pid, or -pgid). */
static bool wait_gone(pid_t target, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;

	for (;;) {
		if (kill(target, 0) < 0 && errno == ESRCH)
			return true;
		if (mono_ms() >= deadline)
			return false;
		e2e_sleep_ms(20);
	}
}

/* ---- /proc -------------------------------------------------------------------------- */

/* The text of /proc/PID/status or /proc/PID/task/TID/status (malloc'd), NULL if gone. */
static char *proc_status(pid_t pid, pid_t tid)
{
	char path[96];

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return e2e_read_file(path, NULL);
}

/* The value of "Key:\t..." in a status text, into out ("" for an empty value). */
static bool status_field(const char *st, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	const char *p = st;

	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			const char *v = p + kl + 1, *e;
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			e = strchr(v, '\n');
			if (!e)
				e = v + strlen(v);
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			n = (size_t)(e - v) < outlen - 1 ? (size_t)(e - v) : outlen - 1;
			memcpy(out, v, n);
			out[n] = 0;
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

/* What a process's credentials must be. */
struct creds {
	long uid, gid;            /* every field of the Uid:/Gid: lines */
	const char *cap_eff, *cap_prm, *cap_bnd;
	bool groups_empty;        /* Groups: empty */
};

/* NULL when st matches want (and CapAmb is 0 and NoNewPrivs 1), else why not (static). */
static const char *creds_mismatch(const char *st, const struct creds *want)
{
	static char why[256];
	struct { const char *key, *val; } caps[] = {
		{ "CapEff", want->cap_eff }, { "CapPrm", want->cap_prm },
		{ "CapBnd", want->cap_bnd }, { "CapAmb", CAPS_NONE }, { "NoNewPrivs", "1" },
	};
	struct { const char *key; long val; } ids[] = { { "Uid", want->uid }, { "Gid", want->gid } };
	char v[256];

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (!status_field(st, caps[i].key, v, sizeof(v)))
			return "no such field";
		if (strcmp(v, caps[i].val) != 0) {
			snprintf(why, sizeof(why), "%s is %.100s, expected %s", caps[i].key, v, caps[i].val);
			return why;
		}
	}
	for (size_t i = 0; i < 2; i++) {
		long a[4];

		if (!status_field(st, ids[i].key, v, sizeof(v)) ||
		    sscanf(v, "%ld %ld %ld %ld", &a[0], &a[1], &a[2], &a[3]) != 4) {
			snprintf(why, sizeof(why), "unreadable %s line", ids[i].key);
			return why;
		}
		for (int k = 0; k < 4; k++) {
			if (a[k] != ids[i].val) {
				snprintf(why, sizeof(why), "%s is \"%.100s\", expected %ld in all four "
					 "(real, effective, saved, filesystem)", ids[i].key, v, ids[i].val);
				return why;
			}
		}
	}
	if (want->groups_empty && (!status_field(st, "Groups", v, sizeof(v)) || v[0])) {
		snprintf(why, sizeof(why), "supplementary groups \"%.100s\", expected none", v);
		return why;
	}
	return NULL;
}

/* Every thread of pid has want's credentials, within SETTLE_MS (start-up may still be
 * dropping them when the listener first accepts). Fails the test with the status text. */
static void ck_all_threads(pid_t pid, const struct creds *want, const char *what)
{
	long long deadline = mono_ms() + SETTLE_MS;
	char bad[400] = "";
	char *st = NULL;

	for (;;) {
		char path[64];
		DIR *d;
		struct dirent *de;
		unsigned nt = 0;

		bad[0] = 0;
		free(st);
		st = NULL;
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		d = opendir(path);
		ck_assert_msg(d != NULL, "%s (pid %d): %s: %s %s", what, (int)pid, path,
			      strerror(errno), e2e_diag());
		while ((de = readdir(d)) != NULL) {
			const char *why;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			st = proc_status(pid, (pid_t)atoi(de->d_name));
			if (!st)
				continue;   /* thread ended */
			nt++;
			why = creds_mismatch(st, want);
			if (why) {
				snprintf(bad, sizeof(bad), "thread %.20s: %s", de->d_name, why);
				break;
			}
			free(st);
			st = NULL;
		}
		closedir(d);
		ck_assert_msg(nt > 0 || bad[0], "%s (pid %d) has no threads left %s", what, (int)pid,
			      e2e_diag());
		if (!bad[0])
			break;
		ck_assert_msg(mono_ms() < deadline, "%s (pid %d): %s; its status:\n%s\n%s", what,
			      (int)pid, bad, st ? st : "", e2e_diag());
		e2e_sleep_ms(50);
	}
	free(st);
}

/* The child of parent named child_name, found within SETTLE_MS; fails the test if none. */
static pid_t find_child(pid_t parent, const char *child_name)
{
	pid_t found = e2e_child_pid(parent, child_name, 0, SETTLE_MS);

	ck_assert_msg(found > 0, "no child of spliced (pid %d) named \"%s\" within %d ms %s",
		      (int)parent, child_name, SETTLE_MS, e2e_diag());
	return found;
}

/* The helper: a child of spliced (the supervisor). */
static pid_t find_helper(pid_t parent)
{
	return find_child(parent, "spliced-helper");
}

/* The serving process: the supervisor's other child. */
static pid_t find_serving(pid_t parent)
{
	return find_child(parent, "spliced");
}

/* The helper's credentials match want within SETTLE_MS (it drops them after the fork). */
static void ck_helper(pid_t helper, const struct creds *want)
{
	long long deadline = mono_ms() + SETTLE_MS;

	for (;;) {
		char *st = proc_status(helper, 0);
		const char *why;

		ck_assert_msg(st != NULL, "the helper (pid %d) is gone %s", (int)helper, e2e_diag());
		why = creds_mismatch(st, want);
		if (!why) {
			free(st);
			return;
		}
		ck_assert_msg(mono_ms() < deadline, "helper (pid %d): %s; its status:\n%s\n%s",
			      (int)helper, why, st, e2e_diag());
		free(st);
		e2e_sleep_ms(50);
	}
}

/* Members of process group pgid still present (for failure messages). Static storage. */
static const char *group_members(pid_t pgid)
{
	static char out[1024];
	size_t o = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;

	out[0] = 0;
	while (d && (de = readdir(d)) != NULL) {
		char path[64], buf[512], *rp;
		int fd;
		ssize_t n;
		long pg = 0, pp = 0;
		char state = '?';

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		rp = strrchr(buf, ')');
		if (!rp || sscanf(rp + 2, "%c %ld %ld", &state, &pp, &pg) != 3 || pg != (long)pgid)
			continue;
		o += (size_t)snprintf(out + o, sizeof(out) - o, "[%s state %c ppid %ld] ",
				      de->d_name, state, pp);
		if (o >= sizeof(out) - 64)
			break;
	}
	if (d)
		closedir(d);
	return out[0] ? out : "(none found in /proc)";
}

/* ---- requests ----------------------------------------------------------------------- */

static void get(struct e2e_client *c, const char *target, struct e2e_response *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: auto.example\r\n\r\n", target);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

/* A 200 from the testbackend for "?len=n": n bytes of its pattern, no request body seen. */
static void ck_backend_200(const struct e2e_response *r, size_t n, const char *what)
{
	const char *bl = e2e_header(r, "X-Body-Len");

	ck_assert_msg(r->status == 200, "%s: status %d, expected 200; head:\n%s%s", what, r->status,
		      e2e_escs(r->head), e2e_diag());
	ck_assert_msg(bl && strcmp(bl, "0") == 0 && e2e_header(r, "X-Conn-Id"),
		      "%s: not the testbackend's response (X-Body-Len %s); head:\n%s", what,
		      bl ? bl : "absent", e2e_escs(r->head));
	ck_assert_msg(r->body_len == n && e2e_pattern_mismatch(r->body, r->body_len) < 0,
		      "%s: body of %zu bytes, expected %zu bytes of the pattern: %s", what, r->body_len,
		      n, e2e_esc(r->body, r->body_len));
}

/* A 503 for a backend that could not be started: Retry-After, then the connection closes. */
static void ck_503_closed(struct e2e_client *c, const struct e2e_response *r, const char *what)
{
	int st;

	ck_assert_msg(r->status == 503, "%s: status %d, expected 503; head:\n%s%s", what, r->status,
		      e2e_escs(r->head), e2e_diag());
	st = e2e_wait_closed(c, 10000);
	ck_assert_msg(st == E2E_CLOSED_EOF || st == E2E_CLOSED_RESET,
		      "%s: spliced did not close the connection within 10 s after the 503 (%s)", what,
		      st == E2E_OPEN ? "still open" : "more data");
}

/* ---- privilege separation ----------------------------------------------------------- */

static const struct creds serving_creds = {
	.uid = NOBODY_UID, .gid = NOGROUP_GID, .cap_eff = CAPS_NONE, .cap_prm = CAPS_NONE,
	.cap_bnd = CAPS_NONE, .groups_empty = true,
};

/* A request that no ProxyPass takes (404 from a worker) proves the workers serve. */
static void ck_serves_404(const struct e2e_proc *sp)
{
	struct e2e_client c;
	struct e2e_response r;

	e2e_client_open(&c, sp->port);
	get(&c, "/not-proxied", &r);
	ck_status(&r, 404);
	e2e_response_free(&r);
	e2e_client_close(&c);
}

/* One backend as the default user (nobody): the helper becomes nobody with only
 * CAP_NET_BIND_SERVICE left (it binds a port below 1024 that a reload adds). */
START_TEST(test_privsep_same_user)
{
	struct e2e_proc sp;
	char start[400];
	int hfd, port = hold_port(&hfd);
	pid_t helper;
	struct creds helper_creds = serving_creds;

	if (!is_root()) {
		fprintf(stderr, "SKIP privsep_same_user: not running as root (euid %d): the user "
			"switch and the capabilities cannot be checked\n", (int)geteuid());
		return;
	}
	helper_creds.groups_empty = false;   /* the helper's groups are not specified */
	helper_creds.cap_eff = helper_creds.cap_prm = CAPS_BIND;
	run_dir(start, sizeof(start));
	e2e_spliced_startf(&sp, "ProxyPass /app/ http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- %s -p %d -s %s\n",
			   port, port, backend_bin(), port, start);
	close(hfd);
	ck_serves_404(&sp);
	ck_all_threads(find_serving(sp.pid), &serving_creds, "the serving process");
	helper = find_helper(sp.pid);
	ck_helper(helper, &helper_creds);
	stop_spliced_ok(&sp);
}
END_TEST

/* No ProxyAutostart, started as root: the helper runs all the same (for binds at a
 * reload), as User with only CAP_NET_BIND_SERVICE. */
START_TEST(test_privsep_no_autostart)
{
	struct e2e_proc sp;
	struct creds helper_creds = serving_creds;

	if (!is_root()) {
		fprintf(stderr, "SKIP privsep_no_autostart: not running as root (euid %d)\n",
			(int)geteuid());
		return;
	}
	helper_creds.groups_empty = false;
	helper_creds.cap_eff = helper_creds.cap_prm = CAPS_BIND;
	e2e_spliced_start(&sp, "ProxyPass /app/ http://127.0.0.1:1/\n");
	ck_serves_404(&sp);
	ck_all_threads(find_serving(sp.pid), &serving_creds, "the serving process");
	ck_helper(find_helper(sp.pid), &helper_creds);
	stop_spliced_ok(&sp);
}
END_TEST

/* One backend as another user (daemon): the helper becomes daemon, with only
 * CAP_NET_BIND_SERVICE. */
START_TEST(test_privsep_one_other_user)
{
	struct e2e_proc sp;
	int hfd, port = hold_port(&hfd);
	struct creds helper_creds = {
		.uid = DAEMON_ID, .gid = DAEMON_ID, .cap_eff = CAPS_BIND, .cap_prm = CAPS_BIND,
		.cap_bnd = CAPS_NONE,
	};

	if (!is_root()) {
		fprintf(stderr, "SKIP privsep_one_other_user: not running as root (euid %d)\n",
			(int)geteuid());
		return;
	}
	e2e_spliced_startf(&sp, "ProxyPass /app/ http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d User=daemon Group=daemon -- %s -p %d\n",
			   port, port, backend_bin(), port);
	close(hfd);
	ck_serves_404(&sp);
	ck_all_threads(find_serving(sp.pid), &serving_creds, "the serving process");
	ck_helper(find_helper(sp.pid), &helper_creds);
	stop_spliced_ok(&sp);
}
END_TEST

/* Backends as two users: the helper keeps uid 0 with only CAP_KILL, CAP_SETGID, CAP_SETUID
 * and CAP_NET_BIND_SERVICE. */
START_TEST(test_privsep_two_users)
{
	struct e2e_proc sp;
	int hfd1, hfd2, p1 = hold_port(&hfd1), p2 = hold_port(&hfd2);
	const char *bin;
	struct creds helper_creds = {
		.uid = 0, .gid = 0, .cap_eff = CAPS_HELPER, .cap_prm = CAPS_HELPER,
		.cap_bnd = CAPS_NONE,
	};

	if (!is_root()) {
		fprintf(stderr, "SKIP privsep_two_users: not running as root (euid %d)\n",
			(int)geteuid());
		return;
	}
	bin = backend_bin();
	e2e_spliced_startf(&sp, "ProxyPass /a/ http://127.0.0.1:%d/\n"
			   "ProxyPass /b/ http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- %s -p %d\n"
			   "ProxyAutostart http://127.0.0.1:%d User=daemon -- %s -p %d\n",
			   p1, p2, p1, bin, p1, p2, bin, p2);
	close(hfd1);
	close(hfd2);
	ck_serves_404(&sp);
	ck_all_threads(find_serving(sp.pid), &serving_creds, "the serving process");
	ck_helper(find_helper(sp.pid), &helper_creds);
	stop_spliced_ok(&sp);
}
END_TEST

/* ---- a cold start under concurrent requests ----------------------------------------- */

#define COLD_LEN 100

/* The first requests for a backend that is not running start it exactly once (even when
 * it takes 300 ms to listen) and are all answered by it. With mport, the metrics endpoint
 * then counts the start. */
static void cold_start(unsigned workers, unsigned nreq, int mport)
{
	struct e2e_proc sp;
	struct e2e_client *c = calloc(nreq, sizeof(*c));
	char start[400], name[64], metrics[64] = "";
	int hfd, port = hold_port(&hfd);
	pid_t pid;

	ck_assert(c != NULL);
	run_dir(start, sizeof(start));
	snprintf(name, sizeof(name), "http://127.0.0.1:%d", port);
	if (mport)
		snprintf(metrics, sizeof(metrics), "MetricsListen 127.0.0.1:%d\n", mport);
	e2e_spliced_startf(&sp, "Workers %u\n%sProxyPass / %s/\n"
			   "ProxyAutostart %s -- %s -p %d -d 300 -s %s\n",
			   workers, metrics, name, name, backend_bin(), port, start);
	close(hfd);
	ck_assert_msg(count_starts(start) == 0, "the backend was started before any request");

	for (unsigned i = 0; i < nreq; i++) {
		e2e_client_open(&c[i], sp.port);
		c[i].timeout_ms = 20000;
	}
	for (unsigned i = 0; i < nreq; i++) {
		char req[160];
		int n = snprintf(req, sizeof(req), "GET /x?len=%d&n=%u HTTP/1.1\r\nHost: cold\r\n\r\n",
				 COLD_LEN, i);
		int rc = e2e_send(&c[i], req, (size_t)n);

		ck_assert_msg(rc == 0, "request %u: send: %s", i, strerror(-rc));
	}
	for (unsigned i = 0; i < nreq; i++) {
		struct e2e_response r;
		char what[64];

		snprintf(what, sizeof(what), "request %u of %u (Workers %u)", i + 1, nreq, workers);
		ck_assert_msg(e2e_read_response(&c[i], &r, false) == 0, "%s: %s", what, r.err);
		ck_backend_200(&r, COLD_LEN, what);
		e2e_response_free(&r);
		e2e_client_close(&c[i]);
	}
	free(c);
	e2e_sleep_ms(300);   /* a second start, if any, would have written its line by now */
	ck_assert_msg(count_starts(start) == 1, "%u concurrent requests (Workers %u) started the "
		      "backend %u times, expected once; starts:\n%s\n%s", nreq, workers,
		      count_starts(start), e2e_read_file(start, NULL), e2e_diag());
	pid = start_pid(start, 1);
	ck_log_has(&sp, "autostart: started backend http://127.0.0.1:", 5000);
	{
		char *log = e2e_spliced_log(&sp);
		char needle[128];

		snprintf(needle, sizeof(needle), "autostart: started backend %s (pid ", name);
		ck_assert_msg(count_of(log, needle) == 1, "expected one \"%s\" line:\n%s", needle, log);
		free(log);
	}
	if (mport) {
		struct e2e_client m;
		struct e2e_response r;
		const char *v;

		e2e_client_open(&m, mport);
		get(&m, "/metrics", &r);
		ck_status(&r, 200);
		v = strstr((const char *)r.body, "\nspliced_autostarts_total ");
		ck_assert_msg(v && atoll(v + 26) >= 1, "spliced_autostarts_total must be >= 1 after "
			      "a start; /metrics:\n%s", (const char *)r.body);
		e2e_response_free(&r);
		e2e_client_close(&m);
	}
	stop_spliced_ok(&sp);
	ck_assert_msg(wait_gone(pid, 10000), "the backend (pid %d) outlived spliced's stop",
		      (int)pid);
}

START_TEST(test_cold_start_one_worker)
{
	cold_start(1, 20, 0);
}
END_TEST

START_TEST(test_cold_start_two_workers)
{
	cold_start(2, 20, 0);
}
END_TEST

/* ---- metrics ------------------------------------------------------------------------ */

START_TEST(test_metrics_autostarts)
{
	cold_start(1, 3, e2e_free_port());
}
END_TEST

/* ---- the backend killed under load -------------------------------------------------- */

#define LOAD_LEN     1000
#define LOAD_THREADS 4

struct load {
	pthread_t th;
	int port;
	bool keepalive;            /* many requests per connection, else one */
	atomic_bool *stop;
	_Atomic long long *restarted_at;   /* when the test saw the second start, 0 before */
	long long hard_deadline;
	unsigned n200, n502, n503, nother, nfail, nafter, nafter_bad;
	char err[1200];            /* the first problem */
};

static void load_note(struct load *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void load_note(struct load *l, const char *fmt, ...)
{
	va_list ap;

	if (l->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
}

/* One client: requests until told to stop; never asserts (this is not the test thread). */
static void *load_main(void *arg)
{
	struct load *l = arg;
	struct e2e_client c = { .fd = -1 };
	unsigned seq = 0;

	while (!atomic_load(l->stop) && mono_ms() < l->hard_deadline) {
		struct e2e_response r;
		char req[160];
		int n, rc;
		long long sent;
		bool after;

		if (c.fd < 0) {
			rc = e2e_client_try_open(&c, l->port);
			if (rc < 0) {
				l->nfail++;
				load_note(l, "connect to spliced: %s", strerror(-rc));
				e2e_sleep_ms(10);
				continue;
			}
			c.timeout_ms = 15000;
		}
		n = snprintf(req, sizeof(req), "GET /load?len=%d&s=%u HTTP/1.1\r\nHost: load\r\n\r\n",
			     LOAD_LEN, seq++);
		sent = mono_ms();
		after = atomic_load(l->restarted_at) && sent > atomic_load(l->restarted_at);
		rc = e2e_send(&c, req, (size_t)n);
		if (rc < 0) {
			l->nfail++;
			load_note(l, "%s connection, request %u: send: %s",
				  l->keepalive ? "keep-alive" : "new", seq, strerror(-rc));
			e2e_client_close(&c);
			continue;
		}
		if (e2e_read_response(&c, &r, false) < 0) {
			l->nfail++;
			load_note(l, "%s connection, request %u: %s", l->keepalive ? "keep-alive" : "new",
				  seq, r.err);
			e2e_response_free(&r);
			e2e_client_close(&c);
			continue;
		}
		l->nafter += after;
		if (r.status == 200) {
			const char *bl = e2e_header(&r, "X-Body-Len");

			if (r.body_len != LOAD_LEN || e2e_pattern_mismatch(r.body, r.body_len) >= 0 ||
			    !bl || strcmp(bl, "0") != 0) {
				l->nfail++;
				load_note(l, "a 200 with a wrong body (%zu bytes) or X-Body-Len %s",
					  r.body_len, bl ? bl : "absent");
			}
			l->n200++;
		} else if (r.status == 502) {
			l->n502++;
		} else if (r.status == 503) {
			l->n503++;
		} else {
			l->nother++;
			load_note(l, "status %d: %s", r.status, e2e_escs(r.head));
		}
		if (after && r.status != 200) {
			l->nafter_bad++;
			load_note(l, "status %d for a request sent after the backend was restarted: %s",
				  r.status, e2e_escs(r.head));
		}
		if (!l->keepalive || r.status != 200 ||
		    e2e_header_has_token(&r, "Connection", "close"))
			e2e_client_close(&c);
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	return NULL;
}

START_TEST(test_backend_killed_under_load)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	struct load l[LOAD_THREADS];
	atomic_bool stop = false;
	_Atomic long long restarted_at = 0;
	char start[400], name[64], needle[160];
	int hfd, port = hold_port(&hfd);
	unsigned n200 = 0, n502 = 0, n503 = 0, nafter = 0;
	pid_t first, second;

	run_dir(start, sizeof(start));
	snprintf(name, sizeof(name), "http://127.0.0.1:%d", port);
	e2e_spliced_startf(&sp, "Workers 2\nRestartBackoff 100ms 1\nProxyPass / %s/\n"
			   "ProxyAutostart %s -- %s -p %d -s %s\n",
			   name, name, backend_bin(), port, start);
	close(hfd);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get(&c, "/first?len=10", &r);
	ck_backend_200(&r, 10, "the request that starts the backend");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(count_starts(start), 1);
	first = start_pid(start, 1);
	ck_assert_int_gt(first, 0);

	for (int i = 0; i < LOAD_THREADS; i++) {
		memset(&l[i], 0, sizeof(l[i]));
		l[i].port = sp.port;
		l[i].keepalive = i % 2 == 0;
		l[i].stop = &stop;
		l[i].restarted_at = &restarted_at;
		l[i].hard_deadline = mono_ms() + 20000;
		ck_assert_int_eq(pthread_create(&l[i].th, NULL, load_main, &l[i]), 0);
	}
	e2e_sleep_ms(800);
	ck_assert_msg(kill(first, SIGKILL) == 0, "kill backend pid %d: %s", (int)first,
		      strerror(errno));
	if (wait_starts(start, 2, 10000))
		atomic_store(&restarted_at, mono_ms());
	e2e_sleep_ms(1200);
	atomic_store(&stop, true);
	for (int i = 0; i < LOAD_THREADS; i++)
		pthread_join(l[i].th, NULL);

	ck_assert_msg(atomic_load(&restarted_at) != 0, "the backend killed by SIGKILL was not "
		      "started again within 10 s (RestartBackoff 100ms 1); starts:\n%s\n%s",
		      e2e_read_file(start, NULL), e2e_diag());
	for (int i = 0; i < LOAD_THREADS; i++) {
		ck_assert_msg(l[i].nfail == 0 && l[i].nother == 0 && l[i].nafter_bad == 0,
			      "load client %d (%s): %u failed, %u unexpected statuses, %u non-200 "
			      "after the restart; first problem: %s\n%s", i,
			      l[i].keepalive ? "keep-alive" : "new connections", l[i].nfail,
			      l[i].nother, l[i].nafter_bad, l[i].err, e2e_diag());
		n200 += l[i].n200;
		n502 += l[i].n502;
		n503 += l[i].n503;
		nafter += l[i].nafter;
	}
	fprintf(stderr, "backend_killed_under_load: %u x 200, %u x 502, %u x 503, %u requests "
		"after the restart\n", n200, n502, n503, nafter);
	ck_assert_msg(nafter > 0, "no request was sent after the restart (load too slow?) %s",
		      e2e_diag());

	/* the helper reaped the killed backend (else it stays a zombie, its child) */
	ck_assert_msg(wait_gone(first, 5000), "the killed backend (pid %d) was not reaped; "
		      "status:\n%s", (int)first, proc_status(first, 0) ?: "(none)");
	snprintf(needle, sizeof(needle), "autostart: backend %s (pid %d) killed by signal 9 after ",
		 name, (int)first);
	ck_log_has(&sp, needle, 5000);
	snprintf(needle, sizeof(needle), "autostart: backend %s: next start in ", name);
	ck_log_has(&sp, needle, 5000);
	second = start_pid(start, 2);
	snprintf(needle, sizeof(needle), "autostart: started backend %s (pid %d)", name,
		 (int)second);
	ck_log_has(&sp, needle, 5000);

	/* and new requests are served by the new process */
	for (int i = 0; i < 5; i++) {
		e2e_client_open(&c, sp.port);
		c.timeout_ms = 20000;
		get(&c, "/after?len=1000", &r);
		ck_backend_200(&r, 1000, "a request after the restart");
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert_msg(count_starts(start) == 2, "expected exactly one restart; starts:\n%s",
		      e2e_read_file(start, NULL));
	stop_spliced_ok(&sp);
	ck_assert_msg(wait_gone(second, 10000), "the backend (pid %d) outlived spliced's stop",
		      (int)second);
}
END_TEST

/* ---- a backend that never listens --------------------------------------------------- */

/* One request for a backend that never listens: the answer after StartTimeout. */
static void never_listens(const char *extra_conf, const char *want_body)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	int dead = e2e_dead_port();
	long long t0, took;
	char needle[128];

	e2e_spliced_startf(&sp, "StartTimeout 1\n%sProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- /bin/sleep 60\n",
			   extra_conf, dead, dead);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 15000;
	t0 = mono_ms();
	get(&c, "/never", &r);
	took = mono_ms() - t0;
	ck_503_closed(&c, &r, "a request for a backend that never listens");
	ck_assert_msg(took >= 500, "the 503 came after %lld ms: it must wait for StartTimeout "
		      "(1 s), not fail at once %s", took, e2e_diag());
	if (want_body) {
		ck_assert_msg(r.body_len == strlen(want_body) &&
			      memcmp(r.body, want_body, r.body_len) == 0,
			      "the 503's body must be the ErrorDocument \"%s\", got \"%s\"", want_body,
			      e2e_esc(r.body, r.body_len));
	} else {
		const char *ra = e2e_header(&r, "Retry-After");

		ck_assert_msg(ra && *ra, "a 503 for a starting backend needs Retry-After; head:\n%s",
			      e2e_escs(r.head));
	}
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "autostart: started backend http://127.0.0.1:%d (pid ",
		 dead);
	ck_log_has(&sp, needle, 5000);
	stop_spliced_ok(&sp);
}

START_TEST(test_never_listens)
{
	never_listens("", NULL);
}
END_TEST

START_TEST(test_never_listens_errordocument)
{
	never_listens("ErrorDocument 503 \"backend starting\"\n", "backend starting");
}
END_TEST


/* A local ErrorDocument 503 big enough to be still on its way when the retry timer fires:
 * the request left the queue when its 503 began, so it is answered once, and the helper is
 * asked once (no start request after the queue emptied). */
START_TEST(test_errordocument_local_once)
{
	enum { NCLI = 4 };
	struct e2e_proc sp;
	struct e2e_client c[NCLI];
	const char *dir = new_dir("docroot", 0755);
	int dead = e2e_dead_port();
	size_t big = 8u << 20;
	unsigned char *page = malloc(big);
	char path[512], *log;
	FILE *f;

	ck_assert(page != NULL);
	memset(page, 'x', big);
	memcpy(page, "<p>starting</p>", 15);
	snprintf(path, sizeof(path), "%s/503.html", dir);
	f = fopen(path, "w");
	ck_assert(f != NULL);
	ck_assert_uint_eq(fwrite(page, 1, big, f), big);
	fclose(f);
	chmod(path, 0644);
	e2e_spliced_startf(&sp, "StartTimeout 1\nDocumentRoot \"%s\"\nErrorDocument 503 /503.html\n"
			   "ProxyPass /503.html !\nProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- /bin/sleep 60\n", dir, dead, dead);
	for (int i = 0; i < NCLI; i++) {
		/* a small receive buffer, and nothing read for 2.5 s: the pages wait in spliced */
		int small = 65536;

		e2e_client_open(&c[i], sp.port);
		setsockopt(c[i].fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		ck_assert_int_eq(e2e_send_str(&c[i], "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
		e2e_sleep_ms(100);
	}
	e2e_sleep_ms(2500);
	for (int i = 0; i < NCLI; i++) {
		unsigned char *got = NULL;
		size_t len = 0, heads = 0;

		ck_assert_int_eq(e2e_read_until_eof(&c[i], &got, &len, 15000), 0);
		for (size_t k = 0; k + 12 <= len; k++)
			if (memcmp(got + k, "HTTP/1.1 503", 12) == 0)
				heads++;
		ck_assert_msg(heads == 1, "client %d: %zu \"HTTP/1.1 503\" heads in %zu bytes: the "
			      "request was answered more than once %s", i, heads, len, e2e_diag());
		ck_assert_msg(len > big && len < big + 1024, "client %d: %zu bytes for an %zu-byte "
			      "ErrorDocument", i, len, big);
		free(got);
		e2e_client_close(&c[i]);
	}
	e2e_sleep_ms(600);   /* a stray retry would ask the helper again within 250 ms */
	log = e2e_spliced_log(&sp);
	ck_assert_msg(count_of(log, "did not accept connections within StartTimeout") == NCLI,
		      "one StartTimeout line per request:\n%s", log);
	ck_assert_msg(count_of(log, "asked the helper to start it") == 1,
		      "the helper must be asked once:\n%s", log);
	free(log);
	free(page);
	stop_spliced_ok(&sp);
}
END_TEST

/* The helper dies while a request waits: the request gets 503 then, not at StartTimeout,
 * and spliced keeps serving what does not need it. */
START_TEST(test_helper_gone)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	int dead = e2e_dead_port();
	long long t0, took;
	pid_t helper;

	e2e_spliced_startf(&sp, "StartTimeout 30\nProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- /bin/sleep 60\n", dead, dead);
	helper = find_helper(sp.pid);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 40000;
	ck_assert_int_eq(e2e_send_str(&c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	ck_log_has(&sp, "autostart: started backend", 5000);
	t0 = mono_ms();
	ck_assert_int_eq(kill(helper, SIGKILL), 0);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	took = mono_ms() - t0;
	ck_503_closed(&c, &r, "a request waiting when the helper died");
	ck_assert_msg(took < 20000, "the 503 came %lld ms after the helper died: waiters must "
		      "not wait for StartTimeout (30 s) when nothing can start the backend", took);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_log_has(&sp, "the helper closed the conversation", 5000);
	stop_spliced_ok(&sp);
}
END_TEST

/* ---- a backend that exits at once: backoff, no fork loop ---------------------------- */

START_TEST(test_exits_at_once)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	int dead = e2e_dead_port();
	long long t0, took;
	char name[64], needle[128], *log;
	unsigned started, exited;
	double prev = 0;
	unsigned ndelays = 0;
	const char *p;

	snprintf(name, sizeof(name), "http://127.0.0.1:%d", dead);
	e2e_spliced_startf(&sp, "StartTimeout 2\nRestartBackoff 100ms 400ms\nProxyPass / %s/\n"
			   "ProxyAutostart %s -- /bin/false\n", name, name);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 15000;
	t0 = mono_ms();
	get(&c, "/false", &r);
	ck_503_closed(&c, &r, "a request for a backend that exits at once");
	e2e_response_free(&r);
	e2e_client_close(&c);

	log = e2e_spliced_log(&sp);
	took = mono_ms() - t0;
	snprintf(needle, sizeof(needle), "autostart: started backend %s (pid ", name);
	started = count_of(log, needle);
	snprintf(needle, sizeof(needle), "autostart: backend %s (pid ", name);
	exited = count_of(log, needle);
	/* delays 100, 200, 400, 400... ms: at most 3 starts in the first 300 ms, then one per
	 * 400 ms; a loop without backoff would start thousands */
	ck_assert_msg(started >= 2 && started <= 4 + (unsigned)(took / 400),
		      "%u starts of /bin/false in %lld ms with RestartBackoff 100ms 400ms "
		      "(expected 2 .. %u):\n%s", started, took, 4 + (unsigned)(took / 400), log);
	ck_assert_msg(exited >= 1 && strstr(log, "exited with status 1 after "),
		      "no \"exited with status 1\" line for /bin/false:\n%s", log);
	snprintf(needle, sizeof(needle), "autostart: backend %s: next start in ", name);
	for (p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
		char *end;
		double d = strtod(p + strlen(needle), &end);

		ck_assert_msg(end != p + strlen(needle) && strncmp(end, " s", 2) == 0,
			      "unreadable delay in \"%s\"", e2e_esc(p, 80));
		ck_assert_msg(d >= 0.0999 && d <= 0.4001, "delay %g s outside RestartBackoff "
			      "100ms 400ms:\n%s", d, log);
		ck_assert_msg(d >= prev, "delays must not decrease: %g s after %g s:\n%s", d, prev,
			      log);
		prev = d;
		ndelays++;
	}
	ck_assert_msg(ndelays >= 2, "expected several \"next start in\" lines:\n%s", log);
	free(log);
	stop_spliced_ok(&sp);
}
END_TEST

/* ---- a clean exit is not restarted until the next request --------------------------- */

START_TEST(test_clean_exit_restarts_on_demand)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char start[400], name[64], needle[200], *log;
	int hfd, port = hold_port(&hfd);
	pid_t sh, tb;

	run_dir(start, sizeof(start));
	snprintf(name, sizeof(name), "http://127.0.0.1:%d", port);
	/* the shell exits 0 once its testbackend is gone */
	e2e_spliced_startf(&sp, "RestartBackoff 100ms 1\nProxyPass / %s/\n"
			   "ProxyAutostart %s -- /bin/sh -c \"%s -p %d -s %s; exit 0\"\n",
			   name, name, backend_bin(), port, start);
	close(hfd);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get(&c, "/one?len=10", &r);
	ck_backend_200(&r, 10, "the request that starts the backend");
	e2e_response_free(&r);
	e2e_client_close(&c);
	sh = log_started_pid(&sp, name, 1);
	tb = start_pid(start, 1);
	ck_assert_msg(sh > 0 && tb > 0, "backend pids: shell %d, testbackend %d %s", (int)sh,
		      (int)tb, e2e_diag());
	ck_assert_int_eq(kill(tb, SIGTERM), 0);
	snprintf(needle, sizeof(needle), "autostart: backend %s (pid %d) exited with status 0 "
		 "after ", name, (int)sh);
	ck_log_has(&sp, needle, 10000);
	/* RestartBackoff is 100 ms: a restart that should not happen would come well within a
	 * second */
	e2e_sleep_ms(1000);
	log = e2e_spliced_log(&sp);
	ck_assert_msg(count_starts(start) == 1 && !strstr(log, "next start in"),
		      "a backend that exited 0 must not be restarted before a request needs it; "
		      "starts:\n%s\nerror log:\n%s", e2e_read_file(start, NULL), log);
	free(log);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get(&c, "/two?len=20", &r);
	ck_backend_200(&r, 20, "the request after the clean exit");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_msg(count_starts(start) == 2, "the next request must start the backend again; "
		      "starts:\n%s", e2e_read_file(start, NULL));
	stop_spliced_ok(&sp);
}
END_TEST

/* ---- SIGTERM stops the backend's whole group, SIGKILL after StopTimeout ------------- */

START_TEST(test_stop_kills_group)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char start[400], name[64], needle[200];
	int hfd, port = hold_port(&hfd);
	pid_t sh, tb, helper;

	run_dir(start, sizeof(start));
	snprintf(name, sizeof(name), "http://127.0.0.1:%d", port);
	/* a shell that ignores SIGTERM (so does its sleep), with the backend as its child in
	 * the same group; the testbackend itself dies of SIGTERM */
	e2e_spliced_startf(&sp, "ProxyPass / %s/\n"
			   "ProxyAutostart %s StopTimeout=500ms -- /bin/sh -c "
			   "\"trap '' TERM; %s -p %d -s %s & while :; do sleep 1; done\"\n",
			   name, name, backend_bin(), port, start);
	close(hfd);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get(&c, "/stop?len=10", &r);
	ck_backend_200(&r, 10, "the request that starts the backend");
	e2e_response_free(&r);
	e2e_client_close(&c);

	sh = log_started_pid(&sp, name, 1);
	tb = start_pid(start, 1);
	ck_assert_msg(sh > 0 && tb > 0, "backend pids: shell %d, testbackend %d %s", (int)sh,
		      (int)tb, e2e_diag());
	ck_assert_msg(getsid(sh) == sh, "the backend (pid %d) must lead its own session, "
		      "getsid = %d", (int)sh, (int)getsid(sh));
	ck_assert_msg(getpgid(tb) == sh, "the backend's child (pid %d) is in group %d, expected "
		      "the backend's group %d", (int)tb, (int)getpgid(tb), (int)sh);
	helper = find_helper(sp.pid);

	stop_spliced_ok(&sp);
	ck_assert_msg(wait_gone(-sh, 10000), "the backend's process group %d still exists 10 s "
		      "after spliced exited: %s", (int)sh, group_members(sh));
	ck_assert_msg(wait_gone(helper, 10000), "the helper (pid %d) outlived spliced: %s",
		      (int)helper, proc_status(helper, 0) ?: "");
	snprintf(needle, sizeof(needle), "autostart: backend %s (pid %d) killed by signal 9 after ",
		 name, (int)sh);
	ck_log_has(&sp, needle, 1000);
	snprintf(needle, sizeof(needle), "autostart: backend %s stopped", name);
	ck_log_has(&sp, needle, 1000);
}
END_TEST

/* ---- the command must be an executable file ----------------------------------------- */

/* spliced -t on a configuration whose ProxyAutostart runs cmd: exit code, output in *out. */
static int check_config(const char *cmd, char **out)
{
	const char *bin = e2e_env_bin("SPLICED_BIN");
	char text[1024];
	const char *conf;
	int port = e2e_free_port();

	snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\nProxyPass / http://127.0.0.1:%d/\n"
		 "ProxyAutostart http://127.0.0.1:%d -- %s -p %d\n", e2e_free_port(), port, port,
		 cmd, port);
	conf = e2e_write_temp("autostart.conf", text);
	{
		const char *argv[] = { bin, "-t", "-c", conf, NULL };

		return e2e_run(argv, out);
	}
}

START_TEST(test_command_checked_at_load)
{
	const char *bad[4];
	char *out = NULL;
	int code;

	code = check_config(backend_bin(), &out);
	ck_assert_msg(code == 0 && strstr(out, "Syntax OK"), "a valid ProxyAutostart must pass "
		      "spliced -t (exit %d): %s", code, out);
	free(out);

	bad[0] = e2e_write_temp("not-executable", "#!/bin/sh\nexit 0\n");   /* mode 0644 */
	bad[1] = "/nonexistent/spliced-autostart-backend";
	bad[2] = e2e_temp_dir();                                          /* a directory */
	bad[3] = "bin/testbackend";                                        /* relative */
	for (int i = 0; i < 4; i++) {
		code = check_config(bad[i], &out);
		ck_assert_msg(code != 0, "spliced -t accepted ProxyAutostart with the command %s: %s",
			      bad[i], out);
		ck_assert_msg(strstr(out, bad[i]) != NULL, "spliced -t must name the command %s in "
			      "its message: %s", bad[i], out);
		free(out);
	}
}
END_TEST

/* The file stops being executable after the check: the helper's exec fails, it says so,
 * and the client gets a 503. */
START_TEST(test_exec_fails_at_run_time)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char bin[400], name[64], needle[600];
	int hfd, port = hold_port(&hfd);

	snprintf(bin, sizeof(bin), "%s/testbackend", new_dir("execfail", 0755));
	e2e_copy_file(backend_bin(), bin, 0755);
	snprintf(name, sizeof(name), "http://127.0.0.1:%d", port);
	e2e_spliced_startf(&sp, "StartTimeout 2\nRestartBackoff 100ms 200ms\nProxyPass / %s/\n"
			   "ProxyAutostart %s -- %s -p %d\n", name, name, bin, port);
	close(hfd);
	ck_assert_int_eq(chmod(bin, 0644), 0);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 15000;
	get(&c, "/exec", &r);
	ck_503_closed(&c, &r, "a request for a backend whose exec fails");
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "autostart: backend %s: exec %s: %s", name, bin,
		 strerror(EACCES));
	ck_log_has(&sp, needle, 5000);
	stop_spliced_ok(&sp);
}
END_TEST

/* ---- the wait queue is bounded ------------------------------------------------------ */

#define QUEUE_CLIENTS 5

START_TEST(test_queue_full)
{
	struct e2e_proc sp;
	struct e2e_client c[QUEUE_CLIENTS];
	int status[QUEUE_CLIENTS];
	long long at[QUEUE_CLIENTS], t0, deadline;
	bool retry_after[QUEUE_CLIENTS];
	int dead = e2e_dead_port();
	unsigned done = 0, early = 0;

	e2e_spliced_startf(&sp, "Workers 1\nProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d Queue=2 StartTimeout=10 -- "
			   "/bin/sleep 60\n", dead, dead);
	for (int i = 0; i < QUEUE_CLIENTS; i++) {
		e2e_client_open(&c[i], sp.port);
		c[i].timeout_ms = 15000;
		status[i] = 0;
	}
	t0 = mono_ms();
	for (int i = 0; i < QUEUE_CLIENTS; i++)
		ck_assert_int_eq(e2e_send_str(&c[i], "GET /q HTTP/1.1\r\nHost: q\r\n\r\n"), 0);
	/* answers in the order they come */
	deadline = t0 + 25000;
	while (done < QUEUE_CLIENTS && mono_ms() < deadline) {
		struct pollfd pf[QUEUE_CLIENTS];
		int idx[QUEUE_CLIENTS], n = 0;

		for (int i = 0; i < QUEUE_CLIENTS; i++) {
			if (status[i])
				continue;
			pf[n].fd = c[i].fd;
			pf[n].events = POLLIN;
			idx[n++] = i;
		}
		if (poll(pf, (nfds_t)n, 200) <= 0)
			continue;
		for (int k = 0; k < n; k++) {
			struct e2e_response r;
			int i = idx[k];

			if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ck_assert_msg(e2e_read_response(&c[i], &r, false) == 0, "client %d: %s", i,
				      r.err);
			status[i] = r.status;
			at[i] = mono_ms() - t0;
			retry_after[i] = e2e_header(&r, "Retry-After") != NULL;
			e2e_response_free(&r);
			done++;
		}
	}
	for (int i = 0; i < QUEUE_CLIENTS; i++) {
		ck_assert_msg(status[i] != 0, "client %d got no answer within 25 s %s", i,
			      e2e_diag());
		ck_assert_msg(status[i] == 503 && retry_after[i], "client %d: status %d%s, expected "
			      "503 with Retry-After", i, status[i],
			      retry_after[i] ? "" : " without Retry-After");
		if (at[i] < 5000)
			early++;
	}
	ck_assert_msg(early >= QUEUE_CLIENTS - 2, "with Queue=2, at least %d of %d concurrent "
		      "requests must get their 503 at once (before half of StartTimeout=10); "
		      "answered after %lld, %lld, %lld, %lld, %lld ms", QUEUE_CLIENTS - 2,
		      QUEUE_CLIENTS, at[0], at[1], at[2], at[3], at[4]);
	for (int i = 0; i < QUEUE_CLIENTS; i++)
		e2e_client_close(&c[i]);
	stop_spliced_ok(&sp);
}
END_TEST

/* ---- what the backend process gets -------------------------------------------------- */

START_TEST(test_backend_environment)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char start[400], out[400], line[128], link[512], path[64], *env, *st, *text;
	const char *dir;
	int hfd, port = hold_port(&hfd);
	size_t envlen;
	pid_t pid;
	ssize_t n;
	unsigned seen = 0;
	bool bad = false;

	dir = run_dir(start, sizeof(start));
	snprintf(out, sizeof(out), "%s/output.log", dir);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d Dir=%s Output=%s Env=SPLICED_TEST=yes "
			   "env=SECOND=two -- %s -p %d -s %s\n",
			   port, port, dir, out, backend_bin(), port, start);
	close(hfd);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get(&c, "/env?len=10", &r);
	ck_backend_200(&r, 10, "the request that starts the backend");
	e2e_response_free(&r);
	e2e_client_close(&c);
	pid = start_pid(start, 1);
	ck_assert_int_gt(pid, 0);

	ck_assert_msg(getsid(pid) == pid, "the backend (pid %d) must lead its own session, "
		      "getsid = %d", (int)pid, (int)getsid(pid));
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_msg(n > 0 && (link[n] = 0, strcmp(link, dir) == 0), "Dir=%s: the backend's "
		      "working directory is %s", dir, n > 0 ? link : strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_msg(n > 0 && (link[n] = 0, strcmp(link, "/dev/null") == 0),
		      "the backend's standard input is %s, expected /dev/null",
		      n > 0 ? link : strerror(errno));
	if (is_root()) {
		st = proc_status(pid, 0);
		ck_assert_ptr_nonnull(st);
		{
			struct creds want = { .uid = NOBODY_UID, .gid = NOGROUP_GID,
					      .cap_eff = CAPS_NONE, .cap_prm = CAPS_NONE,
					      .cap_bnd = CAPS_NONE };
			char v[64];
			const char *why = NULL;

			/* the backend's bounding set and no_new_privs are not specified: only the
			 * user, the group and no capabilities */
			if (!status_field(st, "CapEff", v, sizeof(v)) || strcmp(v, CAPS_NONE) != 0)
				why = "CapEff is not 0";
			else if (!status_field(st, "CapPrm", v, sizeof(v)) || strcmp(v, CAPS_NONE) != 0)
				why = "CapPrm is not 0";
			else {
				long a[4];

				for (int k = 0; k < 2 && !why; k++) {
					if (!status_field(st, k ? "Gid" : "Uid", v, sizeof(v)) ||
					    sscanf(v, "%ld %ld %ld %ld", &a[0], &a[1], &a[2], &a[3]) != 4)
						why = "unreadable Uid/Gid";
					for (int j = 0; j < 4 && !why; j++)
						if (a[j] != (k ? want.gid : want.uid))
							why = k ? "Gid is not nogroup" : "Uid is not nobody";
				}
			}
			ck_assert_msg(why == NULL, "the backend (pid %d): %s; status:\n%s", (int)pid,
				      why, st);
		}
		free(st);
	}

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	env = e2e_read_file(path, &envlen);
	ck_assert_ptr_nonnull(env);
	for (size_t i = 0; i < envlen; i += strlen(env + i) + 1) {
		const char *e = env + i;
		static const char *const allowed[] = { "PATH=", "HOME=", "USER=", "LOGNAME=",
						       "SPLICED_TEST=", "SECOND=" };
		bool ok = false;

		for (unsigned k = 0; k < 6; k++) {
			if (strncmp(e, allowed[k], strlen(allowed[k])) == 0) {
				ok = true;
				seen |= 1u << k;
			}
		}
		bad |= !ok;
	}
	for (size_t i = 0; i + 1 < envlen; i++)
		if (!env[i])
			env[i] = ' ';
	ck_assert_msg(!bad && seen == 0x3f, "the backend's environment must be exactly PATH, HOME, "
		      "USER, LOGNAME and the Env= variables; it is: %s", e2e_escs(env));
	ck_assert_msg(strstr(env, "SPLICED_TEST=yes") && strstr(env, "SECOND=two"),
		      "Env= values wrong: %s", e2e_escs(env));
	if (is_root())
		ck_assert_msg(strstr(env, "USER=nobody") && strstr(env, "LOGNAME=nobody"),
			      "USER/LOGNAME must name the backend's user: %s", e2e_escs(env));
	free(env);

	/* Output=: the testbackend's "listening" line went there */
	snprintf(line, sizeof(line), "listening 127.0.0.1:%d", port);
	text = NULL;
	for (int i = 0; i < 100; i++) {
		free(text);
		text = e2e_read_file(out, NULL);
		if (text && strstr(text, line))
			break;
		e2e_sleep_ms(50);
	}
	ck_assert_msg(text && strstr(text, line), "Output=%s must receive the backend's standard "
		      "output (\"%s\"); it holds: %s", out, line, text ? e2e_escs(text) : "(no file)");
	free(text);
	stop_spliced_ok(&sp);
	ck_assert_msg(wait_gone(pid, 10000), "the backend (pid %d) outlived spliced's stop",
		      (int)pid);
}
END_TEST

/* ---- reloads -------------------------------------------------------------------------- */

/* GET target through c: a 200 of the testbackend with 100 bytes. */
static void get_ok(struct e2e_client *c, const char *target)
{
	struct e2e_response r;

	get(c, target, &r);
	ck_backend_200(&r, 100, target);
	e2e_response_free(&r);
}

/* Across reloads: a running backend whose ProxyAutostart line did not change keeps its
 * process (same pid, no new start); one whose line changed is restarted (it ran: the new
 * process starts once the old one is gone); one whose line is gone is stopped. */
START_TEST(test_reload_keeps_backends)
{
	struct e2e_proc sp;
	struct e2e_client c;
	char s1[400], s2[400], n1[64], n2[64], l1[700], l2[700], l2b[720], pa[128], pc[256];
	int h1, h2, p1 = hold_port(&h1), p2 = hold_port(&h2);
	pid_t a1, b1, b2;

	run_dir(s1, sizeof(s1));
	run_dir(s2, sizeof(s2));
	snprintf(n1, sizeof(n1), "http://127.0.0.1:%d", p1);
	snprintf(n2, sizeof(n2), "http://127.0.0.1:%d", p2);
	snprintf(l1, sizeof(l1), "ProxyAutostart %s -- %s -p %d -s %s\n", n1, backend_bin(), p1, s1);
	snprintf(l2, sizeof(l2), "ProxyAutostart %s -- %s -p %d -s %s\n", n2, backend_bin(), p2, s2);
	snprintf(l2b, sizeof(l2b), "ProxyAutostart %s -- %s -p %d -d 1 -s %s\n", n2,
		 backend_bin(), p2, s2);
	snprintf(pa, sizeof(pa), "ProxyPass /a/ %s/\n", n1);
	e2e_spliced_startf(&sp, "Workers 2\n%sProxyPass /b/ %s/\n%s%s", pa, n2, l1, l2);
	close(h1);
	close(h2);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get_ok(&c, "/a/x?len=100");
	get_ok(&c, "/b/x?len=100");
	a1 = start_pid(s1, 1);
	b1 = start_pid(s2, 1);
	ck_assert_msg(a1 > 0 && b1 > 0, "the backends did not record their starts");

	/* 1: the lines stay, a route is added */
	snprintf(pc, sizeof(pc), "ProxyPass /c/ %s/\nProxyPass /b/", n2);
	e2e_conf_replace(&sp, "ProxyPass /b/", pc);
	ck_assert_msg(e2e_reload(&sp, 2), "reload 1 failed: %s", e2e_diag());
	get_ok(&c, "/c/x?len=100");
	get_ok(&c, "/a/x?len=100");
	ck_assert_msg(count_starts(s1) == 1 && count_starts(s2) == 1, "an unchanged backend was "
		      "started again (%u, %u starts)", count_starts(s1), count_starts(s2));
	ck_assert_int_eq(kill(a1, 0), 0);
	ck_assert_int_eq(kill(b1, 0), 0);

	/* 2: b's command changes: restarted */
	e2e_conf_replace(&sp, l2, l2b);
	ck_assert_msg(e2e_reload(&sp, 3), "reload 2 failed: %s", e2e_diag());
	ck_assert_msg(wait_starts(s2, 2, 15000), "the changed backend was not restarted: %s",
		      e2e_diag());
	b2 = start_pid(s2, 2);
	ck_assert_msg(b2 > 0 && b2 != b1, "restart: pid %d then %d", (int)b1, (int)b2);
	ck_assert_msg(wait_gone(b1, 10000), "the old process of the changed backend (pid %d) "
		      "still runs", (int)b1);
	get_ok(&c, "/b/x?len=100");
	ck_assert_int_eq(count_starts(s1), 1);

	/* 3: a's line and route go: stopped */
	e2e_conf_replace(&sp, l1, "");
	e2e_conf_replace(&sp, pa, "");
	ck_assert_msg(e2e_reload(&sp, 4), "reload 3 failed: %s", e2e_diag());
	ck_assert_msg(wait_gone(a1, 15000), "the removed backend (pid %d) still runs", (int)a1);
	get_ok(&c, "/b/x?len=100");
	ck_assert_int_eq(count_starts(s2), 2);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	ck_assert_msg(wait_gone(b2, 10000), "the backend (pid %d) outlived spliced", (int)b2);
}
END_TEST

/* A request waiting for its backend to start when a reload happens is answered by that
 * backend once it listens (the retiring worker goes on probing it). */
START_TEST(test_reload_while_starting)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char start[400], name[64];
	int hfd, port = hold_port(&hfd);

	run_dir(start, sizeof(start));
	snprintf(name, sizeof(name), "http://127.0.0.1:%d", port);
	e2e_spliced_startf(&sp, "Workers 1\nProxyPass / %s/\n"
			   "ProxyAutostart %s StartTimeout=20 -- %s -p %d -d 2500 -s %s\n",
			   name, name, backend_bin(), port, start);
	close(hfd);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 30000;
	ck_assert_int_eq(e2e_send_str(&c, "GET /x?len=100 HTTP/1.1\r\nHost: s\r\n\r\n"), 0);
	ck_assert_msg(wait_starts(start, 1, 10000), "the backend was not started: %s", e2e_diag());
	e2e_conf_append(&sp, "LogLevel info\n");
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "the waiting request: %s", r.err);
	ck_backend_200(&r, 100, "the request that waited across the reload");
	e2e_response_free(&r);
	ck_assert_int_eq(count_starts(start), 1);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "privsep_same_user", test_privsep_same_user, 60 },
		{ "privsep_one_other_user", test_privsep_one_other_user, 60 },
		{ "privsep_no_autostart", test_privsep_no_autostart, 60 },
		{ "privsep_two_users", test_privsep_two_users, 60 },
		{ "cold_start_one_worker", test_cold_start_one_worker, 90 },
		{ "cold_start_two_workers", test_cold_start_two_workers, 90 },
		{ "backend_killed_under_load", test_backend_killed_under_load, 120 },
		{ "never_listens", test_never_listens, 60 },
		{ "never_listens_errordocument", test_never_listens_errordocument, 60 },
		{ "exits_at_once", test_exits_at_once, 60 },
		{ "errordocument_local_once", test_errordocument_local_once, 60 },
		{ "helper_gone", test_helper_gone, 60 },
		{ "clean_exit_restarts_on_demand", test_clean_exit_restarts_on_demand, 60 },
		{ "stop_kills_group", test_stop_kills_group, 90 },
		{ "command_checked_at_load", test_command_checked_at_load, 120 },
		{ "exec_fails_at_run_time", test_exec_fails_at_run_time, 60 },
		{ "queue_full", test_queue_full, 90 },
		{ "metrics_autostarts", test_metrics_autostarts, 90 },
		{ "backend_environment", test_backend_environment, 90 },
		{ "reload_keeps_backends", test_reload_keeps_backends, 120 },
		{ "reload_while_starting", test_reload_while_starting, 90 },
	};
	Suite *s = suite_create("e2e_autostart");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
