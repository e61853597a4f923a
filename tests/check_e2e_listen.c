/* End-to-end suite for the listeners, through the real spliced binary: a second spliced
 * started on the Listen (or MetricsListen) address of a running one refuses to start, as
 * nginx and Apache do, instead of taking a share of its connections through
 * SO_REUSEPORT; the running one's own workers still share the address. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "suite.h"

/* Runs a second spliced on `config` to completion (at most 30 s: one that starts and
 * serves fails the test). Returns its exit code, its output in *out (malloc'd). */
static int run_second(const char *config, char **out)
{
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-c", NULL, NULL };

	argv[2] = e2e_write_temp("second.conf", config);
	return e2e_run(argv, out);
}

/* The "requests=R" of a testbackend's GET /stats. */
static unsigned long backend_requests(int port)
{
	struct e2e_client c;
	struct e2e_response r;
	static const char req[] = "GET /stats HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *at;
	unsigned long n;

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	ck_assert_int_eq(r.status, 200);
	at = strstr((const char *)r.body, "requests=");
	ck_assert_msg(at != NULL, "stats: %s", e2e_escs((const char *)r.body));
	n = strtoul(at + 9, NULL, 10);
	e2e_response_free(&r);
	e2e_client_close(&c);
	return n;
}

START_TEST(test_second_instance_refused)
{
	struct e2e_proc be_a, be_b, a;
	char *conf = NULL, *out = NULL, want[200];
	unsigned long ra, rb;
	int code;

	e2e_backend_start(&be_a, NULL);
	e2e_backend_start(&be_b, NULL);
	e2e_spliced_startf(&a, "Workers 2\nProxyPass / http://127.0.0.1:%d/\n", be_a.port);
	ck_assert(asprintf(&conf, "Listen 127.0.0.1:%d\nWorkers 2\nErrorLog \"%s/second.log\"\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", a.port, e2e_temp_dir(),
			   be_b.port) > 0);
	code = run_second(conf, &out);
	snprintf(want, sizeof(want), "spliced: could not bind to address 127.0.0.1:%d: Address "
		 "already in use (another process listens there)", a.port);
	ck_assert_msg(code == 1, "the second spliced exited with %d; output:\n%s", code, out);
	ck_assert_msg(strstr(out, want) != NULL, "output lacks \"%s\":\n%s", want, out);
	free(out);
	free(conf);

	/* every request still reaches the first one's backend, over new connections */
	for (unsigned i = 0; i < 50; i++) {
		static const char req[] = "GET /?len=5 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
		struct e2e_client c;
		struct e2e_response r;

		e2e_client_open(&c, a.port);
		e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
		ck_assert_int_eq(r.status, 200);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ra = backend_requests(be_a.port);
	rb = backend_requests(be_b.port);
	ck_assert_msg(ra == rb + 50, "first backend %lu requests, second %lu", ra, rb);
	ck_assert_int_eq(e2e_spliced_stop(&a), 0);
	e2e_backend_stop(&be_a);
	e2e_backend_stop(&be_b);
}
END_TEST

/* MetricsListen is probed too: on a running spliced's Listen address it is refused. */
START_TEST(test_metrics_address_in_use)
{
	struct e2e_proc be, a;
	char *conf = NULL, *out = NULL, want[200];
	int code;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&a, "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	ck_assert(asprintf(&conf, "Listen 127.0.0.1:%d\nWorkers 1\nErrorLog \"%s/second.log\"\n"
			   "MetricsListen 127.0.0.1:%d\nProxyPass / http://127.0.0.1:%d/\n",
			   e2e_free_port(), e2e_temp_dir(), a.port, be.port) > 0);
	code = run_second(conf, &out);
	snprintf(want, sizeof(want), "spliced: MetricsListen: could not bind to address "
		 "127.0.0.1:%d: Address already in use (another process listens there)", a.port);
	ck_assert_msg(code == 1, "the second spliced exited with %d; output:\n%s", code, out);
	ck_assert_msg(strstr(out, want) != NULL, "output lacks \"%s\":\n%s", want, out);
	free(out);
	free(conf);
	ck_assert_int_eq(e2e_spliced_stop(&a), 0);
	e2e_backend_stop(&be);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "second_instance", test_second_instance_refused, 0 },
		{ "metrics_in_use", test_metrics_address_in_use, 0 },
	};
	Suite *s = suite_create("e2e_listen");

	ck_add_cases(s, cases, CK_N(cases), 90, NULL, NULL);
	return ck_run_suite(s);
}
