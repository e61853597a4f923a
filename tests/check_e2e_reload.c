/* End-to-end suite for the graceful reload (SIGHUP, spliced -k reload), through the real
 * binary and real testbackend processes on loopback:
 *  - a reload that changes a ProxyPass target sends new requests, and the next request of
 *    a keep-alive connection opened before it, to the new backend;
 *  - a request in flight during the reload finishes on the old backend, complete;
 *  - a bad configuration changes nothing: the error names file:line, the old routes serve,
 *    spliced_reloads_total{result="failed"} counts it; what cannot change (User, Workers)
 *    is refused with a message naming it;
 *  - a new Listen address is bound, a removed one stops accepting, MetricsListen moves;
 *    started as root, a new port below 1024 is bound by the helper;
 *  - clients on keep-alive and new connections while reloads follow each other see no
 *    failed request (no reset, no 5xx);
 *  - `spliced -k reload` signals the process its PidFile names.
 * (ProxyAutostart backends across reloads: check_e2e_autostart; the helper's side:
 * check_helper; sd_notify RELOADING=1: check_e2e_operate.) */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

/* The testbackend echoes the request head it got: the backend a request reached is the
 * one whose port is in the Host line spliced sent. */
static int reached_port(const struct e2e_response *r)
{
	const char *h = strstr((const char *)r->body, "\nHost: 127.0.0.1:");

	return h ? atoi(h + 17) : -1;
}

static int get_port(struct e2e_client *c, const char *path)
{
	struct e2e_response r;
	char req[256];
	int port;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: reload.test\r\n\r\n", path);
	e2e_roundtrip(c, req, strlen(req), &r, false);
	ck_assert_msg(r.status == 200, "GET %s: status %d: %s", path, r.status, e2e_diag());
	port = reached_port(&r);
	e2e_response_free(&r);
	return port;
}

/* The value of metric line `name` (with its labels) on the metrics page at mport. */
static long long metric(int mport, const char *name)
{
	struct e2e_client m;
	struct e2e_response r;
	char needle[200];
	const char *v;
	long long val;

	e2e_client_open(&m, mport);
	e2e_roundtrip(&m, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n", 34, &r, false);
	ck_assert_int_eq(r.status, 200);
	snprintf(needle, sizeof(needle), "\n%s ", name);
	v = strstr((const char *)r.body, needle);
	ck_assert_msg(v != NULL, "no %s on the metrics page:\n%s", name, (const char *)r.body);
	val = atoll(v + strlen(needle));
	e2e_response_free(&r);
	e2e_client_close(&m);
	return val;
}

/* A new ProxyPass target: new connections and the next request of a connection that was
 * idle during the reload go to it; a second reload through -k reload and the PidFile. */
START_TEST(test_reload_target)
{
	struct e2e_proc a, b, sp;
	struct e2e_client idle, fresh;
	char from[96], to[96], pidfile[400], *out = NULL;
	int mport = e2e_free_port(), code;

	e2e_backend_start(&a, NULL);
	e2e_backend_start(&b, NULL);
	snprintf(pidfile, sizeof(pidfile), "%s/spliced.pid", e2e_temp_dir());
	e2e_spliced_startf(&sp, "Workers 2\nPidFile \"%s\"\nMetricsListen 127.0.0.1:%d\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", pidfile, mport, a.port);
	e2e_client_open(&idle, sp.port);
	ck_assert_int_eq(get_port(&idle, "/one"), a.port);

	snprintf(from, sizeof(from), "http://127.0.0.1:%d/", a.port);
	snprintf(to, sizeof(to), "http://127.0.0.1:%d/", b.port);
	e2e_conf_replace(&sp, from, to);
	ck_assert_msg(e2e_reload(&sp, 2), "the reload failed: %s", e2e_diag());

	e2e_client_open(&fresh, sp.port);
	ck_assert_int_eq(get_port(&fresh, "/two"), b.port);
	/* the idle connection moved to the new configuration */
	ck_assert_int_eq(get_port(&idle, "/three"), b.port);
	ck_assert_int_eq(metric(mport, "spliced_reloads_total{result=\"ok\"}"), 1);
	ck_assert_int_eq(metric(mport, "spliced_config_generation"), 2);

	/* back to a, with spliced -k reload */
	e2e_conf_replace(&sp, to, from);
	{
		const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-k", "reload", "-c", sp.conf,
				       NULL };
		char want[64];

		code = e2e_run(argv, &out);
		snprintf(want, sizeof(want), "reload signalled (pid %d)", (int)sp.pid);
		ck_assert_msg(code == 0 && strstr(out, want), "-k reload: %d, %s", code, out);
		free(out);
	}
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 3 in use", 10000), "%s", e2e_diag());
	ck_assert_int_eq(get_port(&idle, "/four"), a.port);
	ck_assert_int_eq(get_port(&fresh, "/five"), a.port);
	/* the counters did not start again with the new workers: five requests, and the
	 * two earlier metrics pages */
	ck_assert_int_eq(metric(mport, "spliced_requests_total{class=\"2xx\"}"), 5 + 2);
	e2e_client_close(&idle);
	e2e_client_close(&fresh);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST

/* A response in flight when the reload happens comes whole from the old backend; the
 * connection's next request goes to the new one. */
START_TEST(test_reload_in_flight)
{
	struct e2e_proc a, b, sp;
	struct e2e_client c;
	struct e2e_response r;
	char from[96], to[96];
	const char *req = "GET /slow?delay=1500&len=300000 HTTP/1.1\r\nHost: reload.test\r\n\r\n";

	e2e_backend_start(&a, NULL);
	e2e_backend_start(&b, NULL);
	e2e_spliced_startf(&sp, "Workers 2\nProxyPass / http://127.0.0.1:%d/\n", a.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send_str(&c, req), 0);
	e2e_sleep_ms(300); /* the request reached the backend, which waits */

	snprintf(from, sizeof(from), "http://127.0.0.1:%d/", a.port);
	snprintf(to, sizeof(to), "http://127.0.0.1:%d/", b.port);
	e2e_conf_replace(&sp, from, to);
	ck_assert_msg(e2e_reload(&sp, 2), "the reload failed: %s", e2e_diag());

	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "the request in flight: %s", r.err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 300000);
	ck_assert_msg(e2e_pattern_mismatch(r.body, r.body_len) < 0, "the body is damaged");
	e2e_response_free(&r);
	ck_assert_int_eq(get_port(&c, "/next"), b.port);
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 1: its last requests finished", 10000),
		      "the old workers did not end: %s", e2e_diag());
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST

/* A bad configuration: logged with file:line, counted, the running one keeps serving;
 * User and Workers cannot change on a reload and say so. */
START_TEST(test_reload_refused)
{
	struct e2e_proc a, sp;
	struct e2e_client c;
	char want[512];
	int mport = e2e_free_port();
	unsigned line;

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 1\nMetricsListen 127.0.0.1:%d\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", mport, a.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get_port(&c, "/before"), a.port);

	line = e2e_conf_lines(&sp) + 2;
	e2e_conf_append(&sp, "ProxyPass /x/ http://127.0.0.1:1/\nNoSuchDirective on\n");
	ck_assert_msg(!e2e_reload(&sp, 2), "a configuration with an error was taken");
	snprintf(want, sizeof(want), "reload failed, the running configuration stays in use: "
		 "%s:%u: unknown directive \"NoSuchDirective\"", sp.conf, line);
	ck_assert_msg(e2e_log_count(&sp, want) == 1, "expected \"%s\" in the log: %s", want,
		      e2e_diag());
	ck_assert_int_eq(get_port(&c, "/after"), a.port);
	ck_assert_int_eq(metric(mport, "spliced_reloads_total{result=\"failed\"}"), 1);
	ck_assert_int_eq(metric(mport, "spliced_config_generation"), 1);

	e2e_conf_replace(&sp, "NoSuchDirective on\n", "Workers 2\n");
	ck_assert_msg(!e2e_reload(&sp, 2), "Workers changed on a reload");
	ck_assert_msg(e2e_log_count(&sp, "Workers cannot change on a reload: restart spliced") == 1,
		      "%s", e2e_diag());
	e2e_conf_replace(&sp, "Workers 2\n", "User daemon\n");
	ck_assert_msg(!e2e_reload(&sp, 2), "User changed on a reload");
	ck_assert_msg(e2e_log_count(&sp, "User cannot change on a reload") == 1, "%s", e2e_diag());
	ck_assert_int_eq(metric(mport, "spliced_reloads_total{result=\"failed\"}"), 3);
	ck_assert_int_eq(get_port(&c, "/still"), a.port);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* Listen lines: a new one is bound at the reload, a removed one stops accepting once the
 * old workers are done; MetricsListen moves the same way. */
START_TEST(test_reload_listen)
{
	struct e2e_proc a, sp;
	struct e2e_client c;
	char line[160], old_listen[64], mline[64], mline2[64];
	int port2 = e2e_free_port(), mport = e2e_free_port(), mport2 = e2e_free_port();
	int old_port, rc = 0;

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 2\nMetricsListen 127.0.0.1:%d\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", mport, a.port);
	old_port = sp.port;
	snprintf(line, sizeof(line), "Listen 127.0.0.1:%d\n", port2);
	e2e_conf_append(&sp, line);
	ck_assert_msg(e2e_reload(&sp, 2), "the reload failed: %s", e2e_diag());
	e2e_client_open(&c, port2);
	ck_assert_int_eq(get_port(&c, "/new"), a.port);
	e2e_client_close(&c);
	e2e_client_open(&c, old_port);
	ck_assert_int_eq(get_port(&c, "/old"), a.port);
	e2e_client_close(&c);

	/* the first Listen goes, MetricsListen moves */
	snprintf(old_listen, sizeof(old_listen), "Listen 127.0.0.1:%d\n", old_port);
	e2e_conf_replace(&sp, old_listen, "");
	snprintf(mline, sizeof(mline), "MetricsListen 127.0.0.1:%d\n", mport);
	snprintf(mline2, sizeof(mline2), "MetricsListen 127.0.0.1:%d\n", mport2);
	e2e_conf_replace(&sp, mline, mline2);
	ck_assert_msg(e2e_reload(&sp, 3), "the reload failed: %s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 2: its last requests finished", 10000),
		      "%s", e2e_diag());
	for (unsigned i = 0; i < 100; i++) {
		rc = e2e_client_try_open(&c, old_port);
		if (rc < 0)
			break;
		e2e_client_close(&c);
		e2e_sleep_ms(50);
	}
	ck_assert_msg(rc == -ECONNREFUSED, "the removed Listen %d still accepts (%s)", old_port,
		      strerror(-rc));
	ck_assert_msg(e2e_client_try_open(&c, mport) == -ECONNREFUSED,
		      "the old MetricsListen still accepts");
	ck_assert_int_eq(metric(mport2, "spliced_reloads_total{result=\"ok\"}"), 2);
	e2e_client_open(&c, port2);
	ck_assert_int_eq(get_port(&c, "/kept"), a.port);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* Started as root, a reload adds a Listen on a port below 1024: the serving process (User,
 * no capability) cannot bind it, the helper binds it from its own reading of the file
 * and hands the sockets over; requests on it are answered. A reload removing it closes
 * it. */
START_TEST(test_reload_privileged_port)
{
	struct e2e_proc a, sp;
	struct e2e_client c;
	char line[64];
	int port, rc = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP reload_privileged_port: not running as root (euid %d)\n",
			(int)geteuid());
		return;
	}
	port = e2e_free_privileged_port();
	ck_assert_msg(port > 0, "no free port between 600 and 1000 on 127.0.0.1");
	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 2\nProxyPass / http://127.0.0.1:%d/\n", a.port);
	snprintf(line, sizeof(line), "Listen 127.0.0.1:%d\n", port);
	e2e_conf_append(&sp, line);
	ck_assert_msg(e2e_reload(&sp, 2), "the reload failed: %s", e2e_diag());
	snprintf(line, sizeof(line), "127.0.0.1:%d: bound by the helper (2 sockets)", port);
	ck_assert_msg(e2e_log_count(&sp, line) == 1, "%s", e2e_diag());
	for (int i = 0; i < 4; i++) {   /* new connections, whichever worker takes them */
		e2e_client_open(&c, port);
		ck_assert_int_eq(get_port(&c, "/privileged"), a.port);
		e2e_client_close(&c);
	}
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get_port(&c, "/first"), a.port);
	e2e_client_close(&c);

	snprintf(line, sizeof(line), "Listen 127.0.0.1:%d\n", port);
	e2e_conf_replace(&sp, line, "");
	ck_assert_msg(e2e_reload(&sp, 3), "the reload failed: %s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 2: its last requests finished", 10000),
		      "%s", e2e_diag());
	for (unsigned i = 0; i < 100; i++) {
		rc = e2e_client_try_open(&c, port);
		if (rc < 0)
			break;
		e2e_client_close(&c);
		e2e_sleep_ms(50);
	}
	ck_assert_msg(rc == -ECONNREFUSED, "the removed Listen %d still accepts (%s)", port,
		      strerror(-rc));
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get_port(&c, "/kept"), a.port);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* Retiring workers have no deadline of their own: a slow response goes on across
 * reloads; when half the configurations spliced keeps are still draining, the oldest is
 * stopped gracefully, and its response in flight still completes. */
START_TEST(test_reload_many_draining)
{
	struct e2e_proc a, sp;
	struct e2e_client c;
	struct e2e_response r;
	const char *req = "GET /slow?delay=3000&len=5000 HTTP/1.1\r\nHost: reload.test\r\n\r\n";
	char want[128];

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 1\nProxyPass / http://127.0.0.1:%d/\n", a.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(e2e_send_str(&c, req), 0);
	e2e_sleep_ms(200);
	for (unsigned gen = 2; gen <= 9; gen++) {
		struct e2e_client k;

		/* each generation keeps a slow request of its own in flight */
		e2e_client_open(&k, sp.port);
		ck_assert_int_eq(e2e_send_str(&k, req), 0);
		e2e_sleep_ms(50);
		ck_assert_msg(e2e_reload(&sp, gen), "reload to %u failed: %s", gen, e2e_diag());
		/* k's request is abandoned by the client; spliced finishes or stops it */
		e2e_client_close(&k);
	}
	snprintf(want, sizeof(want), "the oldest (1, about");
	ck_assert_msg(e2e_log_count(&sp, want) == 1, "the oldest configuration was not stopped "
		      "once: %s", e2e_diag());
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "the first request: %s", r.err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 5000);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 1: its last requests finished", 10000),
		      "%s", e2e_diag());
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* A connection that arrives while the previous workers are cancelling their accepts is
 * answered (io_uring waits for a listening socket exclusively: the wake-up could go to the
 * cancelled accept only, and the connection waited for the next one). The client is
 * sequential, so a connection stuck in the queue would stay there: the 10 s bound is not a
 * speed limit. */
START_TEST(test_reload_fresh_connections)
{
	struct e2e_proc a, sp;
	unsigned stuck = 0, n = 0;

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 2\nProxyPass / http://127.0.0.1:%d/\n", a.port);
	for (unsigned k = 0; k < 30; k++) {
		ck_assert_int_eq(kill(sp.pid, SIGHUP), 0);
		e2e_sleep_ms((int)(k % 4) * 3);
		for (unsigned i = 0; i < 6; i++, n++) {
			struct e2e_client c;
			struct e2e_response r;

			ck_assert_int_eq(e2e_client_try_open(&c, sp.port), 0);
			c.timeout_ms = 10000;
			ck_assert_int_eq(e2e_send_str(&c, "GET /f HTTP/1.1\r\nHost: f\r\n\r\n"), 0);
			if (e2e_read_response(&c, &r, false) != 0)
				stuck++;
			else
				e2e_response_free(&r);
			e2e_client_close(&c);
		}
	}
	ck_assert_msg(stuck == 0, "%u of %u connections made right after a reload got no "
		      "answer: %s", stuck, n, e2e_diag());
	/* signals sent while one is pending merge: fewer reloads than signals, but some */
	ck_assert_msg(e2e_log_count(&sp, " in use: listening on") >= 2, "%s", e2e_diag());
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* A backend's max= counts the connections of every configuration alive: a reload does
 * not let a second connection through while the previous workers still hold one. */
START_TEST(test_reload_max_shared)
{
	struct e2e_proc a, sp;
	struct e2e_client slow, c;
	struct e2e_response r;

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 1\nProxyPass / http://127.0.0.1:%d/ max=1 acquire=100\n",
			   a.port);
	e2e_client_open(&slow, sp.port);
	/* 6 s: the reload and the second request must fit while the slow one holds the
	 * connection, also on a machine busy with other work (2.5 s was too short there) */
	ck_assert_int_eq(e2e_send_str(&slow, "GET /slow?delay=6000 HTTP/1.1\r\nHost: m\r\n\r\n"), 0);
	e2e_sleep_ms(500);
	e2e_conf_append(&sp, "LogLevel info\n");
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, "GET /second HTTP/1.1\r\nHost: m\r\n\r\n", 33, &r, false);
	ck_assert_msg(r.status == 503, "a second connection to a max=1 backend while the "
		      "previous configuration holds one: status %d", r.status);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_msg(e2e_read_response(&slow, &r, false) == 0 && r.status == 200, "the slow "
		      "request: %s", r.err);
	e2e_response_free(&r);
	/* once it is back, the new configuration may use the connection */
	ck_assert_int_eq(get_port(&slow, "/third"), a.port);
	e2e_client_close(&slow);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* A Listen removed by one reload and added again by the next, while the first
 * configuration still finishes a request: bound again, and it serves. */
START_TEST(test_reload_listen_back)
{
	struct e2e_proc a, sp;
	struct e2e_client slow, c;
	struct e2e_response r;
	char line[96];
	int port2 = e2e_free_port(), rc = 0;

	e2e_backend_start(&a, NULL);
	snprintf(line, sizeof(line), "Listen 127.0.0.1:%d\n", port2);
	e2e_spliced_startf(&sp, "Workers 2\n%sProxyPass / http://127.0.0.1:%d/\n", line, a.port);
	e2e_client_open(&slow, sp.port);
	ck_assert_int_eq(e2e_send_str(&slow, "GET /slow?delay=3000 HTTP/1.1\r\nHost: m\r\n\r\n"), 0);
	e2e_sleep_ms(200);
	e2e_conf_replace(&sp, line, "");
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	/* refused at once, not queued */
	for (unsigned i = 0; i < 100 && rc == 0; i++) {
		rc = e2e_client_try_open(&c, port2);
		if (rc == 0) {
			e2e_client_close(&c);
			e2e_sleep_ms(20);
		}
	}
	ck_assert_int_eq(rc, -ECONNREFUSED);
	e2e_conf_append(&sp, line);
	ck_assert_msg(e2e_reload(&sp, 3), "adding the Listen again: %s", e2e_diag());
	e2e_client_open(&c, port2);
	ck_assert_int_eq(get_port(&c, "/back"), a.port);
	e2e_client_close(&c);
	ck_assert_msg(e2e_read_response(&slow, &r, false) == 0 && r.status == 200, "the slow "
		      "request: %s", r.err);
	e2e_response_free(&r);
	e2e_client_close(&slow);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* SIGTERM: new connections are refused at once while the requests in flight finish
 * (the listening sockets stop listening; they are not left to queue and reset later). */
START_TEST(test_stop_refuses_new)
{
	struct e2e_proc a, sp;
	struct e2e_client slow, c;
	struct e2e_response r;
	int rc = 0;

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 2\nProxyPass / http://127.0.0.1:%d/\n", a.port);
	e2e_client_open(&slow, sp.port);
	ck_assert_int_eq(e2e_send_str(&slow, "GET /slow?delay=2000 HTTP/1.1\r\nHost: m\r\n\r\n"), 0);
	e2e_sleep_ms(200);
	ck_assert_int_eq(kill(sp.pid, SIGTERM), 0);
	for (unsigned i = 0; i < 100 && rc == 0; i++) {
		rc = e2e_client_try_open(&c, sp.port);
		if (rc == 0) {
			e2e_client_close(&c);
			e2e_sleep_ms(10);
		}
	}
	/* refused; a handshake the kernel completed as the socket stopped listening is reset */
	ck_assert_msg(rc == -ECONNREFUSED || rc == -ECONNRESET, "a new connection during the "
		      "stop: %s", strerror(-rc));
	ck_assert_msg(e2e_read_response(&slow, &r, false) == 0 && r.status == 200, "the request "
		      "in flight: %s", r.err);
	e2e_response_free(&r);
	e2e_client_close(&slow);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* A connection handed over keeps its count of requests: MaxKeepAliveRequests 3 closes
 * it after its third, whichever configuration answered the first two. */
START_TEST(test_reload_keepalive_count)
{
	struct e2e_proc a, sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 1\nMaxKeepAliveRequests 3\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", a.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get_port(&c, "/1"), a.port);
	ck_assert_int_eq(get_port(&c, "/2"), a.port);
	e2e_conf_append(&sp, "LogLevel info\n");
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "1 idle connections went to the new configuration",
				       10000), "not handed over: %s", e2e_diag());
	e2e_roundtrip(&c, "GET /3 HTTP/1.1\r\nHost: k\r\n\r\n", 28, &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(e2e_header_has_token(&r, "Connection", "close"), "the third request on "
		      "the connection did not close it:\n%s", r.head);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* KeepAliveTimeout counts from the end of the last response, not from the last reload:
 * an idle connection handed over at every reload (here every 0.6 s, for 4.8 s) is still
 * closed once KeepAliveTimeout (2 s) has passed since it became idle. (Before, each
 * hand-over gave it a whole KeepAliveTimeout again: reloads more often than that kept
 * idle connections open for ever.) */
START_TEST(test_reload_keepalive_timeout)
{
	struct e2e_proc a, sp;
	struct e2e_client c;
	int st = E2E_OPEN;
	unsigned gen = 1;

	e2e_backend_start(&a, NULL);
	e2e_spliced_startf(&sp, "Workers 1\nKeepAliveTimeout 2\nLogLevel info\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", a.port);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get_port(&c, "/1"), a.port);
	for (int i = 0; i < 8 && st == E2E_OPEN; i++) {
		st = e2e_wait_closed(&c, 600);
		if (st == E2E_OPEN)
			ck_assert_msg(e2e_reload(&sp, ++gen), "reload %u: %s", gen, e2e_diag());
	}
	ck_assert_msg(st == E2E_CLOSED_EOF, "the idle connection was %s after %u reloads "
		      "0.6 s apart with KeepAliveTimeout 2", st == E2E_OPEN ? "still open" :
		      st == E2E_GOT_DATA ? "sent bytes" : "reset", gen - 1);
	/* it was handed over at least once before it timed out */
	ck_assert_msg(gen >= 3 && e2e_log_wait_for(&sp, "idle connections went to the new "
						   "configuration", 1000),
		      "no hand-over seen (%u reloads): %s", gen - 1, e2e_diag());
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
}
END_TEST

/* ---- reloads under load ------------------------------------------------------------- */

#define LOAD_THREADS 6
#define LOAD_RELOADS 12

struct load {
	int port;
	volatile int stop;
	unsigned long ok;
	unsigned long failed;
	char first_error[1200];
};

/* Keep-alive requests, a new connection every 40; every response must be a 200 from one
 * of the two backends, nothing may fail. */
static void *load_thread(void *arg)
{
	struct load *l = arg;
	struct e2e_client c;
	unsigned n = 0;
	bool open = false;

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		struct e2e_response r;
		int rc;

		if (!open) {
			rc = e2e_client_try_open(&c, l->port);
			if (rc < 0) {
				__atomic_fetch_add(&l->failed, 1, __ATOMIC_RELAXED);
				snprintf(l->first_error, sizeof(l->first_error), "connect: %s",
					 strerror(-rc));
				break;
			}
			c.timeout_ms = 10000;
			open = true;
		}
		rc = e2e_send_str(&c, "GET /load?len=2000 HTTP/1.1\r\nHost: load\r\n\r\n");
		if (rc == 0)
			rc = e2e_read_response(&c, &r, false);
		else
			snprintf(r.err, sizeof(r.err), "send: %s", strerror(-rc));
		if (rc != 0 || r.status != 200 || r.body_len != 2000) {
			__atomic_fetch_add(&l->failed, 1, __ATOMIC_RELAXED);
			if (!l->first_error[0])
				snprintf(l->first_error, sizeof(l->first_error), "request %u: %s (status "
					 "%d)", n, rc ? r.err : "wrong answer", rc ? 0 : r.status);
			if (rc == 0)
				e2e_response_free(&r);
			break;
		}
		e2e_response_free(&r);
		__atomic_fetch_add(&l->ok, 1, __ATOMIC_RELAXED);
		if (++n % 40 == 0) {
			e2e_client_close(&c);
			open = false;
		}
	}
	if (open)
		e2e_client_close(&c);
	return NULL;
}

START_TEST(test_reload_under_load)
{
	struct e2e_proc a, b, sp;
	pthread_t t[LOAD_THREADS];
	struct load l = { 0 };
	char pa[96], pb[96];
	int mport = e2e_free_port();
	unsigned long before;

	e2e_backend_start(&a, NULL);
	e2e_backend_start(&b, NULL);
	e2e_spliced_startf(&sp, "Workers 2\nMetricsListen 127.0.0.1:%d\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", mport, a.port);
	snprintf(pa, sizeof(pa), "http://127.0.0.1:%d/", a.port);
	snprintf(pb, sizeof(pb), "http://127.0.0.1:%d/", b.port);
	l.port = sp.port;
	for (unsigned i = 0; i < LOAD_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, load_thread, &l), 0);
	for (unsigned i = 0; i < LOAD_RELOADS; i++) {
		/* some requests between two reloads (bounded: a stuck load fails below) */
		before = __atomic_load_n(&l.ok, __ATOMIC_RELAXED);
		for (unsigned k = 0; k < 250 && __atomic_load_n(&l.ok, __ATOMIC_RELAXED) < before + 200 &&
				     !__atomic_load_n(&l.failed, __ATOMIC_RELAXED); k++)
			e2e_sleep_ms(20);
		if (i % 2 == 0)
			e2e_conf_replace(&sp, pa, pb);
		else
			e2e_conf_replace(&sp, pb, pa);
		ck_assert_msg(e2e_reload(&sp, i + 2), "reload %u failed: %s", i + 1, e2e_diag());
	}
	e2e_sleep_ms(200);
	__atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < LOAD_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(l.failed == 0, "%lu of %lu requests failed during %u reloads; first: %s; %s",
		      l.failed, l.failed + l.ok, LOAD_RELOADS, l.first_error, e2e_diag());
	ck_assert_msg(l.ok >= LOAD_THREADS, "only %lu requests were made", l.ok);
	ck_assert_int_eq(metric(mport, "spliced_reloads_total{result=\"ok\"}"), LOAD_RELOADS);
	ck_assert_int_eq(metric(mport, "spliced_requests_total{class=\"5xx\"}"), 0);
	/* and the two metrics pages above */
	ck_assert_int_eq(metric(mport, "spliced_requests_total{class=\"2xx\"}"), (long long)l.ok + 2);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&a);
	e2e_backend_stop(&b);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "reload_target", test_reload_target, 0 },
		{ "reload_in_flight", test_reload_in_flight, 0 },
		{ "reload_refused", test_reload_refused, 0 },
		{ "reload_listen", test_reload_listen, 0 },
		{ "reload_privileged_port", test_reload_privileged_port, 0 },
		{ "reload_many_draining", test_reload_many_draining, 0 },
		{ "reload_fresh_connections", test_reload_fresh_connections, 120 },
		{ "reload_max_shared", test_reload_max_shared, 0 },
		{ "reload_listen_back", test_reload_listen_back, 0 },
		{ "stop_refuses_new", test_stop_refuses_new, 0 },
		{ "reload_keepalive_count", test_reload_keepalive_count, 0 },
		{ "reload_keepalive_timeout", test_reload_keepalive_timeout, 0 },
		{ "reload_under_load", test_reload_under_load, 120 },
	};
	Suite *s = suite_create("e2e_reload");

	ck_add_cases(s, cases, CK_N(cases), 60, NULL, NULL);
	return ck_run_suite(s);
}
