/* End-to-end suite for socket activation, through the real binary: the test does what
 * systemd does for a socket unit (it binds and listens, then starts spliced with the
 * socket as descriptor 3 and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES) and listens for the
 * sd_notify datagrams on a socket of its own. A request sent before spliced even runs is
 * answered once it does; two workers share the one socket; a passed socket no Listen line
 * names stops the start with its descriptor, name and address; a LISTEN_PID for another
 * process is ignored (spliced binds its Listen itself); a passed MetricsListen socket
 * serves the metrics page while the Listen line is bound as usual; and spliced started as
 * nobody serves a port below 1024 that it could never have bound. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

static int notify_fd = -1;

/* A datagram socket in the abstract namespace (any user may send to it) as NOTIFY_SOCKET
 * of the processes started from now on. */
static void notify_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char name[100];
	socklen_t alen;

	snprintf(name, sizeof(name), "@spliced-e2e-activate-%d", (int)getpid());
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(notify_fd, 0);
	ck_assert_msg(bind(notify_fd, (struct sockaddr *)&sun, alen) == 0, "bind %s: %s", name,
		      strerror(errno));
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
}

/* Waits (at most 10 s, 200 ms polls) for the READY=1 datagram of p; fails the test with
 * the log if p exits or it never comes. */
static void wait_ready(struct e2e_proc *p)
{
	char buf[1100];

	for (unsigned i = 0; i < 50; i++) {
		struct pollfd pfd = { .fd = notify_fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 200) == 1) {
			n = recv(notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, "READY=1\n"))
					return;
			}
		}
		ck_assert_msg(!e2e_proc_wait(p, 0), "spliced exited during start-up: %s",
			      e2e_diag());
	}
	ck_abort_msg("no READY=1 within 10 s: %s", e2e_diag());
}

/* A listening TCP socket on 127.0.0.1:port (0: any); the descriptor, or -errno. */
static int tcp_listener(int port, int *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*bound = ntohs(sa.sin_port);
	return fd;
}

/* GET / through port answers the testbackend's 200. */
static void get_ok(int port, const char *path)
{
	struct e2e_client c;
	struct e2e_response r;
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, strlen(req), &r, false);
	ck_assert_msg(r.status == 200, "GET %s: %d %s", path, r.status, e2e_diag());
	ck_assert_msg(r.body_len && strstr((const char *)r.body, path), "body: %s",
		      e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
}

static void teardown(void)
{
	unsetenv("NOTIFY_SOCKET");
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

/* The passed socket is the listener: a request queued in its backlog before spliced runs
 * is answered; both workers accept on it; after spliced stops, the socket (still the
 * test's, as it stays systemd's) serves again through a second spliced. */
START_TEST(test_activated_serves)
{
	struct e2e_proc b, p;
	struct e2e_client early;
	struct e2e_response r;
	struct e2e_activation a = { .nfds = 1, .fdnames = "web" };
	const char *req = "GET /early HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	char conf[256], want[128], *log;
	int port, fd;

	e2e_backend_start(&b, "");
	fd = tcp_listener(0, &port);
	ck_assert_int_ge(fd, 0);
	a.fds = &fd;
	notify_open();
	snprintf(conf, sizeof(conf), "Workers 2\nListen 127.0.0.1:%d\nProxyPass / http://127.0.0.1:%d/\n",
		 port, b.port);

	/* queued before spliced exists */
	e2e_client_open(&early, port);
	ck_assert_int_eq(e2e_send_str(&early, req), 0);

	for (unsigned round = 0; round < 2; round++) {
		e2e_spliced_spawn_activated(&p, conf, &a);
		wait_ready(&p);
		if (round == 0) {
			ck_assert_msg(e2e_read_response(&early, &r, false) == 0, "%s", r.err);
			ck_assert_int_eq(r.status, 200);
			e2e_response_free(&r);
			e2e_client_close(&early);
		}
		for (unsigned i = 0; i < 20; i++)
			get_ok(port, round ? "/second" : "/first");
		log = e2e_spliced_log(&p);
		snprintf(want, sizeof(want), "Listen 127.0.0.1:%d: the socket passed as descriptor 3 "
			 "(name \"web\")", port);
		ck_assert_msg(strstr(log, want), "%s", log);
		free(log);
		ck_assert_int_eq(e2e_spliced_stop(&p), 0);
	}
	close(fd);
	e2e_backend_stop(&b);
}
END_TEST

/* A second passed socket that no Listen line names: exit 1, the error names it. */
START_TEST(test_activated_unnamed_socket)
{
	struct e2e_proc p;
	int ports[2], fds[2];
	struct e2e_activation a = { .fds = fds, .nfds = 2, .fdnames = "web:extra" };
	char conf[256], want[200], *out;

	fds[0] = tcp_listener(0, &ports[0]);
	fds[1] = tcp_listener(0, &ports[1]);
	ck_assert(fds[0] >= 0 && fds[1] >= 0);
	snprintf(conf, sizeof(conf), "Listen 127.0.0.1:%d\nProxyPass / http://127.0.0.1:%d/\n",
		 ports[0], e2e_dead_port());
	e2e_spliced_spawn_activated(&p, conf, &a);
	ck_assert_msg(e2e_proc_wait(&p, 10000), "spliced still runs: %s", e2e_diag());
	ck_assert_int_eq(e2e_proc_exit_code(&p), 1);
	out = e2e_read_file(p.out, NULL);
	snprintf(want, sizeof(want), "spliced: socket activation: descriptor 4 (name \"extra\", "
		 "127.0.0.1:%d) is not the address of any Listen or MetricsListen line", ports[1]);
	ck_assert_msg(out && strstr(out, want), "output: %s", out ? out : "(none)");
	free(out);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* LISTEN_PID names another process: the variables are not for spliced, which binds its
 * Listen address itself and never touches descriptor 3 (another address here). */
START_TEST(test_activated_other_pid)
{
	struct e2e_proc b, p;
	int passed_port, port = e2e_free_port(), fd;
	struct e2e_activation a = { .fds = &fd, .nfds = 1, .fdnames = "web", .pid_offset = 1 };
	char conf[256], *log;

	e2e_backend_start(&b, "");
	fd = tcp_listener(0, &passed_port);
	ck_assert_int_ge(fd, 0);
	notify_open();
	snprintf(conf, sizeof(conf), "Listen 127.0.0.1:%d\nProxyPass / http://127.0.0.1:%d/\n",
		 port, b.port);
	e2e_spliced_spawn_activated(&p, conf, &a);
	wait_ready(&p);
	get_ok(port, "/bound-itself");
	log = e2e_spliced_log(&p);
	ck_assert_msg(!strstr(log, "passed as descriptor"), "%s", log);
	free(log);
	ck_assert_int_eq(e2e_spliced_stop(&p), 0);
	close(fd);
	e2e_backend_stop(&b);
}
END_TEST

/* Only MetricsListen passed: it answers the metrics page on the passed socket, and the
 * Listen line without a passed socket is bound by spliced as usual. */
START_TEST(test_activated_metrics_only)
{
	struct e2e_proc b, p;
	struct e2e_client c;
	struct e2e_response r;
	int mport, port = e2e_free_port(), fd;
	struct e2e_activation a = { .fds = &fd, .nfds = 1, .fdnames = "metrics" };
	const char *req = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	char conf[256], want[128], *log;

	e2e_backend_start(&b, "");
	fd = tcp_listener(0, &mport);
	ck_assert_int_ge(fd, 0);
	notify_open();
	snprintf(conf, sizeof(conf), "Workers 2\nListen 127.0.0.1:%d\nMetricsListen 127.0.0.1:%d\n"
		 "ProxyPass / http://127.0.0.1:%d/\n", port, mport, b.port);
	e2e_spliced_spawn_activated(&p, conf, &a);
	wait_ready(&p);
	get_ok(port, "/bound-itself");
	e2e_client_open(&c, mport);
	e2e_roundtrip(&c, req, strlen(req), &r, false);
	ck_assert_msg(r.status == 200 && strstr((const char *)r.body, "spliced_"),
		      "GET /metrics: %d %s", r.status, e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	e2e_client_close(&c);
	log = e2e_spliced_log(&p);
	snprintf(want, sizeof(want), "MetricsListen 127.0.0.1:%d: the socket passed as descriptor 3 "
		 "(name \"metrics\")", mport);
	ck_assert_msg(strstr(log, want), "%s", log);
	snprintf(want, sizeof(want), " Listen 127.0.0.1:%d: the socket", port);
	ck_assert_msg(!strstr(log, want), "%s", log);
	free(log);
	ck_assert_int_eq(e2e_spliced_stop(&p), 0);
	close(fd);
	e2e_backend_stop(&b);
}
END_TEST

/* spliced started as nobody (never root: the user changes before the exec) serves a port
 * below 1024 that the test bound for it, with no capabilities. User/Group name the user it
 * runs as already: no warning that they cannot be applied. */
START_TEST(test_activated_unprivileged)
{
	struct e2e_proc b, p;
	struct passwd *pw = getpwnam("nobody");
	struct e2e_activation a = { .nfds = 1, .fdnames = "http" };
	char conf[400], bin[512], path[64], *st, *log;
	int port = 0, fd = -EADDRINUSE;

	ck_assert_msg(geteuid() == 0, "this test starts spliced as nobody: run it as root");
	ck_assert_msg(pw != NULL, "no user nobody");
	for (int try = 600; try < 1000 && fd < 0; try++)
		fd = tcp_listener(try, &port);
	ck_assert_msg(fd >= 0, "no free port in 600..999");
	ck_assert_int_lt(port, 1024);
	a.fds = &fd;
	a.uid = pw->pw_uid;
	a.gid = pw->pw_gid;
	snprintf(bin, sizeof(bin), "%s/spliced-copy", e2e_temp_dir());
	e2e_copy_file(e2e_env_bin("SPLICED_BIN"), bin, 0755);   /* the tree may be 0700 */
	a.bin = bin;

	e2e_backend_start(&b, "");
	notify_open();
	snprintf(conf, sizeof(conf), "Listen 127.0.0.1:%d\nUser nobody\nGroup #%u\n"
		 "ProxyPass / http://127.0.0.1:%d/\n", port, (unsigned)pw->pw_gid, b.port);
	e2e_spliced_spawn_activated(&p, conf, &a);
	wait_ready(&p);
	get_ok(port, "/unprivileged");

	snprintf(path, sizeof(path), "/proc/%d/status", (int)p.pid);
	st = e2e_read_file(path, NULL);
	ck_assert_ptr_nonnull(st);
	snprintf(conf, sizeof(conf), "\nUid:\t%u\t%u\t%u\t%u\n", (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_uid, (unsigned)pw->pw_uid, (unsigned)pw->pw_uid);
	ck_assert_msg(strstr(st, conf), "%s", st);
	ck_assert_msg(strstr(st, "\nCapPrm:\t0000000000000000\n") &&
		      strstr(st, "\nCapEff:\t0000000000000000\n"), "%s", st);
	free(st);
	log = e2e_spliced_log(&p);
	ck_assert_msg(!strstr(log, "cannot be applied"), "%s", log);
	free(log);
	ck_assert_int_eq(e2e_spliced_stop(&p), 0);
	close(fd);
	e2e_backend_stop(&b);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "activated_serves", test_activated_serves, 0 },
		{ "activated_unnamed_socket", test_activated_unnamed_socket, 0 },
		{ "activated_other_pid", test_activated_other_pid, 0 },
		{ "activated_metrics_only", test_activated_metrics_only, 0 },
		{ "activated_unprivileged", test_activated_unprivileged, 0 },
	};
	Suite *s = suite_create("e2e_activate");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, teardown);
	return ck_run_suite(s);
}
