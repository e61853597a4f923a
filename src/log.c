/* Error log. Rare on the request path (errors only), so a plain blocking write is fine. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "spliced/log.h"

static int log_fd = STDERR_FILENO;
static char log_path[4096];
static enum log_level log_level = LOG_LV_INFO;

static const char *const log_level_names[] = {
	[LOG_LV_EMERG] = "emerg", [LOG_LV_ERROR] = "error", [LOG_LV_WARN] = "warn",
	[LOG_LV_NOTICE] = "notice", [LOG_LV_INFO] = "info", [LOG_LV_DEBUG] = "debug",
};

int log_open(const char *path)
{
	int fd;

	if (!path || !*path) {
		log_fd = STDERR_FILENO;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	snprintf(log_path, sizeof(log_path), "%s", path);
	return 0;
}

int log_reopen_fd(int fd, const char *path)
{
	int nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (nfd < 0)
		return -errno;
	/* dup2 swaps the file behind fd at once: writers never see a closed descriptor, and a
	 * write in flight finishes in the old (rotated) file. */
	if (dup3(nfd, fd, O_CLOEXEC) < 0) {
		int err = errno;

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

int log_reopen(void)
{
	if (log_fd == STDERR_FILENO || !log_path[0])
		return 0;
	return log_reopen_fd(log_fd, log_path);
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
