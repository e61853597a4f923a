/* End-to-end suite for the defects a security review found (issue 10), each through the
 * real spliced binary and the real tools/testbackend: one host per request, THE_REQUEST as
 * sent, fields a backend could be fooled by, per-exchange state, the metrics page, path
 * parameters, HEAD refusals, the query sent upstream and the error log's levels. Every
 * case failed on the code before its fix. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "suite.h"

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; head:\n%s\n%s", (want), \
		      (r)->status, e2e_escs((r)->head), e2e_diag())

/* The backend's echo (its body) holds this line. */
#define ck_echo_line(r, line) \
	ck_assert_msg(e2e_head_has_line((r)->body, (r)->body_len, (line)), \
		      "the backend did not receive \"%s\"; it received:\n%s", e2e_escs(line), \
		      e2e_esc((r)->body, (r)->body_len))

static void send_req(struct e2e_client *c, const char *text, struct e2e_response *r,
		     bool head)
{
	e2e_roundtrip(c, text, strlen(text), r, head);
}

static size_t record_size(const struct e2e_proc *be)
{
	size_t n = 0;
	char *rec = e2e_read_file(be->record, &n);

	free(rec);
	return rec ? n : 0;
}

/* ---- one host per request (absolute-form and rewrites) ---------------------------- */

/* The case: admin.example forbids /admin; public.example proxies everything. An
 * absolute-form request names public.example, its Host field admin.example: the rules,
 * the Host sent upstream and X-Forwarded-Host all see the one host the request names in
 * its target (RFC 9112 3.2.2), never the other. */
START_TEST(test_absolute_form_one_host)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp,
			   "ProxyPreserveHost On\n"
			   "<VirtualHost *>\n"
			   "  ServerName public.example\n"
			   "  RewriteEngine On\n"
			   "  RewriteRule ^/(.*) http://127.0.0.1:%d/$1 [P]\n"
			   "</VirtualHost>\n"
			   "<VirtualHost *>\n"
			   "  ServerName admin.example\n"
			   "  RewriteEngine On\n"
			   "  RewriteRule ^/admin - [F]\n"
			   "  RewriteRule ^/(.*) http://127.0.0.1:%d/$1 [P]\n"
			   "</VirtualHost>\n", be.port, be.port);
	e2e_client_open(&c, sp.port);
	send_req(&c, "GET http://public.example/admin HTTP/1.1\r\nHost: admin.example\r\n\r\n",
		 &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "GET /admin HTTP/1.1");
	ck_echo_line(&r, "Host: public.example");
	ck_echo_line(&r, "X-Forwarded-Host: public.example");
	ck_assert_msg(!memmem(r.body, r.body_len, "admin.example", 13),
		      "the other host reached the backend:\n%s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	/* the other way round: admin.example's rules apply, whatever Host says */
	send_req(&c, "GET http://admin.example/admin HTTP/1.1\r\nHost: public.example\r\n\r\n",
		 &r, false);
	ck_status(&r, 403);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* A rule that rewrites to a URL-path (not [P]) makes the head be parsed again: the host
 * still is the absolute-form authority for ProxyPass, Host and X-Forwarded-Host, and for
 * %{HTTP_HOST} and %{HTTP:Host} in the rules. */
START_TEST(test_absolute_form_after_rewrite)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp,
			   "ProxyPreserveHost On\n"
			   "RewriteEngine On\n"
			   "RewriteCond %%{HTTP_HOST} =public.example\n"
			   "RewriteCond %%{HTTP:Host} =public.example\n"
			   "RewriteRule ^/old/(.*) /new/$1\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	send_req(&c, "GET http://public.example/old/x HTTP/1.1\r\nHost: admin.example\r\n\r\n",
		 &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "GET /new/x HTTP/1.1");
	ck_echo_line(&r, "Host: public.example");
	ck_echo_line(&r, "X-Forwarded-Host: public.example");
	ck_assert_uint_eq(e2e_head_field_count(r.body, r.body_len, "Host"), 1);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- THE_REQUEST ------------------------------------------------------------------ */

/* %{THE_REQUEST} is the request line exactly as sent, although the path is normalized in
 * place before the rules run ("/a/./b" read as "/a/a/b", "/x/../admin" as "/admi/admin"
 * before). */
START_TEST(test_the_request_as_sent)
{
	static const char *const lines[] = { "GET /a/./b HTTP/1.1", "GET /x/../admin HTTP/1.1",
					     "GET /%61dmin//x?q=%2e HTTP/1.1" };
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char req[256];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp,
			   "RewriteEngine On\n"
			   "RewriteCond \"%%{THE_REQUEST}\" \"=%s\" [OR]\n"
			   "RewriteCond \"%%{THE_REQUEST}\" \"=%s\" [OR]\n"
			   "RewriteCond \"%%{THE_REQUEST}\" \"=%s\"\n"
			   "RewriteRule ^ - [F]\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", lines[0], lines[1], lines[2], be.port);
	e2e_client_open(&c, sp.port);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(req, sizeof(req), "%s\r\nHost: h\r\n\r\n", lines[i]);
		send_req(&c, req, &r, false);
		ck_assert_msg(r.status == 403, "%s: THE_REQUEST did not match, status %d", lines[i],
			      r.status);
		e2e_response_free(&r);
		e2e_client_close(&c);   /* a 403 page closes the connection */
		e2e_client_open(&c, sp.port);
	}
	/* and a line that differs is not matched */
	send_req(&c, "GET /a/b HTTP/1.1\r\nHost: h\r\n\r\n", &r, false);
	ck_status(&r, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- fields a backend could be fooled by ------------------------------------------ */

/* WSGI maps X_Forwarded_For and X-Forwarded-For to one variable, the later winning: names
 * with '_' are not forwarded (counted in the metrics), Forwarded and X-Real-IP neither. */
START_TEST(test_underscore_and_client_forwarding_fields)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	int mport = e2e_free_port();
	char v[256];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nMetricsListen 127.0.0.1:%d\n",
			   be.port, mport);
	e2e_client_open(&c, sp.port);
	send_req(&c, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n"
		     "X_Forwarded_For: 6.6.6.6\r\nMy_Field: a\r\nForwarded: for=6.6.6.6\r\n"
		     "X-Real-IP: 6.6.6.6\r\nKept: yes\r\n\r\n", &r, false);
	ck_status(&r, 200);
	ck_assert_ptr_nonnull(e2e_head_field(r.body, r.body_len, "X-Forwarded-For", v, sizeof(v)));
	ck_assert_str_eq(v, "1.1.1.1, 127.0.0.1");
	ck_echo_line(&r, "Kept: yes");
	ck_assert_msg(!memmem(r.body, r.body_len, "6.6.6.6", 7) &&
		      !memmem(r.body, r.body_len, "My_Field", 8),
		      "a field the backend could be fooled by was forwarded:\n%s",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);

	e2e_client_open(&c, mport);
	send_req(&c, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n", &r, false);
	ck_status(&r, 200);
	ck_assert_msg(memmem(r.body, r.body_len,
			     "spliced_request_fields_dropped_total{reason=\"underscore\"} 2\n", 60),
		      "metrics:\n%s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* UnderscoresInHeaders On forwards names with '_', except those that fold onto a field
 * spliced acts on. */
START_TEST(test_underscores_allowed)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "UnderscoresInHeaders On\nProxyPass / http://127.0.0.1:%d/\n",
			   be.port);
	e2e_client_open(&c, sp.port);
	send_req(&c, "GET / HTTP/1.1\r\nHost: h\r\nMy_Field: a\r\nX_Forwarded_Host: evil\r\n"
		     "Content_Length: 99\r\n\r\n", &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "My_Field: a");
	ck_assert_msg(!memmem(r.body, r.body_len, "evil", 4) &&
		      !memmem(r.body, r.body_len, "Content_Length", 14),
		      "a folding name was forwarded:\n%s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* A Host that is a list (Rack and Werkzeug take its last element from X-Forwarded-Host)
 * or holds other reg-name characters is refused, and nothing reaches the backend. */
START_TEST(test_host_one_name)
{
	static const char *const bad[] = { "a.example,admin.example", "a.example, admin.example",
					   "a;b", "a%2Cb", "a!b" };
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char req[256];

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e2e_client_open(&c, sp.port);
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
		send_req(&c, req, &r, false);
		ck_assert_msg(r.status == 400, "Host %s: status %d", bad[i], r.status);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert_uint_eq(record_size(&be), 0);
	/* a valid one still goes through */
	e2e_client_open(&c, sp.port);
	send_req(&c, "GET / HTTP/1.1\r\nHost: A-b_c.Example:8080\r\n\r\n", &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "X-Forwarded-Host: A-b_c.Example:8080");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- per-exchange state ------------------------------------------------------------ */

/* A head that stops coming on the second request of a keep-alive connection is answered
 * 408 like on the first (it closed without a page before: resp_started of the first
 * exchange was still set). */
START_TEST(test_408_on_later_request)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "Timeout 1\nProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	for (int i = 0; i < 2; i++) {
		send_req(&c, "GET /?len=5 HTTP/1.1\r\nHost: h\r\n\r\n", &r, false);
		ck_status(&r, 200);
		e2e_response_free(&r);
	}
	ck_assert_int_eq(e2e_send_str(&c, "GET / HTTP/1.1\r\nHo"), 0);
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "no 408 page: %s; %s", r.err,
		      e2e_diag());
	ck_status(&r, 408);
	ck_assert_str_eq(e2e_header(&r, "Connection") ?: "", "close");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- the metrics page always renders ---------------------------------------------- */

/* Distinct malformed requests on many workers made the page larger than its fixed buffer
 * (500 for good). Now it grows: 200, and every refusal is counted on it. */
START_TEST(test_metrics_many_reasons)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
		"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.x\r\nHost: a\r\n\r\n",
		"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /?q=1% HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET foo HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nFoo : b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nF(o: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nFoo: \x01\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n",
		"GET /../x HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /..;/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://a HTTP/1.1\r\nHost: a\r\n\r\n",
	};
	enum { ROUNDS = 36 };
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	int mport = e2e_free_port(), be = e2e_dead_port();
	unsigned long long total = 0;
	const char *p;

	e2e_spliced_startf(&sp, "Workers 24\nProxyPass / http://127.0.0.1:%d/\n"
			   "MetricsListen 127.0.0.1:%d\n", be, mport);
	/* new connections spread over the workers (SO_REUSEPORT hashes the source port) */
	for (int k = 0; k < ROUNDS; k++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			e2e_client_open(&c, sp.port);
			ck_assert_int_eq(e2e_send_str(&c, bad[i]), 0);
			ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "%s: %s",
				      e2e_escs(bad[i]), r.err);
			ck_assert_msg(r.status >= 400, "%s: status %d", e2e_escs(bad[i]), r.status);
			e2e_response_free(&r);
			e2e_client_close(&c);
		}
	}
	e2e_client_open(&c, mport);
	send_req(&c, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n", &r, false);
	ck_status(&r, 200);
	ck_assert_uint_gt(r.body_len, 32768); /* over the old fixed page */
	for (p = (const char *)r.body; (p = strstr(p, "\nspliced_parse_errors_total{")) != NULL; ) {
		const char *sp_ = strchr(p, '}');

		ck_assert_ptr_nonnull(sp_);
		total += strtoull(sp_ + 2, NULL, 10);
		p = sp_;
	}
	ck_assert_msg(total == ROUNDS * (sizeof(bad) / sizeof(bad[0])),
		      "parse errors counted on the page: %llu of %zu", total,
		      ROUNDS * (sizeof(bad) / sizeof(bad[0])));
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* ---- path parameters and exclusions ----------------------------------------------- */

/* Java servers route "/admin;x/secret" to /admin/secret and "/public/..;/admin" to
 * /admin: neither passes "ProxyPass /admin/ !". A prefix mapped to itself sends the
 * parameters unchanged. */
START_TEST(test_path_params_exclusion)
{
	static const char *const excluded[] = { "/admin;x/secret", "/admin;/secret",
						"/;x/admin/secret", "/admin;jsessionid=1/" };
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char req[256];

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /admin/ !\nProxyPass /app/ http://127.0.0.1:%d/app/\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", be.port, be.port);
	e2e_client_open(&c, sp.port);
	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", excluded[i]);
		send_req(&c, req, &r, false);
		ck_assert_msg(r.status == 404, "%s: status %d", excluded[i], r.status);
		e2e_response_free(&r);
		e2e_client_close(&c);   /* the 404 page closes the connection */
		e2e_client_open(&c, sp.port);
	}
	for (size_t i = 0; i < 2; i++) {
		send_req(&c, i ? "GET /public/.;/admin/x HTTP/1.1\r\nHost: h\r\n\r\n"
			       : "GET /public/..;/admin/x HTTP/1.1\r\nHost: h\r\n\r\n", &r, false);
		ck_status(&r, 400);
		e2e_response_free(&r);
		e2e_client_close(&c);
		e2e_client_open(&c, sp.port);
	}
	ck_assert_uint_eq(record_size(&be), 0);
	send_req(&c, "GET /app;jsessionid=A1/page;v=2?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "GET /app;jsessionid=A1/page;v=2?x=1 HTTP/1.1");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- HEAD refused by the parser --------------------------------------------------- */

/* A response to HEAD has no body, also when spliced refuses the request itself. */
START_TEST(test_head_refusal_without_body)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
		{ "HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
		{ "HEAD / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n", 417 },
		{ "HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
	};
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	unsigned char *rest;
	size_t rest_len;

	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n", e2e_dead_port());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e2e_client_open(&c, sp.port);
		send_req(&c, cases[i].req, &r, true);
		ck_status(&r, cases[i].status);
		ck_assert_msg(e2e_header(&r, "Content-Length") != NULL, "no Content-Length");
		ck_assert_int_eq(e2e_read_until_eof(&c, &rest, &rest_len, 5000), 0);
		ck_assert_msg(rest_len == 0, "%s: %zu body bytes after the head: %s",
			      e2e_escs(cases[i].req), rest_len, e2e_esc(rest, rest_len));
		free(rest);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* ---- the query sent upstream ------------------------------------------------------ */

/* Bytes our parser takes in a query but a URI cannot hold go upstream escaped; the rest
 * of the query, escapes included, goes as sent. */
START_TEST(test_query_escaped_upstream)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	send_req(&c, "GET /p?a=[1]&b={x}|^\\`&c=%5b&d=?/:@ HTTP/1.1\r\nHost: h\r\n\r\n", &r,
		 false);
	ck_status(&r, 200);
	ck_echo_line(&r, "GET /p?a=%5B1%5D&b=%7Bx%7D%7C%5E%5C%60&c=%5b&d=?/:@ HTTP/1.1");
	e2e_response_free(&r);
	/* a plain query is not touched */
	send_req(&c, "GET /p?x=%7c&y=1 HTTP/1.1\r\nHost: h\r\n\r\n", &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "GET /p?x=%7c&y=1 HTTP/1.1");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- error log levels ------------------------------------------------------------- */

/* A client's mistakes are logged at info, whatever the status (505, 501 were at error),
 * and a path the rewrite engine cannot decode says so (not "RewriteRule -1"). */
START_TEST(test_client_mistakes_at_info)
{
	static const char *const bad[] = {
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
		"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
		"GET /%00 HTTP/1.1\r\nHost: a\r\n\r\n",
	};
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char *log;

	e2e_spliced_startf(&sp, "RewriteEngine On\nRewriteRule ^/x - [F]\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", e2e_dead_port());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e2e_client_open(&c, sp.port);
		send_req(&c, bad[i], &r, false);
		ck_assert_msg(r.status >= 400 && r.status < 600, "%s: %d", e2e_escs(bad[i]),
			      r.status);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert(e2e_log_wait_for(&sp, "cannot be decoded", 5000));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	log = e2e_spliced_log(&sp);
	ck_assert_msg(strstr(log, "HTTP version not supported") &&
		      strstr(log, "unsupported transfer coding") && strstr(log, "CONNECT"),
		      "log:\n%s", log);
	ck_assert_msg(!strstr(log, "[proxy:error]"), "a client wrote error lines:\n%s", log);
	ck_assert_msg(!strstr(log, "RewriteRule -1"), "log:\n%s", log);
	free(log);
}
END_TEST

static Suite *security_suite(void)
{
	Suite *s = suite_create("e2e_security");
	const struct ck_case cases[] = {
		{ "absolute_form_one_host", test_absolute_form_one_host, 0 },
		{ "absolute_form_after_rewrite", test_absolute_form_after_rewrite, 0 },
		{ "the_request_as_sent", test_the_request_as_sent, 0 },
		{ "underscore_and_client_forwarding_fields",
		  test_underscore_and_client_forwarding_fields, 0 },
		{ "underscores_allowed", test_underscores_allowed, 0 },
		{ "host_one_name", test_host_one_name, 0 },
		{ "408_on_later_request", test_408_on_later_request, 0 },
		{ "metrics_many_reasons", test_metrics_many_reasons, 0 },
		{ "path_params_exclusion", test_path_params_exclusion, 0 },
		{ "head_refusal_without_body", test_head_refusal_without_body, 0 },
		{ "query_escaped_upstream", test_query_escaped_upstream, 0 },
		{ "client_mistakes_at_info", test_client_mistakes_at_info, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(security_suite());
}
