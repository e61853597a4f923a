/* Active health checks of pool members (mod_proxy_hcheck's hcmethod=, hcuri=,
 * hcinterval=, hcpasses=, hcfails=, hcexpr=): each worker checks every member that has
 * an hcmethod, for its own view (as each worker keeps its own error states: nothing is
 * shared between workers), with non-blocking connect, send and receive operations on its
 * ring. A member that fails hcfails checks in a row leaves rotation on that worker
 * (hc_down); hcpasses passes in a row bring it back, and clear an error state its
 * requests had put it in. Changes are logged, counted and seen by the member_state
 * probe. */
#ifndef SPLICED_HCHECK_H
#define SPLICED_HCHECK_H

#include <stdint.h>

#include "spliced/hcheck-t.h"
#include "spliced/worker-t.h"

/* Every tick: starts the checks that are due (not while the worker stops or retires),
 * cancels those past their deadline. Allocates w->hc on first use; nothing without
 * checks configured. */
void hc_tick(struct worker *w);

/* The completion of a check's step (OP_HCHECK, index = pool * CFG_MAX_MEMBERS +
 * member). */
void hc_complete(struct worker *w, uint32_t idx, int res);

/* The worker ends (its ring is gone): the checks' sockets are closed, w->hc freed. */
void hc_destroy(struct worker *w);

#endif
