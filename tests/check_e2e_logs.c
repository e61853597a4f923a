/* End-to-end suite for the log files, through the real spliced binary (run as root in CI,
 * with the default User nobody, so that it really drops its privileges): a log path never
 * leads root to open or chown anything but the intended regular file, at start-up or on
 * SIGUSR1; /dev/null works untouched; rotation works. The tests that need root say SKIP
 * otherwise. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define NOBODY 65534

static bool need_root(const char *test)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "check_e2e_logs: SKIP %s: needs root (spliced must start as root and "
		"drop to User nobody)\n", test);
	return false;
}

/* A path in the test's temporary directory (static rotating storage, 8 slots). */
static const char *tpath(const char *name)
{
	static char slot[8][400];
	static unsigned next;
	char *p = slot[next++ % 8];

	snprintf(p, sizeof(slot[0]), "%s/%s", e2e_temp_dir(), name);
	return p;
}

/* A root-owned 0600 file holding "secret\n": what a planted link points at. */
static const char *make_secret(void)
{
	const char *p = tpath("secret");
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "create %s: %s", p, strerror(errno));
	ck_assert_int_eq(write(fd, "secret\n", 7), 7);
	ck_assert_int_eq(fchmod(fd, 0600), 0);
	close(fd);
	return p;
}

/* The file keeps its owner, mode and content. */
static void untouched(const char *p, uid_t uid, mode_t mode, const char *content)
{
	struct stat st;
	char *text;

	ck_assert_msg(lstat(p, &st) == 0, "%s: %s", p, strerror(errno));
	ck_assert_msg(st.st_uid == uid, "%s now belongs to uid %u", p, (unsigned)st.st_uid);
	ck_assert_msg((st.st_mode & 07777) == mode, "%s now has mode %o", p,
		      (unsigned)(st.st_mode & 07777));
	text = e2e_read_file(p, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strcmp(text, content) == 0, "%s now holds \"%s\"", p, e2e_escs(text));
	free(text);
}

/* Runs spliced on `config` (a free Listen port is added) to completion, at most 30 s (a
 * spliced that starts is then killed and the test fails). Returns its exit code, its
 * output in *out (malloc'd). */
static int run_spliced(const char *config, char **out)
{
	const char *bin = e2e_env_bin("SPLICED_BIN");
	char *text = NULL;
	const char *conf;
	int code;

	ck_assert(asprintf(&text, "Listen 127.0.0.1:%d\nWorkers 1\nProxyPass / "
			   "http://127.0.0.1:%d/\n%s\n", e2e_free_port(), e2e_dead_port(),
			   config) > 0);
	conf = e2e_write_temp("refused.conf", text);
	{
		const char *argv[] = { bin, "-c", conf, NULL };

		code = e2e_run(argv, out);
	}
	free(text);
	return code;
}

/* spliced refuses to start, saying `what` in its output. */
static void refused(const char *config, const char *what)
{
	char *out = NULL;
	int code = run_spliced(config, &out);

	ck_assert_msg(code == 1, "spliced exited with %d (1 expected); output:\n%s", code, out);
	ck_assert_msg(strstr(out, what) != NULL, "output lacks \"%s\":\n%s", what, out);
	free(out);
}

static void get_ok(int port, const char *target)
{
	struct e2e_client c;
	struct e2e_response r;
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: logs\r\n\r\n", target);

	e2e_client_open(&c, port);
	e2e_roundtrip(&c, req, (size_t)n, &r, false);
	ck_assert_int_eq(r.status, 200);
	e2e_response_free(&r);
	e2e_client_close(&c);
}

static unsigned count_in(const char *path, const char *needle)
{
	char *text = e2e_read_file(path, NULL);
	unsigned n = 0;

	for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* Polls (20 ms, at most timeout_ms) until path holds needle at least n times. */
static bool wait_count(const char *path, const char *needle, unsigned n, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		if (count_in(path, needle) >= n)
			return true;
		e2e_sleep_ms(20);
	}
	return false;
}

/* ---- start-up ---- */

START_TEST(test_errorlog_symlink_refused)
{
	const char *secret, *log;
	char conf[1024], what[600];

	if (!need_root("errorlog_symlink"))
		return;
	secret = make_secret();
	log = tpath("error.log");
	ck_assert_int_eq(symlink(secret, log), 0);
	snprintf(conf, sizeof(conf), "ErrorLog \"%s\"\n", log);
	snprintf(what, sizeof(what), "ErrorLog %s: is a symbolic link, not followed", log);
	refused(conf, what);
	untouched(secret, 0, 0600, "secret\n");
}
END_TEST

START_TEST(test_customlog_symlink_refused)
{
	const char *secret, *log;
	char conf[1024], what[600];

	if (!need_root("customlog_symlink"))
		return;
	secret = make_secret();
	log = tpath("access.log");
	ck_assert_int_eq(symlink(secret, log), 0);
	snprintf(conf, sizeof(conf), "ErrorLog \"%s\"\nCustomLog \"%s\" common\n",
		 tpath("error.log"), log);
	snprintf(what, sizeof(what), "CustomLog %s: is a symbolic link, not followed", log);
	refused(conf, what);
	untouched(secret, 0, 0600, "secret\n");
	/* TransferLog is the same directive underneath */
	snprintf(conf, sizeof(conf), "TransferLog \"%s\"\n", log);
	refused(conf, what);
	untouched(secret, 0, 0600, "secret\n");
}
END_TEST

/* A hard link needs no permission on the target's directory: refused, the file keeps its
 * owner (before, root chowned it to User). */
START_TEST(test_hardlink_refused)
{
	const char *secret, *log;
	char conf[1024], what[600];

	if (!need_root("hardlink"))
		return;
	secret = make_secret();
	log = tpath("access.log");
	ck_assert_int_eq(link(secret, log), 0);
	snprintf(conf, sizeof(conf), "CustomLog \"%s\" common\n", log);
	snprintf(what, sizeof(what), "CustomLog %s: has 2 hard links, refused", log);
	refused(conf, what);
	untouched(secret, 0, 0600, "secret\n");
	snprintf(conf, sizeof(conf), "ErrorLog \"%s\"\n", log);
	snprintf(what, sizeof(what), "ErrorLog %s: has 2 hard links, refused", log);
	refused(conf, what);
	untouched(secret, 0, 0600, "secret\n");
}
END_TEST

/* A FIFO is a start-up error, never a hang (the run is bounded: a spliced blocked in
 * open() would fail the test). With a reader it opens, and is still refused. */
START_TEST(test_fifo_refused)
{
	const char *log = tpath("fifo.log");
	char conf[1024], what[600];
	int rd;

	ck_assert_int_eq(mkfifo(log, 0666), 0);
	snprintf(conf, sizeof(conf), "ErrorLog \"%s\"\n", log);
	snprintf(what, sizeof(what), "ErrorLog %s: is not a regular file", log);
	refused(conf, what);
	rd = open(log, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(rd, 0);
	snprintf(conf, sizeof(conf), "CustomLog \"%s\" common\n", log);
	snprintf(what, sizeof(what), "CustomLog %s: is not a regular file (a FIFO)", log);
	refused(conf, what);
	close(rd);
}
END_TEST

START_TEST(test_directory_refused)
{
	const char *log = tpath("logdir");
	char conf[1024], what[600];

	ck_assert_int_eq(mkdir(log, 0755), 0);
	snprintf(conf, sizeof(conf), "CustomLog \"%s\" common\n", log);
	snprintf(what, sizeof(what), "CustomLog %s: is a directory", log);
	refused(conf, what);
	snprintf(conf, sizeof(conf), "ErrorLog \"%s\"\n", log);
	snprintf(what, sizeof(what), "ErrorLog %s: is a directory", log);
	refused(conf, what);
}
END_TEST

/* CustomLog /dev/null: spliced starts and serves, /dev/null stays root's, mode 0666 (a
 * failure puts it back first). */
START_TEST(test_devnull_not_chowned)
{
	struct e2e_proc be, sp;
	struct stat st;
	int code;

	if (!need_root("devnull"))
		return;
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nCustomLog /dev/null common\n",
			   be.port);
	get_ok(sp.port, "/?len=10");
	code = e2e_spliced_stop(&sp);
	ck_assert_int_eq(stat("/dev/null", &st), 0);
	if (st.st_uid != 0 || st.st_gid != 0 || (st.st_mode & 07777) != 0666) {
		chown("/dev/null", 0, 0);
		chmod("/dev/null", 0666);
	}
	ck_assert_msg(st.st_uid == 0 && st.st_gid == 0, "/dev/null was chowned to %u:%u",
		      (unsigned)st.st_uid, (unsigned)st.st_gid);
	ck_assert_uint_eq(st.st_mode & 07777, 0666);
	ck_assert_int_eq(code, 0);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- rotation ---- */

/* logrotate without "create": the directory is User's, the files are renamed, SIGUSR1
 * makes spliced (as nobody) create new ones, which get the next lines. */
START_TEST(test_rotation)
{
	char alog[400], arot[512], erot[512];
	struct e2e_proc be, sp;
	struct stat st;

	if (!need_root("rotation"))
		return;
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nCustomLog \"%s/access.log\" "
			   "common\n", be.port, e2e_temp_dir());
	snprintf(alog, sizeof(alog), "%s/access.log", e2e_temp_dir());
	snprintf(arot, sizeof(arot), "%s.1", alog);
	snprintf(erot, sizeof(erot), "%s.1", sp.log);
	ck_assert_int_eq(stat(alog, &st), 0);
	ck_assert_uint_eq(st.st_uid, NOBODY);   /* handed to User */
	get_ok(sp.port, "/first");
	ck_assert(wait_count(alog, "GET /first", 1, 10000));
	ck_assert_int_eq(chown(e2e_temp_dir(), NOBODY, NOBODY), 0);
	ck_assert_int_eq(chown(sp.dir, NOBODY, NOBODY), 0);
	ck_assert_int_eq(rename(alog, arot), 0);
	ck_assert_int_eq(rename(sp.log, erot), 0);
	ck_assert_int_eq(kill(sp.pid, SIGUSR1), 0);
	ck_assert_msg(e2e_log_wait_for(&sp, "caught SIGUSR1, logs reopened", 10000), "%s",
		      e2e_diag());
	get_ok(sp.port, "/second");
	ck_assert(wait_count(alog, "GET /second", 1, 10000));
	ck_assert_uint_eq(count_in(alog, "GET /first"), 0);
	ck_assert_uint_eq(count_in(arot, "GET /second"), 0);
	ck_assert_int_eq(stat(alog, &st), 0);
	ck_assert_uint_eq(st.st_uid, NOBODY);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}
END_TEST

/* The serving process (nobody) reopens on SIGUSR1: links planted at the paths of both
 * logs, to a file nobody may write, are not followed; the old files stay in use and say
 * so; the file pointed at is untouched. */
START_TEST(test_rotation_symlink_not_followed)
{
	char alog[400], arot[512], erot[512], victim[512];
	struct e2e_proc be, sp;
	int fd;

	if (!need_root("rotation_symlink"))
		return;
	snprintf(victim, sizeof(victim), "%s/victim", e2e_temp_dir());
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "victim\n", 7), 7);
	ck_assert_int_eq(fchown(fd, NOBODY, NOBODY), 0);
	close(fd);
	e2e_backend_start(&be, NULL);
	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\nCustomLog \"%s/access.log\" "
			   "common\n", be.port, e2e_temp_dir());
	snprintf(alog, sizeof(alog), "%s/access.log", e2e_temp_dir());
	snprintf(arot, sizeof(arot), "%s.1", alog);
	snprintf(erot, sizeof(erot), "%s.1", sp.log);
	get_ok(sp.port, "/first");
	ck_assert(wait_count(alog, "GET /first", 1, 10000));
	ck_assert_int_eq(chown(e2e_temp_dir(), NOBODY, NOBODY), 0);
	ck_assert_int_eq(chown(sp.dir, NOBODY, NOBODY), 0);
	ck_assert_int_eq(rename(alog, arot), 0);
	ck_assert_int_eq(rename(sp.log, erot), 0);
	ck_assert_int_eq(symlink(victim, alog), 0);
	ck_assert_int_eq(symlink(victim, sp.log), 0);
	ck_assert_int_eq(kill(sp.pid, SIGUSR1), 0);
	ck_assert_msg(wait_count(erot, "SIGUSR1: reopening CustomLog", 1, 10000),
		      "no reopen error in %s", erot);
	ck_assert(wait_count(erot, "SIGUSR1: reopening the error log", 1, 10000));
	ck_assert_uint_eq(count_in(erot, "access.log: is a symbolic link, not followed (the "
				   "old file stays in use)"), 1);
	/* once by the serving process, once by the helper (started as root, it runs and
	 * writes to the error log too, and reopens it on the SIGUSR1 it is sent) and once by
	 * the supervisor, which writes to it too */
	ck_assert(wait_count(erot, "error.log: is a symbolic link, not followed (the old file "
			     "stays in use", 3, 10000));
	ck_assert_uint_eq(count_in(erot, "error.log: is a symbolic link, not followed (the "
				   "old file stays in use"), 3);
	ck_assert_uint_eq(count_in(erot, "[supervise:error] [pid"), 1);
	ck_assert_uint_eq(count_in(erot, "[helper:error] [pid"), 1);
	get_ok(sp.port, "/second");
	ck_assert(wait_count(arot, "GET /second", 1, 10000));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	untouched(victim, NOBODY, 0644, "victim\n");
	e2e_backend_stop(&be);
}
END_TEST

/* ---- the output of autostarted backends ---- */

/* The pid in "started backend URL (pid N)", the last such line of p's error log. */
static int started_pid(const struct e2e_proc *p)
{
	char *log = e2e_spliced_log(p), *at, *last = NULL;
	int pid;

	for (at = log; (at = strstr(at, "autostart: started backend ")) != NULL; at++)
		last = at;
	ck_assert_msg(last != NULL, "no backend start in the log:\n%s", log);
	at = strstr(last, "(pid ");
	ck_assert(at != NULL);
	pid = atoi(at + 5);
	free(log);
	return pid;
}

/* A backend without Output=: what it prints lands in spliced's error log, each line
 * marked as the backend's; its standard output is a pipe, so its ftruncate(1, 0) fails
 * and the log keeps what spliced wrote; after a rotation (rename + SIGUSR1) its new lines
 * go to the new file. */
START_TEST(test_backend_output)
{
	char tag[200], line[400], fd1[128], rotated[512], path[64];
	const char *tb = e2e_backend_bin_for_others();
	struct e2e_proc sp;
	ssize_t n;
	int port = e2e_free_port(), pid;

	e2e_spliced_startf(&sp, "ProxyPass / http://127.0.0.1:%d/\n"
			   "ProxyAutostart http://127.0.0.1:%d -- %s -p %d -T -o hello-from-backend\n",
			   port, port, tb, port);
	get_ok(sp.port, "/?say=first");
	pid = started_pid(&sp);
	snprintf(tag, sizeof(tag), "] [backend:notice] [pid %d] [http://127.0.0.1:%d] ", pid, port);
	snprintf(line, sizeof(line), "%ssay first\n", tag);
	ck_assert_msg(e2e_log_wait_for(&sp, line, 10000), "%s", e2e_diag());
	snprintf(line, sizeof(line), "%shello-from-backend\n", tag);
	ck_assert_msg(e2e_log_wait_for(&sp, line, 10000), "%s", e2e_diag());
	snprintf(line, sizeof(line), "%shello-from-backend (stderr)\n", tag);
	ck_assert_msg(e2e_log_wait_for(&sp, line, 10000), "%s", e2e_diag());
	snprintf(line, sizeof(line), "%sftruncate(1, 0): Invalid argument\n", tag);
	ck_assert_msg(e2e_log_wait_for(&sp, line, 10000), "%s", e2e_diag());
	/* what spliced wrote before the backend started is still there */
	ck_assert(e2e_log_wait_for(&sp, "listening on 127.0.0.1:", 0));
	snprintf(path, sizeof(path), "/proc/%d/fd/1", pid);
	n = readlink(path, fd1, sizeof(fd1) - 1);
	ck_assert_msg(n > 0, "readlink %s: %s", path, strerror(errno));
	fd1[n] = '\0';
	ck_assert_msg(strncmp(fd1, "pipe:[", 6) == 0, "the backend's standard output is %s", fd1);

	if (geteuid() == 0)   /* the serving process and the helper run as nobody */
		ck_assert_int_eq(chown(sp.dir, NOBODY, NOBODY), 0);
	snprintf(rotated, sizeof(rotated), "%s.1", sp.log);
	ck_assert_int_eq(rename(sp.log, rotated), 0);
	ck_assert_int_eq(kill(sp.pid, SIGUSR1), 0);
	ck_assert_msg(e2e_log_wait_for(&sp, "caught SIGUSR1, error log reopened", 10000),
		      "the helper did not reopen the error log: %s", e2e_diag());
	get_ok(sp.port, "/?say=second");
	snprintf(line, sizeof(line), "%ssay second\n", tag);
	ck_assert_msg(e2e_log_wait_for(&sp, line, 10000), "%s", e2e_diag());
	ck_assert_uint_eq(count_in(rotated, "say second"), 0);
	ck_assert_uint_eq(count_in(rotated, "say first"), 1);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "errorlog_symlink", test_errorlog_symlink_refused, 0 },
		{ "customlog_symlink", test_customlog_symlink_refused, 0 },
		{ "hardlink", test_hardlink_refused, 0 },
		{ "fifo", test_fifo_refused, 0 },
		{ "directory", test_directory_refused, 0 },
		{ "devnull", test_devnull_not_chowned, 0 },
		{ "rotation", test_rotation, 0 },
		{ "rotation_symlink", test_rotation_symlink_not_followed, 0 },
		{ "backend_output", test_backend_output, 0 },
	};
	Suite *s = suite_create("e2e_logs");

	ck_add_cases(s, cases, CK_N(cases), 90, NULL, NULL);
	return ck_run_suite(s);
}
