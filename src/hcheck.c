/* Active health checks of pool members; the contract is in include/spliced/hcheck.h.
 * A check is connect -> [send the request -> receive the status line] -> close, one
 * operation in the ring at a time, bounded by a deadline that the tick enforces with a
 * cancel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spliced/balancer.h"
#include "spliced/hcheck.h"
#include "spliced/log.h"
#include "spliced/ring.h"
#include "spliced/trace.h"
#include "spliced/upstream.h"

static const struct cfg_member *hc_member(const struct worker *w, uint32_t idx)
{
	unsigned b = idx / CFG_MAX_MEMBERS, m = idx % CFG_MAX_MEMBERS;

	if (b >= w->cfg->nbalancer || m >= w->cfg->balancer[b].nmember)
		return NULL;
	return &w->cfg->balancer[b].member[m];
}

/* The check's result: the member's run of passes or failures, and its state when the run
 * is long enough. A pass also ends an error state its requests put it in (it answers). */
static void hc_end(struct worker *w, uint32_t idx, bool ok, const char *why)
{
	struct hc_probe *p = &w->hc[idx];
	const struct cfg_balancer *b = &w->cfg->balancer[idx / CFG_MAX_MEMBERS];
	const struct cfg_member *cm = &b->member[idx % CFG_MAX_MEMBERS];
	const struct cfg_backend *be = &w->cfg->backend[cm->backend];
	struct bal_member_state *st = &w->bal[idx / CFG_MAX_MEMBERS].m[idx % CFG_MAX_MEMBERS];

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->step = HC_IDLE;
	p->cancelled = false;
	p->next_ms = w->now_ms + cm->hcinterval_ms;
	if (!ok) {
		p->passes = 0;
		if (p->fails < UINT16_MAX)
			p->fails++;
		if (st->hc_down || p->fails < cm->hcfails)
			return;
		st->hc_down = true;
		w->stats.member[cm->backend][STATS_M_HC_DOWN]++;
		TRACE_MEMBER_STATE(b->name, be->name, 2);
		log_error("hcheck", "%s: member %s failed %u health check%s (%s): out of rotation",
			  b->name, be->name, p->fails, p->fails == 1 ? "" : "s", why);
		return;
	}
	p->fails = 0;
	if (p->passes < UINT16_MAX)
		p->passes++;
	if (st->in_error || w->pools[cm->backend].error_until_ms > w->now_ms) {
		w->pools[cm->backend].error_until_ms = 0;
		if (st->in_error) {
			st->in_error = false;
			w->stats.member[cm->backend][STATS_M_BACK]++;
			log_notice("hcheck", "%s: member %s passes its health check: no longer in "
				   "error", b->name, be->name);
		}
	}
	if (!st->hc_down || p->passes < cm->hcpasses)
		return;
	st->hc_down = false;
	w->stats.member[cm->backend][STATS_M_HC_UP]++;
	TRACE_MEMBER_STATE(b->name, be->name, 3);
	log_notice("hcheck", "%s: member %s passed %u health check%s: back in rotation", b->name,
		   be->name, p->passes, p->passes == 1 ? "" : "s");
}

/* Every request fits: the longest method, hcuri and authority with the fixed text. */
_Static_assert(HC_REQ_MAX > sizeof("OPTIONS  HTTP/1.0\r\nHost: \r\nUser-Agent: spliced-hcheck"
				   "\r\n\r\n") + 2 * CFG_NAME_MAX, "HC_REQ_MAX is too small");

/* The request of an HTTP check, HTTP/1.0 as httpd's: OPTIONS *, HEAD or GET hcuri. */
static void hc_request(struct hc_probe *p, const struct cfg_member *cm,
		       const struct cfg_backend *be)
{
	static const char *const meth[] = { "", "", "OPTIONS", "HEAD", "GET" };
	int n = snprintf(p->req, sizeof(p->req), "%s %s HTTP/1.0\r\nHost: %s\r\n"
			 "User-Agent: spliced-hcheck\r\n\r\n", meth[cm->hcmethod],
			 cm->hcmethod == CFG_HC_OPTIONS ? "*" : cm->hcuri, be->authority);

	p->reqlen = n < 0 || (size_t)n >= sizeof(p->req) ? 0 : (uint32_t)n;
}

/* One step in the ring (the connect, the rest of the request, more of the response). */
static bool hc_submit(struct worker *w, uint32_t idx)
{
	struct hc_probe *p = &w->hc[idx];
	const struct cfg_backend *be = &w->cfg->backend[hc_member(w, idx)->backend];
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe)
		return false;
	switch (p->step) {
	case HC_CONNECT:
		io_uring_prep_connect(sqe, p->fd, (const struct sockaddr *)&be->addr, be->addrlen);
		break;
	case HC_SEND:
		io_uring_prep_send(sqe, p->fd, p->req + p->sent, p->reqlen - p->sent, MSG_NOSIGNAL);
		break;
	default:
		io_uring_prep_recv(sqe, p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
		break;
	}
	io_uring_sqe_set_data64(sqe, RING_UD(OP_HCHECK, idx));
	return true;
}

static void hc_start(struct worker *w, uint32_t idx)
{
	struct hc_probe *p = &w->hc[idx];
	const struct cfg_member *cm = hc_member(w, idx);
	const struct cfg_backend *be = &w->cfg->backend[cm->backend];
	uint64_t limit = be->p.timeout_ms < cm->hcinterval_ms ? be->p.timeout_ms
							       : cm->hcinterval_ms;
	int fd = up_socket(be);

	if (fd < 0) {
		hc_end(w, idx, false, strerror(-fd));
		return;
	}
	p->fd = fd;
	p->sent = p->len = 0;
	p->step = HC_CONNECT;
	p->deadline_ms = w->now_ms + limit;
	if (cm->hcmethod != CFG_HC_TCP)
		hc_request(p, cm, be);
	if (!hc_submit(w, idx))
		hc_end(w, idx, false, "no room in the ring");
}

void hc_complete(struct worker *w, uint32_t idx, int res)
{
	struct hc_probe *p;
	const struct cfg_member *cm = hc_member(w, idx);
	unsigned status;

	if (!w->hc || !cm || w->hc[idx].step == HC_IDLE)
		return;
	p = &w->hc[idx];
	if (res < 0) {
		hc_end(w, idx, false, res == -ECANCELED ? "no answer in time" : strerror(-res));
		return;
	}
	switch (p->step) {
	case HC_CONNECT:
		if (cm->hcmethod == CFG_HC_TCP) {
			hc_end(w, idx, true, "");
			return;
		}
		p->step = HC_SEND;
		break;
	case HC_SEND:
		p->sent += (uint32_t)res;
		if (p->sent == p->reqlen)
			p->step = HC_RECV;
		break;
	default:
		p->len += (uint32_t)res;
		status = bal_hc_status(p->buf, p->len);
		if (status) {
			char why[48];

			snprintf(why, sizeof(why), "status %u", status);
			hc_end(w, idx, bal_hc_passes(cm->hcexpr >= 0 ? &w->cfg->hcexpr[cm->hcexpr]
								   : NULL, status), why);
			return;
		}
		if (res == 0 || p->len == sizeof(p->buf)) {
			hc_end(w, idx, false, "no status line");
			return;
		}
		break;
	}
	/* the tick's cancel may have been in the ring with this completion and found
	 * nothing: the next step would wait with nothing to end it */
	if (w->now_ms >= p->deadline_ms) {
		hc_end(w, idx, false, "no answer in time");
		return;
	}
	if (!hc_submit(w, idx))
		hc_end(w, idx, false, "no room in the ring");
}

void hc_tick(struct worker *w)
{
	const struct config *cfg = w->cfg;

	for (unsigned b = 0; b < cfg->nbalancer; b++) {
		for (unsigned m = 0; m < cfg->balancer[b].nmember; m++) {
			uint32_t idx = b * CFG_MAX_MEMBERS + m;
			struct hc_probe *p;

			if (cfg->balancer[b].member[m].hcmethod == CFG_HC_NONE)
				continue;
			if (!w->hc) {
				w->hc = calloc(CFG_MAX_BALANCERS * CFG_MAX_MEMBERS, sizeof(*w->hc));
				if (!w->hc)
					return;
				for (unsigned i = 0; i < CFG_MAX_BALANCERS * CFG_MAX_MEMBERS; i++)
					w->hc[i].fd = -1;
			}
			p = &w->hc[idx];
			if (p->step != HC_IDLE) {
				if (!p->cancelled && w->now_ms >= p->deadline_ms) {
					ring_cancel_fd(&w->ring, p->fd);
					p->cancelled = true;
				}
				continue;
			}
			if (!w->stopping && !w->retiring && w->now_ms >= p->next_ms)
				hc_start(w, idx);
		}
	}
}

void hc_destroy(struct worker *w)
{
	for (unsigned i = 0; w->hc && i < CFG_MAX_BALANCERS * CFG_MAX_MEMBERS; i++)
		if (w->hc[i].fd >= 0)
			close(w->hc[i].fd);
	free(w->hc);
	w->hc = NULL;
}
