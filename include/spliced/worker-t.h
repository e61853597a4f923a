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
#include "spliced/hbuf-t.h"
#include "spliced/park-t.h"
#include "spliced/helper-t.h"
#include "spliced/rewrite-t.h"
#include "spliced/http-t.h"
#include "spliced/relay-t.h"
#include "spliced/upstream-t.h"
#include "spliced/autostart-t.h"
#include "spliced/balancer-t.h"
#include "spliced/slot-t.h"
#include "spliced/stats-t.h"
#include "spliced/status-t.h"


struct tls_ctxs;
struct tls_worker;

enum worker_wake {
	WORKER_WAKE_STOP = 1,      /* graceful stop: finish, close idle connections, end */
	WORKER_WAKE_RETIRE = 2,    /* reload: finish, hand idle connections over, end */
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
	uint32_t listen_tls;       /* listeners whose connections are TLS (src/tls.c) */
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

	struct http_limits lim;        /* request heads */
	struct http_limits rlim;       /* response heads (LimitResponseField*) */
	struct relay_pool pipes;
	struct hbuf_pool hb;       /* request buffers, lent per request (src/hbuf.c) */
	struct park_table park;    /* idle keep-alive connections off the slab (src/park.c) */
	const struct file_roots *files;
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
	struct as_queue *waits;    /* one per ProxyAutostart */
	bool as_released;          /* a queue's backend listens: its waiters may go */
	struct slot_shared **slots; /* one per backend, shared by every worker (max=) and, for
				     * a backend of the same name, by the workers of the
				     * configurations before and after a reload */
	struct slot_queue *slotq;  /* one per backend: requests waiting for max= */
	bool slot_released;        /* a queue's backend has room: its waiters may go */
	struct stats stats;
	struct status_slow slow;   /* its slowest recent requests (src/status.c) */
	uint32_t be_inflight[CFG_MAX_BACKENDS]; /* requests routed to each backend (not a
				    * pool) and not ended yet, for the status page */
	struct bal_state bal[CFG_MAX_BALANCERS]; /* this worker's view of each pool's members */
	struct hc_probe *hc;       /* health checks of the pools' members (src/hcheck.c),
				    * [CFG_MAX_BALANCERS * CFG_MAX_MEMBERS]; NULL: none yet */
	int exit_code;

	/* Reload (src/main.c): the workers of the previous configuration retire. A retiring
	 * worker stops accepting (the listening sockets stay open: its successor accepts on
	 * them), finishes the exchanges in flight and hands each keep-alive connection, as
	 * soon as it is idle, to its successor, a worker of the new configuration, which
	 * adopts it from its inbox. */
	uint64_t gen;              /* the configuration generation: 1 at start */
	int wake_cmd;              /* enum worker_wake bits, set before wake_fd is written */
	int ready;                 /* 1 once its ring is made, -1 when that failed */
	bool retiring;
	struct worker *successor;  /* set before WORKER_WAKE_RETIRE; outlives this worker */
	int inbox_fd;              /* eventfd: handed-over connections wait in inbox */
	uint64_t inbox_val;
	bool inbox_init;
	bool inbox_closed;         /* the worker ended: handoffs go to its successor */
	pthread_mutex_t inbox_lock;
	struct conn_origin *inbox;
	unsigned ninbox, inbox_cap;
	uint64_t handed;           /* connections handed over (log line) */
	bool helper_lent;          /* helper_fd went to the successor: not closed here */
	unsigned accepts_armed;    /* multishot accepts in the ring (until their last CQE) */
	bool helper_armed;         /* a receive on helper_fd is in the ring */
	uint16_t as_slot[CFG_MAX_AUTOSTART]; /* the helper's slot of each ProxyAutostart */
	/* A graceful stop keeps the MetricsListen accept until the last exchange of the other
	 * listeners ends, so that /health answers 503 meanwhile (balancers drain us). */
	uint32_t metrics_active;   /* of active, the connections of the metrics listener */
	bool metrics_closing;      /* stopping: its accept cancelled, its connections closed */
	const struct tls_ctxs *tls_ctxs; /* the configuration's TLS contexts (main owns them);
				    * NULL without TLS */
	struct tls_worker *tls;    /* TLS sessions in this ring (src/tls.c) */
	bool refuse_on_stop;       /* set by main before a process stop: the Listen sockets
				    * stop listening (see worker_begin_stop()) */
};

#endif
