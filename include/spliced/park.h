/* Parked connections: an idle keep-alive client connection leaves the connection slab
 * (struct conn, about 11 KiB with its exchange state) for a small record, and waits with
 * a receive that selects a head buffer (src/hbuf.c) when its next request arrives; then
 * conn_unpark() gives it a slab slot again. Beside conn.c: conn.c parks, the worker hands
 * the record's completions, deadlines and stop/reload to park.c, which unparks through
 * conn_unpark() or closes or hands the connection over. */
#ifndef SPLICED_PARK_H
#define SPLICED_PARK_H

#include "spliced/park-t.h"

struct worker;

/* Room for n records, all free. 0 or -ENOMEM. */
int park_init(struct park_table *t, uint32_t n);
/* Closes the sockets of records still in use (the ring is gone) and frees the table. */
void park_destroy(struct worker *w, struct park_table *t);

/* A free record (fd still -1), or NULL. The caller fills it and calls park_wait(). */
struct conn_park *park_get(struct park_table *t);
/* Submits k's receive (buffer selection, OP_PARKED_RECV). 0, or -EBUSY (then k is free
 * again and its socket is the caller's). */
int park_wait(struct worker *w, struct conn_park *k);

/* The completion of record idx's receive; slot: the head buffer it selected, or NULL. */
void park_complete(struct worker *w, uint32_t idx, int res, char *slot);
/* Tick: records past their deadline are closed. */
void park_tick(struct worker *w);
/* Stop: every parked connection closes. Reload: each goes to the successor worker. */
void park_close_all(struct worker *w);
void park_retire_all(struct worker *w);

#endif
