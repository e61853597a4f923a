/* io_uring set-up and submission helpers: the only place that knows the ring's flags. */
#ifndef SPLICED_RING_H
#define SPLICED_RING_H

#include <liburing.h>

#include "spliced/ring-t.h"

/* Sets up a ring for one worker with the cheapest flags this kernel accepts
 * (single issuer, deferred task work), falling back to none. Returns 0 or -errno. */
int ring_init(struct io_uring *ring, unsigned entries);

/* A free submission entry; submits what is queued when the queue is full. Never NULL
 * unless the ring is broken (then the caller fails the connection). */
struct io_uring_sqe *ring_sqe(struct io_uring *ring);

#endif
