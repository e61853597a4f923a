/* Check suite for src/headers.c: Header and RequestHeader parsed (through config_parse(),
 * so config.c's hooks are tested too), each action on a block of fields, and the order
 * the rules of the server, a virtual host and <Location> sections apply in. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/config.h"
#include "spliced/headers.h"
#include "cfx.h"
#include "suite.h"

#define PROXY "ProxyPass / http://127.0.0.1:9/\n"

/* Loads "PROXY line", applies its one rule to in; expects out (NULL: does not fit cap). */
static void edit(const char *line, const char *in, const char *out, size_t cap)
{
	char conf[2048], buf[4096];
	ssize_t n;

	snprintf(conf, sizeof(conf), PROXY "%s\n", line);
	cfx_load(conf);
	ck_assert_uint_eq(cfx_cfg.headers.n, 1);
	strcpy(buf, in);
	n = headers_edit(&cfx_cfg.headers.rule[0], buf, strlen(in), cap ? cap : sizeof(buf));
	if (!out) {
		ck_assert_int_eq(n, -1);
		return;
	}
	ck_assert_msg(n >= 0, "%s: no room", line);
	buf[n] = '\0';
	ck_assert_msg(strcmp(buf, out) == 0, "%s on \"%s\": \"%s\", expected \"%s\"", line, in, buf,
		      out);
}

START_TEST(actions)
{
	const char *in = "A: 1\r\nX-Test: a\r\nB: 2\r\nx-test: b\r\n";

	edit("Header set X-Test v", in, "A: 1\r\nX-Test: v\r\nB: 2\r\n", 0);
	edit("Header set X-New \"v w\"", in, "A: 1\r\nX-Test: a\r\nB: 2\r\nx-test: b\r\nX-New: v w\r\n", 0);
	edit("Header unset x-TEST", in, "A: 1\r\nB: 2\r\n", 0);
	edit("Header unset X-None", in, in, 0);
	edit("Header add X-Test c", in, "A: 1\r\nX-Test: a\r\nB: 2\r\nx-test: b\r\nX-Test: c\r\n", 0);
	edit("Header append X-Test c", in, "A: 1\r\nX-Test: a, c\r\nB: 2\r\nx-test: b\r\n", 0);
	edit("Header append X-New c", in, "A: 1\r\nX-Test: a\r\nB: 2\r\nx-test: b\r\nX-New: c\r\n", 0);
	edit("Header merge X-Test a", in, in, 0);
	edit("Header merge X-Test c", in, "A: 1\r\nX-Test: a, c\r\nB: 2\r\nx-test: b\r\n", 0);
	edit("Header merge C \"no-cache\"", "C: private,  no-cache \r\n", "C: private,  no-cache \r\n", 0);
	edit("Header setifempty X-Test c", in, in, 0);
	edit("Header setifempty X-New c", in, "A: 1\r\nX-Test: a\r\nB: 2\r\nx-test: b\r\nX-New: c\r\n", 0);
	edit("Header append E x", "E:\r\n", "E:x\r\n", 0);
	edit("Header set X \"100%% sure\"", "", "X: 100% sure\r\n", 0);
	edit("RequestHeader set X-Req r", "X-Req:  old \r\n", "X-Req:  r \r\n", 0);
	edit("Header always set Strict-Transport-Security \"max-age=63072000; includeSubDomains\"",
	     "", "Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n", 0);
	/* no room: -1, never a write past cap */
	edit("Header add X-Long 0123456789", "A: 1\r\n", NULL, 20);
}
END_TEST

START_TEST(tables)
{
	cfx_load(PROXY "Header set A 1\nHeader always set B 2\nHeader onsuccess set C 3\n"
		 "RequestHeader set D 4\n");
	ck_assert_uint_eq(cfx_cfg.headers.n, 4);
	ck_assert_int_eq(cfx_cfg.headers.rule[0].table, HDR_ONSUCCESS);
	ck_assert_int_eq(cfx_cfg.headers.rule[1].table, HDR_ALWAYS);
	ck_assert_int_eq(cfx_cfg.headers.rule[2].table, HDR_ONSUCCESS);
	ck_assert_int_eq(cfx_cfg.headers.rule[3].table, HDR_REQUEST);
	ck_assert(cfx_cfg.headers.any[HDR_REQUEST] && cfx_cfg.headers.any[HDR_ALWAYS]);
}
END_TEST

/* The server's rules, the virtual host's, then the matching <Location>s' (main server's
 * sections first), each in file order: the last set wins. */
START_TEST(order)
{
	char b[1024];
	ssize_t n;

	cfx_load(PROXY "<Location /a>\nHeader append X loc-main-a\n</Location>\n"
		 "Header set X server\n"
		 "<VirtualHost *:80>\nServerName v\n"
		 "  <Location />\nHeader append X loc-vh-root\n</Location>\n"
		 "  Header append X vhost\n"
		 "</VirtualHost>\n"
		 "<Location />\nHeader append X loc-main-root\n</Location>\n");
	n = headers_apply(&cfx_cfg.headers, &cfx_cfg.authz, HDR_ONSUCCESS, 1, "/a/b", 4, b, 0,
			  sizeof(b));
	ck_assert_int_ge(n, 0);
	b[n] = '\0';
	ck_assert_str_eq(b, "X: server, vhost, loc-main-a, loc-main-root, loc-vh-root\r\n");
	n = headers_apply(&cfx_cfg.headers, &cfx_cfg.authz, HDR_ONSUCCESS, 0, "/b", 2, b, 0,
			  sizeof(b));
	b[n] = '\0';
	ck_assert_str_eq(b, "X: server, loc-main-root\r\n");
	/* other tables are untouched */
	n = headers_apply(&cfx_cfg.headers, &cfx_cfg.authz, HDR_ALWAYS, 1, "/a", 2, b, 0,
			  sizeof(b));
	ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(load_errors)
{
	cfx_refused(PROXY "Header set Content-Length 5\n", "frames the message");
	cfx_refused(PROXY "Header unset transfer-encoding\n", "frames the message");
	cfx_refused(PROXY "Header always set Connection close\n", "frames the message");
	cfx_refused(PROXY "RequestHeader set Host x\n", "written by spliced");
	cfx_refused(PROXY "RequestHeader unset X-Forwarded-For\n", "written by spliced");
	cfx_refused(PROXY "Header set X \"%{FOO}e\"\n", "not supported");
	cfx_refused(PROXY "Header set X \"%t\"\n", "not supported");
	cfx_refused(PROXY "Header set X v env=FOO\n", "conditions");
	cfx_refused(PROXY "Header set X v expr=true\n", "conditions");
	cfx_refused(PROXY "Header edit X a b\n", "action \"edit\" is not supported");
	cfx_refused(PROXY "Header echo X\n", "action \"echo\"");
	cfx_refused(PROXY "Header note X y\n", "action \"note\"");
	cfx_refused(PROXY "Header set X\n", "needs a value");
	cfx_refused(PROXY "Header unset X y\n", "unset takes no value");
	cfx_refused(PROXY "Header set \"X Y\" v\n", "not a field name");
	cfx_refused(PROXY "Header set X: v\n", "not a field name");
	cfx_refused(PROXY "Header always\n", "takes at least 2 arguments");
	cfx_refused(PROXY "Header always set\n", "needs a field name");
	cfx_refused(PROXY "RequestHeader always set X v\n", "action \"always\"");
	cfx_refused(PROXY "<Location /a>\nLogLevel info\n</Location>\n",
		    "not supported in <Location>");
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "actions", actions, 0 },
		{ "tables", tables, 0 },
		{ "order", order, 0 },
		{ "load_errors", load_errors, 0 },
	};
	Suite *s = suite_create("headers");

	ck_add_cases(s, cases, CK_N(cases), 0, cfx_setup, cfx_teardown);
	return ck_run_suite(s);
}
