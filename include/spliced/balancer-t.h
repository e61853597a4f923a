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
};

#endif
