/* End-to-end suite for configuration files as Apache users write them: a Debian-style
 * layout (Include of the files in sites-enabled, Define, ${VAR} from the environment,
 * <IfModule>) loaded by the real binary, which then serves what the included files say. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e.h"
#include "suite.h"

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_debian_layout)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char dir[400], sites[450], text[2048];

	e2e_backend_start(&be, NULL);
	snprintf(dir, sizeof(dir), "%s/etc", e2e_temp_dir());
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(sites, sizeof(sites), "%s/sites-enabled", dir);
	ck_assert_int_eq(mkdir(sites, 0755), 0);
	snprintf(text, sizeof(text), "ProxyPass /app/ http://127.0.0.1:${BACKEND_PORT}/\n");
	write_file(sites, "000-default.conf", text);
	write_file(sites, "010-other.conf", "<IfModule mod_http2.c>\nH2Direct on\n</IfModule>\n"
		   "<IfModule mod_rewrite.c>\nRewriteEngine On\nRewriteRule ^/old$ /app/new [PT]\n"
		   "</IfModule>\n");
	setenv("SPLICED_TEST_SITES", sites, 1);
	snprintf(text, sizeof(text), "Define BACKEND_PORT %d\nIncludeOptional ${SPLICED_TEST_SITES}/*.conf\n"
		 "IncludeOptional %s/conf-enabled/*.conf\n", be.port, dir);
	e2e_spliced_start(&sp, text);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, "GET /app/x HTTP/1.1\r\nHost: h\r\n\r\n", 32, &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert(e2e_head_has_line(r.body, r.body_len, "GET /x HTTP/1.1"));
	e2e_response_free(&r);
	e2e_roundtrip(&c, "GET /old HTTP/1.1\r\nHost: h\r\n\r\n", 31, &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(e2e_head_has_line(r.body, r.body_len, "GET /new HTTP/1.1"), "%s",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);

	/* an error in an included file: spliced -t names that file and line, and exits 1 */
	write_file(sites, "020-bad.conf", "Timeout 3\nH2Direct on\n");
	{
		char conf[600], *out = NULL;
		const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };
		char want[600];

		snprintf(conf, sizeof(conf), "%s/main.conf", dir);
		write_file(dir, "main.conf", "Listen 127.0.0.1:1\nDefine BACKEND_PORT 9\n"
			   "Include sites-enabled/*.conf\n");
		ck_assert_int_eq(e2e_run(argv, &out), 1);
		snprintf(want, sizeof(want), "%s/020-bad.conf:2: unknown directive \"H2Direct\"",
			 sites);
		ck_assert_msg(strstr(out, want), "output: %s", out);
		free(out);
	}
}
END_TEST

/* ---- spliced -t ---- */

/* spliced -t -c conf (or without -t when `test` is false), one stream only: stdout when
 * `want_stdout`, else stderr. Returns the exit code; *out is malloc'd. */
static int run_spliced(const char *conf, bool test, bool want_stdout, char **out)
{
	const char *script = want_stdout ? "exec \"$0\" \"$@\" 2>/dev/null"
					 : "exec \"$0\" \"$@\" 2>&1 >/dev/null";
	const char *argv[] = { "/bin/sh", "-c", script, e2e_env_bin("SPLICED_BIN"),
			       test ? "-t" : "-c", test ? "-c" : conf, test ? conf : NULL, NULL };

	return e2e_run(argv, out);
}

/* The number of lines of text. */
static unsigned count_lines(const char *text)
{
	unsigned n = 0;

	for (const char *p = text; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/* Several syntax errors, one of them in an Include'd file: all of them on stderr, each
 * with its file and line, exit 1; the normal start refuses the same file the same way. */
START_TEST(test_t_all_syntax_errors)
{
	char dir[400], conf[450], inc[450], want[600], *out = NULL;

	snprintf(dir, sizeof(dir), "%s", e2e_temp_dir());
	write_file(dir, "inc.conf", "KeepAliveTimeout 3\nKeepAliveTimeout soon\n");
	write_file(dir, "main.conf", "Listen 127.0.0.1:1\n"
		   "ProxyPass / http://127.0.0.1:9/\n"
		   "Timeout never\n"
		   "Include inc.conf\n"
		   "H2Direct on\n"
		   "ProxyPass /x\n");
	snprintf(conf, sizeof(conf), "%s/main.conf", dir);
	snprintf(inc, sizeof(inc), "%s/inc.conf", dir);
	ck_assert_int_eq(run_spliced(conf, true, false, &out), 1);
	ck_assert_msg(count_lines(out) == 4, "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:3: Timeout: \"never\" is not a number of seconds\n",
		 conf);
	ck_assert_msg(strstr(out, want) == out, "stderr: %s", out);   /* the first, first */
	snprintf(want, sizeof(want), "spliced: %s:2: KeepAliveTimeout: ", inc);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:5: unknown directive \"H2Direct\"\n", conf);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:6: ProxyPass: takes at least 2 arguments, "
		 "1 given\n", conf);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	free(out);
	ck_assert_int_eq(run_spliced(conf, true, true, &out), 1);
	ck_assert_msg(out[0] == '\0', "stdout: %s", out);             /* no "Syntax OK" */
	free(out);
	/* starting with it: the same errors, no start */
	ck_assert_int_eq(run_spliced(conf, false, false, &out), 1);
	ck_assert_msg(count_lines(out) == 4, "stderr: %s", out);
	free(out);
}
END_TEST

/* A file without syntax error that start-up would refuse: every missing thing is reported
 * with its directive, file and line; a rule's missing file root is only a warning. */
START_TEST(test_t_startup_checks)
{
	char dir[400], conf[450], text[2048], want[1400], *out = NULL;
	const char *t = e2e_temp_dir();

	snprintf(dir, sizeof(dir), "%s/etc", t);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(text, sizeof(text),
		 "Listen 127.0.0.1:1\n"
		 "DocumentRoot %s/no-www\n"
		 "Alias /static/ %s/etc/main.conf\n"
		 "ErrorLog %s/no-log/error.log\n"
		 "PidFile %s/no-run/spliced.pid\n"
		 "CustomLog %s/no-log/access.log common\n"
		 "TypesConfig %s/no-mime.types\n"
		 "User no-such-user-spliced\n"
		 "RewriteEngine On\n"
		 "RewriteRule ^/f/(.*)$ %s/no-files/$1\n"
		 "Listen 192.0.2.1:80\n",    /* TEST-NET-1: no host's address */
		 t, t, t, t, t, t, t);
	write_file(dir, "main.conf", text);
	snprintf(conf, sizeof(conf), "%s/main.conf", dir);
	ck_assert_int_eq(run_spliced(conf, true, false, &out), 1);
	snprintf(want, sizeof(want), "spliced: %s:2: DocumentRoot: %s/no-www: No such file or "
		 "directory\n", conf, t);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:3: Alias /static/: %s: Not a directory\n",
		 conf, conf);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:4: ErrorLog %s/no-log/error.log: directory "
		 "%s/no-log: No such file or directory\n", conf, t, t);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:5: PidFile %s/no-run/spliced.pid: directory ",
		 conf, t);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:6: CustomLog %s/no-log/access.log: ", conf, t);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:7: TypesConfig: ", conf);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:8: User no-such-user-spliced: no such user\n",
		 conf);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: warning: RewriteRule file root %s/no-files: No "
		 "such file or directory; its files will be 404\n", t);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	/* in the order of the lines, though Listen is looked at first; the warning last */
	snprintf(want, sizeof(want), "spliced: %s:11: Listen 192.0.2.1:80: the address is not "
		 "one of this host's (Cannot assign requested address)\nspliced: warning: ", conf);
	ck_assert_msg(strstr(out, want), "stderr: %s", out);
	snprintf(want, sizeof(want), "spliced: %s:2: DocumentRoot: ", conf);
	ck_assert_msg(strstr(out, want) == out, "stderr: %s", out);
	ck_assert_msg(count_lines(out) == 9, "stderr: %s", out);
	free(out);
	ck_assert_int_eq(run_spliced(conf, true, true, &out), 1);
	ck_assert_msg(out[0] == '\0', "stdout: %s", out);
	free(out);
}
END_TEST

/* A valid file: "Syntax OK" on stdout, exit 0, warnings on stderr; -t binds nothing, so
 * a port another process listens on (a running spliced) is fine. */
START_TEST(test_t_valid)
{
	char dir[400], conf[450], text[2048], want[600], *out = NULL;
	const char *t = e2e_temp_dir();
	struct e2e_proc be;

	e2e_backend_start(&be, NULL);   /* holds its port */
	snprintf(dir, sizeof(dir), "%s/www", t);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(text, sizeof(text),
		 "Listen 127.0.0.1:%d\n"
		 "DocumentRoot %s\n"
		 "Alias /static/ %s\n"
		 "ErrorLog %s/error.log\n"
		 "PidFile %s/spliced.pid\n"
		 "CustomLog %s/access.log common\n"
		 "User nobody\n"
		 "RewriteEngine On\n"
		 "RewriteRule ^/f/(.*)$ %s/later/$1\n",
		 be.port, dir, dir, t, t, t, t);
	write_file(t, "ok.conf", text);
	snprintf(conf, sizeof(conf), "%s/ok.conf", t);
	ck_assert_int_eq(run_spliced(conf, true, true, &out), 0);
	ck_assert_str_eq(out, "Syntax OK\n");
	free(out);
	ck_assert_int_eq(run_spliced(conf, true, false, &out), 0);
	snprintf(want, sizeof(want), "spliced: warning: RewriteRule file root %s/later: ", t);
	ck_assert_msg(strstr(out, want) == out && count_lines(out) == 1, "stderr: %s", out);
	free(out);
	e2e_backend_stop(&be);
}
END_TEST

static Suite *config_e2e_suite(void)
{
	Suite *s = suite_create("e2e_config");
	const struct ck_case cases[] = {
		{ "debian_layout", test_debian_layout, 0 },
		{ "t_all_syntax_errors", test_t_all_syntax_errors, 0 },
		{ "t_startup_checks", test_t_startup_checks, 0 },
		{ "t_valid", test_t_valid, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(config_e2e_suite());
}
