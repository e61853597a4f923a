/* End-to-end suite for RemoteIPHeader (httpd's mod_remoteip) through the real spliced and
 * a recording testbackend on loopback: from a trusted proxy (the test client on
 * 127.0.0.1) the client named in X-Forwarded-For is the client everywhere (upstream
 * X-Forwarded-For, %a in the access log, %{REMOTE_ADDR} in rewrite conditions) and
 * X-Forwarded-Proto is kept; from anyone else these are replaced as without the module. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "suite.h"

/* RewriteCond %{REMOTE_ADDR}: the resolved client 203.0.113.7 is refused /cond. */
#define COND_RULES "RewriteEngine On\n" \
		   "RewriteCond %%{REMOTE_ADDR} ^203\\.0\\.113\\.7$\n" \
		   "RewriteRule ^/cond - [F]\n"

static const char *alog_path(void)
{
	static char p[400];

	snprintf(p, sizeof(p), "%s/access.log", e2e_temp_dir());
	return p;
}

/* The access log once it holds `lines` lines (the workers write it out in batches):
 * polled every 20 ms, at most 10 s. malloc'd; fails the test when it never does. */
static char *alog_wait(unsigned lines)
{
	for (int i = 0; i < 500; i++) {
		char *text = e2e_read_file(alog_path(), NULL);
		unsigned n = 0;

		for (const char *p = text; p && (p = strchr(p, '\n')); p++)
			n++;
		if (n >= lines)
			return text;
		free(text);
		e2e_sleep_ms(20);
	}
	ck_abort_msg("the access log never had %u lines %s", lines, e2e_diag());
	return NULL;
}

/* Sends a GET with the extra header lines `fields` and returns the status; the head the
 * backend received (the testbackend echoes it as the body) is copied into seen. */
static int get(struct e2e_client *c, const char *path, const char *fields, char *seen,
	       size_t seen_len)
{
	char req[1024];
	struct e2e_response r;
	int status;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: site.example\r\n%s\r\n", path,
		 fields);
	e2e_roundtrip(c, req, strlen(req), &r, false);
	status = r.status;
	if (seen) {
		size_t n = r.body_len < seen_len - 1 ? r.body_len : seen_len - 1;

		memcpy(seen, r.body, n);
		seen[n] = '\0';
	}
	e2e_response_free(&r);
	return status;
}

static const char *field(const char *head, const char *name)
{
	static char slot[4][256];
	static unsigned next;
	char *out = slot[next++ % 4];

	return e2e_head_field(head, strlen(head), name, out, sizeof(slot[0]));
}

static void start(struct e2e_proc *be, struct e2e_proc *sp, const char *remoteip)
{
	memset(be, 0, sizeof(*be));
	memset(sp, 0, sizeof(*sp));
	e2e_backend_start_recording(be, NULL);
	e2e_spliced_startf(sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "LogFormat \"%%a %%h %%{c}a %%U\" ips\nCustomLog %s ips\n"
			   COND_RULES "%s", be->port, alog_path(), remoteip);
}

static void stop(struct e2e_proc *be, struct e2e_proc *sp)
{
	ck_assert_int_eq(e2e_spliced_stop(sp), 0);
	e2e_backend_stop(be);
}

/* An HTTPS terminator on 127.0.0.1 (RemoteIPTrustedProxy) in front: the backend sees the
 * client it names and its https; the access log and the rewrite conditions too. */
START_TEST(test_trusted_proxy)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	char seen[8192], *rec, *log;
	size_t rl = 0;

	start(&be, &sp, "RemoteIPHeader X-Forwarded-For\nRemoteIPTrustedProxy 127.0.0.1\n");
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/a", "X-Forwarded-For: 203.0.113.7\r\n"
			     "X-Forwarded-Proto: https\r\n", seen, sizeof(seen)), 200);
	/* the recording holds exactly what reached the backend */
	rec = e2e_read_file(be.record, &rl);
	ck_assert_ptr_nonnull(rec);
	ck_assert_msg(e2e_head_has_line(rec, rl, "X-Forwarded-For: 203.0.113.7"),
		      "the backend received:\n%s", e2e_esc(rec, rl));
	ck_assert_msg(e2e_head_has_line(rec, rl, "X-Forwarded-Proto: https"),
		      "the backend received:\n%s", e2e_esc(rec, rl));
	ck_assert_uint_eq(e2e_head_field_count(rec, rl, "X-Forwarded-Proto"), 1);
	ck_assert_uint_eq(e2e_head_field_count(rec, rl, "X-Forwarded-For"), 1);
	free(rec);
	/* a chain: what the client wrote stays in front of the client the proxy names */
	ck_assert_int_eq(get(&c, "/b", "X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n", seen,
			     sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "6.6.6.6, 203.0.113.7");
	ck_assert_str_eq(field(seen, "X-Forwarded-Proto"), "http");  /* none sent: ours */
	/* REMOTE_ADDR is the client */
	ck_assert_int_eq(get(&c, "/cond", "X-Forwarded-For: 198.51.100.1\r\n", NULL, 0), 200);
	ck_assert_int_eq(get(&c, "/cond", "X-Forwarded-For: 203.0.113.7\r\n", NULL, 0), 403);
	e2e_client_close(&c);   /* a 403 of [F] ends the connection */
	e2e_client_open(&c, sp.port);
	/* the next request on the connection without the field: the peer again */
	ck_assert_int_eq(get(&c, "/c", "", seen, sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "127.0.0.1");
	/* a trusted (not internal) proxy may not name a private client: the peer stays */
	ck_assert_int_eq(get(&c, "/d", "X-Forwarded-For: 10.1.2.3\r\n", seen, sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "10.1.2.3, 127.0.0.1");
	e2e_client_close(&c);

	log = alog_wait(6);
	ck_assert_msg(strstr(log, "203.0.113.7 203.0.113.7 127.0.0.1 /a\n") &&
		      strstr(log, "203.0.113.7 203.0.113.7 127.0.0.1 /b\n") &&
		      strstr(log, "198.51.100.1 198.51.100.1 127.0.0.1 /cond\n") &&
		      strstr(log, "127.0.0.1 127.0.0.1 127.0.0.1 /c\n") &&
		      strstr(log, "127.0.0.1 127.0.0.1 127.0.0.1 /d\n"),
		      "access log:\n%s", log);
	free(log);
	stop(&be, &sp);
}
END_TEST

/* Internal proxies (a balancer on the internal network behind the local terminator) may
 * present private clients; their own addresses do not reach the backend. A value that is
 * not an address keeps the peer, and says so at debug. */
START_TEST(test_internal_chain)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	char seen[8192];

	start(&be, &sp, "LogLevel debug\nRemoteIPHeader X-Forwarded-For\n"
		  "RemoteIPInternalProxy 127.0.0.0/8 10.0.0.0/8\n");
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/a", "X-Forwarded-For: 192.168.7.7, 10.0.0.9\r\n"
			     "X-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example\r\n",
			     seen, sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "192.168.7.7");
	ck_assert_str_eq(field(seen, "X-Forwarded-Proto"), "https");
	ck_assert_str_eq(field(seen, "X-Forwarded-Host"), "public.example");
	ck_assert_int_eq(get(&c, "/b", "X-Forwarded-For: 203.0.113.7:4711\r\n"
			     "X-Forwarded-Proto: https\r\n", seen, sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "203.0.113.7:4711, 127.0.0.1");
	ck_assert_str_eq(field(seen, "X-Forwarded-Proto"), "https");
	e2e_client_close(&c);
	ck_assert_msg(e2e_log_wait_for(&sp, "stopped at an item that is not an IP address", 10000),
		      "no debug line for the unusable value %s", e2e_diag());
	stop(&be, &sp);
}
END_TEST

/* The peer is not among the proxies (RemoteIPTrustedProxy 10.0.0.0/8): everything is
 * replaced as without RemoteIPHeader. */
START_TEST(test_untrusted_peer)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	char seen[8192], *rec, *log;
	size_t rl = 0;

	start(&be, &sp, "RemoteIPHeader X-Forwarded-For\nRemoteIPTrustedProxy 10.0.0.0/8\n");
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/a", "X-Forwarded-For: 203.0.113.7\r\n"
			     "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n",
			     seen, sizeof(seen)), 200);
	rec = e2e_read_file(be.record, &rl);
	ck_assert_ptr_nonnull(rec);
	ck_assert_msg(e2e_head_has_line(rec, rl, "X-Forwarded-For: 203.0.113.7, 127.0.0.1") &&
		      e2e_head_has_line(rec, rl, "X-Forwarded-Proto: http") &&
		      e2e_head_has_line(rec, rl, "X-Forwarded-Host: site.example"),
		      "the backend received:\n%s", e2e_esc(rec, rl));
	ck_assert_uint_eq(e2e_head_field_count(rec, rl, "X-Forwarded-Proto"), 1);
	ck_assert_uint_eq(e2e_head_field_count(rec, rl, "X-Forwarded-Host"), 1);
	free(rec);
	ck_assert_int_eq(get(&c, "/cond", "X-Forwarded-For: 203.0.113.7\r\n", NULL, 0), 200);
	e2e_client_close(&c);
	log = alog_wait(2);
	ck_assert_msg(strstr(log, "127.0.0.1 127.0.0.1 127.0.0.1 /a\n") &&
		      strstr(log, "127.0.0.1 127.0.0.1 127.0.0.1 /cond\n"), "access log:\n%s", log);
	free(log);
	stop(&be, &sp);
}
END_TEST

/* Require ip (<Location>) judges the client a trusted proxy names, as httpd's
 * mod_authz_host does with mod_remoteip; from anyone else, the peer. */
START_TEST(test_require_ip)
{
	static const char loc[] = "<Location /staff/>\nRequire ip 203.0.113.0/24\n</Location>\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	char conf[512];

	snprintf(conf, sizeof(conf), "%sRemoteIPHeader X-Forwarded-For\n"
		 "RemoteIPTrustedProxy 127.0.0.1\n", loc);
	start(&be, &sp, conf);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/staff/x", "X-Forwarded-For: 203.0.113.7\r\n", NULL, 0), 200);
	ck_assert_int_eq(get(&c, "/staff/x", "X-Forwarded-For: 198.51.100.1\r\n", NULL, 0), 403);
	e2e_client_close(&c);
	stop(&be, &sp);

	snprintf(conf, sizeof(conf), "%sRemoteIPHeader X-Forwarded-For\n"
		 "RemoteIPTrustedProxy 10.0.0.0/8\n", loc);
	start(&be, &sp, conf);
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/staff/x", "X-Forwarded-For: 203.0.113.7\r\n", NULL, 0), 403);
	e2e_client_close(&c);
	stop(&be, &sp);
}
END_TEST

/* The proxies come and go with a reload (SIGHUP): the new configuration's workers use the
 * new list; a reload refused for a bad RemoteIP line keeps the running one. */
START_TEST(test_reload)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	char seen[8192];

	start(&be, &sp, "");
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/a", "X-Forwarded-For: 203.0.113.7\r\n", seen, sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "203.0.113.7, 127.0.0.1");
	e2e_client_close(&c);

	e2e_conf_append(&sp, "RemoteIPHeader X-Forwarded-For\nRemoteIPTrustedProxy 127.0.0.1\n");
	ck_assert_msg(e2e_reload(&sp, 2), "the reload failed %s", e2e_diag());
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/b", "X-Forwarded-For: 203.0.113.7\r\n", seen, sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "203.0.113.7");
	e2e_client_close(&c);

	e2e_conf_replace(&sp, "RemoteIPTrustedProxy 127.0.0.1", "RemoteIPTrustedProxy lb.example");
	ck_assert_msg(!e2e_reload(&sp, 3), "a hostname proxy was accepted %s", e2e_diag());
	e2e_client_open(&c, sp.port);
	ck_assert_int_eq(get(&c, "/c", "X-Forwarded-For: 203.0.113.7\r\n", seen, sizeof(seen)), 200);
	ck_assert_str_eq(field(seen, "X-Forwarded-For"), "203.0.113.7");
	e2e_client_close(&c);
	stop(&be, &sp);
}
END_TEST

/* A configuration spliced cannot honour exactly is not started. */
START_TEST(test_refused_configs)
{
	static const char *const bad[][2] = {
		{ "RemoteIPHeader X-Real-IP\nRemoteIPTrustedProxy 10.0.0.1\n",
		  "only X-Forwarded-For is implemented" },
		{ "RemoteIPHeader X-Forwarded-For\n", "name the proxies" },
		{ "RemoteIPHeader X-Forwarded-For\nRemoteIPTrustedProxy lb.example\n",
		  "hostname" },
	};
	const char *bin = e2e_env_bin("SPLICED_BIN");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512], *out = NULL;
		const char *conf;
		int code;

		snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\nProxyPass / http://127.0.0.1:1/\n%s",
			 e2e_dead_port(), bad[i][0]);
		conf = e2e_write_temp("bad.conf", text);
		{
			const char *argv[] = { bin, "-t", "-c", conf, NULL };

			code = e2e_run(argv, &out);
		}
		ck_assert_msg(code != 0, "spliced -t accepted:\n%s", text);
		ck_assert_msg(out && strstr(out, bad[i][1]), "spliced -t said:\n%s", out);
		free(out);
	}
}
END_TEST

static Suite *e2e_remoteip_suite(void)
{
	Suite *s = suite_create("e2e_remoteip");
	const struct ck_case cases[] = {
		{ "trusted_proxy", test_trusted_proxy, 0 },
		{ "internal_chain", test_internal_chain, 0 },
		{ "untrusted_peer", test_untrusted_peer, 0 },
		{ "require_ip", test_require_ip, 0 },
		{ "reload", test_reload, 0 },
		{ "refused_configs", test_refused_configs, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(e2e_remoteip_suite());
}
