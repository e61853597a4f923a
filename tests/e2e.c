/* Shared helpers for the end-to-end suites; see e2e.h for the contracts.
 *
 * Linked into every tests/check_* binary, so every external symbol is prefixed e2e_ and
 * there is no main(). */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define E2E_HEAD_MAX      (1u << 20)   /* response head / line bound for the client */
#define E2E_START_MS      10000
#define E2E_POLL_MS       20
#define E2E_STOP_MS       10000
#define E2E_RUN_MS        30000

/* ---- small utilities ---------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

const char *e2e_esc(const void *p, size_t n)
{
	static char slot[8][700];
	static unsigned next;
	char *out = slot[next++ % 8];
	const unsigned char *s = p;
	size_t o = 0, i;

	for (i = 0; i < n && o < 600; i++) {
		unsigned char ch = s[i];

		if (ch == '\r')
			o += (size_t)sprintf(out + o, "\\r");
		else if (ch == '\n')
			o += (size_t)sprintf(out + o, "\\n");
		else if (ch == '\t')
			o += (size_t)sprintf(out + o, "\\t");
		else if (ch == '\\')
			o += (size_t)sprintf(out + o, "\\\\");
		else if (ch >= 0x20 && ch < 0x7f)
			out[o++] = (char)ch;
		else
			o += (size_t)sprintf(out + o, "\\x%02x", ch);
	}
	out[o] = 0;
	if (i < n)
		snprintf(out + o, sizeof(slot[0]) - o, "...[%zu bytes]", n);
	return out;
}

const char *e2e_escs(const char *s)
{
	return s ? e2e_esc(s, strlen(s)) : "(null)";
}

const char *e2e_hex64(uint64_t h)
{
	static char slot[8][20];
	static unsigned next;
	char *out = slot[next++ % 8];

	snprintf(out, sizeof(slot[0]), "%016llx", (unsigned long long)h);
	return out;
}

uint64_t e2e_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t e2e_fnv1a64(const void *p, size_t n)
{
	return e2e_fnv1a(E2E_FNV_BASIS, p, n);
}

void e2e_pattern_fill(unsigned char *dst, size_t off, size_t n)
{
	unsigned v = (unsigned)(((off % 251) * 7 + 3) % 251);

	for (size_t i = 0; i < n; i++) {
		dst[i] = (unsigned char)v;
		v += 7;
		if (v >= 251)
			v -= 251;
	}
}

uint64_t e2e_pattern_fnv(size_t n)
{
	unsigned char piece[251 * 64];
	uint64_t h = E2E_FNV_BASIS;
	size_t off = 0;

	while (off < n) {
		size_t k = n - off < sizeof(piece) ? n - off : sizeof(piece);

		e2e_pattern_fill(piece, off, k);
		h = e2e_fnv1a(h, piece, k);
		off += k;
	}
	return h;
}

long long e2e_pattern_mismatch(const unsigned char *p, size_t n)
{
	unsigned v = 3;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != v)
			return (long long)i;
		v += 7;
		if (v >= 251)
			v -= 251;
	}
	return -1;
}

void e2e_random_fill(unsigned char *dst, size_t n, uint64_t seed)
{
	uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		dst[i] = (unsigned char)((x * 0x2545f4914f6cdd1dull) >> 56);
	}
}

const char *e2e_env_bin(const char *var)
{
	const char *v = getenv(var);

	ck_assert_msg(v && *v, "environment variable %s is not set: it must hold the absolute "
		      "path of the binary (make test sets SPLICED_BIN and TESTBACKEND_BIN)", var);
	ck_assert_msg(v[0] == '/', "%s=%s is not an absolute path", var, v);
	ck_assert_msg(access(v, X_OK) == 0, "%s=%s is not executable: %s", var, v,
		      strerror(errno));
	return v;
}

char *e2e_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf;

	if (len)
		*len = 0;
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	for (;;) {
		ssize_t k;

		if (!buf)
			break;
		if (n + 1 >= cap) {
			char *nb = cap < (256u << 20) ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		k = read(fd, buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	if (buf) {
		buf[n] = 0;
		if (len)
			*len = n;
	}
	return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t n = strlen(text), off = 0;

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	while (off < n) {
		ssize_t k = write(fd, text + off, n - off);

		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_msg(k > 0, "write %s: %s", path, strerror(errno));
		off += (size_t)k;
	}
	fchmod(fd, mode);
	close(fd);
}

/* ---- watchdog ----------------------------------------------------------------------- */

/* One watchdog per test process. It reads int32 messages from a pipe: +pid registers a
 * child, -pid unregisters it (sent before the child is reaped). At EOF (the test process
 * ended, however) it SIGKILLs whatever is still registered and removes the test's
 * temporary directory. It lives in its own process group so that Check's kill of the
 * test's group on a timeout does not take it down before it has cleaned up. */
static int wd_fd = -1;
static pid_t wd_owner;
static char wd_base[256];
static unsigned wd_seq;
static struct e2e_proc *cur_spliced;

/* System calls that an older libc may not wrap; -1 with errno ENOSYS where unknown. */
#ifdef SYS_close_range
static int sys_close_range(unsigned first, unsigned last)
{
	return (int)syscall(SYS_close_range, first, last, 0);
}
#else
static int sys_close_range(unsigned first, unsigned last)
{
	(void)first;
	(void)last;
	errno = ENOSYS;
	return -1;
}
#endif

#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_kill(int pidfd)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}
#else
static int sys_pidfd_open(pid_t pid)
{
	(void)pid;
	errno = ENOSYS;
	return -1;
}

static int sys_pidfd_kill(int pidfd)
{
	(void)pidfd;
	errno = ENOSYS;
	return -1;
}
#endif

/* Closes every descriptor >= first except keep (-1: none). */
static void close_fds_from(int first, int keep)
{
	long max = sysconf(_SC_OPEN_MAX);
	bool done;

	if (keep < first)
		done = sys_close_range((unsigned)first, ~0u) == 0;
	else
		done = (keep == first || sys_close_range((unsigned)first, (unsigned)keep - 1) == 0) &&
		       sys_close_range((unsigned)keep + 1, ~0u) == 0;
	if (done)
		return;
	if (max <= 0 || max > 65536)
		max = 65536;
	for (int fd = first; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void wd_main(int rfd, bool keep)
{
	struct { pid_t pid; int pidfd; } reg[256];
	unsigned n = 0;
	int nul = open("/dev/null", O_RDWR);

	setpgid(0, 0);
	signal(SIGPIPE, SIG_IGN);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
	}
	close_fds_from(3, rfd);
	for (;;) {
		int32_t m;
		size_t got = 0;

		while (got < sizeof(m)) {
			ssize_t k = read(rfd, (char *)&m + got, sizeof(m) - got);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		if (got < sizeof(m))
			break;
		if (m > 0 && n < 256) {
			reg[n].pid = m;
			reg[n].pidfd = sys_pidfd_open((pid_t)m);
			n++;
		} else if (m < 0) {
			for (unsigned i = 0; i < n; i++) {
				if (reg[i].pid == -m) {
					if (reg[i].pidfd >= 0)
						close(reg[i].pidfd);
					reg[i] = reg[--n];
					break;
				}
			}
		}
	}
	for (unsigned i = 0; i < n; i++) {
		/* a pidfd cannot hit a recycled pid; without one, the pid is the best we have */
		if (reg[i].pidfd >= 0)
			sys_pidfd_kill(reg[i].pidfd);
		else
			kill(reg[i].pid, SIGKILL);
	}
	if (!keep && wd_base[0]) {
		e2e_sleep_ms(50);   /* let the kills land before the files go */
		nftw(wd_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	_exit(0);
}

static void wd_ensure(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *keep = getenv("E2E_KEEP");
	int pfd[2];
	pid_t w;

	if (wd_fd >= 0 && wd_owner == getpid())
		return;
	if (wd_fd >= 0)
		close(wd_fd);   /* inherited from the process that forked us */
	wd_fd = -1;
	cur_spliced = NULL;
	signal(SIGPIPE, SIG_IGN);
	snprintf(wd_base, sizeof(wd_base), "%s/spliced-e2e-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(wd_base) != NULL, "mkdtemp %s: %s", wd_base, strerror(errno));
	chmod(wd_base, 0755);
	ck_assert_msg(pipe2(pfd, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
	w = fork();
	ck_assert_msg(w >= 0, "fork: %s", strerror(errno));
	if (w == 0)
		wd_main(pfd[0], keep && *keep && strcmp(keep, "0") != 0);
	close(pfd[0]);
	wd_fd = pfd[1];
	wd_owner = getpid();
	wd_seq = 0;
}

static void wd_send(int32_t m)
{
	while (wd_fd >= 0 && write(wd_fd, &m, sizeof(m)) < 0 && errno == EINTR)
		;
}

static void make_dir(struct e2e_proc *p, const char *kind)
{
	wd_ensure();
	snprintf(p->dir, sizeof(p->dir), "%s/%s%u", wd_base, kind, ++wd_seq);
	ck_assert_msg(mkdir(p->dir, 0755) == 0, "mkdir %s: %s", p->dir, strerror(errno));
	chmod(p->dir, 0755);
}

const char *e2e_write_temp(const char *name, const char *text)
{
	static char slot[8][400];
	static unsigned next;
	char *path = slot[next++ % 8];

	wd_ensure();
	snprintf(path, sizeof(slot[0]), "%s/%s", wd_base, name);
	write_file(path, text, 0644);
	return path;
}

/* ---- processes ---------------------------------------------------------------------- */

/* fork + exec argv: stdin /dev/null, stdout/stderr as given, nothing else inherited. */
static pid_t spawn(const char *const argv[], int out_fd, int err_fd)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		int nul = open("/dev/null", O_RDONLY);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* out/err may be any fd number: park them above the standard ones first */
		out_fd = fcntl(out_fd, F_DUPFD, 10);
		err_fd = fcntl(err_fd, F_DUPFD, 10);
		if (nul < 0 || out_fd < 0 || err_fd < 0 || dup2(nul, 0) < 0 ||
		    dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
			_exit(126);
		close_fds_from(3, -1);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	wd_send(pid);
	return pid;
}

void e2e_spawn(struct e2e_proc *p, const char *const argv[], const char *out)
{
	int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "%s: %s", out, strerror(errno));
	memset(p, 0, sizeof(*p));
	snprintf(p->out, sizeof(p->out), "%s", out);
	p->pid = spawn(argv, fd, fd);
	close(fd);
	ck_assert_msg(p->pid > 0, "cannot start %s: %s", argv[0], strerror((int)-p->pid));
}

bool e2e_proc_wait(struct e2e_proc *p, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	if (p->reaped || p->pid <= 0)
		return true;
	for (unsigned i = 0; i < 1000000; i++) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			/* not our child any more (should not happen): treat as gone */
			wd_send(-p->pid);
			p->reaped = true;
			p->status = -1;
			return true;
		}
		if (si.si_pid == p->pid) {
			wd_send(-p->pid);   /* before the pid can be reused */
			while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
				;
			p->reaped = true;
			return true;
		}
		if (now_ms() >= deadline)
			return false;
		e2e_sleep_ms(E2E_POLL_MS);
	}
	return false;
}

bool e2e_proc_running(struct e2e_proc *p)
{
	return !e2e_proc_wait(p, 0);
}

/* Name, PPid and State of pid from /proc/PID/status; false when it is gone. */
static bool proc_name_ppid(pid_t pid, char *name, size_t len, long *ppid, char *state)
{
	char path[64], *st, *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	st = e2e_read_file(path, NULL);
	if (!st)
		return false;
	*ppid = -1;
	*state = '?';
	name[0] = '\0';
	for (p = st; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "Name:\t", 6) == 0)
			snprintf(name, len, "%.*s", (int)strcspn(p + 6, "\n"), p + 6);
		else if (strncmp(p, "PPid:\t", 6) == 0)
			*ppid = atol(p + 6);
		else if (strncmp(p, "State:\t", 7) == 0)
			*state = p[7];
	}
	free(st);
	return true;
}

pid_t e2e_child_pid(pid_t parent, const char *child_name, pid_t not, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		pid_t found = 0;

		ck_assert(d != NULL);
		while (!found && (de = readdir(d)) != NULL) {
			pid_t pid = (pid_t)atoi(de->d_name);
			char name[64], state;
			long ppid;

			if (pid > 0 && pid != not &&
			    proc_name_ppid(pid, name, sizeof(name), &ppid, &state) &&
			    ppid == (long)parent && state != 'Z' && strcmp(name, child_name) == 0)
				found = pid;
		}
		closedir(d);
		/* A child forked a moment ago still has its parent's name until it sets its own:
		 * the helper is "spliced" until its first instruction names it spliced-helper,
		 * and it exists before the serving process does (the listeners answer even
		 * earlier). A child still so named 50 ms later is what it says. */
		if (found) {
			char name[64], state;
			long ppid;

			e2e_sleep_ms(50);
			if (proc_name_ppid(found, name, sizeof(name), &ppid, &state) &&
			    ppid == (long)parent && state != 'Z' && strcmp(name, child_name) == 0)
				return found;
			found = 0;
		}
		if (now_ms() >= deadline)
			return found;
		e2e_sleep_ms(10);
	}
}

int e2e_proc_exit_code(const struct e2e_proc *p)
{
	if (!p->reaped || p->status == -1)
		return -1;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return -1;
}

static const char *status_text(const struct e2e_proc *p)
{
	static char buf[96];

	if (!p->reaped)
		snprintf(buf, sizeof(buf), "pid %d running", (int)p->pid);
	else if (p->status == -1)
		snprintf(buf, sizeof(buf), "pid %d gone (status unknown)", (int)p->pid);
	else if (WIFEXITED(p->status))
		snprintf(buf, sizeof(buf), "pid %d exited with status %d", (int)p->pid,
			 WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(buf, sizeof(buf), "pid %d killed by signal %d (%s)", (int)p->pid,
			 WTERMSIG(p->status), strsignal(WTERMSIG(p->status)));
	else
		snprintf(buf, sizeof(buf), "pid %d status 0x%x", (int)p->pid, p->status);
	return buf;
}

/* Last `max` bytes of s (from a line start when possible), into a static slot. */
static const char *tail_of(const char *s, size_t max)
{
	static char slot[4][4096];
	static unsigned next;
	char *out = slot[next++ % 4];
	size_t n = s ? strlen(s) : 0;
	const char *from = s ? s : "";

	if (max >= sizeof(slot[0]))
		max = sizeof(slot[0]) - 1;
	if (n > max) {
		const char *nl;

		from = s + n - max;
		nl = strchr(from, '\n');
		if (nl && nl[1])
			from = nl + 1;
	}
	snprintf(out, sizeof(slot[0]), "%s%s", from != s && s ? "[...]\n" : "", from);
	return out;
}

static void kill_and_reap(struct e2e_proc *p)
{
	if (p->pid > 0 && !p->reaped) {
		kill(p->pid, SIGKILL);
		e2e_proc_wait(p, E2E_STOP_MS);
	}
}

static void backend_start(struct e2e_proc *p, const char *extra, bool recording)
{
	const char *bin = e2e_env_bin("TESTBACKEND_BIN");
	const char *argv[40];
	char args[1024], line[256], *save = NULL, *tok;
	int argc = 0, pfd[2], efd, got = 0;
	long long deadline;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	make_dir(p, "backend");
	snprintf(p->out, sizeof(p->out), "%s/stderr.txt", p->dir);
	argv[argc++] = bin;
	argv[argc++] = "-p";
	argv[argc++] = "0";
	snprintf(args, sizeof(args), "%s", extra ? extra : "");
	for (tok = strtok_r(args, " \t", &save); tok && argc < 30; tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	if (recording) {
		snprintf(p->record, sizeof(p->record), "%s/record", p->dir);
		write_file(p->record, "", 0644);
		argv[argc++] = "-r";
		argv[argc++] = p->record;
	}
	argv[argc] = NULL;

	ck_assert_msg(pipe2(pfd, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
	efd = open(p->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(efd >= 0, "create %s: %s", p->out, strerror(errno));
	pid = spawn(argv, pfd[1], efd);
	close(pfd[1]);
	close(efd);
	ck_assert_msg(pid > 0, "fork: %s", strerror((int)-pid));
	p->pid = pid;

	/* the one line "listening 127.0.0.1:PORT\n" */
	deadline = now_ms() + E2E_START_MS;
	while (got < (int)sizeof(line) - 1 && !memchr(line, '\n', (size_t)got)) {
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t k;

		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			break;
		k = read(pfd[0], line + got, sizeof(line) - 1 - (size_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (int)k;
	}
	close(pfd[0]);
	line[got] = 0;
	if (strncmp(line, "listening unix:", 15) == 0 && memchr(line, '\n', (size_t)got))
		return;   /* -u PATH: no port */
	if (sscanf(line, "listening 127.0.0.1:%d", &p->port) != 1 || p->port <= 0) {
		char *err;

		kill_and_reap(p);
		err = e2e_read_file(p->out, NULL);
		ck_abort_msg("testbackend (%s) did not report its port within %d s: stdout \"%s\", "
			     "%s, stderr:\n%s", bin, E2E_START_MS / 1000, e2e_escs(line),
			     status_text(p), err ? tail_of(err, 2000) : "(none)");
	}
}

void e2e_backend_start(struct e2e_proc *p, const char *extra_args)
{
	backend_start(p, extra_args, false);
}

void e2e_backend_start_recording(struct e2e_proc *p, const char *extra_args)
{
	backend_start(p, extra_args, true);
}

void e2e_backend_stop(struct e2e_proc *p)
{
	if (p->pid <= 0 || p->reaped)
		return;
	kill(p->pid, SIGTERM);
	if (!e2e_proc_wait(p, E2E_STOP_MS))
		kill_and_reap(p);
}

/* A bound (not listening) SO_REUSEPORT + SO_REUSEADDR socket on a kernel-chosen 127.0.0.1
 * port: other processes' bind(0) will not pick the port while it is held, spliced (same
 * user, SO_REUSEPORT) can still bind it, and its probe for another listener (SO_REUSEADDR
 * only) too, since this socket does not listen. Returns the fd, *port set. */
static int reserve_port(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind 127.0.0.1:0: %s",
		      strerror(errno));
	ck_assert_msg(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0, "getsockname: %s",
		      strerror(errno));
	*port = ntohs(sa.sin_port);
	return fd;
}

int e2e_dead_port(void)
{
	int port;

	wd_ensure();
	(void)reserve_port(&port);   /* held (never listening) until the test process ends */
	return port;
}

int e2e_free_privileged_port(void)
{
	for (int port = 1000; port >= 600; port--) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r, err;

		if (fd < 0)
			return 0;
		r = bind(fd, (struct sockaddr *)&a, sizeof(a));
		err = errno;
		close(fd);
		if (r == 0)
			return port;
		if (err == EACCES || err == EPERM)
			return 0;
	}
	return 0;
}

static bool has_directive(const char *text, const char *name)
{
	size_t nl = strlen(name);
	const char *p = text;

	while (p && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nl) == 0 && (p[nl] == ' ' || p[nl] == '\t'))
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

/* 1: the port accepts connections; 0: the process exited (reaped); -1: timeout. */
static int wait_listening(struct e2e_proc *p, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (unsigned i = 0; i < 100000; i++) {
		struct e2e_client c;

		if (e2e_proc_wait(p, 0))
			return 0;
		if (e2e_client_try_open(&c, p->port) == 0) {
			e2e_client_close(&c);
			return 1;
		}
		if (now_ms() >= deadline)
			return -1;
		e2e_sleep_ms(E2E_POLL_MS);
	}
	return -1;
}

void (*e2e_after_spawn)(const struct e2e_proc *p);

void e2e_spliced_start(struct e2e_proc *p, const char *config_text)
{
	const char *bin = e2e_env_bin("SPLICED_BIN");
	size_t clen = strlen(config_text) + 2048;
	char *conf = malloc(clen);

	ck_assert(conf != NULL);
	memset(p, 0, sizeof(*p));
	make_dir(p, "spliced");
	snprintf(p->conf, sizeof(p->conf), "%s/spliced.conf", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/error.log", p->dir);
	snprintf(p->out, sizeof(p->out), "%s/output.txt", p->dir);

	for (int attempt = 1; attempt <= 4; attempt++) {
		const char *argv[] = { bin, "-c", p->conf, NULL };
		char *log, *out;
		int port, rfd, ofd, r;
		pid_t pid;

		rfd = reserve_port(&port);
		snprintf(conf, clen, "Listen 127.0.0.1:%d\nErrorLog \"%s\"\n%s%s\n", port, p->log,
			 has_directive(config_text, "Workers") ? "" : "Workers 1\n", config_text);
		write_file(p->conf, conf, 0644);
		unlink(p->log);
		ofd = open(p->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		ck_assert_msg(ofd >= 0, "create %s: %s", p->out, strerror(errno));
		pid = spawn(argv, ofd, ofd);
		close(ofd);
		ck_assert_msg(pid > 0, "fork: %s", strerror((int)-pid));
		p->pid = pid;
		p->port = port;
		p->reaped = false;
		cur_spliced = p;
		if (e2e_after_spawn)
			e2e_after_spawn(p);
		r = wait_listening(p, E2E_START_MS);
		close(rfd);
		if (r == 1) {
			free(conf);
			return;
		}
		if (r < 0)
			kill_and_reap(p);
		log = e2e_spliced_log(p);
		out = e2e_read_file(p->out, NULL);
		if (r == 0 && attempt < 4 && ((out && strstr(out, "in use")) || strstr(log, "in use"))) {
			free(log);
			free(out);
			continue;   /* lost a race for the port: another one */
		}
		ck_abort_msg("spliced %s (%s)\n--- configuration %s:\n%s--- error log:\n%s\n"
			     "--- stdout/stderr:\n%s",
			     r == 0 ? "exited during start-up" :
				      "did not accept connections within 10 s (killed)",
			     status_text(p), p->conf, conf, tail_of(log, 1500),
			     out ? tail_of(out, 1500) : "");
	}
	ck_abort_msg("spliced: no free port after 4 attempts");
}

void e2e_spliced_startf(struct e2e_proc *p, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && text);
	e2e_spliced_start(p, text);
	free(text);
}

/* The child side of e2e_spliced_spawn_activated(): a's sockets become 3, 4, ..., the
 * variables name this process, the user changes (when asked), then exec. Never returns. */
static void activated_child(const char *bin, const char *conf, int out_fd,
			    const struct e2e_activation *a)
{
	const char *const argv[] = { bin, "-c", conf, NULL };
	int parked[16], nul = open("/dev/null", O_RDONLY);
	char num[32];
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* any descriptor number may be given: park everything above the targets first */
	out_fd = fcntl(out_fd, F_DUPFD, 100);
	if (nul < 0 || out_fd < 0 || a->nfds > 16 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 ||
	    dup2(out_fd, 2) < 0)
		_exit(126);
	for (unsigned i = 0; i < a->nfds; i++)
		if ((parked[i] = fcntl(a->fds[i], F_DUPFD, 100)) < 0)
			_exit(126);
	for (unsigned i = 0; i < a->nfds; i++)
		if (dup2(parked[i], 3 + (int)i) < 0)   /* dup2 leaves close-on-exec clear */
			_exit(126);
	close_fds_from(3 + (int)a->nfds, -1);
	snprintf(num, sizeof(num), "%d", (int)getpid() + a->pid_offset);
	setenv("LISTEN_PID", num, 1);
	snprintf(num, sizeof(num), "%u", a->nfds);
	setenv("LISTEN_FDS", num, 1);
	if (a->fdnames)
		setenv("LISTEN_FDNAMES", a->fdnames, 1);
	else
		unsetenv("LISTEN_FDNAMES");
	if (a->uid && (setgroups(0, NULL) < 0 || setresgid(a->gid, a->gid, a->gid) < 0 ||
		       setresuid(a->uid, a->uid, a->uid) < 0)) {
		dprintf(2, "switching to uid %u: %s\n", (unsigned)a->uid, strerror(errno));
		_exit(126);
	}
	execv(bin, (char *const *)argv);
	dprintf(2, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

void e2e_spliced_spawn_activated(struct e2e_proc *p, const char *config_text,
				 const struct e2e_activation *a)
{
	const char *bin = a->bin ? a->bin : e2e_env_bin("SPLICED_BIN");
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char *conf = NULL;
	int ofd;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	make_dir(p, "spliced");
	snprintf(p->conf, sizeof(p->conf), "%s/spliced.conf", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/error.log", p->dir);
	snprintf(p->out, sizeof(p->out), "%s/output.txt", p->dir);
	ck_assert(asprintf(&conf, "ErrorLog \"%s\"\n%s%s\n", p->log,
			   has_directive(config_text, "Workers") ? "" : "Workers 1\n",
			   config_text) > 0);
	write_file(p->conf, conf, 0644);
	free(conf);
	if (a->uid)   /* the error log is created there by that user */
		ck_assert_msg(chown(p->dir, a->uid, a->gid) == 0, "chown %s: %s", p->dir,
			      strerror(errno));
	if (a->nfds && getsockname(a->fds[0], (struct sockaddr *)&sa, &sl) == 0 &&
	    sa.sin_family == AF_INET)
		p->port = ntohs(sa.sin_port);
	ofd = open(p->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(ofd >= 0, "create %s: %s", p->out, strerror(errno));
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		activated_child(bin, p->conf, ofd, a);
	close(ofd);
	wd_send(pid);
	p->pid = pid;
	cur_spliced = p;
}

int e2e_spliced_stop(struct e2e_proc *p)
{
	ck_assert_msg(p->pid > 0, "e2e_spliced_stop: spliced was not started");
	if (!p->reaped) {
		kill(p->pid, SIGTERM);
		if (!e2e_proc_wait(p, E2E_STOP_MS)) {
			char *rep;

			kill_and_reap(p);
			rep = e2e_spliced_report(p);
			ck_abort_msg("spliced (pid %d) did not exit within %d s of SIGTERM (killed)\n%s",
				     (int)p->pid, E2E_STOP_MS / 1000, rep);
		}
	}
	return e2e_proc_exit_code(p);
}

int e2e_run(const char *const argv[], char **output)
{
	return e2e_run_ms(argv, output, E2E_RUN_MS);
}

int e2e_run_ms(const char *const argv[], char **output, int timeout_ms)
{
	struct e2e_proc p;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	long long deadline = now_ms() + timeout_ms;
	int pfd[2];

	ck_assert(buf != NULL);
	wd_ensure();
	memset(&p, 0, sizeof(p));
	ck_assert_msg(pipe2(pfd, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
	p.pid = spawn(argv, pfd[1], pfd[1]);
	close(pfd[1]);
	ck_assert_msg(p.pid > 0, "fork: %s", strerror((int)-p.pid));
	for (;;) {
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t k;

		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			break;
		if (n + 1 >= cap) {
			char *nb = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		k = read(pfd[0], buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(pfd[0]);
	buf[n] = 0;
	if (!e2e_proc_wait(&p, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0))) {
		kill_and_reap(&p);
		ck_abort_msg("%s did not finish within %d s; output: %s", argv[0], timeout_ms / 1000,
			     e2e_escs(buf));
	}
	if (output)
		*output = buf;
	else
		free(buf);
	return e2e_proc_exit_code(&p);
}

char *e2e_spliced_log(const struct e2e_proc *p)
{
	char *s = p->log[0] ? e2e_read_file(p->log, NULL) : NULL;

	return s ? s : strdup("");
}

bool e2e_log_wait_for(const struct e2e_proc *p, const char *needle, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (unsigned i = 0; i < 100000; i++) {
		char *log = e2e_spliced_log(p);
		bool hit = log && strstr(log, needle);

		free(log);
		if (hit)
			return true;
		if (now_ms() >= deadline)
			return false;
		e2e_sleep_ms(E2E_POLL_MS);
	}
	return false;
}

void e2e_conf_replace(const struct e2e_proc *sp, const char *from, const char *to)
{
	char *text = e2e_read_file(sp->conf, NULL);
	char *at;
	FILE *f;

	ck_assert_msg(text != NULL, "cannot read %s", sp->conf);
	at = strstr(text, from);
	ck_assert_msg(at != NULL, "\"%s\" is not in %s:\n%s", from, sp->conf, text);
	f = fopen(sp->conf, "w");
	ck_assert_msg(f != NULL, "%s: %s", sp->conf, strerror(errno));
	fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	ck_assert_int_eq(fclose(f), 0);
	free(text);
}

unsigned e2e_conf_lines(const struct e2e_proc *sp)
{
	char *text = e2e_read_file(sp->conf, NULL);
	unsigned n = 0;

	for (const char *p = text; p && *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

void e2e_conf_append(const struct e2e_proc *sp, const char *line)
{
	FILE *f = fopen(sp->conf, "a");

	ck_assert_msg(f != NULL, "%s: %s", sp->conf, strerror(errno));
	fputs(line, f);
	ck_assert_int_eq(fclose(f), 0);
}

unsigned e2e_log_count(const struct e2e_proc *sp, const char *needle)
{
	char *log = e2e_spliced_log(sp);
	unsigned n = 0;

	for (const char *p = log; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(log);
	return n;
}

bool e2e_reload(const struct e2e_proc *sp, unsigned gen)
{
	char ok[64];
	unsigned failed = e2e_log_count(sp, "reload failed");

	snprintf(ok, sizeof(ok), "configuration %u in use", gen);
	ck_assert_int_eq(kill(sp->pid, SIGHUP), 0);
	for (unsigned i = 0; i < 500; i++) {
		if (e2e_log_count(sp, ok))
			return true;
		if (e2e_log_count(sp, "reload failed") > failed)
			return false;
		e2e_sleep_ms(20);
	}
	ck_abort_msg("no outcome of the reload within 10 s: %s", e2e_diag());
	return false;
}

long long e2e_metric_in(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; (p = strstr(p, name)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

long long e2e_metric(int port, const char *name)
{
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n";
	struct e2e_client c;
	struct e2e_response r;
	long long v;

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, get, sizeof(get) - 1, &r, false);
	ck_assert_int_eq(r.status, 200);
	v = e2e_metric_in((const char *)r.body, name);
	e2e_response_free(&r);
	e2e_client_close(&c);
	return v;
}

long long e2e_metric_wait(int port, const char *name, long long want)
{
	long long v = -1;

	for (int i = 0; i < 200 && (v = e2e_metric(port, name)) != want; i++)
		e2e_sleep_ms(25);
	return v;
}

bool e2e_stats_get(const char *log, const char *key, unsigned long long *val)
{
	const char *line = NULL, *p = log, *end, *k;
	size_t kl = strlen(key);

	while (p && (p = strstr(p, "stats: ")) != NULL) {
		line = p;
		p += 7;
	}
	if (!line)
		return false;
	end = strchr(line, '\n');
	if (!end)
		end = line + strlen(line);
	for (k = line + 6; k && k < end; k = strchr(k + 1, ' ')) {
		/* k points at the space before a key */
		if ((size_t)(end - k) > kl + 1 && strncmp(k + 1, key, kl) == 0 && k[1 + kl] == '=') {
			char *e;

			errno = 0;
			*val = strtoull(k + 2 + kl, &e, 10);
			return e != k + 2 + kl && errno == 0;
		}
	}
	return false;
}

char *e2e_spliced_report(const struct e2e_proc *p)
{
	char *log = e2e_spliced_log(p);
	char *out = p->out[0] ? e2e_read_file(p->out, NULL) : NULL;
	char *rep = NULL;

	if (asprintf(&rep, "--- spliced %s, error log %s (tail):\n%s\n--- stdout/stderr (tail):\n%s",
		     status_text(p), p->log, tail_of(log, 2500), out ? tail_of(out, 2500) : "") < 0)
		rep = NULL;
	free(log);
	free(out);
	return rep ? rep : strdup("(out of memory)");
}

const char *e2e_diag(void)
{
	static char buf[3600];
	char *log, *out;

	if (!cur_spliced || wd_owner != getpid())
		return "(no spliced started by this test)";
	(void)e2e_proc_running(cur_spliced);
	log = e2e_spliced_log(cur_spliced);
	out = e2e_read_file(cur_spliced->out, NULL);
	snprintf(buf, sizeof(buf), "[spliced %s; error log tail:\n%s%s%s]",
		 status_text(cur_spliced), tail_of(log, 1800), out && *out ? "\nstdout/stderr tail:\n" : "",
		 out && *out ? tail_of(out, 1000) : "");
	free(log);
	free(out);
	return buf;
}

/* ---- raw client --------------------------------------------------------------------- */

int e2e_client_try_open(struct e2e_client *c, int port)
{
	return e2e_client_try_open_from(c, port, NULL);
}

static int e2e_client_connect(struct e2e_client *c, int port, const char *from, int rcvbuf);

int e2e_client_try_open_from(struct e2e_client *c, int port, const char *from)
{
	return e2e_client_connect(c, port, from, 0);
}

int e2e_client_try_open_rcvbuf(struct e2e_client *c, int port, int rcvbuf)
{
	return e2e_client_connect(c, port, NULL, rcvbuf);
}

static int e2e_client_connect(struct e2e_client *c, int port, const char *from, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = E2E_IO_TIMEOUT_MS / 1000 };
	int one = 1, fd, err;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->port = port;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));   /* bounds connect, send */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (rcvbuf)   /* before the connect, so the window offered is that small */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (from && (inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
		     bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)) {
		err = errno ? errno : EINVAL;
		close(fd);
		return -err;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		err = errno;
		close(fd);
		return -err;
	}
	c->cap = 65536;
	c->buf = malloc(c->cap);
	if (!c->buf) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	return 0;
}

void e2e_client_open(struct e2e_client *c, int port)
{
	int rc = e2e_client_try_open(c, port);

	ck_assert_msg(rc == 0, "connect to 127.0.0.1:%d: %s %s", port, strerror(-rc), e2e_diag());
}

void e2e_client_close(struct e2e_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->start = c->end = c->cap = 0;
}

size_t e2e_client_pending(const struct e2e_client *c)
{
	return c->end - c->start;
}

int e2e_send(struct e2e_client *c, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

int e2e_send_str(struct e2e_client *c, const char *s)
{
	return e2e_send(c, s, strlen(s));
}

/* Waits for readability, at most timeout_ms. 1 readable, 0 timeout. */
static int wait_readable(int fd, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pf, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		return r > 0 ? 1 : 0;
	}
}

/* Receives into dst (at most n), waiting at most timeout_ms. >0 bytes, 0 EOF, -errno. */
static ssize_t recv_some(int fd, void *dst, size_t n, int timeout_ms)
{
	for (;;) {
		ssize_t k;

		if (!wait_readable(fd, timeout_ms))
			return -ETIMEDOUT;
		k = recv(fd, dst, n, MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;   /* spurious readiness: wait again (bounded by the timeout above) */
		return k < 0 ? -errno : k;
	}
}

/* More bytes into c->buf. >0 bytes, 0 EOF, -errno, -E2BIG when the buffer is at max. */
static int io_to(const struct e2e_client *c)
{
	return c->timeout_ms > 0 ? c->timeout_ms : E2E_IO_TIMEOUT_MS;
}

static ssize_t client_fill(struct e2e_client *c, int timeout_ms, size_t max)
{
	ssize_t k;

	if (c->start == c->end)
		c->start = c->end = 0;
	if (c->end == c->cap) {
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		} else {
			unsigned char *nb;

			if (c->cap >= max)
				return -E2BIG;
			nb = realloc(c->buf, c->cap * 2);
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap *= 2;
		}
	}
	k = recv_some(c->fd, c->buf + c->end, c->cap - c->end, timeout_ms);
	if (k > 0)
		c->end += (size_t)k;
	return k;
}

/* Exactly n bytes into dst: buffered bytes first, then straight from the socket. */
static int client_read_exact(struct e2e_client *c, unsigned char *dst, size_t n, size_t *got)
{
	size_t have = c->end - c->start;
	size_t k = have < n ? have : n;

	memcpy(dst, c->buf + c->start, k);
	c->start += k;
	*got = k;
	while (*got < n) {
		ssize_t r = recv_some(c->fd, dst + *got, n - *got, io_to(c));

		if (r <= 0)
			return r == 0 ? -EPIPE : (int)r;
		*got += (size_t)r;
	}
	return 0;
}

/* One CRLF-terminated line; *line points into the buffer (CRLF excluded, consumed). */
static int client_line(struct e2e_client *c, const char **line, size_t *len, char *err,
		       size_t errlen)
{
	size_t scanned = 0;

	for (;;) {
		unsigned char *s = c->buf + c->start;
		size_t avail = c->end - c->start;
		unsigned char *nl = memchr(s + scanned, '\n', avail - scanned);
		ssize_t k;

		if (nl) {
			size_t l = (size_t)(nl - s);

			if (l == 0 || s[l - 1] != '\r') {
				snprintf(err, errlen, "line not ended by CRLF: \"%s\"",
					 e2e_esc(s, l + 1));
				return -1;
			}
			*line = (const char *)s;
			*len = l - 1;
			c->start += l + 1;
			return 0;
		}
		scanned = avail;
		k = client_fill(c, io_to(c), E2E_HEAD_MAX);
		if (k <= 0) {
			snprintf(err, errlen, "%s while reading a line (have \"%s\")",
				 k == 0 ? "EOF" : strerror((int)-k), e2e_esc(s, avail));
			return -1;
		}
	}
}

static bool body_reserve(struct e2e_response *r, size_t *cap, size_t need)
{
	unsigned char *nb;
	size_t ncap = *cap ? *cap : 65536;

	if (need + 1 <= *cap)
		return true;
	if (need > E2E_BODY_MAX)
		return false;
	while (ncap < need + 1)
		ncap *= 2;
	nb = realloc(r->body, ncap);
	if (!nb)
		return false;
	r->body = nb;
	*cap = ncap;
	return true;
}

static int read_chunked(struct e2e_client *c, struct e2e_response *r)
{
	size_t cap = 0;
	const char *line;
	size_t len;

	body_reserve(r, &cap, 0);
	for (unsigned guard = 0; guard < 10000000; guard++) {
		unsigned long long sz = 0;
		size_t i = 0, got;
		int rc;

		if (client_line(c, &line, &len, r->err, sizeof(r->err)) < 0)
			return -1;
		for (; i < len && i < 16; i++) {
			char ch = line[i];
			int d = ch >= '0' && ch <= '9' ? ch - '0' :
				ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
				ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

			if (d < 0)
				break;
			sz = sz * 16 + (unsigned)d;
		}
		if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t')) {
			snprintf(r->err, sizeof(r->err), "bad chunk-size line \"%s\" after %zu body bytes",
				 e2e_esc(line, len), r->body_len);
			return -1;
		}
		if (sz == 0)
			break;
		if (sz > E2E_BODY_MAX || !body_reserve(r, &cap, r->body_len + (size_t)sz)) {
			snprintf(r->err, sizeof(r->err), "chunked body over %u bytes", E2E_BODY_MAX);
			return -1;
		}
		rc = client_read_exact(c, r->body + r->body_len, (size_t)sz, &got);
		r->body_len += got;
		if (rc < 0) {
			snprintf(r->err, sizeof(r->err), "%s inside a chunk of %llu bytes (%zu read, body "
				 "so far %zu) %s", rc == -EPIPE ? "EOF" : strerror(-rc), sz, got,
				 r->body_len, e2e_diag());
			return -1;
		}
		r->nchunks++;
		if (client_line(c, &line, &len, r->err, sizeof(r->err)) < 0)
			return -1;
		if (len != 0) {
			snprintf(r->err, sizeof(r->err), "chunk of %llu bytes not followed by CRLF but "
				 "\"%s\"", sz, e2e_esc(line, len));
			return -1;
		}
	}
	/* trailer section */
	{
		size_t tcap = 256, tlen = 0;

		r->trailers = malloc(tcap);
		ck_assert(r->trailers != NULL);
		r->trailers[0] = 0;
		for (unsigned guard = 0; guard < 10000; guard++) {
			if (client_line(c, &line, &len, r->err, sizeof(r->err)) < 0)
				return -1;
			if (len == 0)
				break;
			while (tlen + len + 3 > tcap) {
				tcap *= 2;
				r->trailers = realloc(r->trailers, tcap);
				ck_assert(r->trailers != NULL);
			}
			memcpy(r->trailers + tlen, line, len);
			memcpy(r->trailers + tlen + len, "\r\n", 3);
			tlen += len + 2;
		}
	}
	r->body[r->body_len] = 0;
	return 0;
}

static int parse_head(struct e2e_response *r, bool head_request)
{
	char *p, *eol;
	const char *te, *cl;
	unsigned code;

	r->hcopy_ = strdup(r->head);
	ck_assert(r->hcopy_ != NULL);
	p = r->hcopy_;
	eol = strstr(p, "\r\n");
	if (strncmp(p, "HTTP/1.", 7) != 0 || !(p[7] == '0' || p[7] == '1') || p[8] != ' ' ||
	    !(p[9] >= '1' && p[9] <= '9') || !(p[10] >= '0' && p[10] <= '9') ||
	    !(p[11] >= '0' && p[11] <= '9') || !(p[12] == ' ' || p + 12 == eol)) {
		snprintf(r->err, sizeof(r->err), "malformed status line in \"%s\"",
			 e2e_esc(r->head, r->head_len));
		return -1;
	}
	r->minor = p[7] - '0';
	code = (unsigned)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	r->status = (int)code;
	p = eol + 2;
	while (strncmp(p, "\r\n", 2) != 0) {
		char *colon, *v, *ve;

		eol = strstr(p, "\r\n");
		*eol = 0;
		colon = strchr(p, ':');
		if (!colon || colon == p || r->nhdr == E2E_MAX_HEADERS) {
			snprintf(r->err, sizeof(r->err), "%s header line \"%s\" in \"%s\"",
				 r->nhdr == E2E_MAX_HEADERS ? "too many headers at" : "malformed",
				 e2e_escs(p), e2e_esc(r->head, r->head_len));
			return -1;
		}
		*colon = 0;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = 0;
		r->hdr[r->nhdr].name = p;
		r->hdr[r->nhdr].value = v;
		r->nhdr++;
		p = eol + 2;
	}

	te = e2e_header(r, "Transfer-Encoding");
	cl = e2e_header(r, "Content-Length");
	if (code < 200 || code == 204 || code == 304 || head_request) {
		r->framing = E2E_NO_BODY;
	} else if (te) {
		const char *last = strrchr(te, ',');

		last = last ? last + 1 : te;
		while (*last == ' ' || *last == '\t')
			last++;
		r->framing = strcasecmp(last, "chunked") == 0 ? E2E_CHUNKED : E2E_UNTIL_CLOSE;
	} else if (cl) {
		r->framing = E2E_LENGTH;
		for (unsigned i = 0; i < r->nhdr; i++) {
			if (strcasecmp(r->hdr[i].name, "Content-Length") == 0 &&
			    strcmp(r->hdr[i].value, cl) != 0) {
				snprintf(r->err, sizeof(r->err), "conflicting Content-Length in \"%s\"",
					 e2e_esc(r->head, r->head_len));
				return -1;
			}
		}
	} else {
		r->framing = E2E_UNTIL_CLOSE;
	}
	return 0;
}

int e2e_read_response(struct e2e_client *c, struct e2e_response *r, bool head_request)
{
	size_t scanned = 0, hlen = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	for (;;) {
		size_t avail = c->end - c->start;
		unsigned char *hit = NULL;
		ssize_t k;

		if (avail >= 4) {
			size_t from = scanned > 3 ? scanned - 3 : 0;

			hit = memmem(c->buf + c->start + from, avail - from, "\r\n\r\n", 4);
		}
		if (hit) {
			hlen = (size_t)(hit - (c->buf + c->start)) + 4;
			break;
		}
		scanned = avail;
		k = client_fill(c, io_to(c), E2E_HEAD_MAX);
		if (k <= 0) {
			char what[64];

			avail = c->end - c->start;
			snprintf(what, sizeof(what), "no data for %d ms (timeout)", io_to(c));
			snprintf(r->err, sizeof(r->err), "%s %s (%zu bytes: \"%s\") %s",
				 k == 0 ? "connection closed (EOF)" :
				 k == -ETIMEDOUT ? what : strerror((int)-k),
				 avail ? "in the middle of a response head" : "before any response byte",
				 avail, e2e_esc(c->buf + c->start, avail), e2e_diag());
			return -1;
		}
	}
	r->head = malloc(hlen + 1);
	ck_assert(r->head != NULL);
	memcpy(r->head, c->buf + c->start, hlen);
	r->head[hlen] = 0;
	r->head_len = hlen;
	c->start += hlen;
	if (memchr(r->head, 0, hlen)) {
		snprintf(r->err, sizeof(r->err), "NUL byte in response head \"%s\"",
			 e2e_esc(r->head, hlen));
		return -1;
	}
	if (parse_head(r, head_request) < 0)
		return -1;

	switch (r->framing) {
	case E2E_NO_BODY:
		r->body = calloc(1, 1);
		return 0;
	case E2E_LENGTH: {
		const char *cl = e2e_header(r, "Content-Length");
		char *end;
		unsigned long long n;
		size_t got;

		errno = 0;
		n = strtoull(cl, &end, 10);
		if (!*cl || *end || errno || cl[0] < '0' || cl[0] > '9' || n > E2E_BODY_MAX) {
			snprintf(r->err, sizeof(r->err), "unusable Content-Length \"%s\"", e2e_escs(cl));
			return -1;
		}
		r->body = malloc((size_t)n + 1);
		ck_assert(r->body != NULL);
		rc = client_read_exact(c, r->body, (size_t)n, &got);
		r->body_len = got;
		r->body[got] = 0;
		if (rc < 0) {
			snprintf(r->err, sizeof(r->err), "%s after %zu of %llu body bytes (head \"%s\") %s",
				 rc == -EPIPE ? "connection closed (EOF)" : strerror(-rc), got, n,
				 e2e_esc(r->head, r->head_len), e2e_diag());
			return -1;
		}
		return 0;
	}
	case E2E_CHUNKED:
		if (read_chunked(c, r) < 0) {
			size_t l = strlen(r->err);

			snprintf(r->err + l, sizeof(r->err) - l, " (head \"%s\")",
				 e2e_esc(r->head, r->head_len));
			return -1;
		}
		return 0;
	case E2E_UNTIL_CLOSE:
		rc = e2e_read_until_eof(c, &r->body, &r->body_len, io_to(c));
		if (rc < 0) {
			snprintf(r->err, sizeof(r->err), "close-delimited body: %s after %zu bytes "
				 "(head \"%s\") %s", strerror(-rc), r->body_len,
				 e2e_esc(r->head, r->head_len), e2e_diag());
			return -1;
		}
		return 0;
	}
	return -1;
}

void e2e_response_free(struct e2e_response *r)
{
	free(r->head);
	free(r->hcopy_);
	free(r->body);
	free(r->trailers);
	r->head = r->hcopy_ = r->trailers = NULL;
	r->body = NULL;
	r->nhdr = 0;
}

void e2e_roundtrip(struct e2e_client *c, const void *req, size_t len, struct e2e_response *r,
		   bool head_request)
{
	int rc = e2e_send(c, req, len);

	ck_assert_msg(rc == 0, "sending \"%s\": %s %s", e2e_esc(req, len), strerror(-rc),
		      e2e_diag());
	ck_assert_msg(e2e_read_response(c, r, head_request) == 0, "request \"%s\": %s",
		      e2e_esc(req, len), r->err);
}

const char *e2e_header(const struct e2e_response *r, const char *name)
{
	for (unsigned i = 0; i < r->nhdr; i++)
		if (strcasecmp(r->hdr[i].name, name) == 0)
			return r->hdr[i].value;
	return NULL;
}

unsigned e2e_header_count(const struct e2e_response *r, const char *name)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nhdr; i++)
		n += strcasecmp(r->hdr[i].name, name) == 0;
	return n;
}

bool e2e_header_has_token(const struct e2e_response *r, const char *name, const char *token)
{
	size_t tl = strlen(token);

	for (unsigned i = 0; i < r->nhdr; i++) {
		const char *v = r->hdr[i].value;

		if (strcasecmp(r->hdr[i].name, name) != 0)
			continue;
		while (*v) {
			const char *e = strchr(v, ',');
			const char *b;

			if (!e)
				e = v + strlen(v);
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			b = e;
			while (b > v && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if ((size_t)(b - v) == tl && strncasecmp(v, token, tl) == 0)
				return true;
			v = *e ? e + 1 : e;
		}
	}
	return false;
}

int e2e_wait_closed(struct e2e_client *c, int timeout_ms)
{
	ssize_t k;

	if (c->end > c->start)
		return E2E_GOT_DATA;
	k = client_fill(c, timeout_ms, E2E_HEAD_MAX);
	if (k == 0)
		return E2E_CLOSED_EOF;
	if (k > 0)
		return E2E_GOT_DATA;
	if (k == -ETIMEDOUT)
		return E2E_OPEN;
	return E2E_CLOSED_RESET;
}

int e2e_read_until_eof(struct e2e_client *c, unsigned char **out, size_t *len, int timeout_ms)
{
	size_t have = c->end - c->start, cap = have + 65536, n = have;
	unsigned char *buf = malloc(cap);

	ck_assert(buf != NULL);
	memcpy(buf, c->buf + c->start, have);
	c->start = c->end = 0;
	for (;;) {
		ssize_t k;

		if (cap - n < 16384) {
			unsigned char *nb;

			if (cap > E2E_BODY_MAX) {
				*out = buf;
				*len = n;
				buf[n] = 0;
				return -E2BIG;
			}
			nb = realloc(buf, cap * 2);
			ck_assert(nb != NULL);
			buf = nb;
			cap *= 2;
		}
		k = recv_some(c->fd, buf + n, cap - n - 1, timeout_ms);
		if (k <= 0) {
			buf[n] = 0;
			*out = buf;
			*len = n;
			return (int)k;
		}
		n += (size_t)k;
	}
}

/* ---- echoed request heads ----------------------------------------------------------- */

/* Calls fn on every CRLF-terminated line of head[0..len); stops when fn returns true. */
static bool each_line(const char *h, size_t len, bool (*fn)(const char *, size_t, size_t, void *),
		      void *ctx)
{
	size_t i = 0, no = 0;

	while (i < len) {
		const char *e = memmem(h + i, len - i, "\r\n", 2);
		size_t l = e ? (size_t)(e - (h + i)) : len - i;

		if (fn(h + i, l, no++, ctx))
			return true;
		if (!e)
			break;
		i += l + 2;
	}
	return false;
}

struct line_q {
	const char *s;
	size_t n;
	unsigned count;
	char *out;
	size_t outlen;
	bool want_value;
};

static bool line_eq(const char *l, size_t n, size_t no, void *ctx)
{
	struct line_q *q = ctx;

	(void)no;
	return n == q->n && memcmp(l, q->s, n) == 0;
}

bool e2e_head_has_line(const void *head, size_t len, const char *line)
{
	struct line_q q = { .s = line, .n = strlen(line) };

	return each_line(head, len, line_eq, &q);
}

static bool field_match(const char *l, size_t n, size_t no, void *ctx)
{
	struct line_q *q = ctx;

	if (no == 0 || n <= q->n || l[q->n] != ':' || strncasecmp(l, q->s, q->n) != 0)
		return false;
	q->count++;
	if (q->want_value) {
		size_t a = q->n + 1, b = n, k;

		while (a < b && (l[a] == ' ' || l[a] == '\t'))
			a++;
		while (b > a && (l[b - 1] == ' ' || l[b - 1] == '\t'))
			b--;
		k = b - a < q->outlen - 1 ? b - a : q->outlen - 1;
		memcpy(q->out, l + a, k);
		q->out[k] = 0;
		return true;
	}
	return false;
}

unsigned e2e_head_field_count(const void *head, size_t len, const char *name)
{
	struct line_q q = { .s = name, .n = strlen(name) };

	each_line(head, len, field_match, &q);
	return q.count;
}

const char *e2e_head_field(const void *head, size_t len, const char *name, char *out,
			   size_t outlen)
{
	struct line_q q = { .s = name, .n = strlen(name), .out = out, .outlen = outlen,
			    .want_value = true };

	if (outlen == 0 || !each_line(head, len, field_match, &q))
		return NULL;
	return out;
}

/* ---- autostart suites --------------------------------------------------------------- */

int e2e_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind 127.0.0.1:0: %s",
		      strerror(errno));
	ck_assert_msg(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0, "getsockname: %s",
		      strerror(errno));
	close(fd);
	return ntohs(sa.sin_port);
}

const char *e2e_temp_dir(void)
{
	wd_ensure();
	return wd_base;
}

const char *e2e_backend_bin_for_others(void)
{
	static char copy[512];

	if (!copy[0]) {
		snprintf(copy, sizeof(copy), "%s/testbackend-copy", e2e_temp_dir());
		e2e_copy_file(e2e_env_bin("TESTBACKEND_BIN"), copy, 0755);
	}
	return copy;
}

/* Copies src to dst (created or truncated) with exactly `mode`. Fails the test on error. */
void e2e_copy_file(const char *src, const char *dst, mode_t mode)
{
	size_t n;
	char *data = e2e_read_file(src, &n);
	int fd;
	size_t off = 0;

	ck_assert_msg(data != NULL, "read %s: %s", src, strerror(errno));
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "create %s: %s", dst, strerror(errno));
	while (off < n) {
		ssize_t k = write(fd, data + off, n - off);

		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_msg(k > 0, "write %s: %s", dst, strerror(errno));
		off += (size_t)k;
	}
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	free(data);
}

/* ---- probes ------------------------------------------------------------------------- */

pid_t e2e_bpftrace_start(const char *name, const char *script, const char *out)
{
	char *text = NULL;
	bool attached = false;
	pid_t pid;
	int st, fd;

	if (access("/usr/bin/bpftrace", X_OK) != 0) {
		fprintf(stderr, "SKIP %s: /usr/bin/bpftrace is not installed\n", name);
		return 0;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		/* unbuffered: every line is in the file as soon as its event fired */
		execl("/usr/bin/bpftrace", "bpftrace", "-B", "none", "-e", script, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && !attached; i++) {
		free(text);
		text = e2e_read_file(out, NULL);
		attached = text && strstr(text, "Attaching");
		if (!attached && waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (!attached)
			e2e_sleep_ms(50);
	}
	if (!attached) {
		fprintf(stderr, "SKIP %s: bpftrace could not attach: %s\n", name, text ? text : "");
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		pid = 0;
	}
	free(text);
	return pid;
}

char *e2e_bpftrace_stop(pid_t pid, const char *out, const char *want)
{
	char *text = NULL;
	int st;

	for (int i = 0; want && i < 200; i++) {
		free(text);
		text = e2e_read_file(out, NULL);
		if (text && strstr(text, want))
			break;
		e2e_sleep_ms(50);
	}
	free(text);
	/* bpftrace does not always end on SIGINT */
	kill(pid, SIGINT);
	for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) != pid; i++)
		e2e_sleep_ms(50);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	text = e2e_read_file(out, NULL);
	return text ? text : strdup("");
}
