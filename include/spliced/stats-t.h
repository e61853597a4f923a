/* Types of the counters and the metrics page (src/stats.c). Types only. */
#ifndef SPLICED_STATS_T_H
#define SPLICED_STATS_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spliced/config-t.h"
#include "spliced/slot-t.h"
#include "spliced/tls-t.h"

#define STATS_REASONS 32
#define STATS_LAT_BUCKETS 12

/* What the system ran out of (spliced_resource_errors_total{resource}). */
enum stats_resource {
	STATS_RES_FD_ACCEPT,       /* accept: out of descriptors (EMFILE, ENFILE) */
	STATS_RES_FD_CONNECT,      /* a backend socket: out of descriptors */
	STATS_RES_FD_FILE,         /* a static file: out of descriptors */
	STATS_RES_PIPE,            /* pipe2 failed: the body is copied instead */
	STATS_RES_PIPE_POOL,       /* every pipe of the worker's pool in use: copied */
	STATS_RES_MEMORY,          /* an allocation on the request path, accept's ENOMEM */
	STATS_RES_N
};

/* Why spliced closed a connection at its deadline (spliced_timeouts_total{stage}). */
enum stats_timeout {
	STATS_TO_IDLE,             /* between requests, or before the first byte */
	STATS_TO_HEAD,             /* a request head begun and not finished */
	STATS_TO_EXCHANGE,         /* anything later: body, backend, a client not reading */
	STATS_TO_N
};

/* Counters of a pool's member (stats.member[backend][k]). */
enum stats_member_count {
	STATS_M_REQUESTS,          /* requests the pool gave it */
	STATS_M_FAILURES,          /* refused connects, closes before any response byte */
	STATS_M_ERRORS,            /* times it went into error state */
	STATS_M_BACK,              /* times it answered again after that */
	STATS_M_HC_DOWN,           /* times its health checks took it out of rotation */
	STATS_M_HC_UP,             /* times they brought it back */
	STATS_MEMBER_COUNTS
};

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
	uint64_t tunnels;          /* tunnels opened (a 101 went to the client) */
	uint64_t tunnels_active;   /* tunnels open now (a gauge) */
	/* requests that waited for a connection of a backend with max=, by how it ended */
	uint64_t slot_waits[CFG_MAX_BACKENDS][SLOT_OUTCOMES];
	uint64_t authz_denied;     /* requests answered 403 by a <Location>'s Require rules */
	/* backends that are members of a balancer:// pool, by backend (src/member.c) */
	uint64_t member[CFG_MAX_BACKENDS][STATS_MEMBER_COUNTS];
	uint64_t tls_handshakes;   /* TLS handshakes completed */
	uint64_t tls_active;       /* TLS sessions alive now, handshaking or not (a gauge) */
	uint64_t tls_buffers;      /* TLS sessions' buffer blocks in use now (a gauge) */
	uint64_t tls_detached;     /* TLS connections that went through a socketpair from
				    * some point on (a static file, a tunnel) */
	uint64_t tls_fail[TLS_FAIL_N]; /* TLS handshakes failed, by enum tls_fail */
	uint64_t refused;          /* connections closed at once: the worker's share of
				    * MaxConnections was full */
	uint64_t timeouts[STATS_TO_N];
	uint64_t resource_errors[STATS_RES_N];
	uint64_t resource_log_ms[STATS_RES_N]; /* last error-log line, per resource (not summed) */
	/* lines of connections closed at their deadline, per stage (not summed): the last
	 * one logged (its time + 1) and those left out since */
	uint64_t timeout_log_ms[STATS_TO_N];
	uint64_t timeout_quiet[STATS_TO_N];
};

/* Configurations whose workers the pages count at once (the current one and those still
 * finishing their requests after reloads). */
#define STATS_GENS 16

struct worker;

/* What the status page reads, under the registry's lock (stats_view()). */
struct stats_view {
	struct stats sum;          /* every worker's counters, the ended ones' included */
	uint64_t active;           /* client connections open now */
	uint64_t head_buffers;     /* head buffers lent now */
	uint64_t reloads_ok, reloads_failed;
	uint64_t generation;       /* the configuration in use */
	uint64_t start_s;          /* CLOCK_REALTIME seconds: the first workers ran */
	uint64_t uptime_s;         /* since then (CLOCK_MONOTONIC) */
	uint64_t reload_s;         /* CLOCK_REALTIME seconds of the last reload, 0: none */
	bool reload_ok;            /* ... and whether it took effect */
	struct {
		const struct worker *w; /* running workers: read-only, approximate */
		unsigned n;
	} gen[STATS_GENS];
	unsigned ngen;
};

/* Text rendered on the heap: it grows as it is written, so a page always fits. */
struct stats_text {
	char *p;
	size_t len;
	size_t cap;
	bool failed;              /* out of memory */
};

#endif
