/* End-to-end suite for `make install` and `make uninstall`, run on this source tree into a
 * temporary DESTDIR with PREFIX=/usr, as a package build does: every file where the brief
 * of issue 12 puts it, the installed binary independent of the build tree (its built-in
 * configuration is the plain one although this tree has the demo), `-v` and `-t -c` on
 * the installed example configuration, the units (the service and the socket, whose
 * address is the example's Listen) accepted by `systemd-analyze verify` and
 * the logrotate snippet by `logrotate -d` (each skipped with a message where the tool is
 * missing), an edited configuration never overwritten, and uninstall keeping it. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

/* SPLICED_DATADIR is this source tree (the Makefile passes it to the tests). */
#define TREE SPLICED_DATADIR

static char dest[400];

/* make -C TREE TARGET DESTDIR=dest PREFIX=/usr; the Makefile variables of the `make test`
 * that runs this suite (SANITIZE=1, WERROR=1) come through MAKEFLAGS. */
static void make_target(const char *target, char **out)
{
	char destdir[450];
	const char *argv[] = { "/usr/bin/make", "-s", "-C", TREE, target, destdir, "PREFIX=/usr",
			       NULL };
	int code;

	snprintf(destdir, sizeof(destdir), "DESTDIR=%s", dest);
	code = e2e_run(argv, out);
	ck_assert_msg(code == 0, "make %s: exit %d\n%s", target, code, *out);
}

static char *in_dest(const char *rel)
{
	static char slot[4][600];
	static unsigned next;
	char *p = slot[next++ % 4];

	snprintf(p, sizeof(slot[0]), "%s%s", dest, rel);
	return p;
}

static void file_has_mode(const char *rel, mode_t mode)
{
	struct stat st;
	const char *p = in_dest(rel);

	ck_assert_msg(lstat(p, &st) == 0, "%s was not installed", p);
	ck_assert_msg(S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode,
		      "%s: mode %o, want a regular file %o", p, (unsigned)(st.st_mode & 07777),
		      (unsigned)mode);
}

static bool executable(const char *p)
{
	return access(p, X_OK) == 0;
}

/* Replaces every `from` in text (malloc'd) by `to`; returns a new malloc'd string. */
static char *replace_all(const char *text, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *out, *o;

	for (const char *t = strstr(text, from); t; t = strstr(t + fl, from))
		n++;
	out = malloc(strlen(text) + n * tl + 1);
	ck_assert(out != NULL);
	o = out;
	for (const char *t = text, *h; ; t = h + fl) {
		h = strstr(t, from);
		if (!h) {
			strcpy(o, t);
			break;
		}
		memcpy(o, t, (size_t)(h - t));
		o += h - t;
		memcpy(o, to, tl);
		o += tl;
	}
	return out;
}

START_TEST(test_install_uninstall)
{
	static const char *const files[] = {
		"/usr/share/man/man8/spliced.8", "/etc/spliced/spliced.conf",
		"/usr/share/spliced/bpftrace/latency.bt", "/usr/share/spliced/bpftrace/rules.bt",
		"/usr/share/spliced/bpftrace/slowest.bt", "/usr/lib/systemd/system/spliced.service",
		"/usr/lib/systemd/system/spliced.socket", "/etc/logrotate.d/spliced",
	};
	char bin[600], *out = NULL, *text, *conf, *sock;
	const char *argv[6] = { NULL };
	struct stat st;
	int code;

	snprintf(dest, sizeof(dest), "%s/dest", e2e_temp_dir());
	snprintf(bin, sizeof(bin), "%s/usr/sbin/spliced", dest);
	make_target("install", &out);
	free(out);
	file_has_mode("/usr/sbin/spliced", 0755);
	file_has_mode("/usr/share/spliced/trace", 0755);
	file_has_mode("/usr/share/spliced/perf-record.sh", 0755);
	for (unsigned i = 0; i < CK_N(files); i++)
		file_has_mode(files[i], 0644);
	ck_assert_msg(stat(in_dest("/etc/spliced/conf.d"), &st) == 0 && S_ISDIR(st.st_mode),
		      "no /etc/spliced/conf.d");

	/* The installed binary: its version, the example configuration checked, and its
	 * built-in configuration the plain one although this tree holds the demo. */
	argv[0] = bin;
	argv[1] = "-v";
	code = e2e_run(argv, &out);
	ck_assert_msg(code == 0 && strcmp(out, "spliced 0.1.0\n") == 0, "-v: %d, %s", code, out);
	free(out);
	argv[1] = "-t";
	argv[2] = "-c";
	argv[3] = in_dest("/etc/spliced/spliced.conf");
	code = e2e_run(argv, &out);
	/* -t also checks that the log and PidFile directories exist: the example's are made
	 * by the administrator (/var/log/spliced) and systemd (/run/spliced), so on this host
	 * they may be missing, and then only they are reported */
	{
		bool logdir = stat("/var/log/spliced", &st) == 0 && S_ISDIR(st.st_mode);
		bool rundir = stat("/run/spliced", &st) == 0 && S_ISDIR(st.st_mode);
		unsigned want = (logdir ? 0 : 2) + (rundir ? 0 : 1), lines = 0, missing = 0;

		for (char *p = out; (p = strchr(p, '\n')); p++)
			lines++;
		for (char *p = out; (p = strstr(p, ": No such file or directory\n")); p++)
			missing++;
		if (want == 0)
			ck_assert_msg(code == 0 && strcmp(out, "Syntax OK\n") == 0, "-t -c: %d, %s",
				      code, out);
		else
			ck_assert_msg(code == 1 && lines == want && missing == want &&
				      (logdir || strstr(out, "directory /var/log/spliced: ")) &&
				      (rundir || strstr(out, "directory /run/spliced: ")),
				      "-t -c: %d, %s", code, out);
	}
	free(out);
	argv[1] = "-h";
	argv[2] = NULL;
	code = e2e_run(argv, &out);
	ck_assert_msg(code == 0 && strstr(out, "built-in configuration: Listen 127.0.0.1:8080, "
					  "ProxyPass / http://127.0.0.1:8000/") &&
		      !strstr(out, "demo") && !strstr(out, TREE), "-h: %d, %s", code, out);
	free(out);

	/* The unit names the installed paths; systemd-analyze verifies a copy whose paths
	 * lead into DESTDIR (it wants the executables to exist). */
	text = e2e_read_file(in_dest("/usr/lib/systemd/system/spliced.service"), NULL);
	ck_assert(text != NULL);
	ck_assert(strstr(text, "\nType=notify\n"));
	ck_assert(strstr(text, "\nExecStartPre=/usr/sbin/spliced -t -c /etc/spliced/spliced.conf\n"));
	ck_assert(strstr(text, "\nExecStart=/usr/sbin/spliced -c /etc/spliced/spliced.conf\n"));
	ck_assert(strstr(text, "\nExecReload=/usr/sbin/spliced -k reload -c /etc/spliced/spliced.conf\n"));
	ck_assert(!strstr(text, "@SBINDIR@") && !strstr(text, "@SYSCONFDIR@"));
	/* The socket unit's address is the example's Listen 80 (0.0.0.0:80). */
	sock = e2e_read_file(in_dest("/usr/lib/systemd/system/spliced.socket"), NULL);
	conf = e2e_read_file(in_dest("/etc/spliced/spliced.conf"), NULL);
	ck_assert(sock != NULL && conf != NULL);
	ck_assert(strstr(sock, "\nListenStream=0.0.0.0:80\n") && strstr(conf, "\nListen 80\n"));
	ck_assert(strstr(sock, "\nService=spliced.service\n"));
	free(conf);
	if (executable("/usr/bin/systemd-analyze")) {
		char *a = replace_all(text, "/usr/sbin/spliced", bin);
		char *b = replace_all(a, "/etc/spliced/", in_dest("/etc/spliced/"));
		const char *va[] = { "/usr/bin/systemd-analyze", "verify", "--man=no", NULL, NULL,
				     NULL };

		/* side by side in one directory: the socket names the service */
		va[3] = e2e_write_temp("spliced.service", b);
		va[4] = e2e_write_temp("spliced.socket", sock);
		code = e2e_run(va, &out);
		ck_assert_msg(code == 0 && !strstr(out, "spliced.service") &&
			      !strstr(out, "spliced.socket"),
			      "systemd-analyze verify: %d\n%s", code, out);
		free(out);
		free(a);
		free(b);
	} else {
		fprintf(stderr, "SKIP systemd-analyze verify: /usr/bin/systemd-analyze missing\n");
	}
	free(text);
	free(sock);
	if (executable("/usr/sbin/logrotate")) {
		char state[500];
		const char *la[] = { "/usr/sbin/logrotate", "-d", "-s", state, NULL, NULL };

		snprintf(state, sizeof(state), "%s/logrotate.state", e2e_temp_dir());
		la[4] = in_dest("/etc/logrotate.d/spliced");
		code = e2e_run(la, &out);
		ck_assert_msg(code == 0 && !strstr(out, "error"), "logrotate -d: %d\n%s", code, out);
		free(out);
	} else {
		fprintf(stderr, "SKIP logrotate -d: /usr/sbin/logrotate missing (make deps)\n");
	}

	/* An edited configuration survives a second install. */
	conf = e2e_read_file(in_dest("/etc/spliced/spliced.conf"), NULL);
	ck_assert(conf != NULL);
	text = NULL;
	ck_assert(asprintf(&text, "%s# edited by its owner\n", conf) > 0);
	free(conf);
	{
		FILE *f = fopen(in_dest("/etc/spliced/spliced.conf"), "w");

		ck_assert(f != NULL);
		fputs(text, f);
		fclose(f);
	}
	make_target("install", &out);
	ck_assert_msg(strstr(out, "not overwritten"), "second install said: %s", out);
	free(out);
	conf = e2e_read_file(in_dest("/etc/spliced/spliced.conf"), NULL);
	ck_assert_str_eq(conf, text);
	free(conf);
	free(text);

	/* uninstall removes what install put there but the configuration. */
	make_target("uninstall", &out);
	free(out);
	ck_assert_int_eq(access(bin, F_OK), -1);
	ck_assert_int_eq(access(in_dest("/usr/share/man/man8/spliced.8"), F_OK), -1);
	ck_assert_int_eq(access(in_dest("/usr/lib/systemd/system/spliced.service"), F_OK), -1);
	ck_assert_int_eq(access(in_dest("/usr/lib/systemd/system/spliced.socket"), F_OK), -1);
	ck_assert_int_eq(access(in_dest("/usr/share/spliced"), F_OK), -1);
	ck_assert_int_eq(access(in_dest("/etc/spliced/spliced.conf"), F_OK), 0);
	ck_assert_int_eq(access(in_dest("/etc/logrotate.d/spliced"), F_OK), 0);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "install_uninstall", test_install_uninstall, 0 },
	};
	Suite *s = suite_create("e2e_install");

	ck_add_cases(s, cases, CK_N(cases), 120, NULL, NULL);
	return ck_run_suite(s);
}
