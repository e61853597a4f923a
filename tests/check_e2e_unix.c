/* End-to-end suite for Unix-domain socket backends ("ProxyPass / unix:/PATH|http://HOST/",
 * httpd's syntax): the real spliced binary in front of the real tools/testbackend
 * listening on a socket file (-u PATH), a raw client on loopback.
 *
 * Started as root (as CI does), spliced serves as nobody: the socket files the tests
 * create are made connectable by everyone, except where a test checks what happens when
 * they are not. Needs SPLICED_BIN and TESTBACKEND_BIN. Every wait is bounded; nothing
 * here measures speed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define MIB10 (10u * 1024u * 1024u)
#define NOBODY_UID  65534
#define NOGROUP_GID 65534

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; response head:\n%s%s", \
		      (want), (r)->status, e2e_escs((r)->head), e2e_diag())

static bool is_root(void)
{
	return geteuid() == 0;
}

/* SIGTERM spliced, which must exit 0. */
static void stop_spliced_ok(struct e2e_proc *sp)
{
	int code = e2e_spliced_stop(sp);

	if (code != 0) {
		char *rep = e2e_spliced_report(sp);

		ck_abort_msg("spliced exited with %d after SIGTERM (expected 0)\n%s", code, rep);
	}
}

static void get(struct e2e_client *c, const char *target, struct e2e_response *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: front.example\r\n\r\n",
			 target);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

static void ck_log_has(const struct e2e_proc *sp, const char *needle)
{
	if (!e2e_log_wait_for(sp, needle, 5000)) {
		char *log = e2e_spliced_log(sp);

		ck_abort_msg("the error log has no \"%s\":\n%s", needle, log);
	}
}

/* A testbackend on DIR/app.sock (the path in *path), connectable by everyone. */
static void backend_unix(struct e2e_proc *be, char *path, size_t len, const char *extra)
{
	char args[600];

	snprintf(path, len, "%s/app.sock", e2e_temp_dir());
	snprintf(args, sizeof(args), "-u %s %s", path, extra ? extra : "");
	e2e_backend_start(be, args);
	ck_assert_msg(chmod(path, 0666) == 0, "chmod %s: %s", path, strerror(errno));
}

/* ---- requests ----------------------------------------------------------------------- */

/* Requests over one client connection, over several, and through a [P] rule all reach the
 * backend over one pooled connection; the Host sent is the URL's. */
START_TEST(test_requests_pooled)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char path[400];

	backend_unix(&be, path, sizeof(path), NULL);
	e2e_spliced_startf(&sp, "ProxyPass /app/ unix:%s|http://localhost/\n"
			   "RewriteEngine On\n"
			   "RewriteRule ^/r/(.*) unix:%s|http://localhost/$1 [P]\n", path, path);
	e2e_client_open(&c, sp.port);
	get(&c, "/app/echo", &r);
	ck_status(&r, 200);
	ck_assert_msg(e2e_head_has_line(r.body, r.body_len, "GET /echo HTTP/1.1") &&
		      e2e_head_has_line(r.body, r.body_len, "Host: localhost") &&
		      e2e_head_has_line(r.body, r.body_len, "X-Forwarded-Host: front.example"),
		      "the backend received:\n%s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	for (int i = 0; i < 3; i++) {
		get(&c, "/app/x?len=1000", &r);
		ck_status(&r, 200);
		ck_assert_uint_eq(r.body_len, 1000);
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	for (int i = 0; i < 3; i++) {
		e2e_client_open(&c, sp.port);
		get(&c, i == 2 ? "/r/x?len=10" : "/app/x?len=10", &r);
		ck_status(&r, 200);
		ck_assert_uint_eq(r.body_len, 10);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	e2e_client_open(&c, sp.port);
	get(&c, "/app/stats", &r);
	ck_status(&r, 200);
	ck_assert_msg(strncmp((const char *)r.body, "conns=1 requests=8 ", 19) == 0,
		      "eight requests should have shared one backend connection; /stats: %s",
		      e2e_escs((const char *)r.body));
	e2e_response_free(&r);
	e2e_client_close(&c);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* 10 MiB each way go through splice(2) on the Unix socket as on TCP. */
START_TEST(test_large_bodies_spliced)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	unsigned long long spliced = 0;
	unsigned char *body = malloc(MIB10);
	char path[400], head[256], len[32], *log;
	int hl, rc;

	ck_assert(body != NULL);
	e2e_random_fill(body, MIB10, 7);
	backend_unix(&be, path, sizeof(path), NULL);
	e2e_spliced_startf(&sp, "ProxyPass / unix:%s|http://localhost/\n", path);
	e2e_client_open(&c, sp.port);
	hl = snprintf(head, sizeof(head), "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %u"
		      "\r\n\r\n", MIB10);
	ck_assert_int_eq(e2e_send(&c, head, (size_t)hl), 0);
	rc = e2e_send(&c, body, MIB10);
	ck_assert_msg(rc == 0, "sending the body: %s %s", strerror(-rc), e2e_diag());
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "POST: %s", r.err);
	ck_status(&r, 200);
	snprintf(len, sizeof(len), "%u", MIB10);
	ck_assert_str_eq(e2e_header(&r, "X-Body-Len"), len);
	ck_assert_str_eq(e2e_header(&r, "X-Body-Fnv"), e2e_hex64(e2e_fnv1a64(body, MIB10)));
	e2e_response_free(&r);
	get(&c, "/?len=10485760", &r);
	ck_status(&r, 200);
	ck_assert_uint_eq(r.body_len, MIB10);
	ck_assert_msg(e2e_pattern_mismatch(r.body, r.body_len) < 0, "the download differs");
	e2e_response_free(&r);
	e2e_client_close(&c);
	free(body);
	stop_spliced_ok(&sp);
	log = e2e_spliced_log(&sp);
	ck_assert_msg(e2e_stats_get(log, "spliced_bytes", &spliced) && spliced >= 20000000,
		      "10 MiB up + 10 MiB down should go through splice: spliced_bytes=%llu; "
		      "log:\n%s", spliced, log);
	free(log);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- failures ----------------------------------------------------------------------- */

/* No socket file: 502, and the log names the socket. */
START_TEST(test_missing_socket)
{
	struct e2e_proc sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char needle[600];

	e2e_spliced_startf(&sp, "ProxyPass / unix:%s/none.sock|http://localhost/\n",
			   e2e_temp_dir());
	e2e_client_open(&c, sp.port);
	get(&c, "/x", &r);
	ck_status(&r, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "backend unix:%s/none.sock|http://localhost: connect: "
		 "No such file or directory", e2e_temp_dir());
	ck_log_has(&sp, needle);
	stop_spliced_ok(&sp);
}
END_TEST

/* A socket the serving user (nobody) may not connect to: 502, and the log says why. */
START_TEST(test_socket_permission)
{
	struct e2e_proc be = { 0 }, sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char path[400], needle[600];

	if (!is_root()) {
		fprintf(stderr, "SKIP socket_permission: needs root (spliced serves as nobody)\n");
		return;
	}
	backend_unix(&be, path, sizeof(path), NULL);
	ck_assert_int_eq(chmod(path, 0700), 0);
	e2e_spliced_startf(&sp, "ProxyPass / unix:%s|http://localhost/\n", path);
	e2e_client_open(&c, sp.port);
	get(&c, "/x", &r);
	ck_status(&r, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(needle, sizeof(needle), "backend unix:%s|http://localhost: connect: Permission "
		 "denied (the socket must be writable by the serving User)", path);
	ck_log_has(&sp, needle);
	stop_spliced_ok(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* spliced -t refuses the malformed forms, naming the line. */
START_TEST(test_config_errors)
{
	static const struct {
		const char *url;
		const char *msg;
	} bad[] = {
		{ "unix:run/app.sock|http://localhost/", "must be absolute" },
		{ "unix:/run/app.sock", "a Unix socket backend is written unix:/PATH|http://HOST/" },
		{ "unix:/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock|http://localhost/",
		  "is longer than 107 bytes" },
	};
	const char *bin = e2e_env_bin("SPLICED_BIN");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[600], *out = NULL;
		const char *conf;
		int code;

		snprintf(text, sizeof(text), "Listen 127.0.0.1:1\nProxyPass / %s\n", bad[i].url);
		conf = e2e_write_temp("bad.conf", text);
		{
			const char *const argv[] = { bin, "-t", "-c", conf, NULL };

			code = e2e_run(argv, &out);
		}
		ck_assert_msg(code == 1 && strstr(out, ":2: ProxyPass: ") && strstr(out, bad[i].msg),
			      "spliced -t with ProxyPass / %s: exit %d, output:\n%s", bad[i].url,
			      code, out);
		free(out);
	}
}
END_TEST

/* ---- autostart ---------------------------------------------------------------------- */

static unsigned count_starts(const char *path)
{
	char *text = e2e_read_file(path, NULL);
	unsigned n = 0;

	for (const char *p = text; p && (p = strstr(p, "start ")) != NULL; p += 6)
		if (p == text || p[-1] == '\n')
			n++;
	free(text);
	return n;
}

/* The first request finds no socket file: it waits while the helper starts the backend
 * (which binds, then listens only 300 ms later: refused meanwhile) and gets its answer;
 * the next requests reuse the running backend. */
START_TEST(test_autostart)
{
	struct e2e_proc sp = { 0 };
	struct e2e_client c;
	struct e2e_response r;
	char dir[400], path[450], starts[450];
	const char *bin = e2e_backend_bin_for_others(); /* run as nobody */

	snprintf(dir, sizeof(dir), "%s/run", e2e_temp_dir());
	ck_assert(mkdir(dir, 0777) == 0 && chmod(dir, 0777) == 0);   /* the backend (nobody) writes */
	snprintf(path, sizeof(path), "%s/app.sock", dir);
	snprintf(starts, sizeof(starts), "%s/starts", dir);
	e2e_spliced_startf(&sp, "ProxyPass / unix:%s|http://localhost/\n"
			   "ProxyAutostart unix:%s|http://localhost -- %s -u %s -d 300 -s %s\n",
			   path, path, bin, path, starts);
	ck_assert_uint_eq(count_starts(starts), 0);
	e2e_client_open(&c, sp.port);
	c.timeout_ms = 20000;
	get(&c, "/x?len=100", &r);
	ck_status(&r, 200);
	ck_assert_uint_eq(r.body_len, 100);
	e2e_response_free(&r);
	get(&c, "/x?len=10", &r);
	ck_status(&r, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_uint_eq(count_starts(starts), 1);
	ck_log_has(&sp, "autostart: started backend unix:");
	stop_spliced_ok(&sp);
}
END_TEST

static Suite *unix_suite(void)
{
	Suite *s = suite_create("e2e_unix");
	const struct ck_case cases[] = {
		{ "requests_pooled", test_requests_pooled, 0 },
		{ "large_bodies_spliced", test_large_bodies_spliced, 0 },
		{ "missing_socket", test_missing_socket, 0 },
		{ "socket_permission", test_socket_permission, 0 },
		{ "config_errors", test_config_errors, 0 },
		{ "autostart", test_autostart, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(unix_suite());
}
