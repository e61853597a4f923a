/* End-to-end suite for broken backends: the real spliced binary in front of a scripted raw
 * backend (a thread of this test that accepts on a 127.0.0.1 port-0 socket and writes
 * exactly the bytes a fault needs): resets in the middle of the head and of the body, a
 * truncated chunked body, malformed status lines, a flood of 1xx, bytes after a complete
 * response, a stall in the body, a backend that accepts and never reads an upload.
 *
 * For each fault: what the client gets (an error page before any response byte, or a
 * closed connection without a complete-looking body), that the fault arrived on a pooled
 * connection which spliced then never uses again, that a request on another client
 * connection is served meanwhile and a request on a new one afterwards. What other suites
 * cover is not repeated here: a refused connect, a backend that closes without answering,
 * a silent backend (check_e2e_proxy: bad_gateway_*, gateway_timeout; check_e2e_backend).
 *
 * Needs SPLICED_BIN (absolute path; `make test` sets it). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

/* ---- the scripted backend ------------------------------------------------------------ */

#define RAW_IO_MS     20000        /* a connection thread gives up after this long idle */
#define RAW_REQ_MAX   (64 * 1024)

static const char ok_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

struct raw_backend {
	int lfd;
	int port;
	atomic_uint accepts;       /* connections accepted */
	atomic_uint fault_seen;    /* the fault request arrived */
	atomic_uint fault_conn_req; /* its number on its connection (2: a pooled connection) */
	atomic_uint after_fault;   /* requests that came on the fault's connection after it */
	atomic_uint fault_done;    /* the fault's last byte was written */
	atomic_uint ok_served;
};

struct raw_conn {
	struct raw_backend *rb;
	int fd;
};

/* Best effort: a fault's peer may be gone already. */
static void raw_write(int fd, const void *p, size_t n)
{
	struct e2e_client c = { .fd = fd };

	(void)e2e_send(&c, p, n);
}

/* Closes with a TCP reset (SO_LINGER 0). */
static void raw_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Reads one request head (and a Content-Length body, when the head names one, small
 * bodies only) into buf; its length, 0 at EOF/error. */
static size_t raw_read_request(int fd, char *buf, size_t cap, size_t *have)
{
	for (;;) {
		char *end = memmem(buf, *have, "\r\n\r\n", 4);

		if (end) {
			size_t hl = (size_t)(end + 4 - buf), total = hl;
			const char *cl = memmem(buf, hl, "Content-Length: ", 16);

			if (cl)
				total += strtoul(cl + 16, NULL, 10);
			if (total <= cap && *have >= total)
				return total;
			if (total > cap)
				return 0;
		}
		if (*have == cap)
			return 0;
		ssize_t n = recv(fd, buf + *have, cap - *have, 0);

		if (n <= 0)
			return 0;
		*have += (size_t)n;
	}
}

/* Waits until the peer closes (or RAW_IO_MS): a backend that stalls. */
static void raw_wait_eof(int fd)
{
	char b[4096];

	while (recv(fd, b, sizeof(b), 0) > 0)
		;
}

/* The fault named by the request target (GET /fault/NAME). Returns true when the
 * connection is still usable as far as the backend knows. */
static bool raw_fault(int fd, const char *name)
{
	static const char flood_one[] = "HTTP/1.1 102 Processing\r\n\r\n";
	char body[1000];

	memset(body, 'b', sizeof(body));
	if (strcmp(name, "reset-head") == 0) {
		raw_write(fd, "HTTP/1.1 200 OK\r\nContent-Le", 27);
		e2e_sleep_ms(100);
		raw_reset(fd);
		return false;
	}
	if (strcmp(name, "reset-body-cl") == 0 || strcmp(name, "stall-body") == 0 ||
	    strcmp(name, "stall-body-big") == 0) {
		if (strcmp(name, "stall-body-big") == 0)  /* the rest would be spliced */
			raw_write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", 44);
		else
			raw_write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 41);
		raw_write(fd, body, 100);
		if (name[0] == 's') {
			raw_wait_eof(fd);
			close(fd);
		} else {
			e2e_sleep_ms(200);  /* the head goes to the client before the reset */
			raw_reset(fd);
		}
		return false;
	}
	if (strcmp(name, "reset-body-chunked") == 0 || strcmp(name, "truncated-chunked") == 0) {
		raw_write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n", 52);
		raw_write(fd, body, 100);
		raw_write(fd, "\r\n", 2);
		e2e_sleep_ms(200);
		if (name[0] == 'r')
			raw_reset(fd);
		else
			close(fd);   /* a clean close where the last chunk should be */
		return false;
	}
	if (strncmp(name, "bad-status-", 11) == 0) {
		static const char *const lines[] = {
			"HTTP/1.1 2OO OK\r\n", "HTTP/1.1 200OK\r\n", "HTTX/1.1 200 OK\r\n",
			"HTTP/1.1 20 OK\r\n", "HTTP/1.1 2000 OK\r\n", "HTTP/1.1  200 OK\r\n",
			"HTTP/1.1 200 OK\n", "HTTP/1.1 200 O\x01K\r\n", "200 OK\r\n",
			"HTTP/1.1 099 Early\r\n",
		};
		unsigned i = (unsigned)atoi(name + 11);

		if (i < sizeof(lines) / sizeof(lines[0]))
			raw_write(fd, lines[i], strlen(lines[i]));
		raw_write(fd, "Content-Length: 2\r\n\r\nok", 23);
		raw_wait_eof(fd);
		close(fd);
		return false;
	}
	if (strcmp(name, "flood-1xx") == 0) {
		char *s = malloc(1000 * (sizeof(flood_one) - 1));

		for (int i = 0; i < 1000; i++)
			memcpy(s + i * (sizeof(flood_one) - 1), flood_one, sizeof(flood_one) - 1);
		raw_write(fd, s, 1000 * (sizeof(flood_one) - 1));
		free(s);
		raw_write(fd, ok_resp, sizeof(ok_resp) - 1);
		return true;
	}
	if (strcmp(name, "after-same-write") == 0) {
		static const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
					  "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";

		raw_write(fd, two, sizeof(two) - 1);
		return true;
	}
	if (strcmp(name, "after-later") == 0) {
		static const char evil[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";

		raw_write(fd, ok_resp, sizeof(ok_resp) - 1);
		e2e_sleep_ms(300);  /* spliced has put the connection back in its pool by now */
		raw_write(fd, evil, sizeof(evil) - 1);
		return true;
	}
	return false;
}

static void *raw_conn_main(void *arg)
{
	struct raw_conn *rc = arg;
	struct raw_backend *rb = rc->rb;
	char *buf = malloc(RAW_REQ_MAX);
	size_t have = 0;
	unsigned nreq = 0;
	bool faulted = false;

	while (buf) {
		size_t len = raw_read_request(rc->fd, buf, RAW_REQ_MAX, &have);
		char target[128] = "";

		if (!len && !faulted && have >= 15 && memcmp(buf, "POST /fault/noread", 18) == 0) {
			/* the upload does not fit: this is the backend that never reads */
			atomic_store(&rb->fault_conn_req, nreq + 1);
			atomic_store(&rb->fault_seen, 1);
			e2e_sleep_ms(RAW_IO_MS);  /* never reads; spliced gives up first */
			break;
		}
		if (!len)
			break;
		nreq++;
		sscanf(buf, "%*s %127s", target);
		memmove(buf, buf + len, have - len);
		have -= len;
		if (faulted) {
			atomic_fetch_add(&rb->after_fault, 1);
			raw_write(rc->fd, ok_resp, sizeof(ok_resp) - 1);
			continue;
		}
		if (strncmp(target, "/fault/", 7) == 0) {
			atomic_store(&rb->fault_conn_req, nreq);
			atomic_store(&rb->fault_seen, 1);
			faulted = true;
			if (!raw_fault(rc->fd, target + 7)) {
				rc->fd = -1;
				break;
			}
			atomic_store(&rb->fault_done, 1);
			continue;
		}
		atomic_fetch_add(&rb->ok_served, 1);
		raw_write(rc->fd, ok_resp, sizeof(ok_resp) - 1);
	}
	if (rc->fd >= 0)
		close(rc->fd);
	free(buf);
	free(rc);
	return NULL;
}

static void *raw_accept_main(void *arg)
{
	struct raw_backend *rb = arg;

	for (;;) {
		int fd = accept4(rb->lfd, NULL, NULL, SOCK_CLOEXEC);
		struct timeval tv = { .tv_sec = RAW_IO_MS / 1000 };
		struct raw_conn *rc;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		atomic_fetch_add(&rb->accepts, 1);
		rc = malloc(sizeof(*rc));
		ck_assert(rc != NULL);
		rc->rb = rb;
		rc->fd = fd;
		ck_assert(pthread_create(&t, NULL, raw_conn_main, rc) == 0);
		pthread_detach(t);
	}
}

/* Listens on a 127.0.0.1 port chosen by the kernel; a small receive buffer, so a backend
 * that never reads stops an upload soon. The threads end with the test process. */
static void raw_start(struct raw_backend *rb)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int small = 4096;
	pthread_t t;

	memset(rb, 0, sizeof(*rb));
	rb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(rb->lfd >= 0, "socket: %s", strerror(errno));
	setsockopt(rb->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert_msg(bind(rb->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s",
		      strerror(errno));
	ck_assert(listen(rb->lfd, 64) == 0);
	ck_assert(getsockname(rb->lfd, (struct sockaddr *)&sa, &sl) == 0);
	rb->port = ntohs(sa.sin_port);
	ck_assert(pthread_create(&t, NULL, raw_accept_main, rb) == 0);
	pthread_detach(t);
}

/* ---- the client side ----------------------------------------------------------------- */

static void get_ok(int port, const char *what)
{
	static const char req[] = "GET /ok HTTP/1.1\r\nHost: a.example\r\n\r\n";
	struct e2e_client c;
	struct e2e_response r;

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	ck_assert_msg(r.status == 200 && r.body_len == 2 && memcmp(r.body, "ok", 2) == 0,
		      "%s: expected 200 \"ok\", got %d \"%s\"", what, r.status,
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
}

static void wait_fault_seen(struct raw_backend *rb, const char *fault)
{
	for (int i = 0; i < 1000 && !atomic_load(&rb->fault_seen); i++)
		e2e_sleep_ms(10);
	ck_assert_msg(atomic_load(&rb->fault_seen), "[%s] the request never reached the backend",
		      fault);
}

enum outcome {
	O_ERROR,      /* an error page (status) before any response byte, then a close */
	O_CUT,        /* the error page, or the 200 head and less than the body, then a close */
	O_OK,         /* 200 "ok" (the fault is harmless to the client) */
};

/* The client's view of a cut response: all it received until the close. */
static void check_cut(const char *fault, const unsigned char *in, size_t n)
{
	const unsigned char *end = memmem(in, n, "\r\n\r\n", 4);
	size_t body;

	ck_assert_msg(end, "[%s] no complete head before the close: \"%s\"", fault, e2e_esc(in, n));
	body = n - (size_t)(end + 4 - in);
	if (n >= 12 && memcmp(in, "HTTP/1.1 502", 12) == 0)
		return;   /* nothing had been sent yet: an error page is fine too */
	ck_assert_msg(n >= 12 && memcmp(in, "HTTP/1.1 200", 12) == 0,
		      "[%s] expected a 502 page or the 200 head, got \"%s\"", fault, e2e_esc(in, n));
	if (memmem(in, n, "Content-Length: ", 16)) {
		size_t cl = strtoul((const char *)memmem(in, n, "Content-Length: ", 16) + 16, NULL, 10);

		ck_assert_msg(body < cl, "[%s] the client got a complete body (%zu bytes) for a "
			      "cut response", fault, body);
	} else {
		ck_assert_msg(n < 5 || memcmp(in + n - 5, "0\r\n\r\n", 5) != 0,
			      "[%s] the client got a terminating chunk for a cut chunked body: "
			      "\"%s\"", fault, e2e_esc(in, n));
	}
}

/* One fault on a pooled backend connection, judged from both sides. */
static void run_fault(const char *fault, enum outcome want, int status, const char *conf)
{
	struct raw_backend rb;
	struct e2e_proc sp;
	struct e2e_client c;
	char req[256];
	int n;

	raw_start(&rb);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n%s", rb.port, conf ? conf : "");
	/* a pooled connection: the fault request is its second */
	get_ok(sp.port, "before the fault");
	n = snprintf(req, sizeof(req), "GET /fault/%s HTTP/1.1\r\nHost: a.example\r\n\r\n", fault);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 15000;
	ck_assert(e2e_send(&c, req, (size_t)n) == 0);
	wait_fault_seen(&rb, fault);
	ck_assert_msg(atomic_load(&rb.fault_conn_req) == 2,
		      "[%s] the fault request was number %u on its backend connection, expected "
		      "the pooled connection's second", fault, atomic_load(&rb.fault_conn_req));
	/* bytes the backend sends later arrive on a connection spliced has put back in its
	 * pool: wait for them, so they are there when spliced next looks at it */
	if (strcmp(fault, "after-later") == 0)
		for (int i = 0; i < 1000 && !atomic_load(&rb.fault_done); i++)
			e2e_sleep_ms(10);
	/* other clients are served meanwhile */
	get_ok(sp.port, "while the fault is in progress");
	if (want == O_CUT) {
		unsigned char *in = NULL;
		size_t len = 0;
		int rc = e2e_read_until_eof(&c, &in, &len, 15000);

		ck_assert_msg(rc == 0 || rc == -ECONNRESET, "[%s] the client connection was not "
			      "closed: %s (got \"%s\")", fault, strerror(-rc), e2e_esc(in, len));
		check_cut(fault, in, len);
		free(in);
	} else {
		struct e2e_response r;

		unsigned interim = 0;

		for (;;) {
			ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "[%s] no response after "
				      "%u interim ones: %s", fault, interim, r.err);
			if (r.status >= 200)
				break;
			interim++;
			e2e_response_free(&r);
		}
		if (interim)
			printf("[%s] the client got %u interim responses before the final one\n", fault,
			       interim);
		/* the flood: spliced's bound of 100, then its 502 */
		ck_assert_msg(strcmp(fault, "flood-1xx") != 0 || interim == 100,
			      "[%s] %u interim responses reached the client", fault, interim);
		if (want == O_OK) {
			ck_assert_msg(r.status == 200 && r.body_len == 2 &&
				      memcmp(r.body, "ok", 2) == 0, "[%s] expected 200 \"ok\", got "
				      "%d \"%s\"", fault, r.status, e2e_esc(r.body, r.body_len));
			e2e_response_free(&r);
			/* the same client connection goes on, in step */
			e2e_roundtrip(&c, "GET /ok HTTP/1.1\r\nHost: a.example\r\n\r\n", 37, &r,
				      false);
			ck_assert_msg(r.status == 200 && memcmp(r.body, "ok", 2) == 0,
				      "[%s] the next request on the client connection got %d \"%s\"",
				      fault, r.status, e2e_esc(r.body, r.body_len));
		} else {
			ck_assert_msg(r.status == status, "[%s] expected %d, got %d:\n%s", fault,
				      status, r.status, e2e_escs(r.head));
			ck_assert_msg(e2e_wait_closed(&c, 10000) > 0, "[%s] the client connection "
				      "stayed open after %d", fault, status);
		}
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	/* a new client connection is served, and never on the faulty backend connection */
	get_ok(sp.port, "after the fault");
	get_ok(sp.port, "after the fault, again");
	ck_assert_msg(atomic_load(&rb.after_fault) == 0,
		      "[%s] spliced sent %u request(s) on the backend connection of the fault",
		      fault, atomic_load(&rb.after_fault));
	ck_assert_msg(e2e_spliced_stop(&sp) == 0, "[%s] spliced did not exit 0:\n%s", fault,
		      e2e_spliced_report(&sp));
}

/* ---- tests --------------------------------------------------------------------------- */

/* The faults run_fault() plays, a TCase each. */
static const struct fault {
	const char *tcase;
	const char *name;          /* the backend's script: GET /fault/NAME */
	enum outcome want;
	int status;
	const char *conf;
} faults[] = {
	{ "reset_mid_head", "reset-head", O_ERROR, 502, NULL },
	{ "reset_mid_body_length", "reset-body-cl", O_CUT, 0, NULL },
	{ "reset_mid_body_chunked", "reset-body-chunked", O_CUT, 0, NULL },
	{ "truncated_chunked", "truncated-chunked", O_CUT, 0, NULL },
	/* 100 are forwarded, the 101st ends the exchange with a 502 */
	{ "flood_1xx", "flood-1xx", O_ERROR, 502, NULL },
	{ "bytes_after_response", "after-same-write", O_OK, 0, NULL },
	{ "bytes_after_response_later", "after-later", O_OK, 0, NULL },
	{ "stall_mid_body", "stall-body", O_CUT, 0, "ProxyTimeout 1\n" },
	{ "stall_mid_body_spliced", "stall-body-big", O_CUT, 0, "ProxyTimeout 1\n" },
};

START_TEST(test_fault)
{
	const struct fault *f = &faults[_i];

	run_fault(f->name, f->want, f->status, f->conf);
}
END_TEST

/* The ten status lines of raw_fault()'s bad-status-N. */
START_TEST(test_malformed_status_line)
{
	char name[32];

	snprintf(name, sizeof(name), "bad-status-%d", _i);
	run_fault(name, O_ERROR, 502, NULL);
}
END_TEST

struct upload {
	int fd;
	size_t len;
};

/* Sends an upload's body until it is all sent or the connection fails. */
static void *upload_main(void *arg)
{
	struct upload *u = arg;
	char buf[64 * 1024];
	size_t sent = 0;

	memset(buf, 'u', sizeof(buf));
	while (sent < u->len) {
		size_t n = u->len - sent < sizeof(buf) ? u->len - sent : sizeof(buf);
		ssize_t w = send(u->fd, buf, n, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	return NULL;
}

/* A backend that accepts the request and never reads its 4 MiB body: after ProxyTimeout
 * the client gets 504 (nothing of a response had been sent) and a closed connection. */
START_TEST(test_never_reads_upload)
{
	static const char head[] = "POST /fault/noread HTTP/1.1\r\nHost: a.example\r\n"
				   "Content-Length: 4194304\r\n\r\n";
	struct raw_backend rb;
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	struct upload u = { .len = 4194304 };
	struct timeval tv = { .tv_sec = 20 };
	pthread_t t;

	raw_start(&rb);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nProxyTimeout 1\n", rb.port);
	get_ok(sp.port, "before the fault");
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 15000;
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ck_assert(e2e_send(&c, head, sizeof(head) - 1) == 0);
	u.fd = c.fd;
	ck_assert(pthread_create(&t, NULL, upload_main, &u) == 0);
	wait_fault_seen(&rb, "noread");
	ck_assert_msg(atomic_load(&rb.fault_conn_req) == 2, "[noread] the upload was request %u "
		      "on its backend connection, expected the pooled connection's second",
		      atomic_load(&rb.fault_conn_req));
	get_ok(sp.port, "while the upload is stuck");
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "[noread] no response: %s", r.err);
	ck_assert_msg(r.status == 504, "[noread] expected 504, got %d:\n%s", r.status,
		      e2e_escs(r.head));
	e2e_response_free(&r);
	ck_assert_msg(e2e_wait_closed(&c, 10000) > 0, "[noread] the client connection stayed open");
	pthread_join(t, NULL);
	e2e_client_close(&c);
	get_ok(sp.port, "after the fault");
	ck_assert_int_eq(atomic_load(&rb.after_fault), 0);
	ck_assert_msg(e2e_spliced_stop(&sp) == 0, "[noread] spliced did not exit 0:\n%s",
		      e2e_spliced_report(&sp));
}
END_TEST

static Suite *e2e_broken_suite(void)
{
	const struct ck_case cases[] = {
		{ "never_reads_upload", test_never_reads_upload, 0 },
	};
	Suite *s = suite_create("e2e_broken");
	TCase *tc;

	for (int i = 0; i < (int)CK_N(faults); i++) {
		tc = tcase_create(faults[i].tcase);
		tcase_set_timeout(tc, 60);
		tcase_add_loop_test(tc, test_fault, i, i + 1);
		suite_add_tcase(s, tc);
	}
	tc = tcase_create("malformed_status_line");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_malformed_status_line, 0, 10);
	suite_add_tcase(s, tc);
	ck_add_cases(s, cases, CK_N(cases), 60, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(e2e_broken_suite());
}
