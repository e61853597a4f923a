/* The log module: log_file_open(), the one function every log file (ErrorLog, CustomLog,
 * TransferLog, every reopen on SIGUSR1) is opened with, refusing whatever could lead root
 * to open or chown anything but the intended regular file; log_reopen_fd() keeping its
 * rules. Each test works in its own temporary directory. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spliced/log.h"
#include "suite.h"

#define NOBODY 65534

static char dir[64];
static char path[128];     /* dir/log: where the log is to be */
static char target[128];   /* dir/target: a file a link could lead to */
static char msg[1024];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_log.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(target, sizeof(target), "%s/target", dir);
	msg[0] = '\0';
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void teardown(void)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A 0600 file holding "secret\n". */
static void make_target(void)
{
	int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "secret\n", 7), 7);
	close(fd);
}

static void target_untouched(void)
{
	char buf[64];
	struct stat st;
	ssize_t n;
	int fd;

	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	fd = open(target, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_eq(n, 7);
	ck_assert(memcmp(buf, "secret\n", 7) == 0);
}

static void msg_has(const char *needle)
{
	ck_assert_msg(strstr(msg, needle) != NULL, "message \"%s\" lacks \"%s\"", msg, needle);
	ck_assert_msg(strstr(msg, path) != NULL, "message \"%s\" does not name %s", msg, path);
}

START_TEST(test_regular_created)
{
	struct stat st;
	int fd = log_file_open(path, geteuid(), msg, sizeof(msg));

	ck_assert_msg(fd >= 0, "%s", msg);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777 & ~0640u, 0);   /* 0640 less the umask */
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_APPEND | O_ACCMODE),
			 O_APPEND | O_WRONLY);
	ck_assert_int_eq(write(fd, "a\n", 2), 2);
	close(fd);
	/* an existing one is appended to */
	fd = log_file_open(path, geteuid(), msg, sizeof(msg));
	ck_assert_msg(fd >= 0, "%s", msg);
	ck_assert_int_eq(write(fd, "b\n", 2), 2);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	close(fd);
}
END_TEST

START_TEST(test_symlink_refused)
{
	char dangling[160];

	make_target();
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(log_file_open(path, geteuid(), msg, sizeof(msg)), -ELOOP);
	msg_has("is a symbolic link, not followed");
	target_untouched();
	/* a dangling one: nothing is created where it points */
	snprintf(dangling, sizeof(dangling), "%s/nowhere", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink(dangling, path), 0);
	ck_assert_int_eq(log_file_open(path, geteuid(), msg, sizeof(msg)), -ELOOP);
	ck_assert(access(dangling, F_OK) < 0 && errno == ENOENT);
}
END_TEST

START_TEST(test_hardlink_refused)
{
	make_target();
	ck_assert_int_eq(link(target, path), 0);
	ck_assert_int_eq(log_file_open(path, geteuid(), msg, sizeof(msg)), -EMLINK);
	msg_has("has 2 hard links, refused");
	target_untouched();
}
END_TEST

/* No reader: open() would block without O_NONBLOCK. With a reader: open succeeds, fstat
 * refuses it. Either way the call returns (Check's timeout would catch a hang). */
START_TEST(test_fifo_refused)
{
	int rd;

	ck_assert_int_eq(mkfifo(path, 0666), 0);
	ck_assert_int_eq(log_file_open(path, geteuid(), msg, sizeof(msg)), -ENXIO);
	msg_has("is not a regular file");
	rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(rd, 0);
	ck_assert_int_eq(log_file_open(path, geteuid(), msg, sizeof(msg)), -EINVAL);
	msg_has("is not a regular file (a FIFO)");
	close(rd);
}
END_TEST

START_TEST(test_directory_refused)
{
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(log_file_open(path, geteuid(), msg, sizeof(msg)), -EISDIR);
	msg_has("is a directory");
}
END_TEST

START_TEST(test_devnull_accepted)
{
	struct stat before, after, st;
	int fd;

	ck_assert_int_eq(stat("/dev/null", &before), 0);
	fd = log_file_open("/dev/null", NOBODY, msg, sizeof(msg));
	ck_assert_msg(fd >= 0, "%s", msg);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(write(fd, "x\n", 2), 2);
	close(fd);
	ck_assert_int_eq(stat("/dev/null", &after), 0);
	ck_assert_uint_eq(after.st_uid, before.st_uid);
	ck_assert_uint_eq(after.st_mode, before.st_mode);
}
END_TEST

/* /dev/stdout and /dev/stderr are symbolic links: they mean descriptors 1 and 2. */
START_TEST(test_std_descriptors)
{
	struct stat a, b;
	int fd = log_file_open("/dev/stderr", NOBODY, msg, sizeof(msg));

	ck_assert_msg(fd >= 0, "%s", msg);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(fstat(STDERR_FILENO, &b), 0);
	ck_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	fd = log_file_open("/dev/stdout", NOBODY, msg, sizeof(msg));
	ck_assert_msg(fd >= 0, "%s", msg);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(fstat(STDOUT_FILENO, &b), 0);
	ck_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	close(fd);
	/* nothing to reopen: the descriptor given stays as it is */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_eq(log_reopen_fd(fd, "/dev/stdout", NOBODY, msg, sizeof(msg)), 0);
	close(fd);
}
END_TEST

/* A regular file belonging to neither root nor owner_ok is refused; one belonging to
 * owner_ok or root is accepted. Changing owners needs root. */
START_TEST(test_owner_checked)
{
	int fd;

	if (geteuid() != 0) {
		fprintf(stderr, "check_log: not root, skipping test_owner_checked\n");
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(chown(path, 1, 1), 0);    /* daemon */
	ck_assert_int_eq(log_file_open(path, NOBODY, msg, sizeof(msg)), -EPERM);
	msg_has("belongs to uid 1, neither root nor the server's user (uid 65534)");
	ck_assert_int_eq(chown(path, NOBODY, NOBODY), 0);
	fd = log_file_open(path, NOBODY, msg, sizeof(msg));
	ck_assert_msg(fd >= 0, "%s", msg);
	close(fd);
	ck_assert_int_eq(chown(path, 0, 0), 0);
	fd = log_file_open(path, NOBODY, msg, sizeof(msg));
	ck_assert_msg(fd >= 0, "%s", msg);
	close(fd);
}
END_TEST

/* Reopening onto a descriptor keeps the rules: a symbolic link planted at the path leaves
 * the descriptor on the old file; a regular file replaces it. */
START_TEST(test_reopen_keeps_rules)
{
	char rotated[160];
	struct stat st;
	int fd = log_file_open(path, geteuid(), msg, sizeof(msg));

	ck_assert_msg(fd >= 0, "%s", msg);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	ck_assert_int_eq(rename(path, rotated), 0);
	make_target();
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(log_reopen_fd(fd, path, geteuid(), msg, sizeof(msg)), -ELOOP);
	msg_has("is a symbolic link, not followed");
	ck_assert_int_eq(write(fd, "old\n", 4), 4);
	ck_assert_int_eq(stat(rotated, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	target_untouched();
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(log_reopen_fd(fd, path, geteuid(), msg, sizeof(msg)), 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(write(fd, "new\n", 4), 4);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	close(fd);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "regular", test_regular_created, 0 },
		{ "symlink", test_symlink_refused, 0 },
		{ "hardlink", test_hardlink_refused, 0 },
		{ "fifo", test_fifo_refused, 10 },
		{ "directory", test_directory_refused, 0 },
		{ "devnull", test_devnull_accepted, 0 },
		{ "std", test_std_descriptors, 0 },
		{ "owner", test_owner_checked, 0 },
		{ "reopen", test_reopen_keeps_rules, 0 },
	};
	Suite *s = suite_create("log");

	ck_add_cases(s, cases, CK_N(cases), 0, setup, teardown);
	return ck_run_suite(s);
}
