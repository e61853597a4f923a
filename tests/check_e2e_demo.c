/* End-to-end suite for the demo that `make run` serves: the real spliced binary serving
 * demo/site and starting the real CherryPy application demo/app.py (ProxyAutostart) on
 * its first request, on free loopback ports. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define TREE SPLICED_DATADIR "/demo"

/* Others (the backend runs as nobody) can reach path: every directory above it
 * searchable and the file readable by others. */
static bool others_reach(const char *path)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s", path);
	if (stat(p, &st) < 0 || !(st.st_mode & S_IROTH))
		return false;
	for (char *slash = strrchr(p, '/'); slash && slash != p; slash = strrchr(p, '/')) {
		*slash = '\0';
		if (stat(p, &st) < 0 || !(st.st_mode & S_IXOTH))
			return false;
	}
	return true;
}

static void copy_to(const char *src, const char *dir, const char *name)
{
	char dst[1024];

	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	e2e_copy_file(src, dst, 0644);
}

/* The demo's directory: the tree's, or (when the tree sits where others cannot reach it,
 * a home directory say) a copy of it in the test's temporary directory. */
static const char *demo_dir(void)
{
	static char dir[512];

	if (others_reach(TREE "/app.py"))
		return TREE;
	snprintf(dir, sizeof(dir), "%s/demo", e2e_temp_dir());
	ck_assert(mkdir(dir, 0755) == 0 || errno == EEXIST);
	chmod(dir, 0755);
	copy_to(TREE "/app.py", dir, "app.py");
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/site");
	ck_assert(mkdir(dir, 0755) == 0 || errno == EEXIST);
	chmod(dir, 0755);
	copy_to(TREE "/site/index.html", dir, "index.html");
	copy_to(TREE "/site/style.css", dir, "style.css");
	dir[strlen(dir) - 5] = '\0';
	return dir;
}

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
	char *index, path[600];
	size_t ilen;
	const char *p, *demo;
	int pid = 0;

	if (!have_cherrypy()) {
		fprintf(stderr, "SKIP demo: /usr/bin/python3 cannot import cherrypy "
			"(python3-cherrypy3; `make deps` installs it)\n");
		return;
	}
	demo = demo_dir();
	snprintf(path, sizeof(path), "%s/site/index.html", demo);
	index = e2e_read_file(path, &ilen);
	ck_assert_msg(index != NULL, "%s is missing", path);
	e2e_spliced_startf(&sp, "DocumentRoot \"%s/site\"\n"
			   "ProxyPass /app/ http://127.0.0.1:%d/\n"
			   "ProxyPassReverse /app/ http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d \"Dir=%s\" -- /usr/bin/python3 "
			   "\"%s/app.py\" --port %d\n", demo, port, port, port, demo, demo, port);
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

	/* CherryPy's trailing-slash redirect names the application's own address; the client
	 * is sent to the same place under /app/ on spliced (ProxyPassReverse) */
	get(&c, "/app/sub", &r);
	ck_assert_msg(r.status == 301, "status %d, head %s", r.status, e2e_escs(r.head));
	ck_assert_msg(e2e_header(&r, "Location") &&
		      strcmp(e2e_header(&r, "Location"), "http://demo/app/sub/") == 0,
		      "Location: %s", e2e_escs(e2e_header(&r, "Location") ?
					       e2e_header(&r, "Location") : "(absent)"));
	e2e_response_free(&r);
	get(&c, "/app/sub/", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr((char *)r.body, "sub-section") != NULL, "%s", r.body);
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

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_demo);
	suite_add_tcase(s, tc);
	return ck_run_suite(s);
}
