/* End-to-end suite for configuration files as Apache users write them: a Debian-style
 * layout (Include of the files in sites-enabled, Define, ${VAR} from the environment,
 * <IfModule>) loaded by the real binary, which then serves what the included files say. */
#include <check.h>
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
	write_file(sites, "010-other.conf", "<IfModule mod_ssl.c>\nSSLEngine on\n</IfModule>\n"
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
	write_file(sites, "020-bad.conf", "Timeout 3\nSSLEngine on\n");
	{
		char conf[600], *out = NULL;
		const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };
		char want[600];

		snprintf(conf, sizeof(conf), "%s/main.conf", dir);
		write_file(dir, "main.conf", "Listen 127.0.0.1:1\nDefine BACKEND_PORT 9\n"
			   "Include sites-enabled/*.conf\n");
		ck_assert_int_eq(e2e_run(argv, &out), 1);
		snprintf(want, sizeof(want), "%s/020-bad.conf:2: unknown directive \"SSLEngine\"",
			 sites);
		ck_assert_msg(strstr(out, want), "output: %s", out);
		free(out);
	}
}
END_TEST

static Suite *config_e2e_suite(void)
{
	Suite *s = suite_create("e2e_config");
	const struct ck_case cases[] = {
		{ "debian_layout", test_debian_layout, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(config_e2e_suite());
}
