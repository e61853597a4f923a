/* End-to-end suite for Header and RequestHeader (mod_headers): the real spliced in front
 * of a recording testbackend and a directory of static files. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

static char root[64];

/* A DocumentRoot with index.html ("hello\n"). */
static void root_make(void)
{
	char p[128];
	int fd;

	snprintf(root, sizeof(root), "/tmp/spliced-hdr-XXXXXX");
	ck_assert_msg(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
	ck_assert(chmod(root, 0755) == 0);
	snprintf(p, sizeof(p), "%s/index.html", root);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0 && write(fd, "hello\n", 6) == 6 && fchmod(fd, 0644) == 0 &&
		      close(fd) == 0, "%s: %s", p, strerror(errno));
}

static void root_remove(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/index.html", root);
	unlink(p);
	rmdir(root);
}

static int get(int port, const char *target, const char *extra, struct e2e_response *r)
{
	struct e2e_client c;
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n%s\r\n", target,
			 extra ? extra : "");

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, (size_t)n, r, false);
	e2e_client_close(&c);
	return r->status;
}

#define HSTS "max-age=63072000; includeSubDomains"

static void start(struct e2e_proc *be, struct e2e_proc *sp, const char *rules)
{
	root_make();
	e2e_backend_start_recording(be, NULL);
	e2e_spliced_startf(sp, "ProxyPass /app/ http://127.0.0.1:%d/\nDocumentRoot \"%s\"\n%s",
			   be->port, root, rules);
}

static void stop(struct e2e_proc *be, struct e2e_proc *sp)
{
	ck_assert_int_eq(e2e_spliced_stop(sp), 0);
	e2e_backend_stop(be);
	root_remove();
}

/* HSTS with "always" on a proxied response, a static file and a page spliced makes. */
START_TEST(test_hsts)
{
	struct e2e_proc be, sp;
	struct e2e_response r;

	start(&be, &sp, "Header always set Strict-Transport-Security \"" HSTS "\"\n");
	ck_assert_int_eq(get(sp.port, "/app/x", NULL, &r), 200);
	ck_assert_str_eq(e2e_header(&r, "Strict-Transport-Security") ?: "(none)", HSTS);
	ck_assert_uint_eq(e2e_header_count(&r, "Strict-Transport-Security"), 1);
	e2e_response_free(&r);
	ck_assert_int_eq(get(sp.port, "/index.html", NULL, &r), 200);
	ck_assert_str_eq(e2e_header(&r, "Strict-Transport-Security") ?: "(none)", HSTS);
	ck_assert_msg(r.body_len == 6 && memcmp(r.body, "hello\n", 6) == 0, "body %s",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	ck_assert_int_eq(get(sp.port, "/missing", NULL, &r), 404);
	ck_assert_str_eq(e2e_header(&r, "Strict-Transport-Security") ?: "(none)", HSTS);
	e2e_response_free(&r);
	stop(&be, &sp);
}
END_TEST

/* "Header unset" removes the backend's Server and X-Powered-By; "Header always unset"
 * would not (httpd: it edits the other table), and onsuccess fields are not added to the
 * pages spliced makes for errors. */
START_TEST(test_unset_backend_fields)
{
	struct e2e_proc be, sp;
	struct e2e_response r;

	start(&be, &sp, "Header unset Server\nHeader unset X-Powered-By\n"
	      "Header always unset X-Kept\nHeader set X-Success yes\n"
	      "Header set Cache-Control \"public, max-age=3600\"\n");
	ck_assert_int_eq(get(sp.port, "/app/?field=Server:%20Apache/2.4.1", NULL, &r), 200);
	ck_assert_ptr_null(e2e_header(&r, "Server"));
	ck_assert_str_eq(e2e_header(&r, "X-Success") ?: "(none)", "yes");
	e2e_response_free(&r);
	ck_assert_int_eq(get(sp.port, "/app/?field=X-Powered-By:%20PHP/8.2", NULL, &r), 200);
	ck_assert_ptr_null(e2e_header(&r, "X-Powered-By"));
	e2e_response_free(&r);
	ck_assert_int_eq(get(sp.port, "/app/?field=X-Kept:%201", NULL, &r), 200);
	ck_assert_str_eq(e2e_header(&r, "X-Kept") ?: "(none)", "1");
	e2e_response_free(&r);
	/* a backend's 404 is its response: onsuccess applies */
	ck_assert_int_eq(get(sp.port, "/app/?status=404", NULL, &r), 404);
	ck_assert_str_eq(e2e_header(&r, "X-Success") ?: "(none)", "yes");
	e2e_response_free(&r);
	/* a static file: Cache-Control set */
	ck_assert_int_eq(get(sp.port, "/index.html", NULL, &r), 200);
	ck_assert_str_eq(e2e_header(&r, "Cache-Control") ?: "(none)", "public, max-age=3600");
	e2e_response_free(&r);
	/* spliced's own 404: not a success, no onsuccess field */
	ck_assert_int_eq(get(sp.port, "/missing", NULL, &r), 404);
	ck_assert_ptr_null(e2e_header(&r, "X-Success"));
	e2e_response_free(&r);
	stop(&be, &sp);
}
END_TEST

/* RequestHeader set reaches the backend; unset removes the client's field. */
START_TEST(test_request_header)
{
	struct e2e_proc be, sp;
	struct e2e_response r;
	char *rec;

	start(&be, &sp, "RequestHeader set X-Env production\nRequestHeader unset Cookie\n"
	      "RequestHeader append X-List b\n"
	      "<Location /app/special>\n  RequestHeader set X-Where special\n</Location>\n");
	ck_assert_int_eq(get(sp.port, "/app/one", "Cookie: session=secret\r\nX-List: a\r\n"
			     "X-Env: spoofed\r\n", &r), 200);
	e2e_response_free(&r);
	ck_assert_int_eq(get(sp.port, "/app/special/two", NULL, &r), 200);
	e2e_response_free(&r);
	rec = e2e_read_file(be.record, NULL);
	ck_assert_ptr_nonnull(rec);
	{
		char *second = strstr(rec, "GET /special/two");
		size_t first_len = second ? (size_t)(second - rec) : strlen(rec);

		ck_assert_msg(second != NULL, "record:\n%s", e2e_escs(rec));
		ck_assert_msg(
			      e2e_head_field_count(rec, first_len, "X-Env") == 1 &&
			      memmem(rec, first_len, "X-Env: production\r\n", 19),
			      "first request:\n%s", e2e_esc(rec, first_len));
		ck_assert_msg(!memmem(rec, first_len, "secret", 6), "the Cookie reached the "
			      "backend:\n%s", e2e_esc(rec, first_len));
		ck_assert_msg(memmem(rec, first_len, "X-List: a, b\r\n", 14), "append:\n%s",
			      e2e_esc(rec, first_len));
		ck_assert_msg(!memmem(rec, first_len, "X-Where", 7), "Location rule outside it:\n%s",
			      e2e_esc(rec, first_len));
		ck_assert_msg(strstr(second, "X-Where: special\r\n") && strstr(second, "X-List: b\r\n"),
			      "second request:\n%s", e2e_escs(second));
	}
	free(rec);
	stop(&be, &sp);
}
END_TEST

START_TEST(test_refused_at_load)
{
	const char *conf = e2e_write_temp("hdr.conf", "Listen 127.0.0.1:8080\n"
					  "ProxyPass / http://127.0.0.1:9/\n"
					  "Header set Content-Length 0\n");
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };
	char *out = NULL;

	ck_assert_msg(e2e_run(argv, &out) != 0, "accepted:\n%s", out);
	ck_assert_msg(out && strstr(out, "Content-Length"), "output:\n%s", out ? out : "");
	free(out);
	conf = e2e_write_temp("hdr2.conf", "Listen 127.0.0.1:8080\n"
			      "ProxyPass / http://127.0.0.1:9/\n"
			      "RequestHeader set X-Client \"%{REMOTE_ADDR}e\"\n");
	argv[3] = conf;
	ck_assert_msg(e2e_run(argv, &out) != 0, "accepted:\n%s", out);
	ck_assert_msg(out && strstr(out, "%{REMOTE_ADDR}e"), "output:\n%s", out ? out : "");
	free(out);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "hsts", test_hsts, 0 },
		{ "unset_backend_fields", test_unset_backend_fields, 0 },
		{ "request_header", test_request_header, 0 },
		{ "refused_at_load", test_refused_at_load, 0 },
	};
	Suite *s = suite_create("e2e_headers");

	ck_add_cases(s, cases, CK_N(cases), 60, NULL, NULL);
	return ck_run_suite(s);
}
