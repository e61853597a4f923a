/* Pools whose members start and stop by load; the contract is in
 * include/spliced/ondemand.h. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "spliced/balancer.h"
#include "spliced/helper.h"
#include "spliced/log.h"
#include "spliced/ondemand.h"

/* The helper stops backend b (its ProxyAutostart's slot); it starts again on the next
 * request that finds it refusing, once it is back in rotation. */
static void od_stop(struct worker *w, const struct cfg_balancer *p, int b)
{
	const struct cfg_backend *be = &w->cfg->backend[b];
	struct helper_msg m;

	helper_msg_request(&m, HMSG_STOP, w->as_slot[be->autostart]);
	if (send(w->helper_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		log_error("ondemand", "%s: asking the helper to stop %s: %s", p->name, be->name,
			  strerror(errno));
		return;
	}
	log_notice("ondemand", "%s: member %s had no request for %u ms: drained and stopped",
		   p->name, be->name, p->od_idle_ms);
}

static void od_pool(struct worker *w, unsigned pi)
{
	const struct cfg_balancer *p = &w->cfg->balancer[pi];
	struct bal_od_view v[CFG_MAX_MEMBERS];
	uint32_t stop;

	for (unsigned i = 0; i < p->nmember; i++) {
		const struct cfg_member *cm = &p->member[i];
		struct slot_shared *s = w->slots[cm->backend];

		v[i].od = __atomic_load_n(&s->od, __ATOMIC_RELAXED);
		v[i].busy = __atomic_load_n(&s->busy, __ATOMIC_RELAXED);
		v[i].last_ms = __atomic_load_n(&s->last_ms, __ATOMIC_RELAXED);
		v[i].saturated = w->cfg->backend[cm->backend].p.max
				 ? __atomic_load_n(&s->waiting, __ATOMIC_RELAXED) > 0 : v[i].busy > 0;
	}
	stop = bal_od_step(p, v, w->now_ms, &w->bal[pi].od_sat_since);
	for (unsigned i = 0; i < p->nmember; i++) {
		struct slot_shared *s = w->slots[p->member[i].backend];
		unsigned was = __atomic_load_n(&s->od, __ATOMIC_RELAXED);

		if (v[i].od == was)
			continue;
		if (v[i].od == BAL_OD_RUNNING) {
			__atomic_store_n(&s->last_ms, v[i].last_ms, __ATOMIC_RELAXED);
			log_notice("ondemand", "%s: every running member was saturated for %u ms: "
				   "%s joins", p->name, p->od_wait_ms,
				   w->cfg->backend[p->member[i].backend].name);
		}
		__atomic_store_n(&s->od, v[i].od, __ATOMIC_RELAXED);
		/* a member never given a request was never started: parked, nothing to stop */
		if ((stop & (1u << i)) && v[i].last_ms)
			od_stop(w, p, p->member[i].backend);
	}
}

void od_tick(struct worker *w)
{
	if (w->id != 0 || w->retiring || w->stopping || w->helper_gone || w->helper_fd < 0 ||
	    !w->slots)
		return;
	for (unsigned i = 0; i < w->cfg->nbalancer; i++)
		if (w->cfg->balancer[i].od_min)
			od_pool(w, i);
}
