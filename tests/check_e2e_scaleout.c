/* End-to-end scale-out: Debian's HAProxy in TCP mode balances round-robin, with PROXY v2
 * (send-proxy-v2), over two spliced instances in front of one testbackend, and checks
 * their /health on the metrics listener. Under load, one spliced is stopped gracefully
 * while a slow request is in flight (its /health turns 503 first, HAProxy takes it out),
 * then started again: no request fails, and the backend sees the real client (the test
 * connects from 127.0.0.2, HAProxy from 127.0.0.1) in X-Forwarded-For. Skipped, saying
 * so, when /usr/sbin/haproxy is not installed. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define HAPROXY "/usr/sbin/haproxy"
#define LOAD_THREADS 2
#define LOAD_MAX 1000000          /* requests per thread, a bound only */

/* e2e_roundtrip() of the NUL-terminated request req. */
static void roundtrip_str(struct e2e_client *c, const char *req, struct e2e_response *r,
			  bool head)
{
	e2e_roundtrip(c, req, strlen(req), r, head);
}

/* Opens a client connection from 127.0.0.2 to 127.0.0.1:port, its reads and sends
 * bounded by 10 s. 0 or -errno. */
static int open_from_2(struct e2e_client *c, int port)
{
	struct timeval tv = { .tv_sec = 10 };
	int rc = e2e_client_try_open_from(c, port, "127.0.0.2");

	if (rc == 0) {
		c->timeout_ms = 10000;
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return rc;
}

/* One request through the balancer on a new connection: 0 when it got a 200 whose
 * forwarded X-Forwarded-For is 127.0.0.2, else -1 with why[] set. */
static int one_request(int port, char *why, size_t wlen)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n";
	struct e2e_client c;
	struct e2e_response r;
	char v[64];
	int ret = -1, e;

	if ((e = open_from_2(&c, port)) < 0) {
		snprintf(why, wlen, "connect: %s", strerror(-e));
		return -1;
	}
	if (e2e_send(&c, req, sizeof(req) - 1) < 0)
		snprintf(why, wlen, "send failed");
	else if (e2e_read_response(&c, &r, false) < 0)
		snprintf(why, wlen, "response: %.400s", r.err);
	else {
		if (r.status != 200)
			snprintf(why, wlen, "status %d", r.status);
		else if (!e2e_head_field(r.body, r.body_len, "X-Forwarded-For", v, sizeof(v)) ||
			 strcmp(v, "127.0.0.2") != 0)
			snprintf(why, wlen, "X-Forwarded-For in a body of %zu bytes: %.200s",
				 r.body_len, (const char *)r.body);
		else
			ret = 0;
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	return ret;
}

struct load {
	pthread_t t;
	int port;
	atomic_bool *stop;
	atomic_ulong ok;
	atomic_ulong failed;
	char why[512];                /* the first failure */
};

static void *load_main(void *arg)
{
	struct load *l = arg;
	char why[512];

	for (unsigned i = 0; i < LOAD_MAX && !atomic_load(l->stop); i++) {
		if (one_request(l->port, why, sizeof(why)) == 0) {
			atomic_fetch_add(&l->ok, 1);
		} else if (atomic_fetch_add(&l->failed, 1) == 0) {
			memcpy(l->why, why, sizeof(why));
		}
	}
	return NULL;
}

static unsigned long load_ok(struct load *l)
{
	unsigned long n = 0;

	for (int i = 0; i < LOAD_THREADS; i++)
		n += atomic_load(&l[i].ok);
	return n;
}

/* The value of metric line `name` in text, 0 when absent. */
static long long metric(const char *text, const char *name)
{
	const char *p = strstr(text, name);

	return p ? atoll(p + strlen(name)) : 0;
}

/* Requests the instance whose metrics listener is mport proxied to the backend (new and
 * reused backend connections; /health checks are not among them), -1 when it does not
 * answer. */
static long long served(int mport)
{
	struct e2e_client c;
	struct e2e_response r;
	long long v = -1;

	if (e2e_client_try_open(&c, mport) < 0)
		return -1;
	c.timeout_ms = 5000;
	if (e2e_send_str(&c, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n") == 0 &&
	    e2e_read_response(&c, &r, false) == 0) {
		v = metric((const char *)r.body, "\nspliced_backend_connections_total{kind=\"new\"} ") +
		    metric((const char *)r.body, "\nspliced_backend_connections_total{kind=\"reused\"} ");
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	return v;
}

static int health(int mport)
{
	struct e2e_client c;
	struct e2e_response r;
	int st;

	e2e_client_open(&c, mport);
	roundtrip_str(&c, "GET /health HTTP/1.1\r\nHost: m\r\n\r\n", &r, false);
	st = r.status;
	e2e_response_free(&r);
	e2e_client_close(&c);
	return st;
}

/* Polls (bounded) until cond(arg) holds. */
static bool wait_until(bool (*cond)(void *), void *arg, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (cond(arg))
			return true;
		e2e_sleep_ms(20);
	}
	return cond(arg);
}

static bool serves(void *arg)
{
	return served(*(int *)arg) > 0;
}

struct more {
	struct load *l;
	unsigned long until;
};

static bool load_reached(void *arg)
{
	struct more *m = arg;

	return load_ok(m->l) >= m->until;
}

static bool recorded_slow(void *arg)
{
	char *rec = e2e_read_file((const char *)arg, NULL);
	bool yes = rec && strstr(rec, "slow=1");

	free(rec);
	return yes;
}

static void spliced_instance(struct e2e_proc *p, int port, int mport, int be_port)
{
	e2e_spliced_startf(p, "Listen 127.0.0.1:%d\nMetricsListen 127.0.0.1:%d\n"
			   "RemoteIPProxyProtocol On\nTimeout 20\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", port, mport, be_port);
}

START_TEST(test_haproxy_scaleout)
{
	static const unsigned char v2_local[16] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a,
						    0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00 };
	static const char slow[] = "GET /?delay=2000&slow=1 HTTP/1.1\r\nHost: lb\r\n\r\n";
	struct e2e_proc be = { 0 }, a = { 0 }, a2, b = { 0 }, h;
	struct e2e_client s;
	struct e2e_response r;
	struct load load[LOAD_THREADS];
	atomic_bool stop = false;
	int pa = e2e_free_port(), pb = e2e_free_port(), ma = e2e_free_port(),
	    mb = e2e_free_port(), front = e2e_free_port();
	char cfg[2048], path[512], out[512];
	const char *argv[] = { HAPROXY, "-db", "-f", path, NULL };
	unsigned long failed = 0, before;
	struct more m = { load, 0 };

	if (access(HAPROXY, X_OK) != 0) {
		fprintf(stderr, "SKIP haproxy_scaleout: " HAPROXY " is not installed "
			"(apt-get install haproxy)\n");
		return;
	}
	e2e_backend_start_recording(&be, NULL);
	spliced_instance(&a, pa, ma, be.port);
	spliced_instance(&b, pb, mb, be.port);
	snprintf(cfg, sizeof(cfg),
		 "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n"
		 "  timeout server 30s\n  timeout check 1s\n  retries 3\n  option redispatch\n"
		 "frontend fe\n  bind 127.0.0.1:%d\n  default_backend be\n"
		 "backend be\n  balance roundrobin\n  option httpchk GET /health\n"
		 "  http-check expect status 200\n"
		 "  server a 127.0.0.1:%d send-proxy-v2 check port %d inter 100ms fall 1 rise 1\n"
		 "  server b 127.0.0.1:%d send-proxy-v2 check port %d inter 100ms fall 1 rise 1\n",
		 front, pa, ma, pb, mb);
	snprintf(path, sizeof(path), "%s", e2e_write_temp("haproxy.cfg", cfg));
	snprintf(out, sizeof(out), "%s/haproxy.out", e2e_temp_dir());
	e2e_spawn(&h, argv, out);

	/* both instances serve through the balancer before the load starts */
	for (int i = 0; i < 500 && (served(ma) <= 0 || served(mb) <= 0); i++) {
		char why[512];

		one_request(front, why, sizeof(why));
		e2e_sleep_ms(20);
	}
	ck_assert_msg(served(ma) > 0 && served(mb) > 0, "HAProxy did not use both: %s",
		      e2e_read_file(out, NULL) ?: "");

	memset(load, 0, sizeof(load));
	for (int i = 0; i < LOAD_THREADS; i++) {
		load[i].port = front;
		load[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&load[i].t, NULL, load_main, &load[i]), 0);
	}
	m.until = 200;
	ck_assert(wait_until(load_reached, &m, 30000));

	/* a slow request in flight on a, as HAProxy would send it (LOCAL: its own address) */
	ck_assert_int_eq(e2e_client_try_open(&s, pa), 0);
	ck_assert_int_eq(e2e_send(&s, v2_local, sizeof(v2_local)), 0);
	ck_assert_int_eq(e2e_send_str(&s, slow), 0);
	ck_assert(wait_until(recorded_slow, be.record, 10000));
	ck_assert_int_eq(kill(a.pid, SIGTERM), 0);
	ck_assert(e2e_log_wait_for(&a, "SIGTERM", 5000));
	/* the workers begin the stop a moment after main logs the signal */
	for (int i = 0; i < 250 && health(ma) != 503; i++)
		e2e_sleep_ms(20);
	ck_assert_int_eq(health(ma), 503);
	ck_assert_msg(e2e_read_response(&s, &r, false) == 0, "the slow request: %s", r.err);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&s);
	ck_assert(e2e_proc_wait(&a, 30000));
	ck_assert_int_eq(e2e_proc_exit_code(&a), 0);

	/* b alone for a while, then a again */
	m.until = load_ok(load) + 200;
	ck_assert(wait_until(load_reached, &m, 30000));
	memset(&a2, 0, sizeof(a2));
	spliced_instance(&a2, pa, ma, be.port);
	ck_assert_msg(wait_until(serves, &ma, 30000), "the restarted instance got nothing");
	before = load_ok(load);
	m.until = before + 100;
	ck_assert(wait_until(load_reached, &m, 30000));

	atomic_store(&stop, true);
	for (int i = 0; i < LOAD_THREADS; i++) {
		pthread_join(load[i].t, NULL);
		failed += atomic_load(&load[i].failed);
		ck_assert_msg(atomic_load(&load[i].failed) == 0, "%lu of %lu requests failed, "
			      "the first: %s", (unsigned long)atomic_load(&load[i].failed),
			      (unsigned long)(atomic_load(&load[i].ok) + atomic_load(&load[i].failed)),
			      load[i].why);
	}
	fprintf(stderr, "haproxy_scaleout: %lu requests, %lu failed\n", load_ok(load), failed);
	kill(h.pid, SIGTERM);
	ck_assert(e2e_proc_wait(&h, 10000));
	ck_assert_int_eq(e2e_spliced_stop(&a2), 0);
	ck_assert_int_eq(e2e_spliced_stop(&b), 0);
	e2e_backend_stop(&be);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_scaleout");
	const struct ck_case cases[] = {
		{ "haproxy_scaleout", test_haproxy_scaleout, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
