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

/* A new non-blocking TCP socket for backend b (TCP_NODELAY), not yet connected; -errno. */
int up_socket(const struct cfg_backend *b);

/* ---- the autostart wait queue (one per worker per ProxyAutostart backend) ---- */

struct conn;

/* An empty queue with the first retry delay. */
void up_wait_init(struct up_wait *q);

/* Queues connection c (a slot of conns[]) at the back, or at the front (a waiter whose
 * retry was refused again keeps its turn). Sets c->waiting. */
void up_wait_push(struct up_wait *q, struct conn *conns, struct conn *c, bool front);

/* Takes the first waiter off the queue (c->waiting cleared), or NULL when empty. */
struct conn *up_wait_pop(struct up_wait *q, struct conn *conns);

/* Takes c off the queue, wherever it is; nothing when c is not waiting. */
void up_wait_remove(struct up_wait *q, struct conn *conns, struct conn *c);

/* The retry delay after cur_ms: doubled, at most UP_RETRY_MAX_MS. */
unsigned up_retry_next(unsigned cur_ms);

#endif
