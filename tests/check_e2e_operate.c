/* End-to-end suite for operating spliced as a service, through the real binary: PidFile
 * written at start and removed (or emptied) at a clean stop, `spliced -k stop` stopping the
 * process it names and its exit codes, a running instance's PidFile never taken over, a
 * symbolic link at the PidFile path refused, `-k` errors, and
 * the sd_notify protocol (READY=1 once the port accepts, STATUS=, RELOADING=1 and READY=1
 * around a SIGHUP reload, STOPPING=1 on SIGTERM)
 * to a datagram socket of the test's, by path and in the abstract namespace. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

static char pid_path[400];

/* Runs spliced with args (after the binary) to completion; exit code, output in *out. */
static int run(const char *a1, const char *a2, const char *a3, const char *a4, char **out)
{
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), a1, a2, a3, a4, NULL };

	return e2e_run(argv, out);
}

static void start_with_pidfile(struct e2e_proc *p)
{
	snprintf(pid_path, sizeof(pid_path), "%s/spliced.pid", e2e_temp_dir());
	e2e_spliced_startf(p, "PidFile \"%s\"\nProxyPass / http://127.0.0.1:%d/\n", pid_path,
			   e2e_dead_port());
}

/* The PidFile holds the pid while it runs; -k stop ends it (exit 0, and the stopped
 * process exits 0); afterwards the file is gone or empty (the serving process, uid nobody
 * when started as root, may not unlink in a root directory: it empties it), and a second
 * -k stop says "not running", exit 3. */
START_TEST(test_pidfile_k_stop)
{
	struct e2e_proc p;
	char *text, *out = NULL, want[64];
	size_t len = 0;
	int code;

	start_with_pidfile(&p);
	text = e2e_read_file(pid_path, &len);
	ck_assert_msg(text != NULL, "no PidFile at %s", pid_path);
	snprintf(want, sizeof(want), "%d\n", (int)p.pid);
	ck_assert_str_eq(text, want);
	free(text);

	code = run("-k", "stop", "-c", p.conf, &out);
	snprintf(want, sizeof(want), "spliced: stopped (pid %d)", (int)p.pid);
	ck_assert_msg(code == 0 && strstr(out, want), "-k stop: %d, %s", code, out);
	free(out);
	ck_assert_msg(e2e_proc_wait(&p, 1000), "stopped but not reaped: %s", e2e_diag());
	ck_assert_int_eq(e2e_proc_exit_code(&p), 0);
	text = e2e_read_file(pid_path, &len);
	ck_assert_msg(text == NULL || len == 0, "PidFile left holding \"%s\"", text);
	free(text);

	code = run("-k", "stop", "-c", p.conf, &out);
	ck_assert_msg(code == 3 && strstr(out, "not running"), "second -k stop: %d, %s", code, out);
	free(out);
}
END_TEST

/* A second spliced (another port) with the same PidFile refuses to start: the running
 * one's file keeps its pid, and it keeps serving. */
START_TEST(test_pidfile_taken_refused)
{
	struct e2e_proc p;
	char *conf = NULL, *out = NULL, *text, want[200];
	int code;

	start_with_pidfile(&p);
	ck_assert(asprintf(&conf, "Listen 127.0.0.1:%d\nErrorLog \"%s/second.log\"\n"
			   "PidFile \"%s\"\nProxyPass / http://127.0.0.1:%d/\n", e2e_free_port(),
			   e2e_temp_dir(), pid_path, e2e_dead_port()) > 0);
	code = run("-c", e2e_write_temp("second.conf", conf), NULL, NULL, &out);
	snprintf(want, sizeof(want), "spliced (pid %d) is running with it", (int)p.pid);
	ck_assert_msg(code == 1 && strstr(out, want), "second spliced: %d, %s", code, out);
	free(out);
	free(conf);
	text = e2e_read_file(pid_path, NULL);
	snprintf(want, sizeof(want), "%d\n", (int)p.pid);
	ck_assert_str_eq(text, want);
	free(text);
	ck_assert(e2e_proc_running(&p));
	ck_assert_int_eq(e2e_spliced_stop(&p), 0);
}
END_TEST

/* A symbolic link at the PidFile path stops the start; its target is untouched. */
START_TEST(test_pidfile_symlink_refused)
{
	char *conf = NULL, *out = NULL, *text, link_path[400];
	const char *target = e2e_write_temp("target", "secret\n");
	int code;

	snprintf(link_path, sizeof(link_path), "%s/link.pid", e2e_temp_dir());
	ck_assert_int_eq(symlink(target, link_path), 0);
	ck_assert(asprintf(&conf, "Listen 127.0.0.1:%d\nErrorLog \"%s/sym.log\"\nPidFile \"%s\"\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", e2e_free_port(), e2e_temp_dir(),
			   link_path, e2e_dead_port()) > 0);
	code = run("-c", e2e_write_temp("sym.conf", conf), NULL, NULL, &out);
	ck_assert_msg(code == 1 && strstr(out, "is a symbolic link, not followed"), "%d, %s", code,
		      out);
	text = e2e_read_file(target, NULL);
	ck_assert_str_eq(text, "secret\n");
	free(text);
	free(out);
	free(conf);
}
END_TEST

/* -k reload and -k stop without a PidFile in the configuration, and an unknown action,
 * are errors (exit 1). (-k reload itself: check_e2e_reload.) */
START_TEST(test_k_errors)
{
	const char *conf = e2e_write_temp("plain.conf", "Listen 127.0.0.1:1\n"
					  "ProxyPass / http://127.0.0.1:2/\n");
	char *out = NULL;
	int code;

	code = run("-k", "reload", "-c", conf, &out);
	ck_assert_msg(code == 1 && strstr(out, "-k reload: ") && strstr(out, "has no PidFile"),
		      "%d, %s", code, out);
	free(out);
	code = run("-k", "stop", "-c", conf, &out);
	ck_assert_msg(code == 1 && strstr(out, "has no PidFile directive"), "%d, %s", code, out);
	free(out);
	code = run("-k", "restart", "-c", conf, &out);
	ck_assert_msg(code == 1 && strstr(out, "unknown action"), "%d, %s", code, out);
	free(out);
}
END_TEST

/* ---- sd_notify ---------------------------------------------------------------------- */

static int notify_fd = -1;
static char ready_msg[1100];     /* the datagram holding READY=1 */
static int ready_port_ok = -2;   /* connect result right when READY=1 came: 0 or -errno */

/* Next datagram within timeout_ms into buf (NUL-terminated); false on timeout. */
static bool notify_recv(char *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = notify_fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	n = recv(notify_fd, buf, len - 1, MSG_DONTWAIT);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Right after the spawn: wait (at most 10 s) for READY=1, then at once connect to the
 * port: it must accept already. */
static void watch_ready(const struct e2e_proc *p)
{
	char buf[1100];

	for (unsigned i = 0; i < 50; i++) {
		if (!notify_recv(buf, sizeof(buf), 200)) {
			if (i * 200 >= 10000)
				break;
			continue;
		}
		if (strstr(buf, "READY=1\n")) {
			struct e2e_client c;

			ready_port_ok = e2e_client_try_open(&c, p->port);
			if (ready_port_ok == 0)
				e2e_client_close(&c);
			snprintf(ready_msg, sizeof(ready_msg), "%s", buf);
			return;
		}
	}
}

static void notify_case(bool abstract)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char name[200], buf[1100], want[200];
	socklen_t alen;
	struct e2e_proc p;
	bool stopping = false;

	if (abstract) {
		snprintf(name, sizeof(name), "@spliced-e2e-notify-%d", (int)getpid());
		memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
		alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	} else {
		snprintf(name, sizeof(name), "%s/notify.sock", e2e_temp_dir());
		ck_assert_msg(strlen(name) < sizeof(sun.sun_path), "%s: too long for sun_path", name);
		memcpy(sun.sun_path, name, strlen(name) + 1);
		alen = sizeof(sun);
	}
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(notify_fd, 0);
	ck_assert_msg(bind(notify_fd, (struct sockaddr *)&sun, alen) == 0, "bind %s: %s", name,
		      strerror(errno));
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	e2e_after_spawn = watch_ready;
	e2e_spliced_startf(&p, "Workers 2\nProxyPass / http://127.0.0.1:%d/\n", e2e_dead_port());
	e2e_after_spawn = NULL;
	unsetenv("NOTIFY_SOCKET");

	ck_assert_msg(ready_msg[0], "no READY=1 within 10 s: %s", e2e_diag());
	ck_assert_msg(ready_port_ok == 0, "the port did not accept when READY=1 came: %s",
		      strerror(-ready_port_ok));
	snprintf(want, sizeof(want), "STATUS=serving on 127.0.0.1:%d, 2 workers\n", p.port);
	ck_assert_msg(strstr(ready_msg, want), "READY datagram: %s", e2e_escs(ready_msg));
	snprintf(want, sizeof(want), "MAINPID=%d\n", (int)p.pid);
	ck_assert_msg(strstr(ready_msg, want), "READY datagram: %s", e2e_escs(ready_msg));
	ck_assert_msg(!notify_recv(buf, sizeof(buf), 0), "unexpected datagram: %s",
		      e2e_escs(buf));

	/* SIGHUP: RELOADING=1 with the monotonic time, then READY=1 with the new status */
	ck_assert_int_eq(kill(p.pid, SIGHUP), 0);
	ck_assert_msg(notify_recv(buf, sizeof(buf), 10000), "no datagram after SIGHUP");
	ck_assert_msg(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 &&
		      strtoull(buf + 27, NULL, 10) > 0, "reload datagram: %s", e2e_escs(buf));
	ck_assert_msg(notify_recv(buf, sizeof(buf), 10000), "no READY=1 after the reload");
	snprintf(want, sizeof(want), "READY=1\nSTATUS=serving on 127.0.0.1:%d, 2 workers "
		 "(configuration 2)\n", p.port);
	ck_assert_msg(strcmp(buf, want) == 0, "after the reload: %s", e2e_escs(buf));

	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	for (unsigned i = 0; i < 10 && !stopping; i++) {
		ck_assert_msg(notify_recv(buf, sizeof(buf), 10000), "no STOPPING=1 after SIGTERM");
		stopping = strstr(buf, "STOPPING=1\n") != NULL;
	}
	ck_assert_msg(strstr(buf, "STATUS=stopping"), "STOPPING datagram: %s", e2e_escs(buf));
	ck_assert_int_eq(e2e_spliced_stop(&p), 0);
	ck_assert_msg(notify_recv(buf, sizeof(buf), 1000) && strcmp(buf, "STATUS=stopped\n") == 0,
		      "last datagram: %s", e2e_escs(buf));
	close(notify_fd);
	notify_fd = -1;
}

START_TEST(test_notify_path)
{
	notify_case(false);
}
END_TEST

START_TEST(test_notify_abstract)
{
	notify_case(true);
}
END_TEST

/* A NOTIFY_SOCKET nobody listens on does not stop the start: a warning in the log. */
START_TEST(test_notify_unreachable)
{
	struct e2e_proc p;
	char path[400];

	snprintf(path, sizeof(path), "%s/nobody.sock", e2e_temp_dir());
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	e2e_spliced_startf(&p, "ProxyPass / http://127.0.0.1:%d/\n", e2e_dead_port());
	unsetenv("NOTIFY_SOCKET");
	ck_assert_msg(e2e_log_wait_for(&p, "readiness is not reported", 5000), "%s", e2e_diag());
	ck_assert_int_eq(e2e_spliced_stop(&p), 0);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "pidfile_k_stop", test_pidfile_k_stop, 0 },
		{ "pidfile_taken", test_pidfile_taken_refused, 0 },
		{ "pidfile_symlink", test_pidfile_symlink_refused, 0 },
		{ "k_errors", test_k_errors, 0 },
		{ "notify_path", test_notify_path, 0 },
		{ "notify_abstract", test_notify_abstract, 0 },
		{ "notify_unreachable", test_notify_unreachable, 0 },
	};
	Suite *s = suite_create("e2e_operate");

	ck_add_cases(s, cases, CK_N(cases), 60, NULL, NULL);
	return ck_run_suite(s);
}
