/* End-to-end suite for the proxy behaviour: the real spliced binary in front of the real
 * tools/testbackend, both on 127.0.0.1 ports chosen at run time, driven by a raw client.
 *
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets both). Every test
 * starts its own processes, so tests are independent and can run in any order. Timeouts
 * are only upper bounds against hangs; nothing here measures speed. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define MIB10 (10u * 1024u * 1024u)

/* ---- helpers ------------------------------------------------------------------------ */

/* Backend (extra args) plus spliced with "ProxyPass / backend" and extra configuration. */
static void start_pair(struct e2e_proc *be, struct e2e_proc *sp, const char *be_args,
		       const char *extra_conf)
{
	e2e_backend_start(be, be_args);
	e2e_spliced_startf(sp, "ProxyPass / http://127.0.0.1:%d/\n%s", be->port,
			   extra_conf ? extra_conf : "");
}

/* SIGTERM spliced, which must exit 0. */
static void stop_spliced_ok(struct e2e_proc *sp)
{
	int code = e2e_spliced_stop(sp);

	if (code != 0) {
		char *rep = e2e_spliced_report(sp);

		ck_abort_msg("spliced exited with %d after SIGTERM (expected 0)\n%s", code, rep);
	}
}

static void stop_pair(struct e2e_proc *be, struct e2e_proc *sp)
{
	stop_spliced_ok(sp);
	e2e_backend_stop(be);
}

/* "GET target HTTP/1.1" with Host: a, one response, failing the test on any error. */
static void get(struct e2e_client *c, const char *target, struct e2e_response *r)
{
	char req[4096];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a.example\r\n\r\n", target);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; response head:\n%s", \
		      (want), (r)->status, e2e_escs((r)->head))

/* The backend's echo (the request head it received) has exactly this line. */
#define ck_echo_line(r, line) \
	ck_assert_msg(e2e_head_has_line((r)->body, (r)->body_len, (line)), \
		      "the backend did not receive the line \"%s\"; it received:\n%s", \
		      e2e_escs(line), e2e_esc((r)->body, (r)->body_len))

#define ck_echo_no_field(r, name) \
	ck_assert_msg(e2e_head_field_count((r)->body, (r)->body_len, (name)) == 0, \
		      "the backend received a \"%s\" field, which must not be forwarded; " \
		      "it received:\n%s", (name), e2e_esc((r)->body, (r)->body_len))

/* The response header `name` is `want`. */
static void ck_header_eq(const struct e2e_response *r, const char *name, const char *want)
{
	const char *v = e2e_header(r, name);

	ck_assert_msg(v && strcmp(v, want) == 0, "expected header %s: %s, got %s; head:\n%s",
		      name, want, v ? e2e_escs(v) : "(absent)", e2e_escs(r->head));
}

/* The body is bytes [0, n) of the testbackend pattern. */
static void ck_pattern_body(const struct e2e_response *r, size_t n, const char *what)
{
	long long bad;

	ck_assert_msg(r->body_len == n, "%s: body of %zu bytes, expected %zu; head:\n%s", what,
		      r->body_len, n, e2e_escs(r->head));
	bad = e2e_pattern_mismatch(r->body, r->body_len);
	ck_assert_msg(bad < 0, "%s: body differs from the pattern at byte %lld "
		      "(got 0x%02x, want 0x%02x); fnv %s, want %s", what, bad,
		      bad >= 0 ? r->body[bad] : 0, bad >= 0 ? (unsigned)((bad * 7 + 3) % 251) : 0,
		      e2e_hex64(e2e_fnv1a64(r->body, r->body_len)), e2e_hex64(e2e_pattern_fnv(n)));
}

/* The connection is closed by spliced within 10 s (EOF or reset). */
static void ck_closed(struct e2e_client *c, const char *what)
{
	int st = e2e_wait_closed(c, 10000);

	ck_assert_msg(st == E2E_CLOSED_EOF || st == E2E_CLOSED_RESET,
		      "%s: spliced did not close the connection within 10 s (%s) %s", what,
		      st == E2E_OPEN ? "still open" :
		      e2e_esc(c->buf + c->start, c->end - c->start), e2e_diag());
}

static void ck_log_mentions(const struct e2e_proc *sp, const char *needle, const char *what)
{
	if (!e2e_log_wait_for(sp, needle, 5000)) {
		char *log = e2e_spliced_log(sp);

		ck_abort_msg("%s: the error log has no line mentioning \"%s\"; it has:\n%s", what,
			     needle, log);
	}
}

/* POST `body` (n bytes) to target with Content-Length, one response. */
static void post(struct e2e_client *c, const char *target, const unsigned char *body, size_t n,
		 struct e2e_response *r)
{
	char head[512];
	int hl = snprintf(head, sizeof(head),
			  "POST %s HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/octet-stream"
			  "\r\nContent-Length: %zu\r\n\r\n", target, n);
	int rc = e2e_send(c, head, (size_t)hl);

	ck_assert_msg(rc == 0, "sending the POST head: %s %s", strerror(-rc), e2e_diag());
	rc = e2e_send(c, body, n);
	ck_assert_msg(rc == 0, "sending the %zu-byte POST body: %s %s", n, strerror(-rc),
		      e2e_diag());
	ck_assert_msg(e2e_read_response(c, r, false) == 0, "POST %s (%zu bytes): %s", target, n,
		      r->err);
}

/* The backend saw a body of n bytes hashing to the FNV of body. */
static void ck_backend_body(const struct e2e_response *r, const unsigned char *body, size_t n)
{
	char len[32];

	snprintf(len, sizeof(len), "%zu", n);
	ck_header_eq(r, "X-Body-Len", len);
	ck_header_eq(r, "X-Body-Fnv", e2e_hex64(e2e_fnv1a64(body, n)));
}

/* ---- tests -------------------------------------------------------------------------- */

START_TEST(test_get_forwarding)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char line[128];
	const char *req1 = "GET /path?q=1 HTTP/1.1\r\nHost: client.example\r\nUser-Agent: e2e\r\n\r\n";
	const char *req2 = "GET /path?q=2 HTTP/1.1\r\nHost: client.example\r\n"
			   "X-Forwarded-For: 1.2.3.4\r\n\r\n";
	static const char first[] = "GET /path?q=1 HTTP/1.1\r\n";

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);

	e2e_roundtrip(&c, req1, strlen(req1), &r, false);
	ck_status(&r, 200);
	ck_assert_msg(r.body_len >= sizeof(first) - 1 && memcmp(r.body, first, sizeof(first) - 1) == 0,
		      "the backend's request line is not \"GET /path?q=1 HTTP/1.1\"; it received:\n%s",
		      e2e_esc(r.body, r.body_len));
	ck_echo_line(&r, "X-Forwarded-For: 127.0.0.1");
	ck_echo_line(&r, "X-Forwarded-Host: client.example");
	ck_echo_line(&r, "X-Forwarded-Proto: http");
	ck_echo_line(&r, "User-Agent: e2e");
	snprintf(line, sizeof(line), "Host: 127.0.0.1:%d", be.port);
	ck_echo_line(&r, line);
	ck_assert_msg(e2e_head_field_count(r.body, r.body_len, "Host") == 1,
		      "the backend received %u Host fields:\n%s",
		      e2e_head_field_count(r.body, r.body_len, "Host"), e2e_esc(r.body, r.body_len));
	ck_assert_msg(e2e_head_field_count(r.body, r.body_len, "X-Forwarded-For") == 1,
		      "the backend received several X-Forwarded-For fields:\n%s",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);

	/* an existing X-Forwarded-For is extended, on the same (kept-alive) connection */
	e2e_roundtrip(&c, req2, strlen(req2), &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "X-Forwarded-For: 1.2.3.4, 127.0.0.1");
	ck_assert_msg(e2e_head_field_count(r.body, r.body_len, "X-Forwarded-For") == 1,
		      "the backend received several X-Forwarded-For fields:\n%s",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);

	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_query_bytes)
{
	static const char target[] =
		"/path/sub?q=1&a=%2F%20x&b=~!$'()*+,;=:@/?&empty=&&x=%C3%a9&y=A%2bB";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char want[512];

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	get(&c, target, &r);
	ck_status(&r, 200);
	snprintf(want, sizeof(want), "GET %s HTTP/1.1", target);
	ck_assert_msg(r.body_len > strlen(want) && memcmp(r.body, want, strlen(want)) == 0 &&
		      memcmp(r.body + strlen(want), "\r\n", 2) == 0,
		      "the request-target was not forwarded byte for byte: sent \"%s\", the backend "
		      "received:\n%s", want, e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_preserve_host)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	const char *req = "GET /ph HTTP/1.1\r\nHost: client.example:8443\r\n\r\n";

	start_pair(&be, &sp, NULL, "ProxyPreserveHost On\n");
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, req, strlen(req), &r, false);
	ck_status(&r, 200);
	ck_echo_line(&r, "Host: client.example:8443");
	ck_echo_line(&r, "X-Forwarded-Host: client.example:8443");
	ck_assert_msg(e2e_head_field_count(r.body, r.body_len, "Host") == 1,
		      "the backend received several Host fields:\n%s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_hop_by_hop)
{
	static const char req[] =
		"GET /hop HTTP/1.1\r\n"
		"Host: h.example\r\n"
		"Connection: Foo, keep-alive\r\n"
		"Foo: bar\r\n"
		"Keep-Alive: timeout=5\r\n"
		"Proxy-Connection: keep-alive\r\n"
		"TE: trailers\r\n"
		"Upgrade: websocket\r\n"
		"X-MiXeD-CaSe: Value With  Two Spaces\r\n"
		"x-lower-obs: a\x80\xff b\xc3\xa9\r\n"
		"Accept: */*\r\n"
		"Cookie: a=1; b=2\r\n"
		"\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char conn[256];

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	ck_status(&r, 200);
	ck_echo_no_field(&r, "Foo");
	ck_echo_no_field(&r, "Keep-Alive");
	ck_echo_no_field(&r, "Proxy-Connection");
	ck_echo_no_field(&r, "TE");
	ck_echo_no_field(&r, "Upgrade");
	if (e2e_head_field(r.body, r.body_len, "Connection", conn, sizeof(conn)))
		ck_assert_msg(!strcasestr(conn, "foo") && !strcasestr(conn, "upgrade"),
			      "the client's Connection options reached the backend:\n%s",
			      e2e_esc(r.body, r.body_len));
	ck_echo_line(&r, "X-MiXeD-CaSe: Value With  Two Spaces");
	ck_echo_line(&r, "x-lower-obs: a\x80\xff b\xc3\xa9");
	ck_echo_line(&r, "Accept: */*");
	ck_echo_line(&r, "Cookie: a=1; b=2");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_prefix_mapping)
{
	static const char first[] = "GET /base/x?y HTTP/1.1\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char *rec;
	size_t rl;

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /app/ http://127.0.0.1:%d/base/\n", be.port);

	e2e_client_open(&c, sp.port);
	get(&c, "/app/x?y", &r);
	ck_status(&r, 200);
	ck_assert_msg(r.body_len >= sizeof(first) - 1 && memcmp(r.body, first, sizeof(first) - 1) == 0,
		      "/app/x?y was not mapped to /base/x?y; the backend received:\n%s",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);

	e2e_client_open(&c, sp.port);
	get(&c, "/other/x", &r);
	ck_status(&r, 404);
	e2e_response_free(&r);
	e2e_client_close(&c);

	rec = e2e_read_file(be.record, &rl);
	ck_assert_msg(rec && !memmem(rec, rl, "/other", 6),
		      "the unmapped /other/x reached the backend; its record:\n%s",
		      rec ? e2e_esc(rec, rl) : "(unreadable)");
	free(rec);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_head)
{
	static const char req[] = "HEAD /?len=1234 HTTP/1.1\r\nHost: a.example\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, true);
	ck_status(&r, 200);
	ck_header_eq(&r, "Content-Length", "1234");
	e2e_response_free(&r);
	/* no body may follow: anything pending now would be a stray body */
	ck_assert_msg(e2e_wait_closed(&c, 300) == E2E_OPEN,
		      "after the HEAD response the connection got bytes or closed: \"%s\"",
		      e2e_esc(c.buf + c.start, c.end - c.start));
	get(&c, "/?len=10", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 10, "GET after HEAD");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_post_small)
{
	static const unsigned char body[] = "hello world";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	post(&c, "/?body=echo", body, 11, &r);
	ck_status(&r, 200);
	ck_backend_body(&r, body, 11);
	ck_header_eq(&r, "X-Body-Chunked", "0");
	ck_assert_msg(r.body_len == 11 && memcmp(r.body, body, 11) == 0, "echoed body \"%s\"",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	/* and the connection goes on */
	get(&c, "/?len=3", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 3, "GET after POST");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_post_10mib)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	unsigned char *body = malloc(MIB10);

	ck_assert(body != NULL);
	e2e_random_fill(body, MIB10, 42);
	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	post(&c, "/upload", body, MIB10, &r);
	ck_status(&r, 200);
	ck_backend_body(&r, body, MIB10);
	e2e_response_free(&r);
	e2e_client_close(&c);
	free(body);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_get_10mib)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=10485760", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, MIB10, "10 MiB download");
	ck_assert_msg(e2e_fnv1a64(r.body, r.body_len) == e2e_pattern_fnv(MIB10), "FNV mismatch");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_chunked_upload)
{
	static const size_t sizes[] = { 1, 100, 5000, 70000, 3, 200000 };
	static const char head[] = "POST /?body=echo HTTP/1.1\r\nHost: a.example\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	size_t total = 0, off = 0;
	unsigned char *body;
	int rc;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	body = malloc(total);
	ck_assert(body != NULL);
	e2e_random_fill(body, total, 7);
	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	rc = e2e_send(&c, head, sizeof(head) - 1);
	ck_assert_msg(rc == 0, "send head: %s", strerror(-rc));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), i == 2 ? "%zx;ext=1\r\n" : "%zx\r\n", sizes[i]);

		e2e_sleep_ms(10);   /* separate segments; correctness does not depend on it */
		rc = e2e_send(&c, line, (size_t)n);
		if (rc == 0)
			rc = e2e_send(&c, body + off, sizes[i]);
		if (rc == 0)
			rc = e2e_send(&c, "\r\n", 2);
		ck_assert_msg(rc == 0, "sending chunk %zu: %s %s", i, strerror(-rc), e2e_diag());
		off += sizes[i];
	}
	rc = e2e_send(&c, "0\r\n\r\n", 5);
	ck_assert_msg(rc == 0, "sending the last chunk: %s", strerror(-rc));
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "chunked upload: %s", r.err);
	ck_status(&r, 200);
	ck_header_eq(&r, "X-Body-Chunked", "1");
	ck_backend_body(&r, body, total);
	ck_assert_msg(r.body_len == total && memcmp(r.body, body, total) == 0,
		      "echoed body differs (%zu bytes, sent %zu)", r.body_len, total);
	e2e_response_free(&r);
	get(&c, "/?len=5", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 5, "GET after a chunked upload");
	e2e_response_free(&r);
	e2e_client_close(&c);
	free(body);
	stop_pair(&be, &sp);
}
END_TEST

/* A chunked request body goes upstream with canonical chunk-size lines (lower-case hex, no
 * leading zeros, no extensions) and everything else unchanged: the backend (body=wire)
 * answers with the bytes it received. Go's net/http, for one, refuses more than 16 hex
 * digits, so a valid request with leading zeros must not reach it as written. */

/* Sends the head, then each part in its own send() after a pause (separate reads are
 * likely; correctness does not depend on it), and checks what the backend received. */
static void chunked_wire(struct e2e_client *c, const char *const *parts, const size_t *lens,
			 size_t nparts, const char *want, size_t want_len, const char *what)
{
	static const char head[] = "POST /?body=wire HTTP/1.1\r\nHost: a.example\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	struct e2e_response r;
	int rc = e2e_send(c, head, sizeof(head) - 1);

	ck_assert_msg(rc == 0, "%s: send head: %s", what, strerror(-rc));
	for (size_t i = 0; i < nparts; i++) {
		e2e_sleep_ms(30);
		rc = e2e_send(c, parts[i], lens ? lens[i] : strlen(parts[i]));
		ck_assert_msg(rc == 0, "%s: send part %zu: %s %s", what, i, strerror(-rc), e2e_diag());
	}
	ck_assert_msg(e2e_read_response(c, &r, false) == 0, "%s: %s", what, r.err);
	ck_status(&r, 200);
	ck_header_eq(&r, "X-Body-Chunked", "1");
	ck_assert_msg(r.body_len == want_len && memcmp(r.body, want, want_len) == 0,
		      "%s: the backend received \"%s\" (%zu bytes), want %zu bytes \"%s\"", what,
		      e2e_esc(r.body, r.body_len > 300 ? 300 : r.body_len), r.body_len, want_len,
		      e2e_esc(want, want_len > 300 ? 300 : want_len));
	e2e_response_free(&r);
}

START_TEST(test_chunked_canonical_upstream)
{
	static const char canon[] = "5\r\nhello\r\n0\r\n\r\n";
	static const char *const with_head[] = {
		"POST /?body=wire HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n"
		"00000000000000000000005;a=b ; c=\"d e\"\r\nhello\r\n0;last\r\nX-T: 1\r\n\r\n"
	};
	/* a size line cut in three, an extension cut, the last chunk cut before its LF */
	static const char *const split[] = { "0000", "00000000000000000000000000000000000000000",
					     "5", ";n", "ame=v\r", "\nhel", "lo\r\n0",
					     "00;x=\"y\"\r", "\n\r\n" };
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	const size_t big = 200000;
	char *parts[3], *want;
	size_t lens[3], wl = 0;
	unsigned long long spliced = 0;
	char *log;
	int rc;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);

	/* body in the same read as the head, extensions and trailer */
	rc = e2e_send_str(&c, with_head[0]);
	ck_assert_msg(rc == 0, "send: %s", strerror(-rc));
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "with the head: %s", r.err);
	ck_status(&r, 200);
	ck_assert_msg(r.body_len == 23 && memcmp(r.body, "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", 23) == 0,
		      "with the head: the backend received \"%s\"", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);

	/* every line cut across sends */
	chunked_wire(&c, split, NULL, sizeof(split) / sizeof(split[0]), canon, sizeof(canon) - 1,
		     "split sends");

	/* a chunk large enough to be spliced: its size line still canonical */
	parts[0] = strdup("00030D40;big=yes\r\n");
	parts[1] = malloc(big);
	ck_assert(parts[0] && parts[1]);
	e2e_random_fill((unsigned char *)parts[1], big, 5);
	parts[2] = strdup("\r\n0000A\r\n0123456789\r\n0\r\n\r\n");
	for (int i = 0; i < 3; i++)
		lens[i] = i == 1 ? big : strlen(parts[i]);
	want = malloc(big + 64);
	wl += (size_t)sprintf(want, "30d40\r\n");
	memcpy(want + wl, parts[1], big);
	wl += big;
	wl += (size_t)sprintf(want + wl, "\r\na\r\n0123456789\r\n0\r\n\r\n");
	chunked_wire(&c, (const char *const *)parts, lens, 3, want, wl, "a spliced chunk");
	for (int i = 0; i < 3; i++)
		free(parts[i]);
	free(want);

	/* a pipelined request right after the body, in the same read as its end */
	{
		static const char *const tail[] = { "000003\r\nabc\r\n0\r\n\r\n"
						    "GET /?len=3 HTTP/1.1\r\nHost: a.example\r\n\r\n" };

		chunked_wire(&c, tail, NULL, 1, "3\r\nabc\r\n0\r\n\r\n", 13, "pipelined after");
		ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "pipelined GET: %s", r.err);
		ck_status(&r, 200);
		ck_pattern_body(&r, 3, "the request pipelined after a chunked body");
		e2e_response_free(&r);
	}
	/* ...and one whose body came with the head */
	rc = e2e_send_str(&c, "POST /?body=wire HTTP/1.1\r\nHost: a.example\r\n"
			      "Transfer-Encoding: chunked\r\n\r\n0001\r\nz\r\n00\r\n\r\n"
			      "GET /?len=4 HTTP/1.1\r\nHost: a.example\r\n\r\n");
	ck_assert_msg(rc == 0, "send: %s", strerror(-rc));
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "pipelined POST: %s", r.err);
	ck_status(&r, 200);
	ck_assert_msg(r.body_len == 11 && memcmp(r.body, "1\r\nz\r\n0\r\n\r\n", 11) == 0,
		      "pipelined POST: the backend received \"%s\"", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "pipelined GET: %s", r.err);
	ck_status(&r, 200);
	ck_pattern_body(&r, 4, "the request pipelined after a chunked body in the head's read");
	e2e_response_free(&r);
	e2e_client_close(&c);

	stop_spliced_ok(&sp);
	log = e2e_spliced_log(&sp);
	ck_assert_msg(e2e_stats_get(log, "spliced_bytes", &spliced) && spliced >= 100000,
		      "the 200000-byte chunk should be spliced: spliced_bytes=%llu; log:\n%s",
		      spliced, log);
	free(log);
	e2e_backend_stop(&be);
}
END_TEST

START_TEST(test_chunked_response)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=300000&mode=chunked&chunk=1000", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 300000, "chunked response, 1000-byte chunks");
	e2e_response_free(&r);
	get(&c, "/?len=5000000&mode=chunked&chunk=1048576", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 5000000, "chunked response, 1 MiB chunks");
	e2e_response_free(&r);
	get(&c, "/?len=7", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 7, "GET after chunked responses");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_close_delimited)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=2000000&mode=close", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 2000000, "close-delimited response");
	if (r.framing != E2E_UNTIL_CLOSE)
		ck_closed(&c, "after a close-delimited backend response (re-framed for the client)");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_expect_continue)
{
	static const char head[] = "POST /?e=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 100000"
				   "\r\nExpect: 100-continue\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	unsigned char *body = malloc(100000);
	int rc;

	ck_assert(body != NULL);
	e2e_random_fill(body, 100000, 3);
	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	rc = e2e_send(&c, head, sizeof(head) - 1);
	ck_assert_msg(rc == 0, "send head: %s", strerror(-rc));
	/* nothing of the body is sent before the 100 arrives */
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "waiting for 100 Continue: %s", r.err);
	ck_assert_msg(r.status == 100, "expected \"HTTP/1.1 100 Continue\" before the body, got:\n%s",
		      e2e_escs(r.head));
	e2e_response_free(&r);
	rc = e2e_send(&c, body, 100000);
	ck_assert_msg(rc == 0, "send body: %s %s", strerror(-rc), e2e_diag());
	/* further interim responses are allowed by HTTP; skip them (bounded) */
	for (int i = 0; i < 5; i++) {
		ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "after the body: %s", r.err);
		if (r.status >= 200)
			break;
		e2e_response_free(&r);
	}
	ck_status(&r, 200);
	ck_backend_body(&r, body, 100000);
	e2e_response_free(&r);
	e2e_client_close(&c);
	free(body);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_early_hints)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	get(&c, "/?early=103&len=10", &r);
	ck_assert_msg(r.status == 103, "expected the 103 Early Hints first, got:\n%s",
		      e2e_escs(r.head));
	ck_header_eq(&r, "Link", "</x>; rel=preload");
	e2e_response_free(&r);
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "final response after 103: %s", r.err);
	ck_status(&r, 200);
	ck_pattern_body(&r, 10, "final response after 103");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_pipelining)
{
	static const char reqs[] =
		"GET /?len=5 HTTP/1.1\r\nHost: a.example\r\n\r\n"
		"POST /?body=echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: 7\r\n\r\nabcdefg"
		"GET /?len=3 HTTP/1.1\r\nHost: a.example\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	ssize_t k;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	k = send(c.fd, reqs, sizeof(reqs) - 1, MSG_NOSIGNAL);   /* one send() */
	ck_assert_msg(k == (ssize_t)sizeof(reqs) - 1, "send: %zd %s", k, strerror(errno));

	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "pipelined response 1: %s", r.err);
	ck_status(&r, 200);
	ck_pattern_body(&r, 5, "pipelined response 1");
	e2e_response_free(&r);
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "pipelined response 2: %s", r.err);
	ck_status(&r, 200);
	ck_assert_msg(r.body_len == 7 && memcmp(r.body, "abcdefg", 7) == 0,
		      "pipelined response 2 should echo \"abcdefg\", got \"%s\"",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "pipelined response 3: %s", r.err);
	ck_status(&r, 200);
	ck_pattern_body(&r, 3, "pipelined response 3");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_keepalive_reuse)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char first_id[32] = "";

	start_pair(&be, &sp, NULL, NULL);
	/* 20 requests on one client connection */
	e2e_client_open(&c, sp.port);
	for (int i = 0; i < 20; i++) {
		const char *id;

		get(&c, "/?len=10", &r);
		ck_status(&r, 200);
		id = e2e_header(&r, "X-Conn-Id");
		ck_assert_msg(id != NULL, "no X-Conn-Id in:\n%s", e2e_escs(r.head));
		if (i == 0)
			snprintf(first_id, sizeof(first_id), "%s", id);
		ck_assert_msg(strcmp(id, first_id) == 0,
			      "request %d on one client connection used backend connection %s, the "
			      "first used %s: the backend connection was not reused", i + 1, id,
			      first_id);
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	/* and 20 more, each on its own client connection */
	for (int i = 0; i < 20; i++) {
		const char *id;

		e2e_client_open(&c, sp.port);
		get(&c, "/?len=10", &r);
		ck_status(&r, 200);
		id = e2e_header(&r, "X-Conn-Id");
		ck_assert_msg(id != NULL, "no X-Conn-Id in:\n%s", e2e_escs(r.head));
		ck_assert_msg(strcmp(id, first_id) == 0,
			      "client connection %d used backend connection %s, earlier ones used %s: "
			      "the backend connection was not reused across client connections",
			      i + 1, id, first_id);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	stop_pair(&be, &sp);
}
END_TEST

/* A burst of BURST requests in flight at once uses BURST backend connections; all of them
 * wait in the pool afterwards, so the next burst opens none (the pool was 64 deep before:
 * at 1,000 concurrent clients half the requests opened a backend connection). */
#define BURST 100

static void burst(const struct e2e_proc *sp, char (*ids)[32])
{
	struct e2e_client *c = calloc(BURST, sizeof(*c));
	struct e2e_response r;

	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < BURST; i++) {
		e2e_client_open(&c[i], sp->port);
		ck_assert_int_eq(e2e_send_str(&c[i], "GET /?delay=300&len=5 HTTP/1.1\r\n"
					      "Host: burst\r\n\r\n"), 0);
	}
	for (int i = 0; i < BURST; i++) {
		const char *id;

		ck_assert_msg(e2e_read_response(&c[i], &r, false) == 0, "request %d: %s", i,
			      r.err);
		ck_status(&r, 200);
		id = e2e_header(&r, "X-Conn-Id");
		ck_assert_msg(id != NULL, "no X-Conn-Id in:\n%s", e2e_escs(r.head));
		snprintf(ids[i], sizeof(ids[i]), "%s", id);
		e2e_response_free(&r);
		e2e_client_close(&c[i]);
	}
	free(c);
}

START_TEST(test_pool_burst_reuse)
{
	struct e2e_proc be, sp;
	static char first[BURST][32], second[BURST][32];
	int distinct = 0;

	start_pair(&be, &sp, NULL, "Workers 1\n");
	burst(&sp, first);
	for (int i = 0; i < BURST; i++) {
		int k = 0;

		while (k < i && strcmp(first[k], first[i]) != 0)
			k++;
		distinct += k == i;
	}
	ck_assert_msg(distinct == BURST, "%d requests in flight at once used %d backend "
		      "connections", BURST, distinct);
	burst(&sp, second);
	for (int i = 0; i < BURST; i++) {
		int k = 0;

		while (k < BURST && strcmp(first[k], second[i]) != 0)
			k++;
		ck_assert_msg(k < BURST, "second burst, request %d: backend connection %s is new: "
			      "the pool did not keep all %d of the first burst", i, second[i], BURST);
	}
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_splice_big_bodies)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	unsigned long long spliced = 0, transfers = 0;
	unsigned char *body = malloc(MIB10);
	char *log;

	ck_assert(body != NULL);
	e2e_random_fill(body, MIB10, 99);
	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	post(&c, "/up", body, MIB10, &r);
	ck_status(&r, 200);
	ck_backend_body(&r, body, MIB10);
	e2e_response_free(&r);
	get(&c, "/?len=10485760", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, MIB10, "10 MiB download");
	e2e_response_free(&r);
	e2e_client_close(&c);
	free(body);

	stop_spliced_ok(&sp);
	log = e2e_spliced_log(&sp);
	ck_assert_msg(e2e_stats_get(log, "spliced_bytes", &spliced) &&
		      e2e_stats_get(log, "splice_transfers", &transfers),
		      "no stats line with spliced_bytes and splice_transfers in the error log:\n%s",
		      log);
	/* Most of it: a request body takes a pipe only while a splice's worth (16 KiB) is
	 * readable, so the pieces of the upload that arrive in smaller reads are copied
	 * (more of them on a slow, sanitized build: 94.7 % was spliced there once). */
	ck_assert_msg(spliced >= 3 * (2ull * MIB10) / 4 && transfers >= 2,
		      "10 MiB up + 10 MiB down should go through splice: spliced_bytes=%llu "
		      "(want >= %llu) splice_transfers=%llu (want >= 2); log:\n%s",
		      spliced, 3 * (2ull * MIB10) / 4, transfers, log);
	free(log);
	e2e_backend_stop(&be);
}
END_TEST

START_TEST(test_small_bodies_copied)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	unsigned long long spliced = 1;
	unsigned char body[1024];
	char *log;

	e2e_random_fill(body, sizeof(body), 5);
	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	for (int i = 0; i < 5; i++) {
		post(&c, "/small", body, sizeof(body), &r);
		ck_status(&r, 200);
		ck_backend_body(&r, body, sizeof(body));
		e2e_response_free(&r);
		get(&c, "/?len=1024", &r);
		ck_status(&r, 200);
		ck_pattern_body(&r, 1024, "1 KiB download");
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	log = e2e_spliced_log(&sp);
	ck_assert_msg(e2e_stats_get(log, "spliced_bytes", &spliced),
		      "no stats line with spliced_bytes in the error log:\n%s", log);
	ck_assert_msg(spliced == 0, "1 KiB bodies should be copied, not spliced: spliced_bytes=%llu;"
		      " log:\n%s", spliced, log);
	free(log);
	e2e_backend_stop(&be);
}
END_TEST

START_TEST(test_http10_no_host)
{
	static const char req[] = "GET /?len=10 HTTP/1.0\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	ck_status(&r, 200);
	ck_pattern_body(&r, 10, "HTTP/1.0 request");
	ck_assert_msg(e2e_header_has_token(&r, "Connection", "close"),
		      "the response to an HTTP/1.0 request should carry Connection: close:\n%s",
		      e2e_escs(r.head));
	e2e_response_free(&r);
	ck_closed(&c, "after the response to an HTTP/1.0 request");
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_client_connection_close)
{
	static const char req[] = "GET /?len=10 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	ck_status(&r, 200);
	ck_pattern_body(&r, 10, "Connection: close request");
	ck_assert_msg(e2e_header_has_token(&r, "Connection", "close"),
		      "the response should carry Connection: close:\n%s", e2e_escs(r.head));
	e2e_response_free(&r);
	ck_closed(&c, "after a Connection: close exchange");
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_bad_gateway_refused)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	int dead = e2e_dead_port();
	const char *ct;
	char needle[64];

	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n", dead);
	e2e_client_open(&c, sp.port);
	get(&c, "/x", &r);
	ck_status(&r, 502);
	ck_assert_msg(strstr((const char *)r.body, "Bad Gateway") != NULL && r.body_len < 4096,
		      "the 502 body should be a short page saying Bad Gateway: \"%s\"",
		      e2e_esc(r.body, r.body_len));
	ct = e2e_header(&r, "Content-Type");
	ck_assert_msg(ct && strcasestr(ct, "html"), "the 502 page should be HTML; head:\n%s",
		      e2e_escs(r.head));
	e2e_response_free(&r);
	ck_closed(&c, "after a 502");
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "127.0.0.1:%d", dead);
	ck_log_mentions(&sp, needle, "502 for a refused backend connection");
	stop_spliced_ok(&sp);
}
END_TEST

START_TEST(test_bad_gateway_drop)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	get(&c, "/?drop=1", &r);
	ck_status(&r, 502);
	ck_assert_msg(strstr((const char *)r.body, "Bad Gateway") != NULL,
		      "the 502 body should say Bad Gateway: \"%s\"", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	/* the proxy is fine afterwards */
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=5", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 5, "request after a 502");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

/* A backend response whose Connection lists its own framing field (Content-Length or
 * Transfer-Encoding) is refused with 502: forwarding it without the field would change
 * its framing, with it would forward a field marked hop-by-hop. Another listed name is
 * removed as before, and the proxy keeps working. */
START_TEST(test_resp_connection_lists_framing)
{
	static const char *const bad[] = {
		"/?len=5&connection=Content-Length",
		"/?len=5&connection=content-length",
		"/?len=5&mode=chunked&connection=Transfer-Encoding",
		"/?status=204&connection=transfer-encoding",
	};
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e2e_client_open(&c, sp.port);
		get(&c, bad[i], &r);
		ck_assert_msg(r.status == 502, "%s: expected 502, got %d:\n%s", bad[i], r.status,
			      e2e_escs(r.head));
		e2e_response_free(&r);
		ck_closed(&c, "after a 502 for Connection listing a framing field");
		e2e_client_close(&c);
	}
	ck_log_mentions(&sp, "invalid response: Connection lists Content-Length", "502");
	ck_log_mentions(&sp, "invalid response: Connection lists Transfer-Encoding", "502");
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=5&connection=X-Other", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 5, "Connection listing another name");
	ck_assert_msg(!e2e_header_has_token(&r, "Connection", "X-Other"),
		      "the backend's Connection field reached the client:\n%s", e2e_escs(r.head));
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_gateway_timeout)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char needle[64];

	start_pair(&be, &sp, NULL, "Timeout 1\n");
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 10000;   /* upper bound: Timeout 1 must answer well before that */
	get(&c, "/?delay=5000", &r);
	ck_status(&r, 504);
	ck_assert_msg(strstr((const char *)r.body, "Gateway Timeout") != NULL,
		      "the 504 body should say Gateway Timeout: \"%s\"", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	ck_closed(&c, "after a 504");
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "127.0.0.1:%d", be.port);
	ck_log_mentions(&sp, needle, "504 after Timeout 1");
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_keepalive_timeout)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, "KeepAliveTimeout 1\n");
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=5", &r);
	ck_status(&r, 200);
	e2e_response_free(&r);
	/* idle now: closed after about a second; only the upper bound is checked */
	ck_closed(&c, "idle keep-alive connection with KeepAliveTimeout 1");
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_backend_close_only)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char ids[5][32];

	start_pair(&be, &sp, "-c", NULL);
	e2e_client_open(&c, sp.port);
	for (int i = 0; i < 5; i++) {
		const char *id;

		get(&c, "/?len=100", &r);
		ck_status(&r, 200);
		ck_pattern_body(&r, 100, "request to a close-only backend");
		ck_assert_msg(!e2e_header_has_token(&r, "Connection", "close"),
			      "the backend's Connection: close (hop-by-hop) reached the client, request "
			      "%d:\n%s", i + 1, e2e_escs(r.head));
		id = e2e_header(&r, "X-Conn-Id");
		ck_assert_msg(id != NULL, "no X-Conn-Id in:\n%s", e2e_escs(r.head));
		snprintf(ids[i], sizeof(ids[i]), "%s", id);
		for (int k = 0; k < i; k++)
			ck_assert_msg(strcmp(ids[k], ids[i]) != 0,
				      "requests %d and %d both used backend connection %s, which the "
				      "backend had closed", k + 1, i + 1, ids[i]);
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

START_TEST(test_graceful_sigterm)
{
	static const char req[] = "GET /?delay=1500&len=100000 HTTP/1.1\r\nHost: a.example\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c, c2;
	struct e2e_response r;
	bool seen = false;
	int rc;

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	rc = e2e_send(&c, req, sizeof(req) - 1);
	ck_assert_msg(rc == 0, "send: %s", strerror(-rc));
	/* in flight once the backend has it */
	for (int i = 0; i < 500 && !seen; i++) {
		size_t n = 0;
		char *rec = e2e_read_file(be.record, &n);

		seen = rec && n > 0;
		free(rec);
		if (!seen)
			e2e_sleep_ms(20);
	}
	ck_assert_msg(seen, "the request did not reach the backend within 10 s %s", e2e_diag());
	ck_assert_msg(kill(sp.pid, SIGTERM) == 0, "kill: %s", strerror(errno));

	ck_assert_msg(e2e_read_response(&c, &r, false) == 0,
		      "the in-flight request got no full response after SIGTERM: %s", r.err);
	ck_status(&r, 200);
	ck_pattern_body(&r, 100000, "response completed during graceful shutdown");
	e2e_response_free(&r);
	e2e_client_close(&c);

	ck_assert_msg(e2e_proc_wait(&sp, 10000), "spliced did not exit within 10 s of SIGTERM %s",
		      e2e_diag());
	ck_assert_msg(e2e_proc_exit_code(&sp) == 0, "spliced exit code %d after SIGTERM %s",
		      e2e_proc_exit_code(&sp), e2e_diag());
	rc = e2e_client_try_open(&c2, sp.port);
	if (rc == 0)
		e2e_client_close(&c2);
	ck_assert_msg(rc == -ECONNREFUSED, "connecting after the shutdown: %s (expected refused)",
		      rc == 0 ? "accepted" : strerror(-rc));
	e2e_backend_stop(&be);
}
END_TEST

START_TEST(test_config_check)
{
	const char *bin = e2e_env_bin("SPLICED_BIN");
	const char *good = e2e_write_temp("good.conf",
		"# a comment\nListen 127.0.0.1:8080\nProxyPass / http://127.0.0.1:8000/\n"
		"Timeout 30\nKeepAliveTimeout 5\n");
	const char *bad = e2e_write_temp("bad.conf",
		"Listen 127.0.0.1:8080\n# comment\nFrobnicateRequests On\n"
		"ProxyPass / http://127.0.0.1:8000/\n");
	const char *argv_good[] = { bin, "-t", "-c", good, NULL };
	const char *argv_bad[] = { bin, "-t", "-c", bad, NULL };
	char *out = NULL;
	int code;

	code = e2e_run(argv_good, &out);
	ck_assert_msg(code == 0 && strstr(out, "Syntax OK"),
		      "spliced -t on a good file: exit %d, output \"%s\" (want 0 and Syntax OK)",
		      code, e2e_escs(out));
	free(out);

	code = e2e_run(argv_bad, &out);
	ck_assert_msg(code == 1, "spliced -t on an unknown directive: exit %d (want 1), output "
		      "\"%s\"", code, e2e_escs(out));
	ck_assert_msg(strstr(out, bad) && (strstr(out, ":3:") || strstr(out, "line 3")) &&
		      strstr(out, "FrobnicateRequests"),
		      "the message should name the file %s, line 3 and the directive: \"%s\"", bad,
		      e2e_escs(out));
	ck_assert_msg(!strstr(out, "Syntax OK"), "Syntax OK printed for a bad file: \"%s\"",
		      e2e_escs(out));
	free(out);
}
END_TEST

/* ---- suite -------------------------------------------------------------------------- */

/* Every spelling of an excluded or mapped prefix is routed on the normalized path:
 * "/%61dmin", "/./admin", "//admin", "/api/../admin" cannot slip past "ProxyPass /admin/ !",
 * and what reaches the backend is the normalized path. */
START_TEST(test_routing_normalized)
{
	static const char *const bypass[] = {
		"/admin/x", "/%61dmin/x", "/./admin/x", "//admin/x", "/api/../admin/x",
		"/api/%2e%2e/admin/x", "/api/%2E%2E/admin/x", "/x/.././admin/x", "/admin%2f/../admin/x",
	};
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass /admin/ !\nProxyPass /api/ http://127.0.0.1:%d/v1/\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", be.port, be.port);
	for (size_t i = 0; i < sizeof(bypass) / sizeof(bypass[0]); i++) {
		e2e_client_open(&c, sp.port);
		get(&c, bypass[i], &r);
		ck_assert_msg(r.status == 404, "%s must hit the excluded /admin/ prefix (404), got %d",
			      bypass[i], r.status);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	e2e_client_open(&c, sp.port);
	get(&c, "/api/a/./b/../c%7e%2f?q=/../%2e", &r);
	ck_status(&r, 200);
	ck_echo_line(&r, "GET /v1/a/c~%2F?q=/../%2e HTTP/1.1");
	e2e_response_free(&r);
	get(&c, "/..", &r);
	ck_status(&r, 400);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

/* A 100 Continue from the backend that arrives in the same read as the final response
 * is dropped and the final response is answered at once. */
START_TEST(test_interim_100_same_read)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, "Timeout 5\n");
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=5&early=100", &r);
	ck_status(&r, 200);
	ck_pattern_body(&r, 5, "after an interim 100");
	e2e_response_free(&r);
	get(&c, "/?len=7", &r);
	ck_status(&r, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

/* A chunked body over LimitRequestBody gets 413, whether it arrived with the head or
 * later. */
START_TEST(test_chunked_body_limit)
{
	static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char req[512];
	int n;

	start_pair(&be, &sp, NULL, "LimitRequestBody 100\n");
	e2e_client_open(&c, sp.port);
	n = snprintf(req, sizeof(req), "%s%s", head, "c8\r\n");
	e2e_send(&c, req, (size_t)n);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 413);
	e2e_response_free(&r);
	ck_closed(&c, "after a 413");
	e2e_client_close(&c);

	e2e_client_open(&c, sp.port);
	e2e_send_str(&c, head);
	e2e_sleep_ms(100);
	e2e_send_str(&c, "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n");
	e2e_send_str(&c, "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n");
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 413);
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

/* A head trickled in byte by byte past Timeout gets 408 and the connection closes: the
 * deadline counts from the first byte and is never lost to a receive that races it. */
START_TEST(test_slow_head_408)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 0123456789";
	struct e2e_proc be, sp;
	struct e2e_client c[8];
	struct e2e_response r;

	start_pair(&be, &sp, NULL, "Timeout 1\n");
	for (int i = 0; i < 8; i++)
		e2e_client_open(&c[i], sp.port);
	for (size_t k = 0; k + 1 < sizeof(req); k++) {
		for (int i = 0; i < 8; i++)
			e2e_send(&c[i], req + k, 1);
		e2e_sleep_ms(60);
	}
	for (int i = 0; i < 8; i++) {
		c[i].timeout_ms = 10000;
		ck_assert_int_eq(e2e_read_response(&c[i], &r, false), 0);
		ck_status(&r, 408);
		e2e_response_free(&r);
		ck_closed(&c[i], "after a 408");
		e2e_client_close(&c[i]);
	}
	stop_pair(&be, &sp);
}
END_TEST

/* An empty line before a pipelined request line is ignored (RFC 9112 2.2). */
START_TEST(test_blank_line_between_requests)
{
	static const char two[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\n"
				  "GET /?len=3 HTTP/1.1\r\nHost: a\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	start_pair(&be, &sp, NULL, NULL);
	e2e_client_open(&c, sp.port);
	e2e_send(&c, two, sizeof(two) - 1);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 200);
	e2e_response_free(&r);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 200);
	ck_pattern_body(&r, 3, "the request after an empty line");
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_pair(&be, &sp);
}
END_TEST

static Suite *e2e_proxy_suite(void)
{
	const struct ck_case cases[] = {
		{ "get_forwarding", test_get_forwarding, 60 },
		{ "query_bytes", test_query_bytes, 60 },
		{ "preserve_host", test_preserve_host, 60 },
		{ "hop_by_hop", test_hop_by_hop, 60 },
		{ "prefix_mapping", test_prefix_mapping, 60 },
		{ "head", test_head, 60 },
		{ "post_small", test_post_small, 60 },
		{ "post_10mib", test_post_10mib, 120 },
		{ "get_10mib", test_get_10mib, 120 },
		{ "chunked_upload", test_chunked_upload, 60 },
		{ "chunked_canonical_upstream", test_chunked_canonical_upstream, 60 },
		{ "chunked_response", test_chunked_response, 120 },
		{ "close_delimited", test_close_delimited, 60 },
		{ "expect_continue", test_expect_continue, 60 },
		{ "early_hints", test_early_hints, 60 },
		{ "pipelining", test_pipelining, 60 },
		{ "keepalive_reuse", test_keepalive_reuse, 60 },
		{ "pool_burst_reuse", test_pool_burst_reuse, 60 },
		{ "splice_big_bodies", test_splice_big_bodies, 120 },
		{ "small_bodies_copied", test_small_bodies_copied, 60 },
		{ "http10_no_host", test_http10_no_host, 60 },
		{ "client_connection_close", test_client_connection_close, 60 },
		{ "bad_gateway_refused", test_bad_gateway_refused, 60 },
		{ "bad_gateway_drop", test_bad_gateway_drop, 60 },
		{ "resp_connection_lists_framing", test_resp_connection_lists_framing, 60 },
		{ "gateway_timeout", test_gateway_timeout, 60 },
		{ "keepalive_timeout", test_keepalive_timeout, 60 },
		{ "backend_close_only", test_backend_close_only, 60 },
		{ "graceful_sigterm", test_graceful_sigterm, 60 },
		{ "config_check", test_config_check, 60 },
		{ "routing_normalized", test_routing_normalized, 60 },
		{ "interim_100_same_read", test_interim_100_same_read, 60 },
		{ "chunked_body_limit", test_chunked_body_limit, 60 },
		{ "slow_head_408", test_slow_head_408, 60 },
		{ "blank_line_between_requests", test_blank_line_between_requests, 60 },
	};
	Suite *s = suite_create("e2e_proxy");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(e2e_proxy_suite());
}
