/* End-to-end suite for a crash of the serving process: the real spliced, started with a
 * ProxyAutostart testbackend, its serving process killed with SIGKILL. The supervisor (the
 * process spliced started as, the PidFile's) forks a new serving process on the listening
 * sockets it kept, and the helper keeps the backend: the same backend process serves the
 * next request, a connection made while no serving process runs waits in the listen queue
 * and is served, a reload and a stop work afterwards, and a crash loop ends the supervisor
 * with status 1. No timing is asserted: how long the new serving process took is printed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "e2e.h"
#include "suite.h"

#define NOBODY_UID 65534
#define CAPS_NONE  "0000000000000000"
#define SETTLE_MS  10000   /* a new serving process shows within this (bounded polls) */
#define CRASH_MAX  8       /* SUPERVISE_CRASH_MAX: one more within 60 s ends the supervisor */

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The value of field `name` in /proc/PID/status (first word), or "" when unreadable. */
static const char *status_field(pid_t pid, const char *name)
{
	static char out[128];
	char path[64], key[64], *st, *p;
	size_t n = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	st = e2e_read_file(path, NULL);
	if (!st)
		return out;
	snprintf(key, sizeof(key), "%s:\t", name);
	for (p = st; p && strncmp(p, key, strlen(key)) != 0;) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p) {
		p += strlen(key);
		while (p[n] && p[n] != '\n' && p[n] != '\t' && n + 1 < sizeof(out))
			n++;
		memcpy(out, p, n);
		out[n] = '\0';
	}
	free(st);
	return out;
}

/* A live (not zombie) process. */
static bool alive(pid_t pid)
{
	const char *s = status_field(pid, "State");

	return s[0] && s[0] != 'Z';
}

/* The serving process other than `not`, waited for (bounded); fails the test if none. */
static pid_t wait_serving(const struct e2e_proc *sp, pid_t not)
{
	pid_t pid = e2e_child_pid(sp->pid, "spliced", not, SETTLE_MS);

	ck_assert_msg(pid > 0, "no serving process (a child of %d other than %d) within %d ms %s",
		      (int)sp->pid, (int)not, SETTLE_MS, e2e_diag());
	return pid;
}

/* The last pid in the testbackend's -s file and how many starts it lists. */
static pid_t backend_pid(const char *starts, unsigned *n)
{
	char *text = e2e_read_file(starts, NULL), *p = text;
	pid_t pid = 0;

	*n = 0;
	while (p && (p = strstr(p, "start ")) != NULL) {
		pid = (pid_t)atoi(p + 6);
		(*n)++;
		p += 6;
	}
	free(text);
	return pid;
}

/* GET path on a new connection: 200 and the backend's echo of the request line. */
static void get_echo(int port, const char *path)
{
	struct e2e_client c;
	struct e2e_response r;
	char req[256], line[200];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: crash\r\nConnection: close\r\n\r\n",
		 path);
	snprintf(line, sizeof(line), "GET %s HTTP/1.1", path);
	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, strlen(req), &r, false);
	ck_assert_msg(r.status == 200, "%s: status %d %s", path, r.status, e2e_diag());
	ck_assert_msg(e2e_head_has_line(r.body, r.body_len, line), "%s: the backend saw %s", path,
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
}

/* GET path retried (a new connection each time, bounded) until it is answered 200; returns
 * the response's X-Crash header copied to out (or ""). Prints how long it took. */
static void get_until_served(int port, const char *path, char *out, size_t outlen)
{
	long long t0 = mono_ms(), deadline = t0 + SETTLE_MS;
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: crash\r\nConnection: close\r\n\r\n",
		 path);
	for (unsigned tries = 1;; tries++) {
		struct e2e_client c;
		struct e2e_response r;

		bool open = e2e_client_try_open(&c, port) == 0;

		if (open && e2e_send_str(&c, req) == 0 && e2e_read_response(&c, &r, false) == 0) {
			int status = r.status;
			const char *h = e2e_header(&r, "X-Crash");

			snprintf(out, outlen, "%s", h ? h : "");
			e2e_response_free(&r);
			e2e_client_close(&c);
			if (status == 200) {
				printf("check_e2e_crash: %s served after %lld ms (%u tries)\n",
				       path, mono_ms() - t0, tries);
				return;
			}
		} else if (open) {
			e2e_client_close(&c);
		}
		ck_assert_msg(mono_ms() < deadline, "%s was not served within %d ms %s", path,
			      SETTLE_MS, e2e_diag());
		e2e_sleep_ms(10);
	}
}

/* Runs as nobody, no capability (when the suite runs as root). */
static void ck_unprivileged(pid_t pid)
{
	char want[64];

	if (geteuid() == 0) {
		snprintf(want, sizeof(want), "%u", NOBODY_UID);
		ck_assert_str_eq(status_field(pid, "Uid"), want);
	}
	ck_assert_str_eq(status_field(pid, "CapEff"), CAPS_NONE);
	ck_assert_str_eq(status_field(pid, "CapPrm"), CAPS_NONE);
}

/* The supervisor, started as root, keeps uid 0 with at most CAP_DAC_OVERRIDE, CAP_KILL,
 * CAP_SETGID, CAP_SETUID and CAP_SETPCAP (bits 1, 5, 6, 7, 8), bounding set included. */
static void ck_supervisor_caps(pid_t pid)
{
	static const char *const sets[] = { "CapEff", "CapPrm", "CapBnd" };
	const unsigned long long allowed = 0x1e2;

	if (geteuid() != 0)
		return;
	ck_assert_str_eq(status_field(pid, "Uid"), "0");
	for (unsigned i = 0; i < 3; i++) {
		unsigned long long v = strtoull(status_field(pid, sets[i]), NULL, 16);

		ck_assert_msg((v & ~allowed) == 0, "the supervisor's %s is %llx", sets[i], v);
	}
	ck_assert_str_eq(status_field(pid, "CapAmb"), CAPS_NONE);
	ck_assert_str_eq(status_field(pid, "NoNewPrivs"), "1");
}

/* A directory nobody may write (the backend's -s file); *starts set. */
static void start_file(char *starts, size_t len)
{
	char dir[300];

	snprintf(dir, sizeof(dir), "%s/run", e2e_temp_dir());
	ck_assert_msg(mkdir(dir, 0777) == 0 && chmod(dir, 0777) == 0, "mkdir %s: %s", dir,
		      strerror(errno));
	snprintf(starts, len, "%s/starts", dir);
}

/* spliced with User nobody (when root), a PidFile and a ProxyAutostart testbackend on a
 * free port, which the first request starts. */
static int start_with_backend(struct e2e_proc *sp, char *starts, size_t len)
{
	int bport = e2e_free_port();

	start_file(starts, len);
	e2e_spliced_startf(sp, "%sPidFile %s/spliced.pid\n"
			   "ProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- %s -p %d -s %s\n",
			   geteuid() == 0 ? "User nobody\nGroup nogroup\n" : "", e2e_temp_dir(),
			   bport, bport, e2e_backend_bin_for_others(), bport, starts);
	return bport;
}

static void ck_pid_file(const struct e2e_proc *sp)
{
	char path[400], *text;

	snprintf(path, sizeof(path), "%s/spliced.pid", e2e_temp_dir());
	text = e2e_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(atoi(text), (int)sp->pid);
	free(text);
}

/* kill -9 of the serving process: a new one serves, as nobody with no capability, the
 * backend process is the same, the supervisor is the same; a connection made while no
 * serving process runs (the supervisor is held with SIGSTOP meanwhile) is served; the
 * supervisor holds only the capabilities a respawn needs; a
 * reload after the crash works and a second crash keeps the reloaded configuration; SIGTERM
 * stops everything, the backend too, with status 0. */
START_TEST(test_crash_respawn)
{
	struct e2e_proc sp;
	struct e2e_client gap;
	struct e2e_response r;
	char starts[400], hdr[64];
	const char *gap_req = "GET /during-the-gap HTTP/1.1\r\nHost: crash\r\n\r\n";
	pid_t s1, s2, s3, s4, b;
	unsigned n, reloads;

	memset(&sp, 0, sizeof(sp));
	start_with_backend(&sp, starts, sizeof(starts));
	get_echo(sp.port, "/before");
	b = backend_pid(starts, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert(alive(b));
	s1 = wait_serving(&sp, 0);
	ck_unprivileged(s1);
	ck_pid_file(&sp);
	ck_supervisor_caps(sp.pid);

	/* the crash */
	ck_assert_int_eq(kill(s1, SIGKILL), 0);
	get_until_served(sp.port, "/after", hdr, sizeof(hdr));
	get_echo(sp.port, "/after-again");
	s2 = wait_serving(&sp, s1);
	ck_assert_int_ne(s2, s1);
	ck_unprivileged(s2);
	ck_assert(e2e_proc_running(&sp));
	ck_pid_file(&sp);
	ck_supervisor_caps(sp.pid);
	ck_assert_int_eq(backend_pid(starts, &n), b);
	ck_assert_uint_eq(n, 1);
	ck_assert(alive(b));
	ck_assert(e2e_log_wait_for(&sp, "was killed by signal 9 (SIGKILL): starting a new one",
				   SETTLE_MS));

	/* a connection while no serving process runs waits in the supervisor's listen queue */
	ck_assert_int_eq(kill(sp.pid, SIGSTOP), 0);
	ck_assert_int_eq(kill(s2, SIGKILL), 0);
	for (unsigned i = 0; i < 500 && alive(s2); i++)
		e2e_sleep_ms(10);
	ck_assert(!alive(s2));
	ck_assert_int_eq(e2e_client_try_open(&gap, sp.port), 0);
	ck_assert_int_eq(e2e_send_str(&gap, gap_req), 0);
	ck_assert_int_eq(e2e_child_pid(sp.pid, "spliced", s2, 0), 0);
	ck_assert_int_eq(kill(sp.pid, SIGCONT), 0);
	ck_assert_msg(e2e_read_response(&gap, &r, false) == 0, "%s %s", r.err, e2e_diag());
	ck_assert_int_eq(r.status, 200);
	ck_assert(e2e_head_has_line(r.body, r.body_len, "GET /during-the-gap HTTP/1.1"));
	e2e_response_free(&r);
	e2e_client_close(&gap);
	s3 = wait_serving(&sp, s2);
	ck_unprivileged(s3);

	/* a reload after the crash; a crash after it keeps the reloaded configuration */
	e2e_conf_append(&sp, "Header always set X-Crash reloaded\n");
	reloads = e2e_log_count(&sp, "configuration 2 in use");
	ck_assert(e2e_reload(&sp, 2));
	get_until_served(sp.port, "/reloaded", hdr, sizeof(hdr));
	ck_assert_str_eq(hdr, "reloaded");
	ck_assert_int_eq(kill(s3, SIGKILL), 0);
	for (unsigned i = 0; i < 1000 && e2e_log_count(&sp, "configuration 2 in use") < reloads + 2;
	     i++)
		e2e_sleep_ms(10);
	ck_assert_msg(e2e_log_count(&sp, "configuration 2 in use") == reloads + 2, "%s", e2e_diag());
	get_until_served(sp.port, "/reloaded-again", hdr, sizeof(hdr));
	ck_assert_str_eq(hdr, "reloaded");
	s4 = wait_serving(&sp, s3);
	ck_unprivileged(s4);
	ck_assert_int_eq(backend_pid(starts, &n), b);
	ck_assert_uint_eq(n, 1);

	/* a stop after the crashes stops everything */
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	for (unsigned i = 0; i < 1000 && alive(b); i++)
		e2e_sleep_ms(10);
	ck_assert_msg(!alive(b), "the backend (pid %d) outlived spliced", (int)b);
	ck_assert(!alive(s4));
	ck_assert(e2e_log_count(&sp, "helper: exiting") == 1);
}
END_TEST

/* A crash loop: more than CRASH_MAX crashes within 60 s end the supervisor with status 1,
 * after backing off; the backend stops with it. */
START_TEST(test_crash_loop)
{
	struct e2e_proc sp;
	char starts[400];
	pid_t s = 0, b;
	unsigned n;

	memset(&sp, 0, sizeof(sp));
	start_with_backend(&sp, starts, sizeof(starts));
	get_echo(sp.port, "/loop");
	b = backend_pid(starts, &n);
	for (unsigned i = 0; i <= CRASH_MAX; i++) {
		long long t0 = mono_ms();

		s = wait_serving(&sp, s);
		if (i)
			printf("check_e2e_crash: serving process %u after %lld ms\n", i + 1,
			       mono_ms() - t0);
		ck_assert_int_eq(kill(s, SIGKILL), 0);
	}
	ck_assert_msg(e2e_proc_wait(&sp, 30000), "the supervisor still runs %s", e2e_diag());
	ck_assert_msg(e2e_proc_exit_code(&sp) == 1 &&
		      e2e_log_count(&sp, "crashes within 60 s, giving up") == 1, "%s",
		      e2e_spliced_report(&sp));
	ck_assert(e2e_log_count(&sp, "starting a new one in 100 ms (crash 2 within 60 s") == 1);
	ck_assert(e2e_log_count(&sp, "starting a new one in 5000 ms") >= 1);
	for (unsigned i = 0; i < 1000 && alive(b); i++)
		e2e_sleep_ms(10);
	ck_assert_msg(!alive(b), "the backend (pid %d) outlived spliced", (int)b);
}
END_TEST

/* Started with SIGCHLD ignored (a shell's trap '' CHLD, a service manager's choice: exec
 * keeps an ignored signal ignored), the supervisor still learns how its serving process
 * ended (with SIG_IGN the kernel would reap it unseen): a crash is followed by a new one,
 * SIGTERM ends spliced with status 0. */
START_TEST(test_crash_sigchld_ignored)
{
	struct e2e_proc sp;
	char starts[400], hdr[64];
	pid_t s1, s2;

	memset(&sp, 0, sizeof(sp));
	/* only while spliced is spawned: this process reaps its own children */
	signal(SIGCHLD, SIG_IGN);
	start_with_backend(&sp, starts, sizeof(starts));
	signal(SIGCHLD, SIG_DFL);
	get_echo(sp.port, "/before");
	s1 = wait_serving(&sp, 0);
	ck_assert_int_eq(kill(s1, SIGKILL), 0);
	get_until_served(sp.port, "/after", hdr, sizeof(hdr));
	s2 = wait_serving(&sp, s1);
	ck_assert_int_ne(s2, s1);
	ck_assert(e2e_log_wait_for(&sp, "was killed by signal 9 (SIGKILL): starting a new one",
				   SETTLE_MS));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	ck_assert(!alive(s2));
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "crash_respawn", test_crash_respawn, 0 },
		{ "crash_loop", test_crash_loop, 0 },
		{ "crash_sigchld_ignored", test_crash_sigchld_ignored, 0 },
	};
	Suite *s = suite_create("e2e_crash");

	ck_add_cases(s, cases, CK_N(cases), 120, NULL, NULL);
	return ck_run_suite(s);
}
