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

/* A timeout of `ms` whose completion carries user data ud; ts must stay valid until the
 * ring was submitted. 0 or -EBUSY. */
int ring_timer(struct io_uring *ring, uint64_t ud, struct __kernel_timespec *ts, unsigned ms);

/* Moves the pending timeout ud to `ms` from now (when it already fired, nothing happens).
 * ts: as for ring_timer(). 0 or -EBUSY. */
int ring_timer_update(struct io_uring *ring, uint64_t ud, struct __kernel_timespec *ts,
		      unsigned ms);

/* Cancels everything in flight on fd (their completions still arrive, with -ECANCELED). */
void ring_cancel_fd(struct io_uring *ring, int fd);

#endif
