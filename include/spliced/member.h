/* Requests to a balancer:// pool: the member each goes to (src/balancer.c decides, this
 * module gives it what it looks at: the worker's view of each member, the request's
 * sticky session) and what is counted per member while it runs. A member is a backend
 * like any other: once chosen, the request is c->pass's backend's (pool, max=, retry=,
 * autostart), in src/proxy.c. */
#ifndef SPLICED_MEMBER_H
#define SPLICED_MEMBER_H

#include <stdbool.h>

#include "spliced/conn-t.h"

/* c->pass names a balancer (config_balancer()): a member is chosen (the sticky session's
 * when it can take the request, else by the pool's lbmethod among the members not
 * stopped, disabled or in error on this worker), c->pass becomes a copy of it in
 * c->rwpass naming the member's backend, and the member counts the request in flight.
 * Returns true; false when no member can take it, *ev then the 503 (Retry-After: the
 * seconds until the first member in error is tried again). */
bool member_choose(struct conn *c, enum conn_ev *ev);

/* The request's exchange is over (answered or abandoned): no longer in flight on its
 * member, its bytes counted for bytraffic. Nothing when it went to no pool. */
void member_done(struct conn *c);

#endif
