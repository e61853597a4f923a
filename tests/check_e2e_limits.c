/* End-to-end suite for the limits that protect backends and clients (issue 13, "Bodies and
 * heads"): response heads have limits of their own (a 16 KiB Set-Cookie-sized field and
 * 200 fields pass, over LimitResponseField* is 502), and RequestReadTimeout
 * (mod_reqtimeout's syntax) answers a client that trickles its head or body 408 instead
 * of letting it hold a backend connection; a backend that answers before it has read the
 * whole request body gets its answer to the client. Timing is only ever bounded from above by the
 * test's own loop limits, never asserted. */
#include <check.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "suite.h"

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; head:\n%s\n%s", (want), \
		      (r)->status, e2e_escs((r)->head), e2e_diag())

static void get(struct e2e_client *c, const char *target, struct e2e_response *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

START_TEST(test_response_head_limits)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	const char *big;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	/* the client's limits (LimitRequestFieldSize 8190, LimitRequestFields 100) are not the
	 * backend's: a 16 KiB field and 200 fields pass by default */
	get(&c, "/?len=3&bighdr=16384", &r);
	ck_status(&r, 200);
	big = e2e_header(&r, "X-Big");
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(strlen(big), 16384);
	e2e_response_free(&r);
	get(&c, "/?len=3&hdrs=200", &r);
	ck_status(&r, 200);
	ck_assert_uint_eq(e2e_header_count(&r, "X-F-199"), 1);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);

	/* configured lower: 502, and the error log says why */
	e2e_spliced_startf(&sp, "LimitResponseFieldSize 1000\nLimitResponseFields 50\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=3&bighdr=2000", &r);
	ck_status(&r, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=3&hdrs=60", &r);
	ck_status(&r, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert(e2e_log_wait_for(&sp, "invalid response", 5000));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* A head trickled at a byte every 100 ms (10 bytes/s, below MinRate=500) is cut at the
 * header timeout's maximum although each byte comes well within Timeout: 408. */
START_TEST(test_header_min_rate)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 0123456789012345678901234567"
				  "890123456789012345678901234567890123456789012345678901234567890";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	size_t k;
	int st;

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, "Timeout 30\nRequestReadTimeout header=1-2,MinRate=500\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	/* at most the whole head's 150 bytes x 100 ms = 15 s; spliced closes long before */
	for (k = 0; k + 1 < sizeof(req); k++) {
		if (e2e_send(&c, req + k, 1) < 0)
			break;
		st = e2e_wait_closed(&c, 100);
		if (st != E2E_OPEN)
			break;
	}
	ck_assert_msg(k + 1 < sizeof(req), "the whole head went in: no header timeout");
	c.timeout_ms = 10000;
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 408);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	{
		size_t n = 0;
		char *rec = e2e_read_file(be.record, &n);

		ck_assert_msg(!rec || n == 0, "the backend saw a request");
		free(rec);
	}
	e2e_backend_stop(&be);
}
END_TEST

/* A body sent at 20 bytes every 100 ms (below MinRate=500) gets 408 after body=1 plus its
 * bytes' worth; a body sent at once (1 MiB, far above the rate) is not cut. */
START_TEST(test_body_min_rate)
{
	static const char head[] = "POST /?body=echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	unsigned char *big;
	char h2[128];
	int sent = 0, n;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "Timeout 30\nRequestReadTimeout body=1,MinRate=500\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send_str(&c, head), 0);
	/* at most 10000 / 20 x 100 ms; the rate cut comes after about two seconds */
	while (sent < 10000 && e2e_wait_closed(&c, 100) == E2E_OPEN) {
		char chunk[20];

		memset(chunk, 'x', sizeof(chunk));
		if (e2e_send(&c, chunk, sizeof(chunk)) < 0)
			break;
		sent += 20;
	}
	ck_assert_msg(sent < 10000, "the whole slow body went in: no body timeout");
	c.timeout_ms = 10000;
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 408);
	e2e_response_free(&r);
	e2e_client_close(&c);

	/* a fast 1 MiB body passes: every 500 bytes bought another second */
	big = malloc(1 << 20);
	ck_assert_ptr_nonnull(big);
	e2e_random_fill(big, 1 << 20, 7);
	e2e_client_open(&c, sp.port);
	n = snprintf(h2, sizeof(h2), "POST /?body=echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
		     1 << 20);
	ck_assert_int_eq(e2e_send(&c, h2, (size_t)n), 0);
	ck_assert_int_eq(e2e_send(&c, big, 1 << 20), 0);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_status(&r, 200);
	ck_assert_uint_eq(r.body_len, 1 << 20);
	ck_assert_int_eq(memcmp(r.body, big, 1 << 20), 0);
	e2e_response_free(&r);
	e2e_client_close(&c);
	free(big);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* A backend that refuses an upload at once and stops reading (testbackend noread=): its
 * answer reaches the client, who is still sending, instead of a 502 once the backend
 * gives up. The client sends without blocking and reads as soon as anything comes. */
START_TEST(test_early_response_big_upload)
{
	/* more than every buffer on the way (the backend's receive buffer, spliced's pipe and
	 * socket buffers) can hold, so the body cannot all go in once the backend stops */
	enum { BODY = 64 << 20, PIECE = 1 << 20 };
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	unsigned char *piece = malloc(PIECE);
	char head[256];
	size_t sent = 0;
	int n, rounds = 0;

	ck_assert_ptr_nonnull(piece);
	e2e_random_fill(piece, PIECE, 3);
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "Timeout 30\nProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	n = snprintf(head, sizeof(head), "POST /upload?noread=5000&status=413 HTTP/1.1\r\n"
		     "Host: h\r\nContent-Length: %d\r\n\r\n", BODY);
	ck_assert_int_eq(e2e_send(&c, head, (size_t)n), 0);
	/* at most 2000 rounds of 10 ms: send what the socket takes, stop once data arrives */
	while (sent < BODY && rounds++ < 2000) {
		struct pollfd pfd = { .fd = c.fd, .events = POLLIN | POLLOUT };
		size_t off = sent % PIECE;
		ssize_t k;

		ck_assert_int_ge(poll(&pfd, 1, 10), 0);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			break;
		if (!(pfd.revents & POLLOUT))
			continue;
		k = send(c.fd, piece + off, PIECE - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			sent += (size_t)k;
	}
	ck_assert_msg(sent < BODY, "the whole body went although the backend stopped reading");
	c.timeout_ms = 10000;
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "%s; %s", r.err, e2e_diag());
	ck_status(&r, 413);
	ck_assert_str_eq(e2e_header(&r, "Connection") ?: "", "close");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert(e2e_log_wait_for(&sp, "answered before the whole request body was sent", 5000));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
	free(piece);
}
END_TEST

/* The client sends a first part of a chunked upload and waits: the backend's answer to
 * the head reaches it at once, not after Timeout. */
START_TEST(test_early_response_waiting_client)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "Timeout 30\nProxyPass / http://127.0.0.1:%d/\n", be.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send_str(&c, "POST /up?noread=5000&status=401 HTTP/1.1\r\nHost: h\r\n"
				       "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"), 0);
	c.timeout_ms = 10000;   /* far below Timeout 30: the answer must not wait for it */
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "%s; %s", r.err, e2e_diag());
	ck_status(&r, 401);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("e2e_limits");
	const struct ck_case cases[] = {
		{ "response_head_limits", test_response_head_limits, 0 },
		{ "header_min_rate", test_header_min_rate, 0 },
		{ "body_min_rate", test_body_min_rate, 0 },
		{ "early_response_big_upload", test_early_response_big_upload, 0 },
		{ "early_response_waiting_client", test_early_response_waiting_client, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(limits_suite());
}
