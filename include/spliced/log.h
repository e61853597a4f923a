/* Error log: one line per event, Apache's error-log layout, written with a single write(2)
 * so lines from several workers never interleave. */
#ifndef SPLICED_LOG_H
#define SPLICED_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum log_level { LOG_LV_EMERG, LOG_LV_ERROR, LOG_LV_WARN, LOG_LV_NOTICE, LOG_LV_INFO, LOG_LV_DEBUG };

/* Opens a log file for appending (ErrorLog, CustomLog, TransferLog, and every reopen on
 * SIGUSR1). Log files are opened by root in directories the serving user may write, so
 * the path must lead to nothing but the intended file:
 *  - a symbolic link at the last component is not followed (O_NOFOLLOW), and nothing is
 *    created through one;
 *  - a regular file is refused when it has more than one hard link, or when it belongs
 *    to a user other than root and owner_ok (the server's User);
 *  - a character device (/dev/null, a terminal) is accepted as it is;
 *  - a FIFO, a socket, a directory or a block device is refused, and a FIFO cannot block
 *    the open (O_NONBLOCK, cleared before returning);
 *  - "/dev/stdout" and "/dev/stderr" name descriptors 1 and 2 (duplicated).
 * The caller chowns only what fstat() shows is a regular file. Returns a descriptor
 * (O_CLOEXEC, blocking), or -errno with msg set to "PATH: reason" (msg may be NULL when
 * len is 0). */
int log_file_open(const char *path, uid_t owner_ok, char *msg, size_t len);

/* The same checks for any file opened where someone else may have put something (the
 * PidFile too): path opened with flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
 * (mode when it is created); a character device is accepted only when `devices`; a
 * regular file must have one link and belong to root or owner_ok (LOG_ANY_OWNER: to
 * anyone). O_NONBLOCK is cleared. Returns the descriptor or -errno, msg as above. */
#define LOG_ANY_OWNER ((uid_t)-1)
int log_safe_open(const char *path, int flags, mode_t mode, bool devices, uid_t owner_ok,
		  char *msg, size_t len);

/* Opens the error log with log_file_open() (before privileges are dropped), or uses
 * standard error when path is NULL, "" or "/dev/stderr". owner_ok is kept for
 * log_reopen(). Returns 0 or -errno with msg set. */
int log_open(const char *path, uid_t owner_ok, char *msg, size_t len);

/* Reopens the error log file by its path (SIGUSR1, after logrotate moved it), with the
 * rules of log_file_open(). The descriptor number stays the same. Returns 0 or -errno
 * with msg set (the old file stays in use). */
int log_reopen(char *msg, size_t len);

/* The same, but only when something is at the path: a process that must not create the
 * file (the supervisor, as root, after the serving process made it as User). -ENOENT
 * with msg set when nothing is there. */
int log_reopen_present(char *msg, size_t len);

/* The error log's descriptor (STDERR_FILENO when it is standard error). */
int log_fd_get(void);

/* Reopens `path` onto descriptor fd with log_file_open() (the access logs). "/dev/stdout"
 * and "/dev/stderr" are left as they are. 0 or -errno with msg set (fd unchanged). */
int log_reopen_fd(int fd, const char *path, uid_t owner_ok, char *msg, size_t len);

/* Longest piece of a backend's line in one entry: longer lines are split. */
#define LOG_OUTPUT_MAX 1024

/* One line of the output of a backend started by the helper (text[0..len), without its
 * newline, at most LOG_OUTPUT_MAX bytes: the rest is cut), written whatever the LogLevel:
 * "[time] [backend:notice] [pid P] [SOURCE] text\n", where control characters and
 * backslashes of text are escaped (\xHH, \\), so that a backend's bytes cannot end the
 * entry, or make one that looks like spliced's own (those have "[pid P:tid T]"). `split`:
 * the line goes on in the next entry (" [split]" is appended). Never waits: when the log
 * does not take the line at once (poll), nothing is written and -EAGAIN returned; else 0
 * or -errno from write(2). */
int log_output(const char *source, int pid, const char *text, size_t len, bool split);

/* Messages above this level are not written (default LOG_LV_INFO). */
void log_set_level(enum log_level lv);

/* "[Thu Nov 26 13:24:39.123456 2026] [module:level] [pid P:tid T] message\n" */
void log_msg(enum log_level lv, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "[module:traceN]" lines (mod_rewrite's trace), written whatever the level: the caller
 * checks its own trace level first, so a disabled trace costs one comparison. */
void log_trace(const char *module, unsigned level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_msg(LOG_LV_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LV_WARN, mod, __VA_ARGS__)
#define log_notice(mod, ...) log_msg(LOG_LV_NOTICE, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LV_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LV_DEBUG, mod, __VA_ARGS__)

#endif
