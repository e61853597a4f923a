/* Types of the backend connection pool (src/upstream.c). Types only. */
#ifndef SPLICED_UPSTREAM_T_H
#define SPLICED_UPSTREAM_T_H

#include <stdbool.h>
#include <stdint.h>

/* Idle keep-alive connections kept per backend per worker. */
#define UP_POOL_MAX 64

struct up_idle {
	int fd;
	uint64_t since_ms;
};

/* LIFO stack: the most recently used connection is the most likely to be alive. */
struct up_pool {
	struct up_idle idle[UP_POOL_MAX];
	unsigned n;
	/* An idle connection older than this is closed rather than reused (the backend's
	 * ttl=): backends close idle connections after a while themselves, and a connection
	 * they closed costs a retry. */
	unsigned ttl_ms;
	/* The backend's count of open connections (max=, struct slot_shared), shared by the
	 * workers: the pool holds the count of its idle connections and gives it back when it
	 * closes one. NULL without max=. */
	unsigned *open;
	/* retry=: a connect to the backend failed; until then this worker answers its
	 * requests 503 without trying (httpd's worker "in error state"). */
	uint64_t error_until_ms;
};

#endif
