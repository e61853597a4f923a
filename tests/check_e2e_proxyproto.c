/* End-to-end suite for RemoteIPProxyProtocol (PROXY protocol v1 and v2 in front of the
 * first request) and /health on the metrics listener, through the real spliced binary and
 * the real tools/testbackend on loopback. The testbackend answers GET / with the request
 * head it received, so what spliced forwarded (X-Forwarded-For) is read back from there;
 * with -r it records every head it gets, so "nothing reached the backend" is an empty
 * record. */
#include <arpa/inet.h>
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

/* e2e_roundtrip() of the NUL-terminated request req. */
static void roundtrip_str(struct e2e_client *c, const char *req, struct e2e_response *r,
			  bool head)
{
	e2e_roundtrip(c, req, strlen(req), r, head);
}

static const char req_get[] = "GET / HTTP/1.1\r\nHost: pp\r\n\r\n";

/* X-Forwarded-For of the head the backend echoed in r's body, into out. */
static const char *xff(const struct e2e_response *r, char *out, size_t len)
{
	const char *v = e2e_head_field(r->body, r->body_len, "X-Forwarded-For", out, len);

	ck_assert_msg(v, "no X-Forwarded-For reached the backend: %s", e2e_esc(r->body, r->body_len));
	return v;
}

/* Sends hdr[0..n) then a GET, expects a 200 whose forwarded X-Forwarded-For is `want`. */
static void expect_client(int port, const void *hdr, size_t n, const char *want)
{
	struct e2e_client c;
	struct e2e_response r;
	char v[128];

	e2e_client_open(&c, port);
	ck_assert_int_eq(e2e_send(&c, hdr, n), 0);
	e2e_roundtrip(&c, req_get, strlen(req_get), &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(xff(&r, v, sizeof(v)), want);
	e2e_response_free(&r);
	/* a second request on the same connection: the same client, no second header */
	e2e_roundtrip(&c, req_get, strlen(req_get), &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(xff(&r, v, sizeof(v)), want);
	e2e_response_free(&r);
	e2e_client_close(&c);
}

static void expect_str(int port, const char *hdr, const char *want)
{
	expect_client(port, hdr, strlen(hdr), want);
}

/* Sends bytes[0..n) (then, with shut, the end of the stream) and expects the connection
 * closed without a byte of response. */
static void expect_closed(int port, const void *bytes, size_t n, bool shut)
{
	struct e2e_client c;
	int st;

	e2e_client_open(&c, port);
	if (n)
		ck_assert_int_eq(e2e_send(&c, bytes, n), 0);
	if (shut)
		shutdown(c.fd, SHUT_WR);
	st = e2e_wait_closed(&c, 20000);
	ck_assert_msg(st == E2E_CLOSED_EOF || st == E2E_CLOSED_RESET,
		      "after %s: %s (%s)", e2e_esc(bytes, n),
		      st == E2E_OPEN ? "still open" : "got a response", e2e_diag());
	e2e_client_close(&c);
}

/* A v2 header: PROXY (or LOCAL) command, family byte, addresses (block of alen bytes). */
static size_t v2(unsigned char *b, unsigned cmd, unsigned fam, const void *addr, size_t alen)
{
	static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
					       0x55, 0x49, 0x54, 0x0a };

	memcpy(b, sig, 12);
	b[12] = (unsigned char)(0x20 | cmd);
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)(alen >> 8);
	b[15] = (unsigned char)alen;
	memcpy(b + 16, addr, alen);
	return 16 + alen;
}

static char *wait_file_has(const char *path, const char *needle)
{
	for (int i = 0; i < 500; i++) {
		char *t = e2e_read_file(path, NULL);

		if (t && strstr(t, needle))
			return t;
		free(t);
		e2e_sleep_ms(20);
	}
	return NULL;
}

/* v1 and v2 (IPv4, IPv6, with TLVs, LOCAL): the carried address is the client's for
 * X-Forwarded-For, the access log (%a %h) and REMOTE_ADDR in rewrite conditions. */
START_TEST(test_carried_address)
{
	static const char v1[] = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n";
	static const char v1_6[] = "PROXY TCP6 2001:db8::5 ::1 40001 80\r\n";
	static const char v1_unknown[] = "PROXY UNKNOWN\r\n";
	unsigned char a4[12 + 8] = { 198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x40, 0, 80,
				     0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x00 };
	unsigned char a6[36] = { 0 }, b[128];
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	const char *log = e2e_write_temp("access.log", "");
	char *text;

	inet_pton(AF_INET6, "2001:db8::77", a6);
	a6[16 + 15] = 1;
	a6[33] = 7;
	a6[35] = 80;
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "RemoteIPProxyProtocol On\n"
			   "CustomLog \"%s\" \"%%a %%h %%r\"\n"
			   "RewriteEngine On\n"
			   "RewriteCond %%{REMOTE_ADDR} =192.0.2.44\n"
			   "RewriteRule ^/who$ /seen-192.0.2.44 [R=302,L]\n", be.port, log);
	expect_client(sp.port, v1, strlen(v1), "203.0.113.7");
	expect_client(sp.port, v1_6, strlen(v1_6), "2001:db8::5");
	expect_client(sp.port, b, v2(b, 1, 0x11, a4, sizeof(a4)), "198.51.100.9");
	expect_client(sp.port, b, v2(b, 1, 0x21, a6, sizeof(a6)), "2001:db8::77");
	/* LOCAL and UNKNOWN: the connection's own address */
	expect_client(sp.port, b, v2(b, 0, 0x00, a6, 0), "127.0.0.1");
	expect_client(sp.port, v1_unknown, strlen(v1_unknown), "127.0.0.1");
	/* the header and the request in one write */
	{
		char both[256];
		int n = snprintf(both, sizeof(both), "PROXY TCP4 192.0.2.44 127.0.0.1 1 80\r\n"
				 "GET /who HTTP/1.1\r\nHost: pp\r\n\r\n");

		e2e_client_open(&c, sp.port);
		e2e_roundtrip(&c, both, (size_t)n, &r, false);
		ck_assert_int_eq(r.status, 302);
		ck_assert_ptr_nonnull(strstr(e2e_header(&r, "Location") ?: "", "/seen-192.0.2.44"));
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	text = wait_file_has(log, "192.0.2.44 192.0.2.44 GET /who HTTP/1.1");
	ck_assert_msg(text, "access log: %s", e2e_read_file(log, NULL));
	ck_assert_ptr_nonnull(strstr(text, "203.0.113.7 203.0.113.7 GET / HTTP/1.1"));
	ck_assert_ptr_nonnull(strstr(text, "2001:db8::77 2001:db8::77 GET / HTTP/1.1"));
	free(text);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* Missing, malformed, truncated, oversized or slow headers close the connection before
 * any HTTP is read: nothing reaches the backend; the metrics count them by reason. */
START_TEST(test_refused)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost: pp\r\n\r\n",                         /* missing */
		"PROXY TCP4 203.0.113.7 127.0.0.1 99999 80\r\nGET / HTTP/1.1\r\nHost: pp\r\n\r\n",
		"PROXY TCP4 203.0.113.777 127.0.0.1 1 80\r\nGET / HTTP/1.1\r\nHost: pp\r\n\r\n",
		"PROXY TCP5 203.0.113.7 127.0.0.1 1 80\r\nGET / HTTP/1.1\r\nHost: pp\r\n\r\n",
		"PROXY TCP4 203.0.113.7 127.0.0.1 1 80\nGET / HTTP/1.1\r\nHost: pp\r\n\r\n",
	};
	unsigned char a4[12] = { 198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x40, 0, 80 };
	unsigned char b[256];
	char longv1[300];
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	int mport = e2e_free_port();
	size_t n, len;
	char *rec, *text;

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nRemoteIPProxyProtocol On\n"
			   "RequestReadTimeout header=1\nMetricsListen 127.0.0.1:%d\n", be.port, mport);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_closed(sp.port, bad[i], strlen(bad[i]), false);
	/* v1 longer than 107 bytes, no CRLF yet */
	memset(longv1, 'x', sizeof(longv1));
	memcpy(longv1, "PROXY UNKNOWN ", 14);
	expect_closed(sp.port, longv1, sizeof(longv1), false);
	/* v2: oversized, a lying length (truncated, then the end), a TLV past the end, UDP */
	n = v2(b, 1, 0x11, a4, sizeof(a4));
	b[14] = 0xff;
	expect_closed(sp.port, b, 16, false);
	b[14] = 0;
	b[15] = 40;
	expect_closed(sp.port, b, n, true);
	memcpy(b + n, "\x01\x00\x09h2", 5);
	b[15] = 12 + 5;
	expect_closed(sp.port, b, n + 5, false);
	n = v2(b, 1, 0x12, a4, sizeof(a4));
	expect_closed(sp.port, b, n, false);
	/* truncated: half a header, then the end of the stream; and then nothing (the head
	 * timeout, 1 s, ends it) */
	expect_closed(sp.port, "PROXY TCP4 203.0.", 17, true);
	expect_closed(sp.port, "PROXY TCP4 203.0.", 17, false);
	n = v2(b, 1, 0x11, a4, sizeof(a4));
	expect_closed(sp.port, b, n - 3, false);
	rec = e2e_read_file(be.record, &len);
	ck_assert_msg(!rec || len == 0, "the backend got: %s", rec ? e2e_esc(rec, len) : "");
	free(rec);
	/* a valid one still goes through */
	expect_str(sp.port, "PROXY TCP4 203.0.113.8 127.0.0.1 1 80\r\n", "203.0.113.8");
	/* the metrics listener takes no header */
	e2e_client_open(&c, mport);
	roundtrip_str(&c, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n", &r, false);
	ck_assert_int_eq(r.status, 200);
	text = strndup((const char *)r.body, r.body_len);
	ck_assert_msg(strstr(text, "reason=\"no PROXY protocol header\""), "%s", text);
	ck_assert_msg(strstr(text, "reason=\"PROXY v1: bad source port\""), "%s", text);
	ck_assert_msg(strstr(text, "reason=\"PROXY v2: header longer than allowed\""), "%s", text);
	ck_assert_msg(strstr(text, "reason=\"closed in the middle of a PROXY header\""), "%s", text);
	ck_assert_msg(strstr(text, "reason=\"PROXY header timed out\""), "%s", text);
	free(text);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert(e2e_log_wait_for(&sp, "no PROXY protocol header: connection closed", 5000));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* RemoteIPProxyProtocolExceptions: an excepted peer speaks plain HTTP; a <VirtualHost>
 * turns the protocol on for the Listen port it names only. */
START_TEST(test_exceptions)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char v[128];
	int port2 = e2e_free_port();

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nRemoteIPProxyProtocol On\n"
			   "RemoteIPProxyProtocolExceptions 10.0.0.0/8 127.0.0.1\n", be.port);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, req_get, strlen(req_get), &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(xff(&r, v, sizeof(v)), "127.0.0.1");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);

	e2e_spliced_startf(&sp, "Listen 127.0.0.1:%d\nProxyPass / http://127.0.0.1:%d/\n"
			   "<VirtualHost *:%d>\nRemoteIPProxyProtocol On\n</VirtualHost>\n",
			   port2, be.port, port2);
	/* the first Listen: plain HTTP */
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, req_get, strlen(req_get), &r, false);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	/* the one the section names: a header first */
	expect_closed(port2, req_get, strlen(req_get), false);
	expect_str(port2, "PROXY TCP4 203.0.113.9 127.0.0.1 1 80\r\n", "203.0.113.9");
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* Polls the testbackend's /stats (bounded) until a request is being worked on. */
static bool backend_busy(int port)
{
	for (int i = 0; i < 500; i++) {
		struct e2e_client c;
		struct e2e_response r;
		bool busy;

		e2e_client_open(&c, port);
		roundtrip_str(&c, "GET /stats HTTP/1.1\r\nHost: b\r\n\r\n", &r, false);
		busy = strstr((const char *)r.body, " busy=0 ") == NULL;
		e2e_response_free(&r);
		e2e_client_close(&c);
		if (busy)
			return true;
		e2e_sleep_ms(10);
	}
	return false;
}

/* A reload: a keep-alive connection whose client came from a PROXY header goes to the new
 * workers with that client (no header is read again): its next requests, on the new
 * configuration, still name 203.0.113.7; new connections speak PROXY as before. */
START_TEST(test_reload)
{
	static const char hdr[] = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char v[128];

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nRemoteIPProxyProtocol On\n",
			   be.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send_str(&c, hdr), 0);
	e2e_roundtrip(&c, req_get, strlen(req_get), &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(xff(&r, v, sizeof(v)), "203.0.113.7");
	e2e_response_free(&r);
	ck_assert_msg(e2e_reload(&sp, 2), "reload failed: %s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 1: its last requests finished",
				       10000), "%s", e2e_diag());
	for (unsigned i = 0; i < 2; i++) {
		e2e_roundtrip(&c, req_get, strlen(req_get), &r, false);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(xff(&r, v, sizeof(v)), "203.0.113.7");
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	expect_client(sp.port, hdr, strlen(hdr), "203.0.113.7");
	expect_closed(sp.port, req_get, strlen(req_get), false);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* Access rules see the client the PROXY header names: Require ip on <Location>. */
START_TEST(test_require_ip)
{
	static const char in_range[] = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n";
	static const char outside[] = "PROXY TCP4 198.51.100.9 127.0.0.1 40000 80\r\n";
	static const char admin[] = "GET /admin/x HTTP/1.1\r\nHost: pp\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nRemoteIPProxyProtocol On\n"
			   "<Location /admin>\n  Require ip 203.0.113.0/24\n</Location>\n", be.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send_str(&c, in_range), 0);
	roundtrip_str(&c, admin, &r, false);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	/* the connection's own peer (127.0.0.1) is not what the rule sees */
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send_str(&c, outside), 0);
	roundtrip_str(&c, admin, &r, false);
	ck_assert_int_eq(r.status, 403);
	e2e_response_free(&r);
	roundtrip_str(&c, req_get, &r, false);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

static int health(int mport)
{
	struct e2e_client c;
	struct e2e_response r;
	int st;

	e2e_client_open(&c, mport);
	roundtrip_str(&c, "GET /health HTTP/1.1\r\nHost: m\r\n\r\n", &r, false);
	st = r.status;
	ck_assert_str_eq((const char *)r.body, st == 200 ? "ok\n" : "stopping\n");
	e2e_response_free(&r);
	e2e_client_close(&c);
	return st;
}

/* /health: 200 while serving and across a reload, 503 from SIGTERM until the exit while
 * a slow request finishes. */
START_TEST(test_health)
{
	static const char slow[] = "GET /?delay=3000 HTTP/1.1\r\nHost: pp\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c, s;
	struct e2e_response r;
	int mport = e2e_free_port(), code;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nMetricsListen 127.0.0.1:%d\n",
			   be.port, mport);
	ck_assert_int_eq(health(mport), 200);
	e2e_client_open(&c, mport);
	roundtrip_str(&c, "HEAD /health HTTP/1.1\r\nHost: m\r\n\r\n", &r, true);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 0);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_msg(e2e_reload(&sp, 2), "reload failed: %s", e2e_diag());
	ck_assert_int_eq(health(mport), 200);

	/* a slow request in flight, then SIGTERM */
	e2e_client_open(&s, sp.port);
	ck_assert_int_eq(e2e_send_str(&s, slow), 0);
	ck_assert_msg(backend_busy(be.port), "the slow request never reached the backend");
	ck_assert_int_eq(kill(sp.pid, SIGTERM), 0);
	ck_assert(e2e_log_wait_for(&sp, "SIGTERM", 5000));
	/* the workers begin the stop a moment after main logs the signal */
	for (int i = 0; i < 250 && health(mport) != 503; i++)
		e2e_sleep_ms(20);
	ck_assert_int_eq(health(mport), 503);
	ck_assert_int_eq(e2e_read_response(&s, &r, false), 0);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&s);
	ck_assert(e2e_proc_wait(&sp, 20000));
	code = e2e_proc_exit_code(&sp);
	ck_assert_int_eq(code, 0);
	/* gone: the metrics port is closed too */
	ck_assert_int_ne(e2e_client_try_open(&c, mport), 0);
	e2e_backend_stop(&be);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_proxyproto");
	const struct ck_case cases[] = {
		{ "carried_address", test_carried_address, 0 },
		{ "refused", test_refused, 0 },
		{ "exceptions", test_exceptions, 0 },
		{ "reload", test_reload, 0 },
		{ "require_ip", test_require_ip, 0 },
		{ "health", test_health, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
