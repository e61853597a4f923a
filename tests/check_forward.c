/* Head rewriting: the bytes a backend and a client receive, built from parsed heads. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/forward.h"
#include "spliced/http.h"
#include "suite.h"

static const struct http_limits lim = { 32768, 8190, 8190, 100 };

struct fixture {
	char buf[8192];
	size_t headroom;
	struct http_request req;
	struct fwd_head out;
	char flat[8192];
	bool underscores;         /* UnderscoresInHeaders On */
	const char *upgrade;      /* the protocol the request may switch to, or NULL */
	bool xff_cut;             /* RemoteIPHeader: the client came from X-Forwarded-For */
	uint32_t xff_keep;
	bool keep_forwarded;      /* ... from a trusted proxy */
};

static struct fixture fx;

static struct cfg_backend be = { .authority = "10.0.0.1:8000", .name = "http://10.0.0.1:8000" };

static struct cfg_pass pass_root = { .prefix = "/", .prefix_len = 1, .path = "/", .path_len = 1 };

static const char *flatten(const struct fwd_head *h)
{
	size_t n = 0;

	for (unsigned i = h->first; i < h->niov; i++) {
		ck_assert_uint_lt(n + h->cur[i].iov_len, sizeof(fx.flat));
		memcpy(fx.flat + n, h->cur[i].iov_base, h->cur[i].iov_len);
		n += h->cur[i].iov_len;
	}
	fx.flat[n] = 0;
	ck_assert_uint_eq(n, h->left);
	return fx.flat;
}

/* Parses `text` placed after `headroom` bytes and builds the upstream head. */
static int build(const char *text, size_t headroom, const struct cfg_pass *pass, bool preserve,
		 const char *ip)
{
	size_t len = strlen(text);
	int ret;
	static char host[HTTP_HOST_MAX];
	struct fwd_target t = { .pass = pass, .backend = &be, .preserve_host = preserve,
				.client_ip = ip, .proto = "http", .underscores = fx.underscores,
				.upgrade = fx.upgrade, .upgrade_len = fx.upgrade ? strlen(fx.upgrade) : 0,
				.xff_cut = fx.xff_cut, .xff_keep = fx.xff_keep,
				.keep_forwarded = fx.keep_forwarded };

	memset(fx.buf, '#', sizeof(fx.buf));
	memcpy(fx.buf + headroom, text, len);
	fx.headroom = headroom;
	ret = http_parse_request(fx.buf + headroom, len, &lim, &fx.req);
	ck_assert_int_gt(ret, 0);
	t.match_len = pass->prefix_len;
	/* as conn.c does: the host is copied out before the request line is rewritten */
	if (fx.req.has_host) {
		memcpy(host, fx.buf + headroom + fx.req.host.off, fx.req.host.len);
		t.host = host;
		t.host_len = fx.req.host.len;
	}
	return fwd_request_head(&fx.out, fx.buf + headroom, headroom, &fx.req, &t,
				fx.buf + headroom + ret, len - (size_t)ret);
}

START_TEST(test_plain_get)
{
	ck_assert_int_eq(build("GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
			       64, &pass_root, false, "127.0.0.1"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET /a/b?x=1 HTTP/1.1\r\nAccept: */*\r\nHost: 10.0.0.1:8000\r\n"
			 "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Host: example.com\r\n"
			 "X-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

START_TEST(test_preserve_host)
{
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: example.com:81\r\n\r\n", 64, &pass_root,
			       true, "::1"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nHost: example.com:81\r\nX-Forwarded-For: ::1\r\n"
			 "X-Forwarded-Host: example.com:81\r\nX-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

START_TEST(test_xff_appended_to_last)
{
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nHost: h\r\n"
			       "X-Forwarded-For:2.2.2.2 \r\nB: c\r\n\r\n", 64, &pass_root, false,
			       "9.9.9.9"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For:2.2.2.2, "
			 "9.9.9.9 \r\nB: c\r\nHost: 10.0.0.1:8000\r\nX-Forwarded-Host: h\r\n"
			 "X-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

/* From a trusted proxy (RemoteIPHeader): the proxies' part of the last X-Forwarded-For is
 * replaced by the client found, what the client wrote stays in front (httpd's
 * mod_remoteip + mod_proxy); the proxy's X-Forwarded-Proto/-Host pass and ours are
 * added only where it sent none. */
START_TEST(test_trusted_proxy_fields)
{
	fx.xff_cut = true;
	fx.keep_forwarded = true;
	fx.xff_keep = 7;   /* "6.6.6.6" of "6.6.6.6, 203.0.113.7, 10.0.0.2" */
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n"
			       "X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.0.0.2 \r\n\r\n", 64,
			       &pass_root, false, "203.0.113.7"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\n"
			 "X-Forwarded-For: 6.6.6.6, 203.0.113.7 \r\nHost: 10.0.0.1:8000\r\n"
			 "X-Forwarded-Host: h\r\n\r\n");
	/* everything was proxies: the client alone */
	fx.xff_keep = 0;
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Host: public.example\r\n"
			       "X-Forwarded-For: 203.0.113.7\r\n\r\n", 64, &pass_root, false,
			       "203.0.113.7"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nX-Forwarded-Host: public.example\r\n"
			 "X-Forwarded-For: 203.0.113.7\r\nHost: 10.0.0.1:8000\r\n"
			 "X-Forwarded-Proto: http\r\n\r\n");
	/* a trusted peer whose header was unusable: appended to, as from anyone */
	fx.xff_cut = false;
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: garbage\r\n\r\n",
			       64, &pass_root, false, "127.0.0.1"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nX-Forwarded-For: garbage, 127.0.0.1\r\n"
			 "Host: 10.0.0.1:8000\r\nX-Forwarded-Host: h\r\n"
			 "X-Forwarded-Proto: http\r\n\r\n");
	/* anyone else: X-Forwarded-Proto/-Host replaced, as always */
	fx.keep_forwarded = false;
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n"
			       "X-Forwarded-Host: evil\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n",
			       64, &pass_root, false, "198.51.100.1"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7, 198.51.100.1\r\n"
			 "Host: 10.0.0.1:8000\r\nX-Forwarded-Host: h\r\n"
			 "X-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

START_TEST(test_hop_by_hop_dropped)
{
	ck_assert_int_eq(build("POST /p HTTP/1.1\r\nConnection: keep-alive, Foo\r\nFoo: 1\r\n"
			       "Keep-Alive: 5\r\nHost: h\r\nTE: trailers\r\nProxy-Connection: x\r\n"
			       "Upgrade: websocket\r\nExpect: 100-continue\r\nX-Forwarded-Host: evil\r\n"
			       "X-Forwarded-Proto: https\r\nContent-Length: 3\r\nKeep: me\r\n\r\nabc",
			       64, &pass_root, false, "1.2.3.4"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "POST /p HTTP/1.1\r\nContent-Length: 3\r\nKeep: me\r\n"
			 "Host: 10.0.0.1:8000\r\nX-Forwarded-For: 1.2.3.4\r\n"
			 "X-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\nabc");
}
END_TEST

/* A Content-Length with leading zeros goes upstream as its decimal value (a backend could
 * read "010" as octal 8); a canonical one passes byte for byte, OWS included. */
START_TEST(test_content_length_canonical)
{
	ck_assert_int_eq(build("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0010\r\nA: b\r\n"
			       "\r\n0123456789", 64, &pass_root, false, "1.2.3.4"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "POST /p HTTP/1.1\r\nA: b\r\nContent-Length: 10\r\nHost: 10.0.0.1:8000\r\n"
			 "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Host: h\r\n"
			 "X-Forwarded-Proto: http\r\n\r\n0123456789");
	ck_assert_int_eq(build("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n", 64,
			       &pass_root, false, "1.2.3.4"), 0);
	ck_assert_ptr_nonnull(strstr(flatten(&fx.out), "\r\nContent-Length: 0\r\n"));
	ck_assert_int_eq(build("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length:\t0 \r\n\r\n", 64,
			       &pass_root, false, "1.2.3.4"), 0);
	ck_assert_ptr_nonnull(strstr(flatten(&fx.out), "\r\nContent-Length:\t0 \r\n"));
	ck_assert_int_eq(build("POST /p HTTP/1.1\r\nContent-Length: 12\r\nHost: h\r\n\r\n", 64,
			       &pass_root, false, "1.2.3.4"), 0);
	ck_assert_ptr_nonnull(strstr(flatten(&fx.out), "POST /p HTTP/1.1\r\nContent-Length: 12\r\n"));
}
END_TEST

START_TEST(test_prefix_longer_path)
{
	struct cfg_pass p = { .prefix = "/app/", .prefix_len = 5, .path = "/backend/base/",
			      .path_len = 14 };

	ck_assert_int_eq(build("DELETE /app/x%20y?q=%2F HTTP/1.0\r\n\r\n", 64, &p, false, "1.1.1.1"),
			 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "DELETE /backend/base/x%20y?q=%2F HTTP/1.0\r\nHost: 10.0.0.1:8000\r\n"
			 "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

START_TEST(test_prefix_shorter_path)
{
	struct cfg_pass p = { .prefix = "/very/long/prefix/", .prefix_len = 18, .path = "/",
			      .path_len = 1 };

	/* No headroom at all: a shorter line needs none. */
	ck_assert_int_eq(build("GET /very/long/prefix/z HTTP/1.1\r\nHost: h\r\n\r\n", 0, &p, true,
			       "1.1.1.1"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET /z HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n"
			 "X-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

START_TEST(test_headroom_too_small)
{
	struct cfg_pass p = { .prefix = "/", .prefix_len = 1, .path = "/a/much/longer/path/",
			      .path_len = 20 };

	ck_assert_int_eq(build("GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 4, &p, false, "1.1.1.1"),
			 -ENOSPC);
}
END_TEST

START_TEST(test_absolute_form)
{
	ck_assert_int_eq(build("GET http://Example.org:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
			       64, &pass_root, true, "1.1.1.1"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET /p?q HTTP/1.1\r\nHost: Example.org:8080\r\nX-Forwarded-For: 1.1.1.1\r\n"
			 "X-Forwarded-Host: Example.org:8080\r\nX-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

/* WSGI/CGI read X_Forwarded_For as X-Forwarded-For: names with '_' are left out. */
START_TEST(test_underscore_fields_dropped)
{
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n"
			       "X_Forwarded_For: 6.6.6.6\r\nMy_Header: a\r\nContent_Length: 9\r\n"
			       "A: 1\r\n\r\n", 64, &pass_root, false, "2.2.2.2"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nA: 1\r\n"
			 "Host: 10.0.0.1:8000\r\nX-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
	ck_assert_uint_eq(fx.out.dropped, 3);
}
END_TEST

/* UnderscoresInHeaders On passes them, except names that fold onto one spliced acts on. */
START_TEST(test_underscore_fields_allowed)
{
	fx.underscores = true;
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: h\r\nMy_Header: a\r\nX_Forwarded_Host: e\r\n"
			       "HOST_: x\r\nTransfer_Encoding: chunked\r\nX_REAL_IP: 3.3.3.3\r\n\r\n",
			       64, &pass_root, false, "2.2.2.2"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nMy_Header: a\r\nHOST_: x\r\nHost: 10.0.0.1:8000\r\n"
			 "X-Forwarded-For: 2.2.2.2\r\nX-Forwarded-Host: h\r\n"
			 "X-Forwarded-Proto: http\r\n\r\n");
	ck_assert_uint_eq(fx.out.dropped, 3);
}
END_TEST

/* A Connection-listed name with '_' is hop-by-hop even when underscores are allowed. */
START_TEST(test_underscore_connection_listed)
{
	fx.underscores = true;
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nHost: h\r\nConnection: my_hop\r\nMy_Hop: 1\r\n"
			       "B: 2\r\n\r\n", 64, &pass_root, false, "2.2.2.2"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nB: 2\r\nHost: 10.0.0.1:8000\r\nX-Forwarded-For: 2.2.2.2\r\n"
			 "X-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
}
END_TEST

/* The client's Forwarded and X-Real-IP would contradict the X-Forwarded-* spliced sets. */
START_TEST(test_forwarded_and_real_ip_dropped)
{
	ck_assert_int_eq(build("GET / HTTP/1.1\r\nForwarded: for=6.6.6.6\r\nHost: h\r\n"
			       "x-real-ip: 6.6.6.6\r\nC: 3\r\n\r\n", 64, &pass_root, true, "2.2.2.2"), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "GET / HTTP/1.1\r\nC: 3\r\nHost: h\r\nX-Forwarded-For: 2.2.2.2\r\n"
			 "X-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
	ck_assert_uint_eq(fx.out.dropped, 0);
}
END_TEST

/* The prefix matched "/admin;x/" (config_route_scope()): mapped, the rest follows; mapped
 * to itself, the path goes as received. */
START_TEST(test_match_len_with_params)
{
	struct cfg_pass p = { .prefix = "/admin/", .prefix_len = 7, .path = "/in/", .path_len = 4 };
	struct cfg_pass same = { .prefix = "/admin/", .prefix_len = 7, .path = "/admin/",
				 .path_len = 7 };
	static char text[] = "GET /admin;x/secret;y?q HTTP/1.1\r\nHost: h\r\n\r\n";
	struct fwd_target t = { .pass = &p, .backend = &be, .client_ip = "1.1.1.1",
				.proto = "http", .match_len = 9 };

	for (int k = 0; k < 2; k++) {
		memset(fx.buf, '#', sizeof(fx.buf));
		memcpy(fx.buf + 64, text, sizeof(text) - 1);
		ck_assert_int_gt(http_parse_request(fx.buf + 64, sizeof(text) - 1, &lim, &fx.req), 0);
		t.pass = k ? &same : &p;
		ck_assert_int_eq(fwd_request_head(&fx.out, fx.buf + 64, 64, &fx.req, &t, NULL, 0), 0);
		ck_assert_str_eq(flatten(&fx.out), k ? "GET /admin;x/secret;y?q HTTP/1.1\r\n"
						       "Host: 10.0.0.1:8000\r\nX-Forwarded-For: 1.1.1.1\r\n"
						       "X-Forwarded-Proto: http\r\n\r\n"
						     : "GET /in/secret;y?q HTTP/1.1\r\n"
						       "Host: 10.0.0.1:8000\r\nX-Forwarded-For: 1.1.1.1\r\n"
						       "X-Forwarded-Proto: http\r\n\r\n");
	}
}
END_TEST

/* A request allowed to switch: the client's Upgrade and Connection are replaced by the
 * one protocol chosen and "Connection: Upgrade"; the fields Connection listed still go. */
START_TEST(test_upgrade_forwarded)
{
	fx.upgrade = "WebSocket/13";
	ck_assert_int_eq(build("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, WebSocket/13\r\n"
			       "Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: x\r\n"
			       "Sec-WebSocket-Key: k\r\n\r\n", 64, &pass_root, false, "1.1.1.1"), 0);
	fx.upgrade = NULL;
	ck_assert_str_eq(flatten(&fx.out),
			 "GET /ws HTTP/1.1\r\nSec-WebSocket-Key: k\r\nHost: 10.0.0.1:8000\r\n"
			 "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Host: h\r\n"
			 "X-Forwarded-Proto: http\r\nConnection: Upgrade\r\n"
			 "Upgrade: WebSocket/13\r\n\r\n");
}
END_TEST

START_TEST(test_advance_and_rewind)
{
	const char *full;
	char copy[1024];
	size_t total;

	ck_assert_int_eq(build("GET /a HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\nbody", 64, &pass_root,
			       false, "1.1.1.1"), 0);
	full = flatten(&fx.out);
	snprintf(copy, sizeof(copy), "%s", full);
	total = fx.out.left;
	fwd_advance(&fx.out, 5);
	ck_assert_str_eq(flatten(&fx.out), copy + 5);
	fwd_advance(&fx.out, 20);
	ck_assert_str_eq(flatten(&fx.out), copy + 25);
	fwd_advance(&fx.out, total - 25);
	ck_assert_uint_eq(fx.out.left, 0);
	fwd_rewind(&fx.out);
	ck_assert_str_eq(flatten(&fx.out), copy);
}
END_TEST

static const char *resp_build(const char *text, bool close_client, bool ka10)
{
	static char rbuf[4096];
	static struct http_response resp;
	size_t len = strlen(text);
	int ret;

	memcpy(rbuf, text, len);
	ret = http_parse_response(rbuf, len, &lim, HTTP_METHOD_GET, &resp);
	ck_assert_int_gt(ret, 0);
	ck_assert_int_eq(fwd_response_head(&fx.out, rbuf, &resp, NULL, close_client, ka10,
					   rbuf + ret, len - (size_t)ret), 0);
	return flatten(&fx.out);
}

/* A 101 that opens a tunnel keeps its Upgrade, says Connection: Upgrade, drops the other
 * hop-by-hop fields, and carries the first bytes of the new protocol after the head. */
START_TEST(test_switch_head)
{
	static char rbuf[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade, X-Hop\r\n"
			     "X-Hop: 1\r\nUpgrade: websocket\r\nKeep-Alive: 5\r\n"
			     "Sec-WebSocket-Accept: abc=\r\n\r\n\x81\x02hi";
	struct http_response resp;
	int ret = http_parse_response(rbuf, sizeof(rbuf) - 1, &lim, HTTP_METHOD_GET, &resp);

	ck_assert_int_eq(ret, (int)sizeof(rbuf) - 1 - 4);
	ck_assert_int_eq(fwd_switch_head(&fx.out, rbuf, &resp, rbuf + ret, 4), 0);
	ck_assert_str_eq(flatten(&fx.out),
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Sec-WebSocket-Accept: abc=\r\nConnection: Upgrade\r\n\r\n\x81\x02hi");
}
END_TEST

/* ---- ProxyPassReverse* ---- */

static struct config rcfg;

static void rev_add(uint8_t kind, unsigned scope, const char *to, const char *from)
{
	struct cfg_reverse *e = &rcfg.reverse[rcfg.nreverse++];

	snprintf(e->to, sizeof(e->to), "%s", to);
	snprintf(e->from, sizeof(e->from), "%s", from);
	e->to_len = (uint16_t)strlen(e->to);
	e->from_len = (uint16_t)strlen(e->from);
	e->kind = kind;
	e->scope = (uint16_t)scope;
}

static void rev_setup(void)
{
	memset(&rcfg, 0, sizeof(rcfg));
	rev_add(CFG_REV_URL, 0, "/app/", "http://127.0.0.1:8000/");
	rev_add(CFG_REV_URL, 0, "/p/", "/internal/");
	rev_add(CFG_REV_URL, 1, "/v/", "http://vhost-backend/");
	rev_add(CFG_REV_COOKIE_PATH, 0, "/app/", "/");
	rev_add(CFG_REV_COOKIE_DOMAIN, 0, "public.example", "internal.");
	rev_add(CFG_REV_COOKIE_PATH, 2, "/two/", "/");
}

/* Builds the client's head for `text` with the mappings of `scope` and `host`; returns
 * fwd_response_head()'s result, the head in *flat when 0. */
static int rev_build(const char *text, unsigned scope, const char *host, const char **flat)
{
	static char rbuf[4096];
	static struct http_response resp;
	struct fwd_reverse rev = { .cfg = &rcfg, .scope = scope, .host = host,
				   .host_len = host ? strlen(host) : 0 };
	size_t len = strlen(text);
	int ret;

	memcpy(rbuf, text, len);
	ret = http_parse_response_noting(rbuf, len, &lim, HTTP_METHOD_GET,
					 fwd_response_kinds(&rev), &resp);
	ck_assert_int_gt(ret, 0);
	ret = fwd_response_head(&fx.out, rbuf, &resp, &rev, false, false, rbuf + ret,
				len - (size_t)ret);
	if (ret == 0)
		*flat = flatten(&fx.out);
	return ret;
}

static const char *rev_ok(const char *text, unsigned scope, const char *host)
{
	const char *flat = NULL;

	ck_assert_int_eq(rev_build(text, scope, host, &flat), 0);
	return flat;
}

START_TEST(test_reverse_location)
{
	/* CherryPy's trailing-slash redirect behind ProxyPass /app/ http://127.0.0.1:8000/ */
	ck_assert_str_eq(rev_ok("HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:8000/sub/\r\n"
				"Content-Length: 0\r\n\r\n", 0, "127.0.0.1:8080"),
			 "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:8080/app/sub/\r\n"
			 "Content-Length: 0\r\n\r\n");
	/* the scheme and host compare in any case; Content-Location and URI too */
	ck_assert_str_eq(rev_ok("HTTP/1.1 200 OK\r\nContent-Location: HTTP://127.0.0.1:8000/a?b\r\n"
				"URI: http://127.0.0.1:8000/\r\nContent-Length: 0\r\n\r\n", 0,
				"Example.org"),
			 "HTTP/1.1 200 OK\r\nContent-Location: http://Example.org/app/a?b\r\n"
			 "URI: http://Example.org/app/\r\nContent-Length: 0\r\n\r\n");
}
END_TEST

START_TEST(test_reverse_unmatched_and_relative)
{
	static const char other[] = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:8001/x\r\n"
				    "Content-Length: 0\r\n\r\n";
	static const char rel[] = "HTTP/1.1 302 Found\r\nLocation: /sub/\r\n"
				  "Content-Length: 0\r\n\r\n";

	/* another origin and a relative reference pass unchanged, as with httpd */
	ck_assert_str_eq(rev_ok(other, 0, "h"), other);
	ck_assert_str_eq(rev_ok(rel, 0, "h"), rel);
	/* without a host (HTTP/1.0, no Host) the mapped value is a path */
	ck_assert_str_eq(rev_ok("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:8000/q\r\n\r\n",
				0, NULL),
			 "HTTP/1.1 302 Found\r\nLocation: /app/q\r\n\r\n");
}
END_TEST

START_TEST(test_reverse_path_entry)
{
	/* an entry whose URL is a path compares with the path of any absolute value */
	ck_assert_str_eq(rev_ok("HTTP/1.1 302 Found\r\nLocation: http://any:1/internal/z\r\n\r\n",
				0, "h:81"),
			 "HTTP/1.1 302 Found\r\nLocation: http://h:81/p/z\r\n\r\n");
}
END_TEST

START_TEST(test_reverse_scopes)
{
	static const char v[] = "HTTP/1.1 302 Found\r\nLocation: http://vhost-backend/k\r\n\r\n";

	/* a virtual host's entry applies in it, not in the main server or another vhost */
	ck_assert_str_eq(rev_ok(v, 1, "h"), "HTTP/1.1 302 Found\r\nLocation: http://h/v/k\r\n\r\n");
	ck_assert_str_eq(rev_ok(v, 0, "h"), v);
	ck_assert_str_eq(rev_ok(v, 2, "h"), v);
	/* the main server's entries apply in a virtual host */
	ck_assert_str_eq(rev_ok("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:8000/\r\n\r\n",
				1, "h"),
			 "HTTP/1.1 302 Found\r\nLocation: http://h/app/\r\n\r\n");
	ck_assert_uint_eq(fwd_response_kinds(NULL), 0);
}
END_TEST

START_TEST(test_reverse_cookie)
{
	/* Path= and Domain= values that start with INTERNAL are replaced whole by PUBLIC */
	ck_assert_str_eq(rev_ok("HTTP/1.1 200 OK\r\nSet-Cookie: s=1; path=/x; HttpOnly; "
				"Domain=INTERNAL.lan\r\nSet-Cookie: t=2;Path=/\r\n"
				"Content-Length: 0\r\n\r\n", 0, "h"),
			 "HTTP/1.1 200 OK\r\nSet-Cookie: s=1; path=/app/; HttpOnly; "
			 "Domain=public.example\r\nSet-Cookie: t=2;Path=/app/\r\n"
			 "Content-Length: 0\r\n\r\n");
	/* the cookie-pair is not an attribute; unmatched attributes pass */
	ck_assert_str_eq(rev_ok("HTTP/1.1 200 OK\r\nSet-Cookie: path=/; Domain=other\r\n\r\n", 0, "h"),
			 "HTTP/1.1 200 OK\r\nSet-Cookie: path=/; Domain=other\r\n\r\n");
	/* main server's entry first: scope 2's "/" entry comes after it */
	ck_assert_str_eq(rev_ok("HTTP/1.1 200 OK\r\nSet-Cookie: a=b; Path=/q\r\n\r\n", 2, "h"),
			 "HTTP/1.1 200 OK\r\nSet-Cookie: a=b; Path=/app/\r\n\r\n");
}
END_TEST

START_TEST(test_reverse_out_of_bounds)
{
	char text[4096];
	size_t n = 0;
	const char *flat = NULL;

	/* 30 Location fields each growing: more new text than FWD_EXTRA -> -E2BIG, never the
	 * backend's address passed along */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "Location: http://127.0.0.1:8000/%d\r\n", i);
	snprintf(text + n, sizeof(text) - n, "\r\n");
	ck_assert_int_eq(rev_build(text, 0, "a-rather-long-host-name.example.org:8080", &flat),
			 -E2BIG);
	/* more fields to rewrite than HTTP_MAX_NOTED: the head is refused (502) */
	n = (size_t)snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < HTTP_MAX_NOTED + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "Set-Cookie: c%d=1\r\n", i);
	snprintf(text + n, sizeof(text) - n, "\r\n");
	{
		struct http_response resp;
		struct fwd_reverse rev = { .cfg = &rcfg };

		ck_assert_int_eq(http_parse_response_noting(text, strlen(text), &lim,
							    HTTP_METHOD_GET,
							    fwd_response_kinds(&rev), &resp), -1);
		/* without a cookie mapping they are not noted, and pass */
		ck_assert_int_gt(http_parse_response(text, strlen(text), &lim, HTTP_METHOD_GET,
						     &resp), 0);
	}
}
END_TEST

START_TEST(test_response_keep_alive)
{
	ck_assert_str_eq(resp_build("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n"
				    "Content-Length: 2\r\nX: y\r\n\r\nhi", false, false),
			 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nhi");
}
END_TEST

START_TEST(test_response_close_and_version)
{
	ck_assert_str_eq(resp_build("HTTP/1.0 404 Not Found\r\nConnection: close, X-Hop\r\n"
				    "X-Hop: 1\r\nContent-Length: 0\r\n\r\n", true, false),
			 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}
END_TEST

START_TEST(test_response_keep_alive_10)
{
	ck_assert_str_eq(resp_build("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, true),
			 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}
END_TEST

static Suite *forward_suite(void)
{
	Suite *s = suite_create("forward");
	TCase *tc;

	tc = tcase_create("request");
	tcase_add_test(tc, test_plain_get);
	tcase_add_test(tc, test_preserve_host);
	tcase_add_test(tc, test_xff_appended_to_last);
	tcase_add_test(tc, test_hop_by_hop_dropped);
	tcase_add_test(tc, test_content_length_canonical);
	tcase_add_test(tc, test_absolute_form);
	tcase_add_test(tc, test_upgrade_forwarded);
	suite_add_tcase(s, tc);
	tc = tcase_create("fields_a_backend_could_be_fooled_by");
	tcase_add_test(tc, test_underscore_fields_dropped);
	tcase_add_test(tc, test_underscore_fields_allowed);
	tcase_add_test(tc, test_underscore_connection_listed);
	tcase_add_test(tc, test_forwarded_and_real_ip_dropped);
	tcase_add_test(tc, test_trusted_proxy_fields);
	tcase_add_test(tc, test_match_len_with_params);
	suite_add_tcase(s, tc);
	tc = tcase_create("request_line_in_place");
	tcase_add_test(tc, test_prefix_longer_path);
	tcase_add_test(tc, test_prefix_shorter_path);
	tcase_add_test(tc, test_headroom_too_small);
	suite_add_tcase(s, tc);
	tc = tcase_create("short_sends");
	tcase_add_test(tc, test_advance_and_rewind);
	suite_add_tcase(s, tc);
	tc = tcase_create("response");
	tcase_add_test(tc, test_response_keep_alive);
	tcase_add_test(tc, test_response_close_and_version);
	tcase_add_test(tc, test_response_keep_alive_10);
	tcase_add_test(tc, test_switch_head);
	suite_add_tcase(s, tc);
	tc = tcase_create("proxy_pass_reverse");
	tcase_add_checked_fixture(tc, rev_setup, NULL);
	tcase_add_test(tc, test_reverse_location);
	tcase_add_test(tc, test_reverse_unmatched_and_relative);
	tcase_add_test(tc, test_reverse_path_entry);
	tcase_add_test(tc, test_reverse_scopes);
	tcase_add_test(tc, test_reverse_cookie);
	tcase_add_test(tc, test_reverse_out_of_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(forward_suite());
}
