/* Types of the backend connection pool (src/upstream.c). Types only. */
#ifndef SPLICED_UPSTREAM_T_H
#define SPLICED_UPSTREAM_T_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/time_types.h>

/* Idle keep-alive connections kept per backend per worker. */
#define UP_POOL_MAX 64
/* An idle connection older than this is closed rather than reused: backends close idle
 * connections after a while themselves, and a connection they closed costs a retry. */
#define UP_IDLE_MS 15000

struct up_idle {
	int fd;
	uint64_t since_ms;
};

/* LIFO stack: the most recently used connection is the most likely to be alive. */
struct up_pool {
	struct up_idle idle[UP_POOL_MAX];
	unsigned n;
};

/* The requests of one worker that wait for one ProxyAutostart backend to listen: a FIFO
 * of connection slots linked through conn.wait_prev/wait_next, and the retry schedule. */
#define UP_WAIT_NONE UINT32_MAX
#define UP_RETRY_FIRST_MS 5        /* first retry of the connection after a start request */
#define UP_RETRY_MAX_MS 250        /* the retry delay doubles up to this */

struct up_wait {
	uint32_t head, tail;       /* UP_WAIT_NONE when empty */
	unsigned n;
	bool asked;                /* HMSG_START sent for the requests waiting now */
	bool timer_armed;
	bool probing;              /* the first waiter is trying to connect */
	unsigned delay_ms;         /* the next retry's delay */
	struct __kernel_timespec ts; /* the retry timer's (read by the kernel at submit) */
	uint32_t hstate;           /* the helper's last word: enum helper_bstate */
	uint32_t hbackoff_ms;      /* ... and its backoff when HB_BACKOFF */
};

#endif
