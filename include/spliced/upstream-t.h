/* Types of the backend connection pool (src/upstream.c). Types only. */
#ifndef SPLICED_UPSTREAM_T_H
#define SPLICED_UPSTREAM_T_H

#include <stdbool.h>
#include <stdint.h>

/* A pool's first array of idle connections; it doubles as more are given back at once,
 * up to the pool's limit (the worker's connection slots: as many as could have been in
 * use together). */
#define UP_POOL_START 64

struct up_idle {
	int fd;
	uint64_t since_ms;
};

/* LIFO stack: the most recently used connection is the most likely to be alive. */
struct up_pool {
	struct up_idle *idle;     /* cap entries (NULL until the first is given back) */
	unsigned n;
	unsigned cap;
	unsigned limit;           /* the most kept; past it the oldest is closed */
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
