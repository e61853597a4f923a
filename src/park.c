/* Parked connections; the contract is in include/spliced/park.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spliced/conn.h"
#include "spliced/exch.h"
#include "spliced/hbuf.h"
#include "spliced/park.h"
#include "spliced/ring.h"
#include "spliced/tls.h"
#include "spliced/trace.h"
#include "spliced/worker.h"

int park_init(struct park_table *t, uint32_t n)
{
	memset(t, 0, sizeof(*t));
	/* calloc'd: a record's page is touched only once a connection is parked there */
	t->recs = calloc(n, sizeof(*t->recs));
	t->free = malloc(n * sizeof(*t->free));
	if (!t->recs || !t->free) {
		free(t->recs);
		free(t->free);
		t->recs = NULL;
		t->free = NULL;
		return -ENOMEM;
	}
	t->n = n;
	for (uint32_t i = 0; i < n; i++) {
		t->recs[i].fd = -1;
		t->free[i] = n - 1 - i;
	}
	t->nfree = n;
	return 0;
}

void park_destroy(struct worker *w, struct park_table *t)
{
	(void)w;
	for (uint32_t i = 0; t->recs && i < t->n; i++)
		if (t->recs[i].fd >= 0 && !t->recs[i].tsess)   /* (a session's is its own) */
			close(t->recs[i].fd);
	free(t->recs);
	free(t->free);
	memset(t, 0, sizeof(*t));
}

struct conn_park *park_get(struct park_table *t)
{
	struct conn_park *k;

	if (!t->nfree)
		return NULL;
	k = &t->recs[t->free[--t->nfree]];
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	t->parked++;
	return k;
}

/* The record is free again; its socket is someone else's (or closed). */
static void park_free(struct park_table *t, struct conn_park *k)
{
	k->fd = -1;
	k->tsess = 0;
	t->free[t->nfree++] = (uint32_t)(k - t->recs);
	t->parked--;
}

int park_wait(struct worker *w, struct conn_park *k)
{
	struct io_uring_sqe *sqe;

	if (k->tsess) {   /* over TLS: the session waits for the records */
		if (tls_k_wait(w, k->tsess, (uint32_t)(k - w->park.recs)) < 0) {
			park_free(&w->park, k);
			return -EBUSY;
		}
		k->pending = true;
		return 0;
	}
	sqe = ring_sqe(&w->ring);
	if (!sqe) {
		park_free(&w->park, k);
		return -EBUSY;
	}
	io_uring_prep_recv(sqe, k->fd, NULL, w->hb.recv_len, 0);
	/* the response was just sent: the next request is not there yet, so the receive
	 * waits for readiness first instead of trying at once (a pipelined one is there:
	 * the poll completes at once) */
	sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = HBUF_GROUP;
	io_uring_sqe_set_data64(sqe, RING_UD(OP_PARKED_RECV, (uint32_t)(k - w->park.recs)));
	k->pending = true;
	return 0;
}

/* The connection ends here (the client closed, timed out, or the worker stops). */
static void park_close(struct worker *w, struct conn_park *k)
{
	if (k->tsess)
		tls_k_close(w, k->tsess);
	else
		close(k->fd);
	TRACE_CONN_CLOSE(k->id, k->nreq);
	park_free(&w->park, k);
	w->active--;
}

/* Reload: the connection goes to the successor worker, which reads its next request. */
static void park_handoff(struct worker *w, struct conn_park *k)
{
	struct conn_origin o = { .fd = k->fd, .server_port = k->server_port,
				 .carried = k->pp_carried, .port = k->port, .nreq = k->nreq,
				 .tls = k->tls,
				 .idle_since_ms = exch_idle_since(k->deadline_ms,
								  w->cfg->keepalive_timeout_ms) };

	/* the client a PROXY header named stays the client: no header comes again */
	if (k->pp_carried)
		memcpy(o.ip, k->peer_ip, sizeof(o.ip));
	w->handed++;
	if (k->tsess)   /* over TLS its session goes too, once nothing of it is in flight */
		tls_k_export(w, k->tsess, &o);
	else
		worker_handoff(w->successor, &o);
	park_free(&w->park, k);
	w->active--;
}

/* Cancels k's receive (its completion still comes, and acts on closing/handoff). */
static void park_cancel(struct worker *w, struct conn_park *k)
{
	struct io_uring_sqe *sqe;

	if (k->tsess) {
		tls_k_cancel(w, k->tsess);
		return;
	}
	sqe = ring_sqe(&w->ring);
	if (!sqe)
		return;   /* the next tick tries again */
	io_uring_prep_cancel64(sqe, RING_UD(OP_PARKED_RECV, (uint32_t)(k - w->park.recs)), 0);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
}

void park_complete(struct worker *w, uint32_t idx, int res, char *slot)
{
	struct park_table *t = &w->park;
	struct conn_park *k = idx < t->n ? &t->recs[idx] : NULL;
	struct conn_park copy;

	if (!k || k->fd < 0 || !k->pending) {
		hbuf_put(&w->hb, slot);
		return;
	}
	k->pending = false;
	if (k->closing || (res <= 0 && res != -ENOBUFS && !(res == -ECANCELED && k->handoff))) {
		hbuf_put(&w->hb, slot);
		park_close(w, k);
		return;
	}
	if (res == -ECANCELED) {
		park_handoff(w, k);
		return;
	}
	/* bytes came (also when a reload's cancel lost the race: served here, handed over
	 * after), or the ring had no slot left: the connection is served again */
	copy = *k;
	park_free(t, k);
	conn_unpark(w, &copy, slot, res);
}

/* Why parked connections' receives are cancelled. */
enum park_why {
	PARK_DUE,       /* past the deadline: close (again each tick until the cancel lands) */
	PARK_STOP,      /* every one: close */
	PARK_RETIRE,    /* every one: to the successor worker */
};

static void park_cancel_each(struct worker *w, enum park_why why)
{
	struct park_table *t = &w->park;

	for (uint32_t i = 0; i < t->n && t->parked; i++) {
		struct conn_park *k = &t->recs[i];

		if (k->fd < 0 || !k->pending)
			continue;
		if (why == PARK_DUE ? k->handoff || k->deadline_ms > w->now_ms
				    : k->closing || (why == PARK_RETIRE && k->handoff))
			continue;
		if (why == PARK_RETIRE)
			k->handoff = true;
		else
			k->closing = true;
		park_cancel(w, k);
	}
}

void park_tick(struct worker *w)
{
	park_cancel_each(w, PARK_DUE);
}

void park_close_all(struct worker *w)
{
	park_cancel_each(w, PARK_STOP);
}

void park_retire_all(struct worker *w)
{
	park_cancel_each(w, PARK_RETIRE);
}
