/* The connection limit of backends with max=; the contract is in include/spliced/slot.h.
 *
 * The count covers every open connection to the backend, in use or idle in a pool: a
 * thread-pool backend spends a thread on an idle keep-alive connection too. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spliced/exch.h"
#include "spliced/slot.h"
#include "spliced/trace.h"
#include "spliced/upstream.h"
#include "spliced/worker-t.h"

#define SLOT_NONE UINT32_MAX

/* ---- the queue (slots of w->conns linked in place) ---- */

void slot_queue_init(struct slot_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->head = q->tail = SLOT_NONE;
}

static void slot_push(struct slot_queue *q, struct conn *conns, struct conn *c, bool front)
{
	uint32_t idx = (uint32_t)(c - conns);

	c->slot_waiting = true;
	if (q->head == SLOT_NONE) {
		c->wait_prev = c->wait_next = SLOT_NONE;
		q->head = q->tail = idx;
	} else if (front) {
		c->wait_prev = SLOT_NONE;
		c->wait_next = q->head;
		conns[q->head].wait_prev = idx;
		q->head = idx;
	} else {
		c->wait_next = SLOT_NONE;
		c->wait_prev = q->tail;
		conns[q->tail].wait_next = idx;
		q->tail = idx;
	}
	q->n++;
}

static void slot_remove(struct worker *w, struct slot_queue *q, struct conn *c)
{
	struct conn *conns = w->conns;

	if (c->wait_prev == SLOT_NONE)
		q->head = c->wait_next;
	else
		conns[c->wait_prev].wait_next = c->wait_next;
	if (c->wait_next == SLOT_NONE)
		q->tail = c->wait_prev;
	else
		conns[c->wait_next].wait_prev = c->wait_prev;
	c->wait_prev = c->wait_next = SLOT_NONE;
	c->slot_waiting = false;
	q->n--;
	__atomic_fetch_sub(&w->slots[c->slot_be]->waiting, 1, __ATOMIC_RELAXED);
}

/* ---- connections ---- */

static const struct cfg_bparams *slot_params(const struct worker *w, unsigned b)
{
	return &w->cfg->backend[b].p;
}

/* Requests wait for backend b on other workers. */
static bool slot_others_wait(const struct worker *w, unsigned b)
{
	return __atomic_load_n(&w->slots[b]->waiting, __ATOMIC_RELAXED) > w->slotq[b].n;
}

/* This worker's connections to backend b (in use and pooled) minus its share of them
 * (max= / workers, rounded up). */
static int slot_above_share(const struct worker *w, unsigned b)
{
	unsigned nw = w->nall ? w->nall : 1;
	unsigned share = (slot_params(w, b)->max + nw - 1) / nw;

	return (int)(w->slotq[b].held + w->pools[b].n) - (int)share;
}

/* Others wait and this worker has its share already: it takes no new connection. */
static bool slot_over_share(const struct worker *w, unsigned b)
{
	return slot_others_wait(w, b) && slot_above_share(w, b) >= 0;
}

/* One of backend b's max connections, if one is free and this worker may have it. */
static bool slot_try(struct worker *w, unsigned b)
{
	unsigned max = slot_params(w, b)->max;
	unsigned *open = &w->slots[b]->open;
	unsigned n = __atomic_load_n(open, __ATOMIC_RELAXED);

	if (slot_over_share(w, b))
		return false;
	while (n < max)
		if (__atomic_compare_exchange_n(open, &n, n + 1, true, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

/* Counted under the backend and outcome, for spliced_backend_waits_total. */
static void slot_count(struct conn *c, enum slot_outcome o)
{
	c->w->stats.slot_waits[c->slot_be][o]++;
	c->slot_waited = false;
}

bool slot_take(struct conn *c, enum conn_ev *ev)
{
	struct worker *w = c->w;
	unsigned b = (unsigned)c->pass->backend;
	const struct cfg_bparams *p = slot_params(w, b);
	struct slot_queue *q = &w->slotq[b];

	if (!p->max || c->slot_held)
		return true;
	c->slot_be = (uint16_t)b;
	if (slot_try(w, b)) {
		c->slot_held = true;
		q->held++;
		return true;
	}
	if (!c->slot_until_ms) {
		if (q->n >= SLOT_QUEUE_MAX) {
			c->slot_waited = true;
			*ev = slot_fail(c);
			return false;
		}
		c->slot_until_ms = w->now_ms + p->acquire_ms;
		c->slot_waited = true;
		exch_trace_connect(c, b, 4);
	}
	if (w->now_ms >= c->slot_until_ms) {
		*ev = slot_fail(c);
		return false;
	}
	c->state = CS_SLOT_WAIT;
	c->deadline_ms = c->slot_until_ms;
	/* a request that tried again and lost keeps its turn */
	slot_push(q, w->conns, c, c->slot_tried);
	__atomic_fetch_add(&w->slots[b]->waiting, 1, __ATOMIC_RELAXED);
	*ev = EV_WAIT;
	return false;
}

/* Backend b has a free or pooled connection for a waiter of this worker. */
static void slot_release(struct worker *w, unsigned b)
{
	if (w->slotq[b].n) {
		w->slotq[b].released = true;
		w->slot_released = true;
	}
}

void slot_put(struct conn *c)
{
	if (!c->slot_held)
		return;
	c->slot_held = false;
	c->w->slotq[c->slot_be].held--;
	__atomic_fetch_sub(&c->w->slots[c->slot_be]->open, 1, __ATOMIC_ACQ_REL);
	slot_release(c->w, c->slot_be);
}

bool slot_pool(struct conn *c)
{
	struct worker *w = c->w;
	unsigned b = c->slot_be;

	if (!c->slot_held)
		return true;
	/* requests wait elsewhere and none here, or this worker has more than its share:
	 * the connection is worth more closed */
	if (slot_others_wait(w, b) && (!w->slotq[b].n || slot_above_share(w, b) > 0))
		return false;
	c->slot_held = false;  /* the pool holds it now */
	w->slotq[b].held--;
	slot_release(w, b);
	return true;
}

void slot_from_pool(struct conn *c)
{
	struct worker *w = c->w;
	unsigned b = (unsigned)c->pass->backend;

	if (!slot_params(w, b)->max)
		return;
	c->slot_held = true;
	c->slot_be = (uint16_t)b;
	w->slotq[b].held++;
}

void slot_got(struct conn *c)
{
	if (c->slot_waited)
		slot_count(c, SLOT_CONNECTED);
}

void slot_leave(struct conn *c)
{
	if (c->slot_waiting) {
		slot_remove(c->w, &c->w->slotq[c->slot_be], c);
		if (c->slot_waited)
			slot_count(c, SLOT_GONE);
	}
}

enum conn_ev slot_fail(struct conn *c)
{
	const struct cfg_backend *be = &c->w->cfg->backend[c->slot_be];
	bool full = !c->slot_until_ms;

	slot_count(c, SLOT_503);
	/* conn.c takes c out of the queue (slot_leave()) before the page goes */
	c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page), "Retry-After: 1\r\n");
	if (full)
		return exch_fail(c, 503, "backend %s: %u requests wait for its %u connections "
				 "(max=) already", be->name, SLOT_QUEUE_MAX, be->p.max);
	return exch_fail(c, 503, "backend %s: none of its %u connections (max=) was free "
			 "within acquire=%u ms", be->name, be->p.max, be->p.acquire_ms);
}

struct conn *slot_next(struct worker *w, unsigned b)
{
	struct slot_queue *q = &w->slotq[b];
	struct conn *c;

	if (!q->released)
		return NULL;
	if (q->head == SLOT_NONE || (!w->pools[b].n &&
	    (slot_over_share(w, b) ||
	     __atomic_load_n(&w->slots[b]->open, __ATOMIC_RELAXED) >= slot_params(w, b)->max))) {
		q->released = false;
		return NULL;
	}
	c = &w->conns[q->head];
	slot_remove(w, q, c);
	c->slot_tried = true;
	return c;
}

void slot_tick(struct worker *w)
{
	for (unsigned b = 0; b < w->cfg->nbackend; b++) {
		struct slot_queue *q = &w->slotq[b];

		if (!slot_params(w, b)->max)
			continue;
		if (q->n) {
			slot_release(w, b);
		} else if (w->pools[b].n && __atomic_load_n(&w->slots[b]->waiting,
							      __ATOMIC_RELAXED)) {
			/* requests wait on other workers: our idle connections are theirs */
			while (w->pools[b].n)
				up_pool_close_one(&w->pools[b]);
		}
	}
}
