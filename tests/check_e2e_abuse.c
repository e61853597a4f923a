/* End-to-end suite for slow and greedy clients and resource exhaustion (issue 18), on
 * the real binary and the real test backend:
 *
 * - a few hundred abusers at once (heads trickled and left unfinished, responses not
 *   read, uploads stalled) are each closed by their deadline (RequestReadTimeout,
 *   Timeout), the metrics count them by stage, and a normal client is served meanwhile;
 * - over MaxConnections a client gets a 503 and a close at once (no hang), and is served
 *   once the others go;
 * - spliced's open-files limit lowered under it (prlimit, as root could any time): accept
 *   failing with EMFILE does not make it spin (its CPU time over a bounded period is a
 *   resource count, asserted loosely), it logs at most a line a second and counts it,
 *   and it serves again once descriptors are free, without a restart; a backend socket
 *   refused is a 503; a pipe refused is a body copied, byte for byte.
 *
 * No timing is asserted: deadlines are only bounded from above by the loops. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "spliced/relay-t.h"
#include "suite.h"

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; head:\n%s\n%s", (want), \
		      (r)->status, e2e_escs((r)->head), e2e_diag())

/* One GET on a new connection: the status (the body's pattern checked when len > 0),
 * or -1 when the connection failed. */
static int get_once(int port, const char *target, size_t len)
{
	struct e2e_client c;
	struct e2e_response r;
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\nConnection: close"
			 "\r\n\r\n", target);
	int status;

	if (e2e_client_try_open(&c, port) < 0)
		return -1;
	c.timeout_ms = 10000;
	if (e2e_send(&c, req, (size_t)n) < 0 || e2e_read_response(&c, &r, false) < 0) {
		e2e_client_close(&c);
		return -1;
	}
	status = r.status;
	if (status == 200 && len) {
		ck_assert_uint_eq(r.body_len, len);
		ck_assert_int_eq(e2e_pattern_mismatch(r.body, r.body_len), -1);
	}
	e2e_response_free(&r);
	e2e_client_close(&c);
	return status;
}

/* get_once() until it gives 200, at most 100 times 100 ms apart: the last status. */
static int get_until_200(int port, const char *target, size_t len)
{
	int status = get_once(port, target, len);

	for (int i = 0; i < 100 && status != 200; i++) {
		e2e_sleep_ms(100);
		status = get_once(port, target, len);
	}
	return status;
}

/* spliced's serving process (the pid started is its supervisor). */
static pid_t serving(const struct e2e_proc *sp)
{
	pid_t pid = e2e_child_pid(sp->pid, "spliced", 0, 5000);

	ck_assert_msg(pid > 0, "no serving process under %d\n%s", (int)sp->pid, e2e_diag());
	return pid;
}

/* User + system CPU time of pid, in clock ticks. */
static unsigned long long cpu_ticks(pid_t pid)
{
	char path[64];
	char *text, *p;
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	text = e2e_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	p = strrchr(text, ')');   /* the command may hold blanks; fields 14, 15 after it */
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st), 2);
	free(text);
	return ut + st;
}

/* Descriptors pid has open now; with `spare`, *limit: the open-files limit under which
 * exactly `spare` more can be opened (a new descriptor takes the lowest free number and
 * must be below the limit, so holes in the table count, not only the total). */
static unsigned open_fds_limit(pid_t pid, unsigned spare, unsigned *limit)
{
	static bool used[65536];
	char path[64];
	struct dirent *e;
	unsigned n = 0, fd = 0;
	DIR *d;

	memset(used, 0, sizeof(used));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		long k = e->d_name[0] != '.' ? atol(e->d_name) : -1;

		if (k >= 0 && k < 65536)
			used[k] = true;
		n += k >= 0;
	}
	closedir(d);
	/* the free number the (spare+1)th new descriptor would get is the limit */
	for (unsigned free_seen = 0; fd < 65536; fd++)
		if (!used[fd] && free_seen++ == spare)
			break;
	if (limit)
		*limit = fd;
	return n;
}

static unsigned open_fds(pid_t pid)
{
	return open_fds_limit(pid, 0, NULL);
}

/* The soft limit `resource` (RLIMIT_NOFILE, RLIMIT_DATA) of spliced's serving process set
 * to soft, its hard limit left: from a child that becomes its user and group, since
 * prlimit() on another user's process needs CAP_SYS_RESOURCE, which a container's root
 * may lack (the soft limit is what the kernel enforces; a process may set it anywhere
 * below its hard limit). */
static void set_soft_rlimit(const struct e2e_proc *sp, int resource, rlim_t soft)
{
	char path[64], *text, *u, *g;
	unsigned uid, gid;
	int status;
	pid_t pid;

	pid_t target = serving(sp);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)target);
	text = e2e_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	u = strstr(text, "\nUid:");
	g = strstr(text, "\nGid:");
	ck_assert(u && g && sscanf(u, "\nUid: %*u %u", &uid) == 1 &&
		  sscanf(g, "\nGid: %*u %u", &gid) == 1);
	free(text);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl;

		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0 ||
		    prlimit(target, resource, NULL, &rl) < 0)
			_exit(1);
		rl.rlim_cur = soft < rl.rlim_max ? soft : rl.rlim_max;
		_exit(prlimit(target, resource, &rl, NULL) < 0 ? 2 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "prlimit as uid %u gid %u failed (%d)", uid, gid, status);
}

/* spliced's limit set so that `spare` more descriptors can be opened, not one more. */
static void limit_fds(const struct e2e_proc *sp, unsigned spare)
{
	unsigned limit;

	open_fds_limit(serving(sp), spare, &limit);
	set_soft_rlimit(sp, RLIMIT_NOFILE, limit);
}

static void unlimit_fds(const struct e2e_proc *sp)
{
	set_soft_rlimit(sp, RLIMIT_NOFILE, RLIM_INFINITY);
}

/* Until spliced's descriptors stop changing (the start-up probe's connection closed). */
static void fds_settle(const struct e2e_proc *sp)
{
	unsigned prev = 0, now;

	for (int i = 0; i < 50 && (now = open_fds(serving(sp))) != prev; i++) {
		prev = now;
		e2e_sleep_ms(100);
	}
}

/* Each of c[0..n) gets a 408, then the close; closed here. */
static void expect_408_closed(struct e2e_client *c, unsigned n, const char *what)
{
	struct e2e_response r;

	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg(e2e_read_response(&c[i], &r, false) == 0, "%s %u: %s\n%s", what, i,
			      r.err, e2e_diag());
		ck_status(&r, 408);
		e2e_response_free(&r);
		ck_assert_int_gt(e2e_wait_closed(&c[i], 10000), E2E_OPEN);
		e2e_client_close(&c[i]);
	}
}

#define SLOWLORIS 200
#define SLOW_UPLOADS 100
#define SLOW_READERS 20
#define READER_BODY (32u << 20)

/* Slowloris, slow uploads and slow readers at once: each closed by its deadline, counted
 * by stage; a normal client is answered correctly while they hold their connections. */
START_TEST(test_abusers_closed_by_their_timeouts)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 0123";
	static const char upload[] = "POST /?len=10 HTTP/1.1\r\nHost: a\r\n"
				     "Content-Length: 1000000\r\n\r\n0123456789";
	struct e2e_client *loris = calloc(SLOWLORIS, sizeof(*loris));
	struct e2e_client *up = calloc(SLOW_UPLOADS, sizeof(*up));
	struct e2e_client rd[SLOW_READERS];
	struct e2e_proc be, sp;
	int mport = e2e_free_port();
	char req[128];
	int n;

	ck_assert(loris && up);
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nTimeout 2\n"
			   "RequestReadTimeout header=1-2,MinRate=500 body=1,MinRate=500\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", mport, be.port);
	for (unsigned i = 0; i < SLOWLORIS; i++) {
		ck_assert_int_eq(e2e_client_try_open(&loris[i], sp.port), 0);
		loris[i].timeout_ms = 15000;
		ck_assert_int_eq(e2e_send(&loris[i], head, sizeof(head) - 1), 0);
	}
	for (unsigned i = 0; i < SLOW_UPLOADS; i++) {
		ck_assert_int_eq(e2e_client_try_open(&up[i], sp.port), 0);
		up[i].timeout_ms = 15000;
		ck_assert_int_eq(e2e_send(&up[i], upload, sizeof(upload) - 1), 0);
	}
	n = snprintf(req, sizeof(req), "GET /?len=%u HTTP/1.1\r\nHost: a\r\n\r\n", READER_BODY);
	for (unsigned i = 0; i < SLOW_READERS; i++) {
		ck_assert_int_eq(e2e_client_try_open_rcvbuf(&rd[i], sp.port, 4096), 0);
		rd[i].timeout_ms = 15000;
		ck_assert_int_eq(e2e_send(&rd[i], req, (size_t)n), 0);
	}
	/* a normal client, while they are all connected */
	ck_assert_int_eq(get_once(sp.port, "/?len=100000", 100000), 200);

	expect_408_closed(loris, SLOWLORIS, "slowloris");  /* every head left unfinished */
	expect_408_closed(up, SLOW_UPLOADS, "upload");     /* the backend's request abandoned */
	/* every reader that stopped reading: cut off by Timeout (counted), before the end of
	 * its body; what was sent before is still read, then the close */
	for (int i = 0; i < 300 && e2e_metric(mport, "spliced_timeouts_total{stage=\"exchange\"}")
				   < SLOW_UPLOADS + SLOW_READERS; i++)
		e2e_sleep_ms(50);
	for (unsigned i = 0; i < SLOW_READERS; i++) {
		unsigned char *all = NULL;
		size_t len = 0;
		int ret = e2e_read_until_eof(&rd[i], &all, &len, 15000);

		ck_assert_msg(ret == 0 || ret == -ECONNRESET, "reader %u: %d\n%s", i, ret,
			      e2e_diag());
		ck_assert_msg(len < READER_BODY, "reader %u got the whole body", i);
		free(all);
		e2e_client_close(&rd[i]);
	}
	ck_assert_int_ge(e2e_metric(mport, "spliced_timeouts_total{stage=\"head\"}"), SLOWLORIS);
	ck_assert_int_ge(e2e_metric(mport, "spliced_timeouts_total{stage=\"exchange\"}"),
			 SLOW_UPLOADS + SLOW_READERS);
	ck_assert(e2e_log_wait_for(&sp, "timed out reading the request head", 5000));
	ck_assert(e2e_log_wait_for(&sp, "request body: timed out", 5000));
	/* a line a second per stage and the others summed up, not a line per abuser (the
	 * bound is loose: the waves are cut over a few seconds) */
	ck_assert(e2e_log_wait_for(&sp, "more clients closed at their deadline (head)", 5000));
	ck_assert(e2e_log_wait_for(&sp, "more clients closed at their deadline (exchange)",
				   5000));
	ck_assert_uint_le(e2e_log_count(&sp, "timed out reading the request head"), SLOWLORIS / 10);
	ck_assert_uint_le(e2e_log_count(&sp, "request body: timed out"), SLOW_UPLOADS / 5);
	/* and it serves as before */
	ck_assert_int_eq(get_once(sp.port, "/?len=100000", 100000), 200);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
	free(loris);
	free(up);
}
END_TEST

#define MAXCONN 10

/* A client over MaxConnections: a 503 with Retry-After and a close at once; served
 * again once the connections that held the slots are gone. */
START_TEST(test_max_connections_refuses_cleanly)
{
	struct e2e_client idle[MAXCONN], c;
	struct e2e_proc be, sp;
	struct e2e_response r;
	static const char req[] = "GET /?len=5 HTTP/1.1\r\nHost: a\r\n\r\n";
	int mport = e2e_free_port();

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nMaxConnections %d\n"
			   "RequestReadTimeout header=30\nProxyPass / http://127.0.0.1:%d/\n",
			   mport, MAXCONN, be.port);
	e2e_sleep_ms(200);   /* the start-up probe's connection closed */
	for (unsigned i = 0; i < MAXCONN; i++)
		ck_assert_int_eq(e2e_client_try_open(&idle[i], sp.port), 0);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 10000;
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	ck_status(&r, 503);
	ck_assert_ptr_nonnull(e2e_header(&r, "Retry-After"));
	e2e_response_free(&r);
	ck_assert_int_gt(e2e_wait_closed(&c, 10000), E2E_OPEN);
	e2e_client_close(&c);
	/* the held connections still work */
	e2e_roundtrip(&idle[0], req, sizeof(req) - 1, &r, false);
	ck_status(&r, 200);
	e2e_response_free(&r);
	for (unsigned i = 0; i < MAXCONN; i++)
		e2e_client_close(&idle[i]);
	ck_assert_int_eq(get_until_200(sp.port, "/?len=5", 5), 200);
	ck_assert_int_ge(e2e_metric(mport, "spliced_connections_refused_total"), 1);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

#define LOW_NOFILE 64

/* Out of descriptors at accept: the multishot accept ends with EMFILE and is re-armed
 * from the next tick, not at once; a line a second in the log; served again once
 * descriptors are free, the limit still as low. io_uring reads the open-files limit when
 * the accept is submitted, so lowering it under a running spliced would not reach the
 * accept already armed: spliced starts with it low (soft and hard, through a shell's
 * ulimit), and the test fills it with idle connections. */
START_TEST(test_emfile_on_accept)
{
	struct e2e_client c[LOW_NOFILE];
	struct e2e_proc be, sp;
	int mport = e2e_free_port();
	unsigned long long t0, t1;
	long hz = sysconf(_SC_CLK_TCK);
	unsigned lines, n = 0;
	char real[512], script[700];
	const char *wrap;
	int status;

	snprintf(real, sizeof(real), "%s", e2e_env_bin("SPLICED_BIN"));
	snprintf(script, sizeof(script), "#!/bin/sh\nulimit -n %d || exit 1\nexec '%s' \"$@\"\n",
		 LOW_NOFILE, real);
	wrap = e2e_write_temp("spliced-lownofile", script);
	ck_assert_int_eq(chmod(wrap, 0755), 0);
	e2e_backend_start(&be, NULL);
	setenv("SPLICED_BIN", wrap, 1);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nRequestReadTimeout header=30\n"
			   "MaxConnections 1000\nProxyPass / http://127.0.0.1:%d/\n", mport, be.port);
	setenv("SPLICED_BIN", real, 1);
	fds_settle(&sp);
	/* idle connections until spliced's accept fails (each one accepted takes one) */
	while (n < LOW_NOFILE && !e2e_log_count(&sp, "Too many open files (fd_accept")) {
		ck_assert_int_eq(e2e_client_try_open(&c[n], sp.port), 0);
		n++;
		e2e_sleep_ms(20);
	}
	ck_assert_msg(e2e_log_wait_for(&sp, "Too many open files (fd_accept", 5000), "%s",
		      e2e_diag());
	/* connections wait in the backlog: spliced must not spin on them */
	t0 = cpu_ticks(serving(&sp));
	e2e_sleep_ms(2000);
	t1 = cpu_ticks(serving(&sp));
	ck_assert_msg(t1 - t0 < (unsigned long long)hz, "spliced used %llu of %ld ticks (more "
		      "than half of 2 s) while out of descriptors", t1 - t0, 2 * hz);
	lines = e2e_log_count(&sp, "fd_accept");
	ck_assert_msg(lines >= 1 && lines <= 6, "%u fd_accept lines in about 2 s", lines);
	for (unsigned i = 0; i < n; i++)
		e2e_client_close(&c[i]);
	/* the closed ones are accepted, read as closed and let go; then a request goes */
	status = get_until_200(sp.port, "/?len=100", 100);
	ck_assert_msg(status == 200, "not served after the descriptors came back: %d\n%s",
		      status, e2e_diag());
	ck_assert_int_ge(e2e_metric(mport, "spliced_resource_errors_total{resource=\"fd_accept\"}"), 1);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* With one descriptor left (the client's connection takes it), GET target is a 503 and
 * the error log has `line`; with the limit back, a 200; the metrics page (metrics port
 * mport) counts the resource. */
static void last_fd_gives_503(const struct e2e_proc *sp, int mport, const char *target,
			      const char *line, const char *resource)
{
	char name[128];

	fds_settle(sp);
	limit_fds(sp, 1);
	ck_assert_int_eq(get_once(sp->port, target, 0), 503);
	ck_assert_msg(e2e_log_wait_for(sp, line, 5000), "no \"%s\" in the log\n%s", line,
		      e2e_diag());
	unlimit_fds(sp);
	ck_assert_int_eq(get_once(sp->port, target, 0), 200);
	snprintf(name, sizeof(name), "spliced_resource_errors_total{resource=\"%s\"}", resource);
	ck_assert_int_ge(e2e_metric(mport, name), 1);
}

/* Out of descriptors for a backend socket: 503 for that request, logged and counted;
 * the next request, descriptors back, is served. */
START_TEST(test_emfile_on_connect)
{
	struct e2e_proc be, sp;
	int mport = e2e_free_port();

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\n"
			   "ProxyPass / http://127.0.0.1:%d/ disablereuse=On\n", mport, be.port);
	last_fd_gives_503(&sp, mport, "/?len=100", "socket for a backend: Too many open files",
			  "fd_connect");
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* Out of descriptors to open a static file: 503 (was 500), logged and counted; served
 * once they are back. */
START_TEST(test_emfile_on_file_open)
{
	struct e2e_proc sp;
	const char *file = e2e_write_temp("hello.txt", "hello\n");
	int mport = e2e_free_port();
	char root[512];

	ck_assert_int_eq(chmod(file, 0644), 0);
	snprintf(root, sizeof(root), "%s", file);
	*strrchr(root, '/') = 0;
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nDocumentRoot \"%s\"\n", mport,
			   root);
	last_fd_gives_503(&sp, mport, "/hello.txt", "a static file: Too many open files",
			  "fd_file");
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

#define PIPE_BODY (1u << 20)

/* GET target (PIPE_BODY bytes) is served, spliced (the spliced byte count grows); then
 * spliced and the backend are stopped. */
static void spliced_again_then_stop(struct e2e_proc *sp, struct e2e_proc *be, int mport,
				    const char *target)
{
	long long spliced0 = e2e_metric(mport, "spliced_bytes_total{how=\"spliced\"}");

	ck_assert_int_eq(get_until_200(sp->port, target, PIPE_BODY), 200);
	ck_assert_int_gt(e2e_metric(mport, "spliced_bytes_total{how=\"spliced\"}"), spliced0);
	ck_assert_int_eq(e2e_spliced_stop(sp), 0);
	e2e_backend_stop(be);
}

/* No descriptor left for a pipe: a body that would be spliced is copied, every byte
 * right, logged and counted; with descriptors back it is spliced again. */
START_TEST(test_pipe_refused_body_copied)
{
	struct e2e_proc be, sp;
	int mport = e2e_free_port();
	char target[64];

	snprintf(target, sizeof(target), "/?len=%u", PIPE_BODY);
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\n"
			   "ProxyPass / http://127.0.0.1:%d/ disablereuse=On\n", mport, be.port);
	fds_settle(&sp);
	limit_fds(&sp, 2);   /* the client's and the backend's sockets, no pipe */
	ck_assert_int_eq(get_once(sp.port, target, PIPE_BODY), 200);
	ck_assert(e2e_log_wait_for(&sp, "pipe, body copied: Too many open files", 5000));
	unlimit_fds(&sp);
	ck_assert_int_ge(e2e_metric(mport, "spliced_resource_errors_total{resource=\"pipe\"}"), 1);
	spliced_again_then_stop(&sp, &be, mport, target);
}
END_TEST

#define HOLD_BODY (16u << 20)

/* Readers that stop reading hold every pipe of the worker's pool (each with bytes in it
 * that cannot go out): another response body is copied instead, every byte right,
 * counted once as pipe_pool; spliced again once they are gone. */
START_TEST(test_pipe_pool_in_use_body_copied)
{
	struct e2e_client rd[RELAY_POOL_MAX];
	struct e2e_proc be, sp;
	int mport = e2e_free_port();
	char target[64], req[128];
	int n;

	snprintf(target, sizeof(target), "/?len=%u", PIPE_BODY);
	n = snprintf(req, sizeof(req), "GET /?len=%u HTTP/1.1\r\nHost: a\r\n\r\n", HOLD_BODY);
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nTimeout 30\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", mport, be.port);
	for (unsigned i = 0; i < RELAY_POOL_MAX; i++) {
		ck_assert_int_eq(e2e_client_try_open_rcvbuf(&rd[i], sp.port, 4096), 0);
		ck_assert_int_eq(e2e_send(&rd[i], req, (size_t)n), 0);
	}
	/* until each reader's response holds its pipe: a body then copied */
	for (int i = 0; i < 250 && e2e_metric(mport, "spliced_resource_errors_total"
					  "{resource=\"pipe_pool\"}") == 0; i++) {
		ck_assert_int_eq(get_once(sp.port, target, PIPE_BODY), 200);
		e2e_sleep_ms(20);
	}
	ck_assert_int_eq(e2e_metric(mport, "spliced_resource_errors_total{resource=\"pipe_pool\"}"),
			 1);
	ck_assert(e2e_log_wait_for(&sp, "every pipe of the pool in use, body copied", 5000));
	for (unsigned i = 0; i < RELAY_POOL_MAX; i++)
		e2e_client_close(&rd[i]);
	spliced_again_then_stop(&sp, &be, mport, target);
}
END_TEST

#define TRICKLERS (RELAY_POOL_MAX + 8)

/* Uploads that trickle (a few bytes, then silence) take no pipe while they wait: with
 * more of them than the pool has pipes, a response body and a fast upload are still
 * spliced and nothing is counted as pipe_pool; the trickles go on (copied) and each
 * gets its 408 in the end. */
START_TEST(test_slow_uploads_hold_no_pipe)
{
	static const char upload[] = "POST /?len=10 HTTP/1.1\r\nHost: a\r\n"
				     "Content-Length: 1000000\r\n\r\n0123456789";
	struct e2e_client *up = calloc(TRICKLERS, sizeof(*up));
	struct e2e_client c;
	struct e2e_response r;
	struct e2e_proc be, sp;
	int mport = e2e_free_port();
	char target[64], head[160];
	char *body = malloc(PIPE_BODY);
	long long spliced0;
	int n;

	ck_assert(up && body);
	memset(body, 'x', PIPE_BODY);
	snprintf(target, sizeof(target), "/?len=%u", PIPE_BODY);
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nTimeout 30\n"
			   "RequestReadTimeout body=3\nProxyPass / http://127.0.0.1:%d/\n",
			   mport, be.port);
	for (unsigned i = 0; i < TRICKLERS; i++) {
		ck_assert_int_eq(e2e_client_try_open(&up[i], sp.port), 0);
		up[i].timeout_ms = 15000;
		ck_assert_int_eq(e2e_send(&up[i], upload, sizeof(upload) - 1), 0);
	}
	e2e_sleep_ms(200);   /* each upload's body begun, its 10 bytes passed on */
	spliced0 = e2e_metric(mport, "spliced_bytes_total{how=\"spliced\"}");
	ck_assert_int_eq(get_once(sp.port, target, PIPE_BODY), 200);
	ck_assert_int_ge(e2e_metric(mport, "spliced_bytes_total{how=\"spliced\"}") - spliced0,
			 PIPE_BODY / 2);
	/* a fast upload of 1 MiB: spliced too */
	spliced0 = e2e_metric(mport, "spliced_bytes_total{how=\"spliced\"}");
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 10000;
	n = snprintf(head, sizeof(head), "POST /?len=10 HTTP/1.1\r\nHost: a\r\nContent-Length: "
		     "%u\r\n\r\n", PIPE_BODY);
	ck_assert_int_eq(e2e_send(&c, head, (size_t)n), 0);
	ck_assert_int_eq(e2e_send(&c, body, PIPE_BODY), 0);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_gt(e2e_metric(mport, "spliced_bytes_total{how=\"spliced\"}"), spliced0);
	ck_assert_int_eq(e2e_metric(mport, "spliced_resource_errors_total{resource=\"pipe_pool\"}"),
			 0);
	/* the trickles go on, copied, until RequestReadTimeout body= cuts them */
	for (unsigned i = 0; i < TRICKLERS; i++)
		ck_assert_int_eq(e2e_send(&up[i], "abcdefghij", 10), 0);
	expect_408_closed(up, TRICKLERS, "upload");
	ck_assert_int_eq(e2e_metric(mport, "spliced_resource_errors_total{resource=\"pipe_pool\"}"),
			 0);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
	free(body);
	free(up);
}
END_TEST

/* ---- memory pressure: tests/failmalloc.c (LD_PRELOAD) ---------------------------------- */

/* One request on connection c: its status, or 0 when the connection closed (EOF or a
 * reset) without an answer; c is closed unless the answer keeps it open. */
static int ask(struct e2e_client *c, const char *target)
{
	struct e2e_response r;
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
	int status;

	c->timeout_ms = 10000;
	if (e2e_send(c, req, (size_t)n) < 0)
		return 0;
	if (e2e_read_response(c, &r, false) < 0) {
		ck_assert_msg(e2e_wait_closed(c, 10000) > E2E_OPEN, "%s: no answer and no close\n%s",
			      target, e2e_diag());
		return 0;
	}
	status = r.status;
	e2e_response_free(&r);
	if (status == 503)   /* and the connection closes: nothing half-done is kept */
		ck_assert_msg(e2e_wait_closed(c, 10000) > E2E_OPEN, "%s: 503 without a close",
			      target);
	return status;
}

/* ask() on a new connection (closed here). */
static int ask_new(int port, const char *target)
{
	struct e2e_client c;
	int status;

	ck_assert_int_eq(e2e_client_try_open(&c, port), 0);
	status = ask(&c, target);
	e2e_client_close(&c);
	return status;
}

/* The shim next to this test binary (build/tests/libfailmalloc.so). */
static void failmalloc_path(char *out, size_t len)
{
	char self[400];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	ck_assert_int_gt(n, 0);
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(out, len, "%s/libfailmalloc.so", self);
	ck_assert_msg(access(out, R_OK) == 0, "%s is missing: make %s", out, out);
}

/* SPLICED_BIN pointed at a script that runs the real one (its path in real) with the
 * shim preloaded, failing while the file fpath exists; set back by the caller once
 * spliced is started. */
static void failmalloc_spliced(const char *fpath, char *real, size_t len)
{
	char so[512], script[2048];
	const char *wrap;

	failmalloc_path(so, sizeof(so));
	snprintf(real, len, "%s", e2e_env_bin("SPLICED_BIN"));
	/* under ASan the shim sits on ASan's allocator, which must not insist on coming first */
	snprintf(script, sizeof(script), "#!/bin/sh\nexport LD_PRELOAD='%s' FAILMALLOC_FILE='%s'"
		 "\nexport ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0\""
		 "\nexec '%s' \"$@\"\n", so, fpath, real);
	wrap = e2e_write_temp("spliced-failmalloc", script);
	ck_assert_int_eq(chmod(wrap, 0755), 0);
	setenv("SPLICED_BIN", wrap, 1);
}

/* The control file of the shim created (the heap refuses) or removed. */
static void failmalloc_set(const char *fpath, bool on)
{
	if (on)
		ck_assert_int_eq(close(open(fpath, O_WRONLY | O_CREAT, 0644)), 0);
	else
		ck_assert_int_eq(unlink(fpath), 0);
	e2e_sleep_ms(50);   /* the shim looks at most every 10 ms */
}

/* The serving process is still pid0 (no crash hidden by a restart); spliced then stops
 * cleanly, and the backend. */
static void same_process_then_stop(struct e2e_proc *sp, struct e2e_proc *be, pid_t pid0)
{
	int st;

	ck_assert_int_eq(pid0, serving(sp));
	st = e2e_spliced_stop(sp);
	ck_assert_msg(st == 0, "spliced stopped with %d\n%s", st, e2e_diag());
	e2e_backend_stop(be);
}

/* ---- the head buffer pool under a commit limit ---------------------------------------- */

/* RLIMIT_DATA stands for strict overcommit accounting (vm.overcommit_memory=2, a setting
 * of the whole machine, which a test must not change): mmap() and mprotect() check it on
 * the same private writable memory the commit limit charges, and fail with the same
 * ENOMEM. AddressSanitizer's shadow memory is such memory, terabytes of it: under ASan
 * these cases say so and skip. */
#ifdef __SANITIZE_ADDRESS__
static const bool under_asan = true;
#else
static const bool under_asan = false;
#endif

/* The VmData of pid (private writable memory, what RLIMIT_DATA counts), in bytes. */
static unsigned long long vm_data(pid_t pid)
{
	char path[64], *text, *v;
	unsigned long long kb = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = e2e_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	v = strstr(text, "\nVmData:");
	ck_assert(v && sscanf(v, "\nVmData: %llu kB", &kb) == 1);
	free(text);
	return kb * 1024;
}

#define BIG_MAXCONN 20000

/* MaxConnections 20,000 on one worker reserves 20,128 head buffers of 100 KiB, about
 * 2 GiB: with a 1 GiB limit on writable memory spliced still starts and serves, since only
 * the chunks of the pool that requests grew into are committed (the reservation used to
 * be mapped writable whole: the worker could not start). */
START_TEST(test_commit_limit_start)
{
	struct e2e_proc be, sp;
	int mport = e2e_free_port();
	char real[512], script[700];
	const char *wrap;
	pid_t pid0;

	if (under_asan) {
		fprintf(stderr, "SKIP commit_limit_start: RLIMIT_DATA cannot apply to a process "
			"under AddressSanitizer (its shadow memory counts)\n");
		return;
	}
	snprintf(real, sizeof(real), "%s", e2e_env_bin("SPLICED_BIN"));
	snprintf(script, sizeof(script), "#!/bin/sh\nulimit -d 1048576 || exit 1\n"
		 "exec '%s' \"$@\"\n", real);
	wrap = e2e_write_temp("spliced-lowdata", script);
	ck_assert_int_eq(chmod(wrap, 0755), 0);
	e2e_backend_start(&be, NULL);
	setenv("SPLICED_BIN", wrap, 1);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nWorkers 1\nMaxConnections %d\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", mport, BIG_MAXCONN, be.port);
	setenv("SPLICED_BIN", real, 1);
	pid0 = serving(&sp);
	ck_assert_int_eq(get_once(sp.port, "/?len=100000", 100000), 200);
	ck_assert_uint_lt(vm_data(pid0), 1ull << 30);
	ck_assert_int_eq(e2e_metric(mport, "spliced_resource_errors_total{resource=\"memory\"}"),
			 0);
	same_process_then_stop(&sp, &be, pid0);
}
END_TEST

#define HELD 200

/* The pool cannot grow (the serving process's RLIMIT_DATA lowered below what it uses):
 * connections whose first bytes find the committed slots all lent (128 are armed in the
 * ring at start, 64 more committed at a time) are closed without an answer and counted
 * as memory, the others keep
 * their slots; with the limit back every held request is answered, a new connection is
 * served (the pool grows), and the serving process never changed. */
START_TEST(test_commit_refused_recovers)
{
	static struct e2e_client c[HELD];
	static const char part[] = "GET /?len=5 HTTP/1.1\r\nHost: a\r\n";
	struct e2e_proc be, sp;
	struct e2e_response r;
	int mport = e2e_free_port();
	unsigned closed = 0, held = 0;
	pid_t pid0;

	if (under_asan) {
		fprintf(stderr, "SKIP commit_refused_recovers: RLIMIT_DATA cannot apply to a "
			"process under AddressSanitizer (its allocator would be refused too)\n");
		return;
	}
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nWorkers 1\nMaxConnections 1000\n"
			   "RequestReadTimeout header=30\nProxyPass / http://127.0.0.1:%d/\n",
			   mport, be.port);
	pid0 = serving(&sp);
	ck_assert_int_eq(get_once(sp.port, "/?len=5", 5), 200);
	/* a page: below what it uses, so no growth at all (0 would be valgrind's: ignored) */
	set_soft_rlimit(&sp, RLIMIT_DATA, (rlim_t)sysconf(_SC_PAGESIZE));
	for (unsigned i = 0; i < HELD; i++) {
		ck_assert_int_eq(e2e_client_try_open(&c[i], sp.port), 0);
		ck_assert_int_eq(e2e_send(&c[i], part, sizeof(part) - 1), 0);
	}
	ck_assert_msg(e2e_log_wait_for(&sp, "(memory, ", 10000), "%s", e2e_diag());
	for (unsigned i = 0; i < HELD; i++) {
		int st = e2e_wait_closed(&c[i], 50);

		ck_assert_msg(st != E2E_GOT_DATA, "connection %u got bytes", i);
		if (st == E2E_OPEN)
			continue;
		closed++;
		e2e_client_close(&c[i]);
		c[i].fd = -1;
	}
	set_soft_rlimit(&sp, RLIMIT_DATA, RLIM_INFINITY);
	/* the others held a slot: answered now (one whose refusal came after the look above
	 * is closed without a byte, as the ones before) */
	for (unsigned i = 0; i < HELD; i++) {
		if (c[i].fd < 0)
			continue;
		if (e2e_send(&c[i], "\r\n", 2) == 0 && e2e_read_response(&c[i], &r, false) == 0) {
			ck_status(&r, 200);
			e2e_response_free(&r);
			held++;
		} else {
			ck_assert_msg(c[i].end == c[i].start, "held %u got part of an answer", i);
			closed++;
		}
		e2e_client_close(&c[i]);
	}
	ck_assert_msg(closed >= 1, "no connection was refused\n%s", e2e_diag());
	ck_assert_uint_eq(held + closed, HELD);
	fprintf(stderr, "commit_refused_recovers: %u held, %u refused\n", held, closed);
	ck_assert_int_eq(get_once(sp.port, "/?len=5", 5), 200);
	ck_assert_int_ge(e2e_metric(mport, "spliced_resource_errors_total{resource=\"memory\"}"),
			 closed);
	same_process_then_stop(&sp, &be, pid0);
}
END_TEST

/* Every allocation of the serving process's worker threads refused while a file exists
 * (tests/failmalloc.c; only worker threads, so the outcome of each request is the code's,
 * not chance's): each kind of request gets its 503 or a clean close, or, when its path
 * allocates nothing, its answer; the serving process is the same one throughout (the
 * supervisor restarting it would hide a crash); the refusals are counted and logged; the
 * file removed, everything is served again on new and old connections. */
START_TEST(test_memory_pressure)
{
	const char *page = e2e_write_temp("mem.txt", "hello\n");
	const char *cold = e2e_write_temp("cold.txt", "cold\n");
	const char *flag = e2e_write_temp("failmalloc.on", "");
	struct e2e_client ka, mk;
	struct e2e_proc be, sp;
	int mport = e2e_free_port();
	char real[512], root[512], fpath[512];
	pid_t pid0;

	ck_assert_int_eq(chmod(page, 0644), 0);
	ck_assert_int_eq(chmod(cold, 0644), 0);
	snprintf(fpath, sizeof(fpath), "%s", flag);
	ck_assert_int_eq(unlink(fpath), 0);
	snprintf(root, sizeof(root), "%s", page);
	*strrchr(root, '/') = 0;
	e2e_backend_start(&be, NULL);
	failmalloc_spliced(fpath, real, sizeof(real));
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nDocumentRoot \"%s\"\n"
			   "ProxyPass /p/ http://127.0.0.1:%d/\n", mport, root, be.port);
	setenv("SPLICED_BIN", real, 1);
	pid0 = serving(&sp);
	/* a keep-alive client and one of the metrics port, each served once before */
	e2e_client_open(&ka, sp.port);
	ck_assert_int_eq(ask(&ka, "/p/?len=10"), 200);
	ck_assert_int_eq(ask_new(sp.port, "/mem.txt"), 200);

	/* the heap refuses */
	failmalloc_set(fpath, true);
	ck_assert_int_eq(ask_new(mport, "/metrics"), 503);
	ck_assert_int_eq(ask_new(mport, "/health"), 503);
	ck_assert_int_eq(ask_new(sp.port, "/cold.txt"), 503);        /* a cache entry */
	/* what needs nothing but the worker's pools is served */
	ck_assert_int_eq(ask_new(sp.port, "/p/?len=100000"), 200);
	ck_assert_int_eq(ask(&ka, "/p/?len=10"), 200);
	ck_assert_int_eq(ask_new(sp.port, "/mem.txt"), 200);         /* cached before */
	e2e_client_open(&mk, mport);   /* an idle connection, its request after the pressure */
	ck_assert_int_eq(pid0, serving(&sp));
	ck_assert_msg(e2e_log_wait_for(&sp, "(memory, ", 5000), "%s", e2e_diag());

	/* the heap is back: everything served, nothing restarted */
	failmalloc_set(fpath, false);
	ck_assert_int_eq(ask(&mk, "/metrics"), 200);
	e2e_client_close(&mk);
	ck_assert_int_eq(ask_new(mport, "/health"), 200);
	ck_assert_int_eq(ask_new(sp.port, "/cold.txt"), 200);
	ck_assert_int_eq(ask(&ka, "/p/?len=10"), 200);
	e2e_client_close(&ka);
	ck_assert_int_ge(e2e_metric(mport, "spliced_resource_errors_total{resource=\"memory\"}"), 3);
	ck_assert_int_eq(pid0, serving(&sp));

	/* Header rules need a buffer for each exchange: with them, a proxied request is a 503
	 * under pressure (a reload adds them, the heap there to start its workers) */
	e2e_conf_append(&sp, "Header set X-Edited yes\n");
	ck_assert(e2e_reload(&sp, 2));
	pid0 = serving(&sp);
	failmalloc_set(fpath, true);
	ck_assert_int_eq(ask_new(sp.port, "/p/?len=10"), 503);
	failmalloc_set(fpath, false);
	ck_assert_int_eq(ask_new(sp.port, "/p/?len=10"), 200);
	ck_assert(e2e_log_wait_for(&sp, "out of memory for the Header rules", 5000));
	same_process_then_stop(&sp, &be, pid0);
}
END_TEST

/* One GET target over a new TLS connection to port (every call bounded by socket
 * timeouts): the status, or 0 when the handshake failed or the connection closed
 * without an answer. */
static int tls_get(int port, const char *target)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 10 };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char req[256], resp[4096];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a.test\r\nConnection: "
			 "close\r\n\r\n", target);
	int got = 0, status = 0, k;
	SSL *ssl;

	ck_assert(ctx && fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ssl = SSL_new(ctx);
	ck_assert_ptr_nonnull(ssl);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "a.test");
	if (SSL_connect(ssl) == 1 && SSL_write(ssl, req, n) == n) {
		while (got < (int)sizeof(resp) - 1 &&
		       (k = SSL_read(ssl, resp + got, (int)sizeof(resp) - 1 - got)) > 0)
			got += k;
		resp[got] = 0;
		if (sscanf(resp, "HTTP/1.1 %d ", &status) != 1)
			status = 0;
	}
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return status;
}

/* The same pressure on a TLS port: a new TLS connection fails its handshake (a close,
 * counted as memory), the serving process unchanged; served again once it passes. */
START_TEST(test_memory_pressure_tls)
{
	const char *flag = e2e_write_temp("failmalloc.on", "");
	const char *d = e2e_temp_dir();
	struct e2e_proc be, sp;
	int mport = e2e_free_port(), tport = e2e_free_port();
	char real[512], fpath[512], crt[512], key[512], *out = NULL;
	pid_t pid0;
	int rc;

	snprintf(fpath, sizeof(fpath), "%s", flag);
	ck_assert_int_eq(unlink(fpath), 0);
	snprintf(crt, sizeof(crt), "%s/a.test.crt", d);
	snprintf(key, sizeof(key), "%s/a.test.key", d);
	{
		const char *argv[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
				       "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
				       key, "-out", crt, "-days", "2", "-subj", "/CN=a.test", NULL };

		rc = e2e_run(argv, &out);
	}
	ck_assert_msg(rc == 0, "openssl req: %s", out);
	free(out);
	e2e_backend_start(&be, NULL);
	failmalloc_spliced(fpath, real, sizeof(real));
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\nListen 127.0.0.1:%d https\n"
			   "ProxyPass / http://127.0.0.1:%d/\n<VirtualHost *:%d>\n"
			   "  ServerName a.test\n  SSLEngine on\n  SSLCertificateFile %s\n"
			   "  SSLCertificateKeyFile %s\n</VirtualHost>\n", mport, tport, be.port,
			   tport, crt, key);
	setenv("SPLICED_BIN", real, 1);
	pid0 = serving(&sp);
	ck_assert_int_eq(tls_get(tport, "/?len=10"), 200);
	failmalloc_set(fpath, true);
	ck_assert_int_eq(tls_get(tport, "/?len=10"), 0);
	ck_assert_int_eq(get_once(sp.port, "/?len=10", 10), 200);   /* plain HTTP needs none */
	ck_assert_int_eq(pid0, serving(&sp));
	failmalloc_set(fpath, false);
	ck_assert_int_eq(tls_get(tport, "/?len=10"), 200);
	ck_assert_int_ge(e2e_metric(mport, "spliced_resource_errors_total{resource=\"memory\"}"), 1);
	ck_assert(e2e_log_wait_for(&sp, "a TLS session: Cannot allocate memory (memory", 5000));
	same_process_then_stop(&sp, &be, pid0);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "abusers_closed_by_their_timeouts", test_abusers_closed_by_their_timeouts, 0 },
		{ "max_connections_refuses_cleanly", test_max_connections_refuses_cleanly, 0 },
		{ "emfile_on_accept", test_emfile_on_accept, 0 },
		{ "emfile_on_connect", test_emfile_on_connect, 0 },
		{ "emfile_on_file_open", test_emfile_on_file_open, 0 },
		{ "pipe_refused_body_copied", test_pipe_refused_body_copied, 0 },
		{ "pipe_pool_in_use_body_copied", test_pipe_pool_in_use_body_copied, 0 },
		{ "slow_uploads_hold_no_pipe", test_slow_uploads_hold_no_pipe, 0 },
		{ "memory_pressure", test_memory_pressure, 0 },
		{ "memory_pressure_tls", test_memory_pressure_tls, 0 },
		{ "commit_limit_start", test_commit_limit_start, 0 },
		{ "commit_refused_recovers", test_commit_refused_recovers, 0 },
	};
	Suite *s = suite_create("e2e_abuse");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
