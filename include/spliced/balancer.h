/* The member choice of a balancer:// pool, as httpd's mod_proxy_balancer makes it: pure
 * (no ring, no connection), unit-tested alone (tests/check_balancer.c). src/member.c
 * calls it for each request. */
#ifndef SPLICED_BALANCER_H
#define SPLICED_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spliced/balancer-t.h"
#include "spliced/http-t.h"

/* Chooses the member of b for a new request among those whose bit is set in `usable`
 * (bit i: b->member[i]; the caller leaves out stopped, disabled and failed ones): a hot
 * standby (status=+H) only when no other member is usable. The method is b->lbmethod:
 * byrequests (each usable member's lbstatus grows by its loadfactor, the highest is
 * chosen and gives back the sum of the loadfactors), bybusyness (fewest busy, ties by
 * the byrequests credit), bytraffic (fewest bytes / loadfactor, the first on a tie).
 * Updates st's lbstatus. Returns the member's index, or -1 when none is usable. */
int bal_pick(const struct cfg_balancer *b, struct bal_state *st, uint32_t usable);

/* Sticky sessions (stickysession=): the value of cookie `name` in the Cookie field value
 * v[0..len) ("a=1; NAME=x.r2"), or of URL parameter `name` in the query q[0..len)
 * ("a=1&NAME=x.r2", also httpd's ";NAME=" path parameter form when the caller passes the
 * path). Sets *out and *outlen and returns true when found with a non-empty value. */
bool bal_cookie_value(const char *v, size_t len, const char *name, const char **out,
		      size_t *outlen);
bool bal_param_value(const char *q, size_t len, const char *name, const char **out,
		     size_t *outlen);

/* The member whose route= is the part of a session value after its first '.' (httpd:
 * "1A2B3C.node1" goes to route=node1), or -1 (no '.', no member with that route). */
int bal_route_member(const struct cfg_balancer *b, const char *value, size_t len);

/* The member a request's session belongs to (stickysession=), or -1: the URL parameter
 * names it when there is one (httpd looks there first), else the first Cookie field, in
 * order, that carries the cookie (a client or a gateway may split cookies over several
 * Cookie lines; httpd finds the route in any of them). The request head is
 * head[0..req->head_len), parsed into req. */
int bal_sticky_member(const struct cfg_balancer *b, const char *head,
		      const struct http_request *req);

/* One step of an ondemandmin= pool (spliced's own option) at now: v[i] is member i.
 * When every running member has been saturated for b->od_wait_ms
 * (*sat_since keeps since when), the first parked member runs; a running member beyond
 * the first od_min running ones with nothing in flight and no request for b->od_idle_ms
 * drains; a draining member with nothing in flight is parked and its bit set in the
 * result (the caller stops it). Returns the members to stop. (Every member begins
 * running and never used: those beyond od_min are parked by the idle rule.) */
uint32_t bal_od_step(const struct cfg_balancer *b, struct bal_od_view *v, uint64_t now,
		     uint64_t *sat_since);

/* ProxyHCExpr's expression (the text between the braces): "%{REQUEST_STATUS} OP ARG"
 * with OP =~ or !~ and ARG a /regular expression/ (PCRE2), or OP one of -eq -ne -lt -le
 * -gt -ge == != < <= > >= and ARG a number. It is decided now for every status 100..999:
 * bit s of pass[] set when status s passes. Returns 0, or -1 with msg set (anything else
 * is refused, naming it). */
int bal_hcexpr_compile(const char *expr, uint8_t pass[125], char *msg, size_t msglen);

/* The status of a response's first bytes buf[0..len) ("HTTP/1.x NNN ..."): 100..999, 0
 * when they are not a status line (yet). */
unsigned bal_hc_status(const char *buf, size_t len);

/* Whether a check with status `status` passes: expr's bit, or 2xx/3xx without expr
 * (httpd's rule). */
bool bal_hc_passes(const struct cfg_hcexpr *expr, unsigned status);

#endif
