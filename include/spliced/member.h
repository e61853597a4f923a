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

/* c's member failed (a refused or timed-out connect, a close before any response byte):
 * in error on this worker for its retry= seconds, logged and counted when it goes into
 * that state. Nothing when c went to no pool. */
void member_failed(struct conn *c, const char *why);

/* c's member failed it before answering (a refused connect, a reset before any response
 * byte): member_failed(), and another member not tried yet for this request is chosen,
 * if one can take it. Returns true with c->pass (c->rwpass) naming the new member's
 * backend, which now counts the request in flight; false when none is left (c keeps the
 * failed member). Call it after c's connection to the failed one is given up (its max=
 * count is the old backend's). */
bool member_failover(struct conn *c, const char *why);

/* After member_failover() found no member left: the 503 with Retry-After (the seconds
 * until the first member in error is tried again). */
enum conn_ev member_none_left(struct conn *c);

/* c's member answered (a response head): if it was in error, it is back (logged). */
void member_answered(struct conn *c);

/* The request's exchange is over (answered or abandoned): no longer in flight on its
 * member, its bytes counted for bytraffic. Nothing when it went to no pool. */
void member_done(struct conn *c);

#endif
