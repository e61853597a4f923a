/* Pools whose members start and stop by load (ProxySet ondemandmin=, ondemandwait=,
 * ondemandidle=: spliced's own options, not httpd's). One worker decides for the whole
 * process: the first worker of the configuration in use (not one that retires after a
 * reload), from counts every worker keeps in the backends' shared struct slot_shared
 * (requests in flight, the time of the last one, max= waiters). A member that is to run
 * is put in rotation and its first request starts it through ProxyAutostart, as for any
 * backend; a member that is to stop leaves rotation, and once its requests in flight
 * are done the helper is asked to stop it (HMSG_STOP). The decision is bal_od_step()
 * (src/balancer.c). */
#ifndef SPLICED_ONDEMAND_H
#define SPLICED_ONDEMAND_H

#include "spliced/worker-t.h"

/* Every tick: one step of each ondemandmin= pool, when w is the worker that decides. */
void od_tick(struct worker *w);

#endif
