/* End-to-end suite for the per-backend ProxyPass parameters (timeout=, connectiontimeout=,
 * ttl=, disablereuse=, keepalive=, max=, acquire=, retry=) and ProxyTimeout: the real
 * spliced binary in front of real tools/testbackend processes on 127.0.0.1 ports chosen at
 * run time.
 *
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets both). Timeouts
 * are upper bounds against hangs; a test may check that something happened after a bound,
 * never that it was fast. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

/* ---- helpers ------------------------------------------------------------------------ */

static void stop_spliced_ok(struct e2e_proc *sp)
{
	int code = e2e_spliced_stop(sp);

	if (code != 0) {
		char *rep = e2e_spliced_report(sp);

		ck_abort_msg("spliced exited with %d after SIGTERM (expected 0)\n%s", code, rep);
	}
}

/* "GET target HTTP/1.1", one response, failing the test on any error. */
static void get(struct e2e_client *c, const char *target, struct e2e_response *r)
{
	char req[4096];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a.example\r\n\r\n", target);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; response head:\n%s", \
		      (want), (r)->status, e2e_escs((r)->head))

static void ck_log_mentions(const struct e2e_proc *sp, const char *needle, const char *what)
{
	if (!e2e_log_wait_for(sp, needle, 5000)) {
		char *log = e2e_spliced_log(sp);

		ck_abort_msg("%s: the error log has no line mentioning \"%s\"; it has:\n%s", what,
			     needle, log);
	}
}

/* One GET on a new client connection: the status, and X-Conn-Id copied to id. */
static int get_once(int port, const char *target, char *id, size_t idlen)
{
	struct e2e_client c;
	struct e2e_response r;
	const char *v;
	int status;

	e2e_client_open(&c, port);
	get(&c, target, &r);
	status = r.status;
	v = e2e_header(&r, "X-Conn-Id");
	if (id)
		snprintf(id, idlen, "%s", v ? v : "");
	e2e_response_free(&r);
	e2e_client_close(&c);
	return status;
}

/* The testbackend's GET /stats, asked directly: the value of " key=" (or "key=" first). */
static unsigned long long backend_stat(const struct e2e_proc *be, const char *key)
{
	struct e2e_client c;
	struct e2e_response r;
	char needle[64];
	const char *p;
	unsigned long long v = 0;

	e2e_client_open(&c, be->port);
	get(&c, "/stats", &r);
	ck_status(&r, 200);
	snprintf(needle, sizeof(needle), "%s=", key);
	p = strstr((const char *)r.body, needle);
	ck_assert_msg(p != NULL, "no %s in the backend's /stats: %s", key, r.body);
	v = strtoull(p + strlen(needle), NULL, 10);
	e2e_response_free(&r);
	e2e_client_close(&c);
	return v;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- timeouts ----------------------------------------------------------------------- */

/* timeout= is the backend's: a slow answer from it is a 504, while another backend
 * answering as slowly keeps the global Timeout and gets through. */
START_TEST(test_timeout_per_backend)
{
	struct e2e_proc a, b, sp;
	struct e2e_client c;
	struct e2e_response r;
	char needle[64];

	e2e_backend_start(&a, NULL);
	e2e_backend_start(&b, NULL);
	e2e_spliced_startf(&sp, "Timeout 20\n"
			   "ProxyPass /a/ http://127.0.0.1:%d/ timeout=1\n"
			   "ProxyPass /b/ http://127.0.0.1:%d/\n", a.port, b.port);
	e2e_client_open(&c, sp.port);
	get(&c, "/b/?delay=2500", &r);
	ck_status(&r, 200);
	e2e_response_free(&r);
	get(&c, "/a/?delay=2500", &r);
	ck_status(&r, 504);
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "127.0.0.1:%d timed out", a.port);
	ck_log_mentions(&sp, needle, "504 after timeout=1");
	stop_spliced_ok(&sp);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST

/* ProxyTimeout is the backends' wait; Timeout stays the clients'. */
START_TEST(test_proxy_timeout)
{
	static const char part[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 1";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "Timeout 1\nProxyTimeout 20\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get(&c, "/?delay=2500", &r);
	ck_status(&r, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	/* a client that stops halfway through its head still has Timeout 1 */
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	ck_assert_int_eq(e2e_send(&c, part, sizeof(part) - 1), 0);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 408);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* A loopback listener that never accepts: backlog 0, and its accept queue filled by
 * connections nobody accepts, so the kernel drops further SYNs and a connect hangs.
 * Returns the port, or 0 (with why) when this kernel completes the connect anyway. */
static int blackhole_port(int fds[8], char *why, size_t whylen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	struct pollfd pfd;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	fds[0] = lfd;
	for (int i = 1; i < 7; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fds[i], 0);
		(void)connect(fds[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	e2e_sleep_ms(200);
	/* the probe: does one more connect complete? */
	fds[7] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fds[7], 0);
	(void)connect(fds[7], (struct sockaddr *)&sin, sizeof(sin));
	pfd = (struct pollfd){ .fd = fds[7], .events = POLLOUT };
	if (poll(&pfd, 1, 500) != 0) {
		snprintf(why, whylen, "a connect to a listener with a full backlog completed or "
			 "failed (revents 0x%x): no loopback way to make a connect hang here",
			 pfd.revents);
		return 0;
	}
	return ntohs(sin.sin_port);
}

/* connectiontimeout= bounds the connect alone: a backend that never accepts is a 504
 * after it, while Timeout (and timeout=) are far longer than the test may run. */
START_TEST(test_connectiontimeout)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char why[256], needle[64];
	int fds[8], port;
	long long t0;

	port = blackhole_port(fds, why, sizeof(why));
	if (!port) {
		fprintf(stderr, "SKIP connectiontimeout: %s\n", why);
		return;
	}
	e2e_spliced_startf(&sp, "Timeout 600\n"
			   "ProxyPass / http://127.0.0.1:%d/ connectiontimeout=1 timeout=600\n", port);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 60000;
	t0 = mono_ms();
	get(&c, "/", &r);
	ck_status(&r, 504);
	ck_assert_msg(mono_ms() - t0 >= 900, "504 before connectiontimeout=1 had passed");
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "127.0.0.1:%d timed out (connecting)", port);
	ck_log_mentions(&sp, needle, "504 after connectiontimeout=1");
	stop_spliced_ok(&sp);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
}
END_TEST

/* ---- the pool ----------------------------------------------------------------------- */

/* ttl=1: a pooled connection idle for more than a second is not used again (a new one is
 * made); a backend without ttl= keeps its connection (default 15 s). */
START_TEST(test_ttl)
{
	struct e2e_proc a, b, sp;
	char a1[32], a2[32], b1[32], b2[32];

	e2e_backend_start(&a, NULL);
	e2e_backend_start(&b, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /a/ http://127.0.0.1:%d/ ttl=1\n"
			   "ProxyPass /b/ http://127.0.0.1:%d/\n", a.port, b.port);
	ck_assert_int_eq(get_once(sp.port, "/a/?len=1", a1, sizeof(a1)), 200);
	ck_assert_int_eq(get_once(sp.port, "/b/?len=1", b1, sizeof(b1)), 200);
	e2e_sleep_ms(2500);
	ck_assert_int_eq(get_once(sp.port, "/a/?len=1", a2, sizeof(a2)), 200);
	ck_assert_int_eq(get_once(sp.port, "/b/?len=1", b2, sizeof(b2)), 200);
	ck_assert_msg(strcmp(a1, a2) != 0, "ttl=1: the connection idle for 2.5 s was used again "
		      "(X-Conn-Id %s both times)", a1);
	ck_assert_msg(strcmp(b1, b2) == 0, "without ttl=, the connection idle for 2.5 s was not "
		      "used again (X-Conn-Id %s, then %s)", b1, b2);
	/* + the /stats connection itself */
	ck_assert_uint_eq(backend_stat(&a, "conns"), 2 + 1);
	ck_assert_uint_eq(backend_stat(&b, "conns"), 1 + 1);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST

/* disablereuse=On: a new backend connection for every request, even on one client
 * connection, and none stays open after its response. */
START_TEST(test_disablereuse)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char seen[5][32];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/ disablereuse=On\n", be.port);
	e2e_client_open(&c, sp.port);
	for (int i = 0; i < 5; i++) {
		const char *id;

		get(&c, "/?len=1", &r);
		ck_status(&r, 200);
		id = e2e_header(&r, "X-Conn-Id");
		ck_assert_ptr_nonnull(id);
		snprintf(seen[i], sizeof(seen[i]), "%s", id);
		for (int k = 0; k < i; k++)
			ck_assert_msg(strcmp(seen[k], seen[i]) != 0, "disablereuse=On: request %d "
				      "used backend connection %s again", i + 1, seen[i]);
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	ck_assert_uint_eq(backend_stat(&be, "conns"), 5 + 1); /* + the /stats connection */
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* The TCP timer of spliced's connection to port (rem_address in /proc/net/tcp), idle
 * and established: 2 is the keepalive timer, 0 none. -1 when not found. */
static int tcp_timer_to(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	int timer = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned rport, st, tr;

		if (sscanf(line, " %*u: %*x:%*x %*x:%x %x %*x:%*x %x:", &rport, &st, &tr) == 3 &&
		    (int)rport == port && st == 1)
			timer = (int)tr;
	}
	fclose(f);
	return timer;
}

/* keepalive=On: SO_KEEPALIVE on the backend socket (the kernel arms its keepalive timer
 * on the idle pooled connection); without it, no timer. */
START_TEST(test_keepalive)
{
	struct e2e_proc a, b, sp;

	e2e_backend_start(&a, NULL);
	e2e_backend_start(&b, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /a/ http://127.0.0.1:%d/ keepalive=On\n"
			   "ProxyPass /b/ http://127.0.0.1:%d/ keepalive=Off\n", a.port, b.port);
	ck_assert_int_eq(get_once(sp.port, "/a/?len=1", NULL, 0), 200);
	ck_assert_int_eq(get_once(sp.port, "/b/?len=1", NULL, 0), 200);
	ck_assert_int_eq(tcp_timer_to(a.port), 2);
	ck_assert_int_eq(tcp_timer_to(b.port), 0);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST


/* ---- max= and acquire= -------------------------------------------------------------- */

#define BURST 500

/* BURST clients at once, each one GET on its own connection, all sent before any response
 * is read; returns how many got 200 (the others' statuses in the message). */
static int burst(int port, const char *target)
{
	static struct e2e_client c[BURST];
	char req[256], bad[1200] = "";
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
	int ok = 0;

	for (int i = 0; i < BURST; i++) {
		e2e_client_open(&c[i], port);
		c[i].timeout_ms = 60000;
	}
	for (int i = 0; i < BURST; i++)
		ck_assert_int_eq(e2e_send(&c[i], req, (size_t)n), 0);
	for (int i = 0; i < BURST; i++) {
		struct e2e_response r;

		if (e2e_read_response(&c[i], &r, false) != 0) {
			snprintf(bad, sizeof(bad), "client %d: %s", i, r.err);
			e2e_client_close(&c[i]);
			continue;
		}
		if (r.status == 200)
			ok++;
		else
			snprintf(bad, sizeof(bad), "client %d: status %d", i, r.status);
		e2e_response_free(&r);
		e2e_client_close(&c[i]);
	}
	ck_assert_msg(ok == BURST, "%d of %d requests got 200; last failure: %s %s", ok, BURST,
		      bad, e2e_diag());
	return ok;
}

/* The acceptance: a backend that can work on 10 requests at once, behind max=10,
 * answers a burst of 500 concurrent clients with no error, and never works on more than
 * 10 at once. With one worker no connection is ever closed, so the backend's own count of
 * open connections is exact too. */
static void max_burst(const char *workers)
{
	struct e2e_proc be, sp;
	unsigned long long maxbusy, maxopen;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "%sProxyPass / http://127.0.0.1:%d/ max=10\n", workers, be.port);
	burst(sp.port, "/?delay=20&len=100");
	maxbusy = backend_stat(&be, "maxbusy");
	maxopen = backend_stat(&be, "maxopen");
	fprintf(stderr, "max=10, %.9s: the backend saw at most %llu requests and %llu connections "
		"at once\n", workers, maxbusy, maxopen);
	ck_assert_msg(maxbusy >= 1 && maxbusy <= 10, "max=10: the backend worked on %llu requests "
		      "at once", maxbusy);
	/* + 1: the /stats connection asking; + 1 more: the backend counts a connection closed
	 * only when its thread sees the end, which on a loaded machine may come after the
	 * connection that replaces it was accepted (seen once in many runs) */
	if (strstr(workers, "Workers 1"))
		ck_assert_msg(maxopen <= 10 + 2, "max=10, one worker: the backend saw %llu "
			      "connections at once", maxopen - 1);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}

START_TEST(test_max_burst_one_worker)
{
	max_burst("Workers 1\n");
}
END_TEST

START_TEST(test_max_burst_two_workers)
{
	max_burst("Workers 2\n");
}
END_TEST

/* max=1 acquire=300: while the one connection is busy for 3 s, a second request waits
 * 300 ms for it and gets 503 with Retry-After; the metric counts it. A request to another
 * backend does not wait. */
START_TEST(test_max_acquire_503)
{
	struct e2e_proc be, other, sp;
	struct e2e_client slow, c;
	struct e2e_response r;
	int mport = e2e_free_port();
	long long t0;
	char line[256];

	e2e_backend_start(&be, NULL);
	e2e_backend_start(&other, NULL);
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\n"
			   "ProxyPass /a/ http://127.0.0.1:%d/ max=1 acquire=300\n"
			   "ProxyPass /b/ http://127.0.0.1:%d/\n", mport, be.port, other.port);
	e2e_client_open(&slow, sp.port);
	slow.timeout_ms = 20000;
	ck_assert_int_eq(e2e_send_str(&slow, "GET /a/?delay=3000 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	/* until the backend works on it */
	for (int i = 0; i < 200 && backend_stat(&be, "busy") == 0; i++)
		e2e_sleep_ms(10);
	e2e_client_open(&c, sp.port);
	t0 = mono_ms();
	get(&c, "/a/?len=1", &r);
	ck_status(&r, 503);
	ck_assert_msg(mono_ms() - t0 >= 250, "503 before acquire=300 had passed");
	ck_assert_msg(e2e_header(&r, "Retry-After") != NULL, "no Retry-After in:\n%s",
		      e2e_escs(r.head));
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(get_once(sp.port, "/b/?len=1", NULL, 0), 200);
	ck_assert_int_eq(e2e_read_response(&slow, &r, false), 0);
	ck_status(&r, 200);
	e2e_response_free(&r);
	e2e_client_close(&slow);
	/* with the connection back, the next request goes */
	ck_assert_int_eq(get_once(sp.port, "/a/?len=1", NULL, 0), 200);
	ck_assert_uint_eq(backend_stat(&be, "maxopen"), 1 + 1); /* + /stats */
	e2e_client_open(&c, mport);
	get(&c, "/metrics", &r);
	ck_status(&r, 200);
	snprintf(line, sizeof(line), "spliced_backend_waits_total{backend=\"http://127.0.0.1:%d\","
		 "outcome=\"503\"} 1\n", be.port);
	ck_assert_msg(strstr((const char *)r.body, line) != NULL, "no \"%s\" in:\n%s", line,
		      r.body);
	snprintf(line, sizeof(line), "spliced_backend_waits_total{backend=\"http://127.0.0.1:%d\"",
		 other.port);
	ck_assert_msg(strstr((const char *)r.body, line) == NULL, "a backend without max= has "
		      "a wait metric:\n%s", r.body);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
	e2e_backend_stop(&other);
}
END_TEST

/* max=1: a waiting request goes as soon as the connection is given back (it does not
 * wait for acquire= to run out: acquire is far longer than the test may run), on that
 * same connection. */
START_TEST(test_max_waiter_goes)
{
	struct e2e_proc be, sp;
	struct e2e_client slow, c;
	struct e2e_response r;
	const char *id1;
	char first[32];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/ max=1 acquire=600s\n", be.port);
	e2e_client_open(&slow, sp.port);
	slow.timeout_ms = 20000;
	ck_assert_int_eq(e2e_send_str(&slow, "GET /?delay=1000 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	for (int i = 0; i < 200 && backend_stat(&be, "busy") == 0; i++)
		e2e_sleep_ms(10);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 30000;
	ck_assert_int_eq(e2e_send_str(&c, "GET /?len=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	ck_assert_int_eq(e2e_read_response(&slow, &r, false), 0);
	ck_status(&r, 200);
	id1 = e2e_header(&r, "X-Conn-Id");
	snprintf(first, sizeof(first), "%s", id1 ? id1 : "?");
	e2e_response_free(&r);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 200);
	ck_assert_str_eq(e2e_header(&r, "X-Conn-Id"), first);
	e2e_response_free(&r);
	e2e_client_close(&c);
	e2e_client_close(&slow);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- retry= ------------------------------------------------------------------------- */

/* retry=4: after a refused connect the backend is not tried for 4 s (503 with Retry-After,
 * even though it listens by then), then it is; retry=0 (the default) tries every time. */
START_TEST(test_retry)
{
	struct e2e_proc a, b, sp;
	struct e2e_client c;
	struct e2e_response r;
	char args[64], needle[96];
	int pa = e2e_free_port(), pb = e2e_free_port();
	long long t0;
	const char *ra;

	e2e_spliced_startf(&sp, "Workers 1\n"
			   "ProxyPass /a/ http://127.0.0.1:%d/ retry=4\n"
			   "ProxyPass /b/ http://127.0.0.1:%d/ retry=0\n", pa, pb);
	t0 = mono_ms();
	ck_assert_int_eq(get_once(sp.port, "/a/", NULL, 0), 502);
	ck_assert_int_eq(get_once(sp.port, "/b/", NULL, 0), 502);
	snprintf(args, sizeof(args), "-p %d", pa);
	e2e_backend_start(&a, args);
	snprintf(args, sizeof(args), "-p %d", pb);
	e2e_backend_start(&b, args);
	ck_assert_int_eq(get_once(sp.port, "/b/?len=1", NULL, 0), 200);
	if (mono_ms() - t0 < 3000) {    /* still well inside retry=4 */
		e2e_client_open(&c, sp.port);
		get(&c, "/a/?len=1", &r);
		ck_status(&r, 503);
		ra = e2e_header(&r, "Retry-After");
		ck_assert_msg(ra && atoi(ra) >= 1 && atoi(ra) <= 4, "Retry-After %s, expected 1..4",
			      ra ? ra : "(absent)");
		e2e_response_free(&r);
		e2e_client_close(&c);
		ck_assert_uint_eq(backend_stat(&a, "conns"), 1); /* the /stats one: no connect */
		snprintf(needle, sizeof(needle), "127.0.0.1:%d: a connect failed less than retry=4 s "
			 "ago", pa);
		ck_log_mentions(&sp, needle, "503 inside retry=4");
	} else {
		ck_abort_msg("the backends took %lld ms to start: the 503 inside retry=4 could "
			     "not be checked", mono_ms() - t0);
	}
	while (mono_ms() - t0 < 4300)
		e2e_sleep_ms(50);
	ck_assert_int_eq(get_once(sp.port, "/a/?len=1", NULL, 0), 200);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST

static Suite *e2e_backend_suite(void)
{
	const struct ck_case cases[] = {
		{ "timeout_per_backend", test_timeout_per_backend, 60 },
		{ "proxy_timeout", test_proxy_timeout, 60 },
		{ "connectiontimeout", test_connectiontimeout, 60 },
		{ "ttl", test_ttl, 60 },
		{ "disablereuse", test_disablereuse, 60 },
		{ "keepalive", test_keepalive, 60 },
		{ "max_burst_one_worker", test_max_burst_one_worker, 120 },
		{ "max_burst_two_workers", test_max_burst_two_workers, 120 },
		{ "max_acquire_503", test_max_acquire_503, 60 },
		{ "max_waiter_goes", test_max_waiter_goes, 60 },
		{ "retry", test_retry, 60 },
	};
	Suite *s = suite_create("e2e_backend");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(e2e_backend_suite());
}
