/* End-to-end suite for idle connections, the head buffer pool (src/hbuf.c) and parking
 * (src/park.c): an idle keep-alive connection holds no buffer (the
 * spliced_head_buffers_in_use gauge) and survives reloads, timeouts and stops parked, and
 * heads that arrive in pieces, fill the largest buffer, or follow each other pipelined
 * past a buffer's end still reach the backend whole. The real spliced binary and the
 * real tools/testbackend on loopback; the backend answers a request without len= with
 * the head it received, so each answer shows which request it belongs to. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define NIDLE 1000

static struct e2e_proc be, sp;
static int mport;

static void start(void)
{
	mport = e2e_free_port();
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nMetricsListen 127.0.0.1:%d\n"
			   "KeepAliveTimeout 60\nTimeout 60\nMaxConnections 2000\n", be.port, mport);
}

static void stop(void)
{
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}

/* The gauge of head buffers lent out once it settles at `want` (bounded), else the last
 * value; read on a connection of its own to the metrics listener, whose request holds
 * one buffer while the page is made. */
static long long buffers_settle(long long want)
{
	return e2e_metric_wait(mport, "spliced_head_buffers_in_use", want);
}

/* GET `path` on c; the answer must be the backend's echo of that request. */
static void get_echo(struct e2e_client *c, const char *path)
{
	char req[256], line[256];
	struct e2e_response r;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: idle\r\n\r\n", path);

	e2e_roundtrip(c, req, (size_t)n, &r, false);
	ck_assert_int_eq(r.status, 200);
	snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n", path);
	ck_assert_msg(r.body_len > strlen(line) && memcmp(r.body, line, strlen(line)) == 0,
		      "answer for %s: %s", path, e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
}

/* 1,000 keep-alive connections answered once and left idle hold no buffer (the metrics
 * request's own is the one in use); requests in flight hold one each; then every idle
 * connection asks again and gets its own answer. */
START_TEST(test_idle_many)
{
	static struct e2e_client c[NIDLE];
	struct rlimit rl;
	char path[64];

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < NIDLE + 100) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ck_assert_msg(rl.rlim_cur >= NIDLE + 100, "open files limit %llu",
		      (unsigned long long)rl.rlim_cur);
	start();
	for (int i = 0; i < NIDLE; i++) {
		e2e_client_open(&c[i], sp.port);
		snprintf(path, sizeof(path), "/first/%d", i);
		get_echo(&c[i], path);
	}
	ck_assert_int_eq(e2e_metric(mport, "spliced_connections_active"), NIDLE + 1);
	ck_assert_int_eq(buffers_settle(1), 1);
	/* five requests the backend holds for a moment: a buffer each while in flight */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(e2e_send_str(&c[i], "GET /slow?delay=1500 HTTP/1.1\r\nHost: idle\r\n\r\n"), 0);
	ck_assert_int_eq(buffers_settle(6), 6);
	for (int i = 0; i < 5; i++) {
		struct e2e_response r;

		ck_assert_msg(e2e_read_response(&c[i], &r, false) == 0, "slow %d: %s", i, r.err);
		ck_assert_int_eq(r.status, 200);
		e2e_response_free(&r);
	}
	ck_assert_int_eq(buffers_settle(1), 1);
	for (int i = NIDLE - 1; i >= 0; i--) {
		snprintf(path, sizeof(path), "/second/%d", i);
		get_echo(&c[i], path);
	}
	ck_assert_int_eq(buffers_settle(1), 1);
	for (int i = 0; i < NIDLE; i++)
		e2e_client_close(&c[i]);
	stop();
}
END_TEST

/* A head sent a byte at a time, on a new connection (the first byte takes a buffer from
 * the ring) and on a keep-alive one after it went idle. */
START_TEST(test_head_in_pieces)
{
	static const char req[] = "GET /pieces HTTP/1.1\r\nHost: idle\r\nX-Piece: abc\r\n\r\n";
	struct e2e_client c;
	struct e2e_response r;

	start();
	e2e_client_open(&c, sp.port);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(req) - 1; i++) {
			ck_assert_int_eq(e2e_send(&c, req + i, 1), 0);
			e2e_sleep_ms(2);
		}
		ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "round %d: %s", round, r.err);
		ck_assert_int_eq(r.status, 200);
		ck_assert_msg(memmem(r.body, r.body_len, "GET /pieces HTTP/1.1\r\n", 22) &&
			      memmem(r.body, r.body_len, "X-Piece: abc\r\n", 14),
			      "round %d: the backend saw %s", round, e2e_esc(r.body, r.body_len));
		e2e_response_free(&r);
		ck_assert_int_eq(buffers_settle(1), 1);
	}
	e2e_client_close(&c);
	stop();
}
END_TEST

/* A head just under the 32 KiB limit, its first bytes alone, then the rest: it fills the
 * buffer the first bytes took and reaches the backend whole; one over the limit is 431. */
START_TEST(test_largest_head)
{
	enum { NF = 4, FLEN = 8000 };
	static char req[40000];
	struct e2e_client c;
	struct e2e_response r;
	size_t n = 0;

	start();
	for (int extra = 0; extra < 2; extra++) {
		n = (size_t)sprintf(req, "GET /large HTTP/1.1\r\nHost: idle\r\n");
		for (int f = 0; f < NF; f++) {
			n += (size_t)sprintf(req + n, "X-F%d: ", f);
			memset(req + n, 'a' + f, FLEN);
			n += FLEN;
			n += (size_t)sprintf(req + n, "\r\n");
		}
		if (extra) {   /* past 32 KiB */
			n += (size_t)sprintf(req + n, "X-More: ");
			memset(req + n, 'z', 1000);
			n += 1000;
			n += (size_t)sprintf(req + n, "\r\n");
		}
		n += (size_t)sprintf(req + n, "\r\n");
		e2e_client_open(&c, sp.port);
		ck_assert_int_eq(e2e_send(&c, req, 20), 0);
		e2e_sleep_ms(50);
		ck_assert_int_eq(e2e_send(&c, req + 20, n - 20), 0);
		ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "%s", r.err);
		if (!extra) {
			ck_assert_msg(n > 32000 && n <= 32 * 1024, "head of %zu bytes", n);
			ck_assert_int_eq(r.status, 200);
			/* the backend's echo holds every field whole */
			for (int f = 0; f < NF; f++) {
				char name[32];
				const char *p;

				snprintf(name, sizeof(name), "X-F%d: ", f);
				p = memmem(r.body, r.body_len, name, strlen(name));
				ck_assert_msg(p != NULL, "field %d missing", f);
				p += strlen(name);
				ck_assert((size_t)(p - (const char *)r.body) + FLEN <= r.body_len);
				for (int k = 0; k < FLEN; k++)
					ck_assert_int_eq(p[k], 'a' + f);
			}
		} else {
			ck_assert_int_eq(r.status, 431);
		}
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert_int_eq(buffers_settle(1), 1);
	stop();
}
END_TEST

/* 500 pipelined requests in one send (about 40 KiB, more than a buffer holds): each is
 * answered, in order, with its own echo; then the connection is idle with no buffer. */
START_TEST(test_pipelined_past_buffer)
{
	enum { N = 500 };
	static char reqs[N * 100];
	struct e2e_client c;
	size_t n = 0;

	start();
	for (int i = 0; i < N; i++)
		n += (size_t)sprintf(reqs + n, "GET /pipe/%d HTTP/1.1\r\nHost: idle\r\nX-Pad: "
				     "0123456789012345678901234567890123456789\r\n\r\n", i);
	ck_assert_uint_gt(n, 36 * 1024);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send(&c, reqs, n), 0);
	for (int i = 0; i < N; i++) {
		struct e2e_response r;
		char line[64];

		ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "response %d: %s", i, r.err);
		ck_assert_int_eq(r.status, 200);
		snprintf(line, sizeof(line), "GET /pipe/%d HTTP/1.1\r\n", i);
		ck_assert_msg(r.body_len > strlen(line) && memcmp(r.body, line, strlen(line)) == 0,
			      "response %d: %s", i, e2e_esc(r.body, r.body_len > 40 ? 40 : r.body_len));
		e2e_response_free(&r);
	}
	ck_assert_int_eq(buffers_settle(1), 1);
	get_echo(&c, "/after");
	e2e_client_close(&c);
	stop();
}
END_TEST

/* Idle connections parked off the slab (src/park.c) through a reload, a KeepAliveTimeout
 * and a graceful stop: handed to the new configuration's worker and answered there,
 * closed when their time is up, closed at the stop with spliced exiting 0. */
START_TEST(test_parked_reload_timeout_stop)
{
	enum { N = 50 };
	static struct e2e_client c[N];
	char path[64];

	start();
	for (int i = 0; i < N; i++) {
		e2e_client_open(&c[i], sp.port);
		snprintf(path, sizeof(path), "/before/%d", i);
		get_echo(&c[i], path);
	}
	ck_assert_int_eq(buffers_settle(1), 1);
	e2e_conf_replace(&sp, "KeepAliveTimeout 60\n", "KeepAliveTimeout 2\n");
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "50 idle connections went to the new configuration",
				       10000), "%s", e2e_diag());
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/after/%d", i);
		get_echo(&c[i], path);
	}
	ck_assert_int_eq(e2e_metric(mport, "spliced_connections_active"), N + 1);
	/* KeepAliveTimeout 2 of the new configuration: the first half stays quiet and is
	 * closed; the second half asks again within it */
	for (int round = 0; round < 3; round++) {
		e2e_sleep_ms(800);
		for (int i = N / 2; i < N; i++) {
			snprintf(path, sizeof(path), "/again/%d/%d", round, i);
			get_echo(&c[i], path);
		}
	}
	for (int i = 0; i < N / 2; i++)
		ck_assert_int_eq(e2e_wait_closed(&c[i], 5000), E2E_CLOSED_EOF);
	ck_assert_int_eq(e2e_metric(mport, "spliced_connections_active"), N / 2 + 1);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	for (int i = N / 2; i < N; i++)
		ck_assert_int_eq(e2e_wait_closed(&c[i], 5000), E2E_CLOSED_EOF);
	for (int i = 0; i < N; i++)
		e2e_client_close(&c[i]);
	e2e_backend_stop(&be);
}
END_TEST

/* MaxConnections past what a buffer ring's 16-bit ids name, on one worker: it starts and
 * serves (the ring is armed with the slots it can name). */
START_TEST(test_many_slots)
{
	struct e2e_client c;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nWorkers 1\n"
			   "MaxConnections 70000\n", be.port);
	e2e_client_open(&c, sp.port);
	get_echo(&c, "/one");
	get_echo(&c, "/two");
	e2e_client_close(&c);
	stop();
}
END_TEST

static Suite *idle_suite(void)
{
	const struct ck_case cases[] = {
		{ "idle_many", test_idle_many, 0 },
		{ "head_in_pieces", test_head_in_pieces, 0 },
		{ "largest_head", test_largest_head, 0 },
		{ "pipelined_past_buffer", test_pipelined_past_buffer, 0 },
		{ "parked_reload_timeout_stop", test_parked_reload_timeout_stop, 0 },
		{ "many_slots", test_many_slots, 0 },
	};
	Suite *s = suite_create("e2e_idle");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(idle_suite());
}
