/* Protocol upgrades (WebSocket and the others a route names with upgrade=): the request's
 * Upgrade goes to the backend only when the route allows that protocol; a backend's 101
 * that confirms it goes to the client, and from then on the connection is a tunnel: both
 * directions relayed at once until each side has closed (an EOF is passed on as a
 * shutdown(SHUT_WR) of the other side), or until nothing moved either way for the idle
 * limit (tunnel_timeout_ms()).
 *
 * The pure parts (tunnel_pick, tunnel_confirms) need no connection; the others are a role
 * module under conn.c like proxy.c: they return what conn.c is to do next. The client ->
 * backend direction is c->tun (completions OP_CLIENT_RECV, OP_UP_SEND, OP_TUNNEL_POLL),
 * backend -> client is c->body (OP_UP_RECV, OP_CLIENT_SEND, OP_SPLICE_POLL): each copied
 * through its own buffer (c->buf, c->rbuf) or, after a read that filled the buffer,
 * spliced through a pipe of the pool until the sender pauses. */
#ifndef SPLICED_TUNNEL_H
#define SPLICED_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "spliced/conn-t.h"
#include "spliced/http-t.h"
#include "spliced/worker-t.h"

/* The element of a request's Upgrade value v[0..len) to forward: the first one whose
 * protocol name is listed in `allowed` (upgrade=, lower case, comma-separated), never
 * h2c. False (*out unset) when there is none. */
bool tunnel_pick(const char *v, size_t len, const char *allowed, struct http_span *out);

/* Whether a 101's Upgrade value v[0..len) switches to exactly the protocol proto[0..plen)
 * that was forwarded (one element, the same protocol name; a version may differ). */
bool tunnel_confirms(const char *v, size_t len, const char *proto, size_t plen);

/* Before the request head is built: decides whether the request may switch protocols on
 * this route, and to which (c->upgrade). Only an HTTP/1.1 request without a body that
 * sends Connection: upgrade qualifies; otherwise its Upgrade is dropped as hop-by-hop. */
void tunnel_offer(struct conn *c);

/* The backend answered 101 with a head of hl bytes in c->rbuf: 502 unless the request
 * asked for it (c->upgrade) and the response confirms that protocol; else the head goes
 * to the client (CS_TUNNEL_HEAD) and the tunnel starts once it went. */
enum conn_ev tunnel_switch(struct conn *c, uint32_t hl);

/* The completion of an operation in CS_TUNNEL_HEAD or CS_TUNNEL. EV_DONE: both sides
 * closed (the connection is not kept). */
enum conn_ev tunnel_complete(struct conn *c, int op, int res);

/* The exchange of a tunnel ends (closed, timed out or failed): its pipe back, its
 * counters and its probe. Nothing when c is not a tunnel. */
void tunnel_end(struct conn *c);

/* How long a tunnel may be idle (nothing moved either way). */
static inline uint64_t tunnel_timeout_ms(const struct conn *c)
{
	return c->w->cfg->timeout_ms;
}

#endif
