/* End-to-end suite for what the client sees of a backend's own addresses: ProxyPassReverse
 * (Location, Content-Location, URI) and ProxyPassReverseCookiePath/-Domain (Set-Cookie),
 * with the real spliced binary in front of the real tools/testbackend, whose location= and
 * cookie= query parameters make it send the fields under test.
 *
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets both). Every test
 * starts its own processes; every wait is bounded and nothing here measures speed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

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

/* "GET target HTTP/1.1" with Host: host, one response. */
static void get_host(struct e2e_client *c, const char *target, const char *host,
		     struct e2e_response *r)
{
	char req[4096];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

/* The response header `name` is `want`. */
static void ck_header_eq(const struct e2e_response *r, const char *name, const char *want)
{
	const char *v = e2e_header(r, name);

	ck_assert_msg(v && strcmp(v, want) == 0, "expected header %s: %s, got %s; head:\n%s",
		      name, want, v ? e2e_escs(v) : "(absent)", e2e_escs(r->head));
}

/* ---- ProxyPassReverse --------------------------------------------------------------- */

/* The demo's mapping: a backend redirect to its own address reaches the client as the
 * same place under /app/ on the host and port the client used. */
START_TEST(test_location_mapped)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char target[256], want[256], host[64];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /app/ http://127.0.0.1:%d/\n"
			   "ProxyPassReverse /app/ http://127.0.0.1:%d/\n", be.port, be.port);
	e2e_client_open(&c, sp.port);
	snprintf(host, sizeof(host), "127.0.0.1:%d", sp.port);

	snprintf(target, sizeof(target), "/app/sub?status=301&location=http://127.0.0.1:%d/sub/",
		 be.port);
	get_host(&c, target, host, &r);
	ck_status(&r, 301);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/app/sub/", sp.port);
	ck_header_eq(&r, "Location", want);
	e2e_response_free(&r);

	/* the client's host as it sent it, whatever it is */
	get_host(&c, target, "www.Example.org", &r);
	ck_header_eq(&r, "Location", "http://www.Example.org/app/sub/");
	e2e_response_free(&r);

	/* a relative reference and another origin pass unchanged, as with httpd */
	get_host(&c, "/app/x?status=302&location=/sub/", host, &r);
	ck_header_eq(&r, "Location", "/sub/");
	e2e_response_free(&r);
	get_host(&c, "/app/x?status=302&location=http://127.0.0.1:1/sub/", host, &r);
	ck_header_eq(&r, "Location", "http://127.0.0.1:1/sub/");
	e2e_response_free(&r);

	/* HTTP/1.0 without Host: the mapped path alone */
	snprintf(target, sizeof(target), "GET /app/x?status=302&location=http://127.0.0.1:%d/q "
		 "HTTP/1.0\r\n\r\n", be.port);
	e2e_roundtrip(&c, target, strlen(target), &r, false);
	ck_header_eq(&r, "Location", "/app/q");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* Without ProxyPassReverse the backend's address reaches the client, as with httpd. */
START_TEST(test_location_unmapped_without_directive)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char target[256], want[128];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /app/ http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/sub/", be.port);
	snprintf(target, sizeof(target), "/app/x?status=301&location=%s", want);
	get_host(&c, target, "h", &r);
	ck_header_eq(&r, "Location", want);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* ProxyPreserveHost On changes nothing in the mapping (httpd neither): a backend that
 * builds its URLs from the client's Host needs no mapping, one that names itself is
 * mapped. */
START_TEST(test_location_preserve_host)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char target[256];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPreserveHost On\nProxyPass /app/ http://127.0.0.1:%d/\n"
			   "ProxyPassReverse /app/ http://127.0.0.1:%d/\n", be.port, be.port);
	e2e_client_open(&c, sp.port);
	snprintf(target, sizeof(target), "/app/x?status=303&location=http://127.0.0.1:%d/done",
		 be.port);
	get_host(&c, target, "front.example:8443", &r);
	ck_status(&r, 303);
	ck_header_eq(&r, "Location", "http://front.example:8443/app/done");
	e2e_response_free(&r);
	get_host(&c, "/app/x?status=303&location=http://front.example:8443/app/done",
		 "front.example:8443", &r);
	ck_header_eq(&r, "Location", "http://front.example:8443/app/done");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* A <VirtualHost>'s ProxyPassReverse applies to its requests only. */
START_TEST(test_location_vhost)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char target[256], orig[128];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "<VirtualHost *>\nServerName v.example\n"
			   "ProxyPassReverse /v/ http://127.0.0.1:%d/\n</VirtualHost>\n",
			   be.port, be.port);
	e2e_client_open(&c, sp.port);
	snprintf(orig, sizeof(orig), "http://127.0.0.1:%d/k", be.port);
	snprintf(target, sizeof(target), "/x?status=302&location=%s", orig);
	get_host(&c, target, "v.example", &r);
	ck_header_eq(&r, "Location", "http://v.example/v/k");
	e2e_response_free(&r);
	get_host(&c, target, "other.example", &r);
	ck_header_eq(&r, "Location", orig);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* Set-Cookie's Path= and Domain= as ProxyPassReverseCookiePath/-Domain say; the rest of
 * the cookie as the backend sent it. */
START_TEST(test_cookie_path_domain)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /app/ http://127.0.0.1:%d/\n"
			   "ProxyPassReverseCookiePath / /app/\n"
			   "ProxyPassReverseCookieDomain backend.lan www.example.org\n", be.port);
	e2e_client_open(&c, sp.port);
	get_host(&c, "/app/x?cookie=sid=abc;%20Path=/;%20HttpOnly;%20domain=backend.lan",
		 "www.example.org", &r);
	ck_status(&r, 200);
	ck_header_eq(&r, "Set-Cookie", "sid=abc; Path=/app/; HttpOnly; domain=www.example.org");
	e2e_response_free(&r);
	/* a domain that does not start with INTERNAL passes */
	get_host(&c, "/app/x?cookie=a=b;%20Domain=other.lan", "h", &r);
	ck_header_eq(&r, "Set-Cookie", "a=b; Domain=other.lan");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* A head that cannot be rewritten within bounds is a 502 naming the reason, never the
 * backend's address passed along; without a mapping the same head passes. */
START_TEST(test_out_of_bounds_502)
{
	struct e2e_proc be = { 0 }, sp = { 0 }, be2 = { 0 }, sp2 = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char target[256], host[64];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyPassReverse /a-somewhat-long-public-prefix/ http://127.0.0.1:%d/\n"
			   "ProxyPassReverseCookiePath / /app/\n", be.port, be.port);
	e2e_client_open(&c, sp.port);
	snprintf(host, sizeof(host), "127.0.0.1:%d", sp.port);
	/* 20 mapped Location fields: more new text than the head has room for */
	snprintf(target, sizeof(target), "/x?repeat=20&location=http://127.0.0.1:%d/", be.port);
	get_host(&c, target, host, &r);
	ck_status(&r, 502);
	ck_assert_ptr_null(e2e_header(&r, "Location"));
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_msg(e2e_log_wait_for(&sp, "response head cannot be rewritten for "
				       "ProxyPassReverse", 5000), "%s", e2e_diag());
	/* 40 Set-Cookie fields: more than the scanner notes */
	e2e_client_open(&c, sp.port);
	get_host(&c, "/x?repeat=40&cookie=a=b;%20Path=/", host, &r);
	ck_status(&r, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_msg(e2e_log_wait_for(&sp, "too many fields to rewrite", 5000), "%s", e2e_diag());
	stop_spliced_ok(&sp);

	/* no ProxyPassReverse*: the same responses pass */
	e2e_backend_start(&be2, NULL);
	e2e_spliced_startf(&sp2, "ProxyPass / http://127.0.0.1:%d/\n", be2.port);
	e2e_client_open(&c, sp2.port);
	get_host(&c, "/x?repeat=40&cookie=a=b;%20Path=/", "h", &r);
	ck_status(&r, 200);
	ck_assert_uint_eq(e2e_header_count(&r, "Set-Cookie"), 40);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp2);
	e2e_backend_stop(&be2);
	e2e_backend_stop(&be);
}
END_TEST

static Suite *reverse_suite(void)
{
	Suite *s = suite_create("e2e_reverse");
	const struct ck_case cases[] = {
		{ "location_mapped", test_location_mapped, 0 },
		{ "location_unmapped", test_location_unmapped_without_directive, 0 },
		{ "location_preserve_host", test_location_preserve_host, 0 },
		{ "location_vhost", test_location_vhost, 0 },
		{ "cookie_path_domain", test_cookie_path_domain, 0 },
		{ "out_of_bounds_502", test_out_of_bounds_502, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(reverse_suite());
}
