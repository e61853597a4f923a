/* Shared helpers for the end-to-end suites (tests/check_e2e_*.c): start the real spliced
 * binary and tools/testbackend on free 127.0.0.1 ports, talk raw HTTP/1.1 to them.
 *
 * The binaries come from the environment: SPLICED_BIN and TESTBACKEND_BIN hold absolute
 * paths (`make test` sets both); a test fails with a clear message when one is unset.
 *
 * Failure model: the helpers whose names say start/stop/open/roundtrip fail the running
 * Check test themselves with a precise message; the lower-level ones return an error the
 * caller asserts on. Check ends a failed forked test with _exit(), so nothing registered
 * with atexit() would run: every process started here is registered with a small watchdog
 * process that SIGKILLs whatever is still registered, and removes the test's temporary
 * directory, once the test process is gone (set E2E_KEEP=1 to keep the directory).
 *
 * Every wait is bounded: reads and writes give up after E2E_IO_TIMEOUT_MS without
 * progress, process start-up after 10 s, stop after 10 s. No helper asserts on speed. */
#ifndef SPLICED_TESTS_E2E_H
#define SPLICED_TESTS_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define E2E_IO_TIMEOUT_MS 30000          /* no progress for this long: give up */
#define E2E_BODY_MAX      (64u << 20)    /* largest response body the client accepts */
#define E2E_MAX_HEADERS   256
#define E2E_FNV_BASIS     0xcbf29ce484222325ull

/* A started child process (spliced or testbackend). Zero-initialise before *_start. */
struct e2e_proc {
	pid_t pid;            /* 0 when never started */
	int port;             /* the 127.0.0.1 port it listens on */
	bool reaped;          /* exit status collected (status valid) */
	int status;           /* raw wait status */
	char dir[320];        /* its own temporary directory (mode 0755) */
	char conf[400];       /* spliced: the configuration file written */
	char log[400];        /* spliced: ErrorLog path */
	char out[400];        /* its standard output and standard error (spliced) / stderr */
	char record[400];     /* testbackend: -r file ("" when not recording) */
};

/* ---- processes ---------------------------------------------------------------------- */

/* Absolute path from environment variable `var`; fails the test when unset or empty. */
const char *e2e_env_bin(const char *var);

/* Starts TESTBACKEND_BIN -p 0 [extra_args split on spaces] and learns its port from the
 * "listening 127.0.0.1:PORT" line (with "-u PATH" in extra_args: waits for "listening
 * unix:PATH", port 0). The _recording variant adds "-r p->record". */
void e2e_backend_start(struct e2e_proc *p, const char *extra_args);
void e2e_backend_start_recording(struct e2e_proc *p, const char *extra_args);
void e2e_backend_stop(struct e2e_proc *p);

/* Writes DIR/spliced.conf = "Listen 127.0.0.1:PORT", "ErrorLog DIR/error.log",
 * "Workers 1" (unless config_text has a Workers line), then config_text; starts
 * SPLICED_BIN -c DIR/spliced.conf and waits (20 ms polls, at most 10 s) until the port
 * accepts a connection. Fails the test, quoting the error log and the output, if spliced
 * exits or never listens. The port is reserved until spliced has bound it. */
void e2e_spliced_start(struct e2e_proc *p, const char *config_text);
/* When set, e2e_spliced_start calls it right after spliced is spawned, before waiting for
 * the port: a suite that watches start-up from outside (the sd_notify socket) does it
 * there. It must return within a bounded time. */
extern void (*e2e_after_spawn)(const struct e2e_proc *p);
void e2e_spliced_startf(struct e2e_proc *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Socket activation as a service manager does it (sd_listen_fds(3)). */
struct e2e_activation {
	const int *fds;        /* listening sockets: descriptors 3, 4, ... of spliced (<= 16) */
	unsigned nfds;         /* LISTEN_FDS */
	const char *fdnames;   /* LISTEN_FDNAMES; NULL: not set */
	int pid_offset;        /* LISTEN_PID = spliced's pid + pid_offset (0: its own) */
	uid_t uid;             /* nonzero: spliced runs as uid/gid (set in the child before the
				* exec, no supplementary groups); the directory is given to it */
	gid_t gid;
	const char *bin;       /* NULL: SPLICED_BIN */
};
/* Writes DIR/spliced.conf = "ErrorLog DIR/error.log", "Workers 1" (unless config_text has
 * a Workers line), then config_text (no Listen line is added: the test names its own),
 * starts spliced with a's sockets and variables and returns at once: the sockets listen
 * already, connections wait in their backlog (wait for READY=1 or the log to know it
 * started). p->port: the first socket's 127.0.0.1 port, else 0. Stop with
 * e2e_spliced_stop() or wait with e2e_proc_wait(). */
void e2e_spliced_spawn_activated(struct e2e_proc *p, const char *config_text,
				 const struct e2e_activation *a);

/* SIGTERM, then waits at most 10 s (then SIGKILL and the test fails). Returns the exit
 * code, or 128 + signal number when killed by a signal. Idempotent once reaped. */
int e2e_spliced_stop(struct e2e_proc *p);

/* Starts argv (argv[0] absolute) with its standard output and error appended to the file
 * `out`, registered with the watchdog as spliced and the testbackend are; sets p->pid and
 * p->out. Fails the test when it cannot start. Stop it with kill() and e2e_proc_wait(). */
void e2e_spawn(struct e2e_proc *p, const char *const argv[], const char *out);

/* Waits up to timeout_ms for p to exit and reaps it; true when it has exited. */
bool e2e_proc_wait(struct e2e_proc *p, int timeout_ms);
/* A live child of parent named child_name other than `not` (0: any), waited for (10 ms
 * polls) at most timeout_ms; 0 when there is none. Under spliced's pid (its supervisor):
 * "spliced" is the serving process, "spliced-helper" the helper. */
pid_t e2e_child_pid(pid_t parent, const char *child_name, pid_t not, int timeout_ms);
/* Exit code of a reaped process, 128 + signal when it died of a signal. */
int e2e_proc_exit_code(const struct e2e_proc *p);
/* Not reaped yet and not a zombie. */
bool e2e_proc_running(struct e2e_proc *p);

/* Runs argv (argv[0] an absolute path) to completion (at most 30 s), its stdout+stderr
 * returned in *output (malloc'd, NUL-terminated). Returns its exit code (128 + signal). */
int e2e_run(const char *const argv[], char **output);
/* The same with a bound of timeout_ms instead of 30 s (a package build, an apt-get). */
int e2e_run_ms(const char *const argv[], char **output, int timeout_ms);

/* A new file in the test's temporary directory holding text; returns its path (static
 * storage, valid for the test). */
const char *e2e_write_temp(const char *name, const char *text);

/* ---- files and logs ----------------------------------------------------------------- */

/* Whole file, malloc'd and NUL-terminated (*len without the NUL); NULL if unreadable. */
char *e2e_read_file(const char *path, size_t *len);
/* spliced's error log text (malloc'd; "" when missing). */
char *e2e_spliced_log(const struct e2e_proc *p);
/* Exit status, error log tail and stdout/stderr tail (sanitizer reports land there) of
 * p, for failure messages. malloc'd. */
char *e2e_spliced_report(const struct e2e_proc *p);
/* Polls the error log (20 ms, at most timeout_ms) until it contains needle. */
bool e2e_log_wait_for(const struct e2e_proc *p, const char *needle, int timeout_ms);
/* Occurrences of needle in spliced's error log. */
unsigned e2e_log_count(const struct e2e_proc *p, const char *needle);

/* ---- spliced's configuration file, for reloads --------------------------------------- */

/* Replaces the first `from` in p->conf with `to` (fails the test when there is none). */
void e2e_conf_replace(const struct e2e_proc *p, const char *from, const char *to);
/* Appends text to p->conf. */
void e2e_conf_append(const struct e2e_proc *p, const char *text);
/* Lines in p->conf now. */
unsigned e2e_conf_lines(const struct e2e_proc *p);
/* SIGHUP to p, then waits (bounded: 10 s, else the test fails) for the outcome in the
 * error log: true when configuration generation `gen` took effect, false when the
 * reload failed. */
bool e2e_reload(const struct e2e_proc *p, unsigned gen);

/* From the last "stats:" line of log: the value of " key=". False if absent. */
bool e2e_stats_get(const char *log, const char *key, unsigned long long *val);
/* The value of the Prometheus metric line `name` (labels included) on the metrics page
 * that `GET /metrics` on 127.0.0.1:port serves (a connection of its own), or -1. */
long long e2e_metric(int port, const char *name);
/* The same from a metrics page already read (text NUL-terminated), or -1. */
long long e2e_metric_in(const char *text, const char *name);
/* Reads it until it is `want` (bounded: 200 reads 25 ms apart); returns the last value. */
long long e2e_metric_wait(int port, const char *name, long long want);
/* Short, printable description of the last started spliced: running or exit status,
 * and the tail of its error log. Static storage. For failure messages. */
const char *e2e_diag(void);

/* ---- ports -------------------------------------------------------------------------- */

/* A port nobody listens on: bound (never listening) by a socket held open until the test
 * ends, so a connect to it is refused and no other process can take it meanwhile. */
int e2e_dead_port(void);

/* A port below 1024 free on 127.0.0.1 now (no socket bound there, a listener may be
 * bound): the first of 1000, 999, ... 600 a socket of ours can bind, released before
 * returning. Needs CAP_NET_BIND_SERVICE; 0 when none is free or binding is refused. */
int e2e_free_privileged_port(void);

/* ---- raw client --------------------------------------------------------------------- */

struct e2e_client {
	int fd;
	int port;
	int timeout_ms;       /* no-progress bound for reads; 0 = E2E_IO_TIMEOUT_MS */
	unsigned char *buf;   /* received, not yet consumed: buf[start..end) */
	size_t start, end, cap;
};

struct e2e_header {
	const char *name;     /* NUL-terminated, as received */
	const char *value;    /* NUL-terminated, OWS trimmed */
};

enum e2e_framing { E2E_NO_BODY, E2E_LENGTH, E2E_CHUNKED, E2E_UNTIL_CLOSE };

struct e2e_response {
	int status;
	int minor;                    /* HTTP/1.minor */
	char *head;                   /* as received: status line .. CRLFCRLF, NUL-terminated */
	size_t head_len;
	struct e2e_header hdr[E2E_MAX_HEADERS];
	unsigned nhdr;
	enum e2e_framing framing;
	unsigned char *body;          /* decoded body, NUL-terminated (not counted) */
	size_t body_len;
	unsigned nchunks;             /* chunked: non-empty chunks received */
	char *trailers;               /* chunked: trailer lines as received ("" if none) */
	char err[1024];               /* why e2e_read_response failed */
	char *hcopy_;                 /* private: storage of hdr[] */
};

/* Connects to 127.0.0.1:port. 0 or -errno. */
int e2e_client_try_open(struct e2e_client *c, int port);
/* Same, from the local IPv4 address `from` (e.g. "127.0.0.2"; NULL: the system's
 * choice). */
int e2e_client_try_open_from(struct e2e_client *c, int port, const char *from);
/* Same, with a receive buffer of rcvbuf bytes set before the connect (a client that
 * reads slowly fills it at once). */
int e2e_client_try_open_rcvbuf(struct e2e_client *c, int port, int rcvbuf);
/* Same, failing the test on error. */
void e2e_client_open(struct e2e_client *c, int port);
void e2e_client_close(struct e2e_client *c);
/* Sends all n bytes (MSG_NOSIGNAL, bounded). 0 or -errno. */
int e2e_send(struct e2e_client *c, const void *p, size_t n);
int e2e_send_str(struct e2e_client *c, const char *s);

/* Reads one response (an interim 1xx response counts as one, without body). head_request:
 * the request was HEAD, so no body follows. 0 on success; -1 with r->err set. Bytes after
 * the response stay buffered for the next call. Free with e2e_response_free. */
int e2e_read_response(struct e2e_client *c, struct e2e_response *r, bool head_request);
void e2e_response_free(struct e2e_response *r);

/* Sends req[0..len) and reads one response, failing the test with the request, the
 * error and e2e_diag() if either fails. */
void e2e_roundtrip(struct e2e_client *c, const void *req, size_t len,
		   struct e2e_response *r, bool head_request);

/* First value of header `name` (case-insensitive), NULL if absent. */
const char *e2e_header(const struct e2e_response *r, const char *name);
unsigned e2e_header_count(const struct e2e_response *r, const char *name);
/* Some `name` header lists `token` (comma-separated, case-insensitive). */
bool e2e_header_has_token(const struct e2e_response *r, const char *name, const char *token);

enum { E2E_OPEN = 0, E2E_CLOSED_EOF = 1, E2E_CLOSED_RESET = 2, E2E_GOT_DATA = -1 };
/* Waits up to timeout_ms for the peer to close: E2E_CLOSED_EOF (read returned 0),
 * E2E_CLOSED_RESET, E2E_OPEN (still open at the deadline) or E2E_GOT_DATA (unconsumed
 * bytes arrived instead; they stay buffered). */
int e2e_wait_closed(struct e2e_client *c, int timeout_ms);
/* Reads until EOF (at most timeout_ms without progress, E2E_BODY_MAX bytes). *out is
 * malloc'd (buffered bytes first). 0 at EOF, -ETIMEDOUT, -ECONNRESET, -E2BIG, -errno. */
int e2e_read_until_eof(struct e2e_client *c, unsigned char **out, size_t *len, int timeout_ms);
/* Bytes received but not consumed by a response read. */
size_t e2e_client_pending(const struct e2e_client *c);

/* ---- echoed request heads (the testbackend's default body) -------------------------- */

/* head[0..len) contains line (without CRLF) as a whole line. */
bool e2e_head_has_line(const void *head, size_t len, const char *line);
/* Number of header fields named `name` (case-insensitive) in an HTTP head. */
unsigned e2e_head_field_count(const void *head, size_t len, const char *name);
/* Value (exact bytes after ": " up to CRLF) of the first field `name`, copied into out;
 * NULL if absent. */
const char *e2e_head_field(const void *head, size_t len, const char *name,
			   char *out, size_t outlen);

/* ---- data --------------------------------------------------------------------------- */

uint64_t e2e_fnv1a(uint64_t h, const void *p, size_t n);       /* start with E2E_FNV_BASIS */
uint64_t e2e_fnv1a64(const void *p, size_t n);
/* The testbackend body pattern: byte i = (i*7+3) % 251, for i in [off, off+n). */
void e2e_pattern_fill(unsigned char *dst, size_t off, size_t n);
uint64_t e2e_pattern_fnv(size_t n);
/* Index of the first byte of p[0..n) that differs from the pattern, -1 if none. */
long long e2e_pattern_mismatch(const unsigned char *p, size_t n);
/* Deterministic pseudo-random bytes (not the pattern), for request bodies. */
void e2e_random_fill(unsigned char *dst, size_t n, uint64_t seed);
/* "%016llx" of h, as the testbackend prints X-Body-Fnv. Static rotating storage. */
const char *e2e_hex64(uint64_t h);

/* Printable C-style escape of p[0..n), truncated to ~600 characters. Static rotating
 * storage (8 slots), so a few may appear in one message. */
const char *e2e_esc(const void *p, size_t n);
const char *e2e_escs(const char *s);

void e2e_sleep_ms(int ms);

/* ---- autostart suites --------------------------------------------------------------- */

/* A 127.0.0.1 port that was free a moment ago (bound to port 0, read back, closed): for a
 * backend that spliced starts itself and that must be named in the configuration before
 * it exists. Not reserved: another process could take it meanwhile (unlikely in the short
 * time before the backend binds it). */
int e2e_free_port(void);

/* The test's temporary directory (mode 0755, removed by the watchdog when the test process
 * ends), for files the test creates itself. Static storage. */
const char *e2e_temp_dir(void);

/* TESTBACKEND_BIN copied (once per test) into the test's 0755 temporary directory, for a
 * backend that the helper starts as another user (nobody): the source tree may sit where
 * others cannot enter (a 0700 checkout directory). Static storage. */
const char *e2e_backend_bin_for_others(void);

/* Copies src to dst (created or truncated) with exactly `mode`; fails the test on error. */
void e2e_copy_file(const char *src, const char *dst, mode_t mode);

/* ---- probes ------------------------------------------------------------------------- */

/* Starts /usr/bin/bpftrace -B none -e script, its output (unbuffered) into the file
 * `out`, and waits (at most 15 s) until it says it is attaching. Returns its pid; 0 after
 * printing "SKIP name: why" when bpftrace is missing or cannot attach (no root, no BPF),
 * and the caller skips. */
pid_t e2e_bpftrace_start(const char *name, const char *script, const char *out);

/* Waits (at most 10 s) until `out` holds `want` (NULL: no wait), stops bpftrace (SIGINT,
 * SIGKILL after 5 s) and returns what it wrote (malloc'd, "" when nothing). */
char *e2e_bpftrace_stop(pid_t pid, const char *out, const char *want);

#endif
