/* Check suite for src/cfgcheck.c: what `spliced -t` finds missing after a valid parse,
 * each finding with its directive's file and line, in the order of the file. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spliced/cfgcheck.h"
#include "spliced/config.h"
#include "suite.h"

#define MAX_FOUND 64

static struct config cfg;
static char dir[64];
static char conf[128];

static struct finding {
	bool warning;
	struct config_error e;
} found[MAX_FOUND];
static unsigned nfound;

static void collect(void *arg, bool warning, const struct config_error *e)
{
	(void)arg;
	ck_assert_uint_lt(nfound, MAX_FOUND);
	found[nfound].warning = warning;
	found[nfound++].e = *e;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/spliced-cfgcheck-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/spliced.conf", dir);
	nfound = 0;
}

static void write_at(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Loads text as DIR/spliced.conf (it must be valid) and runs the checks. */
static unsigned check(const char *text)
{
	struct config_error err;

	write_at(conf, text);
	config_free(&cfg);
	ck_assert_msg(config_load(&cfg, conf, &err) == 0, "%s:%u: %s", err.file, err.line,
		      err.msg);
	nfound = 0;
	return cfgcheck_run(&cfg, collect, NULL);
}

/* found[i] is an error (or warning) on `line` of `file` whose message starts with msg. */
static void ck_found(unsigned i, bool warning, const char *file, unsigned line,
		     const char *msg)
{
	ck_assert_uint_lt(i, nfound);
	ck_assert_msg(found[i].warning == warning, "%u: %s", i, found[i].e.msg);
	ck_assert_str_eq(found[i].e.file, file);
	ck_assert_uint_eq(found[i].e.line, line);
	ck_assert_msg(strncmp(found[i].e.msg, msg, strlen(msg)) == 0, "%u: \"%s\" is not \"%s...\"",
		      i, found[i].e.msg, msg);
}

/* Everything there: no finding. */
START_TEST(test_all_there)
{
	char text[1024];

	snprintf(text, sizeof(text), "Listen 127.0.0.1:8080\nDocumentRoot %s\nAlias /a/ %s/\n"
		 "ErrorLog %s/e.log\nCustomLog %s/a.log common\nPidFile %s/x.pid\n"
		 "User nobody\nProxyPass /app/ http://127.0.0.1:9/\n", dir, dir, dir, dir, dir);
	ck_assert_uint_eq(check(text), 0);
	ck_assert_uint_eq(nfound, 0);
}
END_TEST

/* Every missing thing, in line order although the checks run in another; a missing
 * RewriteRule file root is a warning, not counted. */
START_TEST(test_missing)
{
	char text[2048], inc[160], want[256];

	snprintf(inc, sizeof(inc), "%s/more.conf", dir);
	write_at(inc, "ProxyPass / http://127.0.0.1:9/\nUser no-such-user-cfgcheck\n");
	snprintf(text, sizeof(text),
		 "Listen 127.0.0.1:8080\n"
		 "DocumentRoot %s/none\n"
		 "Alias /a/ %s\n"                        /* a file, not a directory */
		 "ErrorLog %s/none/e.log\n"
		 "Include more.conf\n"
		 "CustomLog %s/a.log common\n"           /* fine */
		 "Group no-such-group-cfgcheck\n"
		 "TypesConfig %s/none.types\n"
		 "RewriteEngine On\n"
		 "RewriteRule ^/r/(.*)$ %s/later/$1\n"
		 "Listen 192.0.2.1:8080\n",
		 dir, conf, dir, dir, dir, dir);
	ck_assert_uint_eq(check(text), 7);
	ck_assert_uint_eq(nfound, 8);
	snprintf(want, sizeof(want), "DocumentRoot: %s/none: No such file or directory", dir);
	ck_found(0, false, conf, 2, want);
	ck_found(1, false, conf, 3, "Alias /a/: ");
	ck_assert_ptr_nonnull(strstr(found[1].e.msg, "Not a directory"));
	ck_found(2, false, conf, 4, "ErrorLog ");
	ck_found(3, false, conf, 7, "Group no-such-group-cfgcheck: no such group");
	ck_found(4, false, conf, 8, "TypesConfig: ");
	ck_found(5, false, conf, 11, "Listen 192.0.2.1:8080: the address is not one of this host's");
	/* the Include'd file after the main one */
	ck_found(6, false, inc, 2, "User no-such-user-cfgcheck: no such user");
	/* what no directive names last */
	snprintf(want, sizeof(want), "RewriteRule file root %s/later: ", dir);
	ck_found(7, true, "", 0, want);
}
END_TEST

/* ProxyAutostart: its User=/Group=, Dir= and Output= directory. */
START_TEST(test_autostart)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "Listen 127.0.0.1:8080\n"
		 "ProxyPass / http://127.0.0.1:9/\n"
		 "ProxyAutostart http://127.0.0.1:9 User=no-such-user-cfgcheck Dir=%s/none "
		 "Output=%s/none/out.log -- /bin/true\n", dir, dir);
	ck_assert_uint_eq(check(text), 3);
	ck_found(0, false, conf, 3, "ProxyAutostart http://127.0.0.1:9: User no-such-user-cfgcheck");
	ck_found(1, false, conf, 3, "ProxyAutostart http://127.0.0.1:9: Dir=");
	ck_found(2, false, conf, 3, "ProxyAutostart Output= ");
	snprintf(text, sizeof(text),
		 "Listen 127.0.0.1:8080\n"
		 "ProxyPass / http://127.0.0.1:9/\n"
		 "ProxyAutostart http://127.0.0.1:9 Dir=%s Output=%s/out.log -- /bin/true\n",
		 dir, dir);
	ck_assert_uint_eq(check(text), 0);
	ck_assert_uint_eq(nfound, 0);
}
END_TEST

static Suite *cfgcheck_suite(void)
{
	Suite *s = suite_create("cfgcheck");
	const struct ck_case cases[] = {
		{ "all_there", test_all_there, 0 },
		{ "missing", test_missing, 0 },
		{ "autostart", test_autostart, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, setup, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(cfgcheck_suite());
}
