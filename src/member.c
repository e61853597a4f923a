/* Requests to a balancer:// pool; the contract is in include/spliced/member.h. */
#include <stdio.h>
#include <string.h>

#include "spliced/log.h"

#include "spliced/balancer.h"
#include "spliced/config.h"
#include "spliced/exch.h"
#include "spliced/member.h"
#include "spliced/trace.h"

/* Bit i: member i may take a new request on this worker (not stopped or disabled, not
 * out of rotation by its health checks, not in error: it failed less than its retry=
 * ago). *wait_ms: the shortest time until a member in error is tried again (0: none
 * is). */
static uint32_t member_usable(const struct worker *w, const struct cfg_balancer *b,
			      uint64_t *wait_ms)
{
	const struct bal_state *st = &w->bal[b - w->cfg->balancer];
	uint32_t usable = 0;

	*wait_ms = 0;
	for (unsigned i = 0; i < b->nmember; i++) {
		const struct cfg_member *m = &b->member[i];
		uint64_t until = w->pools[m->backend].error_until_ms;

		if ((m->status & (CFG_MEMBER_DISABLED | CFG_MEMBER_STOPPED)) || st->m[i].hc_down)
			continue;
		if (b->od_min && w->slots &&
		    __atomic_load_n(&w->slots[m->backend]->od, __ATOMIC_RELAXED) != BAL_OD_RUNNING)
			continue;
		if (w->now_ms < until) {
			if (!*wait_ms || until - w->now_ms < *wait_ms)
				*wait_ms = until - w->now_ms;
			continue;
		}
		usable |= 1u << i;
	}
	return usable;
}

/* Every member stopped, disabled or in error: 503, and the client may come back when the
 * first one in error is tried again (wait_ms; 0: none will be, a minute then). */
static enum conn_ev member_unavailable(struct conn *c, const struct cfg_balancer *b,
				       uint64_t wait_ms)
{
	c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page), "Retry-After: %llu\r\n",
					 wait_ms ? (unsigned long long)(wait_ms + 999) / 1000 : 60ull);
	return exch_fail(c, 503, "%s: no member can take requests", b->name);
}

enum conn_ev member_none_left(struct conn *c)
{
	const struct cfg_balancer *b = &c->w->cfg->balancer[c->bal - 1];
	uint64_t wait_ms;

	member_usable(c->w, b, &wait_ms);
	return member_unavailable(c, b, wait_ms);
}

/* The request counts on member m of pool bi (in flight here and on the shared count the
 * on-demand decision reads), or no longer (delta -1). */
static void member_count(struct worker *w, unsigned bi, unsigned m, int delta)
{
	const struct cfg_member *cm = &w->cfg->balancer[bi].member[m];

	w->bal[bi].m[m].busy += (uint32_t)delta;
	if (delta > 0)
		w->stats.member[cm->backend][STATS_M_REQUESTS]++;
	if (!w->slots)
		return;
	__atomic_fetch_add(&w->slots[cm->backend]->busy, (unsigned)delta, __ATOMIC_RELAXED);
	if (delta > 0)
		__atomic_store_n(&w->slots[cm->backend]->last_ms, w->now_ms, __ATOMIC_RELAXED);
}

bool member_choose(struct conn *c, enum conn_ev *ev)
{
	struct worker *w = c->w;
	const struct cfg_balancer *b = config_balancer(w->cfg, c->pass->backend);
	unsigned bi = (unsigned)(c->pass->backend - CFG_BALANCER_BASE);
	uint64_t wait_ms;
	uint32_t usable = member_usable(w, b, &wait_ms);
	int m = bal_sticky_member(b, c->buf + c->start, &c->req);

	if (m >= 0 && !(usable & (1u << m))) {
		if (b->nofailover) {
			c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page),
							 "Retry-After: %llu\r\n",
							 (unsigned long long)(wait_ms + 999) / 1000 + !wait_ms);
			*ev = exch_fail(c, 503, "%s: the session's member %s cannot take requests "
					"(nofailover=On)", b->name,
					w->cfg->backend[b->member[m].backend].name);
			return false;
		}
		m = -1;
	}
	if (m < 0)
		m = bal_pick(b, &w->bal[bi], usable);
	if (m < 0) {
		*ev = member_unavailable(c, b, wait_ms);
		return false;
	}
	if (c->pass != &c->rwpass)
		c->rwpass = *c->pass;
	c->rwpass.backend = b->member[m].backend;
	c->pass = &c->rwpass;
	c->bal = (uint8_t)(bi + 1);
	c->bal_member = (uint8_t)m;
	c->bal_tried = (uint16_t)(1u << m);
	member_count(w, bi, (unsigned)m, 1);
	return true;
}

void member_failed(struct conn *c, const char *why)
{
	struct worker *w = c->w;
	const struct cfg_balancer *b;
	const struct cfg_backend *be;
	struct bal_member_state *m;
	int backend;

	if (!c->bal)
		return;
	b = &w->cfg->balancer[c->bal - 1];
	backend = b->member[c->bal_member].backend;
	be = &w->cfg->backend[backend];
	m = &w->bal[c->bal - 1].m[c->bal_member];
	w->stats.member[backend][STATS_M_FAILURES]++;
	if (be->p.retry_s && w->pools[backend].error_until_ms <= w->now_ms)
		w->pools[backend].error_until_ms = w->now_ms + be->p.retry_s * 1000ull;
	if (m->in_error)
		return;
	m->in_error = true;
	w->stats.member[backend][STATS_M_ERRORS]++;
	TRACE_MEMBER_STATE(b->name, be->name, 0);
	log_error("balancer", "%s: member %s in error (%s), not used for %u s (retry=)", b->name,
		  be->name, why, be->p.retry_s);
}

bool member_failover(struct conn *c, const char *why)
{
	struct worker *w = c->w;
	const struct cfg_balancer *b;
	struct bal_state *st;
	uint64_t wait_ms;
	uint32_t usable;
	int m;

	if (!c->bal)
		return false;
	member_failed(c, why);
	b = &w->cfg->balancer[c->bal - 1];
	st = &w->bal[c->bal - 1];
	usable = member_usable(w, b, &wait_ms) & ~(uint32_t)c->bal_tried;
	m = bal_pick(b, st, usable);
	if (m < 0)
		return false;
	member_count(w, c->bal - 1u, c->bal_member, -1);
	c->bal_member = (uint8_t)m;
	c->bal_tried |= (uint16_t)(1u << m);
	c->rwpass.backend = b->member[m].backend;
	member_count(w, c->bal - 1u, (unsigned)m, 1);
	return true;
}

void member_answered(struct conn *c)
{
	struct bal_member_state *m;
	const struct cfg_balancer *b;

	if (!c->bal)
		return;
	m = &c->w->bal[c->bal - 1].m[c->bal_member];
	if (!m->in_error)
		return;
	m->in_error = false;
	b = &c->w->cfg->balancer[c->bal - 1];
	c->w->stats.member[b->member[c->bal_member].backend][STATS_M_BACK]++;
	TRACE_MEMBER_STATE(b->name, c->w->cfg->backend[b->member[c->bal_member].backend].name, 1);
	log_notice("balancer", "%s: member %s is back", b->name,
		   c->w->cfg->backend[b->member[c->bal_member].backend].name);
}

void member_done(struct conn *c)
{
	struct bal_member_state *m;

	if (!c->bal)
		return;
	m = &c->w->bal[c->bal - 1].m[c->bal_member];
	member_count(c->w, c->bal - 1u, c->bal_member, -1);
	m->traffic += c->bytes_in + c->bytes_out;
	c->bal = 0;
}
