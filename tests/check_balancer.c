/* Check suite for src/balancer.c (the member choice, sticky session values) and the
 * balancer directives of src/config.c (<Proxy balancer://>, BalancerMember, ProxySet,
 * ProxyPass and RewriteRule to a pool). No ring, no socket. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "spliced/balancer.h"
#include "spliced/config.h"
#include "spliced/http.h"
#include "guard.h"
#include "suite.h"

static struct config cfg;
static struct config_error err;

static int parse(const char *text)
{
	config_free(&cfg);
	config_defaults(&cfg);
	return config_parse(&cfg, text, strlen(text), "t.conf", &err);
}

static void ck_parse_err(const char *text, unsigned line, const char *msg)
{
	ck_assert_int_eq(parse(text), -EINVAL);
	ck_assert_msg(strstr(err.msg, msg), "error \"%s\" does not say \"%s\"", err.msg, msg);
	ck_assert_uint_eq(err.line, line);
}

/* A pool of n members with these loadfactors and status flags. */
static void pool(struct cfg_balancer *b, unsigned n, const unsigned *lf, const unsigned *st,
		 unsigned method)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->name, "balancer://t");
	b->nmember = n;
	b->lbmethod = method;
	for (unsigned i = 0; i < n; i++) {
		b->member[i].backend = (int)i;
		b->member[i].lbfactor = lf ? lf[i] : 1;
		b->member[i].status = st ? st[i] : 0;
	}
}

/* `rounds` picks among `usable`: each member's count must be want[i]. */
static void ck_picks(const struct cfg_balancer *b, struct bal_state *st, uint32_t usable,
		     unsigned rounds, const unsigned *want)
{
	unsigned n[CFG_MAX_MEMBERS] = { 0 };

	for (unsigned i = 0; i < rounds; i++) {
		int m = bal_pick(b, st, usable);

		ck_assert_int_ge(m, 0);
		n[m]++;
	}
	for (unsigned i = 0; i < b->nmember; i++)
		ck_assert_msg(n[i] == want[i], "member %u: %u picks of %u, expected %u", i, n[i],
			      rounds, want[i]);
}

/* ---- byrequests --------------------------------------------------------------------- */

START_TEST(test_byrequests_sequence)
{
	struct cfg_balancer b;
	struct bal_state st = { 0 };
	static const unsigned lf[3] = { 2, 1, 1 };
	static const int want[8] = { 0, 1, 2, 0, 0, 1, 2, 0 };

	/* httpd's arithmetic: credits (2,1,1) -> 0 chosen, gives back 4 -> (-2,1,1);
	 * (0,2,2) -> 1; (2,-1,3) -> 2; (4,0,0) -> 0; back to (0,0,0) */
	pool(&b, 3, lf, NULL, CFG_LB_BYREQUESTS);
	for (unsigned i = 0; i < 8; i++)
		ck_assert_int_eq(bal_pick(&b, &st, 0x7), want[i]);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(st.m[i].lbstatus, 0);
}
END_TEST

START_TEST(test_byrequests_shares)
{
	struct cfg_balancer b;
	struct bal_state st = { 0 };
	static const unsigned lf[4] = { 1, 3, 5, 1 };
	static const unsigned want[4] = { 100, 300, 500, 100 };

	pool(&b, 4, lf, NULL, CFG_LB_BYREQUESTS);
	ck_picks(&b, &st, 0xf, 1000, want);
}
END_TEST

/* Members left out of `usable` take nothing; the others share as if alone. */
START_TEST(test_unusable_skipped)
{
	struct cfg_balancer b;
	struct bal_state st = { 0 };
	static const unsigned want[3] = { 50, 0, 50 };

	pool(&b, 3, NULL, NULL, CFG_LB_BYREQUESTS);
	ck_picks(&b, &st, 0x5, 100, want);
	ck_assert_int_eq(bal_pick(&b, &st, 0), -1);
}
END_TEST

/* A hot standby only when no other member is usable; two standbys share. */
START_TEST(test_hot_standby)
{
	struct cfg_balancer b;
	struct bal_state st = { 0 };
	static const unsigned flags[3] = { 0, CFG_MEMBER_STANDBY, CFG_MEMBER_STANDBY };
	static const unsigned first[3] = { 10, 0, 0 }, standbys[3] = { 0, 5, 5 };

	for (unsigned m = 0; m < 3; m++) {
		pool(&b, 3, NULL, flags, m);
		ck_picks(&b, &st, 0x7, 10, first);
	}
	pool(&b, 3, NULL, flags, CFG_LB_BYREQUESTS);
	ck_picks(&b, &st, 0x6, 10, standbys);
}
END_TEST

/* ---- bybusyness, bytraffic ---------------------------------------------------------- */

START_TEST(test_bybusyness)
{
	struct cfg_balancer b;
	struct bal_state st = { 0 };
	static const unsigned even[3] = { 10, 10, 10 };

	pool(&b, 3, NULL, NULL, CFG_LB_BYBUSYNESS);
	st.m[0].busy = 3;
	st.m[1].busy = 1;
	st.m[2].busy = 2;
	ck_assert_int_eq(bal_pick(&b, &st, 0x7), 1);
	ck_assert_int_eq(bal_pick(&b, &st, 0x5), 2);
	/* equally busy: byrequests among them */
	memset(&st, 0, sizeof(st));
	st.m[0].busy = st.m[1].busy = st.m[2].busy = 4;
	ck_picks(&b, &st, 0x7, 30, even);
}
END_TEST

START_TEST(test_bytraffic)
{
	struct cfg_balancer b;
	struct bal_state st = { 0 };
	static const unsigned lf[3] = { 1, 4, 1 };

	pool(&b, 3, lf, NULL, CFG_LB_BYTRAFFIC);
	ck_assert_int_eq(bal_pick(&b, &st, 0x7), 0);    /* a tie: the first */
	st.m[0].traffic = 1000;
	st.m[1].traffic = 3000;                          /* 3000 / 4 = 750 */
	st.m[2].traffic = 800;
	ck_assert_int_eq(bal_pick(&b, &st, 0x7), 1);
	ck_assert_int_eq(bal_pick(&b, &st, 0x5), 2);
}
END_TEST

/* ---- sticky sessions ---------------------------------------------------------------- */

START_TEST(test_sticky_values)
{
	const char *v;
	size_t n;
	static const char ck[] = "a=1; JSESSIONID=1A2B.node2;b=2";
	static const char q[] = "/x;jsessionid=99.n1?x=1&jsessionid=77.node3";

	ck_assert(bal_cookie_value(ck, strlen(ck), "JSESSIONID", &v, &n));
	ck_assert_uint_eq(n, 10);
	ck_assert(memcmp(v, "1A2B.node2", 10) == 0);
	ck_assert(!bal_cookie_value(ck, strlen(ck), "jsessionid", &v, &n));
	ck_assert(!bal_cookie_value("XJSESSIONID=1.a", 15, "JSESSIONID", &v, &n));
	ck_assert(!bal_cookie_value("JSESSIONID=", 11, "JSESSIONID", &v, &n));
	/* the whole value is never read past len */
	ck_assert(!bal_cookie_value(ck, 5, "JSESSIONID", &v, &n));
	ck_assert(bal_param_value(q, strlen(q), "jsessionid", &v, &n));
	ck_assert(memcmp(v, "99.n1", n) == 0 && n == 5);
	ck_assert(bal_param_value(q + 16, strlen(q + 16), "jsessionid", &v, &n));
	ck_assert(memcmp(v, "77.node3", n) == 0 && n == 8);
}
END_TEST

START_TEST(test_route_member)
{
	struct cfg_balancer b;

	pool(&b, 3, NULL, NULL, CFG_LB_BYREQUESTS);
	strcpy(b.member[0].route, "n1");
	strcpy(b.member[2].route, "n12");
	ck_assert_int_eq(bal_route_member(&b, "abc.n1", 6), 0);
	ck_assert_int_eq(bal_route_member(&b, "abc.n12", 7), 2);
	ck_assert_int_eq(bal_route_member(&b, "abc.n", 5), -1);
	ck_assert_int_eq(bal_route_member(&b, "abcn1", 5), -1);
	/* httpd takes what follows the first '.' */
	ck_assert_int_eq(bal_route_member(&b, "a.b.n1", 6), -1);
}
END_TEST

/* The member of request head s (parsed, right before an unreadable page) in a pool of
 * three members routed n1, n2, n3 with stickysession=JSESSIONID|jsessionid. */
static int sticky_of(const char *s)
{
	static const struct http_limits lim = {
		.max_head = 8192, .max_line = 4096, .max_field = 4096, .max_fields = 100,
	};
	struct cfg_balancer b;
	struct http_request r;
	size_t n = strlen(s);
	const char *h = guard_at_end(s, n);

	pool(&b, 3, NULL, NULL, CFG_LB_BYREQUESTS);
	strcpy(b.member[0].route, "n1");
	strcpy(b.member[1].route, "n2");
	strcpy(b.member[2].route, "n3");
	strcpy(b.sticky_cookie, "JSESSIONID");
	strcpy(b.sticky_param, "jsessionid");
	ck_assert_int_eq(http_parse_request(h, n, &lim, &r), (int)n);
	return bal_sticky_member(&b, h, &r);
}

/* Every Cookie field is looked at, in order, the first carrying the cookie wins (httpd
 * finds it in any of them); the URL parameter when none carries it. */
START_TEST(test_sticky_cookie_fields)
{
	/* the route in the second Cookie line, a field between them */
	ck_assert_int_eq(sticky_of("GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; b=2\r\n"
				   "X-Other: JSESSIONID=9.n1\r\ncookie: JSESSIONID=1A.n2\r\n\r\n"), 1);
	/* the third of three; the last field of the head */
	ck_assert_int_eq(sticky_of("GET / HTTP/1.1\r\nCookie: a=1\r\nHost: h\r\n"
				   "Cookie: jsessionid=5.n1\r\nCOOKIE: JSESSIONID=7.n3\r\n\r\n"), 2);
	/* the first carrying it wins, even with a route no member has */
	ck_assert_int_eq(sticky_of("GET / HTTP/1.1\r\nHost: h\r\nCookie: JSESSIONID=1.n1\r\n"
				   "Cookie: JSESSIONID=2.n2\r\n\r\n"), 0);
	ck_assert_int_eq(sticky_of("GET / HTTP/1.1\r\nHost: h\r\nCookie: JSESSIONID=1.zz\r\n"
				   "Cookie: JSESSIONID=2.n2\r\n\r\n"), -1);
	/* no Cookie carries it: the URL parameter */
	ck_assert_int_eq(sticky_of("GET /x?jsessionid=3.n2 HTTP/1.1\r\nHost: h\r\n"
				   "Cookie: a=1\r\nCookie: JSESSIONID=\r\n\r\n"), 1);
	ck_assert_int_eq(sticky_of("GET /x?a=1 HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\n"
				   "Cookie: b=JSESSIONID.n1\r\n\r\n"), -1);
	ck_assert_int_eq(sticky_of("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), -1);
}
END_TEST

/* httpd's order: the URL parameter first, the cookie only when the URL has none (even a
 * URL route no member has wins: httpd then picks by the method, and so do we) */
START_TEST(test_sticky_url_first)
{
	ck_assert_int_eq(sticky_of("GET /x?jsessionid=3.n2 HTTP/1.1\r\nHost: h\r\n"
				   "Cookie: JSESSIONID=1.n1\r\n\r\n"), 1);
	ck_assert_int_eq(sticky_of("GET /x?jsessionid=3.zz HTTP/1.1\r\nHost: h\r\n"
				   "Cookie: JSESSIONID=1.n1\r\n\r\n"), -1);
	ck_assert_int_eq(sticky_of("GET /x?other=3.n2 HTTP/1.1\r\nHost: h\r\n"
				   "Cookie: JSESSIONID=1.n3\r\n\r\n"), 2);
}
END_TEST

/* ---- configuration ------------------------------------------------------------------ */

START_TEST(test_config_pool)
{
	const struct cfg_balancer *b;
	const struct cfg_backend *be;

	ck_assert_int_eq(parse("Listen 127.0.0.1:8080\n"
			       "<Proxy balancer://App>\n"
			       "    BalancerMember http://127.0.0.1:8001 loadfactor=2 max=5\n"
			       "    BalancerMember http://127.0.0.1:8002/ retry=5 route=r2\n"
			       "    BalancerMember unix:/run/app3.sock|http://localhost status=+H\n"
			       "    ProxySet lbmethod=bybusyness stickysession=JSESSIONID|jsessionid\n"
			       "</Proxy>\n"
			       "ProxyPass /app/ balancer://app/sub/\n"
			       "ProxyPass /plain/ http://127.0.0.1:8001/\n"), 0);
	ck_assert_uint_eq(cfg.nbalancer, 1);
	b = &cfg.balancer[0];
	ck_assert_str_eq(b->name, "balancer://app");
	ck_assert_uint_eq(b->nmember, 3);
	ck_assert_uint_eq(b->lbmethod, CFG_LB_BYBUSYNESS);
	ck_assert_str_eq(b->sticky_cookie, "JSESSIONID");
	ck_assert_str_eq(b->sticky_param, "jsessionid");
	ck_assert_uint_eq(b->member[0].lbfactor, 2);
	ck_assert_uint_eq(b->member[1].lbfactor, 1);
	ck_assert_str_eq(b->member[1].route, "r2");
	ck_assert_uint_eq(b->member[2].status, CFG_MEMBER_STANDBY);
	/* a member is a backend: a plain ProxyPass to the same URL shares it */
	ck_assert_uint_eq(cfg.nbackend, 3);
	ck_assert_int_eq(cfg.pass[1].backend, b->member[0].backend);
	be = &cfg.backend[b->member[0].backend];
	ck_assert_uint_eq(be->p.max, 5);
	ck_assert_uint_eq(be->p.retry_s, 60);              /* httpd's default for members */
	ck_assert_uint_eq(cfg.backend[b->member[1].backend].p.retry_s, 5);
	ck_assert_int_eq(cfg.pass[0].backend, CFG_BALANCER_BASE);
	ck_assert_ptr_eq(config_balancer(&cfg, cfg.pass[0].backend), b);
	ck_assert_ptr_null(config_balancer(&cfg, cfg.pass[1].backend));
	ck_assert_str_eq(cfg.pass[0].path, "/sub/");
	ck_assert_str_eq(config_target_name(&cfg, cfg.pass[0].backend), "balancer://app");
}
END_TEST

START_TEST(test_config_outside)
{
	ck_assert_int_eq(parse("Listen 127.0.0.1:8080\n"
			       "ProxyPass /a/ balancer://p/ lbmethod=bytraffic nofailover=On\n"
			       "BalancerMember balancer://p http://127.0.0.1:8001 status=+D-D+S\n"
			       "ProxySet balancer://p stickysession=SID\n"
			       "RewriteEngine On\n"
			       "RewriteRule ^/b/(.*) balancer://p/$1 [P]\n"), 0);
	ck_assert_uint_eq(cfg.balancer[0].lbmethod, CFG_LB_BYTRAFFIC);
	ck_assert(cfg.balancer[0].nofailover);
	ck_assert_uint_eq(cfg.balancer[0].member[0].status, CFG_MEMBER_STOPPED);
	ck_assert_str_eq(cfg.balancer[0].sticky_cookie, "SID");
	ck_assert_str_eq(cfg.balancer[0].sticky_param, "SID");
	ck_assert_int_eq(cfg.rw.rule[0].backend, CFG_BALANCER_BASE);
}
END_TEST

START_TEST(test_config_errors)
{
	static const char L[] = "Listen 127.0.0.1:8080\nProxyPass / balancer://a/\n";
	char t[1024];

#define BAD(body, line, msg) do { \
		snprintf(t, sizeof(t), "%s<Proxy balancer://a>\n%s</Proxy>\n", L, body); \
		ck_parse_err(t, line, msg); \
	} while (0)
	BAD("BalancerMember http://127.0.0.1:1 smax=2\n", 4, "parameter \"smax\" is not supported");
	BAD("BalancerMember http://127.0.0.1:1 loadfactor=0\n", 4, "loadfactor");
	BAD("BalancerMember http://127.0.0.1:1 loadfactor=101\n", 4, "loadfactor");
	BAD("BalancerMember http://127.0.0.1:1 status=+E\n", 4, "status \"+E\"");
	BAD("BalancerMember http://127.0.0.1:1 route=a/b\n", 4, "route \"a/b\"");
	BAD("BalancerMember http://127.0.0.1:1/x\n", 4, "a path in a member's URL");
	BAD("BalancerMember http://127.0.0.1:1\nBalancerMember http://127.0.0.1:1\n", 5,
	    "already a member of balancer://a (line 4)");
	BAD("BalancerMember balancer://b\n", 4, "balancer://b is not the balancer of this");
	BAD("BalancerMember balancer://a balancer://b\n", 4, "a member cannot be a balancer");
	BAD("BalancerMember http://127.0.0.1:1\nProxySet lbmethod=heartbeat\n", 5,
	    "lbmethod \"heartbeat\" is not supported");
	BAD("BalancerMember http://127.0.0.1:1\nProxySet growth=4\n", 5,
	    "parameter \"growth\" is not supported");
	BAD("BalancerMember http://127.0.0.1:1\nProxyPass /x/ http://127.0.0.1:2/\n", 5,
	    "ProxyPass is not supported in <Proxy>");
	BAD("BalancerMember http://127.0.0.1:1\n<Location /x>\n", 5, "not allowed in <Proxy>");
#undef BAD
	ck_parse_err("Listen 127.0.0.1:8080\nProxyPass / balancer://nobody/\n", 2,
		     "balancer://nobody has no BalancerMember");
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy http://127.0.0.1:1>\n</Proxy>\n", 2,
		     "only balancer:// sections are supported");
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\nBalancerMember "
		     "http://127.0.0.1:1\n", 2, "<Proxy> section is not closed");
	ck_parse_err("Listen 127.0.0.1:8080\nBalancerMember http://127.0.0.1:1\n", 2,
		     "the balancer comes first");
	ck_parse_err("Listen 127.0.0.1:8080\nProxySet http://127.0.0.1:1 max=2\n", 2,
		     "only balancer:// pools take ProxySet");
	ck_parse_err("Listen 127.0.0.1:8080\nProxyPass / balancer://a/ max=3\n"
		     "BalancerMember balancer://a http://127.0.0.1:1\n", 2,
		     "max= belongs to each member");
	ck_parse_err("Listen 127.0.0.1:8080\nProxyPass / balancer://a%b/\n", 2,
		     "a balancer is named balancer://NAME");
	ck_parse_err("Listen 127.0.0.1:8080\n<VirtualHost *:8080>\n<Proxy balancer://a>\n", 3,
		     "balancers are defined in the main server");
}
END_TEST

/* ---- health checks ------------------------------------------------------------------ */

static bool expr_passes(const char *expr, unsigned status)
{
	struct cfg_hcexpr e = { .name = "x" };
	char msg[256];

	ck_assert_msg(bal_hcexpr_compile(expr, e.pass, msg, sizeof(msg)) == 0, "%s: %s", expr, msg);
	return bal_hc_passes(&e, status);
}

START_TEST(test_hcexpr)
{
	char msg[256];
	uint8_t pass[125];

	ck_assert(expr_passes("%{REQUEST_STATUS} =~ /^[23]/", 200));
	ck_assert(expr_passes("%{REQUEST_STATUS} =~ /^[23]/", 302));
	ck_assert(!expr_passes("%{REQUEST_STATUS} =~ /^[23]/", 404));
	ck_assert(!expr_passes("%{REQUEST_STATUS} !~ /^5/", 503));
	ck_assert(expr_passes("%{REQUEST_STATUS} !~ /^5/", 404));
	ck_assert(expr_passes("%{REQUEST_STATUS} -lt 400", 399));
	ck_assert(!expr_passes("%{REQUEST_STATUS} -lt 400", 400));
	ck_assert(expr_passes("%{REQUEST_STATUS} == 204", 204));
	ck_assert(!expr_passes("%{REQUEST_STATUS} == 204", 200));
	ck_assert(expr_passes("  %{REQUEST_STATUS}>=500", 999));
	ck_assert(expr_passes("%{REQUEST_STATUS} -ne '200'", 201));
	ck_assert(!expr_passes("%{REQUEST_STATUS} -ne '200'", 200));
	ck_assert_int_eq(bal_hcexpr_compile("hc('body') =~ /OK/", pass, msg, sizeof(msg)), -1);
	ck_assert(strstr(msg, "hc('body')"));
	ck_assert_int_eq(bal_hcexpr_compile("%{REQUEST_STATUS} =~ /^2/ && true", pass, msg,
					    sizeof(msg)), -1);
	ck_assert_int_eq(bal_hcexpr_compile("%{REQUEST_STATUS} =~ /(/", pass, msg, sizeof(msg)),
			 -1);
	ck_assert(strstr(msg, "bad regular expression"));
	ck_assert_int_eq(bal_hcexpr_compile("%{REQUEST_STATUS} -lt x", pass, msg, sizeof(msg)), -1);
	ck_assert_int_eq(bal_hcexpr_compile("%{REQUEST_STATUS} in {'200'}", pass, msg,
					    sizeof(msg)), -1);
	/* without an expression: 2xx and 3xx pass, as httpd */
	ck_assert(bal_hc_passes(NULL, 200) && bal_hc_passes(NULL, 399));
	ck_assert(!bal_hc_passes(NULL, 199) && !bal_hc_passes(NULL, 400) && !bal_hc_passes(NULL, 0));
}
END_TEST

START_TEST(test_hc_status)
{
	ck_assert_uint_eq(bal_hc_status("HTTP/1.1 200 OK\r\n", 17), 200);
	ck_assert_uint_eq(bal_hc_status("HTTP/1.0 503", 12), 503);
	ck_assert_uint_eq(bal_hc_status("HTTP/1.0 50", 11), 0);
	ck_assert_uint_eq(bal_hc_status("HTTP/2.0 200 OK", 15), 0);
	ck_assert_uint_eq(bal_hc_status("HTTP/1.1 2x0 OK", 15), 0);
	ck_assert_uint_eq(bal_hc_status("HTTP/1.1 099 OK", 15), 0);
}
END_TEST

START_TEST(test_config_hc)
{
	const struct cfg_member *m;

	ck_assert_int_eq(parse("Listen 127.0.0.1:8080\n"
			       "ProxyHCExpr ok {%{REQUEST_STATUS} =~ /^[23]/}\n"
			       "<Proxy balancer://a>\n"
			       "BalancerMember http://127.0.0.1:1 hcmethod=GET hcuri=/health "
			       "hcinterval=5 hcpasses=3 hcfails=2 hcexpr=ok\n"
			       "BalancerMember http://127.0.0.1:2 hcmethod=tcp\n"
			       "BalancerMember http://127.0.0.1:3\n"
			       "</Proxy>\nProxyPass / balancer://a/\n"), 0);
	m = &cfg.balancer[0].member[0];
	ck_assert_uint_eq(m->hcmethod, CFG_HC_GET);
	ck_assert_str_eq(m->hcuri, "/health");
	ck_assert_uint_eq(m->hcinterval_ms, 5000);
	ck_assert_uint_eq(m->hcpasses, 3);
	ck_assert_uint_eq(m->hcfails, 2);
	ck_assert_int_eq(m->hcexpr, 0);
	m = &cfg.balancer[0].member[1];
	ck_assert_uint_eq(m->hcmethod, CFG_HC_TCP);
	ck_assert_uint_eq(m->hcinterval_ms, 30000);         /* httpd's defaults */
	ck_assert_uint_eq(m->hcpasses, 1);
	ck_assert_uint_eq(m->hcfails, 1);
	ck_assert_str_eq(m->hcuri, "/");
	ck_assert_int_eq(m->hcexpr, -1);
	ck_assert_uint_eq(cfg.balancer[0].member[2].hcmethod, CFG_HC_NONE);
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
		     "BalancerMember http://127.0.0.1:1 hcmethod=GET hcexpr=nope\n</Proxy>\n"
		     "ProxyPass / balancer://a/\n", 3, "hcexpr=nope: no ProxyHCExpr of that name");
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
		     "BalancerMember http://127.0.0.1:1 hcmethod=OPTIONS11\n</Proxy>\n", 3,
		     "hcmethod \"OPTIONS11\" is not supported");
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
		     "BalancerMember http://127.0.0.1:1 hctemplate=t\n</Proxy>\n", 3,
		     "parameter \"hctemplate\" is not supported");
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
		     "BalancerMember http://127.0.0.1:1 hcuri=health\n</Proxy>\n", 3,
		     "must start with '/'");
	ck_parse_err("Listen 127.0.0.1:8080\nProxyHCExpr x %{REQUEST_STATUS} == 200\n", 2,
		     "written in braces");
	ck_parse_err("Listen 127.0.0.1:8080\nProxyHCExpr x {%{REQUEST_STATUS} == 200}\n"
		     "ProxyHCExpr x {%{REQUEST_STATUS} == 201}\n", 3, "already defined on line 2");
	ck_parse_err("Listen 127.0.0.1:8080\nProxyHCTemplate t hcmethod=GET\n", 2,
		     "unknown directive \"ProxyHCTemplate\"");
}
END_TEST

/* ---- members by load (ondemandmin=) ------------------------------------------------- */

START_TEST(test_ondemand_step)
{
	struct cfg_balancer b;
	struct bal_od_view v[3];
	uint64_t since = 0;
	uint32_t stop;

	pool(&b, 3, NULL, NULL, CFG_LB_BYREQUESTS);
	b.od_min = 1;
	b.od_wait_ms = 300;
	b.od_idle_ms = 2000;
	memset(v, 0, sizeof(v));
	/* at the start all run, never used: the two beyond od_min drain, then are parked
	 * (their stop bits set: the caller skips those never used) */
	v[0].last_ms = v[1].last_ms = v[2].last_ms = 0;
	ck_assert_uint_eq(bal_od_step(&b, v, 5000, &since), 0);
	ck_assert_uint_eq(v[0].od, BAL_OD_RUNNING);
	ck_assert_uint_eq(v[1].od, BAL_OD_DRAINING);
	ck_assert_uint_eq(v[2].od, BAL_OD_DRAINING);
	ck_assert_uint_eq(bal_od_step(&b, v, 5100, &since), 0x6);
	ck_assert_uint_eq(v[1].od, BAL_OD_PARKED);
	/* the running one saturated: 300 ms later the first parked one runs */
	v[0].saturated = true;
	v[0].busy = 4;
	ck_assert_uint_eq(bal_od_step(&b, v, 6000, &since), 0);
	ck_assert_uint_eq(since, 6000);
	bal_od_step(&b, v, 6200, &since);
	ck_assert_uint_eq(v[1].od, BAL_OD_PARKED);
	bal_od_step(&b, v, 6300, &since);
	ck_assert_uint_eq(v[1].od, BAL_OD_RUNNING);
	ck_assert_uint_eq(v[1].last_ms, 6300);
	ck_assert_uint_eq(v[2].od, BAL_OD_PARKED);
	/* one of the two running is not saturated: nothing more joins */
	bal_od_step(&b, v, 7000, &since);
	bal_od_step(&b, v, 8000, &since);
	ck_assert_uint_eq(v[2].od, BAL_OD_PARKED);
	ck_assert_uint_eq(since, 0);
	/* member 1 idle for ondemandidle, but a request in flight keeps it */
	v[1].busy = 1;
	bal_od_step(&b, v, 9000, &since);
	ck_assert_uint_eq(v[1].od, BAL_OD_RUNNING);
	v[1].busy = 0;
	bal_od_step(&b, v, 9000, &since);
	ck_assert_uint_eq(v[1].od, BAL_OD_DRAINING);
	/* draining: requests still in flight (given before) keep it until they are done */
	v[1].busy = 2;
	ck_assert_uint_eq(bal_od_step(&b, v, 9100, &since), 0);
	v[1].busy = 0;
	stop = bal_od_step(&b, v, 9200, &since);
	ck_assert_uint_eq(stop, 0x2);
	ck_assert_uint_eq(v[1].od, BAL_OD_PARKED);
	/* the first od_min running members never leave, however idle */
	v[0].busy = 0;
	v[0].saturated = false;
	bal_od_step(&b, v, 100000, &since);
	ck_assert_uint_eq(v[0].od, BAL_OD_RUNNING);
}
END_TEST

/* Another worker gave the member a request a moment after this worker's clock was read
 * (last_ms is stored from each worker's own clock): it was not idle for 2^64 ms. */
START_TEST(test_ondemand_clock_ahead)
{
	struct cfg_balancer b;
	struct bal_od_view v[2];
	uint64_t since = 0;

	pool(&b, 2, NULL, NULL, CFG_LB_BYREQUESTS);
	b.od_min = 1;
	b.od_wait_ms = 300;
	b.od_idle_ms = 2000;
	memset(v, 0, sizeof(v));
	v[0].last_ms = 9000;
	v[1].last_ms = 10003;          /* worker 1's clock, 3 ms ahead of this step's */
	ck_assert_uint_eq(bal_od_step(&b, v, 10000, &since), 0);
	ck_assert_uint_eq(v[1].od, BAL_OD_RUNNING);
	/* idle for ondemandidle by the clock of the step: it leaves as before */
	bal_od_step(&b, v, 12003, &since);
	ck_assert_uint_eq(v[1].od, BAL_OD_DRAINING);
}
END_TEST

START_TEST(test_config_ondemand)
{
	ck_assert_int_eq(parse("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
			       "BalancerMember http://127.0.0.1:1\nBalancerMember http://127.0.0.1:2\n"
			       "ProxySet ondemandmin=1 ondemandwait=2s\n</Proxy>\n"
			       "ProxyPass / balancer://a/\n"
			       "ProxyAutostart http://127.0.0.1:1 -- /bin/true\n"
			       "ProxyAutostart http://127.0.0.1:2 -- /bin/true\n"), 0);
	ck_assert_uint_eq(cfg.balancer[0].od_min, 1);
	ck_assert_uint_eq(cfg.balancer[0].od_wait_ms, 2000);
	ck_assert_uint_eq(cfg.balancer[0].od_idle_ms, 60000);
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
		     "BalancerMember http://127.0.0.1:1\nBalancerMember http://127.0.0.1:2\n"
		     "ProxySet ondemandmin=1\n</Proxy>\nProxyPass / balancer://a/\n"
		     "ProxyAutostart http://127.0.0.1:1 -- /bin/true\n", 4,
		     "http://127.0.0.1:2 is a member of balancer://a (ondemandmin=) but no "
		     "ProxyAutostart line starts it");
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
		     "BalancerMember http://127.0.0.1:1\nProxySet ondemandmin=2\n</Proxy>\n"
		     "ProxyPass / balancer://a/\nProxyAutostart http://127.0.0.1:1 -- /bin/true\n",
		     2, "ondemandmin=2 but 1 members");
	ck_parse_err("Listen 127.0.0.1:8080\n<Proxy balancer://a>\n"
		     "BalancerMember http://127.0.0.1:1\nProxySet ondemandidle=5\n</Proxy>\n"
		     "ProxyPass / balancer://a/\n", 2, "need ondemandmin=");
}
END_TEST

static Suite *balancer_suite(void)
{
	const struct ck_case cases[] = {
		{ "byrequests_sequence", test_byrequests_sequence, 0 },
		{ "byrequests_shares", test_byrequests_shares, 0 },
		{ "unusable_skipped", test_unusable_skipped, 0 },
		{ "hot_standby", test_hot_standby, 0 },
		{ "bybusyness", test_bybusyness, 0 },
		{ "bytraffic", test_bytraffic, 0 },
		{ "sticky_values", test_sticky_values, 0 },
		{ "route_member", test_route_member, 0 },
		{ "sticky_cookie_fields", test_sticky_cookie_fields, 0 },
		{ "sticky_url_first", test_sticky_url_first, 0 },
		{ "config_pool", test_config_pool, 0 },
		{ "config_outside", test_config_outside, 0 },
		{ "config_errors", test_config_errors, 0 },
		{ "hcexpr", test_hcexpr, 0 },
		{ "hc_status", test_hc_status, 0 },
		{ "config_hc", test_config_hc, 0 },
		{ "ondemand_step", test_ondemand_step, 0 },
		{ "ondemand_clock_ahead", test_ondemand_clock_ahead, 0 },
		{ "config_ondemand", test_config_ondemand, 0 },
	};
	Suite *s = suite_create("balancer");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(balancer_suite());
}
