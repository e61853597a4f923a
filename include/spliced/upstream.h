/* Backend connections: per-worker keep-alive pools (no locks) and new sockets. */
#ifndef SPLICED_UPSTREAM_H
#define SPLICED_UPSTREAM_H

#include <stdbool.h>

#include "spliced/config-t.h"
#include "spliced/upstream-t.h"

/* A pooled connection that is still open (checked with a non-blocking MSG_PEEK: a
 * connection the backend closed, or one with unexpected bytes, is closed and skipped),
 * or -1 when none is left. The caller owns the fd. */
int up_pool_take(struct up_pool *p, uint64_t now_ms);

/* Gives an idle connection back; closes it when the pool is full. */
void up_pool_put(struct up_pool *p, int fd, uint64_t now_ms);

/* Closes connections idle for longer than UP_IDLE_MS, or all when `all`. */
void up_pool_prune(struct up_pool *p, uint64_t now_ms, bool all);

/* A new non-blocking socket for backend b (TCP with TCP_NODELAY, or Unix-domain), not yet
 * connected; -errno. */
int up_socket(const struct cfg_backend *b);

#endif
