/* Types of a worker thread (src/worker.c). Types only. */
#ifndef SPLICED_WORKER_T_H
#define SPLICED_WORKER_T_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "spliced/config-t.h"
#include "spliced/conn-t.h"
#include "spliced/accesslog-t.h"
#include "spliced/file-t.h"
#include "spliced/helper-t.h"
#include "spliced/rewrite-t.h"
#include "spliced/http-t.h"
#include "spliced/relay-t.h"
#include "spliced/upstream-t.h"

/* Where static files come from: opened by the main thread before privileges are
 * dropped, read-only afterwards and shared by the workers. */
struct worker_files {
	struct file_root docroot;      /* fd -1: no DocumentRoot */
	struct file_root alias[CFG_MAX_ALIAS];
	struct file_root rwroot[CFG_MAX_ROOTS]; /* roots of RewriteRule file substitutions */
	const struct mime_table *mime;
};

#define STATS_REASONS 32
#define STATS_LAT_BUCKETS 12

/* Upper bounds (ns) of the latency histogram buckets; the last bucket is +Inf. */
extern const uint64_t stats_lat_bounds_ns[STATS_LAT_BUCKETS - 1];

/* Counters of one worker: written only by it, read (approximately, while it runs) by the
 * metrics endpoint and summed by the main thread at exit. */
struct stats {
	struct {
		const char *reason;    /* the parser's static string */
		uint64_t n;
	} perr[STATS_REASONS];     /* parse errors by reason */
	unsigned nperr;
	uint64_t lat_bucket[STATS_LAT_BUCKETS];
	uint64_t lat_sum_ns;
	uint64_t accepted;
	uint64_t requests;
	uint64_t status[6];        /* by class: [1] 1xx .. [5] 5xx, [0] closed without one */
	uint64_t parse_errors;
	uint64_t bytes_spliced;    /* body bytes moved socket -> pipe -> socket */
	uint64_t bytes_copied;     /* body bytes copied through user space */
	uint64_t splice_transfers; /* bodies (or chunks) that went through a pipe */
	uint64_t up_connects;
	uint64_t up_reuses;
	uint64_t up_retries;
	uint64_t autostarts;       /* start requests sent to the helper */
	uint64_t autostart_waits;  /* requests that waited for a backend to start */
	uint64_t autostart_fails;  /* ... and got 503 (StartTimeout, queue full) */
	uint64_t fields_dropped;   /* request fields with '_' in the name, not forwarded */
};

struct worker {
	unsigned id;
	const struct config *cfg;
	struct io_uring ring;
	bool ring_ready;
	pthread_t thread;
	int listen_fd[CFG_MAX_LISTEN + 1]; /* the Listen sockets, then MetricsListen's */
	unsigned nlisten;
	int metrics_li;            /* index of the MetricsListen socket in listen_fd, or -1 */
	struct worker *all;        /* every worker (the metrics endpoint sums their stats) */
	unsigned nall;
	uint16_t listen_port[CFG_MAX_LISTEN + 1]; /* local port of each listener */
	uint32_t accept_paused;    /* listeners whose accept waits for the next tick */
	uint64_t accept_log_ms;
	int wake_fd;               /* eventfd: the main thread asks for a graceful stop */
	uint64_t wake_val;
	struct __kernel_timespec tick;
	uint64_t now_ms;           /* CLOCK_MONOTONIC, updated once per loop */
	bool stopping;
	uint64_t stop_deadline_ms;

	struct conn *conns;
	uint32_t nconns;           /* slots */
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t active;

	struct http_limits lim;
	struct relay_pool pipes;
	const struct worker_files *files;
	struct file_cache fcache;
	bool fcache_ready;
	uint64_t conn_seq;         /* connection ids */
	struct rw_ctx *rw;         /* rewrite scratch (match data, buffers) */
	int alog_fd[CFG_MAX_CUSTOMLOG];         /* CustomLog files, opened by main */
	struct alog_buf alog[CFG_MAX_CUSTOMLOG]; /* their double buffers */
	bool alog_busy[CFG_MAX_CUSTOMLOG];      /* a write is in flight */
	struct up_pool *pools;     /* one per configured backend */
	int helper_fd;             /* conversation with the privileged helper, -1 = none */
	bool helper_gone;          /* it closed: nothing can be started any more */
	struct helper_msg hmsg;    /* the message being received */
	struct up_wait *waits;     /* one per ProxyAutostart */
	struct stats stats;
	int exit_code;
};

#endif
