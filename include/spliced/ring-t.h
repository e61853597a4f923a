/* Types of the io_uring wrapper (src/ring.c). Types only. */
#ifndef SPLICED_RING_T_H
#define SPLICED_RING_T_H

#include <stdint.h>

/* What a completion is about. user_data = (index << 8) | op; index is a connection slot
 * for the connection ops, unused for the worker's own ops. */
enum ring_op {
	OP_NONE = 0,     /* completions nobody waits for (cancel requests) */
	OP_ACCEPT,       /* multishot accept; index = listener */
	OP_WAKE,         /* eventfd read: the main thread asks the worker to stop */
	OP_TICK,         /* periodic timeout: deadlines */
	OP_CLIENT_RECV,
	OP_CLIENT_SEND,
	OP_UP_CONNECT,
	OP_UP_SEND,
	OP_UP_RECV,
	OP_SPLICE_POLL,  /* readiness for a non-blocking splice(2) */
	OP_ALOG_WRITE,   /* an access log buffer written; index = the CustomLog */
	OP_HELPER_RECV,  /* a message from the privileged helper */
	OP_AS_TIMER,     /* retry a backend being started; index = the ProxyAutostart */
	OP_UP_WATCH,     /* the backend may answer while the request body is awaited */
	OP_TUNNEL_POLL,  /* readiness for a tunnel's client -> backend splice (the other
			  * direction, in flight at the same time, uses OP_SPLICE_POLL) */
	OP_INBOX,        /* eventfd read: connections handed over by a retiring worker */
	OP_HCHECK,       /* a step of a pool member's health check; index = pool *
			  * CFG_MAX_MEMBERS + member (src/hcheck.c) */
	OP_TLS_NET_RECV, /* TLS (src/tls.c): index = the worker's TLS session */
	OP_TLS_NET_SEND,
	OP_TLS_PLAIN_RECV,
	OP_TLS_PLAIN_SEND,
	OP_PARKED_RECV,  /* a parked idle connection's receive; index = its record */
};

#define RING_UD(op, idx) (((uint64_t)(idx) << 8) | (uint64_t)(op))
#define RING_UD_OP(ud) ((enum ring_op)((ud) & 0xff))
#define RING_UD_IDX(ud) ((uint32_t)((ud) >> 8))

#endif
