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

/* Reload: asks w (a worker of the previous configuration) to retire in favour of
 * successor, a running worker of the new one: w stops accepting (the listening sockets
 * are shared: the successor accepts on them), finishes its exchanges in flight on its own
 * configuration and hands every keep-alive connection, once idle, to the successor. Then
 * it ends. Not async-signal-safe (called by the main thread outside signal handlers). */
void worker_retire(struct worker *w, struct worker *successor);

/* Hands client connection o->fd to worker `to`, which adopts it as if it had accepted it
 * (with o->carried, the client a PROXY header named stays its client); a worker that
 * ended passes it on to its successor; with no one left, the descriptor is closed. Any
 * thread. */
void worker_handoff(struct worker *to, const struct conn_origin *o);

/* Out of descriptors (EMFILE/ENFILE): the older half of every idle backend pool of w is
 * closed, so that the descriptors go to clients and new requests. The number closed. */
unsigned worker_shed_idle(struct worker *w);

void worker_destroy(struct worker *w);

#endif
