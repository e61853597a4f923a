/* Unit tests of the HTTP/1.x head scanner (src/http.c).
 *
 * Every input is copied so that it ends exactly where an unreadable page starts, so a read
 * past `len` crashes the test instead of passing silently (picohttpparser's trick). */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spliced/http.h"
#include "guard.h"
#include "suite.h"

static const struct http_limits lim_default = {
	.max_head = 8192, .max_line = 4096, .max_field = 4096, .max_fields = 100,
};

/* Parses s (NUL-terminated) as a request with default limits; *bufp gets the buffer. */
static int req_parse(const char *s, struct http_request *r, const char **bufp)
{
	size_t n = strlen(s);
	const char *b = guard_at_end(s, n);

	if (bufp)
		*bufp = b;
	return http_parse_request(b, n, &lim_default, r);
}

static int resp_parse(const char *s, enum http_method m, struct http_response *r,
		      const char **bufp)
{
	size_t n = strlen(s);
	const char *b = guard_at_end(s, n);

	if (bufp)
		*bufp = b;
	return http_parse_response(b, n, &lim_default, m, r);
}

/* A span as a string, for comparisons (a few rotating static buffers). */
static const char *span_str(const char *buf, struct http_span s)
{
	static char out[4][8192];
	static unsigned k;
	char *o = out[k++ % 4];

	ck_assert_uint_lt(s.len, sizeof(out[0]));
	memcpy(o, buf + s.off, s.len);
	o[s.len] = '\0';
	return o;
}

#define ck_span(buf, span, str) ck_assert_str_eq(span_str((buf), (span)), (str))

/* Spans of a parsed request lie inside the head. */
static void ck_req_spans_inside(const struct http_request *r)
{
	const struct http_span *s[] = { &r->method, &r->target, &r->path, &r->query, &r->host };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		ck_assert_uint_le((uint64_t)s[i]->off + s[i]->len, r->head_len);
	for (unsigned i = 0; i < r->nnoted; i++) {
		ck_assert_uint_le((uint64_t)r->noted[i].line.off + r->noted[i].line.len, r->head_len);
		ck_assert_uint_ge(r->noted[i].value.off, r->noted[i].line.off);
		ck_assert_uint_le(r->noted[i].value.off + r->noted[i].value.len,
				  r->noted[i].line.off + r->noted[i].line.len);
	}
}

/* Valid requests */

START_TEST(test_req_get)
{
	const char *s = "GET /index.html?a=1&b=%20x HTTP/1.1\r\nHost: example.com\r\n"
			"User-Agent: t\r\n\r\n";
	struct http_request r;
	const char *b;

	ck_assert_int_eq(req_parse(s, &r, &b), (int)strlen(s));
	ck_assert_uint_eq(r.head_len, strlen(s));
	ck_assert_int_eq(r.meth, HTTP_METHOD_GET);
	ck_assert_uint_eq(r.version, 11);
	ck_span(b, r.method, "GET");
	ck_span(b, r.target, "/index.html?a=1&b=%20x");
	ck_span(b, r.path, "/index.html");
	ck_assert(r.has_query);
	ck_span(b, r.query, "a=1&b=%20x");
	ck_assert(r.has_host);
	ck_span(b, r.host, "example.com");
	ck_assert_uint_eq(r.fields_off, strlen("GET /index.html?a=1&b=%20x HTTP/1.1\r\n"));
	ck_assert_uint_eq(r.nfields, 2);
	ck_assert_int_eq(r.framing, HTTP_FRAMING_NONE);
	ck_assert(!r.absolute_form && !r.asterisk_form && !r.conn_close && !r.conn_keep_alive);
	ck_assert(!r.expect_continue && !r.has_upgrade);
	ck_req_spans_inside(&r);
}
END_TEST

START_TEST(test_req_head_post)
{
	struct http_request r;
	const char *b;
	const char *s = "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";

	ck_assert_int_eq(req_parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", &r, &b), 28);
	ck_assert_int_eq(r.meth, HTTP_METHOD_HEAD);
	ck_span(b, r.path, "/");
	ck_assert(!r.has_query);

	ck_assert_int_eq(req_parse(s, &r, &b), (int)(strlen(s) - 11));
	ck_assert_int_eq(r.meth, HTTP_METHOD_POST);
	ck_assert_int_eq(r.framing, HTTP_FRAMING_LENGTH);
	ck_assert_uint_eq(r.content_length, 11);
	ck_assert_uint_eq(r.nnoted, 2);
	ck_req_spans_inside(&r);

	ck_assert_int_gt(req_parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &r,
				   NULL), 0);
	ck_assert_int_eq(r.framing, HTTP_FRAMING_LENGTH);
	ck_assert_uint_eq(r.content_length, 0);

	ck_assert_int_gt(req_parse("POST / HTTP/1.1\r\nHost: a\r\n"
				   "Transfer-Encoding: Chunked\r\n\r\n", &r, NULL), 0);
	ck_assert_int_eq(r.framing, HTTP_FRAMING_CHUNKED);
}
END_TEST

START_TEST(test_req_options_asterisk)
{
	struct http_request r;
	const char *b;

	ck_assert_int_gt(req_parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r, &b), 0);
	ck_assert_int_eq(r.meth, HTTP_METHOD_OPTIONS);
	ck_assert(r.asterisk_form);
	ck_span(b, r.path, "*");
	ck_span(b, r.target, "*");
	ck_assert(!r.has_query);
}
END_TEST

START_TEST(test_req_absolute_form)
{
	struct http_request r;
	const char *b;

	ck_assert_int_gt(req_parse("GET http://backend.example:8080/p/q?x=1 HTTP/1.1\r\n"
				   "Host: other\r\n\r\n", &r, &b), 0);
	ck_assert(r.absolute_form);
	ck_assert(r.has_host);
	ck_span(b, r.host, "backend.example:8080");
	ck_span(b, r.path, "/p/q");
	ck_span(b, r.query, "x=1");
	ck_span(b, r.target, "http://backend.example:8080/p/q?x=1");
	ck_assert_uint_eq(r.nnoted, 1);
	ck_span(b, r.noted[0].value, "other");

	ck_assert_int_gt(req_parse("GET HTTPS://[::1]:443/ HTTP/1.1\r\nHost: x\r\n\r\n", &r, &b),
			 0);
	ck_span(b, r.host, "[::1]:443");
	ck_span(b, r.path, "/");

	/* HTTP/1.0 absolute-form needs no Host */
	ck_assert_int_gt(req_parse("GET http://a/ HTTP/1.0\r\n\r\n", &r, &b), 0);
	ck_span(b, r.host, "a");
}
END_TEST

START_TEST(test_req_http10)
{
	struct http_request r;
	const char *b;

	ck_assert_int_eq(req_parse("GET / HTTP/1.0\r\n\r\n", &r, &b), 18);
	ck_assert_uint_eq(r.version, 10);
	ck_assert(!r.has_host);
	ck_assert_uint_eq(r.host.len, 0);
	ck_assert_uint_eq(r.nfields, 0);
	ck_assert_uint_eq(r.fields_off, 16);

	ck_assert_int_gt(req_parse("GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
				   &r, &b), 0);
	ck_assert(r.has_host);
	ck_span(b, r.host, "h");
	ck_assert(r.conn_keep_alive);

	/* 100-continue is ignored on HTTP/1.0; other expectations are still refused. */
	ck_assert_int_gt(req_parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n"
				   "Content-Length: 1\r\n\r\n", &r, &b), 0);
	ck_assert(!r.expect_continue);
	ck_assert_int_eq(req_parse("PUT / HTTP/1.0\r\nExpect: foo\r\n\r\n", &r, &b), -1);
	ck_assert_uint_eq(r.status, 417);
}
END_TEST

START_TEST(test_req_methods)
{
	static const struct {
		const char *m;
		enum http_method meth;
	} t[] = {
		{ "GET", HTTP_METHOD_GET },         { "HEAD", HTTP_METHOD_HEAD },
		{ "POST", HTTP_METHOD_POST },       { "PUT", HTTP_METHOD_PUT },
		{ "DELETE", HTTP_METHOD_DELETE },   { "OPTIONS", HTTP_METHOD_OPTIONS },
		{ "TRACE", HTTP_METHOD_TRACE },     { "PATCH", HTTP_METHOD_PATCH },
		{ "get", HTTP_METHOD_OTHER },       { "PROPFIND", HTTP_METHOD_OTHER },
		{ "GETS", HTTP_METHOD_OTHER },      { "G", HTTP_METHOD_OTHER },
		{ "M-SEARCH", HTTP_METHOD_OTHER },  { "!#$%&'*+-.^_`|~09az", HTTP_METHOD_OTHER },
	};
	char s[256];
	struct http_request r;
	const char *b;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(s, sizeof(s), "%s /x HTTP/1.1\r\nHost: a\r\n\r\n", t[i].m);
		ck_assert_int_eq(req_parse(s, &r, &b), (int)strlen(s));
		ck_assert_int_eq(r.meth, t[i].meth);
		ck_span(b, r.method, t[i].m);
	}
	ck_assert_int_gt(req_parse("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
				   &r, &b), 0);
	ck_assert_int_eq(r.meth, HTTP_METHOD_CONNECT);
	ck_span(b, r.path, "a.example:443");
	ck_span(b, r.host, "a.example:443");
	ck_assert(!r.absolute_form);
}
END_TEST

START_TEST(test_req_pipelined)
{
	const char *s = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_request r;

	ck_assert_int_eq(req_parse(s, &r, NULL), (int)strlen(s) / 2);
	/* The body bytes after the head are not looked at. */
	ck_assert_int_eq(req_parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n\x01\x02\n\n", &r, NULL), 27);
}
END_TEST

START_TEST(test_req_query_chars)
{
	struct http_request r;
	const char *b;

	ck_assert_int_gt(req_parse("GET /a/b;c=d:e@f!$&'()*+,=~-._%7E?x=[1]{2}|^`\\/?? HTTP/1.1\r\n"
				   "Host: a\r\n\r\n", &r, &b), 0);
	ck_span(b, r.path, "/a/b;c=d:e@f!$&'()*+,=~-._%7E");
	ck_span(b, r.query, "x=[1]{2}|^`\\/??");
	ck_assert_int_gt(req_parse("GET /? HTTP/1.1\r\nHost: a\r\n\r\n", &r, &b), 0);
	ck_assert(r.has_query);
	ck_assert_uint_eq(r.query.len, 0);
	ck_assert_int_gt(req_parse("GET //x HTTP/1.1\r\nHost: a\r\n\r\n", &r, &b), 0);
	ck_span(b, r.path, "//x");
}
END_TEST

START_TEST(test_req_values_trimmed)
{
	struct http_request r;
	const char *b;

	ck_assert_int_gt(req_parse("GET / HTTP/1.1\r\nHost: \t a.b \t\r\nX-Forwarded-For:1.2.3.4\r\n"
				   "Foo: \x80\xff obs text \r\nEmpty:\r\n\r\n", &r, &b), 0);
	ck_span(b, r.host, "a.b");
	ck_assert_uint_eq(r.nnoted, 2);
	ck_span(b, r.noted[1].value, "1.2.3.4");
	ck_assert_uint_eq(r.nfields, 4);
	/* Empty Host on HTTP/1.1 is allowed (RFC 9112 3.2). */
	ck_assert_int_gt(req_parse("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r, &b), 0);
	ck_assert(r.has_host);
	ck_assert_uint_eq(r.host.len, 0);
}
END_TEST

START_TEST(test_req_host_valid)
{
	static const char *ok[] = {
		"a", "example.com", "example.com:80", "127.0.0.1", "127.0.0.1:8080", "[::1]",
		"[::1]:80", "[2001:db8::1]", "[::ffff:1.2.3.4]", "a-b_c.d.e", "A.Example.COM.",
		"h:65535", "h:0",
		/* HTTP_HOST_MAX bytes: a 253-byte name and a port */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:65535",
	};
	char s[512];
	struct http_request r;
	const char *b;

	ck_assert_uint_eq(strlen(ok[sizeof(ok) / sizeof(ok[0]) - 1]), HTTP_HOST_MAX);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", ok[i]);
		ck_assert_msg(req_parse(s, &r, &b) > 0, "Host %s refused", ok[i]);
		ck_span(b, r.host, ok[i]);
	}
}
END_TEST

/* Invalid requests: every rule with the status it answers. */

#define H11 "GET / HTTP/1.1\r\nHost: a\r\n"
#define S(x) x, sizeof(x) - 1

static const struct {
	const char *s;
	size_t n;
	int status;
} bad_req[] = {
	/* request line */
	{ S("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400 },
	{ S("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("G(ET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / http/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.11\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/11\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / \r\nHost: a\r\n\r\n"), 400 },
	{ S("GET\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505 },
	{ S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505 },
	{ S("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505 },
	{ S("GET / HTTP/3.1\r\nHost: a\r\n\r\n"), 505 },
	{ S("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400 },
	{ S("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	/* request-target */
	{ S("GET foo HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("OPTIONS */x HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("OPTIONS ** HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /<x> HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /%4 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a% HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /%4g HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /?q=%g0 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /?q=100% HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /[x] HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a|b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a{b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a^b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /a`b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /?a#b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /?a<b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /?a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET /?a\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http://a HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http://a b/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http:/a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET a.com:80 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("CONNECT a.com HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("CONNECT a.com:99999 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	/* field syntax */
	{ S(H11 "Foo : a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), 400 },
	{ S(H11 " Foo: b\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\r\n b\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\r\n\tb\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400 },
	{ S(H11 ": novalue\r\n\r\n"), 400 },
	{ S(H11 "Foo\r\n\r\n"), 400 },
	{ S(H11 "Fo o: b\r\n\r\n"), 400 },
	{ S(H11 "Foo(: b\r\n\r\n"), 400 },
	{ S(H11 "F\xc3\xa9: b\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\x01" "b\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\0b\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\rb\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\x7f" "b\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\x1f\r\n\r\n"), 400 },
	{ S(H11 "Foo: a\nb\r\n\r\n"), 400 },
	{ S(H11 "Foo: bar\n\r\n"), 400 },
	{ S(H11 "\n"), 400 },
	{ S(H11 "\r\r\n"), 400 },
	{ S(H11 "Foo: bar\r\r\n\r\n"), 400 },
	/* Host */
	{ S("GET / HTTP/1.1\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nFoo: a\r\n\r\n"), 400 },
	{ S(H11 "Host: a\r\n\r\n"), 400 },
	{ S(H11 "host: b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a:\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a:x\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: :80\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: ::1\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: [1.2.3.4]\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: []\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: [:]\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: [1111:2222:3333:4444:5555:6666:7777:8888:9999:0]\r\n\r\n"),
	  400 },
	{ S("GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a\xc3\xa9\r\n\r\n"), 400 },
	{ S("GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n"), 400 },
	{ S("GET http://a/ HTTP/1.1\r\n\r\n"), 400 },
	/* Host is one host[:port]: no list an application behind would split, no other
	 * reg-name characters, not over HTTP_HOST_MAX */
	{ S("GET / HTTP/1.1\r\nHost: a.example,admin.example\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a.example, admin.example\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a;b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a!b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a%41\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a(b)\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a=b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a*\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a'b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: a~b\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: x!$&'()*+,;=\r\n\r\n"), 400 },
	{ S("GET http://a.example,admin.example/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET http://a;b/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.1\r\nHost: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"),
	  400 },
	/* Content-Length */
	{ S(H11 "Content-Length:\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: -1\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: +5\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 5, 5\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 5,5\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 5\r\ncontent-length: 6\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 0x10\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 1 2\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 1.0\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 4611686018427387905\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 18446744073709551617\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 99999999999999999999999999\r\n\r\n"), 400 },
	{ S(H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"), 400 },
	/* Transfer-Encoding */
	{ S(H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501 },
	{ S(H11 "Transfer-Encoding: gzip\r\n\r\n"), 501 },
	{ S(H11 "Transfer-Encoding: identity\r\n\r\n"), 501 },
	{ S(H11 "Transfer-Encoding: foo\r\n\r\n"), 501 },
	{ S(H11 "Transfer-Encoding: xchunked\r\n\r\n"), 501 },
	{ S(H11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding:\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: chunked,\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: ,chunked\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: chunked;q=1\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: \"chunked\"\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	{ S(H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	/* Connection */
	{ S(H11 "Connection: close;x\r\n\r\n"), 400 },
	{ S(H11 "Connection: a b\r\n\r\n"), 400 },
	{ S(H11 "Connection: \"close\"\r\n\r\n"), 400 },
	{ S(H11 "Connection: a1, a2, a3, a4, a5, a6, a7, a8, a9\r\n\r\n"), 400 },
	{ S(H11 "Connection: a1, a2, a3, a4\r\nConnection: a5, a6, a7, a8, a9\r\n\r\n"), 400 },
	/* Connection naming a field framing or routing depends on, present or not */
	{ S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: Content-Length\r\n\r\n"),
	  400 },
	{ S(H11 "Connection: content-length\r\n\r\n"), 400 },
	{ S(H11 "Connection: close, CONTENT-LENGTH\r\n\r\n"), 400 },
	{ S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: Transfer-Encoding\r\n\r\n"), 400 },
	{ S(H11 "Connection: x\r\nConnection: transfer-encoding , y\r\n\r\n"), 400 },
	{ S(H11 "Connection: Host\r\n\r\n"), 400 },
	{ S("GET / HTTP/1.0\r\nConnection: keep-alive, host\r\n\r\n"), 400 },
	/* Expect */
	{ S(H11 "Expect: 100-continue-x\r\n\r\n"), 417 },
	{ S(H11 "Expect:\r\n\r\n"), 417 },
	{ S(H11 "Expect: 200-ok\r\n\r\n"), 417 },
	{ S(H11 "Expect: 100-continue, foo\r\n\r\n"), 417 },
};

START_TEST(test_req_reject)
{
	struct http_request r;
	const char *b = guard_at_end(bad_req[_i].s, bad_req[_i].n);
	int rc = http_parse_request(b, bad_req[_i].n, &lim_default, &r);

	ck_assert_msg(rc == -1, "case %d: rc %d", _i, rc);
	ck_assert_msg(r.status == bad_req[_i].status, "case %d: status %u, want %d (%s)", _i,
		      r.status, bad_req[_i].status, r.reason);
	ck_assert_ptr_nonnull(r.reason);
	ck_assert_uint_gt(strlen(r.reason), 0);
}
END_TEST

/* Distinct, specific reasons for the rules people will grep the error log for. */
START_TEST(test_req_reasons)
{
	struct http_request r;

	ck_assert_int_eq(req_parse(H11 "Foo : a\r\n\r\n", &r, NULL), -1);
	ck_assert_str_eq(r.reason, "whitespace before colon");
	ck_assert_int_eq(req_parse(H11 "Content-Length: 1\r\nContent-Length: 1\r\n\r\n", &r, NULL),
			 -1);
	ck_assert_str_eq(r.reason, "duplicate Content-Length");
	ck_assert_int_eq(req_parse(H11 "Host: b\r\n\r\n", &r, NULL), -1);
	ck_assert_str_eq(r.reason, "duplicate Host");
	ck_assert_int_eq(req_parse("GET / HTTP/1.1\r\n\r\n", &r, NULL), -1);
	ck_assert_str_eq(r.reason, "missing Host");
	ck_assert_int_eq(req_parse(H11 "A: b\r\n c\r\n\r\n", &r, NULL), -1);
	ck_assert_str_eq(r.reason, "obs-fold or whitespace before field name");
	ck_assert_int_eq(req_parse(H11 "Transfer-Encoding: gzip\r\n\r\n", &r, NULL), -1);
	ck_assert_str_eq(r.reason, "unsupported transfer coding");
	ck_assert_int_eq(req_parse(H11 "Content-Length: 1\r\nConnection: Content-Length\r\n\r\n",
				   &r, NULL), -1);
	ck_assert_str_eq(r.reason, "Connection lists Content-Length");
	ck_assert_int_eq(req_parse(H11 "Connection: transfer-encoding\r\n\r\n", &r, NULL), -1);
	ck_assert_str_eq(r.reason, "Connection lists Transfer-Encoding");
	ck_assert_int_eq(req_parse(H11 "Connection: host\r\n\r\n", &r, NULL), -1);
	ck_assert_str_eq(r.reason, "Connection lists Host");
}
END_TEST

/* Invalid bytes are refused as soon as they arrive, before the head is complete. */
START_TEST(test_req_reject_early)
{
	static const char *early[] = {
		"\r", "GET  ", "GET /a b", "GET / HTTP/1.1 ", "GET / HTTP/1.1\n", "GET / HTTX",
		"G\x01", "GET /\x7f", "GET / HTTP/1.1\r\nHost: a\r\nFoo : ", "GET / HTTP/1.1\r\n ",
		"GET / HTTP/1.1\r\nFoo: \x01", "GET / HTTP/1.1\r\nFoo: a\n", "GET / HTTP/1.1\r\nF@",
		"GET / HTTP/1.1\r\n\r\r",
	};
	struct http_request r;

	for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
		ck_assert_msg(req_parse(early[i], &r, NULL) == -1, "early %zu", i);
		ck_assert_uint_eq(r.status, 400);
	}
}
END_TEST

/* Every strict prefix of a valid head needs more; the whole head is accepted. */
static const char *valid_heads[] = {
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p/a%20th?q=1&r=[x] HTTP/1.1\r\nHost: www.example.com:8080\r\n"
	"Accept: */*\r\nX: \t v \t\r\nEmpty:\r\nConnection: close, X\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\n"
	"Expect: 100-continue\r\nTE: trailers\r\nConnection: TE\r\n\r\n",
	"OPTIONS * HTTP/1.0\r\n\r\n",
	"GET http://a.b/c HTTP/1.1\r\nHost: a.b\r\nContent-Length: 0\r\n\r\n",
	"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n",
};

START_TEST(test_req_prefixes)
{
	const char *s = valid_heads[_i];
	size_t n = strlen(s);
	struct http_request r;

	for (size_t k = 0; k < n; k++) {
		const char *b = guard_at_end(s, k);
		int rc = http_parse_request(b, k, &lim_default, &r);

		ck_assert_msg(rc == -2, "head %d prefix %zu: rc %d (%s)", _i, k, rc,
			      rc == -1 ? r.reason : "");
	}
	ck_assert_int_eq(http_parse_request(guard_at_end(s, n), n, &lim_default, &r), (int)n);
}
END_TEST

/* Limits */

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

START_TEST(test_req_limit_head)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX: 123456789\r\n\r\n";
	size_t n = strlen(s);
	struct http_limits lim = lim_default;
	struct http_request r;

	lim.max_head = (uint32_t)n;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, n), n, &lim, &r), (int)n);
	/* A prefix shorter than max_head still needs more. */
	ck_assert_int_eq(http_parse_request(guard_at_end(s, n - 1), n - 1, &lim, &r), -2);

	lim.max_head = (uint32_t)n - 1;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, n), n, &lim, &r), -1);
	ck_assert_uint_eq(r.status, 431);
	ck_assert_int_eq(http_parse_request(guard_at_end(s, n - 1), n - 1, &lim, &r), -1);
	ck_assert_uint_eq(r.status, 431);
	ck_assert_int_eq(http_parse_request(guard_at_end(s, n - 2), n - 2, &lim, &r), -2);

	/* A complete head within max_head is accepted even if more bytes follow. */
	lim.max_head = (uint32_t)n;
	{
		char *two = malloc(2 * n + 1);

		memcpy(two, s, n);
		memcpy(two + n, s, n + 1);
		ck_assert_int_eq(http_parse_request(guard_at_end(two, 2 * n), 2 * n, &lim, &r), (int)n);
		free(two);
	}
}
END_TEST

START_TEST(test_req_limit_line)
{
	struct http_limits lim = lim_default;
	struct http_request r;
	char *path = repeat('a', 100);
	char s[512];
	size_t linelen;

	snprintf(s, sizeof(s), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", path);
	linelen = strlen("GET /") + 100 + strlen(" HTTP/1.1");
	lim.max_line = (uint32_t)linelen;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, strlen(s)), strlen(s), &lim, &r),
			 (int)strlen(s));
	lim.max_line = (uint32_t)linelen - 1;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, strlen(s)), strlen(s), &lim, &r), -1);
	ck_assert_uint_eq(r.status, 414);
	/* Without the CRLF yet: refused as soon as it is longer than the limit. */
	ck_assert_int_eq(http_parse_request(guard_at_end(s, linelen), linelen, &lim, &r), -1);
	ck_assert_uint_eq(r.status, 414);
	ck_assert_int_eq(http_parse_request(guard_at_end(s, linelen - 1), linelen - 1, &lim, &r), -2);
	/* A line of exactly max_line with its CR but no LF yet still needs more. */
	lim.max_line = (uint32_t)linelen;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, linelen + 1), linelen + 1, &lim, &r), -2);
	free(path);
}
END_TEST

START_TEST(test_req_limit_field)
{
	struct http_limits lim = lim_default;
	struct http_request r;
	char *val = repeat('v', 200);
	char s[512];
	size_t flen = strlen("X-Long: ") + 200, pre = strlen(H11);

	snprintf(s, sizeof(s), H11 "X-Long: %s\r\n\r\n", val);
	lim.max_field = (uint32_t)flen;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, strlen(s)), strlen(s), &lim, &r),
			 (int)strlen(s));
	lim.max_field = (uint32_t)flen - 1;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, strlen(s)), strlen(s), &lim, &r), -1);
	ck_assert_uint_eq(r.status, 431);
	ck_assert_int_eq(http_parse_request(guard_at_end(s, pre + flen), pre + flen, &lim, &r), -1);
	ck_assert_uint_eq(r.status, 431);
	ck_assert_int_eq(http_parse_request(guard_at_end(s, pre + flen - 1), pre + flen - 1, &lim, &r),
			 -2);
	free(val);
}
END_TEST

START_TEST(test_req_limit_fields)
{
	struct http_limits lim = lim_default;
	struct http_request r;
	const char *s = H11 "A: 1\r\nB: 2\r\nC: 3\r\n\r\n";

	lim.max_fields = 4;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, strlen(s)), strlen(s), &lim, &r),
			 (int)strlen(s));
	ck_assert_uint_eq(r.nfields, 4);
	lim.max_fields = 3;
	ck_assert_int_eq(http_parse_request(guard_at_end(s, strlen(s)), strlen(s), &lim, &r), -1);
	ck_assert_uint_eq(r.status, 431);
}
END_TEST

START_TEST(test_req_limit_big)
{
	/* A huge head: 431 once max_head bytes have arrived without the end. */
	struct http_limits lim = lim_default;
	struct http_request r;
	size_t n = 3 * lim_default.max_head;
	char *s = repeat('x', n);
	size_t i;

	lim.max_fields = 100000;

	memcpy(s, "GET / HTTP/1.1\r\nHost: a\r\n", 25);
	for (i = 25; i + 10 < n; i += 10)
		memcpy(s + i, "A: 12345\r\n", 10);
	ck_assert_int_eq(http_parse_request(guard_at_end(s, n), n, &lim, &r), -1);
	ck_assert_uint_eq(r.status, 431);
	ck_assert_str_eq(r.reason, "request head too large");
	free(s);
}
END_TEST

/* Noted fields */

START_TEST(test_req_noted)
{
	const char *s = "POST / HTTP/1.1\r\n"
			"Host: h\r\n"
			"Content-Length: 3\r\n"
			"Connection: Keep-Alive, X-Secret , close,,upgrade\r\n"
			"Keep-Alive: timeout=5\r\n"
			"Proxy-Connection: x\r\n"
			"te: trailers\r\n"
			"Upgrade: websocket\r\n"
			"Expect: 100-Continue\r\n"
			"X-Forwarded-For: 1.1.1.1\r\n"
			"X-FORWARDED-HOST: fh\r\n"
			"x-forwarded-proto: https\r\n"
			"Accept: */*\r\n"
			"x-secret: s1\r\n"
			"Other: o\r\n"
			"X-Secret:s2\r\n"
			"\r\n";
	static const struct {
		uint8_t kind;
		const char *line;
		const char *value;
	} want[] = {
		{ HTTP_F_HOST, "Host: h\r\n", "h" },
		{ HTTP_F_CONTENT_LENGTH, "Content-Length: 3\r\n", "3" },
		{ HTTP_F_CONNECTION, "Connection: Keep-Alive, X-Secret , close,,upgrade\r\n",
		  "Keep-Alive, X-Secret , close,,upgrade" },
		{ HTTP_F_KEEP_ALIVE, "Keep-Alive: timeout=5\r\n", "timeout=5" },
		{ HTTP_F_PROXY_CONNECTION, "Proxy-Connection: x\r\n", "x" },
		{ HTTP_F_TE, "te: trailers\r\n", "trailers" },
		{ HTTP_F_UPGRADE, "Upgrade: websocket\r\n", "websocket" },
		{ HTTP_F_EXPECT, "Expect: 100-Continue\r\n", "100-Continue" },
		{ HTTP_F_X_FORWARDED_FOR, "X-Forwarded-For: 1.1.1.1\r\n", "1.1.1.1" },
		{ HTTP_F_X_FORWARDED_HOST, "X-FORWARDED-HOST: fh\r\n", "fh" },
		{ HTTP_F_X_FORWARDED_PROTO, "x-forwarded-proto: https\r\n", "https" },
		{ HTTP_F_CONNECTION_LISTED, "x-secret: s1\r\n", "s1" },
		{ HTTP_F_CONNECTION_LISTED, "X-Secret:s2\r\n", "s2" },
	};
	struct http_request r;
	const char *b;

	ck_assert_int_eq(req_parse(s, &r, &b), (int)strlen(s));
	ck_assert_uint_eq(r.nfields, 15);
	ck_assert_uint_eq(r.nnoted, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < r.nnoted; i++) {
		ck_assert_msg(r.noted[i].kind == want[i].kind, "noted %u kind %u", i,
			      r.noted[i].kind);
		ck_span(b, r.noted[i].line, want[i].line);
		ck_span(b, r.noted[i].value, want[i].value);
	}
	ck_assert(r.conn_close && r.conn_keep_alive);
	ck_assert(r.has_upgrade && r.expect_continue);
	ck_req_spans_inside(&r);
}
END_TEST

START_TEST(test_req_noted_client_fields)
{
	/* Forwarded and X-Real-IP are noted (the proxy drops them); a name with '_' is noted
	 * as UNDERSCORE, or UNDERSCORE_ALIAS when CGI/WSGI would fold it onto a name the
	 * proxy acts on; listed in Connection it is a hop-by-hop field, noted once. */
	const char *s = "GET / HTTP/1.1\r\n"
			"Host: h\r\n"
			"Forwarded: for=1.2.3.4\r\n"
			"X-Real-IP: 1.2.3.4\r\n"
			"X_Forwarded_For: 6.6.6.6\r\n"
			"content_LENGTH: 5\r\n"
			"My_Field: m\r\n"
			"Connection: hop_x\r\n"
			"Hop_X: 1\r\n"
			"Plain-Field: p\r\n"
			"host_: y\r\n"
			"\r\n";
	static const struct {
		uint8_t kind;
		const char *value;
	} want[] = {
		{ HTTP_F_HOST, "h" },
		{ HTTP_F_FORWARDED, "for=1.2.3.4" },
		{ HTTP_F_X_REAL_IP, "1.2.3.4" },
		{ HTTP_F_UNDERSCORE_ALIAS, "6.6.6.6" },
		{ HTTP_F_UNDERSCORE_ALIAS, "5" },
		{ HTTP_F_UNDERSCORE, "m" },
		{ HTTP_F_CONNECTION, "hop_x" },
		{ HTTP_F_CONNECTION_LISTED, "1" },
		{ HTTP_F_UNDERSCORE, "y" },
	};
	struct http_request r;
	const char *b;

	ck_assert_int_eq(req_parse(s, &r, &b), (int)strlen(s));
	ck_assert_uint_eq(r.nnoted, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < r.nnoted; i++) {
		ck_assert_msg(r.noted[i].kind == want[i].kind, "noted %u kind %u", i,
			      r.noted[i].kind);
		ck_span(b, r.noted[i].value, want[i].value);
	}
	ck_assert(r.framing == HTTP_FRAMING_NONE);   /* content_LENGTH is not Content-Length */
	ck_req_spans_inside(&r);
}
END_TEST

/* The value of a field by name (%{HTTP:Name} in rewrite rules): the first one, trimmed,
 * case-insensitive name, or each in turn (http_field_next); the head's last byte is right
 * before an unreadable page. */
START_TEST(test_field_value)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\nX-A:  one \t\r\nx-a: two\r\n"
			"Empty:\r\nX-Longer: l\r\nX: short\r\n\r\n";
	struct http_request r;
	const char *b, *v;
	size_t vl = 99;
	uint32_t pos = 0;

	ck_assert_int_eq(req_parse(s, &r, &b), (int)strlen(s));
	v = http_field_value(b, &r, "x-a", 3, &vl);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(vl, 3);
	ck_assert_int_eq(memcmp(v, "one", 3), 0);
	v = http_field_value(b, &r, "EMPTY", 5, &vl);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(vl, 0);
	v = http_field_value(b, &r, "X", 1, &vl);    /* not a prefix of X-A or X-Longer */
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(memcmp(v, "short", vl), 0);
	ck_assert_ptr_null(http_field_value(b, &r, "X-Long", 6, &vl));
	ck_assert_ptr_null(http_field_value(b, &r, "Missing", 7, &vl));
	ck_assert_ptr_nonnull(http_field_value(b, &r, "host", 4, &vl));
	ck_assert_uint_eq(vl, 1);
	/* every field of the name, in order (Cookie may come on several lines) */
	v = http_field_next(b, &r, "X-a", 3, &pos, &vl);
	ck_assert(v && vl == 3 && memcmp(v, "one", 3) == 0);
	v = http_field_next(b, &r, "X-a", 3, &pos, &vl);
	ck_assert(v && vl == 3 && memcmp(v, "two", 3) == 0);
	ck_assert_ptr_null(http_field_next(b, &r, "X-a", 3, &pos, &vl));
	ck_assert_ptr_null(http_field_next(b, &r, "X-a", 3, &pos, &vl));   /* stays done */
	pos = 0;
	v = http_field_next(b, &r, "x", 1, &pos, &vl);   /* the last field */
	ck_assert(v && vl == 5 && memcmp(v, "short", 5) == 0);
	ck_assert_ptr_null(http_field_next(b, &r, "x", 1, &pos, &vl));
}
END_TEST

START_TEST(test_req_conn_listed_keeps_kind)
{
	/* A field listed in Connection that the proxy handles itself keeps its own kind, and
	 * a listed name that no field has notes nothing. */
	const char *s = "GET / HTTP/1.1\r\nConnection: te, x-forwarded-for, missing\r\n"
			"Host: h\r\nX-Forwarded-For: 1\r\nFoo: f\r\nTE: trailers\r\n\r\n";
	struct http_request r;
	const char *b;

	ck_assert_int_gt(req_parse(s, &r, &b), 0);
	ck_assert_uint_eq(r.nnoted, 4);
	ck_assert_uint_eq(r.noted[0].kind, HTTP_F_CONNECTION);
	ck_assert_uint_eq(r.noted[1].kind, HTTP_F_HOST);
	ck_assert_uint_eq(r.noted[2].kind, HTTP_F_X_FORWARDED_FOR);
	ck_assert_uint_eq(r.noted[3].kind, HTTP_F_TE);
	ck_assert(!r.conn_close && !r.conn_keep_alive);

	/* Eight distinct names are fine (repeats and case variants count once). */
	ck_assert_int_gt(req_parse(H11 "Connection: a1, a2, a3, a4, A1, a5, a6, a7, a8, a8\r\n"
				   "A8: x\r\n\r\n", &r, &b), 0);
	ck_assert_uint_eq(r.nnoted, 3);
	ck_assert_uint_eq(r.noted[2].kind, HTTP_F_CONNECTION_LISTED);
	ck_span(b, r.noted[2].line, "A8: x\r\n");
	/* Connection listed before the Connection field appears. */
	ck_assert_int_gt(req_parse(H11 "Zed: 1\r\nConnection: zed\r\n\r\n", &r, &b), 0);
	ck_assert_uint_eq(r.nnoted, 3);
	ck_assert_uint_eq(r.noted[1].kind, HTTP_F_CONNECTION_LISTED);
	ck_span(b, r.noted[1].line, "Zed: 1\r\n");
	ck_assert_uint_eq(r.noted[2].kind, HTTP_F_CONNECTION);
}
END_TEST

START_TEST(test_req_too_many_noted)
{
	char s[4096];
	size_t n = 0;
	struct http_request r;

	n += (size_t)sprintf(s + n, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < HTTP_MAX_NOTED - 1; i++)
		n += (size_t)sprintf(s + n, "X-Forwarded-For: %d\r\n", i);
	sprintf(s + n, "\r\n");
	ck_assert_int_gt(req_parse(s, &r, NULL), 0);
	ck_assert_uint_eq(r.nnoted, HTTP_MAX_NOTED);
	n += (size_t)sprintf(s + n, "X-Forwarded-For: x\r\n\r\n");
	ck_assert_int_eq(req_parse(s, &r, NULL), -1);
	ck_assert_uint_eq(r.status, 400);

	/* The limit holds in the second (Connection-listed) pass too. */
	n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\nConnection: y\r\n");
	for (int i = 0; i < HTTP_MAX_NOTED - 1; i++)
		n += (size_t)sprintf(s + n, "Y: %d\r\n", i);
	sprintf(s + n, "\r\n");
	ck_assert_int_eq(req_parse(s, &r, NULL), -1);
	ck_assert_uint_eq(r.status, 400);
}
END_TEST

START_TEST(test_req_framing)
{
	struct http_request r;

	ck_assert_int_gt(req_parse(H11 "Content-Length: 4611686018427387904\r\n\r\n", &r, NULL), 0);
	ck_assert_uint_eq(r.content_length, UINT64_C(1) << 62);
	ck_assert_int_gt(req_parse(H11 "Content-Length: 000012\r\n\r\n", &r, NULL), 0);
	ck_assert_uint_eq(r.content_length, 12);
	ck_assert_int_gt(req_parse(H11 "Content-Length:  7 \r\n\r\n", &r, NULL), 0);
	ck_assert_uint_eq(r.content_length, 7);
	ck_assert_int_gt(req_parse(H11 "Transfer-Encoding:  CHUNKED \r\n\r\n", &r, NULL), 0);
	ck_assert_int_eq(r.framing, HTTP_FRAMING_CHUNKED);
	ck_assert_int_gt(req_parse(H11 "\r\n", &r, NULL), 0);
	ck_assert_int_eq(r.framing, HTTP_FRAMING_NONE);
	ck_assert_int_gt(req_parse("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", &r, NULL), 0);
	ck_assert_int_eq(r.framing, HTTP_FRAMING_LENGTH);
	ck_assert_uint_eq(r.content_length, 3);
	/* Connection: upgrade is not a listed name; Upgrade is reported. */
	ck_assert_int_gt(req_parse(H11 "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n", &r, NULL), 0);
	ck_assert(r.has_upgrade);
	ck_assert_uint_eq(r.nnoted, 3);
	ck_assert(r.conn_upgrade);
	ck_assert_int_gt(req_parse(H11 "Connection: keep-alive\r\nUpgrade: h2c\r\n\r\n", &r,
				   NULL), 0);
	ck_assert(r.has_upgrade && !r.conn_upgrade);
}
END_TEST

/* Connection: upgrade in a response is reported too (a 101 carries it). */
START_TEST(test_response_conn_upgrade)
{
	static const char s101[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: close, "
				   "UPGRADE\r\nUpgrade: websocket\r\n\r\n";
	struct http_response r;

	ck_assert_int_eq(http_parse_response(guard_at_end(s101, sizeof(s101) - 1),
					     sizeof(s101) - 1, &lim_default, HTTP_METHOD_GET, &r),
			 (int)sizeof(s101) - 1);
	ck_assert(r.conn_upgrade && r.conn_close);
	ck_assert_uint_eq(r.status, 101);
}
END_TEST

/* List elements (Upgrade's value): OWS trimmed, empty ones skipped, never past len. */
START_TEST(test_list_next)
{
	static const char v[] = " ,websocket/13 ,, h2c\t,foo , ";
	struct http_span el;
	size_t pos = 0;
	const char *edge = guard_at_end("a,b", 3);

	ck_assert(http_list_next(v, sizeof(v) - 1, &pos, &el));
	ck_assert_int_eq(el.len, 12);
	ck_assert(memcmp(v + el.off, "websocket/13", 12) == 0);
	ck_assert(http_proto_is(v, el, "WebSocket", 9));
	ck_assert(!http_proto_is(v, el, "websocket/13", 12));
	ck_assert(!http_proto_is(v, el, "websocke", 8));
	ck_assert(http_list_next(v, sizeof(v) - 1, &pos, &el));
	ck_assert(http_proto_is(v, el, "h2c", 3) && el.len == 3);
	ck_assert(http_list_next(v, sizeof(v) - 1, &pos, &el));
	ck_assert(http_proto_is(v, el, "foo", 3) && el.len == 3);
	ck_assert(!http_list_next(v, sizeof(v) - 1, &pos, &el));
	pos = 0;
	ck_assert(!http_list_next(" , ", 3, &pos, &el));
	pos = 0;
	ck_assert(http_list_next(edge, 3, &pos, &el) && el.off == 0 && el.len == 1);
	ck_assert(http_list_next(edge, 3, &pos, &el) && el.off == 2 && el.len == 1);
	ck_assert(!http_list_next(edge, 3, &pos, &el));
}
END_TEST

/* Character classes: each byte value, against definitions written out independently. */

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define TCHARS ALNUM "!#$%&'*+-.^_`|~"
#define PATHCHARS ALNUM "-._~" "!$&'()*+,;=" ":@" "/"
#define QUERYCHARS PATHCHARS "?[]{}|^`\\"

static bool in_set(int c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

static int parse_with_byte(const char *fmt_pre, int c, const char *post)
{
	char s[256];
	size_t n = strlen(fmt_pre);
	struct http_request r;

	memcpy(s, fmt_pre, n);
	s[n++] = (char)c;
	memcpy(s + n, post, strlen(post));
	n += strlen(post);
	return http_parse_request(guard_at_end(s, n), n, &lim_default, &r);
}

START_TEST(test_charclass_method)
{
	for (int c = 0; c < 256; c++) {
		int rc = parse_with_byte("G", c, "T / HTTP/1.1\r\nHost: a\r\n\r\n");

		ck_assert_msg((rc > 0) == in_set(c, TCHARS), "method byte 0x%02x: %d", c, rc);
	}
}
END_TEST

START_TEST(test_charclass_path)
{
	for (int c = 0; c < 256; c++) {
		int rc = parse_with_byte("GET /a", c, "b HTTP/1.1\r\nHost: a\r\n\r\n");

		ck_assert_msg((rc > 0) == (in_set(c, PATHCHARS) || c == '?'), "path byte 0x%02x",
			      c);
	}
}
END_TEST

START_TEST(test_charclass_query)
{
	for (int c = 0; c < 256; c++) {
		int rc = parse_with_byte("GET /a?", c, "b HTTP/1.1\r\nHost: a\r\n\r\n");

		ck_assert_msg((rc > 0) == in_set(c, QUERYCHARS), "query byte 0x%02x", c);
	}
}
END_TEST

START_TEST(test_charclass_field)
{
	for (int c = 0; c < 256; c++) {
		int rc = parse_with_byte(H11 "X", c, "y: v\r\n\r\n");
		bool value_ok = c == ' ' || c == '\t' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;

		ck_assert_msg((rc > 0) == (in_set(c, TCHARS) || c == ':'), "name byte 0x%02x", c);
		rc = parse_with_byte(H11 "X: a", c, "b\r\n\r\n");
		ck_assert_msg((rc > 0) == value_ok, "value byte 0x%02x", c);
	}
}
END_TEST

/* Responses */

START_TEST(test_resp_framing)
{
	static const struct {
		const char *s;
		enum http_method m;
		enum http_framing framing;
		uint64_t cl;
	} t[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_LENGTH, 5 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_LENGTH, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_METHOD_POST,
		  HTTP_FRAMING_CHUNKED, 0 },
		{ "HTTP/1.1 200 OK\r\n\r\n", HTTP_METHOD_GET, HTTP_FRAMING_CLOSE, 0 },
		{ "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", HTTP_METHOD_GET, HTTP_FRAMING_CLOSE, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HTTP_METHOD_HEAD,
		  HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_METHOD_HEAD,
		  HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HTTP_METHOD_HEAD,
		  HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 200 OK\r\n\r\n", HTTP_METHOD_HEAD, HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 100 Continue\r\n\r\n", HTTP_METHOD_POST, HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 103 Early Hints\r\nContent-Length: 9\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", HTTP_METHOD_DELETE,
		  HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_NONE, 0 },
		{ "HTTP/1.1 205 Reset\r\nContent-Length: 0\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_LENGTH, 0 },
		{ "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_LENGTH, 9 },
		{ "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", HTTP_METHOD_GET,
		  HTTP_FRAMING_LENGTH, 1 },
		{ "HTTP/1.1 200 \r\n\r\n", HTTP_METHOD_GET, HTTP_FRAMING_CLOSE, 0 },
		{ "HTTP/1.1 999 What \t\x80\xff ever\r\n\r\n", HTTP_METHOD_GET, HTTP_FRAMING_CLOSE,
		  0 },
	};
	struct http_response r;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = resp_parse(t[i].s, t[i].m, &r, NULL);

		ck_assert_msg(rc == (int)strlen(t[i].s), "resp %zu: %d %s", i, rc,
			      rc == -1 ? r.reason : "");
		ck_assert_msg(r.framing == t[i].framing, "resp %zu framing %d", i, r.framing);
		if (t[i].framing == HTTP_FRAMING_LENGTH)
			ck_assert_uint_eq(r.content_length, t[i].cl);
		ck_assert_uint_eq(r.head_len, strlen(t[i].s));
	}
}
END_TEST

START_TEST(test_resp_fields)
{
	const char *s = "HTTP/1.1 200 OK\r\nDate: x\r\nConnection: close, X-Hop\r\n"
			"Keep-Alive: timeout=1\r\nProxy-Connection: k\r\nUpgrade: u\r\n"
			"X-Hop: 1\r\nTE: trailers\r\nHost: h\r\nContent-Length: 2\r\n\r\nok";
	struct http_response r;
	const char *b;

	ck_assert_int_eq(resp_parse(s, HTTP_METHOD_GET, &r, &b), (int)strlen(s) - 2);
	ck_assert_uint_eq(r.status, 200);
	ck_assert_uint_eq(r.version, 11);
	ck_assert_uint_eq(r.fields_off, 17);
	ck_assert_uint_eq(r.nfields, 9);
	ck_assert(r.conn_close && !r.conn_keep_alive);
	/* Host and TE are not noted in responses. */
	ck_assert_uint_eq(r.nnoted, 6);
	ck_assert_uint_eq(r.noted[0].kind, HTTP_F_CONNECTION);
	ck_assert_uint_eq(r.noted[1].kind, HTTP_F_KEEP_ALIVE);
	ck_assert_uint_eq(r.noted[2].kind, HTTP_F_PROXY_CONNECTION);
	ck_assert_uint_eq(r.noted[3].kind, HTTP_F_UPGRADE);
	ck_assert_uint_eq(r.noted[4].kind, HTTP_F_CONNECTION_LISTED);
	ck_span(b, r.noted[4].line, "X-Hop: 1\r\n");
	ck_assert_uint_eq(r.noted[5].kind, HTTP_F_CONTENT_LENGTH);
	ck_span(b, r.noted[5].value, "2");

	ck_assert_int_gt(resp_parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
				    "Content-Length: 0\r\n\r\n", HTTP_METHOD_GET, &r, NULL), 0);
	ck_assert_uint_eq(r.version, 10);
	ck_assert(r.conn_keep_alive && !r.conn_close);

	/* A response's Connection may not list its framing fields (the proxy answers 502);
	 * Host means nothing in a response and is an ordinary listed name there. */
	ck_assert_int_eq(resp_parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				    "Connection: content-length\r\n\r\nok", HTTP_METHOD_GET, &r, NULL),
			 -1);
	ck_assert_str_eq(r.reason, "Connection lists Content-Length");
	ck_assert_int_eq(resp_parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				    "Connection: Transfer-Encoding\r\n\r\n", HTTP_METHOD_GET, &r, NULL),
			 -1);
	ck_assert_str_eq(r.reason, "Connection lists Transfer-Encoding");
	ck_assert_int_gt(resp_parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: host\r\n"
				    "Host: h\r\n\r\n", HTTP_METHOD_GET, &r, &b), 0);
	ck_assert_uint_eq(r.nnoted, 3);
	ck_assert_uint_eq(r.noted[2].kind, HTTP_F_CONNECTION_LISTED);
	ck_span(b, r.noted[2].line, "Host: h\r\n");
}
END_TEST

static const struct {
	const char *s;
	size_t n;
	enum http_method m;
} bad_resp[] = {
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  HTTP_METHOD_HEAD },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 304 OK\r\nTransfer-Encoding: a b\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 304 OK\r\nContent-Length: x\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"),
	  HTTP_METHOD_HEAD },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/2.0 200 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.2 200 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/0.9 200 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("http/1.1 200 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 20 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 2000 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 099 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 2x0 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1  200 OK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 O\x01K\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 O\rK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200\tOK\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nFoo: a\r\n b\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nFoo : a\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nFoo: a\nBar: b\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nFoo: a\0\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nConnection: a;b\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: Content-Length\r\n\r\n"),
	  HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nConnection: close, content-length\r\n\r\n"), HTTP_METHOD_GET },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n"),
	  HTTP_METHOD_GET },
	{ S("HTTP/1.1 304 OK\r\nConnection: transfer-encoding\r\n\r\n"), HTTP_METHOD_HEAD },
	{ S("\r\nHTTP/1.1 200 OK\r\n\r\n"), HTTP_METHOD_GET },
};

START_TEST(test_resp_reject)
{
	struct http_response r;
	const char *b = guard_at_end(bad_resp[_i].s, bad_resp[_i].n);
	int rc = http_parse_response(b, bad_resp[_i].n, &lim_default, bad_resp[_i].m, &r);

	ck_assert_msg(rc == -1, "bad_resp %d: rc %d", _i, rc);
	ck_assert_ptr_nonnull(r.reason);
}
END_TEST

START_TEST(test_resp_prefixes)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: x\r\nX: 1\r\n\r\n";
	size_t n = strlen(s);
	struct http_response r;
	struct http_limits lim = lim_default;

	for (size_t k = 0; k < n; k++)
		ck_assert_int_eq(http_parse_response(guard_at_end(s, k), k, &lim, HTTP_METHOD_GET, &r), -2);
	ck_assert_int_eq(http_parse_response(guard_at_end(s, n), n, &lim, HTTP_METHOD_GET, &r), (int)n);

	lim.max_head = (uint32_t)n - 1;
	ck_assert_int_eq(http_parse_response(guard_at_end(s, n), n, &lim, HTTP_METHOD_GET, &r), -1);
	ck_assert_ptr_nonnull(r.reason);
	lim = lim_default;
	lim.max_line = 10;
	ck_assert_int_eq(http_parse_response(guard_at_end(s, n), n, &lim, HTTP_METHOD_GET, &r), -1);
	ck_assert_ptr_nonnull(r.reason);
}
END_TEST

START_TEST(test_resp_too_many_noted)
{
	char s[4096];
	size_t n;
	struct http_response r;

	n = (size_t)sprintf(s, "HTTP/1.1 200 OK\r\nConnection: y\r\n");
	for (int i = 0; i < HTTP_MAX_NOTED - 1; i++)
		n += (size_t)sprintf(s + n, "Y: %d\r\n", i);
	sprintf(s + n, "\r\n");
	ck_assert_int_gt(resp_parse(s, HTTP_METHOD_GET, &r, NULL), 0);
	ck_assert_uint_eq(r.nnoted, HTTP_MAX_NOTED);
	n += (size_t)sprintf(s + n, "Y: x\r\n\r\n");
	ck_assert_int_eq(resp_parse(s, HTTP_METHOD_GET, &r, NULL), -1);
	ck_assert_ptr_nonnull(r.reason);
}
END_TEST

/* Chunked bodies */

/* Valid chunked messages, each followed by bytes that are not part of it. */
static const struct {
	const char *s;
	size_t n;
	uint64_t total;
} chunked_ok[] = {
	{ S("5\r\nhello\r\n0\r\n\r\n"), 5 },
	{ S("0\r\n\r\n"), 0 },
	{ S("1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n"), 6 },
	{ S("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n"), 20 },
	{ S("0005\r\nhello\r\n000\r\n\r\n"), 5 },
	{ S("5;a=b;c;d=\"x y\\\"z\" ; e = f\r\nhello\r\n0;last\r\n\r\n"), 5 },
	{ S("3;q=\"\"\r\n\r\n\r\r\n0\r\n\r\n"), 3 },
	{ S("5\r\n\r\n\n\0\x80\r\n0\r\nX-Trailer: 1\r\nY:\r\nZ: a \t b\r\n\r\n"), 5 },
	{ S("1\r\n\n\r\n0 ; x = \"\\\\\"\r\nT: \x80\r\n\r\n"), 1 },
	{ S("00000000000000000000001\r\nx\r\n0\r\n\r\n"), 1 },
	{ S("2\r\n\r\n\r\n0\r\nA: b\r\n\r\n"), 2 },
	{ S("5 \t ;a=bc\t;d\r\nhello\r\n0\r\n\r\n"), 5 },
};

static void chunk_scan_split(const char *s, size_t n, size_t k, uint64_t total)
{
	struct http_chunked c;
	const char *tail = "GET / HTTP/1.1\r\n";
	char *full = malloc(n + strlen(tail));
	ssize_t r1, r2;

	memcpy(full, s, n);
	memcpy(full + n, tail, strlen(tail));
	http_chunked_init(&c);
	r1 = http_chunked_scan(&c, guard_at_end(full, k), k);
	ck_assert_msg(r1 == (ssize_t)k, "split %zu: first part %zd", k, r1);
	ck_assert(!c.done);
	/* The second part carries the pipelined bytes that follow the message. */
	r2 = http_chunked_scan(&c, guard_at_end(full + k, n + strlen(tail) - k), n + strlen(tail) - k);
	ck_assert_msg(r2 == (ssize_t)(n - k), "split %zu: second part %zd", k, r2);
	ck_assert(c.done);
	ck_assert_uint_eq(c.total, total);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end(tail, 3), 3), 0);
	free(full);
}

START_TEST(test_chunked_splits)
{
	const char *s = chunked_ok[_i].s;
	size_t n = chunked_ok[_i].n;

	for (size_t k = 0; k < n; k++)
		chunk_scan_split(s, n, k, chunked_ok[_i].total);
}
END_TEST

START_TEST(test_chunked_bytewise)
{
	const char *s = chunked_ok[_i].s;
	size_t n = chunked_ok[_i].n;
	struct http_chunked c;

	http_chunked_init(&c);
	for (size_t k = 0; k < n; k++) {
		ck_assert(!c.done);
		ck_assert_int_eq(http_chunked_scan(&c, guard_at_end(s + k, 1), 1), 1);
	}
	ck_assert(c.done);
	ck_assert_uint_eq(c.total, chunked_ok[_i].total);
}
END_TEST

static const struct {
	const char *s;
	size_t n;
} chunked_bad[] = {
	{ S("g\r\n") },
	{ S("\r\n") },
	{ S(";a\r\n") },
	{ S(" 5\r\n") },
	{ S("-5\r\n") },
	{ S("+5\r\n") },
	{ S("0x5\r\n") },
	{ S("5\n") },
	{ S("5\r\r\n") },
	{ S("5\rhello\r\n") },
	{ S("5 \r\nhello\r\n0\r\n\r\n") },
	{ S("5\t\r\nhello\r\n0\r\n\r\n") },
	{ S("5;\r\nhello\r\n0\r\n\r\n") },
	{ S("5; \r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a =\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a \r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=b \r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=\"x\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=b=c\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a\x01\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n") },
	{ S("5;a=@\r\nhello\r\n0\r\n\r\n") },
	{ S("5;(\r\nhello\r\n0\r\n\r\n") },
	{ S("5\r\nhelloX\r\n0\r\n\r\n") },
	{ S("5\r\nhelloX\n0\r\n\r\n") },
	{ S("5\r\nhello\n\n0\r\n\r\n") },
	{ S("5\r\nhello\n0\r\n\r\n") },
	{ S("5\r\nhello\r0\r\n\r\n") },
	{ S("5\r\nhello0\r\n\r\n") },
	{ S("5\r\nhell\r\n0\r\n\r\n") },
	{ S("10000000000000000\r\n") },
	{ S("4000000000000001\r\n") },
	{ S("FFFFFFFFFFFFFFFF\r\n") },
	{ S("0\r\n\n") },
	{ S("0\r\n\r\r") },
	{ S("0\r\n\rx") },
	{ S("0\r\nX : y\r\n\r\n") },
	{ S("0\r\n y\r\n\r\n") },
	{ S("0\r\nX: y\r\n z\r\n\r\n") },
	{ S("0\r\n: y\r\n\r\n") },
	{ S("0\r\nX\r\n\r\n") },
	{ S("0\r\nX: \x01\r\n\r\n") },
	{ S("0\r\nX: a\rb\r\n\r\n") },
	{ S("0\r\nX: a\nb\r\n\r\n") },
	{ S("0\r\nX: a\0\r\n\r\n") },
	{ S("0\r\nX: y\n\r\n") },
	{ S("0\n\r\n") },
	{ S("\0") },
};

START_TEST(test_chunked_reject)
{
	const char *s = chunked_bad[_i].s;
	size_t n = chunked_bad[_i].n;
	struct http_chunked c;

	http_chunked_init(&c);
	ck_assert_msg(http_chunked_scan(&c, guard_at_end(s, n), n) == -1, "chunked_bad %d", _i);
	/* An error is final. */
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("0\r\n\r\n", 5), 5), -1);
	ck_assert(!c.done);

	/* Split anywhere, the error is still found. */
	for (size_t k = 0; k <= n; k++) {
		ssize_t r1, r2;

		http_chunked_init(&c);
		r1 = http_chunked_scan(&c, guard_at_end(s, k), k);
		if (r1 == -1)
			continue;
		ck_assert_int_eq(r1, (ssize_t)k);
		r2 = http_chunked_scan(&c, guard_at_end(s + k, n - k), n - k);
		ck_assert_msg(r2 == -1, "chunked_bad %d split %zu: %zd", _i, k, r2);
	}
}
END_TEST

/* ---- Canonical chunk-size lines (http_chunked_canon) ---- */

static const struct {
	const char *in;
	size_t n;
	const char *out;
	size_t on;
} canon_cases[] = {
	{ S("5\r\nhello\r\n0\r\n\r\n"), S("5\r\nhello\r\n0\r\n\r\n") },
	{ S("0\r\n\r\n"), S("0\r\n\r\n") },
	{ S("00000000000000000000005\r\nhello\r\n0\r\n\r\n"), S("5\r\nhello\r\n0\r\n\r\n") },
	{ S("0005\r\nhello\r\n000\r\n\r\n"), S("5\r\nhello\r\n0\r\n\r\n") },
	{ S("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n"),
	  S("a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n") },
	{ S("1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n"),
	  S("1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n") },
	{ S("5;a=b;c;d=\"x y\\\"z\" ; e = f\r\nhello\r\n0;last\r\n\r\n"),
	  S("5\r\nhello\r\n0\r\n\r\n") },
	{ S("5 \t ;a=bc\t;d\r\nhello\r\n0\r\n\r\n"), S("5\r\nhello\r\n0\r\n\r\n") },
	{ S("3;q=\"\"\r\n\r\n\r\r\n0\r\n\r\n"), S("3\r\n\r\n\r\r\n0\r\n\r\n") },
	/* payload and trailers unchanged, whatever they hold */
	{ S("5\r\n\r\n\n\0\x80\r\n0\r\nX-Trailer: 1\r\nY:\r\nZ: a \t b\r\n\r\n"),
	  S("5\r\n\r\n\n\0\x80\r\n0\r\nX-Trailer: 1\r\nY:\r\nZ: a \t b\r\n\r\n") },
	{ S("1\r\n\n\r\n0 ; x = \"\\\\\"\r\nT: \x80\r\n\r\n"), S("1\r\n\n\r\n0\r\nT: \x80\r\n\r\n") },
	{ S("000;ext\r\nTrailer: x\r\n\r\n"), S("0\r\nTrailer: x\r\n\r\n") },
	/* a size line longer than HTTP_CHUNK_SLACK, and several chunks */
	{ S("000000000000000000000000000000000000000000000010;name=value\r\n0123456789abcdef\r\n"
	    "02\r\nxy\r\n00000000000000000000000000000000000000000000000000\r\n\r\n"),
	  S("10\r\n0123456789abcdef\r\n2\r\nxy\r\n0\r\n\r\n") },
};

struct canon_acc {
	char out[512];
	size_t len;
	struct http_chunked c;
};

/* Feeds in[0..n) as conn.c does: the first part compacted in place (out == in), later
 * parts read HTTP_CHUNK_SLACK bytes into a buffer and written from its start; every input
 * ends right before an unreadable page. Returns what the call returned and checks that the
 * input bytes it did not consume (a pipelined request) are intact. */
static ssize_t canon_feed(struct canon_acc *a, const char *in, size_t n, bool first)
{
	char *tmp = malloc(HTTP_CHUNK_SLACK + n + 1), *buf, *src, *dst;
	size_t olen = 12345;
	ssize_t r;

	ck_assert_ptr_nonnull(tmp);
	memset(tmp, 'Z', HTTP_CHUNK_SLACK);
	memcpy(tmp + HTTP_CHUNK_SLACK, in, n);
	buf = guard_at_end(tmp, HTTP_CHUNK_SLACK + n);
	src = buf + HTTP_CHUNK_SLACK;
	dst = first ? src : buf;
	r = http_chunked_canon(&a->c, src, n, dst, &olen);
	if (r >= 0) {
		ck_assert_uint_le(olen, (size_t)r + (first ? 0 : HTTP_CHUNK_SLACK - 1));
		ck_assert(memcmp(src + r, in + r, n - (size_t)r) == 0);
		ck_assert_uint_le(a->len + olen, sizeof(a->out));
		memcpy(a->out + a->len, dst, olen);
		a->len += olen;
	} else {
		ck_assert_uint_eq(olen, 0);
	}
	free(tmp);
	return r;
}

static void canon_check(const struct canon_acc *a, int i, const char *how)
{
	ck_assert_msg(a->c.done, "canon %d %s: not done", i, how);
	ck_assert_msg(a->len == canon_cases[i].on && memcmp(a->out, canon_cases[i].out, a->len) == 0,
		      "canon %d %s: got \"%.*s\"", i, how, (int)a->len, a->out);
}

START_TEST(test_chunked_canon)
{
	const char *in = canon_cases[_i].in, *tail = "GET / HTTP/1.1\r\n";
	size_t n = canon_cases[_i].n, tl = strlen(tail);
	char *full = malloc(n + tl);
	struct http_chunked sc;
	struct canon_acc a;

	memcpy(full, in, n);
	memcpy(full + n, tail, tl);
	/* Whole, with a pipelined request after it: same state as the plain validator. */
	memset(&a, 0, sizeof(a));
	http_chunked_init(&a.c);
	http_chunked_init(&sc);
	ck_assert_int_eq(canon_feed(&a, full, n + tl, true), (ssize_t)n);
	ck_assert_int_eq(http_chunked_scan(&sc, full, n + tl), (ssize_t)n);
	ck_assert_uint_eq(a.c.total, sc.total);
	canon_check(&a, _i, "whole");
	/* The canonical form is valid chunked framing and its own canonical form. */
	{
		struct canon_acc b;

		memset(&b, 0, sizeof(b));
		http_chunked_init(&b.c);
		ck_assert_int_eq(canon_feed(&b, canon_cases[_i].out, canon_cases[_i].on, true),
				 (ssize_t)canon_cases[_i].on);
		canon_check(&b, _i, "again");
	}
	/* Cut at every pair of positions (a size line may be cut twice, or right before its
	 * LF); the tail comes with the last part. */
	for (size_t k1 = 0; k1 <= n; k1++) {
		for (size_t k2 = k1; k2 <= n; k2++) {
			memset(&a, 0, sizeof(a));
			http_chunked_init(&a.c);
			ck_assert_int_eq(canon_feed(&a, full, k1, true), (ssize_t)k1);
			ck_assert_int_eq(canon_feed(&a, full + k1, k2 - k1, false), (ssize_t)(k2 - k1));
			ck_assert_int_eq(canon_feed(&a, full + k2, n + tl - k2, false), (ssize_t)(n - k2));
			canon_check(&a, _i, "split");
		}
	}
	/* One byte at a time. */
	memset(&a, 0, sizeof(a));
	http_chunked_init(&a.c);
	for (size_t k = 0; k < n; k++)
		ck_assert_int_eq(canon_feed(&a, in + k, 1, k == 0), 1);
	canon_check(&a, _i, "bytewise");
	free(full);
}
END_TEST

/* Invalid framing stays invalid, whole or cut anywhere. */
START_TEST(test_chunked_canon_reject)
{
	const char *s = chunked_bad[_i].s;
	size_t n = chunked_bad[_i].n;
	struct canon_acc a;

	memset(&a, 0, sizeof(a));
	http_chunked_init(&a.c);
	ck_assert_msg(canon_feed(&a, s, n, true) == -1, "chunked_bad %d", _i);
	ck_assert_int_eq(canon_feed(&a, "0\r\n\r\n", 5, false), -1);
	ck_assert(!a.c.done);
	for (size_t k = 0; k <= n; k++) {
		memset(&a, 0, sizeof(a));
		http_chunked_init(&a.c);
		if (canon_feed(&a, s, k, true) == -1)
			continue;
		ck_assert_msg(canon_feed(&a, s + k, n - k, false) == -1, "chunked_bad %d split %zu",
			      _i, k);
	}
}
END_TEST

/* The largest write ahead of the input: a 16-digit size whose digits and CR came in the
 * previous read, and only its LF in this one. */
START_TEST(test_chunked_canon_slack)
{
	static const char want[] = "3ffffffffffffffe\r\nabc";
	struct canon_acc a;
	char *big;

	memset(&a, 0, sizeof(a));
	http_chunked_init(&a.c);
	ck_assert_int_eq(canon_feed(&a, "00003FFFFFFFFFFFFFFE\r", 21, true), 21);
	ck_assert_uint_eq(a.len, 0);
	ck_assert_int_eq(canon_feed(&a, "\nabc", 4, false), 4);
	ck_assert_uint_eq(a.len, sizeof(want) - 1);
	ck_assert(memcmp(a.out, want, a.len) == 0);
	ck_assert_uint_eq(a.c.left, UINT64_C(0x3ffffffffffffffe) - 3);

	/* A large chunk: its size line goes through the writer, its payload can be skipped
	 * (spliced) and the rest goes on. */
	memset(&a, 0, sizeof(a));
	http_chunked_init(&a.c);
	ck_assert_int_eq(canon_feed(&a, "0000100000;big=1\r\nxy", 20, true), 20);
	ck_assert_uint_eq(a.len, 10);
	ck_assert(memcmp(a.out, "100000\r\nxy", 10) == 0);
	ck_assert(http_chunked_in_payload(&a.c));
	http_chunked_skip(&a.c, a.c.left);
	ck_assert_int_eq(canon_feed(&a, "\r\n00;x\r\n\r\nGET", 13, false), 10);
	ck_assert(a.c.done);
	ck_assert_uint_eq(a.c.total, 0x100000);
	ck_assert(memcmp(a.out, "100000\r\nxy\r\n0\r\n\r\n", 17) == 0);
	ck_assert_uint_eq(a.len, 17);

	/* A 4000-byte size line of zeros and an extension, cut in the middle. */
	big = malloc(5000);
	memset(big, '0', 4000);
	memcpy(big + 4000, "3;e=\"v\"\r\nabc\r\n0\r\n\r\n", 19);
	memset(&a, 0, sizeof(a));
	http_chunked_init(&a.c);
	ck_assert_int_eq(canon_feed(&a, big, 2000, true), 2000);
	ck_assert_int_eq(canon_feed(&a, big + 2000, 2019, false), 2019);
	ck_assert(a.c.done);
	ck_assert_uint_eq(a.len, 13);
	ck_assert(memcmp(a.out, "3\r\nabc\r\n0\r\n\r\n", 13) == 0);
	free(big);
}
END_TEST

START_TEST(test_chunked_limits)
{
	struct http_chunked c;
	size_t n = 5000;
	char *s = repeat('a', n);
	size_t i;

	/* Size line of exactly 4096 bytes is fine; 4097 is not. */
	s[0] = '5';
	s[1] = ';';
	memcpy(s + 4096, "\r\nhello\r\n", 9);
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end(s, 4105), 4105), 4105);
	ck_assert(!c.done);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("0\r\n\r\n", 5), 5), 5);
	ck_assert(c.done);

	memset(s, 'a', n);
	s[0] = '5';
	s[1] = ';';
	memcpy(s + 4097, "\r\n", 2);
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end(s, 4099), 4099), -1);

	/* Leading zeros do not count toward the 16 significant digits, the line limit holds. */
	memset(s, '0', n);
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end(s, 4096), 4096), 4096);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("1", 1), 1), -1);

	/* 16 significant digits up to 2^62 are accepted. */
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("4000000000000000\r\nab", 20), 20), 20);
	ck_assert(http_chunked_in_payload(&c));
	ck_assert_uint_eq(c.left, (UINT64_C(1) << 62) - 2);
	ck_assert_uint_eq(c.total, 2);
	/* ...but the total over chunks may not exceed it either. */
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("1\r\nx\r\n", 6), 6), 6);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("4000000000000000\r\n", 18), 18), -1);

	/* Trailer section bounded to 8192 bytes. */
	free(s);
	n = 8300;
	s = repeat('v', n);
	memcpy(s, "0\r\n", 3);
	for (i = 3; i + 100 <= n; i += 100) {
		memcpy(s + i, "X:", 2);
		memcpy(s + i + 98, "\r\n", 2);
	}
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end(s, n), n), -1);
	/* 81 lines of 100 bytes plus the final CRLF fit. */
	memcpy(s + 3 + 8100, "\r\n", 2);
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end(s, 3 + 8102), 3 + 8102), 3 + 8102);
	ck_assert(c.done);
	free(s);
}
END_TEST

START_TEST(test_chunked_skip)
{
	struct http_chunked c;

	/* Part of a chunk scanned, the rest moved by the caller (splice). */
	http_chunked_init(&c);
	ck_assert(!http_chunked_in_payload(&c));
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("5\r\nhe", 5), 5), 5);
	ck_assert(http_chunked_in_payload(&c));
	ck_assert_uint_eq(c.left, 3);
	http_chunked_skip(&c, 2);
	ck_assert(http_chunked_in_payload(&c));
	http_chunked_skip(&c, 1);
	ck_assert(!http_chunked_in_payload(&c));
	ck_assert_uint_eq(c.total, 5);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("\r\n0\r\n\r\nX", 8), 8), 7);
	ck_assert(c.done);

	/* A whole chunk skipped right after its size line. */
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("1000\r\n", 6), 6), 6);
	ck_assert(http_chunked_in_payload(&c));
	ck_assert_uint_eq(c.left, 0x1000);
	http_chunked_skip(&c, 0x1000);
	ck_assert(!http_chunked_in_payload(&c));
	/* The CRLF after the data is still checked. */
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("X\r\n", 3), 3), -1);

	/* skip() outside of a payload does nothing. */
	http_chunked_init(&c);
	http_chunked_skip(&c, 5);
	ck_assert_uint_eq(c.total, 0);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("0\r\n\r\n", 5), 5), 5);
	ck_assert(c.done);

	/* Empty input is fine anywhere. */
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_scan(&c, guard_at_end("", 0), 0), 0);
}
END_TEST

/* http_head_end */

START_TEST(test_head_end_basic)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\0\n";
	size_t n = strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n");

	ck_assert_int_eq(http_head_end(guard_at_end(s, n + 6), n + 6, 0), (ssize_t)n);
	ck_assert_int_eq(http_head_end(guard_at_end(s, n), n, 0), (ssize_t)n);
	ck_assert_int_eq(http_head_end(guard_at_end(s, n - 1), n - 1, 0), 0);
	ck_assert_int_eq(http_head_end(guard_at_end("", 0), 0, 0), 0);
	ck_assert_int_eq(http_head_end(guard_at_end("\r\n\r\n", 4), 4, 0), 4);
	/* Calls with every start offset within the head find the same end. */
	for (size_t from = 0; from < n; from++)
		ck_assert_int_eq(http_head_end(guard_at_end(s, n + 6), n + 6, from), (ssize_t)n);
}
END_TEST

START_TEST(test_head_end_incremental)
{
	/* One byte per receive: the terminator straddles `from` on the last three calls. */
	const char *s = valid_heads[_i];
	size_t n = strlen(s);

	for (size_t k = 1; k <= n; k++) {
		ssize_t r = http_head_end(guard_at_end(s, k), k, k - 1);

		ck_assert_int_eq(r, k == n ? (ssize_t)n : 0);
	}
	/* Two receives, split anywhere. */
	for (size_t k = 0; k < n; k++) {
		ck_assert_int_eq(http_head_end(guard_at_end(s, k), k, 0), 0);
		ck_assert_int_eq(http_head_end(guard_at_end(s, n), n, k), (ssize_t)n);
	}
}
END_TEST

START_TEST(test_head_end_invalid)
{
	ck_assert_int_eq(http_head_end(guard_at_end("\n", 1), 1, 0), -1);
	ck_assert_int_eq(http_head_end(guard_at_end("GET / HTTP/1.1\n", 15), 15, 0), -1);
	ck_assert_int_eq(http_head_end(guard_at_end("GET / HTTP/1.1\r\nHost: a\n\r\n", 26), 26, 0), -1);
	ck_assert_int_eq(http_head_end(guard_at_end("GET / HTTP/1.1\r\n\n", 17), 17, 0), -1);
	ck_assert_int_eq(http_head_end(guard_at_end("GET /\0 HTTP/1.1\r\n\r\n", 19), 19, 0), -1);
	/* a bare CR right before CRLF: refused when its LF arrives, not left waiting for a
	 * CRLFCRLF that the bytes so far can no longer form validly */
	ck_assert_int_eq(http_head_end(guard_at_end("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 28), 28, 0),
			 -1);
	ck_assert_int_eq(http_head_end(guard_at_end("GET / HTTP/1.1\r\r\n", 17), 17, 0), -1);
	ck_assert_int_eq(http_head_end(guard_at_end("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 28), 28, 27),
			 -1);
	ck_assert_int_eq(http_head_end(guard_at_end("GET /\0", 6), 6, 0), -1);
	ck_assert_int_eq(http_head_end(guard_at_end("\0", 1), 1, 0), -1);
	/* The byte before `from` is what makes an LF at `from` valid or bare. */
	ck_assert_int_eq(http_head_end(guard_at_end("GET /\r\n", 7), 7, 6), 0);
	ck_assert_int_eq(http_head_end(guard_at_end("GET /x\n", 7), 7, 6), -1);
	ck_assert_int_eq(http_head_end(guard_at_end("\r\n\r\n", 4), 4, 3), 4);
	ck_assert_int_eq(http_head_end(guard_at_end("x\n\r\n", 4), 4, 3), 0);
	/* A NUL or bare LF before `from` was checked by an earlier call. */
	ck_assert_int_eq(http_head_end(guard_at_end("\0\r\n", 3), 3, 1), 0);
	/* Bytes after the head are not looked at. */
	ck_assert_int_eq(http_head_end(guard_at_end("\r\n\r\n\0\n", 6), 6, 0), 4);
}
END_TEST

/* Helpers */

START_TEST(test_span_eq)
{
	const char *b = guard_at_end("xContent-LENGTHy", 16);

	ck_assert(http_span_eq(b, (struct http_span){ 1, 14 }, "content-length"));
	ck_assert(!http_span_eq(b, (struct http_span){ 1, 13 }, "content-length"));
	ck_assert(!http_span_eq(b, (struct http_span){ 1, 14 }, "content-lengtz"));
	ck_assert(http_span_eq(b, (struct http_span){ 5, 0 }, ""));
	ck_assert(!http_span_eq(b, (struct http_span){ 15, 1 }, "x"));
	ck_assert(http_span_eq(b, (struct http_span){ 15, 1 }, "y"));
}
END_TEST

START_TEST(test_status_text)
{
	static const struct {
		unsigned code;
		const char *text;
	} t[] = {
		{ 100, "Continue" },       { 200, "OK" },          { 206, "Partial Content" },
		{ 304, "Not Modified" },   { 308, "Permanent Redirect" },
		{ 400, "Bad Request" },    { 414, "URI Too Long" },
		{ 417, "Expectation Failed" }, { 431, "Request Header Fields Too Large" },
		{ 501, "Not Implemented" }, { 502, "Bad Gateway" },
		{ 505, "HTTP Version Not Supported" }, { 0, "Unknown" }, { 299, "Unknown" },
		{ 1000, "Unknown" },
	};
	static const unsigned used[] = { 100, 101, 200, 201, 202, 203, 204, 205, 206, 301, 302,
					 303, 304, 307, 308, 400, 403, 404, 405, 408, 411, 413,
					 414, 416, 417, 431, 500, 501, 502, 503, 504, 505 };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_str_eq(http_status_text(t[i].code), t[i].text);
	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		ck_assert_str_ne(http_status_text(used[i]), "Unknown");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Path normalization: what routing sees and what goes upstream. */
static const struct {
	const char *in;
	const char *out; /* NULL: rejected */
} norm_cases[] = {
	{ "/", "/" }, { "/a", "/a" }, { "/a/", "/a/" }, { "//a", "/a" }, { "/a//b//", "/a/b/" },
	{ "/%61dmin/x", "/admin/x" }, { "/./admin/x", "/admin/x" }, { "//admin/x", "/admin/x" },
	{ "/api/../admin/x", "/admin/x" }, { "/api/%2e%2e/admin/x", "/admin/x" },
	{ "/api/%2E%2E/admin", "/admin" }, { "/a/b/..", "/a/" }, { "/a/b/.", "/a/b/" },
	{ "/a/.", "/a/" }, { "/.", "/" }, { "/a%2fb", "/a%2Fb" }, { "/a%2Fb/%7e", "/a%2Fb/~" },
	{ "/%20x%3f", "/%20x%3F" }, { "/a/%2e", "/a/" }, { "/a/.b/..c", "/a/.b/..c" },
	{ "/..", NULL }, { "/a/../..", NULL }, { "/../a", NULL }, { "/%2e%2e/a", NULL },
	{ "/%zz", NULL }, { "/%4", NULL }, { "/%", NULL }, { "a", NULL }, { "", NULL },
};

START_TEST(test_path_normalize)
{
	const char *in = norm_cases[_i].in;
	size_t n = strlen(in);
	char *b = (char *)guard_at_end(in, n);
	ssize_t r = http_path_normalize(b, n);

	if (!norm_cases[_i].out) {
		ck_assert_msg(r == -1, "\"%s\" must be rejected, got %zd", in, r);
		return;
	}
	ck_assert_msg(r >= 0 && (size_t)r == strlen(norm_cases[_i].out) &&
		      memcmp(b, norm_cases[_i].out, (size_t)r) == 0,
		      "\"%s\" -> \"%.*s\", want \"%s\"", in, (int)(r < 0 ? 0 : r), b,
		      norm_cases[_i].out);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	struct {
		const char *name;
		const TTest *test;
		int loop; /* 0: single run, else loop over [0, loop) */
	} tc[] = {
		{ "req_get", test_req_get, 0 },
		{ "req_head_post", test_req_head_post, 0 },
		{ "req_options_asterisk", test_req_options_asterisk, 0 },
		{ "req_absolute_form", test_req_absolute_form, 0 },
		{ "req_http10", test_req_http10, 0 },
		{ "req_methods", test_req_methods, 0 },
		{ "req_pipelined", test_req_pipelined, 0 },
		{ "req_query_chars", test_req_query_chars, 0 },
		{ "req_values_trimmed", test_req_values_trimmed, 0 },
		{ "req_host_valid", test_req_host_valid, 0 },
		{ "req_reject", test_req_reject, N(bad_req) },
		{ "req_reasons", test_req_reasons, 0 },
		{ "req_reject_early", test_req_reject_early, 0 },
		{ "req_prefixes", test_req_prefixes, N(valid_heads) },
		{ "req_limit_head", test_req_limit_head, 0 },
		{ "req_limit_line", test_req_limit_line, 0 },
		{ "req_limit_field", test_req_limit_field, 0 },
		{ "req_limit_fields", test_req_limit_fields, 0 },
		{ "req_limit_big", test_req_limit_big, 0 },
		{ "req_noted", test_req_noted, 0 },
		{ "req_noted_client_fields", test_req_noted_client_fields, 0 },
		{ "field_value", test_field_value, 0 },
		{ "req_conn_listed_keeps_kind", test_req_conn_listed_keeps_kind, 0 },
		{ "req_too_many_noted", test_req_too_many_noted, 0 },
		{ "req_framing", test_req_framing, 0 },
		{ "charclass_method", test_charclass_method, 0 },
		{ "charclass_path", test_charclass_path, 0 },
		{ "charclass_query", test_charclass_query, 0 },
		{ "charclass_field", test_charclass_field, 0 },
		{ "resp_framing", test_resp_framing, 0 },
		{ "resp_fields", test_resp_fields, 0 },
		{ "resp_reject", test_resp_reject, N(bad_resp) },
		{ "resp_prefixes", test_resp_prefixes, 0 },
		{ "resp_too_many_noted", test_resp_too_many_noted, 0 },
		{ "chunked_splits", test_chunked_splits, N(chunked_ok) },
		{ "chunked_bytewise", test_chunked_bytewise, N(chunked_ok) },
		{ "chunked_reject", test_chunked_reject, N(chunked_bad) },
		{ "chunked_limits", test_chunked_limits, 0 },
		{ "chunked_skip", test_chunked_skip, 0 },
		{ "chunked_canon", test_chunked_canon, N(canon_cases) },
		{ "chunked_canon_reject", test_chunked_canon_reject, N(chunked_bad) },
		{ "chunked_canon_slack", test_chunked_canon_slack, 0 },
		{ "head_end_basic", test_head_end_basic, 0 },
		{ "head_end_incremental", test_head_end_incremental, N(valid_heads) },
		{ "head_end_invalid", test_head_end_invalid, 0 },
		{ "span_eq", test_span_eq, 0 },
		{ "response_conn_upgrade", test_response_conn_upgrade, 0 },
		{ "list_next", test_list_next, 0 },
		{ "status_text", test_status_text, 0 },
		{ "path_normalize", test_path_normalize, N(norm_cases) },
	};

	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		TCase *t = tcase_create(tc[i].name);

		if (tc[i].loop)
			tcase_add_loop_test(t, tc[i].test, 0, tc[i].loop);
		else
			tcase_add_test(t, tc[i].test);
		suite_add_tcase(s, t);
	}
	return s;
}

int main(void)
{
	return ck_run_suite(http_suite());
}
