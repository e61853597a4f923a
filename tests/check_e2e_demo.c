/* End-to-end suite for the demo that `make run` serves: the real spliced binary serving
 * demo/site and starting the real CherryPy application demo/app.py (ProxyAutostart) on
 * its first request, on free loopback ports. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

#define DEMO SPLICED_DATADIR "/demo"

static void get(struct e2e_client *c, const char *target, struct e2e_response *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: demo\r\n\r\n", target);

	e2e_roundtrip(c, req, (size_t)n, r, false);
}

/* Debian's python3-cherrypy3 loads in /usr/bin/python3 (`make deps` installs it). */
static bool have_cherrypy(void)
{
	const char *const argv[] = { "/usr/bin/python3", "-c", "import cherrypy", NULL };
	char *out = NULL;
	int rc = access("/usr/bin/python3", X_OK) == 0 ? e2e_run(argv, &out) : 127;

	free(out);
	return rc == 0;
}

START_TEST(test_demo)
{
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	int port = e2e_free_port();
	char *index;
	size_t ilen;
	const char *p;
	int pid = 0;

	if (!have_cherrypy()) {
		fprintf(stderr, "SKIP demo: /usr/bin/python3 cannot import cherrypy "
			"(python3-cherrypy3; `make deps` installs it)\n");
		return;
	}
	index = e2e_read_file(DEMO "/site/index.html", &ilen);
	ck_assert_msg(index != NULL, "%s/site/index.html is missing", DEMO);
	e2e_spliced_startf(&sp, "DocumentRoot \"%s/site\"\n"
			   "ProxyPass /app/ http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d \"Dir=%s\" -- /usr/bin/python3 "
			   "\"%s/app.py\" --port %d\n", DEMO, port, port, DEMO, DEMO, port);
	e2e_client_open(&c, sp.port);

	/* the site: the file's bytes */
	get(&c, "/", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, ilen);
	ck_assert(memcmp(r.body, index, ilen) == 0);
	ck_assert_str_eq(e2e_header(&r, "Content-Type"), "text/html");
	e2e_response_free(&r);

	/* the application is not running: this request starts it and gets its answer */
	get(&c, "/app/", &r);
	ck_assert_msg(r.status == 200, "status %d, body %s\n%s", r.status, e2e_escs((char *)r.body),
		      e2e_diag());
	ck_assert_msg(strstr((char *)r.body, "Hello from the demo backend (CherryPy") != NULL,
		      "body %s", e2e_escs((char *)r.body));
	p = strstr((char *)r.body, "(pid ");
	ck_assert(p != NULL);
	pid = atoi(p + 5);
	ck_assert_int_gt(pid, 1);
	e2e_response_free(&r);
	/* started by the helper: its own session, not ours or spliced's */
	ck_assert_int_eq(getsid(pid), pid);
	ck_assert(e2e_log_wait_for(&sp, "autostart: started backend", 1000));

	/* what the application saw: the forwarded request */
	get(&c, "/app/echo?hello=world", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr((char *)r.body, "param hello=world") != NULL, "%s", r.body);
	ck_assert_msg(strstr((char *)r.body, "X-Forwarded-For: 127.0.0.1") != NULL, "%s", r.body);
	ck_assert_msg(strstr((char *)r.body, "X-Forwarded-Host: demo") != NULL, "%s", r.body);
	e2e_response_free(&r);
	e2e_client_close(&c);

	/* stopping spliced stops the application */
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
		e2e_sleep_ms(20);
	ck_assert_msg(kill(pid, 0) < 0 && errno == ESRCH, "the demo application (pid %d) "
		      "outlived spliced", pid);
	free(index);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_demo");
	TCase *tc = tcase_create("demo");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_demo);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
