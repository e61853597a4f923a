/* End-to-end suite for the Debian package (`make deb`, debian/): builds it from this tree
 * (lintian errors fail the build), installs it with dpkg -i, checks where its files land,
 * runs the installed /usr/sbin/spliced with a configuration of the test's that names
 * installed paths only (TypesConfig /etc/mime.types of the media-types dependency) in
 * front of a testbackend, checks the bytes of a proxied and a static response, stops it,
 * purges the package and checks that nothing of it is left.
 *
 * The system is left as it was found: the suite skips, saying why, where dpkg cannot run
 * (not root, no dpkg or git) and where any file the package owns or its scripts create is
 * already there (a spliced package of someone else's, a `make install` into /usr and /etc,
 * /var/log/spliced): a purge would take them away. Two runs at once (the normal and the
 * ASan `make check` of two checkouts) take turns on a lock (flock of /var/lib/dpkg); a guard process that
 * outlives the test purges the package if the test ends (fails, times out) while it is
 * installed. The package is built once per tree: `make deb` rebuilds it only when a file
 * changed, so the ASan run of `make check` reuses the one of the normal run.
 *
 * Installing enables spliced.service (as Debian's nginx does); where systemd runs, the
 * postinst also starts it on the example configuration (port 80). The test's own spliced
 * listens on a port chosen at run time, so either way is fine, and purge stops and
 * disables the unit. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

/* SPLICED_DATADIR is this source tree (the Makefile passes it to the tests). */
#define TREE SPLICED_DATADIR

#define DEB_BUILD_MS   (15 * 60 * 1000)   /* make deb, with an apt-get install on a fresh system */
#define DPKG_MS        (5 * 60 * 1000)
#define LOCK_WAIT_MS   (10 * 60 * 1000)

/* Every path the package installs or its maintainer scripts create: none may exist before
 * the test (they would be someone else's) and none after the purge. */
static const char *const owned[] = {
	"/usr/sbin/spliced",
	"/usr/share/man/man8/spliced.8.gz",
	"/usr/share/spliced",
	"/usr/share/doc/spliced",
	"/etc/spliced",
	"/etc/logrotate.d/spliced",
	"/lib/systemd/system/spliced.service",
	"/usr/lib/systemd/system/spliced.service",
	"/etc/systemd/system/multi-user.target.wants/spliced.service",
	"/var/log/spliced",
	"/usr/lib/tmpfiles.d/spliced.conf",
	"/run/spliced",
};

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The last `max` bytes of s, for failure messages about long outputs. */
static const char *tail(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > max ? s + n - max : s;
}

/* dpkg's status of the spliced package ("install ok installed", ...), "" when dpkg knows
 * nothing of it. Static storage. */
static const char *pkg_status(void)
{
	static char status[200];
	const char *argv[] = { "/usr/bin/dpkg-query", "-W", "-f=${Status}", "spliced", NULL };
	char *out = NULL;
	int code = e2e_run(argv, &out);

	snprintf(status, sizeof(status), "%s", code == 0 ? out : "");
	free(out);
	return status;
}

/* Neither installed nor left configured: never installed, or purged. */
static bool pkg_absent(void)
{
	const char *status = pkg_status();

	return !status[0] || strcmp(status, "unknown ok not-installed") == 0;
}

/* Takes the lock of this suite (bounded wait): the package is one per system. It is
 * flock(2) on the directory /var/lib/dpkg, which is root's, always there and needs no file
 * of ours (dpkg's own locks are fcntl(2) locks on files in it, which flock does not touch).
 * The lock lasts until the test process and its guard (which shares the descriptor) have
 * both ended. */
static int lock_package(void)
{
	const char *path = "/var/lib/dpkg";
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited += 200) {
		ck_assert_msg(errno == EWOULDBLOCK, "flock %s: %s", path, strerror(errno));
		ck_assert_msg(waited < LOCK_WAIT_MS, "another check_e2e_deb held %s for %d s", path,
			      LOCK_WAIT_MS / 1000);
		e2e_sleep_ms(200);
	}
	return fd;
}

/* Runs dpkg with one or two arguments (the guard's own code: no Check assertion here),
 * again while it fails, for at most a minute: a dpkg -i of the test that ended may still
 * hold dpkg's lock. */
static void guard_dpkg(const char *arg1, const char *arg2)
{
	for (int tries = 0; tries < 120; tries++) {
		int status = -1;
		pid_t pid = fork();

		if (pid == 0) {
			execl("/usr/bin/dpkg", "dpkg", arg1, arg2, (char *)NULL);
			_exit(127);
		}
		if (pid < 0)
			return;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return;
		e2e_sleep_ms(500);
	}
}

/* Forks the guard: it holds the lock too, and once the test process is gone (the pipe's
 * EOF, however the test ended) purges the package if the last byte the test wrote on the
 * pipe was 'i' (installing) rather than 'd' (purged). Its own process group, so that Check's
 * kill of the test's group on a timeout spares it. Returns the pipe's write end. */
static int guard_start(int lock)
{
	int pfd[2];
	pid_t pid;

	ck_assert_msg(pipe2(pfd, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		char c;
		bool armed = false;
		ssize_t k;
		int nul = open("/dev/null", O_RDWR);

		setpgid(0, 0);
		signal(SIGPIPE, SIG_IGN);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		for (int fd = 3; fd < 1024; fd++)
			if (fd != pfd[0] && fd != lock)
				close(fd);
		while ((k = read(pfd[0], &c, 1)) != 0) {
			if (k < 0 && errno != EINTR)
				break;
			if (k == 1)
				armed = c == 'i';
		}
		/* A dpkg -i killed with the test (Check's timeout kills its process group) may
		 * leave a trigger it was running half done: finish that first. */
		if (armed) {
			guard_dpkg("--configure", "--pending");
			guard_dpkg("--purge", "spliced");
		}
		_exit(0);
	}
	close(pfd[0]);
	return pfd[1];
}

/* Runs argv (bounded by ms), failing the test with the tail of its output unless it exits
 * 0; returns the output (malloc'd). */
static char *run_ok(const char *const argv[], int ms)
{
	char *out = NULL;
	int code = e2e_run_ms(argv, &out, ms);

	ck_assert_msg(code == 0, "%s %s: exit %d\n%s", argv[0], argv[1] ? argv[1] : "", code,
		      tail(out, 3000));
	return out;
}

/* Why the test cannot run here, or NULL. */
static const char *cannot_run(void)
{
	static char why[300];
	if (geteuid() != 0)
		return "not running as root: dpkg -i needs root";
	if (access("/usr/bin/dpkg", X_OK) != 0 || access("/usr/bin/dpkg-query", X_OK) != 0)
		return "no /usr/bin/dpkg: not a Debian system";
	if (access("/usr/bin/git", X_OK) != 0 || access(TREE "/.git", F_OK) != 0)
		return "make deb copies the files git lists: no git, or " TREE " is not a checkout";
	if (!pkg_absent()) {
		snprintf(why, sizeof(why), "a spliced package is on this system (%s): not touching it",
			 pkg_status());
		return why;
	}
	for (unsigned i = 0; i < CK_N(owned); i++) {
		if (exists(owned[i])) {
			snprintf(why, sizeof(why), "%s exists (not the package's: a purge would remove "
				 "it)", owned[i]);
			return why;
		}
	}
	return NULL;
}

static void file_is(const char *path, mode_t type, mode_t mode)
{
	struct stat st;

	ck_assert_msg(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
	ck_assert_msg((st.st_mode & S_IFMT) == type && (st.st_mode & 07777) == mode &&
		      st.st_uid == 0 && st.st_gid == 0,
		      "%s: mode %o, uid %u, gid %u; want root's, type %o, mode %o", path,
		      (unsigned)st.st_mode, (unsigned)st.st_uid, (unsigned)st.st_gid,
		      (unsigned)type, (unsigned)mode);
}

/* The package's files after dpkg -i: the binary, the conffiles, the unit, the log
 * directory of the postinst, the installed binary's checks of its own configuration. */
static void check_installed(void)
{
	const char *conffiles[] = { "/usr/bin/dpkg-query", "-W", "-f=${Conffiles}", "spliced",
				    NULL };
	const char *syntax[] = { "/usr/sbin/spliced", "-t", "-c", "/etc/spliced/spliced.conf",
				 NULL };
	const char *help[] = { "/usr/sbin/spliced", "-h", NULL };
	char *out;

	ck_assert_str_eq(pkg_status(), "install ok installed");
	file_is("/usr/sbin/spliced", S_IFREG, 0755);
	file_is("/usr/share/man/man8/spliced.8.gz", S_IFREG, 0644);
	file_is("/usr/share/spliced/trace", S_IFREG, 0755);
	file_is("/usr/share/spliced/bpftrace/latency.bt", S_IFREG, 0644);
	file_is("/etc/spliced/spliced.conf", S_IFREG, 0644);
	file_is("/etc/spliced/conf.d", S_IFDIR, 0755);
	file_is("/etc/logrotate.d/spliced", S_IFREG, 0644);
	file_is("/lib/systemd/system/spliced.service", S_IFREG, 0644);
	file_is("/var/log/spliced", S_IFDIR, 0755);
	file_is("/usr/lib/tmpfiles.d/spliced.conf", S_IFREG, 0644);
	file_is("/run/spliced", S_IFDIR, 0755);   /* the PidFile's directory: -t checks it */

	out = run_ok(conffiles, 30000);
	ck_assert_msg(strstr(out, " /etc/spliced/spliced.conf ") &&
		      strstr(out, " /etc/logrotate.d/spliced "), "conffiles: %s", out);
	free(out);
	out = run_ok(syntax, 30000);
	ck_assert_str_eq(out, "Syntax OK\n");
	free(out);
	/* the installed binary's built-in configuration is the plain one, not this tree's demo */
	out = run_ok(help, 30000);
	ck_assert_msg(strstr(out, "ProxyPass / http://127.0.0.1:8000/") && !strstr(out, TREE),
		      "-h: %s", out);
	free(out);
	out = e2e_read_file("/lib/systemd/system/spliced.service", NULL);
	ck_assert(out != NULL);
	ck_assert(strstr(out, "\nExecStart=/usr/sbin/spliced -c /etc/spliced/spliced.conf\n"));
	free(out);
}

/* The installed binary serving: a proxied response with a pattern body of 256 KiB (through
 * splice) and a static file whose type only /etc/mime.types (media-types) knows. */
static void check_serving(void)
{
	static const char odt[] = "not really an OpenDocument text\n";
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	char site[400], path[450];
	FILE *f;

	memset(&be, 0, sizeof(be));
	memset(&sp, 0, sizeof(sp));
	snprintf(site, sizeof(site), "%s/site", e2e_temp_dir());
	ck_assert_msg(mkdir(site, 0755) == 0, "mkdir %s: %s", site, strerror(errno));
	snprintf(path, sizeof(path), "%s/letter.odt", site);
	f = fopen(path, "w");
	ck_assert(f != NULL);
	fputs(odt, f);
	ck_assert(fclose(f) == 0);

	e2e_backend_start(&be, NULL);
	ck_assert(setenv("SPLICED_BIN", "/usr/sbin/spliced", 1) == 0);
	e2e_spliced_startf(&sp,
			   "TypesConfig /etc/mime.types\n"
			   "Alias /files/ \"%s/\"\n"
			   "ProxyPass /files/ !\n"
			   "ProxyPass / http://127.0.0.1:%d/\n", site, be.port);

	e2e_client_open(&c, sp.port);
	{
		static const char req[] = "GET /through?len=262144 HTTP/1.1\r\nHost: deb.test\r\n\r\n";

		e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	}
	ck_assert_msg(r.status == 200, "proxied: %d\n%s", r.status, r.head);
	ck_assert_uint_eq(r.body_len, 262144);
	ck_assert_msg(e2e_pattern_mismatch(r.body, r.body_len) == -1, "proxied body differs");
	e2e_response_free(&r);
	{
		static const char req[] = "GET /files/letter.odt HTTP/1.1\r\nHost: deb.test\r\n\r\n";

		e2e_roundtrip(&c, req, sizeof(req) - 1, &r, false);
	}
	ck_assert_msg(r.status == 200, "static: %d\n%s", r.status, r.head);
	ck_assert_str_eq(e2e_header(&r, "Content-Type") ? e2e_header(&r, "Content-Type") : "",
			 "application/vnd.oasis.opendocument.text");
	ck_assert_str_eq((const char *)r.body, odt);
	e2e_response_free(&r);
	e2e_client_close(&c);

	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	e2e_backend_stop(&be);
}

START_TEST(test_install_serve_purge)
{
	const char *make[] = { "/usr/bin/make", "-s", "-C", TREE, "deb", NULL };
	const char *install[] = { "/usr/bin/dpkg", "-i", NULL, NULL };
	const char *purge[] = { "/usr/bin/dpkg", "--purge", "spliced", NULL };
	const char *why, *line;
	char deb[600], *out;
	int lock, guard;

	if ((why = cannot_run()) != NULL) {
		fprintf(stderr, "SKIP install_serve_purge: %s\n", why);
		return;
	}
	/* dpkg wants ldconfig and start-stop-daemon in PATH */
	if (!strstr(getenv("PATH") ? getenv("PATH") : "", "/usr/sbin"))
		ck_assert(setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				 1) == 0);
	lock = lock_package();
	/* again under the lock: a run that held it may have left something */
	if ((why = cannot_run()) != NULL) {
		fprintf(stderr, "SKIP install_serve_purge: %s\n", why);
		close(lock);
		return;
	}

	out = run_ok(make, DEB_BUILD_MS);
	/* its last line is "package: PATH" (dpkg-buildpackage's "...package: info" do not
	 * start a line) */
	line = out;
	while (line && strncmp(line, "package: ", 9) != 0) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	ck_assert_msg(line && sscanf(line, "package: %599s", deb) == 1, "make deb said:\n%s",
		      tail(out, 3000));
	ck_assert_msg(strstr(deb, "/build/spliced_") && exists(deb), "no package at %s", deb);
	free(out);

	guard = guard_start(lock);
	ck_assert(write(guard, "i", 1) == 1);
	install[2] = deb;
	free(run_ok(install, DPKG_MS));
	check_installed();
	check_serving();

	free(run_ok(purge, DPKG_MS));
	ck_assert_msg(pkg_absent(), "dpkg still knows spliced after the purge: %s", pkg_status());
	for (unsigned i = 0; i < CK_N(owned); i++)
		ck_assert_msg(!exists(owned[i]), "%s is left after the purge", owned[i]);
	if (write(guard, "d", 1) != 1)
		fprintf(stderr, "guard gone before the end: %s\n", strerror(errno));
	close(guard);
	close(lock);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "install_serve_purge", test_install_serve_purge, 0 },
	};
	Suite *s = suite_create("e2e_deb");

	/* the build may install packages first (make deps) and wait for another run's lock */
	ck_add_cases(s, cases, CK_N(cases), (DEB_BUILD_MS + 2 * DPKG_MS + LOCK_WAIT_MS) / 1000,
		     NULL, NULL);
	return ck_run_suite(s);
}
