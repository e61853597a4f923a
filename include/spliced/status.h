/* The status page (mod_status's SetHandler server-status): an HTML page, or httpd's
 * "?auto" text, of what the metrics page counts plus the states only spliced knows
 * (backends, pools, autostarted processes, the slowest recent requests). Rendering reads
 * the workers' counters as the metrics page does (stats_view()); no I/O here. */
#ifndef SPLICED_STATUS_H
#define SPLICED_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "spliced/config-t.h"
#include "spliced/stats-t.h"
#include "spliced/status-t.h"

/* Reads the query q[0..len) (without '?'): "auto", "refresh=N", separated by '&' or ';';
 * anything else is ignored, as httpd does. */
void status_query(const char *q, size_t len, struct status_req *out);

/* Appends the page for rq to t (t->failed on allocation failure; the page stops growing
 * at STATUS_PAGE_MAX bytes with a line saying so). cfg: the configuration in use. */
#define STATUS_PAGE_MAX (1u << 20)
void status_render(const struct config *cfg, const struct status_req *rq, struct stats_text *t);

/* Appends s[0..len) to t with &, <, >, " and ' as entities and bytes outside printable
 * ASCII as "\xHH": a hostile Host or path cannot add markup. */
void status_html(struct stats_text *t, const char *s, size_t len);

/* Load check: a SetHandler server-status needs a Require rule covering its <Location>
 * unless every Listen address is loopback. 0, or -1 with *line and msg. */
int status_check(const struct config *cfg, unsigned *line, char *msg, size_t msglen);

/* A request ended after ns nanoseconds (now_ms: the worker's clock): kept when it is one
 * of the STATUS_SLOW_N slowest of the last STATUS_SLOW_WINDOW_MS. Strings are cut to fit;
 * backend may be NULL. */
void status_slow_note(struct status_slow *s, uint64_t now_ms, uint64_t ns, unsigned status,
		      const char *method, size_t mlen, const char *host, size_t hlen,
		      const char *path, size_t plen, const char *backend);

#endif
