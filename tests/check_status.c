/* Check suite for src/status.c: the query, escaping, the load check of SetHandler
 * server-status, the slowest-requests ring, and the page rendered from workers'
 * counters (workers made here, not running: stats_view() reads them as it would). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spliced/authz.h"
#include "spliced/config.h"
#include "spliced/rewrite.h"
#include "spliced/route.h"
#include "spliced/stats.h"
#include "spliced/status.h"
#include "spliced/worker-t.h"
#include "cfx.h"
#include "suite.h"

static void teardown(void)
{
	stats_live_clear();
	cfx_teardown();
}

static struct status_req query(const char *q)
{
	struct status_req rq;

	status_query(q, strlen(q), &rq);
	return rq;
}

START_TEST(query_forms)
{
	ck_assert(query("auto").autoform);
	ck_assert(!query("").autoform);
	ck_assert(!query("automatic").autoform);
	ck_assert(query("refresh=5&auto").autoform);
	ck_assert_uint_eq(query("refresh=5&auto").refresh, 5);
	ck_assert_uint_eq(query("auto;refresh=10").refresh, 10);
	ck_assert_uint_eq(query("refresh=0").refresh, 1);        /* at least a second */
	ck_assert_uint_eq(query("refresh=99999999").refresh, 3600);
	ck_assert_uint_eq(query("refresh=5x").refresh, 0);       /* not a number: ignored */
	ck_assert_uint_eq(query("refresh=").refresh, 0);
	ck_assert_uint_eq(query("notable&x=<y>").refresh, 0);
}
END_TEST

static char *escaped(const char *s, size_t len)
{
	struct stats_text t = { malloc(4), 0, 4, false };

	ck_assert_ptr_nonnull(t.p);
	status_html(&t, s, len);
	ck_assert(!t.failed);
	t.p[t.len] = '\0'; /* stats_text_add leaves room for the NUL */
	return t.p;
}

START_TEST(html_escape)
{
	char *e = escaped("<script>alert(\"x\")</script>&'", 29);

	ck_assert_str_eq(e, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
	free(e);
	e = escaped("a\0b\x01\xff\x7f c", 8);
	ck_assert_str_eq(e, "a\\x00b\\x01\\xFF\\x7F c");
	free(e);
	e = escaped("/plain/path?q=1", 15);
	ck_assert_str_eq(e, "/plain/path?q=1");
	free(e);
}
END_TEST

#define LOC "<Location /server-status>\nSetHandler server-status\n"

START_TEST(load_check)
{
	/* loopback only: no rule needed */
	cfx_load("Listen 127.0.0.1:8080\n" LOC "</Location>\n");
	ck_assert_uint_eq(cfx_cfg.authz.loc[0].handler, AUTHZ_HANDLER_STATUS);
	cfx_load("Listen [::1]:8080\n" LOC "</Location>\n");
	/* a public address: a Require over the section is needed */
	cfx_refused("Listen 0.0.0.0:8080\n" LOC "</Location>\n", "without an access rule");
	cfx_refused("Listen 127.0.0.1:8080\nListen 192.0.2.1:8080\n" LOC "</Location>\n",
		    "Require ip");
	cfx_load("Listen 0.0.0.0:8080\n" LOC "Require ip 10.0.0.0/8\n</Location>\n");
	cfx_load("Listen 0.0.0.0:8080\n<Location />\nRequire ip 127.0.0.1\n</Location>\n" LOC
		 "</Location>\n");
	/* a rule on another path does not cover it */
	cfx_refused("Listen 0.0.0.0:8080\n<Location /admin>\nRequire ip 127.0.0.1\n</Location>\n"
		    LOC "</Location>\n", "without an access rule");
	/* other handlers, places and values */
	cfx_refused("Listen 127.0.0.1:8080\n<Location /x>\nSetHandler server-info\n</Location>\n",
		    "not implemented");
	cfx_refused("Listen 127.0.0.1:8080\nSetHandler server-status\n",
		    "only supported in <Location>");
	cfx_load("Listen 127.0.0.1:8080\n<Location /x>\nSetHandler None\n</Location>\n");
	cfx_load("Listen 127.0.0.1:8080\nExtendedStatus Off\n");
	ck_assert(cfx_cfg.status_brief);
	cfx_load("Listen 127.0.0.1:8080\nExtendedStatus on\n");
	ck_assert(!cfx_cfg.status_brief);
	cfx_refused("Listen 127.0.0.1:8080\nExtendedStatus maybe\n", "On or Off");
}
END_TEST

/* Which handler a path gets: the last section covering it; None undoes; a ProxyPass
 * covering it wins (as in httpd). */
START_TEST(routing)
{
	struct rw_ctx *rw;
	struct route rt;
	struct rw_input in = { .method = "GET", .method_len = 3 };
	int loc;

	cfx_load("Listen 127.0.0.1:8080\nProxyPass /app http://127.0.0.1:9/\n" LOC "</Location>\n"
		 "<Location /server-status/off>\nSetHandler None\n</Location>\n"
		 "<Location /app/status>\nSetHandler server-status\n</Location>\n");
	ck_assert_int_eq(authz_handler(&cfx_cfg.authz, 0, "/server-status", 14, &loc),
			 AUTHZ_HANDLER_STATUS);
	ck_assert_int_eq(loc, 0);
	ck_assert_int_eq(authz_handler(&cfx_cfg.authz, 0, "/server-status/x", 16, &loc),
			 AUTHZ_HANDLER_STATUS);
	ck_assert_int_eq(authz_handler(&cfx_cfg.authz, 0, "/server-status/off", 18, &loc),
			 AUTHZ_HANDLER_NONE);
	ck_assert_int_eq(authz_handler(&cfx_cfg.authz, 0, "/server-statusx", 15, &loc),
			 AUTHZ_HANDLER_NONE);
	ck_assert_int_eq(loc, -1);
	rw = rw_ctx_create(&cfx_cfg);
	ck_assert_ptr_nonnull(rw);
	in.path = "/server-status";
	in.path_len = 14;
	route_request(&cfx_cfg, NULL, rw, &in, &rt);
	ck_assert_int_eq(rt.kind, ROUTE_HANDLER);
	ck_assert_uint_eq(rt.handler, AUTHZ_HANDLER_STATUS);
	in.path = "/app/status";
	in.path_len = 11;
	route_request(&cfx_cfg, NULL, rw, &in, &rt);
	ck_assert_int_eq(rt.kind, ROUTE_PROXY);
	rw_ctx_free(rw);
}
END_TEST

START_TEST(slow_ring)
{
	static struct status_slow s;
	unsigned n = 0;

	memset(&s, 0, sizeof(s));
	for (unsigned i = 1; i <= 30; i++)
		status_slow_note(&s, 1000, i * 1000000ull, 200, "GET", 3, "h", 1, "/p", 2, NULL);
	/* the ten slowest stay */
	for (unsigned k = 0; k < STATUS_SLOW_N; k++) {
		ck_assert_uint_ge(s.e[k].ns, 21 * 1000000ull);
		ck_assert_uint_eq(s.e[k].seq % 2, 0);
		n++;
	}
	ck_assert_uint_eq(n, STATUS_SLOW_N);
	/* a faster one later than the window replaces an old entry */
	status_slow_note(&s, 1000 + STATUS_SLOW_WINDOW_MS + 1, 5, 404, "HEAD", 4, NULL, 0,
			 "/new", 4, "http://b:1");
	n = 0;
	for (unsigned k = 0; k < STATUS_SLOW_N; k++)
		if (s.e[k].ns == 5) {
			ck_assert_str_eq(s.e[k].path, "/new");
			ck_assert_str_eq(s.e[k].backend, "http://b:1");
			ck_assert_str_eq(s.e[k].host, "");
			n++;
		}
	ck_assert_uint_eq(n, 1);
	/* long strings are cut, NUL-terminated */
	{
		char path[400];

		memset(path, 'a', sizeof(path));
		status_slow_note(&s, 1000 + STATUS_SLOW_WINDOW_MS + 2, 1ull << 40, 200, "GET", 3,
				 "h", 1, path, sizeof(path), NULL);
		for (unsigned k = 0; k < STATUS_SLOW_N; k++)
			if (s.e[k].ns == 1ull << 40)
				ck_assert_uint_eq(strlen(s.e[k].path), sizeof(s.e[k].path) - 1);
	}
}
END_TEST

static char *render(const char *q)
{
	struct status_req rq = query(q);
	struct stats_text t = { malloc(1024), 0, 1024, false };

	ck_assert_ptr_nonnull(t.p);
	status_render(&cfx_cfg, &rq, &t);
	ck_assert(!t.failed);
	t.p[t.len] = '\0';
	return t.p;
}

/* The page from two workers' counters: ?auto's sums, every backend named (the most a
 * configuration may have), hostile strings of the slow ring escaped. */
START_TEST(render_page)
{
	struct worker *w = calloc(2, sizeof(*w));
	char text[CFG_MAX_BACKENDS * 64 + 256], *page;
	size_t n;

	ck_assert_ptr_nonnull(w);
	n = (size_t)snprintf(text, sizeof(text), "Listen 127.0.0.1:8080\n");
	for (unsigned b = 0; b < CFG_MAX_BACKENDS; b++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "ProxyPass /b%u http://127.0.0.1:%u/\n",
				      b, 10000 + b);
	cfx_load(text);
	for (unsigned i = 0; i < 2; i++) {
		w[i].id = i;
		w[i].cfg = &cfx_cfg;
		w[i].gen = 1;
		w[i].stats.status[2] = 10 + i;
		w[i].stats.status[5] = 1;
		w[i].stats.bytes_copied = 4096;
		w[i].stats.lat_bucket[3] = 11 + i;
		w[i].stats.lat_sum_ns = 5000000000ull;
	}
	w[1].active = 3;
	status_slow_note(&w[0].slow, 1, 7000000, 502, "GET", 3, "evil\"><b>", 10,
			 "/<script>x</script>", 19, "http://127.0.0.1:10000");
	/* the ring's clock is the worker's: make the entry recent for the page */
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		w[0].slow.e[0].end_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	}
	ck_assert_int_eq(stats_live_add(w, 2), 0);
	stats_set_current(&cfx_cfg);

	page = render("auto");
	ck_assert_msg(strstr(page, "\nTotal Accesses: 23\n"), "%s", page);
	ck_assert_msg(strstr(page, "\nTotal kBytes: 8\n"), "%s", page);
	ck_assert_msg(strstr(page, "\nTotal Duration: 10000\n"), "%s", page);
	ck_assert_msg(strstr(page, "\nBusyWorkers: 1\nIdleWorkers: 1\n"), "%s", page);
	ck_assert_msg(strstr(page, "\nRequests5xx: 2\n"), "%s", page);
	ck_assert_msg(strstr(page, "ServerVersion: spliced/"), "%s", page);
	ck_assert(!strchr(page, '<'));
	free(page);

	page = render("refresh=7");
	ck_assert(strstr(page, "<meta http-equiv=\"refresh\" content=\"7\">"));
	ck_assert(strstr(page, "</body></html>"));
	for (unsigned b = 0; b < CFG_MAX_BACKENDS; b++) {
		char name[64];

		snprintf(name, sizeof(name), "<td>http://127.0.0.1:%u</td>", 10000 + b);
		ck_assert_msg(strstr(page, name), "no %s", name);
	}
	ck_assert(strstr(page, "&lt;script&gt;x&lt;/script&gt;"));
	ck_assert(strstr(page, "evil&quot;&gt;&lt;b&gt;"));
	ck_assert(!strstr(page, "<script"));
	ck_assert(!strstr(page, "<b>"));
	ck_assert(strstr(page, "<td class=\"n\">7.000 ms</td><td class=\"n\">502</td>"));
	ck_assert(!strstr(page, "http://") || strstr(page, "http://127.0.0.1"));
	free(page);

	/* ExtendedStatus Off: no worker table, no slowest requests */
	cfx_cfg.status_brief = true;
	page = render("");
	ck_assert(!strstr(page, "<h2>Workers"));
	ck_assert(!strstr(page, "Slowest"));
	ck_assert(strstr(page, "<h2>Backends"));
	free(page);
	stats_live_end(w);
	stats_live_clear();
	free(w);
}
END_TEST

/* A slow request that ended after the page read its clock (the worker's clock, read
 * later, is ahead) is shown, not taken for one that ended 2^64 ms ago. */
START_TEST(slow_clock_ahead)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct timespec ts;
	char *page;

	ck_assert_ptr_nonnull(w);
	cfx_load("Listen 127.0.0.1:8080\nProxyPass / http://127.0.0.1:10000/\n");
	w->cfg = &cfx_cfg;
	w->gen = 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	status_slow_note(&w->slow, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
			 1000, 9000000, 200, "GET", 3, "h", 1, "/late", 5, NULL);
	ck_assert_int_eq(stats_live_add(w, 1), 0);
	stats_set_current(&cfx_cfg);
	page = render("");
	ck_assert(strstr(page, "<td>/late</td>"));
	free(page);
	stats_live_end(w);
	stats_live_clear();
	free(w);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "query_forms", query_forms, 0 },
		{ "html_escape", html_escape, 0 },
		{ "load_check", load_check, 0 },
		{ "routing", routing, 0 },
		{ "slow_ring", slow_ring, 0 },
		{ "render_page", render_page, 0 },
		{ "slow_clock_ahead", slow_clock_ahead, 0 },
	};
	Suite *s = suite_create("status");

	ck_add_cases(s, cases, CK_N(cases), 0, cfx_setup, teardown);
	return ck_run_suite(s);
}
