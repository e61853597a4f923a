/* Check suite for src/hcheck.c's steps, driven through a real ring against a loopback
 * listener this test answers from (the worker loop's role is played here: its clock, its
 * ticks, its completions). The checks of running spliced: check_e2e_balancer. */
#include <check.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spliced/config.h"
#include "spliced/hcheck.h"
#include "spliced/ring-t.h"
#include "spliced/upstream-t.h"
#include "spliced/worker-t.h"
#include "suite.h"

static struct config cfg;
static struct worker *w;
static int lfd = -1;

/* A listener on a free loopback port, a configuration whose one pool member is there
 * with hcmethod=GET, and a worker with a ring and nothing running. */
static void setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct config_error err;
	char text[512];

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	snprintf(text, sizeof(text), "Listen 127.0.0.1:8080\n<Proxy balancer://p>\n"
		 "BalancerMember http://127.0.0.1:%u hcmethod=GET hcinterval=5\n</Proxy>\n"
		 "ProxyPass / balancer://p/\n", ntohs(a.sin_port));
	config_defaults(&cfg);
	ck_assert_msg(config_parse(&cfg, text, strlen(text), "test.conf", &err) == 0, "%s",
		      err.msg);
	w = calloc(1, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	w->cfg = &cfg;
	w->pools = calloc(cfg.nbackend, sizeof(*w->pools));
	ck_assert_ptr_nonnull(w->pools);
	ck_assert_int_eq(io_uring_queue_init(16, &w->ring, 0), 0);
	w->now_ms = 1000;
}

static void teardown(void)
{
	hc_destroy(w);
	io_uring_queue_exit(&w->ring);
	free(w->pools);
	free(w);
	config_free(&cfg);
	close(lfd);
}

/* Submits, then hands the completions that come within 100 ms to hc_complete() (the
 * others, a cancel's, are the worker's OP_NONE). With before_tick, hc_tick() runs after
 * the batch is taken and before its check completions are handled, as the worker meets
 * its tick completion first in a batch. Returns the check completions handled. */
static unsigned batch(bool before_tick)
{
	struct __kernel_timespec ts = { .tv_nsec = 100000000 };
	struct io_uring_cqe *cqe;
	uint64_t ud[16];
	int res[16];
	unsigned n = 0, k = 0;

	io_uring_submit(&w->ring);
	if (io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts) < 0)
		return 0;
	while (n < 16 && io_uring_peek_cqe(&w->ring, &cqe) == 0) {
		ud[n] = cqe->user_data;
		res[n++] = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
	}
	if (before_tick)
		hc_tick(w);
	for (unsigned i = 0; i < n; i++)
		if (RING_UD_OP(ud[i]) == OP_HCHECK) {
			hc_complete(w, RING_UD_IDX(ud[i]), res[i]);
			k++;
		}
	return k;
}

/* The check runs up to its receive: connected, its request sent (a few batches) and read
 * here into req[0..len) (NUL-terminated). Returns the backend's side of the connection. */
static int request_read(const struct hc_probe *p, char *req, size_t len)
{
	ssize_t n;
	int cfd;

	for (unsigned i = 0; i < 8 && p->step != HC_RECV; i++)
		batch(false);
	ck_assert_uint_eq(p->step, HC_RECV);
	cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	n = read(cfd, req, len - 1);
	ck_assert_int_gt(n, 0);
	req[n] = '\0';
	return cfd;
}

/* The tick cancels a check past its deadline; when the receive the cancel was meant for
 * completed in the same batch (a backend sending its status line slowly), the check still
 * ends in time, and does not wait for ever on a receive nothing cancels. */
START_TEST(deadline_after_late_bytes)
{
	const struct hc_probe *p;
	char req[1024];
	int cfd;

	hc_tick(w);
	ck_assert_ptr_nonnull(w->hc);
	p = &w->hc[0];
	ck_assert_uint_eq(p->step, HC_CONNECT);
	cfd = request_read(p, req, sizeof(req));
	ck_assert_int_eq(write(cfd, "HTTP/", 5), 5);
	/* the deadline passes in the batch that holds the bytes */
	w->now_ms = p->deadline_ms;
	ck_assert_uint_eq(batch(true), 1);
	/* ticks go on, the backend says nothing more */
	for (unsigned i = 0; i < 20 && p->step != HC_IDLE; i++) {
		w->now_ms += 100;
		hc_tick(w);
		batch(false);
	}
	ck_assert_uint_eq(p->step, HC_IDLE);
	ck_assert_uint_eq(p->fails, 1);
	ck_assert_uint_eq(p->passes, 0);
	close(cfd);
}
END_TEST

/* A status line in pieces, before the deadline: the check passes. */
START_TEST(status_in_pieces)
{
	const struct hc_probe *p;
	char req[1024];
	int cfd;

	hc_tick(w);
	p = &w->hc[0];
	cfd = request_read(p, req, sizeof(req));
	ck_assert_msg(strncmp(req, "GET / HTTP/1.0\r\n", 16) == 0, "%.40s", req);
	ck_assert_int_eq(write(cfd, "HTTP/", 5), 5);
	ck_assert_uint_eq(batch(false), 1);
	ck_assert_uint_eq(p->step, HC_RECV);
	ck_assert_int_eq(write(cfd, "1.1 204 No Content\r\n\r\n", 22), 22);
	ck_assert_uint_eq(batch(false), 1);
	ck_assert_uint_eq(p->step, HC_IDLE);
	ck_assert_uint_eq(p->passes, 1);
	ck_assert_uint_eq(p->fails, 0);
	close(cfd);
}
END_TEST

static Suite *hcheck_suite(void)
{
	const struct ck_case cases[] = {
		{ "deadline_after_late_bytes", deadline_after_late_bytes, 0 },
		{ "status_in_pieces", status_in_pieces, 0 },
	};
	Suite *s = suite_create("hcheck");

	ck_add_cases(s, cases, CK_N(cases), 0, setup, teardown);
	return s;
}

int main(void)
{
	return ck_run_suite(hcheck_suite());
}
