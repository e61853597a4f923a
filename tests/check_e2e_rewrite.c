/* End-to-end suite for mod_rewrite rules through the real spliced binary and the real
 * tools/testbackend: the issue's deployment configuration as written, escaping exactly
 * once, redirects, statuses, virtual hosts and error documents. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

static char files_dir[256];

/* A world-readable tree with static/a.txt, for spliced running as nobody. */
static void make_files(void)
{
	char path[400];
	FILE *f;

	snprintf(files_dir, sizeof(files_dir), "/tmp/spliced-rw-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(files_dir));
	chmod(files_dir, 0755);
	snprintf(path, sizeof(path), "%s/static", files_dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/static/a.txt", files_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("static file a\n", f);
	fclose(f);
	chmod(path, 0644);
}

static void rm_files(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", files_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void req(struct e2e_client *c, const char *target, const char *host,
		struct e2e_response *r)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host);

	e2e_roundtrip(c, buf, (size_t)n, r, false);
}

#define ck_status(r, want) \
	ck_assert_msg((r)->status == (want), "expected status %d, got %d; head:\n%s", (want), \
		      (r)->status, e2e_escs((r)->head))

/* The backend's echo starts with this request line. */
#define ck_line(r, line) \
	ck_assert_msg(e2e_head_has_line((r)->body, (r)->body_len, (line)), \
		      "the backend did not receive \"%s\"; it received:\n%s", e2e_escs(line), \
		      e2e_esc((r)->body, (r)->body_len))

/* The configuration from issue 3, with the backend and the file tree of this test. */
static void start_issue_config(struct e2e_proc *be, struct e2e_proc *sp)
{
	e2e_backend_start(be, NULL);
	e2e_spliced_startf(sp,
			   "RewriteEngine on\n"
			   "RewriteMap escape int:escape\n"
			   "RewriteCond %%{SCRIPT_FILENAME} !autostart\\.cgi$\n"
			   "RewriteCond %%{HTTP_HOST} www\\.example\\.info\n"
			   "RewriteRule ^/static/(.*) %s/static/$1 [last]\n"
			   "RewriteRule ^(.*)$ http://localhost:%d/${escape:$1} [proxy]\n"
			   "ErrorDocument 502 /cgi-bin/autostart.cgi\n",
			   files_dir, be->port);
}

START_TEST(test_issue_config_static)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	make_files();
	start_issue_config(&be, &sp);
	e2e_client_open(&c, sp.port);
	req(&c, "/static/a.txt", "www.example.info", &r);
	ck_status(&r, 200);
	ck_assert_uint_eq(r.body_len, 14);
	ck_assert_int_eq(memcmp(r.body, "static file a\n", 14), 0);
	e2e_response_free(&r);
	/* The Host condition fails: the next rule proxies it instead. */
	req(&c, "/static/a.txt", "other.example", &r);
	ck_status(&r, 200);
	ck_line(&r, "GET /static/a.txt HTTP/1.1");
	e2e_response_free(&r);
	/* A file path that leaves its root never reaches outside it. */
	req(&c, "/static/%2e%2e/%2e%2e/etc/passwd", "www.example.info", &r);
	ck_assert_msg(r.status == 400 || r.status == 403 || r.status == 404, "status %d", r.status);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
	rm_files();
}
END_TEST

START_TEST(test_issue_config_escaping)
{
	static const struct {
		const char *sent, *line;
	} cases[] = {
		{ "/a%20b/c", "GET /a%20b/c HTTP/1.1" },        /* never %2520 */
		{ "/a%20b/c?x=%20y&z", "GET /a%20b/c?x=%20y&z HTTP/1.1" }, /* query byte for byte */
		{ "/q%3Fx", "GET /q%3Fx HTTP/1.1" },            /* %3F never becomes a query */
		{ "/a%2Fb", "GET /a%2Fb HTTP/1.1" },            /* %2F stays %2F */
		{ "/%7euser/", "GET /~user/ HTTP/1.1" },         /* unreserved: either form is the same */
		{ "/plain", "GET /plain HTTP/1.1" },
	};
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;

	make_files();
	start_issue_config(&be, &sp);
	e2e_client_open(&c, sp.port);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req(&c, cases[i].sent, "www.example.info", &r);
		ck_status(&r, 200);
		ck_line(&r, cases[i].line);
		e2e_response_free(&r);
	}
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
	rm_files();
}
END_TEST

START_TEST(test_redirect_status_errordoc)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	const char *loc;

	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp,
			   "ProxyPass / http://127.0.0.1:%d/\n"
			   "RewriteEngine on\n"
			   "RewriteRule ^/old/(.*)$ /new/$1 [R=301,L]\n"
			   "RewriteRule ^/away$ http://elsewhere.example/x\\%%20y [R,NE,L]\n"
			   "RewriteRule ^/secret - [F]\n"
			   "RewriteRule ^/gone - [G]\n"
			   "RewriteRule ^/inside/(.*)$ /moved/$1 [PT]\n"
			   "ErrorDocument 403 \"No entry here\"\n",
			   be.port);
	e2e_client_open(&c, sp.port);
	req(&c, "/old/a%20b?q=1", "h", &r);
	ck_status(&r, 301);
	loc = e2e_header(&r, "Location");
	ck_assert_msg(loc && strcmp(loc, "/new/a%20b?q=1") == 0, "Location %s", loc ? loc : "-");
	e2e_response_free(&r);
	req(&c, "/away", "h", &r);
	ck_status(&r, 302);
	loc = e2e_header(&r, "Location");
	ck_assert_msg(loc && strcmp(loc, "http://elsewhere.example/x%20y") == 0, "Location %s",
		      loc ? loc : "-");
	e2e_response_free(&r);
	e2e_client_close(&c);

	e2e_client_open(&c, sp.port);
	req(&c, "/secret", "h", &r);
	ck_status(&r, 403);
	ck_assert_msg(r.body_len == 13 && memcmp(r.body, "No entry here", 13) == 0,
		      "ErrorDocument text expected, got %s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	e2e_client_open(&c, sp.port);
	req(&c, "/gone", "h", &r);
	ck_status(&r, 410);
	e2e_response_free(&r);
	e2e_client_close(&c);
	e2e_client_open(&c, sp.port);
	req(&c, "/inside/x", "h", &r);
	ck_status(&r, 200);
	ck_line(&r, "GET /moved/x HTTP/1.1");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

START_TEST(test_virtual_hosts)
{
	struct e2e_proc a, b, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&a, NULL);
	e2e_backend_start(&b, NULL);
	e2e_spliced_startf(&sp,
			   "ProxyPass / http://127.0.0.1:%d/\n"
			   "RewriteEngine on\n"
			   "RewriteRule ^/main$ /main-rewritten [PT]\n"
			   "<VirtualHost *>\n"
			   "  ServerName api.example\n"
			   "  ServerAlias *.api.example\n"
			   "  RewriteEngine on\n"
			   "  RewriteOptions Inherit\n"
			   "  RewriteRule ^/v1/(.*)$ http://127.0.0.1:%d/internal/$1 [P]\n"
			   "</VirtualHost>\n",
			   a.port, b.port);
	e2e_client_open(&c, sp.port);
	req(&c, "/v1/users", "API.example:8080", &r);
	ck_status(&r, 200);
	ck_line(&r, "GET /internal/users HTTP/1.1");
	e2e_response_free(&r);
	req(&c, "/v1/users", "x.api.example", &r);
	ck_status(&r, 200);
	ck_line(&r, "GET /internal/users HTTP/1.1");
	e2e_response_free(&r);
	/* Another host: the main server's rules and ProxyPass. */
	req(&c, "/v1/users", "www.example", &r);
	ck_status(&r, 200);
	ck_line(&r, "GET /v1/users HTTP/1.1");
	e2e_response_free(&r);
	/* Inherited main-server rule inside the virtual host. */
	req(&c, "/main", "api.example", &r);
	ck_status(&r, 200);
	ck_line(&r, "GET /main-rewritten HTTP/1.1");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST

START_TEST(test_bad_rule_reported)
{
	const char *conf = e2e_write_temp("bad.conf",
					  "Listen 127.0.0.1:1\n"
					  "RewriteEngine on\n"
					  "RewriteRule ^(unclosed http://127.0.0.1:1/ [P]\n");
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };
	char *out = NULL;
	int code = e2e_run(argv, &out);

	ck_assert_int_eq(code, 1);
	ck_assert_msg(out && strstr(out, "bad.conf:3") && strstr(out, "offset"),
		      "expected file:line and the PCRE2 offset, got: %s", out ? out : "");
	free(out);
}
END_TEST

START_TEST(test_errordoc_local)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char path[400];
	FILE *f;

	make_files();
	snprintf(path, sizeof(path), "%s/static/502.html", files_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("<p>starting up, retry soon</p>\n", f);
	fclose(f);
	chmod(path, 0644);
	e2e_spliced_startf(&sp, "ProxyPass /static/ !\nProxyPass / http://127.0.0.1:%d/\n"
			   "Alias /static/ %s/static/\nErrorDocument 502 /static/502.html\n"
			   "ErrorDocument 504 /static/missing.html\n",
			   e2e_dead_port(), files_dir);
	e2e_client_open(&c, sp.port);
	req(&c, "/app", "h", &r);
	ck_status(&r, 502);
	ck_assert_msg(r.body_len == 31 && memcmp(r.body, "<p>starting up, retry soon</p>\n", 31) == 0,
		      "the ErrorDocument file expected, got %s", e2e_esc(r.body, r.body_len));
	ck_assert_msg(strstr(e2e_header(&r, "Content-Type") ?: "", "text/html") != NULL,
		      "Content-Type of the file expected");
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	rm_files();
}
END_TEST

/* "Alias /static DIR" (no trailing slash) serves below it, and a local ErrorDocument is
 * sent for a file 404 on a keep-alive connection, which then serves the next request. */
START_TEST(test_alias_noslash_errdoc_keepalive)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char path[400];
	FILE *f;

	make_files();
	snprintf(path, sizeof(path), "%s/static/404.html", files_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("<p>not here</p>\n", f);
	fclose(f);
	chmod(path, 0644);
	e2e_spliced_startf(&sp, "Alias /static %s/static\nErrorDocument 404 /static/404.html\n",
			   files_dir);
	e2e_client_open(&c, sp.port);
	req(&c, "/static/a.txt", "h", &r);
	ck_status(&r, 200);
	ck_assert_uint_eq(r.body_len, 14);
	e2e_response_free(&r);
	req(&c, "/static/missing.txt", "h", &r);
	ck_status(&r, 404);
	ck_assert_msg(r.body_len == 16 && memcmp(r.body, "<p>not here</p>\n", 16) == 0,
		      "the local ErrorDocument expected, got %s", e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	req(&c, "/static/a.txt", "h", &r);   /* same connection: it was kept */
	ck_status(&r, 200);
	e2e_response_free(&r);
	req(&c, "/static", "h", &r);
	ck_status(&r, 301);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	rm_files();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_rewrite");
	const struct ck_case cases[] = {
		{ "issue_config_static", test_issue_config_static, 0 },
		{ "issue_config_escaping", test_issue_config_escaping, 0 },
		{ "redirect_status_errordoc", test_redirect_status_errordoc, 0 },
		{ "virtual_hosts", test_virtual_hosts, 0 },
		{ "bad_rule_reported", test_bad_rule_reported, 0 },
		{ "errordoc_local", test_errordoc_local, 0 },
		{ "alias_noslash_errdoc_keepalive", test_alias_noslash_errdoc_keepalive, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 60, NULL, NULL);
	return ck_run_suite(s);
}
