/* The connection limit of a backend with max=: at most `max` connections to it are open
 * at once (in use or idle in a pool), across all workers, counted in a struct slot_shared
 * with atomic operations. A request that finds them all taken waits in its worker's FIFO
 * for acquire= ms (state CS_SLOT_WAIT); a connection given back to the pool or closed
 * releases the waiters of that worker at once (conn.c: conn_slot_release()), those of the
 * other workers at their next tick. While requests wait on other workers, a worker keeps
 * at most its share of the connections (max= divided by the workers, rounded up): over it,
 * a connection it is done with is closed rather than kept for its own waiters, and its
 * waiters take no new one, so that no worker's requests starve while another's queue never
 * empties. After acquire=, or with the queue full: 503 with Retry-After.
 *
 * Functions that decide what happens to a request return an enum conn_ev for conn.c to
 * act on; none of them sends or closes anything itself. */
#ifndef SPLICED_SLOT_H
#define SPLICED_SLOT_H

#include <stdbool.h>

#include "spliced/conn-t.h"
#include "spliced/slot-t.h"

struct worker;

/* An empty queue. */
void slot_queue_init(struct slot_queue *q);

/* c (with c->pass set, no backend connection) may open a new connection to its backend:
 * true when the backend has no max= or one of its connections was free (taken: counted
 * in c->slot_held until slot_put()). False: *ev is EV_WAIT (c waits, CS_SLOT_WAIT) or
 * EV_PAGE (503: acquire= has passed, or the queue is full). */
bool slot_take(struct conn *c, enum conn_ev *ev);

/* c's backend connection (c->ufd, about to be closed by the caller) no longer counts. */
void slot_put(struct conn *c);

/* c's backend connection goes to the pool: the pool holds its count now. False when it
 * should rather be closed, so that a request waiting on another worker gets it (the caller
 * then closes it and calls slot_put()). */
bool slot_pool(struct conn *c);

/* c took a pooled connection to its backend: the pool's count of it goes to c. */
void slot_from_pool(struct conn *c);

/* c got its backend connection (new or pooled): counted when it had waited for it. */
void slot_got(struct conn *c);

/* c leaves the queue, whatever it was doing (answered, closed). */
void slot_leave(struct conn *c);

/* A waiter timed out: 503 with Retry-After. Returns EV_PAGE. */
enum conn_ev slot_fail(struct conn *c);

/* The next waiter of backend b that should try now (a pooled or a free connection is
 * there), or NULL. */
struct conn *slot_next(struct worker *w, unsigned b);

/* Once per tick: frees idle pooled connections of backends that requests wait for on
 * other workers while none wait here; marks queues whose backend has room as released. */
void slot_tick(struct worker *w);

#endif
