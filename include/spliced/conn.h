/* The client connection: lifecycle, request head, routing, and the one place that acts
 * on what the role modules return (src/conn.c). Called by the worker's loop only. */
#ifndef SPLICED_CONN_H
#define SPLICED_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "spliced/conn-t.h"
#include "spliced/park-t.h"

struct worker;

/* Takes over an accepted, non-blocking client socket. Returns 0, or -errno (then the fd
 * is closed). */
int conn_open(struct worker *w, struct conn *c, const struct conn_origin *o);

/* The peer address of socket fd as text (ip, at least INET6_ADDRSTRLEN bytes) and its
 * port. Returns 0, or -errno (the peer is gone: -ENOTCONN; not an IP socket:
 * -EAFNOSUPPORT), leaving *ip and *port unspecified. */
int conn_peer_name(int fd, char *ip, size_t iplen, uint16_t *port);

/* Handles the completion of an operation of type op on c (res as io_uring reports it). */
void conn_complete(struct conn *c, int op, int res);
/* A receive of c's selected a slot of the worker's head buffer pool (hbuf_take_selected()):
 * it becomes c's buffers, before conn_complete() sees the receive. */
void conn_buf_attach(struct conn *c, char *slot);
/* A parked connection's receive completed with res (bytes, or -ENOBUFS: the ring had no
 * buffer) into slot (NULL: none): it takes a slab slot again and goes on with its next
 * request as if the receive had been its own (src/park.c; k is a copy, its record free). */
void conn_unpark(struct worker *w, const struct conn_park *k, char *slot, int res);

/* Called from the worker's tick when c->deadline_ms has passed. */
void conn_timeout(struct conn *c);

/* Graceful stop: closes c if it is idle between requests; one that has not sent its first
 * request yet gets a second for it (then closes as idle). */
void conn_stop_if_idle(struct conn *c);

/* Reload: c, when idle between requests with nothing buffered, goes to its worker's
 * successor (at once, or when its cancelled receive completes); otherwise it is left to
 * finish its exchange, and conn_finish() hands it over then. */
void conn_retire_if_idle(struct conn *c);

/* After the worker's ring is gone (worker_destroy after a hard stop): c's descriptors and
 * buffers are released without submitting anything. */
void conn_reclaim(struct conn *c);

/* The retry timer of ProxyAutostart a fired: the first waiting request tries to connect
 * (the others follow when it succeeds). */
void conn_autostart_retry(struct worker *w, unsigned a);

/* The helper reported a backend's state (m checked by helper_msg_check_state()). */
struct helper_msg;
void conn_autostart_state(struct worker *w, const struct helper_msg *m);

/* The helper closed its conversation: every request waiting for a backend gets 503. */
void conn_autostart_helper_gone(struct worker *w);

/* Once per tick: requests waiting for a max= connection that another worker freed, or
 * that a pool of this one holds, try again. */
void conn_slot_tick(struct worker *w);

/* Closes c now, whatever it is doing (the end of a forced stop). */
void conn_abort(struct conn *c);

#endif
