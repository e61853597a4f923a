/* A message body moved in one direction (client -> backend or backend -> client): the
 * bytes that came with the head were sent with it; the rest is copied through a buffer or,
 * from RELAY_SPLICE_MIN on, spliced socket -> pipe -> socket (src/relay.c). Framing is
 * checked as it passes (Content-Length, chunked, until close).
 *
 * Used by the proxy exchange (src/proxy.c). Every function returns what conn.c is to do
 * next, with EV_DONE meaning this body is complete (the proxy decides what follows). */
#ifndef SPLICED_BODY_H
#define SPLICED_BODY_H

#include <stdbool.h>

#include "spliced/conn-t.h"

/* A request body ends early (EV_DONE with c->early_response set) when the backend has
 * answered before all of it went: a backend that refuses an upload (413, 401) may stop
 * reading, and its answer is relayed instead of a 502/504 after Timeout. */

/* Starts moving c->body (set up by the caller: framing, buffer) from `from` to `to`;
 * state CS_REQ_BODY or CS_RESP_BODY. */
enum conn_ev body_start(struct conn *c, int from, int to, bool response);

/* The completion of an operation of the body phase (a receive, a send, a splice poll). */
enum conn_ev body_complete(struct conn *c, int op, int res);

/* A chunked request body, counting the chunk being read, is over LimitRequestBody. */
bool body_chunked_over_limit(const struct conn *c);

/* Gives the body's pipe back to the worker's pool (a pipe that may still hold bytes is
 * closed instead); nothing when none is held. */
void body_release_pipe(struct conn *c);

#endif
