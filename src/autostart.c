/* Backend autostart, the serving side; the contract is in include/spliced/autostart.h.
 *
 * Per worker and ProxyAutostart backend: a FIFO of waiting requests (slots linked in
 * place, no allocation), whether the helper was asked, and a retry timer. Only one waiter
 * probes the backend at a time (a new connection: only that tells whether it listens);
 * a refused probe keeps its turn at the front, and the delay doubles up to
 * AS_RETRY_MAX_MS, back to AS_RETRY_FIRST_MS when the helper reports the backend runs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "spliced/autostart.h"
#include "spliced/exch.h"
#include "spliced/helper.h"
#include "spliced/log.h"
#include "spliced/ring.h"
#include "spliced/trace.h"
#include "spliced/worker-t.h"

/* ---- the queue ---- */

void as_queue_init(struct as_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->head = q->tail = AS_NONE;
	q->delay_ms = AS_RETRY_FIRST_MS;
}

void as_queue_push(struct as_queue *q, struct conn *conns, struct conn *c, bool front)
{
	uint32_t idx = (uint32_t)(c - conns);

	if (c->waiting)
		return;
	c->waiting = true;
	if (q->head == AS_NONE) {
		c->wait_prev = c->wait_next = AS_NONE;
		q->head = q->tail = idx;
	} else if (front) {
		c->wait_prev = AS_NONE;
		c->wait_next = q->head;
		conns[q->head].wait_prev = idx;
		q->head = idx;
	} else {
		c->wait_next = AS_NONE;
		c->wait_prev = q->tail;
		conns[q->tail].wait_next = idx;
		q->tail = idx;
	}
	q->n++;
}

void as_queue_remove(struct as_queue *q, struct conn *conns, struct conn *c)
{
	if (!c->waiting)
		return;
	if (c->wait_prev == AS_NONE)
		q->head = c->wait_next;
	else
		conns[c->wait_prev].wait_next = c->wait_next;
	if (c->wait_next == AS_NONE)
		q->tail = c->wait_prev;
	else
		conns[c->wait_next].wait_prev = c->wait_prev;
	c->wait_prev = c->wait_next = AS_NONE;
	c->waiting = false;
	q->n--;
}

struct conn *as_queue_pop(struct as_queue *q, struct conn *conns)
{
	struct conn *c;

	if (q->head == AS_NONE)
		return NULL;
	c = &conns[q->head];
	as_queue_remove(q, conns, c);
	return c;
}

unsigned as_retry_next(unsigned cur_ms)
{
	return cur_ms >= AS_RETRY_MAX_MS / 2 ? AS_RETRY_MAX_MS : cur_ms * 2;
}

/* ---- requests and the helper ---- */

/* The wait queue of c's backend, or NULL when it has no ProxyAutostart. */
static struct as_queue *as_queue_of(const struct conn *c)
{
	const struct cfg_backend *be = exch_backend(c);

	return be->autostart >= 0 && c->w->waits ? &c->w->waits[be->autostart] : NULL;
}

static void as_arm(struct worker *w, unsigned a)
{
	struct as_queue *q = &w->waits[a];

	if (q->timer_armed || q->probing || !q->n)
		return;
	if (ring_timer(&w->ring, RING_UD(OP_AS_TIMER, a), &q->ts, q->delay_ms) == 0)
		q->timer_armed = true;
}

/* Asks the helper to start backend a, once for the requests waiting now. */
static void as_ask(struct worker *w, unsigned a)
{
	struct as_queue *q = &w->waits[a];
	const struct cfg_autostart *as = &w->cfg->autostart[a];
	struct helper_msg m;

	if (q->asked || w->helper_gone)
		return;
	helper_msg_request(&m, HMSG_START, w->as_slot[a]);
	if (send(w->helper_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		log_error("proxy", "asking the helper to start %s: %s (asked again at the next "
			  "retry)", w->cfg->backend[as->backend].name, strerror(errno));
		return;
	}
	q->asked = true;
	w->stats.autostarts++;
	log_notice("proxy", "backend %s refused the connection: asked the helper to start it; "
		   "requests wait up to %u ms", w->cfg->backend[as->backend].name,
		   as->start_timeout_ms);
}

/* 503 with the time to come back (the helper's backoff when it waits to restart a
 * crashing backend). */
enum conn_ev as_fail(struct conn *c, const char *why)
{
	unsigned a = (unsigned)exch_backend(c)->autostart;
	const struct as_queue *q = &c->w->waits[a];
	const struct cfg_autostart *as = &c->w->cfg->autostart[a];
	unsigned after = (as->start_timeout_ms + 999) / 1000;

	if (q->hstate == HB_BACKOFF && q->hbackoff_ms)
		after = (q->hbackoff_ms + 999) / 1000;
	c->w->stats.autostart_fails++;
	/* conn.c takes c out of the queue (as_leave()) before the page goes */
	c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page), "Retry-After: %u\r\n",
					 after ? after : 1);
	return exch_fail(c, 503, "backend %s: %s", c->w->cfg->backend[as->backend].name, why);
}

bool as_wait(struct conn *c, enum conn_ev *ev)
{
	struct worker *w = c->w;
	const struct cfg_backend *be = exch_backend(c);
	struct as_queue *q = as_queue_of(c);
	unsigned a = (unsigned)be->autostart;
	const struct cfg_autostart *as;
	bool probe = c->as_probe;

	if (!q || w->helper_fd < 0 || w->helper_gone)
		return false;
	as = &w->cfg->autostart[a];
	if (probe) {
		/* still not listening: the probe keeps its turn, the next try comes later */
		c->as_probe = false;
		q->probing = false;
		q->delay_ms = as_retry_next(q->delay_ms);
	} else if (q->n >= as->queue) {
		*ev = as_fail(c, "too many requests wait for it to start (Queue)");
		return true;
	}
	if (!c->wait_until_ms) {
		c->wait_until_ms = w->now_ms + as->start_timeout_ms;
		w->stats.autostart_waits++;
		exch_trace_connect(c, (unsigned)c->pass->backend, 3);
	}
	if (w->now_ms >= c->wait_until_ms) {
		*ev = as_fail(c, "did not accept connections within StartTimeout");
		as_arm(w, a); /* for those still waiting */
		return true;
	}
	c->state = CS_UP_WAIT;
	c->deadline_ms = c->wait_until_ms;
	c->wait_as = (uint16_t)a;
	as_queue_push(q, w->conns, c, probe);
	as_ask(w, a);
	as_arm(w, a);
	*ev = EV_WAIT;
	return true;
}

void as_listening(struct conn *c)
{
	struct as_queue *q = as_queue_of(c);

	if (!q)
		return;
	if (c->as_probe) {
		c->as_probe = false;
		q->probing = false;
	}
	q->asked = false;
	q->delay_ms = AS_RETRY_FIRST_MS;
	if (q->n) {
		q->released = true;
		c->w->as_released = true;
	}
}

struct conn *as_next_released(struct worker *w, unsigned a)
{
	struct as_queue *q = &w->waits[a];
	struct conn *c;

	if (!q->released)
		return NULL;
	c = as_queue_pop(q, w->conns);
	if (!c)
		q->released = false;
	return c;
}

void as_leave(struct conn *c)
{
	struct as_queue *q;

	if (!c->waiting && !c->as_probe)
		return;
	q = &c->w->waits[c->wait_as];
	as_queue_remove(q, c->w->conns, c);
	if (c->as_probe) {
		c->as_probe = false;
		q->probing = false;
	}
	if (!q->n)
		q->asked = false;
	as_arm(c->w, c->wait_as);
}

struct conn *as_next_probe(struct worker *w, unsigned a)
{
	struct as_queue *q = &w->waits[a];
	struct conn *c;

	q->timer_armed = false;
	if (q->probing || !q->n)
		return NULL;
	/* ask again when the first request went unanswered (the helper was busy) */
	as_ask(w, a);
	c = as_queue_pop(q, w->conns);
	c->as_probe = true;
	c->wait_as = (uint16_t)a;
	q->probing = true;
	return c;
}

void as_state(struct worker *w, const struct helper_msg *m)
{
	struct as_queue *q = &w->waits[m->backend];

	q->hstate = m->state;
	q->hbackoff_ms = m->backoff_ms;
	q->hbackoff_at_ms = w->now_ms;
	if (q->hpid != m->pid)
		q->hsince_ms = w->now_ms;
	q->hpid = m->pid;
	q->hstarts = m->starts;
	q->hlast_exit = m->last_exit;
	if (m->state == HB_RUNNING && q->n && !q->probing) {
		/* it runs now: try soon, whatever the delay had grown to */
		q->delay_ms = AS_RETRY_FIRST_MS;
		if (q->timer_armed)
			ring_timer_update(&w->ring, RING_UD(OP_AS_TIMER, m->backend), &q->ts,
					  q->delay_ms);
		else
			as_arm(w, m->backend);
	}
	if (m->state == HB_STOPPED)
		q->asked = false; /* stopped, not restarting by itself: ask again */
}
