/* Error log. Rare on the request path (errors only), so a plain blocking write is fine. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "spliced/log.h"

static int log_fd = STDERR_FILENO;
static char log_path[4096];
static uid_t log_owner;
static enum log_level log_level = LOG_LV_INFO;

static const char *const log_level_names[] = {
	[LOG_LV_EMERG] = "emerg", [LOG_LV_ERROR] = "error", [LOG_LV_WARN] = "warn",
	[LOG_LV_NOTICE] = "notice", [LOG_LV_INFO] = "info", [LOG_LV_DEBUG] = "debug",
};

/* "/dev/stdout" and "/dev/stderr" are symbolic links (to /proc/self/fd/N), which
 * log_file_open() does not follow: they name the descriptor the process was started
 * with. Returns 1, 2 or -1. */
static int log_std_fd(const char *path)
{
	if (strcmp(path, "/dev/stdout") == 0)
		return STDOUT_FILENO;
	if (strcmp(path, "/dev/stderr") == 0)
		return STDERR_FILENO;
	return -1;
}

int log_file_open(const char *path, uid_t owner_ok, char *msg, size_t len)
{
	int fd, err, std = log_std_fd(path);

	if (std >= 0) {
		fd = fcntl(std, F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			err = errno;
			snprintf(msg, len, "%s: descriptor %d: %s", path, std, strerror(err));
			return -err;
		}
		return fd;
	}
	return log_safe_open(path, O_WRONLY | O_APPEND | O_CREAT, 0640, true, owner_ok, msg, len);
}

int log_safe_open(const char *path, int flags, mode_t mode, bool devices, uid_t owner_ok,
		  char *msg, size_t len)
{
	struct stat st;
	int fd, fl, err;

	/* O_NOFOLLOW: no symbolic link at the last component, nothing created through one.
	 * O_NONBLOCK: a FIFO (or a device) there cannot block the open. */
	fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, mode);
	if (fd < 0) {
		err = errno;
		if (err == ELOOP)
			snprintf(msg, len, "%s: is a symbolic link, not followed", path);
		else if (err == ENXIO)
			snprintf(msg, len, "%s: is not a regular file (a FIFO or a socket)", path);
		else if (err == EISDIR)
			snprintf(msg, len, "%s: is a directory, not a regular file", path);
		else
			snprintf(msg, len, "%s: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		snprintf(msg, len, "%s: fstat: %s", path, strerror(err));
		goto out_close;
	}
	if (S_ISCHR(st.st_mode) && devices)
		goto out_blocking;   /* /dev/null, a terminal: written to, never chowned */
	if (!S_ISREG(st.st_mode)) {
		err = EINVAL;
		snprintf(msg, len, "%s: is not a regular file (%s)", path,
			 S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" :
			 S_ISDIR(st.st_mode) ? "a directory" : "a device");
		goto out_close;
	}
	if (st.st_nlink > 1) {
		err = EMLINK;
		snprintf(msg, len, "%s: has %lu hard links, refused (another name leads to the "
			 "same file)", path, (unsigned long)st.st_nlink);
		goto out_close;
	}
	if (owner_ok != LOG_ANY_OWNER && st.st_uid != 0 && st.st_uid != owner_ok) {
		err = EPERM;
		if (owner_ok == 0)
			snprintf(msg, len, "%s: belongs to uid %u, not root, refused", path,
				 (unsigned)st.st_uid);
		else
			snprintf(msg, len, "%s: belongs to uid %u, neither root nor the server's "
				 "user (uid %u), refused", path, (unsigned)st.st_uid,
				 (unsigned)owner_ok);
		goto out_close;
	}
out_blocking:
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		err = errno;
		snprintf(msg, len, "%s: fcntl: %s", path, strerror(err));
		goto out_close;
	}
	return fd;
out_close:
	close(fd);
	return -err;
}

int log_open(const char *path, uid_t owner_ok, char *msg, size_t len)
{
	int fd;

	log_owner = owner_ok;
	if (!path || !*path || log_std_fd(path) == STDERR_FILENO) {
		if (log_fd != STDERR_FILENO)
			close(log_fd);
		log_fd = STDERR_FILENO;
		log_path[0] = '\0';
		return 0;
	}
	fd = log_file_open(path, owner_ok, msg, len);
	if (fd < 0)
		return fd;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	snprintf(log_path, sizeof(log_path), "%s", path);
	return 0;
}

int log_reopen_fd(int fd, const char *path, uid_t owner_ok, char *msg, size_t len)
{
	int nfd, err;

	if (log_std_fd(path) >= 0)
		return 0;   /* the same descriptor as before: nothing to reopen */
	nfd = log_file_open(path, owner_ok, msg, len);
	if (nfd < 0)
		return nfd;
	/* dup2 swaps the file behind fd at once: writers never see a closed descriptor, and a
	 * write in flight finishes in the old (rotated) file. */
	if (dup3(nfd, fd, O_CLOEXEC) < 0) {
		err = errno;
		snprintf(msg, len, "%s: dup3: %s", path, strerror(err));
		close(nfd);
		return -err;
	}
	close(nfd);
	return 0;
}

int log_fd_get(void)
{
	return log_fd;
}

int log_reopen(char *msg, size_t len)
{
	if (log_fd == STDERR_FILENO || !log_path[0])
		return 0;
	return log_reopen_fd(log_fd, log_path, log_owner, msg, len);
}

int log_reopen_present(char *msg, size_t len)
{
	struct stat st;

	if (log_fd == STDERR_FILENO || !log_path[0])
		return 0;
	if (lstat(log_path, &st) < 0) {
		snprintf(msg, len, "%s: %s", log_path, strerror(errno));
		return -errno;
	}
	return log_reopen_fd(log_fd, log_path, log_owner, msg, len);
}

void log_set_level(enum log_level lv)
{
	log_level = lv;
}

/* One line with the level shown as `lvname`; the caller has decided it is wanted. */
__attribute__((format(printf, 3, 0)))
static void log_vline(const char *module, const char *lvname, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int k;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "[%a %b %d %H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%06ld %d] [%s:%s] [pid %d:tid %ld] ",
		     (long)tv.tv_usec, tm.tm_year + 1900, module, lvname,
		     (int)getpid(), (long)syscall(SYS_gettid));
	if (k > 0)
		n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (k > 0)
		n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps concurrent lines whole. */
	while (write(log_fd, line, n) < 0 && errno == EINTR)
		;
}

void log_msg(enum log_level lv, const char *module, const char *fmt, ...)
{
	va_list ap;

	if (lv > log_level)
		return;
	va_start(ap, fmt);
	log_vline(module, log_level_names[lv], fmt, ap);
	va_end(ap);
}

void log_trace(const char *module, unsigned level, const char *fmt, ...)
{
	static const char *const names[] = { "trace0", "trace1", "trace2", "trace3", "trace4",
					     "trace5", "trace6", "trace7", "trace8" };
	va_list ap;

	va_start(ap, fmt);
	log_vline(module, names[level < 9 ? level : 8], fmt, ap);
	va_end(ap);
}

int log_output(const char *source, int pid, const char *text, size_t len, bool split)
{
	static const char hex[] = "0123456789abcdef";
	struct pollfd p = { .fd = log_fd, .events = POLLOUT };
	char line[LOG_OUTPUT_MAX * 4 + 1024];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int k;

	/* Never wait for the log (a pipe nobody reads, as standard error can be): the
	 * backend's output is dropped instead, and the caller counts it. */
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
		return -EAGAIN;
	if (len > LOG_OUTPUT_MAX)
		len = LOG_OUTPUT_MAX;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "[%a %b %d %H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%06ld %d] [backend:notice] [pid %d] [%.200s] ",
		     (long)tv.tv_usec, tm.tm_year + 1900, pid, source);
	if (k > 0)
		n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
	/* Escaped: no byte of the backend's ends the entry, moves a terminal's cursor, or
	 * makes a \x sequence ambiguous. */
	for (size_t i = 0; i < len && n + 4 < sizeof(line) - 32; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\\') {
			line[n++] = '\\';
			line[n++] = '\\';
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			line[n++] = '\\';
			line[n++] = 'x';
			line[n++] = hex[c >> 4];
			line[n++] = hex[c & 15];
		} else {
			line[n++] = (char)c;
		}
	}
	if (split) {
		memcpy(line + n, " [split]", 8);
		n += 8;
	}
	line[n++] = '\n';
	while (write(log_fd, line, n) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}
