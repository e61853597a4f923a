/* A worker thread: its own io_uring, its own SO_REUSEPORT listeners, connection slab,
 * backend pools and pipe pool. Nothing is shared with other workers on the request path
 * but the connection counts of backends with max= (w->slots, atomics, src/slot.c). */
#ifndef SPLICED_WORKER_H
#define SPLICED_WORKER_H

#include "spliced/worker-t.h"

/* Prepares w (slab, eventfd; the ring is made by the thread itself) for the listeners in
 * w->listen_fd; w->slots (one per backend, shared by all workers, outliving them) is set
 * before. Returns 0 or -errno. */
int worker_init(struct worker *w, const struct config *cfg, unsigned id, unsigned max_conns);

/* Thread body: runs the event loop until a graceful stop completes. */
void *worker_main(void *arg);

/* Asks the worker to stop accepting and finish in-flight requests (async-signal-safe). */
void worker_stop(struct worker *w);

void worker_destroy(struct worker *w);

#endif
