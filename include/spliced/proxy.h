/* The proxy exchange: a request goes to c->pass's backend over a pooled or new
 * connection (or waits while the helper starts the backend, src/autostart.c), its head
 * rewritten (src/forward.c) and its body relayed (src/body.c); the response head is read,
 * checked and rewritten, 1xx responses are forwarded, and the response body relayed.
 * An idempotent request whose backend connection broke before any response byte is
 * retried once on a new connection (to a backend spliced starts, a few more times while
 * those new connections break too: they reached the dying process).
 *
 * Every function returns what conn.c is to do next (enum conn_ev); none closes the client
 * connection or sends a page itself. */
#ifndef SPLICED_PROXY_H
#define SPLICED_PROXY_H

#include "spliced/conn-t.h"

/* The request goes to c->pass's backend (c->pass, c->pass_match and the head are set). */
enum conn_ev proxy_start(struct conn *c);

/* Connects c (again) to its backend: a pooled connection unless this is a retry or an
 * autostart probe, else a new one. */
enum conn_ev proxy_connect(struct conn *c);

/* The backend answered (or closed) while the request body waited for the client
 * (OP_UP_WATCH): the rest of the body is given up and the answer is read. */
enum conn_ev proxy_early_response(struct conn *c);

/* The completion of an operation of a proxy state (CS_CONTINUE .. CS_RESP_BODY). */
enum conn_ev proxy_complete(struct conn *c, int op, int res);

/* The exchange is over: the backend connection goes back to the pool when it can be
 * reused (and the worker is not stopping), else it is closed. */
void proxy_release(struct conn *c);

/* Closes the backend connection, if any. */
void proxy_drop_upstream(struct conn *c);

#endif
