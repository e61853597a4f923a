/* Types of the connection limit of backends with max= (src/slot.c). Types only. */
#ifndef SPLICED_SLOT_T_H
#define SPLICED_SLOT_T_H

#include <stdbool.h>
#include <stdint.h>

/* Requests of one worker that may wait for one backend's connections; more get 503. */
#define SLOT_QUEUE_MAX 1024

/* What one backend with max= shares between the workers: the only state of the request
 * path that is not per worker, and only for backends that set max= (the others have no
 * counter and pay nothing). Updated with atomic operations, no lock. */
struct slot_shared {
	unsigned open;             /* connections open now (in use or pooled), all workers */
	unsigned waiting;          /* requests waiting for one, all workers */
	unsigned refs;             /* configuration generations that use it (main thread) */
	/* A member of a balancer:// pool (src/member.c, src/ondemand.c), every backend: */
	unsigned busy;             /* requests a pool gave it, in flight, all workers */
	uint64_t last_ms;          /* when a pool last gave it one (CLOCK_MONOTONIC ms) */
	unsigned od;               /* ondemandmin= pools: enum bal_od, written by the worker
				    * that decides (src/ondemand.c), read by all */
};

/* The requests of one worker waiting for one backend's connections: a FIFO of connection
 * slots linked through conn.wait_prev/wait_next (a request is in one queue at a time). */
struct slot_queue {
	uint32_t head, tail;       /* UINT32_MAX when empty */
	unsigned n;
	unsigned held;             /* connections of this worker in use (its pool holds the
				    * idle ones): with them, its share of max= */
	bool released;             /* a connection was freed or pooled: waiters may try */
};

/* How a request that waited for a connection ended (spliced_backend_waits_total). */
enum slot_outcome {
	SLOT_CONNECTED = 0,        /* it got one */
	SLOT_503,                  /* acquire= ran out, or the queue was full */
	SLOT_GONE,                 /* the client went away first */
	SLOT_OUTCOMES
};

#endif
