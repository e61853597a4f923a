/* End-to-end suite for observability: the metrics endpoint and the USDT probes, through
 * the real spliced binary and the real tools/testbackend on loopback. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

static void get(struct e2e_client *c, const char *target, struct e2e_response *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: obs\r\n\r\n", target);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

/* The value of the metric line that starts with `name` (labels included), or -1. */
static long long metric(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

START_TEST(test_metrics)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	int mport = e2e_free_port();
	char line[128];
	long long v;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nMetricsListen 127.0.0.1:%d\n",
			   be.port, mport);
	e2e_client_open(&c, sp.port);
	get(&c, "/?len=100000", &r);   /* spliced: over the threshold */
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	get(&c, "/?len=10", &r);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	e2e_client_open(&c, sp.port);
	e2e_send_str(&c, "GET / HTTP/1.1\r\nHost : x\r\n\r\n");
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_assert_int_eq(r.status, 400);
	e2e_response_free(&r);
	e2e_client_close(&c);

	e2e_client_open(&c, mport);
	get(&c, "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(e2e_header(&r, "Content-Type") ?: "", "text/plain") != NULL,
		      "Prometheus text expected");
	{
		char *text = strndup((const char *)r.body, r.body_len);

		ck_assert_int_eq(metric(text, "spliced_requests_total{class=\"2xx\"}"), 2);
		ck_assert_int_eq(metric(text, "spliced_requests_total{class=\"4xx\"}"), 1);
		v = metric(text, "spliced_bytes_total{how=\"spliced\"}");
		ck_assert_msg(v > 0 && v <= 100000, "spliced bytes %lld", v);
		ck_assert_int_ge(metric(text, "spliced_bytes_total{how=\"copied\"}"), 10);
		snprintf(line, sizeof(line), "spliced_backend_pool_idle{backend=\"http://127.0.0.1:%d\"}",
			 be.port);
		ck_assert_int_eq(metric(text, line), 1);
		ck_assert_msg(strstr(text, "spliced_parse_errors_total{reason=\"whitespace before colon\""),
			      "parse error by reason missing:\n%s", text);
		/* Two proxied requests and the refused one. */
		ck_assert_int_eq(metric(text, "spliced_request_duration_seconds_count"), 3);
		ck_assert_int_eq(metric(text, "spliced_request_duration_seconds_bucket{le=\"+Inf\"}"), 3);
		free(text);
	}
	e2e_response_free(&r);
	e2e_client_close(&c);
	{
		unsigned char *all = NULL;
		size_t n = 0;
		const char *end;

		/* HEAD: the head only, then the connection closes. */
		e2e_client_open(&c, mport);
		e2e_send_str(&c, "HEAD /metrics HTTP/1.1\r\nHost: m\r\n\r\n");
		ck_assert_int_eq(e2e_read_until_eof(&c, &all, &n, 10000), 0);
		end = memmem(all, n, "\r\n\r\n", 4);
		ck_assert_msg(end && (size_t)(end + 4 - (const char *)all) == n,
			      "HEAD /metrics sent a body: %s", e2e_esc(all, n));
		free(all);
		e2e_client_close(&c);
	}
	e2e_client_open(&c, mport);
	get(&c, "/other", &r);
	ck_assert_int_eq(r.status, 404);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* bpftrace attaches to the probes and sees the request with its arguments. Skipped,
 * saying so, where bpftrace is missing or cannot attach (no root, no BPF). */
START_TEST(test_probes)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	const char *bin = e2e_env_bin("SPLICED_BIN");
	char script[1024], outpath[400], want[160];
	char *out = NULL;
	pid_t pid, serving;

	if (access("/usr/bin/bpftrace", X_OK) != 0) {
		fprintf(stderr, "SKIP probes: /usr/bin/bpftrace is not installed\n");
		return;
	}
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n", be.port);
	/* the probes fire in the serving process, the supervisor's child */
	serving = e2e_child_pid(sp.pid, "spliced", 0, 10000);
	ck_assert_int_gt(serving, 0);
	snprintf(script, sizeof(script),
		 "usdt:%s:spliced:request_start /pid == %d/ { printf(\"start %%s %%s\\n\", "
		 "str(arg1, arg2), str(arg3, arg4)); }\n"
		 "usdt:%s:spliced:backend_connect /pid == %d/ { printf(\"backend %%s %%d\\n\", "
		 "str(arg2), arg3); }\n"
		 "usdt:%s:spliced:splice /pid == %d/ { printf(\"splice %%d %%d\\n\", arg1, arg2); }\n"
		 "usdt:%s:spliced:request_end /pid == %d/ { printf(\"end %%d %%d %%s\\n\", arg1, "
		 "arg3 > 100000 ? 1 : 0, str(arg5)); }\n",
		 bin, serving, bin, serving, bin, serving, bin, serving);
	snprintf(outpath, sizeof(outpath), "%s/bpftrace.out", sp.dir);
	pid = e2e_bpftrace_start("probes", script, outpath);
	if (!pid) {
		e2e_spliced_stop(&sp);
		e2e_backend_stop(&be);
		return;
	}
	e2e_sleep_ms(300);
	e2e_client_open(&c, sp.port);
	get(&c, "/probe/x?len=200000", &r);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	/* the lines arrive as the events fire: wait (bounded) for the last one */
	snprintf(want, sizeof(want), "end 200 1 http://127.0.0.1:%d", be.port);
	out = e2e_bpftrace_stop(pid, outpath, want);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "start GET /probe/x?len=200000"), "request_start: %s", out);
	snprintf(want, sizeof(want), "backend http://127.0.0.1:%d 0", be.port);
	ck_assert_msg(strstr(out, want), "backend_connect (%s): %s", want, out);
	ck_assert_msg(strstr(out, "splice "), "splice probe: %s", out);
	snprintf(want, sizeof(want), "end 200 1 http://127.0.0.1:%d", be.port);
	ck_assert_msg(strstr(out, want), "request_end (%s): %s", want, out);
	free(out);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* Waits (bounded) until path holds `needle`; returns the text (caller frees) or NULL. */
static char *wait_file_has(const char *path, const char *needle)
{
	for (int i = 0; i < 100; i++) {
		char *text = e2e_read_file(path, NULL);

		if (text && strstr(text, needle))
			return text;
		free(text);
		e2e_sleep_ms(50);
	}
	return NULL;
}

/* CustomLog in Apache's formats, written by the workers; SIGUSR1 reopens it after a
 * rotation (the directory is writable by the user spliced runs as). */
START_TEST(test_access_log)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char dir[] = "/tmp/spliced-alog-XXXXXX";
	char combined[128], mine[128], rotated[128], want[256], *text;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0777);
	snprintf(combined, sizeof(combined), "%s/access.log", dir);
	snprintf(mine, sizeof(mine), "%s/mine.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/access.log.1", dir);
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "LogFormat \"%%h %%>s %%b %%m %%U%%q [%%{X-Test}i] %%{User-Agent}i\" mine\n"
			   "CustomLog %s combined\nCustomLog %s mine\n", be.port, combined, mine);
	e2e_client_open(&c, sp.port);
	e2e_send_str(&c, "GET /a?len=123 HTTP/1.1\r\nHost: h\r\nX-Test: v\"1\r\n"
			 "User-Agent: ua/1\r\nReferer: http://r.example/\r\n\r\n");
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	/* Apache's combined format exactly, up to the time. */
	text = wait_file_has(combined, "\"GET /a?len=123 HTTP/1.1\" 200 123 "
				       "\"http://r.example/\" \"ua/1\"\n");
	ck_assert_msg(text, "combined line missing from %s", combined);
	ck_assert_msg(strncmp(text, "127.0.0.1 - - [", 15) == 0, "combined: %s", text);
	free(text);
	text = wait_file_has(mine, "127.0.0.1 200 123 GET /a?len=123 [v\\\"1] ua/1\n");
	ck_assert_msg(text, "custom format line missing or wrong in %s", mine);
	free(text);

	/* A request refused by the parser is logged too, with "-" for the request. */
	e2e_client_open(&c, sp.port);
	e2e_send_str(&c, "GET /bad path HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_assert_int_eq(r.status, 400);
	e2e_response_free(&r);
	e2e_client_close(&c);
	text = wait_file_has(combined, "\"-\" 400 ");
	ck_assert_msg(text, "no access log line for the 400");
	free(text);

	ck_assert_int_eq(rename(combined, rotated), 0);
	ck_assert_int_eq(kill(sp.pid, SIGUSR1), 0);
	ck_assert_msg(e2e_log_wait_for(&sp, "logs reopened", 5000), "no reopen notice");
	e2e_client_open(&c, sp.port);
	e2e_send_str(&c, "GET /after?len=1 HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(want, sizeof(want), "\"GET /after?len=1 HTTP/1.1\" 200 1");
	text = wait_file_has(combined, want);
	ck_assert_msg(text, "after SIGUSR1 the line must go to a new %s", combined);
	free(text);
	text = e2e_read_file(rotated, NULL);
	ck_assert_msg(text && !strstr(text, want), "the rotated file must not get new lines");
	free(text);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
	snprintf(want, sizeof(want), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(want), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_observe");
	TCase *tc;

	tc = tcase_create("metrics");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_metrics);
	suite_add_tcase(s, tc);
	tc = tcase_create("access_log");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_access_log);
	suite_add_tcase(s, tc);
	tc = tcase_create("probes");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_probes);
	suite_add_tcase(s, tc);
	return ck_run_suite(s);
}
