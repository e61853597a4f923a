/* End-to-end suite for <Location> access rules: the real spliced in front of a recording
 * testbackend. A denied request is answered 403 by spliced and never reaches the backend,
 * whatever spelling its path has; a granted one does. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "suite.h"

/* The backend's record: every request head it received. */
static char *record(const struct e2e_proc *be)
{
	char *rec = e2e_read_file(be->record, NULL);

	ck_assert_msg(rec != NULL, "cannot read the backend record %s", be->record);
	return rec;
}

/* GET target on c (Host: h); the response status. */
static int get_on(struct e2e_client *c, const char *target, const char *host,
		  struct e2e_response *r)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host);

	e2e_roundtrip(c, req, (size_t)n, r, false);
	return r->status;
}

/* A request for target on a new connection must get 403 and leave no trace at the
 * backend (its record is unchanged). */
static void expect_denied(const struct e2e_proc *sp, const struct e2e_proc *be,
			  const char *target, const char *host)
{
	struct e2e_client c;
	struct e2e_response r;
	char *before = record(be), *after;
	int st;

	e2e_client_open(&c, sp->port);
	st = get_on(&c, target, host, &r);
	ck_assert_msg(st == 403, "%s (Host %s): expected 403, got %d:\n%s", target, host, st,
		      e2e_esc(r.head, r.head_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	after = record(be);
	ck_assert_msg(strcmp(before, after) == 0, "%s was denied but the backend received:\n%s",
		      target, e2e_escs(after + strlen(before)));
	free(before);
	free(after);
}

/* A request for target must reach the backend: 200, and its record gains "GET sent ". */
static void expect_granted(const struct e2e_proc *sp, const struct e2e_proc *be,
			   const char *target, const char *host, const char *sent)
{
	struct e2e_client c;
	struct e2e_response r;
	char line[512], *rec;
	int st;

	e2e_client_open(&c, sp->port);
	st = get_on(&c, target, host, &r);
	ck_assert_msg(st == 200, "%s (Host %s): expected 200, got %d:\n%s", target, host, st,
		      e2e_esc(r.head, r.head_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n", sent);
	rec = record(be);
	ck_assert_msg(strstr(rec, line), "%s was granted but the backend record lacks \"%s\":\n%s",
		      target, e2e_escs(line), e2e_escs(rec));
	free(rec);
}

static const char base_conf[] =
	"LogLevel info\n"
	"ProxyPass / http://127.0.0.1:%d/\n"
	"RewriteEngine On\n"
	"RewriteRule ^/door/(.*)$ /admin/$1\n"
	"<Location /admin>\n"
	"  Require all denied\n"
	"</Location>\n"
	"<Location \"/ops\">\n"
	"  Require ip 192.0.2.0/24 127.0.0.0/8 ::1\n"
	"</Location>\n"
	"<Location /ops/strict>\n"
	"  Require ip 192.0.2.1\n"
	"</Location>\n"
	"<Location /ops/not-me>\n"
	"  <RequireAll>\n"
	"    Require all granted\n"
	"    Require not ip 127.0.0.1\n"
	"  </RequireAll>\n"
	"</Location>\n"
	"<VirtualHost *:*>\n"
	"  ServerName vh.example\n"
	"  <Location /vhonly>\n"
	"    Require all denied\n"
	"  </Location>\n"
	"</VirtualHost>\n"
	"MetricsListen 127.0.0.1:%d\n";

START_TEST(test_spellings_denied)
{
	static const char *const denied[] = {
		"/admin", "/admin/", "/admin/x", "/admin?q=1", "/%61dmin", "/%61%64%6d%69%6e/x",
		"/x/../admin", "/./admin", "//admin", "/admin//x", "/admin;jsessionid=1",
		"/admin;x/y", "/admin%2Fsecret", "/x/%2e%2e/admin", "/x/%2E./admin",
		"http://anything/admin", "/door/x",
	};
	struct e2e_proc be, sp;
	int mport = e2e_free_port();

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, base_conf, be.port, mport);
	for (size_t i = 0; i < CK_N(denied); i++)
		expect_denied(&sp, &be, denied[i], "t");
	ck_assert_msg(e2e_log_wait_for(&sp, "client denied by server configuration: /admin", 5000),
		      "no info line for the denial: %s", e2e_diag());
	/* neighbours that are not /admin reach the backend */
	expect_granted(&sp, &be, "/administrator", "t", "/administrator");
	expect_granted(&sp, &be, "/public/admin", "t", "/public/admin");
	/* case-sensitive, as httpd and as the URL-path is */
	expect_granted(&sp, &be, "/ADMIN", "t", "/ADMIN");
	{
		struct e2e_client c;
		struct e2e_response r;
		char *text;

		e2e_client_open(&c, mport);
		ck_assert_int_eq(get_on(&c, "/metrics", "m", &r), 200);
		text = strndup((const char *)r.body, r.body_len);
		ck_assert_msg(strstr(text, "\nspliced_requests_denied_total 17\n"),
			      "metrics:\n%s", text);
		free(text);
		e2e_response_free(&r);
		e2e_client_close(&c);
	}
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

START_TEST(test_require_ip)
{
	struct e2e_proc be, sp;

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, base_conf, be.port, e2e_free_port());
	expect_granted(&sp, &be, "/ops/a", "t", "/ops/a");          /* 127.0.0.1 is in */
	expect_denied(&sp, &be, "/ops/strict/a", "t");                /* only 192.0.2.1 */
	expect_denied(&sp, &be, "/ops/%73trict", "t");
	expect_denied(&sp, &be, "/ops/not-me/a", "t");                /* Require not ip */
	expect_granted(&sp, &be, "/ops/strictly", "t", "/ops/strictly");
	/* the virtual host's own section applies to it only */
	expect_denied(&sp, &be, "/vhonly/x", "vh.example");
	expect_granted(&sp, &be, "/vhonly/x", "t", "/vhonly/x");
	/* ... and the main server's apply to it too */
	expect_denied(&sp, &be, "/admin/x", "vh.example");
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* A 403 ends the exchange, not the connection; ErrorDocument 403 makes its page. */
START_TEST(test_keepalive_errordoc)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char *rec;

	e2e_backend_start_recording(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "ErrorDocument 403 \"No entry here\"\n"
			   "<Location /admin>\nRequire all denied\n</Location>\n", be.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get_on(&c, "/admin/x", "t", &r), 403);
	ck_assert_msg(r.body_len == 13 && memcmp(r.body, "No entry here", 13) == 0,
		      "body: %s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	ck_assert_int_eq(get_on(&c, "/fine", "t", &r), 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
	rec = record(&be);
	ck_assert_msg(strncmp(rec, "GET /fine HTTP/1.1\r\n", 20) == 0 && !strstr(rec, "admin"),
		      "record:\n%s", e2e_escs(rec));
	free(rec);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* A configuration spliced cannot apply exactly is refused at start, naming the part. */
START_TEST(test_refused_at_load)
{
	const char *conf = e2e_write_temp("authz.conf", "Listen 127.0.0.1:8080\n"
					  "ProxyPass / http://127.0.0.1:9/\n"
					  "<LocationMatch ^/a>\nRequire all denied\n</LocationMatch>\n");
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };
	char *out = NULL;
	int code = e2e_run(argv, &out);

	ck_assert_msg(code != 0, "spliced -t accepted <LocationMatch>:\n%s", out);
	ck_assert_msg(out && strstr(out, "<LocationMatch>"), "output:\n%s", out ? out : "");
	free(out);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "spellings_denied", test_spellings_denied, 0 },
		{ "require_ip", test_require_ip, 0 },
		{ "keepalive_errordoc", test_keepalive_errordoc, 0 },
		{ "refused_at_load", test_refused_at_load, 0 },
	};
	Suite *s = suite_create("e2e_authz");

	ck_add_cases(s, cases, CK_N(cases), 60, NULL, NULL);
	return ck_run_suite(s);
}
