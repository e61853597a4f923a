/* Types of the member choice of a balancer:// pool (src/balancer.c). Types only. */
#ifndef SPLICED_BALANCER_T_H
#define SPLICED_BALANCER_T_H

#include <stdint.h>

#include "spliced/config-t.h"

/* What one worker knows of one member of a pool: its own requests and bytes (workers
 * share nothing, so each balances its own requests; their sum is balanced too). */
struct bal_member_state {
	int64_t lbstatus;              /* httpd's lbstatus: byrequests' and bybusyness' credit */
	uint32_t busy;                 /* requests of this worker in flight on it */
	uint64_t traffic;              /* bytes this worker moved through it, both ways */
	bool in_error;                 /* it failed and was not seen answering since */
	bool hc_down;                  /* its health checks took it out of rotation */
};

struct bal_state {
	struct bal_member_state m[CFG_MAX_MEMBERS];
	uint64_t od_sat_since;         /* ondemand: every running member saturated since (0:
					* not), kept by the worker that decides */
};

/* A member of an ondemandmin= pool (spliced's own option). */
enum bal_od {
	BAL_OD_RUNNING = 0,            /* in rotation (started by its first request) */
	BAL_OD_PARKED,                 /* not in rotation, not running (stopped or never
					* started) */
	BAL_OD_DRAINING,               /* leaving: no new requests; stopped once idle */
};

/* What the on-demand decision sees of one member, and changes. */
struct bal_od_view {
	unsigned od;                   /* enum bal_od */
	bool saturated;                /* requests wait for its max= connections, or (no
					* max=) it has one in flight */
	unsigned busy;                 /* requests in flight, all workers */
	uint64_t last_ms;              /* when it was last given one */
};

#endif
