/* End-to-end suite for the status page (SetHandler server-status): the real spliced and
 * tools/testbackend on loopback; the page's numbers against /metrics after known
 * traffic, ?auto as scripts parse it, markup in what clients send escaped, the load
 * check, and a screenshot by a headless Chromium (Debian's chromium). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define STATUS_LOC "<Location /server-status>\nSetHandler server-status\n</Location>\n"

/* One request on a connection of its own; the response in r. */
static void get(int port, const char *target, const char *extra, struct e2e_response *r)
{
	struct e2e_client c;
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: status.test\r\n%s\r\n",
			 target, extra ? extra : "");

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, (size_t)n, r, false);
	e2e_client_close(&c);
}

/* The value of "Key: value" in ?auto's text, or -1. */
static double auto_field(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ':' && p[n + 1] == ' ')
			return atof(p + n + 2);
	return -1;
}

static void start_pair(struct e2e_proc *be, struct e2e_proc *sp, int mport, const char *more)
{
	e2e_backend_start(be, NULL);
	e2e_spliced_startf(sp, "ProxyPass /app http://127.0.0.1:%d/\nMetricsListen 127.0.0.1:%d\n"
			   STATUS_LOC "%s", be->port, mport, more ? more : "");
}

/* After 7 answered requests, 3 refused and 2 with no route, ?auto's figures are the
 * metrics page's (which counts the ?auto request itself, a 200, as well). Every line of
 * ?auto is "Key: value". */
START_TEST(auto_agrees_with_metrics)
{
	struct e2e_proc be, sp;
	struct e2e_response r;
	int mport = e2e_free_port();
	char *aut, *met;

	start_pair(&be, &sp, mport, NULL);
	for (int i = 0; i < 7; i++) {
		get(sp.port, "/app/x?len=3000", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		e2e_response_free(&r);
	}
	for (int i = 0; i < 2; i++) {
		get(sp.port, "/nothing/here", NULL, &r);
		ck_assert_int_eq(r.status, 404);
		e2e_response_free(&r);
	}
	get(sp.port, "/server-status?auto", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(e2e_header(&r, "Content-Type"), "text/plain; charset=ISO-8859-1");
	aut = strndup((const char *)r.body, r.body_len);
	e2e_response_free(&r);
	get(mport, "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	met = strndup((const char *)r.body, r.body_len);
	e2e_response_free(&r);

	for (const char *p = aut; *p; p = strchr(p, '\n') + 1) {
		const char *colon = strchr(p, ':');

		ck_assert_msg(strchr(p, '\n'), "?auto does not end its last line: %s", aut);
		ck_assert_msg(colon && colon < strchr(p, '\n') && colon[1] == ' ',
			      "not \"Key: value\": %.*s", (int)(strchr(p, '\n') - p), p);
	}
	ck_assert_msg(auto_field(aut, "Total Accesses") == 9, "%s", aut);
	ck_assert_int_eq(e2e_metric_in(met, "spliced_requests_total{class=\"2xx\"}"),
			 (long long)auto_field(aut, "Requests2xx") + 1);
	ck_assert_int_eq(e2e_metric_in(met, "spliced_requests_total{class=\"4xx\"}"),
			 (long long)auto_field(aut, "Requests4xx"));
	ck_assert_int_eq((long long)auto_field(aut, "Requests2xx"), 7);
	ck_assert_int_eq((long long)auto_field(aut, "Requests4xx"), 2);
	ck_assert_int_eq(e2e_metric_in(met, "spliced_request_duration_seconds_count"),
			 (long long)auto_field(aut, "Total Accesses") + 1);
	/* body bytes: 7 x 3000 from the backend, more than the metrics page had counted */
	ck_assert_int_eq((long long)auto_field(aut, "BytesSpliced") +
			 (long long)auto_field(aut, "BytesCopied"),
			 e2e_metric_in(met, "spliced_bytes_total{how=\"spliced\"}") +
			 e2e_metric_in(met, "spliced_bytes_total{how=\"copied\"}"));
	ck_assert_int_eq((long long)auto_field(aut, "Total kBytes"),
			 (long long)(auto_field(aut, "BytesSpliced") +
				     auto_field(aut, "BytesCopied")) / 1024);
	ck_assert_int_ge((long long)auto_field(aut, "BytesCopied") +
			 (long long)auto_field(aut, "BytesSpliced"), 21000);
	ck_assert_int_eq((long long)auto_field(aut, "ParentServerConfigGeneration"),
			 e2e_metric_in(met, "spliced_config_generation"));
	ck_assert(auto_field(aut, "Uptime") >= 0);
	ck_assert(auto_field(aut, "ReqPerSec") >= 0);
	ck_assert(auto_field(aut, "BusyWorkers") >= 1); /* the one answering */
	ck_assert_msg(strstr(aut, "ServerVersion: spliced/"), "%s", aut);
	/* the MetricsListen serves the same page */
	get(mport, "/server-status?auto", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr((const char *)r.body, "Total Accesses: "), "%s", r.body);
	e2e_response_free(&r);
	free(aut);
	free(met);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* The number after `row` (a backend row up to its in-flight cell) on the status page, read
 * until it is `want` (bounded: 100 reads 10 ms apart); the last value. */
static int wait_in_flight(int port, const char *row, int want)
{
	struct e2e_response r;
	int n = -1;

	for (int i = 0; i < 100 && n != want; i++) {
		const char *p;

		if (i)
			e2e_sleep_ms(10);
		get(port, "/server-status", NULL, &r);
		p = strstr((const char *)r.body, row);
		ck_assert_msg(p, "no %s", row);
		n = atoi(p + strlen(row));
		e2e_response_free(&r);
	}
	return n;
}

/* The HTML page: one self-contained document (no script, no external reference), the
 * sections, the backend, ?refresh=N. */
START_TEST(html_page)
{
	struct e2e_proc be, sp;
	struct e2e_response r;
	int mport = e2e_free_port();
	char want[128];
	const char *body;

	start_pair(&be, &sp, mport, NULL);
	get(sp.port, "/app/x", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	get(sp.port, "/server-status?refresh=5", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(e2e_header(&r, "Content-Type"), "text/html; charset=utf-8");
	ck_assert_msg(strstr(e2e_header(&r, "Content-Security-Policy") ?: "", "default-src 'none'"),
		      "no CSP");
	body = (const char *)r.body;
	ck_assert(strncmp(body, "<!DOCTYPE html>", 15) == 0);
	ck_assert(strstr(body, "</html>"));
	ck_assert(strstr(body, "<meta http-equiv=\"refresh\" content=\"5\">"));
	ck_assert(!strstr(body, "<script"));
	ck_assert(!strstr(body, "src="));
	ck_assert(!strstr(body, "href="));
	for (const char *h2 = "Traffic\0Responses by status class\0Latency\0Workers\0Backends\0"
	     "Slowest requests\0"; *h2; h2 += strlen(h2) + 1) {
		snprintf(want, sizeof(want), "<h2>%s", h2);
		ck_assert_msg(strstr(body, want), "no %s", want);
	}
	snprintf(want, sizeof(want), "<td>http://127.0.0.1:%d</td>", be.port);
	ck_assert_msg(strstr(body, want), "no %s", want);
	ck_assert(strstr(body, "<td>/app/x</td>")); /* a slow-ring entry */
	e2e_response_free(&r);
	/* a request the backend holds is in flight on its row, and not after */
	{
		struct e2e_client slow;

		e2e_client_open(&slow, sp.port);
		ck_assert_int_eq(e2e_send_str(&slow, "GET /app/x?delay=1500 HTTP/1.1\r\nHost: s\r\n\r\n"),
				 0);
		snprintf(want, sizeof(want), "<tr><td>http://127.0.0.1:%d</td><td><span class=\"s "
			 "unchecked\">unchecked</span></td><td class=\"n\">", be.port);
		ck_assert_int_eq(wait_in_flight(sp.port, want, 1), 1);
		ck_assert_int_eq(e2e_read_response(&slow, &r, false), 0);
		ck_assert_int_eq(r.status, 200);
		e2e_response_free(&r);
		e2e_client_close(&slow);
		/* (the exchange ends when the worker sees its last send complete) */
		ck_assert_int_eq(wait_in_flight(sp.port, want, 0), 0);
	}
	/* a POST is refused */
	{
		struct e2e_client c;

		e2e_client_open(&c, sp.port);
		e2e_roundtrip(&c, "POST /server-status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
			      60, &r, false);
		ck_assert_int_eq(r.status, 405);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* Markup in the path, Host and User-Agent comes back as text: the page holds no element
 * a client wrote. (The parser refuses '<' raw in a path and markup in Host with a 400, which
 * the page does not list; a percent-encoded path and quotes get through and are shown.) */
START_TEST(markup_escaped)
{
	struct e2e_proc be, sp;
	struct e2e_response r;
	struct e2e_client c;
	int mport = e2e_free_port();
	const char *body;
	static const char *const evil[] = {
		"GET /app/%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: h\r\n"
		"User-Agent: <img src=x onerror=alert(1)>\r\n\r\n",
		"GET /app/'\"><b>x</b> HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /app/q HTTP/1.1\r\nHost: \"><b>host</b>\r\n\r\n",
		"GET /nothing/'onmouseover='alert(1) HTTP/1.1\r\nHost: x\r\n"
		"User-Agent: \"><script>alert(2)</script>\r\n\r\n",
	};

	start_pair(&be, &sp, mport, NULL);
	for (size_t i = 0; i < CK_N(evil); i++) {
		e2e_client_open(&c, sp.port);
		ck_assert_int_eq(e2e_send_str(&c, evil[i]), 0);
		ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	get(sp.port, "/server-status", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	body = (const char *)r.body;
	ck_assert_msg(!strstr(body, "<script"), "a <script> on the page");
	ck_assert_msg(!strstr(body, "<img"), "an <img> on the page");
	ck_assert_msg(!strstr(body, "<b>"), "a <b> on the page");
	ck_assert_msg(!strstr(body, "onmouseover='"), "an attribute escaped the quotes");
	ck_assert_msg(strstr(body, "/app/%3Cscript%3Ealert(1)%3C/script%3E"), "the path is missing");
	ck_assert_msg(strstr(body, "/nothing/&#39;onmouseover=&#39;alert(1)"),
		      "the quoted path is not escaped: %.3000s", strstr(body, "Slowest") ?: body);
	e2e_response_free(&r);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* Every backend with its state: a pool's member that refuses connections is down, the
 * one that answers up; an autostarted backend, once a request started it, is up with its
 * pid and one start, and once killed the page says so. */
START_TEST(backends_and_pools)
{
	struct e2e_proc be, sp;
	struct e2e_response r;
	int dead = e2e_dead_port(), aport = e2e_free_port();
	char want[256], conf[1024];
	const char *body, *row;

	e2e_backend_start(&be, NULL);
	snprintf(conf, sizeof(conf), "<Proxy balancer://app>\nBalancerMember http://127.0.0.1:%d\n"
		 "BalancerMember http://127.0.0.1:%d\n</Proxy>\nProxyPass /pool balancer://app\n"
		 "ProxyPass /auto http://127.0.0.1:%d/\n"
		 "ProxyAutostart http://127.0.0.1:%d -- %s -p %d\n" STATUS_LOC, be.port, dead,
		 aport, aport, e2e_backend_bin_for_others(), aport);
	e2e_spliced_start(&sp, conf);
	for (int i = 0; i < 4; i++) {
		get(sp.port, "/pool/x", NULL, &r);
		ck_assert_int_eq(r.status, 200);  /* the refused one fails over */
		e2e_response_free(&r);
	}
	get(sp.port, "/auto/x", NULL, &r);
	ck_assert_msg(r.status == 200, "autostart: %d %s", r.status, e2e_diag());
	e2e_response_free(&r);
	get(sp.port, "/server-status", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	body = (const char *)r.body;
	snprintf(want, sizeof(want), "<td>balancer://app</td><td>http://127.0.0.1:%d</td><td>"
		 "<span class=\"s up\">up</span>", be.port);
	ck_assert_msg(strstr(body, want), "no %s", want);
	snprintf(want, sizeof(want), "<td>balancer://app</td><td>http://127.0.0.1:%d</td><td>"
		 "<span class=\"s down\">down</span>", dead);
	ck_assert_msg(strstr(body, want), "no %s", want);
	snprintf(want, sizeof(want), "<tr><td>http://127.0.0.1:%d</td><td><span class=\"s up\">"
		 "up</span>", aport);
	row = strstr(body, want);
	ck_assert_msg(row, "no %s", want);
	/* in flight, queued, open (max), idle, then pid, uptime, starts */
	long pid;
	{
		const char *cell = row;

		for (int k = 0; k < 7 && cell; k++)
			cell = strstr(cell + 1, "<td");
		ck_assert_ptr_nonnull(cell);
		pid = strtol(strchr(cell, '>') + 1, NULL, 10);
		ck_assert_msg(pid > 1, "pid cell: %.80s", cell);
		for (int k = 0; k < 2 && cell; k++)
			cell = strstr(cell + 1, "<td");
		ck_assert_ptr_nonnull(cell);
		ck_assert_msg(strncmp(cell, "<td class=\"n\">1</td><td>-</td>", 30) == 0,
			      "starts, last exit: %.80s", cell);
	}
	e2e_response_free(&r);
	/* the backend killed: the page says how it ended (the helper starts it again) */
	ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
	{
		bool seen = false;

		for (int i = 0; i < 200 && !seen; i++) {
			get(sp.port, "/server-status", NULL, &r);
			seen = strstr((const char *)r.body, "<td>signal 9</td>") != NULL;
			e2e_response_free(&r);
			if (!seen)
				e2e_sleep_ms(25);
		}
		ck_assert_msg(seen, "no \"signal 9\" on the page after the backend was killed");
	}
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* spliced -t refuses a status page without an access rule on a public address, and
 * takes it with one. */
START_TEST(load_check)
{
	char conf[512], *out = NULL;
	const char *path;
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", NULL, NULL };

	snprintf(conf, sizeof(conf), "Listen 0.0.0.0:%d\nErrorLog %s/e.log\nDocumentRoot /tmp\n"
		 STATUS_LOC, e2e_free_port(), e2e_temp_dir());
	path = e2e_write_temp("open.conf", conf);
	argv[3] = path;
	ck_assert_int_ne(e2e_run(argv, &out), 0);
	ck_assert_msg(strstr(out, "without an access rule"), "output: %s", out);
	free(out);
	snprintf(conf, sizeof(conf), "Listen 0.0.0.0:%d\nErrorLog %s/e.log\nDocumentRoot /tmp\n"
		 "<Location /server-status>\nSetHandler server-status\nRequire ip 127.0.0.1\n"
		 "</Location>\n", e2e_free_port(), e2e_temp_dir());
	argv[3] = e2e_write_temp("ruled.conf", conf);
	ck_assert_msg(e2e_run(argv, &out) == 0, "output: %s", out);
	free(out);
}
END_TEST

/* A headless Chromium renders the page into build/status-page.png (beside SPLICED_BIN):
 * a real PNG of the window's size and of plausible weight. Without chromium: SKIP. */
START_TEST(screenshot)
{
	struct e2e_proc be, sp;
	struct e2e_response r;
	int mport = e2e_free_port();
	char png[600], url[128], shot[700], winsize[] = "--window-size=1280,1800";
	const char *bin = e2e_env_bin("SPLICED_BIN");
	const char *slash = strrchr(bin, '/');
	unsigned char *data;
	size_t len = 0;
	char *out = NULL;
	int rc;

	if (access("/usr/bin/chromium", X_OK) != 0) {
		fprintf(stderr, "SKIP screenshot: /usr/bin/chromium is missing (apt-get install "
			"chromium, or make deps)\n");
		return;
	}
	snprintf(png, sizeof(png), "%.*s/status-page.png", (int)(slash - bin), bin);
	unlink(png);
	e2e_backend_start(&be, NULL);
	/* a pool with a member that refuses connections: both colours on the picture */
	e2e_spliced_startf(&sp, "ProxyPass /app http://127.0.0.1:%d/\nMetricsListen 127.0.0.1:%d\n"
			   "<Proxy balancer://shop>\nBalancerMember http://127.0.0.1:%d\n"
			   "BalancerMember http://127.0.0.1:%d\n</Proxy>\n"
			   "ProxyPass /shop balancer://shop\n" STATUS_LOC, be.port, mport, be.port,
			   e2e_dead_port());
	for (int i = 0; i < 24; i++) {
		get(sp.port, i % 4 == 0 ? "/missing" : i % 4 == 1 ? "/shop/cart" :
		    "/app/page?len=2000", NULL, &r);
		e2e_response_free(&r);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/server-status", sp.port);
	snprintf(shot, sizeof(shot), "--screenshot=%s", png);
	{
		const char *argv[] = { "/usr/bin/chromium", "--headless", "--no-sandbox",
				       "--disable-gpu", "--hide-scrollbars", shot, winsize,
				       url, NULL };

		rc = e2e_run_ms(argv, &out, 120000);
	}
	data = (unsigned char *)e2e_read_file(png, &len);
	if (rc != 0 && !data) {
		/* it ran and could not draw here (no /dev/shm, a kernel without user
		 * namespaces...): say so loudly, never pass silently */
		fprintf(stderr, "SKIP screenshot: chromium failed (exit %d): %.600s\n", rc, out);
		free(out);
		ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
		e2e_backend_stop(&be);
		return;
	}
	ck_assert_msg(data, "no %s; chromium said: %s", png, out);
	ck_assert_msg(len > 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
	ck_assert_msg(memcmp(data + 12, "IHDR", 4) == 0, "no IHDR");
	ck_assert_uint_eq((unsigned)data[16] << 24 | (unsigned)data[17] << 16 |
			  (unsigned)data[18] << 8 | data[19], 1280);
	ck_assert_uint_eq((unsigned)data[20] << 24 | (unsigned)data[21] << 16 |
			  (unsigned)data[22] << 8 | data[23], 1800);
	/* a blank page of this size compresses to a few KiB; a drawn one is far larger */
	ck_assert_msg(len > 20000 && len < 8000000, "%zu bytes", len);
	fprintf(stderr, "screenshot: %s, %zu bytes\n", png, len);
	free(data);
	free(out);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "auto_agrees_with_metrics", auto_agrees_with_metrics, 0 },
		{ "html_page", html_page, 0 },
		{ "markup_escaped", markup_escaped, 0 },
		{ "backends_and_pools", backends_and_pools, 0 },
		{ "load_check", load_check, 0 },
		{ "screenshot", screenshot, 180 },
	};
	Suite *s = suite_create("e2e_status");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
