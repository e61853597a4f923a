/* PidFile and `spliced -k stop` (see include/spliced/pidfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spliced/log.h"
#include "spliced/pidfile.h"

/* path opened with log_safe_open()'s rules: a regular file with one link, owned by root
 * or us when `owner` (no symbolic link followed, no FIFO blocking). fd or -errno. */
static int pidfile_open(const char *path, int flags, bool owner, char *msg, size_t len)
{
	return log_safe_open(path, flags, 0644, false, owner ? geteuid() : LOG_ANY_OWNER, msg,
			     len);
}

int pidfile_write(const char *path, pid_t pid, char *msg, size_t len)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d\n", (int)pid);
	int fd = pidfile_open(path, O_WRONLY | O_CREAT, true, msg, len), err;

	if (fd < 0)
		return fd;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
		err = errno ? errno : EIO;
		snprintf(msg, len, "%s: writing: %s", path, strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

int pidfile_remove(const char *path, int fd)
{
	struct stat a, b;
	int ret = 0;

	if (fstat(fd, &a) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (lstat(path, &b) < 0) {
		if (errno == ENOENT)
			goto out_close;   /* gone already */
		/* The directory cannot even be searched any more (root's 0700): empty ours. */
		ret = ftruncate(fd, 0) == 0 ? 1 : -errno;
		goto out_close;
	}
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		goto out_close;   /* replaced by someone else: not ours to touch */
	if (unlink(path) < 0) {
		ret = -errno;
		if ((ret == -EACCES || ret == -EPERM || ret == -EROFS) && ftruncate(fd, 0) == 0)
			ret = 1;
	}
out_close:
	close(fd);
	return ret;
}

int pidfile_read(const char *path, pid_t *pid, char *msg, size_t len)
{
	char text[32], *end;
	ssize_t n;
	long v;
	int fd = pidfile_open(path, O_RDONLY, false, msg, len);

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		snprintf(msg, len, "%s: %s", path, strerror(errno));
		return -EIO;
	}
	if (n == 0)
		return 0;
	text[n] = '\0';
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || text[0] < '0' || text[0] > '9' || v <= 1 || v > 0x3fffffff ||
	    (*end && strcmp(end, "\n"))) {
		snprintf(msg, len, "%s: does not hold a process id", path);
		return -EINVAL;
	}
	*pid = (pid_t)v;
	return 1;
}

bool pidfile_is_spliced(pid_t pid)
{
	char p[64], buf[512], *paren;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold ')' itself, the last one ends it. */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X')
		return false;
	return strncmp(strchr(buf, '(') + 1, "spliced", 7) == 0 &&
	       strncmp(strchr(buf, '(') + 1, "spliced-helper", 14) != 0;
}

/* The running spliced named by the PID file, signalled with sig. PIDFILE_STOPPED (0) when
 * the signal went, with *pid set; else the code and msg. */
static enum pidfile_stop_code pidfile_signal(const char *path, int sig, pid_t *pid, char *msg,
					     size_t len)
{
	int ret = pidfile_read(path, pid, msg, len);

	if (ret < 0)
		return PIDFILE_ERROR;
	if (ret == 0) {
		snprintf(msg, len, "not running (no process id in %s)", path);
		return PIDFILE_NOT_RUNNING;
	}
	if (!pidfile_is_spliced(*pid)) {
		snprintf(msg, len, "not running (pid %d in %s is not a running spliced: a stale "
			 "PID file)", (int)*pid, path);
		return PIDFILE_NOT_RUNNING;
	}
	if (kill(*pid, sig) < 0) {
		if (errno == ESRCH) {
			snprintf(msg, len, "not running (pid %d from %s has exited)", (int)*pid, path);
			return PIDFILE_NOT_RUNNING;
		}
		snprintf(msg, len, "%s to pid %d: %s", sig == SIGHUP ? "SIGHUP" : "SIGTERM",
			 (int)*pid, strerror(errno));
		return PIDFILE_ERROR;
	}
	return PIDFILE_STOPPED;
}

enum pidfile_stop_code pidfile_reload(const char *path, char *msg, size_t len)
{
	pid_t pid;
	enum pidfile_stop_code code = pidfile_signal(path, SIGHUP, &pid, msg, len);

	if (code == PIDFILE_STOPPED)
		snprintf(msg, len, "reload signalled (pid %d): the new configuration is checked "
			 "first; the error log says whether it took effect", (int)pid);
	return code;
}

enum pidfile_stop_code pidfile_stop(const char *path, unsigned wait_ms, char *msg, size_t len)
{
	struct timespec tick = { .tv_sec = 0, .tv_nsec = 50 * 1000000 };
	pid_t pid;
	enum pidfile_stop_code code = pidfile_signal(path, SIGTERM, &pid, msg, len);

	if (code != PIDFILE_STOPPED)
		return code;
	for (unsigned waited = 0; waited < wait_ms; waited += 50) {
		if (!pidfile_is_spliced(pid)) {
			snprintf(msg, len, "stopped (pid %d)", (int)pid);
			return PIDFILE_STOPPED;
		}
		nanosleep(&tick, NULL);
	}
	if (!pidfile_is_spliced(pid)) {
		snprintf(msg, len, "stopped (pid %d)", (int)pid);
		return PIDFILE_STOPPED;
	}
	snprintf(msg, len, "pid %d got SIGTERM and is still running after %u s", (int)pid,
		 wait_ms / 1000);
	return PIDFILE_STILL_RUNNING;
}
