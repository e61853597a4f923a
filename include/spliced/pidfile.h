/* PidFile (httpd's directive) and `spliced -k stop`.
 *
 * The file is written by the main process as root, before privileges are dropped, often
 * in a directory that others than root may not write but that is worth not trusting:
 * like a log file (log_file_open()), the path must lead to a regular file and nothing
 * else. Root later reads it back (`-k stop`, logrotate's postrotate) and signals the pid
 * it holds, so only root or the process's own user may own it. */
#ifndef SPLICED_PIDFILE_H
#define SPLICED_PIDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes "PID\n" to path: not through a symbolic link at the last component (O_NOFOLLOW),
 * a FIFO, socket, directory or device is refused without blocking, a regular file with
 * more than one hard link or owned by another user than root or the caller is refused.
 * An existing file is overwritten. Returns the descriptor (O_CLOEXEC, kept for
 * pidfile_remove()), or -errno with msg set to "PATH: reason". */
int pidfile_write(const char *path, pid_t pid, char *msg, size_t len);

/* At a clean stop: unlinks path if it is still the file behind fd. After privileges were
 * dropped the directory is usually not writable any more: then the file is emptied
 * through fd instead (an empty PID file means "not running" to pidfile_read()). Closes
 * fd. Returns 0 (removed), 1 (emptied) or -errno. */
int pidfile_remove(const char *path, int fd);

/* Reads the pid in path, with the rules of pidfile_write() (no symbolic link, a regular
 * file). Returns 1 with *pid set, 0 when there is no file or it is empty (not running),
 * or -errno with msg set (unreadable, or not a pid). */
int pidfile_read(const char *path, pid_t *pid, char *msg, size_t len);

/* pid is a live process (not a zombie) whose name starts with "spliced". */
bool pidfile_is_spliced(pid_t pid);

/* Exit codes of `spliced -k stop`. */
enum pidfile_stop_code {
	PIDFILE_STOPPED = 0,      /* it was running, got SIGTERM and has exited */
	PIDFILE_ERROR = 1,        /* no PidFile, unreadable or invalid file, kill refused */
	PIDFILE_STILL_RUNNING = 2,/* SIGTERM sent, still running after the wait */
	PIDFILE_NOT_RUNNING = 3,  /* no file, empty file, or its pid is not a running spliced */
};

/* `-k stop`: reads path, sends SIGTERM to the spliced it names and waits for it to exit,
 * polling every 50 ms for at most wait_ms. What happened goes to msg (one line). */
enum pidfile_stop_code pidfile_stop(const char *path, unsigned wait_ms, char *msg, size_t len);

/* -k reload: SIGHUP to the running spliced the PID file names (it reloads its
 * configuration). PIDFILE_STOPPED (0) when the signal went, PIDFILE_NOT_RUNNING or
 * PIDFILE_ERROR as for pidfile_stop(); msg says which. */
enum pidfile_stop_code pidfile_reload(const char *path, char *msg, size_t len);

#endif
