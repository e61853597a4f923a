/* End-to-end suite for balancer:// pools (<Proxy balancer://>, BalancerMember, ProxySet):
 * the real spliced binary in front of several real tools/testbackend processes on
 * 127.0.0.1 ports chosen at run time. Who answered is counted at the backends (their GET
 * /stats request counts), never guessed from spliced's side.
 *
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets both). Every
 * loop is bounded; nothing is timed: a slow member is told apart by what it was given. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define NB_MAX 4

/* ---- helpers ------------------------------------------------------------------------ */

static void stop_spliced_ok(struct e2e_proc *sp)
{
	int code = e2e_spliced_stop(sp);

	if (code != 0) {
		char *rep = e2e_spliced_report(sp);

		ck_abort_msg("spliced exited with %d after SIGTERM (expected 0)\n%s", code, rep);
	}
}

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; response head:\n%s\n%s", \
		      (want), (r)->status, (r)->head ? (r)->head : "(none)", e2e_diag())

/* Requests the backend on `port` has answered so far, this GET /stats included. */
static unsigned long long backend_requests(int port)
{
	struct e2e_client c;
	struct e2e_response r;
	const char *p;
	unsigned long long n;
	static const char req[] = "GET /stats HTTP/1.1\r\nHost: b\r\n\r\n";

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	ck_assert_int_eq(r.status, 200);
	p = strstr((const char *)r.body, "requests=");
	ck_assert_ptr_nonnull(p);
	n = strtoull(p + 9, NULL, 10);
	e2e_response_free(&r);
	e2e_client_close(&c);
	return n;
}

/* n GETs of target over `nc` keep-alive connections, sent to all of them before any
 * answer is read (so nc requests are in flight at once); every answer must be 200. */
static void load(int port, const char *target, unsigned n, unsigned nc, const char *extra)
{
	struct e2e_client c[16];
	char req[1024];
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a.example\r\n%s\r\n",
			   target, extra ? extra : "");

	ck_assert_uint_le(nc, 16);
	for (unsigned i = 0; i < nc; i++)
		e2e_client_open(&c[i], port);
	for (unsigned done = 0; done < n; done += nc) {
		unsigned k = n - done < nc ? n - done : nc;

		for (unsigned i = 0; i < k; i++)
			ck_assert_int_eq(e2e_send(&c[i], req, (size_t)len), 0);
		for (unsigned i = 0; i < k; i++) {
			struct e2e_response r;

			ck_assert_msg(e2e_read_response(&c[i], &r, false) == 0, "request %u: %s\n%s",
				      done + i, r.err, e2e_diag());
			ck_status(&r, 200);
			e2e_response_free(&r);
		}
	}
	for (unsigned i = 0; i < nc; i++)
		e2e_client_close(&c[i]);
}

/* load() without the waves: each of nc clients (threads) sends its next request as soon
 * as its answer came, so requests arrive one by one as members answer, as a balancer's
 * traffic does (with waves, all nc requests of a wave may be picked before any answer
 * came back, which hides what bybusyness measures). */
struct free_client {
	int port;
	const char *req;
	size_t len;
	unsigned n;
	unsigned failed;
};

static void *free_client_run(void *arg)
{
	struct free_client *f = arg;
	struct e2e_client c;

	if (e2e_client_try_open(&c, f->port) != 0) {
		f->failed = f->n;
		return NULL;
	}
	for (unsigned i = 0; i < f->n; i++) {
		struct e2e_response r;

		if (e2e_send(&c, f->req, f->len) != 0 || e2e_read_response(&c, &r, false) != 0) {
			f->failed += f->n - i;
			break;
		}
		if (r.status != 200)
			f->failed++;
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	return NULL;
}

static void load_free(int port, const char *target, unsigned n, unsigned nc)
{
	struct free_client f[16];
	pthread_t th[16];
	char req[1024];
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a.example\r\n\r\n",
			   target);
	unsigned failed = 0;

	ck_assert_uint_le(nc, 16);
	for (unsigned i = 0; i < nc; i++) {
		f[i] = (struct free_client){ port, req, (size_t)len, n / nc + (i < n % nc), 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, free_client_run, &f[i]), 0);
	}
	for (unsigned i = 0; i < nc; i++) {
		pthread_join(th[i], NULL);
		failed += f[i].failed;
	}
	ck_assert_msg(failed == 0, "%u of %u requests failed: %s", failed, n, e2e_diag());
}

/* One GET on a new connection; its status (the response kept in *out when not NULL). */
static int get_once(int port, const char *target, const char *extra, struct e2e_response *out)
{
	struct e2e_client c;
	struct e2e_response r;
	char req[1024];
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a.example\r\n%s\r\n",
			   target, extra ? extra : "");
	int st;

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, (size_t)len, &r, false);
	st = r.status;
	if (out)
		*out = r;
	else
		e2e_response_free(&r);
	e2e_client_close(&c);
	return st;
}

/* The answers each backend gave between two counts (the second count's /stats not). */
static void counts(const struct e2e_proc *b, unsigned nb, const unsigned long long *before,
		   unsigned long long *got)
{
	for (unsigned i = 0; i < nb; i++)
		got[i] = backend_requests(b[i].port) - before[i] - 1;
}

static void counts_start(const struct e2e_proc *b, unsigned nb, unsigned long long *before)
{
	for (unsigned i = 0; i < nb; i++)
		before[i] = backend_requests(b[i].port);
}

/* "<Proxy balancer://app>" with a member per backend (member_params[i] after its URL),
 * then `rest`. */
static void start_pool(struct e2e_proc *sp, const struct e2e_proc *b, unsigned nb,
		       const char *const *member_params, const char *set, const char *rest)
{
	char conf[4096];
	size_t o = 0;

	o += (size_t)snprintf(conf + o, sizeof(conf) - o, "<Proxy balancer://app>\n");
	for (unsigned i = 0; i < nb; i++)
		o += (size_t)snprintf(conf + o, sizeof(conf) - o,
				      "    BalancerMember http://127.0.0.1:%d %s\n", b[i].port,
				      member_params && member_params[i] ? member_params[i] : "");
	o += (size_t)snprintf(conf + o, sizeof(conf) - o, "%s%s%s</Proxy>\n%s\n", set ? "    " : "",
			      set ? set : "", set ? "\n" : "", rest);
	ck_assert_uint_lt(o, sizeof(conf));
	e2e_spliced_start(sp, conf);
}

static void ck_near(unsigned long long got, double want, double tol, const char *what)
{
	ck_assert_msg(got >= want * (1 - tol) && got <= want * (1 + tol),
		      "%s: %llu requests, expected %.0f within %.0f%%", what, got, want, tol * 100);
}

static void start_backends(struct e2e_proc *b, unsigned nb)
{
	for (unsigned i = 0; i < nb; i++)
		e2e_backend_start(&b[i], "");
}

static void stop_all(struct e2e_proc *sp, struct e2e_proc *b, unsigned nb)
{
	stop_spliced_ok(sp);
	for (unsigned i = 0; i < nb; i++)
		e2e_backend_stop(&b[i]);
}

/* Two members, the second started with slow_args, the pool with `set`: n GETs from 8
 * clients at a time, counted at the members into got[]; everything stopped after. */
static void run_two(const char *slow_args, const char *set, unsigned n,
		    unsigned long long got[2])
{
	struct e2e_proc b[2] = { 0 }, sp = { 0 };
	unsigned long long before[2];

	e2e_backend_start(&b[0], "");
	e2e_backend_start(&b[1], slow_args);
	start_pool(&sp, b, 2, NULL, set, "ProxyPass /app/ balancer://app/\n");
	counts_start(b, 2, before);
	load_free(sp.port, "/app/?len=1", n, 8);
	counts(b, 2, before, got);
	ck_assert_uint_eq(got[0] + got[1], n);
	stop_all(&sp, b, 2);
}

/* ---- lbmethod=byrequests ------------------------------------------------------------ */

/* 3,000 requests over three equal members: each gets a third, within 10 %. Two workers,
 * each balancing its own requests. */
START_TEST(test_byrequests_fair)
{
	struct e2e_proc b[3] = { 0 }, sp = { 0 };
	unsigned long long before[3], got[3];

	start_backends(b, 3);
	start_pool(&sp, b, 3, NULL, NULL, "Workers 2\nProxyPass /app/ balancer://app/\n");
	counts_start(b, 3, before);
	load(sp.port, "/app/x?len=10", 3000, 8, NULL);
	counts(b, 3, before, got);
	for (unsigned i = 0; i < 3; i++)
		ck_near(got[i], 1000, 0.10, "member");
	ck_assert_uint_eq(got[0] + got[1] + got[2], 3000);
	stop_all(&sp, b, 3);
}
END_TEST

/* loadfactor=2 takes twice the share of a loadfactor=1 member. */
START_TEST(test_loadfactor)
{
	struct e2e_proc b[3] = { 0 }, sp = { 0 };
	unsigned long long before[3], got[3];
	const char *params[3] = { "loadfactor=2", "", "loadfactor=1" };

	start_backends(b, 3);
	start_pool(&sp, b, 3, params, NULL, "ProxyPass /app/ balancer://app/\n");
	counts_start(b, 3, before);
	load(sp.port, "/app/?len=1", 1200, 4, NULL);
	counts(b, 3, before, got);
	ck_near(got[0], 600, 0.10, "loadfactor=2");
	ck_near(got[1], 300, 0.10, "loadfactor 1 (default)");
	ck_near(got[2], 300, 0.10, "loadfactor=1");
	stop_all(&sp, b, 3);
}
END_TEST

/* ---- lbmethod=bybusyness, bytraffic ------------------------------------------------- */

/* A member that answers 50 ms later than the other holds its requests longer, so with 8
 * requests in flight at a time it is given fewer. A count ordering, not a timing. */
START_TEST(test_bybusyness_slow_member)
{
	unsigned long long got[2];

	run_two("-D 50", "ProxySet lbmethod=bybusyness", 400, got);
	printf("bybusyness: fast member %llu, slow member %llu of 400\n", got[0], got[1]);
	ck_assert_msg(got[1] < got[0], "the slow member got %llu requests, the fast one %llu",
		      got[1], got[0]);
}
END_TEST

/* The same pool with byrequests splits evenly whatever the speed: the ordering above
 * comes from the method. */
START_TEST(test_byrequests_ignores_speed)
{
	unsigned long long got[2];

	run_two("-D 50", NULL, 200, got);
	ck_assert_uint_eq(got[0], 100);
	ck_assert_uint_eq(got[1], 100);
}
END_TEST

/* bytraffic: after member 0 moved a large response, the next requests (small) go to
 * the other until its bytes catch up. */
START_TEST(test_bytraffic)
{
	struct e2e_proc b[2] = { 0 }, sp = { 0 };
	unsigned long long before[2], got[2];

	start_backends(b, 2);
	start_pool(&sp, b, 2, NULL, "ProxySet lbmethod=bytraffic",
		   "ProxyPass /app/ balancer://app/\n");
	counts_start(b, 2, before);
	/* the first goes to member 0 (a tie: the first), 100 KB */
	ck_assert_int_eq(get_once(sp.port, "/app/?len=100000", NULL, NULL), 200);
	/* 50 requests of ~1 KB each go to member 1 */
	load(sp.port, "/app/?len=1000", 50, 1, NULL);
	counts(b, 2, before, got);
	ck_assert_uint_eq(got[0], 1);
	ck_assert_uint_eq(got[1], 50);
	stop_all(&sp, b, 2);
}
END_TEST

/* ---- status=, sticky sessions, [P] -------------------------------------------------- */

/* A hot standby takes nothing while another member is usable; disabled and stopped
 * members take nothing; when every member is stopped or disabled: 503 + Retry-After. */
START_TEST(test_status_flags)
{
	struct e2e_proc b[4] = { 0 }, sp = { 0 };
	unsigned long long before[4], got[4];
	const char *params[4] = { "", "status=+H", "status=+D", "status=S" };
	struct e2e_response r;
	char conf[1024];

	start_backends(b, 4);
	snprintf(conf, sizeof(conf), "ProxyPass /app/ balancer://app/\n"
		 "<Proxy balancer://none>\nBalancerMember http://127.0.0.1:%d status=+D\n"
		 "</Proxy>\nProxyPass /none/ balancer://none/\n", b[0].port);
	start_pool(&sp, b, 4, params, NULL, conf);
	counts_start(b, 4, before);
	load(sp.port, "/app/?len=1", 60, 2, NULL);
	counts(b, 4, before, got);
	ck_assert_uint_eq(got[0], 60);
	ck_assert_uint_eq(got[1] + got[2] + got[3], 0);
	ck_assert_int_eq(get_once(sp.port, "/none/", NULL, &r), 503);
	ck_assert_ptr_nonnull(e2e_header(&r, "Retry-After"));
	e2e_response_free(&r);
	stop_all(&sp, b, 4);
}
END_TEST

/* stickysession=JSESSIONID|jsessionid: a cookie or URL parameter whose value ends in
 * ".ROUTE" goes to the member with that route=, every time; without one, round robin. */
START_TEST(test_sticky)
{
	struct e2e_proc b[3] = { 0 }, sp = { 0 };
	unsigned long long before[3], got[3];
	const char *params[3] = { "route=n1", "route=n2", "route=n3" };

	start_backends(b, 3);
	start_pool(&sp, b, 3, params, "ProxySet stickysession=JSESSIONID|jsessionid",
		   "ProxyPass /app/ balancer://app/\n");
	counts_start(b, 3, before);
	load(sp.port, "/app/?len=1", 30, 3, "Cookie: a=b; JSESSIONID=1A2B.n2\r\n");
	load(sp.port, "/app/?jsessionid=77.n3&len=1", 20, 2, NULL);
	load(sp.port, "/app/?len=1", 30, 3, "Cookie: JSESSIONID=1A2B.nobody\r\n");
	counts(b, 3, before, got);
	ck_assert_uint_eq(got[0], 10);
	ck_assert_uint_eq(got[1], 40);
	ck_assert_uint_eq(got[2], 30);
	stop_all(&sp, b, 3);
}
END_TEST

/* A client (or an HTTP/2-to-1 gateway in front) that sends its cookies on several Cookie
 * lines: the route in the second line sends every request to that member (byrequests
 * would have spread them), the first line carrying the cookie wins over a later one, and
 * the member gets every Cookie line as it was sent. */
START_TEST(test_sticky_cookie_lines)
{
	struct e2e_proc b[3] = { 0 }, sp = { 0 };
	unsigned long long before[3], got[3];
	const char *params[3] = { "route=n1", "route=n2", "route=n3" };
	const char *two = "Cookie: a=b\r\nCookie: JSESSIONID=1A2B.n3\r\n";
	struct e2e_response r;

	start_backends(b, 3);
	start_pool(&sp, b, 3, params, "ProxySet stickysession=JSESSIONID|jsessionid",
		   "ProxyPass /app/ balancer://app/\n");
	counts_start(b, 3, before);
	load(sp.port, "/app/?len=1", 30, 3, two);
	load(sp.port, "/app/?len=1", 30, 3, "Cookie: x=1\r\nCookie: JSESSIONID=5.n1\r\n"
	     "Cookie: JSESSIONID=6.n2\r\n");
	counts(b, 3, before, got);
	ck_assert_uint_eq(got[0], 30);
	ck_assert_uint_eq(got[1], 0);
	ck_assert_uint_eq(got[2], 30);
	counts_start(b, 3, before);
	ck_assert_int_eq(get_once(sp.port, "/app/echo", two, &r), 200);
	ck_assert_msg(e2e_head_has_line(r.body, r.body_len, "Cookie: a=b") &&
		      e2e_head_has_line(r.body, r.body_len, "Cookie: JSESSIONID=1A2B.n3"),
		      "the member saw:\n%.*s", (int)r.body_len, r.body);
	e2e_response_free(&r);
	counts(b, 3, before, got);
	ck_assert_uint_eq(got[2], 1);
	stop_all(&sp, b, 3);
}
END_TEST

/* RewriteRule ... balancer://NAME/... [P] goes to the pool's members, and the path the
 * rule wrote reaches them. Members outside a <Proxy> section, ProxySet outside too. */
START_TEST(test_rewrite_p)
{
	struct e2e_proc b[2] = { 0 }, sp = { 0 };
	unsigned long long before[2], got[2];
	struct e2e_response r;

	e2e_backend_start(&b[0], "");
	e2e_backend_start(&b[1], "");
	e2e_spliced_startf(&sp, "BalancerMember balancer://rw http://127.0.0.1:%d\n"
			   "BalancerMember balancer://rw http://127.0.0.1:%d loadfactor=3\n"
			   "ProxySet balancer://rw lbmethod=byrequests\n"
			   "RewriteEngine On\n"
			   "RewriteRule ^/old/(.*)$ balancer://rw/new/$1 [P]\n", b[0].port, b[1].port);
	counts_start(b, 2, before);
	ck_assert_int_eq(get_once(sp.port, "/old/thing", NULL, &r), 200);
	ck_assert_msg(e2e_head_has_line(r.body, r.body_len, "GET /new/thing HTTP/1.1"),
		      "the member saw:\n%s", r.body);
	e2e_response_free(&r);
	load(sp.port, "/old/x?len=1", 39, 3, NULL);
	counts(b, 2, before, got);
	ck_assert_uint_eq(got[0], 10);
	ck_assert_uint_eq(got[1], 30);
	stop_all(&sp, b, 2);
}
END_TEST

/* ---- failures ----------------------------------------------------------------------- */

/* load() that kills process `pid` in round `kill_round`, after that round's requests
 * went out and before their answers are read: some are in flight on the killed member. */
static void load_kill(int port, const char *target, unsigned n, unsigned nc,
		      unsigned kill_round, struct e2e_proc *victim)
{
	struct e2e_client c[16];
	char req[1024];
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a.example\r\n\r\n",
			   target);
	unsigned round = 0;

	for (unsigned i = 0; i < nc; i++)
		e2e_client_open(&c[i], port);
	for (unsigned done = 0; done < n; done += nc, round++) {
		unsigned k = n - done < nc ? n - done : nc;

		for (unsigned i = 0; i < k; i++)
			ck_assert_int_eq(e2e_send(&c[i], req, (size_t)len), 0);
		if (round == kill_round) {
			ck_assert_int_eq(kill(victim->pid, SIGKILL), 0);
			ck_assert(e2e_proc_wait(victim, 10000));
		}
		for (unsigned i = 0; i < k; i++) {
			struct e2e_response r;

			ck_assert_msg(e2e_read_response(&c[i], &r, false) == 0, "request %u: %s\n%s",
				      done + i, r.err, e2e_diag());
			ck_status(&r, 200);
			e2e_response_free(&r);
		}
	}
	for (unsigned i = 0; i < nc; i++)
		e2e_client_close(&c[i]);
}

/* A member killed under load (8 keep-alive clients, some of their GETs in flight on it):
 * no GET fails; it is in error for retry=1 s, then, restarted on its port, it takes
 * requests again; both changes are in the log. */
START_TEST(test_kill_member_under_load)
{
	struct e2e_proc b[3] = { 0 }, sp = { 0 };
	unsigned long long before[3], got[3];
	const char *params[3] = { "retry=1", "retry=1", "retry=1" };
	char args[64];
	int port;

	e2e_backend_start(&b[0], "");
	e2e_backend_start(&b[1], "-D 20");
	e2e_backend_start(&b[2], "");
	port = b[1].port;
	start_pool(&sp, b, 3, params, NULL, "ProxyPass /app/ balancer://app/\n");
	load_kill(sp.port, "/app/?len=100", 1200, 8, 40, &b[1]);
	ck_assert(e2e_log_wait_for(&sp, "member http://127.0.0.1:", 5000));
	ck_assert_uint_ge(e2e_log_count(&sp, "in error"), 1);
	/* back on its port; after retry=1 s the pool tries it again */
	memset(&b[1], 0, sizeof(b[1]));
	snprintf(args, sizeof(args), "-p %d", port);
	e2e_backend_start(&b[1], args);
	e2e_sleep_ms(1200);
	counts_start(b, 3, before);
	load(sp.port, "/app/?len=1", 300, 4, NULL);
	counts(b, 3, before, got);
	ck_assert_msg(got[1] >= 50, "the restarted member got %llu of 300 requests", got[1]);
	ck_assert(e2e_log_wait_for(&sp, "is back", 5000));
	stop_all(&sp, b, 3);
}
END_TEST

/* The hot standby takes every request once the other members are down; when it is down
 * too: 503 with Retry-After, at once and for the requests after. */
START_TEST(test_standby_then_503)
{
	struct e2e_proc b[3] = { 0 }, sp = { 0 };
	unsigned long long before[3], got[3];
	const char *params[3] = { "", "", "status=+H" };
	struct e2e_response r;
	const char *ra;

	start_backends(b, 3);
	start_pool(&sp, b, 3, params, NULL, "ProxyPass /app/ balancer://app/\n");
	load(sp.port, "/app/?len=1", 20, 2, NULL);
	e2e_backend_stop(&b[0]);
	e2e_backend_stop(&b[1]);
	before[2] = backend_requests(b[2].port);
	load(sp.port, "/app/?len=1", 40, 4, NULL);
	got[2] = backend_requests(b[2].port) - before[2] - 1;
	ck_assert_uint_eq(got[2], 40);
	e2e_backend_stop(&b[2]);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(get_once(sp.port, "/app/", NULL, &r), 503);
		ra = e2e_header(&r, "Retry-After");
		ck_assert_msg(ra && atoi(ra) >= 1 && atoi(ra) <= 60, "Retry-After: %s",
			      ra ? ra : "(none)");
		e2e_response_free(&r);
	}
	(void)got;
	stop_spliced_ok(&sp);
}
END_TEST

/* A POST whose body went to a member that closes without answering is not sent to
 * another (502); a GET is (200 from the other). */
START_TEST(test_post_not_retried)
{
	struct e2e_proc b[2] = { 0 }, sp = { 0 };
	unsigned long long before[2], got[2];
	struct e2e_client c;
	struct e2e_response r;
	static const char post[] = "POST /app/?drop=1 HTTP/1.1\r\nHost: a\r\n"
				   "Content-Length: 5\r\n\r\nhello";
	const char *params[2] = { "", "" };

	start_backends(b, 2);
	start_pool(&sp, b, 2, params, NULL, "ProxyPass /app/ balancer://app/\n");
	counts_start(b, 2, before);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, post, sizeof(post) - 1, &r, false);
	ck_status(&r, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	counts(b, 2, before, got);
	ck_assert_uint_eq(got[0] + got[1], 1);
	stop_all(&sp, b, 2);
}
END_TEST

/* A member whose port refuses: the request (a POST too: nothing was sent) goes to the
 * next member; the refusing member is in error (the log says so once). */
START_TEST(test_refused_fails_over)
{
	struct e2e_proc b = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	static const char post[] = "POST /app/?body=echo HTTP/1.1\r\nHost: a\r\n"
				   "Content-Length: 5\r\n\r\nhello";
	int dead = e2e_dead_port();

	e2e_backend_start(&b, "");
	e2e_spliced_startf(&sp, "<Proxy balancer://app>\nBalancerMember http://127.0.0.1:%d\n"
			   "BalancerMember http://127.0.0.1:%d\n</Proxy>\n"
			   "ProxyPass /app/ balancer://app/\n", dead, b.port);
	for (unsigned i = 0; i < 4; i++) {
		e2e_client_open(&c, sp.port);
		e2e_roundtrip(&c, post, sizeof(post) - 1, &r, false);
		ck_status(&r, 200);
		ck_assert_uint_eq(r.body_len, 5);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert(e2e_log_wait_for(&sp, "in error", 5000));
	ck_assert_uint_eq(e2e_log_count(&sp, "in error"), 1);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&b);
}
END_TEST

/* Members that ProxyAutostart starts: the first request each gets starts it and waits
 * (none is lost, none goes elsewhere); both are running afterwards. */
START_TEST(test_autostart_members)
{
	struct e2e_proc sp = { 0 };
	int p1 = e2e_free_port(), p2 = e2e_free_port();
	const char *bin = e2e_backend_bin_for_others();

	e2e_spliced_startf(&sp, "<Proxy balancer://app>\nBalancerMember http://127.0.0.1:%d\n"
			   "BalancerMember http://127.0.0.1:%d\n</Proxy>\n"
			   "ProxyPass /app/ balancer://app/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- %s -p %d\n"
			   "ProxyAutostart http://127.0.0.1:%d -- %s -p %d\n",
			   p1, p2, p1, bin, p1, p2, bin, p2);
	load(sp.port, "/app/?len=1", 20, 4, NULL);
	ck_assert_uint_ge(backend_requests(p1), 10 + 1);
	ck_assert_uint_ge(backend_requests(p2), 10 + 1);
	stop_spliced_ok(&sp);
}
END_TEST

/* A connect to 127.0.0.1:port is accepted. */
static bool port_listens(int port)
{
	struct e2e_client c;

	if (e2e_client_try_open(&c, port) < 0)
		return false;
	e2e_client_close(&c);
	return true;
}

/* ondemandmin=1 (spliced's own): one member runs; with every running member busy for
 * ondemandwait, the next joins (started by its first request), up to all three; after
 * ondemandidle without requests, those beyond the first are drained and stopped. */
START_TEST(test_ondemand)
{
	struct e2e_proc sp = { 0 };
	int port[3] = { e2e_free_port(), e2e_free_port(), e2e_free_port() };
	const char *bin = e2e_backend_bin_for_others();
	char conf[2048];
	size_t o;

	o = (size_t)snprintf(conf, sizeof(conf), "<Proxy balancer://app>\n");
	for (unsigned i = 0; i < 3; i++)
		o += (size_t)snprintf(conf + o, sizeof(conf) - o,
				      "BalancerMember http://127.0.0.1:%d\n", port[i]);
	o += (size_t)snprintf(conf + o, sizeof(conf) - o, "ProxySet ondemandmin=1 "
			      "ondemandwait=300 ondemandidle=2\n</Proxy>\n"
			      "ProxyPass /app/ balancer://app/\n");
	for (unsigned i = 0; i < 3; i++)
		o += (size_t)snprintf(conf + o, sizeof(conf) - o,
				      "ProxyAutostart http://127.0.0.1:%d -- %s -D 100 -p %d\n",
				      port[i], bin, port[i]);
	ck_assert_uint_lt(o, sizeof(conf));
	e2e_spliced_start(&sp, conf);
	e2e_sleep_ms(500);    /* the parked members are parked (a tick or two) */
	load(sp.port, "/app/?len=1", 240, 6, NULL);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_msg(port_listens(port[i]) && backend_requests(port[i]) > 1,
			      "member %u did not run\n%s", i, e2e_diag());
	ck_assert_uint_ge(e2e_log_count(&sp, "joins"), 2);
	/* idle: the two that joined are drained and stopped, the first stays */
	ck_assert_msg(e2e_log_wait_for(&sp, "drained and stopped", 8000), "%s", e2e_diag());
	for (int i = 0; i < 100 && (port_listens(port[1]) || port_listens(port[2])); i++)
		e2e_sleep_ms(100);
	ck_assert(!port_listens(port[1]));
	ck_assert(!port_listens(port[2]));
	ck_assert(port_listens(port[0]));
	/* and the pool still answers, from the member that runs */
	load(sp.port, "/app/?len=1", 4, 1, NULL);
	stop_spliced_ok(&sp);
}
END_TEST

/* ---- metrics ------------------------------------------------------------------------ */

static char *metrics(int mport)
{
	struct e2e_response r;
	char *text;

	ck_assert_int_eq(get_once(mport, "/metrics", NULL, &r), 200);
	text = strdup((const char *)r.body);
	e2e_response_free(&r);
	return text;
}

static void ck_metric(const char *text, const char *line)
{
	ck_assert_msg(strstr(text, line), "the metrics page has no line \"%s\":\n%s", line, text);
}

/* Per member: up, requests, failures, errors (state changes), in flight; the existing
 * per-backend lines name the members too. */
START_TEST(test_member_metrics)
{
	struct e2e_proc b = { 0 }, sp = { 0 };
	int dead = e2e_dead_port(), mport = e2e_free_port();
	char line[256], *text;

	e2e_backend_start(&b, "");
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\n<Proxy balancer://app>\n"
			   "BalancerMember http://127.0.0.1:%d\n"
			   "BalancerMember http://127.0.0.1:%d\n</Proxy>\n"
			   "ProxyPass /app/ balancer://app/\n", mport, dead, b.port);
	load(sp.port, "/app/?len=1", 10, 2, NULL);
	text = metrics(mport);
	snprintf(line, sizeof(line), "spliced_backend_up{backend=\"app\",member=\"http://127.0.0.1:%d\"} 0", dead);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_up{backend=\"app\",member=\"http://127.0.0.1:%d\"} 1", b.port);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_member_requests_total{backend=\"app\",member=\"http://127.0.0.1:%d\"} 10", b.port);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_member_requests_total{backend=\"app\",member=\"http://127.0.0.1:%d\"} 1", dead);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_member_failures_total{backend=\"app\",member=\"http://127.0.0.1:%d\"} 1", dead);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_member_errors_total{backend=\"app\",member=\"http://127.0.0.1:%d\"} 1", dead);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_member_in_flight{backend=\"app\",member=\"http://127.0.0.1:%d\"} 0", b.port);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_pool_idle{backend=\"http://127.0.0.1:%d\"}", b.port);
	ck_metric(text, line);
	free(text);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&b);
}
END_TEST

/* ---- health checks ------------------------------------------------------------------ */

/* With hcmethod=GET (every second), a member killed under load leaves rotation by its
 * failed check, no GET failing meanwhile; restarted on its port it is back after hcpasses
 * passes, long before its retry= (60 s) would have let it. */
START_TEST(test_hc_kill_and_back)
{
	struct e2e_proc b[3] = { 0 }, sp = { 0 };
	unsigned long long before[3], got[3];
	const char *hc = "hcmethod=GET hcuri=/health?len=2 hcinterval=1 hcpasses=2";
	const char *params[3] = { hc, hc, hc };
	char args[64];
	int port;

	for (unsigned i = 0; i < 3; i++)
		e2e_backend_start(&b[i], i == 1 ? "-D 20" : "");
	port = b[1].port;
	start_pool(&sp, b, 3, params, NULL, "ProxyPass /app/ balancer://app/\n");
	load_kill(sp.port, "/app/?len=100", 800, 8, 30, &b[1]);
	ck_assert_msg(e2e_log_wait_for(&sp, "out of rotation", 5000), "%s", e2e_diag());
	memset(&b[1], 0, sizeof(b[1]));
	snprintf(args, sizeof(args), "-p %d", port);
	e2e_backend_start(&b[1], args);
	ck_assert_msg(e2e_log_wait_for(&sp, "back in rotation", 10000), "%s", e2e_diag());
	counts_start(b, 3, before);
	load(sp.port, "/app/?len=1", 300, 4, NULL);
	counts(b, 3, before, got);
	ck_assert_msg(got[1] >= 50, "the restarted member got %llu of 300 requests", got[1]);
	stop_all(&sp, b, 3);
}
END_TEST

/* hcmethod=TCP finds a port that refuses before any request does: the requests never go
 * there. hcexpr: a member whose check answers 404 fails {%{REQUEST_STATUS} =~ /^[23]/}. */
START_TEST(test_hc_tcp_and_expr)
{
	struct e2e_proc b[2] = { 0 }, sp = { 0 };
	int dead = e2e_dead_port(), mport = e2e_free_port();
	unsigned long long before[2], got[2];
	char line[256], *text;

	e2e_backend_start(&b[0], "");
	e2e_backend_start(&b[1], "");
	e2e_spliced_startf(&sp, "MetricsListen 127.0.0.1:%d\n"
			   "ProxyHCExpr ok {%%{REQUEST_STATUS} =~ /^[23]/}\n"
			   "<Proxy balancer://app>\n"
			   "BalancerMember http://127.0.0.1:%d hcmethod=TCP hcinterval=1\n"
			   "BalancerMember http://127.0.0.1:%d hcmethod=HEAD hcuri=/?status=404 "
			   "hcexpr=ok hcinterval=1\n"
			   "BalancerMember http://127.0.0.1:%d hcmethod=GET hcuri=/?status=204 "
			   "hcexpr=ok hcinterval=1\n"
			   "</Proxy>\nProxyPass /app/ balancer://app/\n", mport, dead, b[0].port,
			   b[1].port);
	ck_assert_msg(e2e_log_wait_for(&sp, "Connection refused): out of rotation", 5000), "%s",
		      e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "(status 404): out of rotation", 5000), "%s",
		      e2e_diag());
	counts_start(b, 2, before);
	load(sp.port, "/app/?len=1", 30, 3, NULL);
	counts(b, 2, before, got);
	/* b[1] took them all (b[0] answered only its checks: the metrics below) */
	ck_assert_uint_ge(got[1], 30);
	text = metrics(mport);
	snprintf(line, sizeof(line), "spliced_backend_member_requests_total{backend=\"app\",member=\"http://127.0.0.1:%d\"} 0", dead);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_member_requests_total{backend=\"app\",member=\"http://127.0.0.1:%d\"} 0", b[0].port);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_up{backend=\"app\",member=\"http://127.0.0.1:%d\"} 0", b[0].port);
	ck_metric(text, line);
	snprintf(line, sizeof(line), "spliced_backend_member_hc_down_total{backend=\"app\",member=\"http://127.0.0.1:%d\"} 1", dead);
	ck_metric(text, line);
	free(text);
	stop_all(&sp, b, 2);
}
END_TEST

/* ---- the member_state probe --------------------------------------------------------- */

/* bpftrace sees a member go into error (0) when it refuses, and come back (1) once it
 * listens again and its retry=1 s is over. Skipped, saying so, without bpftrace. */
START_TEST(test_member_state_probe)
{
	struct e2e_proc b[2] = { 0 }, sp = { 0 };
	const char *bin = e2e_env_bin("SPLICED_BIN");
	int port = e2e_free_port();
	char script[512], outpath[400], want[2][160], args[64], *out;
	pid_t pid, serving;

	e2e_backend_start(&b[0], "");
	e2e_spliced_startf(&sp, "<Proxy balancer://app>\nBalancerMember http://127.0.0.1:%d\n"
			   "BalancerMember http://127.0.0.1:%d retry=1\n</Proxy>\n"
			   "ProxyPass /app/ balancer://app/\n", b[0].port, port);
	/* the probe fires in the serving process, the supervisor's child */
	serving = e2e_child_pid(sp.pid, "spliced", 0, 10000);
	ck_assert_int_gt(serving, 0);
	snprintf(script, sizeof(script), "usdt:%s:spliced:member_state /pid == %d/ "
		 "{ printf(\"member %%s %%s %%d\\n\", str(arg0), str(arg1), arg2); }\n",
		 bin, serving);
	snprintf(outpath, sizeof(outpath), "%s/bpftrace.out", sp.dir);
	pid = e2e_bpftrace_start("member_state_probe", script, outpath);
	if (!pid) {
		stop_all(&sp, b, 1);
		return;
	}
	e2e_sleep_ms(300);
	load(sp.port, "/app/?len=1", 4, 1, NULL);
	snprintf(args, sizeof(args), "-p %d", port);
	e2e_backend_start(&b[1], args);
	e2e_sleep_ms(1100);
	load(sp.port, "/app/?len=1", 4, 1, NULL);
	for (unsigned k = 0; k < 2; k++)
		snprintf(want[k], sizeof(want[k]), "member balancer://app http://127.0.0.1:%d %u",
			 port, k);
	out = e2e_bpftrace_stop(pid, outpath, want[1]);
	ck_assert_msg(strstr(out, want[0]) && strstr(out, want[1]), "bpftrace saw:\n%s", out);
	free(out);
	stop_all(&sp, b, 2);
}
END_TEST

/* What spliced does not do stops it at load, naming the parameter. */
START_TEST(test_load_errors)
{
	static const struct { const char *conf, *needle; } bad[] = {
		{ "<Proxy balancer://a>\nBalancerMember http://127.0.0.1:1 smax=3\n</Proxy>\n"
		  "ProxyPass / balancer://a/\n", "smax" },
		{ "<Proxy balancer://a>\nBalancerMember http://127.0.0.1:1\n"
		  "ProxySet lbmethod=heartbeat\n</Proxy>\nProxyPass / balancer://a/\n", "heartbeat" },
		{ "<Proxy balancer://a>\nBalancerMember http://127.0.0.1:1 status=+E\n</Proxy>\n"
		  "ProxyPass / balancer://a/\n", "+E" },
		{ "ProxyPass / balancer://nobody/\n", "balancer://nobody has no BalancerMember" },
		{ "ProxyHCExpr x {%{REQUEST_STATUS} =~ /^2/ && -n %{HTTP_HOST}}\n", "/^2/ &&" },
		{ "ProxyHCExpr x {hc('body') =~ /OK/}\n", "hc('body')" },
		{ "<Proxy balancer://a>\nBalancerMember http://127.0.0.1:1 hcmethod=CPING\n"
		  "</Proxy>\nProxyPass / balancer://a/\n", "CPING" },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *conf = e2e_write_temp("bad.conf", bad[i].conf);
		char full[2048], *out = NULL;
		const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };
		int code;

		snprintf(full, sizeof(full), "Listen 127.0.0.1:1\n%s", bad[i].conf);
		conf = e2e_write_temp("bad.conf", full);
		argv[3] = conf;
		code = e2e_run(argv, &out);
		ck_assert_msg(code == 1 && strstr(out, bad[i].needle),
			      "case %u: exit %d, output:\n%s", i, code, out);
		free(out);
	}
}
END_TEST

/* A GET check whose request is long (hcuri and a Unix socket member's Host near their
 * limits, 517 bytes in all): the request reaches the member whole, which answers it,
 * rather than an empty request (it did not fit 512 bytes) that timed out and took the
 * member out. */
START_TEST(test_hc_long_request)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	char sock[300], rec[300], args[700], host[216], uri[250], *text = NULL;
	unsigned seen = 0;

	snprintf(sock, sizeof(sock), "%s/s", e2e_temp_dir());
	snprintf(rec, sizeof(rec), "%s/m.rec", e2e_temp_dir());
	snprintf(args, sizeof(args), "-u %s -r %s", sock, rec);
	e2e_backend_start(&be, args);
	ck_assert_int_eq(chmod(sock, 0666), 0);
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (unsigned i = 60; i < sizeof(host) - 1; i += 60)
		host[i] = '.';
	memset(uri, 'u', sizeof(uri) - 1);
	uri[0] = '/';
	uri[sizeof(uri) - 1] = '\0';
	e2e_spliced_startf(&sp, "<Proxy balancer://app>\n"
			   "BalancerMember unix:%s|http://%s/ hcmethod=GET hcuri=%s hcinterval=1\n"
			   "</Proxy>\nProxyPass /app/ balancer://app/\n", sock, host, uri);
	/* two checks answered (bounded: 100 reads 100 ms apart) */
	for (unsigned i = 0; i < 100 && seen < 2; i++) {
		const char *p;

		free(text);
		text = e2e_read_file(rec, NULL);
		seen = 0;
		for (p = text; p && (p = strstr(p, uri)) != NULL; p++)
			seen++;
		if (seen < 2)
			e2e_sleep_ms(100);
	}
	free(text);
	ck_assert_msg(seen >= 2, "the member saw %u checks %s", seen, e2e_diag());
	text = e2e_spliced_log(&sp);
	ck_assert_msg(!strstr(text, "out of rotation"), "%s", text);
	free(text);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

static Suite *e2e_balancer_suite(void)
{
	const struct ck_case cases[] = {
		{ "byrequests_fair", test_byrequests_fair, 120 },
		{ "loadfactor", test_loadfactor, 60 },
		{ "bybusyness_slow_member", test_bybusyness_slow_member, 120 },
		{ "byrequests_ignores_speed", test_byrequests_ignores_speed, 60 },
		{ "bytraffic", test_bytraffic, 60 },
		{ "status_flags", test_status_flags, 60 },
		{ "sticky", test_sticky, 60 },
		{ "sticky_cookie_lines", test_sticky_cookie_lines, 60 },
		{ "rewrite_p", test_rewrite_p, 60 },
		{ "kill_member_under_load", test_kill_member_under_load, 120 },
		{ "standby_then_503", test_standby_then_503, 60 },
		{ "post_not_retried", test_post_not_retried, 60 },
		{ "refused_fails_over", test_refused_fails_over, 60 },
		{ "autostart_members", test_autostart_members, 60 },
		{ "ondemand", test_ondemand, 90 },
		{ "member_metrics", test_member_metrics, 60 },
		{ "hc_kill_and_back", test_hc_kill_and_back, 120 },
		{ "hc_tcp_and_expr", test_hc_tcp_and_expr, 60 },
		{ "hc_long_request", test_hc_long_request, 60 },
		{ "member_state_probe", test_member_state_probe, 60 },
		{ "load_errors", test_load_errors, 60 },
	};
	Suite *s = suite_create("e2e_balancer");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(e2e_balancer_suite());
}
