/* Backend autostart, the serving side: the requests that found a ProxyAutostart backend
 * refusing connections wait in a per-worker, per-backend queue while the helper is asked
 * to start it; a timer retries the connection (one probe at a time), and when it succeeds
 * every waiter connects. After StartTimeout, a full queue or the helper's end: 503 with
 * Retry-After. The helper itself (which never sees network data) is src/helper.c.
 *
 * Functions that decide what happens to a request return an enum conn_ev for conn.c to
 * act on; none of them sends or closes anything itself. */
#ifndef SPLICED_AUTOSTART_H
#define SPLICED_AUTOSTART_H

#include <stdbool.h>

#include "spliced/autostart-t.h"
#include "spliced/conn-t.h"

struct worker;
struct helper_msg;

/* ---- the queue (pure: slots of conns[] linked in place) ---- */

/* An empty queue with the first retry delay. */
void as_queue_init(struct as_queue *q);

/* Queues connection c (a slot of conns[]) at the back, or at the front (a waiter whose
 * retry was refused again keeps its turn). Sets c->waiting. */
void as_queue_push(struct as_queue *q, struct conn *conns, struct conn *c, bool front);

/* Takes the first waiter off the queue (c->waiting cleared), or NULL when empty. */
struct conn *as_queue_pop(struct as_queue *q, struct conn *conns);

/* Takes c off the queue, wherever it is; nothing when c is not waiting. */
void as_queue_remove(struct as_queue *q, struct conn *conns, struct conn *c);

/* The retry delay after cur_ms: doubled, at most AS_RETRY_MAX_MS. */
unsigned as_retry_next(unsigned cur_ms);

/* ---- requests and the helper ---- */

/* c's backend refused the connection. True when the backend has a ProxyAutostart (and the
 * helper is there): *ev is then EV_WAIT (c waits in the queue, state CS_UP_WAIT) or
 * EV_PAGE (503: the queue is full or StartTimeout has passed). False: the caller answers
 * as for any refused backend. */
bool as_wait(struct conn *c, enum conn_ev *ev);

/* A request that waited for its backend cannot be served: 503 with Retry-After (logged,
 * counted). Returns EV_PAGE. */
enum conn_ev as_fail(struct conn *c, const char *why);

/* A new connection to c's backend succeeded: its waiters are released (see
 * as_next_released()) and the retries start over. */
void as_listening(struct conn *c);

/* c leaves the autostart machinery, whatever it was doing (answered, closed): out of the
 * queue, or no longer the probe, and the retries go on for the others. */
void as_leave(struct conn *c);

/* The next waiter of backend a that may connect now (its backend listens), or NULL. */
struct conn *as_next_released(struct worker *w, unsigned a);

/* The retry timer of backend a fired: the waiter that tries the connection now (marked
 * as the probe; the helper is asked again if it was not), or NULL. */
struct conn *as_next_probe(struct worker *w, unsigned a);

/* The helper reported a backend's state (m checked by helper_msg_check_state()). */
void as_state(struct worker *w, const struct helper_msg *m);

#endif
