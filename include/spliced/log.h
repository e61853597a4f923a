/* Error log: one line per event, Apache's error-log layout, written with a single write(2)
 * so lines from several workers never interleave. */
#ifndef SPLICED_LOG_H
#define SPLICED_LOG_H

enum log_level { LOG_LV_EMERG, LOG_LV_ERROR, LOG_LV_WARN, LOG_LV_NOTICE, LOG_LV_INFO, LOG_LV_DEBUG };

/* Opens `path` for appending (before privileges are dropped) or uses standard error when
 * path is NULL or "". Returns 0 or -errno. */
int log_open(const char *path);

/* Reopens the error log file by its path (SIGUSR1, after logrotate moved it). The
 * descriptor number stays the same. Returns 0 or -errno (the old file stays in use). */
int log_reopen(void);

/* The error log's descriptor (STDERR_FILENO when it is standard error). */
int log_fd_get(void);

/* Reopens `path` onto descriptor fd (for the access logs too). 0 or -errno. */
int log_reopen_fd(int fd, const char *path);

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
