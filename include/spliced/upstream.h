/* Backend connections: per-worker keep-alive pools (no locks) and new sockets. */
#ifndef SPLICED_UPSTREAM_H
#define SPLICED_UPSTREAM_H

#include <stdbool.h>

#include "spliced/config-t.h"
#include "spliced/upstream-t.h"

/* An empty pool for backend b (its ttl=) that keeps at most limit idle connections (a
 * worker: its connection slots); open: its shared count of open connections (max=), or
 * NULL. */
void up_pool_init(struct up_pool *p, const struct cfg_backend *b, unsigned *open,
		  unsigned limit);

/* A pooled connection that is still open (checked with a non-blocking MSG_PEEK: a
 * connection the backend closed, or one with unexpected bytes, is closed and skipped),
 * or -1 when none is left. The caller owns the fd. */
int up_pool_take(struct up_pool *p, uint64_t now_ms);

/* Gives an idle connection back; at the pool's limit the oldest is closed (and fd itself
 * when the pool's array cannot grow). */
void up_pool_put(struct up_pool *p, int fd, uint64_t now_ms);

/* Closes connections idle for ttl_ms or longer, or all when `all` (and then frees the
 * pool's array). */
void up_pool_prune(struct up_pool *p, uint64_t now_ms, bool all);

/* Closes the oldest idle connection (the pool is not empty). */
void up_pool_close_one(struct up_pool *p);

/* Out of descriptors: closes the older half of the pool's idle connections (the newest
 * ones are those that will be reused). The number closed. */
unsigned up_pool_shed(struct up_pool *p);

/* A new non-blocking socket for backend b (TCP with TCP_NODELAY, or Unix-domain;
 * SO_KEEPALIVE with keepalive=On), not yet connected; -errno. */
int up_socket(const struct cfg_backend *b);

#endif
